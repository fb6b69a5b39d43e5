/*
 * The JSONL source (docs/DESIGN.md "File formats"): reads the input lazily, one line per request,
 * and hands out requests one allocation each. Memory holds the read buffer (64 KiB, growing
 * to one line of at most 64 MiB and shrinking back after it), one 8-byte hash per custom_id
 * seen (to reject duplicates), and the requests the engine holds.
 *
 * Every non-blank line becomes exactly one request or is skipped on purpose (--resume): a line
 * that cannot be sent is handed out too, with `invalid` set, so that it gets a failed result
 * line and the CLI can say file:line and why.
 */
#include "source.h"
#include "estimate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define SOURCE_CHUNK ((size_t)64 << 10)
/* Past a line of MAX bytes + "\r\n" nothing can be accepted: the buffer never grows beyond. */
#define SOURCE_MAX_BUF (SOURCE_MAX_LINE + 2)
/* Released requests kept for reuse: enough for a steady state of small requests, and only
 * small ones, so a burst of huge bodies does not stay pinned. */
#define SOURCE_FREE_MAX  64
#define SOURCE_FREE_CAP  ((size_t)16 << 10)
#define SOURCE_SEEN_INIT 1024
/* The decoded-strings buffer is kept between lines up to this size. */
#define SOURCE_DEC_KEEP ((size_t)64 << 10)

/* One request and its strings in one allocation. */
struct source_req {
    sluice_request_t req;
    struct source_req *next; /* on the free list */
    size_t cap;              /* bytes in data */
    char data[];
};

struct sluice_jsonl_source_s {
    char *name;
    char *url; /* --url: every request's, over the line's own; NULL: the line's */
    int fd;
    int own_fd;
    int (*skip)(void *ud, const char *custom_id);
    void *skip_ud;

    /* Pending input is rbuf[rstart, rend); rbuf[rstart, rstart + scanned) has no '\n'. */
    char *rbuf;
    size_t rcap, rstart, rend, scanned;
    int eof;
    int skipping; /* inside a line too long to hold: drop bytes up to its '\n' */
    int done;
    int err;
    int saved_errno;
    int read_errno;       /* the pipe's read failed with this, once what came before is used */
    int sniffed;          /* the input's first bytes were looked at: gzip or not */
    struct source_gz *gz; /* gzip input: the bytes read go there, rbuf gets them inflated */
    int raw_eof;          /* gzip: the compressed input ended; raw_errno is why (0: its end) */
    int raw_errno;
    int gz_bad;         /* reading stopped at gzip data that is not right (read_errno is EBADMSG) */
    int compressed;     /* the input is gzip (found by next() or sluice_jsonl_source_verify) */
    const char *gz_why; /* zlib's words for what is wrong with it (static strings) */
    uint64_t line;
    struct source_pipe *pipe; /* sluice_jsonl_source_attach(): the loop reads, not next() */

    struct buf msg; /* scratch for building an `invalid` reason */
    struct buf dec; /* the line's strings that had escapes, decoded */

    /*
     * The custom_ids seen so far, as 64-bit hashes in an open-addressing set (linear probing,
     * 0 = empty, load kept between 3/8 and 3/4: 11 to 21 bytes per id). Storing hashes instead
     * of strings bounds memory whatever the ids' length; the price is that two distinct ids
     * with the same hash would be taken for a duplicate. With a 64-bit hash the chance that
     * any such pair exists among n ids is about n^2 / 2^65: 3e-6 for 10 million lines.
     */
    uint64_t *seen;
    size_t seen_cap, seen_n;

    struct source_req *free_list;
    int n_free;

    const char *last_s; /* the raw line next() last handed out (in rbuf) */
    size_t last_len;
    int parser;     /* source_parser_new(): no file, no duplicate check */
    int check_only; /* source_check_only(): no estimate, no model (the feeder of a job) */
};

/* A byte range of the current line. */
struct source_span {
    const char *p;
    size_t n;
};

/* ---- reading lines ---- */

/* 1 when the pending input holds a whole line; looks only at what it has not looked at. */
static int source_buf_has_line(struct sluice_jsonl_source_s *js) {
    size_t pending = js->rend - js->rstart;
    if (memchr(js->rbuf + js->rstart + js->scanned, '\n', pending - js->scanned))
        return 1;
    js->scanned = pending;
    return 0;
}

