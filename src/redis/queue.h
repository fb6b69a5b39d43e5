#ifndef SLUICE_REDIS_JOB_H
#define SLUICE_REDIS_JOB_H

/*
 * The job queue of the distributed mode (docs/DESIGN.md "Distributed mode") on a Redis
 * stream with one consumer group. Synchronous hiredis calls: the building block that the
 * libuv-driven source and the feeder use.
 *
 * Keys, for a job NAME. The braces are a Redis Cluster hash tag: the commit script touches
 * several of a job's keys in one call, and a script may only touch keys of one slot.
 *   sluice:job:{NAME}:in       input stream. Entry ID "<line>-1", fields id=custom_id, req=the
 *                              raw input line. Consumer group REDIS_JOB_GROUP.
 *   sluice:job:{NAME}:done     set of committed custom_ids (a lost entry, whose custom_id is
 *                              gone, is marked "\0line:<n>": a NUL cannot be in a custom_id)
 *   sluice:job:{NAME}:out      results stream (IDs from Redis's clock), one entry per commit
 *                              call with fields line=<n>, r=the result line repeated for each
 *                              new result; read and trimmed by the OUTPUT writer
 *   sluice:job:{NAME}:lost     set of input entry IDs that vanished while pending (reported
 *                              by XAUTOCLAIM); each waits there until a result is committed
 *   sluice:job:{NAME}:meta     hash: the job's settings (written by whoever creates the job)
 *                              and the counter "failed"
 *   sluice:job:{NAME}:workers  hash consumer -> "<Redis ms>|<info json>" (heartbeats)
 *
 * Every function returns 0 (or a count) or a negative SLUICE_E* code: SLUICE_EINVAL for a bad
 * argument, SLUICE_ENOMEM, SLUICE_EIO when Redis answered with an error or did not answer. After
 * SLUICE_EIO, c->err != 0 means the connection is gone and the outcome of a write is unknown
 * (repeat a commit: it is idempotent); c->err == 0 means Redis refused the command.
 */
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define REDIS_JOB_GROUP "sluice"
/* Room for a stream ID "<ms>-<seq>" (two 20-digit numbers) and its NUL. */
#define REDIS_JOB_ID_LEN 48
/* The longest job name; names may not hold braces (the hash tag), spaces or control bytes. */
#define REDIS_JOB_NAME_MAX 128

/* One input entry handed to a worker. */
struct redis_job_entry {
    char id[REDIS_JOB_ID_LEN]; /* stream ID, "<line>-1" */
    uint64_t line;             /* input line number, from the ID */
    char *custom_id;           /* NUL-terminated; NULL when lost */
    char *request;             /* the raw input line, NUL-terminated; NULL when lost */
    size_t request_len;
    int64_t deliveries; /* times this entry was delivered, this time included */
    int lost;           /* the entry vanished from the stream: commit a failed result for it */
    const char *bad;    /* the feeder rejected the line for this reason (custom_id is "") */
};

/* Frees what redis_job_read() / redis_job_claim() handed out (NULL is fine). */
void redis_job_entries_free(struct redis_job_entry *e, size_t n);

/* Writes the key "sluice:job:{job}:<suffix>" into buf; -1 if the name is invalid or too long. */
int redis_job_key(char *buf, size_t size, const char *job, const char *suffix);

/* ---- feeding ---- */

/* Creates the consumer group (and the stream). Idempotent: an existing group is fine. */
int redis_job_create(redisContext *c, const char *job);

/*
 * Adds input line `line` (>= 1) as entry "<line>-1". Returns 1 when added, 0 when an entry at
 * or after that line is already in the stream: Redis refuses an ID at or below the stream's
 * last one, so feeding the same file again, in order, adds nothing twice.
 */
int redis_job_feed(redisContext *c, const char *job, uint64_t line, const char *custom_id,
                   const char *request_json, size_t len);

/* One line for redis_job_feed_batch(). */
struct redis_job_line {
    uint64_t line;
    const char *custom_id;
    const char *request;
    size_t request_len;
    const char *bad; /* non-NULL: the line was rejected for this reason (custom_id unused) */
};

