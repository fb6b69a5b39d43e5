/*
 * A job in Redis, driven from the engine's loop (sluice.h "A job in Redis"; DESIGN.md
 * "Distributed mode"; the keys and scripts are redis_job.h's).
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

#include "redis.h"
#include "redis_job.h"
#include "source.h"

#define KEY_LEN         (REDIS_JOB_NAME_MAX + 48)
#define READ_BLOCK_MS   1000
#define COMMIT_MAX      256
#define COMMIT_PIPELINE 4 /* commit calls in flight at once */
#define FEED_MAX        512
#define FEED_MAX_BYTES  ((size_t)4 << 20)
#define OUT_MAX         512
#define POLL_MS         100 /* the feeder, when the backlog is full */
#define OUT_POLL_MS     250 /* the writer, when it has caught up */
#define TRIM_EVERY_MS   1000

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

/* A request handed to the engine. */
struct jreq {
    sluice_request_t req;    /* what the engine sees; req.user = this */
    sluice_request_t *inner; /* the parser's request, or NULL */
    char entry_id[REDIS_JOB_ID_LEN];
    int by_line;   /* rejected: its result marks the line done, not the custom_id */
    char *own_id;  /* custom_id made here, or NULL */
    char *own_why; /* reason made here, or NULL */
    struct jreq *prev, *next;
};

struct commit_rec {
    char *custom_id; /* NULL: by line */
    char entry_id[REDIS_JOB_ID_LEN];
    char *result;
    size_t len;
    int failed;
};

/* One feed call's lines, owned until Redis acknowledged them. */
struct feed_batch {
    struct redis_job_line *lines;
    size_t n, cap;
    char *text; /* the copies the lines point into */
    size_t text_len, text_cap;
};

enum { FEED_OFF = 0, FEED_RUNNING, FEED_TOTAL, FEED_DONE, FEED_FAILED };

struct sluice_job_s {
    sluice_redis_t *r;
    sluice_job_config_t cfg;
    char *name, *default_url;
    char consumer[128];
    char k_in[KEY_LEN], k_done[KEY_LEN], k_out[KEY_LEN], k_meta[KEY_LEN], k_lost[KEY_LEN],
        k_workers[KEY_LEN];
    int refs; /* outstanding calls and open handles */
    int closed;
    char *info;

    /* worker */
    sluice_t *eng;
    sluice_jsonl_source_t *parser;
    struct rconn *rd; /* blocking reads */
    int reading, checking, eof, want_ready;
    int recovering; /* reading this consumer's own pending entries first ... */
    char recover_after[REDIS_JOB_ID_LEN]; /* ... after this ID */
    struct redis_job_entry *q;
    size_t q_head, q_n, q_cap;
    struct jreq *held;
    size_t n_held;
    char cursor[REDIS_JOB_ID_LEN];
    int claiming;
    uv_timer_t t_claim, t_beat, t_touch;
    int beating;

    /* commits */
    struct commit_rec *cq;
    size_t cq_n, cq_cap;
    /* Commit calls in flight, pipelined: their sizes in order (one connection answers in
       order), and how many records at the head of cq they cover. */
    size_t inflight[COMMIT_PIPELINE];
    int n_inflight, commit_failed;
    size_t committing;
    uv_timer_t t_commit;
    int64_t commit_backoff_ms;

    /* feeder */
    sluice_jsonl_source_t *in;
    uint64_t backlog, entries, last_fed;
    sluice_job_reject_cb reject;
    void *reject_ud;
    int feed_state, feed_busy, feed_err;
    struct feed_batch fb;
    uv_timer_t t_feed;

    /* writer */
    sluice_job_write_cb write;
    sluice_job_sync_cb sync;
    void *out_ud;
    char last_id[REDIS_JOB_ID_LEN];    /* last result handed to write() */
    char trimmed_id[REDIS_JOB_ID_LEN]; /* last result trimmed */
    int out_busy, out_state;           /* 0 running, 1 done, < 0 error */
    int64_t last_trim_ms;
    uv_timer_t t_out;
    int out_on;
};

static void job_maybe_free(struct sluice_job_s *j);

static int64_t now_ms(struct sluice_job_s *j) {
    return (int64_t)uv_now(j->r->loop);
}

/* ---- small helpers ---- */

static int cmd_up(struct sluice_job_s *j) {
    return !j->closed && rconn_up(j->r->cmd);
}

/* Sends a command on `rc` holding a reference; 0 or a negative code. */
static int send_cmd(struct sluice_job_s *j, struct rconn *rc, rconn_reply_cb cb, int64_t extra_ms,
                    int argc, const char **argv, const size_t *lens) {
    int e = rconn_cmd(rc, cb, j, extra_ms, argc, argv, lens);
    if (e == 0)
        j->refs++;
    return e;
}