/* Room at the end of rbuf for more input, as source_buf_room() says (source.h). */
static int source_rbuf_room(struct sluice_jsonl_source_s *js, char **at, size_t *n) {
    if (js->pipe && js->rend - js->rstart >= SOURCE_MAX_BUF && !source_buf_has_line(js)) {
        /* Too long to hold, as source_read_line() decides when it reads for itself. */
        js->skipping = 1;
        js->rstart = js->rend = js->scanned = 0;
    }
    /* After a long line the buffer is large: give the memory back once it is mostly empty. */
    if (js->rcap > SOURCE_CHUNK && js->rend - js->rstart <= SOURCE_CHUNK / 2) {
        memmove(js->rbuf, js->rbuf + js->rstart, js->rend - js->rstart);
        js->rend -= js->rstart;
        js->rstart = 0;
        char *p = realloc(js->rbuf, SOURCE_CHUNK);
        if (p != NULL) {
            js->rbuf = p;
            js->rcap = SOURCE_CHUNK;
        }
    }
    if (js->rend == js->rcap) {
        if (js->rstart > 0) {
            memmove(js->rbuf, js->rbuf + js->rstart, js->rend - js->rstart);
            js->rend -= js->rstart;
            js->rstart = 0;
        } else {
            size_t cap = js->rcap * 2 < SOURCE_MAX_BUF ? js->rcap * 2 : SOURCE_MAX_BUF;
            char *p = realloc(js->rbuf, cap);
            if (p == NULL) {
                errno = ENOMEM;
                return -1;
            }
            js->rbuf = p;
            js->rcap = cap;
        }
    }
    *at = js->rbuf + js->rend;
    *n = js->rcap - js->rend;
    return 0;
}

/* The input ends here: with `err` (an errno; EBADMSG for gzip data that is not right, with
   gz_bad set) once what came before is used. Returns 1 for source_gz_step(). */
static int source_stop(struct sluice_jsonl_source_s *js, int err, int gz_bad) {
    js->eof = 1;
    js->read_errno = err;
    js->gz_bad = gz_bad;
    return 1;
}

/*
 * Looks once at the first bytes of the input, in rbuf: gzip's magic bytes, whatever the file is
 * called, turn it into compressed input, and the bytes move to source_gz.c. `at_end`: no more
 * bytes come, decide with what there is.
 */
static void source_sniff(struct sluice_jsonl_source_s *js, int at_end) {
    const char *p = js->rbuf + js->rstart;
    size_t n = js->rend - js->rstart;
    int magic = source_gz_magic(p, n);
    if (magic < 0 && !at_end)
        return;
    js->sniffed = 1;
    if (magic != 1)
        return;
    js->compressed = 1;
    if (source_gz_new(&js->gz, p, n) < 0)
        source_stop(js, ENOMEM, 0);
    js->rstart = js->rend = js->scanned = 0;
}

int source_buf_room(sluice_jsonl_source_t *js, char **at, size_t *n) {
    if (js->gz != NULL) {
        source_gz_room(js->gz, at, n);
        return 0;
    }
    return source_rbuf_room(js, at, n);
}

void source_buf_fill(sluice_jsonl_source_t *js, size_t n) {
    if (js->gz != NULL) {
        source_gz_fill(js->gz, n);
        return;
    }
    js->rend += n;
    if (!js->sniffed)
        source_sniff(js, 0);
}

void source_buf_end(sluice_jsonl_source_t *js, int err) {
    if (!js->sniffed)
        source_sniff(js, 1);
    if (js->gz != NULL) {
        js->raw_eof = 1;
        js->raw_errno = err;
    } else if (!js->eof) {
        source_stop(js, err, 0);
    }
}

int source_buf_wants(sluice_jsonl_source_t *js) {
    /* Compressed bytes that wait are inflated first: they may hold many lines. */
    if (js->gz != NULL && (js->raw_eof || source_gz_pending(js->gz) > 0))
        return 0;
    return !js->eof && (js->rend - js->rstart < SOURCE_CHUNK || !source_buf_has_line(js));
}

/* Reads more input: into rbuf, or for gzip input its compressed bytes into source_gz.c.
   Returns bytes read, 0 at end of input, or -1 (errno set). */
static ssize_t source_fill(struct sluice_jsonl_source_s *js) {
    char *at;
    size_t room;
    if (source_buf_room(js, &at, &room) < 0)
        return -1;
    for (;;) {
        ssize_t n = read(js->fd, at, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0)
            source_buf_fill(js, (size_t)n);
        else if (n == 0)
            source_buf_end(js, 0);
        return n;
    }
}

/*
 * gzip input: inflates the compressed bytes that wait into rbuf. Returns 1 when it made some, or
 * when the input ended (js->eof set; read_errno too if it ended wrong), 0 when more compressed
 * input must be read first.
 */
static int source_gz_step(struct sluice_jsonl_source_s *js) {
    if (source_gz_pending(js->gz) > 0) {
        char *at;
        size_t room, got;
        if (source_rbuf_room(js, &at, &room) < 0)
            return source_stop(js, ENOMEM, 0);
        int rc = source_gz_inflate(js->gz, at, room, &got);
        js->rend += got;
        if (rc == SLUICE_ENOMEM)
            return source_stop(js, ENOMEM, 0);
        /* Input waiting that inflates to nothing: zlib can make no sense of it. */
        if (rc < 0 || (got == 0 && source_gz_pending(js->gz) > 0)) {
            js->gz_why = source_gz_why(js->gz);
            return source_stop(js, EBADMSG, 1);
        }
        if (got > 0)
            return 1;
    }
    if (!js->raw_eof)
        return 0;
    if (js->raw_errno != 0)
        return source_stop(js, js->raw_errno, 0);
    if (source_gz_end(js->gz) < 0) {
        js->gz_why = source_gz_why(js->gz);
        return source_stop(js, EBADMSG, 1);
    }
    js->eof = 1;
    return 1;
}

