/*
 * The plain-HTTP/1.1 fast path. Its URL and proxy rules, and the promise that the engine sees
 * the same thing whichever client sent an attempt: each scenario runs against a scripted server
 * on the test's own loop twice, through libcurl (fastpath 0) and through h1.c (fastpath 1), and
 * the xfers must agree (status, headers the classifier read, body, transport outcome), as must
 * the requests the server saw.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "http/h1.h"
#include "http/transport.h"

/* ---- pure helpers ---- */

static void test_parse_url(void **state) {
    (void)state;
    struct h1_origin o;
    assert_int_equal(h1_parse_url("http://127.0.0.1:8080/v1/chat?x=1#frag", &o), 0);
    assert_string_equal(o.host, "127.0.0.1");
    assert_int_equal(o.port, 8080);
    assert_int_equal(o.authority_len, strlen("http://127.0.0.1:8080"));
    assert_int_equal(o.path_len, strlen("/v1/chat?x=1"));
    assert_int_equal(h1_parse_url("HTTP://Example.com", &o), 0);
    assert_string_equal(o.host, "Example.com");
    assert_int_equal(o.port, 80);
    assert_int_equal(o.path_len, 0);
    assert_int_equal(h1_parse_url("http://[::1]:9/a", &o), 0);
    assert_string_equal(o.host, "::1");
    assert_int_equal(o.port, 9);
    /* curl's: TLS, user info, bad ports, bytes that would need escaping */
    assert_int_equal(h1_parse_url("https://api.openai.com/v1", &o), -1);
    assert_int_equal(h1_parse_url("http://user:pw@host/v1", &o), -1);
    assert_int_equal(h1_parse_url("http://host:0/", &o), -1);
    assert_int_equal(h1_parse_url("http://host:70000/", &o), -1);
    assert_int_equal(h1_parse_url("http://host:8x/", &o), -1);
    assert_int_equal(h1_parse_url("http://host/a b", &o), -1);
    assert_int_equal(h1_parse_url("http:///path", &o), -1);
}

static void test_no_proxy(void **state) {
    (void)state;
    assert_true(h1_no_proxy_match("*", "api.example.com"));
    assert_true(h1_no_proxy_match("localhost, 127.0.0.1", "127.0.0.1"));
    assert_true(h1_no_proxy_match("example.com", "api.example.com"));
    assert_true(h1_no_proxy_match(".example.com", "api.example.com"));
    assert_true(h1_no_proxy_match("EXAMPLE.com", "example.COM."));
    assert_false(h1_no_proxy_match("example.com", "badexample.com"));
    assert_false(h1_no_proxy_match("other.com,", "example.com"));
    /* beyond the simple rules: no exemption here, so curl (which knows them) decides */
    assert_false(h1_no_proxy_match("127.0.0.0/8", "127.0.0.1"));
    assert_false(h1_no_proxy_match("127.0.0.1:8080", "127.0.0.1"));
}

static void test_proxy_applies(void **state) {
    (void)state;
    static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "all_proxy",
                                       "ALL_PROXY",  "no_proxy",   "NO_PROXY"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    assert_false(h1_proxy_applies("127.0.0.1"));
    setenv("HTTP_PROXY", "http://proxy:3128", 1);
    assert_true(h1_proxy_applies("127.0.0.1"));
    setenv("NO_PROXY", "127.0.0.1", 1);
    assert_false(h1_proxy_applies("127.0.0.1"));
    assert_true(h1_proxy_applies("api.example.com"));
    unsetenv("HTTP_PROXY");
    unsetenv("NO_PROXY");
    setenv("all_proxy", "socks5://proxy", 1);
    assert_true(h1_proxy_applies("127.0.0.1"));
    unsetenv("all_proxy");
}

/* ---- a scripted server on the test's loop ---- */

enum srv_mode {
    SRV_ANSWER,  /* write `answer` after each request */
    SRV_NOTHING, /* close the connection when a request is in, with no answer */
    SRV_HANG     /* never answer */
};

struct srv {
    uv_tcp_t listener;
    int port;
    enum srv_mode mode;
    const char *answer;
    int close_after; /* close the connection once the answer is written */
    int conns, requests;
    char first_head[2048]; /* the first request's line and headers */
    char last_line[256];   /* the last request's request line */
};

