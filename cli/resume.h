#ifndef SLUICE_CLI_RESUME_H
#define SLUICE_CLI_RESUME_H

#include <stddef.h>
#include <stdint.h>

/*
 * --resume: the set of custom_ids that OUTPUT already holds as successes. It stores a 64-bit
 * hash per id (open addressing at most half full: 16 bytes per line), never the ids.
 */
struct resume_set;

/*
 * Reads OUTPUT, keeps its complete success lines (rewriting the file without failed lines and
 * without a torn last line, atomically through a temp file and rename), and records their ids.
 * A missing OUTPUT is an empty set. Returns 0, or -1 with a message in err.
 */
int resume_load(struct resume_set **out, const char *path, char *err, size_t errlen);

/* The source's skip callback: nonzero when custom_id already succeeded. */
int resume_skip(void *set, const char *custom_id);

/* Ids loaded. */
size_t resume_count(const struct resume_set *s);

void resume_free(struct resume_set *s);

/* Exposed for unit tests. */
uint64_t resume_hash(const char *s, size_t len);

#endif
