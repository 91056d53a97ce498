#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <zlib.h>
#include <bpf/libbpf.h>
#include "sensor/syscall_hooks.h"

#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif

/* The syscalls whose exits reach reads (bpf/syscalls.bpf.c's
 * sys_exit__dispatch): the per-syscall style attaches its one program to
 * each one's tracepoint. open(2), link(2) and rename(2) exist on x86-64
 * only. */
static const char *const per_syscall[] = {
	"openat", "openat2", "open_by_handle_at", "open", "read", "recvfrom", "recvmsg",
	"write", "writev", "connect", "sendto", "sendmsg", "sendmmsg", "pidfd_getfd", "recvmmsg",
	"linkat", "renameat2", "renameat", "link", "rename",
};
/* Whether this architecture has the syscall: x86-64's older calls (open,
 * link, rename), arm64 has only the *at forms. */
static inline bool arch_has(const char *name)
{
#if defined(__x86_64__)
	(void)name;
	return true;
#else
	return strcmp(name, "open") && strcmp(name, "link") && strcmp(name, "rename");
#endif
}
#define N_PER_SYSCALL (sizeof(per_syscall) / sizeof(per_syscall[0]))
#define DISPATCHER_PROG "reach_sys_exit"
#define PER_SYSCALL_PROG "reach_exit_syscall"

/* The syscalls judged at their enter too (files__on_link_enter: a new name is
 * judged before the file has it), by their own enter tracepoints in either
 * style; by the tp_btf/sys_enter fallback (a program run at every syscall's
 * enter) only where those cannot be opened. */
static const char *const link_calls[] = { "linkat", "renameat2", "renameat", "link", "rename" };
#define N_LINK_CALLS (sizeof(link_calls) / sizeof(link_calls[0]))
#define ENTER_TP_PROG "reach_enter_link"
#define ENTER_RAW_PROG "reach_sys_enter"
_Static_assert(N_PER_SYSCALL + N_LINK_CALLS + 2 <= SYSCALL_HOOKS_MAX_LINKS, "SYSCALL_HOOKS_MAX_LINKS");

struct syscall_hooks {
	enum syscall_hook_style active;
	bool wanted[N_PER_SYSCALL]; /* false: not on this architecture, or served elsewhere */
	struct bpf_program *per_syscall;
	struct bpf_program *dispatcher;
	struct bpf_link *links[N_PER_SYSCALL];
	struct bpf_link *dispatcher_link;
	struct bpf_program *enter_tp, *enter_raw; /* one loads (enter_per) */
	bool enter_per;
	struct bpf_link *enter_links[N_LINK_CALLS];
	struct bpf_link *enter_raw_link;
	char describe[640];
	char fallback[600]; /* why AUTO took the dispatcher; "" otherwise */
	char compat[400];   /* 32-bit syscalls on this node (compat_probe) */
};

int syscall_hook_style_from_name(const char *name)
{
	if (!strcmp(name, "auto"))
		return SYSCALL_HOOKS_AUTO;
	if (!strcmp(name, "per-syscall"))
		return SYSCALL_HOOKS_PER_SYSCALL;
	if (!strcmp(name, "dispatcher"))
		return SYSCALL_HOOKS_DISPATCHER;
	return -1;
}

const char *syscall_hook_style_name(enum syscall_hook_style style)
{
	switch (style) {
	case SYSCALL_HOOKS_PER_SYSCALL:
		return "per-syscall";
	case SYSCALL_HOOKS_DISPATCHER:
		return "dispatcher";
	default:
		return "auto";
	}
}

/* Where libbpf looks up tracepoint ids: tracefs at /sys/kernel/tracing,
 * else the debugfs copy. NULL when neither is mounted. */
