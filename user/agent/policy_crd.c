/* ReachPolicy objects as a policy source (policy_crd.h). The watcher's
 * thread only keeps the objects; judging them (the policy loader), the
 * Events and the merged set happen on the main loop in policy_crd_update. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/strcopy.h"
#include "common/fileio.h"
#include "common/hmap.h"
#include "common/json.h"
#include "common/log.h"
#include "identity/kube_outbox.h"
#include "identity/kube_watch.h"
#include "agent/policy_crd.h"

#define EVENT_MESSAGE_MAX 1024

/* An object as the API last showed it (watcher thread, under mu). */
struct obj {
	char key[512];          /* "NS/NAME" */
	char ns[254], name[254], uid[64], rv[128];
	json_object *o;
};

/* What the main loop made of an object. */
struct judged {
	char rv[128];           /* the version judged */
	char *good_text;        /* the last version the loader accepted, or NULL */
	char good_rv[128];
	bool refused;           /* the current version is refused */
	char conflict_rv[128];  /* the version last reported as a conflict */
};

struct policy_crd {
	struct kube_watch *watch;
	struct kube_outbox *events;
	char *node;
	pthread_mutex_t mu;     /* objs, gen, synced */
	struct hmap *objs;      /* key -> struct obj * */
	uint64_t gen;
	/* main loop */
	uint64_t seen_gen;
	bool built;
	struct hmap *judged;    /* key -> struct judged * */
	struct policy_crd_stats stats;
};

static void obj_free(void *p)
{
	struct obj *o = p;

	if (o)
		json_object_put(o->o);
	free(o);
}

static void judged_free(void *p)
{
	struct judged *j = p;

	if (j)
		free(j->good_text);
	free(j);
}

/* NULL for an object without namespace or name (not one we can judge). */
static struct obj *obj_of(json_object *o)
{
	json_object *meta = json_get(o, "metadata", json_type_object);
	const char *ns = json_get_str(meta, "namespace", NULL), *name = json_get_str(meta, "name", NULL);
	struct obj *ob;

	if (!ns || !*ns || !name || !*name || strlen(ns) >= sizeof(ob->ns) || strlen(name) >= sizeof(ob->name))
		return NULL;
	ob = calloc(1, sizeof(*ob));
	if (!ob)
		return NULL;
	snprintf(ob->key, sizeof(ob->key), "%s/%s", ns, name);
	str_copy(ob->ns, sizeof(ob->ns), ns);
	str_copy(ob->name, sizeof(ob->name), name);
	str_copy(ob->uid, sizeof(ob->uid), json_get_str(meta, "uid", NULL));
	str_copy(ob->rv, sizeof(ob->rv), json_get_str(meta, "resourceVersion", NULL));
	ob->o = json_object_get(o);
	return ob;
}

/* ---- the watcher's thread ------------------------------------------------ */

static int on_list(void *ctx, json_object *items)
{
	struct policy_crd *c = ctx;
	struct hmap *fresh = hmap_new(), *old;
	size_t n = json_object_array_length(items);

	if (!fresh)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct obj *ob = obj_of(json_object_array_get_idx(items, i));

		if (!ob)
			continue;
		if (hmap_put(fresh, ob->key, ob, NULL) != 0) {
			obj_free(ob);
			hmap_free(fresh, obj_free);
			return -ENOMEM;
		}
	}
	pthread_mutex_lock(&c->mu);
	old = c->objs;
	c->objs = fresh;
	c->gen++;
	pthread_mutex_unlock(&c->mu);
	hmap_free(old, obj_free);
	return 0;
}

static void on_event(void *ctx, const char *type, json_object *o)
{
	struct policy_crd *c = ctx;
	struct obj *ob = obj_of(o), *prev = NULL;

	if (!ob) {
		log_debug("ReachPolicy %s event without namespace or name skipped", type);
		return;
	}
	pthread_mutex_lock(&c->mu);
	if (strcmp(type, "DELETED") == 0) {
		prev = hmap_remove(c->objs, ob->key);
		obj_free(ob);
	} else if (hmap_put(c->objs, ob->key, ob, (void **)&prev) != 0) {
		obj_free(ob);
	}
	c->gen++;
	pthread_mutex_unlock(&c->mu);
	obj_free(prev);
}

