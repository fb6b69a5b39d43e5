/* `sluice mock`: options, startup and a clean stop on SIGINT/SIGTERM. */
#include "mock.h"
#include "mock_server.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: sluice mock [options]\n"
        "\n"
        "An OpenAI-compatible test provider: chat completions, completions, embeddings and\n"
        "Anthropic messages, with rate limits, latency and faults, in the dialect of each\n"
        "provider. The first line on stdout is 'listening on http://HOST:PORT'.\n"
        "\n"
        "options (default in brackets):\n"
        "  --listen HOST:PORT     address to listen on; port 0 picks a free one [127.0.0.1:8080]\n"
        "  --provider NAME        openai | azure | anthropic | gemini: its paths (any other\n"
        "                         is a 404, as there), rate-limit headers, error bodies and\n"
        "                         retry hints [openai]:\n"
        "                           openai     POST /v1/chat/completions, /v1/completions,\n"
        "                                      /v1/embeddings\n"
        "                           azure      /openai/deployments/NAME/chat/completions\n"
        "                                      ?api-version=V (and /completions, /embeddings),\n"
        "                                      /openai/v1/chat/completions (...)\n"
        "                           anthropic  /v1/messages, /v1/chat/completions\n"
        "                           gemini     /v1beta/openai/chat/completions, .../embeddings\n"
        "  --latency MS           median answer delay [0]\n"
        "  --jitter SIGMA         lognormal spread of the delay; 0 = always the median [0]\n"
        "  --ms-per-token MS      extra delay per completion token [0]\n"
        "  --rpm N                requests per minute; 0 = no limit [0]\n"
        "  --tpm N                tokens per minute (prompt estimate + max_tokens, charged\n"
        "                         at admission); 0 = no limit [0]\n"
        "  --itpm N, --otpm N     input and output tokens per minute (Anthropic's separate\n"
        "                         budgets; GCRA whatever --limiter, with gcra's burst, 1 s\n"
        "                         under the other kinds); 0 = no limit [0]\n"
        "  --limiter KIND         how --rpm and --tpm are enforced (below) [gcra]\n"
        "  --burst-s S            gcra: seconds of each budget usable at once [1]\n"
        "  --burst N              gcra, bucket: requests beyond the first that may come back\n"
        "                         to back at rest, as nginx's burst=N (gcra: the same as\n"
        "                         --burst-s (N+1)*60/rpm; needs --rpm) [bucket: 0]\n"
        "  --token-burst N        bucket: tokens beyond the first request's [as many seconds\n"
        "                         of --tpm as --burst is of --rpm]\n"
        "  --window S             fixed, sliding: the window in seconds [60]\n"
        "  --retry-after S        every rate-limit 429 says S seconds whatever the real\n"
        "                         wait, as a gateway's fixed Retry-After: in retry-after,\n"
        "                         retry-after-ms and the message (gemini: retryDelay)\n"
        "                         [the exact wait]\n"
        "  --request-log FILE     append '<unix ms> <path>' per API request as it arrives\n"
        "                         (tests check when requests came) [off]\n"
        "  --no-rate-headers      send no x-ratelimit-* / anthropic-ratelimit-* headers and\n"
        "                         no retry-after-ms (a 429 keeps its retry-after) [off]\n"
        "  --max-concurrency N    requests processed at once; more are refused; 0 = no limit\n"
        "                         [0]\n"
        "  --overload-status N    status for requests beyond --max-concurrency: 429, 503\n"
        "                         or 529 [429]\n"
        "  --fail-rate P          probability of a 500, 502 or 503 [0]\n");
    /* In parts: C11 promises string literals of 4095 characters only. */
    fputs("  --reset-rate P         probability of a connection closed mid-answer [0]\n"
          "  --hang-rate P          probability of never answering [0]\n"
          "  --slow-rate P          probability of answering after 10x the delay, at least\n"
          "                         1 s [0]\n"
          "  --bad-json-rate P      probability of a 200 with a truncated JSON body [0]\n"
          "  --quota-after N        after N admitted requests, every request gets the\n"
          "                         dialect's quota-exhausted answer [off]\n"
          "  --overloaded-rate P    probability of the dialect's overloaded answer (529 for\n"
          "                         anthropic, 503 for the others) [0]\n"
          "  --concurrency-429 N    the dialect's 'concurrent connections' 429 above N\n"
          "                         requests in process; 0 = off [0]\n"
          "  --auth-fail            every API request gets the dialect's 401 [off]\n"
          "  --seed N               seed of the fault and jitter draws [1]\n"
          "  -h, --help             this help\n",
          f);
    fputs("\n"
          "Limiter kinds (--limiter); N is --rpm or --tpm, a request costs 1 or its tokens:\n"
          "  gcra        a GCRA refilling N/60 per second, --burst-s of it usable at once\n"
          "              (OpenAI's); the wait is when the cost would fit\n"
          "  bucket      nginx limit_req burst=B nodelay, with its integer arithmetic: a\n"
          "              request adds 1000 per unit to an excess (milli-units) that leaks\n"
          "              N*1000/60 per second, clamped at 0 after adding; refused above\n"
          "              B*1000, and a refusal changes nothing; the wait is when it fits\n"
          "  fixed       at most Q = round(N*S/60) (at least 1) per window of S seconds,\n"
          "              windows counted from the mock's start; the wait is the window's end\n"
          "  sliding     a sliding log: at most Q in any S seconds; the wait is until enough\n"
          "              of the oldest counted requests leave the window\n"
          "  per-second  OpenAI's 'per minute, enforced per second': at most ceil(N/60) in\n"
          "              any 1 s and N in any 60 s; the wait is when both have room\n"
          "A request costing more than its budget ever admits at once (gcra, bucket: N;\n"
          "fixed, sliding: Q; per-second: ceil(N/60)) gets 429 'Request too large', no hint.\n"
          "Rate headers: limit is N per minute; remaining is N minus what is refilling\n"
          "(gcra), what fits back to back now (bucket), the window's rest (fixed), Q minus\n"
          "the last S s (sliding), the least of the last second's and minute's rests\n"
          "(per-second); reset is until remaining is full again (fixed: the window's\n"
          "end). A 429 says the wait in retry-after (seconds, rounded up), retry-after-ms\n"
          "and its message (gemini: RetryInfo retryDelay), or --retry-after's S.\n"
          "\n"
          "Each request meets, in order: outage (503), --auth-fail (401), unknown path (404),\n"
          "body not JSON (400), concurrency limits, quota, overloaded, rate limits (429),\n"
          "faults, then its latency.\n"
          "Admin: POST /mock/outage?seconds=N (every /v1 request gets 503 for N s),\n"
          "GET /mock/stats (JSON counters). See mock/README.md.\n",
          f);
}

