/*
 * The job queue on a Redis stream (see queue.h for the key layout and the contracts).
 *
 * Writes that must happen together (commit, claim, batch feed, heartbeat) are Lua scripts, run
 * with EVALSHA and their SHA-1 known at compile time (a unit test checks it against SCRIPT
 * LOAD), falling back to EVAL when the server answers NOSCRIPT (a restart empties its script
 * cache). Nothing is kept between calls, so the functions are safe on any connection.
 *
 * Out of memory (maxmemory with noeviction), Redis 7 decides whether a script without a
 * "#!lua" line may write at its first write, and then lets it finish: the commit and the claim
 * (XACK, XAUTOCLAIM first) and the trim (XTRIM first) still run, whole, so results are stored
 * and :out shrinks, and the job can go on; the feed (XADD first) is refused, and the run that
 * feeds stops with Redis's reason. (With "#!lua" they would all be refused up front.)
 * test_redis_job/test_oom_commit_claim_trim_run_whole checks it.
 */
#include "queue.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"

struct redis_job_script {
    const char *sha;
    const char *body;
};

/*
 * KEYS: in, done, out, meta, lost. ARGV[1] = group, then 5 per result: done member, entry ID,
 * line, result line, flag ("0" success, "1" failed, "L" failed because the entry was lost).
 * The ack and delete happen even when the id was done already: that is the repeat of a commit
 * whose reply was lost, or a second worker finishing an entry claimed from a slow one; either
 * way the entry must leave the pending list.
 *
 * A batch costs a fixed handful of commands, not a handful per result. XACK comes first: when
 * it acknowledges every entry of the batch, none of them was committed before (a commit
 * acknowledges its entries in the same step as it marks them done) and none is in :lost (a
 * lost entry has left the pending list), so SMISMEMBER, which tells which ids are new, and the
 * clean-up of :lost are needed only when it acknowledges fewer. One SADD marks the new ids, one
 * XADD appends all their results as one entry of :out (fields line, r repeated), one XDEL takes
 * the entries off :in.
 */
static const struct redis_job_script redis_job_commit_script = {
    "e0ea3a11ad0816914388e58f5029e00ab99c87c0",
    "local n = (#ARGV - 1) / 5\n"
    "local ids = {}\n"
    "for i = 1, n do ids[i] = ARGV[5 * i - 2] end\n"
    "local acked = redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))\n"
    "local seen\n"
    "if acked < n then\n"
    "  local members = {}\n"
    "  for i = 1, n do members[i] = ARGV[5 * i - 3] end\n"
    "  seen = redis.call('SMISMEMBER', KEYS[2], unpack(members))\n"
    "  if redis.call('SCARD', KEYS[5]) > 0 then redis.call('SREM', KEYS[5], unpack(ids)) end\n"
    "end\n"
    "local res, fresh, added, out, failed = {}, {}, {}, {}, 0\n"
    "for i = 1, n do\n"
    "  local m = ARGV[5 * i - 3]\n"
    "  if (not seen or seen[i] == 0) and not fresh[m] then\n"
    "    fresh[m] = true\n"
    "    added[#added + 1] = m\n"
    "    out[#out + 1] = 'line'\n"
    "    out[#out + 1] = ARGV[5 * i - 1]\n"
    "    out[#out + 1] = 'r'\n"
    "    out[#out + 1] = ARGV[5 * i]\n"
    "    if ARGV[5 * i + 1] ~= '0' then failed = failed + 1 end\n"
    "    res[i] = 1\n"
    "  else\n"
    "    res[i] = 0\n"
    "  end\n"
    "end\n"
    "if #added > 0 then\n"
    "  redis.call('SADD', KEYS[2], unpack(added))\n"
    "  redis.call('XADD', KEYS[3], '*', unpack(out))\n"
    "end\n"
    "if failed > 0 then redis.call('HINCRBY', KEYS[4], 'failed', failed) end\n"
    "redis.call('XDEL', KEYS[1], unpack(ids))\n"
    "return res\n"};

/*
 * KEYS: in, lost. ARGV: group, consumer, min idle ms, cursor, count. Returns {next cursor,
 * entries, lost IDs, delivery counts}. XAUTOCLAIM (Redis 7) removes entries deleted from the
 * stream from the pending list and returns their IDs once: they go into :lost in the same
 * step, so a worker that dies before committing their failed results cannot lose them.
 */
static const struct redis_job_script redis_job_claim_script = {
    "dc4d7b2085a088b7abe88e5f17ba55ac476d22e0",
    "local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4],\n"
    "                     'COUNT', ARGV[5])\n"
    "local counts = {}\n"
    "for i, e in ipairs(r[2]) do\n"
    "  local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)\n"
    "  counts[i] = p[1] and p[1][4] or 0\n"
    "end\n"
    "for _, id in ipairs(r[3]) do redis.call('SADD', KEYS[2], id) end\n"
    "local lost = redis.call('SRANDMEMBER', KEYS[2], tonumber(ARGV[5]))\n"
    "return {r[1], r[2], lost, counts}\n"};

