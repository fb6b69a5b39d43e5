/*
 * The shared budget's script against a real redis-server: pacing, bounded burst, one budget for
 * many clients, debt, refunds, rate changes, the shared pause, unlimited budgets, and Redis's
 * clock as the only clock. Rates are high and windows short so the suite stays well under 2 s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "redis_fixture.h"
#include "redis/shared_limiter.h"
#include "sluice.h"

static struct redis_fixture fx;

static int group_setup(void **state) {
    (void)state;
    redis_fixture_start(&fx);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    redis_fixture_stop(&fx);
    return 0;
}

/* Leases one request (and `tokens`) at a time until refused; returns how many were granted. */
static int drain(struct redis_limiter *l, double tokens, int64_t *wait_ms) {
    int n = 0;
    int rc;
    while ((rc = redis_limiter_lease(l, 1, tokens, wait_ms)) == 1)
        n++;
    assert_int_equal(rc, 0);
    return n;
}

/* One script call on budget `key` at virtual time `at` (ms), parsed into *rep: its result. */
static int script_at(redisContext *c, const char *key, const char *op, double at, int n,
                     const double *v, struct redis_limiter_reply *rep) {
    char *k = redis_limiter_key(key);
    char op_at[48];
    snprintf(op_at, sizeof(op_at), "%s@%.17g", op, at);
    struct redis_limiter_args a;
    redis_limiter_args(&a, k, op_at, n, v);
    const char *argv[3 + REDIS_LIMITER_MAX_ARGC] = {"EVAL", redis_limiter_script(NULL), "1"};
    for (int i = 0; i < a.argc; i++)
        argv[3 + i] = a.argv[i];
    redisReply *r = redisCommandArgv(c, 3 + a.argc, argv, NULL);
    int rc = redis_limiter_parse(r, rep);
    freeReplyObject(r);
    free(k);
    return rc;
}

static void test_paces_evenly(void **state) {
    (void)state;
    redisContext *c = redis_fixture_connect_or_skip(&fx);
    /* One request per ms with a burst of 10 ms. */
    struct redis_limiter *l = redis_limiter_new(c, "pace", 60000, 0, 0.01);
    assert_non_null(l);
    int64_t t0 = redis_fixture_now_ms(c), t1 = t0;
    int granted = 0;
    while (t1 - t0 < 500) {
        int64_t w = 0;
        int rc = redis_limiter_lease(l, 1, 0, &w);
        assert_true(rc >= 0);
        if (rc == 1)
            granted++;
        else
            usleep((useconds_t)(w * 1000));
        t1 = redis_fixture_now_ms(c);
    }
    int64_t elapsed = t1 - t0;
    /* GCRA admits the burst plus one per interval, and no more; a client that keeps asking
       gets close to that. */
    assert_true(granted <= 10 + elapsed + 1);
    assert_true(granted >= elapsed * 8 / 10);
    redis_limiter_free(l);
    redisFree(c);
}

static void test_burst_is_bounded(void **state) {
    (void)state;
    redisContext *c = redis_fixture_connect_or_skip(&fx);
    /* 10 per s with a burst of 1 s: 10 at once, then one per 100 ms. */
    struct redis_limiter *l = redis_limiter_new(c, "burst", 600, 0, 1);
    assert_non_null(l);
    int64_t w = -1;
    assert_int_equal(drain(l, 0, &w), 10);
    assert_true(w > 80 && w <= 100);
    /* A refusal takes nothing: asking again says the same. */
    int64_t w2 = -1;
    assert_int_equal(redis_limiter_lease(l, 1, 0, &w2), 0);
    assert_true(w2 > 80 && w2 <= w);
    redis_limiter_free(l);
    redisFree(c);
}

