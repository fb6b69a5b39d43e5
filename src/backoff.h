#ifndef SLUICE_BACKOFF_H
#define SLUICE_BACKOFF_H

/*
 * Retry delays, drawn from the engine's one seeded PRNG (struct rng, util.h), so a run with a
 * fixed seed can be replayed. Pure functions of their arguments: no clock, no global state.
 */
#include <stdint.h>

#include "util.h"

/*
 * "Full jitter" exponential backoff: uniform in [0, min(cap, base * 2^(attempt-1))] ms, where
 * attempt is the number of attempts already made (>= 1).
 */
int64_t backoff_delay_ms(struct rng *r, int attempt, int64_t base_ms, int64_t cap_ms);

#endif
