#include "writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct kept {
    char *line;
    size_t len;
};

struct writer {
    sluice_jsonl_sink_t *sk;
    uv_timer_t fsync_timer, retry_timer;
    int timers; /* initialised timers, to close */
    int dirty;  /* written since the last fsync (only counted when fsync is on) */
    int sync;   /* --fsync > 0; 0 means never, not even at the end */
    struct kept *kept;
    size_t n_kept, cap_kept, first_kept;
    int err;
    char why[128];
};

static void on_fsync(uv_timer_t *t) {
    struct writer *w = t->data;
    if (w->dirty) {
        sluice_jsonl_sink_sync(w->sk);
        w->dirty = 0;
    }
}

static void on_retry(uv_timer_t *t) {
    writer_flush(t->data);
}

struct writer *writer_new(sluice_jsonl_sink_t *sk, uv_loop_t *loop, double fsync_s) {
    struct writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->sk = sk;
    w->sync = fsync_s > 0;
    if (loop) {
        uv_timer_init(loop, &w->fsync_timer);
        uv_timer_init(loop, &w->retry_timer);
        w->fsync_timer.data = w->retry_timer.data = w;
        uv_unref((uv_handle_t *)&w->fsync_timer);
        uv_unref((uv_handle_t *)&w->retry_timer);
        w->timers = 1;
        if (fsync_s > 0) {
            uint64_t ms = (uint64_t)(fsync_s * 1000);
            uv_timer_start(&w->fsync_timer, on_fsync, ms ? ms : 1, ms ? ms : 1);
        }
    }
    return w;
}

static int keep(struct writer *w, const char *line, size_t len) {
    if (w->n_kept == w->cap_kept) {
        size_t cap = w->cap_kept ? w->cap_kept * 2 : 64;
        struct kept *nk = realloc(w->kept, cap * sizeof(*nk));
        if (!nk)
            return SLUICE_ENOMEM;
        w->kept = nk;
        w->cap_kept = cap;
    }
    char *copy = malloc(len);
    if (!copy)
        return SLUICE_ENOMEM;
    memcpy(copy, line, len);
    w->kept[w->n_kept].line = copy;
    w->kept[w->n_kept].len = len;
    w->n_kept++;
    return 0;
}

int writer_line(struct writer *w, const char *line, size_t len) {
    /* Order is kept: once a line waits, the ones after it wait behind it. */
    if (w->n_kept == w->first_kept) {
        int rc = sluice_jsonl_sink_write_line(w->sk, line, len);
        if (rc == 0) {
            w->dirty = w->sync;
            return 0;
        }
        if (rc != SLUICE_ENOSPC && rc != SLUICE_EIO)
            return rc;
        if (!w->err) {
            w->err = rc;
            snprintf(w->why, sizeof(w->why), "%s", strerror(errno));
        }
        if (keep(w, line, len) < 0)
            return SLUICE_ENOMEM;
        if (w->timers)
            uv_timer_start(&w->retry_timer, on_retry, 1000, 1000);
        return rc;
    }
    return keep(w, line, len);
}

int writer_result(struct writer *w, const sluice_result_t *res) {
    const char *line;
    size_t len;
    int rc = sluice_jsonl_sink_format(w->sk, res, &line, &len);
    if (rc < 0)
        return rc;
    return writer_line(w, line, len);
}

int writer_flush(struct writer *w) {
    while (w->first_kept < w->n_kept) {
        struct kept *k = &w->kept[w->first_kept];
        if (sluice_jsonl_sink_write_line(w->sk, k->line, k->len) != 0)
            return -1;
        w->dirty = w->sync;
        free(k->line);
        k->line = NULL;
        w->first_kept++;
    }
    if (w->timers)
        uv_timer_stop(&w->retry_timer);
    return 0;
}

size_t writer_kept(const struct writer *w) {
    return w->n_kept - w->first_kept;
}

int writer_error(const struct writer *w, const char **why) {
    if (why)
        *why = w->why;
    return w->err;
}

void writer_close(struct writer *w) {
    if (!w)
        return;
    if (w->timers) {
        uv_timer_stop(&w->fsync_timer);
        uv_timer_stop(&w->retry_timer);
        uv_close((uv_handle_t *)&w->fsync_timer, NULL);
        uv_close((uv_handle_t *)&w->retry_timer, NULL);
        w->timers = 0;
    }
    if (w->dirty)
        sluice_jsonl_sink_sync(w->sk);
    w->dirty = 0;
}

void writer_free(struct writer *w) {
    if (!w)
        return;
    for (size_t i = w->first_kept; i < w->n_kept; i++)
        free(w->kept[i].line);
    free(w->kept);
    free(w);
}
