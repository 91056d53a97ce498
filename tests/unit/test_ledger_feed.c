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

#include "common/intern.h"
#include "reach/ledger.h"
#include "reach/ledger_feed.h"
#include "reach/observed.h"

/* cgroup ids that exist nowhere: their paths are "?". */
#define CG_A 0xfeed000000000010ULL /* resolved: ns/sa */
#define CG_B 0xfeed000000000020ULL /* pending until told otherwise */
#define CG_C 0xfeed000000000030ULL /* resolve fails */
#define CG_D 0xfeed000000000040ULL /* resolved: host/cron, no pod */

#define BOOT_TO_UNIX_MS 1700000000000LL
#define MS 1000000ULL /* ns */

/* ---- a fake kernel dedup map -------------------------------------------- */

#define FAKE_MAX 32

struct fake_map {
	struct {
		struct reach_dedup_key key;
		struct reach_dedup_val val;
	} e[FAKE_MAX];
	size_t n;
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
}

static int fake_lookup(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	struct fake_map *m = ctx;

	for (size_t i = 0; i < m->n; i++) {
		if (memcmp(&m->e[i].key, key, sizeof(*key)) == 0) {
			*val = m->e[i].val;
			return 0;
		}
	}
	return -ENOENT;
}

/* Reads and deletes, as the kernel's lookup-and-delete does. */
static int fake_take(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	struct fake_map *m = ctx;

	for (size_t i = 0; i < m->n; i++) {
		if (memcmp(&m->e[i].key, key, sizeof(*key)) == 0) {
			*val = m->e[i].val;
			m->e[i] = m->e[--m->n];
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- a fake identity resolver -------------------------------------------- */

struct fake_ids {
	bool b_pending; /* CG_B: pending while true, then ns2/sa2 */
	size_t calls;
};

static int fake_resolve(void *ctx, const struct cgroup_reach *c, uint32_t uid, struct identity *out)
{
	struct fake_ids *f = ctx;

	(void)uid;
	f->calls++;
	memset(out, 0, sizeof(*out));
	assert_string_equal(c->path, "?");
	snprintf(out->cgroup_path, sizeof(out->cgroup_path), "%s", c->path);
	switch (c->cgroup_id) {
	case CG_A:
		out->state = IDENTITY_RESOLVED;
		strcpy(out->name, "ns/sa");
		strcpy(out->pod, "ns/pod-a");
		strcpy(out->container, "app");
		strcpy(out->image, "registry.example/app:1.2");
		strcpy(out->image_id, "sha256:aaaa");
		return 0;
	case CG_B:
		if (f->b_pending) {
			out->state = IDENTITY_PENDING;
			strcpy(out->name, "unknown/kubepods/pod-b");
			return 0;
		}
		out->state = IDENTITY_RESOLVED;
		strcpy(out->name, "ns2/sa2");
		strcpy(out->pod, "ns2/pod-b");
		strcpy(out->image, "registry.example/b:7");
		strcpy(out->image_id, "sha256:bbbb");
		return 0;
	case CG_D:
		out->state = IDENTITY_RESOLVED;
		strcpy(out->name, "host/cron");
		return 0;
	default:
		return -ENOENT;
	}
}

/* ---- observation builders ------------------------------------------------ */

static struct reach_dedup_key mkkey(uint64_t cg, uint32_t kind, uint64_t hash)
{
	struct reach_dedup_key k;

	memset(&k, 0, sizeof(k));
	k.cgroup_id = cg;
	k.kind = kind;
	k.hash = hash;
	return k;
}

static struct reach_event_hdr mkhdr(uint64_t cg, uint32_t kind, uint64_t ts_ns)
{
	struct reach_event_hdr h;

	memset(&h, 0, sizeof(h));
	h.kind = kind;
	h.ts_ns = ts_ns;
	h.cgroup_id = cg;
	h.pid = h.tgid = 4242;
	h.ppid = 1;
	h.uid = 1000;
	snprintf(h.comm, sizeof(h.comm), "worker");
	return h;
}

static const char *const lineage[] = { "/usr/bin/bash", "/usr/bin/python3" };

/* A secret read by exe: a new dedup-map entry, as reachd records it. */
static struct edge *add_secret_by(struct observed *o, uint64_t cg, const char *object, uint64_t hash, uint64_t ts,
				  const char *exe)
{
	struct reach_event_hdr hdr = mkhdr(cg, REACH_EV_FILE_OPEN, ts);
	struct reach_dedup_key key = mkkey(cg, REACH_EV_FILE_OPEN, hash);
	struct observation obs;
	struct edge *e;
	bool is_new;

	memset(&obs, 0, sizeof(obs));
	obs.hdr = &hdr;
	obs.key = &key;
	obs.object = object;
	obs.category = "cloud-credentials";
	obs.requested_path = object;
	obs.exe = exe;
	obs.lineage = (const char **)lineage;
	obs.n_lineage = 2;
	obs.new_map_entry = true;
	e = observed_add(o, EDGE_SECRET, &obs, &is_new);
	assert_non_null(e);
	return e;
}

static struct edge *add_secret(struct observed *o, uint64_t cg, const char *object, uint64_t hash, uint64_t ts)
{
	return add_secret_by(o, cg, object, hash, ts, "/usr/bin/python3");
}

/* A tool execution: exec events repeat for one map entry. */
static struct edge *add_tool(struct observed *o, uint64_t cg, const char *object, uint64_t hash, uint64_t ts)
{
	struct reach_event_hdr hdr = mkhdr(cg, REACH_EV_EXEC, ts);
	struct reach_dedup_key key = mkkey(cg, REACH_EV_EXEC, hash);
	struct observation obs;
	struct edge *e;
	bool is_new;

	memset(&obs, 0, sizeof(obs));
	obs.hdr = &hdr;
	obs.key = &key;
	obs.object = object;
	obs.exe = object;
	obs.lineage = (const char **)lineage;
	obs.n_lineage = 2;
	obs.new_map_entry = false;
	e = observed_add(o, EDGE_TOOL, &obs, &is_new);
	assert_non_null(e);
	return e;
}

/* An egress outcome: one dedup key per (destination, outcome). */
static struct edge *add_egress(struct observed *o, uint64_t cg, uint8_t outcome, uint64_t ts)
{
	struct reach_event_hdr hdr = mkhdr(cg, REACH_EV_EGRESS, ts);
	struct reach_dedup_key key = mkkey(cg, REACH_EV_EGRESS, 0xe000 + outcome);
	struct observation obs;
	struct edge *e;
	bool is_new;

	memset(&obs, 0, sizeof(obs));
	obs.hdr = &hdr;
	obs.key = &key;
	obs.object = "tcp/203.0.113.7/443";
	obs.exe = "/usr/bin/curl";
	obs.proto = REACH_PROTO_TCP;
	obs.port = 443;
	obs.source_port = 40000;
	obs.address = "203.0.113.7";
	obs.name = "api.example.com";
	obs.dest_class = "public";
	obs.tag = outcome;
	obs.new_map_entry = true;
	e = observed_add(o, EDGE_EGRESS, &obs, &is_new);
	assert_non_null(e);
	return e;
}

/* ---- fixture ------------------------------------------------------------- */

struct fx {
	struct observed *o;
	struct ledger *l;
	struct ledger *other; /* a view or a small ledger: freed by teardown too */
	struct fake_map map;
	struct fake_ids ids;
	struct feed_stats st;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->o = observed_new();
	f->l = ledger_new(0, 0);
	f->ids.b_pending = true;
	if (!f->o || !f->l) {
		observed_free(f->o);
		ledger_free(f->l);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	observed_free(f->o);
	ledger_free(f->l);
	ledger_free(f->other);
	free(f);
	return 0;
}

static void feed(struct fx *f)
{
	memset(&f->st, 0xff, sizeof(f->st)); /* the feed must reset them */
	ledger_feed(f->o, f->l, fake_resolve, &f->ids, BOOT_TO_UNIX_MS, &f->st);
}

static void refresh(struct fx *f)
{
	observed_refresh(f->o, fake_lookup, &f->map);
}

static const struct ledger_edge *edge_in(const struct ledger *l, const char *identity, enum ledger_kind kind,
					 const char *object)
{
	const struct ledger_identity *id = ledger_identity_find(l, identity);

	return id ? ledger_edge_find(id, kind, object) : NULL;
}

static uint64_t outcome_of(const struct ledger_edge *e, const char *name)
{
	for (size_t i = 0; i < e->n_outcomes; i++)
		if (strcmp(e->outcomes[i].name, name) == 0)
			return e->outcomes[i].count;
	return 0;
}

static bool set_has(const struct ledger_set *s, const char *v)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], v) == 0)
			return true;
	return false;
}

