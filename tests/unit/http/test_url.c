/* Joining the base URL and a line's url (issue 17, item 7): the SDKs' base URLs with a path
   ("/v1", Gemini's "/v1beta/openai", Azure's deployments) take the Batch lines' "/v1/..."
   without doubling it; absolute urls only on the base URL's origin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/url.h"

struct join_case {
    const char *base, *u, *want;
};

/* Joins each into a buffer of exactly the size url_join asks for, after asking with none. */
static void check_all(const struct join_case *c, size_t n) {
    for (size_t i = 0; i < n; i++) {
        long len = url_join(NULL, 0, c[i].base, c[i].u);
        char buf[512];
        if (len != (long)strlen(c[i].want) || (size_t)len >= sizeof buf ||
            url_join(buf, (size_t)len + 1, c[i].base, c[i].u) != len || strcmp(buf, c[i].want) != 0)
            fail_msg("%s + %s: got %ld bytes, expected %s", c[i].base, c[i].u, len, c[i].want);
    }
}
#define CHECK_ALL(cases) check_all(cases, sizeof(cases) / sizeof(cases[0]))

static void test_base_without_path(void **state) {
    (void)state;
    static const struct join_case cases[] = {
        {"https://api.openai.com", "/v1/chat/completions",
         "https://api.openai.com/v1/chat/completions"},
        {"https://api.openai.com/", "/v1/chat/completions",
         "https://api.openai.com/v1/chat/completions"},
        {"https://api.openai.com//", "/v1/embeddings", "https://api.openai.com/v1/embeddings"},
        {"http://127.0.0.1:8080", "/v1/messages", "http://127.0.0.1:8080/v1/messages"},
        /* A path that does not start with a slash still gets one. */
        {"http://127.0.0.1:8080", "v1/messages", "http://127.0.0.1:8080/v1/messages"},
        {"https://api.openai.com", "/chat/completions", "https://api.openai.com/chat/completions"},
    };
    CHECK_ALL(cases);
}

/* OPENAI_BASE_URL=https://api.openai.com/v1, as the SDKs are configured. */
static void test_base_with_v1(void **state) {
    (void)state;
    static const struct join_case cases[] = {
        {"https://api.openai.com/v1", "/v1/chat/completions",
         "https://api.openai.com/v1/chat/completions"},
        {"https://api.openai.com/v1/", "/v1/chat/completions",
         "https://api.openai.com/v1/chat/completions"},
        {"https://api.openai.com/v1", "/chat/completions",
         "https://api.openai.com/v1/chat/completions"},
        {"https://api.openai.com/v1/", "chat/completions",
         "https://api.openai.com/v1/chat/completions"},
        {"http://localhost:11434/v1", "/v1/embeddings", "http://localhost:11434/v1/embeddings"},
        /* Only a whole "/v1" segment goes: "/v1beta" and "/v10" are other paths. */
        {"https://h.example/v1", "/v1beta/x", "https://h.example/v1/v1beta/x"},
        {"https://h.example/v1", "/v10/x", "https://h.example/v1/v10/x"},
        {"https://h.example/v1", "/v1", "https://h.example/v1"},
        {"https://h.example/v1", "/v1?a=b", "https://h.example/v1?a=b"},
        /* Only at the start. */
        {"https://h.example/v1", "/x/v1/y", "https://h.example/v1/x/v1/y"},
    };
    CHECK_ALL(cases);
}

#define GEMINI "https://generativelanguage.googleapis.com/v1beta/openai"

static void test_gemini(void **state) {
    (void)state;
    static const struct join_case cases[] = {
        {GEMINI, "/v1/chat/completions", GEMINI "/chat/completions"},
        {GEMINI "/", "/v1/chat/completions", GEMINI "/chat/completions"},
        {GEMINI, "/chat/completions", GEMINI "/chat/completions"},
        {GEMINI "/", "/chat/completions", GEMINI "/chat/completions"},
    };
    CHECK_ALL(cases);
}

#define AZURE      "https://r.openai.azure.com"
#define AZURE_CHAT AZURE "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"

static void test_azure(void **state) {
    (void)state;
    static const struct join_case cases[] = {
        /* The v1 API: the deployment is the body's model. */
        {AZURE "/openai/v1", "/v1/chat/completions", AZURE "/openai/v1/chat/completions"},
        {AZURE "/openai/v1/", "/chat/completions", AZURE "/openai/v1/chat/completions"},
        /* A dated version: the deployment in the path, the version in the base URL's query. */
        {AZURE "/openai/deployments/gpt-4o-mini?api-version=2024-10-21", "/v1/chat/completions",
         AZURE_CHAT},
        {AZURE "/openai/deployments/gpt-4o-mini/?api-version=2024-10-21", "/chat/completions",
         AZURE_CHAT},
        /* ... or all of it in the line's (or --url's) path, on a base URL without a path. */
        {AZURE, "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
         AZURE_CHAT},
        {AZURE "/", "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
         AZURE_CHAT},
    };
    CHECK_ALL(cases);
}

