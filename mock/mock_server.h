/* The mock's shared state and the seams between its files:
 * mock_main.c (options, startup, signals), mock_server.c (sockets, HTTP parsing, writes) and
 * mock_handle.c (what each request gets: routing, limits, faults, delays, admin). */
#ifndef MOCK_SERVER_H
#define MOCK_SERVER_H

#include "mock_buf.h"
#include "mock_dialect.h"
#include "mock_faults.h"
#include "mock_limiter.h"
#include "mock_stats.h"

#include <http_parser.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#define MOCK_URL_MAX 2048
/* Bodies beyond this get a 413: a mock has no business buffering gigabytes. */
#define MOCK_BODY_MAX (64u << 20)

struct mock_config {
    char host[256];
    int port;
    enum mock_provider provider; /* --provider: header and error dialect */
    double latency_ms;           /* median */
    double jitter;               /* lognormal sigma */
    double ms_per_token;         /* per completion token */
    int64_t rpm, tpm;            /* 0: unlimited */
    int64_t itpm, otpm;          /* Anthropic's input and output token budgets; 0: none */
    enum mock_algo limiter;      /* --limiter: how --rpm and --tpm are enforced */
    double burst_s;              /* gcra, --itpm, --otpm: seconds of budget at once (--burst-s) */
    int burst_s_given;           /* --burst-s was given */
    int64_t burst;               /* --burst: requests beyond the first; -1: not given */
    int64_t token_burst;         /* --token-burst: bucket's tokens beyond the first request's; -1:
                                    not given */
    double window_s;             /* --window: fixed and sliding; 0: not given (60) */
    int64_t retry_after_s;       /* --retry-after: every rate 429's hint; -1: the exact wait */
    int rate_headers;            /* 0 with --no-rate-headers */
    int64_t max_concurrency;
    int overload_status;
    double fault_rate[MOCK_FAULT_COUNT];
    int64_t quota_after;     /* -1: no quota; else requests admitted before it is exhausted */
    double overloaded_rate;  /* probability of the dialect's overloaded answer */
    int64_t concurrency_429; /* 0: off; else the dialect's concurrency 429 above this */
    int auth_fail;           /* every API request gets a 401 */
    uint64_t seed;
    char request_log[512]; /* --request-log: one line per API request, or "" */
};

/* What a request left for later: the answer waiting for its timer, or a hang. */
enum mock_wait { MOCK_WAIT_NONE, MOCK_WAIT_TIMER, MOCK_WAIT_HANG };

struct mock;

/* One client connection. Requests on it are handled one at a time, in order: while one
 * waits for its timer the parser is paused and later (pipelined) bytes wait in `pending`,
 * which is what keeps answers in request order. */
struct mock_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    http_parser parser;
    struct mock *m;
    struct mock_conn *prev, *next;
    char url[MOCK_URL_MAX];
    size_t url_len;
    int url_too_long;
    char hname[20]; /* the start of the header name being read: Expect and the auth ones */
    size_t hname_len;
    int expect_continue;
    unsigned auth; /* MOCK_AUTH_* bits seen in this request's headers */
    int body_too_large;
    struct mock_buf body;    /* the request body being received */
    struct mock_buf pending; /* bytes read but not parsed yet while a request waits */
    struct mock_buf out;     /* answers ready to be written */
    struct mock_buf wbuf;    /* answers being written (owned by uv_write until on_write) */
    struct mock_buf later;   /* the answer of the waiting request */
    enum mock_wait wait;
    int later_status;     /* status line of `later`, counted when it is sent */
    int later_reset;      /* `later` is a cut answer: close the connection after it */
    int64_t later_prompt; /* tokens to count when `later` is a success */
    int64_t later_completion;
    uint64_t later_delay_ms;
    int in_flight; /* this connection holds one of stats.in_flight */
    int writing;
    int close_after; /* Connection: close, a reset fault or a protocol error */
    int reading;
    int closing;
    int open_handles;
};

struct mock {
    struct mock_config cfg;
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_signal_t sigint, sigterm;
    struct mock_limits limits;
    struct rng rng;
    struct mock_stats stats;
    int64_t outage_until_ms; /* loop time; /v1 requests get 503 before it */
    uint64_t admitted;       /* requests past the limits: what --quota-after counts */
    uint64_t error_seq;      /* error answers built so far (mock_err.seq) */
    uint64_t next_id;
    unsigned id_prefix; /* distinguishes the ids of two mock processes */
    json_tokener *tok;
    struct mock_buf scratch; /* the body of the answer being built */
    struct mock_conn *conns;
    int stopping;
    FILE *request_log; /* --request-log */
};

/* mock_server.c */
/* Binds and listens on cfg.host:cfg.port; on success sets cfg.port to the real port.
 * Returns 0 or a negative libuv error. */
int mock_server_listen(struct mock *m);
/* Closes the listener and every connection; the loop ends when their close callbacks ran. */
void mock_server_close(struct mock *m);

/* mock_handle.c */
/* Handles the complete request now in c (url, body, parser). Appends an immediate answer to
 * c->out, or leaves c->wait set (and the answer in c->later, the timer started). */
void mock_handle_request(struct mock_conn *c);
/* Called by the server when the waiting answer's timer fires: counts it and moves it to
 * c->out. */
void mock_handle_deliver(struct mock_conn *c);
/* Appends a plain error answer for a request the HTTP parser rejected, and asks to close. */
void mock_handle_bad_http(struct mock_conn *c, int status, const char *message);

#endif
