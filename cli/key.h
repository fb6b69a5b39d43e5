#ifndef SLUICE_CLI_KEY_H
#define SLUICE_CLI_KEY_H

/*
 * Whether a run must have an API key before it starts. A real provider (openai, azure,
 * anthropic, gemini) at an https:// base URL refuses every request without one: a run that went
 * on would only collect 401s (or retry), after truncating OUTPUT. A plain http:// URL is a local
 * server or the mock, which need none; --provider none sends none.
 */
#include <stddef.h>

#include <sluice.h>

/* 1 when cfg (its provider, base URL and -H headers) needs an API key from --api-key-env or
   --api-key-file; 0 when none is needed, or a -H header carries the credential itself
   (Authorization, api-key, x-api-key, x-goog-api-key: an Azure AD token, say). */
int key_required(const sluice_config_t *cfg);

/* 1 when one of cfg's -H headers carries a credential a provider takes in place of a key
   (the names above). */
int key_in_headers(const sluice_config_t *cfg);

/* 1 when header line h ("Name: value") carries a credential of any kind: the names above, and
   Proxy-Authorization and Cookie. Such headers are never stored in Redis nor printed. */
int key_header_is_credential(const char *h);

/* The name of header line h, spaces trimmed: its start in *name, and its length. */
size_t key_header_name(const char *h, const char **name);

#endif
