/* --ordered's reorder buffer: holds early results, writes in pull order, bounds the window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "order.h"

static sluice_request_t reqs[16];
static char ids[16][16];
static int pulled;

static int fake_next(void *ud, sluice_request_t **out) {
    (void)ud;
    if (pulled >= 16)
        return SLUICE_EOF;
    sluice_request_t *r = &reqs[pulled];
    memset(r, 0, sizeof(*r));
    snprintf(ids[pulled], sizeof(ids[pulled]), "r%d", pulled + 1);
    r->custom_id = ids[pulled];
    r->line = (uint64_t)(pulled * 2 + 1); /* gaps, like blank lines */
    pulled++;
    *out = r;
    return 0;
}

static void fake_release(void *ud, sluice_request_t *r) {
    (void)ud;
    (void)r;
}

static char path[64];

static char *slurp(void) {
    static char buf[8192];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void deliver(struct order *o, int i) {
    sluice_result_t res = {0};
    res.req = &reqs[i];
    res.status_code = 200;
    res.body = "{}";
    res.body_len = 2;
    res.body_is_json = 1;
    assert_int_equal(order_result(o, &res), 0);
}

static void test_window_and_order(void **state) {
    (void)state;
    pulled = 0;
    snprintf(path, sizeof(path), "/tmp/sluice-order-%d.jsonl", (int)getpid());
    sluice_jsonl_sink_t *sk;
    assert_int_equal(sluice_jsonl_sink_open(&sk, path, 0), 0);
    sluice_source_t inner = {fake_next, fake_release, NULL}, s;
    struct writer *w = writer_new(sk, NULL, 0);
    assert_non_null(w);
    struct order *o = order_new(&inner, sk, w, 4, &s);
    assert_non_null(o);
    sluice_request_t *r;
    for (int i = 0; i < 4; i++)
        assert_int_equal(s.next(s.ud, &r), 0);
    /* The window is full: the wrapped source makes dispatch wait. */
    assert_int_equal(s.next(s.ud, &r), SLUICE_EAGAIN);
    deliver(o, 2);
    deliver(o, 1);
    assert_int_equal(order_held(o), 2);
    assert_string_equal(slurp(), "");
    deliver(o, 0);
    assert_int_equal(order_held(o), 0);
    char *text = slurp();
    char *p1 = strstr(text, "\"r1\""), *p2 = strstr(text, "\"r2\""), *p3 = strstr(text, "\"r3\"");
    assert_true(p1 && p2 && p3 && p1 < p2 && p2 < p3);
    /* Three slots are free again. */
    assert_int_equal(s.next(s.ud, &r), 0);
    assert_int_equal(s.next(s.ud, &r), 0);
    assert_int_equal(s.next(s.ud, &r), 0);
    assert_int_equal(s.next(s.ud, &r), SLUICE_EAGAIN);
    /* r4 never gets a result (a stopped run); flush writes r6 past the gap. */
    deliver(o, 5);
    assert_int_equal(order_held(o), 1);
    assert_int_equal(order_flush(o), 0);
    assert_non_null(strstr(slurp(), "\"r6\""));
    assert_null(strstr(slurp(), "\"r4\""));
    order_free(o);
    writer_free(w);
    sluice_jsonl_sink_close(sk);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_and_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
