/* Scenario 1 (hook style): write(2) of 64 bytes to /dev/null N times. A
 * write is a syscall reach hooks (plaintext HTTP heads on sockets, MCP
 * messages on pipes) and, to /dev/null, one it then ignores: what every
 * write on the node pays for the hook. Both hook styles run a program here
 * (per-syscall: the sys_exit_write tracepoint and its perf record first;
 * the dispatcher: its one program); the getppid+fstat loop is the other
 * side of the trade, where only the dispatcher runs one.
 * usage: bench_write N */
#include "common.h" /* first: defines _GNU_SOURCE */
#include <fcntl.h>

static int fd = -1;

static void once(const void *unused)
{
	static const char buf[64];

	(void)unused;
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		die("write");
}

int main(int argc, char **argv)
{
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die("open /dev/null");
	return timed_loop_main(argc, argv, once);
}
