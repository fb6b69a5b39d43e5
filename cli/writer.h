#ifndef SLUICE_CLI_WRITER_H
#define SLUICE_CLI_WRITER_H

/*
 * Durable output: result lines go to the JSONL sink, which writes each whole line with one
 * write(2). When a write fails (a full disk, EIO), the line is kept in memory instead, the run is
 * told to stop dispatching, and the kept lines are written again every second and at the end:
 * a finished result is never dropped while there is a chance to write it. The file is fsync'ed
 * every `fsync_s` seconds while lines are being written, and at the end.
 */
#include <stddef.h>

#include <sluice.h>

struct writer;

/* fsync_s <= 0: never fsync. The timers never keep `loop` alive on their own. */
struct writer *writer_new(sluice_jsonl_sink_t *sk, uv_loop_t *loop, double fsync_s);

/*
 * Writes one formatted line, or keeps it when the write fails. Returns 0, or the sink's error
 * (SLUICE_ENOSPC, SLUICE_EIO) the first time a line had to be kept, so the caller stops the run;
 * later kept lines return 0. SLUICE_ENOMEM if it could not even be kept.
 */
int writer_line(struct writer *w, const char *line, size_t len);

/* Formats a result with the sink and writes it as writer_line() does. */
int writer_result(struct writer *w, const sluice_result_t *res);

/* Tries to write the kept lines again, in order. Returns 0 when none is left. */
int writer_flush(struct writer *w);

/* Lines kept in memory, not yet written. */
size_t writer_kept(const struct writer *w);

/* The error of the first failed write (0 if none), with errno's words in `why`. */
int writer_error(const struct writer *w, const char **why);

/* Stops the timers; the loop must run once to finish closing them. Then fsyncs. */
void writer_close(struct writer *w);
void writer_free(struct writer *w);

#endif