/* The integer limiter kinds count milli-units in 64 bits: limits and bursts up to 10^12. */
#define MOCK_INT_LIMIT_MAX INT64_C(1000000000000)

static int bad(const char *opt, const char *what, const char *got) {
    fprintf(stderr, "sluice mock: %s needs %s, got '%s'; see sluice mock --help\n", opt, what, got);
    return -1;
}

static int parse_double(const char *opt, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        char what[96];
        if (hi >= 1e18)
            snprintf(what, sizeof what, "a number >= %g", lo);
        else
            snprintf(what, sizeof what, "a number in [%g, %g]", lo, hi);
        return bad(opt, what, s);
    }
    *out = v;
    return 0;
}

static int parse_int(const char *opt, const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return bad(opt, "a non-negative integer", s);
    *out = v;
    return 0;
}

/* HOST:PORT, [IPv6]:PORT or :PORT; "localhost" means 127.0.0.1. */
static int parse_listen(const char *s, struct mock_config *cfg) {
    const char *colon = strrchr(s, ':');
    if (!colon)
        return bad("--listen", "HOST:PORT", s);
    const char *h = s;
    size_t hlen = (size_t)(colon - s);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0) {
        h = "127.0.0.1";
        hlen = 9;
    } else if (hlen == 9 && memcmp(h, "localhost", 9) == 0) {
        h = "127.0.0.1";
    }
    if (hlen >= sizeof cfg->host)
        return bad("--listen", "HOST:PORT", s);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || port < 0 || port > 65535)
        return bad("--listen", "HOST:PORT with a port in 0..65535", s);
    memcpy(cfg->host, h, hlen);
    cfg->host[hlen] = '\0';
    cfg->port = (int)port;
    struct sockaddr_in6 sa;
    if (uv_ip4_addr(cfg->host, 0, (struct sockaddr_in *)&sa) < 0 &&
        uv_ip6_addr(cfg->host, 0, &sa) < 0)
        return bad("--listen", "a numeric IPv4 or IPv6 address (or localhost) as HOST", s);
    return 0;
}

