/*
 * The blocking job calls of the command line (`sluice job status|list|delete`, and the job's
 * settings when a run or a worker starts), over redis_sync()'s connection.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"
#include "queue.h"

#define KEY_LEN (REDIS_JOB_NAME_MAX + 48)

static const char *const suffixes[] = {"in", "done", "out", "meta", "lost", "workers"};

static int bad_name(const char *name, char *err, size_t errlen) {
    char k[KEY_LEN];
    if (redis_job_key(k, sizeof(k), name, "in") == 0)
        return 0;
    snprintf(err, errlen,
             "bad job name '%s': 1-%d characters, no spaces, braces or control characters",
             name ? name : "", REDIS_JOB_NAME_MAX);
    return 1;
}

static redisReply *cmd_reply(redisContext *c, char *err, size_t errlen, redisReply *r) {
    if (!r)
        snprintf(err, errlen, "Redis did not answer: %s", c->errstr);
    else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "Redis refused: %s", r->str);
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

int sluice_job_status(sluice_redis_t *r, const char *name, sluice_job_status_t *st, char *err,
                      size_t errlen) {
    memset(st, 0, sizeof(*st));
    st->total = -1;
    if (bad_name(name, err, errlen))
        return SLUICE_EINVAL;
    redisContext *c = redis_sync(r, err, errlen);
    if (!c)
        return SLUICE_EIO;
    char meta[KEY_LEN];
    redis_job_key(meta, sizeof(meta), name, "meta");
    redisReply *x = cmd_reply(c, err, errlen, redisCommand(c, "EXISTS %s", meta));
    if (!x)
        return SLUICE_EIO;
    st->exists = x->integer > 0;
    freeReplyObject(x);
    if (!st->exists)
        return 0;
    struct redis_job_status js;
    if (redis_job_status(c, name, &js) < 0) {
        snprintf(err, errlen, "reading the job's status failed: %s",
                 c->err ? c->errstr : "unexpected answer");
        return SLUICE_EIO;
    }
    st->fed = js.fed;
    st->waiting = js.waiting;
    st->pending = js.pending;
    st->done = js.done;
    st->failed = js.failed;
    for (size_t i = 0; i < js.n_workers && st->n_workers < 32; i++) {
        size_t k = st->n_workers++;
        snprintf(st->workers[k].consumer, sizeof(st->workers[k].consumer), "%s",
                 js.workers[i].consumer);
        st->workers[k].age_s = (double)(js.now_ms - js.workers[i].heartbeat_ms) / 1000.0;
        snprintf(st->workers[k].info, sizeof(st->workers[k].info), "%s",
                 js.workers[i].info ? js.workers[i].info : "{}");
    }
    redis_job_status_free(&js);
    x = cmd_reply(c, err, errlen, redisCommand(c, "HGET %s total", meta));
    if (!x)
        return SLUICE_EIO;
    if (x->type == REDIS_REPLY_STRING)
        st->total = strtoll(x->str, NULL, 10);
    freeReplyObject(x);
    /* Each id marked done has one line in :out until a writer trims it (and counts it). */
    x = cmd_reply(c, err, errlen, redisCommand(c, "HGET %s trimmed", meta));
    if (!x)
        return SLUICE_EIO;
    uint64_t trimmed = x->type == REDIS_REPLY_STRING ? strtoull(x->str, NULL, 10) : 0;
    freeReplyObject(x);
    st->unwritten = st->done > trimmed ? st->done - trimmed : 0;
    return 0;
}

