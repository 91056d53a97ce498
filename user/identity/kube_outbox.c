/* The API write queue (kube_outbox.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/json.h"
#include "common/log.h"
#include "identity/kube_outbox.h"
#include "identity/kube_watch.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000

struct item {
	struct item *next;
	char *key, *method, *path, *content_type;
	json_object *body;
	int ok_if_missing;
	unsigned tries;
};

struct kube_outbox {
	struct kube_conn conn;
	pthread_t thread;
	bool started;
	atomic_int stopping;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct item *head, *tail;
	bool busy; /* a request in flight */
	struct kube_outbox_stats stats;
	char last_reason[256]; /* thread only: log once per change */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void item_free(struct item *it)
{
	if (!it)
		return;
	free(it->key);
	free(it->method);
	free(it->path);
	free(it->content_type);
	json_object_put(it->body);
	free(it);
}

/* mu held */
static void wait_until(struct kube_outbox *o, uint64_t deadline)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline / 1000), .tv_nsec = (long)(deadline % 1000) * 1000000 };

	while (!atomic_load(&o->stopping) && now_ms() < deadline)
		if (pthread_cond_timedwait(&o->cond, &o->mu, &ts) == ETIMEDOUT)
			break;
}

static void note_error(struct kube_outbox *o, const char *msg, bool final)
{
	pthread_mutex_lock(&o->mu);
	snprintf(o->stats.last_error, sizeof(o->stats.last_error), "%s", msg);
	pthread_mutex_unlock(&o->mu);
	if (strcmp(o->last_reason, msg) != 0)
		log_warn("kubernetes API: %s%s", msg, final ? "" : "; retrying with backoff");
	snprintf(o->last_reason, sizeof(o->last_reason), "%s", msg);
}

/* A write to /apis/GROUP/VERSION/... answered 404 most often means the API
 * server does not serve that group at all: its CRD is not installed (the
 * PolicyReport CRD is not part of reach). Said in the message, which is
 * logged once per change, rather than a bare "HTTP 404". */
static void hint_missing_api(const char *path, char *err, size_t size)
{
	const char *g, *v, *end;
	size_t used = strlen(err);

	if (strncmp(path, "/apis/", 6) != 0)
		return;
	g = path + 6;
	v = strchr(g, '/');
	if (!v)
		return;
	end = strchr(v + 1, '/');
	if (!end)
		end = v + strlen(v);
	snprintf(err + used, size > used ? size - used : 0,
		 " (the API server does not serve %.*s%.*s here: is its CustomResourceDefinition installed?)",
		 (int)(v - g), g, (int)(end - v), v);
}

