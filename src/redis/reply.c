/*
 * Arena-backed reply objects (see reply.h). The root object of a reply sits behind a header
 * holding the reply's chunk list; every object, element array and string of the reply is cut
 * from those chunks, found through the read task's chain of parents. Freeing the root frees
 * the chunks. hiredis frees only roots: after the callback, and a partial reply when the reader
 * goes away.
 */
#include "reply.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#define FIRST_CHUNK 1024
#define MAX_CHUNK   ((size_t)256 << 10)
/* Room for an array's first elements; then it doubles (a power of two). */
#define FIRST_ELEMENTS 16

struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[]; /* cap bytes */
};

struct root {
    struct chunk *chunks; /* the newest first; the first chunk holds this root */
    redisReply reply;
};

static struct chunk *chunk_new(size_t cap) {
    struct chunk *c = malloc(sizeof(*c) + cap);
    if (c) {
        c->next = NULL;
        c->used = 0;
        c->cap = cap;
    }
    return c;
}

/* n bytes from the root's arena, zeroed only when asked; NULL when out of memory. */
static void *arena_alloc(struct root *r, size_t n, int zero) {
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct chunk *c = r->chunks;
    if (c->cap - c->used < n) {
        size_t cap = c->cap * 2 > MAX_CHUNK ? MAX_CHUNK : c->cap * 2;
        if (cap < n)
            cap = n;
        if (!(c = chunk_new(cap)))
            return NULL;
        c->next = r->chunks;
        r->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    if (zero)
        memset(p, 0, n);
    return p;
}

static struct root *root_of_reply(void *obj) {
    return (struct root *)(void *)((char *)obj - offsetof(struct root, reply));
}

static void free_object(void *obj);

/*
 * Puts child o at index idx of its parent's element array, which grows as the elements arrive
 * rather than being sized by the count the header announces: 13 bytes (`*2147483647\r\n`)
 * must not make the process resident 16 GB before any element exists. Elements arrive in
 * order, so the room is known from idx alone: FIRST_ELEMENTS, then doubling at each power of
 * two, never beyond the announced count. An outgrown array stays in the arena (with the
 * doubling, the arrays of a reply add up to less than twice its last). Returns 0 or -1.
 */
static int element_put(struct root *r, redisReply *parent, size_t idx, redisReply *o) {
    if (idx == 0 || (idx >= FIRST_ELEMENTS && (idx & (idx - 1)) == 0)) {
        size_t room = idx == 0 ? FIRST_ELEMENTS : 2 * idx;
        if (room > parent->elements)
            room = parent->elements;
        redisReply **e = arena_alloc(r, room * sizeof(*e), 0);
        if (!e)
            return -1;
        if (idx > 0)
            memcpy(e, parent->element, idx * sizeof(*e));
        parent->element = e;
    }
    parent->element[idx] = o;
    return 0;
}

/* A new object for `task`: the root of a new arena, or a child placed in its parent. */
static redisReply *object_new(const redisReadTask *task, int type, struct root **rootp) {
    const redisReadTask *t = task;
    while (t->parent)
        t = t->parent;
    redisReply *o;
    struct root *r;
    if (t == task) {
        struct chunk *c = chunk_new(FIRST_CHUNK);
        if (!c)
            return NULL;
        r = (struct root *)(void *)c->data;
        c->used =
            (sizeof(*r) + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
        r->chunks = c;
        o = &r->reply;
        memset(o, 0, sizeof(*o));
    } else {
        r = root_of_reply(t->obj);
        if (!(o = arena_alloc(r, sizeof(*o), 1)))
            return NULL;
        if (element_put(r, task->parent->obj, (size_t)task->idx, o) != 0)
            return NULL;
    }
    o->type = type;
    *rootp = r;
    return o;
}

static void *create_string(const redisReadTask *task, char *str, size_t len) {
    struct root *r;
    redisReply *o = object_new(task, task->type, &r);
    if (!o)
        return NULL;
    if (!(o->str = arena_alloc(r, len + 1, 0))) {
        if (!task->parent)
            free_object(o); /* hiredis never saw this root */
        return NULL;
    }
    memcpy(o->str, str, len);
    o->str[len] = '\0';
    o->len = len;
    return o;
}

static void *create_array(const redisReadTask *task, int elements) {
    struct root *r;
    redisReply *o = object_new(task, REDIS_REPLY_ARRAY, &r);
    if (!o)
        return NULL;
    o->elements = elements > 0 ? (size_t)elements : 0; /* element: none until they come */
    return o;
}

static void *create_integer(const redisReadTask *task, long long value) {
    struct root *r;
    redisReply *o = object_new(task, REDIS_REPLY_INTEGER, &r);
    if (o)
        o->integer = value;
    return o;
}

static void *create_nil(const redisReadTask *task) {
    struct root *r;
    return object_new(task, REDIS_REPLY_NIL, &r);
}

size_t rreply_bytes(const void *obj) {
    const struct root *r =
        (const struct root *)(const void *)((const char *)obj - offsetof(struct root, reply));
    size_t n = 0;
    for (const struct chunk *c = r->chunks; c; c = c->next)
        n += sizeof(*c) + c->cap;
    return n;
}

static void free_object(void *obj) {
    if (!obj)
        return;
    struct chunk *c = root_of_reply(obj)->chunks;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
}

redisReplyObjectFunctions rreply_fns = {create_string, create_array, create_integer, create_nil,
                                        free_object};
