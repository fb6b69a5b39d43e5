#ifndef SLUICE_TRANSPORT_H
#define SLUICE_TRANSPORT_H

/*
 * The transport: libcurl's multi_socket interface driven by a libuv loop (one uv_poll per
 * socket, one uv_timer for curl's timeout). Connection reuse and HTTP/2 multiplexing come from
 * sharing one multi handle; easy handles are reused through a free list.
 *
 * The transport knows nothing of retries or budgets: it sends one attempt and reports how it
 * ended through the done callback, with the status, headers (already read by the classifier's
 * header parser) and body.
 */
#include <curl/curl.h>
#include <uv.h>

#include "classify.h"

struct transport;

/* One attempt on the wire. Owned by the caller; the transport borrows it until done. Free
   its buffer with xfer_release() when the caller is done with the xfer for good. */
struct xfer {
    CURL *easy;                /* taken from the transport's free list while sending */
    struct classify_hdrs hdrs; /* headers of the final answer */
    char *body;                /* answer body (NUL-terminated); buffer reused */
    size_t body_len, body_cap;
    int status;                 /* HTTP status, 0 if none */
    int64_t answer_epoch_ms;    /* wall clock when the answer's status line arrived */
    enum classify_transport tr; /* how the attempt ended */
    int body_is_json_type;      /* Content-Type was application/json or +json */
    char err[CURL_ERROR_SIZE];  /* curl's words for a transport failure */
    int tls_unverified;         /* the failure was the peer's certificate */
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
    size_t max_body;     /* answers larger than this fail the attempt */
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

/* Attempts on the wire now. */
int transport_active(const struct transport *t);

/* Cancels everything, closes handles; the loop must run to finish closing (the engine does). */
void transport_free(struct transport *t);

#endif
