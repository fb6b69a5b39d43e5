#include "classify.h"
#include "httpdate.h"

#include <json-c/json.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

/*
 * The classifier. Everything here is a pure function of its arguments: no clock, no I/O, no
 * mutable globals. Input is hostile: header lines and bodies are (pointer, length) pairs that
 * are not NUL-terminated and may hold NULs, so every scan below is bounded by a length.
 */

/* Only this much of a body is parsed: error answers are small; a huge one is not an error
   dialect we know, and falls back to the status rules. */
#define BODY_SCAN_MAX 65536

#define NS_PER_MS    UINT64_C(1000000)
#define NS_PER_S     UINT64_C(1000000000)
#define MAX_DELAY_NS ((uint64_t)CLASSIFY_MAX_DELAY_MS * NS_PER_MS)
#define NOT_FOUND    ((size_t)-1)

/* ---- The classes and the rules ---------------------------------------------------------- */

/* Per class: its name, and whether it means "send this request again" (x-should-retry turns
   these around, see classify_answer()). */
static const struct {
    const char *name;
    int retryable;
} CLASSES[CLASS__COUNT] = {
    [CLASS_SUCCESS] = {"success", 0},
    [CLASS_RETRY] = {"retry", 1},
    [CLASS_RATE_LIMITED] = {"rate_limited", 1},
    [CLASS_OVERLOADED] = {"overloaded", 1},
    [CLASS_TOO_MANY_CONCURRENT] = {"too_many_concurrent", 1},
    [CLASS_QUOTA] = {"quota", 0},
    [CLASS_AUTH] = {"auth", 0},
    [CLASS_TOO_LARGE] = {"too_large", 0},
    [CLASS_FINAL] = {"final", 0},
};

/* What an error body says, reduced to facts the rules can require (see body_read()). */
enum {
    F_OVERLOADED = 1u << 0,         /* error type or message says "overloaded" */
    F_CONCURRENCY = 1u << 1,        /* message says "concurrent"/"concurrency" */
    F_INSUFFICIENT_QUOTA = 1u << 2, /* OpenAI error.code or error.type insufficient_quota */
    F_RESOURCE_EXHAUSTED = 1u << 3, /* Gemini error.status RESOURCE_EXHAUSTED */
    F_PER_DAY = 1u << 4,            /* Gemini quota violation or message "per day" */
    F_LIMIT_ZERO = 1u << 5,         /* Gemini "limit: 0": no quota at all on this tier */
    F_SPEND_LIMIT = 1u << 6,        /* Anthropic spend limit, credit balance, billing */
    F_TOO_LARGE = 1u << 7,          /* OpenAI "Request too large for ..." */
    F_CONTEXT_LENGTH = 1u << 8,     /* context_length_exceeded and its phrasings */
    F_BROKEN_JSON = 1u << 9,        /* a 2xx whose Content-Type says JSON, and its body is not */
};

/* Marks a rule whose code is "http_<status>". */
static const char CODE_HTTP[] = "http_";

struct rule {
    enum classify_transport tr;
    int lo, hi;     /* status range, inclusive; 0..0 for transport failures */
    unsigned facts; /* body facts that must all hold */
    enum classify_class cls;
    const char *code; /* static; CODE_HTTP for "http_<status>"; NULL for success */
};

/*
 * THE table. classify_answer() takes the first row that matches, so specific rows come
 * before the general rows they refine. After the table only x-should-retry (classify_answer)
 * and a wait longer than the caller allows (classify_attempt) change the verdict. Every status
 * has a row; only a transport value outside the enum has none.
 */
