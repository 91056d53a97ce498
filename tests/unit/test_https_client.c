/* common/https_client: what http_post()/http_get() do not already cover in
 * test_sink and test_http_get. The bearer token file loader; the token read
 * again at every request; methods, extra headers and a body; a streamed
 * response; timeouts; cancellation from another thread; error text that
 * never carries the token or a URL's credentials; Retry-After. A loopback
 * server (tests/unit/loopback_http.h) on an ephemeral port answers. */
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

#define TOKEN_A "tok-A.9f3c-Qx71"
#define TOKEN_B "tok-B.44e1-Lm20"

/* ---- the loopback server ---------------------------------------------------- */

struct answer {
	int status;
	const char *headers; /* extra header lines, each ending in \r\n */
	const char *body;
	int delay_ms;        /* before the status line */
	int pieces;          /* > 1: the body in that many pieces, piece_ms apart, no Content-Length */
	int piece_ms;
	bool echo_auth;      /* the body is the request's Authorization value */
};

struct srv {
	struct loopback lb; /* first: the handler casts back */
	struct answer ans;
	int n_reqs;
	/* of the last request */
	char method[16], path[256], auth[256], ctype[128], xtest[128], body[1024];
};
_Static_assert(offsetof(struct srv, lb) == 0, "serve() casts lb back to its srv");

static void serve(struct loopback *lb, struct conn *c)
{
	struct srv *s = (struct srv *)lb;
	char head[8192] = "", line[1024], clen[32], *end, body[1024] = "";
	size_t got = 0, blen = 0, want;
	struct answer a;
	int n;

	while (!(end = strstr(head, "\r\n\r\n"))) {
		ssize_t r;

		if (got == sizeof(head) - 1 || (r = conn_read(c, head + got, sizeof(head) - 1 - got)) <= 0)
			return;
		got += (size_t)r;
		head[got] = '\0';
	}
	header_value(head, "Content-Length", clen, sizeof(clen));
	want = (size_t)strtoul(clen, NULL, 10);
	blen = got - (size_t)(end + 4 - head);
	memcpy(body, end + 4, blen < sizeof(body) - 1 ? blen : sizeof(body) - 1);
	while (blen < want && blen < sizeof(body) - 1) {
		ssize_t r = conn_read(c, body + blen, sizeof(body) - 1 - blen);

		if (r <= 0)
			break;
		blen += (size_t)r;
	}
	body[blen < sizeof(body) ? blen : sizeof(body) - 1] = '\0';
	pthread_mutex_lock(&lb->mu);
	s->n_reqs++;
	sscanf(head, "%15s %255s", s->method, s->path);
	header_value(head, "Authorization", s->auth, sizeof(s->auth));
	header_value(head, "Content-Type", s->ctype, sizeof(s->ctype));
	header_value(head, "X-Test", s->xtest, sizeof(s->xtest));
	snprintf(s->body, sizeof(s->body), "%s", body);
	a = s->ans;
	if (a.echo_auth)
		a.body = s->auth;
	pthread_mutex_unlock(&lb->mu);
	for (int i = 0; i < a.delay_ms / 10 && !atomic_load(&lb->stop); i++)
		usleep(10000);
	if (!a.body)
		a.body = "";
	n = snprintf(line, sizeof(line), "HTTP/1.1 %d Test\r\nConnection: close\r\n%s", a.status,
		     a.headers ? a.headers : "");
	if (a.pieces <= 1)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "Content-Length: %zu\r\n", strlen(a.body));
	n += snprintf(line + n, sizeof(line) - (size_t)n, "\r\n");
	conn_write(c, line, (size_t)n);
	if (a.pieces <= 1) {
		conn_write(c, a.body, strlen(a.body));
		return;
	}
	for (int i = 0; i < a.pieces && !atomic_load(&lb->stop); i++) {
		size_t len = strlen(a.body), from = len * (size_t)i / (size_t)a.pieces,
		       to = len * (size_t)(i + 1) / (size_t)a.pieces;

		conn_write(c, a.body + from, to - from);
		for (int j = 0; j < a.piece_ms / 10 && !atomic_load(&lb->stop); j++)
			usleep(10000);
	}
}

