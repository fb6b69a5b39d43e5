#ifndef SLUICE_ENGINE_H
#define SLUICE_ENGINE_H

/* The engine's state, shared by its two files: api.c (lifecycle) and engine.c (scheduling). */
#include <sluice.h>

#include "backoff.h"
#include "concurrency.h"
#include "breaker.h"
#include "limiter.h"
#include "pacer.h"
#include "reach.h"
#include "retry_budget.h"
#include "histogram.h"
#include "http/transport.h"

/* Results handed over in a row that hold a slot until written, or that do not (engine.c). */
struct held_run {
    uint64_t n;
    int slot;
};

/* One request held by the engine: in flight, or waiting for its retry time. */
struct task {
    sluice_request_t *req;
    struct xfer x; /* the attempt; its body buffer is reused across tasks */
    int attempts;
    int refused; /* of which refused (429) or lost to an outage: not counted in max_attempts */
    int in_flight;
    int live;         /* holds a request */
    int body_is_json; /* of the last answer */
    uint64_t tokens_in, tokens_out;
    int64_t ready_at;    /* retry time, ms on the loop's clock */
    double charged;      /* tokens taken from the budget for the attempt in flight */
    int64_t sent_ms;     /* when the attempt in flight was sent, loop ms */
    uint32_t ticket;     /* the breaker's, for the attempt in flight */
    int fault;           /* its last attempt failed while the provider was up (5xx, reset) */
    int fault_in_flight; /* a retry after a fault is on the wire (the retry budget counts it) */
    char *url;           /* base URL + path; buffer reused */
    size_t url_cap;
    struct task *next_free;
    struct task *all_next; /* every task ever allocated, for abandon and free */
};

struct sluice_s {
    uv_loop_t *loop;
    int own_loop;
    struct transport *tr;
    struct curl_slist *headers;
    char *base_url;
    sluice_source_t src;
    sluice_result_cb cb;
    void *cb_ud;
    sluice_attempt_cb attempt_cb;
    void *attempt_ud;
    sluice_admit_cb admit_cb;
    void *admit_ud;
    double est_in_flight; /* sum of `charged` over attempts on the wire */
    struct rng rng;

    int limit;          /* slots: most attempts in flight */
    int hold_unwritten; /* sluice_hold_until_written(): results keep their slot until written */
    int unwritten;      /* results handed over, not yet reported written, that hold a slot */
    /* Every result handed over and not yet reported written, in order, as runs of those that
       hold a slot and those that do not (invalid lines): reports count lines, in that order. */
    struct held_run *held;
    size_t held_head, held_len, held_cap; /* a ring */
    int max_attempts;
    int64_t backoff_base_ms, backoff_cap_ms;

    struct sluice_limiter_s *lim;
    struct pacer pacer;       /* what rates to pace to */
    struct concurrency adapt; /* --concurrency auto */
    struct breaker br;        /* one per engine = one per base URL */
    struct reach reach;       /* has the base URL answered at all? */
    struct retry_budget rb;   /* retries take a bounded share of traffic (gRFC A6) */
    int retries_in_flight;
    int auto_conc;
    int limit_max;              /* the configured concurrency: no limit goes above it */
    int64_t max_retry_after_ms; /* a longer retry hint is treated as an exhausted quota */
    size_t max_response_bytes;  /* an answer, or its body in a result line, may take this much */
    int ss_slots;               /* slow start: most in flight until a rate is known (engine.c) */
    int64_t ss_doubled_ms;      /* when the slow start last doubled its slots */
    int readahead;
    struct task *pending; /* taken from the source or the heap, waiting for the budget */
    int in_flight, live;
    struct task **heap; /* waiting retries, earliest first */
    size_t heap_len, heap_cap;
    struct task *free_tasks, *all_tasks;
    uv_timer_t wake;     /* the next retry time or the end of a pause */
    int64_t pause_until; /* global cool-down: the end of a window a refusal named, loop ms */

    int invalid_run; /* invalid lines emitted by this dispatch */
    int yield;       /* this dispatch stopped pulling after INVALID_PER_DISPATCH of them */
    int src_eof, src_wait, dispatching, stopping, finished, running;
    sluice_stop_t stop_how;
    sluice_stopped_t stopped;
    char stop_detail[1024];
    int err;
    uint64_t started_ns;
    sluice_stats_t st;
    struct hist latency; /* per attempt that ended (not cancelled ones) */
    int closing;         /* handles whose close callbacks are pending */
};

/* Invalid lines emitted by one dispatch before it lets the loop turn (signals, the status
   line, the writer's batch). */
#define INVALID_PER_DISPATCH 1024

/* Slots of the slow start's first round (engine.c slow_start_tick). */
#define SLOW_START_SLOTS 4

void engine_dispatch(struct sluice_s *e);
/* The caller wrote the next n results handed over (sluice_results_written). */
void engine_on_written(struct sluice_s *e, size_t n);
/* 1 when every slot is taken: attempts on the wire plus results not yet written (held by
   sluice_hold_until_written). */
int engine_slots_full(const struct sluice_s *e);
/* The attempts allowed at once now: -c (or what -c auto allows), fewer during the warm-up. */
int engine_slots(const struct sluice_s *e);
/* Looks at the queue again soon (a limiter's answer came): safe from any loop callback. */
void engine_wake(void *ud);
void engine_stop(struct sluice_s *e, sluice_stopped_t why, sluice_stop_t how, const char *detail);
/* The attempt-done callback handed to the transport. */
void engine_on_done(struct xfer *x, void *ud);

#endif
