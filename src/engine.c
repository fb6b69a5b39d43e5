/*
 * The engine: the public lifecycle (sluice_new .. sluice_free), the scheduler's dispatch loop,
 * and what happens to an attempt once the classifier has judged it.
 *
 * Invariants:
 *   - every request pulled from the source ends in exactly one result callback, unless the run
 *     is stopped first (then it is released without a result and --resume runs it again);
 *   - requests in flight never exceed the slot limit;
 *   - requests held (in flight + waiting to retry) never exceed the slot limit + read-ahead, so
 *     memory does not grow with the input.
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <limits.h>

#include "backoff.h"
#include "classify.h"
#include "sink.h"
#include "http/url.h"
#include "util.h"

/* ---- the retry heap: tasks waiting for their retry time, earliest first ---- */

static void heap_swap(struct sluice_s *e, size_t a, size_t b) {
    struct task *t = e->heap[a];
    e->heap[a] = e->heap[b];
    e->heap[b] = t;
}

static int heap_push(struct sluice_s *e, struct task *j) {
    if (e->heap_len == e->heap_cap) {
        size_t cap = e->heap_cap ? e->heap_cap * 2 : 64;
        struct task **nh = realloc(e->heap, cap * sizeof(*nh));
        if (!nh)
            return SLUICE_ENOMEM;
        e->heap = nh;
        e->heap_cap = cap;
    }
    size_t i = e->heap_len++;
    e->heap[i] = j;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (e->heap[p]->ready_at <= e->heap[i]->ready_at)
            break;
        heap_swap(e, p, i);
        i = p;
    }
    return 0;
}

static struct task *heap_pop(struct sluice_s *e) {
    struct task *top = e->heap[0];
    e->heap[0] = e->heap[--e->heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < e->heap_len && e->heap[l]->ready_at < e->heap[m]->ready_at)
            m = l;
        if (r < e->heap_len && e->heap[r]->ready_at < e->heap[m]->ready_at)
            m = r;
        if (m == i)
            break;
        heap_swap(e, i, m);
        i = m;
    }
    return top;
}

/* ---- tasks: pooled, so a long run allocates nothing per request beyond the request ---- */

static struct task *task_take(struct sluice_s *e, sluice_request_t *req) {
    struct task *j = e->free_tasks;
    if (j) {
        e->free_tasks = j->next_free;
    } else {
        j = calloc(1, sizeof(*j));
        if (!j)
            return NULL;
        j->all_next = e->all_tasks;
        e->all_tasks = j;
    }
    j->req = req;
    /* A pooled task must not show the last request's answer if this one never gets its own. */
    j->x.status = 0;
    j->x.body_len = 0;
    j->x.hdrs.request_id[0] = '\0';
    j->body_is_json = 0;
    j->tokens_in = j->tokens_out = 0;
    j->attempts = 0;
    j->refused = 0;
    j->fault = 0;
    j->fault_in_flight = 0;
    j->in_flight = 0;
    j->live = 1;
    j->x.ud = j;
    e->live++;
    return j;
}

static void task_give(struct sluice_s *e, struct task *j) {
    xfer_trim(&j->x); /* a free task does not keep a large answer's buffer */
    e->src.release(e->src.ud, j->req);
    j->req = NULL;
    j->live = 0;
    j->next_free = e->free_tasks;
    e->free_tasks = j;
    e->live--;
}

/* ---- results ---- */

static void finish_check(struct sluice_s *e);

/*
 * Notes a result handed over while results are held until written. A request that was sent
 * holds its slot until written: a kill -9 before that makes --resume send it again, on top of
 * the slots in flight. One never sent (an invalid line, a foreign url) holds none: --resume
 * rejects it again at no cost, and a file of bad lines goes out at parse speed, not a slot's
 * worth per batch written. Reports count lines in order, so the order of the two kinds is kept,
 * in runs: there are at most about twice as many runs as slots. Returns 0 or SLUICE_ENOMEM.
 */
static int held_push(struct sluice_s *e, int slot) {
    if (e->held_len > 0) {
        struct held_run *t = &e->held[(e->held_head + e->held_len - 1) % e->held_cap];
        if (t->slot == slot) {
            t->n++;
            goto done;
        }
    }
    if (e->held_len == e->held_cap) {
        size_t cap = e->held_cap ? e->held_cap * 2 : 16;
        struct held_run *nr = malloc(cap * sizeof(*nr));
        if (!nr)
            return SLUICE_ENOMEM;
        for (size_t i = 0; i < e->held_len; i++)
            nr[i] = e->held[(e->held_head + i) % e->held_cap];
        free(e->held);
        e->held = nr;
        e->held_cap = cap;
        e->held_head = 0;
    }
    e->held[(e->held_head + e->held_len++) % e->held_cap] = (struct held_run){1, slot};
done:
    if (slot)
        e->unwritten++;
    return 0;
}

