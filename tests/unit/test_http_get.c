/* http_get(): what reachctl fetches the agents' ledgers with. A loopback
 * server, plain or TLS, answers each test's script; the client's side is
 * checked byte for byte (body, status, bound, token, connect address). */
#include <errno.h>
#include <limits.h>
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/https_client.h"
#include "loopback_http.h"
#include "testutil.h"

#define TOKEN "tok-Get.5f0e-91"
#define AGENT_NAME "agent.reach.test" /* resolves nowhere: only connect_addr reaches it */

/* Ports 18631-18634 are this test's. */
enum {
	PORT_PLAIN = 18631,
	PORT_TLS,
	PORT_SLOW,
	PORT_CLOSED, /* nothing listens: refused (and the dead proxy of one test) */
};

/* ---- the loopback server: one connection at a time, one answer for all ---- */

struct answer {
	int status;
	const uint8_t *body;
	size_t len;
	bool no_length;  /* no Content-Length: the body ends when the connection closes */
	int delay_ms;
};

struct srv {
	struct loopback lb; /* first: the handler casts back */
	struct answer ans;
	int n_reqs;
	char method[16], path[128], auth[256], host[128]; /* of the last request */
};
_Static_assert(offsetof(struct srv, lb) == 0, "serve() casts lb back to its srv");

static void serve(struct loopback *lb, struct conn *c)
{
	struct srv *s = (struct srv *)lb;
	char head[8192] = "", line[256];
	size_t got = 0;
	struct answer a;
	int n;

	while (!strstr(head, "\r\n\r\n")) {
		ssize_t r;

		if (got == sizeof(head) - 1 || (r = conn_read(c, head + got, sizeof(head) - 1 - got)) <= 0)
			return;
		got += (size_t)r;
		head[got] = '\0';
	}
	pthread_mutex_lock(&lb->mu);
	s->n_reqs++;
	sscanf(head, "%15s %127s", s->method, s->path);
	header_value(head, "Authorization", s->auth, sizeof(s->auth));
	header_value(head, "Host", s->host, sizeof(s->host));
	a = s->ans;
	pthread_mutex_unlock(&lb->mu);
	for (int i = 0; i < a.delay_ms / 10 && !atomic_load(&lb->stop); i++)
		usleep(10000);
	n = snprintf(line, sizeof(line), "HTTP/1.1 %d Test\r\nConnection: close\r\n", a.status);
	if (!a.no_length)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "Content-Length: %zu\r\n", a.len);
	n += snprintf(line + n, sizeof(line) - (size_t)n, "\r\n");
	conn_write(c, line, (size_t)n);
	conn_write(c, a.body, a.len);
}

static void srv_start(struct srv *s, int port, SSL_CTX *tls, struct answer a)
{
	memset(s, 0, sizeof(*s));
	s->ans = a;
	loopback_start(&s->lb, port, tls, serve);
}

static void srv_answer(struct srv *s, struct answer a)
{
	pthread_mutex_lock(&s->lb.mu);
	s->ans = a;
	pthread_mutex_unlock(&s->lb.mu);
}

static int srv_reqs(struct srv *s)
{
	int n;

	pthread_mutex_lock(&s->lb.mu);
	n = s->n_reqs;
	pthread_mutex_unlock(&s->lb.mu);
	return n;
}

static void srv_stop(struct srv *s)
{
	if (s->lb.port)
		loopback_stop(&s->lb);
}

/* ---- fixture ------------------------------------------------------------------ */

struct fx {
	char dir[PATH_MAX];
	char token[PATH_MAX + 16], cert[PATH_MAX + 16], url[256];
	struct srv srv;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (make_temp_dir(f->dir, sizeof(f->dir), "reach-get")) {
		free(f);
		return -1;
	}
	snprintf(f->token, sizeof(f->token), "%s/token", f->dir);
	snprintf(f->cert, sizeof(f->cert), "%s/cert.pem", f->dir);
	write_text(f->token, TOKEN " \t\n"); /* trailing whitespace is trimmed */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc;

	srv_stop(&f->srv);
	rc = remove_tree(f->dir);
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
	write_text(f->token, TOKEN "\nX-Evil: 1\n");
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
	struct http_target t;
	struct http_result res;
	SSL_CTX *ctx;
	EVP_PKEY *k;
	X509 *x;
	void *body = NULL;
	size_t len = 0;

	if (!load_libssl())
		skip(); /* libcurl without OpenSSL */
	/* the key stays in memory: only the certificate is the client's CA file */
	make_cert(AGENT_NAME, "DNS:" AGENT_NAME, f->cert, NULL, &x, &k);
	ctx = make_tls_ctx(x, k);
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
