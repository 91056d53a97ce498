/* Mounts whose files the agent must not touch from its event loop: on a
 * filesystem whose stat, lookup or read may wait on a process (FUSE: a
 * pod's own daemon can answer never; NFS, CIFS: a server away), any
 * access could stall the agent. Only local filesystems the list below
 * names are entered; a mount of any other type, read from a process's
 * mountinfo, is avoided with everything under it. */
#ifndef REACH_COMMON_MOUNTS_H
#define REACH_COMMON_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* tmpfs, ext4, xfs, btrfs, overlay, ...: stat and read wait on no one. */
bool mounts_fs_type_safe(const char *type);

/* Calls fn(ctx, mount_point) for each mount of pid's mount namespace (0:
 * this process's) on a filesystem mounts_fs_type_safe() does not know, its
 * mount point as pid's root sees it (escapes undone); fn returns false to
 * stop. 0, or -errno when the mountinfo cannot be read. */
int mounts_each_unsafe(uint32_t pid, bool (*fn)(void *ctx, const char *mount_point), void *ctx);

/* The same from a mountinfo kept open (mounts_open: O_CLOEXEC, or -errno),
 * read again from its start; mounts_changed() tells, without reading,
 * whether a mount was made or removed in that namespace since the last
 * read (the kernel's poll of mountinfo). */
int mounts_open(uint32_t pid);
int mounts_each_unsafe_fd(int fd, bool (*fn)(void *ctx, const char *mount_point), void *ctx);
bool mounts_changed(int fd);

/* path (absolute, without a trailing '/') at or under mount_point */
bool mounts_path_under(const char *path, const char *mount_point);

#endif
