/*
 * The pacer and the limiter on a virtual clock, against servers played back in the test: a
 * token bucket with nginx limit_req's arithmetic (burst=N nodelay, `Retry-After: 1` on every
 * refusal) and fixed windows that name their end (Gemini's RetryInfo). A small client loop
 * (slots, the retry heap's hint, the pause for everyone, the slow start) stands in for the
 * engine; the pacer and the limiter are the real ones. One test per rule of issue 16's "What to
 * build", plus told budgets and the providers' headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "limiter.h"
#include "pacer.h"

/* ---- servers ---- */

enum srv_kind { SRV_NONE, SRV_BUCKET, SRV_WINDOW };

struct srv {
    enum srv_kind kind;
    double per_s;       /* bucket: rate */
    int64_t burst;      /* bucket: nginx's burst */
    int64_t excess;     /* bucket: milli-requests */
    int64_t last;       /* bucket: ms of the last accept; -1 none */
    int64_t quota, win; /* window: quota per window of `win` ms, aligned to 0 */
    int64_t win_start, win_count;
};

static struct srv bucket(double per_s, int64_t burst) {
    struct srv s = {SRV_BUCKET, per_s, burst, 0, -1, 0, 0, 0, 0};
    return s;
}

static struct srv window(int64_t quota, int64_t win_ms) {
    struct srv s = {SRV_WINDOW, 0, 0, 0, -1, quota, win_ms, 0, 0};
    return s;
}

/* 1 when the request arriving at `now` is accepted; else *hint_ms is the wait it is told. */
static int srv_admit(struct srv *s, int64_t now, int64_t *hint_ms) {
    if (s->kind == SRV_BUCKET) {
        /* ngx_http_limit_req_lookup: excess in milli-requests, decayed by rate x elapsed ms. */
        int64_t ex = 0;
        if (s->last >= 0) {
            ex = s->excess - (int64_t)(s->per_s * 1000) * (now - s->last) / 1000 + 1000;
            if (ex < 0)
                ex = 0;
            if (ex > s->burst * 1000) {
                *hint_ms = 1000;
                return 0;
            }
        }
        s->excess = ex;
        s->last = now;
        return 1;
    }
    if (s->kind == SRV_WINDOW) {
        int64_t start = now / s->win * s->win;
        if (start != s->win_start) {
            s->win_start = start;
            s->win_count = 0;
        }
        if (s->win_count >= s->quota) {
            *hint_ms = start + s->win - now;
            return 0;
        }
        s->win_count++;
        return 1;
    }
    return 1;
}

/* ---- the client ---- */

#define MAX_FLIGHT 512

struct answer {
    int64_t at, sent, hint;
    int ok;
};

struct sim {
    struct pacer p;
    struct sluice_limiter_s *lim;
    struct srv srv;
    enum classify_hint hint_kind; /* how the server's refusals carry their hint */
    int slots, ss;                /* -c, and the slow start's slots (INT32_MAX: over) */
    int64_t ss_doubled, latency, now, pause_until;
    int todo;                  /* requests never sent */
    int64_t retry[MAX_FLIGHT]; /* ready times of refused requests */
    int nretry;
    struct answer fl[MAX_FLIGHT]; /* in flight */
    int nfl;
    int sent, refused, accepted; /* attempts, refused attempts, successes */
    int64_t last_ok;             /* time of the last success */
    int64_t sends[20000];        /* every send time, for spacing checks */
};

static void sim_init(struct sim *s, struct srv srv, double told_rpm, double burst_s, int slots,
                     int64_t latency, int n) {
    memset(s, 0, sizeof(*s));
    s->srv = srv;
    s->hint_kind = HINT_HEADER;
    pacer_init(&s->p, told_rpm, 0, 0);
    s->lim = limiter_local_new(s->p.rpm, 0, burst_s, 0);
    assert_non_null(s->lim);
    s->slots = slots;
    s->ss = told_rpm > 0 ? INT32_MAX : 4;
    s->latency = latency;
    s->todo = n;
}

