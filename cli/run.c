/*
 * `sluice run`: parse the command line, wire the JSONL source and sink to an engine, handle
 * signals, draw the status line, print the summary, and map the outcome to an exit status.
 * Every message for people is built here, never in the library.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sluice.h>

#include "cli.h"
#include "cost.h"
#include "count.h"
#include "dryrun.h"
#include "key.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "opts.h"
#include "order.h"
#include "paths.h"
#include "writer.h"
#include "resume.h"
#include "run_exit.h"
#include "status.h"
#include "term.h"

enum {
    OPT_BASE_URL = 256,
    OPT_URL,
    OPT_PROVIDER,
    OPT_API_KEY_ENV,
    OPT_API_KEY_FILE,
    OPT_RPM,
    OPT_TPM,
    OPT_MAX_ATTEMPTS,
    OPT_TIMEOUT,
    OPT_CONNECT_TIMEOUT,
    OPT_BACKOFF_BASE,
    OPT_BACKOFF_CAP,
    OPT_RESUME,
    OPT_OVERWRITE,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_CACERT,
    OPT_INSECURE,
    OPT_SEED,
    OPT_GIVE_UP_AFTER,
    OPT_CONNECT_GRACE,
    OPT_MAX_RESPONSE_BYTES,
    OPT_FSYNC,
    OPT_MAX_RETRY_AFTER,
    OPT_DRAIN_TIMEOUT,
    OPT_BURST,
    OPT_STATS_JSON,
    OPT_ORDERED,
    OPT_PRICE_IN,
    OPT_PRICE_OUT,
    OPT_PRICES,
    OPT_MAX_COST,
    OPT_DRY_RUN,
    OPT_METRICS,
    OPT_LOG,
    OPT_REDIS,
    OPT_JOB,
    OPT_LIMIT_KEY,
    OPT_BACKLOG,
    OPT_CLAIM_IDLE,
    OPT_MAX_DELIVERIES,
    OPT_FOLLOW,
    OPT_SECRET_HEADER,
    OPT_ALLOW_ORIGIN,
    OPT_REDIS_URL_FILE,
};

static const struct option long_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"base-url", required_argument, NULL, OPT_BASE_URL},
    {"url", required_argument, NULL, OPT_URL},
    {"provider", required_argument, NULL, OPT_PROVIDER},
    {"api-key-env", required_argument, NULL, OPT_API_KEY_ENV},
    {"api-key-file", required_argument, NULL, OPT_API_KEY_FILE},
    {"header", required_argument, NULL, 'H'},
    {"concurrency", required_argument, NULL, 'c'},
    {"rpm", required_argument, NULL, OPT_RPM},
    {"tpm", required_argument, NULL, OPT_TPM},
    {"max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"backoff-base", required_argument, NULL, OPT_BACKOFF_BASE},
    {"backoff-cap", required_argument, NULL, OPT_BACKOFF_CAP},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"overwrite", no_argument, NULL, OPT_OVERWRITE},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"give-up-after", required_argument, NULL, OPT_GIVE_UP_AFTER},
    {"connect-grace", required_argument, NULL, OPT_CONNECT_GRACE},
    {"max-response-bytes", required_argument, NULL, OPT_MAX_RESPONSE_BYTES},
    {"fsync", required_argument, NULL, OPT_FSYNC},
    {"max-retry-after", required_argument, NULL, OPT_MAX_RETRY_AFTER},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
    {"burst", required_argument, NULL, OPT_BURST},
    {"stats-json", required_argument, NULL, OPT_STATS_JSON},
    {"ordered", no_argument, NULL, OPT_ORDERED},
    {"price-in", required_argument, NULL, OPT_PRICE_IN},
    {"price-out", required_argument, NULL, OPT_PRICE_OUT},
    {"prices", required_argument, NULL, OPT_PRICES},
    {"max-cost", required_argument, NULL, OPT_MAX_COST},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"log", required_argument, NULL, OPT_LOG},
    {"redis", required_argument, NULL, OPT_REDIS},
    {"job", required_argument, NULL, OPT_JOB},
    {"limit-key", required_argument, NULL, OPT_LIMIT_KEY},
    {"backlog", required_argument, NULL, OPT_BACKLOG},
    {"claim-idle", required_argument, NULL, OPT_CLAIM_IDLE},
    {"max-deliveries", required_argument, NULL, OPT_MAX_DELIVERIES},
    {"follow", no_argument, NULL, OPT_FOLLOW},
    {"secret-header", required_argument, NULL, OPT_SECRET_HEADER},
    {"allow-origin", required_argument, NULL, OPT_ALLOW_ORIGIN},
    {"redis-url-file", required_argument, NULL, OPT_REDIS_URL_FILE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Strict number parsing: the whole argument, in range, or a clear error. */
