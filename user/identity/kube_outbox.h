/* Writes to the Kubernetes API off the main loop: a queue of requests
 * (Events about ReachPolicy objects, PolicyReports) sent in order by one
 * thread over kube_conn_request. A request queued under the key of one still
 * waiting replaces it (a PolicyReport's latest state is what counts). A
 * transport failure, 429 or 5xx is retried with backoff (0.5 s .. 30 s, at
 * most KUBE_OUTBOX_TRIES times); any other non-2xx answer is final: logged
 * once per change of reason and counted. */
#ifndef REACH_KUBE_OUTBOX_H
#define REACH_KUBE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct kube_conn;
struct kube_outbox;

#define KUBE_OUTBOX_MAX 4096 /* requests waiting; beyond, the oldest go (counted) */
#define KUBE_OUTBOX_TRIES 6

/* The connection is copied. NULL when out of memory. */
struct kube_outbox *kube_outbox_new(const struct kube_conn *conn);
int kube_outbox_start(struct kube_outbox *o);
/* Stops (a request in flight is cancelled; what waits is dropped) and frees.
 * Accepts NULL. */
void kube_outbox_stop(struct kube_outbox *o);

/*
 * Queues METHOD PATH with body (a reference is taken: the caller keeps its
 * own), content_type NULL for application/json. 404 is success when
 * ok_if_missing (a DELETE of what is already gone). 0, -EINVAL or -ENOMEM.
 */
int kube_outbox_put(struct kube_outbox *o, const char *key, const char *method, const char *path,
		    struct json_object *body, const char *content_type, int ok_if_missing);

struct kube_outbox_stats {
	uint64_t sent;       /* answered 2xx (or 404 where that is fine) */
	uint64_t failed;     /* given up: a final error or out of tries */
	uint64_t retries;
	uint64_t replaced;   /* superseded while waiting */
	uint64_t dropped;    /* KUBE_OUTBOX_MAX */
	size_t pending;
	char last_error[256];
};
void kube_outbox_get_stats(struct kube_outbox *o, struct kube_outbox_stats *out);

/* Blocks until nothing waits or is in flight, or timeout_ms passed: 0 or
 * -ETIMEDOUT (tests, and the agent's exit). */
int kube_outbox_flush(struct kube_outbox *o, long timeout_ms);

#endif