struct srv_conn {
    uv_tcp_t tcp;
    uv_write_t w;
    struct srv *s;
    char buf[8192];
    size_t len;
};

static void srv_conn_closed(uv_handle_t *h) {
    free(h->data);
}

static void srv_close(struct srv_conn *sc) {
    if (!uv_is_closing((uv_handle_t *)&sc->tcp))
        uv_close((uv_handle_t *)&sc->tcp, srv_conn_closed);
}

static void srv_on_write(uv_write_t *w, int status) {
    struct srv_conn *sc = w->data;
    (void)status;
    if (sc->s->close_after)
        srv_close(sc);
}

static void srv_alloc(uv_handle_t *h, size_t sug, uv_buf_t *b) {
    struct srv_conn *sc = h->data;
    (void)sug;
    *b = uv_buf_init(sc->buf + sc->len, (unsigned)(sizeof(sc->buf) - sc->len));
}

/* Takes whole requests (head + Content-Length body) off the buffer and acts on each. */
static void srv_on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
    struct srv_conn *sc = st->data;
    struct srv *s = sc->s;
    (void)b;
    if (n < 0) {
        srv_close(sc);
        return;
    }
    sc->len += (size_t)n;
    for (;;) {
        char *end = memmem(sc->buf, sc->len, "\r\n\r\n", 4);
        if (!end)
            return;
        size_t head = (size_t)(end - sc->buf) + 4, clen = 0;
        char *cl = memmem(sc->buf, head, "\ncontent-length:", 16);
        if (!cl)
            cl = memmem(sc->buf, head, "\nContent-Length:", 16);
        if (cl)
            clen = strtoul(cl + 16, NULL, 10);
        if (sc->len < head + clen)
            return;
        if (s->requests++ == 0)
            snprintf(s->first_head, sizeof(s->first_head), "%.*s", (int)head, sc->buf);
        snprintf(s->last_line, sizeof(s->last_line), "%.*s",
                 (int)(strstr(sc->buf, "\r\n") - sc->buf), sc->buf);
        memmove(sc->buf, sc->buf + head + clen, sc->len - head - clen);
        sc->len -= head + clen;
        if (s->mode == SRV_NOTHING) {
            srv_close(sc);
            return;
        }
        if (s->mode == SRV_ANSWER) {
            uv_buf_t a = uv_buf_init((char *)s->answer, (unsigned)strlen(s->answer));
            uv_write(&sc->w, st, &a, 1, srv_on_write);
        }
    }
}

static void srv_on_conn(uv_stream_t *l, int status) {
    struct srv *s = l->data;
    assert_int_equal(status, 0);
    struct srv_conn *sc = calloc(1, sizeof(*sc));
    sc->s = s;
    uv_tcp_init(l->loop, &sc->tcp);
    sc->tcp.data = sc->w.data = sc;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&sc->tcp), 0);
    s->conns++;
    uv_read_start((uv_stream_t *)&sc->tcp, srv_alloc, srv_on_read);
}

static void srv_start(uv_loop_t *loop, struct srv *s) {
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    assert_int_equal(uv_tcp_bind(&s->listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 64, srv_on_conn), 0);
    int len = sizeof(a);
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
}

/* ---- running one scenario through one client ---- */

struct run {
    struct xfer x[2];
    int done;
    int want;  /* attempts to wait for */
    int chain; /* send the second attempt from the first one's done callback */
    struct transport *t;
    char url[128];
    struct curl_slist *hdrs;
};

static void on_done(struct xfer *x, void *ud) {
    struct run *r = ud;
    (void)x;
    r->done++;
    if (r->chain && r->done == 1)
        assert_int_equal(transport_send(r->t, &r->x[1], "POST", r->url, "{\"b\":2}", 7, r->hdrs),
                         0);
}

/* Closes what the server left open (the client's handles are closing already). */
static void on_walk_close(uv_handle_t *h, void *arg) {
    struct srv *s = arg;
    if (uv_is_closing(h))
        return;
    uv_close(h, h == (uv_handle_t *)&s->listener ? NULL : srv_conn_closed);
}

