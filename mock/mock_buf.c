#include "mock_buf.h"

#include <stdarg.h>
#include <string.h>

/* Records a failed append; 0 when the buffer may still be written. */
static int mock_buf_check(struct mock_buf *b, int rc) {
    if (rc != 0)
        b->failed = 1;
    return b->failed ? -1 : 0;
}

int mock_buf_reserve(struct mock_buf *b, size_t extra) {
    if (b->failed)
        return -1;
    return mock_buf_check(b, buf_reserve(&b->buf, extra));
}

void mock_buf_append(struct mock_buf *b, const void *p, size_t n) {
    if (n > 0 && !b->failed)
        mock_buf_check(b, buf_append(&b->buf, p, n));
}

void mock_buf_puts(struct mock_buf *b, const char *s) {
    mock_buf_append(b, s, strlen(s));
}

void mock_buf_printf(struct mock_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (!b->failed)
        mock_buf_check(b, buf_append_vprintf(&b->buf, fmt, ap));
    va_end(ap);
}

void mock_buf_json_str(struct mock_buf *b, const char *s, size_t n) {
    if (!b->failed)
        mock_buf_check(b, buf_append_json_string(&b->buf, s, n));
}

void mock_buf_reset(struct mock_buf *b, size_t keep) {
    buf_reset_keep(&b->buf, keep);
    b->failed = 0;
}

void mock_buf_free(struct mock_buf *b) {
    buf_free(&b->buf);
    b->failed = 0;
}
