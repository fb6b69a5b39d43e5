/* The mock's sockets: accepting connections, feeding http_parser, writing answers.
 *
 * One thread, one libuv loop. Each connection owns its buffers and one timer (the delay of
 * its current answer), so a request allocates nothing once its connection is warm, and ten
 * thousand delayed answers are ten thousand timers in libuv's heap. Reads go into one shared
 * buffer (libuv calls alloc and read back to back on one thread); only bytes that cannot be
 * parsed yet are copied into the connection. */
#include "mock_server.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Memory kept by an idle connection's buffers; more is given back after each use. */
#define MOCK_KEEP_BYTES (64u << 10)
/* A client pipelining this much behind a waiting request is not read until it is answered. */
#define MOCK_PENDING_MAX (8u << 20)

static char read_buf[64 << 10];

static void conn_output(struct mock_conn *c);

static void on_close(uv_handle_t *h) {
    struct mock_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    mock_buf_free(&c->body);
    mock_buf_free(&c->pending);
    mock_buf_free(&c->out);
    mock_buf_free(&c->wbuf);
    mock_buf_free(&c->later);
    free(c);
}

/* Closes the connection whatever it was doing; a request it held (waiting or hung) stops
 * being in flight. Idempotent. */
static void conn_close(struct mock_conn *c) {
    if (c->closing)
        return;
    c->closing = 1;
    if (c->in_flight) {
        mock_stats_leave(&c->m->stats);
        c->in_flight = 0;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        c->m->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, on_close);
    uv_close((uv_handle_t *)&c->timer, on_close);
}

static int on_message_begin(http_parser *p) {
    struct mock_conn *c = p->data;
    c->url_len = 0;
    c->url_too_long = 0;
    c->body_too_large = 0;
    c->expect_continue = 0;
    c->auth = 0;
    c->hname_len = 0;
    c->body.buf.len = 0;
    return 0;
}

/* Header names may arrive in pieces; keep the first bytes, enough to recognise the few that
 * matter: Expect, and which credentials were sent. */
static int on_header_field(http_parser *p, const char *at, size_t n) {
    struct mock_conn *c = p->data;
    if (c->hname_len == SIZE_MAX) /* a value came in between: this is a new name */
        c->hname_len = 0;
    for (size_t i = 0; i < n && c->hname_len < sizeof c->hname; i++)
        c->hname[c->hname_len++] = (char)tolower((unsigned char)at[i]);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n) {
    struct mock_conn *c = p->data;
    if (c->hname_len == 6 && memcmp(c->hname, "expect", 6) == 0 && n >= 12 &&
        strncasecmp(at, "100-continue", 12) == 0)
        c->expect_continue = 1;
#define HNAME_IS(lit)                                                                              \
    (c->hname_len == sizeof(lit) - 1 && memcmp(c->hname, lit, sizeof(lit) - 1) == 0)
    if (HNAME_IS("authorization") && n >= 7 && strncasecmp(at, "bearer ", 7) == 0)
        c->auth |= MOCK_AUTH_BEARER;
    else if (HNAME_IS("api-key"))
        c->auth |= MOCK_AUTH_API_KEY;
    else if (HNAME_IS("x-api-key"))
        c->auth |= MOCK_AUTH_X_API_KEY;
    else if (HNAME_IS("anthropic-version"))
        c->auth |= MOCK_AUTH_ANTHROPIC_V;
#undef HNAME_IS
    c->hname_len = SIZE_MAX;
    return 0;
}

/* curl (and others) send "Expect: 100-continue" before a large body and wait a second for
 * the go-ahead (RFC 9110 §10.1.1); give it at once, ahead of the body. */
static int on_headers_complete(http_parser *p) {
    struct mock_conn *c = p->data;
    if (c->expect_continue)
        mock_buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n) {
    struct mock_conn *c = p->data;
    if (c->url_len + n >= MOCK_URL_MAX) {
        c->url_too_long = 1;
        return 0;
    }
    memcpy(c->url + c->url_len, at, n);
    c->url_len += n;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n) {
    struct mock_conn *c = p->data;
    if (c->body_too_large || c->body.buf.len + n > MOCK_BODY_MAX) {
        c->body_too_large = 1;
        return 0;
    }
    mock_buf_append(&c->body, at, n);
    return 0;
}

static void on_timer(uv_timer_t *t);

/* A whole request is in: answer it, and pause the parser while its answer waits (or when it
 * is the connection's last), so that later pipelined requests wait their turn. */
