/*
 * The distributed mode's glue for `sluice run --redis` and `sluice work` (docs/DESIGN.md
 * "Distributed mode"): the job's stored settings, the shared limiter's key, the OUTPUT
 * writer's duplicate check after a crash, and the wait for the last commits.
 */
#include "dist.h"
#include "key.h"
#include "msg.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "paths.h"
#include "util.h"

/* ---- credentials ---- */

/* 1 when the comma-separated `list` holds name[0..n) (without case). */
static int name_listed(const char *list, const char *name, size_t n) {
    while (list && *list) {
        size_t len = strcspn(list, ",");
        if (len == n && n > 0 && strncasecmp(list, name, n) == 0)
            return 1;
        list += len + (list[len] == ',');
    }
    return 0;
}

int dist_header_secret(const struct dist *dist, const struct dist_opts *d, const char *h) {
    const char *name;
    size_t n = key_header_name(h, &name);
    if (key_header_is_credential(h))
        return 1;
    for (size_t i = 0; d && i < d->n_secret; i++) {
        const char *s;
        size_t sn = key_header_name(d->secret[i], &s);
        if (sn == n && strncasecmp(s, name, n) == 0)
            return 1;
    }
    return dist && name_listed(dist->job_secret, name, n);
}

/* ---- settings ---- */

static const char *const provider_names[] = {"openai", "azure", "anthropic", "none", "gemini"};

static void fmt_num(char *buf, size_t n, double v) {
    snprintf(buf, n, "%.17g", v);
}

/* The settings stored with a job, in a fixed order. */
struct setting {
    const char *key;
    const char *flag; /* the option, for messages */
    int given_bit;    /* 0: see dist_settings */
};

enum { S_HEADERS = 3, S_SECRET = 12 };

static const struct setting settings[] = {
    {"base_url", "--base-url", DIST_GIVEN_BASE_URL},
    {"provider", "--provider", DIST_GIVEN_PROVIDER},
    {"url", "--url", DIST_GIVEN_URL},
    {"headers", "-H", 0}, /* S_HEADERS: those that carry no credential */
    {"rpm", "--rpm", DIST_GIVEN_RPM},
    {"tpm", "--tpm", DIST_GIVEN_TPM},
    {"burst", "--burst", DIST_GIVEN_BURST},
    {"max_attempts", "--max-attempts", DIST_GIVEN_MAX_ATTEMPTS},
    {"timeout", "--timeout", DIST_GIVEN_TIMEOUT},
    {"limit_key", "--limit-key", DIST_GIVEN_LIMIT_KEY},
    {"max_deliveries", "--max-deliveries", DIST_GIVEN_MAX_DELIVERIES},
    {"claim_idle", "--claim-idle", DIST_GIVEN_CLAIM_IDLE},
    {"secret_headers", "--secret-header", 0}, /* S_SECRET: names only, never compared */
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

/* This process's headers that carry no credential, one per line (malloc'd), or NULL. */
static char *plain_headers(const struct dist *dist, const struct dist_opts *d,
                           const sluice_config_t *cfg) {
    size_t hl = 1;
    for (size_t i = 0; i < cfg->n_headers; i++)
        hl += strlen(cfg->headers[i]) + 1;
    char *h = malloc(hl);
    if (!h)
        return NULL;
    h[0] = '\0';
    for (size_t i = 0; i < cfg->n_headers; i++) {
        if (dist_header_secret(dist, d, cfg->headers[i]))
            continue;
        if (h[0])
            strcat(h, "\n");
        strcat(h, cfg->headers[i]);
    }
    return h;
}

/* The --secret-header names, "a,b" in lower case (malloc'd), or NULL. */
static char *secret_names(const struct dist_opts *d) {
    size_t l = 1;
    for (size_t i = 0; i < d->n_secret; i++)
        l += strlen(d->secret[i]) + 1;
    char *s = malloc(l), *p = s;
    if (!s)
        return NULL;
    for (size_t i = 0; i < d->n_secret; i++) {
        const char *name;
        size_t n = key_header_name(d->secret[i], &name);
        if (p != s)
            *p++ = ',';
        for (size_t k = 0; k < n; k++)
            *p++ = (char)tolower((unsigned char)name[k]);
    }
    *p = '\0';
    return s;
}

/* This process's value of each setting but the two lists, which are passed apart. */
static void values_of(const sluice_config_t *cfg, const struct dist_opts *d, const char *url,
                      char vals[N_SETTINGS][512]) {
    snprintf(vals[0], 512, "%s", cfg->base_url);
    snprintf(vals[1], 512, "%s", provider_names[cfg->provider]);
    snprintf(vals[2], 512, "%s", url ? url : "");
    vals[S_HEADERS][0] = '\0';
    fmt_num(vals[4], 512, cfg->rpm);
    fmt_num(vals[5], 512, cfg->tpm);
    fmt_num(vals[6], 512, cfg->burst_s);
    snprintf(vals[7], 512, "%d", cfg->max_attempts);
    fmt_num(vals[8], 512, cfg->timeout_s);
    snprintf(vals[9], 512, "%s", d->limit_key ? d->limit_key : "");
    snprintf(vals[10], 512, "%d", d->max_deliveries);
    fmt_num(vals[11], 512, d->claim_idle_s);
    vals[S_SECRET][0] = '\0';
}

/*
 * The job's headers (one per line) for a worker that gave none of its own without a
 * credential: its own credential headers first, then the job's.
 */
static int adopt_headers(struct dist *dist, const char *v, sluice_config_t *cfg) {
    size_t n = *v ? 1 : 0, own = cfg->n_headers;
    for (const char *p = v; *p; p++)
        n += *p == '\n';
    char *copy = strdup(v);
    const char **hs = calloc(own + n + 1, sizeof(*hs));
    if (!copy || !hs) {
        free(copy);
        free(hs);
        return -1;
    }
    size_t k = 0;
    for (; k < own; k++)
        hs[k] = cfg->headers[k];
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
    case S_HEADERS:
        return adopt_headers(dist, v, cfg);
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

/*
 * Drops the credential headers from the job's stored headers (*stored, replaced): a job
 * written by an older sluice, or by hand, may hold some. Their names go to `dropped`.
 */
static int drop_secret_headers(const struct dist *dist, const struct dist_opts *d, char **stored,
                               char *dropped, size_t size) {
    char *out = malloc(strlen(*stored) + 1), *o = out;
    if (!out)
        return -1;
    dropped[0] = '\0';
    for (const char *p = *stored; *p;) {
        size_t n = strcspn(p, "\n");
        char line[1024];
        snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), p);
        if (dist_header_secret(dist, d, line)) {
            const char *name;
            size_t nl = key_header_name(line, &name), at = strlen(dropped);
            snprintf(dropped + at, size - at, "%s%.*s", at ? ", " : "", (int)nl, name);
        } else {
            if (o != out)
                *o++ = '\n';
            memcpy(o, p, n);
            o += n;
        }
        p += n + (p[n] == '\n');
    }
    *o = '\0';
    free(*stored);
    *stored = out;
    return 0;
}

