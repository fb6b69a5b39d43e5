#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"

void buf_init(struct buf *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_free(struct buf *b) {
    free(b->data);
    buf_init(b);
}

void buf_reset(struct buf *b) {
    b->len = 0;
    if (b->cap > 0)
        b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t extra) {
    if (extra > SIZE_MAX - 1 - b->len)
        return SLUICE_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    /* Doubling keeps appends amortised O(1); 64 bytes avoids a string of tiny reallocs. */
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return SLUICE_ENOMEM;
    b->data = p;
    b->cap = cap;
    b->data[b->len] = '\0';
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n) {
    if (buf_reserve(b, n) != 0)
        return SLUICE_ENOMEM;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_append_str(struct buf *b, const char *s) {
    return buf_append(b, s, strlen(s));
}

int buf_append_char(struct buf *b, char c) {
    return buf_append(b, &c, 1);
}

int buf_append_u64(struct buf *b, uint64_t v) {
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    return buf_append(b, tmp + i, sizeof tmp - i);
}

int buf_append_vprintf(struct buf *b, const char *fmt, va_list ap) {
    va_list again;
    va_copy(again, ap);
    int rc = SLUICE_ENOMEM;
    if (buf_reserve(b, 256) != 0)
        goto done;
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    if (n < 0)
        goto done;
    if ((size_t)n >= b->cap - b->len) {
        if (buf_reserve(b, (size_t)n) != 0)
            goto done;
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, again);
    }
    b->len += (size_t)n;
    rc = 0;
done:
    va_end(again);
    if (rc != 0 && b->cap > 0)
        b->data[b->len] = '\0';
    return rc;
}

int buf_append_printf(struct buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_append_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void buf_reset_keep(struct buf *b, size_t keep) {
    if (b->cap > keep)
        buf_free(b);
    else
        buf_reset(b);
}

size_t util_utf8_len(const unsigned char *p, size_t n) {
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

int buf_append_json_string(struct buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t old = b->len;
    /* Most strings need no escaping: reserve once for that case. */
    if (buf_reserve(b, n + 2) != 0)
        return SLUICE_ENOMEM;
    b->data[b->len++] = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
            run++;
        if (run > i && buf_append(b, s + i, run - i) != 0)
            goto fail;
        i = run;
        if (i >= n)
            break;
        unsigned char c = p[i];
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t esc_len = 2;
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
        } else if (c < 0x20) {
            const char *shortform = c == '\b'   ? "b"
                                    : c == '\f' ? "f"
                                    : c == '\n' ? "n"
                                    : c == '\r' ? "r"
                                    : c == '\t' ? "t"
                                                : NULL;
            if (shortform != NULL) {
                esc[1] = shortform[0];
            } else {
                memcpy(esc + 1, "u00", 3);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                esc_len = 6;
            }
        } else {
            size_t ul = util_utf8_len(p + i, n - i);
            if (ul == 0) {
                if (buf_append(b, "\xEF\xBF\xBD", 3) != 0)
                    goto fail;
                i++;
            } else {
                if (buf_append(b, s + i, ul) != 0)
                    goto fail;
                i += ul;
            }
            continue;
        }
        if (buf_append(b, esc, esc_len) != 0)
            goto fail;
        i++;
    }
    if (buf_append_char(b, '"') != 0)
        goto fail;
    return 0;
fail:
    b->len = old;
    b->data[old] = '\0';
    return SLUICE_ENOMEM;
}

size_t util_json_string_size(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t size = 2, i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x80) {
            size += c == '"' || c == '\\' ? 2 : 1;
            i++;
        } else if (c < 0x20) {
            size += c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t' ? 2 : 6;
            i++;
        } else {
            size_t ul = util_utf8_len(p + i, n - i);
            size += ul ? ul : 3; /* an invalid byte becomes U+FFFD */
            i += ul ? ul : 1;
        }
    }
    return size;
}

/* ---- strict JSON scanning ---- */

void util_json_skip_ws(const char *s, size_t len, size_t *pos) {
    size_t i = *pos;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    *pos = i;
}

static int util_is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int util_is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* The error for the byte at `i` that is not what the grammar wants there. */
static int util_json_bad(size_t len, size_t i) {
    return i >= len ? UTIL_JSON_EEND : UTIL_JSON_EUNEXPECTED;
}