static void test_two_clients_share_one_budget(void **state) {
    (void)state;
    redisContext *ca = redis_fixture_connect_or_skip(&fx);
    redisContext *cb = redis_fixture_connect_or_skip(&fx);
    struct redis_limiter *a = redis_limiter_new(ca, "shared", 600, 0, 1);
    struct redis_limiter *b = redis_limiter_new(cb, "shared", 600, 0, 1);
    assert_non_null(a);
    assert_non_null(b);
    int na = 0, nb = 0;
    int64_t w = 0;
    for (int i = 0; i < 20; i++) {
        if (redis_limiter_lease(i % 2 ? b : a, 1, 0, &w) == 1)
            *(i % 2 ? &nb : &na) += 1;
    }
    /* Two processes each paced alone would have had 10 each. */
    assert_int_equal(na + nb, 10);
    assert_int_equal(na, 5);
    assert_int_equal(nb, 5);
    assert_int_equal(redis_limiter_lease(a, 1, 0, &w), 0);
    assert_int_equal(redis_limiter_lease(b, 1, 0, &w), 0);
    redis_limiter_free(a);
    redis_limiter_free(b);
    redisFree(ca);
    redisFree(cb);
}

static void test_large_lease_at_rest_leaves_debt(void **state) {
    (void)state;
    redisContext *c = redis_fixture_connect_or_skip(&fx);
    /* 100 tokens per s (10 ms each), burst 1 s = 100 tokens; requests unlimited. */
    struct redis_limiter *l = redis_limiter_new(c, "debt", 0, 6000, 1);
    assert_non_null(l);
    int64_t w = -1;
    assert_int_equal(redis_limiter_lease(l, 1, 500, &w), 1);
    assert_int_equal(w, 0);
    /* 5 s of budget were spent, 1 s of it was the burst: the next token waits about 4 s. */
    assert_int_equal(redis_limiter_lease(l, 1, 1, &w), 0);
    assert_true(w > 3900 && w <= 4010);

    /* Not at rest, the large lease waits for rest instead of for the room it cannot have. */
    struct redis_limiter *m = redis_limiter_new(c, "debt2", 0, 6000, 1);
    assert_non_null(m);
    assert_int_equal(redis_limiter_lease(m, 1, 1, &w), 1);
    assert_int_equal(redis_limiter_lease(m, 1, 500, &w), 0);
    assert_true(w >= 1 && w <= 10);
    redis_limiter_free(m);
    redis_limiter_free(l);
    redisFree(c);
}

static void test_reconcile_refunds(void **state) {
    (void)state;
    redisContext *c = redis_fixture_connect_or_skip(&fx);
    struct redis_limiter *l = redis_limiter_new(c, "recon", 0, 6000, 1); /* 100 tokens burst */
    assert_non_null(l);
    int64_t w = -1;
    assert_int_equal(redis_limiter_lease(l, 1, 100, &w), 1);
    assert_int_equal(redis_limiter_lease(l, 1, 50, &w), 0);
    assert_true(w > 400 && w <= 500);
    /* The answer used 20 of the 100 estimated tokens. */
    assert_int_equal(redis_limiter_reconcile(l, -80), 0);
    assert_int_equal(redis_limiter_lease(l, 1, 50, &w), 1);
    /* A huge refund leaves the budget at rest, not richer: an overrun charged after it
       (150 tokens, 1.5 s) still leaves a debt of 0.5 s. */
    assert_int_equal(redis_limiter_reconcile(l, -1e6), 0);
    assert_int_equal(redis_limiter_reconcile(l, 150), 0);
    assert_int_equal(redis_limiter_lease(l, 1, 1, &w), 0);
    assert_true(w > 400 && w <= 510);
    assert_int_equal(redis_limiter_reconcile(l, -1e6), 0);
    /* The engine's way: the delta rides along with the next lease. */
    assert_int_equal(redis_limiter_reserve(l, 1, 50, -100, 0, &w), 1);
    assert_int_equal(w, 0);
    /* An overrun is charged too. */
    assert_int_equal(redis_limiter_reconcile(l, 1000), 0);
    assert_int_equal(redis_limiter_lease(l, 1, 1, &w), 0);
    assert_true(w > 9000);
    redis_limiter_free(l);
    redisFree(c);
}

