/*
 * The asynchronous Redis connection: see conn.h for the contract.
 *
 * Pieces, from the outside in:
 *   struct rconn  lives as long as the caller wants it: the URL, the options, the commands in
 *                 flight (a FIFO, since one connection answers in order), a watchdog timer for
 *                 their deadlines and a retry timer for the reconnect backoff.
 *   struct rlink  one connection attempt: an optional name lookup (uv_getaddrinfo, so a slow
 *                 DNS never blocks the loop: hiredis 0.14 resolves synchronously), then one
 *                 redisAsyncContext and the uv_poll_t that drives it.
 *   struct rreq   one command in flight, the privdata of its hiredis callback.
 *
 * hiredis 0.14 rules this file lives by (async.c):
 *   - redisAsyncFree() frees at once, running every pending callback with a NULL reply, unless
 *     called from a reply callback (REDIS_IN_CALLBACK): then it only sets REDIS_FREEING and
 *     redisProcessCallbacks() frees when the callback returns. The connect and disconnect
 *     callbacks are NOT run under REDIS_IN_CALLBACK, so nothing may free from them: user code
 *     is only ever called from reply callbacks or from our own libuv callbacks.
 *   - redisAsyncDisconnect() waits for the pending replies, so a late connection is dropped
 *     with redisAsyncFree(), from a libuv callback.
 *   - ev.cleanup can be called twice (__redisAsyncDisconnect() and __redisAsyncFree() both call
 *     it and 0.14 does not clear the hook), before or after the NULL replies: it must be
 *     idempotent. It always runs before the fd is closed, so it is where the poll handle closes.
 *   - Commands are refused (REDIS_ERR) once the context is disconnecting or freeing.
 * The down transition (state callback, backoff) is handled once the poll handle has closed, on
 * the loop, so the state callback "down" never runs inside hiredis.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hiredis/async.h>

#include "backoff.h"
#include "reply.h"
#include "sluice.h"

/* ---- the connection ---- */

struct rreq {
    struct rreq *prev, *next; /* the FIFO of commands in flight */
    struct rconn *rc;
    rconn_reply_cb cb;
    void *ud;
    uint64_t deadline; /* uv_now() ms */
    /* rconn_eval() only, for the EVAL retry on NOSCRIPT: the script and the command's tail
       (key count, keys, arguments) already in RESP, in the same allocation as the request. */
    int evalsha;
    int argc; /* of the whole EVALSHA call */
    const char *body;
    size_t bodylen;
    const char *tail;
    size_t taillen;
};

struct rlink {
    struct rconn *rc; /* NULL when orphaned: a lookup that outlived its deadline or rconn */
    redisAsyncContext *ac;
    uv_poll_t poll;
    uv_getaddrinfo_t gai;
    int resolving;  /* gai in flight */
    int closing;    /* poll handle closing: ev.cleanup ran */
    int events;     /* UV_READABLE | UV_WRITABLE being polled */
    int broken;     /* polling failed: the watchdog drops the link */
    int setup_left; /* AUTH, SELECT, CLIENT SETNAME, PING not yet answered */
    int failed;     /* a setup command failed: the link is being dropped */
    int err_set;    /* rc->err holds this link's first error */
    uint64_t deadline;
};

struct rconn {
    uv_loop_t *loop;
    struct redis_url url;
    char *name;
    uint64_t timeout_ms, connect_ms, base_ms, cap_ms;
    rconn_state_cb state_cb;
    void *ud;

    struct rlink *link;
    struct rreq *head, *tail;
    int outstanding;

    uv_timer_t watchdog;
    uint64_t wd_due; /* when the watchdog fires, 0 when stopped */
    uv_timer_t retry;
    struct rng rng;
    int attempt; /* connect attempts failed in a row */

    int up;          /* commands may be sent */
    int reported;    /* the state callback was ever called */
    int reported_up; /* ... and last said up */
    int64_t down_since;
    int closing;
    int handles; /* timers not yet closed */
    char err[160];
};

