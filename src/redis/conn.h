#ifndef SLUICE_RCONN_H
#define SLUICE_RCONN_H

/*
 * An asynchronous Redis connection on the engine's libuv loop, for the distributed mode
 * (docs/DESIGN.md "Distributed mode"). hiredis's async API parses and queues; the event hooks are
 * our own, not hiredis 0.14's libuv adapter, which swallows poll errors and has no timeouts:
 *   - a poll error (or hang-up) is handed to hiredis as readable, so it reads the error and
 *     drops the connection; outstanding commands then get a NULL reply;
 *   - every command has a deadline (its timeout, or block + timeout for a blocking read): a
 *     watchdog uv_timer drops the connection when the oldest outstanding command is late;
 *   - a connect has a deadline too.
 * A dropped connection reconnects with exponential backoff (full jitter) for as long as the
 * rconn lives; AUTH, SELECT and CLIENT SETNAME are sent first on every new connection, then a
 * PING: the connection is up once the server has answered them all (a CLIENT SETNAME error is
 * ignored). The state callback says when the connection is up (ready for commands) and when it
 * went down.
 *
 * A NULL reply means "no answer": the command may or may not have been carried out. Callers
 * repeat idempotent commands and drop or re-check the others.
 */
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <uv.h>

/* ---- Redis URLs ---- */

struct redis_url {
    char *host;     /* NULL for a unix socket */
    int port;       /* default 6379 */
    char *path;     /* unix socket path, or NULL */
    char *user;     /* ACL user, or NULL */
    char *password; /* or NULL; SLUICE_REDIS_PASSWORD when the URL has none */
    int db;         /* SELECT n, default 0 */
};

/*
 * Parses "redis://[[user]:password@]host[:port][/db]" and "unix:///path[?db=n]". A password
 * missing from the URL is taken from the environment variable SLUICE_REDIS_PASSWORD (when set
 * and non-empty). Returns 0, or SLUICE_EINVAL with a one-line reason in err (never quoting the
 * password).
 */
int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen);
/* The URL for messages, its password shown as "***": "redis://:***@host:port/db",
   "redis://user@host:port/db", "unix:///path". */
void redis_url_describe(const struct redis_url *u, char *buf, size_t size);
void redis_url_free(struct redis_url *u);

/* ---- the connection ---- */

struct rconn;

/* `reply` is NULL when there was no answer (connection lost, deadline passed, rconn closed).
   The reply belongs to hiredis: valid during the callback only. */
typedef void (*rconn_reply_cb)(struct rconn *rc, redisReply *reply, void *ud);
/* up = 1: connected, authenticated and SELECTed; up = 0: the connection went down (or a
   connect attempt failed; called once per up -> down change, not per attempt). */
typedef void (*rconn_state_cb)(struct rconn *rc, int up, void *ud);

struct rconn_opts {
    double timeout_s;         /* deadline of a command (default 5) */
    double connect_timeout_s; /* deadline of a connect, AUTH and SELECT included (default 2) */
    double backoff_base_s;    /* reconnect backoff, doubling with full jitter (default 0.1) */
    double backoff_cap_s;     /* (default 2) */
};

void rconn_opts_init(struct rconn_opts *o);

/*
 * Starts connecting to `u` (copied) on `loop`. Returns 0 and *out, or a negative code (the
 * first connect's failure is not an error: it is reported through the state callback and
 * retried). `o` may be NULL for the defaults; bad options are SLUICE_EINVAL. `name` (may be
 * NULL) is sent as CLIENT SETNAME.
 */
int rconn_new(struct rconn **out, uv_loop_t *loop, const struct redis_url *u,
              const struct rconn_opts *o, const char *name, rconn_state_cb cb, void *ud);

/* 1 when up. */
int rconn_up(const struct rconn *rc);
/* uv_now() when the connection last went down (or rconn_new when it never came up); -1 up. */
int64_t rconn_down_since(const struct rconn *rc);
/* Commands sent and not yet answered. */
int rconn_outstanding(const struct rconn *rc);
/* Why the connection last went down or the last attempt failed ("connection refused",
   "WRONGPASS ...", "command deadline passed"); "" while up or before the first failure. Never
   holds the password. Valid until the next call into the rconn or the next loop iteration. */
const char *rconn_error(const struct rconn *rc);

/*
 * Sends one command. Returns 0 (the callback will be called exactly once), or SLUICE_EIO when
 * the connection is not up (the callback is not called), or SLUICE_ENOMEM. The arguments are
 * copied. `extra_ms` is added to the command's deadline (the BLOCK time of a blocking read).
 */
int rconn_cmd(struct rconn *rc, rconn_reply_cb cb, void *ud, int64_t extra_ms, int argc,
              const char **argv, const size_t *argvlen);

/*
 * Runs a script: EVALSHA sha with `nkeys` keys followed by the arguments (argv holds keys then
 * args, argc in all). When Redis answers NOSCRIPT (it restarted or flushed its scripts), the
 * same call is sent again as EVAL body, transparently: the callback sees the second reply.
 * Returns as rconn_cmd().
 */
int rconn_eval(struct rconn *rc, rconn_reply_cb cb, void *ud, const char *sha, const char *body,
               int nkeys, int argc, const char **argv, const size_t *argvlen);

/*
 * Closes: outstanding commands get their NULL reply (during this call or soon after, on the
 * loop), no more state callbacks, and the memory is freed once libuv has closed the handles
 * (run the loop). NULL is fine.
 */
void rconn_close(struct rconn *rc);

#endif
