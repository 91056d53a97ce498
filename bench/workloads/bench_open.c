/* Scenario 1a / 2: open, read and close one file N times.
 * usage: bench_open PATH N */
#include "common.h" /* first: defines _GNU_SOURCE */
#include <fcntl.h>

static void once(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		die("open");
	if (read(fd, buf, sizeof(buf)) < 0)
		die("read");
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s PATH N\n", argv[0]);
		return 2;
	}
	long n = parse_long(argv[2], "N");

	wait_go();
	for (long i = 0; i < n / 10 + 1; i++)
		once(argv[1]);
	unsigned long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		once(argv[1]);
	report(n, t0, now_ns());
	return 0;
}
