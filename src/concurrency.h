#ifndef SLUICE_CONCURRENCY_H
#define SLUICE_CONCURRENCY_H

/*
 * --concurrency auto: an adaptive limit on requests in flight, for servers that saturate
 * instead of announcing limits (vLLM, Ollama, llama.cpp) or that refuse excess concurrency.
 *
 * Two signals, in the style of Netflix's concurrency-limits library:
 *   - drops (503/529 "overloaded", 429 "too many concurrent", timeouts): multiplicative
 *     decrease, at most once per round trip, like TCP on loss (AIMD);
 *   - latency (Gradient): the ratio of the no-load round trip to the recent one. While it stays
 *     near 1 the limit grows by one per limit's worth of successes (additive increase); when
 *     queueing inflates latency past TOLERANCE x no-load, the limit shrinks by the ratio.
 * Pure: every call takes the time.
 */
#include <stdint.h>

struct concurrency {
    double limit;
    int min, max;
    double rtt_noload; /* ms: the lowest recent round trip (slowly forgets, to follow change) */
    double rtt_recent; /* ms: smoothed recent round trip */
    int64_t last_cut_ms;
    double ceiling; /* the limit at the last drop: probed above only slowly */
    uint64_t samples;
};

void concurrency_init(struct concurrency *a, int initial, int min, int max, int64_t now_ms);

/* A successful attempt with its round trip; `in_flight` is how many were out when it ended. */
void concurrency_on_success(struct concurrency *a, int64_t now_ms, double rtt_ms, int in_flight);

/* An attempt refused or lost for overload. */
void concurrency_on_drop(struct concurrency *a, int64_t now_ms);

/* A refusal that says the concurrency itself is too high: with `in_flight` still out when it
   came, the server's limit is at most that. */
void concurrency_at_most(struct concurrency *a, int in_flight);

/* The limit now (at least min, at most max). */
int concurrency_limit(const struct concurrency *a);

#endif
