/* The pacer on a virtual clock: told budgets, header limits, AIMD from 429s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pacer.h"

static void send_at_rate(struct pacer *p, int64_t *now, double per_s, int64_t ms) {
    double interval = 1000.0 / per_s;
    double t = (double)*now;
    int64_t end = *now + ms;
    while (t < (double)end) {
        pacer_on_send(p, (int64_t)t);
        t += interval;
    }
    *now = end;
}

static void test_told_budgets_stay(void **state) {
    (void)state;
    struct pacer p;
    pacer_init(&p, 6000, 100000, 0);
    assert_true(p.rpm == 6000 && p.tpm == 100000);
    assert_int_equal(p.rpm_source, PACER_TOLD);
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    h.limit_requests = 500;
    h.limit_tokens = 1000;
    assert_int_equal(pacer_on_headers(&p, &h, 10), 0);
    assert_int_equal(pacer_on_429(&p, 20, 30), 0);
    assert_true(p.rpm == 6000 && p.tpm == 100000);
}

static void test_headers_set_rates_below_limit(void **state) {
    (void)state;
    struct pacer p;
    pacer_init(&p, 0, 0, 0);
    assert_true(p.rpm == 0);
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    h.limit_requests = 6000;
    h.limit_tokens = 2000000;
    assert_int_equal(pacer_on_headers(&p, &h, 0), 1);
    assert_int_equal(p.rpm_source, PACER_HEADERS);
    assert_true(p.rpm > 6000 * 0.95 && p.rpm < 6000);
    assert_true(p.tpm > 2000000 * 0.95 && p.tpm < 2000000);
    /* Azure's -1 (unknown) changes nothing. */
    h.limit_requests = -1;
    h.limit_tokens = -1;
    assert_int_equal(pacer_on_headers(&p, &h, 1), 0);
    assert_true(p.rpm > 5700);
}

static void test_429_with_headers_cuts_share_then_recovers(void **state) {
    (void)state;
    struct pacer p;
    pacer_init(&p, 0, 0, 0);
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    h.limit_requests = 6000;
    pacer_on_headers(&p, &h, 0);
    double full = p.rpm;
    assert_int_equal(pacer_on_429(&p, 100, 200), 1);
    assert_true(p.rpm < full * 0.9);
    /* A second 429 for a request sent before the cut is the same event. */
    assert_int_equal(pacer_on_429(&p, 150, 210), 0);
    double cut = p.rpm;
    for (int64_t t = 1200; t <= 60000; t += 1000)
        pacer_on_success(&p, t);
    assert_true(p.rpm > cut);
    assert_true(p.rpm <= full + 1e-9);
}

static void test_aimd_without_headers(void **state) {
    (void)state;
    struct pacer p;
    int64_t now = 0;
    pacer_init(&p, 0, 0, now);
    /* Sending at 200/s (12000/min) into a 100/s server: the first 429 sets the rate below
       what was measured. */
    send_at_rate(&p, &now, 200, 3000);
    assert_true(pacer_send_rate(&p, now) > 11000 && pacer_send_rate(&p, now) < 13000);
    assert_int_equal(pacer_on_429(&p, now - 10, now), 1);
    assert_int_equal(p.rpm_source, PACER_LEARNED);
    assert_true(p.rpm > 9000 && p.rpm < 11000);
    /* Keep cutting while 429s come for requests sent after each cut. */
    while (p.rpm > 6000) {
        send_at_rate(&p, &now, p.rpm / 60.0, 500);
        assert_int_equal(pacer_on_429(&p, now - 1, now), 1);
    }
    double low = p.rpm;
    assert_true(low > 6000 * 0.8);
    /* Then it climbs slowly while the rate is in use: about 1% of the cut rate a second. */
    for (int i = 0; i < 10; i++) {
        send_at_rate(&p, &now, p.rpm / 60.0, 1000);
        pacer_on_success(&p, now);
    }
    assert_true(p.rpm > low * 1.05 && p.rpm < low * 1.15);
}

static void test_first_cut_from_accepted_rate(void **state) {
    (void)state;
    struct pacer p;
    int64_t now = 0;
    pacer_init(&p, 0, 0, now);
    /* 200/s sent, 100/s accepted (a 6000 RPM server): the cut starts from what got through. */
    for (int i = 0; i < 600; i++, now += 5) {
        pacer_on_send(&p, now);
        if (i % 2 == 0)
            pacer_on_success(&p, now);
    }
    assert_int_equal(pacer_on_429(&p, now - 1, now), 1);
    assert_true(p.rpm > 6000 * 0.8 && p.rpm < 6000 * 0.9);
}

static void test_no_raise_when_rate_unused(void **state) {
    (void)state;
    struct pacer p;
    int64_t now = 0;
    pacer_init(&p, 0, 0, now);
    send_at_rate(&p, &now, 100, 2000);
    pacer_on_429(&p, now - 1, now);
    double r = p.rpm;
    /* Nothing is sent (the run is held back elsewhere): once the sends of the last seconds
       have left the window, the rate must not creep up. */
    for (int i = 0; i < 6; i++) {
        now += 1000;
        pacer_on_success(&p, now);
    }
    double r2 = p.rpm;
    assert_true(r2 <= r * 1.06);
    for (int i = 0; i < 30; i++) {
        now += 1000;
        pacer_on_success(&p, now);
    }
    assert_true(p.rpm == r2);
}

static void test_send_rate_window_forgets(void **state) {
    (void)state;
    struct pacer p;
    int64_t now = 0;
    pacer_init(&p, 0, 0, now);
    send_at_rate(&p, &now, 50, 5000);
    assert_true(pacer_send_rate(&p, now) > 2700 && pacer_send_rate(&p, now) < 3300);
    now += 10000;
    assert_true(pacer_send_rate(&p, now) == 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_told_budgets_stay),
        cmocka_unit_test(test_headers_set_rates_below_limit),
        cmocka_unit_test(test_429_with_headers_cuts_share_then_recovers),
        cmocka_unit_test(test_aimd_without_headers),
        cmocka_unit_test(test_first_cut_from_accepted_rate),
        cmocka_unit_test(test_no_raise_when_rate_unused),
        cmocka_unit_test(test_send_rate_window_forgets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
