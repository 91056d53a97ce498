/* The agent's local API: a unix stream socket (mode 0600, root only). A
 * client sends one JSON object on one line ({"cmd":"reach",...}); the agent
 * answers with one JSON document and closes. Requests are small and bounded;
 * the server never waits on a client: a slow or idle one is kept aside and
 * dropped after a short timeout, so it holds up neither the agent's event
 * loop nor the next client. */
#ifndef REACH_API_H
#define REACH_API_H

#include <stddef.h>

struct json_object;

#define API_DEFAULT_SOCKET "/run/reach/reachd.sock"
#define API_MAX_REQUEST 4096
#define API_MAX_CONNS 64 /* connections waiting for their request line at once */

/* Server: bind and listen (removes a stale socket file, creates the parent
 * directory 0700). Returns the listening fd or -errno; err says which step. */
int api_listen(const char *path, char *err, size_t err_size);

/* Returns the reply for a request (the callee owns nothing afterwards). */
typedef struct json_object *(*api_handler)(void *ctx, struct json_object *request);

/* Accepts every pending connection and answers each complete request,
 * never waiting on a client: a connection whose line has not arrived waits
 * (at most API_MAX_CONNS of them, the oldest hung up on beyond that) and is
 * answered by a later call, or hung up on about a second after its
 * accept. Call it often (the agent's loop does, every turn). Returns how
 * many connections were answered or hung up on. */
int api_serve_pending(int listen_fd, api_handler handler, void *ctx);

/* Closes the listener and every connection still waiting on it. */
void api_close(int listen_fd);

/* Client: sends request, returns the parsed reply (caller puts it) or NULL
 * with err set. */
struct json_object *api_call(const char *path, struct json_object *request, char *err, size_t err_size);

#endif
