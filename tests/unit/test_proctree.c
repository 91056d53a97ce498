#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/cgroup.h"
#include "reach/proctree.h"

#define CG 0xdead0001ULL /* a cgroup id for pure-table tests */

/* Pids that cannot exist: above the kernel's pid_max (and its hard limit),
 * so the /proc fallback never finds them. */
static uint32_t base_pid;

static int setup_pids(void **state)
{
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
	unsigned long pid_max = 0;

	if (f) {
		if (fscanf(f, "%lu", &pid_max) != 1)
			pid_max = 0;
		fclose(f);
	}
	if (pid_max < 4194304)
		pid_max = 4194304; /* PID_MAX_LIMIT on 64-bit */
	base_pid = (uint32_t)pid_max + 1000;
	return 0;
}

#define P(n) (base_pid + (n))

static struct proctree *new_tree(void)
{
	struct proctree *t = proctree_new();

	assert_non_null(t);
	return t;
}

/* Checks the lineage of tgid (asked with max) against want[0..n). */
static void expect_lineage(struct proctree *t, uint32_t tgid, size_t max, const char *const *want, size_t n)
{
	const char *out[PROCTREE_LINEAGE_MAX * 2 + 1];
	size_t got;

	assert_true(max <= PROCTREE_LINEAGE_MAX * 2);
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++)
		out[i] = "untouched";
	got = proctree_lineage(t, tgid, out, max);
	if (got != n) {
		for (size_t i = 0; i < got && i < max; i++)
			print_message("  got[%zu] = %s\n", i, out[i]);
		fail_msg("lineage of %u: %zu entries, want %zu", tgid, got, n);
	}
	for (size_t i = 0; i < n; i++)
		assert_string_equal(out[i], want[i]);
	for (size_t i = n; i < sizeof(out) / sizeof(out[0]); i++)
		assert_string_equal(out[i], "untouched"); /* nothing written past the count */
}

#define LINEAGE(t, tgid, max, ...)                                                              \
	do {                                                                                     \
		static const char *const want_[] = { __VA_ARGS__ };                              \
		expect_lineage((t), (tgid), (max), want_, sizeof(want_) / sizeof(want_[0]));     \
	} while (0)

/* ---- exec / fork / exit bookkeeping ------------------------------------ */

static void test_new_tree_is_empty(void **state)
{
	struct proctree *t = new_tree();

	assert_int_equal(proctree_size(t), 0);
	proctree_free(t);
	proctree_free(NULL);
}

static void test_exec_records_exe_and_parent(void **state)
{
	struct proctree *t = new_tree();

	assert_int_equal(proctree_exec(t, P(1), P(0), CG, "/usr/bin/python3", NULL), 0);
	assert_int_equal(proctree_size(t), 1);
	assert_string_equal(proctree_exe(t, P(1)), "/usr/bin/python3");
	assert_int_equal(proctree_ppid(t, P(1)), P(0));
	/* a second exec of the same process replaces its exe, not adds a process */
	assert_int_equal(proctree_exec(t, P(1), P(0), CG, "/bin/sh", NULL), 0);
	assert_int_equal(proctree_size(t), 1);
	assert_string_equal(proctree_exe(t, P(1)), "/bin/sh");
	assert_int_equal(proctree_exec(t, P(2), P(1), CG, "/usr/bin/curl", NULL), 0);
	assert_int_equal(proctree_size(t), 2);
	assert_string_equal(proctree_exe(t, P(1)), "/bin/sh");
	assert_string_equal(proctree_exe(t, P(2)), "/usr/bin/curl");
	proctree_free(t);
}

