/*
 * The strict JSON scanner and the escaper (src/util.c). For any bytes:
 *   - util_json_validate() and util_json_validate_members() agree, and the error offset lies
 *     within the text;
 *   - json-c (strict mode, as deep) accepts every text the scanner accepts, and where json-c
 *     accepts what the scanner refuses, the reason is one of json-c's known laxities (NaN,
 *     Infinity, leading zeros, "1.", raw control bytes in strings, keys in single quotes, its
 *     looser UTF-8);
 *   - on accepted text, the walks that check nothing again (util_json_skip, util_json_members,
 *     util_json_member) find the value's end and the same members as the scanner's callback;
 *   - buf_append_json_string() makes one valid JSON string, which decodes back to the same
 *     bytes, each byte that is not part of valid UTF-8 replaced by U+FFFD.
 */
#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "util.h"

#define MAX_MEMBERS 64

struct members {
    struct util_span key[MAX_MEMBERS], val[MAX_MEMBERS];
    size_t n; /* all members, even past MAX_MEMBERS */
};

static void on_member(const struct util_span *key, const struct util_span *val, void *ud) {
    struct members *m = ud;
    if (m->n < MAX_MEMBERS) {
        m->key[m->n] = *key;
        m->val[m->n] = *val;
    }
    m->n++;
}

static int is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* 1 when json-c accepts s[0..n) as one value with only white space after it. */
static int json_c_accepts(const char *s, size_t n) {
    char *z = malloc(n + 1);
    FUZZ_CHECK(z != NULL, "out of memory");
    memcpy(z, s, n);
    z[n] = '\0'; /* json-c ends a number or a literal at a NUL */
    json_tokener *tok = json_tokener_new_ex(UTIL_JSON_MAX_DEPTH + 1);
    FUZZ_CHECK(tok != NULL, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, z, (int)n + 1);
    int ok = json_tokener_get_error(tok) == json_tokener_success;
    size_t end = json_tokener_get_parse_end(tok);
    while (ok && end < n && is_ws(s[end]))
        end++;
    ok = ok && end == n;
    json_object_put(o);
    json_tokener_free(tok);
    free(z);
    return ok;
}

/* Why json-c may accept what the strict scanner refused with err at pos: its laxities. */
static int json_c_laxity(const char *s, size_t n, int err, size_t pos) {
    if (err == UTIL_JSON_EUTF8 || err == UTIL_JSON_EDEPTH)
        return 1; /* json-c takes surrogates, overlong forms and code points past U+10FFFF */
    if (pos < n && (unsigned char)s[pos] < 0x20)
        return 1; /* a raw control byte in a string */
    if (pos < n && s[pos] == '\'')
        return 1; /* a key in single quotes: {'a':1} */
    /* a number or a literal json-c reads loosely (NaN, Infinity, -01, 1., 1.e5): the token at
       pos starts like one */
    size_t b = pos < n ? pos : n;
    while (b > 0 && s[b - 1] != '\0' && !is_ws(s[b - 1]) && !strchr(",:[]{}\"", s[b - 1]))
        b--;
    return b < n && s[b] != '\0' && strchr("-0123456789NI", s[b]) != NULL;
}

/* Bytes of s[0..n) that start no valid UTF-8 sequence (RFC 3629), counted as the escaper
   replaces them: one at a time. Written apart from src/util.c's table, as an oracle. */
static size_t utf8_invalid_bytes(const unsigned char *s, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : c >> 5 == 6 ? 2 : c >> 4 == 14 ? 3 : c >> 3 == 30 ? 4 : 0;
        uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
        size_t k = 1;
        for (; len > 1 && k < len && i + k < n && (s[i + k] & 0xc0) == 0x80; k++)
            cp = cp << 6 | (s[i + k] & 0x3f);
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (len == 0 || k < len || cp < min_cp[len] || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            bad++;
            i++;
        } else {
            i += len;
        }
    }
    return bad;
}

