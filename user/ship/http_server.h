/* The agent's small HTTP endpoint (/metrics, /healthz, /readyz): one
 * thread that serves blobs the main thread has rendered and published, so
 * the server never touches agent state and a scrape never waits on the
 * event loop.
 *
 * Built-in paths:
 *   GET /healthz  200 "ok" while the last heartbeat is younger than the
 *                 stall timeout (30 s), else 503 "ring buffer not drained
 *                 for N s: main loop stalled" (a liveness probe; the agent
 *                 beats after every drain of the ring buffer).
 *   GET /readyz   200 "ready" after http_server_set_ready(true), else 503.
 * Published paths answer 200 with their latest blob. Otherwise: 404
 * unknown path, 405 a method other than GET/HEAD, 400 a malformed request
 * head or one over 8 KiB, 401 a protected path without the token. Every
 * answer closes the connection (Connection: close): no keep-alive state.
 *
 * Slow clients: connections are served concurrently from one poll() loop
 * (up to 64 at once), each with its own deadline: one that sends no
 * complete request head within 5 s is dropped, one that stops reading its
 * answer is dropped after 5 s without progress. A slow client only ever
 * holds its own slot. */
#ifndef REACH_HTTP_SERVER_H
#define REACH_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_SERVER_MAX_HEAD 8192 /* = HTTP_REQUEST_MAX_HEAD (ship/http_request.h) */
#define HTTP_SERVER_MAX_TOKEN 4096 /* bytes of a token file guarding paths */
#define HTTP_SERVER_STALL_MS (30 * 1000)
#define HTTP_SERVER_IO_TIMEOUT_MS 5000
#define HTTP_SERVER_MAX_PATHS 16

struct http_server;

/* addr: "HOST:PORT" with HOST an IPv4 address, "[IPv6]" or "localhost"
 * (127.0.0.1); no name lookup. Port 0 picks a free one (tests: see
 * http_server_port()). 0, or -errno with err e.g. "127.0.0.1:9464: address
 * already in use" / "bad listen address "x": ...". */
int http_server_start(struct http_server **out, const char *addr, char *err, size_t err_size);

/* The bound port (after port 0: the one the kernel chose). */
uint16_t http_server_port(const struct http_server *s);

/* Copies body; later requests get the new copy, answers in flight finish
 * with the one they started with (shared, not copied per client).
 * path: "/..." (not a built-in). 0; -EINVAL; -ENOSPC (more than
 * HTTP_SERVER_MAX_PATHS paths); -ENOMEM. */
int http_server_publish(struct http_server *s, const char *path, const char *content_type, const void *body,
			size_t len);

/* The main loop drained the ring buffer (lock-free: called on every
 * drain). now_ms on http_server_now_ms()'s clock
 * (CLOCK_MONOTONIC, immune to wall-clock steps); <= 0: now. Until the
 * first heartbeat the server's start counts as one. */
void http_server_heartbeat(struct http_server *s, int64_t now_ms);
int64_t http_server_now_ms(void);
void http_server_set_stall_timeout(struct http_server *s, int64_t ms); /* <= 0: 30 s */

void http_server_set_ready(struct http_server *s, bool ready);

/* Paths equal to path_prefix or below it ("/metrics" guards "/metrics"
 * and "/metrics/x", not "/metricsx") need "Authorization: Bearer TOKEN",
 * TOKEN the content of token_file without trailing whitespace, read again
 * on every request (a rotated token works at once). Compared in constant
 * time; an unreadable or empty file refuses everyone (401). /healthz and
 * /readyz are never guarded: kubelet probes carry no token and the
 * answers hold nothing. 0; -EINVAL; -ENOSPC (over 8 rules); -ENOMEM. */
int http_server_require_token(struct http_server *s, const char *path_prefix, const char *token_file);

/* Stops the thread, closes every connection and the listener, frees s.
 * Accepts NULL. */
void http_server_stop(struct http_server *s);

#endif
