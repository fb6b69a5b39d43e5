/* Joining the base URL and a line's url (url.h). */
#include "url.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

int url_is_absolute(const char *u) {
    return strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0;
}

size_t url_origin_len(const char *u) {
    size_t s = 0;
    if (isalpha((unsigned char)u[0])) {
        s = 1;
        while (isalnum((unsigned char)u[s]) || u[s] == '+' || u[s] == '-' || u[s] == '.')
            s++;
        s = strncmp(u + s, "://", 3) == 0 ? s + 3 : 0;
    }
    return s + strcspn(u + s, "/?#");
}

/* A bounded writer that counts what it could not write, as snprintf does. */
struct url_out {
    char *p;
    size_t cap, len;
};

static void url_put(struct url_out *o, const char *s, size_t n) {
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->p + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

long url_join(char *out, size_t cap, const char *base, const char *u) {
    struct url_out o = {out, cap, 0};
    size_t ol = url_origin_len(base);
    if (url_is_absolute(u)) {
        if (url_origin_len(u) != ol || strncasecmp(u, base, ol) != 0)
            return URL_ELSEWHERE;
        url_put(&o, u, strlen(u));
    } else {
        size_t pe = ol + strcspn(base + ol, "?#"), bl = pe;
        while (bl > ol && base[bl - 1] == '/')
            bl--;
        const char *bq = base[pe] == '?' ? base + pe + 1 : "";
        size_t bql = strcspn(bq, "#");
        const char *p = u;
        if (bl > ol && strncmp(p, "/v1", 3) == 0 && (p[3] == '\0' || strchr("/?#", p[3])))
            p += 3;
        url_put(&o, base, bl);
        if (*p != '\0' && *p != '/' && *p != '?' && *p != '#')
            url_put(&o, "/", 1);
        size_t pl = strcspn(p, "#"); /* the base's query goes before u's fragment, if any */
        url_put(&o, p, pl);
        if (bql > 0) {
            const char *q = memchr(p, '?', pl);
            if (!q)
                url_put(&o, "?", 1);
            else if (p[pl - 1] != '?' && p[pl - 1] != '&')
                url_put(&o, "&", 1);
            url_put(&o, bq, bql);
        }
        url_put(&o, p + pl, strlen(p + pl));
    }
    if (cap > 0)
        out[o.len < cap ? o.len : cap - 1] = '\0';
    return (long)o.len;
}
