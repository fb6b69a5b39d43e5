/*
 * Reply objects for hiredis's reader, each reply in an arena of its own: the usual
 * redisReply tree (the same structs and fields, so parsers need no change), but built with a
 * few allocations per reply instead of two per element. A batch of stream entries used to
 * cost a malloc and a free for every field of every entry. Install on a reader with
 * `reader->fn = &rreply_fns`; replies are then freed by the reader's own freeObject, never
 * with freeReplyObject().
 */
#ifndef SLUICE_RREPLY_H
#define SLUICE_RREPLY_H

#include <hiredis/read.h>

extern redisReplyObjectFunctions rreply_fns;

/* The bytes a reply's arena holds, whole or still being read (its root object); for tests. */
size_t rreply_bytes(const void *reply);

#endif
