#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "abi/catfilter.h" /* the skeleton names its types (the .bss cf_config) */
#include "reach.skel.h"
#include <pthread.h>
#include "common/caps.h"
#include "common/cgroup.h"
#include "common/log.h"
#include "sensor/dedup_snapshot.h"
#include "sensor/sensor.h"
#include "sensor/syscall_hooks.h"
#include "common/elf_func.h"
#include "common/go_pclntab.h"
#include "common/x86_entry.h"

#define SENSOR_MAX_UPROBES 256

struct sensor {
	struct reach_bpf *skel;
	struct syscall_hooks *syscall_hooks;
	const char *hook_names[12]; /* the attached hooks, NULL-terminated (see fixed_hooks) */
	struct bpf_link *uprobes[SENSOR_MAX_UPROBES];
	size_t n_uprobes;
	struct ring_buffer *rb;
	double load_ms;             /* the verifier's checking and loading of every program, at start */
	int ncpus;
	struct reach_loss_counters *percpu; /* scratch for per-CPU reads */
	struct dedup_snapshot *dedup_copy;  /* batch-read copy of the dedup map */
	bool dedup_copy_valid;              /* false: no batch support, or a read failed */
	bool dedup_no_batch;                /* the kernel refused batch reads: never tried again */
	bool dedup_no_take;                 /* the kernel refused lookup-and-delete: lookup, then delete */
	uint64_t held_walks_failed;         /* sensor_walk_held_files failures: node-wide file_via losses */
	uint32_t secret_keys;               /* secret_inodes keys (exact at a rebuild, counted since) */
	uint32_t secret_bits_stale;         /* keys removed since secret_ino_bits was rebuilt */
	uint64_t secret_bits_rebuilds;
};

/* secret_ino_bits is rebuilt from the map once the keys removed since the
 * last rebuild are at least as many as those left (and at least this
 * many): stale bits never outnumber live ones by much, and each rebuild's
 * walk of the map is paid for by as many removals. */
#define SENSOR_SECRET_BITS_STALE_MIN 64

/* The hooks a sensor attaches besides the syscall exits, each with its
 * program: status lists those whose program loads on this kernel (see
 * sensor_start: io_uring's need a kernel with io_uring, sock_recv_length
 * Linux 6.4+), so the list follows what was loaded, not a second record. */
static const struct {
	const char *hook, *prog;
} fixed_hooks[] = {
	{ "tp_btf/inet_sock_set_state", "reach_inet_sock_set_state" },
	{ "tp_btf/sched_process_exec", "reach_sched_process_exec" },
	{ "tp_btf/sched_process_fork", "reach_sched_process_fork" },
	{ "tp_btf/sched_process_exit", "reach_sched_process_exit" },
	{ "tp_btf/cgroup_attach_task", "reach_cgroup_attach_task" },
	{ "iter/task_file", "reach_iter_task_file" },
	{ "tp_btf/sock_recv_length", "reach_sock_recv_length" },
	{ "tp_btf/io_uring_submit_req", "reach_uring_submit" },
	{ "tp_btf/io_uring_complete", "reach_uring_complete" },
};
#define N_FIXED_HOOKS (sizeof(fixed_hooks) / sizeof(fixed_hooks[0]))
_Static_assert(1 + N_FIXED_HOOKS + 1 <= sizeof(((struct sensor *)0)->hook_names) / sizeof(const char *),
	       "hook_names holds the syscall hooks, every fixed hook and the NULL");

const char *const *sensor_hook_names(const struct sensor *s) { return s->hook_names; }

const struct syscall_hooks *sensor_syscall_hooks(const struct sensor *s) { return s->syscall_hooks; }

