/* The circuit breaker on a virtual clock: when it opens, how long it waits, how it probes,
   when it closes, when it gives up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "breaker.h"

static void setup_default(struct breaker *b) {
    struct breaker_config c;
    breaker_config_init(&c);
    breaker_init(b, &c);
}

/* Sends `n` attempts at `now`, each answered at once with `o`. */
static void attempts(struct breaker *b, int64_t now, int n, enum breaker_outcome o) {
    for (int i = 0; i < n; i++) {
        uint32_t t = breaker_on_send(b, now);
        breaker_record(b, now, t, o);
    }
}

/* Trips a default breaker at `now`: 10 failures, the minimum. */
static void trip(struct breaker *b, int64_t now) {
    attempts(b, now, 10, BREAKER_FAIL);
    assert_int_equal(breaker_state(b, now), BREAKER_OPEN);
}

static void test_defaults(void **state) {
    (void)state;
    struct breaker_config c;
    breaker_config_init(&c);
    assert_int_equal(c.window, 20);
    assert_true(c.open_ratio == 0.5);
    assert_int_equal(c.min_attempts, 10);
    assert_int_equal(c.cooldown_ms, 1000);
    assert_int_equal(c.cooldown_max_ms, 30000);
    assert_int_equal(c.probes, 2);
    assert_int_equal(c.give_up_after_ms, 15 * 60 * 1000);
    struct breaker b;
    breaker_init(&b, &c);
    assert_int_equal(breaker_state(&b, 0), BREAKER_CLOSED);
    assert_int_equal(breaker_wait(&b, 0), 0);
    assert_int_equal(breaker_trips(&b), 0);
    assert_false(breaker_gave_up(&b, 1000LL * 3600 * 24));
}

static void test_opens_on_majority_of_window(void **state) {
    (void)state;
    struct breaker b;
    setup_default(&b);
    /* Half of the last 20 failed: not "most", stays closed. */
    attempts(&b, 0, 10, BREAKER_OK);
    attempts(&b, 0, 10, BREAKER_FAIL);
    assert_int_equal(breaker_state(&b, 0), BREAKER_CLOSED);
    assert_int_equal(breaker_wait(&b, 0), 0);
    /* One more failure pushes the oldest success out: 11 of 20. */
    attempts(&b, 0, 1, BREAKER_FAIL);
    assert_int_equal(breaker_state(&b, 0), BREAKER_OPEN);
    assert_int_equal(breaker_trips(&b), 1);
}

static void test_window_forgets_old_failures(void **state) {
    (void)state;
    struct breaker b;
    setup_default(&b);
    /* 9 failures long ago (never a majority), then 20 successes push them out... */
    attempts(&b, 0, 11, BREAKER_OK);
    attempts(&b, 0, 9, BREAKER_FAIL);
    attempts(&b, 0, 20, BREAKER_OK);
    /* ...so 10 new failures are 10 of 20, not 19 of 20. */
    attempts(&b, 0, 10, BREAKER_FAIL);
    assert_int_equal(breaker_state(&b, 0), BREAKER_CLOSED);
    /* And 40 successes long ago do not shield it: 11 of the last 20 is an outage. */
    attempts(&b, 0, 1, BREAKER_FAIL);
    assert_int_equal(breaker_state(&b, 0), BREAKER_OPEN);
}

static void test_scattered_failures_do_not_open(void **state) {
    (void)state;
    struct breaker b;
    setup_default(&b);
    /* 40% failures, 10,000 attempts: a flaky provider is not a down provider. */
    for (int i = 0; i < 10000; i++)
        attempts(&b, i, 1, i % 5 < 2 ? BREAKER_FAIL : BREAKER_OK);
    assert_int_equal(breaker_state(&b, 10000), BREAKER_CLOSED);
    assert_int_equal(breaker_trips(&b), 0);
}

static void test_min_attempts(void **state) {
    (void)state;
    struct breaker b;
    setup_default(&b);
    /* 9 failures of 9 is every attempt, but too few to judge. */
    attempts(&b, 0, 9, BREAKER_FAIL);
    assert_int_equal(breaker_state(&b, 0), BREAKER_CLOSED);
    attempts(&b, 0, 1, BREAKER_FAIL);
    assert_int_equal(breaker_state(&b, 0), BREAKER_OPEN);
}