/* Printable ASCII other than '"' and '\\': the bytes a string can hold with no further check. */
static const unsigned char util_plain[256] = {
    ['\x20'] = 1, ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['('] = 1,
    [')'] = 1,    ['*'] = 1, ['+'] = 1, [','] = 1, ['-'] = 1, ['.'] = 1, ['/'] = 1,  ['0'] = 1,
    ['1'] = 1,    ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,  ['8'] = 1,
    ['9'] = 1,    [':'] = 1, [';'] = 1, ['<'] = 1, ['='] = 1, ['>'] = 1, ['?'] = 1,  ['@'] = 1,
    ['A'] = 1,    ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,  ['H'] = 1,
    ['I'] = 1,    ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1,  ['P'] = 1,
    ['Q'] = 1,    ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1,  ['X'] = 1,
    ['Y'] = 1,    ['Z'] = 1, ['['] = 1, [']'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1,  ['a'] = 1,
    ['b'] = 1,    ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,  ['i'] = 1,
    ['j'] = 1,    ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,  ['q'] = 1,
    ['r'] = 1,    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,  ['y'] = 1,
    ['z'] = 1,    ['{'] = 1, ['|'] = 1, ['}'] = 1, ['~'] = 1,
};

static int util_json_scan_string(const char *s, size_t len, size_t *pos) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = *pos + 1;
    int err;
    for (;;) {
        /* The common case, plain ASCII text, four bytes a step with one table look-up each;
           anything else falls through to the full checks below. */
        while (i + 4 <= len && util_plain[p[i]] && util_plain[p[i + 1]] && util_plain[p[i + 2]] &&
               util_plain[p[i + 3]])
            i += 4;
        while (i < len && util_plain[p[i]])
            i++;
        if (i >= len) {
            err = UTIL_JSON_EEND;
            goto fail;
        }
        unsigned char c = p[i];
        if (c == '"') {
            *pos = i + 1;
            return 0;
        }
        if (c == '\\') {
            i++;
            if (i >= len) {
                err = UTIL_JSON_EEND;
                goto fail;
            }
            if (s[i] == 'u') {
                for (int k = 1; k <= 4; k++) {
                    if (i + k >= len || !util_is_hex(s[i + k])) {
                        i += k;
                        err = util_json_bad(len, i);
                        goto fail;
                    }
                }
                i += 5;
            } else if (strchr("\"\\/bfnrt", s[i]) != NULL && s[i] != '\0') {
                i++;
            } else {
                err = UTIL_JSON_EUNEXPECTED;
                goto fail;
            }
        } else if (c < 0x20) {
            err = UTIL_JSON_EUNEXPECTED;
            goto fail;
        } else if (c < 0x80) {
            i++;
        } else {
            size_t ul = util_utf8_len(p + i, len - i);
            if (ul == 0) {
                err = UTIL_JSON_EUTF8;
                goto fail;
            }
            i += ul;
        }
    }
fail:
    *pos = i;
    return err;
}

static int util_json_scan_number(const char *s, size_t len, size_t *pos) {
    size_t i = *pos;
    if (s[i] == '-')
        i++;
    if (i < len && s[i] == '0') {
        i++;
    } else if (i < len && util_is_digit(s[i])) {
        while (i < len && util_is_digit(s[i]))
            i++;
    } else {
        goto fail;
    }
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || !util_is_digit(s[i]))
            goto fail;
        while (i < len && util_is_digit(s[i]))
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= len || !util_is_digit(s[i]))
            goto fail;
        while (i < len && util_is_digit(s[i]))
            i++;
    }
    *pos = i;
    return 0;
fail:
    *pos = i;
    return util_json_bad(len, i);
}

static int util_json_scan_literal(const char *s, size_t len, size_t *pos, const char *word) {
    size_t i = *pos;
    for (; *word != '\0'; word++, i++) {
        if (i >= len || s[i] != *word) {
            *pos = i;
            return util_json_bad(len, i);
        }
    }
    *pos = i;
    return 0;
}

static int util_json_scan_value(const char *s, size_t len, size_t *pos, int levels);

/* An array or object at s[*pos]; `close` is ']' or '}'; `levels` is how many containers may
   still nest, this one included. An object's members are reported to fn (when not NULL) as
   each value is found valid. */
