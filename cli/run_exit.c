/* How a run ends: its stop line and exit status, from the facts of the run (run_exit.h). */
#include "run_exit.h"
#include "msg.h"

#include <stdio.h>

/* The first row of the table that holds. */
static enum run_end run_exit_row(const struct run_facts *f) {
    if (f->redis_gave_up)
        return RUN_END_REDIS_GONE;
    if (f->commit_gave_up)
        return RUN_END_COMMIT_REFUSED;
    if (f->feed_failed)
        return RUN_END_FEED_FAILED;
    if (f->job && f->uncommitted > 0)
        return RUN_END_UNCOMMITTED;
    if (f->job && f->feeder && f->rc == 0 && f->output_done != 1)
        return RUN_END_JOB_OUTPUT;
    if (f->rc_src == SLUICE_EPARSE)
        return RUN_END_INPUT_CUT;
    if (f->rc_src < 0)
        return RUN_END_INPUT_FAILED;
    if (f->werr || f->rc == SLUICE_ENOSPC || f->rc == SLUICE_EIO || f->rc_close < 0)
        return RUN_END_WRITE_FAILED;
    switch (f->why) {
    case SLUICE_STOPPED_AUTH:
        return RUN_END_AUTH;
    case SLUICE_STOPPED_DOWN:
        return RUN_END_DOWN;
    case SLUICE_STOPPED_UNREACHABLE:
        return RUN_END_UNREACHABLE;
    case SLUICE_STOPPED_TLS:
        return RUN_END_TLS;
    case SLUICE_STOPPED_QUOTA:
        return RUN_END_QUOTA;
    case SLUICE_STOPPED_BUDGET:
        return f->refused_model ? RUN_END_NO_PRICE : RUN_END_BUDGET;
    default:
        break;
    }
    if (f->rc == SLUICE_ESTOPPED)
        return !f->job ? RUN_END_STOPPED : f->feeder ? RUN_END_JOB_STOPPED : RUN_END_WORKER_STOPPED;
    if (f->rc < 0)
        return RUN_END_ERROR;
    return RUN_END_FINISHED;
}

/* Why the run stopped comes first, then the numbers (the caller's summary): a summary that
   began "5 succeeded" and "results in OUTPUT" read as success above a full disk's error. A flat
   switch, one message per row. */
int run_exit(const struct run_facts *f, FILE *err, enum run_end *end) {
    enum run_end row = run_exit_row(f);
    const char *detail = f->detail;
    if (end)
        *end = row;
    switch (row) {
    case RUN_END_REDIS_GONE:
        msg_say(err, "stopped: Redis unreachable; run the same command again when it "
                     "is back (the job keeps its place in Redis)\n");
        break;
    case RUN_END_COMMIT_REFUSED:
        msg_say(err, "stopped: Redis refused the results' commits; fix the cause (its "
                     "log says more), then run the same command again (the job keeps its "
                     "place in Redis)\n");
        break;
    case RUN_END_FEED_FAILED:
        msg_say(err,
                "stopped: %s could not be fed into the job (%s); the lines fed so "
                "far stay in Redis: fix the cause, then run the same command again\n",
                f->input, f->feed_why);
        break;
    case RUN_END_UNCOMMITTED:
        msg_say(err,
                "stopped with %zu results not yet committed to Redis; they run again "
                "(their entries are claimed after --claim-idle)\n",
                f->uncommitted);
        break;
    case RUN_END_JOB_OUTPUT:
        msg_say(err,
                "writing the job's results to %s failed (%s); run the same "
                "command again to finish\n",
                f->output, f->werr_why ? f->werr_why : "interrupted");
        break;
    case RUN_END_INPUT_CUT:
        msg_say(err,
                "reading %s failed: %s; the lines before that point ran and their "
                "results are in %s: get the whole file, then run again with --resume\n",
                f->input, f->src_why, f->output);
        break;
    case RUN_END_INPUT_FAILED:
        msg_say(err,
                "reading %s failed: %s; results so far are in %s, run again "
                "with --resume\n",
                f->input, f->src_why, f->output);
        break;
    case RUN_END_WRITE_FAILED:
        msg_say(err,
                "writing %s failed (%s): dispatch stopped%s; %zu finished results "
                "could not be written and will be requested again; free space, then run again "
                "with --resume\n",
                f->output, f->werr ? f->werr_why : sluice_strerror(f->rc < 0 ? f->rc : f->rc_close),
                f->werr && !f->unwritten ? ", the results held in memory were written later" : "",
                f->unwritten);
        break;
    case RUN_END_AUTH:
        /* The provider's words go last and whole: they often end in a link to its docs. */
        msg_say(err,
                "stopped: the provider refused the API key; check the key in %s%s, "
                "then run again with --resume. It said: %s\n",
                f->key_file || !f->key_env ? "" : "$",
                f->key_file  ? f->key_file
                : f->key_env ? f->key_env
                             : "your provider settings (--provider none sends no key)",
                detail ? detail : "401/403");
        break;
    case RUN_END_DOWN:
        msg_say(err,
                "stopped: the provider is down (%s); results so far are in "
                "%s; run again with --resume when it is back (or raise --give-up-after)\n",
                detail ? detail : "", f->output);
        break;
    case RUN_END_UNREACHABLE:
        msg_say_as(err, "run",
                   "stopped: cannot reach %s (%s) for %g s, and nothing has answered "
                   "yet: check --base-url (a server still starting up: raise --connect-grace), "
                   "then run again with --resume\n",
                   f->base_url, detail ? detail : "", f->connect_grace_s);
        break;
    case RUN_END_TLS:
        msg_say(err,
                "stopped: the TLS certificate of %s could not be verified "
                "(%s); pass --cacert FILE with its CA, or --insecure to skip the check, "
                "then run again with --resume\n",
                f->base_url, detail ? detail : "");
        break;
    case RUN_END_QUOTA:
        msg_say(err,
                "stopped: the provider says the quota is exhausted; raise the quota or "
                "wait for it to reset, then run again with --resume. It said: %s\n",
                detail ? detail : "(nothing more)");
        break;
    case RUN_END_NO_PRICE:
        msg_say(err,
                "stopped: --max-cost needs a price for model %s; pass --prices "
                "FILE or --price-in and --price-out, then run again with --resume\n",
                f->refused_model);
        break;
    case RUN_END_BUDGET:
        msg_say(err,
                "stopped: the next request could take the cost past --max-cost "
                "$%g ($%.4f spent in this run); run again with --resume and --max-cost set to "
                "what this next run may spend (--max-cost counts one run, not the results "
                "already in OUTPUT)\n",
                f->max_usd, f->spent_usd);
        break;
    case RUN_END_WORKER_STOPPED:
        msg_say(err, "stopped early; the job goes on with its other workers "
                     "(what this one held is taken over after --claim-idle)\n");
        break;
    case RUN_END_JOB_STOPPED:
        msg_say(err, "stopped early; the job keeps its place in Redis: run the "
                     "same command again (without --resume) to finish it\n");
        break;
    case RUN_END_STOPPED:
        msg_say(err, "stopped early; run the same command with --resume to "
                     "finish the rest\n");
        break;
    case RUN_END_ERROR:
        msg_say(err, "%s\n", sluice_strerror(f->rc));
        break;
    case RUN_END_FINISHED:
        return f->failed > 0 ? 1 : 0;
    }
    return 3;
}
