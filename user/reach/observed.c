#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/cgroup.h"
#include "common/hmap.h"
#include "common/intern.h"
#include "common/strset.h"
#include "reach/observed.h"

struct observed {
	struct hmap *cgroups; /* "id" -> struct cgroup_reach */
	struct cgroup_reach **sorted;
	struct intern *strings; /* every edge's strings and string lists */
	size_t n_edges, max_edges;
	uint64_t edges_dropped, edges_evicted;
};

/* What few edges have, allocated for them alone. Credential edges (one per
 * kind of request that carries one) and TLS edges (one per executable) are
 * few; so are edges fed by more than one dedup key, or by more than
 * EDGE_MAX_EXES executables. */
struct edge_rare {
	const char *detail;            /* interned, or NULL */
	struct edge_credential *cred;  /* credential edges, or NULL */
	struct edge_mcp *mcp;          /* answers, or the call it was an effect of; or NULL */
	uint64_t exes_dropped;
	uint64_t uncounted_sources;
	/* secret: a KEY=VALUE file's "KEY:FINGERPRINT" list (interned), or NULL */
	const char *const *key_fps;
	size_t n_key_fps;
	uint64_t key_fps_dropped;
	struct edge_source more_src[]; /* sources 1..n_src-1 */
};

void observed_set_max_edges(struct observed *o, size_t max_edges) { o->max_edges = max_edges; }
uint64_t observed_edges_dropped(const struct observed *o) { return o->edges_dropped; }
uint64_t observed_edges_evicted(const struct observed *o) { return o->edges_evicted; }
size_t observed_edge_total(const struct observed *o) { return o->n_edges; }
struct intern *observed_strings(struct observed *o) { return o->strings; }

const char *edge_kind_name(enum edge_kind kind)
{
	static const char *const names[EDGE__MAX] = { "secret", "tool", "egress", "credential", "tls", "mcp-tool", "llm" };

	return kind < EDGE__MAX ? names[kind] : "unknown";
}

/* First processes are interned records holding references to their
 * strings and lineage. */
static void process_release(struct intern *t, const struct edge_process *p)
{
	struct edge_process last;

	if (p && intern_record_release(t, p, &last)) {
		intern_release(t, last.comm);
		intern_release(t, last.exe);
		intern_list_release(t, last.lineage);
	}
}

/* The table's record of the process that made obs; NULL on allocation
 * failure. */
static const struct edge_process *process_get(struct intern *t, const struct observation *obs)
{
	const char *lineage[EDGE_MAX_LINEAGE];
	size_t n_lineage = obs->n_lineage < EDGE_MAX_LINEAGE ? obs->n_lineage : EDGE_MAX_LINEAGE;
	char comm[REACH_COMM_LEN];
	const struct edge_process *shared;
	struct edge_process p;
	bool created;

	memset(&p, 0, sizeof(p)); /* records compare byte for byte: padding included */
	p.pid = obs->hdr->pid;
	p.tgid = obs->hdr->tgid;
	p.ppid = obs->hdr->ppid;
	p.uid = obs->hdr->uid;
	memcpy(comm, obs->hdr->comm, sizeof(comm));
	comm[sizeof(comm) - 1] = '\0';
	for (size_t i = 0; i < n_lineage; i++)
		lineage[i] = obs->lineage[i];
	p.n_lineage = (uint8_t)n_lineage;
	if (!(p.comm = intern_str(t, comm)) || !(p.exe = intern_str(t, obs->exe ? obs->exe : "")) ||
	    !(p.lineage = intern_list(t, lineage, n_lineage))) {
		intern_release(t, p.comm);
		intern_release(t, p.exe);
		return NULL;
	}
	if (!(shared = intern_record(t, &p, sizeof(p), &created)) || !created) {
		/* not kept, or an equal record holds its own references */
		intern_release(t, p.comm);
		intern_release(t, p.exe);
		intern_list_release(t, p.lineage);
	}
	return shared;
}

/* The edge's rare part, allocated (zeroed) on first use with room for
 * n_more extra sources; NULL on allocation failure. */
