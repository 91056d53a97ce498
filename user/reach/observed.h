/* Observed reach per cgroup: the edges the sensor saw (secrets read, tools
 * executed), each with its first observation and its count. Counts come
 * from the kernel dedup map (repeats never become events); an edge keeps
 * the dedup keys that feed it and survives their eviction from the LRU. */
#ifndef REACH_OBSERVED_H
#define REACH_OBSERVED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "abi/events.h"

/* EDGE_MCP: an MCP tools/call (issue #18): object "<server> <tool>", name
 * the server's serverInfo.name (or NULL), detail its argument names
 * ("a,b", sorted; values are never kept, only their shapes:
 * edge_mcp()->arg_shapes), proto the transport
 * (REACH_JSONRPC_PIPE / UNIX).
 * EDGE_LLM: an LLM API call: object "<provider> <host> <model>", category
 * the provider (static), name the host, detail the model ("?" unknown), proto 1
 * for h2 (else HTTP/1.1), open_flags EDGE_LLM_F_TOOLS once any call
 * offered tools. */
enum edge_kind { EDGE_SECRET, EDGE_TOOL, EDGE_EGRESS, EDGE_CREDENTIAL, EDGE_TLS, EDGE_MCP, EDGE_LLM, EDGE__MAX };

#define EDGE_LLM_F_TOOLS 0x1
#define EDGE_MCP_HTTP 3 /* EDGE_MCP proto: over HTTP (streamable HTTP), beside REACH_JSONRPC_PIPE / UNIX */

#define EDGE_MAX_TAGS 8 /* per-source tags: egress outcomes */

#define EDGE_MAX_SOURCES 8
#define EDGE_MAX_ARGS 32
#define EDGE_MAX_EXES 8
#define EDGE_MAX_LINEAGE 8

/* One dedup-map key that feeds an edge. An edge's first source is held
 * inline (almost every edge has exactly one); edge_source_at() reads them. */
struct edge_source {
	struct reach_dedup_key key;
	uint64_t first_ns;   /* identifies the map entry's incarnation */
	uint64_t last_count; /* last count read from that incarnation */
	uint64_t retired;    /* final counts of the key's earlier incarnations */
	uint64_t fed;        /* egress: how much of this key's count the ledger has (ledger_feed) */
	uint8_t tag;         /* egress: the outcome this key counts */
};

/* How a credential was sent: fingerprints and claims only, never the value. */
struct edge_credential {
	char method[16];
	char path_template[1024];
	char host[256];
	char kind[32];
	char where[64];
	char fingerprint[17];
	char jwt_iss[256], jwt_aud[256];
	char special[48];
	char source[32];      /* "plaintext", "openssl", "gnutls" */
	char proto[12];       /* "http/1.0", "http/1.1" or "h2": how the request was sent */
};

/* The process of an edge's first observation. One record serves every edge
 * the same process (same ids, names and exec chain) produced first: a
 * process that reads ten secrets and reaches ten destinations pays for it
 * once, not twenty times. Read-only, shared (interned). */
struct edge_process {
	uint32_t pid, tgid, ppid, uid;
	const char *comm;
	const char *exe;       /* its executable, "" when unknown */
	const char *const *lineage; /* exec chain, oldest first */
	uint8_t n_lineage;
};

struct edge_rare; /* observed.c's */

/* Read-only for callers. Strings, string lists and the first process are
 * shared with other edges of the same model (interned): never write through
 * them. A string field is "" when unknown, except those said to be NULL. */
struct edge {
	enum edge_kind kind;
	uint32_t open_flags;   /* secrets */
	const struct edge_process *proc; /* first observation's process, never NULL */
	const char *object;    /* absolute path of the secret, or the executable */
	const char *category;  /* secret category (catalogue owned); NULL for tools */
	const char *requested_path; /* secrets: the path as the process passed it */
	const char *const *exes; /* every executable that produced it (bounded set) */
	const char *const *argv; /* tools: redacted argv */
	/* the small fields side by side: a million edges pay for padding */
	uint8_t n_exes, argc;
	bool argv_truncated;
	uint8_t n_src;         /* sources: see edge_source_at() */
	/* egress */
	uint8_t proto;         /* REACH_PROTO_TCP / UDP / ICMP / ICMPV6 */
	bool evicting;         /* observed.c's: marked by observed_mark_evicted() */
	uint16_t port;
	uint16_t source_port;  /* of the first observation (0: UDP / not bound yet) */
	uint8_t name_source;   /* enum name_source of name (in the padding before name_ttl) */
	uint32_t name_ttl;
	const char *address;   /* printable destination address, or NULL */
	const char *name;      /* DNS name it was reached by, or NULL */
	const char *dest_class; /* netclass name (static string) */
	/* TLS: the library (category); credential: how it was sent,
	 * edge_cred(); when blind, why: edge_detail() */
	const char *content_fp; /* secret: fingerprint of the file's content when it is one token, or "" */
	uint64_t first_ns, last_ns;
	/* counting */
	uint64_t events;        /* ring-buffer events that fed this edge (dedup proof) */
	struct edge_source first_src;
	/* what the ledger already has of this edge (ledger_feed sends deltas) */
	uint64_t fed_count;
	uint64_t fed_last_ns;
	/* observed.c's: what few edges have (credential or TLS details,
	 * sources beyond the first, counts of what did not fit), or NULL: a
	 * million edges would otherwise pay 40 bytes each for it */
	struct edge_rare *rare;
};

