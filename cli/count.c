#include "count.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>
#include <zlib.h>

#define COUNT_CHUNK ((size_t)1 << 20)

struct count {
    int fd;
    uv_thread_t thread;
    atomic_int stop;
    atomic_int done; /* 1: counted; -1: failed */
    _Atomic uint64_t lines;
};

/* A line counts when it holds anything but the blanks the source skips (' ', '\t', '\r'). */
uint64_t count_lines(const char *p, size_t n, int *in_line) {
    uint64_t lines = 0;
    const char *end = p + n;
    while (p < end) {
        if (!*in_line) {
            /* Most lines start with '{': one look decides, then memchr skips the rest. */
            while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
                p++;
            if (p == end)
                break;
            if (*p == '\n') {
                p++;
                continue;
            }
            *in_line = 1;
        }
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        lines++;
        *in_line = 0;
        p = nl + 1;
    }
    return lines;
}

/* gzip input (the source reads it too, whatever its name) is counted through zlib: its lines
   are those of the text inside. NULL for plain input, or when zlib cannot start. */
static gzFile count_gz_open(int fd, int *failed) {
    unsigned char magic[2];
    *failed = 0;
    if (pread(fd, magic, sizeof(magic), 0) != 2 || magic[0] != 0x1f || magic[1] != 0x8b)
        return NULL;
    int dup_fd = dup(fd); /* gzclose() closes it; count_free() closes fd */
    gzFile gz = dup_fd >= 0 ? gzdopen(dup_fd, "rb") : NULL;
    if (!gz) {
        if (dup_fd >= 0)
            close(dup_fd);
        *failed = 1;
        return NULL;
    }
    gzbuffer(gz, 128 << 10);
    return gz;
}

static void count_thread(void *arg) {
    struct count *cn = arg;
    char *buf = malloc(COUNT_CHUNK);
    uint64_t lines = 0;
    int in_line = 0, failed;
    ssize_t n = -1;
    gzFile gz = count_gz_open(cn->fd, &failed);
    while (buf && !failed && !atomic_load(&cn->stop)) {
        n = gz ? gzread(gz, buf, (unsigned)COUNT_CHUNK) : read(cn->fd, buf, COUNT_CHUNK);
        if (n <= 0)
            break;
        lines += count_lines(buf, (size_t)n, &in_line);
    }
    free(buf);
    if (gz) {
        int zerr = Z_OK;
        gzerror(gz, &zerr);
        if (zerr != Z_OK)
            n = -1; /* cut short or corrupt: the source says so, with no total */
        gzclose(gz);
    }
    if (n == 0) {
        atomic_store(&cn->lines, lines + (uint64_t)in_line); /* a last line without '\n' */
        atomic_store(&cn->done, 1);
    } else {
        atomic_store(&cn->done, -1);
    }
}

struct count *count_start(const char *path) {
    struct stat st;
    if (strcmp(path, "-") == 0 || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    struct count *cn = calloc(1, sizeof(*cn));
    if (!cn)
        return NULL;
    cn->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (cn->fd < 0)
        goto fail;
    atomic_init(&cn->stop, 0);
    atomic_init(&cn->done, 0);
    atomic_init(&cn->lines, 0);
    if (uv_thread_create(&cn->thread, count_thread, cn) != 0) {
        close(cn->fd);
        goto fail;
    }
    return cn;
fail:
    free(cn);
    return NULL;
}

int count_result(struct count *cn, uint64_t *lines) {
    if (!cn || atomic_load(&cn->done) != 1)
        return 0;
    *lines = atomic_load(&cn->lines);
    return 1;
}

int count_failed(struct count *cn) {
    return cn && atomic_load(&cn->done) == -1;
}

void count_free(struct count *cn) {
    if (!cn)
        return;
    atomic_store(&cn->stop, 1);
    uv_thread_join(&cn->thread);
    close(cn->fd);
    free(cn);
}