static void test_reservation_within_max_wait(void **state) {
    (void)state;
    redisContext *c = redis_fixture_connect_or_skip(&fx);
    struct redis_limiter *l = redis_limiter_new(c, "reserve", 600, 0, 1);
    assert_non_null(l);
    int64_t w = -1;
    assert_int_equal(drain(l, 0, &w), 10);
    /* Granted, to be used about 100 ms later; the next one is about 200 ms away. */
    assert_int_equal(redis_limiter_reserve(l, 1, 0, 0, 150, &w), 1);
    assert_true(w > 80 && w <= 100);
    assert_int_equal(redis_limiter_reserve(l, 1, 0, 0, 150, &w), 0);
    assert_true(w > 180 && w <= 200);
    redis_limiter_free(l);
    redisFree(c);
}

static void test_set_rates_changes_the_pace(void **state) {
    (void)state;
    redisContext *ca = redis_fixture_connect_or_skip(&fx);
    redisContext *cb = redis_fixture_connect_or_skip(&fx);
    /* 100 per s, burst 100. */
    struct redis_limiter *a = redis_limiter_new(ca, "rates", 6000, 0, 1);
    struct redis_limiter *b = redis_limiter_new(cb, "rates", -1, -1, -1);
    assert_non_null(a);
    assert_non_null(b);
    int64_t w = -1;
    assert_int_equal(redis_limiter_lease(a, 100, 0, &w), 1);
    assert_int_equal(redis_limiter_lease(a, 1, 0, &w), 0);
    assert_true(w >= 1 && w <= 10);
    /* b learned a tenth of the rate: the debt a ran up is now ten times as long, for a too. */
    assert_int_equal(redis_limiter_set_rates(b, 600, 0), 0);
    assert_int_equal(redis_limiter_lease(a, 1, 0, &w), 0);
    assert_true(w > 9000 && w <= 9100);
    double rpm = 0, tpm = -1;
    redis_limiter_rates(a, &rpm, &tpm);
    assert_true(rpm == 600 && tpm == 0);
    /* And back up. */
    assert_int_equal(redis_limiter_set_rates(b, 6000, 0), 0);
    assert_int_equal(redis_limiter_lease(a, 1, 0, &w), 0);
    assert_true(w >= 1 && w <= 10);
    /* Joining with no rates of one's own (-1) kept the shared ones. */
    redis_limiter_rates(b, &rpm, &tpm);
    assert_true(rpm == 6000);
    redis_limiter_free(a);
    redis_limiter_free(b);
    redisFree(ca);
    redisFree(cb);
}

static void test_pause_blocks_every_client(void **state) {
    (void)state;
    redisContext *ca = redis_fixture_connect_or_skip(&fx);
    redisContext *cb = redis_fixture_connect_or_skip(&fx);
    struct redis_limiter *a = redis_limiter_new(ca, "pause", 0, 0, 1);
    struct redis_limiter *b = redis_limiter_new(cb, "pause", 0, 0, 1);
    assert_non_null(a);
    assert_non_null(b);
    /* A virtual clock: both name the same time, as Redis's TIME would. */
    double now = 1e6;
    redis_limiter_clock(a, now);
    redis_limiter_clock(b, now);
    int64_t w = -1;
    assert_int_equal(redis_limiter_lease(b, 1, 0, &w), 1);
    /* a saw a 429 with Retry-After: 0.2 s. */
    assert_int_equal(redis_limiter_pause(a, 200), 0);
    redis_limiter_clock(b, now + 30);
    assert_int_equal(redis_limiter_lease(b, 1, 0, &w), 0);
    assert_int_equal(w, 170);
    /* A shorter pause from another worker does not cut it. */
    assert_int_equal(redis_limiter_pause(b, 10), 0);
    redis_limiter_clock(a, now + 30);
    assert_int_equal(redis_limiter_lease(a, 1, 0, &w), 0);
    assert_int_equal(w, 170);
    /* Not even a reservation gets through it. */
    assert_int_equal(redis_limiter_reserve(a, 1, 0, 0, 1000, &w), 0);
    assert_int_equal(w, 170);
    redis_limiter_clock(a, now + 199);
    assert_int_equal(redis_limiter_lease(a, 1, 0, &w), 0);
    assert_int_equal(w, 1);
    redis_limiter_clock(a, now + 200);
    redis_limiter_clock(b, now + 200);
    assert_int_equal(redis_limiter_lease(a, 1, 0, &w), 1);
    assert_int_equal(redis_limiter_lease(b, 1, 0, &w), 1);
    redis_limiter_free(a);
    redis_limiter_free(b);
    redisFree(ca);
    redisFree(cb);
}

