/* sluice_hold_until_written(): a result keeps its slot until it is reported written, so the
   requests sent plus the results not yet written never pass the concurrency (what a kill -9
   makes --resume send again). Requests go to a closed port with one attempt each, so each fails
   at once; no timing is waited on: the counts are checked as the loop hands results over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"

#define N 10
#define C 3

struct world {
    uv_loop_t loop;
    sluice_t *eng;
    sluice_request_t req[N];
    char ids[N][16];
    int next, results, unreported;
    int most_out; /* pulled and not reported written, at most */
};

static int src_next(void *ud, sluice_request_t **out) {
    struct world *w = ud;
    if (w->next == N)
        return SLUICE_EOF;
    *out = &w->req[w->next++];
    return 0;
}

static void src_release(void *ud, sluice_request_t *req) {
    (void)ud;
    (void)req;
}

static int on_result(const sluice_result_t *res, void *ud) {
    struct world *w = ud;
    (void)res;
    w->results++;
    w->unreported++;
    int out = w->next - (w->results - w->unreported);
    if (out > w->most_out)
        w->most_out = out;
    return 0;
}

static void open_world(struct world *w, int hold) {
    memset(w, 0, sizeof(*w));
    assert_int_equal(uv_loop_init(&w->loop), 0);
    sluice_config_t cfg;
    sluice_config_init(&cfg);
    cfg.base_url = "http://127.0.0.1:1";
    cfg.provider = SLUICE_PROVIDER_NONE;
    cfg.max_attempts = 1;
    cfg.concurrency = C;
    assert_int_equal(sluice_new(&w->eng, &cfg, &w->loop), 0);
    for (int i = 0; i < N; i++) {
        snprintf(w->ids[i], sizeof(w->ids[i]), "r%d", i);
        w->req[i].custom_id = w->ids[i];
        w->req[i].method = "POST";
        w->req[i].url = "/v1/x";
        w->req[i].body = "{}";
        w->req[i].body_len = 2;
        w->req[i].line = (uint64_t)i + 1;
    }
    sluice_source_t src = {src_next, src_release, w};
    assert_int_equal(sluice_set_source(w->eng, &src), 0);
    assert_int_equal(sluice_set_result_cb(w->eng, on_result, w), 0);
    sluice_hold_until_written(w->eng, hold);
}

static void close_world(struct world *w) {
    sluice_free(w->eng);
    for (int i = 0; i < 100 && uv_loop_close(&w->loop) == UV_EBUSY; i++)
        uv_run(&w->loop, UV_RUN_NOWAIT);
}

/* Runs the loop a turn at a time; whenever C results wait unreported, nothing more may have
   been pulled, and then they are reported written (as a batched writer would). */
static void test_slots_held_until_written(void **state) {
    (void)state;
    struct world w;
    open_world(&w, 1);
    sluice_stats_t st;
    int turns = 0;
    /* sluice_run() would block: drive the engine by hand through the public calls. */
    sluice_source_ready(w.eng);
    while (w.results < N && turns++ < 100000) {
        uv_run(&w.loop, UV_RUN_ONCE);
        if (w.unreported == C) {
            sluice_stats(w.eng, &st);
            assert_int_equal(st.in_flight, 0);
            assert_int_equal(w.next, w.results);
            int n = w.unreported;
            w.unreported = 0;
            sluice_results_written(w.eng, (size_t)n);
        }
    }
    /* The last ones: fewer than C. */
    assert_int_equal(w.results, N);
    assert_true(w.most_out <= C);
    close_world(&w);
}

/* Without the hold the same run pulls past C while results wait unreported (so the test above
   can fail). */
static void test_without_hold(void **state) {
    (void)state;
    struct world w;
    open_world(&w, 0);
    sluice_source_ready(w.eng);
    int turns = 0;
    while (w.results < N && turns++ < 100000)
        uv_run(&w.loop, UV_RUN_ONCE);
    assert_int_equal(w.results, N);
    assert_true(w.most_out > C);
    close_world(&w);
}

/* ---- invalid lines: never sent, so they hold no slot ---- */

#define NBAD 3000 /* more than one dispatch emits before it lets the loop turn */

struct bad_world {
    uv_loop_t loop;
    sluice_t *eng;
    sluice_request_t req[NBAD];
    char ids[NBAD][16];
    int n, next, results;
    int valid_pulled, valid_results, valid_unreported, unreported;
    int most_valid_out; /* valid requests pulled whose results are not reported written */
};

