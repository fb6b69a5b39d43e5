/* What the mock answers: reading a request body (once, with json-c) and writing the JSON of
 * a successful answer in the OpenAI or Anthropic shape (errors: mock_dialect.h). No I/O here;
 * bodies go into a mock_buf. */
#ifndef MOCK_ANSWER_H
#define MOCK_ANSWER_H

#include "mock_buf.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

enum mock_endpoint {
    MOCK_EP_NONE,
    MOCK_EP_CHAT,        /* POST /v1/chat/completions (each provider's paths: mock_dialect.h) */
    MOCK_EP_COMPLETIONS, /* POST /v1/completions */
    MOCK_EP_EMBEDDINGS,  /* POST /v1/embeddings */
    MOCK_EP_MESSAGES     /* POST /v1/messages (Anthropic) */
};

/* Completion length cap when the request names no max_tokens. */
#define MOCK_DEFAULT_MAX_TOKENS 16
/* Embedding width when the request names no "dimensions". */
#define MOCK_DEFAULT_DIMENSIONS 8

/* What the limiter, the stats and the body writer need to know about one request. */
struct mock_request {
    enum mock_endpoint ep;
    json_object *root; /* owned; released by mock_request_release */
    const char *model; /* points into root */
    size_t model_len;
    int64_t prompt_tokens; /* ceil(bytes of prompt text / 4), at least 1 */
    int64_t max_tokens;    /* max_tokens or max_completion_tokens; 0 when absent */
    int64_t completion_tokens;
    uint64_t hash; /* FNV-1a of the body: the deterministic seed of the answer */
};

/* Parses `body` (strict JSON, one object, nothing after it) with the reusable tokener `tok`
 * and fills `rq`. Returns 0, or -1 when the body is not a JSON object. */
int mock_request_parse(struct mock_request *rq, enum mock_endpoint ep, json_tokener *tok,
                       const char *body, size_t len);
void mock_request_release(struct mock_request *rq);
/* Tokens charged at admission, as OpenAI counts them: the prompt plus max_tokens (or the
 * default cap when absent; embeddings have no completion). */
int64_t mock_request_cost(const struct mock_request *rq);

/* Appends the successful answer for `rq`. `id` is the answer's unique suffix. */
void mock_answer_body(const struct mock_request *rq, const char *id, int64_t created,
                      struct mock_buf *out);

#endif
