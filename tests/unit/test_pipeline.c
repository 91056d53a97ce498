/* The observation pipeline (agent/pipeline.h) fed synthetic ring-buffer
 * records of every kind: what the observed model, the process tree, the DNS
 * names and the counters hold afterwards, field by field. No kernel, no
 * root: the dedup map and TLS coverage are fakes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <cmocka.h>
#include "testutil.h"

#include "agent/pipeline.h"
#include "common/hmap.h"
#include "identity/identity.h"
#include "reach/artifact.h"
#include "reach/catalog.h"
#include "reach/coverage.h"
#include "reach/dnsnames.h"
#include "reach/ledger.h"
#include "reach/ledger_store.h"
#include "reach/netclass.h"
#include "reach/proctree.h"

/* cgroup ids that exist nowhere: their path is "?" */
#define CG 0xfeed000000000100ULL
#define CG2 0xfeed000000000200ULL
#define UID 4242
#define T_PARENT 4190001u /* tgids above any pid the test host uses */
#define T_CHILD 4190002u
#define T_OTHER 4190003u
#define T_GONE 4190099u

/* ---- fakes: the kernel dedup map and TLS coverage ------------------------ */

struct fake_kernel {
	int snapshots, lookups, takes;
	uint64_t count;            /* what every lookup answers */
	int snapshot_rc;
	/* TLS coverage */
	int opens, execs, forks, exits, library_calls;
	char last_open[1024], last_exec[256];
	struct reach_dedup_key last_open_key;
	int secret_inodes;         /* mark_secret_inode calls */
	uint64_t link_acked;       /* link events credited back (ack_link) */
	struct reach_inode_key last_secret_inode;
	uint32_t fork_parent, fork_child, exit_tgid;
	const char *library;       /* answer of library(); NULL: blind */
	const char *why;
	uint64_t late_ms;          /* answer of library(): probed that long after the traffic began */
	uint64_t last_since_ns;    /* what the last library() call was asked about */
};

static int fake_snapshot(void *ctx)
{
	struct fake_kernel *k = ctx;

	k->snapshots++;
	return k->snapshot_rc;
}

static int fake_lookup(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	struct fake_kernel *k = ctx;

	(void)key;
	k->lookups++;
	if (!k->count)
		return -ENOENT;
	val->count = k->count;
	val->first_ns = 1000;
	val->last_ns = 9000;
	return 0;
}

static int fake_take(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	struct fake_kernel *k = ctx;

	(void)key;
	(void)val;
	k->takes++;
	return -ENOENT;
}

static int fake_mark_secret_inode(void *ctx, const struct reach_inode_key *key)
{
	struct fake_kernel *k = ctx;

	k->secret_inodes++;
	k->last_secret_inode = *key;
	return 0;
}

static int fake_ack_link(void *ctx, uint64_t cgroup_id, uint64_t n)
{
	struct fake_kernel *k = ctx;

	(void)cgroup_id;
	k->link_acked += n;
	return 0;
}

static const struct pipeline_dedup_ops fake_dedup = { .snapshot = fake_snapshot, .lookup = fake_lookup, .take = fake_take,
						      .mark_secret_inode = fake_mark_secret_inode,
						      .ack_link = fake_ack_link };

static void fake_open(void *ctx, uint32_t tgid, const char *abs_path, const struct reach_inode_key *inode,
		      const struct reach_dedup_key *key)
{
	struct fake_kernel *k = ctx;

	(void)tgid, (void)inode;
	k->opens++;
	snprintf(k->last_open, sizeof(k->last_open), "%s", abs_path);
	k->last_open_key = *key;
}

static void fake_exec(void *ctx, uint32_t tgid, const char *path)
{
	struct fake_kernel *k = ctx;

	(void)tgid;
	k->execs++;
	snprintf(k->last_exec, sizeof(k->last_exec), "%s", path);
}

static void fake_fork(void *ctx, uint32_t parent, uint32_t child)
{
	struct fake_kernel *k = ctx;

	k->forks++;
	k->fork_parent = parent;
	k->fork_child = child;
}

static void fake_exit(void *ctx, uint32_t tgid)
{
	struct fake_kernel *k = ctx;

	k->exits++;
	k->exit_tgid = tgid;
}

static const char *fake_library(void *ctx, uint32_t tgid, uint64_t since_ns, const struct reach_dedup_key *key,
				const char **why, uint64_t *late_ms)
{
	struct fake_kernel *k = ctx;

	(void)tgid, (void)key;
	k->library_calls++;
	k->last_since_ns = since_ns;
	*late_ms = k->library ? k->late_ms : 0;
	if (!k->library || *late_ms)
		*why = k->why;
	return k->library;
}

static const struct pipeline_tls_ops fake_tls = {
	.on_open = fake_open, .on_exec = fake_exec, .on_fork = fake_fork, .on_exit = fake_exit, .library = fake_library,
};

/* ---- the fixture ------------------------------------------------------- */

struct fx {
	struct pipeline p;
	struct fake_kernel k;
	struct catalog *catalog;
	struct netclass nc;
	struct identity_resolver *resolver;
	struct ledger *ledger;
	char dir[256];
	char secret[512];   /* <dir>/app.token: one token */
};

#define TOKEN "s3cr3t-t0ken-value-123"

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char rule[64];

	assert_non_null(f);
	assert_int_equal(pipeline_init(&f->p, 0), 0);
	for (size_t i = 0; i < sizeof(f->p.fp_key.key); i++)
		f->p.fp_key.key[i] = (unsigned char)(i * 7 + 1);
	f->catalog = catalog_new();
	assert_non_null(f->catalog);
	assert_int_equal(catalog_add(f->catalog, "app.token", "test-token"), 0);
	netclass_init(&f->nc);
	assert_int_equal(netclass_add_cluster_cidr(&f->nc, "10.0.0.0/8"), 0);
	f->resolver = identity_resolver_new(NULL);
	assert_non_null(f->resolver);
	snprintf(rule, sizeof(rule), "uid:%u host/test", UID);
	assert_int_equal(identity_add_rule(f->resolver, rule), 0);
	f->ledger = ledger_new(100, 1000);
	assert_non_null(f->ledger);
	f->p.catalog = f->catalog;
	f->p.netclass = &f->nc;
	f->p.resolver = f->resolver;
	f->p.ledger = f->ledger;
	f->p.boot_to_unix_ms = 1700000000000LL;
	f->p.dedup = &fake_dedup;
	f->p.dedup_ctx = &f->k;
	f->p.tls = &fake_tls;
	f->p.tls_ctx = &f->k;
	assert_int_equal(make_temp_dir(f->dir, sizeof(f->dir), "reach-pipeline"), 0);
	snprintf(f->secret, sizeof(f->secret), "%s/app.token", f->dir);
	write_text(f->secret, TOKEN "\n");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	remove_tree(f->dir);
	pipeline_fini(&f->p);
	ledger_free(f->ledger);
	identity_resolver_free(f->resolver);
	catalog_free(f->catalog);
	free(f);
	return 0;
}

static void fill_hdr(struct reach_event_hdr *h, uint16_t kind, uint16_t size, uint64_t cg, uint32_t tgid, uint32_t ppid)
{
	h->kind = kind;
	h->size = size;
	h->cpu = 1;
	h->ts_ns = 5000000000ULL + tgid;
	h->cgroup_id = cg;
	h->pid = tgid;
	h->tgid = tgid;
	h->ppid = ppid;
	h->uid = UID;
	snprintf(h->comm, sizeof(h->comm), "comm-%u", tgid % 100);
}

static void key_of(struct reach_dedup_key *k, uint64_t cg, uint32_t kind, uint64_t hash)
{
	k->cgroup_id = cg;
	k->kind = kind;
	k->hash = hash;
}

static int feed(struct fx *f, const void *rec, size_t size)
{
	return pipeline_on_event(&f->p, rec, size);
}

/* argv: NUL-separated words in one buffer */
static void exec_event(struct fx *f, uint64_t cg, uint32_t tgid, uint32_t ppid, const char *file, const char *const *argv,
		       uint64_t ino)
{
	struct reach_exec_event ev = { 0 };
	size_t off = 0;

	fill_hdr(&ev.hdr, REACH_EV_EXEC, sizeof(ev), cg, tgid, ppid);
	key_of(&ev.key, cg, REACH_EV_EXEC, 0x1000 + strlen(file));
	snprintf(ev.filename, sizeof(ev.filename), "%s", file);
	for (; argv && *argv; argv++) {
		size_t n = strlen(*argv) + 1;

		memcpy(ev.args + off, *argv, n);
		off += n;
		ev.argc++;
	}
	ev.args_len = (uint16_t)off;
	ev.exe_ino = ino;
	ev.exe_dev = 0x801;
	ev.exe_mtime_sec = 1700000000;
	ev.exe_mtime_nsec = 5;
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
}

/* path: the name as written; resolved: the file the kernel resolved from
 * the descriptor (NULL: the written name itself); ino: its inode. */
static void open_event_ino(struct fx *f, uint64_t cg, uint32_t tgid, const char *path, const char *resolved,
			   uint32_t flags, uint64_t ino)
{
	struct reach_file_open_event ev = { 0 };

	fill_hdr(&ev.hdr, REACH_EV_FILE_OPEN, sizeof(ev), cg, tgid, 1);
	key_of(&ev.key, cg, REACH_EV_FILE_OPEN, 0x2000 + strlen(path));
	ev.open_flags = 0; /* O_RDONLY */
	ev.dirfd = -100;
	ev.fd = 3;
	snprintf(ev.path, sizeof(ev.path), "%s", path);
	ev.path_len = (uint16_t)strlen(path);
	if (!resolved)
		resolved = path;
	snprintf(ev.resolved, sizeof(ev.resolved), "%s", resolved);
	ev.resolved_len = (uint16_t)strlen(resolved);
	ev.inode.ino = ino;
	ev.inode.dev = 0x801;
	ev.flags = flags;
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
}

/* An open of the file as it is: its real inode (the kernel's, which the
 * agent checks before it reads the content), a made-up one when absent. */
static void open_event(struct fx *f, uint64_t cg, uint32_t tgid, const char *path, const char *resolved, uint32_t flags)
{
	struct stat st;
	const char *file = resolved ? resolved : path;

	open_event_ino(f, cg, tgid, path, resolved, flags,
		       stat(file, &st) == 0 ? (uint64_t)st.st_ino : 0x5000 + strlen(file));
}

static void egress_event(struct fx *f, uint64_t cg, uint32_t tgid, uint8_t family, uint8_t proto, uint8_t outcome,
			 const char *addr, uint16_t dport)
{
	struct reach_egress_event ev = { 0 };
	struct netaddr a;

	fill_hdr(&ev.hdr, REACH_EV_EGRESS, sizeof(ev), cg, tgid, 1);
	key_of(&ev.key, cg, REACH_EV_EGRESS, 0x3000 + dport + outcome);
	ev.family = family;
	ev.proto = proto;
	ev.outcome = outcome;
	ev.dport = dport;
	ev.sport = 40000;
	if (addr) {
		assert_int_equal(netaddr_parse(addr, &a), 0);
		if (family == REACH_AF_INET6 && a.family == 4) { /* v4-mapped, as the kernel has it */
			ev.daddr[10] = ev.daddr[11] = 0xff;
			memcpy(ev.daddr + 12, a.addr, 4);
		} else {
			memcpy(ev.daddr, a.addr, a.family == 4 ? 4 : 16);
		}
	}
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
}

static void http_event(struct fx *f, uint64_t cg, uint32_t tgid, uint8_t source, const char *head, uint16_t dport)
{
	struct reach_http_event ev = { 0 };

	fill_hdr(&ev.hdr, REACH_EV_HTTP, sizeof(ev), cg, tgid, 1);
	key_of(&ev.key, cg, REACH_EV_HTTP, 0x4000 + strlen(head));
	ev.source = source;
	ev.dport = dport;
	ev.len = (uint32_t)strlen(head);
	ev.total_len = ev.len;
	memcpy(ev.payload, head, ev.len);
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
}

/* The only cgroup edge of kind with object, or NULL. */
static const struct edge *find_edge(struct fx *f, uint64_t cg, enum edge_kind kind, const char *object)
{
	const struct cgroup_reach *c = observed_cgroup(f->p.observed, cg);

	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_edges; i++)
		if (c->edges[i]->kind == kind && strcmp(c->edges[i]->object, object) == 0)
			return c->edges[i];
	return NULL;
}

static size_t n_edges(struct fx *f, uint64_t cg)
{
	const struct cgroup_reach *c = observed_cgroup(f->p.observed, cg);

	return c ? c->n_edges : 0;
}

static const char *const no_args[] = { NULL };

/* ---- file opens --------------------------------------------------------- */

static void test_secret_open(void **state)
{
	struct fx *f = *state;
	const struct edge *e;
	char fp[17];

	/* the reader: this test process, so its /proc/PID/root view is ours */
	exec_event(f, CG, (uint32_t)getpid(), T_OTHER, "/usr/bin/cat", (const char *const[]){ "cat", "x", NULL }, 11);
	open_event(f, CG, (uint32_t)getpid(), f->secret, NULL, 0);

	assert_int_equal(f->p.stats.events[REACH_EV_FILE_OPEN], 1);
	assert_int_equal(f->p.stats.opens_not_secret, 0);
	assert_int_equal(f->p.stats.secret_content_unread, 0);
	e = find_edge(f, CG, EDGE_SECRET, f->secret);
	assert_non_null(e);
	assert_string_equal(e->category, "test-token");
	assert_string_equal(e->requested_path, f->secret);
	assert_int_equal(e->open_flags, 0);
	assert_int_equal(e->proc->tgid, getpid());
	assert_int_equal(e->proc->pid, getpid());
	assert_int_equal(e->proc->uid, UID);
	assert_int_equal(e->proc->ppid, 1);
	assert_string_equal(e->proc->exe, "/usr/bin/cat");
	assert_int_equal(e->proc->n_lineage, 1);
	assert_string_equal(e->proc->lineage[0], "/usr/bin/cat");
	assert_int_equal(e->first_ns, 5000000000ULL + (uint32_t)getpid());
	assert_int_equal(e->events, 1);
	assert_int_equal(e->first_src.key.hash, 0x2000 + strlen(f->secret));
	/* the content is one token: its keyed fingerprint, never the value */
	fp_compute(&f->p.fp_key, TOKEN, strlen(TOKEN), fp);
	assert_string_equal(e->content_fp, fp);
	/* TLS coverage saw the open (libraries are found this way) */
	assert_int_equal(f->k.opens, 1);
	assert_string_equal(f->k.last_open, f->secret);
	assert_int_equal(f->k.last_open_key.hash, 0x2000 + strlen(f->secret));
}

/* ---- links and renames (reach_link_event) -------------------------------- */

static void link_event(struct fx *f, uint64_t cg, uint32_t tid, uint32_t flags, const char *old_name,
		       const char *new_name)
{
	struct reach_link_event ev = { 0 };

	fill_hdr(&ev.hdr, REACH_EV_LINK, sizeof(ev), cg, tid, 1);
	ev.nr = 82; /* rename */
	ev.flags = flags;
	snprintf(ev.old_name, sizeof(ev.old_name), "%s", old_name);
	snprintf(ev.new_name, sizeof(ev.new_name), "%s", new_name);
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
}

