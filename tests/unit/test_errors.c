/* The error map (SLUICE_ERRNO_MAP) and the version macros of include/sluice.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sluice.h"

/* Every code is negative and distinct, with a name and words of its own. */
static void test_map_codes_names_words(void **state) {
    (void)state;
    static const struct {
        int code;
        const char *name, *words;
    } map[] = {
#define SLUICE_XX(name, code, words) {code, #name, words},
        SLUICE_ERRNO_MAP(SLUICE_XX)
#undef SLUICE_XX
    };
    size_t n = sizeof(map) / sizeof(map[0]);
    assert_true(n >= 10);
    for (size_t i = 0; i < n; i++) {
        assert_true(map[i].code < 0);
        assert_string_equal(sluice_err_name(map[i].code), map[i].name);
        assert_string_equal(sluice_strerror(map[i].code), map[i].words);
        assert_string_not_equal(sluice_strerror(map[i].code), "unknown error");
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(map[i].code, map[j].code);
            assert_string_not_equal(map[i].name, map[j].name);
            assert_string_not_equal(map[i].words, map[j].words);
        }
    }
}

/* The codes callers test against keep their values (they are part of the ABI). */
static void test_codes_are_stable(void **state) {
    (void)state;
    assert_int_equal(SLUICE_OK, 0);
    assert_int_equal(SLUICE_ENOMEM, -1);
    assert_int_equal(SLUICE_EINVAL, -2);
    assert_int_equal(SLUICE_ESTOPPED, -6);
    assert_int_equal(SLUICE_EOF, -7);
    assert_int_equal(SLUICE_EAGAIN, -8);
    assert_int_equal(SLUICE_EPARSE, -10);
    assert_string_equal(sluice_err_name(SLUICE_EAGAIN), "EAGAIN");
    assert_string_equal(sluice_err_name(SLUICE_OK), "OK");
    assert_string_equal(sluice_err_name(-999), "UNKNOWN");
    assert_string_equal(sluice_err_name(7), "UNKNOWN");
    assert_string_equal(sluice_strerror(SLUICE_OK), "success");
    assert_string_equal(sluice_strerror(-999), "unknown error");
}

/* The library speaks of its own terms, not the command's flags. */
static void test_words_name_no_flags(void **state) {
    (void)state;
#define SLUICE_XX(name, code, words) assert_null(strstr(words, "--"));
    SLUICE_ERRNO_MAP(SLUICE_XX)
#undef SLUICE_XX
}

/* The macros, the string and the library agree. */
static void test_version(void **state) {
    (void)state;
    char v[32];
    snprintf(v, sizeof(v), "%d.%d.%d", SLUICE_VERSION_MAJOR, SLUICE_VERSION_MINOR,
             SLUICE_VERSION_PATCH);
    assert_string_equal(v, SLUICE_VERSION_STRING);
    assert_string_equal(sluice_version(), SLUICE_VERSION_STRING);
    assert_int_equal(SLUICE_VERSION_HEX >> 16, SLUICE_VERSION_MAJOR);
    assert_int_equal((SLUICE_VERSION_HEX >> 8) & 0xff, SLUICE_VERSION_MINOR);
    assert_int_equal(SLUICE_VERSION_HEX & 0xff, SLUICE_VERSION_PATCH);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_codes_names_words),
        cmocka_unit_test(test_codes_are_stable),
        cmocka_unit_test(test_words_name_no_flags),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
