/* Scenario 9: a whole program run N times, one after the other (fork,
 * execv, wait; a fresh process each time), e.g. a python3 that imports
 * 200 modules. Any exit status but 0 fails the loop.
 * usage: bench_spawn N PROG [ARG...]   (PROG: an absolute path) */
#include "common.h" /* first: defines _GNU_SOURCE */
#include <sys/wait.h>

static void once(const void *arg)
{
	char *const *argv = arg;
	int st;
	pid_t p = fork();

	if (p < 0)
		die("fork");
	if (p == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(p, &st, 0) < 0)
		die("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "%s failed: status %d\n", argv[0], st);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s N PROG [ARG...]\n", argv[0]);
		return 2;
	}
	timed_loop(parse_long(argv[1], "N"), once, &argv[2]);
	return 0;
}
