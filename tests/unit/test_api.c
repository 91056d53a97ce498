#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "common/api.h"
#include "testutil.h"

#define DEADLINE_MS 15000 /* bound on every wait: a hang fails, never blocks */

/* ---- fixture: a temp dir, the socket below a directory api_listen makes -- */

struct fx {
	char dir[PATH_MAX];
	char sock[PATH_MAX + 64];
	int fd;          /* listening socket, or -1 */
	int calls;       /* handler invocations */
	char last_cmd[64];
	pid_t child;     /* a client process, or 0 */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->fd = -1;
	if (make_temp_dir(f->dir, sizeof(f->dir), "reach-api")) {
		free(f);
		return -1;
	}
	snprintf(f->sock, sizeof(f->sock), "%s/run/reachd.sock", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc;

	if (f->child > 0) {
		kill(f->child, SIGKILL);
		waitpid(f->child, NULL, 0);
	}
	if (f->fd >= 0)
		api_close(f->fd);
	rc = remove_tree(f->dir);
	free(f);
	return rc;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void listen_ok(struct fx *f)
{
	char err[512] = "";

	f->fd = api_listen(f->sock, err, sizeof(err));
	if (f->fd < 0)
		fail_msg("api_listen %s: %d (%s)", f->sock, f->fd, err);
}

/* Replies {"cmd": <the request's cmd>, "echo": true}. */
static struct json_object *echo_handler(void *ctx, struct json_object *req)
{
	struct fx *f = ctx;
	struct json_object *v, *reply = json_object_new_object();
	const char *cmd = json_object_object_get_ex(req, "cmd", &v) ? json_object_get_string(v) : "";

	f->calls++;
	snprintf(f->last_cmd, sizeof(f->last_cmd), "%s", cmd);
	json_object_object_add(reply, "cmd", json_object_new_string(cmd));
	json_object_object_add(reply, "echo", json_object_new_boolean(1));
	return reply;
}

/* ---- clients ------------------------------------------------------------- */

/* Forks a client that calls api_call(path, request_json) and writes "OK
 * <reply>" or "ERR <err>" into a pipe; returns the pipe's read end. No cmocka
 * in the child. */
static int spawn_api_call(struct fx *f, const char *path, const char *request_json)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct json_object *req = json_tokener_parse(request_json), *reply;
		char err[512] = "";
		const char *s;
		FILE *out;

		close(p[0]);
		if (f->fd >= 0)
			close(f->fd);
		reply = api_call(path, req, err, sizeof(err));
		out = fdopen(p[1], "w");
		if (!out)
			_exit(3);
		if (reply) {
			s = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
			fprintf(out, "OK %s", s);
		} else {
			fprintf(out, "ERR %s", err);
		}
		fclose(out);
		json_object_put(reply);
		json_object_put(req);
		_exit(0);
	}
	close(p[1]);
	f->child = pid;
	return p[0];
}

/* Serves (api_serve_pending) until the client child exits; then reads its
 * answer into out. Fails after DEADLINE_MS. Returns the number served. */
static int serve_until_child_done(struct fx *f, int result_fd, char *out, size_t out_size)
{
	int64_t deadline = now_ms() + DEADLINE_MS;
	int served = 0, status;
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = f->fd, .events = POLLIN };
		pid_t w;

		poll(&p, 1, 20);
		served += api_serve_pending(f->fd, echo_handler, f);
		w = waitpid(f->child, &status, WNOHANG);
		if (w == f->child)
			break;
		if (now_ms() > deadline)
			fail_msg("client did not finish within %d ms", DEADLINE_MS);
	}
	f->child = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	for (;;) {
		ssize_t n = read(result_fd, out + len, out_size - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	close(result_fd);
	return served;
}

/* A raw client: connected, nothing sent. */
static int raw_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void raw_send(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);

		assert_true(n > 0);
		s += n;
		len -= (size_t)n;
	}
}

