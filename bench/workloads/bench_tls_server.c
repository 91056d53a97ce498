/* The loopback TLS server of the https workload (scenario 1d).
 *   bench_tls_server PORT     prints "ready" once listening
 *
 * One connection at a time (the harness runs its clients one after the
 * other): TLS 1.3 handshake with an in-memory self-signed P-256 certificate
 * (no key file on disk, so nothing here looks like a secret to a sensor),
 * then HTTP/1.1 keep-alive: every request head (up to the blank line) gets
 * the same small JSON answer with a Content-Length, in one SSL_write. Built
 * statically against libssl.a/libcrypto.a by bench/run.py: the uprobes that
 * reach and bpftrace attach to the shared libssl then fire in the client
 * only, and the server's own writes cost the same in every configuration. */
#include "common.h" /* first: defines _GNU_SOURCE */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

static const char body[] = "{\"object\":\"list\",\"data\":[{\"id\":\"bench-model\",\"object\":\"model\",\"owned_by\":\"reach\"}]}";

static __attribute__((noreturn)) void ssl_die(const char *what)
{
	fprintf(stderr, "%s: ", what);
	ERR_print_errors_fp(stderr);
	fprintf(stderr, "\n");
	exit(1);
}

static SSL_CTX *make_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *crt = X509_new();
	X509_NAME *name;

	if (!ctx || !key || !crt)
		ssl_die("tls setup");
	ASN1_INTEGER_set(X509_get_serialNumber(crt), 1);
	X509_gmtime_adj(X509_getm_notBefore(crt), -60);
	X509_gmtime_adj(X509_getm_notAfter(crt), 86400);
	X509_set_pubkey(crt, key);
	name = X509_get_subject_name(crt);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"api.bench.local", -1, -1, 0);
	X509_set_issuer_name(crt, name);
	if (!X509_sign(crt, key, EVP_sha256()) || SSL_CTX_use_certificate(ctx, crt) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1)
		ssl_die("self-signed certificate");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_num_tickets(ctx, 0);
	X509_free(crt);
	EVP_PKEY_free(key);
	return ctx;
}

/* Serves one connection until the client closes it. */
static void serve_conn(SSL_CTX *ctx, int fd)
{
	char resp[512], buf[16384];
	int one = 1, rlen, used = 0;
	SSL *ssl = SSL_new(ctx);

	rlen = snprintf(resp, sizeof(resp),
			"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
			"Connection: keep-alive\r\n\r\n%s",
			sizeof(body) - 1, body);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1)
		goto out;
	for (;;) {
		char *end;
		int n = SSL_read(ssl, buf + used, (int)sizeof(buf) - 1 - used);

		if (n <= 0)
			break;
		used += n;
		buf[used] = '\0';
		/* answer every complete head in the buffer (GETs: no bodies) */
		while ((end = strstr(buf, "\r\n\r\n"))) {
			int consumed = (int)(end + 4 - buf);

			if (SSL_write(ssl, resp, rlen) != rlen)
				goto out;
			memmove(buf, buf + consumed, (size_t)(used - consumed) + 1);
			used -= consumed;
		}
		if (used == (int)sizeof(buf) - 1)
			break; /* no head end in 16 KiB: not our client */
	}
out:
	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
	ERR_clear_error();
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int one = 1, s;
	SSL_CTX *ctx;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	ctx = make_ctx();
	a.sin_port = htons((unsigned short)parse_long(argv[1], "PORT"));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind");
	if (listen(s, 64) < 0)
		die("listen");
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0)
			serve_conn(ctx, c);
		else if (errno != EINTR && errno != ECONNABORTED)
			die("accept");
	}
}
