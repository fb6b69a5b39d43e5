/* The OUTPUT writer of a job in Redis: see job.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job.h"

/* ---- the writer ---- */

static void out_step(struct sluice_job_s *j);

static void on_out_timer(uv_timer_t *t) {
    out_step(t->data);
}

static void on_trim(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    (void)reply;
    struct sluice_job_s *j = ud;
    if (job_call_back(j, NULL))
        return;
    /* The last trim answered (or lost with the connection: then :out keeps lines already
       written, which only `job status` shows): the writer is done. */
    if (j->out_final) {
        j->out_final = 0;
        j->out_state = 1;
    }
}

/* Makes what was written durable, then trims it from Redis (*sent: a trim was sent); 0, or
   the sync's error. */
static int out_sync_trim(struct sluice_job_s *j, int *sent) {
    *sent = 0;
    if (strcmp(j->last_id, j->trimmed_id) == 0 || !j->last_id[0])
        return 0;
    int rc = j->sync ? j->sync(j->out_ud) : 0;
    if (rc != 0)
        return rc;
    uint64_t ms, seq;
    char min[REDIS_JOB_ID_LEN + 8];
    if (sscanf(j->last_id, "%" SCNu64 "-%" SCNu64, &ms, &seq) != 2)
        return 0;
    /* MINID keeps IDs >= its argument: name the smallest ID after the last one written.
       Exact, never "~": only what was written goes. A lost reply only delays the trim. */
    snprintf(min, sizeof(min), "%" PRIu64 "-%" PRIu64, ms, seq + 1);
    char lines[24];
    snprintf(lines, sizeof(lines), "%" PRIu64, j->out_lines);
    const char *argv[] = {j->k_out, j->k_meta, min, lines};
    size_t lens[4];
    job_lens_of(argv, lens, 4);
    j->last_trim_ms = job_now_ms(j);
    if (job_send_script(j, REDIS_JOB_SCRIPT_TRIM, on_trim, 2, 4, argv, lens) != 0)
        return 0;
    memcpy(j->trimmed_id, j->last_id, sizeof(j->trimmed_id));
    *sent = 1;
    return 0;
}

static void on_out_status(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    struct sluice_job_s *j = ud;
    if (job_call_back(j, &j->out_busy))
        return;
    int64_t total;
    uint64_t v[4];
    int ok = job_parse_status(reply, &total, v) == 0;
    if (ok) /* the worker of this process need not wait for its next read to learn the end */
        job_status_seen(j, total, v);
    if (ok && total >= 0 && v[2] >= (uint64_t)total && v[3] == 0) {
        /* Every line has its result and every result was handed over: done once the last
           trim is in (it records the count `job status` uses). */
        int sent, e = out_sync_trim(j, &sent);
        if (e == 0 && sent)
            j->out_final = 1;
        else
            j->out_state = e ? (e < 0 ? e : SLUICE_EIO) : 1;
        return;
    }
    /* Every id marked done has its line in :out, and none is after the last one read: the
       job cannot be complete before total - done more have been read. No need to ask till then. */
    if (ok && total >= 0 && v[3] == 0)
        j->out_need = (uint64_t)total - v[2];
    uv_timer_start(&j->t_out, on_out_timer, ok && v[3] ? 0 : OUT_POLL_MS, 0);
}

static void on_out(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    struct sluice_job_s *j = ud;
    if (job_call_back(j, &j->out_busy))
        return;
    struct redis_job_result *res = NULL;
    size_t n = 0;
    if (!reply || redis_job_parse_results(reply, &res, &n) < 0) {
        uv_timer_start(&j->t_out, on_out_timer, 200, 0);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int e = j->write(j->out_ud, res[i].result, res[i].result_len);
        if (e != 0) {
            j->out_state = e < 0 ? e : SLUICE_EIO;
            redis_job_results_free(res, n);
            return;
        }
        memcpy(j->last_id, res[i].id, sizeof(j->last_id));
    }
    j->out_need = j->out_need > n ? j->out_need - n : 0;
    j->out_lines += n;
    redis_job_results_free(res, n);
    if (job_now_ms(j) - j->last_trim_ms >= TRIM_EVERY_MS) {
        int sent, e = out_sync_trim(j, &sent);
        if (e != 0) {
            j->out_state = e < 0 ? e : SLUICE_EIO;
            return;
        }
    }
    if (n > 0) {
        out_step(j);
        return;
    }
    /* Caught up: done, or wait for more. Is the job complete? Not while results are still to
       come (out_need), nor while this process's own feed has not yet counted the lines. */
    int64_t now = job_now_ms(j);
    if ((j->out_need > 0 && now - j->last_status_ms < STATUS_EVERY_MS) ||
        (j->feed_state != FEED_OFF && j->feed_state < FEED_DONE)) {
        uv_timer_start(&j->t_out, on_out_timer, OUT_POLL_MS, 0);
        return;
    }
    /* (Every STATUS_EVERY_MS anyway: lines taken out of :out by someone else, which this
       writer never reads, would otherwise keep out_need above 0 for ever.) */
    if (job_send_status(j, on_out_status, j->last_id[0] ? j->last_id : "0-0") == 0) {
        j->out_busy = 1;
        j->last_status_ms = now;
    } else
        uv_timer_start(&j->t_out, on_out_timer, 200, 0);
}

static void out_step(struct sluice_job_s *j) {
    if (!j->out_on || j->out_busy || j->out_state != 0 || !job_cmd_up(j))
        return;
    char start[REDIS_JOB_ID_LEN + 2], count[16];
    if (j->last_id[0])
        snprintf(start, sizeof(start), "(%s", j->last_id);
    else
        snprintf(start, sizeof(start), "-");
    snprintf(count, sizeof(count), "%d", OUT_MAX);
    const char *argv[] = {"XRANGE", j->k_out, start, "+", "COUNT", count};
    size_t lens[6];
    job_lens_of(argv, lens, 6);
    if (job_send_cmd(j, j->r->cmd, on_out, 0, 6, argv, lens) == 0)
        j->out_busy = 1;
}

int sluice_job_output(sluice_job_t *j, sluice_job_write_cb write, sluice_job_sync_cb sync,
                      void *ud) {
    if (!j || !write)
        return SLUICE_EINVAL;
    /* Lines trimmed by an earlier life of the writer: the count goes on from there. */
    char err[256];
    redisContext *c = redis_sync(j->r, err, sizeof(err));
    if (!c)
        return SLUICE_EIO;
    redisReply *x = redisCommand(c, "HGET %s trimmed", j->k_meta);
    if (!x || x->type == REDIS_REPLY_ERROR) {
        freeReplyObject(x);
        return SLUICE_EIO; /* (LOADING...): a count from 0 would understate it for good */
    }
    j->out_lines = x->type == REDIS_REPLY_STRING ? strtoull(x->str, NULL, 10) : 0;
    freeReplyObject(x);
    j->write = write;
    j->sync = sync;
    j->out_ud = ud;
    j->out_on = 1;
    j->last_trim_ms = job_now_ms(j);
    uv_timer_start(&j->t_out, on_out_timer, 0, 0);
    return 0;
}

int sluice_job_output_done(const sluice_job_t *j) {
    return j->out_state;
}

void job_out_kick(struct sluice_job_s *j) {
    if (j->out_on && j->out_state == 0)
        uv_timer_start(&j->t_out, on_out_timer, 0, 0);
}
