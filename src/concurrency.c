#include "concurrency.h"

#include <string.h>

#define DROP_FACTOR 0.8  /* cut on a drop */
#define TOLERANCE   2.0  /* latency this many times the no-load round trip means queueing */
#define SMOOTHING   0.1  /* weight of a new sample in the recent round trip */
#define FORGET      0.01 /* how fast the no-load estimate drifts up towards what is seen */

void concurrency_init(struct concurrency *a, int initial, int min, int max, int64_t now_ms) {
    memset(a, 0, sizeof(*a));
    a->min = min < 1 ? 1 : min;
    a->max = max < a->min ? a->min : max;
    a->limit = initial < a->min ? a->min : initial > a->max ? a->max : initial;
    a->last_cut_ms = now_ms;
}

int concurrency_limit(const struct concurrency *a) {
    return (int)a->limit;
}

static void clamp(struct concurrency *a) {
    if (a->limit < a->min)
        a->limit = a->min;
    if (a->limit > a->max)
        a->limit = a->max;
}

void concurrency_on_success(struct concurrency *a, int64_t now_ms, double rtt_ms, int in_flight) {
    if (rtt_ms < 0.01)
        rtt_ms = 0.01;
    if (a->samples++ == 0) {
        a->rtt_noload = a->rtt_recent = rtt_ms;
        return;
    }
    a->rtt_recent += SMOOTHING * (rtt_ms - a->rtt_recent);
    if (rtt_ms < a->rtt_noload)
        a->rtt_noload = rtt_ms;
    else
        a->rtt_noload += FORGET * SMOOTHING * (rtt_ms - a->rtt_noload);
    double gradient = a->rtt_noload * TOLERANCE / a->rtt_recent;
    if (gradient < 1.0) {
        /* Queueing: shrink by the gradient, at most once per round trip and by half. */
        if ((double)(now_ms - a->last_cut_ms) >= a->rtt_recent) {
            a->limit *= gradient < 0.5 ? 0.5 : gradient;
            a->last_cut_ms = now_ms;
            clamp(a);
        }
        return;
    }
    /* Grow only a limit that is in use: an idle limit says nothing about the server. Near the
       level that last failed, grow ten times slower: a hard cap is found again by one refusal
       per ten rounds, not per round. */
    if ((double)in_flight + 1 >= a->limit)
        a->limit += (a->ceiling > 0 && a->limit + 1 >= a->ceiling ? 0.1 : 1.0) / a->limit;
    clamp(a);
}

void concurrency_on_drop(struct concurrency *a, int64_t now_ms) {
    double rtt = a->rtt_recent > 0 ? a->rtt_recent : 100;
    if ((double)(now_ms - a->last_cut_ms) < rtt)
        return; /* one cut per round trip: the drops of one burst are one signal */
    a->ceiling = a->limit;
    a->limit *= DROP_FACTOR;
    a->last_cut_ms = now_ms;
    clamp(a);
}

void concurrency_at_most(struct concurrency *a, int in_flight) {
    double cap = in_flight < a->min ? a->min : in_flight;
    if (a->limit > cap) {
        a->ceiling = a->limit;
        a->limit = cap;
    }
}