static void sim_rates(struct sim *s) {
    s->lim->ops->set_rates(s->lim, s->now, s->p.rpm, s->p.tpm);
}

static void sim_answer(struct sim *s, const struct answer *a) {
    if (a->ok) {
        s->accepted++;
        s->last_ok = s->now;
        if (pacer_on_success(&s->p, a->sent, s->now))
            sim_rates(s);
        if (s->ss < INT32_MAX)
            s->ss++;
        if (s->ss < INT32_MAX && !pacer_searching(&s->p))
            s->ss = INT32_MAX;
        return;
    }
    s->refused++;
    struct classify_verdict v = {CLASS_RATE_LIMITED, "rate_limited", a->hint, s->hint_kind, 0, 0};
    int64_t until = pacer_pause_all_until(&s->p, &v, s->now);
    if (until > s->pause_until)
        s->pause_until = until;
    s->lim->ops->no_burst(s->lim, s->now);
    if (pacer_on_refusal(&s->p, a->sent, s->now, until, 1))
        sim_rates(s);
    s->ss = INT32_MAX;
    s->retry[s->nretry++] = s->now + a->hint;
}

static void sim_send(struct sim *s, int retry_index) {
    if (retry_index >= 0) {
        s->nretry--;
        s->retry[retry_index] = s->retry[s->nretry];
    } else {
        s->todo--;
    }
    s->lim->ops->take(s->lim, s->now, 0);
    pacer_on_send(&s->p, s->now);
    if (s->sent < (int)(sizeof s->sends / sizeof s->sends[0]))
        s->sends[s->sent] = s->now;
    s->sent++;
    struct answer a = {0, s->now, 0, 0};
    a.ok = srv_admit(&s->srv, s->now, &a.hint);
    a.at = s->now + (a.ok ? s->latency : 1); /* refusals come back at once */
    s->fl[s->nfl++] = a;
}

/* Runs until every request succeeded or `until_ms`; returns the time of the last success. */
static int64_t sim_run(struct sim *s, int64_t until_ms) {
    for (; s->now <= until_ms; s->now++) {
        for (int i = 0; i < s->nfl;) {
            if (s->fl[i].at <= s->now) {
                struct answer a = s->fl[i];
                s->fl[i] = s->fl[--s->nfl];
                sim_answer(s, &a);
            } else {
                i++;
            }
        }
        if (s->todo == 0 && s->nretry == 0 && s->nfl == 0)
            return s->last_ok;
        if (s->ss < INT32_MAX && s->nfl >= s->ss && s->now - s->ss_doubled >= 200) {
            s->ss *= 2;
            s->ss_doubled = s->now;
        }
        if (pacer_tick(&s->p, s->now))
            sim_rates(s);
        int slots = s->slots < s->ss ? s->slots : s->ss;
        while (s->nfl < slots && s->now >= s->pause_until &&
               s->lim->ops->wait(s->lim, s->now, 0) == 0) {
            int r = -1;
            for (int i = 0; i < s->nretry; i++)
                if (s->retry[i] <= s->now && (r < 0 || s->retry[i] < s->retry[r]))
                    r = i;
            if (r < 0 && s->todo == 0)
                break;
            sim_send(s, r);
        }
    }
    return -1;
}

static void sim_free(struct sim *s) {
    s->lim->ops->free(s->lim);
}

static double pct(int part, int whole) {
    return whole ? 100.0 * part / whole : 0;
}

/* ---- Point 1: a refusal's Retry-After is about that request; a window's end is everyone's */

