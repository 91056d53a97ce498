// SPDX-License-Identifier: Apache-2.0
/*
 * Tool executions and the process tree: sched_process_exec/fork/exit.
 * Every exec of a monitored process is an event (the agent needs each one
 * to keep lineage; an exec costs far more than an event), and the tool edge
 * (cgroup, executable) is also counted in the dedup map so that user space
 * reads tool counts the same way as every other edge.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "task.bpf.h"
#include "files.bpf.h"

/* Which file the new image is (device, inode, modification time): the
 * identity of a host workload's software version. For a "#!" script the
 * kernel has swapped in the interpreter's file by now (exec_binprm) while
 * filename is still the script's: left at 0 then, and the agent looks at
 * the script itself. */
static __always_inline void exec__file_id(struct linux_binprm *bprm, struct reach_exec_event *ev)
{
	struct inode *inode = BPF_CORE_READ(bprm, file, f_inode);

	ev->exe_ino = 0;
	ev->exe_dev = 0;
	ev->exe_mtime_sec = 0;
	ev->exe_mtime_nsec = 0;
	if (BPF_CORE_READ(bprm, interp) != BPF_CORE_READ(bprm, filename))
		return; /* an interpreter runs filename */

	ev->exe_ino = BPF_CORE_READ(inode, i_ino);
	ev->exe_dev = BPF_CORE_READ(inode, i_sb, s_dev);
	inode__mtime(inode, &ev->exe_mtime_sec, &ev->exe_mtime_nsec);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(reach_sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct reach_exec_event *ev;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 cgid = bpf_get_current_cgroup_id();
	__u64 now, arg_start, arg_end, args_len;
	const char *filename;
	long len;

	if (!task__is_monitored(pid_tgid, cgid))
		return 0;

	now = bpf_ktime_get_boot_ns();
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		loss__count(REACH_EV_EXEC, REACH_LOSS_RINGBUF_FULL);
		return 0;
	}
	task__fill_hdr(&ev->hdr, REACH_EV_EXEC, sizeof(*ev), pid_tgid, cgid, now);
	ev->old_pid = old_pid;
	ev->flags = 0;
	ev->pad = 0;
	exec__file_id(bprm, ev);

	filename = BPF_CORE_READ(bprm, filename);
	len = bpf_probe_read_kernel_str(ev->filename, sizeof(ev->filename), filename);
	if (len < 0) {
		ev->filename[0] = '\0';
		len = 1;
		loss__count(REACH_EV_EXEC, REACH_LOSS_READ_FAILED);
	} else if (len >= REACH_PATH_LEN) {
		ev->flags |= REACH_EXEC_F_FILENAME_TRUNC;
		loss__count(REACH_EV_EXEC, REACH_LOSS_TRUNCATED);
	}

	/* argv lives in the new image's stack: [arg_start, arg_end), NUL separated */
	arg_start = BPF_CORE_READ(p, mm, arg_start);
	arg_end = BPF_CORE_READ(p, mm, arg_end);
	args_len = arg_end > arg_start ? arg_end - arg_start : 0;
	if (args_len > REACH_ARGS_LEN) {
		args_len = REACH_ARGS_LEN;
		ev->flags |= REACH_EXEC_F_ARGS_TRUNC;
		loss__count(REACH_EV_EXEC, REACH_LOSS_TRUNCATED);
	}
	if (args_len && bpf_probe_read_user(ev->args, args_len & (REACH_ARGS_LEN * 2 - 1), (void *)arg_start)) {
		args_len = 0;
		loss__count(REACH_EV_EXEC, REACH_LOSS_READ_FAILED);
	}
	ev->args_len = args_len;
	ev->argc = 0; /* counted in user space from the NULs */

	ev->key.cgroup_id = cgid;
	ev->key.kind = REACH_EV_EXEC;
	ev->key.pad = 0;
	ev->key.hash = hash__words(ev->filename, len > 0 ? len - 1 : 0, REACH_PATH_LEN, 0);
	/* The event goes out either way; the map keeps the tool edge's count. */
	dedup__first_seen(&ev->key, &now);
	events__submit(ev);
	/* after the exec event: user space knows the program by then. The
	 * files it holds (close-on-exec ones are already closed) were opened
	 * by whoever ran it, maybe an unmonitored parent (`app < secret.key`,
	 * a runner passing a descriptor, a shell keeping one open). */
	task__walk_files(bpf_get_current_task_btf(), pid_tgid, cgid, REACH_OPEN_F_INHERITED);
	return 0;
}

