/* ledger_diff_to_json(): the reach that appeared and disappeared between two
 * ledgers (saved before and after an upgrade, or two nodes). */
#include <string.h>

#include "common/json.h"
#include "policy/ledger_diff.h"
#include "reach/edge_fields.h"

static long missing_edges(const struct ledger_identity *from, const struct ledger_identity *other, json_object *arr)
{
	long n = 0;

	for (size_t i = 0; from && i < from->n_edges; i++) {
		const struct ledger_edge *e = from->edges[i];
		json_object *o;

		if (other && ledger_edge_find(other, e->kind, e->object))
			continue;
		if (!(o = ledger_edge_to_json(e, true)) || json_object_array_add(arr, o)) {
			json_object_put(o);
			return -1;
		}
		n++;
	}
	return n;
}

struct json_object *ledger_diff_to_json(const struct ledger *a, const struct ledger *b)
{
	json_object *root, *ids;
	size_t ia = 0, ib = 0, na, nb;
	uint64_t appeared = 0, disappeared = 0, unchanged = 0;

	if (!a || !b)
		return NULL;
	root = json_object_new_object();
	ids = json_object_new_array();
	if (!root || !ids) {
		json_object_put(root);
		json_object_put(ids);
		return NULL;
	}
	json_add(root, "identities", ids);
	na = ledger_identities(a);
	nb = ledger_identities(b);
	/* both lists are in name order: one merge walk */
	while (ia < na || ib < nb) {
		const struct ledger_identity *x = ia < na ? ledger_identity_at(a, ia) : NULL;
		const struct ledger_identity *y = ib < nb ? ledger_identity_at(b, ib) : NULL;
		json_object *o, *app, *dis;
		long nap, ndis;
		int c;

		if (!x)
			c = 1;
		else if (!y)
			c = -1;
		else
			c = strcmp(x->name, y->name);
		if (c < 0) {
			y = NULL;
			ia++;
		} else if (c > 0) {
			x = NULL;
			ib++;
		} else {
			ia++;
			ib++;
		}
		o = json_object_new_object();
		app = json_object_new_array();
		dis = json_object_new_array();
		if (!o || !app || !dis) {
			json_object_put(o);
			json_object_put(app);
			json_object_put(dis);
			json_object_put(root);
			return NULL;
		}
		json_add_str(o, "identity", x ? x->name : y->name);
		json_add_str(o, "status", !x ? "added" : !y ? "removed" : "changed");
		json_add(o, "appeared", app);
		json_add(o, "disappeared", dis);
		nap = missing_edges(y, x, app);
		ndis = missing_edges(x, y, dis);
		if (nap < 0 || ndis < 0) {
			json_object_put(o);
			json_object_put(root);
			return NULL;
		}
		appeared += (uint64_t)nap;
		disappeared += (uint64_t)ndis;
		if (x && y)
			unchanged += x->n_edges - (size_t)ndis;
		if (!nap && !ndis) {
			json_object_put(o); /* nothing changed for this identity */
			continue;
		}
		json_object_array_add(ids, o);
	}
	json_add_u64(root, "appeared", appeared);
	json_add_u64(root, "disappeared", disappeared);
	json_add_u64(root, "unchanged", unchanged);
	edge_fields_annotate(root); /* each edge's fields, as reach shows them */
	return root;
}
