/*
 * The JSONL sink (docs/DESIGN.md "File formats"): one result per line, each line written with one
 * write(2) on an O_APPEND descriptor, so that a crash leaves at most one torn last line and
 * --resume can trust every complete line it finds.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink.h"
#include "sluice.h"
#include "util.h"

#define SINK_TAIL_CHUNK ((size_t)16 << 10)
/* A line buffer grown past this for one large result is freed before the next. */
#define SINK_LINE_KEEP ((size_t)1 << 20)

struct sluice_jsonl_sink_s {
    int fd;
    int own_fd;
    int regular; /* a regular file: a partial write can be undone */
    int append;  /* the descriptor has O_APPEND (else the offset must be put back too) */
    off_t size;  /* bytes in the file before the next write, when regular */
    struct buf line;
};

/*
 * Cuts a torn last line (no '\n' at the end, left by a crash in the middle of a write) so the
 * file ends just after its last '\n', or is empty when it has none. --resume relies on this:
 * every line in the file is then complete, and new lines never get glued to half a line.
 * *size is the file's size on entry and after. Returns 0, or -1 with errno set.
 */
static int sink_repair_tail(int fd, off_t *size) {
    char tail[SINK_TAIL_CHUNK];
    off_t end = *size;
    if (end == 0)
        return 0;
    if (pread(fd, tail, 1, end - 1) != 1)
        return -1;
    if (tail[0] == '\n')
        return 0;
    off_t keep = 0;
    while (end > 0 && keep == 0) {
        size_t n = (size_t)end < SINK_TAIL_CHUNK ? (size_t)end : SINK_TAIL_CHUNK;
        off_t at = end - (off_t)n;
        if (pread(fd, tail, n, at) != (ssize_t)n)
            return -1;
        for (size_t i = n; i > 0; i--) {
            if (tail[i - 1] == '\n') {
                keep = at + (off_t)i;
                break;
            }
        }
        end = at;
    }
    if (ftruncate(fd, keep) != 0)
        return -1;
    *size = keep;
    return 0;
}

int sluice_jsonl_sink_open(sluice_jsonl_sink_t **out, const char *path, int append) {
    struct sluice_jsonl_sink_s *sk = NULL;
    struct stat st;
    if (out == NULL || path == NULL) {
        errno = EINVAL;
        return SLUICE_EINVAL;
    }
    *out = NULL;
    sk = calloc(1, sizeof *sk);
    if (sk == NULL)
        return SLUICE_ENOMEM;
    buf_init(&sk->line);
    if (strcmp(path, "-") == 0) {
        sk->fd = STDOUT_FILENO;
        int fl = fcntl(sk->fd, F_GETFL);
        if (fl < 0 || fstat(sk->fd, &st) != 0)
            goto fail;
        sk->append = (fl & O_APPEND) != 0;
        sk->size = sk->append ? st.st_size : lseek(sk->fd, 0, SEEK_CUR);
        sk->regular = S_ISREG(st.st_mode) && sk->size >= 0;
    } else {
        /* Appending also reads: the torn-tail check looks at the last bytes. */
        int flags = O_CREAT | O_APPEND | O_CLOEXEC | (append ? O_RDWR : O_WRONLY | O_TRUNC);
        sk->fd = open(path, flags, 0644);
        if (sk->fd < 0)
            goto fail;
        sk->own_fd = 1;
        sk->append = 1;
        if (fstat(sk->fd, &st) != 0)
            goto fail;
        sk->regular = S_ISREG(st.st_mode);
        sk->size = st.st_size;
        if (append && sk->regular && sink_repair_tail(sk->fd, &sk->size) != 0)
            goto fail;
    }
    *out = sk;
    return 0;
fail:;
    int saved = errno;
    if (sk->own_fd)
        close(sk->fd);
    free(sk);
    errno = saved;
    return SLUICE_EIO;
}

/* Raw JSON text with each raw CR or LF turned into a space. Valid JSON cannot hold those
 * bytes inside a string, so they are whitespace between tokens and the value is unchanged;
 * the result stays on one line. */
