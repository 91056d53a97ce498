/* Names a user types: identities and versions given to reachctl, identities
 * written in policies. Two jobs, each done here and nowhere else:
 *
 * Identity names. A host workload is named after its systemd unit without
 * the unit type: "host/nginx" for nginx.service (the identity resolver's
 * name). "host/nginx.service" is accepted everywhere a user writes an
 * identity (policies, reachctl, the API) and means the same identity:
 * names_identity_normalize() drops the ".service" suffix of a "host/"
 * name. Every other name is kept as written.
 *
 * Typos. A name that matches nothing is an error that names the closest
 * known ones (names_closest()), never an empty answer. */
#ifndef REACH_NAMES_H
#define REACH_NAMES_H

#include <stddef.h>

/* The canonical form of an identity name into out (always terminated; in
 * may be out):
 * "host/NAME.service" -> "host/NAME"; anything else copied. Returns out. */
char *names_identity_normalize(const char *in, char *out, size_t out_size);

/* Up to max_out of names[0..n) closest to want (edit distance, at most
 * about a third of the longer name, or names that contain want or that
 * want contains), best first; returns how many. */
size_t names_closest(const char *want, const char *const *names, size_t n, const char **out, size_t max_out);

/* "; did you mean A, B or C?" for the closest of names, or "; known: A, B"
 * (the first few) when none is close, or "" when names is empty: the tail
 * of an "unknown X" error. Returns out. */
char *names_suggest(const char *want, const char *const *names, size_t n, char *out, size_t out_size);

#endif
