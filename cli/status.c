/*
 * The status line (live, from stats snapshots every 100 ms) and the end summary (text and
 * --stats-json). Only the CLI talks to people; these are its words for a run in progress.
 */
#include "status.h"
#include "msg.h"

#include <stdlib.h>
#include <string.h>

#define STATUS_COLS 79 /* one less than 80, so the cursor never wraps to a second line */

struct status {
    struct status_ctx ctx;
    uv_timer_t timer;
    int tty;
    int drawn; /* a line is on screen */
    struct status_rate rate;
    double last_plain_s;
};

void status_count(char *buf, size_t n, uint64_t v) {
    double d = (double)v;
    if (v < 100000)
        snprintf(buf, n, "%llu", (unsigned long long)v);
    else if (v < 1000000)
        snprintf(buf, n, "%.0fk", d / 1e3);
    else if (v < 1000000000)
        snprintf(buf, n, d < 1e7 ? "%.2fM" : d < 1e8 ? "%.1fM" : "%.0fM", d / 1e6);
    else
        snprintf(buf, n, d < 1e10 ? "%.2fG" : d < 1e11 ? "%.1fG" : "%.0fG", d / 1e9);
}

/* "42s", "5m03s", "1h02m": a coarse time for the ETA. */
static void status_duration(char *buf, size_t n, double s) {
    if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else if (s < 100 * 3600)
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else
        snprintf(buf, n, "99h+");
}

static void status_money(char *buf, size_t n, double usd) {
    snprintf(buf, n, usd < 0.1 ? "$%.4f" : usd < 1000 ? "$%.2f" : "$%.0f", usd);
}

/*
 * The transport's words made short for the status line (the stop message has them whole, and
 * the host is --base-url's): "Failed to connect to HOST port N after 3 ms: Connection refused"
 * (curl's and the fast path's) becomes its reason, "Could not resolve host: HOST" becomes
 * "cannot resolve HOST"; the rest is as said. Control bytes become spaces: a host name came
 * from the user.
 */
