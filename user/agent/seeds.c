#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent/seeds.h"
#include "common/bucket.h"
#include "common/hmap.h"
#include "common/mounts.h"
#include "reach/catalog.h"

#define SEED_NS_MAX 4

/* A seeded file: where it was found, in which namespaces, when last. The
 * first namespace that found it keeps its slot (a pod's own, the node's);
 * later ones rotate through the others: a process that makes namespaces
 * and lets them go cannot push the file out of the set that way. */
struct seed {
	struct reach_inode_key key;
	char *path;     /* as walked (real directories, atomic-writer generation included) */
	char ns[SEED_NS_MAX][40]; /* "mnt:[N]" */
	size_t n_ns, rotate;
	int64_t seen_ms;
};

static bool seed_has_ns(const struct seed *sd, const char *ns)
{
	for (size_t i = 0; i < sd->n_ns; i++)
		if (!strcmp(sd->ns[i], ns))
			return true;
	return false;
}

static void seed_add_ns(struct seed *sd, const char *ns)
{
	size_t i;

	if (seed_has_ns(sd, ns))
		return;
	if (sd->n_ns < SEED_NS_MAX)
		i = sd->n_ns++;
	else
		i = 1 + sd->rotate++ % (SEED_NS_MAX - 1);
	snprintf(sd->ns[i], sizeof(sd->ns[i]), "%s", ns);
}

/* true when no namespace is left */
static bool seed_drop_ns(struct seed *sd, const char *ns)
{
	for (size_t i = 0; i < sd->n_ns; i++) {
		if (strcmp(sd->ns[i], ns))
			continue;
		memmove(sd->ns[i], sd->ns[i + 1], (sd->n_ns - i - 1) * sizeof(sd->ns[0]));
		sd->n_ns--;
		break;
	}
	return sd->n_ns == 0;
}

/* A mount namespace walked: when, and a process in it (the pass's). */
struct ns_seen {
	int64_t at_ms;
	int64_t pass; /* the last pass that met it */
};

struct seeds {
	seeds_found_fn found;
	seeds_forget_fn forget;
	void *ctx;
	char **prefixes;    /* absolute: "/run/secrets/" */
	size_t n_prefixes;
	char **homes;       /* under each home directory ("**" + "/.aws/credentials" gives ".aws/") */
	size_t n_homes;
	bool home_files;    /* a "**" rule of a bare file name ("**" + "/.netrc"): the homes' own files */
	char describe[512];
	struct hmap *seeds; /* "dev:ino" -> struct seed */
	struct hmap *ns;    /* "mnt:[N]" -> struct ns_seen */
	struct bucket walks; /* seeds_process's */
	/* the pass over /proc */
	uint32_t *pids;
	size_t n_pids, next;
	int64_t pass, pass_start_ms;
	struct seeds_stats stats;
};

static void seed_free(void *v)
{
	struct seed *sd = v;

	if (sd)
		free(sd->path);
	free(sd);
}

