/*
 * A job in Redis, driven from the engine's loop (sluice.h "A job in Redis"; docs/DESIGN.md
 * "Distributed mode"; the keys and scripts are queue.h's).
 *
 * Worker: a source over the consumer group. Entries are read in batches (XREADGROUP BLOCK on a
 * connection of their own, so commands never wait behind a blocking read), turned into
 * requests by a line parser, and their results committed in batches by the commit script on
 * the command connection. Entries idle longer than claim_idle with another consumer (a worker
 * that died) are taken over (XAUTOCLAIM); the entries this worker holds are touched (XCLAIM
 * JUSTID) every third of claim_idle, so a slow request is not taken from a live worker.
 *
 * Feeder: reads INPUT, puts each line in the stream with its line number as ID (a rejected
 * line with its reason, so a worker writes its failed result), keeps at most `backlog` entries
 * in the stream, and records the total when the input ends.
 *
 * Writer: reads the results stream in order, hands each line to the caller, and trims what was
 * written once the caller synced it.
 *
 * Every Redis call is asynchronous. A NULL reply (Redis went away, or did not answer in time)
 * leaves the outcome unknown: commits and feeds are repeated (both are idempotent), reads and
 * status checks are simply asked again. Each outstanding call holds a reference, so a job
 * closed while Redis is silent is freed when the last call comes back.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "job.h"

/*
 * KEYS: meta, in, lost, done, out. ARGV[1]: an ID of :out, or "" (not asked). Returns
 * {total or "", XLEN in, SCARD lost, SCARD done, 1 when :out holds an entry after ARGV[1]}.
 */
static const char status_script[] =
    "local total = redis.call('HGET', KEYS[1], 'total') or ''\n"
    "local more = 0\n"
    "if ARGV[1] ~= '' then\n"
    "  local r = redis.call('XRANGE', KEYS[5], '(' .. ARGV[1], '+', 'COUNT', 1)\n"
    "  if #r > 0 then more = 1 end\n"
    "end\n"
    "return {total, redis.call('XLEN', KEYS[2]), redis.call('SCARD', KEYS[3]),\n"
    "        redis.call('SCARD', KEYS[4]), more}\n";

static void job_maybe_free(struct sluice_job_s *j);

int64_t job_now_ms(struct sluice_job_s *j) {
    return (int64_t)uv_now(j->r->loop);
}

/* ---- small helpers ---- */

int job_cmd_up(struct sluice_job_s *j) {
    return !j->closed && rconn_up(j->r->cmd);
}

/* Sends a command on `rc` holding a reference; 0 or a negative code. */
int job_send_cmd(struct sluice_job_s *j, struct rconn *rc, rconn_reply_cb cb, int64_t extra_ms,
                 int argc, const char **argv, const size_t *lens) {
    int e = rconn_cmd(rc, cb, j, extra_ms, argc, argv, lens);
    if (e == 0)
        j->refs++;
    return e;
}

int job_send_script(struct sluice_job_s *j, int which, rconn_reply_cb cb, int nkeys, int argc,
                    const char **argv, const size_t *lens) {
    const char *sha;
    const char *body = redis_job_script_body(which, &sha);
    int e = rconn_eval(j->r->cmd, cb, j, sha, body, nkeys, argc, argv, lens);
    if (e == 0)
        j->refs++;
    return e;
}

void job_lens_of(const char **argv, size_t *lens, int argc) {
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
}

/* A call came back: clear its busy flag, drop its reference; 1 when the job is closed. */
int job_call_back(struct sluice_job_s *j, int *busy) {
    if (busy)
        *busy = 0;
    j->refs--;
    if (j->closed) {
        job_maybe_free(j);
        return 1;
    }
    return 0;
}

static void on_handle_closed(uv_handle_t *h) {
    struct sluice_job_s *j = h->data;
    j->refs--;
    job_maybe_free(j);
}

