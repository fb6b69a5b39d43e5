#include "shared_limiter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"

/*
 * The script. KEYS[1] is the budget's hash, ARGV[1] the operation:
 *   init  rpm tpm burst   create the hash if absent; set each value given (>= 0)
 *   lease nr nt maxwait delta [rpm tpm]
 *                         charge delta tokens, then take nr requests and nt tokens if the first
 *                         of them is usable within maxwait ms: {1, wait} or {0, wait}; a pause
 *                         answers {0, pause - now}; an absent hash is the error NOLIMIT (Redis
 *                         lost it: the caller re-creates it rather than lease from an unlimited
 *                         budget). rpm tpm: the rates the caller sized a lease of several for;
 *                         when the shared ones differ it is refused ({0, 0}), to be sized again.
 *                         A lease's requests take the slots [a, a + nr x interval) of the
 *                         request schedule, a = max(rtat, now + wait), and its tokens [b, b + nt x
 *                         token interval) of the token schedule, b = max(ttat, now + wait)
 *   recon delta           charge or refund tokens
 *   rates rpm tpm         set the rates, rescaling debt
 *   pause ms              pause = max(pause, now + ms); the pause banks no credit: each TAT
 *                         becomes at least pause + cap - interval, the burst used up, so the
 *                         first leases after it get one unit per interval (a pause is no
 *                         rest: the budget refills only after it)
 * An operation may carry its own time, "lease@T" (T in ms): tests drive the budget on a virtual
 * clock that way. Production calls never do; their time is Redis's (TIME).
 * Every reply is {ok, wait_ms, rpm, tpm, why, burst, a - now, b - now}; the numbers that may have
 * fractions are strings; why says what refused a lease: 0 the budget, 1 the shared pause (wait_ms
 * is then the pause's end, which no max_wait shortens), 2 a size for other rates. The slot starts
 * are given as ms after the reply's own time, so the caller places them on its own clock.
 *
 * The arithmetic is limiter.c's (gcra_wait, gcra_take, gcra_adjust, gcra_set_rate), with the
 * burst in ms of budget: cap = max(burst s x 1000, interval). Times are ms on Redis's clock, as
 * doubles; they are written with %.17g so a round trip through the hash loses nothing. Redis 7
 * replicates a script's effects, so reading TIME before writing is allowed.
 *
 * Kept under 4095 bytes: that is the longest string literal -Wpedantic accepts.
 */
