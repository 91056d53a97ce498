/* Scenario 1a / 2: open, read and close one file N times.
 * usage: bench_open PATH N */
#include "common.h" /* first: defines _GNU_SOURCE */
#include <fcntl.h>

static void once(const void *arg)
{
	const char *path = arg;
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

	timed_loop(n, once, argv[1]);
	return 0;
}