/* node agent.mjs spawning node server-filesystem: two entries, not one [node] */
static void test_lineage_tells_interpreted_programs_apart(void **state)
{
	struct proctree *t = new_tree();
	const char *out[PROCTREE_LINEAGE_MAX];

	(void)state;
	assert_int_equal(proctree_exec(t, P(1), 1, CG, "/usr/bin/node", "agent.mjs"), 0);
	assert_int_equal(proctree_fork(t, P(1), P(2), CG), 0);
	/* a fork without exec is the same program */
	assert_string_equal(proctree_ident(t, P(2)), "/usr/bin/node agent.mjs");
	assert_int_equal(proctree_exec(t, P(2), P(1), CG, "/usr/bin/node", "server-filesystem"), 0);
	assert_int_equal(proctree_exec(t, P(3), P(2), CG, "/usr/bin/cat", NULL), 0);
	assert_string_equal(proctree_exe(t, P(2)), "/usr/bin/node");
	assert_string_equal(proctree_ident(t, P(2)), "/usr/bin/node server-filesystem");
	assert_string_equal(proctree_ident(t, P(3)), "/usr/bin/cat");
	assert_int_equal(proctree_lineage(t, P(3), out, PROCTREE_LINEAGE_MAX), 3);
	assert_string_equal(out[0], "/usr/bin/node agent.mjs");
	assert_string_equal(out[1], "/usr/bin/node server-filesystem");
	assert_string_equal(out[2], "/usr/bin/cat");
	/* the same program twice in a row is folded like any repeat */
	assert_int_equal(proctree_exec(t, P(4), P(1), CG, "/usr/bin/node", "agent.mjs"), 0);
	assert_int_equal(proctree_lineage(t, P(4), out, PROCTREE_LINEAGE_MAX), 1);
	proctree_free(t);
}

static void test_exec_truncates_overlong_exe(void **state)
{
	struct proctree *t = new_tree();
	char exe[600];

	memset(exe, 'a', sizeof(exe) - 1);
	exe[0] = '/';
	exe[sizeof(exe) - 1] = '\0';
	assert_int_equal(proctree_exec(t, P(1), 1, CG, exe, NULL), 0);
	assert_int_equal(strlen(proctree_exe(t, P(1))), 255);
	assert_memory_equal(proctree_exe(t, P(1)), exe, 255);
	proctree_free(t);
}

static void test_fork_inherits_parent_exe(void **state)
{
	struct proctree *t = new_tree();

	assert_int_equal(proctree_exec(t, P(1), 1, CG, "/bin/bash", NULL), 0);
	assert_int_equal(proctree_fork(t, P(1), P(2), CG), 0);
	assert_int_equal(proctree_size(t), 2);
	assert_string_equal(proctree_exe(t, P(2)), "/bin/bash");
	assert_int_equal(proctree_ppid(t, P(2)), P(1));
	/* the child's exec then replaces the inherited exe, the parent is unchanged */
	assert_int_equal(proctree_exec(t, P(2), P(1), CG, "/usr/bin/curl", NULL), 0);
	assert_string_equal(proctree_exe(t, P(2)), "/usr/bin/curl");
	assert_string_equal(proctree_exe(t, P(1)), "/bin/bash");
	proctree_free(t);
}

static void test_fork_from_unknown_parent(void **state)
{
	struct proctree *t = new_tree();

	assert_int_equal(proctree_fork(t, P(50), P(51), CG), 0);
	assert_string_equal(proctree_exe(t, P(51)), "");
	assert_int_equal(proctree_ppid(t, P(51)), P(50));
	assert_int_equal(proctree_size(t), 1); /* the unknown parent is not invented */
	proctree_free(t);
}

static void test_exit_forgets_the_process(void **state)
{
	struct proctree *t = new_tree();

	assert_int_equal(proctree_exec(t, P(1), 1, CG, "/bin/sh", NULL), 0);
	assert_int_equal(proctree_exec(t, P(2), P(1), CG, "/usr/bin/curl", NULL), 0);
	proctree_exit(t, P(2));
	assert_int_equal(proctree_size(t), 1);
	assert_string_equal(proctree_exe(t, P(2)), "");
	assert_int_equal(proctree_ppid(t, P(2)), 0);
	assert_string_equal(proctree_exe(t, P(1)), "/bin/sh");
	/* exiting an unknown or already gone process is harmless */
	proctree_exit(t, P(2));
	proctree_exit(t, P(99));
	assert_int_equal(proctree_size(t), 1);
	/* a pid reused after exit starts fresh */
	assert_int_equal(proctree_fork(t, P(1), P(2), CG), 0);
	assert_string_equal(proctree_exe(t, P(2)), "/bin/sh");
	assert_int_equal(proctree_size(t), 2);
	proctree_free(t);
}

