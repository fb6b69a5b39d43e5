#include "mock_dialect.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const PROVIDERS[] = {"openai", "azure", "anthropic", "gemini"};

int mock_provider_parse(const char *name) {
    for (int i = 0; i < (int)(sizeof PROVIDERS / sizeof PROVIDERS[0]); i++)
        if (!strcmp(name, PROVIDERS[i]))
            return i;
    return -1;
}

const char *mock_provider_name(enum mock_provider p) {
    return (unsigned)p < sizeof PROVIDERS / sizeof PROVIDERS[0] ? PROVIDERS[p] : "?";
}

/* The OpenAI-shaped operations under a prefix: "chat/completions", "completions",
 * "embeddings"; `rest` is what follows the prefix. */
static enum mock_endpoint openai_operation(const char *rest, size_t n) {
    static const struct {
        const char *name;
        enum mock_endpoint ep;
    } ops[] = {{"chat/completions", MOCK_EP_CHAT},
               {"completions", MOCK_EP_COMPLETIONS},
               {"embeddings", MOCK_EP_EMBEDDINGS}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strlen(ops[i].name) == n && memcmp(ops[i].name, rest, n) == 0)
            return ops[i].ep;
    return MOCK_EP_NONE;
}

/* Strips `prefix` from path[0..*n): the rest, or NULL when path does not start with it. */
static const char *after(const char *path, size_t *n, const char *prefix) {
    size_t pl = strlen(prefix);
    if (*n < pl || memcmp(path, prefix, pl) != 0)
        return NULL;
    *n -= pl;
    return path + pl;
}

/* A non-empty api-version=... among the query's parameters. */
static int has_api_version(const char *q) {
    while (*q) {
        size_t n = strcspn(q, "&");
        if (n > 12 && strncmp(q, "api-version=", 12) == 0)
            return 1;
        q += n + (q[n] == '&');
    }
    return 0;
}

enum mock_endpoint mock_dialect_route(enum mock_provider p, const char *path, size_t len,
                                      const char *query) {
    size_t n = len;
    const char *rest;
    switch (p) {
    case MOCK_OPENAI:
        rest = after(path, &n, "/v1/");
        return rest ? openai_operation(rest, n) : MOCK_EP_NONE;
    case MOCK_ANTHROPIC:
        rest = after(path, &n, "/v1/");
        if (rest && n == 8 && memcmp(rest, "messages", 8) == 0)
            return MOCK_EP_MESSAGES;
        return rest && openai_operation(rest, n) == MOCK_EP_CHAT ? MOCK_EP_CHAT : MOCK_EP_NONE;
    case MOCK_GEMINI:
        rest = after(path, &n, "/v1beta/openai/");
        if (!rest || openai_operation(rest, n) == MOCK_EP_COMPLETIONS)
            return MOCK_EP_NONE;
        return openai_operation(rest, n);
    case MOCK_AZURE: {
        if ((rest = after(path, &n, "/openai/v1/")) != NULL)
            return openai_operation(rest, n);
        if ((rest = after(path, &n, "/openai/deployments/")) == NULL || !has_api_version(query))
            return MOCK_EP_NONE;
        const char *slash = memchr(rest, '/', n);
        if (!slash || slash == rest)
            return MOCK_EP_NONE;
        return openai_operation(slash + 1, n - (size_t)(slash + 1 - rest));
    }
    }
    return MOCK_EP_NONE;
}

size_t mock_proto_duration(int64_t ms, char *out, size_t n) {
    if (ms < 0)
        ms = 0;
    long long s = ms / 1000, frac = ms % 1000;
    int r;
    if (frac) {
        int digits = 3;
        while (frac % 10 == 0) {
            frac /= 10;
            digits--;
        }
        r = snprintf(out, n, "%lld.%0*llds", s, digits, frac);
    } else {
        r = snprintf(out, n, "%llds", s);
    }
    if (r < 0)
        return 0;
    return (size_t)r < n ? (size_t)r : (n ? n - 1 : 0);
}

int64_t mock_round_thousands(int64_t n) {
    return n <= 0 ? 0 : (n + 500) / 1000 * 1000;
}

/* ---- Rate-limit headers ------------------------------------------------------------------ */

