#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/openat2.h>
#include "agent/seeds.h"
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

#define SEEDS_SKIP_MAX 64

/* One walk's state. */
struct walk {
	struct seeds *s;
	const char *ns;
	int64_t now_ms;
	size_t budget;
	int max_depth;
	bool cut;
	char path[4096];
	/* mount points in this root on a filesystem that may block a stat
	 * (FUSE, NFS, ...: a pod's own daemon could answer never): not
	 * entered; their files stay judged by name */
	char *skip[SEEDS_SKIP_MAX];
	size_t n_skip;
	bool skip_all; /* more of them than fit: walk nothing */
};

/* A mount point a walk could meet: at or above a prefix (a walk goes
 * through it), or below one. */
static bool near_a_prefix(const struct seeds *s, const char *mnt)
{
	size_t m = strlen(mnt);

	if ((s->n_homes || s->home_files) &&
	    (!strncmp(mnt, "/root", 5) || !strncmp(mnt, "/home", 5) || !strcmp(mnt, "/")))
		return true;
	for (size_t i = 0; i < s->n_prefixes; i++) {
		const char *p = s->prefixes[i]; /* ends with '/' */
		size_t n = strlen(p);

		if (!strcmp(mnt, "/") || (m < n && !strncmp(p, mnt, m) && p[m] == '/') || !strncmp(mnt, p, n - 1))
			return true;
	}
	return false;
}

/* mounts_each_unsafe's: a mount a walk could meet, kept */
static bool keep_unsafe(void *ctx, const char *mount_point)
{
	struct walk *w = ctx;

	if (!near_a_prefix(w->s, mount_point))
		return true; /* /proc, /sys, a netns file...: nowhere a walk goes */
	if (w->n_skip == SEEDS_SKIP_MAX || !(w->skip[w->n_skip] = strdup(mount_point))) {
		w->skip_all = true;
		return false;
	}
	w->n_skip++;
	return true;
}

/* path (absolute in the root, no trailing '/') at or under an unsafe mount */
static bool unsafe(const struct walk *w, const char *path)
{
	for (size_t i = 0; i < w->n_skip; i++)
		if (mounts_path_under(path, w->skip[i]))
			return true;
	return false;
}

/* The kernel's dev_t (major << 20 | minor) of a stat's st_dev. */
static uint32_t kernel_dev(dev_t d)
{
	return (uint32_t)((major(d) << 20) | (minor(d) & 0xfffff));
}

static void note_file(struct walk *w, const struct stat *st)
{
	struct reach_inode_key key = { .dev = kernel_dev(st->st_dev), .ino = st->st_ino };
	struct seed *sd;
	char k[48];

	if (!w->s->found(w->s->ctx, &key, w->path))
		return; /* not a secret */
	snprintf(k, sizeof(k), "%u:%" PRIu64, key.dev, (uint64_t)key.ino);
	sd = hmap_get(w->s->seeds, k);
	if (!sd) {
		sd = calloc(1, sizeof(*sd));
		if (!sd || !(sd->path = strdup(w->path)) || hmap_put(w->s->seeds, k, sd, NULL)) {
			seed_free(sd);
			return; /* kept in the pipeline all the same; only its forgetting is lost */
		}
		sd->key = key;
		w->s->stats.files++;
	}
	seed_add_ns(sd, w->ns);
	sd->seen_ms = w->now_ms;
}

/* dirfd: an open directory at w->path (len bytes); closed here. */
static void walk_dir(struct walk *w, int dirfd, size_t len, int depth)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;
		size_t n = strlen(de->d_name);

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!w->budget || len + n + 2 > sizeof(w->path)) {
			w->cut = true;
			break;
		}
		w->budget--;
		memcpy(w->path + len, de->d_name, n + 1);
		if (unsafe(w, w->path)) {
			w->s->stats.unsafe_mounts++;
			w->path[len] = '\0';
			continue;
		}
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			w->path[len] = '\0';
			continue; /* gone since readdir */
		}
		if (S_ISREG(st.st_mode)) {
			note_file(w, &st);
		} else if (S_ISDIR(st.st_mode)) {
			int fd;

			if (depth >= w->max_depth) {
				w->cut = true;
				continue;
			}
			fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0) {
				w->path[len + n] = '/';
				w->path[len + n + 1] = '\0';
				walk_dir(w, fd, len + n + 1, depth + 1);
			}
		} /* symlinks: their targets are walked under their own names */
		w->path[len] = '\0';
	}
	closedir(d);
}

