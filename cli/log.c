#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The most a log keeps of its line buffer between lines: an id is rarely longer. */
#define LOG_LINE_KEEP 4096

struct log *log_open(const char *path) {
    struct log *l = malloc(sizeof(*l));
    if (!l)
        return NULL;
    buf_init(&l->line);
    l->f = strcmp(path, "-") == 0 ? stderr : fopen(path, "w");
    if (!l->f) {
        int saved = errno;
        free(l);
        errno = saved;
        return NULL;
    }
    /* Line-buffered: after a crash, the log holds every attempt up to it. */
    if (l->f != stderr)
        setvbuf(l->f, NULL, _IOLBF, 0);
    return l;
}

/* s as a JSON string, or null. */
static int log_json(struct buf *b, const char *s) {
    return s ? buf_append_json_string(b, s, strlen(s)) : buf_append_lit(b, "null");
}

/* The line is built whole and written with one call, so a line-buffered log never holds half
   of one; when memory runs out the line is left out rather than written broken. */
void log_attempt(struct log *l, const sluice_attempt_t *a, double t_s) {
    struct buf *b = &l->line;
    buf_reset_keep(b, LOG_LINE_KEEP);
    int rc = buf_append_printf(b, "{\"t\":%.3f,\"id\":", t_s);
    rc |= log_json(b, a->req->custom_id ? a->req->custom_id : "");
    rc |= buf_append_printf(b, ",\"line\":%llu,\"attempt\":%d,\"status\":%d,\"outcome\":",
                            (unsigned long long)a->req->line, a->attempt, a->status_code);
    rc |= log_json(b, a->outcome ? a->outcome : "");
    rc |= buf_append_lit(b, ",\"error\":");
    rc |= log_json(b, a->error_code);
    rc |=
        buf_append_printf(b, ",\"latency_ms\":%.1f,\"wait_ms\":%.0f}\n", a->latency_ms, a->wait_ms);
    if (rc == 0)
        fwrite(b->data, 1, b->len, l->f);
}

int log_close(struct log *l) {
    if (!l)
        return 0;
    FILE *f = l->f;
    buf_free(&l->line);
    free(l);
    if (f == stderr)
        return fflush(f) == 0 ? 0 : -1;
    int bad = ferror(f);
    return fclose(f) == 0 && !bad ? 0 : -1;
}