struct seeds *seeds_new(seeds_found_fn found, seeds_forget_fn forget, void *ctx)
{
	struct seeds *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->found = found;
	s->forget = forget;
	s->ctx = ctx;
	s->seeds = hmap_new();
	s->ns = hmap_new();
	if (!s->seeds || !s->ns) {
		seeds_free(s);
		return NULL;
	}
	return s;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static void free_prefixes(struct seeds *s)
{
	free_list(s->prefixes, s->n_prefixes);
	free_list(s->homes, s->n_homes);
	s->prefixes = s->homes = NULL;
	s->n_prefixes = s->n_homes = 0;
	s->home_files = false;
}

void seeds_free(struct seeds *s)
{
	if (!s)
		return;
	free_prefixes(s);
	hmap_free(s->seeds, seed_free);
	hmap_free(s->ns, free);
	free(s->pids);
	free(s);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, each kept once, and none under another (walked with it). */
static size_t fold_prefixes(char **all, size_t kept)
{
	size_t n = 0;

	qsort(all, kept, sizeof(*all), cmp_str);
	for (size_t i = 0; i < kept; i++) {
		if (n && !strncmp(all[i], all[n - 1], strlen(all[n - 1]))) {
			free(all[i]);
			continue;
		}
		all[n++] = all[i];
	}
	return n;
}

/* The literal directory of a pattern: up to the last '/' before its first
 * glob character; NULL on ENOMEM. */
static char *literal_dir(const char *pat)
{
	size_t lit = catalog_pattern_literal_len(pat);

	while (lit > 0 && pat[lit - 1] != '/')
		lit--;
	return strndup(pat, lit);
}

int seeds_set_catalog(struct seeds *s, const struct catalog *c)
{
	size_t n = catalog_size(c), kept = 0, kept_homes = 0, len;
	char **all = calloc(n ? n : 1, sizeof(*all)), **homes = calloc(n ? n : 1, sizeof(*homes));
	bool home_files = false;
	struct hmap_iter it;
	const char *key;
	void *v;

	if (!all || !homes)
		goto enomem;
	for (size_t i = 0; i < n; i++) {
		int negate = 0;
		const char *pat = catalog_rule_pattern(c, i, &negate);
		size_t slashes = 0;
		char *dir;

		if (!pat || negate)
			continue;
		if (!strncmp(pat, "**/", 3)) {
			/* anywhere: looked for in the home directories only */
			if (!(dir = literal_dir(pat + 3)))
				goto enomem;
			if (!dir[0]) {
				home_files = true;
				free(dir);
			} else {
				homes[kept_homes++] = dir;
			}
			continue;
		}
		if (pat[0] != '/')
			continue; /* a basename anywhere (*.pem): judged by name */
		if (!(dir = literal_dir(pat)))
			goto enomem;
		for (size_t j = 0; dir[j]; j++)
			slashes += dir[j] == '/';
		if (slashes < 3) {
			free(dir); /* "/" or "/home/": too wide to walk */
			continue;
		}
		all[kept++] = dir;
	}
	free_prefixes(s);
	s->prefixes = all;
	s->n_prefixes = fold_prefixes(all, kept);
	s->homes = homes;
	s->n_homes = fold_prefixes(homes, kept_homes);
	s->home_files = home_files;
	len = (size_t)snprintf(s->describe, sizeof(s->describe), "%s", "");
	for (size_t i = 0; i < s->n_prefixes && len < sizeof(s->describe); i++)
		len += (size_t)snprintf(s->describe + len, sizeof(s->describe) - len, "%s%s", i ? ", " : "",
					s->prefixes[i]);
	if (len < sizeof(s->describe) && (s->n_homes || s->home_files)) {
		len += (size_t)snprintf(s->describe + len, sizeof(s->describe) - len, "%s~/{%s", len ? ", " : "",
					s->home_files ? "*" : "");
		for (size_t i = 0; i < s->n_homes && len < sizeof(s->describe); i++)
			len += (size_t)snprintf(s->describe + len, sizeof(s->describe) - len, "%s%s",
						i || s->home_files ? "," : "", s->homes[i]);
		if (len < sizeof(s->describe))
			snprintf(s->describe + len, sizeof(s->describe) - len, "}");
	}
	/* new rules may class more files: every namespace again */
	hmap_iter_init(&it, s->ns);
	while (hmap_iter_next(&it, &key, &v))
		((struct ns_seen *)v)->at_ms = INT64_MIN / 2;
	return 0;
enomem:
	for (size_t i = 0; i < kept; i++)
		free(all[i]);
	for (size_t i = 0; i < kept_homes; i++)
		free(homes[i]);
	free(all);
	free(homes);
	return -ENOMEM;
}

/* One walk's state: one root, one namespace. */
struct walk {
	struct seeds *s;
	const char *ns;
	int64_t now_ms;
	size_t budget;      /* directory entries left */
	size_t new_seeds;   /* seeds this walk added */
	int max_depth;
	bool cut;
	struct mount_table mt; /* the namespace's: only its safe mounts are entered */
	char path[4096];
};

static void note_file(struct walk *w, const struct statx *stx)
{
	struct reach_inode_key key = { .dev = mounts_kdev(stx), .ino = stx->stx_ino };
	struct seed *sd;
	char k[48];

	snprintf(k, sizeof(k), "%u:%" PRIu64, key.dev, (uint64_t)key.ino);
	sd = hmap_get(w->s->seeds, k);
	if (!sd && (w->new_seeds >= SEEDS_PER_NS_MAX || hmap_count(w->s->seeds) >= SEEDS_MAX)) {
		w->cut = true; /* a namespace full of secret-named files: the rest judged by name */
		return;
	}
	if (!w->s->found(w->s->ctx, &key, w->path))
		return; /* not a secret */
	if (!sd) {
		sd = calloc(1, sizeof(*sd));
		if (!sd || !(sd->path = strdup(w->path)) || hmap_put(w->s->seeds, k, sd, NULL)) {
			seed_free(sd);
			return; /* kept in the pipeline all the same; only its forgetting is lost */
		}
		sd->key = key;
		w->s->stats.files++;
		w->new_seeds++;
	}
	seed_add_ns(sd, w->ns);
	sd->seen_ms = w->now_ms;
}

/* dirfd: an open directory at w->path (len bytes, ending with '/'), on a
 * safe mount; closed here. Each entry is taken by mounts_open_component:
 * no symlink followed, no unsafe or unknown mount entered. */
static void walk_dir(struct walk *w, int dirfd, size_t len, int depth)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((de = readdir(d))) {
		struct statx stx;
		size_t n = strlen(de->d_name);
		int pfd;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!w->budget || len + n + 2 > sizeof(w->path)) {
			w->cut = true;
			break;
		}
		w->budget--;
		pfd = mounts_open_component(dirfd, de->d_name, &w->mt, &stx);
		if (pfd < 0) {
			if (pfd == -EXDEV)
				w->s->stats.unsafe_mounts++;
			continue; /* a symlink (its target is walked under its own name), or gone */
		}
		memcpy(w->path + len, de->d_name, n + 1);
		if (S_ISREG(stx.stx_mode)) {
			note_file(w, &stx);
		} else if (S_ISDIR(stx.stx_mode)) {
			int fd = depth < w->max_depth ? openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

			if (depth >= w->max_depth && w->max_depth > 0)
				w->cut = true; /* the depth bound (0: a home's own files only, by design) */
			if (fd >= 0) {
				w->path[len + n] = '/';
				w->path[len + n + 1] = '\0';
				walk_dir(w, fd, len + n + 1, depth + 1);
			}
		}
		w->path[len] = '\0';
		close(pfd);
	}
	closedir(d);
}

