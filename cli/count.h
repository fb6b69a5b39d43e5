#ifndef SLUICE_CLI_COUNT_H
#define SLUICE_CLI_COUNT_H

/*
 * The pre-count behind the status line's "done/total": the non-blank lines of a regular input
 * file (of the text inside, for gzip), counted on a thread of its own so that a 10 GB input
 * does not delay the first request.
 * The thread touches nothing but the file and two atomics; the loop never waits for it.
 */
#include <stddef.h>
#include <stdint.h>

struct count;

/* Starts counting `path` if it is a regular file; NULL otherwise (a pipe: the total is
 * unknown) or when the thread cannot start. */
struct count *count_start(const char *path);

/* The number of non-blank lines once counted: returns 1 and *lines, or 0 while counting or
 * when counting failed. count may be NULL. */
int count_result(struct count *cn, uint64_t *lines);

/* 1 when counting failed (a read error, gzip data cut short or corrupt): no total will come. */
int count_failed(struct count *cn);

/* Stops the thread (it gives up within one read) and frees. count may be NULL. */
void count_free(struct count *cn);

/* Counts the non-blank lines of a whole buffer; exposed for unit tests. `in_line` carries
 * whether the previous buffer ended inside a non-blank line; returns the lines finished. */
uint64_t count_lines(const char *p, size_t n, int *in_line);

#endif