static void test_unknown_pid_is_empty_and_not_inserted(void **state)
{
	struct proctree *t = new_tree();
	const char *out[PROCTREE_LINEAGE_MAX] = { "untouched" };

	assert_string_equal(proctree_exe(t, P(7)), "");
	assert_int_equal(proctree_ppid(t, P(7)), 0);
	assert_int_equal(proctree_lineage(t, P(7), out, PROCTREE_LINEAGE_MAX), 0);
	assert_string_equal(out[0], "untouched");
	assert_int_equal(proctree_size(t), 0);
	proctree_free(t);
}

/* ---- lineage ------------------------------------------------------------ */

static void test_lineage_oldest_first_process_last(void **state)
{
	struct proctree *t = new_tree();

	assert_int_equal(proctree_exec(t, P(1), 1, CG, "/bin/bash", NULL), 0);
	assert_int_equal(proctree_fork(t, P(1), P(2), CG), 0);
	assert_int_equal(proctree_exec(t, P(2), P(1), CG, "/usr/bin/python3", NULL), 0);
	assert_int_equal(proctree_fork(t, P(2), P(3), CG), 0);
	assert_int_equal(proctree_exec(t, P(3), P(2), CG, "/bin/sh", NULL), 0);
	assert_int_equal(proctree_fork(t, P(3), P(4), CG), 0);
	assert_int_equal(proctree_exec(t, P(4), P(3), CG, "/usr/bin/curl", NULL), 0);

	LINEAGE(t, P(4), PROCTREE_LINEAGE_MAX, "/bin/bash", "/usr/bin/python3", "/bin/sh", "/usr/bin/curl");
	LINEAGE(t, P(3), PROCTREE_LINEAGE_MAX, "/bin/bash", "/usr/bin/python3", "/bin/sh");
	LINEAGE(t, P(1), PROCTREE_LINEAGE_MAX, "/bin/bash");
	/* pid 1 ends the walk: it was never looked up (nor loaded from /proc) */
	assert_int_equal(proctree_size(t), 4);
	proctree_free(t);
}

static void test_lineage_folds_fork_without_exec(void **state)
{
	struct proctree *t = new_tree();

	assert_int_equal(proctree_exec(t, P(1), 1, CG, "/bin/sh", NULL), 0);
	assert_int_equal(proctree_fork(t, P(1), P(2), CG), 0); /* subshell */
	assert_int_equal(proctree_fork(t, P(2), P(3), CG), 0); /* subshell */
	assert_int_equal(proctree_fork(t, P(3), P(4), CG), 0);
	assert_int_equal(proctree_exec(t, P(4), P(3), CG, "/usr/bin/curl", NULL), 0);

	LINEAGE(t, P(4), PROCTREE_LINEAGE_MAX, "/bin/sh", "/usr/bin/curl");
	LINEAGE(t, P(3), PROCTREE_LINEAGE_MAX, "/bin/sh");
	proctree_free(t);
}

static void test_lineage_keeps_non_consecutive_repeats(void **state)
{
	struct proctree *t = new_tree();

	assert_int_equal(proctree_exec(t, P(1), 1, CG, "/bin/sh", NULL), 0);
	assert_int_equal(proctree_exec(t, P(2), P(1), CG, "/usr/bin/python3", NULL), 0);
	assert_int_equal(proctree_exec(t, P(3), P(2), CG, "/bin/sh", NULL), 0);
	assert_int_equal(proctree_exec(t, P(4), P(3), CG, "/usr/bin/curl", NULL), 0);

	LINEAGE(t, P(4), PROCTREE_LINEAGE_MAX, "/bin/sh", "/usr/bin/python3", "/bin/sh", "/usr/bin/curl");
	proctree_free(t);
}