/*
 * Feeds `n` lines (in increasing line order) with one script call, so that feeding costs one
 * Redis command per batch rather than per line. Returns how many were added (lines at or below
 * the stream's last ID are skipped, as in redis_job_feed()).
 */
int redis_job_feed_batch(redisContext *c, const char *job, const struct redis_job_line *lines,
                         size_t n);

/* The last line fed (0 if none): a restarted feeder may skip input up to it without asking. */
int redis_job_last_fed(redisContext *c, const char *job, uint64_t *line);

/*
 * Entries fed but not yet delivered to any worker: XLEN minus the group's pending count. The
 * commit deletes each entry it acknowledges, so XLEN is exactly waiting + pending. (XINFO
 * GROUPS "lag" is not used: Redis 7.0 reports it as nil once entries were deleted above the
 * oldest pending one, which is the normal state of this stream.) *in_stream gets XLEN (what
 * the stream holds in memory) when not NULL. Two commands in one round trip, not atomic: an
 * estimate, good for pacing the feeder.
 */
int redis_job_backlog(redisContext *c, const char *job, uint64_t *waiting, uint64_t *in_stream);

/* ---- working ---- */

/*
 * Reads up to `count` new entries for `consumer` (XREADGROUP ">"), waiting up to `block_ms`
 * for the first (< 0: do not wait). Hands over *out (free with redis_job_entries_free()) and
 * *n, which is 0 when nothing came. Each entry's deliveries is 1.
 */
int redis_job_read(redisContext *c, const char *job, const char *consumer, int count, int block_ms,
                   struct redis_job_entry **out, size_t *n);

/*
 * Takes over entries pending longer than `min_idle_ms` with another consumer (a worker that
 * died), scanning from `cursor` (in/out, "0-0" to start; back to "0-0" after a full pass).
 * Each taken entry carries its delivery count (from XPENDING, after XAUTOCLAIM counted this
 * delivery), so the caller turns an entry with deliveries > --max-deliveries into a failed
 * result instead of sending it again.
 *
 * Entries that vanished from the stream while pending (XAUTOCLAIM in Redis 7 drops them from
 * the pending list and returns their IDs) are recorded in the job's :lost set by the same
 * script, so a crash now cannot lose them, and are returned with lost = 1 (no custom_id, no
 * request) together with up to `count` older ones from that set. The caller commits a failed
 * result for each (custom_id NULL); until then every claim reports them again, which is
 * harmless because the commit is idempotent.
 */
int redis_job_claim(redisContext *c, const char *job, const char *consumer, int64_t min_idle_ms,
                    int count, char cursor[REDIS_JOB_ID_LEN], struct redis_job_entry **out,
                    size_t *n);

/* One result to commit. */
struct redis_job_commit {
    const char *custom_id; /* NULL for a lost entry: it is marked done by its line */
    const char *entry_id;  /* the input entry's stream ID "<line>-1" (one never fed is fine) */
    const char *result;    /* the result line (JSON, no newline) */
    size_t result_len;
    int failed; /* the result line's error is not null: bumps meta "failed" */
    int lost;   /* the entry was reported lost (a claim put it in :lost): takes it out */
};

/*
 * Commits results with one script (EVALSHA, EVAL when the server lost its script cache), each
 * atomically: when the custom_id is not yet in :done, adds it, appends the result to :out and
 * (failed) bumps meta "failed"; in every case acknowledges the input entry and deletes it from
 * :in. XACK alone would leave the entry in the stream: deleting it keeps Redis memory bounded
 * by the backlog rather than by the job. Committing the same id again changes nothing, so a
 * worker repeats a commit whose reply it did not get. new_flags[i] (may be NULL) gets 1 when
 * result i was new. Returns how many were new.
 */
int redis_job_commit(redisContext *c, const char *job, const struct redis_job_commit *r, size_t n,
                     int *new_flags);