static int sink_put_raw_json(struct buf *b, const char *p, size_t n) {
    if (buf_reserve(b, n) != 0)
        return SLUICE_ENOMEM;
    char *dst = b->data + b->len;
    memcpy(dst, p, n);
    for (char *c = dst; (c = memchr(c, '\n', (size_t)(dst + n - c))) != NULL; c++)
        *c = ' ';
    for (char *c = dst; (c = memchr(c, '\r', (size_t)(dst + n - c))) != NULL; c++)
        *c = ' ';
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* The body the engine checked and is handing to the result callback on this thread (sink.h). */
static _Thread_local struct {
    const char *p;
    size_t n;
} sink_vouched;

void sink_vouch_json(const char *body, size_t len) {
    sink_vouched.p = body;
    sink_vouched.n = len;
}

/* JSON text as-is when it is valid (whatever the producer claimed: only the body the engine
   vouches for goes unchecked, sink.h), else as a string. */
static int sink_put_json(struct buf *b, const char *p, size_t n, int is_json) {
    if (is_json && ((p == sink_vouched.p && n == sink_vouched.n) ||
                    util_json_validate(p, n, NULL) == UTIL_JSON_OK))
        return sink_put_raw_json(b, p, n);
    return buf_append_json_string(b, p, n);
}

static int sink_put_string_or_null(struct buf *b, const char *s) {
    if (s == NULL)
        return buf_append_lit(b, "null");
    return buf_append_json_string(b, s, strlen(s));
}

/* The result line, keys in the order of docs/DESIGN.md "File formats", ending in '\n'. */
static int sink_format(struct buf *b, const sluice_result_t *res) {
    const sluice_request_t *req = res->req;
    const char *id = req->custom_id != NULL ? req->custom_id : "";
    size_t id_len = strlen(id);
    /* Room for the usual line at once: the body, the id escaped at worst, the rest. */
    int rc = buf_reserve(b, 256 + 6 * id_len + (res->body ? res->body_len : 0));
    rc |= buf_append_lit(b, "{\"id\":\"req-");
    if (req->line != 0) {
        rc |= buf_append_u64(b, req->line);
    } else {
        /* No line number (a Redis stream entry): an id derived from the custom_id is as
         * stable across retries and resumes as the line would be. */
        char hex[17];
        snprintf(hex, sizeof hex, "%016" PRIx64, util_hash64(id, id_len));
        rc |= buf_append(b, hex, 16);
    }
    rc |= buf_append_lit(b, "\",\"custom_id\":");
    rc |= buf_append_json_string(b, id, id_len);
    if (res->status_code == 0) {
        rc |= buf_append_lit(b, ",\"response\":null,\"error\":");
    } else {
        rc |= buf_append_lit(b, ",\"response\":{\"status_code\":");
        rc |= buf_append_u64(b, (uint64_t)(res->status_code > 0 ? res->status_code : 0));
        rc |= buf_append_lit(b, ",\"request_id\":");
        rc |= sink_put_string_or_null(b, res->request_id);
        rc |= buf_append_lit(b, ",\"body\":");
        if (res->body == NULL)
            rc |= buf_append_lit(b, "null");
        else
            rc |= sink_put_json(b, res->body, res->body_len, res->body_is_json);
        rc |= buf_append_lit(b, "},\"error\":");
    }
    if (res->error_code == NULL) {
        rc |= buf_append_lit(b, "null");
    } else {
        rc |= buf_append_lit(b, "{\"code\":");
        rc |= buf_append_json_string(b, res->error_code, strlen(res->error_code));
        rc |= buf_append_lit(b, ",\"message\":");
        const char *msg = res->error_message != NULL ? res->error_message : "";
        rc |= buf_append_json_string(b, msg, strlen(msg));
        rc |= buf_append_char(b, '}');
    }
    if (req->metadata != NULL) {
        rc |= buf_append_lit(b, ",\"metadata\":");
        rc |= sink_put_json(b, req->metadata, req->metadata_len, 1);
    }
    rc |= buf_append_lit(b, "}\n");
    return rc == 0 ? 0 : SLUICE_ENOMEM;
}

/*
 * Writes the whole line. A descriptor someone made non-blocking (a pipe shared with a libuv
 * program) is waited on rather than failed. On an error after part of the line went out, a
 * regular file is cut back to its size before, so it never holds half a line.
 */
static int sink_write_line(struct sluice_jsonl_sink_s *sk, const char *p, size_t n) {
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(sk->fd, p + off, n - off);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = sk->fd, .events = POLLOUT};
            if (poll(&pfd, 1, -1) >= 0 || errno == EINTR)
                continue;
        }
        if (w == 0)
            errno = EIO;
        goto fail;
    }
    if (sk->regular)
        sk->size += (off_t)n;
    return 0;
