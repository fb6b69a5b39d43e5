#ifndef SLUICE_PACER_H
#define SLUICE_PACER_H

/*
 * The pacer decides the rates the limiter paces to: the budgets the user gave (--rpm, --tpm),
 * else the limits the provider announces in its rate-limit headers, else a rate learned from
 * refusals alone. It observes; the limiter enforces. Pure: every call takes the time.
 *
 * Learning from refusals. What the server let through is the best measure of its limit, not
 * how many of an opening burst got through, and not a fraction cut off the rate: a server
 * that tolerates a burst accepts more than its rate for a moment, one that tolerates none may
 * refuse a request sent well under its rate. The first refusal starts the rate at what passed
 * (sent and not refused) in the last second and doubles it (pacer_tick) until the next one.
 * Each later refusal measures what passed since the one before: a token bucket is empty at
 * both, so that is its rate, whatever burst it allows. The rate is then PACER_MARGIN of that
 * measure (the reference); it climbs back to the reference over about PACER_CRUISE_S, holds
 * there PACER_HOLD_MS (or PACER_HOLD_REQUESTS, when that is longer), and then probes upwards,
 * faster the longer nothing is refused, so that a reference measured too low is left behind
 * within seconds. One refused in many keeps the rate (arrival timing, not the rate).
 *
 * A refusal that names the end of a window (a hint every process must honour, the engine
 * decides which: engine.c retry_later) is not proof that the rate is wrong: the window's
 * quota was spent before its end. The rate is then the quota the window accepted over the
 * window's length, measured from one window end to the next, so the next window is spent
 * evenly instead of the rate collapsing.
 *
 * Before any refusal nothing is known and nothing is paced: the engine's slow start (a few
 * slots, growing with successes and with time) keeps the opening small instead.
 */
#include <stdint.h>

#include "classify.h"

enum pacer_source {
    PACER_NONE = 0, /* unlimited: nothing known yet */
    PACER_TOLD,     /* --rpm / --tpm */
    PACER_HEADERS,  /* the provider's x-ratelimit-* / anthropic-ratelimit-* headers */
    PACER_LEARNED   /* from refusals */
};

#define PACER_BUCKETS        20  /* rate window: 20 buckets ... */
#define PACER_BUCKET_MS      100 /* ... of 100 ms = the last 2 s */
#define PACER_MARGIN         0.95
#define PACER_CRUISE_S       2.5
#define PACER_HOLD_MS        2000
#define PACER_HOLD_REQUESTS  20
#define PACER_SAME_WINDOW_MS 1000

struct pacer {
    double rpm, tpm; /* current pacing, per minute; 0 = unlimited */
    enum pacer_source rpm_source, tpm_source;
    double header_rpm, header_tpm; /* last limits announced by the provider, 0 if none */
    double told_tpm;               /* --tpm: a request estimated above it can never go */
    double share;                  /* fraction of the announced limits used (cut by 429s) */
    double ref_rpm;                /* learned: the accepted rate measured at the last refusal */
    int64_t at_ref_ms;             /* learned: when the rate reached ref_rpm; -1 while below it */
    int fast;                      /* learned early in the run: doubling until the next refusal */
    int budget_bound;    /* the engine's last dispatch waited for the budget, not for slots */
    double shared_rpm;   /* a shared budget's rate as last adopted or written; 0 none */
    int64_t last_cut_ms; /* a refusal for a request sent before this is not news */
    uint64_t sends_total, cut_sends; /* requests sent in all, and when last_cut_ms was */
    uint64_t cut_nos;                /* refusals of requests sent since last_cut_ms */
    int64_t last_raise_ms;
    /* Windows: the span from the last window's end (or the run's start) to the end a refusal
       named, and the requests sent in it that were accepted; accepts still on their way when
       the refusal came raise the quota as they arrive. */
    int64_t win_from_ms, win_end_ms; /* win_end_ms -1: no window named since win_from_ms */
    uint32_t win_oks;
    int win_learned;                 /* the learned rate is a window's quota */
    int64_t hint_end_ms, hint_at_ms; /* the last precise hint: the moment it named, and when */
    int64_t all_refused_end;         /* the pause pacer_pause_all_until set as all was refused */
    int64_t probe_after_ms;          /* no probe above the reference before this */
    uint32_t sends[PACER_BUCKETS];   /* requests sent per bucket */
    uint32_t oks[PACER_BUCKETS];     /* answers that were not refusals, per bucket */
    uint32_t nos[PACER_BUCKETS];     /* refusals, per bucket */
    int64_t bucket0_ms;              /* start of the newest bucket */
    int bucket;                      /* index of the newest bucket */
};

