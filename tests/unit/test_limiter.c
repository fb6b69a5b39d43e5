/* GCRA pacing on a virtual clock: even spacing on a grid, no bank after a rest, an explicit
   burst that a refusal takes away, debt for large costs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "limiter.h"

/* Takes units as fast as the limiter allows from t=0 and returns how many went by `until`. */
static int drain(struct gcra *g, int64_t until, double cost) {
    int64_t now = 0;
    int n = 0;
    while (now <= until) {
        int64_t w = gcra_wait(g, now, cost);
        if (w > 0) {
            now += w;
            continue;
        }
        gcra_take(g, now, cost);
        n++;
    }
    return n;
}

static void test_even_pacing(void **state) {
    (void)state;
    struct gcra g;
    memset(&g, 0, sizeof(g));
    gcra_set_rate(&g, 600, 1, 0); /* one every 100 ms, no burst */
    assert_int_equal(gcra_wait(&g, 0, 1), 0);
    gcra_take(&g, 0, 1);
    assert_int_equal(gcra_wait(&g, 0, 1), 100);
    assert_int_equal(gcra_wait(&g, 60, 1), 40);
    assert_int_equal(gcra_wait(&g, 100, 1), 0);
    /* A minute's budget takes a minute, not an instant. */
    memset(&g, 0, sizeof(g));
    gcra_set_rate(&g, 600, 1, 0);
    int n = drain(&g, 60000 - 1, 1);
    assert_int_equal(n, 600);
}

static void test_burst_is_bounded(void **state) {
    (void)state;
    struct gcra g;
    memset(&g, 0, sizeof(g));
    gcra_set_rate(&g, 6000, 10, 0); /* 100/s with a burst of 10 */
    int n = 0;
    while (gcra_wait(&g, 0, 1) == 0) {
        gcra_take(&g, 0, 1);
        n++;
    }
    assert_int_equal(n, 10);
    assert_int_equal(gcra_wait(&g, 0, 1), 10);
    assert_true(gcra_available(&g, 0) == 0);
    assert_true(gcra_available(&g, 100000) == 10);
}

static void test_cost_fits_room(void **state) {
    (void)state;
    struct gcra g;
    memset(&g, 0, sizeof(g));
    gcra_set_rate(&g, 60000, 1000, 0); /* 1000 tokens/s, burst 1000 */
    assert_int_equal(gcra_wait(&g, 0, 800), 0);
    gcra_take(&g, 0, 800);
    /* 200 left: a 500-token request waits for 300 more, i.e. 300 ms. */
    assert_int_equal(gcra_wait(&g, 0, 500), 300);
}

static void test_cost_beyond_burst_goes_into_debt(void **state) {
    (void)state;
    struct gcra g;
    memset(&g, 0, sizeof(g));
    gcra_set_rate(&g, 60000, 1000, 0);
    /* 5000 tokens can never fit a 1000-token burst: it goes when the budget is at rest... */
    assert_int_equal(gcra_wait(&g, 0, 5000), 0);
    gcra_take(&g, 0, 5000);
    /* ...and the debt is paid before anything else goes. */
    int64_t w = gcra_wait(&g, 0, 1);
    assert_true(w >= 4000 && w <= 5000);
    /* The average still holds: 20 such requests take about 100 s. */
    memset(&g, 0, sizeof(g));
    gcra_set_rate(&g, 60000, 1000, 0);
    int n = drain(&g, 100000 - 1, 5000);
    assert_int_equal(n, 20);
}

static void test_unlimited(void **state) {
    (void)state;
    struct gcra g;
    memset(&g, 0, sizeof(g));
    gcra_set_rate(&g, 0, 1, 0);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(gcra_wait(&g, 0, 1e9), 0);
        gcra_take(&g, 0, 1e9);
    }
}

static void test_adjust_refunds_and_charges(void **state) {
    (void)state;
    struct gcra g;
    memset(&g, 0, sizeof(g));
    gcra_set_rate(&g, 60000, 1, 0); /* 1 ms per token, no burst */
    gcra_take(&g, 0, 1000);
    assert_int_equal(gcra_wait(&g, 0, 1), 1000);
    gcra_adjust(&g, 0, -600); /* used 400, not 1000 */
    assert_int_equal(gcra_wait(&g, 0, 1), 400);
    gcra_adjust(&g, 0, 100);
    assert_int_equal(gcra_wait(&g, 0, 1), 500);
    gcra_adjust(&g, 0, -1e9); /* a refund never builds credit beyond rest */
    assert_int_equal(gcra_wait(&g, 0, 1), 0);
}

static void test_rate_change_keeps_debt(void **state) {
    (void)state;
    struct gcra g;
    memset(&g, 0, sizeof(g));
    gcra_set_rate(&g, 600, 1, 0);
    gcra_take(&g, 0, 1);
    gcra_take(&g, 0, 1);          /* 200 ms of debt at 100 ms/unit */
    gcra_set_rate(&g, 300, 1, 0); /* now 200 ms/unit: the debt is 2 units = 400 ms */
    assert_int_equal(gcra_wait(&g, 0, 1), 400);
}

