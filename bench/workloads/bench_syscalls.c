/* Scenario 1 (hook style): getppid + fstat N times, syscalls no reach
 * program reads. Most of a node's syscalls are like these (futex, epoll,
 * mmap, stat, ...): what a hook on them costs is what the rest of the node
 * pays whatever it does. Per-syscall tracepoints run nothing here; the
 * tp_btf/sys_exit dispatcher runs its program on both.
 * usage: bench_syscalls N */
#include "common.h" /* first: defines _GNU_SOURCE */
#include <sys/stat.h>
#include <sys/syscall.h>

static void once(const void *unused)
{
	struct stat st;

	(void)unused;
	if (syscall(SYS_getppid) < 0)
		die("getppid");
	if (fstat(1, &st) < 0)
		die("fstat");
}

int main(int argc, char **argv)
{
	return timed_loop_main(argc, argv, once);
}
