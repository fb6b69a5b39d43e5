/*
 * A JSONL source's pipe or terminal read by the loop (source.h): libuv reads into the source's
 * own buffer, so a line is parsed where it arrived, as with read(2). A producer that writes a
 * line now and then no longer holds the loop in a blocking read meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "source.h"

struct source_pipe {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_pipe_t pipe;
        uv_tty_t tty;
        uv_tcp_t tcp;
    } h;
    sluice_jsonl_source_t *js;
    sluice_t *eng;
    int fd;
    int fd_flags; /* as found: uv_pipe_open() makes the descriptor non-blocking */
    int reading, ended;
    int waiting; /* next() answered SLUICE_EAGAIN: the engine waits to be told */
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    struct source_pipe *p = h->data;
    char *at;
    size_t n;
    (void)suggested;
    if (source_buf_room(p->js, &at, &n) < 0) {
        at = NULL;
        n = 0; /* the read callback gets UV_ENOBUFS */
    }
    *buf = uv_buf_init(at, (unsigned int)(n < UINT32_MAX ? n : UINT32_MAX));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    struct source_pipe *p = s->data;
    (void)buf;
    if (nread == 0)
        return; /* EAGAIN */
    if (nread > 0) {
        source_buf_fill(p->js, (size_t)nread);
    } else {
        /* The end, or a failed read: what came before is still used (libuv's codes are
           negated errnos; ENOBUFS was ENOMEM). */
        source_buf_end(p->js, nread == UV_EOF ? 0 : nread == UV_ENOBUFS ? ENOMEM : (int)-nread);
        p->ended = 1;
    }
    if (p->reading && !source_buf_wants(p->js)) {
        uv_read_stop(s);
        p->reading = 0;
    }
    if (p->waiting) {
        p->waiting = 0;
        sluice_source_ready(p->eng);
    }
}

static void on_closed(uv_handle_t *h) {
    free(h->data);
}

int source_pipe_open(struct source_pipe **out, sluice_jsonl_source_t *js, int fd, sluice_t *eng) {
    uv_handle_type type = uv_guess_handle(fd);
    *out = NULL;
    if (type != UV_NAMED_PIPE && type != UV_TTY && type != UV_TCP)
        return 0;
    struct source_pipe *p = calloc(1, sizeof(*p));
    if (!p)
        return SLUICE_ENOMEM;
    p->js = js;
    p->eng = eng;
    p->fd = fd;
    p->fd_flags = fcntl(fd, F_GETFL);
    uv_loop_t *loop = sluice_loop(eng);
    int rc, inited = 0;
    if (type == UV_TTY) {
        rc = uv_tty_init(loop, &p->h.tty, fd, 0);
    } else if (type == UV_TCP) {
        rc = uv_tcp_init(loop, &p->h.tcp);
        inited = rc == 0;
        rc = rc < 0 ? rc : uv_tcp_open(&p->h.tcp, fd);
    } else {
        rc = uv_pipe_init(loop, &p->h.pipe, 0);
        inited = rc == 0;
        rc = rc < 0 ? rc : uv_pipe_open(&p->h.pipe, fd);
    }
    p->h.handle.data = p;
    if (rc < 0) {
        if (inited)
            uv_close(&p->h.handle, on_closed); /* the loop frees it */
        else
            free(p);
        return SLUICE_EUV;
    }
    *out = p;
    source_pipe_pull(p, 0);
    return 0;
}

void source_pipe_pull(struct source_pipe *p, int waiting) {
    if (waiting)
        p->waiting = 1;
    if (!p->reading && !p->ended && source_buf_wants(p->js) &&
        uv_read_start(&p->h.stream, on_alloc, on_read) == 0)
        p->reading = 1;
}

void source_pipe_close(struct source_pipe *p) {
    if (p->reading)
        uv_read_stop(&p->h.stream);
    uv_close(&p->h.handle, on_closed);
    /* libuv leaves stdio descriptors open; give this one back as it was found. */
    if (p->fd_flags >= 0)
        fcntl(p->fd, F_SETFL, p->fd_flags);
}
