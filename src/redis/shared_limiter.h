#ifndef SLUICE_REDIS_LIMITER_H
#define SLUICE_REDIS_LIMITER_H

/*
 * The shared budget of distributed mode (docs/DESIGN.md "Distributed mode"): the same GCRA as
 * limiter.c, for requests and for tokens, kept in one Redis hash and evaluated by one Lua script
 * on Redis's own clock (TIME). Every process that names the same key draws from one budget, and
 * no host's clock enters the arithmetic: no call here takes a time (but redis_limiter_clock,
 * for tests).
 *
 * Redis state, one hash per budget key, `sluice:limit:{KEY}` (the braces are a cluster hash tag):
 *   rpm, tpm   rates in force, per minute; 0 = unlimited
 *   burst      burst tolerance in seconds of budget (as limiter_local_new's burst_s)
 *   rtat, ttat theoretical arrival times for requests and tokens, ms on Redis's clock
 *   pause      shared cool-down: nothing is leased before this (ms on Redis's clock)
 *
 * Leasing. One script call per request would cost a round trip and a Redis command per request.
 * A worker instead leases k requests (and their estimated tokens) per call, with
 * k = redis_limiter_lease_size(): max(1, rate/60 x 50 ms); for a token budget the rate counts
 * requests of the average size (tpm / tokens per request), and the smaller k of the two budgets
 * applies. At 6000 rpm that is 5, at 60000 rpm 50, at 600 rpm 1; 1000 when both budgets are
 * unlimited. A lease of k requests takes k consecutive slots of the shared request schedule,
 * [s, s + k x interval), s = the TAT (or now, when the TAT is in the past), and its tokens their
 * slots of the token schedule the same way. The reply says where they start, as ms after the
 * reply's own time, and the worker spends unit i no earlier than s + i x interval on its own
 * clock (the reply's receive time + that offset). A lease whose first slot is ahead is granted
 * all the same, as a reservation, when that slot is within redis_limiter_reserve's max_wait_ms:
 * so a lease costs one command whatever the rate, and the token reconciliation of past
 * requests rides along in the next lease's call.
 *
 * The engine's limiter (lease.c, asynchronous) applies these rules:
 *   - wait() says 0 when a request unit (and, while tpm is limited, the request's tokens) is
 *     held and its slot has started: the request unit's, and the first token's (of the later
 *     lease, when its tokens span two). A burst, when one is given, lets a unit go that much
 *     before its slot (GCRA's tolerance: burst - one interval). Otherwise it returns the best
 *     known wait: the time to that slot; the time a refusal named (a refused reservation asks
 *     again when its wait is back within max_wait, a refusal for the shared pause when the
 *     pause ends); 250 ms while a call is in flight; 1 s while Redis is unreachable. The reply,
 *     or Redis coming back, calls wake.
 *   - A unit whose slot started more than half an interval ago (half a request's tokens, when
 *     longer; at least LEASE_LATE_MIN_MS, 2) is dropped, with a request's tokens: sent that late,
 * it would go in another worker's slot. This is the local limiter's tolerance, for timer lateness
 * only.
 *   - Fetch ahead: when the requests held fall to k/2, the next lease of k is asked for, so the
 *     steady state never waits on a round trip; a worker holds at most 1.5 k requests. A lease
 *     that missed slots (its worker had no request ready, or no free connection, when they
 *     came) makes the next one only as large as what it used; each lease used whole doubles it
 *     again, up to k; a lease of one is asked for only by a waiting request. So a worker that
 *     cannot keep pace with its slots leases what it uses, not slots to miss. Tokens asked =
 *     the waiting request's estimate + a running average of the estimates (16 requests) for
 *     every other request held or asked for, less the tokens held; a request needing more
 *     tokens than all those held asks for the missing tokens alone.
 *   - One call in flight at most (precedence: init, pause, rates, lease, a lone reconcile) and
 *     one timer, for "ask again at T"; nothing is asked on a schedule, so an idle worker is
 *     silent.
 *   - max_wait_ms = 32 leases' worth of budget (within 1 s .. 60 s): room for every worker's
 *     lease in use and the next one, so leases are refused only under more than ~20 workers.
 *   - Token deltas (actual - estimated) are summed and ride on the next lease; with no lease
 *     within 1 s they go alone. A call carrying a delta that gets no answer leaves the delta's
 *     fate unknown: a charge is sent again (at worst charged twice: the workers send a little
 *     less), a refund is dropped (at worst lost: the same). Never the other way, which could
 *     overrun the provider's budget. NOLIMIT (the script changed nothing) re-sends either.
 *   - set_rates sends the pacer's rates only when they differ from the shared ones, and a 0
 *     ("not known here") never overwrites a rate another worker learned. Every reply carries
 *     the shared rates: the rates op reports them. When they change, units held beyond 1.5
 *     leases at the new rates are dropped, and a lease of several sized for the old rates is
 *     refused by the script and sized again, so a worker that leased 1000 from an unlimited
 *     budget neither sends them all nor takes 1000 more as debt after a limit became known.
 *   - Redis unreachable (the connection went down, or a call got no answer): nothing new is
 *     leased and every unit held is dropped, as docs/DESIGN.md says: no request while Redis is
 *     unreachable. (They were granted, so using them would be within the budget; but they
 *     would be sent during the outage.) When Redis is back the limiter asks at once.
 * Commands per request are then 1/k plus the rare refusal, SET_RATES, PAUSE and lone
 * reconcile: 0.2 at 6000 rpm, 0.001 unlimited, at most about 1 at low rates or for a worker
 * that cannot keep pace with its slots (which sends less than its share anyway). (INFO
 * commandstats also counts the commands the script runs, TIME, HMGET and HSET: 4 per lease.)
 *
 * Pacing. Each unit sent holds a slot of its own in one schedule, the slots one interval apart,
 * and goes no earlier than its slot starts (less the burst's tolerance, when a burst is given)
 * and no later than half an interval after. So the sends of all workers together are paced as
 * if one process sent them: in any window the provider sees at most
 *     window/interval + cap/interval + 1/2 requests, with cap = max(burst, interval),
 * which with no burst (the default) is the budget + 1.5, no two sends closer than half an
 * interval: leasing adds no burst. Each worker places the slots on its own clock from a
 * reply's receive time, so workers agree on them to within the differences of their replies'
 * one-way delays (and of uv_now's ms): well under the 10 ms interval of 6000 rpm, a unit or two
 * at 60000 rpm. Tokens are paced the same way, a request going at its first token's slot; but
 * a request whose tokens span two leases goes at the later one's slot with the earlier one's
 * leftover late, so the tokens in a window may pass the budget by up to about one request's per
 * worker (test_four_caches_pace_tokens checks that bound).
 *
 * A PAUSE (one worker's 429 or Retry-After) refuses every later lease until it expires. Leases
 * granted before it keep their slots, which are already in the schedule: they go on at the
 * budget's pace, not as a burst (the worker that was told to pause misses those in its own
 * pause). The pause banks no credit: it moves each TAT to at least its end (plus the burst's
 * tolerance, when a burst is given), so the first units after it come one per interval, and a
 * burst builds up again only with rest after the pause.
 *
 * The functions below are synchronous, over a blocking hiredis context (tests, tools); the
 * engine uses lease.c, which shares the script and its argument and reply formats (the
 * last section of this header). Return codes are the library's: 0 or 1 on success, SLUICE_EIO when
 * Redis could not be reached or did not answer (the outcome is unknown), SLUICE_EPARSE when it
 * answered with an error or with something that is not the script's reply, SLUICE_EINVAL for bad
 * arguments.
 */