static void timer_init(struct sluice_job_s *j, uv_timer_t *t) {
    uv_timer_init(j->r->loop, t);
    t->data = j;
    j->refs++;
}

static void timer_close(uv_timer_t *t) {
    if (!uv_is_closing((uv_handle_t *)t))
        uv_close((uv_handle_t *)t, on_handle_closed);
}

/* ---- the worker's source ---- */

static void read_more(struct sluice_job_s *j);
static void check_eof(struct sluice_job_s *j);

static void tell_engine(struct sluice_job_s *j) {
    if (j->want_ready && j->eng) {
        j->want_ready = 0;
        sluice_source_ready(j->eng);
    }
}

/* 1 when this worker already holds entry `id` (queued, at the engine, or with its result
   waiting on Redis). */
static int holds(const struct sluice_job_s *j, const char *id) {
    for (size_t i = 0; i < j->cq_n; i++)
        if (strcmp(j->cq[i].entry_id, id) == 0)
            return 1;
    for (size_t i = 0; i < j->q_n; i++)
        if (strcmp(j->q[(j->q_head + i) % j->q_cap].id, id) == 0)
            return 1;
    for (const struct jreq *w = j->held; w; w = w->next)
        if (strcmp(w->entry_id, id) == 0)
            return 1;
    return 0;
}

static int queue_push(struct sluice_job_s *j, struct redis_job_entry *e) {
    if (j->q_n == j->q_cap) {
        size_t cap = j->q_cap ? 2 * j->q_cap : 64;
        struct redis_job_entry *q = malloc(cap * sizeof(*q));
        if (!q)
            return SLUICE_ENOMEM;
        for (size_t i = 0; i < j->q_n; i++)
            q[i] = j->q[(j->q_head + i) % j->q_cap];
        free(j->q);
        j->q = q;
        j->q_cap = cap;
        j->q_head = 0;
    }
    j->q[(j->q_head + j->q_n) % j->q_cap] = *e;
    j->q_n++;
    return 0;
}

/*
 * Takes over entries handed out by redis_job_parse_*. `maybe_held`: they may be entries this
 * worker already holds (a claim, or reading its own pending entries again), which are dropped;
 * new entries (XREADGROUP ">") never are, and are not searched for.
 */
static void take_entries(struct sluice_job_s *j, struct redis_job_entry *e, size_t n,
                         int maybe_held) {
    for (size_t i = 0; i < n; i++) {
        if ((maybe_held && holds(j, e[i].id)) || queue_push(j, &e[i]) < 0)
            free(e[i].custom_id); /* not ours to run twice; or no memory: a claim retries */
    }
    free(e);
    if (j->q_n > 0)
        tell_engine(j);
}

static void on_read_timer(uv_timer_t *t);

static void on_read(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    struct sluice_job_s *j = ud;
    if (job_call_back(j, &j->reading))
        return;
    if (!reply)
        return; /* the read connection went down: its "up" reads again */
    struct redis_job_entry *e = NULL;
    size_t n = 0;
    int parsed = redis_job_parse_read(reply, &e, &n);
    if (parsed == 0 && n > 0) {
        if (j->recovering)
            memcpy(j->recover_after, e[n - 1].id, sizeof(j->recover_after));
        take_entries(j, e, n, j->recovering);
    }
    if (j->recovering && (parsed < 0 || n < (size_t)j->cfg.batch)) {
        /* The last page of the old life (an entry deleted meanwhile spoils a page: the claim
           reports those as lost). */
        j->recovering = 0;
        read_more(j);
        return;
    }
    if (n == 0)
        check_eof(j);
    if (reply->type == REDIS_REPLY_ERROR) {
        /* NOGROUP (the job was deleted under us), WRONGTYPE, OOM...: asking again at once
           would spin on the same answer. */
        uv_timer_start(&j->t_read, on_read_timer, READ_RETRY_MS, 0);
        return;
    }
    read_more(j);
}