/* KEYS: in. ARGV: 3 per line: entry ID, custom_id, request. Returns how many were added. */
static const struct redis_job_script redis_job_feed_script = {
    "544fea226941d2a041a8af198ba5d3875b497bd9",
    "local added = 0\n"
    "for i = 1, #ARGV, 3 do\n"
    "  local r = redis.pcall('XADD', KEYS[1], ARGV[i], 'id', ARGV[i + 1], 'req', ARGV[i + 2])\n"
    "  if type(r) == 'string' then\n"
    "    added = added + 1\n"
    "  elseif not string.find(r.err or '', 'equal or smaller', 1, true) then\n"
    "    return r\n"
    "  end\n"
    "end\n"
    "return added\n"};

/* KEYS: workers. ARGV: consumer, info. Stamps with Redis's clock, not the worker's. */
static const struct redis_job_script redis_job_heartbeat_script = {
    "65c48b436803a6a5f7a6e2f6acddc1c5cb137a07",
    "local t = redis.call('TIME')\n"
    "local ms = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ms .. '|' .. ARGV[2])\n"
    "return ms\n"};

/*
 * KEYS: out, meta. ARGV: the smallest ID to keep, and how many result lines the job's writers
 * have taken out of :out in all (an absolute count, so a repeat changes nothing). `sluice job
 * status` counts the lines not yet written as done - trimmed: every id marked done has one line
 * in :out until a writer trims it. (XLEN would count entries, and an entry holds a commit's
 * batch of lines.)
 */
static const struct redis_job_script redis_job_trim_script = {
    "0ae11af112c18ef9797b4982ffe2aabf8fd22eba", "redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])\n"
                                                "redis.call('HSET', KEYS[2], 'trimmed', ARGV[2])\n"
                                                "return 1\n"};

const char *redis_job_script_body(int which, const char **sha) {
    static const struct redis_job_script *all[] = {
        &redis_job_commit_script, &redis_job_claim_script, &redis_job_feed_script,
        &redis_job_heartbeat_script, &redis_job_trim_script};
    if (which < 0 || which >= (int)(sizeof(all) / sizeof(all[0])))
        return NULL;
    *sha = all[which]->sha;
    return all[which]->body;
}

int redis_job_key(char *buf, size_t size, const char *job, const char *suffix) {
    size_t len = job ? strlen(job) : 0;
    if (len == 0 || len > REDIS_JOB_NAME_MAX)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)job[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '{' || ch == '}')
            return -1;
    }
    int w = snprintf(buf, size, "sluice:job:{%s}:%s", job, suffix);
    return w < 0 || (size_t)w >= size ? -1 : 0;
}

/* Room for any key: prefix, braces, the longest name and suffix. */
#define KEY_LEN (REDIS_JOB_NAME_MAX + 48)

static int is_error(const redisReply *r, const char *prefix) {
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, prefix, strlen(prefix)) == 0;
}

/* Parses "<ms>-<seq>"; returns 0 or -1. */
static int parse_id(const char *s, uint64_t *ms, uint64_t *seq) {
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -1;
    *ms = strtoull(s, &end, 10);
    if (*end == '\0') {
        *seq = 0;
        return 0;
    }
    if (*end != '-' || end[1] < '0' || end[1] > '9')
        return -1;
    *seq = strtoull(end + 1, &end, 10);
    return *end == '\0' ? 0 : -1;
}

static int reply_u64(const redisReply *r, uint64_t *v) {
    if (r->type == REDIS_REPLY_INTEGER) {
        *v = r->integer < 0 ? 0 : (uint64_t)r->integer;
        return 0;
    }
    if (r->type == REDIS_REPLY_STRING) {
        *v = strtoull(r->str, NULL, 10);
        return 0;
    }
    if (r->type == REDIS_REPLY_NIL) {
        *v = 0;
        return 0;
    }
    return -1;
}

/*
 * Runs a script: EVALSHA, then EVAL on NOSCRIPT. args/lens are the keys followed by the other
 * arguments. Returns the reply (the caller frees it), or NULL with the connection broken.
 */
