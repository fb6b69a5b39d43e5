/* Unit tests for src/sink.c: the JSONL result writer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "sink.h"
#include "sluice.h"
#include "util.h"

struct fx {
    char dir[64];
    char path[128];
    sluice_jsonl_sink_t *sk;
};

static int setup(void **state) {
    struct fx *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    strcpy(fx->dir, "/tmp/sluice-test-sink-XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    snprintf(fx->path, sizeof fx->path, "%s/out.jsonl", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    struct fx *fx = *state;
    if (fx->sk != NULL)
        sluice_jsonl_sink_close(fx->sk);
    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* The whole output file, NUL-terminated (caller frees); *len gets its size. */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(buf_append(&b, chunk, n), 0);
    fclose(f);
    assert_int_equal(buf_append(&b, "", 0), 0);
    if (len != NULL)
        *len = b.len;
    return b.data;
}

static void spit(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Writes one result to a fresh file and checks the file holds exactly `want`. */
static void expect_line(struct fx *fx, const sluice_result_t *res, const char *want) {
    assert_int_equal(sluice_jsonl_sink_open(&fx->sk, fx->path, 0), 0);
    assert_int_equal(sluice_jsonl_sink_write(fx->sk, res), 0);
    assert_int_equal(sluice_jsonl_sink_close(fx->sk), 0);
    fx->sk = NULL;
    size_t len;
    char *got = slurp(fx->path, &len);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    /* Every line must parse as JSON on its own, whatever went into it. */
    assert_int_equal(util_json_validate(got, len - 1, NULL), 0);
    json_object *o = json_tokener_parse(got);
    assert_non_null(o);
    json_object_put(o);
    free(got);
}

static sluice_request_t request(const char *id, uint64_t line) {
    sluice_request_t req = {0};
    req.custom_id = id;
    req.line = line;
    return req;
}

static void test_success_line(void **state) {
    struct fx *fx = *state;
    sluice_request_t req = request("doc-17", 17);
    const char *body = "{\"id\":\"chatcmpl-1\",\"usage\":{\"total_tokens\":12345678901234567890},"
                       "\"x\":1.10 }";
    sluice_result_t res = {.req = &req,
                           .status_code = 200,
                           .request_id = "req_abc",
                           .body = body,
                           .body_len = strlen(body),
                           .body_is_json = 1};
    expect_line(fx, &res,
                "{\"id\":\"req-17\",\"custom_id\":\"doc-17\",\"response\":{\"status_code\":200,"
                "\"request_id\":\"req_abc\",\"body\":{\"id\":\"chatcmpl-1\",\"usage\":"
                "{\"total_tokens\":12345678901234567890},\"x\":1.10 }},\"error\":null}\n");
}

static void test_failure_with_response(void **state) {
    struct fx *fx = *state;
    sluice_request_t req = request("a", 3);
    const char *body = "{\"error\":{\"message\":\"bad\"}}";
    sluice_result_t res = {.req = &req,
                           .status_code = 400,
                           .body = body,
                           .body_len = strlen(body),
                           .body_is_json = 1,
                           .error_code = "http_400",
                           .error_message = "the provider said \"bad\""};
    expect_line(fx, &res,
                "{\"id\":\"req-3\",\"custom_id\":\"a\",\"response\":{\"status_code\":400,"
                "\"request_id\":null,\"body\":{\"error\":{\"message\":\"bad\"}}},"
                "\"error\":{\"code\":\"http_400\",\"message\":\"the provider said \\\"bad\\\"\"}}"
                "\n");
}

static void test_failure_without_response(void **state) {
    struct fx *fx = *state;
    sluice_request_t req = request("line-9", 9);
    req.invalid = "body must be a JSON object";
    sluice_result_t res = {
        .req = &req, .error_code = "invalid_request", .error_message = req.invalid};
    expect_line(fx, &res,
                "{\"id\":\"req-9\",\"custom_id\":\"line-9\",\"response\":null,"
                "\"error\":{\"code\":\"invalid_request\",\"message\":\"body must be a JSON "
                "object\"}}\n");
    res.error_message = NULL;
    expect_line(fx, &res,
                "{\"id\":\"req-9\",\"custom_id\":\"line-9\",\"response\":null,"
                "\"error\":{\"code\":\"invalid_request\",\"message\":\"\"}}\n");
}

static void test_non_json_body_is_a_string(void **state) {
    struct fx *fx = *state;
    sluice_request_t req = request("a", 1);
    const char *body = "<html>502 \"Bad\" Gateway</html>\n";
    sluice_result_t res = {.req = &req,
                           .status_code = 502,
                           .body = body,
                           .body_len = strlen(body),
                           .error_code = "http_502",
                           .error_message = "gave up"};
    expect_line(fx, &res,
                "{\"id\":\"req-1\",\"custom_id\":\"a\",\"response\":{\"status_code\":502,"
                "\"request_id\":null,\"body\":\"<html>502 \\\"Bad\\\" Gateway</html>\\n\"},"
                "\"error\":{\"code\":\"http_502\",\"message\":\"gave up\"}}\n");
    /* Claimed to be JSON but is not: still a valid line. */
    res.body = "{\"truncated\":";
    res.body_len = strlen(res.body);
    res.body_is_json = 1;
    expect_line(fx, &res,
                "{\"id\":\"req-1\",\"custom_id\":\"a\",\"response\":{\"status_code\":502,"
                "\"request_id\":null,\"body\":\"{\\\"truncated\\\":\"},"
                "\"error\":{\"code\":\"http_502\",\"message\":\"gave up\"}}\n");
    /* Status but no body at all. */
    res.body = NULL;
    res.body_len = 0;
    expect_line(fx, &res,
                "{\"id\":\"req-1\",\"custom_id\":\"a\",\"response\":{\"status_code\":502,"
                "\"request_id\":null,\"body\":null},"
                "\"error\":{\"code\":\"http_502\",\"message\":\"gave up\"}}\n");
}

/* Only the very body the engine vouches for (same pointer, same length) skips the check: a
   claimed-JSON body elsewhere, or a vouch withdrawn, still gets one. */
static void test_only_the_vouched_body_goes_unchecked(void **state) {
    struct fx *fx = *state;
    sluice_request_t req = request("a", 1);
    const char vouched[] = "{\"a\":1}";
    const char other[] = "{\"a\":[}"; /* as long, not JSON */
    sluice_result_t res = {.req = &req,
                           .status_code = 200,
                           .body = vouched,
                           .body_len = strlen(vouched),
                           .body_is_json = 1};
    sink_vouch_json(vouched, strlen(vouched));
    expect_line(fx, &res,
                "{\"id\":\"req-1\",\"custom_id\":\"a\",\"response\":{\"status_code\":200,"
                "\"request_id\":null,\"body\":{\"a\":1}},\"error\":null}\n");
    res.body = other;
    expect_line(fx, &res,
                "{\"id\":\"req-1\",\"custom_id\":\"a\",\"response\":{\"status_code\":200,"
                "\"request_id\":null,\"body\":\"{\\\"a\\\":[}\"},\"error\":null}\n");
    res.body = vouched;
    res.body_len = 5; /* "{\"a\":" of the vouched body: not what was vouched for */
    expect_line(fx, &res,
                "{\"id\":\"req-1\",\"custom_id\":\"a\",\"response\":{\"status_code\":200,"
                "\"request_id\":null,\"body\":\"{\\\"a\\\":\"},\"error\":null}\n");
    sink_vouch_json(other, strlen(other));
    sink_vouch_json(NULL, 0);
    res.body = other;
    res.body_len = strlen(other);
    expect_line(fx, &res,
                "{\"id\":\"req-1\",\"custom_id\":\"a\",\"response\":{\"status_code\":200,"
                "\"request_id\":null,\"body\":\"{\\\"a\\\":[}\"},\"error\":null}\n");
}

static void test_metadata(void **state) {
    struct fx *fx = *state;
    sluice_request_t req = request("a", 2);
    req.metadata = "{\"k\": [1, 2.50],\n\"j\":\"x\"}";
    req.metadata_len = strlen(req.metadata);
    sluice_result_t res = {
        .req = &req, .status_code = 200, .body = "{}", .body_len = 2, .body_is_json = 1};
    expect_line(fx, &res,
                "{\"id\":\"req-2\",\"custom_id\":\"a\",\"response\":{\"status_code\":200,"
                "\"request_id\":null,\"body\":{}},\"error\":null,"
                "\"metadata\":{\"k\": [1, 2.50], \"j\":\"x\"}}\n");
}

static void test_nasty_ids_are_escaped(void **state) {
    struct fx *fx = *state;
    sluice_request_t req = request("q\"b\\s\n\t\x01\xff\xC3\xA9/", 0);
    sluice_result_t res = {.req = &req, .error_code = "e", .error_message = "m\r\n"};
    char want[512];
    snprintf(want, sizeof want,
             "{\"id\":\"req-%016llx\",\"custom_id\":\"q\\\"b\\\\s\\n\\t\\u0001\xEF\xBF\xBD"
             "\xC3\xA9/\",\"response\":null,\"error\":{\"code\":\"e\",\"message\":\"m\\r\\n\"}}"
             "\n",
             (unsigned long long)util_hash64(req.custom_id, strlen(req.custom_id)));
    expect_line(fx, &res, want);
}

static void test_raw_newlines_in_json_body(void **state) {
    struct fx *fx = *state;
    sluice_request_t req = request("a", 1);
    const char *body = "{\r\n  \"choices\": [\n    {\"text\": \"line1\\nline2\"}\n  ]\n}\n";
    sluice_result_t res = {
        .req = &req, .status_code = 200, .body = body, .body_len = strlen(body), .body_is_json = 1};
    expect_line(fx, &res,
                "{\"id\":\"req-1\",\"custom_id\":\"a\",\"response\":{\"status_code\":200,"
                "\"request_id\":null,\"body\":{    \"choices\": [     {\"text\": "
                "\"line1\\nline2\"}   ] } },\"error\":null}\n");
}

static void test_truncate_vs_append(void **state) {
    struct fx *fx = *state;
    sluice_request_t req = request("a", 1);
    sluice_result_t res = {.req = &req, .error_code = "e", .error_message = "m"};
    const char *line = "{\"id\":\"req-1\",\"custom_id\":\"a\",\"response\":null,"
                       "\"error\":{\"code\":\"e\",\"message\":\"m\"}}\n";
    spit(fx->path, "{\"old\":1}\n");
    assert_int_equal(sluice_jsonl_sink_open(&fx->sk, fx->path, 1), 0);
    assert_int_equal(sluice_jsonl_sink_write(fx->sk, &res), 0);
    assert_int_equal(sluice_jsonl_sink_close(fx->sk), 0);
    fx->sk = NULL;
    char *got = slurp(fx->path, NULL);
    char want[512];
    snprintf(want, sizeof want, "{\"old\":1}\n%s", line);
    assert_string_equal(got, want);
    free(got);
    assert_int_equal(sluice_jsonl_sink_open(&fx->sk, fx->path, 0), 0);
    assert_int_equal(sluice_jsonl_sink_write(fx->sk, &res), 0);
    assert_int_equal(sluice_jsonl_sink_close(fx->sk), 0);
    fx->sk = NULL;
    got = slurp(fx->path, NULL);
    assert_string_equal(got, line);
    free(got);
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644 & ~(unsigned)umask(umask(0)));
}