static const char *tracefs_root(void)
{
	struct statfs st;

	if (statfs("/sys/kernel/tracing", &st) == 0 && st.f_type == TRACEFS_MAGIC)
		return "/sys/kernel/tracing";
	if (access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return "/sys/kernel/debug/tracing";
	return NULL;
}

/* Whether this process may open the perf event of a syscall tracepoint
 * (what attaching does): CAP_PERFMON, and a seccomp profile that allows
 * perf_event_open. Opened on CPU 0 for all tasks, as libbpf attaches, and
 * closed at once; no program is attached. */
static bool tracepoint_opens(const char *root, const char *event, char *why, size_t why_size)
{
	struct perf_event_attr attr = { .type = PERF_TYPE_TRACEPOINT, .size = sizeof(attr) };
	char path[512], id[32] = "";
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/events/syscalls/%s/id", root, event);
	f = fopen(path, "re");
	if (!f || !fgets(id, sizeof(id), f) || (attr.config = strtoull(id, NULL, 10)) == 0) {
		snprintf(why, why_size, "cannot read the tracepoint id %s: %s", path, f ? "empty" : strerror(errno));
		if (f)
			fclose(f);
		return false;
	}
	fclose(f);
	fd = (int)syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_size, "perf_event_open of tracepoint syscalls/%s refused: %s (CAP_PERFMON, or a "
			 "seccomp profile without perf_event_open)", event, strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

/*
 * 32-bit syscalls on a 64-bit kernel (issue 16's review): a process can
 * issue them (int $0x80, or a 32-bit executable; x32 numbers where that ABI
 * is built in and enabled), and syscall tracepoints do not fire for them
 * (x86-64 ignores compat syscalls in its syscall events, on purpose: their
 * numbers are another table's). The dispatcher sees every syscall exit and
 * marks a monitored identity's 32-bit syscalls as a blind road
 * (bpf/syscalls.bpf.c). So auto takes per-syscall tracepoints only where
 * 32-bit syscalls are off. Asked the kernel by doing: a 32-bit executable
 * (the smallest ELF that exits 42 through int $0x80) run from a memfd, and
 * an x32 getpid, each in a child. ENOEXEC and ENOSYS say off; anything the
 * probe cannot read (exec refused by a seccomp profile, memfd not
 * executable) is "unknown", taken as on.
 */
#if defined(__x86_64__)
enum compat_state { COMPAT_OFF, COMPAT_ON, COMPAT_UNKNOWN };

/* ELF32 header, one PT_LOAD, code: mov $1,%eax; mov $42,%ebx; int $0x80 */
static const uint8_t elf32_exit42[] = {
	0x7f, 'E', 'L', 'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	2, 0, 3, 0, 1, 0, 0, 0, 0x54, 0x80, 0x04, 0x08, 0x34, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0x34, 0, 0x20, 0, 1, 0, 0, 0,
	0, 0, 0, 0,
	/* program header at 0x34 */
	1, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x04, 0x08, 0, 0x80, 0x04, 0x08,
	0x60, 0, 0, 0, 0x60, 0, 0, 0, 5, 0, 0, 0, 0, 0x10, 0, 0,
	/* code at 0x54 */
	0xb8, 1, 0, 0, 0, 0xbb, 42, 0, 0, 0, 0xcd, 0x80,
};

/* A child's end: exit code, or 128 + the signal that ended it; -1 when the
 * child could not be made. */
static int child_end(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static enum compat_state probe_ia32(char *why, size_t why_size)
{
	int fd = (int)syscall(SYS_memfd_create, "reach-ia32-probe", MFD_CLOEXEC), end;
	pid_t pid;

	if (fd < 0 || write(fd, elf32_exit42, sizeof(elf32_exit42)) != (ssize_t)sizeof(elf32_exit42)) {
		snprintf(why, why_size, "ia32: cannot write the probe: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return COMPAT_UNKNOWN;
	}
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "reach-ia32-probe", NULL }, *envp[] = { NULL };

		syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
		_exit(errno == ENOEXEC ? 100 : errno == EPERM || errno == EACCES ? 101 : 102);
	}
	close(fd);
	end = pid < 0 ? -1 : child_end(pid);
	if (end == 42) {
		snprintf(why, why_size, "ia32 (int $0x80 and 32-bit executables run)");
		return COMPAT_ON;
	}
	if (end == 100)
		return COMPAT_OFF; /* ENOEXEC: no 32-bit emulation (not built, or ia32_emulation=off) */
	if (end > 128) {
		/* the 32-bit code ran and was stopped (a seccomp profile's kill) */
		snprintf(why, why_size, "ia32 (a 32-bit executable ran; signal %d ended it)", end - 128);
		return COMPAT_ON;
	}
	snprintf(why, why_size, "ia32: the probe could not tell (%s)",
		 end == 101 ? "exec of a memfd refused" : end < 0 ? "fork failed" : "exec failed");
	return COMPAT_UNKNOWN;
}

/* Under a seccomp filter of the agent's own, an x32 number's ENOSYS may be
 * the filter's (a profile whose default answer is ENOSYS), not the
 * kernel's: then the kernel's configuration decides (/proc/config.gz),
 * and without it the answer is unknown. */
static bool under_seccomp_filter(void)
{
	char line[128];
	bool filter = false;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "Seccomp:", 8))
			filter = atoi(line + 8) == 2;
	if (f)
		fclose(f);
	return filter;
}

