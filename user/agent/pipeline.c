/* The observation pipeline (pipeline.h): a raw ring-buffer record in, the
 * observed model, process tree, TLS coverage and DNS names updated. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "common/cgroup.h"
#include <sys/syscall.h>
#include <linux/io_uring.h> /* IORING_OP_*: a stable ABI */
#include <linux/openat2.h>
#include "common/hmap.h"
#include "common/log.h"
#include "common/mounts.h"
#include "config/config.h"
#include "http/dotenv.h"
#include "http/http_head.h"
#include "http/h2.h"
#include "http/reasm.h"
#include "http/tls_hello.h"
#include "identity/identity.h"
#include "reach/catalog.h"
#include "reach/coverage.h"
#include "reach/dns.h"
#include "reach/dnsnames.h"
#include "reach/netclass.h"
#include "reach/path.h"
#include "reach/proctree.h"
#include "reach/program.h"
#include "mcp/calls.h"
#include "reach/artifact.h"
#include "mcp/jsonrpc.h"
#include "mcp/llm.h"
#include "reach/redact.h"
#include "agent/pipeline.h"
#include "agent/seeds.h"

static int64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An edge observed_add() could not record: the cap is counted and reported
 * at exit and in status, so only allocation failures are logged here. */
static void warn_unrecorded(const char *kind)
{
	if (errno != ENOSPC)
		log_warn("out of memory recording a %s edge", kind);
}

static void print_if_new(struct pipeline *p, uint64_t cgroup_id, const struct edge *e, bool is_new);
static struct edge *record_edge(struct pipeline *p, enum edge_kind kind, const struct observation *obs, bool *is_new);
/* Opens the version's file now, while the process runs (the descriptor
 * keeps that version readable once it is replaced or the process gone),
 * and leaves reading and hashing it to the artifact worker: a binary of
 * tens of MiB is never read on the event loop. A file that cannot be opened
 * now, or is not the one exec'd (the process exec'd again since), is
 * counted as skipped: its epoch's attestation names the version only. */
static bool is_exec_file(int fd, const struct reach_exec_event *ev)
{
	struct stat st;

	return !fstat(fd, &st) && (uint64_t)st.st_ino == ev->exe_ino && (int64_t)st.st_mtim.tv_sec == ev->exe_mtime_sec &&
	       (uint64_t)st.st_mtim.tv_nsec == ev->exe_mtime_nsec;
}

static void submit_artifact(struct pipeline *p, const char *key, const char *file, enum artifact_kind kind,
			    const struct reach_exec_event *ev, const char *exe)
{
	int fd = file[0] ? open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK) : -1;

	if (fd >= 0 && kind == ARTIFACT_EXECUTABLE && ev->exe_ino && !is_exec_file(fd, ev)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0 && kind == ARTIFACT_EXECUTABLE && ev->exe_ino && exe[0] == '/') {
		/* the process is gone already (a short run): the same path in
		 * the agent's view, if it is the very file exec'd (inode and
		 * mtime as the kernel read them at exec) */
		fd = open(exe, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd >= 0 && !is_exec_file(fd, ev)) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		artifact_hasher_count_skipped(p->artifacts);
		return;
	}
	artifact_hasher_submit(p->artifacts, key, fd, kind);
}

static void note_root_exec(struct pipeline *p, uint64_t cgroup_id, const struct reach_exec_event *ev, const char *exe);
static void links_resolve_for(struct pipeline *p, uint64_t cgroup_id, uint32_t tgid);
static void links_take_open(struct pipeline *p, uint64_t cgroup_id, const char *abs,
			    const struct reach_inode_key *inode);

#define SECRET_CONTENT_MAX 8192
#define KV_CONTENT_MAX (64 * 1024) /* a .env file's bytes read; the rest is counted, not read */

/* The file abs as the reader tgid sees it, opened for reading, or -1
 * (counted). Only through the reader's own root: the agent's view of the
 * same path (in a pod: the agent's own service-account token) is another
 * file, and its fingerprint would link the wrong secret. The path is the
 * kernel's resolved one (a projected volume's token is already
 * .../..2026_…/token), opened inside that root (RESOLVE_IN_ROOT) without
 * following any symlink, and never on a mount whose read could wait on
 * someone (common/mounts.h: a FUSE file a pod names like a secret would
 * stall the loop). A reader gone before the event is handled leaves no
 * fingerprint, and is counted.
 *
 * The reader's root directory is kept open for the next event of the same
 * (tgid, cgroup) for up to READER_ROOT_TTL_S, and dropped at the reader's
 * exit event: a flood of new secrets from one process (bench scenario 3)
 * then costs an openat2 and the reads per file, not also an open and a
 * close of /proc/PID/root (on a VM where a syscall costs microseconds, two
 * of the seven an edge took). The cgroup in the key keeps a pid reused in
 * another container from reading through the old root; the TTL bounds how
 * long a chroot of the same process goes unnoticed. */
#define READER_ROOT_TTL_S 1.0

static void reader_root_drop(struct pipeline *p)
{
	if (p->reader_root.fd1)
		close(p->reader_root.fd1 - 1);
	p->reader_root.fd1 = 0;
	if (p->reader_root.mountinfo_fd1)
		close(p->reader_root.mountinfo_fd1 - 1);
	p->reader_root.mountinfo_fd1 = 0;
	mount_table_free(&p->reader_root.mounts);
}

static int reader_root_fd(struct pipeline *p, uint32_t tgid, uint64_t cgroup_id)
{
	double now = now_s();
	char root[64];
	int fd, mi;

	if (p->reader_root.fd1 && p->reader_root.tgid == tgid && p->reader_root.cgroup_id == cgroup_id &&
	    now - p->reader_root.at_s < READER_ROOT_TTL_S) {
		/* a mount made or removed since: the table again (a mount it
		 * does not know is not entered anyway) */
		if (mounts_changed(p->reader_root.mountinfo_fd1 - 1))
			mount_table_read(&p->reader_root.mounts, p->reader_root.mountinfo_fd1 - 1);
		return p->reader_root.fd1 - 1;
	}
	reader_root_drop(p);
	snprintf(root, sizeof(root), "/proc/%u/root", tgid);
	fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	mi = mounts_open(tgid);
	if (mi < 0 || mount_table_read(&p->reader_root.mounts, mi)) {
		if (mi >= 0)
			close(mi);
		close(fd);
		return -1;
	}
	p->reader_root.tgid = tgid;
	p->reader_root.cgroup_id = cgroup_id;
	p->reader_root.fd1 = fd + 1;
	p->reader_root.mountinfo_fd1 = mi + 1;
	p->reader_root.at_s = now;
	return fd;
}

/* ino: the inode the kernel saw the reader open (the event's). The file at
 * abs in the reader's root now must be that inode: a file replaced or
 * renamed over since the read, or a root the reader changed in between (a
 * chroot into a decoy tree of the same names), would otherwise give the
 * fingerprint of another file than the one read, and link (or miss) the
 * wrong credential. Then it is not read, and counted. The inode number
 * only: the device a stat reports is not the kernel's s_dev on btrfs
 * (a subvolume's) and may not be on overlayfs. */
static int open_in_reader_root(struct pipeline *p, uint32_t tgid, uint64_t cgroup_id, const char *abs, uint64_t ino)
{
	/* abs is the kernel's resolved path (real directories), opened a
	 * component at a time: no symlink followed, no mount entered whose
	 * filesystem could make the loop wait (common/mounts.h) */
	int rootfd = reader_root_fd(p, tgid, cgroup_id), fd;
	struct statx stx;

	fd = rootfd < 0 ? -1 : mounts_open_beneath(rootfd, abs, &p->reader_root.mounts, O_RDONLY | O_NONBLOCK, &stx);
	if (fd >= 0 && stx.stx_ino != ino) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		p->stats.secret_content_unread++;
	return fd;
}

/* Up to cap bytes of fd into buf; whether more followed in *more. */
static size_t read_upto(int fd, char *buf, size_t cap, bool *more)
{
	size_t len = 0;
	ssize_t n;
	char extra;

	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	*more = len == cap && read(fd, &extra, 1) == 1;
	return len;
}

/* A secret file that holds a single token (a service-account token, an API
 * key file) is the credential itself: its keyed fingerprint, the same HMAC
 * the HTTP parser uses, links the read to the request that later sends it
 * (finding secret-sent). The content is read once, as the process sees the
 * file, hashed and wiped; it is never kept, logged or printed. */
static void single_token_fp(struct pipeline *p, const char *buf, size_t len, char out[17])
{
	out[0] = '\0';
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	if (len >= 8 && len <= SECRET_CONTENT_MAX && !memchr(buf, '\n', len) && !memchr(buf, ' ', len) &&
	    !memchr(buf, '\0', len))
		fp_compute(&p->fp_key, buf, len, out);
}

static void fingerprint_secret_content(struct pipeline *p, uint32_t tgid, uint64_t cgroup_id, const char *abs,
				       uint64_t ino, char out[17])
{
	char buf[SECRET_CONTENT_MAX + 1];
	size_t len;
	bool more;
	int fd;

	out[0] = '\0';
	if ((fd = open_in_reader_root(p, tgid, cgroup_id, abs, ino)) < 0)
		return;
	len = read_upto(fd, buf, sizeof(buf), &more);
	close(fd);
	single_token_fp(p, buf, len, out);
	explicit_bzero(buf, sizeof(buf));
}

/* Whether a secret category's files are KEY=VALUE lists whose values are
 * credentials: a .env file, and the AWS shared credentials file
 * (aws_access_key_id = AKIA..., INI sections skipped by the parser). */
static bool category_is_key_value(const char *category)
{
	return !strcmp(category, "dotenv") || !strcmp(category, "aws-credentials");
}

/* A KEY=VALUE file holds several credentials: each credential-shaped value
 * gets the same keyed fingerprint (http/dotenv.h), kept on the edge as
 * "KEY:FINGERPRINT" (the key's name, never the value), so a key loaded from
 * the file and sent is linked to the file and named. Read once like a
 * single-token file; the bytes are wiped. */
static void fingerprint_key_values(struct pipeline *p, uint32_t tgid, uint64_t cgroup_id, const char *abs,
				   uint64_t ino, struct edge *e, char fp[17])
{
	struct dotenv_result res;
	char entries[DOTENV_MAX_KEYS][DOTENV_KEY_MAX + FP_HEX_LEN + 2];
	const char *v[DOTENV_MAX_KEYS];
	const char *const *old;
	size_t len, n = 0, old_n;
	uint64_t dropped;
	bool more;
	char *buf;
	int fd;

	fp[0] = '\0';
	if ((fd = open_in_reader_root(p, tgid, cgroup_id, abs, ino)) < 0)
		return;
	if (!(buf = malloc(KV_CONTENT_MAX))) {
		close(fd);
		p->stats.secret_content_unread++;
		return;
	}
	len = read_upto(fd, buf, KV_CONTENT_MAX, &more);
	close(fd);
	/* a file of one token under a .env name is that token, as anywhere */
	if (!more)
		single_token_fp(p, buf, len, fp);
	if (more) {
		/* the last line may be cut: not a value */
		p->stats.kv_truncated++;
		while (len && buf[len - 1] != '\n')
			len--;
	}
	dotenv_fingerprints(&p->fp_key, buf, len, &res);
	explicit_bzero(buf, KV_CONTENT_MAX);
	free(buf);
	p->stats.kv_lines_malformed += res.malformed;
	p->stats.kv_lines_unread += res.unread;
	/* a later version of the file (read again after an edit: the kernel
	 * keys a small file's sightings by its size and mtime) adds its keys to
	 * those already kept: a value replaced may still be the one a process
	 * loaded before the edit */
	old_n = edge_key_fps(e, &old, &dropped);
	if (res.dropped > dropped)
		dropped = res.dropped; /* the same values past the bound, counted once */
	for (size_t i = 0; i < old_n && n < DOTENV_MAX_KEYS; i++)
		v[n++] = old[i];
	for (size_t i = 0; i < res.n; i++) {
		bool have = false;

		snprintf(entries[i], sizeof(entries[i]), "%s:%s", res.fps[i].key, res.fps[i].fp);
		for (size_t j = 0; j < n && !have; j++)
			have = !strcmp(v[j], entries[i]);
		if (have)
			continue;
		if (n == DOTENV_MAX_KEYS)
			dropped++;
		else
			v[n++] = entries[i];
	}
	if (n == old_n && !res.dropped)
		return; /* nothing new: the list kept stands */
	if (observed_set_key_fps(p->observed, e, v, n, dropped))
		log_warn("credential fingerprints of %s not kept: out of memory", abs);
}

/* A file the agent classed as a secret, by (dev, ino): any other name of
 * it (a hardlink, a bind mount) is the same secret under its classed name. */
struct secret_inode {
	char *path;
	const char *category; /* the catalogue's static string */
};

static void secret_inode_free(void *v)
{
	struct secret_inode *si = v;

	if (si)
		free(si->path);
	free(si);
}

static void inode_key_str(const struct reach_inode_key *k, char out[48])
{
	snprintf(out, 48, "%u:%llu", k->dev, (unsigned long long)k->ino);
}

/* 0, or -errno when the kernel will not know the inode (its other names
 * then judged by name only) */
static int remember_secret_inode(struct pipeline *p, const struct reach_inode_key *k, const char *path,
				 const char *category)
{
	struct secret_inode *si;
	char key[48];

	inode_key_str(k, key);
	if (!p->secret_inodes)
		return -ENOMEM;
	if (hmap_get(p->secret_inodes, key))
		return 0;
	si = calloc(1, sizeof(*si));
	if (!si || !(si->path = strdup(path)) || hmap_put(p->secret_inodes, key, si, NULL)) {
		secret_inode_free(si);
		log_warn("secret inode of %s not kept: out of memory", path);
		return -ENOMEM;
	}
	si->category = category;
	if (p->dedup->mark_secret_inode && p->dedup->mark_secret_inode(p->dedup_ctx, k)) {
		p->stats.path_errors++; /* the map is full: other names of it are matched by name only */
		return -ENOSPC;
	}
	return 0;
}

/* A file a walk found (agent/seeds.h): classed by the catalogue under its
 * stable name, and if a secret, known by its inode from now on. 0: no
 * secret; 1: a secret, kept; -1: a secret the kernel could not be told of. */
static int seed_class(struct pipeline *p, const struct reach_inode_key *k, const char *abs_path)
{
	char stable[REACH_BASE_LEN * 2];
	const char *category;

	if (path_stable_name(abs_path, stable, sizeof(stable)) || !(category = catalog_match(p->catalog, stable)))
		return 0;
	return remember_secret_inode(p, k, stable, category) ? -1 : 1;
}

static bool seed_found(void *ctx, const struct reach_inode_key *k, const char *abs_path)
{
	return seed_class(ctx, k, abs_path) != 0;
}

/* A seeded file gone: its inode number may be another file's next. */
static void seed_forget(void *ctx, const struct reach_inode_key *k)
{
	struct pipeline *p = ctx;
	char key[48];

	inode_key_str(k, key);
	secret_inode_free(hmap_remove(p->secret_inodes, key));
	if (p->dedup->unmark_secret_inode)
		p->dedup->unmark_secret_inode(p->dedup_ctx, k);
}

void pipeline_seed_secrets(struct pipeline *p, bool all)
{
	int64_t now = (int64_t)(now_s() * 1000); /* monotonic: a clock step cannot stop the walks */

	if (!p->seeds || !p->catalog)
		return;
	if (p->catalog != p->seeds_catalog) {
		if (seeds_set_catalog(p->seeds, p->catalog)) {
			log_warn("secret seeds: the catalogue's directories not taken: out of memory");
			return;
		}
		p->seeds_catalog = p->catalog;
		log_debug("secret seeds: walking %s in every mount namespace", seeds_describe(p->seeds));
		all = true;
	}
	if (all)
		seeds_all(p->seeds, now);
	else
		seeds_tick(p->seeds, now);
}

/* io_uring opcodes reach decodes or names (include/uapi/linux/io_uring.h:
 * a stable ABI). */
static const char *uring_op_name(uint32_t op)
{
	switch (op) {
	case 1: return "readv";
	case 4: return "read_fixed";
	case 9: return "sendmsg";
	case 10: return "recvmsg";
	case 16: return "connect";
	case 18: return "openat";
	case 22: return "read";
	case 26: return "send";
	case 28: return "openat2";
	case 35: return "renameat";
	case 39: return "linkat";
	case 47: return "send_zc";
	case 48: return "sendmsg_zc";
	case 49: return "read_multishot";
	case 54: return "fixed_fd_install";
	case 60: return "readv_fixed";
	default: return NULL;
	}
}

