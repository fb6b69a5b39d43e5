/*
 * The input line parser (src/source.c). The input is a whole JSONL file (the scratch file of
 * fuzz.h), read as `sluice run` reads it, with --url and without. Then each line is parsed
 * alone, as a worker parses a job's lines (source_parse). Properties:
 *   - every line that is not blank (or skipped) becomes one request, with its line number;
 *   - an invalid request carries no method, url or body; a valid one has a method that is an
 *     HTTP token, a url without spaces or control bytes, a body that is a JSON object, and
 *     metadata (if any) that is one too; its prompt estimate is within its estimate;
 *   - no two requests handed out carry the same custom_id (one result line per id), but for
 *     the failed ones that say they repeat an earlier line's id, and those of lines that could
 *     not be read, whose line-N id is not counted with the others (a later line may name the
 *     same id: see tests/fuzz/README.md);
 *   - the worker's parse of a line gives the same request as the reader's, but for the
 *     duplicate check, which only the reader makes (for input that is text: gzip's magic bytes
 *     may make the reader inflate it first).
 */
#include <string.h>

#include "fuzz.h"
#include "source.h"
#include "util.h"

#define MAX_LINES 512

/* What the reader made of one line: the request (a copy) or nothing. */
struct seen_line {
    int handed;      /* a request came out of this line */
    int duplicate;   /* ... invalid as a duplicate custom_id */
    int fallback;    /* ... invalid, with the line-N id the source gave it */
    struct buf flat; /* the request's fields, one after the other, for comparing */
    uint64_t hash;   /* util_hash64 of its custom_id */
};

static struct seen_line lines[MAX_LINES + 1];

/* --resume's callback: ids that begin with "skip" are done already. */
static int skip_done(void *ud, const char *custom_id) {
    (void)ud;
    return strncmp(custom_id, "skip", 4) == 0;
}

static void flat_add(struct buf *b, const char *s, size_t n) {
    FUZZ_CHECK(buf_append_u64(b, s ? n : UINT64_MAX) == 0, "out of memory");
    FUZZ_CHECK(buf_append_char(b, ':') == 0 && (!s || buf_append(b, s, n) == 0), "out of memory");
}

/* A request's fields in one string (equal requests give equal strings). */
static void flatten(struct buf *b, const sluice_request_t *q) {
    buf_reset(b);
    flat_add(b, q->custom_id, strlen(q->custom_id));
    flat_add(b, q->method, q->method ? strlen(q->method) : 0);
    flat_add(b, q->url, q->url ? strlen(q->url) : 0);
    flat_add(b, q->body, q->body_len);
    flat_add(b, q->metadata, q->metadata_len);
    flat_add(b, q->invalid, q->invalid ? strlen(q->invalid) : 0);
    flat_add(b, q->model, q->model ? strlen(q->model) : 0);
    FUZZ_CHECK(buf_append_u64(b, q->est_tokens) == 0, "out of memory");
    FUZZ_CHECK(buf_append_u64(b, q->est_prompt_tokens) == 0, "out of memory");
}

static int is_token(const char *s) {
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return 0;
    return 1;
}

static int is_object(const char *s, size_t n) {
    size_t i = 0;
    util_json_skip_ws(s, n, &i);
    return util_json_validate(s, n, NULL) == UTIL_JSON_OK && i < n && s[i] == '{';
}

static void check_request(const sluice_request_t *q) {
    size_t id_len = strlen(q->custom_id);
    FUZZ_CHECK(id_len > 0 && id_len <= SOURCE_MAX_ID, "custom_id of %zu bytes", id_len);
    FUZZ_CHECK(!q->metadata || is_object(q->metadata, q->metadata_len), "metadata not an object");
    if (q->invalid) {
        FUZZ_CHECK(!q->method && !q->url && !q->body, "an invalid line to be sent: %s", q->invalid);
        FUZZ_CHECK(q->est_tokens == 0, "an invalid line with an estimate");
        return;
    }
    FUZZ_CHECK(q->method && is_token(q->method), "method is not a token");
    FUZZ_CHECK(q->url && q->url[0], "no url");
    for (const char *u = q->url; *u; u++)
        FUZZ_CHECK((unsigned char)*u > 0x20 && *u != 0x7f, "url holds byte 0x%02x", *u);
    FUZZ_CHECK(q->body && is_object(q->body, q->body_len), "body is not a JSON object");
    FUZZ_CHECK(q->est_prompt_tokens <= q->est_tokens, "prompt estimate over the whole");
}

