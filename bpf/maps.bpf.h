/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maps and load-time knobs shared by every reach program. Declared __weak so
 * that each .bpf.c can include this header and `bpftool gen object` links
 * them into one object with one instance of each map (as Falco does).
 */
#ifndef REACH_MAPS_BPF_H
#define REACH_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "abi/events.h"

/* Fixed at load time (set between open and load). */
const volatile __u32 self_tgid __weak = 0;  /* the agent: never traced */
/* The dedup hashes' SipHash key: random, drawn by the agent at each start
 * (sensor_start), so no workload can compute a colliding object. */
const volatile __u64 hash_key[2] __weak = {};

/* Changed at run time through the mmap'ed .bss. Bumping config_gen drops
 * every cached per-cgroup verdict at its next lookup. */
__u32 monitor_all __weak = 0;
__u32 config_gen __weak = 0;

/* Roots of monitored subtrees: cgroup v2 id -> 1. Set by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} monitored_cgroups SEC(".maps") __weak;

/* Cache of "is this leaf cgroup inside a monitored subtree", so the ancestor
 * walk runs once per cgroup and generation, not once per syscall. */
struct cgroup_verdict {
	__u32 gen;
	__u32 monitored;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct cgroup_verdict);
} cgroup_verdicts SEC(".maps") __weak;

/* In-kernel dedup: one entry per (cgroup, kind, object). Only the first
 * occurrence becomes an event; repeats bump the counters here. The agent
 * sizes it from its config before load. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct reach_dedup_key);
	__type(value, struct reach_dedup_val);
} dedup SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps") __weak;

/*
 * Sending a record. The ring wakes the agent only for a record it is
 * right at (the ring was empty); each wake-up of a fork's or an exit's
 * record ran the agent on the forking workload's CPU: fork+exec+wait of
 * /bin/true in a monitored cgroup took +17..+21 % against no sensor with a
 * wake-up per record, +6 % with those two lazy (6 alternating runs of 300
 * each). A fork or exit is only bookkeeping for the process tree, wanted
 * before the process's next record, never on its own: it goes lazily
 * (events__submit_lazy), and is read with the next record that wakes the
 * agent, or at its poll timeout (100 ms). Any other record (events__submit)
 * wakes the agent as before, and also when lazy records are still unread
 * ahead of it (the ring's rule would then wake no one, and a secret's
 * open would wait for the timeout while its reader may exit).
 */
__u64 events_lazy_end __weak = 0; /* the ring's producer position after the last lazy record */

static __always_inline void events__submit_lazy(void *ev)
{
	bpf_ringbuf_submit(ev, BPF_RB_NO_WAKEUP);
	events_lazy_end = bpf_ringbuf_query(&events, BPF_RB_PROD_POS);
}

static __always_inline void events__submit(void *ev)
{
	__u64 unread_lazy = bpf_ringbuf_query(&events, BPF_RB_CONS_POS) < ((volatile __u64 *)&events_lazy_end)[0];

	bpf_ringbuf_submit(ev, unread_lazy ? BPF_RB_FORCE_WAKEUP : 0);
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct reach_loss_counters);
} loss_counters SEC(".maps") __weak;

/* Losses per (cgroup, uid): see abi/events.h. Values are shared between
 * CPUs, so the counters are bumped atomically. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, REACH_LOSS_CGROUP_ENTRIES);
	__type(key, struct reach_loss_cg_key);
	__type(value, struct reach_loss_counters);
} loss_by_cgroup SEC(".maps") __weak;

/* Losses that found no room in loss_by_cgroup: never dropped, counted here
 * and judged node-wide. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct reach_loss_counters);
} loss_unattributed SEC(".maps") __weak;

/* All zeroes, never written: the first value of a loss_by_cgroup entry
 * (256 bytes do not belong on the 512-byte stack). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct reach_loss_counters);
} loss_zero SEC(".maps") __weak;

/* Per-CPU scratch: strings too big for the 512-byte stack. The walk buffer
 * is twice the resolved-path bound so masked offsets stay in range. */
