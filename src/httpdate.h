#ifndef SLUICE_HTTPDATE_H
#define SLUICE_HTTPDATE_H

/*
 * The dates answers carry, to epoch milliseconds: an HTTP-date (Retry-After, RFC 9110 §5.6.7)
 * and an RFC 3339 date-time (some providers' rate-limit resets). Pure: "now" is an argument.
 */
#include <stddef.h>
#include <stdint.h>

/* An HTTP-date in any of its three forms -> epoch ms, or -1 when malformed. A two-digit year
   (RFC 850) is read as the most recent past year with those digits, as seen from now. */
int64_t httpdate_parse_ms(const char *s, size_t len, int64_t now_epoch_ms);

/* An RFC 3339 timestamp -> epoch ms; -1 when malformed or before 1970. */
int64_t httpdate_rfc3339_ms(const char *s, size_t len);

#endif
