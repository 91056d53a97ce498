/* The agent's one Kubernetes API client: where the API server is and how to
 * authenticate (kube_conn), one request (kube_conn_request: the writes of
 * Events and PolicyReports), and the list-then-watch engine (kube_watch) that
 * the pod cache (kube.h) and the ReachPolicy watcher both run on: list,
 * watch from the list's resourceVersion with bookmarks, re-list on 410 Gone
 * or a watch ERROR event, retry everything else with exponential backoff and
 * jitter (0.5 s .. 30 s), one log line per change of failure class. The
 * service-account token is read from its file before every request and
 * never logged (common/https_client). */
#ifndef REACH_KUBE_WATCH_H
#define REACH_KUBE_WATCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/* Where the API server is: https only. */
struct kube_conn {
	char *api_url;    /* https://HOST[:PORT], no trailing slash */
	char *token_file;
	char *ca_file;
};

/* api_url NULL: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT;
 * token_file/ca_file NULL: the pod's service-account mount. Checks the URL
 * and that both files are readable. 0, or negative errno with one line in
 * err. */
int kube_conn_init(struct kube_conn *c, const char *api_url, const char *token_file, const char *ca_file, char *err,
		   size_t err_size);
void kube_conn_fini(struct kube_conn *c);
/* A copy (strings duplicated): 0 or -ENOMEM. */
int kube_conn_copy(struct kube_conn *dst, const struct kube_conn *src);

/*
 * One request to PATH ("/apis/..."): METHOD with body (JSON, or NULL) sent
 * as content_type (NULL: application/json). *status is the HTTP status (0
 * when none arrived); *resp (when not NULL) the parsed JSON response of a
 * 2xx answer, or NULL. 0 when a response arrived, whatever its status;
 * otherwise negative errno with err set (never the token, never the path's
 * query). Blocking: call it from a thread, never the main loop.
 */
int kube_conn_request(const struct kube_conn *c, const char *method, const char *path, struct json_object *body,
		      const char *content_type, const atomic_int *cancel, long *status, struct json_object **resp,
		      char *err, size_t err_size);

/* What a watcher lists and watches, and where the objects go. The callbacks
 * run on the watcher's thread. */
struct kube_watch_ops {
	const char *what;  /* "pods": in log lines and errors ("list pods: ...") */
	/* the collection, with its selectors: "/api/v1/pods?fieldSelector=..." */
	const char *path;
	/* every item of a fresh list (the whole collection: what is not in it
	 * is gone). 0 or negative errno (the list is retried) */
	int (*on_list)(void *ctx, struct json_object *items);
	/* one ADDED, MODIFIED or DELETED event's object */
	void (*on_event)(void *ctx, const char *type, struct json_object *obj);
	void *ctx;
	unsigned watch_timeout_s; /* server-side watch timeout (timeoutSeconds); 0: 300 */
	unsigned idle_timeout_s;  /* a watch silent this long is dead; 0: 90 */
};

struct kube_watch_stats {
	uint64_t lists;        /* successful lists */
	uint64_t watches;      /* watch streams opened (HTTP 200) */
	uint64_t events;       /* ADDED/MODIFIED/DELETED events handed over */
	uint64_t errors;       /* failed requests (any class but 410) */
	uint64_t relists_410;  /* re-lists forced by 410 Gone (HTTP or ERROR event) */
	int synced;            /* the first list has completed */
	char last_error[256];  /* the last failure, "" before any */
};

struct kube_watch;

/* The connection is copied. 0, -EINVAL or -ENOMEM. */
int kube_watch_new(struct kube_watch **out, const struct kube_conn *conn, const struct kube_watch_ops *ops);
/* Starts the thread. 0 or negative errno. */
int kube_watch_start(struct kube_watch *w);
/* Stops and joins the thread (at once, also mid-request), frees. Accepts NULL. */
void kube_watch_stop(struct kube_watch *w);
void kube_watch_get_stats(struct kube_watch *w, struct kube_watch_stats *out);

#endif
