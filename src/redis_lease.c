/*
 * The shared limiter over an asynchronous Redis connection: see redis_lease.h for the lease
 * cache and redis_limiter.h for the rules of leasing and the burst they allow.
 *
 * One call at a time. A limiter has at most one script call in flight (init, pause, rates,
 * lease or a lone reconcile, in that order of precedence) and one timer, armed for the next
 * time it has something to ask ("ask again at T" after a refusal or an error, or the flush of a
 * token delta that no lease took along). Nothing is asked on a schedule: each call answers a
 * need (held units at half a lease, a waiting request, a delta, a 429), so an idle limiter is
 * silent and a busy one sends about one call per lease.
 *
 * Lifetime. A reply may come after the owner freed the limiter (sluice_redis_close, which runs
 * the outstanding callbacks with NULL, comes after the limiter's free). The memory is therefore
 * counted: one reference for the timer handle (until its close callback) and one for the call
 * in flight. free() marks the limiter dead, stops listening and closes the timer; whichever of
 * the close callback and the last reply comes last frees it. A dead limiter's reply touches
 * nothing but the counter, never the Redis handle.
 */
#include "redis_lease.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "limiter.h"
#include "redis.h"
#include "redis_limiter.h"
#include "sluice.h"

#define EPS 1e-6

/* ---- the lease cache: pure arithmetic on a clock passed in ---- */

void lease_cache_init(struct lease_cache *c, double rpm, double tpm, double burst_s) {
    memset(c, 0, sizeof(*c));
    c->rpm = rpm > 0 ? rpm : 0;
    c->tpm = tpm > 0 ? tpm : 0;
    c->burst_s = burst_s >= 0 ? burst_s : 0.5;
}

/* Tokens per request for sizing: the average of those taken, else the waiting request's. */
static double per_request(const struct lease_cache *c) {
    return c->avg_tok > 0 ? c->avg_tok : c->need;
}

int lease_cache_size(const struct lease_cache *c) {
    int k = redis_limiter_lease_size(c->rpm, c->burst_s);
    double per = per_request(c);
    if (c->tpm > 0 && per > 0) {
        int kt = redis_limiter_lease_size(c->tpm / per, c->burst_s);
        if (kt < k)
            k = kt;
    }
    return k;
}

int64_t lease_cache_max_wait(const struct lease_cache *c) {
    double k = lease_cache_size(c);
    double span = 0; /* ms of budget one lease takes */
    if (c->rpm > 0)
        span = k * 60000.0 / c->rpm;
    double per = per_request(c);
    if (c->tpm > 0 && per > 0 && k * per * 60000.0 / c->tpm > span)
        span = k * per * 60000.0 / c->tpm;
    double mw = span * LEASE_HOLD_LEASES;
    if (mw < LEASE_HOLD_MIN_MS)
        mw = LEASE_HOLD_MIN_MS;
    if (mw > LEASE_HOLD_MAX_MS)
        mw = LEASE_HOLD_MAX_MS;
    return (int64_t)mw;
}

static int pool_empty(const struct lease_pool *p) {
    return p->req < EPS && p->tok < EPS;
}

/* Moves the lease fetched ahead into cur once it may be used. */
static void promote(struct lease_cache *c, int64_t now) {
    if (pool_empty(&c->next) || now < c->next.usable_at)
        return;
    if (pool_empty(&c->cur) || c->next.usable_at > c->cur.usable_at)
        c->cur.usable_at = c->next.usable_at;
    c->cur.req += c->next.req;
    c->cur.tok += c->next.tok;
    memset(&c->next, 0, sizeof(c->next));
}

/* Do `req` requests and `tok` tokens allow a request of `tokens`? */
static int fits(const struct lease_cache *c, double req, double tok, double tokens) {
    return req >= 1 - EPS && (c->tpm <= 0 || tok >= tokens - EPS);
}

int64_t lease_cache_wait(struct lease_cache *c, int64_t now, double tokens) {
    promote(c, now);
    c->sized = 1;
    if (fits(c, c->cur.req, c->cur.tok, tokens) && now >= c->cur.usable_at)
        return 0;
    c->need = tokens > 0 ? tokens : 0;
    if (fits(c, c->cur.req, c->cur.tok, tokens))
        return c->cur.usable_at - now;
    if (!pool_empty(&c->next) &&
        fits(c, c->cur.req + c->next.req, c->cur.tok + c->next.tok, tokens)) {
        int64_t at = c->next.usable_at > c->cur.usable_at ? c->next.usable_at : c->cur.usable_at;
        return at > now ? at - now : 1;
    }
    return -1;
}