static const char *fault_opts[MOCK_FAULT_COUNT] = {
    NULL, "--fail-rate", "--reset-rate", "--hang-rate", "--slow-rate", "--bad-json-rate",
};

/* Fills cfg from argv (argv[0] is "mock"). Returns 0, 1 after --help, or -1 after printing
 * one line about the first bad option. Accepts "--opt VALUE" and "--opt=VALUE". */
static int parse_args(int argc, char **argv, struct mock_config *cfg) {
    for (int i = 1; i < argc; i++) {
        char name[64];
        const char *arg = argv[i], *val = NULL, *eq = strchr(arg, '=');
        if (strncmp(arg, "--", 2) == 0 && eq && (size_t)(eq - arg) < sizeof name) {
            memcpy(name, arg, (size_t)(eq - arg));
            name[eq - arg] = '\0';
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", arg);
        }
        if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(name, "--no-rate-headers") || !strcmp(name, "--auth-fail")) {
            if (val)
                return bad(name, "no value", val);
            if (name[2] == 'n')
                cfg->rate_headers = 0;
            else
                cfg->auth_fail = 1;
            continue;
        }
        static const char *valued[] = {"--listen",
                                       "--provider",
                                       "--latency",
                                       "--jitter",
                                       "--ms-per-token",
                                       "--rpm",
                                       "--tpm",
                                       "--itpm",
                                       "--otpm",
                                       "--quota-after",
                                       "--overloaded-rate",
                                       "--concurrency-429",
                                       "--burst-s",
                                       "--limiter",
                                       "--burst",
                                       "--token-burst",
                                       "--window",
                                       "--retry-after",
                                       "--max-concurrency",
                                       "--overload-status",
                                       "--seed",
                                       "--request-log",
                                       "--fail-rate",
                                       "--reset-rate",
                                       "--hang-rate",
                                       "--slow-rate",
                                       "--bad-json-rate"};
        int known = 0;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            known |= !strcmp(name, valued[k]);
        if (!known) {
            fprintf(stderr, "sluice mock: unknown option '%s'; see sluice mock --help\n", arg);
            return -1;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "sluice mock: %s needs a value; see sluice mock --help\n", name);
                return -1;
            }
            val = argv[++i];
        }
        int r = 0;
        int64_t n = 0;
        if (!strcmp(name, "--listen")) {
            r = parse_listen(val, cfg);
        } else if (!strcmp(name, "--provider")) {
            int p = mock_provider_parse(val);
            if (p < 0)
                r = bad(name, "openai, azure, anthropic or gemini", val);
            else
                cfg->provider = (enum mock_provider)p;
        } else if (!strcmp(name, "--latency")) {
            r = parse_double(name, val, 0, 1e18, &cfg->latency_ms);
        } else if (!strcmp(name, "--jitter")) {
            r = parse_double(name, val, 0, 10, &cfg->jitter);
        } else if (!strcmp(name, "--ms-per-token")) {
            r = parse_double(name, val, 0, 1e18, &cfg->ms_per_token);
        } else if (!strcmp(name, "--rpm")) {
            r = parse_int(name, val, &cfg->rpm);
        } else if (!strcmp(name, "--tpm")) {
            r = parse_int(name, val, &cfg->tpm);
        } else if (!strcmp(name, "--itpm")) {
            r = parse_int(name, val, &cfg->itpm);
        } else if (!strcmp(name, "--otpm")) {
            r = parse_int(name, val, &cfg->otpm);
        } else if (!strcmp(name, "--quota-after")) {
            r = parse_int(name, val, &cfg->quota_after);
        } else if (!strcmp(name, "--overloaded-rate")) {
            r = parse_double(name, val, 0, 1, &cfg->overloaded_rate);
        } else if (!strcmp(name, "--concurrency-429")) {
            r = parse_int(name, val, &cfg->concurrency_429);
        } else if (!strcmp(name, "--burst-s")) {
            r = parse_double(name, val, 0.001, 60, &cfg->burst_s);
            cfg->burst_s_given = 1;
        } else if (!strcmp(name, "--limiter")) {
            int a = mock_algo_parse(val);
            if (a < 0)
                r = bad(name, "gcra, bucket, fixed, sliding or per-second", val);
            else
                cfg->limiter = (enum mock_algo)a;
        } else if (!strcmp(name, "--burst")) {
            r = parse_int(name, val, &cfg->burst);
        } else if (!strcmp(name, "--token-burst")) {
            r = parse_int(name, val, &cfg->token_burst);
        } else if (!strcmp(name, "--window")) {
            r = parse_double(name, val, 0.001, 86400, &cfg->window_s);
        } else if (!strcmp(name, "--retry-after")) {
            r = parse_int(name, val, &cfg->retry_after_s);

        } else if (!strcmp(name, "--max-concurrency")) {
            r = parse_int(name, val, &cfg->max_concurrency);
        } else if (!strcmp(name, "--overload-status")) {
            r = parse_int(name, val, &n);
            if (r == 0 && n != 429 && n != 503 && n != 529)
                r = bad(name, "429, 503 or 529", val);
            cfg->overload_status = (int)n;
        } else if (!strcmp(name, "--request-log")) {
            if (strlen(val) >= sizeof cfg->request_log)
                r = bad(name, "a shorter path", val);
            else
                snprintf(cfg->request_log, sizeof cfg->request_log, "%s", val);
        } else if (!strcmp(name, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(val, &end, 10);
            if (errno || end == val || *end || val[0] == '-')
                r = bad(name, "a non-negative integer", val);
            cfg->seed = s;
        } else {
            for (int f = MOCK_FAULT_FAIL; f < MOCK_FAULT_COUNT; f++)
                if (!strcmp(name, fault_opts[f]))
                    r = parse_double(name, val, 0, 1, &cfg->fault_rate[f]);
        }
        if (r < 0)
            return -1;
    }
    return 0;
}