static void test_append_cuts_torn_tail(void **state) {
    struct fx *fx = *state;
    sluice_request_t req = request("b", 2);
    sluice_result_t res = {.req = &req, .error_code = "e", .error_message = "m"};
    const char *line = "{\"id\":\"req-2\",\"custom_id\":\"b\",\"response\":null,"
                       "\"error\":{\"code\":\"e\",\"message\":\"m\"}}\n";
    spit(fx->path, "{\"done\":1}\n{\"done\":2}\n{\"torn\":");
    assert_int_equal(sluice_jsonl_sink_open(&fx->sk, fx->path, 1), 0);
    assert_int_equal(sluice_jsonl_sink_write(fx->sk, &res), 0);
    assert_int_equal(sluice_jsonl_sink_close(fx->sk), 0);
    fx->sk = NULL;
    char *got = slurp(fx->path, NULL);
    char want[512];
    snprintf(want, sizeof want, "{\"done\":1}\n{\"done\":2}\n%s", line);
    assert_string_equal(got, want);
    free(got);

    /* A file that is one torn line, longer than the scan's chunk, becomes empty. */
    FILE *f = fopen(fx->path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 100000; i++)
        fputc('x', f);
    fclose(f);
    assert_int_equal(sluice_jsonl_sink_open(&fx->sk, fx->path, 1), 0);
    assert_int_equal(sluice_jsonl_sink_close(fx->sk), 0);
    fx->sk = NULL;
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_size, 0);

    /* A newline far back from the end (beyond one chunk) is found. */
    f = fopen(fx->path, "wb");
    assert_non_null(f);
    fputs("{\"done\":1}\n", f);
    for (int i = 0; i < 100000; i++)
        fputc('x', f);
    fclose(f);
    assert_int_equal(sluice_jsonl_sink_open(&fx->sk, fx->path, 1), 0);
    assert_int_equal(sluice_jsonl_sink_close(fx->sk), 0);
    fx->sk = NULL;
    got = slurp(fx->path, NULL);
    assert_string_equal(got, "{\"done\":1}\n");
    free(got);
}

