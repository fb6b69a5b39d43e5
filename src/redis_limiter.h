#ifndef SLUICE_REDIS_LIMITER_H
#define SLUICE_REDIS_LIMITER_H

/*
 * The shared budget of distributed mode (DESIGN.md "Distributed mode"): the same GCRA as
 * limiter.c, for requests and for tokens, kept in one Redis hash and evaluated by one Lua script
 * on Redis's own clock (TIME). Every process that names the same key draws from one budget, and
 * no host's clock enters the arithmetic: no call here takes a time.
 *
 * Redis state, one hash per budget key, `sluice:limit:{KEY}` (the braces are a cluster hash tag):
 *   rpm, tpm   rates in force, per minute; 0 = unlimited
 *   burst      burst tolerance in seconds of budget (as limiter_local_new's burst_s)
 *   rtat, ttat theoretical arrival times for requests and tokens, ms on Redis's clock
 *   pause      shared cool-down: nothing is leased before this (ms on Redis's clock)
 *
 * Leasing. One script call per request would cost a round trip and a Redis command per request.
 * A worker instead leases k requests (and their estimated tokens) per call, with
 * k = redis_limiter_lease_size(): max(1, rate/60 x 50 ms), and never more than the burst. At
 * 6000 rpm that is 5, at 60000 rpm 50, at 600 rpm 1. A lease that has to wait is granted as a
 * reservation (redis_limiter_reserve's max_wait_ms): the one reply says when it may be used, so
 * a lease costs one command whatever the rate, and the token reconciliation of past requests
 * rides along in the next lease's call. Commands per request are then 1/k plus the rare
 * refusal, SET_RATES and PAUSE: at most 1 at low rates, about 0.2 at 6000 rpm; the 1.5 bound
 * holds as long as fewer than half the leases are refused, which a max_wait_ms of at least
 * 2 x workers x k x (60000/rate) ms guarantees in steady state (every worker holds at most the
 * lease in use and the next one).
 *
 * The burst that leasing adds: units a worker holds, granted but not yet sent, may go back to
 * back whenever it likes. Units sent in any window were either granted in that window (at most
 * what GCRA admits: burst + window/interval) or held at its start (at most k per worker, 2k when
 * the next lease is fetched ahead). So the provider sees at most
 *     burst + window/interval + workers x k        (x 2 with fetch-ahead)
 * requests in any window; at 6000 rpm with four workers that is 20 (40) requests, 0.2 s (0.4 s)
 * of budget on top of the configured burst. The same holds for tokens with the leased estimates.
 *
 * A PAUSE (one worker's 429 or Retry-After) refuses every later lease until it expires; leases
 * granted before it are not recalled, which is the same workers x k bound.
 *
 * Synchronous, over a blocking hiredis context, for now; the engine's asynchronous use comes
 * next. Return codes are the library's: 0 or 1 on success, SLUICE_EIO when Redis could not be
 * reached or did not answer (the outcome is unknown), SLUICE_EPARSE when it answered with an
 * error or with something that is not the script's reply, SLUICE_EINVAL for bad arguments.
 */
#include <stdint.h>

#include <hiredis/hiredis.h>

struct redis_limiter;

/*
 * Joins (or creates) the budget `key` over the connection `c`, which stays the caller's and
 * must outlive the limiter. A new hash takes rpm, tpm and burst_s (a negative value: 0 for the
 * rates, 0.5 s for the burst). An existing hash keeps its state; each rate or burst given
 * (>= 0) is set, rescaling outstanding debt as SET_RATES does, and a negative one keeps what is
 * shared. Loads the script (SCRIPT LOAD). Returns NULL when Redis failed or memory ran out.
 */
struct redis_limiter *redis_limiter_new(redisContext *c, const char *key, double rpm, double tpm,
                                        double burst_s);

/*
 * Leases `n_requests` requests and `tokens` tokens, now or not at all. Returns 1 when granted
 * (*wait_ms = 0), 0 when not yet with *wait_ms the ms until it would be (a shared pause
 * included), or a negative code. A cost larger than the burst is granted when the budget is at
 * rest and leaves a debt that later leases wait out, as gcra_wait() does.
 */
int redis_limiter_lease(struct redis_limiter *l, int n_requests, double tokens, int64_t *wait_ms);

/*
 * The lease the engine uses. First charges `tokens_delta` (reconciliation of earlier requests:
 * actual - estimated, may be negative), then leases as redis_limiter_lease() but also grants a
 * lease that is usable within `max_wait_ms`: it returns 1 with *wait_ms the time the caller must
 * still hold the lease before sending. Returns 0 when even that is too far, with *wait_ms the
 * ms until the lease would be granted with no hold (ask again after *wait_ms - max_wait_ms);
 * the delta is charged all the same. A negative code leaves the delta's fate unknown: it may
 * or may not have been charged.
 */
int redis_limiter_reserve(struct redis_limiter *l, int n_requests, double tokens,
                          double tokens_delta, int64_t max_wait_ms, int64_t *wait_ms);

/* Charges (delta > 0) or refunds (delta < 0) tokens after the fact; a refund never makes the
   budget richer than at rest. Returns 0 or a negative code. */
int redis_limiter_reconcile(struct redis_limiter *l, double tokens_delta);

/* Sets the shared rates per minute (0 = unlimited), from what this worker's pacer learned.
   Outstanding debt is rescaled to the new rate, as gcra_set_rate() does. 0 or negative. */
int redis_limiter_set_rates(struct redis_limiter *l, double rpm, double tpm);

/* Shared cool-down: no lease for anyone for `ms` from now (Redis's now); a shorter pause never
   cuts a longer one. 0 or negative. */
int redis_limiter_pause(struct redis_limiter *l, int64_t ms);

/* The shared rates as of the last reply from Redis (set by another worker, perhaps). */
void redis_limiter_rates(const struct redis_limiter *l, double *rpm, double *tpm);

/* Requests per lease for a budget of `per_minute` (0 = unlimited) and `burst_s`: the rule above.
   Unlimited budgets lease REDIS_LIMITER_LEASE_MAX at a time. */
#define REDIS_LIMITER_LEASE_MS  50
#define REDIS_LIMITER_LEASE_MAX 1000
int redis_limiter_lease_size(double per_minute, double burst_s);

void redis_limiter_free(struct redis_limiter *l);

#endif
