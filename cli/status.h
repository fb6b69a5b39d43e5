#ifndef SLUICE_CLI_STATUS_H
#define SLUICE_CLI_STATUS_H

#include <sluice.h>

/*
 * The live status line and the end summary, drawn from stats snapshots. On a terminal the
 * line is redrawn in place at most 10 times a second; elsewhere a plain line is printed every
 * 10 seconds.
 */
struct status;

/* Starts drawing when `enabled`; returns NULL (a valid, silent status) otherwise. */
struct status *status_new(sluice_t *eng, int enabled);

/* Erases the line so that a message can be printed cleanly; it is redrawn on the next tick. */
void status_clear(struct status *s);

void status_free(struct status *s);

/* Formats the status line into buf (at most 79 columns). Exposed for unit tests. */
void status_format(char *buf, size_t n, const sluice_stats_t *st, double recent_rps);

/* The end summary on stderr. */
void status_summary(const sluice_stats_t *st, const char *output, const char *input);

/* --stats-json: the summary as one JSON object. Returns 0, or -1 with errno set. */
int status_write_json(const char *path, const sluice_stats_t *st, int exit_code);

#endif
