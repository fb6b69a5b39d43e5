/* Arena replies: hiredis's reader builds the same redisReply trees with rreply_fns, fed whole or
   a byte at a time; big strings, nil, integers, errors and nested arrays; a reply cut short is
   freed with the reader (ASan's leak check holds these to it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "rreply.h"

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_entries),
        cmocka_unit_test(test_big_and_many),
        cmocka_unit_test(test_cut_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
