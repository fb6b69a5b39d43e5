#ifndef SLUICE_URL_H
#define SLUICE_URL_H

/*
 * Where a request goes: the base URL (--base-url) joined with a line's url. The one place
 * that builds a request's URL, for every transport and for `sluice work` as for `sluice run`.
 * Pure functions of their strings.
 */
#include <stddef.h>

/* url_join()'s answer for an absolute url on another origin than the base URL. */
#define URL_ELSEWHERE (-1)

/* 1 when u starts with "http://" or "https://" (in any case). */
int url_is_absolute(const char *u);

/* Length of the "scheme://host[:port]" that starts u; without a scheme, of what comes before
 * the first '/', '?' or '#'. */
size_t url_origin_len(const char *u);

/*
 * Joins `base` and a line's url `u`, the way the providers' SDKs use a base URL:
 * - An absolute u is taken as it is, but only on the base URL's own origin: the API key goes
 *   with every request, and a line from someone else's file must not send it to another host
 *   (or in clear text over http://). Such a u gives URL_ELSEWHERE and writes nothing.
 * - Otherwise u's path goes after the base URL's path. A base URL with a path of its own
 *   ("https://api.openai.com/v1", Gemini's ".../v1beta/openai", Azure's
 *   ".../openai/deployments/NAME" or ".../openai/v1") already names the API and its version,
 *   as OPENAI_BASE_URL does for the SDKs, whose paths are "/chat/completions". So a leading
 *   "/v1" segment of u is dropped there: Batch lines say "/v1/chat/completions", and
 *   ".../v1/v1/chat/completions" is a 404 everywhere. A base URL without a path
 *   ("https://api.openai.com") takes u whole.
 * - A query in the base URL (Azure's "?api-version=2024-10-21") goes on every request, after
 *   u's own query. A fragment in the base URL is dropped.
 * Writes the URL to out as snprintf does (at most cap bytes with the NUL; out may be NULL when
 * cap is 0) and returns its length: when that is >= cap, grow out and call again.
 */
long url_join(char *out, size_t cap, const char *base, const char *u);

#endif