void engine_on_written(struct sluice_s *e, size_t n) {
    while (n > 0 && e->held_len > 0) {
        struct held_run *h = &e->held[e->held_head];
        uint64_t k = h->n < n ? h->n : n;
        if (h->slot)
            e->unwritten -= (int)k;
        h->n -= k;
        n -= k;
        if (h->n == 0) {
            e->held_head = (e->held_head + 1) % e->held_cap;
            e->held_len--;
        }
    }
}

/* Hands one final outcome to the result callback; a failing callback (full disk) stops the run. */
static void emit(struct sluice_s *e, const sluice_result_t *res) {
    if (res->error_code)
        e->st.failed++;
    else
        e->st.succeeded++;
    e->st.tokens_in += res->tokens_in;
    e->st.tokens_out += res->tokens_out;
    /* before the callback: it may report the line written at once */
    if (e->hold_unwritten && held_push(e, res->attempts > 0) < 0 && e->err == 0) {
        e->err = SLUICE_ENOMEM;
        engine_stop(e, SLUICE_STOPPED_SINK, SLUICE_STOP_DRAIN, NULL);
    }
    int rc = e->cb(res, e->cb_ud);
    if (rc < 0 && e->err == 0) {
        e->err = rc;
        engine_stop(e, SLUICE_STOPPED_SINK, SLUICE_STOP_DRAIN, NULL);
    }
}

static void emit_invalid(struct sluice_s *e, sluice_request_t *r) {
    sluice_result_t res = {0};
    res.req = r;
    res.error_code = "invalid_request";
    res.error_message = r->invalid;
    e->st.invalid++;
    emit(e, &res);
    e->src.release(e->src.ud, r);
}

/*
 * The members of the JSON object at s[*pos]: calls fn for each key (raw bytes between the
 * quotes) with the position of its value, which fn may read. The text must already be valid
 * JSON (it is walked, not checked again). Returns 0, or -1 when s[*pos] is not an object.
 */
static int object_each(const char *s, size_t len, size_t *pos,
                       void (*fn)(const char *key, size_t klen, const char *s, size_t len,
                                  size_t pos, void *ud),
                       void *ud) {
    if (util_json_members(s, len, pos) < 0)
        return -1;
    struct util_span k, v;
    while (util_json_member(s, len, pos, &k, &v))
        fn(k.p + 1, k.n - 2, s, len, (size_t)(v.p - s), ud);
    return 0;
}

struct usage {
    uint64_t in, out;
};

static int key_is(const char *k, size_t kl, const char *want) {
    return kl == strlen(want) && memcmp(k, want, kl) == 0;
}

