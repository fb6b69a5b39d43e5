/*
 * libsluice: run very large batches of JSON-over-HTTP API calls in parallel, as fast as the
 * provider's rate limits allow, and lose nothing.
 *
 * The whole contract is this header. Conventions follow libuv: every public name is
 * `sluice_`, handles are opaque, functions return 0 or a negative SLUICE_E* code that
 * sluice_strerror() turns into words. The library never prints: it reports through return
 * codes, result callbacks and stats snapshots, and the caller talks to people.
 *
 * Data flows one way (docs/DESIGN.md "Architecture"):
 *
 *     source --> scheduler --> transport --> classifier --> result callback (sink)
 *
 * Work comes in by pull: the engine asks the source for the next request only when a slot
 * and the budget allow, so memory stays bounded whatever the size of the input. Work goes out
 * by callback: exactly once per request pulled, with its final outcome.
 *
 * One engine runs on one libuv loop, on one thread. No function here is thread-safe.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "sluice_version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ---- */

/*
 * The error codes, their names and their words, from one list (as libuv's UV_ERRNO_MAP):
 * XX(name, code, words). Functions return 0 (SLUICE_OK) or one of these, all negative.
 */
#define SLUICE_ERRNO_MAP(XX)                                                                       \
    XX(ENOMEM, -1, "out of memory")                                                                \
    XX(EINVAL, -2, "invalid argument")                                                             \
    XX(EIO, -3, "input/output error")                                                              \
    XX(ECURL, -4, "libcurl could not be set up")                                                   \
    XX(EUV, -5, "libuv could not be set up")                                                       \
    XX(ESTOPPED, -6, "stopped before the end; work is left to resume")                             \
    XX(EOF, -7, "end of input")                                                                    \
    XX(EAGAIN, -8, "no request ready yet")                                                         \
    XX(ENOSPC, -9, "no space left on the output device")                                           \
    XX(EPARSE, -10, "malformed input")

/* EIO: errno has the details. ESTOPPED: sluice_stop() was called, work is left (the results
   written so far say which). EOF: a source has no more requests, ever. EAGAIN: a source has
   none now, and calls sluice_source_ready() when it has. */
typedef enum {
    SLUICE_OK = 0,
#define SLUICE_XX(name, code, words) SLUICE_##name = code,
    SLUICE_ERRNO_MAP(SLUICE_XX)
#undef SLUICE_XX
} sluice_errno_t;

/* Words for an SLUICE_E* code; never NULL. */
const char *sluice_strerror(int err);

/* The code's name without its prefix ("EINVAL"), "OK" for 0, "UNKNOWN" else; never NULL. */
const char *sluice_err_name(int err);

/* The library's version, "MAJOR.MINOR.PATCH" (of the library linked, which may be newer than
   the SLUICE_VERSION_* of the header compiled against). */
const char *sluice_version(void);

/* ---- requests and results ---- */

/*
 * One request, as a source hands it to the engine. The source owns the memory; the engine
 * gives it back through sluice_source_t.release once the result callback has returned.
 */
typedef struct sluice_request_s {
    const char *custom_id; /* NUL-terminated; unique within a job */
    const char *method;    /* "POST", "GET", ... */
    const char *url;       /* a path joined to the base URL (docs/DESIGN.md "Where a request
                              goes"), or an absolute http(s) URL on the base URL's origin */
    const char *body;      /* request body, raw JSON text as read (not re-serialised) */
    size_t body_len;
    const char *metadata; /* raw JSON text copied to the result line, or NULL */
    size_t metadata_len;
    uint64_t line;              /* 1-based input line number, 0 when there is none */
    const char *invalid;        /* non-NULL: the line was rejected for this reason; never sent */
    uint64_t est_tokens;        /* the source's estimate of the tokens this request will cost */
    uint64_t est_prompt_tokens; /* of which prompt (input) tokens; the rest is the most output */
    const char *model;          /* the body's "model" string, or NULL (for price tables) */
    void *user;                 /* the source's own */
} sluice_request_t;