#define SECRET "/var/run/secrets/cloud/key.json"
#define SECRET2 "/home/app/.aws/credentials"
#define TOOL "/usr/bin/kubectl"
#define EGRESS "tcp/203.0.113.7/443"

/* ---- tests --------------------------------------------------------------- */

static void test_first_feed_records_full_counts(void **state)
{
	struct fx *f = *state;
	struct reach_dedup_key ks = mkkey(CG_A, REACH_EV_FILE_OPEN, 1), kt = mkkey(CG_A, REACH_EV_EXEC, 2);
	const struct ledger_edge *e;

	add_secret(f->o, CG_A, SECRET, 1, 5000 * MS);
	add_tool(f->o, CG_A, TOOL, 2, 6000 * MS);
	add_tool(f->o, CG_A, TOOL, 2, 6500 * MS);
	fake_set(&f->map, &ks, 5, 5000 * MS, 9000 * MS);
	fake_set(&f->map, &kt, 3, 6000 * MS, 7000 * MS);
	refresh(f);
	feed(f);

	assert_int_equal(f->st.edges_fed, 2);
	assert_int_equal(f->st.edges_held, 0);
	assert_int_equal(f->st.record_errors, 0);
	assert_int_equal(ledger_identities(f->l), 1);
	assert_int_equal(ledger_edges(f->l), 2);

	e = edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET);
	assert_non_null(e);
	assert_int_equal(e->count, 5);
	assert_string_equal(e->category, "cloud-credentials");
	assert_int_equal(e->first_ms, BOOT_TO_UNIX_MS + 5000);
	assert_int_equal(e->last_ms, BOOT_TO_UNIX_MS + 9000);
	assert_true(set_has(e->executables, "/usr/bin/python3"));
	assert_int_equal(e->n_lineage, 2);
	assert_string_equal(e->lineage[0], "/usr/bin/bash");
	assert_string_equal(e->lineage[1], "/usr/bin/python3");
	assert_int_equal(e->n_outcomes, 0);

	e = edge_in(f->l, "ns/sa", LEDGER_TOOL, TOOL);
	assert_non_null(e);
	assert_int_equal(e->count, 3);
	assert_int_equal(e->first_ms, BOOT_TO_UNIX_MS + 6000);
	assert_int_equal(e->last_ms, BOOT_TO_UNIX_MS + 7000);
	assert_true(set_has(e->executables, TOOL));
}