static void link_start(struct rconn *rc);
static void link_drop(struct rlink *l, const char *why);

static uint64_t seconds_ms(double s) {
    return s > 0 ? (uint64_t)(s * 1000.0 + 0.5) : 0;
}

void rconn_opts_init(struct rconn_opts *o) {
    o->timeout_s = 5;
    o->connect_timeout_s = 2;
    o->backoff_base_s = 0.1;
    o->backoff_cap_s = 2;
}

/* Records why the current link failed; the first reason wins (a forced drop after an error
   would otherwise hide the error). */
static void link_set_error(struct rlink *l, const char *fmt, ...) {
    if (!l->rc || l->err_set)
        return;
    l->err_set = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->rc->err, sizeof(l->rc->err), fmt, ap);
    va_end(ap);
}

/* No command may be sent from now on; the state callback comes later (rconn_link_lost). */
static void rconn_mark_down(struct rconn *rc) {
    if (rc->up) {
        rc->up = 0;
        rc->down_since = (int64_t)uv_now(rc->loop);
    }
}

static void rreq_push(struct rconn *rc, struct rreq *q) {
    q->next = NULL;
    q->prev = rc->tail;
    if (rc->tail)
        rc->tail->next = q;
    else
        rc->head = q;
    rc->tail = q;
    rc->outstanding++;
}

static void rreq_unlink(struct rconn *rc, struct rreq *q) {
    if (q->prev)
        q->prev->next = q->next;
    else
        rc->head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    else
        rc->tail = q->prev;
    rc->outstanding--;
}

static void rconn_maybe_free(struct rconn *rc) {
    if (!rc->closing || rc->handles > 0 || rc->link)
        return;
    redis_url_free(&rc->url);
    free(rc->name);
    free(rc);
}

/* ---- the watchdog: one timer, due at the earliest deadline that matters ---- */

static void watchdog_on_timer(uv_timer_t *t);

/* The deadline to watch: the link's connect deadline while it is not up, the oldest command's
   while it is; 0 for none. */
static uint64_t watchdog_due(const struct rconn *rc) {
    const struct rlink *l = rc->link;
    uint64_t due = 0;
    if (!l || l->closing)
        return 0;
    if (l->broken)
        return uv_now(rc->loop);
    if (!rc->up)
        due = l->deadline;
    if (rc->head && (!due || rc->head->deadline < due))
        due = rc->head->deadline;
    return due;
}

/* (Re)arms the watchdog when the due time moved earlier. It is left armed when it moved later
   (a command was answered): it then fires early, finds nothing late and re-arms, which costs
   less than restarting the timer on every reply. */
static void watchdog_arm(struct rconn *rc) {
    if (rc->closing)
        return;
    uint64_t due = watchdog_due(rc);
    if (!due || (rc->wd_due && rc->wd_due <= due))
        return;
    uint64_t now = uv_now(rc->loop);
    rc->wd_due = due;
    /* At least 1 ms: libuv 1.44 runs a 0 ms timer started from a timer callback again in the
       same pass, so a watchdog that failed to drop its link would spin without polling. */
    uv_timer_start(&rc->watchdog, watchdog_on_timer, due > now ? due - now : 1, 0);
}

static void watchdog_on_timer(uv_timer_t *t) {
    struct rconn *rc = t->data;
    struct rlink *l = rc->link;
    uint64_t now = uv_now(rc->loop);
    rc->wd_due = 0;
    if (l && !l->closing) {
        if (l->broken)
            link_drop(l, "polling the socket failed");
        else if (!rc->up && now >= l->deadline)
            link_drop(l, "connect deadline passed");
        else if (rc->head && now >= rc->head->deadline)
            link_drop(l, "command deadline passed");
    }
    watchdog_arm(rc);
}

