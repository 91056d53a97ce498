/* JSON-RPC messages as MCP (Model Context Protocol) clients and servers write
 * them on a pipe or a unix socket (the stdio transport): newline-delimited
 * JSON, or LSP-style "Content-Length: N" framing. From a captured write it
 * extracts what reach keeps of an agent's tool calls, by allow-list:
 *   tools/call request   the tool's name, its argument NAMES and each
 *                        argument's value SHAPE (never the value: an
 *                        absolute path becomes its path template, a URL
 *                        scheme://host[:port] plus its path template, any
 *                        other string (a "path" or "URL" with blanks in
 *                        it too: a command line) or number its keyed
 *                        fingerprint "fp:<16 hex>", an object "{…}", an
 *                        array "[…]", a boolean "bool", null "null";
 *                        the value itself stays in the capture buffer,
 *                        which the caller wipes)
 *   initialize result    the server's serverInfo.name
 *   a call's result      whether it is an error (isError, or a JSON-RPC error)
 * Names are bounded and reduced to [A-Za-z0-9_.:/@-] (others become '_').
 * Bad input (not JSON, binary, too deep, too long) is counted and skipped:
 * the extractor never fails as a whole. Parsing uses json-c with a depth
 * bound; the work is linear in the bytes given (at most a capture's). */
#ifndef REACH_MCP_JSONRPC_H
#define REACH_MCP_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "http/fingerprint.h"

#define JSONRPC_NAME_LEN 96
#define JSONRPC_ARGS_MAX 16   /* argument names kept per call; more are counted */
#define JSONRPC_ARGS_LEN 512  /* the names, sorted and comma-joined */
#define JSONRPC_SHAPE_LEN 160 /* one value's shape; a longer one is cut and counted */
#define JSONRPC_SHAPES_LEN 512 /* "name=shape,...", sorted by name; cut and counted */

enum jsonrpc_kind {
	JSONRPC_TOOLS_CALL = 1, /* a request, method "tools/call" */
	JSONRPC_INIT_RESULT,    /* a result holding serverInfo (initialize's answer) */
	JSONRPC_RESULT,         /* any other result or error answer */
	JSONRPC_OTHER,          /* another request or a notification */
};

struct jsonrpc_msg {
	enum jsonrpc_kind kind;
	bool has_id;
	int64_t id;                      /* numeric ids only (strings: has_id false) */
	char tool[JSONRPC_NAME_LEN];     /* tools/call */
	char args[JSONRPC_ARGS_LEN];     /* tools/call: "name1,name2" sorted; "" none */
	bool args_unknown;               /* tools/call cut before its arguments ended */
	uint32_t args_dropped;           /* names beyond JSONRPC_ARGS_MAX or JSONRPC_ARGS_LEN */
	char shapes[JSONRPC_SHAPES_LEN]; /* tools/call: "path=/srv/{id}.txt,q=fp:0123456789abcdef" */
	bool shapes_cut;                 /* a shape, or the list, did not fit (counted: shapes_cut) */
	char server_name[JSONRPC_NAME_LEN]; /* initialize result */
	bool is_error;                   /* result with isError true, or an error answer */
};

struct jsonrpc_counts {
	uint64_t messages;       /* JSON-RPC messages recognised */
	uint64_t malformed;      /* not JSON, not JSON-RPC, binary: skipped */
	uint64_t truncated;      /* a message cut by the capture bound */
	uint64_t calls_undecoded; /* a tools/call cut before its tool name: a blind road */
	uint64_t shapes_cut;     /* tools/calls whose argument shapes did not all fit */
};

typedef void (*jsonrpc_fn)(void *ctx, const struct jsonrpc_msg *m);

/* Every message in buf[0..len) (a capture: truncated when the write was
 * longer). fn is called for each recognised message; counts are added to.
 * key fingerprints argument values (NULL: they are shaped "fp:?").
 * Returns the number of messages recognised. */
size_t jsonrpc_extract(const uint8_t *buf, size_t len, bool truncated, const struct fp_key *key, jsonrpc_fn fn,
		       void *ctx, struct jsonrpc_counts *counts);

/* The shape of one string value v[0..n) into out (always NUL-terminated;
 * false when cut): an absolute path's template, a URL's
 * scheme://host[:port] and path template (no userinfo, query or fragment),
 * else "fp:" and its keyed fingerprint. */
bool jsonrpc_string_shape(const struct fp_key *key, const char *v, size_t n, char *out, size_t size);

#endif
