/*
 * Cost accounting for `sluice run` (--price-in, --price-out, --prices, --max-cost) and
 * --dry-run. Prices are USD per million tokens, input and output apart, as providers publish
 * them.
 */
#include "cost.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "term.h"

#define COST_MODEL_MAX 128

struct price {
    char *model;
    double in, out;
};

/*
 * Built-in list prices, USD per 1M tokens (input, output), standard tier, as published by
 * OpenAI and Anthropic in June 2025. Prices change: a --prices FILE overrides any entry, and
 * --price-in/--price-out override them all. Batch-API and cached-input discounts are not
 * applied. Matching is by longest prefix, so dated snapshots ("gpt-4o-2024-08-06") and
 * "-latest" aliases find their family.
 */
static const struct {
    const char *model;
    double in, out;
} builtin[] = {
    {"gpt-4o", 2.50, 10.00},
    {"gpt-4o-mini", 0.15, 0.60},
    {"gpt-4.1", 2.00, 8.00},
    {"gpt-4.1-mini", 0.40, 1.60},
    {"gpt-4.1-nano", 0.10, 0.40},
    {"gpt-4-turbo", 10.00, 30.00},
    {"gpt-3.5-turbo", 0.50, 1.50},
    {"o1", 15.00, 60.00},
    {"o1-mini", 1.10, 4.40},
    {"o3", 2.00, 8.00},
    {"o3-mini", 1.10, 4.40},
    {"o4-mini", 1.10, 4.40},
    {"text-embedding-3-small", 0.02, 0.0},
    {"text-embedding-3-large", 0.13, 0.0},
    {"text-embedding-ada-002", 0.10, 0.0},
    {"claude-3-haiku", 0.25, 1.25},
    {"claude-3-5-haiku", 0.80, 4.00},
    {"claude-3-5-sonnet", 3.00, 15.00},
    {"claude-3-7-sonnet", 3.00, 15.00},
    {"claude-sonnet-4", 3.00, 15.00},
    {"claude-3-opus", 15.00, 75.00},
    {"claude-opus-4", 15.00, 75.00},
};

struct cost {
    struct price *file; /* --prices entries */
    size_t n_file;
    double fixed_in, fixed_out; /* --price-in/--price-out; negative when unset */
    double max_usd;
    double spent, reserved;
    int priced_any;
    uint64_t unpriced_tokens;
    char unpriced_model[COST_MODEL_MAX];
    char refused_model[COST_MODEL_MAX];
    json_tokener *tok;
    /* The last model priced: a batch is mostly one model, and the table is searched by
       prefix. Valid while the prices stay as they were (memo_rev == rev). */
    char memo_model[COST_MODEL_MAX];
    double memo_in, memo_out;
    int memo_rc;
    unsigned rev, memo_rev;
};

struct cost *cost_new(void) {
    struct cost *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->fixed_in = c->fixed_out = -1;
    c->rev = 1;
    c->tok = json_tokener_new();
    if (!c->tok) {
        free(c);
        return NULL;
    }
    return c;
}

void cost_free(struct cost *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->n_file; i++)
        free(c->file[i].model);
    free(c->file);
    json_tokener_free(c->tok);
    free(c);
}

/* A price must be a finite, non-negative number (ints are numbers too in JSON). */
static int price_number(json_object *o, const char *key, double *out) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        return -1;
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return -1;
    *out = json_object_get_double(v);
    return *out >= 0 && *out < 1e9 ? 0 : -1;
}

int cost_load_file(struct cost *c, const char *path, char *err, size_t errlen) {
    json_object *root = json_object_from_file(path);
    if (!root) {
        snprintf(err, errlen, "%s: %s", path, json_util_get_last_err());
        return -1;
    }
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(err, errlen, "%s: expected an object {\"model\": {\"in\": N, \"out\": N}}", path);
        goto fail;
    }
    json_object_object_foreach(root, model, entry) {
        struct price p = {0};
        if (!json_object_is_type(entry, json_type_object) || price_number(entry, "in", &p.in) ||
            price_number(entry, "out", &p.out)) {
            snprintf(err, errlen,
                     "%s: \"%s\" needs {\"in\": N, \"out\": N}, USD per million tokens, N >= 0",
                     path, model);
            goto fail;
        }
        struct price *np = realloc(c->file, (c->n_file + 1) * sizeof(*np));
        if (!np || !(p.model = strdup(model))) {
            if (np)
                c->file = np;
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        c->file = np;
        c->file[c->n_file++] = p;
        c->rev++;
    }
    json_object_put(root);
    return 0;
fail:
    json_object_put(root);
    return -1;
}

void cost_set_fixed(struct cost *c, double in_per_m, double out_per_m) {
    c->fixed_in = in_per_m;
    c->fixed_out = out_per_m;
    c->rev++;
}

void cost_set_budget(struct cost *c, double max_usd) {
    c->max_usd = max_usd;
}

/* How many bytes of `model` the entry `name` matches: all of it, or a prefix ending at '-'. */
static size_t match_len(const char *name, const char *model) {
    size_t n = strlen(name);
    if (strncmp(name, model, n) != 0 || (model[n] != '\0' && model[n] != '-'))
        return 0;
    return n;
}