static struct edge_rare *rare_of(struct edge *e, size_t n_more)
{
	size_t had = e->rare && e->n_src > 1 ? e->n_src - 1u : 0;
	struct edge_rare *r;

	if (e->rare && n_more <= had)
		return e->rare;
	if (!(r = realloc(e->rare, sizeof(*r) + n_more * sizeof(r->more_src[0]))))
		return NULL;
	if (!e->rare)
		memset(r, 0, sizeof(*r));
	return e->rare = r;
}

uint64_t edge_uncounted_sources(const struct edge *e) { return e->rare ? e->rare->uncounted_sources : 0; }
uint64_t edge_exes_dropped(const struct edge *e) { return e->rare ? e->rare->exes_dropped : 0; }
const struct edge_credential *edge_cred(const struct edge *e) { return e->rare ? e->rare->cred : NULL; }
const char *edge_detail(const struct edge *e) { return e->rare ? e->rare->detail : NULL; }
const struct edge_mcp *edge_mcp(const struct edge *e) { return e->rare ? e->rare->mcp : NULL; }

static struct edge_mcp *mcp_of(struct edge *e)
{
	if (!rare_of(e, 0))
		return NULL;
	if (!e->rare->mcp)
		e->rare->mcp = calloc(1, sizeof(*e->rare->mcp));
	return e->rare->mcp;
}

int observed_mcp_answer(struct edge *e, bool is_error)
{
	struct edge_mcp *m = mcp_of(e);

	if (!m)
		return -ENOMEM;
	m->responses++;
	m->errors += is_error;
	return 0;
}

int observed_mcp_via(struct observed *o, struct edge *e, const char *server, const char *tool)
{
	struct edge_mcp *m;

	if (edge_mcp(e) && edge_mcp(e)->server)
		return 0; /* the first call linked stays */
	if (!(m = mcp_of(e)))
		return -ENOMEM;
	if (!(m->server = intern_str(o->strings, server)))
		return -ENOMEM;
	if (!(m->tool = intern_str(o->strings, tool))) {
		intern_release(o->strings, m->server);
		m->server = NULL;
		return -ENOMEM;
	}
	return 0;
}

int observed_mcp_shapes(struct observed *o, struct edge *e, const char *shapes)
{
	char buf[EDGE_MCP_SHAPES_LEN];
	struct edge_mcp *m;
	const char *n;
	int rc;

	if (!shapes || !*shapes)
		return 0;
	if (!(m = mcp_of(e)))
		return -ENOMEM;
	snprintf(buf, sizeof(buf), "%s", m->arg_shapes ? m->arg_shapes : "");
	if ((rc = strset_add(buf, sizeof(buf), EDGE_MCP_SHAPES_MAX, shapes)))
		return rc < 0 ? 1 : 0;
	if (!(n = intern_str(o->strings, buf)))
		return -ENOMEM;
	intern_release(o->strings, m->arg_shapes);
	m->arg_shapes = n;
	return 0;
}

void edge_mcp_set_fed(struct edge *e)
{
	if (e->rare && e->rare->mcp) {
		e->rare->mcp->fed_responses = e->rare->mcp->responses;
		e->rare->mcp->fed_errors = e->rare->mcp->errors;
		e->rare->mcp->fed_via = e->rare->mcp->server != NULL;
	}
}

static void edge_free(struct intern *t, struct edge *e)
{
	if (!e)
		return;
	process_release(t, e->proc);
	intern_release(t, e->object);
	intern_release(t, e->requested_path);
	intern_release(t, e->address);
	intern_release(t, e->name);
	intern_release(t, e->content_fp);
	intern_list_release(t, e->exes);
	intern_list_release(t, e->argv);
	if (e->rare) {
		intern_release(t, e->rare->detail);
		intern_list_release(t, e->rare->key_fps);
		if (e->rare->mcp) {
			intern_release(t, e->rare->mcp->server);
			intern_release(t, e->rare->mcp->tool);
			intern_release(t, e->rare->mcp->arg_shapes);
			free(e->rare->mcp);
		}
		free(e->rare->cred);
		free(e->rare);
	}
	free(e);
}

