/* The feeder of a job in Redis: see job.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job.h"

/* ---- the feeder ---- */

static void feed_step(struct sluice_job_s *j);

static void on_feed_timer(uv_timer_t *t) {
    feed_step(t->data);
}

static void feed_later(struct sluice_job_s *j, uint64_t ms) {
    uv_timer_start(&j->t_feed, on_feed_timer, ms, 0);
}

static void fb_clear(struct feed_batch *b) {
    b->n = 0;
    b->text_len = 0;
}

/* Copies a line into the batch. The line's pointers are fixed up when the batch is sent (the
   text buffer may move while it grows): here they hold offsets. */
static int fb_add(struct feed_batch *b, uint64_t line, const char *id, const char *req,
                  size_t req_len, const char *bad) {
    size_t id_len = id ? strlen(id) + 1 : 0, bad_len = bad ? strlen(bad) + 1 : 0;
    size_t need = id_len + req_len + 1 + bad_len;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        struct redis_job_line *l = realloc(b->lines, cap * sizeof(*l));
        if (!l)
            return SLUICE_ENOMEM;
        b->lines = l;
        b->cap = cap;
    }
    if (b->text_len + need > b->text_cap) {
        size_t cap = b->text_cap ? b->text_cap : 65536;
        while (cap < b->text_len + need)
            cap *= 2;
        char *t = realloc(b->text, cap);
        if (!t)
            return SLUICE_ENOMEM;
        b->text = t;
        b->text_cap = cap;
    }
    struct redis_job_line *l = &b->lines[b->n++];
    char *p = b->text + b->text_len;
    l->line = line;
    l->custom_id = id ? (const char *)(uintptr_t)(b->text_len + 1) : NULL;
    if (id)
        memcpy(p, id, id_len);
    p += id_len;
    l->request = (const char *)(uintptr_t)(b->text_len + id_len);
    memcpy(p, req, req_len);
    p[req_len] = '\0';
    p += req_len + 1;
    l->request_len = req_len;
    l->bad = bad ? (const char *)(uintptr_t)(b->text_len + id_len + req_len + 2) : NULL;
    if (bad)
        memcpy(p, bad, bad_len);
    b->text_len += need;
    return 0;
}

static void fb_fix(struct feed_batch *b, struct redis_job_line *out) {
    for (size_t i = 0; i < b->n; i++) {
        out[i] = b->lines[i];
        if (out[i].custom_id)
            out[i].custom_id = b->text + (uintptr_t)out[i].custom_id - 1;
        out[i].request = b->text + (uintptr_t)out[i].request;
        if (out[i].bad)
            out[i].bad = b->text + (uintptr_t)out[i].bad - 1;
    }
}

static void on_feed(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    struct sluice_job_s *j = ud;
    if (job_call_back(j, &j->feed_busy))
        return;
    if (!reply || reply->type != REDIS_REPLY_INTEGER) {
        if (reply && reply->type == REDIS_REPLY_ERROR) {
            j->feed_state = FEED_FAILED;
            j->feed_err = SLUICE_EIO;
            snprintf(j->feed_why, sizeof(j->feed_why), "Redis refused the lines: %s", reply->str);
            return;
        }
        feed_later(j, 200); /* unknown: the same batch again (an entry is never added twice) */
        return;
    }
    fb_clear(&j->fb);
    feed_step(j);
}

static void send_feed(struct sluice_job_s *j) {
    struct redis_job_line *lines = malloc(j->fb.n * sizeof(*lines));
    struct redis_job_args a;
    if (!lines)
        goto later;
    fb_fix(&j->fb, lines);
    if (redis_job_feed_args(j->name, lines, j->fb.n, &a) < 0) {
        free(lines);
        goto later;
    }
    const char *sha;
    const char *body = redis_job_script_body(REDIS_JOB_SCRIPT_FEED, &sha);
    if (rconn_eval(j->r->cmd, on_feed, j, sha, body, a.nkeys, a.argc, a.argv, a.argvlen) == 0) {
        j->refs++;
        j->feed_busy = 1;
    }
    redis_job_args_free(&a);
    free(lines);
    if (j->feed_busy)
        return;
later:
    feed_later(j, 200);
}

static void on_total(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    struct sluice_job_s *j = ud;
    if (job_call_back(j, &j->feed_busy))
        return;
    if (reply && reply->type == REDIS_REPLY_INTEGER)
        j->feed_state = FEED_DONE;
    else
        feed_later(j, 200);
}