/* 1: CONFIG_X86_X32_ABI=y, 0: not set, -1: the configuration is not there */
static int kconfig_x32(void)
{
	gzFile f = gzopen("/proc/config.gz", "rb");
	char line[256];
	int found = -1;

	if (!f)
		return -1;
	while (found < 0 && gzgets(f, line, sizeof(line))) {
		if (!strncmp(line, "CONFIG_X86_X32_ABI=y", 20))
			found = 1;
		else if (!strncmp(line, "# CONFIG_X86_X32_ABI is not set", 31))
			found = 0;
	}
	gzclose(f);
	return found < 0 ? 0 : found; /* a whole config without the symbol: not built */
}

static enum compat_state probe_x32(char *why, size_t why_size)
{
	pid_t pid = fork();
	int end;

	if (pid == 0) {
		long r = syscall(0x40000000L /* __X32_SYSCALL_BIT */ | SYS_getpid);

		_exit(r == (long)getpid() ? 42 : r < 0 && errno == ENOSYS ? 100 : 101);
	}
	end = pid < 0 ? -1 : child_end(pid);
	if (end == 100 && under_seccomp_filter()) {
		int built = kconfig_x32();

		if (built == 0)
			return COMPAT_OFF;
		snprintf(why, why_size, "x32: the probe could not tell (ENOSYS under this process's seccomp filter, %s)",
			 built < 0 ? "no /proc/config.gz" : "the kernel has CONFIG_X86_X32_ABI");
		return COMPAT_UNKNOWN;
	}
	if (end == 100)
		return COMPAT_OFF;
	snprintf(why, why_size, end == 42 ? "x32 (x32 syscall numbers served)" : "x32: the probe could not tell");
	return end == 42 ? COMPAT_ON : COMPAT_UNKNOWN;
}

/* h->compat: "off", or what is on or unknown; true when any may be on */
static bool compat_probe(struct syscall_hooks *h)
{
	char ia32[sizeof(h->compat) / 2] = "", x32[sizeof(h->compat) / 2] = "";
	enum compat_state a = probe_ia32(ia32, sizeof(ia32)), b = probe_x32(x32, sizeof(x32));

	if (a == COMPAT_OFF && b == COMPAT_OFF) {
		snprintf(h->compat, sizeof(h->compat), "off");
		return false;
	}
	snprintf(h->compat, sizeof(h->compat), "%s%s%s", ia32, ia32[0] && x32[0] ? "; " : "", x32);
	return true;
}
#else
/* arm64 also drops compat (AArch32) syscalls from its syscall events: not
 * probed yet, see issue 16's note */
static bool compat_probe(struct syscall_hooks *h)
{
	snprintf(h->compat, sizeof(h->compat), "not probed on this architecture");
	return false;
}
#endif

