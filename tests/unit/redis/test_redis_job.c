/*
 * A job in Redis end to end inside one process, on a real redis-server: the feeder puts a file
 * in (rejected lines with their reason), the engine works the job's source, results are
 * committed and handed to the writer exactly once; feeding the same file again adds nothing;
 * an entry a dead worker left behind too often, and one deleted under it, become failed results.
 * No HTTP server: requests go to a closed port with one attempt each, so they fail at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "redis_fixture.h"
#include "redis/queue.h"
#include "sluice.h"

struct fx {
    struct redis_fixture rf;
    redisContext *c;
    char url[64];
};

static int group_setup(void **state) {
    static struct fx fx;
    redis_fixture_start(&fx.rf);
    fx.c = redis_fixture_connect(&fx.rf);
    snprintf(fx.url, sizeof(fx.url), "redis://127.0.0.1:%d", fx.rf.port);
    *state = &fx;
    return 0;
}

static int group_teardown(void **state) {
    struct fx *fx = *state;
    if (fx->c)
        redisFree(fx->c);
    redis_fixture_stop(&fx->rf);
    return 0;
}

static struct fx *need(void **state) {
    struct fx *fx = *state;
    if (!fx->c)
        skip();
    return fx;
}

static long long cmd_int(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    long long v = r->type == REDIS_REPLY_INTEGER  ? r->integer
                  : r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10)
                                                  : -1;
    freeReplyObject(r);
    return v;
}

#define MAX_OUT 64

/* One process's view: an engine working a job, and what the writer was handed. */
struct world {
    uv_loop_t loop;
    sluice_redis_t *r;
    sluice_job_t *job;
    sluice_t *eng;
    sluice_jsonl_source_t *in;
    char out[MAX_OUT][256];
    int n_out, syncs, results, timed_out;
    /* Requests sent without a result, plus results of sent requests not acknowledged: what a
       kill -9 would make be sent again (invalid lines are never sent, so never again). */
    uint64_t most_outstanding;
    char sent[MAX_OUT]; /* per result, in commit order: its request was sent */
    uv_timer_t guard;
};

static int slots = 4; /* the engine's concurrency, for the next world_open */

static int on_result(const sluice_result_t *res, void *ud) {
    struct world *w = ud;
    sluice_stats_t st;
    sluice_stats(w->eng, &st);
    /* Held by the engine (invalid lines have their result at once), then the results Redis
       has not acknowledged: the last ones handed over, as commits are acknowledged in order. */
    uint64_t out = st.pulled - (uint64_t)w->results;
    for (int i = w->results - (int)sluice_job_uncommitted(w->job); i < w->results; i++)
        out += (uint64_t)w->sent[i];
    assert_true(w->results < MAX_OUT);
    w->sent[w->results] = res->attempts > 0;
    if (out > w->most_outstanding)
        w->most_outstanding = out;
    char line[256];
    snprintf(line, sizeof(line), "{\"custom_id\":\"%s\",\"line\":%llu,\"error\":%s}",
             res->req->custom_id, (unsigned long long)res->req->line,
             res->error_code ? "\"failed\"" : "null");
    w->results++;
    return sluice_job_commit(w->job, res, line, strlen(line));
}

static int on_write(void *ud, const char *line, size_t len) {
    struct world *w = ud;
    assert_true(w->n_out < MAX_OUT);
    assert_true(len < sizeof(w->out[0]));
    memcpy(w->out[w->n_out], line, len);
    w->out[w->n_out][len] = '\0';
    w->n_out++;
    return 0;
}

static int on_sync(void *ud) {
    struct world *w = ud;
    w->syncs++;
    return 0;
}

static void on_guard(uv_timer_t *t) {
    struct world *w = t->data;
    w->timed_out = 1;
    sluice_stop(w->eng, SLUICE_STOP_ABANDON);
    uv_stop(&w->loop);
}

