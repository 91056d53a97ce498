#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/mounts.h"

bool mounts_fs_type_safe(const char *type)
{
	static const char *const safe[] = { "tmpfs", "ramfs", "ext2", "ext3", "ext4", "xfs", "btrfs", "overlay",
					    "squashfs", "erofs", "zfs", "f2fs", "devtmpfs" };

	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		if (!strcmp(type, safe[i]))
			return true;
	return false;
}

/* mountinfo's octal escapes (\040 for a space) undone in place */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
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

	/* POLLERR | POLLPRI once the namespace's mount table changed (and
	 * the poll itself takes the change in) */
	return poll(&pfd, 1, 0) != 0;
}

int mounts_each_unsafe_fd(int fd, bool (*fn)(void *ctx, const char *mount_point), void *ctx)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int dup_fd;

	if (lseek(fd, 0, SEEK_SET) < 0 || (dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -errno;
	f = fdopen(dup_fd, "r");
	if (!f) {
		close(dup_fd);
		return -errno;
	}
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER */
		char *fields[5], *save = NULL, *tok = strtok_r(line, " \n", &save), *type;
		size_t n = 0;

		while (tok && n < 5) {
			fields[n++] = tok;
			tok = strtok_r(NULL, " \n", &save);
		}
		while (tok && strcmp(tok, "-"))
			tok = strtok_r(NULL, " \n", &save);
		if (n < 5 || !tok || !(type = strtok_r(NULL, " \n", &save)) || mounts_fs_type_safe(type))
			continue;
		unescape(fields[4]);
		if (!fn(ctx, fields[4]))
			break;
	}
	free(line);
	fclose(f);
	return 0;
}

int mounts_each_unsafe(uint32_t pid, bool (*fn)(void *ctx, const char *mount_point), void *ctx)
{
	int fd = mounts_open(pid), rc;

	if (fd < 0)
		return fd;
	rc = mounts_each_unsafe_fd(fd, fn, ctx);
	close(fd);
	return rc;
}

bool mounts_path_under(const char *path, const char *mount_point)
{
	size_t n = strlen(mount_point);

	if (!strcmp(mount_point, "/"))
		return true;
	return !strncmp(path, mount_point, n) && (path[n] == '\0' || path[n] == '/');
}
