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
#include <unistd.h>

#include <sluice.h>

#include "cli.h"
#include "cost.h"
#include "count.h"
#include "dryrun.h"
#include "log.h"
#include "metrics.h"
#include "order.h"
#include "writer.h"
#include "resume.h"
#include "status.h"

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
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_CACERT,
    OPT_INSECURE,
    OPT_SEED,
    OPT_GIVE_UP_AFTER,
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
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"give-up-after", required_argument, NULL, OPT_GIVE_UP_AFTER},
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
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Strict number parsing: the whole argument, in range, or a clear error. */
static int parse_num(const char *opt, const char *s, double min, double max, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "sluice run: %s expects a number from %g to %g, got '%s'\n", opt, min, max,
                s);
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
    FILE *log;                 /* --log */
    uint64_t t0_ns;            /* for --log times */
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
    if (res->error_code && strcmp(res->error_code, "invalid_request") == 0) {
        status_clear(c->status);
        fprintf(stderr,
                "%s:%llu: %s; written as failed (invalid_request): fix the line, then "
                "run again with --resume\n",
                c->input, (unsigned long long)res->req->line, res->error_message);
    }
    if (c->order)
        return order_result(c->order, res);
    return writer_result(c->writer, res);
}

static void on_drain_timeout(uv_timer_t *t) {
    struct run_ctx *c = t->data;
    status_clear(c->status);
    fprintf(stderr,
            "sluice: requests in flight did not finish within --drain-timeout %g s; abandoning "
            "them (they run again on --resume)\n",
            c->drain_timeout_s);
    sluice_stop(c->eng, SLUICE_STOP_ABANDON);
}

static void on_signal(uv_signal_t *h, int signum) {
    struct run_ctx *c = h->data;
    c->sigints++;
    status_clear(c->status);
    if (c->sigints == 1) {
        fprintf(stderr,
                "sluice: %s: sending nothing more, waiting for requests in flight "
                "(press Ctrl-C again to abandon them)\n",
                signum == SIGINT ? "interrupted" : "terminated");
        sluice_stop(c->eng, SLUICE_STOP_DRAIN);
        if (c->drain_timeout_s > 0)
            uv_timer_start(&c->drain_timer, on_drain_timeout, (uint64_t)(c->drain_timeout_s * 1000),
                           0);
    } else {
        fprintf(stderr, "sluice: abandoning requests in flight; they run again on --resume\n");
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
        fprintf(stderr, "sluice run: cannot create %s: %s\n", l->path, strerror(errno));
        return -1;
    }
    if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr,
                "sluice run: %s is being written by another sluice run (it holds %s); wait "
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

/* Reads the first line of a key file into a malloc'd string (the caller scrubs and frees). */
static char *read_key_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
        line[--n] = '\0';
    return line;
}

int cli_run_main(int argc, char **argv) {
    sluice_config_t cfg;
    sluice_config_init(&cfg);
    struct run_opts opts = {
        .progress = -1, .price_in = -1, .price_out = -1, .fsync_s = 1, .drain_timeout_s = 60};
    int opt;
    double v;
    const char *env_base = getenv("SLUICE_BASE_URL");
    if (!env_base || !*env_base)
        env_base = getenv("OPENAI_BASE_URL");
    if (env_base && *env_base)
        cfg.base_url = env_base;
    /* SLUICE_HTTP=curl: every request through libcurl, as before the fast path existed (to
       compare, or to get around a server the fast path does not get on with). */
    const char *env_http = getenv("SLUICE_HTTP");
    if (env_http && strcmp(env_http, "curl") == 0)
        cfg.http_fastpath = 0;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:H:c:h", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'o':
            opts.output = optarg;
            break;
        case OPT_BASE_URL:
            cfg.base_url = optarg;
            break;
        case OPT_URL:
            opts.url = optarg;
            break;
        case OPT_PROVIDER:
            if (sluice_provider_parse(optarg, &cfg.provider) < 0) {
                fprintf(stderr,
                        "sluice run: unknown --provider '%s'; use openai, azure, "
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
                fprintf(stderr, "sluice run: -H expects 'Name: value', got '%s'\n", optarg);
                return 2;
            }
            const char **nh = realloc(opts.headers, (opts.n_headers + 1) * sizeof(*nh));
            if (!nh)
                goto usage_fail;
            opts.headers = nh;
            opts.headers[opts.n_headers++] = optarg;
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
            break;
        case OPT_TPM:
            if (parse_num("--tpm", optarg, 0, 1e12, &v) < 0)
                goto usage_fail;
            cfg.tpm = v;
            break;
        case OPT_MAX_ATTEMPTS:
            if (parse_num("--max-attempts", optarg, 1, 1000, &v) < 0)
                goto usage_fail;
            cfg.max_attempts = (int)v;
            break;
        case OPT_TIMEOUT:
            if (parse_num("--timeout", optarg, 0.001, 86400, &cfg.timeout_s) < 0)
                goto usage_fail;
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
        case OPT_RESUME:
            opts.resume = 1;
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
        case OPT_SEED:
            if (parse_num("--seed", optarg, 0, 9007199254740992.0, &v) < 0)
                goto usage_fail;
            cfg.seed = (uint64_t)v;
            break;
        case 'h':
            cli_run_usage(stdout);
            free(opts.headers);
            return 0;
        default:
            goto usage_fail;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "sluice run: expected one INPUT (a file, or - for stdin)%s\n",
                optind < argc - 1 ? ", got several" : "");
        goto usage_fail;
    }
    if (!opts.output && !opts.dry_run) {
        fprintf(stderr, "sluice run: -o/--output PATH is required (- for stdout)\n");
        goto usage_fail;
    }
    if (opts.resume && opts.output && strcmp(opts.output, "-") == 0) {
        fprintf(stderr, "sluice run: --resume needs an output file, not stdout\n");
        goto usage_fail;
    }
    if (strncmp(cfg.base_url, "http://", 7) != 0 && strncmp(cfg.base_url, "https://", 8) != 0) {
        fprintf(stderr, "sluice run: --base-url must start with http:// or https://, got '%s'\n",
                cfg.base_url);
        goto usage_fail;
    }
    cfg.headers = opts.headers;
    cfg.n_headers = opts.n_headers;
    opts.input = argv[optind];
    return cli_run_job(&cfg, &opts);

