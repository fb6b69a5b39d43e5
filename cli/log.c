#include "log.h"

#include <string.h>

#include "util.h"

FILE *log_open(const char *path) {
    if (strcmp(path, "-") == 0)
        return stderr;
    FILE *f = fopen(path, "w");
    /* Line-buffered: after a crash, the log holds every attempt up to it. */
    if (f)
        setvbuf(f, NULL, _IOLBF, 0);
    return f;
}

/* s as a JSON string, or null. */
static int log_json(struct buf *b, const char *s) {
    return s ? buf_append_json_string(b, s, strlen(s)) : buf_append_lit(b, "null");
}

/* The line is built whole and written with one call, so a line-buffered log never holds half
   of one; when memory runs out the line is left out rather than written broken. */
void log_attempt(FILE *f, const sluice_attempt_t *a, double t_s) {
    struct buf b;
    buf_init(&b);
    int rc = buf_append_printf(&b, "{\"t\":%.3f,\"id\":", t_s);
    rc |= log_json(&b, a->req->custom_id ? a->req->custom_id : "");
    rc |= buf_append_printf(&b, ",\"line\":%llu,\"attempt\":%d,\"status\":%d,\"outcome\":",
                            (unsigned long long)a->req->line, a->attempt, a->status_code);
    rc |= log_json(&b, a->outcome ? a->outcome : "");
    rc |= buf_append_lit(&b, ",\"error\":");
    rc |= log_json(&b, a->error_code);
    rc |= buf_append_printf(&b, ",\"latency_ms\":%.1f,\"wait_ms\":%.0f}\n", a->latency_ms,
                            a->wait_ms);
    if (rc == 0)
        fwrite(b.data, 1, b.len, f);
    buf_free(&b);
}

int log_close(FILE *f) {
    if (!f)
        return 0;
    if (f == stderr)
        return fflush(f) == 0 ? 0 : -1;
    int bad = ferror(f);
    return fclose(f) == 0 && !bad ? 0 : -1;
}
