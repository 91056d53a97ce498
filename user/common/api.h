/* The agent's local API: a unix stream socket (mode 0600, root only). A
 * client sends one JSON object on one line ({"cmd":"reach",...}); the agent
 * answers with one JSON document and closes. Requests are small and bounded;
 * a client that stalls is dropped after a short timeout so it cannot hold up
 * the agent's event loop. */
#ifndef REACH_API_H
#define REACH_API_H

#include <stddef.h>

struct json_object;

#define API_DEFAULT_SOCKET "/run/reach/reachd.sock"
#define API_MAX_REQUEST 4096

/* Server: bind and listen (removes a stale socket file, creates the parent
 * directory 0700). Returns the listening fd or -errno; err says which step. */
int api_listen(const char *path, char *err, size_t err_size);

/* Returns the reply for a request (the callee owns nothing afterwards). */
typedef struct json_object *(*api_handler)(void *ctx, struct json_object *request);

/* Accepts and answers every pending connection without blocking on accept.
 * Returns the number served. */
int api_serve_pending(int listen_fd, api_handler handler, void *ctx);

/* Client: sends request, returns the parsed reply (caller puts it) or NULL
 * with err set. */
struct json_object *api_call(const char *path, struct json_object *request, char *err, size_t err_size);

#endif