int sluice_job_list(sluice_redis_t *r, char ***names, size_t *n, char *err, size_t errlen) {
    *names = NULL;
    *n = 0;
    redisContext *c = redis_sync(r, err, errlen);
    if (!c)
        return SLUICE_EIO;
    char cursor[32] = "0";
    size_t cap = 0;
    do {
        redisReply *x =
            cmd_reply(c, err, errlen,
                      redisCommand(c, "SCAN %s MATCH sluice:job:{*}:meta COUNT 1000", cursor));
        if (!x)
            return SLUICE_EIO;
        if (x->type != REDIS_REPLY_ARRAY || x->elements != 2) {
            freeReplyObject(x);
            snprintf(err, errlen, "unexpected answer to SCAN");
            return SLUICE_EIO;
        }
        snprintf(cursor, sizeof(cursor), "%s", x->element[0]->str);
        const redisReply *keys = x->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            const char *k = keys->element[i]->str;
            const char *a = strchr(k, '{'), *b = strrchr(k, '}');
            if (!a || !b || b <= a)
                continue;
            if (*n == cap) {
                cap = cap ? 2 * cap : 16;
                char **m = realloc(*names, cap * sizeof(*m));
                if (!m) {
                    freeReplyObject(x);
                    return SLUICE_ENOMEM;
                }
                *names = m;
            }
            char *name = strndup(a + 1, (size_t)(b - a - 1));
            if (!name) {
                freeReplyObject(x);
                return SLUICE_ENOMEM;
            }
            (*names)[(*n)++] = name;
        }
        freeReplyObject(x);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

int sluice_job_delete(sluice_redis_t *r, const char *name, char *err, size_t errlen) {
    if (bad_name(name, err, errlen))
        return SLUICE_EINVAL;
    redisContext *c = redis_sync(r, err, errlen);
    if (!c)
        return SLUICE_EIO;
    const char *argv[7];
    char keys[6][KEY_LEN];
    argv[0] = "DEL";
    for (int i = 0; i < 6; i++) {
        redis_job_key(keys[i], KEY_LEN, name, suffixes[i]);
        argv[i + 1] = keys[i];
    }
    redisReply *x = cmd_reply(c, err, errlen, redisCommandArgv(c, 7, argv, NULL));
    if (!x)
        return SLUICE_EIO;
    freeReplyObject(x);
    return 0;
}

/* KEYS: meta. ARGV: "1" (create) or "0", then pairs. When the job has no settings, stores them
   ("s:" + key) and returns an empty array, or (not creating) returns 0; else returns the stored
   values of the keys asked ("\0none" for missing). */
static const char settings_script[] =
    "if redis.call('HEXISTS', KEYS[1], 's:created') == 0 then\n"
    "  if ARGV[1] ~= '1' then return 0 end\n"
    "  for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], 's:' .. ARGV[i], ARGV[i + 1]) end\n"
    "  redis.call('HSET', KEYS[1], 's:created', '1')\n"
    "  return {}\n"
    "end\n"
    "local out = {}\n"
    "for i = 2, #ARGV, 2 do\n"
    "  out[#out + 1] = redis.call('HGET', KEYS[1], 's:' .. ARGV[i]) or '\\0none'\n"
    "end\n"
    "return out\n";

int sluice_job_settings(sluice_redis_t *r, const char *name, const char *const *keys,
                        const char *const *vals, size_t n, int create, int *created,
                        char ***got_vals, char *err, size_t errlen) {
    *created = 0;
    *got_vals = NULL;
    if (bad_name(name, err, errlen))
        return SLUICE_EINVAL;
    redisContext *c = redis_sync(r, err, errlen);
    if (!c)
        return SLUICE_EIO;
    char meta[KEY_LEN];
    redis_job_key(meta, sizeof(meta), name, "meta");
    size_t argc = 5 + 2 * n;
    const char **argv = calloc(argc, sizeof(*argv));
    size_t *lens = calloc(argc, sizeof(*lens));
    if (!argv || !lens) {
        free(argv);
        free(lens);
        return SLUICE_ENOMEM;
    }
    argv[0] = "EVAL";
    argv[1] = settings_script;
    argv[2] = "1";
    argv[3] = meta;
    argv[4] = create ? "1" : "0";
    for (size_t i = 0; i < n; i++) {
        argv[5 + 2 * i] = keys[i];
        argv[6 + 2 * i] = vals[i] ? vals[i] : "";
    }
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *x = cmd_reply(c, err, errlen, redisCommandArgv(c, (int)argc, argv, lens));
    free(argv);
    free(lens);
    if (!x)
        return SLUICE_EIO;
    int rc = 0;
    if (x->type == REDIS_REPLY_INTEGER) {
        rc = SLUICE_EOF; /* no such job, and not creating it */
    } else if (x->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "unexpected answer storing the job's settings");
        rc = SLUICE_EIO;
    } else if (x->elements == 0) {
        *created = 1;
    } else if (x->elements != n) {
        snprintf(err, errlen, "unexpected answer reading the job's settings");
        rc = SLUICE_EIO;
    } else {
        char **v = calloc(n, sizeof(*v));
        rc = v ? 0 : SLUICE_ENOMEM;
        for (size_t i = 0; v && i < n; i++) {
            const redisReply *e = x->element[i];
            if (e->type == REDIS_REPLY_STRING && !(e->len > 0 && e->str[0] == '\0'))
                v[i] = strndup(e->str, e->len);
        }
        *got_vals = v;
    }
    freeReplyObject(x);
    return rc;
}
