/* Unit tests for cli/run_exit.c: one test per row of docs/DESIGN.md's exit-status table, in its
   order, each with the whole stop line (e2e tests grep for these words). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "run_exit.h"

/* A run of in.jsonl into out.jsonl that finished with nothing failed; each test changes what
   its row needs. */
static struct run_facts plain(void) {
    struct run_facts f = {.input = "in.jsonl",
                          .output = "out.jsonl",
                          .key_env = "OPENAI_API_KEY",
                          .base_url = "https://api.example.com",
                          .connect_grace_s = 30,
                          .why = SLUICE_STOPPED_NONE};
    return f;
}

/* A run's exit status and stop line; checks that the row is the one expected. */
static int judge(const struct run_facts *f, enum run_end want, char **line) {
    size_t n = 0;
    FILE *m = open_memstream(line, &n);
    assert_non_null(m);
    enum run_end row;
    int status = run_exit(f, m, &row);
    assert_int_equal(fclose(m), 0);
    assert_int_equal(row, want);
    return status;
}

/* The row holds: exit status and the whole line. */
static void expect(const struct run_facts *f, enum run_end row, int status, const char *text) {
    char *line = NULL;
    assert_int_equal(judge(f, row, &line), status);
    assert_string_equal(line, text);
    free(line);
}

static void test_redis_gone(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.job = f.feeder = 1;
    f.redis_gave_up = 1;
    f.rc = SLUICE_ESTOPPED;
    expect(&f, RUN_END_REDIS_GONE, 3,
           "sluice: stopped: Redis unreachable; run the same command again when it is back (the "
           "job keeps its place in Redis)\n");
}

static void test_commit_refused(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.job = 1;
    f.commit_gave_up = 1;
    expect(&f, RUN_END_COMMIT_REFUSED, 3,
           "sluice: stopped: Redis refused the results' commits; fix the cause (its log says "
           "more), then run the same command again (the job keeps its place in Redis)\n");
}

static void test_feed_failed(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.job = f.feeder = 1;
    f.feed_failed = 1;
    f.feed_why = "OOM command not allowed";
    expect(&f, RUN_END_FEED_FAILED, 3,
           "sluice: stopped: in.jsonl could not be fed into the job (OOM command not allowed); "
           "the lines fed so far stay in Redis: fix the cause, then run the same command "
           "again\n");
}

static void test_uncommitted(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.job = 1;
    f.uncommitted = 7;
    expect(&f, RUN_END_UNCOMMITTED, 3,
           "sluice: stopped with 7 results not yet committed to Redis; they run again (their "
           "entries are claimed after --claim-idle)\n");
}

static void test_job_output(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.job = f.feeder = 1;
    f.output_done = 0;
    expect(&f, RUN_END_JOB_OUTPUT, 3,
           "sluice: writing the job's results to out.jsonl failed (interrupted); run the same "
           "command again to finish\n");
    f.output_done = -1;
    f.werr = 1;
    f.werr_why = "No space left on device";
    expect(&f, RUN_END_JOB_OUTPUT, 3,
           "sluice: writing the job's results to out.jsonl failed (No space left on device); "
           "run the same command again to finish\n");
    /* A worker writes no OUTPUT; a finished feeder's OUTPUT is whole. */
    f.feeder = 0;
    f.werr = 0;
    expect(&f, RUN_END_FINISHED, 0, "");
    f.feeder = 1;
    f.output_done = 1;
    expect(&f, RUN_END_FINISHED, 0, "");
}

static void test_input_cut(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.input = "-";
    f.rc_src = SLUICE_EPARSE;
    f.src_why = "its gzip data is corrupt (zlib: invalid distance too far back)";
    expect(&f, RUN_END_INPUT_CUT, 3,
           "sluice: reading - failed: its gzip data is corrupt (zlib: invalid distance too far "
           "back); the lines before that point ran and their results are in out.jsonl: get the "
           "whole file, then run again with --resume\n");
}

