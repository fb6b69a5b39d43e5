/* One budget and the algorithm that enforces it (--limiter): nginx's bucket, the fixed window,
 * the sliding log and OpenAI's per-second enforcement, and the dispatch to them and to the
 * GCRA of mock_limiter.c. See mock_limiter.h for what each kind promises. */
#include "mock_limiter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const ALGOS[] = {"gcra", "bucket", "fixed", "sliding", "per-second"};

int mock_algo_parse(const char *name) {
    for (int i = 0; i < (int)(sizeof ALGOS / sizeof ALGOS[0]); i++)
        if (!strcmp(name, ALGOS[i]))
            return i;
    return -1;
}

const char *mock_algo_name(enum mock_algo a) {
    return (unsigned)a < sizeof ALGOS / sizeof ALGOS[0] ? ALGOS[a] : "?";
}

/* Q of a window: round(per_minute * W / 60), at least 1 so that a low limit still admits. */
static int64_t window_quota(int64_t per_minute, int64_t window_ms) {
    int64_t q = llround((double)per_minute * (double)window_ms / 60000.0);
    return q < 1 ? 1 : q;
}

/* ---- nginx limit_req (ngx_http_limit_req_lookup, burst=B nodelay) ------------------------ */

/* What nginx leaks over the ms since the last admitted request: rate * |ms| / 1000 in integer
 * arithmetic (nginx takes the absolute difference, so a clock stepped back leaks too). Long
 * rests are capped where the product would overflow: the level is empty long before. */
static int64_t bucket_leak(const struct mock_bucket *k, int64_t now_ms) {
    int64_t ms = now_ms - k->last_ms;
    if (ms < 0)
        ms = -ms;
    if (ms >= INT64_MAX / k->rate)
        return INT64_MAX / 1000;
    return k->rate * ms / 1000;
}

/* The excess a request of `cost` units would leave: the level after the leak, plus 1000 per
 * unit, never below 0 (the clamp comes after the addition, so a request after a long enough
 * rest leaves 0: that is why burst + 1 come back to back at rest). nginx starts a key it has
 * no node for at 0. The request is refused when this is above the burst. */
static int64_t bucket_excess(const struct mock_bucket *k, int64_t now_ms, int64_t cost) {
    if (k->fresh)
        return 0;
    int64_t x = k->excess - bucket_leak(k, now_ms) + cost * 1000;
    return x < 0 ? 0 : x;
}

static int64_t bucket_wait_ms(const struct mock_bucket *k, int64_t now_ms, int64_t cost) {
    if (bucket_excess(k, now_ms, cost) <= k->burst)
        return 0;
    /* The leak must reach `need`; rate * ms / 1000 >= need first at this ms after last. */
    int64_t need = k->excess + cost * 1000 - k->burst;
    int64_t w = k->last_ms + (need * 1000 + k->rate - 1) / k->rate - now_ms;
    return w < 1 ? 1 : w;
}

/* The level now, before any request. Below 0 is credit that only the next request can use,
 * up to its own cost (the clamp at 0 drops the rest); the headers count one unit of it,
 * which is exact for requests coming back to back. */
static int64_t bucket_level(const struct mock_bucket *k, int64_t now_ms) {
    if (k->fresh)
        return -1000;
    int64_t x = k->excess - bucket_leak(k, now_ms);
    return x < -1000 ? -1000 : x;
}

static int64_t bucket_remaining(const struct mock_bucket *k, int64_t now_ms) {
    int64_t room = k->burst - bucket_level(k, now_ms);
    return room < 0 ? 0 : room / 1000;
}

static int64_t bucket_reset_ms(const struct mock_bucket *k, int64_t now_ms) {
    if (k->fresh)
        return 0;
    int64_t w = k->last_ms + ((k->excess + 1000) * 1000 + k->rate - 1) / k->rate - now_ms;
    return w < 0 ? 0 : w;
}

/* ---- Fixed window ------------------------------------------------------------------------ */

static int64_t fixed_index(const struct mock_fixed *f, int64_t now_ms) {
    int64_t d = now_ms - f->origin_ms;
    return d >= 0 ? d / f->window_ms : -((-d + f->window_ms - 1) / f->window_ms);
}

