#ifndef SLUICE_H1_INT_H
#define SLUICE_H1_INT_H

/*
 * Internals of the plain-HTTP/1.1 fast path (h1.h), shared by its files: h1.c (the interface,
 * hosts and their name lookups, the request head), h1_conn.c (a connection's life: connect,
 * write, timers, failures, the idle pool) and h1_answer.c (reading and parsing the answer).
 * See h1.c for how they work together.
 */
#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>

#include "h1.h"

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
    int body_err; /* max_body passed (x->too_large), or out of memory */
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

/* ---- connections (h1_conn.c) ---- */

/* A fresh connection to `h`, in no list but the open ones; NULL when out of memory. */
struct h1_conn *h1_conn_new(struct h1 *c, struct h1_host *h);
/* Closes `k` in any state (idempotent); its request must be detached or reported first. */
void h1_conn_close(struct h1_conn *k);
/* Connects to the host's address addr_i, then writes the request on it. */
void h1_conn_connect(struct h1_conn *k);
/* Makes `k` carry its request: written at the next loop turn's start. */
void h1_conn_write(struct h1_conn *k);
/* Makes sure the timer fires by the attempt's deadline (lazily). */
void h1_timer_arm(struct h1_conn *k);
/* Reports the attempt's end to the engine and decides the connection's fate; from a loop
   callback only. */
void h1_conn_finish(struct h1_conn *k, enum classify_transport tr);
/* A failure reported now (from a loop callback, with the request on `k`): `msg` goes into
   the xfer, the connection is closed. */
void h1_conn_report(struct h1_conn *k, enum classify_transport tr, const char *msg);
/* The same for a failure found outside a loop callback (while sending): the timer reports it. */
void h1_conn_fail(struct h1_conn *k, enum classify_transport tr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 1 when the request died on a kept-alive connection before any byte of its answer and was
   sent again on a fresh one (once); 0: the caller reports the failure it had. */
int h1_conn_dead_reuse(struct h1_conn *k);

/* Takes an idle connection out of its host's idle list (on every reuse: inline). */
static inline void h1_idle_unlink(struct h1_conn *k) {
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

/* ---- the answer (h1_answer.c) ---- */

/* The read callbacks, registered once when the connection is made (reads never stop). */
void h1_on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf);
void h1_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

#endif
