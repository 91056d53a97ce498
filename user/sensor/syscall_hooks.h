/* How the syscall-exit programs are attached (bpf/syscalls.bpf.c): one
 * classic tracepoint per syscall reach reads (the default where the kernel
 * offers them), or the one tp_btf/sys_exit dispatcher (the fallback).
 * Measured (bench/results.md, "Hook style"; issue 16's note): since a
 * socket's read(2) moved to sock_recv_length (Linux 6.4+) the syscalls
 * reach hooks are opens, writes, sends, receives and connects; on them the
 * two styles cost the same within this VM's noise (an unmonitored write to
 * /dev/null: +250 ns either way, pinned, 8 rounds), while on every other
 * syscall of the node per-syscall tracepoints run no program (a bit test)
 * and the dispatcher runs one (+100 ns a getppid here); on a monitored
 * open+read+close the dispatcher runs at all three exits (its BPF time
 * 1.7x per-syscall's, above a bpftrace openat one-liner's). The
 * dispatcher needs no tracefs and no perf_event_open of a tracepoint: auto
 * falls back to it when either is missing, and says why. It also takes the
 * dispatcher where 32-bit syscalls can be issued (int $0x80, x32): syscall
 * tracepoints do not fire for them, the dispatcher marks them as a blind
 * road of the identity that issues them. In either style the link and
 * rename calls are judged at their enter too (a new name before the file
 * has it): by their own sys_enter_* tracepoints (a bit test for every other
 * syscall), or where those cannot be opened by tp_btf/sys_enter (a program
 * run at every syscall's enter: the dispatcher's fallbacks only). */
#ifndef REACH_SYSCALL_HOOKS_H
#define REACH_SYSCALL_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

struct bpf_link;
struct bpf_object;

enum syscall_hook_style {
	SYSCALL_HOOKS_AUTO = 0,       /* the default: per-syscall where offered, else the dispatcher */
	SYSCALL_HOOKS_PER_SYSCALL,    /* per-syscall or fail (needs tracefs) */
	SYSCALL_HOOKS_DISPATCHER,     /* the tp_btf dispatcher */
};

/* "auto", "per-syscall", "dispatcher" -> style; -1 for anything else. */
int syscall_hook_style_from_name(const char *name);
const char *syscall_hook_style_name(enum syscall_hook_style style);

struct syscall_hooks;

/* Before the object is loaded: decides which programs load and takes every
 * syscall-exit program out of the skeleton's auto-attach. Per-syscall
 * tracepoints need tracefs mounted (their ids), the syscall events
 * (CONFIG_FTRACE_SYSCALLS), bpf_task_pt_regs and a perf_event_open of a
 * tracepoint that the capabilities and seccomp allow, and a node where no
 * 32-bit syscall can be issued (syscall_hooks_compat): AUTO without one of
 * them takes the dispatcher and keeps the reason
 * (syscall_hooks_fallback_reason); PER_SYSCALL without one is an error, one
 * line in err naming what is missing. 0 or -errno. */
int syscall_hooks_prepare(struct syscall_hooks **out, struct bpf_object *obj, enum syscall_hook_style style,
			  char *err, size_t err_size);

/* Before load: a syscall whose exit another hook serves (read(2) of a
 * socket at sock_recv_length): its per-syscall program neither loads nor
 * attaches (the dispatcher is told by the object's read-only data). */
void syscall_hooks_unneeded(struct syscall_hooks *h, const char *syscall);
/* After load: attaches the chosen style. 0 or -errno with one line in err. */
int syscall_hooks_attach(struct syscall_hooks *h, char *err, size_t err_size);

void syscall_hooks_free(struct syscall_hooks *h); /* detaches; accepts NULL */

/* At most this many links (20 exits, 5 enters, the raw enter, the dispatcher). */
#define SYSCALL_HOOKS_MAX_LINKS 32
/* Hands its attached links to the caller (to detach them together: see
 * sensor_stop), at most max; it holds none of them after. The count. */
size_t syscall_hooks_take_links(struct syscall_hooks *h, struct bpf_link **out, size_t max);

/* What is attached: SYSCALL_HOOKS_PER_SYSCALL or SYSCALL_HOOKS_DISPATCHER
 * (after a successful attach). */
enum syscall_hook_style syscall_hooks_active(const struct syscall_hooks *h);
/* Why AUTO took the dispatcher (one line), or NULL: per-syscall was asked
 * for or chosen, or the dispatcher was asked for by name. */
const char *syscall_hooks_fallback_reason(const struct syscall_hooks *h);
/* One line for status: the attach points. */
const char *syscall_hooks_describe(const struct syscall_hooks *h);
/* 32-bit syscalls on this node, probed at prepare: "off", or what may be
 * issued ("ia32 (...)", "x32 (...)", "...: the probe could not tell"). */
const char *syscall_hooks_compat(const struct syscall_hooks *h);

#endif
