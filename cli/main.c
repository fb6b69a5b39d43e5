/* sluice: the command. Dispatches to the subcommands; each lives in its own file. */
#include "cli.h"
#include "mock.h"
#include "msg.h"
#include "opts.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sluice.h>

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: sluice <command> [options]\n"
        "\n"
        "commands:\n"
        "  run INPUT -o OUTPUT   run a batch of JSON-over-HTTP requests (see sluice run --help)\n"
        "  work --redis URL --job NAME\n"
        "                        one more worker for a job in Redis (see sluice work --help)\n"
        "  job status|list|delete --redis URL [--job NAME]\n"
        "                        a job's progress and workers; the jobs; remove a job's keys\n"
        "  mock                  a local OpenAI-compatible test provider (see sluice mock --help)\n"
        "  version               print the version\n");
}

int main(int argc, char **argv) {
    /* A write to a connection the peer has reset fails with EPIPE, handled where it happens;
       the signal that comes with it would kill the process instead. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return cli_run_main(argc - 1, argv + 1);
    if (strcmp(cmd, "work") == 0)
        return cli_run_main(argc - 1, argv + 1);
    if (strcmp(cmd, "job") == 0)
        return cli_job_main(argc - 1, argv + 1);
    if (strcmp(cmd, "mock") == 0)
        return mock_main(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("sluice %s\n", sluice_version());
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    static const char *const cmds[] = {"run", "work", "job", "mock", "version", "help"};
    char near[64];
    opts_nearest(cmd, strlen(cmd), cmds, sizeof(cmds) / sizeof(cmds[0]), "", near, sizeof(near));
    if (*near)
        msg_say(stderr, "unknown command '%s'; did you mean '%s'?\n", cmd, near);
    else
        msg_say(stderr, "unknown command '%s'; 'sluice --help' lists the commands\n", cmd);
    return 2;
}