static void usage_member(const char *k, size_t kl, const char *s, size_t len, size_t pos,
                         void *ud) {
    struct usage *u = ud;
    if (pos >= len || s[pos] < '0' || s[pos] > '9')
        return;
    uint64_t v = 0; /* the digits of a checked number; saturated, as strtoull() */
    for (size_t i = pos; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    if (key_is(k, kl, "prompt_tokens") || key_is(k, kl, "input_tokens"))
        u->in = v;
    else if (key_is(k, kl, "completion_tokens") || key_is(k, kl, "output_tokens"))
        u->out = v;
}

/* A top-level member of an answer, already checked: "usage" is read at once. */
static void answer_member(const struct util_span *key, const struct util_span *val, void *ud) {
    if (key_is(key->p + 1, key->n - 2, "usage")) {
        size_t pos = 0;
        object_each(val->p, val->n, &pos, usage_member, ud);
    }
}

/*
 * Reads a 2xx or error body: is it one JSON value, and what usage does it report? Returns 1
 * when the body is JSON. One strict pass of the project's scanner, which hands over the
 * top-level members as it checks them: no tree is built (a json-c tree per answer was a fifth
 * of the run's instructions), the body is not walked again, and it is written as received.
 */
static int body_inspect(const struct xfer *x, uint64_t *tin, uint64_t *tout) {
    *tin = *tout = 0;
    if (!x->body || x->body_len == 0)
        return 0;
    struct usage u = {0, 0};
    size_t err;
    if (util_json_validate_members(x->body, x->body_len, &err, answer_member, &u) != UTIL_JSON_OK)
        return 0;
    *tin = u.in;
    *tout = u.out;
    return 1;
}

/*
 * A body that is not JSON goes into the result line as a JSON string, whose escapes can make
 * it six times as long (control bytes as \u00XX): max_response_bytes bounds that too, so that
 * an attempt's memory (the body, then its line) stays within about twice it. A body over it
 * turns the attempt into TRANSPORT_TOO_LARGE, with x->err saying why.
 */
static void text_check_size(const struct sluice_s *e, struct xfer *x) {
    size_t max = e->max_response_bytes;
    if (max >= 2 && x->body_len <= (max - 2) / 6)
        return; /* however escaped, it fits */
    size_t n = util_json_string_size(x->body, x->body_len);
    if (n <= max)
        return;
    x->tr = TRANSPORT_TOO_LARGE;
    snprintf(x->err, sizeof(x->err),
             "the answer's %zu bytes of text take %zu escaped in the result line, more than the "
             "%zu allowed (--max-response-bytes)",
             x->body_len, n, max);
}

/* An HTTP answer came, whether or not it was kept. */
static void emit_answer(struct sluice_s *e, struct task *j, const char *code, const char *msg) {
    sluice_result_t res = {0};
    res.req = j->req;
    res.status_code = j->x.status;
    res.request_id = j->x.hdrs.request_id[0] ? j->x.hdrs.request_id : NULL;
    /* a body too large to keep is not written: its status and request id are */
    int body = j->x.status && j->x.tr == TRANSPORT_OK;
    res.body = body ? j->x.body : NULL;
    res.body_len = body ? j->x.body_len : 0;
    res.body_is_json = j->body_is_json;
    res.error_code = code;
    res.error_message = msg;
    res.attempts = j->attempts;
    res.latency_ms = j->x.latency_ms;
    res.tokens_in = code ? 0 : j->tokens_in;
    res.tokens_out = code ? 0 : j->tokens_out;
    /* body_is_json is body_inspect()'s verdict on this very body: the sink need not check it
       again (sink.h) */
    if (res.body && res.body_is_json)
        sink_vouch_json(res.body, res.body_len);
    emit(e, &res);
    sink_vouch_json(NULL, 0);
    task_give(e, j);
}

/* ---- dispatch ---- */

static void on_wake(uv_timer_t *t);

/* The pacer's rates go to the limiter (and, through a shared one, to every process). */
static void limiter_set_rates(struct sluice_s *e, int64_t now) {
    e->lim->ops->set_rates(e->lim, now, e->pacer.rpm, e->pacer.tpm);
    pacer_shared(&e->pacer);
}

void engine_wake(void *ud) {
    struct sluice_s *e = ud;
    if (!e->finished)
        uv_timer_start(&e->wake, on_wake, 0, 0);
}

static void on_wake(uv_timer_t *t) {
    engine_dispatch(t->data);
}

/*
 * The URL of j's request in j->url (a buffer kept for the task's next attempts), built by
 * url_join(): NULL with *refused set for an absolute url on another origin than the base URL's
 * (the API key goes only there), or NULL when out of memory.
 */
static const char *task_url(struct sluice_s *e, struct task *j, int *refused) {
    long n = url_join(j->url, j->url_cap, e->base_url, j->req->url);
    *refused = n == URL_ELSEWHERE;
    if (n < 0)
        return NULL;
    if ((size_t)n >= j->url_cap) {
        char *nu = realloc(j->url, (size_t)n + 1);
        if (!nu)
            return NULL;
        j->url = nu;
        j->url_cap = (size_t)n + 1;
        url_join(j->url, j->url_cap, e->base_url, j->req->url);
    }
    return j->url;
}

static void task_send(struct sluice_s *e, struct task *j) {
    int refused;
    const char *url = task_url(e, j, &refused);
    if (refused) {
        j->x.status = 0;
        emit_answer(e, j, "invalid_request",
                    "the line's url is on another host than --base-url; the API key is sent "
                    "only to --base-url: use a path, or run that host with its own --base-url");
        return;
    }
    int rc = url ? transport_send(e->tr, &j->x, j->req->method, url, j->req->body, j->req->body_len,
                                  e->headers)
                 : SLUICE_ENOMEM;
    if (rc < 0) {
        j->x.status = 0;
        emit_answer(e, j, "transport_error", "the request could not be started (out of memory?)");
        return;
    }
    j->attempts++;
    j->in_flight = 1;
    j->sent_ms = (int64_t)uv_now(e->loop);
    pacer_on_send(&e->pacer, j->sent_ms);
    j->ticket = breaker_on_send(&e->br, j->sent_ms);
    if (j->fault) {
        j->fault_in_flight = 1;
        e->retries_in_flight++;
    }
    e->in_flight++;
    e->st.attempts++;
    if (j->attempts > 1)
        e->st.retries++;
}

/* Pulls the next request to send: a retry whose time has come first, then the source. */
static struct task *next_task(struct sluice_s *e, int64_t now) {
    /* A retry after a fault waits while the retry budget is spent (new requests refill it);
       retries after a 429 or an outage are the pacer's and the breaker's, not the budget's. */
    if (e->heap_len > 0 && e->heap[0]->ready_at <= now &&
        (!e->heap[0]->fault || retry_budget_allow(&e->rb, e->retries_in_flight)))
        return heap_pop(e);
    while (!e->src_eof && !e->src_wait && e->live < e->limit + e->readahead && !e->stopping) {
        sluice_request_t *r = NULL;
        int rc = e->src.next(e->src.ud, &r);
        if (rc == SLUICE_EOF) {
            e->src_eof = 1;
            break;
        }
        if (rc == SLUICE_EAGAIN) {
            e->src_wait = 1;
            break;
        }
        if (rc < 0) {
            e->err = rc;
            engine_stop(e, SLUICE_STOPPED_SOURCE, SLUICE_STOP_DRAIN, NULL);
            break;
        }
        e->st.pulled++;
        if (r->invalid) {
            /* Never sent, it takes no slot (held_push): the pull goes on. A long run of them
               lets the loop turn now and then. */
            emit_invalid(e, r);
            if (++e->invalid_run >= INVALID_PER_DISPATCH) {
                e->yield = 1;
                break;
            }
            continue;
        }
        struct task *j = task_take(e, r);
        if (!j) {
            e->err = SLUICE_ENOMEM;
            e->src.release(e->src.ud, r);
            engine_stop(e, SLUICE_STOPPED_SOURCE, SLUICE_STOP_DRAIN, NULL);
            break;
        }
        return j;
    }
    return NULL;
}

/* Attempts at once now: -c (or what -c auto allows), fewer during the slow start. */
int engine_slots(const struct sluice_s *e) {
    return e->limit < e->ss_slots ? e->limit : e->ss_slots;
}

/*
 * The slow start. While no rate is known (nothing told, no rate-limit headers, no refusal yet)
 * nothing paces the run but its slots, so it opens with SLOW_START_SLOTS of them. Each success
 * adds one, which doubles them every round trip, as TCP's slow start does; and while they are
 * all in use they double every SLOW_START_DOUBLE_MS as well, so that a server whose answers
 * take seconds reaches -c within about two seconds instead of many round trips. It ends when a
 * rate becomes known (headers, the first refusal) or the slots reach -c. Opening with all of -c
 * at once sent a strict server (nginx limit_req at 2/s) dozens of requests to refuse.
 */
#define SLOW_START_DOUBLE_MS 200

static void slow_start_end(struct sluice_s *e) {
    e->ss_slots = INT_MAX;
}

/* Doubles the slots when their time has come (the dispatch arms the timer for it). */
static void slow_start_tick(struct sluice_s *e, int64_t now) {
    if (e->ss_slots == INT_MAX)
        return;
    if (e->ss_slots >= e->limit_max) {
        slow_start_end(e);
        return;
    }
    if (e->in_flight + e->unwritten < e->ss_slots)
        return; /* not all in use: more would change nothing */
    if (now - e->ss_doubled_ms >= SLOW_START_DOUBLE_MS) {
        e->ss_slots *= 2;
        e->ss_doubled_ms = now;
    }
}

int engine_slots_full(const struct sluice_s *e) {
    return e->in_flight + e->unwritten >= engine_slots(e);
}

/*
 * The gates before any request goes: a provider down too long (stops the run), the breaker
 * open, everyone's pause. Returns 1 when one is shut, with *wake the time to look again (-1
 * when the run stops).
 */
static int dispatch_gated(struct sluice_s *e, int64_t now, int64_t *wake) {
    if (breaker_gave_up(&e->br, now)) {
        snprintf(e->stop_detail, sizeof(e->stop_detail),
                 "no answer from %s for %.0f s; it is still down", e->base_url,
                 (double)breaker_outage_ms(&e->br, now) / 1000.0);
        engine_stop(e, SLUICE_STOPPED_DOWN, SLUICE_STOP_DRAIN, NULL);
        return 1;
    }
    int64_t bw = breaker_wait(&e->br, now);
    if (bw > 0) {
        *wake = now + bw; /* the provider is down: requests wait, they do not fail */
        return 1;
    }
    if (now < e->pause_until) {
        *wake = e->pause_until;
        return 1;
    }
    return 0;
}

/* The tokens j charges the budget; -1 after writing it as failed when no budget can hold it. */
static double dispatch_cost(struct sluice_s *e, struct task *j) {
    double cost = (double)j->req->est_tokens;
    if (e->pacer.told_tpm > 0 && cost > e->pacer.told_tpm) {
        /* It can never fit the user's budget: waiting would stall the run forever. Final for
           it alone. */
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "estimated %.0f tokens, more than the whole budget of %.0f tokens per minute "
                 "(--tpm); raise it, shorten the request or lower max_tokens",
                 cost, e->pacer.told_tpm);
        emit_answer(e, j, "request_too_large", msg);
        return -1;
    }
    /* A budget the provider announces that cannot hold this request says more about the
       header (a proxy's, a placeholder) than about the request: it goes without a token
       charge, and the provider judges it (a real limit answers 429, "request too large").
       Every other request is paced by the announced budget. */
    return e->pacer.header_tpm > 0 && cost > e->pacer.header_tpm ? 0 : cost;
}