/* A source of requests, pulled by the engine. */
typedef struct sluice_source_s {
    /*
     * Hands over the next request in *out and returns 0; or returns SLUICE_EOF when there will
     * be no more, SLUICE_EAGAIN when none is ready now (the source then calls
     * sluice_source_ready() when one is), or another negative code to stop the run.
     */
    int (*next)(void *ud, sluice_request_t **out);
    /* Takes back a request handed out by next(). */
    void (*release)(void *ud, sluice_request_t *req);
    void *ud;
} sluice_source_t;

/*
 * The final outcome of one request, passed to the result callback exactly once. Everything it
 * points to is valid only during the callback.
 */
typedef struct sluice_result_s {
    const sluice_request_t *req;
    int status_code;        /* HTTP status of the last answer, 0 if there was none */
    const char *request_id; /* x-request-id (or request-id) of the last answer, or NULL */
    const char *body;       /* body of the last answer, or NULL */
    size_t body_len;
    int body_is_json;       /* body parses as one JSON value and can be written as-is */
    const char *error_code; /* NULL on success, else e.g. "invalid_request", "http_400" */
    const char *error_message;
    int attempts;       /* attempts sent, 0 for a request that was never sent */
    double latency_ms;  /* of the last attempt */
    uint64_t tokens_in; /* usage reported by the provider, 0 if none */
    uint64_t tokens_out;
} sluice_result_t;

/*
 * Called once per request. Return 0, or a negative code to stop the run (a full disk): the
 * engine then stops dispatching and sluice_run() returns that code.
 */
typedef int (*sluice_result_cb)(const sluice_result_t *res, void *ud);

/* ---- configuration ---- */

typedef enum sluice_provider_e {
    SLUICE_PROVIDER_OPENAI = 0, /* Authorization: Bearer; x-ratelimit-* headers */
    SLUICE_PROVIDER_AZURE,      /* api-key header; x-ratelimit-* headers */
    SLUICE_PROVIDER_ANTHROPIC,  /* x-api-key + anthropic-version; anthropic-ratelimit-* */
    SLUICE_PROVIDER_NONE,       /* no auth header */
    SLUICE_PROVIDER_GEMINI      /* Gemini's OpenAI-compatible endpoint: Authorization: Bearer */
} sluice_provider_t;

/* Parses "openai", "azure", "anthropic", "gemini", "none"; returns 0 or SLUICE_EINVAL. */
int sluice_provider_parse(const char *name, sluice_provider_t *out);

typedef struct sluice_config_s {
    const char *base_url; /* "https://api.openai.com"; with a path ("https://api.openai.com/v1"),
                             the requests' leading "/v1" is dropped, as the SDKs do; copied */
    sluice_provider_t provider;
    const char *api_key;        /* copied; never printed, logged or written */
    const char *const *headers; /* extra "Name: value" lines; copied */
    size_t n_headers;
    int concurrency;          /* most requests in flight (default 64) */
    int concurrency_auto;     /* 1: adapt the limit (AIMD on overload + latency gradient),
                                 starting at 16, never above `concurrency` */
    double rpm;               /* requests per minute; 0: learn from the provider */
    double tpm;               /* tokens per minute; 0: learn from the provider */
    double burst_s;           /* burst allowed by the budgets, in seconds of budget (0: none) */
    int max_attempts;         /* attempts before a request is final (default 8) */
    double timeout_s;         /* per attempt (default 600) */
    double connect_timeout_s; /* (default 10) */
    double backoff_base_s;    /* exponential backoff with full jitter (default 1) */
    double backoff_cap_s;     /* (default 60) */
    double give_up_after_s;   /* provider down (breaker open) this long: stop (default 900) */
    double connect_grace_s;   /* nothing has answered yet and the host does not resolve or
                                 refuses connections this long: the base URL is wrong, stop
                                 (default 10; 0: never) */
    double max_retry_after_s; /* a retry hint longer than this means a quota: stop (600) */
    const char *cacert;       /* CA bundle path, or NULL for the system's */
    int insecure;             /* 1: do not verify TLS certificates */
    uint64_t seed;            /* PRNG seed for jitter; 0 picks one from the clock */
    int http_fastpath;        /* 1 (default): plain http:// URLs that no proxy applies to go
                                 through sluice's own HTTP/1.1 client, not libcurl (whose cost
                                 per request is several times that of the rest); 0: libcurl
                                 for everything */

    /* An answer larger than this, or whose body takes more than this in a result line (a text
       body's escapes), fails its request for good as "response_too_large" (default 64 MiB). */
    size_t max_response_bytes;
} sluice_config_t;

