#ifndef SLUICE_PACER_H
#define SLUICE_PACER_H

/*
 * The pacer decides the rates the limiter paces to: the budgets the user gave (--rpm, --tpm),
 * else the limits the provider announces in its rate-limit headers, else a rate learned from
 * 429s alone. It observes; the limiter enforces. Pure: every call takes the time.
 *
 * Learning from 429s is AIMD on the pacing rate, as TCP does with its window: the first 429
 * sets the rate just below the rate the provider accepted until then; every later 429 (for a
 * request sent after the last decrease, so one burst of 429s counts once) cuts it by BETA; each
 * second without a 429 adds ALPHA of the rate found at the last cut. The rate then saw-tooths
 * a few percent under the provider's limit instead of oscillating around it.
 */
#include <stdint.h>

#include "classify.h"

enum pacer_source {
    PACER_NONE = 0, /* unlimited: nothing known yet */
    PACER_TOLD,     /* --rpm / --tpm */
    PACER_HEADERS,  /* the provider's x-ratelimit-* / anthropic-ratelimit-* headers */
    PACER_LEARNED   /* AIMD from 429s */
};

#define PACER_BUCKETS   20  /* send-rate window: 20 buckets ... */
#define PACER_BUCKET_MS 250 /* ... of 250 ms = the last 5 s */

struct pacer {
    double rpm, tpm; /* current pacing, per minute; 0 = unlimited */
    enum pacer_source rpm_source, tpm_source;
    double header_rpm, header_tpm; /* last limits announced by the provider, 0 if none */
    double told_tpm;
    double share;        /* fraction of the announced limits used (cut by 429s) */
    double rpm_at_cut;   /* AIMD: the rate right after the last cut */
    int64_t last_cut_ms; /* a 429 for a request sent before this is not news */
    int64_t last_raise_ms;
    uint32_t sends[PACER_BUCKETS]; /* requests sent per bucket */
    uint32_t oks[PACER_BUCKETS];   /* answers that were not 429s, per bucket */
    int64_t bucket0_ms;            /* start of the newest bucket */
    int64_t start_ms;              /* pacer_init(): a young window covers less than 5 s */
    int bucket;                    /* index of the newest bucket */
};

void pacer_init(struct pacer *p, double told_rpm, double told_tpm, int64_t now_ms);

/* A request was sent (feeds the send-rate measurement). */
void pacer_on_send(struct pacer *p, int64_t now_ms);

/* Requests per minute sent over the last few seconds. */
double pacer_send_rate(struct pacer *p, int64_t now_ms);

/* Requests per minute the provider accepted (successes) over the last few seconds. Early in a
   run this includes the server's initial burst, so it errs high: the cuts that follow converge
   from above, which costs a few 429s but never leaves the run crawling far under the limit. */
double pacer_accept_rate(struct pacer *p, int64_t now_ms);

/* An answer's headers: learn the announced limits. Returns 1 when the rates changed. */
int pacer_on_headers(struct pacer *p, const struct classify_hdrs *h, int64_t now_ms);

/* A 429 about rate for a request sent at sent_ms. Returns 1 when the rates changed. */
int pacer_on_429(struct pacer *p, int64_t sent_ms, int64_t now_ms);

/* The whole per-minute token budget (told, or announced), 0 when unknown: a request whose
   estimate is larger can never be served. */
double pacer_token_budget(const struct pacer *p);

/* Time passes without 429s (call on each success). Returns 1 when the rates changed. */
int pacer_on_success(struct pacer *p, int64_t now_ms);

#endif
