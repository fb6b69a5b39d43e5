/*
 * The distributed mode's glue for `sluice run --redis` and `sluice work` (docs/DESIGN.md
 * "Distributed mode"): the job's stored settings, the shared limiter's key, the OUTPUT
 * writer's duplicate check after a crash, and the wait for the last commits.
 */
#include "dist.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- settings ---- */

static const char *const provider_names[] = {"openai", "azure", "anthropic", "none", "gemini"};

static void fmt_num(char *buf, size_t n, double v) {
    snprintf(buf, n, "%.17g", v);
}

/* The settings stored with a job, in a fixed order. */
struct setting {
    const char *key;
    const char *flag; /* the option, for messages */
    int given_bit;
};

static const struct setting settings[] = {
    {"base_url", "--base-url", DIST_GIVEN_BASE_URL},
    {"provider", "--provider", DIST_GIVEN_PROVIDER},
    {"url", "--url", DIST_GIVEN_URL},
    {"headers", "-H", DIST_GIVEN_HEADERS},
    {"rpm", "--rpm", DIST_GIVEN_RPM},
    {"tpm", "--tpm", DIST_GIVEN_TPM},
    {"burst", "--burst", DIST_GIVEN_BURST},
    {"max_attempts", "--max-attempts", DIST_GIVEN_MAX_ATTEMPTS},
    {"timeout", "--timeout", DIST_GIVEN_TIMEOUT},
    {"limit_key", "--limit-key", DIST_GIVEN_LIMIT_KEY},
    {"max_deliveries", "--max-deliveries", DIST_GIVEN_MAX_DELIVERIES},
    {"claim_idle", "--claim-idle", DIST_GIVEN_CLAIM_IDLE},
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

/* This process's value of each setting. */
static int values_of(const sluice_config_t *cfg, const struct dist_opts *d, const char *url,
                     char vals[N_SETTINGS][512], char **headers_out) {
    size_t hl = 1;
    for (size_t i = 0; i < cfg->n_headers; i++)
        hl += strlen(cfg->headers[i]) + 1;
    char *h = malloc(hl);
    if (!h)
        return -1;
    h[0] = '\0';
    for (size_t i = 0; i < cfg->n_headers; i++) {
        strcat(h, cfg->headers[i]);
        if (i + 1 < cfg->n_headers)
            strcat(h, "\n");
    }
    *headers_out = h;
    snprintf(vals[0], 512, "%s", cfg->base_url);
    snprintf(vals[1], 512, "%s", provider_names[cfg->provider]);
    snprintf(vals[2], 512, "%s", url ? url : "");
    vals[3][0] = '\0'; /* headers: passed apart, they may be long */
    fmt_num(vals[4], 512, cfg->rpm);
    fmt_num(vals[5], 512, cfg->tpm);
    fmt_num(vals[6], 512, cfg->burst_s);
    snprintf(vals[7], 512, "%d", cfg->max_attempts);
    fmt_num(vals[8], 512, cfg->timeout_s);
    snprintf(vals[9], 512, "%s", d->limit_key ? d->limit_key : "");
    snprintf(vals[10], 512, "%d", d->max_deliveries);
    fmt_num(vals[11], 512, d->claim_idle_s);
    return 0;
}

/* Takes a stored value into this process's settings (a worker that did not give it). */
static int adopt(struct dist *dist, size_t i, const char *v, sluice_config_t *cfg,
                 struct dist_opts *d, const char **url) {
    switch (i) {
    case 0:
        cfg->base_url = v;
        break;
    case 1:
        if (sluice_provider_parse(v, &cfg->provider) < 0)
            return -1;
        break;
    case 2:
        *url = *v ? v : NULL;
        break;
    case 3: {
        /* One header per line. */
        size_t n = *v ? 1 : 0;
        for (const char *p = v; *p; p++)
            n += *p == '\n';
        char *copy = strdup(v);
        const char **hs = calloc(n + 1, sizeof(*hs));
        if (!copy || !hs) {
            free(copy);
            free(hs);
            return -1;
        }
        size_t k = 0;
        for (char *p = copy; n && p;) {
            hs[k++] = p;
            p = strchr(p, '\n');
            if (p)
                *p++ = '\0';
        }
        dist->headers_copy = copy;
        dist->headers = hs;
        cfg->headers = hs;
        cfg->n_headers = k;
        break;
    }
    case 4:
        cfg->rpm = strtod(v, NULL);
        break;
    case 5:
        cfg->tpm = strtod(v, NULL);
        break;
    case 6:
        cfg->burst_s = strtod(v, NULL);
        break;
    case 7:
        cfg->max_attempts = atoi(v);
        break;
    case 8:
        cfg->timeout_s = strtod(v, NULL);
        break;
    case 9:
        d->limit_key = *v ? v : NULL;
        break;
    case 10:
        d->max_deliveries = atoi(v);
        break;
    case 11:
        d->claim_idle_s = strtod(v, NULL);
        break;
    }
    return 0;
}

int dist_settings(struct dist *dist, sluice_config_t *cfg, struct dist_opts *d, const char **url,
                  int worker) {
    char vals[N_SETTINGS][512], err[512];
    char *headers = NULL;
    const char *keys[N_SETTINGS], *v[N_SETTINGS];
    if (values_of(cfg, d, *url, vals, &headers) < 0)
        return -1;
    for (size_t i = 0; i < N_SETTINGS; i++) {
        keys[i] = settings[i].key;
        v[i] = i == 3 ? headers : vals[i];
    }
    int created = 0, said = 0;
    char **got = NULL;
    int rc;
    /* A worker never creates a job: it waits for the run that feeds it. */
    while ((rc = sluice_job_settings(dist->redis, d->job, keys, v, N_SETTINGS, !worker, &created,
                                     &got, err, sizeof(err))) == SLUICE_EOF) {
        if (!said++)
            fprintf(stderr,
                    "sluice: no job %s in Redis yet; waiting for it (start it with: sluice "
                    "run INPUT -o OUTPUT --redis URL --job %s ...)\n",
                    d->job, d->job);
        sleep(1);
    }
    if (rc < 0) {
        free(headers);
        fprintf(stderr, "sluice: --job %s: %s\n", d->job, err);
        return rc == SLUICE_EIO ? 3 : 2;
    }
    dist->created = created;
    int bad = 0;
    for (size_t i = 0; got && i < N_SETTINGS && !bad; i++) {
        if (!got[i])
            continue;
        if (strcmp(got[i], v[i]) == 0)
            continue;
        if (worker && !(d->given & settings[i].given_bit)) {
            if (adopt(dist, i, got[i], cfg, d, url) < 0) {
                fprintf(stderr, "sluice: job %s has a bad stored %s '%s'\n", d->job,
                        settings[i].key, got[i]);
                bad = 1;
            }
            continue;
        }
        fprintf(stderr,
                "sluice: job %s was created with %s '%s', this %s says '%s': give the same "
                "options as the job (or none, for a worker), or use another --job\n",
                d->job, settings[i].flag, got[i], worker ? "worker" : "run", v[i]);
        bad = 1;
    }
    free(headers);
    dist->stored = got;
    dist->n_stored = got ? N_SETTINGS : 0;
    return bad ? 2 : 0;
}

/* FNV-1a, 64 bits. */
static uint64_t fnv64(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The default limit key: the provider's address and a hash of the API key (never the key). */
void dist_limit_key(const sluice_config_t *cfg, const char *given, char *buf, size_t size) {
    if (given) {
        snprintf(buf, size, "%s", given);
        return;
    }
    const char *key = cfg->api_key ? cfg->api_key : "";
    snprintf(buf, size, "%s#%016" PRIx64, cfg->base_url, fnv64(key, strlen(key)));
}

/* ---- OUTPUT after a crash ---- */

/* A line's hash for the seen set, where 0 marks an empty slot. */
static uint64_t line_hash(const char *s, size_t n) {
    uint64_t h = fnv64(s, n);
    return h ? h : 1;
}

int dist_seen_load(struct dist *dist, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    size_t lines = 0;
    int ch, last = '\n';
    while ((ch = getc(f)) != EOF) {
        lines += ch == '\n';
        last = ch;
    }
    (void)last;
    dist->seen_cap = lines * 2 + 16;
    dist->seen = calloc(dist->seen_cap, sizeof(*dist->seen));
    if (!dist->seen) {
        fclose(f);
        return -1;
    }
    rewind(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n')
            break; /* a torn last line: the sink cuts it off */
        uint64_t h = line_hash(line, (size_t)n - 1);
        size_t i = h % dist->seen_cap;
        while (dist->seen[i] && dist->seen[i] != h)
            i = (i + 1) % dist->seen_cap;
        dist->seen[i] = h;
        dist->n_seen++;
    }
    free(line);
    fclose(f);
    return 0;
}

int dist_seen(const struct dist *dist, const char *line, size_t len) {
    if (!dist->seen)
        return 0;
    uint64_t h = line_hash(line, len);
    for (size_t i = h % dist->seen_cap; dist->seen[i]; i = (i + 1) % dist->seen_cap)
        if (dist->seen[i] == h)
            return 1;
    return 0;
}

void dist_free(struct dist *dist) {
    for (size_t i = 0; dist->stored && i < dist->n_stored; i++)
        free(dist->stored[i]);
    free(dist->stored);
    free(dist->headers_copy);
    free(dist->headers);
    free(dist->seen);
    memset(dist, 0, sizeof(*dist));
}
