/* The structured view of an edge: per edge kind, the named fields that
 * reachctl prints as JSON/YAML "fields" and as the columns of that kind's
 * table. One table (edge_fields.c) decides them for every output. */
#ifndef REACH_EDGE_FIELDS_H
#define REACH_EDGE_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include "reach/ledger.h"

struct json_object;

/* An edge as fields are read from it: the ledger's edge, and its object
 * taken apart once (what the agent packs into it, see credential_object). */
struct credential_object {
	char host[256];          /* as in the Host header, port kept */
	char method[16];
	char path_template[1024];
	char kind[32];
	char fingerprint[17];    /* "" when none */
};

struct edge_field_view {
	const struct ledger_edge *e;
	struct credential_object cred; /* credential: parsed from object ("" when it does not parse) */
	char addr[64];                 /* egress: the address of "PROTO/ADDR/PORT" */
	char exe[512];                 /* tool: the executable; program: the interpreted program or "" */
	const char *program;
};

/* A field: its edge kind, its JSON name (the table's column is the name in
 * capitals) and how it is read (a new json_object, NULL for null). */
struct edge_field {
	enum ledger_kind kind;
	const char *name;
	struct json_object *(*get)(const struct edge_field_view *v);
	bool sparse; /* a table shows its column only when a row has a value (JSON always has it) */
};

/* The table, in column order per kind; n_edge_fields entries. */
extern const struct edge_field edge_fields[];
extern const size_t n_edge_fields;

/* {"name": value, ...} of e's kind: every field of the kind always present
 * (null when unknown). NULL on allocation failure. */
struct json_object *edge_fields_json(const struct ledger_edge *e);

/* The same for an edge known only by its kind name and object (a finding):
 * the fields that come from the object are filled, the others null. */
struct json_object *edge_fields_of_object(const char *kind, const char *object);

/* The same from an EDGE of ledger_to_json() or ledger_diff_to_json()
 * (the brief one too: what it lacks comes from the object or is null). */
struct json_object *edge_fields_of_json(struct json_object *edge);

/* Adds "fields" to every edge of a reach or diff document (identities[]
 * .edges[], .appeared[], .disappeared[]), after "object" in meaning though
 * last in order. Kept out of ledger.c: the ledger stays the store, this the
 * view of it; the agent's reach answer, reachctl --ledger and diff all pass
 * their document here. */
void edge_fields_annotate(struct json_object *doc);

/* "HOST METHOD PATH_TEMPLATE KIND[ fp:FP]" (PATH_TEMPLATE may be empty):
 * 0 or -EINVAL. */
int credential_object_parse(const char *object, struct credential_object *out);

#endif