static void check_walks(const char *s, size_t n) {
    size_t first = 0, end = n;
    util_json_skip_ws(s, n, &first);
    while (end > first && is_ws(s[end - 1]))
        end--;
    size_t pos = first;
    util_json_skip(s, n, &pos);
    FUZZ_CHECK(pos == end, "util_json_skip ended at %zu, the value at %zu", pos, end);
    if (s[first] != '{')
        return;
    struct members m = {.n = 0};
    FUZZ_CHECK(util_json_validate_members(s, n, NULL, on_member, &m) == UTIL_JSON_OK, "members");
    pos = 0;
    FUZZ_CHECK(util_json_members(s, n, &pos) == 0, "util_json_members on an object");
    struct util_span key, val;
    size_t i = 0;
    for (; util_json_member(s, n, &pos, &key, &val) == 1; i++) {
        if (i >= MAX_MEMBERS)
            continue;
        FUZZ_CHECK(key.p == m.key[i].p && key.n == m.key[i].n, "member %zu: key differs", i);
        FUZZ_CHECK(val.p == m.val[i].p && val.n == m.val[i].n, "member %zu: value differs", i);
        FUZZ_CHECK(util_json_validate(val.p, val.n, NULL) == UTIL_JSON_OK, "member %zu", i);
        char *dec = malloc(key.n);
        FUZZ_CHECK(dec != NULL, "out of memory");
        size_t dn = util_json_unescape(key.p, key.n, dec);
        FUZZ_CHECK(dn == util_json_unescape(key.p, key.n, NULL) && dn <= key.n, "key %zu", i);
        free(dec);
    }
    FUZZ_CHECK(i == m.n, "the walk found %zu members, the scanner %zu", i, m.n);
    FUZZ_CHECK(pos == end, "the member walk ended at %zu, the object at %zu", pos, end);
}

static void check_escape(const char *s, size_t n) {
    struct buf b;
    buf_init(&b);
    FUZZ_CHECK(buf_append_json_string(&b, s, n) == 0, "out of memory");
    size_t err_pos;
    int err = util_json_validate(b.data, b.len, &err_pos);
    FUZZ_CHECK(err == UTIL_JSON_OK, "escaped text is not JSON: %s at %zu", util_json_strerror(err),
               err_pos);
    FUZZ_CHECK(b.len >= 2 && b.data[0] == '"', "escaped text is not one string");
    char *dec = malloc(b.len);
    FUZZ_CHECK(dec != NULL, "out of memory");
    size_t dn = util_json_unescape(b.data, b.len, dec);
    size_t bad = utf8_invalid_bytes((const unsigned char *)s, n);
    FUZZ_CHECK(dn == n + 2 * bad, "decoded %zu bytes of %zu (%zu not UTF-8)", dn, n, bad);
    FUZZ_CHECK(bad > 0 || memcmp(dec, s, n) == 0, "valid UTF-8 did not decode to itself");
    free(dec);
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    size_t pos = 0, pos_m = 0;
    struct members m = {.n = 0};
    int err = util_json_validate(s, size, &pos);
    int err_m = util_json_validate_members(s, size, &pos_m, on_member, &m);
    FUZZ_CHECK(err == err_m && pos == pos_m, "validate: %d at %zu, with members: %d at %zu", err,
               pos, err_m, pos_m);
    FUZZ_CHECK(pos <= size, "error offset %zu past the end (%zu)", pos, size);
    int jc = json_c_accepts(s, size);
    if (err == UTIL_JSON_OK) {
        FUZZ_CHECK(jc, "json-c refuses what the scanner accepts");
        check_walks(s, size);
    } else {
        FUZZ_CHECK(!jc || json_c_laxity(s, size, err, pos),
                   "json-c accepts, the scanner refuses (%s at %zu)", util_json_strerror(err), pos);
    }
    check_escape(s, size);
    return 0;
}
