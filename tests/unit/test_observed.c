#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "reach/observed.h"

/* cgroup ids that exist nowhere: cgroup_path_of() cannot find them. */
#define CG_A 0xfeed000000000030ULL
#define CG_B 0xfeed000000000010ULL
#define CG_C 0xfeed000000000020ULL

/* ---- a fake kernel dedup map -------------------------------------------- */

#define FAKE_MAX 32

struct fake_map {
	struct {
		struct reach_dedup_key key;
		struct reach_dedup_val val;
		bool present;
	} e[FAKE_MAX];
	size_t n;
	size_t lookups;
};

static void fake_set(struct fake_map *m, const struct reach_dedup_key *key, uint64_t count, uint64_t first_ns,
		     uint64_t last_ns)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (memcmp(&m->e[i].key, key, sizeof(*key)) == 0)
			break;
	if (i == m->n) {
		assert_true(m->n < FAKE_MAX);
		m->n++;
	}
	m->e[i].key = *key;
	m->e[i].val.count = count;
	m->e[i].val.first_ns = first_ns;
	m->e[i].val.last_ns = last_ns;
	m->e[i].present = true;
}

static void fake_evict(struct fake_map *m, const struct reach_dedup_key *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (memcmp(&m->e[i].key, key, sizeof(*key)) == 0)
			m->e[i].present = false;
}

