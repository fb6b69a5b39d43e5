/*
 * The Redis reply reader (src/redis/reply.c, hiredis's reader with sluice's arena objects). The
 * input is what a server sends, read as redis/conn.c reads it (maxbuf 0, rreply_fns), in pieces of
 * random sizes; a reply left incomplete at the end is freed with the reader. Properties:
 *   - every reply is a well-formed tree (types hiredis knows, strings NUL-terminated at their
 *     length, arrays with their elements);
 *   - the trees are those of hiredis's own reader fed the same bytes whole (the arena changes
 *     where objects live, never what they are). hiredis's reader is asked only about inputs
 *     whose arrays are small: its own calloc of a huge array is not what is tested here.
 * run.sh caps any one allocation at 256 MB, so a reply that makes the reader ask for more (a
 * 13-byte "*2147483647\r\n" asked for 16 GB) is reported, not left to take the machine.
 */
#include <string.h>

#include <hiredis/hiredis.h>

#include "fuzz.h"
#include "redis/reply.h"
#include "util.h"

#define MAX_REPLIES  256
#define SMALL_ARRAYS 4096 /* elements: more, and hiredis's own reader is not asked */

static void check_tree(const redisReply *r, int depth) {
    FUZZ_CHECK(r != NULL, "a missing element");
    FUZZ_CHECK(depth < 64, "nested deeper than hiredis's reader allows");
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        FUZZ_CHECK(r->str != NULL && r->str[r->len] == '\0', "a string not ended at its length");
        break;
    case REDIS_REPLY_ARRAY:
        FUZZ_CHECK(r->elements == 0 || r->element != NULL, "an array without its elements");
        for (size_t i = 0; i < r->elements; i++)
            check_tree(r->element[i], depth + 1);
        break;
    case REDIS_REPLY_INTEGER:
    case REDIS_REPLY_NIL:
        break;
    default:
        FUZZ_CHECK(0, "reply type %d", r->type);
    }
}

static int same_tree(const redisReply *a, const redisReply *b) {
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    case REDIS_REPLY_INTEGER:
        return a->integer == b->integer;
    case REDIS_REPLY_ARRAY:
        if (a->elements != b->elements)
            return 0;
        for (size_t i = 0; i < a->elements; i++)
            if (!same_tree(a->element[i], b->element[i]))
                return 0;
        return 1;
    default:
        return 1;
    }
}

/* 1 when no array header in the input asks for more than SMALL_ARRAYS elements. */
static int arrays_small(const char *s, size_t n) {
    for (const char *p = s; (p = memchr(p, '*', (size_t)(s + n - p))) != NULL; p++) {
        unsigned long long v = 0;
        for (const char *d = p + 1; d < s + n && *d >= '0' && *d <= '9' && v <= SMALL_ARRAYS; d++)
            v = v * 10 + (unsigned long long)(*d - '0');
        if (v > SMALL_ARRAYS)
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    redisReader *ours = redisReaderCreateWithFunctions(&rreply_fns);
    FUZZ_CHECK(ours != NULL, "out of memory");
    ours->maxbuf = 0;
    redisReply *got[MAX_REPLIES];
    size_t n_got = 0;
    int ours_err = 0;
    struct rng r;
    rng_seed(&r, util_hash64(s, size));
    for (size_t off = 0; off < size && !ours_err;) {
        size_t n = 1 + rng_next(&r) % 64;
        if (n > size - off)
            n = size - off;
        FUZZ_CHECK(redisReaderFeed(ours, s + off, n) == REDIS_OK, "feed");
        off += n;
        void *reply;
        while (!ours_err && n_got < MAX_REPLIES) {
            if (redisReaderGetReply(ours, &reply) != REDIS_OK)
                ours_err = 1;
            else if (!reply)
                break;
            else
                got[n_got++] = reply;
        }
    }
    for (size_t i = 0; i < n_got; i++)
        check_tree(got[i], 0);

    if (arrays_small(s, size)) {
        redisReader *theirs = redisReaderCreate();
        FUZZ_CHECK(theirs != NULL, "out of memory");
        FUZZ_CHECK(redisReaderFeed(theirs, s, size) == REDIS_OK, "feed");
        size_t i = 0;
        void *reply;
        int theirs_err = 0;
        for (; i < MAX_REPLIES; i++) {
            if (redisReaderGetReply(theirs, &reply) != REDIS_OK) {
                theirs_err = 1;
                break;
            }
            if (!reply)
                break;
            FUZZ_CHECK(i < n_got, "hiredis's reader read reply %zu, ours did not", i);
            FUZZ_CHECK(same_tree(got[i], reply), "reply %zu is not hiredis's", i);
            freeReplyObject(reply);
        }
        FUZZ_CHECK(i == n_got, "ours read %zu replies, hiredis's %zu", n_got, i);
        FUZZ_CHECK(ours_err == theirs_err || n_got == MAX_REPLIES, "ours %s, hiredis's %s",
                   ours_err ? "failed" : "did not fail", theirs_err ? "failed" : "did not fail");
        redisReaderFree(theirs);
    }
    for (size_t i = 0; i < n_got; i++)
        rreply_fns.freeObject(got[i]);
    redisReaderFree(ours); /* with any reply it holds unfinished */
    return 0;
}
