#include "backoff.h"

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
