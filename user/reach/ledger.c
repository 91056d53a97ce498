#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/intern.h"
#include "common/json.h"
#include "common/strset.h"
#include "reach/coverage.h"
#include "reach/ledger.h"

struct ledger {
	size_t max_identities, max_edges;
	struct intern *strings; /* every string, list and set of every edge; maybe shared (ledger_new_sharing) */
	struct ledger_identity **ids; /* sorted by name */
	size_t n_ids, cap_ids;
	size_t n_edges;
	uint64_t edges_dropped, identities_dropped;
	struct coverage *node_coverage; /* NULL: nothing missed */
};

static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
static int empty(const char *s) { return !s || !*s; }

const char *ledger_kind_name(enum ledger_kind kind)
{
	static const char *const names[LEDGER_KIND__MAX] = { "unspecified", "secret", "tool", "egress",
							     "credential", "dns", "mcp-tool", "llm" };

	return kind > LEDGER_KIND_UNSPECIFIED && kind < LEDGER_KIND__MAX ? names[kind] : "unspecified";
}

int ledger_kind_from_name(const char *name)
{
	for (int k = LEDGER_KIND_UNSPECIFIED + 1; name && k < LEDGER_KIND__MAX; k++)
		if (!strcmp(name, ledger_kind_name(k)))
			return k;
	return -1;
}

/* The ledger's fields hold interned values: char * for the public struct,
 * shared and read-only in fact. */
static const char *const *list_of(char *const *v) { return (const char *const *)v; }

/* Sets are interned records holding a reference to their members' list;
 * the empty one is static (what a new edge starts with). */
static const struct ledger_set empty_set;

static void set_release(struct intern *t, const struct ledger_set *set)
{
	struct ledger_set last;

	if (set && set != &empty_set && intern_record_release(t, set, &last))
		intern_list_release(t, list_of(last.v));
}

/* The table's set of the members v[0..n) and dropped count: NULL on
 * allocation failure. */
static const struct ledger_set *set_get(struct intern *t, const char *const *v, size_t n, uint64_t dropped)
{
	struct ledger_set set = { 0 };
	const struct ledger_set *shared;
	bool created;

	if (!n && !dropped)
		return &empty_set;
	if (!(set.v = (char **)intern_list(t, v, n)))
		return NULL;
	set.n = n;
	set.dropped = dropped;
	if (!(shared = intern_record(t, &set, sizeof(set), &created)) || !created)
		intern_list_release(t, list_of(set.v)); /* not kept, or an equal set holds its own */
	return shared;
}

static void edge_free(struct intern *t, struct ledger_edge *e)
{
	if (!e)
		return;
	intern_release(t, e->object);
	intern_release(t, e->category);
	intern_release(t, e->dest_class);
	intern_release(t, e->name);
	intern_release(t, e->name_source);
	intern_release(t, e->content_fingerprint);
	intern_release(t, e->opened_as);
	intern_release(t, e->arguments);
	intern_release(t, e->arg_shapes);
	intern_release(t, e->mcp_server);
	intern_release(t, e->mcp_tool);
	intern_release(t, e->proto);
	for (size_t i = 0; i < e->n_outcomes; i++)
		intern_release(t, e->outcomes[i].name);
	free(e->outcomes);
	set_release(t, e->executables);
	set_release(t, e->pods);
	set_release(t, e->images);
	set_release(t, e->key_fingerprints);
	intern_list_release(t, list_of(e->lineage));
	intern_release(t, e->epoch);
	intern_release(t, e->last_epoch);
	for (size_t i = 0; i < e->n_epochs; i++)
		intern_release(t, e->epoch_names[i]);
	free(e->epoch_names);
	free(e->epoch_first_ms);
	free(e->epoch_last_ms);
	free(e);
}

static struct ledger_edge *edge_new(struct intern *t, enum ledger_kind kind, const char *object)
{
	struct ledger_edge *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->kind = kind;
	e->executables = e->pods = e->images = e->key_fingerprints = &empty_set;
	/* interning "" never fails and costs nothing */
	e->category = e->dest_class = e->name = e->name_source = e->content_fingerprint = e->opened_as = e->arguments =
		e->arg_shapes = e->mcp_server = e->mcp_tool = e->proto = e->epoch = e->last_epoch =
		(char *)intern_str(t, "");
	if (!(e->object = (char *)intern_str(t, object))) {
		edge_free(t, e);
		return NULL;
	}
	return e;
}

static void identity_free(struct intern *t, struct ledger_identity *id)
{
	if (!id)
		return;
	for (size_t i = 0; i < id->n_edges; i++)
		edge_free(t, id->edges[i]);
	free(id->edges);
	for (size_t i = 0; i < id->n_by_epoch; i++)
		free(id->by_epoch[i]);
	free(id->by_epoch);
	free(id->coverage);
	free(id->name);
	free(id);
}

struct ledger *ledger_new(size_t max_identities, size_t max_edges_per_identity)
{
	return ledger_new_sharing(max_identities, max_edges_per_identity, NULL);
}

struct ledger *ledger_new_sharing(size_t max_identities, size_t max_edges_per_identity, struct intern *strings)
{
	struct ledger *l = calloc(1, sizeof(*l));