/* The script's time argument (tests only) stands in for TIME everywhere: the budget moves on
   the virtual clock and on nothing else. */
static void test_virtual_clock_drives_the_budget(void **state) {
    (void)state;
    redisContext *c = redis_fixture_connect_or_skip(&fx);
    /* Created on Redis's clock, unlimited and with no burst; the rate set on the virtual clock
       puts the schedule there (a new rate on an unlimited budget starts at now). */
    struct redis_limiter *l = redis_limiter_new(c, "virtual", -1, -1, 0);
    assert_non_null(l);
    redis_limiter_clock(l, 5000);
    assert_int_equal(redis_limiter_set_rates(l, 600, 0), 0); /* 100 ms a request */
    int64_t w = -1;
    assert_int_equal(redis_limiter_lease(l, 1, 0, &w), 1);
    assert_int_equal(redis_limiter_lease(l, 1, 0, &w), 0);
    assert_int_equal(w, 100);
    /* Real time passing changes nothing; the virtual clock does. */
    usleep(20000);
    assert_int_equal(redis_limiter_lease(l, 1, 0, &w), 0);
    assert_int_equal(w, 100);
    redis_limiter_clock(l, 5060);
    assert_int_equal(redis_limiter_lease(l, 1, 0, &w), 0);
    assert_int_equal(w, 40);
    redis_limiter_clock(l, 5100);
    assert_int_equal(redis_limiter_lease(l, 1, 0, &w), 1);
    redisReply *r = redisCommand(c, "HGET sluice:limit:{virtual} rtat");
    assert_non_null(r);
    assert_string_equal(r->str, "5200");
    freeReplyObject(r);
    redis_limiter_free(l);
    redisFree(c);
}

static void test_rate_zero_is_unlimited(void **state) {
    (void)state;
    redisContext *c = redis_fixture_connect_or_skip(&fx);
    struct redis_limiter *l = redis_limiter_new(c, "unlimited", 0, 0, 1);
    assert_non_null(l);
    int64_t w = -1;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(redis_limiter_lease(l, 1000, 1e6, &w), 1);
        assert_int_equal(w, 0);
    }
    /* A drained budget set to 0 is unlimited at once. */
    struct redis_limiter *m = redis_limiter_new(c, "unlimited2", 600, 0, 1);
    assert_non_null(m);
    assert_int_equal(drain(m, 0, &w), 10);
    assert_int_equal(redis_limiter_set_rates(m, 0, 0), 0);
    assert_int_equal(redis_limiter_lease(m, 100, 1e6, &w), 1);
    redis_limiter_free(m);
    redis_limiter_free(l);
    redisFree(c);
}

/* Is `s` a number that could be a time: epoch seconds or ms, or this host's uptime in ms? */
static int looks_like_time(const char *s, int64_t now_ms) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '"')
        return 0; /* not a whole number, e.g. the script's sha */
    return v > 1e8 || (now_ms > 0 && v > 1000 && v >= (double)now_ms / 2);
}