static const struct rule RULES[] = {
    /* Nothing whole came back, so nothing was decided: send it again (docs/DESIGN.md). */
    {TRANSPORT_TIMEOUT, 0, 0, 0, CLASS_RETRY, "timeout"},
    {TRANSPORT_CONNECT, 0, 0, 0, CLASS_RETRY, "connection_failed"},
    {TRANSPORT_RESET, 0, 0, 0, CLASS_RETRY, "connection_reset"},
    {TRANSPORT_OTHER, 0, 0, 0, CLASS_RETRY, "transport_error"},
    /* An answer did come: the same request would get the same one, so it is final. */
    {TRANSPORT_TOO_LARGE, 0, 0, 0, CLASS_FINAL, "response_too_large"},
    /* A 2xx that says JSON and sends something else: a truncated or corrupt answer, which the
       same request sent again is likely to get whole (classify_attempt). */
    {TRANSPORT_OK, 200, 299, F_BROKEN_JSON, CLASS_RETRY, "invalid_json_response"},
    /* Else 2xx is success, whatever the headers or the body say (RFC 9110 §15.3). */
    {TRANSPORT_OK, 200, 299, 0, CLASS_SUCCESS, NULL},
    /* The key is wrong or lacks the right: every request will fail alike, stop the run
       (OpenAI, Anthropic and Gemini error-code docs: 401 authentication, 403 permission). */
    {TRANSPORT_OK, 401, 401, 0, CLASS_AUTH, "auth_failed"},
    {TRANSPORT_OK, 403, 403, 0, CLASS_AUTH, "auth_failed"},
    /* OpenAI: 429 insufficient_quota, "You exceeded your current quota": the account has no
       credit left; retrying cannot help (OpenAI error codes guide). */
    {TRANSPORT_OK, 429, 429, F_INSUFFICIENT_QUOTA, CLASS_QUOTA, "insufficient_quota"},
    /* Gemini: 429 RESOURCE_EXHAUSTED on a per-day quota (QuotaFailure quotaId
       "...PerDay...") lasts until midnight Pacific: stop the run (Gemini rate-limits doc). */
    {TRANSPORT_OK, 429, 429, F_RESOURCE_EXHAUSTED | F_PER_DAY, CLASS_QUOTA, "insufficient_quota"},
    /* Gemini: "limit: 0" means the model has no free-tier quota at all on this project. */
    {TRANSPORT_OK, 429, 429, F_RESOURCE_EXHAUSTED | F_LIMIT_ZERO, CLASS_QUOTA,
     "insufficient_quota"},
    /* Anthropic: spend limit reached / "Your credit balance is too low" (a 400
       invalid_request_error, sometimes 429): no request can succeed until someone pays. */
    {TRANSPORT_OK, 400, 499, F_SPEND_LIMIT, CLASS_QUOTA, "insufficient_quota"},
    /* OpenAI: "Request too large for <model> ... Limit L, Requested R": this request alone
       exceeds the per-minute token budget; waiting cannot help it (a 429, or a 400). */
    {TRANSPORT_OK, 429, 429, F_TOO_LARGE, CLASS_TOO_LARGE, "request_too_large"},
    {TRANSPORT_OK, 400, 400, F_TOO_LARGE, CLASS_TOO_LARGE, "request_too_large"},
    /* OpenAI 400 context_length_exceeded (Anthropic: "prompt is too long"): the prompt does
       not fit the model, only for this request. */
    {TRANSPORT_OK, 400, 400, F_CONTEXT_LENGTH, CLASS_TOO_LARGE, "request_too_large"},
    /* 413 Content Too Large (RFC 9110 §15.5.14; Anthropic request_too_large): same. */
    {TRANSPORT_OK, 413, 413, 0, CLASS_TOO_LARGE, "request_too_large"},
    /* A 429 about concurrent connections (Anthropic "Number of concurrent connections has
       exceeded your rate limit"): fewer requests in flight, not a slower rate. */
    {TRANSPORT_OK, 429, 429, F_CONCURRENCY, CLASS_TOO_MANY_CONCURRENT, "too_many_concurrent"},
    /* Any other 429 is about rate, requests or tokens per minute (RFC 6585 §4; OpenAI
       rate_limit_exceeded, Anthropic rate_limit_error, Gemini per-minute RESOURCE_EXHAUSTED). */
    {TRANSPORT_OK, 429, 429, 0, CLASS_RATE_LIMITED, "rate_limited"},
    /* Anthropic 529 overloaded_error: the provider as a whole is overloaded (Anthropic
       errors doc), not this key: back off and let the breaker count it. */
    {TRANSPORT_OK, 529, 529, 0, CLASS_OVERLOADED, "overloaded"},
    /* A 503 that says so (OpenAI "The engine is currently overloaded", Gemini "The model is
       overloaded"): the same, provider-wide. */
    {TRANSPORT_OK, 503, 503, F_OVERLOADED, CLASS_OVERLOADED, "overloaded"},
    /* 408 Request Timeout and 409 Conflict are transient (the OpenAI and Anthropic SDKs
       retry them). */
    {TRANSPORT_OK, 408, 408, 0, CLASS_RETRY, CODE_HTTP},
    {TRANSPORT_OK, 409, 409, 0, CLASS_RETRY, CODE_HTTP},
    /* Any other 5xx is the server's fault, not the request's (RFC 9110 §15.6). */
    {TRANSPORT_OK, 500, 599, 0, CLASS_RETRY, CODE_HTTP},
    /* Any other 4xx is the request's fault: sending it again gives the same answer. */
    {TRANSPORT_OK, 400, 499, 0, CLASS_FINAL, CODE_HTTP},
    /* 1xx and 3xx as a final answer (curl follows no redirect for us): not a result. */
    {TRANSPORT_OK, 100, 199, 0, CLASS_FINAL, CODE_HTTP},
    {TRANSPORT_OK, 300, 399, 0, CLASS_FINAL, CODE_HTTP},
    /* No such HTTP status: a broken server or proxy, treat it like a protocol error. */
    {TRANSPORT_OK, INT_MIN, 99, 0, CLASS_RETRY, "transport_error"},
    {TRANSPORT_OK, 600, INT_MAX, 0, CLASS_RETRY, "transport_error"},
};

