#ifndef SLUICE_CLI_RUN_EXIT_H
#define SLUICE_CLI_RUN_EXIT_H

/*
 * How a `sluice run` (or `sluice work`) that got as far as its loop ends: from the facts of the
 * run to the line that says why it stopped and the exit status. docs/DESIGN.md's "Exit status"
 * table lists the rows in the order they are tried here; the first that holds wins, so a full disk
 * is reported over the Ctrl-C that followed it. Runs refused before the loop (bad usage, unreadable
 * INPUT: exit 2) never come here.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sluice.h>

/* What happened in a run, gathered by cli_run_job once the loop has ended. Strings are the
   caller's and are printed as they are: text from a server or a request (detail) must already
   be terminal-safe (term_safe). */
struct run_facts {
    /* The distributed mode (--redis). */
    int job;              /* this process took part in a Redis job */
    int feeder;           /* ... and fed INPUT into it (`run`, not `work`) */
    int redis_gave_up;    /* Redis stayed unreachable past --give-up-after */
    int commit_gave_up;   /* Redis kept refusing the results' commits */
    int feed_failed;      /* INPUT could not be fed into the job */
    const char *feed_why; /* ... why (feed_failed) */
    size_t uncommitted;   /* results not yet committed to Redis */
    int output_done;      /* sluice_job_output_done(): 1 once OUTPUT holds the whole job */
    /* The engine. */
    int rc;               /* sluice_run()'s code, or order_flush()'s when that failed */
    sluice_stopped_t why; /* sluice_stopped() */
    const char *detail;   /* ... its words (a server's, a url's), or NULL */
    uint64_t failed;      /* results written as failures, invalid lines included */
    /* INPUT and OUTPUT. */
    const char *input, *output;
    int rc_src;           /* sluice_jsonl_source_error() */
    const char *src_why;  /* rc_src < 0: why reading INPUT failed */
    int werr;             /* the writer failed */
    const char *werr_why; /* ... why, or NULL */
    size_t unwritten;     /* finished results OUTPUT could not take */
    int rc_close;         /* sluice_jsonl_sink_close() */
    /* Settings the messages name. */
    const char *key_file, *key_env; /* where the API key came from (either may be NULL) */
    const char *base_url;
    double connect_grace_s;
    const char *refused_model; /* --max-cost found no price for it, or NULL */
    double max_usd, spent_usd;
};

/* The rows of docs/DESIGN.md's exit-status table, in the order they are tried. */
enum run_end {
    RUN_END_REDIS_GONE,     /* Redis unreachable past --give-up-after */
    RUN_END_COMMIT_REFUSED, /* Redis refused the commits */
    RUN_END_FEED_FAILED,    /* INPUT could not be fed into the job */
    RUN_END_UNCOMMITTED,    /* results left uncommitted to Redis */
    RUN_END_JOB_OUTPUT,     /* the job's OUTPUT was not written in full */
    RUN_END_INPUT_CUT,      /* INPUT from a pipe is cut short or corrupt (gzip) */
    RUN_END_INPUT_FAILED,   /* reading INPUT failed */
    RUN_END_WRITE_FAILED,   /* writing OUTPUT failed (a full disk) */
    RUN_END_AUTH,           /* the provider refused the key */
    RUN_END_DOWN,           /* the provider is down (--give-up-after) */
    RUN_END_UNREACHABLE,    /* nothing ever answered (--connect-grace) */
    RUN_END_TLS,            /* the certificate could not be verified */
    RUN_END_QUOTA,          /* the quota is exhausted */
    RUN_END_NO_PRICE,       /* --max-cost and a model with no price */
    RUN_END_BUDGET,         /* --max-cost reached */
    RUN_END_WORKER_STOPPED, /* a signal stopped a worker */
    RUN_END_JOB_STOPPED,    /* a signal stopped a distributed run's feeder */
    RUN_END_STOPPED,        /* a signal stopped a run */
    RUN_END_ERROR,          /* any other error of the engine */
    RUN_END_FINISHED,       /* the whole input is done: 0, or 1 if any failed */
};

/* Writes to err the line saying why the run stopped (nothing for a finished run) and returns
   the exit status: 3 for a stopped run, 0 or 1 (f->failed) for a finished one. *end, if not
   NULL, is set to the row that held. */
int run_exit(const struct run_facts *f, FILE *err, enum run_end *end);

#endif
