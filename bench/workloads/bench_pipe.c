/* Scenario 7: writes of SIZE bytes to a pipe that a forked child drains,
 * N times. The bytes do not look like JSON-RPC ('x'), so a monitored
 * writer pays reach's 16-byte peek on every write and nothing more: the
 * cost of the MCP (JSON-RPC on pipes) capture for a program that is no
 * MCP client.
 * usage: bench_pipe SIZE N */
#include "common.h" /* first: defines _GNU_SOURCE */
#include <sys/wait.h>

static int wfd;
static size_t size;
static char *buf;

static void once(const void *arg)
{
	size_t off = 0;

	(void)arg;
	while (off < size) {
		ssize_t n = write(wfd, buf + off, size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write");
		off += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	int fds[2], status;
	pid_t child;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SIZE N\n", argv[0]);
		return 2;
	}
	size = (size_t)parse_long(argv[1], "SIZE");
	long n = parse_long(argv[2], "N");

	if (!(buf = malloc(size)))
		die("malloc");
	memset(buf, 'x', size);
	if (pipe(fds))
		die("pipe");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		/* the reader: drains until the writer closes */
		static char sink[1 << 16];

		close(fds[1]);
		while (read(fds[0], sink, sizeof(sink)) > 0)
			;
		_exit(0);
	}
	close(fds[0]);
	wfd = fds[1];
	timed_loop(n, once, NULL);
	close(wfd);
	if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		die("reader");
	free(buf);
	return 0;
}