	if (!l || !(l->strings = strings ? intern_hold(strings) : intern_new())) {
		free(l);
		return NULL;
	}
	l->max_identities = max_identities ? max_identities : LEDGER_DEFAULT_MAX_IDENTITIES;
	l->max_edges = max_edges_per_identity ? max_edges_per_identity : LEDGER_DEFAULT_MAX_EDGES;
	return l;
}

void ledger_free(struct ledger *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_ids; i++)
		identity_free(l->strings, l->ids[i]);
	free(l->ids);
	free(l->node_coverage);
	intern_free(l->strings);
	free(l);
}

size_t ledger_identities(const struct ledger *l) { return l->n_ids; }
size_t ledger_edges(const struct ledger *l) { return l->n_edges; }
uint64_t ledger_edges_dropped(const struct ledger *l) { return l->edges_dropped; }
uint64_t ledger_identities_dropped(const struct ledger *l) { return l->identities_dropped; }

void ledger_add_dropped(struct ledger *l, uint64_t edges, uint64_t identities)
{
	l->edges_dropped = sat_add(l->edges_dropped, edges);
	l->identities_dropped = sat_add(l->identities_dropped, identities);
}

const struct ledger_identity *ledger_identity_at(const struct ledger *l, size_t i)
{
	return i < l->n_ids ? l->ids[i] : NULL;
}

/* Index of name, or of where it would be inserted; *found tells which. */
static size_t identity_pos(const struct ledger *l, const char *name, int *found)
{
	size_t lo = 0, hi = l->n_ids;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l->ids[mid]->name, name);

		if (!c) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct ledger_identity *ledger_identity_find(const struct ledger *l, const char *identity)
{
	int found;
	size_t i;

	if (!identity)
		return NULL;
	i = identity_pos(l, identity, &found);
	return found ? l->ids[i] : NULL;
}

static int edge_cmp(const struct ledger_edge *e, enum ledger_kind kind, const char *object)
{
	if (e->kind != kind)
		return e->kind < kind ? -1 : 1;
	return strcmp(e->object, object);
}