/* Runs `n` attempts (the second chained from the first's end when `chain`), until all are
   done or `ms` pass; fills r. The server's conns/requests counters tell the rest. */
static void run_once(struct run *r, struct srv *s, int fastpath, int n, int chain, long timeout_ms,
                     size_t max_body) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    srv_start(&loop, s);
    memset(r, 0, sizeof(*r));
    r->want = n;
    r->chain = chain;
    struct transport_opts o = {.timeout_ms = timeout_ms,
                               .connect_timeout_ms = 2000,
                               .max_connections = 4,
                               .max_body = max_body,
                               .fastpath = fastpath};
    assert_int_equal(transport_new(&r->t, &loop, &o, on_done, r), 0);
    r->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    r->hdrs = curl_slist_append(r->hdrs, "Expect:");
    r->hdrs = curl_slist_append(r->hdrs, "X-Test: 1");
    snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/v1/x", s->port);
    assert_int_equal(transport_send(r->t, &r->x[0], "POST", r->url, "{\"a\":1}", 7, r->hdrs), 0);
    if (n > 1 && !chain)
        assert_int_equal(transport_send(r->t, &r->x[1], "POST", r->url, "{\"b\":2}", 7, r->hdrs),
                         0);
    uint64_t t0 = uv_hrtime();
    while (r->done < r->want && uv_hrtime() - t0 < 5000000000ull)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(r->done, r->want);
    transport_free(r->t);
    curl_slist_free_all(r->hdrs);
    uv_walk(&loop, on_walk_close, s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void run_free(struct run *r) {
    for (int i = 0; i < 2; i++)
        xfer_release(&r->x[i]);
}

/* Header lines of a request head, sorted, with the port-dependent Host line dropped. */
static void head_lines(const char *head, char *out, size_t n) {
    char lines[32][256];
    int k = 0;
    const char *p = strstr(head, "\r\n");
    while (p && k < 32) {
        p += 2;
        const char *e = strstr(p, "\r\n");
        if (!e || e == p)
            break;
        if (strncasecmp(p, "host:", 5) != 0)
            snprintf(lines[k++], sizeof(lines[0]), "%.*s", (int)(e - p), p);
        p = e;
    }
    qsort(lines, (size_t)k, sizeof(lines[0]), (int (*)(const void *, const void *))strcmp);
    out[0] = '\0';
    for (int i = 0; i < k; i++) {
        strncat(out, lines[i], n - strlen(out) - 1);
        strncat(out, "|", n - strlen(out) - 1);
    }
}

/* The two clients gave the engine the same thing. */
static void assert_same(const struct xfer *a, const struct xfer *b) {
    assert_int_equal(a->tr, b->tr);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->body_is_json_type, b->body_is_json_type);
    assert_int_equal(a->body_len, b->body_len);
    if (a->body_len)
        assert_memory_equal(a->body, b->body, a->body_len);
    assert_string_equal(a->hdrs.request_id, b->hdrs.request_id);
    assert_int_equal(a->hdrs.retry_after_ms, b->hdrs.retry_after_ms);
    assert_int_equal(a->hdrs.should_retry, b->hdrs.should_retry);
    assert_int_equal(a->hdrs.remaining_requests, b->hdrs.remaining_requests);
    assert_int_equal(a->tr == TRANSPORT_OK, a->err[0] == '\0');
    assert_int_equal(b->tr == TRANSPORT_OK, b->err[0] == '\0');
}

/* One scenario through both clients; returns the fast path's run in *fast (curl's in *ref). */
static void both(struct srv *tmpl, int n, int chain, long timeout_ms, size_t max_body,
                 struct run *ref, struct srv *sref, struct run *fast, struct srv *sfast) {
    *sref = *tmpl;
    *sfast = *tmpl;
    run_once(ref, sref, 0, n, chain, timeout_ms, max_body);
    run_once(fast, sfast, 1, n, chain, timeout_ms, max_body);
    for (int i = 0; i < n; i++)
        assert_same(&ref->x[i], &fast->x[i]);
    assert_int_equal(sref->requests, sfast->requests);
    if (sref->requests) {
        char a[2048], b[2048];
        head_lines(sref->first_head, a, sizeof(a));
        head_lines(sfast->first_head, b, sizeof(b));
        assert_string_equal(a, b);
        assert_memory_equal(sref->first_head, sfast->first_head,
                            strchr(sref->first_head, '\r') - sref->first_head);
    }
}