/* A stored or given value in a message: one line, no control bytes (a header list's line
   ends read as "; "). */
static void put_value(FILE *f, const char *v) {
    for (; *v; v++) {
        if (*v == '\n')
            fputs("; ", f);
        else
            putc((unsigned char)*v < 0x20 || *v == 0x7f ? '?' : *v, f);
    }
}

/* Checks the settings read back against this process's; a worker adopts what it did not give.
   Returns 0 or 2 after saying why. */
static int settings_match(struct dist *dist, sluice_config_t *cfg, struct dist_opts *d,
                          const char **url, int worker, char **got, const char *const *v) {
    char dropped[256];
    if (got[S_HEADERS] &&
        drop_secret_headers(dist, d, &got[S_HEADERS], dropped, sizeof(dropped)) < 0) {
        msg_say(stderr, "out of memory\n");
        return 2;
    }
    if (got[S_HEADERS] && dropped[0])
        msg_say(stderr,
                "warning: job %s holds credential headers in Redis (%s), written by an "
                "older sluice or by hand: they are ignored, each process sends its own; "
                "delete the job once it is finished\n",
                d->job, dropped);
    /* Only the headers that carry no credential are compared (or adopted): the ones left when
       the job's credential names are known too. */
    char *mine = plain_headers(dist, d, cfg);
    if (!mine) {
        msg_say(stderr, "out of memory\n");
        return 2;
    }
    int bad = 0;
    for (size_t i = 0; i < N_SETTINGS && !bad; i++) {
        const char *own = i == S_HEADERS ? mine : v[i];
        if (!got[i] || i == S_SECRET || strcmp(got[i], own) == 0)
            continue;
        int gave = i == S_HEADERS ? own[0] != '\0' : (d->given & settings[i].given_bit) != 0;
        if (worker && !gave) {
            if (adopt(dist, i, got[i], cfg, d, url) < 0) {
                msg_say(stderr, "job %s has a bad stored %s '", d->job, settings[i].key);
                put_value(stderr, got[i]);
                fputs("'\n", stderr);
                bad = 1;
            }
            continue;
        }
        msg_say(stderr, "job %s was created with %s '", d->job, settings[i].flag);
        put_value(stderr, got[i]);
        fprintf(stderr, "', this %s says '", worker ? "worker" : "run");
        put_value(stderr, own);
        fprintf(stderr,
                "': give the same options as the job (or none, for a worker%s), or use "
                "another --job\n",
                i == S_HEADERS ? "; credential headers are not compared" : "");
        bad = 1;
    }
    free(mine);
    return bad ? 2 : 0;
}