static void test_hint_pauses_all_only_for_windows(void **state) {
    (void)state;
    struct pacer p;
    pacer_init(&p, 0, 0, 0);
    struct classify_verdict v = {CLASS_RATE_LIMITED, "rate_limited", 1000, HINT_HEADER, 0, 0};
    assert_int_equal(pacer_pause_all_until(&p, &v, 500), -1); /* nginx's Retry-After: 1 */
    assert_int_equal(pacer_pause_all_until(&p, &v, 700), -1); /* ... every time */
    v.hint = HINT_MESSAGE;
    assert_int_equal(pacer_pause_all_until(&p, &v, 500), -1);
    v.hint = HINT_RETRYINFO; /* Gemini: the end of a quota window, however near */
    assert_int_equal(pacer_pause_all_until(&p, &v, 500), 1500);
    v.hint = HINT_HEADER;
    v.retry_after_ms = 20000; /* no paced request could beat it */
    assert_int_equal(pacer_pause_all_until(&p, &v, 500), 20500);
    v.cls = CLASS_OVERLOADED;
    assert_int_equal(pacer_pause_all_until(&p, &v, 500), -1);
    /* To the millisecond: a second refusal naming the same moment is a window's end... */
    v.cls = CLASS_RATE_LIMITED;
    v.hint = HINT_HEADER_MS;
    v.retry_after_ms = 900;
    assert_int_equal(pacer_pause_all_until(&p, &v, 100), -1);
    v.retry_after_ms = 700;
    assert_int_equal(pacer_pause_all_until(&p, &v, 302), 1002);
    /* ... and one naming a moment that moves with the time it was given is not. */
    v.retry_after_ms = 1000;
    assert_int_equal(pacer_pause_all_until(&p, &v, 2000), -1);
    assert_int_equal(pacer_pause_all_until(&p, &v, 2100), -1);
}

/* Told nginx's own rate, 100/s burst 10: each refusal's `Retry-After: 1` must not freeze the
   run. Even pacing from the start: no refusal at all, and the floor's time. */
static void test_told_strict_bucket_no_refusals(void **state) {
    (void)state;
    static struct sim s;
    sim_init(&s, bucket(100, 1), 6000, 0, 64, 50, 2000);
    int64_t end = sim_run(&s, 60000);
    assert_true(end > 0);
    assert_int_equal(s.refused, 0);
    assert_true(end <= 20000 * 105 / 100); /* 2000 at 100/s: 20 s; paced at 98% */
    /* No two sends closer than an interval (10 ms): a grid, not bursts. */
    for (int i = 1; i < s.sent; i++)
        assert_true(s.sends[i] - s.sends[i - 1] >= 10);
    sim_free(&s);
}

/* ---- Point 2: burst tolerance is the server's and unknown; a pause banks nothing ---- */

/* Told the rate with a burst of 0.5 s against a server that tolerates one request: the first
   refusal takes the burst away, and from then on the run is refused no more. */
static void test_refusal_takes_the_burst_away(void **state) {
    (void)state;
    static struct sim s;
    sim_init(&s, bucket(100, 1), 6000, 0.5, 64, 50, 2000);
    int64_t end = sim_run(&s, 60000);
    assert_true(end > 0);
    assert_true(s.refused > 0);  /* the opening burst met the server */
    assert_true(s.refused < 60); /* ... once */
    assert_true(end <= 20000 * 110 / 100);
    print_message("burst then strict: %d refused of %d, %lld ms\n", s.refused, s.sent,
                  (long long)end);
    sim_free(&s);
}

/* The trace the issue saw: 25 at once, 11 accepted, 14 told "come back in 1 s". Replayed,
   the refused wait their second while the run goes on, one request per interval, with no
   saved-up burst after it. */
static void test_pause_banks_no_burst(void **state) {
    (void)state;
    struct sluice_limiter_s *l = limiter_local_new(6000, 0, 0, 0);
    /* Nothing is sent for 1 s (every request waits its hint): then one at a time. */
    assert_int_equal(l->ops->wait(l, 0, 0), 0);
    l->ops->take(l, 0, 0);
    int64_t now = 1000;
    int n = 0;
    while (l->ops->wait(l, now, 0) == 0 && n < 100) {
        l->ops->take(l, now, 0);
        n++;
    }
    assert_int_equal(n, 1);
    assert_int_equal(l->ops->wait(l, now, 0), 10);
    l->ops->free(l);
}

/* ---- Point 3: learning from refusals alone, in seconds ---- */