/* Reads up to `room` lines of input into the batch; 1 at the end of the input. */
static int feed_fill(struct sluice_job_s *j, uint64_t room) {
    sluice_source_t s;
    sluice_jsonl_source_bind(j->in, &s);
    size_t bytes = 0;
    while (j->fb.n < room && j->fb.n < FEED_MAX && bytes < FEED_MAX_BYTES) {
        sluice_request_t *req;
        int rc = s.next(s.ud, &req);
        if (rc == SLUICE_EOF)
            return sluice_jsonl_source_error(j->in) < 0 ? -1 : 1;
        if (rc < 0)
            return -1;
        j->entries++;
        if (req->invalid && j->reject && req->line > j->last_fed)
            j->reject(j->reject_ud, req->line, req->invalid);
        if (req->line > j->last_fed) {
            const char *raw;
            size_t len;
            source_last_line(j->in, &raw, &len);
            rc = fb_add(&j->fb, req->line, req->invalid ? NULL : req->custom_id, raw, len,
                        req->invalid);
            bytes += len;
        }
        s.release(s.ud, req);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static void on_backlog(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    struct sluice_job_s *j = ud;
    if (job_call_back(j, &j->feed_busy))
        return;
    if (!reply || reply->type != REDIS_REPLY_INTEGER) {
        feed_later(j, 200);
        return;
    }
    uint64_t in_stream = (uint64_t)reply->integer;
    if (in_stream >= j->backlog) {
        feed_later(j, POLL_MS);
        return;
    }
    int end = feed_fill(j, j->backlog - in_stream);
    /* The whole lines read before INPUT failed (gzip data cut short) are fed first; the next
       round finds the failure again with nothing read, and stops. */
    if (end < 0 && j->fb.n == 0) {
        j->feed_state = FEED_FAILED;
        j->feed_err = SLUICE_EIO;
        snprintf(j->feed_why, sizeof(j->feed_why), "reading the input failed");
        return;
    }
    if (end > 0)
        j->feed_state = FEED_TOTAL;
    if (j->fb.n > 0)
        send_feed(j);
    else
        feed_step(j);
}

static void feed_step(struct sluice_job_s *j) {
    if (j->feed_busy || !job_cmd_up(j))
        return;
    if (j->fb.n > 0) {
        send_feed(j);
        return;
    }
    if (j->feed_state == FEED_TOTAL) {
        /* Everything is in: record how many lines the job has, for completion checks. */
        char total[24];
        snprintf(total, sizeof(total), "%" PRIu64, j->entries);
        const char *argv[] = {"HSET", j->k_meta, "total", total};
        size_t lens[4];
        job_lens_of(argv, lens, 4);
        if (job_send_cmd(j, j->r->cmd, on_total, 0, 4, argv, lens) == 0)
            j->feed_busy = 1;
        return;
    }
    if (j->feed_state != FEED_RUNNING)
        return;
    const char *argv[] = {"XLEN", j->k_in};
    size_t lens[2];
    job_lens_of(argv, lens, 2);
    if (job_send_cmd(j, j->r->cmd, on_backlog, 0, 2, argv, lens) == 0)
        j->feed_busy = 1;
}

int sluice_job_feed(sluice_job_t *j, sluice_jsonl_source_t *input, uint64_t backlog,
                    sluice_job_reject_cb reject, void *ud) {
    if (!j || !input || backlog == 0)
        return SLUICE_EINVAL;
    char err[256];
    redisContext *c = redis_sync(j->r, err, sizeof(err));
    if (!c)
        return SLUICE_EIO;
    int rc = redis_job_create(c, j->name);
    if (rc == 0)
        rc = redis_job_last_fed(c, j->name, &j->last_fed);
    if (rc < 0)
        return rc;
    source_check_only(input);
    j->in = input;
    j->backlog = backlog;
    j->reject = reject;
    j->reject_ud = ud;
    j->feed_state = FEED_RUNNING;
    feed_later(j, 0);
    return 0;
}

int sluice_job_feed_done(const sluice_job_t *j) {
    if (j->feed_state == FEED_FAILED)
        return j->feed_err;
    return j->feed_state == FEED_DONE;
}

const char *sluice_job_feed_error(const sluice_job_t *j) {
    return j->feed_state == FEED_FAILED ? j->feed_why : "";
}

void job_feed_kick(struct sluice_job_s *j) {
    if (j->feed_state == FEED_RUNNING || j->feed_state == FEED_TOTAL)
        feed_later(j, 0);
}
