/* The pre-count of input lines: non-blank lines only, across buffer boundaries, and on a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "count.h"

static uint64_t count_all(const char *s) {
    int in_line = 0;
    uint64_t n = count_lines(s, strlen(s), &in_line);
    return n + (uint64_t)in_line;
}

static void test_lines(void **state) {
    (void)state;
    assert_int_equal(count_all(""), 0);
    assert_int_equal(count_all("{}\n{}\n"), 2);
    assert_int_equal(count_all("{}\n{}"), 2); /* last line without '\n' */
    assert_int_equal(count_all("\n \t\r\n{}\r\n\n  {}\n   "), 2);
    assert_int_equal(count_all("x"), 1);
}

static void test_split_anywhere(void **state) {
    (void)state;
    const char *s = "{\"a\":1}\n  \n\r\n  {\"b\":2}\r\n\n{\"c\":3}";
    size_t n = strlen(s);
    for (size_t cut = 0; cut <= n; cut++) {
        int in_line = 0;
        uint64_t lines = count_lines(s, cut, &in_line);
        lines += count_lines(s + cut, n - cut, &in_line);
        assert_int_equal(lines + (uint64_t)in_line, 3);
    }
}

static void test_file(void **state) {
    (void)state;
    char path[] = "/tmp/test_count.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    /* More than one 1 MiB read. */
    for (int i = 0; i < 30000; i++)
        fprintf(f, "{\"custom_id\":\"r%d\",\"body\":{\"pad\":\"%040d\"}}\n%s", i, i,
                i % 100 == 0 ? "\n" : "");
    fclose(f);
    struct count *cn = count_start(path);
    assert_non_null(cn);
    uint64_t lines = 0;
    /* The thread takes milliseconds; spin on its result (no sleeping in unit tests). */
    while (!count_result(cn, &lines))
        ;
    assert_int_equal(lines, 30000);
    count_free(cn);
    unlink(path);
    count_free(NULL);
    assert_null(count_start("-"));
    assert_null(count_start("/tmp"));
    assert_null(count_start("/nonexistent/input.jsonl"));
}

/* gzip input is counted as the text inside (whatever the file is called); a file cut short
   gives no total rather than a wrong one. */
static void test_gzip_file(void **state) {
    (void)state;
    char path[] = "/tmp/test_count_gz.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    gzFile gz = gzdopen(fd, "wb");
    assert_non_null(gz);
    for (int i = 0; i < 30000; i++)
        gzprintf(gz, "{\"custom_id\":\"r%d\",\"body\":{\"pad\":\"%040d\"}}\n%s", i, i,
                 i % 100 == 0 ? "\n" : "");
    assert_int_equal(gzclose(gz), Z_OK);
    struct count *cn = count_start(path);
    assert_non_null(cn);
    uint64_t lines = 0;
    while (!count_result(cn, &lines) && !count_failed(cn))
        ;
    assert_int_equal(lines, 30000);
    count_free(cn);

    /* Cut short: no total. */
    FILE *f = fopen(path, "r+");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    assert_int_equal(ftruncate(fileno(f), ftell(f) / 2), 0);
    fclose(f);
    cn = count_start(path);
    assert_non_null(cn);
    while (!count_failed(cn))
        assert_false(count_result(cn, &lines));
    count_free(cn);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_split_anywhere),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_gzip_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