/* When the loop should call engine_dispatch() next, given the gate's time (`wake`, -1 none). */
static int64_t dispatch_next_wake(struct sluice_s *e, int64_t now, int64_t wake, int gated,
                                  int slots) {
    /* Nothing was gated: wake for the next retry. (A gate's own time comes first; arming the
       retry's, already due, would spin the loop while the gate is shut.) */
    if (!gated && !e->stopping && e->heap_len > 0 && e->in_flight + e->unwritten < slots) {
        int64_t t = e->heap[0]->ready_at;
        if (t <= now)
            t = now + 1; /* due but held by the retry budget: look again shortly */
        wake = t;
    }
    /* All the slow start's slots in use: look again when they double. */
    if (!gated && !e->stopping && e->ss_slots < INT_MAX &&
        e->in_flight + e->unwritten >= e->ss_slots) {
        /* Filled just now, or earlier: either way the slots double SLOW_START_DOUBLE_MS after
           the last doubling, answers or not (answers may take seconds). */
        int64_t t = e->ss_doubled_ms + SLOW_START_DOUBLE_MS;
        if (t <= now)
            t = now + 1;
        if (wake < 0 || t < wake)
            wake = t;
    }
    if (e->yield && !e->stopping)
        wake = now; /* more invalid lines may follow: the next turn of the loop goes on */
    int64_t unreachable = reach_deadline(&e->reach);
    if (!e->stopping && unreachable >= 0 && (wake < 0 || unreachable < wake))
        wake = unreachable; /* retries may wait longer than the grace: stop on time */
    return wake;
}

