/* http_get(): what reachctl fetches the agents' ledgers with. A loopback
 * server, plain or TLS, answers each test's script; the client's side is
 * checked byte for byte (body, status, bound, token, connect address). */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ship/http_post.h"

#define TOKEN "tok-Get.5f0e-91"
#define AGENT_NAME "agent.reach.test" /* resolves nowhere: only connect_addr reaches it */

/* Ports 18631-18634 are this test's. */
enum {
	PORT_PLAIN = 18631,
	PORT_TLS,
	PORT_SLOW,
	PORT_CLOSED, /* nothing listens: refused (and the dead proxy of one test) */
};

/* ---- libssl, for the TLS server: linked by libcurl, looked up at run time ---- */

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

static bool load_libssl(void)
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

/* ---- the loopback server: one connection at a time, one answer for all ---- */

struct answer {
	int status;
	const uint8_t *body;
	size_t len;
	bool no_length;  /* no Content-Length: the body ends when the connection closes */
	int delay_ms;
};

struct srv {
	int port, lfd;
	SSL_CTX *tls;
	pthread_t thread;
	atomic_int stop;
	pthread_mutex_t mu;
	struct answer ans;
	int n_reqs;
	char method[16], path[128], auth[256], host[128]; /* of the last request */
};

struct conn {
	int fd;
	SSL *ssl;
};

static ssize_t conn_read(struct conn *c, void *buf, size_t n)
{
	if (c->ssl) {
		int r = ssl.SSL_read(c->ssl, buf, (int)n);

		return r > 0 ? r : -1;
	}
	return recv(c->fd, buf, n, 0);
}

static void conn_write(struct conn *c, const void *buf, size_t n)
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

static void header_value(const char *head, const char *name, char *out, size_t size)
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

static void serve_one(struct srv *s, int fd)
{
	struct timeval tv = { .tv_sec = 5 };
	struct conn c = { .fd = fd };
	char head[8192] = "", line[256];
	size_t got = 0;
	struct answer a;
	int n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (s->tls) {
		c.ssl = ssl.SSL_new(s->tls);
		ssl.SSL_set_fd(c.ssl, fd);
		if (ssl.SSL_accept(c.ssl) != 1)
			goto out; /* the client refused the certificate */
	}
	while (!strstr(head, "\r\n\r\n")) {
		ssize_t r;

		if (got == sizeof(head) - 1 || (r = conn_read(&c, head + got, sizeof(head) - 1 - got)) <= 0)
			goto out;
		got += (size_t)r;
		head[got] = '\0';
	}
	pthread_mutex_lock(&s->mu);
	s->n_reqs++;
	sscanf(head, "%15s %127s", s->method, s->path);
	header_value(head, "Authorization", s->auth, sizeof(s->auth));
	header_value(head, "Host", s->host, sizeof(s->host));
	a = s->ans;
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < a.delay_ms / 10 && !atomic_load(&s->stop); i++)
		usleep(10000);
	n = snprintf(line, sizeof(line), "HTTP/1.1 %d Test\r\nConnection: close\r\n", a.status);
	if (!a.no_length)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "Content-Length: %zu\r\n", a.len);
	n += snprintf(line + n, sizeof(line) - (size_t)n, "\r\n");
	conn_write(&c, line, (size_t)n);
	conn_write(&c, a.body, a.len);
out:
	if (c.ssl) {
		ssl.SSL_shutdown(c.ssl);
		ssl.SSL_free(c.ssl);
	}
	close(fd);
}

static void *srv_run(void *arg)
{
	struct srv *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = { .fd = s->lfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 50) <= 0)
			continue;
		if ((fd = accept(s->lfd, NULL, NULL)) >= 0)
			serve_one(s, fd);
	}
	return NULL;
}

static void srv_start(struct srv *s, int port, SSL_CTX *tls, struct answer a)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->port = port;
	s->tls = tls;
	s->ans = a;
	pthread_mutex_init(&s->mu, NULL);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)))
		fail_msg("bind 127.0.0.1:%d: %s", port, strerror(errno));
	assert_int_equal(listen(s->lfd, 16), 0);
	assert_int_equal(pthread_create(&s->thread, NULL, srv_run, s), 0);
}

static void srv_answer(struct srv *s, struct answer a)
{
	pthread_mutex_lock(&s->mu);
	s->ans = a;
	pthread_mutex_unlock(&s->mu);
}

static int srv_reqs(struct srv *s)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->n_reqs;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void srv_stop(struct srv *s)
{
	if (!s->port)
		return;
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	close(s->lfd);
	pthread_mutex_destroy(&s->mu);
	s->port = 0;
}

/* ---- fixture ------------------------------------------------------------------ */

struct fx {
	char dir[PATH_MAX];
	char token[PATH_MAX + 16], cert[PATH_MAX + 16], url[256];
	struct srv srv;
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/reach-get-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->token, sizeof(f->token), "%s/token", f->dir);
	snprintf(f->cert, sizeof(f->cert), "%s/cert.pem", f->dir);
	write_file(f->token, TOKEN " \t\n"); /* trailing whitespace is trimmed */
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc;

	srv_stop(&f->srv);
	rc = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

