/* --resume's index: which lines of an old OUTPUT are kept, and which ids are skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "resume.h"

static char dir[64];
static char path[128];

static int setup(void **state) {
    (void)state;
    strcpy(dir, "/tmp/sluice-test-resume.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/out.jsonl", dir);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static void write_file(const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_file(void) {
    static char buf[4096];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_missing_output_is_empty(void **state) {
    (void)state;
    struct resume_set *s = NULL;
    char err[256];
    assert_int_equal(resume_load(&s, path, err, sizeof(err)), 0);
    assert_int_equal(resume_count(s), 0);
    assert_false(resume_skip(s, "a"));
    resume_free(s);
}

static void test_keeps_successes_drops_failures_and_torn_line(void **state) {
    (void)state;
    const char *ok1 = "{\"id\":\"req-1\",\"custom_id\":\"a\",\"response\":{\"status_code\":200},"
                      "\"error\":null}\n";
    const char *bad = "{\"id\":\"req-2\",\"custom_id\":\"b\",\"response\":null,\"error\":"
                      "{\"code\":\"http_500\",\"message\":\"x\"}}\n";
    const char *ok3 = "{\"id\":\"req-3\",\"custom_id\":\"c\",\"response\":{\"status_code\":200},"
                      "\"error\":null}\n";
    const char *torn = "{\"id\":\"req-4\",\"custom_id\":\"d\",\"resp";
    char text[1024];
    snprintf(text, sizeof(text), "%s%s%snot json\n%s%s", ok1, bad, ok3, ok1, torn);
    write_file(text);
    struct resume_set *s = NULL;
    char err[256];
    assert_int_equal(resume_load(&s, path, err, sizeof(err)), 0);
    assert_int_equal(resume_count(s), 2);
    assert_true(resume_skip(s, "a"));
    assert_true(resume_skip(s, "c"));
    assert_false(resume_skip(s, "b"));
    assert_false(resume_skip(s, "d"));
    char want[1024];
    snprintf(want, sizeof(want), "%s%s", ok1, ok3);
    assert_string_equal(read_file(), want);
    resume_free(s);
}

static void test_many_ids(void **state) {
    (void)state;
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 20000; i++)
        fprintf(f, "{\"custom_id\":\"id-%d\",\"error\":null}\n", i);
    fclose(f);
    struct resume_set *s = NULL;
    char err[256];
    assert_int_equal(resume_load(&s, path, err, sizeof(err)), 0);
    assert_int_equal(resume_count(s), 20000);
    /* The index costs at most 16 bytes per line of the file. */
    assert_true(resume_bytes(s) <= 16 * 20000);
    char id[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof(id), "id-%d", i);
        assert_true(resume_skip(s, id));
    }
    for (int i = 20000; i < 21000; i++) {
        snprintf(id, sizeof(id), "id-%d", i);
        assert_false(resume_skip(s, id));
    }
    resume_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_output_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keeps_successes_drops_failures_and_torn_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_many_ids, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