/* Reads until EOF (or a reset after the reply), bounded by the deadline. */
static size_t raw_read_all(int fd, char *buf, size_t size)
{
	int64_t deadline = now_ms() + DEADLINE_MS;
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) == 0) {
			if (now_ms() > deadline)
				fail_msg("no EOF from the server within %d ms", DEADLINE_MS);
			continue;
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == size - 1)
			break;
	}
	buf[len] = '\0';
	return len;
}

/* The reply must be a JSON object with a string "error". */
static void assert_error_reply(const char *reply)
{
	struct json_object *o = json_tokener_parse(reply), *v;

	if (!o)
		fail_msg("reply is not JSON: \"%s\"", reply);
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "error", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		json_object_put(o);
		fail_msg("reply has no \"error\": %s", reply);
	}
	json_object_put(o);
}

/* One api_call round trip through a forked client; returns the reply text. */
static void round_trip(struct fx *f, const char *request, const char *want_cmd)
{
	char out[4096];
	int rfd = spawn_api_call(f, f->sock, request);
	int calls = f->calls;
	struct json_object *o, *v;

	serve_until_child_done(f, rfd, out, sizeof(out));
	if (strncmp(out, "OK ", 3) != 0)
		fail_msg("api_call failed: %s", out);
	o = json_tokener_parse(out + 3);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "cmd", &v));
	assert_string_equal(json_object_get_string(v), want_cmd);
	assert_true(json_object_object_get_ex(o, "echo", &v));
	assert_true(json_object_get_boolean(v));
	json_object_put(o);
	assert_int_equal(f->calls, calls + 1);
	assert_string_equal(f->last_cmd, want_cmd);
}

/* ---- api_listen ---------------------------------------------------------- */