/* Listens on an ephemeral port (tests of other trees run beside this one). */
static void srv_start(struct srv *s, struct answer a)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	memset(s, 0, sizeof(*s));
	s->ans = a;
	loopback_start(&s->lb, 0, NULL, serve);
	assert_int_equal(getsockname(s->lb.lfd, (struct sockaddr *)&sa, &sl), 0);
	s->lb.port = ntohs(sa.sin_port);
}

static void srv_answer(struct srv *s, struct answer a)
{
	pthread_mutex_lock(&s->lb.mu);
	s->ans = a;
	pthread_mutex_unlock(&s->lb.mu);
}

static void srv_stop(struct srv *s)
{
	if (s->lb.port)
		loopback_stop(&s->lb);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- fixture ------------------------------------------------------------------ */

struct fx {
	char dir[PATH_MAX];
	char token[PATH_MAX + 16], url[512];
	struct srv srv;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (make_temp_dir(f->dir, sizeof(f->dir), "reach-https")) {
		free(f);
		return -1;
	}
	snprintf(f->token, sizeof(f->token), "%s/token", f->dir);
	write_text(f->token, "\n " TOKEN_A " \t\n"); /* surrounding whitespace is trimmed */
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

static struct http_target target(struct fx *f, const char *path)
{
	struct http_target t = { .url = f->url, .token_file = f->token, .timeout_ms = 5000 };

	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d%s", f->srv.lb.port, path);
	return t;
}

/* ---- the token loader ---------------------------------------------------------- */

static void expect_refused(struct fx *f, const char *content, int want_rc, const char *why)
{
	char err[512] = "", *tok = (char *)1;

	write_text(f->token, content);
	assert_int_equal(http_token_load(f->token, 64, &tok, err, sizeof(err)), want_rc);
	assert_null(tok);
	assert_non_null(strstr(err, f->token)); /* names the file */
	if (why)
		assert_non_null(strstr(err, why));
	assert_null(strstr(err, "SECRETPART"));
}

static void test_token_loader(void **state)
{
	struct fx *f = *state;
	char err[512] = "", *tok = NULL;

	assert_int_equal(http_token_load(f->token, 0, &tok, err, sizeof(err)), 0);
	assert_string_equal(tok, TOKEN_A);
	http_token_free(tok);
	http_token_free(NULL);

	expect_refused(f, " \n\t\n", -EINVAL, "empty");
	expect_refused(f, "", -EINVAL, "empty");
	expect_refused(f, "SECRETPART\nX-Evil: 1\n", -EINVAL, "more than one line");
	expect_refused(f, "SECRETPART\rX", -EINVAL, "more than one line");
	expect_refused(f, "SECRETPART\001X", -EINVAL, "control characters");
	/* over the bound: 64 bytes here */
	expect_refused(f, "SECRETPART-0123456789012345678901234567890123456789012345678901234567890123456789", -EFBIG,
		       NULL);
	unlink(f->token);
	assert_int_equal(http_token_load(f->token, 0, &tok, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, f->token));
	/* a directory */
	assert_true(http_token_load(f->dir, 0, &tok, err, sizeof(err)) < 0);
	assert_null(tok);
}

/* ---- requests ------------------------------------------------------------------ */

/* A rotated token is used at the next request: the file is read every time. */
static void test_token_reread(void **state)
{
	struct fx *f = *state;
	struct http_result res;
	struct http_target t;

	srv_start(&f->srv, (struct answer){ .status = 204 });
	t = target(f, "/x");
	assert_int_equal(http_post(&t, "text/plain", "a", 1, false, &res), 0);
	assert_int_equal(res.status, 204);
	assert_int_equal(res.fail, HTTP_FAIL_NONE);
	assert_string_equal(f->srv.auth, "Bearer " TOKEN_A);
	write_text(f->token, TOKEN_B "\n");
	assert_int_equal(http_post(&t, "text/plain", "a", 1, false, &res), 0);
	assert_string_equal(f->srv.auth, "Bearer " TOKEN_B);
	/* gone: no request is sent, the error names the file only */
	unlink(f->token);
	assert_int_equal(http_post(&t, "text/plain", "a", 1, false, &res), -ENOENT);
	assert_int_equal(res.fail, HTTP_FAIL_TOKEN);
	assert_int_equal(res.status, 0);
	assert_non_null(strstr(res.error, f->token));
	assert_int_equal(f->srv.n_reqs, 2);
}

/* Methods other than GET and POST, extra headers, a body kept back. */
static void test_methods_and_headers(void **state)
{
	struct fx *f = *state;
	static const char *const hdrs[] = { "X-Test: yes", NULL };
	static const char *const bad[] = { "X-Test: a\r\nX-Evil: 1", NULL };
	struct http_result res;
	struct http_target t;
	struct http_request rq = {
		.method = "PUT", .body = "{\"a\":1}", .len = 7, .content_type = "application/json", .headers = hdrs,
		.max_body = 100,
	};

	srv_start(&f->srv, (struct answer){ .status = 200, .body = "done" });
	t = target(f, "/obj");
	assert_int_equal(http_request(&t, &rq, &res), 0);
	assert_string_equal(f->srv.method, "PUT");
	assert_string_equal(f->srv.path, "/obj");
	assert_string_equal(f->srv.ctype, "application/json");
	assert_string_equal(f->srv.xtest, "yes");
	assert_string_equal(f->srv.body, "{\"a\":1}");
	assert_string_equal(rq.resp_body, "done");
	assert_int_equal(rq.resp_len, 4);
	assert_null(rq.in_flight_token);
	free(rq.resp_body);

	rq = (struct http_request){ .method = "DELETE" };
	assert_int_equal(http_request(&t, &rq, &res), 0);
	assert_string_equal(f->srv.method, "DELETE");
	assert_null(rq.resp_body); /* max_body 0: nothing kept */

	rq = (struct http_request){ .method = "PATCH", .body = "p", .len = 1 };
	assert_int_equal(http_request(&t, &rq, &res), 0);
	assert_string_equal(f->srv.method, "PATCH");
	assert_string_equal(f->srv.body, "p");
	assert_string_equal(f->srv.ctype, "application/octet-stream");

	/* a header that is two lines is refused before anything is sent */
	rq = (struct http_request){ .headers = bad };
	assert_int_equal(http_request(&t, &rq, &res), -EINVAL);
	assert_int_equal(f->srv.n_reqs, 3);

	/* https only: an http URL is not fetched */
	t.https_only = true;
	rq = (struct http_request){ 0 };
	assert_true(http_request(&t, &rq, &res) < 0);
	assert_int_equal(f->srv.n_reqs, 3);
}

struct stream {
	long status;
	int responses, pieces;
	char got[256];
	size_t len;
	int abort_after; /* > 0: refuse the piece after this many */
	char seen_token[64];
};

static int on_response(void *ctx, long status)
{
	struct stream *s = ctx;

	s->status = status;
	s->responses++;
	return 0;
}

static int on_body(void *ctx, const char *data, size_t n)
{
	struct stream *s = ctx;

	if (s->abort_after && s->pieces >= s->abort_after)
		return -EBADMSG;
	s->pieces++;
	if (n > sizeof(s->got) - 1 - s->len)
		n = sizeof(s->got) - 1 - s->len;
	memcpy(s->got + s->len, data, n);
	s->len += n;
	return 0;
}

/* A 2xx body goes to on_body piece by piece; another status' body is kept
 * (an error message) and cleaned of the token the server echoed. */
static void test_streaming(void **state)
{
	struct fx *f = *state;
	static const char lines[] = "{\"type\":\"ADDED\"}\n{\"type\":\"MODIFIED\"}\n{\"type\":\"DELETED\"}\n";
	struct stream s = { 0 };
	struct http_result res;
	struct http_target t;
	struct http_request rq = { .on_response = on_response, .on_body = on_body, .ctx = &s, .max_body = 4096 };

	srv_start(&f->srv, (struct answer){ .status = 200, .body = lines, .pieces = 3, .piece_ms = 50 });
	t = target(f, "/watch");
	assert_int_equal(http_request(&t, &rq, &res), 0);
	assert_int_equal(s.status, 200);
	assert_int_equal(s.responses, 1);
	assert_true(s.pieces >= 3);
	assert_string_equal(s.got, lines);
	assert_null(rq.resp_body);

	/* the receiver refuses: its error is the result */
	memset(&s, 0, sizeof(s));
	s.abort_after = 1;
	assert_int_equal(http_request(&t, &rq, &res), -EBADMSG);
	assert_int_equal(res.fail, HTTP_FAIL_BODY);
	assert_null(rq.resp_body);

	/* 401 with the token echoed: kept, redacted, not streamed */
	memset(&s, 0, sizeof(s));
	srv_answer(&f->srv, (struct answer){ .status = 401, .echo_auth = true });
	assert_int_equal(http_request(&t, &rq, &res), 0);
	assert_int_equal(res.status, 401);
	assert_int_equal(s.status, 401);
	assert_int_equal(s.pieces, 0);
	assert_non_null(rq.resp_body);
	assert_string_equal(rq.resp_body, "Bearer [redacted]");
	free(rq.resp_body);
}

/* The whole-request timeout, and the idle timeout of a silent stream. */
static void test_timeouts(void **state)
{
	struct fx *f = *state;
	struct stream s = { 0 };
	struct http_result res;
	struct http_target t;
	struct http_request rq = { 0 };
	uint64_t t0;

	srv_start(&f->srv, (struct answer){ .status = 200, .delay_ms = 3000 });
	t = target(f, "/slow");
	t.timeout_ms = 300;
	t0 = mono_ms();
	assert_int_equal(http_request(&t, &rq, &res), -ETIMEDOUT);
	assert_true(mono_ms() - t0 < 2000);
	assert_int_equal(res.fail, HTTP_FAIL_TIMEOUT);
	assert_int_equal(res.status, 0);
	assert_null(strstr(res.error, TOKEN_A));

	/* a stream that goes quiet: idle_timeout_s ends it, not timeout_ms (a
	 * new server: the last one still waits to answer the first request) */
	srv_stop(&f->srv);
	srv_start(&f->srv, (struct answer){ .status = 200, .body = "ab", .pieces = 2, .piece_ms = 4000 });
	t = target(f, "/slow");
	t.timeout_ms = 30000;
	rq = (struct http_request){ .on_body = on_body, .ctx = &s, .idle_timeout_s = 1 };
	t0 = mono_ms();
	assert_int_equal(http_request(&t, &rq, &res), -ETIMEDOUT);
	assert_true(mono_ms() - t0 < 3500);
	assert_int_equal(res.fail, HTTP_FAIL_TIMEOUT);
	assert_string_equal(s.got, "a");
}

struct canceller {
	atomic_int *flag;
	int after_ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;

	usleep((useconds_t)c->after_ms * 1000);
	atomic_store(c->flag, 1);
	return NULL;
}

/* Another thread sets the flag: the transfer ends within about
 * HTTP_CANCEL_POLL_MS, in a stream or waiting for the status line. */
static void test_cancel(void **state)
{
	struct fx *f = *state;
	atomic_int flag = 0;
	struct canceller c = { .flag = &flag, .after_ms = 300 };
	struct stream s = { 0 };
	struct http_result res;
	struct http_target t;
	struct http_request rq = { .on_body = on_body, .ctx = &s };
	pthread_t th;
	uint64_t t0;

	srv_start(&f->srv, (struct answer){ .status = 200, .body = "abc", .pieces = 3, .piece_ms = 5000 });
	t = target(f, "/watch");
	t.timeout_ms = 30000;
	t.cancel = &flag;
	t0 = mono_ms();
	assert_int_equal(pthread_create(&th, NULL, cancel_later, &c), 0);
	assert_int_equal(http_request(&t, &rq, &res), -ECANCELED);
	pthread_join(th, NULL);
	assert_true(mono_ms() - t0 < 300 + 700);
	assert_int_equal(res.fail, HTTP_FAIL_CANCELED);
	assert_string_equal(s.got, "a");

	/* waiting for the answer */
	atomic_store(&flag, 0);
	srv_answer(&f->srv, (struct answer){ .status = 200, .delay_ms = 5000 });
	t0 = mono_ms();
	assert_int_equal(pthread_create(&th, NULL, cancel_later, &c), 0);
	assert_int_equal(http_post(&t, NULL, "x", 1, true, &res), -ECANCELED);
	pthread_join(th, NULL);
	assert_true(mono_ms() - t0 < 300 + 700);

	/* already set: nothing is sent */
	t0 = mono_ms();
	srv_answer(&f->srv, (struct answer){ .status = 200 });
	assert_int_equal(http_post(&t, NULL, "x", 1, false, &res), -ECANCELED);
	assert_true(mono_ms() - t0 < 200);
}

/* Errors name neither the token nor the URL's user info, path or query. */
static void test_redacted_errors(void **state)
{
	struct fx *f = *state;
	struct http_result res;
	struct http_target t = { .token_file = f->token, .timeout_ms = 2000 };
	char url[512], msg[128];
	int port;

	/* a port nothing listens on: start and stop a server to find one */
	srv_start(&f->srv, (struct answer){ .status = 200 });
	port = f->srv.lb.port;
	srv_stop(&f->srv);
	snprintf(url, sizeof(url), "http://usr:PassWord77@127.0.0.1:%d/hooks/PathSecret42?key=QuerySecret9#FragSecret8",
		 port);
	t.url = url;
	assert_int_equal(http_post(&t, NULL, "x", 1, false, &res), -EIO);
	assert_int_equal(res.fail, HTTP_FAIL_CONNECT);
	assert_true(res.error[0] != '\0');
	assert_null(strstr(res.error, "PassWord77"));
	assert_null(strstr(res.error, "PathSecret42"));
	assert_null(strstr(res.error, "QuerySecret9"));
	assert_null(strstr(res.error, "FragSecret8"));
	assert_null(strstr(res.error, TOKEN_A));

	/* an unusable URL */
	t.url = "http://exa mple.com/?key=QuerySecret9";
	assert_true(http_post(&t, NULL, "x", 1, false, &res) < 0);
	assert_null(strstr(res.error, "QuerySecret9"));

	/* http_redact: the token and control characters */
	snprintf(msg, sizeof(msg), "echo %s\r\nand %s", TOKEN_A, TOKEN_A);
	http_redact(msg, TOKEN_A);
	assert_string_equal(msg, "echo [redacted]  and [redacted]");
	snprintf(msg, sizeof(msg), "short abc abc");
	http_redact(msg, "abc");
	assert_string_equal(msg, "short *** ***");
	http_redact(msg, NULL);
}

/* Retry-After of the final response, in seconds or as a date; -1 without. */
static void test_retry_after(void **state)
{
	struct fx *f = *state;
	struct http_result res;
	struct http_target t;
	char hdr[128], date[64];
	time_t later = time(NULL) + 120;
	struct tm tm;

	srv_start(&f->srv, (struct answer){ .status = 503, .headers = "Retry-After: 7\r\n" });
	t = target(f, "/x");
	assert_int_equal(http_post(&t, "text/plain", "a", 1, false, &res), 0);
	assert_int_equal(res.status, 503);
	assert_int_equal(res.retry_after_s, 7);

	gmtime_r(&later, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(hdr, sizeof(hdr), "Retry-After: %s\r\n", date);
	srv_answer(&f->srv, (struct answer){ .status = 429, .headers = hdr });
	assert_int_equal(http_post(&t, "text/plain", "a", 1, false, &res), 0);
	assert_int_equal(res.status, 429);
	assert_true(res.retry_after_s >= 115 && res.retry_after_s <= 120);

	srv_answer(&f->srv, (struct answer){ .status = 503 });
	assert_int_equal(http_post(&t, "text/plain", "a", 1, false, &res), 0);
	assert_int_equal(res.retry_after_s, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_token_loader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_reread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_methods_and_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_streaming, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redacted_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_after, setup, teardown),
	};

	/* the server writes to clients that may have gone */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
