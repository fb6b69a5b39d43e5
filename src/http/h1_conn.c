/*
 * A connection of the fast path (h1.c for the whole): connecting to the host's addresses in
 * turn, writing the request (queued for one flush per loop turn), the attempt's timer, and
 * what becomes of the connection when the attempt ends: back to its host's idle list, or
 * closed. Failures found outside a loop callback are parked on the timer.
 */
#include "h1_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_timer(uv_timer_t *t);
static void queue_unlink(struct h1_conn *k);

/* ---- connections ---- */

static void host_unwait(struct h1_host *h, struct h1_conn *k) {
    for (struct h1_conn **p = &h->waiting; *p; p = &(*p)->wait_next) {
        if (*p == k) {
            *p = k->wait_next;
            k->wait_next = NULL;
            return;
        }
    }
}

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

struct h1_conn *h1_conn_new(struct h1 *c, struct h1_host *h) {
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

/* Closes the connection, whatever it was doing; the request on it (if any) must have been
   detached or reported first. Idempotent. */
void h1_conn_close(struct h1_conn *k) {
    if (k->state == CONN_CLOSING)
        return;
    if (k->state == CONN_IDLE)
        h1_idle_unlink(k);
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
void h1_timer_arm(struct h1_conn *k) {
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
void h1_conn_finish(struct h1_conn *k, enum classify_transport tr) {
    struct h1 *c = k->c;
    struct xfer *x = k->x;
    k->x = NULL;
    x->h1 = NULL;
    x->tr = tr;
    x->status = tr == TRANSPORT_OK || tr == TRANSPORT_TOO_LARGE ? k->status : 0;
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
        h1_conn_close(k);
    }
    c->cb(x, c->ud);
}

/* A failure: reported now when called from a loop callback with the request on `k`; the
   message is formatted into the xfer (curl's words where curl has some). */
void h1_conn_report(struct h1_conn *k, enum classify_transport tr, const char *msg) {
    snprintf(k->x->err, sizeof(k->x->err), "%s", msg);
    h1_conn_close(k);
    h1_conn_finish(k, tr);
}

/* A failure found where the engine cannot be called back yet: parked on the timer. */
void h1_conn_fail(struct h1_conn *k, enum classify_transport tr, const char *fmt, ...) {
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
    struct h1_conn *n = h1_conn_new(k->c, k->h);
    if (!n)
        return -1;
    conn_move_request(n, k);
    h1_conn_close(k);
    n->addr_i = next_addr;
    n->state = CONN_CONNECTING;
    h1_conn_connect(n);
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
        h1_conn_report(k, k->fail_tr, k->fail_msg);
        return;
    }
    uint64_t end = conn_deadline(k);
    if (!end || now < end) {
        h1_timer_arm(k); /* set for an earlier attempt, or before the connection was made */
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
    h1_conn_report(k, TRANSPORT_TIMEOUT, msg);
}

/* The request died on a connection that had carried others, before any byte of its answer:
   the server closed it while idle. Sent again once on a fresh connection, as curl does. */
int h1_conn_dead_reuse(struct h1_conn *k) {
    if (k->requests < 2 || k->got > 0 || k->resent)
        return 0;
    k->resent = 1;
    return conn_retry(k, 0) == 0;
}

/* ---- the request ---- */

static void on_write(uv_write_t *req, int status) {
    struct h1_conn *k = req->data;
    k->writing = 0;
    if (status == UV_ECANCELED || k->state == CONN_CLOSING || !k->x || k->parked)
        return;
    if (status < 0) {
        if (h1_conn_dead_reuse(k))
            return;
        char msg[H1_MSG_MAX];
        snprintf(msg, sizeof(msg), "Send failure: %s", uv_strerror(status));
        h1_conn_report(k, TRANSPORT_RESET, msg);
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
        if (!h1_conn_dead_reuse(k)) /* a kept-alive connection found dead only now */
            h1_conn_fail(k, TRANSPORT_RESET, "Send failure: %s", uv_strerror(n));
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
        h1_conn_fail(k, TRANSPORT_RESET, "Send failure: %s", uv_strerror(rc));
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
void h1_conn_write(struct h1_conn *k) {
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
    h1_timer_arm(k);
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
        h1_conn_report(k, TRANSPORT_CONNECT, msg);
        return;
    }
    uv_tcp_nodelay(&k->tcp, 1);
    if (uv_read_start((uv_stream_t *)&k->tcp, h1_on_alloc, h1_on_read) < 0) {
        h1_conn_report(k, TRANSPORT_CONNECT, "Failed to read from the connection");
        return;
    }
    h1_conn_write(k);
}

void h1_conn_connect(struct h1_conn *k) {
    struct h1_host *h = k->h;
    k->state = CONN_CONNECTING;
    h1_timer_arm(k);
    int rc = uv_tcp_connect(&k->creq, &k->tcp, (const struct sockaddr *)&h->addrs[k->addr_i],
                            on_connect);
    if (rc < 0) {
        /* another address may do: the timer starts over on a fresh handle */
        h1_conn_fail(k, TRANSPORT_CONNECT, "Failed to connect to %.100s port %d: %s", h->name,
                     h->port, uv_strerror(rc));
        k->parked_next_addr = k->addr_i + 1 < h->n_addrs;
    }
}