#include <stdint.h>

#include <hiredis/hiredis.h>

struct redis_limiter;

/*
 * Joins (or creates) the budget `key` over the connection `c`, which stays the caller's and
 * must outlive the limiter. A new hash takes rpm, tpm and burst_s (a negative value: 0 for the
 * rates, and no burst: one unit per interval, as the local limiter's default). An existing hash
 * keeps its state; each rate or burst given (>= 0) is set, rescaling outstanding debt as
 * SET_RATES does, and a negative one keeps what is shared. Loads the script (SCRIPT LOAD).
 * Returns NULL when Redis failed or memory ran out.
 */
struct redis_limiter *redis_limiter_new(redisContext *c, const char *key, double rpm, double tpm,
                                        double burst_s);

/*
 * Leases `n_requests` requests and `tokens` tokens, now or not at all: granted when the first
 * request's slot has started (less the burst's tolerance), and the first request's share of the
 * tokens is admitted as gcra_wait() would (a cost larger than the burst when the budget is at
 * rest, leaving a debt that later leases wait out). Returns 1 when granted (*wait_ms = 0), 0 when
 * not yet with *wait_ms the ms until it would be (a shared pause included), or a negative code.
 * The other requests' slots follow one interval apart; these synchronous calls do not say where
 * (redis_limiter_parse's req_at_ms does), so a caller that sends them at once bursts.
 */
int redis_limiter_lease(struct redis_limiter *l, int n_requests, double tokens, int64_t *wait_ms);

