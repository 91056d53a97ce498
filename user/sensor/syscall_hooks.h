/* How the syscall-exit programs are attached (bpf/syscalls.bpf.c): one
 * classic tracepoint per syscall reach reads, or the one tp_btf/sys_exit
 * dispatcher. Per-syscall programs run only on their syscalls, so the rest
 * of the node pays a bit test per syscall instead of a BPF program run
 * (bench/results.md, "Hook floor"); the dispatcher needs no tracefs. */
#ifndef REACH_SYSCALL_HOOKS_H
#define REACH_SYSCALL_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

struct bpf_object;

enum syscall_hook_style {
	SYSCALL_HOOKS_AUTO = 0,       /* per-syscall when the kernel offers it, else the dispatcher */
	SYSCALL_HOOKS_PER_SYSCALL,    /* per-syscall or fail */
	SYSCALL_HOOKS_DISPATCHER,     /* the tp_btf dispatcher only */
};

/* "auto", "per-syscall", "dispatcher" -> style; -1 for anything else. */
int syscall_hook_style_from_name(const char *name);
const char *syscall_hook_style_name(enum syscall_hook_style style);

struct syscall_hooks;

/* Before the object is loaded: decides which programs load and takes every
 * syscall-exit program out of the skeleton's auto-attach. With AUTO, a
 * kernel without the per-syscall tracepoints (no tracefs mounted, or no
 * syscall events) loads only the dispatcher and remembers why. With
 * PER_SYSCALL that is an error (one line in err naming what is missing).
 * 0 or -errno. */
int syscall_hooks_prepare(struct syscall_hooks **out, struct bpf_object *obj, enum syscall_hook_style style,
			  char *err, size_t err_size);

/* After load: attaches the chosen style. With AUTO, a refused per-syscall
 * attach (a perf_event_open the capability set or seccomp forbids) detaches
 * what was attached and attaches the dispatcher instead, remembering why.
 * 0 or -errno with one line in err. */
int syscall_hooks_attach(struct syscall_hooks *h, char *err, size_t err_size);

void syscall_hooks_free(struct syscall_hooks *h); /* detaches; accepts NULL */

/* What is attached: SYSCALL_HOOKS_PER_SYSCALL or SYSCALL_HOOKS_DISPATCHER
 * (after a successful attach). */
enum syscall_hook_style syscall_hooks_active(const struct syscall_hooks *h);
/* Why AUTO fell back to the dispatcher, or NULL when it did not. */
const char *syscall_hooks_fallback_reason(const struct syscall_hooks *h);
/* One line for status: the attach points. */
const char *syscall_hooks_describe(const struct syscall_hooks *h);

#endif