/* How a file reached a task without an open(2): the edge's opened_as. */
static const char *file_via_name(const struct reach_file_open_event *ev, char *buf, size_t n)
{
	if (ev->flags & REACH_OPEN_F_URING) {
		const char *op = uring_op_name(ev->syscall_nr);

		if (op)
			snprintf(buf, n, "(io_uring %s)", op);
		else
			snprintf(buf, n, "(io_uring op %u)", ev->syscall_nr);
		return buf;
	}
	if (ev->flags & REACH_OPEN_F_INHERITED)
		return "(inherited at exec)";
	if (ev->flags & REACH_OPEN_F_ENTERED)
		return "(held on entering the cgroup)";
	if (ev->flags & REACH_OPEN_F_AT_START)
		return "(held when reach started)";
	if (ev->flags & REACH_OPEN_F_RECEIVED)
		return ev->syscall_nr == 438 /* pidfd_getfd, every architecture */ ? "(pidfd_getfd)"
										: "(received over SCM_RIGHTS)";
	return NULL;
}

/* A process whose files were walked as it entered a monitored cgroup or
 * when reach started: no exec or fork of it was seen, so the process tree
 * does not know it. Its executable is read from /proc while it lives, but
 * only if its name is still the one the kernel saw (hdr->comm): a process
 * that has exec'd since (a runner's child entering the cgroup, then exec'ing
 * the workload) would lend the new program's name to what the old one held;
 * it stays unnamed then (known, with no executable, so that the process
 * tree's own /proc look-up does not name it either), and the program it
 * became is named at its exec. A process already gone stays unnamed too:
 * the edge is recorded all the same. */
static void learn_held_process(struct pipeline *p, const struct reach_event_hdr *hdr)
{
	char path[40], comm[sizeof(hdr->comm) + 2] = "";
	FILE *f;

	if (proctree_known(p->procs, hdr->tgid))
		return;
	snprintf(path, sizeof(path), "/proc/%u/comm", hdr->tgid);
	f = fopen(path, "r");
	if (f) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
	}
	comm[strcspn(comm, "\n")] = '\0';
	if (!strncmp(comm, hdr->comm, sizeof(hdr->comm)))
		return; /* the same program: the process tree reads it from /proc when asked */
	/* exec'd since, gone, or another process reusing the pid */
	if (proctree_exec(p->procs, hdr->tgid, hdr->ppid, hdr->cgroup_id, "", NULL))
		log_warn("process %u not kept in the process tree: out of memory", hdr->tgid);
}