static int64_t fixed_count(const struct mock_fixed *f, int64_t now_ms) {
    return fixed_index(f, now_ms) == f->index ? f->count : 0;
}

static int64_t fixed_end_ms(const struct mock_fixed *f, int64_t now_ms) {
    return f->origin_ms + (fixed_index(f, now_ms) + 1) * f->window_ms - now_ms;
}

/* ---- Sliding log ------------------------------------------------------------------------- */

static int log_init(struct mock_log *g, int64_t quota, int64_t window_ms) {
    memset(g, 0, sizeof *g);
    g->quota = quota;
    g->window_ms = window_ms;
    g->cap = 16;
    g->e = malloc(g->cap * sizeof *g->e);
    return g->e ? 0 : -1;
}

static struct mock_log_entry *log_at(const struct mock_log *g, size_t i) {
    return &g->e[(g->head + i) % g->cap];
}

/* The entries at the head that have left the window by now_ms; their cost goes to *cost. */
static size_t log_dead(const struct mock_log *g, int64_t now_ms, int64_t *cost) {
    size_t n = 0;
    *cost = 0;
    while (n < g->len && now_ms - log_at(g, n)->t_ms >= g->window_ms)
        *cost += log_at(g, n++)->cost;
    return n;
}

static int64_t log_live(const struct mock_log *g, int64_t now_ms) {
    int64_t dead;
    log_dead(g, now_ms, &dead);
    return g->sum - dead;
}

/* The ms until the window holds at most `target`, as its oldest entries leave (each at
 * t + W), or 0 when it already does. `slot`: one entry must also leave when the ring is full
 * and the request would need an entry of its own (the ring could not grow). */
static int64_t log_until(const struct mock_log *g, int64_t now_ms, int64_t target, int slot) {
    int64_t dead;
    size_t i = log_dead(g, now_ms, &dead);
    int64_t over = g->sum - dead - target;
    int full = slot && g->len - i == g->cap && log_at(g, g->len - 1)->t_ms != now_ms;
    if (over <= 0 && !full)
        return 0;
    if (target <= 0 && !full) /* everything must leave: the newest entry is the last */
        return log_at(g, g->len - 1)->t_ms + g->window_ms - now_ms;
    for (; i < g->len; i++) {
        over -= log_at(g, i)->cost;
        if (over <= 0)
            return log_at(g, i)->t_ms + g->window_ms - now_ms;
    }
    return 0; /* not reached: the live entries hold more than `over` */
}

static int64_t log_wait_ms(const struct mock_log *g, int64_t now_ms, int64_t cost) {
    if (cost > g->quota)
        return MOCK_NEVER;
    return log_until(g, now_ms, g->quota - cost, 1);
}

/* Doubles the ring, oldest entry first. When that fails the ring stays full, and log_until
 * refuses until its oldest entry leaves: fewer admitted, never more than Q. */
static void log_grow(struct mock_log *g) {
    struct mock_log_entry *e = malloc(g->cap * 2 * sizeof *e);
    if (!e)
        return;
    for (size_t i = 0; i < g->len; i++)
        e[i] = *log_at(g, i);
    free(g->e);
    g->e = e;
    g->cap *= 2;
    g->head = 0;
}

static void log_charge(struct mock_log *g, int64_t now_ms, int64_t cost) {
    int64_t dead;
    size_t n = log_dead(g, now_ms, &dead);
    g->head = (g->head + n) % g->cap;
    g->len -= n;
    g->sum -= dead;
    if (cost <= 0)
        return;
    g->sum += cost;
    if (g->len && log_at(g, g->len - 1)->t_ms == now_ms) {
        log_at(g, g->len - 1)->cost += cost;
        return;
    }
    *log_at(g, g->len) = (struct mock_log_entry){.t_ms = now_ms, .cost = cost};
    if (++g->len == g->cap)
        log_grow(g);
}

/* ---- Initialisation ---------------------------------------------------------------------- */

