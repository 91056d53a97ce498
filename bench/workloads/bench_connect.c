/* Scenario 1b: connect to a loopback TCP server and close, N times.
 *   bench_connect serve PORT      accept-and-close server (prints "ready")
 *   bench_connect PORT N          the timed client loop
 * The client closes with SO_LINGER {1, 0} (a reset, no TIME_WAIT) so a long
 * loop never runs out of ephemeral ports; the cost measured is socket +
 * connect (full handshake) + close. */
#include "common.h" /* first: defines _GNU_SOURCE */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

static struct sockaddr_in addr_of(long port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static __attribute__((noreturn)) void serve(long port)
{
	struct sockaddr_in a = addr_of(port);
	int one = 1, s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		die("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind");
	if (listen(s, 4096) < 0)
		die("listen");
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0)
			close(c);
		else if (errno != EINTR && errno != ECONNABORTED)
			die("accept");
	}
}

static void once(const struct sockaddr_in *a)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		die("socket");
	if (connect(s, (const struct sockaddr *)a, sizeof(*a)) < 0)
		die("connect");
	setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(s);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		serve(parse_long(argv[2], "PORT"));
	if (argc != 3) {
		fprintf(stderr, "usage: %s serve PORT | %s PORT N\n", argv[0], argv[0]);
		return 2;
	}
	struct sockaddr_in a = addr_of(parse_long(argv[1], "PORT"));
	long n = parse_long(argv[2], "N");

	wait_go();
	for (long i = 0; i < n / 10 + 1; i++)
		once(&a);
	unsigned long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		once(&a);
	report(n, t0, now_ns());
	return 0;
}