static redisReply *eval_script(redisContext *c, const struct redis_job_script *s, int nkeys,
                               size_t nargs, const char **args, const size_t *lens) {
    size_t argc = nargs + 3;
    const char **argv = malloc(argc * sizeof(*argv));
    size_t *argvlen = malloc(argc * sizeof(*argvlen));
    redisReply *r = NULL;
    char nk[16];
    if (!argv || !argvlen)
        goto done;
    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[0] = "EVALSHA";
    argv[1] = s->sha;
    argv[2] = nk;
    for (size_t i = 0; i < 3; i++)
        argvlen[i] = strlen(argv[i]);
    memcpy(argv + 3, args, nargs * sizeof(*args));
    memcpy(argvlen + 3, lens, nargs * sizeof(*lens));
    r = redisCommandArgv(c, (int)argc, argv, argvlen);
    if (is_error(r, "NOSCRIPT")) {
        freeReplyObject(r);
        argv[0] = "EVAL";
        argv[1] = s->body;
        argvlen[0] = 4;
        argvlen[1] = strlen(s->body);
        r = redisCommandArgv(c, (int)argc, argv, argvlen);
    }
done:
    free(argv);
    free(argvlen);
    return r;
}

int redis_job_create(redisContext *c, const char *job) {
    char key[KEY_LEN];
    if (redis_job_key(key, sizeof(key), job, "in") != 0)
        return SLUICE_EINVAL;
    /* From ID 0, so that entries fed before the group existed are delivered too. */
    redisReply *r = redisCommand(c, "XGROUP CREATE %s %s 0 MKSTREAM", key, REDIS_JOB_GROUP);
    int rc = r && (r->type == REDIS_REPLY_STATUS || is_error(r, "BUSYGROUP")) ? 0 : SLUICE_EIO;
    freeReplyObject(r);
    return rc;
}

int redis_job_feed(redisContext *c, const char *job, uint64_t line, const char *custom_id,
                   const char *request_json, size_t len) {
    char key[KEY_LEN], id[REDIS_JOB_ID_LEN];
    if (redis_job_key(key, sizeof(key), job, "in") != 0 || line == 0 || !custom_id || !request_json)
        return SLUICE_EINVAL;
    snprintf(id, sizeof(id), "%" PRIu64 "-1", line);
    redisReply *r =
        redisCommand(c, "XADD %s %s id %s req %b", key, id, custom_id, request_json, len);
    int rc = SLUICE_EIO;
    if (r && r->type == REDIS_REPLY_STRING)
        rc = 1;
    else if (r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "equal or smaller"))
        rc = 0;
    freeReplyObject(r);
    return rc;
}

int redis_job_feed_args(const char *job, const struct redis_job_line *lines, size_t n,
                        struct redis_job_args *out) {
    memset(out, 0, sizeof(*out));
    if (!lines || n == 0)
        return SLUICE_EINVAL;
    size_t nargs = 1 + 3 * n, text = KEY_LEN + n * REDIS_JOB_ID_LEN;
    for (size_t i = 0; i < n; i++)
        if (lines[i].bad)
            text += strlen(lines[i].bad) + 1;
    out->argv = malloc(nargs * sizeof(*out->argv));
    out->argvlen = malloc(nargs * sizeof(*out->argvlen));
    out->text = malloc(text);
    if (!out->argv || !out->argvlen || !out->text) {
        redis_job_args_free(out);
        return SLUICE_ENOMEM;
    }
    if (redis_job_key(out->text, KEY_LEN, job, "in") != 0) {
        redis_job_args_free(out);
        return SLUICE_EINVAL;
    }
    out->argv[0] = out->text;
    out->argvlen[0] = strlen(out->text);
    char *p = out->text + KEY_LEN;
    for (size_t i = 0; i < n; i++) {
        const struct redis_job_line *l = &lines[i];
        if (l->line == 0 || (!l->custom_id && !l->bad) || !l->request) {
            redis_job_args_free(out);
            return SLUICE_EINVAL;
        }
        snprintf(p, REDIS_JOB_ID_LEN, "%" PRIu64 "-1", l->line);
        out->argv[1 + 3 * i] = p;
        out->argvlen[1 + 3 * i] = strlen(p);
        p += REDIS_JOB_ID_LEN;
        if (l->bad) {
            /* A rejected line: its id field is a NUL and the reason (no custom_id starts with
               a NUL), so the worker writes a failed result without trusting the line. */
            size_t bl = strlen(l->bad);
            p[0] = '\0';
            memcpy(p + 1, l->bad, bl);
            out->argv[2 + 3 * i] = p;
            out->argvlen[2 + 3 * i] = bl + 1;
            p += bl + 1;
        } else {
            out->argv[2 + 3 * i] = l->custom_id;
            out->argvlen[2 + 3 * i] = strlen(l->custom_id);
        }
        out->argv[3 + 3 * i] = l->request;
        out->argvlen[3 + 3 * i] = l->request_len;
    }
    out->argc = (int)nargs;
    out->nkeys = 1;
    return 0;
}

