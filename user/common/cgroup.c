#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <ftw.h>
#include "common/cgroup.h"

int cgroup_find_v2_mount(char *out, size_t out_size)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	int err = -ENOENT;

	if (!f)
		return -errno;
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, "cgroup2") == 0) {
			if ((size_t)snprintf(out, out_size, "%s", m->mnt_dir) >= out_size)
				err = -ENAMETOOLONG;
			else
				err = 0;
			break;
		}
	}
	endmntent(f);
	return err;
}

int cgroup_check_v2_dir(const char *dir)
{
	struct statfs fs;
	struct stat st;

	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (statfs(dir, &fs) < 0)
		return -errno;
	if (fs.f_type != CGROUP2_SUPER_MAGIC)
		return -EMEDIUMTYPE;
	return 0;
}

int cgroup_id_of(const char *dir, uint64_t *id)
{
	struct {
		struct file_handle fh;
		uint64_t cgid;
	} h;
	int mount_id;

	h.fh.handle_bytes = sizeof(h.cgid);
	if (name_to_handle_at(AT_FDCWD, dir, &h.fh, &mount_id, 0) < 0)
		return -errno;
	if (h.fh.handle_bytes != sizeof(h.cgid))
		return -EINVAL;
	*id = h.cgid;
	return 0;
}

int cgroup_exists(uint64_t id)
{
	/* the mount and its handle type, found once (main-loop use only) */
	static int mount_fd = -1, handle_type = -1;
	struct {
		struct file_handle fh;
		uint64_t cgid;
	} h;
	int mount_id, fd;

	if (mount_fd < 0) {
		char mount[4096];
		int err = cgroup_find_v2_mount(mount, sizeof(mount));

		if (err)
			return err;
		if ((fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			return -errno;
		h.fh.handle_bytes = sizeof(h.cgid);
		if (name_to_handle_at(fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) < 0) {
			err = -errno;
			close(fd);
			return err;
		}
		handle_type = h.fh.handle_type;
		mount_fd = fd;
	}
	h.fh.handle_bytes = sizeof(h.cgid);
	h.fh.handle_type = handle_type;
	h.cgid = id;
	fd = open_by_handle_at(mount_fd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	return errno == ESTALE || errno == ENOENT ? 0 : -errno;
}

/* nftw has no user pointer: the search state lives here (single-threaded use). */
static uint64_t search_id;
static char *search_out;
static size_t search_out_size;
static size_t search_prefix_len;
static int search_found;

static int cgroup_path_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	uint64_t id;

	if (type != FTW_D)
		return 0;
	if (cgroup_id_of(path, &id) == 0 && id == search_id) {
		const char *rel = path + search_prefix_len;

		snprintf(search_out, search_out_size, "%s", *rel ? rel : "/");
		search_found = 1;
		return 1; /* stop the walk */
	}
	return 0;
}

int cgroup_path_of(uint64_t id, char *out, size_t out_size)
{
	char mount[4096];
	int err = cgroup_find_v2_mount(mount, sizeof(mount));

	if (err)
		return err;
	search_id = id;
	search_out = out;
	search_out_size = out_size;
	search_prefix_len = strlen(mount);
	search_found = 0;
	nftw(mount, cgroup_path_visit, 16, FTW_PHYS | FTW_MOUNT);
	return search_found ? 0 : -ENOENT;
}

int cgroup_id_of_pid(const char *cgroup_mount, uint32_t pid, uint64_t *id)
{
	char path[64], line[1024], dir[1536];
	const char *rel;
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		rel = line + 3;
		/* An agent in its own cgroup namespace (a container) with the
		 * host's cgroup2 mounted sees other processes' cgroups relative
		 * to its namespace root: "/../../kubepods/...". The ".." steps
		 * climb exactly to the host root, so what follows them is the
		 * host path under the mount. */
		while (!strncmp(rel, "/..", 3) && (rel[3] == '/' || rel[3] == '\0'))
			rel += 3;
		snprintf(dir, sizeof(dir), "%s%s", cgroup_mount, rel);
		err = cgroup_id_of(dir, id);
		break;
	}
	fclose(f);
	return err;
}
