/* The list-then-watch engine and the one-request client (kube_watch.h),
 * taken out of the pod watcher (kube.c) so that the ReachPolicy watcher and
 * the PolicyReport writer run on the same code. */
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
#include "common/strcopy.h"
#include "common/https_client.h"
#include "common/json.h"
#include "common/log.h"
#include "identity/kube_watch.h"

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

struct kube_watch {
	struct kube_conn conn;
	struct kube_watch_ops ops;
	char *path, *what;
	pthread_t thread;
	bool started;
	atomic_int stopping;

	pthread_mutex_t mu; /* stats */
	pthread_cond_t cond; /* stop, for the backoff sleep */
	struct kube_watch_stats stats;

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
	struct kube_watch *k;
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

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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

static void record_failure(struct kube_watch *k, enum fail_class c, const char *msg)
{
	pthread_mutex_lock(&k->mu);
	k->stats.errors++;
	str_copy(k->stats.last_error, sizeof(k->stats.last_error), msg);
	pthread_mutex_unlock(&k->mu);
	/* a retry storm of one kind is one line; -v shows every attempt */
	if (c != k->fail)
		log_warn("kubernetes API: %s; retrying with backoff", msg);
	else
		log_debug("kubernetes API: %s (attempt %u)", msg, k->fail_count + 1);
	k->fail = c;
	k->fail_count++;
}

static void record_success(struct kube_watch *k)
{
	if (k->fail != FAIL_NONE)
		log_info("kubernetes API: recovered after %u failed attempt%s (last: %s)", k->fail_count,
			 k->fail_count == 1 ? "" : "s", fail_name(k->fail));
	k->fail = FAIL_NONE;
	k->fail_count = 0;
	k->backoff_step = 0;
}

static uint64_t next_rand(struct kube_watch *k)
{
	/* xorshift64*: jitter only, not security */
	k->rng ^= k->rng >> 12;
	k->rng ^= k->rng << 25;
	k->rng ^= k->rng >> 27;
	return k->rng * 2685821657736338717ull;
}

/* Sleeps the next backoff step; returns early when stopping. */
static void backoff_wait(struct kube_watch *k)
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

static void set_rv(struct kube_watch *k, json_object *obj)
{
	const char *rv = json_get_str(json_get(obj, "metadata", json_type_object), "resourceVersion", NULL);

	if (rv && *rv && strlen(rv) < sizeof(k->rv))
		strcpy(k->rv, rv);
}

/* One watch event line. 0, or negative with x's failure set (aborts the stream). */
static int watch_event(struct xfer *x, const char *line, size_t len)
{
	struct kube_watch *k = x->k;
	json_object *ev, *obj;
	const char *type;
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
		xfer_fail(x, -EBADMSG, FAIL_GARBAGE, "watch %s: invalid JSON event (%s)", k->what,
			  je == json_tokener_success ? "trailing data" :
			  je == json_tokener_continue ? "incomplete object" : json_tokener_error_desc(je));
		return -EBADMSG;
	}
	type = json_get_str(ev, "type", NULL);
	obj = json_get(ev, "object", json_type_object);
	if (!type || !obj) {
		xfer_fail(x, -EBADMSG, FAIL_GARBAGE, "watch %s: event without type or object", k->what);
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
			xfer_fail(x, -ESTALE, FAIL_WATCH_ERROR, "watch %s: 410 Gone (%s)", k->what, reason ? reason : "Expired");
			rc = -ESTALE;
		} else {
			char m[128], rs[64];

			server_text(x, message, 100, m, sizeof(m));
			server_text(x, reason, 40, rs, sizeof(rs));
			xfer_fail(x, -EPROTO, FAIL_WATCH_ERROR, "watch %s: ERROR event %d %s: %s", k->what, c, rs, m);
			rc = -EPROTO;
		}
		goto out;
	}
	if (strcmp(type, "ADDED") && strcmp(type, "MODIFIED") && strcmp(type, "DELETED")) {
		xfer_fail(x, -EBADMSG, FAIL_GARBAGE, "watch %s: unknown event type %.40s", k->what, type);
		rc = -EBADMSG;
		goto out;
	}
	pthread_mutex_lock(&k->mu);
	k->stats.events++;
	pthread_mutex_unlock(&k->mu);
	k->ops.on_event(k->ops.ctx, type, obj);
	set_rv(k, obj);