int redis_job_feed_batch(redisContext *c, const char *job, const struct redis_job_line *lines,
                         size_t n) {
    char key[KEY_LEN];
    if (redis_job_key(key, sizeof(key), job, "in") != 0 || (n && !lines))
        return SLUICE_EINVAL;
    if (n == 0)
        return 0;
    struct redis_job_args a;
    int rc = redis_job_feed_args(job, lines, n, &a);
    if (rc < 0)
        return rc;
    redisReply *r = eval_script(c, &redis_job_feed_script, 1, (size_t)a.argc, a.argv, a.argvlen);
    rc = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : SLUICE_EIO;
    freeReplyObject(r);
    redis_job_args_free(&a);
    return rc;
}

/* Looks up `field` in a flat RESP2 map (XINFO's answer); NULL when absent. */
static const redisReply *map_get(const redisReply *r, const char *field) {
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, field) == 0)
            return r->element[i + 1];
    return NULL;
}

int redis_job_last_fed(redisContext *c, const char *job, uint64_t *line) {
    char key[KEY_LEN];
    if (redis_job_key(key, sizeof(key), job, "in") != 0)
        return SLUICE_EINVAL;
    *line = 0;
    redisReply *r = redisCommand(c, "XINFO STREAM %s", key);
    int rc = SLUICE_EIO;
    uint64_t seq;
    const redisReply *last = map_get(r, "last-generated-id");
    if (is_error(r, "ERR no such key"))
        rc = 0;
    else if (last && last->type == REDIS_REPLY_STRING && parse_id(last->str, line, &seq) == 0)
        rc = 0;
    freeReplyObject(r);
    return rc;
}

/*
 * Sends `n` commands (already appended) and collects their replies into r[]. Returns 0, or
 * SLUICE_EIO with every reply freed when the connection failed.
 */
static int pipeline_collect(redisContext *c, redisReply **r, int n) {
    int rc = 0;
    for (int i = 0; i < n; i++) {
        void *p = NULL;
        r[i] = NULL;
        if (rc == 0 && redisGetReply(c, &p) == REDIS_OK)
            r[i] = p;
        else
            rc = SLUICE_EIO;
    }
    if (rc != 0)
        for (int i = 0; i < n; i++) {
            freeReplyObject(r[i]);
            r[i] = NULL;
        }
    return rc;
}

/* The group's pending count from XPENDING's summary; a missing stream or group counts 0. */
static int pending_count(const redisReply *r, uint64_t *v) {
    if (is_error(r, "NOGROUP")) {
        *v = 0;
        return 0;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return -1;
    return reply_u64(r->element[0], v);
}

int redis_job_backlog(redisContext *c, const char *job, uint64_t *waiting, uint64_t *in_stream) {
    char key[KEY_LEN];
    redisReply *r[2];
    uint64_t len, pending;
    if (redis_job_key(key, sizeof(key), job, "in") != 0)
        return SLUICE_EINVAL;
    redisAppendCommand(c, "XLEN %s", key);
    redisAppendCommand(c, "XPENDING %s %s", key, REDIS_JOB_GROUP);
    if (pipeline_collect(c, r, 2) != 0)
        return SLUICE_EIO;
    int rc = reply_u64(r[0], &len) == 0 && pending_count(r[1], &pending) == 0 ? 0 : SLUICE_EIO;
    if (rc == 0) {
        /* Pending entries that vanished from the stream would make this negative. */
        *waiting = len > pending ? len - pending : 0;
        if (in_stream)
            *in_stream = len;
    }
    freeReplyObject(r[0]);
    freeReplyObject(r[1]);
    return rc;
}

void redis_job_entries_free(struct redis_job_entry *e, size_t n) {
    for (size_t i = 0; e && i < n; i++)
        free(e[i].custom_id); /* request lives in the same block */
    free(e);
}

/*
 * Fills `e` from one stream entry [id, [field, value, ...]]: one allocation holds custom_id
 * and the request. Returns 0, SLUICE_ENOMEM, or SLUICE_EIO for an entry of the wrong shape.
 */
static int entry_from_reply(struct redis_job_entry *e, const redisReply *r) {
    const redisReply *cid = NULL, *req = NULL;
    uint64_t seq;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= REDIS_JOB_ID_LEN)
        return SLUICE_EIO;
    memcpy(e->id, r->element[0]->str, r->element[0]->len + 1);
    if (parse_id(e->id, &e->line, &seq) != 0)
        return SLUICE_EIO;
    const redisReply *f = r->element[1];
    if (f->type != REDIS_REPLY_ARRAY)
        return SLUICE_EIO;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        if (f->element[i]->type != REDIS_REPLY_STRING ||
            f->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(f->element[i]->str, "id") == 0)
            cid = f->element[i + 1];
        else if (strcmp(f->element[i]->str, "req") == 0)
            req = f->element[i + 1];
    }
    if (!cid || !req)
        return SLUICE_EIO;
    char *block = malloc(cid->len + req->len + 2);
    if (!block)
        return SLUICE_ENOMEM;
    memcpy(block, cid->str, cid->len + 1);
    memcpy(block + cid->len + 1, req->str, req->len + 1);
    e->bad = cid->len > 0 && cid->str[0] == '\0' ? block + 1 : NULL;
    e->custom_id = block;
    e->request = block + cid->len + 1;
    e->request_len = req->len;
    return 0;
}