/* libbpf's messages go through our funnel, one log line per line of
 * theirs; its debug chatter only with -v. A verifier log is one message of
 * thousands of lines: formatted whole (vasprintf), never cut, since its end
 * says why a program was refused. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum log_level to = level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG;
	char *msg = NULL, *line, *save = NULL;

	if (level == LIBBPF_DEBUG && !log_is_verbose())
		return 0;
	if (vasprintf(&msg, fmt, ap) < 0) {
		log_msg(to, "libbpf: (a message that could not be formatted: %s)", strerror(ENOMEM));
		return 0;
	}
	for (line = strtok_r(msg, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_msg(to, "libbpf: %s", line);
	free(msg);
	return 0;
}

int sensor_check_prerequisites(char *why, size_t why_size)
{
	char mount[256];
	struct stat st;

	if (geteuid() != 0) {
		uint64_t needs = 0;
		char names[160];

		/* the list --drop-caps keeps (common/caps.c), not a second copy */
		for (size_t i = 0; i < caps_agent_needs_count; i++)
			needs |= 1ULL << caps_agent_needs[i];
		caps_describe(needs, names, sizeof(names));
		snprintf(why, why_size, "not root: reachd runs as uid 0 holding %s (and cap_sys_admin where the kernel "
			 "refuses uprobes without it); BPF and perf checks are made in the initial user namespace",
			 names);
		return -1;
	}
	if (stat("/sys/kernel/btf/vmlinux", &st) < 0) {
		snprintf(why, why_size, "kernel BTF absent: /sys/kernel/btf/vmlinux not found (needs CONFIG_DEBUG_INFO_BTF=y)");
		return -1;
	}
	if (cgroup_find_v2_mount(mount, sizeof(mount))) {
		snprintf(why, why_size, "cgroup v2 not mounted: reach identifies workloads by cgroup v2 id "
			 "(mount -t cgroup2 none /sys/fs/cgroup/unified)");
		return -1;
	}
	/* tracefs is optional: without it the syscall exits use the tp_btf dispatcher (syscall_hooks.c) */
	return 0;
}


int sensor_start(struct sensor **out, const struct sensor_opts *opts, char *err, size_t err_size)
{
	struct sensor *s;
	int rc;

	libbpf_set_print(libbpf_print);
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, err_size, "allocating the sensor: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	s->ncpus = libbpf_num_possible_cpus();
	if (s->ncpus <= 0) {
		rc = s->ncpus ? s->ncpus : -EINVAL;
		snprintf(err, err_size, "counting CPUs: %s", strerror(-rc));
		goto fail;
	}
	s->percpu = calloc(s->ncpus, sizeof(*s->percpu));
	if (!s->percpu) {
		rc = -ENOMEM;
		snprintf(err, err_size, "allocating counters: %s", strerror(ENOMEM));
		goto fail;
	}

	s->skel = reach_bpf__open();
	if (!s->skel) {
		rc = -errno;
		snprintf(err, err_size, "opening the BPF object: %s", strerror(errno));
		goto fail;
	}
	s->skel->rodata->self_tgid = getpid();
	/* A fresh SipHash key for every dedup hash at each start: never stored,
	 * never logged, so no workload can compute a colliding object. */
	if (getrandom((void *)s->skel->rodata->hash_key, sizeof(s->skel->rodata->hash_key), 0) !=
	    (ssize_t)sizeof(s->skel->rodata->hash_key)) {
		rc = -errno;
		snprintf(err, err_size, "drawing the dedup hash key: %s", strerror(errno));
		goto fail;
	}
	if (opts->ringbuf_bytes &&
	    (rc = bpf_map__set_max_entries(s->skel->maps.events, opts->ringbuf_bytes))) {
		snprintf(err, err_size, "sizing the ring buffer to %llu bytes: %s",
			 (unsigned long long)opts->ringbuf_bytes, strerror(-rc));
		goto fail;
	}
	if (opts->dedup_entries &&
	    (rc = bpf_map__set_max_entries(s->skel->maps.dedup, opts->dedup_entries))) {
		snprintf(err, err_size, "sizing the dedup map to %llu entries: %s",
			 (unsigned long long)opts->dedup_entries, strerror(-rc));
		goto fail;
	}

	if (opts->loss_cgroup_entries &&
	    (rc = bpf_map__set_max_entries(s->skel->maps.loss_by_cgroup, opts->loss_cgroup_entries))) {
		snprintf(err, err_size, "sizing the per-cgroup loss map to %llu entries: %s",
			 (unsigned long long)opts->loss_cgroup_entries, strerror(-rc));
		goto fail;
	}

	rc = syscall_hooks_prepare(&s->syscall_hooks, s->skel->obj, opts->syscall_hooks, err, err_size);
	if (rc)
		goto fail;
	/* A kernel built without io_uring has neither its tracepoints nor a
	 * ring to submit to: nothing to see, no gap. Its programs stay
	 * unloaded (their CO-RE reads of io_kiocb would fail the load). */
	if (libbpf_find_vmlinux_btf_id("io_uring_submit_req", BPF_TRACE_RAW_TP) < 0 ||
	    libbpf_find_vmlinux_btf_id("io_uring_complete", BPF_TRACE_RAW_TP) < 0) {
		bpf_program__set_autoload(s->skel->progs.reach_uring_submit, false);
		bpf_program__set_autoload(s->skel->progs.reach_uring_complete, false);
		log_info("io_uring: this kernel has no io_uring tracepoints (built without io_uring): not hooked");
	}
	/* A socket's read(2) (DNS answers) at sock_recvmsg when the kernel has
	 * the tracepoint: then no syscall-exit program runs for read(2) in the
	 * per-syscall style, and the dispatcher leaves reads at once. */
	if (libbpf_find_vmlinux_btf_id("sock_recv_length", BPF_TRACE_RAW_TP) >= 0) {
		s->skel->rodata->dns_read_at_sock = 1;
		syscall_hooks_unneeded(s->syscall_hooks, "read");
	} else {
		bpf_program__set_autoload(s->skel->progs.reach_sock_recv_length, false);
	}

	{
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = reach_bpf__load(s->skel);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* almost all of it the verifier: most of the agent's start-up,
		 * so it is logged and in status to show a regression */
		s->load_ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	}
	if (!rc)
		log_info("BPF programs verified and loaded in %.0f ms", s->load_ms);
	if (rc) {
		char why[400] = "verifier or kernel refused them; -v shows why";

		if (rc == -EPERM || rc == -EACCES)
			caps_explain_refusal(why, sizeof(why));
		snprintf(err, err_size, "loading the BPF programs: %s (%s)", strerror(-rc), why);
		goto fail;
	}
	rc = reach_bpf__attach(s->skel);
	if (rc) {
		char why[400] = "";

		if (rc == -EPERM || rc == -EACCES)
			caps_explain_refusal(why, sizeof(why));
		snprintf(err, err_size, "attaching the BPF programs: %s%s%s%s", strerror(-rc), why[0] ? " (" : "", why,
			 why[0] ? ")" : "");
		goto fail;
	}
	rc = syscall_hooks_attach(s->syscall_hooks, err, err_size);
	if (rc)
		goto fail;
	s->hook_names[0] = syscall_hooks_describe(s->syscall_hooks);
	for (size_t i = 0, n = 1; i < N_FIXED_HOOKS; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(s->skel->obj, fixed_hooks[i].prog);

		if (prog && bpf_program__autoload(prog))
			s->hook_names[n++] = fixed_hooks[i].hook;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), (ring_buffer_sample_fn)opts->on_event,
				 opts->ctx, NULL);
	if (!s->rb) {
		rc = -errno;
		snprintf(err, err_size, "opening the ring buffer: %s", strerror(errno));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	sensor_stop(s);
	return rc < 0 ? rc : -EINVAL;
}