static void test_lineage_walks_past_long_runs_of_folded_forks(void **state)
{
	struct proctree *t = new_tree();

	/* 12 forks without exec: more than PROCTREE_LINEAGE_MAX, all folded */
	assert_int_equal(proctree_exec(t, P(1), 1, CG, "/usr/sbin/sshd", NULL), 0);
	assert_int_equal(proctree_exec(t, P(2), P(1), CG, "/bin/bash", NULL), 0);
	for (uint32_t i = 3; i < 15; i++)
		assert_int_equal(proctree_fork(t, P(i - 1), P(i), CG), 0);
	assert_int_equal(proctree_exec(t, P(15), P(14), CG, "/usr/bin/curl", NULL), 0);

	LINEAGE(t, P(15), PROCTREE_LINEAGE_MAX, "/usr/sbin/sshd", "/bin/bash", "/usr/bin/curl");
	proctree_free(t);
}

static void test_lineage_skips_processes_without_exe(void **state)
{
	struct proctree *t = new_tree();

	assert_int_equal(proctree_exec(t, P(1), 1, CG, "/bin/sh", NULL), 0);
	assert_int_equal(proctree_exec(t, P(2), P(1), CG, "", NULL), 0);
	assert_int_equal(proctree_exec(t, P(3), P(2), CG, "/usr/bin/curl", NULL), 0);

	LINEAGE(t, P(3), PROCTREE_LINEAGE_MAX, "/bin/sh", "/usr/bin/curl");
	/* a process with no known exe has no entry of its own */
	LINEAGE(t, P(2), PROCTREE_LINEAGE_MAX, "/bin/sh");
	proctree_free(t);
}

/* Builds a chain P(1) <- P(2) <- ... <- P(n), exe "/bin/e<i>". */
static void build_chain(struct proctree *t, uint32_t n, char names[][16])
{
	for (uint32_t i = 1; i <= n; i++) {
		snprintf(names[i], 16, "/bin/e%u", i);
		assert_int_equal(proctree_exec(t, P(i), i == 1 ? 1 : P(i - 1), CG, names[i], NULL), 0);
	}
}

static void test_lineage_max_keeps_nearest_ancestors(void **state)
{
	struct proctree *t = new_tree();
	char names[7][16];
	const char *out[4] = { "untouched", "untouched", "untouched", "untouched" };

	build_chain(t, 6, names);
	LINEAGE(t, P(6), 8, "/bin/e1", "/bin/e2", "/bin/e3", "/bin/e4", "/bin/e5", "/bin/e6");
	LINEAGE(t, P(6), 6, "/bin/e1", "/bin/e2", "/bin/e3", "/bin/e4", "/bin/e5", "/bin/e6");
	LINEAGE(t, P(6), 3, "/bin/e4", "/bin/e5", "/bin/e6");
	LINEAGE(t, P(6), 1, "/bin/e6");
	assert_int_equal(proctree_lineage(t, P(6), out, 0), 0);
	assert_string_equal(out[0], "untouched");
	proctree_free(t);
}

static void test_lineage_is_bounded_by_lineage_max(void **state)
{
	struct proctree *t = new_tree();
	char names[13][16];

	build_chain(t, 12, names);
	/* even with room for more, at most PROCTREE_LINEAGE_MAX, the nearest ones */
	LINEAGE(t, P(12), PROCTREE_LINEAGE_MAX * 2, "/bin/e5", "/bin/e6", "/bin/e7", "/bin/e8", "/bin/e9",
		"/bin/e10", "/bin/e11", "/bin/e12");
	LINEAGE(t, P(12), 2, "/bin/e11", "/bin/e12");
	proctree_free(t);
}

static void test_lineage_stops_at_unknown_ancestor(void **state)
{
	struct proctree *t = new_tree();

	/* P(1)'s parent P(0) is neither known nor in /proc */
	assert_int_equal(proctree_exec(t, P(1), P(0), CG, "/bin/sh", NULL), 0);
	assert_int_equal(proctree_exec(t, P(2), P(1), CG, "/usr/bin/curl", NULL), 0);
	LINEAGE(t, P(2), PROCTREE_LINEAGE_MAX, "/bin/sh", "/usr/bin/curl");
	assert_int_equal(proctree_size(t), 2);
	/* an exited middle process cuts the chain there */
	assert_int_equal(proctree_exec(t, P(3), P(2), CG, "/usr/bin/wget", NULL), 0);
	proctree_exit(t, P(2));
	LINEAGE(t, P(3), PROCTREE_LINEAGE_MAX, "/usr/bin/wget");
	proctree_free(t);
}

