/*
 * libcurl multi_socket on libuv. The pattern is curl's own "multi-uv" design: curl tells us
 * which sockets to watch (socket callback) and when to call it back (timer callback); libuv
 * tells curl when a socket is ready. One thread, no blocking calls.
 *
 * System calls: a connection's socket keeps its uv_poll handle for its whole life (we open and
 * close connection sockets ourselves, through curl's open/close socket callbacks). Between two
 * requests on a kept-alive connection it stays watched for "readable", so the next request
 * costs no epoll_ctl at all; an idle socket that turns readable (the server closed it) is
 * simply unwatched, and curl finds it dead when it next tries to reuse it. Other sockets curl
 * may ask us to watch (its resolver's) are watched only while curl says so: their close is
 * not ours to see.
 */
#include <unistd.h>
#include <sys/socket.h>
#include "transport.h"
#include "h1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sluice.h>

struct transport {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct transport_opts o;
    transport_done_cb cb;
    void *ud;
    CURL **free_easy; /* reusable easy handles */
    int n_free, cap_free;
    int active;
    int no_proxy_env; /* no proxy variable is set: tell curl, so it stops looking per request */
    struct sock_ctx *socks;
    struct sock_ctx **conn_by_fd; /* the connection sockets we opened, by descriptor */
    size_t n_conn_by_fd;
    struct h1 *h1; /* the plain-HTTP/1.1 fast path, or NULL when turned off */
};

/* One watched socket; curl_multi_assign() ties it to curl's socket. */
struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct transport *t;
    int events; /* what uv_poll watches now */
    int conn;   /* a connection socket: we see its close, so its handle may outlive a REMOVE */
    int idle;   /* curl said REMOVE: between two requests on a kept-alive connection */
    int closed; /* its handle is closing: curl may still name it once, in a late REMOVE */
    struct sock_ctx *prev, *next; /* all open ones, so transport_free can close them */
};

static void sock_close(struct transport *t, struct sock_ctx *c);

static void check_done(struct transport *t);

static void on_sock_closed(uv_handle_t *h) {
    free(h->data);
}

static void on_poll(uv_poll_t *p, int status, int events) {
    struct sock_ctx *c = p->data;
    struct transport *t = c->t;
    if (c->idle) {
        /* Not curl's business until it reuses the connection, when it checks it is alive. */
        uv_poll_stop(&c->poll);
        c->events = 0;
        return;
    }
    int flags = 0;
    int running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(t->multi, c->fd, flags, &running);
    check_done(t);
}

static struct sock_ctx *sock_new(struct transport *t, curl_socket_t fd) {
    struct sock_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->fd = fd;
    c->t = t;
    if (uv_poll_init_socket(t->loop, &c->poll, fd) != 0) {
        free(c);
        return NULL;
    }
    c->poll.data = c;
    c->next = t->socks;
    if (t->socks)
        t->socks->prev = c;
    t->socks = c;
    return c;
}

static void sock_close(struct transport *t, struct sock_ctx *c) {
    if (c->closed)
        return;
    c->closed = 1;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->socks = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->conn && (size_t)c->fd < t->n_conn_by_fd && t->conn_by_fd[c->fd] == c)
        t->conn_by_fd[c->fd] = NULL;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, on_sock_closed);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    struct transport *t = userp;
    struct sock_ctx *c = socketp;
    (void)easy;
    if (!c && fd >= 0 && (size_t)fd < t->n_conn_by_fd)
        c = t->conn_by_fd[fd];
    if (what == CURL_POLL_REMOVE) {
        if (!c || c->closed)
            return 0;
        curl_multi_assign(t->multi, fd, NULL);
        if (!c->conn) {
            sock_close(t, c);
            return 0;
        }
        /* A kept-alive connection: keep watching it for "readable" (no system call when that
           is what it already watches) until curl needs it again or closes it. */
        c->idle = 1;
        if (c->events != UV_READABLE) {
            uv_poll_start(&c->poll, UV_READABLE, on_poll);
            c->events = UV_READABLE;
        }
        return 0;
    }
    if (c && c->closed)
        c = NULL; /* a descriptor number reused after its close: a new socket */
    if (!c && !(c = sock_new(t, fd)))
        return -1;
    c->idle = 0;
    curl_multi_assign(t->multi, fd, c);
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    if (events != c->events) {
        uv_poll_start(&c->poll, events, on_poll);
        c->events = events;
    }
    return 0;
}

