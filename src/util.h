#ifndef SLUICE_UTIL_H
#define SLUICE_UTIL_H

/*
 * The one copy of the small utilities that src/, cli/ and mock/ all use (as curl's lib/curlx/):
 * a growable byte buffer, JSON string escaping into it, a strict JSON validator that works on
 * raw bytes (so raw text can be passed on without re-serialising it), hashes and a seeded
 * PRNG. They are built as their own library (sluiceutil) linked into each program, and depend
 * on nothing but libc: the mock shares these and none of the engine's logic.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A growable byte buffer. data is NUL-terminated past len whenever cap > 0, so a buffer that
 * holds text can be used as a C string. A zeroed struct is a valid empty buffer.
 */
struct buf {
    char *data;
    size_t len;
    size_t cap;
};

void buf_init(struct buf *b);
/* Frees the memory and leaves an empty buffer. */
void buf_free(struct buf *b);
/* len = 0; keeps the memory for reuse. */
void buf_reset(struct buf *b);
/* Makes room for `extra` more bytes (plus the NUL). Returns 0 or SLUICE_ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
/* The appenders return 0 or SLUICE_ENOMEM; on failure the buffer is unchanged. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
/* buf_append() of a string literal, whose length the compiler knows. */
#define buf_append_lit(b, lit) buf_append((b), (lit), sizeof(lit) - 1)
int buf_append_char(struct buf *b, char c);
/* Decimal digits of v. */
int buf_append_u64(struct buf *b, uint64_t v);
/* printf() onto the end of the buffer; on failure the buffer holds what it held. */
int buf_append_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_append_vprintf(struct buf *b, const char *fmt, va_list ap);
/* buf_reset() that also gives the memory back when the buffer grew beyond `keep` bytes. */
void buf_reset_keep(struct buf *b, size_t keep);
/*
 * Length of the valid UTF-8 sequence at p[0..n) (n > 0), or 0 when it is not one: overlong
 * forms, surrogates (U+D800..DFFF) and code points above U+10FFFF are invalid (RFC 3629 §4).
 */
size_t util_utf8_len(const unsigned char *p, size_t n);
/*
 * Appends s[0..n) as a quoted JSON string: quotes, backslashes and control characters are
 * escaped (\n, \t, ... or \u00XX) and each byte that is not part of valid UTF-8 becomes U+FFFD,
 * so the output is always valid JSON whatever the input bytes.
 */
int buf_append_json_string(struct buf *b, const char *s, size_t n);
/* The bytes buf_append_json_string() appends for s[0..n), quotes included. */
size_t util_json_string_size(const char *s, size_t n);

/* Errors of util_json_scan() / util_json_validate(). */
enum util_json_err {
    UTIL_JSON_OK = 0,
    UTIL_JSON_EUNEXPECTED, /* a character that cannot start or continue a value here */
    UTIL_JSON_EEND,        /* the text ended inside a value */
    UTIL_JSON_EUTF8,       /* a string holds bytes that are not valid UTF-8 */
    UTIL_JSON_EDEPTH,      /* arrays/objects nested deeper than UTIL_JSON_MAX_DEPTH */
    UTIL_JSON_ETRAILING    /* something other than whitespace after the value */
};

/* Deep enough for any real request or response (JSON schemas included), shallow enough that
 * the recursive scanner cannot exhaust the stack. */
#define UTIL_JSON_MAX_DEPTH 128

/*
 * Strict RFC 8259 check of one value starting at s[*pos] (leading whitespace allowed): no
 * single quotes, NaN, comments, trailing commas, leading zeros or raw control characters in
 * strings; strings must be valid UTF-8. On success *pos is just past the value; on failure it
 * is the offset of the offending byte (len when the text ended early). Returns a util_json_err.
 */
int util_json_scan(const char *s, size_t len, size_t *pos);
/* util_json_scan() of s[0..len) that must hold exactly one value, with whitespace around. */
int util_json_validate(const char *s, size_t len, size_t *err_pos);

struct util_span {
    const char *p;
    size_t n;
};

/* A member of an object: the key's raw token (quotes included) and the value's raw text. */
typedef void (*util_json_member_cb)(const struct util_span *key, const struct util_span *val,
                                    void *ud);

/*
 * util_json_validate() that also hands over the members of the value when it is an object,
 * from the same pass (so a caller that wants a few members reads the text once, not twice):
 * fn is called for each top-level member, in order, as soon as its value has been checked.
 * The value is valid JSON when fn sees it, but the whole text may still fail further on: use
 * what fn collected only when 0 is returned. fn is not called for other values.
 */
