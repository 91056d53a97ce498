/* Observed reach per cgroup: the edges the sensor saw (secrets read, tools
 * executed), each with its first observation and its count. Counts come
 * from the kernel dedup map (repeats never become events); an edge keeps
 * the dedup keys that feed it and survives their eviction from the LRU. */
#ifndef REACH_OBSERVED_H
#define REACH_OBSERVED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "reach/events.h"

enum edge_kind { EDGE_SECRET, EDGE_TOOL, EDGE_EGRESS, EDGE_CREDENTIAL, EDGE_TLS, EDGE__MAX };

#define EDGE_MAX_TAGS 8 /* per-source tags: egress outcomes */

#define EDGE_MAX_SOURCES 8
#define EDGE_MAX_ARGS 32
#define EDGE_MAX_EXES 8

struct edge_source {
	struct reach_dedup_key key;
	uint64_t first_ns;   /* identifies the map entry's incarnation */
	uint64_t last_count; /* last count read from that incarnation */
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
};

struct edge {
	enum edge_kind kind;
	char *object;          /* absolute path of the secret, or the executable */
	const char *category;  /* secret category (catalogue owned); NULL for tools */
	/* first observation */
	uint32_t pid, tgid, ppid, uid;
	char comm[REACH_COMM_LEN];
	uint32_t open_flags;   /* secrets */
	char *requested_path;  /* secrets: the path as the process passed it */
	char *exe;             /* executable of the first process */
	char *exes[EDGE_MAX_EXES]; /* every executable that produced it (bounded set) */
	size_t n_exes;
	uint64_t exes_dropped;
	char *lineage[8];      /* exec chain, oldest first */
	size_t n_lineage;
	char *argv[EDGE_MAX_ARGS]; /* tools: redacted argv */
	size_t argc;
	bool argv_truncated;
	/* egress */
	uint8_t proto;         /* REACH_PROTO_TCP / UDP */
	uint16_t port;
	uint16_t source_port;  /* of the first observation (0: UDP / not bound yet) */
	char *address;         /* printable destination address */
	char *name;            /* DNS name it was reached by, or NULL */
	uint32_t name_ttl;
	const char *dest_class; /* netclass name (static string) */
	/* credential: how it was sent; TLS: the library (category) and, when
	 * blind, why (detail). Never the credential itself. */
	char *detail;
	struct edge_credential *cred; /* credential edges only */
	char content_fp[17];   /* secret: fingerprint of the file's content when it is one token, or "" */
	uint64_t first_ns, last_ns;
	/* counting */
	uint64_t events;        /* ring-buffer events that fed this edge (dedup proof) */
	uint64_t retired;      /* counts of map entries that were evicted or replaced */
	uint64_t retired_by_tag[EDGE_MAX_TAGS];
	struct edge_source src[EDGE_MAX_SOURCES];
	size_t n_src;
	uint64_t uncounted_sources; /* keys beyond EDGE_MAX_SOURCES: counted once each */
	/* what the ledger already has of this edge (ledger_feed sends deltas) */
	uint64_t fed_count;
	uint64_t fed_by_tag[EDGE_MAX_TAGS];
	uint64_t fed_last_ns;
};

struct cgroup_reach {
	uint64_t cgroup_id;
	char path[512];        /* relative to the cgroup2 mount, or "?" */
	struct edge **edges;   /* in order of first observation */
	size_t n_edges, cap_edges;
	struct hmap *by_object; /* "kind:object" -> edge */
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

struct observed *observed_new(void);
void observed_free(struct observed *o);
/* Caps the edges kept over all cgroups (0 = no cap). A new edge past the cap
 * is not recorded and is counted (observed_edges_dropped); known edges keep
 * counting. */
void observed_set_max_edges(struct observed *o, size_t max_edges);
uint64_t observed_edges_dropped(const struct observed *o);
size_t observed_edge_total(const struct observed *o);

/* Records an observation. *is_new tells whether it created the edge.
 * Returns the edge, or NULL with errno ENOSPC (the edge cap: counted) or
 * ENOMEM. */
struct edge *observed_add(struct observed *o, enum edge_kind kind, const struct observation *obs,
			  bool *is_new);

typedef int (*dedup_lookup_fn)(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val);

/* Re-reads every edge's counters from the kernel map. */
void observed_refresh(struct observed *o, dedup_lookup_fn lookup, void *ctx);
uint64_t edge_count(const struct edge *e);
/* Count of the sources with this tag (egress: one outcome). */
uint64_t edge_count_tag(const struct edge *e, uint8_t tag);

size_t observed_cgroups(const struct observed *o, struct cgroup_reach ***out); /* sorted by id */
/* The cgroup an edge was recorded under, or NULL. */
const struct cgroup_reach *observed_cgroup(const struct observed *o, uint64_t cgroup_id);
const char *edge_kind_name(enum edge_kind kind);

#endif
