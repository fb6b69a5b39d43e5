/* `sluice job status|list|delete`: a distributed job seen from the command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice.h>

#include "cli.h"
#include "msg.h"
#include "opts.h"

static void job_usage(FILE *f) {
    fprintf(f, "usage: sluice job status --redis URL --job NAME [--json]\n"
               "       sluice job list   --redis URL\n"
               "       sluice job delete --redis URL --job NAME [--force]\n"
               "\n"
               "status: lines fed, waiting, pending, done and failed, results not yet written to\n"
               "        OUTPUT, and each worker's last heartbeat (Redis's clock) and rate\n"
               "list:   the jobs in this Redis database\n"
               "delete: removes a job's keys; refuses a job that is not finished unless --force\n"
               "\n"
               "--redis URL: redis://[[user]:password@]host[:port][/db] or unix:///path;\n"
               "default $REDIS_URL. A password on the command line can be read by every user\n"
               "(ps): put the URL in $REDIS_URL or in a file (--redis-url-file PATH, its first\n"
               "line), or the password in $SLUICE_REDIS_PASSWORD.\n"
               "Exit status: 0 done; 1 (status) the job does not exist; 2 bad usage; 3 Redis "
               "unreachable.\n");
}

static void print_status(const char *name, const sluice_job_status_t *st, int json) {
    if (json) {
        printf("{\"job\":\"%s\",\"exists\":%s,\"total\":%lld,\"fed\":%llu,\"waiting\":%llu,"
               "\"pending\":%llu,\"done\":%llu,\"failed\":%llu,\"unwritten\":%llu,\"workers\":[",
               name, st->exists ? "true" : "false", (long long)st->total,
               (unsigned long long)st->fed, (unsigned long long)st->waiting,
               (unsigned long long)st->pending, (unsigned long long)st->done,
               (unsigned long long)st->failed, (unsigned long long)st->unwritten);
        for (size_t i = 0; i < st->n_workers; i++)
            printf("%s{\"consumer\":\"%s\",\"heartbeat_age_s\":%.1f,\"info\":%s}", i ? "," : "",
                   st->workers[i].consumer, st->workers[i].age_s, st->workers[i].info);
        printf("]}\n");
        return;
    }
    if (!st->exists) {
        printf("job %s: no such job\n", name);
        return;
    }
    if (st->total >= 0)
        printf("job %s: %lld lines, %llu done (%llu failed), %llu pending, %llu waiting; "
               "%llu results not yet written to OUTPUT%s\n",
               name, (long long)st->total, (unsigned long long)st->done,
               (unsigned long long)st->failed, (unsigned long long)st->pending,
               (unsigned long long)st->waiting, (unsigned long long)st->unwritten,
               st->done >= (uint64_t)st->total ? "; finished" : "");
    else
        printf("job %s: still feeding, %llu lines fed, %llu done (%llu failed), %llu pending, "
               "%llu waiting\n",
               name, (unsigned long long)st->fed, (unsigned long long)st->done,
               (unsigned long long)st->failed, (unsigned long long)st->pending,
               (unsigned long long)st->waiting);
    for (size_t i = 0; i < st->n_workers; i++)
        printf("  worker %s: last heartbeat %.1f s ago, %s\n", st->workers[i].consumer,
               st->workers[i].age_s, st->workers[i].info);
}

/* The verb of `sluice job` is known and alone (extra: the first word after it, or NULL);
   else -1 after saying what is wrong, with a did-you-mean. */
static int job_check_verb(const char *verb, const char *extra) {
    static const char *const verbs[] = {"status", "list", "delete"};
    int known = verb && (strcmp(verb, "status") == 0 || strcmp(verb, "list") == 0 ||
                         strcmp(verb, "delete") == 0);
    if (known && !extra)
        return 0;
    char near[64] = "";
    if (known)
        msg_say(stderr, "job %s: unexpected '%s'\n", verb, extra);
    else if (verb && *opts_nearest(verb, strlen(verb), verbs, 3, "", near, sizeof(near)))
        msg_say(stderr, "job %s: did you mean job %s?\n", verb, near);
    else
        msg_say(stderr, "job expects status, list or delete\n");
    msg_say(stderr, "'sluice job --help' lists the options\n");
    return -1;
}

/* `sluice job list`: one name per line on stdout. Returns the exit status. */
static int job_list(sluice_redis_t *r) {
    char **names, err[512];
    size_t n;
    if (sluice_job_list(r, &names, &n, err, sizeof(err)) < 0) {
        msg_say(stderr, "job list: %s\n", err);
        return 3;
    }
    for (size_t i = 0; i < n; i++) {
        printf("%s\n", names[i]);
        free(names[i]);
    }
    free(names);
    if (n == 0) {
        /* Said on stderr: stdout stays one name per line for scripts. */
        char where[256];
        sluice_redis_describe(r, where, sizeof(where));
        msg_say(stderr, "no jobs in Redis at %s\n", where);
    }
    return 0;
}

