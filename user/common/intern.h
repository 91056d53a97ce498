/* Interned strings and string lists: each distinct value is stored once in
 * its table and shared by every holder, which owns one reference to it.
 * The model holds many copies of few values (executables, exec chains,
 * categories, pods, images, epochs, paths), so a holder pays a pointer for
 * each instead of a copy. Records (small fixed-size structs, compared byte
 * for byte) share groups of values the same way: the sets of a ledger edge,
 * the first process of an observed edge.
 *
 * A value lives while it has references; the table's last owner, in
 * intern_free(), frees every value whatever its references. Values are
 * read-only. "" and the empty list are static: interning them never fails
 * and needs no release (releasing them is harmless).
 *
 * A table may have several owners (intern_hold()): reachd's observed model
 * and its ledger share one, so the strings both hold (every edge's object,
 * names, executables, exec chains) are stored once, not once per model.
 * Each owner releases what it took before its intern_free(). Not
 * thread-safe: the owners of a table use it from one thread. */
#ifndef REACH_INTERN_H
#define REACH_INTERN_H

#include <stdbool.h>
#include <stddef.h>

struct intern;

struct intern *intern_new(void); /* one owner; NULL on allocation failure */
/* One more owner of t; returns t. */
struct intern *intern_hold(struct intern *t);
/* Drops an owner; the last frees the table and every value in it. Accepts
 * NULL. */
void intern_free(struct intern *t);

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

/* The table's record equal to the len bytes at rec (len > 0), with one
 * more reference; NULL only on allocation failure. Equal means equal bytes:
 * zero a struct's padding before interning it. A record may hold references
 * of its own (interned strings, lists): when *created, the table's new
 * record took over the caller's references; otherwise an equal record
 * already holds its own and the caller drops the ones it brought. Records
 * of different types in one table must differ in size, or one holder's
 * record could be handed to another as its own type. */
const void *intern_record(struct intern *t, const void *rec, size_t len, bool *created);
/* Drops a reference intern_record() gave; NULL accepted. When it was the
 * last, the record is freed after its bytes are copied to last (the size it
 * was interned with) and 1 is returned: the caller then drops the
 * references the record held. 0 otherwise. */
int intern_record_release(struct intern *t, const void *rec, void *last);

/* Distinct strings, lists and records held (tests, stats). */
size_t intern_strings(const struct intern *t);
size_t intern_lists(const struct intern *t);
size_t intern_records(const struct intern *t);

#endif
