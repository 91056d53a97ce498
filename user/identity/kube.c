/* The pod cache (kube.h) over the list-then-watch engine (kube_watch.h). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/strcopy.h"
#include "common/hmap.h"
#include "common/https_client.h"
#include "common/json.h"
#include "common/log.h"
#include "identity/kube.h"
#include "identity/kube_watch.h"

#define NODE_NAME_MAX 253

struct pending {
	struct pending *prev, *next;
	enum kube_event_type type;
	struct kube_pod pod;
};

struct kube {
	struct kube_conn conn;
	char *node;
	struct kube_watch *watch;
	unsigned watch_timeout_s, idle_timeout_s;

	pthread_mutex_t mu; /* pods, pending, dropped */
	struct hmap *pods; /* uid -> struct kube_pod * */
	struct pending *head, *tail;
	size_t n_pending;
	struct hmap *pending_by_uid; /* uid -> struct pending * */
	uint64_t dropped;
};

/* ------------------------------------------------------------------ */
/* Pod objects                                                          */

static void labels_json(json_object *labels, char *out, size_t out_size)
{
	const char *s;
	json_object *sub;

	strcpy(out, "{}");
	if (!labels)
		return;
	s = json_text(labels, JSON_COMPACT);
	if (s && strlen(s) < out_size) {
		strcpy(out, s);
		return;
	}
	/* Too long: keep whole labels while they fit, so the result stays JSON. */
	sub = json_object_new_object();
	if (!sub)
		return;
	json_object_object_foreach(labels, key, val) {
		if (json_add(sub, key, json_object_get(val)))
			continue;
		s = json_text(sub, JSON_COMPACT);
		if (!s || strlen(s) >= out_size)
			json_object_object_del(sub, key);
	}
	s = json_text(sub, JSON_COMPACT);
	if (s && strlen(s) < out_size)
		strcpy(out, s);
	json_object_put(sub);
}

/* The controlling owner (controller: true), else the first reference. */
static void resolve_owner(json_object *meta, json_object *labels, struct kube_pod *p)
{
	json_object *refs = json_get(meta, "ownerReferences", json_type_array), *ref = NULL;
	const char *kind, *name, *hash;
	size_t n = refs ? json_object_array_length(refs) : 0;

	for (size_t i = 0; i < n && !ref; i++) {
		json_object *r = json_object_array_get_idx(refs, i);
		json_object *c = json_get(r, "controller", json_type_boolean);

		if (c && json_object_get_boolean(c))
			ref = r;
	}
	if (!ref && n)
		ref = json_object_array_get_idx(refs, 0);
	kind = json_get_str(ref, "kind", NULL);
	name = json_get_str(ref, "name", NULL);
	if (!kind || !name)
		return;
	hash = json_get_str(labels, "pod-template-hash", NULL);
	if (strcmp(kind, "ReplicaSet") == 0 && hash && *hash) {
		size_t nl = strlen(name), hl = strlen(hash);

		/* <deployment>-<pod-template-hash>: a ReplicaSet made by a Deployment */
		if (nl > hl + 1 && name[nl - hl - 1] == '-' && strcmp(name + nl - hl, hash) == 0) {
			str_copy(p->owner_kind, sizeof(p->owner_kind), "Deployment");
			str_copy(p->owner_name, sizeof(p->owner_name), name);
			if (nl - hl - 1 < sizeof(p->owner_name))
				p->owner_name[nl - hl - 1] = '\0';
			return;
		}
	}
	str_copy(p->owner_kind, sizeof(p->owner_kind), kind);
	str_copy(p->owner_name, sizeof(p->owner_name), name);
}

static struct kube_container *find_container(struct kube_pod *p, const char *name)
{
	for (int i = 0; i < p->n_containers; i++)
		if (strcmp(p->containers[i].name, name) == 0)
			return &p->containers[i];
	return NULL;
}

static struct kube_container *add_container(struct kube_pod *p, const char *name)
{
	struct kube_container *c;

	if (p->n_containers >= KUBE_MAX_CONTAINERS)
		return NULL;
	c = &p->containers[p->n_containers++];
	str_copy(c->name, sizeof(c->name), name);
	return c;
}

static void add_spec_containers(json_object *spec, const char *key, struct kube_pod *p)
{
	json_object *arr = json_get(spec, key, json_type_array);
	size_t n = arr ? json_object_array_length(arr) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(arr, i);
		const char *name = json_get_str(c, "name", NULL);
		struct kube_container *kc;

		if (!name || find_container(p, name))
			continue;
		kc = add_container(p, name);
		if (!kc)
			return;
		str_copy(kc->image, sizeof(kc->image), json_get_str(c, "image", NULL));
	}
}