static void test_neutral_outcomes_do_not_count(void **state) {
    (void)state;
    struct breaker b;
    setup_default(&b);
    attempts(&b, 0, 9, BREAKER_FAIL);
    attempts(&b, 0, 50, BREAKER_NEUTRAL);
    assert_int_equal(breaker_state(&b, 0), BREAKER_CLOSED);
    attempts(&b, 0, 1, BREAKER_FAIL); /* the neutrals did not fill the window */
    assert_int_equal(breaker_state(&b, 0), BREAKER_OPEN);
}

static void test_waits_the_cooldown(void **state) {
    (void)state;
    struct breaker b;
    setup_default(&b);
    trip(&b, 5000);
    assert_int_equal(breaker_wait(&b, 5000), 1000);
    assert_int_equal(breaker_wait(&b, 5600), 400);
    assert_int_equal(breaker_wait(&b, 5999), 1);
    assert_int_equal(breaker_state(&b, 5999), BREAKER_OPEN);
    assert_int_equal(breaker_state(&b, 6000), BREAKER_HALF_OPEN);
    assert_int_equal(breaker_wait(&b, 6000), 0);
}

static void test_half_open_allows_exactly_probes(void **state) {
    (void)state;
    struct breaker b;
    setup_default(&b);
    trip(&b, 0);
    assert_int_equal(breaker_wait(&b, 1000), 0);
    uint32_t p1 = breaker_on_send(&b, 1000);
    assert_int_equal(breaker_wait(&b, 1000), 0);
    breaker_on_send(&b, 1000);
    /* Both probes out: nothing more goes, however long it takes. */
    assert_int_equal(breaker_wait(&b, 1000), BREAKER_PROBE_POLL_MS);
    assert_int_equal(breaker_wait(&b, 500000), BREAKER_PROBE_POLL_MS);
    assert_int_equal(breaker_state(&b, 500000), BREAKER_HALF_OPEN);
    /* A probe that says nothing (cancelled) frees its slot and decides nothing. */
    breaker_record(&b, 500000, p1, BREAKER_NEUTRAL);
    assert_int_equal(breaker_state(&b, 500000), BREAKER_HALF_OPEN);
    assert_int_equal(breaker_wait(&b, 500000), 0);
}

static void test_probe_success_closes(void **state) {
    (void)state;
    struct breaker b;
    setup_default(&b);
    trip(&b, 0);
    uint32_t p1 = breaker_on_send(&b, 1000);
    uint32_t p2 = breaker_on_send(&b, 1000);
    breaker_record(&b, 1200, p1, BREAKER_OK);
    assert_int_equal(breaker_state(&b, 1200), BREAKER_CLOSED);
    assert_int_equal(breaker_wait(&b, 1200), 0);
    assert_int_equal(breaker_outage_ms(&b, 1200), 0);
    /* The other probe of that round answers late: it no longer decides anything. */
    breaker_record(&b, 1300, p2, BREAKER_FAIL);
    assert_int_equal(breaker_state(&b, 1300), BREAKER_CLOSED);
    /* The window was cleared: 9 failures (with p2's, 10) are not enough to open again. */
    attempts(&b, 1300, 9, BREAKER_FAIL);
    assert_int_equal(breaker_state(&b, 1300), BREAKER_CLOSED);
    assert_int_equal(breaker_trips(&b), 1);
}

static void test_failed_probe_doubles_cooldown_to_cap(void **state) {
    (void)state;
    struct breaker b;
    setup_default(&b);
    trip(&b, 0);
    int64_t now = 0;
    const int64_t want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int64_t w = breaker_wait(&b, now);
        assert_int_equal(w, want[i]);
        now += w;
        assert_int_equal(breaker_wait(&b, now), 0);
        attempts(&b, now, 1, BREAKER_FAIL);
        assert_int_equal(breaker_state(&b, now), BREAKER_OPEN);
    }
    /* Probe rounds are not new outages. */
    assert_int_equal(breaker_trips(&b), 1);
    /* Closing resets the cool-down: the next outage starts at 1 s again. */
    now += breaker_wait(&b, now);
    attempts(&b, now, 1, BREAKER_OK);
    assert_int_equal(breaker_state(&b, now), BREAKER_CLOSED);
    trip(&b, now);
    assert_int_equal(breaker_wait(&b, now), 1000);
    assert_int_equal(breaker_trips(&b), 2);
}