struct cgroup_reach {
	uint64_t cgroup_id;
	char *path;            /* relative to the cgroup2 mount, or "?" */
	struct edge **edges;   /* in order of first observation */
	size_t n_edges, cap_edges;
	/* observed.c's: the edges by (kind, object), open addressing; a slot
	 * is a position in edges plus one, 0 when empty */
	uint32_t *index;
	size_t index_cap;
};

struct observation {
	const struct reach_event_hdr *hdr;
	const struct reach_dedup_key *key;
	const char *object;
	const char *category;
	uint32_t open_flags;
	const char *requested_path;
	const char *exe;
	const char **lineage;
	size_t n_lineage;
	const char **argv;     /* already redacted */
	size_t argc;
	bool argv_truncated;
	/* egress */
	uint8_t proto;
	uint16_t port;
	uint16_t source_port;
	const char *address;
	const char *name;
	uint32_t name_ttl;
	uint8_t name_source;   /* enum name_source (reach/dnsnames.h) */
	const char *dest_class;
	const char *detail;
	const struct edge_credential *cred;
	uint8_t tag;
	/* true when every event of this kind is the first occurrence of a new
	 * dedup-map entry (secrets, egress); false when events repeat for one
	 * entry (exec: every exec is an event for the process tree) */
	bool new_map_entry;
};

struct observed;
struct intern;

struct observed *observed_new(void);
void observed_free(struct observed *o);
/* Caps the edges kept over all cgroups (0 = no cap). A new edge past the cap
 * is not recorded and is counted (observed_edges_dropped); known edges keep
 * counting. */
void observed_set_max_edges(struct observed *o, size_t max_edges);
uint64_t observed_edges_dropped(const struct observed *o);
size_t observed_edge_total(const struct observed *o);
/* The model's table of interned strings, lists and records, for a ledger
 * that keeps its own values in it (ledger_new_sharing()): an edge's object,
 * name, executables and exec chain are then stored once for both. */
struct intern *observed_strings(struct observed *o);

/* Records an observation. *is_new tells whether it created the edge.
 * Returns the edge, or NULL with errno ENOSPC (the edge cap: counted) or
 * ENOMEM. */
struct edge *observed_add(struct observed *o, enum edge_kind kind, const struct observation *obs,
			  bool *is_new);

/* Names cgroup_id's edge (kind, object) after the fact, when it has no name
 * yet: an egress edge is made at connect(), before the ClientHello whose
 * SNI names it. The edge counts as seen at ts_ns, so that the ledger is fed
 * the name. 1 when named; 0 when there is no such edge or it has a name;
 * -ENOMEM. */
int observed_name_edge(struct observed *o, uint64_t cgroup_id, enum edge_kind kind, const char *object,
		       const char *name, uint8_t source, uint64_t ts_ns);

typedef int (*dedup_lookup_fn)(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val);

/* Re-reads every edge's counters from the kernel map. */
void observed_refresh(struct observed *o, dedup_lookup_fn lookup, void *ctx);

/* Eviction: the model is a working set, the ledger holds everything (the
 * caller feeds an edge to the ledger before evicting it: ledger_feed.h's
 * ledger_feed_evict()). An evicted edge's dedup keys are deleted from the
 * kernel map after their final counts are read, so its next occurrence is
 * an event again and makes a new edge, whose counts the ledger adds up.
 *
 * Reads and deletes one key's map entry (its final counters): 0, or
 * -ENOENT when the map has no entry for it. */
typedef int (*dedup_take_fn)(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val);

struct observed_victim {
	struct cgroup_reach *cgroup;
	struct edge *edge;
};

/* Every edge that may be evicted (all but TLS coverage, which is not reach
 * and not in the ledger), least recently seen first, in *out (free() it).
 * The count, or 0 with *out NULL (nothing, or no memory). */
size_t observed_least_recent(struct observed *o, struct observed_victim **out);
/* Reads the final counts of e's dedup keys and deletes them from the map
 * (take). A key whose entry is another incarnation than the one the edge
 * read last is counted like a refresh would count it. */
void observed_take_final(struct edge *e, dedup_take_fn take, void *ctx);
/* Marks e for observed_sweep(). */
void observed_mark_evicted(struct edge *e);
/* Frees every marked edge; returns how many. Edge pointers of unmarked
 * edges stay valid; positions in cgroup_reach.edges change. */