/* The seed's atomic writer's generation directory ("/..2026_…/", the
 * Kubernetes volume writer's) gone in this root: the writer published a
 * newer one and removed this. Looked up like any walk (safe mounts only, no
 * symlink): not found is gone; anything else (a mount in the way) is not. */
static bool generation_gone(struct walk *w, int rootfd, const char *path)
{
	const char *g = strstr(path, "/..");
	char dir[4096];
	int fd;

	while (g && !(g[3] >= '0' && g[3] <= '9'))
		g = strstr(g + 1, "/..");
	if (!g || !(g = strchr(g + 1, '/')) || (size_t)(g - path) + 2 > sizeof(dir))
		return false;
	memcpy(dir, path, (size_t)(g - path) + 1); /* with its '/' */
	dir[g - path + 1] = '\0';
	fd = mounts_open_beneath(rootfd, dir, &w->mt, O_RDONLY | O_DIRECTORY, NULL);
	if (fd >= 0)
		close(fd);
	return fd == -ENOENT;
}

/* Keys collected while iterating a map, removed after: a growing list. */
struct keys {
	char (*k)[48];
	size_t n, cap;
};

/* false on ENOMEM: the caller stops collecting (the rest goes at a later
 * walk or pass) */
static bool keys_push(struct keys *l, const char *key)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char (*more)[48] = realloc(l->k, cap * sizeof(*more));

		if (!more)
			return false;
		l->k = more;
		l->cap = cap;
	}
	snprintf(l->k[l->n++], sizeof(l->k[0]), "%s", key);
	return true;
}

static void forget_keys(struct seeds *s, struct keys *gone)
{
	for (size_t i = 0; i < gone->n; i++) {
		struct seed *sd = hmap_remove(s->seeds, gone->k[i]);

		if (sd && s->forget)
			s->forget(s->ctx, &sd->key);
		seed_free(sd);
	}
	free(gone->k);
}