/* nginx at 100/s, burst 10, not told: found within seconds, then held just under it. */
static void test_learns_bucket_in_seconds(void **state) {
    (void)state;
    static struct sim s;
    sim_init(&s, bucket(100, 10), 0, 0, 64, 50, 3000);
    sim_run(&s, 5000);
    double r5 = s.p.rpm;
    int acc5 = s.accepted;
    int64_t end = sim_run(&s, 120000);
    print_message("100/s burst 10: rpm %.0f at 5 s (%d accepted), done at %lld ms, %d refused "
                  "of %d (%.1f%%)\n",
                  r5, acc5, (long long)end, s.refused, s.sent, pct(s.refused, s.sent));
    assert_true(r5 > 6000 * 0.85 && r5 < 6000 * 1.1);
    assert_true(end > 0 && end <= 30000 * 115 / 100);
    assert_true(pct(s.refused, s.sent) <= 5);
    sim_free(&s);
}

/* A strict, slow server (2/s, burst 1): a handful of refusals in all, not dozens (the first
   4 requests go at once, and the server takes 2: two refused before anything is known). */
static void test_learns_slow_strict_bucket(void **state) {
    (void)state;
    static struct sim s;
    sim_init(&s, bucket(2, 1), 0, 0, 64, 50, 50);
    int64_t end = sim_run(&s, 120000);
    print_message("2/s burst 1: done at %lld ms, %d refused of %d\n", (long long)end, s.refused,
                  s.sent);
    assert_true(end > 0 && end <= 25000 * 115 / 100);
    assert_true(s.refused <= 5);
    sim_free(&s);
}

/* The first refusal measures what passed in the last second, but the refusals of requests sent
   with the refused one are still on their way: each takes one off the measure as it comes.
   4 sent at once against 2/s, burst 1: 2 passed, so the climb starts from 2/s, not 3/s. */
static void test_opening_refusals_recounted(void **state) {
    (void)state;
    static struct sim s;
    sim_init(&s, bucket(2, 1), 0, 0, 64, 50, 50);
    sim_run(&s, 5);
    assert_int_equal(s.refused, 2);
    assert_true(s.p.fast);
    assert_true(s.p.ref_rpm > 119 && s.p.ref_rpm < 121);
    sim_free(&s);
}

/* One refusal does not cost minutes: a rate measured too low (10/s passed between two
   refusals while the server takes 100/s: it was shared for a while) is left behind within
   seconds once nothing is refused. */
static void test_low_estimate_recovers_quickly(void **state) {
    (void)state;
    struct pacer p;
    pacer_init(&p, 0, 0, 0);
    int64_t now = 0;
    for (; now < 2000; now += 100) {
        pacer_on_send(&p, now);
        pacer_on_success(&p, now, now);
    }
    assert_int_equal(pacer_on_refusal(&p, now, now, -1, 1), 1); /* the first: fast */
    for (; now < 4000; now += 100) {
        pacer_on_send(&p, now);
        pacer_on_success(&p, now, now);
    }
    assert_int_equal(pacer_on_refusal(&p, now, now, -1, 1), 1); /* 10/s passed since */
    assert_false(p.fast);
    assert_true(p.rpm < 700);
    /* The server takes 100/s: send at the rate in force, never refused. */
    int64_t t0 = now;
    double next = (double)now;
    while (p.rpm < 6000 && now < t0 + 60000) {
        now++;
        pacer_tick(&p, now);
        while (next <= (double)now) {
            pacer_on_send(&p, now);
            pacer_on_success(&p, now, now);
            next += 60000.0 / p.rpm;
        }
    }
    print_message("600 -> 6000 rpm in %lld ms\n", (long long)(now - t0));
    assert_true(now - t0 < 15000);
}

/* ---- Point 4: a window's end is an instruction about time, not proof the rate is wrong ---- */

/* Gemini-style: 10 per 3 s, the wait in the body. 40 requests within 1.2x the floor (four
   whole windows), and the rate is the window's quota. */