static const char JSON_ANSWER[] = "HTTP/1.1 200 OK\r\n"
                                  "Content-Type: application/json\r\n"
                                  "x-request-id: req_abc\r\n"
                                  "x-ratelimit-remaining-requests: 41\r\n"
                                  "Content-Length: 11\r\n"
                                  "\r\n"
                                  "{\"ok\":true}";

static void test_same_as_curl_content_length(void **state) {
    (void)state;
    struct srv t = {.mode = SRV_ANSWER, .answer = JSON_ANSWER};
    struct run ref, fast;
    struct srv sref, sfast;
    both(&t, 2, 1, 5000, 0, &ref, &sref, &fast, &sfast);
    assert_int_equal(fast.x[0].tr, TRANSPORT_OK);
    assert_int_equal(fast.x[0].status, 200);
    assert_string_equal(fast.x[0].body, "{\"ok\":true}");
    assert_string_equal(fast.x[0].hdrs.request_id, "req_abc");
    assert_int_equal(fast.x[0].hdrs.remaining_requests, 41);
    assert_int_equal(sfast.conns, 1); /* kept alive: the second request reused it */
    assert_int_equal(sfast.requests, 2);
    run_free(&ref);
    run_free(&fast);
}

static void test_same_as_curl_chunked(void **state) {
    (void)state;
    struct srv t = {.mode = SRV_ANSWER,
                    .answer = "HTTP/1.1 429 Too Many Requests\r\n"
                              "Content-Type: application/json; charset=utf-8\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "retry-after: 7\r\n"
                              "x-should-retry: true\r\n"
                              "\r\n"
                              "5\r\n{\"err\r\n"
                              "4\r\nor\":\r\n"
                              "3\r\n42}\r\n"
                              "0\r\n\r\n"};
    struct run ref, fast;
    struct srv sref, sfast;
    both(&t, 2, 0, 5000, 0, &ref, &sref, &fast, &sfast);
    assert_int_equal(fast.x[1].status, 429);
    assert_string_equal(fast.x[1].body, "{\"error\":42}");
    assert_int_equal(fast.x[1].hdrs.retry_after_ms, 7000);
    assert_int_equal(fast.x[1].body_is_json_type, 1);
    run_free(&ref);
    run_free(&fast);
}

static void test_same_as_curl_interim_and_close_delimited(void **state) {
    (void)state;
    struct srv t = {.mode = SRV_ANSWER,
                    .close_after = 1,
                    .answer = "HTTP/1.1 100 Continue\r\nx-request-id: early\r\n\r\n"
                              "HTTP/1.1 200 OK\r\n"
                              "Connection: close\r\n"
                              "\r\n"
                              "until the end"};
    struct run ref, fast;
    struct srv sref, sfast;
    both(&t, 2, 1, 5000, 0, &ref, &sref, &fast, &sfast);
    assert_int_equal(fast.x[1].status, 200);
    assert_string_equal(fast.x[1].body, "until the end");
    assert_string_equal(fast.x[1].hdrs.request_id, ""); /* the 1xx's headers are forgotten */
    assert_int_equal(sfast.conns, 2);
    run_free(&ref);
    run_free(&fast);
}

/* The server closes a kept-alive connection right after its answer (without saying so): the
   next request, sent on it before the close is seen, goes again on a fresh connection. */
static void test_idle_close_sends_again(void **state) {
    (void)state;
    struct srv t = {.mode = SRV_ANSWER, .answer = JSON_ANSWER, .close_after = 1};
    struct run ref, fast;
    struct srv sref, sfast;
    both(&t, 2, 1, 5000, 0, &ref, &sref, &fast, &sfast);
    assert_int_equal(fast.x[1].tr, TRANSPORT_OK);
    assert_int_equal(fast.x[1].status, 200);
    assert_int_equal(sfast.conns, 2);
    run_free(&ref);
    run_free(&fast);
}

