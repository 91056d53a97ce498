/* Interned strings and string lists: each distinct value is stored once in
 * its table and shared by every holder, which owns one reference to it.
 * The model holds many copies of few values (executables, exec chains,
 * categories, pods, images, epochs, paths), so a holder pays a pointer for
 * each instead of a copy.
 *
 * A value lives while it has references; intern_free() frees every value
 * whatever its references. Values are read-only. "" and the empty list are
 * static: interning them never fails and needs no release (releasing them
 * is harmless). Not thread-safe: a table belongs to one owner (an observed
 * model, a ledger) and is used under that owner's rules. */
#ifndef REACH_INTERN_H
#define REACH_INTERN_H

#include <stddef.h>

struct intern;

struct intern *intern_new(void); /* NULL on allocation failure */
void intern_free(struct intern *t); /* accepts NULL */

/* The table's copy of s (not NULL), with one more reference; NULL only on
 * allocation failure. */
const char *intern_str(struct intern *t, const char *s);
/* The table's copy of s when it has one (no reference taken), or NULL. */
const char *intern_find(const struct intern *t, const char *s);
/* Drops a reference intern_str() gave; NULL accepted. */
void intern_release(struct intern *t, const char *s);

/* The table's list of n strings equal to v[0..n-1] (none NULL), with one
 * more reference; NULL only on allocation failure. The list holds its own
 * references to its strings: the caller's are unchanged. */
const char *const *intern_list(struct intern *t, const char *const *v, size_t n);
/* Drops a reference intern_list() gave; NULL accepted. */
void intern_list_release(struct intern *t, const char *const *v);

/* Distinct strings and lists held (tests, stats). */
size_t intern_strings(const struct intern *t);
size_t intern_lists(const struct intern *t);

#endif
