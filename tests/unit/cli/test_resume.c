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
#include "sink.h"
#include "sluice.h"
#include "util.h"

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

/* A JSON value of `depth` nested containers (alternating arrays and objects) around a number,
   in a buffer the caller frees. */
static char *nested(int depth) {
    struct buf b = {0};
    for (int i = 0; i < depth; i++)
        assert_int_equal(i % 2 ? buf_append_lit(&b, "{\"k\":") : buf_append_lit(&b, "["), 0);
    assert_int_equal(buf_append_lit(&b, "7"), 0);
    for (int i = depth - 1; i >= 0; i--)
        assert_int_equal(buf_append_char(&b, i % 2 ? '}' : ']'), 0);
    return b.data;
}

/* One result as the engine hands it to the sink: a success unless error_code is set. */
struct case_ {
    const char *id;
    const char *body;
    size_t body_len;
    int body_is_json, vouched;
    const char *metadata;
    const char *error_code;
};

static void sink_case(sluice_jsonl_sink_t *sk, const struct case_ *c, uint64_t line) {
    sluice_request_t req = {.custom_id = c->id, .line = line};
    if (c->metadata) {
        req.metadata = c->metadata;
        req.metadata_len = strlen(c->metadata);
    }
    sluice_result_t res = {.req = &req,
                           .status_code = c->error_code ? 500 : 200,
                           .request_id = "req \"\x01\xE2\x80\xA8",
                           .body = c->body,
                           .body_len = c->body_len,
                           .body_is_json = c->body_is_json,
                           .error_code = c->error_code,
                           .error_message = c->error_code ? "m" : NULL};
    if (c->vouched)
        sink_vouch_json(c->body, c->body_len);
    assert_int_equal(sluice_jsonl_sink_write(sk, &res), 0);
    sink_vouch_json(NULL, 0);
}

/*
 * Whatever the sink writes as a success, --resume finds as done: bodies as deep as the engine
 * accepts (and deeper, which the sink stores as a string), long ones, control bytes, and ids
 * with every kind of escape (as the source decodes them: valid UTF-8, no NUL). Its failures
 * are not found.
 */
static void test_round_trip_with_the_sink(void **state) {
    (void)state;
    char *deep = nested(UTIL_JSON_MAX_DEPTH), *deeper = nested(UTIL_JSON_MAX_DEPTH + 40);
    char *meta = nested(UTIL_JSON_MAX_DEPTH - 1), *d30 = nested(30);
    assert_int_equal(util_json_validate(deep, strlen(deep), NULL), UTIL_JSON_OK);
    assert_int_equal(util_json_validate(deeper, strlen(deeper), NULL), UTIL_JSON_EDEPTH);
    /* 8 MiB of a JSON string, and 2 MiB of control bytes that are escaped 6 times over */
    size_t big_n = (size_t)8 << 20, ctl_n = (size_t)2 << 20;
    char *big = malloc(big_n), *ctl = malloc(ctl_n);
    assert_non_null(big);
    assert_non_null(ctl);
    memset(big, 'x', big_n);
    big[0] = big[big_n - 1] = '"';
    for (size_t i = 0; i < ctl_n; i++)
        ctl[i] = (char)(i % 32);
    const char *text = "<html>\r\n\"\\</html>";
    const struct case_ cases[] = {
        {"deep", deep, strlen(deep), 1, 0, NULL, NULL},
        {"deep-vouched", deep, strlen(deep), 1, 1, NULL, NULL},
        {"deep-30", d30, strlen(d30), 1, 1, NULL, NULL},
        {"deep-meta", deep, strlen(deep), 1, 1, meta, NULL},
        {"deeper-than-json", deeper, strlen(deeper), 1, 0, NULL, NULL},
        {"big", big, big_n, 1, 1, NULL, NULL},
        {"control-bytes", ctl, ctl_n, 0, 0, NULL, NULL},
        {"text", text, strlen(text), 0, 0, NULL, NULL},
        {"no-body", NULL, 0, 0, 0, NULL, NULL},
        {"scalar", "  42 ", 5, 1, 1, NULL, NULL},
        {"q\"b\\s/\n\t\r\b\f\x01\x1f\x7f", "{}", 2, 1, 1, NULL, NULL},
        {"\xC3\xA9\xE2\x80\xA8\xE2\x80\xA9\xEF\xBF\xBD\xF0\x9F\x98\x80 \\u0041", "{}", 2, 1, 1,
         NULL, NULL},
        {"{\"error\":null}", "{\"error\":{\"x\":1}}", 17, 1, 1, NULL, NULL},
        {"failed", "{}", 2, 1, 1, NULL, "http_500"},
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);
    sluice_jsonl_sink_t *sk = NULL;
    assert_int_equal(sluice_jsonl_sink_open(&sk, path, 0), 0);
    for (size_t i = 0; i < n; i++)
        sink_case(sk, &cases[i], i % 2 ? i + 1 : 0); /* with and without a line number */
    assert_int_equal(sluice_jsonl_sink_close(sk), 0);

    struct resume_set *s = NULL;
    char err[256];
    assert_int_equal(resume_load(&s, path, err, sizeof(err)), 0);
    for (size_t i = 0; i < n; i++) {
        if (!resume_skip(s, cases[i].id) != (cases[i].error_code != NULL))
            fail_msg("resume got line %zu (custom_id %s) wrong", i + 1, cases[i].id);
    }
    assert_int_equal(resume_count(s), n - 1);
    resume_free(s);
    uint64_t lines, results;
    assert_int_equal(resume_output_lines(path, &lines, &results), 0);
    assert_int_equal(lines, n - 1); /* the rewrite kept every success */
    free(deep);
    free(deeper);
    free(meta);
    free(d30);
    free(big);
    free(ctl);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_output_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keeps_successes_drops_failures_and_torn_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_many_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_with_the_sink, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
