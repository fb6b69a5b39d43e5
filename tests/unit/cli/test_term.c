/* term_safe(): what input-derived text looks like once it is safe for a terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "term.h"

static const char *safe(const char *s) {
    static char buf[256];
    return term_safe(s, buf, sizeof(buf));
}

static void test_controls_are_escaped(void **state) {
    (void)state;
    assert_string_equal(safe("plain id-17 {\"x\"} \\ ok"), "plain id-17 {\"x\"} \\ ok");
    assert_string_equal(safe("a\x1b[31mred\x1b[0m"), "a\\x1b[31mred\\x1b[0m");
    assert_string_equal(safe("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
    assert_string_equal(safe("tab\tnl\ncr\rdel\x7f"), "tab\\x09nl\\x0acr\\x0ddel\\x7f");
    assert_string_equal(safe(""), "");
}

static void test_utf8_kept_c1_and_broken_bytes_escaped(void **state) {
    (void)state;
    assert_string_equal(safe("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xC2\xA0"),
                        "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xC2\xA0");
    /* U+009B (CSI) as UTF-8, a raw 0x9B, a stray continuation, a cut sequence, an overlong
       '/', a surrogate */
    assert_string_equal(safe("\xC2\x9B|\x9B|\x80|\xE2\x82|\xC0\xAF|\xED\xA0\x80"),
                        "\\xc2\\x9b|\\x9b|\\x80|\\xe2\\x82|\\xc0\\xaf|\\xed\\xa0\\x80");
}

static void test_cut_to_fit(void **state) {
    (void)state;
    char buf[8];
    assert_string_equal(term_safe("abcdefg", buf, sizeof(buf)), "abcdefg"); /* fits exactly */
    assert_string_equal(term_safe("abcdefgh", buf, sizeof(buf)), "abcd...");
    assert_string_equal(term_safe("\x1b\x1b", buf, sizeof(buf)), "\\x1b...");
    assert_string_equal(term_safe("ab\xE2\x82\xAC", buf, sizeof(buf)), "ab\xE2\x82\xAC");
    assert_string_equal(term_safe("abcd\xE2\x82\xAC", buf, sizeof(buf)), "abcd\xE2\x82\xAC");
    assert_string_equal(term_safe("ab\xE2\x82\xACxyz", buf, sizeof(buf)), "ab..."); /* whole */
    char tiny[4];
    assert_string_equal(term_safe("abcdef", tiny, sizeof(tiny)), "...");
    assert_string_equal(term_safe("abc", tiny, sizeof(tiny)), "abc");
    /* the longest custom_id, all escapes, fits a message buffer */
    char id[513], big[TERM_SAFE_MSG];
    memset(id, 0x1b, 512);
    id[512] = '\0';
    assert_int_equal(strlen(term_safe(id, big, sizeof(big))), 512 * TERM_SAFE_GROWTH);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_controls_are_escaped),
        cmocka_unit_test(test_utf8_kept_c1_and_broken_bytes_escaped),
        cmocka_unit_test(test_cut_to_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
