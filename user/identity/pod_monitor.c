#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/cgroup.h"
#include "common/hmap.h"
#include "common/json.h"
#include "common/log.h"
#include "identity/podcgroup.h"
#include "identity/pod_monitor.h"

struct watched_pod {
	uint64_t cgroup_id; /* 0 while the cgroup is not found */
	char name[512];
};

struct pod_monitor {
	struct cgroup_target target;
	char cgroup_mount[256];
	char *namespaces[POD_MONITOR_MAX_SELECTORS];
	size_t n_namespaces;
	char *labels[POD_MONITOR_MAX_SELECTORS]; /* "key=value" */
	size_t n_labels;
	struct hmap *pods; /* uid -> struct watched_pod */
};

struct pod_monitor *pod_monitor_new(const struct cgroup_target *target, const char *cgroup_mount)
{
	struct pod_monitor *m = calloc(1, sizeof(*m));

	if (!m || !(m->pods = hmap_new())) {
		free(m);
		return NULL;
	}
	m->target = *target;
	snprintf(m->cgroup_mount, sizeof(m->cgroup_mount), "%s", cgroup_mount);
	return m;
}

void pod_monitor_free(struct pod_monitor *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_namespaces; i++)
		free(m->namespaces[i]);
	for (size_t i = 0; i < m->n_labels; i++)
		free(m->labels[i]);
	hmap_free(m->pods, free);
	free(m);
}

int pod_monitor_add_namespace(struct pod_monitor *m, const char *ns)
{
	if (!*ns || m->n_namespaces == POD_MONITOR_MAX_SELECTORS)
		return -EINVAL;
	return (m->namespaces[m->n_namespaces] = strdup(ns)) ? (m->n_namespaces++, 0) : -ENOMEM;
}

int pod_monitor_add_label(struct pod_monitor *m, const char *kv)
{
	const char *eq = strchr(kv, '=');

	if (!eq || eq == kv || m->n_labels == POD_MONITOR_MAX_SELECTORS)
		return -EINVAL;
	return (m->labels[m->n_labels] = strdup(kv)) ? (m->n_labels++, 0) : -ENOMEM;
}

static bool selected(const struct pod_monitor *m, const struct kube_pod *pod)
{
	json_object *labels;
	bool ok = true;

	if (m->n_namespaces) {
		bool in = false;

		for (size_t i = 0; i < m->n_namespaces; i++)
			in |= strcmp(m->namespaces[i], pod->ns) == 0;
		if (!in)
			return false;
	}
	if (!m->n_labels)
		return true;
	labels = json_tokener_parse(pod->labels_json[0] ? pod->labels_json : "{}");
	for (size_t i = 0; ok && i < m->n_labels; i++) {
		const char *eq = strchr(m->labels[i], '=');
		char key[256];
		const char *v;

		snprintf(key, sizeof(key), "%.*s", (int)(eq - m->labels[i]), m->labels[i]);
		v = json_get_str(labels, key, NULL);
		ok = v && strcmp(v, eq + 1) == 0;
	}
	json_object_put(labels);
	return ok;
}

/* Starts monitoring a pod's cgroup directory. */
static void attach(struct pod_monitor *m, struct watched_pod *w, const char *dir)
{
	uint64_t id;
	int rc;

	if ((rc = cgroup_id_of(dir, &id)) || (rc = m->target.monitor(m->target.ctx, id))) {
		log_warn("pod %s: monitoring its cgroup %s: %s", w->name, dir, strerror(-rc));
		return;
	}
	w->cgroup_id = id;
	log_info("monitoring pod %s (cgroup %s)", w->name, dir + strlen(m->cgroup_mount));
}

static void try_attach(struct pod_monitor *m, const char *uid, struct watched_pod *w)
{
	char dir[4096];

	if (w->cgroup_id || podcgroup_find(m->cgroup_mount, uid, dir, sizeof(dir)))
		return; /* done already, or the kubelet has not made it yet */
	attach(m, w, dir);
}

/* A pod directory the tick's scan found: attached if a waiting pod's. */
static void on_pod_dir(void *ctx, const char *uid, const char *dir)
{
	struct pod_monitor *m = ctx;
	struct watched_pod *w = hmap_get(m->pods, uid);

	if (w && !w->cgroup_id)
		attach(m, w, dir);
}

void pod_monitor_on_pod(void *ctx, enum kube_event_type type, const struct kube_pod *pod)
{
	struct pod_monitor *m = ctx;
	struct watched_pod *w = hmap_get(m->pods, pod->uid);

	if (type == KUBE_POD_DELETE || !selected(m, pod)) {
		if (w) {
			if (w->cgroup_id)
				m->target.unmonitor(m->target.ctx, w->cgroup_id);
			log_info("no longer monitoring pod %s", w->name);
			free(hmap_remove(m->pods, pod->uid));
		}
		return;
	}
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w || hmap_put(m->pods, pod->uid, w, NULL)) {
			free(w);
			log_warn("pod %s/%s: out of memory, not monitored", pod->ns, pod->name);
			return;
		}
		snprintf(w->name, sizeof(w->name), "%s/%s", pod->ns, pod->name);
	}
	try_attach(m, pod->uid, w);
}

/* Pods still waiting for their cgroup: one walk of the cgroup tree for all
 * of them (a walk per waiting pod every second cost as many tree walks as
 * pods that never get a cgroup here: other nodes' pods, finished ones). */
void pod_monitor_tick(struct pod_monitor *m)
{
	if (pod_monitor_waiting(m))
		podcgroup_scan(m->cgroup_mount, on_pod_dir, m);
}

size_t pod_monitor_count(const struct pod_monitor *m)
{
	struct hmap_iter it;
	const char *uid;
	void *v;
	size_t n = 0;

	hmap_iter_init(&it, m->pods);
	while (hmap_iter_next(&it, &uid, &v))
		n += ((struct watched_pod *)v)->cgroup_id != 0;
	return n;
}

size_t pod_monitor_waiting(const struct pod_monitor *m)
{
	return hmap_count(m->pods) - pod_monitor_count(m);
}
