/*
 * The plain-HTTP/1.1 fast path (see h1.h for what and why).
 *
 * A connection is a small state machine: it waits for its host's name lookup, connects,
 * carries one request at a time, and rests in its host's idle list between requests. Every
 * failure is reported from a loop callback, never from inside h1_send(), because the engine
 * counts an attempt in flight only once h1_send() has returned: a failure found while sending
 * is parked on the connection's timer (fired at once) and reported from there.
 *
 * Reads never stop: a socket is registered for "readable" once, when it connects, and stays so
 * until it closes. Bytes or an end of stream on an idle connection mean the server closed it
 * (or broke the protocol): it is closed at once, with no request lost.
 */
#include "h1.h"

#include <http_parser.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sluice.h>

#define H1_READ_BUF    (64u << 10)
#define H1_LINE_MAX    1024 /* longer header lines reach the classifier cut short */
#define H1_MAX_ADDRS   4
#define H1_MAX_HOSTS   16
#define H1_DNS_TTL_MS  60000 /* curl's default DNS cache timeout */
#define H1_CONNECT_DEF 300000
#define H1_MSG_MAX     CURL_ERROR_SIZE
#define H1_MEMO_URL    512 /* longer URLs are parsed every time */

enum conn_state {
    CONN_LOOKUP,     /* waiting for the host's name lookup */
    CONN_CONNECTING, /* uv_tcp_connect under way */
    CONN_BUSY,       /* carrying a request */
    CONN_IDLE,       /* in its host's idle list */
    CONN_CLOSING     /* handles closing; freed by their callbacks */
};

struct h1_host {
    char name[256]; /* as in the URL, without IPv6 brackets */
    int port;
    char *host_line; /* "Host: name[:port]\r\n" */
    size_t host_line_len;
    char *origin; /* the first URL's "http://authority", matched by prefix */
    size_t origin_len;
    int proxied; /* a proxy applies: curl's */
    int numeric; /* an address literal: no lookup, ever */
    struct sockaddr_storage addrs[H1_MAX_ADDRS];
    int n_addrs;
    uint64_t resolved_at; /* loop ms */
    int resolving;
    uv_getaddrinfo_t gai;
    struct h1 *c;
    struct h1_conn *waiting; /* connections waiting for the lookup (wait_next) */
    struct h1_conn *idle;    /* idle connections, most recently used first (prev/next) */
};

struct h1_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t creq;
    uv_write_t wreq;
    http_parser parser;
    struct h1 *c;
    struct h1_host *h;
    enum conn_state state;
    int open_handles;
    int addr_i;                  /* the address tried (CONNECTING) or connected to */
    int writing;                 /* a uv_write of the request's tail is under way */
    uint64_t timer_due;          /* loop ms the timer fires at; 0: not running */
    int queued;                  /* in the send queue: its writev waits for the loop turn's end */
    struct h1_conn *q_next;      /* send queue */
    int requests;                /* requests this connection carried, the current one included */
    struct h1_conn *prev, *next; /* host's idle list */
    struct h1_conn *wait_next;   /* host's lookup waiters */
    struct h1_conn *all_prev, *all_next; /* every open connection */

    /* The request on it; moved whole to a fresh connection when it is sent again. */
    struct xfer *x;
    char *head; /* request line and headers */
    size_t head_len, head_cap;
    const char *body; /* borrowed */
    size_t body_len;
    int is_head;             /* HEAD: the answer has no body */
    int resent;              /* already sent again once after a dead kept-alive connection */
    uint64_t connect_end_ms; /* loop ms; 0: none */
    uint64_t end_ms;         /* loop ms the attempt times out at; 0: none */
    uint64_t start_ms;

    /* The answer. */
    size_t got;  /* bytes of it received */
    int status;  /* of the final answer */
    int interim; /* the message being parsed is a 1xx */
    int complete;
    int keep;     /* the server lets the connection be reused */
    int body_err; /* max_body passed (or out of memory) */
    char line[H1_LINE_MAX + 2];
    size_t line_len;
    int in_value;

    /* A failure found outside a loop callback, reported from the timer. */
    int parked;
    int parked_next_addr; /* ... unless the host's next address is worth a try */
    enum classify_transport fail_tr;
    char fail_msg[H1_MSG_MAX];
};