static struct http_target target(struct fx *f, const char *scheme, const char *host, int port)
{
	struct http_target t = { .url = f->url, .token_file = f->token, .timeout_ms = 5000 };

	snprintf(f->url, sizeof(f->url), "%s://%s:%d/v1/ledger", scheme, host, port);
	return t;
}

/* ---- tests -------------------------------------------------------------------- */

/* A binary body (NULs and all) arrives whole, with the trimmed token. */
static void test_body_and_token(void **state)
{
	struct fx *f = *state;
	static uint8_t big[300000];
	struct http_target t = target(f, "http", "127.0.0.1", PORT_PLAIN);
	struct http_result res;
	void *body = NULL;
	size_t len = 0;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 131 + (i >> 9));
	srv_start(&f->srv, PORT_PLAIN, NULL, (struct answer){ .status = 200, .body = big, .len = sizeof(big) });
	assert_int_equal(http_get(&t, 0, &body, &len, &res), 0);
	assert_int_equal(res.status, 200);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(body, big, sizeof(big));
	assert_int_equal(((uint8_t *)body)[len], 0);
	assert_string_equal(f->srv.method, "GET");
	assert_string_equal(f->srv.path, "/v1/ledger");
	assert_string_equal(f->srv.auth, "Bearer " TOKEN);
	free(body);

	/* the same body without a Content-Length (ends at close) */
	srv_answer(&f->srv, (struct answer){ .status = 200, .body = big, .len = sizeof(big), .no_length = true });
	assert_int_equal(http_get(&t, 0, &body, &len, &res), 0);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(body, big, sizeof(big));
	free(body);

	/* an empty body is an empty string, not NULL */
	srv_answer(&f->srv, (struct answer){ .status = 204 });
	assert_int_equal(http_get(&t, 0, &body, &len, &res), 0);
	assert_int_equal(res.status, 204);
	assert_int_equal(len, 0);
	assert_non_null(body);
	assert_int_equal(((char *)body)[0], '\0');
	free(body);
}

/* Any status is an answer: the caller judges it. Without a token file no
 * Authorization is sent. */
static void test_status_without_token(void **state)
{
	struct fx *f = *state;
	static const char why[] = "unauthorized\n";
	struct http_target t = target(f, "http", "127.0.0.1", PORT_PLAIN);
	struct http_result res;
	void *body = NULL;
	size_t len = 0;

	t.token_file = NULL;
	srv_start(&f->srv, PORT_PLAIN, NULL,
		  (struct answer){ .status = 401, .body = (const uint8_t *)why, .len = sizeof(why) - 1 });
	assert_int_equal(http_get(&t, 0, &body, &len, &res), 0);
	assert_int_equal(res.status, 401);
	assert_string_equal(body, why);
	assert_string_equal(f->srv.auth, "");
	free(body);
}

/* Over max_body, announced or streamed: -EFBIG and no body. At the bound: fine. */
static void test_body_bound(void **state)
{
	struct fx *f = *state;
	static uint8_t data[5000];
	struct http_target t = target(f, "http", "127.0.0.1", PORT_PLAIN);
	struct http_result res;
	void *body = (void *)1;
	size_t len = 7;

	memset(data, 'x', sizeof(data));
	srv_start(&f->srv, PORT_PLAIN, NULL, (struct answer){ .status = 200, .body = data, .len = 1001 });
	assert_int_equal(http_get(&t, 1000, &body, &len, &res), -EFBIG);
	assert_null(body);
	assert_int_equal(len, 0);
	assert_non_null(strstr(res.error, "1000-byte bound"));

	srv_answer(&f->srv, (struct answer){ .status = 200, .body = data, .len = sizeof(data), .no_length = true });
	assert_int_equal(http_get(&t, 1000, &body, &len, &res), -EFBIG);
	assert_null(body);

	srv_answer(&f->srv, (struct answer){ .status = 200, .body = data, .len = 1000, .no_length = true });
	assert_int_equal(http_get(&t, 1000, &body, &len, &res), 0);
	assert_int_equal(len, 1000);
	free(body);
}

/* No answer: refused, timed out, a token that cannot be used. The token
 * never appears in an error. */