static void *detach_one(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

#define SENSOR_DETACH_THREADS 64

/*
 * Detaching a syscall tracepoint waits out the tracepoint's grace period
 * (perf_trace_event_unreg: tracepoint_synchronize_unregister), ~56 ms on
 * the test VM, and the links were detached one after another: an agent
 * took ~1.6 s to stop (a restart, an upgrade, each end-to-end test). Each
 * link detached from a thread of its own, the waits overlap: concurrent
 * callers share a grace period. A thread that cannot be made detaches its
 * link inline, as before. Nothing is observed any more by then (the ring
 * buffer is gone), so the order does not matter.
 */
static void links_destroy_together(struct bpf_link **links, size_t n)
{
	pthread_t th[SENSOR_DETACH_THREADS];
	bool started[SENSOR_DETACH_THREADS];

	for (size_t base = 0; base < n; base += SENSOR_DETACH_THREADS) {
		size_t m = n - base < SENSOR_DETACH_THREADS ? n - base : SENSOR_DETACH_THREADS;

		for (size_t i = 0; i < m; i++) {
			started[i] = links[base + i] && pthread_create(&th[i], NULL, detach_one, links[base + i]) == 0;
			if (!started[i])
				bpf_link__destroy(links[base + i]); /* NULL: nothing */
		}
		for (size_t i = 0; i < m; i++)
			if (started[i])
				pthread_join(th[i], NULL);
	}
}

/* Every link the sensor holds, taken out of its owner (which then sees
 * NULL and detaches nothing): the uprobes, the syscall hooks', the
 * skeleton's auto-attached programs'. */
static void sensor_detach_all(struct sensor *s)
{
	struct bpf_link *links[SENSOR_MAX_UPROBES + 64 + SYSCALL_HOOKS_MAX_LINKS];
	size_t n = 0;

	for (size_t i = 0; i < s->n_uprobes; i++) {
		if (s->uprobes[i])
			links[n++] = s->uprobes[i];
		s->uprobes[i] = NULL;
	}
	if (s->syscall_hooks)
		n += syscall_hooks_take_links(s->syscall_hooks, links + n, SYSCALL_HOOKS_MAX_LINKS);
	if (s->skel && s->skel->skeleton) {
		const struct bpf_object_skeleton *sk = s->skel->skeleton;

		for (int i = 0; i < sk->prog_cnt && n < sizeof(links) / sizeof(links[0]); i++) {
			const struct bpf_prog_skeleton *ps =
				(const void *)((const char *)sk->progs + (size_t)i * (size_t)sk->prog_skel_sz);

			if (ps->link && *ps->link) {
				links[n++] = *ps->link;
				*ps->link = NULL;
			}
		}
	}
	links_destroy_together(links, n);
}

void sensor_stop(struct sensor *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	sensor_detach_all(s);
	syscall_hooks_free(s->syscall_hooks);
	reach_bpf__destroy(s->skel);
	dedup_snapshot_free(s->dedup_copy);
	free(s->percpu);
	free(s);
}

/* Reads the task_file iterator to its end: the program records nothing
 * into the read buffer, only files__record events. The kernel stops a read
 * after a million objects with EAGAIN when nothing was written: go on. */
static int walk_held_files(struct sensor *s)
{
	char buf[64];
	ssize_t n;
	int fd, rc = 0;

	fd = bpf_iter_create(bpf_link__fd(s->skel->links.reach_iter_task_file));
	if (fd < 0)
		return -errno;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			rc = -errno;
		break;
	}
	close(fd);
	return rc;
}

