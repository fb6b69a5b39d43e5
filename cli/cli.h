#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

/* `sluice run`: argv[0] is "run". Returns the process exit status (docs/DESIGN.md "Exit status").
 */
int cli_run_main(int argc, char **argv);
/* `sluice job status|list|delete`: argv[0] is "job". */
int cli_job_main(int argc, char **argv);

#include <stdio.h>

#include <sluice.h>

#include "dist.h"

/* `sluice run` options that are the command's, not the engine's. */
struct run_opts {
    const char *input, *output;
    const char *url;            /* --url: every request's, over the lines' own */
    const char *key_env;        /* --api-key-env */
    const char *key_file;       /* --api-key-file */
    const char *stats_json;     /* --stats-json */
    const char *prices;         /* --prices FILE */
    const char *metrics;        /* --metrics HOST:PORT */
    const char *log;            /* --log FILE */
    double price_in, price_out; /* --price-in/--price-out, USD per 1M tokens; -1: unset */
    double max_cost;            /* --max-cost USD; 0: none */
    int resume, overwrite, ordered, dry_run;
    double fsync_s;         /* --fsync: seconds between fsyncs of OUTPUT (0: never) */
    double drain_timeout_s; /* --drain-timeout: after the first SIGINT/SIGTERM */
    int progress;           /* -1: when stderr is a terminal */
    const char **headers;   /* -H values, owned */
    size_t n_headers;
    struct dist_opts dist; /* --redis and friends; `sluice work` */
};

/* `sluice run --help`, `sluice work --help`, and their distributed options. */
void cli_run_usage(FILE *f);
void cli_work_usage(FILE *f);
void cli_dist_usage(FILE *f, int worker);

/* Runs one job once its options are parsed; frees o->headers. Returns the exit status. */
int cli_run_job(sluice_config_t *cfg, struct run_opts *o);

#endif
