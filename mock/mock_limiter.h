/* The mock's rate limits: one budget per quantity (requests, tokens, and Anthropic's input and
 * output tokens), each enforced by one of five algorithms (--limiter), because real providers
 * and the gateways in front of them enforce the same per-minute number in different ways and
 * sluice's client has to cope with each (issue 16):
 *
 *   gcra        a GCRA refilling continuously at N/60 per second, of which `burst_s` seconds'
 *               worth may be spent at once: OpenAI's (it quantizes 60,000 RPM to 1,000 per
 *               second, so the default burst is one second)
 *   bucket      nginx limit_req's leaky bucket with `burst=B nodelay`, with nginx's integer
 *               arithmetic, so that a trace of arrival times gets the same answers from both
 *   fixed       at most Q per window of W, windows counted from an origin (the mock's start)
 *   sliding     a sliding log: at most Q in any W
 *   per-second  OpenAI's "per minute, enforced per second": at most ceil(N/60) in any second
 *               and at most N in any minute
 *
 * Q is round(N * W / 60), at least 1. Everything here is a pure function of `now_ms` (ms on
 * any monotonic clock), so the unit tests drive it with a virtual clock. */
#ifndef MOCK_LIMITER_H
#define MOCK_LIMITER_H

#include <stddef.h>
#include <stdint.h>

/* Returned by the *_wait_ms functions for a cost the budget can never admit at once. */
#define MOCK_NEVER (-1)

enum mock_algo {
    MOCK_ALGO_GCRA,
    MOCK_ALGO_BUCKET,
    MOCK_ALGO_FIXED,
    MOCK_ALGO_SLIDING,
    MOCK_ALGO_PER_SECOND
};

/* "gcra", "bucket", "fixed", "sliding" or "per-second"; -1 for any other name. */
int mock_algo_parse(const char *name);
const char *mock_algo_name(enum mock_algo a);

struct mock_gcra {
    int64_t limit;       /* per minute; 0 means no limit */
    double interval_ms;  /* time one unit takes to refill: 60000 / limit */
    double tolerance_ms; /* how far the TAT may run ahead of now: the burst */
    double tat_ms;       /* theoretical arrival time: when the budget is full again */
};

void mock_gcra_init(struct mock_gcra *g, int64_t per_minute, double burst_s);
/* 0 when `cost` units may be spent at `now_ms`, else the exact wait in ms (rounded up, >= 1)
 * until they could be, or MOCK_NEVER when cost exceeds the per-minute limit. A cost larger
 * than the burst is admitted when the budget is full and leaves it in debt, so that a large
 * request is slow but not impossible. Charges nothing. */
int64_t mock_gcra_wait_ms(const struct mock_gcra *g, int64_t now_ms, int64_t cost);
void mock_gcra_charge(struct mock_gcra *g, int64_t now_ms, int64_t cost);
/* What the rate-limit headers report: the per-minute limit minus what is still refilling. */
int64_t mock_gcra_remaining(const struct mock_gcra *g, int64_t now_ms);
/* Time until the budget is fully refilled (rounded up to the ms). */
int64_t mock_gcra_reset_ms(const struct mock_gcra *g, int64_t now_ms);

/* nginx's state for one key, in its units: milli-units and integer ms. */
struct mock_bucket {
    int64_t rate;    /* milli-units per second: per_minute * 1000 / 60, truncated as nginx
                        truncates "N r/m" */
    int64_t burst;   /* the most `excess` may be after a request: burst * 1000 */
    int64_t excess;  /* after the last admitted request */
    int64_t last_ms; /* when that request came */
    int fresh;       /* none admitted yet: nginx has no node for the key */
};

struct mock_fixed {
    int64_t origin_ms; /* window k is [origin + k W, origin + (k + 1) W) */
    int64_t window_ms;
    int64_t quota;
    int64_t index; /* the window `count` belongs to */
    int64_t count;
};

/* Admitted costs by the ms they came in (one entry per ms), oldest first, in a ring that
 * grows by doubling: it holds at most min(quota, window_ms) live entries. */
struct mock_log_entry {
    int64_t t_ms;
    int64_t cost;
};

struct mock_log {
    int64_t window_ms; /* an entry counts while now - t_ms < window_ms */
    int64_t quota;
    struct mock_log_entry *e; /* owned */
    size_t cap, head, len;
    int64_t sum; /* the cost of the len entries, live or not yet dropped */
};

/* One budget: a per-minute limit and the algorithm that enforces it. */
struct mock_budget {
    enum mock_algo algo;
    int64_t limit; /* per minute; 0 means no limit */
    union {
        struct mock_gcra gcra;
        struct mock_bucket bucket;
        struct mock_fixed fixed;
        struct mock_log log; /* sliding */
        struct {
            struct mock_log second; /* ceil(limit / 60) per 1 s */
            struct mock_log minute; /* limit per 60 s */
        } per_second;
    } u;
};