/* SHA-1 of SCRIPT: EVALSHA needs no SCRIPT LOAD round trip (test_redis_lease checks it). */
static const char SCRIPT_SHA[] = "50197b2a1b7bc69ba1168fbf91a6b7ad63f207d1";
static const char SCRIPT[] =
    "local k=KEYS[1]\n"
    "local op,at=string.match(ARGV[1],'^(%a+)@?(.*)$')\n"
    "local now=tonumber(at)\n"
    "if not now then\n"
    "  local t=redis.call('TIME')\n"
    "  now=tonumber(t[1])*1000+tonumber(t[2])/1000\n"
    "end\n"
    "local h=redis.call('HMGET',k,'rpm','tpm','burst','rtat','ttat','pause')\n"
    "local exists=h[1]~=false\n"
    "local rpm=tonumber(h[1]) or 0\n"
    "local tpm=tonumber(h[2]) or 0\n"
    "local burst=tonumber(h[3]) or 0\n"
    "local rtat=tonumber(h[4]) or now\n"
    "local ttat=tonumber(h[5]) or now\n"
    "local pause=tonumber(h[6]) or 0\n"
    "local function f(x) return string.format('%.17g',x) end\n"
    "local function iv(r) if r>0 then return 60000/r end return 0 end\n"
    "local function cap(r) return math.max(burst*1000,iv(r)) end\n"
    "local function wait(tat,r,cost)\n"
    "  local i=iv(r)\n"
    "  if i==0 or cost<=0 then return 0 end\n"
    "  if tat<now then tat=now end\n"
    "  local inc=cost*i\n"
    "  local at=tat\n"
    "  if inc<=cap(r) then at=tat+inc-cap(r) end\n"
    "  return math.max(at-now,0)\n"
    "end\n"
    "local function start(tat,r,cost,g)\n"
    "  if iv(r)==0 or cost<=0 then return g end\n"
    "  return math.max(tat,g)\n"
    "end\n"
    "local function take(s,tat,r,cost)\n"
    "  if iv(r)==0 or cost<=0 then return tat end\n"
    "  return s+cost*iv(r)\n"
    "end\n"
    "local function adjust(tat,r,cost)\n"
    "  if iv(r)==0 then return tat end\n"
    "  return math.max(tat+cost*iv(r),now)\n"
    "end\n"
    "local function rescale(tat,old,new)\n"
    "  if old<=0 or new<=0 or tat<now then return now end\n"
    "  return now+(tat-now)*old/new\n"
    "end\n"
    "local function rates(r,tp)\n"
    "  if r>=0 then rtat=rescale(rtat,rpm,r) rpm=r end\n"
    "  if tp>=0 then ttat=rescale(ttat,tpm,tp) tpm=tp end\n"
    "end\n"
    "local function save()\n"
    "  redis.call('HSET',k,'rpm',f(rpm),'tpm',f(tpm),'burst',f(burst),\n"
    "    'rtat',f(rtat),'ttat',f(ttat),'pause',f(pause))\n"
    "end\n"
    "local function reply(ok,w,p,a,b)\n"
    "  return {ok,math.ceil(w),f(rpm),f(tpm),p or 0,f(burst),f(a or 0),f(b or 0)}\n"
    "end\n"
    "if op=='init' then\n"
    "  local r,tp,b=tonumber(ARGV[2]),tonumber(ARGV[3]),tonumber(ARGV[4])\n"
    "  if not exists then rpm=0 tpm=0 rtat=now ttat=now end\n"
    "  if b>=0 then burst=b end\n"
    "  rates(r,tp)\n"
    "  save()\n"
    "  return reply(1,0)\n"
    "end\n"
    "if not exists then return redis.error_reply('NOLIMIT no budget at '..k) end\n"
    "if op=='lease' then\n"
    "  local nr,nt,mw,d=tonumber(ARGV[2]),tonumber(ARGV[3]),tonumber(ARGV[4]),tonumber(ARGV[5])\n"
    "  local sr,st=tonumber(ARGV[6]),tonumber(ARGV[7])\n"
    "  if d~=0 then ttat=adjust(ttat,tpm,d) end\n"
    "  local ok,w,p,a,b=0,0,0,0,0\n"
    "  if pause>now then\n"
    "    w=pause-now p=1\n"
    "  elseif nr>1 and sr and (sr~=rpm or st~=tpm) then\n"
    "    p=2\n"
    "  else\n"
    "    w=math.max(wait(rtat,rpm,math.min(nr,1)),wait(ttat,tpm,nr>0 and nt/nr or nt))\n"
    "    if w<=mw then\n"
    "      ok=1\n"
    "      a=start(rtat,rpm,nr,now+w)\n"
    "      b=start(ttat,tpm,nt,now+w)\n"
    "      rtat=take(a,rtat,rpm,nr)\n"
    "      ttat=take(b,ttat,tpm,nt)\n"
    "      a=a-now b=b-now\n"
    "    end\n"
    "  end\n"
    "  if ok==1 or d~=0 then\n"
    "    redis.call('HSET',k,'rtat',f(rtat),'ttat',f(ttat))\n"
    "  end\n"
    "  return reply(ok,w,p,a,b)\n"
    "elseif op=='recon' then\n"
    "  ttat=adjust(ttat,tpm,tonumber(ARGV[2]))\n"
    "  redis.call('HSET',k,'ttat',f(ttat))\n"
    "  return reply(1,0)\n"
    "elseif op=='rates' then\n"
    "  rates(tonumber(ARGV[2]),tonumber(ARGV[3]))\n"
    "  save()\n"
    "  return reply(1,0)\n"
    "elseif op=='pause' then\n"
    "  pause=math.max(pause,now+tonumber(ARGV[2]))\n"
    "  if iv(rpm)>0 then rtat=math.max(rtat,pause+cap(rpm)-iv(rpm)) end\n"
    "  if iv(tpm)>0 then ttat=math.max(ttat,pause+cap(tpm)-iv(tpm)) end\n"
    "  redis.call('HSET',k,'pause',f(pause),'rtat',f(rtat),'ttat',f(ttat))\n"
    "  return reply(1,0)\n"
    "end\n"
    "return redis.error_reply('ERR unknown sluice limiter op '..tostring(op))\n";

#define KEY_PREFIX "sluice:limit:{"

const char *redis_limiter_script(const char **sha) {
    if (sha)
        *sha = SCRIPT_SHA;
    return SCRIPT;
}

char *redis_limiter_key(const char *key) {
    if (!key || !*key)
        return NULL;
    size_t n = strlen(KEY_PREFIX) + strlen(key) + 2;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s%s}", KEY_PREFIX, key);
    return k;
}

