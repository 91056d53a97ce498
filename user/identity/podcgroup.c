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

static int search(const char *dir, int depth, bool in_kubepods, const char *dash_uid, const char *underscore_uid,
		  char *out, size_t out_size)
{
	DIR *d;
	struct dirent *e;
	int found = -ENOENT;

	if (depth > PODCGROUP_MAX_DEPTH || !(d = opendir(dir)))
		return -ENOENT;
	while (found && (e = readdir(d))) {
		char sub[4096];

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >= sizeof(sub))
			continue;
		/* a pod directory counts only below a kubepods root (or as a
		 * systemd kubepods-...-pod<uid>.slice): a look-alike elsewhere is not it */
		if ((in_kubepods || strstr(e->d_name, "kubepods")) && names_pod(e->d_name, dash_uid, underscore_uid)) {
			if ((size_t)snprintf(out, out_size, "%s", sub) < out_size)
				found = 0;
			break;
		}
		/* any prefix may stand before a kubepods root (nested runtimes,
		 * system.slice/docker-<id>.scope/kubepods/...): the whole tree is
		 * searched, bounded in depth */
		found = search(sub, depth + 1, in_kubepods || strstr(e->d_name, "kubepods"), dash_uid, underscore_uid,
			       out, out_size);
	}
	closedir(d);
	return found;
}

int podcgroup_find(const char *cgroup_mount, const char *pod_uid, char *out, size_t out_size)
{
	char underscore[64];

	if (strlen(pod_uid) >= sizeof(underscore) || !*pod_uid)
		return -EINVAL;
	snprintf(underscore, sizeof(underscore), "%s", pod_uid);
	for (char *c = underscore; *c; c++)
		if (*c == '-')
			*c = '_';
	return search(cgroup_mount, 0, false, pod_uid, underscore, out, out_size);
}