static void test_first_feed_without_refresh(void **state)
{
	struct fx *f = *state;
	const struct ledger_edge *e;

	/* before any refresh each new map entry counts its first occurrence */
	add_secret(f->o, CG_A, SECRET, 1, 5000 * MS);
	add_secret(f->o, CG_A, SECRET2, 3, 5100 * MS);
	feed(f);
	assert_int_equal(f->st.edges_fed, 2);
	e = edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET);
	assert_non_null(e);
	assert_int_equal(e->count, 1);
	e = edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET2);
	assert_non_null(e);
	assert_int_equal(e->count, 1);
}

static void test_second_feed_without_change_adds_nothing(void **state)
{
	struct fx *f = *state;
	struct reach_dedup_key ks = mkkey(CG_A, REACH_EV_FILE_OPEN, 1);
	const struct ledger_edge *e;

	add_secret(f->o, CG_A, SECRET, 1, 5000 * MS);
	add_tool(f->o, CG_A, TOOL, 2, 6000 * MS);
	fake_set(&f->map, &ks, 4, 5000 * MS, 8000 * MS);
	refresh(f);
	feed(f);
	assert_int_equal(f->st.edges_fed, 2);

	feed(f);
	assert_int_equal(f->st.edges_fed, 0);
	assert_int_equal(f->st.edges_held, 0);
	assert_int_equal(f->st.record_errors, 0);
	/* a refresh that reads the same counts changes nothing either */
	refresh(f);
	feed(f);
	assert_int_equal(f->st.edges_fed, 0);

	e = edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET);
	assert_int_equal(e->count, 4);
	assert_int_equal(e->last_ms, BOOT_TO_UNIX_MS + 8000);
	e = edge_in(f->l, "ns/sa", LEDGER_TOOL, TOOL);
	assert_int_equal(e->count, 1);
	assert_int_equal(ledger_edges(f->l), 2);
}

static void test_refresh_adds_exactly_the_delta(void **state)
{
	struct fx *f = *state;
	struct reach_dedup_key ks = mkkey(CG_A, REACH_EV_FILE_OPEN, 1), kt = mkkey(CG_A, REACH_EV_EXEC, 2);
	const struct ledger_edge *s, *t;

	add_secret(f->o, CG_A, SECRET, 1, 5000 * MS);
	add_tool(f->o, CG_A, TOOL, 2, 5000 * MS);
	feed(f);
	s = edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET);
	t = edge_in(f->l, "ns/sa", LEDGER_TOOL, TOOL);
	assert_int_equal(s->count, 1);
	assert_int_equal(t->count, 1);

	fake_set(&f->map, &ks, 5, 5000 * MS, 9000 * MS);
	fake_set(&f->map, &kt, 2, 5000 * MS, 6000 * MS);
	refresh(f);
	feed(f);
	assert_int_equal(f->st.edges_fed, 2);
	s = edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET);
	t = edge_in(f->l, "ns/sa", LEDGER_TOOL, TOOL);
	assert_int_equal(s->count, 5);
	assert_int_equal(s->last_ms, BOOT_TO_UNIX_MS + 9000);
	assert_int_equal(s->first_ms, BOOT_TO_UNIX_MS + 5000);
	assert_int_equal(t->count, 2);

	/* only the secret grows */
	fake_set(&f->map, &ks, 12, 5000 * MS, 10000 * MS);
	refresh(f);
	feed(f);
	assert_int_equal(f->st.edges_fed, 1);
	assert_int_equal(edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET)->count, 12);
	assert_int_equal(edge_in(f->l, "ns/sa", LEDGER_TOOL, TOOL)->count, 2);

	/* the map entry is evicted and comes back (a new incarnation with 1):
	 * the old 12 are final, the ledger gets exactly one more */
	add_secret(f->o, CG_A, SECRET, 1, 20000 * MS);
	feed(f);
	assert_int_equal(f->st.edges_fed, 1);
	assert_int_equal(edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET)->count, 13);
	assert_int_equal(edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET)->last_ms, BOOT_TO_UNIX_MS + 20000);
	/* the new incarnation grows to 3 */
	fake_set(&f->map, &ks, 3, 20000 * MS, 21000 * MS);
	refresh(f);
	feed(f);
	assert_int_equal(edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET)->count, 15);
	assert_int_equal(ledger_edges(f->l), 2);
}