static void test_stale_outcomes_are_ignored(void **state) {
    (void)state;
    struct breaker b;
    setup_default(&b);
    /* 16 requests in flight when the provider goes down. */
    uint32_t old[16];
    for (int i = 0; i < 16; i++)
        old[i] = breaker_on_send(&b, 0);
    for (int i = 0; i < 10; i++)
        breaker_record(&b, 10, old[i], BREAKER_FAIL);
    assert_int_equal(breaker_state(&b, 10), BREAKER_OPEN);
    /* A straggler sent before the trip answers in half-open: not a probe, decides nothing. */
    breaker_record(&b, 1500, old[10], BREAKER_OK);
    assert_int_equal(breaker_state(&b, 1500), BREAKER_HALF_OPEN);
    breaker_record(&b, 1500, old[11], BREAKER_FAIL);
    assert_int_equal(breaker_state(&b, 1500), BREAKER_HALF_OPEN);
    /* Nor does it use up a probe slot. */
    assert_int_equal(breaker_wait(&b, 1500), 0);
    breaker_on_send(&b, 1500);
    assert_int_equal(breaker_wait(&b, 1500), 0);
}

static void test_gives_up_after_configured_time(void **state) {
    (void)state;
    struct breaker_config c;
    breaker_config_init(&c);
    c.give_up_after_ms = 60000;
    struct breaker b;
    breaker_init(&b, &c);
    trip(&b, 1000);
    int64_t now = 1000;
    /* Probes keep failing; it holds on until a minute after the outage began. */
    while (now < 61000) {
        int64_t w = breaker_wait(&b, now);
        if (w == 0) {
            assert_false(breaker_gave_up(&b, now));
            attempts(&b, now, 1, BREAKER_FAIL);
        } else {
            now += w < 61000 - now ? w : 61000 - now;
        }
    }
    assert_false(breaker_gave_up(&b, 60999));
    assert_int_equal(breaker_outage_ms(&b, 60999), 59999);
    assert_true(breaker_gave_up(&b, 61000));
}

static void test_success_resets_the_give_up_clock(void **state) {
    (void)state;
    struct breaker_config c;
    breaker_config_init(&c);
    c.give_up_after_ms = 10000;
    struct breaker b;
    breaker_init(&b, &c);
    trip(&b, 0);
    attempts(&b, 9000, 1, BREAKER_OK); /* a probe at 9 s gets through */
    assert_false(breaker_gave_up(&b, 10000));
    trip(&b, 12000); /* a new outage: its own clock */
    assert_false(breaker_gave_up(&b, 21999));
    assert_true(breaker_gave_up(&b, 22000));
    /* 0 means never. */
    c.give_up_after_ms = 0;
    breaker_init(&b, &c);
    trip(&b, 0);
    assert_false(breaker_gave_up(&b, 1000LL * 3600 * 24 * 365));
}

static void test_config_is_clamped(void **state) {
    (void)state;
    struct breaker_config c;
    breaker_config_init(&c);
    c.window = 1000; /* 64 at most */
    c.min_attempts = 1000;
    c.probes = 0;
    c.cooldown_ms = 0;
    c.cooldown_max_ms = -5;
    struct breaker b;
    breaker_init(&b, &c);
    attempts(&b, 0, 63, BREAKER_FAIL);
    assert_int_equal(breaker_state(&b, 0), BREAKER_CLOSED);
    attempts(&b, 0, 1, BREAKER_FAIL);
    assert_int_equal(breaker_state(&b, 0), BREAKER_OPEN);
    assert_int_equal(breaker_wait(&b, 0), 1);
    assert_int_equal(breaker_wait(&b, 1), 0);
    breaker_on_send(&b, 1);
    assert_int_equal(breaker_wait(&b, 1), BREAKER_PROBE_POLL_MS); /* one probe at least */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_opens_on_majority_of_window),
        cmocka_unit_test(test_window_forgets_old_failures),
        cmocka_unit_test(test_scattered_failures_do_not_open),
        cmocka_unit_test(test_min_attempts),
        cmocka_unit_test(test_neutral_outcomes_do_not_count),
        cmocka_unit_test(test_waits_the_cooldown),
        cmocka_unit_test(test_half_open_allows_exactly_probes),
        cmocka_unit_test(test_probe_success_closes),
        cmocka_unit_test(test_failed_probe_doubles_cooldown_to_cap),
        cmocka_unit_test(test_stale_outcomes_are_ignored),
        cmocka_unit_test(test_gives_up_after_configured_time),
        cmocka_unit_test(test_success_resets_the_give_up_clock),
        cmocka_unit_test(test_config_is_clamped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
