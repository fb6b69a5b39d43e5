#include "pacer.h"

#include <math.h>
#include <string.h>

/* Headers announce the limit itself, and a told budget is a budget: pacing a hair under it
   leaves room for clock skew and for jitter in when requests reach the server. */
#define HEADER_MARGIN 0.97
#define TOLD_MARGIN   0.98
#define BETA          0.85 /* a refusal despite announced limits: use this much less of them */
#define ALPHA         0.01 /* ... and take back this fraction of them per second */
#define SHARE_MIN     0.05
/* Probing above the reference: the rate grows by this fraction per second at first, twice
   that after each further second without a refusal. */
#define PROBE_GROWTH 0.10
#define MIN_RPM      1.0
/* After a refusal early in the run, the rate doubles this often until the next one. */
#define FAST_DOUBLE_MS    250.0
#define FAST_DOUBLE_SENDS 2.0
/* At most this share of JITTER_MIN_SENT or more requests sent between two refusals refused:
   arrivals' timing, not the rate (pacer_on_refusal). */
#define JITTER_SHARE    0.02
#define JITTER_MIN_SENT 100
/* After everything was refused at the reference, no probe above it for this long. */
#define NO_PROBE_MS 30000
/* Requests sent since the last change, every one refused, that pause everyone. */
#define ALL_REFUSED_MIN 3
/* The least a refusal takes off a rate that was not in use all along (pacer_on_refusal). */
#define NOT_FULL_FLOOR 0.5
/* The first refusal's rate when nothing at all passed: one a second. */
#define FIRST_FLOOR_RPM 60.0
/* The shortest span between two refusals whose passed requests measure a rate. */
#define BETWEEN_MIN_MS 200

void pacer_init(struct pacer *p, double told_rpm, double told_tpm, int64_t now_ms) {
    memset(p, 0, sizeof(*p));
    p->rpm = told_rpm > 0 ? told_rpm * TOLD_MARGIN : 0;
    p->tpm = told_tpm > 0 ? told_tpm * TOLD_MARGIN : 0;
    p->rpm_source = told_rpm > 0 ? PACER_TOLD : PACER_NONE;
    p->tpm_source = told_tpm > 0 ? PACER_TOLD : PACER_NONE;
    p->share = 1.0;
    p->told_tpm = told_tpm > 0 ? told_tpm : 0;
    p->at_ref_ms = -1;
    p->last_cut_ms = now_ms - 1; /* a request sent at once is news */
    p->last_raise_ms = now_ms;
    p->win_from_ms = now_ms;
    p->win_end_ms = -1;
    p->hint_end_ms = p->hint_at_ms = -1;
    p->all_refused_end = -1;
    p->bucket0_ms = now_ms;
}

/* Moves the window forward to now, clearing buckets that fell out of it. */
static void window_advance(struct pacer *p, int64_t now_ms) {
    int64_t steps = (now_ms - p->bucket0_ms) / PACER_BUCKET_MS;
    if (steps <= 0)
        return;
    int64_t clear = steps > PACER_BUCKETS ? PACER_BUCKETS : steps;
    for (int64_t i = 0; i < clear; i++) {
        p->bucket = (p->bucket + 1) % PACER_BUCKETS;
        p->sends[p->bucket] = 0;
        p->oks[p->bucket] = 0;
        p->nos[p->bucket] = 0;
    }
    p->bucket0_ms += steps * PACER_BUCKET_MS;
}

void pacer_on_send(struct pacer *p, int64_t now_ms) {
    window_advance(p, now_ms);
    p->sends[p->bucket]++;
    p->sends_total++;
}

/*
 * Per minute over the last span_ms: the newest bucket (partly filled) and the older ones the
 * span reaches, the oldest of them counted for the part of it inside the span. A span longer
 * than the run so far still divides by span_ms (see pacer_accept_rate).
 */
static double window_rate(struct pacer *p, const uint32_t *counts, int64_t now_ms,
                          int64_t span_ms) {
    window_advance(p, now_ms);
    if (span_ms > (PACER_BUCKETS - 1) * PACER_BUCKET_MS)
        span_ms = (PACER_BUCKETS - 1) * PACER_BUCKET_MS;
    if (span_ms < PACER_BUCKET_MS)
        span_ms = PACER_BUCKET_MS;
    double n = counts[p->bucket];
    double left = (double)span_ms - (double)(now_ms - p->bucket0_ms);
    for (int i = 1; i < PACER_BUCKETS && left > 0; i++) {
        int b = (p->bucket - i + PACER_BUCKETS) % PACER_BUCKETS;
        double part = left >= PACER_BUCKET_MS ? 1.0 : left / PACER_BUCKET_MS;
        n += part * counts[b];
        left -= PACER_BUCKET_MS;
    }
    return n * 60000.0 / (double)span_ms;
}

