/* The mock's randomness: one seeded PRNG, fault selection and latency draws.
 *
 * All random choices of a run come from one splitmix64 stream seeded by --seed, so a run
 * that receives the same requests in the same order makes the same choices. */
#ifndef MOCK_FAULTS_H
#define MOCK_FAULTS_H

#include <stdint.h>

#include "util.h" /* struct rng: the one splitmix64, shared with the engine */

/* Standard normal (Box-Muller; uses two draws). */
double mock_rng_normal(struct rng *r);

/* The faults, in the order their probability bands are laid out on [0, 1). */
enum mock_fault {
    MOCK_FAULT_NONE,
    MOCK_FAULT_FAIL,     /* a 500, 502 or 503 with a JSON error body */
    MOCK_FAULT_RESET,    /* headers and part of the body, then the connection closes */
    MOCK_FAULT_HANG,     /* never answered */
    MOCK_FAULT_SLOW,     /* answered after MOCK_SLOW_FACTOR times the latency */
    MOCK_FAULT_BAD_JSON, /* a 200 whose body is truncated JSON */
    MOCK_FAULT_COUNT
};

/* A slow answer takes this many times the request's latency, and at least MOCK_SLOW_MIN_MS. */
#define MOCK_SLOW_FACTOR 10
#define MOCK_SLOW_MIN_MS 1000

/* Picks the fault for one request from `rates` (indexed by enum mock_fault, each in [0, 1])
 * with exactly one draw: each fault owns a band of [0, 1) as wide as its rate, so each
 * happens with exactly its probability while the rates sum to at most 1 (beyond that, the
 * later faults in the enum are crowded out). For MOCK_FAULT_FAIL, *status gets 500, 502 or
 * 503 (a third each, from where the draw fell in the band); otherwise 0. */
enum mock_fault mock_faults_pick(const double rates[MOCK_FAULT_COUNT], struct rng *r, int *status);
const char *mock_fault_name(enum mock_fault f);

/* The delay of one answer in ms: a lognormal around `median_ms` with spread `sigma` (0 means
 * exactly the median), plus `ms_per_token` per completion token. */
double mock_latency_ms(struct rng *r, double median_ms, double sigma, double ms_per_token,
                       int64_t completion_tokens);

#endif