/* ---- the link: reconnects and the down transition ---- */

static void rconn_on_retry(uv_timer_t *t) {
    link_start(t->data);
}

/*
 * The current link is gone (its handle closed, or it never got one). Called from libuv
 * callbacks only, never inside hiredis: tells the state callback (once per up -> down, and once
 * when the first connect fails) and schedules the next attempt.
 */
static void rconn_link_lost(struct rconn *rc) {
    rc->link = NULL;
    rconn_mark_down(rc);
    if (rc->closing) {
        rconn_maybe_free(rc);
        return;
    }
    if (rc->reported_up || !rc->reported) {
        rc->reported = 1;
        rc->reported_up = 0;
        if (rc->state_cb)
            rc->state_cb(rc, 0, rc->ud);
        if (rc->closing) /* rconn_close() from the callback */
            return;
    }
    rc->attempt++;
    int64_t delay =
        backoff_delay_ms(&rc->rng, rc->attempt, (int64_t)rc->base_ms, (int64_t)rc->cap_ms);
    uv_timer_start(&rc->retry, rconn_on_retry, (uint64_t)delay, 0);
}

static void link_on_closed(uv_handle_t *h) {
    struct rlink *l = h->data;
    struct rconn *rc = l->rc;
    free(l);
    rconn_link_lost(rc);
}

/* A link without an async context (a failed lookup or connect) goes away at once. */
static void link_abandon(struct rlink *l) {
    struct rconn *rc = l->rc;
    free(l);
    rconn_link_lost(rc);
}

/* A lookup cannot be taken back once it runs: the link is left to free itself in its callback
   and the rconn moves on. */
static void link_orphan(struct rlink *l) {
    struct rconn *rc = l->rc;
    l->rc = NULL;
    uv_cancel((uv_req_t *)&l->gai);
    rconn_link_lost(rc);
}

/*
 * Drops the link: its pending commands get their NULL reply (now, or when the reply callback
 * we are in returns: hiredis defers the free) and the down transition follows on the loop.
 */
static void link_drop(struct rlink *l, const char *why) {
    if (l->ac) {
        link_set_error(l, "%s", why);
        rconn_mark_down(l->rc);
        redisAsyncFree(l->ac);
    } else if (l->resolving && l->rc) {
        link_set_error(l, "%s", why);
        link_orphan(l);
    }
}

/* ---- event hooks: hiredis asks, one uv_poll_t per link does ---- */

static void link_on_poll(uv_poll_t *h, int status, int events) {
    struct rlink *l = h->data;
    if (status < 0) {
        /* libuv stopped the handle (POLLERR: e.g. a refused connect or a reset). hiredis's own
           libuv adapter returns here and the connection hangs; reading lets hiredis find the
           socket error and drop the connection, and if it does not, we do. */
        l->events = 0;
        events = UV_READABLE;
    }
    if ((events & UV_READABLE) && l->ac)
        redisAsyncHandleRead(l->ac);
    if ((events & UV_WRITABLE) && l->ac)
        redisAsyncHandleWrite(l->ac);
    if (status < 0 && l->ac)
        link_drop(l, uv_strerror(status));
}

static void link_poll_update(struct rlink *l, int add, int del) {
    if (l->closing)
        return;
    int ev = (l->events | add) & ~del;
    if (ev == l->events)
        return;
    int err = ev ? uv_poll_start(&l->poll, ev, link_on_poll) : uv_poll_stop(&l->poll);
    if (err == 0) {
        l->events = ev;
    } else if (!l->broken) {
        /* We are inside hiredis here and may not free it: the watchdog drops the link. */
        l->broken = 1;
        link_set_error(l, "polling the socket: %s", uv_strerror(err));
        watchdog_arm(l->rc);
    }
}