/* Fills *cfg with the defaults above. */
void sluice_config_init(sluice_config_t *cfg);

/* ---- the engine ---- */

typedef struct sluice_s sluice_t;

/*
 * Creates an engine on `loop`, or on a loop of its own when `loop` is NULL. The config is
 * copied. Returns 0 and *out, or a negative code.
 */
int sluice_new(sluice_t **out, const sluice_config_t *cfg, uv_loop_t *loop);

/* The source to pull from and where results go. Both are required before sluice_run(). */
int sluice_set_source(sluice_t *s, const sluice_source_t *src);
int sluice_set_result_cb(sluice_t *s, sluice_result_cb cb, void *ud);

/* One attempt that ended, for logs and metrics (--log, --metrics). Valid during the callback. */
typedef struct sluice_attempt_s {
    const sluice_request_t *req;
    int attempt;            /* 1 for the first */
    int status_code;        /* 0 when there was no answer */
    const char *outcome;    /* the classifier's class: "success", "retry", "rate_limited", ... */
    const char *error_code; /* NULL on success */
    double latency_ms;      /* on the wire */
    double wait_ms;         /* what the scheduler waits before the next attempt, 0 if none */
} sluice_attempt_t;

typedef void (*sluice_attempt_cb)(const sluice_attempt_t *a, void *ud);

/* Optional: called once per attempt that ended (not for cancelled ones). */
int sluice_set_attempt_cb(sluice_t *s, sluice_attempt_cb cb, void *ud);

/*
 * Optional: called just before a request's first attempt is sent. Return 0 to send it, or
 * nonzero to stop the run instead (SLUICE_STOPPED_BUDGET): the request and the rest are left
 * for --resume. --max-cost uses it to stop before the budget would be exceeded.
 */
typedef int (*sluice_admit_cb)(const sluice_request_t *req, void *ud);
int sluice_set_admit_cb(sluice_t *s, sluice_admit_cb cb, void *ud);

/* A source that answered SLUICE_EAGAIN has requests again. */
void sluice_source_ready(sluice_t *s);

/*
 * Optional, for a result callback that writes lines later than it is called (in batches):
 * with `on`, a result handed to the callback keeps its slot until the caller reports it
 * written with sluice_results_written(), so requests sent plus results not yet written stay
 * within the concurrency, and a kill -9 makes at most that many be sent again on --resume.
 * A result of a request never sent (attempts == 0: an invalid line) holds no slot, but is
 * counted by sluice_results_written() all the same: n is the number of results handed over
 * that were written next, in the order they were handed over. Every result handed over must be
 * reported, or the run stalls.
 */
void sluice_hold_until_written(sluice_t *s, int on);
void sluice_results_written(sluice_t *s, size_t n);

/*
 * Runs the loop until every request of the source has its result (0), or the run was stopped
 * (SLUICE_ESTOPPED), or a result callback failed (its code).
 */
int sluice_run(sluice_t *s);

typedef enum sluice_stop_e {
    SLUICE_STOP_DRAIN = 0, /* send nothing more; let requests in flight finish */
    SLUICE_STOP_ABANDON    /* cancel requests in flight too; they get no result */
} sluice_stop_t;

/* Safe to call from a callback on the engine's loop (a signal watcher, a result callback). */
void sluice_stop(sluice_t *s, sluice_stop_t how);

/* Why a run stopped before its source was done. */
typedef enum sluice_stopped_e {
    SLUICE_STOPPED_NONE = 0,   /* it did not stop early */
    SLUICE_STOPPED_USER,       /* sluice_stop() */
    SLUICE_STOPPED_AUTH,       /* 401/403: every request would fail the same way */
    SLUICE_STOPPED_QUOTA,      /* quota exhausted: retrying cannot help */
    SLUICE_STOPPED_SINK,       /* a result callback failed (full disk) */
    SLUICE_STOPPED_SOURCE,     /* the source failed */
    SLUICE_STOPPED_TLS,        /* the server's TLS certificate could not be verified */
    SLUICE_STOPPED_BUDGET,     /* the admit callback refused a request (--max-cost) */
    SLUICE_STOPPED_DOWN,       /* the provider stayed down past give_up_after_s */
    SLUICE_STOPPED_UNREACHABLE /* nothing answered: the host did not resolve or refused
                                  connections for connect_grace_s (a wrong base URL) */
} sluice_stopped_t;

