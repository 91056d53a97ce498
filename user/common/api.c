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
	if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 256) < 0) {
		rc = -errno;
		format_error(err, err_size, "binding the API socket %s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connections accepted but not complete yet: the loop never waits on a
 * client. A connection gets API_IO_TIMEOUT_MS from its accept to send its
 * line; at most API_MAX_CONNS wait at once, and when more arrive the oldest
 * is hung up on: an idle flood cannot delay the next client, nor the loop. */
struct conn {
	int fd, listen_fd;
	int64_t deadline;
	size_t len;
	char buf[API_MAX_REQUEST];
};

static struct conn conns[API_MAX_CONNS];
static int n_conns;

enum { CONN_WAIT, CONN_DONE, CONN_GONE, CONN_TOO_BIG };

/* Reads what is there without waiting. */
static int conn_read(struct conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->len + 1 >= sizeof(c->buf))
			return CONN_TOO_BIG;
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? CONN_WAIT : CONN_GONE;
		if (n == 0)
			return c->len ? CONN_DONE : CONN_GONE;
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
		if (memchr(c->buf, '\n', c->len))
			return CONN_DONE;
	}
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

/* Answers a complete request (or the error of a too big one) and closes. */
static void conn_finish(struct conn *c, int state, api_handler handler, void *ctx)
{
	json_object *req, *reply;
	const char *s;

	if (state == CONN_TOO_BIG) {
		reply_error(c->fd, "request too large");
	} else if (state == CONN_DONE) {
		req = json_tokener_parse(c->buf);
		if (!req || !json_object_is_type(req, json_type_object)) {
			reply_error(c->fd, "request is not a JSON object");
		} else {
			reply = handler(ctx, req);
			s = json_text(reply, JSON_COMPACT);
			write_all(c->fd, s, strlen(s));
			json_object_put(reply);
		}
		json_object_put(req);
	}
	close(c->fd);
	c->fd = -1;
}

static void conn_drop(int i)
{
	conns[i] = conns[--n_conns];
}

int api_serve_pending(int listen_fd, api_handler handler, void *ctx)
{
	int64_t now = monotonic_ms();
	int served = 0;

	/* the waiting ones first: complete, gone, or past their time */
	for (int i = 0; i < n_conns;) {
		struct conn *c = &conns[i];
		int state = c->listen_fd == listen_fd ? conn_read(c) : CONN_GONE;

		if (state == CONN_WAIT && now < c->deadline) {
			i++;
			continue;
		}
		conn_finish(c, state == CONN_WAIT ? CONN_GONE : state, handler, ctx);
		conn_drop(i);
		served++;
	}
	for (;;) {
		struct conn *c;
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), state;

		if (fd < 0)
			return served; /* EAGAIN: nothing pending */
		if (n_conns == API_MAX_CONNS) {
			/* full: the oldest waiter goes (it had its chance to send) */
			int oldest = 0;

			for (int i = 1; i < n_conns; i++)
				if (conns[i].deadline < conns[oldest].deadline)
					oldest = i;
			state = conn_read(&conns[oldest]);
			conn_finish(&conns[oldest], state == CONN_WAIT ? CONN_GONE : state, handler, ctx);
			conn_drop(oldest);
			served++;
		}
		c = &conns[n_conns];
		c->fd = fd;
		c->listen_fd = listen_fd;
		c->len = 0;
		c->deadline = now + API_IO_TIMEOUT_MS;
		state = conn_read(c);
		if (state == CONN_WAIT) {
			n_conns++; /* keeps waiting, without holding anyone up */
			continue;
		}
		conn_finish(c, state, handler, ctx);
		served++;
	}
}

void api_close(int listen_fd)
{
	for (int i = 0; i < n_conns;) {
		if (conns[i].listen_fd != listen_fd) {
			i++;
			continue;
		}
		close(conns[i].fd);
		conn_drop(i);
	}
	close(listen_fd);
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
