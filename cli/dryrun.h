#ifndef SLUICE_CLI_DRYRUN_H
#define SLUICE_CLI_DRYRUN_H

/*
 * --dry-run: reads the whole input with the JSONL source, as a run would, and reports what a
 * run would do: valid and invalid lines (each invalid one as file:line), estimated tokens and
 * cost, and the least time the --rpm/--tpm budgets allow. Nothing is sent; no engine runs.
 */
#include <sluice.h>

#include "cli.h"
#include "cost.h"

/* The least minutes the budgets allow for n requests of `tokens` estimated tokens:
 * max(n / rpm, tokens / tpm), a budget of 0 not counting. Negative when neither is set. */
double dryrun_min_minutes(uint64_t n, uint64_t tokens, double rpm, double tpm);

/* Returns the exit status: 0 all lines valid, 1 some invalid, 2 unreadable input. */
int dryrun_main(const sluice_config_t *cfg, const struct run_opts *o, struct cost *cost);

#endif
