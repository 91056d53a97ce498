/* A loopback HTTP/1.1 server for the client tests (test_sink, test_http_get):
 * plain or TLS, one connection at a time, on 127.0.0.1:PORT. The server
 * accepts, does the TLS handshake and closes; what is read and answered is
 * the test's handler. Also a self-signed certificate for it.
 *
 * Header-only (each test binary is built from one .c file); include it after
 * <cmocka.h>. The test's main ignores SIGPIPE: the server writes to clients
 * that may have gone.
 *
 * libssl: the unit tests link libcrypto but not libssl; libcurl does, so
 * libssl is in the process already and its functions are looked up at run
 * time (load_libssl(); a test without it skips). */
#ifndef REACH_TESTS_LOOPBACK_HTTP_H
#define REACH_TESTS_LOOPBACK_HTTP_H

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* ---- libssl, looked up at run time ------------------------------------------- */

static struct {
	typeof(&TLS_server_method) TLS_server_method;
	typeof(&SSL_CTX_new) SSL_CTX_new;
	typeof(&SSL_CTX_free) SSL_CTX_free;
	typeof(&SSL_CTX_use_certificate) SSL_CTX_use_certificate;
	typeof(&SSL_CTX_use_PrivateKey) SSL_CTX_use_PrivateKey;
	typeof(&SSL_new) SSL_new;
	typeof(&SSL_free) SSL_free;
	typeof(&SSL_set_fd) SSL_set_fd;
	typeof(&SSL_accept) SSL_accept;
	typeof(&SSL_read) SSL_read;
	typeof(&SSL_write) SSL_write;
	typeof(&SSL_shutdown) SSL_shutdown;
} ssl;

static inline bool load_libssl(void)
{
	bool ok = true;

#define LOAD(fn) ok = ok && (ssl.fn = (typeof(ssl.fn))dlsym(RTLD_DEFAULT, #fn)) != NULL
	LOAD(TLS_server_method);
	LOAD(SSL_CTX_new);
	LOAD(SSL_CTX_free);
	LOAD(SSL_CTX_use_certificate);
	LOAD(SSL_CTX_use_PrivateKey);
	LOAD(SSL_new);
	LOAD(SSL_free);
	LOAD(SSL_set_fd);
	LOAD(SSL_accept);
	LOAD(SSL_read);
	LOAD(SSL_write);
	LOAD(SSL_shutdown);
#undef LOAD
	return ok;
}

/* ---- one accepted connection ---------------------------------------------------- */

struct conn {
	int fd;
	SSL *ssl; /* NULL: plain HTTP */
};

static inline ssize_t conn_read(struct conn *c, void *buf, size_t n)
{
	if (c->ssl) {
		int r = ssl.SSL_read(c->ssl, buf, (int)n);

		return r > 0 ? r : -1;
	}
	return recv(c->fd, buf, n, 0);
}

static inline void conn_write(struct conn *c, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t w = c->ssl ? ssl.SSL_write(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n)
				   : send(c->fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return; /* the client went away (e.g. it refused the body): nothing to do */
		p += w;
		n -= (size_t)w;
	}
}

/* Value of header name (case-insensitive) in the header block, or "". */
static inline void header_value(const char *head, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	const char *p = strstr(head, "\r\n");

	out[0] = '\0';
	while (p && p[2]) {
		p += 2;
		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1, *e = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(out, size, "%.*s", (int)(e ? e - v : (ptrdiff_t)strlen(v)), v);
			return;
		}
		p = strstr(p, "\r\n");
	}
}

/* ---- the server --------------------------------------------------------------- */

struct loopback;

/* Reads the request from c and answers it; the server closes c after. */
typedef void loopback_handler(struct loopback *lb, struct conn *c);

/* Embedded first in the test's own server struct, which the handler gets
 * back by a cast. */
