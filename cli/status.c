#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct status {
    sluice_t *eng;
    uv_timer_t timer;
    int tty;
    int drawn;          /* a line is on screen */
    uint64_t last_done; /* for the recent rate */
    double last_s;
    double rps;
    double last_plain_s;
};

void status_format(char *buf, size_t n, const sluice_stats_t *st, double recent_rps) {
    uint64_t done = st->succeeded + st->failed;
    snprintf(buf, n,
             "%llu done (%llu failed) | %.0f req/s | slots %llu/%d | retries %llu | "
             "429s %llu | %.0fs",
             (unsigned long long)done, (unsigned long long)st->failed, recent_rps,
             (unsigned long long)st->in_flight, st->concurrency, (unsigned long long)st->retries,
             (unsigned long long)st->rate_limited, st->wall_s);
    if (n > 80)
        buf[79] = '\0';
}

static void on_tick(uv_timer_t *t) {
    struct status *s = t->data;
    sluice_stats_t st;
    sluice_stats(s->eng, &st);
    uint64_t done = st.succeeded + st.failed;
    double dt = st.wall_s - s->last_s;
    if (dt >= 1.0) {
        /* A rate over the last second or so, smoothed so the digits can be read. */
        double r = (double)(done - s->last_done) / dt;
        s->rps = s->rps == 0 ? r : 0.5 * s->rps + 0.5 * r;
        s->last_done = done;
        s->last_s = st.wall_s;
    }
    char line[128];
    status_format(line, sizeof(line), &st, s->rps);
    if (s->tty) {
        fprintf(stderr, "\r\033[K%s", line);
        s->drawn = 1;
    } else if (st.wall_s - s->last_plain_s >= 10.0) {
        fprintf(stderr, "sluice: %s\n", line);
        s->last_plain_s = st.wall_s;
    }
    fflush(stderr);
}

struct status *status_new(sluice_t *eng, int enabled) {
    if (!enabled)
        return NULL;
    struct status *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->eng = eng;
    s->tty = isatty(STDERR_FILENO);
    uv_timer_init(sluice_loop(eng), &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, on_tick, 100, 100);
    /* The status line never keeps the loop alive on its own. */
    uv_unref((uv_handle_t *)&s->timer);
    return s;
}

void status_clear(struct status *s) {
    if (s && s->drawn) {
        fputs("\r\033[K", stderr);
        s->drawn = 0;
    }
}

static void on_closed(uv_handle_t *h) {
    free(h->data);
}

void status_free(struct status *s) {
    if (!s)
        return;
    status_clear(s);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_closed);
}

void status_summary(const sluice_stats_t *st, const char *output, const char *input) {
    uint64_t done = st->succeeded + st->failed;
    double rps = st->wall_s > 0 ? (double)done / st->wall_s : 0;
    fprintf(stderr, "sluice: %llu requests in %.1fs (%.1f req/s): %llu succeeded, %llu failed",
            (unsigned long long)done, st->wall_s, rps, (unsigned long long)st->succeeded,
            (unsigned long long)st->failed);
    if (st->invalid)
        fprintf(stderr, " (%llu invalid lines)", (unsigned long long)st->invalid);
    fprintf(stderr, "; %llu attempts, %llu retries, %llu rate-limited (429)\n",
            (unsigned long long)st->attempts, (unsigned long long)st->retries,
            (unsigned long long)st->rate_limited);
    if (st->tokens_in || st->tokens_out)
        fprintf(stderr, "sluice: tokens: %llu in, %llu out\n", (unsigned long long)st->tokens_in,
                (unsigned long long)st->tokens_out);
    fprintf(stderr, "sluice: results in %s\n", output);
    if (st->failed)
        fprintf(stderr,
                "sluice: to retry the failed lines: sluice run %s -o %s --resume (same options)\n",
                input, output);
}

int status_write_json(const char *path, const sluice_stats_t *st, int exit_code) {
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f)
        return -1;
    uint64_t done = st->succeeded + st->failed;
    fprintf(f,
            "{\"total\":%llu,\"succeeded\":%llu,\"failed\":%llu,\"invalid\":%llu,"
            "\"attempts\":%llu,\"retries\":%llu,\"rate_limited\":%llu,\"wall_s\":%.3f,"
            "\"requests_per_s\":%.2f,"
            "\"latency_ms\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"max\":%.2f},"
            "\"tokens\":{\"prompt\":%llu,\"completion\":%llu},"
            "\"limits\":{\"rpm\":%.1f,\"tpm\":%.1f,\"concurrency\":%d},"
            "\"exit_code\":%d}\n",
            (unsigned long long)done, (unsigned long long)st->succeeded,
            (unsigned long long)st->failed, (unsigned long long)st->invalid,
            (unsigned long long)st->attempts, (unsigned long long)st->retries,
            (unsigned long long)st->rate_limited, st->wall_s,
            st->wall_s > 0 ? (double)done / st->wall_s : 0.0, st->latency_p50_ms,
            st->latency_p90_ms, st->latency_p99_ms, st->latency_max_ms,
            (unsigned long long)st->tokens_in, (unsigned long long)st->tokens_out, st->rpm_limit,
            st->tpm_limit, st->concurrency, exit_code);
    if (f == stdout)
        return fflush(f) == 0 ? 0 : -1;
    return fclose(f) == 0 ? 0 : -1;
}