void lease_cache_take(struct lease_cache *c, int64_t now, double tokens) {
    (void)now;
    if (!(tokens >= 0))
        tokens = 0;
    c->sized = 1;
    c->cur.req -= 1;
    if (c->cur.req < 0)
        c->cur.req = 0;
    c->cur.tok -= tokens;
    if (c->cur.tok < 0)
        c->cur.tok = 0;
    if (c->avg_tok <= 0)
        c->avg_tok = tokens;
    else
        c->avg_tok += (tokens - c->avg_tok) / LEASE_AVG_N;
    c->need = 0;
}

int lease_cache_plan(const struct lease_cache *c, int *nr, double *nt) {
    *nr = 0;
    *nt = 0;
    if (c->tpm > 0 && !c->sized)
        return 0;
    int k = lease_cache_size(c);
    double held_req = c->cur.req + c->next.req;
    double held_tok = c->cur.tok + c->next.tok;
    int r = held_req <= k / 2.0 ? k : 0;
    int short_tok = c->tpm > 0 && c->need > held_tok + EPS;
    if (r == 0 && !short_tok)
        return 0;
    /* The waiting request is one of the requests held or asked for; the rest take the average. */
    double others = held_req + r - (c->need > 0 ? 1 : 0);
    if (others < 0)
        others = 0;
    double want = c->need + others * per_request(c) - held_tok;
    *nr = r;
    *nt = want > 0 ? want : 0;
    return 1;
}

void lease_cache_grant(struct lease_cache *c, int64_t now, int nr, double nt, int64_t hold_ms) {
    int64_t at = now + (hold_ms > 0 ? hold_ms : 0);
    struct lease_pool *p = c->cur.req < EPS && pool_empty(&c->next) ? &c->cur : &c->next;
    if (pool_empty(p) || at > p->usable_at)
        p->usable_at = at;
    p->req += nr > 0 ? nr : 0;
    p->tok += nt > 0 ? nt : 0;
}

/* Drops up to *drop requests from p, with their share of its tokens. */
static void pool_shrink(struct lease_pool *p, double *drop) {
    double d = *drop < p->req ? *drop : p->req;
    if (d <= 0)
        return;
    p->tok -= p->tok * d / p->req;
    p->req -= d;
    *drop -= d;
}

void lease_cache_shared(struct lease_cache *c, double rpm, double tpm, double burst_s) {
    rpm = rpm > 0 ? rpm : 0;
    tpm = tpm > 0 ? tpm : 0;
    int changed = rpm != c->rpm || tpm != c->tpm || (burst_s >= 0 && burst_s != c->burst_s);
    c->rpm = rpm;
    c->tpm = tpm;
    if (burst_s >= 0)
        c->burst_s = burst_s;
    if (!changed)
        return;
    double keep = floor(1.5 * lease_cache_size(c));
    double drop = c->cur.req + c->next.req - keep;
    if (drop <= 0)
        return;
    pool_shrink(&c->next, &drop);
    pool_shrink(&c->cur, &drop);
}

void lease_cache_drop(struct lease_cache *c) {
    memset(&c->cur, 0, sizeof(c->cur));
    memset(&c->next, 0, sizeof(c->next));
}

double lease_delta_unknown(double sent) {
    return sent > 0 ? sent : 0;
}

/* ---- the limiter ---- */

#define WAIT_ASKING_MS 250  /* a reply is on its way and will wake the engine before this */
#define WAIT_DOWN_MS   1000 /* Redis is unreachable: "up" asks at once and the reply wakes */
#define RETRY_ERROR_MS 1000 /* after a call that failed (an error, or no answer) */
#define DELTA_FLUSH_MS 1000 /* a token delta no lease took along goes alone after this */
#define PAUSE_SLACK_MS 100  /* a pause this much longer than the one sent is not sent again */

enum call { CALL_NONE, CALL_INIT, CALL_PAUSE, CALL_RATES, CALL_LEASE, CALL_RECON };

