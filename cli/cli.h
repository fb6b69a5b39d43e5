#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

/* `sluice run`: argv[0] is "run". Returns the process exit status (DESIGN.md "Exit status"). */
int cli_run_main(int argc, char **argv);

#include <sluice.h>

/* Runs one job once its options are parsed; owns and frees `headers`. Returns the exit status. */
int cli_run_job(sluice_config_t *cfg, const char *input, const char *output, const char *url,
                const char *key_env, const char *key_file, int resume, int progress,
                const char **headers);

#endif
