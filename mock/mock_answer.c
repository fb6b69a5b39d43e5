#include "mock_answer.h"

#include <string.h>

/* Bytes of prompt text in a request value, whatever its shape: a string; an array of
 * strings, token ids (4 bytes each) or message objects; an object's "text" (content parts,
 * Anthropic blocks) and "content" (chat messages). Images and tool schemas count nothing. */
static size_t text_bytes(json_object *v, int depth) {
    if (!v || depth > 16)
        return 0;
    switch (json_object_get_type(v)) {
    case json_type_string:
        return (size_t)json_object_get_string_len(v);
    case json_type_int:
        return 4;
    case json_type_array: {
        size_t sum = 0, n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++)
            sum += text_bytes(json_object_array_get_idx(v, i), depth + 1);
        return sum;
    }
    case json_type_object: {
        json_object *t = NULL, *c = NULL;
        json_object_object_get_ex(v, "text", &t);
        json_object_object_get_ex(v, "content", &c);
        return text_bytes(t, depth + 1) + text_bytes(c, depth + 1);
    }
    default:
        return 0;
    }
}

static int64_t get_positive_int(json_object *root, const char *key) {
    json_object *v;
    if (!json_object_object_get_ex(root, key, &v) || !json_object_is_type(v, json_type_int))
        return 0;
    int64_t n = json_object_get_int64(v);
    return n > 0 ? n : 0;
}

int mock_request_parse(struct mock_request *rq, enum mock_endpoint ep, json_tokener *tok,
                       const char *body, size_t len) {
    memset(rq, 0, sizeof *rq);
    rq->ep = ep;
    if (len == 0 || len > (size_t)0x7fffffff)
        return -1;
    json_tokener_reset(tok);
    json_object *root = json_tokener_parse_ex(tok, body, (int)len);
    if (!root || json_tokener_get_error(tok) != json_tokener_success)
        goto fail;
    for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
        if (!strchr(" \t\r\n", body[i]))
            goto fail;
    if (!json_object_is_type(root, json_type_object))
        goto fail;
    rq->root = root;

    json_object *v;
    if (json_object_object_get_ex(root, "model", &v) && json_object_is_type(v, json_type_string)) {
        rq->model = json_object_get_string(v);
        rq->model_len = (size_t)json_object_get_string_len(v);
    } else {
        rq->model = "mock";
        rq->model_len = 4;
    }

    size_t bytes = 0;
    if (ep == MOCK_EP_CHAT) {
        json_object_object_get_ex(root, "messages", &v);
        bytes = text_bytes(v, 0);
    } else if (ep == MOCK_EP_COMPLETIONS) {
        json_object_object_get_ex(root, "prompt", &v);
        bytes = text_bytes(v, 0);
    } else if (ep == MOCK_EP_EMBEDDINGS) {
        json_object_object_get_ex(root, "input", &v);
        bytes = text_bytes(v, 0);
    } else if (ep == MOCK_EP_MESSAGES) {
        json_object *sys = NULL, *msgs = NULL;
        json_object_object_get_ex(root, "system", &sys);
        json_object_object_get_ex(root, "messages", &msgs);
        bytes = text_bytes(sys, 0) + text_bytes(msgs, 0);
    }
    rq->prompt_tokens = (int64_t)((bytes + 3) / 4);
    if (rq->prompt_tokens < 1)
        rq->prompt_tokens = 1;

    rq->max_tokens = get_positive_int(root, "max_completion_tokens");
    if (!rq->max_tokens)
        rq->max_tokens = get_positive_int(root, "max_tokens");
    rq->hash = util_fnv1a64(body, len);
    if (ep != MOCK_EP_EMBEDDINGS) {
        int64_t cap = rq->max_tokens ? rq->max_tokens : MOCK_DEFAULT_MAX_TOKENS;
        rq->completion_tokens = 1 + (int64_t)(util_mix64(rq->hash) % (uint64_t)cap);
    }
    return 0;
fail:
    if (root)
        json_object_put(root);
    return -1;
}

void mock_request_release(struct mock_request *rq) {
    if (rq->root)
        json_object_put(rq->root);
    rq->root = NULL;
    rq->model = NULL;
}

int64_t mock_request_cost(const struct mock_request *rq) {
    if (rq->ep == MOCK_EP_EMBEDDINGS)
        return rq->prompt_tokens;
    return rq->prompt_tokens + (rq->max_tokens ? rq->max_tokens : MOCK_DEFAULT_MAX_TOKENS);
}