static int parse_num(const char *opt, const char *s, double min, double max, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < min || v > max) {
        msg_say(stderr, "%s expects a number from %g to %g, got '%s'\n", opt, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

struct run_ctx {
    sluice_t *eng;
    sluice_jsonl_source_t *src;
    sluice_jsonl_sink_t *sink;
    const char *input;
    int sigints;
    uv_signal_t sigint, sigterm;
    struct status *status;
    struct order *order;    /* --ordered */
    struct writer *writer;  /* durable output: keeps lines a full disk refused */
    uv_timer_t drain_timer; /* --drain-timeout after the first signal */
    double drain_timeout_s;
    struct cost *cost;
    struct status_tally tally; /* final failures by code */
    struct metrics *metrics;   /* --metrics */
    struct log *log;           /* --log */
    uint64_t t0_ns;            /* for --log times */
    struct resume_set *done;   /* --resume: the ids OUTPUT holds as successes */
    uint64_t skipped;          /* input lines --resume skipped: their ids were done */
    /* distributed mode */
    struct dist dist;
    sluice_job_t *job;
    uv_timer_t dist_timer; /* Redis down too long?; heartbeat info */
    double give_up_s;
    int redis_gave_up;
    int commit_gave_up;      /* Redis refused the commits for --give-up-after */
    int feed_failed;         /* feeding INPUT into the job failed: the run stops */
    uint64_t feed_failed_at; /* uv_now then */
    char feed_why[256];      /* what was wrong with INPUT, when feeding it failed */
    char *line_buf;          /* a result line and its newline, for the writer */
    size_t line_cap;
};

/* One attempt ended: feeds --metrics' histogram and --log. */
static void on_attempt(const sluice_attempt_t *a, void *ud) {
    struct run_ctx *c = ud;
    if (c->metrics)
        metrics_observe(c->metrics, a);
    if (c->log)
        log_attempt(c->log, a, (double)(uv_hrtime() - c->t0_ns) / 1e9);
}

static int on_result(const sluice_result_t *res, void *ud) {
    struct run_ctx *c = ud;
    cost_on_result(c->cost, res);
    status_tally_add(&c->tally, res->error_code);
    if (c->job) {
        /* The result goes to Redis; the run that feeds the job writes OUTPUT from there. */
        const char *line;
        size_t len;
        int rc = sluice_jsonl_sink_format(c->sink, res, &line, &len);
        return rc < 0 ? rc : sluice_job_commit(c->job, res, line, len - 1);
    }
    if (res->error_code && strcmp(res->error_code, "invalid_request") == 0) {
        char safe[TERM_SAFE_MSG]; /* it may quote the line's custom_id */
        status_clear(c->status);
        fprintf(stderr,
                "%s:%llu: %s; written as failed (invalid_request): fix the line, then "
                "run again with --resume\n",
                c->input, (unsigned long long)res->req->line,
                term_safe(res->error_message ? res->error_message : "", safe, sizeof(safe)));
    }
    if (c->order)
        return order_result(c->order, res);
    return writer_result(c->writer, res);
}

/* --resume's skip callback, counting: "nothing to do" says how many ids were done already. */
static int on_skip(void *ud, const char *custom_id) {
    struct run_ctx *c = ud;
    int skip = resume_skip(c->done, custom_id);
    c->skipped += skip != 0;
    return skip;
}

static void on_written(void *ud, size_t lines) {
    sluice_results_written(ud, lines);
}

/* The feeder rejected a line: say where and why (a worker writes its failed result). */
static void on_reject(void *ud, uint64_t line, const char *reason) {
    struct run_ctx *c = ud;
    char safe[TERM_SAFE_MSG];
    status_clear(c->status);
    fprintf(stderr,
            "%s:%llu: %s; written as failed (invalid_request): fix the line and run it "
            "again in a new job\n",
            c->input, (unsigned long long)line, term_safe(reason, safe, sizeof(safe)));
}

/* The OUTPUT writer of a distributed job: lines OUTPUT held before a crash are not written
   twice. */
static int on_job_line(void *ud, const char *line, size_t len) {
    struct run_ctx *c = ud;
    if (dist_seen(&c->dist, line, len))
        return 0;
    if (len + 1 > c->line_cap) {
        char *b = realloc(c->line_buf, len + 1);
        if (!b)
            return SLUICE_ENOMEM;
        c->line_buf = b;
        c->line_cap = len + 1;
    }
    memcpy(c->line_buf, line, len);
    c->line_buf[len] = '\n';
    return writer_line(c->writer, c->line_buf, len + 1);
}

static int on_job_sync(void *ud) {
    struct run_ctx *c = ud;
    /* The lines the writer holds for its next batch are not in the file yet: write them first,
       and trim nothing from Redis that a full disk kept back. */
    if (writer_flush(c->writer) != 0) {
        int err = writer_error(c->writer, NULL);
        return err ? err : SLUICE_EIO;
    }
    return sluice_jsonl_sink_sync(c->sink);
}

/* The heartbeat's numbers, for `sluice job status`; `exited` once this process is done. */
static void dist_info(struct run_ctx *c, int exited) {
    sluice_stats_t st;
    sluice_stats(c->eng, &st);
    char info[200];
    double done = (double)(st.succeeded + st.failed);
    snprintf(info, sizeof(info), "{\"done\":%.0f,\"in_flight\":%llu,\"rate\":%.1f,\"pid\":%ld%s}",
             done, exited ? 0ULL : (unsigned long long)st.in_flight,
             st.wall_s > 0 ? done / st.wall_s : 0.0, (long)getpid(),
             exited ? ",\"exited\":true" : "");
    sluice_job_set_info(c->job, info);
}

/* Why feeding INPUT into the job failed: Redis's words, or what was wrong with INPUT. */
static const char *feed_why(struct run_ctx *c) {
    if (sluice_jsonl_source_error(c->src) < 0) {
        paths_input_why(c->src, errno, c->feed_why, sizeof(c->feed_why));
        return c->feed_why;
    }
    return sluice_job_feed_error(c->job);
}

/* Every half second: is Redis gone for too long? And the heartbeat's numbers. */
static void on_dist_timer(uv_timer_t *t) {
    struct run_ctx *c = t->data;
    double down = sluice_redis_down_s(c->dist.redis);
    if (down > c->give_up_s && !c->redis_gave_up) {
        c->redis_gave_up = 1;
        status_clear(c->status);
        msg_say(stderr,
                "Redis has been unreachable for %.0f s (--give-up-after %g); stopping. "
                "Results not yet in Redis are lost to this process and run again elsewhere\n",
                down, c->give_up_s);
        sluice_stop(c->eng, SLUICE_STOP_ABANDON);
        return;
    }
    const char *why;
    double failing = c->job ? sluice_job_commit_failing_s(c->job, &why) : 0;
    if (down == 0 && failing > c->give_up_s && !c->commit_gave_up) {
        /* Reachable but refusing (out of memory, a read-only replica...): results cannot be
           stored, so sending more would only add to what is lost to this process. */
        c->commit_gave_up = 1;
        status_clear(c->status);
        msg_say(stderr,
                "Redis has refused the results' commits for %.0f s (--give-up-after "
                "%g): %s; stopping. Results not yet in Redis are lost to this process and run "
                "again elsewhere\n",
                failing, c->give_up_s, why);
        sluice_stop(c->eng, SLUICE_STOP_ABANDON);
        return;
    }
    if (c->job && c->src && !c->feed_failed && sluice_job_feed_done(c->job) < 0) {
        /* The rest of INPUT cannot get into the job, so the job cannot end: stop rather than
           wait for ever. What was fed stays in Redis for the next run. */
        c->feed_failed = 1;
        c->feed_failed_at = uv_now(t->loop);
        status_clear(c->status);
        msg_say(stderr, "feeding %s into the job failed (%s); stopping\n", c->input, feed_why(c));
        sluice_stop(c->eng, SLUICE_STOP_DRAIN);
        return;
    }
    if (c->job && c->eng)
        dist_info(c, 0);
}

/* A job name from INPUT's file name: "batch.jsonl" -> "batch". */
static void default_job_name(const char *input, char *buf, size_t size) {
    const char *base = strrchr(input, '/');
    base = base ? base + 1 : input;
    snprintf(buf, size, "%s", base);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf)
        *dot = '\0';
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '{' || *p == '}')
            *p = '_';
}

static void on_drain_timeout(uv_timer_t *t) {
    struct run_ctx *c = t->data;
    status_clear(c->status);
    msg_say(stderr,
            "requests in flight did not finish within --drain-timeout %g s; abandoning "
            "them (they run again on --resume)\n",
            c->drain_timeout_s);
    sluice_stop(c->eng, SLUICE_STOP_ABANDON);
}

