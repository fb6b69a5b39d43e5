/*
 * The mock's provider dialects: every error kind in every dialect is read by sluice's own
 * classifier as the class the issue names (so the mock and the classifier cannot drift
 * apart), the retry hint sits where the provider puts it, and the rate-limit headers have
 * each provider's shape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <json-c/json.h>

#include "classify.h"
#include "mock_dialect.h"

/* Sat, 15 Mar 2025 12:00:00 UTC */
#define WALL INT64_C(1742040000000)

static const enum mock_provider ALL[] = {MOCK_OPENAI, MOCK_AZURE, MOCK_ANTHROPIC, MOCK_GEMINI};

struct answer {
    struct mock_err_head h;
    struct mock_buf body;
    struct mock_buf head; /* the header lines mock_handle.c would send for h */
    struct classify_verdict v;
};

/* Builds error `e` in dialect `p`, renders its hint headers as the handler does (with rate
 * headers on), and classifies the whole answer. */
static void answer(struct answer *a, enum mock_provider p, struct mock_err e) {
    memset(a, 0, sizeof *a);
    if (!e.model) {
        e.model = "gpt-4o-mini";
        e.model_len = strlen(e.model);
    }
    e.request_id = "req_0123";
    e.wall_ms = WALL;
    mock_dialect_error(p, &e, &a->h, &a->body);
    assert_false(a->body.failed);
    if (a->h.retry_after_ms >= 0)
        mock_buf_printf(&a->head, "retry-after: %lld\r\n",
                        (long long)((a->h.retry_after_ms + 999) / 1000));
    if (a->h.retry_after_ms_hdr)
        mock_buf_printf(&a->head, "retry-after-ms: %lld\r\n", (long long)a->h.retry_after_ms);
    if (a->h.should_retry >= 0)
        mock_buf_printf(&a->head, "x-should-retry: %s\r\n", a->h.should_retry ? "true" : "false");
    /* A NUL past the end for strstr and json-c (appended, so it holds whatever the buffer). */
    mock_buf_append(&a->body, "", 1);
    a->body.buf.len--;
    mock_buf_append(&a->head, "", 1);
    a->head.buf.len--;
    struct classify_hdrs hd;
    classify_hdrs_init(&hd);
    for (size_t i = 0; i < a->head.buf.len;) {
        const char *line = a->head.buf.data + i, *end = strstr(line, "\r\n");
        assert_non_null(end);
        classify_header(&hd, line, (size_t)(end - line), WALL);
        i += (size_t)(end - line) + 2;
    }
    a->v = classify_answer(TRANSPORT_OK, a->h.status, &hd, a->body.buf.data, a->body.buf.len);
}

static void answer_free(struct answer *a) {
    mock_buf_free(&a->body);
    mock_buf_free(&a->head);
}

static json_object *parse(const struct answer *a) {
    json_object *j = json_tokener_parse(a->body.buf.data ? a->body.buf.data : "");
    assert_non_null(j);
    return j;
}

static int has(const struct answer *a, const char *s) {
    return a->body.buf.data && strstr(a->body.buf.data, s) != NULL;
}

static void test_rate_every_dialect(void **state) {
    (void)state;
    struct mock_err e = {.kind = MOCK_ERR_RATE,
                         .budget = MOCK_LIMIT_REQUESTS,
                         .limit = 600,
                         .used = 600,
                         .asked = 1,
                         .wait_ms = 1500,
                         .seq = 1};
    for (size_t i = 0; i < 4; i++) {
        struct answer a;
        answer(&a, ALL[i], e);
        assert_int_equal(a.h.status, 429);
        assert_int_equal(a.v.cls, CLASS_RATE_LIMITED);
        json_object_put(parse(&a));
        switch (ALL[i]) {
        case MOCK_OPENAI:
        case MOCK_AZURE: /* retry-after-ms: the exact wait */
            assert_true(a.h.retry_after_ms_hdr);
            assert_int_equal(a.v.retry_after_ms, 1500);
            break;
        case MOCK_ANTHROPIC: /* retry-after only, in whole seconds */
            assert_false(a.h.retry_after_ms_hdr);
            assert_int_equal(a.v.retry_after_ms, 2000);
            break;
        case MOCK_GEMINI: /* no header at all: RetryInfo in the body */
            assert_int_equal(a.head.buf.len, 0);
            assert_true(has(&a, "\"retryDelay\":\"1.5s\""));
            assert_true(has(&a, "RESOURCE_EXHAUSTED"));
            assert_int_equal(a.v.retry_after_ms, 1500);
            break;
        }
        answer_free(&a);
    }
}

