/*
 * The shared limiter over an asynchronous Redis connection: see lease.h for the lease
 * cache and shared_limiter.h for the rules of leasing and the pacing they give.
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
#include "lease.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "limiter.h"
#include "redis.h"
#include "shared_limiter.h"
#include "sluice.h"

#define EPS 1e-6

/* ---- the lease cache: pure arithmetic on a clock passed in ---- */

void lease_cache_init(struct lease_cache *c, double rpm, double tpm, double burst_s) {
    memset(c, 0, sizeof(*c));
    c->rpm = rpm > 0 ? rpm : 0;
    c->tpm = tpm > 0 ? tpm : 0;
    c->burst_s = burst_s >= 0 ? burst_s : 0;
    c->fit = REDIS_LIMITER_LEASE_MAX;
}

/* ms per unit of a budget of `per_minute` (0 = unlimited). */
static double interval(double per_minute) {
    return per_minute > 0 ? 60000.0 / per_minute : 0;
}

/* Tokens per request for sizing: the average of those taken, else the waiting request's. */
static double per_request(const struct lease_cache *c) {
    return c->avg_tok > 0 ? c->avg_tok : c->need;
}

int lease_cache_size(const struct lease_cache *c) {
    int k = redis_limiter_lease_size(c->rpm);
    double per = per_request(c);
    if (c->tpm > 0 && per > 0) {
        int kt = redis_limiter_lease_size(c->tpm / per);
        if (kt < k)
            k = kt;
    }
    return k;
}

int64_t lease_cache_max_wait(const struct lease_cache *c) {
    double k = lease_cache_size(c);
    double span = k * interval(c->rpm); /* ms of budget one lease takes */
    double per = per_request(c);
    if (c->tpm > 0 && per > 0 && k * per * interval(c->tpm) > span)
        span = k * per * interval(c->tpm);
    double mw = span * LEASE_HOLD_LEASES;
    if (mw < LEASE_HOLD_MIN_MS)
        mw = LEASE_HOLD_MIN_MS;
    if (mw > LEASE_HOLD_MAX_MS)
        mw = LEASE_HOLD_MAX_MS;
    return (int64_t)mw;
}

static double runs_held(const struct lease_run *r, int n) {
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += r[i].n;
    return sum;
}

/* Appends a lease's run. The runs never overflow (one call in flight, and a lease is asked for
   only when few units are held); if they did, the newest run would take the units from the
   later of the two slots, which delays but never brings a unit forward. */
static void runs_add(struct lease_run *r, int *n, double amount, double at, int size) {
    if (!(amount > EPS))
        return;
    if (*n == LEASE_RUNS) {
        if (at > r[*n - 1].at)
            r[*n - 1].at = at;
        r[*n - 1].n += amount;
        r[*n - 1].size += size;
        return;
    }
    memset(&r[*n], 0, sizeof(r[*n]));
    r[*n].n = amount;
    r[*n].at = at;
    r[*n].size = size;
    (*n)++;
}

/* Uses `amount` tokens from the oldest runs; each moves its run's next slot on by `iv` ms. */
static void runs_use(struct lease_run *r, int *n, double amount, double iv) {
    while (amount > EPS && *n > 0) {
        double d = amount < r[0].n ? amount : r[0].n;
        r[0].n -= d;
        r[0].at += d * iv;
        amount -= d;
        if (r[0].n < EPS) {
            memmove(r, r + 1, (size_t)(*n - 1) * sizeof(*r));
            (*n)--;
        }
    }
}

/*
 * The oldest request held leaves: sent, or `missed` (dropped, its slot long past); the next
 * one's slot is an interval on. A lease used up sizes the next: one that missed slots (the
 * worker had no request ready, or no free connection, when they came) shrinks the size to what
 * it used; one used whole doubles it, up to the full size. So a worker that cannot keep pace
 * with its slots leases only what it uses instead of leasing slots to miss them.
 */
static void req_use(struct lease_cache *c, int missed) {
    struct lease_run *r = &c->req[0];
    if (missed)
        r->missed++;
    else
        r->taken++;
    r->n -= 1;
    r->at += interval(c->rpm);
    if (r->n >= 1 - EPS)
        return;
    if (r->missed > 0)
        c->fit = r->taken > 1 ? r->taken : 1;
    else if (r->taken >= r->size)
        c->fit = c->fit < REDIS_LIMITER_LEASE_MAX / 2 ? 2 * c->fit : REDIS_LIMITER_LEASE_MAX;
    memmove(c->req, c->req + 1, (size_t)(c->n_req - 1) * sizeof(*r));
    c->n_req--;
}

