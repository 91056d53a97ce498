/* Redaction of command lines before they reach any output: a tool's argv
 * can carry a token (curl -H "Authorization: Bearer ...", --password X,
 * https://host/?api_key=...). Raw credentials must never be printed. */
#ifndef REACH_REDACT_H
#define REACH_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#define REDACTED "[redacted]"

/* Writes arg into out with every credential-shaped value replaced by
 * REDACTED. prev is the previous argv entry (NULL for argv[0]): a value
 * after --password, --token, -u, ... is redacted whole. Returns true when
 * something was redacted. out is always NUL terminated (truncated if small). */
bool redact_arg(const char *prev, const char *arg, char *out, size_t out_size);

#endif