int dist_settings(struct dist *dist, sluice_config_t *cfg, struct dist_opts *d, const char **url,
                  int worker) {
    char vals[N_SETTINGS][512], err[512];
    const char *keys[N_SETTINGS], *v[N_SETTINGS];
    char *headers = plain_headers(NULL, d, cfg), *secret = secret_names(d);
    if (!headers || !secret) {
        free(headers);
        free(secret);
        msg_say(stderr, "out of memory\n");
        return 2;
    }
    values_of(cfg, d, *url, vals);
    /* A worker never creates the job, so its values are not stored: its headers are not even
       sent (the job may name more of them credentials than this process knows yet). */
    for (size_t i = 0; i < N_SETTINGS; i++) {
        keys[i] = settings[i].key;
        v[i] = i == S_HEADERS ? (worker ? "" : headers) : i == S_SECRET ? secret : vals[i];
    }
    int created = 0, said = 0;
    char **got = NULL;
    int rc;
    /* A worker never creates a job: it waits for the run that feeds it. */
    while ((rc = sluice_job_settings(dist->redis, d->job, keys, v, N_SETTINGS, !worker, &created,
                                     &got, err, sizeof(err))) == SLUICE_EOF) {
        if (!said++)
            msg_say(stderr,
                    "no job %s in Redis yet; waiting for it (start it with: sluice "
                    "run INPUT -o OUTPUT --redis URL --job %s ...)\n",
                    d->job, d->job);
        sleep(1);
    }
    free(secret);
    if (rc < 0) {
        free(headers);
        msg_say(stderr, "--job %s: %s\n", d->job, err);
        return rc == SLUICE_EIO ? 3 : 2;
    }
    dist->created = created;
    dist->stored = got;
    dist->n_stored = got ? N_SETTINGS : 0;
    if (got)
        dist->job_secret = got[S_SECRET];
    rc = got ? settings_match(dist, cfg, d, url, worker, got, v) : 0;
    free(headers);
    return rc;
}

/* ---- whom a worker trusts with its key ---- */

int dist_origin(const char *url, char *buf, size_t size) {
    const char *scheme, *p;
    long port;
    if (strncasecmp(url, "http://", 7) == 0) {
        scheme = "http";
        port = 80;
        p = url + 7;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        scheme = "https";
        port = 443;
        p = url + 8;
    } else {
        return -1;
    }
    const char *end = p + strcspn(p, "/?#"), *host = p, *hend;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            host = q + 1; /* user info ends at the authority's last '@' */
    if (*host == '[') {
        hend = memchr(host, ']', (size_t)(end - host));
        if (!hend)
            return -1;
        hend++;
    } else {
        hend = memchr(host, ':', (size_t)(end - host));
        if (!hend)
            hend = end;
    }
    if (hend == host)
        return -1;
    if (hend < end) {
        if (*hend != ':')
            return -1;
        if (hend + 1 < end) { /* "host:" is the default port (RFC 3986 §3.2.3) */
            port = 0;
            for (const char *q = hend + 1; q < end; q++) {
                if (*q < '0' || *q > '9' || port > 65535)
                    return -1;
                port = port * 10 + (*q - '0');
            }
            if (port < 1 || port > 65535)
                return -1;
        }
    }
    size_t hl = (size_t)(hend - host);
    if ((size_t)snprintf(buf, size, "%s://%.*s:%ld", scheme, (int)hl, host, port) >= size)
        return -1;
    for (char *q = buf + strlen(scheme) + 3; q < buf + strlen(scheme) + 3 + hl; q++) {
        if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
            return -1;
        *q = (char)tolower((unsigned char)*q);
    }
    return 0;
}

/* The API host a provider's key is for, when there is one for every user (not Azure's). */
static const char *provider_origin(sluice_provider_t p) {
    switch (p) {
    case SLUICE_PROVIDER_OPENAI:
        return "https://api.openai.com:443";
    case SLUICE_PROVIDER_ANTHROPIC:
        return "https://api.anthropic.com:443";
    case SLUICE_PROVIDER_GEMINI:
        return "https://generativelanguage.googleapis.com:443";
    default:
        return NULL;
    }
}

