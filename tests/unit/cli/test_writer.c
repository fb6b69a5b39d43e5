/* Durable output: a refused write keeps the line in memory, in order, until it can be written. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "writer.h"

static char path[64];

static void line_of(char *buf, int i) {
    /* 100 bytes with its newline: {"n":00i,"pad":"xxx...x"} */
    memset(buf, 'x', 100);
    memcpy(buf, "{\"n\":00", 7);
    buf[7] = (char)('0' + i);
    memcpy(buf + 8, ",\"pad\":\"", 8);
    memcpy(buf + 97, "\"}", 2);
    buf[99] = '\n';
    buf[100] = '\0';
}

/* A writer of a fresh file named for `tag`, on `loop` (NULL: none); its sink in *sk. */
static struct writer *open_writer(const char *tag, uv_loop_t *loop, sluice_jsonl_sink_t **sk) {
    snprintf(path, sizeof(path), "/tmp/sluice-writer%s-%d.jsonl", tag, (int)getpid());
    if (loop)
        uv_loop_init(loop);
    assert_int_equal(sluice_jsonl_sink_open(sk, path, 0), 0);
    struct writer *w = writer_new(*sk, loop, 0);
    assert_non_null(w);
    return w;
}

/* Closes the writer, runs its loop (if any) to the end, and frees them and the sink. */
static void close_writer(struct writer *w, sluice_jsonl_sink_t *sk, uv_loop_t *loop) {
    writer_close(w);
    if (loop) {
        uv_run(loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(loop), 0);
    }
    writer_free(w);
    assert_int_equal(sluice_jsonl_sink_close(sk), 0);
}

static void test_keeps_refused_lines_in_order(void **state) {
    (void)state;
    sluice_jsonl_sink_t *sk;
    struct writer *w = open_writer("", NULL, &sk);
    /* A disk that holds 3 lines: the file size limit makes the 4th write fail (EFBIG). */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 300;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    char buf[128];
    int rcs[6];
    for (int i = 0; i < 6; i++) {
        line_of(buf, i);
        rcs[i] = writer_line(w, buf, 100);
    }
    assert_int_equal(writer_flush(w), -1); /* still full */
    setrlimit(RLIMIT_FSIZE, &old);
    assert_int_equal(rcs[0], 0);
    assert_int_equal(rcs[2], 0);
    assert_true(rcs[3] == SLUICE_EIO || rcs[3] == SLUICE_ENOSPC); /* the first refusal says so */
    assert_int_equal(rcs[4], 0);                                  /* later ones are kept quietly */
    assert_int_equal(writer_kept(w), 3);
    const char *why;
    assert_int_not_equal(writer_error(w, &why), 0);
    assert_true(strlen(why) > 0);
    /* Space again: the kept lines go out, in order, after the first three. */
    assert_int_equal(writer_flush(w), 0);
    assert_int_equal(writer_kept(w), 0);
    close_writer(w, sk, NULL);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char got[128];
    for (int i = 0; i < 6; i++) {
        assert_non_null(fgets(got, sizeof(got), f));
        line_of(buf, i);
        assert_string_equal(got, buf);
    }
    assert_null(fgets(got, sizeof(got), f));
    fclose(f);
    unlink(path);
}

static void on_alive(uv_timer_t *t) {
    (void)t;
}

/* With a loop, one iteration's lines go out in one write; a batch the disk refuses leaves the
   file as it was, its lines are kept in order, and the next line says the run must stop. */