int redis_job_read(redisContext *c, const char *job, const char *consumer, int count, int block_ms,
                   struct redis_job_entry **out, size_t *n) {
    char key[KEY_LEN];
    *out = NULL;
    *n = 0;
    if (redis_job_key(key, sizeof(key), job, "in") != 0 || !consumer || !*consumer || count < 1)
        return SLUICE_EINVAL;
    redisReply *r;
    if (block_ms >= 0)
        r = redisCommand(c, "XREADGROUP GROUP %s %s COUNT %d BLOCK %d STREAMS %s >",
                         REDIS_JOB_GROUP, consumer, count, block_ms, key);
    else
        r = redisCommand(c, "XREADGROUP GROUP %s %s COUNT %d STREAMS %s >", REDIS_JOB_GROUP,
                         consumer, count, key);
    if (!r)
        return SLUICE_EIO;
    int rc = redis_job_parse_read(r, out, n);
    freeReplyObject(r);
    return rc;
}

int redis_job_parse_read(const redisReply *r, struct redis_job_entry **out, size_t *n) {
    *out = NULL;
    *n = 0;
    int rc = 0;
    if (r->type == REDIS_REPLY_NIL)
        goto done;
    /* [[key, [entry, ...]]] */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
        r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2 ||
        r->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
        rc = SLUICE_EIO;
        goto done;
    }
    const redisReply *list = r->element[0]->element[1];
    if (list->elements == 0)
        goto done;
    *out = calloc(list->elements, sizeof(**out));
    if (!*out) {
        rc = SLUICE_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < list->elements; i++) {
        rc = entry_from_reply(&(*out)[*n], list->element[i]);
        if (rc != 0)
            break;
        (*out)[(*n)++].deliveries = 1;
    }
done:
    /* The entries are delivered (pending for this consumer) even if they could not be handed
       over here: a claim after --claim-idle gives them another chance. */
    if (rc != 0) {
        redis_job_entries_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int redis_job_claim(redisContext *c, const char *job, const char *consumer, int64_t min_idle_ms,
                    int count, char cursor[REDIS_JOB_ID_LEN], struct redis_job_entry **out,
                    size_t *n) {
    char in[KEY_LEN], lost[KEY_LEN], idle[24], cnt[16];
    *out = NULL;
    *n = 0;
    if (redis_job_key(in, sizeof(in), job, "in") != 0 ||
        redis_job_key(lost, sizeof(lost), job, "lost") != 0 || !consumer || !*consumer ||
        count < 1 || min_idle_ms < 0 || !cursor)
        return SLUICE_EINVAL;
    snprintf(idle, sizeof(idle), "%" PRId64, min_idle_ms);
    snprintf(cnt, sizeof(cnt), "%d", count);
    const char *args[] = {in, lost, REDIS_JOB_GROUP, consumer, idle, cursor[0] ? cursor : "0-0",
                          cnt};
    size_t lens[7];
    for (size_t i = 0; i < 7; i++)
        lens[i] = strlen(args[i]);
    redisReply *r = eval_script(c, &redis_job_claim_script, 2, 7, args, lens);
    if (!r)
        return SLUICE_EIO;
    int rc = redis_job_parse_claim(r, cursor, out, n);
    freeReplyObject(r);
    return rc;
}

int redis_job_parse_claim(const redisReply *r, char cursor[REDIS_JOB_ID_LEN],
                          struct redis_job_entry **out, size_t *n) {
    *out = NULL;
    *n = 0;
    int rc = SLUICE_EIO;
    /* {next cursor, entries, lost IDs, delivery counts} */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= REDIS_JOB_ID_LEN ||
        r->element[1]->type != REDIS_REPLY_ARRAY || r->element[2]->type != REDIS_REPLY_ARRAY ||
        r->element[3]->type != REDIS_REPLY_ARRAY ||
        r->element[3]->elements != r->element[1]->elements)
        goto done;
    const redisReply *got = r->element[1], *gone = r->element[2], *counts = r->element[3];
    size_t total = got->elements + gone->elements;
    rc = 0;
    if (total > 0 && !(*out = calloc(total, sizeof(**out)))) {
        rc = SLUICE_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < got->elements && rc == 0; i++) {
        struct redis_job_entry *e = &(*out)[*n];
        rc = entry_from_reply(e, got->element[i]);
        if (rc == 0) {
            e->deliveries =
                counts->element[i]->type == REDIS_REPLY_INTEGER ? counts->element[i]->integer : 0;
            (*n)++;
        }
    }
    for (size_t i = 0; i < gone->elements && rc == 0; i++) {
        struct redis_job_entry *e = &(*out)[*n];
        uint64_t seq;
        const redisReply *id = gone->element[i];
        if (id->type != REDIS_REPLY_STRING || id->len >= REDIS_JOB_ID_LEN ||
            parse_id(id->str, &e->line, &seq) != 0) {
            rc = SLUICE_EIO;
            break;
        }
        memcpy(e->id, id->str, id->len + 1);
        e->lost = 1;
        (*n)++;
    }
    if (rc == 0)
        memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);
