/* The mock's rate limits: a GCRA per budget (requests, tokens), as OpenAI enforces them.
 *
 * A budget of N per minute refills continuously at N/60 per second; up to `burst_s` seconds'
 * worth of it may be spent at once (OpenAI quantizes 60,000 RPM to 1,000 per second, so the
 * default burst is one second). Everything here is a pure function of `now_ms`, so the unit
 * tests drive it with a virtual clock. */
#ifndef MOCK_LIMITER_H
#define MOCK_LIMITER_H

#include <stddef.h>
#include <stdint.h>

/* Returned by mock_gcra_wait_ms for a cost larger than the whole per-minute budget. */
#define MOCK_GCRA_NEVER (-1)

struct mock_gcra {
    int64_t limit;       /* per minute; 0 means no limit */
    double interval_ms;  /* time one unit takes to refill: 60000 / limit */
    double tolerance_ms; /* how far the TAT may run ahead of now: the burst */
    double tat_ms;       /* theoretical arrival time: when the budget is full again */
};

void mock_gcra_init(struct mock_gcra *g, int64_t per_minute, double burst_s);
/* 0 when `cost` units may be spent at `now_ms`, else the exact wait in ms (rounded up, >= 1)
 * until they could be, or MOCK_GCRA_NEVER when cost exceeds the per-minute limit. A cost
 * larger than the burst is admitted when the budget is full and leaves it in debt, so that
 * a large request is slow but not impossible. Charges nothing. */
int64_t mock_gcra_wait_ms(const struct mock_gcra *g, int64_t now_ms, int64_t cost);
void mock_gcra_charge(struct mock_gcra *g, int64_t now_ms, int64_t cost);
/* What the rate-limit headers report: the per-minute limit minus what is still refilling. */
int64_t mock_gcra_remaining(const struct mock_gcra *g, int64_t now_ms);
/* Time until the budget is fully refilled (rounded up to the ms). */
int64_t mock_gcra_reset_ms(const struct mock_gcra *g, int64_t now_ms);

enum mock_budget_id {
    MOCK_LIMIT_NONE,
    MOCK_LIMIT_REQUESTS,
    MOCK_LIMIT_TOKENS,
    MOCK_LIMIT_INPUT, /* Anthropic's input-tokens budget (--itpm) */
    MOCK_LIMIT_OUTPUT /* Anthropic's output-tokens budget (--otpm) */
};

/* Anthropic budgets input and output tokens separately, besides requests; `tokens` is the
 * combined budget that OpenAI has (each is off when its limit is 0). */
struct mock_limits {
    struct mock_gcra requests;
    struct mock_gcra tokens;
    struct mock_gcra input;
    struct mock_gcra output;
};

struct mock_verdict {
    enum mock_budget_id refused_by; /* MOCK_LIMIT_NONE: admitted and charged */
    int64_t wait_ms;                /* when refused: ms until this request would be admitted */
    int too_large;                  /* refused because it can never fit the token budget */
};

/* Requests and combined tokens; the input and output budgets start off. */
void mock_limits_init(struct mock_limits *l, int64_t rpm, int64_t tpm, double burst_s);
/* Turns on Anthropic's separate input and output token budgets (0: off). */
void mock_limits_init_io(struct mock_limits *l, int64_t itpm, int64_t otpm, double burst_s);
/* Admits one request of `input` prompt tokens and `output` completion tokens (max_tokens) if
 * every budget allows it, and charges them all: the combined budget input + output, the
 * others their part. Otherwise charges none (a refused request costs nothing, as with OpenAI).
 * A cost larger than its whole per-minute budget is refused with too_large. Fills `v`. */
void mock_limits_admit_io(struct mock_limits *l, int64_t now_ms, int64_t input, int64_t output,
                          struct mock_verdict *v);
/* mock_limits_admit_io with all `tokens` counted as input. */
void mock_limits_admit(struct mock_limits *l, int64_t now_ms, int64_t tokens,
                       struct mock_verdict *v);

/* Formats a duration the way OpenAI's x-ratelimit-reset-* headers do (Go's time.Duration):
 * "0s", "120ms", "1s", "1.5s", "6m0s", "1m30.5s", "1h0m0s". Returns the length. */
size_t mock_duration_format(int64_t ms, char *out, size_t n);
/* Formats a Unix time in ms as RFC 3339 UTC with second precision ("2024-05-01T12:00:03Z"),
 * rounding up so that the time named is never before the event. Returns the length. */
size_t mock_rfc3339(int64_t unix_ms, char *out, size_t n);

#endif
