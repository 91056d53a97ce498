// SPDX-License-Identifier: Apache-2.0
/*
 * Syscall exits, in two attachment styles over one dispatch body; the agent
 * attaches one style (user/sensor/syscall_hooks.c):
 *
 *   per-syscall  one program on the classic tracepoint of each syscall
 *                reach reads (tracepoint/syscalls/sys_exit_openat, ...). The kernel
 *                runs a program only for its syscall: the other syscalls of
 *                every process on the node pay a bit test, not a BPF run.
 *                Needs tracefs (the tracepoint ids) and CONFIG_FTRACE_SYSCALLS.
 *                The arguments come from the task's saved user registers
 *                (bpf_task_pt_regs): the syscall exit event carries only the
 *                number and the result.
 *   dispatcher   one tp_btf/sys_exit program and a syscall-number compare
 *                chain. Runs on every syscall of every process; needs no
 *                tracefs. The fallback.
 *
 * bench/run.py measures both on the same loops (section 2, "Hook floor").
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "files_syscalls.bpf.h"
#include "net_syscalls.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* link, linkat, rename, renameat, renameat2 (files__on_link_enter/_exit).
 * nr >= 0: arm64 has no link(2) or rename(2) (-1, a skipped syscall's
 * number). */
static __always_inline bool nr_is_link(long nr)
{
	return nr >= 0 && (nr == NR_linkat || nr == NR_renameat2 || nr == NR_renameat || nr == NR_link ||
			   nr == NR_rename);
}

/* Both styles' body: the syscall's number picks its handler. */
static __always_inline int sys_exit__dispatch(struct pt_regs *regs, long nr, long ret)
{
	if (ret < 0) {
		/* a non-blocking TCP connect still names its destination */
		if (nr == NR_connect && ret == -EINPROGRESS)
			return net__on_send_exit(regs, nr, ret);
		/* a link judged at its enter: its outcome, failed */
		if (nr_is_link(nr))
			return files__on_link_exit(nr, ret);
		return 0;
	}
	/* first: an open is the most frequent exit reach reads (the hot path) */
	if (nr == NR_openat || nr == NR_open || nr == NR_openat2 || nr == NR_open_by_handle_at)
		return files__on_open_exit(regs, nr, ret);
	if (nr == NR_recvmsg)
		files__on_recvmsg_exit(regs); /* descriptors passed (SCM_RIGHTS), then maybe DNS */
	if (nr == NR_read && dns_read_at_sock)
		return 0; /* a socket's read: at sock_recv_length (below) */
	if (nr == NR_read || nr == NR_recvfrom || nr == NR_recvmsg)
		return ret > 0 ? net__on_recv_exit(regs, nr, ret) : 0;
	if (nr == NR_write || nr == NR_writev)
		return ret > 0 ? net__on_write_exit(regs, nr, ret) : 0;
	if (nr == NR_pidfd_getfd)
		return files__on_pidfd_getfd_exit(ret);
	if (nr == NR_recvmmsg)
		return ret > 0 ? files__on_recvmmsg_exit(regs, ret) : 0; /* descriptors passed (SCM_RIGHTS) */
	if (nr == NR_connect || nr == NR_sendto || nr == NR_sendmsg || nr == NR_sendmmsg)
		return net__on_send_exit(regs, nr, ret);
	if (nr_is_link(nr))
		return files__on_link_exit(nr, ret);
	return 0;
}

#if defined(__TARGET_ARCH_x86)
#define TS_COMPAT 0x0002 /* arch/x86/include/asm/thread_info.h: a 32-bit syscall is running */
#define X32_SYSCALL_BIT 0x40000000
#define ENOSYS 38

/* A 32-bit syscall of a monitored task: its number is another table's
 * (i386: open is 5, read 3) and its arguments other registers, so nothing
 * of it is decoded; the identity gets the blind road "compat-syscall", one
 * event per executable. Only the dispatcher gets here: syscall tracepoints
 * do not fire for 32-bit syscalls, which is why the agent takes the
 * dispatcher where they can be issued (user/sensor/syscall_hooks.c). */
