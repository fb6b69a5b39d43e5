/* The prefix of the command's messages (msg.h). */
#include "msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Prints prefix and fmt as one format, so the message goes out in one stdio call. A format that
   does not fit the stack buffer (none today) is joined in the heap; if that fails, the prefix
   and the message go out in two calls rather than not at all. */
static void msg_vsay(FILE *f, const char *prefix, const char *fmt, va_list ap) {
    char stack[1024], *joined = stack;
    int n = snprintf(stack, sizeof(stack), "%s%s", prefix, fmt);
    if (n < 0) {
        return;
    }
    if ((size_t)n >= sizeof(stack)) {
        joined = malloc((size_t)n + 1);
        if (!joined) {
            fputs(prefix, f);
            vfprintf(f, fmt, ap);
            return;
        }
        snprintf(joined, (size_t)n + 1, "%s%s", prefix, fmt);
    }
    vfprintf(f, joined, ap);
    if (joined != stack)
        free(joined);
}

void msg_say(FILE *f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    msg_vsay(f, "sluice: ", fmt, ap);
    va_end(ap);
}

void msg_say_as(FILE *f, const char *cmd, const char *fmt, ...) {
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "sluice %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    msg_vsay(f, prefix, fmt, ap);
    va_end(ap);
}