#define SCRATCH_WALK_LEN (2 * REACH_BASE_LEN)
struct scratch {
	char path[REACH_PATH_LEN];
	char walk[SCRATCH_WALK_LEN];
	/* twice the head: an iovec gather (http__capture_iov) copies at a
	 * variable offset below REACH_HTTP_LEN up to REACH_HTTP_LEN bytes */
	char http[2 * REACH_HTTP_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps") __weak;

/* (device, inode) of every file the agent has classed as a secret: an open
 * of any other name of it (hardlink, bind mount) is flagged in the kernel as
 * a known secret. Filled by the agent from the events' own (dev, ino). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct reach_inode_key);
	__type(value, __u8);
} secret_inodes SEC(".maps") __weak;

/* secret_inodes' keys as bits (abi/events.h reach_secret_ino_bit), written
 * by the agent alone in the mmap'ed .bss */
__u64 secret_ino_bits[REACH_SECRET_INO_BITS / 64] __weak = {};

/* Could (dev, ino) be in secret_inodes? false: certainly not (its bit is
 * set before its key goes in); true: look it up. */
static __always_inline bool secret__maybe(const struct reach_inode_key *k)
{
	__u32 b = reach_secret_ino_bit(k->ino, k->dev);

	return (((volatile __u64 *)secret_ino_bits)[(b / 64) & (REACH_SECRET_INO_BITS / 64 - 1)] >> (b & 63)) & 1;
}

/* The secret_inodes lookup behind its bit. */
static __always_inline bool secret__known(const struct reach_inode_key *k)
{
	return secret__maybe(k) && bpf_map_lookup_elem(&secret_inodes, k);
}

/* Counts one loss node-wide (what status and /metrics have always shown)
 * and for the (cgroup, uid) whose activity it hid. A global function:
 * verified once per program, not at each of its ~30 call sites (inlined,
 * its branches pushed the syscall dispatcher past the verifier's 1M
 * instructions). __weak: every .bpf.c includes it, the linker keeps one. */
__weak __noinline int loss__count_for(__u64 cgid, __u32 uid, __u32 kind, __u32 reason)
{
	struct reach_loss_cg_key key = { .cgroup_id = cgid, .uid = uid };
	struct reach_loss_counters *c, *per;
	/* one flat index, checked where it is used: a global function's
	 * arguments are unknown scalars to the verifier */
	__u64 idx = (__u64)kind * REACH_LOSS__MAX + reason;
	__u32 zero = 0;

	if (kind >= REACH_EV__MAX || reason >= REACH_LOSS__MAX || idx >= REACH_EV__MAX * REACH_LOSS__MAX)
		return 0;
	c = bpf_map_lookup_elem(&loss_counters, &zero);
	if (c)
		((__u64 *)c->counters)[idx]++;  /* per-CPU: no atomics needed */
	per = bpf_map_lookup_elem(&loss_by_cgroup, &key);
	if (!per) {
		struct reach_loss_counters *z = bpf_map_lookup_elem(&loss_zero, &zero);

		/* EEXIST (another CPU made it) is fine: looked up again */
		if (z)
			bpf_map_update_elem(&loss_by_cgroup, &key, z, BPF_NOEXIST);
		per = bpf_map_lookup_elem(&loss_by_cgroup, &key);
	}
	if (per) {
		__sync_fetch_and_add(&((__u64 *)per->counters)[idx], 1);
		return 0;
	}
	per = bpf_map_lookup_elem(&loss_unattributed, &zero);
	if (per)
		((__u64 *)per->counters)[idx]++;
	return 0;
}

/* A loss in the current task's context. */
static __always_inline void loss__count(__u32 kind, __u32 reason)
{
	loss__count_for(bpf_get_current_cgroup_id(), (__u32)bpf_get_current_uid_gid(), kind, reason);
}

/* A loss no workload caused (a shared cache's map): node-wide only, never
 * a verdict's business. */
static __always_inline void loss__count_node(__u32 kind, __u32 reason)
{
	__u32 zero = 0;
	struct reach_loss_counters *c = bpf_map_lookup_elem(&loss_counters, &zero);

	if (c && kind < REACH_EV__MAX && reason < REACH_LOSS__MAX)
		c->counters[kind][reason]++;
}

static __always_inline struct scratch *scratch__get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch_map, &zero);
}

#endif /* REACH_MAPS_BPF_H */
