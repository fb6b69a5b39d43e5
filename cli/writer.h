#ifndef SLUICE_CLI_WRITER_H
#define SLUICE_CLI_WRITER_H

/*
 * Durable output: result lines go to the JSONL sink in whole lines. With a loop, the lines of
 * one loop iteration are written together with one write(2) just before the loop waits again
 * (or at 64 KiB; a longer line is written on its own, after them, without a copy): at -c 64
 * that is one write per ~50 results instead of one each, still whole
 * lines only, so a crash leaves at most a torn last line; results not yet written when the
 * process dies are sent again by --resume, like requests in flight. When a write fails (a full
 * disk, EIO), the file is left as it was before it, its lines are kept in memory instead, the
 * run is told to stop dispatching (at the next result), and the kept lines are written again
 * every second and at the end: a finished result is never dropped while there is a chance to
 * write it. The file is fsync'ed every `fsync_s` seconds while lines are being written, and at
 * the end.
 */
#include <stddef.h>

#include <sluice.h>

struct writer;

/* fsync_s <= 0: never fsync. The timers never keep `loop` alive on their own. */
struct writer *writer_new(sluice_jsonl_sink_t *sk, uv_loop_t *loop, double fsync_s);

/*
 * Writes one formatted line (with a loop: queues it for this iteration's write), or keeps it
 * when writing fails. Returns 0, or the sink's error (SLUICE_ENOSPC, SLUICE_EIO) the first time
 * lines had to be kept (for a batch: at the next call), so the caller stops the run; later kept
 * lines return 0. SLUICE_ENOMEM if it could not even be kept.
 */
int writer_line(struct writer *w, const char *line, size_t len);

/* fn(ud, lines) is told how many lines each write put in the file (each writer_line() call is
   one line), and how many a failed write kept in memory for its retries: either way they no
   longer hold their slots (a failed write stops the run at the next result). */
void writer_on_written(struct writer *w, void (*fn)(void *ud, size_t lines), void *ud);

/* Formats a result with the sink and writes it as writer_line() does. */
int writer_result(struct writer *w, const sluice_result_t *res);

/* Writes the queued lines, then tries the kept ones again, in order. Returns 0 when none is
   left. */
int writer_flush(struct writer *w);

/* Lines kept in memory, not yet written. */
size_t writer_kept(const struct writer *w);

/* The error of the first failed write (0 if none), with errno's words in `why`. */
int writer_error(const struct writer *w, const char **why);

/* Writes the queued lines, stops the timers (the loop must run once to finish closing them),
   then fsyncs. */
void writer_close(struct writer *w);
void writer_free(struct writer *w);

#endif
