#ifndef SLUICE_CLI_MSG_H
#define SLUICE_CLI_MSG_H

/*
 * The command's messages for people, in the manner of curl's tool_msgs.c: the one place their
 * prefix ("sluice: ", "sluice run: ") is typed. Each message is written with one stdio call, so
 * on unbuffered stderr it is one write(2), not interleaved with another process's lines.
 */
#include <stdio.h>

/* Writes "sluice: " and then fmt's message to f. */
void msg_say(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "sluice CMD: " and then fmt's message to f; cmd is a subcommand's name ("run"), a
   literal with no '%'. */
void msg_say_as(FILE *f, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
