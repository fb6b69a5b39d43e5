#ifndef SLUICE_CLI_LOG_H
#define SLUICE_CLI_LOG_H

/*
 * --log FILE: one JSON line per attempt that ended (id, line, attempt, status, outcome, error,
 * latency, wait), for debugging a run. Only what the attempt callback gives: never the API
 * key, headers or bodies.
 */
#include <stdio.h>

#include <sluice.h>

/* Opens (truncates) the log; NULL with errno set on failure. "-" is stderr. */
FILE *log_open(const char *path);

/* Writes one attempt as a JSON line. */
void log_attempt(FILE *f, const sluice_attempt_t *a, double t_s);

/* Returns 0, or -1 with errno set when a write failed. f may be NULL. */
int log_close(FILE *f);

#endif
