/*
 * The job queue on a real redis-server: feeding is idempotent, a group delivers each entry once,
 * a dead consumer's entries are claimed with growing delivery counts, entries deleted under a
 * pending claim are reported, the commit script is idempotent, results are read after an ID
 * and trimmed, and the status counts add up. Each test uses its own job name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "redis_fixture.h"
#include "redis/queue.h"
#include "sluice.h"

/* Idle time of the "dead" consumer's entries, and the sleep that outlasts it. */
#define IDLE_MS  50
#define SLEEP_US 120000

struct fx {
    struct redis_fixture rf;
    redisContext *c;
};

static int group_setup(void **state) {
    static struct fx fx;
    redis_fixture_start(&fx.rf);
    fx.c = redis_fixture_connect(&fx.rf);
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

/* The connection, or skip() when there is no redis-server. */
static redisContext *conn(void **state) {
    struct fx *fx = *state;
    if (!fx->c)
        skip();
    return fx->c;
}

/* An integer answer to a command. */
static long long cmd_int(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* The group's pending count (XPENDING summary). */
static long long pending(redisContext *c, const char *job) {
    char key[256];
    assert_int_equal(redis_job_key(key, sizeof(key), job, "in"), 0);
    redisReply *r = redisCommand(c, "XPENDING %s %s", key, REDIS_JOB_GROUP);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    long long v = r->element[0]->integer;
    freeReplyObject(r);
    return v;
}

/* Feeds lines 1..n as custom_id "id-<line>", request "{\"n\":<line>}". */
static void feed_n(redisContext *c, const char *job, int n) {
    assert_int_equal(redis_job_create(c, job), 0);
    for (int i = 1; i <= n; i++) {
        char id[32], req[32];
        snprintf(id, sizeof(id), "id-%d", i);
        int len = snprintf(req, sizeof(req), "{\"n\":%d}", i);
        assert_int_equal(redis_job_feed(c, job, (uint64_t)i, id, req, (size_t)len), 1);
    }
}

/* Commits a result for entry e; returns whether it was new. */
static int commit_one(redisContext *c, const char *job, const struct redis_job_entry *e,
                      int failed) {
    char line[128];
    int len = snprintf(line, sizeof(line), "{\"custom_id\":\"%s\",\"error\":%s}",
                       e->custom_id ? e->custom_id : "", failed ? "\"x\"" : "null");
    struct redis_job_commit r = {e->custom_id, e->id, line, (size_t)len, failed, e->lost};
    int flag = -1;
    int rc = redis_job_commit(c, job, &r, 1, &flag);
    assert_true(rc == 0 || rc == 1);
    assert_int_equal(flag, rc);
    return rc;
}

static void test_key_names(void **state) {
    (void)state;
    char key[256];
    assert_int_equal(redis_job_key(key, sizeof(key), "j1", "in"), 0);
    assert_string_equal(key, "sluice:job:{j1}:in");
    assert_int_equal(redis_job_key(key, sizeof(key), "a{b", "in"), -1);
    assert_int_equal(redis_job_key(key, sizeof(key), "a b", "in"), -1);
    assert_int_equal(redis_job_key(key, sizeof(key), "", "in"), -1);
    assert_int_equal(redis_job_key(key, 8, "j1", "in"), -1);
}

/* The compiled-in SHA-1s must be the bodies' own, or every call pays an EVAL. */
static void test_script_shas(void **state) {
    redisContext *c = conn(state);
    const char *sha, *body;
    int i, wrong = 0;
    for (i = 0; (body = redis_job_script_body(i, &sha)) != NULL; i++) {
        redisReply *r = redisCommand(c, "SCRIPT LOAD %s", body);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        if (strcmp(r->str, sha) != 0) {
            fprintf(stderr, "script %d: SHA-1 is %s, not %s\n", i, r->str, sha);
            wrong++;
        }
        freeReplyObject(r);
    }
    assert_int_equal(i, 5);
    assert_int_equal(wrong, 0);
}

static void test_feed_twice_adds_nothing(void **state) {
    redisContext *c = conn(state);
    const char *job = "feed";
    feed_n(c, job, 5);
    assert_int_equal(redis_job_create(c, job), 0); /* BUSYGROUP is fine */
    for (int i = 1; i <= 5; i++)
        assert_int_equal(redis_job_feed(c, job, (uint64_t)i, "again", "{}", 2), 0);
    assert_int_equal(cmd_int(c, "XLEN sluice:job:{feed}:in"), 5);

    /* The batch feed skips what is there and adds the rest, in one call. */
    struct redis_job_line lines[7];
    char ids[7][16];
    for (int i = 0; i < 7; i++) {
        snprintf(ids[i], sizeof(ids[i]), "id-%d", i + 1);
        lines[i] = (struct redis_job_line){(uint64_t)i + 1, ids[i], "{\"b\":1}", 7, NULL};
    }
    assert_int_equal(redis_job_feed_batch(c, job, lines, 7), 2);
    assert_int_equal(redis_job_feed_batch(c, job, lines, 7), 0);
    assert_int_equal(cmd_int(c, "XLEN sluice:job:{feed}:in"), 7);

    uint64_t last = 0, waiting = 0, in_stream = 0;
    assert_int_equal(redis_job_last_fed(c, job, &last), 0);
    assert_int_equal(last, 7);
    assert_int_equal(redis_job_last_fed(c, "nosuchjob", &last), 0);
    assert_int_equal(last, 0);
    assert_int_equal(redis_job_backlog(c, job, &waiting, &in_stream), 0);
    assert_int_equal(waiting, 7);
    assert_int_equal(in_stream, 7);
    assert_int_equal(redis_job_feed(c, job, 0, "x", "{}", 2), SLUICE_EINVAL);
}

static void test_group_delivers_once(void **state) {
    redisContext *c = conn(state);
    const char *job = "once";
    feed_n(c, job, 10);
    struct redis_job_entry *a, *b, *again;
    size_t na, nb, nagain;
    assert_int_equal(redis_job_read(c, job, "a", 4, -1, &a, &na), 0);
    assert_int_equal(redis_job_read(c, job, "b", 100, -1, &b, &nb), 0);
    assert_int_equal(na, 4);
    assert_int_equal(nb, 6);
    assert_int_equal(redis_job_read(c, job, "a", 100, 10, &again, &nagain), 0);
    assert_int_equal(nagain, 0);
    assert_null(again);
    /* Together a and b got lines 1..10, each once, in order, with their own fields. */
    for (size_t i = 0; i < 10; i++) {
        const struct redis_job_entry *e = i < 4 ? &a[i] : &b[i - 4];
        char id[32], req[32];
        snprintf(id, sizeof(id), "id-%zu", i + 1);
        snprintf(req, sizeof(req), "{\"n\":%zu}", i + 1);
        assert_int_equal(e->line, i + 1);
        assert_string_equal(e->custom_id, id);
        assert_string_equal(e->request, req);
        assert_int_equal(e->request_len, strlen(req));
        assert_int_equal(e->deliveries, 1);
        assert_int_equal(e->lost, 0);
    }
    uint64_t waiting, in_stream;
    assert_int_equal(redis_job_backlog(c, job, &waiting, &in_stream), 0);
    assert_int_equal(waiting, 0);
    assert_int_equal(in_stream, 10);
    assert_int_equal(pending(c, job), 10);
    redis_job_entries_free(a, na);
    redis_job_entries_free(b, nb);
}

static void test_dead_consumer_claimed(void **state) {
    redisContext *c = conn(state);
    const char *job = "claim";
    feed_n(c, job, 3);
    struct redis_job_entry *e;
    size_t n;
    char cursor[REDIS_JOB_ID_LEN] = "0-0";
    assert_int_equal(redis_job_read(c, job, "dead", 10, -1, &e, &n), 0);
    assert_int_equal(n, 3);
    redis_job_entries_free(e, n);

    /* Not idle long enough yet. */
    assert_int_equal(redis_job_claim(c, job, "alive", 10000, 10, cursor, &e, &n), 0);
    assert_int_equal(n, 0);

    usleep(SLEEP_US);
    assert_int_equal(redis_job_claim(c, job, "alive", IDLE_MS, 10, cursor, &e, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(cursor, "0-0"); /* a full pass */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(e[i].line, i + 1);
        assert_int_equal(e[i].deliveries, 2);
        assert_int_equal(e[i].lost, 0);
        assert_non_null(e[i].custom_id);
    }
    redis_job_entries_free(e, n);
    /* They are alive's now: claiming again at once finds nothing. */
    assert_int_equal(redis_job_claim(c, job, "third", IDLE_MS, 10, cursor, &e, &n), 0);
    assert_int_equal(n, 0);

    /* alive dies too: a third delivery is past --max-deliveries 2. */
    usleep(SLEEP_US);
    assert_int_equal(redis_job_claim(c, job, "third", IDLE_MS, 10, cursor, &e, &n), 0);
    assert_int_equal(n, 3);
    const int max_deliveries = 2;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(e[i].deliveries, 3);
        assert_true(e[i].deliveries > max_deliveries);
    }
    redis_job_entries_free(e, n);
    assert_int_equal(pending(c, job), 3);
}

static void test_claim_cursor_pages(void **state) {
    redisContext *c = conn(state);
    const char *job = "pages";
    feed_n(c, job, 5);
    struct redis_job_entry *e;
    size_t n;
    char cursor[REDIS_JOB_ID_LEN] = "0-0";
    assert_int_equal(redis_job_read(c, job, "dead", 10, -1, &e, &n), 0);
    redis_job_entries_free(e, n);
    usleep(SLEEP_US);
    assert_int_equal(redis_job_claim(c, job, "alive", IDLE_MS, 2, cursor, &e, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(cursor, "3-1");
    redis_job_entries_free(e, n);
    assert_int_equal(redis_job_claim(c, job, "alive", IDLE_MS, 10, cursor, &e, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(e[0].line, 3);
    assert_string_equal(cursor, "0-0");
    redis_job_entries_free(e, n);
}

static void test_commit_idempotent(void **state) {
    redisContext *c = conn(state);
    const char *job = "commit";
    feed_n(c, job, 2);
    struct redis_job_entry *e;
    size_t n;
    assert_int_equal(redis_job_read(c, job, "w", 10, -1, &e, &n), 0);
    assert_int_equal(n, 2);

    assert_int_equal(commit_one(c, job, &e[0], 0), 1);
    assert_int_equal(commit_one(c, job, &e[0], 0), 0);
    /* After a server restart's empty script cache the commit still runs (EVAL fallback). */
    freeReplyObject(redisCommand(c, "SCRIPT FLUSH"));
    assert_int_equal(commit_one(c, job, &e[0], 0), 0);
    assert_int_equal(cmd_int(c, "XLEN sluice:job:{commit}:out"), 1);
    assert_int_equal(cmd_int(c, "SCARD sluice:job:{commit}:done"), 1);
    assert_int_equal(cmd_int(c, "SISMEMBER sluice:job:{commit}:done id-1"), 1);
    /* Acked and deleted; the other entry is still pending. */
    assert_int_equal(pending(c, job), 1);
    assert_int_equal(cmd_int(c, "XLEN sluice:job:{commit}:in"), 1);

    /* A failed result bumps "failed" once, however often it is committed. */
    assert_int_equal(commit_one(c, job, &e[1], 1), 1);
    assert_int_equal(commit_one(c, job, &e[1], 1), 0);
    redisReply *r = redisCommand(c, "HGET sluice:job:{commit}:meta failed");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "1");
    freeReplyObject(r);
    assert_int_equal(pending(c, job), 0);
    assert_int_equal(cmd_int(c, "XLEN sluice:job:{commit}:in"), 0);
    assert_int_equal(cmd_int(c, "XLEN sluice:job:{commit}:out"), 2);
    redis_job_entries_free(e, n);
}

/* Out of memory (maxmemory 1, noeviction), the scripts whose first write may not grow memory
   still run, and run whole (Redis 7 decides at a script's first write): a commit stores its
   result with its acknowledgment, a claim records the deleted entry in :lost, a trim empties
   :out and records its count. So the job can go on, and no entry is acknowledged without its
   result. (With "#!lua" Redis would refuse them all up front and a full Redis would stop
   every worker.) */
static void test_oom_commit_claim_trim_run_whole(void **state) {
    redisContext *c = conn(state);
    const char *job = "oom";
    feed_n(c, job, 2);
    struct redis_job_entry *e;
    size_t n;
    assert_int_equal(redis_job_read(c, job, "w", 10, -1, &e, &n), 0);
    assert_int_equal(n, 2);
    freeReplyObject(redisCommand(c, "CONFIG SET maxmemory-policy noeviction"));
    freeReplyObject(redisCommand(c, "CONFIG SET maxmemory 1"));
    /* Redis really refuses what grows memory first. */
    redisReply *x = redisCommand(c, "SET oom-probe 1");
    int refused = x && x->type == REDIS_REPLY_ERROR && strncmp(x->str, "OOM", 3) == 0;
    freeReplyObject(x);
    char line[] = "{\"custom_id\":\"id-1\",\"error\":null}";
    struct redis_job_commit r = {e[0].custom_id, e[0].id, line, sizeof(line) - 1, 0, 0};
    int flag = -1;
    int rc = redis_job_commit(c, job, &r, 1, &flag);
    long long pend = pending(c, job);
    long long out = cmd_int(c, "XLEN sluice:job:{oom}:out");
    freeReplyObject(redisCommand(c, "XDEL sluice:job:{oom}:in %s", e[1].id)); /* lost */
    struct redis_job_entry *ce = NULL;
    size_t cn = 0;
    char cursor[REDIS_JOB_ID_LEN] = "0-0";
    int crc = redis_job_claim(c, job, "w2", 0, 10, cursor, &ce, &cn);
    long long lost = cmd_int(c, "SISMEMBER sluice:job:{oom}:lost %s", e[1].id);
    const char *sha, *body = redis_job_script_body(REDIS_JOB_SCRIPT_TRIM, &sha);
    x = redisCommand(c, "EVAL %s 2 sluice:job:{oom}:out sluice:job:{oom}:meta 99999999999999-0 1",
                     body);
    int trim_ok = x && x->type == REDIS_REPLY_INTEGER;
    freeReplyObject(x);
    long long out_after = cmd_int(c, "XLEN sluice:job:{oom}:out");
    freeReplyObject(redisCommand(c, "CONFIG SET maxmemory 0"));
    assert_true(refused);
    assert_int_equal(rc, 1);   /* stored */
    assert_int_equal(pend, 1); /* the other entry only */
    assert_int_equal(out, 1);  /* with its result */
    assert_int_equal(crc, 0);
    assert_int_equal(lost, 1);
    assert_true(trim_ok);
    assert_int_equal(out_after, 0);
    redis_job_entries_free(ce, cn);
    redis_job_entries_free(e, n);
}

static void test_commit_batch(void **state) {
    redisContext *c = conn(state);
    const char *job = "batch";
    feed_n(c, job, 3);
    struct redis_job_entry *e;
    size_t n;
    assert_int_equal(redis_job_read(c, job, "w", 10, -1, &e, &n), 0);
    assert_int_equal(commit_one(c, job, &e[1], 0), 1);
    struct redis_job_commit rs[3];
    for (size_t i = 0; i < 3; i++)
        rs[i] = (struct redis_job_commit){e[i].custom_id, e[i].id, "{}", 2, 0, 0};
    int flags[3];
    assert_int_equal(redis_job_commit(c, job, rs, 3, flags), 2);
    assert_int_equal(flags[0], 1);
    assert_int_equal(flags[1], 0);
    assert_int_equal(flags[2], 1);
    /* One entry for the single commit, one for the batch's two new results. */
    assert_int_equal(cmd_int(c, "XLEN sluice:job:{batch}:out"), 2);
    struct redis_job_result *r;
    size_t nr;
    assert_int_equal(redis_job_results(c, job, NULL, 10, &r, &nr), 0);
    assert_int_equal(nr, 3);
    assert_int_equal(r[0].line, 2);
    assert_int_equal(r[1].line, 1);
    assert_int_equal(r[2].line, 3);
    assert_string_equal(r[1].id, r[2].id);
    redis_job_results_free(r, nr);
    assert_int_equal(pending(c, job), 0);

    /* The same batch again changes nothing. */
    assert_int_equal(redis_job_commit(c, job, rs, 3, flags), 0);
    assert_int_equal(flags[0] + flags[1] + flags[2], 0);
    assert_int_equal(cmd_int(c, "XLEN sluice:job:{batch}:out"), 2);
    redis_job_entries_free(e, n);

    /* A batch of ids all new: XACK acknowledges every entry, so no SMISMEMBER is run. */
    for (int i = 4; i <= 6; i++) {
        char id[32];
        snprintf(id, sizeof(id), "id-%d", i);
        assert_int_equal(redis_job_feed(c, job, (uint64_t)i, id, "{}", 2), 1);
    }
    assert_int_equal(redis_job_read(c, job, "w", 10, -1, &e, &n), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++)
        rs[i] = (struct redis_job_commit){e[i].custom_id, e[i].id, "{}", 2, 0, 0};
    redisReply *x = redisCommand(c, "CONFIG RESETSTAT");
    freeReplyObject(x);
    assert_int_equal(redis_job_commit(c, job, rs, 3, flags), 3);
    x = redisCommand(c, "INFO commandstats");
    assert_non_null(x);
    assert_null(strstr(x->str, "cmdstat_smismember"));
    assert_non_null(strstr(x->str, "cmdstat_xack"));
    freeReplyObject(x);
    assert_int_equal(cmd_int(c, "SCARD sluice:job:{batch}:done"), 6);
    assert_int_equal(pending(c, job), 0);
    redis_job_entries_free(e, n);
}

static void test_results_after_and_trim(void **state) {
    redisContext *c = conn(state);
    const char *job = "results";
    feed_n(c, job, 6);
    struct redis_job_entry *e;
    size_t n;
    assert_int_equal(redis_job_read(c, job, "w", 5, -1, &e, &n), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(commit_one(c, job, &e[i], 0), 1);
    redis_job_entries_free(e, n);

    struct redis_job_result *r;
    size_t nr;
    char second[REDIS_JOB_ID_LEN];
    assert_int_equal(redis_job_results(c, job, NULL, 2, &r, &nr), 0);
    assert_int_equal(nr, 2);
    assert_int_equal(r[0].line, 1);
    assert_int_equal(r[1].line, 2);
    assert_string_equal(r[0].result, "{\"custom_id\":\"id-1\",\"error\":null}");
    assert_int_equal(r[0].result_len, strlen(r[0].result));
    strcpy(second, r[1].id);
    redis_job_results_free(r, nr);

    assert_int_equal(redis_job_results(c, job, second, 100, &r, &nr), 0);
    assert_int_equal(nr, 3);
    assert_int_equal(r[0].line, 3);
    assert_int_equal(r[2].line, 5);
    redis_job_results_free(r, nr);

    assert_int_equal(redis_job_trim_results(c, job, second), 2);
    assert_int_equal(cmd_int(c, "XLEN sluice:job:{results}:out"), 3);
    assert_int_equal(redis_job_results(c, job, "0-0", 100, &r, &nr), 0);
    assert_int_equal(nr, 3);
    assert_int_equal(r[0].line, 3);
    redis_job_results_free(r, nr);
    /* The input stream is not touched: line 6 still waits. */
    assert_int_equal(cmd_int(c, "XLEN sluice:job:{results}:in"), 1);
    assert_int_equal(redis_job_results(c, job, "junk", 1, &r, &nr), SLUICE_EINVAL);
}

static void test_status_counts(void **state) {
    redisContext *c = conn(state);
    const char *job = "status";
    struct redis_job_status st;
    assert_int_equal(redis_job_status(c, "nosuchjob", &st), 0);
    assert_int_equal(st.fed + st.waiting + st.pending + st.done + st.failed + st.lost, 0);
    assert_int_equal(st.n_workers, 0);
    assert_true(st.now_ms > 0);
    redis_job_status_free(&st);

    feed_n(c, job, 5);
    struct redis_job_entry *e;
    size_t n;
    assert_int_equal(redis_job_read(c, job, "w1", 3, -1, &e, &n), 0);
    assert_int_equal(commit_one(c, job, &e[0], 0), 1);
    assert_int_equal(commit_one(c, job, &e[1], 1), 1);
    redis_job_entries_free(e, n);
    assert_int_equal(redis_job_heartbeat(c, job, "w1", "{\"rate\":1}"), 0);
    assert_int_equal(redis_job_heartbeat(c, job, "w2", NULL), 0);

    assert_int_equal(redis_job_status(c, job, &st), 0);
    assert_int_equal(st.fed, 5);
    assert_int_equal(st.waiting, 2);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.done, 2);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.lost, 0);
    assert_int_equal(st.n_workers, 2);
    for (size_t i = 0; i < st.n_workers; i++) {
        const struct redis_job_worker *w = &st.workers[i];
        assert_true(st.now_ms - w->heartbeat_ms >= 0 && st.now_ms - w->heartbeat_ms < 5000);
        if (strcmp(w->consumer, "w1") == 0)
            assert_string_equal(w->info, "{\"rate\":1}");
        else
            assert_string_equal(w->info, "{}");
    }
    redis_job_status_free(&st);
    assert_null(st.workers);
}

static void test_claim_reports_deleted(void **state) {
    redisContext *c = conn(state);
    const char *job = "lost";
    feed_n(c, job, 3);
    struct redis_job_entry *e;
    size_t n;
    char cursor[REDIS_JOB_ID_LEN] = "0-0";
    assert_int_equal(redis_job_read(c, job, "dead", 10, -1, &e, &n), 0);
    redis_job_entries_free(e, n);
    /* Something outside sluice deletes a pending entry. */
    assert_int_equal(cmd_int(c, "XDEL sluice:job:{lost}:in 2-1"), 1);
    usleep(SLEEP_US);

    assert_int_equal(redis_job_claim(c, job, "alive", IDLE_MS, 10, cursor, &e, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(e[0].line, 1);
    assert_int_equal(e[1].line, 3);
    assert_int_equal(e[2].lost, 1);
    assert_int_equal(e[2].line, 2);
    assert_string_equal(e[2].id, "2-1");
    assert_null(e[2].custom_id);
    struct redis_job_entry lost = e[2];
    redis_job_entries_free(e, n);
    /* Recorded, so it survives the claimer; Redis dropped it from the pending list. */
    assert_int_equal(cmd_int(c, "SISMEMBER sluice:job:{lost}:lost 2-1"), 1);
    assert_int_equal(pending(c, job), 2);

    /* Reported again until its failed result is committed. */
    assert_int_equal(redis_job_claim(c, job, "other", IDLE_MS, 10, cursor, &e, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].lost, 1);
    redis_job_entries_free(e, n);

    /* Committed by a worker that held it before it was reported lost (no L flag): it still
       leaves :lost, or the job would never end. */
    lost.lost = 0;
    assert_int_equal(commit_one(c, job, &lost, 1), 1);
    assert_int_equal(cmd_int(c, "SCARD sluice:job:{lost}:lost"), 0);
    lost.lost = 1;
    assert_int_equal(commit_one(c, job, &lost, 1), 0);
    redisReply *r = redisCommand(c, "SISMEMBER sluice:job:{lost}:done %b", "\0line:2", (size_t)7);
    assert_non_null(r);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    assert_int_equal(cmd_int(c, "SCARD sluice:job:{lost}:lost"), 0);
    assert_int_equal(redis_job_claim(c, job, "other", IDLE_MS, 10, cursor, &e, &n), 0);
    assert_int_equal(n, 0);

    struct redis_job_status st;
    assert_int_equal(redis_job_status(c, job, &st), 0);
    assert_int_equal(st.done, 1);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.lost, 0);
    redis_job_status_free(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_names),
        cmocka_unit_test(test_script_shas),
        cmocka_unit_test(test_oom_commit_claim_trim_run_whole),
        cmocka_unit_test(test_feed_twice_adds_nothing),
        cmocka_unit_test(test_group_delivers_once),
        cmocka_unit_test(test_dead_consumer_claimed),
        cmocka_unit_test(test_claim_cursor_pages),
        cmocka_unit_test(test_commit_idempotent),
        cmocka_unit_test(test_commit_batch),
        cmocka_unit_test(test_results_after_and_trim),
        cmocka_unit_test(test_status_counts),
        cmocka_unit_test(test_claim_reports_deleted),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
