#include "backoff.h"

/* splitmix64: tiny, fast, and good enough for jitter; any seed (even 0) gives a full stream. */
void rng_seed(struct rng *r, uint64_t seed) {
    r->s = seed;
}

uint64_t rng_next(struct rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double rng_uniform(struct rng *r) {
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

int64_t backoff_delay_ms(struct rng *r, int attempt, int64_t base_ms, int64_t cap_ms) {
    if (attempt < 1)
        attempt = 1;
    int64_t ceil_ms = base_ms;
    for (int i = 1; i < attempt && ceil_ms < cap_ms; i++)
        ceil_ms *= 2;
    if (ceil_ms > cap_ms)
        ceil_ms = cap_ms;
    if (ceil_ms <= 0)
        return 0;
    return (int64_t)(rng_uniform(r) * (double)(ceil_ms + 1));
}
