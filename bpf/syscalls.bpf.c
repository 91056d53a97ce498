// SPDX-License-Identifier: Apache-2.0
/*
 * The one sys_exit program: a syscall-number dispatch to the file and
 * network handlers. One program, not one per family, because every program
 * attached to sys_exit runs on every syscall of every process: the cost to
 * unmonitored processes is this compare chain. tp_btf needs no tracefs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "files.bpf.h"
#include "net_syscalls.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_exit")
int BPF_PROG(reach_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = SYSCALL_NR(regs);

	if (ret < 0) {
		/* a non-blocking TCP connect still names its destination */
		if (nr == NR_connect && ret == -EINPROGRESS)
			return net__on_send_exit(regs, nr, ret);
		return 0;
	}
	if (nr == NR_read || nr == NR_recvfrom || nr == NR_recvmsg)
		return ret > 0 ? net__on_recv_exit(regs, nr, ret) : 0;
	if (nr == NR_write || nr == NR_writev)
		return ret > 0 ? net__on_write_exit(regs, nr, ret) : 0;
	if (nr == NR_openat || nr == NR_open || nr == NR_openat2)
		return files__on_open_exit(regs, nr, ret);
	if (nr == NR_connect || nr == NR_sendto || nr == NR_sendmsg || nr == NR_sendmmsg)
		return net__on_send_exit(regs, nr, ret);
	return 0;
}
