#include "order.h"

#include <stdlib.h>
#include <string.h>

struct slot {
    uint64_t line; /* the request's input line: increasing in pull order */
    char *text;    /* its formatted result, once it arrived; NULL before */
    size_t len;
};

struct order {
    sluice_source_t inner;
    sluice_jsonl_sink_t *sink;
    struct writer *w;
    sluice_t *eng;
    struct slot *ring;
    size_t cap;
    uint64_t head, tail; /* sequence numbers: oldest unwritten, next to pull */
    size_t held;
    int blocked;
};

static int order_next(void *ud, sluice_request_t **out) {
    struct order *o = ud;
    if (o->tail - o->head >= o->cap) {
        o->blocked = 1;
        return SLUICE_EAGAIN;
    }
    int rc = o->inner.next(o->inner.ud, out);
    if (rc == 0) {
        struct slot *s = &o->ring[o->tail % o->cap];
        s->line = (*out)->line;
        s->text = NULL;
        o->tail++;
    }
    return rc;
}

static void order_release(void *ud, sluice_request_t *req) {
    struct order *o = ud;
    o->inner.release(o->inner.ud, req);
}

struct order *order_new(const sluice_source_t *inner, sluice_jsonl_sink_t *sink, struct writer *w,
                        size_t window, sluice_source_t *wrapped) {
    struct order *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->ring = calloc(window, sizeof(*o->ring));
    if (!o->ring) {
        free(o);
        return NULL;
    }
    o->inner = *inner;
    o->sink = sink;
    o->w = w;
    o->cap = window;
    wrapped->next = order_next;
    wrapped->release = order_release;
    wrapped->ud = o;
    return o;
}

void order_set_engine(struct order *o, sluice_t *eng) {
    o->eng = eng;
}

/* The slot of the request with input line `line`: a binary search, as lines increase. */
static struct slot *slot_find(struct order *o, uint64_t line) {
    uint64_t lo = o->head, hi = o->tail;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        uint64_t l = o->ring[mid % o->cap].line;
        if (l == line)
            return &o->ring[mid % o->cap];
        if (l < line)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Hands a held line to the writer (which writes it or keeps it) and frees the slot; the first
   writer error is kept in *err. */
static void slot_write(struct order *o, struct slot *s, int *err) {
    int rc = writer_line(o->w, s->text, s->len);
    if (rc < 0 && !*err)
        *err = rc;
    free(s->text);
    s->text = NULL;
    o->held--;
}

/* Hands every line that is now in order to the writer. */
static int write_ready(struct order *o) {
    int err = 0;
    for (; o->head < o->tail && o->ring[o->head % o->cap].text; o->head++)
        slot_write(o, &o->ring[o->head % o->cap], &err);
    if (o->blocked && o->tail - o->head < o->cap) {
        o->blocked = 0;
        if (o->eng)
            sluice_source_ready(o->eng);
    }
    return err;
}

int order_result(struct order *o, const sluice_result_t *res) {
    const char *line;
    size_t len;
    int rc = sluice_jsonl_sink_format(o->sink, res, &line, &len);
    if (rc < 0)
        return rc;
    struct slot *s = slot_find(o, res->req->line);
    if (!s) /* not pulled through us: cannot happen, but never lose a result */
        return writer_line(o->w, line, len);
    s->text = malloc(len);
    if (!s->text)
        return SLUICE_ENOMEM;
    memcpy(s->text, line, len);
    s->len = len;
    o->held++;
    return write_ready(o);
}

int order_flush(struct order *o) {
    int err = 0;
    for (; o->head < o->tail; o->head++) {
        struct slot *s = &o->ring[o->head % o->cap];
        if (s->text) /* a slot without one was stopped before its result: --resume runs it */
            slot_write(o, s, &err);
    }
    return err;
}

size_t order_held(const struct order *o) {
    return o->held;
}

void order_free(struct order *o) {
    if (!o)
        return;
    for (size_t i = 0; i < o->cap; i++)
        free(o->ring[i].text);
    free(o->ring);
    free(o);
}