static int bad_next(void *ud, sluice_request_t **out) {
    struct bad_world *w = ud;
    if (w->next == w->n)
        return SLUICE_EOF;
    *out = &w->req[w->next++];
    if (!(*out)->invalid)
        w->valid_pulled++;
    int out_now = w->valid_pulled - (w->valid_results - w->valid_unreported);
    if (out_now > w->most_valid_out)
        w->most_valid_out = out_now;
    return 0;
}

static int bad_result(const sluice_result_t *res, void *ud) {
    struct bad_world *w = ud;
    w->results++;
    w->unreported++;
    if (!res->req->invalid) {
        w->valid_results++;
        w->valid_unreported++;
    }
    return 0;
}

/* n lines, each `every`th one valid (0: none); the valid ones go to a closed port. */
static void open_bad_world(struct bad_world *w, int n, int every) {
    memset(w, 0, sizeof(*w));
    assert_int_equal(uv_loop_init(&w->loop), 0);
    sluice_config_t cfg;
    sluice_config_init(&cfg);
    cfg.base_url = "http://127.0.0.1:1";
    cfg.provider = SLUICE_PROVIDER_NONE;
    cfg.max_attempts = 1;
    cfg.concurrency = C;
    assert_int_equal(sluice_new(&w->eng, &cfg, &w->loop), 0);
    w->n = n;
    for (int i = 0; i < n; i++) {
        snprintf(w->ids[i], sizeof(w->ids[i]), "r%d", i);
        w->req[i].custom_id = w->ids[i];
        w->req[i].method = "POST";
        w->req[i].url = "/v1/x";
        w->req[i].body = "{}";
        w->req[i].body_len = 2;
        w->req[i].line = (uint64_t)i + 1;
        if (every == 0 || i % every != 0)
            w->req[i].invalid = "not JSON";
    }
    sluice_source_t src = {bad_next, src_release, w};
    assert_int_equal(sluice_set_source(w->eng, &src), 0);
    assert_int_equal(sluice_set_result_cb(w->eng, bad_result, w), 0);
    sluice_hold_until_written(w->eng, 1);
}

static void close_bad_world(struct bad_world *w) {
    sluice_free(w->eng);
    for (int i = 0; i < 100 && uv_loop_close(&w->loop) == UV_EBUSY; i++)
        uv_run(&w->loop, UV_RUN_NOWAIT);
}

/* A file of invalid lines goes out whole although nothing is ever reported written: its
   results wait for no slot (a batched writer then writes them all in one go). */
static void test_invalid_lines_hold_no_slot(void **state) {
    (void)state;
    struct bad_world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    open_bad_world(w, NBAD, 0);
    sluice_source_ready(w->eng);
    for (int turns = 0; w->results < NBAD && turns < 1000; turns++)
        uv_run(&w->loop, UV_RUN_ONCE);
    assert_int_equal(w->results, NBAD);
    close_bad_world(w);
    free(w);
}

/* Mixed with valid lines, the bound stays: valid requests pulled and not reported written
   never pass C, whatever the invalid lines around them. Reports come, as a batched writer's,
   for every result handed over so far, whenever C valid ones wait. (Few valid ones: more
   failures would open the breaker, and they would wait for it.) */
static void test_invalid_lines_keep_the_bound(void **state) {
    (void)state;
    struct bad_world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    open_bad_world(w, 300, 30);
    sluice_source_ready(w->eng);
    for (int turns = 0; w->results < w->n && turns < 100000; turns++) {
        uv_run(&w->loop, UV_RUN_ONCE);
        if (w->valid_unreported == C || (w->unreported > 0 && w->next == w->n)) {
            size_t n = (size_t)w->unreported;
            w->unreported = w->valid_unreported = 0;
            sluice_results_written(w->eng, n);
        }
    }
    assert_int_equal(w->results, w->n);
    assert_int_equal(w->valid_results, 10);
    assert_true(w->most_valid_out <= C);
    close_bad_world(w);
    free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slots_held_until_written),
        cmocka_unit_test(test_without_hold),
        cmocka_unit_test(test_invalid_lines_hold_no_slot),
        cmocka_unit_test(test_invalid_lines_keep_the_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
