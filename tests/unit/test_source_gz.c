/* Unit tests for src/source_gz.c, gzip input (the source reading through it: test_source.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "gz_fixture.h"
#include "source.h"

static void test_magic(void **state) {
    (void)state;
    assert_int_equal(source_gz_magic("", 0), -1);
    assert_int_equal(source_gz_magic("\x1f", 1), -1);
    assert_int_equal(source_gz_magic("\x1f\x8b", 2), 1);
    assert_int_equal(source_gz_magic("\x1f\x8b\x08", 3), 1);
    assert_int_equal(source_gz_magic("{", 1), 0);
    assert_int_equal(source_gz_magic("\x1f{", 2), 0);
    assert_int_equal(source_gz_magic("\x8b\x1f", 2), 0);
}

/* Feeds the compressed bytes one at a time, as a slow pipe would, and inflates into a small
   window: the text comes out whole, across both members. */
static void test_byte_at_a_time(void **state) {
    (void)state;
    const char *a = "{\"custom_id\":\"a\",\"body\":{}}\n",
               *b = "{\"custom_id\":\"b\",\"body\":{}}\n";
    size_t len;
    unsigned char *data = gz_two(a, b, &len);
    struct source_gz *g;
    assert_int_equal(source_gz_new(&g, (const char *)data, 1), 0);
    char out[256], small[7];
    size_t made = 0;
    for (size_t i = 1; i <= len; i++) {
        size_t got;
        do {
            assert_int_equal(source_gz_inflate(g, small, sizeof(small), &got), 0);
            assert_true(made + got < sizeof(out));
            memcpy(out + made, small, got);
            made += got;
        } while (got > 0);
        assert_int_equal(source_gz_pending(g), 0);
        if (i == len)
            break;
        char *at;
        size_t room;
        source_gz_room(g, &at, &room);
        assert_true(room >= 1);
        *at = (char)data[i];
        source_gz_fill(g, 1);
    }
    assert_int_equal(made, strlen(a) + strlen(b));
    assert_memory_equal(out, a, strlen(a));
    assert_memory_equal(out + strlen(a), b, strlen(b));
    assert_int_equal(source_gz_end(g), 0);
    assert_null(source_gz_why(g));
    source_gz_free(g);
    free(data);
}

/* Cut anywhere inside a member, the end is an error; after a whole member it is not. */
static void test_cut_short(void **state) {
    (void)state;
    const char *text = "{\"custom_id\":\"a\",\"body\":{}}\n";
    size_t len;
    unsigned char *data = gz_of(text, strlen(text), &len);
    for (size_t cut = 2; cut <= len; cut++) {
        struct source_gz *g;
        char out[256];
        size_t got;
        assert_int_equal(source_gz_new(&g, (const char *)data, cut), 0);
        assert_int_equal(source_gz_inflate(g, out, sizeof(out), &got), 0);
        if (cut == len) {
            assert_int_equal(source_gz_end(g), 0);
        } else {
            assert_int_equal(source_gz_end(g), SLUICE_EPARSE);
            assert_string_equal(source_gz_why(g), "unexpected end of file");
        }
        source_gz_free(g);
    }
    free(data);
}

static void test_not_gzip_after_a_member(void **state) {
    (void)state;
    const char *text = "{}\n";
    size_t len;
    unsigned char *data = gz_of(text, strlen(text), &len);
    unsigned char *more = malloc(len + 4);
    assert_non_null(more);
    memcpy(more, data, len);
    memcpy(more + len, "junk", 4);
    struct source_gz *g;
    char out[64];
    size_t got, total = 0;
    assert_int_equal(source_gz_new(&g, (const char *)more, len + 4), 0);
    int rc;
    while ((rc = source_gz_inflate(g, out, sizeof(out), &got)) == 0 && got > 0)
        total += got;
    assert_int_equal(rc, SLUICE_EPARSE);
    assert_int_equal(total, 3);
    assert_non_null(source_gz_why(g));
    source_gz_free(g);
    free(more);
    free(data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_magic),
        cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_cut_short),
        cmocka_unit_test(test_not_gzip_after_a_member),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
