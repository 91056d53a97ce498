/* The observation pipeline: one raw ring-buffer record in, the observed
 * model updated. Path resolution and the secret catalogue, the process tree,
 * TLS coverage, secret-content and credential fingerprints, DNS names and
 * egress classes, host epochs: everything between the sensor's ring buffer
 * and the observed model (and, when it is full, the ledger).
 *
 * No kernel here: what the pipeline asks of the sensor (the dedup map, TLS
 * uprobes) goes through the ops below, which the daemon wires to the sensor
 * and unit tests fill with fakes. */
#ifndef REACH_AGENT_PIPELINE_H
#define REACH_AGENT_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "abi/events.h"
#include "http/fingerprint.h"
#include "reach/observed.h"
#include "reach/ledger_feed.h"
#include "agent/output.h"
#include "common/bucket.h"
#include "common/mounts.h"

struct catalog;
struct netclass;
struct proctree;
struct dnsnames;
struct h2_conns;
struct ledger;
struct hmap;
struct mcp_calls;
struct identity;
struct identity_resolver;
struct artifact_hasher;
struct artifact;

/* TLS coverage (sensor/tls.h in the daemon): which library a process writes
 * through, and the uprobes on it. Every callback gets ops_ctx. */
struct pipeline_tls_ops {
	void (*on_open)(void *ctx, uint32_t tgid, const char *abs_path, const struct reach_inode_key *inode,
			const struct reach_dedup_key *key);
	void (*on_exec)(void *ctx, uint32_t tgid, const char *path);
	void (*on_fork)(void *ctx, uint32_t parent, uint32_t child);
	void (*on_exit)(void *ctx, uint32_t tgid);
	/* "openssl", "gnutls", ... or NULL with *why set: a blind process;
	 * since_ns/key: the traffic judged (tls_process_library), *late_ms > 0:
	 * it began before the library's probe was attached */
	const char *(*library)(void *ctx, uint32_t tgid, uint64_t since_ns, const struct reach_dedup_key *key,
			       const char **why, uint64_t *late_ms);
};

/* The kernel's dedup map: edge counts and their final read. */
struct pipeline_dedup_ops {
	int (*snapshot)(void *ctx);  /* a batch read the lookups then use: 0 or -errno */
	dedup_lookup_fn lookup;      /* an edge's current counts (from the snapshot) */
	dedup_take_fn take;          /* final counts, entry deleted (eviction) */
	/* optional: a file classed as a secret, into the kernel's secret_inodes */
	int (*mark_secret_inode)(void *ctx, const struct reach_inode_key *key);
	/* optional: and out again (a seeded file gone, agent/seeds.h) */
	int (*unmark_secret_inode)(void *ctx, const struct reach_inode_key *key);
	/* optional: n more link events of the cgroup handled (its taint lifted
	 * once they are all the kernel counted) */
	int (*ack_link)(void *ctx, uint64_t cgroup_id, uint64_t n);
	/* optional: the cgroup's link events the kernel counted, and credited */
	int (*link_counts)(void *ctx, uint64_t cgroup_id, uint64_t *sent, uint64_t *acked);
};

/* The kernel's loss counters per (cgroup, uid) and unattributed, both
 * since the sensor loaded (sensor.h). */
typedef void (*pipeline_loss_fn)(void *ctx, uint64_t cgroup_id, uint32_t uid, const struct reach_loss_counters *c);
struct pipeline_loss_ops {
	int (*each_cgroup)(void *ops_ctx, pipeline_loss_fn fn, void *fn_ctx); /* 0 or -errno */
	int (*unattributed)(void *ops_ctx, struct reach_loss_counters *sum);  /* 0 or -errno */
	/* optional, together: the kernel map is bounded, so the entries of
	 * removed cgroups go once their counts are in the ledger */
	int (*forget)(void *ops_ctx, uint64_t cgroup_id, uint32_t uid);      /* 0 or -errno */
	int (*cgroup_exists)(void *ops_ctx, uint64_t cgroup_id);             /* 1, 0, or -errno: unknown */
};

