/* Which pods are monitored: the pods on this node that match the namespace
 * and label selectors (default: all), kept current as pods come and go, and
 * translated into the kernel's monitored-cgroup set (the pod-level cgroup,
 * so containers started later are covered). */
#ifndef REACH_POD_MONITOR_H
#define REACH_POD_MONITOR_H

#include <stddef.h>
#include <stdint.h>
#include "identity/kube.h"

#define POD_MONITOR_MAX_SELECTORS 32

struct pod_monitor;

/* Where selected pods' cgroups go: the sensor's monitored set in reachd
 * (identity/ knows no sensor), a fake in tests. Both return 0 or -errno. */
struct cgroup_target {
	int (*monitor)(void *ctx, uint64_t cgroup_id);
	int (*unmonitor)(void *ctx, uint64_t cgroup_id);
	void *ctx;
};

struct pod_monitor *pod_monitor_new(const struct cgroup_target *target, const char *cgroup_mount);
void pod_monitor_free(struct pod_monitor *m);
/* "NAMESPACE" (any of them matches) */
int pod_monitor_add_namespace(struct pod_monitor *m, const char *ns);
/* "key=value" (all of them must match) */
int pod_monitor_add_label(struct pod_monitor *m, const char *key_value);

/* kube_drain() callback */
void pod_monitor_on_pod(void *ctx, enum kube_event_type type, const struct kube_pod *pod);
/* Retries pods whose cgroup did not exist yet; call periodically. */
void pod_monitor_tick(struct pod_monitor *m);

size_t pod_monitor_count(const struct pod_monitor *m);   /* pods monitored now */
size_t pod_monitor_waiting(const struct pod_monitor *m); /* selected, cgroup not found yet */

#endif
