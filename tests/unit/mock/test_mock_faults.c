/* The mock's fault draws: reproducible from the seed, and at the configured rates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "mock_faults.h"

#define DRAWS 100000

static void test_same_seed_same_sequence(void **state) {
    (void)state;
    double rates[MOCK_FAULT_COUNT] = {0, 0.1, 0.1, 0.1, 0.1, 0.1};
    struct rng a, b, c;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    rng_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        int sa, sb, sc;
        enum mock_fault fa = mock_faults_pick(rates, &a, &sa);
        enum mock_fault fb = mock_faults_pick(rates, &b, &sb);
        enum mock_fault fc = mock_faults_pick(rates, &c, &sc);
        assert_int_equal(fa, fb);
        assert_int_equal(sa, sb);
        differ += fa != fc;
    }
    assert_true(differ > 100); /* another seed is another sequence */
}

static void test_known_first_values(void **state) {
    (void)state;
    /* splitmix64 reference output for seed 0 (Vigna's splitmix64.c). */
    struct rng r;
    rng_seed(&r, 0);
    assert_true(rng_next(&r) == 0xe220a8397b1dcdafULL);
    assert_true(rng_next(&r) == 0x6e789e6aa1b965f4ULL);
}

static void test_rates_within_tolerance(void **state) {
    (void)state;
    double rates[MOCK_FAULT_COUNT] = {0, 0.05, 0.02, 0.01, 0.10, 0.03};
    long count[MOCK_FAULT_COUNT] = {0}, st500 = 0, st502 = 0, st503 = 0;
    struct rng r;
    rng_seed(&r, 1);
    for (int i = 0; i < DRAWS; i++) {
        int status;
        enum mock_fault f = mock_faults_pick(rates, &r, &status);
        count[f]++;
        if (f == MOCK_FAULT_FAIL) {
            st500 += status == 500;
            st502 += status == 502;
            st503 += status == 503;
        } else {
            assert_int_equal(status, 0);
        }
    }
    double none = 1;
    for (int f = MOCK_FAULT_FAIL; f < MOCK_FAULT_COUNT; f++) {
        /* Five standard deviations of a binomial: fails only when the rate is wrong. */
        double want = rates[f] * DRAWS, tol = 5 * sqrt(want * (1 - rates[f]));
        assert_true(fabs((double)count[f] - want) < tol);
        none -= rates[f];
    }
    assert_true(fabs((double)count[MOCK_FAULT_NONE] - none * DRAWS) < 5 * sqrt(DRAWS * 0.25));
    /* The failures are a mix of 500, 502 and 503, a third each. */
    long fails = count[MOCK_FAULT_FAIL];
    assert_int_equal(st500 + st502 + st503, fails);
    assert_true(labs(st500 - fails / 3) < fails / 10);
    assert_true(labs(st502 - fails / 3) < fails / 10);
    assert_true(labs(st503 - fails / 3) < fails / 10);
}

static void test_rate_zero_never(void **state) {
    (void)state;
    double rates[MOCK_FAULT_COUNT] = {0};
    struct rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < DRAWS; i++) {
        int status;
        assert_int_equal(mock_faults_pick(rates, &r, &status), MOCK_FAULT_NONE);
    }
}

static void test_rate_one_always(void **state) {
    (void)state;
    for (int f = MOCK_FAULT_FAIL; f < MOCK_FAULT_COUNT; f++) {
        double rates[MOCK_FAULT_COUNT] = {0};
        rates[f] = 1;
        struct rng r;
        rng_seed(&r, 7);
        for (int i = 0; i < DRAWS; i++) {
            int status;
            assert_int_equal(mock_faults_pick(rates, &r, &status), f);
        }
    }
}

static void test_unit_in_range(void **state) {
    (void)state;
    struct rng r;
    rng_seed(&r, 3);
    double sum = 0;
    for (int i = 0; i < DRAWS; i++) {
        double u = rng_uniform(&r);
        assert_true(u >= 0 && u < 1);
        sum += u;
    }
    assert_true(fabs(sum / DRAWS - 0.5) < 0.01);
}

static void test_latency_lognormal_median(void **state) {
    (void)state;
    struct rng r;
    rng_seed(&r, 5);
    /* Without jitter the delay is exact, plus the per-token part. */
    assert_true(mock_latency_ms(&r, 200, 0, 0, 50) == 200);
    assert_true(mock_latency_ms(&r, 200, 0, 2, 50) == 300);
    /* With jitter, half the draws fall below the median. */
    int below = 0, spread = 0;
    for (int i = 0; i < DRAWS; i++) {
        double ms = mock_latency_ms(&r, 200, 0.5, 0, 0);
        assert_true(ms > 0);
        below += ms < 200;
        spread += ms > 400 || ms < 100;
    }
    assert_true(abs(below - DRAWS / 2) < DRAWS / 50);
    assert_true(spread > DRAWS / 20); /* sigma 0.5: about 17% are beyond a factor of 2 */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_sequence),  cmocka_unit_test(test_known_first_values),
        cmocka_unit_test(test_rates_within_tolerance),   cmocka_unit_test(test_rate_zero_never),
        cmocka_unit_test(test_rate_one_always),          cmocka_unit_test(test_unit_in_range),
        cmocka_unit_test(test_latency_lognormal_median),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