static void cgroup_reach_free(struct intern *t, struct cgroup_reach *c)
{
	for (size_t i = 0; i < c->n_edges; i++)
		edge_free(t, c->edges[i]);
	free(c->edges);
	free(c->index);
	free(c->path);
	free(c);
}

struct observed *observed_new(void)
{
	struct observed *o = calloc(1, sizeof(*o));

	if (!o || !(o->cgroups = hmap_new()) || !(o->strings = intern_new())) {
		if (o)
			hmap_free(o->cgroups, NULL);
		free(o);
		return NULL;
	}
	return o;
}

void observed_free(struct observed *o)
{
	struct hmap_iter it;
	const char *k;
	void *v;

	if (!o)
		return;
	hmap_iter_init(&it, o->cgroups);
	while (hmap_iter_next(&it, &k, &v))
		cgroup_reach_free(o->strings, v);
	hmap_free(o->cgroups, NULL);
	intern_free(o->strings);
	free(o->sorted);
	free(o);
}

const struct cgroup_reach *observed_cgroup(const struct observed *o, uint64_t cgroup_id)
{
	char key[24];

	snprintf(key, sizeof(key), "%" PRIu64, cgroup_id);
	return hmap_get(o->cgroups, key);
}

static struct cgroup_reach *cgroup_get(struct observed *o, uint64_t id)
{
	char key[24], path[512];
	struct cgroup_reach *c;

	snprintf(key, sizeof(key), "%" PRIu64, id);
	c = hmap_get(o->cgroups, key);
	if (c)
		return c;
	if (cgroup_path_of(id, path, sizeof(path)))
		snprintf(path, sizeof(path), "?");
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path))) {
		free(c);
		return NULL;
	}
	c->cgroup_id = id;
	if (hmap_put(o->cgroups, key, c, NULL)) {
		cgroup_reach_free(o->strings, c);
		return NULL;
	}
	return c;
}

/* The index of a cgroup's edges: (kind, object) -> edge. Objects are
 * interned, so equal objects are the same pointer and the index keeps no
 * key of its own. A slot holds the edge's position in c->edges plus one (0:
 * empty): half the size of a pointer, the index being most of a cgroup's
 * bookkeeping per edge. */

static size_t index_home(enum edge_kind kind, const char *object, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)object ^ (uint64_t)kind;

	h ^= h >> 33; /* pointers differ in their middle bits: mix them down */
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & (cap - 1);
}

static struct edge *index_find(const struct cgroup_reach *c, enum edge_kind kind, const char *object)
{
	size_t mask = c->index_cap - 1;

	if (!c->index_cap)
		return NULL;
	for (size_t i = index_home(kind, object, c->index_cap); c->index[i]; i = (i + 1) & mask) {
		struct edge *e = c->edges[c->index[i] - 1];

		if (e->kind == kind && e->object == object)
			return e;
	}
	return NULL;
}

/* Indexes the edge at position pos of c->edges. */
struct edge *observed_find(struct observed *o, uint64_t cgroup_id, enum edge_kind kind, const char *object)
{
	const struct cgroup_reach *c = observed_cgroup(o, cgroup_id);
	const char *known = c && object ? intern_find(o->strings, object) : NULL;

	return known ? index_find(c, kind, known) : NULL;
}

static void index_insert(uint32_t *index, size_t cap, const struct edge *e, size_t pos)
{
	size_t i = index_home(e->kind, e->object, cap);

	while (index[i])
		i = (i + 1) & (cap - 1);
	index[i] = (uint32_t)(pos + 1);
}

/* Room in the index for one more edge, at a load of at most 3/4: 0 or -1
 * (also when positions would not fit a slot). */
static int index_reserve(struct cgroup_reach *c)
{
	size_t cap = c->index_cap ? c->index_cap * 2 : 16;
	uint32_t *index;

	if (c->n_edges >= UINT32_MAX - 1)
		return -1;
	if ((c->n_edges + 1) * 4 <= c->index_cap * 3)
		return 0;
	if (!(index = calloc(cap, sizeof(*index))))
		return -1;
	for (size_t i = 0; i < c->n_edges; i++)
		index_insert(index, cap, c->edges[i], i);
	free(c->index);
	c->index = index;
	c->index_cap = cap;
	return 0;
}