void mock_dialect_rate_headers(enum mock_provider p, const struct mock_limits *l, int64_t now_ms,
                               int64_t wall_ms, struct mock_buf *out) {
    const struct mock_budget *b[4] = {&l->requests, &l->tokens, &l->input, &l->output};
    const char *name[4] = {"requests", "tokens", "input-tokens", "output-tokens"};
    char when[40];
    if (p == MOCK_GEMINI)
        return;
    if (p == MOCK_AZURE) {
        /* Azure often sends only the remaining counts, and -1 for a budget it does not know
         * (tests/fixtures/providers/azure_429_retry_after_ms.http). */
        if (!b[0]->limit && !b[1]->limit)
            return;
        for (int i = 0; i < 2; i++)
            mock_buf_printf(out, "x-ratelimit-remaining-%s: %lld\r\n", name[i],
                            b[i]->limit ? (long long)mock_budget_remaining(b[i], now_ms) : -1LL);
        return;
    }
    for (int i = 0; i < (p == MOCK_ANTHROPIC ? 4 : 2); i++) {
        if (!b[i]->limit)
            continue;
        long long limit = (long long)b[i]->limit;
        int64_t remaining = mock_budget_remaining(b[i], now_ms);
        int64_t reset_ms = mock_budget_reset_ms(b[i], now_ms);
        if (p == MOCK_ANTHROPIC) {
            if (i > 0)
                remaining = mock_round_thousands(remaining);
            mock_rfc3339(wall_ms + reset_ms, when, sizeof when);
            mock_buf_printf(out,
                            "anthropic-ratelimit-%s-limit: %lld\r\n"
                            "anthropic-ratelimit-%s-remaining: %lld\r\n"
                            "anthropic-ratelimit-%s-reset: %s\r\n",
                            name[i], limit, name[i], (long long)remaining, name[i], when);
        } else {
            mock_duration_format(reset_ms, when, sizeof when);
            mock_buf_printf(out,
                            "x-ratelimit-limit-%s: %lld\r\n"
                            "x-ratelimit-remaining-%s: %lld\r\n"
                            "x-ratelimit-reset-%s: %s\r\n",
                            name[i], limit, name[i], (long long)remaining, name[i], when);
        }
    }
}

/* ---- Body shapes ------------------------------------------------------------------------- */

/* {"error":{"message":M,"type":T,"param":null,"code":C}}; `code` may be NULL. */
static void put_openai(struct mock_buf *o, const char *type, const char *code, const char *msg) {
    mock_buf_puts(o, "{\"error\":{\"message\":");
    mock_buf_json_str(o, msg, strlen(msg));
    mock_buf_printf(o, ",\"type\":\"%s\",\"param\":null,\"code\":", type);
    if (code)
        mock_buf_printf(o, "\"%s\"}}", code);
    else
        mock_buf_puts(o, "null}}");
}

/* Azure's own errors (429, 401, 503): {"error":{"code":"429","message":M}}. */
static void put_azure(struct mock_buf *o, int status, const char *msg) {
    mock_buf_printf(o, "{\"error\":{\"code\":\"%d\",\"message\":", status);
    mock_buf_json_str(o, msg, strlen(msg));
    mock_buf_puts(o, "}}");
}

static void put_anthropic(struct mock_buf *o, const char *type, const char *msg,
                          const struct mock_err *e) {
    mock_buf_printf(o, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":", type);
    mock_buf_json_str(o, msg, strlen(msg));
    mock_buf_puts(o, "}");
    if (e->request_id) {
        mock_buf_puts(o, ",\"request_id\":");
        mock_buf_json_str(o, e->request_id, strlen(e->request_id));
    }
    mock_buf_puts(o, "}");
}

static const char *google_status(int status) {
    switch (status) {
    case 400:
    case 413:
        return "INVALID_ARGUMENT";
    case 401:
        return "UNAUTHENTICATED";
    case 403:
        return "PERMISSION_DENIED";
    case 404:
        return "NOT_FOUND";
    case 429:
        return "RESOURCE_EXHAUSTED";
    case 500:
        return "INTERNAL";
    case 502:
    case 503:
        return "UNAVAILABLE";
    default:
        return "UNKNOWN";
    }
}

/* Google's {"error":{"code":N,"message":M,"status":S[,"details":[...]]}}, opened here and
 * closed by gemini_close(); every second one (by e->seq) inside a JSON array, as Gemini's
 * OpenAI-compatible endpoint sends them (gemini_429_openai_compat_array.http). */
static void gemini_open(struct mock_buf *o, const struct mock_err *e, int status, const char *msg) {
    if (e->seq % 2 == 0)
        mock_buf_puts(o, "[");
    mock_buf_printf(o, "{\"error\":{\"code\":%d,\"message\":", status);
    mock_buf_json_str(o, msg, strlen(msg));
    mock_buf_printf(o, ",\"status\":\"%s\"", google_status(status));
}