static void on_read_timer(uv_timer_t *t) {
    read_more(t->data);
}

static void read_more(struct sluice_job_s *j) {
    if (j->closed || j->reading || j->eof || !j->eng || !rconn_up(j->rd) ||
        uv_is_active((uv_handle_t *)&j->t_read))
        return;
    if (j->q_n >= (size_t)j->cfg.batch)
        return;
    char count[16], block[16];
    snprintf(count, sizeof(count), "%d", j->cfg.batch);
    snprintf(block, sizeof(block), "%d", READ_BLOCK_MS);
    const char *argv[] = {"XREADGROUP", "GROUP", REDIS_JOB_GROUP, j->consumer, "COUNT", count,
                          "BLOCK",      block,   "STREAMS",       j->k_in,     ">"};
    size_t lens[11];
    job_lens_of(argv, lens, 11);
    if (j->recovering) {
        /* ID 0: this consumer's own pending entries, from a life before a crash. */
        argv[10] = j->recover_after;
        lens[10] = strlen(j->recover_after);
    }
    if (job_send_cmd(j, j->rd, on_read, READ_BLOCK_MS, 11, argv, lens) == 0)
        j->reading = 1;
}

static void on_rd_state(struct rconn *rc, int up, void *ud) {
    (void)rc;
    struct sluice_job_s *j = ud;
    if (up && !j->closed)
        read_more(j);
}

/* Parses the status script's reply; 0 or -1. */
int job_parse_status(const redisReply *r, int64_t *total, uint64_t v[4]) {
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 5 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return -1;
    *total = r->element[0]->len ? strtoll(r->element[0]->str, NULL, 10) : -1;
    for (int i = 0; i < 4; i++) {
        if (r->element[i + 1]->type != REDIS_REPLY_INTEGER)
            return -1;
        v[i] = (uint64_t)r->element[i + 1]->integer;
    }
    return 0;
}

int job_send_status(struct sluice_job_s *j, rconn_reply_cb cb, const char *after) {
    const char *argv[] = {"EVAL",    status_script, "5",      j->k_meta, j->k_in,
                          j->k_lost, j->k_done,     j->k_out, after};
    size_t lens[9];
    job_lens_of(argv, lens, 9);
    return job_send_cmd(j, j->r->cmd, cb, 0, 9, argv, lens);
}

static void on_eof_status(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    struct sluice_job_s *j = ud;
    if (job_call_back(j, &j->checking))
        return;
    int64_t total;
    uint64_t v[4];
    if (job_parse_status(reply, &total, v) == 0)
        job_status_seen(j, total, v);
}

void job_status_seen(struct sluice_job_s *j, int64_t total, const uint64_t v[4]) {
    /* Every line is in (total known) and every entry is gone from the stream: each was
       committed (the commit deletes it). Entries of other live workers keep us here. */
    if (!j->eof && total >= 0 && v[0] == 0 && v[1] == 0 && j->q_n == 0 && !j->cfg.follow) {
        j->eof = 1;
        j->want_ready = 1;
        tell_engine(j);
    }
}

static void check_eof(struct sluice_job_s *j) {
    /* While this worker holds entries (queued, at the engine, or with a result not yet
       acknowledged), they are still in the stream: the job cannot be over, no need to ask. */
    if (j->checking || j->eof || !job_cmd_up(j) || j->q_n > 0 || j->n_held > 0 || j->cq_n > 0)
        return;
    if (job_send_status(j, on_eof_status, "") == 0)
        j->checking = 1;
}

/* Makes a rejected request: id (copied) and reason (copied). */
static int make_rejected(struct jreq *w, const char *id, const char *why, uint64_t line) {
    w->own_id = strdup(id);
    w->own_why = strdup(why);
    if (!w->own_id || !w->own_why)
        return SLUICE_ENOMEM;
    memset(&w->req, 0, sizeof(w->req));
    w->req.custom_id = w->own_id;
    w->req.invalid = w->own_why;
    w->req.line = line;
    w->by_line = 1;
    return 0;
}