static void *outbox_thread(void *arg)
{
	struct kube_outbox *o = arg;

	pthread_mutex_lock(&o->mu);
	while (!atomic_load(&o->stopping)) {
		struct item *it = o->head;
		char err[256];
		long status = 0;
		int rc;

		if (!it) {
			pthread_cond_broadcast(&o->cond); /* flushers */
			pthread_cond_wait(&o->cond, &o->mu);
			continue;
		}
		o->head = it->next;
		if (!o->head)
			o->tail = NULL;
		o->stats.pending--;
		o->busy = true;
		pthread_mutex_unlock(&o->mu);

		rc = kube_conn_request(&o->conn, it->method, it->path, it->body, it->content_type, &o->stopping, &status,
				       NULL, err, sizeof(err));
		it->tries++;
		if (rc == 0 && ((status >= 200 && status < 300) || (status == 404 && it->ok_if_missing))) {
			if (o->last_reason[0])
				log_info("kubernetes API: writes recovered");
			o->last_reason[0] = '\0';
			pthread_mutex_lock(&o->mu);
			o->stats.sent++;
			o->busy = false;
			item_free(it);
			continue;
		}
		if (atomic_load(&o->stopping)) {
			item_free(it);
			pthread_mutex_lock(&o->mu);
			o->busy = false;
			break;
		}
		if ((rc || status == 429 || status >= 500) && it->tries < KUBE_OUTBOX_TRIES) {
			uint64_t delay = BACKOFF_MIN_MS << (it->tries - 1);

			note_error(o, err, false);
			if (delay > BACKOFF_MAX_MS)
				delay = BACKOFF_MAX_MS;
			pthread_mutex_lock(&o->mu);
			o->stats.retries++;
			wait_until(o, now_ms() + delay);
			/* back at the head, unless a newer state of it came meanwhile */
			{
				struct item *p;
				bool superseded = false;

				for (p = o->head; p; p = p->next)
					if (strcmp(p->key, it->key) == 0)
						superseded = true;
				if (superseded) {
					item_free(it);
				} else {
					it->next = o->head;
					o->head = it;
					if (!o->tail)
						o->tail = it;
					o->stats.pending++;
				}
			}
			o->busy = false;
			continue;
		}
		if (status == 404)
			hint_missing_api(it->path, err, sizeof(err));
		note_error(o, err, true);
		pthread_mutex_lock(&o->mu);
		o->stats.failed++;
		o->busy = false;
		item_free(it);
	}
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

struct kube_outbox *kube_outbox_new(const struct kube_conn *conn)
{
	struct kube_outbox *o = calloc(1, sizeof(*o));
	pthread_condattr_t ca;

	if (!o)
		return NULL;
	if (kube_conn_copy(&o->conn, conn)) {
		free(o);
		return NULL;
	}
	pthread_mutex_init(&o->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->cond, &ca);
	pthread_condattr_destroy(&ca);
	return o;
}

int kube_outbox_start(struct kube_outbox *o)
{
	int rc;

	if (!o)
		return -EINVAL;
	if (o->started)
		return -EALREADY;
	rc = pthread_create(&o->thread, NULL, outbox_thread, o);
	if (rc)
		return -rc;
	o->started = true;
	return 0;
}

void kube_outbox_stop(struct kube_outbox *o)
{
	struct item *it, *next;

	if (!o)
		return;
	if (o->started) {
		pthread_mutex_lock(&o->mu);
		atomic_store(&o->stopping, 1);
		pthread_cond_broadcast(&o->cond);
		pthread_mutex_unlock(&o->mu);
		pthread_join(o->thread, NULL);
	}
	for (it = o->head; it; it = next) {
		next = it->next;
		item_free(it);
	}
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->mu);
	kube_conn_fini(&o->conn);
	free(o);
}

int kube_outbox_put(struct kube_outbox *o, const char *key, const char *method, const char *path,
		    struct json_object *body, const char *content_type, int ok_if_missing)
{
	struct item *it, *p, *prev = NULL;

	if (!o || !key || !method || !path)
		return -EINVAL;
	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->key = strdup(key);
	it->method = strdup(method);
	it->path = strdup(path);
	it->content_type = content_type ? strdup(content_type) : NULL;
	it->body = body ? json_object_get(body) : NULL;
	it->ok_if_missing = ok_if_missing;
	if (!it->key || !it->method || !it->path || (content_type && !it->content_type)) {
		item_free(it);
		return -ENOMEM;
	}
	pthread_mutex_lock(&o->mu);
	for (p = o->head; p; prev = p, p = p->next) {
		if (strcmp(p->key, it->key) != 0)
			continue;
		/* the newer state takes the older one's place in the queue */
		it->next = p->next;
		if (prev)
			prev->next = it;
		else
			o->head = it;
		if (o->tail == p)
			o->tail = it;
		item_free(p);
		o->stats.replaced++;
		goto out;
	}
	if (o->stats.pending >= KUBE_OUTBOX_MAX) {
		struct item *old = o->head;

		o->head = old->next;
		if (!o->head)
			o->tail = NULL;
		item_free(old);
		o->stats.pending--;
		o->stats.dropped++;
	}
	if (o->tail)
		o->tail->next = it;
	else
		o->head = it;
	o->tail = it;
	o->stats.pending++;
out:
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->mu);
	return 0;
}

void kube_outbox_get_stats(struct kube_outbox *o, struct kube_outbox_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!o)
		return;
	pthread_mutex_lock(&o->mu);
	*out = o->stats;
	pthread_mutex_unlock(&o->mu);
}

int kube_outbox_flush(struct kube_outbox *o, long timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	int rc = 0;

	if (!o)
		return 0;
	pthread_mutex_lock(&o->mu);
	while ((o->head || o->busy) && !atomic_load(&o->stopping)) {
		struct timespec ts = { .tv_sec = (time_t)(deadline / 1000), .tv_nsec = (long)(deadline % 1000) * 1000000 };

		if (now_ms() >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		pthread_cond_timedwait(&o->cond, &o->mu, &ts);
	}
	pthread_mutex_unlock(&o->mu);
	return rc;
}