static void test_input_failed(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.rc_src = SLUICE_EIO;
    f.src_why = "Input/output error";
    expect(&f, RUN_END_INPUT_FAILED, 3,
           "sluice: reading in.jsonl failed: Input/output error; results so far are in "
           "out.jsonl, run again with --resume\n");
}

static void test_write_failed(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.werr = 1;
    f.werr_why = "No space left on device";
    f.unwritten = 12;
    expect(&f, RUN_END_WRITE_FAILED, 3,
           "sluice: writing out.jsonl failed (No space left on device): dispatch stopped; 12 "
           "finished results could not be written and will be requested again; free space, "
           "then run again with --resume\n");
    /* The writer failed once, then took every line held back. */
    f.unwritten = 0;
    expect(&f, RUN_END_WRITE_FAILED, 3,
           "sluice: writing out.jsonl failed (No space left on device): dispatch stopped, the "
           "results held in memory were written later; 0 finished results could not be written "
           "and will be requested again; free space, then run again with --resume\n");
    /* The engine's own code, or closing OUTPUT, says the same in the library's words. */
    f = plain();
    f.rc_close = SLUICE_EIO;
    char *line = NULL;
    assert_int_equal(judge(&f, RUN_END_WRITE_FAILED, &line), 3);
    assert_non_null(strstr(line, sluice_strerror(SLUICE_EIO)));
    free(line);
    f = plain();
    f.rc = SLUICE_ENOSPC;
    assert_int_equal(judge(&f, RUN_END_WRITE_FAILED, &line), 3);
    assert_non_null(strstr(line, sluice_strerror(SLUICE_ENOSPC)));
    free(line);
}

static void test_auth(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.rc = SLUICE_ESTOPPED;
    f.why = SLUICE_STOPPED_AUTH;
    f.detail = "Incorrect API key provided";
    expect(&f, RUN_END_AUTH, 3,
           "sluice: stopped: the provider refused the API key; check the key in "
           "$OPENAI_API_KEY, then run again with --resume. It said: Incorrect API key "
           "provided\n");
    f.key_file = "/run/key";
    f.detail = NULL;
    expect(&f, RUN_END_AUTH, 3,
           "sluice: stopped: the provider refused the API key; check the key in /run/key, then "
           "run again with --resume. It said: 401/403\n");
    f.key_file = f.key_env = NULL;
    expect(&f, RUN_END_AUTH, 3,
           "sluice: stopped: the provider refused the API key; check the key in your provider "
           "settings (--provider none sends no key), then run again with --resume. It said: "
           "401/403\n");
}

static void test_down(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.rc = SLUICE_ESTOPPED;
    f.why = SLUICE_STOPPED_DOWN;
    f.detail = "503 for 600 s";
    expect(&f, RUN_END_DOWN, 3,
           "sluice: stopped: the provider is down (503 for 600 s); results so far are in "
           "out.jsonl; run again with --resume when it is back (or raise --give-up-after)\n");
}

static void test_unreachable(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.rc = SLUICE_ESTOPPED;
    f.why = SLUICE_STOPPED_UNREACHABLE;
    f.detail = "Connection refused";
    expect(&f, RUN_END_UNREACHABLE, 3,
           "sluice run: stopped: cannot reach https://api.example.com (Connection refused) for "
           "30 s, and nothing has answered yet: check --base-url (a server still starting up: "
           "raise --connect-grace), then run again with --resume\n");
}

static void test_tls(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.rc = SLUICE_ESTOPPED;
    f.why = SLUICE_STOPPED_TLS;
    f.detail = "self-signed certificate";
    expect(&f, RUN_END_TLS, 3,
           "sluice: stopped: the TLS certificate of https://api.example.com could not be "
           "verified (self-signed certificate); pass --cacert FILE with its CA, or --insecure "
           "to skip the check, then run again with --resume\n");
}

static void test_quota(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.rc = SLUICE_ESTOPPED;
    f.why = SLUICE_STOPPED_QUOTA;
    expect(&f, RUN_END_QUOTA, 3,
           "sluice: stopped: the provider says the quota is exhausted; raise the quota or wait "
           "for it to reset, then run again with --resume. It said: (nothing more)\n");
}