static int entry_to_request(struct sluice_job_s *j, struct redis_job_entry *e, struct jreq *w) {
    char id[48], why[300];
    memcpy(w->entry_id, e->id, sizeof(w->entry_id));
    snprintf(id, sizeof(id), "line-%" PRIu64, e->line);
    if (e->lost) {
        w->lost = 1;
        snprintf(why, sizeof(why),
                 "the job's entry for line %" PRIu64 " vanished from Redis before it had a "
                 "result (deleted or trimmed by hand?); run the line again in a new job",
                 e->line);
        return make_rejected(w, id, why, e->line);
    }
    sluice_request_t *inner = NULL;
    int rc = source_parse(j->parser, e->line, e->request, e->request_len, &inner);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return make_rejected(w, id, e->bad ? e->bad : "blank line", e->line);
    w->inner = inner;
    w->req = *inner;
    w->by_line = inner->invalid != NULL;
    if (e->bad || (e->deliveries > j->cfg.max_deliveries && !inner->invalid)) {
        if (e->bad)
            snprintf(why, sizeof(why), "%s", e->bad);
        else
            snprintf(why, sizeof(why),
                     "delivered %" PRId64 " times without a result (--max-deliveries %d): "
                     "workers died on it",
                     e->deliveries, j->cfg.max_deliveries);
        if (!(w->own_why = strdup(why)))
            return SLUICE_ENOMEM;
        w->req.invalid = w->own_why;
        w->req.method = w->req.url = w->req.body = NULL;
        w->req.body_len = 0;
        w->by_line = e->bad != NULL;
    }
    return 0;
}

static void jreq_free(struct sluice_job_s *j, struct jreq *w) {
    if (w->inner)
        source_release_request(j->parser, w->inner);
    free(w->own_id);
    free(w->own_why);
    free(w);
}

static int job_next(void *ud, sluice_request_t **out) {
    struct sluice_job_s *j = ud;
    *out = NULL;
    while (j->q_n > 0) {
        struct redis_job_entry e = j->q[j->q_head];
        j->q_head = (j->q_head + 1) % j->q_cap;
        j->q_n--;
        struct jreq *w = calloc(1, sizeof(*w));
        int rc = w ? entry_to_request(j, &e, w) : SLUICE_ENOMEM;
        free(e.custom_id);
        if (rc < 0) {
            /* Out of memory: the entry stays pending and is claimed again later. */
            if (w)
                jreq_free(j, w);
            continue;
        }
        w->req.user = w;
        w->next = j->held;
        if (j->held)
            j->held->prev = w;
        j->held = w;
        j->n_held++;
        *out = &w->req;
        read_more(j);
        return 0;
    }
    if (j->eof && j->q_n == 0)
        return SLUICE_EOF;
    j->want_ready = 1;
    read_more(j);
    return SLUICE_EAGAIN;
}

static void job_release(void *ud, sluice_request_t *req) {
    struct sluice_job_s *j = ud;
    struct jreq *w = req->user;
    if (w->prev)
        w->prev->next = w->next;
    else
        j->held = w->next;
    if (w->next)
        w->next->prev = w->prev;
    j->n_held--;
    jreq_free(j, w);
}

/* ---- claims, touches and heartbeats ---- */

static void on_claim_tick(uv_timer_t *t);

static void on_claim(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    struct sluice_job_s *j = ud;
    if (job_call_back(j, &j->claiming))
        return;
    struct redis_job_entry *e = NULL;
    size_t n = 0;
    if (reply && redis_job_parse_claim(reply, j->cursor, &e, &n) == 0 && n > 0)
        take_entries(j, e, n, 1);
    /* A full page: more may be waiting; look again at once rather than at the next tick. */
    if (n > 0 && strcmp(j->cursor, "0-0") != 0)
        uv_timer_start(&j->t_claim, on_claim_tick, 0, uv_timer_get_repeat(&j->t_claim));
}