void engine_dispatch(struct sluice_s *e) {
    if (e->dispatching || e->finished)
        return;
    e->dispatching = 1;
    uv_update_time(e->loop);
    int64_t now = (int64_t)uv_now(e->loop);
    int64_t wake = -1;
    slow_start_tick(e, now);
    e->invalid_run = 0;
    e->yield = 0;
    if (pacer_tick(&e->pacer, now))
        limiter_set_rates(e, now);
    int slots = engine_slots(e);
    int gated = 0;        /* a gate (breaker, pause, budget) decided the next wake-up */
    int budget_bound = 0; /* the budget, not the slots, held the next request back */
    if (!e->stopping && reach_gave_up(&e->reach, now)) {
        /* Nothing has ever answered: a wrong URL, not an outage (reach.h). The request that
           failed last, and the rest, are left for --resume. */
        snprintf(e->stop_detail, sizeof(e->stop_detail), "%s", e->st.last_error);
        engine_stop(e, SLUICE_STOPPED_UNREACHABLE, SLUICE_STOP_DRAIN, NULL);
    }
    while (!e->stopping && e->in_flight + e->unwritten < slots) {
        if ((gated = dispatch_gated(e, now, &wake)) != 0)
            break;
        struct task *j = e->pending ? e->pending : next_task(e, now);
        e->pending = NULL;
        if (!j)
            break;
        double cost = dispatch_cost(e, j);
        if (cost < 0)
            continue;
        int64_t w = e->lim->ops->wait(e->lim, now, cost);
        if (w > 0) {
            /* The budget decides when the next request goes; it waits at the head. */
            budget_bound = 1;
            e->pending = j;
            wake = now + w;
            gated = 1;
            break;
        }
        if (j->attempts == 0 && e->admit_cb && e->admit_cb(j->req, e->admit_ud) != 0) {
            task_give(e, j);
            engine_stop(e, SLUICE_STOPPED_BUDGET, SLUICE_STOP_DRAIN, NULL);
            break;
        }
        e->lim->ops->take(e->lim, now, cost);
        j->charged = cost;
        e->est_in_flight += cost;
        task_send(e, j);
    }
    e->pacer.budget_bound = budget_bound;
    wake = dispatch_next_wake(e, now, wake, gated, slots);
    if (wake >= 0)
        uv_timer_start(&e->wake, on_wake, (uint64_t)(wake > now ? wake - now : 0), 0);
    else
        uv_timer_stop(&e->wake);
    e->dispatching = 0;
    finish_check(e);
}

static void finish_check(struct sluice_s *e) {
    if (e->finished || e->in_flight > 0)
        return;
    if (!e->stopping && !(e->src_eof && e->heap_len == 0 && !e->pending))
        return;
    e->finished = 1;
    uv_timer_stop(&e->wake);
    uv_stop(e->loop);
}

/* ---- what an attempt's outcome means ---- */

/* How long a request waits before its next attempt. */
static int64_t retry_delay(struct sluice_s *e, const struct task *j,
                           const struct classify_verdict *v) {
    if (v->retry_after_ms >= 0)
        return v->retry_after_ms;
    /* The backoff grows with failures of the same kind: refusals (429) and faults count
       apart, so a fault after many refusals does not wait as if it were the 20th fault. */
    int refusal = v->cls == CLASS_RATE_LIMITED || v->cls == CLASS_TOO_MANY_CONCURRENT;
    int n = refusal ? j->refused : j->attempts - j->refused;
    return backoff_delay_ms(&e->rng, n, e->backoff_base_ms, e->backoff_cap_ms);
}

