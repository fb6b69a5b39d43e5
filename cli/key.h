#ifndef SLUICE_CLI_KEY_H
#define SLUICE_CLI_KEY_H

/*
 * Whether a run must have an API key before it starts. A real provider (openai, azure,
 * anthropic, gemini) at an https:// base URL refuses every request without one: a run that went
 * on would only collect 401s (or retry), after truncating OUTPUT. A plain http:// URL is a local
 * server or the mock, which need none; --provider none sends none.
 */
#include <sluice.h>

/* 1 when cfg (its provider, base URL and -H headers) needs an API key from --api-key-env or
   --api-key-file; 0 when none is needed, or a -H header carries the credential itself
   (Authorization, api-key, x-api-key, x-goog-api-key: an Azure AD token, say). */
int key_required(const sluice_config_t *cfg);

/* 1 when one of cfg's -H headers carries a credential (the names above). */
int key_in_headers(const sluice_config_t *cfg);

#endif