static void on_claim_tick(uv_timer_t *t) {
    struct sluice_job_s *j = t->data;
    if (j->claiming || j->eof || !job_cmd_up(j))
        return;
    char idle[24], count[16];
    snprintf(idle, sizeof(idle), "%" PRId64, (int64_t)(j->cfg.claim_idle_s * 1000));
    snprintf(count, sizeof(count), "%d", j->cfg.batch);
    const char *argv[] = {j->k_in, j->k_lost, REDIS_JOB_GROUP, j->consumer, idle, j->cursor, count};
    size_t lens[7];
    job_lens_of(argv, lens, 7);
    if (job_send_script(j, REDIS_JOB_SCRIPT_CLAIM, on_claim, 2, 7, argv, lens) == 0)
        j->claiming = 1;
}

static void on_ignore(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    (void)reply;
    job_call_back(ud, NULL);
}

/* Resets the idle time of every entry this worker holds (queued, at the engine, or with a result
   waiting on Redis), so no one claims them from it. */
static void on_touch_tick(uv_timer_t *t) {
    struct sluice_job_s *j = t->data;
    size_t n = j->n_held + j->q_n + j->cq_n;
    if (n == 0 || !job_cmd_up(j))
        return;
    const char **argv = malloc((n + 6) * sizeof(*argv));
    size_t *lens = malloc((n + 6) * sizeof(*lens));
    if (argv && lens) {
        int k = 0;
        argv[k++] = "XCLAIM";
        argv[k++] = j->k_in;
        argv[k++] = REDIS_JOB_GROUP;
        argv[k++] = j->consumer;
        argv[k++] = "0";
        for (const struct jreq *w = j->held; w; w = w->next)
            argv[k++] = w->entry_id;
        for (size_t i = 0; i < j->q_n; i++)
            argv[k++] = j->q[(j->q_head + i) % j->q_cap].id;
        for (size_t i = 0; i < j->cq_n; i++)
            argv[k++] = j->cq[i].entry_id;
        argv[k++] = "JUSTID";
        job_lens_of(argv, lens, k);
        job_send_cmd(j, j->r->cmd, on_ignore, 0, k, argv, lens);
    }
    free(argv);
    free(lens);
}

static void on_beat(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    (void)reply;
    struct sluice_job_s *j = ud;
    job_call_back(j, &j->beating);
}

/* Sends the heartbeat with the info last set, unless one is on its way. */
static void job_beat(struct sluice_job_s *j) {
    if (j->beating || !job_cmd_up(j))
        return;
    const char *argv[] = {j->k_workers, j->consumer, j->info ? j->info : "{}"};
    size_t lens[3];
    job_lens_of(argv, lens, 3);
    if (job_send_script(j, REDIS_JOB_SCRIPT_HEARTBEAT, on_beat, 1, 3, argv, lens) == 0)
        j->beating = 1;
}

static void on_beat_tick(uv_timer_t *t) {
    job_beat(t->data);
}

int sluice_job_beat(sluice_job_t *j) {
    if (!j || j->closed)
        return SLUICE_EINVAL;
    if (j->beating)
        return 1;
    job_beat(j);
    return j->beating ? 0 : SLUICE_EIO;
}

int sluice_job_beating(const sluice_job_t *j) {
    return j && j->beating;
}

/* ---- commits ---- */

static void commit_flush(struct sluice_job_s *j);

static void on_commit_timer(uv_timer_t *t) {
    uv_timer_stop(t);
    commit_flush(t->data);
}

