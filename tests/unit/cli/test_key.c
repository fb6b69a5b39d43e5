/* Unit tests for cli/key.c: which runs must have an API key before they start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "key.h"

static int needs(sluice_provider_t p, const char *base_url, const char **headers, size_t n) {
    sluice_config_t cfg;
    sluice_config_init(&cfg);
    cfg.provider = p;
    cfg.base_url = base_url;
    cfg.headers = headers;
    cfg.n_headers = n;
    return key_required(&cfg);
}

static void test_real_providers_over_https(void **state) {
    (void)state;
    assert_true(needs(SLUICE_PROVIDER_OPENAI, "https://api.openai.com", NULL, 0));
    assert_true(needs(SLUICE_PROVIDER_OPENAI, "HTTPS://api.openai.com/v1", NULL, 0));
    assert_true(needs(SLUICE_PROVIDER_AZURE, "https://x.openai.azure.com", NULL, 0));
    assert_true(needs(SLUICE_PROVIDER_ANTHROPIC, "https://api.anthropic.com", NULL, 0));
    assert_true(
        needs(SLUICE_PROVIDER_GEMINI, "https://generativelanguage.googleapis.com", NULL, 0));
    /* The default configuration is OpenAI itself. */
    sluice_config_t cfg;
    sluice_config_init(&cfg);
    assert_true(key_required(&cfg));
}

static void test_no_key_needed(void **state) {
    (void)state;
    /* Local servers and the mock speak plain HTTP; --provider none sends no key. */
    assert_false(needs(SLUICE_PROVIDER_OPENAI, "http://127.0.0.1:8080", NULL, 0));
    assert_false(needs(SLUICE_PROVIDER_ANTHROPIC, "http://localhost:8000", NULL, 0));
    assert_false(needs(SLUICE_PROVIDER_NONE, "https://api.openai.com", NULL, 0));
    assert_false(needs(SLUICE_PROVIDER_OPENAI, NULL, NULL, 0));
}

static void test_credential_in_a_header(void **state) {
    (void)state;
    const char *bearer[] = {"X-Trace: 1", "authorization : Bearer t"};
    assert_false(needs(SLUICE_PROVIDER_AZURE, "https://x.openai.azure.com", bearer, 2));
    const char *azure[] = {"Api-Key: k"};
    assert_false(needs(SLUICE_PROVIDER_AZURE, "https://x.openai.azure.com", azure, 1));
    const char *anthropic[] = {"x-api-key:k"};
    assert_false(needs(SLUICE_PROVIDER_ANTHROPIC, "https://api.anthropic.com", anthropic, 1));
    const char *goog[] = {"x-goog-api-key: k"};
    assert_false(needs(SLUICE_PROVIDER_GEMINI, "https://g.googleapis.com", goog, 1));
    /* Names that only look alike carry nothing. */
    const char *other[] = {"x-api-key-id: 7", "authorization-hint: none", "api-key"};
    assert_true(needs(SLUICE_PROVIDER_OPENAI, "https://api.openai.com", other, 3));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_providers_over_https),
        cmocka_unit_test(test_no_key_needed),
        cmocka_unit_test(test_credential_in_a_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
