/* The mock's rate limiter on a virtual clock: burst, refusal, refill, headers, formats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mock_limiter.h"

/* 60 RPM with a 1 s burst: one request at once, then one per second. */
static void test_burst_then_refusal(void **state) {
    (void)state;
    struct mock_gcra g;
    mock_gcra_init(&g, 600, 1.0); /* 10 per second, burst of 10 */
    int64_t now = 100000;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(mock_gcra_wait_ms(&g, now, 1), 0);
        mock_gcra_charge(&g, now, 1);
    }
    assert_int_equal(mock_gcra_wait_ms(&g, now, 1), 100);
}

static void test_refill_rate(void **state) {
    (void)state;
    struct mock_gcra g;
    mock_gcra_init(&g, 600, 1.0);
    int64_t now = 0;
    for (int i = 0; i < 10; i++)
        mock_gcra_charge(&g, now, 1);
    /* One unit refills every 100 ms: not at 99, exactly at 100, and two at 200. */
    assert_int_equal(mock_gcra_wait_ms(&g, 99, 1), 1);
    assert_int_equal(mock_gcra_wait_ms(&g, 100, 1), 0);
    assert_int_equal(mock_gcra_wait_ms(&g, 100, 2), 100);
    assert_int_equal(mock_gcra_wait_ms(&g, 200, 2), 0);
    /* Over 10 virtual seconds of steady demand exactly 100 more are admitted. */
    int admitted = 0;
    for (int64_t t = 100; t < 10100; t++) {
        if (mock_gcra_wait_ms(&g, t, 1) == 0) {
            mock_gcra_charge(&g, t, 1);
            admitted++;
        }
    }
    assert_int_equal(admitted, 100);
}

static void test_retry_after_exact(void **state) {
    (void)state;
    struct mock_limits l;
    mock_limits_init(&l, 60, 0, 1.0); /* 1 per second, burst 1 */
    struct mock_verdict v;
    mock_limits_admit(&l, 5000, 1, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    mock_limits_admit(&l, 5250, 1, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_REQUESTS);
    assert_int_equal(v.wait_ms, 750);
    /* The refused request charged nothing: it passes exactly when it was told to. */
    mock_limits_admit(&l, 5250 + 749, 1, &v);
    assert_int_equal(v.wait_ms, 1);
    mock_limits_admit(&l, 5250 + 750, 1, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
}

static void test_low_limit_admits_one(void **state) {
    (void)state;
    struct mock_gcra g;
    mock_gcra_init(&g, 10, 1.0); /* one per 6 s: the burst is less than one request */
    assert_int_equal(mock_gcra_wait_ms(&g, 0, 1), 0);
    mock_gcra_charge(&g, 0, 1);
    assert_int_equal(mock_gcra_wait_ms(&g, 0, 1), 6000);
    assert_int_equal(mock_gcra_wait_ms(&g, 6000, 1), 0);
}

static void test_headers_remaining_reset(void **state) {
    (void)state;
    struct mock_gcra g;
    mock_gcra_init(&g, 60000, 1.0); /* 1000 per second */
    assert_int_equal(mock_gcra_remaining(&g, 0), 60000);
    assert_int_equal(mock_gcra_reset_ms(&g, 0), 0);
    for (int i = 0; i < 500; i++)
        mock_gcra_charge(&g, 0, 1);
    assert_int_equal(mock_gcra_remaining(&g, 0), 59500);
    assert_int_equal(mock_gcra_reset_ms(&g, 0), 500);
    assert_int_equal(mock_gcra_remaining(&g, 200), 59700);
    assert_int_equal(mock_gcra_reset_ms(&g, 200), 300);
    assert_int_equal(mock_gcra_remaining(&g, 500), 60000);
    assert_int_equal(mock_gcra_reset_ms(&g, 900), 0);
}

static void test_tokens_budget(void **state) {
    (void)state;
    struct mock_limits l;
    mock_limits_init(&l, 0, 6000, 1.0); /* 100 tokens per second, burst 100 */
    struct mock_verdict v;
    mock_limits_admit(&l, 0, 60, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    mock_limits_admit(&l, 0, 60, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_TOKENS);
    assert_int_equal(v.wait_ms, 200); /* 20 tokens over the burst at 10 ms each */
    assert_int_equal(v.too_large, 0);
    assert_int_equal(mock_gcra_remaining(&l.tokens, 0), 5940);
    mock_limits_admit(&l, 200, 60, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    /* More than the burst fits once the budget is full, and leaves it in debt. */
    mock_limits_admit(&l, 5000, 500, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    mock_limits_admit(&l, 5000, 1, &v);
    assert_int_equal(v.wait_ms, 4010); /* 5000 ms of debt + 10 ms for the token - 1 s burst */
    /* More than the whole minute never fits. */
    mock_limits_admit(&l, 100000, 6001, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_TOKENS);
    assert_int_equal(v.too_large, 1);
}

static void test_both_budgets_charge_together(void **state) {
    (void)state;
    struct mock_limits l;
    mock_limits_init(&l, 60, 6000, 1.0);
    struct mock_verdict v;
    mock_limits_admit(&l, 0, 100, &v); /* uses the whole burst of both */
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    mock_limits_admit(&l, 500, 10, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_REQUESTS);
    assert_int_equal(v.wait_ms, 500);
    /* The refusal charged no tokens: 50 refilled of the 100 spent at 500 ms. */
    assert_int_equal(mock_gcra_remaining(&l.tokens, 500), 5950);
}

static void test_unlimited(void **state) {
    (void)state;
    struct mock_limits l;
    mock_limits_init(&l, 0, 0, 1.0);
    struct mock_verdict v;
    for (int i = 0; i < 100000; i++) {
        mock_limits_admit(&l, 0, 1000000, &v);
        assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    }
}

static void check_duration(int64_t ms, const char *want) {
    char buf[32];
    size_t n = mock_duration_format(ms, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_duration_format(void **state) {
    (void)state;
    check_duration(0, "0s");
    check_duration(1, "1ms");
    check_duration(120, "120ms");
    check_duration(999, "999ms");
    check_duration(1000, "1s");
    check_duration(1200, "1.2s");
    check_duration(1250, "1.25s");
    check_duration(1005, "1.005s");
    check_duration(59000, "59s");
    check_duration(60000, "1m0s");
    check_duration(90500, "1m30.5s");
    check_duration(360000, "6m0s");
    check_duration(3600000, "1h0m0s");
    check_duration(3723400, "1h2m3.4s");
}

static void test_rfc3339(void **state) {
    (void)state;
    char buf[40];
    mock_rfc3339(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    mock_rfc3339(1714564800000, buf, sizeof buf);
    assert_string_equal(buf, "2024-05-01T12:00:00Z");
    mock_rfc3339(1714564800001, buf, sizeof buf); /* rounds up: never earlier than the reset */
    assert_string_equal(buf, "2024-05-01T12:00:01Z");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refusal),
        cmocka_unit_test(test_refill_rate),
        cmocka_unit_test(test_retry_after_exact),
        cmocka_unit_test(test_low_limit_admits_one),
        cmocka_unit_test(test_headers_remaining_reset),
        cmocka_unit_test(test_tokens_budget),
        cmocka_unit_test(test_both_budgets_charge_together),
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_duration_format),
        cmocka_unit_test(test_rfc3339),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