static void on_commit(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    struct sluice_job_s *j = ud;
    size_t n = j->inflight[0];
    memmove(j->inflight, j->inflight + 1, (size_t)(j->n_inflight - 1) * sizeof(j->inflight[0]));
    j->n_inflight--;
    if (job_call_back(j, NULL))
        return;
    if (!j->commit_failed && redis_job_parse_commit(reply, n, NULL) >= 0) {
        /* Calls are answered in order, so this one's records are at the head of the queue. */
        j->commit_backoff_ms = 0;
        j->commit_failing_since = 0;
        for (size_t i = 0; i < n; i++) {
            free(j->cq[i].custom_id);
            free(j->cq[i].result);
        }
        memmove(j->cq, j->cq + n, (j->cq_n - n) * sizeof(*j->cq));
        j->cq_n -= n;
        j->committing -= n;
        sluice_results_written(j->eng, n); /* their slots are free (sluice_job_source) */
        commit_flush(j);
        /* The last commits may have emptied the stream. */
        if (j->cq_n == 0 && j->q_n == 0 && j->n_held == 0)
            check_eof(j);
        return;
    }
    /* No answer, or not the script's: the outcome is unknown. The commit is idempotent, so
       once the calls still in flight are back, every record left goes again, after a pause
       that grows while it keeps failing (a later call's success changes nothing meanwhile:
       its records go again too, harmlessly). */
    j->commit_failed = 1;
    /* Refused (an error reply): the clock of --give-up-after for a Redis that answers but
       will not store. No answer is the connection's trouble, which sluice_redis_down_s
       times. */
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        if (!j->commit_failing_since) {
            int64_t now = job_now_ms(j);
            j->commit_failing_since = now > 0 ? now : 1;
        }
        snprintf(j->commit_why, sizeof(j->commit_why), "%s", reply->str);
    }
    if (j->n_inflight > 0)
        return;
    j->commit_failed = 0;
    j->committing = 0;
    j->commit_backoff_ms = j->commit_backoff_ms
                               ? (j->commit_backoff_ms * 2 > 2000 ? 2000 : j->commit_backoff_ms * 2)
                               : 50;
    uv_timer_start(&j->t_commit, on_commit_timer, (uint64_t)j->commit_backoff_ms, 0);
}

/* Sends what waits, in calls of up to COMMIT_MAX, up to COMMIT_PIPELINE calls in flight: a
   finished result is in Redis one round trip after its loop turn, not behind earlier calls. */
static void commit_flush(struct sluice_job_s *j) {
    while (!j->commit_failed && j->n_inflight < COMMIT_PIPELINE && j->committing < j->cq_n &&
           job_cmd_up(j) && !uv_is_active((uv_handle_t *)&j->t_commit)) {
        size_t first = j->committing, n = j->cq_n - first;
        if (n > COMMIT_MAX)
            n = COMMIT_MAX;
        struct redis_job_commit c[COMMIT_MAX];
        for (size_t i = 0; i < n; i++) {
            const struct commit_rec *r = &j->cq[first + i];
            c[i].custom_id = r->custom_id;
            c[i].entry_id = r->entry_id;
            c[i].result = r->result;
            c[i].result_len = r->len;
            c[i].failed = r->failed;
            c[i].lost = r->lost;
        }
        struct redis_job_args a;
        if (redis_job_commit_args(j->name, c, n, &a) < 0)
            return;
        const char *sha;
        const char *body = redis_job_script_body(REDIS_JOB_SCRIPT_COMMIT, &sha);
        int rc = rconn_eval(j->r->cmd, on_commit, j, sha, body, a.nkeys, a.argc, a.argv, a.argvlen);
        redis_job_args_free(&a);
        if (rc != 0)
            return;
        j->refs++;
        j->inflight[j->n_inflight++] = n;
        j->committing += n;
    }
}