/*
 * Why the run stopped early, and for AUTH/QUOTA a one-line account of the answer that caused it
 * (status and the provider's message, never the key), for TLS/UNREACHABLE the transport's
 * words. `detail` may be NULL.
 */
sluice_stopped_t sluice_stopped(const sluice_t *s, const char **detail);

/* A snapshot for status lines, summaries and metrics. Stats observe; they never steer. */
typedef struct sluice_stats_s {
    uint64_t pulled;               /* requests taken from the source */
    uint64_t succeeded;            /* results written as successes */
    uint64_t failed;               /* results written as failures (including invalid lines) */
    uint64_t invalid;              /* of which: input lines rejected before sending */
    uint64_t attempts;             /* HTTP attempts sent */
    uint64_t retries;              /* attempts beyond each request's first */
    uint64_t rate_limited;         /* 429 answers */
    uint64_t in_flight;            /* attempts on the wire now */
    uint64_t est_tokens_in_flight; /* estimated tokens of the attempts on the wire */
    uint64_t waiting;              /* requests waiting for a retry time */
    int concurrency;               /* current slot limit */
    double rpm_limit;              /* request budget paced to, per minute; 0 = none */
    double tpm_limit;              /* token budget paced to, per minute; 0 = none */
    const char *rate_source;       /* "none", "told" (--rpm/--tpm), "headers", "learned" */
    uint64_t breaker_trips;        /* times the circuit breaker opened (outages) */
    int breaker_open;              /* 1 while it is open or probing */
    double wall_s;                 /* since sluice_run() began */
    uint64_t tokens_in;            /* usage reported by the provider */
    uint64_t tokens_out;
    double latency_p50_ms; /* of every attempt that ended, answered or not (within ~5%): a
                              timeout counts the time it waited */
    double latency_p90_ms;
    double latency_p99_ms;
    double latency_max_ms;
    char last_error[256]; /* the transport's words for the last attempt that got no answer
                             (no resolve, refused, reset, timeout), or "" */
    double last_error_s;  /* when it ended, in wall_s */
} sluice_stats_t;

void sluice_stats(const sluice_t *s, sluice_stats_t *out);

uv_loop_t *sluice_loop(sluice_t *s);

/*
 * The rate limiter the engine paces with. Each engine starts with a local one (GCRA on the
 * config's rpm/tpm); a shared one (sluice_redis_limiter_new) replaces it before sluice_run().
 * The engine takes ownership, also on error. Returns 0 or SLUICE_EINVAL (already running).
 */
typedef struct sluice_limiter_s sluice_limiter_t;
int sluice_set_limiter(sluice_t *s, sluice_limiter_t *lim);

/* Frees the engine and everything it holds. Requests still held are released to the source. */
void sluice_free(sluice_t *s);

/* ---- distributed mode: one budget and one job shared through Redis ---- */

/*
 * A Redis server reached from `loop` (docs/DESIGN.md "Distributed mode"):
 * "redis://[[user]:password@] host[:port][/db]" or "unix:///path[?db=n]"; a password missing from
 * the URL comes from SLUICE_REDIS_PASSWORD. Connects in the background and reconnects with backoff
 * for as long as it is open. Returns 0, or SLUICE_EINVAL with a reason in err for a bad URL.
 */
typedef struct sluice_redis_s sluice_redis_t;
int sluice_redis_open(sluice_redis_t **out, uv_loop_t *loop, const char *url, char *err,
                      size_t errlen);
/* 1 while connected. */
int sluice_redis_up(const sluice_redis_t *r);
/* Seconds Redis has been unreachable (0 while up). */
double sluice_redis_down_s(const sluice_redis_t *r);
/* The URL for messages, its password shown as "***" ("redis://:***@host:6379/0"). */
void sluice_redis_describe(const sluice_redis_t *r, char *buf, size_t size);
/* Close after everything that uses it is freed; run the loop to finish closing. */
void sluice_redis_close(sluice_redis_t *r);

