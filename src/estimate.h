#ifndef SLUICE_ESTIMATE_H
#define SLUICE_ESTIMATE_H

/*
 * The token estimate of a request body, for the token budget before the answer's usage is
 * known: source_estimate_tokens() (source.h) says how it counts. One walk of the body's
 * members also finds "model" and "stream", which the source needs, so no one parses it twice.
 */
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* The estimate of body[0..len), its prompt part in *prompt, and the "model" and "stream"
   members' values (p NULL when absent). 0 when body is NULL or not an object. */
uint64_t estimate_body(const char *body, size_t len, uint64_t *prompt, struct util_span *model,
                       struct util_span *stream);

#endif
