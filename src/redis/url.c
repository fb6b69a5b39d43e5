/*
 * Redis URLs (conn.h): redis://[[user]:password@]host[:port][/db] and unix:///path[?db=n],
 * the password from SLUICE_REDIS_PASSWORD when the URL has none. No message quotes the URL:
 * with a forgotten '@' the password reads as a host. Messages name the server with
 * redis_url_describe(), which shows a password as "***".
 */
#include "conn.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sluice.h"

static void url_error(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (unsigned char)tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A malloc'ed, percent-decoded copy of s[0..n) (RFC 3986 §2.1). Returns NULL with *bad set
   when an escape is malformed or decodes to NUL, NULL alone when out of memory. */
static char *url_decode(const char *s, size_t n, int *bad) {
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[j++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? hex_value((unsigned char)s[i + 1]) : -1;
        int lo = i + 2 < n ? hex_value((unsigned char)s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            *bad = 1;
            return NULL;
        }
        out[j++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[j] = '\0';
    return out;
}

/* Parses the decimal s[0..n) into *v (0..max). Returns 0 or -1. */
static int parse_uint(const char *s, size_t n, long max, int *v) {
    if (n == 0 || n > 9)
        return -1;
    long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    if (x > max)
        return -1;
    *v = (int)x;
    return 0;
}

/* "[user]:password" in s[0..n) into u->user and u->password (decoded, empty means none). */
static int url_parse_userinfo(const char *s, size_t n, struct redis_url *u, char *err,
                              size_t errlen) {
    const char *colon = memchr(s, ':', n);
    if (!colon) {
        /* The text may be a password typed without its ':': don't quote it. */
        url_error(err, errlen,
                  "the user info needs a ':' before the password "
                  "(redis://[user]:password@host)");
        return SLUICE_EINVAL;
    }
    size_t ulen = (size_t)(colon - s), plen = n - ulen - 1;
    int bad = 0;
    if (ulen > 0 && !(u->user = url_decode(s, ulen, &bad)))
        goto fail;
    if (plen > 0 && !(u->password = url_decode(colon + 1, plen, &bad)))
        goto fail;
    return 0;
fail:
    if (!bad)
        return SLUICE_ENOMEM;
    url_error(err, errlen, "bad %%-escape in the URL's user info");
    return SLUICE_EINVAL;
}

/* "host[:port][/db]" or "[v6]:port/db" of a redis:// URL. */
static int url_parse_tcp(const char *p, struct redis_url *u, char *err, size_t errlen) {
    const char *host = p, *end;
    if (*p == '[') {
        host = p + 1;
        end = strchr(host, ']');
        if (!end) {
            url_error(err, errlen, "missing ']' after the IPv6 address");
            return SLUICE_EINVAL;
        }
        p = end + 1;
    } else {
        end = host + strcspn(host, ":/?#");
        p = end;
    }
    if (end == host) {
        url_error(err, errlen, "missing host in redis:// URL");
        return SLUICE_EINVAL;
    }
    if (!(u->host = strndup(host, (size_t)(end - host))))
        return SLUICE_ENOMEM;
    /* Numbers are not quoted in errors: with the '@' forgotten, "user:secret" reads as a host
       and a port. */
    if (*p == ':') {
        size_t n = strcspn(p + 1, "/");
        if (parse_uint(p + 1, n, 65535, &u->port) != 0 || u->port == 0) {
            url_error(err, errlen, "bad port in redis:// URL (expected 1-65535)");
            return SLUICE_EINVAL;
        }
        p += 1 + n;
    }
    if (*p == '/') {
        p++;
        size_t n = strlen(p);
        if (n > 0 && parse_uint(p, n, INT_MAX, &u->db) != 0) {
            url_error(err, errlen, "bad db in redis:// URL (expected /n, n >= 0)");
            return SLUICE_EINVAL;
        }
        p += n;
    }
    if (*p) {
        url_error(err, errlen, "unexpected text after the host in redis:// URL");
        return SLUICE_EINVAL;
    }
    return 0;
}

/* "/path[?db=n]" of a unix:// URL. */
static int url_parse_unix(const char *p, struct redis_url *u, char *err, size_t errlen) {
    size_t n = strcspn(p, "?");
    if (*p != '/' || n < 2) {
        url_error(err, errlen, "missing socket path in unix:// URL (unix:///path)");
        return SLUICE_EINVAL;
    }
    if (!(u->path = strndup(p, n)))
        return SLUICE_ENOMEM;
    p += n;
    if (*p == '?') {
        if (strncmp(p, "?db=", 4) != 0) {
            url_error(err, errlen, "unknown parameter in unix:// URL (only ?db=n)");
            return SLUICE_EINVAL;
        }
        if (parse_uint(p + 4, strlen(p + 4), INT_MAX, &u->db) != 0) {
            url_error(err, errlen, "bad db in unix:// URL (expected ?db=n, n >= 0)");
            return SLUICE_EINVAL;
        }
    }
    return 0;
}

int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen) {
    struct redis_url u = {.port = 6379};
    int rc = SLUICE_EINVAL;
    url_error(err, errlen, "%s", "");
    if (!url || !out) {
        url_error(err, errlen, "no URL");
        return SLUICE_EINVAL;
    }
    int is_unix = 0;
    const char *p;
    if (strncasecmp(url, "redis://", 8) == 0) {
        p = url + 8;
    } else if (strncasecmp(url, "unix://", 7) == 0) {
        p = url + 7;
        is_unix = 1;
    } else if (strncasecmp(url, "rediss://", 9) == 0) {
        url_error(err, errlen, "rediss:// (TLS) is not supported: use redis:// or unix://");
        goto fail;
    } else {
        url_error(err, errlen, "unsupported Redis URL scheme: expected redis:// or unix://");
        goto fail;
    }
    /* The user info ends at the last '@' for redis:// (a raw password may hold '@' or '/'; the
       rest of such a URL cannot), and within the authority for unix://, whose path may. */
    const char *at = is_unix ? memchr(p, '@', strcspn(p, "/")) : strrchr(p, '@');
    if (at) {
        if ((rc = url_parse_userinfo(p, (size_t)(at - p), &u, err, errlen)) < 0)
            goto fail;
        p = at + 1;
    }
    rc = is_unix ? url_parse_unix(p, &u, err, errlen) : url_parse_tcp(p, &u, err, errlen);
    if (rc < 0)
        goto fail;
    const char *env = getenv("SLUICE_REDIS_PASSWORD");
    if (!u.password && env && *env && !(u.password = strdup(env))) {
        rc = SLUICE_ENOMEM;
        goto fail;
    }
    *out = u;
    return 0;
fail:
    if (rc == SLUICE_ENOMEM)
        url_error(err, errlen, "out of memory");
    redis_url_free(&u);
    memset(out, 0, sizeof(*out));
    return rc;
}

void redis_url_describe(const struct redis_url *u, char *buf, size_t size) {
    if (!buf || size == 0)
        return;
    /* "[user]:***@" when there is a password, "user@" when only a user. */
    char who[160];
    snprintf(who, sizeof(who), "%s%s%s", u->user ? u->user : "", u->password ? ":***" : "",
             u->user || u->password ? "@" : "");
    if (u->path) {
        if (u->db)
            snprintf(buf, size, "unix://%s%s?db=%d", who, u->path, u->db);
        else
            snprintf(buf, size, "unix://%s%s", who, u->path);
        return;
    }
    const char *host = u->host ? u->host : "";
    int v6 = strchr(host, ':') != NULL;
    snprintf(buf, size, "redis://%s%s%s%s:%d/%d", who, v6 ? "[" : "", host, v6 ? "]" : "", u->port,
             u->db);
}

void redis_url_free(struct redis_url *u) {
    if (!u)
        return;
    free(u->host);
    free(u->path);
    free(u->user);
    free(u->password);
    memset(u, 0, sizeof(*u));
}