static void test_egress_counts_per_outcome(void **state)
{
	struct fx *f = *state;
	struct reach_dedup_key kest = mkkey(CG_A, REACH_EV_EGRESS, 0xe000 + REACH_OUT_ESTABLISHED);
	struct reach_dedup_key kref = mkkey(CG_A, REACH_EV_EGRESS, 0xe000 + REACH_OUT_REFUSED);
	struct reach_dedup_key kto = mkkey(CG_A, REACH_EV_EGRESS, 0xe000 + REACH_OUT_TIMEDOUT);
	const struct ledger_edge *e;

	add_egress(f->o, CG_A, REACH_OUT_ESTABLISHED, 1000 * MS);
	add_egress(f->o, CG_A, REACH_OUT_REFUSED, 2000 * MS);
	fake_set(&f->map, &kest, 3, 1000 * MS, 3000 * MS);
	fake_set(&f->map, &kref, 2, 2000 * MS, 2500 * MS);
	refresh(f);
	feed(f);
	assert_int_equal(f->st.edges_fed, 1);
	assert_int_equal(f->st.record_errors, 0);

	e = edge_in(f->l, "ns/sa", LEDGER_EGRESS, EGRESS);
	assert_non_null(e);
	assert_int_equal(e->count, 5);
	assert_int_equal(e->n_outcomes, 2);
	assert_int_equal(outcome_of(e, "established"), 3);
	assert_int_equal(outcome_of(e, "refused"), 2);
	assert_string_equal(e->proto, "tcp");
	assert_int_equal(e->port, 443);
	assert_string_equal(e->dest_class, "public");
	assert_string_equal(e->name, "api.example.com");
	assert_int_equal(e->first_ms, BOOT_TO_UNIX_MS + 1000);
	assert_int_equal(e->last_ms, BOOT_TO_UNIX_MS + 3000);
	assert_true(set_has(e->executables, "/usr/bin/curl"));

	/* refused grows by 2, a timeout appears: exactly those deltas */
	fake_set(&f->map, &kref, 4, 2000 * MS, 4000 * MS);
	add_egress(f->o, CG_A, REACH_OUT_TIMEDOUT, 4500 * MS);
	fake_set(&f->map, &kto, 1, 4500 * MS, 4500 * MS);
	refresh(f);
	feed(f);
	assert_int_equal(f->st.edges_fed, 1);
	e = edge_in(f->l, "ns/sa", LEDGER_EGRESS, EGRESS);
	assert_int_equal(e->count, 8);
	assert_int_equal(e->n_outcomes, 3);
	assert_int_equal(outcome_of(e, "established"), 3);
	assert_int_equal(outcome_of(e, "refused"), 4);
	assert_int_equal(outcome_of(e, "timed_out"), 1);
	assert_int_equal(e->last_ms, BOOT_TO_UNIX_MS + 4500);

	/* nothing new: nothing recorded */
	feed(f);
	assert_int_equal(f->st.edges_fed, 0);
	e = edge_in(f->l, "ns/sa", LEDGER_EGRESS, EGRESS);
	assert_int_equal(e->count, 8);
	assert_int_equal(outcome_of(e, "refused"), 4);
	assert_int_equal(ledger_edges(f->l), 1);
}

static void test_pending_held_then_fed_in_full(void **state)
{
	struct fx *f = *state;
	struct reach_dedup_key kb = mkkey(CG_B, REACH_EV_FILE_OPEN, 7);
	struct reach_dedup_key kbe = mkkey(CG_B, REACH_EV_EGRESS, 0xe000 + REACH_OUT_ESTABLISHED);
	const struct ledger_edge *e;

	add_secret(f->o, CG_A, SECRET, 1, 1000 * MS);
	add_secret(f->o, CG_B, SECRET, 7, 2000 * MS);
	add_tool(f->o, CG_B, TOOL, 8, 2100 * MS);
	add_egress(f->o, CG_B, REACH_OUT_ESTABLISHED, 2200 * MS);

	feed(f);
	assert_int_equal(f->st.edges_fed, 1);
	assert_int_equal(f->st.edges_held, 3);
	assert_int_equal(ledger_identities(f->l), 1);
	assert_null(ledger_identity_find(f->l, "unknown/kubepods/pod-b"));
	assert_null(ledger_identity_find(f->l, "ns2/sa2"));

	/* counts grow while the pod is unknown; still held */
	fake_set(&f->map, &kb, 7, 2000 * MS, 3000 * MS);
	fake_set(&f->map, &kbe, 4, 2200 * MS, 3100 * MS);
	refresh(f);
	feed(f);
	assert_int_equal(f->st.edges_fed, 0);
	assert_int_equal(f->st.edges_held, 3);
	assert_int_equal(ledger_identities(f->l), 1);

	/* the pod shows up: everything, in full, under its identity */
	f->ids.b_pending = false;
	feed(f);
	assert_int_equal(f->st.edges_fed, 3);
	assert_int_equal(f->st.edges_held, 0);
	assert_int_equal(ledger_identities(f->l), 2);
	e = edge_in(f->l, "ns2/sa2", LEDGER_SECRET, SECRET);
	assert_non_null(e);
	assert_int_equal(e->count, 7);
	assert_int_equal(e->first_ms, BOOT_TO_UNIX_MS + 2000);
	assert_int_equal(e->last_ms, BOOT_TO_UNIX_MS + 3000);
	e = edge_in(f->l, "ns2/sa2", LEDGER_TOOL, TOOL);
	assert_non_null(e);
	assert_int_equal(e->count, 1);
	e = edge_in(f->l, "ns2/sa2", LEDGER_EGRESS, EGRESS);
	assert_non_null(e);
	assert_int_equal(e->count, 4);
	assert_int_equal(outcome_of(e, "established"), 4);
	/* CG_A's edge was not fed twice */
	assert_int_equal(edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET)->count, 1);

	feed(f);
	assert_int_equal(f->st.edges_fed, 0);
	assert_int_equal(edge_in(f->l, "ns2/sa2", LEDGER_SECRET, SECRET)->count, 7);
}

