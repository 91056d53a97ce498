#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/hmap.h"
#include "common/https_client.h"
#include "common/json.h"
#include "common/log.h"
#include "identity/kube.h"

#define DEFAULT_TOKEN_FILE "/var/run/secrets/kubernetes.io/serviceaccount/token"
#define DEFAULT_CA_FILE "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
#define LIST_TIMEOUT_S 30
#define CONNECT_TIMEOUT_S 10
#define DEFAULT_WATCH_TIMEOUT_S 300
#define DEFAULT_IDLE_TIMEOUT_S 90   /* the API server sends a bookmark about every minute */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define MAX_LIST_BODY (64u << 20)   /* a full node is a few MiB */
#define MAX_EVENT_LINE (16u << 20)
#define MAX_ERROR_BODY 4096
#define MAX_TOKEN 65536             /* bytes of the token file */
#define NODE_NAME_MAX 253

/* What went wrong, for logging once per class rather than once per retry. */
enum fail_class {
	FAIL_NONE,
	FAIL_TOKEN,
	FAIL_CONNECT,
	FAIL_TLS,
	FAIL_TIMEOUT,
	FAIL_AUTH,
	FAIL_SERVER,
	FAIL_HTTP,
	FAIL_GARBAGE,
	FAIL_WATCH_ERROR,
};

struct pending {
	struct pending *prev, *next;
	enum kube_event_type type;
	struct kube_pod pod;
};

struct kube {
	char *api_url, *token_file, *ca_file, *node;
	unsigned watch_timeout_s, idle_timeout_s;
	pthread_t thread;
	bool started;
	atomic_int stopping;

	pthread_mutex_t mu; /* pods, pending, stats */
	pthread_cond_t cond; /* stop, for the backoff sleep */
	struct hmap *pods; /* uid -> struct kube_pod * */
	struct pending *head, *tail;
	size_t n_pending;
	struct hmap *pending_by_uid; /* uid -> struct pending * */
	struct kube_stats stats;

	/* owned by the thread */
	char rv[128];
	enum fail_class fail;
	unsigned fail_count;
	unsigned backoff_step;
	uint64_t rng;
};

/* One HTTP GET: a list (body buffered), or a watch (events applied as their
 * lines complete). */