static void test_caller_clock_does_not_matter(void **state) {
    (void)state;
    redisContext *c = redis_fixture_connect_or_skip(&fx);
    redisContext *mon = redis_fixture_connect_or_skip(&fx);
    /* The API takes no time at all; show that none goes over the wire either, and that the
       state is on Redis's clock. MONITOR shows every command the client sends. */
    struct redis_limiter *l = redis_limiter_new(c, "clock", 600, 6000, 1);
    assert_non_null(l);
    redisReply *r = redisCommand(mon, "MONITOR");
    assert_non_null(r);
    freeReplyObject(r);
    int64_t before = redis_fixture_now_ms(c);
    int64_t w = -1;
    assert_int_equal(redis_limiter_reserve(l, 10, 50, 3, 100, &w), 1);
    int64_t after = redis_fixture_now_ms(c);
    int seen = 0;
    while (!seen) {
        void *v = NULL;
        assert_int_equal(redisGetReply(mon, &v), REDIS_OK);
        r = v;
        assert_int_equal(r->type, REDIS_REPLY_STATUS);
        /* "ts [db addr] "EVALSHA" "sha" "1" "key" "lease" "10" "50" "100" "3"" */
        const char *cmd = strstr(r->str, "\"EVALSHA\"");
        if (cmd && strstr(cmd, "\"lease\"")) {
            seen = 1;
            for (const char *q = strchr(cmd, '"'); q; q = strchr(q + 1, '"')) {
                if (q[1] != '"' && q[1] != ' ')
                    assert_false(looks_like_time(q + 1, before));
                q = strchr(q + 1, '"');
                if (!q)
                    break;
            }
        }
        freeReplyObject(r);
    }
    redisFree(mon);
    /* The whole burst (10 requests, 1 s) was taken at Redis's now. */
    r = redisCommand(c, "HGET sluice:limit:{clock} rtat");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    double rtat = strtod(r->str, NULL);
    freeReplyObject(r);
    assert_true(rtat >= (double)before + 1000 - 1 && rtat <= (double)after + 1000 + 1);
    redis_limiter_free(l);
    redisFree(c);
}

static void test_script_reloaded_and_lost_budget_recreated(void **state) {
    (void)state;
    redisContext *c = redis_fixture_connect_or_skip(&fx);
    struct redis_limiter *l = redis_limiter_new(c, "lost", 600, 0, 1);
    assert_non_null(l);
    int64_t w = -1;
    /* Redis forgot the script (a restart, SCRIPT FLUSH): EVAL brings it back. */
    redisReply *r = redisCommand(c, "SCRIPT FLUSH");
    freeReplyObject(r);
    assert_int_equal(redis_limiter_lease(l, 1, 0, &w), 1);
    /* Redis lost the budget: it is re-created with this worker's rates, never read as
       unlimited. */
    r = redisCommand(c, "DEL sluice:limit:{lost}");
    freeReplyObject(r);
    assert_int_equal(drain(l, 0, &w), 10);
    assert_true(w > 80 && w <= 100);
    redis_limiter_free(l);
    redisFree(c);
}

static void test_redis_errors_are_reported(void **state) {
    (void)state;
    redisContext *c = redis_fixture_connect_or_skip(&fx);
    redisReply *r = redisCommand(c, "SET sluice:limit:{string} x");
    freeReplyObject(r);
    assert_null(redis_limiter_new(c, "string", 600, 0, 1));
    struct redis_limiter *l = redis_limiter_new(c, "errors", 600, 0, 1);
    assert_non_null(l);
    int64_t w;
    assert_int_equal(redis_limiter_lease(l, -1, 0, &w), SLUICE_EINVAL);
    /* The key changed type behind the limiter's back. */
    r = redisCommand(c, "SET sluice:limit:{errors} x");
    freeReplyObject(r);
    assert_int_equal(redis_limiter_lease(l, 1, 0, &w), SLUICE_EPARSE);
    /* The connection is gone. */
    r = redisCommand(c, "CLIENT KILL SKIPME no");
    freeReplyObject(r);
    assert_int_equal(redis_limiter_lease(l, 1, 0, &w), SLUICE_EIO);
    redis_limiter_free(l);
    redisFree(c);
}