void sensor_walk_held_files(struct sensor *s)
{
	struct timespec t0, t1;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = walk_held_files(s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* it runs on the caller's thread (start-up, a pod's cgroup added):
	 * its cost is logged so that a node with huge fd tables shows it */
	log_debug("held files walked (iter/task_file) in %.1f ms",
		  (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	if (!rc)
		return;
	/* Which monitored process held which file is now unknown: a loss
	 * nobody in particular caused, so every identity's verdict is
	 * inconclusive (read with the unattributed losses), never a pass
	 * over a secret that was open before reach looked. */
	s->held_walks_failed++;
	log_warn("walking the files monitored processes already hold (iter/task_file): %s; every identity is "
		 "inconclusive (file_via read_failed)", strerror(-rc));
}

int sensor_monitor_cgroup(struct sensor *s, uint64_t cgroup_id)
{
	__u8 one = 1;

	if (bpf_map__update_elem(s->skel->maps.monitored_cgroups, &cgroup_id, sizeof(cgroup_id), &one,
				 sizeof(one), BPF_ANY))
		return -errno;
	/* cached verdicts were computed without this root */
	__atomic_add_fetch(&s->skel->bss->config_gen, 1, __ATOMIC_SEQ_CST);
	/* its processes may hold secrets opened before: look now (a task
	 * entering it from here on is seen at cgroup_attach_task) */
	sensor_walk_held_files(s);
	return 0;
}

/* The largest function whose code is read to place its probe: the back-edge
 * check (x86_entry.h) needs all of it; a bigger one keeps its entry. */
#define UPROBE_CODE_MAX (64 * 1024)

/* Attaches prog to func in the file open at fd, through /proc/self/fd/N so
 * that the file probed is the one whose code was looked at. The offset is
 * func's first branch when that is provably equivalent to the entry for
 * the arguments the TLS programs read (ssl/session, buffer, length: rdi,
 * rsi, rdx), else its entry. NULL with errno when the file has no
 * unambiguous func or the kernel refuses. */
static struct bpf_link *attach_at_cheapest(struct bpf_program *prog, int fd, const char *binary, const char *func,
					   bool c_abi)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts);
	struct bpf_link *link;
	uint64_t entry = 0;
	size_t size = 0, got = 0, off = 0;
	char via[64];
	uint8_t *code;
	int rc;

	code = malloc(UPROBE_CODE_MAX);
	if (!code) {
		errno = ENOMEM;
		return NULL;
	}
	rc = elf_func_code(fd, func, &entry, &size, code, UPROBE_CODE_MAX, &got);
	if (rc == -ENOENT && !c_abi) {
		/* a Go executable without its symbol table: the runtime's own
		 * function table still names every function */
		rc = go_pclntab_func(fd, func, &entry);
		got = 0;
		if (rc == 0)
			log_debug("uprobe %s in %s found through .gopclntab", func, binary);
	}
	if (rc) {
		free(code);
		errno = -rc;
		return NULL;
	}
#if defined(__x86_64__)
	/* the first-branch placement proves rdi/rsi/rdx unchanged: the C ABI's
	 * arguments; Go's are in rax/rbx/rcx, so Go keeps the entry */
	if (c_abi)
		off = x86_fast_probe_offset(code, got, size, X86_RDI | X86_RSI | X86_RDX);
#endif
	free(code);
	snprintf(via, sizeof(via), "/proc/self/fd/%d", fd);
	link = bpf_program__attach_uprobe_opts(prog, -1 /* every process of the file */, via, entry + off, &opts);
	if (!link && off) {
		/* the kernel would not emulate that branch after all: the entry */
		log_debug("uprobe %s in %s at +%#zx refused (%s): at its entry", func, binary, off, strerror(errno));
		off = 0;
		link = bpf_program__attach_uprobe_opts(prog, -1, via, entry, &opts);
	}
	if (link)
		log_debug("uprobe %s in %s at +%#zx (%s)", func, binary, off, off ? "its first branch" : "its entry");
	return link;
}

