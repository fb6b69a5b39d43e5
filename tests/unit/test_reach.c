/* Is the base URL reachable at all: connect failures with nothing answered end the run after
   the grace; anything answered, or a failure that shows something is there, says otherwise.
   Times are virtual. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "reach.h"

static void test_refused_for_the_grace(void **state) {
    (void)state;
    struct reach r;
    reach_init(&r, 10000);
    assert_int_equal(reach_deadline(&r), -1);
    reach_record(&r, 500, TRANSPORT_CONNECT);
    assert_int_equal(reach_deadline(&r), 10500);
    /* More failures do not move the deadline: the grace counts from the first. */
    reach_record(&r, 4000, TRANSPORT_CONNECT);
    assert_int_equal(reach_deadline(&r), 10500);
    assert_false(reach_gave_up(&r, 10499));
    assert_true(reach_gave_up(&r, 10500));
}

/* A server that refuses while it loads its model, then answers: never given up on again. */
static void test_answered_once(void **state) {
    (void)state;
    struct reach r;
    reach_init(&r, 10000);
    reach_record(&r, 0, TRANSPORT_CONNECT);
    reach_record(&r, 9000, TRANSPORT_OK);
    assert_int_equal(reach_deadline(&r), -1);
    reach_record(&r, 20000, TRANSPORT_CONNECT); /* an outage now: the breaker's */
    assert_false(reach_gave_up(&r, 1000000));
    /* an answer too large to keep is an answer all the same */
    reach_init(&r, 10000);
    reach_record(&r, 0, TRANSPORT_CONNECT);
    reach_record(&r, 9000, TRANSPORT_TOO_LARGE);
    reach_record(&r, 20000, TRANSPORT_CONNECT);
    assert_int_equal(reach_deadline(&r), -1);
}

/* A timeout or a reset says something is there (or may be): the count starts over. */
static void test_timeout_starts_over(void **state) {
    (void)state;
    struct reach r;
    reach_init(&r, 10000);
    reach_record(&r, 0, TRANSPORT_CONNECT);
    reach_record(&r, 8000, TRANSPORT_TIMEOUT);
    assert_false(reach_gave_up(&r, 12000));
    reach_record(&r, 12000, TRANSPORT_CONNECT);
    assert_int_equal(reach_deadline(&r), 22000);
    reach_record(&r, 13000, TRANSPORT_RESET);
    assert_int_equal(reach_deadline(&r), -1);
}

static void test_grace_zero_never(void **state) {
    (void)state;
    struct reach r;
    reach_init(&r, 0);
    reach_record(&r, 0, TRANSPORT_CONNECT);
    assert_int_equal(reach_deadline(&r), -1);
    assert_false(reach_gave_up(&r, INT64_MAX / 2));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_for_the_grace),
        cmocka_unit_test(test_answered_once),
        cmocka_unit_test(test_timeout_starts_over),
        cmocka_unit_test(test_grace_zero_never),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