/* A granted lease says where its slots start in the shared schedule, as ms after the reply's
   own time: requests at max(rtat, now + hold), tokens at max(ttat, now + hold). */
static void test_lease_reply_gives_slot_starts(void **state) {
    (void)state;
    redisContext *c = redis_fixture_connect_or_skip(&fx);
    struct redis_limiter_reply rep;
    /* 6000 rpm (10 ms a request), 60,000 tpm (1 ms a token), no burst. */
    const double init[] = {6000, 60000, 0};
    assert_int_equal(script_at(c, "slots", "init", 1000, 3, init, &rep), 1);
    /* At rest: the slots start now. */
    const double five[] = {5, 20, 1000, 0};
    assert_int_equal(script_at(c, "slots", "lease", 1000, 4, five, &rep), 1);
    assert_int_equal(rep.wait_ms, 0);
    assert_true(rep.req_at_ms == 0 && rep.tok_at_ms == 0);
    /* 10 ms later the next five requests start where the first five end (1050), 40 ms after
       this reply; the tokens were not the limit (1020), so they start at the same hold. */
    assert_int_equal(script_at(c, "slots", "lease", 1010, 4, five, &rep), 1);
    assert_int_equal(rep.wait_ms, 40);
    assert_true(rep.req_at_ms == 40 && rep.tok_at_ms == 40);
    /* Tokens the limit: 200 tokens is 200 ms; the requests wait for them and start with them. */
    const double big[] = {2, 200, 1000, 0};
    assert_int_equal(script_at(c, "slots", "lease", 1100, 4, big, &rep), 1);
    assert_int_equal(rep.wait_ms, 0);
    assert_true(rep.req_at_ms == 0 && rep.tok_at_ms == 0);
    assert_int_equal(script_at(c, "slots", "lease", 1100, 4, big, &rep), 1);
    assert_int_equal(rep.wait_ms, 200);
    assert_true(rep.req_at_ms == 200 && rep.tok_at_ms == 200);
    /* Long after: the schedule does not start in the past. */
    assert_int_equal(script_at(c, "slots", "lease", 9000, 4, five, &rep), 1);
    assert_true(rep.req_at_ms == 0 && rep.tok_at_ms == 0);
    /* A refusal gives no slots. */
    const double tight[] = {5, 20, 10, 0};
    assert_int_equal(script_at(c, "slots", "lease", 9000, 4, tight, &rep), 0);
    assert_int_equal(rep.wait_ms, 50);
    redisFree(c);
}

/* A budget created without a burst has none: one request per interval from the first, as the
   local limiter's default. A burst given still works. */
static void test_default_burst_is_none(void **state) {
    (void)state;
    redisContext *c = redis_fixture_connect_or_skip(&fx);
    struct redis_limiter_reply rep;
    const double told[] = {600, 0, -1}; /* 100 ms a request, no burst told */
    assert_int_equal(script_at(c, "noburst", "init", 1000, 3, told, &rep), 1);
    assert_true(rep.burst_s == 0);
    const double one[] = {1, 0, 0, 0};
    assert_int_equal(script_at(c, "noburst", "lease", 1000, 4, one, &rep), 1);
    assert_int_equal(script_at(c, "noburst", "lease", 1000, 4, one, &rep), 0);
    assert_int_equal(rep.wait_ms, 100);
    /* Idle for a minute: still one at a time. */
    assert_int_equal(script_at(c, "noburst", "lease", 61000, 4, one, &rep), 1);
    assert_int_equal(script_at(c, "noburst", "lease", 61000, 4, one, &rep), 0);
    assert_int_equal(rep.wait_ms, 100);
    /* --burst 0.3: three at once after a rest, then one per interval. */
    const double burst[] = {-1, -1, 0.3};
    assert_int_equal(script_at(c, "noburst", "init", 70000, 3, burst, &rep), 1);
    int granted = 0;
    while (script_at(c, "noburst", "lease", 70000, 4, one, &rep) == 1)
        granted++;
    assert_int_equal(granted, 3);
    assert_int_equal(rep.wait_ms, 100);
    redisFree(c);
}

