/* The secret catalogue: which file paths count as credentials, and what kind.
 *
 * An ordered list of rules {pattern, category, negate}. A path's category is
 * that of the first matching non-negated rule, unless any exclusion rule
 * ("!pattern") matches it: exclusions win regardless of order, so a public
 * CA bundle stays excluded whatever custom rules are added after it.
 *
 * Pattern forms (glob syntax in reach/glob.h):
 *   /abs/path/glob      matched against the whole absolute path
 *   "**" + "/rest"      any directory prefix (or none) before /rest
 *   name-glob           no '/' at all: matched against the basename only
 *   ~/rest              expands to two rules: /root/rest and /home/STAR/rest,
 *                       STAR being a single '*' (any one user's home)
 *   !any-of-the-above   exclusion
 * Categories: 1..63 characters from [A-Za-z0-9._-]; they end up in reports,
 * so nothing that could break a log line or a JSON string is accepted. */
#ifndef REACH_CATALOG_H
#define REACH_CATALOG_H

#include <stddef.h>

struct catalog;

/* NULL on allocation failure. */
struct catalog *catalog_new(void);
/* Accepts NULL. */
void catalog_free(struct catalog *c);

/* Appends the built-in credential rules. 0; -EINVAL for a NULL c; -ENOMEM
 * (then nothing is added). */
int catalog_add_builtin(struct catalog *c);

/* Appends one rule (two for "~/..."). category NULL means "custom".
 * 0; -EINVAL for a malformed pattern or category; -ENOMEM. Nothing is added
 * on error. */
int catalog_add(struct catalog *c, const char *pattern, const char *category);

/* catalog_add() of one configured entry "PATTERN [CATEGORY]" (the
 * secrets.patterns / --secret-patterns form; the config loader already
 * rejects more words). Same results. */
int catalog_add_entry(struct catalog *c, const char *entry);

/* Appends the rules of a pattern file: one "PATTERN [CATEGORY]" per line,
 * fields separated by blanks; blank lines and lines starting with '#' are
 * skipped, and a field starting with '#' begins a trailing comment.
 * All or nothing: on error no rule from the file is kept, a negative errno is
 * returned and err (if non-NULL) receives "FILE: reason" for open/read errors
 * or "FILE:LINE: reason" for a bad line. */
int catalog_add_file(struct catalog *c, const char *file, char *err, size_t err_size);

/* Category of abs_path (which the caller has normalized, see reach/path.h),
 * or NULL when no rule or an exclusion matches. The string lives as long as
 * the catalogue. */
const char *catalog_match(const struct catalog *c, const char *abs_path);

/* The length of a pattern's literal beginning: up to its first glob
 * special character (all of it when it has none). */
size_t catalog_pattern_literal_len(const char *pattern);

/* Number of rules, exclusions and "~" expansions included. */
size_t catalog_size(const struct catalog *c);

/* The pattern of rule i (< catalog_size; "~" already expanded, without the
 * '!' of an exclusion, which *negate tells), or NULL past the end: what the
 * kernel pre-filter compiles (reach/catfilter.h). */
const char *catalog_rule_pattern(const struct catalog *c, size_t i, int *negate);

#endif