static void merge_statuses(json_object *status, const char *key, struct kube_pod *p)
{
	json_object *arr = json_get(status, key, json_type_array);
	size_t n = arr ? json_object_array_length(arr) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(arr, i);
		const char *name = json_get_str(s, "name", NULL), *cid = json_get_str(s, "containerID", NULL), *sep;
		struct kube_container *kc;

		if (!name)
			continue;
		kc = find_container(p, name);
		if (!kc && !(kc = add_container(p, name)))
			continue;
		if (!kc->image[0])
			str_copy(kc->image, sizeof(kc->image), json_get_str(s, "image", NULL));
		str_copy(kc->image_id, sizeof(kc->image_id), json_get_str(s, "imageID", NULL));
		/* "containerd://<id>", "cri-o://<id>", "docker://<id>" */
		kc->container_id[0] = '\0';
		if (cid && (sep = strstr(cid, "://")))
			cid = sep + 3;
		if (cid && strlen(cid) < sizeof(kc->container_id))
			strcpy(kc->container_id, cid);
	}
}

int kube_parse_pod(struct json_object *o, struct kube_pod *out)
{
	json_object *meta, *spec, *status, *labels;
	const char *uid, *sa;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	meta = json_get(o, "metadata", json_type_object);
	uid = json_get_str(meta, "uid", NULL);
	if (!uid || !*uid || strlen(uid) >= sizeof(out->uid))
		return -EINVAL;
	spec = json_get(o, "spec", json_type_object);
	status = json_get(o, "status", json_type_object);
	labels = json_get(meta, "labels", json_type_object);

	strcpy(out->uid, uid);
	str_copy(out->ns, sizeof(out->ns), json_get_str(meta, "namespace", NULL));
	str_copy(out->name, sizeof(out->name), json_get_str(meta, "name", NULL));
	sa = json_get_str(spec, "serviceAccountName", NULL);
	if (!sa || !*sa)
		sa = json_get_str(spec, "serviceAccount", NULL); /* the deprecated alias */
	str_copy(out->service_account, sizeof(out->service_account), sa);
	str_copy(out->node, sizeof(out->node), json_get_str(spec, "nodeName", NULL));
	resolve_owner(meta, labels, out);
	labels_json(labels, out->labels_json, sizeof(out->labels_json));
	add_spec_containers(spec, "initContainers", out);
	add_spec_containers(spec, "containers", out);
	add_spec_containers(spec, "ephemeralContainers", out);
	merge_statuses(status, "initContainerStatuses", out);
	merge_statuses(status, "containerStatuses", out);
	merge_statuses(status, "ephemeralContainerStatuses", out);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Cache and events (k->mu held)                                        */

static void pending_unlink(struct kube *k, struct pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		k->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		k->tail = p->prev;
	p->prev = p->next = NULL;
}

static void pending_append(struct kube *k, struct pending *p)
{
	p->prev = k->tail;
	p->next = NULL;
	if (k->tail)
		k->tail->next = p;
	else
		k->head = p;
	k->tail = p;
}

/* A pod's pending event is replaced by its latest one, moved to the end. */
static void push_event(struct kube *k, enum kube_event_type type, const struct kube_pod *pod)
{
	struct pending *p = hmap_get(k->pending_by_uid, pod->uid);

	if (p) {
		pending_unlink(k, p);
	} else {
		if (k->n_pending >= KUBE_MAX_PENDING) {
			struct pending *old = k->head;

			pending_unlink(k, old);
			hmap_remove(k->pending_by_uid, old->pod.uid);
			free(old);
			k->n_pending--;
			k->dropped++;
		}
		p = malloc(sizeof(*p));
		if (!p || hmap_put(k->pending_by_uid, pod->uid, p, NULL) != 0) {
			free(p);
			k->dropped++;
			return;
		}
		k->n_pending++;
	}
	p->type = type;
	memcpy(&p->pod, pod, sizeof(*pod));
	pending_append(k, p);
}

/* 1 when the pod is new or changed (an event is due), 0 when unchanged. */
static int cache_upsert(struct kube *k, const struct kube_pod *pod)
{
	struct kube_pod *cur = hmap_get(k->pods, pod->uid);

	if (cur) {
		if (memcmp(cur, pod, sizeof(*pod)) == 0)
			return 0;
		memcpy(cur, pod, sizeof(*pod));
		return 1;
	}
	cur = malloc(sizeof(*cur));
	if (!cur)
		return -ENOMEM;
	memcpy(cur, pod, sizeof(*pod));
	if (hmap_put(k->pods, pod->uid, cur, NULL) != 0) {
		free(cur);
		return -ENOMEM;
	}
	return 1;
}

static void cache_delete(struct kube *k, const struct kube_pod *pod)
{
	free(hmap_remove(k->pods, pod->uid));
	push_event(k, KUBE_POD_DELETE, pod);
}

/* ------------------------------------------------------------------ */
/* The watcher's callbacks (its thread)                                 */

static void on_pod_event(void *ctx, const char *type, json_object *obj)
{
	struct kube *k = ctx;
	struct kube_pod *pod = malloc(sizeof(*pod));

	if (!pod) {
		pthread_mutex_lock(&k->mu);
		k->dropped++;
		pthread_mutex_unlock(&k->mu);
		return;
	}
	if (kube_parse_pod(obj, pod) != 0) {
		/* not attributable to anything; the stream itself is fine */
		log_debug("kubernetes API: %s event without a pod UID skipped", type);
		free(pod);
		return;
	}
	pthread_mutex_lock(&k->mu);
	/* a pod moved off this node (the field selector keeps this from
	 * happening; cheap to honour anyway) is gone for us */
	if (strcmp(type, "DELETED") == 0 || (pod->node[0] && strcmp(pod->node, k->node) != 0)) {
		cache_delete(k, pod);
	} else {
		int ch = cache_upsert(k, pod);

		if (ch > 0)
			push_event(k, KUBE_POD_UPSERT, pod);
		else if (ch < 0)
			k->dropped++;
	}
	pthread_mutex_unlock(&k->mu);
	free(pod);
}

static int on_pod_list(void *ctx, json_object *items)
{
	struct kube *k = ctx;
	size_t n = json_object_array_length(items), m = 0;
	struct kube_pod **order = calloc(n ? n : 1, sizeof(*order));
	struct hmap *fresh = hmap_new(), *old;
	struct hmap_iter it;
	const char *uid;
	void *v;
	size_t skipped = 0;

	if (!order || !fresh) {
		free(order);
		hmap_free(fresh, NULL);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct kube_pod *p = malloc(sizeof(*p));

		if (!p || kube_parse_pod(json_object_array_get_idx(items, i), p) != 0 ||
		    (p->node[0] && strcmp(p->node, k->node) != 0) || hmap_get(fresh, p->uid) ||
		    hmap_put(fresh, p->uid, p, NULL) != 0) {
			free(p);
			skipped++;
			continue;
		}
		order[m++] = p;
	}
	if (skipped)
		log_debug("kubernetes API: %zu list items skipped (no UID, other node or duplicate)", skipped);

	pthread_mutex_lock(&k->mu);
	old = k->pods;
	hmap_iter_init(&it, old);
	while (hmap_iter_next(&it, &uid, &v))
		if (!hmap_get(fresh, uid))
			push_event(k, KUBE_POD_DELETE, v);
	for (size_t i = 0; i < m; i++) {
		struct kube_pod *prev = hmap_get(old, order[i]->uid);

		if (!prev || memcmp(prev, order[i], sizeof(*prev)) != 0)
			push_event(k, KUBE_POD_UPSERT, order[i]);
	}
	k->pods = fresh;
	pthread_mutex_unlock(&k->mu);

	hmap_free(old, free);
	free(order);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Public                                                               */

static void kube_free(struct kube *k)
{
	struct pending *p, *next;

	if (!k)
		return;
	for (p = k->head; p; p = next) {
		next = p->next;
		free(p);
	}
	hmap_free(k->pending_by_uid, NULL);
	hmap_free(k->pods, free);
	pthread_mutex_destroy(&k->mu);
	kube_conn_fini(&k->conn);
	free(k->node);
	free(k);
}

int kube_new(struct kube **out, const struct kube_opts *opts, char *err, size_t err_size)
{
	static const struct kube_opts none;
	struct kube *k = NULL;
	const char *node;
	int rc;

	if (!out) {
		format_error(err, err_size, "kube_new: no output pointer");
		return -EINVAL;
	}
	*out = NULL;
	if (!opts)
		opts = &none;
	k = calloc(1, sizeof(*k));
	if (!k)
		goto nomem;
	pthread_mutex_init(&k->mu, NULL);
	rc = kube_conn_init(&k->conn, opts->api_url, opts->token_file, opts->ca_file, err, err_size);
	if (rc)
		goto fail;
	node = opts->node_name ? opts->node_name : getenv("NODE_NAME");
	if (!node || !*node) {
		format_error(err, err_size, "kubernetes API: node name unknown (set NODE_NAME or pass the node name)");
		rc = -EINVAL;
		goto fail;
	}
	if (strlen(node) > NODE_NAME_MAX) {
		format_error(err, err_size, "kubernetes API: node name longer than %d characters", NODE_NAME_MAX);
		rc = -EINVAL;
		goto fail;
	}
	k->node = strdup(node);
	if (!k->node)
		goto nomem;
	k->watch_timeout_s = opts->watch_timeout_s;
	k->idle_timeout_s = opts->idle_timeout_s;
	k->pods = hmap_new();
	k->pending_by_uid = hmap_new();
	if (!k->pods || !k->pending_by_uid)
		goto nomem;
	*out = k;
	return 0;
nomem:
	format_error(err, err_size, "kubernetes API: out of memory");
	rc = -ENOMEM;
fail:
	kube_free(k);
	return rc;
}

const struct kube_conn *kube_connection(const struct kube *k)
{
	return k ? &k->conn : NULL;
}

const char *kube_node(const struct kube *k)
{
	return k ? k->node : NULL;
}

int kube_start(struct kube *k)
{
	char *node, *path = NULL;
	struct kube_watch_ops ops = {
		.what = "pods",
		.on_list = on_pod_list,
		.on_event = on_pod_event,
		.ctx = k,
	};
	int rc;

	if (!k)
		return -EINVAL;
	if (k->watch)
		return -EALREADY;
	ops.watch_timeout_s = k->watch_timeout_s;
	ops.idle_timeout_s = k->idle_timeout_s;
	/* the pods of this node only */
	node = http_url_escape(k->node);
	if (!node || asprintf(&path, "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", node) < 0)
		path = NULL;
	free(node);
	if (!path)
		return -ENOMEM;
	ops.path = path;
	rc = kube_watch_new(&k->watch, &k->conn, &ops);
	free(path);
	if (rc)
		return rc;
	rc = kube_watch_start(k->watch);
	if (rc) {
		kube_watch_stop(k->watch);
		k->watch = NULL;
	}
	return rc;
}

void kube_stop(struct kube *k)
{
	if (!k)
		return;
	kube_watch_stop(k->watch);
	kube_free(k);
}

int kube_lookup(struct kube *k, const char *pod_uid, struct kube_pod *out)
{
	struct kube_pod *p;
	int rc = -ENOENT;

	if (!k || !pod_uid || !out)
		return -EINVAL;
	pthread_mutex_lock(&k->mu);
	p = hmap_get(k->pods, pod_uid);
	if (p) {
		memcpy(out, p, sizeof(*out));
		rc = 0;
	}
	pthread_mutex_unlock(&k->mu);
	return rc;
}

void kube_drain(struct kube *k, void (*cb)(void *ctx, enum kube_event_type type, const struct kube_pod *pod), void *ctx)
{
	struct pending *list, *p, *next;

	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	list = k->head;
	for (p = list; p; p = p->next)
		hmap_remove(k->pending_by_uid, p->pod.uid);
	k->head = k->tail = NULL;
	k->n_pending = 0;
	pthread_mutex_unlock(&k->mu);
	for (p = list; p; p = next) {
		next = p->next;
		if (cb)
			cb(ctx, p->type, &p->pod);
		free(p);
	}
}

void kube_get_stats(struct kube *k, struct kube_stats *out)
{
	struct kube_watch_stats ws;

	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!k)
		return;
	kube_watch_get_stats(k->watch, &ws);
	out->lists = ws.lists;
	out->watches = ws.watches;
	out->events = ws.events;
	out->errors = ws.errors;
	out->relists_410 = ws.relists_410;
	out->synced = ws.synced;
	memcpy(out->last_error, ws.last_error, sizeof(out->last_error));
	pthread_mutex_lock(&k->mu);
	out->dropped = k->dropped;
	pthread_mutex_unlock(&k->mu);
}

int kube_pods_snapshot(struct kube *k, struct kube_pod **out, size_t *n)
{
	struct hmap_iter it;
	const char *uid;
	void *v;
	size_t i = 0;

	*out = NULL;
	*n = 0;
	if (!k)
		return 0;
	pthread_mutex_lock(&k->mu);
	if (hmap_count(k->pods)) {
		*out = malloc(hmap_count(k->pods) * sizeof(**out));
		if (!*out) {
			pthread_mutex_unlock(&k->mu);
			return -ENOMEM;
		}
		hmap_iter_init(&it, k->pods);
		while (hmap_iter_next(&it, &uid, &v))
			memcpy(&(*out)[i++], v, sizeof(**out));
	}
	*n = i;
	pthread_mutex_unlock(&k->mu);
	return 0;
}
