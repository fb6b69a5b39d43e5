/*
 * The --metrics endpoint. One scrape is one connection: read the request head, answer GET
 * /metrics with the exposition (anything else 404), close. Prometheus scrapes every 15 s or
 * so, so there is nothing to gain from keep-alive, and closing keeps the state to one buffer.
 * Connections that say nothing must not use up the process's descriptors, which the API
 * requests need: at most METRICS_CLIENTS are open (a new one closes the oldest), and each is
 * closed METRICS_IDLE_MS after it came, answered or not.
 * Text format: https://prometheus.io/docs/instrumenting/exposition_formats/ (0.0.4).
 */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

#define METRICS_HEAD_MAX 8192 /* a request head longer than this is answered 431 */
#define METRICS_CLIENTS  16   /* scrapers at once; a scrape takes milliseconds */
#define METRICS_IDLE_MS  5000 /* a connection's whole life: reading, answering, writing */

static const double bounds[METRICS_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                               1,     2.5,  5,     10,   30,  60,   120};

void metrics_hist_observe(struct metrics_hist *h, double latency_ms) {
    double s = latency_ms / 1000.0;
    for (int i = 0; i < METRICS_BUCKETS; i++) {
        if (s <= bounds[i]) {
            h->bucket[i]++;
            break;
        }
    }
    h->count++; /* above the last bound: only in +Inf, which is the count */
    h->sum_s += s;
}

static void metric(FILE *f, const char *name, const char *type, const char *help) {
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_render(FILE *f, const sluice_stats_t *st, const struct metrics_hist *h,
                    const struct cost_view *cost) {
    metric(f, "sluice_requests_total", "counter", "Requests finished, by final outcome.");
    fprintf(f, "sluice_requests_total{outcome=\"succeeded\"} %llu\n",
            (unsigned long long)st->succeeded);
    fprintf(f, "sluice_requests_total{outcome=\"failed\"} %llu\n", (unsigned long long)st->failed);
    metric(f, "sluice_invalid_lines_total", "counter", "Input lines rejected before sending.");
    fprintf(f, "sluice_invalid_lines_total %llu\n", (unsigned long long)st->invalid);
    metric(f, "sluice_attempts_total", "counter", "HTTP attempts sent.");
    fprintf(f, "sluice_attempts_total %llu\n", (unsigned long long)st->attempts);
    metric(f, "sluice_retries_total", "counter", "Attempts beyond each request's first.");
    fprintf(f, "sluice_retries_total %llu\n", (unsigned long long)st->retries);
    metric(f, "sluice_rate_limited_total", "counter", "429 answers.");
    fprintf(f, "sluice_rate_limited_total %llu\n", (unsigned long long)st->rate_limited);
    metric(f, "sluice_tokens_total", "counter", "Tokens the provider reported, by kind.");
    fprintf(f, "sluice_tokens_total{kind=\"prompt\"} %llu\n", (unsigned long long)st->tokens_in);
    fprintf(f, "sluice_tokens_total{kind=\"completion\"} %llu\n",
            (unsigned long long)st->tokens_out);
    metric(f, "sluice_cost_usd_total", "counter",
           "USD spent, from reported usage at the configured prices.");
    fprintf(f, "sluice_cost_usd_total %.6f\n", cost ? cost->spent_usd : 0.0);
    metric(f, "sluice_in_flight", "gauge", "Attempts on the wire.");
    fprintf(f, "sluice_in_flight %llu\n", (unsigned long long)st->in_flight);
    metric(f, "sluice_slots", "gauge", "Request slots: the most attempts in flight allowed now.");
    fprintf(f, "sluice_slots %d\n", st->concurrency);
    metric(f, "sluice_waiting", "gauge", "Requests waiting for their retry time.");
    fprintf(f, "sluice_waiting %llu\n", (unsigned long long)st->waiting);
    metric(f, "sluice_rpm_limit", "gauge", "Request budget paced to, per minute (0: none).");
    fprintf(f, "sluice_rpm_limit %.1f\n", st->rpm_limit);
    metric(f, "sluice_tpm_limit", "gauge", "Token budget paced to, per minute (0: none).");
    fprintf(f, "sluice_tpm_limit %.1f\n", st->tpm_limit);
    metric(f, "sluice_attempt_duration_seconds", "histogram",
           "Time on the wire of each attempt that ended.");
    uint64_t cum = 0;
    for (int i = 0; i < METRICS_BUCKETS; i++) {
        cum += h->bucket[i];
        fprintf(f, "sluice_attempt_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[i],
                (unsigned long long)cum);
    }
    fprintf(f, "sluice_attempt_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
            (unsigned long long)h->count);
    fprintf(f, "sluice_attempt_duration_seconds_sum %.6f\n", h->sum_s);
    fprintf(f, "sluice_attempt_duration_seconds_count %llu\n", (unsigned long long)h->count);
}

struct client {
    uv_tcp_t tcp;
    struct metrics *m;
    struct client *prev, *next;
    uv_write_t wr;
    char head[METRICS_HEAD_MAX];
    size_t len;
    char *out; /* the whole answer, from open_memstream */
    size_t out_len;
    int answered;
    uint64_t since; /* uv_now() when it came */
};

struct metrics {
    uv_tcp_t server;
    sluice_t *eng;
    const struct cost *cost;
    struct metrics_hist hist;
    struct client *clients; /* the newest first */
    int n_clients;          /* clients not yet closing */
    uv_timer_t idle;        /* closes clients past METRICS_IDLE_MS */
    int open;               /* handles not yet closed */
    int closing;
    int port;
};

static void metrics_unhold(struct metrics *m) {
    if (--m->open == 0 && m->closing)
        free(m);
}

static void on_client_closed(uv_handle_t *h) {
    struct client *c = h->data;
    struct metrics *m = c->m;
    if (c->prev)
        c->prev->next = c->next;
    else
        m->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->out);
    free(c);
    metrics_unhold(m);
}

