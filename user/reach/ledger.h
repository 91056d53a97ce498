/* The reach ledger: observed reach per identity ("ns/sa", "host/unit",
 * "unknown/<cgroup path>"), each identity a set of edges keyed by
 * (kind, object). Every edge is the union of its observations: counts and
 * outcome counts are summed, first seen is the minimum and last seen the
 * maximum, executables/pods/images are bounded sorted sets, lineage and
 * epoch come from the first observation, last_epoch from the latest. The
 * same union merges the ledgers of many pods, restarts or nodes.
 *
 * Memory is bounded: at most max_identities identities, max_edges_per_identity
 * edges each, LEDGER_MAX_VALUES values per set, LEDGER_MAX_OUTCOMES outcomes,
 * LEDGER_MAX_LINEAGE lineage entries. What does not fit is counted, never
 * dropped silently:
 *   edges_dropped       every edge the ledger refused, whatever the cap
 *                       (an observation, or one edge of a merged ledger)
 *   identities_dropped  refusals of a new identity at the identity cap
 *                       (their edges are in edges_dropped too)
 *   identity->edges_dropped  refusals at that identity's edge cap
 *   edge->X_dropped     observations whose value did not fit the set X
 * Merging adds the source's counters to the destination's.
 *
 * Strings are copied into the ledger, which keeps one copy of each distinct
 * string, of each distinct string list (a set's members, a lineage) and of
 * each distinct set (members and dropped count) and shares it between its
 * edges: an edge's strings, lists and sets are read-only (never written
 * through, whatever their C type) and valid while the edge is unchanged, as
 * before. A union that changes a set points the edge at another one. The
 * table of these values may be shared with another model
 * (ledger_new_sharing(): reachd's observed model and ledger hold each
 * edge's object, name, executables and exec chain once between them).
 * Times are Unix milliseconds; 0 means unknown and never wins a min/max.
 * Not thread-safe: one thread at a time per ledger, and the same thread for
 * every holder of a shared table (ledgers made with ledger_new() share
 * nothing). */
#ifndef REACH_LEDGER_H
#define REACH_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Same numbers as reach.v1.EdgeKind (ledger_store.c asserts it). */
enum ledger_kind {
	LEDGER_KIND_UNSPECIFIED = 0,
	LEDGER_SECRET = 1,
	LEDGER_TOOL = 2,
	LEDGER_EGRESS = 3,
	LEDGER_CREDENTIAL = 4,
	LEDGER_DNS = 5,
	LEDGER_MCP_TOOL = 6, /* an MCP tools/call: object "<server> <tool>", category the tool,
			      * name the server (program), dest_class its serverInfo.name,
			      * proto the transport ("stdio", "unix"), arguments the names */
	LEDGER_LLM = 7,      /* an LLM API call: object "<provider> <host> <model>", category the
			      * provider, name the host, dest_class the model ("?" unknown),
			      * proto "http/1.1" / "h2", llm_tools_offered */
	LEDGER_KIND__MAX,
};

#define LEDGER_MAX_VALUES   16 /* executables, pods, images per edge */
#define LEDGER_MAX_OUTCOMES 8  /* distinct outcomes per edge */
#define LEDGER_MAX_LINEAGE  16
#define LEDGER_MCP_SHAPES_MAX 4    /* distinct argument shape sets per mcp-tool edge */
#define LEDGER_MCP_SHAPES_LEN 1024 /* ... in at most this many bytes */
#define LEDGER_MAX_EPOCHS   8  /* epochs kept per edge; older ones go to epochs_earlier */
#define LEDGER_MAX_KEY_FPS  64 /* key fingerprints of a KEY=VALUE file per edge */
#define LEDGER_DEFAULT_MAX_IDENTITIES 4096
#define LEDGER_DEFAULT_MAX_EDGES      4096 /* per identity */

struct ledger_outcome {
	char *name;
	uint64_t count;
};

/* A bounded sorted set of strings. */
struct ledger_set {
	char **v;
	size_t n;
	uint64_t dropped; /* observations whose value did not fit */
};