void pacer_init(struct pacer *p, double told_rpm, double told_tpm, int64_t now_ms);

/* A request was sent (feeds the send-rate measurement). */
void pacer_on_send(struct pacer *p, int64_t now_ms);

/* Requests per minute sent over the last `span_ms` (at most 2 s). */
double pacer_send_rate(struct pacer *p, int64_t now_ms, int64_t span_ms);

/* Requests per minute the provider accepted (answers that were not refusals) over the last
   `span_ms` (at most 2 s). A run younger than the span counts over the whole span: early in a
   run this errs low, which the probing corrects in seconds, never high, which costs refusals. */
double pacer_accept_rate(struct pacer *p, int64_t now_ms, int64_t span_ms);

/* An answer's headers: learn the announced limits. Returns 1 when the rates changed. */
int pacer_on_headers(struct pacer *p, const struct classify_hdrs *h, int64_t now_ms);

/*
 * A refusal about rate (429) for a request sent at sent_ms. `window_end_ms` >= 0 when the
 * refusal named the end of a window that holds for everyone (loop ms; pacer_pause_all_until),
 * else -1; ends within PACER_SAME_WINDOW_MS of each other are one window's. `share` is the
 * fraction of the budget's traffic this process sends (1 alone; less when processes share one
 * budget through Redis), so that what it saw accepted stands for everyone's. Returns 1 when the
 * rates changed.
 */
int pacer_on_refusal(struct pacer *p, int64_t sent_ms, int64_t now_ms, int64_t window_end_ms,
                     double share);

/*
 * Does a refusal's hint hold for everyone? A rate limiter that refuses one request says when
 * that request may come back; the requests behind it, paced, are not refused, and pausing all
 * of them for it (nginx sends `Retry-After: 1` with every refusal) froze the whole run for a
 * second per refusal. But a window's end holds for everyone, and these name one:
 *   - Gemini's RetryInfo: the end of a quota window, however near;
 *   - a hint longer than PACER_PAUSE_ALL_MS, which no evenly paced request could beat (a
 *     window, or a budget spent far ahead);
 *   - a hint to the millisecond (retry-after-ms, as Azure's fixed windows send) that names the
 *     same moment, within PACER_SAME_END_MS, as the one before it, given at another time. (A
 *     hint in whole seconds can't tell a window's end from "come back in 1 s".)
 *   - any hint, when every request sent since the rate last changed (a few at least) was
 *     refused: the server refuses all for now, a spent window, not what comes too fast.
 * Returns the time (now_ms's clock) to pause all dispatch until, or -1 when only the refused
 * request waits. Call once per answer: it remembers the last precise hint.
 */
#define PACER_PAUSE_ALL_MS 1500
#define PACER_SAME_END_MS  25
int64_t pacer_pause_all_until(struct pacer *p, const struct classify_verdict *v, int64_t now_ms);

/*
 * The rate a shared budget has in force (another process learned it): a learned or unknown
 * rate becomes it, so that what this process measures and changes next starts from what
 * everyone uses. Told budgets and announced limits stay. Changes nothing to send back.
 */
void pacer_adopt(struct pacer *p, double shared_rpm);

/* This process's rate goes to the shared budget (the engine calls it as it sets the rates). */
void pacer_shared(struct pacer *p);

/* 1 while the rate is to be learned and no refusal has come yet (the engine's slow start). */
int pacer_searching(const struct pacer *p);

/* Time passes (call before each dispatch): after a refusal early in the run the rate doubles
   every FAST_DOUBLE_MS while it is in use, whether answers come or not. Returns 1 when the
   rates changed. */
int pacer_tick(struct pacer *p, int64_t now_ms);

/* An accepted answer to a request sent at sent_ms (call on each success). Returns 1 when the
   rates changed. */
int pacer_on_success(struct pacer *p, int64_t sent_ms, int64_t now_ms);

#endif