static int util_json_scan_container(const char *s, size_t len, size_t *pos, int levels, char close,
                                    util_json_member_cb fn, void *ud) {
    size_t i = *pos;
    int err;
    if (levels <= 0) {
        err = UTIL_JSON_EDEPTH;
        goto fail;
    }
    i++;
    util_json_skip_ws(s, len, &i);
    if (i < len && s[i] == close) {
        *pos = i + 1;
        return 0;
    }
    for (;;) {
        size_t k = i;
        if (close == '}') {
            if (i >= len || s[i] != '"') {
                err = util_json_bad(len, i);
                goto fail;
            }
            if ((err = util_json_scan_string(s, len, &i)) != 0)
                goto fail;
            size_t k_end = i;
            util_json_skip_ws(s, len, &i);
            if (i >= len || s[i] != ':') {
                err = util_json_bad(len, i);
                goto fail;
            }
            i++;
            if (fn) {
                util_json_skip_ws(s, len, &i);
                size_t v = i;
                if ((err = util_json_scan_value(s, len, &i, levels - 1)) != 0)
                    goto fail;
                fn(&(struct util_span){s + k, k_end - k}, &(struct util_span){s + v, i - v}, ud);
                goto next;
            }
        }
        if ((err = util_json_scan_value(s, len, &i, levels - 1)) != 0)
            goto fail;
    next:
        util_json_skip_ws(s, len, &i);
        if (i < len && s[i] == ',') {
            i++;
            util_json_skip_ws(s, len, &i);
            continue;
        }
        if (i < len && s[i] == close) {
            *pos = i + 1;
            return 0;
        }
        err = util_json_bad(len, i);
        goto fail;
    }
fail:
    *pos = i;
    return err;
}

static int util_json_scan_value(const char *s, size_t len, size_t *pos, int levels) {
    util_json_skip_ws(s, len, pos);
    if (*pos >= len)
        return UTIL_JSON_EEND;
    switch (s[*pos]) {
    case '{':
        return util_json_scan_container(s, len, pos, levels, '}', NULL, NULL);
    case '[':
        return util_json_scan_container(s, len, pos, levels, ']', NULL, NULL);
    case '"':
        return util_json_scan_string(s, len, pos);
    case 't':
        return util_json_scan_literal(s, len, pos, "true");
    case 'f':
        return util_json_scan_literal(s, len, pos, "false");
    case 'n':
        return util_json_scan_literal(s, len, pos, "null");
    default:
        if (s[*pos] == '-' || util_is_digit(s[*pos]))
            return util_json_scan_number(s, len, pos);
        return UTIL_JSON_EUNEXPECTED;
    }
}

int util_json_scan(const char *s, size_t len, size_t *pos) {
    return util_json_scan_value(s, len, pos, UTIL_JSON_MAX_DEPTH);
}

/* Past the string token whose opening quote is at s[i]. The text is valid: the closing quote
   is the first one not escaped by an odd run of backslashes. */
static size_t util_json_skip_string(const char *s, size_t len, size_t i) {
    i++;
    for (;;) {
        const char *q = memchr(s + i, '"', len - i);
        if (!q)
            return len;
        size_t j = (size_t)(q - s), b = j;
        while (b > i && s[b - 1] == '\\')
            b--;
        i = j + 1;
        if (((j - b) & 1) == 0)
            return i;
    }
}

void util_json_skip(const char *s, size_t len, size_t *pos) {
    size_t i = *pos;
    int depth = 0;
    do {
        if (i >= len)
            break;
        switch (s[i]) {
        case '"':
            i = util_json_skip_string(s, len, i);
            break;
        case '{':
        case '[':
            depth++;
            i++;
            break;
        case '}':
        case ']':
            depth--;
            i++;
            break;
        case ',':
        case ':':
        case ' ':
        case '\t':
        case '\r':
        case '\n':
            i++;
            break;
        default: /* a number or a literal */
            while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
                   s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
                i++;
        }
    } while (depth > 0);
    *pos = i;
}

int util_json_members(const char *s, size_t len, size_t *pos) {
    util_json_skip_ws(s, len, pos);
    if (*pos >= len || s[*pos] != '{')
        return -1;
    (*pos)++;
    return 0;
}

int util_json_member(const char *s, size_t len, size_t *pos, struct util_span *key,
                     struct util_span *val) {
    size_t i = *pos;
    util_json_skip_ws(s, len, &i);
    if (i < len && s[i] == ',') {
        i++;
        util_json_skip_ws(s, len, &i);
    }
    if (i >= len || s[i] != '"') {
        *pos = i < len ? i + 1 : len; /* past the '}' */
        return 0;
    }
    size_t k = i;
    i = util_json_skip_string(s, len, i);
    *key = (struct util_span){s + k, i - k};
    util_json_skip_ws(s, len, &i);
    i++; /* ':' */
    util_json_skip_ws(s, len, &i);
    size_t v = i;
    util_json_skip(s, len, &i);
    *val = (struct util_span){s + v, i - v};
    *pos = i;
    return 1;
}

