/* The token estimate of a request body (estimate.h, source.h). */
#include "estimate.h"

#include <stdint.h>
#include <string.h>

#include "source.h"

static uint64_t est_sat_add(uint64_t a, uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t est_sat_mul(uint64_t a, uint64_t b) {
    return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* A JSON integer (no fraction, no exponent) that is positive, saturated at INT64_MAX as
   json-c reads it; else 0. */
static uint64_t est_count_of(struct util_span v) {
    if (!v.p || v.n == 0 || v.p[0] < '0' || v.p[0] > '9')
        return 0;
    uint64_t n = 0;
    for (size_t i = 0; i < v.n; i++) {
        char c = v.p[i];
        if (c == '.' || c == 'e' || c == 'E')
            return 0;
        n = n > (uint64_t)INT64_MAX / 10 ? (uint64_t)INT64_MAX : n * 10 + (uint64_t)(c - '0');
        if (n > (uint64_t)INT64_MAX)
            n = (uint64_t)INT64_MAX;
    }
    return n;
}

/* Decoded bytes of a string token; 0 for anything else. */
static uint64_t est_str_len(struct util_span v) {
    if (!v.p || v.p[0] != '"')
        return 0;
    return memchr(v.p, '\\', v.n) ? util_json_unescape(v.p, v.n, NULL) : v.n - 2;
}

/* Text bytes of a string, or of the "text" of an object (a content part). */
static uint64_t est_text_of(struct util_span v) {
    if (v.p && v.p[0] == '{')
        return est_str_len(util_json_find(v, "text"));
    return est_str_len(v);
}

/* Calls fn for each element of the array v (nothing when v is not an array). */
static void est_each(struct util_span v, void (*fn)(struct util_span e, void *ud), void *ud) {
    if (!v.p || v.p[0] != '[')
        return;
    size_t pos = 1;
    for (;;) {
        util_json_skip_ws(v.p, v.n, &pos);
        if (pos < v.n && v.p[pos] == ',') {
            pos++;
            util_json_skip_ws(v.p, v.n, &pos);
        }
        if (pos >= v.n || v.p[pos] == ']')
            return;
        size_t start = pos;
        util_json_skip(v.p, v.n, &pos);
        fn((struct util_span){v.p + start, pos - start}, ud);
    }
}

struct est_tally {
    uint64_t bytes, ids;
    int depth;
};

static void est_tally_text(struct util_span e, void *ud) {
    struct est_tally *t = ud;
    t->bytes = est_sat_add(t->bytes, est_text_of(e));
}

/* Text bytes of a string or of each element of an array (strings or content parts). */
static void est_text_all(struct util_span v, struct est_tally *t) {
    if (v.p && v.p[0] == '[')
        est_each(v, est_tally_text, t);
    else
        est_tally_text(v, t);
}

static void est_tally_message(struct util_span e, void *ud) {
    if (e.p[0] == '{')
        est_text_all(util_json_find(e, "content"), ud);
}

/* "prompt" / "input": text bytes, and 1 per token id (integers, or arrays of them). */
static void est_tally_input(struct util_span v, void *ud) {
    struct est_tally *t = ud;
    char c = v.p[0];
    if (c == '-' || (c >= '0' && c <= '9')) {
        if (!memchr(v.p, '.', v.n) && !memchr(v.p, 'e', v.n) && !memchr(v.p, 'E', v.n))
            t->ids = est_sat_add(t->ids, 1);
    } else if (c == '[' && t->depth < 2) {
        t->depth++;
        est_each(v, est_tally_input, t);
        t->depth--;
    } else {
        est_tally_text(v, t);
    }
}

uint64_t source_estimate_tokens(const char *body, size_t len) {
    uint64_t prompt;
    return source_estimate_split(body, len, &prompt);
}

uint64_t source_estimate_split(const char *body, size_t len, uint64_t *prompt) {
    struct util_span model, stream;
    return estimate_body(body, len, prompt, &model, &stream);
}

/* One walk of the body's members for the estimate, and the "model" and "stream" members. */
uint64_t estimate_body(const char *body, size_t len, uint64_t *prompt, struct util_span *model,
                       struct util_span *stream) {
    *prompt = 0;
    *model = *stream = (struct util_span){NULL, 0};
    size_t pos = 0;
    if (!body || util_json_members(body, len, &pos) < 0)
        return 0;
    struct est_tally t = {0, 0, 0};
    struct util_span k, v, messages = {0}, system = {0}, prompt_v = {0}, input = {0};
    struct util_span max_completion = {0}, max_tokens = {0}, max_output = {0}, n_v = {0};
    char buf[UTIL_JSON_KEY_MAX];
    while (util_json_member(body, len, &pos, &k, &v)) {
        struct util_span t = util_json_key_text(&k, buf);
        if (UTIL_JSON_KEY_IS(t, "messages"))
            messages = v;
        else if (UTIL_JSON_KEY_IS(t, "system"))
            system = v;
        else if (UTIL_JSON_KEY_IS(t, "prompt"))
            prompt_v = v;
        else if (UTIL_JSON_KEY_IS(t, "input"))
            input = v;
        else if (UTIL_JSON_KEY_IS(t, "max_completion_tokens"))
            max_completion = v;
        else if (UTIL_JSON_KEY_IS(t, "max_tokens"))
            max_tokens = v;
        else if (UTIL_JSON_KEY_IS(t, "max_output_tokens"))
            max_output = v;
        else if (UTIL_JSON_KEY_IS(t, "n"))
            n_v = v;
        else if (UTIL_JSON_KEY_IS(t, "model"))
            *model = v;
        else if (UTIL_JSON_KEY_IS(t, "stream"))
            *stream = v;
    }
    est_each(messages, est_tally_message, &t);
    if (system.p)
        est_text_all(system, &t);
    if (prompt_v.p)
        est_tally_input(prompt_v, &t);
    if (input.p)
        est_tally_input(input, &t);

    uint64_t out = est_count_of(max_completion);
    if (out == 0)
        out = est_count_of(max_tokens);
    if (out == 0)
        out = est_count_of(max_output);
    uint64_t n = est_count_of(n_v);
    if (n == 0)
        n = 1;
    uint64_t in = t.bytes / 4 + (t.bytes % 4 != 0);
    *prompt = est_sat_add(in, t.ids);
    return est_sat_add(*prompt, est_sat_mul(out, n));
}
