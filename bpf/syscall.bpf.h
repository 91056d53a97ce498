/* SPDX-License-Identifier: Apache-2.0 */
/* Syscall numbers and argument registers at sys_exit, per architecture.
 * The argument registers survive the syscall (x86-64 preserves rdi, rsi,
 * rdx, r10, r8; arm64 saves the first argument in orig_x0), so sys_exit
 * alone sees both the arguments and the result: no enter->exit stash map.
 * regs is a BTF pointer (tp_btf): fields are read with direct CO-RE loads,
 * not bpf_probe_read_kernel() calls, because the syscall number is read on
 * every syscall of every process. */
#ifndef REACH_SYSCALL_BPF_H
#define REACH_SYSCALL_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>

#if defined(__TARGET_ARCH_x86)
#define NR_read     0
#define NR_write    1
#define NR_writev   20
#define NR_open     2
#define NR_connect  42
#define NR_sendto   44
#define NR_recvfrom 45
#define NR_sendmsg  46
#define NR_recvmsg  47
#define NR_openat   257
#define NR_sendmmsg 307
#define NR_openat2  437
#define NR_open_by_handle_at 304
#define NR_pidfd_getfd 438
#define NR_recvmmsg 299
#define NR_link     86
#define NR_rename   82
#define NR_linkat   265
#define NR_renameat 264
#define NR_renameat2 316
#define SYSCALL_NR(regs)   ((regs)->orig_ax)
#define SYSCALL_ARG1(regs) ((regs)->di)
#define SYSCALL_ARG2(regs) ((regs)->si)
#define SYSCALL_ARG3(regs) ((regs)->dx)
#define SYSCALL_ARG4(regs) ((regs)->r10)
#define SYSCALL_ARG5(regs) ((regs)->r8)
#elif defined(__TARGET_ARCH_arm64)
#define NR_read     63
#define NR_write    64
#define NR_writev   66
#define NR_open     -1  /* arm64 has no open(2) */
#define NR_connect  203
#define NR_sendto   206
#define NR_recvfrom 207
#define NR_sendmsg  211
#define NR_recvmsg  212
#define NR_openat   56
#define NR_sendmmsg 269
#define NR_openat2  437
#define NR_open_by_handle_at 265
#define NR_pidfd_getfd 438
#define NR_recvmmsg 243
#define NR_link     -1  /* arm64: linkat and renameat(2) only */
#define NR_rename   -1
#define NR_linkat   37
#define NR_renameat 38
#define NR_renameat2 276
#define SYSCALL_NR(regs)   ((regs)->syscallno)
#define SYSCALL_ARG1(regs) ((regs)->orig_x0)
#define SYSCALL_ARG2(regs) ((regs)->regs[1])
#define SYSCALL_ARG3(regs) ((regs)->regs[2])
#define SYSCALL_ARG4(regs) ((regs)->regs[3])
#define SYSCALL_ARG5(regs) ((regs)->regs[4])
#else
#error "reach: unsupported architecture"
#endif

#endif /* REACH_SYSCALL_BPF_H */