void redis_limiter_args(struct redis_limiter_args *a, const char *key, const char *op, int n,
                        const double *v) {
    if (n > REDIS_LIMITER_MAX_OPERANDS)
        n = REDIS_LIMITER_MAX_OPERANDS;
    a->argv[0] = key;
    a->argv[1] = op;
    for (int i = 0; i < n; i++) {
        snprintf(a->num[i], sizeof(a->num[i]), "%.17g", v[i]);
        a->argv[2 + i] = a->num[i];
    }
    a->argc = 2 + n;
}

int redis_limiter_parse(const redisReply *r, struct redis_limiter_reply *out) {
    if (!r)
        return SLUICE_EIO;
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOLIMIT", 7) == 0)
        return REDIS_LIMITER_NOLIMIT;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 4 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER ||
        r->element[2]->type != REDIS_REPLY_STRING || r->element[3]->type != REDIS_REPLY_STRING)
        return SLUICE_EPARSE;
    out->ok = r->element[0]->integer ? 1 : 0;
    out->wait_ms = r->element[1]->integer;
    out->rpm = strtod(r->element[2]->str, NULL);
    out->tpm = strtod(r->element[3]->str, NULL);
    long long why =
        r->elements > 4 && r->element[4]->type == REDIS_REPLY_INTEGER ? r->element[4]->integer : 0;
    out->paused = why == 1;
    out->resize = why == 2;
    out->burst_s = r->elements > 5 && r->element[5]->type == REDIS_REPLY_STRING
                       ? strtod(r->element[5]->str, NULL)
                       : -1;
    out->req_at_ms = r->elements > 6 && r->element[6]->type == REDIS_REPLY_STRING
                         ? strtod(r->element[6]->str, NULL)
                         : (double)out->wait_ms;
    out->tok_at_ms = r->elements > 7 && r->element[7]->type == REDIS_REPLY_STRING
                         ? strtod(r->element[7]->str, NULL)
                         : (double)out->wait_ms;
    return out->ok;
}

/* ---- the synchronous limiter ---- */

struct redis_limiter {
    redisContext *c;               /* the caller's */
    char *key;                     /* sluice:limit:{KEY} */
    char sha[41];                  /* SCRIPT LOAD's answer */
    double rpm, tpm, burst_s;      /* as given to _new, to re-create a lost hash */
    double shared_rpm, shared_tpm; /* the rates in the last reply */
    double clock_ms;               /* tests: the time every call names; < 0: Redis's TIME */
};

/*
 * One script call: EVALSHA, then EVAL when Redis has no copy of the script (it restarted, or
 * SCRIPT FLUSH), which also caches it again. Returns the reply (the caller frees it), or NULL
 * when there is none.
 */
static redisReply *run_script(struct redis_limiter *l, const struct redis_limiter_args *a) {
    const char *argv[3 + REDIS_LIMITER_MAX_ARGC];
    argv[0] = "EVALSHA";
    argv[1] = l->sha;
    argv[2] = "1";
    for (int i = 0; i < a->argc; i++)
        argv[3 + i] = a->argv[i];
    redisReply *r = redisCommandArgv(l->c, 3 + a->argc, argv, NULL);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        argv[0] = "EVAL";
        argv[1] = SCRIPT;
        r = redisCommandArgv(l->c, 3 + a->argc, argv, NULL);
    }
    return r;
}

/* Runs an operation and parses its reply: 0/1, or a negative code (NOLIMIT included). */
static int call(struct redis_limiter *l, const char *op, int n, const double *v, int64_t *wait_ms) {
    struct redis_limiter_args a;
    char op_at[48];
    if (l->clock_ms >= 0) {
        snprintf(op_at, sizeof(op_at), "%s@%.17g", op, l->clock_ms);
        op = op_at;
    }
    redis_limiter_args(&a, l->key, op, n, v);
    redisReply *r = run_script(l, &a);
    if (!r)
        return SLUICE_EIO;
    struct redis_limiter_reply rep;
    int rc = redis_limiter_parse(r, &rep);
    freeReplyObject(r);
    if (rc >= 0) {
        l->shared_rpm = rep.rpm;
        l->shared_tpm = rep.tpm;
        if (wait_ms)
            *wait_ms = rep.wait_ms;
    }
    return rc;
}