/* ---- judging (main loop) ------------------------------------------------- */

int policy_crd_render(json_object *obj, char **text, char *err, size_t err_size)
{
	json_object *meta = json_get(obj, "metadata", json_type_object), *spec, *doc, *dmeta, *sa;
	const char *ns = json_get_str(meta, "namespace", NULL), *name = json_get_str(meta, "name", NULL), *s;
	int rc = -ENOMEM;

	*text = NULL;
	if (!ns || !*ns || !name) {
		format_error(err, err_size, "metadata: a ReachPolicy object has a namespace and a name");
		return -EINVAL;
	}
	spec = json_get(obj, "spec", json_type_object);
	if (spec && json_object_object_get_ex(spec, "identity", NULL)) {
		format_error(err, err_size, "spec.identity: a ReachPolicy object declares the serviceAccount of a workload "
			     "in its namespace (%s); host identities are declared in policy files", ns);
		return -EPERM;
	}
	doc = json_object_new_object();
	dmeta = json_object_new_object();
	if (!doc || !dmeta)
		goto out;
	json_add(doc, "apiVersion", json_copy(json_get(obj, "apiVersion", json_type_string)));
	json_add(doc, "kind", json_copy(json_get(obj, "kind", json_type_string)));
	json_add_str(dmeta, "name", name);
	json_add(doc, "metadata", dmeta);
	dmeta = NULL;
	if (spec) {
		json_object *copy = json_copy(spec);

		if (!copy)
			goto out;
		json_add(doc, "spec", copy);
		sa = json_get(copy, "serviceAccount", json_type_string);
		s = sa ? json_object_get_string(sa) : NULL;
		if (s && strchr(s, '/')) {
			size_t nl = (size_t)(strchr(s, '/') - s);

			if (nl != strlen(ns) || strncmp(s, ns, nl) != 0) {
				format_error(err, err_size, "spec.serviceAccount: '%.*s/...' is another namespace; a "
					     "ReachPolicy in namespace %s applies only to service accounts of %s "
					     "(write NAME or %s/NAME)", (int)(nl < 64 ? nl : 64), s, ns, ns, ns);
				rc = -EPERM;
				goto out;
			}
		} else if (s) {
			char *full = NULL;

			if (asprintf(&full, "%s/%s", ns, s) < 0)
				goto out;
			json_add_str(copy, "serviceAccount", full);
			free(full);
		}
	}
	s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s && (*text = strdup(s)))
		rc = 0;
out:
	if (rc == -ENOMEM)
		format_error(err, err_size, "out of memory");
	json_object_put(dmeta);
	json_object_put(doc);
	return rc;
}

static void rfc3339_now(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A Warning Event on the object, from this node's agent. */
static void post_event(struct policy_crd *c, const struct obj *ob, const char *reason, const char *message)
{
	json_object *ev, *meta, *inv, *src;
	char now[32], key[768], path[600], msg[EVENT_MESSAGE_MAX], gen[300];

	if (!c->events)
		return;
	rfc3339_now(now, sizeof(now));
	snprintf(msg, sizeof(msg), "%s", message);
	snprintf(gen, sizeof(gen), "%s.", ob->name);
	ev = json_object_new_object();
	meta = json_object_new_object();
	inv = json_object_new_object();
	src = json_object_new_object();
	if (!ev || !meta || !inv || !src) {
		json_object_put(ev);
		json_object_put(meta);
		json_object_put(inv);
		json_object_put(src);
		return;
	}
	json_add_str(ev, "apiVersion", "v1");
	json_add_str(ev, "kind", "Event");
	json_add_str(meta, "generateName", gen);
	json_add_str(meta, "namespace", ob->ns);
	json_add(ev, "metadata", meta);
	json_add_str(inv, "apiVersion", "reach.dev/v1");
	json_add_str(inv, "kind", "ReachPolicy");
	json_add_str(inv, "namespace", ob->ns);
	json_add_str(inv, "name", ob->name);
	json_add_str_nonempty(inv, "uid", ob->uid);
	json_add_str_nonempty(inv, "resourceVersion", ob->rv);
	json_add(ev, "involvedObject", inv);
	json_add_str(ev, "type", "Warning");
	json_add_str(ev, "reason", reason);
	json_add_str(ev, "message", msg);
	json_add_str(src, "component", "reach-agent");
	json_add_str(src, "host", c->node);
	json_add(ev, "source", src);
	json_add_str(ev, "reportingComponent", "reach.dev/agent");
	json_add_str(ev, "reportingInstance", c->node);
	json_add_str(ev, "firstTimestamp", now);
	json_add_str(ev, "lastTimestamp", now);
	json_add_int(ev, "count", 1);
	snprintf(key, sizeof(key), "event/%s/%s/%s", ob->key, ob->rv, reason);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ob->ns);
	kube_outbox_put(c->events, key, "POST", path, ev, NULL, 0);
	json_object_put(ev);
}