/* curl opens a connection's socket through us, so that we know it is one we will see closed. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose,
                                    struct curl_sockaddr *addr) {
    struct transport *t = clientp;
    (void)purpose;
    curl_socket_t fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    if (fd < 0)
        return CURL_SOCKET_BAD;
    if ((size_t)fd >= t->n_conn_by_fd) {
        size_t n = (size_t)fd * 2 + 64;
        struct sock_ctx **nb = realloc(t->conn_by_fd, n * sizeof(*nb));
        if (!nb) {
            close(fd);
            return CURL_SOCKET_BAD;
        }
        memset(nb + t->n_conn_by_fd, 0, (n - t->n_conn_by_fd) * sizeof(*nb));
        t->conn_by_fd = nb;
        t->n_conn_by_fd = n;
    }
    struct sock_ctx *c = sock_new(t, fd);
    if (!c) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    c->conn = 1;
    t->conn_by_fd[fd] = c;
    return fd;
}

/* ... and closes it through us: the handle goes first, so epoll never holds a stale fd. */
static int on_close_socket(void *clientp, curl_socket_t fd) {
    struct transport *t = clientp;
    if (fd >= 0 && (size_t)fd < t->n_conn_by_fd && t->conn_by_fd[fd])
        sock_close(t, t->conn_by_fd[fd]);
    return close(fd);
}

static void on_timeout(uv_timer_t *timer) {
    struct transport *t = timer->data;
    int running;
    curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(t);
}

/* curl asks to be called back in timeout_ms; -1 means no timer is needed. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp) {
    struct transport *t = userp;
    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(&t->timer);
    else
        uv_timer_start(&t->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* A body buffer larger than this is freed after its answer (xfer_trim). */
#define XFER_BODY_KEEP ((size_t)1 << 20)

/* The attempt's answer is larger than the caller takes: say so, in bytes and by the flag's
   name, since that is what a user can change. */
static int xfer_too_large(struct xfer *x) {
    x->too_large = 1;
    snprintf(x->err, sizeof(x->err),
             "the answer is larger than the %zu bytes allowed (--max-response-bytes)",
             x->owner->o.max_body);
    return -1;
}

int xfer_body_length(struct xfer *x, uint64_t len) {
    return len > x->owner->o.max_body ? xfer_too_large(x) : 0;
}

int xfer_body_append(struct xfer *x, const char *data, size_t len) {
    /* A JSON API answer larger than max_body is a fault, not something to buffer. */
    if (len > x->owner->o.max_body - x->body_len)
        return xfer_too_large(x);
    if (x->body_len + len + 1 > x->body_cap) {
        /* Start small: with 10,000 requests in flight, answers of a few hundred bytes must not
           each hold pages of buffer (bench/memory.sh). It doubles as needed and is reused. */
        size_t cap = x->body_cap ? x->body_cap : 1024;
        while (cap < x->body_len + len + 1)
            cap *= 2;
        if (cap > x->owner->o.max_body + 1)
            cap = x->owner->o.max_body + 1;
        char *nb = realloc(x->body, cap);
        if (!nb)
            return -1;
        x->body = nb;
        x->body_cap = cap;
    }
    memcpy(x->body + x->body_len, data, len);
    x->body_len += len;
    x->body[x->body_len] = '\0';
    return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp) {
    size_t len = size * n;
    return xfer_body_append(userp, data, len) == 0 ? len : CURL_WRITEFUNC_ERROR;
}

static int64_t epoch_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void xfer_answer_begin(struct xfer *x) {
    classify_hdrs_init(&x->hdrs);
    /* The wall clock is read once per answer (for HTTP-date and RFC 3339 hints), not once per
       header line. */
    x->answer_epoch_ms = epoch_ms();
    x->body_is_json_type = 0;
}

