/* SPDX-License-Identifier: Apache-2.0 */
/* Who is running: the monitored-cgroup filter and the common event head. */
#ifndef REACH_TASK_BPF_H
#define REACH_TASK_BPF_H

#include "maps.bpf.h"
#include "abi/siphash.h"
#include <bpf/bpf_core_read.h>

/* Walks the ancestors of the current task's cgroup (root = level 0) looking
 * for a monitored subtree root. Runs only on a verdict-cache miss. */
static __always_inline bool cgroup__walk_is_monitored(struct task_struct *task)
{
	int level = BPF_CORE_READ(task, cgroups, dfl_cgrp, level);

	for (int i = 0; i < REACH_MAX_CGROUP_DEPTH; i++) {
		__u64 id;

		if (i > level)
			break;
		id = bpf_get_current_ancestor_cgroup_id(i);
		if (bpf_map_lookup_elem(&monitored_cgroups, &id))
			return true;
	}
	return false;
}

/* Per task, in its local storage: the verdict of its cgroup (for the
 * cgroup and generation it was taken in), and the last file it opened again
 * (files__record's repeat cache). One lookup in the task's own storage, no
 * shared hash bucket: the monitored check runs at every open, write and send
 * of every process on the node. Freed with the task. */
struct task_cache {
	__u64 cgid;       /* the verdict's cgroup (0: none yet) */
	__u32 gen;        /* and config_gen */
	__u32 monitored;
	/* files__record's repeat cache: the dedup key of the task's last
	 * repeated open, its inputs, and the repeats held here since the
	 * entry was last told (at most one kernel tick's worth, see there) */
	__u64 w[3];
	struct reach_dedup_key key;
	__u64 tick;
	__u32 filter_gen;
	__u32 pending;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_cache);
} task_caches SEC(".maps") __weak;

/* task__is_monitored's miss: the verdict for (cgid, gen) from the per-cgroup
 * cache or the ancestor walk, then kept in the current task's storage. A
 * global function: verified once, and its frame is not on the deep call
 * chains of the programs that inline task__is_monitored (their stacks are at
 * the 512-byte limit). __weak: one copy in the link. */
__weak __noinline int task__verdict(__u64 cgid, __u32 gen)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct cgroup_verdict *cached, fresh;
	struct task_cache *tc;

	cached = bpf_map_lookup_elem(&cgroup_verdicts, &cgid);
	if (cached && cached->gen == gen) {
		fresh.monitored = cached->monitored;
	} else {
		fresh.gen = gen;
		fresh.monitored = cgroup__walk_is_monitored(task);
		if (bpf_map_update_elem(&cgroup_verdicts, &cgid, &fresh, BPF_ANY))
			loss__count_node(0, REACH_LOSS_MAP_FULL); /* a cache: the walk runs again, nothing is hidden */
	}
	tc = bpf_task_storage_get(&task_caches, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (tc) { /* else a miss again next time, nothing more */
		tc->cgid = cgid;
		tc->gen = gen;
		tc->monitored = fresh.monitored;
	}
	return fresh.monitored;
}

/* The filter every program runs first: the agent itself is never traced;
 * otherwise "monitor all" or membership in a monitored subtree. cgid: the
 * current task's cgroup. The verdict is a function of (cgroup,
 * generation): cached in the task (a move to another cgroup or a new
 * generation misses), behind it per cgroup (a new task of a known cgroup),
 * and only then the ancestor walk (task__verdict). */
static __always_inline bool task__is_monitored_tc(__u64 pid_tgid, __u64 cgid, struct task_cache **tcp)
{
	struct task_cache *tc;
	__u32 gen = config_gen;

	*tcp = NULL;
	if ((__u32)(pid_tgid >> 32) == self_tgid)
		return false;
	if (monitor_all)
		return true;
	tc = bpf_task_storage_get(&task_caches, bpf_get_current_task_btf(), 0, 0);
	if (tc && tc->cgid == cgid && tc->gen == gen) {
		*tcp = tc;
		return tc->monitored;
	}
	return task__verdict(cgid, gen);
}

static __always_inline bool task__is_monitored(__u64 pid_tgid, __u64 cgid)
{
	struct task_cache *tc;

	return task__is_monitored_tc(pid_tgid, cgid, &tc);
}