/* tracefs's root when syscall tracepoint programs can run here: they read
 * the arguments through bpf_task_pt_regs (Linux 5.15+), and libbpf finds
 * the tracepoints' ids in tracefs; else NULL, why not into why. */
static const char *tracepoints_root(char *why, size_t why_size)
{
	const char *root = tracefs_root();

	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_task_pt_regs, NULL) != 1) {
		snprintf(why, why_size, "the kernel lacks bpf_task_pt_regs() for tracepoint programs (Linux 5.15+)");
		return NULL;
	}
	if (!root)
		snprintf(why, why_size, "tracefs is not mounted at /sys/kernel/tracing "
			 "(mount -t tracefs nodev /sys/kernel/tracing)");
	return root;
}

/* True when every per-syscall tracepoint this object has is in the kernel
 * and this process may open them; otherwise why not, into why. */
static bool per_syscall_available(const struct syscall_hooks *h, char *why, size_t why_size)
{
	const char *root = tracepoints_root(why, why_size);
	char path[512];

	if (!root)
		return false;
	for (size_t i = 0; i < N_PER_SYSCALL; i++) {
		if (!h->wanted[i])
			continue;
		snprintf(path, sizeof(path), "%s/events/syscalls/sys_exit_%s", root, per_syscall[i]);
		if (access(path, F_OK)) {
			snprintf(why, why_size, "the kernel has no syscall tracepoint %s (CONFIG_FTRACE_SYSCALLS?)",
				 path);
			return false;
		}
	}
	return tracepoint_opens(root, "sys_exit_openat", why, why_size);
}

/* The attach points and the syscalls they serve, e.g.
 * "tp_btf/sys_exit (openat,openat2,...)" or
 * "tracepoint/syscalls/sys_exit_{openat,openat2,...}". */
static void describe(struct syscall_hooks *h)
{
	bool per = h->active == SYSCALL_HOOKS_PER_SYSCALL;
	size_t n;

	n = (size_t)snprintf(h->describe, sizeof(h->describe), "%s", per ? "tracepoint/syscalls/sys_exit_{" :
								      "tp_btf/sys_exit (");
	for (size_t i = 0; i < N_PER_SYSCALL && n < sizeof(h->describe); i++)
		if (h->wanted[i])
			n += (size_t)snprintf(h->describe + n, sizeof(h->describe) - n, "%s%s",
					      strchr("{(", h->describe[n - 1]) ? "" : ",", per_syscall[i]);
	if (n < sizeof(h->describe))
		n += (size_t)snprintf(h->describe + n, sizeof(h->describe) - n, "%s", per ? "}" : ")");
	if (n < sizeof(h->describe))
		n += (size_t)snprintf(h->describe + n, sizeof(h->describe) - n, "%s",
				      h->enter_per ? " + tracepoint/syscalls/sys_enter_{" : " + tp_btf/sys_enter (");
	for (size_t i = 0; i < N_LINK_CALLS && n < sizeof(h->describe); i++)
		if (arch_has(link_calls[i]))
			n += (size_t)snprintf(h->describe + n, sizeof(h->describe) - n, "%s%s",
					      strchr("{(", h->describe[n - 1]) ? "" : ",", link_calls[i]);
	if (n < sizeof(h->describe))
		snprintf(h->describe + n, sizeof(h->describe) - n, "%s", h->enter_per ? "}" : ")");
}

/* Whether the link calls' enter tracepoints can be attached (tracefs, the
 * events, perf_event_open); else why not, into why. */
static bool enter_tracepoints_available(char *why, size_t why_size)
{
	const char *root = tracepoints_root(why, why_size);

	return root && tracepoint_opens(root, "sys_enter_linkat", why, why_size);
}