/*
 * The shared limiter: GCRA on requests and tokens kept in Redis under `key` (any string; the
 * processes that name the same key share one budget) and evaluated on Redis's clock. rpm/tpm
 * (0 = unlimited, < 0 = keep what is shared) and burst_s (< 0: keep; a new budget has none:
 * one request per interval) set the shared budget. While Redis is unreachable it admits
 * nothing.
 */
int sluice_redis_limiter_new(sluice_limiter_t **out, sluice_redis_t *r, const char *key, double rpm,
                             double tpm, double burst_s);

/*
 * A job in Redis: its input stream (one entry per input line, ID = line number), one consumer
 * group, the set of ids with a committed result, and the results stream. One sluice_job_t per
 * process serves any of three roles, each optional: worker (a source for the engine plus
 * commits from the result callback), feeder (puts INPUT's lines in, keeping a bounded backlog)
 * and writer (hands the committed results over for OUTPUT, trimming what was written).
 */
typedef struct sluice_job_s sluice_job_t;
typedef struct sluice_jsonl_source_s sluice_jsonl_source_t;

typedef struct sluice_job_config_s {
    const char *name;        /* 1-128 bytes, no spaces, braces or control characters */
    const char *consumer;    /* this process in the group; NULL: "<host>-<pid>" */
    int batch;               /* entries read per round trip (default 64) */
    double claim_idle_s;     /* take over entries idle this long with another worker (60) */
    int max_deliveries;      /* an entry delivered more often fails instead (default 5) */
    int follow;              /* 1: the source waits for more when the job is done */
    const char *request_url; /* every request's url (--url), over the lines' own; NULL: theirs */
    double heartbeat_s;      /* (default 1) */
    int recover;             /* 1: first take back what this consumer (a fixed name) left
                                pending when it died, before reading new entries */
} sluice_job_config_t;

void sluice_job_config_init(sluice_job_config_t *c);
int sluice_job_open(sluice_job_t **out, sluice_redis_t *r, const sluice_job_config_t *c);

/* Worker: fills *src with a source that pulls the job's entries for `eng` (which it tells with
   sluice_source_ready when entries arrive). EOF once every line fed has a result. Turns on
   sluice_hold_until_written(eng): a result is written when Redis acknowledges its commit, so
   requests on the wire plus results not yet committed stay within the concurrency (what a
   kill -9 makes be sent again). */
int sluice_job_source(sluice_job_t *j, sluice_t *eng, sluice_source_t *src);
/* Worker, from the result callback: commits the result line (no newline) of res, a request of
   this job's source. Held in memory until Redis acknowledges it; repeated after a lost reply
   (the commit is idempotent). Returns 0 or SLUICE_ENOMEM. */
int sluice_job_commit(sluice_job_t *j, const sluice_result_t *res, const char *line, size_t len);
/* Worker: results not yet acknowledged by Redis. */
size_t sluice_job_uncommitted(const sluice_job_t *j);
/* Seconds Redis has been refusing the commits (error replies) since the last that went
   through; 0 when it is not. *why (may be NULL) gets Redis's last refusal. */
double sluice_job_commit_failing_s(sluice_job_t *j, const char **why);

/* Feeder: called for each line rejected while feeding (for file:line messages). */
typedef void (*sluice_job_reject_cb)(void *ud, uint64_t line, const char *reason);
/* Feeder: feeds `input`'s lines in the background, at most `backlog` entries waiting. Lines
   already in the stream (a restart) are skipped. When the input ends, the job's total is
   recorded. `input` must stay open until sluice_job_feed_done(). */
int sluice_job_feed(sluice_job_t *j, sluice_jsonl_source_t *input, uint64_t backlog,
                    sluice_job_reject_cb reject, void *ud);
/* 1 when the whole input is in the job, 0 while feeding, a negative code if feeding failed. */
int sluice_job_feed_done(const sluice_job_t *j);
/* Why feeding failed: Redis's error ("OOM command not allowed ..."), or that INPUT could not be
   read; "" while it has not failed. */
const char *sluice_job_feed_error(const sluice_job_t *j);

/* Writer: write(ud, line, len) gets each committed result line (no newline) once; sync(ud)
   makes what was written durable before it is trimmed from Redis. A nonzero return stops the
   writer (its error in sluice_job_output_done). */
