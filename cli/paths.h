#ifndef SLUICE_CLI_PATHS_H
#define SLUICE_CLI_PATHS_H

/*
 * The files a run names on its command line. A file the run writes must not be one it reads,
 * nor another file it writes: `sluice run x.jsonl -o x.jsonl` would truncate the requests
 * before reading them, and --log over OUTPUT would interleave two formats. Files are compared
 * by device and inode, so ./x against x, a symlink and a hard link are all caught; a file that
 * does not exist yet is compared by its directory's device and inode and its last name.
 */
#include <stddef.h>

#include <sluice.h>

struct path_use {
    const char *what; /* for messages: "INPUT", "OUTPUT", "--log", ... */
    const char *path; /* NULL: not given */
    int std_fd;       /* the descriptor "-" means (0, 1, 2), or -1 when "-" is a file name */
    int writes;       /* the run writes (truncates or appends to) it */
};

/* Returns 0, or -1 after printing why two of `uses` are one file. Only regular files (and
   files yet to be created) are compared: two names for a terminal or /dev/null are fine. */
int paths_check_distinct(const struct path_use *uses, size_t n);

/* Returns 0, or -1 after saying which file the run would write cannot be, and why (its
   directory is missing or not writable, say): before the run spends anything, not after. */
int paths_check_writable(const struct path_use *uses, size_t n);

/*
 * Why `path` could not be created or opened for writing, given the attempt's errno: which of
 * its directories is missing, is not a directory, or is not writable, rather than the bare
 * errno (which, for a helper file such as OUTPUT's lock, names a file the user never gave).
 * Writes a phrase such as "directory a/b does not exist (mkdir -p a/b creates it)".
 */
void paths_why_not(const char *path, int err, char *buf, size_t n);

/*
 * Why reading INPUT failed, given the errno of the failure: for gzip input that is cut short or
 * corrupt, says so (and what zlib found); else strerror(err). Writes a phrase such as "its gzip
 * data is corrupt (zlib: invalid block type)".
 */
void paths_input_why(const sluice_jsonl_source_t *js, int err, char *buf, size_t n);

/* The first line of a file (an API key, a Redis URL) in a malloc'd string, its line end and
   trailing spaces cut; NULL with errno set when it cannot be read (an empty file: errno 0).
   The caller scrubs and frees it. */
char *paths_read_line(const char *path);

#endif
