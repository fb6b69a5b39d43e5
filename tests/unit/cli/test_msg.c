/* Unit tests for cli/msg.c: the prefix of the command's messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msg.h"

static FILE *mem;
static char *text;
static size_t len;

static int open_mem(void **state) {
    (void)state;
    text = NULL;
    mem = open_memstream(&text, &len);
    return mem ? 0 : -1;
}

static int close_mem(void **state) {
    (void)state;
    fclose(mem);
    free(text);
    return 0;
}

/* What was written so far. */
static const char *said(void) {
    assert_int_equal(fflush(mem), 0);
    return text;
}

static void test_say(void **state) {
    (void)state;
    msg_say(mem, "cannot read %s: %s\n", "in.jsonl", "No such file or directory");
    assert_string_equal(said(), "sluice: cannot read in.jsonl: No such file or directory\n");
}

static void test_say_as(void **state) {
    (void)state;
    msg_say_as(mem, "run", "cannot watch %s: %d%%\n", "-", 7);
    assert_string_equal(said(), "sluice run: cannot watch -: 7%\n");
}

/* A format longer than the stack buffer loses nothing. */
static void test_long_format(void **state) {
    (void)state;
    char fmt[3000], want[3100];
    memset(fmt, 'x', sizeof(fmt) - 4);
    memcpy(fmt + sizeof(fmt) - 4, "%d\n", 4);
    msg_say(mem, fmt, 42);
    snprintf(want, sizeof(want), "sluice: %.*s42\n", (int)sizeof(fmt) - 4, fmt);
    assert_string_equal(said(), want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_say, open_mem, close_mem),
        cmocka_unit_test_setup_teardown(test_say_as, open_mem, close_mem),
        cmocka_unit_test_setup_teardown(test_long_format, open_mem, close_mem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