fail:;
    int saved = errno;
    if (off > 0 && sk->regular) {
        if (ftruncate(sk->fd, sk->size) == 0 && !sk->append)
            lseek(sk->fd, sk->size, SEEK_SET);
    }
    errno = saved;
    /* A quota is a full disk to the user: both mean free space, then --resume. */
    return saved == ENOSPC || saved == EDQUOT ? SLUICE_ENOSPC : SLUICE_EIO;
}

int sluice_jsonl_sink_format(sluice_jsonl_sink_t *sk, const sluice_result_t *res, const char **line,
                             size_t *len) {
    if (sk == NULL || res == NULL || res->req == NULL)
        return SLUICE_EINVAL;
    if (sk->line.cap > SINK_LINE_KEEP)
        buf_free(&sk->line);
    buf_reset(&sk->line);
    int rc = sink_format(&sk->line, res);
    if (rc != 0)
        return rc;
    *line = sk->line.data;
    *len = sk->line.len;
    return 0;
}

int sluice_jsonl_sink_write(sluice_jsonl_sink_t *sk, const sluice_result_t *res) {
    const char *line;
    size_t len;
    int rc = sluice_jsonl_sink_format(sk, res, &line, &len);
    return rc != 0 ? rc : sink_write_line(sk, line, len);
}

int sluice_jsonl_sink_write_line(sluice_jsonl_sink_t *sk, const char *line, size_t len) {
    if (sk == NULL || line == NULL)
        return SLUICE_EINVAL;
    return sink_write_line(sk, line, len);
}

/* A result line nests a body checked at UTIL_JSON_MAX_DEPTH two levels down: in the line and in
   its response. */
#define SINK_LINE_DEPTH (UTIL_JSON_MAX_DEPTH + 2)

/* The members of a result line that say whether it is a success, as raw JSON text. The sink
   writes its keys without escapes, so they are compared as tokens; the last of repeated keys
   wins, as in the source. */
struct sink_read {
    struct util_span id, error;
};

static void sink_read_member(const struct util_span *k, const struct util_span *v, void *ud) {
    struct sink_read *r = ud;
    if (k->n == sizeof("\"custom_id\"") - 1 && memcmp(k->p, "\"custom_id\"", k->n) == 0)
        r->id = *v;
    else if (k->n == sizeof("\"error\"") - 1 && memcmp(k->p, "\"error\"", k->n) == 0)
        r->error = *v;
}

/*
 * The strict scanner reads the whole line once (so a line edited into something else is not
 * taken for a result), but builds nothing: the memory is the id's, whatever the body holds.
 */
int sluice_jsonl_read_success(const char *line, size_t len, char **id, size_t *id_cap) {
    struct sink_read r = {{NULL, 0}, {NULL, 0}};
    if (line == NULL || id == NULL || id_cap == NULL)
        return SLUICE_EINVAL;
    if (util_json_validate_members_depth(line, len, SINK_LINE_DEPTH, NULL, sink_read_member, &r) !=
            UTIL_JSON_OK ||
        r.id.p == NULL || r.id.p[0] != '"' || r.error.p == NULL || r.error.n != 4 ||
        memcmp(r.error.p, "null", 4) != 0)
        return 0;
    /* decoding never grows a string: the token's length is room enough, with the NUL */
    if (*id == NULL || *id_cap < r.id.n) {
        char *p = realloc(*id, r.id.n);
        if (p == NULL)
            return SLUICE_ENOMEM;
        *id = p;
        *id_cap = r.id.n;
    }
    size_t n = util_json_unescape(r.id.p, r.id.n, *id);
    (*id)[n] = '\0';
    return 1;
}

int sluice_jsonl_sink_sync(sluice_jsonl_sink_t *sk) {
    if (sk == NULL || !sk->regular)
        return 0;
    return fsync(sk->fd) == 0 ? 0 : SLUICE_EIO;
}

int sluice_jsonl_sink_close(sluice_jsonl_sink_t *sk) {
    if (sk == NULL)
        return 0;
    int rc = 0;
    if (sk->own_fd && close(sk->fd) != 0)
        rc = SLUICE_EIO;
    buf_free(&sk->line);
    free(sk);
    return rc;
}
