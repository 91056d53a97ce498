#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ship/http_server.h"

/* Every server listens on port 0: the kernel picks a free one and
 * http_server_port() reads it back, so nothing else holding a fixed port
 * can make this test fail. */
static uint16_t port; /* of the server start() started last */

#define DEADLINE_MS 15000 /* bound on every wait: a hang fails, never blocks */

/* ---- a raw HTTP client -------------------------------------------------------- */

static int64_t now_ms(void)
{
	return http_server_now_ms();
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);

		assert_true(k > 0);
		s += k;
		n -= k;
	}
}

/* Reads until the server closes; the length read (resp NUL-terminated). */
static size_t read_to_eof(int fd, char *resp, size_t size)
{
	int64_t deadline = now_ms() + DEADLINE_MS;
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;

		assert_true(poll(&p, 1, (int)(deadline - now_ms())) == 1);
		k = recv(fd, resp + len, size - 1 - len, 0);
		if (k < 0 && errno == ECONNRESET)
			break;
		assert_true(k >= 0);
		if (k == 0)
			break;
		len += k;
		assert_true(len < size - 1);
	}
	resp[len] = '\0';
	return len;
}

static size_t exchange(uint16_t port, const char *req, size_t req_len, char *resp, size_t size)
{
	int fd = connect_to(port);
	size_t n;

	send_all(fd, req, req_len);
	n = read_to_eof(fd, resp, size);
	close(fd);
	return n;
}

/* Reads and discards until the peer closes; the byte count. */
static size_t drain(int fd)
{
	static char sink[1 << 20];
	int64_t deadline = now_ms() + DEADLINE_MS;
	size_t total = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;

		assert_true(poll(&p, 1, (int)(deadline - now_ms())) == 1);
		k = recv(fd, sink, sizeof(sink), 0);
		if (k <= 0)
			return total;
		total += k;
	}
}

static int status_of(const char *resp)
{
	int code = -1;

	if (sscanf(resp, "HTTP/1.1 %d ", &code) != 1)
		return -1;
	return code;
}

static const char *body_of(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");

	return p ? p + 4 : "";
}

static bool has_header(const char *resp, const char *line)
{
	const char *end = strstr(resp, "\r\n\r\n");
	const char *p = strstr(resp, line);

	return p && end && p < end;
}

static char resp[1 << 18];

/* GET path; the status, resp holds the answer. */
static int get(uint16_t port, const char *path, const char *extra_headers)
{
	char req[1024];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path,
			 extra_headers ? extra_headers : "");

	exchange(port, req, n, resp, sizeof(resp));
	return status_of(resp);
}

static struct http_server *start(const char *addr)
{
	struct http_server *s = NULL;
	char err[256] = "";
	int rc = http_server_start(&s, addr, err, sizeof(err));

