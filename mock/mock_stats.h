/* The mock's counters, served as JSON by GET /mock/stats. Admin requests are not counted. */
#ifndef MOCK_STATS_H
#define MOCK_STATS_H

#include "mock_buf.h"
#include "mock_faults.h"

#include <stddef.h>
#include <stdint.h>

/* Distinct paths counted one by one; the rest are summed under "other", so a client probing
 * random URLs cannot grow the table without bound. */
#define MOCK_STATS_PATHS    32
#define MOCK_STATS_PATH_MAX 64

/* Which credentials a request carried (never their values): shows a client's provider dialect. */
enum {
    MOCK_AUTH_BEARER = 1,     /* Authorization: Bearer ... (OpenAI, Gemini) */
    MOCK_AUTH_API_KEY = 2,    /* api-key (Azure) */
    MOCK_AUTH_X_API_KEY = 4,  /* x-api-key (Anthropic) */
    MOCK_AUTH_ANTHROPIC_V = 8 /* anthropic-version */
};

struct mock_stats {
    uint64_t requests;     /* every /v1 (non-admin) request received */
    uint64_t status[600];  /* answers sent, by status line */
    uint64_t rate_limited; /* 429s sent */
    uint64_t faults[MOCK_FAULT_COUNT];
    uint64_t outage; /* 503s sent because of POST /mock/outage */
    /* The dialect faults: --quota-after, --overloaded-rate, --concurrency-429, --auth-fail */
    uint64_t quota, overloaded, concurrency_429, auth;
    uint64_t in_flight;
    uint64_t max_concurrency;
    uint64_t prompt_tokens, completion_tokens; /* of successful answers */
    uint64_t auth_bearer, auth_api_key, auth_x_api_key, auth_none, anthropic_version;
    struct {
        char path[MOCK_STATS_PATH_MAX];
        size_t len;
        uint64_t n;
    } paths[MOCK_STATS_PATHS];
    size_t npaths;
    uint64_t other_paths;
};

void mock_stats_count_path(struct mock_stats *s, const char *path, size_t len);
void mock_stats_count_status(struct mock_stats *s, int status);
void mock_stats_count_auth(struct mock_stats *s, unsigned auth_bits);
void mock_stats_enter(struct mock_stats *s);
void mock_stats_leave(struct mock_stats *s);
/* Appends the JSON document: keys requests, status, rate_limited, faults, max_concurrency,
 * in_flight, tokens, auth, by_path. */
void mock_stats_json(const struct mock_stats *s, struct mock_buf *out);

#endif