struct loopback {
	int port, lfd;        /* port 0: not started */
	SSL_CTX *tls;         /* NULL: plain HTTP */
	pthread_t thread;
	atomic_int stop;      /* handlers that wait check it too */
	pthread_mutex_t mu;   /* guards what the handler records */
	loopback_handler *handle;
};

static inline void loopback_serve_one(struct loopback *lb, int fd)
{
	struct timeval tv = { .tv_sec = 5 };
	struct conn c = { .fd = fd };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (lb->tls) {
		c.ssl = ssl.SSL_new(lb->tls);
		ssl.SSL_set_fd(c.ssl, fd);
		if (ssl.SSL_accept(c.ssl) != 1)
			goto out; /* e.g. the client refused our certificate */
	}
	lb->handle(lb, &c);
out:
	if (c.ssl) {
		ssl.SSL_shutdown(c.ssl);
		ssl.SSL_free(c.ssl);
	}
	close(fd);
}

static inline void *loopback_run(void *arg)
{
	struct loopback *lb = arg;

	while (!atomic_load(&lb->stop)) {
		struct pollfd p = { .fd = lb->lfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 50) <= 0)
			continue;
		if ((fd = accept(lb->lfd, NULL, NULL)) >= 0)
			loopback_serve_one(lb, fd);
	}
	return NULL;
}

/* Listens on 127.0.0.1:port and serves each connection with handle. */
static inline void loopback_start(struct loopback *lb, int port, SSL_CTX *tls, loopback_handler *handle)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;

	lb->port = port;
	lb->tls = tls;
	lb->handle = handle;
	pthread_mutex_init(&lb->mu, NULL);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lb->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lb->lfd >= 0);
	setsockopt(lb->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lb->lfd, (struct sockaddr *)&sa, sizeof(sa)))
		fail_msg("bind 127.0.0.1:%d: %s", port, strerror(errno));
	assert_int_equal(listen(lb->lfd, 16), 0);
	atomic_store(&lb->stop, 0);
	assert_int_equal(pthread_create(&lb->thread, NULL, loopback_run, lb), 0);
}

/* Stops the thread (a handler that waits sees stop) and closes the socket. */
static inline void loopback_stop(struct loopback *lb)
{
	atomic_store(&lb->stop, 1);
	pthread_join(lb->thread, NULL);
	close(lb->lfd);
	pthread_mutex_destroy(&lb->mu);
	lb->port = 0;
}

/* ---- a self-signed certificate ------------------------------------------------- */

/* A P-256 certificate for CN with the subjectAltName san ("IP:127.0.0.1",
 * "DNS:name"), valid from an hour ago for a day, written as PEM to
 * cert_path, and its key to key_path unless that is NULL. Both are returned
 * if x_out and k_out are given (the caller frees them), else freed. */
static inline void make_cert(const char *cn, const char *san, const char *cert_path, const char *key_path,
			     X509 **x_out, EVP_PKEY **k_out)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	FILE *out;

	assert_non_null(k);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_non_null(out = fopen(cert_path, "w"));
	PEM_write_X509(out, x);
	fclose(out);
	if (key_path) {
		assert_non_null(out = fopen(key_path, "w"));
		PEM_write_PrivateKey(out, k, NULL, NULL, 0, NULL, NULL);
		fclose(out);
	}
	if (x_out && k_out) {
		*x_out = x;
		*k_out = k;
	} else {
		X509_free(x);
		EVP_PKEY_free(k);
	}
}

/* A server context that presents x with key k; frees both. Needs load_libssl(). */
static inline SSL_CTX *make_tls_ctx(X509 *x, EVP_PKEY *k)
{
	SSL_CTX *ctx = ssl.SSL_CTX_new(ssl.TLS_server_method());

	assert_non_null(ctx);
	assert_int_equal(ssl.SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(ssl.SSL_CTX_use_PrivateKey(ctx, k), 1);
	X509_free(x);
	EVP_PKEY_free(k);
	return ctx;
}

#endif