/* After a walk (w) of its namespace: a seed of it the walk did not meet
 * leaves the namespace when its device is mounted there no more (the pod's
 * secret volume is gone; a namespace id reused by another is no longer the
 * one that held it), and is forgotten when no namespace holds it, or when
 * its generation is gone in the namespace that found it (its inode numbers
 * may come back as other files'). Any other seed stays: a secret moved out
 * of its directory (renamed, to be read under another name) is still the
 * secret. w NULL: the namespace itself is gone (no process in it): it
 * leaves all its seeds. */
static void forget_gone(struct seeds *s, struct walk *w, int rootfd, const char *ns)
{
	struct keys gone = { 0 };
	struct hmap_iter it;
	const char *key;
	void *v;

	hmap_iter_init(&it, s->seeds);
	while (hmap_iter_next(&it, &key, &v)) {
		struct seed *sd = v;
		bool forget;

		if (!seed_has_ns(sd, ns) || (w && sd->seen_ms == w->now_ms))
			continue;
		if (!w || !mount_table_has_dev(&w->mt, sd->key.dev))
			forget = seed_drop_ns(sd, ns);
		else
			forget = !strcmp(sd->ns[0], ns) && generation_gone(w, rootfd, sd->path);
		if (forget && !keys_push(&gone, key))
			break;
	}
	forget_keys(s, &gone);
}

/* The namespace of the process behind procfd ("mnt:[N]" into ns). */
static bool ns_of(int procfd, char *ns, size_t n)
{
	ssize_t len = readlinkat(procfd, "ns/mnt", ns, n - 1);

	if (len <= 0)
		return false;
	ns[len] = '\0';
	return true;
}

/* One directory of a root (dir: absolute in it, ending with '/'), opened
 * through real directories on safe mounts only (mounts_open_beneath: a
 * prefix reached through a symlink, as /var/run -> /run, is walked under
 * its real name), walked max_depth directories down. */
static void walk_prefix(struct walk *w, int rootfd, const char *dir, int max_depth)
{
	size_t len = strlen(dir);
	int fd;

	if (len < 2 || len >= sizeof(w->path))
		return;
	fd = mounts_open_beneath(rootfd, dir, &w->mt, O_RDONLY | O_DIRECTORY, NULL);
	if (fd < 0) {
		if (fd == -EXDEV)
			w->s->stats.unsafe_mounts++;
		else if (fd != -ENOENT && fd != -ELOOP && fd != -ENOTDIR)
			w->s->stats.unreadable++;
		return;
	}
	memcpy(w->path, dir, len + 1);
	w->max_depth = max_depth;
	walk_dir(w, fd, len, 0);
}

#define SEEDS_HOMES_MAX 64

/* The "**" rules' directories under /root and each /home/NAME (the
 * credentials a user's tools keep: ~/.aws/, ~/.ssh/, ~/.kube/, ...), and
 * the homes' own files for a bare name (~/.netrc). Other places such a
 * rule matches stay judged by name. */
static void walk_homes(struct walk *w, int rootfd)
{
	char homes[SEEDS_HOMES_MAX][300], dir[4096];
	size_t n = 0;
	struct dirent *de;
	DIR *d = NULL;
	int fd;

	if (!w->s->n_homes && !w->s->home_files)
		return;
	snprintf(homes[n++], sizeof(homes[0]), "/root/");
	fd = mounts_open_beneath(rootfd, "/home/", &w->mt, O_RDONLY | O_DIRECTORY, NULL);
	if (fd >= 0 && !(d = fdopendir(fd)))
		close(fd);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		if (n == SEEDS_HOMES_MAX || strlen(de->d_name) > sizeof(homes[0]) - 8) {
			w->cut = true;
			break;
		}
		snprintf(homes[n++], sizeof(homes[0]), "/home/%s/", de->d_name);
	}
	if (d)
		closedir(d);
	for (size_t h = 0; h < n; h++) {
		if (w->s->home_files)
			walk_prefix(w, rootfd, homes[h], 0);
		for (size_t i = 0; i < w->s->n_homes; i++) {
			size_t a = strlen(homes[h]), b = strlen(w->s->homes[i]);

			if (a + b >= sizeof(dir))
				continue;
			memcpy(dir, homes[h], a);
			memcpy(dir + a, w->s->homes[i], b + 1);
			walk_prefix(w, rootfd, dir, SEEDS_DEPTH_MAX);
		}
	}
}