static __noinline int compat__on_exit(__u32 detail)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), cgid = bpf_get_current_cgroup_id();

	if (task__is_monitored(pid_tgid, cgid))
		road__record(REACH_ROAD_COMPAT, 0, detail, pid_tgid, cgid);
	return 0;
}
#endif

SEC("tp_btf/sys_exit")
int BPF_PROG(reach_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = SYSCALL_NR(regs);
#if defined(__TARGET_ARCH_x86)
	struct task_struct *task = bpf_get_current_task_btf();

	/* set for an ia32 syscall until the return to user mode (after this
	 * tracepoint); an x32 number carries its bit, and ends here even where
	 * x32 is not built in (refused with ENOSYS) */
	if (task->thread_info.status & TS_COMPAT)
		return compat__on_exit(REACH_ROAD_D_IA32);
	if (nr > 0 && (nr & X32_SYSCALL_BIT)) /* -1: a syscall a tracer or seccomp skipped */
		/* ENOSYS: a kernel without x32 refused it, nothing was done */
		return ret == -ENOSYS ? 0 : compat__on_exit(REACH_ROAD_D_X32);
#endif
	return sys_exit__dispatch(regs, nr, ret);
}

/*
 * read(2) of a socket: a DNS answer read from a connected UDP socket (Go's
 * resolver reads its answers so). Every read of every file and pipe on the
 * node ends at sys_exit, only a socket's goes through sock_recvmsg: hooked
 * here, read(2) costs the rest of the node no program run in the
 * per-syscall style (no sys_exit_read tracepoint: the most frequent
 * syscall) and the dispatcher no lookup. The answer is in the user's
 * buffer by now; recvfrom and recvmsg stay at their exits (the sender's
 * address is copied out after this point). The agent loads this when the
 * kernel has the tracepoint (Linux 6.4+) and sets dns_read_at_sock.
 */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(reach_sock_recv_length, struct sock *sk, int ret, int flags)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs;

	if (ret <= 0 || !bpf_task_storage_get(&dns_threads, task, 0, 0))
		return 0; /* this thread never talked to a DNS server */
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (SYSCALL_NR(regs) != NR_read)
		return 0;
	return net__on_recv_exit(regs, NR_read, ret);
}

/*
 * The per-syscall style: this one program, attached by the agent to the
 * classic tracepoint of each syscall reach reads (syscall_hooks.c's list:
 * syscalls/sys_exit_openat, ...). One program, not one per syscall: each
 * program is verified on its own, and fourteen copies of the handlers took
 * the agent's BPF load from ~0.8 s to ~1.8 s. The event record carries the
 * syscall number; the compare chain it then runs is a few ns against the
 * tracepoint's perf record. The arguments come from the task's saved user
 * registers: the record has only the number and the result.
 */
SEC("tracepoint")
int reach_exit_syscall(struct syscall_trace_exit *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return sys_exit__dispatch(regs, ctx->nr, ctx->ret);
}

/*
 * The enters of link, linkat, rename, renameat and renameat2 (files__on_link_enter:
 * a new name is judged before the file has it). Their own tracepoints
 * (syscalls/sys_enter_linkat, ...) in either style: another syscall runs no
 * program for them. Where the tracepoints cannot be opened (no tracefs,
 * perf_event_open refused: the dispatcher's fallbacks), reach_sys_enter
 * takes every syscall's enter and returns at once for all but these.
 */
SEC("tracepoint")
int reach_enter_link(struct syscall_trace_enter *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return files__on_link_enter(regs, ctx->nr);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(reach_sys_enter, struct pt_regs *regs, long nr)
{
	if (!nr_is_link(nr))
		return 0;
#if defined(__TARGET_ARCH_x86)
	/* a 32-bit syscall's number is another table's (the exit marks it) */
	if (bpf_get_current_task_btf()->thread_info.status & TS_COMPAT)
		return 0;
#endif
	return files__on_link_enter(regs, nr);
}