static void test_no_price(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.rc = SLUICE_ESTOPPED;
    f.why = SLUICE_STOPPED_BUDGET;
    f.refused_model = "gpt-9";
    expect(&f, RUN_END_NO_PRICE, 3,
           "sluice: stopped: --max-cost needs a price for model gpt-9; pass --prices FILE or "
           "--price-in and --price-out, then run again with --resume\n");
}

static void test_budget(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.rc = SLUICE_ESTOPPED;
    f.why = SLUICE_STOPPED_BUDGET;
    f.max_usd = 0.5;
    f.spent_usd = 0.49871;
    expect(&f, RUN_END_BUDGET, 3,
           "sluice: stopped: the next request could take the cost past --max-cost $0.5 "
           "($0.4987 spent in this run); run again with --resume and --max-cost set to what "
           "this next run may spend (--max-cost counts one run, not the results already in "
           "OUTPUT)\n");
}

static void test_worker_stopped(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.job = 1;
    f.rc = SLUICE_ESTOPPED;
    f.why = SLUICE_STOPPED_USER;
    expect(&f, RUN_END_WORKER_STOPPED, 3,
           "sluice: stopped early; the job goes on with its other workers (what this one held "
           "is taken over after --claim-idle)\n");
}

static void test_job_stopped(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.job = f.feeder = 1;
    f.rc = SLUICE_ESTOPPED;
    f.why = SLUICE_STOPPED_USER;
    expect(&f, RUN_END_JOB_STOPPED, 3,
           "sluice: stopped early; the job keeps its place in Redis: run the same command again "
           "(without --resume) to finish it\n");
}

static void test_stopped(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.rc = SLUICE_ESTOPPED;
    f.why = SLUICE_STOPPED_USER;
    expect(&f, RUN_END_STOPPED, 3,
           "sluice: stopped early; run the same command with --resume to finish the rest\n");
}

static void test_error(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.rc = SLUICE_ENOMEM;
    char want[256];
    snprintf(want, sizeof(want), "sluice: %s\n", sluice_strerror(SLUICE_ENOMEM));
    expect(&f, RUN_END_ERROR, 3, want);
}

static void test_finished_some_failed(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.failed = 2; /* invalid lines count as failed */
    expect(&f, RUN_END_FINISHED, 1, "");
}

static void test_finished_all_succeeded(void **state) {
    (void)state;
    struct run_facts f = plain();
    expect(&f, RUN_END_FINISHED, 0, "");
}

/* The first row that holds wins: a full disk is told over the Ctrl-C that followed it, and
   Redis gone over everything. */
static void test_first_row_wins(void **state) {
    (void)state;
    struct run_facts f = plain();
    f.rc = SLUICE_ESTOPPED;
    f.why = SLUICE_STOPPED_USER;
    f.werr = 1;
    f.werr_why = "No space left on device";
    f.failed = 3;
    char *line = NULL;
    assert_int_equal(judge(&f, RUN_END_WRITE_FAILED, &line), 3);
    free(line);
    f.why = SLUICE_STOPPED_AUTH;
    assert_int_equal(judge(&f, RUN_END_WRITE_FAILED, &line), 3);
    free(line);
    f.job = 1;
    f.redis_gave_up = f.commit_gave_up = 1;
    assert_int_equal(judge(&f, RUN_END_REDIS_GONE, &line), 3);
    free(line);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_gone),
        cmocka_unit_test(test_commit_refused),
        cmocka_unit_test(test_feed_failed),
        cmocka_unit_test(test_uncommitted),
        cmocka_unit_test(test_job_output),
        cmocka_unit_test(test_input_cut),
        cmocka_unit_test(test_input_failed),
        cmocka_unit_test(test_write_failed),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_down),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_quota),
        cmocka_unit_test(test_no_price),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_worker_stopped),
        cmocka_unit_test(test_job_stopped),
        cmocka_unit_test(test_stopped),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_finished_some_failed),
        cmocka_unit_test(test_finished_all_succeeded),
        cmocka_unit_test(test_first_row_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