/* procfd: /proc/PID (or /proc/self) as a directory, so the root, the
 * mount table and the namespace are one process's even if the pid is
 * reused meanwhile. */
static void walk_root(struct seeds *s, int procfd, const char *ns, int64_t now_ms)
{
	struct walk *w = calloc(1, sizeof(*w));
	int rootfd, mi;

	if (!w)
		return;
	rootfd = openat(procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	mi = openat(procfd, "mountinfo", O_RDONLY | O_CLOEXEC);
	if (rootfd < 0 || mi < 0 || mount_table_read(&w->mt, mi)) {
		s->stats.unreadable++;
		goto out;
	}
	s->stats.roots++;
	w->s = s;
	w->ns = ns;
	w->now_ms = now_ms;
	w->budget = SEEDS_ENTRIES_MAX;
	for (size_t i = 0; i < s->n_prefixes; i++)
		walk_prefix(w, rootfd, s->prefixes[i], SEEDS_DEPTH_MAX);
	walk_homes(w, rootfd);
	if (w->cut)
		s->stats.cut++;
	forget_gone(s, w, rootfd, ns);
out:
	if (mi >= 0)
		close(mi);
	if (rootfd >= 0)
		close(rootfd);
	mount_table_free(&w->mt);
	free(w);
}

/* Walks pid's namespace unless walked less than fresh_ms ago; meets it in
 * the pass. false when the process is gone. */
static bool seed_ns(struct seeds *s, uint32_t pid, int64_t now_ms, int64_t fresh_ms)
{
	struct ns_seen *seen;
	char ns[40], proc[32];
	int procfd;
	bool walked = false;

	if (!s->n_prefixes && !s->n_homes && !s->home_files)
		return false;
	if (pid)
		snprintf(proc, sizeof(proc), "/proc/%u", pid);
	else
		snprintf(proc, sizeof(proc), "/proc/self");
	procfd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0 || !ns_of(procfd, ns, sizeof(ns)))
		goto out;
	seen = hmap_get(s->ns, ns);
	if (!seen) {
		seen = calloc(1, sizeof(*seen));
		if (!seen || hmap_put(s->ns, ns, seen, NULL)) {
			free(seen);
			goto out;
		}
		seen->at_ms = INT64_MIN / 2;
	}
	seen->pass = s->pass;
	if (now_ms - seen->at_ms >= fresh_ms) {
		seen->at_ms = now_ms;
		walk_root(s, procfd, ns, now_ms);
		walked = true;
	}
out:
	if (procfd >= 0)
		close(procfd);
	return walked;
}

void seeds_process(struct seeds *s, uint32_t pid, int64_t now_ms)
{
	if (!s)
		return;
	/* a token bucket over every namespace: a pod making namespaces and
	 * exec'ing in each as fast as it can gets SEEDS_EXEC_WALKS_PER_S
	 * walks, the rest waits for the periodic pass */
	if (!bucket_ready(&s->walks, now_ms, SEEDS_EXEC_WALKS_PER_S, SEEDS_EXEC_WALKS_BURST)) {
		s->stats.deferred++;
		return;
	}
	if (seed_ns(s, pid, now_ms, SEEDS_EXEC_FRESH_MS))
		bucket_spend(&s->walks);
}

/* The pids of /proc, for a pass. */
static void start_pass(struct seeds *s, int64_t now_ms)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t cap = 0;

	s->n_pids = s->next = 0;
	s->pass++;
	s->pass_start_ms = now_ms;
	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || !pid || pid > UINT32_MAX)
			continue;
		if (s->n_pids == cap) {
			uint32_t *more = realloc(s->pids, (cap = cap ? 2 * cap : 512) * sizeof(*more));

			if (!more)
				break; /* the rest at the next pass */
			s->pids = more;
		}
		s->pids[s->n_pids++] = (uint32_t)pid;
	}
	closedir(d);
}

/* After a pass: namespaces it did not meet are gone (their processes
 * exited), and they leave their seeds. */
