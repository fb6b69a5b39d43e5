#ifndef SLUICE_REDIS_H
#define SLUICE_REDIS_H

/*
 * The distributed mode's handle (sluice_redis_t in sluice.h): one Redis server reached from one
 * loop. It owns the command connection that the shared limiter, the job source, the commits,
 * the feeder and the OUTPUT writer all pipeline on, and tells each of them when Redis comes
 * and goes.
 */
#include "conn.h"
#include "sluice.h"

#define REDIS_MAX_LISTENERS 8

typedef void (*redis_state_fn)(void *ud, int up);

struct sluice_redis_s {
    uv_loop_t *loop;
    struct redis_url url;
    struct rconn *cmd; /* the command connection */
    struct {
        redis_state_fn fn;
        void *ud;
    } listeners[REDIS_MAX_LISTENERS];
    int n_listeners;
    redisContext *sync; /* blocking calls of the command line (job status, settings) */
};

/* The blocking connection, connected (and AUTHed, SELECTed) on first use or after an error.
   NULL with a reason in err when Redis cannot be reached. */
redisContext *redis_sync(sluice_redis_t *r, char *err, size_t errlen);

/* Calls fn(ud, up) on every up/down change of the command connection, until removed. */
int redis_listen(sluice_redis_t *r, redis_state_fn fn, void *ud);
void redis_unlisten(sluice_redis_t *r, redis_state_fn fn, void *ud);

/* A second connection to the same server (blocking reads must not hold up the commands). */
int redis_connect_extra(sluice_redis_t *r, const char *name, rconn_state_cb cb, void *ud,
                        struct rconn **out);

#endif
