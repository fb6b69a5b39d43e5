/*
 * The public lifecycle: configuration defaults, errors in words, creating, running, observing
 * and freeing an engine. Scheduling itself is in engine.c.
 */
#include <limits.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

const char *sluice_version(void) {
    return SLUICE_VERSION_STRING;
}

const char *sluice_strerror(int err) {
    switch (err) {
    case SLUICE_OK:
        return "success";
#define SLUICE_XX(name, code, words)                                                               \
    case SLUICE_##name:                                                                            \
        return words;
        SLUICE_ERRNO_MAP(SLUICE_XX)
#undef SLUICE_XX
    default:
        return "unknown error";
    }
}

const char *sluice_err_name(int err) {
    switch (err) {
    case SLUICE_OK:
        return "OK";
#define SLUICE_XX(name, code, words)                                                               \
    case SLUICE_##name:                                                                            \
        return #name;
        SLUICE_ERRNO_MAP(SLUICE_XX)
#undef SLUICE_XX
    default:
        return "UNKNOWN";
    }
}

int sluice_provider_parse(const char *name, sluice_provider_t *out) {
    static const struct {
        const char *name;
        sluice_provider_t p;
    } names[] = {{"openai", SLUICE_PROVIDER_OPENAI},
                 {"azure", SLUICE_PROVIDER_AZURE},
                 {"anthropic", SLUICE_PROVIDER_ANTHROPIC},
                 {"none", SLUICE_PROVIDER_NONE},
                 {"gemini", SLUICE_PROVIDER_GEMINI}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].p;
            return 0;
        }
    }
    return SLUICE_EINVAL;
}

void sluice_config_init(sluice_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->base_url = "https://api.openai.com";
    cfg->provider = SLUICE_PROVIDER_OPENAI;
    cfg->concurrency = 64;
    cfg->max_attempts = 8;
    cfg->timeout_s = 600;
    cfg->connect_timeout_s = 10;
    cfg->backoff_base_s = 1;
    cfg->backoff_cap_s = 60;
    cfg->burst_s = 0;
    cfg->give_up_after_s = 900;
    cfg->connect_grace_s = 10;
    cfg->max_retry_after_s = 600;
    cfg->max_response_bytes = (size_t)64 << 20;
    cfg->http_fastpath = 1;
}

static int headers_build(struct sluice_s *s, const sluice_config_t *cfg) {
    char line[1024];
    struct curl_slist *h = NULL, *n;
    int have_version = 0;
    for (size_t i = 0; i < cfg->n_headers; i++)
        if (strncasecmp(cfg->headers[i], "anthropic-version:", 18) == 0)
            have_version = 1;
#define ADD(str)                                                                                   \
    do {                                                                                           \
        if (!(n = curl_slist_append(h, (str))))                                                    \
            goto fail;                                                                             \
        h = n;                                                                                     \
    } while (0)
    ADD("Content-Type: application/json");
    ADD("Accept: application/json");
    /* No "Expect: 100-continue" round trip before large bodies: APIs answer at once. */
    ADD("Expect:");
    snprintf(line, sizeof(line), "User-Agent: sluice/%s", sluice_version());
    ADD(line);
    if (cfg->api_key && cfg->api_key[0]) {
        const char *fmt = NULL;
        switch (cfg->provider) {
        case SLUICE_PROVIDER_OPENAI:
        case SLUICE_PROVIDER_GEMINI:
            fmt = "Authorization: Bearer ";
            break;
        case SLUICE_PROVIDER_AZURE:
            fmt = "api-key: ";
            break;
        case SLUICE_PROVIDER_ANTHROPIC:
            fmt = "x-api-key: ";
            break;
        case SLUICE_PROVIDER_NONE:
            break;
        }
        if (fmt) {
            size_t fl = strlen(fmt), kl = strlen(cfg->api_key);
            char *a = malloc(fl + kl + 1);
            if (!a)
                goto fail;
            memcpy(a, fmt, fl);
            memcpy(a + fl, cfg->api_key, kl + 1);
            n = curl_slist_append(h, a);
            /* The key lives only in curl's list; scrub our copy. */
            memset(a, 0, fl + kl);
            free(a);
            if (!n)
                goto fail;
            h = n;
        }
    }
    if (cfg->provider == SLUICE_PROVIDER_ANTHROPIC && !have_version)
        ADD("anthropic-version: 2023-06-01");
    for (size_t i = 0; i < cfg->n_headers; i++)
        ADD(cfg->headers[i]);
#undef ADD
    s->headers = h;
    return 0;
fail:
    curl_slist_free_all(h);
    return SLUICE_ENOMEM;
}

static void on_handle_closed(uv_handle_t *h) {
    struct sluice_s *s = h->data;
    s->closing--;
}

/* The scheduler's policies from cfg: slots and the slow start, retries and their backoff, the
   pacer, the breaker, the reach grace and the retry budget. */
