/* The mock's growable byte buffer for answers and request bodies: the one struct buf (util.h)
 * with a sticky failure.
 *
 * Buffers live in connections and are reused from request to request, so the hot path
 * allocates only while a buffer is still growing to its working size. Allocation failure is
 * sticky (`failed`): appends after it do nothing, and the caller checks once at the end
 * instead of after every append. */
#ifndef MOCK_BUF_H
#define MOCK_BUF_H

#include <stddef.h>

#include "util.h"

struct mock_buf {
    struct buf buf;
    int failed;
};

/* Makes room for `extra` more bytes. Returns 0, or -1 (and sets `failed`) when out of memory. */
int mock_buf_reserve(struct mock_buf *b, size_t extra);
void mock_buf_append(struct mock_buf *b, const void *p, size_t n);
void mock_buf_puts(struct mock_buf *b, const char *s);
void mock_buf_printf(struct mock_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends `s` (n bytes) as a quoted JSON string (buf_append_json_string()). */
void mock_buf_json_str(struct mock_buf *b, const char *s, size_t n);
/* Empties the buffer; gives the memory back when it grew beyond `keep` bytes (one huge
 * request must not pin megabytes in an idle keep-alive connection). */
void mock_buf_reset(struct mock_buf *b, size_t keep);
void mock_buf_free(struct mock_buf *b);

#endif