static void test_batches_per_loop_iteration(void **state) {
    (void)state;
    uv_loop_t loop;
    sluice_jsonl_sink_t *sk;
    struct writer *w = open_writer("-b", &loop, &sk);
    /* The writer's handles do not keep a loop alive; in a run, the engine's do. */
    uv_timer_t alive;
    uv_timer_init(&loop, &alive);
    uv_timer_start(&alive, on_alive, 60000, 0);
    char buf[128];
    struct stat st;
    for (int i = 0; i < 2; i++) {
        line_of(buf, i);
        assert_int_equal(writer_line(w, buf, 100), 0);
    }
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0); /* not yet: at the end of the iteration */
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 200);
    /* A disk that holds 3 lines: the next batch of 3 does not fit, and none of it stays. */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 300;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    for (int i = 2; i < 5; i++) {
        line_of(buf, i);
        assert_int_equal(writer_line(w, buf, 100), 0);
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 200);
    assert_int_equal(writer_kept(w), 3);
    line_of(buf, 5);
    int rc = writer_line(w, buf, 100); /* kept behind the others, and says stop */
    assert_true(rc == SLUICE_EIO || rc == SLUICE_ENOSPC);
    assert_int_equal(writer_kept(w), 4);
    setrlimit(RLIMIT_FSIZE, &old);
    assert_int_equal(writer_flush(w), 0);
    uv_close((uv_handle_t *)&alive, NULL);
    close_writer(w, sk, &loop);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char got[128];
    for (int i = 0; i < 6; i++) {
        assert_non_null(fgets(got, sizeof(got), f));
        line_of(buf, i);
        assert_string_equal(got, buf);
    }
    assert_null(fgets(got, sizeof(got), f));
    fclose(f);
    unlink(path);
}

struct refill {
    struct writer *w;
    int left; /* lines the callback still queues */
};

/* As the engine does when a write frees slots: results at once, here one more line. */
static void refill_on_written(void *ud, size_t lines) {
    struct refill *r = ud;
    (void)lines;
    char buf[128];
    if (r->left > 0) {
        line_of(buf, 9 - --r->left);
        writer_line(r->w, buf, 100);
    }
}

/* Lines queued by the written callback, within the loop's last step before it waits, are
   written before it waits: nothing else might wake it (with --fsync 0 there is no timer). */
static void test_writes_what_its_callback_queued(void **state) {
    (void)state;
    uv_loop_t loop;
    sluice_jsonl_sink_t *sk;
    struct writer *w = open_writer("-r", &loop, &sk);
    struct refill r = {w, 3};
    writer_on_written(w, refill_on_written, &r);
    uv_timer_t alive;
    uv_timer_init(&loop, &alive);
    uv_timer_start(&alive, on_alive, 60000, 0);
    char buf[128];
    line_of(buf, 0);
    assert_int_equal(writer_line(w, buf, 100), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 400);
    uv_close((uv_handle_t *)&alive, NULL);
    close_writer(w, sk, &loop);
    unlink(path);
}

static size_t written_lines;

static void count_written(void *ud, size_t lines) {
    (void)ud;
    written_lines += lines;
}

/* A long line (a large answer) is not copied into the batch: it is written at once, after the
   lines queued before it, and each is reported written. */
static void test_long_line_goes_on_its_own(void **state) {
    (void)state;
    uv_loop_t loop;
    sluice_jsonl_sink_t *sk;
    struct writer *w = open_writer("-l", &loop, &sk);
    written_lines = 0;
    writer_on_written(w, count_written, NULL);
    size_t big = (size_t)1 << 20, total = 300 + big;
    char *want = malloc(total), *got = malloc(total + 1);
    assert_non_null(want);
    assert_non_null(got);
    line_of(want, 0);
    line_of(want + 100, 1);
    memset(want + 200, 'y', big - 1);
    want[200 + big - 1] = '\n';
    line_of(got, 2); /* (line_of writes a NUL past the line) */
    memcpy(want + 200 + big, got, 100);
    assert_int_equal(writer_line(w, want, 100), 0);
    assert_int_equal(writer_line(w, want + 100, 100), 0);
    assert_int_equal(writer_line(w, want + 200, big), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 200 + big); /* without the loop's turn */
    assert_int_equal(written_lines, 3);
    assert_int_equal(writer_line(w, want + 200 + big, 100), 0); /* batched again */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 200 + big);
    close_writer(w, sk, &loop);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fread(got, 1, total + 1, f), total);
    fclose(f);
    assert_memory_equal(got, want, total);
    free(want);
    free(got);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keeps_refused_lines_in_order),
        cmocka_unit_test(test_batches_per_loop_iteration),
        cmocka_unit_test(test_writes_what_its_callback_queued),
        cmocka_unit_test(test_long_line_goes_on_its_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
