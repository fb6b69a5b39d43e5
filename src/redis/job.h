#ifndef SLUICE_JOB_H
#define SLUICE_JOB_H

/*
 * Internals of a job in Redis (sluice.h "A job in Redis"), shared by its three files: job.c
 * (the worker's source, commits, claims, heartbeats, the lifecycle), job_feed.c (the feeder)
 * and job_out.c (the OUTPUT writer). See job.c for how they work.
 */
#include <stdint.h>

#include "redis.h"
#include "queue.h"
#include "source.h"

#define KEY_LEN         (REDIS_JOB_NAME_MAX + 48)
#define READ_BLOCK_MS   1000
#define READ_RETRY_MS   1000 /* after an error reply to a read */
#define STATUS_EVERY_MS 5000 /* the writer asks at least this often, whatever it expects */
#define COMMIT_MAX      256
#define COMMIT_PIPELINE 4   /* commit calls in flight at once */
#define COMMIT_DELAY_MS 500 /* how long a result may wait for others when nothing presses */
#define FEED_MAX        512
#define FEED_MAX_BYTES  ((size_t)4 << 20)
#define OUT_MAX         512
#define POLL_MS         100 /* the feeder, when the backlog is full */
#define OUT_POLL_MS     250 /* the writer, when it has caught up */
#define TRIM_EVERY_MS   1000

/* A request handed to the engine. */
struct jreq {
    sluice_request_t req;    /* what the engine sees; req.user = this */
    sluice_request_t *inner; /* the parser's request, or NULL */
    char entry_id[REDIS_JOB_ID_LEN];
    int by_line;   /* rejected: its result marks the line done, not the custom_id */
    int lost;      /* the entry vanished from the stream (reported by a claim) */
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
    int lost;
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
    char *name, *url; /* url: --url (every request's), or NULL */
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
    uv_timer_t t_read; /* the next read after an error reply */
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
    int64_t commit_failing_since; /* loop ms of the first failed commit since a success; 0 */
    char commit_why[160];         /* what the last failed commit got */

    /* feeder */
    sluice_jsonl_source_t *in;
    uint64_t backlog, entries, last_fed;
    sluice_job_reject_cb reject;
    void *reject_ud;
    int feed_state, feed_busy, feed_err;
    char feed_why[160]; /* sluice_job_feed_error */
    struct feed_batch fb;
    uv_timer_t t_feed;

    /* writer */
    sluice_job_write_cb write;
    sluice_job_sync_cb sync;
    void *out_ud;
    char last_id[REDIS_JOB_ID_LEN];    /* last result handed to write() */
    char trimmed_id[REDIS_JOB_ID_LEN]; /* last result trimmed */
    uint64_t out_lines;      /* lines read by this writer, plus those trimmed before it began */
    int out_busy, out_state; /* 0 running, 1 done, < 0 error */
    int out_final;           /* the last trim is on its way: done when it is answered */
    uint64_t out_need; /* results still to read before the job can be complete (status check) */
    int64_t last_trim_ms;
    int64_t last_status_ms; /* the writer's last status check */
    uv_timer_t t_out;
    int out_on;
};

/* ---- shared helpers (job.c) ---- */

int64_t job_now_ms(struct sluice_job_s *j);
/* 1 when the job is open and the command connection is up. */
int job_cmd_up(struct sluice_job_s *j);
/* Sends a command on `rc` holding a reference; 0 or a negative code. */
int job_send_cmd(struct sluice_job_s *j, struct rconn *rc, rconn_reply_cb cb, int64_t extra_ms,
                 int argc, const char **argv, const size_t *lens);
void job_lens_of(const char **argv, size_t *lens, int argc);
/*
 * The opening of every reply callback: clears the flag that said the call was under way (busy,
 * when not NULL), drops the call's reference, and returns 1 when the job is closed, and maybe
 * freed: the callback then returns at once without touching it.
 */
int job_call_back(struct sluice_job_s *j, int *busy);
/* The status script (after: an ID of :out, or ""), and its reply: total (-1 while feeding) and
   {XLEN in, SCARD lost, SCARD done, more results after `after`}. */
int job_send_status(struct sluice_job_s *j, rconn_reply_cb cb, const char *after);
/* One of queue.c's scripts on the command connection, holding a reference. */
int job_send_script(struct sluice_job_s *j, int which, rconn_reply_cb cb, int nkeys, int argc,
                    const char **argv, const size_t *lens);
int job_parse_status(const redisReply *r, int64_t *total, uint64_t v[4]);
/* A status reply seen by anyone in this process (the worker, or the writer): is the job over
   for this worker? Then its source ends. */
void job_status_seen(struct sluice_job_s *j, int64_t total, const uint64_t v[4]);

/* Redis is back: the feeder and the writer go on (job_feed.c, job_out.c). */
void job_feed_kick(struct sluice_job_s *j);
void job_out_kick(struct sluice_job_s *j);

#endif