/* The limiter options that go together, checked once all are read. Returns 0 or -1 after
 * printing one line. */
static int check_limiter(const struct mock_config *cfg) {
    const char *kind = mock_algo_name(cfg->limiter);
    const char *why = NULL;
    char msg[160];
    if (cfg->burst >= 0 && cfg->burst_s_given) {
        why = "--burst (requests) and --burst-s (seconds) both set the burst: give one";
    } else if (cfg->burst_s_given && cfg->limiter != MOCK_ALGO_GCRA) {
        snprintf(msg, sizeof msg, "--burst-s applies to --limiter gcra, not %s", kind);
        why = msg;
    } else if (cfg->burst >= 0 && cfg->limiter != MOCK_ALGO_GCRA &&
               cfg->limiter != MOCK_ALGO_BUCKET) {
        snprintf(msg, sizeof msg, "--burst applies to --limiter gcra and bucket, not %s", kind);
        why = msg;
    } else if (cfg->burst >= 0 && !cfg->rpm) {
        why = "--burst counts requests: it needs --rpm";
    } else if (cfg->token_burst >= 0 && cfg->limiter != MOCK_ALGO_BUCKET) {
        snprintf(msg, sizeof msg, "--token-burst applies to --limiter bucket, not %s", kind);
        why = msg;
    } else if (cfg->window_s > 0 && cfg->limiter != MOCK_ALGO_FIXED &&
               cfg->limiter != MOCK_ALGO_SLIDING) {
        snprintf(msg, sizeof msg, "--window applies to --limiter fixed and sliding, not %s", kind);
        why = msg;
    } else if (cfg->limiter != MOCK_ALGO_GCRA &&
               (cfg->rpm > MOCK_INT_LIMIT_MAX || cfg->tpm > MOCK_INT_LIMIT_MAX ||
                cfg->burst > MOCK_INT_LIMIT_MAX || cfg->token_burst > MOCK_INT_LIMIT_MAX)) {
        /* The integer kinds count milli-units in 64 bits. */
        snprintf(msg, sizeof msg, "--limiter %s takes --rpm, --tpm and bursts up to 10^12", kind);
        why = msg;
    }
    if (!why)
        return 0;
    fprintf(stderr, "sluice mock: %s; see sluice mock --help\n", why);
    return -1;
}