struct h1 {
    uv_loop_t *loop;
    struct h1_opts o;
    h1_done_cb cb;
    void *ud;
    struct h1_host *hosts[H1_MAX_HOSTS];
    int n_hosts;
    struct h1_conn *all;
    int n_idle;
    int pending; /* handles closing + lookups under way: memory is freed when 0 after h1_free */
    int freeing;
    /* The engine's header list, rendered once (the list does not change while in use). */
    const struct curl_slist *hdr_list;
    char *hdrs;
    size_t hdrs_len;
    int hdr_host, hdr_ctype, hdr_accept, hdr_decline;
    /* The last URL sent, what it split into and its host: most runs send every request to
       one URL, which is then parsed once, not per request. */
    char memo_url[H1_MEMO_URL];
    struct h1_origin memo;
    struct h1_host *memo_host; /* NULL: no memo */
    /* Requests built in this loop turn, written together before the loop polls again: an idle
       handle runs at the next turn's start and keeps the poll from waiting until it has. */
    uv_idle_t flush;
    int flush_init;
    struct h1_conn *q_head, **q_tail;
    char rbuf[H1_READ_BUF];
};

static void conn_fail(struct h1_conn *k, enum classify_transport tr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void conn_close(struct h1_conn *k);
static void conn_connect(struct h1_conn *k);
static void conn_write(struct h1_conn *k);
static void on_timer(uv_timer_t *t);
static void queue_unlink(struct h1_conn *k);

/* ---- the engine's header list, rendered once ---- */

static int name_is(const char *line, size_t n, const char *name) {
    size_t l = strlen(name);
    return n == l && strncasecmp(line, name, l) == 0;
}

/*
 * curl's rules for a custom header line: "Name: value" is sent; "Name:" with nothing after it
 * only removes a header curl would add (so it is not sent); "Name;" sends "Name:" empty.
 * A hand-made Content-Length or Transfer-Encoding, or a line break in a value, is declined.
 */
static int headers_render(struct h1 *c, const struct curl_slist *list) {
    size_t cap = 256, len = 0;
    char *out = malloc(cap);
    if (!out)
        return SLUICE_ENOMEM;
    c->hdr_host = c->hdr_ctype = c->hdr_accept = c->hdr_decline = 0;
    for (const struct curl_slist *l = list; l; l = l->next) {
        const char *d = l->data;
        if (strpbrk(d, "\r\n"))
            c->hdr_decline = 1;
        const char *colon = strchr(d, ':');
        const char *semi = strchr(d, ';');
        const char *sep = colon && (!semi || colon < semi) ? colon : semi;
        if (!sep)
            continue;
        size_t nl = (size_t)(sep - d);
        const char *v = sep + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*sep == ':' && *v == '\0')
            continue;
        if (*sep == ';' && *v != '\0')
            continue; /* curl ignores such a line */
        if (name_is(d, nl, "content-length") || name_is(d, nl, "transfer-encoding"))
            c->hdr_decline = 1;
        c->hdr_host |= name_is(d, nl, "host");
        c->hdr_ctype |= name_is(d, nl, "content-type");
        c->hdr_accept |= name_is(d, nl, "accept");
        size_t need = len + nl + strlen(v) + 5;
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            char *no = realloc(out, cap);
            if (!no) {
                free(out);
                return SLUICE_ENOMEM;
            }
            out = no;
        }
        memcpy(out + len, d, nl);
        len += nl;
        out[len++] = ':';
        if (*v) {
            out[len++] = ' ';
            size_t vl = strlen(v);
            memcpy(out + len, v, vl);
            len += vl;
        }
        out[len++] = '\r';
        out[len++] = '\n';
    }
    free(c->hdrs);
    c->hdrs = out;
    c->hdrs_len = len;
    c->hdr_list = list;
    return 0;
}

/* ---- hosts ---- */

static struct h1_host *host_find(struct h1 *c, const char *url) {
    for (int i = 0; i < c->n_hosts; i++) {
        struct h1_host *h = c->hosts[i];
        if (strncmp(url, h->origin, h->origin_len) == 0) {
            char b = url[h->origin_len];
            if (b == '\0' || b == '/' || b == '?' || b == '#')
                return h;
        }
    }
    return NULL;
}

