/* Unit tests for src/source.c: the lazy JSONL reader. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "gz_fixture.h"
#include "source.h"
#include "util.h"

#define MAX_LINE SOURCE_MAX_LINE

struct fx {
    char dir[64];
    char path[128];
    sluice_jsonl_source_t *js;
    sluice_source_t src;
};

static int setup(void **state) {
    struct fx *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    strcpy(fx->dir, "/tmp/sluice-test-source-XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    snprintf(fx->path, sizeof fx->path, "%s/in.jsonl", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    struct fx *fx = *state;
    sluice_jsonl_source_close(fx->js);
    DIR *d = opendir(fx->dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char p[512];
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", fx->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void write_input(struct fx *fx, const char *data, size_t len) {
    FILE *f = fopen(fx->path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void open_input(struct fx *fx, const char *text, const char *url,
                       int (*skip)(void *, const char *), void *skip_ud) {
    if (text != NULL)
        write_input(fx, text, strlen(text));
    assert_int_equal(sluice_jsonl_source_open(&fx->js, fx->path, url, skip, skip_ud), 0);
    sluice_jsonl_source_bind(fx->js, &fx->src);
}

static sluice_request_t *pull(struct fx *fx) {
    sluice_request_t *req = NULL;
    int rc = fx->src.next(fx->src.ud, &req);
    if (rc != 0)
        fail_msg("next() returned %d, expected a request", rc);
    assert_non_null(req);
    return req;
}

static void release(struct fx *fx, sluice_request_t *req) {
    fx->src.release(fx->src.ud, req);
}

static void expect_eof(struct fx *fx) {
    sluice_request_t *req = NULL;
    assert_int_equal(fx->src.next(fx->src.ud, &req), SLUICE_EOF);
    assert_null(req);
    assert_int_equal(fx->src.next(fx->src.ud, &req), SLUICE_EOF);
    assert_int_equal(sluice_jsonl_source_error(fx->js), 0);
}

/* Pulls the next request and checks it is invalid for `reason` on `line` with id `id`. */
static void expect_invalid(struct fx *fx, uint64_t line, const char *id, const char *reason) {
    sluice_request_t *req = pull(fx);
    if (req->invalid == NULL)
        fail_msg("line %llu: valid, expected invalid (%s)", (unsigned long long)line, reason);
    assert_string_equal(req->invalid, reason);
    assert_int_equal(req->line, line);
    assert_string_equal(req->custom_id, id);
    assert_null(req->body);
    assert_null(req->url);
    assert_int_equal(req->est_tokens, 0);
    release(fx, req);
}

static void expect_valid(struct fx *fx, uint64_t line, const char *id, const char *method,
                         const char *url, const char *body) {
    sluice_request_t *req = pull(fx);
    if (req->invalid != NULL)
        fail_msg("line %llu: invalid: %s", (unsigned long long)line, req->invalid);
    assert_int_equal(req->line, line);
    assert_string_equal(req->custom_id, id);
    assert_string_equal(req->method, method);
    assert_string_equal(req->url, url);
    assert_string_equal(req->body, body);
    assert_int_equal(req->body_len, strlen(body));
    release(fx, req);
}

static void test_batch_lines(void **state) {
    struct fx *fx = *state;
    open_input(fx,
               "{\"custom_id\": \"a\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", "
               "\"body\": {\"model\": \"m\", \"messages\": []}}\n"
               "{\"url\":\"/v1/embeddings\",\"body\":{\"input\":\"x\"},\"custom_id\":\"b\","
               "\"method\":\"PUT\"}\n",
               NULL, NULL, NULL);
    assert_string_equal(sluice_jsonl_source_name(fx->js), fx->path);
    sluice_request_t *req = pull(fx);
    assert_null(req->invalid);
    assert_string_equal(req->custom_id, "a");
    assert_string_equal(req->method, "POST");
    assert_string_equal(req->url, "/v1/chat/completions");
    assert_string_equal(req->body, "{\"model\": \"m\", \"messages\": []}");
    assert_int_equal(req->line, 1);
    assert_null(req->metadata);
    assert_int_equal(req->metadata_len, 0);
    release(fx, req);
    expect_valid(fx, 2, "b", "PUT", "/v1/embeddings", "{\"input\":\"x\"}");
    expect_eof(fx);
}

/* --url is every request's url, over the line's own (issue 17: the README's Azure example
   sent Batch lines to their /v1/chat/completions); a line whose url is wrong stays invalid. */
static void test_default_method_and_url(void **state) {
    struct fx *fx = *state;
    open_input(fx,
               "{\"custom_id\":\"a\",\"body\":{}}\n"
               "{\"custom_id\":\"b\",\"body\":{},\"url\":\"/own\"}\n"
               "{\"custom_id\":\"c\",\"body\":{},\"url\":5}\n",
               "/v1/default", NULL, NULL);
    expect_valid(fx, 1, "a", "POST", "/v1/default", "{}");
    expect_valid(fx, 2, "b", "POST", "/v1/default", "{}");
    expect_invalid(fx, 3, "c",
                   "url must be a non-empty string without spaces or control characters");
    expect_eof(fx);
}