done:
    if (rc != 0) {
        redis_job_entries_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

void redis_job_args_free(struct redis_job_args *a) {
    free(a->argv);
    free(a->argvlen);
    free(a->text);
    memset(a, 0, sizeof(*a));
}

int redis_job_commit_args(const char *job, const struct redis_job_commit *res, size_t n,
                          struct redis_job_args *out) {
    memset(out, 0, sizeof(*out));
    if (!res || n == 0)
        return SLUICE_EINVAL;
    /* Keys, then text the arguments point into: per result the line number and the done
       member of a lost entry. */
    size_t nargs = 6 + 5 * n;
    out->argv = malloc(nargs * sizeof(*out->argv));
    out->argvlen = malloc(nargs * sizeof(*out->argvlen));
    out->text = malloc(5 * KEY_LEN + n * 2 * REDIS_JOB_ID_LEN);
    if (!out->argv || !out->argvlen || !out->text) {
        redis_job_args_free(out);
        return SLUICE_ENOMEM;
    }
    static const char *const suffix[5] = {"in", "done", "out", "meta", "lost"};
    for (int k = 0; k < 5; k++) {
        char *key = out->text + (size_t)k * KEY_LEN;
        if (redis_job_key(key, KEY_LEN, job, suffix[k]) != 0) {
            redis_job_args_free(out);
            return SLUICE_EINVAL;
        }
        out->argv[k] = key;
        out->argvlen[k] = strlen(key);
    }
    out->argv[5] = REDIS_JOB_GROUP;
    out->argvlen[5] = strlen(REDIS_JOB_GROUP);
    char *text = out->text + 5 * KEY_LEN;
    for (size_t i = 0; i < n; i++) {
        uint64_t line, seq;
        const struct redis_job_commit *x = &res[i];
        const char **a = out->argv + 6 + 5 * i;
        size_t *l = out->argvlen + 6 + 5 * i;
        char *num = text + i * 2 * REDIS_JOB_ID_LEN, *mark = num + REDIS_JOB_ID_LEN;
        if (!x->entry_id || parse_id(x->entry_id, &line, &seq) != 0 || !x->result) {
            redis_job_args_free(out);
            return SLUICE_EINVAL;
        }
        snprintf(num, REDIS_JOB_ID_LEN, "%" PRIu64, line);
        if (x->custom_id) {
            a[0] = x->custom_id;
            l[0] = strlen(x->custom_id);
        } else {
            /* A leading NUL: no custom_id can collide with the mark of a lost line. */
            mark[0] = '\0';
            int w = snprintf(mark + 1, REDIS_JOB_ID_LEN - 1, "line:%" PRIu64, line);
            a[0] = mark;
            l[0] = (size_t)w + 1;
        }
        a[1] = x->entry_id;
        l[1] = strlen(x->entry_id);
        a[2] = num;
        l[2] = strlen(num);
        a[3] = x->result;
        l[3] = x->result_len;
        a[4] = x->lost ? "L" : x->failed ? "1" : "0";
        l[4] = 1;
    }
    out->argc = (int)nargs;
    out->nkeys = 5;
    return 0;
}

int redis_job_parse_commit(const redisReply *r, size_t n, int *new_flags) {
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != n)
        return SLUICE_EIO;
    int fresh_n = 0;
    for (size_t i = 0; i < n; i++) {
        int fresh = r->element[i]->type == REDIS_REPLY_INTEGER && r->element[i]->integer == 1;
        if (new_flags)
            new_flags[i] = fresh;
        fresh_n += fresh;
    }
    return fresh_n;
}