static void test_lineage_includes_monitored_ancestor_in_other_cgroup(void **state)
{
	struct proctree *t = new_tree();

	/* known from events: part of the workload whatever its cgroup */
	assert_int_equal(proctree_exec(t, P(1), 1, CG + 1, "/usr/bin/containerd-shim", NULL), 0);
	assert_int_equal(proctree_exec(t, P(2), P(1), CG, "/bin/sh", NULL), 0);
	LINEAGE(t, P(2), PROCTREE_LINEAGE_MAX, "/usr/bin/containerd-shim", "/bin/sh");
	proctree_free(t);
}

/* ---- /proc fallback ------------------------------------------------------ */

static void read_link(const char *path, char *out, size_t size)
{
	ssize_t n = readlink(path, out, size - 1);

	assert_true(n > 0);
	out[n] = '\0';
}

/* The cgroup v2 id of process pid, or 0 when it cannot be read. */
static uint64_t oracle_cgroup_id_of_pid(pid_t pid)
{
	char mount[512], path[64], line[1024], dir[2048];
	uint64_t id = 0;
	FILE *f;

	if (cgroup_find_v2_mount(mount, sizeof(mount)))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(dir, sizeof(dir), "%s%s", mount, line + 3);
		if (cgroup_id_of(dir, &id))
			id = 0;
		break;
	}
	fclose(f);
	return id;
}

static void test_proc_fallback_reads_own_exe_and_parent(void **state)
{
	struct proctree *t = new_tree();
	char self_exe[512], parent_exe[512], path[64];
	const char *out[PROCTREE_LINEAGE_MAX];
	uint64_t self_cg, parent_cg;
	size_t n;

	read_link("/proc/self/exe", self_exe, sizeof(self_exe));
	assert_string_equal(proctree_exe(t, (uint32_t)getpid()), self_exe);
	assert_int_equal(proctree_size(t), 1); /* loaded once, then cached */
	assert_int_equal(proctree_ppid(t, (uint32_t)getpid()), (uint32_t)getppid());
	assert_int_equal(proctree_size(t), 1);

	/* a fork event whose parent predates the agent inherits the /proc exe */
	assert_int_equal(proctree_fork(t, (uint32_t)getpid(), P(1), CG), 0);
	assert_string_equal(proctree_exe(t, P(1)), self_exe);

	/* lineage: the process last; its parent before it when in the same cgroup */
	n = proctree_lineage(t, (uint32_t)getpid(), out, PROCTREE_LINEAGE_MAX);
	assert_true(n >= 1);
	assert_string_equal(out[n - 1], self_exe);
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)getppid());
	self_cg = oracle_cgroup_id_of_pid(getpid());
	parent_cg = oracle_cgroup_id_of_pid(getppid());
	if (getppid() > 1 && readlink(path, parent_exe, sizeof(parent_exe) - 1) > 0) {
		read_link(path, parent_exe, sizeof(parent_exe));
		assert_string_equal(proctree_exe(t, (uint32_t)getppid()), parent_exe);
		if (self_cg && self_cg == parent_cg && strcmp(parent_exe, self_exe) != 0) {
			assert_true(n >= 2);
			assert_string_equal(out[n - 2], parent_exe);
		}
	}
	proctree_free(t);
}

static void test_lineage_stops_at_unmonitored_ancestor_in_other_cgroup(void **state)
{
	struct proctree *t = new_tree();
	char self_exe[512];
	uint64_t self_cg = oracle_cgroup_id_of_pid(getpid());

	if (!self_cg) {
		proctree_free(t);
		skip(); /* no cgroup v2 here */
	}
	read_link("/proc/self/exe", self_exe, sizeof(self_exe));

	/* P(1) is a monitored child of this (real, unmonitored) process */
	assert_int_equal(proctree_exec(t, P(1), (uint32_t)getpid(), self_cg + 1, "/usr/bin/curl", NULL), 0);
	LINEAGE(t, P(1), PROCTREE_LINEAGE_MAX, "/usr/bin/curl");

	/* in the same cgroup, the unmonitored parent belongs to the workload */
	assert_int_equal(proctree_exec(t, P(2), (uint32_t)getpid(), self_cg, "/usr/bin/wget", NULL), 0);
	{
		const char *out[PROCTREE_LINEAGE_MAX];
		size_t n = proctree_lineage(t, P(2), out, PROCTREE_LINEAGE_MAX);

		assert_true(n >= 2);
		assert_string_equal(out[n - 1], "/usr/bin/wget");
		assert_string_equal(out[n - 2], self_exe);
	}
	proctree_free(t);
}