static void test_missing_url_without_default(void **state) {
    struct fx *fx = *state;
    open_input(fx, "{\"custom_id\":\"a\",\"body\":{}}\n", NULL, NULL, NULL);
    expect_invalid(fx, 1, "a", "no \"url\" on the line and no --url");
    expect_eof(fx);
}

static void test_bare_lines_with_url(void **state) {
    struct fx *fx = *state;
    open_input(fx, "{\"model\":\"m\",\"input\":\"abcd\"}\n\n {\"input\": [1, 2]} \n",
               "/v1/embeddings", NULL, NULL);
    sluice_request_t *req = pull(fx);
    assert_null(req->invalid);
    assert_string_equal(req->custom_id, "line-1");
    assert_string_equal(req->method, "POST");
    assert_string_equal(req->url, "/v1/embeddings");
    assert_string_equal(req->body, "{\"model\":\"m\",\"input\":\"abcd\"}");
    assert_int_equal(req->est_tokens, 1);
    release(fx, req);
    expect_valid(fx, 3, "line-3", "POST", "/v1/embeddings", "{\"input\": [1, 2]}");
    expect_eof(fx);
}

static void test_bare_lines_without_url(void **state) {
    struct fx *fx = *state;
    open_input(fx, "{\"model\":\"m\"}\n{\"model\":\"n\"}\n", NULL, NULL, NULL);
    expect_invalid(fx, 1, "line-1", "bare request body needs --url");
    expect_invalid(fx, 2, "line-2", "bare request body needs --url");
    expect_eof(fx);
}

static void test_metadata_copied_raw(void **state) {
    struct fx *fx = *state;
    open_input(fx,
               "{\"custom_id\":\"a\",\"metadata\": {\"k\": [1, 2.50, \"\\u00e9\"]} ,"
               "\"body\":{},\"url\":\"/u\"}\n"
               "{\"custom_id\":\"b\",\"metadata\":null,\"body\":{},\"url\":\"/u\"}\n"
               "{\"custom_id\":\"c\",\"metadata\":[1],\"body\":{},\"url\":\"/u\"}\n"
               "{\"custom_id\":\"d\",\"metadata\":{\"m\":1},\"body\":7,\"url\":\"/u\"}\n",
               NULL, NULL, NULL);
    sluice_request_t *req = pull(fx);
    assert_null(req->invalid);
    assert_string_equal(req->metadata, "{\"k\": [1, 2.50, \"\\u00e9\"]}");
    assert_int_equal(req->metadata_len, strlen(req->metadata));
    release(fx, req);
    req = pull(fx);
    assert_null(req->invalid);
    assert_null(req->metadata);
    release(fx, req);
    expect_invalid(fx, 3, "c", "metadata must be a JSON object");
    /* An invalid line still carries its metadata to its (failed) result line. */
    req = pull(fx);
    assert_string_equal(req->invalid, "body must be a JSON object");
    assert_string_equal(req->metadata, "{\"m\":1}");
    release(fx, req);
    expect_eof(fx);
}

static void test_crlf_blank_lines_and_numbering(void **state) {
    struct fx *fx = *state;
    open_input(fx,
               "\r\n"
               "{\"custom_id\":\"a\",\"body\":{\"x\":1}}\r\n"
               "   \t \n"
               "\n"
               "{\"custom_id\":\"b\",\"body\":{}}  \r\n"
               "\r\n",
               "/u", NULL, NULL);
    expect_valid(fx, 2, "a", "POST", "/u", "{\"x\":1}");
    expect_valid(fx, 5, "b", "POST", "/u", "{}");
    expect_eof(fx);
}

static void test_bom_and_last_line_without_newline(void **state) {
    struct fx *fx = *state;
    open_input(fx,
               "\xEF\xBB\xBF{\"custom_id\":\"a\",\"body\":{}}\n"
               "\xEF\xBB\xBF{\"custom_id\":\"b\",\"body\":{}}\n"
               "{\"custom_id\":\"c\",\"body\":{\"last\":true}}",
               "/u", NULL, NULL);
    expect_valid(fx, 1, "a", "POST", "/u", "{}");
    /* Only line 1 may start with a BOM. */
    expect_invalid(fx, 2, "line-2", "not valid JSON (unexpected character at column 1)");
    expect_valid(fx, 3, "c", "POST", "/u", "{\"last\":true}");
    expect_eof(fx);
}

static void test_empty_input(void **state) {
    struct fx *fx = *state;
    open_input(fx, "", NULL, NULL, NULL);
    expect_eof(fx);
}

