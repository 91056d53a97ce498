// SPDX-License-Identifier: Apache-2.0
/*
 * Runs a command with one syscall refused (EPERM) by a seccomp filter, every
 * other syscall allowed: an agent whose start meets the refusal a
 * restrictive container profile would make.
 *   bpf-iter-create   bpf(BPF_ITER_CREATE): the walk of held files fails
 *                     (tests/e2e/test_roads2.py)
 *   perf-event-open   perf_event_open: no per-syscall tracepoint (nor
 *                     uprobe) attaches (tests/e2e/test_syscall_hooks.py)
 *   execveat          execveat: the agent's probe of 32-bit syscalls cannot
 *                     run its 32-bit executable (test_syscall_hooks.py)
 * usage: deny_syscall WHAT COMMAND [ARG...]
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "deny_syscall: unknown architecture"
#endif

int main(int argc, char **argv)
{
	/* nr == NR && (no argument check || args[0] == ARG0) -> EPERM */
	unsigned int nr, arg0 = 0;
	int check_arg0;

	if (argc < 3) {
		fprintf(stderr, "usage: deny_syscall bpf-iter-create|perf-event-open|execveat COMMAND [ARG...]\n");
		return 2;
	}
	if (!strcmp(argv[1], "bpf-iter-create")) {
		nr = __NR_bpf;
		arg0 = BPF_ITER_CREATE;
		check_arg0 = 1;
	} else if (!strcmp(argv[1], "perf-event-open")) {
		nr = __NR_perf_event_open;
		check_arg0 = 0;
	} else if (!strcmp(argv[1], "execveat")) {
		nr = __NR_execveat;
		check_arg0 = 0;
	} else {
		fprintf(stderr, "deny_syscall: unknown %s\n", argv[1]);
		return 2;
	}

	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		/* without an argument check both branches refuse */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arg0, 0, check_arg0 ? 1 : 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		fprintf(stderr, "deny_syscall: installing the filter: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "deny_syscall: exec %s: %s\n", argv[2], strerror(errno));
	return 127;
}
