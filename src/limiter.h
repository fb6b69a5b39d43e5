#ifndef SLUICE_LIMITER_H
#define SLUICE_LIMITER_H

/*
 * Rate budgets, paced evenly with GCRA (the generic cell rate algorithm: one "theoretical
 * arrival time" per budget, RFC-free but the ATM Forum's). A budget of N per minute admits one
 * unit every 60000/N ms instead of releasing a whole minute at once.
 *
 * No burst by default. Servers differ in how much burst they tolerate (nginx's limit_req
 * often none or a few requests, OpenAI enforces a minute's limit over much shorter spans), and
 * a client that bursts is refused everywhere. Without a burst the units go on a grid: unit n+1
 * is due one interval (times its cost) after unit n, never sooner, so a window of W admits W /
 * interval of them whatever its phase. A unit sent late, by at most GCRA_CATCHUP of its
 * interval or GCRA_CATCHUP_MS (a timer that fired late: they fire on whole milliseconds, and a
 * busy loop turn delays them), keeps the grid, so the next one is due sooner and timer
 * lateness does not eat into the rate; one sent later than that (the budget rested: a pause, a
 * run held back by its slots) starts a new grid at its own time, so a pause banks nothing.
 * A burst is given explicitly (--burst: classic GCRA, tau units of tolerance), and taken back
 * at the first refusal (limiter_ops.no_burst).
 *
 * The limiter is an interface so that a shared (Redis) limiter can stand in for the local one
 * (docs/DESIGN.md "Distributed mode"). Every call takes the time; nothing reads a clock.
 */
#include <stdint.h>

struct gcra {
    double interval_ms; /* ms per unit; 0 = unlimited */
    double tau_ms;      /* burst tolerance; 0 = none: the grid (see above) */
    double tat_ms;      /* theoretical arrival time of the next unit */
};

/* The tolerance without a burst, in intervals (see above). */
#define GCRA_CATCHUP    0.5
#define GCRA_CATCHUP_MS 2.0

/*
 * Sets the rate to `per_minute` units (0 = unlimited) with a burst of `burst` units back to
 * back (1 or less: none, the grid). Keeps the current debt, so a change of rate does not
 * forgive or double-charge what was already sent.
 */
void gcra_set_rate(struct gcra *g, double per_minute, double burst, int64_t now_ms);

/*
 * How long (ms) until `cost` units may be taken, 0 if now. A cost larger than the burst is
 * admitted once the budget is fully rested, and then runs into debt that later takes wait out:
 * a large request is never stalled forever.
 */
int64_t gcra_wait(const struct gcra *g, int64_t now_ms, double cost);

/* Takes `cost` units at `now_ms` (call only when gcra_wait() said 0). */
void gcra_take(struct gcra *g, int64_t now_ms, double cost);

/* Gives back (cost < 0) or charges more (cost > 0) after the fact: reconciling estimates. */
void gcra_adjust(struct gcra *g, int64_t now_ms, double cost);

/* Units that could be taken right now (for status lines). */
double gcra_available(const struct gcra *g, int64_t now_ms);

/* ---- the limiter interface the scheduler uses ---- */

struct sluice_limiter_s;
struct limiter_ops {
    /* ms to wait before a request costing `tokens` may go; 0 = go now */
    int64_t (*wait)(struct sluice_limiter_s *l, int64_t now_ms, double tokens);
    /* the request goes now */
    void (*take)(struct sluice_limiter_s *l, int64_t now_ms, double tokens);
    /* its real token cost is known: charge the difference */
    void (*reconcile)(struct sluice_limiter_s *l, int64_t now_ms, double estimated, double actual);
    /* new budgets per minute (0 = unlimited), from the pacer */
    void (*set_rates)(struct sluice_limiter_s *l, int64_t now_ms, double rpm, double tpm);
    void (*free)(struct sluice_limiter_s *l);
    /* Optional (NULL: the engine's own pause is enough). A 429 told this process to hold off
       for `ms`: a shared limiter tells every process drawing from the budget. */
    void (*pause)(struct sluice_limiter_s *l, int64_t now_ms, int64_t ms);
    /* Optional: the rates in force (per minute, 0 = none), when they may differ from what the
       pacer set (another process set them); NULL means the pacer's are in force. */
    void (*rates)(const struct sluice_limiter_s *l, double *rpm, double *tpm);
    /* Optional: the server refused a request: it tolerates less burst than the budget allows,
       so the burst goes, and from now on units go one per interval. */
    void (*no_burst)(struct sluice_limiter_s *l, int64_t now_ms);
};

/*
 * A limiter whose answers come from elsewhere (Redis) may say "wait" while it asks, with a
 * fallback time; when its answer comes it calls wake(wake_ud) so the scheduler looks again at
 * once. The engine sets both before the run; a limiter calls wake only from the loop.
 */
struct sluice_limiter_s {
    const struct limiter_ops *ops;
    void (*wake)(void *ud);
    void *wake_ud;
};

/* The local limiter: a request budget and a token budget. rpm/tpm 0 = unlimited; burst_s: seconds
   of budget usable at once (0: none). */
struct sluice_limiter_s *limiter_local_new(double rpm, double tpm, double burst_s, int64_t now_ms);
/* Its current rates (per minute), for stats. */
void limiter_local_rates(const struct sluice_limiter_s *l, double *rpm, double *tpm);

#endif