struct redis_lease {
    struct sluice_limiter_s base;
    sluice_redis_t *r;
    uv_loop_t *loop;
    char *key; /* sluice:limit:{KEY} */
    const char *sha, *body;
    double told_rpm, told_tpm, told_burst; /* init's operands, again when the hash is lost */
    struct lease_cache c;

    uv_timer_t timer;
    int64_t timer_at; /* when it fires; -1 = stopped */
    int refs;         /* timer handle + call in flight */
    int dead;         /* freed by its owner */

    enum call inflight;
    int inited;            /* init answered: the hash exists */
    int64_t retry_at;      /* no lease before this (a refusal said so) */
    int64_t backoff_until; /* no call before this (the last one failed) */
    double delta;          /* token delta not sent */
    int64_t delta_due;     /* when it goes alone; 0 = not set */
    double delta_sent;     /* riding on the call in flight */
    int nr_sent;
    double nt_sent;
    int64_t mw_sent;
    int rates_pending;
    double want_rpm, want_tpm; /* from the pacer; -1 = keep the shared one */
    int64_t pause_until;       /* a pause to send (local ms); 0 = none */
    int64_t pause_sent;        /* the end of the last pause sent (local ms) */
};

static void pump(struct redis_lease *l, int64_t now);

static void unref(struct redis_lease *l) {
    if (--l->refs > 0)
        return;
    free(l->key);
    free(l);
}

static void on_timer_close(uv_handle_t *h) {
    unref(h->data);
}

static void on_timer(uv_timer_t *t) {
    struct redis_lease *l = t->data;
    l->timer_at = -1;
    pump(l, (int64_t)uv_now(l->loop));
}

/* Arms the timer for `at` (local ms), or stops it (at < 0). */
static void arm(struct redis_lease *l, int64_t now, int64_t at) {
    if (at == l->timer_at)
        return;
    l->timer_at = at;
    if (at < 0)
        uv_timer_stop(&l->timer);
    else
        uv_timer_start(&l->timer, on_timer, (uint64_t)(at > now ? at - now : 0), 0);
}

static int rates_differ(const struct redis_lease *l) {
    return (l->want_rpm >= 0 && l->want_rpm != l->c.rpm) ||
           (l->want_tpm >= 0 && l->want_tpm != l->c.tpm);
}

static void on_reply(struct rconn *rc, redisReply *reply, void *ud);

static int send_call(struct redis_lease *l, enum call kind, const char *op, int n,
                     const double *v) {
    struct redis_limiter_args a;
    redis_limiter_args(&a, l->key, op, n, v);
    int rc = rconn_eval(l->r->cmd, on_reply, l, l->sha, l->body, 1, a.argc, a.argv, NULL);
    if (rc < 0)
        return rc;
    l->inflight = kind;
    l->refs++;
    return 0;
}

/*
 * Sends the most urgent call the limiter needs, if none is in flight and Redis is up, or arms
 * the timer for when one will be due. Never calls wake: it may run inside an op.
 */
static void pump(struct redis_lease *l, int64_t now) {
    if (l->dead || l->inflight != CALL_NONE || !rconn_up(l->r->cmd))
        return;
    if (now < l->backoff_until) {
        arm(l, now, l->backoff_until);
        return;
    }
    int rc;
    if (!l->inited) {
        const double v[] = {l->told_rpm, l->told_tpm, l->told_burst};
        rc = send_call(l, CALL_INIT, "init", 3, v);
        goto sent;
    }
    if (l->pause_until > now) {
        const double v[] = {(double)(l->pause_until - now)};
        rc = send_call(l, CALL_PAUSE, "pause", 1, v);
        if (rc == 0) {
            l->pause_sent = l->pause_until;
            l->pause_until = 0;
        }
        goto sent;
    }
    l->pause_until = 0;
    if (l->rates_pending && rates_differ(l)) {
        const double v[] = {l->want_rpm, l->want_tpm};
        rc = send_call(l, CALL_RATES, "rates", 2, v);
        if (rc == 0)
            l->rates_pending = 0;
        goto sent;
    }
    l->rates_pending = 0;
    int nr;
    double nt;
    int want = lease_cache_plan(&l->c, &nr, &nt);
    if (want && now >= l->retry_at) {
        int64_t mw = lease_cache_max_wait(&l->c);
        const double v[] = {nr, nt, (double)mw, l->delta, l->c.rpm, l->c.tpm};
        rc = send_call(l, CALL_LEASE, "lease", 6, v);
        if (rc == 0) {
            l->nr_sent = nr;
            l->nt_sent = nt;
            l->mw_sent = mw;
            l->delta_sent = l->delta;
            l->delta = 0;
            l->delta_due = 0;
        }
        goto sent;
    }
    if (l->delta != 0 && now >= l->delta_due) {
        rc = send_call(l, CALL_RECON, "recon", 1, &l->delta);
        if (rc == 0) {
            l->delta_sent = l->delta;
            l->delta = 0;
            l->delta_due = 0;
        }
        goto sent;
    }
    int64_t at = -1;
    if (want)
        at = l->retry_at;
    if (l->delta != 0 && (at < 0 || l->delta_due < at))
        at = l->delta_due;
    arm(l, now, at);
    return;
sent:
    if (rc < 0) { /* out of memory: try again later */
        l->backoff_until = now + RETRY_ERROR_MS;
        arm(l, now, l->backoff_until);
    }
}