static void refuse(struct policy_crd *c, const struct obj *ob, const struct judged *j, const char *reason,
		   const char *why)
{
	char msg[EVENT_MESSAGE_MAX];

	format_error(msg, sizeof(msg), "%s: %s", why, j->good_text ? "its last good version still applies" :
		 "not applied");
	log_warn("ReachPolicy %s (resourceVersion %s) refused: %s", ob->key, ob->rv, msg);
	c->stats.load_errors++;
	format_error(c->stats.last_error, sizeof(c->stats.last_error), "ReachPolicy %s: %s", ob->key, why);
	post_event(c, ob, reason, msg);
}

/* Judges a new version of an object. */
static void judge(struct policy_crd *c, const struct obj *ob, struct judged *j)
{
	struct policy_set tmp = { 0 };
	char err[1024], name[600];
	char *text = NULL;
	int rc;

	str_copy(j->rv, sizeof(j->rv), ob->rv);
	rc = policy_crd_render(ob->o, &text, err, sizeof(err));
	if (rc == 0) {
		snprintf(name, sizeof(name), "ReachPolicy %s", ob->key);
		rc = policy_load_text(&tmp, name, text, strlen(text), err, sizeof(err));
		policy_set_free(&tmp);
	}
	if (rc) {
		free(text);
		j->refused = true;
		refuse(c, ob, j, rc == -EPERM ? "CrossNamespace" : "InvalidPolicy", err);
		return;
	}
	if (j->refused || !j->good_text)
		log_info("ReachPolicy %s (resourceVersion %s) applied", ob->key, ob->rv);
	j->refused = false;
	free(j->good_text);
	j->good_text = text;
	str_copy(j->good_rv, sizeof(j->good_rv), ob->rv);
}

static int compare_objs(const void *a, const void *b)
{
	return strcmp((*(struct obj *const *)a)->key, (*(struct obj *const *)b)->key);
}