static int init_hash(struct redis_limiter *l) {
    const double v[] = {l->rpm, l->tpm, l->burst_s};
    int rc = call(l, "init", 3, v, NULL);
    return rc < 0 ? (rc == REDIS_LIMITER_NOLIMIT ? SLUICE_EPARSE : rc) : 0;
}

struct redis_limiter *redis_limiter_new(redisContext *c, const char *key, double rpm, double tpm,
                                        double burst_s) {
    if (!c || !key || isnan(rpm) || isnan(tpm) || isnan(burst_s))
        return NULL;
    struct redis_limiter *l = calloc(1, sizeof(*l));
    redisReply *r = NULL;
    if (!l)
        return NULL;
    l->c = c;
    l->rpm = rpm;
    l->tpm = tpm;
    l->burst_s = burst_s;
    l->clock_ms = -1;
    l->key = redis_limiter_key(key);
    if (!l->key)
        goto fail;
    r = redisCommand(c, "SCRIPT LOAD %s", SCRIPT);
    if (!r || r->type != REDIS_REPLY_STRING || r->len != 40)
        goto fail;
    memcpy(l->sha, r->str, 40);
    freeReplyObject(r);
    r = NULL;
    if (init_hash(l) != 0)
        goto fail;
    return l;
fail:
    if (r)
        freeReplyObject(r);
    redis_limiter_free(l);
    return NULL;
}

int redis_limiter_reserve(struct redis_limiter *l, int n_requests, double tokens,
                          double tokens_delta, int64_t max_wait_ms, int64_t *wait_ms) {
    if (n_requests < 0 || !(tokens >= 0) || !isfinite(tokens) || !isfinite(tokens_delta) ||
        max_wait_ms < 0 || !wait_ms)
        return SLUICE_EINVAL;
    const double v[] = {n_requests, tokens, (double)max_wait_ms, tokens_delta};
    int rc = call(l, "lease", 4, v, wait_ms);
    if (rc == REDIS_LIMITER_NOLIMIT) {
        /* The hash is gone (a Redis that lost its data, or a deleted key): re-create it from
           what this worker was told, then lease once more. Never lease from a missing budget,
           which would read as unlimited. The script refused before charging the delta. */
        rc = init_hash(l);
        if (rc == 0)
            rc = call(l, "lease", 4, v, wait_ms);
    }
    return rc == REDIS_LIMITER_NOLIMIT ? SLUICE_EPARSE : rc;
}

int redis_limiter_lease(struct redis_limiter *l, int n_requests, double tokens, int64_t *wait_ms) {
    return redis_limiter_reserve(l, n_requests, tokens, 0, 0, wait_ms);
}

/* The other operations: 0 or a negative code. */
static int call_op(struct redis_limiter *l, const char *op, int n, const double *v) {
    int rc = call(l, op, n, v, NULL);
    if (rc == REDIS_LIMITER_NOLIMIT)
        return SLUICE_EPARSE;
    return rc < 0 ? rc : 0;
}

int redis_limiter_reconcile(struct redis_limiter *l, double tokens_delta) {
    if (!isfinite(tokens_delta))
        return SLUICE_EINVAL;
    return call_op(l, "recon", 1, &tokens_delta);
}

int redis_limiter_set_rates(struct redis_limiter *l, double rpm, double tpm) {
    if (!(rpm >= 0) || !(tpm >= 0) || !isfinite(rpm) || !isfinite(tpm))
        return SLUICE_EINVAL;
    const double v[] = {rpm, tpm};
    return call_op(l, "rates", 2, v);
}

int redis_limiter_pause(struct redis_limiter *l, int64_t ms) {
    if (ms < 0)
        return SLUICE_EINVAL;
    const double v[] = {(double)ms};
    return call_op(l, "pause", 1, v);
}

void redis_limiter_clock(struct redis_limiter *l, double now_ms) {
    l->clock_ms = now_ms >= 0 ? now_ms : -1;
}

void redis_limiter_rates(const struct redis_limiter *l, double *rpm, double *tpm) {
    *rpm = l->shared_rpm;
    *tpm = l->shared_tpm;
}

int redis_limiter_lease_size(double per_minute) {
    if (!(per_minute > 0))
        return REDIS_LIMITER_LEASE_MAX;
    double k = floor(per_minute / 60000.0 * REDIS_LIMITER_LEASE_MS);
    if (k > REDIS_LIMITER_LEASE_MAX)
        k = REDIS_LIMITER_LEASE_MAX;
    return k < 1 ? 1 : (int)k;
}

void redis_limiter_free(struct redis_limiter *l) {
    if (!l)
        return;
    free(l->key);
    free(l);
}
