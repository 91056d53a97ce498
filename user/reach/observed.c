#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/cgroup.h"
#include "common/hmap.h"
#include "reach/observed.h"

struct observed {
	struct hmap *cgroups; /* "id" -> struct cgroup_reach */
	struct cgroup_reach **sorted;
	size_t n_edges, max_edges;
	uint64_t edges_dropped;
};

void observed_set_max_edges(struct observed *o, size_t max_edges) { o->max_edges = max_edges; }
uint64_t observed_edges_dropped(const struct observed *o) { return o->edges_dropped; }
size_t observed_edge_total(const struct observed *o) { return o->n_edges; }

const char *edge_kind_name(enum edge_kind kind)
{
	static const char *const names[EDGE__MAX] = { "secret", "tool", "egress", "credential", "tls" };

	return kind < EDGE__MAX ? names[kind] : "unknown";
}

static void edge_free(struct edge *e)
{
	if (!e)
		return;
	free(e->object);
	free(e->requested_path);
	free(e->exe);
	free(e->address);
	free(e->name);
	free(e->detail);
	free(e->cred);
	for (size_t i = 0; i < e->n_exes; i++)
		free(e->exes[i]);
	for (size_t i = 0; i < e->n_lineage; i++)
		free(e->lineage[i]);
	for (size_t i = 0; i < e->argc; i++)
		free(e->argv[i]);
	free(e);
}

static void cgroup_reach_free(void *p)
{
	struct cgroup_reach *c = p;

	for (size_t i = 0; i < c->n_edges; i++)
		edge_free(c->edges[i]);
	free(c->edges);
	hmap_free(c->by_object, NULL);
	free(c);
}

struct observed *observed_new(void)
{
	struct observed *o = calloc(1, sizeof(*o));

	if (!o || !(o->cgroups = hmap_new())) {
		free(o);
		return NULL;
	}
	return o;
}

void observed_free(struct observed *o)
{
	if (!o)
		return;
	hmap_free(o->cgroups, cgroup_reach_free);
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
	char key[24];
	struct cgroup_reach *c;

	snprintf(key, sizeof(key), "%" PRIu64, id);
	c = hmap_get(o->cgroups, key);
	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->by_object = hmap_new())) {
		free(c);
		return NULL;
	}
	c->cgroup_id = id;
	if (cgroup_path_of(id, c->path, sizeof(c->path)))
		snprintf(c->path, sizeof(c->path), "?");
	if (hmap_put(o->cgroups, key, c, NULL)) {
		cgroup_reach_free(c);
		return NULL;
	}
	return c;
}

/* strdup that treats NULL as "" so every string field is printable */
static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static struct edge *edge_new(enum edge_kind kind, const struct observation *obs)
{
	struct edge *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->kind = kind;
	e->category = obs->category;
	e->pid = obs->hdr->pid;
	e->tgid = obs->hdr->tgid;
	e->ppid = obs->hdr->ppid;
	e->uid = obs->hdr->uid;
	memcpy(e->comm, obs->hdr->comm, sizeof(e->comm));
	e->comm[sizeof(e->comm) - 1] = '\0';
	e->open_flags = obs->open_flags;
	e->first_ns = e->last_ns = obs->hdr->ts_ns;
	e->object = dup_or_empty(obs->object);
	e->requested_path = dup_or_empty(obs->requested_path);
	e->exe = dup_or_empty(obs->exe);
	if (!e->object || !e->requested_path || !e->exe)
		goto fail;
	e->proto = obs->proto;
	e->port = obs->port;
	e->source_port = obs->source_port;
	e->name_ttl = obs->name_ttl;
	e->dest_class = obs->dest_class;
	if ((obs->address && !(e->address = strdup(obs->address))) || (obs->name && !(e->name = strdup(obs->name))) ||
	    (obs->detail && !(e->detail = strdup(obs->detail))))
		goto fail;
	if (obs->cred) {
		if (!(e->cred = malloc(sizeof(*e->cred))))
			goto fail;
		*e->cred = *obs->cred;
	}
	for (size_t i = 0; i < obs->n_lineage && i < 8; i++) {
		if (!(e->lineage[i] = strdup(obs->lineage[i])))
			goto fail;
		e->n_lineage++;
	}
	for (size_t i = 0; i < obs->argc && i < EDGE_MAX_ARGS; i++) {
		if (!(e->argv[i] = strdup(obs->argv[i])))
			goto fail;
		e->argc++;
	}
	e->argv_truncated = obs->argv_truncated || obs->argc > EDGE_MAX_ARGS;
	return e;
fail:
	edge_free(e);
	return NULL;
}