/* The per-kind initialisations. A limit of 0 (or less) is no limit. The log-based kinds
 * (sliding, per-second) allocate and return -1 when out of memory; the others return 0.
 * Every budget is released with mock_budget_free. */
int mock_budget_init_gcra(struct mock_budget *b, int64_t per_minute, double burst_s);
/* `burst` is nginx's burst=: requests (units) beyond the first that may come at once. */
int mock_budget_init_bucket(struct mock_budget *b, int64_t per_minute, int64_t burst);
int mock_budget_init_fixed(struct mock_budget *b, int64_t per_minute, int64_t window_ms,
                           int64_t origin_ms);
int mock_budget_init_sliding(struct mock_budget *b, int64_t per_minute, int64_t window_ms);
int mock_budget_init_per_second(struct mock_budget *b, int64_t per_minute);
void mock_budget_free(struct mock_budget *b);

/* 0 when `cost` units may be spent at `now_ms`, else the exact wait in ms (>= 1) after which
 * they could be if nothing else came, or MOCK_NEVER when the cost is more than the budget
 * ever admits at once (gcra and bucket: the per-minute limit; fixed and sliding: Q;
 * per-second: ceil(limit / 60)). Charges nothing. */
int64_t mock_budget_wait_ms(const struct mock_budget *b, int64_t now_ms, int64_t cost);
/* Records `cost` units spent at `now_ms`; call only after mock_budget_wait_ms said 0. */
void mock_budget_charge(struct mock_budget *b, int64_t now_ms, int64_t cost);
/* What the rate-limit headers report. remaining: gcra, the limit minus what is still
 * refilling; bucket, the units that could come back to back now; fixed, what the window has
 * left; sliding, Q minus what the last W holds; per-second, the least of what the last second
 * and the last minute have left. reset: the ms until remaining is back to its most (fixed:
 * the window's end, always). used: what the budget counts now (the bucket: its level in
 * units, rounded up). */
int64_t mock_budget_remaining(const struct mock_budget *b, int64_t now_ms);
int64_t mock_budget_reset_ms(const struct mock_budget *b, int64_t now_ms);
int64_t mock_budget_used(const struct mock_budget *b, int64_t now_ms);

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
    struct mock_budget requests;
    struct mock_budget tokens;
    struct mock_budget input;
    struct mock_budget output;
};

/* How the budgets are enforced: the --limiter options once resolved. */
struct mock_limits_config {
    enum mock_algo algo;          /* requests and tokens; input and output are always GCRA */
    int64_t rpm, tpm, itpm, otpm; /* per minute; 0: no limit */
    double burst_s;               /* gcra, and input and output: seconds of budget at once */
    int64_t burst;                /* gcra, bucket: requests beyond the first that may come
                                     at once; -1: gcra takes burst_s, bucket 0 (nginx's) */
    int64_t token_burst;          /* bucket: tokens beyond the first request's; -1: as many
                                     seconds of tpm as the burst is of rpm (0 without rpm) */
    int64_t window_ms;            /* fixed, sliding */
    int64_t origin_ms;            /* fixed: where window 0 starts */
};

struct mock_verdict {
    enum mock_budget_id refused_by; /* MOCK_LIMIT_NONE: admitted and charged */
    int64_t wait_ms;                /* when refused: ms until this request would be admitted */
    int too_large;                  /* refused because it can never fit its budget */
};

/* Sets up every budget of `l` from `c`. With gcra a burst of N requests is N + 1 request
 * intervals of tolerance, for every budget (GCRA admits floor(tolerance / interval) at once),
 * and needs rpm. Returns 0, or -1 when out of memory (nothing is left
 * allocated). Release with mock_limits_free. */
int mock_limits_setup(struct mock_limits *l, const struct mock_limits_config *c);
void mock_limits_free(struct mock_limits *l);
/* GCRA requests and combined tokens; the input and output budgets start off. Allocates
 * nothing. */
void mock_limits_init(struct mock_limits *l, int64_t rpm, int64_t tpm, double burst_s);
/* Turns on Anthropic's separate input and output token budgets (GCRA; 0: off). */
void mock_limits_init_io(struct mock_limits *l, int64_t itpm, int64_t otpm, double burst_s);
/* Admits one request of `input` prompt tokens and `output` completion tokens (max_tokens) if
 * every budget allows it, and charges them all: the combined budget input + output, the
 * others their part. Otherwise charges none (a refused request costs nothing, as with OpenAI
 * and nginx). A cost its budget can never admit is refused with too_large. Fills `v`. */
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
