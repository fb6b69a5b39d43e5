/* The latency histogram: quantiles within the promised relative error, max exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "histogram.h"

static void test_empty(void **state) {
    (void)state;
    struct hist h;
    memset(&h, 0, sizeof(h));
    assert_true(hist_quantile(&h, 0.5) == 0);
}

static void test_uniform_quantiles(void **state) {
    (void)state;
    static struct hist h;
    memset(&h, 0, sizeof(h));
    for (int i = 1; i <= 10000; i++)
        hist_record(&h, (double)i / 10.0); /* 0.1 .. 1000 ms */
    double qs[] = {0.5, 0.9, 0.99};
    double want[] = {500, 900, 990};
    for (int i = 0; i < 3; i++) {
        double got = hist_quantile(&h, qs[i]);
        assert_true(got >= want[i] * 0.999 && got <= want[i] * 1.07);
    }
    assert_true(hist_quantile(&h, 1.0) == 1000.0);
    assert_true(h.max_ms == 1000.0);
    assert_int_equal(h.count, 10000);
}

static void test_extremes(void **state) {
    (void)state;
    static struct hist h;
    memset(&h, 0, sizeof(h));
    hist_record(&h, 0);
    hist_record(&h, -5);
    hist_record(&h, 1e12);
    assert_int_equal(h.count, 3);
    assert_true(hist_quantile(&h, 0.5) <= 0.02);
    assert_true(hist_quantile(&h, 1.0) == 1e12);
}

static void test_bucket_edges_increase(void **state) {
    (void)state;
    for (int i = 1; i < HIST_BUCKETS; i++)
        assert_true(hist_bucket_upper_ms(i) > hist_bucket_upper_ms(i - 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_uniform_quantiles),
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_bucket_edges_increase),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