/* One edge. Read-only for callers; owned by the ledger. Strings are never
 * NULL inside a ledger ("" when unknown), nor are the sets: an edge's sets
 * are shared with the other edges that have the same members and dropped
 * counts (most edges of an identity have the same executables, pods and
 * images), so a million edges pay a pointer each instead of a set each.
 * ledger_add_edge() also accepts a caller-built edge: NULL strings and NULL
 * sets (empty) allowed there, sets of any size, n_lineage of any size up to
 * UINT16_MAX (a longer lineage is truncated to LEDGER_MAX_LINEAGE anyway:
 * pass UINT16_MAX for it). */
struct ledger_edge {
	enum ledger_kind kind;
	uint32_t port;    /* egress (small fields side by side: no padding) */
	uint32_t n_outcomes;
	uint16_t n_lineage;
	bool lineage_truncated;
	char *object;
	char *category;   /* secret */
	char *dest_class; /* egress */
	char *name;       /* egress: the DNS name it was reached by */
	char *name_source; /* egress: where name came from, "dns" or "sni" (a ClientHello's server name); "" unknown */
	char *proto;      /* egress: "tcp" / "udp" */
	struct ledger_outcome *outcomes; /* sorted by name */
	uint64_t outcomes_dropped; /* summed counts of outcomes that did not fit */
	uint64_t count;
	int64_t first_ms, last_ms;
	const struct ledger_set *executables, *pods, *images;
	char **lineage;   /* of the first observation, oldest first */
	char *epoch;      /* of the first observation */
	char *last_epoch; /* of the latest observation */
	char *content_fingerprint; /* secret: fingerprint of the file's content (a single token), or "" */
	/* secret: a KEY=VALUE file's credentials, "KEY:FINGERPRINT" each (the
	 * key's name, never its value), at most LEDGER_MAX_KEY_FPS */
	const struct ledger_set *key_fingerprints;
	char *opened_as;  /* secret: the name as first written, when not object; or "" */
	char *arguments;  /* mcp-tool: argument names of the first call ("a,b" sorted), or "" */
	/* mcp-tool: answers matched to its calls (by JSON-RPC id on the
	 * connection), and those that were errors (isError or a JSON-RPC error).
	 * Counts only: an answer's content is never stored. */
	uint64_t mcp_responses, mcp_errors;
	/* mcp-tool: its calls' argument value shapes (mcp/jsonrpc.h: a path
	 * template, scheme://host and path template, "fp:<hex>", "{…}"), the
	 * first call's then other distinct ones, ';'-separated (common/strset.h,
	 * at most LEDGER_MCP_SHAPES_MAX), or "". Never a value. */
	char *arg_shapes;
	/* an effect (secret, egress, tool, mcp-tool edge) an MCP server made
	 * while serving exactly one tools/call: that call's server and tool, of
	 * the first such observation; "" when none */
	char *mcp_server, *mcp_tool;
	bool llm_tools_offered; /* llm: any call offered tools */
	/* Every epoch the edge was seen in, oldest (by epoch_first_ms) first,
	 * at most LEDGER_MAX_EPOCHS, in parallel arrays (the file's layout):
	 * the name, and the first and last time the edge was seen in it (feed
	 * times; 0 unknown). When a newer epoch does not fit, the oldest leaves
	 * the list and epochs_earlier counts it: the "earlier" bucket (after
	 * merges of ledgers that each dropped epochs, an estimate: their
	 * largest count plus what this merge dropped). An edge seen in E is
	 * exactly one with E in its list; an epoch older than the oldest kept
	 * is unknown when epochs_earlier > 0. An edge built without a list (an
	 * old ledger file, a caller's edge) gets one from epoch (at first_ms)
	 * and last_epoch (at last_ms). */
	char **epoch_names;
	int64_t *epoch_first_ms, *epoch_last_ms;
	uint32_t n_epochs;
	uint32_t epochs_earlier;
};

/* Whether e was seen in epoch: 1 yes, 0 no, -1 unknown (older than what the
 * edge kept: epoch_start_ms before its oldest kept epoch's and
 * epochs_earlier > 0; or an edge without any epoch). epoch_start_ms is the
 * identity's first sighting of epoch (0: unknown, then not-in-list is no
 * when nothing was merged away, unknown otherwise). */
int ledger_edge_in_epoch(const struct ledger_edge *e, const char *epoch, int64_t epoch_start_ms);