int sensor_attach_uprobe(struct sensor *s, enum sensor_uprobe which, const char *binary, const char *func)
{
	struct bpf_program *prog = which == SENSOR_UPROBE_SSL_WRITE	 ? s->skel->progs.reach_ssl_write :
				   which == SENSOR_UPROBE_SSL_WRITE_EX ? s->skel->progs.reach_ssl_write_ex :
				   which == SENSOR_UPROBE_GO_TLS_WRITE ? s->skel->progs.reach_go_tls_write :
									 s->skel->progs.reach_gnutls_record_send;
	struct bpf_link *link;
	size_t slot;
	int fd, err;

	/* reuse a detached slot before growing */
	for (slot = 0; slot < s->n_uprobes && s->uprobes[slot]; slot++)
		;
	if (slot == SENSOR_MAX_UPROBES)
		return -ENOSPC;
	fd = open(binary, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	link = attach_at_cheapest(prog, fd, binary, func, which != SENSOR_UPROBE_GO_TLS_WRITE);
	err = errno;
	close(fd);
	if (!link)
		return -err;
	s->uprobes[slot] = link;
	if (slot == s->n_uprobes)
		s->n_uprobes++;
	return (int)slot;
}

void sensor_detach_uprobe(struct sensor *s, int handle)
{
	if (handle < 0 || (size_t)handle >= s->n_uprobes)
		return;
	bpf_link__destroy(s->uprobes[handle]);
	s->uprobes[handle] = NULL;
}

double sensor_load_ms(const struct sensor *s) { return s->load_ms; }

void sensor_secret_bits(const struct sensor *s, uint64_t *set, uint64_t *rebuilds)
{
	const __u64 *words = s->skel->bss->secret_ino_bits;

	*set = 0;
	for (size_t i = 0; i < REACH_SECRET_INO_BITS / 64; i++)
		*set += (uint64_t)__builtin_popcountll(__atomic_load_n(&words[i], __ATOMIC_RELAXED));
	*rebuilds = s->secret_bits_rebuilds;
}

size_t sensor_uprobes_attached(const struct sensor *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_uprobes; i++)
		n += s->uprobes[i] != NULL;
	return n;
}

int sensor_unmonitor_cgroup(struct sensor *s, uint64_t cgroup_id)
{
	if (bpf_map__delete_elem(s->skel->maps.monitored_cgroups, &cgroup_id, sizeof(cgroup_id), 0) && errno != ENOENT)
		return -errno;
	__atomic_add_fetch(&s->skel->bss->config_gen, 1, __ATOMIC_SEQ_CST);
	return 0;
}

void sensor_set_monitor_all(struct sensor *s, bool all)
{
	bool was = s->skel->bss->monitor_all;

	s->skel->bss->monitor_all = all;
	if (all && !was)
		sensor_walk_held_files(s);
}