double pacer_send_rate(struct pacer *p, int64_t now_ms, int64_t span_ms) {
    return window_rate(p, p->sends, now_ms, span_ms);
}

double pacer_accept_rate(struct pacer *p, int64_t now_ms, int64_t span_ms) {
    return window_rate(p, p->oks, now_ms, span_ms);
}

/* Applies the announced limits, scaled by the share that 429s have cut. */
static int apply_headers(struct pacer *p) {
    int changed = 0;
    if (p->rpm_source != PACER_TOLD && p->header_rpm > 0) {
        double r = p->header_rpm * HEADER_MARGIN * p->share;
        changed |= r != p->rpm;
        p->rpm = r;
        p->rpm_source = PACER_HEADERS;
    }
    if (p->tpm_source != PACER_TOLD && p->header_tpm > 0) {
        double t = p->header_tpm * HEADER_MARGIN * p->share;
        changed |= t != p->tpm;
        p->tpm = t;
        p->tpm_source = PACER_HEADERS;
    }
    return changed;
}

int pacer_on_headers(struct pacer *p, const struct classify_hdrs *h, int64_t now_ms) {
    (void)now_ms;
    /* Azure sends -1 for unknown; a limit of 0 would mean "nothing allowed", which the
       quota class handles, not the pacer. */
    if (h->limit_requests > 0)
        p->header_rpm = (double)h->limit_requests;
    if (h->limit_tokens > 0)
        p->header_tpm = (double)h->limit_tokens;
    return apply_headers(p);
}

int64_t pacer_pause_all_until(struct pacer *p, const struct classify_verdict *v, int64_t now_ms) {
    if (v->cls != CLASS_RATE_LIMITED || v->retry_after_ms < 0)
        return -1;
    int64_t end = now_ms + v->retry_after_ms;
    if (v->hint == HINT_RETRYINFO || v->retry_after_ms > PACER_PAUSE_ALL_MS)
        return end;
    /* Everything sent since the last change refused, and enough of it: the server refuses
       all for now (a spent window, however coarse its wait), not just what comes too fast. */
    uint64_t sent = p->sends_total - p->cut_sends;
    if (p->rpm_source != PACER_NONE && sent >= ALL_REFUSED_MIN && p->cut_nos + 1 >= sent) {
        p->all_refused_end = end;
        return end;
    }
    if (v->hint != HINT_HEADER_MS)
        return -1;
    int64_t d = end - p->hint_end_ms;
    int same = p->hint_at_ms >= 0 && now_ms - p->hint_at_ms >= PACER_SAME_END_MS &&
               d <= PACER_SAME_END_MS && d >= -PACER_SAME_END_MS;
    p->hint_end_ms = end;
    p->hint_at_ms = now_ms;
    return same ? end : -1;
}

void pacer_adopt(struct pacer *p, double shared_rpm) {
    if (shared_rpm <= 0 || p->rpm_source == PACER_TOLD || p->header_rpm > 0 || p->header_tpm > 0)
        return;
    /* Only news: the rate this process wrote itself, or already took, coming back (the shared
       limiter's view lags its writes) would undo its own changes since. */
    if (shared_rpm == p->shared_rpm)
        return;
    p->shared_rpm = shared_rpm;
    if (p->rpm_source == PACER_NONE) {
        p->rpm_source = PACER_LEARNED;
        p->ref_rpm = shared_rpm;
        p->at_ref_ms = -1;
    }
    p->rpm = shared_rpm;
}

void pacer_shared(struct pacer *p) {
    p->shared_rpm = p->rpm;
}

int pacer_searching(const struct pacer *p) {
    return p->rpm_source == PACER_NONE && p->tpm_source == PACER_NONE && p->header_rpm <= 0 &&
           p->header_tpm <= 0;
}

/*
 * The learned rate becomes PACER_MARGIN of `ref` per minute, climbing back to ref (no margin
 * and no climb when `fast`: see pacer_on_refusal).
 */