static void on_signal(uv_signal_t *h, int signum) {
    struct run_ctx *c = h->data;
    c->sigints++;
    status_clear(c->status);
    if (c->sigints == 1) {
        msg_say(stderr,
                "%s: sending nothing more, waiting for requests in flight "
                "(press Ctrl-C again to abandon them)\n",
                signum == SIGINT ? "interrupted" : "terminated");
        sluice_stop(c->eng, SLUICE_STOP_DRAIN);
        if (c->drain_timeout_s > 0)
            uv_timer_start(&c->drain_timer, on_drain_timeout, (uint64_t)(c->drain_timeout_s * 1000),
                           0);
    } else {
        msg_say(stderr, "abandoning requests in flight; they run again on --resume\n");
        sluice_stop(c->eng, SLUICE_STOP_ABANDON);
    }
}

/* Holds <output>.lock with flock(2) for the run; the lock goes with the process, even on
   kill -9. Returns 0, or -1 after saying why. */
struct output_lock {
    int fd;
    char *path;
};

static int output_lock(struct output_lock *l, const char *output) {
    size_t n = strlen(output) + 6;
    l->path = malloc(n);
    if (!l->path)
        return -1;
    snprintf(l->path, n, "%s.lock", output);
    l->fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->fd < 0) {
        /* The lock is ours, not the user's: say what is wrong with OUTPUT's directory. */
        char why[2 * PATH_MAX + 64];
        paths_why_not(l->path, errno, why, sizeof(why));
        msg_say(stderr, "cannot write OUTPUT %s: %s\n", output, why);
        return -1;
    }
    if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
        msg_say(stderr,
                "%s is being written by another sluice run (it holds %s); wait "
                "for it to finish or stop it first\n",
                output, l->path);
        close(l->fd);
        l->fd = -1;
        return -1;
    }
    return 0;
}

static void output_unlock(struct output_lock *l) {
    if (l->fd >= 0) {
        unlink(l->path);
        close(l->fd);
    }
    free(l->path);
}

static const char *default_key_env(sluice_provider_t p) {
    switch (p) {
    case SLUICE_PROVIDER_AZURE:
        return "AZURE_OPENAI_API_KEY";
    case SLUICE_PROVIDER_ANTHROPIC:
        return "ANTHROPIC_API_KEY";
    case SLUICE_PROVIDER_NONE:
        return NULL;
    case SLUICE_PROVIDER_GEMINI:
        return "GEMINI_API_KEY";
    default:
        return "OPENAI_API_KEY";
    }
}

/* Reads the first line of a key file into a malloc'd string (the caller scrubs and frees); an
   empty file is no key (""), not a read error. */
static char *read_key_file(const char *path) {
    char *key = paths_read_line(path);
    return key || errno != 0 ? key : strdup("");
}

/*
 * The API key: the first line of --api-key-file, else the variable --api-key-env names (by
 * default the provider's). Returns it (the caller scrubs and frees it) or NULL (an empty key is
 * none), with the variable looked at in *key_env (NULL for a key file, or --provider none
 * without --api-key-env). Sets *bad after saying why --api-key-file cannot be read.
 */
static char *run_find_key(const sluice_config_t *cfg, const struct run_opts *o,
                          const char **key_env, int *bad) {
    char *key = NULL;
    *key_env = NULL;
    if (o->key_file) {
        key = read_key_file(o->key_file);
        if (!key) {
            msg_say(stderr, "cannot read the API key from %s: %s\n", o->key_file, strerror(errno));
            *bad = 1;
            return NULL;
        }
    } else {
        *key_env = o->key_env ? o->key_env : default_key_env(cfg->provider);
        const char *k = *key_env ? getenv(*key_env) : NULL;
        key = k ? strdup(k) : NULL;
    }
    if (key && !*key) {
        free(key);
        key = NULL;
    }
    return key;
}

/*
 * No key was found. A real provider at an https:// URL refuses every request without one
 * (key_required): say which variable to set and return -1 (a dry run, which sends nothing, only
 * notes it). Otherwise 0, with a warning when a variable was looked for in vain.
 */
static int run_check_key(const sluice_config_t *cfg, const struct run_opts *o, const char *key_env,
                         int dry_run) {
    char where[160];
    if (o->key_file)
        snprintf(where, sizeof(where), "--api-key-file %s is empty", o->key_file);
    else
        snprintf(where, sizeof(where), "$%s is not set", key_env);
    if (key_required(cfg)) {
        char fix[160];
        if (o->key_file)
            snprintf(fix, sizeof(fix), "put the key on its first line");
        else
            snprintf(fix, sizeof(fix), "export %s=..., or pass --api-key-file FILE", key_env);
        msg_say(stderr,
                "%sno API key: %s needs one and %s; %s (--provider none for a server "
                "that takes no key)%s\n",
                dry_run ? "note: " : "", cfg->base_url, where, fix,
                dry_run ? "; the run itself will refuse to start" : "; nothing was sent");
        return dry_run ? 0 : -1;
    }
    if ((key_env || o->key_file) && !key_in_headers(cfg))
        msg_say(stderr,
                "warning: %s; sending requests without an API key (use --provider "
                "none to silence this)\n",
                where);
    return 0;
}

/* 0, or -1 after saying which file the run would both read and write, or write twice, or
   cannot write at all. */
static int run_check_paths(const struct run_opts *o) {
    const struct path_use uses[] = {
        {"INPUT", o->input, 0, 0},
        {"--prices", o->prices, -1, 0},
        {"--api-key-file", o->key_file, -1, 0},
        {"--redis-url-file", o->dist.redis_file, -1, 0},
        {"OUTPUT", o->output, 1, !o->dry_run}, /* --dry-run only reads it (--resume) */
        {"--stats-json", o->stats_json, 1, 1},
        {"--log", o->log, 2, 1},
    };
    size_t n = sizeof(uses) / sizeof(uses[0]);
    return paths_check_distinct(uses, n) < 0 || paths_check_writable(uses, n) < 0 ? -1 : 0;
}

/* Appends s to a growing list of option values; -1 when out of memory. */
static int list_add(const char ***list, size_t *n, const char *s) {
    const char **nl = realloc(*list, (*n + 1) * sizeof(*nl));
    if (!nl)
        return -1;
    nl[(*n)++] = s;
    *list = nl;
    return 0;
}

