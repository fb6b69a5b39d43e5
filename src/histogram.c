#include "histogram.h"

#include <math.h>

/* Values are kept in units of 0.01 ms so sub-millisecond loopback latencies still resolve. */
#define UNIT_MS 0.01

static int bucket_of(double ms) {
    double u = ms / UNIT_MS;
    if (u < 1.0)
        return 0;
    int e;
    double m = frexp(u, &e); /* u = m * 2^e, m in [0.5, 1) */
    int octave = e - 1;
    if (octave >= HIST_OCTAVES)
        return HIST_BUCKETS - 1;
    int sub = (int)((m * 2.0 - 1.0) * HIST_SUB);
    if (sub >= HIST_SUB)
        sub = HIST_SUB - 1;
    return octave * HIST_SUB + sub;
}

double hist_bucket_upper_ms(int i) {
    int octave = i / HIST_SUB, sub = i % HIST_SUB;
    return ldexp(1.0 + (double)(sub + 1) / HIST_SUB, octave) * UNIT_MS;
}

void hist_record(struct hist *h, double ms) {
    if (!(ms >= 0))
        ms = 0;
    h->n[bucket_of(ms)]++;
    h->count++;
    h->sum_ms += ms;
    if (ms > h->max_ms)
        h->max_ms = ms;
}

double hist_quantile(const struct hist *h, double q) {
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->n[i];
        if (seen >= rank) {
            if (i == HIST_BUCKETS - 1)
                return h->max_ms; /* the overflow bucket has no upper edge */
            double up = hist_bucket_upper_ms(i);
            return up < h->max_ms ? up : h->max_ms;
        }
    }
    return h->max_ms;
}
