#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "common/mounts.h"

bool mounts_fs_type_safe(const char *type)
{
	static const char *const safe[] = { "tmpfs", "ramfs", "rootfs", "ext2", "ext3", "ext4", "xfs", "btrfs",
					    "overlay", "squashfs", "zfs", "f2fs", "devtmpfs" };

	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		if (!strcmp(type, safe[i]))
			return true;
	return false;
}

int mounts_open(uint32_t pid)
{
	char path[64];
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%u/mountinfo", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/mountinfo");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

bool mounts_changed(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLPRI };

	return poll(&pfd, 1, 0) != 0; /* POLLERR | POLLPRI: the table changed */
}

void mount_table_free(struct mount_table *t)
{
	free(t->safe_ids);
	free(t->devs);
	memset(t, 0, sizeof(*t));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* appends v to a growing array; false on ENOMEM */
static bool push(void **arr, size_t *n, size_t *cap, size_t size, const void *v)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		void *more = realloc(*arr, c * size);

		if (!more)
			return false;
		*arr = more;
		*cap = c;
	}
	memcpy((char *)*arr + *n * size, v, size);
	(*n)++;
	return true;
}

int mount_table_read(struct mount_table *t, int fd)
{
	size_t cap_ids = 0, cap_devs = 0, cap = 0;
	char *line = NULL;
	FILE *f;
	int dup_fd, rc = 0;

	mount_table_free(t);
	if (lseek(fd, 0, SEEK_SET) < 0 || (dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -errno;
	f = fdopen(dup_fd, "r");
	if (!f) {
		rc = -errno;
		close(dup_fd);
		return rc;
	}
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER */
		unsigned long long id;
		unsigned int maj, min;
		char *sep = strstr(line, " - "), type[64];
		uint32_t dev;

		if (!sep || sscanf(line, "%llu %*u %u:%u", &id, &maj, &min) != 3 || sscanf(sep + 3, "%63s", type) != 1)
			continue;
		dev = (maj << 20) | (min & 0xfffff);
		if (!push((void **)&t->devs, &t->n_devs, &cap_devs, sizeof(dev), &dev) ||
		    (mounts_fs_type_safe(type) &&
		     !push((void **)&t->safe_ids, &t->n_safe, &cap_ids, sizeof(uint64_t), &(uint64_t){ id }))) {
			rc = -ENOMEM;
			break;
		}
	}
	free(line);
	fclose(f);
	if (rc) {
		mount_table_free(t);
		return rc;
	}
	qsort(t->safe_ids, t->n_safe, sizeof(*t->safe_ids), cmp_u64);
	qsort(t->devs, t->n_devs, sizeof(*t->devs), cmp_u32);
	return 0;
}

int mount_table_of(struct mount_table *t, uint32_t pid)
{
	int fd = mounts_open(pid), rc;

	if (fd < 0) {
		mount_table_free(t);
		return fd;
	}
	rc = mount_table_read(t, fd);
	close(fd);
	return rc;
}

bool mount_table_has_dev(const struct mount_table *t, uint32_t kdev)
{
	return t->n_devs && bsearch(&kdev, t->devs, t->n_devs, sizeof(*t->devs), cmp_u32);
}

static bool safe_id(const struct mount_table *t, uint64_t id)
{
	return t->n_safe && bsearch(&id, t->safe_ids, t->n_safe, sizeof(*t->safe_ids), cmp_u64);
}

uint32_t mounts_kdev(const struct statx *stx)
{
	return (stx->stx_dev_major << 20) | (stx->stx_dev_minor & 0xfffff);
}

/* fd's statx without asking its filesystem (AT_STATX_DONT_SYNC: FUSE and
 * NFS answer from their caches), its mount id included */
static int stat_fd(int fd, struct statx *stx)
{
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC,
		  STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_INO | STATX_MNT_ID, stx))
		return -errno;
	return 0;
}

int mounts_open_component(int dirfd, const char *name, const struct mount_table *t, struct statx *stx)
{
	/* O_PATH: the lookup happens in dirfd's filesystem (safe), crossing a
	 * mount on name costs nothing, and nothing of name's filesystem is
	 * called; O_NOFOLLOW: a symlink is the descriptor of the link */
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	if ((rc = stat_fd(fd, stx)) || (rc = S_ISLNK(stx->stx_mode) ? -ELOOP : 0) ||
	    (rc = safe_id(t, stx->stx_mnt_id) ? 0 : -EXDEV)) {
		close(fd);
		return rc;
	}
	return fd;
}

/* an O_PATH descriptor opened for real (the same file: no lookup) */
static int reopen(int pathfd, int flags)
{
	char self[64];
	int fd;

	if (flags & O_PATH)
		fd = fcntl(pathfd, F_DUPFD_CLOEXEC, 0); /* the name's inode, nothing of it opened */
	else if (flags & O_DIRECTORY)
		fd = openat(pathfd, ".", flags | O_CLOEXEC);
	else {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", pathfd);
		fd = open(self, flags | O_CLOEXEC);
	}
	return fd < 0 ? -errno : fd;
}

int mounts_open_beneath(int rootfd, const char *path, const struct mount_table *t, int flags, struct statx *stx)
{
	struct statx own;
	char name[256];
	int cur, rc;

	if (!stx)
		stx = &own;
	if ((rc = stat_fd(rootfd, stx)))
		return rc;
	if (!safe_id(t, stx->stx_mnt_id))
		return -EXDEV;
	if ((cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -errno;
	for (const char *p = path; *p;) {
		size_t n;
		int next;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (!n)
			break;
		if (n >= sizeof(name) || (n <= 2 && !strncmp(p, "..", n))) {
			close(cur);
			return n >= sizeof(name) ? -ENAMETOOLONG : -EINVAL; /* "." and "..": the path is not resolved */
		}
		memcpy(name, p, n);
		name[n] = '\0';
		p += n;
		next = mounts_open_component(cur, name, t, stx);
		close(cur);
		if (next < 0)
			return next;
		cur = next;
		if (*p && !S_ISDIR(stx->stx_mode)) {
			close(cur);
			return -ENOTDIR;
		}
	}
	rc = reopen(cur, flags);
	close(cur);
	return rc;
}