static void test_failures(void **state)
{
	struct fx *f = *state;
	static const char ok[] = "late";
	struct http_target t = target(f, "http", "127.0.0.1", PORT_CLOSED);
	struct http_result res;
	void *body = NULL;
	size_t len = 0;
	int rc;

	rc = http_get(&t, 0, &body, &len, &res);
	assert_int_equal(rc, -EIO);
	assert_int_equal(res.status, 0);
	assert_null(body);
	assert_true(res.error[0] != '\0');
	assert_null(strstr(res.error, TOKEN));

	srv_start(&f->srv, PORT_SLOW, NULL,
		  (struct answer){ .status = 200, .body = (const uint8_t *)ok, .len = 4, .delay_ms = 2000 });
	t = target(f, "http", "127.0.0.1", PORT_SLOW);
	t.timeout_ms = 300;
	assert_int_equal(http_get(&t, 0, &body, &len, &res), -ETIMEDOUT);
	assert_null(body);
	assert_null(strstr(res.error, TOKEN));

	/* a token on two lines could inject a header: refused before connecting */
	write_file(f->token, TOKEN "\nX-Evil: 1\n");
	rc = http_get(&t, 0, &body, &len, &res);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(res.error, f->token));
	assert_non_null(strstr(res.error, "more than one line"));
	assert_null(strstr(res.error, TOKEN));
	assert_null(strstr(res.error, "Evil"));

	unlink(f->token);
	rc = http_get(&t, 0, &body, &len, &res);
	assert_int_equal(rc, -ENOENT);
	assert_non_null(strstr(res.error, f->token));
	assert_int_equal(srv_reqs(&f->srv), 1); /* only the timed-out one */
}

/* connect_addr: one address behind a name; the name stays in the Host
 * header, and a proxy from the environment is not used. */
static void test_connect_addr(void **state)
{
	struct fx *f = *state;
	static const char ledger[] = "REACHLG1...";
	struct http_target t = target(f, "http", AGENT_NAME, PORT_PLAIN);
	struct http_result res;
	char host[64], proxy[64];
	void *body = NULL;
	size_t len = 0;

	srv_start(&f->srv, PORT_PLAIN, NULL,
		  (struct answer){ .status = 200, .body = (const uint8_t *)ledger, .len = sizeof(ledger) - 1 });
	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", PORT_CLOSED);
	setenv("http_proxy", proxy, 1);
	t.connect_addr = "127.0.0.1";
	assert_int_equal(http_get(&t, 0, &body, &len, &res), 0);
	unsetenv("http_proxy");
	assert_int_equal(res.status, 200);
	assert_string_equal(body, ledger);
	snprintf(host, sizeof(host), "%s:%d", AGENT_NAME, PORT_PLAIN);
	assert_string_equal(f->srv.host, host);
	free(body);

	t.connect_addr = "agent-1";
	assert_int_equal(http_get(&t, 0, &body, &len, &res), -EINVAL);
	assert_non_null(strstr(res.error, "not a numeric"));
	assert_int_equal(srv_reqs(&f->srv), 1);
}

/* https through connect_addr: the certificate is checked against the URL's
 * host (not the address connected to), with the CA file. */
static void test_tls_checks_the_name(void **state)
{
	struct fx *f = *state;
	static const char ledger[] = "over tls";
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_EXTENSION *ext;
	X509_NAME *name;
	X509V3_CTX v3;
	struct http_target t;
	struct http_result res;
	SSL_CTX *ctx;
	void *body = NULL;
	size_t len = 0;
	FILE *out;

	if (!load_libssl())
		skip(); /* libcurl without OpenSSL */
	assert_non_null(k);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)AGENT_NAME, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	assert_non_null(ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:" AGENT_NAME));
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_non_null(out = fopen(f->cert, "w"));
	PEM_write_X509(out, x);
	fclose(out);
	assert_non_null(ctx = ssl.SSL_CTX_new(ssl.TLS_server_method()));
	assert_int_equal(ssl.SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(ssl.SSL_CTX_use_PrivateKey(ctx, k), 1);
	X509_free(x);
	EVP_PKEY_free(k);
	srv_start(&f->srv, PORT_TLS, ctx,
		  (struct answer){ .status = 200, .body = (const uint8_t *)ledger, .len = sizeof(ledger) - 1 });

	/* not in the system store */
	t = target(f, "https", AGENT_NAME, PORT_TLS);
	t.connect_addr = "127.0.0.1";
	assert_true(http_get(&t, 0, &body, &len, &res) < 0);
	if (!strcasestr(res.error, "certificate"))
		fail_msg("untrusted certificate accepted or odd error: %s", res.error);
	assert_null(body);

	/* trusted, and the name matches */
	t.ca_file = f->cert;
	assert_int_equal(http_get(&t, 0, &body, &len, &res), 0);
	assert_int_equal(res.status, 200);
	assert_string_equal(body, ledger);
	free(body);
	body = NULL;

	/* trusted, but the URL names the address: not the certificate's name */
	t = target(f, "https", "127.0.0.1", PORT_TLS);
	t.ca_file = f->cert;
	assert_true(http_get(&t, 0, &body, &len, &res) < 0);
	assert_null(body);
	assert_null(strstr(res.error, TOKEN));
	assert_int_equal(srv_reqs(&f->srv), 1);
	srv_stop(&f->srv);
	ssl.SSL_CTX_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_body_and_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_without_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_addr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_checks_the_name, setup, teardown),
	};

	/* the server writes to clients that may have gone */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
