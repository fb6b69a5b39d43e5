#include "key.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* The headers that carry a credential, in lower case; `auth`: one that a provider takes in
   place of an API key. */
static const struct {
    const char *name;
    int auth;
} credential_headers[] = {
    {"authorization", 1},       {"api-key", 1}, {"x-api-key", 1}, {"x-goog-api-key", 1},
    {"proxy-authorization", 0}, {"cookie", 0},
};

/* The name of header line h, spaces trimmed: its start in *name, and its length. */
size_t key_header_name(const char *h, const char **name) {
    while (*h == ' ' || *h == '\t')
        h++;
    size_t n = strcspn(h, ":");
    while (n > 0 && isspace((unsigned char)h[n - 1]))
        n--;
    *name = h;
    return n;
}

/* 1 when header line h names one of credential_headers (an `auth` one, if auth_only). */
static int credential(const char *h, int auth_only) {
    if (auth_only && !strchr(h, ':'))
        return 0; /* no value: no credential to send */
    const char *name;
    size_t n = key_header_name(h, &name);
    for (size_t i = 0; i < sizeof(credential_headers) / sizeof(credential_headers[0]); i++)
        if ((credential_headers[i].auth || !auth_only) && strlen(credential_headers[i].name) == n &&
            strncasecmp(name, credential_headers[i].name, n) == 0)
            return 1;
    return 0;
}

int key_header_is_credential(const char *h) {
    return credential(h, 0);
}

int key_in_headers(const sluice_config_t *cfg) {
    for (size_t i = 0; i < cfg->n_headers; i++)
        if (credential(cfg->headers[i], 1))
            return 1;
    return 0;
}

int key_required(const sluice_config_t *cfg) {
    return cfg->provider != SLUICE_PROVIDER_NONE && cfg->base_url &&
           strncasecmp(cfg->base_url, "https://", 8) == 0 && !key_in_headers(cfg);
}