static void handle_file_open(struct pipeline *p, const struct reach_file_open_event *ev)
{
	char via[48];
	char path[REACH_PATH_LEN], resolved[REACH_BASE_LEN], abs[REACH_BASE_LEN];
	const char *category, *lineage[PROCTREE_LINEAGE_MAX], *object = abs;
	struct observation obs = { 0 };
	struct secret_inode *known;
	struct edge *e;
	char ikey[48];
	bool is_new;

	memcpy(path, ev->path, sizeof(path));
	path[sizeof(path) - 1] = '\0';
	memcpy(resolved, ev->resolved, sizeof(resolved));
	resolved[sizeof(resolved) - 1] = '\0';
	/* the object is the opened file (resolved in the kernel from its
	 * struct file), under its stable name; the name as written is kept as
	 * requested_path (opened_as) */
	if (resolved[0] != '/' || path_stable_name(resolved, abs, sizeof(abs))) {
		p->stats.path_errors++;
		return;
	}
	if (p->tls)
		p->tls->on_open(p->tls_ctx, ev->hdr.tgid, resolved, &ev->inode, &ev->key); /* libssl/libgnutls being mapped */
	if (p->n_links) {
		links_take_open(p, ev->hdr.cgroup_id, abs, &ev->inode);  /* the new name may be this */
		links_resolve_for(p, ev->hdr.cgroup_id, ev->hdr.tgid);
	}
	inode_key_str(&ev->inode, ikey);
	known = p->secret_inodes ? hmap_get(p->secret_inodes, ikey) : NULL;
	if (known) {
		/* another name of a file already classed: the classed one */
		object = known->path;
		category = known->category;
	} else {
		category = catalog_match(p->catalog, abs);
		/* a secret's name that links to an innocuous one is still read as
		 * the secret it was asked for */
		if (!category && path[0] == '/' && !(ev->flags & REACH_OPEN_F_PATH_TRUNC)) {
			char written[REACH_PATH_LEN];

			if (!path_make_absolute(NULL, path, written, sizeof(written)) &&
			    !path_stable_name(written, written, sizeof(written)))
				category = catalog_match(p->catalog, written);
		}
	}
	if (!category) {
		p->stats.opens_not_secret++; /* neither stored nor printed */
		return;
	}
	if (!known)
		remember_secret_inode(p, &ev->inode, abs, category);
	if (ev->hdr.kind == REACH_EV_FILE_VIA && (ev->flags & (REACH_OPEN_F_ENTERED | REACH_OPEN_F_AT_START)))
		learn_held_process(p, &ev->hdr);
	obs.hdr = &ev->hdr;
	obs.key = &ev->key;
	obs.object = object;
	obs.category = category;
	obs.open_flags = ev->open_flags;
	obs.new_map_entry = true;
	obs.requested_path = (ev->flags & REACH_OPEN_F_BY_HANDLE)		    ? "(open_by_handle_at)"
			     : ev->hdr.kind == REACH_EV_FILE_VIA ? file_via_name(ev, via, sizeof(via))
								 : path;
	if (!obs.requested_path)
		obs.requested_path = path;
	obs.exe = proctree_ident(p->procs, ev->hdr.tgid);
	obs.n_lineage = proctree_lineage(p->procs, ev->hdr.tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	e = record_edge(p, EDGE_SECRET, &obs, &is_new);
	if (!e) {
		warn_unrecorded("secret");
		return;
	}
	if (is_new || category_is_key_value(category)) {
		/* a KEY=VALUE file seen again: another version of it (or a
		 * reader reach had not seen), whose keys are added */
		char fp[17] = "";

		if (category_is_key_value(category))
			fingerprint_key_values(p, ev->hdr.tgid, ev->hdr.cgroup_id, resolved, ev->inode.ino, e, fp);
		else
			fingerprint_secret_content(p, ev->hdr.tgid, ev->hdr.cgroup_id, resolved, ev->inode.ino, fp);
		if (is_new && fp[0] && observed_set_content_fp(p->observed, e, fp))
			log_warn("secret content fingerprint of %s not kept: out of memory", object);
	}
	print_if_new(p, ev->hdr.cgroup_id, e, is_new);
}

/* A key of user space's own (never looked up in the kernel map). */
static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

static void handle_exec(struct pipeline *p, const struct reach_exec_event *ev)
{
	char filename[REACH_PATH_LEN], args[REACH_ARGS_LEN + 1], redacted[EDGE_MAX_ARGS][REACH_ARGS_LEN + 32];
	const char *argv[EDGE_MAX_ARGS], *raw[EDGE_MAX_ARGS], *lineage[PROCTREE_LINEAGE_MAX];
	char *outs[EDGE_MAX_ARGS];
	struct observation obs = { 0 };
	size_t argc = 0, len = ev->args_len < REACH_ARGS_LEN ? ev->args_len : REACH_ARGS_LEN;
	bool truncated = ev->flags & REACH_EXEC_F_ARGS_TRUNC, is_new, interpreted;
	struct reach_dedup_key key;
	const char *ident;
	char prog[64];
	struct edge *e;

	/* a process in a mount namespace not walked lately: its secrets
	 * known by inode before it can read them under another name */
	seeds_process(p->seeds, ev->hdr.tgid, (int64_t)(now_s() * 1000));
	if (p->n_links)
		links_resolve_for(p, ev->hdr.cgroup_id, ev->hdr.tgid); /* before it can read the new name */
	memcpy(filename, ev->filename, sizeof(filename));
	filename[sizeof(filename) - 1] = '\0';
	memcpy(args, ev->args, len);
	args[len] = '\0';
	for (size_t off = 0; off < len;) {
		const char *arg = args + off;

		if (argc == EDGE_MAX_ARGS) {
			truncated = true;
			break;
		}
		raw[argc] = arg;
		outs[argc] = redacted[argc];
		argv[argc] = redacted[argc];
		argc++;
		off += strlen(arg) + 1;
	}
	/* by allow-list, the whole command line at once: a value's meaning
	 * depends on the interpreter and the flag before it */
	redact_argv(&p->fp_key, raw, argc, outs, sizeof(redacted[0]));
	/* a root process of its cgroup (its parent is elsewhere): its executable
	 * is the workload's software version (host epochs) */
	if (!proctree_in_cgroup(p->procs, ev->hdr.ppid, ev->hdr.cgroup_id))
		note_root_exec(p, ev->hdr.cgroup_id, ev, filename);
	/* an interpreter is told by its program: node agent.mjs and node
	 * server.js are two tools, two entries of a lineage (reach/program.h) */
	interpreted = program_is_interpreter(filename);
	proctree_exec(p->procs, ev->hdr.tgid, ev->hdr.ppid, ev->hdr.cgroup_id, filename,
		      interpreted && !program_name(filename, (const char *)ev->args, len, prog, sizeof(prog)) ? prog : NULL);
	if (p->tls)
		p->tls->on_exec(p->tls_ctx, ev->hdr.tgid, filename);
	ident = proctree_ident(p->procs, ev->hdr.tgid);

	obs.hdr = &ev->hdr;
	obs.key = &ev->key;
	if (interpreted) {
		/* the kernel counts execs per executable: one entry for every
		 * program node runs. Such a tool is counted by its events (every
		 * exec is one), under a key of its own that no map entry has. */
		key = ev->key;
		key.hash ^= fnv1a64(ident);
		obs.key = &key;
		obs.new_map_entry = true;
	}
	obs.object = ident;
	obs.exe = ident;
	obs.argv = argv;
	obs.argc = argc;
	obs.argv_truncated = truncated;
	obs.n_lineage = proctree_lineage(p->procs, ev->hdr.tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	e = record_edge(p, EDGE_TOOL, &obs, &is_new);
	if (!e)
		warn_unrecorded("tool");
	else
		print_if_new(p, ev->hdr.cgroup_id, e, is_new);
}

static void print_if_new(struct pipeline *p, uint64_t cgroup_id, const struct edge *e, bool is_new)
{
	const struct cgroup_reach *c;

	if (!is_new || !p->events_out)
		return;
	c = observed_cgroup(p->observed, cgroup_id);
	if (c)
		output_edge_json(p->events_out, c, e);
}

/* Ports where an established connection means TLS is being spoken. */
static bool is_tls_port(uint16_t port)
{
	return port == 443 || port == 8443 || port == 6443 || port == 9443;
}

/* Which TLS library a process uses and whether reach sees its plaintext:
 * one edge per (cgroup, executable), "covered" or "blind" with the reason. */
/* since_ns: when the traffic began (a ClientHello's kernel time), 0 when
 * not known (a connect to a TLS port: the hello, if it comes, judges the
 * timing). A process whose library was probed only after its connection
 * began gets a coverage edge of its own ("<exe> (TLS before its probe)"),
 * tls-blind, and the identity a blind road: what it sent before the probe
 * is not seen, so its verdict cannot pass on it. The same exe's covered
 * edge stays as it is (an edge's class is fixed when it is made). */
static void record_tls_coverage(struct pipeline *p, const struct reach_event_hdr *hdr, const struct reach_dedup_key *key,
				const char *library, uint64_t since_ns)
{
	const char *why = NULL, *lineage[PROCTREE_LINEAGE_MAX];
	struct observation obs = { 0 };
	const char *exe = proctree_exe(p->procs, hdr->tgid);
	char object[600], reason[300];
	uint64_t late_ms = 0;
	bool is_new, blind;
	struct edge *e;

	if (!library)
		library = p->tls->library(p->tls_ctx, hdr->tgid, since_ns, key, &why, &late_ms);
	blind = !library || late_ms;
	obs.hdr = hdr;
	obs.key = key;
	obs.object = exe[0] ? exe : hdr->comm;
	obs.exe = exe;
	obs.category = library ? library : "none";
	obs.dest_class = blind ? "tls-blind" : "covered";
	obs.detail = why;
	if (late_ms) {
		p->stats.tls_before_probe++;
		snprintf(object, sizeof(object), "%.500s (TLS before its probe)", obs.object);
		snprintf(reason, sizeof(reason), "%s (probed %" PRIu64 " ms after the connection began)", why, late_ms);
		obs.object = object;
		obs.detail = reason;
	}
	obs.n_lineage = proctree_lineage(p->procs, hdr->tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	e = record_edge(p, EDGE_TLS, &obs, &is_new);
	if (e && is_new && blind) {
		char detail[COVERAGE_DETAIL_LEN];

		p->tls_blind_edges++; /* an edge's class is fixed when it is made */
		if (late_ms)
			log_warn("tls-blind: %s (pid %u): %s", obs.object, hdr->tgid, obs.detail);
		else
			log_warn("tls-blind: %s (pid %u) speaks TLS through %s", obs.object, hdr->tgid,
				 obs.detail ? obs.detail : "an unknown TLS library");
		/* the identity's blind road: credentials it sends are not seen */
		snprintf(detail, sizeof(detail), "%s: %s", obs.object, obs.detail ? obs.detail : "unknown TLS library");
		pipeline_note_road(p, hdr->cgroup_id, hdr->uid, "tls-blind", detail, unix_ms());
	}
	print_if_new(p, hdr->cgroup_id, e, is_new);
}

static void handle_egress(struct pipeline *p, const struct reach_egress_event *ev)
{
	const char *lineage[PROCTREE_LINEAGE_MAX];
	char address[64], object[96];
	struct observation obs = { 0 };
	struct netaddr addr;
	uint32_t ttl = 0;
	const char *name;
	struct edge *e;
	bool is_new;

	if ((ev->family != REACH_AF_INET && ev->family != REACH_AF_INET6) ||
	    (ev->proto != REACH_PROTO_TCP && ev->proto != REACH_PROTO_UDP && ev->proto != REACH_PROTO_ICMP &&
	     ev->proto != REACH_PROTO_ICMPV6) ||
	    ev->outcome >= REACH_OUT__MAX) {
		p->stats.malformed_events++;
		return;
	}
	netaddr_from_raw(&addr, ev->family, ev->daddr); /* v4-mapped v6 becomes v4 */
	netaddr_format(&addr, address, sizeof(address));
	snprintf(object, sizeof(object), "%s/%s/%u", edge_proto_name(ev->proto), address, ev->dport);
	name = dnsnames_get(p->dns, ev->hdr.cgroup_id, &addr, &ttl);

	obs.hdr = &ev->hdr;
	obs.key = &ev->key;
	obs.object = object;
	obs.exe = proctree_ident(p->procs, ev->hdr.tgid);
	obs.n_lineage = proctree_lineage(p->procs, ev->hdr.tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	obs.proto = ev->proto;
	obs.port = ev->dport;
	obs.source_port = ev->sport;
	obs.address = address;
	obs.name = name;
	obs.name_ttl = ttl;
	obs.name_source = name ? dnsnames_source(p->dns, ev->hdr.cgroup_id, &addr) : NAME_SOURCE_NONE;
	obs.dest_class = netclass_classify(p->netclass, &addr, ev->dport, name);
	obs.tag = ev->outcome;
	obs.new_map_entry = true;
	e = record_edge(p, EDGE_EGRESS, &obs, &is_new);
	if (!e)
		warn_unrecorded("egress");
	else
		print_if_new(p, ev->hdr.cgroup_id, e, is_new);
	if (e && is_new && e->name_source == NAME_SOURCE_SNI)
		p->stats.tls_hello_sni_named++;
	if (p->tls && ev->proto == REACH_PROTO_TCP && ev->outcome == REACH_OUT_ESTABLISHED && is_tls_port(ev->dport))
		record_tls_coverage(p, &ev->hdr, &ev->key, NULL, 0);
}

static const char *http_source_name(uint8_t source)
{
	return source == REACH_HTTP_OPENSSL  ? "openssl" :
	       source == REACH_HTTP_GNUTLS ? "gnutls" :
	       source == REACH_HTTP_GOTLS  ? "go-tls" :
					     "plaintext";
}

/* One credential-bearing request: an edge per credential it carried. key:
 * the kernel's dedup key of the capture, or NULL for a head joined from
 * pieces (not deduplicated in the kernel): then a key of the edge's own
 * (its object hashed, top bit set so that it never names a kernel entry),
 * whose count grows by one per request. */
/* Where a request came from: an HTTP/1 capture or an HTTP/2 frame. */
struct req_origin {
	const struct reach_event_hdr *hdr;
	const struct reach_dedup_key *key; /* the kernel's, for a whole HTTP/1 head; else NULL */
	uint8_t source;                    /* enum reach_http_source */
	uint8_t family;                    /* plaintext: the peer; TLS: 0 */
	uint16_t dport;
	const uint8_t *daddr;
	bool h2;
};

static void record_credential(struct pipeline *p, const struct req_origin *ev, const struct reach_dedup_key *key,
			      const struct http_request_head *h, const struct http_credential *c, const char *host,
			      uint16_t port)
{
	const char *lineage[PROCTREE_LINEAGE_MAX];
	struct observation obs = { 0 };
	struct edge_credential cred = { 0 };
	struct reach_dedup_key own;
	char object[1600];
	bool is_new;
	struct edge *e;

	snprintf(cred.method, sizeof(cred.method), "%s", h->method);
	snprintf(cred.path_template, sizeof(cred.path_template), "%s", h->path_template);
	snprintf(cred.host, sizeof(cred.host), "%s", host);
	snprintf(cred.kind, sizeof(cred.kind), "%s", c ? c->kind : "none");
	snprintf(cred.where, sizeof(cred.where), "%s", c ? c->where : "");
	snprintf(cred.fingerprint, sizeof(cred.fingerprint), "%s", c ? c->fingerprint : "");
	snprintf(cred.jwt_iss, sizeof(cred.jwt_iss), "%s", c ? c->jwt_iss : "");
	snprintf(cred.jwt_aud, sizeof(cred.jwt_aud), "%s", c ? c->jwt_aud : "");
	snprintf(cred.special, sizeof(cred.special), "%s", h->special);
	snprintf(cred.source, sizeof(cred.source), "%s", http_source_name(ev->source));
	snprintf(cred.proto, sizeof(cred.proto), "%s", ev->h2 ? "h2" : h->http_minor ? "http/1.1" : "http/1.0");
	/* edge key: host, method, path template, credential kind, fingerprint */
	snprintf(object, sizeof(object), "%s %s %s %s%s%s", host, h->method, h->path_template, cred.kind,
		 cred.fingerprint[0] ? " fp:" : "", cred.fingerprint);
	if (!key) {
		uint64_t hash = 0xcbf29ce484222325ULL ^ ev->source;

		for (const char *q = object; *q; q++)
			hash = (hash ^ (uint8_t)*q) * 0x100000001b3ULL;
		own = (struct reach_dedup_key){ .cgroup_id = ev->hdr->cgroup_id, .kind = REACH_EV_HTTP,
						.hash = hash | 1ULL << 63 };
		key = &own;
	}
	obs.hdr = ev->hdr;
	obs.key = key;
	obs.object = object;
	obs.category = ev->h2 ? "h2" : NULL; /* the protocol the edge was first seen over */
	obs.exe = proctree_ident(p->procs, ev->hdr->tgid);
	obs.n_lineage = proctree_lineage(p->procs, ev->hdr->tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	obs.name = host;
	obs.port = port;
	obs.cred = &cred;
	obs.new_map_entry = true;
	e = record_edge(p, EDGE_CREDENTIAL, &obs, &is_new);
	if (!e)
		warn_unrecorded("credential");
	else
		print_if_new(p, ev->hdr->cgroup_id, e, is_new);
}

/* The host a request went to (Host header, port kept; else the connected
 * address; else "?") and its port. */
static uint16_t request_host(const struct req_origin *ev, const struct http_request_head *h, char *host, size_t size)
{
	uint16_t port = ev->dport;

	if (h->host[0]) {
		const char *colon = strrchr(h->host, ':');

		snprintf(host, size, "%s", h->host);
		if (colon && !strchr(colon, ']'))
			port = (uint16_t)strtoul(colon + 1, NULL, 10);
		else if (!port)
			port = ev->source == REACH_HTTP_PLAINTEXT ? 80 : 443;
	} else if (ev->family) { /* no Host header: the connected destination */
		struct netaddr addr;

		netaddr_from_raw(&addr, ev->family, ev->daddr);
		netaddr_format(&addr, host, size);
	} else {
		snprintf(host, size, "?");
	}
	return port;
}

/* A parsed request (HTTP/1 head or HTTP/2 header block): counted, its
 * credentials recorded as fingerprints, its process's TLS covered. */
static void record_request(struct pipeline *p, const struct req_origin *ev, bool whole, const struct http_request_head *h)
{
	char host[300];
	uint16_t port = ev->dport;

	p->stats.http_creds_dropped += h->creds_dropped; /* beyond HTTP_MAX_CREDS: counted, never silent */
	if (ev->source != REACH_HTTP_PLAINTEXT && p->tls) {
		/* an HTTP/2 request has no kernel key: one of the edge's own
		 * (top bit set: never a kernel entry) */
		struct reach_dedup_key own = { .cgroup_id = ev->hdr->cgroup_id, .kind = REACH_EV_H2_FRAME,
					       .hash = (0x6832ULL ^ ev->source) | 1ULL << 63 };

		record_tls_coverage(p, ev->hdr, ev->key ? ev->key : &own, http_source_name(ev->source), 0);
	}
	port = request_host(ev, h, host, sizeof(host));
	for (int i = 0; i < h->n_creds; i++)
		record_credential(p, ev, whole ? ev->key : NULL, h, &h->creds[i], host, port);
	if (!h->n_creds && h->special[0]) /* secrets/token APIs stand out even without a credential seen */
		record_credential(p, ev, whole ? ev->key : NULL, h, NULL, host, port);
}

/* ---- LLM API calls and MCP over HTTP (issue #18) ---- */

#define JSON_POSTS_MAX 4096 /* heads waiting for their body; past it the table starts over (counted as orphans) */
#define H2_BODY_WAIT_MS 2000 /* an HTTP/2 JSON POST whose first DATA frame did not come by then: its blind road */

/* A JSON POST head whose body the kernel sends next (same tgid and
 * connection; on HTTP/2 the same stream too). Names only: no header value. */
struct json_post {
	char host[256];      /* without its port */
	char path[1024];     /* the path as the parser kept it (no query, secrets replaced) */
	char path_template[1024];
	uint16_t port;
	bool h2;
	/* HTTP/2: the kernel sends the first DATA frame only when it starts
	 * like JSON and the stream's DATA came in order, so a body may never
	 * come while the connection goes on: by due_ms, the road is named */
	int64_t due_ms;
	struct reach_event_hdr hdr; /* who (cgroup, uid, tgid, comm): for that road */
};

/* stream: the HTTP/2 stream, 0 for HTTP/1 (one request at a time) */
static void json_post_key(char *key, size_t size, uint32_t tgid, uint64_t conn, uint32_t stream)
{
	snprintf(key, size, "%u/%" PRIx64 "/%u", tgid, conn, stream);
}

/* The host without ":port" (IPv6 literals keep their brackets). */
static void host_no_port(const char *host, char *out, size_t size)
{
	const char *colon = strrchr(host, ':');
	size_t n = colon && !strchr(colon, ']') ? (size_t)(colon - host) : strlen(host);

	snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), host);
}

/* One LLM call: an edge "<provider> <host> <model>" ("?" when the model
 * was not read). Each call counts (a key of user space's own per edge). */
static void record_llm(struct pipeline *p, const struct reach_event_hdr *hdr, const char *provider, const char *host,
		       uint16_t port, const char *model, bool tools, bool h2)
{
	const char *lineage[PROCTREE_LINEAGE_MAX];
	struct observation obs = { 0 };
	struct reach_dedup_key key;
	char object[600];
	struct edge *e;
	bool is_new;

	snprintf(object, sizeof(object), "%s %s %s", provider, host, model[0] ? model : "?");
	p->stats.llm_calls++;
	key.cgroup_id = hdr->cgroup_id;
	key.kind = REACH_EV_HTTP_BODY;
	key.pad = 0;
	key.hash = fnv1a64(object) | 1ULL << 63; /* never a kernel entry */
	obs.hdr = hdr;
	obs.key = &key;
	obs.new_map_entry = true;
	obs.object = object;
	obs.category = provider; /* static */
	obs.name = host;
	obs.port = port;
	obs.detail = model[0] ? model : "?";
	obs.proto = h2;
	obs.open_flags = tools ? EDGE_LLM_F_TOOLS : 0;
	obs.exe = proctree_ident(p->procs, hdr->tgid);
	obs.n_lineage = proctree_lineage(p->procs, hdr->tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	e = record_edge(p, EDGE_LLM, &obs, &is_new);
	if (!e) {
		warn_unrecorded("llm");
		return;
	}
	print_if_new(p, hdr->cgroup_id, e, is_new);
}

/* A JSON POST whose body reach will not read (HTTP/2, whose DATA frames
 * the kernel skips; an HTTP/1 head longer than one capture or written in
 * pieces): never a silent road. To a known LLM API it is still an llm
 * edge, its model from the path or "?"; a model reach could not read is
 * the blind road llm-body-unseen. Any other JSON POST may have carried an
 * MCP tools/call: the blind road json-body-unseen. */
static void body_unseen(struct pipeline *p, const struct reach_event_hdr *hdr, const char *method, const char *bare,
			uint16_t port, const char *path, const char *path_template, bool json_body, bool h2,
			const char *why)
{
	char detail[COVERAGE_DETAIL_LEN];
	const char *ident = proctree_ident(p->procs, hdr->tgid);
	struct llm_call c;

	if (llm_classify(method, bare, path, &c)) {
		record_llm(p, hdr, c.provider, bare, port, c.model, false, h2);
		if (c.model[0])
			return;
		p->stats.llm_model_unseen++;
		snprintf(detail, sizeof(detail), "%.60s: %s call to %.60s %.60s: %s", ident[0] ? ident : hdr->comm,
			 c.provider, bare, path_template, why);
		pipeline_note_road(p, hdr->cgroup_id, hdr->uid, "llm-body-unseen", detail, unix_ms());
		return;
	}
	if (!json_body)
		return;
	snprintf(detail, sizeof(detail), "%.50s: JSON POST to %.50s %.50s: %.50s (an MCP tools/call in it is not seen)",
		 ident[0] ? ident : hdr->comm, bare, path_template, why);
	pipeline_note_road(p, hdr->cgroup_id, hdr->uid, "json-body-unseen", detail, unix_ms());
}

static void json_body_unseen(struct pipeline *p, const struct req_origin *o, const struct http_request_head *h,
			     const char *why)
{
	char host[300], bare[256];
	uint16_t port = request_host(o, h, host, sizeof(host));

	host_no_port(host, bare, sizeof(bare));
	body_unseen(p, o->hdr, h->method, bare, port, h->path, h->path_template, h->json_body, o->h2, why);
}

/* An HTTP/2 JSON POST whose body did not come (see struct json_post). */
static void json_post_unseen(struct pipeline *p, const struct json_post *jp, const char *why)
{
	body_unseen(p, &jp->hdr, "POST", jp->host, jp->port, jp->path, jp->path_template, true, true, why);
}

/* A JSON POST head: its body comes next from the kernel (whole heads), or
 * never (pieces, HTTP/2). */
static void json_post_head(struct pipeline *p, const struct req_origin *o, uint64_t conn, uint32_t stream,
			   bool body_due, const struct http_request_head *h)
{
	struct json_post *jp;
	char key[48], host[300];
	void *old = NULL;

	if (strcmp(h->method, "POST") != 0)
		return;
	if (!body_due) {
		json_body_unseen(p, o, h, o->h2 ? "HTTP/2 request without a body"
						: "HTTP/1 head longer than one capture or written in pieces: body not read");
		return;
	}
	if (!h->json_body) {
		/* a POST to a known LLM API that does not say JSON: still
		 * named. Over HTTP/2 its body may still come (the kernel takes
		 * any that starts like JSON); over HTTP/1 the kernel took none */
		char bare[256];
		struct llm_call c;

		request_host(o, h, host, sizeof(host));
		host_no_port(host, bare, sizeof(bare));
		if (!llm_classify(h->method, bare, h->path, &c))
			return;
		if (!o->h2) {
			json_body_unseen(p, o, h, "no JSON content type: body not read");
			return;
		}
	}
	if (!(jp = calloc(1, sizeof(*jp))))
		return;
	jp->port = request_host(o, h, host, sizeof(host));
	host_no_port(host, jp->host, sizeof(jp->host));
	snprintf(jp->path, sizeof(jp->path), "%s", h->path);
	snprintf(jp->path_template, sizeof(jp->path_template), "%s", h->path_template);
	jp->h2 = o->h2;
	jp->hdr = *o->hdr;
	jp->due_ms = unix_ms() + H2_BODY_WAIT_MS;
	if (hmap_count(p->json_posts) >= JSON_POSTS_MAX) {
		p->stats.http_bodies_orphan += hmap_count(p->json_posts); /* bounded: heads forgotten, counted */
		hmap_free(p->json_posts, free);
		p->json_posts = hmap_new();
	}
	json_post_key(key, sizeof(key), o->hdr->tgid, conn, stream);
	if (!p->json_posts || hmap_put(p->json_posts, key, jp, &old))
		free(jp);
	if (old)
		p->stats.http_bodies_orphan++; /* a head whose body never came (an empty body) */
	free(old);
}

/* A process ended: the JSON POST heads it left waiting (a body never
 * written) are forgotten and counted. */
static void json_posts_forget(struct pipeline *p, uint32_t tgid)
{
	char prefix[16], *keys[64];
	struct hmap_iter it;
	const char *key;
	size_t n, plen;
	void *v;

	if (!p->json_posts || !hmap_count(p->json_posts))
		return;
	plen = (size_t)snprintf(prefix, sizeof(prefix), "%u/", tgid);
	do { /* a few at a time: no removal while iterating */
		n = 0;
		hmap_iter_init(&it, p->json_posts);
		while (n < 64 && hmap_iter_next(&it, &key, &v))
			if (!strncmp(key, prefix, plen) && (keys[n] = strdup(key)))
				n++;
		for (size_t i = 0; i < n; i++) {
			struct json_post *jp = hmap_remove(p->json_posts, keys[i]);

			if (jp && jp->h2)
				json_post_unseen(p, jp, "HTTP/2 request body not read (process ended first)");
			else
				p->stats.http_bodies_orphan++;
			free(jp);
			free(keys[i]);
		}
	} while (n == 64);
}

/* HTTP/2 JSON POSTs whose first DATA frame did not come in time (it did
 * not start like JSON, came after a later stream's, or was lost): their
 * blind road, never a silent one. HTTP/1 heads wait for their process. */
static void json_posts_sweep(struct pipeline *p, int64_t now_ms)
{
	char *keys[64];
	struct hmap_iter it;
	const char *key;
	size_t n;
	void *v;

	if (!p->json_posts || !hmap_count(p->json_posts))
		return;
	do {
		n = 0;
		hmap_iter_init(&it, p->json_posts);
		while (n < 64 && hmap_iter_next(&it, &key, &v)) {
			const struct json_post *jp = v;

			if (jp->h2 && jp->due_ms <= now_ms && (keys[n] = strdup(key)))
				n++;
		}
		for (size_t i = 0; i < n; i++) {
			struct json_post *jp = hmap_remove(p->json_posts, keys[i]);

			if (jp)
				json_post_unseen(p, jp, "HTTP/2 request body not read");
			free(jp);
			free(keys[i]);
		}
	} while (n == 64);
}

void pipeline_sweep_bodies(struct pipeline *p, int64_t now_ms)
{
	json_posts_sweep(p, now_ms);
}

struct body_ctx {
	struct pipeline *p;
	const struct reach_http_body_event *ev;
	const struct json_post *jp;
	size_t calls;
};

/* An MCP tools/call as an mcp-tool edge "<server> <tool>" (over stdio, a
 * unix socket or HTTP: proto), its argument names and their values' shapes
 * (mcp/jsonrpc.h: templates and fingerprints, never values). Each call
 * counts: the key is user space's own, one per (cgroup, server, tool), kept
 * apart from the kernel's keys of the same kind (kind). NULL when not recorded. */
static struct edge *record_mcp_call(struct pipeline *p, const struct reach_event_hdr *hdr, uint32_t kind,
				    const char *object, const char *server_info, uint8_t proto, uint16_t port,
				    const struct jsonrpc_msg *m, bool *is_new)
{
	const char *lineage[PROCTREE_LINEAGE_MAX];
	struct observation obs = { 0 };
	struct reach_dedup_key key = { .cgroup_id = hdr->cgroup_id, .kind = kind };
	struct edge *e;

	p->stats.mcp_calls++;
	/* HTTP bodies: the top bit keeps these keys off any the kernel made */
	key.hash = kind == REACH_EV_HTTP_BODY ? fnv1a64(object) | 1ULL << 63 : fnv1a64(object);
	obs.hdr = hdr;
	obs.key = &key;
	obs.new_map_entry = true;
	obs.object = object;
	obs.name = server_info;
	obs.proto = proto;
	obs.port = port;
	obs.detail = m->args_unknown ? "?" : m->args;
	obs.exe = proctree_ident(p->procs, hdr->tgid);
	obs.n_lineage = proctree_lineage(p->procs, hdr->tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	if (!(e = record_edge(p, EDGE_MCP, &obs, is_new)))
		warn_unrecorded("mcp-tool");
	/* the argument values' shapes (never a value); a call cut before
	 * its arguments ended adds none */
	else if (!m->args_unknown && observed_mcp_shapes(p->observed, e, m->shapes) != 0)
		p->stats.mcp_arg_shapes_dropped++;
	return e;
}

/* A JSON-RPC message in a POST body: MCP over streamable HTTP. A
 * tools/call is an mcp-tool edge whose server is host and path. */
static void on_http_jsonrpc(void *vctx, const struct jsonrpc_msg *m)
{
	struct body_ctx *c = vctx;
	struct pipeline *p = c->p;
	const struct reach_http_body_event *ev = c->ev;
	char server[700], object[900];
	struct edge *e;
	bool is_new;

	if (m->kind != JSONRPC_TOOLS_CALL)
		return;
	c->calls++;
	snprintf(server, sizeof(server), "%.200s%.400s", c->jp->host, c->jp->path_template);
	snprintf(object, sizeof(object), "%s %s", server, m->tool);
	if (!(e = record_mcp_call(p, &ev->hdr, REACH_EV_HTTP_BODY, object, NULL, EDGE_MCP_HTTP, c->jp->port, m, &is_new)))
		return;
	print_if_new(p, ev->hdr.cgroup_id, e, is_new);
}

/* The first bytes of a JSON POST's body: an MCP tools/call (JSON-RPC) or
 * an LLM API request; read into a private copy, names taken, wiped. */
static void handle_http_body(struct pipeline *p, const struct reach_http_body_event *ev)
{
	size_t len = ev->len < REACH_HTTP_BODY_LEN ? ev->len : REACH_HTTP_BODY_LEN, skip = 0;
	bool cut = ev->flags & REACH_HTTP_BODY_F_CUT, h2 = ev->flags & REACH_HTTP_BODY_F_H2;
	uint8_t body[REACH_HTTP_BODY_LEN];
	struct json_post *jp;
	struct llm_call call;
	struct llm_body b;
	char key[64];

	json_post_key(key, sizeof(key), ev->hdr.tgid, ev->conn, h2 ? ev->stream_id : 0);
	if (!(jp = hmap_remove(p->json_posts, key))) {
		/* its head lost or forgotten; on HTTP/2 mostly a stream that
		 * was no JSON POST (the kernel cannot tell): counted, skipped */
		if (h2)
			p->stats.h2_bodies_unpaired++;
		else
			p->stats.http_bodies_orphan++;
		return;
	}
	if (h2 && (ev->frame_flags & H2_FLAG_PADDED)) {
		/* RFC 9113 6.1: a pad length, then the data, then the padding
		 * (cut off only when the whole frame is here) */
		size_t pad = len ? ev->payload[0] : 0;

		skip = 1;
		if (len < 1 || (!cut && pad + 1 > len)) {
			p->stats.http_bodies_malformed++;
			json_post_unseen(p, jp, "HTTP/2 DATA frame malformed");
			free(jp);
			return;
		}
		len -= 1;
		if (!cut)
			len -= pad;
	}
	p->stats.http_bodies++;
	memcpy(body, ev->payload + skip, len);
	if (llm_classify("POST", jp->host, jp->path, &call)) {
		if (llm_body_scan(body, len, &b))
			p->stats.http_bodies_malformed++;
		if (!call.model[0])
			snprintf(call.model, sizeof(call.model), "%s", b.model);
		record_llm(p, &ev->hdr, call.provider, jp->host, jp->port, call.model, b.tools_offered, jp->h2);
		if (!call.model[0]) {
			char detail[COVERAGE_DETAIL_LEN];
			const char *ident = proctree_ident(p->procs, ev->hdr.tgid);

			p->stats.llm_model_unseen++;
			snprintf(detail, sizeof(detail), "%.60s: %s call to %.60s %.60s: %s",
				 ident[0] ? ident : ev->hdr.comm, call.provider, jp->host, jp->path_template,
				 len == 0 ? "body not read" : cut ? "no model in the body's first bytes" : "no model in the body");
			pipeline_note_road(p, ev->hdr.cgroup_id, ev->hdr.uid, "llm-body-unseen", detail, unix_ms());
		}
	} else {
		struct body_ctx c = { p, ev, jp, 0 };
		struct jsonrpc_counts counts = { 0 };

		jsonrpc_extract(body, len, cut, &p->fp_key, on_http_jsonrpc, &c, &counts);
		p->stats.jsonrpc_messages += counts.messages;
		p->stats.jsonrpc_truncated += counts.truncated;
		p->stats.mcp_arg_shapes_cut += counts.shapes_cut;
		if (!counts.messages)
			p->stats.http_bodies_malformed++; /* JSON, not an LLM request nor JSON-RPC: nothing to keep */
		if (counts.calls_undecoded) {
			char detail[COVERAGE_DETAIL_LEN];

			p->stats.mcp_calls_undecoded += counts.calls_undecoded;
			snprintf(detail, sizeof(detail), "%.80s: MCP tools/call over HTTP to %.60s longer than %d bytes "
				 "before its tool name", proctree_ident(p->procs, ev->hdr.tgid), jp->host, REACH_HTTP_BODY_LEN);
			pipeline_note_road(p, ev->hdr.cgroup_id, ev->hdr.uid, "mcp-undecoded", detail, unix_ms());
		}
	}
	explicit_bzero(body, len);
	explicit_bzero(&b, sizeof(b));
	free(jp);
}

/* What a head came with: the event (who, where to) and whether the kernel
 * deduplicated it (whole) or it was joined from pieces. */
struct head_ctx {
	struct pipeline *p;
	const struct reach_http_event *ev;
	bool whole;
};

/* One request head (an http_head_fn): parsed, its credentials recorded as
 * fingerprints, the private copy wiped. */
static void on_head(void *arg, const uint8_t *buf, size_t len, bool cut)
{
	struct head_ctx *hc = arg;
	struct pipeline *p = hc->p;
	const struct reach_http_event *ev = hc->ev;
	struct req_origin o = { &ev->hdr, &ev->key, ev->source, ev->family, ev->dport, ev->daddr, false };
	uint8_t head[HTTP_REASM_MAX];
	struct http_request_head h;
	int rc;

	if (len > sizeof(head))
		len = sizeof(head);
	/* one private copy, parsed and wiped at once: credentials leave this
	 * function as keyed fingerprints only */
	memcpy(head, buf, len);
	rc = http_parse_request_head(head, len, &p->fp_key, &h);
	explicit_bzero(head, len);
	if (rc) {
		p->stats.http_malformed++; /* counted and skipped */
		return;
	}
	if (ev->flags & REACH_HTTP_F_REPEAT) {
		/* a JSON POST head the kernel counted already: only what
		 * its body belongs to */
		json_post_head(p, &o, ev->conn, 0, true, &h);
		explicit_bzero(&h, sizeof(h));
		return;
	}
	p->stats.http_requests++;
	if (h.truncated || h.path_truncated || cut)
		p->stats.http_truncated++;
	record_request(p, &o, hc->whole, &h);
	/* a whole head (one event) of a JSON POST: the kernel sends its body */
	json_post_head(p, &o, ev->conn, 0, hc->whole && !h.truncated, &h);
	explicit_bzero(&h, sizeof(h));
}

static void handle_http(struct pipeline *p, const struct reach_http_event *ev)
{
	size_t len = ev->len < REACH_HTTP_LEN ? ev->len : REACH_HTTP_LEN;
	struct head_ctx hc = { p, ev, true };
	struct http_reasm_stats before, after;
	size_t heads;

	/* flags 0: a capture of one write, as WHOLE */
	if (!(ev->flags & (REACH_HTTP_F_START | REACH_HTTP_F_CONT)) || !p->reasm) {
		if (p->reasm)
			http_reasm_cut(p->reasm, ev->hdr.tgid, ev->conn, on_head, &hc);
		heads = http_heads_each(ev->payload, len, on_head, &hc);
		if (!heads)
			p->stats.http_malformed++; /* not a request at all */
		return;
	}
	hc.whole = false;
	http_reasm_stats(p->reasm, &before);
	http_reasm_add(p->reasm, ev->hdr.tgid, ev->conn, ev->offset, ev->flags & REACH_HTTP_F_START,
		       ev->flags & REACH_HTTP_F_MORE, ev->payload, len, on_head, &hc);
	http_reasm_stats(p->reasm, &after);
	p->stats.http_pieces++;
	p->stats.http_pieces_lost += (after.gaps - before.gaps) + (after.evicted - before.evicted);
}

/* A ClientHello on a TCP socket: the connection speaks TLS whatever its
 * port, so its process gets a TLS coverage edge (covered by a probed
 * library, else tls-blind with the reason), and its SNI names the address
 * for this cgroup's later edges when DNS did not, and the egress edge of
 * this very connection (made at connect(), before the hello), with
 * name_source "sni": the client's claim, not a resolver's answer. */
static void handle_tls_hello(struct pipeline *p, const struct reach_tls_hello_event *ev)
{
	size_t len = ev->len < REACH_TLS_HELLO_LEN ? ev->len : REACH_TLS_HELLO_LEN;
	char sni[256];
	struct netaddr addr;
	uint32_t ttl;

	if (ev->family != REACH_AF_INET && ev->family != REACH_AF_INET6) {
		p->stats.malformed_events++;
		return;
	}
	if (p->tls)
		record_tls_coverage(p, &ev->hdr, &ev->key, NULL, ev->hdr.ts_ns);
	if (tls_hello_sni(ev->payload, len, sni, sizeof(sni)) == 0) {
		p->stats.tls_hello_sni++;
		netaddr_from_raw(&addr, ev->family, ev->daddr);
		if (!dnsnames_get(p->dns, ev->hdr.cgroup_id, &addr, &ttl))
			dnsnames_put_from(p->dns, ev->hdr.cgroup_id, &addr, sni, 300, NAME_SOURCE_SNI);
		if (dnsnames_source(p->dns, ev->hdr.cgroup_id, &addr) == NAME_SOURCE_SNI) {
			char address[64], object[96];

			netaddr_format(&addr, address, sizeof(address));
			snprintf(object, sizeof(object), "%s/%s/%u", edge_proto_name(REACH_PROTO_TCP), address, ev->dport);
			if (observed_name_edge(p->observed, ev->hdr.cgroup_id, EDGE_EGRESS, object, sni, NAME_SOURCE_SNI,
					       ev->hdr.ts_ns) > 0)
				p->stats.tls_hello_sni_named++;
		}
	}
}

/* An HTTP/2 connection whose requests reach cannot decode (the kernel had
 * no room to follow it, or it was lost: a frame missing, its start not
 * seen, HPACK out of step): the process's credentials on it are not seen.
 * A coverage edge of its own ("<exe> (http/2)"), class tls-blind with the
 * reason, and the identity's blind road http2-undecoded, so that its
 * verdict is inconclusive rather than a silent pass, even when the same
 * process is covered for its other traffic. */
static void h2_undecoded(struct pipeline *p, const struct reach_event_hdr *hdr, const struct reach_dedup_key *key,
			 uint8_t source, const char *why)
{
	const char *lineage[PROCTREE_LINEAGE_MAX];
	const char *exe = proctree_exe(p->procs, hdr->tgid);
	struct observation obs = { 0 };
	char object[600], reason[200];
	struct edge *e;
	bool is_new;

	p->stats.h2_undecodable++;
	snprintf(object, sizeof(object), "%s (http/2)", exe[0] ? exe : hdr->comm);
	snprintf(reason, sizeof(reason), "HTTP/2 not decoded: %s: credentials sent on it are not seen", why);
	obs.hdr = hdr;
	obs.key = key;
	obs.object = object;
	obs.exe = exe;
	obs.category = http_source_name(source);
	obs.dest_class = "tls-blind";
	obs.detail = reason;
	obs.n_lineage = proctree_lineage(p->procs, hdr->tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	e = record_edge(p, EDGE_TLS, &obs, &is_new);
	if (!e) {
		warn_unrecorded("tls");
		return;
	}
	if (is_new) {
		char detail[COVERAGE_DETAIL_LEN];

		p->tls_blind_edges++;
		log_warn("h2_undecodable: %s (pid %u) speaks HTTP/2 (%s) reach cannot decode (%s): its credentials are "
			 "not seen",
			 object, hdr->tgid, http_source_name(source), why);
		/* the identity's blind road, as for TLS through an unprobed library */
		snprintf(detail, sizeof(detail), "%.200s: HTTP/2 not decoded: %s", object, why);
		pipeline_note_road(p, hdr->cgroup_id, hdr->uid, "http2-undecoded", detail, unix_ms());
	}
	print_if_new(p, hdr->cgroup_id, e, is_new);
}

/* The kernel could not follow an HTTP/2 connection: no room in h2_conns,
 * or its start was not seen. */
static void handle_h2(struct pipeline *p, const struct reach_h2_event *ev)
{
	h2_undecoded(p, &ev->hdr, &ev->key, ev->source,
		     ev->why == REACH_H2_WHY_MIDSTREAM ? "connection start not seen" : "not followed in the kernel (no room)");
}

struct h2_ctx {
	struct pipeline *p;
	const struct reach_h2_frame_event *ev;
};

/* One decoded HTTP/2 request (an h2_request_fn): read by the HTTP/1
 * credential detector, recorded like an HTTP/1 request. */
static void on_h2_request(void *arg, const struct h2_request *r)
{
	struct h2_ctx *hc = arg;
	struct pipeline *p = hc->p;
	const struct reach_h2_frame_event *ev = hc->ev;
	struct req_origin o = { &ev->hdr, NULL, ev->source, ev->family, ev->dport, ev->daddr, true };
	struct http_field_ref f[H2_MAX_FIELDS];
	struct http_request_head h;
	int rc;

	for (size_t i = 0; i < r->n_fields && i < H2_MAX_FIELDS; i++) {
		f[i].name = (const char *)r->fields[i].name;
		f[i].name_len = r->fields[i].name_len;
		f[i].value = (const char *)r->fields[i].value;
		f[i].value_len = r->fields[i].value_len;
	}
	rc = r->malformed || r->method.value_len >= sizeof(h.method)
		     ? -EBADMSG
		     : http_parse_request_fields((const char *)r->method.value, r->method.value_len,
						 (const char *)r->path.value, r->path.value_len,
						 (const char *)r->authority.value, r->authority.value_len, f,
						 r->n_fields < H2_MAX_FIELDS ? r->n_fields : H2_MAX_FIELDS, &p->fp_key, &h);
	explicit_bzero(f, sizeof(f));
	if (rc) {
		p->stats.h2_malformed++; /* counted and skipped, as a malformed HTTP/1 head */
		return;
	}
	p->stats.h2_requests++;
	if (r->fields_dropped || h.path_truncated)
		p->stats.http_truncated++;
	record_request(p, &o, false, &h);
	/* its body: the kernel sends the stream's first DATA frame when it
	 * starts like JSON; a request that ended with its HEADERS has none */
	json_post_head(p, &o, ev->conn, r->stream_id, !r->end_stream, &h);
	explicit_bzero(&h, sizeof(h));
}

/* A piece of an HTTP/2 header frame: joined, decoded per connection; a
 * connection lost on the way is the identity's blind road. */
static void handle_h2_frame(struct pipeline *p, const struct reach_h2_frame_event *ev)
{
	struct h2_ctx hc = { p, ev };
	struct h2_piece pc = {
		.seq = ev->seq,
		.preface = ev->flags & REACH_H2_F_PREFACE,
		.lost = ev->flags & REACH_H2_F_LOST,
		.type = ev->frame_type,
		.flags = ev->frame_flags,
		.stream_id = ev->stream_id,
		.frame_len = ev->frame_len,
		.frag_off = ev->frag_off,
		.data = ev->payload,
		.len = ev->len,
	};
	const char *why = NULL;

	if (ev->len > REACH_HTTP_LEN) {
		p->stats.malformed_events++;
		return;
	}
	if (!p->h2 || h2_conns_add(p->h2, ev->hdr.tgid, ev->conn, &pc, on_h2_request, &hc, &why)) {
		struct reach_dedup_key own = { .cgroup_id = ev->hdr.cgroup_id, .kind = REACH_EV_H2_FRAME,
					       .hash = (0x6c6f7374ULL ^ ev->source) | 1ULL << 63 };

		h2_undecoded(p, &ev->hdr, &own, ev->source, why ? why : "no decoder");
	}
}

/* A secret's file under a new name (link, rename: reach_link_event), its
 * inode still to learn: the cgroup stays tainted in the kernel (its opens
 * all come here) until then. The kernel counts a cgroup's link events; the
 * agent credits back each one it has handled, but only when no name of that
 * cgroup is pending any more (the credit waits on a pending entry): a lift
 * for one name must not uncover another's. */
#define PIPELINE_LINKS_MAX 1024
#define PIPELINE_LINKS_PER_CGROUP 32 /* one workload's names cannot take the others' room */
#define PIPELINE_LINK_WALKS_PER_S 10
#define PIPELINE_LINK_WALKS_BURST 20

struct pending_link {
	uint64_t cgroup_id;
	uint64_t credit;  /* link events of the cgroup handled, not yet credited to the kernel */
	uint32_t uid;
	uint32_t tid;     /* the thread whose link it is: its outcome event names it */
	bool awaiting;    /* judged at the enter: the file may not have the new name yet */
	int64_t look_after_ms; /* monotonic: a stat that cannot say waits for an open, looked at again after */
	bool is_link;     /* a link: the old name stays the file's too (not a rename) */
	bool unsure;      /* the old name may not be the file's (followed, a descriptor's, ".."): the file decides */
	bool nameless;    /* the kernel saw the followed descriptor's file had no name (O_TMPFILE) */
	char *new_abs;    /* where the file is now, absolute in the linker's root */
	char *old_stable; /* the name it had, stable: classed */
	const char *category;
};

/* n more link events of the cgroup handled: credited to the kernel, or held
 * by a pending entry of the cgroup until it is done */
static void link_ack(struct pipeline *p, uint64_t cgroup_id, uint64_t n)
{
	for (size_t i = 0; i < p->n_links; i++) {
		if (p->links[i].cgroup_id == cgroup_id) {
			p->links[i].credit += n;
			return;
		}
	}
	if (n && p->dedup->ack_link && p->dedup->ack_link(p->dedup_ctx, cgroup_id, n))
		log_warn("cgroup %llu: link events not credited back: its opens stay tainted",
			 (unsigned long long)cgroup_id);
}

/* The new name cannot be followed: the identity's blind road (its reads
 * under it would be judged by that name). */
static void link_road(struct pipeline *p, const struct reach_event_hdr *hdr, uint64_t cgroup_id, uint32_t uid,
		      const char *old_name, const char *new_name, const char *why)
{
	char detail[COVERAGE_DETAIL_LEN];

	snprintf(detail, sizeof(detail), "%.100s -> %.100s: %s", old_name, new_name, why);
	log_warn("blind road renamed-secret: %s (pid %u)", detail, hdr ? hdr->tgid : 0);
	pipeline_note_road(p, cgroup_id, uid, "renamed-secret", detail, unix_ms());
}

/* Pending link i out of the table (the last one takes its place) */
static void link_remove(struct pipeline *p, size_t i)
{
	free(p->links[i].new_abs);
	free(p->links[i].old_stable);
	p->links[i] = p->links[--p->n_links];
}

/* Pending link i is done: forgotten, and the cgroup's taint lifted if it
 * was the last of the cgroup. */
static void link_done(struct pipeline *p, size_t i)
{
	uint64_t cgroup_id = p->links[i].cgroup_id, credit = p->links[i].credit;

	link_remove(p, i);
	link_ack(p, cgroup_id, credit);
}

/* Whether pending link l's move maps the path name (its new name itself, or
 * a path under it when l moved a directory): then the file's first name in
 * out. */
static bool link_maps(const struct pending_link *l, const char *name, char *out, size_t n)
{
	size_t k = strlen(l->new_abs);

	if (strncmp(l->new_abs, name, k) || (name[k] && name[k] != '/'))
		return false;
	return (size_t)snprintf(out, n, "%s%s", l->old_stable, name + k) < n;
}

/* A renamed directory's file, classed by the name it had: seed_found, a
 * secret's inode the kernel could not be told of remembered as a failure. */
struct link_walk {
	struct pipeline *p;
	bool failed;
};

static bool link_walk_found(void *ctx, const struct reach_inode_key *k, const char *abs_path)
{
	struct link_walk *w = ctx;
	int rc = seed_class(w->p, k, abs_path);

	if (rc < 0)
		w->failed = true;
	return rc != 0;
}

/* What the file now at a pending link's new name is: nothing to do (NULL),
 * or why it cannot be followed. stx: its statx; rootfd, mt: the linker's
 * root and mounts. */
static const char *link_judge_file(struct pipeline *p, const struct pending_link *l, const struct statx *stx,
				   int rootfd, const struct mount_table *mt, bool *wait)
{
	struct reach_inode_key key = { .dev = mounts_kdev(stx), .ino = stx->stx_ino };
	struct statx old;
	char ikey[48];
	int fd;

	/* a stat's device that is no mount's (a btrfs subvolume, an overlay's
	 * layer on another filesystem) is not the kernel's s_dev: its key
	 * would match no open. The entry waits for an open of the new name
	 * (links_take_open: the kernel's own inode), the cgroup tainted. */
	if (!mount_table_has_dev(mt, key.dev)) {
		*wait = true;
		return NULL;
	}
	inode_key_str(&key, ikey);
	if (p->secret_inodes && hmap_get(p->secret_inodes, ikey))
		return NULL; /* a known secret: the kernel knows every name of it */
	if (l->category) /* a secret's name (a followed one too: taken at its word) */
		return remember_secret_inode(p, &key, l->old_stable, l->category)
			       ? "the secret's inode could not be kept in the kernel"
			       : NULL;
	if (!l->unsure || l->nameless)
		return NULL; /* a file whose old name is no secret's; a link of a nameless file (O_TMPFILE) */
	/* a link through a name that may not be the file's: fine when that name
	 * (not followed) is this very file, and no secret's */
	fd = l->is_link ? mounts_open_beneath(rootfd, l->old_stable, mt, O_PATH, &old) : -EINVAL;
	if (fd >= 0) {
		close(fd);
		if (mounts_kdev(&old) == key.dev && old.stx_ino == key.ino)
			return NULL;
	}
	return "a file linked through a name that may not be its own (a symlink followed, a descriptor, \"..\"): "
	       "which file it was is unknown";
}

/* Has the agent handled every link event the kernel counted for the cgroup
 * (none in the ring still; with sent, none counted since that count was
 * read)? Only then does what is at a new name now say what the move left
 * there. The count read goes to *count_out (NULL: not wanted). */
static bool links_caught_up(struct pipeline *p, uint64_t cgroup_id, uint64_t sent, uint64_t *count_out)
{
	uint64_t count = 0, acked, held = 0;
	bool read = !p->dedup->link_counts || !p->dedup->link_counts(p->dedup_ctx, cgroup_id, &count, &acked);

	if (count_out)
		*count_out = count;
	if (!p->dedup->link_counts)
		return true;
	if (!read)
		return false;
	for (size_t i = 0; i < p->n_links; i++)
		if (p->links[i].cgroup_id == cgroup_id)
			held += p->links[i].credit;
	return count <= acked + held && (!sent || count == sent);
}

/* Pending link i through tgid's root: the file at its new name judged
 * (link_judge_file), a renamed directory's files walked, or a road; false
 * when tgid is gone (kept for the next process of the cgroup). sent: the
 * kernel's count when the look began. */
static bool link_resolve(struct pipeline *p, size_t i, uint32_t tgid, uint64_t sent)
{
	struct pending_link *l = &p->links[i];
	struct mount_table mt = { 0 };
	const char *why = NULL;
	bool wait = false;
	struct statx stx;
	char root[64];
	int rootfd, fd;

	snprintf(root, sizeof(root), "/proc/%u/root", tgid);
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 || mount_table_of(&mt, tgid)) {
		if (rootfd >= 0)
			close(rootfd);
		mount_table_free(&mt);
		return false;
	}
	fd = mounts_open_beneath(rootfd, l->new_abs, &mt, O_PATH, &stx);
	if (fd < 0) {
		why = fd == -ENOENT ? "gone from the new name before reach found it" : strerror(-fd);
	} else if (S_ISDIR(stx.stx_mode)) {
		/* its files, each classed by the name it had */
		char old_dir[REACH_BASE_LEN + REACH_PATH_LEN + 2], new_dir[REACH_BASE_LEN + REACH_PATH_LEN + 2];
		struct link_walk w = { .p = p };
		int rc;

		snprintf(old_dir, sizeof(old_dir), "%s/", l->old_stable);
		snprintf(new_dir, sizeof(new_dir), "%s/", l->new_abs);
		/* a workload renaming such directories in a loop gets the road,
		 * not the agent's loop */
		if (l->unsure)
			rc = -EINVAL;
		else if (!bucket_ready(&p->link_walks, (int64_t)(now_s() * 1000), PIPELINE_LINK_WALKS_PER_S,
				       PIPELINE_LINK_WALKS_BURST))
			rc = -EBUSY;
		else if ((rc = seeds_walk_renamed(tgid, old_dir, new_dir, link_walk_found, &w)) != -ESRCH)
			bucket_spend(&p->link_walks);
		if (rc == -ESRCH) {
			close(fd);
			close(rootfd);
			mount_table_free(&mt);
			return false;
		}
		why = rc == -EINVAL  ? "a directory renamed from a name with \"..\": its files' names unknown"
		      : rc == -E2BIG ? "a directory with more files than reach walks"
		      : rc == -EBUSY ? "directories renamed faster than reach walks them"
		      : rc	     ? strerror(-rc)
		      : w.failed     ? "a secret's inode could not be kept in the kernel"
				     : NULL;
	} else {
		why = link_judge_file(p, l, &stx, rootfd, &mt, &wait);
	}
	if (fd >= 0)
		close(fd);
	close(rootfd);
	mount_table_free(&mt);
	/* a link event counted since the check before: what was looked at may
	 * be its doing (the file moved on, a decoy swapped in): not done */
	if (wait)
		l->look_after_ms = (int64_t)(now_s() * 1000) + 1000; /* not a mountinfo read per open */
	if (wait || !links_caught_up(p, l->cgroup_id, sent, NULL))
		return true;
	if (why)
		link_road(p, NULL, l->cgroup_id, l->uid, l->old_stable, l->new_abs, why);
	link_done(p, i);
	return true;
}

/* A process of cgroup_id is about (exec) or known (an open of it) to be
 * alive: the cgroup's pending links through its root (not those whose
 * syscall has not ended: the new name may not be there yet). */
static bool link_due(const struct pending_link *l, uint64_t cgroup_id, int64_t now_ms)
{
	return l->cgroup_id == cgroup_id && !l->awaiting && l->look_after_ms <= now_ms;
}

static void links_resolve_for(struct pipeline *p, uint64_t cgroup_id, uint32_t tgid)
{
	int64_t now = (int64_t)(now_s() * 1000);
	bool any = false;
	uint64_t sent;
	size_t n;

	for (size_t i = 0; i < p->n_links && !any; i++)
		any = link_due(&p->links[i], cgroup_id, now);
	/* events of the cgroup still in the ring: the names are looked at once
	 * they are handled (handle_link resolves again) */
	if (!any || !links_caught_up(p, cgroup_id, 0, &sent))
		return;
	for (size_t i = 0; i < p->n_links;) {
		n = p->n_links;
		if (link_due(&p->links[i], cgroup_id, now) && link_resolve(p, i, tgid, sent) && p->n_links < n)
			continue; /* i now holds the last one */
		i++;
	}
}

/* An open of the cgroup that resolved to a pending new name, or to a file
 * under a pending directory's: the kernel read its inode from the opened
 * file, so the reader need not outlive the event, and the open may come
 * before the link's syscall ended. The file is what it was called under the
 * old name (a secret's name taken at its word; a name reach is unsure of
 * still goes through a process). A file's pending link is done by it once
 * its syscall has ended; a directory's is walked still. */
static void links_take_open(struct pipeline *p, uint64_t cgroup_id, const char *abs,
			    const struct reach_inode_key *inode)
{
	for (size_t i = 0; i < p->n_links;) {
		struct pending_link *l = &p->links[i];
		char old[2 * (REACH_BASE_LEN + REACH_PATH_LEN)];
		const char *category;
		bool file;

		if (l->cgroup_id != cgroup_id || l->unsure || !link_maps(l, abs, old, sizeof(old))) {
			i++;
			continue;
		}
		file = !strcmp(l->new_abs, abs);
		category = file ? l->category : catalog_match(p->catalog, old);
		if (category && remember_secret_inode(p, inode, old, category))
			link_road(p, NULL, l->cgroup_id, l->uid, l->old_stable, l->new_abs,
				  "the secret's inode could not be kept in the kernel");
		if (file && category && !l->awaiting) {
			link_done(p, i);
			continue;
		}
		i++;
	}
}

/* The outcome of a link judged at its enter: its pending names resolved
 * from now on, or forgotten when the syscall failed (no new name). */
static void links_outcome(struct pipeline *p, const struct reach_link_event *ev)
{
	for (size_t i = 0; i < p->n_links;) {
		struct pending_link *l = &p->links[i];

		if (l->cgroup_id == ev->hdr.cgroup_id && l->awaiting && l->tid == ev->hdr.pid) {
			l->awaiting = false;
			if (ev->flags & REACH_LINK_F_FAILED) {
				link_done(p, i);
				continue;
			}
		}
		i++;
	}
}

/* A name's path component ".." (its directory may be a symlink: a lexical
 * normalisation would not say which file it is) */
static bool has_dotdot(const char *name)
{
	for (const char *c = name; (c = strstr(c, "..")); c += 2)
		if ((c == name || c[-1] == '/') && (c[2] == '\0' || c[2] == '/'))
			return true;
	return false;
}

/* dir + "/" + name (name as is when absolute), normalized, stable-named */
static int link_path(const char *dir, const char *name, char *out, size_t n)
{
	char abs[REACH_BASE_LEN + REACH_PATH_LEN];

	if (path_make_absolute(name[0] == '/' ? NULL : dir, name, abs, sizeof(abs)))
		return -EINVAL;
	return path_stable_name(abs, out, n);
}

/* Pending links of cgroups gone (nobody left to read the new names) */
static void links_sweep(struct pipeline *p)
{
	for (size_t i = 0; i < p->n_links;) {
		if (p->losses && p->losses->cgroup_exists &&
		    p->losses->cgroup_exists(p->losses_ctx, p->links[i].cgroup_id) == 0) {
			link_remove(p, i);
			continue;
		}
		i++;
	}
}

/* The name the file at `name` had before the cgroup's pending moves (a
 * pending new name, or a path under a pending directory's): true with it in
 * out, *unsure when that move's old name was unsure. A chain of moves maps
 * in one step: each pending entry already holds its file's first name. */
static bool link_origin(const struct pipeline *p, uint64_t cgroup_id, const char *name, char *out, size_t n,
			bool *unsure)
{
	for (size_t i = p->n_links; i-- > 0;) { /* the newest move first */
		const struct pending_link *l = &p->links[i];

		if (l->cgroup_id == cgroup_id && link_maps(l, name, out, n)) {
			*unsure = l->unsure;
			return true;
		}
	}
	return false;
}

/* A rename or exchange moved the file of a pending new name away from it:
 * that entry is forgotten (the move's own entry follows the file). */
static void links_moved_away(struct pipeline *p, uint64_t cgroup_id, const char *name)
{
	for (size_t i = 0; i < p->n_links;) {
		if (p->links[i].cgroup_id == cgroup_id && !strcmp(p->links[i].new_abs, name)) {
			link_done(p, i);
			continue;
		}
		i++;
	}
}

/* One move: the file (or directory) that had the name from is now at to. */
static void link_add(struct pipeline *p, const struct reach_link_event *ev, const char *from, const char *to,
		     bool unsure)
{
	struct pending_link *l;
	size_t mine = 0;

	if (p->n_links == PIPELINE_LINKS_MAX)
		links_sweep(p);
	for (size_t i = 0; i < p->n_links; i++)
		mine += p->links[i].cgroup_id == ev->hdr.cgroup_id;
	if (p->n_links == PIPELINE_LINKS_MAX || mine >= PIPELINE_LINKS_PER_CGROUP) {
		link_road(p, &ev->hdr, ev->hdr.cgroup_id, ev->hdr.uid, from, to, "too many new names of secrets at once");
		return;
	}
	l = &p->links[p->n_links];
	memset(l, 0, sizeof(*l));
	l->cgroup_id = ev->hdr.cgroup_id;
	l->uid = ev->hdr.uid;
	/* a secret's name; else the kernel sent it because a directory of that
	 * name could hold one (walked), or because it cannot judge the name */
	l->category = catalog_match(p->catalog, from);
	l->is_link = ev->flags & REACH_LINK_F_LINK;
	l->unsure = unsure;
	l->tid = ev->hdr.pid;
	l->awaiting = ev->flags & REACH_LINK_F_ENTER;
	l->nameless = ev->flags & REACH_LINK_F_NAMELESS;
	if (!(l->new_abs = strdup(to)) || !(l->old_stable = strdup(from))) {
		free(l->new_abs);
		link_road(p, &ev->hdr, ev->hdr.cgroup_id, ev->hdr.uid, from, to, strerror(ENOMEM));
		return;
	}
	p->n_links++;
}

static void handle_link(struct pipeline *p, const struct reach_link_event *ev)
{
	char old_name[REACH_PATH_LEN], new_name[REACH_PATH_LEN], old_dir[REACH_BASE_LEN], new_dir[REACH_BASE_LEN];
	char old_abs[REACH_BASE_LEN + REACH_PATH_LEN], new_abs[REACH_BASE_LEN + REACH_PATH_LEN];
	char from0[2 * (REACH_BASE_LEN + REACH_PATH_LEN)], from1[2 * (REACH_BASE_LEN + REACH_PATH_LEN)];
	bool unsure, m0, m1, u0 = false, u1 = false, tainted, old_dotdot, new_dotdot;
	int rc;

	if (ev->flags & REACH_LINK_F_EXIT) {
		links_outcome(p, ev);
		link_ack(p, ev->hdr.cgroup_id, 1);                       /* held while a name is pending */
		links_resolve_for(p, ev->hdr.cgroup_id, ev->hdr.tgid); /* through the linker, if it lives */
		return;
	}
	memcpy(old_name, ev->old_name, sizeof(old_name));
	old_name[sizeof(old_name) - 1] = '\0';
	memcpy(new_name, ev->new_name, sizeof(new_name));
	new_name[sizeof(new_name) - 1] = '\0';
	memcpy(old_dir, ev->old_dir, sizeof(old_dir));
	old_dir[sizeof(old_dir) - 1] = '\0';
	memcpy(new_dir, ev->new_dir, sizeof(new_dir));
	new_dir[sizeof(new_dir) - 1] = '\0';
	/* AT_EMPTY_PATH: the descriptor's file, its path resolved by the
	 * kernel into old_dir */
	rc = old_name[0] ? link_path(old_dir, old_name, old_abs, sizeof(old_abs))
			 : link_path(old_dir, old_dir, old_abs, sizeof(old_abs));
	old_dotdot = has_dotdot(old_name);
	new_dotdot = has_dotdot(new_name);
	if ((ev->flags & (REACH_LINK_F_OLD_DIR_TRUNC | REACH_LINK_F_OLD_NAME_TRUNC | REACH_LINK_F_NEW_DIR_TRUNC |
			  REACH_LINK_F_NEW_NAME_TRUNC)) ||
	    rc || new_dotdot || link_path(new_dir, new_name, new_abs, sizeof(new_abs))) {
		link_road(p, &ev->hdr, ev->hdr.cgroup_id, ev->hdr.uid, old_name, new_name,
			  new_dotdot ? "a new name through \"..\"" : "a name could not be read whole");
		link_ack(p, ev->hdr.cgroup_id, 1);
		return;
	}
	unsure = (ev->flags & REACH_LINK_F_FOLLOW) || old_dotdot;
	if ((ev->flags & REACH_LINK_F_EXCHANGE) && old_dotdot) {
		/* the other file went to the old name: through "..", where is not known */
		link_road(p, &ev->hdr, ev->hdr.cgroup_id, ev->hdr.uid, new_abs, old_name, "an exchange through \"..\"");
		link_ack(p, ev->hdr.cgroup_id, 1);
		return;
	}
	/* names a pending move gave: the files' first names, both taken
	 * before either entry changes (an exchange swaps two of them) */
	m0 = link_origin(p, ev->hdr.cgroup_id, old_abs, from0, sizeof(from0), &u0);
	m1 = (ev->flags & REACH_LINK_F_EXCHANGE) && link_origin(p, ev->hdr.cgroup_id, new_abs, from1, sizeof(from1), &u1);
	if (!(ev->flags & REACH_LINK_F_LINK)) {
		links_moved_away(p, ev->hdr.cgroup_id, old_abs);
		if (ev->flags & REACH_LINK_F_EXCHANGE)
			links_moved_away(p, ev->hdr.cgroup_id, new_abs);
	}
	/* sent only because the cgroup had a name pending: only a pending
	 * file's move matters */
	tainted = ev->flags & REACH_LINK_F_TAINTED;
	if (m0 || !tainted)
		link_add(p, ev, m0 ? from0 : old_abs, new_abs, unsure || (m0 && u0));
	if ((ev->flags & REACH_LINK_F_EXCHANGE) && (m1 || !tainted))
		link_add(p, ev, m1 ? from1 : new_abs, old_abs, m1 && u1); /* the other file moved the other way */
	link_ack(p, ev->hdr.cgroup_id, 1);                       /* held while a name is pending */
	links_resolve_for(p, ev->hdr.cgroup_id, ev->hdr.tgid); /* through the linker, if it lives */
}

/* A road the kernel saw taken and cannot decode (abi/events.h enum
 * reach_road): the identity's blind road, so its verdict is inconclusive
 * naming the op and the process, never a silent pass. */
static void handle_road(struct pipeline *p, const struct reach_road_event *ev)
{
	const char *exe = proctree_exe(p->procs, ev->hdr.tgid);
	char detail[COVERAGE_DETAIL_LEN], opbuf[24];
	const char *op, *why, *road;

	if (ev->road == REACH_ROAD_IO_URING) {
		road = "io_uring";
		op = uring_op_name(ev->op);
		if (!op) {
			snprintf(opbuf, sizeof(opbuf), "op %u", ev->op);
			op = opbuf;
		}
		why = ev->op == IORING_OP_RENAMEAT || ev->op == IORING_OP_LINKAT
			      ? "a new name given through the ring: its old name not judged"
		      : ev->detail & REACH_ROAD_D_FIXED_FILE ? "on a registered (fixed) socket: destination not decoded"
		      : ev->detail & REACH_ROAD_D_UNIX	  ? "on a unix socket: descriptors passed are not decoded"
		      : ev->detail & REACH_ROAD_D_TCP	  ? "on a TCP socket: the bytes sent are not decoded"
							  : "not decoded";
	} else if (ev->road == REACH_ROAD_SOCKET) {
		road = "raw-socket";
		snprintf(opbuf, sizeof(opbuf), "family %u", ev->op);
		op = opbuf;
		why = "send on a raw or packet socket: destination not decoded";
	} else if (ev->road == REACH_ROAD_COMPAT) {
		road = "compat-syscall";
		op = ev->detail & REACH_ROAD_D_X32 ? "x32 syscalls" : "ia32 syscalls (int $0x80 or a 32-bit executable)";
		why = "not decoded: the files, destinations and tools reached through them are not seen";
	} else {
		p->stats.malformed_events++;
		return;
	}
	snprintf(detail, sizeof(detail), "%.180s: %s %s", exe[0] ? exe : ev->hdr.comm, op, why);
	log_warn("blind road %s: %s (pid %u)", road, detail, ev->hdr.tgid);
	pipeline_note_road(p, ev->hdr.cgroup_id, ev->hdr.uid, road, detail, unix_ms());
}

static void handle_dns(struct pipeline *p, const struct reach_dns_event *ev)
{
	const uint8_t *msg = ev->payload;
	size_t len = ev->len < REACH_DNS_LEN ? ev->len : REACH_DNS_LEN;
	struct dns_response r;

	if (ev->flags & REACH_DNS_F_TCP) {
		/* TCP DNS: a 2-byte length prefix, then the message */
		if (len < 2) {
			p->stats.dns_malformed++;
			return;
		}
		msg += 2;
		len -= 2;
	}
	if (ev->flags & REACH_DNS_F_TRUNC) {
		p->stats.dns_truncated++;
		return; /* half a message would be a guess */
	}
	if (dns_parse_response(msg, len, &r)) {
		p->stats.dns_malformed++; /* counted and skipped */
		return;
	}
	p->stats.dns_responses++;
	for (size_t i = 0; i < r.n_answers; i++)
		dnsnames_put(p->dns, ev->hdr.cgroup_id, &r.answers[i].addr, r.qname, r.answers[i].ttl);
}

/* ---- MCP over stdio (issue #18) ---- */

#define MCP_MAP_MAX 4096 /* peers and server names remembered; past it, the oldest are forgotten at once */

struct mcp_peer {
	uint32_t tgid;   /* the server process; 0: none found */
	bool child;      /* found as the writer's child holding the pipe as stdin (else SO_PEERCRED) */
};

static void mcp_forget(struct pipeline *p, uint32_t tgid)
{
	char key[16];

	snprintf(key, sizeof(key), "%u", tgid);
	free(hmap_remove(p->mcp_server_info, key));
	/* the server is gone: what it had not answered never will be */
	p->stats.mcp_calls_unanswered += mcp_calls_forget(p->mcp_calls, tgid);
}

/* Whether /proc/PID/fd/FD is the pipe or socket with inode ino. */
static bool fd_is_inode(uint32_t pid, int fd, uint64_t ino)
{
	char path[64], link[64], want[40];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%u/fd/%d", pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	snprintf(want, sizeof(want), ":[%" PRIu64 "]", ino);
	return strstr(link, want) != NULL;
}

/* The server of a tools/call written by tgid on pipe ino (or the socket
 * whose other end is ino): the child it spawned whose stdin is that pipe
 * or socket (the stdio transport; node gives children socketpairs). Children come
 * from /proc/TGID/task/T/children (*child true). Not a child: on a unix
 * socket, peercred (the socket's SO_PEERCRED process) when it is not the
 * writer. 0 when none is found (the server already gone). Cached per
 * (writer, pipe). */
static uint32_t mcp_peer_of(struct pipeline *p, uint32_t tgid, uint64_t ino, uint32_t peercred, bool *child)
{
	char key[48], path[64];
	struct mcp_peer *peer;
	uint32_t found = 0;
	struct dirent *d;
	DIR *tasks;

	*child = false;
	snprintf(key, sizeof(key), "%u/%" PRIu64, tgid, ino);
	if ((peer = hmap_get(p->mcp_peers, key)) && peer->tgid) {
		*child = peer->child;
		return peer->tgid;
	}
	snprintf(path, sizeof(path), "/proc/%u/task", tgid);
	tasks = opendir(path);
	while (tasks && !found && (d = readdir(tasks))) {
		char cpath[300], buf[4096];
		ssize_t n;
		int fd;

		if (d->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%u/task/%s/children", tgid, d->d_name);
		if ((fd = open(cpath, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		for (char *s = buf, *end; *s && !found; s = end) {
			unsigned long c = strtoul(s, &end, 10);

			if (end == s)
				break;
			if (c && fd_is_inode((uint32_t)c, 0, ino))
				found = (uint32_t)c;
		}
	}
	if (tasks)
		closedir(tasks);
	*child = found != 0;
	/* not a child: a server reached over a unix socket it listens on is
	 * named by the socket's SO_PEERCRED process (a socketpair's is the
	 * writer itself, who made it) */
	if (!found && peercred && peercred != tgid)
		found = peercred;
	if (found) {
		if (hmap_count(p->mcp_peers) >= MCP_MAP_MAX) {
			hmap_free(p->mcp_peers, free); /* bounded: start over (a cache) */
			p->mcp_peers = hmap_new();
		}
		if (p->mcp_peers && (peer = calloc(1, sizeof(*peer)))) {
			peer->tgid = found;
			peer->child = *child;
			if (hmap_put(p->mcp_peers, key, peer, NULL))
				free(peer);
		}
	}
	return found;
}

/* The name of a process the process tree does not hold (it is not
 * monitored): its program (program_name()) read from /proc, else its
 * executable's base name. 0 or -1. */
static int mcp_proc_name(uint32_t tgid, char *out, size_t n)
{
	char path[64], exe[PATH_MAX], args[4096];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/exe", tgid);
	if ((len = readlink(path, exe, sizeof(exe) - 1)) <= 0)
		return -1;
	exe[len] = '\0';
	snprintf(path, sizeof(path), "/proc/%u/cmdline", tgid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		len = read(fd, args, sizeof(args));
		close(fd);
		/* the arguments are only looked at for the program's name: never kept */
		if (len > 0 && program_name(exe, args, (size_t)len, out, n) == 0) {
			explicit_bzero(args, sizeof(args));
			return 0;
		}
		explicit_bzero(args, sizeof(args));
	}
	{
		const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
		size_t bl = strnlen(base, n - 1);

		memcpy(out, base, bl);
		out[bl] = '\0';
	}
	return 0;
}

/* The server's name: its program for an interpreter ("server-filesystem"),
 * else its executable's base name. */
static void mcp_server_name(struct pipeline *p, uint32_t server, char *out, size_t n)
{
	const char *ident = server ? proctree_ident(p->procs, server) : "";
	const char *exe = server ? proctree_exe(p->procs, server) : "";
	const char *sp = strrchr(ident, ' '), *slash;

	if (!ident[0] && server && mcp_proc_name(server, out, n) == 0)
		return; /* a server outside the monitored set (a unix socket's peer) */
	if (!ident[0]) {
		snprintf(out, n, "unknown");
		return;
	}
	if (sp && strlen(sp) > 1 && program_is_interpreter(exe)) {
		snprintf(out, n, "%s", sp + 1);
		return;
	}
	slash = strrchr(ident, '/');
	snprintf(out, n, "%s", slash ? slash + 1 : ident);
}

struct jsonrpc_ctx {
	struct pipeline *p;
	const struct reach_jsonrpc_event *ev;
};

/* The connection a request written by a client goes on, as its answer
 * names it too: 0 for a child's stdio (one client), else the inode of the
 * client's end of the unix socket (its own_ino; an answer's ino). Never the
 * server's end: that end has no file, hence no inode, until the server's
 * accept() returns, and a client may write its first request (initialize)
 * before, when the request's ino is its own end's (the BPF side's
 * fallback) while the answer's own_ino is the server's end's. */
static uint64_t mcp_conn(const struct reach_jsonrpc_event *ev, bool child)
{
	return child ? 0 : ev->own_ino;
}

/* Counts an answer on its call's mcp-tool edge (whether it was an error,
 * never what it said); an edge evicted meanwhile makes it unmatched. */
static void mcp_count_answer(struct pipeline *p, const struct mcp_call *call, bool is_error)
{
	struct edge *e = observed_find(p->observed, call->cgroup_id, EDGE_MCP, call->object);

	if (e && observed_mcp_answer(e, is_error) == 0)
		p->stats.mcp_responses++;
	else
		p->stats.mcp_responses_unmatched++;
}

/* A request with an id written to server: remembered until its answer.
 * object: a tools/call's edge object, or NULL (another request). */
static void mcp_request(struct pipeline *p, uint32_t server, uint64_t conn, int64_t id, uint64_t cgroup_id,
			const char *object)
{
	struct mcp_call call = { .cgroup_id = cgroup_id };
	bool early_error = false;

	if (mcp_calls_request(p->mcp_calls, server, conn, id, cgroup_id, object, &early_error,
			      &p->stats.mcp_calls_unanswered) != 1)
		return;
	/* answered already (its capture overtook this one's): counted as
	 * unmatched then, matched now */
	p->stats.mcp_responses_unmatched--;
	if (object) {
		snprintf(call.object, sizeof(call.object), "%s", object);
		mcp_count_answer(p, &call, early_error);
	}
}

/* An answer written by server on conn. */
static void mcp_answer(struct pipeline *p, uint32_t server, uint64_t conn, const struct jsonrpc_msg *m)
{
	struct mcp_call call;

	switch (mcp_calls_answer(p->mcp_calls, server, conn, m->id, m->is_error, &call,
				 &p->stats.mcp_calls_unanswered)) {
	case MCP_ANSWER_CALL:
		mcp_count_answer(p, &call, m->is_error);
		break;
	case MCP_ANSWER_OTHER:
		break;
	default:
		p->stats.mcp_responses_unmatched++;
		break;
	}
}

/* An edge made by process tgid (or by a child it forked for it: an exec)
 * while tgid, an MCP server, serves exactly one tools/call: an effect of
 * that call, linked to it. Two calls at once: not linked (ambiguous). */
static void mcp_link_effect(struct pipeline *p, struct edge *e, uint32_t tgid)
{
	struct mcp_call call;
	bool known;
	char *sp;

	if (!mcp_calls_any(p->mcp_calls) || e->kind == EDGE_TLS)
		return;
	if (!mcp_calls_serving(p->mcp_calls, tgid, &call, &known)) {
		uint32_t parent = known ? 0 : proctree_ppid(p->procs, tgid);

		if (!parent || !mcp_calls_serving(p->mcp_calls, parent, &call, &known))
			return;
	}
	/* the object is "<server> <tool>": a tool name has no space */
	if (!(sp = strrchr(call.object, ' ')))
		return;
	*sp = '\0';
	if (observed_mcp_via(p->observed, e, call.object, sp + 1))
		warn_unrecorded("mcp effect link");
}

static void on_jsonrpc(void *vctx, const struct jsonrpc_msg *m)
{
	struct jsonrpc_ctx *c = vctx;
	struct pipeline *p = c->p;
	const struct reach_jsonrpc_event *ev = c->ev;
	const char *info;
	char server[128], object[256], tkey[16];
	uint32_t peer = 0;
	uint64_t conn;
	struct edge *e;
	bool is_new, child;

	if (m->kind == JSONRPC_INIT_RESULT || m->kind == JSONRPC_RESULT) {
		/* the writer is a server answering its client: on its stdout
		 * (conn 0), or on the unix socket it accepted, whose peer end
		 * (ino) is the client's: the connection's key (mcp_conn()) */
		conn = ev->transport == REACH_JSONRPC_UNIX && ev->fd != 1 ? ev->ino : 0;
		if (m->has_id)
			mcp_answer(p, ev->hdr.tgid, conn, m);
		else
			p->stats.mcp_responses_unmatched++; /* a string id: not matched (numeric ids only) */
	}
	if (m->kind == JSONRPC_INIT_RESULT) {
		char *v = strdup(m->server_name);

		snprintf(tkey, sizeof(tkey), "%u", ev->hdr.tgid);
		if (v && (hmap_count(p->mcp_server_info) >= MCP_MAP_MAX || hmap_put(p->mcp_server_info, tkey, v, NULL)))
			free(v);
		return;
	}
	if (m->kind == JSONRPC_RESULT)
		return;
	if (m->kind == JSONRPC_OTHER) {
		/* another request (initialize, tools/list): remembered so that its
		 * answer is not taken for an unmatched one; a notification has no id */
		if (m->has_id && (peer = mcp_peer_of(p, ev->hdr.tgid, ev->ino, ev->peer_tgid, &child)))
			mcp_request(p, peer, mcp_conn(ev, child), m->id, ev->hdr.cgroup_id, NULL);
		return;
	}
	peer = mcp_peer_of(p, ev->hdr.tgid, ev->ino, ev->peer_tgid, &child); /* pipe, socketpair, or listener */
	mcp_server_name(p, peer, server, sizeof(server));
	snprintf(tkey, sizeof(tkey), "%u", peer);
	info = peer ? hmap_get(p->mcp_server_info, tkey) : NULL;
	snprintf(object, sizeof(object), "%s %s", server, m->tool);
	/* the MCP transport: stdio when the server holds it as its stdin,
	 * a pipe or a socketpair alike; otherwise the socket's */
	if (!(e = record_mcp_call(p, &ev->hdr, REACH_EV_JSONRPC, object, info,
				  peer && child ? REACH_JSONRPC_PIPE : ev->transport, 0, m, &is_new)))
		return;
	/* its answer is matched on the same connection by id */
	if (peer && m->has_id)
		mcp_request(p, peer, mcp_conn(ev, child), m->id, ev->hdr.cgroup_id, object);
	print_if_new(p, ev->hdr.cgroup_id, e, is_new);
}

static void handle_jsonrpc(struct pipeline *p, const struct reach_jsonrpc_event *ev)
{
	struct jsonrpc_ctx c = { p, ev };
	struct jsonrpc_counts counts = { 0 };
	size_t len = ev->len < REACH_JSONRPC_LEN ? ev->len : REACH_JSONRPC_LEN;

	jsonrpc_extract(ev->payload, len, ev->flags & REACH_JSONRPC_F_TRUNC, &p->fp_key, on_jsonrpc, &c, &counts);
	p->stats.jsonrpc_messages += counts.messages;
	p->stats.jsonrpc_malformed += counts.malformed;
	p->stats.jsonrpc_truncated += counts.truncated;
	p->stats.mcp_arg_shapes_cut += counts.shapes_cut;
	if (counts.calls_undecoded) {
		char detail[COVERAGE_DETAIL_LEN];

		/* a tool call reach saw happen and could not name: the identity's blind road */
		p->stats.mcp_calls_undecoded += counts.calls_undecoded;
		snprintf(detail, sizeof(detail), "%.150s: MCP tools/call longer than %d bytes before its tool name",
			 proctree_ident(p->procs, ev->hdr.tgid), REACH_JSONRPC_LEN);
		pipeline_note_road(p, ev->hdr.cgroup_id, ev->hdr.uid, "mcp-undecoded", detail, unix_ms());
	}
}

/* The smallest size of each kind of event: a shorter one is malformed
 * (counted, skipped) before any field past the header is read. */
static const size_t event_min_size[REACH_EV__MAX] = {
	[REACH_EV_FILE_OPEN] = sizeof(struct reach_file_open_event),
	[REACH_EV_EXEC] = sizeof(struct reach_exec_event),
	[REACH_EV_FORK] = sizeof(struct reach_fork_event),
	[REACH_EV_EXIT] = sizeof(struct reach_exit_event),
	[REACH_EV_EGRESS] = sizeof(struct reach_egress_event),
	[REACH_EV_DNS] = sizeof(struct reach_dns_event),
	[REACH_EV_HTTP] = sizeof(struct reach_http_event),
	[REACH_EV_TLS_HELLO] = sizeof(struct reach_tls_hello_event),
	[REACH_EV_H2] = sizeof(struct reach_h2_event),
	[REACH_EV_JSONRPC] = sizeof(struct reach_jsonrpc_event),
	[REACH_EV_ROAD] = sizeof(struct reach_road_event),
	[REACH_EV_FILE_VIA] = sizeof(struct reach_file_open_event),
	[REACH_EV_H2_FRAME] = sizeof(struct reach_h2_frame_event),
	[REACH_EV_HTTP_BODY] = sizeof(struct reach_http_body_event),
	[REACH_EV_LINK] = sizeof(struct reach_link_event),
};

int pipeline_on_event(void *ctx, const void *data, size_t size)
{
	struct pipeline *p = ctx;
	const struct reach_event_hdr *hdr = data;

	if (size < sizeof(*hdr) || hdr->size > size || hdr->kind == 0 || hdr->kind >= REACH_EV__MAX ||
	    !event_min_size[hdr->kind] /* a reserved kind: no handler */ || size < event_min_size[hdr->kind]) {
		p->stats.malformed_events++;
		return 0;
	}
	p->stats.events[hdr->kind]++;
	switch (hdr->kind) {
	case REACH_EV_FILE_OPEN:
	case REACH_EV_FILE_VIA:
		handle_file_open(p, data);
		break;
	case REACH_EV_ROAD:
		handle_road(p, data);
		break;
	case REACH_EV_LINK:
		handle_link(p, data);
		break;
	case REACH_EV_EXEC:
		handle_exec(p, data);
		break;
	case REACH_EV_EGRESS:
		handle_egress(p, data);
		break;
	case REACH_EV_DNS:
		handle_dns(p, data);
		break;
	case REACH_EV_HTTP:
		handle_http(p, data);
		break;
	case REACH_EV_TLS_HELLO:
		handle_tls_hello(p, data);
		break;
	case REACH_EV_H2:
		handle_h2(p, data);
		break;
	case REACH_EV_H2_FRAME:
		handle_h2_frame(p, data);
		break;
	case REACH_EV_JSONRPC:
		handle_jsonrpc(p, data);
		break;
	case REACH_EV_HTTP_BODY:
		handle_http_body(p, data);
		break;
	case REACH_EV_FORK:
		proctree_fork(p->procs, hdr->tgid, ((const struct reach_fork_event *)data)->child_tgid, hdr->cgroup_id);
		if (p->tls)
			p->tls->on_fork(p->tls_ctx, hdr->tgid, ((const struct reach_fork_event *)data)->child_tgid);
		break;
	case REACH_EV_EXIT:
		if (p->reader_root.fd1 && p->reader_root.tgid == hdr->tgid)
			reader_root_drop(p);
		mcp_forget(p, hdr->tgid);
		json_posts_forget(p, hdr->tgid);
		proctree_exit(p->procs, hdr->tgid);
		h2_conns_drop_tgid(p->h2, hdr->tgid); /* its HPACK tables, wiped */
		if (p->tls)
			p->tls->on_exit(p->tls_ctx, hdr->tgid);
		break;
	}
	return 0;
}


/* A host workload's software version: the executable its root process
 * runs. The same path backed by another file (a patched binary: new inode
 * or mtime) opens a new epoch; another tool run in the cgroup does not.
 * The file is the one the kernel exec'd (device, inode, mtime read at
 * exec): no stat afterwards, which would miss a process already gone or
 * see another namespace's file of the same path. Scripts are the
 * exception (the kernel holds their interpreter's file): those are
 * looked at through the process's root while it runs. */
struct exe_epoch {
	char path[256];
	uint64_t file_id;     /* hash of dev, inode, mtime */
	char epoch[300];      /* "<basename>@<file id>" */
};

/* One number for one file version, however its identity was learnt. */
static uint64_t exe_file_id(uint64_t dev, uint64_t ino, int64_t mtime_sec, uint64_t mtime_nsec)
{
	return (dev * 0x9e3779b97f4a7c15ULL) ^ (ino * 0x100000001b3ULL) ^ ((uint64_t)mtime_sec << 20) ^ mtime_nsec;
}

static void note_root_exec(struct pipeline *p, uint64_t cgroup_id, const struct reach_exec_event *ev, const char *exe)
{
	char key[24];
	struct exe_epoch *x;
	uint64_t id;
	const char *base = strrchr(exe, '/');
	char prog[256], hex[13] = "";
	char file[4200] = ""; /* where the version's file is read while the process runs */
	enum artifact_kind kind = ARTIFACT_EXECUTABLE;
	size_t args_len = ev->args_len < REACH_ARGS_LEN ? ev->args_len : REACH_ARGS_LEN;

	if (!program_path(exe, (const char *)ev->args, args_len, prog, sizeof(prog))) {
		/* an interpreter: the program it runs is the version (reach/program.h),
		 * read through the process's root or working directory while it runs */
		char view[600];

		snprintf(view, sizeof(view), prog[0] == '/' ? "/proc/%u/root%s" : "/proc/%u/cwd/%s", ev->hdr.tgid, prog);
		if (program_hash(view, hex, sizeof(hex)) == 0) {
			exe = prog;
			base = strrchr(prog, '/');
			snprintf(file, sizeof(file), "%s", view);
			kind = ARTIFACT_PROGRAM;
		}
	}
	if (hex[0]) {
		id = strtoull(hex, NULL, 16);
	} else if (ev->exe_ino) {
		id = exe_file_id(ev->exe_dev, ev->exe_ino, ev->exe_mtime_sec, ev->exe_mtime_nsec);
		snprintf(file, sizeof(file), "/proc/%u/exe", ev->hdr.tgid);
	} else {
		/* a script (the kernel saw its interpreter's file): the script as
		 * the process sees it, while it still runs; gone, no epoch from
		 * another namespace's file of the same path */
		char view[4200];
		struct stat st;

		snprintf(view, sizeof(view), "/proc/%u/root%s", ev->hdr.tgid, exe);
		if (stat(view, &st) != 0)
			return;
		id = exe_file_id(st.st_dev, st.st_ino, st.st_mtim.tv_sec, (uint64_t)st.st_mtim.tv_nsec);
		snprintf(file, sizeof(file), "%s", view);
		kind = ARTIFACT_PROGRAM;
	}
	snprintf(key, sizeof(key), "%" PRIu64, cgroup_id);
	x = hmap_get(p->exe_epochs, key);
	if (x && (strcmp(x->path, exe) != 0 || x->file_id == id))
		return; /* another tool, or the same build */
	if (!x) {
		if (!(x = calloc(1, sizeof(*x))) || hmap_put(p->exe_epochs, key, x, NULL)) {
			free(x);
			return;
		}
		snprintf(x->path, sizeof(x->path), "%s", exe);
	} else {
		log_info("cgroup %" PRIu64 ": %s was replaced: a new epoch", cgroup_id, exe);
	}
	x->file_id = id;
	snprintf(x->epoch, sizeof(x->epoch), "%s@%012" PRIx64, base ? base + 1 : exe, (uint64_t)(id & 0xffffffffffffULL));
	if (p->artifacts)
		submit_artifact(p, x->epoch, file, kind, ev, x->path);
}

/* A declared version's artifact is the file its host cgroup's root process
 * runs under it (the latest, if it changed within the version). Only
 * identities with a declared version pay this lookup. */
static void note_version_artifact(struct pipeline *p, const char *identity, const char *version, uint64_t cgroup_id)
{
	char key[24], vkey[1100];
	struct exe_epoch *x;
	const char *have;
	char *copy;

	snprintf(key, sizeof(key), "%" PRIu64, cgroup_id);
	if (!(x = hmap_get(p->exe_epochs, key)))
		return;
	snprintf(vkey, sizeof(vkey), "%s\n%s", identity, version);
	have = hmap_get(p->epoch_artifacts, vkey);
	if (have && !strcmp(have, x->epoch))
		return;
	if ((copy = strdup(x->epoch)) && !hmap_put(p->epoch_artifacts, vkey, copy, (void **)&have))
		free((void *)have);
	else
		free(copy);
}

/* A version declared on a pod: the image its container runs under it (the
 * runtime's digest, "...sha256:HEX"), kept as "image:" + that name. */
static void note_version_image(struct pipeline *p, const char *identity, const char *version, const char *image)
{
	char vkey[1100], val[600];
	const char *have;
	char *copy;

	if (!strstr(image, "sha256:"))
		return; /* no digest (a local image): the version's name only */
	snprintf(vkey, sizeof(vkey), "%s\n%s", identity, version);
	snprintf(val, sizeof(val), "image:%s", image);
	have = hmap_get(p->epoch_artifacts, vkey);
	if (have && !strcmp(have, val))
		return;
	if ((copy = strdup(val)) && !hmap_put(p->epoch_artifacts, vkey, copy, (void **)&have))
		free((void *)have);
	else
		free(copy);
}

int pipeline_epoch_artifact(const struct pipeline *p, const char *identity, const char *epoch, struct artifact *out)
{
	char vkey[1100];
	const char *key;

	if (!p->artifacts || !epoch || !epoch[0])
		return -ENOENT;
	snprintf(vkey, sizeof(vkey), "%s\n%s", identity, epoch);
	key = p->epoch_artifacts ? hmap_get(p->epoch_artifacts, vkey) : NULL;
	if (key && !strncmp(key, "image:", 6)) {
		const char *d = strstr(key, "sha256:") + 7;
		size_t n = strspn(d, "0123456789abcdef");

		if (n != 64)
			return -ENOENT;
		memset(out, 0, sizeof(*out));
		out->kind = ARTIFACT_IMAGE;
		memcpy(out->sha256, d, 64);
		out->sha256[64] = '\0';
		return 0;
	}
	return artifact_hasher_get(p->artifacts, key ? key : epoch, out);
}

/* The epoch of an identity: a version a pipeline declared (reachctl epoch
 * start), else the image digest running (Kubernetes), else for host
 * workloads the executable of the cgroup's root process. */
static void apply_epoch(struct pipeline *p, struct identity *id, uint64_t cgroup_id)
{
	const char *version = hmap_get(p->epochs, id->name);
	struct exe_epoch *x;
	char key[24];

	if (version) {
		if (p->artifacts && id->pod[0] && id->image_id[0])
			note_version_image(p, id->name, version, id->image_id);
		snprintf(id->image_id, sizeof(id->image_id), "%s", version);
		if (p->artifacts && !id->pod[0])
			note_version_artifact(p, id->name, version, cgroup_id);
		return;
	}
	if (id->image_id[0] || id->pod[0])
		return;
	snprintf(key, sizeof(key), "%" PRIu64, cgroup_id);
	x = hmap_get(p->exe_epochs, key);
	if (x)
		snprintf(id->image_id, sizeof(id->image_id), "%s", x->epoch);
}

/* Resolved identities are cached per (cgroup, uid); pending ones are asked
 * again every time, so they resolve as soon as the pod is known. */
int pipeline_resolve_identity(void *ctx, const struct cgroup_reach *c, uint32_t uid, struct identity *out)
{
	struct pipeline *p = ctx;
	char key[48];
	struct identity *cached;

	snprintf(key, sizeof(key), "%" PRIu64 "/%u", c->cgroup_id, uid);
	cached = hmap_get(p->identity_cache, key);
	if (cached) {
		*out = *cached;
		apply_epoch(p, out, c->cgroup_id); /* the epoch may have changed since */
		return 0;
	}
	identity_resolve(p->resolver, c->cgroup_id, c->path, uid, out);
	if (out->state == IDENTITY_RESOLVED) {
		/* cached as resolved, without the epoch: that is applied on each use */
		cached = malloc(sizeof(*cached));
		if (cached) {
			*cached = *out;
			if (hmap_put(p->identity_cache, key, cached, NULL))
				free(cached);
		}
	}
	apply_epoch(p, out, c->cgroup_id);
	return 0;
}

/* The observed model is full: a quarter of it, least recently seen first,
 * goes to the ledger alone (fed, then freed; their kernel dedup entries are
 * read a last time and deleted, so a later occurrence is an event and a new
 * edge again). Recency is as of the last periodic refresh (a second or so):
 * a fresh batch read of the whole map here cost as much as the rest of the
 * eviction, during the bursts that fill the model. Edges whose identity is
 * pending cannot go: when nothing can, the model stays full and new edges
 * are refused and counted (observed_edges_dropped) until the next feed
 * resolves something. */
static void make_room(struct pipeline *p)
{
	struct feed_stats st = { 0 };
	size_t want = p->observed_cap / 4 ? p->observed_cap / 4 : 1, got;
	double t0 = now_s();

	got = ledger_feed_evict(p->observed, p->ledger, pipeline_resolve_identity, p, p->boot_to_unix_ms, p->dedup->take,
				p->dedup_ctx, want, &st);
	/* ledger refusals are counted by the ledger itself (edges_dropped) */
	log_debug("observed model full: %zu edges moved to the ledger in %.1f ms", got, (now_s() - t0) * 1e3);
	if (!p->room_logged) {
		p->room_logged = true;
		log_info("observed model full (%zu edges): the least recently seen are kept in the ledger alone "
			 "(%zu moved now; status: observed_edges_evicted)", p->observed_cap, got);
	}
	if (!got)
		p->observed_stuck = true;
}

/* ---- coverage: what the sensor missed, per cgroup until its identity is known ---- */

struct cg_coverage {
	uint64_t cgroup_id;
	uint32_t uid;
	char *path;                      /* the cgroup's path, looked up once; NULL not yet */
	struct reach_loss_counters seen; /* the kernel's totals read so far */
	/* not in the ledger yet; NULL when nothing waits (a record is ~6 KiB:
	 * held only from a gap to the next feed) */
	struct coverage *pending;
};

static void cg_coverage_free(void *v)
{
	struct cg_coverage *c = v;

	if (c) {
		free(c->path);
		free(c->pending);
	}
	free(c);
}

/* NULL only when out of memory. */
static struct cg_coverage *cg_coverage_get(struct pipeline *p, uint64_t cgroup_id, uint32_t uid)
{
	struct cg_coverage *c;
	char key[48];

	snprintf(key, sizeof(key), "%" PRIu64 "/%u", cgroup_id, uid);
	if ((c = hmap_get(p->cov_cgroups, key)))
		return c;
	if (!(c = calloc(1, sizeof(*c))))
		return NULL;
	c->cgroup_id = cgroup_id;
	c->uid = uid;
	if (hmap_put(p->cov_cgroups, key, c, NULL)) {
		free(c);
		return NULL;
	}
	return c;
}

/* Out of memory for a cgroup's record: the gap is nobody's, so everybody's
 * (the node-wide record), never lost. */
static void coverage_fallback(struct pipeline *p, const struct coverage *c)
{
	if (p->ledger && ledger_add_node_coverage(p->ledger, c))
		log_warn("coverage: out of memory: a gap is not recorded");
}

/* Adds gap to the (cgroup, uid)'s waiting record. */
static void cg_coverage_add(struct pipeline *p, uint64_t cgroup_id, uint32_t uid, const struct coverage *gap)
{
	struct cg_coverage *c = cg_coverage_get(p, cgroup_id, uid);

	if (c && !c->pending)
		c->pending = calloc(1, sizeof(*c->pending));
	if (c && c->pending)
		coverage_add(c->pending, gap);
	else
		coverage_fallback(p, gap);
}

void pipeline_note_losses(void *ctx, uint64_t cgroup_id, uint32_t uid, const struct reach_loss_counters *total)
{
	struct pipeline *p = ctx;
	struct cg_coverage *c = cg_coverage_get(p, cgroup_id, uid);
	int64_t now = unix_ms();

	struct coverage grew = { 0 };

	p->loss_entries++;
	for (int k = 0; k < REACH_EV__MAX; k++)
		for (int r = 0; r < REACH_LOSS__MAX; r++) {
			uint64_t t = total->counters[k][r], was = c ? c->seen.counters[k][r] : 0;

			/* counters only grow while the map entry lives; without
			 * memory for what was read, the whole count (too much,
			 * never too little) */
			if (t > was)
				coverage_add_loss(&grew, k, r, t - was, now);
			if (c)
				c->seen.counters[k][r] = t;
		}
	if (!coverage_is_empty(&grew))
		cg_coverage_add(p, cgroup_id, uid, &grew);
}

void pipeline_note_unattributed(struct pipeline *p, const struct reach_loss_counters *total)
{
	struct coverage grew = { 0 };
	int64_t now = unix_ms();

	for (int k = 0; k < REACH_EV__MAX; k++)
		for (int r = 0; r < REACH_LOSS__MAX; r++) {
			uint64_t t = total->counters[k][r], was = p->unattributed_seen.counters[k][r];

			if (t > was)
				coverage_add_loss(&grew, k, r, t - was, now);
			p->unattributed_seen.counters[k][r] = t;
		}
	if (!coverage_is_empty(&grew)) {
		log_warn("coverage: %" PRIu64 " losses could not be attributed to a cgroup (per-cgroup loss map full, "
			 "or a failed walk of held files): every identity is inconclusive", coverage_losses(&grew));
		coverage_fallback(p, &grew);
	}
}

void pipeline_note_road(struct pipeline *p, uint64_t cgroup_id, uint32_t uid, const char *road, const char *detail,
			int64_t ms)
{
	struct coverage one = { 0 };

	coverage_add_road(&one, road, detail, 1, ms);
	cg_coverage_add(p, cgroup_id, uid, &one);
}

static void read_losses(struct pipeline *p)
{
	struct reach_loss_counters un;
	int rc;

	if (!p->losses)
		return;
	p->loss_entries = 0;
	rc = p->losses->each_cgroup(p->losses_ctx, pipeline_note_losses, p);
	if (!rc && !(rc = p->losses->unattributed(p->losses_ctx, &un)))
		pipeline_note_unattributed(p, &un);
	if (rc && !p->losses_warned) {
		p->losses_warned = true;
		log_warn("reading the per-cgroup loss counters: %s", strerror(-rc));
	}
}

/* Each cgroup's coverage to its identity's record in the ledger; a cgroup
 * whose identity is pending keeps it for the next feed, like its edges. */
static void feed_coverage(struct pipeline *p)
{
	struct hmap_iter it;
	const char *key;
	void *v;

	if (!p->ledger)
		return;
	hmap_iter_init(&it, p->cov_cgroups);
	while (hmap_iter_next(&it, &key, &v)) {
		struct cg_coverage *c = v;
		const struct cgroup_reach *cr;
		struct cgroup_reach tmp = { 0 };
		struct identity id;
		int rc;

		if (!c->pending || coverage_is_empty(c->pending))
			continue;
		if (!(cr = observed_cgroup(p->observed, c->cgroup_id))) {
			/* a cgroup whose every event was lost: no edge told its path */
			if (!c->path) {
				char path[512];

				if (cgroup_path_of(c->cgroup_id, path, sizeof(path)))
					snprintf(path, sizeof(path), "?");
				c->path = strdup(path);
			}
			tmp.cgroup_id = c->cgroup_id;
			tmp.path = c->path ? c->path : (char *)"?";
			cr = &tmp;
		}
		pipeline_resolve_identity(p, cr, c->uid, &id);
		if (id.state == IDENTITY_PENDING)
			continue;
		/* the epoch its edges get now ("" unknown: judged in every one) */
		snprintf(c->pending->epoch, sizeof(c->pending->epoch), "%s", id.image_id);
		rc = ledger_add_coverage(p->ledger, id.name, c->pending);
		if (rc && rc != -ENOSPC) /* -ENOSPC: the node's record took it */
			continue;
		free(c->pending);
		c->pending = NULL;
	}
}

/* The kernel's loss map is bounded (--loss-cgroups) and a full
 * one makes every identity inconclusive: from half full on, the entries of
 * cgroups that were removed, their counts read and in the ledger, are
 * deleted (a removed cgroup runs no task that could lose more; its id is
 * never reused). */
static void sweep_removed_cgroups(struct pipeline *p)
{
	struct hmap_iter it;
	const char *key;
	void *v;
	char **gone = NULL;
	size_t n_gone = 0, cap = 0;

	size_t size = p->loss_map_entries ? p->loss_map_entries : REACH_LOSS_CGROUP_ENTRIES;

	if (!p->losses || !p->losses->forget || !p->losses->cgroup_exists || p->loss_entries < (size + 1) / 2)
		return;
	hmap_iter_init(&it, p->cov_cgroups);
	while (hmap_iter_next(&it, &key, &v)) {
		struct cg_coverage *c = v;
		int rc;

		if ((c->pending && !coverage_is_empty(c->pending)) ||
		    p->losses->cgroup_exists(p->losses_ctx, c->cgroup_id) != 0)
			continue;
		if ((rc = p->losses->forget(p->losses_ctx, c->cgroup_id, c->uid)) && rc != -ENOENT)
			continue;
		if (n_gone == cap) {
			char **n = realloc(gone, (cap = cap ? cap * 2 : 64) * sizeof(*n));

			if (!n)
				break;
			gone = n;
		}
		if (!(gone[n_gone] = strdup(key)))
			break;
		n_gone++;
	}
	for (size_t i = 0; i < n_gone; i++) {
		cg_coverage_free(hmap_remove(p->cov_cgroups, gone[i]));
		free(gone[i]);
	}
	free(gone);
	p->loss_entries_forgotten += n_gone;
	if (n_gone)
		log_debug("coverage: %zu loss entries of removed cgroups forgotten", n_gone);
}

static struct edge *record_edge(struct pipeline *p, enum edge_kind kind, const struct observation *obs, bool *is_new)
{
	struct edge *e;

	if (observed_edge_total(p->observed) >= p->observed_cap && !p->observed_stuck)
		make_room(p);
	e = observed_add(p->observed, kind, obs, is_new);
	if (e && obs->hdr)
		mcp_link_effect(p, e, obs->hdr->tgid);
	if (!e && errno == ENOSPC && obs->hdr) {
		/* refused by a full model: a gap of that identity's picture */
		struct coverage gap = { .edges_unrecorded = 1 };
		int save = errno;

		gap.first_gap_ms = gap.last_gap_ms = unix_ms();
		cg_coverage_add(p, obs->hdr->cgroup_id, obs->hdr->uid, &gap);
		errno = save;
	}
	return e;
}


/* Edge counts from the kernel's dedup map: one batch read, then every edge
 * looks itself up in the copy. */
void pipeline_refresh_counts(struct pipeline *p)
{
	int rc = p->dedup->snapshot ? p->dedup->snapshot(p->dedup_ctx) : 0;

	if (rc && !p->snapshot_warned) {
		p->snapshot_warned = true;
		log_warn("reading the dedup map in batches: %s (falling back to one lookup per edge)", strerror(-rc));
	}
	observed_refresh(p->observed, p->dedup->lookup, p->dedup_ctx);
	read_losses(p);
	json_posts_sweep(p, unix_ms());
}

void pipeline_feed_ledger(struct pipeline *p)
{
	ledger_feed(p->observed, p->ledger, pipeline_resolve_identity, p, p->boot_to_unix_ms, &p->feed);
	feed_coverage(p);
	sweep_removed_cgroups(p);
}

int pipeline_set_epoch(struct pipeline *p, const char *identity, const char *version)
{
	char *copy = strdup(version);
	void *old = NULL;

	if (!copy || hmap_put(p->epochs, identity, copy, &old)) {
		free(copy);
		return -ENOMEM;
	}
	free(old);
	return 0;
}

int pipeline_init(struct pipeline *p, size_t observed_cap)
{
	struct timespec rt, bt;

	memset(p, 0, sizeof(*p));
	/* kernel timestamps are CLOCK_BOOTTIME: this turns them into Unix time */
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	p->boot_to_unix_ms = ((int64_t)rt.tv_sec - bt.tv_sec) * 1000 + (rt.tv_nsec - bt.tv_nsec) / 1000000;
	p->observed = observed_new();
	p->observed_cap = observed_cap ? observed_cap : OBSERVED_EDGES_DEFAULT;
	if (p->observed)
		observed_set_max_edges(p->observed, p->observed_cap);
	p->procs = proctree_new();
	p->dns = dnsnames_new();
	p->identity_cache = hmap_new();
	p->epochs = hmap_new();
	p->exe_epochs = hmap_new();
	p->epoch_artifacts = hmap_new();
	p->cov_cgroups = hmap_new();
	p->secret_inodes = hmap_new();
	p->seeds = seeds_new(seed_found, seed_forget, p);
	p->links = calloc(PIPELINE_LINKS_MAX, sizeof(*p->links));
	p->reasm = http_reasm_new(PIPELINE_OPEN_HEADS);
	p->h2 = h2_conns_new(PIPELINE_H2_CONNS);
	p->mcp_server_info = hmap_new();
	p->mcp_peers = hmap_new();
	p->mcp_calls = mcp_calls_new();
	p->json_posts = hmap_new();
	if (!p->json_posts || !p->reasm || !p->h2 || !p->mcp_server_info || !p->mcp_peers || !p->mcp_calls || !p->observed ||
	    !p->procs || !p->dns ||
	    !p->identity_cache || !p->epochs ||
	    !p->exe_epochs || !p->epoch_artifacts || !p->cov_cgroups || !p->secret_inodes || !p->seeds || !p->links)
		return -ENOMEM;
	return 0;
}

void pipeline_fini(struct pipeline *p)
{
	reader_root_drop(p);
	hmap_free(p->identity_cache, free);
	hmap_free(p->cov_cgroups, cg_coverage_free);
	hmap_free(p->epochs, free);
	hmap_free(p->exe_epochs, free);
	hmap_free(p->epoch_artifacts, free);
	hmap_free(p->mcp_server_info, free);
	hmap_free(p->mcp_peers, free);
	mcp_calls_free(p->mcp_calls);
	p->mcp_calls = NULL;
	hmap_free(p->json_posts, free);
	p->json_posts = NULL;
	hmap_free(p->secret_inodes, secret_inode_free);
	seeds_free(p->seeds);
	p->seeds = NULL;
	while (p->n_links)
		link_remove(p, 0);
	free(p->links);
	p->links = NULL;
	http_reasm_free(p->reasm); /* wipes the open heads */
	p->reasm = NULL;
	h2_conns_free(p->h2); /* wipes the HPACK tables */
	p->h2 = NULL;
	fp_key_wipe(&p->fp_key);
	proctree_free(p->procs);
	dnsnames_free(p->dns);
	observed_free(p->observed);
	p->identity_cache = p->epochs = p->exe_epochs = p->epoch_artifacts = p->secret_inodes = NULL;
	p->procs = NULL;
	p->dns = NULL;
	p->observed = NULL;
}

void pipeline_summary(struct pipeline *p, FILE *f, bool json)
{
	p->stats.dns_names_dropped = dnsnames_dropped(p->dns);
	p->stats.observed_edges_dropped = observed_edges_dropped(p->observed);
	p->stats.observed_edges_evicted = observed_edges_evicted(p->observed);
	if (p->stats.observed_edges_dropped)
		log_warn("%" PRIu64 " new edges were not recorded: %zu edges in memory and none of them could go "
			 "to the ledger (identities pending)", p->stats.observed_edges_dropped, p->observed_cap);
	if (json)
		output_summary_json(f, p->observed, &p->stats);
	else
		output_summary_text(f, p->observed, &p->stats);
	if (output_loss_total(&p->stats.losses, REACH_LOSS_RINGBUF_FULL))
		log_warn("%" PRIu64 " events lost because the ring buffer was full: raise --ringbuf-bytes",
			 output_loss_total(&p->stats.losses, REACH_LOSS_RINGBUF_FULL));
}
