/* Coverage: what the sensor could NOT see of one identity, so that a
 * verdict is never a pass on a picture with holes in it.
 *
 * A coverage record holds, for one identity (or, in the node-wide record,
 * for nobody in particular):
 *   losses      kernel loss counters by event kind and reason (ring buffer
 *               full, truncated, map full, read failed), attributed to the
 *               identity through the cgroup (and uid) whose activity was
 *               lost; the node-wide record holds those the kernel could not
 *               attribute (its per-cgroup map was full)
 *   edges_unrecorded  edges the agent's own observed model refused (full)
 *   blind roads  ways to a secret or a destination that reach knows were
 *               taken and cannot read: "tls-blind" (TLS through a library
 *               without uprobes), "http2-undecoded" (an HTTP/2 connection:
 *               its requests are not decoded), and whatever a later sensor
 *               adds; a
 *               bounded set of (road, detail) with counts
 *   hooks missing  hooks that failed to attach (node-wide: every identity
 *               on that node)
 * Records are unions: counts summed, roads and hooks merged, first/last
 * gap times min/max, so the records of many agents, restarts and files add
 * up like ledger edges do. The ledger keeps one per identity and epoch and
 * one for the node (reach/ledger.h) and saves them (proto: CoverageRecord):
 * an upgraded workload is judged on the gaps of its new version, as its
 * edges are.
 *
 * Which losses are gaps (make a verdict inconclusive) is decided here, in
 * coverage_loss_is_gap(): every loss that can hide an edge. A truncated
 * command line or DNS answer degrades detail, not reach: recorded and
 * shown, not judged. */
#ifndef REACH_COVERAGE_H
#define REACH_COVERAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "abi/events.h"

#define COVERAGE_MAX_ROADS  16
#define COVERAGE_MAX_HOOKS  8
#define COVERAGE_ROAD_LEN   32
#define COVERAGE_DETAIL_LEN 256
#define COVERAGE_HOOK_LEN   64
#define COVERAGE_EPOCH_LEN  520 /* an identity's epoch (identity.h image_id) whole: a cut one would match nothing */

struct coverage_road {
	char road[COVERAGE_ROAD_LEN];     /* "tls-blind", ... */
	char detail[COVERAGE_DETAIL_LEN]; /* what and why: "/usr/bin/app: Go crypto/tls" */
	uint64_t count;
	int64_t last_ms;
};

struct coverage {
	/* the software version window the gaps happened in (ledger edges'
	 * epoch); "" unknown: judged in every epoch. coverage_add() leaves
	 * dst's alone. */
	char epoch[COVERAGE_EPOCH_LEN];
	uint64_t losses[REACH_EV__MAX][REACH_LOSS__MAX];
	/* losses of a kind or reason this build does not know (a newer
	 * agent's file): judged as gaps, never dropped */
	uint64_t losses_unknown;
	uint64_t edges_unrecorded;
	struct coverage_road roads[COVERAGE_MAX_ROADS]; /* sorted by (road, detail) */
	size_t n_roads;
	uint64_t roads_dropped; /* counts of roads that did not fit: still gaps */
	char hooks_missing[COVERAGE_MAX_HOOKS][COVERAGE_HOOK_LEN]; /* sorted */
	size_t n_hooks_missing;
	uint64_t hooks_dropped;
	int64_t first_gap_ms, last_gap_ms; /* Unix ms; 0 unknown */
};

/* Kind names: "other" (0: maps no kind owns), "file_open", "exec", "fork",
 * "exit", "egress", "dns", "http"; reasons: "ringbuf_full", "truncated",
 * "map_full", "read_failed". "unknown" out of range. */
const char *coverage_kind_name(int kind);
const char *coverage_reason_name(int reason);
/* The index of a name above, or -1. */
int coverage_kind_from_name(const char *name);
int coverage_reason_from_name(const char *name);

/* Whether a loss of this kind and reason can hide an edge. */
bool coverage_loss_is_gap(int kind, int reason);

bool coverage_is_empty(const struct coverage *c);           /* nothing recorded at all */
uint64_t coverage_losses(const struct coverage *c);         /* every loss, gaps or not */
uint64_t coverage_gap_losses(const struct coverage *c);     /* losses that are gaps, with unknown and unrecorded */
uint64_t coverage_blind_roads(const struct coverage *c);    /* road counts, with roads_dropped */
bool coverage_has_gaps(const struct coverage *c);           /* any gap loss, road or missing hook */
/* The same, with the roads for which judged(road, ctx) is false left out:
 * a road that only matters to a policy that declares what it hides (an LLM
 * call's unread model hides nothing from a policy without spec.llm). */
bool coverage_has_gaps_judged(const struct coverage *c, bool (*judged)(const char *road, void *ctx), void *ctx);

/* Adds count losses (kind, reason out of range: losses_unknown) at time
 * ms (0: unknown). */
void coverage_add_loss(struct coverage *c, int kind, int reason, uint64_t count, int64_t ms);
/* Adds count to road (road, detail), made if needed: 0; -ENOSPC when the
 * set is full (the count goes to roads_dropped, still a gap); -EINVAL
 * for an empty road. Strings are cut at their bounds. */
int coverage_add_road(struct coverage *c, const char *road, const char *detail, uint64_t count, int64_t ms);
/* 0; -ENOSPC (counted in hooks_dropped); -EINVAL for an empty name. */
int coverage_add_hook_missing(struct coverage *c, const char *hook);
/* dst += src (see above). */
void coverage_add(struct coverage *dst, const struct coverage *src);

/* The gaps in one line for a verdict's reasons and a finding's message,
 * e.g. "12 events lost (file_open ringbuf_full 10, exec read_failed 2);
 * blind road tls-blind: /usr/bin/app: Go crypto/tls (x3); hooks missing:
 * tp_btf/x". "" when there are none. Returns what snprintf would. */
int coverage_describe(const struct coverage *c, char *out, size_t n);

struct json_object;
/* {"losses":{"file_open":{"ringbuf_full":N,...},...} (kinds with a loss
 *  only), "gap_losses":N, "losses_total":N, "losses_unknown":N,
 *  "edges_unrecorded":N, "blind_roads":[{"road","detail","count",
 *  "last_seen_ms"}], "blind_roads_dropped":N, "hooks_missing":[...],
 *  "hooks_dropped":N, "first_gap_ms":N|null, "last_gap_ms":N|null,
 *  "gaps":bool, "summary":"..." (coverage_describe)}. c NULL: an empty
 *  record. NULL on ENOMEM. */
struct json_object *coverage_to_json(const struct coverage *c);

#endif