typedef int (*sluice_job_write_cb)(void *ud, const char *line, size_t len);
typedef int (*sluice_job_sync_cb)(void *ud);
int sluice_job_output(sluice_job_t *j, sluice_job_write_cb write, sluice_job_sync_cb sync,
                      void *ud);
/* 1 when every line of the job has its result written (and trimmed), 0 before, or the write
   callback's code. */
int sluice_job_output_done(const sluice_job_t *j);

/* What `sluice job status` shows. */
typedef struct sluice_job_status_s {
    int exists;
    int64_t total;    /* lines in the job, -1 while still feeding */
    uint64_t fed;     /* entries ever added */
    uint64_t waiting; /* fed, not yet delivered to a worker */
    uint64_t pending; /* delivered, no result yet */
    uint64_t done;    /* results committed (failed ones included) */
    uint64_t failed;
    uint64_t unwritten; /* results committed, not yet written to OUTPUT */
    size_t n_workers;
    struct {
        char consumer[128];
        double age_s;   /* since its last heartbeat (Redis's clock) */
        char info[256]; /* its own JSON: rate, done, in flight */
    } workers[32];
} sluice_job_status_t;

/* Blocking calls for the command line, before or without a run: each returns 0 or a negative
   code (SLUICE_EIO with a reason in err when Redis could not be reached). */
int sluice_job_status(sluice_redis_t *r, const char *name, sluice_job_status_t *st, char *err,
                      size_t errlen);
/* Names of the jobs in this Redis database (free each and the array). */
int sluice_job_list(sluice_redis_t *r, char ***names, size_t *n, char *err, size_t errlen);
/* Deletes every key of the job. */
int sluice_job_delete(sluice_redis_t *r, const char *name, char *err, size_t errlen);
/*
 * The job's settings (request options every worker must share). When the job has none yet and
 * `create` is set, stores keys/vals and sets *created; without `create` that is SLUICE_EOF (no
 * such job). Otherwise reads them back into *got_vals (same order, NULL for a key not stored;
 * free each and the array).
 */
int sluice_job_settings(sluice_redis_t *r, const char *name, const char *const *keys,
                        const char *const *vals, size_t n, int create, int *created,
                        char ***got_vals, char *err, size_t errlen);

/* Heartbeat text (a small JSON object) shown by `sluice job status`. Copied. */
void sluice_job_set_info(sluice_job_t *j, const char *json);
/* Sends the heartbeat now rather than at the next tick (a worker's last word before it exits,
   so that status does not show what it had in flight a second before). Returns 0 when sent, 1
   when one is already on its way (ask again once it is answered), SLUICE_EIO when Redis is not
   reachable. */
int sluice_job_beat(sluice_job_t *j);
/* 1 while a heartbeat is on its way (sent, not yet answered). */
int sluice_job_beating(const sluice_job_t *j);
/* The consumer name in use. */
const char *sluice_job_consumer(const sluice_job_t *j);
/* Closes (after the engine is freed); results not yet committed are dropped: check
   sluice_job_uncommitted() first. */
void sluice_job_close(sluice_job_t *j);

/* ---- the JSONL source (docs/DESIGN.md "File formats") ---- */

/*
 * Opens `path` ("-" for stdin) as a lazy JSONL source. `url` (--url) is every request's url,
 * over the lines' own, and that of bare-body lines; NULL: each line's own url, and bare lines
 * are invalid. Lines up to 64 MiB; CRLF accepted; blank lines skipped. `skip(ud, custom_id)`
 * may be NULL; when it returns nonzero the line is not handed out (--resume uses it for ids
 * already done). Returns 0 and *out, or SLUICE_EIO (errno set). Input that starts with gzip's
 * magic bytes (1f 8b), whatever its name, is read through zlib: lines and their numbers are
 * those of the text inside.
 */
int sluice_jsonl_source_open(sluice_jsonl_source_t **out, const char *path, const char *url,
                             int (*skip)(void *ud, const char *custom_id), void *skip_ud);
