#ifndef SLUICE_RETRY_BUDGET_H
#define SLUICE_RETRY_BUDGET_H

/*
 * Retry throttling as in gRPC (gRFC A6 "gRPC Retry Design", section "Throttling Retry
 * Attempts and Hedged RPCs"): a token bucket that starts full at max_tokens; every failed
 * attempt takes 1 token, every success gives back token_ratio; a retry may be sent only
 * while tokens > max_tokens / 2. Counts are kept in thousandths of a token, as gRPC does,
 * so that a ratio of 0.1 adds up exactly (gRFC A6 allows three decimal places).
 *
 * Why: retries must not multiply the load on a provider that is already failing. The share
 * they may take is bounded: an allowed retry needs tokens > max/2 after its own failure was
 * counted, and tokens never exceed max - failures + ratio * successes, so over any stretch
 *     retries allowed < max_tokens / 2 + token_ratio * successes
 * i.e. with the defaults (100, 0.1) at most 10% of successes plus 50, however long the run
 * and whatever the failure rate.
 *
 * Deliberately not a function of time: it measures the mix of traffic, so a slow provider
 * and a fast one are throttled alike.
 *
 * What the engine feeds it (design note; the budget cannot check):
 *  - Only fault failures: 5xx (including 503/529 overloaded), connection resets, timeouts.
 *    A 429 rate-limit refusal is the pacer's signal (Retry-After, the learned budget); it
 *    says the provider is healthy and busy, so it neither takes nor gives tokens.
 *  - Successes: any 2xx answer.
 *  - While the circuit breaker is open or half-open, nothing: the breaker already holds
 *    traffic down to its probes, and counting each failed probe too would keep retries
 *    throttled long after the provider came back. Probes are never gated by the budget.
 *
 * In a batch tool a throttled retry must not become a failure: the engine holds it and asks
 * again after the next completion. Because a batch can end with only retries left (and then
 * no success would ever refill the bucket), retry_budget_allow() always lets one retry be in
 * flight: progress at the pace of one attempt at a time, which cannot amplify an overload.
 */

#include <stdint.h>

#define RETRY_BUDGET_DEFAULT_MAX_TOKENS 100
#define RETRY_BUDGET_DEFAULT_RATIO      0.1

struct retry_budget {
    int64_t max_milli;   /* max_tokens * 1000 */
    int64_t ratio_milli; /* token_ratio * 1000 */
    int64_t milli;       /* tokens now, in thousandths */
};

/*
 * Starts full. gRFC A6 ranges, clamped: max_tokens 1..1000, token_ratio 0.001..1 (rounded
 * to three decimal places). The engine should pass max_tokens >= 2 x concurrency, so that
 * one lost HTTP/2 connection failing every request in flight at once is still retried at
 * full speed.
 */
void retry_budget_init(struct retry_budget *rb, int max_tokens, double token_ratio);

/* An attempt succeeded: gives back token_ratio, up to max_tokens. */
void retry_budget_on_success(struct retry_budget *rb);

/* An attempt failed with a fault (not a 429): takes one token, down to 0. */
void retry_budget_on_failure(struct retry_budget *rb);

/*
 * 1 if a retry may be sent now: tokens > max_tokens / 2, or no other retry is in flight
 * (`retries_in_flight` == 0, the progress rule above). 0: hold it and ask again later.
 */
int retry_budget_allow(const struct retry_budget *rb, int retries_in_flight);

/* Tokens now (for status lines and stats). */
double retry_budget_tokens(const struct retry_budget *rb);

#endif