static void test_pending_view(void **state)
{
	struct fx *f = *state;
	struct reach_dedup_key kb = mkkey(CG_B, REACH_EV_FILE_OPEN, 7);
	struct ledger *view = f->other = ledger_new(0, 0);
	const struct ledger_edge *e;

	assert_non_null(view);
	add_secret(f->o, CG_A, SECRET, 1, 1000 * MS);
	add_secret(f->o, CG_B, SECRET2, 7, 2000 * MS);
	add_tool(f->o, CG_B, TOOL, 8, 2100 * MS);
	add_egress(f->o, CG_B, REACH_OUT_ESTABLISHED, 2300 * MS);
	add_egress(f->o, CG_B, REACH_OUT_REFUSED, 2400 * MS);
	add_secret(f->o, CG_C, SECRET, 9, 2200 * MS);
	fake_set(&f->map, &kb, 6, 2000 * MS, 3000 * MS);
	refresh(f);
	feed(f);
	assert_int_equal(f->st.edges_held, 3);

	ledger_feed_pending_view(f->o, view, fake_resolve, &f->ids, BOOT_TO_UNIX_MS);
	/* only the held edges, under their unknown name, full counts */
	assert_int_equal(ledger_identities(view), 1);
	assert_int_equal(ledger_edges(view), 3);
	e = edge_in(view, "unknown/kubepods/pod-b", LEDGER_EGRESS, EGRESS);
	assert_non_null(e);
	assert_int_equal(e->count, 2);
	assert_string_equal(e->proto, "tcp");
	assert_int_equal(e->port, 443);
	e = edge_in(view, "unknown/kubepods/pod-b", LEDGER_SECRET, SECRET2);
	assert_non_null(e);
	assert_int_equal(e->count, 6);
	assert_int_equal(e->first_ms, BOOT_TO_UNIX_MS + 2000);
	assert_int_equal(e->last_ms, BOOT_TO_UNIX_MS + 3000);
	assert_string_equal(e->category, "cloud-credentials");
	e = edge_in(view, "unknown/kubepods/pod-b", LEDGER_TOOL, TOOL);
	assert_non_null(e);
	assert_int_equal(e->count, 1);
	assert_null(ledger_identity_find(view, "ns/sa"));

	/* the view does not count as fed: the main ledger gets everything once
	 * the identity is known */
	f->ids.b_pending = false;
	feed(f);
	assert_int_equal(f->st.edges_fed, 3);
	assert_int_equal(edge_in(f->l, "ns2/sa2", LEDGER_EGRESS, EGRESS)->count, 2);
	assert_int_equal(edge_in(f->l, "ns2/sa2", LEDGER_SECRET, SECRET2)->count, 6);
	assert_int_equal(edge_in(f->l, "ns2/sa2", LEDGER_TOOL, TOOL)->count, 1);
	ledger_free(view);
	f->other = NULL;

	/* nothing pending any more: an empty view */
	view = f->other = ledger_new(0, 0);
	assert_non_null(view);
	ledger_feed_pending_view(f->o, view, fake_resolve, &f->ids, BOOT_TO_UNIX_MS);
	assert_int_equal(ledger_identities(view), 0);
}

static void test_identity_fields_reach_the_ledger(void **state)
{
	struct fx *f = *state;
	const struct ledger_edge *e;

	add_secret(f->o, CG_A, SECRET, 1, 1000 * MS);
	add_secret(f->o, CG_D, SECRET, 4, 1000 * MS);
	feed(f);
	e = edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET);
	assert_non_null(e);
	assert_int_equal(e->pods->n, 1);
	assert_string_equal(e->pods->v[0], "ns/pod-a");
	assert_int_equal(e->images->n, 1);
	assert_string_equal(e->images->v[0], "registry.example/app:1.2");
	assert_string_equal(e->epoch, "sha256:aaaa");
	assert_string_equal(e->last_epoch, "sha256:aaaa");

	/* a host identity: no pod, image or epoch */
	e = edge_in(f->l, "host/cron", LEDGER_SECRET, SECRET);
	assert_non_null(e);
	assert_int_equal(e->count, 1);
	assert_int_equal(e->pods->n, 0);
	assert_int_equal(e->images->n, 0);
	assert_string_equal(e->epoch, "");
}