/*
 * A lease with a hold (the call lease.c makes). First charges `tokens_delta` (reconciliation
 * of earlier requests: actual - estimated, may be negative), then leases as redis_limiter_lease()
 * but also grants a lease that is usable within `max_wait_ms`: it returns 1 with *wait_ms the time
 * the caller must still hold the lease before its first unit may go. Returns 0 when even that is
 * too far, with *wait_ms the ms until the lease would be granted with no hold (ask again after
 * *wait_ms - max_wait_ms; during a shared pause, *wait_ms is the pause's end and no reservation
 * gets through it); the delta is charged all the same. A negative code leaves the delta's fate
 * unknown: it may or may not have been charged.
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

/* Tests only: the calls that follow name `now_ms` as Redis's time (the script's "op@T"), so a
   test drives the budget on a virtual clock and never sleeps; a negative value goes back to
   Redis's own clock. Every call on one budget key must then use the same clock. */
void redis_limiter_clock(struct redis_limiter *l, double now_ms);

/* The shared rates as of the last reply from Redis (set by another worker, perhaps). */
void redis_limiter_rates(const struct redis_limiter *l, double *rpm, double *tpm);

/* Requests per lease for a budget of `per_minute` (0 = unlimited): the rule above. Unlimited
   budgets lease REDIS_LIMITER_LEASE_MAX at a time. */
#define REDIS_LIMITER_LEASE_MS  50
#define REDIS_LIMITER_LEASE_MAX 1000
int redis_limiter_lease_size(double per_minute);

void redis_limiter_free(struct redis_limiter *l);

/* ---- the script's calls, shared with the asynchronous limiter (lease.c) ---- */

/* The script's body, and its SHA-1 (known at compile time; a unit test checks it against SCRIPT
   LOAD) in *sha when sha is not NULL. */
const char *redis_limiter_script(const char **sha);

/* The Redis key of budget `key`: "sluice:limit:{KEY}", malloc'ed (the caller frees it), or NULL
   for an empty key or when memory ran out. */
char *redis_limiter_key(const char *key);

/*
 * The arguments of one script call after EVALSHA sha 1: the key, the operation, and its operands
 * written so that a round trip through Lua's tonumber loses nothing:
 *   "init"  rpm tpm burst_s     "lease" n_requests tokens max_wait_ms tokens_delta [rpm tpm]
 *   "recon" tokens_delta         "rates" rpm tpm         "pause" ms
 * A lease of several requests given the rates it was sized for is refused (resize) when the
 * shared rates differ: a worker that sized 1000 on an unlimited budget does not take them as
 * debt just after another worker set a limit.
 * A negative rate or burst in init and rates keeps the shared one. Any op may be written "op@T":
 * the script then takes T (ms) as Redis's time instead of TIME (tests only: redis_limiter_clock).
 * argv points into the struct
 * (and at `key` and `op`, which must outlive it).
 */
#define REDIS_LIMITER_MAX_OPERANDS 6
#define REDIS_LIMITER_MAX_ARGC     (2 + REDIS_LIMITER_MAX_OPERANDS)
struct redis_limiter_args {
    int argc;
    const char *argv[REDIS_LIMITER_MAX_ARGC];
    char num[REDIS_LIMITER_MAX_OPERANDS][32];
};
void redis_limiter_args(struct redis_limiter_args *a, const char *key, const char *op, int n,
                        const double *v);

/* The script's answer to any operation. */
struct redis_limiter_reply {
    int ok;          /* lease: 1 granted, 0 refused; the others: 1 */
    int64_t wait_ms; /* lease: the hold (granted) or the ms until it would be granted */
    double rpm, tpm; /* the shared rates after the operation */
    int paused;      /* refused because of the shared pause (wait_ms = until its end) */
    int resize;      /* refused: sized for rates that are no longer the shared ones */
    double burst_s;  /* the shared burst tolerance (s); -1 when the reply had none */
    /* A granted lease: its first request's slot in the shared schedule starts req_at_ms after
       the reply's own time (the others follow one request interval apart), its first token's
       tok_at_ms after it. */
    double req_at_ms, tok_at_ms;
};

/*
 * Reads a script reply into *out: returns ok (0 or 1), REDIS_LIMITER_NOLIMIT when the budget's
 * hash is gone (the script changed nothing: create it again with "init"), SLUICE_EPARSE for any
 * other error or shape, SLUICE_EIO for no reply (NULL).
 */
#define REDIS_LIMITER_NOLIMIT (-100)
int redis_limiter_parse(const redisReply *r, struct redis_limiter_reply *out);

#endif
