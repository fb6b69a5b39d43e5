/* The token estimate's prompt part (est_prompt_tokens), which --max-cost and --dry-run price
 * at the input rate, apart from the output allowance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "source.h"
#include "util.h"

static uint64_t split(const char *json, uint64_t *prompt) {
    assert_int_equal(util_json_validate(json, strlen(json), NULL), UTIL_JSON_OK);
    uint64_t total = source_estimate_split(json, strlen(json), prompt);
    assert_int_equal(total, source_estimate_tokens(json, strlen(json))); /* the same estimate */
    return total;
}

static void test_split(void **state) {
    (void)state;
    uint64_t p;
    /* 9 bytes of text: 3 tokens; max_tokens 16 times n 2. */
    assert_int_equal(
        split("{\"messages\":[{\"content\":\"123456789\"}],\"max_tokens\":16,\"n\":2}", &p),
        3 + 32);
    assert_int_equal(p, 3);
    /* Embeddings: all prompt; token arrays count one per id. */
    assert_int_equal(split("{\"input\":[[1,2,3],\"abcd\"]}", &p), 4);
    assert_int_equal(p, 4);
    assert_int_equal(split("[1]", &p), 0);
    assert_int_equal(p, 0);
}

static void test_request_field(void **state) {
    (void)state;
    char path[] = "/tmp/test_source_estimate.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text =
        "{\"custom_id\":\"a\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"m\","
        "\"messages\":[{\"role\":\"user\",\"content\":\"12345678\"}],\"max_tokens\":10}}\n"
        "{\"input\":\"1234\"}\n"
        "{\"custom_id\":\"bad\",\"body\":1}\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    sluice_jsonl_source_t *js;
    sluice_source_t src;
    sluice_request_t *r;
    assert_int_equal(sluice_jsonl_source_open(&js, path, "/v1/embeddings", NULL, NULL), 0);
    sluice_jsonl_source_bind(js, &src);
    assert_int_equal(src.next(src.ud, &r), 0);
    assert_int_equal(r->est_prompt_tokens, 2);
    assert_int_equal(r->est_tokens, 12);
    src.release(src.ud, r);
    assert_int_equal(src.next(src.ud, &r), 0); /* a bare line */
    assert_int_equal(r->est_prompt_tokens, 1);
    assert_int_equal(r->est_tokens, 1);
    src.release(src.ud, r);
    assert_int_equal(src.next(src.ud, &r), 0); /* an invalid line is never sent: no estimate */
    assert_non_null(r->invalid);
    assert_int_equal(r->est_prompt_tokens, 0);
    src.release(src.ud, r);
    sluice_jsonl_source_close(js);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_request_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
