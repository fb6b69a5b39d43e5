/*
 * The asynchronous Redis connection against a real redis-server over real sockets: URL parsing
 * (table-driven, the environment password, errors that never quote the password), a round
 * trip with SELECT and CLIENT SETNAME, EVALSHA falling back to EVAL after SCRIPT FLUSH, a killed
 * and restarted server, a stopped server (command deadline), a listener that never answers
 * (connect deadline), a peer that resets during the handshake or while the connection is idle
 * (the poll error hiredis's own libuv adapter swallows), passwords and ACL users, a unix socket,
 * and close with commands outstanding (each callback exactly once, from outside and from inside
 * a callback). Every wait runs the loop under a guard timer, so no test can hang. Reply records
 * live in the test state, not on a test's stack: a failed assertion leaves the test function
 * and teardown's rconn_close() still calls back into them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "redis_fixture.h"
#include "redis/conn.h"
#include "sluice.h"

#define WAIT_MS 5000

/* What one command's callback saw, and what it does from inside the callback. */
struct got {
    struct t *t;
    int calls, null, type;
    long long integer;
    char str[512];
    size_t len, elements;
    char el[2][64];
    int try_cmd, cmd_rc; /* calls rconn_cmd() and records what it returned */
    int close;           /* calls rconn_close() */
};

struct t {
    uv_loop_t loop;
    uv_timer_t guard;
    int fired;
    struct redis_fixture f; /* f.pid is 0 without a server */
    pid_t stopped;          /* a SIGSTOPped redis-server, woken in teardown */
    int lfd;                /* a listening socket that never accepts, or -1 */
    uv_tcp_t tcp;           /* a fake server: answers +PONG, or resets at once */
    int reset_at_once;
    uv_tcp_t *peer; /* its latest connection */
    struct rconn *rc;
    int ups, downs, replies, nulls;
    int never; /* a counter nothing increments: run_until(&never) runs the loop for a while */
    struct got gots[8];
    int ngots;
};

/* A zeroed reply record. */
static struct got *got_new(struct t *t) {
    assert_true(t->ngots < (int)(sizeof(t->gots) / sizeof(t->gots[0])));
    struct got *g = &t->gots[t->ngots++];
    memset(g, 0, sizeof(*g));
    g->t = t;
    return g;
}

/* ---- the loop ---- */

static void guard_fired(uv_timer_t *h) {
    struct t *t = h->data;
    t->fired = 1;
    uv_stop(&t->loop);
}

/* Runs the loop until *v >= want or ms pass; returns whether *v got there. */
static int run_until(struct t *t, const int *v, int want, uint64_t ms) {
    t->fired = 0;
    uv_timer_start(&t->guard, guard_fired, ms, 0);
    while (*v < want && !t->fired)
        uv_run(&t->loop, UV_RUN_ONCE);
    uv_timer_stop(&t->guard);
    return *v >= want;
}

/* Runs the loop until nothing is left on it (the guard does not count); 0 if it timed out. */
static int drain(struct t *t) {
    t->fired = 0;
    uv_unref((uv_handle_t *)&t->guard);
    uv_timer_start(&t->guard, guard_fired, WAIT_MS, 0);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&t->guard);
    uv_ref((uv_handle_t *)&t->guard);
    return !t->fired;
}

static int64_t now_ms(struct t *t) {
    uv_update_time(&t->loop);
    return (int64_t)uv_now(&t->loop);
}

/* ---- servers ---- */

/* Starts redis-server on f->port and f->dir (again, for a restart). With `pass`, the default
   user needs it and user "alice" has password "alicepw". Returns 0 once it answers. */
static int srv_spawn(struct redis_fixture *f, const char *pass) {
    char port[16], sock[128];
    snprintf(port, sizeof(port), "%d", f->port);
    snprintf(sock, sizeof(sock), "%s/redis.sock", f->dir);
    const char *argv[40] = {
        "timeout",    "300",          "redis-server", "--bind",      "127.0.0.1",
        "--port",     port,           "--dir",        f->dir,        "--save",
        "",           "--appendonly", "no",           "--daemonize", "no",
        "--loglevel", "warning",      "--unixsocket", sock,          "--unixsocketperm",
        "700"};
    int n = 21;
    if (pass) {
        const char *more[] = {"--requirepass", pass, "--user", "alice", "on",
                              ">alicepw",      "~*", "&*",     "+@all"};
        for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
            argv[n++] = more[i];
    }
    argv[n] = NULL;
    f->pid = fork();
    if (f->pid == 0) {
        execvp("timeout", (char *const *)argv);
        _exit(127);
    }
    return redis_fixture_wait_up(f);
}