/* "http_100" .. "http_599", static, for CODE_HTTP rows. */
#define HC10(a, b)                                                                                 \
    "http_" #a #b "0", "http_" #a #b "1", "http_" #a #b "2", "http_" #a #b "3", "http_" #a #b "4", \
        "http_" #a #b "5", "http_" #a #b "6", "http_" #a #b "7", "http_" #a #b "8",                \
        "http_" #a #b "9"
#define HC100(a)                                                                                   \
    HC10(a, 0), HC10(a, 1), HC10(a, 2), HC10(a, 3), HC10(a, 4), HC10(a, 5), HC10(a, 6),            \
        HC10(a, 7), HC10(a, 8), HC10(a, 9)
static const char *const HTTP_CODES[500] = {HC100(1), HC100(2), HC100(3), HC100(4), HC100(5)};

const char *classify_class_name(enum classify_class c) {
    if ((int)c < 0 || c >= CLASS__COUNT)
        return "unknown";
    return CLASSES[c].name;
}

/* ---- Bounded byte helpers --------------------------------------------------------------- */

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

static int is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int to_lower(char c) {
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static void trim(const char **s, size_t *len) {
    while (*len > 0 && is_space(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_space((*s)[*len - 1]))
        (*len)--;
}

/* Case-insensitive: does s[0..len) equal the literal? */
static int ci_equal(const char *s, size_t len, const char *lit) {
    size_t n = strlen(lit);
    if (len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (to_lower(s[i]) != to_lower(lit[i]))
            return 0;
    return 1;
}

/* Case-insensitive search of a literal in s[0..len): its offset, or NOT_FOUND. */
static size_t ci_find(const char *s, size_t len, const char *lit) {
    size_t n = strlen(lit);
    if (!s || n > len)
        return NOT_FOUND;
    for (size_t i = 0; i + n <= len; i++) {
        size_t k = 0;
        while (k < n && to_lower(s[i + k]) == to_lower(lit[k]))
            k++;
        if (k == n)
            return i;
    }
    return NOT_FOUND;
}

/* ---- Numbers and durations -------------------------------------------------------------- */

/*
 * Reads DIGITS ["." [DIGITS]] or "." DIGITS at s: the integer part (saturating at 10^18, far
 * beyond any delay we keep) and the fraction in units of 10^-9 (digits past the ninth are
 * dropped). Returns the bytes read, 0 when there is no number.
 */
static size_t parse_decimal(const char *s, size_t len, uint64_t *ipart, uint64_t *frac9) {
    const uint64_t sat = UINT64_C(1000000000000000000);
    size_t i = 0;
    int digits = 0;
    uint64_t ip = 0, fr = 0, scale = NS_PER_S;
    for (; i < len && is_digit(s[i]); i++, digits++) {
        ip = ip < sat ? ip * 10 + (uint64_t)(s[i] - '0') : sat;
        if (ip > sat)
            ip = sat;
    }
    if (i < len && s[i] == '.') {
        i++;
        for (; i < len && is_digit(s[i]); i++, digits++) {
            if (scale > 1) {
                scale /= 10;
                fr += (uint64_t)(s[i] - '0') * scale;
            }
        }
    }
    if (!digits)
        return 0;
    *ipart = ip;
    *frac9 = fr;
    return i;
}

/* ipart.frac9 units of `unit` ns -> ns, saturating at MAX_DELAY_NS. */
static uint64_t scale_ns(uint64_t ipart, uint64_t frac9, uint64_t unit) {
    if (ipart > MAX_DELAY_NS / unit)
        return MAX_DELAY_NS;
    uint64_t ns = ipart * unit;
    /* Split so neither product can overflow: frac9 < 10^9 and unit <= 3.6 * 10^12. */
    ns += unit >= NS_PER_S ? frac9 * (unit / NS_PER_S) : frac9 * unit / NS_PER_S;
    return ns > MAX_DELAY_NS ? MAX_DELAY_NS : ns;
}

/* A wait is rounded up to the next ms: waking early only earns another 429. */
static int64_t ns_to_ms_ceil(uint64_t ns) {
    return (int64_t)((ns + NS_PER_MS - 1) / NS_PER_MS);
}

/* Go's time.Duration units; the micro sign comes in two encodings (U+00B5, U+03BC). */
static uint64_t duration_unit(const char *u, size_t len) {
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        {"ns", 1},         {"us", 1000},    {"\xc2\xb5s", 1000},  {"\xce\xbcs", 1000},
        {"ms", NS_PER_MS}, {"s", NS_PER_S}, {"m", 60 * NS_PER_S}, {"h", 3600 * NS_PER_S},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (len == strlen(units[i].name) && memcmp(u, units[i].name, len) == 0)
            return units[i].ns;
    return 0;
}

/*
 * Go's time.ParseDuration syntax, as OpenAI sends it in x-ratelimit-reset-* ("6m0s") and
 * Google in RetryInfo.retryDelay ("45.837906927s"): [+] (number unit)+, or a bare "0".
 * Negative durations mean nothing as a wait and are malformed here. Rounded up to ms.
 */
int64_t classify_parse_duration_ms(const char *s, size_t len) {
    if (!s || len == 0)
        return -1;
    size_t i = s[0] == '+' ? 1 : 0;
    if (len - i == 1 && s[i] == '0')
        return 0;
    if (i == len)
        return -1;
    uint64_t total = 0;
    while (i < len) {
        uint64_t ip, fr;
        size_t n = parse_decimal(s + i, len - i, &ip, &fr);
        if (!n)
            return -1;
        i += n;
        size_t u = i;
        while (i < len && !is_digit(s[i]) && s[i] != '.')
            i++;
        uint64_t unit = duration_unit(s + u, i - u);
        if (!unit)
            return -1;
        total += scale_ns(ip, fr, unit);
        if (total > MAX_DELAY_NS)
            total = MAX_DELAY_NS;
    }
    return ns_to_ms_ceil(total);
}

/* A header count: digits, or a negative number, which Azure sends ("-1") for "unknown". */
static int parse_count(const char *s, size_t len, int64_t *out) {
    int neg = len > 0 && s[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == len)
        return -1;
    int64_t v = 0;
    for (; i < len; i++) {
        if (!is_digit(s[i]))
            return -1;
        if (v < CLASSIFY_MAX_COUNT)
            v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -1 : (v > CLASSIFY_MAX_COUNT ? CLASSIFY_MAX_COUNT : v);
    return 0;
}

/* Time from now until t, >= 0, saturating, and safe for any now. */
static int64_t delay_until(int64_t t, int64_t now) {
    if (t <= now)
        return 0;
    if (now < t - CLASSIFY_MAX_DELAY_MS)
        return CLASSIFY_MAX_DELAY_MS;
    return t - now;
}

/*
 * Retry-After (RFC 9110 §10.2.3): delta-seconds, or an HTTP-date turned into a delay from
 * now_epoch_ms (a date in the past is 0). A fractional number of seconds ("1.5") is accepted
 * because some servers send one.
 */
int64_t classify_parse_retry_after(const char *s, size_t len, int64_t now_epoch_ms) {
    if (!s)
        return -1;
    trim(&s, &len);
    if (len == 0)
        return -1;
    if (is_digit(s[0]) || s[0] == '.') {
        uint64_t ip, fr;
        if (parse_decimal(s, len, &ip, &fr) != len)
            return -1;
        return ns_to_ms_ceil(scale_ns(ip, fr, NS_PER_S));
    }
    int64_t t = httpdate_parse_ms(s, len, now_epoch_ms);
    if (t == -1)
        return -1;
    return delay_until(t, now_epoch_ms);
}

/* ---- Headers ----------------------------------------------------------------------------- */

void classify_hdrs_init(struct classify_hdrs *h) {
    memset(h, 0, sizeof *h);
    h->should_retry = -1;
    h->retry_after_ms = -1;
    h->limit_requests = h->remaining_requests = h->reset_requests_ms = -1;
    h->limit_tokens = h->remaining_tokens = h->reset_tokens_ms = -1;
}

enum hdr_kind {
    HDR_SHOULD_RETRY,
    HDR_RETRY_AFTER_MS,
    HDR_RETRY_AFTER,
    HDR_X_REQUEST_ID,
    HDR_REQUEST_ID,
    HDR_COUNT,        /* an int64_t field */
    HDR_RESET_GO,     /* an int64_t field: Go duration from now */
    HDR_RESET_RFC3339 /* an int64_t field: RFC 3339 instant, stored as ms from now */
};

/* The header dialects: OpenAI (and Azure, which copies it) and Anthropic. Exact names, so
   variants such as x-ratelimit-limit-tokens_usage_based are ignored. */
static const struct {
    const char *name;
    size_t len; /* strlen(name): most lines are told apart by length alone */
    enum hdr_kind kind;
    size_t field;
} HEADERS[] = {
#define HDR(name, kind, field)                                                                     \
    { name, sizeof(name) - 1, kind, field }
    HDR("x-should-retry", HDR_SHOULD_RETRY, 0),
    HDR("retry-after-ms", HDR_RETRY_AFTER_MS, 0),
    HDR("retry-after", HDR_RETRY_AFTER, 0),
    HDR("x-request-id", HDR_X_REQUEST_ID, 0),
    HDR("request-id", HDR_REQUEST_ID, 0),
    HDR("x-ratelimit-limit-requests", HDR_COUNT, offsetof(struct classify_hdrs, limit_requests)),
    HDR("x-ratelimit-limit-tokens", HDR_COUNT, offsetof(struct classify_hdrs, limit_tokens)),
    HDR("x-ratelimit-remaining-requests", HDR_COUNT,
        offsetof(struct classify_hdrs, remaining_requests)),
    HDR("x-ratelimit-remaining-tokens", HDR_COUNT,
        offsetof(struct classify_hdrs, remaining_tokens)),
    HDR("x-ratelimit-reset-requests", HDR_RESET_GO,
        offsetof(struct classify_hdrs, reset_requests_ms)),
    HDR("x-ratelimit-reset-tokens", HDR_RESET_GO, offsetof(struct classify_hdrs, reset_tokens_ms)),
    HDR("anthropic-ratelimit-requests-limit", HDR_COUNT,
        offsetof(struct classify_hdrs, limit_requests)),
    HDR("anthropic-ratelimit-requests-remaining", HDR_COUNT,
        offsetof(struct classify_hdrs, remaining_requests)),
    HDR("anthropic-ratelimit-requests-reset", HDR_RESET_RFC3339,
        offsetof(struct classify_hdrs, reset_requests_ms)),
    HDR("anthropic-ratelimit-tokens-limit", HDR_COUNT,
        offsetof(struct classify_hdrs, limit_tokens)),
    HDR("anthropic-ratelimit-tokens-remaining", HDR_COUNT,
        offsetof(struct classify_hdrs, remaining_tokens)),
    HDR("anthropic-ratelimit-tokens-reset", HDR_RESET_RFC3339,
        offsetof(struct classify_hdrs, reset_tokens_ms)),
#undef HDR
};

static void copy_request_id(struct classify_hdrs *h, const char *v, size_t len) {
    if (len >= sizeof h->request_id)
        len = sizeof h->request_id - 1;
    memcpy(h->request_id, v, len);
    h->request_id[len] = '\0';
}

/*
 * Precedence that does not depend on the order lines arrive in: retry-after-ms always wins,
 * so retry-after only fills an empty slot; x-request-id always wins over request-id likewise.
 * A malformed value changes nothing.
 */
void classify_header(struct classify_hdrs *h, const char *line, size_t len, int64_t now_epoch_ms) {
    if (!h || !line)
        return;
    const char *colon = memchr(line, ':', len);
    if (!colon)
        return;
    const char *name = line, *v = colon + 1;
    size_t nlen = (size_t)(colon - line), vlen = len - nlen - 1;
    trim(&name, &nlen);
    trim(&v, &vlen);
    if (vlen == 0)
        return;
    size_t k = 0, n = sizeof HEADERS / sizeof HEADERS[0];
    while (k < n && (HEADERS[k].len != nlen || !ci_equal(name, nlen, HEADERS[k].name)))
        k++;
    if (k == n)
        return;
    int64_t *field = (int64_t *)(void *)((char *)h + HEADERS[k].field), x;
    switch (HEADERS[k].kind) {
    case HDR_SHOULD_RETRY:
        if (ci_equal(v, vlen, "true"))
            h->should_retry = 1;
        else if (ci_equal(v, vlen, "false"))
            h->should_retry = 0;
        break;
    case HDR_RETRY_AFTER_MS: {
        uint64_t ip, fr;
        if (parse_decimal(v, vlen, &ip, &fr) == vlen) {
            h->retry_after_ms = ns_to_ms_ceil(scale_ns(ip, fr, NS_PER_MS));
            h->retry_after_precise = 1;
        }
        break;
    }
    case HDR_RETRY_AFTER:
        if (h->retry_after_ms < 0)
            h->retry_after_ms = classify_parse_retry_after(v, vlen, now_epoch_ms);
        break;
    case HDR_X_REQUEST_ID:
        copy_request_id(h, v, vlen);
        break;
    case HDR_REQUEST_ID:
        if (h->request_id[0] == '\0')
            copy_request_id(h, v, vlen);
        break;
    case HDR_COUNT:
        if (parse_count(v, vlen, &x) == 0)
            *field = x;
        break;
    case HDR_RESET_GO:
        if ((x = classify_parse_duration_ms(v, vlen)) >= 0)
            *field = x;
        break;
    case HDR_RESET_RFC3339:
        if ((x = httpdate_rfc3339_ms(v, vlen)) >= 0)
            *field = delay_until(x, now_epoch_ms);
        break;
    }
}

/* ---- Bodies ------------------------------------------------------------------------------ */

struct body_facts {
    unsigned facts;
    int64_t retry_delay_ms; /* Gemini RetryInfo.retryDelay; -1 */
    int64_t message_ms;     /* "Please try again in 1.2s" in the message; -1 */
};

/* A string member of obj (NULL when absent or not a string), with its length. */
static const char *member_str(struct json_object *obj, const char *key, size_t *len) {
    struct json_object *m;
    *len = 0;
    if (!json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &m) ||
        !json_object_is_type(m, json_type_string))
        return NULL;
    *len = (size_t)json_object_get_string_len(m);
    return json_object_get_string(m);
}

static int str_is(const char *s, size_t len, const char *lit) {
    return s && len == strlen(lit) && memcmp(s, lit, len) == 0;
}

static int str_has(const char *s, size_t len, const char *lit) {
    return s && ci_find(s, len, lit) != NOT_FOUND;
}

/* The wait a unit word names ("seconds", "ms", ...) in ns, 0 if none. */
static uint64_t word_unit(const char *w, size_t len) {
    static const struct {
        const char *name;
        uint64_t ns;
    } words[] = {
        {"ms", NS_PER_MS},         {"millisecond", NS_PER_MS}, {"milliseconds", NS_PER_MS},
        {"s", NS_PER_S},           {"sec", NS_PER_S},          {"secs", NS_PER_S},
        {"second", NS_PER_S},      {"seconds", NS_PER_S},      {"min", 60 * NS_PER_S},
        {"mins", 60 * NS_PER_S},   {"minute", 60 * NS_PER_S},  {"minutes", 60 * NS_PER_S},
        {"hour", 3600 * NS_PER_S}, {"hours", 3600 * NS_PER_S},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (ci_equal(w, len, words[i].name))
            return words[i].ns;
    return 0;
}

/* The wait right after a phrase: "26.66s", "6m0s", "120ms", "45 seconds"; -1 if none. */
static int64_t parse_wait_at(const char *s, size_t len) {
    size_t n = 0;
    while (n < len && (is_digit(s[n]) || s[n] == '.' || is_alpha(s[n])))
        n++;
    size_t t = n;
    while (t > 0 && s[t - 1] == '.') /* the end of the sentence */
        t--;
    int64_t ms = classify_parse_duration_ms(s, t);
    if (ms >= 0)
        return ms;
    uint64_t ip, fr;
    size_t k = parse_decimal(s, len, &ip, &fr);
    if (!k)
        return -1;
    while (k < len && s[k] == ' ')
        k++;
    size_t w = k;
    while (k < len && is_alpha(s[k]))
        k++;
    uint64_t unit = word_unit(s + w, k - w);
    return unit ? ns_to_ms_ceil(scale_ns(ip, fr, unit)) : -1;
}

/* A retry hint phrased in an error message (OpenAI, Gemini, Azure wordings); -1 if none. */
static int64_t message_hint_ms(const char *m, size_t len) {
    static const char *const phrases[] = {"retry in ", "try again in ", "retry after "};
    for (size_t p = 0; m && p < sizeof phrases / sizeof phrases[0]; p++) {
        size_t from = 0, at;
        while ((at = ci_find(m + from, len - from, phrases[p])) != NOT_FOUND) {
            from += at + strlen(phrases[p]);
            int64_t ms = parse_wait_at(m + from, len - from);
            if (ms >= 0)
                return ms;
        }
    }
    return -1;
}

/* Gemini's google.rpc details: QuotaFailure violations and RetryInfo. */
static void body_read_details(struct json_object *details, struct body_facts *f) {
    if (!json_object_is_type(details, json_type_array))
        return;
    size_t n = json_object_array_length(details);
    for (size_t i = 0; i < n; i++) {
        struct json_object *d = json_object_array_get_idx(details, i), *viol;
        size_t tlen, len;
        const char *type = member_str(d, "@type", &tlen), *s;
        if (str_has(type, tlen, "RetryInfo") && (s = member_str(d, "retryDelay", &len)))
            f->retry_delay_ms = classify_parse_duration_ms(s, len);
        if (!str_has(type, tlen, "QuotaFailure") ||
            !json_object_object_get_ex(d, "violations", &viol) ||
            !json_object_is_type(viol, json_type_array))
            continue;
        size_t nv = json_object_array_length(viol);
        for (size_t k = 0; k < nv; k++) {
            struct json_object *v = json_object_array_get_idx(viol, k);
            static const char *const keys[] = {"quotaId", "quotaMetric"};
            for (size_t j = 0; j < 2; j++) {
                s = member_str(v, keys[j], &len);
                if (str_has(s, len, "perday") || str_has(s, len, "per day"))
                    f->facts |= F_PER_DAY;
            }
            s = member_str(v, "quotaValue", &len);
            if (str_is(s, len, "0"))
                f->facts |= F_LIMIT_ZERO;
        }
    }
}

/* Does the message hold "limit: 0" (and not "limit: 05" or "limit: 0.5")? */
static int says_limit_zero(const char *m, size_t len) {
    size_t from = 0, at;
    while (m && (at = ci_find(m + from, len - from, "limit: 0")) != NOT_FOUND) {
        from += at + 8;
        if (from == len || (!is_digit(m[from]) && m[from] != '.'))
            return 1;
    }
    return 0;
}

/*
 * Reduces an error body to facts. The dialects: OpenAI {"error":{message,type,param,code}};
 * Anthropic {"type":"error","error":{type,message}}; Gemini {"error":{code,message,status,
 * details}}, which its OpenAI-compatible endpoint wraps in an array. Anything else (HTML from
 * a proxy, a truncated body, other JSON) yields no facts, so the status rules decide.
 */
static void body_read(const char *body, size_t len, struct body_facts *f) {
    if (len > BODY_SCAN_MAX)
        len = BODY_SCAN_MAX;
    struct json_tokener *tok = json_tokener_new();
    if (!tok)
        return;
    struct json_object *root = json_tokener_parse_ex(tok, body, (int)len);
    int ok = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    if (!ok || !root) {
        json_object_put(root);
        return;
    }
    struct json_object *top = root, *err;
    if (json_object_is_type(top, json_type_array) && json_object_array_length(top) > 0)
        top = json_object_array_get_idx(top, 0);
    if (!json_object_is_type(top, json_type_object) ||
        !json_object_object_get_ex(top, "error", &err)) {
        json_object_put(root);
        return;
    }
    size_t tlen, mlen, clen, slen, rlen;
    const char *rtype = member_str(top, "type", &rlen);
    const char *type = member_str(err, "type", &tlen);
    const char *code = member_str(err, "code", &clen);
    const char *status = member_str(err, "status", &slen);
    const char *msg = member_str(err, "message", &mlen);
    if (json_object_is_type(err, json_type_string)) { /* {"error": "text"} from proxies */
        msg = json_object_get_string(err);
        mlen = (size_t)json_object_get_string_len(err);
    }
    int anthropic = str_is(rtype, rlen, "error");

    if (str_has(type, tlen, "overloaded") || str_has(msg, mlen, "overloaded"))
        f->facts |= F_OVERLOADED;
    if (str_has(type, tlen, "concurren") || str_has(msg, mlen, "concurren"))
        f->facts |= F_CONCURRENCY;
    if (str_is(code, clen, "insufficient_quota") || str_is(type, tlen, "insufficient_quota"))
        f->facts |= F_INSUFFICIENT_QUOTA;
    if (str_is(status, slen, "RESOURCE_EXHAUSTED"))
        f->facts |= F_RESOURCE_EXHAUSTED;
    if (str_has(msg, mlen, "per day"))
        f->facts |= F_PER_DAY;
    if (says_limit_zero(msg, mlen))
        f->facts |= F_LIMIT_ZERO;
    /* Only in Anthropic's dialect: OpenAI's and Gemini's rate-limit messages mention billing
       too ("check your plan and billing details") without meaning a spend limit. */
    if (anthropic &&
        (str_has(msg, mlen, "spend limit") || str_has(msg, mlen, "billing") ||
         str_has(msg, mlen, "credit balance is too low") || str_has(msg, mlen, "api usage limits")))
        f->facts |= F_SPEND_LIMIT;
    if (str_has(msg, mlen, "request too large"))
        f->facts |= F_TOO_LARGE;
    if (str_is(code, clen, "context_length_exceeded") ||
        str_has(msg, mlen, "maximum context length") || str_has(msg, mlen, "prompt is too long"))
        f->facts |= F_CONTEXT_LENGTH;
    struct json_object *details;
    if (json_object_is_type(err, json_type_object) &&
        json_object_object_get_ex(err, "details", &details))
        body_read_details(details, f);
    f->message_ms = message_hint_ms(msg, mlen);
    json_object_put(root);
}

/* The message member of an error body in any dialect; NULL when there is none. */
static const char *body_message(struct json_object *root, size_t *len) {
    struct json_object *top = root, *err;
    *len = 0;
    if (json_object_is_type(top, json_type_array) && json_object_array_length(top) > 0)
        top = json_object_array_get_idx(top, 0);
    if (!json_object_is_type(top, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(top, "error", &err))
        return member_str(top, "message", len);
    if (json_object_is_type(err, json_type_string)) {
        *len = (size_t)json_object_get_string_len(err);
        return json_object_get_string(err);
    }
    return member_str(err, "message", len);
}

/* Copies text into out (n > 0) with white space and control bytes folded to single spaces.
   Returns 1 when some of it did not fit. */
static int fold_spaces(const char *text, size_t len, char *out, size_t n) {
    size_t at = 0, i = 0;
    int space = 1; /* drops leading white space */
    for (; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= ' ' || c == 0x7f) {
            space = 1;
            continue;
        }
        if (at + (space && at > 0) + 1 >= n)
            break;
        if (space && at > 0)
            out[at++] = ' ';
        out[at++] = (char)c;
        space = 0;
    }
    out[at] = '\0';
    return i < len;
}

void classify_error_text(const char *body, size_t len, char *out, size_t n) {
    if (n == 0)
        return;
    out[0] = '\0';
    if (!body || len == 0)
        return;
    const char *text = body;
    size_t tlen = len;
    struct json_object *root = NULL;
    struct json_tokener *tok = json_tokener_new();
    if (tok) {
        root = json_tokener_parse_ex(tok, body, (int)(len > BODY_SCAN_MAX ? BODY_SCAN_MAX : len));
        if (json_tokener_get_error(tok) != json_tokener_success) {
            json_object_put(root);
            root = NULL;
        }
        json_tokener_free(tok);
    }
    size_t mlen;
    const char *msg = root ? body_message(root, &mlen) : NULL;
    if (msg && mlen > 0) {
        text = msg;
        tlen = mlen;
    }
    if (fold_spaces(text, tlen, out, n)) {
        /* Cut at the last space that leaves room for " ...": a word or a URL goes whole or
           not at all. */
        size_t len = strlen(out), cut = n > 5 ? n - 5 : 0;
        if (cut > len)
            cut = len;
        while (cut > 0 && out[cut] != ' ')
            cut--;
        if (cut > 0)
            memcpy(out + cut, " ...", 5);
        else if (n > 3)
            memcpy(out, "...", 4); /* not even the first word fits */
        else
            out[0] = '\0';
    }
    json_object_put(root);
}

/* ---- The verdict ------------------------------------------------------------------------- */

/*
 * First matching row of RULES, then x-should-retry, which OpenAI and Anthropic send to tell
 * clients what their SDKs should do: "true" makes any error answer retryable (a retryable
 * class keeps its finer meaning), "false" makes a retryable one final; a 2xx stays success.
 * The retry hint: retry-after-ms, else Retry-After (both in h), else Gemini's RetryInfo, else
 * a phrase in the error message.
 */
int classify_answered(enum classify_transport tr) {
    return tr == TRANSPORT_OK || tr == TRANSPORT_TOO_LARGE;
}

static struct classify_verdict classify(enum classify_transport tr, int status,
                                        const struct classify_hdrs *h, const char *body,
                                        size_t body_len, unsigned seen) {
    /* No row for the transport value: a caller's bug, made final so that it cannot loop. */
    struct classify_verdict v = {CLASS_FINAL, "transport_error", -1, HINT_NONE, 0, 0};
    struct body_facts f = {seen, -1, -1};
    /* Nothing whole came back, or a 5xx: the provider may be down, whatever the class. */
    v.provider_fault = !classify_answered(tr) || status >= 500;
    if (tr == TRANSPORT_OK && status >= 400 && body)
        body_read(body, body_len, &f);

    size_t n = sizeof RULES / sizeof RULES[0], i = 0;
    for (; i < n; i++) {
        const struct rule *r = &RULES[i];
        if (r->tr == tr && (tr != TRANSPORT_OK || (status >= r->lo && status <= r->hi)) &&
            (f.facts & r->facts) == r->facts)
            break;
    }
    if (i < n) {
        v.cls = RULES[i].cls;
        v.code = RULES[i].code == CODE_HTTP ? HTTP_CODES[status - 100] : RULES[i].code;
    }
    if (v.cls == CLASS_SUCCESS)
        return v;
    if (tr == TRANSPORT_OK && h) {
        if (h->should_retry == 1 && !CLASSES[v.cls].retryable)
            v.cls = CLASS_RETRY;
        else if (h->should_retry == 0 && CLASSES[v.cls].retryable)
            v.cls = CLASS_FINAL;
    }
    if (h && h->retry_after_ms >= 0) {
        v.retry_after_ms = h->retry_after_ms;
        v.hint = h->retry_after_precise ? HINT_HEADER_MS : HINT_HEADER;
    } else if (f.retry_delay_ms >= 0) {
        v.retry_after_ms = f.retry_delay_ms;
        v.hint = HINT_RETRYINFO;
    } else if (f.message_ms >= 0) {
        v.retry_after_ms = f.message_ms;
        v.hint = HINT_MESSAGE;
    }
    return v;
}

struct classify_verdict classify_answer(enum classify_transport tr, int status,
                                        const struct classify_hdrs *h, const char *body,
                                        size_t body_len) {
    return classify(tr, status, h, body, body_len, 0);
}

struct classify_verdict classify_attempt(enum classify_transport tr, int status,
                                         const struct classify_hdrs *h, const char *body,
                                         size_t body_len, const struct classify_seen *seen) {
    unsigned facts = seen && seen->json_promised && !seen->json_whole ? F_BROKEN_JSON : 0;
    struct classify_verdict v = classify(tr, status, h, body, body_len, facts);
    /* Waiting that long in silence helps no one: a quota in all but name. */
    if (seen && v.cls != CLASS_SUCCESS && v.retry_after_ms > seen->max_wait_ms) {
        v.cls = CLASS_QUOTA;
        v.over_max_wait = 1;
    }
    return v;
}