/* A request waits `delay` for its next attempt; everyone waits until `until` (a window's end
   the refusal named, pacer_pause_all_until) when that is later than now. */
static void retry_later(struct sluice_s *e, struct task *j, const struct classify_verdict *v,
                        int64_t now, int64_t delay, int64_t until) {
    if (until > now) {
        if (until > e->pause_until)
            e->pause_until = until;
        if (e->lim->ops->pause)
            e->lim->ops->pause(e->lim, now, until - now);
    }
    j->ready_at = now + delay;
    if (heap_push(e, j) < 0) {
        emit_answer(e, j, v->code, "out of memory while scheduling a retry");
    }
}

/*
 * The fraction of a budget's traffic this process sends: 1 alone; with a budget shared through
 * Redis (rpm, the rate in force for everyone; 0 = none yet), what it sent over the last second
 * against that rate.
 */
static double traffic_share(struct sluice_s *e, int64_t now, double rpm) {
    if (rpm <= 0)
        return 1;
    double mine = pacer_send_rate(&e->pacer, now, 1000);
    return mine <= 0 || mine >= rpm ? 1 : mine / rpm;
}

/*
 * What an answer teaches the scheduler: the pacer learns rates from headers and 429s, and
 * --concurrency auto learns the slots from overload and latency. Overload (529, 503
 * "overloaded") is provider-wide and never lowers the rate (it feeds the slots and the
 * breaker); a 429 about rate never lowers the slots.
 */
static void learn(struct sluice_s *e, const struct task *j, const struct classify_verdict *v,
                  int64_t now, int64_t until) {
    int changed = 0;
    /* A shared budget's rates in force: another process may have learned them. The slow start
       holds its slots until one is in force (units leased while the budget was unlimited
       would all go at once before then). A local limiter is always in force. */
    double shared_rpm = 0, shared_tpm = 0;
    int in_force = 1;
    if (e->lim->ops->rates) {
        e->lim->ops->rates(e->lim, &shared_rpm, &shared_tpm);
        pacer_adopt(&e->pacer, shared_rpm);
        in_force = shared_rpm > 0 || shared_tpm > 0;
    }
    if (classify_answered(j->x.tr))
        changed |= pacer_on_headers(&e->pacer, &j->x.hdrs, now);
    if (v->cls == CLASS_RATE_LIMITED) {
        /* A refusal says the server tolerates less burst than we allowed, whatever the rate. */
        if (e->lim->ops->no_burst)
            e->lim->ops->no_burst(e->lim, now);
        changed |=
            pacer_on_refusal(&e->pacer, j->sent_ms, now, until, traffic_share(e, now, shared_rpm));
    } else if (v->cls == CLASS_SUCCESS) {
        changed |= pacer_on_success(&e->pacer, j->sent_ms, now);
        if (e->ss_slots < INT_MAX)
            e->ss_slots++;
    }
    if (e->ss_slots < INT_MAX && (v->cls == CLASS_RATE_LIMITED || !pacer_searching(&e->pacer)) &&
        in_force)
        slow_start_end(e); /* a rate is known, and in force: it paces the run from now on */
    if (changed)
        limiter_set_rates(e, now);
    if (!e->auto_conc && v->cls == CLASS_TOO_MANY_CONCURRENT) {
        /* The provider limits concurrent requests (Anthropic says so in a 429): from now on
           the slots adapt, starting just under what was out when it refused. */
        e->auto_conc = 1;
        concurrency_init(&e->adapt, e->in_flight > 1 ? e->in_flight : 1, 1, e->limit_max, now);
    }
    if (e->auto_conc && v->cls == CLASS_TOO_MANY_CONCURRENT)
        concurrency_at_most(&e->adapt, e->in_flight);
    if (!e->auto_conc)
        return;
    if (v->cls == CLASS_SUCCESS)
        concurrency_on_success(&e->adapt, now, j->x.latency_ms, e->in_flight + 1);
    else if (v->cls == CLASS_OVERLOADED || v->cls == CLASS_TOO_MANY_CONCURRENT ||
             j->x.tr == TRANSPORT_TIMEOUT)
        concurrency_on_drop(&e->adapt, now);
    e->limit = concurrency_limit(&e->adapt);
}

/* Tells the attempt callback (--log, metrics) how an attempt ended. */
static void note_attempt(struct sluice_s *e, const struct task *j, const struct classify_verdict *v,
                         int64_t wait_ms) {
    if (!e->attempt_cb)
        return;
    sluice_attempt_t a = {
        .req = j->req,
        .attempt = j->attempts,
        .status_code = j->x.status,
        .outcome = classify_class_name(v->cls),
        .error_code = v->code,
        .latency_ms = j->x.latency_ms,
        .wait_ms = (double)wait_ms,
    };
    e->attempt_cb(&a, e->attempt_ud);
}

