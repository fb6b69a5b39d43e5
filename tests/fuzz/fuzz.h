/*
 * What the libFuzzer targets share (tests/fuzz/README.md). Each target is one file, fuzz_<name>.c,
 * with its seed corpus in corpus/<name>/. A target feeds its parser the input's bytes, then
 * checks properties that must hold for any input; FUZZ_CHECK() turns a broken one into a crash
 * that libFuzzer saves and reports like a memory error.
 */
#ifndef SLUICE_FUZZ_H
#define SLUICE_FUZZ_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond);            \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char fuzz_dir[64], fuzz_path[96];

/* Removes a scratch directory and what resume_load() may have left in it. */
static inline void fuzz_scratch_rm(const char *dir) {
    static const char *const names[] = {"file", "file.resume-tmp"};
    char p[160];
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static inline void fuzz_scratch_remove(void) {
    fuzz_scratch_rm(fuzz_dir);
}

/* The target's scratch file: one file in a directory of its own, sluice-fuzz.PID on /dev/shm
   when there is one (nothing reaches a disk, and an fsync costs nothing), removed at exit; and,
   as a failing target exits without cleaning up, those of processes that are gone. */
static inline const char *fuzz_scratch(void) {
    if (fuzz_path[0])
        return fuzz_path;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    DIR *d = opendir(base);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        long pid;
        char dir[sizeof fuzz_dir];
        if (sscanf(e->d_name, "sluice-fuzz.%ld", &pid) == 1 && pid > 0 &&
            kill((pid_t)pid, 0) != 0 && errno == ESRCH &&
            (size_t)snprintf(dir, sizeof dir, "%s/%s", base, e->d_name) < sizeof dir)
            fuzz_scratch_rm(dir);
    }
    if (d)
        closedir(d);
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/sluice-fuzz.%ld", base, (long)getpid());
    FUZZ_CHECK(mkdir(fuzz_dir, 0700) == 0 || errno == EEXIST, "mkdir %s", fuzz_dir);
    snprintf(fuzz_path, sizeof fuzz_path, "%s/file", fuzz_dir);
    atexit(fuzz_scratch_remove);
    return fuzz_path;
}

/* Makes the scratch file hold p[0..n). */
static inline void fuzz_scratch_write(const void *p, size_t n) {
    FILE *f = fopen(fuzz_scratch(), "w");
    FUZZ_CHECK(f && fwrite(p, 1, n, f) == n && fclose(f) == 0, "writing %s", fuzz_path);
}

#endif
