/* gRPC-style retry throttling (gRFC A6): starts full, throttles under failures, refills with
   successes at the ratio, and bounds the share of retries over a long run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "backoff.h"
#include "retry_budget.h"

/* Some other retry is in flight, so only the tokens decide. */
#define BUSY 1

static void test_starts_full(void **state) {
    (void)state;
    struct retry_budget rb;
    retry_budget_init(&rb, 100, 0.1);
    assert_true(retry_budget_tokens(&rb) == 100);
    assert_true(retry_budget_allow(&rb, BUSY));
    /* Successes cannot push it above the top. */
    for (int i = 0; i < 1000; i++)
        retry_budget_on_success(&rb);
    assert_true(retry_budget_tokens(&rb) == 100);
}

static void test_throttles_at_half(void **state) {
    (void)state;
    struct retry_budget rb;
    retry_budget_init(&rb, 100, 0.1);
    /* 49 failures leave 51 > 50: retries still go. */
    for (int i = 0; i < 49; i++)
        retry_budget_on_failure(&rb);
    assert_true(retry_budget_allow(&rb, BUSY));
    /* The 50th leaves exactly 50, which is not more than half. */
    retry_budget_on_failure(&rb);
    assert_true(retry_budget_tokens(&rb) == 50);
    assert_false(retry_budget_allow(&rb, BUSY));
    /* Failures never take it below zero (so recovery never has a debt to pay first). */
    for (int i = 0; i < 1000; i++)
        retry_budget_on_failure(&rb);
    assert_true(retry_budget_tokens(&rb) == 0);
}

static void test_refills_at_ratio(void **state) {
    (void)state;
    struct retry_budget rb;
    retry_budget_init(&rb, 100, 0.1);
    for (int i = 0; i < 50; i++)
        retry_budget_on_failure(&rb);
    assert_false(retry_budget_allow(&rb, BUSY));
    /* Any credit above half will do: one success (50.1 > 50) lets retries go again... */
    retry_budget_on_success(&rb);
    assert_true(retry_budget_tokens(&rb) == 50.1);
    assert_true(retry_budget_allow(&rb, BUSY));
    /* ...but a failure is worth ten successes: 49.1 needs ten more, not nine. */
    retry_budget_on_failure(&rb);
    assert_false(retry_budget_allow(&rb, BUSY));
    for (int i = 0; i < 9; i++)
        retry_budget_on_success(&rb);
    assert_false(retry_budget_allow(&rb, BUSY));
    retry_budget_on_success(&rb);
    /* Thousandths add up exactly: ten times 0.1 is one token, not 0.9999. */
    assert_true(retry_budget_tokens(&rb) == 50.1);
    assert_true(retry_budget_allow(&rb, BUSY));
}

static void test_one_retry_always_may_go(void **state) {
    (void)state;
    struct retry_budget rb;
    retry_budget_init(&rb, 100, 0.1);
    for (int i = 0; i < 200; i++)
        retry_budget_on_failure(&rb);
    /* Empty bucket: a second retry waits, but a batch whose only work left is retries
       still moves, one attempt at a time. */
    assert_false(retry_budget_allow(&rb, 1));
    assert_false(retry_budget_allow(&rb, 64));
    assert_true(retry_budget_allow(&rb, 0));
}

static void test_init_clamps_to_grfc_ranges(void **state) {
    (void)state;
    struct retry_budget rb;
    retry_budget_init(&rb, 5000, 7.0); /* max 1000 tokens, ratio 1 */
    assert_true(retry_budget_tokens(&rb) == 1000);
    for (int i = 0; i < 10; i++)
        retry_budget_on_failure(&rb);
    retry_budget_on_success(&rb);
    assert_true(retry_budget_tokens(&rb) == 991);
    retry_budget_init(&rb, 0, 0.0); /* max 1 token, ratio 0.001 */
    assert_true(retry_budget_tokens(&rb) == 1);
    assert_true(retry_budget_allow(&rb, BUSY)); /* 1 > 0.5 */
    retry_budget_on_failure(&rb);
    assert_false(retry_budget_allow(&rb, BUSY));
    retry_budget_on_success(&rb);
    assert_true(retry_budget_tokens(&rb) == 0.001);
}

/*
 * A long run against a provider that fails 30% of attempts, where every failure wants a
 * retry at once. However the mix falls, the retries allowed stay under
 * max_tokens / 2 + ratio x successes (the bound in retry_budget.h).
 */
static void test_bounded_share_over_long_mix(void **state) {
    (void)state;
    const int max_tokens = 100;
    const double ratios[] = {0.1, 0.05, 0.5};
    const double fail_rates[] = {0.05, 0.3, 0.6, 1.0};
    for (size_t r = 0; r < sizeof(ratios) / sizeof(ratios[0]); r++) {
        for (size_t f = 0; f < sizeof(fail_rates) / sizeof(fail_rates[0]); f++) {
            struct retry_budget rb;
            retry_budget_init(&rb, max_tokens, ratios[r]);
            struct rng g;
            rng_seed(&g, 42 + r * 10 + f);
            long successes = 0, retries = 0, held = 0;
            for (int i = 0; i < 100000; i++) {
                if (rng_uniform(&g) < fail_rates[f]) {
                    retry_budget_on_failure(&rb);
                    if (retry_budget_allow(&rb, BUSY))
                        retries++;
                    else
                        held++;
                } else {
                    retry_budget_on_success(&rb);
                    successes++;
                }
                assert_true(retries < max_tokens / 2 + ratios[r] * (double)successes + 1e-9);
            }
            /* Light failures are all retried; under heavy failure the budget really bites
               (otherwise this test would prove nothing). */
            if (fail_rates[f] <= 0.05 && ratios[r] >= 0.1)
                assert_int_equal(held, 0);
            if (fail_rates[f] >= 0.3 && ratios[r] <= 0.1)
                assert_true(held > retries);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_full),
        cmocka_unit_test(test_throttles_at_half),
        cmocka_unit_test(test_refills_at_ratio),
        cmocka_unit_test(test_one_retry_always_may_go),
        cmocka_unit_test(test_init_clamps_to_grfc_ranges),
        cmocka_unit_test(test_bounded_share_over_long_mix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
