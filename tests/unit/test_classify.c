/*
 * The classifier: one test per row of the rule table, the provider captures in
 * tests/fixtures/providers/, the header dialects, and every parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "classify.h"
#include "httpdate.h"

/* Fri, 14 Mar 2025 09:26:37 GMT: the Date of every fixture. */
#define NOW INT64_C(1741944397000)

static int code_equal(const char *got, const char *want) {
    return got == want || (got && want && strcmp(got, want) == 0);
}

#define EXPECT(v, cls_, code_, hint_)                                                              \
    do {                                                                                           \
        struct classify_verdict v_ = (v);                                                          \
        assert_string_equal(classify_class_name(v_.cls), classify_class_name(cls_));               \
        if (!code_equal(v_.code, (code_)))                                                         \
            fail_msg("code %s, want %s", v_.code ? v_.code : "NULL", #code_);                      \
        assert_int_equal(v_.retry_after_ms, (hint_));                                              \
    } while (0)

/* An HTTP answer with no headers. */
static struct classify_verdict answer(int status, const char *body) {
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    return classify_answer(TRANSPORT_OK, status, &h, body, body ? strlen(body) : 0);
}

static void hdr(struct classify_hdrs *h, const char *line) {
    classify_header(h, line, strlen(line), NOW);
}

/* An HTTP answer with one header line. */
static struct classify_verdict answer_h(int status, const char *line, const char *body) {
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    hdr(&h, line);
    return classify_answer(TRANSPORT_OK, status, &h, body, body ? strlen(body) : 0);
}

static struct classify_verdict transport(enum classify_transport tr) {
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    return classify_answer(tr, 0, &h, NULL, 0);
}

/* ---- Fixtures ---------------------------------------------------------------------------- */

struct capture {
    int status;
    struct classify_hdrs h;
    struct classify_verdict v;
};

/* tests/fixtures/providers/<name>.http: from $SRCDIR, else next to this file (CMake gives the
   compiler absolute source paths). */
static void fixture_path(char *buf, size_t n, const char *name) {
    const char *src = getenv("SRCDIR");
    if (src && *src) {
        snprintf(buf, n, "%s/tests/fixtures/providers/%s.http", src, name);
        return;
    }
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__) : 1;
    snprintf(buf, n, "%.*s/../fixtures/providers/%s.http", dir, slash ? __FILE__ : ".", name);
}