/* The fixture's server, or with `pass` one that needs it (see srv_spawn()). */
static int srv_start(struct t *t, const char *pass) {
    struct redis_fixture *f = &t->f;
    if (!pass)
        return redis_fixture_start(f);
    if (redis_fixture_prepare(f) != 0)
        return -1;
    return srv_spawn(f, pass);
}

/* Stops the server and keeps its port and directory for srv_spawn(). */
static void srv_kill(struct redis_fixture *f) {
    kill(f->pid, SIGTERM);
    waitpid(f->pid, NULL, 0);
    f->pid = 0;
}

static redisContext *sync_conn(struct t *t, const char *pass) {
    redisContext *c = redisConnect("127.0.0.1", t->f.port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    if (pass) {
        redisReply *r = redisCommand(c, "AUTH %s", pass);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STATUS);
        freeReplyObject(r);
    }
    return c;
}

/* The number after `key` (e.g. "blocked_clients:") in INFO `section`, or -1. */
static long long info_ll(redisContext *c, const char *section, const char *key) {
    redisReply *r = redisCommand(c, "INFO %s", section);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    const char *p = strstr(r->str, key);
    long long v = p ? atoll(p + strlen(key)) : -1;
    freeReplyObject(r);
    return v;
}

/* Runs the loop in short steps until the server has a blocked client. */
static void wait_blocked(struct t *t, const char *pass) {
    redisContext *c = sync_conn(t, pass);
    int i = 0;
    for (; i < 500 && info_ll(c, "clients", "blocked_clients:") < 1; i++)
        run_until(t, &t->never, 1, 10);
    redisFree(c);
    assert_true(i < 500);
}

/* ---- the connection ---- */

static void on_state(struct rconn *rc, int up, void *ud) {
    struct t *t = ud;
    (void)rc;
    if (up)
        t->ups++;
    else
        t->downs++;
}

static void on_reply(struct rconn *rc, redisReply *r, void *ud) {
    struct got *g = ud;
    g->calls++;
    g->t->replies++;
    if (!r) {
        g->null = 1;
        g->t->nulls++;
    } else {
        g->type = r->type;
        g->integer = r->integer;
        if (r->str) {
            g->len = r->len < sizeof(g->str) - 1 ? r->len : sizeof(g->str) - 1;
            memcpy(g->str, r->str, g->len);
        }
        g->elements = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        for (size_t i = 0; i < g->elements && i < 2; i++)
            if (r->element[i]->str)
                snprintf(g->el[i], sizeof(g->el[i]), "%s", r->element[i]->str);
    }
    if (g->try_cmd) {
        const char *argv[] = {"PING"};
        g->cmd_rc = rconn_cmd(rc, on_reply, g, 0, 1, argv, NULL);
    }
    if (g->close) {
        g->t->rc = NULL;
        rconn_close(rc);
    }
}

/* rconn_cmd() of the string arguments. */
static int send_cmd(struct t *t, struct got *g, int64_t extra_ms, int argc, ...) {
    const char *argv[8];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        argv[i] = va_arg(ap, const char *);
    va_end(ap);
    g->t = t;
    return rconn_cmd(t->rc, on_reply, g, extra_ms, argc, argv, NULL);
}

static void fast_opts(struct rconn_opts *o) {
    rconn_opts_init(o);
    o->timeout_s = 2;
    o->connect_timeout_s = 1;
    o->backoff_base_s = 0.01;
    o->backoff_cap_s = 0.05;
}

/* Opens t->rc on the URL (the parsed URL is freed at once: rconn_new() copies it). */
static void open_rc(struct t *t, const char *url, const struct rconn_opts *o, const char *name) {
    struct redis_url u;
    char err[128];
    assert_int_equal(redis_url_parse(url, &u, err, sizeof(err)), 0);
    t->ups = t->downs = t->replies = t->nulls = 0;
    assert_int_equal(rconn_new(&t->rc, &t->loop, &u, o, name, on_state, t), 0);
    redis_url_free(&u);
}

/* Closes t->rc and checks that everything it had on the loop went away. */
static void close_rc(struct t *t) {
    rconn_close(t->rc);
    t->rc = NULL;
    assert_true(drain(t));
}

static int setup(void **state) {
    struct t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    assert_int_equal(uv_loop_init(&t->loop), 0);
    uv_timer_init(&t->loop, &t->guard);
    t->guard.data = t;
    t->lfd = -1;
    *state = t;
    return 0;
}