static void budget_clear(struct mock_budget *b, enum mock_algo algo, int64_t per_minute) {
    memset(b, 0, sizeof *b);
    b->algo = algo;
    b->limit = per_minute > 0 ? per_minute : 0;
}

int mock_budget_init_gcra(struct mock_budget *b, int64_t per_minute, double burst_s) {
    budget_clear(b, MOCK_ALGO_GCRA, per_minute);
    mock_gcra_init(&b->u.gcra, b->limit, burst_s);
    return 0;
}

int mock_budget_init_bucket(struct mock_budget *b, int64_t per_minute, int64_t burst) {
    budget_clear(b, MOCK_ALGO_BUCKET, per_minute);
    /* nginx keeps "N r/m" as N * 1000 / 60 milli-requests per second, truncated. */
    b->u.bucket.rate = b->limit * 1000 / 60;
    if (b->u.bucket.rate < 1)
        b->u.bucket.rate = 1;
    b->u.bucket.burst = (burst > 0 ? burst : 0) * 1000;
    b->u.bucket.fresh = 1;
    return 0;
}

int mock_budget_init_fixed(struct mock_budget *b, int64_t per_minute, int64_t window_ms,
                           int64_t origin_ms) {
    budget_clear(b, MOCK_ALGO_FIXED, per_minute);
    b->u.fixed.origin_ms = origin_ms;
    b->u.fixed.window_ms = window_ms > 0 ? window_ms : 60000;
    b->u.fixed.quota = window_quota(b->limit, b->u.fixed.window_ms);
    return 0;
}

int mock_budget_init_sliding(struct mock_budget *b, int64_t per_minute, int64_t window_ms) {
    budget_clear(b, MOCK_ALGO_SLIDING, per_minute);
    if (!b->limit)
        return 0;
    window_ms = window_ms > 0 ? window_ms : 60000;
    return log_init(&b->u.log, window_quota(b->limit, window_ms), window_ms);
}

int mock_budget_init_per_second(struct mock_budget *b, int64_t per_minute) {
    budget_clear(b, MOCK_ALGO_PER_SECOND, per_minute);
    if (!b->limit)
        return 0;
    if (log_init(&b->u.per_second.second, (b->limit + 59) / 60, 1000) < 0)
        return -1;
    if (log_init(&b->u.per_second.minute, b->limit, 60000) < 0) {
        free(b->u.per_second.second.e);
        b->u.per_second.second.e = NULL;
        return -1;
    }
    return 0;
}

void mock_budget_free(struct mock_budget *b) {
    if (b->algo == MOCK_ALGO_SLIDING) {
        free(b->u.log.e);
        b->u.log.e = NULL;
    } else if (b->algo == MOCK_ALGO_PER_SECOND) {
        free(b->u.per_second.second.e);
        free(b->u.per_second.minute.e);
        b->u.per_second.second.e = b->u.per_second.minute.e = NULL;
    }
}

/* ---- The dispatch ------------------------------------------------------------------------ */

int64_t mock_budget_wait_ms(const struct mock_budget *b, int64_t now_ms, int64_t cost) {
    if (!b->limit)
        return 0;
    switch (b->algo) {
    case MOCK_ALGO_GCRA:
        return mock_gcra_wait_ms(&b->u.gcra, now_ms, cost);
    case MOCK_ALGO_BUCKET:
        return cost > b->limit ? MOCK_NEVER : bucket_wait_ms(&b->u.bucket, now_ms, cost);
    case MOCK_ALGO_FIXED: {
        const struct mock_fixed *f = &b->u.fixed;
        if (cost > f->quota)
            return MOCK_NEVER;
        return fixed_count(f, now_ms) + cost <= f->quota ? 0 : fixed_end_ms(f, now_ms);
    }
    case MOCK_ALGO_SLIDING:
        return log_wait_ms(&b->u.log, now_ms, cost);
    case MOCK_ALGO_PER_SECOND: {
        int64_t s = log_wait_ms(&b->u.per_second.second, now_ms, cost);
        int64_t m = log_wait_ms(&b->u.per_second.minute, now_ms, cost);
        if (s == MOCK_NEVER || m == MOCK_NEVER)
            return MOCK_NEVER;
        return s > m ? s : m;
    }
    }
    return 0;
}

