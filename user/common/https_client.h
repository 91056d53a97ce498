/* The agent's one HTTP(S) client (libcurl): the shipper's sinks POST,
 * reachctl GETs the agents' ledgers, the Kubernetes watcher lists and
 * streams pods. And the one loader of bearer-token files, which the local
 * API server uses too.
 *
 * TLS peer and host verification are always on; only the CA bundle can be
 * chosen (then that bundle alone is trusted). The bearer token is read from
 * its file at every request, so a rotated token is used at the next one; it
 * is never written into a log line, an error string or a result, and error
 * text never quotes a URL's user info, path or query. Redirects are not
 * followed (following would resend the token). Proxies from the environment
 * (https_proxy, no_proxy) apply as in curl. Every call uses its own curl
 * handle: thread-safe, no connection reuse. */
#ifndef REACH_HTTPS_CLIENT_H
#define REACH_HTTPS_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define HTTP_TIMEOUT_MS_DEFAULT 10000
#define HTTP_TOKEN_MAX 16384 /* bytes of a token file, unless the target says otherwise */
#define HTTP_CANCEL_POLL_MS 100 /* a cancelled transfer stops within about this long */

/* A bearer token file's token (at most max_bytes): leading and trailing
 * whitespace removed; empty (-EINVAL), spanning lines or holding another
 * control character (header injection; -EINVAL) refused. 0 with *token
 * malloc'ed (wipe and free it: http_token_free()), or negative errno with
 * err naming the file, never the content. Every token file of the agent
 * (sinks, alerts, Kubernetes, reachctl, the local API) is read this way. */
int http_token_load(const char *path, size_t max_bytes, char **token, char *err, size_t err_size);

/* Creates path with a fresh random token (64 hex digits from getrandom(),
 * O_EXCL, mode 0600, fsynced) unless it exists already (then 0, the file
 * untouched). Negative errno with err naming the file on failure. */
int http_token_create(const char *path, char *err, size_t err_size);

/* Wipes and frees a token of http_token_load(). Accepts NULL. */
void http_token_free(char *token);

/* Where requests go. Only url is required. */
struct http_target {
	const char *url;          /* http:// or https:// */
	const char *token_file;   /* bearer token, re-read at each request (rotation); NULL: no Authorization */
	size_t token_max;         /* bound on the token file; 0: HTTP_TOKEN_MAX */
	const char *ca_file;      /* CA bundle (PEM), trusted alone; NULL: system store. Verification always on */
	long timeout_ms;          /* whole request; 0 -> HTTP_TIMEOUT_MS_DEFAULT */
	long connect_timeout_ms;  /* connection and TLS handshake; 0: curl's default (300 s, within timeout_ms) */
	bool https_only;          /* refuse http:// (the Kubernetes API) */
	/* NULL, or a flag that aborts a transfer in flight (within about
	 * HTTP_CANCEL_POLL_MS) after it becomes non-zero: lets a sink or a
	 * watcher thread stop without waiting out the timeout */
	const atomic_int *cancel;
	/* NULL, or a numeric IPv4/IPv6 address to connect to instead of
	 * resolving the URL's host (one pod behind a name that resolves to
	 * many). The URL's host still names the server for TLS verification
	 * (SNI, certificate name) and the Host header. No proxy is used then:
	 * the point is to reach that address. */
	const char *connect_addr;
};

/* Why no response arrived, by kind (for callers that log once per kind). */
enum http_fail {
	HTTP_FAIL_NONE,
	HTTP_FAIL_TARGET,   /* bad URL, option, connect address; out of memory */
	HTTP_FAIL_TOKEN,    /* the token file is unreadable or unusable */
	HTTP_FAIL_CONNECT,  /* resolving, connecting, sending, receiving; not HTTP */
	HTTP_FAIL_TLS,      /* handshake or certificate verification */
	HTTP_FAIL_TIMEOUT,  /* timeout_ms, connect_timeout_ms or the request's idle_timeout_s */
	HTTP_FAIL_CANCELED, /* target->cancel */
	HTTP_FAIL_BODY,     /* the response body: over its bound, out of memory, refused by a callback */
};

struct http_result {
	long status;          /* HTTP status of the final response; 0 when none arrived */
	long retry_after_s;   /* Retry-After of the response in seconds; -1: none or unparsable */
	enum http_fail fail;  /* HTTP_FAIL_NONE when the call returned 0 */
	/* why no response arrived (curl's message, cleaned: never the token,
	 * never the URL's user info, path or query; one printable line) */
	char error[256];
};