static void test_gemini_wraps_every_second_error(void **state) {
    (void)state;
    for (uint64_t seq = 1; seq <= 4; seq++) {
        struct mock_err e = {.kind = MOCK_ERR_RATE,
                             .budget = MOCK_LIMIT_TOKENS,
                             .limit = 1000,
                             .wait_ms = 250,
                             .seq = seq};
        struct answer a;
        answer(&a, MOCK_GEMINI, e);
        json_object *j = parse(&a);
        assert_int_equal(json_object_is_type(j, json_type_array), seq % 2 == 0);
        assert_int_equal(a.v.cls, CLASS_RATE_LIMITED);
        assert_int_equal(a.v.retry_after_ms, 250);
        json_object_put(j);
        answer_free(&a);
    }
}

static void test_quota_every_dialect(void **state) {
    (void)state;
    for (size_t i = 0; i < 4; i++) {
        for (uint64_t seq = 1; seq <= 2; seq++) {
            struct mock_err e = {.kind = MOCK_ERR_QUOTA, .limit = 200, .seq = seq};
            struct answer a;
            answer(&a, ALL[i], e);
            assert_int_equal(a.v.cls, CLASS_QUOTA);
            assert_int_equal(a.h.status, ALL[i] == MOCK_ANTHROPIC ? 400 : 429);
            assert_false(a.h.rate_headers);
            json_object_put(parse(&a));
            if (ALL[i] == MOCK_ANTHROPIC)
                assert_true(has(&a, seq == 1 ? "credit balance is too low"
                                             : "regain access on 2025-04-01 at 00:00 UTC"));
            if (ALL[i] == MOCK_GEMINI) {
                assert_true(has(&a, "PerDay"));
                assert_true(has(&a, "\"retryDelay\":\"43200s\"")); /* until midnight UTC */
            }
            answer_free(&a);
        }
    }
}

static void test_overloaded_every_dialect(void **state) {
    (void)state;
    for (size_t i = 0; i < 4; i++) {
        struct answer a;
        answer(&a, ALL[i], (struct mock_err){.kind = MOCK_ERR_OVERLOADED, .seq = 1});
        assert_int_equal(a.h.status, ALL[i] == MOCK_ANTHROPIC ? 529 : 503);
        assert_int_equal(a.v.cls, CLASS_OVERLOADED);
        assert_false(a.h.rate_headers);
        if (ALL[i] == MOCK_ANTHROPIC)
            assert_true(has(&a, "\"type\":\"overloaded_error\""));
        json_object_put(parse(&a));
        answer_free(&a);
    }
}

static void test_concurrency_every_dialect(void **state) {
    (void)state;
    for (size_t i = 0; i < 4; i++) {
        struct answer a;
        answer(&a, ALL[i], (struct mock_err){.kind = MOCK_ERR_CONCURRENCY, .limit = 8, .seq = 1});
        assert_int_equal(a.h.status, 429);
        assert_int_equal(a.v.cls, CLASS_TOO_MANY_CONCURRENT);
        if (ALL[i] == MOCK_ANTHROPIC)
            assert_true(has(&a, "Number of concurrent connections has exceeded"));
        json_object_put(parse(&a));
        answer_free(&a);
    }
}

static void test_auth_every_dialect(void **state) {
    (void)state;
    for (size_t i = 0; i < 4; i++) {
        struct answer a;
        answer(&a, ALL[i], (struct mock_err){.kind = MOCK_ERR_AUTH, .seq = 2});
        assert_int_equal(a.h.status, 401);
        assert_int_equal(a.v.cls, CLASS_AUTH);
        json_object_put(parse(&a));
        answer_free(&a);
    }
}

static void test_too_large_every_dialect(void **state) {
    (void)state;
    for (size_t i = 0; i < 4; i++) {
        struct mock_err e = {.kind = MOCK_ERR_TOO_LARGE,
                             .budget = MOCK_LIMIT_TOKENS,
                             .limit = 10000,
                             .asked = 20016,
                             .seq = 1};
        struct answer a;
        answer(&a, ALL[i], e);
        assert_int_equal(a.h.status, 429);
        assert_int_equal(a.v.cls, CLASS_TOO_LARGE);
        assert_int_equal(a.h.retry_after_ms, -1);
        assert_true(has(&a, "Limit 10000, Requested 20016"));
        answer_free(&a);
    }
}

static void test_plain_shapes(void **state) {
    (void)state;
    struct mock_err e = {.kind = MOCK_ERR_PLAIN,
                         .status = 404,
                         .message = "Unknown request URL",
                         .oa_type = "invalid_request_error",
                         .oa_code = "unknown_url",
                         .an_type = "not_found_error",
                         .seq = 1};
    struct answer a;
    answer(&a, MOCK_GEMINI, e);
    assert_true(has(&a, "\"status\":\"NOT_FOUND\""));
    assert_int_equal(a.v.cls, CLASS_FINAL);
    answer_free(&a);
    answer(&a, MOCK_ANTHROPIC, e);
    assert_true(has(&a, "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\""));
    assert_true(has(&a, "\"request_id\":\"req_0123\""));
    answer_free(&a);
    /* Azure's 404, whatever is wrong in the URL (a path, a deployment, no api-version). */
    answer(&a, MOCK_AZURE, e);
    assert_true(has(&a, "{\"error\":{\"code\":\"404\",\"message\":\"Resource not found\"}}"));
    assert_int_equal(a.v.cls, CLASS_FINAL);
    answer_free(&a);
    e.status = 400;
    answer(&a, MOCK_AZURE, e);
    assert_true(has(&a, "\"code\":\"unknown_url\""));
    answer_free(&a);
}

