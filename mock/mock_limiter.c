/* GCRA (OpenAI's rate limits), the set of budgets a request is admitted by, and the
 * rate-limit header formats. The other limiter kinds are in mock_budget.c. */
#include "mock_limiter.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Floating-point error must not turn an exact 1000 ms into 1001. */
static int64_t ceil_ms(double ms) {
    return (int64_t)ceil(ms - 1e-6);
}

void mock_gcra_init(struct mock_gcra *g, int64_t per_minute, double burst_s) {
    g->limit = per_minute > 0 ? per_minute : 0;
    g->interval_ms = g->limit ? 60000.0 / (double)g->limit : 0;
    g->tolerance_ms = burst_s * 1000.0;
    /* At least one unit can always be spent at once, or a low limit would admit nothing. */
    if (g->tolerance_ms < g->interval_ms)
        g->tolerance_ms = g->interval_ms;
    g->tat_ms = 0;
}

int64_t mock_gcra_wait_ms(const struct mock_gcra *g, int64_t now_ms, int64_t cost) {
    if (!g->limit)
        return 0;
    if (cost > g->limit)
        return MOCK_NEVER;
    double now = (double)now_ms;
    double debt = g->tat_ms > now ? g->tat_ms - now : 0;
    double need = (double)cost * g->interval_ms;
    if (debt + need <= g->tolerance_ms + 1e-6 || debt <= 0)
        return 0;
    /* A cost larger than the burst waits for a full budget instead of forever. */
    double wait = need > g->tolerance_ms ? debt : debt + need - g->tolerance_ms;
    int64_t w = ceil_ms(wait);
    return w < 1 ? 1 : w;
}

void mock_gcra_charge(struct mock_gcra *g, int64_t now_ms, int64_t cost) {
    if (!g->limit)
        return;
    double now = (double)now_ms;
    double base = g->tat_ms > now ? g->tat_ms : now;
    g->tat_ms = base + (double)cost * g->interval_ms;
}

int64_t mock_gcra_remaining(const struct mock_gcra *g, int64_t now_ms) {
    double debt = g->tat_ms - (double)now_ms;
    if (debt <= 0)
        return g->limit;
    int64_t used = ceil_ms(debt / g->interval_ms);
    return used >= g->limit ? 0 : g->limit - used;
}

int64_t mock_gcra_reset_ms(const struct mock_gcra *g, int64_t now_ms) {
    double debt = g->tat_ms - (double)now_ms;
    return debt > 0 ? ceil_ms(debt) : 0;
}

void mock_limits_init(struct mock_limits *l, int64_t rpm, int64_t tpm, double burst_s) {
    mock_budget_init_gcra(&l->requests, rpm, burst_s);
    mock_budget_init_gcra(&l->tokens, tpm, burst_s);
    mock_budget_init_gcra(&l->input, 0, burst_s);
    mock_budget_init_gcra(&l->output, 0, burst_s);
}

void mock_limits_init_io(struct mock_limits *l, int64_t itpm, int64_t otpm, double burst_s) {
    mock_budget_init_gcra(&l->input, itpm, burst_s);
    mock_budget_init_gcra(&l->output, otpm, burst_s);
}

static int budget_setup(struct mock_budget *b, const struct mock_limits_config *c,
                        int64_t per_minute, int64_t burst) {
    switch (c->algo) {
    case MOCK_ALGO_GCRA:
        return mock_budget_init_gcra(b, per_minute, c->burst_s);
    case MOCK_ALGO_BUCKET:
        return mock_budget_init_bucket(b, per_minute, burst);
    case MOCK_ALGO_FIXED:
        return mock_budget_init_fixed(b, per_minute, c->window_ms, c->origin_ms);
    case MOCK_ALGO_SLIDING:
        return mock_budget_init_sliding(b, per_minute, c->window_ms);
    case MOCK_ALGO_PER_SECOND:
        return mock_budget_init_per_second(b, per_minute);
    }
    return -1;
}

