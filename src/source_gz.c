/*
 * gzip-compressed input (RFC 1952) for the JSONL source (source.h): the source finds the magic
 * bytes at the start of its input, whatever the file is called, and from then on puts what it
 * reads here and takes lines from what comes out. The compressed bytes wait in one buffer of
 * SOURCE_GZ_CHUNK; the inflated text goes straight into the source's read buffer, so a line is
 * parsed where it was inflated, as with read(2).
 *
 * Several members one after the other (`cat a.gz b.gz`) are one input, as gzip -d reads them.
 * Anything else after a member, or an input that ends inside one, is an error: a line is never
 * dropped without a word.
 */
#include "source.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define SOURCE_GZ_CHUNK ((size_t)64 << 10)

struct source_gz {
    z_stream z;
    unsigned char *in; /* compressed bytes: z.next_in .. z.next_in + z.avail_in are pending */
    size_t cap;
    int between;     /* a member ended and no byte of another has been inflated since */
    const char *why; /* zlib's words for what is wrong, once something is */
};

int source_gz_magic(const char *p, size_t n) {
    if (n == 0)
        return -1;
    if ((unsigned char)p[0] != 0x1f)
        return 0;
    if (n == 1)
        return -1;
    return (unsigned char)p[1] == 0x8b;
}

int source_gz_new(struct source_gz **out, const char *first, size_t n) {
    struct source_gz *g = calloc(1, sizeof(*g));
    *out = NULL;
    if (!g)
        return SLUICE_ENOMEM;
    g->cap = n > SOURCE_GZ_CHUNK ? n : SOURCE_GZ_CHUNK;
    g->in = malloc(g->cap);
    /* 16 + MAX_WBITS: a gzip header and trailer, nothing else (no zlib or raw deflate). */
    if (!g->in || inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK) {
        free(g->in);
        free(g);
        return SLUICE_ENOMEM;
    }
    memcpy(g->in, first, n);
    g->z.next_in = g->in;
    g->z.avail_in = (uInt)n;
    *out = g;
    return 0;
}

void source_gz_free(struct source_gz *g) {
    if (!g)
        return;
    inflateEnd(&g->z);
    free(g->in);
    free(g);
}

void source_gz_room(struct source_gz *g, char **at, size_t *n) {
    if (g->z.next_in != g->in) {
        memmove(g->in, g->z.next_in, g->z.avail_in);
        g->z.next_in = g->in;
    }
    *at = (char *)g->in + g->z.avail_in;
    *n = g->cap - g->z.avail_in;
}

void source_gz_fill(struct source_gz *g, size_t n) {
    g->z.avail_in += (uInt)n;
}

size_t source_gz_pending(const struct source_gz *g) {
    return g->z.avail_in;
}

/* Keeps the words zlib left for what went wrong (there may be none). */
static int source_gz_fail(struct source_gz *g, const char *fallback) {
    g->why = g->z.msg ? g->z.msg : fallback;
    return SLUICE_EPARSE;
}

int source_gz_inflate(struct source_gz *g, char *out, size_t room, size_t *got) {
    *got = 0;
    if (g->why)
        return SLUICE_EPARSE;
    while (room > 0 && g->z.avail_in > 0) {
        if (g->between) {
            /* Another member follows: it must be gzip too. */
            if (inflateReset(&g->z) != Z_OK)
                return source_gz_fail(g, "cannot start the next member");
            g->between = 0;
        }
        g->z.next_out = (unsigned char *)out;
        g->z.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
        uInt before = g->z.avail_out, in_before = g->z.avail_in;
        int rc = inflate(&g->z, Z_NO_FLUSH);
        size_t made = before - g->z.avail_out;
        *got += made;
        out += made;
        room -= made;
        if (rc == Z_STREAM_END)
            g->between = 1;
        else if (rc == Z_MEM_ERROR)
            return SLUICE_ENOMEM;
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return source_gz_fail(g, "invalid compressed data");
        if (made > 0 || g->z.avail_in == in_before)
            break; /* lines may be whole now: let the source look (or no progress possible) */
    }
    return 0;
}

int source_gz_end(struct source_gz *g) {
    if (g->why)
        return SLUICE_EPARSE;
    if (g->between)
        return 0;
    g->why = "unexpected end of file";
    return SLUICE_EPARSE;
}

const char *source_gz_why(const struct source_gz *g) {
    return g->why;
}