static void status_short_error(char *buf, size_t n, const char *err) {
    static const char pre[] = "Failed to connect to ", dns[] = "Could not resolve host: ";
    const char *p = err, *rest = "";
    size_t head = strlen(err);
    if (strncmp(err, dns, sizeof(dns) - 1) == 0) {
        rest = err + sizeof(dns) - 1;
        p = "cannot resolve ";
        head = strlen(p);
    } else if (strncmp(err, pre, sizeof(pre) - 1) == 0 && strstr(err, ": ")) {
        p = strstr(err, ": ") + 2;
        head = strlen(p);
    }
    size_t k = 0;
    for (size_t i = 0; i < head && k + 1 < n; i++)
        buf[k++] = p[i];
    for (; *rest && k + 1 < n; rest++)
        buf[k++] = *rest;
    if (n > 0)
        buf[k] = '\0';
    for (char *c = buf; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
}

enum {
    F_PROGRESS,
    F_FAILED,
    F_RATE,
    F_SLOTS,
    F_RPM,
    F_RETRY,
    F_429,
    F_TOK,
    F_COST,
    F_ETA,
    F_ERROR,
    F_N
};

/* Which fields go first when the line is short of room (the display order is the enum's). A
   transport error of the last minute comes third (it says why the numbers look as they do), an
   older one after the cost; either takes what room is left when its turn comes, cut to fit. */
static const int priority[F_N] = {F_PROGRESS, F_RATE, F_ETA,   F_SLOTS, F_COST,  F_ERROR,
                                  F_429,      F_RPM,  F_RETRY, F_TOK,   F_FAILED};
static const int priority_error[F_N] = {F_PROGRESS, F_RATE, F_ERROR, F_ETA, F_SLOTS, F_COST,
                                        F_429,      F_RPM,  F_RETRY, F_TOK, F_FAILED};
#define STATUS_ERROR_RECENT_S 60

/* An error cut shorter than this says too little: it is left out instead (a shorter one is
   shown whole or not at all). */
#define STATUS_ERROR_MIN 16
#define STATUS_ERROR_MAX 48

/*
 * The last transport error in at most `room` columns (out holds STATUS_COLS + 1): "error: ",
 * or "error 1m40s ago: " once it is 10 s old, and the words, cut to fit. Left empty when fewer
 * than STATUS_ERROR_MIN columns would be left for the words.
 */
static void status_error_field(char *out, size_t room, const sluice_stats_t *st) {
    char words[STATUS_ERROR_MAX + 1], age[16], prefix[40] = "error: ";
    status_short_error(words, sizeof(words), st->last_error);
    size_t wl = strlen(words), least = wl < STATUS_ERROR_MIN ? wl : STATUS_ERROR_MIN;
    double old = st->wall_s - st->last_error_s;
    if (old >= 10) {
        /* without its age it would read as current */
        status_duration(age, sizeof(age), old);
        snprintf(prefix, sizeof(prefix), "error %s ago: ", age);
    }
    size_t pl = strlen(prefix);
    out[0] = '\0';
    if (room < pl + least)
        return;
    if (pl + wl > room) {
        wl = room - pl;
        memcpy(words + wl - 3, "...", 3);
        words[wl] = '\0';
    }
    snprintf(out, STATUS_COLS + 1, "%s%s", prefix, words);
}

void status_format(char *buf, size_t n, const struct status_line *l) {
    const sluice_stats_t *st = l->st;
    char f[F_N][STATUS_COLS + 1] = {{0}}, a[16], b[16];
    uint64_t done = st->succeeded + st->failed;

    status_count(a, sizeof(a), done);
    if (l->total > 0) {
        double pct = done >= l->total ? 100.0 : 100.0 * (double)done / (double)l->total;
        status_count(b, sizeof(b), l->total);
        /* Tenths only below 10%, where a million-line job would otherwise sit at 0% for long. */
        snprintf(f[F_PROGRESS], sizeof(f[0]), "%s/%s %.*f%%", a, b, pct < 10 ? 1 : 0, pct);
    } else {
        snprintf(f[F_PROGRESS], sizeof(f[0]), "%s done", a);
    }
    if (st->failed) {
        status_count(a, sizeof(a), st->failed);
        snprintf(f[F_FAILED], sizeof(f[0]), "%s failed", a);
    }
    if (l->rps < 10)
        snprintf(f[F_RATE], sizeof(f[0]), "%.1f req/s", l->rps);
    else {
        status_count(a, sizeof(a), (uint64_t)(l->rps + 0.5));
        snprintf(f[F_RATE], sizeof(f[0]), "%s req/s", a);
    }
    status_count(a, sizeof(a), st->in_flight);
    status_count(b, sizeof(b), st->concurrency > 0 ? (uint64_t)st->concurrency : 0);
    snprintf(f[F_SLOTS], sizeof(f[0]), "slots %s/%s", a, b);
    if (st->rpm_limit > 0) {
        status_count(a, sizeof(a), (uint64_t)(st->rpm_limit + 0.5));
        snprintf(f[F_RPM], sizeof(f[0]), "rpm %s", a);
    }
    status_count(a, sizeof(a), st->retries);
    snprintf(f[F_RETRY], sizeof(f[0]), "retry %s", a);
    status_count(a, sizeof(a), st->rate_limited);
    snprintf(f[F_429], sizeof(f[0]), "429s %s", a);
    if (st->tokens_in + st->tokens_out > 0) {
        status_count(a, sizeof(a), st->tokens_in + st->tokens_out);
        snprintf(f[F_TOK], sizeof(f[0]), "tok %s", a);
    }
    if (l->cost_usd >= 0)
        status_money(f[F_COST], sizeof(f[0]), l->cost_usd);
    if (l->total > 0 && done < l->total && l->rps > 0) {
        status_duration(a, sizeof(a), (double)(l->total - done) / l->rps);
        snprintf(f[F_ETA], sizeof(f[0]), "ETA %s", a);
    }

    /* Take fields by priority while they fit, then lay them out in display order. */
    const int *order = st->last_error[0] && st->wall_s - st->last_error_s < STATUS_ERROR_RECENT_S
                           ? priority_error
                           : priority;
    int take[F_N] = {0};
    size_t len = 0;
    for (int i = 0; i < F_N; i++) {
        if (order[i] == F_ERROR && st->last_error[0] && len + 2 < STATUS_COLS)
            status_error_field(f[F_ERROR], STATUS_COLS - (len ? len + 2 : 0), st);
        size_t w = strlen(f[order[i]]);
        if (w == 0)
            continue;
        size_t add = len ? w + 2 : w;
        if (len + add <= STATUS_COLS) {
            take[order[i]] = 1;
            len += add;
        }
    }
    size_t at = 0;
    if (n > 0)
        buf[0] = '\0';
    for (int i = 0; i < F_N && n > 0; i++) {
        if (!take[i])
            continue;
        int w = snprintf(buf + at, n - at, "%s%s", at ? "  " : "", f[i]);
        if (w < 0 || (size_t)w >= n - at)
            break;
        at += (size_t)w;
    }
}

double status_rate_tick(struct status_rate *r, double wall_s, uint64_t done) {
    double dt = wall_s - r->last_s;
    if (dt >= 1.0) {
        double now = (double)(done - r->last_done) / dt;
        r->rps = r->windows ? 0.5 * r->rps + 0.5 * now : now;
        r->windows++;
        r->last_done = done;
        r->last_s = wall_s;
    } else if (r->windows == 0) {
        r->rps = wall_s > 0 ? (double)done / wall_s : 0;
    }
    return r->rps;
}

/* Requests in this run: the pre-count less the ids --resume skips; 0 while unknown. */
static uint64_t status_total(struct status *s) {
    uint64_t lines;
    if (!count_result(s->ctx.count, &lines))
        return 0;
    return lines > s->ctx.skipped ? lines - s->ctx.skipped : 0;
}

static void on_tick(uv_timer_t *t) {
    struct status *s = t->data;
    sluice_stats_t st;
    sluice_stats(s->ctx.eng, &st);
    double rps = status_rate_tick(&s->rate, st.wall_s, st.succeeded + st.failed);
    struct status_line l = {.st = &st, .total = status_total(s), .rps = rps, .cost_usd = -1};
    if (s->ctx.cost) {
        struct cost_view cv;
        cost_view(s->ctx.cost, &cv);
        if (cv.known)
            l.cost_usd = cv.spent_usd;
    }
    char line[128];
    status_format(line, sizeof(line), &l);
    if (s->tty) {
        fprintf(stderr, "\r\033[K%s", line);
        s->drawn = 1;
    } else if (st.wall_s - s->last_plain_s >= 10.0) {
        msg_say(stderr, "%s\n", line);
        s->last_plain_s = st.wall_s;
    }
    fflush(stderr);
}

struct status *status_new(const struct status_ctx *ctx, int mode) {
    if (mode == STATUS_OFF)
        return NULL;
    struct status *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->ctx = *ctx;
    s->tty = mode == STATUS_LIVE;
    uv_timer_init(sluice_loop(ctx->eng), &s->timer);
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

void status_tally_add(struct status_tally *t, const char *code) {
    if (!code)
        return;
    for (int i = 0; i < STATUS_CODES; i++) {
        if (t->codes[i].n == 0) {
            snprintf(t->codes[i].code, sizeof(t->codes[i].code), "%s", code);
            t->codes[i].n = 1;
            return;
        }
        if (strcmp(t->codes[i].code, code) == 0) {
            t->codes[i].n++;
            return;
        }
    }
    t->other++;
}

/* A rate over less than this is mostly start-up and one round trip: not shown. */
#define STATUS_RATE_MIN_S 1.0

static const char *plural(uint64_t n) {
    return n == 1 ? "" : "s";
}

/* A finished run that sent nothing: one line that says why, not six of zeros. */
static void status_nothing(FILE *f, const struct status_end *e) {
    if (e->job)
        msg_say(f, "this process sent no requests%s%s\n", e->output ? "; results in " : "",
                e->output ? e->output : "");
    else if (e->skipped == 1)
        msg_say(f, "nothing to do: the one id is already in %s\n", e->output);
    else if (e->skipped)
        msg_say(f, "nothing to do: all %llu ids are already in %s\n",
                (unsigned long long)e->skipped, e->output);
    else
        msg_say(f, "nothing to do: %s has no requests\n",
                strcmp(e->input, "-") == 0 ? "stdin" : e->input);
}

void status_summary(FILE *f, const sluice_stats_t *st, const struct status_end *e) {
    uint64_t done = st->succeeded + st->failed;
    if (e->finished && done == 0 && st->attempts == 0) {
        status_nothing(f, e);
        return;
    }
    double rps = st->wall_s > 0 ? (double)done / st->wall_s : 0;
    uint64_t unwritten = e->unwritten < done ? e->unwritten : done;
    if (unwritten)
        /* What OUTPUT holds is the news (the error above says why the rest is not there). */
        msg_say(f,
                "%llu request%s finished in %.1fs (%llu succeeded, %llu failed); %s "
                "holds %llu of them",
                (unsigned long long)done, plural(done), st->wall_s,
                (unsigned long long)st->succeeded, (unsigned long long)st->failed, e->output,
                (unsigned long long)(done - unwritten));
    else {
        msg_say(f, "%llu request%s in %.1fs", (unsigned long long)done, plural(done), st->wall_s);
        if (st->wall_s >= STATUS_RATE_MIN_S)
            fprintf(f, " (%.1f req/s)", rps);
        fprintf(f, ": %llu succeeded, %llu failed", (unsigned long long)st->succeeded,
                (unsigned long long)st->failed);
    }
    if (e->tally && e->tally->codes[0].n) {
        for (int i = 0; i < STATUS_CODES && e->tally->codes[i].n; i++)
            fprintf(f, "%s%s %llu", i ? ", " : " (", e->tally->codes[i].code,
                    (unsigned long long)e->tally->codes[i].n);
        if (e->tally->other)
            fprintf(f, ", other %llu", (unsigned long long)e->tally->other);
        fputc(')', f);
    }
    fprintf(f, "\nsluice: %llu attempt%s, %llu retr%s, %llu rate-limited (429)",
            (unsigned long long)st->attempts, plural(st->attempts), (unsigned long long)st->retries,
            st->retries == 1 ? "y" : "ies", (unsigned long long)st->rate_limited);
    fprintf(f, ", %llu breaker trip%s", (unsigned long long)st->breaker_trips,
            plural(st->breaker_trips));
    if (st->rpm_limit > 0 || st->tpm_limit > 0)
        fprintf(f, "; paced to %.0f rpm, %.0f tpm (0 = none; %s)", st->rpm_limit, st->tpm_limit,
                st->rate_source ? st->rate_source : "none");
    fprintf(f, "\nsluice: latency p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms\n",
            st->latency_p50_ms, st->latency_p90_ms, st->latency_p99_ms, st->latency_max_ms);
    msg_say(f, "tokens: %llu in, %llu out", (unsigned long long)st->tokens_in,
            (unsigned long long)st->tokens_out);
    const struct cost_view *cv = e->cost;
    if (cv && cv->known) {
        char m[32];
        status_money(m, sizeof(m), cv->spent_usd);
        fprintf(f, "; cost %s", m);
        if (cv->max_usd > 0)
            fprintf(f, " of --max-cost $%g", cv->max_usd);
    }
    if (cv && cv->unpriced_tokens)
        fprintf(f,
                "; %llu tokens of model %s have no price (pass --prices FILE or --price-in "
                "and --price-out)",
                (unsigned long long)cv->unpriced_tokens, cv->unpriced_model);
    if (e->job && !e->output) {
        fprintf(f, "\nsluice: results committed to job %s\n", e->job);
        return;
    }
    fputc('\n', f);
    if (unwritten)
        return; /* where they are and what to do: the error above said it */
    msg_say(f, "results in %s\n", e->output);
    if (st->failed && !e->job)
        msg_say(f, "to retry the failed lines: sluice run %s -o %s --resume (same options)\n",
                e->input, e->output);
}

int status_write_json(const char *path, const sluice_stats_t *st, const struct status_end *e,
                      int exit_code) {
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f)
        return -1;
    uint64_t done = st->succeeded + st->failed;
    fprintf(f,
            "{\"total\":%llu,\"succeeded\":%llu,\"failed\":%llu,\"invalid\":%llu,"
            "\"attempts\":%llu,\"retries\":%llu,\"rate_limited\":%llu,"
            "\"wall_s\":%.3f,\"requests_per_s\":%.2f,"
            "\"latency_ms\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"max\":%.2f},"
            "\"tokens\":{\"prompt\":%llu,\"completion\":%llu},"
            "\"limits\":{\"rpm\":%.1f,\"tpm\":%.1f,\"rate_source\":\"%s\",\"concurrency\":%d},",
            (unsigned long long)done, (unsigned long long)st->succeeded,
            (unsigned long long)st->failed, (unsigned long long)st->invalid,
            (unsigned long long)st->attempts, (unsigned long long)st->retries,
            (unsigned long long)st->rate_limited, st->wall_s,
            st->wall_s > 0 ? (double)done / st->wall_s : 0.0, st->latency_p50_ms,
            st->latency_p90_ms, st->latency_p99_ms, st->latency_max_ms,
            (unsigned long long)st->tokens_in, (unsigned long long)st->tokens_out, st->rpm_limit,
            st->tpm_limit, st->rate_source ? st->rate_source : "none", st->concurrency);
    fprintf(f, "\"breaker_trips\":%llu,", (unsigned long long)st->breaker_trips);
    fputs("\"failures\":{", f);
    for (int i = 0; e->tally && i < STATUS_CODES && e->tally->codes[i].n; i++)
        fprintf(f, "%s\"%s\":%llu", i ? "," : "", e->tally->codes[i].code,
                (unsigned long long)e->tally->codes[i].n);
    fputs("},", f);
    const struct cost_view *cv = e->cost;
    if (cv && cv->known)
        fprintf(f, "\"cost_usd\":%.6f,", cv->spent_usd);
    else
        fputs("\"cost_usd\":null,", f);
    if (cv && cv->max_usd > 0)
        fprintf(f, "\"max_cost_usd\":%.6f,", cv->max_usd);
    fprintf(f, "\"unpriced_tokens\":%llu,\"unwritten\":%llu,\"exit_code\":%d}\n",
            (unsigned long long)(cv ? cv->unpriced_tokens : 0), (unsigned long long)e->unwritten,
            exit_code);
    if (f == stdout)
        return fflush(f) == 0 ? 0 : -1;
    return fclose(f) == 0 ? 0 : -1;
}