/* The table's copy of s, "" for NULL (so the field is printable). */
static int take_str(struct intern *t, const char **dst, const char *s)
{
	return (*dst = intern_str(t, s ? s : "")) ? 0 : -1;
}

/* The table's copy of s, or NULL for NULL. */
static int take_opt_str(struct intern *t, const char **dst, const char *s)
{
	*dst = NULL;
	return s && !(*dst = intern_str(t, s)) ? -1 : 0;
}

/* The table's copy of the first max entries of v. */
static int take_list(struct intern *t, const char *const **dst, uint8_t *n, const char *const *v, size_t count,
		     size_t max)
{
	size_t keep = count < max ? count : max;

	if (!(*dst = intern_list(t, v, keep)))
		return -1;
	*n = (uint8_t)keep;
	return 0;
}

static struct edge *edge_new(struct intern *t, enum edge_kind kind, const char *object,
			     const struct observation *obs)
{
	struct edge *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->kind = kind;
	e->category = obs->category;
	e->open_flags = obs->open_flags;
	e->first_ns = e->last_ns = obs->hdr->ts_ns;
	e->proto = obs->proto;
	e->port = obs->port;
	e->source_port = obs->source_port;
	e->name_ttl = obs->name_ttl;
	e->name_source = obs->name ? obs->name_source : 0;
	e->dest_class = obs->dest_class;
	e->argv_truncated = obs->argv_truncated || obs->argc > EDGE_MAX_ARGS;
	if (!(e->proc = process_get(t, obs)) || take_str(t, &e->object, object) ||
	    take_str(t, &e->requested_path, obs->requested_path) ||
	    take_str(t, &e->content_fp, NULL) || take_opt_str(t, &e->address, obs->address) ||
	    take_opt_str(t, &e->name, obs->name) || take_list(t, &e->exes, &e->n_exes, NULL, 0, 0) ||
	    take_list(t, &e->argv, &e->argc, obs->argv, obs->argc, EDGE_MAX_ARGS))
		goto fail;
	if (obs->detail || obs->cred) {
		if (!rare_of(e, 0) || take_opt_str(t, &e->rare->detail, obs->detail))
			goto fail;
		if (obs->cred) {
			if (!(e->rare->cred = malloc(sizeof(*e->rare->cred))))
				goto fail;
			*e->rare->cred = *obs->cred;
		}
	}
	return e;
fail:
	edge_free(t, e);
	return NULL;
}

const struct edge_source *edge_source_at(const struct edge *e, size_t i)
{
	return i == 0 ? &e->first_src : &e->rare->more_src[i - 1];
}

static struct edge_source *source_at(struct edge *e, size_t i)
{
	return i == 0 ? &e->first_src : &e->rare->more_src[i - 1];
}

/* A new source slot, or NULL when the edge has its maximum (or no memory:
 * the key is then counted like one beyond the maximum). */
static struct edge_source *source_new(struct edge *e)
{
	if (e->n_src >= EDGE_MAX_SOURCES)
		return NULL;
	if (e->n_src > 0 && !rare_of(e, e->n_src)) /* rare: grown one at a time */
		return NULL;
	return source_at(e, e->n_src++);
}

/* Counts kept in the rare part: lost only when it cannot be allocated. */
static void count_uncounted_source(struct edge *e)
{
	if (rare_of(e, 0))
		e->rare->uncounted_sources++;
}

static void count_dropped_exe(struct edge *e)
{
	if (rare_of(e, 0))
		e->rare->exes_dropped++;
}

/* Adds a dedup key to the edge's sources. An event for a key the edge
 * already tracks is, for deduplicated kinds, a new map entry (the old one was
 * evicted or forgotten): the old entry's count is final, so it is retired
 * now, even if no refresh read it since. */
