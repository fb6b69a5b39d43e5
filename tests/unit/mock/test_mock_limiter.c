/* The mock's rate limiters on a virtual clock: for each kind (gcra, bucket, fixed, sliding,
 * per-second) its burst, refusals, waits and headers as mock_limiter.h documents them; and
 * the header formats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mock_faults.h"
#include "mock_limiter.h"

/* 60 RPM with a 1 s burst: one request at once, then one per second. */
static void test_burst_then_refusal(void **state) {
    (void)state;
    struct mock_gcra g;
    mock_gcra_init(&g, 600, 1.0); /* 10 per second, burst of 10 */
    int64_t now = 100000;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(mock_gcra_wait_ms(&g, now, 1), 0);
        mock_gcra_charge(&g, now, 1);
    }
    assert_int_equal(mock_gcra_wait_ms(&g, now, 1), 100);
}

static void test_refill_rate(void **state) {
    (void)state;
    struct mock_gcra g;
    mock_gcra_init(&g, 600, 1.0);
    int64_t now = 0;
    for (int i = 0; i < 10; i++)
        mock_gcra_charge(&g, now, 1);
    /* One unit refills every 100 ms: not at 99, exactly at 100, and two at 200. */
    assert_int_equal(mock_gcra_wait_ms(&g, 99, 1), 1);
    assert_int_equal(mock_gcra_wait_ms(&g, 100, 1), 0);
    assert_int_equal(mock_gcra_wait_ms(&g, 100, 2), 100);
    assert_int_equal(mock_gcra_wait_ms(&g, 200, 2), 0);
    /* Over 10 virtual seconds of steady demand exactly 100 more are admitted. */
    int admitted = 0;
    for (int64_t t = 100; t < 10100; t++) {
        if (mock_gcra_wait_ms(&g, t, 1) == 0) {
            mock_gcra_charge(&g, t, 1);
            admitted++;
        }
    }
    assert_int_equal(admitted, 100);
}

