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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct reach_loss_counters);
} loss_counters SEC(".maps") __weak;

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

static __always_inline void loss__count(__u32 kind, __u32 reason)
{
	__u32 zero = 0;
	struct reach_loss_counters *c = bpf_map_lookup_elem(&loss_counters, &zero);

	if (c && kind < REACH_EV__MAX && reason < REACH_LOSS__MAX)
		c->counters[kind][reason]++;  /* per-CPU: no atomics needed */
}

static __always_inline struct scratch *scratch__get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch_map, &zero);
}

#endif /* REACH_MAPS_BPF_H */