static void end_pass(struct seeds *s)
{
	struct keys gone = { 0 };
	struct hmap_iter it;
	const char *key;
	void *v;

	hmap_iter_init(&it, s->ns);
	while (hmap_iter_next(&it, &key, &v))
		if (((struct ns_seen *)v)->pass != s->pass && !keys_push(&gone, key))
			break;
	for (size_t i = 0; i < gone.n; i++) {
		free(hmap_remove(s->ns, gone.k[i]));
		forget_gone(s, NULL, -1, gone.k[i]);
	}
	free(gone.k);
	s->n_pids = s->next = 0;
}

/* Up to max_pids processes of the pass and max_walks walks. */
static void run_pass(struct seeds *s, int64_t now_ms, size_t max_pids, size_t max_walks, int64_t fresh_ms)
{
	size_t walks = 0;

	for (size_t i = 0; i < max_pids && walks < max_walks && s->next < s->n_pids; i++)
		walks += seed_ns(s, s->pids[s->next++], now_ms, fresh_ms);
	if (s->next >= s->n_pids && s->n_pids)
		end_pass(s);
}

void seeds_all(struct seeds *s, int64_t now_ms)
{
	if (!s)
		return;
	seed_ns(s, 0, now_ms, INT64_MIN);
	start_pass(s, now_ms);
	run_pass(s, now_ms, SIZE_MAX, SIZE_MAX, 1); /* every namespace but the one just walked */
}

void seeds_tick(struct seeds *s, int64_t now_ms)
{
	if (!s)
		return;
	if (!s->n_pids) {
		if (now_ms - s->pass_start_ms < SEEDS_FRESH_MS)
			return;
		start_pass(s, now_ms);
	}
	run_pass(s, now_ms, SEEDS_PIDS_PER_TICK, SEEDS_WALKS_PER_TICK, SEEDS_FRESH_MS);
}

struct renamed {
	const char *old_dir, *new_dir;
	seeds_found_fn found;
	void *ctx;
};

/* a file under the new directory, given to the caller by its old name */
static bool renamed_found(void *ctx, const struct reach_inode_key *key, const char *path)
{
	struct renamed *r = ctx;
	size_t n = strlen(r->new_dir);
	char old[8192];

	if (strncmp(path, r->new_dir, n) ||
	    (size_t)snprintf(old, sizeof(old), "%s%s", r->old_dir, path + n) >= sizeof(old))
		return false;
	return r->found(r->ctx, key, old);
}

int seeds_walk_renamed(uint32_t pid, const char *old_dir, const char *new_dir, seeds_found_fn found, void *ctx)
{
	struct renamed r = { .old_dir = old_dir, .new_dir = new_dir, .found = found, .ctx = ctx };
	struct seeds *s = seeds_new(renamed_found, NULL, &r);
	struct walk *w = calloc(1, sizeof(*w));
	int procfd = -1, rootfd = -1, mi = -1, fd, rc = -ESRCH;
	char proc[32];

	if (!s || !w) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(proc, sizeof(proc), "/proc/%u", pid);
	if ((procfd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (rootfd = openat(procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (mi = openat(procfd, "mountinfo", O_RDONLY | O_CLOEXEC)) < 0 || mount_table_read(&w->mt, mi))
		goto out;
	fd = mounts_open_beneath(rootfd, new_dir, &w->mt, O_RDONLY | O_DIRECTORY, NULL);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	close(fd);
	w->s = s;
	w->ns = "renamed";
	w->budget = SEEDS_ENTRIES_MAX;
	walk_prefix(w, rootfd, new_dir, SEEDS_DEPTH_MAX);
	/* bounded (entries, depth, a name too long): files left unwalked
	 * would be read under their new names unclassed */
	rc = w->cut ? -E2BIG : 0;
out:
	if (w)
		mount_table_free(&w->mt);
	free(w);
	seeds_free(s);
	if (mi >= 0)
		close(mi);
	if (rootfd >= 0)
		close(rootfd);
	if (procfd >= 0)
		close(procfd);
	return rc;
}

struct seeds_stats seeds_stats(const struct seeds *s)
{
	struct seeds_stats none = { 0 };

	return s ? s->stats : none;
}

const char *seeds_describe(const struct seeds *s) { return s && s->describe[0] ? s->describe : "(none)"; }
