/* Finds the cgroup directory of a pod from its UID, whatever the driver:
 * .../kubepods-burstable-pod<uid with _>.slice (systemd) or .../pod<uid>
 * (cgroupfs). The pod-level directory is monitored, so containers started
 * later inside it are covered too. */
#ifndef REACH_PODCGROUP_H
#define REACH_PODCGROUP_H

#include <stddef.h>

/* Writes the absolute directory into out. 0 or -ENOENT (not created yet:
 * the kubelet makes it when the pod sandbox starts; try again later). */
int podcgroup_find(const char *cgroup_mount, const char *pod_uid, char *out, size_t out_size);

/* Every pod directory below the mount, in one walk: found(ctx, uid with
 * dashes, absolute directory) for each. What podcgroup_find() would answer
 * for that uid, for many pods at once. */
typedef void (*podcgroup_found_fn)(void *ctx, const char *uid, const char *dir);
void podcgroup_scan(const char *cgroup_mount, podcgroup_found_fn found, void *ctx);

#endif