static void edge_track_key(struct edge *e, const struct observation *obs)
{
	uint8_t tag = obs->tag < EDGE_MAX_TAGS ? obs->tag : 0;
	struct edge_source *s;

	for (size_t i = 0; i < e->n_src; i++) {
		s = source_at(e, i);
		if (memcmp(&s->key, obs->key, sizeof(*obs->key)) != 0)
			continue;
		if (obs->new_map_entry && s->first_ns != obs->hdr->ts_ns) {
			s->retired += s->last_count;
			s->last_count = 1;
			s->first_ns = obs->hdr->ts_ns; /* the kernel stamps a new entry with the event time */
		}
		return;
	}
	if (!(s = source_new(e))) {
		count_uncounted_source(e);
		return;
	}
	memset(s, 0, sizeof(*s));
	s->key = *obs->key;
	/* deduplicated kinds: the entry's first_ns is this event's time;
	 * otherwise unknown until the first refresh adopts it */
	s->first_ns = obs->new_map_entry ? obs->hdr->ts_ns : 0;
	s->last_count = 1; /* the occurrence that made this event */
	s->tag = tag;
}

/* Adds exe to the edge's set of executables (bounded, extras counted). */
static void edge_add_exe(struct intern *t, struct edge *e, const char *exe)
{
	const char *v[EDGE_MAX_EXES];
	const char *const *exes;

	if (!exe || !*exe)
		return;
	for (size_t i = 0; i < e->n_exes; i++)
		if (strcmp(e->exes[i], exe) == 0)
			return;
	if (e->n_exes == EDGE_MAX_EXES) {
		count_dropped_exe(e);
		return;
	}
	memcpy(v, e->exes, e->n_exes * sizeof(*v));
	v[e->n_exes] = exe;
	if (!(exes = intern_list(t, v, e->n_exes + 1u))) {
		count_dropped_exe(e);
		return;
	}
	intern_list_release(t, e->exes);
	e->exes = exes;
	e->n_exes++;
}

int observed_set_content_fp(struct observed *o, struct edge *e, const char *fp)
{
	const char *s = intern_str(o->strings, fp ? fp : "");

	if (!s)
		return -ENOMEM;
	intern_release(o->strings, e->content_fp);
	e->content_fp = s;
	return 0;
}

int observed_set_key_fps(struct observed *o, struct edge *e, const char *const *v, size_t n, uint64_t dropped)
{
	const char *const *list;
	struct edge_rare *r;

	if (!n && !dropped)
		return 0;
	if (!(list = intern_list(o->strings, v, n)))
		return -ENOMEM;
	if (!(r = rare_of(e, 0))) {
		intern_list_release(o->strings, list);
		return -ENOMEM;
	}
	intern_list_release(o->strings, r->key_fps);
	r->key_fps = list;
	r->n_key_fps = n;
	r->key_fps_dropped = dropped;
	return 0;
}

size_t edge_key_fps(const struct edge *e, const char *const **v, uint64_t *dropped)
{
	*v = e->rare ? e->rare->key_fps : NULL;
	*dropped = e->rare ? e->rare->key_fps_dropped : 0;
	return e->rare && e->rare->key_fps ? e->rare->n_key_fps : 0;
}

int observed_name_edge(struct observed *o, uint64_t cgroup_id, enum edge_kind kind, const char *object,
		       const char *name, uint8_t source, uint64_t ts_ns)
{
	const struct cgroup_reach *c = observed_cgroup(o, cgroup_id);
	const char *known = c ? intern_find(o->strings, object) : NULL; /* the index compares interned pointers */
	struct edge *e = known ? index_find(c, kind, known) : NULL;
	const char *old;

	if (!e || (e->name && e->name[0]) || !name || !name[0])
		return 0;
	old = e->name;
	if (take_opt_str(o->strings, &e->name, name)) {
		e->name = old;
		return -ENOMEM;
	}
	intern_release(o->strings, old);
	e->name_source = source;
	if (ts_ns > e->last_ns)
		e->last_ns = ts_ns;
	return 1;
}