/* The limiter options as mock_limits_setup takes them (it resolves the defaults). */
static void limits_config(const struct mock_config *cfg, int64_t origin_ms,
                          struct mock_limits_config *lc) {
    memset(lc, 0, sizeof *lc);
    lc->algo = cfg->limiter;
    lc->rpm = cfg->rpm;
    lc->tpm = cfg->tpm;
    lc->itpm = cfg->itpm;
    lc->otpm = cfg->otpm;
    lc->burst_s = cfg->burst_s;
    lc->burst = cfg->burst;
    lc->token_burst = cfg->token_burst;
    lc->window_ms = cfg->window_s > 0 ? llround(cfg->window_s * 1000) : 60000;
    lc->origin_ms = origin_ms;
}

/* Thousands of client connections need thousands of descriptors: take what the hard limit
 * allows without asking. */
static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void on_signal(uv_signal_t *h, int signum) {
    struct mock *m = h->data;
    (void)signum;
    mock_server_close(m);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    uv_close((uv_handle_t *)&m->sigterm, NULL);
}

int mock_main(int argc, char **argv) {
    static struct mock m; /* large (stats tables); one per process */
    memset(&m, 0, sizeof m);
    snprintf(m.cfg.host, sizeof m.cfg.host, "127.0.0.1");
    m.cfg.port = 8080;
    m.cfg.burst_s = 1;
    m.cfg.burst = -1;
    m.cfg.token_burst = -1;
    m.cfg.retry_after_s = -1;
    m.cfg.rate_headers = 1;
    m.cfg.overload_status = 429;
    m.cfg.seed = 1;
    m.cfg.quota_after = -1;
    int r = parse_args(argc, argv, &m.cfg);
    if (r == 0)
        r = check_limiter(&m.cfg);
    if (r != 0)
        return r > 0 ? 0 : 2;

    raise_nofile();
    /* A client that closes while we write must cost an EPIPE, not the process. */
    signal(SIGPIPE, SIG_IGN);
    rng_seed(&m.rng, m.cfg.seed);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m.id_prefix = (unsigned)(ts.tv_sec ^ ((unsigned)getpid() << 16) ^ ts.tv_nsec);
    m.tok = json_tokener_new();
    if (!m.tok) {
        fprintf(stderr, "sluice mock: out of memory\n");
        return 1;
    }
    json_tokener_set_flags(m.tok, JSON_TOKENER_STRICT);
    if (m.cfg.request_log[0] && !(m.request_log = fopen(m.cfg.request_log, "a"))) {
        fprintf(stderr, "sluice mock: cannot write --request-log %s: %s\n", m.cfg.request_log,
                strerror(errno));
        json_tokener_free(m.tok);
        return 2;
    }

    uv_loop_t loop;
    int status = 0;
    if ((r = uv_loop_init(&loop)) < 0) {
        fprintf(stderr, "sluice mock: cannot start the event loop: %s\n", uv_strerror(r));
        json_tokener_free(m.tok);
        return 1;
    }
    m.loop = &loop;
    struct mock_limits_config lc;
    limits_config(&m.cfg, (int64_t)uv_now(&loop), &lc); /* fixed windows start now */
    if (mock_limits_setup(&m.limits, &lc) < 0) {
        fprintf(stderr, "sluice mock: out of memory\n");
        uv_loop_close(&loop);
        json_tokener_free(m.tok);
        return 1;
    }
    if ((r = mock_server_listen(&m)) < 0) {
        fprintf(stderr, "sluice mock: cannot listen on %s:%d: %s\n", m.cfg.host, m.cfg.port,
                uv_strerror(r));
        status = 1;
        goto stop;
    }
    uv_signal_init(&loop, &m.sigint);
    uv_signal_init(&loop, &m.sigterm);
    m.sigint.data = m.sigterm.data = &m;
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    if (strchr(m.cfg.host, ':'))
        printf("listening on http://[%s]:%d\n", m.cfg.host, m.cfg.port);
    else
        printf("listening on http://%s:%d\n", m.cfg.host, m.cfg.port);
    fflush(stdout);

stop:
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "sluice mock: handles left open at exit\n");
        status = 1;
    }
    json_tokener_free(m.tok);
    mock_limits_free(&m.limits);
    if (m.request_log)
        fclose(m.request_log);
    mock_buf_free(&m.scratch);
    return status;
}
