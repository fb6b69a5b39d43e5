/* The status line: fits 79 columns whatever the numbers, shows done/total and %, drops the
 * least useful fields first; the summary's failure tally and --stats-json keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "status.h"

static void format(char *buf, size_t n, const sluice_stats_t *st, uint64_t total, double rps,
                   double cost) {
    struct status_line l = {.st = st, .total = total, .rps = rps, .cost_usd = cost};
    status_format(buf, n, &l);
}

static void test_small_run(void **state) {
    (void)state;
    sluice_stats_t st = {.succeeded = 40,
                         .failed = 10,
                         .in_flight = 3,
                         .concurrency = 8,
                         .retries = 7,
                         .rate_limited = 2,
                         .tokens_in = 900,
                         .tokens_out = 100};
    char buf[128];
    format(buf, sizeof(buf), &st, 200, 12.4, 0.5);
    assert_non_null(strstr(buf, "50/200 25%"));
    assert_non_null(strstr(buf, "12 req/s"));
    assert_non_null(strstr(buf, "slots 3/8"));
    assert_non_null(strstr(buf, "retry 7"));
    assert_non_null(strstr(buf, "429s 2"));
    assert_non_null(strstr(buf, "tok 1000"));
    assert_non_null(strstr(buf, "$0.50"));
    /* 150 left at 12.4/s: 12 s. */
    assert_non_null(strstr(buf, "ETA 12s"));
    assert_null(strchr(buf, '\n'));
    assert_true(strlen(buf) <= 79);
    /* With fewer digits elsewhere, the failures fit too. */
    st.retries = st.rate_limited = 0;
    st.tokens_in = st.tokens_out = 0;
    format(buf, sizeof(buf), &st, 200, 12.4, -1);
    assert_non_null(strstr(buf, "10 failed"));
}

/* The rate in the first second is the average so far, not 0; then one over the last second
   or so, smoothed. Times are virtual. */
static void test_status_rate(void **state) {
    (void)state;
    struct status_rate r = {0};
    assert_true(status_rate_tick(&r, 0, 0) == 0);
    assert_true(status_rate_tick(&r, 0.1, 26) > 259 && status_rate_tick(&r, 0.1, 26) < 261);
    assert_true(status_rate_tick(&r, 0.3, 78) > 259 && status_rate_tick(&r, 0.3, 78) < 261);
    assert_true(status_rate_tick(&r, 1.0, 260) > 259 && status_rate_tick(&r, 1.0, 260) < 261);
    /* Then half the last second's rate, half what was shown: 260 then 100 a second. */
    assert_true(status_rate_tick(&r, 1.5, 310) > 259); /* not a whole second yet */
    double v = status_rate_tick(&r, 2.0, 360);
    assert_true(v > 179 && v < 181);
    /* A pause shows as a falling rate, not as the average since the start. */
    v = status_rate_tick(&r, 3.0, 360);
    assert_true(v > 89 && v < 91);
    sluice_stats_t st = {.succeeded = 26, .concurrency = 8};
    char buf[128];
    format(buf, sizeof(buf), &st, 400, 260, -1);
    assert_non_null(strstr(buf, "260 req/s"));
    format(buf, sizeof(buf), &st, 400, 2.5, -1);
    assert_non_null(strstr(buf, "2.5 req/s"));
}

static void test_unknown_total(void **state) {
    (void)state;
    sluice_stats_t st = {.succeeded = 5, .concurrency = 64};
    char buf[128];
    format(buf, sizeof(buf), &st, 0, 0.5, -1);
    assert_int_equal(strncmp(buf, "5 done", 6), 0);
    assert_null(strstr(buf, "ETA")); /* no total, no ETA */
    assert_null(strchr(buf, '$'));   /* no price, no cost */
    assert_null(strstr(buf, "tok")); /* no usage yet */
}

static void test_huge_numbers_fit(void **state) {
    (void)state;
    sluice_stats_t st = {.succeeded = 987654321098ULL,
                         .failed = 123456789012ULL,
                         .in_flight = 123456,
                         .concurrency = 100000,
                         .retries = 99999999999ULL,
                         .rate_limited = 88888888888ULL,
                         .tokens_in = 777777777777ULL,
                         .tokens_out = 1,
                         .rpm_limit = 123456789.0};
    char buf[256];
    format(buf, sizeof(buf), &st, 9999999999999ULL, 123456.7, 123456.78);
    assert_true(strlen(buf) <= 79);
    /* Progress, rate and slots are never the ones dropped. */
    assert_non_null(strstr(buf, "%"));
    assert_non_null(strstr(buf, " req/s"));
    assert_non_null(strstr(buf, "slots "));
    assert_non_null(strstr(buf, "ETA "));
    /* Something had to go, and the least useful went first. */
    assert_null(strstr(buf, "failed"));
    assert_null(strstr(buf, "tok "));
}