static void close_stray(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int teardown(void **state) {
    struct t *t = *state;
    rconn_close(t->rc); /* after a failure: its handles close, the rest are the test's */
    uv_walk(&t->loop, close_stray, NULL);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    int loop_rc = uv_loop_close(&t->loop);
    if (t->stopped > 0)
        kill(t->stopped, SIGCONT);
    if (t->lfd >= 0)
        close(t->lfd);
    redis_fixture_stop(&t->f);
    free(t);
    return loop_rc == 0 ? 0 : -1;
}

/* ---- URLs ---- */

struct url_case {
    const char *url;
    const char *err; /* a word of the expected error, or NULL for success */
    const char *host;
    int port;
    const char *path, *user, *password;
    int db;
};

static const struct url_case url_cases[] = {
    {"redis://127.0.0.1", NULL, "127.0.0.1", 6379, NULL, NULL, NULL, 0},
    {"redis://h:6380/3", NULL, "h", 6380, NULL, NULL, NULL, 3},
    {"REDIS://h/", NULL, "h", 6379, NULL, NULL, NULL, 0},
    {"redis://:secret@h:1/2", NULL, "h", 1, NULL, NULL, "secret", 2},
    {"redis://alice:s%40cr%2ft@h", NULL, "h", 6379, NULL, "alice", "s@cr/t", 0},
    {"redis://al%69ce:p@ss/w@h/1", NULL, "h", 6379, NULL, "alice", "p@ss/w", 1},
    {"redis://alice:@h", NULL, "h", 6379, NULL, "alice", NULL, 0},
    {"redis://[::1]:7000/4", NULL, "::1", 7000, NULL, NULL, NULL, 4},
    {"unix:///tmp/r.sock", NULL, NULL, 6379, "/tmp/r.sock", NULL, NULL, 0},
    {"unix:///tmp/r.sock?db=5", NULL, NULL, 6379, "/tmp/r.sock", NULL, NULL, 5},
    {"unix://:pw@/tmp/r@x.sock", NULL, NULL, 6379, "/tmp/r@x.sock", NULL, "pw", 0},
    {"http://h", "scheme", NULL, 0, NULL, NULL, NULL, 0},
    {"h:6379", "scheme", NULL, 0, NULL, NULL, NULL, 0},
    {"rediss://h", "TLS", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://h:0", "port", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://h:65536", "port", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://h:x1", "port", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://h:", "port", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://user:secret", "port", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://h/x", "db", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://h/-1", "db", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://h/1x", "db", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://h/9999999999", "db", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://", "host", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://:secret@", "host", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://secret@h", "':'", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://a:%zzsecret@h", "escape", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://a:secret%00@h", "escape", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://a:secret%4@h", "escape", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://[::1", "]", NULL, 0, NULL, NULL, NULL, 0},
    {"redis://h?db=1", "unexpected", NULL, 0, NULL, NULL, NULL, 0},
    {"unix://", "path", NULL, 0, NULL, NULL, NULL, 0},
    {"unix:///p?x=1", "parameter", NULL, 0, NULL, NULL, NULL, 0},
    {"unix:///p?db=q", "db", NULL, 0, NULL, NULL, NULL, 0},
};

static void assert_str_or_null(const char *want, const char *got) {
    if (want)
        assert_string_equal(got ? got : "(null)", want);
    else
        assert_null(got);
}

static void test_url_parse(void **state) {
    (void)state;
    unsetenv("SLUICE_REDIS_PASSWORD");
    for (size_t i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
        const struct url_case *c = &url_cases[i];
        struct redis_url u;
        char err[160];
        int rc = redis_url_parse(c->url, &u, err, sizeof(err));
        print_message("%s -> %d %s\n", c->url, rc, err);
        if (c->err) {
            assert_int_equal(rc, SLUICE_EINVAL);
            assert_non_null(strstr(err, c->err));
            assert_null(strstr(err, "secret"));
            assert_null(u.host);
            assert_null(u.password);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_string_equal(err, "");
        assert_str_or_null(c->host, u.host);
        assert_int_equal(u.port, c->port);
        assert_str_or_null(c->path, u.path);
        assert_str_or_null(c->user, u.user);
        assert_str_or_null(c->password, u.password);
        assert_int_equal(u.db, c->db);
        redis_url_free(&u);
    }
}

static void test_url_env_password(void **state) {
    (void)state;
    struct redis_url u;
    char err[160];
    setenv("SLUICE_REDIS_PASSWORD", "envpw", 1);
    assert_int_equal(redis_url_parse("redis://h", &u, err, sizeof(err)), 0);
    assert_string_equal(u.password, "envpw");
    redis_url_free(&u);
    assert_int_equal(redis_url_parse("redis://:urlpw@h", &u, err, sizeof(err)), 0);
    assert_string_equal(u.password, "urlpw");
    redis_url_free(&u);
    assert_int_equal(redis_url_parse("unix:///s", &u, err, sizeof(err)), 0);
    assert_string_equal(u.password, "envpw");
    redis_url_free(&u);
    setenv("SLUICE_REDIS_PASSWORD", "", 1);
    assert_int_equal(redis_url_parse("redis://h", &u, err, sizeof(err)), 0);
    assert_null(u.password);
    redis_url_free(&u);
    unsetenv("SLUICE_REDIS_PASSWORD");
}

static void test_url_describe(void **state) {
    (void)state;
    static const struct {
        const char *url, *want;
    } cases[] = {
        {"redis://:secret@h:6380/2", "redis://:***@h:6380/2"},
        {"redis://alice:secret@h", "redis://alice:***@h:6379/0"},
        {"redis://[::1]:7000/1", "redis://[::1]:7000/1"},
        {"unix://:secret@/tmp/r.sock?db=3", "unix://:***@/tmp/r.sock?db=3"},
        {"unix:///tmp/r.sock", "unix:///tmp/r.sock"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct redis_url u;
        char err[160], buf[128];
        assert_int_equal(redis_url_parse(cases[i].url, &u, err, sizeof(err)), 0);
        redis_url_describe(&u, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].want);
        redis_url_free(&u);
    }
}

/* ---- against a server ---- */

static void test_round_trip(void **state) {
    struct t *t = *state;
    if (srv_start(t, NULL) != 0)
        skip();
    char url[128];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/3", t->f.port);
    struct rconn_opts o;
    fast_opts(&o);
    open_rc(t, url, &o, "sluice-test");

    struct got *early = got_new(t);
    assert_int_equal(send_cmd(t, early, 0, 1, "PING"), SLUICE_EIO); /* not up yet */
    assert_int_equal(rconn_up(t->rc), 0);
    assert_true(rconn_down_since(t->rc) >= 0);
    assert_true(run_until(t, &t->ups, 1, WAIT_MS));
    assert_int_equal(rconn_up(t->rc), 1);
    assert_int_equal(rconn_down_since(t->rc), -1);
    assert_string_equal(rconn_error(t->rc), "");

    /* Binary-safe arguments: the value holds a NUL. */
    const char *set_argv[] = {"SET", "rt:k", "a\0b"};
    const size_t set_len[] = {3, 4, 3};
    struct got *set = got_new(t);
    struct got *get = got_new(t);
    struct got *info = got_new(t);
    assert_int_equal(rconn_cmd(t->rc, on_reply, set, 0, 3, set_argv, set_len), 0);
    assert_int_equal(send_cmd(t, get, 0, 2, "GET", "rt:k"), 0);
    assert_int_equal(send_cmd(t, info, 0, 2, "CLIENT", "INFO"), 0);
    assert_int_equal(rconn_outstanding(t->rc), 3);
    assert_true(run_until(t, &t->replies, 3, WAIT_MS));
    assert_int_equal(rconn_outstanding(t->rc), 0);
    assert_int_equal(set->type, REDIS_REPLY_STATUS);
    assert_string_equal(set->str, "OK");
    assert_int_equal(get->type, REDIS_REPLY_STRING);
    assert_int_equal(get->len, 3);
    assert_memory_equal(get->str, "a\0b", 3);
    assert_non_null(strstr(info->str, "name=sluice-test"));
    assert_non_null(strstr(info->str, " db=3 "));
    assert_int_equal(early->calls, 0);

    /* It went to db 3. */
    redisContext *c = sync_conn(t, NULL);
    redisReply *r = redisCommand(c, "SELECT 3");
    freeReplyObject(r);
    r = redisCommand(c, "GET rt:k");
    assert_non_null(r);
    assert_int_equal(r->len, 3);
    freeReplyObject(r);
    redisFree(c);

    close_rc(t);
    assert_int_equal(t->ups, 1);
    assert_int_equal(t->downs, 0);
}

static void test_eval_noscript(void **state) {
    struct t *t = *state;
    if (srv_start(t, NULL) != 0)
        skip();
    const char *body = "return {KEYS[1], ARGV[1]}";
    redisContext *c = sync_conn(t, NULL);
    redisReply *r = redisCommand(c, "SCRIPT LOAD %s", body);
    assert_non_null(r);
    char sha[64];
    snprintf(sha, sizeof(sha), "%s", r->str);
    freeReplyObject(r);
    freeReplyObject(redisCommand(c, "SCRIPT FLUSH"));
    freeReplyObject(redisCommand(c, "CONFIG RESETSTAT"));

    char url[128];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", t->f.port);
    struct rconn_opts o;
    fast_opts(&o);
    open_rc(t, url, &o, NULL);
    assert_true(run_until(t, &t->ups, 1, WAIT_MS));

    /* The arguments go out of scope before the reply: rconn_eval() keeps its own copy. */
    struct got *first = got_new(t);
    struct got *second = got_new(t);
    {
        char key[16] = "ev:key", arg[16] = "ev:arg";
        const char *argv[] = {key, arg};
        assert_int_equal(rconn_eval(t->rc, on_reply, first, sha, body, 1, 2, argv, NULL), 0);
        memset(key, 'x', sizeof(key) - 1);
        memset(arg, 'x', sizeof(arg) - 1);
    }
    assert_true(run_until(t, &t->replies, 1, WAIT_MS));
    assert_int_equal(first->calls, 1);
    assert_int_equal(first->type, REDIS_REPLY_ARRAY);
    assert_int_equal(first->elements, 2);
    assert_string_equal(first->el[0], "ev:key");
    assert_string_equal(first->el[1], "ev:arg");
    assert_int_equal(info_ll(c, "commandstats", "cmdstat_eval:calls="), 1);

    /* EVAL loaded the script: the next call needs no fallback. */
    const char *argv2[] = {"k2", "a2"};
    assert_int_equal(rconn_eval(t->rc, on_reply, second, sha, body, 1, 2, argv2, NULL), 0);
    assert_true(run_until(t, &t->replies, 2, WAIT_MS));
    assert_string_equal(second->el[0], "k2");
    assert_string_equal(second->el[1], "a2");
    assert_int_equal(info_ll(c, "commandstats", "cmdstat_eval:calls="), 1);
    assert_true(info_ll(c, "commandstats", "cmdstat_evalsha:calls=") >= 1);

    /* RESP put together by rconn: an empty key, an argument that looks like RESP itself, and
       twelve arguments (a two-digit count), all arrive as given. */
    struct got *third = got_new(t);
    const char *argv3[] = {"",  "x\r\n$3\r\nabc\r\n", "3", "4", "5", "6", "7", "8", "9", "10", "11",
                           "12"};
    assert_int_equal(rconn_eval(t->rc, on_reply, third, sha, body, 1, 12, argv3, NULL), 0);
    assert_true(run_until(t, &t->replies, 3, WAIT_MS));
    assert_int_equal(third->elements, 2);
    assert_string_equal(third->el[0], "");
    assert_string_equal(third->el[1], "x\r\n$3\r\nabc\r\n");
    redisFree(c);
    close_rc(t);
}

static void test_server_killed_and_restarted(void **state) {
    struct t *t = *state;
    if (srv_start(t, NULL) != 0)
        skip();
    char url[128];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", t->f.port);
    struct rconn_opts o;
    fast_opts(&o);
    open_rc(t, url, &o, NULL);
    assert_true(run_until(t, &t->ups, 1, WAIT_MS));

    /* One command blocked in the server, one queued behind it. */
    struct got *blpop = got_new(t);
    struct got *get = got_new(t);
    assert_int_equal(send_cmd(t, blpop, 10000, 3, "BLPOP", "kill:list", "10"), 0);
    assert_int_equal(send_cmd(t, get, 0, 2, "GET", "kill:k"), 0);
    wait_blocked(t, NULL);
    srv_kill(&t->f);

    assert_true(run_until(t, &t->downs, 1, WAIT_MS));
    assert_int_equal(blpop->calls, 1);
    assert_int_equal(blpop->null, 1);
    assert_int_equal(get->calls, 1);
    assert_int_equal(get->null, 1);
    assert_int_equal(rconn_outstanding(t->rc), 0);
    assert_int_equal(rconn_up(t->rc), 0);
    assert_true(rconn_down_since(t->rc) >= 0);
    assert_true(rconn_error(t->rc)[0] != '\0');
    struct got *refused = got_new(t);
    assert_int_equal(send_cmd(t, refused, 0, 1, "PING"), SLUICE_EIO);

    /* Reconnect attempts fail for a while: still one "down". */
    run_until(t, &t->never, 1, 300);
    assert_int_equal(t->downs, 1);
    assert_int_equal(t->ups, 1);

    assert_int_equal(srv_spawn(&t->f, NULL), 0);
    assert_true(run_until(t, &t->ups, 2, WAIT_MS));
    struct got *set = got_new(t);
    struct got *get2 = got_new(t);
    assert_int_equal(send_cmd(t, set, 0, 3, "SET", "kill:k", "back"), 0);
    assert_int_equal(send_cmd(t, get2, 0, 2, "GET", "kill:k"), 0);
    assert_true(run_until(t, &t->replies, 4, WAIT_MS));
    assert_string_equal(get2->str, "back");
    assert_int_equal(refused->calls, 0);
    close_rc(t);
    assert_int_equal(t->downs, 1);
}

static void test_command_deadline(void **state) {
    struct t *t = *state;
    if (srv_start(t, NULL) != 0)
        skip();
    char url[128];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", t->f.port);
    struct rconn_opts o;
    fast_opts(&o);
    o.timeout_s = 0.2;
    open_rc(t, url, &o, NULL);
    assert_true(run_until(t, &t->ups, 1, WAIT_MS));

    redisContext *c = sync_conn(t, NULL);
    pid_t pid = (pid_t)info_ll(c, "server", "process_id:");
    redisFree(c);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGSTOP), 0);
    t->stopped = pid;

    struct got *get = got_new(t);
    int64_t t0 = now_ms(t);
    assert_int_equal(send_cmd(t, get, 0, 2, "GET", "deadline:k"), 0);
    assert_true(run_until(t, &t->replies, 1, WAIT_MS));
    int64_t elapsed = now_ms(t) - t0;
    assert_int_equal(get->null, 1);
    assert_true(elapsed >= 190 && elapsed < 2000);
    assert_int_equal(rconn_up(t->rc), 0);
    assert_true(run_until(t, &t->downs, 1, WAIT_MS));
    assert_non_null(strstr(rconn_error(t->rc), "deadline"));
    assert_int_equal(send_cmd(t, get, 0, 1, "PING"), SLUICE_EIO);

    kill(pid, SIGCONT);
    t->stopped = 0;
    assert_true(run_until(t, &t->ups, 2, WAIT_MS));
    close_rc(t);
    assert_int_equal(get->calls, 1);
}

static void test_connect_deadline(void **state) {
    struct t *t = *state;
    /* A listener that never accepts: the TCP connect succeeds, the handshake never answers. */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    t->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(t->lfd >= 0);
    assert_int_equal(bind(t->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(t->lfd, 16), 0);
    assert_int_equal(getsockname(t->lfd, (struct sockaddr *)&a, &alen), 0);
    char url[128];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", ntohs(a.sin_port));
    struct rconn_opts o;
    fast_opts(&o);
    o.connect_timeout_s = 0.2;

    int64_t t0 = now_ms(t);
    open_rc(t, url, &o, NULL);
    assert_int_equal(rconn_down_since(t->rc), t0);
    assert_true(run_until(t, &t->downs, 1, WAIT_MS));
    int64_t elapsed = now_ms(t) - t0;
    assert_true(elapsed >= 190 && elapsed < 2000);
    assert_int_equal(t->ups, 0);
    assert_non_null(strstr(rconn_error(t->rc), "connect deadline"));
    assert_int_equal(rconn_down_since(t->rc), t0); /* never came up */

    run_until(t, &t->never, 1, 300); /* more attempts, no more reports */
    assert_int_equal(t->downs, 1);
    close_rc(t);
}

static void test_connect_refused_reported_once(void **state) {
    struct t *t = *state;
    char url[128];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", redis_fixture_free_port());
    struct rconn_opts o;
    fast_opts(&o);
    open_rc(t, url, &o, NULL);
    assert_true(run_until(t, &t->downs, 1, WAIT_MS));
    assert_true(rconn_error(t->rc)[0] != '\0');
    run_until(t, &t->never, 1, 200);
    assert_int_equal(t->downs, 1);
    assert_int_equal(t->ups, 0);
    close_rc(t);
    assert_int_equal(t->downs, 1);
}

/* ---- a fake server on the test's loop ---- */

static void fake_on_closed(uv_handle_t *h) {
    free(h);
}

static void fake_on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
    static char mem[4096];
    (void)h;
    (void)size;
    *buf = uv_buf_init(mem, sizeof(mem));
}

/* Every read is taken for one command, answered +PONG (enough for a PING-only handshake). */
static void fake_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    (void)buf;
    struct t *t = s->data;
    if (nread < 0) {
        if (t->peer == (uv_tcp_t *)s)
            t->peer = NULL;
        uv_close((uv_handle_t *)s, fake_on_closed);
        return;
    }
    if (nread > 0) {
        uv_buf_t pong = uv_buf_init("+PONG\r\n", 7);
        uv_try_write(s, &pong, 1);
    }
}