/* The parent's fork of a child that lives in cgid (the parent's own, or
 * the one clone3 put the child in): user space gives the child its
 * parent's executable until it execs. */
static __always_inline void process__fork_event(__u64 pid_tgid, __u64 cgid, __u32 child_pid, __u32 child_tgid)
{
	struct reach_fork_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev) {
		/* the identity of the cgroup the child lives in */
		loss__count_for(cgid, (__u32)bpf_get_current_uid_gid(), REACH_EV_FORK, REACH_LOSS_RINGBUF_FULL);
		return;
	}
	task__fill_hdr(&ev->hdr, REACH_EV_FORK, sizeof(*ev), pid_tgid, cgid, bpf_ktime_get_boot_ns());
	ev->child_pid = child_pid;
	ev->child_tgid = child_tgid;
	events__submit_lazy(ev); /* bookkeeping: read with the next record (maps.bpf.h) */
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(reach_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 cgid = bpf_get_current_cgroup_id();
	__u32 child_pid = BPF_CORE_READ(child, pid);
	__u32 child_tgid = BPF_CORE_READ(child, tgid);

	__u64 child_cgid;

	if (child_pid != child_tgid) /* a new thread, not a new process */
		return 0;
	/* clone3(CLONE_INTO_CGROUP): the child is born in another cgroup, with
	 * a copy of its parent's descriptors and no cgroup_attach_task; when
	 * that cgroup is monitored, what it holds was opened outside it. Until
	 * it execs, the child runs its parent's image: the fork event (in the
	 * child's cgroup, ahead of the walk in the ring) makes the process tree
	 * name that image for what it holds, never the program it may exec a
	 * moment later (which user space would otherwise read from /proc after
	 * the exec). Its close-on-exec descriptors are recorded too: that image
	 * runs inside the cgroup holding them until execve closes them (the
	 * runner's setup code: it can read them, or dup2 them where they
	 * survive); what the new program holds is walked at its exec. */
	if (child->cgroups->dfl_cgrp->kn->id != cgid && child_tgid != self_tgid &&
	    cgroup__is_monitored(child->cgroups->dfl_cgrp, &child_cgid)) {
		process__fork_event(pid_tgid, child_cgid, child_pid, child_tgid);
		task__walk_files(child, ((__u64)child_tgid << 32) | child_pid, child_cgid, REACH_OPEN_F_ENTERED);
		return 0;
	}
	if (!task__is_monitored(pid_tgid, cgid))
		return 0;
	process__fork_event(pid_tgid, cgid, child_pid, child_tgid);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(reach_sched_process_exit, struct task_struct *task)
{
	struct reach_exit_event *ev;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 cgid = bpf_get_current_cgroup_id();
	struct task_cache *tc = bpf_task_storage_get(&task_caches, task, 0, 0);

	/* every thread: the repeats its open cache holds go to their entry */
	if (tc && tc->pending && tc->key.cgroup_id)
		files__flush(tc, 0); /* the counts only: the last open was earlier */
	if ((__u32)pid_tgid != (__u32)(pid_tgid >> 32)) /* threads: only the leader */
		return 0;
	if (!task__is_monitored(pid_tgid, cgid))
		return 0;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		loss__count(REACH_EV_EXIT, REACH_LOSS_RINGBUF_FULL);
		return 0;
	}
	task__fill_hdr(&ev->hdr, REACH_EV_EXIT, sizeof(*ev), pid_tgid, cgid, bpf_ktime_get_boot_ns());
	ev->exit_code = BPF_CORE_READ(task, exit_code);
	ev->pad = 0;
	events__submit_lazy(ev);
	return 0;
}
