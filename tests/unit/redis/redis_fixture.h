/*
 * A real redis-server for unit tests of the distributed mode: started on 127.0.0.1 with a free
 * port, appendonly yes, in a temp dir, and stopped by redis_fixture_stop(). Tests that need it
 * call cmocka's skip() when redis-server is not installed. With it, the few helpers the Redis
 * tests share: a connection to the server, and its clock.
 */
#ifndef SLUICE_TEST_REDIS_FIXTURE_H
#define SLUICE_TEST_REDIS_FIXTURE_H

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

struct redis_fixture {
    pid_t pid;
    int port;
    int up; /* redis_fixture_start() saw it answer */
    char dir[64];
};

static int redis_fixture_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Waits up to 5 s for the server on f->port to answer PING (PONG, or NOAUTH when it wants a
   password: up either way). Returns 0, or -1 when it never did. */
static int redis_fixture_wait_up(const struct redis_fixture *f) {
    for (int i = 0; i < 200; i++) {
        redisContext *c = redisConnect("127.0.0.1", f->port);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            freeReplyObject(r);
            redisFree(c);
            if (r)
                return 0;
        } else if (c) {
            redisFree(c);
        }
        usleep(25000);
    }
    return -1;
}

/* A temp dir and a free port for a server to come; -1 when redis-server is missing. */
static int redis_fixture_prepare(struct redis_fixture *f) {
    memset(f, 0, sizeof(*f));
    if (system("command -v redis-server >/dev/null 2>&1") != 0)
        return -1;
    strcpy(f->dir, "/tmp/sluice-redis.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->port = redis_fixture_free_port();
    return 0;
}

/* Returns 0 with the server answering PING, -1 when redis-server is missing or did not start. */
static int redis_fixture_start(struct redis_fixture *f) {
    if (redis_fixture_prepare(f) != 0)
        return -1;
    char port[16];
    snprintf(port, sizeof(port), "%d", f->port);
    f->pid = fork();
    if (f->pid == 0) {
        /* The server stops on its own if the test is killed: it dies with its parent's group
           only through SIGTERM from the fixture, so bound its life with `timeout`. */
        execlp("timeout", "timeout", "300", "redis-server", "--bind", "127.0.0.1", "--port", port,
               "--dir", f->dir, "--appendonly", "yes", "--save", "", "--daemonize", "no",
               "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    f->up = redis_fixture_wait_up(f) == 0;
    return f->up ? 0 : -1;
}

/* The helpers below are static inline: each test uses only some of them. */

/* A connection to the fixture's server, or NULL when there is none. */
static inline redisContext *redis_fixture_connect(const struct redis_fixture *f) {
    redisContext *c = f->up ? redisConnect("127.0.0.1", f->port) : NULL;
    if (c && c->err) {
        redisFree(c);
        c = NULL;
    }
    return c;
}

/* A new connection to the fixture, or the test is skipped when there is no redis-server. */
static inline redisContext *redis_fixture_connect_or_skip(const struct redis_fixture *f) {
    if (!f->up)
        skip();
    redisContext *c = redisConnect("127.0.0.1", f->port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    return c;
}

/* Redis's clock, in ms (TIME). */
static inline int64_t redis_fixture_now_ms(redisContext *c) {
    redisReply *r = redisCommand(c, "TIME");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    int64_t ms =
        strtoll(r->element[0]->str, NULL, 10) * 1000 + strtoll(r->element[1]->str, NULL, 10) / 1000;
    freeReplyObject(r);
    return ms;
}

static void redis_fixture_stop(struct redis_fixture *f) {
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
    }
    if (f->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", f->dir);
    }
}

#endif