static int on_message_complete(http_parser *p) {
    struct mock_conn *c = p->data;
    c->url[c->url_len] = '\0';
    mock_handle_request(c);
    mock_buf_reset(&c->body, MOCK_KEEP_BYTES);
    if (c->wait == MOCK_WAIT_TIMER)
        uv_timer_start(&c->timer, on_timer, c->later_delay_ms, 0);
    if (c->wait != MOCK_WAIT_NONE || c->close_after)
        http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Feeds `len` bytes to the parser. Returns how many it consumed: all of them, or fewer when
 * a request paused it (the rest must wait). A malformed request gets a 400 and the
 * connection is closed after it. */
static size_t conn_parse(struct mock_conn *c, const char *data, size_t len) {
    size_t n = http_parser_execute(&c->parser, &parser_settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED)
        return n;
    if (e != HPE_OK) {
        mock_handle_bad_http(c, 400, http_errno_description(e));
        return len;
    }
    if (n < len || c->parser.upgrade) /* protocol upgrades are not for a mock */
        c->close_after = 1;
    return len;
}

/* Starts writing what is ready, unless a write is under way (its callback comes back here);
 * closes the connection once its last answer is out. */
static void on_write(uv_write_t *req, int status);

static void conn_output(struct mock_conn *c) {
    if (c->closing)
        return;
    if (c->out.failed || c->later.failed) {
        conn_close(c);
        return;
    }
    if (!c->writing && c->out.buf.len) {
        struct mock_buf t = c->wbuf;
        c->wbuf = c->out;
        c->out = t;
        c->out.buf.len = 0;
        uv_buf_t b = uv_buf_init(c->wbuf.buf.data, (unsigned)c->wbuf.buf.len);
        if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
            conn_close(c);
            return;
        }
        c->writing = 1;
    }
    if (!c->writing && !c->out.buf.len && c->close_after && c->wait == MOCK_WAIT_NONE)
        conn_close(c);
}

static void on_write(uv_write_t *req, int status) {
    struct mock_conn *c = req->data;
    c->writing = 0;
    if (status < 0) {
        conn_close(c);
        return;
    }
    mock_buf_reset(&c->wbuf, MOCK_KEEP_BYTES);
    conn_output(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    struct mock_conn *c = s->data;
    if (nread < 0) {
        /* A client that half-closes after its request still gets the answer; a hung request
         * has none to give, so its connection goes now. */
        if (nread == UV_EOF && c->wait != MOCK_WAIT_HANG &&
            (c->wait == MOCK_WAIT_TIMER || c->writing || c->out.buf.len)) {
            c->close_after = 1;
            uv_read_stop(s);
            c->reading = 0;
            return;
        }
        conn_close(c);
        return;
    }
    if (nread == 0 || c->close_after)
        return;
    size_t len = (size_t)nread;
    if (c->wait != MOCK_WAIT_NONE || c->pending.buf.len) {
        mock_buf_append(&c->pending, buf->base, len);
        if (c->pending.failed) {
            conn_close(c);
        } else if (c->pending.buf.len > MOCK_PENDING_MAX) {
            uv_read_stop(s);
            c->reading = 0;
        }
        return;
    }
    size_t n = conn_parse(c, buf->base, len);
    if (n < len && !c->close_after)
        mock_buf_append(&c->pending, buf->base + n, len - n);
    conn_output(c);
}

/* The waiting answer is due: send it, then parse what the client sent meanwhile. */
static void on_timer(uv_timer_t *t) {
    struct mock_conn *c = t->data;
    mock_handle_deliver(c);
    http_parser_pause(&c->parser, 0);
    size_t off = 0;
    while (off < c->pending.buf.len && c->wait == MOCK_WAIT_NONE && !c->close_after) {
        off += conn_parse(c, c->pending.buf.data + off, c->pending.buf.len - off);
        /* conn_parse may have paused again for the next request; its timer is running. */
    }
    if (c->close_after) {
        off = c->pending.buf.len;
    }
    if (off == c->pending.buf.len) {
        mock_buf_reset(&c->pending, MOCK_KEEP_BYTES);
    } else if (off > 0) {
        memmove(c->pending.buf.data, c->pending.buf.data + off, c->pending.buf.len - off);
        c->pending.buf.len -= off;
    }
    if (!c->reading && !c->close_after && c->pending.buf.len <= MOCK_PENDING_MAX) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = 1;
    }
    conn_output(c);
}

static void on_connection(uv_stream_t *server, int status) {
    struct mock *m = server->data;
    if (status < 0 || m->stopping)
        return;
    struct mock_conn *c = calloc(1, sizeof *c);
    if (!c)
        return; /* the listener fires again; maybe memory is back by then */
    c->m = m;
    uv_tcp_init(m->loop, &c->tcp);
    uv_timer_init(m->loop, &c->timer);
    c->tcp.data = c->timer.data = c->wreq.data = c;
    c->open_handles = 2;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->next = m->conns;
    if (m->conns)
        m->conns->prev = c;
    m->conns = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_close(c);
        return;
    }
    c->reading = 1;
    uv_tcp_nodelay(&c->tcp, 1);
}

int mock_server_listen(struct mock *m) {
    struct sockaddr_storage ss;
    int r = uv_ip4_addr(m->cfg.host, m->cfg.port, (struct sockaddr_in *)&ss);
    if (r < 0)
        r = uv_ip6_addr(m->cfg.host, m->cfg.port, (struct sockaddr_in6 *)&ss);
    if (r < 0)
        return r;
    r = uv_tcp_init(m->loop, &m->listener);
    if (r < 0)
        return r;
    m->listener.data = m;
    r = uv_tcp_bind(&m->listener, (const struct sockaddr *)&ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&m->listener, 4096, on_connection);
    if (r == 0) {
        int len = sizeof ss;
        r = uv_tcp_getsockname(&m->listener, (struct sockaddr *)&ss, &len);
    }
    if (r < 0) {
        uv_close((uv_handle_t *)&m->listener, NULL);
        return r;
    }
    if (ss.ss_family == AF_INET6)
        m->cfg.port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    else
        m->cfg.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

void mock_server_close(struct mock *m) {
    m->stopping = 1;
    if (!uv_is_closing((uv_handle_t *)&m->listener))
        uv_close((uv_handle_t *)&m->listener, NULL);
    while (m->conns)
        conn_close(m->conns);
}
