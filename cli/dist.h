#ifndef SLUICE_CLI_DIST_H
#define SLUICE_CLI_DIST_H

#include <stddef.h>
#include <stdint.h>

#include <sluice.h>

/* Which job settings a worker gave on its command line (the rest come from the job). */
enum {
    DIST_GIVEN_BASE_URL = 1 << 0,
    DIST_GIVEN_PROVIDER = 1 << 1,
    DIST_GIVEN_URL = 1 << 2,
    DIST_GIVEN_HEADERS = 1 << 3,
    DIST_GIVEN_RPM = 1 << 4,
    DIST_GIVEN_TPM = 1 << 5,
    DIST_GIVEN_BURST = 1 << 6,
    DIST_GIVEN_MAX_ATTEMPTS = 1 << 7,
    DIST_GIVEN_TIMEOUT = 1 << 8,
    DIST_GIVEN_LIMIT_KEY = 1 << 9,
    DIST_GIVEN_MAX_DELIVERIES = 1 << 10,
    DIST_GIVEN_CLAIM_IDLE = 1 << 11,
};

/* The distributed options of `run` and `work`. */
struct dist_opts {
    const char *redis;     /* --redis URL; NULL: not distributed */
    const char *job;       /* --job NAME */
    const char *limit_key; /* --limit-key */
    double backlog;        /* --backlog (10000) */
    double claim_idle_s;   /* --claim-idle (60) */
    int max_deliveries;    /* --max-deliveries (5) */
    int follow;            /* work --follow */
    int worker;            /* `sluice work` */
    unsigned given;        /* DIST_GIVEN_* */
};

struct dist {
    sluice_redis_t *redis;
    int created;   /* this process created the job */
    char **stored; /* the job's settings as read back */
    size_t n_stored;
    char *headers_copy;
    const char **headers;
    uint64_t *seen; /* hashes of the lines OUTPUT held at the start */
    size_t seen_cap, n_seen;
};

/*
 * Stores this process's settings with a new job, or checks them against the job's: a run must
 * match; a worker adopts what it did not give and must match what it gave. Returns 0, or the
 * exit status after saying why (2: options, 3: Redis).
 */
int dist_settings(struct dist *dist, sluice_config_t *cfg, struct dist_opts *d, const char **url,
                  int worker);

/* The shared budget's key: --limit-key, else the base URL and a hash of the API key. */
void dist_limit_key(const sluice_config_t *cfg, const char *given, char *buf, size_t size);

/* Loads the hashes of OUTPUT's complete lines (a run continuing after a crash); 0 or -1. */
int dist_seen_load(struct dist *dist, const char *path);
/* 1 when OUTPUT already held this line at the start. */
int dist_seen(const struct dist *dist, const char *line, size_t len);

void dist_free(struct dist *dist);

#endif