static void test_window_spent_evenly(void **state) {
    (void)state;
    static struct sim s;
    sim_init(&s, window(10, 3000), 0, 0, 64, 50, 40);
    s.hint_kind = HINT_RETRYINFO;
    int64_t end = sim_run(&s, 60000);
    print_message("10 per 3 s: 40 done at %lld ms, %d refused of %d, rpm %.0f\n", (long long)end,
                  s.refused, s.sent, s.p.rpm);
    assert_true(end > 0 && end <= 12000 * 120 / 100);
    assert_true(s.p.ref_rpm > 200 * 0.9 && s.p.ref_rpm < 200 * 1.1);
    sim_free(&s);
}

/* A refusal for the same window's end again changes nothing: the rate does not collapse. */
/* A window's quota is a measure: nothing probes above it for two whole windows. A sliding
   log refuses each request of a probe, one by one, until the requests of a window ago leave. */
static void test_window_quota_not_probed(void **state) {
    (void)state;
    static struct sim s;
    sim_init(&s, window(200, 10000), 0, 0, 64, 50, 2000);
    sim_run(&s, 10500);
    assert_int_equal(s.p.rpm_source, PACER_LEARNED);
    double ref = s.p.ref_rpm;
    int refused = s.refused;
    assert_true(ref > 1200 * 0.9 && ref < 1200 * 1.1);
    for (int64_t t = 11000; t <= 29500; t += 500) {
        sim_run(&s, t);
        assert_true(s.p.rpm <= ref * 1.001);
    }
    assert_int_equal(s.refused, refused);
    sim_free(&s);
}

static void test_same_window_no_collapse(void **state) {
    (void)state;
    struct pacer p;
    pacer_init(&p, 0, 0, 0);
    for (int64_t t = 0; t < 100; t += 10) {
        pacer_on_send(&p, t);
        pacer_on_success(&p, t, t + 50);
    }
    assert_int_equal(pacer_on_refusal(&p, 200, 201, 3000, 1), 1);
    double r = p.rpm;
    assert_true(r > 190 && r < 210); /* 10 accepted over the 3 s to the window's end */
    for (int64_t t = 300; t < 2900; t += 100)
        assert_int_equal(pacer_on_refusal(&p, t, t + 1, 3000, 1), 0);
    assert_true(p.rpm == r);
}

/* ---- Point 5: shared budgets: what one process sees accepted stands for a share ---- */

static void test_share_scales_the_measure(void **state) {
    (void)state;
    struct pacer a, b;
    pacer_init(&a, 0, 0, 0);
    pacer_init(&b, 0, 0, 0);
    for (int64_t t = 0; t < 3000; t += 40) { /* 25/s accepted here */
        pacer_on_send(&a, t);
        pacer_on_success(&a, t, t);
        pacer_on_send(&b, t);
        pacer_on_success(&b, t, t);
    }
    pacer_on_refusal(&a, 3000, 3000, -1, 1);
    pacer_on_refusal(&b, 3000, 3000, -1, 0.25); /* one of four processes */
    assert_true(b.ref_rpm > 3.9 * a.ref_rpm && b.ref_rpm < 4.1 * a.ref_rpm);
}

/* A rate another process learned is taken up, so this one measures and changes it from there;
   its own writes coming back late do not undo what it changed since. */
static void test_shared_rate_adopted_once(void **state) {
    (void)state;
    struct pacer p;
    pacer_init(&p, 0, 0, 0);
    assert_true(pacer_searching(&p));
    pacer_adopt(&p, 600);
    assert_false(pacer_searching(&p));
    assert_int_equal(p.rpm_source, PACER_LEARNED);
    assert_true(p.rpm == 600 && p.ref_rpm == 600);
    p.rpm = 900; /* it climbs, and writes 900 */
    pacer_shared(&p);
    pacer_adopt(&p, 600);      /* the budget still said 600 when it answered */
    assert_true(p.rpm == 600); /* news: another process's 600 since */
    pacer_adopt(&p, 600);
    p.rpm = 700;
    pacer_shared(&p);
    pacer_adopt(&p, 700); /* its own write coming back */
    p.rpm = 750;
    pacer_adopt(&p, 700); /* no news: its 750 stays */
    assert_true(p.rpm == 750);
    /* Told budgets stay the user's. */
    struct pacer t;
    pacer_init(&t, 6000, 0, 0);
    pacer_adopt(&t, 100);
    assert_true(t.rpm == 6000 * 0.98);
}