static unsigned util_hex4(const char *p) {
    unsigned v = 0;
    for (int d = 0; d < 4; d++) {
        char c = p[d];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

size_t util_json_unescape(const char *raw, size_t n, char *out) {
    size_t i = 1, end = n - 1, o = 0;
    while (i < end) {
        const char *bs = memchr(raw + i, '\\', end - i);
        size_t plain = bs ? (size_t)(bs - raw) - i : end - i;
        if (out)
            memcpy(out + o, raw + i, plain);
        o += plain;
        i += plain;
        if (!bs)
            break;
        char e = raw[i + 1];
        i += 2;
        if (e != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            if (out)
                out[o] = to[strchr(from, e) - from];
            o++;
            continue;
        }
        unsigned c = util_hex4(raw + i);
        i += 4;
        if (c >= 0xD800 && c < 0xDC00 && i + 6 <= end && raw[i] == '\\' && raw[i + 1] == 'u') {
            unsigned lo = util_hex4(raw + i + 2);
            if (lo >= 0xDC00 && lo < 0xE000) {
                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
        }
        if (c >= 0xD800 && c < 0xE000)
            c = 0xFFFD;
        char u[4];
        size_t ul;
        if (c < 0x80) {
            u[0] = (char)c;
            ul = 1;
        } else if (c < 0x800) {
            u[0] = (char)(0xC0 | (c >> 6));
            u[1] = (char)(0x80 | (c & 0x3F));
            ul = 2;
        } else if (c < 0x10000) {
            u[0] = (char)(0xE0 | (c >> 12));
            u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
            u[2] = (char)(0x80 | (c & 0x3F));
            ul = 3;
        } else {
            u[0] = (char)(0xF0 | (c >> 18));
            u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
            u[2] = (char)(0x80 | ((c >> 6) & 0x3F));
            u[3] = (char)(0x80 | (c & 0x3F));
            ul = 4;
        }
        if (out)
            memcpy(out + o, u, ul);
        o += ul;
    }
    return o;
}

int util_json_validate(const char *s, size_t len, size_t *err_pos) {
    return util_json_validate_members(s, len, err_pos, NULL, NULL);
}

int util_json_validate_members(const char *s, size_t len, size_t *err_pos, util_json_member_cb fn,
                               void *ud) {
    return util_json_validate_members_depth(s, len, UTIL_JSON_MAX_DEPTH, err_pos, fn, ud);
}

int util_json_validate_members_depth(const char *s, size_t len, int max_depth, size_t *err_pos,
                                     util_json_member_cb fn, void *ud) {
    size_t pos = 0;
    int err;
    util_json_skip_ws(s, len, &pos);
    if (fn && pos < len && s[pos] == '{')
        err = util_json_scan_container(s, len, &pos, max_depth, '}', fn, ud);
    else
        err = util_json_scan_value(s, len, &pos, max_depth);
    if (err == 0) {
        util_json_skip_ws(s, len, &pos);
        if (pos < len)
            err = UTIL_JSON_ETRAILING;
    }
    if (err_pos != NULL)
        *err_pos = pos;
    return err;
}

const char *util_json_strerror(int err) {
    switch (err) {
    case UTIL_JSON_OK:
        return "valid";
    case UTIL_JSON_EUNEXPECTED:
        return "unexpected character";
    case UTIL_JSON_EEND:
        return "unexpected end";
    case UTIL_JSON_EUTF8:
        return "invalid UTF-8";
    case UTIL_JSON_EDEPTH:
        return "nested too deep";
    case UTIL_JSON_ETRAILING:
        return "text after the value";
    default:
        return "unknown error";
    }
}

/* See util.h. */
struct util_span util_json_key_text(const struct util_span *k, char *buf) {
    if (!memchr(k->p, '\\', k->n))
        return (struct util_span){k->p + 1, k->n - 2};
    if (util_json_unescape(k->p, k->n, NULL) > UTIL_JSON_KEY_MAX)
        return (struct util_span){buf, 0};
    return (struct util_span){buf, util_json_unescape(k->p, k->n, buf)};
}

int util_json_key_is(struct util_span t, const char *want, size_t wl) {
    return t.n == wl && memcmp(t.p, want, wl) == 0;
}

/* See util.h. */
struct util_span util_json_find(struct util_span v, const char *key) {
    struct util_span k, val, found = {NULL, 0};
    size_t pos = 0;
    if (!v.p || util_json_members(v.p, v.n, &pos) < 0)
        return found;
    size_t kl = strlen(key);
    char buf[UTIL_JSON_KEY_MAX];
    while (util_json_member(v.p, v.n, &pos, &k, &val))
        if (util_json_key_is(util_json_key_text(&k, buf), key, kl))
            found = val;
    return found;
}