static size_t edge_pos(const struct ledger_identity *id, enum ledger_kind kind, const char *object, int *found)
{
	size_t lo = 0, hi = id->n_edges;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = edge_cmp(id->edges[mid], kind, object);

		if (!c) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct ledger_edge *ledger_edge_find(const struct ledger_identity *id, enum ledger_kind kind,
					   const char *object)
{
	int found;
	size_t i;

	if (!id || !object)
		return NULL;
	i = edge_pos(id, kind, object, &found);
	return found ? id->edges[i] : NULL;
}

/* Where v is or goes in the sorted v[0..n); *found tells which. */
static size_t sorted_pos(const char *const *v, size_t n, const char *x, int *found)
{
	size_t lo = 0, hi = n;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(v[mid], x);

		if (!c) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Adds s's values (NULL: none) to the sorted set *d, counting those that
 * do not fit as dropped. The set is shared (interned), so a change makes or
 * finds another set and drops the old one. */
/* max bounds the set; sum_dropped: s's dropped count is added (executables
 * each observation could not keep), else the larger one is kept (a KEY=VALUE
 * file's overflow is the file's: every feed and every agent sees the same). */
static int set_union_max(struct intern *t, const struct ledger_set **d, const struct ledger_set *s, size_t max,
			 bool sum_dropped)
{
	const char *v[LEDGER_MAX_KEY_FPS > LEDGER_MAX_VALUES ? LEDGER_MAX_KEY_FPS : LEDGER_MAX_VALUES];
	const struct ledger_set *set;
	size_t n = (*d)->n;
	uint64_t dropped = 0;

	if (!s)
		return 0;
	if (n)
		memcpy(v, (*d)->v, n * sizeof(*v));
	for (size_t i = 0; i < s->n; i++) {
		int found;
		size_t pos;

		if (empty(s->v[i]))
			continue;
		pos = sorted_pos(v, n, s->v[i], &found);
		if (found)
			continue;
		if (n >= max) {
			dropped = sat_add(dropped, 1);
			continue;
		}
		memmove(&v[pos + 1], &v[pos], (n - pos) * sizeof(*v));
		v[pos] = s->v[i];
		n++;
	}
	dropped = sum_dropped ? sat_add(sat_add((*d)->dropped, dropped), s->dropped)
			      : sat_add((*d)->dropped > s->dropped ? (*d)->dropped : s->dropped, dropped);
	if (n == (*d)->n && dropped == (*d)->dropped)
		return 0;
	if (!(set = set_get(t, v, n, dropped)))
		return -ENOMEM;
	set_release(t, *d);
	*d = set;
	return 0;
}

static int set_union(struct intern *t, const struct ledger_set **d, const struct ledger_set *s)
{
	return set_union_max(t, d, s, LEDGER_MAX_VALUES, true);
}

static int outcome_add(struct intern *t, struct ledger_edge *e, const char *name, uint64_t count)
{
	size_t lo = 0, hi = e->n_outcomes;
	struct ledger_outcome *no;
	const char *copy;

	if (empty(name) || !count)
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(e->outcomes[mid].name, name);

		if (!c) {
			e->outcomes[mid].count = sat_add(e->outcomes[mid].count, count);
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (e->n_outcomes >= LEDGER_MAX_OUTCOMES) {
		e->outcomes_dropped = sat_add(e->outcomes_dropped, count);
		return 0;
	}
	no = realloc(e->outcomes, (e->n_outcomes + 1) * sizeof(*no));
	if (!no)
		return -ENOMEM;
	e->outcomes = no;
	if (!(copy = intern_str(t, name)))
		return -ENOMEM;
	memmove(&e->outcomes[lo + 1], &e->outcomes[lo], (e->n_outcomes - lo) * sizeof(*e->outcomes));
	e->outcomes[lo].name = (char *)copy;
	e->outcomes[lo].count = count;
	e->n_outcomes++;
	return 0;
}

/* Replaces *dst by the ledger's copy of src. */
static int str_set(struct intern *t, char **dst, const char *src)
{
	const char *copy = intern_str(t, src);

	if (!copy)
		return -ENOMEM;
	intern_release(t, *dst);
	*dst = (char *)copy;
	return 0;
}

static int str_fill(struct intern *t, char **dst, const char *src)
{
	return **dst || empty(src) ? 0 : str_set(t, dst, src);
}

static int lineage_set(struct intern *t, struct ledger_edge *d, char *const *v, size_t n, bool truncated)
{
	size_t keep = n < LEDGER_MAX_LINEAGE ? n : LEDGER_MAX_LINEAGE;
	const char *nv[LEDGER_MAX_LINEAGE];
	const char *const *list;

	for (size_t i = 0; i < keep; i++)
		nv[i] = v[i] ? v[i] : "";
	if (!(list = intern_list(t, nv, keep)))
		return -ENOMEM;
	intern_list_release(t, list_of(d->lineage));
	d->lineage = (char **)list;
	d->n_lineage = keep;
	d->lineage_truncated = truncated || n > keep;
	return 0;
}

/* Position of epoch name in d's list, or d->n_epochs. */
static size_t epoch_pos(const struct ledger_edge *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n_epochs && strcmp(d->epoch_names[i], name); i++)
		;
	return i;
}

/* Orders the list: by first sighting, then name (unknown times first). */
static bool epoch_before(int64_t ta, const char *a, int64_t tb, const char *b)
{
	return ta < tb || (ta == tb && strcmp(a, b) < 0);
}

/* Adds one epoch sighting to d's list, keeping it sorted and bounded. */
static int epoch_add(struct intern *t, struct ledger_edge *d, const char *name, int64_t first, int64_t last)
{
	size_t at = epoch_pos(d, name), pos;
	const char *copy = NULL;

	if (at < d->n_epochs) {
		bool moved = first && (!d->epoch_first_ms[at] || first < d->epoch_first_ms[at]);

		if (last > d->epoch_last_ms[at])
			d->epoch_last_ms[at] = last;
		if (!moved)
			return 0;
		/* an earlier first sighting: take it out and insert it again */
		copy = d->epoch_names[at];
		last = d->epoch_last_ms[at];
		memmove(&d->epoch_names[at], &d->epoch_names[at + 1], (d->n_epochs - at - 1) * sizeof(char *));
		memmove(&d->epoch_first_ms[at], &d->epoch_first_ms[at + 1], (d->n_epochs - at - 1) * sizeof(int64_t));
		memmove(&d->epoch_last_ms[at], &d->epoch_last_ms[at + 1], (d->n_epochs - at - 1) * sizeof(int64_t));
		d->n_epochs--;
	} else {
		char **nn = realloc(d->epoch_names, (d->n_epochs + 1) * sizeof(*nn));
		int64_t *nf, *nl;

		if (nn)
			d->epoch_names = nn;
		nf = nn ? realloc(d->epoch_first_ms, (d->n_epochs + 1) * sizeof(*nf)) : NULL;
		if (nf)
			d->epoch_first_ms = nf;
		nl = nf ? realloc(d->epoch_last_ms, (d->n_epochs + 1) * sizeof(*nl)) : NULL;
		if (nl)
			d->epoch_last_ms = nl;
		if (!nl || !(copy = intern_str(t, name)))
			return -ENOMEM;
	}
	for (pos = d->n_epochs; pos > 0 && epoch_before(first, copy, d->epoch_first_ms[pos - 1], d->epoch_names[pos - 1]); pos--)
		;
	memmove(&d->epoch_names[pos + 1], &d->epoch_names[pos], (d->n_epochs - pos) * sizeof(char *));
	memmove(&d->epoch_first_ms[pos + 1], &d->epoch_first_ms[pos], (d->n_epochs - pos) * sizeof(int64_t));
	memmove(&d->epoch_last_ms[pos + 1], &d->epoch_last_ms[pos], (d->n_epochs - pos) * sizeof(int64_t));
	d->epoch_names[pos] = (char *)copy;
	d->epoch_first_ms[pos] = first;
	d->epoch_last_ms[pos] = last;
	d->n_epochs++;
	if (d->n_epochs > LEDGER_MAX_EPOCHS) {
		/* the oldest joins the "earlier" bucket */
		intern_release(t, d->epoch_names[0]);
		d->n_epochs--;
		memmove(&d->epoch_names[0], &d->epoch_names[1], d->n_epochs * sizeof(char *));
		memmove(&d->epoch_first_ms[0], &d->epoch_first_ms[1], d->n_epochs * sizeof(int64_t));
		memmove(&d->epoch_last_ms[0], &d->epoch_last_ms[1], d->n_epochs * sizeof(int64_t));
		d->epochs_earlier = d->epochs_earlier == UINT32_MAX ? UINT32_MAX : d->epochs_earlier + 1;
	}
	return 0;
}

/* The union of s's epoch list into d's (s without a list: its epoch and
 * last_epoch, as an old file or a caller's edge has them). */
static int epochs_union(struct intern *t, struct ledger_edge *d, const struct ledger_edge *s)
{
	int rc = 0;

	if (s->epochs_earlier > d->epochs_earlier)
		d->epochs_earlier = s->epochs_earlier;
	if (s->n_epochs) {
		for (size_t i = 0; i < s->n_epochs && !rc; i++)
			if (!empty(s->epoch_names[i]))
				rc = epoch_add(t, d, s->epoch_names[i], s->epoch_first_ms ? s->epoch_first_ms[i] : 0,
					       s->epoch_last_ms ? s->epoch_last_ms[i] : 0);
		return rc;
	}
	if (!empty(s->epoch))
		rc = epoch_add(t, d, s->epoch, s->first_ms, !empty(s->last_epoch) && strcmp(s->last_epoch, s->epoch) ? s->first_ms : s->last_ms);
	if (!rc && !empty(s->last_epoch))
		rc = epoch_add(t, d, s->last_epoch, empty(s->epoch) || strcmp(s->last_epoch, s->epoch) ? s->last_ms : s->first_ms,
			       s->last_ms);
	return rc;
}

int ledger_edge_in_epoch(const struct ledger_edge *e, const char *epoch, int64_t epoch_start_ms)
{
	if (!e || empty(epoch))
		return -1;
	if (epoch_pos(e, epoch) < e->n_epochs)
		return 1;
	if (!e->n_epochs)
		return e->epochs_earlier ? -1 : empty(e->epoch) && empty(e->last_epoch) ? -1 : 0;
	if (!e->epochs_earlier)
		return 0;
	/* something was merged away: only an epoch that began after the oldest
	 * kept one is known to be absent */
	return epoch_start_ms && epoch_start_ms > e->epoch_first_ms[0] ? 0 : -1;
}

/* The union of two edges' argument shapes, the earlier edge's first (its
 * first call's shapes lead). What does not fit is left out: the agent
 * counted its own; two ledgers' sets beyond the bound are not counted. */
static int shapes_union(struct intern *t, struct ledger_edge *d, const struct ledger_edge *s, int earlier)
{
	char buf[LEDGER_MCP_SHAPES_LEN];

	buf[0] = '\0';
	strset_union(buf, sizeof(buf), LEDGER_MCP_SHAPES_MAX, earlier ? s->arg_shapes : d->arg_shapes);
	strset_union(buf, sizeof(buf), LEDGER_MCP_SHAPES_MAX, earlier ? d->arg_shapes : s->arg_shapes);
	return strcmp(buf, d->arg_shapes ? d->arg_shapes : "") ? str_set(t, &d->arg_shapes, buf) : 0;
}

/* The union of s into d (same kind and object). */
static int edge_union(struct intern *t, struct ledger_edge *d, const struct ledger_edge *s)
{
	/* attributes of the first (latest) observation follow the earliest
	 * first seen (latest last seen); a tie keeps what d has */
	int earlier = s->first_ms && (!d->first_ms || s->first_ms < d->first_ms);
	int later = s->last_ms && s->last_ms > d->last_ms;
	int rc = 0;

	d->count = sat_add(d->count, s->count);
	d->mcp_responses = sat_add(d->mcp_responses, s->mcp_responses);
	d->mcp_errors = sat_add(d->mcp_errors, s->mcp_errors);
	/* server and tool travel together: the pair of the first call linked */
	if (empty(d->mcp_server) && !empty(s->mcp_server) &&
	    ((rc = str_set(t, &d->mcp_server, s->mcp_server)) || (rc = str_set(t, &d->mcp_tool, s->mcp_tool ? s->mcp_tool : ""))))
		return rc;
	if (!empty(s->arg_shapes) && (rc = shapes_union(t, d, s, earlier)))
		return rc;
	d->llm_tools_offered |= s->llm_tools_offered;
	/* the name and where it came from go together: a name filled from s
	 * takes s's source */
	if (!*d->name && !empty(s->name) && (rc = str_set(t, &d->name_source, s->name_source ? s->name_source : "")))
		return rc;
	if ((rc = str_fill(t, &d->category, s->category)) || (rc = str_fill(t, &d->dest_class, s->dest_class)) ||
	    (rc = str_fill(t, &d->name, s->name)) || (rc = str_fill(t, &d->proto, s->proto)) ||
	    (rc = str_fill(t, &d->content_fingerprint, s->content_fingerprint)) ||
	    (rc = str_fill(t, &d->opened_as, s->opened_as)) || (rc = str_fill(t, &d->arguments, s->arguments)))
		return rc;
	if (!d->port)
		d->port = s->port;
	for (size_t i = 0; i < s->n_outcomes; i++)
		if ((rc = outcome_add(t, d, s->outcomes[i].name, s->outcomes[i].count)))
			return rc;
	d->outcomes_dropped = sat_add(d->outcomes_dropped, s->outcomes_dropped);
	if ((rc = set_union(t, &d->executables, s->executables)) || (rc = set_union(t, &d->pods, s->pods)) ||
	    (rc = set_union(t, &d->images, s->images)) ||
	    (rc = set_union_max(t, &d->key_fingerprints, s->key_fingerprints, LEDGER_MAX_KEY_FPS, false)))
		return rc;
	if ((s->n_lineage || s->lineage_truncated) && (earlier || (!d->n_lineage && !d->lineage_truncated)))
		if ((rc = lineage_set(t, d, s->lineage, s->n_lineage, s->lineage_truncated)))
			return rc;
	if (!empty(s->epoch) && (earlier || !*d->epoch) && (rc = str_set(t, &d->epoch, s->epoch)))
		return rc;
	if (!empty(s->last_epoch) && (later || !*d->last_epoch) && (rc = str_set(t, &d->last_epoch, s->last_epoch)))
		return rc;
	if ((rc = epochs_union(t, d, s)))
		return rc;
	if (earlier)
		d->first_ms = s->first_ms;
	if (later)
		d->last_ms = s->last_ms;
	return 0;
}

static struct ledger_identity *identity_new(const char *name)
{
	struct ledger_identity *id = calloc(1, sizeof(*id));

	if (!id || !(id->name = strdup(name))) {
		free(id);
		return NULL;
	}
	return id;
}

static int identity_insert(struct ledger *l, size_t pos, struct ledger_identity *id)
{
	if (l->n_ids == l->cap_ids) {
		size_t cap = l->cap_ids ? l->cap_ids * 2 : 16;
		struct ledger_identity **n = realloc(l->ids, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->ids = n;
		l->cap_ids = cap;
	}
	memmove(&l->ids[pos + 1], &l->ids[pos], (l->n_ids - pos) * sizeof(*l->ids));
	l->ids[pos] = id;
	l->n_ids++;
	return 0;
}

/* The identity called name, created if the cap allows: NULL with *rc
 * -ENOSPC (counted) or -ENOMEM. */
static struct ledger_identity *identity_get(struct ledger *l, const char *name, int *rc)
{
	struct ledger_identity *id;
	int found;
	size_t pos = identity_pos(l, name, &found);

	if (found)
		return l->ids[pos];
	if (l->n_ids >= l->max_identities) {
		l->identities_dropped = sat_add(l->identities_dropped, 1);
		*rc = -ENOSPC;
		return NULL;
	}
	if (!(id = identity_new(name)) || identity_insert(l, pos, id)) {
		identity_free(l->strings, id);
		*rc = -ENOMEM;
		return NULL;
	}
	return id;
}

static int identity_add_edge(struct ledger *l, struct ledger_identity *id, const struct ledger_edge *e)
{
	struct ledger_edge *ne;
	int found, rc;
	size_t pos = edge_pos(id, e->kind, e->object, &found);

	if (found)
		return edge_union(l->strings, id->edges[pos], e);
	if (id->n_edges >= l->max_edges) {
		id->edges_dropped = sat_add(id->edges_dropped, 1);
		l->edges_dropped = sat_add(l->edges_dropped, 1);
		return -ENOSPC;
	}
	if (id->n_edges == id->cap_edges) {
		size_t cap = id->cap_edges ? id->cap_edges * 2 : 8;
		struct ledger_edge **n = realloc(id->edges, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		id->edges = n;
		id->cap_edges = cap;
	}
	if (!(ne = edge_new(l->strings, e->kind, e->object)))
		return -ENOMEM;
	if ((rc = edge_union(l->strings, ne, e))) {
		edge_free(l->strings, ne);
		return rc;
	}
	memmove(&id->edges[pos + 1], &id->edges[pos], (id->n_edges - pos) * sizeof(*id->edges));
	id->edges[pos] = ne;
	id->n_edges++;
	l->n_edges++;
	return 0;
}

static void identity_drop_if_empty(struct ledger *l, struct ledger_identity *id)
{
	int found;
	size_t pos;

	if (id->n_edges || id->edges_dropped)
		return;
	pos = identity_pos(l, id->name, &found);
	if (!found)
		return;
	memmove(&l->ids[pos], &l->ids[pos + 1], (l->n_ids - pos - 1) * sizeof(*l->ids));
	l->n_ids--;
	identity_free(l->strings, id);
}

int ledger_add_edge(struct ledger *l, const char *identity, const struct ledger_edge *e)
{
	struct ledger_identity *id;
	int rc = 0;

	if (!l || empty(identity) || !e || empty(e->object) || e->kind <= LEDGER_KIND_UNSPECIFIED ||
	    e->kind >= LEDGER_KIND__MAX)
		return -EINVAL;
	if (!(id = identity_get(l, identity, &rc))) {
		if (rc == -ENOSPC)
			l->edges_dropped = sat_add(l->edges_dropped, 1);
		return rc;
	}
	rc = identity_add_edge(l, id, e);
	if (rc == -ENOMEM)
		identity_drop_if_empty(l, id); /* no edgeless identity left behind */
	return rc;
}

int ledger_record(struct ledger *l, const struct ledger_obs *o)
{
	/* a one-observation edge that points into o: read, never written */
	char *exe[1], *pod[1], *image[1], *epoch_name[1];
	int64_t epoch_ms;
	struct ledger_set exes, pods, images, key_fps;
	struct ledger_outcome outcome;
	struct ledger_edge e;

	if (!o)
		return -EINVAL;
	memset(&e, 0, sizeof(e));
	e.kind = o->kind;
	e.object = (char *)o->object;
	e.category = (char *)o->category;
	e.dest_class = (char *)o->dest_class;
	e.name = (char *)o->name;
	e.name_source = (char *)o->name_source;
	e.content_fingerprint = (char *)o->content_fingerprint;
	e.opened_as = (char *)o->opened_as;
	e.arguments = (char *)o->arguments;
	e.arg_shapes = (char *)o->arg_shapes;
	e.mcp_responses = o->mcp_responses_delta;
	e.mcp_errors = o->mcp_errors_delta;
	e.mcp_server = (char *)o->mcp_server;
	e.mcp_tool = (char *)o->mcp_tool;
	e.llm_tools_offered = o->llm_tools_offered;
	e.proto = (char *)o->proto;
	e.port = o->port;
	if (!empty(o->outcome)) {
		outcome.name = (char *)o->outcome;
		outcome.count = o->count_delta;
		e.outcomes = &outcome;
		e.n_outcomes = 1;
	}
	e.count = o->count_delta;
	e.first_ms = o->first_ms;
	e.last_ms = o->last_ms;
	exe[0] = (char *)o->executable;
	pod[0] = (char *)o->pod;
	image[0] = (char *)o->image;
	exes = (struct ledger_set){ .v = exe, .n = !empty(o->executable) };
	pods = (struct ledger_set){ .v = pod, .n = !empty(o->pod) };
	images = (struct ledger_set){ .v = image, .n = !empty(o->image) };
	e.executables = &exes;
	e.pods = &pods;
	e.images = &images;
	key_fps = (struct ledger_set){ .v = (char **)o->key_fingerprints,
				       .n = o->key_fingerprints ? o->n_key_fingerprints : 0,
				       .dropped = o->key_fingerprints_dropped };
	e.key_fingerprints = &key_fps;
	e.lineage = o->lineage ? (char **)o->lineage : NULL;
	/* any length past the cap is truncated the same way */
	e.n_lineage = !o->lineage ? 0 : o->n_lineage > UINT16_MAX ? UINT16_MAX : (uint16_t)o->n_lineage;
	e.epoch = (char *)o->epoch;
	e.last_epoch = (char *)o->epoch;
	if (!empty(o->epoch)) {
		/* the sighting in this epoch is this observation's (its first_ms
		 * is the edge's first ever, maybe in an earlier epoch) */
		epoch_name[0] = (char *)o->epoch;
		epoch_ms = o->last_ms ? o->last_ms : o->first_ms;
		e.epoch_names = epoch_name;
		e.epoch_first_ms = &epoch_ms;
		e.epoch_last_ms = &epoch_ms;
		e.n_epochs = 1;
	}
	return ledger_add_edge(l, o->identity, &e);
}

int ledger_merge_identity(struct ledger *l, const char *identity, const struct ledger_edge *const *edges,
			  size_t n_edges, uint64_t edges_dropped)
{
	struct ledger_identity *id;
	int rc = 0;

	if (!l || empty(identity) || (n_edges && !edges))
		return -EINVAL;
	for (size_t i = 0; i < n_edges; i++)
		if (!edges[i] || empty(edges[i]->object) || edges[i]->kind <= LEDGER_KIND_UNSPECIFIED ||
		    edges[i]->kind >= LEDGER_KIND__MAX)
			return -EINVAL;
	if (!(id = identity_get(l, identity, &rc))) {
		if (rc == -ENOSPC) /* the identity's edges are lost with it */
			l->edges_dropped = sat_add(l->edges_dropped, n_edges);
		return rc;
	}
	id->edges_dropped = sat_add(id->edges_dropped, edges_dropped);
	for (size_t i = 0; i < n_edges; i++) {
		int r = identity_add_edge(l, id, edges[i]);

		if (r == -ENOSPC) {
			rc = r;
		} else if (r) {
			identity_drop_if_empty(l, id);
			return r;
		}
	}
	return rc;
}

/* Coverage */

static int coverage_union(struct coverage **dst, const struct coverage *src)
{
	if (coverage_is_empty(src))
		return 0;
	if (!*dst && !(*dst = calloc(1, sizeof(**dst))))
		return -ENOMEM;
	coverage_add(*dst, src);
	return 0;
}

int ledger_add_node_coverage(struct ledger *l, const struct coverage *c)
{
	if (!l || !c)
		return -EINVAL;
	return coverage_union(&l->node_coverage, c);
}

const struct coverage *ledger_node_coverage(const struct ledger *l) { return l ? l->node_coverage : NULL; }

/* c into the record of its epoch and into the sum. */
static int identity_add_coverage(struct ledger_identity *id, const struct coverage *c)
{
	const char *epoch = c->epoch;
	size_t pos = 0;
	int rc;

	if (id->n_by_epoch - (id->n_by_epoch && !id->by_epoch[0]->epoch[0]) >= LEDGER_MAX_COVERAGE_EPOCHS) {
		/* too many epochs: into the epoch-less record, judged in every
		 * epoch (a gap may be judged too often, never too little) */
		bool known = false;

		for (size_t i = 0; i < id->n_by_epoch && !known; i++)
			known = !strcmp(id->by_epoch[i]->epoch, epoch);
		if (!known)
			epoch = "";
	}
	while (pos < id->n_by_epoch && strcmp(id->by_epoch[pos]->epoch, epoch) < 0)
		pos++;
	if (pos == id->n_by_epoch || strcmp(id->by_epoch[pos]->epoch, epoch)) {
		struct coverage **n = realloc(id->by_epoch, (id->n_by_epoch + 1) * sizeof(*n)), *rec;

		if (!n)
			return -ENOMEM;
		id->by_epoch = n;
		if (!(rec = calloc(1, sizeof(*rec))))
			return -ENOMEM;
		snprintf(rec->epoch, sizeof(rec->epoch), "%s", epoch);
		memmove(&n[pos + 1], &n[pos], (id->n_by_epoch - pos) * sizeof(*n));
		n[pos] = rec;
		id->n_by_epoch++;
	}
	coverage_add(id->by_epoch[pos], c);
	if ((rc = coverage_union(&id->coverage, c)))
		return rc;
	id->coverage->epoch[0] = '\0'; /* the sum is every epoch's */
	return 0;
}

int ledger_add_coverage(struct ledger *l, const char *identity, const struct coverage *c)
{
	struct ledger_identity *id;
	int rc = 0;

	if (!l || empty(identity) || !c)
		return -EINVAL;
	if (coverage_is_empty(c))
		return 0;
	if (!ledger_identity_find(l, identity) && l->n_ids >= l->max_identities) {
		/* no room for the identity: the node's record keeps its gap,
		 * which then makes every verdict inconclusive. Moved, not
		 * dropped: identities_dropped counts the edges' refusals only. */
		if (coverage_union(&l->node_coverage, c))
			return -ENOMEM;
		return -ENOSPC;
	}
	if (!(id = identity_get(l, identity, &rc)))
		return rc;
	return identity_add_coverage(id, c);
}

bool ledger_coverage_of_epoch(const struct ledger_identity *id, const char *epoch, struct coverage *out)
{
	bool any = false;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; id && i < id->n_by_epoch; i++) {
		const struct coverage *c = id->by_epoch[i];

		if (epoch && c->epoch[0] && strcmp(c->epoch, epoch))
			continue;
		coverage_add(out, c);
		any = true;
	}
	if (epoch)
		snprintf(out->epoch, sizeof(out->epoch), "%s", epoch);
	return any;
}

int ledger_merge(struct ledger *dst, const struct ledger *src)
{
	int rc = 0;

	if (!dst || !src || dst == src)
		return -EINVAL;
	ledger_add_dropped(dst, src->edges_dropped, src->identities_dropped);
	if (coverage_union(&dst->node_coverage, src->node_coverage))
		return -ENOMEM;
	for (size_t i = 0; i < src->n_ids; i++) {
		const struct ledger_identity *sid = src->ids[i];
		int r = ledger_merge_identity(dst, sid->name, (const struct ledger_edge *const *)sid->edges,
					      sid->n_edges, sid->edges_dropped);

		if (!r || r == -ENOSPC) {
			for (size_t j = 0; j < sid->n_by_epoch; j++) {
				int c = ledger_add_coverage(dst, sid->name, sid->by_epoch[j]);

				if (c && c != -ENOSPC)
					return c;
			}
		}
		if (r == -ENOSPC)
			rc = r;
		else if (r)
			return r;
	}
	return rc;
}

/* JSON */

struct json_object *ledger_edge_to_json(const struct ledger_edge *e, bool brief)
{
	json_object *o = json_object_new_object(), *oc = brief ? NULL : json_object_new_object();

	if (!o || (!brief && !oc)) {
		json_object_put(o);
		json_object_put(oc);
		return NULL;
	}
	json_add_str(o, "kind", ledger_kind_name(e->kind));
	json_add_str(o, "object", e->object);
	json_add_str_or_null(o, "category", e->category);
	json_add_str_or_null(o, "dest_class", e->dest_class);
	json_add_str_or_null(o, "name", e->name);
	if (e->kind == LEDGER_EGRESS)
		json_add_str_or_null(o, "name_source", e->name_source);
	if (e->kind == LEDGER_MCP_TOOL) {
		json_add_str_or_null(o, "arguments", e->arguments);
		json_add_str_or_null(o, "arg_shapes", e->arg_shapes);
		json_add_str_or_null(o, "proto", e->proto);
		json_add_u64(o, "mcp_responses", e->mcp_responses);
		json_add_u64(o, "mcp_errors", e->mcp_errors);
	}
	if (!empty(e->mcp_server)) {
		json_add_str(o, "mcp_server", e->mcp_server);
		json_add_str_or_null(o, "mcp_tool", e->mcp_tool);
	}
	if (e->kind == LEDGER_LLM) {
		json_add_bool(o, "llm_tools_offered", e->llm_tools_offered);
		json_add_str_or_null(o, "proto", e->proto);
	}
	if (!brief) {
		json_add_str_or_null(o, "content_fingerprint", e->content_fingerprint);
		if (e->key_fingerprints->n || e->key_fingerprints->dropped) {
			json_add(o, "key_fingerprints", json_new_strings((const char *const *)e->key_fingerprints->v,
									  e->key_fingerprints->n));
			json_add_u64(o, "key_fingerprints_dropped", e->key_fingerprints->dropped);
		}
		json_add_str_or_null(o, "opened_as", e->opened_as);
		json_add_str_or_null(o, "proto", e->proto);
		json_add_int(o, "port", e->port);
		for (size_t i = 0; i < e->n_outcomes; i++)
			json_add_u64(oc, e->outcomes[i].name, e->outcomes[i].count);
		json_add(o, "outcomes", oc);
		json_add_u64(o, "outcomes_dropped", e->outcomes_dropped);
	}
	json_add_u64(o, "count", e->count);
	json_add_int_or_null(o, "first_seen_ms", e->first_ms);
	json_add_int_or_null(o, "last_seen_ms", e->last_ms);
	if (!brief) {
		json_add(o, "first_seen", e->first_ms ? json_new_time_ms(e->first_ms) : NULL);
		json_add(o, "last_seen", e->last_ms ? json_new_time_ms(e->last_ms) : NULL);
	}
	json_add(o, "executables", json_new_strings((const char *const *)e->executables->v, e->executables->n));
	if (!brief) {
		json_add_u64(o, "executables_dropped", e->executables->dropped);
		json_add(o, "lineage", json_new_strings((const char *const *)e->lineage, e->n_lineage));
		json_add_bool(o, "lineage_truncated", e->lineage_truncated);
		json_add(o, "pods", json_new_strings((const char *const *)e->pods->v, e->pods->n));
		json_add_u64(o, "pods_dropped", e->pods->dropped);
		json_add(o, "images", json_new_strings((const char *const *)e->images->v, e->images->n));
		json_add_u64(o, "images_dropped", e->images->dropped);
	}
	json_add_str_or_null(o, "epoch", e->epoch);
	json_add_str_or_null(o, "last_epoch", e->last_epoch);
	if (!brief) {
		json_object *arr = json_object_new_array();

		for (size_t i = 0; arr && i < e->n_epochs; i++) {
			json_object *ep = json_object_new_object();

			json_add_str(ep, "name", e->epoch_names[i]);
			json_add_int_or_null(ep, "first_seen_ms", e->epoch_first_ms[i]);
			json_add_int_or_null(ep, "last_seen_ms", e->epoch_last_ms[i]);
			json_object_array_add(arr, ep);
		}
		json_add(o, "epochs", arr);
		json_add_u64(o, "epochs_earlier", e->epochs_earlier);
	}
	return o;
}

/* The identity's edges of kind (0: all), or NULL when there is none of
 * that kind (*none set) or on allocation failure. */
static json_object *identity_json(const struct ledger_identity *id, int kind, int *none)
{
	json_object *o, *edges;
	size_t listed = 0;

	*none = 0;
	if (!(o = json_object_new_object()) || !(edges = json_object_new_array())) {
		json_object_put(o);
		return NULL;
	}
	json_add_str(o, "identity", id->name);
	json_add_u64(o, "edges_dropped", id->edges_dropped);
	json_add(o, "edges", edges);
	json_add(o, "coverage", coverage_to_json(id->coverage));
	{
		json_object *arr = json_object_new_array();

		for (size_t i = 0; i < id->n_by_epoch; i++) {
			json_object *c = coverage_to_json(id->by_epoch[i]);

			json_add_str_or_null(c, "epoch", id->by_epoch[i]->epoch);
			json_object_array_add(arr, c);
		}
		json_add(o, "coverage_by_epoch", arr);
	}
	for (size_t i = 0; i < id->n_edges; i++) {
		json_object *e;

		if (kind && id->edges[i]->kind != (enum ledger_kind)kind)
			continue;
		if (!(e = ledger_edge_to_json(id->edges[i], false)) || json_object_array_add(edges, e)) {
			json_object_put(e);
			json_object_put(o);
			return NULL;
		}
		listed++;
	}
	if (kind && !listed) {
		json_object_put(o);
		*none = 1;
		return NULL;
	}
	return o;
}

struct json_object *ledger_to_json(const struct ledger *l, const char *identity, const char *kind)
{
	json_object *root, *ids;
	int k = 0;

	if (!l || (kind && (k = ledger_kind_from_name(kind)) < 0)) {
		errno = EINVAL;
		return NULL;
	}
	if (!(root = json_object_new_object()) || !(ids = json_object_new_array())) {
		json_object_put(root);
		errno = ENOMEM;
		return NULL;
	}
	json_add(root, "identities", ids);
	for (size_t i = 0; i < l->n_ids; i++) {
		json_object *o;
		int none;

		if (identity && strcmp(identity, l->ids[i]->name))
			continue;
		o = identity_json(l->ids[i], k, &none);
		if (none)
			continue;
		if (!o || json_object_array_add(ids, o)) {
			json_object_put(o);
			json_object_put(root);
			errno = ENOMEM;
			return NULL;
		}
	}
	json_add_u64(root, "identity_count", l->n_ids);
	json_add_u64(root, "edge_count", l->n_edges);
	json_add_u64(root, "edges_dropped", l->edges_dropped);
	json_add_u64(root, "identities_dropped", l->identities_dropped);
	json_add(root, "node_coverage", coverage_to_json(l->node_coverage));
	return root;
}