/* Drops `amount` units from the newest runs. */
static void runs_trim(struct lease_run *r, int *n, double amount) {
    while (amount > EPS && *n > 0) {
        struct lease_run *last = &r[*n - 1];
        double d = amount < last->n ? amount : last->n;
        last->n -= d;
        amount -= d;
        if (last->n < EPS)
            (*n)--;
    }
}

/*
 * Moves the slots still ahead from a rate of `from` to `to` per minute, as the script rescales
 * the shared schedule (the time left scales with the interval). Units leased while the budget
 * was unlimited had no slots: they get them one interval apart from `now`, run after run. Under
 * an unlimited budget every unit is usable now.
 */
static void runs_rescale(struct lease_run *r, int n, double from, double to, double now) {
    double end = now;
    for (int i = 0; i < n; i++) {
        if (to <= 0) {
            if (r[i].at > now)
                r[i].at = now;
        } else if (from > 0) {
            if (r[i].at > now)
                r[i].at = now + (r[i].at - now) * from / to;
        } else {
            if (r[i].at < end)
                r[i].at = end;
            end = r[i].at + r[i].n * interval(to);
        }
    }
}

/* Does the cache hold a request unit and, while tpm is limited, `tokens`? */
static int holds(const struct lease_cache *c, double tokens) {
    return runs_held(c->req, c->n_req) >= 1 - EPS &&
           (c->tpm <= 0 || runs_held(c->tok, c->n_tok) >= tokens - EPS);
}

/*
 * Where the next request, costing `tokens`, has its place in the shared schedules: the slot of
 * its request unit, and of its first token (of the last lease its tokens come from, when they
 * span several), whichever is later. (A request unit of an unlimited budget has no slot but the
 * time its lease was usable from.) *usable: when it may go, which a burst brings forward by the
 * tolerance beyond the unit itself (GCRA's tau, with the script's cap = max(burst, interval);
 * none with no burst). Call only when holds().
 */
static double slot_of(const struct lease_cache *c, double tokens, double *usable) {
    double slot = c->req[0].at, u = slot, burst_ms = c->burst_s * 1000;
    if (c->rpm > 0) {
        double iv = interval(c->rpm);
        u = slot - (burst_ms > iv ? burst_ms - iv : 0);
    }
    if (c->tpm > 0 && tokens > 0) {
        double iv = interval(c->tpm), left = tokens, t = c->tok[0].at;
        int i = 0;
        for (; i < c->n_tok && left > EPS; i++) {
            if (c->tok[i].at > t)
                t = c->tok[i].at;
            left -= c->tok[i].n;
        }
        double cap = burst_ms > iv ? burst_ms : iv;
        double e = i <= 1 && cap > tokens * iv ? cap - tokens * iv : 0;
        if (t > slot)
            slot = t;
        if (t - e > u)
            u = t - e;
    }
    *usable = u;
    return slot;
}

/*
 * Drops the requests (each with `tokens`, the tokens of one like the waiting one) whose place
 * in the schedule started more than half an interval before `now` (half a request's worth of
 * tokens, when that is longer; at least LEASE_LATE_MIN_MS). Sent that late, they would go in
 * other workers' slots: this is the local limiter's tolerance, for timer lateness only, and the
 * bound on how far the merged sends of all workers can bunch. A request waiting for the tokens
 * of a lease not yet granted is not late.
 */
static void expire(struct lease_cache *c, int64_t now, double tokens) {
    double late = 0.5 * interval(c->rpm);
    if (0.5 * tokens * interval(c->tpm) > late)
        late = 0.5 * tokens * interval(c->tpm);
    if (late < LEASE_LATE_MIN_MS)
        late = LEASE_LATE_MIN_MS;
    double usable;
    while (c->rpm + c->tpm > 0 && holds(c, tokens)) {
        if (slot_of(c, tokens, &usable) + late >= (double)now)
            break;
        req_use(c, 1);
        runs_use(c->tok, &c->n_tok, tokens, interval(c->tpm));
    }
}