static void test_invalid_lines(void **state) {
    struct fx *fx = *state;
    open_input(fx,
               "{\"custom_id\": \"a\", body: {}}\n"                       /* 1 */
               "{\"custom_id\":\"b\",\"body\":{}\n"                       /* 2 */
               "[1,2]\n"                                                  /* 3 */
               "{\"custom_id\":\"\",\"body\":{}}\n"                       /* 4 */
               "{\"custom_id\":7,\"body\":{}}\n"                          /* 5 */
               "{\"body\":{}}\n"                                          /* 6 */
               "{\"custom_id\":\"g\"}\n"                                  /* 7 */
               "{\"custom_id\":\"h\",\"body\":\"text\"}\n"                /* 8 */
               "{\"custom_id\":\"i\",\"body\":{},\"method\":\"PO ST\"}\n" /* 9 */
               "{\"custom_id\":\"j\",\"body\":{},\"method\":1}\n"         /* 10 */
               "{\"custom_id\":\"k\",\"body\":{},\"url\":\"/a b\"}\n"     /* 11 */
               "{\"custom_id\":\"l\",\"body\":{},\"url\":\"\"}\n"         /* 12 */
               "{\"custom_id\":\"m\",\"body\":{\"s\":\"\xff\"}}\n"        /* 13 */
               "{\"custom_id\":\"n\",\"body\":{\"v\":NaN}}\n"             /* 14 */
               "{\"custom_id\":\"o\",\"body\":{}} trailing\n"             /* 15 */
               "{\"custom_id\":\"a\\u0000b\",\"body\":{}}\n"              /* 16 */
               "{\"custom_id\":\"p\",\"body\":{\"t\":\"a\tb\"}}\n"        /* 17 */
               "{\"custom_id\":\"q\",\"body\":{}}\n",                     /* 18 */
               "/u", NULL, NULL);
    expect_invalid(fx, 1, "line-1", "not valid JSON (unexpected character at column 20)");
    expect_invalid(fx, 2, "line-2", "not valid JSON (unexpected end of line)");
    expect_invalid(fx, 3, "line-3", "not a JSON object");
    expect_invalid(fx, 4, "line-4", "custom_id must be a non-empty string");
    expect_invalid(fx, 5, "line-5", "custom_id must be a non-empty string");
    expect_invalid(fx, 6, "line-6", "custom_id must be a non-empty string");
    expect_invalid(fx, 7, "g", "body must be a JSON object");
    expect_invalid(fx, 8, "h", "body must be a JSON object");
    expect_invalid(fx, 9, "i", "method must be an HTTP method name such as \"POST\"");
    expect_invalid(fx, 10, "j", "method must be an HTTP method name such as \"POST\"");
    expect_invalid(fx, 11, "k",
                   "url must be a non-empty string without spaces or control "
                   "characters");
    expect_invalid(fx, 12, "l",
                   "url must be a non-empty string without spaces or control "
                   "characters");
    expect_invalid(fx, 13, "line-13", "not valid JSON (invalid UTF-8 at column 31)");
    expect_invalid(fx, 14, "line-14", "not valid JSON (unexpected character at column 30)");
    expect_invalid(fx, 15, "line-15", "not valid JSON (text after the value at column 29)");
    expect_invalid(fx, 16, "line-16", "custom_id must not contain NUL characters");
    expect_invalid(fx, 17, "line-17", "not valid JSON (unexpected character at column 32)");
    expect_valid(fx, 18, "q", "POST", "/u", "{}");
    expect_eof(fx);
}

