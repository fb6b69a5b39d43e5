/* What each request gets. The order of the checks is part of the mock's contract:
 *
 *   1. /mock/... admin requests (not counted in the stats)
 *   2. outage: every /v1/... request gets a 503 while POST /mock/outage is in force
 *   3. unknown path or method: 404; body over MOCK_BODY_MAX: 413; body not JSON: 400
 *   4. concurrency: beyond --max-concurrency, a 429 (or --overload-status)
 *   5. rate limits: --rpm and --tpm, a 429 that charges nothing
 *   6. faults, drawn only for admitted requests (a refused request is never also faulted)
 *   7. the answer, after its latency.
 *
 * Answers are built whole (head and body) into one buffer, to go out in one write. */
#include "mock_answer.h"
#include "mock_server.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How one answer goes out. The body is in m->scratch. */
struct reply {
    int status;
    const char *id;
    int v1;             /* an API answer: gets the rate-limit headers */
    int64_t retry_ms;   /* > 0: retry-after (and retry-after-ms) */
    double delay_ms;    /* > 0: held back by the connection's timer */
    int reset;          /* declare the whole body, send half of it, then close */
    int truncate;       /* send half the body, declared as the whole (bad JSON) */
    int64_t prompt;     /* tokens counted when the answer is a success */
    int64_t completion; /* (both 0 otherwise) */
};

static const char *reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 529:
        return "Overloaded";
    default:
        return "Unknown";
    }
}

static void put_rate_headers(struct mock *m, struct mock_buf *o) {
    int64_t now = (int64_t)uv_now(m->loop);
    const struct mock_gcra *g[2] = {&m->limits.requests, &m->limits.tokens};
    const char *kind[2] = {"requests", "tokens"};
    int64_t wall_ms = 0;
    if (m->cfg.anthropic) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    for (int i = 0; i < 2; i++) {
        if (!g[i]->limit)
            continue;
        long long limit = (long long)g[i]->limit;
        long long remaining = (long long)mock_gcra_remaining(g[i], now);
        int64_t reset_ms = mock_gcra_reset_ms(g[i], now);
        char when[40];
        if (m->cfg.anthropic) {
            mock_rfc3339(wall_ms + reset_ms, when, sizeof when);
            mock_buf_printf(o,
                            "anthropic-ratelimit-%s-limit: %lld\r\n"
                            "anthropic-ratelimit-%s-remaining: %lld\r\n"
                            "anthropic-ratelimit-%s-reset: %s\r\n",
                            kind[i], limit, kind[i], remaining, kind[i], when);
        } else {
            mock_duration_format(reset_ms, when, sizeof when);
            mock_buf_printf(o,
                            "x-ratelimit-limit-%s: %lld\r\n"
                            "x-ratelimit-remaining-%s: %lld\r\n"
                            "x-ratelimit-reset-%s: %s\r\n",
                            kind[i], limit, kind[i], remaining, kind[i], when);
        }
    }
}

static void put_head(struct mock_conn *c, struct mock_buf *o, const struct reply *r,
                     size_t content_length) {
    struct mock *m = c->m;
    mock_buf_printf(o,
                    "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                    "content-length: %zu\r\nx-request-id: req_%s\r\n",
                    r->status, reason(r->status), content_length, r->id);
    if (m->cfg.anthropic)
        mock_buf_printf(o, "request-id: req_%s\r\n", r->id);
    if (r->v1 && m->cfg.rate_headers)
        put_rate_headers(m, o);
    if (r->retry_ms > 0) {
        mock_buf_printf(o, "retry-after: %lld\r\n", (long long)((r->retry_ms + 999) / 1000));
        if (m->cfg.rate_headers && !m->cfg.anthropic)
            mock_buf_printf(o, "retry-after-ms: %lld\r\n", (long long)r->retry_ms);
    }
    if (c->close_after || r->reset)
        mock_buf_puts(o, "connection: close\r\n");
    else if (c->parser.http_major == 1 && c->parser.http_minor == 0)
        mock_buf_puts(o, "connection: keep-alive\r\n"); /* HTTP/1.0 closes unless told */
    mock_buf_puts(o, "\r\n");
}