void mock_budget_charge(struct mock_budget *b, int64_t now_ms, int64_t cost) {
    if (!b->limit)
        return;
    switch (b->algo) {
    case MOCK_ALGO_GCRA:
        mock_gcra_charge(&b->u.gcra, now_ms, cost);
        break;
    case MOCK_ALGO_BUCKET:
        b->u.bucket.excess = bucket_excess(&b->u.bucket, now_ms, cost);
        b->u.bucket.last_ms = now_ms;
        b->u.bucket.fresh = 0;
        break;
    case MOCK_ALGO_FIXED:
        b->u.fixed.count = fixed_count(&b->u.fixed, now_ms) + cost;
        b->u.fixed.index = fixed_index(&b->u.fixed, now_ms);
        break;
    case MOCK_ALGO_SLIDING:
        log_charge(&b->u.log, now_ms, cost);
        break;
    case MOCK_ALGO_PER_SECOND:
        log_charge(&b->u.per_second.second, now_ms, cost);
        log_charge(&b->u.per_second.minute, now_ms, cost);
        break;
    }
}

int64_t mock_budget_remaining(const struct mock_budget *b, int64_t now_ms) {
    if (!b->limit)
        return 0;
    switch (b->algo) {
    case MOCK_ALGO_GCRA:
        return mock_gcra_remaining(&b->u.gcra, now_ms);
    case MOCK_ALGO_BUCKET:
        return bucket_remaining(&b->u.bucket, now_ms);
    case MOCK_ALGO_FIXED:
        return b->u.fixed.quota - fixed_count(&b->u.fixed, now_ms);
    case MOCK_ALGO_SLIDING:
        return b->u.log.quota - log_live(&b->u.log, now_ms);
    case MOCK_ALGO_PER_SECOND: {
        const struct mock_log *s = &b->u.per_second.second, *m = &b->u.per_second.minute;
        int64_t rs = s->quota - log_live(s, now_ms), rm = m->quota - log_live(m, now_ms);
        return rs < rm ? rs : rm;
    }
    }
    return 0;
}

int64_t mock_budget_reset_ms(const struct mock_budget *b, int64_t now_ms) {
    if (!b->limit)
        return 0;
    switch (b->algo) {
    case MOCK_ALGO_GCRA:
        return mock_gcra_reset_ms(&b->u.gcra, now_ms);
    case MOCK_ALGO_BUCKET:
        return bucket_reset_ms(&b->u.bucket, now_ms);
    case MOCK_ALGO_FIXED:
        return fixed_end_ms(&b->u.fixed, now_ms);
    case MOCK_ALGO_SLIDING:
        return log_until(&b->u.log, now_ms, 0, 0);
    case MOCK_ALGO_PER_SECOND: {
        /* Back to its most: the last second empty and the minute with room for a second's. */
        const struct mock_log *s = &b->u.per_second.second, *m = &b->u.per_second.minute;
        int64_t ws = log_until(s, now_ms, 0, 0), wm = log_until(m, now_ms, m->quota - s->quota, 0);
        return ws > wm ? ws : wm;
    }
    }
    return 0;
}

int64_t mock_budget_used(const struct mock_budget *b, int64_t now_ms) {
    if (!b->limit)
        return 0;
    switch (b->algo) {
    case MOCK_ALGO_GCRA:
        return b->limit - mock_gcra_remaining(&b->u.gcra, now_ms);
    case MOCK_ALGO_BUCKET: {
        int64_t x = bucket_level(&b->u.bucket, now_ms);
        return x <= 0 ? 0 : (x + 999) / 1000;
    }
    case MOCK_ALGO_FIXED:
        return fixed_count(&b->u.fixed, now_ms);
    case MOCK_ALGO_SLIDING:
        return log_live(&b->u.log, now_ms);
    case MOCK_ALGO_PER_SECOND:
        return log_live(&b->u.per_second.minute, now_ms);
    }
    return 0;
}