out:
	json_object_put(ev);
	return rc;
}

/* Splits the stream into lines; an object may arrive in many pieces. */
static int watch_feed(struct xfer *x, const char *data, size_t n)
{
	size_t start = 0;
	int rc = buf_append(x, data, n, MAX_EVENT_LINE);

	if (rc) {
		xfer_fail(x, rc, FAIL_GARBAGE, "watch %s: event larger than %u bytes", x->k->what, MAX_EVENT_LINE);
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
		xfer_fail(x, -E2BIG, FAIL_GARBAGE, "list %s: response larger than %u bytes", x->k->what, MAX_LIST_BODY);
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
static int kube_get(struct kube_watch *k, const char *url, const char *what, struct xfer *x, long timeout_s)
{
	static const char *const accept[] = { "Accept: application/json", NULL };
	const struct http_target t = {
		.url = url,
		.token_file = k->conn.token_file,
		.token_max = MAX_TOKEN,
		.ca_file = k->conn.ca_file, /* the cluster CA only */
		.timeout_ms = timeout_s * 1000,
		.connect_timeout_ms = CONNECT_TIMEOUT_S * 1000L,
		.https_only = true,
		.cancel = &k->stopping, /* kube_stop ends a transfer in flight */
	};
	struct http_request rq = {
		.method = "GET",
		.headers = accept,
		/* a dead peer sends nothing: not even the periodic bookmarks */
		.idle_timeout_s = x->watch ? (long)k->ops.idle_timeout_s : 0,
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

/* The collection's URL; extra: "" or query parameters to add. */
static char *collection_url(struct kube_watch *k, const char *extra)
{
	char *url = NULL;

	if (asprintf(&url, "%s%s%s%s", k->conn.api_url, k->path, *extra ? (strchr(k->path, '?') ? "&" : "?") : "",
		     extra) < 0)
		url = NULL;
	return url;
}

/* ------------------------------------------------------------------ */
/* List and watch                                                       */

static int do_list(struct kube_watch *k, struct xfer *out_fail)
{
	struct xfer x = { .watch = false };
	char *url = collection_url(k, ""), what[80];
	json_object *o = NULL, *items;
	const char *rv;
	int rc;

	snprintf(what, sizeof(what), "list %s", k->what);
	if (!url) {
		xfer_fail(out_fail, -ENOMEM, FAIL_CONNECT, "%s: out of memory", what);
		return -ENOMEM;
	}
	rc = kube_get(k, url, what, &x, LIST_TIMEOUT_S);
	free(url);
	if (rc)
		goto out;
	x.tok = json_tokener_new();
	if (!x.tok) {
		rc = -ENOMEM;
		xfer_fail(&x, rc, FAIL_GARBAGE, "%s: out of memory", what);
		goto out;
	}
	if (x.len)
		o = json_tokener_parse_ex(x.tok, x.buf, (int)x.len);
	if (!o) {
		rc = -EBADMSG;
		xfer_fail(&x, rc, FAIL_GARBAGE, "%s: invalid JSON (%s)", what,
			  x.len ? json_tokener_error_desc(json_tokener_get_error(x.tok)) : "empty body");
		goto out;
	}
	items = json_get(o, "items", json_type_array);
	rv = json_get_str(json_get(o, "metadata", json_type_object), "resourceVersion", NULL);
	if (!items || !rv || !*rv || strlen(rv) >= sizeof(k->rv)) {
		rc = -EBADMSG;
		xfer_fail(&x, rc, FAIL_GARBAGE, "%s: not a list (no items or resourceVersion)", what);
		goto out;
	}
	rc = k->ops.on_list(k->ops.ctx, items);
	if (rc) {
		xfer_fail(&x, rc, FAIL_GARBAGE, "%s: %s", what, strerror(-rc));
		goto out;
	}
	pthread_mutex_lock(&k->mu);
	k->stats.lists++;
	k->stats.synced = 1;
	pthread_mutex_unlock(&k->mu);
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
static int do_watch(struct kube_watch *k, struct xfer *out_fail, bool *got_event)
{
	struct xfer x = { .watch = true };
	char *rv = http_url_escape(k->rv), *extra = NULL, *url = NULL, what[80];
	int rc;

	snprintf(what, sizeof(what), "watch %s", k->what);
	*got_event = false;
	if (!rv || asprintf(&extra, "watch=1&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=%u", rv,
			    k->ops.watch_timeout_s) < 0)
		extra = NULL;
	free(rv);
	if (extra)
		url = collection_url(k, extra);
	free(extra);
	if (!url) {
		xfer_fail(out_fail, -ENOMEM, FAIL_CONNECT, "%s: out of memory", what);
		return -ENOMEM;
	}
	x.tok = json_tokener_new();
	if (!x.tok) {
		free(url);
		xfer_fail(out_fail, -ENOMEM, FAIL_CONNECT, "%s: out of memory", what);
		return -ENOMEM;
	}
	/* the server ends the stream at timeoutSeconds; this is the backstop */
	rc = kube_get(k, url, what, &x, (long)k->ops.watch_timeout_s + 30);
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
	struct kube_watch *k = arg;
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


/* ------------------------------------------------------------------ */
/* Connection                                                           */

void kube_conn_fini(struct kube_conn *c)
{
	if (!c)
		return;
	free(c->api_url);
	free(c->token_file);
	free(c->ca_file);
	c->api_url = c->token_file = c->ca_file = NULL;
}

int kube_conn_copy(struct kube_conn *dst, const struct kube_conn *src)
{
	dst->api_url = strdup(src->api_url);
	dst->token_file = strdup(src->token_file);
	dst->ca_file = strdup(src->ca_file);
	if (!dst->api_url || !dst->token_file || !dst->ca_file) {
		kube_conn_fini(dst);
		return -ENOMEM;
	}
	return 0;
}

int kube_conn_init(struct kube_conn *c, const char *api_url, const char *token_file, const char *ca_file, char *err,
		   size_t err_size)
{
	size_t ul;
	int rc;

	memset(c, 0, sizeof(*c));
	if (api_url) {
		c->api_url = strdup(api_url);
	} else {
		const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");

		if (!host || !*host || !port || !*port) {
			format_error(err, err_size, "kubernetes API: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT not set "
				     "(not in a cluster? pass the API URL)");
			return -EINVAL;
		}
		/* an IPv6 service address needs brackets in a URL */
		if (asprintf(&c->api_url, "https://%s%s%s:%s", strchr(host, ':') ? "[" : "", host,
			     strchr(host, ':') ? "]" : "", port) < 0)
			c->api_url = NULL;
	}
	if (!c->api_url)
		goto nomem;
	if (strncasecmp(c->api_url, "https://", 8) != 0 || !c->api_url[8]) {
		format_error(err, err_size, "kubernetes API URL must be https://HOST[:PORT] (got %.100s)", c->api_url);
		rc = -EINVAL;
		goto fail;
	}
	ul = strlen(c->api_url);
	while (ul > 8 && c->api_url[ul - 1] == '/')
		c->api_url[--ul] = '\0';
	c->token_file = strdup(token_file ? token_file : DEFAULT_TOKEN_FILE);
	c->ca_file = strdup(ca_file ? ca_file : DEFAULT_CA_FILE);
	if (!c->token_file || !c->ca_file)
		goto nomem;
	rc = check_readable("CA file", c->ca_file, err, err_size);
	if (rc)
		goto fail;
	rc = check_readable("token file", c->token_file, err, err_size);
	if (rc)
		goto fail;
	return 0;
nomem:
	format_error(err, err_size, "kubernetes API: out of memory");
	rc = -ENOMEM;
fail:
	kube_conn_fini(c);
	return rc;
}

int kube_conn_request(const struct kube_conn *c, const char *method, const char *path, struct json_object *body,
		      const char *content_type, const atomic_int *cancel, long *status, struct json_object **resp,
		      char *err, size_t err_size)
{
	static const char *const accept[] = { "Accept: application/json", NULL };
	char *url = NULL, *q;
	const char *text = body ? json_text(body, JSON_COMPACT) : NULL;
	struct http_target t = {
		.token_file = c->token_file,
		.token_max = MAX_TOKEN,
		.ca_file = c->ca_file,
		.timeout_ms = LIST_TIMEOUT_S * 1000L,
		.connect_timeout_ms = CONNECT_TIMEOUT_S * 1000L,
		.https_only = true,
		.cancel = cancel,
	};
	struct http_request rq = {
		.method = method,
		.body = text,
		.len = text ? strlen(text) : 0,
		.content_type = text ? (content_type ? content_type : "application/json") : NULL,
		.headers = accept,
		.max_body = MAX_LIST_BODY,
	};
	struct http_result res;
	int rc;

	*status = 0;
	if (resp)
		*resp = NULL;
	if (body && !text) {
		format_error(err, err_size, "%s: out of memory", method);
		return -ENOMEM;
	}
	if (asprintf(&url, "%s%s", c->api_url, path) < 0) {
		format_error(err, err_size, "%s: out of memory", method);
		return -ENOMEM;
	}
	t.url = url;
	rc = http_request(&t, &rq, &res);
	free(url);
	if (rc) {
		format_error(err, err_size, "%s %s", method, res.error);
		return rc;
	}
	*status = res.status;
	if (res.status >= 200 && res.status < 300) {
		if (resp && rq.resp_body)
			*resp = json_tokener_parse(rq.resp_body);
	} else {
		char m[160] = "";
		json_object *o = rq.resp_body ? json_tokener_parse(rq.resp_body) : NULL;
		const char *msg = json_get_str(o, "message", NULL);

		/* the body was cleaned of the token by the client; the path
		 * without its query, which may hold selectors */
		snprintf(m, sizeof(m), "%s", msg ? msg : "");
		http_redact(m, NULL);
		q = strchr(path, '?');
		format_error(err, err_size, "%s %.*s: HTTP %ld%s%s", method, (int)(q ? q - path : (long)strlen(path)),
			     path, res.status, m[0] ? ": " : "", m);
		json_object_put(o);
	}
	free(rq.resp_body);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Public                                                               */

static void watch_free(struct kube_watch *k)
{
	if (!k)
		return;
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->mu);
	kube_conn_fini(&k->conn);
	free(k->path);
	free(k->what);
	free(k);
}

int kube_watch_new(struct kube_watch **out, const struct kube_conn *conn, const struct kube_watch_ops *ops)
{
	struct kube_watch *k;
	pthread_condattr_t ca;

	*out = NULL;
	if (!conn || !ops || !ops->path || !ops->what || !ops->on_list || !ops->on_event)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	pthread_mutex_init(&k->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->cond, &ca);
	pthread_condattr_destroy(&ca);
	k->ops = *ops;
	k->path = strdup(ops->path);
	k->what = strdup(ops->what);
	if (!k->path || !k->what || kube_conn_copy(&k->conn, conn)) {
		watch_free(k);
		return -ENOMEM;
	}
	k->ops.path = k->path;
	k->ops.what = k->what;
	if (!k->ops.watch_timeout_s)
		k->ops.watch_timeout_s = DEFAULT_WATCH_TIMEOUT_S;
	if (!k->ops.idle_timeout_s)
		k->ops.idle_timeout_s = DEFAULT_IDLE_TIMEOUT_S;
	if (getrandom(&k->rng, sizeof(k->rng), GRND_NONBLOCK) != sizeof(k->rng))
		k->rng = now_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)k;
	k->rng |= 1; /* xorshift must not start at 0 */
	*out = k;
	return 0;
}

int kube_watch_start(struct kube_watch *k)
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

void kube_watch_stop(struct kube_watch *k)
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
	watch_free(k);
}

void kube_watch_get_stats(struct kube_watch *k, struct kube_watch_stats *out)
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
