#ifndef SLUICE_CLI_TERM_H
#define SLUICE_CLI_TERM_H

/*
 * Text from the input or from a server (a custom_id, a model name, a reason that quotes
 * them), put into a message for people, reaches their terminal: an ESC in a custom_id could
 * recolour it, move the cursor or retitle the window. Every such text goes through term_safe()
 * first. The messages' own text is the program's and needs none.
 */
#include <stddef.h>

/* The most bytes term_safe() turns one input byte into ("\x1b"). */
#define TERM_SAFE_GROWTH 4
/* Room for a message that quotes a custom_id (512 bytes at most) or an engine's detail, made
   safe whatever it holds. */
#define TERM_SAFE_MSG (1024 * TERM_SAFE_GROWTH + 1)

/*
 * s made safe to print: control bytes (C0, DEL, and the C1 range U+0080..U+009F, which some
 * terminals obey as well) and bytes that are not part of valid UTF-8 become \xNN; other text,
 * printable UTF-8 included, is kept. Written into buf (size bytes, at least 4), NUL-terminated;
 * text that does not fit is cut at a whole character and ends in "...". Returns buf.
 */
const char *term_safe(const char *s, char *buf, size_t size);

#endif