/* Records a heartbeat: workers[consumer] = "<Redis TIME in ms>|<info_json>". */
int redis_job_heartbeat(redisContext *c, const char *job, const char *consumer,
                        const char *info_json);

/* ---- the OUTPUT writer ---- */

struct redis_job_result {
    char id[REDIS_JOB_ID_LEN]; /* its ID in :out */
    uint64_t line;             /* input line number */
    char *result;              /* NUL-terminated result line */
    size_t result_len;
};

/*
 * Reads the results of up to `count` entries (commits) after `after_id` (exclusive; NULL or "0-0"
 * from the start). Hands over *out (free with redis_job_results_free()) and *n.
 */
int redis_job_results(redisContext *c, const char *job, const char *after_id, int count,
                      struct redis_job_result **out, size_t *n);
void redis_job_results_free(struct redis_job_result *r, size_t n);

/*
 * Removes results up to and including `upto_id` from :out, once they are written. Touches
 * only :out: input entries are deleted by their commit and never trimmed.
 */
int redis_job_trim_results(redisContext *c, const char *job, const char *upto_id);

/* ---- status ---- */

struct redis_job_worker {
    char *consumer;
    int64_t heartbeat_ms; /* Redis TIME of its last heartbeat */
    char *info;
};

struct redis_job_status {
    uint64_t fed;     /* entries ever added to :in (XINFO STREAM entries-added) */
    uint64_t waiting; /* fed, not yet delivered */
    uint64_t pending; /* delivered, not yet committed */
    uint64_t done;    /* committed results (failed ones included) */
    uint64_t failed;  /* committed results whose error is not null */
    uint64_t lost;    /* entries lost from the stream, waiting for their failed result */
    int64_t now_ms;   /* Redis TIME, to age heartbeats without trusting the local clock */
    struct redis_job_worker *workers;
    size_t n_workers;
};

/* Fills *st (free with redis_job_status_free()); a job that does not exist reads as zeros. */
int redis_job_status(redisContext *c, const char *job, struct redis_job_status *st);
void redis_job_status_free(struct redis_job_status *st);

/* ---- the pieces, for the asynchronous callers (src/redis/job.c) ---- */

/* Arguments of a script call: keys then arguments, pointing into text (owned). */
struct redis_job_args {
    int argc, nkeys;
    const char **argv;
    size_t *argvlen;
    char *text;
};
void redis_job_args_free(struct redis_job_args *a);

/* The commit script's keys and arguments for `n` results (which must outlive *out). */
int redis_job_commit_args(const char *job, const struct redis_job_commit *res, size_t n,
                          struct redis_job_args *out);
/* The feed script's keys and arguments. */
int redis_job_feed_args(const char *job, const struct redis_job_line *lines, size_t n,
                        struct redis_job_args *out);
/* Parses the commit script's reply: how many were new, or SLUICE_EIO. */
int redis_job_parse_commit(const redisReply *r, size_t n, int *new_flags);
/* Parses an XREADGROUP reply (nil included). */
int redis_job_parse_read(const redisReply *r, struct redis_job_entry **out, size_t *n);
/* Parses the claim script's reply and advances cursor. */
int redis_job_parse_claim(const redisReply *r, char cursor[REDIS_JOB_ID_LEN],
                          struct redis_job_entry **out, size_t *n);
/* Parses an XRANGE reply of the results stream. */
int redis_job_parse_results(const redisReply *r, struct redis_job_result **out, size_t *n);

enum {
    REDIS_JOB_SCRIPT_COMMIT = 0,
    REDIS_JOB_SCRIPT_CLAIM,
    REDIS_JOB_SCRIPT_FEED,
    REDIS_JOB_SCRIPT_HEARTBEAT,
    REDIS_JOB_SCRIPT_TRIM
};

/* The body of script `which` (0..3) and its compiled-in SHA-1 in *sha, NULL past the last: for
   the unit test that checks each SHA-1 against SCRIPT LOAD. */
const char *redis_job_script_body(int which, const char **sha);

#endif
