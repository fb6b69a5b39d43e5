/*
 * The fast path's rules for what it takes (h1.h): splitting an http:// URL, and whether the
 * proxy environment sends a host's requests through a proxy. Pure functions of their input and
 * the environment; whatever they are unsure of is left to libcurl.
 */
#include "h1.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int url_byte_ok(unsigned char ch) {
    return ch > 0x20 && ch < 0x7f;
}

int h1_parse_url(const char *url, struct h1_origin *o) {
    if (strncasecmp(url, "http://", 7) != 0)
        return -1;
    const char *a = url + 7, *p = a;
    while (*p && *p != '/' && *p != '?' && *p != '#') {
        if (!url_byte_ok((unsigned char)*p) || *p == '@')
            return -1; /* user info (curl sends it as Basic auth), or odd bytes: curl's */
        p++;
    }
    const char *hs = a, *he, *port = NULL;
    if (*hs == '[') {
        he = memchr(hs, ']', (size_t)(p - hs));
        if (!he)
            return -1;
        hs++;
        if (he + 1 < p) {
            if (he[1] != ':')
                return -1;
            port = he + 2;
        }
    } else {
        he = memchr(hs, ':', (size_t)(p - hs));
        if (he)
            port = he + 1;
        else
            he = p;
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl >= sizeof(o->host))
        return -1;
    memcpy(o->host, hs, hl);
    o->host[hl] = '\0';
    o->port = 80;
    if (port && port < p) {
        long v = 0;
        for (const char *q = port; q < p; q++) {
            if (*q < '0' || *q > '9' || v > 65535)
                return -1;
            v = v * 10 + (*q - '0');
        }
        if (v < 1 || v > 65535)
            return -1;
        o->port = (int)v;
    }
    o->authority_len = (size_t)(p - url);
    o->path = p;
    const char *q = p;
    while (*q && *q != '#') {
        if (!url_byte_ok((unsigned char)*q))
            return -1;
        q++;
    }
    o->path_len = (size_t)(q - p);
    return 0;
}

int h1_no_proxy_match(const char *no_proxy, const char *host) {
    size_t hl = strlen(host);
    while (hl > 0 && host[hl - 1] == '.')
        hl--;
    const char *p = no_proxy;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        size_t n = (size_t)(p - s);
        if (n == 0)
            continue;
        if (n == 1 && *s == '*')
            return 1;
        if (memchr(s, '/', n) || (memchr(s, ':', n) && *s != '['))
            continue; /* CIDR or host:port (or a bare IPv6): beyond us; no exemption here */
        if (*s == '.') {
            s++;
            n--;
        }
        if (*s == '[' && n >= 2 && s[n - 1] == ']') {
            s++;
            n -= 2;
        }
        while (n > 0 && s[n - 1] == '.')
            n--;
        if (n == 0)
            continue;
        if (n == hl && strncasecmp(s, host, n) == 0)
            return 1;
        if (hl > n && host[hl - n - 1] == '.' && strncasecmp(s, host + hl - n, n) == 0)
            return 1;
    }
    return 0;
}

int h1_proxy_applies(const char *host) {
    static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
    int set = 0;
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            set = 1;
    }
    if (!set)
        return 0;
    const char *np = getenv("no_proxy");
    if (!np || !*np)
        np = getenv("NO_PROXY");
    return !(np && *np && h1_no_proxy_match(np, host));
}