static struct h1_host *host_get(struct h1 *c, const struct h1_origin *o, const char *url) {
    for (int i = 0; i < c->n_hosts; i++) {
        struct h1_host *h = c->hosts[i];
        if (h->port == o->port && strcasecmp(h->name, o->host) == 0)
            return h;
    }
    if (c->n_hosts == H1_MAX_HOSTS)
        return NULL;
    struct h1_host *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    snprintf(h->name, sizeof(h->name), "%s", o->host);
    h->port = o->port;
    h->c = c;
    h->gai.data = h;
    int v6 = strchr(o->host, ':') != NULL;
    size_t cap = strlen(o->host) + 32;
    h->host_line = malloc(cap);
    h->origin = strndup(url, o->authority_len);
    if (!h->host_line || !h->origin) {
        free(h->host_line);
        free(h->origin);
        free(h);
        return NULL;
    }
    h->origin_len = o->authority_len;
    /* RFC 9112 §3.2: the port only when it is not the scheme's default, as curl sends it. */
    if (o->port == 80)
        snprintf(h->host_line, cap, v6 ? "Host: [%s]\r\n" : "Host: %s\r\n", o->host);
    else
        snprintf(h->host_line, cap, v6 ? "Host: [%s]:%d\r\n" : "Host: %s:%d\r\n", o->host, o->port);
    h->host_line_len = strlen(h->host_line);
    h->proxied = h1_proxy_applies(o->host);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&h->addrs[0];
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h->addrs[0];
    if (uv_ip4_addr(o->host, o->port, s4) == 0 || uv_ip6_addr(o->host, o->port, s6) == 0) {
        h->numeric = 1;
        h->n_addrs = 1;
    }
    c->hosts[c->n_hosts++] = h;
    return h;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    struct h1_host *h = req->data;
    struct h1 *c = h->c;
    h->resolving = 0;
    c->pending--;
    if (status == 0) {
        h->n_addrs = 0;
        for (struct addrinfo *a = res; a && h->n_addrs < H1_MAX_ADDRS; a = a->ai_next) {
            if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
                a->ai_addrlen > sizeof(h->addrs[0]))
                continue;
            memcpy(&h->addrs[h->n_addrs], a->ai_addr, a->ai_addrlen);
            /* getaddrinfo got no service: the port goes in here */
            if (a->ai_family == AF_INET)
                ((struct sockaddr_in *)&h->addrs[h->n_addrs])->sin_port = htons((uint16_t)h->port);
            else
                ((struct sockaddr_in6 *)&h->addrs[h->n_addrs])->sin6_port =
                    htons((uint16_t)h->port);
            h->n_addrs++;
        }
        h->resolved_at = uv_now(c->loop);
    }
    if (res)
        uv_freeaddrinfo(res);
    struct h1_conn *w = h->waiting;
    h->waiting = NULL;
    while (w) {
        struct h1_conn *next = w->wait_next;
        w->wait_next = NULL;
        if (h->n_addrs > 0 && status == 0)
            conn_connect(w);
        else
            conn_fail(w, TRANSPORT_CONNECT, "Could not resolve host: %.100s", h->name);
        w = next;
    }
    if (c->freeing && c->pending == 0)
        h1_free(c);
}

static void host_wait(struct h1_host *h, struct h1_conn *k) {
    k->state = CONN_LOOKUP;
    k->wait_next = h->waiting;
    h->waiting = k;
    if (h->resolving)
        return;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(h->c->loop, &h->gai, on_resolved, h->name, NULL, &hints);
    if (rc < 0) {
        h->waiting = k->wait_next;
        k->wait_next = NULL;
        conn_fail(k, TRANSPORT_CONNECT, "Could not resolve host: %.100s (%s)", h->name,
                  uv_strerror(rc));
        return;
    }
    h->resolving = 1;
    h->c->pending++;
}

static void host_unwait(struct h1_host *h, struct h1_conn *k) {
    for (struct h1_conn **p = &h->waiting; *p; p = &(*p)->wait_next) {
        if (*p == k) {
            *p = k->wait_next;
            k->wait_next = NULL;
            return;
        }
    }
}

/* ---- connections ---- */

static void on_handle_closed(uv_handle_t *hd) {
    struct h1_conn *k = hd->data;
    if (--k->open_handles > 0)
        return;
    struct h1 *c = k->c;
    free(k->head);
    free(k);
    c->pending--;
    if (c->freeing && c->pending == 0)
        h1_free(c);
}

static struct h1_conn *conn_new(struct h1 *c, struct h1_host *h) {
    struct h1_conn *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    if (uv_tcp_init(c->loop, &k->tcp) != 0) {
        free(k);
        return NULL;
    }
    uv_timer_init(c->loop, &k->timer);
    k->c = c;
    k->h = h;
    k->tcp.data = k->timer.data = k->creq.data = k->wreq.data = k;
    k->open_handles = 2;
    c->pending += 1; /* one unit for the pair of handles */
    k->all_next = c->all;
    if (c->all)
        c->all->all_prev = k;
    c->all = k;
    k->state = CONN_CONNECTING;
    return k;
}

static void idle_unlink(struct h1_conn *k) {
    struct h1_host *h = k->h;
    if (k->prev)
        k->prev->next = k->next;
    else
        h->idle = k->next;
    if (k->next)
        k->next->prev = k->prev;
    k->prev = k->next = NULL;
    k->c->n_idle--;
}

/* Closes the connection, whatever it was doing; the request on it (if any) must have been
   detached or reported first. Idempotent. */
