/* Option typos: the edit distance counts a swap as one edit, and the nearest names are
   offered only when they are close enough to be a typo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "opts.h"

static size_t dist(const char *a, const char *b) {
    return opts_distance(a, strlen(a), b, strlen(b));
}

static void test_distance(void **state) {
    (void)state;
    assert_int_equal(dist("rpm", "rpm"), 0);
    assert_int_equal(dist("rpmm", "rpm"), 1); /* one too many */
    assert_int_equal(dist("rmp", "rpm"), 1);  /* two neighbours swapped */
    assert_int_equal(dist("concurency", "concurrency"), 1);
    assert_int_equal(dist("", "abc"), 3);
    assert_int_equal(dist("tpm", "rpm"), 1);
    assert_int_equal(dist("output-file", "output"), 5);
}

static const char *const names[] = {"rpm", "tpm", "resume", "retry", "max-attempts", "timeout"};

static const char *nearest(const char *w) {
    static char buf[128];
    return opts_nearest(w, strlen(w), names, 6, "--", buf, sizeof(buf));
}

static void test_nearest(void **state) {
    (void)state;
    assert_string_equal(nearest("rpmm"), "--rpm");
    assert_string_equal(nearest("max-atempts"), "--max-attempts");
    assert_string_equal(nearest("rsume"), "--resume");
    assert_string_equal(nearest("xpm"), "--rpm or --tpm"); /* as near as each other */
    assert_string_equal(nearest("bogus"), "");             /* nothing like it */
    assert_string_equal(nearest("ab"), "");                /* short words: one edit at most */
    char small[8];
    opts_nearest("rpmm", 4, names, 6, "--", small, sizeof(small));
    assert_string_equal(small, "--rpm");
    opts_nearest("max-atempts", 11, names, 6, "--", small, sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1); /* cut, never overrun */
}

static uint64_t size_of(const char *s) {
    uint64_t v = 0;
    return opts_parse_size(s, (uint64_t)1 << 40, &v) == 0 ? v : 0;
}

static void test_parse_size(void **state) {
    (void)state;
    assert_int_equal(size_of("65536"), 65536);
    assert_int_equal(size_of("64M"), 64u << 20);
    assert_int_equal(size_of("64m"), 64u << 20);
    assert_int_equal(size_of("64MiB"), 64u << 20);
    assert_int_equal(size_of("64MB"), 64u << 20);
    assert_int_equal(size_of("1G"), 1u << 30);
    assert_int_equal(size_of("1.5K"), 1536);
    assert_int_equal(size_of("100k"), 102400);
    assert_int_equal(size_of("7B"), 7);
    assert_int_equal(size_of("1T"), 0); /* past max, and no such suffix */
    assert_int_equal(size_of("1025G"), 0);
    const char *bad[] = {"",     "M",    "0",    "0.2", "-1",  "64Q",
                         "64MM", "64 M", "0x40", "inf", "nan", "1e"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (size_of(bad[i]) != 0)
            fail_msg("'%s' was taken for a size", bad[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_nearest),
        cmocka_unit_test(test_parse_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
