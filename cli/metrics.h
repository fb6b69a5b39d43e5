#ifndef SLUICE_CLI_METRICS_H
#define SLUICE_CLI_METRICS_H

/*
 * --metrics HOST:PORT: the run's counters, gauges and an attempt-latency histogram in the
 * Prometheus text format (version 0.0.4), served by a tiny HTTP/1.1 responder on the engine's
 * loop. Its handles are unref'd: the run ends when the work is done, scraped or not.
 */
#include <stdio.h>

#include <sluice.h>

#include "cost.h"

/* Upper bounds of the latency buckets, in seconds; +Inf follows. */
#define METRICS_BUCKETS 14

/* The attempt-latency histogram, fed by the attempt callback. */
struct metrics_hist {
    uint64_t bucket[METRICS_BUCKETS]; /* not cumulative: attempts in (bound[i-1], bound[i]] */
    uint64_t count;
    double sum_s;
};

void metrics_hist_observe(struct metrics_hist *h, double latency_ms);

/* Writes the exposition for one scrape. Exposed for unit tests; cost may be NULL. */
void metrics_render(FILE *f, const sluice_stats_t *st, const struct metrics_hist *h,
                    const struct cost_view *cost);

struct metrics;

/*
 * Listens on HOST:PORT (IPv4; port 0 picks one) on `loop`. Returns 0 and *out, or -1 with a
 * reason in err. `cost` may be NULL.
 */
int metrics_start(struct metrics **out, uv_loop_t *loop, const char *hostport, sluice_t *eng,
                  const struct cost *cost, char *err, size_t errlen);

/* The port actually bound (for port 0). */
int metrics_port(const struct metrics *m);

/* For the attempt callback. */
void metrics_observe(struct metrics *m, const sluice_attempt_t *a);

/*
 * Closes the listener and every connection; the memory is freed by the last close callback,
 * so the caller runs the loop once more (uv_run NOWAIT) before freeing the engine. m may be
 * NULL.
 */
void metrics_close(struct metrics *m);

#endif
