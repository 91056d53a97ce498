/* One HTTP(S) POST with libcurl, for the shipper's sinks, and one GET, for
 * reachctl fetching the agents' ledgers.
 *
 * TLS peer and host verification are always on; only the CA bundle can be
 * chosen. The bearer token is read from its file at every call, so a rotated
 * token is used at the next send; it is never written into a log line, an
 * error string or a result. Redirects are not followed (a collector that
 * redirects a POST is misconfigured, and following would resend the token).
 * Proxies from the environment (https_proxy, no_proxy) apply as in curl. */
#ifndef REACH_HTTP_POST_H
#define REACH_HTTP_POST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define HTTP_TIMEOUT_MS_DEFAULT 10000
#define HTTP_TOKEN_MAX 16384 /* bytes of a token file */

/* A bearer token file's token (at most max_bytes; HTTP_TOKEN_MAX for the
 * targets the agent sends to): trailing whitespace removed; empty, or
 * spanning lines (header injection), refused. 0 with *token malloc'ed (wipe
 * and free it), or negative errno with err naming the file, never the
 * content. Every token file of the agent is read this way. */
int http_token_load(const char *path, size_t max_bytes, char **token, char *err, size_t err_size);

struct http_target {
	const char *url;          /* http:// or https:// */
	const char *token_file;   /* bearer token, re-read at each send (rotation); NULL: no Authorization */
	const char *ca_file;      /* CA bundle (PEM); NULL: system store. TLS verification always on */
	long timeout_ms;          /* whole request; 0 -> HTTP_TIMEOUT_MS_DEFAULT */
	/* NULL, or a flag that aborts a transfer in flight soon (within about
	 * a second) after it becomes non-zero: lets a sink stop without waiting
	 * out timeout_ms */
	const atomic_int *cancel;
	/* NULL, or a numeric IPv4/IPv6 address to connect to instead of
	 * resolving the URL's host (one pod behind a name that resolves to
	 * many). The URL's host still names the server for TLS verification
	 * (SNI, certificate name) and the Host header. No proxy is used then:
	 * the point is to reach that address. */
	const char *connect_addr;
};

struct http_result {
	long status;          /* HTTP status of the final response; 0 when none arrived */
	long retry_after_s;   /* Retry-After of the response in seconds; -1: none or unparsable */
	char error[256];      /* why no response arrived (curl's message); never the token */
};

/* POSTs body with Content-Type content_type (gzip_body: gzip-compressed,
 * with Content-Encoding: gzip). 0 when a response arrived, whatever its
 * status; otherwise negative with res->error set: -EIO transport or TLS
 * failure (including an answer that is not HTTP), -ETIMEDOUT, -ECANCELED
 * (t->cancel), -EINVAL bad target or token, -errno of reading the token
 * file, -ENOMEM. res is always filled. Thread-safe: one easy handle per
 * call (no connection reuse: reports are minutes apart). */
int http_post(const struct http_target *t, const char *content_type, const void *body, size_t len, bool gzip_body,
	      struct http_result *res);

#define HTTP_GET_BODY_MAX (512ULL << 20) /* = LEDGER_FILE_MAX: a ledger file image */

/* GETs t->url (t->token_file: "Authorization: Bearer", read as for
 * http_post()). 0 when a response arrived, whatever its status: res->status
 * is set and *body (malloc'ed, caller frees; a NUL follows the *len bytes,
 * never NULL) holds the response body. max_body bounds it (0:
 * HTTP_GET_BODY_MAX): a longer body, announced or streamed, is -EFBIG and
 * nothing is returned. Otherwise negative with res->error as http_post()
 * (-EIO, -ETIMEDOUT, -ECANCELED, -EINVAL, -errno of the token file,
 * -ENOMEM); *body is then NULL. The body is not decompressed (no
 * Accept-Encoding is sent). Redirects are not followed: a 3xx is returned
 * as such. Thread-safe like http_post(). */
int http_get(const struct http_target *t, size_t max_body, void **body, size_t *len, struct http_result *res);

/* RFC 1952 gzip of in into a malloc'ed *out (caller frees). 0, -ENOMEM or
 * -EIO (zlib failure). */
int gzip_compress(const void *in, size_t len, void **out, size_t *out_len);

/* Start-time checks, so that configuration mistakes fail at start instead of
 * at the first send: the URL parses with an http/https scheme and a host;
 * the token file (if any) is readable and holds a non-empty token on one
 * line; the CA file (if any) is readable and holds at least one PEM
 * certificate; timeout_ms is not negative. 0 or -EINVAL/-errno with err. */
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