/* Opens the world on job `name`; `input` (a file) is fed when not NULL. */
static void world_open(struct world *w, struct fx *fx, const char *name, const char *input,
                       double claim_idle_s, int max_deliveries) {
    memset(w, 0, sizeof(*w));
    char err[256];
    assert_int_equal(uv_loop_init(&w->loop), 0);
    assert_int_equal(sluice_redis_open(&w->r, &w->loop, fx->url, err, sizeof(err)), 0);
    sluice_config_t cfg;
    sluice_config_init(&cfg);
    cfg.base_url = "http://127.0.0.1:1"; /* nothing listens: every attempt fails at once */
    cfg.provider = SLUICE_PROVIDER_NONE;
    cfg.max_attempts = 1;
    cfg.concurrency = slots;
    assert_int_equal(sluice_new(&w->eng, &cfg, &w->loop), 0);
    sluice_job_config_t jc;
    sluice_job_config_init(&jc);
    jc.name = name;
    jc.consumer = "test-worker";
    jc.claim_idle_s = claim_idle_s;
    jc.max_deliveries = max_deliveries;
    jc.heartbeat_s = 0.2;
    assert_int_equal(sluice_job_open(&w->job, w->r, &jc), 0);
    sluice_source_t src;
    assert_int_equal(sluice_job_source(w->job, w->eng, &src), 0);
    assert_int_equal(sluice_set_source(w->eng, &src), 0);
    assert_int_equal(sluice_set_result_cb(w->eng, on_result, w), 0);
    if (input) {
        assert_int_equal(sluice_jsonl_source_open(&w->in, input, NULL, NULL, NULL), 0);
        assert_int_equal(sluice_job_feed(w->job, w->in, 5, NULL, NULL), 0);
    }
    assert_int_equal(sluice_job_output(w->job, on_write, on_sync, w), 0);
    uv_timer_init(&w->loop, &w->guard);
    w->guard.data = w;
    uv_timer_start(&w->guard, on_guard, 15000, 0);
}

/* Runs the engine to the end of the job, then the loop until the writer is done. */
static void world_run(struct world *w) {
    assert_int_equal(sluice_run(w->eng), 0);
    while (!w->timed_out &&
           (sluice_job_uncommitted(w->job) > 0 || sluice_job_output_done(w->job) == 0))
        uv_run(&w->loop, UV_RUN_ONCE);
    assert_false(w->timed_out);
    assert_int_equal(sluice_job_output_done(w->job), 1);
}

static void world_close(struct world *w) {
    uv_close((uv_handle_t *)&w->guard, NULL);
    sluice_free(w->eng);
    sluice_job_close(w->job);
    sluice_redis_close(w->r);
    for (int i = 0; i < 1000 && uv_loop_close(&w->loop) == UV_EBUSY; i++)
        uv_run(&w->loop, UV_RUN_NOWAIT);
    if (w->in)
        sluice_jsonl_source_close(w->in);
}

static int count_out(const struct world *w, const char *needle) {
    int n = 0;
    for (int i = 0; i < w->n_out; i++)
        n += strstr(w->out[i], needle) != NULL;
    return n;
}

static void write_input(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 1; i <= 12; i++) {
        if (i == 5)
            fputs("{not json\n", f);
        else if (i == 8)
            fputs("{\"custom_id\":\"req-1\",\"method\":\"POST\",\"url\":\"/v1/x\",\"body\":{}}\n",
                  f);
        else
            fprintf(f,
                    "{\"custom_id\":\"req-%d\",\"method\":\"POST\",\"url\":\"/v1/x\",\"body\":"
                    "{\"n\":%d}}\n",
                    i, i);
    }
    fclose(f);
}