/* `sluice job delete`: a finished job, or any with force. Returns the exit status. */
static int job_delete(sluice_redis_t *r, const char *name, const sluice_job_status_t *st,
                      int force) {
    char err[512];
    if (!st->exists) {
        msg_say(stderr, "job delete: no job %s\n", name);
        return 1;
    }
    int finished = st->total >= 0 && st->done >= (uint64_t)st->total && st->unwritten == 0;
    if (!finished && !force) {
        if (st->total < 0)
            msg_say(stderr,
                    "job delete: job %s is still being fed (%llu lines so far, %llu "
                    "done); pass --force to delete it anyway\n",
                    name, (unsigned long long)st->fed, (unsigned long long)st->done);
        else
            msg_say(stderr,
                    "job delete: job %s is not finished (%llu of %lld lines done, %llu "
                    "results not yet written); pass --force to delete it anyway\n",
                    name, (unsigned long long)st->done, (long long)st->total,
                    (unsigned long long)st->unwritten);
        return 2;
    }
    if (sluice_job_delete(r, name, err, sizeof(err)) < 0) {
        msg_say(stderr, "job delete: %s\n", err);
        return 3;
    }
    printf("job %s deleted\n", name);
    return 0;
}

/* What `sluice job` was asked. */
struct job_args {
    const char *url, *name, *verb, *url_file;
    int json, force;
};

/* Reads argv into *a. Returns -1 to go on, else the exit status (--help, a bad option or
   verb, said on stderr). */
static int job_parse(int argc, char **argv, struct job_args *a) {
    static const struct option opts[] = {
        {"redis", required_argument, NULL, 'r'},
        {"job", required_argument, NULL, 'j'},
        {"json", no_argument, NULL, 'J'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {"redis-url-file", required_argument, NULL, 'F'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    memset(a, 0, sizeof(*a));
    if (argc >= 2 && argv[1][0] != '-') {
        a->verb = argv[1];
        argc--;
        argv++;
    }
    optind = 1;
    opterr = 0; /* opts_say_error speaks instead, with a did-you-mean */
    while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (opt) {
        case 'r':
            a->url = optarg;
            break;
        case 'F':
            a->url_file = optarg;
            break;
        case 'j':
            a->name = optarg;
            break;
        case 'J':
            a->json = 1;
            break;
        case 'f':
            a->force = 1;
            break;
        case 'h':
            job_usage(stdout);
            return 0;
        default: /* '?' or ':' */
            opts_say_error(stderr, opt, argc, argv, opts);
            msg_say(stderr, "'sluice job --help' lists the options\n");
            return 2;
        }
    }
    return job_check_verb(a->verb, optind != argc ? argv[optind] : NULL) < 0 ? 2 : -1;
}

int cli_job_main(int argc, char **argv) {
    struct job_args a;
    int code = job_parse(argc, argv, &a);
    if (code >= 0)
        return code;
    const char *url = a.url, *name = a.name, *verb = a.verb;
    int json = a.json, force = a.force;
    char *url_owned = NULL;
    if (dist_redis_url(url, a.url_file, 1, &url, &url_owned) != 0)
        return 2;
    if (!url || (strcmp(verb, "list") != 0 && !name)) {
        msg_say(stderr, "job %s: --redis URL (or $REDIS_URL)%s required\n", verb,
                strcmp(verb, "list") != 0 ? " and --job NAME are" : " is");
        free(url_owned);
        return 2;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    sluice_redis_t *r = NULL;
    char err[512];
    code = 3;
    if (sluice_redis_open(&r, &loop, url, err, sizeof(err)) < 0) {
        msg_say(stderr, "--redis: %s\n", err);
        code = 2;
        goto out;
    }
    if (strcmp(verb, "list") == 0) {
        code = job_list(r);
        goto out;
    }
    sluice_job_status_t st;
    int rc = sluice_job_status(r, name, &st, err, sizeof(err));
    if (rc < 0) {
        msg_say(stderr, "job %s: %s\n", verb, err);
        code = rc == SLUICE_EINVAL ? 2 : 3;
        goto out;
    }
    if (strcmp(verb, "status") == 0) {
        print_status(name, &st, json);
        code = st.exists ? 0 : 1;
        goto out;
    }
    code = job_delete(r, name, &st, force);
out:
    free(url_owned);
    sluice_redis_close(r);
    for (int i = 0; i < 100 && uv_loop_close(&loop) == UV_EBUSY; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    return code;
}
