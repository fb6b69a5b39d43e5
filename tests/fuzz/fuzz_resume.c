/*
 * The resume loader (cli/resume.c, which reads lines with the sink's sluice_jsonl_read_success).
 * The input is used twice:
 *   - as an OUTPUT file that --resume reads: resume_peek() and resume_load() find the same
 *     ids, among them that of every whole line in the form the sink writes a success in; the
 *     file resume_load() rewrites holds whole lines only and loads again to the same ids,
 *     unchanged (a second --resume changes nothing);
 *   - as the pieces of results the sink writes (src/sink.c, in-process): the input as a
 *     success's body (as JSON when it is valid JSON, which the engine would pass on raw, else
 *     as a string), also nested as deep as the engine accepts, then as its custom_id and
 *     metadata. Whatever the sink writes as a success, the loader must find; a failure it
 *     writes, the loader must not.
 * OUTPUT is the scratch file (fuzz.h), on /dev/shm when there is one: resume_load fsyncs.
 */
#include <string.h>

#include "fuzz.h"
#include "resume.h"
#include "sluice.h"
#include "source.h"
#include "util.h"

static const char *path; /* OUTPUT */
static sluice_jsonl_sink_t *sink;

static void init_once(void) {
    if (sink)
        return;
    path = fuzz_scratch();
    FUZZ_CHECK(sluice_jsonl_sink_open(&sink, "/dev/null", 0) == 0, "a sink to format with");
}

/* The file's bytes, in a malloc'd buffer (*n of them). */
static char *read_file(size_t *n) {
    FILE *f = fopen(path, "r");
    FUZZ_CHECK(f != NULL, "reading %s", path);
    struct buf b;
    buf_init(&b);
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        FUZZ_CHECK(buf_append(&b, chunk, got) == 0, "out of memory");
    fclose(f);
    *n = b.len;
    return b.data ? b.data : calloc(1, 1);
}

static struct resume_set *load(int rewrite) {
    struct resume_set *set;
    char err[512];
    int rc = rewrite ? resume_load(&set, path, err, sizeof err)
                     : resume_peek(&set, path, err, sizeof err);
    FUZZ_CHECK(rc == 0, "resume: %s", err);
    return set;
}

/* Literal text w at s[*i]: steps past it. */
static int text(const char *s, size_t n, size_t *i, const char *w) {
    size_t wl = strlen(w);
    if (n - *i < wl || memcmp(s + *i, w, wl) != 0)
        return 0;
    *i += wl;
    return 1;
}

/* A JSON string token at s[*i]: steps past it. */
static int string_token(const char *s, size_t n, size_t *i) {
    size_t p = *i;
    if (p >= n || s[p] != '"' || util_json_scan(s, n, &p) != UTIL_JSON_OK)
        return 0;
    *i = p;
    return 1;
}

/*
 * The custom_id of a line (without its '\n') in the form the sink writes a success in, decoded
 * into id (room for n + 1 bytes); 0 when the line is not in that form:
 *   {"id":"req-...","custom_id":S,"response":{"status_code":N,"request_id":S|null,"body":B},
 *    "error":null}
 * with B any JSON the engine takes (nested up to UTIL_JSON_MAX_DEPTH). Read by hand from the
 * sink's format, apart from the reader resume uses, so that it can tell when resume misses one.
 */
