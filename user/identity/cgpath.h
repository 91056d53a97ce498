/* Parses a cgroup v2 path (relative to the cgroup2 mount) into what its
 * layout says about the workload: a Kubernetes container or pod (systemd and
 * cgroupfs drivers; containerd, CRI-O and docker runtimes; kind's nested
 * kubelet; any prefix before the kubepods root, for nested runtimes), a
 * systemd unit under system.slice, or a user session. Pure string work: no
 * file system access. */
#ifndef REACH_CGPATH_H
#define REACH_CGPATH_H

#include <stdint.h>

enum cgpath_kind {
	CGPATH_UNKNOWN,
	CGPATH_K8S_CONTAINER,
	CGPATH_K8S_CONMON,     /* CRI-O's runtime monitor: in the pod, not the workload */
	CGPATH_K8S_POD,        /* the pod-level cgroup itself */
	CGPATH_SYSTEMD_UNIT,
	CGPATH_USER_SESSION,
};

struct cgpath_info {
	enum cgpath_kind kind;
	char pod_uid[37];        /* with '-' (the systemd driver writes '_': converted) */
	char container_id[65];   /* 64 lowercase hex */
	char runtime[16];        /* "containerd", "cri-o", "docker", "" (cgroupfs bare ids do not say) */
	char qos[16];            /* "burstable", "besteffort", "guaranteed" */
	char unit[256];          /* systemd unit without its suffix: "llm-gateway" for
	                          * system.slice/llm-gateway.service; for a user session the
	                          * unit below user-N.slice ("session-3", "user@1000") or "" */
	uint32_t uid;            /* user session: N of user.slice/user-N.slice */
};

/*
 * Fills *out (zeroed first; kind CGPATH_UNKNOWN when no layout matches, which
 * is not an error). Cgroups nested below a container's cgroup (a runtime or
 * systemd inside the container) belong to that container; for Kubernetes
 * the innermost kubepods root wins (kind in a pod). Returns 0, or -EINVAL
 * when path or out is NULL.
 */
int cgpath_parse(const char *path, struct cgpath_info *out);

/* "unknown", "k8s-container", ... (static strings, for logs and reports). */
const char *cgpath_kind_name(enum cgpath_kind kind);

#endif