/*
 * The next line, without its '\n', in *line and *len (valid until the next call), or *overlong
 * set when the line was longer than the buffer may grow. Returns 1, 0 at the end of input, -1
 * on a read error (errno set), or 2 when a pipe read by the loop has no whole line yet.
 */
static int source_read_line(struct sluice_jsonl_source_s *js, const char **line, size_t *len,
                            int *overlong) {
    *overlong = 0;
    for (;;) {
        char *from = js->rbuf + js->rstart + js->scanned;
        char *nl = memchr(from, '\n', js->rend - js->rstart - js->scanned);
        if (nl != NULL || (js->eof && !js->read_errno && (js->skipping || js->rend > js->rstart))) {
            size_t n = nl != NULL ? (size_t)(nl - (js->rbuf + js->rstart)) : js->rend - js->rstart;
            *line = js->rbuf + js->rstart;
            *len = n;
            *overlong = js->skipping;
            js->skipping = 0;
            js->rstart += nl != NULL ? n + 1 : n;
            js->scanned = 0;
            return 1;
        }
        if (js->eof && js->read_errno) {
            errno = js->read_errno;
            return -1;
        }
        if (js->eof)
            return 0;
        js->scanned = js->rend - js->rstart;
        if (js->skipping || js->scanned >= SOURCE_MAX_BUF) {
            /* Too long to hold (even MAX bytes + "\r" would fit): drop what we have. */
            js->skipping = 1;
            js->rstart = js->rend = js->scanned = 0;
        }
        if (js->gz != NULL && source_gz_step(js))
            continue;
        if (js->pipe)
            return 2; /* source_pipe.c reads, and says when more came */
        if (source_fill(js) < 0)
            return -1;
    }
}

/* ---- requests ---- */

/* Takes a request with room for `need` bytes of strings, from the free list if possible. */
static struct source_req *source_req_alloc(struct sluice_jsonl_source_s *js, size_t need) {
    struct source_req *r = js->free_list;
    if (r != NULL) {
        js->free_list = r->next;
        js->n_free--;
        if (r->cap < need) {
            struct source_req *bigger = realloc(r, sizeof *r + need);
            if (bigger == NULL) {
                free(r);
                return NULL;
            }
            r = bigger;
            r->cap = need;
        }
    } else {
        r = malloc(sizeof *r + need);
        if (r == NULL)
            return NULL;
        r->cap = need;
    }
    memset(&r->req, 0, sizeof r->req);
    r->next = NULL;
    r->req.user = r;
    return r;
}

static void source_release(void *ud, sluice_request_t *req) {
    struct sluice_jsonl_source_s *js = ud;
    if (req == NULL)
        return;
    struct source_req *r = req->user;
    if (js->n_free < SOURCE_FREE_MAX && r->cap <= SOURCE_FREE_CAP) {
        r->next = js->free_list;
        js->free_list = r;
        js->n_free++;
        return;
    }
    free(r);
}

/* Copies s[0..n) plus a NUL to *dst and returns the copy; NULL for a NULL s. */
static const char *source_put(char **dst, const char *s, size_t n) {
    if (s == NULL)
        return NULL;
    char *p = *dst;
    memcpy(p, s, n);
    p[n] = '\0';
    *dst = p + n + 1;
    return p;
}

/* What a line turned into, before it is copied into one allocation. Strings point into the
   line (or into js->dec when they had escapes) and carry their lengths. */
struct source_parts {
    const char *id;
    size_t id_len;
    const char *method;
    size_t method_len;
    const char *url;
    size_t url_len;
    struct source_span body;
    struct source_span meta;
    const char *invalid;
    uint64_t est_tokens;
    uint64_t est_prompt; /* of which prompt tokens */
    struct source_span model;
};

static int source_emit(struct sluice_jsonl_source_s *js, const struct source_parts *pt,
                       sluice_request_t **out) {
    size_t invalid_len = pt->invalid ? strlen(pt->invalid) : 0;
    size_t model_len = pt->model.p && !pt->invalid ? pt->model.n : 0;
    size_t need = pt->id_len + pt->method_len + pt->url_len + pt->body.n + pt->meta.n +
                  invalid_len + model_len + 7;
    struct source_req *r = source_req_alloc(js, need);
    if (r == NULL)
        return SLUICE_ENOMEM;
    char *p = r->data;
    sluice_request_t *q = &r->req;
    q->custom_id = source_put(&p, pt->id, pt->id_len);
    q->method = source_put(&p, pt->method, pt->method_len);
    q->url = source_put(&p, pt->url, pt->url_len);
    q->body = source_put(&p, pt->body.p, pt->body.n);
    q->body_len = q->body ? pt->body.n : 0;
    q->metadata = source_put(&p, pt->meta.p, pt->meta.n);
    q->metadata_len = q->metadata ? pt->meta.n : 0;
    q->invalid = source_put(&p, pt->invalid, invalid_len);
    q->model = model_len ? source_put(&p, pt->model.p, model_len) : NULL;
    q->line = js->line;
    q->est_tokens = pt->invalid ? 0 : pt->est_tokens;
    q->est_prompt_tokens = pt->invalid ? 0 : pt->est_prompt;
    *out = q;
    return 0;
}

