// Declared reach: ReachPolicy documents (YAML, Kubernetes-style), one or
// many per file, a file or a directory of *.yaml / *.yml files.
//
//   apiVersion: reach.dev/v1
//   kind: ReachPolicy
//   metadata: {name: llm-gateway}
//   spec:
//     serviceAccount: ai/llm-gateway          # or identity: host/llm-gateway
//     secrets:     [/var/run/secrets/kubernetes.io/serviceaccount/**, /etc/llm/keys/*.key]
//     egress:      [{host: api.openai.com, ports: [443]}, {cidr: 10.96.0.0/12, ports: [443], proto: tcp}]
//     credentials: [{host: api.openai.com, kinds: [bearer, jwt], paths: ["/v1/*"], fingerprints: [0123456789abcdef]}]
//     tools:       [/usr/bin/python3*, /usr/bin/curl]
//     mcp:         [{server: server-filesystem, tools: [read_file, list_*]}]
//     llm:         [{provider: openai, host: api.openai.com, models: [gpt-4o*]}]
//     exceptions:
//       - {egress: {host: legacy.internal, ports: [8080]}, expires: 2026-12-31T00:00:00Z, reason: SEC-123}
//
// Loading is all or nothing and strict: unknown fields, wrong types, bad
// globs/CIDRs/ports/dates are errors with FILE:LINE:COLUMN and a reason, so a
// reload with a typo keeps the last good set.
#ifndef REACH_POLICY_H
#define REACH_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "reach/netclass.h"

#define POLICY_MAX_RULES 128  /* per list */
#define POLICY_MAX_PORTS 32
#define POLICY_MAX_VALUES 16  /* kinds, paths, fingerprints of a credential rule */

enum policy_rule_type { POLICY_SECRET, POLICY_EGRESS, POLICY_CREDENTIAL, POLICY_TOOL, POLICY_MCP, POLICY_LLM };

/* LLM API calls allowed (issue #18): provider globs an llm edge's provider
 * ("openai", "openai-compatible", "azure-openai", "anthropic", "gemini",
 * "bedrock", "ollama"), host its host ("" any), models its model (none:
 * every model). A call whose model reach could not read ("?") matches only
 * a rule without models. */
struct policy_llm {
	char provider[64];
	char host[256];
	char models[POLICY_MAX_VALUES][128];
	size_t n_models;
};

/* MCP tool calls allowed (issue #18): server globs the server's name (its
 * program, as mcp-tool edges name it), tools glob the tool names (none:
 * every tool of that server). Globs of reach/glob.h syntax, no spaces. */
struct policy_mcp {
	char server[128];
	char tools[POLICY_MAX_VALUES][128];
	size_t n_tools;
};

struct policy_egress {
	char host[256];       /* DNS name, "*" wildcards allowed ("*.openai.com"); "" when cidr is used */
	bool has_cidr;
	struct cidr cidr;     /* an address is a /32 or /128 */
	uint16_t ports[POLICY_MAX_PORTS];
	size_t n_ports;       /* 0: any port */
	char proto[8];        /* "tcp", "udp", "" = any */
};

struct policy_credential {
	char host[256];       /* "*" wildcards; the port of "host:port" in an edge is ignored */
	char kinds[POLICY_MAX_VALUES][32];     /* "bearer", "jwt", "api-key", "query:*" globs ...; none = any */
	size_t n_kinds;
	char paths[POLICY_MAX_VALUES][256];    /* path-template globs; none = any */
	size_t n_paths;
	char fingerprints[POLICY_MAX_VALUES][17]; /* none = any */
	size_t n_fingerprints;
};

/* One declared rule, with where it was written (for findings and errors). */
struct policy_rule {
	enum policy_rule_type type;
	char glob[512];                  /* secret: path glob; tool: executable glob (reach/glob.h syntax) */
	struct policy_egress egress;
	struct policy_credential credential;
	struct policy_mcp mcp;
	struct policy_llm llm;
	int line;
};

struct policy_exception {
	struct policy_rule rule;
	int64_t expires_unix_ms;
	char reason[256];
	int line;
};

struct reach_policy {
	char name[254];
	char identity[512];              /* "ns/sa" from spec.serviceAccount, or spec.identity */
	char file[4096];
	int line;                        /* of the document */
	/* Where a finding of each rule type points (policy_ref): the line of
	 * the spec list of that type (spec.secrets, ...), or of spec when the
	 * list is absent (nothing of that type was declared). */
	int list_line[POLICY_LLM + 1];
	/* spec.llm was given (even empty): its identity's LLM calls are judged,
	 * so one whose model reach could not read (the blind road
	 * llm-body-unseen) makes the verdict inconclusive */
	bool declares_llm;
	bool declares_mcp; /* spec.mcp was given: a JSON POST body not read (json-body-unseen) is a gap */
	struct policy_rule *rules;       /* secrets, egress, credentials, tools in file order */
	size_t n_rules;
	struct policy_exception *exceptions;
	size_t n_exceptions;
};

struct policy_set {
	struct reach_policy *policies;
	size_t n;
};

/* Loads PATH (a file, or a directory: its *.yaml and *.yml files in name order)
 * and appends to *set. All or nothing: on error *set is unchanged, err holds
 * "FILE:LINE:COLUMN: reason" and a negative errno is returned. Two policies
 * for one identity are an error (naming both places). */
int policy_load_path(struct policy_set *set, const char *path, char *err, size_t err_size);
/* As policy_load_path over TEXT (LEN bytes, YAML or JSON: a ReachPolicy
 * object of the API rendered as text); NAME is the FILE of every error
 * ("ReachPolicy NS/NAME"). */
int policy_load_text(struct policy_set *set, const char *name, const char *text, size_t len, char *err,
		     size_t err_size);
/* Appends copies of the policies of *from whose identity *into does not
 * declare yet; the others are skipped and counted in *shadowed (may be
 * NULL). 0 or -ENOMEM (what was added stays). The agent merges its policy
 * sources this way: the first source to declare an identity wins. */
int policy_set_add_copies(struct policy_set *into, const struct policy_set *from, size_t *shadowed);
/* Every path into a fresh set *out: all or nothing (*out untouched on error). */
int policy_load_paths(struct policy_set *out, const char *const *paths, int n, char *err, size_t err_size);
/* A cheap signature of the policy files (names, mtimes, sizes, inodes: an
 * editor's rename-over counts; a directory's files in any readdir order):
 * when it changes, the agent reloads them. */
uint64_t policy_paths_signature(const char *const *paths, int n);
void policy_set_free(struct policy_set *set); /* leaves an empty set */
const struct reach_policy *policy_for_identity(const struct policy_set *set, const char *identity);

/* RFC 3339 date-time ("2026-12-31T00:00:00Z", "2026-12-31T02:00:00+02:00",
 * optional fraction, 't'/'z' accepted) to Unix milliseconds, without locale
 * or time-zone database. 0, or -EINVAL for anything else (a date alone too).
 * The parser behind exceptions[].expires. */
int policy_parse_rfc3339(const char *text, int64_t *unix_ms);

#endif