struct edge *observed_add(struct observed *o, enum edge_kind kind, const struct observation *obs,
			  bool *is_new)
{
	struct cgroup_reach *c = cgroup_get(o, obs->hdr->cgroup_id);
	const char *object = obs->object ? obs->object : "", *known;
	struct edge *e = NULL;

	*is_new = false;
	if (!c)
		return NULL;
	/* an object the model holds nowhere has no edge yet */
	if ((known = intern_find(o->strings, object)))
		e = index_find(c, kind, known);
	if (!e && o->max_edges && o->n_edges >= o->max_edges) {
		o->edges_dropped++; /* at the cap: counted, never silent */
		errno = ENOSPC;
		return NULL;
	}
	if (!e) {
		if (c->n_edges == c->cap_edges) {
			size_t cap = c->cap_edges ? c->cap_edges * 2 : 16;
			struct edge **edges = realloc(c->edges, cap * sizeof(*edges));

			if (!edges)
				goto fail;
			c->edges = edges;
			c->cap_edges = cap;
		}
		if (index_reserve(c) || !(e = edge_new(o->strings, kind, object, obs)))
			goto fail;
		index_insert(c->index, c->index_cap, e, c->n_edges);
		c->edges[c->n_edges++] = e;
		o->n_edges++;
		*is_new = true;
	}
	e->events++;
	if (kind == EDGE_LLM)
		e->open_flags |= obs->open_flags; /* tools offered: by any call */
	edge_add_exe(o->strings, e, obs->exe);
	if (obs->hdr->ts_ns > e->last_ns)
		e->last_ns = obs->hdr->ts_ns;
	edge_track_key(e, obs);
	return e;
fail:
	errno = ENOMEM;
	return NULL;
}

/* Counters read from a source's map entry (a refresh or a final read). */
static void source_update(struct edge *e, struct edge_source *s, const struct reach_dedup_val *val)
{
	if (s->first_ns && val->first_ns != s->first_ns) {
		/* a new incarnation: the old one's count is final */
		s->retired += s->last_count;
	}
	s->first_ns = val->first_ns;
	s->last_count = val->count;
	if (val->last_ns > e->last_ns)
		e->last_ns = val->last_ns;
}

void observed_refresh(struct observed *o, dedup_lookup_fn lookup, void *ctx)
{
	struct hmap_iter it;
	const char *k;
	void *v;

	hmap_iter_init(&it, o->cgroups);
	while (hmap_iter_next(&it, &k, &v)) {
		struct cgroup_reach *c = v;

		for (size_t i = 0; i < c->n_edges; i++) {
			struct edge *e = c->edges[i];

			for (size_t j = 0; j < e->n_src; j++) {
				struct edge_source *s = source_at(e, j);
				struct reach_dedup_val val;

				if (lookup(ctx, &s->key, &val) != 0)
					continue; /* evicted: keep the last count we read */
				source_update(e, s, &val);
			}
		}
	}
}

void observed_take_final(struct edge *e, dedup_take_fn take, void *ctx)
{
	for (size_t j = 0; j < e->n_src; j++) {
		struct edge_source *s = source_at(e, j);
		struct reach_dedup_val val;

		if (take(ctx, &s->key, &val) == 0)
			source_update(e, s, &val);
	}
}

void observed_mark_evicted(struct edge *e) { e->evicting = true; }

static int cmp_victim(const void *a, const void *b)
{
	const struct edge *x = ((const struct observed_victim *)a)->edge, *y = ((const struct observed_victim *)b)->edge;

	if (x->last_ns != y->last_ns)
		return x->last_ns < y->last_ns ? -1 : 1;
	return x->first_ns < y->first_ns ? -1 : x->first_ns > y->first_ns;
}

size_t observed_least_recent(struct observed *o, struct observed_victim **out)
{
	struct observed_victim *v = malloc((o->n_edges ? o->n_edges : 1) * sizeof(*v));
	struct hmap_iter it;
	const char *k;
	void *c;
	size_t n = 0;

	*out = NULL;
	if (!v)
		return 0;
	hmap_iter_init(&it, o->cgroups);
	while (hmap_iter_next(&it, &k, &c)) {
		struct cgroup_reach *cg = c;

		for (size_t i = 0; i < cg->n_edges; i++)
			if (cg->edges[i]->kind != EDGE_TLS && !cg->edges[i]->evicting)
				v[n++] = (struct observed_victim){ cg, cg->edges[i] };
	}
	if (!n) {
		free(v);
		return 0;
	}
	qsort(v, n, sizeof(*v), cmp_victim);
	*out = v;
	return n;
}