/* ---- defects ------------------------------------------------------------ */

static sigjmp_buf alarm_jmp;

static void on_alarm(int sig)
{
	siglongjmp(alarm_jmp, 1);
}

static void test_lineage_terminates_on_parent_cycle_from_pid_reuse(void **state)
{
	/* Was a bug (fixed): proctree_lineage's walk only ends at pid <= 1, an unknown or
	 * foreign ancestor, or n == PROCTREE_LINEAGE_MAX; folded (same exe) or
	 * exe-less entries do not grow n, so a ppid cycle loops forever. The
	 * cycle arises from pid reuse: P forks C, P exits (C keeps ppid P), C
	 * forks a subshell that gets P's pid again -> P.ppid = C, C.ppid = P. */
	struct proctree *t = new_tree();
	const char *out[PROCTREE_LINEAGE_MAX];
	struct sigaction sa = { .sa_handler = on_alarm }, old_sa;
	volatile bool timed_out = false;
	volatile size_t n = 0;

	assert_int_equal(proctree_exec(t, P(1), 1, CG, "/bin/sh", NULL), 0);
	assert_int_equal(proctree_fork(t, P(1), P(2), CG), 0);
	proctree_exit(t, P(1));
	assert_int_equal(proctree_fork(t, P(2), P(1), CG), 0); /* P(1) reused */

	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old_sa), 0);
	if (sigsetjmp(alarm_jmp, 1) == 0) {
		alarm(5);
		n = proctree_lineage(t, P(1), out, PROCTREE_LINEAGE_MAX);
		alarm(0);
	} else {
		timed_out = true;
	}
	sigaction(SIGALRM, &old_sa, NULL);
	proctree_free(t);
	if (timed_out)
		fail_msg("proctree_lineage did not return within 5 s on a ppid cycle");
	assert_true(n >= 1 && n <= PROCTREE_LINEAGE_MAX);
	/* (out points into the freed tree: only the count is checked) */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_tree_is_empty),
		cmocka_unit_test(test_exec_records_exe_and_parent),
		cmocka_unit_test(test_lineage_tells_interpreted_programs_apart),
		cmocka_unit_test(test_exec_truncates_overlong_exe),
		cmocka_unit_test(test_fork_inherits_parent_exe),
		cmocka_unit_test(test_fork_from_unknown_parent),
		cmocka_unit_test(test_exit_forgets_the_process),
		cmocka_unit_test(test_unknown_pid_is_empty_and_not_inserted),
		cmocka_unit_test(test_lineage_oldest_first_process_last),
		cmocka_unit_test(test_lineage_folds_fork_without_exec),
		cmocka_unit_test(test_lineage_keeps_non_consecutive_repeats),
		cmocka_unit_test(test_lineage_walks_past_long_runs_of_folded_forks),
		cmocka_unit_test(test_lineage_skips_processes_without_exe),
		cmocka_unit_test(test_lineage_max_keeps_nearest_ancestors),
		cmocka_unit_test(test_lineage_is_bounded_by_lineage_max),
		cmocka_unit_test(test_lineage_stops_at_unknown_ancestor),
		cmocka_unit_test(test_lineage_includes_monitored_ancestor_in_other_cgroup),
		cmocka_unit_test(test_proc_fallback_reads_own_exe_and_parent),
		cmocka_unit_test(test_lineage_stops_at_unmonitored_ancestor_in_other_cgroup),
		cmocka_unit_test(test_lineage_terminates_on_parent_cycle_from_pid_reuse),
	};

	return cmocka_run_group_tests_name("proctree", tests, setup_pids, NULL);
}
