#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

/*
 * A latency histogram with bounded relative error: log-linear buckets (16 sub-buckets per
 * power of two, so a quantile is within ~4.5% of the true value) from 0.01 ms to ~5 days, in
 * a fixed array. Recording is O(1) and allocation-free; it observes, it never steers.
 */
#include <stdint.h>

#define HIST_SUB     16
#define HIST_OCTAVES 36
#define HIST_BUCKETS (HIST_SUB * HIST_OCTAVES)

struct hist {
    uint64_t n[HIST_BUCKETS];
    uint64_t count;
    double max_ms;
    double sum_ms;
};

void hist_record(struct hist *h, double ms);
/* The q-quantile (0 < q <= 1) in ms; 0 when empty. Reported as the bucket's upper edge. */
double hist_quantile(const struct hist *h, double q);
/* The upper edge (ms) of bucket i, for Prometheus-style exports. */
double hist_bucket_upper_ms(int i);

#endif