/* Read-only for callers. */
struct coverage;
struct ledger_identity {
	char *name;
	struct ledger_edge **edges; /* sorted by (kind, object) */
	size_t n_edges, cap_edges;
	uint64_t edges_dropped;
	/* what the sensor could not see of this identity (reach/coverage.h):
	 * one record per epoch the gaps happened in, sorted by epoch ("" for
	 * unknown, judged in every epoch; past LEDGER_MAX_COVERAGE_EPOCHS named
	 * epochs the rest are folded into it), and their sum over every epoch in
	 * coverage (what status, metrics and reachctl coverage show); NULL /
	 * 0 when nothing was ever missed */
	struct coverage **by_epoch;
	size_t n_by_epoch;
	struct coverage *coverage;
};

#define LEDGER_MAX_COVERAGE_EPOCHS 16

struct ledger;

/* One observation of an edge. identity, object: required. Every other
 * string may be NULL (unknown). */
struct ledger_obs {
	const char *identity;
	enum ledger_kind kind;
	const char *object;
	const char *category, *dest_class, *name, *proto;
	const char *name_source; /* egress: "dns" / "sni" for name, or NULL */
	uint32_t port;
	const char *outcome;  /* egress: "established", "refused", ... or NULL */
	uint64_t count_delta; /* added to count and to outcomes[outcome] */
	int64_t first_ms, last_ms;
	const char *executable;
	const char *const *lineage;
	size_t n_lineage;
	const char *pod;
	const char *image;
	const char *epoch;
	const char *content_fingerprint; /* secret edges */
	const char *const *key_fingerprints; /* secret edges: "KEY:FINGERPRINT" of a KEY=VALUE file */
	size_t n_key_fingerprints;
	uint64_t key_fingerprints_dropped;
	const char *opened_as;           /* secret edges: the name as written, when not object */
	const char *arguments;           /* mcp-tool edges: argument names */
	const char *arg_shapes;          /* mcp-tool edges: argument shapes (a strset), or NULL */
	uint64_t mcp_responses_delta;    /* mcp-tool edges: answers matched since the last record */
	uint64_t mcp_errors_delta;       /* ... of which errors */
	const char *mcp_server, *mcp_tool; /* an effect of a tools/call: its server and tool, or NULL */
	bool llm_tools_offered;          /* llm edges */
};

/* 0 for a cap means its default. NULL on allocation failure. */
struct ledger *ledger_new(size_t max_identities, size_t max_edges_per_identity);
/* The same, keeping its strings, lists and sets in strings (a table another
 * model holds: observed_strings()), which it holds until ledger_free(); the
 * values both models hold are then stored once. NULL strings: a table of its
 * own, as ledger_new(). Nothing visible changes: only where values live. */
struct intern;
struct ledger *ledger_new_sharing(size_t max_identities, size_t max_edges_per_identity, struct intern *strings);
void ledger_free(struct ledger *l); /* accepts NULL */

/* Unions one observation into the ledger. 0; -EINVAL (NULL or empty
 * identity or object, kind out of range); -ENOSPC when a cap refused a new
 * identity or edge (counted, see above); -ENOMEM. */
int ledger_record(struct ledger *l, const struct ledger_obs *o);

/* Unions a whole edge (a merged or loaded one) into identity's edge. Same
 * returns as ledger_record(). */
int ledger_add_edge(struct ledger *l, const char *identity, const struct ledger_edge *e);

/* Unions src into dst (another pod's, a previous run's or another node's
 * ledger): ledger_merge_identity() for each of src's identities, plus src's
 * ledger-level dropped counters and coverage records (every identity's and
 * the node's). 0; -EINVAL (dst == src); -ENOSPC when
 * dst's caps refused something (counted, the rest merged); -ENOMEM (dst
 * then holds part of src). */
int ledger_merge(struct ledger *dst, const struct ledger *src);

/* Unions one identity's edges (from a ledger, a file or a report) into l,
 * each as by ledger_add_edge(), and adds edges_dropped to the identity's
 * counter (the caller accounts for it in the ledger-level one). When the
 * identity cap refuses the identity, identities_dropped grows by 1 and
 * edges_dropped by n_edges. 0; -EINVAL (nothing changed) for an empty
 * identity or an edge without object or with a kind out of range; -ENOSPC,
 * -ENOMEM as ledger_merge(). */
