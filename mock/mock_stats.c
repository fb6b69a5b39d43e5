#include "mock_stats.h"

#include <string.h>

void mock_stats_count_path(struct mock_stats *s, const char *path, size_t len) {
    for (size_t i = 0; i < s->npaths; i++) {
        if (s->paths[i].len == len && memcmp(s->paths[i].path, path, len) == 0) {
            s->paths[i].n++;
            return;
        }
    }
    if (s->npaths < MOCK_STATS_PATHS && len < MOCK_STATS_PATH_MAX) {
        memcpy(s->paths[s->npaths].path, path, len);
        s->paths[s->npaths].len = len;
        s->paths[s->npaths].n = 1;
        s->npaths++;
        return;
    }
    s->other_paths++;
}

void mock_stats_count_status(struct mock_stats *s, int status) {
    if (status >= 100 && status < 600)
        s->status[status]++;
}

void mock_stats_enter(struct mock_stats *s) {
    if (++s->in_flight > s->max_concurrency)
        s->max_concurrency = s->in_flight;
}

void mock_stats_leave(struct mock_stats *s) {
    if (s->in_flight)
        s->in_flight--;
}

void mock_stats_json(const struct mock_stats *s, struct mock_buf *out) {
    mock_buf_printf(out, "{\"requests\":%llu,\"status\":{", (unsigned long long)s->requests);
    const char *sep = "";
    for (int code = 100; code < 600; code++) {
        if (s->status[code]) {
            mock_buf_printf(out, "%s\"%d\":%llu", sep, code, (unsigned long long)s->status[code]);
            sep = ",";
        }
    }
    mock_buf_printf(out, "},\"rate_limited\":%llu,\"faults\":{",
                    (unsigned long long)s->rate_limited);
    for (int f = MOCK_FAULT_FAIL; f < MOCK_FAULT_COUNT; f++)
        mock_buf_printf(out, "\"%s\":%llu,", mock_fault_name((enum mock_fault)f),
                        (unsigned long long)s->faults[f]);
    mock_buf_printf(out,
                    "\"outage\":%llu,\"quota\":%llu,\"overloaded\":%llu,"
                    "\"concurrency_429\":%llu,\"auth\":%llu},"
                    "\"max_concurrency\":%llu,\"in_flight\":%llu,"
                    "\"tokens\":{\"prompt\":%llu,\"completion\":%llu},"
                    "\"auth\":{\"bearer\":%llu,\"api-key\":%llu,\"x-api-key\":%llu,"
                    "\"none\":%llu,\"anthropic-version\":%llu},\"by_path\":{",
                    (unsigned long long)s->outage, (unsigned long long)s->quota,
                    (unsigned long long)s->overloaded, (unsigned long long)s->concurrency_429,
                    (unsigned long long)s->auth, (unsigned long long)s->max_concurrency,
                    (unsigned long long)s->in_flight, (unsigned long long)s->prompt_tokens,
                    (unsigned long long)s->completion_tokens, (unsigned long long)s->auth_bearer,
                    (unsigned long long)s->auth_api_key, (unsigned long long)s->auth_x_api_key,
                    (unsigned long long)s->auth_none, (unsigned long long)s->anthropic_version);
    sep = "";
    for (size_t i = 0; i < s->npaths; i++) {
        mock_buf_puts(out, sep);
        mock_buf_json_str(out, s->paths[i].path, s->paths[i].len);
        mock_buf_printf(out, ":%llu", (unsigned long long)s->paths[i].n);
        sep = ",";
    }
    if (s->other_paths)
        mock_buf_printf(out, "%s\"other\":%llu", sep, (unsigned long long)s->other_paths);
    mock_buf_puts(out, "}}");
}

void mock_stats_count_auth(struct mock_stats *s, unsigned bits) {
    s->auth_bearer += (bits & MOCK_AUTH_BEARER) != 0;
    s->auth_api_key += (bits & MOCK_AUTH_API_KEY) != 0;
    s->auth_x_api_key += (bits & MOCK_AUTH_X_API_KEY) != 0;
    s->anthropic_version += (bits & MOCK_AUTH_ANTHROPIC_V) != 0;
    s->auth_none += (bits & (MOCK_AUTH_BEARER | MOCK_AUTH_API_KEY | MOCK_AUTH_X_API_KEY)) == 0;
}
