#include "key.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* The headers that carry a credential, whatever the provider expects. */
static const char *const credential_headers[] = {"authorization", "api-key", "x-api-key",
                                                 "x-goog-api-key"};

/* 1 when the "Name: value" header h names one of credential_headers. */
static int key_in_header(const char *h) {
    const char *colon = strchr(h, ':');
    if (!colon)
        return 0;
    size_t n = (size_t)(colon - h);
    while (n > 0 && isspace((unsigned char)h[n - 1]))
        n--;
    for (size_t i = 0; i < sizeof(credential_headers) / sizeof(credential_headers[0]); i++)
        if (strlen(credential_headers[i]) == n && strncasecmp(h, credential_headers[i], n) == 0)
            return 1;
    return 0;
}

int key_in_headers(const sluice_config_t *cfg) {
    for (size_t i = 0; i < cfg->n_headers; i++)
        if (key_in_header(cfg->headers[i]))
            return 1;
    return 0;
}

int key_required(const sluice_config_t *cfg) {
    return cfg->provider != SLUICE_PROVIDER_NONE && cfg->base_url &&
           strncasecmp(cfg->base_url, "https://", 8) == 0 && !key_in_headers(cfg);
}
