#ifndef SLUICE_CLASSIFY_H
#define SLUICE_CLASSIFY_H

/*
 * The classifier: what an answer (or a transport error) means, and what to do about it.
 * Every class and its action are one table in classify.c (docs/DESIGN.md "Architecture").
 * Pure functions: no I/O, no clock of their own (callers pass the time).
 */
#include <stddef.h>
#include <stdint.h>

enum classify_class {
    CLASS_SUCCESS = 0,         /* 2xx: write the result */
    CLASS_RETRY,               /* 408, 409, 5xx, reset, timeout, x-should-retry: true: back off */
    CLASS_RATE_LIMITED,        /* 429 about rate: slow down, pause dispatch, retry; never final */
    CLASS_OVERLOADED,          /* 529 / 503 "overloaded": provider-wide; retry, count for breaker */
    CLASS_TOO_MANY_CONCURRENT, /* 429 "concurrent"/"concurrency": lower concurrency, retry */
    CLASS_QUOTA,               /* insufficient_quota, per-day RESOURCE_EXHAUSTED: stop the run */
    CLASS_AUTH,                /* 401, 403: stop the run */
    CLASS_TOO_LARGE,           /* request alone exceeds the limit / context: final for it only */
    CLASS_FINAL,               /* any other 4xx: final for this request */
    CLASS__COUNT
};

/* Name of a class for logs and tests ("success", "retry", ...). */
const char *classify_class_name(enum classify_class c);

/*
 * What the classifier reads from an answer's headers. The transport fills it line by line
 * with classify_header() as curl delivers them; absent values stay at their "unset" marks
 * from classify_hdrs_init().
 */
struct classify_hdrs {
    int should_retry;        /* x-should-retry: -1 absent, 0 false, 1 true */
    int64_t retry_after_ms;  /* from retry-after-ms, else retry-after (seconds or HTTP-date); -1 */
    int retry_after_precise; /* 1 when retry_after_ms came from retry-after-ms */
    char request_id[96];     /* x-request-id, else request-id; "" when absent */
    /* Rate-limit dialect (OpenAI/Azure x-ratelimit-*, Anthropic anthropic-ratelimit-*);
       -1 when absent. Reset values are in ms from the time of the answer. */
    int64_t limit_requests, remaining_requests, reset_requests_ms;
    int64_t limit_tokens, remaining_tokens, reset_tokens_ms;
};

void classify_hdrs_init(struct classify_hdrs *h);

/*
 * Reads one raw header line as curl gives it ("Name: value\r\n", any case) into *h; lines it
 * does not know are ignored. `now_epoch_ms` is the wall-clock time of the answer, used to
 * turn an HTTP-date Retry-After (RFC 9110 §10.2.3) or an RFC 3339 reset into a delay.
 */
void classify_header(struct classify_hdrs *h, const char *line, size_t len, int64_t now_epoch_ms);

/* Transport-level failures the classifier must tell apart (the transport maps curl codes). */
enum classify_transport {
    TRANSPORT_OK = 0,   /* an HTTP answer arrived whole */
    TRANSPORT_TIMEOUT,  /* per-attempt or connect timeout */
    TRANSPORT_CONNECT,  /* could not connect / resolve */
    TRANSPORT_RESET,    /* connection closed or broken mid-answer */
    TRANSPORT_OTHER,    /* any other transport failure (TLS, protocol) */
    TRANSPORT_TOO_LARGE /* an answer came, larger than the caller takes (max_response_bytes) */
};

/* Where a retry hint came from: the scheduler treats them differently (engine.c retry_later). */
enum classify_hint {
    HINT_NONE = 0,
    HINT_HEADER,    /* Retry-After (whole seconds): about this request, unless it is long */
    HINT_HEADER_MS, /* retry-after-ms: the same, to the millisecond, so a window's end shows */
    HINT_RETRYINFO, /* Gemini's google.rpc.RetryInfo: the end of a quota window, for everyone */
    HINT_MESSAGE    /* "Please try again in 1.2s" in the error message (OpenAI's token buckets) */
};

struct classify_verdict {
    enum classify_class cls;
    const char *code;        /* error code for a result line: "http_500", "timeout", ... static */
    int64_t retry_after_ms;  /* the server's hint (headers, or a body's retryDelay); -1 if none */
    enum classify_hint hint; /* where retry_after_ms came from; HINT_NONE when it is -1 */
    int over_max_wait;       /* a quota only because the hint was over classify_seen's wait */
    int provider_fault;      /* no whole answer, or a 5xx: what the circuit breaker counts */
};

/*
 * Classifies one attempt. `status` is the HTTP status (0 when tr != TRANSPORT_OK); `body` may
 * be NULL. The body is only inspected for error answers (the 4xx/5xx dialect cases).
 */
struct classify_verdict classify_answer(enum classify_transport tr, int status,
                                        const struct classify_hdrs *h, const char *body,
                                        size_t body_len);

/* 1 when an answer came back whole (a status, maybe a body too large to keep): the server was
   reached, whatever it said. */
int classify_answered(enum classify_transport tr);

/* What the caller saw of an attempt beyond its status, headers and body. */
struct classify_seen {
    int json_promised;   /* the answer's Content-Type said JSON */
    int json_whole;      /* and its body parsed as JSON */
    int64_t max_wait_ms; /* the longest retry hint worth waiting for */
};

/*
 * classify_answer(), and the rows that need what the caller saw: a 2xx that promised JSON and
 * is not JSON is retried ("invalid_json_response"); a retry hint longer than max_wait_ms makes
 * any failure a quota (over_max_wait set).
 */
struct classify_verdict classify_attempt(enum classify_transport tr, int status,
                                         const struct classify_hdrs *h, const char *body,
                                         size_t body_len, const struct classify_seen *seen);

/*
 * The provider's own words in an error body, for people: the message of any dialect's error
 * object, else the body as text. Control characters and runs of white space become one space.
 * When it does not fit in n bytes it is cut at a space, never inside a word or a URL, and
 * ends in "...". Writes a string (possibly empty) into out.
 */
void classify_error_text(const char *body, size_t len, char *out, size_t n);

/* "1s", "6m0s", "120ms", "1h2m3.5s" (OpenAI reset format) -> ms; -1 when malformed. */
int64_t classify_parse_duration_ms(const char *s, size_t len);

/* Retry-After value: delta-seconds or an HTTP-date -> ms from now (>= 0); -1 when malformed. */
int64_t classify_parse_retry_after(const char *s, size_t len, int64_t now_epoch_ms);

/*
 * Every delay the classifier returns saturates at 2^31 seconds (the cap RFC 9111 §1.2.2 gives
 * for delta-seconds), and every count at 10^15, so a hostile header can never make a caller's
 * `now + delay` or `limit * n` overflow.
 */
#define CLASSIFY_MAX_DELAY_MS INT64_C(2147483648000)
#define CLASSIFY_MAX_COUNT    INT64_C(1000000000000000)

#endif