/* ---- duplicate ids ---- */

/* Resizes the set to `cap` slots. Slots are h % cap, so the table can be sized to the input
   (about 10 bytes per line) rather than to the next power of two. */
static int source_seen_resize(struct sluice_jsonl_source_s *js, size_t cap) {
    uint64_t *set = calloc(cap, sizeof *set);
    if (set == NULL)
        return SLUICE_ENOMEM;
    for (size_t i = 0; i < js->seen_cap; i++) {
        uint64_t h = js->seen[i];
        if (h == 0)
            continue;
        size_t j = (size_t)(h % cap);
        while (set[j] != 0)
            j = j + 1 == cap ? 0 : j + 1;
        set[j] = h;
    }
    free(js->seen);
    js->seen = set;
    js->seen_cap = cap;
    return 0;
}

/*
 * Sizes the set for a regular file before reading it, from its size and the average length of
 * its first lines (read with pread, so the read position stays at 0): a 10-million-line input
 * then never resizes, and needs about 10 bytes per line. A wrong guess only means a resize.
 */
static void source_seen_presize(struct sluice_jsonl_source_s *js, uint64_t size) {
    char head[1 << 16];
    ssize_t got = pread(js->fd, head, sizeof head, 0);
    if (got <= 0 || source_gz_magic(head, (size_t)got) == 1)
        return; /* compressed: its bytes say nothing of its lines */
    size_t lines = 0;
    for (const char *p = head; (p = memchr(p, '\n', (size_t)(head + got - p))) != NULL; p++)
        lines++;
    if (lines == 0)
        return;
    uint64_t est = size / ((uint64_t)got / lines) + 16;
    est += est / 4;
    if (est > ((uint64_t)1 << 34))
        return; /* implausible: let it grow as it goes */
    source_seen_resize(js, (size_t)est);
}

/*
 * Recording an id, in two steps so that the set's slot, a likely cache miss at a random spot
 * of a table that can be megabytes, is fetched while the rest of the line is read:
 * source_seen_start() makes room, hashes the id and prefetches its slot; source_seen_finish()
 * records it. Nothing else may touch the set in between.
 */
static int source_seen_start(struct sluice_jsonl_source_s *js, const char *id, size_t len,
                             uint64_t *hash) {
    *hash = 0;
    if (js->parser)
        return 0; /* lines from Redis: the feeder checked them */
    /* Linear probing is quick up to 90% full. Growing by half (not doubling) keeps the table
       and the transient copy during a resize near 16 bytes per id. */
    if ((js->seen_n + 1) * 10 > js->seen_cap * 9 &&
        source_seen_resize(js, js->seen_cap ? js->seen_cap + js->seen_cap / 2 : SOURCE_SEEN_INIT) !=
            0)
        return SLUICE_ENOMEM;
    uint64_t h = util_hash64(id, len);
    *hash = h ? h : 1; /* 0 marks an empty slot */
#if defined(__GNUC__)
    __builtin_prefetch(&js->seen[*hash % js->seen_cap], 1);
#endif
    return 0;
}

/* Returns 0 when the id hashed to h is new, 1 when it was seen before. */
static int source_seen_finish(struct sluice_jsonl_source_s *js, uint64_t h) {
    if (h == 0)
        return 0;
    size_t j = (size_t)(h % js->seen_cap);
    while (js->seen[j] != 0) {
        if (js->seen[j] == h)
            return 1;
        j = j + 1 == js->seen_cap ? 0 : j + 1;
    }
    js->seen[j] = h;
    js->seen_n++;
    return 0;
}

/* Records an id at once. Returns 0 when it is new, 1 when it was seen before, or
   SLUICE_ENOMEM. */
static int source_seen_add(struct sluice_jsonl_source_s *js, const char *id, size_t len) {
    uint64_t h;
    int rc = source_seen_start(js, id, len, &h);
    return rc < 0 ? rc : source_seen_finish(js, h);
}

/* ---- parsing one line ---- */

/* The members of a line that matter, as raw JSON text; p is NULL for an absent one. */
struct source_members {
    struct source_span whole, custom_id, body, method, url, meta;
};

/* Longest decoded key worth comparing: longer than every name looked for. */
/* Keeps the members of a line that matter, as the scanner checks them. The last of repeated
   keys wins, as in json-c. */
static void source_line_member(const struct util_span *k, const struct util_span *v, void *ud) {
    struct source_members *m = ud;
    struct source_span sv = {v->p, v->n};
    char buf[UTIL_JSON_KEY_MAX];
    struct util_span t = util_json_key_text(k, buf);
    if (UTIL_JSON_KEY_IS(t, "body"))
        m->body = sv;
    else if (UTIL_JSON_KEY_IS(t, "custom_id"))
        m->custom_id = sv;
    else if (UTIL_JSON_KEY_IS(t, "metadata"))
        m->meta = sv;
    else if (UTIL_JSON_KEY_IS(t, "method"))
        m->method = sv;
    else if (UTIL_JSON_KEY_IS(t, "url"))
        m->url = sv;
}