static void gemini_close(struct mock_buf *o, const struct mock_err *e) {
    mock_buf_puts(o, e->seq % 2 == 0 ? "}}]" : "}}");
}

/* The details of a RESOURCE_EXHAUSTED: which quota (QuotaFailure) and when to come back
 * (RetryInfo, the only retry hint Gemini gives: no Retry-After header). */
static void gemini_quota_details(struct mock_buf *o, const char *metric, const char *quota_id,
                                 int64_t limit, const struct mock_err *e, int64_t retry_ms) {
    char delay[32];
    mock_proto_duration(retry_ms, delay, sizeof delay);
    mock_buf_printf(o,
                    ",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\","
                    "\"violations\":[{\"quotaMetric\":\"%s\",\"quotaId\":\"%s\","
                    "\"quotaDimensions\":{\"location\":\"global\",\"model\":",
                    metric, quota_id);
    mock_buf_json_str(o, e->model ? e->model : "mock", e->model ? e->model_len : 4);
    mock_buf_printf(o,
                    "},\"quotaValue\":\"%lld\"}]},"
                    "{\"@type\":\"type.googleapis.com/google.rpc.Help\",\"links\":[{"
                    "\"description\":\"Learn more about Gemini API quotas\","
                    "\"url\":\"https://ai.google.dev/gemini-api/docs/rate-limits\"}]},"
                    "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\","
                    "\"retryDelay\":\"%s\"}]",
                    (long long)limit, delay);
}

/* Gemini's 429 RESOURCE_EXHAUSTED for a per-minute (rate) or per-day (quota) limit. */
static void gemini_exhausted(struct mock_buf *o, const struct mock_err *e, int tokens, int per_day,
                             int64_t limit, int64_t retry_ms) {
    const char *metric = tokens ? "generativelanguage.googleapis.com/"
                                  "generate_content_free_tier_input_token_count"
                                : "generativelanguage.googleapis.com/"
                                  "generate_content_free_tier_requests";
    const char *quota_id = per_day
                               ? (tokens ? "GenerateContentInputTokensPerModelPerDay-FreeTier"
                                         : "GenerateRequestsPerDayPerProjectPerModel-FreeTier")
                               : (tokens ? "GenerateContentInputTokensPerModelPerMinute-FreeTier"
                                         : "GenerateRequestsPerMinutePerProjectPerModel-FreeTier");
    char delay[32], msg[768];
    mock_proto_duration(retry_ms, delay, sizeof delay);
    int mlen = e->model ? (int)(e->model_len > 64 ? 64 : e->model_len) : 4;
    snprintf(msg, sizeof msg,
             "You exceeded your current quota, please check your plan and billing details. For "
             "more information on this error, head to: "
             "https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, "
             "head to: https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded for metric: %s, "
             "limit: %lld, model: %.*s\nPlease retry in %s.",
             metric, (long long)limit, mlen, e->model ? e->model : "mock", delay);
    gemini_open(o, e, 429, msg);
    gemini_quota_details(o, metric, quota_id, limit, e, retry_ms);
    gemini_close(o, e);
}

/* ms from `wall_ms` to the next midnight UTC: when a per-day quota comes back. */
static int64_t until_midnight_ms(int64_t wall_ms) {
    int64_t day = 86400000;
    return day - (wall_ms % day + day) % day;
}

/* ---- Errors, kind by kind ---------------------------------------------------------------- */

