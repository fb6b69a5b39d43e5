/*
 * The plain-HTTP/1.1 fast path (see h1.h for what and why).
 *
 * A connection is a small state machine: it waits for its host's name lookup, connects,
 * carries one request at a time, and rests in its host's idle list between requests. Every
 * failure is reported from a loop callback, never from inside h1_send(), because the engine
 * counts an attempt in flight only once h1_send() has returned: a failure found while sending
 * is parked on the connection's timer (fired at once) and reported from there.
 *
 * Reads never stop: a socket is registered for "readable" once, when it connects, and stays so
 * until it closes. Bytes or an end of stream on an idle connection mean the server closed it
 * (or broke the protocol): it is closed at once, with no request lost.
 *
 * This file holds the interface, the hosts and the request head; a connection's life is in
 * h1_conn.c, the answer's parsing in h1_answer.c, what they share in h1_int.h.
 */
#include "h1_int.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sluice.h>

/* ---- the engine's header list, rendered once ---- */

static int name_is(const char *line, size_t n, const char *name) {
    size_t l = strlen(name);
    return n == l && strncasecmp(line, name, l) == 0;
}

/*
 * curl's rules for a custom header line: "Name: value" is sent; "Name:" with nothing after it
 * only removes a header curl would add (so it is not sent); "Name;" sends "Name:" empty.
 * A hand-made Content-Length or Transfer-Encoding, or a line break in a value, is declined.
 */
static int headers_render(struct h1 *c, const struct curl_slist *list) {
    size_t cap = 256, len = 0;
    char *out = malloc(cap);
    if (!out)
        return SLUICE_ENOMEM;
    c->hdr_host = c->hdr_ctype = c->hdr_accept = c->hdr_decline = 0;
    for (const struct curl_slist *l = list; l; l = l->next) {
        const char *d = l->data;
        if (strpbrk(d, "\r\n"))
            c->hdr_decline = 1;
        const char *colon = strchr(d, ':');
        const char *semi = strchr(d, ';');
        const char *sep = colon && (!semi || colon < semi) ? colon : semi;
        if (!sep)
            continue;
        size_t nl = (size_t)(sep - d);
        const char *v = sep + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*sep == ':' && *v == '\0')
            continue;
        if (*sep == ';' && *v != '\0')
            continue; /* curl ignores such a line */
        if (name_is(d, nl, "content-length") || name_is(d, nl, "transfer-encoding"))
            c->hdr_decline = 1;
        c->hdr_host |= name_is(d, nl, "host");
        c->hdr_ctype |= name_is(d, nl, "content-type");
        c->hdr_accept |= name_is(d, nl, "accept");
        size_t need = len + nl + strlen(v) + 5;
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            char *no = realloc(out, cap);
            if (!no) {
                free(out);
                return SLUICE_ENOMEM;
            }
            out = no;
        }
        memcpy(out + len, d, nl);
        len += nl;
        out[len++] = ':';
        if (*v) {
            out[len++] = ' ';
            size_t vl = strlen(v);
            memcpy(out + len, v, vl);
            len += vl;
        }
        out[len++] = '\r';
        out[len++] = '\n';
    }
    free(c->hdrs);
    c->hdrs = out;
    c->hdrs_len = len;
    c->hdr_list = list;
    return 0;
}

/* ---- hosts ---- */

static struct h1_host *host_find(struct h1 *c, const char *url) {
    for (int i = 0; i < c->n_hosts; i++) {
        struct h1_host *h = c->hosts[i];
        if (strncmp(url, h->origin, h->origin_len) == 0) {
            char b = url[h->origin_len];
            if (b == '\0' || b == '/' || b == '?' || b == '#')
                return h;
        }
    }
    return NULL;
}