static void client_close(struct client *c) {
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) {
        c->m->n_clients--;
        uv_close((uv_handle_t *)&c->tcp, on_client_closed);
    }
}

/* Once a second: clients that have had their time go, whatever they are doing. */
static void on_idle_check(uv_timer_t *t) {
    struct metrics *m = t->data;
    uint64_t now = uv_now(t->loop);
    for (struct client *c = m->clients; c; c = c->next)
        if (now - c->since >= METRICS_IDLE_MS)
            client_close(c);
}

/* Room for one more client: the oldest one still open goes when all are taken. */
static void clients_make_room(struct metrics *m) {
    if (m->n_clients < METRICS_CLIENTS)
        return;
    struct client *oldest = NULL;
    for (struct client *c = m->clients; c; c = c->next)
        if (!uv_is_closing((uv_handle_t *)&c->tcp))
            oldest = c;
    if (oldest)
        client_close(oldest);
}

static void on_written(uv_write_t *w, int status) {
    (void)status;
    client_close(w->data);
}

/* Builds the whole answer for a request head and writes it. */
static void client_answer(struct client *c) {
    const char *status = "404 Not Found";
    char *body = NULL;
    size_t body_len = 0;
    FILE *f = open_memstream(&body, &body_len);
    if (!f) {
        client_close(c);
        return;
    }
    if (c->len >= METRICS_HEAD_MAX) {
        status = "431 Request Header Fields Too Large";
        fputs("request head too long\n", f);
    } else if (strncmp(c->head, "GET /metrics", 12) == 0 && strchr(" ?", c->head[12])) {
        sluice_stats_t st;
        struct cost_view cv;
        sluice_stats(c->m->eng, &st);
        if (c->m->cost)
            cost_view(c->m->cost, &cv);
        metrics_render(f, &st, &c->m->hist, c->m->cost ? &cv : NULL);
        status = "200 OK";
    } else {
        fputs("sluice serves GET /metrics only\n", f);
    }
    if (fclose(f) != 0) {
        free(body);
        client_close(c);
        return;
    }
    FILE *o = open_memstream(&c->out, &c->out_len);
    if (!o) {
        free(body);
        client_close(c);
        return;
    }
    fprintf(o,
            "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n",
            status, body_len);
    fwrite(body, 1, body_len, o);
    free(body);
    if (fclose(o) != 0) {
        client_close(c);
        return;
    }
    c->answered = 1;
    uv_buf_t b = uv_buf_init(c->out, (unsigned)c->out_len);
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
        client_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    struct client *c = h->data;
    (void)suggested;
    /* One byte is kept for the NUL that lets the head be searched as a string. */
    size_t room = METRICS_HEAD_MAX - 1 - c->len;
    *buf = uv_buf_init(c->head + c->len, (unsigned)room);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    struct client *c = s->data;
    (void)buf;
    if (n < 0) {
        client_close(c);
        return;
    }
    if (c->answered)
        return;
    c->len += (size_t)n;
    c->head[c->len] = '\0';
    if (strstr(c->head, "\r\n\r\n") || strstr(c->head, "\n\n")) {
        uv_read_stop(s);
        client_answer(c);
    } else if (c->len >= METRICS_HEAD_MAX - 1) {
        c->len = METRICS_HEAD_MAX;
        uv_read_stop(s);
        client_answer(c);
    }
}

