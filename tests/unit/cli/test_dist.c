/* cli/dist.c: which headers carry credentials, and the origins a worker compares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dist.h"

static void test_header_secret_builtin(void **state) {
    (void)state;
    static const char *const secret[] = {
        "Authorization: Bearer sk-x",
        "authorization:Bearer sk-x",
        "  AUTHORIZATION : x",
        "api-key: k",
        "X-Api-Key: k",
        "x-goog-api-key: k",
        "Proxy-Authorization: Basic",
        "Cookie: session=1",
    };
    static const char *const plain[] = {
        "X-Team: a",     "Authorization-Hint: x", "OpenAI-Organization: org",
        "api-key-id: 3", "x-api-keys: k",         ": empty name",
    };
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
        assert_int_equal(dist_header_secret(NULL, NULL, secret[i]), 1);
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        assert_int_equal(dist_header_secret(NULL, NULL, plain[i]), 0);
}

static void test_header_secret_named(void **state) {
    (void)state;
    const char *names[] = {"X-Team-Token"};
    struct dist_opts d = {.secret = names, .n_secret = 1};
    assert_int_equal(dist_header_secret(NULL, &d, "x-team-token: abc"), 1);
    assert_int_equal(dist_header_secret(NULL, &d, "X-Team: abc"), 0);
    /* The names the job was created with count too. */
    struct dist job = {.job_secret = "x-org-secret,x-other"};
    assert_int_equal(dist_header_secret(&job, NULL, "X-Org-Secret: s"), 1);
    assert_int_equal(dist_header_secret(&job, NULL, "X-Other: s"), 1);
    assert_int_equal(dist_header_secret(&job, NULL, "X-Org: s"), 0);
    assert_int_equal(dist_header_secret(&job, NULL, "X-Other-2: s"), 0);
}

static void test_origin(void **state) {
    (void)state;
    static const struct {
        const char *url, *want;
    } ok[] = {
        {"https://api.openai.com", "https://api.openai.com:443"},
        {"https://API.OpenAI.com:443/v1", "https://api.openai.com:443"},
        {"HTTP://127.0.0.1:8080/x?y#z", "http://127.0.0.1:8080"},
        {"http://h:/", "http://h:80"},
        {"http://[::1]:9000/v1", "http://[::1]:9000"},
        {"https://api.openai.com@evil.example:8443/", "https://evil.example:8443"},
        {"https://u:p@h?x", "https://h:443"},
    };
    char buf[300];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(dist_origin(ok[i].url, buf, sizeof(buf)), 0);
        assert_string_equal(buf, ok[i].want);
    }
    static const char *const bad[] = {
        "ftp://h",     "file:///etc/passwd", "https://",       "https:///path",
        "http://h:0",  "http://h:65536",     "http://h:8a",    "http://[::1/x",
        "http://a b/", "http://h\x1b/",      "api.openai.com",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(dist_origin(bad[i], buf, sizeof(buf)), -1);
}

static void test_limit_key_is_pinned(void **state) {
    (void)state;
    /* Workers find each other's shared limiter by this name: it must not change. */
    sluice_config_t cfg = {0};
    cfg.base_url = "https://api.example.com/v1";
    cfg.api_key = "sk-test";
    char key[256];
    dist_limit_key(&cfg, NULL, key, sizeof(key));
    assert_string_equal(key, "https://api.example.com/v1#711c974c464d5840");
    dist_limit_key(&cfg, "mine", key, sizeof(key));
    assert_string_equal(key, "mine");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_secret_builtin),
        cmocka_unit_test(test_header_secret_named),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_limit_key_is_pinned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
