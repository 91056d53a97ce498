/* MCP requests waiting for their answers, per server process (issue #18).
 * An agent's tools/call written to a server and the server's answer are two
 * captured writes; this table pairs them by (connection, JSON-RPC id), so
 * that an answer is counted on its call's edge (and whether it was an
 * error), and tells which single call a server is serving while it makes an
 * effect (a file read, a connection, a tool run). It keeps the edge's object
 * ("<server> <tool>") and the caller's cgroup, never a message's content.
 *
 * conn: 0 for a server's stdio (a child has one client), else the inode of
 * the client's end of the unix socket: it exists from socket() on, while
 * the server's end has none until accept() returns (a first request can be
 * written before).
 *
 * Both writes are captured when their syscall returns, so an answer can be
 * seen before its request: it is kept (MCP_CALLS_EARLY per server) for the
 * request to take. Bounded: MCP_CALLS_SERVERS servers (gone ones are
 * forgotten first), MCP_CALLS_WAITING requests per server (the oldest is
 * given up). */
#ifndef REACH_MCP_CALLS_H
#define REACH_MCP_CALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MCP_CALLS_SERVERS 4096
#define MCP_CALLS_WAITING 32
#define MCP_CALLS_EARLY 8

struct mcp_calls;

#define MCP_CALL_OBJECT_LEN 256

/* A tools/call as a match or an effect finds it (a copy). */
struct mcp_call {
	uint64_t cgroup_id;                /* the caller's: where its mcp-tool edge is */
	char object[MCP_CALL_OBJECT_LEN];  /* "<server> <tool>", its mcp-tool edge's object */
};

struct mcp_calls *mcp_calls_new(void);
void mcp_calls_free(struct mcp_calls *c); /* accepts NULL */

/* A request with an id written to server on conn: a tools/call when object
 * is not NULL (its mcp-tool edge's), else another request (initialize,
 * tools/list), whose answer is then matched and not a call's.
 * Returns 1 when its answer had come first (*early_error: whether it was an
 * error): the caller moves that answer from unmatched to its call; 0 when
 * remembered; -ENOMEM or -ENOSPC (too many servers) when not. *given_up
 * gets the tools/calls given up to make room (an id used again before its
 * answer, or MCP_CALLS_WAITING already waiting). */
int mcp_calls_request(struct mcp_calls *c, uint32_t server, uint64_t conn, int64_t id, uint64_t cgroup_id,
		      const char *object, bool *early_error, uint64_t *given_up);

enum mcp_answer {
	MCP_ANSWER_UNMATCHED = 0, /* no request waits for it (kept: its request may come) */
	MCP_ANSWER_CALL,          /* a tools/call's: *out is the call */
	MCP_ANSWER_OTHER,         /* another request's */
};

/* An answer written by server on conn to id. *given_up as above (room
 * made for an early answer's server). */
enum mcp_answer mcp_calls_answer(struct mcp_calls *c, uint32_t server, uint64_t conn, int64_t id, bool is_error,
				 struct mcp_call *out, uint64_t *given_up);

/* The tools/call server is serving when it serves exactly one: true with
 * *out. false when it waits on none or on several (an effect is then
 * ambiguous). *known: whether server has any request waiting at all. */
bool mcp_calls_serving(const struct mcp_calls *c, uint32_t server, struct mcp_call *out, bool *known);

/* Whether any server has state (a cheap test before per-edge lookups). */
bool mcp_calls_any(const struct mcp_calls *c);

/* server exited: its tools/calls still waiting are returned (never answered). */
uint64_t mcp_calls_forget(struct mcp_calls *c, uint32_t server);

#endif