static void on_connection(uv_stream_t *server, int status) {
    struct metrics *m = server->data;
    if (status < 0 || m->closing)
        return;
    clients_make_room(m);
    struct client *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->m = m;
    c->since = uv_now(server->loop);
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    uv_unref((uv_handle_t *)&c->tcp);
    m->open++;
    m->n_clients++;
    c->next = m->clients;
    if (m->clients)
        m->clients->prev = c;
    m->clients = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        client_close(c);
}

static void on_handle_closed(uv_handle_t *h) {
    metrics_unhold(h->data);
}

int metrics_start(struct metrics **out, uv_loop_t *loop, const char *hostport, sluice_t *eng,
                  const struct cost *cost, char *err, size_t errlen) {
    char host[64];
    const char *colon = strrchr(hostport, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof(host) ||
        end == colon + 1 || *end || port < 0 || port > 65535) {
        snprintf(err, errlen, "--metrics expects HOST:PORT such as 127.0.0.1:9090, got '%s'",
                 hostport);
        return -1;
    }
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    struct sockaddr_in addr;
    if (uv_ip4_addr(host, (int)port, &addr) != 0) {
        snprintf(err, errlen, "--metrics: '%s' is not an IPv4 address", host);
        return -1;
    }
    struct metrics *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    m->eng = eng;
    m->cost = cost;
    uv_tcp_init(loop, &m->server);
    m->server.data = m;
    m->open = 1;
    int rc = uv_tcp_bind(&m->server, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&m->server, 16, on_connection);
    if (rc != 0) {
        snprintf(err, errlen, "--metrics: cannot listen on %s: %s", hostport, uv_strerror(rc));
        metrics_close(m);
        return -1;
    }
    struct sockaddr_in bound;
    int len = sizeof(bound);
    if (uv_tcp_getsockname(&m->server, (struct sockaddr *)&bound, &len) == 0)
        m->port = ntohs(bound.sin_port);
    uv_unref((uv_handle_t *)&m->server);
    uv_timer_init(loop, &m->idle);
    m->idle.data = m;
    m->open++;
    uv_timer_start(&m->idle, on_idle_check, 1000, 1000);
    uv_unref((uv_handle_t *)&m->idle);
    *out = m;
    return 0;
}

int metrics_port(const struct metrics *m) {
    return m->port;
}

void metrics_observe(struct metrics *m, const sluice_attempt_t *a) {
    metrics_hist_observe(&m->hist, a->latency_ms);
}

void metrics_close(struct metrics *m) {
    if (!m || m->closing)
        return;
    m->closing = 1;
    for (struct client *c = m->clients; c; c = c->next)
        client_close(c);
    if (m->idle.data == m) /* started (metrics_start may fail before) */
        uv_close((uv_handle_t *)&m->idle, on_handle_closed);
    uv_close((uv_handle_t *)&m->server, on_handle_closed);
}