int sensor_poll(struct sensor *s, int timeout_ms)
{
	int rc = ring_buffer__poll(s->rb, timeout_ms), lazy;

	if (rc == -EINTR)
		rc = 0;
	if (rc < 0)
		return rc;
	/* records sent without a wake-up (forks, exits: bpf/maps.bpf.h
	 * events__submit_lazy) make no epoll readiness of their own: read
	 * whatever is in the ring now, at the latest one timeout after */
	lazy = ring_buffer__consume(s->rb);
	return lazy > 0 ? rc + lazy : rc;
}

int sensor_dedup_lookup(struct sensor *s, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	if (bpf_map__lookup_elem(s->skel->maps.dedup, key, sizeof(*key), val, sizeof(*val), 0))
		return -errno;
	return 0;
}

int sensor_dedup_snapshot(struct sensor *s)
{
	int rc;

	if (s->dedup_no_batch)
		return 0; /* lookups go one by one (sensor_dedup_lookup_snapshot) */
	if (!s->dedup_copy && !(s->dedup_copy = dedup_snapshot_new(bpf_map__max_entries(s->skel->maps.dedup))))
		return -ENOMEM;
	rc = dedup_snapshot_refresh(s->dedup_copy, bpf_map__fd(s->skel->maps.dedup));
	s->dedup_copy_valid = rc == 0;
	/* no batch support: -EINVAL, -EOPNOTSUPP, or the kernel-internal
	 * ENOTSUPP (524) that bpf() lets out */
	s->dedup_no_batch = rc == -EINVAL || rc == -EOPNOTSUPP || rc == -524;
	return rc;
}

int sensor_dedup_lookup_snapshot(struct sensor *s, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	if (!s->dedup_copy_valid)
		return sensor_dedup_lookup(s, key, val); /* no batch reads here: one call per key */
	return dedup_snapshot_lookup(s->dedup_copy, key, val);
}

int sensor_dedup_take(struct sensor *s, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	int rc;

	if (!s->dedup_no_take) {
		if (!bpf_map__lookup_and_delete_elem(s->skel->maps.dedup, key, sizeof(*key), val, sizeof(*val), 0))
			return 0;
		if (errno != EINVAL && errno != EOPNOTSUPP && errno != 524 /* ENOTSUPP */)
			return -errno;
		s->dedup_no_take = true; /* an older kernel: lookup, then delete */
	}
	if ((rc = sensor_dedup_lookup(s, key, val)))
		return rc;
	sensor_dedup_forget(s, key);
	return 0;
}

static void secret_bit_set(__u64 *words, const struct reach_inode_key *key)
{
	uint32_t b = reach_secret_ino_bit(key->ino, key->dev);

	__atomic_or_fetch(&words[b / 64], 1ULL << (b & 63), __ATOMIC_RELAXED);
}

int sensor_mark_secret_inode(struct sensor *s, const struct reach_inode_key *key)
{
	__u8 one = 1;

	/* the bit first: the kernel skips the map lookup of a key whose bit
	 * is clear (bpf/maps.bpf.h secret__known), so a key must never be in
	 * the map without it; the update's system call orders the two */
	secret_bit_set(s->skel->bss->secret_ino_bits, key);
	if (bpf_map__update_elem(s->skel->maps.secret_inodes, key, sizeof(*key), &one, sizeof(one), BPF_ANY))
		return -errno;
	s->secret_keys++; /* a key marked again counts twice until the next rebuild: it only delays one */
	return 0;
}

/* The bits again from the map's keys, once removals have left many stale
 * (projected tokens rotate into new inodes; each seeded file gone leaves
 * its bit): a stale bit only costs a lookup, but a bitmap of stale bits
 * would cost every open one. Each word goes from the old superset to the
 * exact set in one store, and this thread is the only writer of both map
 * and bits, so the map never holds a key whose bit is clear. */
static void secret_bits_rebuild(struct sensor *s)
{
	__u64 fresh[REACH_SECRET_INO_BITS / 64]; /* 2 KiB */
	__u64 *words = s->skel->bss->secret_ino_bits;
	struct reach_inode_key key, next;
	const struct reach_inode_key *prev = NULL;
	uint32_t n = 0;

	memset(fresh, 0, sizeof(fresh));
	while (!bpf_map__get_next_key(s->skel->maps.secret_inodes, prev, &next, sizeof(next))) {
		secret_bit_set(fresh, &next);
		key = next;
		prev = &key;
		n++;
	}
	if (errno != ENOENT)
		return; /* the walk failed: the old superset stays */
	for (size_t i = 0; i < REACH_SECRET_INO_BITS / 64; i++)
		__atomic_store_n(&words[i], fresh[i], __ATOMIC_RELAXED);
	s->secret_keys = n;
	s->secret_bits_stale = 0;
	s->secret_bits_rebuilds++;
}

