#include "pacer.h"

#include <string.h>

/* Headers announce the limit itself; pacing a hair under it leaves room for clock skew and
   for jitter in when requests reach the server. */
#define HEADER_MARGIN 0.97
#define BETA          0.85 /* multiplicative decrease on a 429 */
#define ALPHA         0.01 /* additive increase per second, as a fraction of the cut rate */
#define SHARE_MIN     0.05

void pacer_init(struct pacer *p, double told_rpm, double told_tpm, int64_t now_ms) {
    memset(p, 0, sizeof(*p));
    p->rpm = told_rpm > 0 ? told_rpm : 0;
    p->tpm = told_tpm > 0 ? told_tpm : 0;
    p->rpm_source = told_rpm > 0 ? PACER_TOLD : PACER_NONE;
    p->tpm_source = told_tpm > 0 ? PACER_TOLD : PACER_NONE;
    p->share = 1.0;
    p->told_tpm = told_tpm > 0 ? told_tpm : 0;
    p->last_cut_ms = now_ms;
    p->last_raise_ms = now_ms;
    p->bucket0_ms = now_ms;
    p->start_ms = now_ms;
}

/* Moves the window forward to now, clearing buckets that fell out of it. */
static void window_advance(struct pacer *p, int64_t now_ms) {
    int64_t steps = (now_ms - p->bucket0_ms) / PACER_BUCKET_MS;
    if (steps <= 0)
        return;
    if (steps > PACER_BUCKETS)
        steps = PACER_BUCKETS;
    for (int64_t i = 0; i < steps; i++) {
        p->bucket = (p->bucket + 1) % PACER_BUCKETS;
        p->sends[p->bucket] = 0;
        p->oks[p->bucket] = 0;
    }
    p->bucket0_ms += ((now_ms - p->bucket0_ms) / PACER_BUCKET_MS) * PACER_BUCKET_MS;
}

void pacer_on_send(struct pacer *p, int64_t now_ms) {
    window_advance(p, now_ms);
    p->sends[p->bucket]++;
}

/* Per minute over the window; the span is at least `min_span_ms`. */
static double window_rate(struct pacer *p, const uint32_t *counts, int64_t now_ms,
                          double min_span_ms) {
    window_advance(p, now_ms);
    uint64_t n = 0;
    for (int i = 0; i < PACER_BUCKETS; i++)
        n += counts[i];
    /* The newest bucket is partly filled: count the time it covers so far. */
    double span_ms =
        (double)(PACER_BUCKETS - 1) * PACER_BUCKET_MS + (double)(now_ms - p->bucket0_ms);
    if (span_ms > (double)(now_ms - p->start_ms))
        span_ms = (double)(now_ms - p->start_ms);
    if (span_ms < min_span_ms)
        span_ms = min_span_ms;
    return (double)n * 60000.0 / span_ms;
}

double pacer_send_rate(struct pacer *p, int64_t now_ms) {
    return window_rate(p, p->sends, now_ms, PACER_BUCKET_MS);
}

double pacer_accept_rate(struct pacer *p, int64_t now_ms) {
    return window_rate(p, p->oks, now_ms, 500);
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

int pacer_on_429(struct pacer *p, int64_t sent_ms, int64_t now_ms) {
    if (sent_ms < p->last_cut_ms)
        return 0; /* sent before the last cut: the cut already answered it */
    p->last_cut_ms = now_ms;
    p->last_raise_ms = now_ms;
    if (p->rpm_source == PACER_TOLD && p->tpm_source == PACER_TOLD)
        return 0; /* the user's budgets are the user's; the pause alone handles a 429 */
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
    /* What the provider let through is the best guess of its rate; what was sent is an upper
       bound when little was accepted yet. */
    double base = p->rpm > 0 ? p->rpm : pacer_send_rate(p, now_ms);
    double accepted = pacer_accept_rate(p, now_ms);
    if (accepted > 0 && accepted < base)
        base = accepted;
    if (base <= 0)
        base = 60; /* nothing measured: start from one a second */
    p->rpm = base * BETA;
    if (p->rpm < 1)
        p->rpm = 1;
    p->rpm_at_cut = p->rpm;
    p->rpm_source = PACER_LEARNED;
    return 1;
}

int pacer_on_success(struct pacer *p, int64_t now_ms) {
    window_advance(p, now_ms);
    p->oks[p->bucket]++;
    int64_t dt = now_ms - p->last_raise_ms;
    if (dt < 1000)
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
       paper rate that bursts into 429s the moment the slots free up. */
    if (pacer_send_rate(p, now_ms) < 0.9 * p->rpm)
        return 0;
    p->rpm += ALPHA * p->rpm_at_cut * secs;
    return 1;
}

double pacer_token_budget(const struct pacer *p) {
    return p->told_tpm > 0 ? p->told_tpm : p->header_tpm;
}
