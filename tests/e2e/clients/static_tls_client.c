/* A TLS client linked statically with OpenSSL and then stripped: no SSL_write
 * symbol anywhere for reach to probe. Stands in for Go/rustls-style binaries
 * whose TLS reach cannot see: it must be reported tls-blind, never silently.
 * usage: static_tls_client IP PORT CAFILE */
#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *req = "GET /v1/blind HTTP/1.1\r\nHost: blind\r\nConnection: close\r\n\r\n";
	char buf[256];
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;

	if (argc != 4)
		return 2;
	sa.sin_port = htons(atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 1;
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_locations(ctx, argv[3], NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1 || SSL_write(ssl, req, strlen(req)) <= 0)
		return 1;
	while (SSL_read(ssl, buf, sizeof(buf)) > 0)
		;
	return 0;
}