static void test_append_creates_missing_file(void **state) {
    struct fx *fx = *state;
    assert_int_equal(sluice_jsonl_sink_open(&fx->sk, fx->path, 1), 0);
    assert_int_equal(sluice_jsonl_sink_close(fx->sk), 0);
    fx->sk = NULL;
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_size, 0);
}

static void test_enospc(void **state) {
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    sluice_request_t req = request("a", 1);
    sluice_result_t res = {.req = &req, .error_code = "e", .error_message = "m"};
    for (int append = 0; append <= 1; append++) {
        sluice_jsonl_sink_t *sk;
        assert_int_equal(sluice_jsonl_sink_open(&sk, "/dev/full", append), 0);
        errno = 0;
        assert_int_equal(sluice_jsonl_sink_write(sk, &res), SLUICE_ENOSPC);
        assert_int_equal(errno, ENOSPC);
        assert_int_equal(sluice_jsonl_sink_close(sk), 0);
    }
}

static void test_write_error_is_eio(void **state) {
    struct fx *fx = *state;
    /* A pipe without a reader: EPIPE (with SIGPIPE ignored), an I/O error for the caller. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    int saved = dup(1);
    assert_int_equal(dup2(p[1], 1), 1);
    close(p[1]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    sluice_request_t req = request("a", 1);
    sluice_result_t res = {.req = &req, .error_code = "e", .error_message = "m"};
    assert_int_equal(sluice_jsonl_sink_open(&fx->sk, "-", 0), 0);
    int rc = sluice_jsonl_sink_write(fx->sk, &res);
    int err = errno;
    assert_int_equal(sluice_jsonl_sink_close(fx->sk), 0);
    fx->sk = NULL;
    /* stdout belongs to the process: still open. */
    assert_true(fcntl(1, F_GETFD) != -1);
    dup2(saved, 1);
    close(saved);
    signal(SIGPIPE, old);
    assert_int_equal(rc, SLUICE_EIO);
    assert_int_equal(err, EPIPE);
}