/* The base URL's query goes after the line's own; a fragment in the base URL is dropped. */
static void test_queries(void **state) {
    (void)state;
    static const struct join_case cases[] = {
        {"https://h.example/d?v=1", "/x?a=b", "https://h.example/d/x?a=b&v=1"},
        {"https://h.example/d?v=1", "/x?", "https://h.example/d/x?v=1"},
        {"https://h.example/d?v=1", "/x?a=b&", "https://h.example/d/x?a=b&v=1"},
        {"https://h.example/d?v=1#top", "/x", "https://h.example/d/x?v=1"},
        {"https://h.example/d#top", "/x", "https://h.example/d/x"},
        {"https://h.example?v=1", "/v1/x", "https://h.example/v1/x?v=1"},
        {"https://h.example/d?v=1", "/x#f", "https://h.example/d/x?v=1#f"},
        {"https://h.example/d?", "/x", "https://h.example/d/x"},
    };
    CHECK_ALL(cases);
}

/* An absolute url is taken whole on the base URL's origin (scheme, host and port, in any
   case), and refused anywhere else: the key would go with it. */
static void test_absolute(void **state) {
    (void)state;
    static const struct join_case cases[] = {
        {"https://api.openai.com/v1", "https://api.openai.com/v1/chat/completions",
         "https://api.openai.com/v1/chat/completions"},
        {"https://api.openai.com/v1", "HTTPS://API.openai.com/v1/x", "HTTPS://API.openai.com/v1/x"},
        {"http://127.0.0.1:8080", "http://127.0.0.1:8080/v1/x", "http://127.0.0.1:8080/v1/x"},
    };
    CHECK_ALL(cases);
    char buf[64] = "untouched";
    assert_int_equal(url_join(buf, sizeof buf, "https://api.openai.com", "https://evil.example/v1"),
                     URL_ELSEWHERE);
    assert_string_equal(buf, "untouched");
    static const char *const elsewhere[][2] = {
        {"https://api.openai.com", "http://api.openai.com/v1/x"},
        {"http://127.0.0.1:8080", "http://127.0.0.1:8081/v1/x"},
        {"http://127.0.0.1:8080", "http://127.0.0.1/v1/x"},
        /* A host that only starts like the base's. */
        {"https://api.openai.com", "https://api.openai.com.evil/x"},
    };
    for (size_t i = 0; i < sizeof elsewhere / sizeof elsewhere[0]; i++)
        assert_int_equal(url_join(NULL, 0, elsewhere[i][0], elsewhere[i][1]), URL_ELSEWHERE);
}

/* Like snprintf: a short buffer gets what fits and a NUL, and the answer says what is needed. */
static void test_short_buffer(void **state) {
    (void)state;
    char buf[8];
    long n = url_join(buf, sizeof buf, "https://api.openai.com/v1", "/v1/chat/completions");
    assert_int_equal(n, (long)strlen("https://api.openai.com/v1/chat/completions"));
    assert_string_equal(buf, "https:/");
    assert_int_equal(url_join(buf, 1, "https://h.example/d?v=1", "/x?a=b"),
                     (long)strlen("https://h.example/d/x?a=b&v=1"));
    assert_string_equal(buf, "");
}

static void test_origin_len(void **state) {
    (void)state;
    assert_int_equal(url_origin_len("https://h.example:8443/v1?x"),
                     strlen("https://h.example:8443"));
    assert_int_equal(url_origin_len("http://h.example"), strlen("http://h.example"));
    assert_int_equal(url_origin_len("http://h.example?x=http://y/"), strlen("http://h.example"));
    assert_int_equal(url_origin_len("localhost:8000/v1"), strlen("localhost:8000"));
    assert_true(url_is_absolute("HTTP://x"));
    assert_false(url_is_absolute("/v1/x"));
    assert_false(url_is_absolute("ftp://x/"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_without_path),
        cmocka_unit_test(test_base_with_v1),
        cmocka_unit_test(test_gemini),
        cmocka_unit_test(test_azure),
        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_absolute),
        cmocka_unit_test(test_short_buffer),
        cmocka_unit_test(test_origin_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
