/* --concurrency auto on a virtual clock: converges under a hard server limit, backs off when
   latency shows queueing, grows when there is room. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "concurrency.h"

/* A server that refuses at once beyond `cap` in flight and answers in `rtt` ms otherwise. A
   closed loop: the client keeps `limit` requests out. Returns the share refused. */
static double simulate_cap(struct concurrency *a, int cap, double rtt, int rounds) {
    int64_t now = 0;
    long sent = 0, refused = 0;
    for (int r = 0; r < rounds; r++) {
        int limit = concurrency_limit(a);
        for (int i = 0; i < limit; i++) {
            sent++;
            if (i >= cap) {
                refused++;
                concurrency_on_drop(a, now);
            } else {
                concurrency_on_success(a, now, rtt, limit);
            }
        }
        now += (int64_t)rtt;
    }
    return (double)refused / (double)sent;
}

static void test_converges_under_hard_cap(void **state) {
    (void)state;
    struct concurrency a;
    concurrency_init(&a, 16, 1, 1024, 0);
    double refused = simulate_cap(&a, 40, 50, 2000);
    assert_true(concurrency_limit(&a) <= 41);
    assert_true(concurrency_limit(&a) >= 25);
    assert_true(refused < 0.02);
}

static void test_grows_when_room(void **state) {
    (void)state;
    struct concurrency a;
    concurrency_init(&a, 4, 1, 64, 0);
    int64_t now = 0;
    for (int i = 0; i < 5000; i++, now += 1)
        concurrency_on_success(&a, now, 20, concurrency_limit(&a));
    assert_int_equal(concurrency_limit(&a), 64);
}

static void test_no_growth_when_idle(void **state) {
    (void)state;
    struct concurrency a;
    concurrency_init(&a, 10, 1, 64, 0);
    for (int i = 0; i < 5000; i++)
        concurrency_on_success(&a, i, 20, 2);
    assert_int_equal(concurrency_limit(&a), 10);
}

static void test_latency_growth_shrinks(void **state) {
    (void)state;
    struct concurrency a;
    concurrency_init(&a, 100, 1, 1024, 0);
    int64_t now = 0;
    for (int i = 0; i < 200; i++, now += 10)
        concurrency_on_success(&a, now, 20, 100);
    int before = concurrency_limit(&a);
    /* The server saturates: latency goes to 10x the no-load round trip. */
    for (int i = 0; i < 400; i++, now += 10)
        concurrency_on_success(&a, now, 200, concurrency_limit(&a));
    assert_true(concurrency_limit(&a) < before / 2);
}

static void test_one_cut_per_round_trip(void **state) {
    (void)state;
    struct concurrency a;
    concurrency_init(&a, 100, 1, 1024, 0);
    concurrency_on_success(&a, 0, 100, 100);
    concurrency_on_drop(&a, 1000);
    int after_one = concurrency_limit(&a);
    for (int i = 0; i < 20; i++)
        concurrency_on_drop(&a, 1001 + i);
    assert_int_equal(concurrency_limit(&a), after_one);
    assert_int_equal(after_one, 80);
    concurrency_on_drop(&a, 1200);
    assert_int_equal(concurrency_limit(&a), 64);
}

/* A server that answers "too many concurrent" at once beyond `cap`: the client learns the cap
   from what was out, then probes above it only rarely. */
static void test_at_most_and_slow_probe(void **state) {
    (void)state;
    struct concurrency a;
    concurrency_init(&a, 32, 1, 1024, 0);
    concurrency_at_most(&a, 8);
    assert_int_equal(concurrency_limit(&a), 8);
    int64_t now = 0;
    long refused = 0, sent = 0;
    for (int r = 0; r < 2000; r++, now += 50) {
        int limit = concurrency_limit(&a);
        for (int i = 0; i < limit; i++) {
            sent++;
            if (i >= 8) {
                refused++;
                concurrency_at_most(&a, 8);
            } else {
                concurrency_on_success(&a, now, 50, limit);
            }
        }
    }
    assert_true(concurrency_limit(&a) <= 9);
    assert_true((double)refused / (double)sent < 0.02);
}

static void test_bounds(void **state) {
    (void)state;
    struct concurrency a;
    concurrency_init(&a, 500, 2, 8, 0);
    assert_int_equal(concurrency_limit(&a), 8);
    for (int i = 0; i < 100; i++)
        concurrency_on_drop(&a, (int64_t)i * 1000);
    assert_int_equal(concurrency_limit(&a), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_converges_under_hard_cap),
        cmocka_unit_test(test_grows_when_room),
        cmocka_unit_test(test_no_growth_when_idle),
        cmocka_unit_test(test_latency_growth_shrinks),
        cmocka_unit_test(test_one_cut_per_round_trip),
        cmocka_unit_test(test_at_most_and_slow_probe),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
