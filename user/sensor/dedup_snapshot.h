/* A copy of the kernel's dedup map, read in batches.
 *
 * The agent refreshes its edge counts from the dedup map every second. One
 * lookup per edge is one bpf() call per edge: at 200k edges that is 200k
 * system calls a second, whatever the event rate (measured: it was most of
 * the agent's system time in the throughput benchmark). A batch read copies
 * the whole map in a few dozen calls; lookups then hit this copy. */
#ifndef REACH_DEDUP_SNAPSHOT_H
#define REACH_DEDUP_SNAPSHOT_H

#include <stdint.h>
#include "abi/events.h"

struct dedup_snapshot;

/* For a map of max_entries entries. NULL on ENOMEM. */
struct dedup_snapshot *dedup_snapshot_new(uint32_t max_entries);
void dedup_snapshot_free(struct dedup_snapshot *d);

/* Reads the whole map (fd) with BPF_MAP_LOOKUP_BATCH. 0, or -errno: then
 * the snapshot is empty and lookups miss (callers fall back to single
 * lookups; -EINVAL/-ENOTSUPP: the kernel has no batch support; -E2BIG: the
 * map holds far more than max_entries, never copied in part). */
int dedup_snapshot_refresh(struct dedup_snapshot *d, int map_fd);

/* 0 with *val, or -ENOENT when the key was not in the map when read. */
int dedup_snapshot_lookup(const struct dedup_snapshot *d, const struct reach_dedup_key *key,
			  struct reach_dedup_val *val);

uint32_t dedup_snapshot_size(const struct dedup_snapshot *d);

#endif