static struct h1_host *host_get(struct h1 *c, const struct h1_origin *o, const char *url) {
    for (int i = 0; i < c->n_hosts; i++) {
        struct h1_host *h = c->hosts[i];
        if (h->port == o->port && strcasecmp(h->name, o->host) == 0)
            return h;
    }
    if (c->n_hosts == H1_MAX_HOSTS)
        return NULL;
    struct h1_host *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    snprintf(h->name, sizeof(h->name), "%s", o->host);
    h->port = o->port;
    h->c = c;
    h->gai.data = h;
    int v6 = strchr(o->host, ':') != NULL;
    size_t cap = strlen(o->host) + 32;
    h->host_line = malloc(cap);
    h->origin = strndup(url, o->authority_len);
    if (!h->host_line || !h->origin) {
        free(h->host_line);
        free(h->origin);
        free(h);
        return NULL;
    }
    h->origin_len = o->authority_len;
    /* RFC 9112 §3.2: the port only when it is not the scheme's default, as curl sends it. */
    if (o->port == 80)
        snprintf(h->host_line, cap, v6 ? "Host: [%s]\r\n" : "Host: %s\r\n", o->host);
    else
        snprintf(h->host_line, cap, v6 ? "Host: [%s]:%d\r\n" : "Host: %s:%d\r\n", o->host, o->port);
    h->host_line_len = strlen(h->host_line);
    h->proxied = h1_proxy_applies(o->host);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&h->addrs[0];
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h->addrs[0];
    if (uv_ip4_addr(o->host, o->port, s4) == 0 || uv_ip6_addr(o->host, o->port, s6) == 0) {
        h->numeric = 1;
        h->n_addrs = 1;
    }
    c->hosts[c->n_hosts++] = h;
    return h;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    struct h1_host *h = req->data;
    struct h1 *c = h->c;
    h->resolving = 0;
    c->pending--;
    if (status == 0) {
        h->n_addrs = 0;
        for (struct addrinfo *a = res; a && h->n_addrs < H1_MAX_ADDRS; a = a->ai_next) {
            if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
                a->ai_addrlen > sizeof(h->addrs[0]))
                continue;
            memcpy(&h->addrs[h->n_addrs], a->ai_addr, a->ai_addrlen);
            /* getaddrinfo got no service: the port goes in here */
            if (a->ai_family == AF_INET)
                ((struct sockaddr_in *)&h->addrs[h->n_addrs])->sin_port = htons((uint16_t)h->port);
            else
                ((struct sockaddr_in6 *)&h->addrs[h->n_addrs])->sin6_port =
                    htons((uint16_t)h->port);
            h->n_addrs++;
        }
        h->resolved_at = uv_now(c->loop);
    }
    if (res)
        uv_freeaddrinfo(res);
    struct h1_conn *w = h->waiting;
    h->waiting = NULL;
    while (w) {
        struct h1_conn *next = w->wait_next;
        w->wait_next = NULL;
        if (h->n_addrs > 0 && status == 0)
            h1_conn_connect(w);
        else
            h1_conn_fail(w, TRANSPORT_CONNECT, "Could not resolve host: %.100s", h->name);
        w = next;
    }
    if (c->freeing && c->pending == 0)
        h1_free(c);
}

static void host_wait(struct h1_host *h, struct h1_conn *k) {
    k->state = CONN_LOOKUP;
    k->wait_next = h->waiting;
    h->waiting = k;
    if (h->resolving)
        return;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(h->c->loop, &h->gai, on_resolved, h->name, NULL, &hints);
    if (rc < 0) {
        h->waiting = k->wait_next;
        k->wait_next = NULL;
        h1_conn_fail(k, TRANSPORT_CONNECT, "Could not resolve host: %.100s (%s)", h->name,
                     uv_strerror(rc));
        return;
    }
    h->resolving = 1;
    h->c->pending++;
}

/* ---- the request head ---- */

/* Builds the request line and headers into k->head. */
static int head_build(struct h1 *c, struct h1_conn *k, const char *method,
                      const struct h1_origin *o, int with_body, size_t body_len) {
    size_t ml = strlen(method);
    size_t need = ml + o->path_len + c->hdrs_len + k->h->host_line_len + 160;
    if (need > k->head_cap) {
        char *nh = realloc(k->head, need);
        if (!nh)
            return SLUICE_ENOMEM;
        k->head = nh;
        k->head_cap = need;
    }
    char *w = k->head;
    memcpy(w, method, ml);
    w += ml;
    *w++ = ' ';
    if (o->path_len == 0 || o->path[0] != '/')
        *w++ = '/';
    memcpy(w, o->path, o->path_len);
    w += o->path_len;
    memcpy(w, " HTTP/1.1\r\n", 11);
    w += 11;
    if (!c->hdr_host) {
        memcpy(w, k->h->host_line, k->h->host_line_len);
        w += k->h->host_line_len;
    }
    if (!c->hdr_accept) {
        memcpy(w, "Accept: */*\r\n", 13);
        w += 13;
    }
    memcpy(w, c->hdrs, c->hdrs_len);
    w += c->hdrs_len;
    if (with_body) {
        if (!c->hdr_ctype) {
            static const char ct[] = "Content-Type: application/x-www-form-urlencoded\r\n";
            memcpy(w, ct, sizeof(ct) - 1);
            w += sizeof(ct) - 1;
        }
        memcpy(w, "Content-Length: ", 16);
        w += 16;
        char digits[20];
        size_t nd = 0;
        do
            digits[nd++] = (char)('0' + body_len % 10);
        while ((body_len /= 10) > 0);
        while (nd > 0)
            *w++ = digits[--nd];
        *w++ = '\r';
        *w++ = '\n';
    }
    memcpy(w, "\r\n", 2);
    w += 2;
    k->head_len = (size_t)(w - k->head);
    return 0;
}

/* ---- the interface ---- */