static void describe(char *buf, size_t n, const struct task *j, const struct classify_verdict *v) {
    if (j->x.tr != TRANSPORT_OK)
        snprintf(buf, n, "%s (attempt %d): %s", v->code, j->attempts, j->x.err);
    else
        snprintf(buf, n, "HTTP %d (attempt %d)", j->x.status, j->attempts);
}

/* What an attempt's answer is: the figures every attempt feeds, then the classifier's verdict. */
static struct classify_verdict done_classify(struct sluice_s *e, struct xfer *x, struct task *j,
                                             int64_t now) {
    /* Every attempt, answered or not: attempts that time out are what the tail is for. */
    hist_record(&e->latency, x->latency_ms);
    reach_record(&e->reach, now, x->tr);
    if (!classify_answered(x->tr)) {
        snprintf(e->st.last_error, sizeof(e->st.last_error), "%s", x->err);
        e->st.last_error_s = (double)(uv_hrtime() - e->started_ns) / 1e9;
    }
    j->body_is_json = x->tr == TRANSPORT_OK ? body_inspect(x, &j->tokens_in, &j->tokens_out) : 0;
    if (x->tr == TRANSPORT_OK && x->body && !j->body_is_json)
        text_check_size(e, x);
    struct classify_seen seen = {x->body_is_json_type, j->body_is_json, e->max_retry_after_ms};
    return classify_attempt(x->tr, x->status, &x->hdrs, x->body, x->body_len, &seen);
}

/* What the verdict teaches the rate control; returns when everyone is to pause until (-1:
   no one). */
static int64_t done_account(struct sluice_s *e, struct task *j, const struct classify_verdict *v,
                            int64_t now) {
    if (v->cls == CLASS_RATE_LIMITED)
        e->st.rate_limited++;
    int64_t until = pacer_pause_all_until(&e->pacer, v, now);
    learn(e, j, v, now, until);
    if (v->cls == CLASS_SUCCESS && j->charged > 0 && j->tokens_in > 0 &&
        j->req->est_prompt_tokens > 0) {
        /* Providers charge a request's budget at admission with its max_tokens (OpenAI
           documents this), so only the prompt part of the estimate is corrected by usage. */
        double actual = j->charged - (double)j->req->est_prompt_tokens + (double)j->tokens_in;
        e->lim->ops->reconcile(e->lim, now, j->charged, actual);
    }
    return until;
}

/*
 * The breaker and the retry budget hear the verdict. Returns the wait before j's next attempt,
 * or -1 when it gets none (not a retryable class, stopping, or out of attempts).
 */
static int64_t done_retry_wait(struct sluice_s *e, struct task *j, const struct classify_verdict *v,
                               int64_t now) {
    /* The breaker hears every answer: 5xx and transport failures say the provider is down. */
    enum breaker_outcome bo = v->provider_fault ? BREAKER_FAIL : BREAKER_OK;
    breaker_record(&e->br, now, j->ticket, bo);
    int closed = breaker_state(&e->br, now) == BREAKER_CLOSED;
    if (j->fault_in_flight) {
        j->fault_in_flight = 0;
        e->retries_in_flight--;
    }
    if (v->cls == CLASS_SUCCESS)
        retry_budget_on_success(&e->rb);
    else if (bo == BREAKER_FAIL && closed)
        retry_budget_on_failure(&e->rb);
    int outage = bo == BREAKER_FAIL && !closed;
    j->fault = bo == BREAKER_FAIL && closed;
    if (v->cls != CLASS_RETRY && v->cls != CLASS_RATE_LIMITED && v->cls != CLASS_OVERLOADED &&
        v->cls != CLASS_TOO_MANY_CONCURRENT)
        return -1;
    /* Refusals and failures during an outage are not the request's fault: they do not use up
       --max-attempts, and an outage's retries wait for the breaker, not a backoff. A refusal to
       go faster is not the request's failure: the pacer's job is to get it through. */
    if (v->cls == CLASS_RATE_LIMITED || v->cls == CLASS_TOO_MANY_CONCURRENT || outage)
        j->refused++;
    if (e->stopping || j->attempts - j->refused >= e->max_attempts)
        return -1;
    return outage ? 0 : retry_delay(e, j, v);
}

/* An auth failure or a quota: every other request would get the same answer. Stop, and leave
   this one and the rest for --resume once the key or quota is fixed. */
