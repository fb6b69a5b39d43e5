#include "opts.h"
#include "msg.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define OPTS_MAX_NAMES 64 /* more than any of our commands has */
#define OPTS_WORD      64 /* typos are looked for in the first 63 bytes */

size_t opts_distance(const char *a, size_t na, const char *b, size_t nb) {
    /* Optimal string alignment: Levenshtein plus a swap of two neighbours as one edit. */
    size_t d[OPTS_WORD][OPTS_WORD];
    if (na >= OPTS_WORD)
        na = OPTS_WORD - 1;
    if (nb >= OPTS_WORD)
        nb = OPTS_WORD - 1;
    for (size_t i = 0; i <= na; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= na; i++) {
        for (size_t j = 1; j <= nb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[na][nb];
}

const char *opts_nearest(const char *word, size_t len, const char *const *names, size_t n,
                         const char *lead, char *buf, size_t size) {
    /* A typo is one or two edits; in a short word, one. */
    size_t best = len < 4 ? 1 : 2, hits = 0;
    size_t dist[OPTS_MAX_NAMES];
    if (n > OPTS_MAX_NAMES)
        n = OPTS_MAX_NAMES;
    for (size_t i = 0; i < n; i++) {
        dist[i] = opts_distance(word, len, names[i], strlen(names[i]));
        if (dist[i] < best)
            best = dist[i];
    }
    size_t at = 0;
    if (size > 0)
        buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        hits += dist[i] == best;
    for (size_t i = 0, k = 0; i < n && k < 3 && at < size; i++) {
        if (dist[i] != best)
            continue;
        k++;
        const char *sep = k == 1 ? "" : k == hits || k == 3 ? " or " : ", ";
        int w = snprintf(buf + at, size - at, "%s%s%s", sep, lead, names[i]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
    return buf;
}

/* The long options' names, for opts_nearest. */
static size_t long_names(const struct option *longs, const char **names) {
    size_t n = 0;
    for (; longs[n].name && n < OPTS_MAX_NAMES; n++)
        names[n] = longs[n].name;
    return n;
}

static const struct option *long_by_name(const struct option *longs, const char *name, size_t len) {
    for (; longs->name; longs++)
        if (strlen(longs->name) == len && strncmp(longs->name, name, len) == 0)
            return longs;
    return NULL;
}

/* The long options that `name` (len bytes) abbreviates, as getopt_long accepts, in `names`. */
static size_t long_prefixed(const struct option *longs, const char *name, size_t len,
                            const char **names) {
    size_t n = 0;
    for (; longs->name && n < OPTS_MAX_NAMES; longs++)
        if (strncmp(longs->name, name, len) == 0)
            names[n++] = longs->name;
    return n;
}

/* A long option that was not taken: unknown, ambiguous, or given a value it does not take. */
static void say_long(FILE *f, const char *arg, const struct option *longs) {
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const char *names[OPTS_MAX_NAMES];
    char near[256];
    const struct option *o = long_by_name(longs, name, len);
    size_t n = long_prefixed(longs, name, len, names);
    if (!o && n == 1)
        o = long_by_name(longs, names[0], strlen(names[0]));
    if (o && eq && o->has_arg == no_argument) {
        msg_say(f, "--%s takes no value (got %s)\n", o->name, arg);
        return;
    }
    if (n > 1) {
        msg_say(f, "--%.*s is ambiguous: ", (int)len, name);
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%s--%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
        fputs("?\n", f);
        return;
    }
    n = long_names(longs, names);
    opts_nearest(name, len, names, n, "--", near, sizeof(near));
    msg_say(f, "unknown option --%.*s%s%s%s\n", (int)len, name, *near ? "; did you mean " : "",
            near, *near ? "?" : "");
}

void opts_say_error(FILE *f, int ret, int argc, char **argv, const struct option *longs) {
    /* The word getopt stopped at: a long option is behind optind; a short one may be inside
       a cluster that optind has not left yet ("-rpm"). */
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    if (optopt && optind < argc && argv[optind][0] == '-' && argv[optind][1] != '-' &&
        strchr(argv[optind] + 1, optopt))
        arg = argv[optind];
    int is_long = strncmp(arg, "--", 2) == 0 && arg[2];
    if (ret == ':') {
        if (is_long)
            msg_say(f, "%s needs a value\n", arg);
        else
            msg_say(f, "-%c needs a value\n", optopt);
        return;
    }
    if (is_long) {
        say_long(f, arg, longs);
        return;
    }
    /* "-rpm" for "--rpm": a long name with one dash reads as the letters -r -p -m. */
    char near[256] = "";
    const char *names[OPTS_MAX_NAMES];
    if (arg[0] == '-' && strlen(arg) > 2) {
        size_t n = long_names(longs, names);
        opts_nearest(arg + 1, strcspn(arg + 1, "="), names, n, "--", near, sizeof(near));
    }
    if (*near)
        msg_say(f, "unknown option -%c (in %s); did you mean %s?\n", optopt, arg, near);
    else
        msg_say(f, "unknown option -%c\n", optopt ? optopt : '?');
}

int opts_parse_size(const char *s, uint64_t max, uint64_t *out) {
    static const char units[] = "BKMG";
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0) || !isdigit((unsigned char)s[0]) || strpbrk(s, "xX"))
        return -1; /* no hexadecimal, infinity or NaN, which strtod takes */
    double scale = 1;
    if (*end) {
        const char *u = strchr(units, toupper((unsigned char)*end));
        if (!u)
            return -1;
        for (const char *k = units; k < u; k++)
            scale *= 1024;
        end++;
        if (u > units && (*end == 'i' || *end == 'I'))
            end++;
        if (u > units && (*end == 'b' || *end == 'B'))
            end++;
    }
    v *= scale;
    if (*end || v < 1 || v > (double)max)
        return -1;
    *out = (uint64_t)v;
    return 0;
}