static void engine_policies_init(struct sluice_s *s, const sluice_config_t *cfg, int64_t now) {
    s->limit = cfg->concurrency;
    s->limit_max = cfg->concurrency;
    s->ss_slots = cfg->rpm > 0 || cfg->tpm > 0 ? INT_MAX : SLOW_START_SLOTS;
    s->ss_doubled_ms = now;
    s->max_retry_after_ms = (int64_t)(cfg->max_retry_after_s * 1000);
    s->max_response_bytes = cfg->max_response_bytes;
    if (cfg->concurrency_auto) {
        s->auto_conc = 1;
        concurrency_init(&s->adapt, 16, 1, cfg->concurrency, now);
        s->limit = concurrency_limit(&s->adapt);
    }
    /* Read-ahead: room for requests waiting on a retry without starving new ones. */
    s->readahead = cfg->concurrency / 4 > 16 ? cfg->concurrency / 4 : 16;
    s->max_attempts = cfg->max_attempts;
    s->backoff_base_ms = (int64_t)(cfg->backoff_base_s * 1000);
    s->backoff_cap_ms = (int64_t)(cfg->backoff_cap_s * 1000);
    rng_seed(&s->rng, cfg->seed ? cfg->seed : uv_hrtime());
    pacer_init(&s->pacer, cfg->rpm, cfg->tpm, now);
    struct breaker_config bc;
    breaker_config_init(&bc);
    bc.give_up_after_ms = (int64_t)(cfg->give_up_after_s * 1000);
    /* Failures (a 529, a refused connection) come back in milliseconds while successes take
       the model's time, so the first outcomes after a burst are mostly failures even when
       only a fifth fail. A wider window and a larger minimum see past that head start. */
    bc.window = BREAKER_WINDOW_MAX;
    bc.min_attempts = 20;
    breaker_init(&s->br, &bc);
    reach_init(&s->reach, (int64_t)(cfg->connect_grace_s * 1000));
    /* Room for every slot to fail at once (one dropped HTTP/2 connection) and still retry. */
    retry_budget_init(&s->rb,
                      2 * cfg->concurrency > RETRY_BUDGET_DEFAULT_MAX_TOKENS
                          ? 2 * cfg->concurrency
                          : RETRY_BUDGET_DEFAULT_MAX_TOKENS,
                      RETRY_BUDGET_DEFAULT_RATIO);
}

int sluice_new(sluice_t **out, const sluice_config_t *cfg, uv_loop_t *loop) {
    if (!out || !cfg || !cfg->base_url || cfg->concurrency < 1 || cfg->max_attempts < 1 ||
        cfg->max_response_bytes < 1)
        return SLUICE_EINVAL;
    static int curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return SLUICE_ECURL;
        curl_ready = 1;
    }
    int rc = SLUICE_ENOMEM;
    struct sluice_s *s = calloc(1, sizeof(*s));
    if (!s)
        return SLUICE_ENOMEM;
    if (!loop) {
        loop = malloc(sizeof(*loop));
        if (!loop)
            goto fail;
        if (uv_loop_init(loop) != 0) {
            free(loop);
            rc = SLUICE_EUV;
            goto fail;
        }
        s->own_loop = 1;
    }
    s->loop = loop;
    s->base_url = strdup(cfg->base_url);
    if (!s->base_url)
        goto fail_loop;
    if ((rc = headers_build(s, cfg)) < 0)
        goto fail_loop;
    engine_policies_init(s, cfg, (int64_t)uv_now(loop));
    struct transport_opts to = {
        .timeout_ms = (long)(cfg->timeout_s * 1000),
        .connect_timeout_ms = (long)(cfg->connect_timeout_s * 1000),
        .cacert = cfg->cacert,
        .insecure = cfg->insecure,
        .max_connections = cfg->concurrency,
        .max_body = cfg->max_response_bytes,
        .fastpath = cfg->http_fastpath,
    };
    s->lim = limiter_local_new(s->pacer.rpm, s->pacer.tpm, cfg->burst_s, (int64_t)uv_now(loop));
    if (!s->lim)
        goto fail_headers;
    s->lim->wake = engine_wake;
    s->lim->wake_ud = s;
    if ((rc = transport_new(&s->tr, loop, &to, engine_on_done, s)) < 0)
        goto fail_lim;
    uv_timer_init(loop, &s->wake);
    s->wake.data = s;
    *out = s;
    return 0;
fail_lim:
    s->lim->ops->free(s->lim);
fail_headers:
    curl_slist_free_all(s->headers);
fail_loop:
    free(s->base_url);
    if (s->own_loop) {
        uv_loop_close(loop);
        free(loop);
    }
fail:
    free(s);
    return rc;
}

int sluice_set_limiter(sluice_t *s, sluice_limiter_t *lim) {
    if (!lim || !lim->ops)
        return SLUICE_EINVAL;
    if (!s || s->running) {
        lim->ops->free(lim);
        return SLUICE_EINVAL;
    }
    s->lim->ops->free(s->lim);
    s->lim = lim;
    lim->wake = engine_wake;
    lim->wake_ud = s;
    return 0;
}