static void test_retry_after_exact(void **state) {
    (void)state;
    struct mock_limits l;
    mock_limits_init(&l, 60, 0, 1.0); /* 1 per second, burst 1 */
    struct mock_verdict v;
    mock_limits_admit(&l, 5000, 1, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    mock_limits_admit(&l, 5250, 1, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_REQUESTS);
    assert_int_equal(v.wait_ms, 750);
    /* The refused request charged nothing: it passes exactly when it was told to. */
    mock_limits_admit(&l, 5250 + 749, 1, &v);
    assert_int_equal(v.wait_ms, 1);
    mock_limits_admit(&l, 5250 + 750, 1, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
}

static void test_low_limit_admits_one(void **state) {
    (void)state;
    struct mock_gcra g;
    mock_gcra_init(&g, 10, 1.0); /* one per 6 s: the burst is less than one request */
    assert_int_equal(mock_gcra_wait_ms(&g, 0, 1), 0);
    mock_gcra_charge(&g, 0, 1);
    assert_int_equal(mock_gcra_wait_ms(&g, 0, 1), 6000);
    assert_int_equal(mock_gcra_wait_ms(&g, 6000, 1), 0);
}

static void test_headers_remaining_reset(void **state) {
    (void)state;
    struct mock_gcra g;
    mock_gcra_init(&g, 60000, 1.0); /* 1000 per second */
    assert_int_equal(mock_gcra_remaining(&g, 0), 60000);
    assert_int_equal(mock_gcra_reset_ms(&g, 0), 0);
    for (int i = 0; i < 500; i++)
        mock_gcra_charge(&g, 0, 1);
    assert_int_equal(mock_gcra_remaining(&g, 0), 59500);
    assert_int_equal(mock_gcra_reset_ms(&g, 0), 500);
    assert_int_equal(mock_gcra_remaining(&g, 200), 59700);
    assert_int_equal(mock_gcra_reset_ms(&g, 200), 300);
    assert_int_equal(mock_gcra_remaining(&g, 500), 60000);
    assert_int_equal(mock_gcra_reset_ms(&g, 900), 0);
}

static void test_tokens_budget(void **state) {
    (void)state;
    struct mock_limits l;
    mock_limits_init(&l, 0, 6000, 1.0); /* 100 tokens per second, burst 100 */
    struct mock_verdict v;
    mock_limits_admit(&l, 0, 60, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    mock_limits_admit(&l, 0, 60, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_TOKENS);
    assert_int_equal(v.wait_ms, 200); /* 20 tokens over the burst at 10 ms each */
    assert_int_equal(v.too_large, 0);
    assert_int_equal(mock_budget_remaining(&l.tokens, 0), 5940);
    mock_limits_admit(&l, 200, 60, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    /* More than the burst fits once the budget is full, and leaves it in debt. */
    mock_limits_admit(&l, 5000, 500, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    mock_limits_admit(&l, 5000, 1, &v);
    assert_int_equal(v.wait_ms, 4010); /* 5000 ms of debt + 10 ms for the token - 1 s burst */
    /* More than the whole minute never fits. */
    mock_limits_admit(&l, 100000, 6001, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_TOKENS);
    assert_int_equal(v.too_large, 1);
}

static void test_both_budgets_charge_together(void **state) {
    (void)state;
    struct mock_limits l;
    mock_limits_init(&l, 60, 6000, 1.0);
    struct mock_verdict v;
    mock_limits_admit(&l, 0, 100, &v); /* uses the whole burst of both */
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    mock_limits_admit(&l, 500, 10, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_REQUESTS);
    assert_int_equal(v.wait_ms, 500);
    /* The refusal charged no tokens: 50 refilled of the 100 spent at 500 ms. */
    assert_int_equal(mock_budget_remaining(&l.tokens, 500), 5950);
}

static void test_unlimited(void **state) {
    (void)state;
    struct mock_limits l;
    mock_limits_init(&l, 0, 0, 1.0);
    struct mock_verdict v;
    for (int i = 0; i < 100000; i++) {
        mock_limits_admit(&l, 0, 1000000, &v);
        assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    }
}

static void check_duration(int64_t ms, const char *want) {
    char buf[32];
    size_t n = mock_duration_format(ms, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_duration_format(void **state) {
    (void)state;
    check_duration(0, "0s");
    check_duration(1, "1ms");
    check_duration(120, "120ms");
    check_duration(999, "999ms");
    check_duration(1000, "1s");
    check_duration(1200, "1.2s");
    check_duration(1250, "1.25s");
    check_duration(1005, "1.005s");
    check_duration(59000, "59s");
    check_duration(60000, "1m0s");
    check_duration(90500, "1m30.5s");
    check_duration(360000, "6m0s");
    check_duration(3600000, "1h0m0s");
    check_duration(3723400, "1h2m3.4s");
}

static void test_rfc3339(void **state) {
    (void)state;
    char buf[40];
    mock_rfc3339(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    mock_rfc3339(1714564800000, buf, sizeof buf);
    assert_string_equal(buf, "2024-05-01T12:00:00Z");
    mock_rfc3339(1714564800001, buf, sizeof buf); /* rounds up: never earlier than the reset */
    assert_string_equal(buf, "2024-05-01T12:00:01Z");
}

/* ---- Every kind -------------------------------------------------------------------------- */

/* Spends `cost` at `now` if the budget allows it. */
static int take(struct mock_budget *b, int64_t now, int64_t cost) {
    if (mock_budget_wait_ms(b, now, cost) != 0)
        return 0;
    mock_budget_charge(b, now, cost);
    return 1;
}

/* The most that admitted times t[0..n) (ascending) put in any [a, a + window). */
static int64_t most_in_any_window(const int64_t *t, size_t n, int64_t window) {
    int64_t most = 0;
    for (size_t i = 0, j = 0; i < n; i++) {
        while (t[j] <= t[i] - window)
            j++;
        if ((int64_t)(i - j + 1) > most)
            most = (int64_t)(i - j + 1);
    }
    return most;
}

/* Irregular demand, as tests of the window kinds need it: bursts, short and long gaps. */
static int64_t next_gap(struct rng *r) {
    double u = rng_uniform(r);
    if (u < 0.4)
        return 0;
    if (u < 0.8)
        return (int64_t)(rng_uniform(r) * 20);
    if (u < 0.97)
        return (int64_t)(rng_uniform(r) * 300);
    return (int64_t)(rng_uniform(r) * 5000);
}

/* --burst N under gcra is N + 1 requests at rest, then one per interval. */
static void test_gcra_burst_in_requests(void **state) {
    (void)state;
    struct mock_limits l;
    struct mock_limits_config c = {
        .algo = MOCK_ALGO_GCRA, .rpm = 1200, .burst_s = 1, .burst = 3, .token_burst = -1};
    assert_int_equal(mock_limits_setup(&l, &c), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(take(&l.requests, 5000, 1), 1);
    assert_int_equal(mock_budget_wait_ms(&l.requests, 5000, 1), 50);
    assert_int_equal(take(&l.requests, 5050, 1), 1);
    assert_int_equal(take(&l.requests, 5050, 1), 0);
    mock_limits_free(&l);
}

/* ---- bucket: nginx limit_req burst=B nodelay --------------------------------------------- */

/* 20 r/s (1200/min), burst=3: 4 back to back at rest, then one per 50 ms interval. */
static void test_bucket_burst_at_rest(void **state) {
    (void)state;
    struct mock_budget b;
    mock_budget_init_bucket(&b, 1200, 3);
    int64_t now = 10000;
    for (int i = 0; i < 4; i++)
        assert_int_equal(take(&b, now, 1), 1);
    assert_int_equal(mock_budget_wait_ms(&b, now, 1), 50);
    for (int i = 1; i <= 20; i++) {
        assert_int_equal(take(&b, now + 50 * i - 1, 1), 0);
        assert_int_equal(take(&b, now + 50 * i, 1), 1);
        assert_int_equal(take(&b, now + 50 * i, 1), 0);
    }
    /* After a rest long enough to drain 3000 + 1000, the whole burst again. */
    now += 50 * 20 + 200;
    for (int i = 0; i < 4; i++)
        assert_int_equal(take(&b, now, 1), 1);
    assert_int_equal(take(&b, now, 1), 0);
    mock_budget_free(&b);
}

/* A refusal changes nothing: the state after any number of refusals is the state before. */
static void test_bucket_refusal_changes_nothing(void **state) {
    (void)state;
    struct mock_budget b, before;
    mock_budget_init_bucket(&b, 1200, 3);
    for (int i = 0; i < 4; i++)
        take(&b, 0, 1);
    take(&b, 30, 1); /* refused */
    before = b;
    for (int64_t t = 30; t < 50; t++)
        for (int i = 0; i < 50; i++)
            assert_int_equal(take(&b, t, 1), 0);
    assert_memory_equal(&b, &before, sizeof b);
    assert_int_equal(take(&b, 50, 1), 1); /* when the first refusal was told to come back */
}

/* nginx's arithmetic to the ms: "1000r/m" is 16666 milli-requests per second, truncated, so
 * with burst=0 a request 60 ms after the last is refused (16666 * 60 / 1000 = 999 leaked) and
 * one 61 ms after is admitted; what leaks beyond the request's 1000 is lost (clamp at 0). */
static void test_bucket_ms_granularity(void **state) {
    (void)state;
    struct mock_budget b;
    mock_budget_init_bucket(&b, 1000, 0);
    assert_int_equal(b.u.bucket.rate, 16666);
    assert_int_equal(take(&b, 0, 1), 1); /* nginx starts a new key at 0 */
    assert_int_equal(mock_budget_wait_ms(&b, 30, 1), 31);
    assert_int_equal(mock_budget_wait_ms(&b, 60, 1), 1);
    assert_int_equal(take(&b, 61, 1), 1);
    assert_int_equal(b.u.bucket.excess, 0);
    assert_int_equal(take(&b, 121, 1), 0);
    assert_int_equal(take(&b, 122, 1), 1);
}

/* The implementation against the rule as the issue states it, on 20,000 irregular arrivals:
 * excess = max(0, excess - rate * elapsed_ms / 1000 + 1000), refused above burst * 1000,
 * a refusal changing nothing. */
static void test_bucket_matches_nginx_rule(void **state) {
    (void)state;
    const int64_t rpm[] = {1200, 1000, 90, 600};
    const int64_t burst[] = {3, 0, 1, 10};
    for (int k = 0; k < 4; k++) {
        struct mock_budget b;
        struct rng r;
        mock_budget_init_bucket(&b, rpm[k], burst[k]);
        rng_seed(&r, (uint64_t)k + 7);
        int64_t rate = rpm[k] * 1000 / 60, excess = 0, last = 0, now = 1000000;
        int fresh = 1, refused = 0;
        for (int i = 0; i < 20000; i++) {
            now += next_gap(&r);
            int64_t e = fresh ? 0 : excess - rate * (now - last) / 1000 + 1000;
            if (e < 0)
                e = 0;
            int want = e <= burst[k] * 1000;
            if (want) {
                excess = e;
                last = now;
                fresh = 0;
            }
            refused += !want;
            assert_int_equal(take(&b, now, 1), want);
        }
        assert_true(refused > 1000); /* the demand did press on the limit */
    }
}

static void test_bucket_headers(void **state) {
    (void)state;
    struct mock_budget b;
    mock_budget_init_bucket(&b, 1200, 3);
    assert_int_equal(mock_budget_remaining(&b, 0), 4); /* burst + 1 at rest */
    assert_int_equal(mock_budget_reset_ms(&b, 0), 0);
    take(&b, 1000, 1);
    assert_int_equal(mock_budget_remaining(&b, 1000), 3);
    assert_int_equal(mock_budget_reset_ms(&b, 1000), 50);
    for (int i = 0; i < 3; i++)
        take(&b, 1000, 1);
    assert_int_equal(mock_budget_remaining(&b, 1000), 0);
    assert_int_equal(mock_budget_used(&b, 1000), 3);
    assert_int_equal(mock_budget_reset_ms(&b, 1000), 200);
    assert_int_equal(mock_budget_remaining(&b, 1050), 1); /* one interval later, one fits */
    assert_int_equal(mock_budget_remaining(&b, 1200), 4);
    assert_int_equal(mock_budget_reset_ms(&b, 1200), 0);
}

/* A bucket of tokens: each token weighs 1000, --token-burst tokens beyond the first request. */
static void test_bucket_tokens(void **state) {
    (void)state;
    struct mock_limits l;
    struct mock_limits_config c = {
        .algo = MOCK_ALGO_BUCKET, .tpm = 6000, .burst_s = 1, .burst = -1, .token_burst = 200};
    assert_int_equal(mock_limits_setup(&l, &c), 0);
    struct mock_verdict v;
    mock_limits_admit(&l, 0, 150, &v); /* the first request starts the key at 0 */
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    mock_limits_admit(&l, 0, 200, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
    mock_limits_admit(&l, 0, 1, &v);
    assert_int_equal(v.refused_by, MOCK_LIMIT_TOKENS);
    assert_int_equal(v.wait_ms, 10); /* 100 tokens per second: one leaks in 10 ms */
    mock_limits_admit(&l, 0, 6001, &v);
    assert_int_equal(v.too_large, 1);
    mock_limits_free(&l);
    /* By default the token burst is as many seconds of tpm as the burst is of rpm. */
    c.rpm = 1200;
    c.tpm = 24000;
    c.burst = 3;
    c.token_burst = -1;
    assert_int_equal(mock_limits_setup(&l, &c), 0);
    assert_int_equal(l.requests.u.bucket.burst, 3000);
    assert_int_equal(l.tokens.u.bucket.burst, 60000);
    mock_limits_free(&l);
}

/* ---- fixed window ------------------------------------------------------------------------ */

/* 60/min in windows of 2 s from 1000: Q = 2 per window; a refusal waits for the window's end. */
static void test_fixed_quota_and_window_end(void **state) {
    (void)state;
    struct mock_budget b;
    mock_budget_init_fixed(&b, 60, 2000, 1000);
    assert_int_equal(b.u.fixed.quota, 2);
    assert_int_equal(take(&b, 1500, 1), 1);
    assert_int_equal(take(&b, 1500, 1), 1);
    assert_int_equal(mock_budget_wait_ms(&b, 1500, 1), 1500);
    assert_int_equal(mock_budget_remaining(&b, 1500), 0);
    assert_int_equal(mock_budget_reset_ms(&b, 1500), 1500);
    assert_int_equal(mock_budget_wait_ms(&b, 2999, 1), 1);
    assert_int_equal(mock_budget_remaining(&b, 3000), 2);
    assert_int_equal(mock_budget_reset_ms(&b, 3000), 2000);
    /* Steady demand every 10 ms: exactly Q in each window, all at its start. */
    int per_window[20] = {0};
    for (int64_t t = 3000; t < 43000; t += 10)
        if (take(&b, t, 1)) {
            per_window[(t - 3000) / 2000]++;
            assert_true((t - 3000) % 2000 < 20);
        }
    for (int k = 0; k < 20; k++)
        assert_int_equal(per_window[k], 2);
}

static void test_fixed_quota_rounding(void **state) {
    (void)state;
    struct mock_budget b;
    mock_budget_init_fixed(&b, 100, 1000, 0); /* 1.67 per second */
    assert_int_equal(b.u.fixed.quota, 2);
    mock_budget_init_fixed(&b, 10, 1000, 0); /* 0.17: at least one */
    assert_int_equal(b.u.fixed.quota, 1);
    mock_budget_init_fixed(&b, 90, 60000, 0);
    assert_int_equal(b.u.fixed.quota, 90);
    mock_budget_init_fixed(&b, 600, 1000, 0); /* tokens: 10 per window, 11 never fit */
    assert_int_equal(mock_budget_wait_ms(&b, 0, 10), 0);
    assert_int_equal(mock_budget_wait_ms(&b, 0, 11), MOCK_NEVER);
}

/* ---- sliding log ------------------------------------------------------------------------- */

/* Q = 100 in 10 s under irregular demand: never more than Q in any 10 s, a refusal only when
 * the last 10 s hold Q, and its wait exact (refused 1 ms before, admitted then). */
static void test_sliding_never_more_than_q(void **state) {
    (void)state;
    struct mock_budget b;
    struct rng r;
    assert_int_equal(mock_budget_init_sliding(&b, 600, 10000), 0);
    assert_int_equal(b.u.log.quota, 100);
    rng_seed(&r, 42);
    size_t n = 0, cap = 100000;
    int64_t *t = malloc(cap * sizeof *t), now = 0;
    assert_non_null(t);
    int refused = 0;
    for (int i = 0; i < 60000; i++) {
        now += next_gap(&r);
        int64_t w = mock_budget_wait_ms(&b, now, 1);
        if (w == 0) {
            mock_budget_charge(&b, now, 1);
            assert_true(n < cap);
            t[n++] = now;
            continue;
        }
        refused++;
        assert_int_equal(mock_budget_remaining(&b, now), 0);
        int64_t in_last_w = 0;
        for (size_t j = n; j > 0 && t[j - 1] > now - 10000; j--)
            in_last_w++;
        assert_int_equal(in_last_w, 100);
        assert_true(mock_budget_wait_ms(&b, now + w - 1, 1) > 0);
        assert_int_equal(mock_budget_wait_ms(&b, now + w, 1), 0);
    }
    assert_true(refused > 1000);
    assert_int_equal(most_in_any_window(t, n, 10000), 100);
    free(t);
    mock_budget_free(&b);
}

/* With costs (tokens), a wait is until enough of the oldest have left, not just the first. */
static void test_sliding_tokens_wait(void **state) {
    (void)state;
    struct mock_budget b;
    assert_int_equal(mock_budget_init_sliding(&b, 600, 1000), 0); /* 10 tokens per second */
    assert_int_equal(take(&b, 0, 3), 1);
    assert_int_equal(take(&b, 100, 3), 1);
    assert_int_equal(take(&b, 200, 3), 1);
    assert_int_equal(mock_budget_wait_ms(&b, 300, 5), 800); /* the 3 of 0 and of 100 leave */
    assert_int_equal(mock_budget_wait_ms(&b, 300, 1), 0);
    assert_int_equal(mock_budget_wait_ms(&b, 300, 11), MOCK_NEVER);
    assert_int_equal(mock_budget_remaining(&b, 300), 1);
    assert_int_equal(mock_budget_reset_ms(&b, 300), 900); /* the newest leaves at 1200 */
    mock_budget_free(&b);
}

/* The log's ring grows and wraps: 1 a ms for 30 s against Q = 50,000 in 10 s. */
static void test_sliding_log_grows(void **state) {
    (void)state;
    struct mock_budget b;
    assert_int_equal(mock_budget_init_sliding(&b, 300000, 10000), 0);
    for (int64_t now = 0; now < 30000; now++) {
        assert_int_equal(take(&b, now, 1), 1);
        if (now % 997 == 0)
            assert_int_equal(mock_budget_used(&b, now), now < 10000 ? now + 1 : 10000);
    }
    assert_int_equal(mock_budget_remaining(&b, 29999), 40000);
    assert_int_equal(mock_budget_reset_ms(&b, 29999), 10000);
    mock_budget_free(&b);
}

/* ---- per-second: "per minute, enforced per second" --------------------------------------- */

/* 90/min: at most ceil(90/60) = 2 in any second and 90 in any minute, under greedy and under
 * irregular demand. Greedy demand gets 2 a second for 45 s, then waits for the minute. */
static void test_per_second_limits(void **state) {
    (void)state;
    struct mock_budget b;
    assert_int_equal(mock_budget_init_per_second(&b, 90), 0);
    size_t n = 0;
    int64_t *t = malloc(2000 * sizeof *t);
    assert_non_null(t);
    for (int64_t now = 0; now < 180000; now += 10)
        if (take(&b, now, 1))
            t[n++] = now;
    assert_int_equal(most_in_any_window(t, n, 1000), 2);
    assert_int_equal(most_in_any_window(t, n, 60000), 90);
    assert_int_equal(t[89], 44010); /* pairs at k s and k s + 10 ms */
    assert_true(t[90] >= 60000);
    mock_budget_free(&b);

    struct rng r;
    rng_seed(&r, 3);
    assert_int_equal(mock_budget_init_per_second(&b, 90), 0);
    int64_t now = 0;
    n = 0;
    for (int i = 0; i < 5000 && n < 2000; i++) {
        now += next_gap(&r);
        if (take(&b, now, 1))
            t[n++] = now;
    }
    assert_true(most_in_any_window(t, n, 1000) <= 2);
    assert_true(most_in_any_window(t, n, 60000) <= 90);
    free(t);
    mock_budget_free(&b);
}

/* 6000/min: 100 at once, the 101st waits for the second to pass; the headers say so. */
static void test_per_second_burst(void **state) {
    (void)state;
    struct mock_budget b;
    assert_int_equal(mock_budget_init_per_second(&b, 6000), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(take(&b, 500, 1), 1);
    assert_int_equal(mock_budget_wait_ms(&b, 500, 1), 1000);
    assert_int_equal(mock_budget_wait_ms(&b, 1200, 1), 300);
    assert_int_equal(mock_budget_remaining(&b, 1200), 0);
    assert_int_equal(mock_budget_reset_ms(&b, 1200), 300);
    assert_int_equal(mock_budget_remaining(&b, 1500), 100);
    assert_int_equal(mock_budget_used(&b, 1500), 100); /* still in the minute */
    assert_int_equal(mock_budget_wait_ms(&b, 1500, 101), MOCK_NEVER);
    mock_budget_free(&b);
}

/* Each kind set up from a config, admitting through mock_limits, released whole. */
static void test_limits_each_kind(void **state) {
    (void)state;
    static const char *names[] = {"gcra", "bucket", "fixed", "sliding", "per-second"};
    for (int a = MOCK_ALGO_GCRA; a <= MOCK_ALGO_PER_SECOND; a++) {
        struct mock_limits l;
        struct mock_limits_config c = {.algo = (enum mock_algo)a,
                                       .rpm = 60,
                                       .tpm = 6000,
                                       .burst_s = 1,
                                       .burst = -1,
                                       .token_burst = -1,
                                       .window_ms = 60000};
        assert_int_equal(mock_limits_setup(&l, &c), 0);
        assert_string_equal(mock_algo_name((enum mock_algo)a), names[a]);
        assert_int_equal(mock_algo_parse(mock_algo_name((enum mock_algo)a)), a);
        struct mock_verdict v;
        mock_limits_admit(&l, 1000, 10, &v);
        assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
        mock_limits_admit(&l, 1000, 10, &v); /* 1 at once for all but fixed and sliding */
        if (a == MOCK_ALGO_FIXED || a == MOCK_ALGO_SLIDING)
            assert_int_equal(v.refused_by, MOCK_LIMIT_NONE);
        else
            assert_int_equal(v.refused_by, MOCK_LIMIT_REQUESTS);
        mock_limits_free(&l);
    }
    assert_int_equal(mock_algo_parse("token-bucket"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refusal),
        cmocka_unit_test(test_refill_rate),
        cmocka_unit_test(test_retry_after_exact),
        cmocka_unit_test(test_low_limit_admits_one),
        cmocka_unit_test(test_headers_remaining_reset),
        cmocka_unit_test(test_tokens_budget),
        cmocka_unit_test(test_both_budgets_charge_together),
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_gcra_burst_in_requests),
        cmocka_unit_test(test_bucket_burst_at_rest),
        cmocka_unit_test(test_bucket_refusal_changes_nothing),
        cmocka_unit_test(test_bucket_ms_granularity),
        cmocka_unit_test(test_bucket_matches_nginx_rule),
        cmocka_unit_test(test_bucket_headers),
        cmocka_unit_test(test_bucket_tokens),
        cmocka_unit_test(test_fixed_quota_and_window_end),
        cmocka_unit_test(test_fixed_quota_rounding),
        cmocka_unit_test(test_sliding_never_more_than_q),
        cmocka_unit_test(test_sliding_tokens_wait),
        cmocka_unit_test(test_sliding_log_grows),
        cmocka_unit_test(test_per_second_limits),
        cmocka_unit_test(test_per_second_burst),
        cmocka_unit_test(test_limits_each_kind),
        cmocka_unit_test(test_duration_format),
        cmocka_unit_test(test_rfc3339),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