static void test_partial_write_is_undone(void **state) {
    struct fx *fx = *state;
    /* A file size limit makes write(2) stop part-way (then fail with EFBIG), like a disk that
     * fills in the middle of a line. */
    spit(fx->path, "{\"done\":1}\n");
    assert_int_equal(sluice_jsonl_sink_open(&fx->sk, fx->path, 1), 0);
    struct rlimit old_lim, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
    lim = old_lim;
    lim.rlim_cur = 11 + 40;
    void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    sluice_request_t req = request("a-rather-long-custom-id-to-pass-the-limit", 1);
    sluice_result_t res = {.req = &req, .error_code = "e", .error_message = "m"};
    int rc = sluice_jsonl_sink_write(fx->sk, &res);
    int err = errno;
    setrlimit(RLIMIT_FSIZE, &old_lim);
    signal(SIGXFSZ, old);
    assert_int_equal(rc, SLUICE_EIO);
    assert_int_equal(err, EFBIG);
    char *got = slurp(fx->path, NULL);
    assert_string_equal(got, "{\"done\":1}\n");
    free(got);
    /* The sink goes on where the file ends. */
    req.custom_id = "b";
    assert_int_equal(sluice_jsonl_sink_write(fx->sk, &res), 0);
    got = slurp(fx->path, NULL);
    assert_string_equal(got, "{\"done\":1}\n{\"id\":\"req-1\",\"custom_id\":\"b\","
                             "\"response\":null,\"error\":{\"code\":\"e\",\"message\":\"m\"}}\n");
    free(got);
}