/* A rename judged at its enter: an open of the new name that wins the race
 * with the syscall's exit is the secret (its inode taken from the open);
 * the taint is held (no credit back) until the outcome has come and the
 * file is known under its new name. Nobody's root is there to look in (the
 * linker and the reader gone): the opens alone decide. */
static void test_link_judged_at_enter_takes_the_racing_open(void **state)
{
	struct fx *f = *state;
	const struct edge *e;
	char notes[600];

	snprintf(notes, sizeof(notes), "%s/notes.txt", f->dir);
	link_event(f, CG, T_GONE, REACH_LINK_F_ENTER, f->secret, notes);
	assert_int_equal(f->p.n_links, 1);
	assert_int_equal(f->k.link_acked, 0);
	open_event_ino(f, CG, T_OTHER, notes, NULL, 0, 77);
	e = find_edge(f, CG, EDGE_SECRET, f->secret);
	assert_non_null(e);
	assert_string_equal(e->category, "test-token");
	assert_string_equal(e->requested_path, notes);
	assert_int_equal(f->k.secret_inodes, 1);
	assert_int_equal(f->k.last_secret_inode.ino, 77);
	/* before the outcome the name may still have been another file's */
	assert_int_equal(f->p.n_links, 1);
	assert_int_equal(f->k.link_acked, 0);
	link_event(f, CG, T_GONE, REACH_LINK_F_EXIT, "", "");
	assert_int_equal(f->p.n_links, 1); /* the linker gone: kept for the next process */
	assert_int_equal(f->k.link_acked, 0);
	open_event_ino(f, CG, T_OTHER, notes, NULL, 0, 77);
	assert_int_equal(f->p.n_links, 0);
	assert_int_equal(f->k.link_acked, 2); /* both events, once nothing is pending */
}

/* The outcome says the syscall failed: no new name, nothing pending, both
 * events credited; another thread's outcome is not this one's. */
static void test_link_that_failed_is_forgotten(void **state)
{
	struct fx *f = *state;
	char notes[600];

	snprintf(notes, sizeof(notes), "%s/notes.txt", f->dir);
	link_event(f, CG, T_GONE, REACH_LINK_F_ENTER, f->secret, notes);
	link_event(f, CG, T_OTHER, REACH_LINK_F_EXIT | REACH_LINK_F_FAILED, "", "");
	assert_int_equal(f->p.n_links, 1);
	link_event(f, CG, T_GONE, REACH_LINK_F_EXIT | REACH_LINK_F_FAILED, "", "");
	assert_int_equal(f->p.n_links, 0);
	assert_int_equal(f->k.link_acked, 3);
	assert_null(find_edge(f, CG, EDGE_SECRET, f->secret));
}

/* A directory a rule names, renamed: a file opened under the new name is
 * classed by the name it had under the old one, before any walk. */
static void test_link_of_a_directory_classes_its_files_by_their_old_names(void **state)
{
	struct fx *f = *state;
	char aws[600], moved[600], opened[700], classed[700];
	const struct edge *e;

	assert_int_equal(catalog_add(f->catalog, "**/.aws/credentials", "aws-credentials"), 0);
	snprintf(aws, sizeof(aws), "%s/.aws", f->dir);
	snprintf(moved, sizeof(moved), "%s/moved", f->dir);
	snprintf(opened, sizeof(opened), "%s/credentials", moved);
	snprintf(classed, sizeof(classed), "%s/credentials", aws);
	link_event(f, CG, T_GONE, REACH_LINK_F_ENTER, aws, moved);
	open_event_ino(f, CG, T_OTHER, opened, NULL, 0, 78);
	e = find_edge(f, CG, EDGE_SECRET, classed);
	assert_non_null(e);
	assert_string_equal(e->category, "aws-credentials");
	assert_string_equal(e->requested_path, opened);
	assert_int_equal(f->k.last_secret_inode.ino, 78);
}

/* The file at the path is no longer the inode the kernel saw the reader
 * open (replaced or renamed over since, or a root the reader switched to a
 * decoy tree): its content is not the secret read, so no fingerprint is
 * taken from it, and that is counted. */
static void test_secret_content_of_another_inode(void **state)
{
	struct fx *f = *state;
	const struct edge *e;
	struct stat st;

	assert_int_equal(stat(f->secret, &st), 0);
	exec_event(f, CG, (uint32_t)getpid(), T_OTHER, "/usr/bin/cat", (const char *const[]){ "cat", "x", NULL }, 11);
	open_event_ino(f, CG, (uint32_t)getpid(), f->secret, NULL, 0, (uint64_t)st.st_ino + 1);
	e = find_edge(f, CG, EDGE_SECRET, f->secret);
	assert_non_null(e);
	assert_string_equal(e->content_fp, "");
	assert_int_equal(f->p.stats.secret_content_unread, 1);
}

/* A .env file holds several credentials: each credential-shaped value is
 * fingerprinted under its key's name (never its value), the content as a
 * whole is not one token, and lines that are not KEY=VALUE are counted. */
