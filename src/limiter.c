#include "limiter.h"

#include <math.h>
#include <stdlib.h>

void gcra_set_rate(struct gcra *g, double per_minute, double burst, int64_t now_ms) {
    if (per_minute <= 0) {
        g->interval_ms = 0;
        g->tau_ms = 0;
        g->tat_ms = (double)now_ms;
        return;
    }
    double old = g->interval_ms;
    g->interval_ms = 60000.0 / per_minute;
    /* tau allows `burst` units back to back: the first is free, the rest use the tolerance. */
    g->tau_ms = burst > 1 ? (burst - 1) * g->interval_ms : 0;
    if (old > 0 && g->tat_ms > now_ms) {
        /* Rescale the outstanding debt from the old unit time to the new one. */
        g->tat_ms = (double)now_ms + (g->tat_ms - (double)now_ms) * (g->interval_ms / old);
    } else if (g->tat_ms < now_ms) {
        g->tat_ms = (double)now_ms;
    }
}

int64_t gcra_wait(const struct gcra *g, int64_t now_ms, double cost) {
    if (g->interval_ms <= 0 || cost <= 0)
        return 0;
    double tat = g->tat_ms > now_ms ? g->tat_ms : (double)now_ms;
    double inc = cost * g->interval_ms;
    double cap = g->tau_ms + g->interval_ms; /* the burst, in ms of budget */
    /* Normally: admit when the cost fits in the room left, tat + inc - cap <= now. A cost
       beyond the whole burst only needs the budget at rest (tat <= now); it then leaves a debt
       that the next requests wait out. */
    double allow_at = inc <= cap ? tat + inc - cap : tat;
    double w = allow_at - (double)now_ms;
    return w > 0 ? (int64_t)ceil(w) : 0;
}

void gcra_take(struct gcra *g, int64_t now_ms, double cost) {
    if (g->interval_ms <= 0 || cost <= 0)
        return;
    double inc = cost * g->interval_ms, tat = g->tat_ms;
    /* Without a burst, a unit late by less than GCRA_CATCHUP of its own time keeps the grid;
       later, the budget rested and a new grid starts now (limiter.h). */
    double keep = GCRA_CATCHUP * inc;
    if (keep < GCRA_CATCHUP_MS)
        keep = GCRA_CATCHUP_MS;
    if (g->tau_ms > 0)
        keep = 0;
    if (tat < (double)now_ms - keep)
        tat = (double)now_ms;
    g->tat_ms = tat + inc;
}

void gcra_adjust(struct gcra *g, int64_t now_ms, double cost) {
    if (g->interval_ms <= 0)
        return;
    g->tat_ms += cost * g->interval_ms;
    if (g->tat_ms < now_ms)
        g->tat_ms = (double)now_ms;
}

double gcra_available(const struct gcra *g, int64_t now_ms) {
    if (g->interval_ms <= 0)
        return INFINITY;
    double tat = g->tat_ms > now_ms ? g->tat_ms : (double)now_ms;
    double room = (double)now_ms + g->tau_ms + g->interval_ms - tat;
    return room > 0 ? floor(room / g->interval_ms) : 0;
}

/* ---- the local limiter ---- */

struct local {
    struct sluice_limiter_s base;
    struct gcra req, tok;
    double rpm, tpm;
    double burst_s;
};

static int64_t local_wait(struct sluice_limiter_s *l, int64_t now_ms, double tokens) {
    struct local *lc = (struct local *)l;
    int64_t a = gcra_wait(&lc->req, now_ms, 1);
    int64_t b = gcra_wait(&lc->tok, now_ms, tokens);
    return a > b ? a : b;
}

static void local_take(struct sluice_limiter_s *l, int64_t now_ms, double tokens) {
    struct local *lc = (struct local *)l;
    gcra_take(&lc->req, now_ms, 1);
    gcra_take(&lc->tok, now_ms, tokens);
}

static void local_reconcile(struct sluice_limiter_s *l, int64_t now_ms, double est, double actual) {
    struct local *lc = (struct local *)l;
    gcra_adjust(&lc->tok, now_ms, actual - est);
}

static void local_set_rates(struct sluice_limiter_s *l, int64_t now_ms, double rpm, double tpm) {
    struct local *lc = (struct local *)l;
    if (rpm != lc->rpm) {
        gcra_set_rate(&lc->req, rpm, rpm / 60.0 * lc->burst_s, now_ms);
        /* Unpaced until now, requests went as fast as they could: the server's budget is spent
           (a refusal set this rate, most often), so the next one is an interval away. */
        if (lc->rpm <= 0 && rpm > 0)
            lc->req.tat_ms = (double)now_ms + lc->req.interval_ms;
    }
    if (tpm != lc->tpm)
        gcra_set_rate(&lc->tok, tpm, tpm / 60.0 * lc->burst_s, now_ms);
    lc->rpm = rpm;
    lc->tpm = tpm;
}

static void local_no_burst(struct sluice_limiter_s *l, int64_t now_ms) {
    struct local *lc = (struct local *)l;
    if (lc->burst_s == 0)
        return;
    lc->burst_s = 0;
    gcra_set_rate(&lc->req, lc->rpm, 0, now_ms);
    gcra_set_rate(&lc->tok, lc->tpm, 0, now_ms);
}

static void local_free(struct sluice_limiter_s *l) {
    free(l);
}

static const struct limiter_ops local_ops = {
    local_wait, local_take, local_reconcile, local_set_rates, local_free,
    NULL,       NULL,       local_no_burst};

struct sluice_limiter_s *limiter_local_new(double rpm, double tpm, double burst_s, int64_t now_ms) {
    struct local *lc = calloc(1, sizeof(*lc));
    if (!lc)
        return NULL;
    lc->base.ops = &local_ops;
    lc->rpm = rpm;
    lc->tpm = tpm;
    lc->burst_s = burst_s;
    gcra_set_rate(&lc->req, rpm, rpm / 60.0 * burst_s, now_ms);
    gcra_set_rate(&lc->tok, tpm, tpm / 60.0 * burst_s, now_ms);
    return &lc->base;
}

void limiter_local_rates(const struct sluice_limiter_s *l, double *rpm, double *tpm) {
    const struct local *lc = (const struct local *)l;
    *rpm = lc->rpm;
    *tpm = lc->tpm;
}
