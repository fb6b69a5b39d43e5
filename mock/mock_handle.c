/* What each request gets. The order of the checks is part of the mock's contract:
 *
 *   1. /mock/... admin requests (not counted in the stats)
 *   2. outage: every API request gets a 503 while POST /mock/outage is in force
 *   3. --auth-fail: every API request gets a 401
 *   4. a path the provider does not serve (mock_dialect_route) or a method other than
 *      POST: 404; body over MOCK_BODY_MAX: 413; body not JSON: 400
 *   5. concurrency: beyond --max-concurrency, a 429 (or --overload-status); beyond
 *      --concurrency-429, the dialect's concurrency 429
 *   6. --quota-after: once that many requests were admitted, the quota-exhausted answer
 *   7. --overloaded-rate: the dialect's overloaded answer, before the limits charge anything
 *   8. rate limits: --rpm, --tpm (and --itpm, --otpm), a 429 that charges nothing
 *   9. faults, drawn only for admitted requests (a refused request is never also faulted)
 *  10. the answer, after its latency.
 *
 * Errors up to 8 are immediate: a provider refuses at its door. The bodies and headers of
 * each dialect are mock_dialect.c's. Answers are built whole (head and body) into one
 * buffer, to go out in one write. */
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
    int v1;              /* an API answer: counted, and gets the rate-limit headers */
    int no_rate_headers; /* this answer has none in its dialect */
    int64_t retry_ms;    /* >= 0: retry-after; -1: none */
    int retry_ms_hdr;    /* and retry-after-ms */
    int should_retry;    /* x-should-retry: -1 not sent, 0 false, 1 true */
    double delay_ms;     /* > 0: held back by the connection's timer */
    int reset;           /* declare the whole body, send half of it, then close */
    int truncate;        /* send half the body, declared as the whole (bad JSON) */
    int64_t prompt;      /* tokens counted when the answer is a success */
    int64_t completion;  /* (both 0 otherwise) */
};

static const char *reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
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

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put_head(struct mock_conn *c, struct mock_buf *o, const struct reply *r,
                     size_t content_length) {
    struct mock *m = c->m;
    mock_buf_printf(o,
                    "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                    "content-length: %zu\r\nx-request-id: req_%s\r\n",
                    r->status, reason(r->status), content_length, r->id);
    if (m->cfg.provider == MOCK_ANTHROPIC)
        mock_buf_printf(o, "request-id: req_%s\r\n", r->id);
    if (r->v1 && !r->no_rate_headers && m->cfg.rate_headers)
        mock_dialect_rate_headers(m->cfg.provider, &m->limits, (int64_t)uv_now(m->loop),
                                  m->cfg.provider == MOCK_ANTHROPIC ? wall_ms() : 0, o);
    if (r->retry_ms >= 0) {
        mock_buf_printf(o, "retry-after: %lld\r\n", (long long)((r->retry_ms + 999) / 1000));
        if (r->retry_ms_hdr && m->cfg.rate_headers)
            mock_buf_printf(o, "retry-after-ms: %lld\r\n", (long long)r->retry_ms);
    }
    if (r->should_retry >= 0)
        mock_buf_printf(o, "x-should-retry: %s\r\n", r->should_retry ? "true" : "false");
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
    size_t declared = body->buf.len, sent = body->buf.len;
    if (r->reset)
        sent = body->buf.len / 2;
    if (r->truncate)
        declared = sent = body->buf.len / 2;
    if (body->failed) {
        c->close_after = 1; /* out of memory: better a closed connection than a lie */
        body->buf.len = 0;
        return;
    }
    uint64_t delay = r->delay_ms > 0 ? (uint64_t)llround(r->delay_ms) : 0;
    struct mock_buf *o = delay ? &c->later : &c->out;
    put_head(c, o, r, declared);
    mock_buf_append(o, body->buf.data, sent);
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
    if (!c->out.buf.len) {
        struct mock_buf t = c->out;
        c->out = c->later;
        c->later = t;
    } else {
        mock_buf_append(&c->out, c->later.buf.data, c->later.buf.len);
    }
    mock_buf_reset(&c->later, 64u << 10);
    if (c->later_reset)
        c->close_after = 1;
    count_sent(c, c->later_status, c->later_prompt, c->later_completion, 1);
}

/* Sends error `e` in the mock's dialect: its status, body and hints go into `r`. */
static void send_error(struct mock_conn *c, struct reply *r, struct mock_err *e) {
    struct mock *m = c->m;
    char rid[40];
    snprintf(rid, sizeof rid, "req_%s", r->id);
    e->request_id = rid;
    e->seq = ++m->error_seq;
    e->wall_ms = wall_ms();
    struct mock_err_head h;
    m->scratch.buf.len = 0;
    mock_dialect_error(m->cfg.provider, e, &h, &m->scratch);
    r->status = h.status;
    r->retry_ms = h.retry_after_ms;
    r->retry_ms_hdr = h.retry_after_ms_hdr;
    r->should_retry = h.should_retry;
    r->no_rate_headers = !h.rate_headers;
    finish(c, r);
}

/* An error every dialect words alike but for its shape: `oa_type` and `code` (may be NULL)
 * are OpenAI's, `an_type` Anthropic's. */
static void error_reply(struct mock_conn *c, struct reply *r, const char *oa_type, const char *code,
                        const char *an_type, const char *message) {
    struct mock_err e = {.kind = MOCK_ERR_PLAIN,
                         .status = r->status,
                         .message = message,
                         .oa_type = oa_type,
                         .oa_code = code,
                         .an_type = an_type};
    send_error(c, r, &e);
}