/* Request heads open at once (split across writes, waiting for their rest):
 * one slot of HTTP_REASM_MAX bytes each. */
#define PIPELINE_OPEN_HEADS 256
/* HTTP/2 connections decoded at once (HPACK tables of at most 4 KiB): the
 * least recently used is dropped, and lost if it speaks again */
#define PIPELINE_H2_CONNS 1024

struct pipeline {
	/* ---- owned: made by pipeline_init, freed by pipeline_fini ---- */
	struct observed *observed;     /* the observed model */
	struct proctree *procs;        /* process tree: executables and lineage */
	struct dnsnames *dns;          /* (cgroup, address) -> name from DNS answers */
	struct hmap *identity_cache;   /* "cgroup_id/uid" -> struct identity (resolved only) */
	struct hmap *epochs;           /* identity -> version set by `reachctl epoch start` */
	struct hmap *exe_epochs;       /* cgroup id -> host identities' software version */
	struct hmap *epoch_artifacts;  /* "identity\nversion" -> the exe epoch (artifact key) a declared version ran */
	struct hmap *secret_inodes;    /* "dev:ino" -> struct secret_inode: files classed as secrets */
	struct seeds *seeds;           /* secret files found before they are read (agent/seeds.h) */
	struct pending_link *links;    /* a secret's new name whose inode is still to learn (handle_link) */
	size_t n_links;
	struct bucket link_walks;      /* renamed directories walked (link_resolve): a loop of renames gets a road */
	const struct catalog *seeds_catalog; /* the catalogue the seeds' prefixes come from */
	struct http_reasm *reasm;      /* request heads captured in pieces, per connection */
	struct h2_conns *h2;           /* HTTP/2 connections: HPACK tables, header blocks being joined */
	struct hmap *mcp_server_info;  /* "tgid" -> serverInfo.name an MCP server answered initialize with */
	struct hmap *mcp_peers;        /* "writer tgid/pipe inode" -> struct mcp_peer: the server on that pipe */
	struct mcp_calls *mcp_calls;   /* MCP requests waiting for their answers, per server (mcp/calls.h) */
	struct hmap *json_posts;       /* "tgid/conn" -> struct json_post: a JSON POST head whose body is due */
	struct fp_key fp_key;          /* HMAC key of every fingerprint (wiped by pipeline_fini) */
	size_t observed_cap;           /* the observed model's working set (edges, all cgroups) */
	bool observed_stuck;           /* full and nothing evictable: cleared to retry */
	struct run_stats stats;        /* events per kind, what was counted and skipped */
	uint64_t tls_blind_edges;      /* TLS edges of class tls-blind */
	struct feed_stats feed;        /* the last pipeline_feed_ledger() */
	/* coverage (reach/coverage.h): "cgroup/uid" -> what the sensor missed
	 * there, waiting for the ledger (its identity may be pending) */
	struct hmap *cov_cgroups;
	struct reach_loss_counters unattributed_seen; /* read so far */
	size_t loss_entries;           /* kernel map entries at the last read */
	size_t loss_map_entries;       /* its size; 0: REACH_LOSS_CGROUP_ENTRIES (set by the caller) */
	uint64_t loss_entries_forgotten; /* of removed cgroups, after their final read */
	bool room_logged, snapshot_warned, losses_warned;
	/* The last secret reader's root (open_in_reader_root, pipeline.c):
	 * fd + 1 (0: none), so a zeroed pipeline holds no descriptor */
	struct {
		uint32_t tgid;
		uint64_t cgroup_id;
		int fd1;
		double at_s;
		/* its mount table (common/mounts.h): what a read may enter;
		 * read again when its mountinfo (kept open: fd + 1) says a
		 * mount changed */
		struct mount_table mounts;
		int mountinfo_fd1;
	} reader_root;