/* Nothing at all on a fresh connection is a reset, not something to send again. */
static void test_empty_reply(void **state) {
    (void)state;
    struct srv t = {.mode = SRV_NOTHING};
    struct run ref, fast;
    struct srv sref, sfast;
    both(&t, 1, 0, 5000, 0, &ref, &sref, &fast, &sfast);
    assert_int_equal(fast.x[0].tr, TRANSPORT_RESET);
    assert_int_equal(sfast.conns, 1);
    run_free(&ref);
    run_free(&fast);
}

static void test_cut_short_is_reset(void **state) {
    (void)state;
    struct srv t = {.mode = SRV_ANSWER,
                    .close_after = 1,
                    .answer = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\":"};
    struct run ref, fast;
    struct srv sref, sfast;
    both(&t, 1, 0, 5000, 0, &ref, &sref, &fast, &sfast);
    assert_int_equal(fast.x[0].tr, TRANSPORT_RESET);
    assert_non_null(strstr(fast.x[0].err, "bytes remaining"));
    run_free(&ref);
    run_free(&fast);
}

static void test_timeout(void **state) {
    (void)state;
    struct srv t = {.mode = SRV_HANG};
    struct run ref, fast;
    struct srv sref, sfast;
    both(&t, 1, 0, 200, 0, &ref, &sref, &fast, &sfast);
    assert_int_equal(fast.x[0].tr, TRANSPORT_TIMEOUT);
    assert_true(fast.x[0].latency_ms >= 190);
    run_free(&ref);
    run_free(&fast);
}

/* An answer larger than max_body: TRANSPORT_TOO_LARGE with its status, whether its length is
   announced (refused before the body) or it ends with the connection (refused on the way). */
static void test_max_body(void **state) {
    (void)state;
    struct srv t = {.mode = SRV_ANSWER, .answer = JSON_ANSWER};
    struct run ref, fast;
    struct srv sref, sfast;
    both(&t, 1, 0, 5000, 4, &ref, &sref, &fast, &sfast);
    assert_int_equal(fast.x[0].tr, TRANSPORT_TOO_LARGE);
    assert_int_equal(fast.x[0].status, 200);
    assert_int_equal(fast.x[0].too_large, 1);
    assert_non_null(strstr(fast.x[0].err, "larger than the 4 bytes allowed"));
    assert_string_equal(ref.x[0].err, fast.x[0].err);
    run_free(&ref);
    run_free(&fast);
    struct srv c = {.mode = SRV_ANSWER,
                    .close_after = 1,
                    .answer = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                              "0123456789abcdefghijklmnopqrstuvwxyz"};
    both(&c, 1, 0, 5000, 16, &ref, &sref, &fast, &sfast);
    assert_int_equal(fast.x[0].tr, TRANSPORT_TOO_LARGE);
    assert_int_equal(fast.x[0].status, 200);
    assert_string_equal(ref.x[0].err, fast.x[0].err);
    run_free(&ref);
    run_free(&fast);
}

static void test_connect_refused(void **state) {
    (void)state;
    for (int fastpath = 0; fastpath <= 1; fastpath++) {
        uv_loop_t loop;
        uv_loop_init(&loop);
        /* a port that was just free: bound, then closed */
        struct srv s = {0};
        srv_start(&loop, &s);
        uv_close((uv_handle_t *)&s.listener, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        struct run r;
        memset(&r, 0, sizeof(r));
        r.want = 1;
        struct transport_opts o = {.timeout_ms = 5000,
                                   .connect_timeout_ms = 2000,
                                   .max_connections = 4,
                                   .fastpath = fastpath};
        assert_int_equal(transport_new(&r.t, &loop, &o, on_done, &r), 0);
        snprintf(r.url, sizeof(r.url), "http://127.0.0.1:%d/v1/x", s.port);
        assert_int_equal(transport_send(r.t, &r.x[0], "GET", r.url, NULL, 0, NULL), 0);
        assert_int_equal(r.done, 0); /* never from inside the send */
        while (r.done < 1)
            uv_run(&loop, UV_RUN_ONCE);
        assert_int_equal(r.x[0].tr, TRANSPORT_CONNECT);
        assert_int_equal(r.x[0].status, 0);
        assert_true(r.x[0].err[0] != '\0');
        transport_free(r.t);
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&loop), 0);
        run_free(&r);
    }
}

