/* Path globbing for the secret catalogue.
 *
 * Syntax (no special treatment of leading dots):
 *   *      any run of characters except '/'
 *   ?      exactly one character except '/'
 *   **     any run of characters, '/' included; a "**" that is a whole path
 *          component ("**" then '/', at the start or after a '/') may also
 *          match zero components: "**" "/.env" matches "/.env" and ".env",
 *          "/a/" "**" "/b" matches "/a/b" as well as "/a/x/y/b".
 *          Three or more '*' act as "**".
 *   [abc] [a-z] [!a] [^a]   one character from / not from the class; a class
 *          never matches '/'; ']' first in the class is literal; an
 *          unterminated '[' is a literal '['.
 *   \x     the character x literally (a trailing '\' is a literal '\').
 * The whole path must match. Runs in O(pattern length * path length) time:
 * no backtracking, so hostile patterns cannot blow up. */
#ifndef REACH_GLOB_H
#define REACH_GLOB_H

#include <stdbool.h>

/* False for NULL arguments, and (never in practice) when a very long
 * pattern's working memory cannot be allocated. */
bool glob_match(const char *pattern, const char *path);

/* A pattern a person wrote, checked for what is surely a mistake although
 * glob_match() would read it: an unterminated '[' ("/tmp/[abc"), a range
 * whose end is before its start ("[z-a]": matches nothing), three or more
 * '*' ("***": "**" was meant, or "*"). 0, or -EINVAL with the reason in why
 * and the byte offset of the mistake in *offset (policies report it as
 * FILE:LINE:COLUMN). */
int glob_check(const char *pattern, size_t *offset, char *why, size_t why_size);

#endif