static void learn_rate(struct pacer *p, double ref, int fast, int64_t now_ms) {
    if (ref < MIN_RPM)
        ref = MIN_RPM;
    p->ref_rpm = ref;
    p->rpm = fast ? ref : ref * PACER_MARGIN;
    p->rpm_source = PACER_LEARNED;
    p->at_ref_ms = -1;
    p->fast = fast;
    p->last_raise_ms = now_ms;
}

static int window_named(struct pacer *p, int64_t end_ms) {
    int64_t d = p->win_end_ms - end_ms;
    if (p->win_end_ms >= 0 && d <= PACER_SAME_WINDOW_MS && d >= -PACER_SAME_WINDOW_MS)
        return 0;
    if (p->win_end_ms >= 0 && end_ms > p->win_end_ms) {
        /* A later window, with nothing accepted since the last one ended. */
        p->win_from_ms = p->win_end_ms;
        p->win_oks = 0;
    }
    p->win_end_ms = end_ms;
    return 1;
}

/* A window's quota over its length, per minute, for everyone (share: see pacer_on_refusal). */
static double window_rate_now(const struct pacer *p, double share) {
    return (double)p->win_oks * 60000.0 / (double)(p->win_end_ms - p->win_from_ms) / share;
}

/*
 * A refusal, during the fast climb, of a request sent within the second the first refusal
 * measured and not yet answered then: that measure counted it as passed. Requests sent
 * together are refused together (an opening of 4 against a burst of 1), so without this the
 * climb starts from twice the limit. The climb keeps its progress.
 */
static int fast_recount(struct pacer *p, double share) {
    double ref = p->ref_rpm - 60.0 / share;
    if (ref < FIRST_FLOOR_RPM)
        ref = FIRST_FLOOR_RPM;
    if (ref >= p->ref_rpm)
        return 0;
    p->rpm *= ref / p->ref_rpm;
    p->ref_rpm = ref;
    return 1;
}

/* Marks a refusal as the last change: what passes from now on measures the next one. */
static void cut(struct pacer *p, int64_t now_ms) {
    p->last_cut_ms = now_ms;
    p->cut_sends = p->sends_total;
    p->cut_nos = 0;
}

/*
 * What passed between the last refusal and this one (per minute, -1 when the span is too
 * short): the requests sent since and not refused. A token bucket was empty at both, so, when
 * the rate was used all along (*full), that is its rate, whatever burst it allows. Sent less
 * (a climb, a pause, slots), it is a floor. Returns 1 when the refusal is one in many: the
 * timing of arrivals (a server that counts time in whole milliseconds, a loop that let two go
 * close together), or a rate a hair over the limit. The rate then stays, and holds there
 * before it probes again.
 */
static int measure_between(struct pacer *p, int64_t now_ms, double *between, int *full) {
    int64_t span = now_ms - p->last_cut_ms;
    *between = -1;
    *full = 0;
    if (p->rpm_source != PACER_LEARNED || span < BETWEEN_MIN_MS)
        return 0;
    double sent = (double)(p->sends_total - p->cut_sends);
    *between = (sent - (double)p->cut_nos) * 60000.0 / (double)span;
    *full = sent >= 0.8 * p->rpm * (double)span / 60000.0;
    if (sent < JITTER_MIN_SENT || (double)p->cut_nos > JITTER_SHARE * sent || p->fast)
        return 0;
    cut(p, now_ms);
    p->ref_rpm = p->rpm;
    p->at_ref_ms = now_ms;
    return 1;
}

/* A refusal that named a window's end, while learning. */
static int learn_window(struct pacer *p, int64_t window_end_ms, int64_t now_ms, double share) {
    if (window_end_ms == p->all_refused_end) {
        /* All refused, and a wait too coarse to measure a window by: the pause is the answer.
           The rate was at or over the limit: a fast climb stops; a probe goes back to the
           reference, and nothing probes above it again for a while. */
        int was_fast = p->fast;
        double ref = was_fast ? BETA * p->rpm : p->ref_rpm;
        if (ref > p->rpm)
            ref = p->rpm;
        learn_rate(p, ref, 0, now_ms);
        if (!was_fast)
            p->probe_after_ms = now_ms + NO_PROBE_MS;
        return 1;
    }
    /* The quota of a window: what was accepted since the last window's end (or the run's
       start, inside this window: an overestimate the next window corrects), over the time to
       this one's end. A window's quota is spent whole, evenly: no margin. */
    p->win_learned = 1;
    learn_rate(p, window_rate_now(p, share), 0, now_ms);
    p->rpm = p->ref_rpm;
    /* The quota is measured, and accepts in this window raise it (window_accept): probe above
       it only after two whole windows. A sliding window refuses each request of a probe until
       the requests of a window ago leave it, each with a wait of its own. */
    p->probe_after_ms = p->win_end_ms + 2 * (p->win_end_ms - p->win_from_ms);
    return 1;
}

