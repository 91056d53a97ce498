/* The project's one set of JSON helpers over json-c: every document reach
 * builds or reads goes through json-c objects, never through hand-formatted
 * text. json-c itself is used directly for arrays, iteration and parsing;
 * these cover what each file used to write again: adding typed members,
 * optional members, typed reads with a default, and printing.
 *
 * The json_add_* functions add key to the object o (a key already there is
 * replaced, as json_object_object_add does) and return 0, -EINVAL when o is
 * not an object (NULL included), or -ENOMEM when a value could not be
 * allocated or added. A member whose value is NULL prints as null. */
#ifndef REACH_JSON_H
#define REACH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>

/* One line, '/' unescaped: the agent's events, API replies, stored labels. */
#define JSON_COMPACT (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
/* Indented for people, '/' unescaped: reachctl's -o json. */
#define JSON_READABLE (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Adds v under key, taking the caller's reference (freed on failure). */
int json_add(json_object *o, const char *key, json_object *v);
/* s, or null when s is NULL */
int json_add_str(json_object *o, const char *key, const char *s);
/* s, or null when s is NULL or "" */
int json_add_str_or_null(json_object *o, const char *key, const char *s);
/* s; nothing at all (no member) when s is NULL or "" */
int json_add_str_nonempty(json_object *o, const char *key, const char *s);
int json_add_int(json_object *o, const char *key, int64_t v);
/* v, or null when v is 0 (a time never set) */
int json_add_int_or_null(json_object *o, const char *key, int64_t v);
int json_add_u64(json_object *o, const char *key, uint64_t v);
int json_add_bool(json_object *o, const char *key, bool v);
int json_add_double(json_object *o, const char *key, double v);

/* A new string, or NULL (null) when s is NULL or "". */
json_object *json_new_str_or_null(const char *s);
/* A new array of the n strings of v. */
json_object *json_new_strings(const char *const *v, size_t n);
/* ms since the epoch as RFC 3339 UTC with milliseconds
 * ("2025-01-01T00:00:00.000Z"; floored before 1970), or NULL when the time
 * cannot be represented or on allocation failure. */
json_object *json_new_time_ms(int64_t ms);
/* Beside every "NAME_ms" (or "NAME_unix_ms") integer of o, at any depth, the
 * same time as RFC 3339 under "NAME" (or "NAME_at" when NAME holds
 * something else); kept when already there. Values before 2000 are
 * durations and left alone. */
void json_add_rfc3339(json_object *o);
/* A deep copy of o, or NULL. */
json_object *json_copy(json_object *o);

/* The member key of o when o is an object and the member has the type, else
 * NULL (a borrowed reference). */
json_object *json_get(json_object *o, const char *key, json_type type);
/* The string member key, or def when it is absent or not a string. */
const char *json_get_str(json_object *o, const char *key, const char *def);
/* The member key as an integer (json-c's conversion of numbers, booleans and
 * numeric strings), or def when it is absent or null. */
int64_t json_get_int(json_object *o, const char *key, int64_t def);
/* The member key as a boolean (json-c's conversion), or def when it is
 * absent or null. */
bool json_get_bool(json_object *o, const char *key, bool def);

/* o as text with json-c's JSON_C_TO_STRING_* flags (JSON_COMPACT,
 * JSON_READABLE): owned by o, valid until o changes or is freed. */
const char *json_text(json_object *o, int flags);
/* o and a newline to f; 0, or -1 when the write failed. */
int json_print(FILE *f, json_object *o, int flags);

/* o as a YAML document (libyaml's emitter: block style, strings quoted only
 * where YAML needs it), the same data as json_print: `-o yaml`. 0 or -EIO. */
int json_print_yaml(FILE *f, json_object *o);

#endif