void xfer_header(struct xfer *x, const char *data, size_t len) {
    if (len > 13 && strncasecmp(data, "content-type:", 13) == 0) {
        const char *v = data + 13;
        size_t vl = len - 13;
        /* application/json, application/problem+json, ...; parameters may follow */
        for (size_t i = 0; i + 4 <= vl; i++) {
            if ((v[i] | 0x20) == 'j' && (v[i + 1] | 0x20) == 's' && (v[i + 2] | 0x20) == 'o' &&
                (v[i + 3] | 0x20) == 'n') {
                x->body_is_json_type = 1;
                break;
            }
        }
        return;
    }
    classify_header(&x->hdrs, data, len, x->answer_epoch_ms);
}

static size_t on_header(char *data, size_t size, size_t n, void *userp) {
    struct xfer *x = userp;
    size_t len = size * n;
    /* A new status line starts a new answer (after 100 Continue or a redirect): forget the
       headers of the previous one. */
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
        xfer_answer_begin(x);
    else
        xfer_header(x, data, len);
    return len;
}

/* The fast path's attempts end here, like curl's in check_done(). */
static void on_h1_done(struct xfer *x, void *ud) {
    struct transport *t = ud;
    t->active--;
    t->cb(x, t->ud);
}

int transport_new(struct transport **out, uv_loop_t *loop, const struct transport_opts *o,
                  transport_done_cb cb, void *ud) {
    struct transport *t = calloc(1, sizeof(*t));
    if (!t)
        return SLUICE_ENOMEM;
    t->loop = loop;
    t->o = *o;
    if (t->o.max_body == 0)
        t->o.max_body = (size_t)1 << 30;
    t->cb = cb;
    t->ud = ud;
    /* curl reads the proxy variables (http_proxy, HTTPS_PROXY, ALL_PROXY, NO_PROXY ...) for
       every transfer; when none is set, saying so once saves those lookups. */
    static const char *const proxy_vars[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                                             "HTTPS_PROXY", "all_proxy",  "ALL_PROXY"};
    t->no_proxy_env = 1;
    for (size_t i = 0; i < sizeof(proxy_vars) / sizeof(proxy_vars[0]); i++) {
        const char *v = getenv(proxy_vars[i]);
        if (v && *v)
            t->no_proxy_env = 0;
    }
    if (o->fastpath) {
        struct h1_opts ho = {.timeout_ms = o->timeout_ms,
                             .connect_timeout_ms = o->connect_timeout_ms,
                             .max_connections = o->max_connections};
        if (h1_new(&t->h1, loop, &ho, on_h1_done, t) < 0)
            goto fail;
    }
    t->multi = curl_multi_init();
    if (!t->multi)
        goto fail;
    if (uv_timer_init(loop, &t->timer) != 0)
        goto fail_multi;
    t->timer.data = t;
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
    curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    if (o->max_connections > 0)
        curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, (long)o->max_connections);
    *out = t;
    return 0;
fail_multi:
    curl_multi_cleanup(t->multi);
fail:
    h1_free(t->h1); /* nothing open yet: freed at once */
    free(t);
    return SLUICE_ECURL;
}

static CURL *easy_take(struct transport *t) {
    if (t->n_free > 0)
        return t->free_easy[--t->n_free];
    return curl_easy_init();
}

static void easy_give(struct transport *t, CURL *e) {
    if (t->n_free == t->cap_free) {
        int cap = t->cap_free ? t->cap_free * 2 : 64;
        CURL **nf = realloc(t->free_easy, (size_t)cap * sizeof(*nf));
        if (!nf) {
            curl_easy_cleanup(e);
            return;
        }
        t->free_easy = nf;
        t->cap_free = cap;
    }
    curl_easy_reset(e);
    t->free_easy[t->n_free++] = e;
}