static void test_resolve_failure_skips_the_cgroup(void **state)
{
	struct fx *f = *state;

	add_secret(f->o, CG_C, SECRET, 9, 1000 * MS);
	add_secret(f->o, CG_A, SECRET, 1, 1000 * MS);
	feed(f);
	assert_int_equal(f->st.edges_fed, 1);
	assert_int_equal(f->st.edges_held, 0);
	assert_int_equal(f->st.record_errors, 0);
	assert_int_equal(ledger_identities(f->l), 1);
	assert_int_equal(ledger_edges(f->l), 1);
}

static void test_ledger_refusals_are_counted(void **state)
{
	struct fx *f = *state;
	struct ledger *small = f->other = ledger_new(0, 1); /* one edge per identity */

	assert_non_null(small);
	add_secret(f->o, CG_A, SECRET, 1, 1000 * MS);
	add_secret(f->o, CG_A, SECRET2, 3, 1100 * MS);
	memset(&f->st, 0xff, sizeof(f->st));
	ledger_feed(f->o, small, fake_resolve, &f->ids, BOOT_TO_UNIX_MS, &f->st);
	assert_int_equal(f->st.record_errors, 1);
	assert_int_equal(f->st.edges_held, 0);
	assert_int_equal(ledger_edges(small), 1);
	assert_int_equal(ledger_edges_dropped(small), 1);
}

static void test_every_executable_reaches_the_ledger(void **state)
{
	struct fx *f = *state;
	const struct ledger_edge *e;

	/* two programs read the same secret (their dedup keys differ) */
	add_secret_by(f->o, CG_A, SECRET, 1, 1000 * MS, "/usr/bin/python3");
	add_secret_by(f->o, CG_A, SECRET, 11, 1500 * MS, "/usr/bin/cat");
	feed(f);
	assert_int_equal(f->st.edges_fed, 1);
	e = edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET);
	assert_non_null(e);
	assert_int_equal(e->count, 2);
	assert_int_equal(e->executables->n, 2);
	assert_true(set_has(e->executables, "/usr/bin/python3"));
	assert_true(set_has(e->executables, "/usr/bin/cat"));

	/* a third one later: it joins, the count grows by its one read */
	add_secret_by(f->o, CG_A, SECRET, 12, 2000 * MS, "/bin/sh");
	feed(f);
	assert_int_equal(f->st.edges_fed, 1);
	e = edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET);
	assert_int_equal(e->count, 3);
	assert_int_equal(e->executables->n, 3);
	assert_true(set_has(e->executables, "/bin/sh"));
	assert_int_equal(f->st.record_errors, 0);
}

/* Was a bug (fixed): ledger_feed.c feed_edge() (the non-egress branch, "if (ledger_record(l,
 * &obs) != 0) { stats->record_errors++; return true; }") returns before
 * setting fed_count/fed_last_ns when the ledger refuses an edge at a cap, so
 * every later ledger_feed() (every periodic refresh) sends the same refused
 * edge again and the ledger's edges_dropped grows by one per call although
 * nothing new was observed (egress edges, whose fed_count is set anyway, are
 * not resent). Expected: edges_dropped stays 1 after a feed without change;
 * actual: 2, then 3, ... */
static void test_refused_edge_is_not_counted_again(void **state)
{
	struct fx *f = *state;
	struct ledger *small = f->other = ledger_new(0, 1); /* one edge per identity */

	assert_non_null(small);
	add_secret(f->o, CG_A, SECRET, 1, 1000 * MS);
	add_secret(f->o, CG_A, SECRET2, 3, 1100 * MS);
	ledger_feed(f->o, small, fake_resolve, &f->ids, BOOT_TO_UNIX_MS, &f->st);
	assert_int_equal(ledger_edges_dropped(small), 1);
	/* nothing new observed: nothing new refused */
	ledger_feed(f->o, small, fake_resolve, &f->ids, BOOT_TO_UNIX_MS, &f->st);
	ledger_feed(f->o, small, fake_resolve, &f->ids, BOOT_TO_UNIX_MS, &f->st);
	assert_int_equal(ledger_edges(small), 1);
	assert_int_equal(ledger_edges_dropped(small), 1);
}

/* The same for egress, whose growth is fed per outcome: a refused outcome
 * is consumed too, or every feed would be refused and counted again. */
static void test_refused_egress_is_not_counted_again(void **state)
{
	struct fx *f = *state;
	struct ledger *small = f->other = ledger_new(0, 1);

	assert_non_null(small);
	add_secret(f->o, CG_A, SECRET, 1, 1000 * MS);
	add_egress(f->o, CG_A, REACH_OUT_ESTABLISHED, 1100 * MS);
	add_egress(f->o, CG_A, REACH_OUT_REFUSED, 1200 * MS);
	ledger_feed(f->o, small, fake_resolve, &f->ids, BOOT_TO_UNIX_MS, &f->st);
	assert_int_equal(ledger_edges(small), 1);
	assert_int_equal(ledger_edges_dropped(small), 2); /* one refusal per outcome record */
	assert_int_equal(f->st.record_errors, 2);
	ledger_feed(f->o, small, fake_resolve, &f->ids, BOOT_TO_UNIX_MS, &f->st);
	ledger_feed(f->o, small, fake_resolve, &f->ids, BOOT_TO_UNIX_MS, &f->st);
	assert_int_equal(ledger_edges_dropped(small), 2);
	assert_int_equal(f->st.record_errors, 0);
}

