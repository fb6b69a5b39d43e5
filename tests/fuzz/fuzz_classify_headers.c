/*
 * The classifier's header parsers (src/classify.c): the input is an answer's header lines, one
 * per '\n', given to classify_header() as curl gives them. Properties:
 *   - whatever the lines, every field stays unset (-1) or in range: delays within
 *     [0, CLASSIFY_MAX_DELAY_MS], counts within [0, CLASSIFY_MAX_COUNT], x-should-retry -1, 0
 *     or 1, the request id a string that fits;
 *   - each line's value read as a Retry-After is -1 or a delay in range, for any clock, and
 *     never longer when the clock is later (an HTTP-date comes closer, but for the two-digit
 *     years of RFC 850, which the clock places; seconds stay the same);
 *     read as a duration or an RFC 3339 time it is -1 or in range;
 *   - the verdict built on these headers carries a hint in range, and says where it came from.
 */
#include <string.h>

#include "classify.h"
#include "httpdate.h"
#include "fuzz.h"

/* Clocks from the epoch to the last second of year 9999, in order. */
static const int64_t NOWS[] = {0, INT64_C(1700000000000), INT64_C(4102444800000),
                               INT64_C(253402300799000)};

static int delay_ok(int64_t d) {
    return d == -1 || (d >= 0 && d <= CLASSIFY_MAX_DELAY_MS);
}

static int count_ok(int64_t c) {
    return c == -1 || (c >= 0 && c <= CLASSIFY_MAX_COUNT);
}

static void check_hdrs(const struct classify_hdrs *h) {
    FUZZ_CHECK(h->should_retry >= -1 && h->should_retry <= 1, "should_retry %d", h->should_retry);
    FUZZ_CHECK(delay_ok(h->retry_after_ms), "retry_after_ms %lld", (long long)h->retry_after_ms);
    FUZZ_CHECK(h->retry_after_ms >= 0 || !h->retry_after_precise, "precise without a delay");
    FUZZ_CHECK(memchr(h->request_id, '\0', sizeof h->request_id) != NULL, "request id not ended");
    FUZZ_CHECK(count_ok(h->limit_requests) && count_ok(h->remaining_requests) &&
                   count_ok(h->limit_tokens) && count_ok(h->remaining_tokens),
               "a count out of range");
    FUZZ_CHECK(delay_ok(h->reset_requests_ms) && delay_ok(h->reset_tokens_ms),
               "a reset out of range");
}

/* The value of one line read by each of the parsers, as if it were that header's. */
static void check_value(const char *v, size_t n) {
    int64_t prev = -1;
    int digits = n > 0 && ((v[0] >= '0' && v[0] <= '9') || v[0] == '.');
    /* An RFC 850 date ("Sunday, 06-Nov-94 ...") names its century by the clock: none of the
       rules across clocks holds for it. */
    int rfc850 = memchr(v, '-', n) != NULL;
    for (size_t i = 0; i < sizeof NOWS / sizeof NOWS[0]; i++) {
        int64_t d = classify_parse_retry_after(v, n, NOWS[i]);
        FUZZ_CHECK(delay_ok(d), "Retry-After %lld at now %lld", (long long)d, (long long)NOWS[i]);
        if (i > 0 && !rfc850) {
            FUZZ_CHECK((d == -1) == (prev == -1), "Retry-After valid at one clock only");
            FUZZ_CHECK(d <= prev, "Retry-After grew from %lld to %lld as the clock went on",
                       (long long)prev, (long long)d);
            FUZZ_CHECK(!digits || d == prev, "seconds changed with the clock");
        }
        prev = d;
    }
    FUZZ_CHECK(delay_ok(classify_parse_duration_ms(v, n)), "duration out of range");
    int64_t t = httpdate_rfc3339_ms(v, n);
    FUZZ_CHECK(t >= -1, "RFC 3339 time %lld", (long long)t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    int64_t now = INT64_C(1700000000000) + (int64_t)size; /* any fixed clock will do */
    for (size_t off = 0; off < size;) {
        const char *nl = memchr(s + off, '\n', size - off);
        size_t len = nl ? (size_t)(nl - (s + off)) + 1 : size - off;
        classify_header(&h, s + off, len, now);
        check_hdrs(&h);
        const char *colon = memchr(s + off, ':', len);
        if (colon)
            check_value(colon + 1, len - (size_t)(colon + 1 - (s + off)));
        off += len;
    }
    static const int statuses[] = {200, 408, 429, 500, 503, 529};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        struct classify_verdict v = classify_answer(TRANSPORT_OK, statuses[i], &h, NULL, 0);
        FUZZ_CHECK(v.cls >= CLASS_SUCCESS && v.cls < CLASS__COUNT, "class %d", (int)v.cls);
        FUZZ_CHECK(delay_ok(v.retry_after_ms), "hint %lld", (long long)v.retry_after_ms);
        FUZZ_CHECK((v.hint == HINT_NONE) == (v.retry_after_ms == -1), "hint and delay disagree");
        FUZZ_CHECK(v.cls == CLASS_SUCCESS || v.code != NULL, "no code for a failure");
    }
    return 0;
}
