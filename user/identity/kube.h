/* A cache of the Kubernetes pods on this node: listed and then watched from
 * the API server (common/https_client, json-c) on a background thread, looked up by pod
 * UID, with pod events handed to the caller's thread. The service-account
 * token is read from its file before every request and never logged. */
#ifndef REACH_KUBE_H
#define REACH_KUBE_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

struct kube_container {
	char name[254];
	char image[512];        /* as the spec declares it */
	char image_id[512];     /* status imageID: the digest actually running */
	char container_id[65];  /* status containerID without its "<runtime>://" scheme */
};

#define KUBE_MAX_CONTAINERS 16

struct kube_pod {
	char uid[37], ns[254], name[254], service_account[254], node[254];
	/* The controller: Deployment (via its ReplicaSet, the pod-template-hash
	 * suffix stripped), StatefulSet, DaemonSet, Job, ...; a ReplicaSet whose
	 * name does not end in the pod's pod-template-hash stays a ReplicaSet;
	 * "" for a bare pod. */
	char owner_kind[32], owner_name[254];
	/* metadata.labels as compact JSON ("{}" without labels); when the labels
	 * do not fit, as many whole labels as fit (still valid JSON) */
	char labels_json[2048];
	/* init, regular and ephemeral containers (spec order), merged with their
	 * statuses by name; at most KUBE_MAX_CONTAINERS */
	struct kube_container containers[KUBE_MAX_CONTAINERS];
	int n_containers;
};

struct kube_opts {
	const char *api_url;     /* https only; NULL: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT */
	const char *token_file;  /* NULL: /var/run/secrets/kubernetes.io/serviceaccount/token */
	const char *ca_file;     /* NULL: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt */
	const char *node_name;   /* NULL: $NODE_NAME (the downward API) */
	/* 0 for the defaults; tests shorten them. */
	unsigned watch_timeout_s; /* server-side watch timeout (timeoutSeconds), default 300 */
	unsigned idle_timeout_s;  /* a watch that receives nothing for this long is dead, default 90 */
};

enum kube_event_type { KUBE_POD_UPSERT, KUBE_POD_DELETE };

struct kube;

/* Checks the options (URL, node name, readable token and CA files). Errors:
 * one line in err, negative errno. */
int kube_new(struct kube **out, const struct kube_opts *opts, char *err, size_t err_size);

/*
 * Starts the background thread: list the pods of the node
 * (fieldSelector=spec.nodeName=NODE), then watch from the list's
 * resourceVersion (bookmarks on); re-list on 410 Gone or a watch ERROR
 * event; on connect errors, 401/403/5xx, garbage JSON and timeouts retry
 * with exponential backoff and jitter (0.5 s .. 30 s). One log line per
 * change of failure class and one when it recovers. 0 or negative errno.
 */
int kube_start(struct kube *k);

/* Stops and joins the thread (at once, also mid-request), frees. Accepts NULL. */
void kube_stop(struct kube *k);

/* Copies the cached pod. 0 or -ENOENT. Thread-safe. */
int kube_lookup(struct kube *k, const char *pod_uid, struct kube_pod *out);

/*
 * Calls cb for the pod events since the last drain, in order, on the
 * caller's thread (no lock held: cb may call kube_lookup). A relist yields
 * UPSERTs for new or changed pods and DELETEs for vanished ones. Pending
 * events of one pod collapse into its latest (the final state is what
 * counts); beyond KUBE_MAX_PENDING pods with pending events the oldest are
 * dropped and counted in stats.dropped.
 */
void kube_drain(struct kube *k, void (*cb)(void *ctx, enum kube_event_type type, const struct kube_pod *pod), void *ctx);

#define KUBE_MAX_PENDING 4096

struct kube_stats {
	uint64_t lists;        /* successful lists */
	uint64_t watches;      /* watch streams opened (HTTP 200) */
	uint64_t events;       /* ADDED/MODIFIED/DELETED events applied */
	uint64_t errors;       /* failed requests (any class but 410) */
	uint64_t relists_410;  /* re-lists forced by 410 Gone (HTTP or ERROR event) */
	int synced;            /* the first list has completed */
	char last_error[256];  /* the last failure, "" before any */
	uint64_t dropped;      /* pending events dropped (KUBE_MAX_PENDING) */
};

void kube_get_stats(struct kube *k, struct kube_stats *out);

/* Every cached pod (malloc'ed array, caller frees; *n 0 and *out NULL when
 * none): 0 or -ENOMEM. Thread-safe. */
int kube_pods_snapshot(struct kube *k, struct kube_pod **out, size_t *n);

struct kube_conn;
/* The API connection and the node name, for the other users of the API on
 * this agent (the ReachPolicy watcher, the PolicyReport writer). */
const struct kube_conn *kube_connection(const struct kube *k);
const char *kube_node(const struct kube *k);

/* Internal, exposed for tests: one pod object (as in a PodList item or a
 * watch event) into *out (zeroed first). 0, or -EINVAL without metadata.uid
 * or with a UID that is not 1..36 characters. */
int kube_parse_pod(struct json_object *o, struct kube_pod *out);

#endif
