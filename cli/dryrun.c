#include "dryrun.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "msg.h"
#include "paths.h"
#include "resume.h"
#include "term.h"

double dryrun_min_minutes(uint64_t n, uint64_t tokens, double rpm, double tpm) {
    double m = -1;
    if (rpm > 0)
        m = (double)n / rpm;
    if (tpm > 0 && (double)tokens / tpm > m)
        m = (double)tokens / tpm;
    return m;
}

struct dry_totals {
    uint64_t lines, valid, invalid;
    uint64_t skipped; /* --resume: OUTPUT holds their ids as successes */
    struct resume_set *done;
    uint64_t prompt, completion; /* estimated tokens */
    double usd;
    uint64_t unpriced;        /* valid lines whose model has no price */
    char unpriced_model[128]; /* the first one */
};

static void dry_report(FILE *f, const struct dry_totals *d, const sluice_config_t *cfg,
                       const char *input) {
    msg_say(f, "dry run of %s: %llu line%s, %llu valid, %llu invalid; nothing was sent\n", input,
            (unsigned long long)d->lines, d->lines == 1 ? "" : "s", (unsigned long long)d->valid,
            (unsigned long long)d->invalid);
    if (d->done)
        msg_say(f,
                "--resume: %llu more line%s skipped, OUTPUT already holds them as "
                "successes; the figures below are for the rest\n",
                (unsigned long long)d->skipped, d->skipped == 1 ? "" : "s");
    msg_say(f, "estimated tokens: %llu prompt + at most %llu completion = %llu\n",
            (unsigned long long)d->prompt, (unsigned long long)d->completion,
            (unsigned long long)(d->prompt + d->completion));
    if (d->unpriced == 0)
        msg_say(f, "estimated cost: at most $%.4f (completion at its max_tokens)\n", d->usd);
    else
        msg_say(f,
                "estimated cost: $%.4f for the priced lines; %llu lines have no price "
                "(model %s): pass --prices FILE or --price-in and --price-out\n",
                d->usd, (unsigned long long)d->unpriced, d->unpriced_model);
    double min = dryrun_min_minutes(d->valid, d->prompt + d->completion, cfg->rpm, cfg->tpm);
    if (min < 0)
        msg_say(f, "minimum time: unknown without --rpm or --tpm (the provider's "
                   "limits decide)\n");
    else
        msg_say(f, "minimum time: %.1f min (%.0f s) at --rpm %g --tpm %g (0 = none)\n", min,
                min * 60, cfg->rpm, cfg->tpm);
}

static int dry_json(const char *path, const struct dry_totals *d, const sluice_config_t *cfg) {
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f)
        return -1;
    double min = dryrun_min_minutes(d->valid, d->prompt + d->completion, cfg->rpm, cfg->tpm);
    fprintf(f,
            "{\"dry_run\":true,\"lines\":%llu,\"valid\":%llu,\"invalid\":%llu,"
            "\"est_tokens\":{\"prompt\":%llu,\"completion\":%llu},\"est_cost_usd\":%.6f,"
            "\"unpriced_lines\":%llu,\"skipped\":%llu,",
            (unsigned long long)d->lines, (unsigned long long)d->valid,
            (unsigned long long)d->invalid, (unsigned long long)d->prompt,
            (unsigned long long)d->completion, d->usd, (unsigned long long)d->unpriced,
            (unsigned long long)d->skipped);
    if (min < 0)
        fputs("\"min_time_s\":null}\n", f);
    else
        fprintf(f, "\"min_time_s\":%.3f}\n", min * 60);
    if (f == stdout)
        return fflush(f) == 0 ? 0 : -1;
    return fclose(f) == 0 ? 0 : -1;
}

/* --resume: the ids OUTPUT holds as successes are skipped, as the real run would, and counted. */
static int dry_skip(void *ud, const char *custom_id) {
    struct dry_totals *d = ud;
    if (!resume_skip(d->done, custom_id))
        return 0;
    d->skipped++;
    return 1;
}

int dryrun_main(const sluice_config_t *cfg, const struct run_opts *o, struct cost *cost) {
    sluice_jsonl_source_t *js;
    sluice_source_t src;
    struct dry_totals d = {0};
    int rc;
    if (o->resume) {
        char err[512];
        if (resume_peek(&d.done, o->output, err, sizeof(err)) < 0) {
            msg_say(stderr, "--resume: %s\n", err);
            return 2;
        }
    }
    if (sluice_jsonl_source_open(&js, o->input, o->url, d.done ? dry_skip : NULL, &d) < 0) {
        msg_say(stderr, "cannot read %s: %s\n", o->input, strerror(errno));
        resume_free(d.done);
        return 2;
    }
    char why[512];
    if (sluice_jsonl_source_verify(js) < 0) {
        paths_input_why(js, errno, why, sizeof(why));
        msg_say(stderr, "cannot read %s: %s\n", o->input, why);
        sluice_jsonl_source_close(js);
        resume_free(d.done);
        return 2;
    }
    sluice_jsonl_source_bind(js, &src);
    sluice_request_t *req;
    while ((rc = src.next(src.ud, &req)) == 0) {
        d.lines++;
        if (req->invalid) {
            d.invalid++;
            char safe[TERM_SAFE_MSG]; /* it may quote the line's custom_id */
            fprintf(stderr, "%s:%llu: %s\n", o->input, (unsigned long long)req->line,
                    term_safe(req->invalid, safe, sizeof(safe)));
        } else {
            double usd;
            d.valid++;
            d.prompt += req->est_prompt_tokens;
            d.completion += req->est_tokens - req->est_prompt_tokens;
            if (cost_estimate(cost, req, &usd) == 0) {
                d.usd += usd;
            } else if (d.unpriced++ == 0) {
                char model[128];
                if (cost_model_of(req->body, req->body_len, model, sizeof(model)) < 0)
                    snprintf(model, sizeof(model), "(none)");
                term_safe(model, d.unpriced_model, sizeof(d.unpriced_model));
            }
        }
        src.release(src.ud, req);
    }
    int exit_code = d.invalid ? 1 : 0;
    if (rc != SLUICE_EOF || sluice_jsonl_source_error(js) < 0) {
        paths_input_why(js, errno, why, sizeof(why));
        msg_say(stderr, "reading %s failed: %s\n", o->input,
                rc == SLUICE_EOF ? why : sluice_strerror(rc));
        exit_code = 2;
    }
    sluice_jsonl_source_close(js);
    dry_report(stdout, &d, cfg, o->input);
    if (o->stats_json && dry_json(o->stats_json, &d, cfg) < 0) {
        char why[512];
        paths_why_not(o->stats_json, errno, why, sizeof(why));
        msg_say(stderr, "cannot write --stats-json %s: %s\n", o->stats_json, why);
    }
    resume_free(d.done);
    return exit_code;
}