/* A path with an atomic writer's generation directory ("/..2026_…/", the
 * Kubernetes volume writer's), and that directory gone in the root: the
 * writer published a newer one and removed this. */
static bool generation_gone(int rootfd, const char *path)
{
	const char *g = strstr(path, "/..");
	struct stat st;
	char dir[4096];

	while (g && !(g[3] >= '0' && g[3] <= '9'))
		g = strstr(g + 1, "/..");
	if (!g)
		return false;
	g = strchr(g + 1, '/');
	if (!g || (size_t)(g - path) >= sizeof(dir))
		return false;
	memcpy(dir, path + 1, (size_t)(g - path) - 1); /* relative to the root */
	dir[g - path - 1] = '\0';
	return fstatat(rootfd, dir, &st, AT_SYMLINK_NOFOLLOW) && errno == ENOENT;
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

/* After a walk of ns at now_ms (gone_ns false): its seeds the walk did not
 * meet whose generation is gone are forgotten (their inodes may be reused
 * by other files). Any other seed stays: a secret moved out of its
 * directory (renamed, to be read under another name) is still the secret.
 * A namespace gone (gone_ns): it leaves its seeds, and a seed no namespace
 * holds any more is forgotten (its tmpfs is freed, and the device and
 * inode numbers may be another's next). */
static void forget_gone(struct seeds *s, int rootfd, const char *ns, int64_t now_ms, bool gone_ns)
{
	struct keys gone = { 0 };
	struct hmap_iter it;
	const char *key;
	void *v;

	hmap_iter_init(&it, s->seeds);
	while (hmap_iter_next(&it, &key, &v)) {
		struct seed *sd = v;

		if (!seed_has_ns(sd, ns))
			continue;
		if (gone_ns ? !seed_drop_ns(sd, ns) : sd->seen_ms == now_ms || !generation_gone(rootfd, sd->path))
			continue;
		if (!keys_push(&gone, key))
			break;
	}
	for (size_t i = 0; i < gone.n; i++) {
		struct seed *sd = hmap_remove(s->seeds, gone.k[i]);

		if (sd && s->forget)
			s->forget(s->ctx, &sd->key);
		seed_free(sd);
	}
	free(gone.k);
}

/* The namespace of pid ("mnt:[N]" into ns), or false (gone, or no access). */
static bool ns_of(uint32_t pid, char *ns, size_t n)
{
	char link[64];
	ssize_t len;

	if (pid)
		snprintf(link, sizeof(link), "/proc/%u/ns/mnt", pid);
	else
		snprintf(link, sizeof(link), "/proc/self/ns/mnt");
	len = readlink(link, ns, n - 1);
	if (len <= 0)
		return false;
	ns[len] = '\0';
	return true;
}

/* One directory of a root (dir: absolute in it, ending with '/'), opened
 * through real directories only (RESOLVE_NO_SYMLINKS: a prefix reached
 * through a symlink, as /var/run -> /run, is walked under its real name),
 * walked max_depth directories down. */
static void walk_prefix(struct walk *w, int rootfd, const char *dir, int max_depth)
{
	struct open_how how = { .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	size_t len = strlen(dir);
	int fd;

	if (len < 2 || len >= sizeof(w->path))
		return;
	memcpy(w->path, dir, len - 1);
	w->path[len - 1] = '\0'; /* without its trailing '/' */
	if (unsafe(w, w->path)) {
		w->s->stats.unsafe_mounts++;
		return;
	}
	fd = (int)syscall(SYS_openat2, rootfd, dir, &how, sizeof(how));
	if (fd < 0) {
		/* absent here, or reached through a symlink: nothing to walk */
		if (errno != ENOENT && errno != ELOOP && errno != ENOTDIR && errno != EXDEV)
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
	struct open_how how = { .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	char homes[SEEDS_HOMES_MAX][300], dir[4096];
	size_t n = 0;
	struct dirent *de;
	DIR *d = NULL;
	int fd;

	if (!w->s->n_homes && !w->s->home_files)
		return;
	snprintf(homes[n++], sizeof(homes[0]), "/root/");
	if (!unsafe(w, "/home") && (fd = (int)syscall(SYS_openat2, rootfd, "/home", &how, sizeof(how))) >= 0 &&
	    !(d = fdopendir(fd)))
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

static void walk_root(struct seeds *s, uint32_t pid, const char *ns, int64_t now_ms)
{
	struct walk *w = calloc(1, sizeof(*w));
	char root[64];
	int rootfd;

	if (!w)
		return;
	if (pid)
		snprintf(root, sizeof(root), "/proc/%u/root", pid);
	else
		snprintf(root, sizeof(root), "/");
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		s->stats.unreadable++;
		free(w);
		return;
	}
	w->s = s;
	w->ns = ns;
	w->now_ms = now_ms;
	w->budget = SEEDS_ENTRIES_MAX;
	if (mounts_each_unsafe(pid, keep_unsafe, w) || w->skip_all) {
		/* which mounts could block is unknown: nothing is walked */
		s->stats.unreadable++;
		goto out;
	}
	s->stats.roots++;
	for (size_t i = 0; i < s->n_prefixes; i++)
		walk_prefix(w, rootfd, s->prefixes[i], SEEDS_DEPTH_MAX);
	walk_homes(w, rootfd);
	if (w->cut)
		s->stats.cut++;
	forget_gone(s, rootfd, ns, now_ms, false);
out:
	for (size_t i = 0; i < w->n_skip; i++)
		free(w->skip[i]);
	close(rootfd);
	free(w);
}

/* Walks pid's namespace unless it is fresh; meets it in pass. */
static void seed_ns(struct seeds *s, uint32_t pid, int64_t now_ms, int64_t fresh_ms)
{
	struct ns_seen *seen;
	char ns[40];

	if ((!s->n_prefixes && !s->n_homes && !s->home_files) || !ns_of(pid, ns, sizeof(ns)))
		return;
	seen = hmap_get(s->ns, ns);
	if (!seen) {
		seen = calloc(1, sizeof(*seen));
		if (!seen || hmap_put(s->ns, ns, seen, NULL)) {
			free(seen);
			return;
		}
		seen->at_ms = INT64_MIN / 2;
	}
	seen->pass = s->pass;
	if (now_ms - seen->at_ms < fresh_ms)
		return;
	seen->at_ms = now_ms;
	walk_root(s, pid, ns, now_ms);
}

void seeds_process(struct seeds *s, uint32_t pid, int64_t now_ms)
{
	if (s)
		seed_ns(s, pid, now_ms, SEEDS_EXEC_FRESH_MS);
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
 * exited), and their seeds with them: their tmpfs is freed, and its device
 * number and inode numbers may be another's next. */
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
		forget_gone(s, -1, gone.k[i], 0, true);
	}
	free(gone.k);
	s->n_pids = s->next = 0;
}

static void run_pass(struct seeds *s, int64_t now_ms, size_t max, int64_t fresh_ms)
{
	for (size_t i = 0; i < max && s->next < s->n_pids; i++)
		seed_ns(s, s->pids[s->next++], now_ms, fresh_ms);
	if (s->next >= s->n_pids && s->n_pids)
		end_pass(s);
}

void seeds_all(struct seeds *s, int64_t now_ms)
{
	if (!s)
		return;
	seed_ns(s, 0, now_ms, INT64_MIN);
	start_pass(s, now_ms);
	run_pass(s, now_ms, SIZE_MAX, 1); /* every namespace but the one just walked */
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
	run_pass(s, now_ms, SEEDS_PIDS_PER_TICK, SEEDS_FRESH_MS);
}

struct seeds_stats seeds_stats(const struct seeds *s)
{
	struct seeds_stats none = { 0 };

	return s ? s->stats : none;
}

const char *seeds_describe(const struct seeds *s) { return s && s->describe[0] ? s->describe : "(none)"; }