static void fake_on_conn(uv_stream_t *server, int status) {
    struct t *t = server->data;
    if (status < 0)
        return;
    uv_tcp_t *c = malloc(sizeof(*c));
    assert_non_null(c);
    uv_tcp_init(server->loop, c);
    c->data = t;
    if (uv_accept(server, (uv_stream_t *)c) != 0) {
        uv_close((uv_handle_t *)c, fake_on_closed);
    } else if (t->reset_at_once) {
        uv_tcp_close_reset(c, fake_on_closed);
    } else {
        if (t->peer)
            uv_tcp_close_reset(t->peer, fake_on_closed);
        t->peer = c;
        uv_read_start((uv_stream_t *)c, fake_on_alloc, fake_on_read);
    }
}

/* Starts the fake server; writes its redis:// URL. */
static void fake_start(struct t *t, int reset_at_once, char *url, size_t size) {
    struct sockaddr_in a;
    int alen = sizeof(a);
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(&t->loop, &t->tcp);
    t->tcp.data = t;
    t->reset_at_once = reset_at_once;
    assert_int_equal(uv_tcp_bind(&t->tcp, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&t->tcp, 16, fake_on_conn), 0);
    assert_int_equal(uv_tcp_getsockname(&t->tcp, (struct sockaddr *)&a, &alen), 0);
    snprintf(url, size, "redis://127.0.0.1:%d", ntohs(a.sin_port));
}