/* Whether a cgroup other than the current task's (a task that is entering
 * it, a task an iterator visits) is inside a monitored subtree: the same
 * verdict cache, with the walk up through each cgroup's parent (the
 * current-task ancestor helper cannot serve another task). cg: a BTF
 * pointer; direct loads fault to 0. */
static __always_inline bool cgroup__is_monitored(struct cgroup *cg, __u64 *cgid)
{
	struct cgroup_verdict *cached, fresh;
	__u32 gen = config_gen;
	__u64 id = cg->kn->id;

	*cgid = id;
	if (monitor_all)
		return true;
	cached = bpf_map_lookup_elem(&cgroup_verdicts, &id);
	if (cached && cached->gen == gen)
		return cached->monitored;
	fresh.gen = gen;
	fresh.monitored = false;
	for (int i = 0; i < REACH_MAX_CGROUP_DEPTH; i++) {
		__u64 up;
		struct cgroup_subsys_state *parent;

		if (!cg)
			break;
		up = cg->kn->id;
		if (bpf_map_lookup_elem(&monitored_cgroups, &up)) {
			fresh.monitored = true;
			break;
		}
		parent = cg->self.parent;
		if (!parent)
			break;
		cg = parent->cgroup;
	}
	if (bpf_map_update_elem(&cgroup_verdicts, &id, &fresh, BPF_ANY))
		loss__count_node(0, REACH_LOSS_MAP_FULL);
	return fresh.monitored;
}

/* The event head of another task's activity (see task__fill_hdr). */
static __always_inline void task__fill_hdr_of(struct reach_event_hdr *hdr, struct task_struct *task, __u16 kind,
					      __u16 size, __u64 cgid, __u32 uid, __u64 now)
{
	hdr->kind = kind;
	hdr->size = size;
	hdr->cpu = bpf_get_smp_processor_id();
	hdr->ts_ns = now;
	hdr->cgroup_id = cgid;
	hdr->pid = task->pid;
	hdr->tgid = task->tgid;
	hdr->ppid = task->real_parent->tgid;
	hdr->uid = uid;
	__builtin_memset(hdr->comm, 0, sizeof(hdr->comm));
	bpf_probe_read_kernel_str(hdr->comm, sizeof(hdr->comm), task->comm);
}

/* The executable's file as a number (an inode pointer is not one the
 * verifier lets a program hash): inode number and filesystem. Direct BTF
 * loads (CO-RE relocated, fault-safe), not a chain of
 * bpf_probe_read_kernel() calls: this runs on every monitored open. */
static __always_inline __u64 task__exe_seed(struct task_struct *task)
{
	struct inode *exe = task->mm->exe_file->f_inode;

	return exe->i_ino ^ ((__u64)exe->i_sb->s_dev << 40);
}

static __always_inline void task__fill_hdr(struct reach_event_hdr *hdr, __u16 kind, __u16 size,
					   __u64 pid_tgid, __u64 cgid, __u64 now)
{
	struct task_struct *task = bpf_get_current_task_btf();

	hdr->kind = kind;
	hdr->size = size;
	hdr->cpu = bpf_get_smp_processor_id();
	hdr->ts_ns = now;
	hdr->cgroup_id = cgid;
	hdr->pid = (__u32)pid_tgid;
	hdr->tgid = pid_tgid >> 32;
	hdr->ppid = BPF_CORE_READ(task, real_parent, tgid);
	hdr->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(hdr->comm, sizeof(hdr->comm));
}

/* The dedup map, in two steps (files__record judges a file between them,
 * so a file the filter drops gets no entry) or one (dedup__first_seen).
 * *now: the event time, or 0 to read the clock only when needed: a repeat
 * reads it once per kernel tick (its last_ns then at most a tick old),
 * because on a VM the clock read is a third of a repeated open's BPF time;
 * a first sighting reads it and leaves it in *now for the event. */

/* A repeat of a recorded edge: the entry's count and last time move (the
 * time at most once a kernel tick), true. False when there is no entry. */
static __always_inline bool dedup__seen(struct reach_dedup_key *key, __u64 *now)
{
	struct reach_dedup_val *val = bpf_map_lookup_elem(&dedup, key);
	__u64 tick;

	if (!val)
		return false;
	__sync_fetch_and_add(&val->count, 1);
	tick = bpf_jiffies64();
	if (val->last_jiffies != tick) {
		val->last_jiffies = tick;
		val->last_ns = *now ? *now : bpf_ktime_get_boot_ns();
	}
	return true;
}

