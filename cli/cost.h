#ifndef SLUICE_CLI_COST_H
#define SLUICE_CLI_COST_H

/*
 * What a run costs in USD: prices per million tokens by model (a built-in table, a --prices
 * file over it, or --price-in/--price-out over everything), the money spent so far from the
 * usage the provider reported, and the --max-cost budget that refuses a request when the
 * spend, plus the estimates of the requests in flight, plus this one would exceed it.
 */
#include <stddef.h>
#include <stdint.h>

#include <sluice.h>

struct cost;

/* A ledger with the built-in table only. Returns NULL when out of memory. */
struct cost *cost_new(void);
void cost_free(struct cost *c);

/*
 * Reads a --prices file, JSON {"model": {"in": usd_per_M, "out": usd_per_M}}, whose entries
 * win over the built-in table. Returns 0, or -1 with a reason in err.
 */
int cost_load_file(struct cost *c, const char *path, char *err, size_t errlen);

/* --price-in / --price-out: one price for every model; a negative value leaves it unset. */
void cost_set_fixed(struct cost *c, double in_per_m, double out_per_m);

/* --max-cost: 0 for no budget. */
void cost_set_budget(struct cost *c, double max_usd);

/*
 * Prices for `model` (the longest table entry that is the model's name or a prefix of it
 * followed by '-', so "gpt-4o-mini-2024-07-18" is gpt-4o-mini). Returns 0, or -1 when the
 * model has no price.
 */
int cost_price(const struct cost *c, const char *model, double *in_per_m, double *out_per_m);

/* Copies the top-level "model" string of a JSON body into buf; returns 0, or -1 if none. */
int cost_model_of(const char *body, size_t len, char *buf, size_t n);

/*
 * The estimated cost of a request before it is sent (its prompt estimate at the input price,
 * the rest at the output price). Returns 0, or -1 when its model has no price.
 */
int cost_estimate(const struct cost *c, const sluice_request_t *req, double *usd);

/* Admit callback for --max-cost (sluice_set_admit_cb); `ud` is the ledger. */
int cost_admit(const sluice_request_t *req, void *ud);

/* Books a final result: its usage at its model's price, and its reservation released. */
void cost_on_result(struct cost *c, const sluice_result_t *res);

/* A snapshot for the status line, the summary and the metrics. */
struct cost_view {
    double spent_usd;           /* of the usage reported so far */
    double reserved_usd;        /* estimates of the admitted requests without a result yet */
    double max_usd;             /* the budget, 0 if none */
    int known;                  /* some usage was priced, or a price is set */
    uint64_t unpriced_tokens;   /* usage of models with no price, not in spent_usd */
    const char *unpriced_model; /* the first such model, or NULL */
    const char *refused_model;  /* --max-cost refused a request with no price: its model */
};
void cost_view(const struct cost *c, struct cost_view *out);

#endif
