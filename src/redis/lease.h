#ifndef SLUICE_REDIS_LEASE_H
#define SLUICE_REDIS_LEASE_H

/*
 * The shared limiter the engine uses in distributed mode (sluice_redis_limiter_new): the limiter
 * interface of limiter.h over an asynchronous Redis connection (conn.h), drawing from the
 * budget that shared_limiter.h describes (one Lua script, Redis's clock). The rules of leasing
 * are in shared_limiter.h's header comment; this file holds the local side of them.
 *
 * The lease cache below is pure arithmetic on a clock passed in (uv_now in the limiter, a
 * virtual one in the tests): what is held, when it may be used, what to ask for next. The
 * limiter in lease.c only moves its questions and answers to and from Redis.
 */
#include <stdint.h>

/*
 * Units one lease granted and not yet used: requests, or tokens. A lease's units hold consecutive
 * slots in the shared schedule (shared_limiter.h), so a run needs only where its next slot starts;
 * each unit used moves it on by one interval of the budget's current rate.
 */
struct lease_run {
    double n;   /* units left */
    double at;  /* local ms at which the slot of the next unit starts */
    int size;   /* requests granted (request runs only; these three size the next lease) */
    int taken;  /* of them, used */
    int missed; /* of them, dropped because their slot had passed */
};

/* Runs a cache keeps per budget: the lease in use, the one fetched ahead, and room for a lease
   of tokens alone. */
#define LEASE_RUNS 4

struct lease_cache {
    struct lease_run req[LEASE_RUNS]; /* requests held, one run per lease, oldest first */
    struct lease_run tok[LEASE_RUNS]; /* tokens held, the same */
    int n_req, n_tok;                 /* runs in use */
    double avg_tok;                   /* running average of the token estimates taken; 0 = none */
    double need;                      /* tokens of the request that waits; 0 = none */
    int waiting;                      /* a request waits (wait() said anything but 0) */
    int fit;                          /* requests a lease may hold: what the last one used */
    double rpm, tpm;                  /* the shared rates as last seen (0 = unlimited) */
    double burst_s;                   /* the shared burst tolerance */
    int sized;                        /* a request was seen (wait or take): token sizes known */
};

/* A unit is dropped once its slot started more than half an interval ago, and at least this
   long ago (a libuv timer fires on a ms, often one late). */
#define LEASE_LATE_MIN_MS 2
/* Weight of one estimate in avg_tok: a moving average over about this many requests. */
#define LEASE_AVG_N 16
/* The hold a lease may carry is this many leases of budget (room for every worker's lease in
   use and the next one before any is refused), kept within [LEASE_HOLD_MIN, LEASE_HOLD_MAX]. */
#define LEASE_HOLD_LEASES 32
#define LEASE_HOLD_MIN_MS 1000
#define LEASE_HOLD_MAX_MS 60000

/* An empty cache for the budget told at creation (negative: not known yet, taken as unlimited
   rates and no burst until the first reply). */
void lease_cache_init(struct lease_cache *c, double rpm, double tpm, double burst_s);

/*
 * Requests per lease, k: redis_limiter_lease_size() on the request rate, and on the token rate
 * counted in requests of the average size (tpm / avg_tok, or the waiting request's tokens when
 * no average exists yet), whichever is smaller. 1000 when both are unlimited.
 */
int lease_cache_size(const struct lease_cache *c);

/* The max_wait_ms of a lease (how long a reservation may hold it): LEASE_HOLD_LEASES leases'
   worth of the slower budget, within the bounds above. */
int64_t lease_cache_max_wait(const struct lease_cache *c);

/*
 * May a request costing `tokens` go at `now`? Returns 0 (yes: take() it), the ms until the held
 * units allow it, or -1 when the units held are not enough and a lease must be asked for. The
 * next request may go once the slot of its request unit has started and, while the shared tpm
 * is limited, the slot of its first token (of the last lease its tokens come from, when they
 * span two); a burst lets each go that much earlier (the GCRA tolerance: burst - one unit).
 * Units whose place started more than half an interval before `now` (half a request's tokens,
 * when longer; at least LEASE_LATE_MIN_MS) are dropped first: sent that late they would go in
 * another worker's slot. Any answer but 0 records `tokens` as the need of the waiting request,
 * which sizes the next lease.
 */
int64_t lease_cache_wait(struct lease_cache *c, int64_t now, double tokens);

/* The request goes: one request and its tokens leave the held units (the next unit's slot is one
   interval on); the estimate enters the average. Call only after lease_cache_wait() returned 0. */
void lease_cache_take(struct lease_cache *c, int64_t now, double tokens);

/*
 * What to ask for next. Returns 1 with *nr requests and *nt tokens, or 0 when nothing is needed:
 *   - requests: k when the held requests are at most half a lease (k / 2), else 0; so a worker
 *     holds at most 1.5 k requests, and the next lease is on its way while the last half of the
 *     current one is used. k is lease_cache_size(), or less after a lease that missed slots:
 *     what that lease used, doubled again by each lease used whole. A lease of one is asked for
 *     only by a waiting request (fetched ahead, a worker that cannot keep pace would miss it);
 *   - tokens: enough for the waiting request (its need) plus the average for every other
 *     request held or asked for, less the tokens held;
 *   - a lease for tokens alone only when the waiting request needs more than all held tokens.
 * While the token budget is limited and no request size is known yet (no average, nothing
 * waiting), nothing is asked: a lease without tokens would only need a second one.
 */
int lease_cache_plan(const struct lease_cache *c, int *nr, double *nt);

/* A lease of nr requests and nt tokens was granted by a reply received at `now`: its request
   slots start req_at_ms after that (the reply's req_at_ms), its token slots tok_at_ms after. */
void lease_cache_grant(struct lease_cache *c, int64_t now, int nr, double nt, double req_at_ms,
                       double tok_at_ms);

/*
 * The shared budget as a reply received at `now` told it (burst_s < 0: unchanged). When the rates
 * changed, units held beyond 1.5 leases at the new rates are dropped (the newest first, with
 * their share of the tokens): a worker that leased 1000 from an unlimited budget does not send
 * them at once after a limit became known. The slots still ahead are rescaled to the new rate as
 * the script rescales the shared schedule; units leased while a budget was unlimited get slots
 * one interval apart from `now`.
 */
void lease_cache_shared(struct lease_cache *c, int64_t now, double rpm, double tpm, double burst_s);

/* Forgets every unit held (Redis went away: nothing is sent without the budget). */
void lease_cache_drop(struct lease_cache *c);

/*
 * A token delta (actual - estimated) went out in a call whose answer never came: it may or may
 * not have been charged. Returns what to send again: a charge (> 0) is sent again, a refund
 * (< 0) is dropped. Either way the error is on the side of the provider's budget: at worst a
 * charge counts twice or a refund is lost, and the workers send a little less than allowed,
 * never more.
 */
double lease_delta_unknown(double sent);

#endif
