#ifndef SLUICE_REACH_H
#define SLUICE_REACH_H

/*
 * Is the base URL reachable at all? Until a first answer comes, a host that does not resolve
 * or a port that refuses connections is almost surely a wrong --base-url, not a provider that
 * is down: waiting --give-up-after (15 minutes) for it looked like a slow provider. So while
 * nothing has answered, failures to resolve or to connect that go on for a grace end the run.
 * The grace is there for a local server that is still loading its model and refuses
 * connections for a while. Once anything has answered (any status), the URL is right, and
 * such failures are an outage: the circuit breaker's business, never this one's again.
 *
 * Timeouts and resets are not counted, and they start the count over: something is there.
 * (TLS certificate errors stop the run at once, in the engine: retrying cannot fix them.)
 *
 * Pure: every call takes the time (monotonic ms); nothing reads a clock.
 */
#include <stdint.h>

#include "classify.h"

struct reach {
    int64_t grace_ms;      /* 0: never give up */
    int answered;          /* an HTTP answer has come */
    int64_t failing_since; /* the first of the unbroken run of connect failures; -1: none */
};

void reach_init(struct reach *r, int64_t grace_ms);

/* One attempt ended with `tr` at now_ms. */
void reach_record(struct reach *r, int64_t now_ms, enum classify_transport tr);

/* When reach_gave_up() turns true if nothing else happens (monotonic ms), or -1: never. */
int64_t reach_deadline(const struct reach *r);

/* 1 when nothing has answered and connect failures have gone on for the grace. */
int reach_gave_up(const struct reach *r, int64_t now_ms);

#endif
