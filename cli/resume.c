#include "resume.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"
#include "sluice.h"
#include "util.h"

struct resume_set {
    uint64_t *slots; /* 0 marks an empty slot; a hash of 0 is stored as 1 */
    size_t cap, n;
};

uint64_t resume_hash(const char *s, size_t len) {
    /* FNV-1a, then a final mix against clustering */
    uint64_t h = util_fnv1a64_short_basis(s, len);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h ? h : 1;
}

/* Resizes the table to `cap` slots. The table is not a power of two: it is sized to the number
   of lines of the file (h % cap), so it costs about 10 bytes per id, not up to 32 after a
   doubling. */
static int set_resize(struct resume_set *s, size_t cap) {
    if (cap < 16)
        cap = 16;
    uint64_t *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slots[i])
            continue;
        size_t j = s->slots[i] % cap;
        while (slots[j])
            j = j + 1 == cap ? 0 : j + 1;
        slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

static int set_add(struct resume_set *s, uint64_t h) {
    /* Linear probing stays quick up to 90% full; the file's line count normally means this
       never grows. */
    if ((s->n + 1) * 10 > s->cap * 9 && set_resize(s, s->cap + s->cap / 2 + 16) < 0)
        return -1;
    size_t j = h % s->cap;
    while (s->slots[j]) {
        if (s->slots[j] == h)
            return 0;
        j = j + 1 == s->cap ? 0 : j + 1;
    }
    s->slots[j] = h;
    s->n++;
    return 0;
}

static int set_has(const struct resume_set *s, uint64_t h) {
    if (!s || !s->cap)
        return 0;
    size_t j = h % s->cap;
    while (s->slots[j]) {
        if (s->slots[j] == h)
            return 1;
        j = j + 1 == s->cap ? 0 : j + 1;
    }
    return 0;
}

/* Lines in a file (an upper bound on its success lines), read in large blocks. */
static size_t count_lines(FILE *f) {
    char block[1 << 16];
    size_t n = 0, got;
    while ((got = fread(block, 1, sizeof(block), f)) > 0)
        for (char *p = block; (p = memchr(p, '\n', (size_t)(block + got - p))); p++)
            n++;
    rewind(f);
    return n;
}

int resume_output_lines(const char *path, uint64_t *lines, uint64_t *results) {
    *lines = *results = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        (*lines)++;
        if (line[0] == '{' && memmem(line, (size_t)n, "\"custom_id\"", 11))
            (*results)++;
    }
    int bad = ferror(f);
    free(line);
    fclose(f);
    return bad ? -1 : 0;
}

int resume_skip(void *set, const char *custom_id) {
    return set_has(set, resume_hash(custom_id, strlen(custom_id)));
}

size_t resume_count(const struct resume_set *s) {
    return s ? s->n : 0;
}

size_t resume_bytes(const struct resume_set *s) {
    return s ? s->cap * sizeof(*s->slots) : 0;
}

void resume_free(struct resume_set *s) {
    if (!s)
        return;
    free(s->slots);
    free(s);
}

/*
 * The rewrite of OUTPUT goes through a temp file (*tmp, malloc'd, beside it; *outf open on it,
 * with OUTPUT's mode) and a rename. Returns 0, or -1 with err set (*tmp may still need freeing).
 */
static int rewrite_open(const char *path, FILE *in, char **tmp, FILE **outf, char *err,
                        size_t errlen) {
    size_t tl = strlen(path) + 16;
    if (!(*tmp = malloc(tl))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(*tmp, tl, "%s.resume-tmp", path);
    if (!(*outf = fopen(*tmp, "w"))) {
        char why[512];
        paths_why_not(*tmp, errno, why, sizeof(why));
        snprintf(err, errlen, "cannot rewrite %s (through %s): %s", path, *tmp, why);
        return -1;
    }
    struct stat st;
    if (fstat(fileno(in), &st) == 0)
        fchmod(fileno(*outf), st.st_mode & 07777); /* the rewrite keeps OUTPUT's mode */
    return 0;
}

/* Makes the rewrite durable and puts it in OUTPUT's place; *outf is closed either way (NULL
   after), and on failure err says why (the caller removes tmp). */
static int rewrite_commit(FILE **outf, const char *tmp, const char *path, char *err,
                          size_t errlen) {
    FILE *f = *outf;
    *outf = NULL;
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    int saved = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        snprintf(err, errlen, "writing %s failed: %s", tmp, strerror(saved));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot replace %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int load(struct resume_set **out, const char *path, int rewrite, char *err, size_t errlen);

int resume_load(struct resume_set **out, const char *path, char *err, size_t errlen) {
    return load(out, path, 1, err, errlen);
}

int resume_peek(struct resume_set **out, const char *path, char *err, size_t errlen) {
    return load(out, path, 0, err, errlen);
}

static int load(struct resume_set **out, const char *path, int rewrite, char *err, size_t errlen) {
    struct resume_set *s = calloc(1, sizeof(*s));
    char *tmp = NULL, *line = NULL, *id = NULL;
    size_t id_cap = 0;
    FILE *in = NULL, *outf = NULL;
    if (!s)
        goto oom;
    *out = s;
    in = fopen(path, "r");
    if (!in) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    size_t lines = count_lines(in);
    if (set_resize(s, lines + lines / 8 + 16) < 0)
        goto oom;
    if (rewrite && rewrite_open(path, in, &tmp, &outf, err, errlen) < 0)
        goto fail;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, in)) > 0) {
        if (line[n - 1] != '\n')
            break; /* a torn last line from a crash: dropped, its id runs again */
        /* The sink's own reader knows every line the sink can write, however deep its body
           nests, and builds nothing however long it is. */
        int ok = sluice_jsonl_read_success(line, (size_t)n - 1, &id, &id_cap);
        if (ok < 0)
            goto oom;
        if (ok == 0)
            continue; /* failed or unreadable: dropped, its id runs again */
        uint64_t h = resume_hash(id, strlen(id));
        if (set_has(s, h))
            continue; /* a second success for one id: keep the first only */
        if (set_add(s, h) < 0)
            goto oom;
        if (outf && fwrite(line, 1, (size_t)n, outf) != (size_t)n)
            goto write_fail;
    }
    if (ferror(in)) {
        snprintf(err, errlen, "reading %s failed: %s", path, strerror(errno));
        goto fail;
    }
    if (outf && rewrite_commit(&outf, tmp, path, err, errlen) < 0)
        goto fail;
    fclose(in);
    free(line);
    free(tmp);
    free(id);
    return 0;
write_fail:
    snprintf(err, errlen, "writing %s failed: %s", tmp, strerror(errno));
    goto fail;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    if (outf) {
        fclose(outf);
        unlink(tmp);
    }
    if (in)
        fclose(in);
    free(line);
    free(tmp);
    free(id);
    resume_free(s);
    *out = NULL;
    return -1;
}