static void test_listen_modes(void **state)
{
	struct fx *f = *state;
	char parent[PATH_MAX + 8];
	struct stat st;
	mode_t old = umask(0); /* the modes must not depend on the caller's umask */

	f->fd = api_listen(f->sock, NULL, 0);
	umask(old);
	assert_true(f->fd >= 0);
	assert_int_equal(lstat(f->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(parent, sizeof(parent), "%s/run", f->dir);
	assert_int_equal(lstat(parent, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	/* non-blocking: nothing pending answers at once */
	assert_int_equal(api_serve_pending(f->fd, echo_handler, f), 0);
}

static void test_listen_with_usual_umask(void **state)
{
	struct fx *f = *state;
	struct stat st;
	mode_t old = umask(022), after;

	listen_ok(f);
	after = umask(old);
	/* api_listen restores the umask it changed */
	assert_int_equal(after, 022);
	assert_int_equal(lstat(f->sock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_listen_replaces_stale_socket(void **state)
{
	struct fx *f = *state;
	struct sockaddr_un sa;
	char parent[PATH_MAX + 8];
	struct stat st;
	int s;

	/* a socket file left by a previous run: bound, then its owner gone */
	snprintf(parent, sizeof(parent), "%s/run", f->dir);
	assert_int_equal(mkdir(parent, 0700), 0);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(s >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, f->sock);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	assert_int_equal(chmod(f->sock, 0666), 0);
	assert_int_equal(lstat(f->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));

	listen_ok(f);
	assert_int_equal(lstat(f->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	round_trip(f, "{\"cmd\":\"after-stale\"}", "after-stale");
}

static void test_listen_errors(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX + 200], err[512];
	int rc;
	FILE *fp;

	/* longer than sun_path */
	memset(path, 'a', 200);
	path[0] = '/';
	path[200] = '\0';
	err[0] = '\0';
	assert_int_equal(api_listen(path, err, sizeof(err)), -ENAMETOOLONG);
	assert_non_null(strstr(err, "too long"));

	/* the parent is a regular file */
	snprintf(path, sizeof(path), "%s/file", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/file/reachd.sock", f->dir);
	err[0] = '\0';
	rc = api_listen(path, err, sizeof(err));
	assert_true(rc < 0);
	assert_non_null(strstr(err, path));
	/* a NULL err buffer is fine */
	assert_true(api_listen(path, NULL, 0) < 0);
}

/* ---- serving ------------------------------------------------------------- */

static void test_round_trip(void **state)
{
	struct fx *f = *state;

	listen_ok(f);
	round_trip(f, "{\"cmd\":\"status\",\"x\":1}", "status");
	/* the listener keeps serving, one client after another */
	round_trip(f, "{\"cmd\":\"reach\",\"identity\":\"ns/sa\"}", "reach");
	round_trip(f, "{\"cmd\":\"a\\/b \\u00e9\"}", "a/b \xc3\xa9");
	assert_int_equal(f->calls, 3);
}

static void test_request_not_json(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = { "hello\n", "[1,2,3]\n", "\"cmd\"\n", "{\"cmd\":\n", "42\n", "\n" };
	char reply[4096];

	listen_ok(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int c = raw_connect(f->sock);

		raw_send(c, bad[i], strlen(bad[i]));
		assert_int_equal(api_serve_pending(f->fd, echo_handler, f), 1);
		raw_read_all(c, reply, sizeof(reply));
		close(c);
		assert_error_reply(reply);
	}
	assert_int_equal(f->calls, 0);
	/* still serving */
	round_trip(f, "{\"cmd\":\"ok\"}", "ok");
}

static void test_request_too_large(void **state)
{
	struct fx *f = *state;
	size_t big = 3 * API_MAX_REQUEST;
	char *junk = malloc(big);
	char reply[4096];
	int c;

	assert_non_null(junk);
	listen_ok(f);
	/* bytes without a newline, beyond the bound */
	memset(junk, 'a', big);
	c = raw_connect(f->sock);
	raw_send(c, junk, big);
	free(junk);
	assert_int_equal(api_serve_pending(f->fd, echo_handler, f), 1);
	raw_read_all(c, reply, sizeof(reply));
	close(c);
	assert_error_reply(reply);
	assert_int_equal(f->calls, 0);
	/* the server survives and serves the next client */
	round_trip(f, "{\"cmd\":\"after-big\"}", "after-big");
}

static void test_request_near_the_bound(void **state)
{
	struct fx *f = *state;
	char req[API_MAX_REQUEST + 16];
	const char *head = "{\"cmd\":\"fits\",\"pad\":\"", *tail = "\"}";
	size_t fill = API_MAX_REQUEST / 2;

	listen_ok(f);
	/* a request of half the bound, through api_call */
	memcpy(req, head, strlen(head));
	memset(req + strlen(head), 'p', fill);
	memcpy(req + strlen(head) + fill, tail, strlen(tail) + 1);
	round_trip(f, req, "fits");
}

static void test_call_missing_socket(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX + 64], err[1024] = "", big[200];
	struct json_object *req = json_object_new_object();

	snprintf(path, sizeof(path), "%s/absent.sock", f->dir);
	assert_null(api_call(path, req, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	/* a path longer than sun_path */
	memset(big, 'b', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	err[0] = '\0';
	assert_null(api_call(big, req, err, sizeof(err)));
	assert_true(err[0] != '\0');
	/* NULL err */
	assert_null(api_call(path, req, NULL, 0));
	json_object_put(req);
}

static void test_silent_client_is_dropped(void **state)
{
	struct fx *f = *state;
	char out[4096], buf[64];
	int silent, partial, gone, rfd;
	int64_t t0;
	int served;

	listen_ok(f);
	/* one that sends nothing, one that stops mid-request, one that hangs up */
	silent = raw_connect(f->sock);
	partial = raw_connect(f->sock);
	raw_send(partial, "{\"cmd\":", 7);
	gone = raw_connect(f->sock);
	close(gone);

	t0 = now_ms();
	rfd = spawn_api_call(f, f->sock, "{\"cmd\":\"behind-the-stallers\"}");
	served = serve_until_child_done(f, rfd, out, sizeof(out));
	if (strncmp(out, "OK ", 3) != 0)
		fail_msg("api_call failed: %s", out);
	assert_non_null(strstr(out, "behind-the-stallers"));
	/* the stallers no longer hold the call up (issue 21: changed by design,
	 * it was answered after their timeouts): it is answered while they
	 * wait; they are hung up on at their ~1 s timeout by later calls */
	while (served < 4 && now_ms() - t0 < DEADLINE_MS) {
		usleep(20000);
		served += api_serve_pending(f->fd, echo_handler, f);
	}
	assert_int_equal(served, 4);
	assert_int_equal(f->calls, 1);
	assert_true(now_ms() - t0 < DEADLINE_MS);

	/* the stallers were hung up on, without a reply */
	assert_int_equal(raw_read_all(silent, buf, sizeof(buf)), 0);
	assert_int_equal(raw_read_all(partial, buf, sizeof(buf)), 0);
	close(silent);
	close(partial);
}

/* An idle flood (three times the waiting room) does not keep the next
 * client out: the oldest idle ones are hung up on, the call is answered. */
static void test_idle_flood_does_not_keep_a_client_out(void **state)
{
	struct fx *f = *state;
	int idle[3 * API_MAX_CONNS], rfd, hung_up = 0;
	char out[4096], buf[16];

	listen_ok(f);
	for (int i = 0; i < 3 * API_MAX_CONNS; i++) {
		idle[i] = raw_connect(f->sock);
		if (i % 16 == 15)
			api_serve_pending(f->fd, echo_handler, f);
	}
	api_serve_pending(f->fd, echo_handler, f);
	rfd = spawn_api_call(f, f->sock, "{\"cmd\":\"through-the-flood\"}");
	serve_until_child_done(f, rfd, out, sizeof(out));
	if (strncmp(out, "OK ", 3) != 0)
		fail_msg("api_call failed: %s", out);
	assert_non_null(strstr(out, "through-the-flood"));
	assert_int_equal(f->calls, 1);
	/* at least all but API_MAX_CONNS of the idle ones were hung up on */
	for (int i = 0; i < 3 * API_MAX_CONNS; i++) {
		struct pollfd p = { .fd = idle[i], .events = POLLIN };

		if (poll(&p, 1, 0) == 1 && read(idle[i], buf, sizeof(buf)) == 0)
			hung_up++;
		close(idle[i]);
	}
	assert_true(hung_up >= 2 * API_MAX_CONNS);
}

/* Was a bug (fixed): api.c write_all() writes the reply with write(2) (no MSG_NOSIGNAL)
 * and nothing in the agent ignores SIGPIPE (no SIGPIPE anywhere in user/):
 * a client that sends a request and closes before reading the reply kills the
 * serving process with SIGPIPE. Expected: the server drops that client and
 * carries on (exit 0 below); actual: the server process dies of SIGPIPE. */
static void test_client_gone_before_reply(void **state)
{
	struct fx *f = *state;
	int c, status;
	pid_t pid;

	listen_ok(f);
	c = raw_connect(f->sock);
	raw_send(c, "{\"cmd\":\"gone\"}\n", 15);
	close(c);

	/* the server in a child, so that a signal cannot take the test down */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int n = api_serve_pending(f->fd, echo_handler, f);

		_exit(n == 1 ? 0 : 2);
	}
	f->child = pid;
	{
		int64_t deadline = now_ms() + DEADLINE_MS;

		while (waitpid(pid, &status, WNOHANG) == 0) {
			if (now_ms() > deadline)
				fail_msg("server child did not finish");
			usleep(10000);
		}
	}
	f->child = 0;
	if (WIFSIGNALED(status))
		fail_msg("the server died of signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listen_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_with_usual_umask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_replaces_stale_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_not_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_near_the_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_missing_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_flood_does_not_keep_a_client_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_client_is_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_gone_before_reply, setup, teardown),
	};

	return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
