/* Scenario 1c: fork, exec /bin/true and wait, N times.
 * usage: bench_exec N */
#include "common.h" /* first: defines _GNU_SOURCE */
#include <sys/wait.h>

static void once(void)
{
	int st;
	pid_t p = fork();

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
	if (argc != 2) {
		fprintf(stderr, "usage: %s N\n", argv[0]);
		return 2;
	}
	long n = parse_long(argv[1], "N");

	wait_go();
	for (long i = 0; i < n / 10 + 1; i++)
		once();
	unsigned long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		once();
	report(n, t0, now_ns());
	return 0;
}