static int source_is_string(struct source_span v) {
    return v.p && v.p[0] == '"';
}

static int source_is_object(struct source_span v) {
    return v.p && v.p[0] == '{';
}

/* The text of a JSON string token: in place when it has no escapes, else decoded into
   js->dec (which the caller has sized for every string of the line, so it never moves). */
static struct source_span source_string(struct sluice_jsonl_source_s *js, struct source_span v) {
    if (!memchr(v.p, '\\', v.n))
        return (struct source_span){v.p + 1, v.n - 2};
    char *o = js->dec.data + js->dec.len;
    size_t n = util_json_unescape(v.p, v.n, o);
    js->dec.len += n;
    return (struct source_span){o, n};
}

/* An HTTP method must be a token (RFC 9110 §9.1, §5.6.2): it goes verbatim on the wire. */
static int source_is_token(const char *s, size_t n) {
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL)))
            return 0;
    }
    return 1;
}

/* A URL goes into the request line: no spaces, control bytes or NULs. */
static int source_is_url(const char *s, size_t n) {
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int source_is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* The reason for a line that is not strict JSON, into js->msg. */
static const char *source_json_reason(struct sluice_jsonl_source_s *js, int err, size_t pos) {
    struct buf *m = &js->msg;
    buf_reset(m);
    int rc = buf_append_str(m, "not valid JSON (");
    if (err == UTIL_JSON_EEND) {
        rc |= buf_append_str(m, "unexpected end of line");
    } else if (err == UTIL_JSON_EDEPTH) {
        rc |= buf_append_str(m, "nested deeper than ");
        rc |= buf_append_u64(m, UTIL_JSON_MAX_DEPTH);
        rc |= buf_append_str(m, " levels");
    } else {
        rc |= buf_append_str(m, util_json_strerror(err));
        rc |= buf_append_str(m, " at column ");
        rc |= buf_append_u64(m, (uint64_t)pos + 1);
    }
    rc |= buf_append_char(m, ')');
    return rc == 0 ? m->data : "not valid JSON";
}

/*
 * A streamed answer is a run of server-sent events, not the JSON a batch stores: its text would
 * land in OUTPUT as one string, its usage unread, its tokens and cost counted as 0. Such a line
 * is refused before anything is sent (assembling the events is the gateway's work).
 */
#define SOURCE_STREAM_REFUSED                                                                      \
    "\"stream\": true is not supported in a batch (the answer would be stored as raw events, "     \
    "with no usage or cost): remove \"stream\" from the body or set it to false"

/* The estimate and the body's "model" string (read here so no one parses the body again), and
   the refusal of a body that asks for a streamed answer. */
static void source_read_body(struct sluice_jsonl_source_s *js, struct source_span body,
                             struct source_parts *pt) {
    struct util_span model = {NULL, 0}, stream = {NULL, 0};
    if (js->check_only)
        stream = util_json_find((struct util_span){body.p, body.n}, "stream");
    else
        pt->est_tokens = estimate_body(body.p, body.n, &pt->est_prompt, &model, &stream);
    if (stream.n == 4 && memcmp(stream.p, "true", 4) == 0) {
        pt->invalid = SOURCE_STREAM_REFUSED;
        return;
    }
    if (model.p && model.p[0] == '"')
        pt->model = source_string(js, (struct source_span){model.p, model.n});
}

/* A bare line (no custom_id, no body): the whole object is the body of a POST to --url. */
static int source_check_bare(struct sluice_jsonl_source_s *js, struct source_span whole,
                             struct source_parts *pt) {
    if (js->url == NULL) {
        pt->invalid = "bare request body needs --url";
        return 0;
    }
    /* Counted with the custom_ids so that a batch line cannot reuse a bare line's id. */
    int rc = source_seen_add(js, pt->id, pt->id_len);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        pt->invalid = "duplicate custom_id (another line uses this line's line-N id)";
        return 0;
    }
    pt->method = "POST";
    pt->method_len = 4;
    pt->url = js->url;
    pt->url_len = strlen(js->url);
    pt->body = whole;
    source_read_body(js, whole, pt);
    return 0;
}