int redis_job_commit(redisContext *c, const char *job, const struct redis_job_commit *res, size_t n,
                     int *new_flags) {
    char key[KEY_LEN];
    if (redis_job_key(key, sizeof(key), job, "in") != 0)
        return SLUICE_EINVAL;
    if (n == 0)
        return 0;
    struct redis_job_args a;
    int rc = redis_job_commit_args(job, res, n, &a);
    if (rc < 0)
        return rc;
    redisReply *r =
        eval_script(c, &redis_job_commit_script, a.nkeys, (size_t)a.argc, a.argv, a.argvlen);
    rc = redis_job_parse_commit(r, n, new_flags);
    freeReplyObject(r);
    redis_job_args_free(&a);
    return rc;
}

int redis_job_heartbeat(redisContext *c, const char *job, const char *consumer,
                        const char *info_json) {
    char key[KEY_LEN];
    if (redis_job_key(key, sizeof(key), job, "workers") != 0 || !consumer || !*consumer)
        return SLUICE_EINVAL;
    const char *info = info_json ? info_json : "{}";
    const char *args[] = {key, consumer, info};
    size_t lens[] = {strlen(key), strlen(consumer), strlen(info)};
    redisReply *r = eval_script(c, &redis_job_heartbeat_script, 1, 3, args, lens);
    int rc =
        r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_INTEGER) ? 0 : SLUICE_EIO;
    freeReplyObject(r);
    return rc;
}

void redis_job_results_free(struct redis_job_result *r, size_t n) {
    for (size_t i = 0; r && i < n; i++)
        free(r[i].result);
    free(r);
}

int redis_job_results(redisContext *c, const char *job, const char *after_id, int count,
                      struct redis_job_result **out, size_t *n) {
    char key[KEY_LEN], start[REDIS_JOB_ID_LEN + 1];
    uint64_t ms, seq;
    *out = NULL;
    *n = 0;
    if (redis_job_key(key, sizeof(key), job, "out") != 0 || count < 1)
        return SLUICE_EINVAL;
    if (!after_id || strcmp(after_id, "0-0") == 0)
        strcpy(start, "-");
    else if (parse_id(after_id, &ms, &seq) == 0)
        /* "(" makes the start exclusive (Redis 6.2+). */
        snprintf(start, sizeof(start), "(%" PRIu64 "-%" PRIu64, ms, seq);
    else
        return SLUICE_EINVAL;
    redisReply *r = redisCommand(c, "XRANGE %s %s + COUNT %d", key, start, count);
    if (!r)
        return SLUICE_EIO;
    int rc = redis_job_parse_results(r, out, n);
    freeReplyObject(r);
    return rc;
}

/* 1 when `e` is a stream entry [id, [field, value, ...]] with an ID that fits. */
static int is_entry(const redisReply *e) {
    return e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
           e->element[0]->type == REDIS_REPLY_STRING && e->element[0]->len < REDIS_JOB_ID_LEN &&
           e->element[1]->type == REDIS_REPLY_ARRAY;
}