size_t observed_sweep(struct observed *o);
/* Edges evicted since observed_new(). */
uint64_t observed_edges_evicted(const struct observed *o);
uint64_t edge_count(const struct edge *e);
/* Count of the sources with this tag (egress: one outcome). */
uint64_t edge_count_tag(const struct edge *e, uint8_t tag);
/* Source i < e->n_src. */
const struct edge_source *edge_source_at(const struct edge *e, size_t i);
/* Keys beyond EDGE_MAX_SOURCES (counted once each in edge_count()), and
 * executables beyond EDGE_MAX_EXES. Under memory pressure an edge that had
 * nothing rare yet may fail to count one of these (its record of them is
 * allocated on the first). */
uint64_t edge_uncounted_sources(const struct edge *e);
uint64_t edge_exes_dropped(const struct edge *e);
/* Credential edges: how it was sent (never the credential itself); NULL
 * for other kinds. */
const struct edge_credential *edge_cred(const struct edge *e);
/* Credential or TLS edges: why it is blind, or NULL. */
const char *edge_detail(const struct edge *e);

/* The edge (kind, object) of a cgroup, or NULL (never seen, or evicted):
 * for holders that must not keep an edge pointer across evictions. */
struct edge *observed_find(struct observed *o, uint64_t cgroup_id, enum edge_kind kind, const char *object);

/* MCP: an mcp-tool edge's answers, and for any edge an MCP server made
 * while it served exactly one tools/call, that call (server, tool). */
struct edge_mcp {
	uint64_t responses, errors;         /* mcp-tool: answers matched to its calls, errors among them */
	uint64_t fed_responses, fed_errors; /* what the ledger has (ledger_feed) */
	bool fed_via;                       /* the ledger has server and tool */
	const char *server, *tool;          /* interned; NULL: not an effect of a call */
	/* mcp-tool: its calls' argument shapes (mcp/jsonrpc.h), the first
	 * call's then other distinct ones, a strset ("a=x,b=y;a=z"); interned
	 * or NULL */
	const char *arg_shapes;
};
/* NULL when the edge has none of it. */
const struct edge_mcp *edge_mcp(const struct edge *e);
/* Counts an answer to one of an mcp-tool edge's calls. 0 or -ENOMEM. */
int observed_mcp_answer(struct edge *e, bool is_error);
/* Links e to the tools/call it was an effect of; the first link stays.
 * 0 or -ENOMEM (unchanged). */
int observed_mcp_via(struct observed *o, struct edge *e, const char *server, const char *tool);
/* Adds one call's argument shapes to an mcp-tool edge's set (at most
 * EDGE_MCP_SHAPES_MAX distinct, EDGE_MCP_SHAPES_LEN bytes): 0 kept or
 * already there, 1 not kept (the set is full: the caller counts it),
 * -ENOMEM (unchanged). */
#define EDGE_MCP_SHAPES_MAX 4
#define EDGE_MCP_SHAPES_LEN 1024
int observed_mcp_shapes(struct observed *o, struct edge *e, const char *shapes);
/* Marks the answers and the link as fed to the ledger. */
void edge_mcp_set_fed(struct edge *e);
/* Counts of map entries that were evicted or replaced: all, or one tag's. */
uint64_t edge_retired(const struct edge *e);
uint64_t edge_retired_tag(const struct edge *e, uint8_t tag);
/* What the ledger has of a tag's count (ledger_feed), and marking all of
 * edge_count_tag() as fed. */
uint64_t edge_fed_tag(const struct edge *e, uint8_t tag);
void edge_set_fed_tag(struct edge *e, uint8_t tag);
/* Sets a secret edge's content fingerprint. 0, or -ENOMEM (unchanged). */
int observed_set_content_fp(struct observed *o, struct edge *e, const char *fp);
/* Sets a secret edge's KEY=VALUE credentials: v[0..n) "KEY:FINGERPRINT"
 * (names and keyed fingerprints only), dropped those past the parser's
 * bound. 0, or -ENOMEM (unchanged). */
int observed_set_key_fps(struct observed *o, struct edge *e, const char *const *v, size_t n, uint64_t dropped);
/* Its list (*v, NULL when none) and its length; *dropped as set. */
size_t edge_key_fps(const struct edge *e, const char *const **v, uint64_t *dropped);

size_t observed_cgroups(const struct observed *o, struct cgroup_reach ***out); /* sorted by id */
/* The cgroup an edge was recorded under, or NULL. */
const struct cgroup_reach *observed_cgroup(const struct observed *o, uint64_t cgroup_id);
const char *edge_kind_name(enum edge_kind kind);

/* An egress edge's protocol as policies and reports name it: "tcp",
 * "udp", "icmp" (ICMP and ICMPv6). */
static inline const char *edge_proto_name(uint8_t proto)
{
	return proto == REACH_PROTO_TCP ? "tcp" : proto == REACH_PROTO_UDP ? "udp" : "icmp";
}

#endif
