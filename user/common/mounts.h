/* Mounts the agent must not touch from its event loop: on a filesystem
 * whose lookup, stat or read may wait on a process (FUSE: a pod's own
 * daemon can answer never; NFS, CIFS: a server away; autofs), any access
 * could stall the agent. Paths in other processes' roots (their secrets'
 * content, the seeds walk) are opened one component at a time: each
 * component is looked up only in a directory on a filesystem known to be
 * local (mounts_fs_type_safe), taken as an O_PATH descriptor (no open of
 * its filesystem), and its mount checked by id against the namespace's
 * mount table before anything else is done with it: a mount made after the
 * table was read has an unknown id and is not entered either. */
#ifndef REACH_COMMON_MOUNTS_H
#define REACH_COMMON_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct statx;

/* tmpfs, ext4, xfs, btrfs, overlay, ...: their lookups and reads wait on
 * no one (overlay: unless a layer is on FUSE, as lazy-pulling snapshotters
 * do; issue 16's note). */
bool mounts_fs_type_safe(const char *type);

/* One mount namespace's table: the ids of its mounts on safe filesystems,
 * and the devices (the kernel's major << 20 | minor) of all its mounts. */
struct mount_table {
	uint64_t *safe_ids;
	size_t n_safe;
	uint32_t *devs;
	size_t n_devs;
};

/* /proc/PID/mountinfo (0: this process's), O_CLOEXEC: fd or -errno. */
int mounts_open(uint32_t pid);
/* The table from a mountinfo descriptor (read again from its start;
 * replaces t's content). 0 or -errno (t then empty: nothing is safe). */
int mount_table_read(struct mount_table *t, int mountinfo_fd);
/* pid's table at once. 0 or -errno. */
int mount_table_of(struct mount_table *t, uint32_t pid);
void mount_table_free(struct mount_table *t);
bool mount_table_has_dev(const struct mount_table *t, uint32_t kdev);
/* Whether a mount was made or removed in that namespace since the last
 * read (the kernel's poll of mountinfo, which the poll takes in). */
bool mounts_changed(int mountinfo_fd);

/* The kernel's dev_t of a statx's device. */
uint32_t mounts_kdev(const struct statx *stx);

/* name (one component) in dirfd (a directory on a safe mount) as an O_PATH
 * descriptor, with its statx (type, link count, inode, device, mount id) in
 * *stx: -ELOOP for a symlink (never followed), -EXDEV when it is on a mount
 * t does not know as safe; else -errno. */
int mounts_open_component(int dirfd, const char *name, const struct mount_table *t, struct statx *stx);
/* path (absolute in rootfd's tree, "/a/b/") opened beneath rootfd one
 * component at a time (above), then the last one with flags (O_RDONLY,
 * with O_DIRECTORY for a directory; O_PATH: the name's own descriptor). rootfd itself must be on a safe mount
 * (-EXDEV). fd, or -ELOOP / -EXDEV / -errno; *stx (NULL: not wanted): the
 * last component's. */
int mounts_open_beneath(int rootfd, const char *path, const struct mount_table *t, int flags, struct statx *stx);

#endif