/* What a line with a valid custom_id must also have right: metadata, body, method, url. */
static void source_check_rest(struct sluice_jsonl_source_s *js, const struct source_members *m,
                              struct source_parts *pt) {
    if (m->meta.p && !(m->meta.n == 4 && memcmp(m->meta.p, "null", 4) == 0)) {
        if (!source_is_object(m->meta)) {
            pt->invalid = "metadata must be a JSON object";
            return;
        }
        pt->meta = m->meta; /* copied to the result line even if the line is invalid below */
    }
    if (!source_is_object(m->body)) {
        pt->invalid = "body must be a JSON object";
        return;
    }
    pt->method = "POST";
    pt->method_len = 4;
    if (m->method.p) {
        struct source_span v = source_is_string(m->method) ? source_string(js, m->method)
                                                           : (struct source_span){NULL, 0};
        if (!v.p || !source_is_token(v.p, v.n)) {
            pt->invalid = "method must be an HTTP method name such as \"POST\"";
            return;
        }
        pt->method = v.p;
        pt->method_len = v.n;
    }
    if (m->url.p) {
        struct source_span v =
            source_is_string(m->url) ? source_string(js, m->url) : (struct source_span){NULL, 0};
        if (!v.p || !source_is_url(v.p, v.n)) {
            pt->invalid = "url must be a non-empty string without spaces or control characters";
            return;
        }
        pt->url = v.p;
        pt->url_len = v.n;
    }
    /* --url names every request's url, over the line's own: the README's Azure and Anthropic
     * examples point Batch lines written for OpenAI at another path, and a line's url that won
     * over it sent them where the user had not asked. */
    if (js->url != NULL) {
        pt->url = js->url;
        pt->url_len = strlen(js->url);
    } else if (!m->url.p) {
        pt->invalid = "no \"url\" on the line and no --url";
        return;
    }
    pt->body = m->body;
    source_read_body(js, m->body, pt);
}

/*
 * A batch line: custom_id, body, optional method, url and metadata. Sets pt->invalid for a
 * line that cannot be sent; the custom_id is kept whenever it could be read. An id that was
 * read counts as seen even if something else on its line is wrong, so that no id appears on
 * two result lines. A member that is JSON null counts as present and of the wrong type, except
 * metadata (null: none). Returns 0 or SLUICE_ENOMEM.
 */
static int source_check_batch(struct sluice_jsonl_source_s *js, const struct source_members *m,
                              struct source_parts *pt) {
    if (!source_is_string(m->custom_id) || m->custom_id.n == 2) {
        pt->invalid = "custom_id must be a non-empty string";
        return 0;
    }
    struct source_span id = source_string(js, m->custom_id);
    if (id.n > SOURCE_MAX_ID) {
        pt->invalid = "custom_id longer than 512 bytes";
        return 0;
    }
    if (memchr(id.p, '\0', id.n)) {
        pt->invalid = "custom_id must not contain NUL characters";
        return 0;
    }
    pt->id = id.p;
    pt->id_len = id.n;
    uint64_t h;
    int rc = source_seen_start(js, id.p, id.n, &h);
    if (rc < 0)
        return rc;
    /* The rest of the line is read while the id's slot is fetched; a duplicate then counts
       as if it had been found first (the line as it was at this point, with that reason). */
    struct source_parts at_id = *pt;
    source_check_rest(js, m, pt);
    if (source_seen_finish(js, h) == 1) {
        *pt = at_id;
        struct buf *b = &js->msg;
        buf_reset(b);
        rc = buf_append_str(b, "duplicate custom_id \"");
        rc |= buf_append(b, id.p, id.n);
        rc |= buf_append_char(b, '"');
        pt->invalid = rc == 0 ? b->data : "duplicate custom_id";
    }
    return 0;
}

/*
 * Turns one line (without its '\n') into a request in *out. Returns 1 when a request was
 * made, 0 when the line is not handed out (blank, or skipped by the skip callback), or
 * SLUICE_ENOMEM.
 *
 * One strict pass of the scanner checks the line (json-c is lenient even in strict mode, and
 * the body is passed on as the raw text of the line), then a walk that checks nothing again
 * finds the members: no tree is built (json-c's was two thirds of a line's cost).
 */
static int source_parse_line(struct sluice_jsonl_source_s *js, const char *s, size_t len,
                             int overlong, sluice_request_t **out) {
    char line_id[32];
    struct source_parts pt = {0};
    struct source_members m = {0};
    size_t err_pos = 0, first = 0;
    int rc = 0;

    /* "line-N", without printf: it is made for every line and needed by few. */
    char digits[20];
    size_t nd = 0;
    for (uint64_t v = js->line; nd == 0 || v > 0; v /= 10)
        digits[nd++] = (char)('0' + v % 10);
    memcpy(line_id, "line-", 5);
    for (size_t i = 0; i < nd; i++)
        line_id[5 + i] = digits[nd - 1 - i];
    line_id[5 + nd] = '\0';
    pt.id = line_id;
    pt.id_len = 5 + nd;

    if (len > 0 && s[len - 1] == '\r')
        len--;
    if (js->line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3;
        len -= 3;
    }
    if (overlong || len > SOURCE_MAX_LINE) {
        pt.invalid = "line longer than 64 MiB";
        goto emit;
    }
    if (source_is_blank(s, len))
        return 0;

    int jerr = util_json_validate_members(s, len, &err_pos, source_line_member, &m);
    if (jerr != 0) {
        pt.invalid = source_json_reason(js, jerr, err_pos);
        goto emit;
    }
    util_json_skip_ws(s, len, &first);
    if (s[first] != '{') {
        pt.invalid = "not a JSON object";
        goto emit;
    }
    /* the object, without the whitespace around it */
    size_t end = len;
    while (end > first &&
           (s[end - 1] == ' ' || s[end - 1] == '\t' || s[end - 1] == '\r' || s[end - 1] == '\n'))
        end--;
    m.whole = (struct source_span){s + first, end - first};
    /* Room for the strings the line's members decode to (decoding never grows one; the model
       is within the body); a buffer grown for a long line is not kept. */
    if (js->dec.cap > SOURCE_DEC_KEEP)
        buf_free(&js->dec);
    buf_reset(&js->dec);
    if (buf_reserve(&js->dec,
                    m.custom_id.n + m.method.n + m.url.n + (m.body.p ? m.body.n : m.whole.n)) < 0)
        return SLUICE_ENOMEM;
    if (!m.custom_id.p && !m.body.p)
        rc = source_check_bare(js, m.whole, &pt);
    else
        rc = source_check_batch(js, &m, &pt);
    if (rc < 0)
        return rc;
    if (pt.invalid == NULL && js->skip != NULL) {
        /* the skip callback takes a C string */
        char idz[SOURCE_MAX_ID + 1];
        memcpy(idz, pt.id, pt.id_len);
        idz[pt.id_len] = '\0';
        if (js->skip(js->skip_ud, idz) != 0)
            return 0;
    }
emit:
    if (pt.invalid != NULL) {
        /* Never sent: only the id, the reason and the metadata go on. */
        pt.method = pt.url = NULL;
        pt.method_len = pt.url_len = 0;
        pt.body = (struct source_span){0};
    }
    return source_emit(js, &pt, out) < 0 ? SLUICE_ENOMEM : 1;
}