/* The whole file in a buffer of exactly its size, so ASan sees any read past the end. */
static char *load(const char *name, size_t *len) {
    char path[4096];
    fixture_path(path, sizeof path, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(size > 0);
    char *buf = malloc((size_t)size);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

/*
 * Replays a capture the way curl delivers it: every head line (status line and final blank
 * line included) to classify_header() as a slice of the file, not NUL-terminated; then the
 * body. Checks that content-length matches, so the fixtures stay honest.
 */
static void replay(const char *name, struct capture *c) {
    size_t len, i = 0;
    char *buf = load(name, &len);
    long content_length = -1;
    classify_hdrs_init(&c->h);
    c->status = -1;
    for (;;) {
        char *nl = memchr(buf + i, '\n', len - i);
        assert_non_null(nl);
        size_t n = (size_t)(nl - (buf + i)) + 1;
        if (c->status < 0) {
            char *sp = memchr(buf + i, ' ', n);
            assert_non_null(sp);
            c->status = atoi(sp + 1);
        }
        if (n > 16 && strncmp(buf + i, "content-length: ", 16) == 0)
            content_length = strtol(buf + i + 16, NULL, 10);
        classify_header(&c->h, buf + i, n, NOW);
        i += n;
        if (n <= 2)
            break;
    }
    assert_int_equal(content_length, (long)(len - i));
    c->v = classify_answer(TRANSPORT_OK, c->status, &c->h, buf + i, len - i);
    free(buf);
}

static void test_fixture_openai_429_rate_limit_requests(void **state) {
    (void)state;
    struct capture c;
    replay("openai_429_rate_limit_requests", &c);
    assert_int_equal(c.status, 429);
    EXPECT(c.v, CLASS_RATE_LIMITED, "rate_limited", 120); /* "Please try again in 120ms." */
    assert_string_equal(c.h.request_id, "req_7a1b2c3d4e5f60718293a4b5c6d7e8f9");
    assert_int_equal(c.h.limit_requests, 500);
    assert_int_equal(c.h.remaining_requests, 0);
    assert_int_equal(c.h.reset_requests_ms, 120);
    assert_int_equal(c.h.limit_tokens, 200000);
    assert_int_equal(c.h.remaining_tokens, 199412);
    assert_int_equal(c.h.reset_tokens_ms, 176);
    assert_int_equal(c.h.should_retry, -1);
}

static void test_fixture_openai_429_rate_limit_tokens(void **state) {
    (void)state;
    struct capture c;
    replay("openai_429_rate_limit_tokens", &c);
    /* retry-after: 8 wins over the message's "try again in 3.872s". */
    EXPECT(c.v, CLASS_RATE_LIMITED, "rate_limited", 8000);
    assert_int_equal(c.h.reset_requests_ms, 12);
    assert_int_equal(c.h.reset_tokens_ms, 360000);
    assert_int_equal(c.h.remaining_tokens, 0);
}

static void test_fixture_openai_429_insufficient_quota(void **state) {
    (void)state;
    struct capture c;
    replay("openai_429_insufficient_quota", &c);
    EXPECT(c.v, CLASS_QUOTA, "insufficient_quota", -1);
    assert_int_equal(c.h.should_retry, 0);
}

static void test_fixture_openai_429_request_too_large(void **state) {
    (void)state;
    struct capture c;
    replay("openai_429_request_too_large", &c);
    EXPECT(c.v, CLASS_TOO_LARGE, "request_too_large", -1);
    assert_int_equal(c.h.reset_tokens_ms, 0);
}

static void test_fixture_openai_400_context_length_exceeded(void **state) {
    (void)state;
    struct capture c;
    replay("openai_400_context_length_exceeded", &c);
    EXPECT(c.v, CLASS_TOO_LARGE, "request_too_large", -1);
}

static void test_fixture_openai_500_server_error(void **state) {
    (void)state;
    struct capture c;
    replay("openai_500_server_error", &c);
    EXPECT(c.v, CLASS_RETRY, "http_500", -1);
    assert_int_equal(c.h.should_retry, 1);
}

static void test_fixture_openai_503_overloaded(void **state) {
    (void)state;
    struct capture c;
    replay("openai_503_overloaded", &c);
    EXPECT(c.v, CLASS_OVERLOADED, "overloaded", -1);
}

static void test_fixture_proxy_502_html(void **state) {
    (void)state;
    struct capture c;
    replay("proxy_502_html", &c);
    EXPECT(c.v, CLASS_RETRY, "http_502", -1);
    assert_string_equal(c.h.request_id, "");
}

static void test_fixture_azure_429_retry_after_ms(void **state) {
    (void)state;
    struct capture c;
    replay("azure_429_retry_after_ms", &c);
    /* retry-after-ms: 7350 wins over the message's "Please retry after 8 seconds". */
    EXPECT(c.v, CLASS_RATE_LIMITED, "rate_limited", 7350);
    assert_int_equal(c.h.retry_after_ms, 7350);
    assert_int_equal(c.h.remaining_requests, 119);
    assert_int_equal(c.h.remaining_tokens, -1);
    assert_int_equal(c.h.limit_tokens, -1); /* x-ratelimit-limit-tokens_usage_based ignored */
    assert_string_equal(c.h.request_id, "6c2b9f4e-1d3a-4e7b-8a05-93f2d1c4b6e8");
}

static void test_fixture_anthropic_429_rate_limit(void **state) {
    (void)state;
    struct capture c;
    replay("anthropic_429_rate_limit", &c);
    EXPECT(c.v, CLASS_RATE_LIMITED, "rate_limited", 17000);
    assert_string_equal(c.h.request_id, "req_011CZ1a2b3c4d5e6f7g8h9i0");
    assert_int_equal(c.h.should_retry, 1);
    assert_int_equal(c.h.limit_requests, 50);
    assert_int_equal(c.h.remaining_requests, 49);
    assert_int_equal(c.h.reset_requests_ms, 1000);
    assert_int_equal(c.h.limit_tokens, 48000);
    assert_int_equal(c.h.remaining_tokens, 0);
    assert_int_equal(c.h.reset_tokens_ms, 17250);
}

static void test_fixture_anthropic_529_overloaded(void **state) {
    (void)state;
    struct capture c;
    replay("anthropic_529_overloaded", &c);
    EXPECT(c.v, CLASS_OVERLOADED, "overloaded", -1);
}

static void test_fixture_anthropic_429_concurrency(void **state) {
    (void)state;
    struct capture c;
    replay("anthropic_429_concurrency", &c);
    EXPECT(c.v, CLASS_TOO_MANY_CONCURRENT, "too_many_concurrent", 2000);
}

static void test_fixture_anthropic_400_credit_balance(void **state) {
    (void)state;
    struct capture c;
    replay("anthropic_400_credit_balance", &c);
    EXPECT(c.v, CLASS_QUOTA, "insufficient_quota", -1);
}

static void test_fixture_anthropic_400_spend_limit(void **state) {
    (void)state;
    struct capture c;
    replay("anthropic_400_spend_limit", &c);
    EXPECT(c.v, CLASS_QUOTA, "insufficient_quota", -1);
}

static void test_fixture_gemini_429_per_minute(void **state) {
    (void)state;
    struct capture c;
    replay("gemini_429_per_minute", &c);
    /* RetryInfo "45.837906927s", rounded up; it wins over the message's "retry in". */
    EXPECT(c.v, CLASS_RATE_LIMITED, "rate_limited", 45838);
}

static void test_fixture_gemini_429_per_day(void **state) {
    (void)state;
    struct capture c;
    replay("gemini_429_per_day", &c);
    /* RetryInfo "26s" wins over the message's "Please retry in 26.66s". */
    EXPECT(c.v, CLASS_QUOTA, "insufficient_quota", 26000);
}

static void test_fixture_gemini_429_openai_compat_array(void **state) {
    (void)state;
    struct capture c;
    replay("gemini_429_openai_compat_array", &c);
    /* "limit: 0" inside [ {...} ]; the hint comes from the message alone. */
    EXPECT(c.v, CLASS_QUOTA, "insufficient_quota", 12500);
}

/* ---- One test per row of the table ------------------------------------------------------- */

static void test_row_transport_timeout(void **state) {
    (void)state;
    EXPECT(transport(TRANSPORT_TIMEOUT), CLASS_RETRY, "timeout", -1);
}

static void test_row_transport_connect(void **state) {
    (void)state;
    EXPECT(transport(TRANSPORT_CONNECT), CLASS_RETRY, "connection_failed", -1);
}

static void test_row_transport_reset(void **state) {
    (void)state;
    EXPECT(transport(TRANSPORT_RESET), CLASS_RETRY, "connection_reset", -1);
}

static void test_row_transport_other(void **state) {
    (void)state;
    EXPECT(transport(TRANSPORT_OTHER), CLASS_RETRY, "transport_error", -1);
    /* A transport failure is not an answer: x-should-retry from a broken answer is ignored,
       but a Retry-After that did arrive is still a hint. */
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    hdr(&h, "x-should-retry: false\r\n");
    hdr(&h, "retry-after: 3\r\n");
    EXPECT(classify_answer(TRANSPORT_RESET, 0, &h, NULL, 0), CLASS_RETRY, "connection_reset", 3000);
    EXPECT(classify_answer(TRANSPORT_TIMEOUT, 0, NULL, NULL, 0), CLASS_RETRY, "timeout", -1);
}

static void test_row_transport_too_large(void **state) {
    (void)state;
    /* An answer came and was too large to keep: the same request gets the same one, so it is
       final, whatever its headers ask. */
    EXPECT(transport(TRANSPORT_TOO_LARGE), CLASS_FINAL, "response_too_large", -1);
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    hdr(&h, "x-should-retry: true\r\n");
    EXPECT(classify_answer(TRANSPORT_TOO_LARGE, 200, &h, NULL, 0), CLASS_FINAL,
           "response_too_large", -1);
}

static void test_unknown_transport(void **state) {
    (void)state;
    /* Not a value of the enum: final, so a caller's bug cannot retry forever. */
    EXPECT(transport((enum classify_transport)42), CLASS_FINAL, "transport_error", -1);
}

static void test_row_success_2xx(void **state) {
    (void)state;
    EXPECT(answer(200, "{}"), CLASS_SUCCESS, NULL, -1);
    EXPECT(answer(204, NULL), CLASS_SUCCESS, NULL, -1);
    EXPECT(answer(299, "not json"), CLASS_SUCCESS, NULL, -1);
    /* A 2xx is success whatever the headers or body say. */
    EXPECT(answer_h(200, "x-should-retry: true", "{\"error\":{\"type\":\"overloaded_error\"}}"),
           CLASS_SUCCESS, NULL, -1);
    EXPECT(answer_h(201, "x-should-retry: false", NULL), CLASS_SUCCESS, NULL, -1);
    EXPECT(answer_h(200, "retry-after: 5", NULL), CLASS_SUCCESS, NULL, -1);
}

static void test_row_auth_401(void **state) {
    (void)state;
    EXPECT(answer(401, "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\","
                       "\"message\":\"invalid x-api-key\"}}"),
           CLASS_AUTH, "auth_failed", -1);
    EXPECT(answer(401, NULL), CLASS_AUTH, "auth_failed", -1);
}

static void test_row_auth_403(void **state) {
    (void)state;
    EXPECT(answer(403, "<html>Forbidden</html>"), CLASS_AUTH, "auth_failed", -1);
}

static void test_row_quota_openai_insufficient_quota(void **state) {
    (void)state;
    EXPECT(answer(429, "{\"error\":{\"message\":\"x\",\"type\":\"insufficient_quota\"}}"),
           CLASS_QUOTA, "insufficient_quota", -1);
    EXPECT(answer(429, "{\"error\":{\"message\":\"x\",\"type\":null,\"code\":\"insufficient_"
                       "quota\"}}"),
           CLASS_QUOTA, "insufficient_quota", -1);
    /* Only on a 429: the same words on a 400 are an ordinary final failure. */
    EXPECT(answer(400, "{\"error\":{\"code\":\"insufficient_quota\"}}"), CLASS_FINAL, "http_400",
           -1);
}

static void test_row_quota_gemini_per_day(void **state) {
    (void)state;
    const char *by_id =
        "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\",\"message\":\"m\",\"details\":"
        "[{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\",\"violations\":[{"
        "\"quotaId\":\"GenerateRequestsPerDayPerProjectPerModel-FreeTier\"}]}]}}";
    const char *by_metric =
        "{\"error\":{\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type."
        "googleapis.com/google.rpc.QuotaFailure\",\"violations\":[{\"quotaMetric\":\"requests "
        "per day\"}]}]}}";
    const char *by_message = "{\"error\":{\"status\":\"RESOURCE_EXHAUSTED\",\"message\":\"Quota "
                             "exceeded: requests per day per project\"}}";
    const char *not_exhausted = "{\"error\":{\"status\":\"UNAVAILABLE\",\"message\":\"Quota "
                                "exceeded: requests per day per project\"}}";
    EXPECT(answer(429, by_id), CLASS_QUOTA, "insufficient_quota", -1);
    EXPECT(answer(429, by_metric), CLASS_QUOTA, "insufficient_quota", -1);
    EXPECT(answer(429, by_message), CLASS_QUOTA, "insufficient_quota", -1);
    EXPECT(answer(429, not_exhausted), CLASS_RATE_LIMITED, "rate_limited", -1);
}

static void test_row_quota_gemini_limit_zero(void **state) {
    (void)state;
    const char *zero = "{\"error\":{\"status\":\"RESOURCE_EXHAUSTED\",\"message\":\"Quota "
                       "exceeded for metric: m, limit: 0, model: gemini-2.5-pro\"}}";
    const char *value_zero =
        "{\"error\":{\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type."
        "googleapis.com/google.rpc.QuotaFailure\",\"violations\":[{\"quotaValue\":\"0\"}]}]}}";
    const char *ten = "{\"error\":{\"status\":\"RESOURCE_EXHAUSTED\",\"message\":\"Quota "
                      "exceeded for metric: m, limit: 05, model: gemini-2.5-pro\"}}";
    EXPECT(answer(429, zero), CLASS_QUOTA, "insufficient_quota", -1);
    EXPECT(answer(429, value_zero), CLASS_QUOTA, "insufficient_quota", -1);
    EXPECT(answer(429, ten), CLASS_RATE_LIMITED, "rate_limited", -1);
}

static void test_row_quota_anthropic_spend_limit(void **state) {
    (void)state;
    const char *spend = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                        "\"message\":\"Your organization has reached its monthly Spend Limit.\"}}";
    const char *billing = "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
                          "\"message\":\"Please go to Plans & Billing.\"}}";
    /* The same words outside Anthropic's dialect mean nothing (OpenAI mentions billing in
       rate-limit messages). */
    const char *openai = "{\"error\":{\"type\":\"requests\",\"message\":\"Add a payment "
                         "method at https://platform.openai.com/account/billing.\"}}";
    EXPECT(answer(400, spend), CLASS_QUOTA, "insufficient_quota", -1);
    EXPECT(answer(429, billing), CLASS_QUOTA, "insufficient_quota", -1);
    EXPECT(answer(429, openai), CLASS_RATE_LIMITED, "rate_limited", -1);
    EXPECT(answer(500, spend), CLASS_RETRY, "http_500", -1);
}

static void test_row_too_large_429(void **state) {
    (void)state;
    EXPECT(answer(429, "{\"error\":{\"message\":\"Request too large for gpt-4o on tokens per "
                       "min (TPM): Limit 30000, Requested 48213.\",\"type\":\"tokens\"}}"),
           CLASS_TOO_LARGE, "request_too_large", -1);
}

static void test_row_too_large_400(void **state) {
    (void)state;
    EXPECT(answer(400, "{\"error\":{\"message\":\"Request too large for gpt-4o: Limit 10, "
                       "Requested 20\"}}"),
           CLASS_TOO_LARGE, "request_too_large", -1);
    EXPECT(answer(404, "{\"error\":{\"message\":\"Request too large\"}}"), CLASS_FINAL, "http_404",
           -1);
}

static void test_row_too_large_context_length(void **state) {
    (void)state;
    EXPECT(answer(400, "{\"error\":{\"message\":\"m\",\"code\":\"context_length_exceeded\"}}"),
           CLASS_TOO_LARGE, "request_too_large", -1);
    EXPECT(answer(400, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                       "\"message\":\"prompt is too long: 210000 tokens > 200000 maximum\"}}"),
           CLASS_TOO_LARGE, "request_too_large", -1);
    EXPECT(answer(400, "{\"error\":{\"message\":\"m\",\"code\":\"invalid_value\"}}"), CLASS_FINAL,
           "http_400", -1);
}

static void test_row_too_large_413(void **state) {
    (void)state;
    EXPECT(answer(413, "{\"type\":\"error\",\"error\":{\"type\":\"request_too_large\"}}"),
           CLASS_TOO_LARGE, "request_too_large", -1);
}

static void test_row_too_many_concurrent(void **state) {
    (void)state;
    EXPECT(answer(429, "{\"error\":{\"message\":\"Too many CONCURRENT requests\"}}"),
           CLASS_TOO_MANY_CONCURRENT, "too_many_concurrent", -1);
    EXPECT(answer(429, "{\"error\":{\"message\":\"Concurrency limit exceeded\"}}"),
           CLASS_TOO_MANY_CONCURRENT, "too_many_concurrent", -1);
    EXPECT(answer(503, "{\"error\":{\"message\":\"concurrency limit exceeded\"}}"), CLASS_RETRY,
           "http_503", -1);
}

static void test_row_rate_limited_429(void **state) {
    (void)state;
    EXPECT(answer(429, NULL), CLASS_RATE_LIMITED, "rate_limited", -1);
    EXPECT(answer(429, "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
                       "\"message\":\"slow down\"}}"),
           CLASS_RATE_LIMITED, "rate_limited", -1);
    EXPECT(answer(429,
                  "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\",\"details\":"
                  "[{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\","
                  "\"violations\":[{\"quotaId\":\"GenerateRequestsPerMinutePerProject\"}]}]}}"),
           CLASS_RATE_LIMITED, "rate_limited", -1);
}

static void test_row_overloaded_529(void **state) {
    (void)state;
    EXPECT(answer(529, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                       "\"message\":\"Overloaded\"}}"),
           CLASS_OVERLOADED, "overloaded", -1);
    EXPECT(answer(529, NULL), CLASS_OVERLOADED, "overloaded", -1);
}

static void test_row_overloaded_503(void **state) {
    (void)state;
    EXPECT(answer(503, "{\"error\":{\"code\":503,\"message\":\"The model is OVERLOADED. Please "
                       "try again later.\",\"status\":\"UNAVAILABLE\"}}"),
           CLASS_OVERLOADED, "overloaded", -1);
    EXPECT(answer(503, "{\"error\":{\"type\":\"overloaded_error\",\"message\":\"x\"}}"),
           CLASS_OVERLOADED, "overloaded", -1);
    EXPECT(answer(503, "{\"error\":{\"message\":\"Service Unavailable\"}}"), CLASS_RETRY,
           "http_503", -1);
    EXPECT(answer(502, "{\"error\":{\"message\":\"overloaded\"}}"), CLASS_RETRY, "http_502", -1);
}

static void test_row_retry_408(void **state) {
    (void)state;
    EXPECT(answer(408, NULL), CLASS_RETRY, "http_408", -1);
}

static void test_row_retry_409(void **state) {
    (void)state;
    EXPECT(answer(409, "{\"error\":{\"message\":\"conflict\"}}"), CLASS_RETRY, "http_409", -1);
}

static void test_row_retry_5xx(void **state) {
    (void)state;
    EXPECT(answer(500, NULL), CLASS_RETRY, "http_500", -1);
    EXPECT(answer(502, "<html>bad gateway</html>"), CLASS_RETRY, "http_502", -1);
    EXPECT(answer(504, NULL), CLASS_RETRY, "http_504", -1);
    EXPECT(answer(599, NULL), CLASS_RETRY, "http_599", -1);
}

static void test_row_final_4xx(void **state) {
    (void)state;
    EXPECT(answer(400, "{\"error\":{\"message\":\"bad\"}}"), CLASS_FINAL, "http_400", -1);
    EXPECT(answer(404, NULL), CLASS_FINAL, "http_404", -1);
    EXPECT(answer(422, NULL), CLASS_FINAL, "http_422", -1);
    EXPECT(answer(499, NULL), CLASS_FINAL, "http_499", -1);
}

static void test_row_final_1xx_3xx(void **state) {
    (void)state;
    EXPECT(answer(101, NULL), CLASS_FINAL, "http_101", -1);
    EXPECT(answer(302, NULL), CLASS_FINAL, "http_302", -1);
}

static void test_row_invalid_status(void **state) {
    (void)state;
    EXPECT(answer(0, NULL), CLASS_RETRY, "transport_error", -1);
    EXPECT(answer(-5, NULL), CLASS_RETRY, "transport_error", -1);
    EXPECT(answer(600, "{}"), CLASS_RETRY, "transport_error", -1);
    EXPECT(answer(999, NULL), CLASS_RETRY, "transport_error", -1);
}

/* ---- x-should-retry ---------------------------------------------------------------------- */

static void test_should_retry_true(void **state) {
    (void)state;
    EXPECT(answer_h(400, "x-should-retry: true", NULL), CLASS_RETRY, "http_400", -1);
    EXPECT(answer_h(401, "X-Should-Retry: TRUE", NULL), CLASS_RETRY, "auth_failed", -1);
    /* A retryable class keeps its finer meaning. */
    EXPECT(answer_h(429, "x-should-retry: true", NULL), CLASS_RATE_LIMITED, "rate_limited", -1);
    EXPECT(answer_h(529, "x-should-retry: true", NULL), CLASS_OVERLOADED, "overloaded", -1);
}

static void test_should_retry_false(void **state) {
    (void)state;
    EXPECT(answer_h(500, "x-should-retry: false", NULL), CLASS_FINAL, "http_500", -1);
    EXPECT(answer_h(429, "x-should-retry: false", NULL), CLASS_FINAL, "rate_limited", -1);
    EXPECT(answer_h(529, "x-should-retry: false", NULL), CLASS_FINAL, "overloaded", -1);
    EXPECT(answer_h(408, "x-should-retry: false", NULL), CLASS_FINAL, "http_408", -1);
    EXPECT(answer_h(404, "x-should-retry: false", NULL), CLASS_FINAL, "http_404", -1);
    EXPECT(answer_h(401, "x-should-retry: false", NULL), CLASS_AUTH, "auth_failed", -1);
    /* Anything but true/false is ignored. */
    EXPECT(answer_h(500, "x-should-retry: maybe", NULL), CLASS_RETRY, "http_500", -1);
}

/* ---- Retry hints ------------------------------------------------------------------------- */

static const char *GEMINI_BOTH =
    "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\",\"message\":\"Please retry in "
    "26.66s.\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\","
    "\"retryDelay\":\"45.837906927s\"}]}}";

static void test_hint_precedence(void **state) {
    (void)state;
    struct classify_hdrs h;
    size_t len = strlen(GEMINI_BOTH);
    classify_hdrs_init(&h);
    EXPECT(classify_answer(TRANSPORT_OK, 429, &h, GEMINI_BOTH, len), CLASS_RATE_LIMITED,
           "rate_limited", 45838);
    hdr(&h, "Retry-After: 20\r\n");
    EXPECT(classify_answer(TRANSPORT_OK, 429, &h, GEMINI_BOTH, len), CLASS_RATE_LIMITED,
           "rate_limited", 20000);
    hdr(&h, "retry-after-ms: 1500\r\n");
    EXPECT(classify_answer(TRANSPORT_OK, 429, &h, GEMINI_BOTH, len), CLASS_RATE_LIMITED,
           "rate_limited", 1500);
    /* The message alone. */
    EXPECT(answer(429, "{\"error\":{\"message\":\"Please retry in 26.66s.\"}}"), CLASS_RATE_LIMITED,
           "rate_limited", 26660);
}

static void test_hint_message_phrases(void **state) {
    (void)state;
    static const struct {
        const char *msg;
        int64_t ms;
    } cases[] = {
        {"Please retry in 26.66s.", 26660},
        {"Please try again in 1.2s. Visit https://x", 1200},
        {"try again in 120ms", 120},
        {"Please retry after 45 seconds.", 45000},
        {"Please try again in 6m0s.", 360000},
        {"retry after 1 minute", 60000},
        {"Please try again in 1.5 sec", 1500},
        {"Please try again later.", -1},
        {"retry after 45", -1},
        {"retry in soon; try again in 3s", 3000},
        {"no hint here", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"error\":{\"message\":\"%s\"}}", cases[i].msg);
        struct classify_verdict v = answer(429, body);
        if (v.retry_after_ms != cases[i].ms)
            fail_msg("\"%s\": %lld, want %lld", cases[i].msg, (long long)v.retry_after_ms,
                     (long long)cases[i].ms);
    }
}

static void test_hint_bad_retry_delay(void **state) {
    (void)state;
    /* A malformed retryDelay is no hint; the message then speaks. */
    EXPECT(answer(429, "{\"error\":{\"message\":\"Please retry in 2s\",\"details\":[{\"@type\":"
                       "\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"soon\"}]}}"),
           CLASS_RATE_LIMITED, "rate_limited", 2000);
    EXPECT(answer(429, "{\"error\":{\"details\":[{\"@type\":\"type.googleapis.com/google.rpc."
                       "RetryInfo\",\"retryDelay\":{\"seconds\":4}}]}}"),
           CLASS_RATE_LIMITED, "rate_limited", -1);
}

/* ---- Hostile bodies ---------------------------------------------------------------------- */

static void test_body_not_json(void **state) {
    (void)state;
    /* "overloaded" in HTML is not the provider's word: status rules only. */
    EXPECT(answer(503, "<html><body>Server overloaded</body></html>"), CLASS_RETRY, "http_503", -1);
    EXPECT(answer(429, "concurrency limit; please retry in 5s"), CLASS_RATE_LIMITED, "rate_limited",
           -1);
    EXPECT(answer(429, ""), CLASS_RATE_LIMITED, "rate_limited", -1);
    EXPECT(answer(429, "null"), CLASS_RATE_LIMITED, "rate_limited", -1);
    EXPECT(answer(429, "[]"), CLASS_RATE_LIMITED, "rate_limited", -1);
    EXPECT(answer(429, "[1,2]"), CLASS_RATE_LIMITED, "rate_limited", -1);
    EXPECT(answer(429, "{\"error\":"), CLASS_RATE_LIMITED, "rate_limited", -1);
}

static void test_body_wrong_types(void **state) {
    (void)state;
    EXPECT(answer(429, "{\"error\":5}"), CLASS_RATE_LIMITED, "rate_limited", -1);
    EXPECT(answer(429, "{\"error\":null}"), CLASS_RATE_LIMITED, "rate_limited", -1);
    EXPECT(answer(429, "{\"error\":{\"message\":5,\"type\":[],\"code\":429,\"status\":{},"
                       "\"details\":{\"a\":1}}}"),
           CLASS_RATE_LIMITED, "rate_limited", -1);
    EXPECT(answer(429, "{\"error\":{\"details\":[1,null,{\"@type\":5},{\"@type\":\"QuotaFailure\","
                       "\"violations\":[null,3,{\"quotaId\":7}]}]}}"),
           CLASS_RATE_LIMITED, "rate_limited", -1);
    /* A proxy's {"error": "text"} is read as the message. */
    EXPECT(answer(429, "{\"error\":\"Too many concurrent requests\"}"), CLASS_TOO_MANY_CONCURRENT,
           "too_many_concurrent", -1);
}

static void test_body_embedded_nul(void **state) {
    (void)state;
    static const char body[] = "{\"error\":{\"type\":\"insufficient_quota\"}}\0garbage";
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    struct classify_verdict v = classify_answer(TRANSPORT_OK, 429, &h, body, sizeof body - 1);
    assert_true(v.cls == CLASS_QUOTA || v.cls == CLASS_RATE_LIMITED);
    /* A NUL inside a JSON string is an escaped character like any other. */
    static const char esc[] = "{\"error\":{\"message\":\"\\u0000 too many concurrent\"}}";
    EXPECT(answer(429, esc), CLASS_TOO_MANY_CONCURRENT, "too_many_concurrent", -1);
    /* A raw NUL before the error: never read past it as a C string would. */
    static const char raw[] = "{\"error\":{\"message\":\"a\0b concurrent\"}}";
    v = classify_answer(TRANSPORT_OK, 429, &h, raw, sizeof raw - 1);
    assert_true(v.cls == CLASS_RATE_LIMITED || v.cls == CLASS_TOO_MANY_CONCURRENT);
}

/* A body in a buffer of exactly its size, so ASan sees any read past the end. */
static struct classify_verdict answer_exact(int status, const char *body, size_t len) {
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, body, len);
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    struct classify_verdict v = classify_answer(TRANSPORT_OK, status, &h, copy, len);
    free(copy);
    return v;
}

static void test_body_only_first_64k(void **state) {
    (void)state;
    const char *head = "{\"error\":{\"type\":\"insufficient_quota\"}}";
    size_t big = 1 << 20, hl = strlen(head);
    char *body = malloc(big);
    assert_non_null(body);
    /* A whole error in the first 64 KiB, then a megabyte of whitespace: read. */
    memcpy(body, head, hl);
    memset(body + hl, ' ', big - hl);
    EXPECT(answer_exact(429, body, big), CLASS_QUOTA, "insufficient_quota", -1);
    /* An error whose message runs past 64 KiB: not parsed, the status decides. */
    const char *open = "{\"error\":{\"type\":\"insufficient_quota\",\"message\":\"";
    memcpy(body, open, strlen(open));
    memset(body + strlen(open), 'a', big - strlen(open) - 3);
    memcpy(body + big - 3, "\"}}", 3);
    EXPECT(answer_exact(429, body, big), CLASS_RATE_LIMITED, "rate_limited", -1);
    EXPECT(answer_exact(429, body, 100), CLASS_RATE_LIMITED, "rate_limited", -1);
    free(body);
}

static void test_body_deep_nesting(void **state) {
    (void)state;
    size_t depth = 100000;
    char *body = malloc(2 * depth);
    assert_non_null(body);
    memset(body, '[', depth);
    memset(body + depth, ']', depth);
    EXPECT(answer_exact(503, body, 2 * depth), CLASS_RETRY, "http_503", -1);
    free(body);
}

static void test_body_every_prefix(void **state) {
    (void)state;
    /* Truncated anywhere, a capture never crashes nor reads past its length. */
    size_t n = strlen(GEMINI_BOTH);
    for (size_t i = 0; i <= n; i++) {
        struct classify_verdict v = answer_exact(429, GEMINI_BOTH, i);
        assert_int_equal(v.cls, CLASS_RATE_LIMITED);
    }
}

/* ---- Headers ----------------------------------------------------------------------------- */

static void test_header_init(void **state) {
    (void)state;
    struct classify_hdrs h;
    memset(&h, 0x5a, sizeof h);
    classify_hdrs_init(&h);
    assert_int_equal(h.should_retry, -1);
    assert_int_equal(h.retry_after_ms, -1);
    assert_string_equal(h.request_id, "");
    assert_int_equal(h.limit_requests, -1);
    assert_int_equal(h.remaining_requests, -1);
    assert_int_equal(h.reset_requests_ms, -1);
    assert_int_equal(h.limit_tokens, -1);
    assert_int_equal(h.remaining_tokens, -1);
    assert_int_equal(h.reset_tokens_ms, -1);
}

static void test_header_case_and_trim(void **state) {
    (void)state;
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    hdr(&h, "X-RateLimit-Limit-Requests:   500 \t\r\n");
    hdr(&h, "x-ratelimit-remaining-requests:499");
    hdr(&h, "X-RATELIMIT-RESET-REQUESTS: 1h2m3s\r\n");
    hdr(&h, "X-Request-ID:  req_abc \r\n");
    assert_int_equal(h.limit_requests, 500);
    assert_int_equal(h.remaining_requests, 499);
    assert_int_equal(h.reset_requests_ms, 3723000);
    assert_string_equal(h.request_id, "req_abc");
}

static void test_header_request_id_precedence(void **state) {
    (void)state;
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    hdr(&h, "request-id: req_anthropic\r\n");
    assert_string_equal(h.request_id, "req_anthropic");
    hdr(&h, "x-request-id: req_x\r\n");
    assert_string_equal(h.request_id, "req_x");
    hdr(&h, "request-id: req_late\r\n");
    assert_string_equal(h.request_id, "req_x");
    /* Too long for the field: cut, still terminated. */
    char line[300];
    snprintf(line, sizeof line, "x-request-id: %0200d", 7);
    hdr(&h, line);
    assert_int_equal(strlen(h.request_id), sizeof h.request_id - 1);
}

static void test_header_retry_after_precedence(void **state) {
    (void)state;
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    hdr(&h, "retry-after: 30\r\n");
    assert_int_equal(h.retry_after_ms, 30000);
    hdr(&h, "retry-after-ms: 250\r\n");
    assert_int_equal(h.retry_after_ms, 250);
    hdr(&h, "retry-after: 40\r\n");
    assert_int_equal(h.retry_after_ms, 250);
    classify_hdrs_init(&h);
    hdr(&h, "Retry-After-Ms: 12.5\r\n");
    hdr(&h, "Retry-After: 40\r\n");
    assert_int_equal(h.retry_after_ms, 13);
    /* A malformed retry-after-ms leaves room for retry-after, and changes nothing itself. */
    classify_hdrs_init(&h);
    hdr(&h, "retry-after-ms: soon\r\n");
    assert_int_equal(h.retry_after_ms, -1);
    hdr(&h, "retry-after: Fri, 14 Mar 2025 09:26:47 GMT\r\n");
    assert_int_equal(h.retry_after_ms, 10000);
    hdr(&h, "retry-after-ms: -5\r\n");
    assert_int_equal(h.retry_after_ms, 10000);
}

static void test_header_should_retry(void **state) {
    (void)state;
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    hdr(&h, "x-should-retry: yes");
    assert_int_equal(h.should_retry, -1);
    hdr(&h, "x-should-retry: True\r\n");
    assert_int_equal(h.should_retry, 1);
    hdr(&h, "x-should-retry:false");
    assert_int_equal(h.should_retry, 0);
}

static void test_header_openai_dialect(void **state) {
    (void)state;
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    hdr(&h, "x-ratelimit-limit-tokens: 150000000\r\n");
    hdr(&h, "x-ratelimit-remaining-tokens: 149999000\r\n");
    hdr(&h, "x-ratelimit-reset-tokens: 0.5s\r\n");
    hdr(&h, "x-ratelimit-reset-requests: 6m0s\r\n");
    hdr(&h, "x-ratelimit-limit-tokens_usage_based: 5\r\n");
    hdr(&h, "x-ratelimit-remaining-tokens_usage_based: 4\r\n");
    hdr(&h, "x-ratelimit-reset-tokens_usage_based: 9s\r\n");
    hdr(&h, "x-ratelimit-limit-requests-day: 9\r\n");
    assert_int_equal(h.limit_tokens, 150000000);
    assert_int_equal(h.remaining_tokens, 149999000);
    assert_int_equal(h.reset_tokens_ms, 500);
    assert_int_equal(h.reset_requests_ms, 360000);
    assert_int_equal(h.limit_requests, -1);
}

static void test_header_azure_unknown_remaining(void **state) {
    (void)state;
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    hdr(&h, "x-ratelimit-remaining-tokens: 1000\r\n");
    hdr(&h, "x-ratelimit-remaining-tokens: -1\r\n");
    assert_int_equal(h.remaining_tokens, -1);
    hdr(&h, "x-ratelimit-remaining-requests: -\r\n");
    assert_int_equal(h.remaining_requests, -1);
}

static void test_header_anthropic_dialect(void **state) {
    (void)state;
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    hdr(&h, "anthropic-ratelimit-requests-limit: 4000\r\n");
    hdr(&h, "anthropic-ratelimit-requests-remaining: 3999\r\n");
    hdr(&h, "anthropic-ratelimit-requests-reset: 2025-03-14T09:27:37Z\r\n");
    hdr(&h, "anthropic-ratelimit-tokens-limit: 400000\r\n");
    hdr(&h, "anthropic-ratelimit-tokens-remaining: 399000\r\n");
    /* A reset in the past is "now", not negative. */
    hdr(&h, "anthropic-ratelimit-tokens-reset: 2025-03-14T09:26:00Z\r\n");
    /* Not the combined limits: ignored. */
    hdr(&h, "anthropic-ratelimit-input-tokens-limit: 7\r\n");
    hdr(&h, "anthropic-ratelimit-output-tokens-remaining: 7\r\n");
    assert_int_equal(h.limit_requests, 4000);
    assert_int_equal(h.remaining_requests, 3999);
    assert_int_equal(h.reset_requests_ms, 60000);
    assert_int_equal(h.limit_tokens, 400000);
    assert_int_equal(h.remaining_tokens, 399000);
    assert_int_equal(h.reset_tokens_ms, 0);
    hdr(&h, "anthropic-ratelimit-tokens-reset: 2025-03-14 11:26:37.5+02:00\r\n");
    assert_int_equal(h.reset_tokens_ms, 500);
}

static void test_header_hostile(void **state) {
    (void)state;
    struct classify_hdrs h, init;
    classify_hdrs_init(&h);
    classify_hdrs_init(&init);
    static const char *const junk[] = {
        "",
        "\r\n",
        "HTTP/1.1 429 Too Many Requests\r\n",
        "HTTP/2 429\r\n",
        "retry-after\r\n",
        "retry-after:\r\n",
        "retry-after:   \r\n",
        ": 5\r\n",
        "x-ratelimit-limit-requests: \r\n",
        "x-ratelimit-limit-requests: 12abc\r\n",
        "x-ratelimit-limit-requests: +12\r\n",
        "x-ratelimit-limit-requests: 1 2\r\n",
        "x-ratelimit-reset-requests: 12\r\n",
        "x-ratelimit-reset-requests: -1s\r\n",
        "x-ratelimit-reset-requests: 1d\r\n",
        "anthropic-ratelimit-requests-reset: tomorrow\r\n",
        "x-should-retry: \r\n",
        "retry-after: -3\r\n",
        "retry-after: 1e3\r\n",
        "x-request-id: \r\n",
        "retry-after : banana\r\n",
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        hdr(&h, junk[i]);
    assert_memory_equal(&h, &init, sizeof h);
    classify_header(&h, NULL, 5, NOW);
    classify_header(NULL, "retry-after: 1", 14, NOW);
    assert_memory_equal(&h, &init, sizeof h);
}

static void test_header_embedded_nul(void **state) {
    (void)state;
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    static const char a[] = "retry-after: 1\0 5\r\n";
    classify_header(&h, a, sizeof a - 1, NOW);
    assert_int_equal(h.retry_after_ms, -1);
    static const char b[] = "retry-\0after: 5\r\n";
    classify_header(&h, b, sizeof b - 1, NOW);
    assert_int_equal(h.retry_after_ms, -1);
    static const char c[] = "x-ratelimit-limit-tokens\0: 5\r\n";
    classify_header(&h, c, sizeof c - 1, NOW);
    assert_int_equal(h.limit_tokens, -1);
}

static void test_header_huge_numbers(void **state) {
    (void)state;
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    hdr(&h, "x-ratelimit-limit-tokens: 99999999999999999999999999999999999999\r\n");
    assert_int_equal(h.limit_tokens, CLASSIFY_MAX_COUNT);
    hdr(&h, "retry-after: 999999999999999999999999999999\r\n");
    assert_int_equal(h.retry_after_ms, CLASSIFY_MAX_DELAY_MS);
    classify_hdrs_init(&h);
    hdr(&h, "retry-after-ms: 99999999999999999999999999999.9\r\n");
    assert_int_equal(h.retry_after_ms, CLASSIFY_MAX_DELAY_MS);
    hdr(&h, "x-ratelimit-reset-tokens: 9999999999999999999h99999999999m\r\n");
    assert_int_equal(h.reset_tokens_ms, CLASSIFY_MAX_DELAY_MS);
    hdr(&h, "anthropic-ratelimit-requests-reset: 9999-12-31T23:59:59Z\r\n");
    assert_int_equal(h.reset_requests_ms, CLASSIFY_MAX_DELAY_MS); /* 7975 years, capped */
}

static void test_header_not_nul_terminated(void **state) {
    (void)state;
    /* Only the first len bytes belong to the line. */
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    const char *buf = "retry-after: 1234";
    classify_header(&h, buf, strlen("retry-after: 12"), NOW);
    assert_int_equal(h.retry_after_ms, 12000);
    char *exact = malloc(26);
    assert_non_null(exact);
    memcpy(exact, "x-ratelimit-limit-tokens: 7", 26); /* no terminator, no digit */
    classify_header(&h, exact, 26, NOW);
    assert_int_equal(h.limit_tokens, -1);
    memcpy(exact, "x-ratelimit-limit-tokens:7", 26);
    classify_header(&h, exact, 26, NOW);
    assert_int_equal(h.limit_tokens, 7);
    free(exact);
}

/* ---- Parsers ----------------------------------------------------------------------------- */

static int64_t dur(const char *s) {
    return classify_parse_duration_ms(s, strlen(s));
}

static void test_parse_duration(void **state) {
    (void)state;
    assert_int_equal(dur("12ms"), 12);
    assert_int_equal(dur("1s"), 1000);
    assert_int_equal(dur("6m0s"), 360000);
    assert_int_equal(dur("1h2m3s"), 3723000);
    assert_int_equal(dur("1h2m3.5s"), 3723500);
    assert_int_equal(dur("0.5s"), 500);
    assert_int_equal(dur(".5s"), 500);
    assert_int_equal(dur("0"), 0);
    assert_int_equal(dur("0s"), 0);
    assert_int_equal(dur("+2s"), 2000);
    assert_int_equal(dur("45.837906927s"), 45838);
    assert_int_equal(dur("1500us"), 2);
    assert_int_equal(dur("1500\xc2\xb5s"), 2);
    assert_int_equal(dur("1000000ns"), 1);
    assert_int_equal(dur("1ns"), 1);
    assert_int_equal(dur("2h"), 7200000);
    assert_int_equal(dur("1.5m"), 90000);
    assert_int_equal(dur("0.1s"), 100);
    assert_int_equal(dur("99999999999999999999999h"), CLASSIFY_MAX_DELAY_MS);
}

static void test_parse_duration_malformed(void **state) {
    (void)state;
    static const char *const bad[] = {"",  "s",  "12", "1d",  "-1s", "1.2.3s", "1 s", "1S",
                                      ".", ".s", "+",  "1s ", " 1s", "5sm",    "ms",  "1h2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (dur(bad[i]) != -1)
            fail_msg("\"%s\" parsed as %lld", bad[i], (long long)dur(bad[i]));
    assert_int_equal(classify_parse_duration_ms(NULL, 3), -1);
    /* Length, not NUL, ends the value: "12ms" cut to "12m". */
    assert_int_equal(classify_parse_duration_ms("12ms", 3), 720000);
}

static int64_t ra(const char *s) {
    return classify_parse_retry_after(s, strlen(s), NOW);
}

static void test_parse_retry_after_seconds(void **state) {
    (void)state;
    assert_int_equal(ra("0"), 0);
    assert_int_equal(ra("1"), 1000);
    assert_int_equal(ra("120"), 120000);
    assert_int_equal(ra(" 7 "), 7000);
    assert_int_equal(ra("007"), 7000);
    assert_int_equal(ra("1.5"), 1500);
    assert_int_equal(ra("0.0001"), 1);
    assert_int_equal(ra("26.66"), 26660);
    assert_int_equal(ra("99999999999999999999"), CLASSIFY_MAX_DELAY_MS);
}

static void test_parse_retry_after_imf_fixdate(void **state) {
    (void)state;
    assert_int_equal(ra("Fri, 14 Mar 2025 09:27:37 GMT"), 60000);
    assert_int_equal(ra("Fri, 14 Mar 2025 09:26:37 GMT"), 0);
    assert_int_equal(ra("Sun, 06 Nov 1994 08:49:37 GMT"), 0); /* in the past */
    assert_int_equal(classify_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 29,
                                                INT64_C(784111777000) - 5000),
                     5000);
    assert_int_equal(ra("Sat, 15 Mar 2025 09:26:37 GMT"), 86400000);
    assert_int_equal(classify_parse_retry_after("Tue, 29 Feb 2000 23:59:59 GMT", 29,
                                                INT64_C(951868799000) - 1000),
                     1000);
}

static void test_parse_retry_after_rfc850(void **state) {
    (void)state;
    assert_int_equal(ra("Friday, 14-Mar-25 09:27:37 GMT"), 60000);
    /* "94" is 1994, not 2094 (more than 50 years ahead). */
    assert_int_equal(classify_parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", 30,
                                                INT64_C(784111777000) - 5000),
                     5000);
    assert_int_equal(ra("Sunday, 06-Nov-94 08:49:37 GMT"), 0);
    /* "69" seen in 2025 is 2069 (44 years ahead). */
    assert_int_equal(ra("Tuesday, 01-Jan-69 00:00:00 GMT"), INT64_C(3124224000000) - NOW);
}

static void test_parse_retry_after_asctime(void **state) {
    (void)state;
    assert_int_equal(
        classify_parse_retry_after("Sun Nov  6 08:49:37 1994", 24, INT64_C(784111777000) - 5000),
        5000);
    assert_int_equal(ra("Fri Mar 14 09:28:37 2025"), 120000);
    assert_int_equal(ra("Fri Mar 14 09:26:37 2025"), 0);
}

static void test_parse_retry_after_garbage(void **state) {
    (void)state;
    static const char *const bad[] = {
        "",
        "   ",
        "soon",
        "-1",
        "1e3",
        "1,5",
        "1.5s",
        "+5",
        "5 6",
        "Fri, 14 Mar 2025 09:27:37",           /* no zone */
        "Fri, 14 Mar 2025 09:27:37 PST",       /* not GMT */
        "Fri, 32 Mar 2025 09:27:37 GMT",       /* no such day */
        "Fri, 29 Feb 2025 09:27:37 GMT",       /* not a leap year */
        "Fri, 14 Mar 2025 24:00:00 GMT",       /* no such hour */
        "Fri, 14 Mar 2025 09:60:00 GMT",       /* no such minute */
        "Fri, 14 Foo 2025 09:27:37 GMT",       /* no such month */
        "Fry, 14 Mar 2025 09:27:37 GMT",       /* no such day name */
        "Fri, 14 Mar 25 09:27:37 GMT",         /* two-digit year in IMF */
        "Fri,14 Mar 2025 09:27:37 GMT",        /* missing space */
        "Fri, 14 Mar 2025 09:27:37 GMTX",      /* trailing garbage */
        "Friday, 14-Mar-2025 09:27:37 GMT",    /* four-digit year in RFC 850 */
        "Fri Mar 14 09:28:37",                 /* asctime without year */
        "Fri Mar 14 09:28:37 2025 GMT",        /* asctime with zone */
        "Fri Mar 14 9:28:37 2025",             /* one-digit hour */
        "Fri, 14 Mar 2025 09:27:37 GMT\0junk", /* the NUL ends it for strlen */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0] - 1; i++)
        if (ra(bad[i]) != -1)
            fail_msg("\"%s\" parsed as %lld", bad[i], (long long)ra(bad[i]));
    static const char nul[] = "Fri, 14 Mar 2025 09:27:37 GMT\0junk";
    assert_int_equal(classify_parse_retry_after(nul, sizeof nul - 1, NOW), -1);
    assert_int_equal(classify_parse_retry_after(NULL, 4, NOW), -1);
    /* Length, not NUL, ends the value. */
    assert_int_equal(classify_parse_retry_after("12345", 2, NOW), 12000);
}

