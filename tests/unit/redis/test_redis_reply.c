/* Arena replies: hiredis's reader builds the same redisReply trees with rreply_fns, fed whole or
   a byte at a time; big strings, nil, integers, errors and nested arrays; a reply cut short is
   freed with the reader (ASan's leak check holds these to it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "redis/reply.h"

static redisReader *reader(void) {
    redisReader *r = redisReaderCreateWithFunctions(&rreply_fns);
    assert_non_null(r);
    return r;
}

/* Feeds s (a byte at a time when `bytewise`) and returns the one reply it holds. */
static redisReply *parse(redisReader *r, const char *s, size_t len, int bytewise) {
    void *reply = NULL;
    for (size_t i = 0; i < len; i += bytewise ? 1 : len) {
        assert_int_equal(redisReaderFeed(r, s + i, bytewise ? 1 : len), REDIS_OK);
        assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
        if (i + (bytewise ? 1 : len) < len)
            assert_null(reply);
    }
    assert_non_null(reply);
    return reply;
}

static void test_stream_entries(void **state) {
    (void)state;
    /* An XREADGROUP reply: [[stream, [[id, [f, v, f, v]], [id, nil]]]], then an integer. */
    const char *s = "*1\r\n*2\r\n$2\r\nin\r\n*2\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$2\r\nid\r\n$1\r\na\r\n"
                    "$3\r\nreq\r\n$5\r\n{\"x\":\r\n*2\r\n$3\r\n2-1\r\n*-1\r\n:42\r\n";
    for (int bytewise = 0; bytewise <= 1; bytewise++) {
        redisReader *r = reader();
        size_t len = strlen(s) - 5; /* the integer reply comes after */
        redisReply *x = parse(r, s, len, bytewise);
        assert_int_equal(x->type, REDIS_REPLY_ARRAY);
        assert_int_equal(x->elements, 1);
        redisReply *st = x->element[0];
        assert_int_equal(st->elements, 2);
        assert_string_equal(st->element[0]->str, "in");
        redisReply *entries = st->element[1];
        assert_int_equal(entries->elements, 2);
        redisReply *e1 = entries->element[0];
        assert_string_equal(e1->element[0]->str, "1-1");
        assert_int_equal(e1->element[1]->elements, 4);
        assert_string_equal(e1->element[1]->element[3]->str, "{\"x\":");
        assert_int_equal(e1->element[1]->element[3]->len, 5);
        assert_int_equal(entries->element[1]->element[1]->type, REDIS_REPLY_NIL);
        rreply_fns.freeObject(x);
        redisReply *i = parse(r, s + len, 5, bytewise);
        assert_int_equal(i->type, REDIS_REPLY_INTEGER);
        assert_int_equal(i->integer, 42);
        rreply_fns.freeObject(i);
        redisReaderFree(r);
    }
}

static void test_big_and_many(void **state) {
    (void)state;
    /* 3,000 elements, one of them a 1 MiB string with NULs: many chunks, one past MAX_CHUNK. */
    size_t big = (size_t)1 << 20;
    size_t cap = big + 3000 * 32 + 64;
    char *s = malloc(cap), *p = s;
    assert_non_null(s);
    p += sprintf(p, "*3000\r\n");
    for (int k = 0; k < 3000; k++) {
        if (k == 1500) {
            p += sprintf(p, "$%zu\r\n", big);
            memset(p, 0, big);
            p[big - 1] = 'z';
            p += big;
            p += sprintf(p, "\r\n");
        } else if (k % 3 == 0) {
            p += sprintf(p, ":%d\r\n", k);
        } else if (k % 3 == 1) {
            p += sprintf(p, "-ERR e%d\r\n", k);
        } else {
            p += sprintf(p, "$%d\r\nv%04d\r\n", 5, k);
        }
    }
    redisReader *r = reader();
    redisReply *x = parse(r, s, (size_t)(p - s), 0);
    assert_int_equal(x->elements, 3000);
    assert_int_equal(x->element[1500]->len, big);
    assert_int_equal(x->element[1500]->str[big - 1], 'z');
    assert_int_equal(x->element[1500]->str[0], 0);
    assert_int_equal(x->element[2997]->integer, 2997);
    assert_string_equal(x->element[2999]->str, "v2999");
    assert_int_equal(x->element[1000]->type, REDIS_REPLY_ERROR);
    assert_string_equal(x->element[1000]->str, "ERR e1000");
    assert_string_equal(x->element[2]->str, "v0002");
    rreply_fns.freeObject(x);
    redisReaderFree(r);
    free(s);
}

