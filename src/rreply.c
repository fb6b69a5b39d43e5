/*
 * Arena-backed reply objects (see rreply.h). The root object of a reply sits behind a header
 * holding the reply's chunk list; every object, element array and string of the reply is cut
 * from those chunks, found through the read task's chain of parents. Freeing the root frees
 * the chunks. hiredis frees only roots: after the callback, and a partial reply when the reader
 * goes away.
 */
#include "rreply.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#define FIRST_CHUNK 1024
#define MAX_CHUNK   ((size_t)256 << 10)

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
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = o;
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
    o->elements = elements > 0 ? (size_t)elements : 0;
    if (o->elements > 0 && !(o->element = arena_alloc(r, o->elements * sizeof(redisReply *), 1))) {
        if (!task->parent)
            free_object(o);
        return NULL;
    }
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
