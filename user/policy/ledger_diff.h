/* The difference of two ledgers (user/policy/ledger_diff.c). */
#ifndef REACH_LEDGER_DIFF_H
#define REACH_LEDGER_DIFF_H

#include "reach/ledger.h"

struct json_object;

/* What appeared and disappeared between two ledgers, per identity and edge:
 *   {"identities":[{"identity","status":"added"|"removed"|"changed",
 *                   "appeared":[EDGE],"disappeared":[EDGE]}],
 *    "appeared":N,"disappeared":N,"unchanged":N}
 *   EDGE: {"kind","object","category","dest_class","name","count",
 *          "first_seen_ms","last_seen_ms","executables","epoch","last_epoch",
 *          "fields": reach/edge_fields.h}
 * Only identities with a difference are listed, in name order; edges by
 * kind then object. An edge is keyed by (kind, object). NULL on ENOMEM or a
 * NULL ledger. */
struct json_object *ledger_diff_to_json(const struct ledger *a, const struct ledger *b);

#endif
