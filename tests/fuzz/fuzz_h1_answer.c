/*
 * The HTTP/1.1 answer parser of the fast path (src/http/h1_answer.c over http_parser). The
 * input is what a server sends on a connection, up to its close. The target links the whole
 * library but plays the connection's life (h1_conn.c: report, close, reuse) itself, through
 * the linker's --wrap (tests/fuzz/CMakeLists.txt), so no socket or loop is needed; the answer
 * reaches the real xfer (transport.c), whose clock is held still. The bytes are fed to
 * h1_on_read() whole, a byte at a time, and in pieces of random sizes, for a GET and a HEAD.
 * Properties:
 *   - the attempt is reported exactly once, by the end of the stream at the latest;
 *   - every header line the classifier gets is whole ("...\r\n") and at most H1_LINE_MAX + 2
 *     bytes;
 *   - how the bytes are cut into reads changes nothing: outcome, status, message, the headers
 *     read (of an answer that parses) and the body (of one that did not fail for its size).
 */
#include <string.h>

#include "fuzz.h"
#include "http/h1_int.h"
#include "http/transport.h"
#include "util.h"

#define MAX_BODY    1024                   /* small, so that answers can pass it */
#define ANSWER_TIME INT64_C(1700000000000) /* the wall clock when the status line arrives */

struct outcome {
    int reports;
    enum classify_transport tr;
    int status;
    int body_err; /* the body could not be kept (over the cap) */
    char err[CURL_ERROR_SIZE];
    struct classify_hdrs hdrs;
    char body[MAX_BODY];
    size_t body_len;
};

static struct transport *owner; /* the xfer's, for its options (max_body) */
static struct h1_conn conn;
static struct xfer xf;
static struct outcome now;

/* ---- the xfer (transport.c), with the clock held still ---- */

void __real_xfer_answer_begin(struct xfer *x);
void __real_xfer_header(struct xfer *x, const char *line, size_t len);

void __wrap_xfer_answer_begin(struct xfer *x);
void __wrap_xfer_answer_begin(struct xfer *x) {
    __real_xfer_answer_begin(x);
    x->answer_epoch_ms = ANSWER_TIME;
}

void __wrap_xfer_header(struct xfer *x, const char *line, size_t len);
void __wrap_xfer_header(struct xfer *x, const char *line, size_t len) {
    FUZZ_CHECK(len >= 2 && len <= H1_LINE_MAX + 2, "a header line of %zu bytes", len);
    FUZZ_CHECK(line[len - 2] == '\r' && line[len - 1] == '\n', "a header line without CRLF");
    __real_xfer_header(x, line, len);
}

/* ---- the connection (h1_conn.c) ---- */

void __wrap_h1_conn_close(struct h1_conn *k);
void __wrap_h1_conn_close(struct h1_conn *k) {
    k->state = CONN_CLOSING;
}

void __wrap_h1_conn_finish(struct h1_conn *k, enum classify_transport tr);
void __wrap_h1_conn_finish(struct h1_conn *k, enum classify_transport tr) {
    struct xfer *x = k->x;
    FUZZ_CHECK(x != NULL && now.reports == 0, "the attempt is reported twice");
    k->x = NULL;
    now.reports++;
    now.tr = tr;
    now.status = tr == TRANSPORT_OK ? k->status : 0;
    now.body_err = k->body_err;
    now.hdrs = x->hdrs;
    FUZZ_CHECK(x->body_len <= MAX_BODY, "a body of %zu bytes kept", x->body_len);
    now.body_len = x->body_len;
    if (x->body_len)
        memcpy(now.body, x->body, x->body_len);
    memcpy(now.err, x->err, sizeof now.err);
    if (tr == TRANSPORT_OK && k->keep && k->state == CONN_BUSY)
        k->state = CONN_IDLE;
    else
        __wrap_h1_conn_close(k);
}

void __wrap_h1_conn_report(struct h1_conn *k, enum classify_transport tr, const char *msg);
void __wrap_h1_conn_report(struct h1_conn *k, enum classify_transport tr, const char *msg) {
    snprintf(k->x->err, sizeof(k->x->err), "%s", msg);
    __wrap_h1_conn_close(k);
    __wrap_h1_conn_finish(k, tr);
}