/* Reads the input file as `sluice run` does. */
static void read_all(const char *url, int text) {
    sluice_jsonl_source_t *js;
    FUZZ_CHECK(sluice_jsonl_source_open(&js, fuzz_scratch(), url, skip_done, NULL) == 0, "open");
    sluice_source_t src;
    sluice_jsonl_source_bind(js, &src);
    sluice_request_t *q;
    uint64_t last = 0;
    int rc;
    while ((rc = src.next(src.ud, &q)) == 0) {
        FUZZ_CHECK(q->line > last, "line %llu after line %llu", (unsigned long long)q->line,
                   (unsigned long long)last);
        last = q->line;
        check_request(q);
        uint64_t h = util_hash64(q->custom_id, strlen(q->custom_id));
        int dup = q->invalid && strncmp(q->invalid, "duplicate custom_id", 19) == 0;
        char own[32];
        snprintf(own, sizeof own, "line-%llu", (unsigned long long)q->line);
        int fallback = q->invalid && strcmp(q->custom_id, own) == 0;
        for (uint64_t i = 1; !dup && !fallback && i < q->line && i <= MAX_LINES; i++)
            FUZZ_CHECK(!lines[i].handed || lines[i].duplicate || lines[i].fallback ||
                           lines[i].hash != h,
                       "lines %llu and %llu both have custom_id \"%s\"", (unsigned long long)i,
                       (unsigned long long)q->line, q->custom_id);
        if (q->line <= MAX_LINES) {
            struct seen_line *l = &lines[q->line];
            l->handed = 1;
            l->hash = h;
            l->duplicate = dup;
            l->fallback = fallback;
            flatten(&l->flat, q);
        }
        src.release(src.ud, q);
    }
    FUZZ_CHECK(rc == SLUICE_EOF, "next() returned %d", rc);
    FUZZ_CHECK(!text || sluice_jsonl_source_error(js) == 0, "read error");
    sluice_jsonl_source_close(js);
}

/* Parses each line alone as a worker does, and compares with what the reader made of it. */
static void parse_each(const char *s, size_t size, const char *url) {
    sluice_jsonl_source_t *js;
    FUZZ_CHECK(source_parser_new(&js, "fuzz", url) == 0, "out of memory");
    struct buf flat;
    buf_init(&flat);
    uint64_t line = 0;
    for (size_t off = 0; off < size && line < MAX_LINES;) {
        const char *nl = memchr(s + off, '\n', size - off);
        size_t len = nl ? (size_t)(nl - (s + off)) : size - off;
        line++;
        sluice_request_t *q;
        int rc = source_parse(js, line, s + off, len, &q);
        FUZZ_CHECK(rc == 0 || rc == 1, "source_parse returned %d", rc);
        struct seen_line *l = &lines[line];
        if (rc == 1) {
            check_request(q);
            flatten(&flat, q);
            int skipped = !q->invalid && skip_done(NULL, q->custom_id);
            FUZZ_CHECK(l->handed || skipped, "line %llu: only the worker made a request",
                       (unsigned long long)line);
            FUZZ_CHECK(!l->handed || l->duplicate ||
                           (flat.len == l->flat.len && !memcmp(flat.data, l->flat.data, flat.len)),
                       "line %llu: the worker made another request", (unsigned long long)line);
            source_release_request(js, q);
        } else {
            FUZZ_CHECK(!l->handed, "line %llu: only the reader made a request",
                       (unsigned long long)line);
        }
        off += len + 1;
    }
    buf_free(&flat);
    sluice_jsonl_source_close(js);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const urls[] = {NULL, "/v1/chat/completions"};
    /* Input that begins as gzip does may be read through zlib: its lines are not the bytes'. */
    int text = size < 2 || data[0] != 0x1f || data[1] != 0x8b;
    fuzz_scratch_write(data, size);
    for (size_t u = 0; u < 2; u++) {
        for (size_t i = 0; i <= MAX_LINES; i++) {
            lines[i].handed = lines[i].duplicate = lines[i].fallback = 0;
            buf_reset(&lines[i].flat);
        }
        read_all(urls[u], text);
        if (text)
            parse_each((const char *)data, size, urls[u]);
    }
    return 0;
}