int util_json_validate_members(const char *s, size_t len, size_t *err_pos, util_json_member_cb fn,
                               void *ud);
/* The same with nesting allowed max_depth deep instead of UTIL_JSON_MAX_DEPTH: for text that
   wraps values checked at that depth in further levels (a result line around its body). */
int util_json_validate_members_depth(const char *s, size_t len, int max_depth, size_t *err_pos,
                                     util_json_member_cb fn, void *ud);
/* Advances *pos past JSON whitespace (space, tab, CR, LF). */
void util_json_skip_ws(const char *s, size_t len, size_t *pos);
/* Words for a util_json_err: "unexpected character", ... */
const char *util_json_strerror(int err);

/*
 * Walking text that util_json_scan() has already accepted, without checking it again (a
 * fraction of the cost: strings are skipped with memchr, nothing is decoded).
 *   util_json_skip(): *pos from the start of a value (no leading whitespace) to just past it.
 *   util_json_members(): the object at s[*pos] (leading whitespace allowed): *pos past its
 *     '{'. Returns 0, or -1 when it is not an object.
 *   util_json_member(): the next member: *key is the key's raw token (quotes included), *val
 *     the value's raw text; returns 1, or 0 after the last (then *pos is past the '}').
 */
void util_json_skip(const char *s, size_t len, size_t *pos);
int util_json_members(const char *s, size_t len, size_t *pos);
int util_json_member(const char *s, size_t len, size_t *pos, struct util_span *key,
                     struct util_span *val);

/*
 * Decodes the JSON string token raw[0..n) (quotes included, already accepted by the scanner)
 * into out, which has room for n bytes (decoding never grows a string); returns the decoded
 * length. A NULL out only counts. \u0000 becomes a NUL byte; a lone surrogate becomes U+FFFD.
 */
size_t util_json_unescape(const char *raw, size_t n, char *out);

/* ---- hashes and the PRNG (util_hash.c) ---- */

/*
 * A 64-bit hash of n bytes with good avalanche (every input bit flips about half the output
 * bits), the same on every platform. Not cryptographic: don't use it against an adversary.
 * Result ids are made from it, so what it computes must never change.
 */
uint64_t util_hash64(const void *p, size_t n);
/* The splitmix64 finalizer: a bijection of 64-bit words with full avalanche. */
uint64_t util_mix64(uint64_t z);
/* FNV-1a, 64 bits, with the standard offset basis 14695981039346656037. */
uint64_t util_fnv1a64(const void *p, size_t n);
/*
 * FNV-1a, 64 bits, from the offset basis 1469598103934665603: the standard one with its last
 * digit missing. Not FNV-1a as published, but the Redis limit key of a distributed run
 * ("<url>#<hash of the API key>") is named with it, so workers of every version must keep
 * computing it to find the same key. Use util_fnv1a64() for anything new.
 */
uint64_t util_fnv1a64_short_basis(const void *p, size_t n);

/*
 * A seeded PRNG (splitmix64): the engine has one per run, the mock one per server, so a run
 * with a fixed seed can be replayed. A zeroed struct is seed 0.
 */
struct rng {
    uint64_t s;
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, 1): 53 random bits, so 1.0 is never returned and a rate of 1 always hits. */
double rng_uniform(struct rng *r);

/* The most bytes util_json_key_text() decodes a key with escapes into: longer keys match no
   name. */
#define UTIL_JSON_KEY_MAX 32

/*
 * The text of a key token (quotes included, already validated), decoded once for all the
 * names it is compared with: in place when it has no escapes ("bo\\u0064y" is "body", decoded
 * into buf, of UTIL_JSON_KEY_MAX bytes). A key that decodes to more is returned empty.
 */
struct util_span util_json_key_text(const struct util_span *k, char *buf);

/* 1 when a key's text (util_json_key_text) is want[0..wl). */
int util_json_key_is(struct util_span t, const char *want, size_t wl);
/* util_json_key_is() against a string literal. */
#define UTIL_JSON_KEY_IS(t, lit) util_json_key_is((t), (lit), sizeof(lit) - 1)

/* The value of member `key` of the JSON object v (the last one when repeated); p NULL when
   there is none or v is not an object. */
struct util_span util_json_find(struct util_span v, const char *key);

#endif
