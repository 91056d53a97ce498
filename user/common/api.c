#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <stdint.h>
#include <unistd.h>
#include "common/api.h"
#include "common/json.h"
#include "common/log.h"

#define API_IO_TIMEOUT_MS 1000
#define API_MAX_REPLY (256u << 20) /* a big ledger as JSON; bounded all the same */

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static void make_parent_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_warn("creating %s: %s", dir, strerror(errno));
}

int api_listen(const char *path, char *err, size_t err_size)
{
	struct sockaddr_un sa;
	mode_t old_umask;
	int fd, rc;

	if ((rc = fill_addr(&sa, path))) {
		format_error(err, err_size, "socket path %s: too long", path);
		return rc;
	}
	make_parent_dir(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		format_error(err, err_size, "creating the API socket: %s", strerror(errno));
		return rc;
	}
	unlink(path); /* a stale socket from a previous run */
	old_umask = umask(0077); /* born 0600: no window where others could connect */
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_umask);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
		rc = -errno;
		format_error(err, err_size, "binding the API socket %s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

/* Reads until a newline or the cap; false on timeout, EOF first, or overflow. */
static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One deadline for the whole request: a client dribbling a byte at a time
 * cannot hold the agent's loop longer than API_IO_TIMEOUT_MS. */
static int read_request(int fd, char *buf, size_t cap)
{
	int64_t deadline = monotonic_ms() + API_IO_TIMEOUT_MS;
	size_t len = 0;

	while (len + 1 < cap) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - monotonic_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return len ? 0 : -EPIPE;
		len += n;
		buf[len] = '\0';
		if (memchr(buf, '\n', len))
			return 0;
	}
	return -EMSGSIZE;
}

static void write_all(int fd, const char *s, size_t len)
{
	while (len) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t n;

		if (poll(&p, 1, API_IO_TIMEOUT_MS) <= 0)
			return; /* the client stalled: drop it */
		n = send(fd, s, len, MSG_NOSIGNAL); /* a client that left must not kill the agent */
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= n;
	}
}

static void reply_error(int fd, const char *msg)
{
	json_object *o = json_object_new_object();
	const char *s;

	json_add_str(o, "error", msg);
	s = json_text(o, JSON_C_TO_STRING_PLAIN);
	write_all(fd, s, strlen(s));
	json_object_put(o);
}

int api_serve_pending(int listen_fd, api_handler handler, void *ctx)
{
	int served = 0;

	for (;;) {
		char buf[API_MAX_REQUEST];
		json_object *req, *reply;
		const char *s;
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), rc;

		if (fd < 0)
			return served; /* EAGAIN: nothing pending */
		rc = read_request(fd, buf, sizeof(buf));
		if (rc == -EMSGSIZE) {
			reply_error(fd, "request too large");
		} else if (rc == 0) {
			req = json_tokener_parse(buf);
			if (!req || !json_object_is_type(req, json_type_object)) {
				reply_error(fd, "request is not a JSON object");
			} else {
				reply = handler(ctx, req);
				s = json_text(reply, JSON_COMPACT);
				write_all(fd, s, strlen(s));
				json_object_put(reply);
			}
			json_object_put(req);
		}
		close(fd);
		served++;
	}
}

json_object *api_call(const char *path, json_object *request, char *err, size_t err_size)
{
	struct sockaddr_un sa;
	const char *s;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	json_object *reply;
	int fd;

	if (fill_addr(&sa, path)) {
		format_error(err, err_size, "socket path %s: too long", path);
		return NULL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		format_error(err, err_size, "connecting to reachd at %s: %s (is reachd running? try --socket or --ledger)",
			     path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	s = json_text(request, JSON_C_TO_STRING_PLAIN);
	write_all(fd, s, strlen(s));
	write_all(fd, "\n", 1);
	for (;;) {
		ssize_t n;

		if (len + 65536 > cap) {
			char *nb;

			if (cap >= API_MAX_REPLY) {
				format_error(err, err_size, "reply from reachd larger than %u bytes", API_MAX_REPLY);
				free(buf);
				close(fd);
				return NULL;
			}
			cap = cap ? cap * 2 : 131072;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				close(fd);
				format_error(err, err_size, "out of memory reading the reply");
				return NULL;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	if (!buf) {
		format_error(err, err_size, "reachd closed the connection without a reply");
		return NULL;
	}
	buf[len] = '\0';
	reply = json_tokener_parse(buf);
	free(buf);
	if (!reply) {
		format_error(err, err_size, "reachd's reply is not JSON");
		return NULL;
	}
	return reply;
}
