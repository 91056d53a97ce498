/* common/mounts.h: the mount table read from a mountinfo (safe mounts by
 * id, every device in the kernel's encoding) and the component-at-a-time
 * open that never follows a symlink, never takes "..", and never enters a
 * mount the table does not know as local. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/mounts.h"

static int tmp_file(const char *text)
{
	char path[] = "/tmp/reach-mountinfo-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

static void test_table_from_mountinfo(void **state)
{
	/* optional fields before "-", an escaped mount point, types safe and not */
	static const char mi[] =
		"21 1 0:20 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
		"30 21 0:45 / /run/secrets/x rw,nosuid shared:7 master:2 - tmpfs tmpfs rw\n"
		"31 21 0:46 / /mnt/with\\040space rw - fuse.sshfs host:/ rw\n"
		"32 21 0:47 / /mnt/nfs rw - nfs4 srv:/e rw\n"
		"33 21 259:3 / /data rw - xfs /dev/nvme0n1p3 rw\n"
		"garbage line\n";
	struct mount_table t = { 0 };
	int fd = tmp_file(mi);

	(void)state;
	assert_int_equal(mount_table_read(&t, fd), 0);
	assert_int_equal(t.n_safe, 3); /* ext4, tmpfs, xfs */
	assert_int_equal(t.n_devs, 5);
	assert_true(mount_table_has_dev(&t, (0u << 20) | 45));
	assert_true(mount_table_has_dev(&t, (259u << 20) | 3));
	assert_false(mount_table_has_dev(&t, (0u << 20) | 99));
	/* read again from the start: the same */
	assert_int_equal(mount_table_read(&t, fd), 0);
	assert_int_equal(t.n_safe, 3);
	mount_table_free(&t);
	close(fd);
	assert_true(mounts_fs_type_safe("tmpfs"));
	assert_false(mounts_fs_type_safe("fuse"));
	assert_false(mounts_fs_type_safe("nfs4"));
	assert_false(mounts_fs_type_safe("autofs"));
}

static void test_open_beneath(void **state)
{
	char base[] = "/tmp/reach-mounts-XXXXXX", path[256];
	struct mount_table self = { 0 }, none = { 0 };
	struct statx stx;
	struct stat st;
	int root, fd;

	(void)state;
	assert_non_null(mkdtemp(base));
	snprintf(path, sizeof(path), "%s/a", base);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/a/b", base);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/a/b/file", base);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/link", base);
	assert_int_equal(symlink("a", path), 0);
	root = open(base, O_PATH | O_DIRECTORY);
	assert_true(root >= 0);
	assert_int_equal(mount_table_of(&self, 0), 0);

	fd = mounts_open_beneath(root, "/a/b/file", &self, O_RDONLY, &stx);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(stx.stx_ino, st.st_ino);
	fd = mounts_open_beneath(root, "/a/b/", &self, O_RDONLY | O_DIRECTORY, NULL);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mounts_open_beneath(root, "/link/b/file", &self, O_RDONLY, NULL), -ELOOP);
	assert_int_equal(mounts_open_beneath(root, "/a/../a/b/file", &self, O_RDONLY, NULL), -EINVAL);
	assert_int_equal(mounts_open_beneath(root, "/a/b/file/x", &self, O_RDONLY, NULL), -ENOTDIR);
	assert_int_equal(mounts_open_beneath(root, "/a/missing", &self, O_RDONLY, NULL), -ENOENT);
	/* a table that knows no mount as local: nothing is entered */
	assert_int_equal(mounts_open_beneath(root, "/a/b/file", &none, O_RDONLY, NULL), -EXDEV);

	mount_table_free(&self);
	close(root);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_from_mountinfo),
		cmocka_unit_test(test_open_beneath),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