static void ev_add_read(void *p) {
    link_poll_update(p, UV_READABLE, 0);
}
static void ev_del_read(void *p) {
    link_poll_update(p, 0, UV_READABLE);
}
static void ev_add_write(void *p) {
    link_poll_update(p, UV_WRITABLE, 0);
}
static void ev_del_write(void *p) {
    link_poll_update(p, 0, UV_WRITABLE);
}

/* hiredis is done with the socket: idempotent, see the top of the file. */
static void ev_cleanup(void *p) {
    struct rlink *l = p;
    if (l->closing)
        return;
    l->closing = 1;
    l->ac = NULL;
    rconn_mark_down(l->rc);
    uv_close((uv_handle_t *)&l->poll, link_on_closed);
}

/* Connect and disconnect callbacks: only record why (nothing may free from here in 0.14). */
static void link_on_connect(const redisAsyncContext *ac, int status) {
    if (status != REDIS_OK)
        link_set_error(ac->data, "connect: %s", ac->errstr ? ac->errstr : "failed");
}

static void link_on_disconnect(const redisAsyncContext *ac, int status) {
    if (status != REDIS_OK)
        link_set_error(ac->data, "%s", ac->errstr ? ac->errstr : "connection lost");
}

/* ---- the handshake: AUTH, SELECT, CLIENT SETNAME, PING ---- */

static void link_setup_reply(redisAsyncContext *ac, redisReply *reply, struct rlink *l,
                             int must_succeed) {
    if (!reply || l->failed) /* the link is going away */
        return;
    if (reply->type == REDIS_REPLY_ERROR && must_succeed) {
        l->failed = 1;
        link_set_error(l, "%.*s", (int)reply->len, reply->str);
        redisAsyncFree(ac); /* deferred until this callback returns */
        return;
    }
    if (--l->setup_left > 0)
        return;
    struct rconn *rc = l->rc;
    rc->up = 1;
    rc->attempt = 0;
    rc->reported = 1;
    rc->reported_up = 1;
    rc->err[0] = '\0';
    if (rc->state_cb)
        rc->state_cb(rc, 1, rc->ud);
}

static void link_on_setup(redisAsyncContext *ac, void *reply, void *priv) {
    link_setup_reply(ac, reply, priv, 1);
}

/* CLIENT SETNAME is a courtesy: a server or proxy without it still serves. */
static void link_on_setname(redisAsyncContext *ac, void *reply, void *priv) {
    link_setup_reply(ac, reply, priv, 0);
}

static int link_send(struct rlink *l, redisCallbackFn *fn, int argc, const char **argv) {
    if (redisAsyncCommandArgv(l->ac, fn, l, argc, argv, NULL) != REDIS_OK)
        return -1;
    l->setup_left++;
    return 0;
}

/* Queues the handshake behind the connect; PING last, so that a server wanting a password we
   do not have answers NOAUTH instead of looking ready. */
static int link_send_setup(struct rlink *l) {
    const struct redis_url *u = &l->rc->url;
    char db[16];
    snprintf(db, sizeof(db), "%d", u->db);
    if (u->password && u->user) {
        const char *argv[] = {"AUTH", u->user, u->password};
        if (link_send(l, link_on_setup, 3, argv) != 0)
            return -1;
    } else if (u->password) {
        const char *argv[] = {"AUTH", u->password};
        if (link_send(l, link_on_setup, 2, argv) != 0)
            return -1;
    }
    if (u->db) {
        const char *argv[] = {"SELECT", db};
        if (link_send(l, link_on_setup, 2, argv) != 0)
            return -1;
    }
    if (l->rc->name) {
        const char *argv[] = {"CLIENT", "SETNAME", l->rc->name};
        if (link_send(l, link_on_setname, 3, argv) != 0)
            return -1;
    }
    const char *ping[] = {"PING"};
    return link_send(l, link_on_setup, 1, ping);
}