	/* ---- borrowed: set by the caller, not freed ---- */
	const struct catalog *catalog;          /* secret patterns */
	const struct netclass *netclass;        /* egress destination classes */
	struct ledger *ledger;                  /* where evicted edges go (required once full) */
	struct identity_resolver *resolver;     /* cgroup/uid -> identity */
	struct artifact_hasher *artifacts;      /* hashes host epochs' files off the loop; NULL: none */
	int64_t boot_to_unix_ms;                /* kernel boot clock to Unix time */
	FILE *events_out;                       /* a JSON line per new edge, or NULL */
	const struct pipeline_tls_ops *tls;     /* NULL: no TLS coverage */
	void *tls_ctx;
	const struct pipeline_dedup_ops *dedup; /* required */
	void *dedup_ctx;
	const struct pipeline_loss_ops *losses; /* NULL: no per-cgroup losses to read */
	void *losses_ctx;
};

/* The file identity's epoch ran (reach/artifact.h): its executable, or an
 * interpreted service's program file, as hashed since the agent started
 * (a declared version: the file its cgroup's root process ran under it).
 * 0 with *out; -EINPROGRESS being hashed; -ENOENT none (an image epoch, a
 * version not run since start, a file that could not be hashed). */
int pipeline_epoch_artifact(const struct pipeline *p, const char *identity, const char *epoch, struct artifact *out);

/* Zeroes p and allocates the owned model; observed_cap 0 is the default.
 * 0 or -ENOMEM (p is then safe to pipeline_fini). */
int pipeline_init(struct pipeline *p, size_t observed_cap);

/* Secret seeds (agent/seeds.h): start (true: every mount namespace now,
 * before the agent says ready) or a periodic tick (false: a share of the
 * pass over /proc). A catalogue changed since (p->catalog) is walked for
 * whole at once. */
void pipeline_seed_secrets(struct pipeline *p, bool all);
void pipeline_fini(struct pipeline *p);

/* THE entry point: one raw ring-buffer record (a sensor_event_fn; ctx is the
 * struct pipeline). Records shorter than their kind, of no known kind or
 * inconsistent in size are counted in stats.malformed_events and skipped.
 * Always returns 0 (the drain goes on). */
int pipeline_on_event(void *ctx, const void *data, size_t size);

/* Edge counts from the kernel's dedup map: one batch read, then every edge
 * looks itself up in the copy; and the loss counters (pipeline_note_*). */
void pipeline_refresh_counts(struct pipeline *p);
/* HTTP/2 JSON POSTs whose body did not come by now_ms (Unix ms) become
 * their blind road (pipeline_refresh_counts calls it with the clock). */
void pipeline_sweep_bodies(struct pipeline *p, int64_t now_ms);
/* A (cgroup, uid)'s loss counters since load (a pipeline_loss_fn, ctx the
 * pipeline): what grew since the last call becomes that cgroup's coverage,
 * for its identity's record at the next pipeline_feed_ledger(). */
void pipeline_note_losses(void *ctx, uint64_t cgroup_id, uint32_t uid, const struct reach_loss_counters *total);
/* The unattributed losses since load: what grew goes to the ledger's
 * node-wide record at once (no identity to wait for). */
void pipeline_note_unattributed(struct pipeline *p, const struct reach_loss_counters *total);
/* A blind road taken in a cgroup (coverage_add_road()). */
void pipeline_note_road(struct pipeline *p, uint64_t cgroup_id, uint32_t uid, const char *road, const char *detail,
			int64_t unix_ms);
/* Feeds what the model observed into the ledger (identities resolved,
 * pending ones held), and the cgroups' coverage into their identities'
 * records: p->feed says how it went. */
void pipeline_feed_ledger(struct pipeline *p);
/* A feed_resolve_fn (ctx: the pipeline): resolved identities are cached per
 * (cgroup, uid), the epoch applied on each use. */
int pipeline_resolve_identity(void *ctx, const struct cgroup_reach *c, uint32_t uid, struct identity *out);
/* The epoch an identity's pipeline declared (reachctl epoch start):
 * 0 or -ENOMEM. */
int pipeline_set_epoch(struct pipeline *p, const char *identity, const char *version);

/* At the end of a run: the summary of what was observed (text or JSON, the
 * run's stats with p->stats.losses filled by the caller) and a warning for
 * each loss the operator can act on. */
void pipeline_summary(struct pipeline *p, FILE *f, bool json);

#endif
