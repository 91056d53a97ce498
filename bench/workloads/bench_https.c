/* Scenario 1d: HTTPS keep-alive requests with a bearer token over ONE TLS
 * connection, the way an SDK calls an LLM API.
 *   bench_https PORT N      (server: bench_tls_server PORT)
 * Dynamically linked against libssl (-lssl -lcrypto), so the client's
 * SSL_write goes through the shared library that reach's uprobes (and the
 * bpftrace peer's) are attached to. After "go": connect, TLS 1.3 handshake
 * (certificate not verified: self-signed, loopback), N/10+1 warm-up
 * requests, then N timed requests. One request = one SSL_write of
 *   GET /v1/models HTTP/1.1 + Host, Authorization: Bearer <token>, Accept,
 *   User-Agent, Connection: keep-alive
 * and SSL_reads until the whole response (head + Content-Length body) is
 * in. The token is a fixed fake one, the same in every request, so a sensor
 * that deduplicates sees one credential edge. The output line adds
 * ssl_write_ns_per_iter: the time inside SSL_write (two clock reads per
 * request, ~50 ns, are included in ns_per_iter), and cpu_ns_per_iter: this
 * process's user + system CPU over the timed loop (getrusage) per request,
 * where a uprobe's cost lands. */
#include "common.h" /* first: defines _GNU_SOURCE */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define BENCH_TOKEN "sk-bench-0000000000000000000000000000000000000000notreal"

static __attribute__((noreturn)) void ssl_die(const char *what)
{
	fprintf(stderr, "%s: ", what);
	ERR_print_errors_fp(stderr);
	fprintf(stderr, "\n");
	exit(1);
}

static char buf[16384];

/* Reads one response: head up to the blank line, then Content-Length bytes. */
static void read_response(SSL *ssl)
{
	size_t used = 0, need = 0;
	char *end = NULL;

	for (;;) {
		int n = SSL_read(ssl, buf + used, (int)(sizeof(buf) - 1 - used));

		if (n <= 0)
			ssl_die("SSL_read");
		used += (size_t)n;
		buf[used] = '\0';
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			const char *cl = strcasestr(buf, "\r\ncontent-length:");

			if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0 || !cl || cl > end) {
				fprintf(stderr, "unexpected response: %.80s\n", buf);
				exit(1);
			}
			need = (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10);
			if (need >= sizeof(buf)) {
				fprintf(stderr, "response too large\n");
				exit(1);
			}
		}
		if (end && used >= need) {
			if (used > need) {
				fprintf(stderr, "more bytes than one response\n");
				exit(1);
			}
			return;
		}
		if (used == sizeof(buf) - 1) {
			fprintf(stderr, "response head too large\n");
			exit(1);
		}
	}
}

static unsigned long long write_ns; /* time inside SSL_write, timed loop only */

/* user + system CPU of this process, ns */
static unsigned long long cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((unsigned long long)ru.ru_utime.tv_sec + (unsigned long long)ru.ru_stime.tv_sec) * 1000000000ULL +
	       ((unsigned long long)ru.ru_utime.tv_usec + (unsigned long long)ru.ru_stime.tv_usec) * 1000ULL;
}

static void request(SSL *ssl, const char *req, int len, int timed)
{
	unsigned long long w0 = timed ? now_ns() : 0;

	if (SSL_write(ssl, req, len) != len)
		ssl_die("SSL_write");
	if (timed)
		write_ns += now_ns() - w0;
	read_response(ssl);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char req[512];
	int one = 1, len, s;
	SSL_CTX *ctx;
	SSL *ssl;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PORT N\n", argv[0]);
		return 2;
	}
	long port = parse_long(argv[1], "PORT"), n = parse_long(argv[2], "N");

	len = snprintf(req, sizeof(req),
		       "GET /v1/models HTTP/1.1\r\nHost: api.bench.local:%ld\r\nAuthorization: Bearer " BENCH_TOKEN
		       "\r\nAccept: application/json\r\nUser-Agent: reach-bench/1\r\nConnection: keep-alive\r\n\r\n",
		       port);
	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	wait_go();
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		ssl_die("SSL_CTX_new");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("socket");
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, s) != 1 || SSL_set_tlsext_host_name(ssl, "api.bench.local") != 1 ||
	    SSL_connect(ssl) != 1)
		ssl_die("TLS handshake");

	for (long i = 0; i < n / 10 + 1; i++)
		request(ssl, req, len, 0);
	unsigned long long c0 = cpu_ns(), t0 = now_ns();
	for (long i = 0; i < n; i++)
		request(ssl, req, len, 1);
	unsigned long long t1 = now_ns(), c1 = cpu_ns();
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(s);
	SSL_CTX_free(ctx);
	/* common.h's line plus the time spent inside SSL_write (the rest of a
	 * request is waiting for and decrypting the answer) */
	printf("{\"iters\":%ld,\"ns\":%llu,\"ns_per_iter\":%.1f,\"t0\":%llu,\"t1\":%llu,"
	       "\"ssl_write_ns_per_iter\":%.1f,\"cpu_ns_per_iter\":%.1f}\n",
	       n, t1 - t0, (double)(t1 - t0) / (double)n, t0, t1, (double)write_ns / (double)n,
	       (double)(c1 - c0) / (double)n);
	fflush(stdout);
	return 0;
}