/* A pause banks no credit: at its end the budget is as if used up to then, so even a budget
   with a burst admits one request per interval after it, not the burst. */
static void test_pause_banks_no_credit(void **state) {
    (void)state;
    redisContext *c = redis_fixture_connect_or_skip(&fx);
    struct redis_limiter_reply rep;
    const double told[] = {600, 0, 1}; /* 100 ms a request, a burst of 1 s (10) */
    assert_int_equal(script_at(c, "nocredit", "init", 1000, 3, told, &rep), 1);
    const double two_s[] = {2000};
    assert_int_equal(script_at(c, "nocredit", "pause", 1000, 1, two_s, &rep), 1);
    const double one[] = {1, 0, 0, 0};
    assert_int_equal(script_at(c, "nocredit", "lease", 2999, 4, one, &rep), 0);
    assert_true(rep.paused && rep.wait_ms == 1);
    assert_int_equal(script_at(c, "nocredit", "lease", 3000, 4, one, &rep), 1);
    assert_int_equal(script_at(c, "nocredit", "lease", 3000, 4, one, &rep), 0);
    assert_int_equal(rep.wait_ms, 100);
    assert_int_equal(script_at(c, "nocredit", "lease", 3100, 4, one, &rep), 1);
    /* The burst comes back only with rest after the pause: 1 s later, 10 at once again. */
    int granted = 0;
    while (script_at(c, "nocredit", "lease", 5200, 4, one, &rep) == 1)
        granted++;
    assert_int_equal(granted, 10);
    redisFree(c);
}

static void test_lease_size_rule(void **state) {
    (void)state;
    assert_int_equal(redis_limiter_lease_size(6000), 5);
    assert_int_equal(redis_limiter_lease_size(60000), 50);
    assert_int_equal(redis_limiter_lease_size(600), 1);
    assert_int_equal(redis_limiter_lease_size(60), 1);
    assert_int_equal(redis_limiter_lease_size(6e6), REDIS_LIMITER_LEASE_MAX);
    assert_int_equal(redis_limiter_lease_size(0), REDIS_LIMITER_LEASE_MAX);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paces_evenly),
        cmocka_unit_test(test_burst_is_bounded),
        cmocka_unit_test(test_two_clients_share_one_budget),
        cmocka_unit_test(test_large_lease_at_rest_leaves_debt),
        cmocka_unit_test(test_reconcile_refunds),
        cmocka_unit_test(test_reservation_within_max_wait),
        cmocka_unit_test(test_set_rates_changes_the_pace),
        cmocka_unit_test(test_pause_blocks_every_client),
        cmocka_unit_test(test_virtual_clock_drives_the_budget),
        cmocka_unit_test(test_rate_zero_is_unlimited),
        cmocka_unit_test(test_caller_clock_does_not_matter),
        cmocka_unit_test(test_script_reloaded_and_lost_budget_recreated),
        cmocka_unit_test(test_redis_errors_are_reported),
        cmocka_unit_test(test_lease_reply_gives_slot_starts),
        cmocka_unit_test(test_default_burst_is_none),
        cmocka_unit_test(test_pause_banks_no_credit),
        cmocka_unit_test(test_lease_size_rule),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