/* A refusal without a window, while learning; `between` and `full`: see measure_between. */
static int learn_refusal(struct pacer *p, double between, int full, int64_t now_ms, double share) {
    /* What the server let through over the last second: the requests sent and not refused
       (servers refuse at once, and accept with the model's time, so accepts counted as they
       arrive lag by an answer's time), or the accepts, if more came. */
    double ref = pacer_accept_rate(p, now_ms, 1000);
    double passed = window_rate(p, p->sends, now_ms, 1000) - window_rate(p, p->nos, now_ms, 1000);
    if (passed > ref)
        ref = passed;
    if (between >= 0)
        ref = between;
    ref /= share;
    p->win_learned = 0;
    if (p->rpm_source == PACER_NONE) {
        /* The first refusal. Early in a run what passed in less than a second, counted over a
           second, is a floor of the limit, not a measure: start there, and double until the
           next refusal (pacer_tick). */
        learn_rate(p, ref > 0 ? ref : FIRST_FLOOR_RPM, 1, now_ms);
        return 1;
    }
    if (ref > p->rpm && ref > p->ref_rpm)
        ref = p->rpm; /* refused at this rate: the limit is not above it */
    /* A floor of a measure. In a fast climb the limit is not far below the rate. Sent less
       than the rate allowed (a pause, slots, a probe that grew the rate), the measure may have
       missed what the server would have let through, but not by more than half the rate:
       the refusal says the rate was over the limit. */
    if (p->fast && ref < BETA * p->rpm)
        ref = BETA * p->rpm;
    else if (!p->fast && !full && ref < NOT_FULL_FLOOR * p->rpm)
        ref = NOT_FULL_FLOOR * p->rpm;
    if (ref <= 0)
        ref = p->rpm / 2;
    learn_rate(p, ref, 0, now_ms);
    return 1;
}

int pacer_on_refusal(struct pacer *p, int64_t sent_ms, int64_t now_ms, int64_t window_end_ms,
                     double share) {
    if (share <= 0 || share > 1)
        share = 1;
    window_advance(p, now_ms);
    p->nos[p->bucket]++;
    if (sent_ms >= p->last_cut_ms)
        p->cut_nos++;
    int window = window_end_ms > now_ms && window_end_ms > p->win_from_ms;
    if (window && !window_named(p, window_end_ms))
        return 0; /* that window's end is known: the refusal is no news */
    /* Sent no later than the last change, or refused soon after it (the server's budget was
       still spent): that change already answered it. A refusal ends a fast climb at once. */
    int64_t span = now_ms - p->last_cut_ms;
    if (!window && p->fast && sent_ms <= p->last_cut_ms && sent_ms > p->last_cut_ms - 1000)
        return fast_recount(p, share);
    if (!window && (sent_ms <= p->last_cut_ms ||
                    (p->rpm_source == PACER_LEARNED && !p->fast && span < BETWEEN_MIN_MS)))
        return 0;
    double between;
    int full;
    if (measure_between(p, now_ms, &between, &full))
        return 0;
    cut(p, now_ms);
    p->last_raise_ms = now_ms;
    if (p->rpm_source == PACER_TOLD && p->tpm_source == PACER_TOLD)
        return 0; /* the user's budgets are the user's: the refused request waits its hint */
    if (p->header_rpm > 0 || p->header_tpm > 0) {
        /* The limits are known, yet a 429 came: someone else shares the key. Use less. */
        p->share *= BETA;
        if (p->share < SHARE_MIN)
            p->share = SHARE_MIN;
        apply_headers(p);
        return 1;
    }
    if (p->rpm_source == PACER_TOLD)
        return 0;
    return window ? learn_window(p, window_end_ms, now_ms, share)
                  : learn_refusal(p, between, full, now_ms, share);
}