/* Fills *src with the functions that pull from this reader. */
void sluice_jsonl_source_bind(sluice_jsonl_source_t *js, sluice_source_t *src);
/* The input's name as given, for file:line messages. */
const char *sluice_jsonl_source_name(const sluice_jsonl_source_t *js);
/* 0, SLUICE_EIO when reading failed (errno was saved), or SLUICE_EPARSE when gzip input turned
   out corrupt or cut short (errno EBADMSG; sluice_jsonl_source_gzip() says what). The lines
   before that point were handed out; nothing after it was. */
int sluice_jsonl_source_error(const sluice_jsonl_source_t *js);
/* 1 when the input is gzip-compressed (known once its first bytes have been read), else 0.
   *why (may be NULL) gets zlib's words for what is wrong with it ("unexpected end of file" when
   it was cut short), or NULL. */
int sluice_jsonl_source_gzip(const sluice_jsonl_source_t *js, const char **why);
/*
 * gzip checks its data only at the end of each member: until then corrupt data inflates to
 * wrong text, which would be sent. For gzip input in a regular file, this reads it through once
 * (from its read position, which stays where it was) and returns SLUICE_EPARSE when it is
 * corrupt or cut short (sluice_jsonl_source_gzip() says what), SLUICE_EIO (errno set) or
 * SLUICE_ENOMEM; 0 for a whole gzip file, plain input, or a pipe (which cannot be read twice:
 * next() finds its corruption at the end of a member, and stops there). Call it before next().
 */
int sluice_jsonl_source_verify(sluice_jsonl_source_t *js);
/*
 * Reads a pipe or terminal (stdin from a producer) on the engine's loop instead of with
 * blocking reads in next(): while no whole line has come, next() answers SLUICE_EAGAIN and
 * the engine goes on (answers, timers, the status line), and is told when one has. A regular
 * file or a device is read as before. Detach before sluice_free(): its handle is on the loop.
 * Returns 0, SLUICE_EINVAL or SLUICE_EUV.
 */
int sluice_jsonl_source_attach(sluice_jsonl_source_t *js, sluice_t *eng);
void sluice_jsonl_source_detach(sluice_jsonl_source_t *js);
void sluice_jsonl_source_close(sluice_jsonl_source_t *js);

/* ---- the JSONL sink ---- */

typedef struct sluice_jsonl_sink_s sluice_jsonl_sink_t;

/*
 * Opens `path` ("-" for stdout) for results, truncating it, or appending when `append` is set.
 * Each result is one line written with one write(2) on an O_APPEND descriptor.
 */
int sluice_jsonl_sink_open(sluice_jsonl_sink_t **out, const char *path, int append);
/* Writes one result line. Returns 0, SLUICE_ENOSPC or SLUICE_EIO. */
int sluice_jsonl_sink_write(sluice_jsonl_sink_t *sk, const sluice_result_t *res);
/*
 * Formats one result line (ending in '\n') without writing it, for callers that write later
 * (--ordered). *line points into the sink's buffer and is valid until the next call.
 */
int sluice_jsonl_sink_format(sluice_jsonl_sink_t *sk, const sluice_result_t *res, const char **line,
                             size_t *len);
/* Writes formatted lines (one, or several whole ones) with one write(2); on a failure a
   regular file is cut back to its size before. Returns 0, SLUICE_ENOSPC or SLUICE_EIO. */
int sluice_jsonl_sink_write_line(sluice_jsonl_sink_t *sk, const char *line, size_t len);
/*
 * Reads back one line the sink wrote (without its '\n'), as --resume does. Returns 1 when it is
 * a success: one valid JSON object, nested as deep as any line the sink writes, with a string
 * custom_id and "error": null. Then *id holds the custom_id, decoded and NUL-terminated, in a
 * buffer of *id_cap bytes that grows with realloc as getline(3)'s does (the caller frees it).
 * Returns 0 for any other line (a failure, a torn or edited line), or SLUICE_ENOMEM.
 */
int sluice_jsonl_read_success(const char *line, size_t len, char **id, size_t *id_cap);
/* fsync(2)s what was written (a regular file); returns 0 or SLUICE_EIO. */
int sluice_jsonl_sink_sync(sluice_jsonl_sink_t *sk);
/* Flushes and closes; returns 0 or SLUICE_EIO. */
int sluice_jsonl_sink_close(sluice_jsonl_sink_t *sk);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_H */