static void test_custom_id_length_limit(void **state) {
    struct fx *fx = *state;
    char id[SOURCE_MAX_ID + 2];
    memset(id, 'x', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    char *text = malloc(2048);
    assert_non_null(text);
    /* 513 bytes: too long; 512 bytes: fine. */
    snprintf(text, 2048, "{\"custom_id\":\"%s\",\"body\":{}}\n{\"custom_id\":\"%s\",\"body\":{}}\n",
             id, id + 1);
    open_input(fx, text, "/u", NULL, NULL);
    expect_invalid(fx, 1, "line-1", "custom_id longer than 512 bytes");
    expect_valid(fx, 2, id + 1, "POST", "/u", "{}");
    expect_eof(fx);
    free(text);
}

static void test_nesting_limit(void **state) {
    struct fx *fx = *state;
    enum { D = 200 };
    char text[2 * D + 64];
    size_t n = (size_t)snprintf(text, sizeof text, "{\"custom_id\":\"a\",\"body\":{\"x\":");
    memset(text + n, '[', D);
    memset(text + n + D, ']', D);
    n += 2 * D;
    memcpy(text + n, "}}\n", 4);
    open_input(fx, text, "/u", NULL, NULL);
    expect_invalid(fx, 1, "line-1", "not valid JSON (nested deeper than 128 levels)");
    expect_eof(fx);
}

static void test_escaped_keys_are_recognised(void **state) {
    struct fx *fx = *state;
    open_input(fx, "{\"custom_\\u0069d\":\"a\",\"bo\\u0064y\":{\"k\":1},\"url\":\"/u\"}\n", NULL,
               NULL, NULL);
    expect_valid(fx, 1, "a", "POST", "/u", "{\"k\":1}");
    expect_eof(fx);
}

/* String values with escapes are decoded, as json-c decoded them; repeated keys: the last. */
static void test_escaped_values_are_decoded(void **state) {
    struct fx *fx = *state;
    open_input(
        fx,
        "{\"custom_id\":\"a\\u00e9\\\"b\",\"method\":\"P\\u004fST\",\"url\":\"/v\\/1\","
        "\"body\":{\"model\":\"gpt\\u002d4\",\"model\":\"m\\u00e9\",\"input\":\"ab\\ncd\"}}\n",
        NULL, NULL, NULL);
    sluice_request_t *req = pull(fx);
    assert_string_equal(req->custom_id, "a\xc3\xa9\"b");
    assert_string_equal(req->method, "POST");
    assert_string_equal(req->url, "/v/1");
    assert_string_equal(req->model, "m\xc3\xa9");
    assert_int_equal(req->est_prompt_tokens, 2); /* "ab\ncd": 5 bytes */
    release(fx, req);
    expect_eof(fx);
}

static void test_duplicate_ids(void **state) {
    struct fx *fx = *state;
    open_input(fx,
               "{\"custom_id\":\"x\",\"body\":{}}\n"
               "{\"custom_id\":\"y\",\"body\":{}}\n"
               "{\"custom_id\":\"x\",\"body\":{}}\n"
               "{\"custom_id\":\"line-5\",\"body\":{}}\n"
               "{\"bare\":1}\n"
               "{\"custom_id\":\"y\",\"body\":\"bad\"}\n"
               "{\"custom_id\":\"x\",\"metadata\":{\"k\":1},\"method\":\"P "
               "T\",\"body\":{\"model\":\"m\"}}\n",
               "/u", NULL, NULL);
    expect_valid(fx, 1, "x", "POST", "/u", "{}");
    expect_valid(fx, 2, "y", "POST", "/u", "{}");
    expect_invalid(fx, 3, "x", "duplicate custom_id \"x\"");
    expect_valid(fx, 4, "line-5", "POST", "/u", "{}");
    expect_invalid(fx, 5, "line-5",
                   "duplicate custom_id (another line uses this line's line-N id)");
    expect_invalid(fx, 6, "y", "duplicate custom_id \"y\"");
    /* A duplicate is only that, whatever else the line has (read while the id was looked up):
       no other reason, no metadata, no model. */
    sluice_request_t *req = pull(fx);
    assert_string_equal(req->invalid, "duplicate custom_id \"x\"");
    assert_null(req->metadata);
    assert_null(req->model);
    assert_null(req->body);
    release(fx, req);
    expect_eof(fx);
}

static int skip_b_and_d(void *ud, const char *id) {
    int *calls = ud;
    (*calls)++;
    return strcmp(id, "b") == 0 || strcmp(id, "d") == 0;
}

static void test_skip_callback(void **state) {
    struct fx *fx = *state;
    int calls = 0;
    open_input(fx,
               "{\"custom_id\":\"a\",\"body\":{}}\n"
               "{\"custom_id\":\"b\",\"body\":{}}\n"
               "{\"custom_id\":\"c\",\"body\":{}}\n"
               "{\"custom_id\":\"d\",\"body\":[]}\n"
               "{\"custom_id\":\"b\",\"body\":{}}\n",
               "/u", skip_b_and_d, &calls);
    expect_valid(fx, 1, "a", "POST", "/u", "{}");
    expect_valid(fx, 3, "c", "POST", "/u", "{}");
    /* Only valid lines are skipped: an invalid one always gets its failed result. */
    expect_invalid(fx, 4, "d", "body must be a JSON object");
    /* A skipped id still counts as seen. */
    expect_invalid(fx, 5, "b", "duplicate custom_id \"b\"");
    expect_eof(fx);
    assert_int_equal(calls, 3);
}

#define STREAM_REFUSED                                                                             \
    "\"stream\": true is not supported in a batch (the answer would be stored as raw events, "     \
    "with no usage or cost): remove \"stream\" from the body or set it to false"

/* A body asking for a streamed answer is refused before it is sent; "stream" false, nested, or
   not the literal true is left to the provider. */
static void test_stream_refused(void **state) {
    struct fx *fx = *state;
    open_input(
        fx,
        "{\"custom_id\":\"s\",\"body\":{\"model\":\"m\",\"stream\":true},\"metadata\":{\"k\":1}}\n"
        "{\"custom_id\":\"f\",\"body\":{\"stream\":false}}\n"
        "{\"custom_id\":\"n\",\"body\":{\"x\":{\"stream\":true}}}\n"
        "{\"custom_id\":\"t\",\"body\":{\"stream\" : true , \"max_tokens\":5}}\n"
        "{\"custom_id\":\"e\",\"body\":{\"str\\u0065am\":true}}\n"
        "{\"model\":\"m\",\"stream\":true}\n"
        "{\"custom_id\":\"s\",\"body\":{}}\n",
        "/u", NULL, NULL);
    sluice_request_t *req = pull(fx);
    assert_string_equal(req->invalid, STREAM_REFUSED);
    assert_string_equal(req->metadata, "{\"k\":1}"); /* kept, as for any invalid line */
    assert_null(req->body);
    assert_null(req->model);
    release(fx, req);
    expect_valid(fx, 2, "f", "POST", "/u", "{\"stream\":false}");
    expect_valid(fx, 3, "n", "POST", "/u", "{\"x\":{\"stream\":true}}");
    expect_invalid(fx, 4, "t", STREAM_REFUSED);
    expect_invalid(fx, 5, "e", STREAM_REFUSED);
    expect_invalid(fx, 6, "line-6", STREAM_REFUSED); /* a bare body */
    expect_invalid(fx, 7, "s", "duplicate custom_id \"s\"");
    expect_eof(fx);
}

/* The feeder of a Redis job checks lines without estimating them: it refuses them too. */
static void test_stream_refused_check_only(void **state) {
    (void)state;
    sluice_jsonl_source_t *js;
    sluice_request_t *req;
    const char *line = "{\"custom_id\":\"s\",\"body\":{\"stream\":true}}";
    assert_int_equal(source_parser_new(&js, "x", "/u"), 0);
    source_check_only(js);
    assert_int_equal(source_parse(js, 3, line, strlen(line), &req), 1);
    assert_string_equal(req->invalid, STREAM_REFUSED);
    assert_int_equal(req->line, 3);
    source_release_request(js, req);
    sluice_jsonl_source_close(js);
}

static void test_numbers_preserved_exactly(void **state) {
    struct fx *fx = *state;
    const char *body = "{\"t\":1.10,\"big\":12345678901234567890,"
                       "\"huge\":123456789012345678901234567890,\"neg\":-0,\"e\":1E400,"
                       "\"f\":-0.0e-0,\"s\":\"\\u00e9\\/\"}";
    char text[512];
    snprintf(text, sizeof text, "{\"custom_id\":\"n\",\"body\":%s,\"url\":\"/u\"}\n", body);
    open_input(fx, text, NULL, NULL, NULL);
    expect_valid(fx, 1, "n", "POST", "/u", body);
    expect_eof(fx);
}

static void test_token_estimate_on_requests(void **state) {
    struct fx *fx = *state;
    open_input(fx,
               "{\"custom_id\":\"a\",\"body\":{\"messages\":[{\"role\":\"user\","
               "\"content\":\"abcdefghi\"}],\"max_tokens\":5}}\n",
               "/u", NULL, NULL);
    sluice_request_t *req = pull(fx);
    assert_int_equal(req->est_tokens, 3 + 5);
    release(fx, req);
    expect_eof(fx);
}

static uint64_t estimate(const char *json) {
    if (util_json_validate(json, strlen(json), NULL) != UTIL_JSON_OK)
        fail_msg("bad test JSON: %s", json);
    return source_estimate_tokens(json, strlen(json));
}

static void test_estimate_chat(void **state) {
    (void)state;
    assert_int_equal(estimate("{\"messages\":[{\"role\":\"system\",\"content\":\"abcd\"},"
                              "{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                              "\"text\":\"abcdefgh\"},{\"type\":\"image_url\","
                              "\"image_url\":{\"url\":\"http://x/y.png\"}}]}],"
                              "\"max_completion_tokens\":10,\"max_tokens\":99,\"n\":2}"),
                     3 + 10 * 2);
    assert_int_equal(estimate("{\"messages\":[{\"role\":\"user\",\"content\":\"abcde\"}]}"), 2);
    assert_int_equal(estimate("{\"messages\":[{\"role\":\"user\",\"content\":null}],"
                              "\"max_tokens\":-4,\"n\":0}"),
                     0);
    assert_int_equal(estimate("{\"messages\":[],\"max_tokens\":3,\"n\":4}"), 12);
}

static void test_estimate_completions(void **state) {
    (void)state;
    assert_int_equal(estimate("{\"prompt\":[\"abc\",\"defgh\"],\"max_tokens\":7,\"n\":3}"), 2 + 21);
    assert_int_equal(estimate("{\"prompt\":\"abcd\"}"), 1);
    assert_int_equal(estimate("{\"prompt\":[1,2,3],\"max_tokens\":1}"), 4);
}

static void test_estimate_embeddings(void **state) {
    (void)state;
    assert_int_equal(estimate("{\"input\":\"hello world\"}"), 3);
    assert_int_equal(estimate("{\"input\":[\"ab\",\"cd\",\"e\"]}"), 2);
    assert_int_equal(estimate("{\"input\":[[1,2],[3]]}"), 3);
    assert_int_equal(estimate("{\"input\":[5,6,7,8]}"), 4);
}

static void test_estimate_anthropic(void **state) {
    (void)state;
    assert_int_equal(estimate("{\"system\":[{\"type\":\"text\",\"text\":\"abcd\"}],"
                              "\"messages\":[{\"role\":\"user\",\"content\":\"abcdefgh\"}],"
                              "\"max_tokens\":100}"),
                     3 + 100);
    assert_int_equal(estimate("{\"system\":\"abcdefgh\",\"messages\":[{\"role\":\"user\","
                              "\"content\":[{\"type\":\"text\",\"text\":\"a\"}]}],"
                              "\"max_tokens\":1}"),
                     3 + 1);
}

static void test_estimate_degenerate(void **state) {
    (void)state;
    assert_int_equal(source_estimate_tokens(NULL, 0), 0);
    assert_int_equal(estimate("[1,2]"), 0);
    assert_int_equal(estimate("{}"), 0);
    assert_int_equal(estimate("{\"max_tokens\":9223372036854775807,\"n\":4}"), UINT64_MAX);
}

static void test_stdin(void **state) {
    struct fx *fx = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    const char *text = "{\"custom_id\":\"a\",\"body\":{}}\n{\"custom_id\":\"b\",\"body\":{}}";
    assert_int_equal(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
    close(p[1]);
    int saved = dup(0);
    assert_true(saved >= 0);
    assert_int_equal(dup2(p[0], 0), 0);
    close(p[0]);
    assert_int_equal(sluice_jsonl_source_open(&fx->js, "-", "/u", NULL, NULL), 0);
    sluice_jsonl_source_bind(fx->js, &fx->src);
    assert_string_equal(sluice_jsonl_source_name(fx->js), "-");
    expect_valid(fx, 1, "a", "POST", "/u", "{}");
    expect_valid(fx, 2, "b", "POST", "/u", "{}");
    expect_eof(fx);
    sluice_jsonl_source_close(fx->js);
    fx->js = NULL;
    /* stdin belongs to the process: still open. */
    assert_true(fcntl(0, F_GETFD) != -1);
    assert_int_equal(dup2(saved, 0), 0);
    close(saved);
}

static void test_read_error(void **state) {
    struct fx *fx = *state;
    /* A write-only descriptor on stdin: open succeeds, read(2) fails with EBADF. */
    write_input(fx, "x", 1);
    int wfd = open(fx->path, O_WRONLY);
    assert_true(wfd >= 0);
    int saved = dup(0);
    assert_int_equal(dup2(wfd, 0), 0);
    close(wfd);
    assert_int_equal(sluice_jsonl_source_open(&fx->js, "-", NULL, NULL, NULL), 0);
    sluice_jsonl_source_bind(fx->js, &fx->src);
    sluice_request_t *req = NULL;
    assert_int_equal(fx->src.next(fx->src.ud, &req), SLUICE_EOF);
    assert_int_equal(fx->src.next(fx->src.ud, &req), SLUICE_EOF);
    errno = 0;
    assert_int_equal(sluice_jsonl_source_error(fx->js), SLUICE_EIO);
    assert_int_equal(errno, EBADF);
    assert_int_equal(dup2(saved, 0), 0);
    close(saved);
}

static void test_open_errors(void **state) {
    struct fx *fx = *state;
    sluice_jsonl_source_t *js = (void *)1;
    errno = 0;
    assert_int_equal(sluice_jsonl_source_open(&js, "/nonexistent/x.jsonl", NULL, NULL, NULL),
                     SLUICE_EIO);
    assert_int_equal(errno, ENOENT);
    assert_null(js);
    assert_int_equal(sluice_jsonl_source_open(&js, fx->dir, NULL, NULL, NULL), SLUICE_EIO);
    assert_int_equal(errno, EISDIR);
}

/* Appends `n` bytes of JSON-string filler to f. */
static void put_filler(FILE *f, size_t n) {
    static char chunk[1 << 16];
    memset(chunk, 'a', sizeof chunk);
    while (n > 0) {
        size_t k = n < sizeof chunk ? n : sizeof chunk;
        assert_int_equal(fwrite(chunk, 1, k, f), k);
        n -= k;
    }
}

/* A line of exactly `len` bytes, ending in `eol`. */
static void put_sized_line(FILE *f, const char *id, size_t len, const char *eol) {
    int head = fprintf(f, "{\"custom_id\":\"%s\",\"body\":{\"p\":\"", id);
    put_filler(f, len - (size_t)head - 3);
    fprintf(f, "\"}}%s", eol);
}

static void test_long_lines(void **state) {
    struct fx *fx = *state;
    FILE *f = fopen(fx->path, "wb");
    assert_non_null(f);
    put_sized_line(f, "over-by-one", MAX_LINE + 1, "\n");        /* 1 */
    fputs("{\"custom_id\":\"after1\",\"body\":{}}\n", f);        /* 2 */
    put_sized_line(f, "way-over", MAX_LINE + (300 << 10), "\n"); /* 3 */
    fputs("{\"custom_id\":\"after3\",\"body\":{}}\n", f);        /* 4 */
    put_sized_line(f, "exact", MAX_LINE, "\r\n");                /* 5 */
    put_sized_line(f, "over-at-eof", MAX_LINE + 1, "");          /* 6 */
    assert_int_equal(fclose(f), 0);
    open_input(fx, NULL, "/u", NULL, NULL);

    expect_invalid(fx, 1, "line-1", "line longer than 64 MiB");
    expect_valid(fx, 2, "after1", "POST", "/u", "{}");
    expect_invalid(fx, 3, "line-3", "line longer than 64 MiB");
    expect_valid(fx, 4, "after3", "POST", "/u", "{}");
    /* Past a long line the reader gives its memory back. */
    assert_true(source_memory(fx->js) < (1 << 20));
    sluice_request_t *req = pull(fx);
    assert_null(req->invalid);
    assert_string_equal(req->custom_id, "exact");
    assert_int_equal(req->line, 5);
    assert_int_equal(req->body_len, MAX_LINE - strlen("{\"custom_id\":\"exact\",\"body\":}"));
    release(fx, req);
    /* The reader never holds more than one maximal line. */
    assert_true(source_memory(fx->js) <= MAX_LINE + (1 << 20));
    expect_invalid(fx, 6, "line-6", "line longer than 64 MiB");
    expect_eof(fx);
}

static void test_many_lines_bounded_memory(void **state) {
    struct fx *fx = *state;
    enum { N = 100000 };
    FILE *f = fopen(fx->path, "wb");
    assert_non_null(f);
    for (int i = 1; i <= N; i++)
        fprintf(f, "{\"custom_id\":\"req-%d\",\"body\":{\"input\":\"text number %d\"}}\n", i, i);
    assert_int_equal(fclose(f), 0);
    open_input(fx, NULL, "/v1/embeddings", NULL, NULL);
    size_t first = 0, peak = 0;
    for (int i = 1; i <= N; i++) {
        sluice_request_t *req = pull(fx);
        assert_null(req->invalid);
        assert_int_equal(req->line, (uint64_t)i);
        char id[32];
        snprintf(id, sizeof id, "req-%d", i);
        assert_string_equal(req->custom_id, id);
        release(fx, req);
        size_t m = source_memory(fx->js);
        if (i == 1)
            first = m;
        if (m > peak)
            peak = m;
    }
    expect_eof(fx);
    /* The file is ~5.5 MB: the reader holds its 64 KiB buffer, and the id set, sized from the
     * file before the first line, holds at most 16 bytes per line, and does not grow. */
    assert_true(first <= (64 << 10) + 8192 + 4096 + (size_t)N * 16);
    assert_true(peak <= (64 << 10) + 4096 + (size_t)N * 16);
    assert_true(peak == first);
}

/* ---- gzip input (src/source_gz.c inflates; these check the source reading through it) ---- */

static void open_gz(struct fx *fx, const void *data, size_t len) {
    write_input(fx, data, len);
    open_input(fx, NULL, "/u", NULL, NULL);
}

static void test_gzip_reads_gzip(void **state) {
    struct fx *fx = *state;
    size_t len;
    /* Numbers count the text's lines: a blank line and a bad one in between. */
    unsigned char *data = gz_two("{\"custom_id\":\"a\",\"body\":{}}\n\nnot json\n",
                                 "{\"custom_id\":\"b\",\"body\":{}}", &len);
    open_gz(fx, data, len);
    assert_int_equal(sluice_jsonl_source_verify(fx->js), 0);
    expect_valid(fx, 1, "a", "POST", "/u", "{}");
    expect_invalid(fx, 3, "line-3", "not valid JSON (unexpected character at column 2)");
    expect_valid(fx, 4, "b", "POST", "/u", "{}");
    expect_eof(fx);
    const char *why = "x";
    assert_int_equal(sluice_jsonl_source_gzip(fx->js, &why), 1);
    assert_null(why);
    free(data);
}

static void test_gzip_empty_gzip(void **state) {
    struct fx *fx = *state;
    size_t len;
    unsigned char *data = gz_of("", 0, &len);
    open_gz(fx, data, len);
    expect_eof(fx);
    assert_int_equal(sluice_jsonl_source_gzip(fx->js, NULL), 1);
    free(data);
}

/* Cut short: the whole lines before are handed out, the cut one is not, and the source says
   why it stopped. */
static void test_gzip_cut_short(void **state) {
    struct fx *fx = *state;
    char text[4096] = "";
    for (int i = 0; i < 60; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text),
                 "{\"custom_id\":\"r%d\",\"body\":{\"n\":%d}}\n", i, i * 7919 % 1000);
    size_t len;
    unsigned char *data = gz_of(text, strlen(text), &len);
    open_gz(fx, data, len - 20); /* the trailer and the last bytes of data */
    errno = 0;
    assert_int_equal(sluice_jsonl_source_verify(fx->js), SLUICE_EPARSE);
    assert_int_equal(errno, EBADMSG);
    const char *why = NULL;
    assert_int_equal(sluice_jsonl_source_gzip(fx->js, &why), 1);
    assert_string_equal(why, "unexpected end of file");
    /* Read anyway (as from a pipe, which cannot be verified): every line handed out is whole. */
    sluice_request_t *req;
    int n = 0;
    while (fx->src.next(fx->src.ud, &req) == 0) {
        assert_null(req->invalid);
        fx->src.release(fx->src.ud, req);
        n++;
    }
    assert_true(n > 0 && n < 60);
    errno = 0;
    assert_int_equal(sluice_jsonl_source_error(fx->js), SLUICE_EPARSE);
    assert_int_equal(errno, EBADMSG);
    free(data);
}

static void test_gzip_bad_checksum(void **state) {
    struct fx *fx = *state;
    const char *text = "{\"custom_id\":\"a\",\"body\":{}}\n";
    size_t len;
    unsigned char *data = gz_of(text, strlen(text), &len);
    data[len - 8] ^= 0xff; /* the CRC-32 */
    open_gz(fx, data, len);
    assert_int_equal(sluice_jsonl_source_verify(fx->js), SLUICE_EPARSE);
    const char *why = NULL;
    sluice_jsonl_source_gzip(fx->js, &why);
    assert_string_equal(why, "incorrect data check");
    free(data);
}

/* Plain input is not touched by verify, and a lone 0x1f is plain text (an invalid line). */
static void test_gzip_plain(void **state) {
    struct fx *fx = *state;
    open_gz(fx, "\x1f", 1);
    assert_int_equal(sluice_jsonl_source_verify(fx->js), 0);
    expect_invalid(fx, 1, "line-1", "not valid JSON (unexpected character at column 1)");
    expect_eof(fx);
    assert_int_equal(sluice_jsonl_source_gzip(fx->js, NULL), 0);
}

/* verify reads from stdin's read position, and leaves it there for next(). */
static void test_gzip_verify_keeps_position(void **state) {
    struct fx *fx = *state;
    const char *text = "{\"custom_id\":\"a\",\"body\":{}}\n";
    size_t len;
    unsigned char *data = gz_of(text, strlen(text), &len);
    FILE *f = fopen(fx->path, "wb");
    assert_non_null(f);
    fputs("skipped by the caller\n", f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    int fd = open(fx->path, O_RDONLY), saved = dup(0);
    assert_true(fd >= 0 && saved >= 0);
    assert_int_equal(lseek(fd, 22, SEEK_SET), 22);
    assert_int_equal(dup2(fd, 0), 0);
    close(fd);
    assert_int_equal(sluice_jsonl_source_open(&fx->js, "-", "/u", NULL, NULL), 0);
    sluice_jsonl_source_bind(fx->js, &fx->src);
    assert_int_equal(sluice_jsonl_source_verify(fx->js), 0);
    assert_int_equal(sluice_jsonl_source_gzip(fx->js, NULL), 1);
    expect_valid(fx, 1, "a", "POST", "/u", "{}");
    expect_eof(fx);
    assert_int_equal(dup2(saved, 0), 0);
    close(saved);
    free(data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_method_and_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_url_without_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bare_lines_with_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bare_lines_without_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_copied_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crlf_blank_lines_and_numbering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bom_and_last_line_without_newline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_id_length_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nesting_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaped_keys_are_recognised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaped_values_are_decoded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skip_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_refused, setup, teardown),
        cmocka_unit_test(test_stream_refused_check_only),
        cmocka_unit_test_setup_teardown(test_numbers_preserved_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_estimate_on_requests, setup, teardown),
        cmocka_unit_test(test_estimate_chat),
        cmocka_unit_test(test_estimate_completions),
        cmocka_unit_test(test_estimate_embeddings),
        cmocka_unit_test(test_estimate_anthropic),
        cmocka_unit_test(test_estimate_degenerate),
        cmocka_unit_test_setup_teardown(test_stdin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_lines_bounded_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_reads_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_empty_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_cut_short, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_bad_checksum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_verify_keeps_position, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