int sensor_unmark_secret_inode(struct sensor *s, const struct reach_inode_key *key)
{
	if (bpf_map__delete_elem(s->skel->maps.secret_inodes, key, sizeof(*key), 0))
		return -errno;
	if (s->secret_keys)
		s->secret_keys--;
	if (++s->secret_bits_stale >= SENSOR_SECRET_BITS_STALE_MIN && s->secret_bits_stale >= s->secret_keys)
		secret_bits_rebuild(s);
	return 0;
}

int sensor_ack_link(struct sensor *s, uint64_t cgroup_id, uint64_t n)
{
	uint64_t acked = 0;

	/* the agent is link_acked's only writer: no lost update */
	if (bpf_map__lookup_elem(s->skel->maps.link_acked, &cgroup_id, sizeof(cgroup_id), &acked, sizeof(acked), 0) &&
	    errno != ENOENT)
		return -errno;
	acked += n;
	if (bpf_map__update_elem(s->skel->maps.link_acked, &cgroup_id, sizeof(cgroup_id), &acked, sizeof(acked), BPF_ANY))
		return -errno;
	return 0;
}

int sensor_link_counts(struct sensor *s, uint64_t cgroup_id, uint64_t *sent, uint64_t *acked)
{
	*sent = *acked = 0;
	if (bpf_map__lookup_elem(s->skel->maps.link_taint, &cgroup_id, sizeof(cgroup_id), sent, sizeof(*sent), 0) &&
	    errno != ENOENT)
		return -errno;
	if (bpf_map__lookup_elem(s->skel->maps.link_acked, &cgroup_id, sizeof(cgroup_id), acked, sizeof(*acked), 0) &&
	    errno != ENOENT)
		return -errno;
	return 0;
}

size_t sensor_sweep_link_taints(struct sensor *s)
{
	uint64_t key, next, gone[64];
	size_t n = 0;
	int more = bpf_map__get_next_key(s->skel->maps.link_taint, NULL, &next, sizeof(next)) == 0;

	while (more && n < sizeof(gone) / sizeof(gone[0])) {
		key = next;
		more = bpf_map__get_next_key(s->skel->maps.link_taint, &key, &next, sizeof(next)) == 0;
		if (cgroup_exists(key) == 0)
			gone[n++] = key;
	}
	for (size_t i = 0; i < n; i++) {
		bpf_map__delete_elem(s->skel->maps.link_taint, &gone[i], sizeof(gone[i]), 0);
		bpf_map__delete_elem(s->skel->maps.link_acked, &gone[i], sizeof(gone[i]), 0);
	}
	return n;
}

int sensor_dedup_forget(struct sensor *s, const struct reach_dedup_key *key)
{
	if (bpf_map__delete_elem(s->skel->maps.dedup, key, sizeof(*key), 0))
		return -errno;
	return 0;
}

/* Deletes every entry of a map (key_size bytes of key). */
static int clear_map(struct bpf_map *map, size_t key_size)
{
	char key[sizeof(struct reach_cf_prefix) > sizeof(struct reach_cf_name) ? sizeof(struct reach_cf_prefix)
											: sizeof(struct reach_cf_name)];

	if (key_size > sizeof(key))
		return -EINVAL;
	/* always the first key: the one just deleted has no successor */
	while (!bpf_map__get_next_key(map, NULL, key, key_size))
		if (bpf_map__delete_elem(map, key, key_size, 0) && errno != ENOENT)
			return -errno;
	return errno == ENOENT ? 0 : -errno;
}

static int fill_map(struct bpf_map *map, const void *keys, size_t n, size_t key_size)
{
	__u8 one = 1;

	for (size_t i = 0; i < n; i++)
		if (bpf_map__update_elem(map, (const char *)keys + i * key_size, key_size, &one, sizeof(one), BPF_ANY))
			return -errno;
	return 0;
}

