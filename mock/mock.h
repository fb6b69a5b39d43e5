#ifndef SLUICE_MOCK_H
#define SLUICE_MOCK_H

/* Entry point of `sluice mock`: argv[0] is "mock". Returns the process exit status. */
int mock_main(int argc, char **argv);

#endif