struct xfer {
	struct kube *k;
	bool watch;
	long status;        /* final status, known once the headers are in */
	char *buf;          /* list body, pending watch line, or error body */
	size_t len, cap, scan;
	json_tokener *tok;
	/* set by the callbacks to abort the transfer */
	int rc;
	enum fail_class fail;
	char msg[200];
	bool got_event;
	/* during kube_get: its in_flight_token, which server text is cleaned
	 * of before it is cut */
	const struct http_request *rq;
};

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

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
			copy_str(p->owner_kind, sizeof(p->owner_kind), "Deployment");
			copy_str(p->owner_name, sizeof(p->owner_name), name);
			if (nl - hl - 1 < sizeof(p->owner_name))
				p->owner_name[nl - hl - 1] = '\0';
			return;
		}
	}
	copy_str(p->owner_kind, sizeof(p->owner_kind), kind);
	copy_str(p->owner_name, sizeof(p->owner_name), name);
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
	copy_str(c->name, sizeof(c->name), name);
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
		copy_str(kc->image, sizeof(kc->image), json_get_str(c, "image", NULL));
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
			copy_str(kc->image, sizeof(kc->image), json_get_str(s, "image", NULL));
		copy_str(kc->image_id, sizeof(kc->image_id), json_get_str(s, "imageID", NULL));
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
	copy_str(out->ns, sizeof(out->ns), json_get_str(meta, "namespace", NULL));
	copy_str(out->name, sizeof(out->name), json_get_str(meta, "name", NULL));
	sa = json_get_str(spec, "serviceAccountName", NULL);
	if (!sa || !*sa)
		sa = json_get_str(spec, "serviceAccount", NULL); /* the deprecated alias */
	copy_str(out->service_account, sizeof(out->service_account), sa);
	copy_str(out->node, sizeof(out->node), json_get_str(spec, "nodeName", NULL));
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
			k->stats.dropped++;
		}
		p = malloc(sizeof(*p));
		if (!p || hmap_put(k->pending_by_uid, pod->uid, p, NULL) != 0) {
			free(p);
			k->stats.dropped++;
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
/* Failure accounting and backoff (thread only)                         */

static const char *fail_name(enum fail_class c)
{
	switch (c) {
	case FAIL_TOKEN: return "token";
	case FAIL_CONNECT: return "connection";
	case FAIL_TLS: return "TLS";
	case FAIL_TIMEOUT: return "timeout";
	case FAIL_AUTH: return "authorization";
	case FAIL_SERVER: return "server error";
	case FAIL_HTTP: return "HTTP";
	case FAIL_GARBAGE: return "invalid response";
	case FAIL_WATCH_ERROR: return "watch error";
	case FAIL_NONE: break;
	}
	return "none";
}

static void record_failure(struct kube *k, enum fail_class c, const char *msg)
{
	pthread_mutex_lock(&k->mu);
	k->stats.errors++;
	copy_str(k->stats.last_error, sizeof(k->stats.last_error), msg);
	pthread_mutex_unlock(&k->mu);
	/* a retry storm of one kind is one line; -v shows every attempt */
	if (c != k->fail)
		log_warn("kubernetes API: %s; retrying with backoff", msg);
	else
		log_debug("kubernetes API: %s (attempt %u)", msg, k->fail_count + 1);
	k->fail = c;
	k->fail_count++;
}

static void record_success(struct kube *k)
{
	if (k->fail != FAIL_NONE)
		log_info("kubernetes API: recovered after %u failed attempt%s (last: %s)", k->fail_count,
			 k->fail_count == 1 ? "" : "s", fail_name(k->fail));
	k->fail = FAIL_NONE;
	k->fail_count = 0;
	k->backoff_step = 0;
}

static uint64_t next_rand(struct kube *k)
{
	/* xorshift64*: jitter only, not security */
	k->rng ^= k->rng >> 12;
	k->rng ^= k->rng << 25;
	k->rng ^= k->rng >> 27;
	return k->rng * 2685821657736338717ull;
}

/* Sleeps the next backoff step; returns early when stopping. */
static void backoff_wait(struct kube *k)
{
	uint64_t delay = BACKOFF_MIN_MS, lo, deadline;
	struct timespec ts;

	for (unsigned i = 0; i < k->backoff_step && delay < BACKOFF_MAX_MS; i++)
		delay *= 2;
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	if (k->backoff_step < 16)
		k->backoff_step++;
	/* jitter within [max(min, delay/2), delay], so that clients that failed
	 * together spread out, and the bounds stay 0.5 s .. 30 s */
	lo = delay / 2 > BACKOFF_MIN_MS ? delay / 2 : BACKOFF_MIN_MS;
	delay = lo + next_rand(k) % (delay - lo + 1);
	deadline = now_ms() + delay;
	ts.tv_sec = (time_t)(deadline / 1000);
	ts.tv_nsec = (long)(deadline % 1000) * 1000000;
	pthread_mutex_lock(&k->mu);
	while (!atomic_load(&k->stopping) && now_ms() < deadline)
		if (pthread_cond_timedwait(&k->cond, &k->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&k->mu);
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                 */

/* Server-provided text for a message, at most max characters: cleaned of
 * the token while whole, then cut (a cut first could leave a token prefix
 * that a later http_redact() no longer recognises). */
static void server_text(const struct xfer *x, const char *text, size_t max, char *out, size_t out_size)
{
	char whole[4096];

	snprintf(whole, sizeof(whole), "%s", text ? text : "");
	http_redact(whole, x->rq ? x->rq->in_flight_token : NULL);
	if (strlen(whole) > max)
		whole[max] = '\0';
	snprintf(out, out_size, "%s", whole);
	explicit_bzero(whole, sizeof(whole));
}

static void xfer_fail(struct xfer *x, int rc, enum fail_class c, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void xfer_fail(struct xfer *x, int rc, enum fail_class c, const char *fmt, ...)
{
	va_list ap;

	x->rc = rc;
	x->fail = c;
	va_start(ap, fmt);
	vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
	va_end(ap);
}

static int buf_append(struct xfer *x, const char *data, size_t n, size_t max)
{
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 16384;
		char *b;

		while (cap < x->len + n + 1)
			cap *= 2;
		if (cap > max + 1)
			cap = max + 1;
		if (x->len + n + 1 > cap)
			return -E2BIG;
		b = realloc(x->buf, cap);
		if (!b)
			return -ENOMEM;
		x->buf = b;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return 0;
}

static void set_rv(struct kube *k, json_object *obj)
{
	const char *rv = json_get_str(json_get(obj, "metadata", json_type_object), "resourceVersion", NULL);

	if (rv && *rv && strlen(rv) < sizeof(k->rv))
		strcpy(k->rv, rv);
}

/* One watch event line. 0, or negative with x's failure set (aborts the stream). */
static int watch_event(struct xfer *x, const char *line, size_t len)
{
	struct kube *k = x->k;
	json_object *ev, *obj;
	const char *type;
	struct kube_pod *pod = NULL;
	int rc = 0;

	while (len && (*line == ' ' || *line == '\t' || *line == '\r'))
		line++, len--;
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	if (!len)
		return 0;
	json_tokener_reset(x->tok);
	ev = json_tokener_parse_ex(x->tok, line, (int)len);
	if (!ev || json_tokener_get_parse_end(x->tok) != len) {
		enum json_tokener_error je = json_tokener_get_error(x->tok);

		json_object_put(ev);
		xfer_fail(x, -EBADMSG, FAIL_GARBAGE, "watch pods: invalid JSON event (%s)",
			  je == json_tokener_success ? "trailing data" :
			  je == json_tokener_continue ? "incomplete object" : json_tokener_error_desc(je));
		return -EBADMSG;
	}
	type = json_get_str(ev, "type", NULL);
	obj = json_get(ev, "object", json_type_object);
	if (!type || !obj) {
		xfer_fail(x, -EBADMSG, FAIL_GARBAGE, "watch pods: event without type or object");
		rc = -EBADMSG;
		goto out;
	}
	x->got_event = true;
	if (strcmp(type, "BOOKMARK") == 0) {
		set_rv(k, obj);
		goto out;
	}
	if (strcmp(type, "ERROR") == 0) {
		json_object *code = json_get(obj, "code", json_type_int);
		const char *reason = json_get_str(obj, "reason", NULL), *message = json_get_str(obj, "message", NULL);
		int c = code ? json_object_get_int(code) : 0;

		if (c == 410) {
			xfer_fail(x, -ESTALE, FAIL_WATCH_ERROR, "watch pods: 410 Gone (%s)", reason ? reason : "Expired");
			rc = -ESTALE;
		} else {
			char m[128], rs[64];

			server_text(x, message, 100, m, sizeof(m));
			server_text(x, reason, 40, rs, sizeof(rs));
			xfer_fail(x, -EPROTO, FAIL_WATCH_ERROR, "watch pods: ERROR event %d %s: %s", c, rs, m);
			rc = -EPROTO;
		}
		goto out;
	}
	if (strcmp(type, "ADDED") && strcmp(type, "MODIFIED") && strcmp(type, "DELETED")) {
		xfer_fail(x, -EBADMSG, FAIL_GARBAGE, "watch pods: unknown event type %.40s", type);
		rc = -EBADMSG;
		goto out;
	}
	pod = malloc(sizeof(*pod));
	if (!pod) {
		xfer_fail(x, -ENOMEM, FAIL_GARBAGE, "watch pods: out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if (kube_parse_pod(obj, pod) != 0) {
		/* not attributable to anything; the stream itself is fine */
		log_debug("kubernetes API: %s event without a pod UID skipped", type);
		set_rv(k, obj);
		goto out;
	}
	pthread_mutex_lock(&k->mu);
	k->stats.events++;
	/* a pod moved off this node (the field selector keeps this from
	 * happening; cheap to honour anyway) is gone for us */
	if (strcmp(type, "DELETED") == 0 || (pod->node[0] && strcmp(pod->node, k->node) != 0)) {
		cache_delete(k, pod);
	} else {
		int ch = cache_upsert(k, pod);

		if (ch > 0)
			push_event(k, KUBE_POD_UPSERT, pod);
		else if (ch < 0)
			k->stats.dropped++;
	}
	pthread_mutex_unlock(&k->mu);
	set_rv(k, obj);
out:
	free(pod);
	json_object_put(ev);
	return rc;
}

/* Splits the stream into lines; an object may arrive in many pieces. */
static int watch_feed(struct xfer *x, const char *data, size_t n)
{
	size_t start = 0;
	int rc = buf_append(x, data, n, MAX_EVENT_LINE);

	if (rc) {
		xfer_fail(x, rc, FAIL_GARBAGE, "watch pods: event larger than %u bytes", MAX_EVENT_LINE);
		return rc;
	}
	for (;;) {
		char *nl = memchr(x->buf + x->scan, '\n', x->len - x->scan);
		size_t end;

		if (!nl) {
			x->scan = x->len;
			break;
		}
		end = (size_t)(nl - x->buf);
		rc = watch_event(x, x->buf + start, end - start);
		if (rc)
			return rc;
		start = end + 1;
		x->scan = start;
	}
	memmove(x->buf, x->buf + start, x->len - start);
	x->len -= start;
	x->scan -= start;
	return 0;
}

/* The final response's headers are in. */
static int on_response(void *ctx, long status)
{
	struct xfer *x = ctx;

	x->status = status;
	if (x->watch && status == 200) {
		pthread_mutex_lock(&x->k->mu);
		x->k->stats.watches++;
		pthread_mutex_unlock(&x->k->mu);
		record_success(x->k);
	}
	return 0;
}

/* A piece of a 200 body (the client keeps an error body itself). */
static int on_body(void *ctx, const char *data, size_t n)
{
	struct xfer *x = ctx;

	if (atomic_load(&x->k->stopping))
		return -ECANCELED;
	if (x->watch)
		return watch_feed(x, data, n);
	if (buf_append(x, data, n, MAX_LIST_BODY) != 0) {
		xfer_fail(x, -E2BIG, FAIL_GARBAGE, "list pods: response larger than %u bytes", MAX_LIST_BODY);
		return -E2BIG;
	}
	return 0;
}

/* The Status message of an error body, if it is one. */
static void status_message(const struct xfer *x, const char *body, char *out, size_t out_size)
{
	json_object *o;

	out[0] = '\0';
	if (!body || !*body)
		return;
	o = json_tokener_parse(body);
	if (o) {
		const char *m = json_get_str(o, "message", NULL);

		if (m) {
			char clean[128];

			server_text(x, m, 120, clean, sizeof(clean));
			snprintf(out, out_size, ": %s", clean);
		}
		json_object_put(o);
	}
}

static enum fail_class fail_class_of(enum http_fail f)
{
	switch (f) {
	case HTTP_FAIL_TOKEN:
		return FAIL_TOKEN;
	case HTTP_FAIL_TLS:
		return FAIL_TLS;
	case HTTP_FAIL_TIMEOUT:
		return FAIL_TIMEOUT;
	default:
		return FAIL_CONNECT;
	}
}

/*
 * GETs url into x. 0 on HTTP 200 with a body that the callbacks accepted;
 * -ESTALE on 410 (HTTP or watch ERROR); -ECANCELED when stopping; another
 * negative errno with x->fail and x->msg set on any failure.
 */
static int kube_get(struct kube *k, const char *url, const char *what, struct xfer *x, long timeout_s)
{
	static const char *const accept[] = { "Accept: application/json", NULL };
	const struct http_target t = {
		.url = url,
		.token_file = k->token_file,
		.token_max = MAX_TOKEN,
		.ca_file = k->ca_file, /* the cluster CA only */
		.timeout_ms = timeout_s * 1000,
		.connect_timeout_ms = CONNECT_TIMEOUT_S * 1000L,
		.https_only = true,
		.cancel = &k->stopping, /* kube_stop ends a transfer in flight */
	};
	struct http_request rq = {
		.method = "GET",
		.headers = accept,
		/* a dead peer sends nothing: not even the periodic bookmarks */
		.idle_timeout_s = x->watch ? (long)k->idle_timeout_s : 0,
		.accept_encoding = !x->watch,
		.max_body = MAX_ERROR_BODY, /* of a status other than 200: enough for the Status message */
		.on_response = on_response,
		.on_body = on_body,
		.ctx = x,
	};
	struct http_result res;
	int rc;

	x->k = k;
	x->rc = 0;
	x->rq = &rq;
	rc = http_request(&t, &rq, &res);
	x->rq = NULL;
	if (atomic_load(&k->stopping)) {
		rc = -ECANCELED;
		goto out;
	}
	if (rc && res.fail == HTTP_FAIL_BODY && x->rc) {
		rc = x->rc; /* the callbacks said why */
		goto out;
	}
	if (rc) {
		xfer_fail(x, rc, fail_class_of(res.fail), "%s: %s", what, res.error);
		goto out;
	}
	if (x->status == 0)
		x->status = res.status;
	if (x->status != 200) {
		char sm[160];

		status_message(x, rq.resp_body, sm, sizeof(sm));
		if (x->status == 410) {
			rc = -ESTALE;
			xfer_fail(x, rc, FAIL_WATCH_ERROR, "%s: HTTP 410 Gone%s", what, sm);
		} else if (x->status == 401 || x->status == 403) {
			rc = -EACCES;
			xfer_fail(x, rc, FAIL_AUTH, "%s: HTTP %ld %s%s (check the service-account token and RBAC)",
				  what, x->status, x->status == 401 ? "Unauthorized" : "Forbidden", sm);
		} else if (x->status >= 500) {
			rc = -EAGAIN;
			xfer_fail(x, rc, FAIL_SERVER, "%s: HTTP %ld%s", what, x->status, sm);
		} else {
			rc = -EPROTO;
			xfer_fail(x, rc, FAIL_HTTP, "%s: unexpected HTTP %ld%s", what, x->status, sm);
		}
	}
out:
	if (rc && rc != -ECANCELED)
		http_redact(x->msg, NULL); /* printable, one line */
	free(rq.resp_body);
	return rc;
}

static void xfer_free(struct xfer *x)
{
	free(x->buf);
	if (x->tok)
		json_tokener_free(x->tok);
}

static char *pods_url(struct kube *k)
{
	char *node = http_url_escape(k->node), *url = NULL;

	if (node && asprintf(&url, "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", k->api_url, node) < 0)
		url = NULL;
	free(node);
	return url;
}

/* ------------------------------------------------------------------ */
/* List and watch                                                       */

static int apply_list(struct kube *k, json_object *items)
{
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
	k->stats.lists++;
	k->stats.synced = 1;
	pthread_mutex_unlock(&k->mu);

	hmap_free(old, free);
	free(order);
	return 0;
}

static int do_list(struct kube *k, struct xfer *out_fail)
{
	struct xfer x = { .watch = false };
	char *url = pods_url(k);
	json_object *o = NULL, *items;
	const char *rv;
	int rc;

	if (!url) {
		xfer_fail(out_fail, -ENOMEM, FAIL_CONNECT, "list pods: out of memory");
		return -ENOMEM;
	}
	rc = kube_get(k, url, "list pods", &x, LIST_TIMEOUT_S);
	free(url);
	if (rc)
		goto out;
	x.tok = json_tokener_new();
	if (!x.tok) {
		rc = -ENOMEM;
		xfer_fail(&x, rc, FAIL_GARBAGE, "list pods: out of memory");
		goto out;
	}
	if (x.len)
		o = json_tokener_parse_ex(x.tok, x.buf, (int)x.len);
	if (!o) {
		rc = -EBADMSG;
		xfer_fail(&x, rc, FAIL_GARBAGE, "list pods: invalid JSON (%s)",
			  x.len ? json_tokener_error_desc(json_tokener_get_error(x.tok)) : "empty body");
		goto out;
	}
	items = json_get(o, "items", json_type_array);
	rv = json_get_str(json_get(o, "metadata", json_type_object), "resourceVersion", NULL);
	if (!items || !rv || !*rv || strlen(rv) >= sizeof(k->rv)) {
		rc = -EBADMSG;
		xfer_fail(&x, rc, FAIL_GARBAGE, "list pods: not a PodList (no items or resourceVersion)");
		goto out;
	}
	rc = apply_list(k, items);
	if (rc) {
		xfer_fail(&x, rc, FAIL_GARBAGE, "list pods: out of memory");
		goto out;
	}
	strcpy(k->rv, rv);
out:
	if (rc) {
		out_fail->fail = x.fail;
		memcpy(out_fail->msg, x.msg, sizeof(x.msg));
	}
	json_object_put(o);
	xfer_free(&x);
	return rc;
}

/* 0 when the stream ended normally (server timeout); see kube_get. */
static int do_watch(struct kube *k, struct xfer *out_fail, bool *got_event)
{
	struct xfer x = { .watch = true };
	char *base = pods_url(k), *rv = http_url_escape(k->rv), *url = NULL;
	int rc;

	*got_event = false;
	if (!base || !rv || asprintf(&url, "%s&watch=1&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=%u",
				     base, rv, k->watch_timeout_s) < 0) {
		free(base);
		free(rv);
		xfer_fail(out_fail, -ENOMEM, FAIL_CONNECT, "watch pods: out of memory");
		return -ENOMEM;
	}
	free(base);
	free(rv);
	x.tok = json_tokener_new();
	if (!x.tok) {
		free(url);
		xfer_fail(out_fail, -ENOMEM, FAIL_CONNECT, "watch pods: out of memory");
		return -ENOMEM;
	}
	/* the server ends the stream at timeoutSeconds; this is the backstop */
	rc = kube_get(k, url, "watch pods", &x, (long)k->watch_timeout_s + 30);
	free(url);
	if (rc == 0 && x.len) {
		rc = watch_event(&x, x.buf, x.len); /* a last line without its newline */
		if (rc)
			http_redact(x.msg, NULL); /* printable; the token is gone by now */
	}
	*got_event = x.got_event;
	if (rc) {
		out_fail->fail = x.fail;
		memcpy(out_fail->msg, x.msg, sizeof(x.msg));
	}
	xfer_free(&x);
	return rc;
}

static void *kube_thread(void *arg)
{
	struct kube *k = arg;
	bool need_list = true;
	unsigned gone_in_a_row = 0;

	while (!atomic_load(&k->stopping)) {
		struct xfer f = { 0 };
		bool got_event = false;
		uint64_t t0;
		int rc;

		if (need_list) {
			rc = do_list(k, &f);
			if (rc == -ECANCELED)
				break;
			if (rc) {
				record_failure(k, f.fail, f.msg);
				backoff_wait(k);
				continue;
			}
			record_success(k);
			need_list = false;
		}
		t0 = now_ms();
		rc = do_watch(k, &f, &got_event);
		if (rc == -ECANCELED)
			break;
		if (rc == -ESTALE) {
			/* our resourceVersion was compacted away: start over */
			pthread_mutex_lock(&k->mu);
			k->stats.relists_410++;
			pthread_mutex_unlock(&k->mu);
			log_info("kubernetes API: %s; re-listing", f.msg);
			need_list = true;
			/* a server that answers 410 to the fresh list's version too */
			if (++gone_in_a_row > 1)
				backoff_wait(k);
			continue;
		}
		gone_in_a_row = 0;
		if (rc == 0) {
			/* a stream that ends at once with nothing: do not spin */
			if (!got_event && now_ms() - t0 < 1000)
				backoff_wait(k);
			continue;
		}
		record_failure(k, f.fail, f.msg);
		if (rc == -EPROTO)
			need_list = true; /* an ERROR event: what we hold may be stale */
		backoff_wait(k);
	}
	return NULL;
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
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->mu);
	free(k->api_url);
	free(k->token_file);
	free(k->ca_file);
	free(k->node);
	free(k);
}

static int check_readable(const char *what, const char *path, char *err, size_t err_size)
{
	struct stat st;

	if (access(path, R_OK) != 0) {
		int rc = -errno;

		format_error(err, err_size, "cannot read %s %s: %s", what, path, strerror(errno));
		return rc;
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		format_error(err, err_size, "%s %s is a directory", what, path);
		return -EISDIR;
	}
	return 0;
}

int kube_new(struct kube **out, const struct kube_opts *opts, char *err, size_t err_size)
{
	static const struct kube_opts none;
	struct kube *k = NULL;
	pthread_condattr_t ca;
	const char *node;
	size_t ul;
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
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->cond, &ca);
	pthread_condattr_destroy(&ca);

	if (opts->api_url) {
		k->api_url = strdup(opts->api_url);
	} else {
		const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");

		if (!host || !*host || !port || !*port) {
			format_error(err, err_size, "kubernetes API: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT not set "
				     "(not in a cluster? pass the API URL)");
			rc = -EINVAL;
			goto fail;
		}
		/* an IPv6 service address needs brackets in a URL */
		if (asprintf(&k->api_url, "https://%s%s%s:%s", strchr(host, ':') ? "[" : "", host,
			     strchr(host, ':') ? "]" : "", port) < 0)
			k->api_url = NULL;
	}
	if (!k->api_url)
		goto nomem;
	if (strncasecmp(k->api_url, "https://", 8) != 0 || !k->api_url[8]) {
		format_error(err, err_size, "kubernetes API URL must be https://HOST[:PORT] (got %.100s)", k->api_url);
		rc = -EINVAL;
		goto fail;
	}
	ul = strlen(k->api_url);
	while (ul > 8 && k->api_url[ul - 1] == '/')
		k->api_url[--ul] = '\0';

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
	k->token_file = strdup(opts->token_file ? opts->token_file : DEFAULT_TOKEN_FILE);
	k->ca_file = strdup(opts->ca_file ? opts->ca_file : DEFAULT_CA_FILE);
	if (!k->node || !k->token_file || !k->ca_file)
		goto nomem;
	rc = check_readable("CA file", k->ca_file, err, err_size);
	if (rc)
		goto fail;
	rc = check_readable("token file", k->token_file, err, err_size);
	if (rc)
		goto fail;
	k->watch_timeout_s = opts->watch_timeout_s ? opts->watch_timeout_s : DEFAULT_WATCH_TIMEOUT_S;
	k->idle_timeout_s = opts->idle_timeout_s ? opts->idle_timeout_s : DEFAULT_IDLE_TIMEOUT_S;

	k->pods = hmap_new();
	k->pending_by_uid = hmap_new();
	if (!k->pods || !k->pending_by_uid)
		goto nomem;
	if (getrandom(&k->rng, sizeof(k->rng), GRND_NONBLOCK) != sizeof(k->rng))
		k->rng = now_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)k;
	k->rng |= 1; /* xorshift must not start at 0 */
	*out = k;
	return 0;
nomem:
	format_error(err, err_size, "kubernetes API: out of memory");
	rc = -ENOMEM;
fail:
	kube_free(k);
	return rc;
}

int kube_start(struct kube *k)
{
	int rc;

	if (!k)
		return -EINVAL;
	if (k->started)
		return -EALREADY;
	rc = pthread_create(&k->thread, NULL, kube_thread, k);
	if (rc)
		return -rc;
	k->started = true;
	return 0;
}

void kube_stop(struct kube *k)
{
	if (!k)
		return;
	if (k->started) {
		pthread_mutex_lock(&k->mu);
		atomic_store(&k->stopping, 1);
		pthread_cond_broadcast(&k->cond);
		pthread_mutex_unlock(&k->mu);
		pthread_join(k->thread, NULL);
	}
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
	if (!out)
		return;
	if (!k) {
		memset(out, 0, sizeof(*out));
		return;
	}
	pthread_mutex_lock(&k->mu);
	*out = k->stats;
	pthread_mutex_unlock(&k->mu);
}