int sensor_load_catfilter(struct sensor *s, const struct sensor_catfilter *t)
{
	struct reach_cf_config *cfg = &s->skel->bss->cf_config;
	int rc;

	__atomic_store_n(&cfg->on, 0, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&cfg->gen, 1, __ATOMIC_SEQ_CST);
	if ((rc = clear_map(s->skel->maps.cf_names, sizeof(struct reach_cf_name))) ||
	    (rc = clear_map(s->skel->maps.cf_affixes, sizeof(struct reach_cf_affix))) ||
	    (rc = clear_map(s->skel->maps.cf_prefixes, sizeof(struct reach_cf_prefix))))
		return rc;
	if (!t || !t->on)
		return 0; /* off: every open sent */
	if ((rc = fill_map(s->skel->maps.cf_names, t->names, t->n_names, sizeof(*t->names))) ||
	    (rc = fill_map(s->skel->maps.cf_affixes, t->affixes, t->n_affixes, sizeof(*t->affixes))) ||
	    (rc = fill_map(s->skel->maps.cf_prefixes, t->prefixes, t->n_prefixes, sizeof(*t->prefixes))))
		return rc;
	/* the filter is off here: no program reads the sieve half written */
	memcpy(&cfg->sieve, &t->sieve, sizeof(cfg->sieve));
	__atomic_add_fetch(&cfg->gen, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&cfg->on, 1, __ATOMIC_SEQ_CST);
	return 0;
}

int sensor_read_catfilter_counters(struct sensor *s, struct reach_cf_counters *sum)
{
	struct reach_cf_counters *per = calloc(s->ncpus, sizeof(*per));
	__u32 zero = 0;
	int rc = 0;

	memset(sum, 0, sizeof(*sum));
	if (!per)
		return -ENOMEM;
	if (bpf_map__lookup_elem(s->skel->maps.cf_counters, &zero, sizeof(zero), per, sizeof(*per) * s->ncpus, 0)) {
		rc = -errno;
	} else {
		for (int cpu = 0; cpu < s->ncpus; cpu++) {
			sum->filtered += per[cpu].filtered;
			sum->sent += per[cpu].sent;
		}
	}
	free(per);
	return rc;
}

static int read_percpu_losses(struct sensor *s, const struct bpf_map *map, struct reach_loss_counters *sum)
{
	__u32 zero = 0;

	if (bpf_map__lookup_elem(map, &zero, sizeof(zero), s->percpu, sizeof(*s->percpu) * s->ncpus, 0))
		return -errno;
	memset(sum, 0, sizeof(*sum));
	for (int cpu = 0; cpu < s->ncpus; cpu++)
		for (int k = 0; k < REACH_EV__MAX; k++)
			for (int r = 0; r < REACH_LOSS__MAX; r++)
				sum->counters[k][r] += s->percpu[cpu].counters[k][r];
	return 0;
}

int sensor_read_losses(struct sensor *s, struct reach_loss_counters *sum)
{
	int rc = read_percpu_losses(s, s->skel->maps.loss_counters, sum);

	if (!rc)
		sum->counters[REACH_EV_FILE_VIA][REACH_LOSS_READ_FAILED] += s->held_walks_failed;
	return rc;
}

int sensor_read_unattributed_losses(struct sensor *s, struct reach_loss_counters *sum)
{
	int rc = read_percpu_losses(s, s->skel->maps.loss_unattributed, sum);

	if (!rc)
		sum->counters[REACH_EV_FILE_VIA][REACH_LOSS_READ_FAILED] += s->held_walks_failed;
	return rc;
}

int sensor_forget_cgroup_loss(struct sensor *s, uint64_t cgroup_id, uint32_t uid)
{
	struct reach_loss_cg_key key = { .cgroup_id = cgroup_id, .uid = uid };

	if (bpf_map__delete_elem(s->skel->maps.loss_by_cgroup, &key, sizeof(key), 0))
		return -errno;
	return 0;
}

/* A walk by next-key: entries are only ever added while it runs (the agent
 * alone deletes), so at worst an entry added during the walk is read at
 * the next one. */
int sensor_each_cgroup_loss(struct sensor *s, sensor_cgroup_loss_fn fn, void *ctx)
{
	const struct bpf_map *map = s->skel->maps.loss_by_cgroup;
	struct reach_loss_cg_key key, next;
	struct reach_loss_counters val;
	bool first = true;

	for (;;) {
		if (bpf_map__get_next_key(map, first ? NULL : &key, &next, sizeof(next)))
			return errno == ENOENT ? 0 : -errno;
		first = false;
		key = next;
		if (bpf_map__lookup_elem(map, &key, sizeof(key), &val, sizeof(val), 0)) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		fn(ctx, key.cgroup_id, key.uid, &val);
	}
}
