/* The distributed mode's handle: see redis.h. */
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_state(struct rconn *rc, int up, void *ud) {
    (void)rc;
    sluice_redis_t *r = ud;
    /* A listener may unlisten itself from its callback: walk a copy. */
    int n = r->n_listeners;
    redis_state_fn fns[REDIS_MAX_LISTENERS];
    void *uds[REDIS_MAX_LISTENERS];
    for (int i = 0; i < n; i++) {
        fns[i] = r->listeners[i].fn;
        uds[i] = r->listeners[i].ud;
    }
    for (int i = 0; i < n; i++)
        fns[i](uds[i], up);
}

int sluice_redis_open(sluice_redis_t **out, uv_loop_t *loop, const char *url, char *err,
                      size_t errlen) {
    if (!out || !loop || !url)
        return SLUICE_EINVAL;
    sluice_redis_t *r = calloc(1, sizeof(*r));
    if (!r)
        return SLUICE_ENOMEM;
    r->loop = loop;
    int rc = redis_url_parse(url, &r->url, err, errlen);
    if (rc < 0) {
        free(r);
        return rc;
    }
    struct rconn_opts o;
    rconn_opts_init(&o);
    rc = rconn_new(&r->cmd, loop, &r->url, &o, "sluice", on_state, r);
    if (rc < 0) {
        redis_url_free(&r->url);
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int sluice_redis_up(const sluice_redis_t *r) {
    return r && rconn_up(r->cmd);
}

double sluice_redis_down_s(const sluice_redis_t *r) {
    int64_t since = rconn_down_since(r->cmd);
    if (since < 0)
        return 0;
    int64_t now = (int64_t)uv_now(r->loop);
    return now > since ? (double)(now - since) / 1000.0 : 0;
}

void sluice_redis_describe(const sluice_redis_t *r, char *buf, size_t size) {
    redis_url_describe(&r->url, buf, size);
}

int redis_listen(sluice_redis_t *r, redis_state_fn fn, void *ud) {
    if (r->n_listeners == REDIS_MAX_LISTENERS)
        return SLUICE_ENOMEM;
    r->listeners[r->n_listeners].fn = fn;
    r->listeners[r->n_listeners].ud = ud;
    r->n_listeners++;
    return 0;
}

void redis_unlisten(sluice_redis_t *r, redis_state_fn fn, void *ud) {
    for (int i = 0; i < r->n_listeners; i++) {
        if (r->listeners[i].fn == fn && r->listeners[i].ud == ud) {
            memmove(&r->listeners[i], &r->listeners[i + 1],
                    (size_t)(r->n_listeners - i - 1) * sizeof(r->listeners[0]));
            r->n_listeners--;
            return;
        }
    }
}

int redis_connect_extra(sluice_redis_t *r, const char *name, rconn_state_cb cb, void *ud,
                        struct rconn **out) {
    struct rconn_opts o;
    rconn_opts_init(&o);
    return rconn_new(out, r->loop, &r->url, &o, name, cb, ud);
}

redisContext *redis_sync(sluice_redis_t *r, char *err, size_t errlen) {
    char where[256];
    redis_url_describe(&r->url, where, sizeof(where));
    if (r->sync && r->sync->err == 0)
        return r->sync;
    if (r->sync)
        redisFree(r->sync);
    struct timeval tv = {2, 0};
    r->sync = r->url.path ? redisConnectUnixWithTimeout(r->url.path, tv)
                          : redisConnectWithTimeout(r->url.host, r->url.port, tv);
    if (!r->sync || r->sync->err) {
        snprintf(err, errlen, "cannot connect to Redis at %s: %s", where,
                 r->sync ? r->sync->errstr : "out of memory");
        goto fail;
    }
    struct timeval cmd = {5, 0};
    redisSetTimeout(r->sync, cmd);
    if (r->url.password) {
        redisReply *rep = r->url.user
                              ? redisCommand(r->sync, "AUTH %s %s", r->url.user, r->url.password)
                              : redisCommand(r->sync, "AUTH %s", r->url.password);
        int ok = rep && rep->type != REDIS_REPLY_ERROR;
        if (!ok)
            snprintf(err, errlen, "Redis at %s refused the password: %s", where,
                     rep ? rep->str : r->sync->errstr);
        freeReplyObject(rep);
        if (!ok)
            goto fail;
    }
    if (!r->url.password) {
        /* A server that wants a password answers a long first command with a protocol error
           ("unauthenticated multibulk length"): ask plainly first. */
        redisReply *rep = redisCommand(r->sync, "PING");
        int noauth = rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOAUTH", 6) == 0;
        freeReplyObject(rep);
        if (noauth) {
            snprintf(err, errlen,
                     "Redis at %s requires a password (NOAUTH): put the URL with it "
                     "(redis://:PASSWORD@host:port) in $REDIS_URL or --redis-url-file, or the "
                     "password in $SLUICE_REDIS_PASSWORD",
                     where);
            goto fail;
        }
    }
    if (r->url.db) {
        redisReply *rep = redisCommand(r->sync, "SELECT %d", r->url.db);
        int ok = rep && rep->type != REDIS_REPLY_ERROR;
        if (!ok)
            snprintf(err, errlen, "Redis at %s: SELECT %d failed: %s", where, r->url.db,
                     rep ? rep->str : r->sync->errstr);
        freeReplyObject(rep);
        if (!ok)
            goto fail;
    }
    return r->sync;
fail:
    if (r->sync)
        redisFree(r->sync);
    r->sync = NULL;
    return NULL;
}

void sluice_redis_close(sluice_redis_t *r) {
    if (!r)
        return;
    if (r->sync)
        redisFree(r->sync);
    r->n_listeners = 0;
    rconn_close(r->cmd);
    redis_url_free(&r->url);
    free(r);
}