static void fake_stop(struct t *t) {
    if (t->peer)
        uv_close((uv_handle_t *)t->peer, fake_on_closed);
    t->peer = NULL;
    uv_close((uv_handle_t *)&t->tcp, NULL);
}

static void test_reset_during_handshake(void **state) {
    struct t *t = *state;
    char url[128];
    fake_start(t, 1, url, sizeof(url));
    struct rconn_opts o;
    fast_opts(&o);
    o.connect_timeout_s = 30; /* only the reset can explain a quick "down" */
    int64_t t0 = now_ms(t);
    open_rc(t, url, &o, NULL);
    assert_true(run_until(t, &t->downs, 1, WAIT_MS));
    assert_true(now_ms(t) - t0 < 2000);
    assert_int_equal(t->ups, 0);
    assert_true(rconn_error(t->rc)[0] != '\0');
    fake_stop(t);
    close_rc(t);
}

/* An idle connection (nothing outstanding, so no deadline to miss) whose peer resets: libuv
   reports POLLERR as a poll error and stops the handle. Swallowing it, as hiredis 0.14's
   adapter does, would leave the connection "up" forever. */
static void test_reset_while_idle(void **state) {
    struct t *t = *state;
    char url[128];
    fake_start(t, 0, url, sizeof(url));
    struct rconn_opts o;
    fast_opts(&o);
    o.timeout_s = 30;
    o.connect_timeout_s = 30;
    open_rc(t, url, &o, NULL);
    assert_true(run_until(t, &t->ups, 1, WAIT_MS));
    assert_int_equal(rconn_outstanding(t->rc), 0);
    assert_non_null(t->peer);
    int64_t t0 = now_ms(t);
    uv_tcp_close_reset(t->peer, fake_on_closed);
    t->peer = NULL;
    assert_true(run_until(t, &t->downs, 1, WAIT_MS));
    assert_true(now_ms(t) - t0 < 2000);
    assert_int_equal(rconn_up(t->rc), 0);
    assert_true(rconn_error(t->rc)[0] != '\0');
    assert_true(run_until(t, &t->ups, 2, WAIT_MS)); /* and back */
    fake_stop(t);
    close_rc(t);
}