static void test_feed_work_write_once(void **state) {
    struct fx *fx = need(state);
    char path[128];
    snprintf(path, sizeof(path), "%s/in.jsonl", fx->rf.dir);
    write_input(path);
    struct world w;
    world_open(&w, fx, "t1", path, 60, 5);
    world_run(&w);
    assert_int_equal(sluice_job_feed_done(w.job), 1);
    /* Twelve lines, twelve results: the bad line and the duplicate fail, marked by line. */
    assert_int_equal(w.results, 12);
    assert_int_equal(w.n_out, 12);
    for (int i = 1; i <= 12; i++) {
        char needle[32];
        snprintf(needle, sizeof(needle), "\"line\":%d,", i);
        assert_int_equal(count_out(&w, needle), 1);
    }
    assert_int_equal(count_out(&w, "\"custom_id\":\"req-1\""), 2);
    assert_true(w.syncs >= 1);
    world_close(&w);
    assert_int_equal(cmd_int(fx->c, "HGET sluice:job:{t1}:meta total"), 12);
    assert_int_equal(cmd_int(fx->c, "SCARD sluice:job:{t1}:done"), 12);
    assert_int_equal(cmd_int(fx->c, "XLEN sluice:job:{t1}:in"), 0);
    assert_int_equal(cmd_int(fx->c, "XLEN sluice:job:{t1}:out"), 0); /* written, so trimmed */
    assert_int_equal(cmd_int(fx->c, "HGET sluice:job:{t1}:meta failed"), 12);

    /* The same file again: nothing is added, nothing is written twice. */
    world_open(&w, fx, "t1", path, 60, 5);
    world_run(&w);
    assert_int_equal(w.results, 0);
    assert_int_equal(w.n_out, 0);
    world_close(&w);
    redisReply *r = redisCommand(fx->c, "XINFO STREAM sluice:job:{t1}:in");
    assert_non_null(r);
    long long added = -1;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (strcmp(r->element[i]->str, "entries-added") == 0)
            added = r->element[i + 1]->integer;
    freeReplyObject(r);
    assert_int_equal(added, 12);
}

static void test_dead_worker_entries(void **state) {
    struct fx *fx = need(state);
    redisContext *c = fx->c;
    const char *job = "t2";
    assert_int_equal(redis_job_create(c, job), 0);
    const char *req = "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/x\",\"body\":{}}";
    assert_int_equal(redis_job_feed(c, job, 1, "a", req, strlen(req)), 1);
    assert_int_equal(redis_job_feed(c, job, 2, "b", req, strlen(req)), 1);
    /* A worker took both and died; one entry was then deleted by hand. */
    struct redis_job_entry *e;
    size_t n;
    assert_int_equal(redis_job_read(c, job, "dead", 10, -1, &e, &n), 0);
    assert_int_equal(n, 2);
    redis_job_entries_free(e, n);
    assert_int_equal(cmd_int(c, "XDEL sluice:job:{t2}:in 2-1"), 1);
    assert_int_equal(cmd_int(c, "HSET sluice:job:{t2}:meta total 2"), 1);

    struct world w;
    world_open(&w, fx, job, NULL, 0.1, 1);
    world_run(&w);
    /* Entry 1 comes back a second time: past --max-deliveries 1, it fails unsent. Entry 2 is
       gone: it fails as lost. Nothing reached the (closed) provider port either way. */
    assert_int_equal(w.n_out, 2);
    assert_int_equal(count_out(&w, "\"custom_id\":\"a\",\"line\":1,\"error\":\"failed\""), 1);
    assert_int_equal(count_out(&w, "\"custom_id\":\"line-2\",\"line\":2,\"error\":\"failed\""), 1);
    sluice_stats_t st;
    sluice_stats(w.eng, &st);
    assert_int_equal(st.attempts, 0);
    world_close(&w);
    assert_int_equal(cmd_int(c, "XLEN sluice:job:{t2}:in"), 0);
    assert_int_equal(cmd_int(c, "SCARD sluice:job:{t2}:lost"), 0);
    assert_int_equal(cmd_int(c, "XLEN sluice:job:{t2}:out"), 0);
}

/* With two slots, no more than two requests are out or have results that Redis has not
   acknowledged, at any time: what a kill -9 would make be sent again. */
static void test_outstanding_bound(void **state) {
    struct fx *fx = need(state);
    char path[128];
    snprintf(path, sizeof(path), "%s/in3.jsonl", fx->rf.dir);
    write_input(path);
    struct world w;
    slots = 2;
    world_open(&w, fx, "t3", path, 60, 5);
    slots = 4;
    world_run(&w);
    assert_int_equal(w.n_out, 12);
    assert_int_equal(w.most_outstanding, 2);
    world_close(&w);

    /* With four slots the same job has more out at once: the figure above is the slots'. */
    snprintf(path, sizeof(path), "%s/in4.jsonl", fx->rf.dir);
    write_input(path);
    world_open(&w, fx, "t4", path, 60, 5);
    world_run(&w);
    assert_int_equal(w.n_out, 12);
    assert_true(w.most_outstanding > 2);
    world_close(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feed_work_write_once),
        cmocka_unit_test(test_dead_worker_entries),
        cmocka_unit_test(test_outstanding_bound),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