/* The entry of an edge dedup__seen did not find: true when this call
 * made it (the edge's first sighting: its event follows), false when
 * another CPU made it first (then this one is counted as a repeat). */
static __always_inline bool dedup__insert(struct reach_dedup_key *key, __u64 *now)
{
	struct reach_dedup_val *val, fresh = { .count = 1 };
	long err;

	if (!*now)
		*now = bpf_ktime_get_boot_ns();
	fresh.first_ns = fresh.last_ns = *now;
	fresh.last_jiffies = bpf_jiffies64();
	err = bpf_map_update_elem(&dedup, key, &fresh, BPF_NOEXIST);
	if (err == -17 /* EEXIST: another CPU inserted it first */) {
		val = bpf_map_lookup_elem(&dedup, key);
		if (val)
			__sync_fetch_and_add(&val->count, 1);
		return false;
	}
	if (err) /* key's cgroup: in softirq (a TCP outcome) current is someone else */
		loss__count_for(key->cgroup_id, (__u32)bpf_get_current_uid_gid(), key->kind, REACH_LOSS_MAP_FULL);
	return true;
}

/* True on an edge's first sighting (the entry made now, its event to
 * follow); a repeat is counted in the entry. now: 0, or the time already
 * read; set when the entry is made. */
static __always_inline bool dedup__first_seen(struct reach_dedup_key *key, __u64 *now)
{
	return !dedup__seen(key, now) && dedup__insert(key, now);
}

/* The event for a first-seen edge could not be queued: forget the edge so
 * its next occurrence tries again instead of being silently deduplicated. */
static __always_inline void dedup__forget(struct reach_dedup_key *key)
{
	bpf_map_delete_elem(&dedup, key);
}

/* Ring space for the event of a first-seen edge, or NULL when the ring is
 * full: then the loss is counted under the edge's kind for (cgid, uid), the
 * task whose activity it hid, and the edge is forgotten (dedup__forget).
 * size: a constant (sizeof the event), as the verifier wants it. */
static __always_inline void *dedup__reserve_for(struct reach_dedup_key *key, __u64 size, __u64 cgid, __u32 uid)
{
	void *ev = bpf_ringbuf_reserve(&events, size, 0);

	if (!ev) {
		loss__count_for(cgid, uid, key->kind, REACH_LOSS_RINGBUF_FULL);
		dedup__forget(key);
	}
	return ev;
}

/* dedup__reserve_for in the current task's context. */
static __always_inline void *dedup__reserve(struct reach_dedup_key *key, __u64 size)
{
	return dedup__reserve_for(key, size, bpf_get_current_cgroup_id(), (__u32)bpf_get_current_uid_gid());
}

/* A kernel address as a read-only BTF pointer of type T (the kfunc is
 * inlined by the verifier: no call). Loads through it are direct CO-RE loads
 * the JIT guards like bpf_probe_read_kernel() (a fault reads 0), at the cost
 * of a move instead of a helper call each: on the open path a dozen of them
 * were most of a repeated open's BPF time. */
extern void *bpf_rdonly_cast(const void *obj__ign, __u32 btf_id__k) __ksym __weak;
#define KERNEL_CAST(T, p) ((T *)bpf_rdonly_cast((const void *)(p), bpf_core_type_id_kernel(T)))

/* The struct file behind a descriptor of the task, or NULL: a BTF pointer
 * (see KERNEL_CAST), its fields read with direct loads. */
static __always_inline struct file *task__file_of_fd(struct task_struct *task, int fd)
{
	struct file **fds;
	struct file *file = NULL;

	if (fd < 0 || (unsigned int)fd >= task->files->fdt->max_fds)
		return NULL;
	fds = task->files->fdt->fd; /* direct BTF loads; the slot itself needs a helper (variable offset) */
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	return KERNEL_CAST(struct file, file);
}

/* Keyed hash of a dedup object (include/abi/siphash.h): the per-start
 * secret key, with seed separating the kinds of objects (and joining the
 * executable's identity where the key is per binary). len <= bound; bytes
 * past len in the last word are masked off. */
static __always_inline __u64 hash__words(const char *buf, __u32 len, __u32 bound, __u64 seed)
{
	return reach_siphash13(buf, len, bound, hash_key[0], hash_key[1] ^ seed);
}

#endif /* REACH_TASK_BPF_H */
