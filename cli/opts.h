#ifndef SLUICE_CLI_OPTS_H
#define SLUICE_CLI_OPTS_H

/*
 * getopt_long's mistakes, told to people. getopt's own messages name argv[0] ("run:
 * unrecognized option") and stop there; these start with the command's one prefix and, for a
 * typo, name the option that was meant ("unknown option --rpmm; did you mean --rpm?").
 * Parse with opterr = 0 and an optstring that starts with ':', so that a missing value comes
 * back as ':' and everything else wrong as '?'.
 */
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* After getopt_long() returned '?' or ':' (`ret`), prints one line to f saying what was wrong
   with the option, starting with "sluice: ". */
void opts_say_error(FILE *f, int ret, int argc, char **argv, const struct option *longs);

/* The edit distance between a and b (insertions, deletions, substitutions and swaps of two
   neighbours, as typos go), counting at most the first 63 bytes of each. */
size_t opts_distance(const char *a, size_t na, const char *b, size_t nb);

/* The names of `names` (n of them) nearest to `word`, close enough to be a typo of it, as
   "a", "a or b" or "a, b or c", each with `lead` ("--" for options) before it; "" when none is.
   Returns buf. */
const char *opts_nearest(const char *word, size_t len, const char *const *names, size_t n,
                         const char *lead, char *buf, size_t size);

/* A size in bytes: a number, optionally with a suffix K, M or G (powers of 1024, case
   ignored; "KB", "KiB" alike) or B: "64M", "1.5G", "65536". Returns 0, or -1 when s is none,
   or its value is below 1 byte or above `max`. */
int opts_parse_size(const char *s, uint64_t max, uint64_t *out);

#endif
