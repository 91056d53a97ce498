/* cgroup v2 helpers: find the mount, map a directory to its id and back. */
#ifndef REACH_CGROUP_H
#define REACH_CGROUP_H

#include <stddef.h>
#include <stdint.h>

/* Finds the cgroup2 mount point (from /proc/self/mounts). 0 or -ENOENT. */
int cgroup_find_v2_mount(char *out, size_t out_size);

/* The cgroup v2 id of a directory: what bpf_get_current_cgroup_id() returns
 * for tasks in it (the kernfs node id, read via name_to_handle_at). */
int cgroup_id_of(const char *dir, uint64_t *id);

/* Finds the directory below the cgroup2 mount whose id is `id` and writes its
 * path relative to the mount ("/" for the root, "/a/b" below). 0 or -ENOENT. */
int cgroup_path_of(uint64_t id, char *out, size_t out_size);

/* Whether the cgroup whose id is `id` still exists (open_by_handle_at on
 * the cgroup2 mount: needs CAP_DAC_READ_SEARCH): 1 yes, 0 removed, or
 * -errno when it cannot tell. Not thread-safe (one cached mount). */
int cgroup_exists(uint64_t id);

/* The cgroup v2 id of a process, from /proc/PID/cgroup ("0::/path") and
 * the cgroup2 mount. 0 or -errno (-ENOENT: no such process or no v2 line). */
int cgroup_id_of_pid(const char *cgroup_mount, uint32_t pid, uint64_t *id);

/* Checks that `dir` is a directory on a cgroup2 file system. 0 or -errno. */
int cgroup_check_v2_dir(const char *dir);

#endif
