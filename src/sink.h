#ifndef SLUICE_SINK_H
#define SLUICE_SINK_H

/*
 * The library's word to its own sink, so that an answer's JSON is checked once rather than
 * twice. The engine checks every answer with the strict scanner (util_json_validate_members)
 * and, for the length of one result callback on this thread, vouches for the body it checked:
 * that pointer and that length. The sink writes a vouched body as-is. Any other body said to
 * be JSON (a library user's own result, a flag gone stale) is still checked before it is
 * written raw, so a result line is valid JSON whatever the producer claimed.
 */
#include <stddef.h>

/* Vouches for body[0..len) until the next call; sink_vouch_json(NULL, 0) withdraws it. */
void sink_vouch_json(const char *body, size_t len);

#endif
