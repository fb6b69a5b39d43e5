#ifndef SLUICE_SOURCE_H
#define SLUICE_SOURCE_H

/*
 * Internals of the JSONL source (the public half is in include/sluice.h), exposed for the
 * rate limiter and for unit tests.
 */
#include <stddef.h>
#include <stdint.h>

#include "sluice.h"

/* The longest input line accepted, in bytes, without its line ending. */
#define SOURCE_MAX_LINE ((size_t)64 << 20)
/* custom_id may be at most this many bytes (the OpenAI Batch API's limit). */
#define SOURCE_MAX_ID 512

/*
 * Estimates the tokens a request body will cost before it is sent, for the token budget:
 * bytes of prompt text / 4, rounded up, plus the most output it may produce.
 *   chat (and Anthropic /v1/messages): text of "messages" (content strings, or the "text"
 *     of content parts) and "system"; plus max_completion_tokens, else max_tokens, else
 *     max_output_tokens (0 if none), times "n" (default 1).
 *   completions: "prompt" (string, array of strings, or token arrays) plus max_tokens * n.
 *   embeddings: "input" (string or array of strings; arrays of token ints count 1 per int).
 * `body` is the raw text of a value util_json_scan() has accepted; NULL or not an object
 * gives 0. Saturates instead of overflowing.
 */
uint64_t source_estimate_tokens(const char *body, size_t len);

/* The same estimate, with its prompt part in *prompt (the rest is the most output), so that
 * --max-cost and --dry-run can price input and output apart. */
uint64_t source_estimate_split(const char *body, size_t len, uint64_t *prompt);

/*
 * Bytes the source holds beyond the requests handed out: the read buffer and the duplicate-id
 * set. For tests that check memory stays bounded.
 */
size_t source_memory(const sluice_jsonl_source_t *js);

/*
 * A source that reads no file and checks no duplicates: the distributed mode's workers parse
 * the lines the feeder put in Redis with it (the feeder, a real source, checked duplicates).
 * `name` is for messages. Close with sluice_jsonl_source_close().
 */
int source_parser_new(sluice_jsonl_source_t **out, const char *name, const char *url);
/* Parses one input line (without its newline) as line number `line`: returns 1 with *out (give
   it back with source_release_request), 0 for a blank line, or SLUICE_ENOMEM. */
int source_parse(sluice_jsonl_source_t *js, uint64_t line, const char *s, size_t len,
                 sluice_request_t **out);
void source_release_request(sluice_jsonl_source_t *js, sluice_request_t *req);
/* From now on requests are checked but carry no token estimate and no model: for the feeder
   of a job, which passes lines on and never sends them (a worker parses each line again). */
void source_check_only(sluice_jsonl_source_t *js);
/* The raw bytes of the line next() last handed out, valid until the next call (the feeder
   puts them in Redis as they are). Empty for a line too long to hold. */
void source_last_line(const sluice_jsonl_source_t *js, const char **s, size_t *len);

/*
 * The read buffer, for source_pipe.c, which fills it from the loop: source_buf_room() makes room
 * at its end (moving, growing or, for a line too long to hold, emptying it) and returns 0 with
 * where and how much, or -1 (ENOMEM); source_buf_fill() says n bytes came there;
 * source_buf_end() says the input ended, err 0 or the errno of a failed read.
 * source_buf_wants(): more input is needed, either for a whole line or to keep a chunk ahead.
 */
int source_buf_room(sluice_jsonl_source_t *js, char **at, size_t *n);
void source_buf_fill(sluice_jsonl_source_t *js, size_t n);
void source_buf_end(sluice_jsonl_source_t *js, int err);
int source_buf_wants(sluice_jsonl_source_t *js);

/*
 * gzip-compressed input (source_gz.c). source_gz_magic(): 1 when p[0..n) starts with the gzip
 * magic bytes 1f 8b, 0 when it does not, -1 when too few bytes came to tell.
 * source_gz_new() starts with the n compressed bytes at `first` (copied). source_gz_room()
 * gives where more compressed bytes go and how many fit (0 only while source_gz_pending()
 * says bytes wait: inflate them first); source_gz_fill() says n came there.
 * source_gz_inflate() inflates pending bytes into out[0..room), *got of them; returns 0 (*got
 * may be 0: more input is needed), SLUICE_EPARSE for data that is not gzip, or SLUICE_ENOMEM.
 * source_gz_end(): the compressed input ended; 0 when it ended after a whole member, else
 * SLUICE_EPARSE. After SLUICE_EPARSE, source_gz_why() has zlib's words (else NULL).
 */
struct source_gz;
int source_gz_magic(const char *p, size_t n);
int source_gz_new(struct source_gz **out, const char *first, size_t n);
void source_gz_free(struct source_gz *g);
void source_gz_room(struct source_gz *g, char **at, size_t *n);
void source_gz_fill(struct source_gz *g, size_t n);
size_t source_gz_pending(const struct source_gz *g);
int source_gz_inflate(struct source_gz *g, char *out, size_t room, size_t *got);
int source_gz_end(struct source_gz *g);
const char *source_gz_why(const struct source_gz *g);

/*
 * A pipe or terminal read by the engine's loop (source_pipe.c). While no whole line is
 * buffered, next() answers SLUICE_EAGAIN and the pipe tells the engine (sluice_source_ready)
 * when input came; reading stops while a chunk of input waits, so memory stays bounded.
 */
struct source_pipe;
/* Returns 0 with *out, or with *out NULL for a descriptor read as before (a regular file, a
   device: a read never waits long), or SLUICE_EUV. */
int source_pipe_open(struct source_pipe **out, sluice_jsonl_source_t *js, int fd, sluice_t *eng);
/* next() took input (waiting 0) or found no whole line (waiting 1: tell the engine when more
   comes): reads again if it had stopped and more is wanted. */
void source_pipe_pull(struct source_pipe *p, int waiting);
/* Stops reading and closes the handle (freed when the loop has run its close callback). */
void source_pipe_close(struct source_pipe *p);

#endif