static void conn_close(struct h1_conn *k) {
    if (k->state == CONN_CLOSING)
        return;
    if (k->state == CONN_IDLE)
        idle_unlink(k);
    else if (k->state == CONN_LOOKUP)
        host_unwait(k->h, k);
    k->state = CONN_CLOSING;
    if (k->queued)
        queue_unlink(k);
    struct h1 *c = k->c;
    if (k->all_prev)
        k->all_prev->all_next = k->all_next;
    else
        c->all = k->all_next;
    if (k->all_next)
        k->all_next->all_prev = k->all_prev;
    uv_close((uv_handle_t *)&k->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&k->timer, on_handle_closed);
}

/* Hands the request on `from` to `to` (a fresh connection), with its buffers. */
static void conn_move_request(struct h1_conn *to, struct h1_conn *from) {
    char *hd = to->head;
    size_t hc = to->head_cap;
    to->head = from->head;
    to->head_len = from->head_len;
    to->head_cap = from->head_cap;
    from->head = hd;
    from->head_len = 0;
    from->head_cap = hc;
    to->x = from->x;
    to->x->h1 = to;
    from->x = NULL;
    to->body = from->body;
    to->body_len = from->body_len;
    to->is_head = from->is_head;
    to->resent = from->resent;
    to->connect_end_ms = from->connect_end_ms;
    to->end_ms = from->end_ms;
    to->start_ms = from->start_ms;
}

/* The loop ms the attempt on k times out at in its state; 0: never. */
static uint64_t conn_deadline(const struct h1_conn *k) {
    uint64_t end = k->end_ms;
    if ((k->state == CONN_LOOKUP || k->state == CONN_CONNECTING) && k->connect_end_ms &&
        (!end || k->connect_end_ms < end))
        end = k->connect_end_ms;
    return end;
}

/*
 * Makes sure the timer fires by the attempt's deadline. Lazily: a timer already due sooner is
 * left as it is (on_timer sets it again for what is left), and an idle connection keeps its
 * timer, so a kept-alive connection's requests, whose deadlines only grow, cost no timer-heap
 * work each.
 */
static void timer_arm(struct h1_conn *k) {
    uint64_t end = conn_deadline(k);
    if (!end || (k->timer_due && k->timer_due <= end))
        return;
    uint64_t now = uv_now(k->c->loop);
    uv_timer_start(&k->timer, on_timer, end > now ? end - now : 0, 0);
    k->timer_due = end > now ? end : now;
}

/* Reports the attempt's end to the engine and decides the connection's fate. Call only from a
   loop callback (the engine may send again from its done callback: the connection is already
   back in its idle list by then, or closing). */
static void conn_finish(struct h1_conn *k, enum classify_transport tr) {
    struct h1 *c = k->c;
    struct xfer *x = k->x;
    k->x = NULL;
    x->h1 = NULL;
    x->tr = tr;
    x->status = tr == TRANSPORT_OK ? k->status : 0;
    x->latency_ms = (double)(uv_hrtime() - x->started_ns) / 1e6;
    int keep = tr == TRANSPORT_OK && k->keep && !k->writing && k->state == CONN_BUSY &&
               c->n_idle < c->o.max_connections && !c->freeing;
    if (keep) {
        k->state = CONN_IDLE; /* its timer may still run: on_timer finds no attempt */
        k->body = NULL;
        k->next = k->h->idle;
        k->prev = NULL;
        if (k->h->idle)
            k->h->idle->prev = k;
        k->h->idle = k;
        c->n_idle++;
    } else {
        conn_close(k);
    }
    c->cb(x, c->ud);
}

/* A failure: reported now when called from a loop callback with the request on `k`; the
   message is formatted into the xfer (curl's words where curl has some). */
static void conn_report(struct h1_conn *k, enum classify_transport tr, const char *msg) {
    snprintf(k->x->err, sizeof(k->x->err), "%s", msg);
    conn_close(k);
    conn_finish(k, tr);
}

/* A failure found where the engine cannot be called back yet: parked on the timer. */
static void conn_fail(struct h1_conn *k, enum classify_transport tr, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->fail_msg, sizeof(k->fail_msg), fmt, ap);
    va_end(ap);
    k->fail_tr = tr;
    k->parked = 1;
    if (k->state == CONN_LOOKUP)
        host_unwait(k->h, k);
    k->state = CONN_CONNECTING; /* in no list: only the timer knows it now */
    uv_timer_start(&k->timer, on_timer, 0, 0);
    k->timer_due = uv_now(k->c->loop);
}

/*
 * Sends the request on `k` again on a fresh connection (a dead kept-alive one, or the next
 * address of the host). Returns 0, or -1 when no connection could be made (the caller reports
 * the failure it had).
 */
static int conn_retry(struct h1_conn *k, int next_addr) {
    struct h1_conn *n = conn_new(k->c, k->h);
    if (!n)
        return -1;
    conn_move_request(n, k);
    conn_close(k);
    n->addr_i = next_addr;
    n->state = CONN_CONNECTING;
    conn_connect(n);
    return 0;
}

