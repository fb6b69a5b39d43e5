#include "util.h"

/* FNV-1a (Fowler, Noll, Vo): xor a byte in, multiply by the 64-bit FNV prime. */
static uint64_t util_fnv1a64_from(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t util_fnv1a64(const void *p, size_t n) {
    return util_fnv1a64_from(14695981039346656037ULL, p, n);
}

uint64_t util_fnv1a64_short_basis(const void *p, size_t n) {
    return util_fnv1a64_from(1469598103934665603ULL, p, n);
}

uint64_t util_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t util_hash64(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)n * 0xff51afd7ed558ccdULL);
    while (n > 0) {
        /* Little-endian words assembled by hand, so the hash is the same on every CPU: the
         * sink writes it into result ids. */
        uint64_t w = 0;
        size_t k = n < 8 ? n : 8;
        for (size_t i = 0; i < k; i++)
            w |= (uint64_t)s[i] << (8 * i);
        h = util_mix64(h ^ util_mix64(w + k));
        s += k;
        n -= k;
    }
    return util_mix64(h);
}

/* splitmix64 (Steele, Lea, Flood 2014): one add and a mix, full period, any seed (even 0)
 * gives a full stream; tiny, fast, and good enough for jitter and fault injection. */
void rng_seed(struct rng *r, uint64_t seed) {
    r->s = seed;
}

uint64_t rng_next(struct rng *r) {
    return util_mix64(r->s += 0x9e3779b97f4a7c15ULL);
}

double rng_uniform(struct rng *r) {
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}
