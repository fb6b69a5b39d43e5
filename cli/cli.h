#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

/* `sluice run`: argv[0] is "run". Returns the process exit status (DESIGN.md "Exit status"). */
int cli_run_main(int argc, char **argv);

#endif