/* A process that sends a part of a shared budget is held back by the budget, not by its slots:
   its rate is in use, and climbs. */
static void test_budget_bound_rate_climbs(void **state) {
    (void)state;
    struct pacer p;
    pacer_init(&p, 0, 0, 0);
    pacer_adopt(&p, 6000);
    p.rpm = 5000; /* under the reference after a cut */
    p.budget_bound = 1;
    for (int64_t t = 0; t < 3000; t += 40) { /* 25/s here: a quarter of the rate */
        pacer_on_send(&p, t);
        pacer_on_success(&p, t, t);
    }
    assert_true(p.rpm > 5300); /* climbing back to the reference, 2% of it a second */
    double r = p.rpm;
    p.budget_bound = 0; /* the slots hold it back: no climb on paper */
    for (int64_t t = 3000; t < 6000; t += 40) {
        pacer_on_send(&p, t);
        pacer_on_success(&p, t, t);
    }
    assert_true(p.rpm == r);
}

/* ---- Point 6: learning must not slow runs that have no limit ---- */

static void test_no_limit_no_pacing(void **state) {
    (void)state;
    static struct sim s;
    /* 2 s answers, -c 256, no limit: 2560 requests = 10 rounds = 20 s at best. */
    sim_init(&s, bucket(0, 0), 0, 0, 256, 2000, 2560);
    s.srv.kind = SRV_NONE;
    int64_t end = sim_run(&s, 60000);
    print_message("no limit, 2 s answers: %lld ms for a 20000 ms floor\n", (long long)end);
    assert_true(end > 0 && end <= 20000 * 110 / 100);
    assert_true(pacer_searching(&s.p));
    assert_true(s.p.rpm == 0);
    sim_free(&s);
}

/* ---- Point 7: told and learned both honour the providers' headers ---- */

static void test_told_budgets_stay(void **state) {
    (void)state;
    struct pacer p;
    pacer_init(&p, 6000, 100000, 0);
    assert_true(p.rpm == 6000 * 0.98 && p.tpm == 100000 * 0.98);
    assert_int_equal(p.rpm_source, PACER_TOLD);
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    h.limit_requests = 500;
    h.limit_tokens = 1000;
    assert_int_equal(pacer_on_headers(&p, &h, 10), 0);
    assert_int_equal(pacer_on_refusal(&p, 20, 30, -1, 1), 0);
    assert_true(p.rpm == 6000 * 0.98 && p.tpm == 100000 * 0.98);
}

static void test_headers_set_rates_below_limit(void **state) {
    (void)state;
    struct pacer p;
    pacer_init(&p, 0, 0, 0);
    assert_true(p.rpm == 0);
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    h.limit_requests = 6000;
    h.limit_tokens = 2000000;
    assert_int_equal(pacer_on_headers(&p, &h, 0), 1);
    assert_int_equal(p.rpm_source, PACER_HEADERS);
    assert_false(pacer_searching(&p));
    assert_true(p.rpm > 6000 * 0.95 && p.rpm < 6000);
    assert_true(p.tpm > 2000000 * 0.95 && p.tpm < 2000000);
    /* Azure's -1 (unknown) changes nothing. */
    h.limit_requests = -1;
    h.limit_tokens = -1;
    assert_int_equal(pacer_on_headers(&p, &h, 1), 0);
    assert_true(p.rpm > 5700);
}

static void test_429_with_headers_cuts_share_then_recovers(void **state) {
    (void)state;
    struct pacer p;
    pacer_init(&p, 0, 0, 0);
    struct classify_hdrs h;
    classify_hdrs_init(&h);
    h.limit_requests = 6000;
    pacer_on_headers(&p, &h, 0);
    double full = p.rpm;
    assert_int_equal(pacer_on_refusal(&p, 100, 200, -1, 1), 1);
    assert_true(p.rpm < full * 0.9);
    /* A second 429 for a request sent before the cut is the same event. */
    assert_int_equal(pacer_on_refusal(&p, 150, 210, -1, 1), 0);
    double cut = p.rpm;
    for (int64_t t = 1200; t <= 60000; t += 1000)
        pacer_on_success(&p, t, t);
    assert_true(p.rpm > cut);
    assert_true(p.rpm <= full + 1e-9);
}