static void test_dotenv_open(void **state)
{
	struct fx *f = *state;
	const char *const *kf;
	char path[600], want_key[64], want_db[64], fp[17];
	uint64_t dropped;
	const struct edge *e;

	assert_int_equal(catalog_add(f->catalog, "**/.env", "dotenv"), 0);
	snprintf(path, sizeof(path), "%s/.env", f->dir);
	write_text(path, "# the app's settings\r\n"
			 "export OPENAI_API_KEY=\"sk-proj-4fG7hJ2kL9mN3pQ8rS5tU1vW6xY0zA\"\r\n"
			 "DB_URL=postgres://app:s3cretPassw0rd@db:5432/app\r\n"
			 "DEBUG=true\r\n"
			 "this is not a setting\r\n");
	exec_event(f, CG, (uint32_t)getpid(), T_OTHER, "/usr/bin/python3", (const char *const[]){ "python3", NULL }, 11);
	open_event(f, CG, (uint32_t)getpid(), path, NULL, 0);
	e = find_edge(f, CG, EDGE_SECRET, path);
	assert_non_null(e);
	assert_string_equal(e->category, "dotenv");
	assert_string_equal(e->content_fp, "");
	assert_int_equal(edge_key_fps(e, &kf, &dropped), 2);
	assert_int_equal(dropped, 0);
	fp_compute(&f->p.fp_key, "sk-proj-4fG7hJ2kL9mN3pQ8rS5tU1vW6xY0zA", 38, fp);
	snprintf(want_key, sizeof(want_key), "OPENAI_API_KEY:%s", fp);
	fp_compute(&f->p.fp_key, "postgres://app:s3cretPassw0rd@db:5432/app", 41, fp);
	snprintf(want_db, sizeof(want_db), "DB_URL:%s", fp);
	assert_string_equal(kf[0], want_key);
	assert_string_equal(kf[1], want_db);
	assert_int_equal(f->p.stats.kv_lines_malformed, 1);
	assert_int_equal(f->p.stats.secret_content_unread, 0);

	/* one token under a .env name: that token, as any secret file */
	snprintf(path, sizeof(path), "%s/one", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/one/.env", f->dir);
	write_text(path, TOKEN "\n");
	open_event(f, CG, (uint32_t)getpid(), path, NULL, 0);
	e = find_edge(f, CG, EDGE_SECRET, path);
	assert_non_null(e);
	fp_compute(&f->p.fp_key, TOKEN, strlen(TOKEN), fp);
	assert_string_equal(e->content_fp, fp);
	assert_int_equal(edge_key_fps(e, &kf, &dropped), 0);

	/* the reader gone: nothing read, counted */
	snprintf(path, sizeof(path), "%s/.env", f->dir);
	open_event(f, CG2, T_GONE, path, NULL, 0);
	e = find_edge(f, CG2, EDGE_SECRET, path);
	assert_non_null(e);
	assert_int_equal(edge_key_fps(e, &kf, &dropped), 0);
	assert_null(kf);
	assert_int_equal(f->p.stats.secret_content_unread, 1);
}

static void test_secret_open_resolved_and_reader_gone(void **state)
{
	struct fx *f = *state;
	const struct edge *e;
	char other[600];

	assert_int_equal(catalog_add(f->catalog, "/run/secrets/kubernetes.io/serviceaccount/**/token", "k8s-sa-token"), 0);
	assert_int_equal(catalog_add(f->catalog, "**/id_rsa", "ssh-key"), 0);
	/* the object is the file the kernel resolved, whatever was written */
	exec_event(f, CG, T_GONE, T_OTHER, "/bin/sh", no_args, 12);
	open_event_ino(f, CG, T_GONE, "app.token", f->secret, 0, 77);
	e = find_edge(f, CG, EDGE_SECRET, f->secret);
	assert_non_null(e);
	assert_string_equal(e->requested_path, "app.token");
	/* the reader is gone: no fingerprint, counted */
	assert_string_equal(e->content_fp, "");
	assert_int_equal(f->p.stats.secret_content_unread, 1);
	assert_int_equal(f->p.stats.path_errors, 0);
	/* classed: its inode went to the kernel's secret_inodes */
	assert_int_equal(f->k.secret_inodes, 1);
	assert_int_equal(f->k.last_secret_inode.ino, 77);

	/* another name of the same inode (a hardlink named like nothing
	 * secret): the same secret, under the name it was classed by */
	snprintf(other, sizeof(other), "%s/notes.txt", f->dir);
	open_event_ino(f, CG + 1, T_GONE, other, other, REACH_OPEN_F_KNOWN_SECRET, 77);
	e = find_edge(f, CG + 1, EDGE_SECRET, f->secret);
	assert_non_null(e);
	assert_string_equal(e->requested_path, other);
	assert_null(find_edge(f, CG + 1, EDGE_SECRET, other));
	assert_int_equal(f->k.secret_inodes, 1); /* known: not added twice */

	/* a kernel that could not resolve the file (empty): a path error */
	open_event(f, CG, T_GONE, "app.token", "", 0);
	open_event(f, CG, T_GONE, "", "", 0);
	assert_int_equal(f->p.stats.path_errors, 2);
	/* a written name cut at its bound: the resolved file still decides */
	open_event(f, CG, T_GONE, "/etc/ssl/priv", "/etc/ssl/private/app.token", REACH_OPEN_F_PATH_TRUNC);
	assert_non_null(find_edge(f, CG, EDGE_SECRET, "/etc/ssl/private/app.token"));
	/* a projected volume's file, resolved through ..data to the writer's
	 * timestamped directory: recorded under its stable name */
	open_event(f, CG, T_GONE, "/var/run/secrets/kubernetes.io/serviceaccount/token",
		   "/run/secrets/kubernetes.io/serviceaccount/..2026_12_05_21_00_00.123456789/token", 0);
	e = find_edge(f, CG, EDGE_SECRET, "/run/secrets/kubernetes.io/serviceaccount/token");
	assert_non_null(e);
	assert_string_equal(e->category, "k8s-sa-token");
	assert_string_equal(e->requested_path, "/var/run/secrets/kubernetes.io/serviceaccount/token");
	/* a secret's name that is a link to an innocuous file: still the secret */
	open_event(f, CG, T_GONE, "/root/.ssh/id_rsa", "/srv/blob", 0);
	assert_non_null(find_edge(f, CG, EDGE_SECRET, "/srv/blob"));
	assert_int_equal(f->p.stats.secret_content_unread, 5);
	assert_int_equal(f->p.stats.events[REACH_EV_FILE_OPEN], 7);
	assert_int_equal(f->p.stats.opens_not_secret, 0);
	assert_int_equal(n_edges(f, CG), 5); /* the tool edge and four secrets */
}

static void test_open_not_secret(void **state)
{
	struct fx *f = *state;

	open_event(f, CG, T_OTHER, "/usr/lib/x86_64-linux-gnu/libssl.so.3", NULL, 0);
	assert_int_equal(f->p.stats.events[REACH_EV_FILE_OPEN], 1);
	assert_int_equal(f->p.stats.opens_not_secret, 1);
	assert_int_equal(n_edges(f, CG), 0);
	/* still shown to TLS coverage: a library being mapped */
	assert_int_equal(f->k.opens, 1);
	assert_string_equal(f->k.last_open, "/usr/lib/x86_64-linux-gnu/libssl.so.3");
}

/* ---- exec, fork, exit: the process tree --------------------------------- */

/* node agent.mjs spawning node server.js: two tools, each counted by its
 * own execs although the kernel has one map entry for /usr/bin/node. */
static void test_exec_interpreted_programs_are_tools_of_their_own(void **state)
{
	struct fx *f = *state;
	const struct edge *agent, *server;

	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/node", (const char *const[]){ "node", "agent.mjs", NULL }, 77);
	exec_event(f, CG, T_CHILD, T_PARENT, "/usr/bin/node",
		   (const char *const[]){ "node", "/w/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js",
					  "/srv", NULL }, 77);
	exec_event(f, CG, T_CHILD + 1, T_PARENT, "/usr/bin/node",
		   (const char *const[]){ "node", "/w/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js",
					  "/srv", NULL }, 77);
	agent = find_edge(f, CG, EDGE_TOOL, "/usr/bin/node agent.mjs");
	server = find_edge(f, CG, EDGE_TOOL, "/usr/bin/node server-filesystem");
	assert_non_null(agent);
	assert_non_null(server);
	assert_null(find_edge(f, CG, EDGE_TOOL, "/usr/bin/node"));
	assert_int_equal(edge_count(agent), 1);
	assert_int_equal(edge_count(server), 2);
	assert_int_equal(server->proc->n_lineage, 2);
	assert_string_equal(server->proc->lineage[0], "/usr/bin/node agent.mjs");
	assert_string_equal(server->proc->lineage[1], "/usr/bin/node server-filesystem");
	assert_string_equal(server->exes[0], "/usr/bin/node server-filesystem");
	/* its argv is stored redacted, as every tool's */
	assert_int_equal(server->argc, 3);
}

static void test_exec_lineage_and_redaction(void **state)
{
	struct fx *f = *state;
	const struct edge *e;
	struct reach_fork_event fk = { 0 };
	struct identity id;
	struct cgroup_reach c = { .cgroup_id = CG, .path = "?" };
	const char *epoch;

	/* the cgroup's root process: its parent is elsewhere */
	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/python3", (const char *const[]){ "python3", "app.py", NULL }, 77);
	fill_hdr(&fk.hdr, REACH_EV_FORK, sizeof(fk), CG, T_PARENT, T_OTHER);
	fk.child_pid = fk.child_tgid = T_CHILD;
	assert_int_equal(feed(f, &fk, sizeof(fk)), 0);
	assert_int_equal(f->k.forks, 1);
	assert_int_equal(f->k.fork_parent, T_PARENT);
	assert_int_equal(f->k.fork_child, T_CHILD);
	assert_string_equal(proctree_exe(f->p.procs, T_CHILD), "/usr/bin/python3");
	assert_string_equal(proctree_ident(f->p.procs, T_CHILD), "/usr/bin/python3 app.py");
	exec_event(f, CG, T_CHILD, T_PARENT, "/usr/bin/curl",
		   (const char *const[]){ "curl", "--password", "hunter2", "https://example.com", NULL }, 78);

	assert_int_equal(f->p.stats.events[REACH_EV_EXEC], 2);
	assert_int_equal(f->p.stats.events[REACH_EV_FORK], 1);
	assert_int_equal(f->k.execs, 2);
	assert_string_equal(f->k.last_exec, "/usr/bin/curl");
	e = find_edge(f, CG, EDGE_TOOL, "/usr/bin/curl");
	assert_non_null(e);
	assert_null(e->category);
	assert_int_equal(e->argc, 4);
	assert_string_equal(e->argv[0], "curl");
	assert_string_equal(e->argv[1], "--password");
	assert_string_not_equal(e->argv[2], "hunter2"); /* redacted */
	assert_null(strstr(e->argv[2], "hunter2"));
	assert_string_equal(e->argv[3], "https://example.com");
	assert_false(e->argv_truncated);
	assert_int_equal(e->proc->tgid, T_CHILD);
	assert_int_equal(e->proc->ppid, T_PARENT);
	assert_string_equal(e->proc->exe, "/usr/bin/curl");
	assert_int_equal(e->proc->n_lineage, 2);
	/* an interpreter is named with its program (issue #18) */
	assert_string_equal(e->proc->lineage[0], "/usr/bin/python3 app.py");
	assert_string_equal(e->proc->lineage[1], "/usr/bin/curl");
	assert_int_equal(e->n_exes, 1);
	assert_string_equal(e->exes[0], "/usr/bin/curl");
	e = find_edge(f, CG, EDGE_TOOL, "/usr/bin/python3 app.py");
	assert_non_null(e);
	assert_int_equal(e->proc->n_lineage, 1);
	assert_null(find_edge(f, CG, EDGE_TOOL, "/usr/bin/python3"));

	/* the root exec made the host workload's epoch: "<basename>@<file id>";
	 * the child's exec (its parent is in the cgroup) did not replace it */
	assert_int_equal(pipeline_resolve_identity(&f->p, &c, UID, &id), 0);
	assert_int_equal(id.state, IDENTITY_RESOLVED);
	assert_string_equal(id.name, "host/test");
	assert_memory_equal(id.image_id, "python3@", 8);
	assert_int_equal(strlen(id.image_id), strlen("python3@") + 12);
	/* a declared epoch wins over it */
	assert_int_equal(pipeline_set_epoch(&f->p, "host/test", "v2.1"), 0);
	assert_int_equal(pipeline_resolve_identity(&f->p, &c, UID, &id), 0);
	assert_string_equal(id.image_id, "v2.1");
	epoch = hmap_get(f->p.epochs, "host/test");
	assert_string_equal(epoch, "v2.1");

	/* exit: gone from the tree and from TLS coverage */
	{
		struct reach_exit_event ex = { 0 };

		fill_hdr(&ex.hdr, REACH_EV_EXIT, sizeof(ex), CG, T_CHILD, T_PARENT);
		assert_int_equal(feed(f, &ex, sizeof(ex)), 0);
	}
	assert_int_equal(f->p.stats.events[REACH_EV_EXIT], 1);
	assert_int_equal(f->k.exits, 1);
	assert_int_equal(f->k.exit_tgid, T_CHILD);
	assert_false(proctree_in_cgroup(f->p.procs, T_CHILD, CG));
	assert_true(proctree_in_cgroup(f->p.procs, T_PARENT, CG));
}

/* Host epochs' artifacts (reach/artifact.h): the root exec's file is
 * handed to the hasher (here the process is gone, so the same path in the
 * agent's view, since its inode and mtime are the exec'd file's); the
 * epoch names it, and so does a version declared while it runs; a file
 * that is not the one exec'd (another mtime) is skipped and counted. */
static void test_epoch_artifacts(void **state)
{
	struct fx *f = *state;
	struct cgroup_reach c = { .cgroup_id = CG, .path = "?" };
	struct reach_exec_event ev = { 0 };
	struct identity id;
	struct artifact a;
	struct stat st;
	char path[240], epoch[sizeof(id.image_id)];

	assert_non_null(f->p.artifacts = artifact_hasher_new(0));
	snprintf(path, sizeof(path), "%.200s/svc", f->dir);
	write_text(path, "abc");
	assert_int_equal(stat(path, &st), 0);
	fill_hdr(&ev.hdr, REACH_EV_EXEC, sizeof(ev), CG, T_GONE, T_OTHER);
	key_of(&ev.key, CG, REACH_EV_EXEC, 0x3000);
	snprintf(ev.filename, sizeof(ev.filename), "%s", path);
	memcpy(ev.args, "svc", 4);
	ev.args_len = 4;
	ev.argc = 1;
	ev.exe_ino = st.st_ino;
	ev.exe_mtime_sec = st.st_mtim.tv_sec;
	ev.exe_mtime_nsec = (uint64_t)st.st_mtim.tv_nsec;
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
	assert_int_equal(artifact_hasher_drain(f->p.artifacts, 30000), 0);

	assert_int_equal(pipeline_resolve_identity(&f->p, &c, UID, &id), 0);
	assert_memory_equal(id.image_id, "svc@", 4);
	snprintf(epoch, sizeof(epoch), "%s", id.image_id);
	assert_int_equal(pipeline_epoch_artifact(&f->p, "host/test", epoch, &a), 0);
	assert_string_equal(a.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(a.kind, ARTIFACT_EXECUTABLE);
	/* a declared version: the file its root process runs under it */
	assert_int_equal(pipeline_set_epoch(&f->p, "host/test", "v3"), 0);
	assert_int_equal(pipeline_resolve_identity(&f->p, &c, UID, &id), 0);
	assert_string_equal(id.image_id, "v3");
	assert_int_equal(pipeline_epoch_artifact(&f->p, "host/test", "v3", &a), 0);
	assert_int_equal(a.size, 3);
	assert_int_equal(pipeline_epoch_artifact(&f->p, "host/test", "v9", &a), -ENOENT);
	assert_int_equal(pipeline_epoch_artifact(&f->p, "host/test", "", &a), -ENOENT);
	assert_int_equal(artifact_hasher_skipped(f->p.artifacts), 0);

	/* another cgroup's root exec of a file that is not the one at the path
	 * now (replaced since: another mtime): not hashed, counted */
	fill_hdr(&ev.hdr, REACH_EV_EXEC, sizeof(ev), CG + 1, T_GONE, T_OTHER);
	key_of(&ev.key, CG + 1, REACH_EV_EXEC, 0x3001);
	ev.exe_mtime_sec = st.st_mtim.tv_sec - 100;
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
	assert_int_equal(artifact_hasher_drain(f->p.artifacts, 30000), 0);
	assert_int_equal(artifact_hasher_skipped(f->p.artifacts), 1);

	/* a version declared on a pod: the image its container runs */
	{
		struct identity *pod = calloc(1, sizeof(*pod));
		struct cgroup_reach pc = { .cgroup_id = CG + 2, .path = "?" };
		char key[48];

		assert_non_null(pod);
		pod->state = IDENTITY_RESOLVED;
		snprintf(pod->name, sizeof(pod->name), "ai/gateway");
		snprintf(pod->pod, sizeof(pod->pod), "gateway-0");
		snprintf(pod->image_id, sizeof(pod->image_id),
			 "docker.io/ai/gateway@sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		snprintf(key, sizeof(key), "%" PRIu64 "/%u", pc.cgroup_id, UID);
		assert_int_equal(hmap_put(f->p.identity_cache, key, pod, NULL), 0);
		assert_int_equal(pipeline_set_epoch(&f->p, "ai/gateway", "v5"), 0);
		assert_int_equal(pipeline_resolve_identity(&f->p, &pc, UID, &id), 0);
		assert_string_equal(id.image_id, "v5");
		assert_int_equal(pipeline_epoch_artifact(&f->p, "ai/gateway", "v5", &a), 0);
		assert_int_equal(a.kind, ARTIFACT_IMAGE);
		assert_string_equal(a.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	}
	artifact_hasher_free(f->p.artifacts);
	f->p.artifacts = NULL;
}

static void test_exec_args_truncated(void **state)
{
	struct fx *f = *state;
	struct reach_exec_event ev = { 0 };
	const struct edge *e;
	size_t off = 0;

	/* more words than an edge keeps: truncated */
	fill_hdr(&ev.hdr, REACH_EV_EXEC, sizeof(ev), CG, T_PARENT, T_OTHER);
	key_of(&ev.key, CG, REACH_EV_EXEC, 0x99);
	snprintf(ev.filename, sizeof(ev.filename), "/bin/echo");
	for (int i = 0; i < EDGE_MAX_ARGS + 3; i++) {
		ev.args[off] = 'a';
		ev.args[off + 1] = '\0';
		off += 2;
	}
	ev.args_len = (uint16_t)off;
	ev.exe_ino = 5;
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
	e = find_edge(f, CG, EDGE_TOOL, "/bin/echo");
	assert_non_null(e);
	assert_int_equal(e->argc, EDGE_MAX_ARGS);
	assert_true(e->argv_truncated);

	/* the kernel said it cut the args */
	memset(&ev, 0, sizeof(ev));
	fill_hdr(&ev.hdr, REACH_EV_EXEC, sizeof(ev), CG, T_CHILD, T_PARENT);
	key_of(&ev.key, CG, REACH_EV_EXEC, 0x98);
	snprintf(ev.filename, sizeof(ev.filename), "/bin/true");
	memcpy(ev.args, "true", 5);
	ev.args_len = 5;
	ev.flags = REACH_EXEC_F_ARGS_TRUNC;
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
	e = find_edge(f, CG, EDGE_TOOL, "/bin/true");
	assert_non_null(e);
	assert_int_equal(e->argc, 1);
	assert_true(e->argv_truncated);
}

/* ---- egress, DNS, TLS coverage ------------------------------------------ */

static void test_egress_outcomes_and_udp(void **state)
{
	struct fx *f = *state;
	const struct edge *e;

	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/curl", no_args, 1);
	egress_event(f, CG, T_PARENT, REACH_AF_INET, REACH_PROTO_TCP, REACH_OUT_REFUSED, "93.184.216.34", 80);
	egress_event(f, CG, T_PARENT, REACH_AF_INET, REACH_PROTO_TCP, REACH_OUT_TIMEDOUT, "10.1.2.3", 5432);
	egress_event(f, CG, T_PARENT, REACH_AF_INET6, REACH_PROTO_UDP, REACH_OUT_SENT, "2001:db8::7", 53);
	egress_event(f, CG, T_PARENT, REACH_AF_INET6, REACH_PROTO_TCP, REACH_OUT_FAILED, "::ffff:192.0.2.9", 22);

	assert_int_equal(f->p.stats.events[REACH_EV_EGRESS], 4);
	assert_int_equal(f->p.stats.malformed_events, 0);
	e = find_edge(f, CG, EDGE_EGRESS, "tcp/93.184.216.34/80");
	assert_non_null(e);
	assert_int_equal(e->proto, REACH_PROTO_TCP);
	assert_int_equal(e->port, 80);
	assert_int_equal(e->source_port, 40000);
	assert_string_equal(e->address, "93.184.216.34");
	assert_null(e->name);
	assert_string_equal(e->dest_class, "external");
	assert_int_equal(e->first_src.tag, REACH_OUT_REFUSED);
	assert_string_equal(e->proc->exe, "/usr/bin/curl");
	e = find_edge(f, CG, EDGE_EGRESS, "tcp/10.1.2.3/5432");
	assert_non_null(e);
	assert_string_equal(e->dest_class, "cluster");
	assert_int_equal(e->first_src.tag, REACH_OUT_TIMEDOUT);
	e = find_edge(f, CG, EDGE_EGRESS, "udp/2001:db8::7/53");
	assert_non_null(e);
	assert_int_equal(e->proto, REACH_PROTO_UDP);
	assert_int_equal(e->first_src.tag, REACH_OUT_SENT);
	/* v4-mapped v6 is v4 */
	e = find_edge(f, CG, EDGE_EGRESS, "tcp/192.0.2.9/22");
	assert_non_null(e);
	assert_int_equal(e->first_src.tag, REACH_OUT_FAILED);
	/* none of them is TLS: no coverage edge, no library asked */
	assert_int_equal(f->k.library_calls, 0);
	assert_int_equal(n_edges(f, CG), 5);

	/* malformed: unknown family, protocol, outcome */
	egress_event(f, CG, T_PARENT, 7, REACH_PROTO_TCP, REACH_OUT_SENT, NULL, 1);
	egress_event(f, CG, T_PARENT, REACH_AF_INET, 99, REACH_OUT_SENT, "192.0.2.1", 1);
	egress_event(f, CG, T_PARENT, REACH_AF_INET, REACH_PROTO_TCP, REACH_OUT__MAX, "192.0.2.1", 1);
	assert_int_equal(f->p.stats.malformed_events, 3);
	assert_int_equal(f->p.stats.events[REACH_EV_EGRESS], 7);
	assert_int_equal(n_edges(f, CG), 5);
}

static void test_tls_coverage_covered_and_blind(void **state)
{
	struct fx *f = *state;
	const struct edge *e;

	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/python3", no_args, 1);
	f->k.library = "openssl";
	egress_event(f, CG, T_PARENT, REACH_AF_INET, REACH_PROTO_TCP, REACH_OUT_ESTABLISHED, "93.184.216.34", 443);
	e = find_edge(f, CG, EDGE_TLS, "/usr/bin/python3");
	assert_non_null(e);
	assert_string_equal(e->category, "openssl");
	assert_string_equal(e->dest_class, "covered");
	assert_int_equal(f->p.tls_blind_edges, 0);
	assert_int_equal(f->k.library_calls, 1);

	/* a Go binary: blind, with the reason */
	exec_event(f, CG2, T_CHILD, T_OTHER, "/app/server", no_args, 2);
	f->k.library = NULL;
	f->k.why = "Go crypto/tls";
	egress_event(f, CG2, T_CHILD, REACH_AF_INET, REACH_PROTO_TCP, REACH_OUT_ESTABLISHED, "93.184.216.34", 8443);
	e = find_edge(f, CG2, EDGE_TLS, "/app/server");
	assert_non_null(e);
	assert_string_equal(e->category, "none");
	assert_string_equal(e->dest_class, "tls-blind");
	assert_string_equal(edge_detail(e), "Go crypto/tls");
	assert_int_equal(f->p.tls_blind_edges, 1);
	/* again: the same edge, counted once */
	egress_event(f, CG2, T_CHILD, REACH_AF_INET, REACH_PROTO_TCP, REACH_OUT_ESTABLISHED, "93.184.216.35", 443);
	assert_int_equal(f->p.tls_blind_edges, 1);

	/* a process unknown to the tree: named by its comm */
	egress_event(f, CG2, T_GONE, REACH_AF_INET, REACH_PROTO_TCP, REACH_OUT_ESTABLISHED, "93.184.216.34", 6443);
	assert_non_null(find_edge(f, CG2, EDGE_TLS, "comm-99"));

	/* without TLS coverage wired: no coverage edges at all */
	f->p.tls = NULL;
	egress_event(f, CG, T_PARENT, REACH_AF_INET, REACH_PROTO_TCP, REACH_OUT_ESTABLISHED, "93.184.216.36", 9443);
	assert_non_null(find_edge(f, CG, EDGE_EGRESS, "tcp/93.184.216.36/9443"));
	assert_int_equal(f->k.library_calls, 4);
}


/* ---- coverage: the kernel's per-cgroup losses and blind roads, per identity ---- */

struct fake_losses {
	struct { uint64_t cg; uint32_t uid; struct reach_loss_counters c; } rows[4];
	size_t n;
	size_t n_quiet;     /* more entries, cgroups 1..n_quiet, nothing lost (yet) */
	struct reach_loss_counters unattributed;
	int rc, calls;
	size_t forgotten;
	uint64_t forgot_last;
};

static int fake_each_cgroup(void *ctx, pipeline_loss_fn fn, void *fn_ctx)
{
	struct fake_losses *l = ctx;
	static const struct reach_loss_counters zero;

	l->calls++;
	if (l->rc)
		return l->rc;
	for (size_t i = 0; i < l->n; i++)
		fn(fn_ctx, l->rows[i].cg, l->rows[i].uid, &l->rows[i].c);
	for (size_t i = 1; i <= l->n_quiet; i++)
		fn(fn_ctx, i, 0, &zero);
	return 0;
}

static int fake_forget(void *ctx, uint64_t cg, uint32_t uid)
{
	struct fake_losses *l = ctx;

	(void)uid;
	l->forgotten++;
	l->forgot_last = cg;
	return 0;
}

/* the quiet cgroups with an even id were removed; CG too */
static int fake_exists(void *ctx, uint64_t cg)
{
	(void)ctx;
	if (cg == CG)
		return 0;
	return cg > 0x10000 || cg % 2;
}

static int fake_unattributed(void *ctx, struct reach_loss_counters *sum)
{
	*sum = ((struct fake_losses *)ctx)->unattributed;
	return 0;
}

static const struct pipeline_loss_ops fake_loss_ops = { .each_cgroup = fake_each_cgroup,
							.unattributed = fake_unattributed };
static const struct pipeline_loss_ops fake_loss_ops_sweeping = {
	.each_cgroup = fake_each_cgroup, .unattributed = fake_unattributed, .forget = fake_forget,
	.cgroup_exists = fake_exists,
};

static const struct coverage *coverage_of(struct fx *f, const char *identity)
{
	const struct ledger_identity *id = ledger_identity_find(f->ledger, identity);

	return id ? id->coverage : NULL;
}

static void test_coverage_to_the_ledger(void **state)
{
	struct fx *f = *state;
	struct fake_losses l = { 0 };
	const struct coverage *a, *b;

	assert_int_equal(identity_add_rule(f->resolver, "uid:4243 host/second"), 0);
	assert_int_equal(pipeline_set_epoch(&f->p, "host/test", "v7"), 0); /* what a pipeline declared */
	f->p.losses = &fake_loss_ops;
	f->p.losses_ctx = &l;
	/* host/test (CG, UID) flooded; host/second (CG2, 4243) lost a command line only */
	l.rows[0].cg = CG;
	l.rows[0].uid = UID;
	l.rows[0].c.counters[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL] = 10;
	l.rows[0].c.counters[REACH_EV_EXEC][REACH_LOSS_RINGBUF_FULL] = 1;
	l.rows[1].cg = CG2;
	l.rows[1].uid = 4243;
	l.rows[1].c.counters[REACH_EV_EXEC][REACH_LOSS_TRUNCATED] = 2;
	l.n = 2;
	pipeline_refresh_counts(&f->p);
	assert_int_equal(l.calls, 1);
	assert_null(coverage_of(f, "host/test")); /* in the ledger at the feed, like edges */
	pipeline_feed_ledger(&f->p);
	a = coverage_of(f, "host/test");
	b = coverage_of(f, "host/second");
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 10);
	assert_int_equal(a->losses[REACH_EV_EXEC][REACH_LOSS_RINGBUF_FULL], 1);
	assert_true(coverage_has_gaps(a));
	assert_int_equal(b->losses[REACH_EV_EXEC][REACH_LOSS_TRUNCATED], 2);
	assert_false(coverage_has_gaps(b));
	/* each record under the epoch its identity's edges get */
	assert_int_equal(ledger_identity_find(f->ledger, "host/test")->n_by_epoch, 1);
	assert_string_equal(ledger_identity_find(f->ledger, "host/test")->by_epoch[0]->epoch, "v7");
	assert_string_equal(ledger_identity_find(f->ledger, "host/second")->by_epoch[0]->epoch, "");
	assert_null(ledger_node_coverage(f->ledger));

	/* the kernel's counters are totals: only what grew is added */
	pipeline_refresh_counts(&f->p);
	pipeline_feed_ledger(&f->p);
	assert_int_equal(coverage_of(f, "host/test")->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 10);
	l.rows[0].c.counters[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL] = 25;
	pipeline_refresh_counts(&f->p);
	pipeline_feed_ledger(&f->p);
	assert_int_equal(coverage_of(f, "host/test")->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 25);
	assert_int_equal(coverage_of(f, "host/second")->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 0);

	/* unattributed losses: the node's record at once */
	l.unattributed.counters[REACH_EV_EGRESS][REACH_LOSS_RINGBUF_FULL] = 3;
	pipeline_refresh_counts(&f->p);
	assert_non_null(ledger_node_coverage(f->ledger));
	assert_int_equal(ledger_node_coverage(f->ledger)->losses[REACH_EV_EGRESS][REACH_LOSS_RINGBUF_FULL], 3);
	pipeline_refresh_counts(&f->p);
	assert_int_equal(ledger_node_coverage(f->ledger)->losses[REACH_EV_EGRESS][REACH_LOSS_RINGBUF_FULL], 3);

	/* a read that fails changes nothing and is survived */
	l.rc = -EPERM;
	l.rows[0].c.counters[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL] = 99;
	pipeline_refresh_counts(&f->p);
	pipeline_feed_ledger(&f->p);
	assert_int_equal(coverage_of(f, "host/test")->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 25);
	l.rc = 0;
	pipeline_refresh_counts(&f->p);
	pipeline_feed_ledger(&f->p);
	assert_int_equal(coverage_of(f, "host/test")->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 99);

	/* a tls-blind process is a blind road of its identity, once */
	exec_event(f, CG2, T_CHILD, T_OTHER, "/app/server", no_args, 2);
	f->k.library = NULL;
	f->k.why = "Go crypto/tls";
	egress_event(f, CG2, T_CHILD, REACH_AF_INET, REACH_PROTO_TCP, REACH_OUT_ESTABLISHED, "93.184.216.34", 443);
	egress_event(f, CG2, T_CHILD, REACH_AF_INET, REACH_PROTO_TCP, REACH_OUT_ESTABLISHED, "93.184.216.35", 443);
	pipeline_feed_ledger(&f->p);
	/* the event's uid is UID: host/test's road, not host/second's */
	a = coverage_of(f, "host/test");
	assert_int_equal(a->n_roads, 1);
	assert_string_equal(a->roads[0].road, "tls-blind");
	assert_string_equal(a->roads[0].detail, "/app/server: Go crypto/tls");
	assert_int_equal(a->roads[0].count, 1);
	assert_int_equal(coverage_of(f, "host/second")->n_roads, 0);
	/* fed once: a second feed adds nothing */
	pipeline_feed_ledger(&f->p);
	assert_int_equal(coverage_of(f, "host/test")->roads[0].count, 1);
}

/* Files a process already held when reach first saw it: as it entered a
 * monitored cgroup (a process the tree knows: named by it) and when reach
 * started (a process no event named and /proc cannot: left unnamed, known,
 * so no later /proc look-up names it after another program). */
static void test_held_files(void **state)
{
	struct fx *f = *state;
	struct reach_file_open_event ev = { 0 };
	const struct edge *e;

	exec_event(f, CG, T_CHILD, T_OTHER, "/app/held", no_args, 2);
	fill_hdr(&ev.hdr, REACH_EV_FILE_VIA, sizeof(ev), CG, T_CHILD, 1);
	key_of(&ev.key, CG, REACH_EV_FILE_VIA, 0x7101);
	ev.fd = 3;
	ev.dirfd = -1;
	ev.flags = REACH_OPEN_F_ENTERED;
	snprintf(ev.resolved, sizeof(ev.resolved), "%s", f->secret);
	ev.resolved_len = (uint16_t)strlen(f->secret);
	ev.inode.ino = 0x7101;
	ev.inode.dev = 0x801;
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
	e = find_edge(f, CG, EDGE_SECRET, f->secret);
	assert_non_null(e);
	assert_string_equal(e->requested_path, "(held on entering the cgroup)");
	assert_string_equal(proctree_exe(f->p.procs, T_CHILD), "/app/held");

	fill_hdr(&ev.hdr, REACH_EV_FILE_VIA, sizeof(ev), CG2, T_GONE, 1);
	key_of(&ev.key, CG2, REACH_EV_FILE_VIA, 0x7102);
	ev.flags = REACH_OPEN_F_AT_START;
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
	e = find_edge(f, CG2, EDGE_SECRET, f->secret);
	assert_non_null(e);
	assert_string_equal(e->requested_path, "(held when reach started)");
	assert_true(proctree_known(f->p.procs, T_GONE));
	assert_string_equal(proctree_exe(f->p.procs, T_GONE), "");
	assert_int_equal(f->p.stats.events[REACH_EV_FILE_VIA], 2);
}

/* Files reached without an open(2) (io_uring, a received descriptor) are
 * secret edges under the real file, named by how they arrived; a road the
 * kernel cannot decode is the identity's blind road. */
static void test_file_via_and_roads(void **state)
{
	struct fx *f = *state;
	struct reach_file_open_event ev = { 0 };
	struct reach_road_event road = { 0 };
	const struct coverage *a;
	const struct edge *e;

	exec_event(f, CG, T_CHILD, T_OTHER, "/app/ring", no_args, 2);
	fill_hdr(&ev.hdr, REACH_EV_FILE_VIA, sizeof(ev), CG, T_CHILD, 1);
	key_of(&ev.key, CG, REACH_EV_FILE_VIA, 0x7001);
	ev.fd = -1;
	ev.dirfd = -100;
	ev.syscall_nr = 18; /* IORING_OP_OPENAT */
	ev.flags = REACH_OPEN_F_URING;
	snprintf(ev.resolved, sizeof(ev.resolved), "%s", f->secret);
	ev.resolved_len = (uint16_t)strlen(f->secret);
	ev.inode.ino = 0x7001;
	ev.inode.dev = 0x801;
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
	assert_int_equal(f->p.stats.events[REACH_EV_FILE_VIA], 1);
	e = find_edge(f, CG, EDGE_SECRET, f->secret);
	assert_non_null(e);
	assert_string_equal(e->category, "test-token");
	assert_string_equal(e->requested_path, "(io_uring openat)");
	/* a descriptor taken with pidfd_getfd, by another process */
	exec_event(f, CG2, T_OTHER, 1, "/app/thief", no_args, 3);
	fill_hdr(&ev.hdr, REACH_EV_FILE_VIA, sizeof(ev), CG2, T_OTHER, 1);
	key_of(&ev.key, CG2, REACH_EV_FILE_VIA, 0x7002);
	ev.syscall_nr = 438;
	ev.flags = REACH_OPEN_F_RECEIVED;
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
	e = find_edge(f, CG2, EDGE_SECRET, f->secret);
	assert_non_null(e);
	assert_string_equal(e->requested_path, "(pidfd_getfd)");

	/* an undecoded io_uring send: the identity's blind road, named */
	fill_hdr(&road.hdr, REACH_EV_ROAD, sizeof(road), CG, T_CHILD, 1);
	key_of(&road.key, CG, REACH_EV_ROAD, 0x7003);
	road.road = REACH_ROAD_IO_URING;
	road.op = 9; /* IORING_OP_SENDMSG */
	road.detail = REACH_ROAD_D_TCP;
	assert_int_equal(feed(f, &road, sizeof(road)), 0);
	pipeline_feed_ledger(&f->p);
	a = coverage_of(f, "host/test");
	assert_non_null(a);
	assert_int_equal(a->n_roads, 1);
	assert_string_equal(a->roads[0].road, "io_uring");
	assert_string_equal(a->roads[0].detail, "/app/ring: sendmsg on a TCP socket: the bytes sent are not decoded");
	assert_true(coverage_has_gaps(a));
	/* a road this build does not know, a short one, a reserved kind:
	 * malformed, counted and skipped */
	road.road = 99;
	assert_int_equal(feed(f, &road, sizeof(road)), 0);
	assert_int_equal(f->p.stats.malformed_events, 1);
	assert_int_equal(feed(f, &road, sizeof(road.hdr) + 4), 0);
	assert_int_equal(f->p.stats.malformed_events, 2);
	road.hdr.kind = 10;
	assert_int_equal(feed(f, &road, sizeof(road)), 0);
	assert_int_equal(f->p.stats.malformed_events, 3);
	assert_int_equal(coverage_of(f, "host/test")->n_roads, 1);
}

/* The kernel's loss map is bounded: from half full on, the entries of
 * removed cgroups go, but only once their counts are in the ledger. */
static void test_coverage_forgets_removed_cgroups(void **state)
{
	struct fx *f = *state;
	struct fake_losses l = { 0 };

	f->p.losses = &fake_loss_ops_sweeping;
	f->p.losses_ctx = &l;
	l.rows[0].cg = CG; /* removed, with losses */
	l.rows[0].uid = UID;
	l.rows[0].c.counters[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL] = 4;
	l.n = 1;
	l.n_quiet = 100; /* far from half full: nothing swept */
	pipeline_refresh_counts(&f->p);
	pipeline_feed_ledger(&f->p);
	assert_int_equal(f->p.loss_entries, 101);
	assert_int_equal(l.forgotten, 0);
	l.n_quiet = REACH_LOSS_CGROUP_ENTRIES / 2;
	pipeline_refresh_counts(&f->p);
	assert_int_equal(f->p.loss_entries, REACH_LOSS_CGROUP_ENTRIES / 2 + 1);
	pipeline_feed_ledger(&f->p);
	/* the removed quiet ones (even ids) and CG, whose 4 losses were fed */
	assert_int_equal(l.forgotten, REACH_LOSS_CGROUP_ENTRIES / 4 + 1);
	assert_int_equal(f->p.loss_entries_forgotten, REACH_LOSS_CGROUP_ENTRIES / 4 + 1);
	assert_int_equal(coverage_of(f, "host/test")->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 4);
	assert_int_equal(hmap_count(f->p.cov_cgroups), REACH_LOSS_CGROUP_ENTRIES / 4);
	/* nothing double counted when a forgotten key would come back */
	l.n = 0;
	l.n_quiet = 0;
	pipeline_refresh_counts(&f->p);
	pipeline_feed_ledger(&f->p);
	assert_int_equal(coverage_of(f, "host/test")->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 4);
}

/* ---- DNS ------------------------------------------------------------------ */

struct msg {
	uint8_t b[REACH_DNS_LEN];
	size_t len;
};

static void put8(struct msg *m, uint8_t v) { m->b[m->len++] = v; }
static void put16(struct msg *m, uint16_t v) { put8(m, (uint8_t)(v >> 8)); put8(m, (uint8_t)v); }

/* A response for qname with one A answer (ttl), as the resolver sends it. */
static void dns_answer(struct msg *m, const char *qname, const uint8_t a[4], uint32_t ttl)
{
	const char *p = qname;

	m->len = 0;
	put16(m, 0x1234);
	put16(m, 0x8180);
	put16(m, 1);
	put16(m, 1);
	put16(m, 0);
	put16(m, 0);
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		put8(m, (uint8_t)l);
		memcpy(m->b + m->len, p, l);
		m->len += l;
		p += l + (dot ? 1 : 0);
	}
	put8(m, 0);
	put16(m, 1);
	put16(m, 1);
	put16(m, 0xc00c); /* the question's name */
	put16(m, 1);
	put16(m, 1);
	put16(m, (uint16_t)(ttl >> 16));
	put16(m, (uint16_t)ttl);
	put16(m, 4);
	for (int i = 0; i < 4; i++)
		put8(m, a[i]);
}

static void dns_event(struct fx *f, uint64_t cg, const void *payload, size_t len, uint16_t flags)
{
	struct reach_dns_event ev = { 0 };

	fill_hdr(&ev.hdr, REACH_EV_DNS, sizeof(ev), cg, T_PARENT, 1);
	ev.family = REACH_AF_INET;
	ev.proto = flags & REACH_DNS_F_TCP ? REACH_PROTO_TCP : REACH_PROTO_UDP;
	ev.server_port = 53;
	ev.len = (uint16_t)len;
	ev.total_len = (uint32_t)len;
	ev.flags = flags;
	memcpy(ev.payload, payload, len);
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
}

/* A ClientHello carrying server_name sni, as a TLS client writes it. */
static void hello_event(struct fx *f, uint64_t cg, const char *addr, uint16_t dport, const char *sni)
{
	struct reach_tls_hello_event ev = { 0 };
	size_t sl = strlen(sni), n = 0, ext_len = 9 + sl, body;
	uint8_t *b = ev.payload;
	struct netaddr a;

	fill_hdr(&ev.hdr, REACH_EV_TLS_HELLO, sizeof(ev), cg, T_PARENT, 1);
	key_of(&ev.key, cg, REACH_EV_TLS_HELLO, 0x4000 + dport);
	assert_int_equal(netaddr_parse(addr, &a), 0);
	ev.family = REACH_AF_INET;
	memcpy(ev.daddr, a.addr, 4);
	ev.dport = dport;
	b[n++] = 22, b[n++] = 3, b[n++] = 1, n += 2;
	b[n++] = 1, n += 3;
	b[n++] = 3, b[n++] = 3;
	memset(b + n, 0xab, 32), n += 32;
	b[n++] = 0;                                              /* no session id */
	b[n++] = 0, b[n++] = 2, b[n++] = 0x13, b[n++] = 1;       /* one suite */
	b[n++] = 1, b[n++] = 0;                                  /* null compression */
	b[n++] = (uint8_t)(ext_len >> 8), b[n++] = (uint8_t)ext_len;
	b[n++] = 0, b[n++] = 0;                                  /* server_name */
	b[n++] = (uint8_t)((sl + 5) >> 8), b[n++] = (uint8_t)(sl + 5);
	b[n++] = (uint8_t)((sl + 3) >> 8), b[n++] = (uint8_t)(sl + 3);
	b[n++] = 0, b[n++] = (uint8_t)(sl >> 8), b[n++] = (uint8_t)sl;
	memcpy(b + n, sni, sl), n += sl;
	body = n - 9;
	b[3] = (uint8_t)((n - 5) >> 8), b[4] = (uint8_t)(n - 5);
	b[6] = 0, b[7] = (uint8_t)(body >> 8), b[8] = (uint8_t)body;
	ev.len = (uint32_t)n;
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
}

/* A ClientHello is judged by when it was sent: a process whose library was
 * probed only after (the race between a program's start and the attach)
 * gets its own tls-blind coverage edge and a blind road, while the exe's
 * covered edge, made by a connection that began after the probe, stays. A
 * connect to a TLS port is not judged by time (the hello is). */
static void test_tls_before_probe_is_blind(void **state)
{
	struct fx *f = *state;
	const struct edge *e;
	const struct coverage *a;

	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/node", no_args, 1);
	f->k.library = "openssl (in the executable)";
	egress_event(f, CG, T_PARENT, REACH_AF_INET, REACH_PROTO_TCP, REACH_OUT_ESTABLISHED, "203.0.113.9", 443);
	assert_int_equal(f->k.last_since_ns, 0);
	e = find_edge(f, CG, EDGE_TLS, "/usr/bin/node");
	assert_non_null(e);
	assert_string_equal(e->dest_class, "covered");

	f->k.late_ms = 42;
	f->k.why = "began before the probe";
	hello_event(f, CG, "203.0.113.9", 443, "api.example.com");
	assert_int_not_equal(f->k.last_since_ns, 0); /* the hello's own time was asked about */
	e = find_edge(f, CG, EDGE_TLS, "/usr/bin/node (TLS before its probe)");
	assert_non_null(e);
	assert_string_equal(e->dest_class, "tls-blind");
	assert_string_equal(e->category, "openssl (in the executable)");
	assert_string_equal(edge_detail(e), "began before the probe (probed 42 ms after the connection began)");
	assert_string_equal(find_edge(f, CG, EDGE_TLS, "/usr/bin/node")->dest_class, "covered");
	assert_int_equal(f->p.stats.tls_before_probe, 1);
	assert_int_equal(f->p.tls_blind_edges, 1);
	pipeline_feed_ledger(&f->p);
	a = coverage_of(f, "host/test");
	assert_int_equal(a->n_roads, 1);
	assert_string_equal(a->roads[0].road, "tls-blind");
	assert_string_equal(a->roads[0].detail, "/usr/bin/node (TLS before its probe): began before the probe (probed "
						"42 ms after the connection began)");

	/* a hello after the probe: covered, nothing new */
	f->k.late_ms = 0;
	hello_event(f, CG, "203.0.113.10", 443, "api2.example.com");
	assert_int_equal(f->p.stats.tls_before_probe, 1);
	assert_int_equal(f->p.tls_blind_edges, 1);
}

/* An egress edge made at connect() to a bare address is named by the SNI of
 * the ClientHello sent on it (name_source sni); a DNS name stays the name,
 * with name_source dns; later connections to the address take the SNI name. */
static void test_sni_names_egress(void **state)
{
	struct fx *f = *state;
	const struct edge *e;
	struct msg m;
	struct netaddr a;

	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/curl", no_args, 1);
	egress_event(f, CG, T_PARENT, REACH_AF_INET, REACH_PROTO_TCP, REACH_OUT_ESTABLISHED, "203.0.113.9", 8444);
	e = find_edge(f, CG, EDGE_EGRESS, "tcp/203.0.113.9/8444");
	assert_non_null(e);
	assert_null(e->name);
	assert_int_equal(e->name_source, NAME_SOURCE_NONE);
	hello_event(f, CG, "203.0.113.9", 8444, "svc.example.net");
	assert_int_equal(f->p.stats.tls_hello_sni, 1);
	assert_int_equal(f->p.stats.tls_hello_sni_named, 1);
	assert_string_equal(e->name, "svc.example.net");
	assert_int_equal(e->name_source, NAME_SOURCE_SNI);
	assert_int_equal(netaddr_parse("203.0.113.9", &a), 0);
	assert_int_equal(dnsnames_source(f->p.dns, CG, &a), NAME_SOURCE_SNI);
	/* a second hello to a named edge names nothing more */
	hello_event(f, CG, "203.0.113.9", 8444, "other.example.net");
	assert_int_equal(f->p.stats.tls_hello_sni_named, 1);
	assert_string_equal(e->name, "svc.example.net");
	/* a new connection to the address (another port) is named at connect() */
	egress_event(f, CG, T_PARENT, REACH_AF_INET, REACH_PROTO_TCP, REACH_OUT_ESTABLISHED, "203.0.113.9", 9444);
	e = find_edge(f, CG, EDGE_EGRESS, "tcp/203.0.113.9/9444");
	assert_non_null(e);
	assert_string_equal(e->name, "svc.example.net");
	assert_int_equal(e->name_source, NAME_SOURCE_SNI);
	assert_int_equal(f->p.stats.tls_hello_sni_named, 2);

	/* DNS first: the resolver's name stays, its source dns */
	dns_answer(&m, "api.example.com", (const uint8_t[]){ 198, 51, 100, 9 }, 300);
	dns_event(f, CG, m.b, m.len, 0);
	egress_event(f, CG, T_PARENT, REACH_AF_INET, REACH_PROTO_TCP, REACH_OUT_ESTABLISHED, "198.51.100.9", 443);
	hello_event(f, CG, "198.51.100.9", 443, "spoofed.example.org");
	e = find_edge(f, CG, EDGE_EGRESS, "tcp/198.51.100.9/443");
	assert_non_null(e);
	assert_string_equal(e->name, "api.example.com");
	assert_int_equal(e->name_source, NAME_SOURCE_DNS);
	assert_int_equal(f->p.stats.tls_hello_sni_named, 2);
	/* another cgroup's hello names nothing of this one's */
	hello_event(f, CG2, "203.0.113.10", 443, "x.example.net");
	assert_int_equal(f->p.stats.tls_hello_sni_named, 2);
}

static void test_dns_names_egress(void **state)
{
	struct fx *f = *state;
	const uint8_t ip[4] = { 198, 51, 100, 7 };
	struct msg m;
	const struct edge *e;
	struct netaddr a;
	uint32_t ttl = 0;
	uint8_t tcp[REACH_DNS_LEN];

	dns_answer(&m, "api.example.com", ip, 300);
	dns_event(f, CG, m.b, m.len, 0);
	assert_int_equal(f->p.stats.events[REACH_EV_DNS], 1);
	assert_int_equal(f->p.stats.dns_responses, 1);
	assert_int_equal(netaddr_parse("198.51.100.7", &a), 0);
	assert_string_equal(dnsnames_get(f->p.dns, CG, &a, &ttl), "api.example.com");
	assert_int_equal(ttl, 300);
	assert_null(dnsnames_get(f->p.dns, CG2, &a, &ttl)); /* per cgroup */

	/* the egress edge to that address carries the name */
	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/curl", no_args, 1);
	egress_event(f, CG, T_PARENT, REACH_AF_INET, REACH_PROTO_TCP, REACH_OUT_REFUSED, "198.51.100.7", 8080);
	e = find_edge(f, CG, EDGE_EGRESS, "tcp/198.51.100.7/8080");
	assert_non_null(e);
	assert_string_equal(e->name, "api.example.com");
	assert_int_equal(e->name_ttl, 300);
	assert_string_equal(e->address, "198.51.100.7");

	/* over TCP: the 2-byte length prefix first */
	dns_answer(&m, "db.example.org", (const uint8_t[]){ 198, 51, 100, 8 }, 60);
	tcp[0] = (uint8_t)(m.len >> 8);
	tcp[1] = (uint8_t)m.len;
	memcpy(tcp + 2, m.b, m.len);
	dns_event(f, CG, tcp, m.len + 2, REACH_DNS_F_TCP);
	assert_int_equal(f->p.stats.dns_responses, 2);
	assert_int_equal(netaddr_parse("198.51.100.8", &a), 0);
	assert_string_equal(dnsnames_get(f->p.dns, CG, &a, &ttl), "db.example.org");

	/* truncated answers are skipped, not guessed; garbage is counted */
	dns_event(f, CG, m.b, m.len, REACH_DNS_F_TRUNC);
	assert_int_equal(f->p.stats.dns_truncated, 1);
	dns_event(f, CG, tcp, 1, REACH_DNS_F_TCP);
	assert_int_equal(f->p.stats.dns_malformed, 1);
	dns_event(f, CG, "\x01\x02\x03", 3, 0);
	assert_int_equal(f->p.stats.dns_malformed, 2);
	assert_int_equal(f->p.stats.dns_responses, 2);
	assert_int_equal(f->p.stats.events[REACH_EV_DNS], 5);
}

/* ---- HTTP/2: frames decoded per connection ---------------------------------- */

static void h2_frame_event(struct fx *f, uint64_t conn, uint32_t seq, uint8_t flags, uint32_t stream,
			   const uint8_t *block, size_t len)
{
	struct reach_h2_frame_event ev = { 0 };

	fill_hdr(&ev.hdr, REACH_EV_H2_FRAME, sizeof(ev), CG, T_PARENT, 1);
	ev.source = REACH_HTTP_OPENSSL;
	ev.flags = flags;
	ev.frame_type = 0x1;
	ev.frame_flags = 0x5; /* END_STREAM | END_HEADERS */
	ev.stream_id = stream;
	ev.frame_len = ev.len = (uint32_t)len;
	ev.seq = seq;
	ev.conn = conn;
	memcpy(ev.payload, block, len);
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
}

/* An HTTP/2 request gives the credential edge HTTP/1 would (proto h2, no
 * road); a connection with a piece missing is the road http2-undecoded. */
static void test_h2_credential_and_lost_connection(void **state)
{
	struct fx *f = *state;
	static const char bearer[] = "Bearer " TOKEN;
	uint8_t block[256];
	size_t n = 0;
	const struct edge *e;
	const struct coverage *cov;
	char fp[17], object[256];

	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/curl", no_args, 1);
	/* :method GET, :scheme https, :path /v1/models (literal), :authority
	 * api.example.com (literal, indexed), authorization (never indexed) */
	block[n++] = 0x82;
	block[n++] = 0x87;
	block[n++] = 0x04;
	block[n++] = 10;
	memcpy(block + n, "/v1/models", 10);
	n += 10;
	block[n++] = 0x41;
	block[n++] = 15;
	memcpy(block + n, "api.example.com", 15);
	n += 15;
	block[n++] = 0x10;
	block[n++] = 13;
	memcpy(block + n, "authorization", 13);
	n += 13;
	block[n++] = (uint8_t)strlen(bearer);
	memcpy(block + n, bearer, strlen(bearer));
	n += strlen(bearer);
	h2_frame_event(f, 0xabc, 0, REACH_H2_F_PREFACE, 1, block, n);
	/* the second request refers to the first's :authority entry (0xbe) */
	h2_frame_event(f, 0xabc, 1, 0, 3, (const uint8_t[]){ 0x82, 0x87, 0x84, 0xbe }, 4);
	assert_int_equal(f->p.stats.h2_requests, 2);
	assert_int_equal(f->p.stats.h2_undecodable, 0);
	fp_compute(&f->p.fp_key, TOKEN, strlen(TOKEN), fp);
	snprintf(object, sizeof(object), "api.example.com GET /v1/models bearer fp:%s", fp);
	e = find_edge(f, CG, EDGE_CREDENTIAL, object);
	assert_non_null(e);
	assert_string_equal(edge_cred(e)->proto, "h2");
	assert_string_equal(edge_cred(e)->source, "openssl");
	assert_string_equal(edge_cred(e)->where, "authorization");
	assert_string_equal(e->category, "h2");
	pipeline_feed_ledger(&f->p);
	cov = coverage_of(f, "host/test");
	assert_true(cov == NULL || cov->n_roads == 0);

	/* another connection: seq 1 never came */
	h2_frame_event(f, 0xdef, 0, REACH_H2_F_PREFACE, 1, block, n);
	h2_frame_event(f, 0xdef, 2, 0, 5, (const uint8_t[]){ 0x82, 0x87, 0x84, 0xbe }, 4);
	assert_int_equal(f->p.stats.h2_undecodable, 1);
	assert_non_null(find_edge(f, CG, EDGE_TLS, "/usr/bin/curl (http/2)"));
	pipeline_feed_ledger(&f->p);
	cov = coverage_of(f, "host/test");
	assert_non_null(cov);
	assert_int_equal(cov->n_roads, 1);
	assert_string_equal(cov->roads[0].road, "http2-undecoded");
	assert_non_null(strstr(cov->roads[0].detail, "a frame missing"));
}

/* ---- HTTP: credentials ---------------------------------------------------- */

static void test_http_plaintext_credential(void **state)
{
	struct fx *f = *state;
	const struct edge *e;
	const struct edge_credential *c;
	char fp[17], object[256];

	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/curl", no_args, 1);
	http_event(f, CG, T_PARENT, REACH_HTTP_PLAINTEXT,
		   "GET /v1/items/42 HTTP/1.1\r\nHost: api.example.com:8080\r\nAuthorization: Bearer " TOKEN "\r\n\r\n", 8080);
	assert_int_equal(f->p.stats.events[REACH_EV_HTTP], 1);
	assert_int_equal(f->p.stats.http_requests, 1);
	assert_int_equal(f->p.stats.http_malformed, 0);
	fp_compute(&f->p.fp_key, TOKEN, strlen(TOKEN), fp);
	snprintf(object, sizeof(object), "api.example.com:8080 GET /v1/items/{id} bearer fp:%s", fp);
	e = find_edge(f, CG, EDGE_CREDENTIAL, object);
	if (!e) { /* say what there is */
		const struct cgroup_reach *cr = observed_cgroup(f->p.observed, CG);

		for (size_t i = 0; cr && i < cr->n_edges; i++)
			print_message("edge %d %s\n", cr->edges[i]->kind, cr->edges[i]->object);
	}
	assert_non_null(e);
	c = edge_cred(e);
	assert_non_null(c);
	assert_string_equal(c->method, "GET");
	assert_string_equal(c->path_template, "/v1/items/{id}");
	assert_string_equal(c->host, "api.example.com:8080");
	assert_string_equal(c->kind, "bearer");
	assert_string_equal(c->where, "authorization");
	assert_string_equal(c->fingerprint, fp);
	assert_string_equal(c->source, "plaintext");
	assert_string_equal(c->special, "");
	assert_int_equal(e->port, 8080);
	assert_string_equal(e->name, "api.example.com:8080");
	assert_string_equal(e->proc->exe, "/usr/bin/curl");
	/* plaintext is no TLS: no coverage edge */
	assert_int_equal(f->k.library_calls, 0);
	assert_int_equal(n_edges(f, CG), 2);

	/* no Host header: the connected destination names it */
	{
		struct reach_http_event ev = { 0 };
		const char *head = "GET /x HTTP/1.1\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n";
		struct netaddr a;

		fill_hdr(&ev.hdr, REACH_EV_HTTP, sizeof(ev), CG, T_PARENT, 1);
		ev.source = REACH_HTTP_PLAINTEXT;
		ev.family = REACH_AF_INET;
		ev.dport = 80;
		assert_int_equal(netaddr_parse("192.0.2.80", &a), 0);
		memcpy(ev.daddr, a.addr, 4);
		ev.len = (uint32_t)strlen(head);
		memcpy(ev.payload, head, ev.len);
		assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
	}
	assert_int_equal(n_edges(f, CG), 3);
	e = observed_cgroup(f->p.observed, CG)->edges[2];
	assert_int_equal(e->kind, EDGE_CREDENTIAL);
	assert_string_equal(edge_cred(e)->host, "192.0.2.80");
	assert_string_equal(edge_cred(e)->kind, "basic");
	assert_int_equal(e->port, 80);

	/* not HTTP: counted, skipped */
	http_event(f, CG, T_PARENT, REACH_HTTP_PLAINTEXT, "\x16\x03\x01 not http at all", 443);
	assert_int_equal(f->p.stats.http_malformed, 1);
	assert_int_equal(f->p.stats.http_requests, 2);
	assert_int_equal(n_edges(f, CG), 3);
}

static void body_event(struct fx *f, uint64_t cg, uint32_t tgid, const char *body, size_t len)
{
	struct reach_http_body_event ev = { 0 };

	fill_hdr(&ev.hdr, REACH_EV_HTTP_BODY, sizeof(ev), cg, tgid, 1);
	ev.source = REACH_HTTP_PLAINTEXT;
	ev.dport = 80;
	ev.len = (uint32_t)len;
	ev.total_len = ev.len;
	memcpy(ev.payload, body, len);
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
}

#define LLM_HEAD(path) "POST " path " HTTP/1.1\r\nHost: api.openai.com\r\nContent-Type: application/json\r\n\r\n"

/* JSON POST bodies (issue #18): an LLM call's model and tools, an MCP
 * tools/call over HTTP; a body without its head, a body that is no JSON:
 * counted and skipped; no prompt or argument value kept anywhere. */
static void test_llm_and_mcp_over_http_bodies(void **state)
{
	struct fx *f = *state;
	const char *b1 = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"PLANTED-PROMPT\"}],"
			 "\"tools\":[{\"type\":\"function\"}]}";
	const char *b2 = "{\"messages\":[],\"model\":\"gpt-4o-mini\"}";
	const char *rpc = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"search\","
			  "\"arguments\":{\"q\":\"PLANTED-ARG\"}}}";
	const struct edge *e;
	struct reach_http_event rep = { 0 };

	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/agent", no_args, 1);
	http_event(f, CG, T_PARENT, REACH_HTTP_PLAINTEXT, LLM_HEAD("/v1/chat/completions"), 80);
	body_event(f, CG, T_PARENT, b1, strlen(b1));
	e = find_edge(f, CG, EDGE_LLM, "openai api.openai.com gpt-4o");
	assert_non_null(e);
	assert_string_equal(e->category, "openai");
	assert_string_equal(e->name, "api.openai.com");
	assert_string_equal(edge_detail(e), "gpt-4o");
	assert_int_equal(e->open_flags & EDGE_LLM_F_TOOLS, EDGE_LLM_F_TOOLS);
	assert_int_equal(e->port, 80);
	assert_int_equal(f->p.stats.llm_calls, 1);
	assert_int_equal(f->p.stats.http_requests, 1);
	/* the same head again, a repeat the dedup map counted: not a new
	 * request, only what the next body belongs to */
	fill_hdr(&rep.hdr, REACH_EV_HTTP, sizeof(rep), CG, T_PARENT, 1);
	rep.source = REACH_HTTP_PLAINTEXT;
	rep.flags = REACH_HTTP_F_WHOLE | REACH_HTTP_F_REPEAT;
	rep.len = (uint32_t)strlen(LLM_HEAD("/v1/chat/completions"));
	memcpy(rep.payload, LLM_HEAD("/v1/chat/completions"), rep.len);
	assert_int_equal(feed(f, &rep, sizeof(rep)), 0);
	assert_int_equal(f->p.stats.http_requests, 1);
	body_event(f, CG, T_PARENT, b2, strlen(b2));
	e = find_edge(f, CG, EDGE_LLM, "openai api.openai.com gpt-4o-mini");
	assert_non_null(e);
	assert_int_equal(e->open_flags & EDGE_LLM_F_TOOLS, 0);
	assert_int_equal(f->p.stats.llm_calls, 2);
	/* a body without its head: counted, skipped */
	body_event(f, CG, T_PARENT, b1, strlen(b1));
	assert_int_equal(f->p.stats.http_bodies_orphan, 1);
	assert_int_equal(f->p.stats.llm_calls, 2);
	/* binary after an LLM head: the call is still named, model unknown */
	http_event(f, CG, T_PARENT, REACH_HTTP_PLAINTEXT, LLM_HEAD("/v1/embeddings"), 80);
	body_event(f, CG, T_PARENT, "\x00\x01\x02", 3);
	assert_int_equal(f->p.stats.http_bodies_malformed, 1);
	assert_int_equal(f->p.stats.llm_model_unseen, 1);
	assert_non_null(find_edge(f, CG, EDGE_LLM, "openai api.openai.com ?"));
	/* MCP over HTTP: the server is host and path */
	http_event(f, CG, T_PARENT, REACH_HTTP_PLAINTEXT, LLM_HEAD("/mcp"), 80);
	body_event(f, CG, T_PARENT, rpc, strlen(rpc));
	e = find_edge(f, CG, EDGE_MCP, "api.openai.com/mcp search");
	assert_non_null(e);
	assert_int_equal(e->proto, EDGE_MCP_HTTP);
	assert_string_equal(edge_detail(e), "q");
	assert_int_equal(f->p.stats.http_bodies, 4);
	/* a head whose body never came: forgotten, counted, when its process ends */
	http_event(f, CG, T_PARENT, REACH_HTTP_PLAINTEXT, LLM_HEAD("/v1/responses"), 80);
	{
		struct reach_exit_event ex = { 0 };

		fill_hdr(&ex.hdr, REACH_EV_EXIT, sizeof(ex), CG, T_PARENT, 1);
		assert_int_equal(feed(f, &ex, sizeof(ex)), 0);
	}
	assert_int_equal(f->p.stats.http_bodies_orphan, 2);
	assert_int_equal(hmap_count(f->p.json_posts), 0);
	/* nothing of a prompt or an argument value in any edge */
	{
		const struct cgroup_reach *cr = observed_cgroup(f->p.observed, CG);

		for (size_t i = 0; i < cr->n_edges; i++) {
			const char *d = edge_detail(cr->edges[i]);

			assert_null(strstr(cr->edges[i]->object, "PLANTED"));
			assert_true(!d || !strstr(d, "PLANTED"));
		}
	}
}

/* ---- HTTP/2 JSON POST bodies: paired with their stream's request ---- */

static void h2_headers(struct fx *f, uint64_t conn, uint32_t seq, uint32_t stream, uint8_t fflags, const char *path)
{
	struct reach_h2_frame_event ev = { 0 };
	size_t n = 0, pl = strlen(path);

	fill_hdr(&ev.hdr, REACH_EV_H2_FRAME, sizeof(ev), CG, T_PARENT, 1);
	ev.source = REACH_HTTP_OPENSSL;
	ev.flags = seq == 0 ? REACH_H2_F_PREFACE : 0;
	ev.frame_type = 0x1;
	ev.frame_flags = fflags;
	ev.stream_id = stream;
	ev.seq = seq;
	ev.conn = conn;
	/* :method POST, :scheme https, :path and :authority literals never
	 * indexed, content-type (static 31) application/json */
	ev.payload[n++] = 0x83;
	ev.payload[n++] = 0x87;
	ev.payload[n++] = 0x04;
	ev.payload[n++] = (uint8_t)pl;
	memcpy(ev.payload + n, path, pl);
	n += pl;
	ev.payload[n++] = 0x01;
	ev.payload[n++] = 14;
	memcpy(ev.payload + n, "api.openai.com", 14);
	n += 14;
	ev.payload[n++] = 0x0f;
	ev.payload[n++] = 0x10;
	ev.payload[n++] = 16;
	memcpy(ev.payload + n, "application/json", 16);
	n += 16;
	ev.frame_len = ev.len = (uint32_t)n;
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
}

static void h2_body(struct fx *f, uint64_t conn, uint32_t stream, uint8_t fflags, bool cut, const void *body,
		    size_t len)
{
	struct reach_http_body_event ev = { 0 };

	fill_hdr(&ev.hdr, REACH_EV_HTTP_BODY, sizeof(ev), CG, T_PARENT, 1);
	ev.source = REACH_HTTP_OPENSSL;
	ev.flags = REACH_HTTP_BODY_F_H2 | (cut ? REACH_HTTP_BODY_F_CUT : 0);
	ev.frame_flags = fflags;
	ev.stream_id = stream;
	ev.conn = conn;
	ev.len = (uint32_t)len;
	ev.total_len = cut ? ev.len + 5000 : ev.len;
	memcpy(ev.payload, body, len);
	assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
}

static bool has_road(struct fx *f, const char *road, const char *in_detail)
{
	const struct coverage *cov;

	pipeline_feed_ledger(&f->p);
	cov = coverage_of(f, "host/test");
	for (size_t i = 0; cov && i < cov->n_roads; i++)
		if (!strcmp(cov->roads[i].road, road) && strstr(cov->roads[i].detail, in_detail))
			return true;
	return false;
}

/* The kernel sends the first DATA frame of each client stream that starts
 * like JSON: paired by (connection, stream), whatever order streams come
 * in; a padded frame's pad is cut off; a cut body without its model, a
 * body that never came (swept), a body of no known stream are named or
 * counted; no prompt or argument value kept. */
static void test_h2_json_bodies_paired_by_stream(void **state)
{
	struct fx *f = *state;
	const char *llm = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"PLANTED-PROMPT\"}]}";
	const char *rpc = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"search\","
			  "\"arguments\":{\"q\":\"PLANTED-ARG\"}}}";
	const char *long_prompt = "{\"messages\":[{\"role\":\"user\",\"content\":\"PLANTED-PROMPT";
	uint8_t padded[128];
	const struct edge *e;
	size_t n;

	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/agent", no_args, 1);
	/* streams 1 and 3 open, their bodies come 3 first */
	h2_headers(f, 0x77, 0, 1, 0x4, "/v1/chat/completions");
	h2_headers(f, 0x77, 1, 3, 0x4, "/mcp");
	assert_int_equal(f->p.stats.h2_requests, 2);
	assert_int_equal(f->p.stats.llm_calls, 0); /* waiting for the body */
	h2_body(f, 0x77, 3, 0x1, false, rpc, strlen(rpc));
	e = find_edge(f, CG, EDGE_MCP, "api.openai.com/mcp search");
	assert_non_null(e);
	assert_int_equal(e->proto, EDGE_MCP_HTTP);
	assert_string_equal(edge_detail(e), "q");
	assert_int_equal(e->port, 443);
	h2_body(f, 0x77, 1, 0x1, false, llm, strlen(llm));
	e = find_edge(f, CG, EDGE_LLM, "openai api.openai.com gpt-4o");
	assert_non_null(e);
	assert_true(e->proto); /* h2 */
	assert_string_equal(edge_detail(e), "gpt-4o");
	assert_int_equal(f->p.stats.http_bodies, 2);
	assert_int_equal(f->p.stats.http_bodies_orphan, 0);
	/* the same stream id on another connection is another request */
	h2_body(f, 0x78, 1, 0x1, false, llm, strlen(llm));
	assert_int_equal(f->p.stats.h2_bodies_unpaired, 1);
	assert_int_equal(f->p.stats.http_bodies_orphan, 0);

	/* PADDED: a pad length, the data, the padding (not JSON) */
	h2_headers(f, 0x77, 2, 5, 0x4, "/v1/responses");
	n = 0;
	padded[n++] = 4;
	memcpy(padded + n, "{\"model\":\"o3\"}", 14);
	n += 14;
	memcpy(padded + n, "\xff\xfe\x00\x01", 4);
	n += 4;
	h2_body(f, 0x77, 5, 0x8 | 0x1, false, padded, n);
	assert_non_null(find_edge(f, CG, EDGE_LLM, "openai api.openai.com o3"));
	assert_int_equal(f->p.stats.http_bodies_malformed, 0);

	/* a cut body whose model came after the first bytes: "?", its road */
	h2_headers(f, 0x77, 3, 7, 0x4, "/v1/chat/completions");
	h2_body(f, 0x77, 7, 0, true, long_prompt, strlen(long_prompt));
	assert_non_null(find_edge(f, CG, EDGE_LLM, "openai api.openai.com ?"));
	assert_int_equal(f->p.stats.llm_model_unseen, 1);
	assert_true(has_road(f, "llm-body-unseen", "no model in the body's first bytes"));

	/* a JSON POST whose body never comes: named when the wait is over,
	 * not before */
	h2_headers(f, 0x77, 4, 9, 0x4, "/mcp");
	pipeline_sweep_bodies(&f->p, 0);
	assert_false(has_road(f, "json-body-unseen", "/mcp"));
	pipeline_sweep_bodies(&f->p, INT64_MAX);
	assert_true(has_road(f, "json-body-unseen", "HTTP/2 request body not read"));
	assert_int_equal(hmap_count(f->p.json_posts), 0);
	/* its DATA after all (late): no request waits for it, counted */
	h2_body(f, 0x77, 9, 0x1, false, rpc, strlen(rpc));
	assert_int_equal(f->p.stats.h2_bodies_unpaired, 2);

	/* a POST whose HEADERS ended the stream has no body: nothing waits */
	h2_headers(f, 0x77, 5, 11, 0x5, "/v1/embeddings");
	assert_int_equal(hmap_count(f->p.json_posts), 0);
	assert_int_equal(f->p.stats.llm_model_unseen, 2);

	/* a malformed padded frame (pad longer than the frame): counted,
	 * the call named without its model */
	h2_headers(f, 0x77, 6, 13, 0x4, "/v1/chat/completions");
	padded[0] = 200;
	h2_body(f, 0x77, 13, 0x8 | 0x1, false, padded, 10);
	assert_int_equal(f->p.stats.http_bodies_malformed, 1);
	assert_int_equal(f->p.stats.llm_model_unseen, 3);

	/* HTTP/1: a POST to an LLM API without a JSON content type (the
	 * kernel reads no body): named, model unseen */
	http_event(f, CG, T_PARENT, REACH_HTTP_PLAINTEXT,
		   "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n\r\n", 80);
	assert_int_equal(f->p.stats.llm_model_unseen, 4);
	assert_true(has_road(f, "llm-body-unseen", "no JSON content type"));

	/* a body left waiting when its process ends: its road */
	h2_headers(f, 0x77, 7, 15, 0x4, "/v1/chat/completions");
	{
		struct reach_exit_event ex = { 0 };

		fill_hdr(&ex.hdr, REACH_EV_EXIT, sizeof(ex), CG, T_PARENT, 1);
		assert_int_equal(feed(f, &ex, sizeof(ex)), 0);
	}
	assert_int_equal(hmap_count(f->p.json_posts), 0);
	assert_int_equal(f->p.stats.llm_model_unseen, 5);
	assert_true(has_road(f, "llm-body-unseen", "process ended first"));
	{
		const struct cgroup_reach *cr = observed_cgroup(f->p.observed, CG);

		for (size_t i = 0; i < cr->n_edges; i++) {
			const char *d = edge_detail(cr->edges[i]);

			assert_null(strstr(cr->edges[i]->object, "PLANTED"));
			assert_true(!d || !strstr(d, "PLANTED"));
		}
	}
}

static void test_http_tls_special_without_credential(void **state)
{
	struct fx *f = *state;
	const struct edge *e;
	const struct edge_credential *c;
	const struct cgroup_reach *cr;

	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/kubectl", no_args, 1);
	http_event(f, CG, T_PARENT, REACH_HTTP_OPENSSL,
		   "GET /api/v1/namespaces/prod/secrets HTTP/1.1\r\nHost: kubernetes.default.svc\r\n\r\n", 0);
	assert_int_equal(f->p.stats.http_requests, 1);
	/* the TLS library that wrote it is covered: one coverage edge */
	e = find_edge(f, CG, EDGE_TLS, "/usr/bin/kubectl");
	assert_non_null(e);
	assert_string_equal(e->category, "openssl");
	assert_string_equal(e->dest_class, "covered");
	assert_int_equal(f->k.library_calls, 0); /* the event said which library */
	/* a secrets API request stands out even without a credential seen */
	cr = observed_cgroup(f->p.observed, CG);
	assert_non_null(cr);
	assert_int_equal(cr->n_edges, 3);
	e = cr->edges[2];
	assert_int_equal(e->kind, EDGE_CREDENTIAL);
	c = edge_cred(e);
	assert_string_equal(c->kind, "none");
	assert_string_equal(c->fingerprint, "");
	assert_string_equal(c->special, "kube-secrets");
	assert_string_equal(c->source, "openssl");
	assert_string_equal(c->host, "kubernetes.default.svc");
	assert_int_equal(e->port, 443); /* TLS without a port: 443 */

	/* GnuTLS, a head cut at the capture bound: counted as truncated */
	{
		char head[REACH_HTTP_LEN + 1];
		int n = snprintf(head, sizeof(head), "POST /upload HTTP/1.1\r\nHost: h.example\r\nX-Pad: ");

		memset(head + n, 'x', sizeof(head) - 1 - (size_t)n);
		head[sizeof(head) - 1] = '\0';
		http_event(f, CG2, T_PARENT, REACH_HTTP_GNUTLS, head, 443);
	}
	assert_int_equal(f->p.stats.http_requests, 2);
	assert_int_equal(f->p.stats.http_malformed, 0);
	assert_int_equal(f->p.stats.http_truncated, 1);
	e = find_edge(f, CG2, EDGE_TLS, "/usr/bin/kubectl");
	assert_non_null(e);
	assert_string_equal(e->category, "gnutls");
	assert_string_equal(e->dest_class, "covered");
	assert_int_equal(f->k.library_calls, 0);
}

/* ---- records that are not events ------------------------------------------ */

static void test_malformed_records(void **state)
{
	struct fx *f = *state;
	union {
		struct reach_event_hdr hdr;
		struct reach_exec_event exec;
		uint8_t raw[sizeof(struct reach_exec_event) + 8];
	} r;

	memset(&r, 0, sizeof(r));
	/* shorter than a header */
	assert_int_equal(feed(f, &r, sizeof(r.hdr) - 1), 0);
	assert_int_equal(f->p.stats.malformed_events, 1);
	/* kind 0, and past the last kind */
	fill_hdr(&r.hdr, 0, sizeof(r.hdr), CG, T_PARENT, 1);
	assert_int_equal(feed(f, &r, sizeof(r.hdr)), 0);
	fill_hdr(&r.hdr, REACH_EV__MAX, sizeof(r.hdr), CG, T_PARENT, 1);
	assert_int_equal(feed(f, &r, sizeof(r.hdr)), 0);
	assert_int_equal(f->p.stats.malformed_events, 3);
	/* a header claiming more bytes than the record has */
	fill_hdr(&r.hdr, REACH_EV_EXEC, sizeof(r.exec) + 8, CG, T_PARENT, 1);
	assert_int_equal(feed(f, &r, sizeof(r.exec)), 0);
	assert_int_equal(f->p.stats.malformed_events, 4);
	/* shorter than its kind: every kind */
	for (uint16_t k = 1; k < REACH_EV__MAX; k++) {
		fill_hdr(&r.hdr, k, sizeof(r.hdr), CG, T_PARENT, 1);
		assert_int_equal(feed(f, &r, sizeof(r.hdr)), 0);
	}
	assert_int_equal(f->p.stats.malformed_events, 4 + REACH_EV__MAX - 1);
	/* nothing was handled, nothing recorded */
	for (int k = 0; k < REACH_EV__MAX; k++)
		assert_int_equal(f->p.stats.events[k], 0);
	assert_null(observed_cgroup(f->p.observed, CG));
	assert_int_equal(proctree_size(f->p.procs), 0);
	/* a record longer than its kind is fine (the ring buffer pads) */
	memset(&r, 0, sizeof(r));
	fill_hdr(&r.hdr, REACH_EV_EXEC, sizeof(r.exec), CG, T_PARENT, T_OTHER);
	snprintf(r.exec.filename, sizeof(r.exec.filename), "/bin/ls");
	assert_int_equal(feed(f, &r, sizeof(r)), 0);
	assert_int_equal(f->p.stats.events[REACH_EV_EXEC], 1);
	assert_int_equal(f->p.stats.malformed_events, 4 + REACH_EV__MAX - 1);
	assert_non_null(find_edge(f, CG, EDGE_TOOL, "/bin/ls"));
}

/* ---- --events output, counts, the working set --------------------------------- */

static void test_events_printed_once_per_new_edge(void **state)
{
	struct fx *f = *state;
	char *out = NULL;
	size_t len = 0, lines = 0;

	f->p.events_out = open_memstream(&out, &len);
	assert_non_null(f->p.events_out);
	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/curl", no_args, 1);
	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/curl", no_args, 1); /* the same edge */
	egress_event(f, CG, T_PARENT, REACH_AF_INET, REACH_PROTO_UDP, REACH_OUT_SENT, "192.0.2.53", 53);
	fclose(f->p.events_out);
	f->p.events_out = NULL;
	for (char *c = out; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 2);
	assert_non_null(strstr(out, "/usr/bin/curl"));
	assert_non_null(strstr(out, "192.0.2.53"));
	assert_int_equal(find_edge(f, CG, EDGE_TOOL, "/usr/bin/curl")->events, 2);
	free(out);
}

static void test_refresh_counts_from_the_kernel(void **state)
{
	struct fx *f = *state;
	const struct edge *e;

	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/curl", no_args, 1);
	f->k.count = 17;
	pipeline_refresh_counts(&f->p);
	assert_int_equal(f->k.snapshots, 1);
	assert_true(f->k.lookups >= 1);
	e = find_edge(f, CG, EDGE_TOOL, "/usr/bin/curl");
	assert_int_equal(edge_count(e), 17);
	/* a failed batch read falls back, warned once */
	f->k.snapshot_rc = -EOPNOTSUPP;
	pipeline_refresh_counts(&f->p);
	pipeline_refresh_counts(&f->p);
	assert_true(f->p.snapshot_warned);
	assert_int_equal(f->k.snapshots, 3);

	/* fed to the ledger under its identity */
	pipeline_feed_ledger(&f->p);
	assert_int_equal(ledger_identities(f->ledger), 1);
	assert_int_equal(ledger_edges(f->ledger), 1);
	assert_non_null(ledger_identity_find(f->ledger, "host/test"));
	assert_int_equal(f->p.feed.edges_held, 0);
}

static void test_full_model_evicts_to_the_ledger(void **state)
{
	struct fx *f = *state;
	char exe[64];

	pipeline_fini(&f->p);
	{
		struct pipeline keep = f->p;

		assert_int_equal(pipeline_init(&f->p, 16), 0);
		f->p.catalog = keep.catalog;
		f->p.netclass = keep.netclass;
		f->p.resolver = keep.resolver;
		f->p.ledger = keep.ledger;
		f->p.boot_to_unix_ms = keep.boot_to_unix_ms;
		f->p.dedup = keep.dedup;
		f->p.dedup_ctx = keep.dedup_ctx;
	}
	assert_int_equal(f->p.observed_cap, 16);
	for (int i = 0; i < 20; i++) {
		snprintf(exe, sizeof(exe), "/usr/bin/tool%d", i);
		exec_event(f, CG, T_PARENT, T_OTHER, exe, no_args, 1);
	}
	/* a quarter went to the ledger alone when the model was full */
	assert_true(observed_edges_evicted(f->p.observed) >= 4);
	assert_true(f->k.takes >= 4);
	assert_true(ledger_edges(f->ledger) >= 4);
	assert_int_equal(observed_edges_dropped(f->p.observed), 0);
	assert_true(observed_edge_total(f->p.observed) <= 16);
	assert_true(f->p.room_logged);
	assert_false(f->p.observed_stuck);
	assert_non_null(find_edge(f, CG, EDGE_TOOL, "/usr/bin/tool19"));
}

/* ---- MCP: answers and effects ------------------------------------------ */

#define T_AGENT 4190011u  /* tgids no /proc has: the server is found by SO_PEERCRED */
#define T_SERVER 4190012u
#define SRV_SOCK 7001u    /* the server's end of the connection */
#define AGENT_SOCK 7002u  /* the agent's end */

/* A JSON-RPC write on a unix socket: by the agent (to the server: ino is
 * the server's end, the peer SO_PEERCRED the server; its own end while the
 * server has not accepted the connection: accepted false) or by the server
 * (on its own end, fd 5, to the agent). */
static void jsonrpc_event_at(struct fx *f, uint32_t writer, bool accepted, const char *json)
{
	struct reach_jsonrpc_event *ev = calloc(1, sizeof(*ev));
	bool agent = writer == T_AGENT;

	assert_non_null(ev);
	fill_hdr(&ev->hdr, REACH_EV_JSONRPC, sizeof(*ev), CG, writer, 1);
	ev->transport = REACH_JSONRPC_UNIX;
	ev->len = ev->total_len = (uint32_t)strlen(json);
	ev->fd = agent ? 4 : 5;
	ev->ino = agent ? (accepted ? SRV_SOCK : AGENT_SOCK) : AGENT_SOCK;
	ev->own_ino = agent ? AGENT_SOCK : SRV_SOCK;
	ev->peer_tgid = agent ? T_SERVER : T_AGENT;
	memcpy(ev->payload, json, ev->len);
	assert_int_equal(feed(f, ev, sizeof(*ev)), 0);
	free(ev);
}

static void jsonrpc_event(struct fx *f, uint32_t writer, const char *json)
{
	jsonrpc_event_at(f, writer, true, json);
}

static const struct ledger_edge *ledger_edge_of(const struct ledger *l, enum ledger_kind kind, const char *object)
{
	for (size_t i = 0; i < ledger_identities(l); i++) {
		const struct ledger_identity *id = ledger_identity_at(l, i);

		for (size_t j = 0; j < id->n_edges; j++)
			if (id->edges[j]->kind == kind && strcmp(id->edges[j]->object, object) == 0)
				return id->edges[j];
	}
	return NULL;
}

/* An MCP server reached over a unix socket (not the agent's child: named
 * by SO_PEERCRED): answers matched by id on the connection and counted on
 * the call's edge (errors apart), effects made while it served exactly one
 * call linked to that call, unmatched answers and calls left unanswered
 * counted; all of it persisted in the ledger file. */
static void test_mcp_answers_and_effects(void **state)
{
	static const char *const agent_argv[] = { "python3", "/srv/agent.py", NULL };
	static const char *const server_argv[] = { "node", "/opt/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js",
						   "/data", NULL };
	struct fx *f = *state;
	const struct edge *call, *list, *sec;
	const struct edge_mcp *m;
	const struct ledger_edge *le;
	struct ledger *back;
	char other[600], path[600], err[256];

	exec_event(f, CG, T_AGENT, 1, "/usr/bin/python3", agent_argv, 11);
	exec_event(f, CG, T_SERVER, 1, "/usr/bin/node", server_argv, 12);
	jsonrpc_event(f, T_AGENT, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{}}\n");
	jsonrpc_event(f, T_SERVER, "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"serverInfo\":{\"name\":\"secure-fs\"}}}\n");
	assert_int_equal(f->p.stats.mcp_responses_unmatched, 0); /* initialize's answer: matched, not a call's */
	assert_int_equal(f->p.stats.mcp_responses, 0);

	/* one call in flight: the server's file read is its effect */
	jsonrpc_event(f, T_AGENT, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"read_file\","
				  "\"arguments\":{\"path\":\"/data/app.token\"}}}\n");
	call = find_edge(f, CG, EDGE_MCP, "server-filesystem read_file");
	assert_non_null(call);
	assert_string_equal(call->name, "secure-fs");
	assert_int_equal(call->proto, REACH_JSONRPC_UNIX); /* not a child's stdio */
	/* no answer yet; the argument's shape is kept (a path: its template) */
	assert_non_null(edge_mcp(call));
	assert_int_equal(edge_mcp(call)->responses, 0);
	assert_int_equal(edge_mcp(call)->errors, 0);
	assert_string_equal(edge_mcp(call)->arg_shapes, "path=/data/app.token");
	open_event(f, CG, T_SERVER, f->secret, NULL, 0);
	sec = find_edge(f, CG, EDGE_SECRET, f->secret);
	assert_non_null(sec);
	assert_non_null(edge_mcp(sec));
	assert_string_equal(edge_mcp(sec)->server, "server-filesystem");
	assert_string_equal(edge_mcp(sec)->tool, "read_file");
	/* so is a tool its child runs, and a connection it makes */
	{
		static const char *const cat_argv[] = { "cat", NULL };
		const struct edge *t, *eg;

		exec_event(f, CG, T_SERVER + 100, T_SERVER, "/usr/bin/cat", cat_argv, 13);
		t = find_edge(f, CG, EDGE_TOOL, "/usr/bin/cat");
		assert_non_null(t);
		assert_non_null(edge_mcp(t));
		assert_string_equal(edge_mcp(t)->server, "server-filesystem");
		assert_string_equal(edge_mcp(t)->tool, "read_file");
		egress_event(f, CG, T_SERVER, REACH_AF_INET, REACH_PROTO_TCP, 1, "10.1.2.3", 8443);
		eg = find_edge(f, CG, EDGE_EGRESS, "tcp/10.1.2.3/8443");
		assert_non_null(eg);
		assert_string_equal(edge_mcp(eg)->tool, "read_file");
		/* the agent's own edges are no effect of its server's call */
		exec_event(f, CG, T_AGENT + 100, T_AGENT, "/usr/bin/true", cat_argv, 14);
		assert_null(edge_mcp(find_edge(f, CG, EDGE_TOOL, "/usr/bin/true")));
	}
	jsonrpc_event(f, T_SERVER, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\","
				   "\"text\":\"denied\"}],\"isError\":true}}\n");
	m = edge_mcp(call);
	assert_non_null(m);
	assert_int_equal(m->responses, 1);
	assert_int_equal(m->errors, 1);
	assert_int_equal(f->p.stats.mcp_responses, 1);

	/* two calls in flight: an effect is ambiguous, linked to neither */
	jsonrpc_event(f, T_AGENT, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"list_directory\","
				  "\"arguments\":{\"path\":\"/data\"}}}\n");
	jsonrpc_event(f, T_AGENT, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"read_file\","
				  "\"arguments\":{\"path\":\"/data/b\"}}}\n");
	snprintf(other, sizeof(other), "%s/other.token", f->dir);
	assert_int_equal(catalog_add(f->catalog, "other.token", "test-token"), 0);
	open_event(f, CG, T_SERVER, other, NULL, 0);
	assert_non_null(find_edge(f, CG, EDGE_SECRET, other));
	assert_null(edge_mcp(find_edge(f, CG, EDGE_SECRET, other)));
	/* answered out of order; a JSON-RPC error is an error too */
	jsonrpc_event(f, T_SERVER, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"content\":[]}}\n");
	jsonrpc_event(f, T_SERVER, "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32602,\"message\":\"bad path /data\"}}\n");
	list = find_edge(f, CG, EDGE_MCP, "server-filesystem list_directory");
	assert_non_null(list);
	assert_int_equal(edge_mcp(list)->responses, 1);
	assert_int_equal(edge_mcp(list)->errors, 1);
	assert_int_equal(edge_mcp(call)->responses, 2);
	assert_int_equal(edge_mcp(call)->errors, 1);
	assert_int_equal(f->p.stats.mcp_responses, 3);

	/* an answer to nothing asked, on another connection: unmatched */
	jsonrpc_event(f, T_SERVER, "{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":{}}\n");
	assert_int_equal(f->p.stats.mcp_responses_unmatched, 1);
	assert_int_equal(f->p.stats.mcp_responses, 3);

	/* an answer whose capture overtook its request's (both are captured
	 * when the write returns): unmatched until the request comes */
	jsonrpc_event(f, T_SERVER, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"isError\":true}}\n");
	assert_int_equal(f->p.stats.mcp_responses_unmatched, 2);
	jsonrpc_event(f, T_AGENT, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"list_directory\","
				  "\"arguments\":{\"path\":\"/data\"}}}\n");
	assert_int_equal(f->p.stats.mcp_responses_unmatched, 1);
	assert_int_equal(f->p.stats.mcp_responses, 4);
	assert_int_equal(edge_mcp(list)->responses, 2);
	assert_int_equal(edge_mcp(list)->errors, 2);

	/* the server exits with a call in flight: unanswered */
	jsonrpc_event(f, T_AGENT, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"read_file\","
				  "\"arguments\":{}}}\n");
	{
		struct reach_exit_event ev = { 0 };

		fill_hdr(&ev.hdr, REACH_EV_EXIT, sizeof(ev), CG, T_SERVER, 1);
		assert_int_equal(feed(f, &ev, sizeof(ev)), 0);
	}
	assert_int_equal(f->p.stats.mcp_calls_unanswered, 1);
	assert_int_equal(f->p.stats.mcp_calls, 5);

	/* to the ledger, and through its file */
	pipeline_feed_ledger(&f->p);
	le = ledger_edge_of(f->ledger, LEDGER_MCP_TOOL, "server-filesystem read_file");
	assert_non_null(le);
	assert_int_equal(le->mcp_responses, 2);
	assert_int_equal(le->mcp_errors, 1);
	assert_string_equal(le->mcp_server, "");
	le = ledger_edge_of(f->ledger, LEDGER_SECRET, f->secret);
	assert_non_null(le);
	assert_string_equal(le->mcp_server, "server-filesystem");
	assert_string_equal(le->mcp_tool, "read_file");
	assert_int_equal(le->mcp_responses, 0);
	/* an answer after the edge was fed is growth: fed once, not twice */
	pipeline_feed_ledger(&f->p);
	assert_int_equal(ledger_edge_of(f->ledger, LEDGER_MCP_TOOL, "server-filesystem read_file")->mcp_responses, 2);
	snprintf(path, sizeof(path), "%s/ledger.pb", f->dir);
	assert_int_equal(ledger_save(f->ledger, "node-a", path, err, sizeof(err)), 0);
	back = ledger_new(100, 1000);
	assert_non_null(back);
	assert_int_equal(ledger_load(back, path, NULL, err, sizeof(err)), 0);
	le = ledger_edge_of(back, LEDGER_MCP_TOOL, "server-filesystem list_directory");
	assert_non_null(le);
	assert_int_equal(le->mcp_responses, 2);
	assert_int_equal(le->mcp_errors, 2);
	le = ledger_edge_of(back, LEDGER_SECRET, f->secret);
	assert_non_null(le);
	assert_string_equal(le->mcp_server, "server-filesystem");
	assert_string_equal(le->mcp_tool, "read_file");
	assert_null(ledger_edge_of(back, LEDGER_SECRET, other)->mcp_server[0] ? "linked" : NULL);
	/* argument names only: never a value */
	assert_string_equal(le->object, f->secret);
	assert_string_equal(ledger_edge_of(back, LEDGER_MCP_TOOL, "server-filesystem read_file")->arguments, "path");
	/* the values' shapes: the first call's first, each distinct one once;
	 * a call without arguments adds none */
	assert_string_equal(ledger_edge_of(back, LEDGER_MCP_TOOL, "server-filesystem read_file")->arg_shapes,
			    "path=/data/app.token;path=/data/b");
	assert_string_equal(ledger_edge_of(back, LEDGER_MCP_TOOL, "server-filesystem list_directory")->arg_shapes,
			    "path=/data");
	assert_int_equal(f->p.stats.mcp_arg_shapes_dropped, 0);
	assert_int_equal(f->p.stats.mcp_arg_shapes_cut, 0);
	ledger_free(back);
}

/* A client writes initialize as soon as connect() returns, before the
 * server's accept(): its end's peer has no inode yet, so the request's ino
 * is the client's own end, while the answer (written after accept) is on
 * the server's end. Both are paired on the client's end, whichever capture
 * comes first; later requests (ino the server's end) on the same key. */
static void test_mcp_request_before_accept(void **state)
{
	static const char *const agent_argv[] = { "python3", "/srv/agent.py", NULL };
	static const char *const server_argv[] = { "python3", "/srv/uds_server.py", NULL };
	static const char init[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}\n";
	static const char init_res[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"serverInfo\":{\"name\":\"e2e-uds\"}}}\n";
	struct fx *f = *state;
	const struct edge *call;

	exec_event(f, CG, T_AGENT, 1, "/usr/bin/python3", agent_argv, 11);
	exec_event(f, CG, T_SERVER, 1, "/usr/bin/python3", server_argv, 12);
	/* the answer's capture overtakes the request's */
	jsonrpc_event_at(f, T_SERVER, true, init_res);
	assert_int_equal(f->p.stats.mcp_responses_unmatched, 1); /* early: until its request comes */
	jsonrpc_event_at(f, T_AGENT, false, init);
	assert_int_equal(f->p.stats.mcp_responses_unmatched, 0);
	assert_int_equal(f->p.stats.mcp_responses, 0); /* not a call's */

	/* the request's capture first (still not accepted), then the answer */
	jsonrpc_event_at(f, T_AGENT, false, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":"
					    "{\"name\":\"read_file\",\"arguments\":{\"path\":\"/data/a\"}}}\n");
	jsonrpc_event_at(f, T_SERVER, true, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"isError\":false}}\n");
	call = find_edge(f, CG, EDGE_MCP, "uds_server.py read_file");
	assert_non_null(call);
	assert_non_null(edge_mcp(call));
	assert_int_equal(edge_mcp(call)->responses, 1);
	assert_int_equal(f->p.stats.mcp_responses, 1);
	assert_int_equal(f->p.stats.mcp_responses_unmatched, 0);

	/* accepted since: the request's ino is the server's end, the key the same */
	jsonrpc_event_at(f, T_SERVER, true, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"isError\":true}}\n");
	jsonrpc_event_at(f, T_AGENT, true, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
					   "{\"name\":\"read_file\",\"arguments\":{\"path\":\"/data/b\"}}}\n");
	jsonrpc_event_at(f, T_AGENT, true, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\"}\n");
	jsonrpc_event_at(f, T_SERVER, true, "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"tools\":[]}}\n");
	assert_int_equal(edge_mcp(call)->responses, 2);
	assert_int_equal(edge_mcp(call)->errors, 1);
	assert_int_equal(f->p.stats.mcp_responses, 2);
	assert_int_equal(f->p.stats.mcp_responses_unmatched, 0);
	assert_int_equal(f->p.stats.mcp_calls_unanswered, 0);
}

/* An edge the full model refuses (nothing could be evicted) is a gap of
 * its identity's picture, in its coverage record. */
static void test_refused_edge_is_a_coverage_gap(void **state)
{
	struct fx *f = *state;
	char exe[64];
	const struct coverage *c;

	pipeline_fini(&f->p);
	{
		struct pipeline keep = f->p;

		assert_int_equal(pipeline_init(&f->p, 16), 0);
		f->p.catalog = keep.catalog;
		f->p.netclass = keep.netclass;
		f->p.resolver = keep.resolver;
		f->p.ledger = keep.ledger;
		f->p.boot_to_unix_ms = keep.boot_to_unix_ms;
		f->p.dedup = keep.dedup;
		f->p.dedup_ctx = keep.dedup_ctx;
	}
	for (int i = 0; i < 16; i++) {
		snprintf(exe, sizeof(exe), "/usr/bin/tool%d", i);
		exec_event(f, CG, T_PARENT, T_OTHER, exe, no_args, 1);
	}
	f->p.observed_stuck = true; /* as when every edge waits for its identity */
	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/refused", no_args, 1);
	exec_event(f, CG, T_PARENT, T_OTHER, "/usr/bin/refused-too", no_args, 1);
	assert_int_equal(observed_edges_dropped(f->p.observed), 2);
	assert_null(find_edge(f, CG, EDGE_TOOL, "/usr/bin/refused"));
	pipeline_feed_ledger(&f->p);
	c = coverage_of(f, "host/test");
	assert_non_null(c);
	assert_int_equal(c->edges_unrecorded, 2);
	assert_true(coverage_has_gaps(c));
	assert_true(c->first_gap_ms > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_secret_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_judged_at_enter_takes_the_racing_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_that_failed_is_forgotten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_of_a_directory_classes_its_files_by_their_old_names, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_secret_content_of_another_inode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dotenv_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_open_resolved_and_reader_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_not_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_lineage_and_redaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_interpreted_programs_are_tools_of_their_own, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_args_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch_artifacts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_egress_outcomes_and_udp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_coverage_covered_and_blind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_before_probe_is_blind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dns_names_egress, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sni_names_egress, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_plaintext_credential, setup, teardown),
		cmocka_unit_test_setup_teardown(test_llm_and_mcp_over_http_bodies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_h2_json_bodies_paired_by_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_tls_special_without_credential, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_printed_once_per_new_edge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_counts_from_the_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_model_evicts_to_the_ledger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_edge_is_a_coverage_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_via_and_roads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coverage_to_the_ledger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_h2_credential_and_lost_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coverage_forgets_removed_cgroups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mcp_answers_and_effects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mcp_request_before_accept, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