/* A fast-path client and the scripted server `s` on a fresh loop; r->url is the server's. */
static void fast_open(uv_loop_t *loop, struct srv *s, struct run *r, long timeout_ms) {
    uv_loop_init(loop);
    srv_start(loop, s);
    memset(r, 0, sizeof(*r));
    struct transport_opts o = {
        .timeout_ms = timeout_ms, .connect_timeout_ms = 2000, .max_connections = 4, .fastpath = 1};
    assert_int_equal(transport_new(&r->t, loop, &o, on_done, r), 0);
    snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/v1/x", s->port);
}

/* Runs the loop until n attempts in all are done (5 s at most). */
static void fast_wait(uv_loop_t *loop, struct run *r, int n) {
    uint64_t t0 = uv_hrtime();
    while (r->done < n && uv_hrtime() - t0 < 5000000000ull)
        uv_run(loop, UV_RUN_ONCE);
    assert_int_equal(r->done, n);
}

static void fast_close(uv_loop_t *loop, struct srv *s, struct run *r) {
    transport_free(r->t);
    uv_walk(loop, on_walk_close, s);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
    run_free(r);
}

/* A cancelled attempt gets no callback, and its connection is closed, not reused. */
static void test_cancel(void **state) {
    (void)state;
    uv_loop_t loop;
    struct srv s = {.mode = SRV_HANG};
    struct run r;
    fast_open(&loop, &s, &r, 5000);
    assert_int_equal(transport_send(r.t, &r.x[0], "POST", r.url, "{}", 2, NULL), 0);
    assert_non_null(r.x[0].h1);
    uint64_t t0 = uv_hrtime();
    while (s.requests < 1 && uv_hrtime() - t0 < 5000000000ull)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(transport_active(r.t), 1);
    transport_cancel(r.t, &r.x[0]);
    assert_null(r.x[0].h1);
    assert_int_equal(transport_active(r.t), 0);
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(r.done, 0);
    fast_close(&loop, &s, &r);
}

/* Requests are written at the end of the loop turn that sent them: one cancelled before then
   never reaches the server (its queued write goes with its connection), the others do. */
static void test_cancel_before_write(void **state) {
    (void)state;
    uv_loop_t loop;
    struct srv s = {.mode = SRV_ANSWER, .answer = JSON_ANSWER};
    struct run r;
    fast_open(&loop, &s, &r, 5000);
    /* two kept-alive connections */
    for (int i = 0; i < 2; i++)
        assert_int_equal(transport_send(r.t, &r.x[i], "POST", r.url, "{}", 2, NULL), 0);
    fast_wait(&loop, &r, 2);
    assert_int_equal(s.conns, 2);
    /* both sent in this turn, one cancelled before the turn ends */
    for (int i = 0; i < 2; i++)
        assert_int_equal(transport_send(r.t, &r.x[i], "POST", r.url, "{}", 2, NULL), 0);
    transport_cancel(r.t, &r.x[1]);
    fast_wait(&loop, &r, 3);
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(r.done, 3);
    assert_int_equal(r.x[0].status, 200);
    assert_int_equal(s.requests, 3);
    fast_close(&loop, &s, &r);
}

/* The URL of each request is the one sent, whichever came before (the last URL's split is
   remembered, and must not stick to the next one). */
static void test_each_request_its_url(void **state) {
    (void)state;
    uv_loop_t loop;
    struct srv s = {.mode = SRV_ANSWER, .answer = JSON_ANSWER};
    struct run r;
    fast_open(&loop, &s, &r, 5000);
    static const char *const paths[] = {"/v1/x", "/v1/y?a=1", "/v1/x", "", "/v1/x#frag"};
    static const char *const lines[] = {"POST /v1/x HTTP/1.1", "POST /v1/y?a=1 HTTP/1.1",
                                        "POST /v1/x HTTP/1.1", "POST / HTTP/1.1",
                                        "POST /v1/x HTTP/1.1"};
    for (int i = 0; i < 5; i++) {
        snprintf(r.url, sizeof(r.url), "http://127.0.0.1:%d%s", s.port, paths[i]);
        assert_int_equal(transport_send(r.t, &r.x[0], "POST", r.url, "{}", 2, NULL), 0);
        fast_wait(&loop, &r, i + 1);
        assert_string_equal(s.last_line, lines[i]);
    }
    fast_close(&loop, &s, &r);
}