int cost_price(const struct cost *c, const char *model, double *in_per_m, double *out_per_m) {
    if (c->fixed_in >= 0 || c->fixed_out >= 0) {
        *in_per_m = c->fixed_in >= 0 ? c->fixed_in : 0;
        *out_per_m = c->fixed_out >= 0 ? c->fixed_out : 0;
        return 0;
    }
    if (!model)
        return -1;
    size_t best = 0;
    for (size_t i = 0; i < c->n_file; i++) {
        size_t m = match_len(c->file[i].model, model);
        if (m > best) {
            best = m;
            *in_per_m = c->file[i].in;
            *out_per_m = c->file[i].out;
        }
    }
    if (best)
        return 0; /* the file wins over the table, even for a shorter match */
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
        size_t m = match_len(builtin[i].model, model);
        if (m > best) {
            best = m;
            *in_per_m = builtin[i].in;
            *out_per_m = builtin[i].out;
        }
    }
    return best ? 0 : -1;
}

/* cost_price() through the one-entry memo. */
static int price_of(struct cost *c, const char *model, double *in_per_m, double *out_per_m) {
    if (!model)
        return cost_price(c, model, in_per_m, out_per_m);
    if (c->memo_rev != c->rev || strcmp(c->memo_model, model) != 0) {
        size_t n = strlen(model);
        if (n >= sizeof(c->memo_model))
            return cost_price(c, model, in_per_m, out_per_m);
        memcpy(c->memo_model, model, n + 1);
        c->memo_rc = cost_price(c, model, &c->memo_in, &c->memo_out);
        c->memo_rev = c->rev;
    }
    *in_per_m = c->memo_in;
    *out_per_m = c->memo_out;
    return c->memo_rc;
}

/* The model of a request, or NULL; parsed with the ledger's tokener into buf. */
static const char *model_of(struct cost *c, const sluice_request_t *req, char *buf, size_t n) {
    if (req->model) {
        /* The source read it already: no second parse of every body. */
        size_t l = strnlen(req->model, n - 1);
        memcpy(buf, req->model, l);
        buf[l] = '\0';
        return buf;
    }
    if (!req->body)
        return NULL;
    json_tokener_reset(c->tok);
    json_object *o = json_tokener_parse_ex(c->tok, req->body, (int)req->body_len);
    json_object *m;
    const char *r = NULL;
    if (json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "model", &m) &&
        json_object_is_type(m, json_type_string)) {
        snprintf(buf, n, "%s", json_object_get_string(m));
        r = buf;
    }
    json_object_put(o);
    return r;
}

int cost_model_of(const char *body, size_t len, char *buf, size_t n) {
    struct cost c = {.tok = json_tokener_new()};
    sluice_request_t req = {.body = body, .body_len = len};
    if (!c.tok)
        return -1;
    const char *m = model_of(&c, &req, buf, n);
    json_tokener_free(c.tok);
    return m ? 0 : -1;
}

static double usd(double in_per_m, double out_per_m, uint64_t tin, uint64_t tout) {
    return ((double)tin * in_per_m + (double)tout * out_per_m) / 1e6;
}

/* Like cost_estimate(), with the model looked up in a caller's buffer. */
static int estimate(struct cost *c, const sluice_request_t *req, char *model, size_t n,
                    double *out) {
    double pin, pout;
    *model = '\0';
    const char *m = c->fixed_in < 0 && c->fixed_out < 0 ? model_of(c, req, model, n) : NULL;
    if (price_of(c, m, &pin, &pout) < 0)
        return -1;
    uint64_t prompt = req->est_prompt_tokens;
    uint64_t rest = req->est_tokens > prompt ? req->est_tokens - prompt : 0;
    *out = usd(pin, pout, prompt, rest);
    return 0;
}

int cost_estimate(const struct cost *c, const sluice_request_t *req, double *out) {
    char model[COST_MODEL_MAX];
    /* The tokener is scratch state, not part of the ledger's value. */
    return estimate((struct cost *)c, req, model, sizeof(model), out);
}

int cost_admit(const sluice_request_t *req, void *ud) {
    struct cost *c = ud;
    char model[COST_MODEL_MAX];
    double est;
    if (c->max_usd <= 0)
        return 0;
    if (estimate(c, req, model, sizeof(model), &est) < 0) {
        /* A budget cannot be kept for a model whose price is unknown: stop, and say so. */
        term_safe(*model ? model : "(none)", c->refused_model, sizeof(c->refused_model));
        return 1;
    }
    if (c->spent + c->reserved + est > c->max_usd)
        return 1;
    c->reserved += est;
    return 0;
}

void cost_on_result(struct cost *c, const sluice_result_t *res) {
    char model[COST_MODEL_MAX];
    double est, pin, pout;
    const sluice_request_t *req = res->req;
    int priced = estimate(c, req, model, sizeof(model), &est) == 0;
    /* Only requests that were sent went through cost_admit() and hold a reservation. */
    if (c->max_usd > 0 && res->attempts > 0 && priced) {
        c->reserved -= est;
        if (c->reserved < 1e-12)
            c->reserved = 0;
    }
    if (!res->tokens_in && !res->tokens_out)
        return;
    if (priced && price_of(c, *model ? model : NULL, &pin, &pout) == 0) {
        c->spent += usd(pin, pout, res->tokens_in, res->tokens_out);
        c->priced_any = 1;
    } else {
        c->unpriced_tokens += res->tokens_in + res->tokens_out;
        if (!c->unpriced_model[0])
            term_safe(*model ? model : "(no model)", c->unpriced_model, sizeof(c->unpriced_model));
    }
}

void cost_view(const struct cost *c, struct cost_view *out) {
    out->spent_usd = c->spent;
    out->reserved_usd = c->reserved;
    out->max_usd = c->max_usd;
    out->known = c->priced_any || c->fixed_in >= 0 || c->fixed_out >= 0 || c->n_file > 0;
    out->unpriced_tokens = c->unpriced_tokens;
    out->unpriced_model = c->unpriced_model[0] ? c->unpriced_model : NULL;
    out->refused_model = c->refused_model[0] ? c->refused_model : NULL;
}