static int fake_lookup(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	struct fake_map *m = ctx;

	m->lookups++;
	for (size_t i = 0; i < m->n; i++) {
		if (m->e[i].present && memcmp(&m->e[i].key, key, sizeof(*key)) == 0) {
			*val = m->e[i].val;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- observation builders ------------------------------------------------ */

static struct reach_dedup_key mkkey(uint64_t cgroup_id, uint32_t kind, uint64_t hash)
{
	struct reach_dedup_key k;

	memset(&k, 0, sizeof(k));
	k.cgroup_id = cgroup_id;
	k.kind = kind;
	k.hash = hash;
	return k;
}

static struct reach_event_hdr mkhdr(uint64_t cgroup_id, uint32_t tgid, uint64_t ts_ns)
{
	struct reach_event_hdr h;

	memset(&h, 0, sizeof(h));
	h.kind = REACH_EV_FILE_OPEN;
	h.ts_ns = ts_ns;
	h.cgroup_id = cgroup_id;
	h.pid = tgid + 1;
	h.tgid = tgid;
	h.ppid = tgid - 1;
	h.uid = 1000;
	snprintf(h.comm, sizeof(h.comm), "comm%u", tgid);
	return h;
}

static struct observation mkobs(const struct reach_event_hdr *hdr, const struct reach_dedup_key *key,
				const char *object)
{
	struct observation obs;

	memset(&obs, 0, sizeof(obs));
	obs.hdr = hdr;
	obs.key = key;
	obs.object = object;
	return obs;
}

static struct observed *new_observed(void)
{
	struct observed *o = observed_new();

	assert_non_null(o);
	return o;
}

/* Adds object to cgroup cg with a key of hash h at time ts; returns the edge. */
static struct edge *add(struct observed *o, enum edge_kind kind, uint64_t cg, const char *object, uint64_t h,
			uint64_t ts, bool *is_new)
{
	struct reach_event_hdr hdr = mkhdr(cg, 100, ts);
	struct reach_dedup_key key = mkkey(cg, kind == EDGE_TOOL ? REACH_EV_EXEC : REACH_EV_FILE_OPEN, h);
	struct observation obs = mkobs(&hdr, &key, object);
	struct edge *e;

	/* as reachd does: secret and egress events each start a new map entry;
	 * exec events repeat for one entry */
	obs.new_map_entry = kind != EDGE_TOOL;
	e = observed_add(o, kind, &obs, is_new);

	assert_non_null(e);
	return e;
}

/* ---- tests --------------------------------------------------------------- */

static void test_kind_names(void **state)
{
	assert_string_equal(edge_kind_name(EDGE_SECRET), "secret");
	assert_string_equal(edge_kind_name(EDGE_TOOL), "tool");
	assert_string_equal(edge_kind_name(EDGE__MAX), "unknown");
}

static void test_empty_observed_has_no_cgroups(void **state)
{
	struct observed *o = new_observed();
	struct cgroup_reach **cgs = (struct cgroup_reach **)&cgs;
	struct fake_map map = { 0 };

	observed_refresh(o, fake_lookup, &map);
	assert_int_equal(map.lookups, 0);
	assert_int_equal(observed_cgroups(o, &cgs), 0);
	assert_non_null(cgs);
	observed_free(o);
	observed_free(NULL);
}

static void test_first_observation_creates_edge_with_its_fields(void **state)
{
	struct observed *o = new_observed();
	struct reach_event_hdr hdr = mkhdr(CG_A, 4242, 1000);
	struct reach_dedup_key key = mkkey(CG_A, REACH_EV_FILE_OPEN, 0xabc);
	struct observation obs = mkobs(&hdr, &key, "/home/u/.aws/credentials");
	const char *lineage[] = { "/bin/bash", "/usr/bin/python3" };
	const char *argv[] = { "python3", "-c", "x" };
	struct cgroup_reach **cgs;
	bool is_new = false;
	struct edge *e;

	memcpy(hdr.comm, "python3-abcdefghijkl", sizeof(hdr.comm)); /* 16 bytes, no NUL */
	obs.category = "cloud";
	obs.open_flags = 0x8000;
	obs.requested_path = ".aws/credentials";
	obs.exe = "/usr/bin/python3";
	obs.lineage = lineage;
	obs.n_lineage = 2;
	obs.argv = argv;
	obs.argc = 3;

	e = observed_add(o, EDGE_SECRET, &obs, &is_new);
	assert_non_null(e);
	assert_true(is_new);
	assert_int_equal(e->kind, EDGE_SECRET);
	assert_string_equal(e->object, "/home/u/.aws/credentials");
	assert_ptr_not_equal(e->object, obs.object); /* copied */
	assert_string_equal(e->category, "cloud");
	assert_int_equal(e->proc->pid, 4243);
	assert_int_equal(e->proc->tgid, 4242);
	assert_int_equal(e->proc->ppid, 4241);
	assert_int_equal(e->proc->uid, 1000);
	assert_string_equal(e->proc->comm, "python3-abcdefg"); /* NUL terminated in 16 */
	assert_int_equal(e->open_flags, 0x8000);
	assert_string_equal(e->requested_path, ".aws/credentials");
	assert_string_equal(e->proc->exe, "/usr/bin/python3");
	assert_int_equal(e->proc->n_lineage, 2);
	assert_string_equal(e->proc->lineage[0], "/bin/bash");
	assert_string_equal(e->proc->lineage[1], "/usr/bin/python3");
	assert_ptr_not_equal(e->proc->lineage[0], lineage[0]);
	assert_int_equal(e->argc, 3);
	assert_string_equal(e->argv[0], "python3");
	assert_string_equal(e->argv[2], "x");
	assert_false(e->argv_truncated);
	assert_int_equal(e->first_ns, 1000);
	assert_int_equal(e->last_ns, 1000);
	assert_int_equal(e->events, 1);
	assert_int_equal(e->n_src, 1);
	assert_int_equal(edge_count(e), 1); /* before any refresh: the event itself */

	assert_int_equal(observed_cgroups(o, &cgs), 1);
	assert_int_equal(cgs[0]->cgroup_id, CG_A);
	assert_string_equal(cgs[0]->path, "?"); /* no such cgroup on this host */
	assert_int_equal(cgs[0]->n_edges, 1);
	assert_ptr_equal(cgs[0]->edges[0], e);
	observed_free(o);
}

static void test_edges_of_one_process_share_its_record(void **state)
{
	struct observed *o = new_observed();
	struct reach_event_hdr hdr = mkhdr(CG_A, 4242, 1000);
	struct reach_dedup_key k1 = mkkey(CG_A, REACH_EV_FILE_OPEN, 1), k2 = mkkey(CG_A, REACH_EV_FILE_OPEN, 2),
			       k3 = mkkey(CG_A, REACH_EV_FILE_OPEN, 3), k4 = mkkey(CG_A, REACH_EV_FILE_OPEN, 4);
	struct observation obs = mkobs(&hdr, &k1, "/etc/a");
	const char *lineage[] = { "/bin/bash", "/usr/bin/python3" };
	struct edge *a, *b, *c, *d;
	bool is_new;

	memcpy(hdr.comm, "python3", 8);
	obs.exe = "/usr/bin/python3";
	obs.lineage = lineage;
	obs.n_lineage = 2;
	a = observed_add(o, EDGE_SECRET, &obs, &is_new);
	obs.key = &k2;
	obs.object = "/etc/b";
	hdr.ts_ns += 10;
	b = observed_add(o, EDGE_SECRET, &obs, &is_new); /* same process, later */
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_equal(a->proc, b->proc);
	obs.key = &k3;
	obs.object = "/etc/c";
	obs.n_lineage = 1; /* another exec chain: another process */
	c = observed_add(o, EDGE_SECRET, &obs, &is_new);
	assert_ptr_not_equal(c->proc, a->proc);
	assert_int_equal(c->proc->n_lineage, 1);
	assert_int_equal(a->proc->n_lineage, 2);
	obs.key = &k4;
	obs.object = "/etc/d";
	obs.n_lineage = 2;
	hdr.pid++; /* another thread */
	d = observed_add(o, EDGE_SECRET, &obs, &is_new);
	assert_ptr_not_equal(d->proc, a->proc);
	assert_int_equal(d->proc->pid, a->proc->pid + 1);
	assert_string_equal(d->proc->comm, "python3");
	assert_ptr_equal(d->proc->comm, a->proc->comm); /* the strings are shared too */
	observed_free(o); /* valgrind: every record and string freed once */
}

static void test_null_strings_become_empty(void **state)
{
	struct observed *o = new_observed();
	struct reach_event_hdr hdr = mkhdr(CG_A, 10, 1);
	struct reach_dedup_key key = mkkey(CG_A, REACH_EV_EXEC, 1);
	struct observation obs = mkobs(&hdr, &key, "/usr/bin/curl");
	bool is_new;
	struct edge *e = observed_add(o, EDGE_TOOL, &obs, &is_new);

	assert_non_null(e);
	assert_non_null(e->requested_path);
	assert_string_equal(e->requested_path, "");
	assert_non_null(e->proc->exe);
	assert_string_equal(e->proc->exe, "");
	assert_null(e->category);
	assert_int_equal(e->proc->n_lineage, 0);
	assert_int_equal(e->argc, 0);
	observed_free(o);
}

static void test_repeat_is_same_edge_and_keeps_first_observation(void **state)
{
	struct observed *o = new_observed();
	struct reach_event_hdr h1 = mkhdr(CG_A, 100, 5000), h2 = mkhdr(CG_A, 200, 9000), h3 = mkhdr(CG_A, 300, 7000);
	struct reach_dedup_key key = mkkey(CG_A, REACH_EV_FILE_OPEN, 0x1);
	struct observation o1 = mkobs(&h1, &key, "/etc/shadow"), o2 = mkobs(&h2, &key, "/etc/shadow"),
			   o3 = mkobs(&h3, &key, "/etc/shadow");
	struct cgroup_reach **cgs;
	struct edge *e1, *e2, *e3;
	bool is_new = false;

	o1.exe = "/bin/cat";
	o1.requested_path = "/etc/shadow";
	o2.exe = "/usr/bin/python3";
	o2.requested_path = "../etc/shadow";
	o2.open_flags = 2;
	e1 = observed_add(o, EDGE_SECRET, &o1, &is_new);
	assert_true(is_new);
	is_new = true;
	e2 = observed_add(o, EDGE_SECRET, &o2, &is_new);
	assert_false(is_new);
	assert_ptr_equal(e1, e2);
	is_new = true;
	e3 = observed_add(o, EDGE_SECRET, &o3, &is_new); /* an older event arriving late */
	assert_false(is_new);
	assert_ptr_equal(e1, e3);

	assert_int_equal(e1->events, 3);
	assert_int_equal(e1->proc->tgid, 100);
	assert_string_equal(e1->proc->comm, "comm100");
	assert_string_equal(e1->proc->exe, "/bin/cat");
	assert_string_equal(e1->requested_path, "/etc/shadow");
	assert_int_equal(e1->open_flags, 0);
	assert_int_equal(e1->first_ns, 5000);
	assert_int_equal(e1->last_ns, 9000); /* the latest, not the last to arrive */
	assert_int_equal(e1->n_src, 1);        /* one key, tracked once */
	assert_int_equal(observed_cgroups(o, &cgs), 1);
	assert_int_equal(cgs[0]->n_edges, 1);
	observed_free(o);
}

static void test_kinds_with_same_object_are_different_edges(void **state)
{
	struct observed *o = new_observed();
	struct cgroup_reach **cgs;
	struct edge *s, *t;
	bool is_new = false;

	s = add(o, EDGE_SECRET, CG_A, "/usr/bin/tool", 1, 10, &is_new);
	assert_true(is_new);
	is_new = false;
	t = add(o, EDGE_TOOL, CG_A, "/usr/bin/tool", 1, 20, &is_new);
	assert_true(is_new);
	assert_ptr_not_equal(s, t);
	assert_int_equal(s->kind, EDGE_SECRET);
	assert_int_equal(t->kind, EDGE_TOOL);
	assert_int_equal(s->events, 1);
	assert_int_equal(t->events, 1);
	assert_ptr_equal(add(o, EDGE_TOOL, CG_A, "/usr/bin/tool", 1, 30, &is_new), t);
	assert_false(is_new);
	assert_int_equal(s->events, 1);
	assert_int_equal(t->events, 2);
	assert_int_equal(observed_cgroups(o, &cgs), 1);
	assert_int_equal(cgs[0]->n_edges, 2);
	assert_ptr_equal(cgs[0]->edges[0], s); /* order of first observation */
	assert_ptr_equal(cgs[0]->edges[1], t);
	observed_free(o);
}

static void test_same_object_in_two_cgroups_are_different_edges(void **state)
{
	struct observed *o = new_observed();
	struct cgroup_reach **cgs;
	bool is_new = false;
	struct edge *a = add(o, EDGE_SECRET, CG_A, "/etc/shadow", 1, 10, &is_new);

	assert_true(is_new);
	is_new = false;
	assert_ptr_not_equal(add(o, EDGE_SECRET, CG_B, "/etc/shadow", 1, 10, &is_new), a);
	assert_true(is_new);
	assert_int_equal(a->events, 1);
	assert_int_equal(observed_cgroups(o, &cgs), 2);
	assert_int_equal(cgs[0]->n_edges, 1);
	assert_int_equal(cgs[1]->n_edges, 1);
	observed_free(o);
}

/* Past the initial capacity of 16 and through several index growths: every
 * edge keeps its place and is found again by (kind, object). */
static void test_many_edges_keep_order(void **state)
{
	enum { N = 1000 };
	struct observed *o = new_observed();
	struct cgroup_reach **cgs;
	struct edge *edges[N];
	char object[32];
	bool is_new;

	for (int i = 0; i < N; i++) {
		snprintf(object, sizeof(object), "/secret/%d", i);
		edges[i] = add(o, EDGE_SECRET, CG_A, object, (uint64_t)i, (uint64_t)i, &is_new);
		assert_true(is_new);
	}
	assert_int_equal(observed_cgroups(o, &cgs), 1);
	assert_int_equal(cgs[0]->n_edges, N);
	for (int i = 0; i < N; i++) {
		snprintf(object, sizeof(object), "/secret/%d", i);
		assert_ptr_equal(cgs[0]->edges[i], edges[i]);
		assert_string_equal(cgs[0]->edges[i]->object, object);
		assert_ptr_equal(add(o, EDGE_SECRET, CG_A, object, (uint64_t)i, (uint64_t)i, &is_new), edges[i]);
		assert_false(is_new);
	}
	snprintf(object, sizeof(object), "/secret/%d", N - 1);
	assert_ptr_not_equal(add(o, EDGE_TOOL, CG_A, object, 1, 1, &is_new), edges[N - 1]);
	assert_true(is_new);
	observed_free(o);
}

static void test_refresh_takes_counts_from_lookup(void **state)
{
	struct observed *o = new_observed();
	struct reach_dedup_key k1 = mkkey(CG_A, REACH_EV_FILE_OPEN, 1), k2 = mkkey(CG_A, REACH_EV_EXEC, 2);
	struct fake_map map = { 0 };
	bool is_new;
	struct edge *s = add(o, EDGE_SECRET, CG_A, "/etc/shadow", 1, 100, &is_new);
	struct edge *t = add(o, EDGE_TOOL, CG_A, "/usr/bin/curl", 2, 100, &is_new);

	fake_set(&map, &k1, 42, 100, 5000);
	fake_set(&map, &k2, 7, 100, 50); /* older last_ns than the edge's: kept */
	observed_refresh(o, fake_lookup, &map);
	assert_int_equal(map.lookups, 2);
	assert_int_equal(edge_count(s), 42);
	assert_int_equal(edge_count(t), 7);
	assert_int_equal(s->last_ns, 5000);
	assert_int_equal(t->last_ns, 100);
	assert_int_equal(s->first_ns, 100);
	assert_int_equal(s->events, 1); /* refresh is not an event */
	/* counts move with the map, never summed twice */
	fake_set(&map, &k1, 50, 100, 6000);
	observed_refresh(o, fake_lookup, &map);
	observed_refresh(o, fake_lookup, &map);
	assert_int_equal(edge_count(s), 50);
	assert_int_equal(s->last_ns, 6000);
	assert_int_equal(edge_count(t), 7);
	observed_free(o);
}

static void test_replaced_entry_retires_old_count(void **state)
{
	struct observed *o = new_observed();
	struct reach_dedup_key k = mkkey(CG_A, REACH_EV_FILE_OPEN, 1);
	struct fake_map map = { 0 };
	bool is_new;
	struct edge *e = add(o, EDGE_SECRET, CG_A, "/etc/shadow", 1, 100, &is_new);

	fake_set(&map, &k, 5, 100, 200);
	observed_refresh(o, fake_lookup, &map);
	assert_int_equal(edge_count(e), 5);
	assert_int_equal(edge_retired(e), 0);

	/* the entry was evicted and re-inserted: a new incarnation (first_ns)
	 * reported by a new event for the same key */
	assert_ptr_equal(add(o, EDGE_SECRET, CG_A, "/etc/shadow", 1, 300, &is_new), e);
	assert_false(is_new);
	assert_int_equal(e->n_src, 1);
	fake_set(&map, &k, 3, 300, 400);
	observed_refresh(o, fake_lookup, &map);
	assert_int_equal(edge_retired(e), 5);
	assert_int_equal(edge_count(e), 8);
	/* the same incarnation again: nothing retired twice */
	fake_set(&map, &k, 4, 300, 450);
	observed_refresh(o, fake_lookup, &map);
	assert_int_equal(edge_retired(e), 5);
	assert_int_equal(edge_count(e), 9);
	assert_int_equal(e->last_ns, 450);
	/* a third incarnation */
	fake_set(&map, &k, 1, 500, 500);
	observed_refresh(o, fake_lookup, &map);
	assert_int_equal(edge_retired(e), 9);
	assert_int_equal(edge_count(e), 10);
	observed_free(o);
}

static void test_evicted_key_keeps_last_count(void **state)
{
	struct observed *o = new_observed();
	struct reach_dedup_key k1 = mkkey(CG_A, REACH_EV_FILE_OPEN, 1), k2 = mkkey(CG_A, REACH_EV_FILE_OPEN, 2);
	struct fake_map map = { 0 };
	bool is_new;
	struct edge *e1 = add(o, EDGE_SECRET, CG_A, "/etc/shadow", 1, 100, &is_new);
	struct edge *e2 = add(o, EDGE_SECRET, CG_A, "/etc/gshadow", 2, 100, &is_new);

	fake_set(&map, &k1, 7, 100, 900);
	fake_set(&map, &k2, 3, 100, 900);
	fake_evict(&map, &k2);
	observed_refresh(o, fake_lookup, &map);
	assert_int_equal(edge_count(e1), 7);
	/* k2 was gone before any refresh: the event itself still counts */
	assert_int_equal(edge_count(e2), 1);
	fake_evict(&map, &k1);
	observed_refresh(o, fake_lookup, &map);
	observed_refresh(o, fake_lookup, &map);
	assert_int_equal(edge_count(e1), 7);
	assert_int_equal(edge_retired(e1), 0);
	assert_int_equal(e1->last_ns, 900);
	assert_int_equal(edge_count(e2), 1);
	/* back under the same incarnation (LRU lookup raced): no retirement */
	fake_set(&map, &k1, 8, 100, 950);
	observed_refresh(o, fake_lookup, &map);
	assert_int_equal(edge_count(e1), 8);
	assert_int_equal(edge_retired(e1), 0);
	observed_free(o);
}

static void test_edge_with_several_keys_sums_them(void **state)
{
	struct observed *o = new_observed();
	struct reach_dedup_key k1 = mkkey(CG_A, REACH_EV_FILE_OPEN, 1), k2 = mkkey(CG_A, REACH_EV_FILE_OPEN, 2);
	struct fake_map map = { 0 };
	bool is_new;
	/* one object reached through two different keys (two requested paths) */
	struct edge *e = add(o, EDGE_SECRET, CG_A, "/etc/shadow", 1, 100, &is_new);

	assert_ptr_equal(add(o, EDGE_SECRET, CG_A, "/etc/shadow", 2, 200, &is_new), e);
	assert_int_equal(e->n_src, 2);
	assert_int_equal(edge_count(e), 2);
	fake_set(&map, &k1, 10, 100, 150);
	fake_set(&map, &k2, 20, 200, 250);
	observed_refresh(o, fake_lookup, &map);
	assert_int_equal(edge_count(e), 30);
	assert_int_equal(e->last_ns, 250);
	/* the same key's repeat does not add a source */
	assert_ptr_equal(add(o, EDGE_SECRET, CG_A, "/etc/shadow", 1, 300, &is_new), e);
	assert_int_equal(e->n_src, 2);
	assert_int_equal(e->events, 3);
	observed_free(o);
}

static void test_more_keys_than_max_sources(void **state)
{
	enum { EXTRA = 3, N = EDGE_MAX_SOURCES + EXTRA };
	struct observed *o = new_observed();
	struct fake_map map = { 0 };
	struct edge *e = NULL;
	bool is_new;

	for (int i = 0; i < N; i++) {
		struct edge *x = add(o, EDGE_TOOL, CG_A, "/usr/bin/curl", 1000 + (uint64_t)i, 10, &is_new);

		if (!e)
			e = x;
		assert_ptr_equal(x, e);
		assert_int_equal(is_new, i == 0);
	}
	assert_int_equal(e->n_src, EDGE_MAX_SOURCES);
	assert_int_equal(edge_uncounted_sources(e), EXTRA);
	assert_int_equal(e->events, N);
	assert_int_equal(edge_count(e), N); /* each key counted once before refresh */

	for (int i = 0; i < N; i++) {
		struct reach_dedup_key k = mkkey(CG_A, REACH_EV_EXEC, 1000 + (uint64_t)i);

		fake_set(&map, &k, 5, 10, 20);
	}
	observed_refresh(o, fake_lookup, &map);
	/* the tracked keys are read from the map, the others stay at one */
	assert_int_equal(edge_count(e), EDGE_MAX_SOURCES * 5 + EXTRA);
	for (size_t i = 0; i < e->n_src; i++)
		assert_int_equal(edge_source_at(e, i)->key.hash, 1000 + i); /* the first keys are kept */
	observed_free(o);
}

static void test_cgroups_sorted_by_id_with_unknown_path(void **state)
{
	struct observed *o = new_observed();
	struct cgroup_reach **cgs;
	bool is_new;
	struct edge *a = add(o, EDGE_SECRET, CG_A, "/a", 1, 1, &is_new);
	struct edge *b = add(o, EDGE_SECRET, CG_B, "/b", 2, 2, &is_new);
	struct edge *c = add(o, EDGE_SECRET, CG_C, "/c", 3, 3, &is_new);

	struct edge *b2 = add(o, EDGE_TOOL, CG_B, "/b2", 4, 4, &is_new);

	assert_true(is_new);
	assert_int_equal(observed_cgroups(o, &cgs), 3);
	/* CG_B < CG_C < CG_A */
	assert_int_equal(cgs[0]->cgroup_id, CG_B);
	assert_int_equal(cgs[1]->cgroup_id, CG_C);
	assert_int_equal(cgs[2]->cgroup_id, CG_A);
	for (int i = 0; i < 3; i++)
		assert_string_equal(cgs[i]->path, "?");
	assert_int_equal(cgs[0]->n_edges, 2);
	assert_ptr_equal(cgs[0]->edges[0], b);
	assert_ptr_equal(cgs[0]->edges[1], b2);
	assert_int_equal(cgs[1]->n_edges, 1);
	assert_ptr_equal(cgs[1]->edges[0], c);
	assert_int_equal(cgs[2]->n_edges, 1);
	assert_ptr_equal(cgs[2]->edges[0], a);
	/* asking again gives the same, still sorted */
	assert_int_equal(observed_cgroups(o, &cgs), 3);
	assert_int_equal(cgs[0]->cgroup_id, CG_B);
	assert_int_equal(cgs[2]->cgroup_id, CG_A);
	observed_free(o);
}

static void test_argv_and_lineage_are_bounded(void **state)
{
	struct observed *o = new_observed();
	struct reach_event_hdr hdr = mkhdr(CG_A, 10, 1);
	struct reach_dedup_key key = mkkey(CG_A, REACH_EV_EXEC, 9);
	struct observation obs = mkobs(&hdr, &key, "/usr/bin/curl");
	const char *argv[EDGE_MAX_ARGS + 5];
	const char *lineage[12];
	char bufs[EDGE_MAX_ARGS + 5][8];
	bool is_new;
	struct edge *e;

	for (int i = 0; i < EDGE_MAX_ARGS + 5; i++) {
		snprintf(bufs[i], sizeof(bufs[i]), "a%d", i);
		argv[i] = bufs[i];
	}
	for (int i = 0; i < 12; i++)
		lineage[i] = "/bin/sh";
	obs.argv = argv;
	obs.argc = EDGE_MAX_ARGS + 5;
	obs.lineage = lineage;
	obs.n_lineage = 12;
	e = observed_add(o, EDGE_TOOL, &obs, &is_new);
	assert_non_null(e);
	assert_int_equal(e->argc, EDGE_MAX_ARGS);
	assert_true(e->argv_truncated);
	assert_string_equal(e->argv[EDGE_MAX_ARGS - 1], bufs[EDGE_MAX_ARGS - 1]);
	assert_int_equal(e->proc->n_lineage, 8);

	/* exactly EDGE_MAX_ARGS is not truncated, unless the sensor says so */
	obs.object = "/usr/bin/wget";
	obs.argc = EDGE_MAX_ARGS;
	e = observed_add(o, EDGE_TOOL, &obs, &is_new);
	assert_true(is_new);
	assert_int_equal(e->argc, EDGE_MAX_ARGS);
	assert_false(e->argv_truncated);
	obs.object = "/usr/bin/nc";
	obs.argc = 1;
	obs.argv_truncated = true;
	e = observed_add(o, EDGE_TOOL, &obs, &is_new);
	assert_true(e->argv_truncated);
	assert_int_equal(e->argc, 1);
	observed_free(o);
}

static void test_egress_fields_are_copied(void **state)
{
	struct observed *o = new_observed();
	struct reach_event_hdr hdr = mkhdr(CG_A, 10, 1);
	struct reach_dedup_key key = mkkey(CG_A, REACH_EV_EGRESS, 7);
	struct observation obs = mkobs(&hdr, &key, "tcp:93.184.216.34:443");
	char address[32] = "93.184.216.34";
	bool is_new;
	struct edge *e;

	obs.proto = REACH_PROTO_TCP;
	obs.port = 443;
	obs.address = address;
	obs.name = "example.com";
	obs.name_ttl = 300;
	obs.dest_class = "external";
	e = observed_add(o, EDGE_EGRESS, &obs, &is_new);
	assert_non_null(e);
	assert_true(is_new);
	strcpy(address, "changed");
	assert_int_equal(e->kind, EDGE_EGRESS);
	assert_int_equal(e->proto, REACH_PROTO_TCP);
	assert_int_equal(e->port, 443);
	assert_string_equal(e->address, "93.184.216.34");
	assert_string_equal(e->name, "example.com");
	assert_int_equal(e->name_ttl, 300);
	assert_string_equal(e->dest_class, "external");
	assert_string_equal(edge_kind_name(EDGE_EGRESS), "egress");

	/* no DNS name: stays NULL (not "") */
	obs.object = "udp:10.0.0.1:53";
	obs.name = NULL;
	obs.address = "10.0.0.1";
	e = observed_add(o, EDGE_EGRESS, &obs, &is_new);
	assert_true(is_new);
	assert_null(e->name);
	assert_string_equal(e->address, "10.0.0.1");
	observed_free(o);
}

/* One egress edge fed by one key per outcome tag. */
static struct edge *add_tagged(struct observed *o, uint64_t h, uint8_t tag, uint64_t ts)
{
	struct reach_event_hdr hdr = mkhdr(CG_A, 10, ts);
	struct reach_dedup_key key = mkkey(CG_A, REACH_EV_EGRESS, h);
	struct observation obs = mkobs(&hdr, &key, "tcp:10.1.2.3:5432");
	bool is_new;
	struct edge *e;

	obs.tag = tag;
	e = observed_add(o, EDGE_EGRESS, &obs, &is_new);
	assert_non_null(e);
	return e;
}

static void test_counts_per_tag(void **state)
{
	struct observed *o = new_observed();
	struct reach_dedup_key k1 = mkkey(CG_A, REACH_EV_EGRESS, 1), k2 = mkkey(CG_A, REACH_EV_EGRESS, 2),
			       k3 = mkkey(CG_A, REACH_EV_EGRESS, 3);
	struct fake_map map = { 0 };
	struct edge *e = add_tagged(o, 1, 1, 10);

	assert_ptr_equal(add_tagged(o, 2, 2, 20), e);
	assert_ptr_equal(add_tagged(o, 3, 2, 30), e);
	assert_int_equal(e->n_src, 3);
	assert_int_equal(edge_count_tag(e, 1), 1);
	assert_int_equal(edge_count_tag(e, 2), 2);
	assert_int_equal(edge_count_tag(e, 0), 0);
	assert_int_equal(edge_count_tag(e, EDGE_MAX_TAGS), 0);
	assert_int_equal(edge_count_tag(e, 255), 0);

	fake_set(&map, &k1, 4, 10, 10);
	fake_set(&map, &k2, 5, 20, 20);
	fake_set(&map, &k3, 6, 30, 30);
	observed_refresh(o, fake_lookup, &map);
	assert_int_equal(edge_count_tag(e, 1), 4);
	assert_int_equal(edge_count_tag(e, 2), 11);
	assert_int_equal(edge_count(e), 15);
	/* a replaced entry retires into its own tag */
	fake_set(&map, &k2, 1, 200, 200);
	observed_refresh(o, fake_lookup, &map);
	assert_int_equal(edge_count_tag(e, 2), 5 + 1 + 6);
	assert_int_equal(edge_count_tag(e, 1), 4);
	assert_int_equal(edge_retired_tag(e, 2), 5);
	assert_int_equal(edge_retired_tag(e, 1), 0);
	assert_int_equal(edge_count(e), 4 + 5 + 1 + 6);
	/* the tag of a key is the one of its first event */
	assert_ptr_equal(add_tagged(o, 1, 3, 40), e);
	assert_int_equal(edge_count_tag(e, 3), 0);
	assert_int_equal(edge_count_tag(e, 1), 4);
	observed_free(o);
}

static void test_out_of_range_tag_counts_as_tag_zero(void **state)
{
	struct observed *o = new_observed();
	struct edge *e = add_tagged(o, 1, EDGE_MAX_TAGS, 10);

	assert_int_equal(edge_source_at(e, 0)->tag, 0);
	assert_int_equal(edge_count_tag(e, 0), 1);
	assert_ptr_equal(add_tagged(o, 2, 200, 20), e);
	assert_int_equal(edge_count_tag(e, 0), 2);
	observed_free(o);
}

static void test_every_event_counts_at_least_once(void **state)
{
	/* Was a bug (fixed): edge_track_key() ignored an event for a key the
	 * edge already tracks ("refresh notices a new incarnation"), and
	 * observed_refresh (observed.c:225) only retires a count once the source
	 * has been read (first_ns != 0). But every event is the first occurrence
	 * of a new map entry (repeats never become events), so when an entry is
	 * evicted and re-created before the next refresh -- or the dedup map is
	 * full and nothing is inserted -- the earlier occurrences are dropped:
	 * edge_count() falls below the number of events that fed the edge. */
	struct observed *o = new_observed();
	struct reach_dedup_key k = mkkey(CG_A, REACH_EV_FILE_OPEN, 1);
	struct fake_map map = { 0 };
	bool is_new;
	struct edge *e = add(o, EDGE_SECRET, CG_A, "/etc/shadow", 1, 100, &is_new);
	uint64_t before_refresh, after_refresh, events;

	/* the entry made at 100 was evicted; the next open re-created it at 300 */
	assert_ptr_equal(add(o, EDGE_SECRET, CG_A, "/etc/shadow", 1, 300, &is_new), e);
	before_refresh = edge_count(e);
	fake_set(&map, &k, 1, 300, 300);
	observed_refresh(o, fake_lookup, &map);
	after_refresh = edge_count(e);
	events = e->events;
	observed_free(o);
	assert_int_equal(events, 2);
	assert_true(before_refresh >= events);
	assert_true(after_refresh >= events);
}

static void test_edge_cap_counts_refusals(void **state)
{
	struct observed *o = new_observed();
	bool is_new;

	(void)state;
	observed_set_max_edges(o, 2);
	assert_non_null(add(o, EDGE_SECRET, CG_A, "/a", 1, 100, &is_new));
	assert_non_null(add(o, EDGE_SECRET, CG_A, "/b", 2, 100, &is_new));
	/* a third edge is refused and counted; known edges still count */
	{
		struct reach_event_hdr hdr = { .kind = REACH_EV_FILE_OPEN, .cgroup_id = CG_A, .ts_ns = 200 };
		struct reach_dedup_key key = mkkey(CG_A, REACH_EV_FILE_OPEN, 3);
		struct observation obs = mkobs(&hdr, &key, "/c");

		obs.new_map_entry = true;
		errno = 0;
		assert_null(observed_add(o, EDGE_SECRET, &obs, &is_new));
		assert_int_equal(errno, ENOSPC);
	}
	assert_int_equal(observed_edges_dropped(o), 1);
	assert_int_equal(observed_edge_total(o), 2);
	assert_non_null(add(o, EDGE_SECRET, CG_A, "/a", 1, 300, &is_new));
	assert_false(is_new);
	assert_int_equal(observed_edges_dropped(o), 1);
	observed_free(o);
}

/* Credential and TLS details, extra sources and dropped counts live in an
 * edge's rare part, allocated only for the edges that have them: they read
 * back the same, and survive the part growing for more sources. */
static void test_rare_parts(void **state)
{
	struct observed *o = new_observed();
	struct reach_event_hdr hdr = mkhdr(CG_A, 100, 10);
	struct reach_dedup_key key = mkkey(CG_A, REACH_EV_FILE_OPEN, 7);
	struct observation obs = mkobs(&hdr, &key, "api.example.com:443 POST /v1/x");
	struct edge_credential cred;
	char exe_names[EDGE_MAX_EXES + 2][32];
	struct edge *plain, *c, *t;
	bool is_new;

	plain = add(o, EDGE_SECRET, CG_A, "/etc/shadow", 1, 10, &is_new);
	assert_null(plain->rare); /* most edges: nothing rare */
	assert_null(edge_cred(plain));
	assert_null(edge_detail(plain));
	assert_int_equal(edge_uncounted_sources(plain), 0);
	assert_int_equal(edge_exes_dropped(plain), 0);

	memset(&cred, 0, sizeof(cred));
	snprintf(cred.host, sizeof(cred.host), "api.example.com");
	snprintf(cred.kind, sizeof(cred.kind), "bearer");
	snprintf(cred.fingerprint, sizeof(cred.fingerprint), "0123456789abcdef");
	obs.cred = &cred;
	obs.detail = "no-uprobe";
	obs.new_map_entry = true;
	c = observed_add(o, EDGE_CREDENTIAL, &obs, &is_new);
	assert_non_null(c);
	memset(&cred, 0, sizeof(cred)); /* the edge has its own copy */
	assert_string_equal(edge_cred(c)->host, "api.example.com");
	assert_string_equal(edge_cred(c)->fingerprint, "0123456789abcdef");
	assert_string_equal(edge_detail(c), "no-uprobe");
	/* more sources and executables than fit: the part grows, the
	 * credential stays */
	for (int i = 0; i < EDGE_MAX_SOURCES + 2; i++) {
		key.hash = 100 + (uint64_t)i;
		snprintf(exe_names[i], sizeof(exe_names[i]), "/usr/bin/tool-%d", i);
		obs.exe = exe_names[i];
		assert_ptr_equal(observed_add(o, EDGE_CREDENTIAL, &obs, &is_new), c);
	}
	assert_int_equal(c->n_src, EDGE_MAX_SOURCES);
	assert_int_equal(edge_uncounted_sources(c), 3); /* keys 7, 100..109: 11 for 8 slots */
	assert_int_equal(edge_source_at(c, EDGE_MAX_SOURCES - 1)->key.hash, 100 + EDGE_MAX_SOURCES - 2);
	assert_int_equal(edge_exes_dropped(c), 2);
	assert_string_equal(edge_cred(c)->kind, "bearer");
	assert_string_equal(edge_detail(c), "no-uprobe");
	assert_int_equal(edge_count(c), 11);

	/* a TLS edge with a reason and no credential */
	obs.cred = NULL;
	obs.detail = "static binary";
	obs.exe = NULL;
	key.hash = 999;
	t = observed_add(o, EDGE_TLS, &obs, &is_new);
	assert_non_null(t);
	assert_null(edge_cred(t));
	assert_string_equal(edge_detail(t), "static binary");
	observed_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edge_cap_counts_refusals),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_empty_observed_has_no_cgroups),
		cmocka_unit_test(test_first_observation_creates_edge_with_its_fields),
		cmocka_unit_test(test_edges_of_one_process_share_its_record),
		cmocka_unit_test(test_null_strings_become_empty),
		cmocka_unit_test(test_repeat_is_same_edge_and_keeps_first_observation),
		cmocka_unit_test(test_kinds_with_same_object_are_different_edges),
		cmocka_unit_test(test_same_object_in_two_cgroups_are_different_edges),
		cmocka_unit_test(test_many_edges_keep_order),
		cmocka_unit_test(test_refresh_takes_counts_from_lookup),
		cmocka_unit_test(test_replaced_entry_retires_old_count),
		cmocka_unit_test(test_evicted_key_keeps_last_count),
		cmocka_unit_test(test_edge_with_several_keys_sums_them),
		cmocka_unit_test(test_more_keys_than_max_sources),
		cmocka_unit_test(test_cgroups_sorted_by_id_with_unknown_path),
		cmocka_unit_test(test_argv_and_lineage_are_bounded),
		cmocka_unit_test(test_egress_fields_are_copied),
		cmocka_unit_test(test_counts_per_tag),
		cmocka_unit_test(test_out_of_range_tag_counts_as_tag_zero),
		cmocka_unit_test(test_every_event_counts_at_least_once),
		cmocka_unit_test(test_rare_parts),
	};

	return cmocka_run_group_tests_name("observed", tests, NULL, NULL);
}