/* Connects to `ip` (NULL: the unix socket) and queues the handshake. */
static void link_connect(struct rlink *l, const char *ip) {
    struct rconn *rc = l->rc;
    redisAsyncContext *ac =
        rc->url.path ? redisAsyncConnectUnix(rc->url.path) : redisAsyncConnect(ip, rc->url.port);
    if (!ac || ac->err) {
        link_set_error(l, "connect: %s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        link_abandon(l);
        return;
    }
    /* hiredis frees its read buffer whenever it empties past 16 KiB: a batch of entries or
       results is larger, so that was a free and a malloc of the whole buffer per reply. */
    ac->c.reader->maxbuf = 0;
    ac->c.reader->fn = &rreply_fns; /* a reply's objects in one arena (reply.h) */
    /* TCP keepalive (hiredis: 15 s idle) finds a peer gone without a word while nothing is
       outstanding, where no deadline can. Not on unix sockets: it would fail and set c->err. */
    if (!rc->url.path && redisEnableKeepAlive(&ac->c) != REDIS_OK) {
        link_set_error(l, "connect: %s", ac->c.errstr);
        redisAsyncFree(ac);
        link_abandon(l);
        return;
    }
    int err = uv_poll_init(rc->loop, &l->poll, ac->c.fd);
    if (err != 0) {
        link_set_error(l, "polling the socket: %s", uv_strerror(err));
        redisAsyncFree(ac); /* no hooks yet: nothing of ours is called */
        link_abandon(l);
        return;
    }
    l->poll.data = l;
    l->ac = ac;
    ac->data = l;
    ac->ev.data = l;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    redisAsyncSetConnectCallback(ac, link_on_connect); /* polls for writable: connected */
    redisAsyncSetDisconnectCallback(ac, link_on_disconnect);
    if (link_send_setup(l) != 0)
        link_drop(l, "out of memory");
}

static void link_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    struct rlink *l = req->data;
    l->resolving = 0;
    if (!l->rc) { /* orphaned */
        uv_freeaddrinfo(res);
        free(l);
        return;
    }
    /* IPv4 first, as hiredis itself does. */
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *a = status == 0 ? res : NULL; a; a = a->ai_next) {
        if (a->ai_family == AF_INET || (a->ai_family == AF_INET6 && !pick))
            pick = a;
        if (a->ai_family == AF_INET)
            break;
    }
    char ip[INET6_ADDRSTRLEN] = "";
    if (pick && pick->ai_family == AF_INET)
        uv_ip4_name((const struct sockaddr_in *)pick->ai_addr, ip, sizeof(ip));
    else if (pick)
        uv_ip6_name((const struct sockaddr_in6 *)pick->ai_addr, ip, sizeof(ip));
    uv_freeaddrinfo(res);
    if (!ip[0]) {
        link_set_error(l, "resolving %s: %s", l->rc->url.host,
                       status < 0 ? uv_strerror(status) : "no address");
        link_abandon(l);
        return;
    }
    link_connect(l, ip);
}

/* One connection attempt, from the retry timer (never inside rconn_new()). */
static void link_start(struct rconn *rc) {
    struct rlink *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(rc->err, sizeof(rc->err), "out of memory");
        rconn_link_lost(rc);
        return;
    }
    l->rc = rc;
    l->deadline = uv_now(rc->loop) + rc->connect_ms;
    rc->link = l;
    watchdog_arm(rc);
    unsigned char addr[sizeof(struct in6_addr)];
    const char *host = rc->url.host;
    if (rc->url.path || inet_pton(AF_INET, host, addr) == 1 ||
        inet_pton(AF_INET6, host, addr) == 1) {
        link_connect(l, host);
        return;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    l->gai.data = l;
    int err = uv_getaddrinfo(rc->loop, &l->gai, link_on_resolved, host, NULL, &hints);
    if (err != 0) {
        link_set_error(l, "resolving %s: %s", host, uv_strerror(err));
        link_abandon(l);
        return;
    }
    l->resolving = 1;
}