static size_t evict(struct fx *f, size_t n)
{
	memset(&f->st, 0, sizeof(f->st));
	return ledger_feed_evict(f->o, f->l, fake_resolve, &f->ids, BOOT_TO_UNIX_MS, fake_take, &f->map, n, &f->st);
}

/* The least recently seen edge goes first, with the counts the map held at
 * the end (read and deleted at once, never refreshed before), fed to the
 * ledger; the other edge stays, indexed, with its counts. */
static void test_evict_feeds_final_counts_least_recent_first(void **state)
{
	struct fx *f = *state;
	struct reach_dedup_key k1 = mkkey(CG_A, REACH_EV_FILE_OPEN, 1), k2 = mkkey(CG_A, REACH_EV_FILE_OPEN, 2);
	struct cgroup_reach **cgs;
	const struct ledger_edge *le;
	struct edge *kept;

	add_secret(f->o, CG_A, SECRET, 1, 5000 * MS);
	kept = add_secret(f->o, CG_A, SECRET2, 2, 6000 * MS);
	fake_set(&f->map, &k1, 4, 5000 * MS, 7000 * MS);
	fake_set(&f->map, &k2, 2, 6000 * MS, 8000 * MS);
	refresh(f);
	feed(f);
	fake_set(&f->map, &k1, 9, 5000 * MS, 7500 * MS); /* grew after the last feed */

	assert_int_equal(evict(f, 1), 1);
	assert_int_equal(f->st.record_errors, 0);
	assert_int_equal(observed_edges_evicted(f->o), 1);
	assert_int_equal(observed_edge_total(f->o), 1);
	assert_int_equal(observed_cgroups(f->o, &cgs), 1);
	assert_int_equal(cgs[0]->n_edges, 1);
	assert_ptr_equal(cgs[0]->edges[0], kept);
	assert_int_equal(f->map.n, 1); /* SECRET's key deleted, SECRET2's still there */
	le = edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET);
	assert_non_null(le);
	assert_int_equal(le->count, 9);
	assert_int_equal(le->last_ms, BOOT_TO_UNIX_MS + 7500);
	/* the index still finds the kept edge, and a new edge can be added */
	add_secret(f->o, CG_A, SECRET2, 2, 9000 * MS);
	assert_int_equal(observed_edge_total(f->o), 1);
}

/* An evicted edge seen again is a new edge (its map entry was deleted, so
 * the next occurrence was an event); the ledger adds the two up. */
static void test_evicted_edge_seen_again_adds_up(void **state)
{
	struct fx *f = *state;
	struct reach_dedup_key k = mkkey(CG_A, REACH_EV_FILE_OPEN, 1);
	const struct ledger_edge *le;
	struct edge *e;

	add_secret(f->o, CG_A, SECRET, 1, 5000 * MS);
	fake_set(&f->map, &k, 3, 5000 * MS, 6000 * MS);
	assert_int_equal(evict(f, 8), 1);
	assert_int_equal(f->map.n, 0);
	assert_int_equal(observed_edge_total(f->o), 0);

	e = add_secret(f->o, CG_A, SECRET, 1, 20000 * MS);
	assert_int_equal(edge_count(e), 1);
	fake_set(&f->map, &k, 2, 20000 * MS, 21000 * MS);
	refresh(f);
	feed(f);
	le = edge_in(f->l, "ns/sa", LEDGER_SECRET, SECRET);
	assert_non_null(le);
	assert_int_equal(le->count, 5);
	assert_int_equal(le->first_ms, BOOT_TO_UNIX_MS + 5000);
	assert_int_equal(le->last_ms, BOOT_TO_UNIX_MS + 21000);
}

/* Not in the ledger yet (pending identity, unresolvable cgroup) or not reach
 * at all (TLS coverage): never evicted, their keys untouched. */
static void test_evict_keeps_what_the_ledger_lacks(void **state)
{
	struct fx *f = *state;
	struct reach_dedup_key kb = mkkey(CG_B, REACH_EV_FILE_OPEN, 1), kc = mkkey(CG_C, REACH_EV_FILE_OPEN, 2);
	struct reach_event_hdr hdr = mkhdr(CG_A, REACH_EV_EGRESS, 1000 * MS);
	struct reach_dedup_key kt = mkkey(CG_A, REACH_EV_EGRESS, 3);
	struct observation obs;
	bool is_new;

	add_secret(f->o, CG_B, SECRET, 1, 1000 * MS);
	add_secret(f->o, CG_C, SECRET2, 2, 1000 * MS);
	memset(&obs, 0, sizeof(obs));
	obs.hdr = &hdr;
	obs.key = &kt;
	obs.object = "/usr/bin/curl";
	obs.exe = "/usr/bin/curl";
	obs.category = "openssl";
	obs.dest_class = "covered";
	assert_non_null(observed_add(f->o, EDGE_TLS, &obs, &is_new));
	fake_set(&f->map, &kb, 1, 1000 * MS, 1000 * MS);
	fake_set(&f->map, &kc, 1, 1000 * MS, 1000 * MS);
	fake_set(&f->map, &kt, 1, 1000 * MS, 1000 * MS);

	assert_int_equal(evict(f, 8), 0);
	assert_int_equal(observed_edge_total(f->o), 3);
	assert_int_equal(observed_edges_evicted(f->o), 0);
	assert_int_equal(f->map.n, 3);
	assert_int_equal(ledger_edges(f->l), 0);

	f->ids.b_pending = false; /* the pod became known */
	assert_int_equal(evict(f, 8), 1);
	assert_int_equal(edge_in(f->l, "ns2/sa2", LEDGER_SECRET, SECRET)->count, 1);
	assert_int_equal(observed_edge_total(f->o), 2);
}

