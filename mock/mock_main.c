#include "mock.h"

#include <stdio.h>

int mock_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "sluice mock: not built yet\n");
    return 2;
}