static void test_password_acl_unix(void **state) {
    struct t *t = *state;
    if (srv_start(t, "s3cret") != 0)
        skip();
    unsetenv("SLUICE_REDIS_PASSWORD");
    struct rconn_opts o;
    fast_opts(&o);
    char url[256];

    /* Password and db, through a name lookup. */
    snprintf(url, sizeof(url), "redis://:s3cret@localhost:%d/1", t->f.port);
    open_rc(t, url, &o, NULL);
    assert_true(run_until(t, &t->ups, 1, WAIT_MS));
    struct got *set = got_new(t);
    assert_int_equal(send_cmd(t, set, 0, 3, "SET", "pw:k", "v"), 0);
    assert_true(run_until(t, &t->replies, 1, WAIT_MS));
    assert_string_equal(set->str, "OK");
    close_rc(t);
    redisContext *c = sync_conn(t, "s3cret");
    freeReplyObject(redisCommand(c, "SELECT 1"));
    redisReply *r = redisCommand(c, "GET pw:k");
    assert_non_null(r);
    assert_string_equal(r->str, "v");
    freeReplyObject(r);
    redisFree(c);

    /* An ACL user: AUTH user pass. */
    snprintf(url, sizeof(url), "redis://alice:alicepw@127.0.0.1:%d", t->f.port);
    open_rc(t, url, &o, NULL);
    assert_true(run_until(t, &t->ups, 1, WAIT_MS));
    struct got *who = got_new(t);
    assert_int_equal(send_cmd(t, who, 0, 2, "ACL", "WHOAMI"), 0);
    assert_true(run_until(t, &t->replies, 1, WAIT_MS));
    assert_string_equal(who->str, "alice");
    close_rc(t);

    /* The password from the environment. */
    setenv("SLUICE_REDIS_PASSWORD", "s3cret", 1);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", t->f.port);
    open_rc(t, url, &o, NULL);
    unsetenv("SLUICE_REDIS_PASSWORD");
    assert_true(run_until(t, &t->ups, 1, WAIT_MS));
    close_rc(t);

    /* A unix socket with a db. */
    snprintf(url, sizeof(url), "unix://:s3cret@%s/redis.sock?db=2", t->f.dir);
    open_rc(t, url, &o, NULL);
    assert_true(run_until(t, &t->ups, 1, WAIT_MS));
    struct got *info = got_new(t);
    assert_int_equal(send_cmd(t, info, 0, 2, "CLIENT", "INFO"), 0);
    assert_true(run_until(t, &t->replies, 1, WAIT_MS));
    assert_non_null(strstr(info->str, " db=2 "));
    close_rc(t);

    /* A wrong password: down once, the reason without the password, retried quietly. */
    snprintf(url, sizeof(url), "redis://:wrongpw@127.0.0.1:%d", t->f.port);
    open_rc(t, url, &o, NULL);
    assert_true(run_until(t, &t->downs, 1, WAIT_MS));
    assert_non_null(strstr(rconn_error(t->rc), "WRONGPASS"));
    assert_null(strstr(rconn_error(t->rc), "wrongpw"));
    run_until(t, &t->never, 1, 200);
    assert_int_equal(t->downs, 1);
    assert_int_equal(t->ups, 0);
    close_rc(t);

    /* No password at all: PING answers NOAUTH, so it is not "up". */
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", t->f.port);
    open_rc(t, url, &o, NULL);
    assert_true(run_until(t, &t->downs, 1, WAIT_MS));
    assert_non_null(strstr(rconn_error(t->rc), "NOAUTH"));
    assert_int_equal(t->ups, 0);
    close_rc(t);
}