static void test_cut_short(void **state) {
    (void)state;
    /* Half an array when the reader goes away: its arena goes with it. */
    redisReader *r = reader();
    const char *s = "*3\r\n$5\r\nhello\r\n*2\r\n:1\r\n";
    void *reply = NULL;
    assert_int_equal(redisReaderFeed(r, s, strlen(s)), REDIS_OK);
    assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
    assert_null(reply);
    redisReaderFree(r);
    /* An empty array and a status. */
    r = reader();
    redisReply *x = parse(r, "*0\r\n", 4, 0);
    assert_int_equal(x->type, REDIS_REPLY_ARRAY);
    assert_int_equal(x->elements, 0);
    rreply_fns.freeObject(x);
    x = parse(r, "+OK\r\n", 5, 1);
    assert_int_equal(x->type, REDIS_REPLY_STATUS);
    assert_string_equal(x->str, "OK");
    rreply_fns.freeObject(x);
    redisReaderFree(r);
}

/* The process's address space now, in bytes (ASan's shadow included). */
static size_t vm_bytes(void) {
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* In the child: a header that announces 2^31-1 elements, then three. 0 when the partial
   reply holds a few KiB, else what went wrong. */
static int huge_count_child(void) {
    redisReader *r = reader();
    const char *s = "*2147483647\r\n$3\r\none\r\n:2\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n";
    void *reply = NULL;
    if (redisReaderFeed(r, s, strlen(s)) != REDIS_OK || redisReaderGetReply(r, &reply) != REDIS_OK)
        return 2;
    redisReply *root = r->rstack[0].obj;
    if (reply || !root || root->elements != 2147483647u)
        return 3;
    if (rreply_bytes(root) > 64 << 10)
        return 4;
    if (strcmp(root->element[0]->str, "one") || root->element[1]->integer != 2 ||
        strcmp(root->element[2]->element[1]->str, "b"))
        return 5;
    redisReaderFree(r);
    return 0;
}

/* A multibulk header is a count, not memory: the element array grows as elements arrive. The
   child gets 1 GiB of address space beyond what it has, so even a version that takes 16 GB
   for the header fails here rather than taking the machine's memory. */
static void test_huge_count_takes_no_memory(void **state) {
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        size_t limit = vm_bytes() + ((size_t)1 << 30);
        struct rlimit rl = {limit, limit};
        _exit(setrlimit(RLIMIT_AS, &rl) == 0 ? huge_count_child() : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("the child %s %d", WIFEXITED(st) ? "exited" : "was killed by signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* Growing across many doublings keeps every element in its place, in nested arrays too. */
static void test_elements_grow_in_place(void **state) {
    (void)state;
    const int n = 70000;
    char *s = malloc((size_t)n * 24 + 64), *p = s;
    assert_non_null(s);
    p += sprintf(p, "*2\r\n*%d\r\n", n);
    for (int k = 0; k < n; k++)
        p += sprintf(p, ":%d\r\n", k);
    p += sprintf(p, "*17\r\n");
    for (int k = 0; k < 17; k++)
        p += sprintf(p, "$1\r\n%c\r\n", 'a' + k);
    for (int bytewise = 0; bytewise <= 1; bytewise++) {
        redisReader *r = reader();
        redisReply *x = parse(r, s, (size_t)(p - s), bytewise);
        assert_int_equal(x->elements, 2);
        assert_int_equal(x->element[0]->elements, (size_t)n);
        for (int k = 0; k < n; k++)
            assert_int_equal(x->element[0]->element[k]->integer, k);
        assert_int_equal(x->element[1]->elements, 17);
        for (int k = 0; k < 17; k++)
            assert_int_equal(x->element[1]->element[k]->str[0], 'a' + k);
        /* the arrays' outgrown copies cost less than the last ones again */
        assert_true(rreply_bytes(x) < (size_t)n * (sizeof(redisReply) + 2 * sizeof(void *)) * 2);
        rreply_fns.freeObject(x);
        redisReaderFree(r);
    }
    free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_entries),
        cmocka_unit_test(test_big_and_many),
        cmocka_unit_test(test_cut_short),
        cmocka_unit_test(test_huge_count_takes_no_memory),
        cmocka_unit_test(test_elements_grow_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
