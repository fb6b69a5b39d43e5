#include "term.h"

#include <string.h>

#include "util.h"

/* The length of the UTF-8 character at p (n bytes left), or 0 for a control or broken byte. */
static size_t term_char_len(const unsigned char *p, size_t n) {
    if (p[0] < 0x20 || p[0] == 0x7f || (p[0] == 0xC2 && n > 1 && p[1] < 0xA0))
        return 0; /* C0, DEL, and U+0080..U+009F, the C1 controls (U+009B is a CSI) */
    return util_utf8_len(p, n);
}

const char *term_safe(const char *s, char *buf, size_t size) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i, k = 0, need = 0;
    for (i = 0; i < n;) {
        size_t len = term_char_len(p + i, n - i);
        need += len ? len : TERM_SAFE_GROWTH;
        i += len ? len : 1;
    }
    /* When it does not all fit, room is kept for "..." and the NUL. */
    size_t room = need < size ? size - 1 : size - 4;
    for (i = 0; i < n;) {
        size_t len = term_char_len(p + i, n - i);
        size_t out = len ? len : TERM_SAFE_GROWTH;
        if (k + out > room) {
            memcpy(buf + k, "...", 3);
            k += 3;
            break;
        }
        if (len) {
            memcpy(buf + k, p + i, len);
            i += len;
        } else {
            buf[k] = '\\';
            buf[k + 1] = 'x';
            buf[k + 2] = hex[p[i] >> 4];
            buf[k + 3] = hex[p[i] & 15];
            i++;
        }
        k += out;
    }
    buf[k] = '\0';
    return buf;
}
