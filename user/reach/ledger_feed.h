/* The feed from observed reach (per cgroup, counts from the kernel) to the
 * ledger (per identity, persisted): each call sends what grew since the last
 * one, so counts add up across agent restarts and across nodes. Cgroups whose
 * identity is pending (a pod not known yet) are held back and retried on the
 * next call; nothing is lost while the API server is away. */
#ifndef REACH_LEDGER_FEED_H
#define REACH_LEDGER_FEED_H

#include <stdint.h>
#include "identity/identity.h"
#include "reach/ledger.h"
#include "reach/observed.h"

/* Resolves the identity of the processes of uid in cgroup c. */
typedef int (*feed_resolve_fn)(void *ctx, const struct cgroup_reach *c, uint32_t uid, struct identity *out);

struct feed_stats {
	uint64_t edges_fed;       /* edges that had something new, this call */
	uint64_t edges_held;      /* edges of pending identities, this call */
	uint64_t record_errors;   /* ledger refusals (caps): counted in the ledger too */
};

/* boot_ns_to_unix_ms: add to a boot-clock ns / 1e6 to get Unix ms. */
void ledger_feed(struct observed *o, struct ledger *l, feed_resolve_fn resolve, void *ctx,
		 int64_t boot_to_unix_ms, struct feed_stats *stats);

/* Makes room in the observed model (a working set; the ledger holds all):
 * evicts up to n_wanted edges, least recently seen first, each after its
 * final counts are read and its keys deleted from the kernel map (take) and
 * its growth is fed. Edges of pending identities (not in the ledger yet),
 * of cgroups whose identity does not resolve, and TLS coverage stay.
 * Returns how many were evicted (observed_edges_evicted() counts them all);
 * ledger refusals add to stats->record_errors. */
size_t ledger_feed_evict(struct observed *o, struct ledger *l, feed_resolve_fn resolve, void *ctx,
			 int64_t boot_to_unix_ms, dedup_take_fn take, void *take_ctx, size_t n_wanted,
			 struct feed_stats *stats);

/* Adds the held edges (full counts) under their "unknown/<path>" names to l,
 * for a view that shows what is waiting for its identity. */
void ledger_feed_pending_view(struct observed *o, struct ledger *view, feed_resolve_fn resolve, void *ctx,
			      int64_t boot_to_unix_ms);

#endif