/* ---- RESP ----
 * Commands are put in RESP here and handed over with redisAsyncFormattedCommand: hiredis's own
 * formatter (sdscatfmt per argument) cost more than the rest of a commit call. */

/* Bytes "$<len>\r\n" takes. */
static size_t resp_head_len(size_t len) {
    size_t d = 1;
    while (len >= 10) {
        len /= 10;
        d++;
    }
    return d + 3;
}

/* Writes c (one of '*', '$') then n and CRLF; returns the end. */
static char *resp_num(char *p, char c, size_t n) {
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    *p++ = c;
    while (k)
        *p++ = tmp[--k];
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

static char *resp_arg(char *p, const char *s, size_t len) {
    p = resp_num(p, '$', len);
    if (len)
        memcpy(p, s, len);
    p += len;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

static size_t arg_len(const char **argv, const size_t *argvlen, int i) {
    return argvlen ? argvlen[i] : strlen(argv[i]);
}

/* Bytes of the arguments in RESP, without the leading "*<argc>". */
static size_t resp_args_len(int argc, const char **argv, const size_t *argvlen) {
    size_t n = 0;
    for (int i = 0; i < argc; i++) {
        size_t len = arg_len(argv, argvlen, i);
        n += resp_head_len(len) + len + 2;
    }
    return n;
}

static char *resp_args(char *p, int argc, const char **argv, const size_t *argvlen) {
    for (int i = 0; i < argc; i++)
        p = resp_arg(p, argv[i], arg_len(argv, argvlen, i));
    return p;
}

/* ---- commands ---- */

static void rreq_on_reply(redisAsyncContext *ac, void *r, void *priv);

/* Queues q with its command in RESP; on failure q is unlinked and 0 is not returned. */
static int rreq_send_raw(struct rconn *rc, redisAsyncContext *ac, struct rreq *q, const char *cmd,
                         size_t len) {
    rreq_push(rc, q);
    if (redisAsyncFormattedCommand(ac, rreq_on_reply, q, cmd, len) != REDIS_OK) {
        rreq_unlink(rc, q);
        return SLUICE_EIO;
    }
    watchdog_arm(rc);
    return 0;
}

/* The EVAL retry of q's EVALSHA: the script's text in place of its SHA-1. */
static int rreq_send_eval(struct rconn *rc, redisAsyncContext *ac, struct rreq *q) {
    size_t len = resp_head_len((size_t)q->argc) + 10 + resp_head_len(q->bodylen) + q->bodylen + 2 +
                 q->taillen;
    char *cmd = malloc(len), *p = cmd;
    if (!cmd)
        return SLUICE_ENOMEM;
    p = resp_num(p, '*', (size_t)q->argc);
    p = resp_arg(p, "EVAL", 4);
    p = resp_arg(p, q->body, q->bodylen);
    memcpy(p, q->tail, q->taillen);
    p += q->taillen;
    int rc_ = rreq_send_raw(rc, ac, q, cmd, (size_t)(p - cmd));
    free(cmd);
    return rc_;
}

static int rreq_is_noscript(const redisReply *r) {
    return r->type == REDIS_REPLY_ERROR && r->len >= 8 && memcmp(r->str, "NOSCRIPT", 8) == 0;
}

/* hiredis's callback for every command: the request leaves the FIFO and its caller gets the
   reply, or the EVAL retry is sent in its place. */
static void rreq_on_reply(redisAsyncContext *ac, void *r, void *priv) {
    struct rreq *q = priv;
    struct rconn *rc = q->rc;
    redisReply *reply = r;
    rreq_unlink(rc, q);
    if (!reply) {
        rconn_mark_down(rc);
    } else if (q->evalsha && rreq_is_noscript(reply) && !rc->closing) {
        q->evalsha = 0;
        q->deadline = uv_now(rc->loop) + rc->timeout_ms;
        if (rreq_send_eval(rc, ac, q) == 0)
            return;
        reply = NULL;
    }
    q->cb(rc, reply, q->ud);
    free(q);
}

static int rconn_ready(const struct rconn *rc) {
    return rc && rc->up && !rc->closing && rc->link && rc->link->ac;
}

int rconn_cmd(struct rconn *rc, rconn_reply_cb cb, void *ud, int64_t extra_ms, int argc,
              const char **argv, const size_t *argvlen) {
    if (!cb || argc < 1 || !argv)
        return SLUICE_EINVAL;
    if (!rconn_ready(rc))
        return SLUICE_EIO;
    size_t len = resp_head_len((size_t)argc) + resp_args_len(argc, argv, argvlen);
    struct rreq *q = calloc(1, sizeof(*q));
    char *cmd = malloc(len);
    if (!q || !cmd) {
        free(q);
        free(cmd);
        return SLUICE_ENOMEM;
    }
    q->rc = rc;
    q->cb = cb;
    q->ud = ud;
    q->deadline = uv_now(rc->loop) + rc->timeout_ms + (uint64_t)(extra_ms > 0 ? extra_ms : 0);
    char *end = resp_args(resp_num(cmd, '*', (size_t)argc), argc, argv, argvlen);
    int e = rreq_send_raw(rc, rc->link->ac, q, cmd, (size_t)(end - cmd));
    free(cmd);
    if (e != 0)
        free(q);
    return e;
}

/* Room for "*<n>\r\n$7\r\nEVALSHA\r\n$40\r\n<sha>\r\n" before a command's tail. */
#define EVALSHA_HEAD_MAX 128 /* with a SHA of up to 64 characters */

int rconn_eval(struct rconn *rc, rconn_reply_cb cb, void *ud, const char *sha, const char *body,
               int nkeys, int argc, const char **argv, const size_t *argvlen) {
    if (!cb || !sha || !body || argc < 0 || nkeys < 0 || nkeys > argc || (argc > 0 && !argv) ||
        strlen(sha) > 64)
        return SLUICE_EINVAL;
    if (!rconn_ready(rc))
        return SLUICE_EIO;
    /* One allocation: the request, the script (for the EVAL retry), room for the EVALSHA head,
       then the tail in RESP, so the call goes out from one contiguous buffer. */
    char nk[16];
    snprintf(nk, sizeof(nk), "%d", nkeys);
    size_t bodylen = strlen(body), nklen = strlen(nk);
    size_t taillen = resp_head_len(nklen) + nklen + 2 + resp_args_len(argc, argv, argvlen);
    struct rreq *q = calloc(1, sizeof(*q) + bodylen + 1 + EVALSHA_HEAD_MAX + taillen);
    if (!q)
        return SLUICE_ENOMEM;
    char *b = (char *)(q + 1);
    memcpy(b, body, bodylen);
    q->body = b;
    q->bodylen = bodylen;
    char *tail = b + bodylen + 1 + EVALSHA_HEAD_MAX;
    char *end = resp_args(resp_arg(tail, nk, nklen), argc, argv, argvlen);
    q->tail = tail;
    q->taillen = (size_t)(end - tail);
    q->argc = argc + 3;
    q->evalsha = 1;
    q->rc = rc;
    q->cb = cb;
    q->ud = ud;
    q->deadline = uv_now(rc->loop) + rc->timeout_ms;
    /* The head, written so that it ends where the tail starts. */
    char head[EVALSHA_HEAD_MAX], *h = head;
    h = resp_num(h, '*', (size_t)q->argc);
    h = resp_arg(h, "EVALSHA", 7);
    h = resp_arg(h, sha, strlen(sha));
    size_t hlen = (size_t)(h - head);
    memcpy(tail - hlen, head, hlen);
    int e = rreq_send_raw(rc, rc->link->ac, q, tail - hlen, hlen + q->taillen);
    if (e != 0)
        free(q);
    return e;
}

/* ---- lifetime ---- */

static int url_copy(struct redis_url *dst, const struct redis_url *src) {
    *dst = *src;
    dst->host = src->host ? strdup(src->host) : NULL;
    dst->path = src->path ? strdup(src->path) : NULL;
    dst->user = src->user ? strdup(src->user) : NULL;
    dst->password = src->password ? strdup(src->password) : NULL;
    if ((src->host && !dst->host) || (src->path && !dst->path) || (src->user && !dst->user) ||
        (src->password && !dst->password)) {
        redis_url_free(dst);
        return SLUICE_ENOMEM;
    }
    return 0;
}

int rconn_new(struct rconn **out, uv_loop_t *loop, const struct redis_url *u,
              const struct rconn_opts *o, const char *name, rconn_state_cb cb, void *ud) {
    struct rconn_opts defaults;
    if (!o) {
        rconn_opts_init(&defaults);
        o = &defaults;
    }
    if (!out || !loop || !u || (!u->host && !u->path) || !(o->timeout_s > 0) ||
        !(o->connect_timeout_s > 0) || !(o->backoff_base_s >= 0) ||
        !(o->backoff_cap_s >= o->backoff_base_s))
        return SLUICE_EINVAL;
    struct rconn *rc = calloc(1, sizeof(*rc));
    if (!rc)
        return SLUICE_ENOMEM;
    if (url_copy(&rc->url, u) != 0)
        goto fail;
    if (name && !(rc->name = strdup(name)))
        goto fail;
    rc->loop = loop;
    rc->timeout_ms = seconds_ms(o->timeout_s);
    rc->connect_ms = seconds_ms(o->connect_timeout_s);
    rc->base_ms = seconds_ms(o->backoff_base_s);
    rc->cap_ms = seconds_ms(o->backoff_cap_s);
    rc->state_cb = cb;
    rc->ud = ud;
    rc->down_since = (int64_t)uv_now(loop);
    rng_seed(&rc->rng, uv_hrtime() ^ (uint64_t)(uintptr_t)rc);
    uv_timer_init(loop, &rc->watchdog); /* cannot fail on unix */
    uv_timer_init(loop, &rc->retry);
    rc->watchdog.data = rc;
    rc->retry.data = rc;
    rc->handles = 2;
    /* The first connect starts on the loop, so that its failure reaches the state callback
       after rconn_new() has returned. */
    uv_timer_start(&rc->retry, rconn_on_retry, 0, 0);
    *out = rc;
    return 0;
fail:
    redis_url_free(&rc->url);
    free(rc->name);
    free(rc);
    return SLUICE_ENOMEM;
}

int rconn_up(const struct rconn *rc) {
    return rconn_ready(rc);
}

int64_t rconn_down_since(const struct rconn *rc) {
    return !rc || rconn_ready(rc) ? -1 : rc->down_since;
}

int rconn_outstanding(const struct rconn *rc) {
    return rc ? rc->outstanding : 0;
}

const char *rconn_error(const struct rconn *rc) {
    return rc ? rc->err : "";
}

static void rconn_on_timer_closed(uv_handle_t *h) {
    struct rconn *rc = h->data;
    rc->handles--;
    rconn_maybe_free(rc);
}

void rconn_close(struct rconn *rc) {
    if (!rc || rc->closing)
        return;
    rc->closing = 1;
    rconn_mark_down(rc);
    uv_close((uv_handle_t *)&rc->watchdog, rconn_on_timer_closed);
    uv_close((uv_handle_t *)&rc->retry, rconn_on_timer_closed);
    struct rlink *l = rc->link;
    if (l && l->ac)
        redisAsyncFree(l->ac); /* NULL replies now, or when the reply callback we are in returns */
    else if (l && l->resolving && l->rc)
        link_orphan(l);
    /* else no link, or its poll handle is closing: its close callback finishes the job */
}
