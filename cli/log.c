#include "log.h"

#include <string.h>

FILE *log_open(const char *path) {
    if (strcmp(path, "-") == 0)
        return stderr;
    FILE *f = fopen(path, "w");
    /* Line-buffered: after a crash, the log holds every attempt up to it. */
    if (f)
        setvbuf(f, NULL, _IOLBF, 0);
    return f;
}

void log_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void log_attempt(FILE *f, const sluice_attempt_t *a, double t_s) {
    fprintf(f, "{\"t\":%.3f,\"id\":", t_s);
    log_json_string(f, a->req->custom_id ? a->req->custom_id : "");
    fprintf(f, ",\"line\":%llu,\"attempt\":%d,\"status\":%d,\"outcome\":",
            (unsigned long long)a->req->line, a->attempt, a->status_code);
    log_json_string(f, a->outcome ? a->outcome : "");
    fputs(",\"error\":", f);
    if (a->error_code)
        log_json_string(f, a->error_code);
    else
        fputs("null", f);
    fprintf(f, ",\"latency_ms\":%.1f,\"wait_ms\":%.0f}\n", a->latency_ms, a->wait_ms);
}

int log_close(FILE *f) {
    if (!f)
        return 0;
    if (f == stderr)
        return fflush(f) == 0 ? 0 : -1;
    int bad = ferror(f);
    return fclose(f) == 0 && !bad ? 0 : -1;
}
