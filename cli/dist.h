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
    const char *redis;      /* --redis URL, --redis-url-file's or $REDIS_URL; NULL: not
                               distributed */
    const char *redis_file; /* --redis-url-file */
    char *redis_owned;      /* the URL read from it */
    const char *job;        /* --job NAME */
    const char *limit_key;  /* --limit-key */
    double backlog;         /* --backlog (10000) */
    double claim_idle_s;    /* --claim-idle (60) */
    int max_deliveries;     /* --max-deliveries (5) */
    int follow;             /* work --follow */
    int worker;             /* `sluice work` */
    unsigned given;         /* DIST_GIVEN_* */
    const char *own_base;   /* the base URL this process was given (--base-url, else
                               $SLUICE_BASE_URL or $OPENAI_BASE_URL), or NULL */
    const char **secret;    /* --secret-header names */
    size_t n_secret;
    const char **allow; /* work --allow-origin */
    size_t n_allow;
};

/* Frees what the options own (the lists and the URL read from a file). */
void dist_opts_free(struct dist_opts *d);

struct dist {
    sluice_redis_t *redis;
    int created;   /* this process created the job */
    char **stored; /* the job's settings as read back (credential headers dropped) */
    size_t n_stored;
    const char *job_secret; /* the job's --secret-header names, "a,b" (in stored), or NULL */
    char *headers_copy;
    const char **headers;
    uint64_t *seen; /* hashes of the lines OUTPUT held at the start */
    size_t seen_cap, n_seen;
};

/*
 * Stores this process's settings with a new job, or checks them against the job's: a run must
 * match; a worker adopts what it did not give and must match what it gave. Headers that carry
 * credentials (dist_header_secret) are neither stored, compared nor adopted: each process
 * sends its own. Returns 0, or the exit status after saying why (2: options, 3: Redis).
 */
int dist_settings(struct dist *dist, sluice_config_t *cfg, struct dist_opts *d, const char **url,
                  int worker);

/*
 * 1 when header line h ("Name: value") carries a credential: Authorization,
 * Proxy-Authorization, api-key, x-api-key, x-goog-api-key, Cookie, a --secret-header name, or
 * one the job was created with (dist may be NULL). Names compare without case.
 */
int dist_header_secret(const struct dist *dist, const struct dist_opts *d, const char *h);

/*
 * A worker's last check before it sends anything: the job's base URL must be http(s), and
 * when the worker sends a credential (its API key or a credential header), its origin must be
 * one the worker was given: --base-url or the environment's (d->own_base), the provider's
 * default API host, or an --allow-origin. Returns 0, or 2 after saying how to allow it.
 */
int dist_check_origin(const struct dist *dist, const sluice_config_t *cfg,
                      const struct dist_opts *d);

/*
 * "scheme://host:port" of an http:// or https:// URL into buf: scheme and host in lower case,
 * the scheme's port when the URL gives none, user info dropped. Returns 0, or -1 for another
 * scheme, an empty or odd host (spaces, control bytes) or a bad port.
 */
int dist_origin(const char *url, char *buf, size_t size);

/*
 * The Redis URL of a command: `given` (--redis), else the first line of `file`
 * (--redis-url-file), else $REDIS_URL when env_ok; *url stays NULL when there is none. A
 * password in `given` is visible to every user in ps: says so once (never the password).
 * Hands the file's text over in *owned. Returns 0, or 2 after saying why.
 */
int dist_redis_url(const char *given, const char *file, int env_ok, const char **url, char **owned);

/* The shared budget's key: --limit-key, else the base URL and a hash of the API key. */
void dist_limit_key(const sluice_config_t *cfg, const char *given, char *buf, size_t size);

/* Loads the hashes of OUTPUT's complete lines (a run continuing after a crash); 0 or -1. */
int dist_seen_load(struct dist *dist, const char *path);
/* 1 when OUTPUT already held this line at the start. */
int dist_seen(const struct dist *dist, const char *line, size_t len);

void dist_free(struct dist *dist);

#endif
