#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "identity/podcgroup.h"

#define PODCGROUP_MAX_DEPTH 12 /* kubepods nest 3-5 deep; nested runtimes and kubelets more */

/* Does a directory name carry this pod: "pod<uid>" or "-pod<uid_>.slice"? */
static int names_pod(const char *name, const char *dash_uid, const char *underscore_uid)
{
	const char *p = strstr(name, "pod");

	for (; p; p = strstr(p + 1, "pod")) {
		const char *uid = p + 3;
		size_t n = strlen(dash_uid);

		if ((strncmp(uid, dash_uid, n) == 0 || strncmp(uid, underscore_uid, n) == 0) &&
		    (uid[n] == '\0' || strcmp(uid + n, ".slice") == 0))
			return 1;
	}
	return 0;
}

/* What a visitor says of a directory under a kubepods root. */
enum visit { VISIT_DESCEND, VISIT_SKIP, VISIT_STOP };

typedef enum visit (*visit_fn)(void *ctx, const char *name, const char *path);

/* Depth-first over every directory below dir, bounded in depth. Any prefix
 * may stand before a kubepods root (nested runtimes,
 * system.slice/docker-<id>.scope/kubepods/...), so the whole tree is walked;
 * a pod directory counts only below a kubepods root (or as a systemd
 * kubepods-...-pod<uid>.slice): a look-alike elsewhere is not visited as
 * one. Returns true when a visitor said stop. */
static bool walk(const char *dir, int depth, bool in_kubepods, visit_fn visit, void *ctx)
{
	DIR *d;
	struct dirent *e;
	bool stop = false;

	if (depth > PODCGROUP_MAX_DEPTH || !(d = opendir(dir)))
		return false;
	while (!stop && (e = readdir(d))) {
		char sub[4096];
		bool kube = in_kubepods || strstr(e->d_name, "kubepods");
		enum visit v = VISIT_DESCEND;

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >= sizeof(sub))
			continue;
		if (kube)
			v = visit(ctx, e->d_name, sub);
		if (v == VISIT_STOP)
			stop = true;
		else if (v == VISIT_DESCEND)
			stop = walk(sub, depth + 1, kube, visit, ctx);
	}
	closedir(d);
	return stop;
}

struct find {
	const char *dash_uid, *underscore_uid;
	char *out;
	size_t out_size;
	int rc;
};

static enum visit find_visit(void *ctx, const char *name, const char *path)
{
	struct find *f = ctx;

	if (!names_pod(name, f->dash_uid, f->underscore_uid))
		return VISIT_DESCEND;
	if ((size_t)snprintf(f->out, f->out_size, "%s", path) < f->out_size)
		f->rc = 0;
	return VISIT_STOP;
}

int podcgroup_find(const char *cgroup_mount, const char *pod_uid, char *out, size_t out_size)
{
	char underscore[64];
	struct find f = { pod_uid, underscore, out, out_size, -ENOENT };

	if (strlen(pod_uid) >= sizeof(underscore) || !*pod_uid)
		return -EINVAL;
	snprintf(underscore, sizeof(underscore), "%s", pod_uid);
	for (char *c = underscore; *c; c++)
		if (*c == '-')
			*c = '_';
	walk(cgroup_mount, 0, false, find_visit, &f);
	return f.rc;
}

/* The uid a pod directory name carries ("pod<uid>", "...-pod<uid_>.slice"),
 * with dashes; false when the name is no pod directory's. */
static bool pod_uid_of(const char *name, char *uid, size_t size)
{
	for (const char *p = strstr(name, "pod"); p; p = strstr(p + 1, "pod")) {
		const char *u = p + 3, *end = u + strcspn(u, ".");
		size_t n = (size_t)(end - u);

		if (!n || n >= size || strspn(u, "0123456789abcdefABCDEF-_") < n ||
		    (*end && strcmp(end, ".slice")))
			continue;
		for (size_t i = 0; i < n; i++)
			uid[i] = u[i] == '_' ? '-' : u[i];
		uid[n] = '\0';
		return true;
	}
	return false;
}

struct scan {
	podcgroup_found_fn found;
	void *ctx;
};

static enum visit scan_visit(void *ctx, const char *name, const char *path)
{
	struct scan *s = ctx;
	char uid[64];

	if (!pod_uid_of(name, uid, sizeof(uid)))
		return VISIT_DESCEND;
	s->found(s->ctx, uid, path);
	return VISIT_SKIP; /* below a pod: its containers */
}

void podcgroup_scan(const char *cgroup_mount, podcgroup_found_fn found, void *ctx)
{
	struct scan s = { found, ctx };

	walk(cgroup_mount, 0, false, scan_visit, &s);
}
