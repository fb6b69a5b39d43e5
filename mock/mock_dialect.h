/* The provider dialects the mock speaks (--provider): which rate-limit headers an answer
 * carries, and the status, body and retry hints of each kind of error.
 *
 * Real providers disagree on all three (issue 9), and a client is only as good as its
 * reading of them, so each dialect here copies what the provider sends, as captured in
 * tests/fixtures/providers/:
 *   openai     x-ratelimit-{limit,remaining,reset}-{requests,tokens} with Go durations;
 *              429s with retry-after and retry-after-ms; {"error":{message,type,param,code}}
 *   azure      only x-ratelimit-remaining-{requests,tokens} (-1: unknown); 429s with
 *              retry-after-ms and retry-after; {"error":{"code":"429","message":...}}
 *   anthropic  anthropic-ratelimit-*-{limit,remaining,reset} with RFC 3339 resets and token
 *              counts rounded to thousands; retry-after only; 529 overloaded_error;
 *              {"type":"error","error":{type,message},"request_id":...}
 *   gemini     (its OpenAI-compatible endpoint) no rate-limit headers and no Retry-After:
 *              the delay is google.rpc.RetryInfo.retryDelay in the body; every second error
 *              body is wrapped in a JSON array, as that endpoint sometimes does.
 * Pure functions: no clock, no I/O; the caller passes the times. */
#ifndef MOCK_DIALECT_H
#define MOCK_DIALECT_H

#include "mock_answer.h"
#include "mock_buf.h"
#include "mock_limiter.h"

#include <stddef.h>
#include <stdint.h>

enum mock_provider { MOCK_OPENAI, MOCK_AZURE, MOCK_ANTHROPIC, MOCK_GEMINI };

/* "openai", "azure", "anthropic" or "gemini"; -1 for any other name. */
int mock_provider_parse(const char *name);
const char *mock_provider_name(enum mock_provider p);

/*
 * The endpoint a POST to `path` (len bytes, no query) reaches at provider p, or MOCK_EP_NONE
 * where the provider answers 404. `query` is what follows the '?' ("" for none). Each provider
 * serves its own paths only, so that a client that joins its URLs wrongly sees the 404 the
 * provider would give (issue 17):
 *   openai     /v1/chat/completions, /v1/completions, /v1/embeddings
 *   azure      /openai/deployments/NAME/{chat/completions,completions,embeddings} with an
 *              api-version in the query (without one Azure says 404 "Resource not found"),
 *              and the v1 API's /openai/v1/{chat/completions,completions,embeddings}
 *   anthropic  /v1/messages, and /v1/chat/completions (its OpenAI SDK compatibility)
 *   gemini     /v1beta/openai/chat/completions, /v1beta/openai/embeddings
 */
enum mock_endpoint mock_dialect_route(enum mock_provider p, const char *path, size_t len,
                                      const char *query);

enum mock_err_kind {
    MOCK_ERR_PLAIN,       /* 400, 404, 413, 5xx: the status and message given by the caller */
    MOCK_ERR_RATE,        /* a budget refused the request; it would pass after wait_ms */
    MOCK_ERR_TOO_LARGE,   /* its tokens exceed the whole per-minute budget: it never passes */
    MOCK_ERR_CONCURRENCY, /* too many requests in process at once (limit) */
    MOCK_ERR_OVERLOADED,  /* provider-wide overload: 529 (anthropic) or 503 */
    MOCK_ERR_QUOTA,       /* quota or credit exhausted: no later request can succeed */
    MOCK_ERR_AUTH         /* the key was refused: 401 */
};

/* What the handler knows about one error answer. Fields a kind does not use are ignored. */
struct mock_err {
    enum mock_err_kind kind;
    int status;                    /* PLAIN */
    const char *message;           /* PLAIN */
    const char *oa_type, *oa_code; /* PLAIN: OpenAI error type and code (code may be NULL) */
    const char *an_type;           /* PLAIN: Anthropic error type */
    enum mock_budget_id budget;    /* RATE, TOO_LARGE: the budget that refused it */
    int64_t limit;                 /* RATE, TOO_LARGE: per minute; CONCURRENCY: at once;
                                      QUOTA: requests allowed in all */
    int64_t used, asked;           /* RATE, TOO_LARGE: the budget's use, this request's cost */
    int64_t wait_ms;               /* RATE: until it would be admitted */
    const char *model;             /* RATE, TOO_LARGE, QUOTA: the request's model (may be NULL) */
    size_t model_len;
    const char *request_id; /* "req_...": Anthropic bodies repeat it */
    uint64_t seq;           /* 1 for the first error answer, 2 for the next...: Gemini wraps
                               the even ones in an array, Anthropic words its quota errors
                               alternately as a credit balance and as a spend limit */
    int64_t wall_ms;        /* Unix time in ms: dates in quota messages */
};

/* What the head of an error answer needs beyond the lines every answer has. */
struct mock_err_head {
    int status;
    int64_t retry_after_ms; /* >= 0: send retry-after (whole seconds, rounded up); -1: none */
    int retry_after_ms_hdr; /* also retry-after-ms (unless --no-rate-headers) */
    int should_retry;       /* x-should-retry: -1 not sent, 0 false, 1 true */
    int rate_headers;       /* 0: no rate-limit headers on this answer (the fixtures have none) */
};

/* Appends the body of error `e` in dialect `p` to `body` and fills `h`. */
void mock_dialect_error(enum mock_provider p, const struct mock_err *e, struct mock_err_head *h,
                        struct mock_buf *body);

/* Appends the rate-limit header lines ("Name: value\r\n") of dialect `p` for the budgets
 * configured in `l` at loop time `now_ms`; `wall_ms` (Unix ms) dates Anthropic's resets. */
void mock_dialect_rate_headers(enum mock_provider p, const struct mock_limits *l, int64_t now_ms,
                               int64_t wall_ms, struct mock_buf *out);

/* A protobuf Duration as JSON writes it (google.rpc.RetryInfo.retryDelay): seconds with the
 * fraction, without trailing zeros: "0.25s", "1.5s", "26s". Returns the length. */
size_t mock_proto_duration(int64_t ms, char *out, size_t n);

/* Anthropic reports token counts rounded to the nearest thousand (half up). */
int64_t mock_round_thousands(int64_t n);

#endif
