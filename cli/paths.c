#include "paths.h"
#include "msg.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What makes two names one file. */
struct file_id {
    int known;        /* 0: nothing to compare (a terminal, a pipe, a missing directory) */
    dev_t dev;        /* the file's, or for a file yet to be created its directory's */
    ino_t ino;        /* likewise */
    const char *leaf; /* NULL for an existing file; else its last name */
    size_t leaf_len;
};

static void file_id_of(const struct path_use *u, struct file_id *id) {
    struct stat st;
    memset(id, 0, sizeof(*id));
    if (u->std_fd >= 0 && strcmp(u->path, "-") == 0) {
        /* `sluice run - -o x.jsonl <x.jsonl` reads and truncates one file, as x.jsonl does. */
        if (fstat(u->std_fd, &st) != 0 || !S_ISREG(st.st_mode))
            return;
    } else if (stat(u->path, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return;
    } else {
        if (errno != ENOENT)
            return;
        /* Not there yet: two names for it agree on its directory and its last name. */
        const char *slash = strrchr(u->path, '/');
        const char *leaf = slash ? slash + 1 : u->path;
        char dir[PATH_MAX];
        if (!*leaf)
            return;
        if (!slash)
            snprintf(dir, sizeof(dir), ".");
        else if (slash == u->path)
            snprintf(dir, sizeof(dir), "/");
        else
            snprintf(dir, sizeof(dir), "%.*s", (int)(slash - u->path), u->path);
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            return;
        id->leaf = leaf;
        id->leaf_len = strlen(leaf);
    }
    id->known = 1;
    id->dev = st.st_dev;
    id->ino = st.st_ino;
}

static int file_id_same(const struct file_id *a, const struct file_id *b) {
    if (!a->known || !b->known || a->dev != b->dev || a->ino != b->ino)
        return 0;
    if (!a->leaf || !b->leaf)
        return !a->leaf && !b->leaf;
    return a->leaf_len == b->leaf_len && memcmp(a->leaf, b->leaf, a->leaf_len) == 0;
}

/* Both are "-" for one standard stream that at least one of them writes. */
static int same_stream(const struct path_use *a, const struct path_use *b) {
    return a->std_fd >= 0 && a->std_fd == b->std_fd && strcmp(a->path, "-") == 0 &&
           strcmp(b->path, "-") == 0;
}

static const char *std_name(int fd) {
    return fd == 0 ? "stdin" : fd == 1 ? "stdout" : "stderr";
}

/* "INPUT in.jsonl", "OUTPUT - (stdout)". */
static void describe(char *buf, size_t n, const struct path_use *u) {
    if (u->std_fd >= 0 && strcmp(u->path, "-") == 0)
        snprintf(buf, n, "%s - (%s)", u->what, std_name(u->std_fd));
    else
        snprintf(buf, n, "%s %s", u->what, u->path);
}

static int is_std(const struct path_use *u) {
    return u->std_fd >= 0 && strcmp(u->path, "-") == 0;
}

static void say_same(const struct path_use *w, const struct path_use *o) {
    char wd[PATH_MAX + 64], od[PATH_MAX + 64], same[2 * PATH_MAX + 192];
    describe(wd, sizeof(wd), w);
    describe(od, sizeof(od), o);
    if (!is_std(w) && !is_std(o) && strcmp(w->path, o->path) == 0)
        snprintf(same, sizeof(same), "%s and %s are both %s", w->what, o->what, w->path);
    else if (is_std(w) || is_std(o))
        snprintf(same, sizeof(same), "%s and %s are the same file", wd, od);
    else
        snprintf(same, sizeof(same), "%s and %s are the same file (another name or a hard link)",
                 wd, od);
    if (o->writes)
        msg_say(stderr, "%s: both would be written into it; give %s another path\n", same, w->what);
    else
        msg_say(stderr, "%s: writing %s would destroy %s; give %s another path\n", same, w->what,
                o->what, w->what);
}

int paths_check_distinct(const struct path_use *uses, size_t n) {
    struct file_id ids[16];
    if (n > sizeof(ids) / sizeof(ids[0]))
        n = sizeof(ids) / sizeof(ids[0]);
    for (size_t i = 0; i < n; i++) {
        if (uses[i].path)
            file_id_of(&uses[i], &ids[i]);
        else
            ids[i].known = 0;
    }
    for (size_t j = 1; j < n; j++) {
        for (size_t i = 0; i < j; i++) {
            const struct path_use *a = &uses[i], *b = &uses[j];
            if (!a->path || !b->path || !(a->writes || b->writes))
                continue;
            if (!same_stream(a, b) && !file_id_same(&ids[i], &ids[j]))
                continue;
            /* The one that writes is the one to move; of two writers, the later option. */
            if (b->writes)
                say_same(b, a);
            else
                say_same(a, b);
            return -1;
        }
    }
    return 0;
}

/* The directory part of path: "." for a bare name, "/" for "/x". */
static void dir_of(const char *path, char *dir, size_t n) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, n, ".");
    else if (slash == path)
        snprintf(dir, n, "/");
    else
        snprintf(dir, n, "%.*s", (int)(slash - path), path);
}

