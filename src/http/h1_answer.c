/*
 * The answer on a fast-path connection (h1.c for the whole): bytes read into the client's one
 * buffer are fed to http_parser; header lines go to the classifier and the body into the xfer
 * as they come, and the attempt is reported once the answer is complete or cut short.
 */
#include "h1_int.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static void line_flush(struct h1_conn *k) {
    if (k->line_len == 0)
        return;
    k->line[k->line_len++] = '\r';
    k->line[k->line_len++] = '\n';
    if (!k->interim)
        xfer_header(k->x, k->line, k->line_len);
    k->line_len = 0;
    k->in_value = 0;
}

static void line_add(struct h1_conn *k, const char *at, size_t n) {
    size_t room = H1_LINE_MAX - k->line_len;
    if (n > room)
        n = room;
    memcpy(k->line + k->line_len, at, n);
    k->line_len += n;
}

static int on_message_begin(http_parser *p) {
    struct h1_conn *k = p->data;
    k->line_len = 0;
    k->in_value = 0;
    k->interim = 0;
    xfer_answer_begin(k->x);
    k->x->body_len = 0;
    return 0;
}

/* 1xx answers (100 Continue, 103 Early Hints) come before the real one (RFC 9110 §15.2): their
   headers are not the answer's. */
static int on_status(http_parser *p, const char *at, size_t n) {
    struct h1_conn *k = p->data;
    (void)at;
    (void)n;
    k->interim = p->status_code >= 100 && p->status_code < 200 && p->status_code != 101;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n) {
    struct h1_conn *k = p->data;
    if (k->in_value)
        line_flush(k);
    line_add(k, at, n);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n) {
    struct h1_conn *k = p->data;
    if (!k->in_value) {
        line_add(k, ": ", 2);
        k->in_value = 1;
    }
    line_add(k, at, n);
    return 0;
}

static int on_headers_complete(http_parser *p) {
    struct h1_conn *k = p->data;
    k->interim = p->status_code >= 100 && p->status_code < 200 && p->status_code != 101;
    line_flush(k);
    if (!k->interim)
        k->status = p->status_code;
    if (k->is_head)
        return 1;
    /* An answer that announces more than the caller takes is refused before its body. */
    if (!k->interim && !(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX &&
        xfer_body_length(k->x, p->content_length) < 0) {
        k->body_err = 1;
        return -1;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n) {
    struct h1_conn *k = p->data;
    if (k->interim)
        return 0;
    if (xfer_body_append(k->x, at, n) < 0) {
        k->body_err = 1;
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p) {
    struct h1_conn *k = p->data;
    if (k->interim)
        return 0;
    k->complete = 1;
    k->keep = http_should_keep_alive(p);
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Feeds the answer's bytes (len 0: the end of the stream) and reports the attempt when it is
   over. */
static void conn_parse(struct h1_conn *k, const char *data, size_t len) {
    size_t n = http_parser_execute(&k->parser, &parser_settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&k->parser);
    if (k->complete) {
        if (n < len || k->parser.upgrade)
            k->keep = 0; /* more than one answer to one request: not a connection to reuse */
        h1_conn_finish(k, TRANSPORT_OK);
        return;
    }
    if (k->body_err) {
        if (k->x->too_large) {
            char msg[sizeof(k->x->err)]; /* the report copies it into x->err */
            snprintf(msg, sizeof(msg), "%s", k->x->err);
            h1_conn_report(k, TRANSPORT_TOO_LARGE, msg);
        } else {
            h1_conn_report(k, TRANSPORT_OTHER, "Failure writing output to destination");
        }
        return;
    }
    if (len == 0) {
        /* curl's words for an answer cut short */
        char msg[H1_MSG_MAX];
        if (!(k->parser.flags & F_CHUNKED) && k->parser.content_length != ULLONG_MAX &&
            k->parser.content_length > 0)
            snprintf(msg, sizeof(msg), "transfer closed with %llu bytes remaining to read",
                     (unsigned long long)k->parser.content_length);
        else
            snprintf(msg, sizeof(msg), "transfer closed with outstanding read data remaining");
        h1_conn_report(k, TRANSPORT_RESET, msg);
        return;
    }
    if (e != HPE_OK) {
        char msg[H1_MSG_MAX];
        snprintf(msg, sizeof(msg), "Weird server reply: %s", http_errno_description(e));
        h1_conn_report(k, TRANSPORT_RESET, msg);
    }
}

void h1_on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf) {
    struct h1_conn *k = hd->data;
    (void)suggested;
    *buf = uv_buf_init(k->c->rbuf, sizeof(k->c->rbuf));
}

void h1_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    struct h1_conn *k = s->data;
    if (nread == 0 || k->state == CONN_CLOSING || k->parked)
        return;
    if (k->state != CONN_BUSY || !k->x) {
        /* Idle: the server closed it, or said something unasked. Either way, done with it. */
        h1_conn_close(k);
        return;
    }
    if (nread > 0) {
        k->got += (size_t)nread;
        conn_parse(k, buf->base, (size_t)nread);
        return;
    }
    if (k->got == 0) {
        if (h1_conn_dead_reuse(k))
            return;
        if (nread == UV_EOF)
            h1_conn_report(k, TRANSPORT_RESET, "Empty reply from server");
        else {
            char msg[H1_MSG_MAX];
            snprintf(msg, sizeof(msg), "Recv failure: %s", uv_strerror((int)nread));
            h1_conn_report(k, TRANSPORT_RESET, msg);
        }
        return;
    }
    if (nread == UV_EOF) {
        conn_parse(k, NULL, 0); /* an answer that ends with the connection completes now */
        return;
    }
    char msg[H1_MSG_MAX];
    snprintf(msg, sizeof(msg), "Recv failure: %s", uv_strerror((int)nread));
    h1_conn_report(k, TRANSPORT_RESET, msg);
}