/*
 * The answer to the call in flight (NULL: none; the call may or may not have run). The delta
 * that rode along was charged when the script answered; NOLIMIT means the script changed
 * nothing (the hash is gone: init again, then send it again); anything else leaves it unknown
 * (lease_delta_unknown). Pauses and rates are idempotent and are sent again after a failure.
 */
static void on_reply(struct rconn *rc, redisReply *reply, void *ud) {
    (void)rc;
    struct redis_lease *l = ud;
    enum call kind = l->inflight;
    l->inflight = CALL_NONE;
    if (l->dead) {
        unref(l);
        return;
    }
    l->refs--;
    int64_t now = (int64_t)uv_now(l->loop);
    struct redis_limiter_reply rep;
    int res = redis_limiter_parse(reply, &rep);
    if (!reply)
        lease_cache_drop(&l->c); /* Redis is unreachable: no request without the budget */
    if (res >= 0)
        lease_cache_shared(&l->c, rep.rpm, rep.tpm, rep.burst_s);
    if (res == REDIS_LIMITER_NOLIMIT)
        l->inited = 0;
    else if (res < 0)
        l->backoff_until = now + RETRY_ERROR_MS;
    switch (kind) {
    case CALL_INIT:
        l->inited = res >= 0;
        break;
    case CALL_PAUSE:
        if (res < 0 && l->pause_sent > l->pause_until)
            l->pause_until = l->pause_sent;
        break;
    case CALL_RATES:
        if (res < 0)
            l->rates_pending = 1;
        break;
    case CALL_LEASE:
        if (res == 1) {
            lease_cache_grant(&l->c, now, l->nr_sent, l->nt_sent, rep.wait_ms);
        } else if (res == 0 && rep.resize) {
            l->retry_at = now; /* sized for old rates: the cache has the new ones now */
        } else if (res == 0) {
            /* Refused: a pause ends at wait_ms; the budget grants a reservation once its wait
               is within max_wait again. */
            int64_t w = rep.paused ? rep.wait_ms : rep.wait_ms - l->mw_sent;
            l->retry_at = now + (w > 1 ? w : 1);
        }
        break;
    case CALL_RECON:
    case CALL_NONE:
        break;
    }
    if (res == REDIS_LIMITER_NOLIMIT)
        l->delta += l->delta_sent;
    else if (res < 0)
        l->delta += lease_delta_unknown(l->delta_sent);
    l->delta_sent = 0;
    if (l->delta != 0 && l->delta_due == 0)
        l->delta_due = now + DELTA_FLUSH_MS;
    pump(l, now);
    /* What wait() says changed: units came, a refusal set a time, or a failure did. */
    if ((kind == CALL_LEASE || res < 0) && l->base.wake)
        l->base.wake(l->base.wake_ud);
}

/* Redis came or went: gone, the held units go too (no request without the budget); back, the
   limiter asks at once. */
static void on_state(void *ud, int up) {
    struct redis_lease *l = ud;
    if (!up) {
        lease_cache_drop(&l->c);
        return;
    }
    l->backoff_until = 0;
    pump(l, (int64_t)uv_now(l->loop));
}

/* ---- the limiter interface ---- */