/* Adds a dedup key to the edge's sources. An event for a key the edge
 * already tracks is, for deduplicated kinds, a new map entry (the old one was
 * evicted or forgotten): the old entry's count is final, so it is retired
 * now, even if no refresh read it since. */
static void edge_track_key(struct edge *e, const struct observation *obs)
{
	uint8_t tag = obs->tag < EDGE_MAX_TAGS ? obs->tag : 0;

	for (size_t i = 0; i < e->n_src; i++) {
		struct edge_source *s = &e->src[i];

		if (memcmp(&s->key, obs->key, sizeof(*obs->key)) != 0)
			continue;
		if (obs->new_map_entry && s->first_ns != obs->hdr->ts_ns) {
			e->retired += s->last_count;
			e->retired_by_tag[s->tag] += s->last_count;
			s->last_count = 1;
			s->first_ns = obs->hdr->ts_ns; /* the kernel stamps a new entry with the event time */
		}
		return;
	}
	if (e->n_src < EDGE_MAX_SOURCES) {
		struct edge_source *s = &e->src[e->n_src++];

		s->key = *obs->key;
		/* deduplicated kinds: the entry's first_ns is this event's time;
		 * otherwise unknown until the first refresh adopts it */
		s->first_ns = obs->new_map_entry ? obs->hdr->ts_ns : 0;
		s->last_count = 1; /* the occurrence that made this event */
		s->tag = tag;
	} else {
		e->uncounted_sources++;
	}
}

/* Adds exe to the edge's set of executables (bounded, extras counted). */
static void edge_add_exe(struct edge *e, const char *exe)
{
	if (!exe || !*exe)
		return;
	for (size_t i = 0; i < e->n_exes; i++)
		if (strcmp(e->exes[i], exe) == 0)
			return;
	if (e->n_exes == EDGE_MAX_EXES || !(e->exes[e->n_exes] = strdup(exe))) {
		e->exes_dropped++;
		return;
	}
	e->n_exes++;
}

struct edge *observed_add(struct observed *o, enum edge_kind kind, const struct observation *obs,
			  bool *is_new)
{
	struct cgroup_reach *c = cgroup_get(o, obs->hdr->cgroup_id);
	char *okey;
	struct edge *e;

	*is_new = false;
	if (!c)
		return NULL;
	if (asprintf(&okey, "%s:%s", edge_kind_name(kind), obs->object) < 0)
		return NULL;
	e = hmap_get(c->by_object, okey);
	if (!e && o->max_edges && o->n_edges >= o->max_edges) {
		o->edges_dropped++; /* at the cap: counted, never silent */
		free(okey);
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
		e = edge_new(kind, obs);
		if (!e)
			goto fail;
		if (hmap_put(c->by_object, okey, e, NULL)) {
			edge_free(e);
			goto fail;
		}
		c->edges[c->n_edges++] = e;
		o->n_edges++;
		*is_new = true;
	}
	free(okey);
	e->events++;
	edge_add_exe(e, obs->exe);
	if (obs->hdr->ts_ns > e->last_ns)
		e->last_ns = obs->hdr->ts_ns;
	edge_track_key(e, obs);
	return e;
fail:
	free(okey);
	errno = ENOMEM;
	return NULL;
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
				struct edge_source *s = &e->src[j];
				struct reach_dedup_val val;

				if (lookup(ctx, &s->key, &val) != 0)
					continue; /* evicted: keep the last count we read */
				if (s->first_ns && val.first_ns != s->first_ns) {
					/* a new incarnation: the old one's count is final */
					e->retired += s->last_count;
					e->retired_by_tag[s->tag] += s->last_count;
				}
				s->first_ns = val.first_ns;
				s->last_count = val.count;
				if (val.last_ns > e->last_ns)
					e->last_ns = val.last_ns;
			}
		}
	}
}

uint64_t edge_count(const struct edge *e)
{
	uint64_t n = e->retired + e->uncounted_sources;

	for (size_t i = 0; i < e->n_src; i++)
		n += e->src[i].last_count;
	return n;
}

uint64_t edge_count_tag(const struct edge *e, uint8_t tag)
{
	uint64_t n;

	if (tag >= EDGE_MAX_TAGS)
		return 0;
	n = e->retired_by_tag[tag];
	for (size_t i = 0; i < e->n_src; i++)
		if (e->src[i].tag == tag)
			n += e->src[i].last_count;
	return n;
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
