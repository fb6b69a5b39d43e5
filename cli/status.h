#ifndef SLUICE_CLI_STATUS_H
#define SLUICE_CLI_STATUS_H

#include <stdio.h>

#include <sluice.h>

#include "cost.h"
#include "count.h"

/*
 * The live status line and the end summary, drawn from stats snapshots. On a terminal the
 * line is redrawn in place at most 10 times a second; elsewhere a plain line is printed every
 * 10 seconds, so that a log file gets a trace of the run without a flood of redraws.
 */
struct status;

/* What the status line reads besides the engine's stats. */
struct status_ctx {
    sluice_t *eng;
    struct count *count;     /* the input's pre-count, or NULL (a pipe: total unknown) */
    uint64_t skipped;        /* --resume: ids already done, not part of this run's total */
    const struct cost *cost; /* or NULL */
};

enum {
    STATUS_OFF = 0, /* --no-progress */
    STATUS_PLAIN,   /* a line every 10 s (the default when stderr is not a terminal) */
    STATUS_LIVE     /* redrawn in place (on a terminal, or --progress) */
};

/* Starts drawing in `mode`; returns NULL (a valid, silent status) for STATUS_OFF. The context
 * is copied. */
struct status *status_new(const struct status_ctx *ctx, int mode);

/* Erases the line so that a message can be printed cleanly; it is redrawn on the next tick. */
void status_clear(struct status *s);

void status_free(struct status *s);

/*
 * The rate the status line shows: results per second over the last second or so, smoothed so
 * the digits can be read; before the first whole second, the average since the start (a run
 * that has done 260 in 0.3 s is not at 0/s). Pure: the caller passes the run's time.
 */
struct status_rate {
    uint64_t last_done;
    double last_s;
    double rps;
    int windows; /* whole seconds measured so far */
};
double status_rate_tick(struct status_rate *r, double wall_s, uint64_t done);

/* The inputs of one status line. */
struct status_line {
    const sluice_stats_t *st;
    uint64_t total;  /* requests in this run, 0 when unknown */
    double rps;      /* recent requests per second (status_rate_tick) */
    double cost_usd; /* negative when unknown */
};

/*
 * Formats the status line into buf: at most 79 columns (plain ASCII), one line. Fields that do
 * not fit are left out, least useful first. Exposed for unit tests.
 */
void status_format(char *buf, size_t n, const struct status_line *l);

/* "1234", "123k", "1.23M": at most 5 characters up to 999G. */
void status_count(char *buf, size_t n, uint64_t v);

/* Final failures by error code, for the summary's counts by outcome. */
#define STATUS_CODES 8
struct status_tally {
    struct {
        char code[40];
        uint64_t n;
    } codes[STATUS_CODES];
    uint64_t other; /* failures with a code beyond the first STATUS_CODES */
};
void status_tally_add(struct status_tally *t, const char *error_code);

/* What the end summary reports besides the stats. */
struct status_end {
    const char *input, *output;
    const struct status_tally *tally;
    const struct cost_view *cost; /* or NULL */
    const char *job;              /* a distributed job's name, or NULL */
    size_t unwritten;             /* finished results OUTPUT could not take (a full disk) */
    uint64_t skipped;             /* input lines --resume skipped: OUTPUT had their ids */
    int finished;                 /* the whole input was done (not stopped early) */
};

/* The end summary, for people. A finished run that sent nothing says so in one line ("nothing
   to do: all 2000 ids are already in out.jsonl") instead of a summary of zeros. */
void status_summary(FILE *f, const sluice_stats_t *st, const struct status_end *e);

/* --stats-json: the summary as one JSON object. Returns 0, or -1 with errno set. */
int status_write_json(const char *path, const sluice_stats_t *st, const struct status_end *e,
                      int exit_code);

#endif