static void done_stop(struct sluice_s *e, struct xfer *x, struct task *j,
                      const struct classify_verdict *v) {
    if (v->over_max_wait)
        snprintf(e->stop_detail, sizeof(e->stop_detail),
                 "HTTP %d from %s asks to wait %.0f s, more than --max-retry-after", x->status,
                 j->req->url, (double)v->retry_after_ms / 1000.0);
    else {
        /* The provider's own words, whole or cut between words: a link to its docs is worth
           more than the JSON around it. */
        int k = snprintf(e->stop_detail, sizeof(e->stop_detail), "HTTP %d from %s: ", x->status,
                         j->req->url);
        if (k > 0 && (size_t)k < sizeof(e->stop_detail))
            classify_error_text(x->body, x->body ? x->body_len : 0, e->stop_detail + k,
                                sizeof(e->stop_detail) - (size_t)k);
    }
    /* A server's words go to a terminal: no control characters (escape sequences). */
    for (char *p = e->stop_detail; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    task_give(e, j);
    engine_stop(e, v->cls == CLASS_AUTH ? SLUICE_STOPPED_AUTH : SLUICE_STOPPED_QUOTA,
                SLUICE_STOP_DRAIN, NULL);
}

/* An attempt ended: classify it, account for it, then act on it (a result, a retry, a stop). */
void engine_on_done(struct xfer *x, void *ud) {
    struct sluice_s *e = ud;
    struct task *j = x->ud;
    j->in_flight = 0;
    e->in_flight--;
    e->est_in_flight -= j->charged;
    uv_update_time(e->loop);
    int64_t now = (int64_t)uv_now(e->loop);
    struct classify_verdict v = done_classify(e, x, j, now);
    int64_t until = done_account(e, j, &v, now);
    char msg[CURL_ERROR_SIZE + 160];
    if (x->tls_unverified) {
        /* Every request to this server would fail the same way, and retrying is no fix. */
        note_attempt(e, j, &v, 0);
        snprintf(e->stop_detail, sizeof(e->stop_detail), "%s", x->err);
        task_give(e, j);
        engine_stop(e, SLUICE_STOPPED_TLS, SLUICE_STOP_DRAIN, NULL);
        engine_dispatch(e);
        return;
    }
    int64_t wait = done_retry_wait(e, j, &v, now);
    note_attempt(e, j, &v, wait > 0 ? wait : 0);
    switch (v.cls) {
    case CLASS_SUCCESS:
        emit_answer(e, j, NULL, NULL);
        break;
    case CLASS_RETRY:
    case CLASS_RATE_LIMITED:
    case CLASS_OVERLOADED:
    case CLASS_TOO_MANY_CONCURRENT:
        if (e->stopping) {
            /* Draining: no new attempts. The request is left for --resume. */
            task_give(e, j);
        } else if (wait < 0) {
            char last[CURL_ERROR_SIZE + 80];
            describe(last, sizeof(last), j, &v);
            snprintf(msg, sizeof(msg), "gave up after %d attempts; last: %s", j->attempts, last);
            emit_answer(e, j, v.code, msg);
        } else {
            retry_later(e, j, &v, now, wait, until);
        }
        break;
    case CLASS_AUTH:
    case CLASS_QUOTA:
        done_stop(e, x, j, &v);
        break;
    default:
        describe(msg, sizeof(msg), j, &v);
        emit_answer(e, j, v.code, msg);
        break;
    }
    engine_dispatch(e);
}

void engine_stop(struct sluice_s *e, sluice_stopped_t why, sluice_stop_t how, const char *detail) {
    if (detail)
        snprintf(e->stop_detail, sizeof(e->stop_detail), "%s", detail);
    if (e->stopped == SLUICE_STOPPED_NONE)
        e->stopped = why;
    if (e->stopping && !(how == SLUICE_STOP_ABANDON && e->stop_how == SLUICE_STOP_DRAIN)) {
        finish_check(e);
        return;
    }
    e->stopping = 1;
    e->stop_how = how;
    uv_timer_stop(&e->wake);
    /* Requests waiting for a retry get no result: --resume sends them again. */
    while (e->heap_len > 0)
        task_give(e, heap_pop(e));
    if (e->pending) {
        task_give(e, e->pending);
        e->pending = NULL;
    }
    if (how == SLUICE_STOP_ABANDON) {
        for (struct task *j = e->all_tasks; j; j = j->all_next) {
            if (j->live && j->in_flight) {
                transport_cancel(e->tr, &j->x);
                breaker_record(&e->br, (int64_t)uv_now(e->loop), j->ticket, BREAKER_NEUTRAL);
                if (j->fault_in_flight) {
                    j->fault_in_flight = 0;
                    e->retries_in_flight--;
                }
                j->in_flight = 0;
                e->in_flight--;
                e->est_in_flight -= j->charged;
                task_give(e, j);
            }
        }
    }
    finish_check(e);
}

void sluice_stop(sluice_t *s, sluice_stop_t how) {
    engine_stop(s, SLUICE_STOPPED_USER, how, NULL);
}