static void rate_error(enum mock_provider p, const struct mock_err *e, struct mock_err_head *h,
                       struct mock_buf *o) {
    static const char *const names[] = {"requests", "requests", "tokens", "input tokens",
                                        "output tokens"};
    int tokens = e->budget != MOCK_LIMIT_REQUESTS;
    const char *what = tokens ? "tokens" : "requests";
    int mlen = e->model ? (int)(e->model_len > 64 ? 64 : e->model_len) : 4;
    const char *model = e->model ? e->model : "mock";
    char msg[512], wait[32];
    mock_duration_format(e->wait_ms, wait, sizeof wait);
    h->status = 429;
    switch (p) {
    case MOCK_OPENAI:
        h->retry_after_ms = e->wait_ms;
        h->retry_after_ms_hdr = 1;
        snprintf(msg, sizeof msg,
                 "Rate limit reached for %s per min (%s) in organization org-mock for model "
                 "%.*s: Limit %lld, Used %lld, Requested %lld. Please try again in %s. Visit "
                 "https://platform.openai.com/account/rate-limits to learn more.",
                 what, tokens ? "TPM" : "RPM", mlen, model, (long long)e->limit, (long long)e->used,
                 (long long)e->asked, wait);
        put_openai(o, what, "rate_limit_exceeded", msg);
        break;
    case MOCK_AZURE:
        h->retry_after_ms = e->wait_ms;
        h->retry_after_ms_hdr = 1;
        snprintf(msg, sizeof msg,
                 "Requests to the ChatCompletions_Create Operation under Azure OpenAI API "
                 "version 2024-10-21 have exceeded %s rate limit of your current OpenAI S0 "
                 "pricing tier. Please retry after %lld seconds. Please go here: "
                 "https://aka.ms/oai/quotaincrease if you would like to further increase the "
                 "default rate limit.",
                 tokens ? "token" : "call", (long long)((e->wait_ms + 999) / 1000));
        put_azure(o, 429, msg);
        break;
    case MOCK_ANTHROPIC:
        h->retry_after_ms = e->wait_ms;
        h->should_retry = 1;
        snprintf(msg, sizeof msg,
                 "This request would exceed the rate limit for your organization of %lld %s "
                 "per minute. Please try again in %s.",
                 (long long)e->limit, names[(unsigned)e->budget % 5], wait);
        put_anthropic(o, "rate_limit_error", msg, e);
        break;
    case MOCK_GEMINI:
        gemini_exhausted(o, e, tokens, 0, e->limit, e->wait_ms);
        break;
    }
}

/* OpenAI's wording, which the other dialects borrow: no provider documents another for a
 * request that can never fit the per-minute token budget. No retry hint: waiting is useless. */
static void too_large_error(enum mock_provider p, const struct mock_err *e, struct mock_err_head *h,
                            struct mock_buf *o) {
    char msg[512];
    int mlen = e->model ? (int)(e->model_len > 64 ? 64 : e->model_len) : 4;
    snprintf(msg, sizeof msg,
             "Request too large for %.*s in organization org-mock on tokens per min (TPM): "
             "Limit %lld, Requested %lld. The input or output tokens must be reduced in order "
             "to run successfully.",
             mlen, e->model ? e->model : "mock", (long long)e->limit, (long long)e->asked);
    h->status = 429;
    if (p == MOCK_ANTHROPIC) {
        put_anthropic(o, "rate_limit_error", msg, e);
    } else if (p == MOCK_GEMINI) {
        gemini_open(o, e, 429, msg);
        gemini_close(o, e);
    } else {
        put_openai(o, "tokens", "rate_limit_exceeded", msg);
    }
}

static void concurrency_error(enum mock_provider p, const struct mock_err *e,
                              struct mock_err_head *h, struct mock_buf *o) {
    char msg[256];
    h->status = 429;
    if (p == MOCK_ANTHROPIC) {
        /* anthropic_429_concurrency.http; it names no wait, so one second, in whole seconds
         * as Anthropic sends them. */
        h->retry_after_ms = 1000;
        put_anthropic(o, "rate_limit_error",
                      "Number of concurrent connections has exceeded your rate limit. Please try "
                      "again later or contact sales at https://www.anthropic.com/contact-sales to "
                      "discuss your options for a rate limit increase.",
                      e);
        return;
    }
    snprintf(msg, sizeof msg,
             "Too many concurrent requests: at most %lld may be processed at once "
             "(concurrency limit). Please retry.",
             (long long)e->limit);
    if (p == MOCK_GEMINI) {
        gemini_open(o, e, 429, msg);
        gemini_close(o, e);
    } else {
        put_openai(o, "requests", "concurrency_limit_exceeded", msg);
    }
}

static void overloaded_error(enum mock_provider p, const struct mock_err *e,
                             struct mock_err_head *h, struct mock_buf *o) {
    h->status = 503;
    h->rate_headers = 0;
    switch (p) {
    case MOCK_OPENAI:
        put_openai(o, "server_error", NULL,
                   "The engine is currently overloaded, please try again later");
        break;
    case MOCK_AZURE:
        put_azure(o, 503, "The server is currently overloaded, please try again later.");
        break;
    case MOCK_ANTHROPIC:
        h->status = 529;
        h->should_retry = 1;
        put_anthropic(o, "overloaded_error", "Overloaded", e);
        break;
    case MOCK_GEMINI:
        gemini_open(o, e, 503, "The model is overloaded. Please try again later.");
        gemini_close(o, e);
        break;
    }
}