int ledger_merge_identity(struct ledger *l, const char *identity, const struct ledger_edge *const *edges,
			  size_t n_edges, uint64_t edges_dropped);

/* Unions c into identity's coverage record of epoch c->epoch (made, with
 * the identity, if needed: an identity may have lost everything it did).
 * 0; -EINVAL (NULL or empty identity, NULL c); -ENOSPC when the identity
 * cap has no room for it: the record then goes to the node's record (moved,
 * never dropped; identities_dropped is left to the edges' refusals);
 * -ENOMEM. An empty c changes nothing. */
int ledger_add_coverage(struct ledger *l, const char *identity, const struct coverage *c);
/* The sum of identity's records of epoch (NULL: every epoch) and of its
 * epoch-less ("") records into out (zeroed first). false when none. */
bool ledger_coverage_of_epoch(const struct ledger_identity *id, const char *epoch, struct coverage *out);
/* The node-wide record: losses nobody could be named for, hooks missing on
 * the node. Every identity's verdict is inconclusive while it has gaps.
 * NULL when nothing was ever missed. */
const struct coverage *ledger_node_coverage(const struct ledger *l);
/* 0, -EINVAL or -ENOMEM. An empty c changes nothing. */
int ledger_add_node_coverage(struct ledger *l, const struct coverage *c);

/* Adds to the ledger-level dropped counters (a loaded file's). */
void ledger_add_dropped(struct ledger *l, uint64_t edges, uint64_t identities);

size_t ledger_identities(const struct ledger *l);
size_t ledger_edges(const struct ledger *l); /* over all identities */
uint64_t ledger_edges_dropped(const struct ledger *l);
uint64_t ledger_identities_dropped(const struct ledger *l);

/* Identities in name order (strcmp); i < ledger_identities(). */
const struct ledger_identity *ledger_identity_at(const struct ledger *l, size_t i);
const struct ledger_identity *ledger_identity_find(const struct ledger *l, const char *identity);
const struct ledger_edge *ledger_edge_find(const struct ledger_identity *id, enum ledger_kind kind,
					   const char *object);

/* "secret", "tool", "egress", "credential", "dns"; "unspecified" otherwise. */
const char *ledger_kind_name(enum ledger_kind kind);
/* The kind of a name above, or -1. */
int ledger_kind_from_name(const char *name);

struct json_object;
/* JSON view for reachctl:
 *   {"identities":[{"identity":"ns/sa","edges_dropped":N,"edges":[EDGE...],
 *                   "coverage":COVERAGE (every epoch's, summed),
 *                   "coverage_by_epoch":[COVERAGE + "epoch":E|null]}],
 *    "identity_count":N,"edge_count":N,"edges_dropped":N,"identities_dropped":N,
 *    "node_coverage":COVERAGE}
 *   COVERAGE: coverage_to_json() (an empty record when nothing was missed)
 *   EDGE: {"kind","object","category","dest_class","name","proto","port",
 *          "outcomes":{name:count},"outcomes_dropped","count","first_seen_ms",
 *          "last_seen_ms","first_seen","last_seen" (RFC 3339 UTC),
 *          "executables","executables_dropped","lineage","lineage_truncated",
 *          "pods","pods_dropped","images","images_dropped","epoch","last_epoch",
 *          "epochs":[{"name","first_seen_ms","last_seen_ms"}] (oldest first),
 *          "epochs_earlier"}
 * Every key is always present; unknown strings and times are null.
 * Ordered by identity, then kind (enum order), then object. identity NULL
 * means every identity; kind NULL means every kind, otherwise only
 * identities with an edge of that kind are listed. The counts at the end are
 * ledger totals, unfiltered. NULL with errno EINVAL for an unknown kind name,
 * ENOMEM on allocation failure. */
struct json_object *ledger_to_json(const struct ledger *l, const char *identity, const char *kind);

/* One EDGE as above; brief: only what a comparison of two ledgers shows, in
 * the same order ("kind","object","category","dest_class","name","count",
 * "first_seen_ms","last_seen_ms","executables","epoch","last_epoch"). NULL
 * on allocation failure. */
struct json_object *ledger_edge_to_json(const struct ledger_edge *e, bool brief);

#endif