static void test_local_limiter_both_budgets(void **state) {
    (void)state;
    struct sluice_limiter_s *l = limiter_local_new(600, 6000, 0, 0); /* 10 req/s, 100 tok/s */
    assert_non_null(l);
    assert_int_equal(l->ops->wait(l, 0, 50), 0);
    l->ops->take(l, 0, 50);
    /* Requests allow one more at 100 ms; tokens need 50 more tokens = 500 ms. */
    assert_int_equal(l->ops->wait(l, 0, 50), 500);
    l->ops->reconcile(l, 0, 50, 10); /* it really cost 10 */
    assert_int_equal(l->ops->wait(l, 0, 50), 100);
    double rpm, tpm;
    limiter_local_rates(l, &rpm, &tpm);
    assert_true(rpm == 600 && tpm == 6000);
    l->ops->free(l);
}

/* Without a burst, units are due on a grid: one sent late by less than half an interval (a
   timer that fired late) keeps the grid, so the rate is kept... */
static void test_grid_keeps_time_lost_to_late_timers(void **state) {
    (void)state;
    struct gcra g;
    memset(&g, 0, sizeof(g));
    gcra_set_rate(&g, 600, 0, 0); /* 100 ms, no burst */
    gcra_take(&g, 0, 1);
    assert_int_equal(gcra_wait(&g, 130, 1), 0);
    gcra_take(&g, 130, 1);                       /* due at 100, sent at 130 */
    assert_int_equal(gcra_wait(&g, 130, 1), 70); /* next due at 200, not 230 */
    /* ... and never two at once: the grid's next unit is never due sooner than now. */
    assert_int_equal(gcra_wait(&g, 199, 1), 1);
    /* Over a minute of timers 40 ms late, still 600 units. */
    memset(&g, 0, sizeof(g));
    gcra_set_rate(&g, 600, 0, 0);
    int n = 0;
    for (int64_t now = 0; now < 60000;) {
        int64_t w = gcra_wait(&g, now, 1);
        if (w > 0) {
            now += w + 40;
            continue;
        }
        gcra_take(&g, now, 1);
        n++;
    }
    assert_true(n >= 599 && n <= 600);
}

/* ... but a rest (a pause, a run held back elsewhere) banks nothing: after it, one unit, then
   the next an interval later. */
static void test_rest_banks_nothing(void **state) {
    (void)state;
    struct gcra g;
    memset(&g, 0, sizeof(g));
    gcra_set_rate(&g, 6000, 0, 0); /* 10 ms */
    gcra_take(&g, 0, 1);
    assert_int_equal(gcra_wait(&g, 5000, 1), 0);
    gcra_take(&g, 5000, 1);
    assert_int_equal(gcra_wait(&g, 5000, 1), 10);
    assert_true(gcra_available(&g, 5000) == 0);
}

/* A burst given explicitly is the first refusal's: after it, units go on the grid, and the
   burst already spent is paid first. */
static void test_no_burst_after_a_refusal(void **state) {
    (void)state;
    struct sluice_limiter_s *l = limiter_local_new(6000, 0, 0.5, 0); /* 100/s, 50 at once */
    int n = 0;
    while (l->ops->wait(l, 0, 0) == 0 && n < 1000) {
        l->ops->take(l, 0, 0);
        n++;
    }
    assert_int_equal(n, 50);
    l->ops->no_burst(l, 0);
    /* 50 sent at 0 is 500 ms of budget: the next is due then, the one after 10 ms later. */
    assert_int_equal(l->ops->wait(l, 0, 0), 500);
    l->ops->take(l, 500, 0);
    assert_int_equal(l->ops->wait(l, 500, 0), 10);
    /* A rest banks nothing now. */
    l->ops->take(l, 510, 0);
    assert_int_equal(l->ops->wait(l, 9000, 0), 0);
    l->ops->take(l, 9000, 0);
    assert_int_equal(l->ops->wait(l, 9000, 0), 10);
    l->ops->free(l);
}

/* A rate learned while requests went unpaced (the first refusal sets it): the server's budget
   is spent, so the next request is an interval away, not at once. */
static void test_first_rate_starts_an_interval_away(void **state) {
    (void)state;
    struct sluice_limiter_s *l = limiter_local_new(0, 0, 0, 0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(l->ops->wait(l, 0, 0), 0);
        l->ops->take(l, 0, 0);
    }
    l->ops->set_rates(l, 50, 120, 0); /* 2/s */
    assert_int_equal(l->ops->wait(l, 50, 0), 500);
    l->ops->free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_even_pacing),
        cmocka_unit_test(test_grid_keeps_time_lost_to_late_timers),
        cmocka_unit_test(test_rest_banks_nothing),
        cmocka_unit_test(test_no_burst_after_a_refusal),
        cmocka_unit_test(test_first_rate_starts_an_interval_away),
        cmocka_unit_test(test_burst_is_bounded),
        cmocka_unit_test(test_cost_fits_room),
        cmocka_unit_test(test_cost_beyond_burst_goes_into_debt),
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_adjust_refunds_and_charges),
        cmocka_unit_test(test_rate_change_keeps_debt),
        cmocka_unit_test(test_local_limiter_both_budgets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