	if (rc)
		fail_msg("start %s: %s", addr, err);
	port = http_server_port(s);
	assert_true(port != 0);
	return s;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_builtins(void **state)
{
	struct http_server *s = start("127.0.0.1:0");

	(void)state;
	/* port 0 asked the kernel for one: http_server_port() names the port it
	 * listens on (every request below goes there) */
	assert_true(http_server_port(s) != 0);
	assert_int_equal(get(port, "/healthz", NULL), 200);
	assert_string_equal(body_of(resp), "ok\n");
	assert_true(has_header(resp, "\r\nConnection: close\r\n"));
	assert_true(has_header(resp, "\r\nContent-Length: 3\r\n"));
	assert_int_equal(get(port, "/readyz", NULL), 503);
	http_server_set_ready(s, true);
	assert_int_equal(get(port, "/readyz", NULL), 200);
	http_server_set_ready(s, false);
	assert_int_equal(get(port, "/readyz", NULL), 503);
	/* HEAD: GET's headers, no body */
	exchange(port, "HEAD /healthz HTTP/1.1\r\n\r\n", 26, resp, sizeof(resp));
	assert_int_equal(status_of(resp), 200);
	assert_true(has_header(resp, "\r\nContent-Length: 3\r\n"));
	assert_string_equal(body_of(resp), "");
	/* several clients in sequence */
	for (int i = 0; i < 200; i++)
		assert_int_equal(get(port, "/healthz", NULL), 200);
	http_server_stop(s);
}

static void test_healthz_stalled(void **state)
{
	struct http_server *s = start("127.0.0.1:0");

	(void)state;
	http_server_heartbeat(s, http_server_now_ms() - 40500);
	assert_int_equal(get(port, "/healthz", NULL), 503);
	assert_string_equal(body_of(resp), "ring buffer not drained for 40 s: main loop stalled\n");
	http_server_set_stall_timeout(s, 60000);
	assert_int_equal(get(port, "/healthz", NULL), 200);
	http_server_set_stall_timeout(s, 0); /* back to 30 s */
	assert_int_equal(get(port, "/healthz", NULL), 503);
	http_server_heartbeat(s, 0);
	assert_int_equal(get(port, "/healthz", NULL), 200);
	http_server_stop(s);
}

static void test_publish(void **state)
{
	struct http_server *s = start("127.0.0.1:0");
	const char *m1 = "# TYPE reach_up gauge\nreach_up 1\n", *m2 = "reach_up 2\n";
	char path[32];

	(void)state;
	assert_int_equal(get(port, "/metrics", NULL), 404);
	assert_int_equal(http_server_publish(s, "/metrics", "text/plain; version=0.0.4", m1, strlen(m1)), 0);
	assert_int_equal(get(port, "/metrics", NULL), 200);
	assert_string_equal(body_of(resp), m1);
	assert_true(has_header(resp, "\r\nContent-Type: text/plain; version=0.0.4\r\n"));
	assert_int_equal(get(port, "/metrics?name[]=x", NULL), 200); /* the query is not the path */
	assert_int_equal(http_server_publish(s, "/metrics", "text/plain", m2, strlen(m2)), 0);
	assert_int_equal(get(port, "/metrics", NULL), 200);
	assert_string_equal(body_of(resp), m2);
	assert_int_equal(http_server_publish(s, "/empty", "text/plain", NULL, 0), 0);
	assert_int_equal(get(port, "/empty", NULL), 200);
	assert_string_equal(body_of(resp), "");
	assert_int_equal(get(port, "/nope", NULL), 404);
	assert_true(has_header(resp, "\r\nConnection: close\r\n"));
	/* methods */
	exchange(port, "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 50, resp, sizeof(resp));
	assert_int_equal(status_of(resp), 405);
	assert_true(has_header(resp, "\r\nAllow: GET, HEAD\r\n"));
	assert_true(has_header(resp, "\r\nConnection: close\r\n"));
	/* refused publications */
	assert_int_equal(http_server_publish(s, "/healthz", "text/plain", "x", 1), -EINVAL);
	assert_int_equal(http_server_publish(s, "metrics", "text/plain", "x", 1), -EINVAL);
	assert_int_equal(http_server_publish(s, "/x", "text/plain\r\nSet-Cookie: a=b", "x", 1), -EINVAL);
	for (int i = 2; i < HTTP_SERVER_MAX_PATHS; i++) {
		snprintf(path, sizeof(path), "/p%d", i);
		assert_int_equal(http_server_publish(s, path, "text/plain", "x", 1), 0);
	}
	assert_int_equal(http_server_publish(s, "/one-too-many", "text/plain", "x", 1), -ENOSPC);
	assert_int_equal(http_server_publish(s, "/p2", "text/plain", "y", 1), 0); /* replacing is fine */
	http_server_stop(s);
}

static void expect_400(const char *req, size_t len)
{
	exchange(port, req, len, resp, sizeof(resp));
	if (status_of(resp) != 400)
		fail_msg("%.40s: got %s", req, resp);
	assert_true(has_header(resp, "\r\nConnection: close\r\n"));
}

static void test_bad_requests(void **state)
{
	struct http_server *s = start("127.0.0.1:0");
	static char big[HTTP_SERVER_MAX_HEAD + 512];
	int n;

	(void)state;
	expect_400("GARBAGE\r\n\r\n", 11);
	expect_400("GET /healthz\r\n\r\n", 16);
	expect_400("GET /healthz HTTP/2.0\r\n\r\n", 25);
	expect_400("GET healthz HTTP/1.1\r\n\r\n", 24);
	expect_400("GET  /healthz HTTP/1.1\r\n\r\n", 26);
	expect_400("get /healthz HTTP/1.1\r\n\r\n", 25);
	expect_400("GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n", 40);
	expect_400("GET /healthz HTTP/1.1\r\nBad Name: x\r\n\r\n", 38);
	expect_400("GET /he\0lthz HTTP/1.1\r\n\r\n", 25);
	/* a bare CR or a control byte in a header line (found by fuzz_api) */
	expect_400("GET /healthz HTTP/1.1\r\nAuthorization: Bearer a\rb\r\n\r\n", 52);
	expect_400("GET /healthz HTTP/1.1\r\nX: a\x01b\r\n\r\n", 33);
	/* over 8 KiB of head without its end */
	n = snprintf(big, sizeof(big), "GET /healthz HTTP/1.1\r\nX-Pad: ");
	memset(big + n, 'a', sizeof(big) - n);
	expect_400(big, sizeof(big));
	/* just under the bound: fine */
	n = snprintf(big, sizeof(big), "GET /healthz HTTP/1.1\r\nX-Pad: ");
	memset(big + n, 'a', HTTP_SERVER_MAX_HEAD - n - 4);
	memcpy(big + HTTP_SERVER_MAX_HEAD - 4, "\r\n\r\n", 4);
	exchange(port, big, HTTP_SERVER_MAX_HEAD, resp, sizeof(resp));
	assert_int_equal(status_of(resp), 200);
	/* bare LF line ends are accepted */
	exchange(port, "GET /healthz HTTP/1.0\nHost: x\n\n", 31, resp, sizeof(resp));
	assert_int_equal(status_of(resp), 200);
	http_server_stop(s);
}

/* A client that sends nothing, one that sends half a head and one that
 * does not read a large answer: others are served at once meanwhile, and
 * the silent ones are dropped after the timeout. */
static void test_slow_clients(void **state)
{
	struct http_server *s = start("127.0.0.1:0");
	size_t big_len = 32u << 20;
	char *big = malloc(big_len), buf[64];
	int silent, half, nonreader;
	int64_t t0, t;

	(void)state;
	assert_non_null(big);
	memset(big, 'm', big_len);
	assert_int_equal(http_server_publish(s, "/big", "text/plain", big, big_len), 0);
	free(big);
	t0 = now_ms();
	silent = connect_to(port);
	half = connect_to(port);
	send_all(half, "GET /hea", 8);
	nonreader = connect_to(port);
	send_all(nonreader, "GET /big HTTP/1.1\r\n\r\n", 21);
	for (int i = 0; i < 20; i++) {
		t = now_ms();
		assert_int_equal(get(port, "/healthz", NULL), 200);
		assert_true(now_ms() - t < 1000);
	}
	/* the silent client is dropped after 5 s, without an answer */
	assert_int_equal(read_to_eof(silent, buf, sizeof(buf)), 0);
	t = now_ms() - t0;
	assert_true(t >= HTTP_SERVER_IO_TIMEOUT_MS - 200);
	assert_true(t < HTTP_SERVER_IO_TIMEOUT_MS + 2000);
	assert_int_equal(read_to_eof(half, buf, sizeof(buf)), 0);
	/* the non-reader is cut off 5 s after its last progress: reading now
	 * reaches the end well before the 32 MiB */
	sleep(6);
	assert_true(drain(nonreader) < big_len);
	assert_int_equal(get(port, "/healthz", NULL), 200);
	close(silent);
	close(half);
	close(nonreader);
	http_server_stop(s);
}

/* Many connections at once, each answered. */
static void test_concurrent_clients(void **state)
{
	struct http_server *s = start("127.0.0.1:0");
	int fds[40];

	(void)state;
	for (int i = 0; i < 40; i++)
		fds[i] = connect_to(port);
	for (int i = 39; i >= 0; i--)
		send_all(fds[i], "GET /healthz HTTP/1.1\r\n\r\n", 25);
	for (int i = 0; i < 40; i++) {
		read_to_eof(fds[i], resp, sizeof(resp));
		assert_int_equal(status_of(resp), 200);
		close(fds[i]);
	}
	http_server_stop(s);
}

static char token_path[] = "/tmp/test_http_server.token.XXXXXX";

static void write_token(const char *text)
{
	FILE *f = fopen(token_path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_token(void **state)
{
	struct http_server *s = start("127.0.0.1:0");
	int fd = mkstemp(token_path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	write_token("s3cret-token\n");
	http_server_publish(s, "/metrics", "text/plain", "m 1\n", 4);
	http_server_publish(s, "/metricsx", "text/plain", "x 1\n", 4);
	assert_int_equal(http_server_require_token(s, "/metrics", token_path), 0);
	assert_int_equal(http_server_require_token(s, "metrics", token_path), -EINVAL);

	assert_int_equal(get(port, "/metrics", NULL), 401);
	assert_true(has_header(resp, "\r\nWWW-Authenticate: Bearer\r\n"));
	assert_null(strstr(resp, "s3cret"));
	assert_int_equal(get(port, "/metrics", "Authorization: Bearer wrong\r\n"), 401);
	assert_int_equal(get(port, "/metrics", "Authorization: Bearer s3cret-toke\r\n"), 401);
	assert_int_equal(get(port, "/metrics", "Authorization: Bearer s3cret-token-and-more\r\n"), 401);
	assert_int_equal(get(port, "/metrics", "Authorization: Basic s3cret-token\r\n"), 401);
	assert_int_equal(get(port, "/metrics", "Authorization: Bearer \r\n"), 401);
	assert_int_equal(get(port, "/metrics", "Authorization: Bearer s3cret-token\r\n"), 200);
	assert_string_equal(body_of(resp), "m 1\n");
	assert_int_equal(get(port, "/metrics", "authorization:   bearer s3cret-token  \r\n"), 200);
	/* below the prefix: guarded, and unknown paths say 401 before 404 */
	assert_int_equal(get(port, "/metrics/sub", NULL), 401);
	assert_int_equal(get(port, "/metrics/sub", "Authorization: Bearer s3cret-token\r\n"), 404);
	/* a sibling name is not below it; probes are never guarded */
	assert_int_equal(get(port, "/metricsx", NULL), 200);
	assert_int_equal(get(port, "/healthz", NULL), 200);
	/* a rotated token works at once, the old one no more */
	write_token("rotated");
	assert_int_equal(get(port, "/metrics", "Authorization: Bearer s3cret-token\r\n"), 401);
	assert_int_equal(get(port, "/metrics", "Authorization: Bearer rotated\r\n"), 200);
	/* an empty or missing file refuses everyone */
	write_token("\n");
	assert_int_equal(get(port, "/metrics", "Authorization: Bearer \r\n"), 401);
	unlink(token_path);
	assert_int_equal(get(port, "/metrics", "Authorization: Bearer rotated\r\n"), 401);
	http_server_stop(s);
}

static void expect_bad_addr(const char *addr)
{
	struct http_server *s = NULL;
	char err[256] = "";

	assert_int_equal(http_server_start(&s, addr, err, sizeof(err)), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(err, "bad listen address"));
}

static void test_bind_errors(void **state)
{
	struct http_server *s = start("127.0.0.1:0"), *s2 = NULL;
	char err[256] = "", addr[32], want[96];

	(void)state;
	/* the port s holds */
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	snprintf(want, sizeof(want), "%s: address already in use", addr);
	assert_int_equal(http_server_start(&s2, addr, err, sizeof(err)), -EADDRINUSE);
	assert_null(s2);
	assert_string_equal(err, want);
	expect_bad_addr("example.com:80");
	expect_bad_addr("127.0.0.1");
	expect_bad_addr("127.0.0.1:");
	expect_bad_addr("127.0.0.1:99999");
	expect_bad_addr("127.0.0.1:80x");
	expect_bad_addr("::1:80");
	expect_bad_addr("[::1]80");
	expect_bad_addr("[::1:80");
	expect_bad_addr("[nonsense]:80");
	http_server_stop(s);
	http_server_stop(NULL);
}

static void test_localhost_and_ipv6(void **state)
{
	struct http_server *s = start("localhost:0"), *s6 = NULL;
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	char err[256] = "";
	int fd, rc;

	(void)state;
	assert_int_equal(get(port, "/healthz", NULL), 200);
	http_server_stop(s);

	rc = http_server_start(&s6, "[::1]:0", err, sizeof(err));
	if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT) {
		print_message("skipped IPv6: %s\n", err);
		return;
	}
	assert_int_equal(rc, 0);
	sa.sin6_port = htons(http_server_port(s6));
	assert_true(sa.sin6_port != 0);
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET6, "::1", &sa.sin6_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	send_all(fd, "GET /healthz HTTP/1.1\r\n\r\n", 25);
	read_to_eof(fd, resp, sizeof(resp));
	close(fd);
	assert_int_equal(status_of(resp), 200);
	http_server_stop(s6);
}

/* Publishing while clients fetch: every answer is one whole blob. */
static void test_publish_while_serving(void **state)
{
	struct http_server *s = start("127.0.0.1:0");
	static char a[100000], b[50000];

	(void)state;
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	for (int i = 0; i < 100; i++) {
		const char *body;

		http_server_publish(s, "/metrics", "text/plain", i % 2 ? a : b, i % 2 ? sizeof(a) : sizeof(b));
		assert_int_equal(get(port, "/metrics", NULL), 200);
		body = body_of(resp);
		assert_int_equal(strlen(body), i % 2 ? sizeof(a) : sizeof(b));
		assert_int_equal(strspn(body, i % 2 ? "a" : "b"), strlen(body));
	}
	http_server_stop(s);
}

/* An answer in flight keeps the blob it started with when a new one is
 * published (and when the server stops, the connection just ends). */
static void test_republish_during_answer(void **state)
{
	struct http_server *s = start("127.0.0.1:0");
	size_t big_len = 8u << 20, len = 0, cap = big_len + 4096;
	char *big = malloc(big_len), *got = malloc(cap), *body;
	int64_t deadline = now_ms() + DEADLINE_MS;
	int fd;

	(void)state;
	assert_non_null(big);
	assert_non_null(got);
	memset(big, 'a', big_len);
	http_server_publish(s, "/ledger", "application/octet-stream", big, big_len);
	fd = connect_to(port);
	send_all(fd, "GET /ledger HTTP/1.1\r\n\r\n", 24);
	usleep(100 * 1000);
	memset(big, 'b', 16);
	http_server_publish(s, "/ledger", "application/octet-stream", big, 16);
	free(big);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;

		assert_true(poll(&p, 1, (int)(deadline - now_ms())) == 1);
		k = recv(fd, got + len, cap - len, 0);
		assert_true(k >= 0);
		if (!k)
			break;
		len += k;
	}
	close(fd);
	body = memmem(got, len, "\r\n\r\n", 4);
	assert_non_null(body);
	body += 4;
	assert_int_equal(len - (body - got), big_len);
	for (size_t i = 0; i < big_len; i++)
		if (body[i] != 'a')
			fail_msg("byte %zu is %c", i, body[i]);
	free(got);
	assert_int_equal(get(port, "/ledger", NULL), 200);
	assert_int_equal(strlen(body_of(resp)), 16);
	/* stopping with a client still connected */
	fd = connect_to(port);
	send_all(fd, "GET /ledger HTTP/1.1\r\n\r\n", 24);
	usleep(50 * 1000);
	http_server_stop(s);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtins),
		cmocka_unit_test(test_healthz_stalled),
		cmocka_unit_test(test_publish),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_slow_clients),
		cmocka_unit_test(test_concurrent_clients),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_bind_errors),
		cmocka_unit_test(test_localhost_and_ipv6),
		cmocka_unit_test(test_publish_while_serving),
		cmocka_unit_test(test_republish_during_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
