#ifndef SLUICE_CLI_RESUME_H
#define SLUICE_CLI_RESUME_H

#include <stddef.h>
#include <stdint.h>

/*
 * --resume: the set of custom_ids that OUTPUT already holds as successes. It stores a 64-bit
 * hash per id in a table sized to OUTPUT's line count (about 9 bytes per line), never the ids.
 * Two different ids share a hash with probability about n^2 / 2^65 (3e-6 at 10 million).
 */
struct resume_set;

/*
 * Reads OUTPUT, keeps its complete success lines (rewriting the file without failed lines and
 * without a torn last line, atomically through a temp file and rename), and records their ids.
 * A missing OUTPUT is an empty set. Returns 0, or -1 with a message in err.
 */
int resume_load(struct resume_set **out, const char *path, char *err, size_t errlen);

/* The same set, but OUTPUT is only read, never rewritten (--dry-run --resume). */
int resume_peek(struct resume_set **out, const char *path, char *err, size_t errlen);

/*
 * What OUTPUT holds, without changing it, for the refusal to overwrite results without a word:
 * its lines (a torn last line counts) and those of them that are result lines (objects that name a
 * custom_id). A missing or empty OUTPUT is 0 and 0. Returns 0, or -1 with errno set.
 */
int resume_output_lines(const char *path, uint64_t *lines, uint64_t *results);

/* The source's skip callback: nonzero when custom_id already succeeded. */
int resume_skip(void *set, const char *custom_id);

/* Ids loaded. */
size_t resume_count(const struct resume_set *s);

/* Bytes its table holds (issue: at most 16 per input line). */
size_t resume_bytes(const struct resume_set *s);

void resume_free(struct resume_set *s);

/* Exposed for unit tests. */
uint64_t resume_hash(const char *s, size_t len);

#endif