/* Counts an answer that has gone to the connection's output. */
static void count_sent(struct mock_conn *c, int status, int64_t prompt, int64_t completion,
                       int v1) {
    struct mock_stats *s = &c->m->stats;
    if (!v1)
        return;
    mock_stats_count_status(s, status);
    if (status == 429)
        s->rate_limited++;
    s->prompt_tokens += (uint64_t)prompt;
    s->completion_tokens += (uint64_t)completion;
    if (c->in_flight) {
        mock_stats_leave(s);
        c->in_flight = 0;
    }
}

/* Sends (or, with a delay, holds back) the answer whose body is in m->scratch. */
static void finish(struct mock_conn *c, const struct reply *r) {
    struct mock *m = c->m;
    struct mock_buf *body = &m->scratch;
    size_t declared = body->len, sent = body->len;
    if (r->reset)
        sent = body->len / 2;
    if (r->truncate)
        declared = sent = body->len / 2;
    if (body->failed) {
        c->close_after = 1; /* out of memory: better a closed connection than a lie */
        body->len = 0;
        return;
    }
    uint64_t delay = r->delay_ms > 0 ? (uint64_t)llround(r->delay_ms) : 0;
    struct mock_buf *o = delay ? &c->later : &c->out;
    put_head(c, o, r, declared);
    mock_buf_append(o, body->data, sent);
    mock_buf_reset(body, 1u << 20);
    if (delay) {
        c->wait = MOCK_WAIT_TIMER;
        c->later_delay_ms = delay;
        c->later_status = r->status;
        c->later_reset = r->reset;
        c->later_prompt = r->prompt;
        c->later_completion = r->completion;
        return;
    }
    if (r->reset)
        c->close_after = 1;
    count_sent(c, r->status, r->prompt, r->completion, r->v1);
}

void mock_handle_deliver(struct mock_conn *c) {
    c->wait = MOCK_WAIT_NONE;
    if (!c->out.len) {
        struct mock_buf t = c->out;
        c->out = c->later;
        c->later = t;
    } else {
        mock_buf_append(&c->out, c->later.data, c->later.len);
    }
    mock_buf_reset(&c->later, 64u << 10);
    if (c->later_reset)
        c->close_after = 1;
    count_sent(c, c->later_status, c->later_prompt, c->later_completion, 1);
}

static void error_reply(struct mock_conn *c, struct reply *r, const char *oa_type, const char *code,
                        const char *an_type, const char *message) {
    struct mock *m = c->m;
    m->scratch.len = 0;
    mock_answer_error(m->cfg.anthropic, m->cfg.anthropic ? an_type : oa_type, code, message,
                      &m->scratch);
    finish(c, r);
}

void mock_handle_bad_http(struct mock_conn *c, int status, const char *message) {
    char id[32];
    snprintf(id, sizeof id, "%08x%llx", c->m->id_prefix, (unsigned long long)++c->m->next_id);
    c->close_after = 1;
    struct reply r = {.status = status, .id = id};
    error_reply(c, &r, "invalid_request_error", NULL, "invalid_request_error", message);
}

static void handle_admin(struct mock_conn *c, const char *path, size_t plen, const char *query,
                         struct reply *r) {
    struct mock *m = c->m;
    int method = c->parser.method;
    m->scratch.len = 0;
    if (method == HTTP_POST && plen == 12 && memcmp(path, "/mock/outage", 12) == 0) {
        const char *q = strstr(query, "seconds=");
        char *end = NULL;
        double s = q ? strtod(q + 8, &end) : -1;
        if (!q || end == q + 8 || (*end && *end != '&') || !(s >= 0 && s <= 1e7)) {
            r->status = 400;
            error_reply(c, r, "invalid_request_error", NULL, "invalid_request_error",
                        "POST /mock/outage needs ?seconds=N with N >= 0");
            return;
        }
        m->outage_until_ms = (int64_t)uv_now(m->loop) + (int64_t)llround(s * 1000);
        mock_buf_printf(&m->scratch, "{\"outage_s\":%g}", s);
    } else if (method == HTTP_GET && plen == 11 && memcmp(path, "/mock/stats", 11) == 0) {
        mock_stats_json(&m->stats, &m->scratch);
    } else {
        r->status = 404;
        error_reply(c, r, "invalid_request_error", "unknown_url", "not_found_error",
                    "Unknown mock admin URL: use POST /mock/outage?seconds=N or GET /mock/stats");
        return;
    }
    finish(c, r);
}

