#ifndef SLUICE_CLI_LOG_H
#define SLUICE_CLI_LOG_H

/*
 * --log FILE: one JSON line per attempt that ended (id, line, attempt, status, outcome, error,
 * latency, wait), for debugging a run. Only what the attempt callback gives: never the API
 * key, headers or bodies.
 */
#include <stdio.h>

#include <sluice.h>

#include "util.h"

/* The open log: its file, and one buffer its lines are built in, kept from line to line. */
struct log {
    FILE *f;
    struct buf line;
};

/* Opens (truncates) the log; NULL with errno set on failure. "-" is stderr. */
struct log *log_open(const char *path);

/* Writes one attempt as a JSON line. */
void log_attempt(struct log *l, const sluice_attempt_t *a, double t_s);

/* Closes and frees l; returns 0, or -1 with errno set when a write failed. l may be NULL. */
int log_close(struct log *l);

#endif