static void on_pause(uv_timer_t *t) {
    (void)t;
}

/* A kept-alive connection's next attempt gets its own full timeout, also when the timer set
   for the one before comes due while it is on the wire (the timer is not reset per request). */
static void test_timeout_of_a_later_request(void **state) {
    (void)state;
    uv_loop_t loop;
    struct srv s = {.mode = SRV_ANSWER, .answer = JSON_ANSWER};
    struct run r;
    fast_open(&loop, &s, &r, 300);
    assert_int_equal(transport_send(r.t, &r.x[0], "POST", r.url, "{}", 2, NULL), 0);
    fast_wait(&loop, &r, 1);
    uv_timer_t pause;
    uv_timer_init(&loop, &pause);
    uv_timer_start(&pause, on_pause, 200, 0);
    uv_run(&loop, UV_RUN_ONCE); /* 200 ms idle: the first timer is due in about 100 */
    uv_close((uv_handle_t *)&pause, NULL);
    s.mode = SRV_HANG;
    assert_int_equal(transport_send(r.t, &r.x[1], "POST", r.url, "{}", 2, NULL), 0);
    fast_wait(&loop, &r, 2);
    assert_int_equal(s.conns, 1);
    assert_int_equal(r.x[1].tr, TRANSPORT_TIMEOUT);
    assert_true(r.x[1].latency_ms >= 290);
    assert_true(r.x[1].latency_ms < 2000);
    fast_close(&loop, &s, &r);
}

struct late_send {
    struct run *r;
    int sent;
};

/* Sends from a uv_prepare callback, as a result writer that frees a slot does. */
static void on_prepare_send(uv_prepare_t *p) {
    struct late_send *ls = p->data;
    if (ls->sent || ls->r->done < 1)
        return;
    ls->sent = 1;
    assert_int_equal(transport_send(ls->r->t, &ls->r->x[1], "POST", ls->r->url, "{}", 2, NULL), 0);
}

/* A request sent just before the loop would wait (from a uv_prepare callback) still goes out
   before it waits: nothing else is in flight to wake the loop up. */
static void test_send_from_prepare(void **state) {
    (void)state;
    uv_loop_t loop;
    struct srv s = {.mode = SRV_ANSWER, .answer = JSON_ANSWER};
    struct run r;
    fast_open(&loop, &s, &r, 5000);
    assert_int_equal(transport_send(r.t, &r.x[0], "POST", r.url, "{}", 2, NULL), 0);
    fast_wait(&loop, &r, 1);
    struct late_send ls = {.r = &r};
    uv_prepare_t prep;
    uv_prepare_init(&loop, &prep);
    prep.data = &ls;
    uv_prepare_start(&prep, on_prepare_send);
    uint64_t t0 = uv_hrtime();
    fast_wait(&loop, &r, 2);
    assert_true(uv_hrtime() - t0 < 1000000000ull); /* not held until a timer came due */
    assert_int_equal(r.x[1].status, 200);
    uv_close((uv_handle_t *)&prep, NULL);
    fast_close(&loop, &s, &r);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_url),
        cmocka_unit_test(test_no_proxy),
        cmocka_unit_test(test_proxy_applies),
        cmocka_unit_test(test_same_as_curl_content_length),
        cmocka_unit_test(test_same_as_curl_chunked),
        cmocka_unit_test(test_same_as_curl_interim_and_close_delimited),
        cmocka_unit_test(test_idle_close_sends_again),
        cmocka_unit_test(test_empty_reply),
        cmocka_unit_test(test_cut_short_is_reset),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_max_body),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_cancel_before_write),
        cmocka_unit_test(test_each_request_its_url),
        cmocka_unit_test(test_timeout_of_a_later_request),
        cmocka_unit_test(test_send_from_prepare),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