int sluice_set_source(sluice_t *s, const sluice_source_t *src) {
    if (!s || !src || !src->next || !src->release)
        return SLUICE_EINVAL;
    s->src = *src;
    return 0;
}

int sluice_set_result_cb(sluice_t *s, sluice_result_cb cb, void *ud) {
    if (!s || !cb)
        return SLUICE_EINVAL;
    s->cb = cb;
    s->cb_ud = ud;
    return 0;
}

int sluice_set_attempt_cb(sluice_t *s, sluice_attempt_cb cb, void *ud) {
    if (!s)
        return SLUICE_EINVAL;
    s->attempt_cb = cb;
    s->attempt_ud = ud;
    return 0;
}

int sluice_set_admit_cb(sluice_t *s, sluice_admit_cb cb, void *ud) {
    if (!s)
        return SLUICE_EINVAL;
    s->admit_cb = cb;
    s->admit_ud = ud;
    return 0;
}

void sluice_source_ready(sluice_t *s) {
    s->src_wait = 0;
    engine_dispatch(s);
}

void sluice_hold_until_written(sluice_t *s, int on) {
    s->hold_unwritten = on != 0;
}

void sluice_results_written(sluice_t *s, size_t n) {
    if (!s->hold_unwritten || n == 0)
        return;
    engine_on_written(s, n);
    engine_dispatch(s);
}

int sluice_run(sluice_t *s) {
    if (!s || !s->src.next || !s->cb || s->running)
        return SLUICE_EINVAL;
    s->running = 1;
    s->started_ns = uv_hrtime();
    engine_dispatch(s);
    /* uv_run returns when the engine calls uv_stop(), or when someone else does: go on until
       the engine is finished. */
    while (!s->finished)
        uv_run(s->loop, UV_RUN_DEFAULT);
    s->st.wall_s = (double)(uv_hrtime() - s->started_ns) / 1e9;
    s->running = 0;
    if (s->err)
        return s->err;
    return s->stopped != SLUICE_STOPPED_NONE ? SLUICE_ESTOPPED : 0;
}

sluice_stopped_t sluice_stopped(const sluice_t *s, const char **detail) {
    if (detail)
        *detail = s->stop_detail[0] ? s->stop_detail : NULL;
    return s->stopped;
}

void sluice_stats(const sluice_t *s, sluice_stats_t *out) {
    *out = s->st;
    out->in_flight = (uint64_t)s->in_flight;
    out->est_tokens_in_flight = (uint64_t)s->est_in_flight;
    out->waiting = s->heap_len;
    out->concurrency = s->limit;
    out->latency_p50_ms = hist_quantile(&s->latency, 0.50);
    out->latency_p90_ms = hist_quantile(&s->latency, 0.90);
    out->latency_p99_ms = hist_quantile(&s->latency, 0.99);
    out->latency_max_ms = s->latency.max_ms;
    static const char *const sources[] = {"none", "told", "headers", "learned"};
    out->breaker_trips = breaker_trips(&s->br);
    out->breaker_open = breaker_state(&s->br, (int64_t)uv_now(s->loop)) != BREAKER_CLOSED;
    out->rpm_limit = s->pacer.rpm;
    out->tpm_limit = s->pacer.tpm;
    if (s->lim->ops->rates)
        s->lim->ops->rates(s->lim, &out->rpm_limit, &out->tpm_limit);
    out->rate_source = sources[s->pacer.rpm_source > s->pacer.tpm_source ? s->pacer.rpm_source
                                                                         : s->pacer.tpm_source];
    if (s->running)
        out->wall_s = (double)(uv_hrtime() - s->started_ns) / 1e9;
}

uv_loop_t *sluice_loop(sluice_t *s) {
    return s->loop;
}

void sluice_free(sluice_t *s) {
    if (!s)
        return;
    /* Whatever is still held goes back to the source without a result. */
    for (struct task *j = s->all_tasks; j; j = j->all_next) {
        if (j->in_flight)
            transport_cancel(s->tr, &j->x);
        if (j->live)
            s->src.release(s->src.ud, j->req);
    }
    transport_free(s->tr);
    s->closing = 1;
    uv_close((uv_handle_t *)&s->wake, on_handle_closed);
    while (s->closing > 0)
        uv_run(s->loop, UV_RUN_NOWAIT);
    if (s->own_loop) {
        uv_run(s->loop, UV_RUN_DEFAULT);
        uv_loop_close(s->loop);
        free(s->loop);
    }
    struct task *j = s->all_tasks;
    while (j) {
        struct task *n = j->all_next;
        xfer_release(&j->x);
        free(j->url);
        free(j);
        j = n;
    }
    free(s->heap);
    free(s->held);
    s->lim->ops->free(s->lim);
    curl_slist_free_all(s->headers);
    free(s->base_url);
    free(s);
}