usage_fail:
    free(opts.headers);
    fprintf(stderr, "run 'sluice run --help' for the options\n");
    return 2;
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
    c.input = input;

    if (!(c.cost = cost_new())) {
        fprintf(stderr, "sluice run: out of memory\n");
        goto out;
    }
    if (o->prices && cost_load_file(c.cost, o->prices, err, sizeof(err)) < 0) {
        fprintf(stderr, "sluice run: --prices: %s\n", err);
        goto out;
    }
    cost_set_fixed(c.cost, o->price_in, o->price_out);
    cost_set_budget(c.cost, o->max_cost);
    if (o->dry_run) {
        exit_code = dryrun_main(cfg, o, c.cost);
        goto out;
    }

    if (o->key_file) {
        key = read_key_file(o->key_file);
        if (!key) {
            fprintf(stderr, "sluice run: cannot read the API key from %s: %s\n", o->key_file,
                    strerror(errno));
            goto out;
        }
    } else {
        if (!key_env)
            key_env = default_key_env(cfg->provider);
        const char *k = key_env ? getenv(key_env) : NULL;
        if (k && *k) {
            key = strdup(k);
        } else if (key_env) {
            fprintf(stderr,
                    "sluice run: warning: $%s is not set; sending requests without an "
                    "API key (use --provider none to silence this)\n",
                    key_env);
        }
    }
    cfg->api_key = key;

    /* One writer per OUTPUT: a second sluice appending to it, or a --resume rewriting it under
       a run still going, would lose lines without a word. */
    if (strcmp(output, "-") != 0 && output_lock(&lock, output) < 0)
        goto out;
    if (o->resume) {
        if (resume_load(&done, output, err, sizeof(err)) < 0) {
            fprintf(stderr, "sluice run: --resume: %s\n", err);
            goto out;
        }
    }
    if (sluice_jsonl_source_open(&c.src, input, o->url, o->resume ? resume_skip : NULL, done) < 0) {
        fprintf(stderr, "sluice run: cannot read %s: %s\n", input, strerror(errno));
        goto out;
    }
    if (sluice_jsonl_sink_open(&c.sink, output, o->resume) < 0) {
        fprintf(stderr, "sluice run: cannot write %s: %s\n", output, strerror(errno));
        goto out;
    }
    if ((rc = sluice_new(&c.eng, cfg, NULL)) < 0) {
        fprintf(stderr, "sluice run: %s\n", sluice_strerror(rc));
        goto out;
    }
    if (key) {
        memset(key, 0, strlen(key));
    }
    c.writer = writer_new(c.sink, sluice_loop(c.eng), o->fsync_s);
    if (!c.writer) {
        fprintf(stderr, "sluice run: out of memory\n");
        goto out;
    }
    sluice_source_t s;
    sluice_jsonl_source_bind(c.src, &s);
    if (o->ordered) {
        /* Room for four rounds of slots keeps the pipe full behind a slow request. */
        size_t window = (size_t)cfg->concurrency * 4 < 1024 ? 1024 : (size_t)cfg->concurrency * 4;
        sluice_source_t inner = s;
        c.order = order_new(&inner, c.sink, c.writer, window, &s);
        if (!c.order) {
            fprintf(stderr, "sluice run: out of memory\n");
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
        fprintf(stderr, "sluice run: cannot write --log %s: %s\n", o->log, strerror(errno));
        goto out;
    }
    if (o->metrics) {
        if (metrics_start(&c.metrics, sluice_loop(c.eng), o->metrics, c.eng, c.cost, err,
                          sizeof(err)) < 0) {
            fprintf(stderr, "sluice run: %s\n", err);
            goto out;
        }
        fprintf(stderr, "sluice: metrics at http://%.*s:%d/metrics\n",
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
    if (progress != STATUS_OFF)
        count = count_start(input);
    struct status_ctx sctx = {
        .eng = c.eng, .count = count, .skipped = done ? resume_count(done) : 0, .cost = c.cost};
    c.status = status_new(&sctx, progress);
    c.t0_ns = uv_hrtime();

    rc = sluice_run(c.eng);

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
    int rc_src = sluice_jsonl_source_error(c.src);
    int rc_close = sluice_jsonl_sink_close(c.sink);
    c.sink = NULL;
    sluice_stats_t st;
    sluice_stats(c.eng, &st);
    const char *detail = NULL;
    sluice_stopped_t why = sluice_stopped(c.eng, &detail);
    cost_view(c.cost, &cv);
    struct status_end end = {.input = input, .output = output, .tally = &c.tally, .cost = &cv};
    status_summary(stderr, &st, &end);

    if (rc_src < 0) {
        fprintf(stderr,
                "sluice run: reading %s failed: %s; results so far are in %s, run again "
                "with --resume\n",
                input, strerror(errno), output);
        exit_code = 3;
    } else if (werr || rc == SLUICE_ENOSPC || rc == SLUICE_EIO || rc_close < 0) {
        fprintf(stderr,
                "sluice run: writing %s failed (%s): dispatch stopped%s; %zu finished results "
                "could not be written and will be requested again; free space, then run again "
                "with --resume\n",
                output, werr ? werr_why : sluice_strerror(rc < 0 ? rc : rc_close),
                werr && !unwritten ? ", the results held in memory were written later" : "",
                unwritten);
        exit_code = 3;
    } else if (why == SLUICE_STOPPED_AUTH) {
        fprintf(stderr,
                "sluice run: stopped: the provider refused the API key (%s); check the "
                "key in %s%s, then run again with --resume\n",
                detail ? detail : "401/403", o->key_file || !key_env ? "" : "$",
                o->key_file ? o->key_file
                : key_env   ? key_env
                            : "your provider settings (--provider none sends no key)");
        exit_code = 3;
    } else if (why == SLUICE_STOPPED_DOWN) {
        fprintf(stderr,
                "sluice run: stopped: the provider is down (%s); results so far are in "
                "%s; run again with --resume when it is back (or raise --give-up-after)\n",
                detail ? detail : "", output);
        exit_code = 3;
    } else if (why == SLUICE_STOPPED_TLS) {
        fprintf(stderr,
                "sluice run: stopped: the TLS certificate of %s could not be verified "
                "(%s); pass --cacert FILE with its CA, or --insecure to skip the check, "
                "then run again with --resume\n",
                cfg->base_url, detail ? detail : "");
        exit_code = 3;
    } else if (why == SLUICE_STOPPED_QUOTA) {
        fprintf(stderr,
                "sluice run: stopped: the provider says the quota is exhausted (%s); "
                "raise the quota or wait for it to reset, then run again with --resume\n",
                detail ? detail : "");
        exit_code = 3;
    } else if (why == SLUICE_STOPPED_BUDGET && cv.refused_model) {
        fprintf(stderr,
                "sluice run: stopped: --max-cost needs a price for model %s; pass --prices "
                "FILE or --price-in and --price-out, then run again with --resume\n",
                cv.refused_model);
        exit_code = 3;
    } else if (why == SLUICE_STOPPED_BUDGET) {
        fprintf(stderr,
                "sluice run: stopped: the next request could take the cost past --max-cost "
                "$%g ($%.4f spent in this run); run again with --resume and --max-cost set to "
                "what this next run may spend (--max-cost counts one run, not the results "
                "already in OUTPUT)\n",
                cv.max_usd, cv.spent_usd);
        exit_code = 3;
    } else if (rc == SLUICE_ESTOPPED) {
        fprintf(stderr, "sluice run: stopped early; run the same command with --resume to "
                        "finish the rest\n");
        exit_code = 3;
    } else if (rc < 0) {
        fprintf(stderr, "sluice run: %s\n", sluice_strerror(rc));
        exit_code = 3;
    } else {
        exit_code = st.failed > 0 ? 1 : 0;
    }
    if (log_close(c.log) < 0)
        fprintf(stderr, "sluice run: writing --log %s failed: %s\n", o->log, strerror(errno));
    c.log = NULL;
    if (o->stats_json && status_write_json(o->stats_json, &st, &end, exit_code) < 0)
        fprintf(stderr, "sluice run: cannot write --stats-json %s: %s\n", o->stats_json,
                strerror(errno));
out:
    metrics_close(c.metrics);
    log_close(c.log);
    /* The writer's timers live on the engine's loop: close them before the loop goes (an
       early exit, e.g. a bad --metrics address, has not closed them yet). */
    writer_close(c.writer);
    if (c.eng)
        sluice_free(c.eng);
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
    output_unlock(&lock);
    return exit_code;
}