/* 1 when `url` is on `origin` (normalized). */
static int same_origin(const char *url, const char *origin) {
    char o[300];
    return url && dist_origin(url, o, sizeof(o)) == 0 && strcmp(o, origin) == 0;
}

int dist_check_origin(const struct dist *dist, const sluice_config_t *cfg,
                      const struct dist_opts *d) {
    char job[300];
    if (dist_origin(cfg->base_url, job, sizeof(job)) < 0) {
        msg_say(stderr,
                "job %s: its base URL is not an http:// or https:// URL with a host; "
                "this worker will not send requests there (give it --base-url)\n",
                d->job);
        return 2;
    }
    int sends = cfg->api_key && cfg->api_key[0] && cfg->provider != SLUICE_PROVIDER_NONE;
    for (size_t i = 0; i < cfg->n_headers && !sends; i++)
        sends = dist_header_secret(dist, d, cfg->headers[i]);
    /* With nothing to give away, the job's host is the job's business: whoever can write the
       job in Redis can read its requests and write its results anyway. */
    if (!sends)
        return 0;
    const char *def = provider_origin(cfg->provider);
    if (same_origin(d->own_base, job) || (def && strcmp(def, job) == 0))
        return 0;
    for (size_t i = 0; i < d->n_allow; i++)
        if (same_origin(d->allow[i], job))
            return 0;
    msg_say(stderr,
            "job %s sends its requests to %s, which this worker was not given: it sends "
            "its API key and credential headers only to its own --base-url ($SLUICE_BASE_URL, "
            "$OPENAI_BASE_URL)%s%s%s or an --allow-origin, as whoever can write the job in Redis "
            "chooses its base URL. If that server is yours, give this worker the job's "
            "--base-url, or --allow-origin %s\n",
            d->job, job, def ? ", " : "", def ? def : "", def ? " (the provider's)" : "", job);
    return 2;
}

/* ---- the Redis URL ---- */

/* 1 when a Redis URL carries a password ("redis://[user]:password@host"). */
static int url_has_password(const char *url) {
    const char *p = strstr(url, "://");
    if (!p)
        return 0;
    p += 3;
    const char *at = strrchr(p, '@');
    if (!at)
        return 0;
    const char *colon = memchr(p, ':', (size_t)(at - p));
    return colon && colon + 1 < at;
}

int dist_redis_url(const char *given, const char *file, int env_ok, const char **url,
                   char **owned) {
    *url = NULL;
    *owned = NULL;
    if (given && file) {
        msg_say(stderr, "give --redis or --redis-url-file, not both\n");
        return 2;
    }
    if (given) {
        if (url_has_password(given))
            msg_say(stderr, "warning: the password in --redis can be read by every user "
                            "of this machine (ps); put the URL in $REDIS_URL or a file "
                            "(--redis-url-file), or the password in $SLUICE_REDIS_PASSWORD\n");
        *url = given;
        return 0;
    }
    if (file) {
        char *line = paths_read_line(file);
        if (!line || !*line) {
            msg_say(stderr, "cannot read the Redis URL from --redis-url-file %s: %s\n", file,
                    line ? "the file is empty" : strerror(errno));
            free(line);
            return 2;
        }
        *url = *owned = line;
        return 0;
    }
    const char *env = getenv("REDIS_URL");
    if (env_ok && env && *env)
        *url = env;
    return 0;
}

void dist_opts_free(struct dist_opts *d) {
    if (d->redis_owned) {
        memset(d->redis_owned, 0, strlen(d->redis_owned));
        free(d->redis_owned);
    }
    free(d->secret);
    free(d->allow);
    d->redis_owned = NULL;
    d->secret = d->allow = NULL;
    d->n_secret = d->n_allow = 0;
}

/* The default limit key: the provider's address and a hash of the API key (never the key). */
void dist_limit_key(const sluice_config_t *cfg, const char *given, char *buf, size_t size) {
    if (given) {
        snprintf(buf, size, "%s", given);
        return;
    }
    const char *key = cfg->api_key ? cfg->api_key : "";
    snprintf(buf, size, "%s#%016" PRIx64, cfg->base_url,
             util_fnv1a64_short_basis(key, strlen(key)));
}

/* ---- OUTPUT after a crash ---- */

/* A line's hash for the seen set, where 0 marks an empty slot. */
static uint64_t line_hash(const char *s, size_t n) {
    uint64_t h = util_fnv1a64_short_basis(s, n);
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