static void on_timer(uv_timer_t *t) {
    struct h1_conn *k = t->data;
    k->timer_due = 0;
    if (!k->x)
        return;
    uint64_t now = uv_now(k->c->loop), ms = now - k->start_ms;
    if (k->parked) {
        if (k->parked_next_addr && conn_retry(k, k->addr_i + 1) == 0)
            return;
        conn_report(k, k->fail_tr, k->fail_msg);
        return;
    }
    uint64_t end = conn_deadline(k);
    if (!end || now < end) {
        timer_arm(k); /* set for an earlier attempt, or before the connection was made */
        return;
    }
    char msg[H1_MSG_MAX];
    if (k->state == CONN_LOOKUP || k->state == CONN_CONNECTING)
        snprintf(msg, sizeof(msg), "Connection timed out after %llu milliseconds",
                 (unsigned long long)ms);
    else
        snprintf(msg, sizeof(msg),
                 "Operation timed out after %llu milliseconds with %zu bytes "
                 "received",
                 (unsigned long long)ms, k->got);
    conn_report(k, TRANSPORT_TIMEOUT, msg);
}

/* The request died on a connection that had carried others, before any byte of its answer:
   the server closed it while idle. Sent again once on a fresh connection, as curl does. */
static int conn_dead_reuse(struct h1_conn *k) {
    if (k->requests < 2 || k->got > 0 || k->resent)
        return 0;
    k->resent = 1;
    return conn_retry(k, 0) == 0;
}

/* ---- the answer ---- */

static void line_flush(struct h1_conn *k) {
    if (k->line_len == 0)
        return;
    k->line[k->line_len++] = '\r';
    k->line[k->line_len++] = '\n';
    if (!k->interim)
        xfer_header(k->x, k->line, k->line_len);
    k->line_len = 0;
    k->in_value = 0;
}

static void line_add(struct h1_conn *k, const char *at, size_t n) {
    size_t room = H1_LINE_MAX - k->line_len;
    if (n > room)
        n = room;
    memcpy(k->line + k->line_len, at, n);
    k->line_len += n;
}

static int on_message_begin(http_parser *p) {
    struct h1_conn *k = p->data;
    k->line_len = 0;
    k->in_value = 0;
    k->interim = 0;
    xfer_answer_begin(k->x);
    k->x->body_len = 0;
    return 0;
}

/* 1xx answers (100 Continue, 103 Early Hints) come before the real one (RFC 9110 §15.2): their
   headers are not the answer's. */
static int on_status(http_parser *p, const char *at, size_t n) {
    struct h1_conn *k = p->data;
    (void)at;
    (void)n;
    k->interim = p->status_code >= 100 && p->status_code < 200 && p->status_code != 101;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n) {
    struct h1_conn *k = p->data;
    if (k->in_value)
        line_flush(k);
    line_add(k, at, n);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n) {
    struct h1_conn *k = p->data;
    if (!k->in_value) {
        line_add(k, ": ", 2);
        k->in_value = 1;
    }
    line_add(k, at, n);
    return 0;
}