/* An accept, by the window of its request; returns 1 when it raised a window's quota. */
static int window_accept(struct pacer *p, int64_t sent_ms) {
    if (p->win_end_ms >= 0 && sent_ms >= p->win_end_ms) {
        /* The first accept of the next window: the last one is closed. */
        p->win_from_ms = p->win_end_ms;
        p->win_end_ms = -1;
        p->win_oks = 0;
    }
    if (sent_ms < p->win_from_ms)
        return 0;
    p->win_oks++;
    if (p->win_end_ms < 0 || !p->win_learned || p->rpm_source != PACER_LEARNED)
        return 0;
    double ref = window_rate_now(p, 1);
    if (ref <= p->ref_rpm)
        return 0;
    p->ref_rpm = p->rpm = ref;
    return 1;
}

int pacer_tick(struct pacer *p, int64_t now_ms) {
    if (!p->fast || p->rpm_source != PACER_LEARNED)
        return 0;
    int64_t dt = now_ms - p->last_raise_ms;
    if (dt < 10)
        return 0;
    p->last_raise_ms = now_ms;
    /* In use: sending at half the rate at least (the grid keeps up with a rate that doubles),
       or held back by the budget (a shared one, of which this process sends a part). */
    if (!p->budget_bound && pacer_send_rate(p, now_ms, 500) < 0.5 * p->rpm)
        return 0;
    /* A slow rate doubles no sooner than every FAST_DOUBLE_SENDS of its requests: at 2/s a
       quarter second sees none go, and the doubling would outrun what the server can say. */
    double period = FAST_DOUBLE_SENDS * 60000.0 / p->rpm;
    if (period < FAST_DOUBLE_MS)
        period = FAST_DOUBLE_MS;
    p->rpm *= exp2((double)dt / period);
    return 1;
}

int pacer_on_success(struct pacer *p, int64_t sent_ms, int64_t now_ms) {
    window_advance(p, now_ms);
    p->oks[p->bucket]++;
    if (window_accept(p, sent_ms))
        return 1;
    int64_t dt = now_ms - p->last_raise_ms;
    if (dt < PACER_BUCKET_MS)
        return 0;
    p->last_raise_ms = now_ms;
    double secs = (double)dt / 1000.0;
    if (p->header_rpm > 0 || p->header_tpm > 0) {
        if (p->share >= 1.0)
            return 0;
        p->share += ALPHA * secs;
        if (p->share > 1.0)
            p->share = 1.0;
        return apply_headers(p);
    }
    if (p->rpm_source != PACER_LEARNED)
        return 0;
    /* Raise only a rate that is in use: a run held back by its slots would otherwise grow a
       paper rate that bursts into refusals the moment the slots free up. In use: sending at
       it, or held back by the budget (a shared one, of which this process sends a part). */
    if (!p->budget_bound && pacer_send_rate(p, now_ms, 1000) < 0.9 * p->rpm)
        return 0;
    if (p->fast)
        return 0; /* pacer_tick's */
    if (p->rpm < p->ref_rpm) {
        p->rpm += p->ref_rpm * (1 - PACER_MARGIN) / PACER_CRUISE_S * secs;
        if (p->rpm >= p->ref_rpm) {
            p->rpm = p->ref_rpm;
            p->at_ref_ms = now_ms;
        }
        return 1;
    }
    if (p->at_ref_ms < 0)
        p->at_ref_ms = now_ms;
    /* Nothing refused at the reference for a while: it may be low. Probe, doubling the growth
       every further second without a refusal, up to about e-fold a second. A probe that finds
       the limit costs a refusal or two, so a slow rate holds for some of its requests first. */
    int64_t hold = (int64_t)(PACER_HOLD_REQUESTS * 60000.0 / p->ref_rpm);
    if (hold < PACER_HOLD_MS)
        hold = PACER_HOLD_MS;
    int64_t held = now_ms - p->at_ref_ms;
    if (held < hold || now_ms < p->probe_after_ms)
        return 0;
    double growth = PROBE_GROWTH;
    for (int64_t t = held - hold; t >= 1000 && growth < 1; t -= 1000)
        growth *= 2;
    if (growth > 1)
        growth = 1;
    p->rpm *= 1 + growth * secs;
    return 1;
}