/* ---- the sluice_source_t functions ---- */

static int source_next(void *ud, sluice_request_t **out) {
    struct sluice_jsonl_source_s *js = ud;
    *out = NULL;
    while (!js->done) {
        const char *line;
        size_t len;
        int overlong;
        int rc = source_read_line(js, &line, &len, &overlong);
        if (rc == 2) {
            source_pipe_pull(js->pipe, 1);
            return SLUICE_EAGAIN;
        }
        if (rc < 0) {
            js->err = js->gz_bad ? SLUICE_EPARSE : SLUICE_EIO;
            js->saved_errno = errno;
            js->done = 1;
            break;
        }
        if (rc == 0) {
            js->done = 1;
            break;
        }
        js->line++;
        js->last_s = line;
        js->last_len = overlong ? 0 : len;
        if (js->pipe)
            source_pipe_pull(js->pipe, 0); /* room again: read on if it had stopped */
        rc = source_parse_line(js, line, len, overlong, out);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    return SLUICE_EOF;
}

int sluice_jsonl_source_open(sluice_jsonl_source_t **out, const char *path, const char *url,
                             int (*skip)(void *ud, const char *custom_id), void *skip_ud) {
    struct sluice_jsonl_source_s *js = NULL;
    struct stat st;
    int rc = SLUICE_ENOMEM;
    if (out == NULL || path == NULL) {
        errno = EINVAL;
        return SLUICE_EINVAL;
    }
    *out = NULL;
    js = calloc(1, sizeof *js);
    if (js == NULL)
        return SLUICE_ENOMEM;
    js->fd = -1;
    js->skip = skip;
    js->skip_ud = skip_ud;
    js->name = strdup(path);
    if (js->name == NULL)
        goto fail;
    if (url != NULL && (js->url = strdup(url)) == NULL)
        goto fail;
    js->rbuf = malloc(SOURCE_CHUNK);
    if (js->rbuf == NULL)
        goto fail;
    js->rcap = SOURCE_CHUNK;
    rc = SLUICE_EIO;
    if (strcmp(path, "-") == 0) {
        js->fd = STDIN_FILENO;
    } else {
        js->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (js->fd < 0)
            goto fail;
        js->own_fd = 1;
    }
    /* read(2) on a directory fails only later, and with a less helpful EISDIR: say it now. */
    if (fstat(js->fd, &st) != 0)
        goto fail;
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        goto fail;
    }
    if (S_ISREG(st.st_mode) && st.st_size > 0)
        source_seen_presize(js, (uint64_t)st.st_size);
    *out = js;
    return 0;
fail:;
    int saved = errno;
    sluice_jsonl_source_close(js);
    errno = saved;
    return rc;
}

int source_parser_new(sluice_jsonl_source_t **out, const char *name, const char *url) {
    struct sluice_jsonl_source_s *js = calloc(1, sizeof *js);
    *out = NULL;
    if (js == NULL)
        return SLUICE_ENOMEM;
    js->fd = -1;
    js->parser = 1;
    js->done = 1;
    js->name = strdup(name ? name : "redis");
    if (js->name == NULL || (url != NULL && (js->url = strdup(url)) == NULL)) {
        sluice_jsonl_source_close(js);
        return SLUICE_ENOMEM;
    }
    *out = js;
    return 0;
}

int source_parse(sluice_jsonl_source_t *js, uint64_t line, const char *s, size_t len,
                 sluice_request_t **out) {
    *out = NULL;
    js->line = line;
    return source_parse_line(js, s, len, 0, out);
}