int redis_job_parse_results(const redisReply *r, struct redis_job_result **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (r->type != REDIS_REPLY_ARRAY)
        return SLUICE_EIO;
    /* One entry holds the results of one commit: fields line, r, line, r, ... */
    size_t total = 0;
    for (size_t i = 0; i < r->elements; i++) {
        if (!is_entry(r->element[i]))
            return SLUICE_EIO;
        total += r->element[i]->element[1]->elements / 4;
    }
    if (total && !(*out = calloc(total, sizeof(**out))))
        return SLUICE_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < r->elements && rc == 0; i++) {
        const redisReply *e = r->element[i], *f = e->element[1], *line = NULL;
        for (size_t j = 0; j + 1 < f->elements && rc == 0; j += 2) {
            const redisReply *k = f->element[j], *v = f->element[j + 1];
            if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
                continue;
            if (strcmp(k->str, "line") == 0) {
                line = v;
                continue;
            }
            if (strcmp(k->str, "r") != 0 || !line || *n == total)
                continue;
            struct redis_job_result *x = &(*out)[*n];
            if (!(x->result = malloc(v->len + 1))) {
                rc = SLUICE_ENOMEM;
                break;
            }
            memcpy(x->result, v->str, v->len + 1);
            x->result_len = v->len;
            x->line = strtoull(line->str, NULL, 10);
            memcpy(x->id, e->element[0]->str, e->element[0]->len + 1);
            (*n)++;
            line = NULL;
        }
    }
    if (rc != 0) {
        redis_job_results_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int redis_job_trim_results(redisContext *c, const char *job, const char *upto_id) {
    char key[KEY_LEN], min[REDIS_JOB_ID_LEN];
    uint64_t ms, seq;
    if (redis_job_key(key, sizeof(key), job, "out") != 0 || parse_id(upto_id, &ms, &seq) != 0)
        return SLUICE_EINVAL;
    /* MINID keeps IDs >= its argument, so name the smallest ID after upto_id. Exact, not "~":
       what is trimmed must be exactly what was written. */
    if (seq == UINT64_MAX)
        snprintf(min, sizeof(min), "%" PRIu64 "-0", ms + 1);
    else
        snprintf(min, sizeof(min), "%" PRIu64 "-%" PRIu64, ms, seq + 1);
    redisReply *r = redisCommand(c, "XTRIM %s MINID %s", key, min);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : SLUICE_EIO;
    freeReplyObject(r);
    return rc;
}

void redis_job_status_free(struct redis_job_status *st) {
    for (size_t i = 0; st->workers && i < st->n_workers; i++)
        free(st->workers[i].consumer); /* info lives in the same block */
    free(st->workers);
    st->workers = NULL;
    st->n_workers = 0;
}

/* Parses the workers hash (flat [consumer, "ms|info", ...]) into st. */
static int status_workers(struct redis_job_status *st, const redisReply *r) {
    if (r->type != REDIS_REPLY_ARRAY)
        return SLUICE_EIO;
    size_t n = r->elements / 2;
    if (n == 0)
        return 0;
    if (!(st->workers = calloc(n, sizeof(*st->workers))))
        return SLUICE_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const redisReply *k = r->element[2 * i], *v = r->element[2 * i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return SLUICE_EIO;
        const char *bar = memchr(v->str, '|', v->len);
        const char *info = bar ? bar + 1 : "";
        size_t info_len = bar ? v->len - (size_t)(bar + 1 - v->str) : 0;
        char *block = malloc(k->len + info_len + 2);
        if (!block)
            return SLUICE_ENOMEM;
        struct redis_job_worker *w = &st->workers[st->n_workers++];
        memcpy(block, k->str, k->len + 1);
        memcpy(block + k->len + 1, info, info_len);
        block[k->len + 1 + info_len] = '\0';
        w->consumer = block;
        w->info = block + k->len + 1;
        w->heartbeat_ms = strtoll(v->str, NULL, 10);
    }
    return 0;
}

int redis_job_status(redisContext *c, const char *job, struct redis_job_status *st) {
    char in[KEY_LEN], done[KEY_LEN], meta[KEY_LEN], lost[KEY_LEN], workers[KEY_LEN];
    memset(st, 0, sizeof(*st));
    if (redis_job_key(in, sizeof(in), job, "in") != 0 ||
        redis_job_key(done, sizeof(done), job, "done") != 0 ||
        redis_job_key(meta, sizeof(meta), job, "meta") != 0 ||
        redis_job_key(lost, sizeof(lost), job, "lost") != 0 ||
        redis_job_key(workers, sizeof(workers), job, "workers") != 0)
        return SLUICE_EINVAL;
    /* One round trip; not atomic, as a status line need not be. */
    redisAppendCommand(c, "XINFO STREAM %s", in);
    redisAppendCommand(c, "XLEN %s", in);
    redisAppendCommand(c, "XPENDING %s %s", in, REDIS_JOB_GROUP);
    redisAppendCommand(c, "SCARD %s", done);
    redisAppendCommand(c, "HGET %s failed", meta);
    redisAppendCommand(c, "SCARD %s", lost);
    redisAppendCommand(c, "HGETALL %s", workers);
    redisAppendCommand(c, "TIME");
    redisReply *r[8];
    if (pipeline_collect(c, r, 8) != 0)
        return SLUICE_EIO;
    int rc = SLUICE_EIO;
    uint64_t len;
    const redisReply *added = map_get(r[0], "entries-added");
    if (added)
        st->fed = added->type == REDIS_REPLY_INTEGER ? (uint64_t)added->integer : 0;
    else if (!is_error(r[0], "ERR no such key"))
        goto done;
    if (reply_u64(r[1], &len) != 0 || pending_count(r[2], &st->pending) != 0 ||
        reply_u64(r[3], &st->done) != 0 || reply_u64(r[4], &st->failed) != 0 ||
        reply_u64(r[5], &st->lost) != 0)
        goto done;
    st->waiting = len > st->pending ? len - st->pending : 0;
    if (r[7]->type != REDIS_REPLY_ARRAY || r[7]->elements != 2)
        goto done;
    st->now_ms = strtoll(r[7]->element[0]->str, NULL, 10) * 1000 +
                 strtoll(r[7]->element[1]->str, NULL, 10) / 1000;
    rc = status_workers(st, r[6]);
done:
    if (rc != 0)
        redis_job_status_free(st);
    for (int i = 0; i < 8; i++)
        freeReplyObject(r[i]);
    return rc;
}
