/* reachctl's views of the agent's JSON documents, printed on stdout: a
 * table per edge kind whose columns are the kind's fields
 * (reach/edge_fields.h), in the kind order of the ledger, each titled
 * "KIND (N)"; and a Graphviz digraph identity -> edges. */
#ifndef REACH_EDGE_VIEW_H
#define REACH_EDGE_VIEW_H

#include <stdbool.h>

struct json_object;

/* reach: identities[].edges[] (wide: first seen, epoch, pods, full paths) */
void edge_view_reach(struct json_object *doc, bool wide);
/* diff: identities[].appeared[] (+) and .disappeared[] (-), then the counts */
void edge_view_diff(struct json_object *doc, bool wide);
/* findings: a list of findings, grouped by their edge kind */
void edge_view_findings(struct json_object *findings, bool wide);
/* verify -o table: the verdict per identity, then the findings */
void edge_view_verify(struct json_object *doc);
/* rotate: a list of items, a table per item kind */
void edge_view_rotation(struct json_object *items);
/* status: FIELD/VALUE, a row per scalar of the document (nested names dotted) */
void edge_view_status(struct json_object *doc);
/* reach -o dot */
void edge_view_dot(struct json_object *doc);

#endif