int h1_new(struct h1 **out, uv_loop_t *loop, const struct h1_opts *o, h1_done_cb cb, void *ud) {
    struct h1 *c = calloc(1, sizeof(*c));
    if (!c)
        return SLUICE_ENOMEM;
    c->loop = loop;
    c->o = *o;
    if (c->o.connect_timeout_ms <= 0)
        c->o.connect_timeout_ms = H1_CONNECT_DEF;
    if (c->o.max_connections <= 0)
        c->o.max_connections = 64;
    c->cb = cb;
    c->ud = ud;
    c->q_tail = &c->q_head;
    *out = c;
    return 0;
}

int h1_send(struct h1 *c, struct xfer *x, const char *method, const char *url, const char *body,
            size_t body_len, const struct curl_slist *headers) {
    struct h1_origin parsed;
    const struct h1_origin *o = &c->memo;
    struct h1_host *h = c->memo_host;
    if (!h || strcmp(url, c->memo_url) != 0) {
        if (h1_parse_url(url, &parsed) < 0)
            return H1_DECLINED;
        h = host_find(c, url);
        if (!h && !(h = host_get(c, &parsed, url)))
            return H1_DECLINED; /* too many hosts, or no memory for one: curl copes */
        o = &parsed;
        size_t ul = strlen(url);
        if (ul < sizeof(c->memo_url)) {
            memcpy(c->memo_url, url, ul + 1);
            c->memo = parsed;
            c->memo.path = c->memo_url + (parsed.path - url);
            c->memo_host = h;
        } else {
            c->memo_host = NULL;
        }
    }
    if (h->proxied)
        return H1_DECLINED;
    if (headers != c->hdr_list || !c->hdrs) {
        int rc = headers_render(c, headers);
        if (rc < 0)
            return rc;
    }
    if (c->hdr_decline)
        return H1_DECLINED;
    struct h1_conn *k = h->idle;
    int fresh = 0;
    if (k) {
        h1_idle_unlink(k);
        k->state = CONN_BUSY;
    } else {
        if (!(k = h1_conn_new(c, h)))
            return SLUICE_ENOMEM;
        fresh = 1;
    }
    int with_body = strcmp(method, "GET") != 0 && (strcmp(method, "POST") == 0 || body_len > 0);
    if (head_build(c, k, method, o, with_body, body_len) < 0) {
        h1_conn_close(k);
        return SLUICE_ENOMEM;
    }
    k->x = x;
    x->h1 = k;
    k->body = with_body ? body : NULL;
    k->body_len = with_body ? body_len : 0;
    k->is_head = strcmp(method, "HEAD") == 0;
    k->resent = 0;
    k->parked = k->parked_next_addr = 0;
    k->start_ms = uv_now(c->loop);
    k->end_ms = c->o.timeout_ms > 0 ? k->start_ms + (uint64_t)c->o.timeout_ms : 0;
    k->connect_end_ms = k->start_ms + (uint64_t)c->o.connect_timeout_ms;
    if (!fresh) {
        h1_conn_write(k);
        return 0;
    }
    k->addr_i = 0;
    if (h->numeric ||
        (h->n_addrs > 0 && uv_now(c->loop) - h->resolved_at < (uint64_t)H1_DNS_TTL_MS))
        h1_conn_connect(k);
    else {
        host_wait(h, k);
        if (k->state == CONN_LOOKUP)
            h1_timer_arm(k);
    }
    return 0;
}

void h1_cancel(struct h1 *c, struct xfer *x) {
    (void)c;
    struct h1_conn *k = x->h1;
    if (!k)
        return;
    x->h1 = NULL;
    k->x = NULL;
    h1_conn_close(k);
}

static void on_flush_closed(uv_handle_t *hd) {
    struct h1 *c = hd->data;
    c->pending--;
    if (c->pending == 0)
        h1_free(c);
}

void h1_free(struct h1 *c) {
    if (!c)
        return;
    if (!c->freeing) {
        c->freeing = 1;
        while (c->all) {
            struct h1_conn *k = c->all;
            if (k->x) {
                k->x->h1 = NULL;
                k->x = NULL;
            }
            h1_conn_close(k); /* unlinks it */
        }
        for (int i = 0; i < c->n_hosts; i++)
            if (c->hosts[i]->resolving)
                uv_cancel((uv_req_t *)&c->hosts[i]->gai);
        if (c->flush_init) {
            c->pending++;
            uv_close((uv_handle_t *)&c->flush, on_flush_closed);
        }
    }
    if (c->pending > 0)
        return; /* the last close or lookup callback comes back here */
    for (int i = 0; i < c->n_hosts; i++) {
        free(c->hosts[i]->host_line);
        free(c->hosts[i]->origin);
        free(c->hosts[i]);
    }
    free(c->hdrs);
    free(c);
}