int sluice_job_commit(sluice_job_t *j, const sluice_result_t *res, const char *line, size_t len) {
    const struct jreq *w = res->req->user;
    if (j->cq_n == j->cq_cap) {
        size_t cap = j->cq_cap ? 2 * j->cq_cap : 64;
        struct commit_rec *q = realloc(j->cq, cap * sizeof(*q));
        if (!q)
            return SLUICE_ENOMEM;
        j->cq = q;
        j->cq_cap = cap;
    }
    struct commit_rec *c = &j->cq[j->cq_n];
    memset(c, 0, sizeof(*c));
    c->result = malloc(len + 1);
    if (!c->result || (!w->by_line && !(c->custom_id = strdup(res->req->custom_id)))) {
        free(c->result);
        return SLUICE_ENOMEM;
    }
    memcpy(c->result, line, len);
    c->result[len] = '\0';
    c->len = len;
    c->failed = res->error_code != NULL;
    c->lost = w->lost;
    memcpy(c->entry_id, w->entry_id, sizeof(c->entry_id));
    j->cq_n++;
    /* Batched: everything finished in this turn of the loop goes in one call, and when nothing
       presses, in the next COMMIT_DELAY_MS too (a worker paced to a low rate would otherwise
       commit nearly one result per call). Pressing: a full call, every slot of the engine held
       (by results waiting on Redis among others), or the last request out. A backoff after a
       failed call is left alone. */
    int pressed = j->cq_n - j->committing >= COMMIT_MAX || engine_slots_full(j->eng) ||
                  (j->n_held <= 1 && j->q_n == 0);
    if (!uv_is_active((uv_handle_t *)&j->t_commit))
        uv_timer_start(&j->t_commit, on_commit_timer, pressed ? 0 : COMMIT_DELAY_MS, 0);
    else if (pressed && j->commit_backoff_ms == 0)
        uv_timer_start(&j->t_commit, on_commit_timer, 0, 0);
    return 0;
}

size_t sluice_job_uncommitted(const sluice_job_t *j) {
    return j->cq_n;
}

double sluice_job_commit_failing_s(sluice_job_t *j, const char **why) {
    if (why)
        *why = j->commit_failing_since ? j->commit_why : "";
    if (!j->commit_failing_since)
        return 0;
    return (double)(job_now_ms(j) - j->commit_failing_since) / 1000.0;
}

int sluice_job_source(sluice_job_t *j, sluice_t *eng, sluice_source_t *src) {
    if (!j || !eng || !src)
        return SLUICE_EINVAL;
    if (!j->parser) {
        int rc = source_parser_new(&j->parser, j->name, j->url);
        if (rc < 0)
            return rc;
        rc = redis_connect_extra(j->r, "sluice-read", on_rd_state, j, &j->rd);
        if (rc < 0)
            return rc;
        uint64_t claim = (uint64_t)(j->cfg.claim_idle_s * 1000 / 2);
        uint64_t touch = (uint64_t)(j->cfg.claim_idle_s * 1000 / 3);
        uint64_t beat = (uint64_t)(j->cfg.heartbeat_s * 1000);
        claim = claim < 200 ? 200 : claim;
        touch = touch < 200 ? 200 : touch;
        beat = beat < 100 ? 100 : beat;
        uv_timer_start(&j->t_claim, on_claim_tick, claim, claim);
        uv_timer_start(&j->t_touch, on_touch_tick, touch, touch);
        uv_timer_start(&j->t_beat, on_beat_tick, 0, beat);
    }
    j->eng = eng;
    /* A result holds its slot until its commit is acknowledged (on_commit): a kill -9 loses
       what is on the wire and what waits on Redis, and those stay within the slots. */
    sluice_hold_until_written(eng, 1);
    src->next = job_next;
    src->release = job_release;
    src->ud = j;
    return 0;
}

/* ---- lifecycle ---- */

static void on_cmd_state(void *ud, int up) {
    struct sluice_job_s *j = ud;
    if (!up || j->closed)
        return;
    commit_flush(j);
    job_feed_kick(j);
    job_out_kick(j);
}

void sluice_job_config_init(sluice_job_config_t *c) {
    memset(c, 0, sizeof(*c));
    c->batch = 64;
    c->claim_idle_s = 60;
    c->max_deliveries = 5;
    c->heartbeat_s = 1;
}