/* 429 for a request the rate limiter refused. */
static void refuse_rate(struct mock_conn *c, struct reply *r, const struct mock_request *rq,
                        const struct mock_verdict *v, int64_t cost) {
    struct mock *m = c->m;
    int tokens = v->refused_by == MOCK_LIMIT_TOKENS;
    const struct mock_gcra *g = tokens ? &m->limits.tokens : &m->limits.requests;
    long long limit = (long long)g->limit;
    long long used = limit - (long long)mock_gcra_remaining(g, (int64_t)uv_now(m->loop));
    long long asked = tokens ? (long long)cost : 1;
    int mlen = rq->model_len > 64 ? 64 : (int)rq->model_len;
    char msg[512], wait[32];
    mock_duration_format(v->wait_ms, wait, sizeof wait);
    r->status = 429;
    if (v->too_large) {
        snprintf(msg, sizeof msg,
                 "Request too large for %.*s in organization org-mock on tokens per min (TPM): "
                 "Limit %lld, Requested %lld. The input or output tokens must be reduced in "
                 "order to run successfully.",
                 mlen, rq->model, limit, asked);
    } else if (m->cfg.anthropic) {
        r->retry_ms = v->wait_ms;
        snprintf(msg, sizeof msg,
                 "This request would exceed the rate limit for your organization of %lld %s "
                 "per minute. Please try again in %s.",
                 limit, tokens ? "tokens" : "requests", wait);
    } else {
        r->retry_ms = v->wait_ms;
        snprintf(msg, sizeof msg,
                 "Rate limit reached for %s per min (%s) in organization org-mock for model "
                 "%.*s: Limit %lld, Used %lld, Requested %lld. Please try again in %s. Visit "
                 "https://platform.openai.com/account/rate-limits to learn more.",
                 tokens ? "tokens" : "requests", tokens ? "TPM" : "RPM", mlen, rq->model, limit,
                 used, asked, wait);
    }
    error_reply(c, r, tokens ? "tokens" : "requests", "rate_limit_exceeded", "rate_limit_error",
                msg);
}

static void refuse_overload(struct mock_conn *c, struct reply *r) {
    struct mock *m = c->m;
    char msg[256];
    r->status = m->cfg.overload_status;
    if (r->status == 429) {
        snprintf(msg, sizeof msg,
                 "Too many concurrent requests: at most %lld may be processed at once "
                 "(concurrency limit). Please retry.",
                 (long long)m->cfg.max_concurrency);
        error_reply(c, r, "requests", "concurrency_limit_exceeded", "rate_limit_error", msg);
    } else {
        snprintf(msg, sizeof msg,
                 "The server is overloaded: more than %lld concurrent requests. Please retry "
                 "later.",
                 (long long)m->cfg.max_concurrency);
        error_reply(c, r, "server_error", "overloaded", "overloaded_error", msg);
    }
}

static void fail_reply(struct mock_conn *c, struct reply *r, int status) {
    static const char *messages[] = {
        "The server had an error while processing your request. Sorry about that!",
        "Bad gateway.",
        "The server is currently overloaded with other requests. Please retry.",
    };
    r->status = status;
    const char *msg = messages[status == 500 ? 0 : status == 502 ? 1 : 2];
    error_reply(c, r, "server_error", NULL, status == 503 ? "overloaded_error" : "api_error", msg);
}

