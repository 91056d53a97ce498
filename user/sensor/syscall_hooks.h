/* How the syscall-exit programs are attached (bpf/syscalls.bpf.c): the one
 * tp_btf/sys_exit dispatcher (the default), or one classic tracepoint per
 * syscall reach reads. Measured (bench/results.md, "Hook style"): a classic
 * syscall tracepoint costs more per hit (~77 ns on this VM: the perf trace
 * record before the program) than the dispatcher (~35 ns), which in turn
 * runs on every syscall (~13-16 ns on those reach does not read, against a
 * few ns of slow path for per-syscall tracepoints). Per-syscall wins only
 * where fewer than about a fifth of a node's syscalls are writes, sends,
 * receives, opens or connects (reads were among them until a socket's
 * read(2) moved to sock_recv_length, Linux 6.4+: the balance is to be
 * measured again); the dispatcher also needs no tracefs and no
 * perf_event_open. */
#ifndef REACH_SYSCALL_HOOKS_H
#define REACH_SYSCALL_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

struct bpf_object;

enum syscall_hook_style {
	SYSCALL_HOOKS_AUTO = 0,       /* the default: the dispatcher */
	SYSCALL_HOOKS_PER_SYSCALL,    /* per-syscall or fail (needs tracefs) */
	SYSCALL_HOOKS_DISPATCHER,     /* the tp_btf dispatcher */
};

/* "auto", "per-syscall", "dispatcher" -> style; -1 for anything else. */
int syscall_hook_style_from_name(const char *name);
const char *syscall_hook_style_name(enum syscall_hook_style style);

struct syscall_hooks;

/* Before the object is loaded: decides which programs load and takes every
 * syscall-exit program out of the skeleton's auto-attach. PER_SYSCALL on a
 * kernel without the per-syscall tracepoints (no tracefs mounted, no
 * syscall events, no bpf_task_pt_regs) is an error, one line in err naming
 * what is missing. 0 or -errno. */
int syscall_hooks_prepare(struct syscall_hooks **out, struct bpf_object *obj, enum syscall_hook_style style,
			  char *err, size_t err_size);

/* Before load: a syscall whose exit another hook serves (read(2) of a
 * socket at sock_recv_length): its per-syscall program neither loads nor
 * attaches (the dispatcher is told by the object's read-only data). */
void syscall_hooks_unneeded(struct syscall_hooks *h, const char *syscall);
/* After load: attaches the chosen style. 0 or -errno with one line in err. */
int syscall_hooks_attach(struct syscall_hooks *h, char *err, size_t err_size);

void syscall_hooks_free(struct syscall_hooks *h); /* detaches; accepts NULL */

/* What is attached: SYSCALL_HOOKS_PER_SYSCALL or SYSCALL_HOOKS_DISPATCHER
 * (after a successful attach). */
enum syscall_hook_style syscall_hooks_active(const struct syscall_hooks *h);
/* One line for status: the attach points. */
const char *syscall_hooks_describe(const struct syscall_hooks *h);

#endif