/* Egress: each outcome's growth reaches the ledger once, eviction included. */
static void test_evict_egress_per_outcome(void **state)
{
	struct fx *f = *state;
	struct reach_dedup_key ke = mkkey(CG_A, REACH_EV_EGRESS, 0xe000 + REACH_OUT_ESTABLISHED),
			       kr = mkkey(CG_A, REACH_EV_EGRESS, 0xe000 + REACH_OUT_REFUSED);
	const struct ledger_edge *le;

	add_egress(f->o, CG_A, REACH_OUT_ESTABLISHED, 1000 * MS);
	add_egress(f->o, CG_A, REACH_OUT_REFUSED, 2000 * MS);
	fake_set(&f->map, &ke, 3, 1000 * MS, 3000 * MS);
	fake_set(&f->map, &kr, 1, 2000 * MS, 2000 * MS);
	refresh(f);
	feed(f);
	fake_set(&f->map, &ke, 5, 1000 * MS, 4000 * MS);
	assert_int_equal(evict(f, 1), 1);
	le = edge_in(f->l, "ns/sa", LEDGER_EGRESS, EGRESS);
	assert_non_null(le);
	assert_int_equal(le->count, 6);
	assert_int_equal(outcome_of(le, "established"), 5);
	assert_int_equal(outcome_of(le, "refused"), 1);
	assert_int_equal(f->map.n, 0);
}

static void test_empty_observed(void **state)
{
	struct fx *f = *state;
	struct ledger *view = f->other = ledger_new(0, 0);

	assert_non_null(view);
	feed(f);
	assert_int_equal(f->st.edges_fed, 0);
	assert_int_equal(f->st.edges_held, 0);
	assert_int_equal(f->st.record_errors, 0);
	assert_int_equal(f->ids.calls, 0);
	ledger_feed_pending_view(f->o, view, fake_resolve, &f->ids, BOOT_TO_UNIX_MS);
	assert_int_equal(ledger_identities(view), 0);
	assert_int_equal(ledger_identities(f->l), 0);
}

/* reachd's ledger keeps its values in the observed model's table: an
 * edge's object, executable and exec chain are stored once for both, the
 * ledger outlives nothing it needs, and what it shows is unchanged. */
static void test_ledger_sharing_the_observed_table(void **state)
{
	struct fx *f = *state;
	struct ledger *shared = f->other = ledger_new_sharing(0, 0, observed_strings(f->o));
	struct feed_stats st;
	const struct ledger_edge *e;
	struct cgroup_reach **cg;
	size_t strings;

	assert_non_null(shared);
	add_secret(f->o, CG_A, SECRET, 1, 5000 * MS);
	strings = intern_strings(observed_strings(f->o));
	ledger_feed(f->o, shared, fake_resolve, &f->ids, BOOT_TO_UNIX_MS, &st);
	assert_int_equal(st.edges_fed, 1);
	e = edge_in(shared, "ns/sa", LEDGER_SECRET, SECRET);
	assert_non_null(e);
	observed_cgroups(f->o, &cg);
	assert_ptr_equal(e->object, cg[0]->edges[0]->object); /* one copy */
	assert_ptr_equal(e->executables->v[0], cg[0]->edges[0]->proc->exe);
	/* the ledger added only what the model does not hold: the category
	 * (the catalogue's), the pod, the image and the epoch */
	assert_int_equal(intern_strings(observed_strings(f->o)), strings + 4);
	assert_int_equal(e->count, 1);
	assert_string_equal(e->pods->v[0], "ns/pod-a");
	/* the model goes first (reachd frees the ledger later): the ledger's
	 * values live on in the table it holds */
	observed_free(f->o);
	f->o = NULL;
	assert_string_equal(e->object, SECRET);
	assert_string_equal(e->lineage[1], "/usr/bin/python3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_feed_records_full_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_feed_without_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_feed_without_change_adds_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_adds_exactly_the_delta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_egress_counts_per_outcome, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_held_then_fed_in_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_fields_reach_the_ledger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_failure_skips_the_cgroup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ledger_refusals_are_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_executable_reaches_the_ledger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_edge_is_not_counted_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_egress_is_not_counted_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evict_feeds_final_counts_least_recent_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evicted_edge_seen_again_adds_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evict_keeps_what_the_ledger_lacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evict_egress_per_outcome, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_observed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ledger_sharing_the_observed_table, setup, teardown),
	};

	return cmocka_run_group_tests_name("ledger_feed", tests, NULL, NULL);
}
