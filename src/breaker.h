#ifndef SLUICE_BREAKER_H
#define SLUICE_BREAKER_H

/*
 * A circuit breaker per base URL (Michael Nygard, "Release It!", 2007: closed -> open ->
 * half-open). When most recent attempts fail with 5xx or connection errors the provider is
 * taken to be down: the breaker opens and no request is sent for a cool-down; then a few
 * probes go out (half-open); a probe that gets an answer closes it, a probe that fails opens
 * it again with a cool-down twice as long (capped).
 *
 * Two departures from the textbook, because sluice is a batch runner, not a server:
 *  - While open, requests wait; they do not fail fast. Nothing a user asked for is written
 *    as failed because the provider had an outage. Only a long outage ends the run
 *    (breaker_gave_up(): stop as on SIGINT, exit 3, finish later with --resume).
 *  - Outcomes are tied to the state they were sent in (the ticket from breaker_on_send()).
 *    With a long --timeout, answers to requests sent before the breaker opened can arrive
 *    long after; they say nothing about the probes and must not close or re-open anything.
 *
 * Pure: every call takes the time (monotonic ms); nothing reads a clock, allocates or logs.
 * State moves from open to half-open by time alone, lazily, in the calls that take now_ms.
 *
 * How the engine uses it (so that "requests wait, they do not fail" holds end to end):
 *  - Ask breaker_wait() before every send, retries included, and let its answer bound every
 *    timer the dispatcher arms: a retry whose time has come must not re-arm a 0 ms wake-up
 *    while the breaker says wait (that spins the loop).
 *  - A FAIL after which the breaker is not closed (the one that tripped it, answers to
 *    requests in flight at the time, failed probes) is the outage's, not the request's: it
 *    does not count towards --max-attempts, and the retry needs no backoff of its own (the
 *    breaker paces it). Otherwise a long outage writes its probe requests as failed.
 *  - Check breaker_gave_up() when dispatching and stop as on SIGINT (drain, exit 3).
 */
#include <stdint.h>

/* The window is a bit set of the last attempts: at most this many are considered. */
#define BREAKER_WINDOW_MAX 64

/*
 * What breaker_wait() returns in half-open while every probe is out: re-ask after this long,
 * or sooner when an attempt completes. A positive value rather than a "wait for a completion"
 * sentinel, so that an engine that only knows "0 = go, > 0 = arm a timer" cannot turn it
 * into a burst of probes, and cannot stall if a probe's outcome is lost.
 */
#define BREAKER_PROBE_POLL_MS 1000

enum breaker_state {
    BREAKER_CLOSED,    /* requests flow; outcomes fill the window */
    BREAKER_OPEN,      /* nothing is sent until the cool-down ends */
    BREAKER_HALF_OPEN, /* up to `probes` requests are out to test the provider */
};

enum breaker_outcome {
    /* Any answer that shows the provider is up: 2xx, 4xx, and 429 (rate limits are the
       pacer's business, not an outage). */
    BREAKER_OK,
    /* The provider is failing: 5xx (including overloaded 503/529), connection refused or
       reset, timeouts. */
    BREAKER_FAIL,
    /* Says nothing about the provider (cancelled by us, a local error): frees the attempt's
       probe slot and changes nothing else. */
    BREAKER_NEUTRAL,
};

struct breaker_config {
    int window;               /* recent attempts considered (1..BREAKER_WINDOW_MAX) */
    double open_ratio;        /* opens when MORE than this share of the window failed */
    int min_attempts;         /* ...and at least this many attempts are in the window */
    int64_t cooldown_ms;      /* first cool-down after opening */
    int64_t cooldown_max_ms;  /* the cool-down doubles with each failed probe, up to this */
    int probes;               /* requests allowed out at once in half-open */
    int64_t give_up_after_ms; /* breaker_gave_up() after this long without success; 0 never */
};

struct breaker {
    struct breaker_config cfg;
    enum breaker_state state;
    uint32_t epoch;        /* bumped on every change of state; tickets older are stale */
    uint64_t window_bits;  /* bit i set: the (i+1)-th most recent attempt failed */
    int window_n;          /* attempts in the window */
    int window_fails;      /* set bits among them */
    int64_t cooldown_ms;   /* the current cool-down (grows while the outage lasts) */
    int64_t open_until_ms; /* OPEN: half-open from this time */
    int64_t outage_since;  /* when it last left CLOSED */
    int probes_out;        /* HALF_OPEN: probes sent and not yet answered */
    uint64_t trips;        /* CLOSED -> OPEN transitions (outages), for stats */
};

/*
 * The defaults: window 20, open_ratio 0.5 (more than half failed = "most"), min_attempts 10,
 * cool-down 1 s doubling to 30 s, 2 probes, give up after 15 minutes.
 */
void breaker_config_init(struct breaker_config *c);

/* Starts closed with an empty window. Out-of-range config values are clamped. */
void breaker_init(struct breaker *b, const struct breaker_config *c);

/*
 * How long (ms) until a request may be sent: 0 = now (closed, or a probe slot is free in
 * half-open); in open, the rest of the cool-down; in half-open with every probe out,
 * BREAKER_PROBE_POLL_MS (re-ask sooner after each completion). Moves open to half-open when
 * the cool-down is over.
 */
int64_t breaker_wait(struct breaker *b, int64_t now_ms);

/*
 * A request goes now (call only when breaker_wait() said 0). In half-open it takes a probe
 * slot. Returns the attempt's ticket: pass it back to breaker_record() with its outcome.
 */
uint32_t breaker_on_send(struct breaker *b, int64_t now_ms);

/*
 * The attempt with `ticket` ended with `o`. Only attempts sent in the current state count:
 *  - closed: the outcome enters the window; the breaker opens (trips) when the window holds
 *    at least min_attempts and more than open_ratio of them failed.
 *  - half-open: a success closes it (window cleared, cool-down reset); a failure opens it
 *    again for twice the cool-down (capped). The first probe to answer decides.
 *  - open: nothing counts (nothing was sent in this state).
 * A stale ticket (sent before the last change of state) is ignored.
 */
void breaker_record(struct breaker *b, int64_t now_ms, uint32_t ticket, enum breaker_outcome o);

/* The state at now_ms (open turns half-open when its cool-down ends). */
enum breaker_state breaker_state(const struct breaker *b, int64_t now_ms);

/* Times it opened from closed: one per outage, however many probe rounds it took. */
uint64_t breaker_trips(const struct breaker *b);

/* How long (ms) the current outage has lasted: since it opened from closed; 0 when closed. */
int64_t breaker_outage_ms(const struct breaker *b, int64_t now_ms);

/*
 * Nonzero once the provider has been down (open or half-open, no success) for
 * give_up_after_ms: the engine stops as on SIGINT and the run exits 3 for --resume.
 */
int breaker_gave_up(const struct breaker *b, int64_t now_ms);

#endif