int transport_send(struct transport *t, struct xfer *x, const char *method, const char *url,
                   const char *body, size_t body_len, struct curl_slist *headers) {
    x->status = 0;
    x->tr = TRANSPORT_OK;
    x->err[0] = '\0';
    x->tls_unverified = 0;
    x->too_large = 0;
    xfer_trim(x);
    x->body_len = 0;
    x->body_is_json_type = 0;
    classify_hdrs_init(&x->hdrs);
    x->owner = t;
    x->easy = NULL;
    x->h1 = NULL;
    if (t->h1) {
        x->started_ns = uv_hrtime();
        int rc = h1_send(t->h1, x, method, url, body, body_len, headers);
        if (rc == 0)
            t->active++;
        if (rc <= 0)
            return rc;
    }
    CURL *e = easy_take(t);
    if (!e)
        return SLUICE_ECURL;
    x->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        if (body && body_len) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        }
    }
    /* An answer that announces more than max_body is refused before its body is read. */
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->o.max_body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->err);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, t->o.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, t->o.connect_timeout_ms);
    /* Over TLS, HTTP/2 may multiplex: wait for a stream on a connection being set up rather
       than open one more. Plain http:// is HTTP/1.1 here, where waiting only holds requests
       back (with 10,000 in flight it kept most of them from starting). */
    if (strncasecmp(url, "https://", 8) == 0)
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    if (t->no_proxy_env)
        curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, t);
    if (t->o.cacert)
        curl_easy_setopt(e, CURLOPT_CAINFO, t->o.cacert);
    if (t->o.insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    x->started_ns = uv_hrtime();
    if (curl_multi_add_handle(t->multi, e) != CURLM_OK) {
        easy_give(t, e);
        x->easy = NULL;
        return SLUICE_ECURL;
    }
    t->active++;
    return 0;
}

static enum classify_transport map_curl(CURLcode rc) {
    switch (rc) {
    case CURLE_OK:
        return TRANSPORT_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return TRANSPORT_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return TRANSPORT_CONNECT;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
        return TRANSPORT_RESET;
    default:
        return TRANSPORT_OTHER;
    }
}

static void check_done(struct transport *t) {
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(t->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        struct xfer *x = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
        long code = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        curl_multi_remove_handle(t->multi, e);
        t->active--;
        x->tr = map_curl(rc);
        if (rc == CURLE_FILESIZE_EXCEEDED || (rc == CURLE_WRITE_ERROR && x->too_large)) {
            xfer_too_large(x); /* in place of curl's words */
            x->tr = TRANSPORT_TOO_LARGE;
        }
        x->tls_unverified = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE;
        x->status = x->tr == TRANSPORT_OK || x->tr == TRANSPORT_TOO_LARGE ? (int)code : 0;
        if (x->tr != TRANSPORT_OK && x->err[0] == '\0')
            snprintf(x->err, sizeof(x->err), "%s", curl_easy_strerror(rc));
        x->latency_ms = (double)(uv_hrtime() - x->started_ns) / 1e6;
        x->easy = NULL;
        easy_give(t, e);
        t->cb(x, t->ud);
    }
}

void transport_cancel(struct transport *t, struct xfer *x) {
    if (x->h1) {
        h1_cancel(t->h1, x);
        t->active--;
        return;
    }
    if (!x->easy)
        return;
    curl_multi_remove_handle(t->multi, x->easy);
    easy_give(t, x->easy);
    x->easy = NULL;
    t->active--;
}

int transport_active(const struct transport *t) {
    return t->active;
}

void xfer_trim(struct xfer *x) {
    if (x->body_cap > XFER_BODY_KEEP)
        xfer_release(x);
}

void xfer_release(struct xfer *x) {
    free(x->body);
    x->body = NULL;
    x->body_len = x->body_cap = 0;
}

static void on_timer_closed(uv_handle_t *h) {
    struct transport *t = h->data;
    free(t);
}

void transport_free(struct transport *t) {
    if (!t)
        return;
    /* Attempts still in flight must have been cancelled. curl may or may not report its
       sockets as removed during cleanup; whatever it leaves open is closed here. */
    h1_free(t->h1);
    curl_multi_cleanup(t->multi);
    while (t->socks)
        sock_close(t, t->socks); /* unlinks it */
    free(t->conn_by_fd);
    for (int i = 0; i < t->n_free; i++)
        curl_easy_cleanup(t->free_easy[i]);
    free(t->free_easy);
    uv_timer_stop(&t->timer);
    uv_close((uv_handle_t *)&t->timer, on_timer_closed);
}