/*
 * One request, for what http_post()/http_get() do not cover (methods,
 * extra headers, streaming). The response body goes either
 *  - to on_body, piece by piece, when on_body is set and the final status
 *    is 2xx (a watch stream); the body of any other status is kept in
 *    resp_body instead, cut at max_body bytes (an error message); or
 *  - into resp_body (malloc'ed, NUL-terminated, caller frees; never NULL
 *    after a 0 return) without on_body: a body over max_body is -EFBIG.
 * With max_body 0 no body is kept (resp_body stays NULL).
 * A kept body of a non-2xx status is cleaned of the token (a server may echo
 * the Authorization header).
 */
struct http_request {
	const char *method;       /* "GET", "POST", "PUT", "PATCH", "DELETE"; NULL: GET, or POST with a body */
	const void *body;         /* request body (NULL: none) of len bytes */
	size_t len;
	const char *content_type; /* with a body; NULL: application/octet-stream */
	bool gzip_body;           /* gzip-compress the body, with Content-Encoding: gzip */
	const char *const *headers; /* NULL, or extra "Name: value" lines, NULL-terminated */
	bool accept_encoding;     /* offer every encoding curl decodes, and decode the response */
	long idle_timeout_s;      /* > 0: a response silent this long fails as a timeout (streams) */
	size_t max_body;          /* bound on resp_body; 0: nothing kept (body discarded) */
	/* Streaming: called once the final response's headers are in (status
	 * >= 200), then with the pieces of a 2xx body. A non-zero return
	 * (negative errno) aborts the transfer and is the call's return value
	 * (res->fail HTTP_FAIL_BODY, res->error "aborted by the receiver"). */
	int (*on_response)(void *ctx, long status);
	int (*on_body)(void *ctx, const char *data, size_t n);
	void *ctx;

	/* out */
	void *resp_body;
	size_t resp_len;
	/* set by http_request() for the duration of the call (NULL otherwise):
	 * the token in use, so that callbacks can clean server text of it with
	 * http_redact(). Never log it. */
	const char *in_flight_token;
};

/* 0 when a response arrived, whatever its status (res->status); otherwise
 * negative with res->fail and res->error set: -EIO transport or TLS failure
 * (including an answer that is not HTTP), -ETIMEDOUT, -ECANCELED
 * (t->cancel), -EINVAL bad target or token, -errno of reading the token
 * file, -EFBIG body over max_body, -ENOMEM, or a callback's return value.
 * res is always filled; rq->resp_body is NULL after a failure. */
int http_request(const struct http_target *t, struct http_request *rq, struct http_result *res);

/* POSTs body with Content-Type content_type (gzip_body: gzip-compressed,
 * with Content-Encoding: gzip); the response body is not kept. Returns as
 * http_request(). */
int http_post(const struct http_target *t, const char *content_type, const void *body, size_t len, bool gzip_body,
	      struct http_result *res);

#define HTTP_GET_BODY_MAX (512ULL << 20) /* = LEDGER_FILE_MAX: a ledger file image */

/* GETs t->url. 0 when a response arrived, whatever its status: res->status
 * is set and *body (malloc'ed, caller frees; a NUL follows the *len bytes,
 * never NULL) holds the response body. max_body bounds it (0:
 * HTTP_GET_BODY_MAX): a longer body, announced or streamed, is -EFBIG and
 * nothing is returned. Otherwise negative as http_request(); *body is then
 * NULL. The body is not decompressed (no Accept-Encoding is sent); a 3xx
 * is returned as such. */
int http_get(const struct http_target *t, size_t max_body, void **body, size_t *len, struct http_result *res);

/* Replaces every occurrence of token in msg with "[redacted]" (a token
 * shorter than that by asterisks) and control characters by spaces: server
 * text made fit for one log line. token NULL or "": only the latter. */
void http_redact(char *msg, const char *token);

/* s percent-encoded for a URL's path or query (malloc'ed, caller frees;
 * NULL when out of memory). */
char *http_url_escape(const char *s);

/* RFC 1952 gzip of in into a malloc'ed *out (caller frees). 0, -ENOMEM or
 * -EIO (zlib failure). */
int gzip_compress(const void *in, size_t len, void **out, size_t *out_len);

/* Start-time checks, so that configuration mistakes fail at start instead of
 * at the first send: the URL parses with an http/https scheme (https only
 * with t->https_only) and a host; the token file (if any) is readable and
 * holds a usable token; the CA file (if any) is readable and holds at least
 * one PEM certificate; timeouts are not negative. 0 or -EINVAL/-errno with
 * err. */
int http_target_check(const struct http_target *t, char *err, size_t err_size);

/* The target URL as "scheme://host[:port]/..." ("/" for an empty path),
 * without user info, path, query or fragment (any of which may hold a
 * credential: webhook URLs carry theirs in the path), for log lines.
 * "(invalid URL)" when it does not parse. */
void http_target_describe(const struct http_target *t, char *buf, size_t size);

/* Value of a Retry-After header: delta-seconds or an HTTP-date (relative to
 * now; a date in the past gives 0). -1 when it is neither. */
long http_retry_after_parse(const char *value, time_t now);

#endif
