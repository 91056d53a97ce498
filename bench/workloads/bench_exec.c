/* Scenario 1c: fork, exec /bin/true and wait, N times.
 * usage: bench_exec N */
#include "common.h" /* first: defines _GNU_SOURCE */
#include <sys/wait.h>

static void once(const void *unused)
{
	int st;
	pid_t p;

	(void)unused;
	p = fork();

	if (p < 0)
		die("fork");
	if (p == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	if (waitpid(p, &st, 0) < 0)
		die("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "/bin/true failed: status %d\n", st);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	return timed_loop_main(argc, argv, once);
}