static int send_script(struct sluice_job_s *j, int which, rconn_reply_cb cb, int nkeys, int argc,
                       const char **argv, const size_t *lens) {
    const char *sha;
    const char *body = redis_job_script_body(which, &sha);
    int e = rconn_eval(j->r->cmd, cb, j, sha, body, nkeys, argc, argv, lens);
    if (e == 0)
        j->refs++;
    return e;
}

static void lens_of(const char **argv, size_t *lens, int argc) {
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
}

/* A call came back: drop its reference; 1 when the job is closed (the caller returns). */
static int call_back(struct sluice_job_s *j) {
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

/* 1 when this worker already holds entry `id` (queued or at the engine). */
static int holds(const struct sluice_job_s *j, const char *id) {
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

/* Takes over entries handed out by redis_job_parse_*; those already held are dropped. */
static void take_entries(struct sluice_job_s *j, struct redis_job_entry *e, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (holds(j, e[i].id) || queue_push(j, &e[i]) < 0)
            free(e[i].custom_id); /* not ours to run twice; or no memory: a claim retries */
    }
    free(e);
    if (j->q_n > 0)
        tell_engine(j);
}

static void on_read(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    struct sluice_job_s *j = ud;
    j->reading = 0;
    if (call_back(j))
        return;
    if (!reply)
        return; /* the read connection went down: its "up" reads again */
    struct redis_job_entry *e = NULL;
    size_t n = 0;
    int parsed = redis_job_parse_read(reply, &e, &n);
    if (parsed == 0 && n > 0) {
        if (j->recovering)
            memcpy(j->recover_after, e[n - 1].id, sizeof(j->recover_after));
        take_entries(j, e, n);
    }
    if (j->recovering && (parsed < 0 || n < (size_t)j->cfg.batch)) {
        /* The last page of the old life (an entry deleted meanwhile spoils a page: the claim
           reports those as lost). */
        j->recovering = 0;
        read_more(j);
        return;
    } else if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOGROUP", 7) == 0)
        check_eof(j); /* the job was deleted under us */
    if (n == 0)
        check_eof(j);
    read_more(j);
}

static void read_more(struct sluice_job_s *j) {
    if (j->closed || j->reading || j->eof || !j->eng || !rconn_up(j->rd))
        return;
    if (j->q_n >= (size_t)j->cfg.batch)
        return;
    char count[16], block[16];
    snprintf(count, sizeof(count), "%d", j->cfg.batch);
    snprintf(block, sizeof(block), "%d", READ_BLOCK_MS);
    const char *argv[] = {"XREADGROUP", "GROUP", REDIS_JOB_GROUP, j->consumer, "COUNT", count,
                          "BLOCK",      block,   "STREAMS",       j->k_in,     ">"};
    size_t lens[11];
    lens_of(argv, lens, 11);
    if (j->recovering) {
        /* ID 0: this consumer's own pending entries, from a life before a crash. */
        argv[10] = j->recover_after;
        lens[10] = strlen(j->recover_after);
    }
    if (send_cmd(j, j->rd, on_read, READ_BLOCK_MS, 11, argv, lens) == 0)
        j->reading = 1;
}

static void on_rd_state(struct rconn *rc, int up, void *ud) {
    (void)rc;
    struct sluice_job_s *j = ud;
    if (up && !j->closed)
        read_more(j);
}

/* Parses the status script's reply; 0 or -1. */
static int parse_status(const redisReply *r, int64_t *total, uint64_t v[4]) {
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

static int send_status(struct sluice_job_s *j, rconn_reply_cb cb, const char *after) {
    const char *argv[] = {"EVAL",    status_script, "5",      j->k_meta, j->k_in,
                          j->k_lost, j->k_done,     j->k_out, after};
    size_t lens[9];
    lens_of(argv, lens, 9);
    return send_cmd(j, j->r->cmd, cb, 0, 9, argv, lens);
}

static void on_eof_status(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    struct sluice_job_s *j = ud;
    j->checking = 0;
    if (call_back(j))
        return;
    int64_t total;
    uint64_t v[4];
    if (parse_status(reply, &total, v) < 0)
        return;
    /* Every line is in (total known) and every entry is gone from the stream: each was
       committed (the commit deletes it). Entries of other live workers keep us here. */
    if (total >= 0 && v[0] == 0 && v[1] == 0 && j->q_n == 0 && !j->cfg.follow) {
        j->eof = 1;
        j->want_ready = 1;
        tell_engine(j);
    }
}

static void check_eof(struct sluice_job_s *j) {
    if (j->checking || j->eof || !cmd_up(j))
        return;
    if (send_status(j, on_eof_status, "") == 0)
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
    if (j->eof)
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
    j->claiming = 0;
    if (call_back(j))
        return;
    struct redis_job_entry *e = NULL;
    size_t n = 0;
    if (reply && redis_job_parse_claim(reply, j->cursor, &e, &n) == 0 && n > 0)
        take_entries(j, e, n);
    /* A full page: more may be waiting; look again at once rather than at the next tick. */
    if (n > 0 && strcmp(j->cursor, "0-0") != 0)
        uv_timer_start(&j->t_claim, on_claim_tick, 0, uv_timer_get_repeat(&j->t_claim));
}

static void on_claim_tick(uv_timer_t *t) {
    struct sluice_job_s *j = t->data;
    if (j->claiming || j->eof || !cmd_up(j))
        return;
    char idle[24], count[16];
    snprintf(idle, sizeof(idle), "%" PRId64, (int64_t)(j->cfg.claim_idle_s * 1000));
    snprintf(count, sizeof(count), "%d", j->cfg.batch);
    const char *argv[] = {j->k_in, j->k_lost, REDIS_JOB_GROUP, j->consumer, idle, j->cursor, count};
    size_t lens[7];
    lens_of(argv, lens, 7);
    if (send_script(j, REDIS_JOB_SCRIPT_CLAIM, on_claim, 2, 7, argv, lens) == 0)
        j->claiming = 1;
}

static void on_ignore(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    (void)reply;
    call_back(ud);
}

/* Resets the idle time of every entry this worker holds, so no one claims them from it. */
static void on_touch_tick(uv_timer_t *t) {
    struct sluice_job_s *j = t->data;
    size_t n = j->n_held + j->q_n;
    if (n == 0 || !cmd_up(j))
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
        argv[k++] = "JUSTID";
        lens_of(argv, lens, k);
        send_cmd(j, j->r->cmd, on_ignore, 0, k, argv, lens);
    }
    free(argv);
    free(lens);
}

static void on_beat(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    (void)reply;
    struct sluice_job_s *j = ud;
    j->beating = 0;
    call_back(j);
}

static void on_beat_tick(uv_timer_t *t) {
    struct sluice_job_s *j = t->data;
    if (j->beating || !cmd_up(j))
        return;
    const char *argv[] = {j->k_workers, j->consumer, j->info ? j->info : "{}"};
    size_t lens[3];
    lens_of(argv, lens, 3);
    if (send_script(j, REDIS_JOB_SCRIPT_HEARTBEAT, on_beat, 1, 3, argv, lens) == 0)
        j->beating = 1;
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
    if (call_back(j))
        return;
    if (!j->commit_failed && redis_job_parse_commit(reply, n, NULL) >= 0) {
        /* Calls are answered in order, so this one's records are at the head of the queue. */
        j->commit_backoff_ms = 0;
        for (size_t i = 0; i < n; i++) {
            free(j->cq[i].custom_id);
            free(j->cq[i].result);
        }
        memmove(j->cq, j->cq + n, (j->cq_n - n) * sizeof(*j->cq));
        j->cq_n -= n;
        j->committing -= n;
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
           cmd_up(j) && !uv_is_active((uv_handle_t *)&j->t_commit)) {
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
    memcpy(c->entry_id, w->entry_id, sizeof(c->entry_id));
    j->cq_n++;
    /* Batched: everything finished in this turn of the loop goes in one call. */
    if (!uv_is_active((uv_handle_t *)&j->t_commit))
        uv_timer_start(&j->t_commit, on_commit_timer, 0, 0);
    return 0;
}

size_t sluice_job_uncommitted(const sluice_job_t *j) {
    return j->cq_n;
}

int sluice_job_source(sluice_job_t *j, sluice_t *eng, sluice_source_t *src) {
    if (!j || !eng || !src)
        return SLUICE_EINVAL;
    if (!j->parser) {
        int rc = source_parser_new(&j->parser, j->name, j->default_url);
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
    src->next = job_next;
    src->release = job_release;
    src->ud = j;
    return 0;
}

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
    j->feed_busy = 0;
    if (call_back(j))
        return;
    if (!reply || reply->type != REDIS_REPLY_INTEGER) {
        if (reply && reply->type == REDIS_REPLY_ERROR) {
            j->feed_state = FEED_FAILED;
            j->feed_err = SLUICE_EIO;
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
    j->feed_busy = 0;
    if (call_back(j))
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
    j->feed_busy = 0;
    if (call_back(j))
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
    if (end < 0) {
        j->feed_state = FEED_FAILED;
        j->feed_err = SLUICE_EIO;
        return;
    }
    if (end)
        j->feed_state = FEED_TOTAL;
    if (j->fb.n > 0)
        send_feed(j);
    else
        feed_step(j);
}

static void feed_step(struct sluice_job_s *j) {
    if (j->feed_busy || !cmd_up(j))
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
        lens_of(argv, lens, 4);
        if (send_cmd(j, j->r->cmd, on_total, 0, 4, argv, lens) == 0)
            j->feed_busy = 1;
        return;
    }
    if (j->feed_state != FEED_RUNNING)
        return;
    const char *argv[] = {"XLEN", j->k_in};
    size_t lens[2];
    lens_of(argv, lens, 2);
    if (send_cmd(j, j->r->cmd, on_backlog, 0, 2, argv, lens) == 0)
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

/* ---- the writer ---- */

static void out_step(struct sluice_job_s *j);

static void on_out_timer(uv_timer_t *t) {
    out_step(t->data);
}

static void on_trim(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    (void)reply;
    call_back(ud);
}

/* Makes what was written durable, then trims it from Redis. */
static int out_sync_trim(struct sluice_job_s *j) {
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
    const char *argv[] = {"XTRIM", j->k_out, "MINID", min};
    size_t lens[4];
    lens_of(argv, lens, 4);
    if (send_cmd(j, j->r->cmd, on_trim, 0, 4, argv, lens) == 0)
        memcpy(j->trimmed_id, j->last_id, sizeof(j->trimmed_id));
    j->last_trim_ms = now_ms(j);
    return 0;
}

static void on_out_status(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    struct sluice_job_s *j = ud;
    j->out_busy = 0;
    if (call_back(j))
        return;
    int64_t total;
    uint64_t v[4];
    if (parse_status(reply, &total, v) == 0 && total >= 0 && v[2] >= (uint64_t)total && v[3] == 0) {
        /* Every line has its result and every result was handed over. */
        int e = out_sync_trim(j);
        j->out_state = e ? (e < 0 ? e : SLUICE_EIO) : 1;
        return;
    }
    uv_timer_start(&j->t_out, on_out_timer, OUT_POLL_MS, 0);
}

static void on_out(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    struct sluice_job_s *j = ud;
    j->out_busy = 0;
    if (call_back(j))
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
    redis_job_results_free(res, n);
    if (now_ms(j) - j->last_trim_ms >= TRIM_EVERY_MS) {
        int e = out_sync_trim(j);
        if (e != 0) {
            j->out_state = e < 0 ? e : SLUICE_EIO;
            return;
        }
    }
    if (n > 0) {
        out_step(j);
        return;
    }
    /* Caught up: done, or wait for more. */
    if (send_status(j, on_out_status, j->last_id[0] ? j->last_id : "0-0") == 0)
        j->out_busy = 1;
    else
        uv_timer_start(&j->t_out, on_out_timer, 200, 0);
}

static void out_step(struct sluice_job_s *j) {
    if (!j->out_on || j->out_busy || j->out_state != 0 || !cmd_up(j))
        return;
    char start[REDIS_JOB_ID_LEN + 2], count[16];
    if (j->last_id[0])
        snprintf(start, sizeof(start), "(%s", j->last_id);
    else
        snprintf(start, sizeof(start), "-");
    snprintf(count, sizeof(count), "%d", OUT_MAX);
    const char *argv[] = {"XRANGE", j->k_out, start, "+", "COUNT", count};
    size_t lens[6];
    lens_of(argv, lens, 6);
    if (send_cmd(j, j->r->cmd, on_out, 0, 6, argv, lens) == 0)
        j->out_busy = 1;
}

int sluice_job_output(sluice_job_t *j, sluice_job_write_cb write, sluice_job_sync_cb sync,
                      void *ud) {
    if (!j || !write)
        return SLUICE_EINVAL;
    j->write = write;
    j->sync = sync;
    j->out_ud = ud;
    j->out_on = 1;
    j->last_trim_ms = now_ms(j);
    uv_timer_start(&j->t_out, on_out_timer, 0, 0);
    return 0;
}

int sluice_job_output_done(const sluice_job_t *j) {
    return j->out_state;
}

/* ---- lifecycle ---- */

static void on_cmd_state(void *ud, int up) {
    struct sluice_job_s *j = ud;
    if (!up || j->closed)
        return;
    commit_flush(j);
    if (j->feed_state == FEED_RUNNING || j->feed_state == FEED_TOTAL)
        feed_later(j, 0);
    if (j->out_on && j->out_state == 0)
        uv_timer_start(&j->t_out, on_out_timer, 0, 0);
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
    j->default_url = c->default_url ? strdup(c->default_url) : NULL;
    if (!j->name || (c->default_url && !j->default_url)) {
        free(j->name);
        free(j->default_url);
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
    free(j->default_url);
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
    timer_close(&j->t_commit);
    timer_close(&j->t_feed);
    timer_close(&j->t_out);
    /* Its outstanding read gets its NULL reply, which drops the last references. */
    rconn_close(j->rd);
    j->rd = NULL;
    job_maybe_free(j);
}