int policy_crd_update(struct policy_crd *c, struct policy_set *out)
{
	struct obj **list = NULL;
	struct policy_set set = { 0 };
	struct hmap_iter it;
	struct hmap *alive = NULL;
	const char *key;
	void *v;
	size_t n = 0, applied = 0, refused = 0;
	uint64_t gen;
	int rc = -ENOMEM;

	pthread_mutex_lock(&c->mu);
	if (c->gen == c->seen_gen) {
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	list = calloc(hmap_count(c->objs) + 1, sizeof(*list));
	if (!list) {
		pthread_mutex_unlock(&c->mu);
		return -ENOMEM;
	}
	hmap_iter_init(&it, c->objs);
	while (hmap_iter_next(&it, &key, &v)) {
		struct obj *src = v, *cp = malloc(sizeof(*cp));

		if (!cp) {
			/* a partial list would read as deletions: try again later */
			pthread_mutex_unlock(&c->mu);
			goto out;
		}
		*cp = *src;
		json_object_get(cp->o);
		list[n++] = cp;
	}
	gen = c->gen;
	pthread_mutex_unlock(&c->mu);
	qsort(list, n, sizeof(*list), compare_objs);

	alive = hmap_new();
	if (!alive)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct obj *ob = list[i];
		struct judged *j = hmap_get(c->judged, ob->key);
		struct policy_set one = { 0 };
		char err[1024], name[600];
		size_t shadowed = 0;

		if (!j) {
			j = calloc(1, sizeof(*j));
			if (!j || hmap_put(c->judged, ob->key, j, NULL) != 0) {
				free(j);
				goto out;
			}
		}
		if (hmap_put(alive, ob->key, j, NULL) != 0)
			goto out;
		if (strcmp(j->rv, ob->rv) != 0 || !j->rv[0])
			judge(c, ob, j);
		if (j->refused)
			refused++;
		if (!j->good_text)
			continue;
		snprintf(name, sizeof(name), "ReachPolicy %s", ob->key);
		if (policy_load_text(&one, name, j->good_text, strlen(j->good_text), err, sizeof(err)) ||
		    policy_set_add_copies(&set, &one, &shadowed)) {
			policy_set_free(&one);
			goto out;
		}
		if (shadowed) {
			/* another object (earlier by name) declares this service account */
			const struct reach_policy *other = policy_for_identity(&set, one.policies[0].identity);

			if (strcmp(j->conflict_rv, ob->rv) != 0) {
				format_error(err, sizeof(err), "spec.serviceAccount: %s is declared by %s already (the first "
					 "by name applies)", one.policies[0].identity, other ? other->file : "another");
				str_copy(j->conflict_rv, sizeof(j->conflict_rv), ob->rv);
				log_warn("ReachPolicy %s refused: %s", ob->key, err);
				c->stats.load_errors++;
				format_error(c->stats.last_error, sizeof(c->stats.last_error), "ReachPolicy %s: %s", ob->key,
					 err);
				post_event(c, ob, "Conflict", err);
			}
			if (!j->refused)
				refused++;
		} else {
			applied++;
		}
		policy_set_free(&one);
	}
	/* objects gone: forget them */
	{
		const char *gone[64];
		size_t ng;

		do {
			ng = 0;
			hmap_iter_init(&it, c->judged);
			while (ng < 64 && hmap_iter_next(&it, &key, &v))
				if (!hmap_get(alive, key))
					gone[ng++] = key;
			for (size_t i = 0; i < ng; i++) {
				log_info("ReachPolicy %s deleted: no longer applied", gone[i]);
				judged_free(hmap_remove(c->judged, gone[i]));
			}
		} while (ng == 64);
	}
	c->stats.objects = n;
	c->stats.applied = applied;
	c->stats.refused = refused;
	if (!refused)
		c->stats.last_load_unix_ms = unix_now_ms();
	policy_set_free(out);
	*out = set;
	set = (struct policy_set){ 0 };
	c->built = true;
	c->seen_gen = gen; /* after a failure above, the next call tries again */
	rc = 1;
out:
	policy_set_free(&set);
	hmap_free(alive, NULL);
	for (size_t i = 0; i < n; i++)
		obj_free(list[i]);
	free(list);
	return rc;
}

/* ---- life ----------------------------------------------------------------- */

int policy_crd_new(struct policy_crd **out, const struct policy_crd_opts *o)
{
	struct policy_crd *c;
	struct kube_watch_ops ops = {
		.what = "reachpolicies",
		.path = POLICY_CRD_PATH,
		.on_list = on_list,
		.on_event = on_event,
		.watch_timeout_s = o->watch_timeout_s,
		.idle_timeout_s = o->idle_timeout_s,
	};
	int rc;

	*out = NULL;
	if (!o->conn)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	c->objs = hmap_new();
	c->judged = hmap_new();
	c->node = strdup(o->node ? o->node : "");
	c->events = o->events;
	ops.ctx = c;
	if (!c->objs || !c->judged || !c->node) {
		policy_crd_stop(c);
		return -ENOMEM;
	}
	rc = kube_watch_new(&c->watch, o->conn, &ops);
	if (rc) {
		policy_crd_stop(c);
		return rc;
	}
	*out = c;
	return 0;
}

int policy_crd_start(struct policy_crd *c)
{
	return c ? kube_watch_start(c->watch) : -EINVAL;
}

void policy_crd_stop(struct policy_crd *c)
{
	if (!c)
		return;
	kube_watch_stop(c->watch); /* before the objects its thread writes */
	hmap_free(c->objs, obj_free);
	hmap_free(c->judged, judged_free);
	pthread_mutex_destroy(&c->mu);
	free(c->node);
	free(c);
}

void policy_crd_get_stats(struct policy_crd *c, struct policy_crd_stats *out)
{
	struct kube_watch_stats ws;

	memset(out, 0, sizeof(*out));
	if (!c)
		return;
	*out = c->stats;
	kube_watch_get_stats(c->watch, &ws);
	/* synced: listed, and the list turned into policies */
	out->synced = ws.synced && c->built;
}
