/* Identity: which non-human identity a cgroup's activity belongs to.
 *   Kubernetes  "<namespace>/<serviceaccount>"  (pod UID from the cgroup path,
 *               pod from the API server's pod cache)
 *   host        "host/<systemd unit>", or a configured rule (cgroup glob, uid)
 *   unknown     "unknown/<cgroup path>": visible, never dropped.
 * A Kubernetes cgroup whose pod is not (yet) known resolves as pending: its
 * edges are held and attributed once the pod shows up (API outage, a pod
 * created a moment before its first event). */
#ifndef REACH_IDENTITY_H
#define REACH_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDENTITY_MAX_RULES 64

struct kube;

enum identity_state {
	IDENTITY_RESOLVED,  /* final: attribute edges now */
	IDENTITY_PENDING,   /* a pod cgroup whose pod is not known yet: hold */
};

struct identity {
	enum identity_state state;
	char name[600];         /* "ns/sa", "host/x", "unknown/<path>" (pending: unknown/<path> too) */
	char pod[512];          /* "ns/pod" or "" */
	char container[254];
	char image[512];
	char image_id[512];     /* the epoch until the policy stage defines epochs */
	char cgroup_path[512];
};

struct identity_rule {
	bool by_uid;
	uint32_t uid;
	char cgroup_glob[256];
	char identity[256];
};

struct identity_resolver;

/* kube may be NULL (host mode). */
struct identity_resolver *identity_resolver_new(struct kube *kube);
void identity_resolver_free(struct identity_resolver *r);

/* "cgroup:GLOB IDENTITY" or "uid:N IDENTITY". 0, -EINVAL (bad rule), -ENOSPC. */
int identity_add_rule(struct identity_resolver *r, const char *rule);

/* Splits a Kubernetes identity "NAMESPACE/SERVICEACCOUNT" into its parts;
 * false (both "") for host/..., unknown/... and anything else that is not
 * exactly two non-empty parts (a second '/' is a cgroup path). What alerts,
 * OTLP records and Finding reports carry as namespace / service account. */
bool identity_split_k8s(const char *identity, char *ns, size_t ns_size, char *sa, size_t sa_size);

/* Resolves a cgroup (by id and path relative to the cgroup2 mount) for a
 * process of uid. Cheap after the first call per cgroup. */
int identity_resolve(struct identity_resolver *r, uint64_t cgroup_id, const char *cgroup_path, uint32_t uid,
		     struct identity *out);

#endif
