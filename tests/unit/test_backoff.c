/* Backoff delays and the PRNG: full jitter stays in its window, doubles, caps, and replays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static void test_same_seed_same_stream(void **state) {
    (void)state;
    struct rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(rng_next(&a), rng_next(&b));
    rng_seed(&b, 43);
    rng_seed(&a, 42);
    assert_int_not_equal(rng_next(&a), rng_next(&b));
}

static void test_uniform_range_and_mean(void **state) {
    (void)state;
    struct rng r;
    rng_seed(&r, 0);
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = rng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
    }
    double mean = sum / 100000;
    assert_true(mean > 0.49 && mean < 0.51);
}

static void test_full_jitter_window_doubles(void **state) {
    (void)state;
    struct rng r;
    rng_seed(&r, 7);
    for (int attempt = 1; attempt <= 6; attempt++) {
        int64_t ceil_ms = 1000LL << (attempt - 1);
        int64_t max_seen = 0;
        for (int i = 0; i < 5000; i++) {
            int64_t d = backoff_delay_ms(&r, attempt, 1000, 60000);
            assert_true(d >= 0 && d <= ceil_ms);
            if (d > max_seen)
                max_seen = d;
        }
        /* The whole window is used: the largest draw comes close to its ceiling. */
        assert_true(max_seen > ceil_ms * 9 / 10);
    }
}

static void test_cap(void **state) {
    (void)state;
    struct rng r;
    rng_seed(&r, 9);
    for (int i = 0; i < 10000; i++)
        assert_true(backoff_delay_ms(&r, 40, 1000, 60000) <= 60000);
    assert_int_equal(backoff_delay_ms(&r, 3, 0, 60000), 0);
    assert_int_equal(backoff_delay_ms(&r, 3, 1000, 0), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_stream),
        cmocka_unit_test(test_uniform_range_and_mean),
        cmocka_unit_test(test_full_jitter_window_doubles),
        cmocka_unit_test(test_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