int64_t lease_cache_wait(struct lease_cache *c, int64_t now, double tokens) {
    if (!(tokens >= 0))
        tokens = 0;
    c->sized = 1;
    expire(c, now, tokens);
    int64_t w = -1;
    if (holds(c, tokens)) {
        double usable;
        slot_of(c, tokens, &usable);
        double u = usable - (double)now;
        w = u > EPS ? (int64_t)ceil(u - EPS) : 0;
    }
    if (w != 0) {
        c->need = tokens;
        c->waiting = 1;
    }
    return w;
}

void lease_cache_take(struct lease_cache *c, int64_t now, double tokens) {
    (void)now;
    if (!(tokens >= 0))
        tokens = 0;
    c->sized = 1;
    if (c->n_req > 0)
        req_use(c, 0);
    runs_use(c->tok, &c->n_tok, tokens, interval(c->tpm));
    if (c->avg_tok <= 0)
        c->avg_tok = tokens;
    else
        c->avg_tok += (tokens - c->avg_tok) / LEASE_AVG_N;
    c->need = 0;
    c->waiting = 0;
}

int lease_cache_plan(const struct lease_cache *c, int *nr, double *nt) {
    *nr = 0;
    *nt = 0;
    if (c->tpm > 0 && !c->sized)
        return 0;
    int k = lease_cache_size(c);
    if (c->fit < k)
        k = c->fit;
    double held_req = runs_held(c->req, c->n_req);
    double held_tok = runs_held(c->tok, c->n_tok);
    /* A lease of one (at low rates, or after leases that missed slots) is asked for only by a
       request that waits: fetched ahead, it would be missed by a worker that cannot keep
       pace, whose requests are not ready when their slots come. */
    int r = held_req <= k / 2.0 && (k > 1 || c->waiting) ? k : 0;
    int short_tok = c->tpm > 0 && c->need > held_tok + EPS;
    if (r == 0 && !short_tok)
        return 0;
    /* The waiting request is one of the requests held or asked for; the rest take the average. */
    double others = held_req + r - (c->waiting ? 1 : 0);
    if (others < 0)
        others = 0;
    double want = c->need + others * per_request(c) - held_tok;
    *nr = r;
    *nt = want > 0 ? want : 0;
    return 1;
}

void lease_cache_grant(struct lease_cache *c, int64_t now, int nr, double nt, double req_at_ms,
                       double tok_at_ms) {
    runs_add(c->req, &c->n_req, nr, (double)now + (req_at_ms > 0 ? req_at_ms : 0), nr);
    runs_add(c->tok, &c->n_tok, nt, (double)now + (tok_at_ms > 0 ? tok_at_ms : 0), 0);
}

void lease_cache_shared(struct lease_cache *c, int64_t now, double rpm, double tpm,
                        double burst_s) {
    rpm = rpm > 0 ? rpm : 0;
    tpm = tpm > 0 ? tpm : 0;
    int changed = rpm != c->rpm || tpm != c->tpm || (burst_s >= 0 && burst_s != c->burst_s);
    if (rpm != c->rpm)
        runs_rescale(c->req, c->n_req, c->rpm, rpm, (double)now);
    if (tpm != c->tpm)
        runs_rescale(c->tok, c->n_tok, c->tpm, tpm, (double)now);
    c->rpm = rpm;
    c->tpm = tpm;
    if (burst_s >= 0)
        c->burst_s = burst_s;
    if (!changed)
        return;
    double keep = floor(1.5 * lease_cache_size(c));
    double held_req = runs_held(c->req, c->n_req);
    double drop = held_req - keep;
    if (drop <= 0)
        return;
    runs_trim(c->tok, &c->n_tok, runs_held(c->tok, c->n_tok) * drop / held_req);
    runs_trim(c->req, &c->n_req, drop);
}

void lease_cache_drop(struct lease_cache *c) {
    c->n_req = 0;
    c->n_tok = 0;
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
        lease_cache_shared(&l->c, now, rep.rpm, rep.tpm, rep.burst_s);
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
            lease_cache_grant(&l->c, now, l->nr_sent, l->nt_sent, rep.req_at_ms, rep.tok_at_ms);
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

/* no_burst: NULL, the shared budget paces its leases itself (shared_limiter.h). */
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