void mock_handle_bad_http(struct mock_conn *c, int status, const char *message) {
    char id[32];
    snprintf(id, sizeof id, "%08x%llx", c->m->id_prefix, (unsigned long long)++c->m->next_id);
    c->close_after = 1;
    struct reply r = {.status = status, .id = id, .retry_ms = -1, .should_retry = -1};
    error_reply(c, &r, "invalid_request_error", NULL, "invalid_request_error", message);
}

static void handle_admin(struct mock_conn *c, const char *path, size_t plen, const char *query,
                         struct reply *r) {
    struct mock *m = c->m;
    int method = c->parser.method;
    m->scratch.buf.len = 0;
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
                        const struct mock_verdict *v, int64_t input, int64_t output) {
    struct mock *m = c->m;
    const struct mock_budget *b[] = {&m->limits.requests, &m->limits.requests, &m->limits.tokens,
                                     &m->limits.input, &m->limits.output};
    const int64_t cost[] = {1, 1, input + output, input, output};
    unsigned k = (unsigned)v->refused_by % 5;
    /* --retry-after stands in for the wait in every hint, as a gateway's fixed header would;
     * a request too large ever to pass gets none. */
    int64_t wait_ms = m->cfg.retry_after_s >= 0 ? m->cfg.retry_after_s * 1000 : v->wait_ms;
    struct mock_err e = {.kind = v->too_large ? MOCK_ERR_TOO_LARGE : MOCK_ERR_RATE,
                         .budget = v->refused_by,
                         .limit = b[k]->limit,
                         .used = mock_budget_used(b[k], (int64_t)uv_now(m->loop)),
                         .asked = cost[k],
                         .wait_ms = wait_ms,
                         .model = rq->model,
                         .model_len = rq->model_len};
    send_error(c, r, &e);
}

static void refuse_overload(struct mock_conn *c, struct reply *r) {
    struct mock *m = c->m;
    char msg[256];
    r->status = m->cfg.overload_status;
    if (r->status == 429) {
        struct mock_err e = {.kind = MOCK_ERR_CONCURRENCY, .limit = m->cfg.max_concurrency};
        send_error(c, r, &e);
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
    struct reply r = {.status = 200, .id = id, .retry_ms = -1, .should_retry = -1};
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
    if (m->request_log) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        fprintf(m->request_log, "%lld %.*s\n", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
                (int)plen, path);
        fflush(m->request_log);
    }
    mock_stats_count_auth(&m->stats, c->auth);
    mock_stats_count_path(&m->stats, path, plen);
    int api = (plen >= 4 && memcmp(path, "/v1/", 4) == 0) ||
              (plen >= 8 && memcmp(path, "/v1beta/", 8) == 0) ||
              (plen >= 8 && memcmp(path, "/openai/", 8) == 0);
    if (api && (int64_t)uv_now(m->loop) < m->outage_until_ms) {
        m->stats.outage++;
        r.status = 503;
        error_reply(c, &r, "server_error", NULL, "overloaded_error",
                    "The service is unavailable (mock outage, POST /mock/outage). Please retry.");
        return;
    }
    if (api && m->cfg.auth_fail) {
        m->stats.auth++;
        struct mock_err e = {.kind = MOCK_ERR_AUTH};
        send_error(c, &r, &e);
        return;
    }
    enum mock_endpoint ep = MOCK_EP_NONE;
    if (c->parser.method == HTTP_POST && !c->url_too_long)
        ep = mock_dialect_route(m->cfg.provider, path, plen, query);
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
    if (mock_request_parse(&rq, ep, m->tok, c->body.buf.data, c->body.buf.len) < 0) {
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
    if (m->cfg.concurrency_429 && m->stats.in_flight >= (uint64_t)m->cfg.concurrency_429) {
        m->stats.concurrency_429++;
        struct mock_err e = {.kind = MOCK_ERR_CONCURRENCY, .limit = m->cfg.concurrency_429};
        send_error(c, &r, &e);
        goto done;
    }
    mock_stats_enter(&m->stats);
    c->in_flight = 1;

    if (m->cfg.quota_after >= 0 && m->admitted >= (uint64_t)m->cfg.quota_after) {
        m->stats.quota++;
        struct mock_err e = {.kind = MOCK_ERR_QUOTA,
                             .limit = m->cfg.quota_after,
                             .model = rq.model,
                             .model_len = rq.model_len};
        send_error(c, &r, &e);
        goto done;
    }
    /* Its own draw, and only when asked for, so that the fault sequence of a --seed stays
     * what it was without this option. */
    if (m->cfg.overloaded_rate > 0 && rng_uniform(&m->rng) < m->cfg.overloaded_rate) {
        m->stats.overloaded++;
        struct mock_err e = {.kind = MOCK_ERR_OVERLOADED};
        send_error(c, &r, &e);
        goto done;
    }

    int64_t input = rq.prompt_tokens, output = mock_request_cost(&rq) - rq.prompt_tokens;
    struct mock_verdict v;
    mock_limits_admit_io(&m->limits, (int64_t)uv_now(m->loop), input, output, &v);
    if (v.refused_by != MOCK_LIMIT_NONE) {
        refuse_rate(c, &r, &rq, &v, input, output);
        goto done;
    }
    m->admitted++;

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
    m->scratch.buf.len = 0;
    mock_answer_body(&rq, id, (int64_t)time(NULL), &m->scratch);
    finish(c, &r);
done:
    mock_request_release(&rq);
}