/* The completion text: n words, one per token, chosen by the request's hash. */
static void put_words(struct mock_buf *out, uint64_t hash, int64_t n) {
    static const char *words[] = {
        "lorem", "ipsum",  "dolor",  "sit",    "amet",    "sluice", "gate", "river",
        "flow",  "mock",   "token",  "answer", "quick",   "brown",  "fox",  "jumps",
        "over",  "lazy",   "dog",    "batch",  "request", "result", "rate", "limit",
        "retry", "budget", "stream", "water",  "bridge",  "canal",  "lock", "weir"};
    mock_buf_puts(out, "\"");
    for (int64_t i = 0; i < n; i++) {
        const char *w = words[util_mix64(hash + (uint64_t)i) % (sizeof words / sizeof words[0])];
        if (i)
            mock_buf_puts(out, " ");
        mock_buf_puts(out, w);
    }
    mock_buf_puts(out, "\"");
}

static void put_embeddings(const struct mock_request *rq, struct mock_buf *out) {
    json_object *input = NULL;
    json_object_object_get_ex(rq->root, "input", &input);
    /* One vector per string (or per token array) in an array input, else one. */
    size_t n = 1;
    if (json_object_is_type(input, json_type_array) && json_object_array_length(input) > 0) {
        json_object *first = json_object_array_get_idx(input, 0);
        if (!json_object_is_type(first, json_type_int))
            n = json_object_array_length(input);
    }
    int64_t dims = get_positive_int(rq->root, "dimensions");
    if (dims < 1 || dims > 4096)
        dims = MOCK_DEFAULT_DIMENSIONS;
    mock_buf_puts(out, "\"data\":[");
    for (size_t i = 0; i < n; i++) {
        mock_buf_printf(out, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":[",
                        i ? "," : "", i);
        for (int64_t j = 0; j < dims; j++) {
            uint64_t h = util_mix64(rq->hash ^ util_mix64((uint64_t)i * 4096 + (uint64_t)j));
            double x = (double)(h >> 11) / 9007199254740992.0 * 2.0 - 1.0;
            mock_buf_printf(out, "%s%.6f", j ? "," : "", x);
        }
        mock_buf_puts(out, "]}");
    }
    mock_buf_puts(out, "],");
}

void mock_answer_body(const struct mock_request *rq, const char *id, int64_t created,
                      struct mock_buf *out) {
    int64_t p = rq->prompt_tokens, c = rq->completion_tokens;
    int cut = rq->max_tokens && c >= rq->max_tokens;
    switch (rq->ep) {
    case MOCK_EP_CHAT:
        mock_buf_printf(out,
                        "{\"id\":\"chatcmpl-%s\",\"object\":\"chat.completion\",\"created\":%lld,"
                        "\"model\":",
                        id, (long long)created);
        mock_buf_json_str(out, rq->model, rq->model_len);
        mock_buf_puts(out, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                           "\"content\":");
        put_words(out, rq->hash, c);
        mock_buf_printf(out, ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"%s\"}],",
                        cut ? "length" : "stop");
        break;
    case MOCK_EP_COMPLETIONS:
        mock_buf_printf(out,
                        "{\"id\":\"cmpl-%s\",\"object\":\"text_completion\",\"created\":%lld,"
                        "\"model\":",
                        id, (long long)created);
        mock_buf_json_str(out, rq->model, rq->model_len);
        mock_buf_puts(out, ",\"choices\":[{\"text\":");
        put_words(out, rq->hash, c);
        mock_buf_printf(out, ",\"index\":0,\"logprobs\":null,\"finish_reason\":\"%s\"}],",
                        cut ? "length" : "stop");
        break;
    case MOCK_EP_EMBEDDINGS:
        /* OpenAI's embeddings answer has no id or created; the mock adds them so that every
         * answer can be traced the same way. */
        mock_buf_printf(out, "{\"id\":\"emb-%s\",\"object\":\"list\",\"created\":%lld,", id,
                        (long long)created);
        put_embeddings(rq, out);
        mock_buf_puts(out, "\"model\":");
        mock_buf_json_str(out, rq->model, rq->model_len);
        mock_buf_printf(out, ",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}}",
                        (long long)p, (long long)p);
        return;
    case MOCK_EP_MESSAGES:
        mock_buf_printf(out,
                        "{\"id\":\"msg_%s\",\"type\":\"message\",\"role\":\"assistant\","
                        "\"model\":",
                        id);
        mock_buf_json_str(out, rq->model, rq->model_len);
        mock_buf_puts(out, ",\"content\":[{\"type\":\"text\",\"text\":");
        put_words(out, rq->hash, c);
        mock_buf_printf(out,
                        "}],\"stop_reason\":\"%s\",\"stop_sequence\":null,"
                        "\"usage\":{\"input_tokens\":%lld,\"output_tokens\":%lld}}",
                        cut ? "max_tokens" : "end_turn", (long long)p, (long long)c);
        return;
    case MOCK_EP_NONE:
        return;
    }
    mock_buf_printf(out,
                    "\"usage\":{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,"
                    "\"total_tokens\":%lld},\"system_fingerprint\":\"fp_mock\"}",
                    (long long)p, (long long)c, (long long)(p + c));
}
