/* ReachPolicy objects of the cluster (CRD reachpolicies.reach.dev, namespaced)
 * as a policy source: listed and watched through the API (identity/kube_watch)
 * on a background thread, turned into policies on the policy loader's
 * thread (agent/policy_loader.h), never on the main loop.
 *
 * A namespaced object declares reach for service accounts of its own
 * namespace only: spec.serviceAccount NAME (read as NS/NAME) or NS/NAME with
 * NS its namespace. Another namespace, or spec.identity (host identities are
 * for policy files), is refused, so that one tenant cannot declare reach for
 * another. An object the policy loader refuses keeps its last good version
 * (or none); two objects declaring one service account: the first by name
 * applies, the other is refused. Every refusal is logged, counted and
 * reported as a Warning Event on the object (once per resourceVersion). */
#ifndef REACH_AGENT_POLICY_CRD_H
#define REACH_AGENT_POLICY_CRD_H

#include <stddef.h>
#include <stdint.h>
#include "policy/policy.h"

struct json_object;
struct kube_conn;
struct kube_outbox;
struct policy_crd;

#define POLICY_CRD_PATH "/apis/reach.dev/v1/reachpolicies"

struct policy_crd_opts {
	const struct kube_conn *conn;
	const char *node;              /* the Events' source.host */
	struct kube_outbox *events;    /* where the Events go; NULL: none */
	unsigned watch_timeout_s, idle_timeout_s; /* 0: the defaults (tests shorten them) */
};

/* 0, -EINVAL or -ENOMEM. */
int policy_crd_new(struct policy_crd **out, const struct policy_crd_opts *o);
int policy_crd_start(struct policy_crd *c);
void policy_crd_stop(struct policy_crd *c); /* joins, frees; accepts NULL */

/* On one thread (the policy loader's): when the objects changed since the last call, rebuilds
 * the policies they declare into *out (replacing it) and returns 1; 0 when
 * nothing changed; -ENOMEM. */
int policy_crd_update(struct policy_crd *c, struct policy_set *out);

struct policy_crd_stats {
	int synced;                /* the first list has completed */
	size_t objects;            /* ReachPolicy objects seen */
	size_t applied;            /* objects whose (current or last good) version applies */
	size_t refused;            /* objects whose current version is refused */
	uint64_t load_errors;      /* refusals, counted once per object version */
	int64_t last_load_unix_ms; /* the last rebuild with nothing refused; 0: none yet */
	char last_error[512];
};
void policy_crd_get_stats(struct policy_crd *c, struct policy_crd_stats *out);

/* Internal, exposed for tests: the policy text of one ReachPolicy object (the
 * loader's input: apiVersion, kind, metadata.name and spec, the service
 * account qualified with the object's namespace), malloc'ed into *text, or
 * -EPERM/-EINVAL with why in err (a cross-namespace declaration: -EPERM). */
int policy_crd_render(struct json_object *obj, char **text, char *err, size_t err_size);

#endif
