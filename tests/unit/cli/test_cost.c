/* Prices by model (table, file, fixed), estimates, and the --max-cost admission rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cost.h"

static void test_table_longest_prefix(void **state) {
    (void)state;
    struct cost *c = cost_new();
    double in, out;
    assert_int_equal(cost_price(c, "gpt-4o-mini-2024-07-18", &in, &out), 0);
    assert_float_equal(in, 0.15, 1e-9); /* gpt-4o-mini, not gpt-4o */
    assert_float_equal(out, 0.60, 1e-9);
    assert_int_equal(cost_price(c, "gpt-4o", &in, &out), 0);
    assert_float_equal(in, 2.50, 1e-9);
    assert_int_equal(cost_price(c, "claude-3-5-haiku-latest", &in, &out), 0);
    assert_float_equal(out, 4.00, 1e-9);
    assert_int_equal(cost_price(c, "claude-sonnet-4-20250514", &in, &out), 0);
    assert_float_equal(in, 3.00, 1e-9);
    /* A prefix must end at '-': "gpt-4opus" is not gpt-4o. */
    assert_int_equal(cost_price(c, "gpt-4opus", &in, &out), -1);
    assert_int_equal(cost_price(c, "acme", &in, &out), -1);
    assert_int_equal(cost_price(c, NULL, &in, &out), -1);
    cost_free(c);
}

static char path[64];

static void write_file(const char *text) {
    strcpy(path, "/tmp/test_cost.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_file_overrides(void **state) {
    (void)state;
    struct cost *c = cost_new();
    char err[256];
    double in, out;
    write_file("{\"gpt-4o\": {\"in\": 1, \"out\": 2.5}, \"acme\": {\"in\": 0, \"out\": 0}}");
    assert_int_equal(cost_load_file(c, path, err, sizeof(err)), 0);
    unlink(path);
    /* The file's shorter gpt-4o wins over the table's gpt-4o-mini. */
    assert_int_equal(cost_price(c, "gpt-4o-mini", &in, &out), 0);
    assert_float_equal(in, 1, 1e-9);
    assert_float_equal(out, 2.5, 1e-9);
    assert_int_equal(cost_price(c, "acme-7b", &in, &out), 0);
    assert_int_equal(cost_price(c, "o3-mini", &in, &out), 0); /* the table still serves */
    assert_float_equal(in, 1.10, 1e-9);
    /* --price-in/--price-out beat both. */
    cost_set_fixed(c, 5, -1);
    assert_int_equal(cost_price(c, "whatever", &in, &out), 0);
    assert_float_equal(in, 5, 1e-9);
    assert_float_equal(out, 0, 1e-9);
    cost_free(c);
}

static void test_bad_files(void **state) {
    (void)state;
    const char *bad[] = {"[1]",
                         "{\"m\": {\"in\": 1}}",
                         "{\"m\": {\"in\": -1, \"out\": 1}}",
                         "{\"m\": {\"in\": \"1\", \"out\": 1}}",
                         "{\"m\": 3}",
                         "{oops"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cost *c = cost_new();
        char err[256] = "";
        write_file(bad[i]);
        assert_int_equal(cost_load_file(c, path, err, sizeof(err)), -1);
        assert_non_null(strstr(err, path));
        unlink(path);
        cost_free(c);
    }
    struct cost *c = cost_new();
    char err[256];
    assert_int_equal(cost_load_file(c, "/nonexistent/prices.json", err, sizeof(err)), -1);
    cost_free(c);
}

static void test_model_of(void **state) {
    (void)state;
    char m[32];
    const char *b = "{\"messages\":[{\"model\":\"no\"}],\"model\":\"gpt-4.1\"}";
    assert_int_equal(cost_model_of(b, strlen(b), m, sizeof(m)), 0);
    assert_string_equal(m, "gpt-4.1");
    const char *nb = "{\"input\":\"x\"}";
    assert_int_equal(cost_model_of(nb, strlen(nb), m, sizeof(m)), -1);
    assert_int_equal(cost_model_of("[1]", 3, m, sizeof(m)), -1);
}

static sluice_request_t req_for(const char *body, uint64_t prompt, uint64_t total) {
    return (sluice_request_t){.custom_id = "x",
                              .body = body,
                              .body_len = strlen(body),
                              .est_tokens = total,
                              .est_prompt_tokens = prompt};
}

static void test_budget(void **state) {
    (void)state;
    struct cost *c = cost_new();
    const char *body = "{\"model\":\"m\"}";
    cost_set_fixed(c, 1, 2); /* $1 / $2 per million */
    cost_set_budget(c, 0.001);
    /* 100 prompt + 200 output tokens: $0.0001 + $0.0004 = $0.0005 each. */
    sluice_request_t r = req_for(body, 100, 300);
    double est;
    assert_int_equal(cost_estimate(c, &r, &est), 0);
    assert_float_equal(est, 0.0005, 1e-12);
    assert_int_equal(cost_admit(&r, c), 0);
    assert_int_equal(cost_admit(&r, c), 0); /* exactly the budget: allowed */
    assert_int_equal(cost_admit(&r, c), 1); /* the third would exceed it */
    struct cost_view v;
    cost_view(c, &v);
    assert_float_equal(v.reserved_usd, 0.001, 1e-12);
    /* One finishes having used less than its estimate: its reservation becomes its cost. */
    sluice_result_t res = {.req = &r, .attempts = 1, .tokens_in = 100, .tokens_out = 50};
    cost_on_result(c, &res);
    cost_view(c, &v);
    assert_float_equal(v.spent_usd, 0.0002, 1e-12);
    assert_float_equal(v.reserved_usd, 0.0005, 1e-12);
    assert_true(v.known);
    /* Spent 0.0002 + in flight 0.0005 + this 0.0005 > 0.001. */
    assert_int_equal(cost_admit(&r, c), 1);
    /* The other one fails without usage: 0.0002 + 0 + 0.0005 fits. */
    sluice_result_t none = {.req = &r, .attempts = 2};
    cost_on_result(c, &none);
    assert_int_equal(cost_admit(&r, c), 0);
    /* An invalid line was never admitted and releases nothing. */
    sluice_result_t invalid = {.req = &r, .attempts = 0};
    cost_on_result(c, &invalid);
    cost_view(c, &v);
    assert_float_equal(v.reserved_usd, 0.0005, 1e-12);
    cost_free(c);
}

static void test_budget_unpriced(void **state) {
    (void)state;
    struct cost *c = cost_new();
    const char *body = "{\"model\":\"acme-1\"}";
    sluice_request_t r = req_for(body, 10, 10);
    struct cost_view v;
    cost_set_budget(c, 10);
    assert_int_equal(cost_admit(&r, c), 1);
    cost_view(c, &v);
    assert_string_equal(v.refused_model, "acme-1");
    /* Usage of an unpriced model is counted apart, not as $0. */
    sluice_result_t res = {.req = &r, .attempts = 0, .tokens_in = 7, .tokens_out = 3};
    cost_on_result(c, &res);
    cost_view(c, &v);
    assert_false(v.known);
    assert_int_equal(v.unpriced_tokens, 10);
    assert_string_equal(v.unpriced_model, "acme-1");
    cost_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_longest_prefix),
        cmocka_unit_test(test_file_overrides),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_model_of),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_budget_unpriced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
