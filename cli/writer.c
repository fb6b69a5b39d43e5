#include "writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kept {
    char *line;
    size_t len;
};

/* Lines are written in batches of at most this many bytes: one write(2) per loop iteration
   (a uv_prepare handle, just before the loop waits), or sooner when this much is pending. */
#define WRITER_BATCH (64u << 10)

struct writer {
    sluice_jsonl_sink_t *sk;
    uv_timer_t fsync_timer, retry_timer;
    uv_prepare_t batch_prep;
    int timers; /* initialised timers (and the prepare handle), to close */
    char *pend; /* whole lines waiting for this iteration's write; only with a loop */
    size_t pend_len, pend_cap;
    size_t pend_lines; /* lines in pend */
    void (*on_written)(void *ud, size_t lines);
    void *written_ud;
    int pend_err; /* a batch failed: returned by the next writer_line, to stop the run */
    int dirty;    /* written since the last fsync (only counted when fsync is on) */
    int sync;     /* --fsync > 0; 0 means never, not even at the end */
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

static int keep(struct writer *w, const char *line, size_t len);

static void written(struct writer *w, size_t lines) {
    if (w->on_written && lines > 0)
        w->on_written(w->written_ud, lines);
}

void writer_on_written(struct writer *w, void (*fn)(void *ud, size_t lines), void *ud) {
    w->on_written = fn;
    w->written_ud = ud;
}

/* Notes the first write error, with errno's words. */
static void note_error(struct writer *w, int rc) {
    if (!w->err) {
        w->err = rc;
        snprintf(w->why, sizeof(w->why), "%s", strerror(errno));
    }
}

/*
 * Writes the pending lines with one write(2). When that fails, the file is as it was before
 * (the sink cuts a partial write back) and each line is kept, in order, for the retries.
 * Returns 0 or the sink's error.
 */
static int pend_write(struct writer *w) {
    if (w->pend_len == 0)
        return 0;
    int rc = sluice_jsonl_sink_write_line(w->sk, w->pend, w->pend_len);
    size_t n = w->pend_len, lines = w->pend_lines;
    w->pend_len = 0;
    w->pend_lines = 0;
    if (rc == 0) {
        w->dirty = w->sync;
        written(w, lines);
        return 0;
    }
    if (rc != SLUICE_ENOSPC && rc != SLUICE_EIO)
        return rc;
    note_error(w, rc);
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(w->pend + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - w->pend) + 1 : n;
        if (keep(w, w->pend + i, end - i) < 0)
            return SLUICE_ENOMEM;
        i = end;
    }
    /* Their slots are given back all the same: the error stops the run at the next result,
       and with every slot held by these lines no next result would come. */
    written(w, lines);
    if (w->timers)
        uv_timer_start(&w->retry_timer, on_retry, 1000, 1000);
    return rc;
}

/*
 * Just before the loop waits. The written callback frees slots, and the run may fill them with
 * results at once (invalid lines, never sent): those lines are written too before the loop
 * waits, since nothing might wake it again (with --fsync 0, no timer at all).
 */
static void on_batch(uv_prepare_t *p) {
    struct writer *w = p->data;
    int rc;
    do {
        rc = pend_write(w);
    } while (rc == 0 && w->pend_len > 0);
    if (rc < 0 && !w->pend_err)
        w->pend_err = rc;
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
        uv_prepare_init(loop, &w->batch_prep);
        w->batch_prep.data = w;
        uv_prepare_start(&w->batch_prep, on_batch);
        uv_unref((uv_handle_t *)&w->batch_prep);
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
    if (w->pend_err) {
        /* a batch written after the last call failed: that stops the run, as it would have */
        int rc = w->pend_err;
        w->pend_err = 0;
        int k = keep(w, line, len);
        return k < 0 ? k : rc;
    }
    /* Order is kept: once a line waits, the ones after it wait behind it. */
    if (w->n_kept != w->first_kept)
        return keep(w, line, len);
    if (w->timers && len >= WRITER_BATCH) {
        /* A long line (a large answer) goes out on its own, after the queued ones, from the
           caller's buffer: a copy would make it cost its size once more. */
        int rc = pend_write(w);
        if (rc != 0) {
            int k = keep(w, line, len);
            return k < 0 ? k : rc;
        }
    } else if (w->timers) {
        /* With a loop: batched, written when this loop iteration ends (on_batch). */
        if (w->pend_len + len > w->pend_cap) {
            size_t cap = w->pend_cap ? w->pend_cap : 4096;
            while (cap < w->pend_len + len)
                cap *= 2;
            char *np = realloc(w->pend, cap);
            if (!np)
                return SLUICE_ENOMEM;
            w->pend = np;
            w->pend_cap = cap;
        }
        memcpy(w->pend + w->pend_len, line, len);
        w->pend_len += len;
        w->pend_lines++;
        return w->pend_len >= WRITER_BATCH ? pend_write(w) : 0;
    }
    int rc = sluice_jsonl_sink_write_line(w->sk, line, len);
    if (rc == 0) {
        w->dirty = w->sync;
        written(w, 1);
        return 0;
    }
    if (rc != SLUICE_ENOSPC && rc != SLUICE_EIO)
        return rc;
    note_error(w, rc);
    if (keep(w, line, len) < 0)
        return SLUICE_ENOMEM;
    if (w->timers)
        uv_timer_start(&w->retry_timer, on_retry, 1000, 1000);
    return rc;
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
    pend_write(w); /* a failure keeps its lines, which the loop below tries again */
    while (w->first_kept < w->n_kept) {
        struct kept *k = &w->kept[w->first_kept];
        if (sluice_jsonl_sink_write_line(w->sk, k->line, k->len) != 0)
            return -1;
        w->dirty = w->sync;
        free(k->line);
        k->line = NULL;
        w->first_kept++;
        written(w, 1);
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
    pend_write(w);
    if (w->timers) {
        uv_timer_stop(&w->fsync_timer);
        uv_timer_stop(&w->retry_timer);
        uv_close((uv_handle_t *)&w->fsync_timer, NULL);
        uv_close((uv_handle_t *)&w->retry_timer, NULL);
        uv_close((uv_handle_t *)&w->batch_prep, NULL);
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
    free(w->pend);
    free(w);
}