static void test_close_with_outstanding(void **state) {
    struct t *t = *state;
    if (srv_start(t, NULL) != 0)
        skip();
    char url[128];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", t->f.port);
    struct rconn_opts o;
    fast_opts(&o);
    open_rc(t, url, &o, NULL);
    assert_true(run_until(t, &t->ups, 1, WAIT_MS));

    struct got *blpop = got_new(t);
    blpop->try_cmd = 1;
    struct got *get[3] = {got_new(t), got_new(t), got_new(t)};
    assert_int_equal(send_cmd(t, blpop, 10000, 3, "BLPOP", "close:list", "10"), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(send_cmd(t, get[i], 0, 2, "GET", "close:k"), 0);
    wait_blocked(t, NULL);
    close_rc(t); /* the replies may come during rconn_close() or on the loop */
    assert_int_equal(blpop->calls, 1);
    assert_int_equal(blpop->null, 1);
    assert_int_equal(blpop->cmd_rc, SLUICE_EIO);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(get[i]->calls, 1);
        assert_int_equal(get[i]->null, 1);
    }
    assert_int_equal(t->ups, 1);
    assert_int_equal(t->downs, 0); /* no state callback after close */

    /* Closed before it ever came up, and while looking up a name. */
    open_rc(t, url, &o, NULL);
    close_rc(t);
    snprintf(url, sizeof(url), "redis://localhost:%d", t->f.port);
    open_rc(t, url, &o, NULL);
    uv_run(&t->loop, UV_RUN_NOWAIT); /* the first attempt starts */
    close_rc(t);
    assert_int_equal(t->ups + t->downs, 0);
}