/* The last transport error is on the line, made short: one of the last minute before the ETA
   and the slots, an older one, with its age, where there is room; with big numbers it is cut
   to the room left. */
static void test_last_error(void **state) {
    (void)state;
    sluice_stats_t st = {.concurrency = 64, .wall_s = 5, .last_error_s = 4};
    snprintf(st.last_error, sizeof(st.last_error), "%s",
             "Failed to connect to 127.0.0.1 port 9 after 0 ms: Connection refused");
    char buf[256];
    format(buf, sizeof(buf), &st, 50, 0, -1);
    assert_non_null(strstr(buf, "  error: Connection refused"));
    st.wall_s = 104;
    format(buf, sizeof(buf), &st, 50, 0, -1);
    assert_non_null(strstr(buf, "  error 1m40s ago: Connection refused"));
    snprintf(st.last_error, sizeof(st.last_error), "%s",
             "Could not resolve host: a-very-long-host-name-that-goes-on.example.invalid");
    st.wall_s = 5;
    st.succeeded = 987654321098ULL;
    st.in_flight = 123456;
    st.concurrency = 100000;
    format(buf, sizeof(buf), &st, 9999999999999ULL, 123456.7, -1);
    assert_true(strlen(buf) <= 79);
    assert_non_null(strstr(buf, "%"));
    assert_non_null(strstr(buf, "/s"));
    assert_non_null(strstr(buf, "error: cannot resolve a-very-long"));
    assert_non_null(strstr(buf, "..."));
    /* An old one gives way. */
    st.wall_s = 104;
    format(buf, sizeof(buf), &st, 9999999999999ULL, 123456.7, -1);
    assert_non_null(strstr(buf, "slots "));
    assert_non_null(strstr(buf, "ETA "));
}

static void test_rpm_shown(void **state) {
    (void)state;
    sluice_stats_t st = {.succeeded = 1, .concurrency = 4, .rpm_limit = 3000};
    char buf[128];
    format(buf, sizeof(buf), &st, 1000, 1, -1);
    assert_non_null(strstr(buf, "rpm 3000"));
    assert_non_null(strstr(buf, "1/1000 0.1%"));
}

static void test_small_buffer(void **state) {
    (void)state;
    sluice_stats_t st = {.succeeded = 12345, .concurrency = 64};
    char buf[12];
    format(buf, sizeof(buf), &st, 99999, 5, 1);
    assert_true(strlen(buf) < sizeof(buf));
}

static void test_count(void **state) {
    (void)state;
    char b[16];
    status_count(b, sizeof(b), 99999);
    assert_string_equal(b, "99999");
    status_count(b, sizeof(b), 123456);
    assert_string_equal(b, "123k");
    status_count(b, sizeof(b), 1234567);
    assert_string_equal(b, "1.23M");
    status_count(b, sizeof(b), 12345678901ULL);
    assert_string_equal(b, "12.3G");
}

static void test_tally(void **state) {
    (void)state;
    struct status_tally t = {0};
    status_tally_add(&t, NULL); /* a success is not a failure */
    for (int i = 0; i < 3; i++)
        status_tally_add(&t, "http_400");
    status_tally_add(&t, "invalid_request");
    for (int i = 0; i < STATUS_CODES + 2; i++) {
        char code[16];
        snprintf(code, sizeof(code), "c%d", i);
        status_tally_add(&t, code);
    }
    assert_string_equal(t.codes[0].code, "http_400");
    assert_int_equal(t.codes[0].n, 3);
    assert_int_equal(t.codes[1].n, 1);
    assert_int_equal(t.other, 4); /* 8 slots: 2 named above, 6 of c0..c9 */
}

static void test_json(void **state) {
    (void)state;
    char path[] = "/tmp/test_status.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    sluice_stats_t st = {.succeeded = 3, .failed = 1, .tokens_in = 10, .tokens_out = 20};
    struct status_tally t = {0};
    status_tally_add(&t, "http_400");
    struct cost_view cv = {.spent_usd = 0.25, .known = 1};
    struct status_end e = {.input = "in", .output = "out", .tally = &t, .cost = &cv};
    assert_int_equal(status_write_json(path, &st, &e, 1), 0);
    char buf[2048] = {0};
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
    fclose(f);
    unlink(path);
    close(fd);
    assert_non_null(strstr(buf, "\"total\":4,"));
    assert_non_null(strstr(buf, "\"tokens\":{\"prompt\":10,\"completion\":20}"));
    assert_non_null(strstr(buf, "\"failures\":{\"http_400\":1}"));
    assert_non_null(strstr(buf, "\"cost_usd\":0.250000"));
    assert_non_null(strstr(buf, "\"exit_code\":1}"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_run),
        cmocka_unit_test(test_unknown_total),
        cmocka_unit_test(test_huge_numbers_fit),
        cmocka_unit_test(test_last_error),
        cmocka_unit_test(test_rpm_shown),
        cmocka_unit_test(test_small_buffer),
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_tally),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_status_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