static int sink_success_id(const char *s, size_t n, char *id) {
    static const char end[] = "},\"error\":null}";
    size_t i = 0, k;
    if (!text(s, n, &i, "{\"id\":\"req-"))
        return 0;
    while (i < n && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
        i++;
    if (!text(s, n, &i, "\",\"custom_id\":"))
        return 0;
    k = i;
    if (!string_token(s, n, &i))
        return 0;
    size_t id_end = i;
    if (!text(s, n, &i, ",\"response\":{\"status_code\":"))
        return 0;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return 0;
    if (s[i++] != '0') /* a JSON number: no leading zeros */
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    if (!text(s, n, &i, ",\"request_id\":") ||
        !(text(s, n, &i, "null") || string_token(s, n, &i)) || !text(s, n, &i, ",\"body\":"))
        return 0;
    if (n - i < sizeof end - 1 || memcmp(s + n - (sizeof end - 1), end, sizeof end - 1) != 0 ||
        util_json_validate(s + i, n - i - (sizeof end - 1), NULL) != UTIL_JSON_OK)
        return 0;
    size_t id_len = util_json_unescape(s + k, id_end - k, id);
    id[id_len] = '\0';
    return id_len > 0 && strlen(id) == id_len; /* the source takes no NUL in an id */
}

/* The input as an OUTPUT file. */
static void as_output(const char *s, size_t size) {
    fuzz_scratch_write(s, size);
    struct resume_set *peek = load(0);
    struct resume_set *first = load(1);
    FUZZ_CHECK(resume_count(peek) == resume_count(first), "peek found %zu ids, load %zu",
               resume_count(peek), resume_count(first));
    char *id = malloc(size + 1);
    FUZZ_CHECK(id != NULL, "out of memory");
    for (const char *p = s, *nl; (nl = memchr(p, '\n', (size_t)(s + size - p))) != NULL;
         p = nl + 1) {
        if (sink_success_id(p, (size_t)(nl - p), id))
            FUZZ_CHECK(resume_skip(peek, id) && resume_skip(first, id),
                       "resume does not find the success line for \"%s\"", id);
    }
    free(id);
    size_t n1, n2;
    char *once = read_file(&n1);
    FUZZ_CHECK(n1 == 0 || once[n1 - 1] == '\n', "the rewrite ends in a torn line");
    FUZZ_CHECK(n1 <= size, "the rewrite grew from %zu to %zu bytes", size, n1);
    struct resume_set *second = load(1);
    char *twice = read_file(&n2);
    FUZZ_CHECK(n1 == n2 && memcmp(once, twice, n1) == 0, "a second --resume changed OUTPUT");
    FUZZ_CHECK(resume_count(second) == resume_count(first), "%zu ids, then %zu",
               resume_count(first), resume_count(second));
    free(once);
    free(twice);
    resume_free(peek);
    resume_free(first);
    resume_free(second);
}

/* Whether s[0..n) is valid UTF-8: the escaper replaces nothing in it (fuzz_json.c holds the
   escaper to that). */
static int is_utf8(const char *s, size_t n) {
    struct buf b;
    buf_init(&b);
    FUZZ_CHECK(buf_append_json_string(&b, s, n) == 0, "out of memory");
    char *dec = malloc(b.len);
    FUZZ_CHECK(dec != NULL, "out of memory");
    int same = util_json_unescape(b.data, b.len, dec) == n && memcmp(dec, s, n) == 0;
    free(dec);
    buf_free(&b);
    return same;
}

/* Writes one result for `id` as the sink formats it, then loads the file. */
static void round_trip(const char *id, const char *meta, size_t meta_len, const char *body,
                       size_t body_len, int body_is_json, int success) {
    sluice_request_t req = {.custom_id = id, .method = "POST", .url = "/v1/x", .line = 1};
    if (meta) {
        req.metadata = meta;
        req.metadata_len = meta_len;
    }
    sluice_result_t res = {.req = &req,
                           .status_code = success ? 200 : 500,
                           .body = body,
                           .body_len = body_len,
                           .body_is_json = body_is_json,
                           .attempts = 1};
    if (!success) {
        res.error_code = "http_500";
        res.error_message = "server error";
    }
    const char *line;
    size_t len;
    FUZZ_CHECK(sluice_jsonl_sink_format(sink, &res, &line, &len) == 0, "format");
    fuzz_scratch_write(line, len);
    struct resume_set *set = load(1);
    FUZZ_CHECK(resume_skip(set, id) == success,
               success ? "resume does not find the success the sink wrote for \"%s\""
                       : "resume takes the failure the sink wrote for \"%s\" for a success",
               id);
    resume_free(set);
}

/* A body as deep as the engine accepts is hard to reach by mutation (every bracket needs its
   pair), so the input is also sent nested in `depth` arrays, when the engine would take that. */
static void nested_round_trip(const char *s, size_t size, size_t depth) {
    struct buf b;
    buf_init(&b);
    for (size_t i = 0; i < depth; i++)
        FUZZ_CHECK(buf_append_char(&b, '[') == 0, "out of memory");
    FUZZ_CHECK(buf_append(&b, s, size) == 0, "out of memory");
    for (size_t i = 0; i < depth; i++)
        FUZZ_CHECK(buf_append_char(&b, ']') == 0, "out of memory");
    if (util_json_validate(b.data, b.len, NULL) == UTIL_JSON_OK)
        round_trip("id-2", NULL, 0, b.data, b.len, 1, 1);
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    init_once();
    as_output(s, size);

    /* The input as a body, checked as the engine checks an answer. */
    int json = util_json_validate(s, size, NULL) == UTIL_JSON_OK;
    round_trip("id-1", NULL, 0, s, size, json, 1);
    round_trip("id-1", NULL, 0, s, size, json, 0);
    if (json && size > 0)
        nested_round_trip(s, size, (unsigned char)s[0] % (UTIL_JSON_MAX_DEPTH + 1));

    /* As a custom_id and as metadata. An id keeps to the source's rules: 1 to 512 bytes of
       UTF-8 (it was decoded from strict JSON), no NUL. */
    char id[SOURCE_MAX_ID + 1];
    size_t id_len = strnlen(s, size < SOURCE_MAX_ID ? size : SOURCE_MAX_ID);
    if (id_len == 0 || !is_utf8(s, id_len))
        return 0;
    memcpy(id, s, id_len);
    id[id_len] = '\0';
    size_t first = 0;
    util_json_skip_ws(s, size, &first);
    int meta = json && first < size && s[first] == '{';
    round_trip(id, meta ? s : NULL, size, "{}", 2, 1, 1);
    return 0;
}