int syscall_hooks_prepare(struct syscall_hooks **out, struct bpf_object *obj, enum syscall_hook_style style,
			  char *err, size_t err_size)
{
	struct syscall_hooks *h = calloc(1, sizeof(*h));
	char why[sizeof(h->fallback)];
	bool per = style == SYSCALL_HOOKS_PER_SYSCALL;

	if (!h) {
		snprintf(err, err_size, "allocating the syscall hooks: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	h->dispatcher = bpf_object__find_program_by_name(obj, DISPATCHER_PROG);
	h->per_syscall = bpf_object__find_program_by_name(obj, PER_SYSCALL_PROG);
	for (size_t i = 0; i < N_PER_SYSCALL; i++)
		h->wanted[i] = arch_has(per_syscall[i]);
	if (!h->dispatcher || !h->per_syscall) {
		snprintf(err, err_size, "the BPF object lacks its syscall-exit programs (a build mismatch)");
		free(h);
		return -ENOENT;
	}

	if (compat_probe(h) && style != SYSCALL_HOOKS_DISPATCHER) {
		snprintf(why, sizeof(why), "32-bit syscalls may be issued on this node (%s): syscall tracepoints do not "
			 "fire for them", h->compat);
		if (per) {
			snprintf(err, err_size, "per-syscall hooks: %s", why);
			free(h);
			return -EOPNOTSUPP;
		}
		snprintf(h->fallback, sizeof(h->fallback), "%s", why);
		per = false;
	} else if (style != SYSCALL_HOOKS_DISPATCHER) {
		bool ok = per_syscall_available(h, why, sizeof(why));

		if (per && !ok) {
			snprintf(err, err_size, "per-syscall hooks: %s", why);
			free(h);
			return -ENOENT;
		}
		if (!ok)
			snprintf(h->fallback, sizeof(h->fallback), "%s", why);
		per = ok;
	}

	h->enter_tp = bpf_object__find_program_by_name(obj, ENTER_TP_PROG);
	h->enter_raw = bpf_object__find_program_by_name(obj, ENTER_RAW_PROG);
	if (!h->enter_tp || !h->enter_raw) {
		snprintf(err, err_size, "the BPF object lacks its syscall-enter programs (a build mismatch)");
		free(h);
		return -ENOENT;
	}
	/* the status's hooks say which (describe) */
	h->enter_per = enter_tracepoints_available(why, sizeof(why));
	bpf_program__set_autoattach(h->enter_tp, false);
	bpf_program__set_autoload(h->enter_tp, h->enter_per);
	bpf_program__set_autoattach(h->enter_raw, false);
	bpf_program__set_autoload(h->enter_raw, !h->enter_per);

	/* attached by syscall_hooks_attach, not by the skeleton; one style loads */
	bpf_program__set_autoattach(h->dispatcher, false);
	bpf_program__set_autoload(h->dispatcher, !per);
	bpf_program__set_autoattach(h->per_syscall, false);
	bpf_program__set_autoload(h->per_syscall, per);
	*out = h;
	return 0;
}

void syscall_hooks_unneeded(struct syscall_hooks *h, const char *syscall)
{
	for (size_t i = 0; i < N_PER_SYSCALL; i++)
		if (!strcmp(per_syscall[i], syscall))
			h->wanted[i] = false;
}

static void detach_per_syscall(struct syscall_hooks *h)
{
	for (size_t i = 0; i < N_PER_SYSCALL; i++) {
		bpf_link__destroy(h->links[i]);
		h->links[i] = NULL;
	}
}

static int attach_per_syscall(struct syscall_hooks *h, char *err, size_t err_size)
{
	char name[64];

	for (size_t i = 0; i < N_PER_SYSCALL; i++) {
		if (!h->wanted[i])
			continue;
		snprintf(name, sizeof(name), "sys_exit_%s", per_syscall[i]);
		h->links[i] = bpf_program__attach_tracepoint(h->per_syscall, "syscalls", name);
		if (!h->links[i]) {
			int rc = -errno;

			snprintf(err, err_size, "attaching tracepoint/syscalls/sys_exit_%s: %s", per_syscall[i],
				 strerror(-rc));
			detach_per_syscall(h);
			return rc ? rc : -EINVAL;
		}
	}
	return 0;
}

static void detach_enters(struct syscall_hooks *h)
{
	for (size_t i = 0; i < N_LINK_CALLS; i++) {
		bpf_link__destroy(h->enter_links[i]);
		h->enter_links[i] = NULL;
	}
	bpf_link__destroy(h->enter_raw_link);
	h->enter_raw_link = NULL;
}

static int attach_enters(struct syscall_hooks *h, char *err, size_t err_size)
{
	char name[64];
	int rc;

	if (!h->enter_per) {
		if ((h->enter_raw_link = bpf_program__attach(h->enter_raw)))
			return 0;
		rc = -errno;
		snprintf(err, err_size, "attaching tp_btf/sys_enter: %s", strerror(-rc));
		return rc ? rc : -EINVAL;
	}
	for (size_t i = 0; i < N_LINK_CALLS; i++) {
		if (!arch_has(link_calls[i]))
			continue;
		snprintf(name, sizeof(name), "sys_enter_%s", link_calls[i]);
		h->enter_links[i] = bpf_program__attach_tracepoint(h->enter_tp, "syscalls", name);
		if (!h->enter_links[i]) {
			rc = -errno;
			snprintf(err, err_size, "attaching tracepoint/syscalls/%s: %s", name, strerror(-rc));
			detach_enters(h);
			return rc ? rc : -EINVAL;
		}
	}
	return 0;
}

int syscall_hooks_attach(struct syscall_hooks *h, char *err, size_t err_size)
{
	int rc;

	if (bpf_program__autoload(h->per_syscall)) {
		if ((rc = attach_per_syscall(h, err, err_size)))
			return rc;
		h->active = SYSCALL_HOOKS_PER_SYSCALL;
	} else {
		h->dispatcher_link = bpf_program__attach(h->dispatcher);
		if (!h->dispatcher_link) {
			rc = -errno;
			snprintf(err, err_size, "attaching tp_btf/sys_exit: %s", strerror(-rc));
			return rc ? rc : -EINVAL;
		}
		h->active = SYSCALL_HOOKS_DISPATCHER;
	}
	/* the enters after the exits: an enter's outcome is owed by an exit
	 * that is already there */
	if ((rc = attach_enters(h, err, err_size))) {
		detach_per_syscall(h);
		bpf_link__destroy(h->dispatcher_link);
		h->dispatcher_link = NULL;
		return rc;
	}
	describe(h);
	return 0;
}

size_t syscall_hooks_take_links(struct syscall_hooks *h, struct bpf_link **out, size_t max)
{
	struct bpf_link **all[N_PER_SYSCALL + N_LINK_CALLS + 2];
	size_t n = 0, k = 0;

	for (size_t i = 0; i < N_PER_SYSCALL; i++)
		all[k++] = &h->links[i];
	for (size_t i = 0; i < N_LINK_CALLS; i++)
		all[k++] = &h->enter_links[i];
	all[k++] = &h->enter_raw_link;
	all[k++] = &h->dispatcher_link;
	for (size_t i = 0; i < k && n < max; i++) {
		if (*all[i]) {
			out[n++] = *all[i];
			*all[i] = NULL;
		}
	}
	return n;
}

void syscall_hooks_free(struct syscall_hooks *h)
{
	if (!h)
		return;
	detach_per_syscall(h);
	detach_enters(h);
	bpf_link__destroy(h->dispatcher_link);
	free(h);
}

enum syscall_hook_style syscall_hooks_active(const struct syscall_hooks *h) { return h->active; }

const char *syscall_hooks_fallback_reason(const struct syscall_hooks *h)
{
	return h->fallback[0] ? h->fallback : NULL;
}

const char *syscall_hooks_describe(const struct syscall_hooks *h) { return h->describe; }

const char *syscall_hooks_compat(const struct syscall_hooks *h) { return h->compat; }
