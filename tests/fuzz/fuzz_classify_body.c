/*
 * The classifier's error bodies (src/classify.c): the input is an answer's body, classified
 * with the statuses whose verdict depends on it, and turned into words for people. Properties:
 *   - the verdict is a class of the table with a code; its hint is in range and says where it
 *     came from; a status keeps to its classes whatever the body says (a 429 is never final,
 *     a 529 is always overload, a 5xx is retried);
 *   - classify_error_text() at any size gives a string that fits, without control bytes, runs
 *     of spaces or spaces at its ends; cut short, it ends in "..." after a whole word of the
 *     text it gives at full size (never inside a word or a URL).
 */
#include <string.h>

#include "classify.h"
#include "fuzz.h"

static void check_verdict(int status, struct classify_verdict v) {
    FUZZ_CHECK(v.cls >= CLASS_SUCCESS && v.cls < CLASS__COUNT, "class %d", (int)v.cls);
    FUZZ_CHECK(v.cls == CLASS_SUCCESS || v.code != NULL, "no code for a failure");
    FUZZ_CHECK(v.retry_after_ms >= -1 && v.retry_after_ms <= CLASSIFY_MAX_DELAY_MS, "hint %lld",
               (long long)v.retry_after_ms);
    FUZZ_CHECK((v.hint == HINT_NONE) == (v.retry_after_ms == -1), "hint and delay disagree");
    enum classify_class c = v.cls;
    switch (status) {
    case 200:
        FUZZ_CHECK(c == CLASS_SUCCESS, "200 is %s", classify_class_name(c));
        break;
    case 429:
        FUZZ_CHECK(c == CLASS_RATE_LIMITED || c == CLASS_TOO_MANY_CONCURRENT || c == CLASS_QUOTA ||
                       c == CLASS_TOO_LARGE,
                   "429 is %s", classify_class_name(c));
        break;
    case 529:
        FUZZ_CHECK(c == CLASS_OVERLOADED, "529 is %s", classify_class_name(c));
        break;
    case 500:
    case 503:
        FUZZ_CHECK(c == CLASS_RETRY || c == CLASS_OVERLOADED, "%d is %s", status,
                   classify_class_name(c));
        break;
    default:
        break;
    }
}

static int has_ends(const char *s, const char *end) {
    size_t n = strlen(s), e = strlen(end);
    return n >= e && memcmp(s + n - e, end, e) == 0;
}

static void check_text(const char *full, const char *out, size_t n) {
    size_t len = strlen(out);
    FUZZ_CHECK(len < n, "%zu bytes in %zu", len, n);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];
        FUZZ_CHECK(c >= ' ' && c != 0x7f, "byte 0x%02x at %zu", c, i);
        FUZZ_CHECK(c != ' ' || (i > 0 && i + 1 < len && out[i - 1] != ' '), "a space at %zu", i);
    }
    if (strlen(full) < n) {
        FUZZ_CHECK(strcmp(out, full) == 0, "the text fits in %zu bytes but was changed", n);
        return;
    }
    if (!has_ends(out, " ...")) {
        FUZZ_CHECK(strcmp(out, n > 3 ? "..." : "") == 0, "cut to \"%s\" in %zu bytes", out, n);
        return;
    }
    size_t kept = len - 4;
    FUZZ_CHECK(memcmp(out, full, kept) == 0 && full[kept] == ' ',
               "cut inside a word: \"%s\" in %zu bytes", out, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *body = (const char *)data;
    static const int statuses[] = {200, 400, 403, 413, 429, 500, 503, 529};
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        int st = statuses[i];
        check_verdict(st, classify_answer(TRANSPORT_OK, st, &h, body, size));
        check_verdict(st, classify_answer(TRANSPORT_OK, st, NULL, body, size));
    }
    /* The words at full size, then cut to sizes around the usual ones (a status line's). */
    char *full = malloc(size + 8);
    FUZZ_CHECK(full != NULL, "out of memory");
    classify_error_text(body, size, full, size + 8);
    check_text(full, full, size + 8);
    static const size_t sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 12, 20, 40, 80, 200};
    char out[200];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        classify_error_text(body, size, out, sizes[i]);
        check_text(full, out, sizes[i]);
    }
    free(full);
    return 0;
}