int cli_run_main(int argc, char **argv) {
    sluice_config_t cfg;
    sluice_config_init(&cfg);
    struct run_opts opts = {.progress = -1,
                            .price_in = -1,
                            .price_out = -1,
                            .fsync_s = 1,
                            .drain_timeout_s = 60,
                            .dist = {.backlog = 10000, .claim_idle_s = 60, .max_deliveries = 5}};
    int worker = strcmp(argv[0], "work") == 0;
    opts.dist.worker = worker;
    int opt;
    double v;
    const char *env_base = getenv("SLUICE_BASE_URL");
    if (!env_base || !*env_base)
        env_base = getenv("OPENAI_BASE_URL");
    if (env_base && *env_base)
        cfg.base_url = opts.dist.own_base = env_base;
    /* SLUICE_HTTP=curl: every request through libcurl, the fast path off (to compare, or to
       get around a server the fast path does not get on with). */
    const char *env_http = getenv("SLUICE_HTTP");
    if (env_http && strcmp(env_http, "curl") == 0)
        cfg.http_fastpath = 0;

    optind = 1;
    opterr = 0; /* opts_say_error speaks instead, with a did-you-mean */
    while ((opt = getopt_long(argc, argv, ":o:H:c:h", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'o':
            opts.output = optarg;
            break;
        case OPT_BASE_URL:
            cfg.base_url = opts.dist.own_base = optarg;
            opts.dist.given |= DIST_GIVEN_BASE_URL;
            break;
        case OPT_URL:
            opts.url = optarg;
            opts.dist.given |= DIST_GIVEN_URL;
            break;
        case OPT_PROVIDER:
            opts.dist.given |= DIST_GIVEN_PROVIDER;
            if (sluice_provider_parse(optarg, &cfg.provider) < 0) {
                msg_say(stderr,
                        "unknown --provider '%s'; use openai, azure, "
                        "anthropic, gemini or none\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_API_KEY_ENV:
            opts.key_env = optarg;
            break;
        case OPT_API_KEY_FILE:
            opts.key_file = optarg;
            break;
        case 'H': {
            if (!strchr(optarg, ':')) {
                /* Not quoted: it may be a key pasted without its name. */
                msg_say(stderr, "-H expects 'Name: value' (this one has no ':')\n");
                goto usage_fail;
            }
            if (list_add(&opts.headers, &opts.n_headers, optarg) < 0)
                goto usage_fail;
            break;
        }
        case 'c':
            if (strcmp(optarg, "auto") == 0) {
                /* Adaptive, up to a ceiling that keeps connections reasonable. */
                cfg.concurrency_auto = 1;
                cfg.concurrency = 1024;
                break;
            }
            if (parse_num("-c/--concurrency", optarg, 1, 100000, &v) < 0)
                goto usage_fail;
            cfg.concurrency = (int)v;
            break;
        case OPT_RPM:
            if (parse_num("--rpm", optarg, 0, 1e9, &v) < 0)
                goto usage_fail;
            cfg.rpm = v;
            opts.dist.given |= DIST_GIVEN_RPM;
            break;
        case OPT_TPM:
            if (parse_num("--tpm", optarg, 0, 1e12, &v) < 0)
                goto usage_fail;
            cfg.tpm = v;
            opts.dist.given |= DIST_GIVEN_TPM;
            break;
        case OPT_MAX_ATTEMPTS:
            if (parse_num("--max-attempts", optarg, 1, 1000, &v) < 0)
                goto usage_fail;
            cfg.max_attempts = (int)v;
            opts.dist.given |= DIST_GIVEN_MAX_ATTEMPTS;
            break;
        case OPT_TIMEOUT:
            if (parse_num("--timeout", optarg, 0.001, 86400, &cfg.timeout_s) < 0)
                goto usage_fail;
            opts.dist.given |= DIST_GIVEN_TIMEOUT;
            break;
        case OPT_CONNECT_TIMEOUT:
            if (parse_num("--connect-timeout", optarg, 0.001, 3600, &cfg.connect_timeout_s) < 0)
                goto usage_fail;
            break;
        case OPT_BACKOFF_BASE:
            if (parse_num("--backoff-base", optarg, 0, 3600, &cfg.backoff_base_s) < 0)
                goto usage_fail;
            break;
        case OPT_BACKOFF_CAP:
            if (parse_num("--backoff-cap", optarg, 0, 86400, &cfg.backoff_cap_s) < 0)
                goto usage_fail;
            break;
        case OPT_BURST:
            if (parse_num("--burst", optarg, 0, 3600, &cfg.burst_s) < 0)
                goto usage_fail;
            opts.dist.given |= DIST_GIVEN_BURST;
            break;
        case OPT_STATS_JSON:
            opts.stats_json = optarg;
            break;
        case OPT_ORDERED:
            opts.ordered = 1;
            break;
        case OPT_PRICE_IN:
            if (parse_num("--price-in", optarg, 0, 1e6, &opts.price_in) < 0)
                goto usage_fail;
            break;
        case OPT_PRICE_OUT:
            if (parse_num("--price-out", optarg, 0, 1e6, &opts.price_out) < 0)
                goto usage_fail;
            break;
        case OPT_PRICES:
            opts.prices = optarg;
            break;
        case OPT_MAX_COST:
            if (parse_num("--max-cost", optarg, 1e-9, 1e12, &opts.max_cost) < 0)
                goto usage_fail;
            break;
        case OPT_DRY_RUN:
            opts.dry_run = 1;
            break;
        case OPT_METRICS:
            opts.metrics = optarg;
            break;
        case OPT_LOG:
            opts.log = optarg;
            break;
        case OPT_REDIS:
            opts.dist.redis = optarg;
            break;
        case OPT_JOB:
            opts.dist.job = optarg;
            break;
        case OPT_LIMIT_KEY:
            opts.dist.limit_key = optarg;
            opts.dist.given |= DIST_GIVEN_LIMIT_KEY;
            break;
        case OPT_BACKLOG:
            if (parse_num("--backlog", optarg, 1, 1e9, &opts.dist.backlog) < 0)
                goto usage_fail;
            break;
        case OPT_CLAIM_IDLE:
            if (parse_num("--claim-idle", optarg, 0.1, 86400, &opts.dist.claim_idle_s) < 0)
                goto usage_fail;
            opts.dist.given |= DIST_GIVEN_CLAIM_IDLE;
            break;
        case OPT_MAX_DELIVERIES:
            if (parse_num("--max-deliveries", optarg, 1, 1000, &v) < 0)
                goto usage_fail;
            opts.dist.max_deliveries = (int)v;
            opts.dist.given |= DIST_GIVEN_MAX_DELIVERIES;
            break;
        case OPT_FOLLOW:
            opts.dist.follow = 1;
            break;
        case OPT_SECRET_HEADER:
            if (!*optarg || optarg[strcspn(optarg, ":, \t")]) {
                msg_say(stderr, "--secret-header expects a header's name, such as "
                                "X-Team-Token, without ':' or a value\n");
                goto usage_fail;
            }
            if (list_add(&opts.dist.secret, &opts.dist.n_secret, optarg) < 0)
                goto usage_fail;
            break;
        case OPT_ALLOW_ORIGIN: {
            char origin[300];
            if (dist_origin(optarg, origin, sizeof(origin)) < 0) {
                msg_say(stderr, "--allow-origin expects http(s)://host[:port], got '%s'\n", optarg);
                goto usage_fail;
            }
            if (list_add(&opts.dist.allow, &opts.dist.n_allow, optarg) < 0)
                goto usage_fail;
            break;
        }
        case OPT_REDIS_URL_FILE:
            opts.dist.redis_file = optarg;
            break;
        case OPT_RESUME:
            opts.resume = 1;
            break;
        case OPT_OVERWRITE:
            opts.overwrite = 1;
            break;
        case OPT_PROGRESS:
            opts.progress = 1;
            break;
        case OPT_NO_PROGRESS:
            opts.progress = 0;
            break;
        case OPT_CACERT:
            cfg.cacert = optarg;
            break;
        case OPT_INSECURE:
            cfg.insecure = 1;
            break;
        case OPT_MAX_RETRY_AFTER:
            if (parse_num("--max-retry-after", optarg, 0, 31536000, &cfg.max_retry_after_s) < 0)
                goto usage_fail;
            break;
        case OPT_FSYNC:
            if (parse_num("--fsync", optarg, 0, 86400, &opts.fsync_s) < 0)
                goto usage_fail;
            break;
        case OPT_DRAIN_TIMEOUT:
            if (parse_num("--drain-timeout", optarg, 0, 86400, &opts.drain_timeout_s) < 0)
                goto usage_fail;
            break;
        case OPT_GIVE_UP_AFTER:
            if (parse_num("--give-up-after", optarg, 0.1, 31536000, &cfg.give_up_after_s) < 0)
                goto usage_fail;
            break;
        case OPT_CONNECT_GRACE:
            if (parse_num("--connect-grace", optarg, 0, 31536000, &cfg.connect_grace_s) < 0)
                goto usage_fail;
            break;
        case OPT_MAX_RESPONSE_BYTES: {
            uint64_t max;
            if (opts_parse_size(optarg, (uint64_t)1 << 40, &max) < 0) {
                msg_say(stderr,
                        "--max-response-bytes expects a size from 1 byte to 1T, such "
                        "as 64M or 1G, got '%s'\n",
                        optarg);
                goto usage_fail;
            }
            cfg.max_response_bytes = (size_t)max;
            break;
        }
        case OPT_SEED:
            if (parse_num("--seed", optarg, 0, 9007199254740992.0, &v) < 0)
                goto usage_fail;
            cfg.seed = (uint64_t)v;
            break;
        case 'h':
            if (worker)
                cli_work_usage(stdout);
            else
                cli_run_usage(stdout);
            free(opts.headers);
            dist_opts_free(&opts.dist);
            return 0;
        default: /* '?' or ':' */
            opts_say_error(stderr, opt, argc, argv, long_opts);
            goto usage_fail;
        }
    }
    /* $REDIS_URL is for the commands that need Redis: a worker, or a run told its --job. */
    if (dist_redis_url(opts.dist.redis, opts.dist.redis_file, worker || opts.dist.job != NULL,
                       &opts.dist.redis, &opts.dist.redis_owned) != 0)
        goto usage_fail;
    if (worker) {
        if (optind != argc) {
            msg_say(stderr, "work takes no INPUT (the job has it); got '%s'\n", argv[optind]);
            goto usage_fail;
        }
        if (!opts.dist.redis || !opts.dist.job) {
            msg_say(stderr, "work needs --redis URL (or $REDIS_URL, "
                            "--redis-url-file) and --job NAME\n");
            goto usage_fail;
        }
        if (opts.output || opts.resume || opts.overwrite || opts.ordered || opts.dry_run) {
            msg_say(stderr, "-o, --resume, --overwrite, --ordered and --dry-run "
                            "belong to the `sluice run` that feeds the job\n");
            goto usage_fail;
        }
        if (run_check_paths(&opts) < 0)
            goto fail;
        cfg.headers = opts.headers;
        cfg.n_headers = opts.n_headers;
        return cli_run_job(&cfg, &opts);
    }
    if (optind != argc - 1) {
        msg_say(stderr, "expected one INPUT (a file, or - for stdin)%s\n",
                optind < argc - 1 ? ", got several" : "");
        goto usage_fail;
    }
    if (opts.resume && opts.overwrite) {
        msg_say(stderr, "--resume keeps OUTPUT's results and --overwrite throws them "
                        "away: give one of them\n");
        goto usage_fail;
    }
    if (opts.resume && !opts.output) {
        msg_say(stderr, "--resume needs -o OUTPUT, the results to go on from\n");
        goto usage_fail;
    }
    if (!opts.output && !opts.dry_run) {
        msg_say(stderr, "-o/--output PATH is required (- for stdout)\n");
        goto usage_fail;
    }
    if (opts.dist.follow || opts.dist.n_allow) {
        msg_say(stderr, "%s is for `sluice work`\n",
                opts.dist.follow ? "--follow" : "--allow-origin");
        goto usage_fail;
    }
    if (opts.dist.redis &&
        (opts.resume || opts.ordered || (opts.output && strcmp(opts.output, "-") == 0))) {
        msg_say(stderr, "with --redis, OUTPUT must be a file and --resume/--ordered "
                        "do not apply: run the same command again and the job goes on where it "
                        "stopped\n");
        goto usage_fail;
    }
    if (!opts.dist.redis && (opts.dist.job || opts.dist.given & DIST_GIVEN_LIMIT_KEY)) {
        msg_say(stderr, "--job and --limit-key need --redis URL (or $REDIS_URL, or "
                        "--redis-url-file)\n");
        goto usage_fail;
    }
    if (opts.resume && opts.output && strcmp(opts.output, "-") == 0) {
        msg_say(stderr, "--resume needs an output file, not stdout\n");
        goto usage_fail;
    }
    if (strncmp(cfg.base_url, "http://", 7) != 0 && strncmp(cfg.base_url, "https://", 8) != 0) {
        msg_say(stderr, "--base-url must start with http:// or https://, got '%s'\n", cfg.base_url);
        goto usage_fail;
    }
    opts.input = argv[optind];
    if (run_check_paths(&opts) < 0)
        goto fail;
    cfg.headers = opts.headers;
    cfg.n_headers = opts.n_headers;
    return cli_run_job(&cfg, &opts);

usage_fail:
    msg_say(stderr, "'sluice %s --help' lists the options\n", worker ? "work" : "run");
fail:
    free(opts.headers);
    dist_opts_free(&opts.dist);
    return 2;
}

/*
 * OUTPUT's results were paid for: a run that would truncate them (no --resume) refuses unless
 * told --overwrite. `job` names a distributed job that is not in Redis (a run of an existing
 * job appends, so it never gets here). Returns 0 to go on, or -1 after saying why.
 */
static int output_check_fresh(const char *output, const char *job) {
    struct stat st;
    uint64_t lines, results;
    if (stat(output, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        return 0; /* missing (created), empty, or /dev/null and the like */
    if (resume_output_lines(output, &lines, &results) < 0) {
        msg_say(stderr, "cannot read %s: %s\n", output, strerror(errno));
        return -1;
    }
    if (results == 0)
        msg_say(stderr,
                "OUTPUT %s is not empty (%llu line%s, none of them a result); give "
                "another -o, or add --overwrite to replace it\n",
                output, (unsigned long long)lines, lines == 1 ? "" : "s");
    else if (job)
        msg_say(stderr,
                "OUTPUT %s has %llu result%s, and job %s is not in Redis (finished "
                "and deleted, or another --job): give another -o, or add --overwrite to start "
                "over\n",
                output, (unsigned long long)results, results == 1 ? "" : "s", job);
    else
        msg_say(stderr,
                "OUTPUT %s has %llu result%s; add --resume to continue, or "
                "--overwrite to start over\n",
                output, (unsigned long long)results, results == 1 ? "" : "s");
    return -1;
}

/* --redis: OUTPUT is appended to when the job exists (the same command again goes on), and
   written from scratch for a new job. 0 to go on, or the exit status after saying why. */
static int dist_check_output(sluice_redis_t *r, const struct run_opts *o) {
    sluice_job_status_t js;
    char err[512];
    if (!o->output)
        return 0; /* `sluice work` */
    if (sluice_job_status(r, o->dist.job, &js, err, sizeof(err)) < 0) {
        msg_say(stderr, "--job %s: %s\n", o->dist.job, err);
        return 3;
    }
    if (js.exists && o->overwrite) {
        msg_say(stderr,
                "--overwrite: job %s is in Redis, and running the same command goes "
                "on with it, keeping the results in %s; to start over, delete the job first "
                "(sluice job delete --redis URL --job %s --force)\n",
                o->dist.job, o->output, o->dist.job);
        return 2;
    }
    if (!js.exists && !o->overwrite && output_check_fresh(o->output, o->dist.job) < 0)
        return 2;
    return 0;
}

/* Wires a distributed job: the shared limiter, the job's source, and for the run that feeds
   it, the feeder and the OUTPUT writer. 0, or -1 after saying why. */
static int dist_start(struct run_ctx *c, const sluice_config_t *cfg, const struct run_opts *o,
                      sluice_source_t *s) {
    char key[1024], where[256];
    sluice_limiter_t *lim;
    dist_limit_key(cfg, o->dist.limit_key, key, sizeof(key));
    int rc = sluice_redis_limiter_new(&lim, c->dist.redis, key, cfg->rpm > 0 ? cfg->rpm : -1,
                                      cfg->tpm > 0 ? cfg->tpm : -1,
                                      o->dist.given & DIST_GIVEN_BURST ? cfg->burst_s : -1);
    if (rc < 0) {
        msg_say(stderr, "the shared rate limiter: %s\n", sluice_strerror(rc));
        return -1;
    }
    sluice_set_limiter(c->eng, lim);
    sluice_job_config_t jc;
    sluice_job_config_init(&jc);
    jc.name = o->dist.job;
    jc.claim_idle_s = o->dist.claim_idle_s;
    jc.max_deliveries = o->dist.max_deliveries;
    jc.follow = o->dist.follow;
    jc.request_url = o->url;
    /* Two rounds of slots per read: the next batch arrives before the engine runs dry. */
    jc.batch = cfg->concurrency < 16 ? 32 : cfg->concurrency > 256 ? 512 : 2 * cfg->concurrency;
    char consumer[128];
    if (c->src) {
        /* The run that feeds the job has a fixed name, so after a crash it takes back what it
           held at once instead of waiting --claim-idle for it. */
        char host[64] = "host";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        snprintf(consumer, sizeof(consumer), "%s-run", host);
        jc.consumer = consumer;
        jc.recover = 1;
    }
    if ((rc = sluice_job_open(&c->job, c->dist.redis, &jc)) < 0 ||
        (rc = sluice_job_source(c->job, c->eng, s)) < 0) {
        msg_say(stderr, "--job %s: %s\n", o->dist.job, sluice_strerror(rc));
        return -1;
    }
    sluice_redis_describe(c->dist.redis, where, sizeof(where));
    if (c->src) {
        rc = sluice_job_feed(c->job, c->src, (uint64_t)o->dist.backlog, on_reject, c);
        if (rc == 0)
            rc = sluice_job_output(c->job, on_job_line, on_job_sync, c);
        if (rc < 0) {
            msg_say(stderr, "feeding job %s in Redis at %s failed: %s\n", o->dist.job, where,
                    sluice_strerror(rc));
            return -1;
        }
    }
    uv_timer_init(sluice_loop(c->eng), &c->dist_timer);
    c->dist_timer.data = c;
    uv_timer_start(&c->dist_timer, on_dist_timer, 500, 500);
    msg_say(stderr,
            "job %s in Redis at %s (this worker: %s); add workers with: sluice "
            "work --redis URL --job %s\n",
            o->dist.job, where, sluice_job_consumer(c->job), o->dist.job);
    return 0;
}

#define FEED_FAILED_WAIT_MS 10000 /* for the last commits after a failed feed */
#define LAST_BEAT_WAIT_MS   2000  /* for the heartbeat that says a process is done */

/* After the engine is done: the last commits, and for the run that feeds the job, the last
   results into OUTPUT. */
static void dist_finish(struct run_ctx *c, int rc) {
    uv_loop_t *loop = sluice_loop(c->eng);
    while (!c->redis_gave_up && !c->commit_gave_up && c->sigints < 2) {
        /* After a failed feed Redis may refuse the commits too (out of memory): a bounded wait,
           then what is left runs again elsewhere or next time. */
        if (c->feed_failed && uv_now(loop) - c->feed_failed_at > FEED_FAILED_WAIT_MS)
            break;
        int commits = sluice_job_uncommitted(c->job) > 0;
        int output = c->src && rc == 0 && c->sigints == 0 && sluice_job_output_done(c->job) == 0;
        if (!commits && !output)
            break;
        uv_run(loop, UV_RUN_ONCE);
    }
    if (c->redis_gave_up || c->sigints >= 2)
        return;
    /* The last heartbeat says this process is done: nothing in flight any more. The one on
       its way, if any, carries older numbers, so the new one follows it. Bounded: Redis may
       have gone. */
    uv_timer_stop(&c->dist_timer); /* its numbers would say nothing of exiting */
    dist_info(c, 1);
    uint64_t t0 = uv_now(loop);
    int sent = 0;
    while (uv_now(loop) - t0 < LAST_BEAT_WAIT_MS) {
        if (!sluice_job_beating(c->job)) {
            if (sent || sluice_job_beat(c->job) < 0)
                break;
            sent = 1;
        }
        uv_run(loop, UV_RUN_ONCE);
    }
}

int cli_run_job(sluice_config_t *cfg, struct run_opts *o) {
    const char *input = o->input, *output = o->output, *key_env = o->key_env;
    int exit_code = 2, rc;
    char *key = NULL;
    struct run_ctx c = {0};
    struct resume_set *done = NULL;
    struct output_lock lock = {.fd = -1, .path = NULL};
    struct count *count = NULL;
    struct cost_view cv;
    char err[512];
    char job_name[129];
    uv_loop_t *dist_loop = NULL;
    c.input = input;

    if (!(c.cost = cost_new())) {
        msg_say(stderr, "out of memory\n");
        goto out;
    }
    if (o->prices && cost_load_file(c.cost, o->prices, err, sizeof(err)) < 0) {
        msg_say(stderr, "--prices: %s\n", err);
        goto out;
    }
    cost_set_fixed(c.cost, o->price_in, o->price_out);
    cost_set_budget(c.cost, o->max_cost);
    if (!o->dist.worker) {
        /* A missing key stops the run before INPUT is read, Redis or OUTPUT touched. */
        int bad = 0;
        key = run_find_key(cfg, o, &key_env, &bad);
        if (bad || (!key && run_check_key(cfg, o, key_env, o->dry_run) < 0))
            goto out;
    }
    if (o->dry_run) {
        exit_code = dryrun_main(cfg, o, c.cost);
        goto out;
    }
    /* INPUT first: a file that cannot be read, or gzip data that is cut short or corrupt, is
       refused before Redis or OUTPUT is touched. */
    if (input &&
        sluice_jsonl_source_open(&c.src, input, o->url, o->resume ? on_skip : NULL, &c) < 0) {
        msg_say(stderr, "cannot read %s: %s\n", input, strerror(errno));
        goto out;
    }
    if (c.src && sluice_jsonl_source_verify(c.src) < 0) {
        paths_input_why(c.src, errno, err, sizeof(err));
        msg_say(stderr, "cannot read %s: %s; nothing was sent\n", input, err);
        goto out;
    }
    if (o->dist.redis) {
        if (!o->dist.job) {
            if (strcmp(input, "-") == 0) {
                msg_say(stderr, "reading stdin with --redis needs --job NAME\n");
                goto out;
            }
            default_job_name(input, job_name, sizeof(job_name));
            o->dist.job = job_name;
        }
        if (!(dist_loop = malloc(sizeof(*dist_loop))) || uv_loop_init(dist_loop) != 0) {
            free(dist_loop);
            dist_loop = NULL;
            msg_say(stderr, "cannot set up the event loop\n");
            goto out;
        }
        if (sluice_redis_open(&c.dist.redis, dist_loop, o->dist.redis, err, sizeof(err)) < 0) {
            msg_say(stderr, "--redis: %s\n", err);
            goto out;
        }
        if ((rc = dist_check_output(c.dist.redis, o)) != 0 ||
            (rc = dist_settings(&c.dist, cfg, &o->dist, &o->url, o->dist.worker)) != 0) {
            exit_code = rc;
            goto out;
        }
        c.give_up_s = cfg->give_up_after_s;
    }

    if (o->dist.worker) {
        /* Only now are the job's --base-url and --provider known. */
        int bad = 0;
        key = run_find_key(cfg, o, &key_env, &bad);
        if (bad || (!key && run_check_key(cfg, o, key_env, 0) < 0))
            goto out;
    }
    cfg->api_key = key;
    if (o->dist.worker && (rc = dist_check_origin(&c.dist, cfg, &o->dist)) != 0) {
        exit_code = rc;
        goto out;
    }

    /* One writer per OUTPUT: a second sluice appending to it, or a --resume rewriting it under
       a run still going, would lose lines without a word. */
    if (output && strcmp(output, "-") != 0 && output_lock(&lock, output) < 0)
        goto out;
    if (output && strcmp(output, "-") != 0 && !o->resume && !o->overwrite && !o->dist.redis &&
        output_check_fresh(output, NULL) < 0)
        goto out;
    if (o->resume) {
        if (resume_load(&done, output, err, sizeof(err)) < 0) {
            msg_say(stderr, "--resume: %s\n", err);
            goto out;
        }
        c.done = done;
    }
    /* A distributed run that goes on after a crash appends, writing no line twice. A worker
       only formats result lines (for Redis): its sink writes nowhere. */
    int append = o->resume || (o->dist.redis && output && !c.dist.created);
    if (append && o->dist.redis && dist_seen_load(&c.dist, output) < 0) {
        msg_say(stderr, "cannot read %s: %s\n", output, strerror(errno));
        goto out;
    }
    if (sluice_jsonl_sink_open(&c.sink, output ? output : "/dev/null", append) < 0) {
        paths_why_not(output, errno, err, sizeof(err));
        msg_say(stderr, "cannot write OUTPUT %s: %s\n", output, err);
        goto out;
    }
    if ((rc = sluice_new(&c.eng, cfg, dist_loop)) < 0) {
        msg_say(stderr, "%s\n", sluice_strerror(rc));
        goto out;
    }
    if (key) {
        memset(key, 0, strlen(key));
    }
    c.writer = writer_new(c.sink, sluice_loop(c.eng), o->fsync_s);
    if (!c.writer) {
        msg_say(stderr, "out of memory\n");
        goto out;
    }
    sluice_source_t s;
    if (o->dist.redis) {
        if (dist_start(&c, cfg, o, &s) < 0)
            goto out;
    } else {
        sluice_jsonl_source_bind(c.src, &s);
        /* A pipe (a producer upstream) is read by the loop: a slow one must not hold up the
           answers, the timers and the status line meanwhile. */
        if ((rc = sluice_jsonl_source_attach(c.src, c.eng)) < 0) {
            msg_say_as(stderr, "run", "cannot watch %s: %s\n", input, sluice_strerror(rc));
            goto out;
        }
        if (!o->ordered) {
            /* A slot is free again once its result is in OUTPUT, not when the answer came:
               lines are written in batches, and a kill -9 between an answer and its batch's
               write would have --resume send it again on top of the -c in flight. (--ordered
               holds a window of results in memory by design; the Redis mode bounds what its
               commits have not acknowledged instead.) */
            sluice_hold_until_written(c.eng, 1);
            writer_on_written(c.writer, on_written, c.eng);
        }
    }
    if (o->ordered) {
        /* Room for four rounds of slots keeps the pipe full behind a slow request. */
        size_t window = (size_t)cfg->concurrency * 4 < 1024 ? 1024 : (size_t)cfg->concurrency * 4;
        sluice_source_t inner = s;
        c.order = order_new(&inner, c.sink, c.writer, window, &s);
        if (!c.order) {
            msg_say(stderr, "out of memory\n");
            goto out;
        }
        order_set_engine(c.order, c.eng);
    }
    sluice_set_source(c.eng, &s);
    sluice_set_result_cb(c.eng, on_result, &c);
    sluice_set_attempt_cb(c.eng, on_attempt, &c);
    if (o->max_cost > 0)
        sluice_set_admit_cb(c.eng, cost_admit, c.cost);
    if (o->log && !(c.log = log_open(o->log))) {
        paths_why_not(o->log, errno, err, sizeof(err));
        msg_say(stderr, "cannot write --log %s: %s\n", o->log, err);
        goto out;
    }
    if (o->metrics) {
        if (metrics_start(&c.metrics, sluice_loop(c.eng), o->metrics, c.eng, c.cost, err,
                          sizeof(err)) < 0) {
            msg_say(stderr, "%s\n", err);
            goto out;
        }
        msg_say(stderr, "metrics at http://%.*s:%d/metrics\n",
                (int)(strrchr(o->metrics, ':') - o->metrics), o->metrics, metrics_port(c.metrics));
    }

    uv_loop_t *loop = sluice_loop(c.eng);
    uv_signal_init(loop, &c.sigint);
    uv_signal_init(loop, &c.sigterm);
    c.sigint.data = c.sigterm.data = &c;
    uv_signal_start(&c.sigint, on_signal, SIGINT);
    uv_signal_start(&c.sigterm, on_signal, SIGTERM);
    c.drain_timeout_s = o->drain_timeout_s;
    uv_timer_init(loop, &c.drain_timer);
    c.drain_timer.data = &c;
    uv_unref((uv_handle_t *)&c.drain_timer);
    int progress = o->progress == 0        ? STATUS_OFF
                   : o->progress > 0       ? STATUS_LIVE
                   : isatty(STDERR_FILENO) ? STATUS_LIVE
                                           : STATUS_PLAIN;
    if (progress != STATUS_OFF && input)
        count = count_start(input);
    struct status_ctx sctx = {
        .eng = c.eng, .count = count, .skipped = done ? resume_count(done) : 0, .cost = c.cost};
    c.status = status_new(&sctx, progress);
    c.t0_ns = uv_hrtime();

    rc = sluice_run(c.eng);
    if (c.job)
        dist_finish(&c, rc);

    status_free(c.status);
    c.status = NULL;
    metrics_close(c.metrics);
    c.metrics = NULL;
    uv_close((uv_handle_t *)&c.sigint, NULL);
    uv_close((uv_handle_t *)&c.sigterm, NULL);
    uv_close((uv_handle_t *)&c.drain_timer, NULL);
    if (c.order) {
        int rf = order_flush(c.order);
        if (rf < 0 && (rc == 0 || rc == SLUICE_ESTOPPED))
            rc = rf;
    }
    /* Lines a full disk refused get one more chance, then the file is synced. */
    writer_flush(c.writer);
    writer_close(c.writer);
    uv_run(loop, UV_RUN_NOWAIT);
    const char *werr_why = NULL;
    int werr = writer_error(c.writer, &werr_why);
    size_t unwritten = writer_kept(c.writer);
    int rc_src = c.src ? sluice_jsonl_source_error(c.src) : 0;
    int rc_close = sluice_jsonl_sink_close(c.sink);
    c.sink = NULL;
    sluice_stats_t st;
    sluice_stats(c.eng, &st);
    const char *detail = NULL;
    sluice_stopped_t why = sluice_stopped(c.eng, &detail);
    char detail_safe[TERM_SAFE_MSG]; /* a server's words, a request's url */
    if (detail)
        detail = term_safe(detail, detail_safe, sizeof(detail_safe));
    cost_view(c.cost, &cv);
    struct status_end end = {.input = input,
                             .output = output,
                             .tally = &c.tally,
                             .cost = &cv,
                             .job = o->dist.job,
                             .skipped = c.skipped};
    sluice_job_status_t js;
    int job_said = 0;
    int saved_errno = errno; /* why reading INPUT failed */
    struct run_facts f = {.job = c.job != NULL,
                          .feeder = c.job && c.src,
                          .redis_gave_up = c.redis_gave_up,
                          .commit_gave_up = c.commit_gave_up,
                          .feed_failed = c.feed_failed,
                          .uncommitted = c.job ? sluice_job_uncommitted(c.job) : 0,
                          .output_done = c.job ? sluice_job_output_done(c.job) : 0,
                          .rc = rc,
                          .why = why,
                          .detail = detail,
                          .failed = st.failed,
                          .input = input,
                          .output = output,
                          .rc_src = rc_src,
                          .werr = werr,
                          .werr_why = werr_why,
                          .unwritten = unwritten,
                          .rc_close = rc_close,
                          .key_file = o->key_file,
                          .key_env = key_env,
                          .base_url = cfg->base_url,
                          .connect_grace_s = cfg->connect_grace_s,
                          .refused_model = cv.refused_model,
                          .max_usd = cv.max_usd,
                          .spent_usd = cv.spent_usd};
    if (rc_src == SLUICE_EPARSE)
        paths_input_why(c.src, saved_errno, err, sizeof(err));
    f.src_why = rc_src == SLUICE_EPARSE ? err : strerror(saved_errno);
    if (c.feed_failed) {
        errno = saved_errno;
        f.feed_why = feed_why(&c);
    }
    enum run_end row;
    exit_code = run_exit(&f, stderr, &row);
    end.unwritten = row == RUN_END_WRITE_FAILED ? unwritten : 0;
    end.finished = row == RUN_END_FINISHED;
    /* A distributed run's feeder counts the whole job's failures, its other workers' too. */
    if (end.finished && c.job && c.src &&
        sluice_job_status(c.dist.redis, o->dist.job, &js, err, sizeof(err)) == 0) {
        job_said = 1;
        exit_code = js.failed > 0 ? 1 : 0;
    }
    status_summary(stderr, &st, &end);
    if (job_said)
        msg_say(stderr, "job %s: %lld line%s, %llu result%s, %llu failed\n", o->dist.job,
                (long long)js.total, js.total == 1 ? "" : "s", (unsigned long long)js.done,
                js.done == 1 ? "" : "s", (unsigned long long)js.failed);
    if (log_close(c.log) < 0)
        msg_say(stderr, "writing --log %s failed: %s\n", o->log, strerror(errno));
    c.log = NULL;
    if (o->stats_json && status_write_json(o->stats_json, &st, &end, exit_code) < 0) {
        paths_why_not(o->stats_json, errno, err, sizeof(err));
        msg_say(stderr, "cannot write --stats-json %s: %s\n", o->stats_json, err);
    }
out:
    metrics_close(c.metrics);
    log_close(c.log);
    /* The writer's timers live on the engine's loop: close them before the loop goes (an
       early exit, e.g. a bad --metrics address, has not closed them yet). */
    writer_close(c.writer);
    sluice_jsonl_source_detach(c.src); /* its handle is on the engine's loop too */
    if (c.eng)
        sluice_free(c.eng);
    /* The job after the engine: the engine gives its requests back to the job's source. */
    sluice_job_close(c.job);
    if (c.dist_timer.data)
        uv_close((uv_handle_t *)&c.dist_timer, NULL);
    sluice_redis_close(c.dist.redis);
    if (dist_loop) {
        for (int i = 0; i < 1000 && uv_loop_close(dist_loop) == UV_EBUSY; i++)
            uv_run(dist_loop, UV_RUN_NOWAIT);
        free(dist_loop);
    }
    dist_free(&c.dist);
    free(c.line_buf);
    count_free(count);
    cost_free(c.cost);
    order_free(c.order);
    writer_free(c.writer);
    if (c.sink)
        sluice_jsonl_sink_close(c.sink);
    if (c.src)
        sluice_jsonl_source_close(c.src);
    resume_free(done);
    if (key) {
        memset(key, 0, strlen(key));
        free(key);
    }
    free(o->headers);
    dist_opts_free(&o->dist);
    output_unlock(&lock);
    return exit_code;
}