static void quota_error(enum mock_provider p, const struct mock_err *e, struct mock_err_head *h,
                        struct mock_buf *o) {
    h->rate_headers = 0;
    h->should_retry = 0;
    if (p == MOCK_ANTHROPIC) {
        /* anthropic_400_credit_balance.http and anthropic_400_spend_limit.http, in turn. */
        h->status = 400;
        if (e->seq % 2) {
            put_anthropic(o, "invalid_request_error",
                          "Your credit balance is too low to access the Anthropic API. Please go "
                          "to Plans & Billing to upgrade or purchase credits.",
                          e);
            return;
        }
        time_t t = (time_t)(e->wall_ms / 1000);
        struct tm tm;
        char msg[160];
        gmtime_r(&t, &tm);
        tm.tm_mon++; /* the first of next month */
        if (tm.tm_mon == 12) {
            tm.tm_mon = 0;
            tm.tm_year++;
        }
        snprintf(msg, sizeof msg,
                 "You have reached your specified API usage limits. You will regain access on "
                 "%04d-%02d-01 at 00:00 UTC.",
                 tm.tm_year + 1900, tm.tm_mon + 1);
        put_anthropic(o, "invalid_request_error", msg, e);
        return;
    }
    h->status = 429;
    if (p == MOCK_GEMINI) {
        h->should_retry = -1;
        gemini_exhausted(o, e, 0, 1, e->limit, until_midnight_ms(e->wall_ms));
        return;
    }
    /* openai_429_insufficient_quota.http; Azure answers an exhausted quota the same way. */
    put_openai(o, "insufficient_quota", "insufficient_quota",
               "You exceeded your current quota, please check your plan and billing details. "
               "For more information on this error, read the docs: "
               "https://platform.openai.com/docs/guides/error-codes/api-errors.");
}

/* The key is never echoed, not even masked as OpenAI does: a test greps for it. */
static void auth_error(enum mock_provider p, const struct mock_err *e, struct mock_err_head *h,
                       struct mock_buf *o) {
    h->status = 401;
    h->rate_headers = 0;
    switch (p) {
    case MOCK_OPENAI:
        put_openai(o, "invalid_request_error", "invalid_api_key",
                   "Incorrect API key provided. You can find your API key at "
                   "https://platform.openai.com/account/api-keys.");
        break;
    case MOCK_AZURE:
        put_azure(o, 401,
                  "Access denied due to invalid subscription key or wrong API endpoint. Make "
                  "sure to provide a valid key for an active subscription and use a correct "
                  "regional API endpoint for your resource.");
        break;
    case MOCK_ANTHROPIC:
        put_anthropic(o, "authentication_error", "invalid x-api-key", e);
        break;
    case MOCK_GEMINI:
        gemini_open(o, e, 401, "API key not valid. Please pass a valid API key.");
        gemini_close(o, e);
        break;
    }
}

void mock_dialect_error(enum mock_provider p, const struct mock_err *e, struct mock_err_head *h,
                        struct mock_buf *body) {
    h->status = e->status;
    h->retry_after_ms = -1;
    h->retry_after_ms_hdr = 0;
    h->should_retry = -1;
    h->rate_headers = 1;
    switch (e->kind) {
    case MOCK_ERR_PLAIN:
        if (p == MOCK_AZURE && e->status == 404) {
            put_azure(body, 404, "Resource not found"); /* whatever is wrong in the URL */
        } else if (p == MOCK_ANTHROPIC) {
            put_anthropic(body, e->an_type, e->message, e);
        } else if (p == MOCK_GEMINI) {
            gemini_open(body, e, e->status, e->message);
            gemini_close(body, e);
        } else {
            put_openai(body, e->oa_type, e->oa_code, e->message);
        }
        break;
    case MOCK_ERR_RATE:
        rate_error(p, e, h, body);
        break;
    case MOCK_ERR_TOO_LARGE:
        too_large_error(p, e, h, body);
        break;
    case MOCK_ERR_CONCURRENCY:
        concurrency_error(p, e, h, body);
        break;
    case MOCK_ERR_OVERLOADED:
        overloaded_error(p, e, h, body);
        break;
    case MOCK_ERR_QUOTA:
        quota_error(p, e, h, body);
        break;
    case MOCK_ERR_AUTH:
        auth_error(p, e, h, body);
        break;
    }
}
