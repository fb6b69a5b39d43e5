/* The Prometheus exposition: cumulative buckets ending in +Inf == _count, and the counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static char *render(const sluice_stats_t *st, const struct metrics_hist *h,
                    const struct cost_view *cv) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    metrics_render(f, st, h, cv);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void test_histogram(void **state) {
    (void)state;
    struct metrics_hist h = {0};
    metrics_hist_observe(&h, 3);      /* 0.003 s: le 0.005 */
    metrics_hist_observe(&h, 5);      /* exactly a bound: in it */
    metrics_hist_observe(&h, 200);    /* le 0.25 */
    metrics_hist_observe(&h, 500000); /* beyond 120 s: only +Inf */
    sluice_stats_t st = {0};
    char *t = render(&st, &h, NULL);
    assert_non_null(strstr(t, "sluice_attempt_duration_seconds_bucket{le=\"0.005\"} 2\n"));
    assert_non_null(strstr(t, "sluice_attempt_duration_seconds_bucket{le=\"0.1\"} 2\n"));
    assert_non_null(strstr(t, "sluice_attempt_duration_seconds_bucket{le=\"0.25\"} 3\n"));
    assert_non_null(strstr(t, "sluice_attempt_duration_seconds_bucket{le=\"120\"} 3\n"));
    assert_non_null(strstr(t, "sluice_attempt_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(t, "sluice_attempt_duration_seconds_count 4\n"));
    assert_non_null(strstr(t, "sluice_attempt_duration_seconds_sum 500.208000\n"));
    assert_non_null(strstr(t, "# TYPE sluice_attempt_duration_seconds histogram\n"));
    free(t);
}

static void test_counters(void **state) {
    (void)state;
    struct metrics_hist h = {0};
    sluice_stats_t st = {.succeeded = 7,
                         .failed = 2,
                         .attempts = 12,
                         .retries = 3,
                         .rate_limited = 1,
                         .tokens_in = 100,
                         .tokens_out = 50,
                         .in_flight = 4,
                         .concurrency = 8,
                         .rpm_limit = 600};
    struct cost_view cv = {.spent_usd = 0.125, .known = 1};
    char *t = render(&st, &h, &cv);
    assert_non_null(strstr(t, "sluice_requests_total{outcome=\"succeeded\"} 7\n"));
    assert_non_null(strstr(t, "sluice_requests_total{outcome=\"failed\"} 2\n"));
    assert_non_null(strstr(t, "sluice_attempts_total 12\n"));
    assert_non_null(strstr(t, "sluice_retries_total 3\n"));
    assert_non_null(strstr(t, "sluice_rate_limited_total 1\n"));
    assert_non_null(strstr(t, "sluice_tokens_total{kind=\"prompt\"} 100\n"));
    assert_non_null(strstr(t, "sluice_tokens_total{kind=\"completion\"} 50\n"));
    assert_non_null(strstr(t, "sluice_cost_usd_total 0.125000\n"));
    assert_non_null(strstr(t, "sluice_in_flight 4\n"));
    assert_non_null(strstr(t, "sluice_slots 8\n"));
    assert_non_null(strstr(t, "sluice_rpm_limit 600.0\n"));
    /* Every sample's family has a TYPE line before it. */
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        assert_non_null(strchr(line, ' '));
    }
    free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
