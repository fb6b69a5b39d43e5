/* gzip data for unit tests, made with zlib's deflate (what gzip(1) writes). */
#ifndef SLUICE_TEST_GZ_FIXTURE_H
#define SLUICE_TEST_GZ_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

/* gzip of text[0..n) into a malloc'd buffer (*out_len bytes). */
static unsigned char *gz_of(const char *text, size_t n, size_t *out_len) {
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)n);
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    z.next_in = (unsigned char *)text;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* Two members, one after the other: what `cat a.gz b.gz` makes. */
static unsigned char *gz_two(const char *a, const char *b, size_t *len) {
    size_t la, lb;
    unsigned char *ga = gz_of(a, strlen(a), &la);
    unsigned char *gb = gz_of(b, strlen(b), &lb);
    unsigned char *both = malloc(la + lb);
    assert_non_null(both);
    memcpy(both, ga, la);
    memcpy(both + la, gb, lb);
    free(ga);
    free(gb);
    *len = la + lb;
    return both;
}

#endif