static void test_close_from_callback(void **state) {
    struct t *t = *state;
    if (srv_start(t, NULL) != 0)
        skip();
    char url[128];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", t->f.port);
    struct rconn_opts o;
    fast_opts(&o);
    open_rc(t, url, &o, NULL);
    assert_true(run_until(t, &t->ups, 1, WAIT_MS));

    struct got *a = got_new(t);
    a->close = 1;
    struct got *b = got_new(t);
    b->try_cmd = 1;
    struct got *c = got_new(t);
    assert_int_equal(send_cmd(t, a, 0, 1, "PING"), 0);
    assert_int_equal(send_cmd(t, b, 0, 1, "PING"), 0);
    assert_int_equal(send_cmd(t, c, 0, 1, "PING"), 0);
    assert_true(run_until(t, &t->replies, 3, WAIT_MS));
    assert_null(t->rc);
    assert_true(drain(t));
    assert_int_equal(a->calls, 1);
    assert_int_equal(a->null, 0);
    assert_string_equal(a->str, "PONG");
    assert_int_equal(b->calls, 1);
    assert_int_equal(b->null, 1);
    assert_int_equal(b->cmd_rc, SLUICE_EIO);
    assert_int_equal(c->calls, 1);
    assert_int_equal(c->null, 1);
    assert_int_equal(t->downs, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_url_env_password),
        cmocka_unit_test(test_url_describe),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_noscript, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_killed_and_restarted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused_reported_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_during_handshake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_while_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_acl_unix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_outstanding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