static int64_t lease_wait(struct sluice_limiter_s *base, int64_t now, double tokens) {
    struct redis_lease *l = (struct redis_lease *)base;
    int64_t w = lease_cache_wait(&l->c, now, tokens);
    if (w == 0)
        return 0;
    pump(l, now);
    if (w > 0)
        return w;
    if (!rconn_up(l->r->cmd))
        return WAIT_DOWN_MS;
    if (l->inflight != CALL_NONE)
        return WAIT_ASKING_MS;
    int64_t at = l->retry_at > l->backoff_until ? l->retry_at : l->backoff_until;
    return at > now ? at - now : WAIT_ASKING_MS;
}

static void lease_take(struct sluice_limiter_s *base, int64_t now, double tokens) {
    struct redis_lease *l = (struct redis_lease *)base;
    lease_cache_take(&l->c, now, tokens);
    pump(l, now);
}

static void lease_reconcile(struct sluice_limiter_s *base, int64_t now, double est, double actual) {
    struct redis_lease *l = (struct redis_lease *)base;
    double d = actual - est;
    if (d == 0 || !isfinite(d))
        return;
    l->delta += d;
    if (l->delta_due == 0)
        l->delta_due = now + DELTA_FLUSH_MS;
    pump(l, now);
}

/* The pacer's rates; a 0 (not known here) never overwrites what another worker learned. */
static void lease_set_rates(struct sluice_limiter_s *base, int64_t now, double rpm, double tpm) {
    struct redis_lease *l = (struct redis_lease *)base;
    l->want_rpm = rpm > 0 ? rpm : -1;
    l->want_tpm = tpm > 0 ? tpm : -1;
    if (!rates_differ(l))
        return;
    l->rates_pending = 1;
    pump(l, now);
}

/* A burst of 429s asks for about the same pause many times: one call tells Redis, unless a
   later one reaches PAUSE_SLACK_MS past what was already sent. */
static void lease_pause(struct sluice_limiter_s *base, int64_t now, int64_t ms) {
    struct redis_lease *l = (struct redis_lease *)base;
    if (ms <= 0 || now + ms <= l->pause_until || now + ms <= l->pause_sent + PAUSE_SLACK_MS)
        return;
    l->pause_until = now + ms;
    pump(l, now);
}

static void lease_rates(const struct sluice_limiter_s *base, double *rpm, double *tpm) {
    const struct redis_lease *l = (const struct redis_lease *)base;
    *rpm = l->c.rpm;
    *tpm = l->c.tpm;
}

static void lease_free(struct sluice_limiter_s *base) {
    struct redis_lease *l = (struct redis_lease *)base;
    l->dead = 1;
    redis_unlisten(l->r, on_state, l);
    uv_close((uv_handle_t *)&l->timer, on_timer_close);
}

/* no_burst: NULL, the shared budget paces its leases itself (redis_limiter.h). */
static const struct limiter_ops lease_ops = {lease_wait,      lease_take, lease_reconcile,
                                             lease_set_rates, lease_free, lease_pause,
                                             lease_rates,     NULL};

int sluice_redis_limiter_new(sluice_limiter_t **out, sluice_redis_t *r, const char *key, double rpm,
                             double tpm, double burst_s) {
    if (!out || !r || !key || !*key || !isfinite(rpm) || !isfinite(tpm) || !isfinite(burst_s))
        return SLUICE_EINVAL;
    struct redis_lease *l = calloc(1, sizeof(*l));
    if (!l)
        return SLUICE_ENOMEM;
    l->key = redis_limiter_key(key);
    if (!l->key) {
        free(l);
        return SLUICE_ENOMEM;
    }
    l->base.ops = &lease_ops;
    l->r = r;
    l->loop = r->loop;
    l->body = redis_limiter_script(&l->sha);
    l->told_rpm = rpm < 0 ? -1 : rpm;
    l->told_tpm = tpm < 0 ? -1 : tpm;
    l->told_burst = burst_s < 0 ? -1 : burst_s;
    lease_cache_init(&l->c, rpm, tpm, burst_s);
    l->want_rpm = l->want_tpm = -1;
    l->timer_at = -1;
    l->refs = 1;
    uv_timer_init(l->loop, &l->timer);
    l->timer.data = l;
    int rc = redis_listen(r, on_state, l);
    if (rc < 0) {
        lease_free(&l->base); /* the timer closes on the loop, then the memory goes */
        return rc;
    }
    pump(l, (int64_t)uv_now(l->loop));
    *out = &l->base;
    return 0;
}
