// SPDX-License-Identifier: Apache-2.0
/*
 * Files a process already holds when reach starts looking at it, opened
 * where no open of its was traced:
 *   cgroup_attach_task  a process moved into a monitored cgroup (a write to
 *                       cgroup.procs, by itself or by another): the
 *                       descriptors it brought in (REACH_OPEN_F_ENTERED);
 *                       clone3(CLONE_INTO_CGROUP) has no attach and is
 *                       seen at sched_process_fork (process.bpf.c)
 *   iter/task_file      every monitored task's descriptors, walked by the
 *                       agent when it starts and when a cgroup becomes
 *                       monitored (REACH_OPEN_F_AT_START): a secret opened
 *                       before reach ran is still reachable through them
 * Each file is recorded like an open of the holder's (files__record), under
 * the holder's cgroup, executable and root, never the agent's or the mover's.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "task.bpf.h"
#include "files.bpf.h"

#define PF_KTHREAD 0x00200000

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(reach_cgroup_attach_task, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	__u64 cgid;

	if (task->tgid == self_tgid || (task->flags & PF_KTHREAD))
		return 0;
	/* a move in a cgroup v1 hierarchy leaves the v2 cgroup (what reach
	 * keys on) where it was: not an entry */
	if (task->cgroups->dfl_cgrp->kn->id != dst->kn->id)
		return 0;
	if (!cgroup__is_monitored(dst, &cgid))
		return 0;
	/* threads share the leader's table: one walk covers the group */
	task__walk_files(task, ((__u64)task->tgid << 32) | task->pid, cgid, REACH_OPEN_F_ENTERED);
	return 0;
}

SEC("iter/task_file")
int reach_iter_task_file(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct file_origin o = { .kind = REACH_EV_FILE_VIA, .dirfd = -1, .flags = REACH_OPEN_F_AT_START };
	__u64 cgid;

	if (!task || !file)
		return 0;
	if (task->tgid == self_tgid || (task->flags & PF_KTHREAD))
		return 0;
	if (!cgroup__is_monitored(task->cgroups->dfl_cgrp, &cgid))
		return 0;
	o.fd = ctx->fd;
	files__record(file, &o, ((__u64)task->tgid << 32) | task->pid, cgid, task);
	return 0;
}
