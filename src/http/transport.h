#ifndef SLUICE_TRANSPORT_H
#define SLUICE_TRANSPORT_H

/*
 * The transport: libcurl's multi_socket interface driven by a libuv loop (one uv_poll per
 * socket, one uv_timer for curl's timeout). Connection reuse and HTTP/2 multiplexing come from
 * sharing one multi handle; easy handles are reused through a free list. Plain http:// URLs
 * that no proxy applies to go through the fast path in h1.c instead (libcurl's own cost per
 * request was more than the whole CPU budget), unless the options turn it off.
 *
 * The transport knows nothing of retries or budgets: it sends one attempt and reports how it
 * ended through the done callback, with the status, headers (already read by the classifier's
 * header parser) and body.
 */
#include <curl/curl.h>
#include <uv.h>

#include "classify.h"

struct transport;
struct h1_conn;

/* One attempt on the wire. Owned by the caller; the transport borrows it until done. Free
   its buffer with xfer_release() when the caller is done with the xfer for good. */
struct xfer {
    CURL *easy;                /* taken from the transport's free list while sending */
    struct h1_conn *h1;        /* or the fast path's connection while sending */
    struct classify_hdrs hdrs; /* headers of the final answer */
    char *body;                /* answer body (NUL-terminated); buffer reused */
    size_t body_len, body_cap;
    int status;                 /* HTTP status, 0 if none */
    int64_t answer_epoch_ms;    /* wall clock when the answer's status line arrived */
    enum classify_transport tr; /* how the attempt ended */
    int body_is_json_type;      /* Content-Type was application/json or +json */
    char err[CURL_ERROR_SIZE];  /* curl's words for a transport failure */
    int tls_unverified;         /* the failure was the peer's certificate */
    int too_large;              /* the answer would pass max_body (TRANSPORT_TOO_LARGE) */
    uint64_t started_ns;        /* uv_hrtime() when sent */
    double latency_ms;          /* when done */
    void *ud;                   /* the caller's */
    struct transport *owner;    /* set while sending */
};

typedef void (*transport_done_cb)(struct xfer *x, void *ud);

struct transport_opts {
    long timeout_ms;
    long connect_timeout_ms;
    const char *cacert; /* or NULL */
    int insecure;
    int max_connections; /* size of curl's connection cache */
    size_t max_body;     /* answers larger than this fail the attempt: TRANSPORT_TOO_LARGE */
    int fastpath;        /* 1: plain http:// through h1.c when no proxy applies */
};

/* Creates a transport on `loop`. */
int transport_new(struct transport **out, uv_loop_t *loop, const struct transport_opts *o,
                  transport_done_cb cb, void *ud);

/*
 * Sends one attempt: `method` to `url` with `body`/`body_len` (borrowed until done) and the
 * header list `headers` (borrowed). Returns 0, or a negative SLUICE_E* code when it could not
 * be started (the done callback is then not called).
 */
int transport_send(struct transport *t, struct xfer *x, const char *method, const char *url,
                   const char *body, size_t body_len, struct curl_slist *headers);

/* Cancels an attempt in flight; its done callback is not called. */
void transport_cancel(struct transport *t, struct xfer *x);

void xfer_release(struct xfer *x);

/*
 * How an answer reaches the xfer, shared by both HTTP clients so that the engine sees the
 * same thing whichever one sent the attempt:
 *   xfer_answer_begin() at each status line (forgets the headers of a 1xx or earlier answer,
 *   reads the wall clock once for the classifier's dates);
 *   xfer_header() per raw header line "Name: value\r\n" (Content-Type, then the classifier);
 *   xfer_body_length() when the answer announces its length (Content-Length): 0, or -1 when
 *   it passes max_body, before any of it is read;
 *   xfer_body_append() per piece of body: 0, or -1 when it would pass max_body or memory ran
 *   out.
 * After a -1, the attempt fails as TRANSPORT_TOO_LARGE when x->too_large is set (x->err then
 * says so), else as TRANSPORT_OTHER.
 */
void xfer_answer_begin(struct xfer *x);
void xfer_header(struct xfer *x, const char *line, size_t len);
int xfer_body_length(struct xfer *x, uint64_t len);
int xfer_body_append(struct xfer *x, const char *data, size_t len);

/*
 * Frees a body buffer that one large answer grew past what answers usually need, so that an
 * xfer waiting for its next attempt, or for none, does not keep it. Call it only once the body
 * has been used.
 */
void xfer_trim(struct xfer *x);

/* Attempts on the wire now. */
int transport_active(const struct transport *t);

/* Cancels everything, closes handles; the loop must run to finish closing (the engine does). */
void transport_free(struct transport *t);

#endif