/* Each provider serves its own paths only (issue 17: the mock took /v1/... in Azure mode,
   which hid that sluice sent Azure requests there). */
static void test_routes(void **state) {
    (void)state;
    static const struct {
        enum mock_provider p;
        const char *url;
        enum mock_endpoint ep;
    } cases[] = {
        {MOCK_OPENAI, "/v1/chat/completions", MOCK_EP_CHAT},
        {MOCK_OPENAI, "/v1/completions", MOCK_EP_COMPLETIONS},
        {MOCK_OPENAI, "/v1/embeddings?x=1", MOCK_EP_EMBEDDINGS},
        {MOCK_OPENAI, "/v1/v1/chat/completions", MOCK_EP_NONE},
        {MOCK_OPENAI, "/chat/completions", MOCK_EP_NONE},
        {MOCK_OPENAI, "/v1/messages", MOCK_EP_NONE},
        {MOCK_OPENAI, "/v1beta/openai/chat/completions", MOCK_EP_NONE},

        {MOCK_ANTHROPIC, "/v1/messages", MOCK_EP_MESSAGES},
        {MOCK_ANTHROPIC, "/v1/chat/completions", MOCK_EP_CHAT},
        {MOCK_ANTHROPIC, "/v1/embeddings", MOCK_EP_NONE},
        {MOCK_ANTHROPIC, "/v1/v1/messages", MOCK_EP_NONE},

        {MOCK_GEMINI, "/v1beta/openai/chat/completions", MOCK_EP_CHAT},
        {MOCK_GEMINI, "/v1beta/openai/embeddings", MOCK_EP_EMBEDDINGS},
        {MOCK_GEMINI, "/v1beta/openai/completions", MOCK_EP_NONE},
        {MOCK_GEMINI, "/v1beta/openai/v1/chat/completions", MOCK_EP_NONE},
        {MOCK_GEMINI, "/v1/chat/completions", MOCK_EP_NONE},

        {MOCK_AZURE, "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
         MOCK_EP_CHAT},
        {MOCK_AZURE, "/openai/deployments/d/embeddings?a=b&api-version=1", MOCK_EP_EMBEDDINGS},
        {MOCK_AZURE, "/openai/deployments/d/completions?api-version=1&a=b", MOCK_EP_COMPLETIONS},
        /* No api-version, an empty one, no deployment or no operation: Azure's 404. */
        {MOCK_AZURE, "/openai/deployments/d/chat/completions", MOCK_EP_NONE},
        {MOCK_AZURE, "/openai/deployments/d/chat/completions?api-version=", MOCK_EP_NONE},
        {MOCK_AZURE, "/openai/deployments/d/chat/completions?xapi-version=1", MOCK_EP_NONE},
        {MOCK_AZURE, "/openai/deployments//chat/completions?api-version=1", MOCK_EP_NONE},
        {MOCK_AZURE, "/openai/deployments/d?api-version=1", MOCK_EP_NONE},
        {MOCK_AZURE, "/openai/deployments/d/x/chat/completions?api-version=1", MOCK_EP_NONE},
        /* The v1 API needs no api-version. */
        {MOCK_AZURE, "/openai/v1/chat/completions", MOCK_EP_CHAT},
        {MOCK_AZURE, "/openai/v1/embeddings?api-version=preview", MOCK_EP_EMBEDDINGS},
        {MOCK_AZURE, "/v1/chat/completions", MOCK_EP_NONE},
        {MOCK_AZURE, "/openai/v1/v1/chat/completions", MOCK_EP_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *u = cases[i].url;
        size_t n = strcspn(u, "?");
        enum mock_endpoint ep = mock_dialect_route(cases[i].p, u, n, u[n] ? u + n + 1 : "");
        if (ep != cases[i].ep)
            fail_msg("%s at %s: endpoint %d, expected %d", u, mock_provider_name(cases[i].p),
                     (int)ep, (int)cases[i].ep);
    }
}

/* The header lines of `p` for `l` at time 0, as one string. */
static char *headers(enum mock_provider p, const struct mock_limits *l) {
    struct mock_buf b = {0};
    mock_dialect_rate_headers(p, l, 0, WALL, &b);
    mock_buf_append(&b, "", 1);
    return b.buf.data;
}

static void test_rate_headers(void **state) {
    (void)state;
    struct mock_limits l;
    mock_limits_init(&l, 600, 60000, 1.0);
    struct mock_verdict v;
    mock_limits_admit(&l, 0, 6, &v); /* 6 tokens: remaining 59994 */
    char *h = headers(MOCK_OPENAI, &l);
    assert_non_null(strstr(h, "x-ratelimit-limit-requests: 600\r\n"));
    assert_non_null(strstr(h, "x-ratelimit-remaining-tokens: 59994\r\n"));
    assert_non_null(strstr(h, "x-ratelimit-reset-requests: 100ms\r\n"));
    free(h);
    h = headers(MOCK_AZURE, &l);
    assert_string_equal(h, "x-ratelimit-remaining-requests: 599\r\n"
                           "x-ratelimit-remaining-tokens: 59994\r\n");
    free(h);
    h = headers(MOCK_GEMINI, &l);
    assert_string_equal(h, "");
    free(h);
    mock_limits_init(&l, 600, 0, 1.0);
    h = headers(MOCK_AZURE, &l); /* a budget Azure does not know is -1 */
    assert_non_null(strstr(h, "x-ratelimit-remaining-tokens: -1\r\n"));
    free(h);
}

static void test_anthropic_headers(void **state) {
    (void)state;
    struct mock_limits l;
    mock_limits_init(&l, 60, 60000, 1.0);
    mock_limits_init_io(&l, 40000, 8000, 1.0);
    struct mock_verdict v;
    mock_limits_admit_io(&l, 0, 600, 100, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    char *h = headers(MOCK_ANTHROPIC, &l);
    assert_non_null(strstr(h, "anthropic-ratelimit-requests-remaining: 59\r\n"));
    assert_non_null(strstr(h, "anthropic-ratelimit-tokens-remaining: 59000\r\n")); /* 59300 */
    assert_non_null(strstr(h, "anthropic-ratelimit-input-tokens-limit: 40000\r\n"));
    assert_non_null(strstr(h, "anthropic-ratelimit-input-tokens-remaining: 39000\r\n"));
    assert_non_null(strstr(h, "anthropic-ratelimit-output-tokens-remaining: 8000\r\n"));
    assert_non_null(strstr(h, "anthropic-ratelimit-requests-reset: 2025-03-15T12:00:01Z\r\n"));
    assert_null(strstr(h, "x-ratelimit"));
    free(h);
}

static void test_io_budgets(void **state) {
    (void)state;
    struct mock_limits l;
    mock_limits_init(&l, 0, 0, 1.0);
    mock_limits_init_io(&l, 6000, 600, 1.0); /* 100 input and 10 output tokens per second */
    struct mock_verdict v;
    mock_limits_admit_io(&l, 0, 50, 10, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    mock_limits_admit_io(&l, 0, 10, 5, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_OUTPUT);
    assert_int_equal(v.wait_ms, 500);
    mock_limits_admit_io(&l, 0, 60, 0, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_INPUT);
    mock_limits_admit_io(&l, 0, 1, 601, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_OUTPUT);
    assert_int_equal(v.too_large, 1);
}

static void test_formats(void **state) {
    (void)state;
    char b[32];
    const struct {
        int64_t ms;
        const char *want;
    } cases[] = {{0, "0s"},      {250, "0.25s"},   {1500, "1.5s"},
                 {26000, "26s"}, {1001, "1.001s"}, {86400000, "86400s"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mock_proto_duration(cases[i].ms, b, sizeof b);
        assert_string_equal(b, cases[i].want);
    }
    assert_int_equal(mock_round_thousands(59994), 60000);
    assert_int_equal(mock_round_thousands(59499), 59000);
    assert_int_equal(mock_round_thousands(500), 1000);
    assert_int_equal(mock_round_thousands(0), 0);
    assert_int_equal(mock_provider_parse("gemini"), MOCK_GEMINI);
    assert_int_equal(mock_provider_parse("azure"), MOCK_AZURE);
    assert_int_equal(mock_provider_parse("vertex"), -1);
    assert_string_equal(mock_provider_name(MOCK_ANTHROPIC), "anthropic");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_every_dialect),
        cmocka_unit_test(test_gemini_wraps_every_second_error),
        cmocka_unit_test(test_quota_every_dialect),
        cmocka_unit_test(test_overloaded_every_dialect),
        cmocka_unit_test(test_concurrency_every_dialect),
        cmocka_unit_test(test_auth_every_dialect),
        cmocka_unit_test(test_too_large_every_dialect),
        cmocka_unit_test(test_plain_shapes),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_rate_headers),
        cmocka_unit_test(test_anthropic_headers),
        cmocka_unit_test(test_io_budgets),
        cmocka_unit_test(test_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