/* Drops c's marked edges, keeping the others in order, and rebuilds its
 * index (positions moved). Returns how many were freed. */
static size_t cgroup_sweep(struct intern *t, struct cgroup_reach *c)
{
	size_t kept = 0, freed;

	for (size_t i = 0; i < c->n_edges; i++) {
		if (c->edges[i]->evicting)
			edge_free(t, c->edges[i]);
		else
			c->edges[kept++] = c->edges[i];
	}
	freed = c->n_edges - kept;
	if (!freed)
		return 0;
	c->n_edges = kept;
	/* same capacity: every slot cleared, every edge inserted again */
	memset(c->index, 0, c->index_cap * sizeof(*c->index));
	for (size_t i = 0; i < c->n_edges; i++)
		index_insert(c->index, c->index_cap, c->edges[i], i);
	return freed;
}

size_t observed_sweep(struct observed *o)
{
	struct hmap_iter it;
	const char *k;
	void *c;
	size_t freed = 0;

	hmap_iter_init(&it, o->cgroups);
	while (hmap_iter_next(&it, &k, &c))
		freed += cgroup_sweep(o->strings, c);
	o->n_edges -= freed;
	o->edges_evicted += freed;
	return freed;
}

/* What an edge's sources hold, summed over every source (tag < 0) or those
 * of one tag: their retired counts, last counts read, and what the ledger
 * has of them (fed), as what asks for. */
enum { SRC_RETIRED = 1, SRC_LAST = 2, SRC_FED = 4 };

static uint64_t sources_sum(const struct edge *e, int tag, unsigned what)
{
	uint64_t n = 0;

	for (size_t i = 0; i < e->n_src; i++) {
		const struct edge_source *s = edge_source_at(e, i);

		if (tag >= 0 && s->tag != tag)
			continue;
		n += (what & SRC_RETIRED ? s->retired : 0) + (what & SRC_LAST ? s->last_count : 0) +
		     (what & SRC_FED ? s->fed : 0);
	}
	return n;
}

uint64_t edge_count(const struct edge *e)
{
	return edge_uncounted_sources(e) + sources_sum(e, -1, SRC_RETIRED | SRC_LAST);
}

/* a tag >= EDGE_MAX_TAGS has no source: 0 */
uint64_t edge_count_tag(const struct edge *e, uint8_t tag) { return sources_sum(e, tag, SRC_RETIRED | SRC_LAST); }
uint64_t edge_retired(const struct edge *e) { return sources_sum(e, -1, SRC_RETIRED); }
uint64_t edge_retired_tag(const struct edge *e, uint8_t tag) { return sources_sum(e, tag, SRC_RETIRED); }

/* Kept per source, summed per tag: the sources of a tag are all marked
 * together, so the sum is the tag's count when it was last fed. */
uint64_t edge_fed_tag(const struct edge *e, uint8_t tag) { return sources_sum(e, tag, SRC_FED); }

void edge_set_fed_tag(struct edge *e, uint8_t tag)
{
	for (size_t i = 0; i < e->n_src; i++) {
		struct edge_source *s = source_at(e, i);

		if (s->tag == tag)
			s->fed = s->retired + s->last_count;
	}
}

static int cmp_cgroup(const void *a, const void *b)
{
	const struct cgroup_reach *x = *(struct cgroup_reach *const *)a, *y = *(struct cgroup_reach *const *)b;

	return x->cgroup_id < y->cgroup_id ? -1 : x->cgroup_id > y->cgroup_id;
}

size_t observed_cgroups(const struct observed *o, struct cgroup_reach ***out)
{
	struct observed *m = (struct observed *)o;
	size_t n = hmap_count(o->cgroups), i = 0;
	struct hmap_iter it;
	const char *k;
	void *v;

	free(m->sorted);
	m->sorted = calloc(n ? n : 1, sizeof(*m->sorted));
	if (!m->sorted) {
		*out = NULL;
		return 0;
	}
	hmap_iter_init(&it, o->cgroups);
	while (hmap_iter_next(&it, &k, &v))
		m->sorted[i++] = v;
	qsort(m->sorted, n, sizeof(*m->sorted), cmp_cgroup);
	*out = m->sorted;
	return n;
}