static int64_t ts(const char *s) {
    return httpdate_rfc3339_ms(s, strlen(s));
}

static void test_parse_rfc3339(void **state) {
    (void)state;
    assert_int_equal(ts("2024-05-01T12:00:30Z"), INT64_C(1714564830000));
    assert_int_equal(ts("2024-05-01t12:00:30z"), INT64_C(1714564830000));
    assert_int_equal(ts("2024-05-01 12:00:30Z"), INT64_C(1714564830000));
    assert_int_equal(ts("2024-05-01T12:00:30.5Z"), INT64_C(1714564830500));
    assert_int_equal(ts("2024-05-01T12:00:30.123456789Z"), INT64_C(1714564830123));
    assert_int_equal(ts("2024-05-01T12:00:30.04Z"), INT64_C(1714564830040));
    assert_int_equal(ts("2024-05-01T14:00:30+02:00"), INT64_C(1714564830000));
    assert_int_equal(ts("2024-05-01T06:30:30-05:30"), INT64_C(1714564830000));
    assert_int_equal(ts("2024-05-01T12:00:30.250+00:00"), INT64_C(1714564830250));
    assert_int_equal(ts("2024-05-01T12:00:30-00:00"), INT64_C(1714564830000));
    assert_int_equal(ts("2000-02-29T23:59:59Z"), INT64_C(951868799000));
    assert_int_equal(ts("2016-12-31T23:59:60Z"), INT64_C(1483228800000)); /* leap second */
    assert_int_equal(ts("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(ts(" 2024-05-01T12:00:30Z\r\n"), INT64_C(1714564830000));
}

static void test_parse_rfc3339_malformed(void **state) {
    (void)state;
    static const char *const bad[] = {
        "",
        "2024-05-01",
        "2024-05-01T12:00Z",
        "2024-05-01T12:00:30",
        "2024-05-01T12:00:30.Z",
        "2024-05-01T12:00:30+0200",
        "2024-05-01T12:00:30+24:00",
        "2024-05-01T12:00:30+02:60",
        "2024-13-01T12:00:30Z",
        "2024-00-01T12:00:30Z",
        "2023-02-29T12:00:30Z",
        "2024-05-32T12:00:30Z",
        "2024-05-01T24:00:30Z",
        "2024-05-01T12:60:30Z",
        "2024-05-01T12:00:61Z",
        "2024-05-01X12:00:30Z",
        "24-05-01T12:00:30Z",
        "2024-5-01T12:00:30Z",
        "2024-05-01T12:00:30ZZ",
        "1969-12-31T23:59:59.999Z",
        "1970-01-01T01:00:00+02:00",
        "Fri, 14 Mar 2025 09:27:37 GMT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ts(bad[i]) != -1)
            fail_msg("\"%s\" parsed as %lld", bad[i], (long long)ts(bad[i]));
    assert_int_equal(httpdate_rfc3339_ms(NULL, 20), -1);
    assert_int_equal(httpdate_rfc3339_ms("2024-05-01T12:00:30Z", 19), -1);
}

static void test_class_names(void **state) {
    (void)state;
    static const char *const names[CLASS__COUNT] = {
        "success", "retry", "rate_limited", "overloaded", "too_many_concurrent",
        "quota",   "auth",  "too_large",    "final"};
    for (int c = 0; c < CLASS__COUNT; c++)
        assert_string_equal(classify_class_name((enum classify_class)c), names[c]);
    assert_string_equal(classify_class_name(CLASS__COUNT), "unknown");
}

/* ---- The provider's words for people (issue 17.15) ---- */

static const char *error_text(const char *body, size_t n) {
    static char out[1024];
    assert_true(n <= sizeof(out));
    classify_error_text(body, body ? strlen(body) : 0, out, n);
    return out;
}

static void test_error_text_dialects(void **state) {
    (void)state;
    const char *openai =
        "{\n  \"error\": {\n    \"message\": \"You exceeded your current quota, please check "
        "your plan and billing details. For more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.\",\n    \"type\": "
        "\"insufficient_quota\",\n    \"param\": null,\n    \"code\": \"insufficient_quota\"\n  "
        "}\n}";
    assert_string_equal(error_text(openai, 1024),
                        "You exceeded your current quota, please check your plan and billing "
                        "details. For more information on this error, read the docs: "
                        "https://platform.openai.com/docs/guides/error-codes/api-errors.");
    assert_string_equal(
        error_text("{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\","
                   "\"message\":\"invalid x-api-key\"}}",
                   1024),
        "invalid x-api-key");
    assert_string_equal(error_text("[{\"error\":{\"code\":429,\"message\":\"Quota exceeded\","
                                   "\"status\":\"RESOURCE_EXHAUSTED\"}}]",
                                   1024),
                        "Quota exceeded");
    assert_string_equal(error_text("{\"error\":\"no credit\"}", 1024), "no credit");
    assert_string_equal(error_text("{\"message\":\"Forbidden\"}", 1024), "Forbidden");
    /* Not JSON: the text itself, white space and control bytes folded. */
    assert_string_equal(error_text("<html>\r\n <b>429</b>\t\x1b[31m Too Many\n</html>\n", 1024),
                        "<html> <b>429</b> [31m Too Many </html>");
    assert_string_equal(error_text("", 1024), "");
    assert_string_equal(error_text(NULL, 1024), "");
}

static void test_error_text_cut_between_words(void **state) {
    (void)state;
    const char *body = "{\"error\":{\"message\":\"Read the docs: "
                       "https://platform.openai.com/docs/guides/error-codes/api-errors now\"}}";
    const char *url = "https://platform.openai.com/docs/guides/error-codes/api-errors";
    /* Every room from nothing to all of it: the URL is whole or absent, the text a prefix of
       the message that ends between words, marked as cut. */
    for (size_t n = 1; n <= 100; n++) {
        const char *t = error_text(body, n);
        assert_true(strlen(t) < n);
        const char *u = strstr(t, "https://");
        if (u)
            assert_memory_equal(u, url, strlen(url));
        if (strlen(t) > 0 && strcmp(t, "Read the docs: https://platform.openai.com/docs/guides/"
                                       "error-codes/api-errors now") != 0) {
            size_t len = strlen(t);
            assert_true(strcmp(t, "...") == 0 || (len >= 4 && strcmp(t + len - 4, " ...") == 0));
        }
    }
    assert_string_equal(error_text(body, 40), "Read the docs: ...");
    /* One byte short of the whole message: the URL is dropped, not cut. */
    assert_string_equal(error_text(body, 81), "Read the docs: ...");
    assert_string_equal(error_text(body, 82), "Read the docs: https://platform.openai.com/docs/"
                                              "guides/error-codes/api-errors now");
}

/* ---- What the caller saw: classify_attempt's rows ----------------------------------------- */

static struct classify_verdict attempt(int status, const char *line, int promised, int whole,
                                       int64_t max_wait_ms) {
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    if (line)
        hdr(&h, line);
    struct classify_seen seen = {promised, whole, max_wait_ms};
    return classify_attempt(TRANSPORT_OK, status, &h, "x", 1, &seen);
}

/* A 2xx that promised JSON and sent something else is retried; a 2xx that promised nothing, or
   kept its promise, is a success. */
static void test_attempt_broken_json_retried(void **state) {
    (void)state;
    EXPECT(attempt(200, NULL, 1, 0, 60000), CLASS_RETRY, "invalid_json_response", -1);
    EXPECT(attempt(201, NULL, 1, 0, 60000), CLASS_RETRY, "invalid_json_response", -1);
    EXPECT(attempt(200, NULL, 0, 0, 60000), CLASS_SUCCESS, NULL, -1);
    EXPECT(attempt(200, NULL, 1, 1, 60000), CLASS_SUCCESS, NULL, -1);
    /* Only a 2xx: an error answer's body is the provider's words, JSON or not. */
    EXPECT(attempt(500, NULL, 1, 0, 60000), CLASS_RETRY, "http_500", -1);
}

/* A hint longer than the caller waits makes any failure a quota, and says why; a hint within
   it, or on a success, changes nothing. */
static void test_attempt_long_hint_is_quota(void **state) {
    (void)state;
    struct classify_verdict v = attempt(429, "Retry-After: 3600", 0, 0, 600000);
    EXPECT(v, CLASS_QUOTA, "rate_limited", 3600000);
    assert_true(v.over_max_wait);
    v = attempt(503, "Retry-After: 3600", 0, 0, 600000);
    EXPECT(v, CLASS_QUOTA, "http_503", 3600000);
    v = attempt(429, "Retry-After: 30", 0, 0, 600000);
    EXPECT(v, CLASS_RATE_LIMITED, "rate_limited", 30000);
    assert_false(v.over_max_wait);
    v = attempt(200, "Retry-After: 3600", 0, 0, 600000);
    EXPECT(v, CLASS_SUCCESS, NULL, -1);
    assert_false(v.over_max_wait);
}

/* What the circuit breaker counts: no whole answer, or a 5xx; not a 4xx, nor a 2xx. */
static void test_provider_fault(void **state) {
    (void)state;
    assert_true(transport(TRANSPORT_TIMEOUT).provider_fault);
    assert_true(transport(TRANSPORT_CONNECT).provider_fault);
    assert_true(transport(TRANSPORT_RESET).provider_fault);
    assert_true(answer(500, NULL).provider_fault);
    assert_true(answer(529, NULL).provider_fault);
    assert_false(answer(200, "{}").provider_fault);
    assert_false(answer(429, NULL).provider_fault);
    assert_false(answer(404, NULL).provider_fault);
    assert_false(transport(TRANSPORT_TOO_LARGE).provider_fault);
    assert_true(classify_answered(TRANSPORT_OK));
    assert_true(classify_answered(TRANSPORT_TOO_LARGE));
    assert_false(classify_answered(TRANSPORT_TIMEOUT));
    assert_false(classify_answered(TRANSPORT_CONNECT));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attempt_broken_json_retried),
        cmocka_unit_test(test_attempt_long_hint_is_quota),
        cmocka_unit_test(test_provider_fault),
        cmocka_unit_test(test_fixture_openai_429_rate_limit_requests),
        cmocka_unit_test(test_fixture_openai_429_rate_limit_tokens),
        cmocka_unit_test(test_fixture_openai_429_insufficient_quota),
        cmocka_unit_test(test_fixture_openai_429_request_too_large),
        cmocka_unit_test(test_fixture_openai_400_context_length_exceeded),
        cmocka_unit_test(test_fixture_openai_500_server_error),
        cmocka_unit_test(test_fixture_openai_503_overloaded),
        cmocka_unit_test(test_fixture_proxy_502_html),
        cmocka_unit_test(test_fixture_azure_429_retry_after_ms),
        cmocka_unit_test(test_fixture_anthropic_429_rate_limit),
        cmocka_unit_test(test_fixture_anthropic_529_overloaded),
        cmocka_unit_test(test_fixture_anthropic_429_concurrency),
        cmocka_unit_test(test_fixture_anthropic_400_credit_balance),
        cmocka_unit_test(test_fixture_anthropic_400_spend_limit),
        cmocka_unit_test(test_fixture_gemini_429_per_minute),
        cmocka_unit_test(test_fixture_gemini_429_per_day),
        cmocka_unit_test(test_fixture_gemini_429_openai_compat_array),
        cmocka_unit_test(test_row_transport_timeout),
        cmocka_unit_test(test_row_transport_connect),
        cmocka_unit_test(test_row_transport_reset),
        cmocka_unit_test(test_row_transport_other),
        cmocka_unit_test(test_row_transport_too_large),
        cmocka_unit_test(test_unknown_transport),
        cmocka_unit_test(test_row_success_2xx),
        cmocka_unit_test(test_row_auth_401),
        cmocka_unit_test(test_row_auth_403),
        cmocka_unit_test(test_row_quota_openai_insufficient_quota),
        cmocka_unit_test(test_row_quota_gemini_per_day),
        cmocka_unit_test(test_row_quota_gemini_limit_zero),
        cmocka_unit_test(test_row_quota_anthropic_spend_limit),
        cmocka_unit_test(test_row_too_large_429),
        cmocka_unit_test(test_row_too_large_400),
        cmocka_unit_test(test_row_too_large_context_length),
        cmocka_unit_test(test_row_too_large_413),
        cmocka_unit_test(test_row_too_many_concurrent),
        cmocka_unit_test(test_row_rate_limited_429),
        cmocka_unit_test(test_row_overloaded_529),
        cmocka_unit_test(test_row_overloaded_503),
        cmocka_unit_test(test_row_retry_408),
        cmocka_unit_test(test_row_retry_409),
        cmocka_unit_test(test_row_retry_5xx),
        cmocka_unit_test(test_row_final_4xx),
        cmocka_unit_test(test_row_final_1xx_3xx),
        cmocka_unit_test(test_row_invalid_status),
        cmocka_unit_test(test_should_retry_true),
        cmocka_unit_test(test_should_retry_false),
        cmocka_unit_test(test_hint_precedence),
        cmocka_unit_test(test_hint_message_phrases),
        cmocka_unit_test(test_hint_bad_retry_delay),
        cmocka_unit_test(test_body_not_json),
        cmocka_unit_test(test_body_wrong_types),
        cmocka_unit_test(test_body_embedded_nul),
        cmocka_unit_test(test_body_only_first_64k),
        cmocka_unit_test(test_body_deep_nesting),
        cmocka_unit_test(test_body_every_prefix),
        cmocka_unit_test(test_header_init),
        cmocka_unit_test(test_header_case_and_trim),
        cmocka_unit_test(test_header_request_id_precedence),
        cmocka_unit_test(test_header_retry_after_precedence),
        cmocka_unit_test(test_header_should_retry),
        cmocka_unit_test(test_header_openai_dialect),
        cmocka_unit_test(test_header_azure_unknown_remaining),
        cmocka_unit_test(test_header_anthropic_dialect),
        cmocka_unit_test(test_header_hostile),
        cmocka_unit_test(test_header_embedded_nul),
        cmocka_unit_test(test_header_huge_numbers),
        cmocka_unit_test(test_header_not_nul_terminated),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_duration_malformed),
        cmocka_unit_test(test_parse_retry_after_seconds),
        cmocka_unit_test(test_parse_retry_after_imf_fixdate),
        cmocka_unit_test(test_parse_retry_after_rfc850),
        cmocka_unit_test(test_parse_retry_after_asctime),
        cmocka_unit_test(test_parse_retry_after_garbage),
        cmocka_unit_test(test_parse_rfc3339),
        cmocka_unit_test(test_parse_rfc3339_malformed),
        cmocka_unit_test(test_class_names),
        cmocka_unit_test(test_error_text_dialects),
        cmocka_unit_test(test_error_text_cut_between_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