int __wrap_h1_conn_dead_reuse(struct h1_conn *k);
int __wrap_h1_conn_dead_reuse(struct h1_conn *k) {
    (void)k;
    return 0; /* a first request: nothing to send again */
}

/* ---- the target ---- */

/* A request on a fresh connection, as h1_conn_write() readies it. */
static void conn_ready(int is_head) {
    if (!owner) {
        static uv_loop_t loop; /* never run: the transport is only the xfer's options */
        struct transport_opts o = {.max_body = MAX_BODY};
        FUZZ_CHECK(uv_loop_init(&loop) == 0 && transport_new(&owner, &loop, &o, NULL, NULL) == 0,
                   "a transport");
    }
    xfer_release(&xf);
    memset(&conn, 0, sizeof conn);
    memset(&xf, 0, sizeof xf);
    memset(&now, 0, sizeof now);
    xf.owner = owner;
    conn.state = CONN_BUSY;
    http_parser_init(&conn.parser, HTTP_RESPONSE);
    conn.parser.data = &conn;
    conn.tcp.data = &conn;
    conn.x = &xf;
    conn.is_head = is_head;
    conn.requests = 1;
    classify_hdrs_init(&xf.hdrs);
}

static void conn_read(const char *p, ssize_t n) {
    uv_buf_t b = uv_buf_init((char *)p, n > 0 ? (unsigned)n : 0);
    h1_on_read((uv_stream_t *)&conn.tcp, n, &b);
}

/* step 0: whole; 1: a byte at a time; 2: pieces of 1 to 64 bytes. */
static void run(const char *s, size_t size, int is_head, int step, struct outcome *out) {
    struct rng r;
    rng_seed(&r, util_hash64(s, size));
    conn_ready(is_head);
    for (size_t off = 0; off < size;) {
        size_t n = step == 0 ? size : step == 1 ? 1 : 1 + rng_next(&r) % 64;
        if (n > size - off)
            n = size - off;
        conn_read(s + off, (ssize_t)n);
        off += n;
    }
    conn_read(NULL, UV_EOF);
    FUZZ_CHECK(now.reports == 1, "the attempt was not reported by the end of the stream");
    FUZZ_CHECK(now.status >= 0 && now.status <= 999, "status %d", now.status);
    *out = now;
}

static void same(const struct outcome *a, const struct outcome *b, const char *how) {
    FUZZ_CHECK(a->tr == b->tr, "%s: transport outcome %d, whole %d", how, (int)b->tr, (int)a->tr);
    FUZZ_CHECK(a->body_err == b->body_err, "%s: the body failed only one way", how);
    FUZZ_CHECK(a->status == b->status, "%s: status %d, whole %d", how, b->status, a->status);
    FUZZ_CHECK(strcmp(a->err, b->err) == 0, "%s: \"%s\", whole \"%s\"", how, b->err, a->err);
    /* At a parse error http_parser reports the header it was in only if a read ended inside
       it: which lines of a malformed answer reach the classifier depends on the reads. */
    FUZZ_CHECK(strncmp(a->err, "Weird server reply", 18) == 0 ||
                   memcmp(&a->hdrs, &b->hdrs, sizeof a->hdrs) == 0,
               "%s: other headers read", how);
    /* An answer over the cap fails whole, however much of it the xfer took before. */
    FUZZ_CHECK(a->body_err || b->body_err ||
                   (a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0),
               "%s: another body (%zu bytes, whole %zu)", how, b->body_len, a->body_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    static struct outcome whole, piece;
    for (int is_head = 0; is_head <= 1; is_head++) {
        run(s, size, is_head, 0, &whole);
        run(s, size, is_head, 1, &piece);
        same(&whole, &piece, "a byte at a time");
        run(s, size, is_head, 2, &piece);
        same(&whole, &piece, "in pieces");
    }
    xfer_release(&xf);
    return 0;
}