void source_check_only(sluice_jsonl_source_t *js) {
    js->check_only = 1;
}

void source_last_line(const sluice_jsonl_source_t *js, const char **s, size_t *len) {
    *s = js->last_s;
    *len = js->last_len;
}

void source_release_request(sluice_jsonl_source_t *js, sluice_request_t *req) {
    source_release(js, req);
}

void sluice_jsonl_source_bind(sluice_jsonl_source_t *js, sluice_source_t *src) {
    src->next = source_next;
    src->release = source_release;
    src->ud = js;
}

const char *sluice_jsonl_source_name(const sluice_jsonl_source_t *js) {
    return js->name;
}

int sluice_jsonl_source_error(const sluice_jsonl_source_t *js) {
    if (js->err != 0)
        errno = js->saved_errno;
    return js->err;
}

int sluice_jsonl_source_gzip(const sluice_jsonl_source_t *js, const char **why) {
    if (why != NULL)
        *why = js->gz_why;
    return js->compressed;
}

/*
 * Reads compressed input from its read position to its end with pread (next() still starts
 * there), counting its lines to size the duplicate-id set. Returns 0, SLUICE_EPARSE (why in
 * js->gz_why) or SLUICE_EIO.
 */
static int source_verify_gz(struct sluice_jsonl_source_s *js, off_t off, const char *head,
                            size_t n) {
    struct source_gz *g;
    char *out = malloc(SOURCE_CHUNK);
    uint64_t lines = 0;
    int rc = SLUICE_ENOMEM;
    if (out == NULL || source_gz_new(&g, head, n) < 0) {
        free(out);
        return rc;
    }
    off += (off_t)n;
    for (;;) {
        if (source_gz_pending(g) > 0) {
            size_t got;
            rc = source_gz_inflate(g, out, SOURCE_CHUNK, &got);
            if (rc < 0 || (got == 0 && source_gz_pending(g) > 0)) {
                rc = rc < 0 ? rc : SLUICE_EPARSE;
                break;
            }
            for (const char *p = out; (p = memchr(p, '\n', (size_t)(out + got - p))) != NULL; p++)
                lines++;
            continue;
        }
        char *at;
        size_t room;
        source_gz_room(g, &at, &room);
        ssize_t r = pread(js->fd, at, room, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = SLUICE_EIO;
            break;
        }
        if (r == 0) {
            rc = source_gz_end(g);
            break;
        }
        source_gz_fill(g, (size_t)r);
        off += r;
    }
    if (rc == 0 && js->seen_cap == 0 && lines < ((uint64_t)1 << 34))
        source_seen_resize(js, (size_t)(lines + lines / 4 + 16));
    int saved = rc == SLUICE_EIO ? errno : rc == SLUICE_ENOMEM ? ENOMEM : EBADMSG;
    if (rc == SLUICE_EPARSE)
        js->gz_why = source_gz_why(g) ? source_gz_why(g) : "invalid compressed data";
    source_gz_free(g);
    free(out);
    errno = saved;
    return rc;
}

int sluice_jsonl_source_verify(sluice_jsonl_source_t *js) {
    struct stat st;
    char head[2];
    if (js == NULL || js->parser || js->fd < 0 || js->sniffed)
        return js == NULL ? SLUICE_EINVAL : 0;
    if (fstat(js->fd, &st) != 0 || !S_ISREG(st.st_mode))
        return 0; /* a pipe cannot be read twice: its corruption shows at the end of a member */
    off_t off = lseek(js->fd, 0, SEEK_CUR);
    ssize_t n = off < 0 ? -1 : pread(js->fd, head, sizeof head, off);
    if (n < (ssize_t)sizeof head || source_gz_magic(head, (size_t)n) != 1)
        return 0;
    js->compressed = 1;
    return source_verify_gz(js, off, head, (size_t)n);
}

size_t source_memory(const sluice_jsonl_source_t *js) {
    return js->rcap + js->seen_cap * sizeof *js->seen + js->msg.cap;
}

int sluice_jsonl_source_attach(sluice_jsonl_source_t *js, sluice_t *eng) {
    if (js == NULL || eng == NULL || js->fd < 0 || js->pipe != NULL)
        return SLUICE_EINVAL;
    return source_pipe_open(&js->pipe, js, js->fd, eng);
}

void sluice_jsonl_source_detach(sluice_jsonl_source_t *js) {
    if (js != NULL && js->pipe != NULL) {
        source_pipe_close(js->pipe);
        js->pipe = NULL;
    }
}

/* Requests still held by the engine must have been released before; so must the pipe be
   detached. */
void sluice_jsonl_source_close(sluice_jsonl_source_t *js) {
    if (js == NULL)
        return;
    if (js->own_fd)
        close(js->fd);
    while (js->free_list != NULL) {
        struct source_req *r = js->free_list;
        js->free_list = r->next;
        free(r);
    }
    source_gz_free(js->gz);
    buf_free(&js->msg);
    buf_free(&js->dec);
    free(js->seen);
    free(js->rbuf);
    free(js->url);
    free(js->name);
    free(js);
}