static int on_headers_complete(http_parser *p) {
    struct h1_conn *k = p->data;
    k->interim = p->status_code >= 100 && p->status_code < 200 && p->status_code != 101;
    line_flush(k);
    if (!k->interim)
        k->status = p->status_code;
    return k->is_head ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t n) {
    struct h1_conn *k = p->data;
    if (k->interim)
        return 0;
    if (xfer_body_append(k->x, at, n) < 0) {
        k->body_err = 1;
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p) {
    struct h1_conn *k = p->data;
    if (k->interim)
        return 0;
    k->complete = 1;
    k->keep = http_should_keep_alive(p);
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Feeds the answer's bytes (len 0: the end of the stream) and reports the attempt when it is
   over. */
static void conn_parse(struct h1_conn *k, const char *data, size_t len) {
    size_t n = http_parser_execute(&k->parser, &parser_settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&k->parser);
    if (k->complete) {
        if (n < len || k->parser.upgrade)
            k->keep = 0; /* more than one answer to one request: not a connection to reuse */
        conn_finish(k, TRANSPORT_OK);
        return;
    }
    if (k->body_err) {
        conn_report(k, TRANSPORT_OTHER, "Failure writing output to destination");
        return;
    }
    if (len == 0) {
        /* curl's words for an answer cut short */
        char msg[H1_MSG_MAX];
        if (!(k->parser.flags & F_CHUNKED) && k->parser.content_length != ULLONG_MAX &&
            k->parser.content_length > 0)
            snprintf(msg, sizeof(msg), "transfer closed with %llu bytes remaining to read",
                     (unsigned long long)k->parser.content_length);
        else
            snprintf(msg, sizeof(msg), "transfer closed with outstanding read data remaining");
        conn_report(k, TRANSPORT_RESET, msg);
        return;
    }
    if (e != HPE_OK) {
        char msg[H1_MSG_MAX];
        snprintf(msg, sizeof(msg), "Weird server reply: %s", http_errno_description(e));
        conn_report(k, TRANSPORT_RESET, msg);
    }
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf) {
    struct h1_conn *k = hd->data;
    (void)suggested;
    *buf = uv_buf_init(k->c->rbuf, sizeof(k->c->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    struct h1_conn *k = s->data;
    if (nread == 0 || k->state == CONN_CLOSING || k->parked)
        return;
    if (k->state != CONN_BUSY || !k->x) {
        /* Idle: the server closed it, or said something unasked. Either way, done with it. */
        conn_close(k);
        return;
    }
    if (nread > 0) {
        k->got += (size_t)nread;
        conn_parse(k, buf->base, (size_t)nread);
        return;
    }
    if (k->got == 0) {
        if (conn_dead_reuse(k))
            return;
        if (nread == UV_EOF)
            conn_report(k, TRANSPORT_RESET, "Empty reply from server");
        else {
            char msg[H1_MSG_MAX];
            snprintf(msg, sizeof(msg), "Recv failure: %s", uv_strerror((int)nread));
            conn_report(k, TRANSPORT_RESET, msg);
        }
        return;
    }
    if (nread == UV_EOF) {
        conn_parse(k, NULL, 0); /* an answer that ends with the connection completes now */
        return;
    }
    char msg[H1_MSG_MAX];
    snprintf(msg, sizeof(msg), "Recv failure: %s", uv_strerror((int)nread));
    conn_report(k, TRANSPORT_RESET, msg);
}

/* ---- the request ---- */

static void on_write(uv_write_t *req, int status) {
    struct h1_conn *k = req->data;
    k->writing = 0;
    if (status == UV_ECANCELED || k->state == CONN_CLOSING || !k->x || k->parked)
        return;
    if (status < 0) {
        if (conn_dead_reuse(k))
            return;
        char msg[H1_MSG_MAX];
        snprintf(msg, sizeof(msg), "Send failure: %s", uv_strerror(status));
        conn_report(k, TRANSPORT_RESET, msg);
    }
}

/* Writes head and body: one writev, and only what the socket did not take goes through a
   queued uv_write. Called from the flush at the end of the loop turn (failures are parked). */
static void conn_write_now(struct h1_conn *k) {
    uv_buf_t b[2] = {uv_buf_init(k->head, (unsigned)k->head_len),
                     uv_buf_init((char *)(k->body ? k->body : ""), (unsigned)k->body_len)};
    unsigned nb = k->body_len ? 2 : 1;
    int n = uv_try_write((uv_stream_t *)&k->tcp, b, nb);
    size_t total = k->head_len + k->body_len;
    if (n == (int)total)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        if (!conn_dead_reuse(k)) /* a kept-alive connection found dead only now */
            conn_fail(k, TRANSPORT_RESET, "Send failure: %s", uv_strerror(n));
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    unsigned first = 0;
    if (done >= b[0].len) {
        done -= b[0].len;
        first = 1;
    }
    b[first].base += done;
    b[first].len -= (unsigned)done;
    int rc = uv_write(&k->wreq, (uv_stream_t *)&k->tcp, b + first, nb - first, on_write);
    if (rc < 0) {
        conn_fail(k, TRANSPORT_RESET, "Send failure: %s", uv_strerror(rc));
        return;
    }
    k->writing = 1;
}

/*
 * Every request built since the last flush is written now, in the order they were sent: at the
 * start of the next loop turn (an idle handle, which also keeps the loop from waiting in poll
 * before it has run, wherever the request was sent from: an I/O callback, a timer, a prepare
 * handle such as the result writer's). Written back to back rather than one between two
 * answers, they find a server that sleeps in epoll_wait woken once for the lot rather than
 * once each: each such wake-up is paid by the writer (a cross-CPU interrupt, costly in a VM;
 * bench/NOTES.md). The requests wait at most for the rest of the turn's callbacks.
 */
static void on_flush(uv_idle_t *p) {
    struct h1 *c = p->data;
    struct h1_conn *k;
    while ((k = c->q_head) != NULL) {
        c->q_head = k->q_next;
        if (!c->q_head)
            c->q_tail = &c->q_head;
        k->q_next = NULL;
        k->queued = 0;
        conn_write_now(k);
    }
    uv_idle_stop(p);
}

static void queue_unlink(struct h1_conn *k) {
    struct h1 *c = k->c;
    for (struct h1_conn **p = &c->q_head; *p; p = &(*p)->q_next) {
        if (*p == k) {
            *p = k->q_next;
            if (!*p)
                c->q_tail = p;
            break;
        }
    }
    k->q_next = NULL;
    k->queued = 0;
}

/* Readies the connection for the request's answer and queues the request for the flush at the
   next loop turn's start. Called from h1_send or from the connect callback. */
static void conn_write(struct h1_conn *k) {
    struct h1 *c = k->c;
    k->state = CONN_BUSY;
    http_parser_init(&k->parser, HTTP_RESPONSE);
    k->parser.data = k;
    k->got = 0;
    k->status = 0;
    k->complete = 0;
    k->keep = 0;
    k->body_err = 0;
    k->interim = 0;
    k->line_len = 0;
    k->in_value = 0;
    k->requests++;
    timer_arm(k);
    if (!c->flush_init) {
        uv_idle_init(c->loop, &c->flush); /* cannot fail */
        c->flush.data = c;
        c->flush_init = 1;
    }
    if (!c->q_head)
        uv_idle_start(&c->flush, on_flush);
    k->queued = 1;
    k->q_next = NULL;
    *c->q_tail = k;
    c->q_tail = &k->q_next;
}

static void on_connect(uv_connect_t *req, int status) {
    struct h1_conn *k = req->data;
    if (status == UV_ECANCELED || k->state == CONN_CLOSING || !k->x || k->parked)
        return;
    if (status < 0) {
        if (k->addr_i + 1 < k->h->n_addrs && conn_retry(k, k->addr_i + 1) == 0)
            return;
        char msg[H1_MSG_MAX];
        snprintf(msg, sizeof(msg), "Failed to connect to %.100s port %d after %llu ms: %s",
                 k->h->name, k->h->port, (unsigned long long)(uv_now(k->c->loop) - k->start_ms),
                 uv_strerror(status));
        conn_report(k, TRANSPORT_CONNECT, msg);
        return;
    }
    uv_tcp_nodelay(&k->tcp, 1);
    if (uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read) < 0) {
        conn_report(k, TRANSPORT_CONNECT, "Failed to read from the connection");
        return;
    }
    conn_write(k);
}

static void conn_connect(struct h1_conn *k) {
    struct h1_host *h = k->h;
    k->state = CONN_CONNECTING;
    timer_arm(k);
    int rc = uv_tcp_connect(&k->creq, &k->tcp, (const struct sockaddr *)&h->addrs[k->addr_i],
                            on_connect);
    if (rc < 0) {
        /* another address may do: the timer starts over on a fresh handle */
        conn_fail(k, TRANSPORT_CONNECT, "Failed to connect to %.100s port %d: %s", h->name, h->port,
                  uv_strerror(rc));
        k->parked_next_addr = k->addr_i + 1 < h->n_addrs;
    }
}

/* Builds the request line and headers into k->head. */
static int head_build(struct h1 *c, struct h1_conn *k, const char *method,
                      const struct h1_origin *o, int with_body, size_t body_len) {
    size_t ml = strlen(method);
    size_t need = ml + o->path_len + c->hdrs_len + k->h->host_line_len + 160;
    if (need > k->head_cap) {
        char *nh = realloc(k->head, need);
        if (!nh)
            return SLUICE_ENOMEM;
        k->head = nh;
        k->head_cap = need;
    }
    char *w = k->head;
    memcpy(w, method, ml);
    w += ml;
    *w++ = ' ';
    if (o->path_len == 0 || o->path[0] != '/')
        *w++ = '/';
    memcpy(w, o->path, o->path_len);
    w += o->path_len;
    memcpy(w, " HTTP/1.1\r\n", 11);
    w += 11;
    if (!c->hdr_host) {
        memcpy(w, k->h->host_line, k->h->host_line_len);
        w += k->h->host_line_len;
    }
    if (!c->hdr_accept) {
        memcpy(w, "Accept: */*\r\n", 13);
        w += 13;
    }
    memcpy(w, c->hdrs, c->hdrs_len);
    w += c->hdrs_len;
    if (with_body) {
        if (!c->hdr_ctype) {
            static const char ct[] = "Content-Type: application/x-www-form-urlencoded\r\n";
            memcpy(w, ct, sizeof(ct) - 1);
            w += sizeof(ct) - 1;
        }
        memcpy(w, "Content-Length: ", 16);
        w += 16;
        char digits[20];
        size_t nd = 0;
        do
            digits[nd++] = (char)('0' + body_len % 10);
        while ((body_len /= 10) > 0);
        while (nd > 0)
            *w++ = digits[--nd];
        *w++ = '\r';
        *w++ = '\n';
    }
    memcpy(w, "\r\n", 2);
    w += 2;
    k->head_len = (size_t)(w - k->head);
    return 0;
}

/* ---- the interface ---- */

int h1_new(struct h1 **out, uv_loop_t *loop, const struct h1_opts *o, h1_done_cb cb, void *ud) {
    struct h1 *c = calloc(1, sizeof(*c));
    if (!c)
        return SLUICE_ENOMEM;
    c->loop = loop;
    c->o = *o;
    if (c->o.connect_timeout_ms <= 0)
        c->o.connect_timeout_ms = H1_CONNECT_DEF;
    if (c->o.max_connections <= 0)
        c->o.max_connections = 64;
    c->cb = cb;
    c->ud = ud;
    c->q_tail = &c->q_head;
    *out = c;
    return 0;
}

int h1_send(struct h1 *c, struct xfer *x, const char *method, const char *url, const char *body,
            size_t body_len, const struct curl_slist *headers) {
    struct h1_origin parsed;
    const struct h1_origin *o = &c->memo;
    struct h1_host *h = c->memo_host;
    if (!h || strcmp(url, c->memo_url) != 0) {
        if (h1_parse_url(url, &parsed) < 0)
            return H1_DECLINED;
        h = host_find(c, url);
        if (!h && !(h = host_get(c, &parsed, url)))
            return H1_DECLINED; /* too many hosts, or no memory for one: curl copes */
        o = &parsed;
        size_t ul = strlen(url);
        if (ul < sizeof(c->memo_url)) {
            memcpy(c->memo_url, url, ul + 1);
            c->memo = parsed;
            c->memo.path = c->memo_url + (parsed.path - url);
            c->memo_host = h;
        } else {
            c->memo_host = NULL;
        }
    }
    if (h->proxied)
        return H1_DECLINED;
    if (headers != c->hdr_list || !c->hdrs) {
        int rc = headers_render(c, headers);
        if (rc < 0)
            return rc;
    }
    if (c->hdr_decline)
        return H1_DECLINED;
    struct h1_conn *k = h->idle;
    int fresh = 0;
    if (k) {
        idle_unlink(k);
        k->state = CONN_BUSY;
    } else {
        if (!(k = conn_new(c, h)))
            return SLUICE_ENOMEM;
        fresh = 1;
    }
    int with_body = strcmp(method, "GET") != 0 && (strcmp(method, "POST") == 0 || body_len > 0);
    if (head_build(c, k, method, o, with_body, body_len) < 0) {
        conn_close(k);
        return SLUICE_ENOMEM;
    }
    k->x = x;
    x->h1 = k;
    k->body = with_body ? body : NULL;
    k->body_len = with_body ? body_len : 0;
    k->is_head = strcmp(method, "HEAD") == 0;
    k->resent = 0;
    k->parked = k->parked_next_addr = 0;
    k->start_ms = uv_now(c->loop);
    k->end_ms = c->o.timeout_ms > 0 ? k->start_ms + (uint64_t)c->o.timeout_ms : 0;
    k->connect_end_ms = k->start_ms + (uint64_t)c->o.connect_timeout_ms;
    if (!fresh) {
        conn_write(k);
        return 0;
    }
    k->addr_i = 0;
    if (h->numeric ||
        (h->n_addrs > 0 && uv_now(c->loop) - h->resolved_at < (uint64_t)H1_DNS_TTL_MS))
        conn_connect(k);
    else {
        host_wait(h, k);
        if (k->state == CONN_LOOKUP)
            timer_arm(k);
    }
    return 0;
}

void h1_cancel(struct h1 *c, struct xfer *x) {
    (void)c;
    struct h1_conn *k = x->h1;
    if (!k)
        return;
    x->h1 = NULL;
    k->x = NULL;
    conn_close(k);
}

static void on_flush_closed(uv_handle_t *hd) {
    struct h1 *c = hd->data;
    c->pending--;
    if (c->pending == 0)
        h1_free(c);
}

void h1_free(struct h1 *c) {
    if (!c)
        return;
    if (!c->freeing) {
        c->freeing = 1;
        while (c->all) {
            struct h1_conn *k = c->all;
            if (k->x) {
                k->x->h1 = NULL;
                k->x = NULL;
            }
            conn_close(k); /* unlinks it */
        }
        for (int i = 0; i < c->n_hosts; i++)
            if (c->hosts[i]->resolving)
                uv_cancel((uv_req_t *)&c->hosts[i]->gai);
        if (c->flush_init) {
            c->pending++;
            uv_close((uv_handle_t *)&c->flush, on_flush_closed);
        }
    }
    if (c->pending > 0)
        return; /* the last close or lookup callback comes back here */
    for (int i = 0; i < c->n_hosts; i++) {
        free(c->hosts[i]->host_line);
        free(c->hosts[i]->origin);
        free(c->hosts[i]);
    }
    free(c->hdrs);
    free(c);
}