int mock_limits_setup(struct mock_limits *l, const struct mock_limits_config *c) {
    struct mock_limits_config r = *c;
    if (r.algo == MOCK_ALGO_GCRA && r.burst >= 0 && r.rpm > 0)
        r.burst_s = (double)(r.burst + 1) * 60.0 / (double)r.rpm;
    if (r.burst < 0)
        r.burst = 0;
    if (r.token_burst < 0)
        r.token_burst = r.rpm > 0 ? llround((double)r.burst * (double)r.tpm / (double)r.rpm) : 0;
    memset(l, 0, sizeof *l); /* GCRA without a limit: nothing to free */
    if (budget_setup(&l->requests, &r, r.rpm, r.burst) < 0 ||
        budget_setup(&l->tokens, &r, r.tpm, r.token_burst) < 0) {
        mock_limits_free(l);
        return -1;
    }
    mock_limits_init_io(l, r.itpm, r.otpm, r.burst_s);
    return 0;
}

void mock_limits_free(struct mock_limits *l) {
    mock_budget_free(&l->requests);
    mock_budget_free(&l->tokens);
    mock_budget_free(&l->input);
    mock_budget_free(&l->output);
}

void mock_limits_admit_io(struct mock_limits *l, int64_t now_ms, int64_t input, int64_t output,
                          struct mock_verdict *v) {
    struct mock_budget *b[4] = {&l->requests, &l->tokens, &l->input, &l->output};
    const enum mock_budget_id id[4] = {MOCK_LIMIT_REQUESTS, MOCK_LIMIT_TOKENS, MOCK_LIMIT_INPUT,
                                       MOCK_LIMIT_OUTPUT};
    const int64_t cost[4] = {1, input + output, input, output};
    int64_t wait[4];
    v->refused_by = MOCK_LIMIT_NONE;
    v->wait_ms = 0;
    v->too_large = 0;
    for (int i = 0; i < 4; i++) {
        wait[i] = mock_budget_wait_ms(b[i], now_ms, cost[i]);
        if (wait[i] == MOCK_NEVER) {
            v->refused_by = id[i];
            v->too_large = 1;
            return;
        }
    }
    /* Name the first budget that binds, and wait for all: that is when it would pass. */
    for (int i = 0; i < 4; i++) {
        if (wait[i] > 0 && v->refused_by == MOCK_LIMIT_NONE)
            v->refused_by = id[i];
        if (wait[i] > v->wait_ms)
            v->wait_ms = wait[i];
    }
    if (v->refused_by != MOCK_LIMIT_NONE)
        return;
    for (int i = 0; i < 4; i++)
        mock_budget_charge(b[i], now_ms, cost[i]);
}

void mock_limits_admit(struct mock_limits *l, int64_t now_ms, int64_t tokens,
                       struct mock_verdict *v) {
    mock_limits_admit_io(l, now_ms, tokens, 0, v);
}

size_t mock_duration_format(int64_t ms, char *out, size_t n) {
    int r;
    if (ms <= 0) {
        r = snprintf(out, n, "0s");
    } else if (ms < 1000) {
        r = snprintf(out, n, "%lldms", (long long)ms);
    } else {
        long long h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
        char sec[24];
        if (frac) {
            /* Go prints the fraction without trailing zeros: 1.5s, 1.25s, 1.125s. */
            int digits = 3;
            while (frac % 10 == 0) {
                frac /= 10;
                digits--;
            }
            snprintf(sec, sizeof sec, "%lld.%0*llds", s, digits, frac);
        } else {
            snprintf(sec, sizeof sec, "%llds", s);
        }
        if (h)
            r = snprintf(out, n, "%lldh%lldm%s", h, m, sec);
        else if (m)
            r = snprintf(out, n, "%lldm%s", m, sec);
        else
            r = snprintf(out, n, "%s", sec);
    }
    if (r < 0)
        return 0;
    return (size_t)r < n ? (size_t)r : (n ? n - 1 : 0);
}

size_t mock_rfc3339(int64_t unix_ms, char *out, size_t n) {
    time_t t = (time_t)((unix_ms + 999) / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return 0;
    return strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
