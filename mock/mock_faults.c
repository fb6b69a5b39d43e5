#include "mock_faults.h"

#include <math.h>

double mock_rng_normal(struct rng *r) {
    double u1 = 1.0 - rng_uniform(r); /* (0, 1]: log(0) must not happen */
    double u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

enum mock_fault mock_faults_pick(const double rates[MOCK_FAULT_COUNT], struct rng *r, int *status) {
    double u = rng_uniform(r);
    double lo = 0;
    *status = 0;
    for (int f = MOCK_FAULT_FAIL; f < MOCK_FAULT_COUNT; f++) {
        double rate = rates[f];
        if (rate <= 0)
            continue;
        if (u < lo + rate) {
            if (f == MOCK_FAULT_FAIL) {
                double pos = (u - lo) / rate;
                *status = pos < 1.0 / 3 ? 500 : pos < 2.0 / 3 ? 502 : 503;
            }
            return (enum mock_fault)f;
        }
        lo += rate;
    }
    return MOCK_FAULT_NONE;
}

const char *mock_fault_name(enum mock_fault f) {
    static const char *names[MOCK_FAULT_COUNT] = {"none", "fail", "reset",
                                                  "hang", "slow", "bad_json"};
    return (unsigned)f < MOCK_FAULT_COUNT ? names[f] : "?";
}

double mock_latency_ms(struct rng *r, double median_ms, double sigma, double ms_per_token,
                       int64_t completion_tokens) {
    double ms = median_ms;
    /* The median of exp(N(mu, sigma)) is exp(mu): scaling by exp(sigma * z) keeps the median. */
    if (sigma > 0 && median_ms > 0)
        ms *= exp(sigma * mock_rng_normal(r));
    return ms + ms_per_token * (double)completion_tokens;
}