int sluice_job_open(sluice_job_t **out, sluice_redis_t *r, const sluice_job_config_t *c) {
    if (!out || !r || !c || c->batch < 1 || c->claim_idle_s <= 0 || c->max_deliveries < 1)
        return SLUICE_EINVAL;
    struct sluice_job_s *j = calloc(1, sizeof(*j));
    if (!j)
        return SLUICE_ENOMEM;
    j->r = r;
    j->cfg = *c;
    if (j->cfg.heartbeat_s <= 0)
        j->cfg.heartbeat_s = 1;
    if (redis_job_key(j->k_in, KEY_LEN, c->name, "in") != 0) {
        free(j);
        return SLUICE_EINVAL;
    }
    redis_job_key(j->k_done, KEY_LEN, c->name, "done");
    redis_job_key(j->k_out, KEY_LEN, c->name, "out");
    redis_job_key(j->k_meta, KEY_LEN, c->name, "meta");
    redis_job_key(j->k_lost, KEY_LEN, c->name, "lost");
    redis_job_key(j->k_workers, KEY_LEN, c->name, "workers");
    j->name = strdup(c->name);
    j->url = c->request_url ? strdup(c->request_url) : NULL;
    if (!j->name || (c->request_url && !j->url)) {
        free(j->name);
        free(j->url);
        free(j);
        return SLUICE_ENOMEM;
    }
    if (c->consumer) {
        snprintf(j->consumer, sizeof(j->consumer), "%s", c->consumer);
    } else {
        char host[64] = "host";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        snprintf(j->consumer, sizeof(j->consumer), "%s-%ld", host, (long)getpid());
    }
    strcpy(j->cursor, "0-0");
    j->recovering = c->recover;
    strcpy(j->recover_after, "0");
    timer_init(j, &j->t_claim);
    timer_init(j, &j->t_touch);
    timer_init(j, &j->t_beat);
    timer_init(j, &j->t_read);
    timer_init(j, &j->t_commit);
    timer_init(j, &j->t_feed);
    timer_init(j, &j->t_out);
    redis_listen(r, on_cmd_state, j);
    *out = j;
    return 0;
}

void sluice_job_set_info(sluice_job_t *j, const char *json) {
    char *c = json ? strdup(json) : NULL;
    if (json && !c)
        return;
    free(j->info);
    j->info = c;
}

const char *sluice_job_consumer(const sluice_job_t *j) {
    return j->consumer;
}

static void job_maybe_free(struct sluice_job_s *j) {
    if (!j->closed || j->refs > 0)
        return;
    for (size_t i = 0; i < j->q_n; i++)
        free(j->q[(j->q_head + i) % j->q_cap].custom_id);
    free(j->q);
    for (size_t i = 0; i < j->cq_n; i++) {
        free(j->cq[i].custom_id);
        free(j->cq[i].result);
    }
    free(j->cq);
    free(j->fb.lines);
    free(j->fb.text);
    while (j->held) {
        struct jreq *w = j->held;
        j->held = w->next;
        jreq_free(j, w);
    }
    sluice_jsonl_source_close(j->parser);
    free(j->info);
    free(j->name);
    free(j->url);
    free(j);
}

void sluice_job_close(sluice_job_t *j) {
    if (!j || j->closed)
        return;
    j->closed = 1;
    redis_unlisten(j->r, on_cmd_state, j);
    timer_close(&j->t_claim);
    timer_close(&j->t_touch);
    timer_close(&j->t_beat);
    timer_close(&j->t_read);
    timer_close(&j->t_commit);
    timer_close(&j->t_feed);
    timer_close(&j->t_out);
    /* Its outstanding read gets its NULL reply, which drops the last references. */
    rconn_close(j->rd);
    j->rd = NULL;
    job_maybe_free(j);
}
