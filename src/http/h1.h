#ifndef SLUICE_H1_H
#define SLUICE_H1_H

/*
 * The plain-HTTP/1.1 fast path: a small client on libuv + http_parser that the transport uses
 * instead of libcurl for http:// URLs that no proxy applies to. libcurl 7.88 costs ~83,000
 * instructions per request (URL parsing and printing, a connection-cache scan, two poll(2)
 * liveness checks per reuse: bench/NOTES.md), more than a request's whole CPU budget; this
 * path does the same job in a few thousand. https://, proxies and anything unusual stay with
 * libcurl (the reference client): h1_send() declines them.
 *
 * What it does: a keep-alive pool of connections per host:port (one request per connection
 * at a time, no pipelining; at most max_connections idle ones kept), asynchronous name
 * lookups with a 60 s cache (numeric hosts need none), connect and per-attempt timeouts,
 * Content-Length, chunked and read-until-close answers. A request that meets a closed
 * kept-alive connection before any byte of its answer is sent again once on a fresh one, as
 * libcurl does. The xfer is filled exactly as the curl path fills it (status, headers through
 * the classifier, body, transport outcome, error words, latency).
 *
 * System calls per request on a warm connection: one write (head and body in one writev),
 * one read into a 64 KiB buffer; the socket stays registered for "readable" for its whole
 * life, so there is no epoll_ctl per request.
 */
#include <curl/curl.h>
#include <uv.h>

#include "transport.h"

struct h1;

struct h1_opts {
    long timeout_ms;         /* per attempt, from the send; 0: none (as curl) */
    long connect_timeout_ms; /* name lookup + connect; 0: 300 s (curl's default) */
    int max_connections;     /* idle connections kept for reuse, all hosts together */
};

/* Called once per attempt that was sent and not cancelled, from a loop callback. */
typedef void (*h1_done_cb)(struct xfer *x, void *ud);

/* h1_send()'s answer when the request is not for the fast path: send it through curl. */
#define H1_DECLINED 1

/* Creates the client on `loop`. Returns 0 or SLUICE_ENOMEM. */
int h1_new(struct h1 **out, uv_loop_t *loop, const struct h1_opts *o, h1_done_cb cb, void *ud);

/*
 * Sends one attempt, as transport_send() (whose contract this is): `url` is read now, `body`
 * is borrowed until the done callback or h1_cancel(), `headers` is read now (the rendered
 * lines are cached by the list's address: a list must not change while it is in use).
 * The xfer's answer fields must have been reset by the caller. Returns 0 (the done callback
 * will come, never from inside this call), H1_DECLINED (not an http:// URL this path takes:
 * a proxy applies, a user name in the URL, a hand-made Content-Length ...), or a negative
 * SLUICE_E* code.
 */
int h1_send(struct h1 *c, struct xfer *x, const char *method, const char *url, const char *body,
            size_t body_len, const struct curl_slist *headers);

/* Cancels an attempt in flight (its connection is closed); its done callback is not called. */
void h1_cancel(struct h1 *c, struct xfer *x);

/* Closes every connection; memory is freed once the loop has run their close callbacks. */
void h1_free(struct h1 *c);

/* ---- pure helpers, exposed for tests ---- */

/* An http:// URL split up. host points into a caller buffer; brackets of IPv6 are removed. */
struct h1_origin {
    char host[256];
    int port;
    size_t authority_len; /* bytes of "http://authority" at the start of the URL */
    const char *path;     /* into the URL: "/..." or "?..." or "" */
    size_t path_len;      /* up to a '#' */
};

/* Splits `url`. Returns 0, or -1 when the fast path should not take it (not http://, user
 * info, a bad port, bytes that need escaping ...). */
int h1_parse_url(const char *url, struct h1_origin *o);

/* 1 when the comma-separated `no_proxy` list (curl's rules: "*", names and domain suffixes,
 * a leading dot optional) exempts `host`; 0 otherwise, and when an entry is beyond these
 * rules (a CIDR range, a port), so that curl decides. */
int h1_no_proxy_match(const char *no_proxy, const char *host);

/* 1 when the environment sends plain-HTTP requests to `host` through a proxy (http_proxy,
 * HTTP_PROXY, all_proxy, ALL_PROXY set, and no_proxy/NO_PROXY not exempting the host). */
int h1_proxy_applies(const char *host);

#endif