static void test_stdout(void **state) {
    struct fx *fx = *state;
    /* stdout redirected to a regular file, as `sluice run ... -o - > out` does. */
    int fd = open(fx->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    int saved = dup(1);
    fflush(stdout);
    assert_int_equal(dup2(fd, 1), 1);
    close(fd);
    sluice_request_t req = request("a", 1);
    sluice_result_t res = {.req = &req, .error_code = "e", .error_message = "m"};
    assert_int_equal(sluice_jsonl_sink_open(&fx->sk, "-", 0), 0);
    int rc1 = sluice_jsonl_sink_write(fx->sk, &res);
    req.line = 2;
    int rc2 = sluice_jsonl_sink_write(fx->sk, &res);
    int rc3 = sluice_jsonl_sink_close(fx->sk);
    fx->sk = NULL;
    dup2(saved, 1);
    close(saved);
    assert_int_equal(rc1, 0);
    assert_int_equal(rc2, 0);
    assert_int_equal(rc3, 0);
    char *got = slurp(fx->path, NULL);
    assert_string_equal(got, "{\"id\":\"req-1\",\"custom_id\":\"a\",\"response\":null,"
                             "\"error\":{\"code\":\"e\",\"message\":\"m\"}}\n"
                             "{\"id\":\"req-2\",\"custom_id\":\"a\",\"response\":null,"
                             "\"error\":{\"code\":\"e\",\"message\":\"m\"}}\n");
    free(got);
}

static void test_open_errors(void **state) {
    (void)state;
    sluice_jsonl_sink_t *sk = (void *)1;
    errno = 0;
    assert_int_equal(sluice_jsonl_sink_open(&sk, "/nonexistent/dir/out.jsonl", 0), SLUICE_EIO);
    assert_int_equal(errno, ENOENT);
    assert_null(sk);
}

static void test_many_lines_one_write_each(void **state) {
    struct fx *fx = *state;
    assert_int_equal(sluice_jsonl_sink_open(&fx->sk, fx->path, 0), 0);
    char big[70000];
    memset(big, 'z', sizeof big);
    for (int i = 1; i <= 1000; i++) {
        char id[32];
        snprintf(id, sizeof id, "id-%d", i);
        sluice_request_t req = request(id, (uint64_t)i);
        sluice_result_t res = {.req = &req,
                               .status_code = 200,
                               .body = big,
                               .body_len = (size_t)(i * 70),
                               .body_is_json = 0};
        assert_int_equal(sluice_jsonl_sink_write(fx->sk, &res), 0);
    }
    assert_int_equal(sluice_jsonl_sink_close(fx->sk), 0);
    fx->sk = NULL;
    size_t len;
    char *got = slurp(fx->path, &len);
    int lines = 0;
    for (char *p = got, *nl; (nl = memchr(p, '\n', len - (size_t)(p - got))) != NULL; p = nl + 1) {
        lines++;
        assert_int_equal(util_json_validate(p, (size_t)(nl - p), NULL), 0);
    }
    assert_int_equal(lines, 1000);
    free(got);
}

/* The reader --resume uses: successes only, ids decoded, and nothing deeper than a line can be. */
static void test_read_success(void **state) {
    (void)state;
    char *id = NULL;
    size_t cap = 0;
    const char *ok = "{\"custom_id\":\"a\\u00e9\\n\",\"response\":{\"body\":[\"\\\"\"]},"
                     "\"error\":null }";
    assert_int_equal(sluice_jsonl_read_success(ok, strlen(ok), &id, &cap), 1);
    assert_string_equal(id, "a\xC3\xA9\n");
    const char *no[] = {
        "{\"custom_id\":\"a\",\"error\":{\"code\":\"x\"}}",
        "{\"custom_id\":\"a\"}",
        "{\"custom_id\":7,\"error\":null}",
        "{\"custom_id\":\"a\",\"error\":null",
        "{\"custom_id\":\"a\",\"error\":null} x",
        "{\"custom_id\":\"a\",\"error\":nul}",
        "[{\"custom_id\":\"a\",\"error\":null}]",
        "",
    };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_int_equal(sluice_jsonl_read_success(no[i], strlen(no[i]), &id, &cap), 0);
    /* a body of UTIL_JSON_MAX_DEPTH inside the line and its response, and one level more */
    struct buf b = {0};
    for (int extra = 0; extra < 2; extra++) {
        buf_reset(&b);
        assert_int_equal(buf_append_lit(&b, "{\"custom_id\":\"d\",\"response\":{\"body\":"), 0);
        for (int i = 0; i < UTIL_JSON_MAX_DEPTH + extra; i++)
            assert_int_equal(buf_append_char(&b, '['), 0);
        for (int i = 0; i < UTIL_JSON_MAX_DEPTH + extra; i++)
            assert_int_equal(buf_append_char(&b, ']'), 0);
        assert_int_equal(buf_append_lit(&b, "},\"error\":null}"), 0);
        assert_int_equal(sluice_jsonl_read_success(b.data, b.len, &id, &cap), !extra);
    }
    buf_free(&b);
    free(id);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_success_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_with_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_without_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_json_body_is_a_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_the_vouched_body_goes_unchecked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nasty_ids_are_escaped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_newlines_in_json_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_vs_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_cuts_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_creates_missing_file, setup, teardown),
        cmocka_unit_test(test_enospc),
        cmocka_unit_test_setup_teardown(test_write_error_is_eio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_write_is_undone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdout, setup, teardown),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test_setup_teardown(test_many_lines_one_write_each, setup, teardown),
        cmocka_unit_test(test_read_success),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