void mock_handle_request(struct mock_conn *c) {
    struct mock *m = c->m;
    char id[32];
    snprintf(id, sizeof id, "%08x%llx", m->id_prefix, (unsigned long long)++m->next_id);
    struct reply r = {.status = 200, .id = id};
    if (!http_should_keep_alive(&c->parser))
        c->close_after = 1;

    size_t plen = strcspn(c->url, "?");
    const char *path = c->url, *query = c->url[plen] ? c->url + plen + 1 : "";
    if (plen >= 6 && memcmp(path, "/mock/", 6) == 0) {
        handle_admin(c, path, plen, query, &r);
        return;
    }
    r.v1 = 1;
    m->stats.requests++;
    mock_stats_count_auth(&m->stats, c->auth);
    mock_stats_count_path(&m->stats, path, plen);
    if (plen >= 4 && memcmp(path, "/v1/", 4) == 0 &&
        (int64_t)uv_now(m->loop) < m->outage_until_ms) {
        m->stats.outage++;
        r.status = 503;
        error_reply(c, &r, "server_error", NULL, "overloaded_error",
                    "The service is unavailable (mock outage, POST /mock/outage). Please retry.");
        return;
    }
    enum mock_endpoint ep = MOCK_EP_NONE;
    if (c->parser.method == HTTP_POST && !c->url_too_long)
        ep = mock_endpoint_of(path, plen);
    if (ep == MOCK_EP_NONE) {
        char msg[160];
        snprintf(msg, sizeof msg, "Unknown request URL: %s %.*s. Please check the URL.",
                 http_method_str((enum http_method)c->parser.method), plen > 100 ? 100 : (int)plen,
                 path);
        r.status = 404;
        error_reply(c, &r, "invalid_request_error", "unknown_url", "not_found_error", msg);
        return;
    }
    if (c->body_too_large) {
        r.status = 413;
        error_reply(c, &r, "invalid_request_error", NULL, "request_too_large",
                    "Request body too large for the mock (64 MB at most).");
        return;
    }
    struct mock_request rq;
    if (mock_request_parse(&rq, ep, m->tok, c->body.data, c->body.len) < 0) {
        r.status = 400;
        error_reply(c, &r, "invalid_request_error", NULL, "invalid_request_error",
                    "We could not parse the JSON body of your request. (HINT: This likely means "
                    "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                    "payload, but what was sent was not valid JSON.)");
        return;
    }

    if (m->cfg.max_concurrency && m->stats.in_flight >= (uint64_t)m->cfg.max_concurrency) {
        refuse_overload(c, &r);
        goto done;
    }
    mock_stats_enter(&m->stats);
    c->in_flight = 1;

    int64_t cost = mock_request_cost(&rq);
    struct mock_verdict v;
    mock_limits_admit(&m->limits, (int64_t)uv_now(m->loop), cost, &v);
    if (v.refused_by != MOCK_LIMIT_NONE) {
        refuse_rate(c, &r, &rq, &v, cost);
        goto done;
    }

    int fail_status;
    enum mock_fault f = mock_faults_pick(m->cfg.fault_rate, &m->rng, &fail_status);
    m->stats.faults[f]++;
    if (f == MOCK_FAULT_HANG) {
        c->wait = MOCK_WAIT_HANG; /* in flight until the client gives up and closes */
        goto done;
    }
    r.delay_ms = mock_latency_ms(&m->rng, m->cfg.latency_ms, m->cfg.jitter, m->cfg.ms_per_token,
                                 rq.completion_tokens);
    if (f == MOCK_FAULT_SLOW) {
        r.delay_ms *= MOCK_SLOW_FACTOR;
        if (r.delay_ms < MOCK_SLOW_MIN_MS)
            r.delay_ms = MOCK_SLOW_MIN_MS;
    }
    if (f == MOCK_FAULT_FAIL) {
        fail_reply(c, &r, fail_status);
        goto done;
    }
    r.reset = f == MOCK_FAULT_RESET;
    r.truncate = f == MOCK_FAULT_BAD_JSON;
    if (f == MOCK_FAULT_NONE || f == MOCK_FAULT_SLOW) {
        r.prompt = rq.prompt_tokens;
        r.completion = rq.completion_tokens;
    }
    m->scratch.len = 0;
    mock_answer_body(&rq, id, (int64_t)time(NULL), &m->scratch);
    finish(c, &r);
done:
    mock_request_release(&rq);
}