/* The first leading part of dir ("a", "a/b", ...) that is missing (ENOENT) or is not a
   directory (ENOTDIR), in `bad`; 0 when there is none. */
static int first_bad_part(const char *dir, int want, char *bad, size_t n) {
    for (const char *p = dir;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        if (p > dir) {
            struct stat st;
            snprintf(bad, n, "%.*s", (int)(p - dir), dir);
            int rc = stat(bad, &st);
            if (want == ENOENT && rc != 0 && errno == ENOENT)
                return 1;
            if (want == ENOTDIR && rc == 0 && !S_ISDIR(st.st_mode))
                return 1;
        }
        if (*p == '\0')
            return 0;
    }
}

void paths_why_not(const char *path, int err, char *buf, size_t n) {
    char dir[PATH_MAX], bad[PATH_MAX];
    dir_of(path, dir, sizeof(dir));
    if (err == ENOENT) {
        snprintf(buf, n, "directory %s does not exist (mkdir -p %s creates it)", dir, dir);
    } else if (err == ENOTDIR && first_bad_part(dir, ENOTDIR, bad, sizeof(bad))) {
        snprintf(buf, n, "%s is not a directory", bad);
    } else if (err == EROFS) {
        snprintf(buf, n, "directory %s is on a read-only file system", dir);
    } else if ((err == EACCES || err == EPERM) && access(dir, W_OK | X_OK) != 0) {
        snprintf(buf, n, "directory %s is not writable (%s)", dir, strerror(err));
    } else {
        snprintf(buf, n, "%s", strerror(err));
    }
}

int paths_check_writable(const struct path_use *uses, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const struct path_use *u = &uses[i];
        if (!u->path || !u->writes || (u->std_fd >= 0 && strcmp(u->path, "-") == 0))
            continue;
        char dir[PATH_MAX], why[2 * PATH_MAX + 64];
        struct stat st;
        int err = 0;
        if (stat(u->path, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                err = EISDIR;
            else if (access(u->path, W_OK) != 0)
                err = errno;
        } else if (errno == ENOENT || errno == ENOTDIR) {
            /* To be created: its directory must be there and writable. */
            dir_of(u->path, dir, sizeof(dir));
            if (stat(dir, &st) != 0)
                err = errno;
            else if (!S_ISDIR(st.st_mode))
                err = ENOTDIR;
            else if (access(dir, W_OK | X_OK) != 0)
                err = errno;
        } else {
            err = errno;
        }
        if (!err)
            continue;
        paths_why_not(u->path, err, why, sizeof(why));
        msg_say(stderr, "cannot write %s %s: %s\n", u->what, u->path, why);
        return -1;
    }
    return 0;
}

void paths_input_why(const sluice_jsonl_source_t *js, int err, char *buf, size_t n) {
    const char *why = NULL;
    if (js && sluice_jsonl_source_gzip(js, &why) && why) {
        if (strcmp(why, "unexpected end of file") == 0)
            snprintf(buf, n,
                     "its gzip data ends before its end mark: the file is cut short (an "
                     "unfinished download or copy?) or corrupt");
        else
            snprintf(buf, n, "its gzip data is corrupt (zlib: %s)", why);
        return;
    }
    snprintf(buf, n, "%s", strerror(err));
}

char *paths_read_line(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *line = NULL;
    size_t cap = 0;
    errno = 0;
    ssize_t n = getline(&line, &cap, f);
    int saved = errno;
    fclose(f);
    if (n < 0) {
        free(line);
        errno = saved;
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
        line[--n] = '\0';
    return line;
}