/* ---- the measures ---- */

static void test_accept_rate_measured_over_a_second(void **state) {
    (void)state;
    struct pacer p;
    pacer_init(&p, 0, 0, 0);
    for (int64_t t = 0; t < 3000; t += 5) { /* 200/s sent, 100/s accepted */
        pacer_on_send(&p, t);
        if (t % 10 == 0)
            pacer_on_success(&p, t, t);
    }
    double sent = pacer_send_rate(&p, 3000, 1000), acc = pacer_accept_rate(&p, 3000, 1000);
    assert_true(sent > 11500 && sent < 12500);
    assert_true(acc > 5750 && acc < 6250);
    /* The first refusal: what passed (sent and not refused, 200/s: the other half may still be
       on its way) is where the fast climb starts. */
    assert_int_equal(pacer_on_refusal(&p, 2999, 3000, -1, 1), 1);
    assert_true(p.fast);
    assert_true(p.ref_rpm > 11500 && p.ref_rpm < 12500);
    /* Then 100/s sent, half refused at once, for a second: what passed between two refusals
       is the server's rate, and the rate a margin under it. */
    for (int64_t t = 3001; t < 4000; t += 10) {
        pacer_on_send(&p, t);
        if (t % 20 == 1)
            pacer_on_success(&p, t, t);
        else
            pacer_on_refusal(&p, t, t, -1, 1);
    }
    assert_false(p.fast);
    assert_true(p.ref_rpm > 2800 && p.ref_rpm < 3200);
    assert_true(p.rpm > 0.94 * p.ref_rpm && p.rpm < 0.96 * p.ref_rpm);
    /* The window forgets. */
    assert_true(pacer_send_rate(&p, 13000, 1000) == 0);
}

static void test_no_raise_when_rate_unused(void **state) {
    (void)state;
    struct pacer p;
    pacer_init(&p, 0, 0, 0);
    for (int64_t t = 0; t < 2000; t += 10) {
        pacer_on_send(&p, t);
        pacer_on_success(&p, t, t);
    }
    pacer_on_refusal(&p, 1999, 2000, -1, 1);
    double r = p.rpm;
    /* Nothing is sent (the run is held back elsewhere): the rate must not creep up. */
    for (int64_t t = 3000; t < 60000; t += 1000)
        pacer_on_success(&p, t, t);
    assert_true(p.rpm == r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hint_pauses_all_only_for_windows),
        cmocka_unit_test(test_told_strict_bucket_no_refusals),
        cmocka_unit_test(test_refusal_takes_the_burst_away),
        cmocka_unit_test(test_pause_banks_no_burst),
        cmocka_unit_test(test_learns_bucket_in_seconds),
        cmocka_unit_test(test_learns_slow_strict_bucket),
        cmocka_unit_test(test_opening_refusals_recounted),
        cmocka_unit_test(test_low_estimate_recovers_quickly),
        cmocka_unit_test(test_window_spent_evenly),
        cmocka_unit_test(test_window_quota_not_probed),
        cmocka_unit_test(test_same_window_no_collapse),
        cmocka_unit_test(test_share_scales_the_measure),
        cmocka_unit_test(test_shared_rate_adopted_once),
        cmocka_unit_test(test_budget_bound_rate_climbs),
        cmocka_unit_test(test_no_limit_no_pacing),
        cmocka_unit_test(test_told_budgets_stay),
        cmocka_unit_test(test_headers_set_rates_below_limit),
        cmocka_unit_test(test_429_with_headers_cuts_share_then_recovers),
        cmocka_unit_test(test_accept_rate_measured_over_a_second),
        cmocka_unit_test(test_no_raise_when_rate_unused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
