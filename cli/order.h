#ifndef SLUICE_CLI_ORDER_H
#define SLUICE_CLI_ORDER_H

/*
 * --ordered: results in input order through a bounded reorder buffer. It wraps the source to
 * number requests in the order they are pulled; a result that arrives early is held until all
 * earlier ones are written. When `window` requests are pulled but not yet written, the wrapped
 * source answers SLUICE_EAGAIN, so dispatch waits instead of memory growing.
 */
#include <stddef.h>

#include <sluice.h>

#include "writer.h"

struct order;

/* Wraps `inner`; *wrapped is the source to give the engine. Lines are formatted by `sink` and
   written through `w`. Returns NULL when out of memory. */
struct order *order_new(const sluice_source_t *inner, sluice_jsonl_sink_t *sink, struct writer *w,
                        size_t window, sluice_source_t *wrapped);

/* The engine to wake when room frees up (set before the run). */
void order_set_engine(struct order *o, sluice_t *eng);

/* Takes one result: formats it, holds it, and writes every line that is now in order.
   Returns 0 or the writer's error (SLUICE_ENOSPC, SLUICE_EIO: the line is kept by the writer;
   SLUICE_ENOMEM). */
int order_result(struct order *o, const sluice_result_t *res);

/* At the end: writes what is still held, in order, past the gaps a stopped run leaves. */
int order_flush(struct order *o);

/* Results held now (for tests). */
size_t order_held(const struct order *o);

void order_free(struct order *o);

#endif
