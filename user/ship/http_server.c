#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include "common/log.h"
#include "common/readfile.h"
#include "common/https_client.h"
#include "ship/http_request.h"
#include "ship/http_server.h"

_Static_assert(HTTP_SERVER_MAX_HEAD == HTTP_REQUEST_MAX_HEAD, "a head the server reads fits the parser");

#define MAX_CONNS 64
#define MAX_RULES 8
#define DRAIN_MS 1000 /* reading what a client still sends before closing */

/* A published body, shared by the path and every connection sending it
 * (refs under the server's lock): a large blob is never copied per client,
 * and publishing a new one leaves answers in flight intact. */
struct payload {
	int refs;
	char *content_type, *body;
	size_t len;
};

struct blob {
	char *path;
	struct payload *p;
};

struct rule {
	char *prefix, *file;
};

enum conn_state { CONN_READ, CONN_WRITE, CONN_DRAIN };

struct conn {
	int fd;
	enum conn_state state;
	int64_t deadline;
	size_t head_len;
	char *out;              /* status line, headers and a built-in body */
	size_t out_len, out_off;
	struct payload *body;   /* then this, unless NULL */
	size_t body_off;
	char head[HTTP_SERVER_MAX_HEAD + 1];
};

struct http_server {
	int listen_fd;
	int wake[2];            /* a byte on it ends the thread */
	uint16_t port;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;   /* guards everything below it */
	struct blob blobs[HTTP_SERVER_MAX_PATHS];
	size_t n_blobs;
	struct rule rules[MAX_RULES];
	size_t n_rules;
	int64_t heartbeat_ms;   /* atomic, not under the lock: set after every drain */
	int64_t stall_ms;
	bool ready;
	/* the server thread's alone */
	struct conn *conns[MAX_CONNS];
	size_t n_conns;
};

int64_t http_server_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- payloads -------------------------------------------------------------- */

static struct payload *payload_new(const char *content_type, const void *body, size_t len)
{
	struct payload *p = calloc(1, sizeof(*p));

	if (!p || !(p->content_type = strdup(content_type)) || !(p->body = malloc(len ? len : 1))) {
		if (p)
			free(p->content_type);
		free(p);
		return NULL;
	}
	if (len)
		memcpy(p->body, body, len); /* body may be NULL when empty */
	p->len = len;
	p->refs = 1;
	return p;
}

/* Under the server's lock. Accepts NULL. */
static void payload_put(struct payload *p)
{
	if (!p || --p->refs > 0)
		return;
	free(p->content_type);
	free(p->body);
	free(p);
}

/* ---- responses ------------------------------------------------------------ */

static const char *reason_phrase(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

/* Status line, headers and (unless head_only: HEAD gets GET's headers
 * alone) the body in one buffer. Published blobs come with head_only and
 * are sent from their payload after it. */
static void respond(struct conn *c, int code, const char *content_type, const char *extra, const void *body,
		    size_t len, bool head_only)
{
	char hdr[512];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
			 "Connection: close\r\n%s\r\n",
			 code, reason_phrase(code), content_type, len, extra ? extra : "");
	size_t body_len = head_only ? 0 : len;

	if (n < 0 || (size_t)n >= sizeof(hdr) || !(c->out = malloc(n + body_len + 1))) {
		c->out_len = 0; /* nothing to say: the connection just closes */
		return;
	}
	memcpy(c->out, hdr, n);
	if (body_len)
		memcpy(c->out + n, body, body_len);
	c->out_len = n + body_len;
	c->out_off = 0;
}

static void respond_text(struct conn *c, int code, const char *extra, const char *text, bool head_only)
{
	respond(c, code, "text/plain; charset=utf-8", extra, text, strlen(text), head_only);
}

/* ---- tokens ------------------------------------------------------------------ */

/* Hashing both sides first makes the comparison independent of where they
 * differ and of the token's length. */
static bool token_matches(const char *file, const char *auth)
{
	/* the server thread alone calls this: the last problem, to log changes
	 * only (an unauthenticated client must not be able to flood the log) */
	static char last_err[256];
	unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
	char *tok = NULL, err[256];
	size_t len;
	bool ok;

	if (strncasecmp(auth, "bearer ", 7))
		return false;
	auth += 7;
	while (*auth == ' ')
		auth++;
	if (http_token_load(file, HTTP_SERVER_MAX_TOKEN, &tok, err, sizeof(err))) {
		if (strcmp(err, last_err))
			log_warn("http: %s; refusing protected paths", err);
		snprintf(last_err, sizeof(last_err), "%s", err);
		return false;
	}
	last_err[0] = '\0';
	len = strlen(tok);
	SHA256((const unsigned char *)tok, len, want);
	SHA256((const unsigned char *)auth, strlen(auth), got);
	ok = len > 0 && *auth && CRYPTO_memcmp(want, got, sizeof(want)) == 0;
	http_token_free(tok);
	return ok;
}

static bool under_prefix(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(path, prefix, n))
		return false;
	return !path[n] || path[n] == '/' || (n && prefix[n - 1] == '/');
}

/* The token file guarding path, copied out of the lock (read without it). */
static bool guard_of(struct http_server *s, const char *path, char *file, size_t size)
{
	bool found = false;

	for (size_t i = 0; i < s->n_rules && !found; i++) {
		if (under_prefix(path, s->rules[i].prefix)) {
			snprintf(file, size, "%s", s->rules[i].file);
			found = true;
		}
	}
	return found;
}

/* ---- routing ----------------------------------------------------------------- */

static void serve_health(struct http_server *s, struct conn *c, bool head_only)
{
	int64_t age = http_server_now_ms() - __atomic_load_n(&s->heartbeat_ms, __ATOMIC_RELAXED);
	char text[96];

	if (age < s->stall_ms) {
		respond_text(c, 200, NULL, "ok\n", head_only);
		return;
	}
	snprintf(text, sizeof(text), "ring buffer not drained for %lld s: main loop stalled\n",
		 (long long)(age / 1000));
	respond_text(c, 503, NULL, text, head_only);
}

static struct blob *find_blob(struct http_server *s, const char *path)
{
	for (size_t i = 0; i < s->n_blobs; i++)
		if (!strcmp(s->blobs[i].path, path))
			return &s->blobs[i];
	return NULL;
}

static void route(struct http_server *s, struct conn *c, const struct http_req *r)
{
	bool head_only = !strcmp(r->method, "HEAD"), guarded;
	char file[4096];
	struct blob *b;

	if (strcmp(r->method, "GET") && !head_only) {
		respond_text(c, 405, "Allow: GET, HEAD\r\n", "method not allowed\n", false);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (!strcmp(r->path, "/healthz")) {
		serve_health(s, c, head_only);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if (!strcmp(r->path, "/readyz")) {
		respond_text(c, s->ready ? 200 : 503, NULL, s->ready ? "ready\n" : "not ready\n", head_only);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	guarded = guard_of(s, r->path, file, sizeof(file));
	pthread_mutex_unlock(&s->lock);
	/* before the 404: an unauthenticated client learns nothing of the paths */
	if (guarded && !token_matches(file, r->auth)) {
		respond_text(c, 401, "WWW-Authenticate: Bearer\r\n", "unauthorized\n", head_only);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if ((b = find_blob(s, r->path))) {
		/* headers now, the body straight from the shared payload */
		respond(c, 200, b->p->content_type, NULL, NULL, b->p->len, true);
		if (c->out_len && !head_only && b->p->len) {
			c->body = b->p;
			c->body->refs++;
		}
	} else
		respond_text(c, 404, NULL, "not found\n", head_only);
	pthread_mutex_unlock(&s->lock);
}

/* ---- connections --------------------------------------------------------------- */

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void start_writing(struct conn *c)
{
	c->state = CONN_WRITE;
	c->deadline = http_server_now_ms() + HTTP_SERVER_IO_TIMEOUT_MS;
	if (!c->out_len)
		conn_close(c);
}

static void on_head(struct http_server *s, struct conn *c, size_t len)
{
	struct http_req *r = malloc(sizeof(*r));

	if (!r) {
		conn_close(c);
		return;
	}
	if (http_request_parse(c->head, len, r))
		respond_text(c, 400, NULL, "bad request\n", false);
	else
		route(s, c, r);
	free(r);
	start_writing(c);
}

static void on_readable(struct http_server *s, struct conn *c)
{
	size_t end;
	ssize_t n;

	if (c->state == CONN_DRAIN) {
		char scratch[4096];

		n = recv(c->fd, scratch, sizeof(scratch), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	n = recv(c->fd, c->head + c->head_len, HTTP_SERVER_MAX_HEAD - c->head_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* gone before asking anything */
		conn_close(c);
		return;
	}
	c->head_len += n;
	c->head[c->head_len] = '\0';
	if ((end = http_request_head_len(c->head, c->head_len))) {
		on_head(s, c, end);
	} else if (c->head_len >= HTTP_SERVER_MAX_HEAD) {
		respond_text(c, 400, NULL, "request head too large\n", false);
		start_writing(c);
	}
}

static void release_body(struct http_server *s, struct conn *c)
{
	if (!c->body)
		return;
	pthread_mutex_lock(&s->lock);
	payload_put(c->body);
	pthread_mutex_unlock(&s->lock);
	c->body = NULL;
}

/* After the answer: half-close and read what the client still sends, so
 * that closing with unread bytes does not reset the connection and destroy
 * the answer in flight (a POST body we never read, say). */
static void on_writable(struct http_server *s, struct conn *c)
{
	bool head = c->out_off < c->out_len;
	const char *from = head ? c->out + c->out_off : c->body->body + c->body_off;
	size_t left = head ? c->out_len - c->out_off : c->body->len - c->body_off;
	ssize_t n = send(c->fd, from, left, MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	if (head)
		c->out_off += n;
	else
		c->body_off += n;
	c->deadline = http_server_now_ms() + HTTP_SERVER_IO_TIMEOUT_MS; /* progress */
	if (c->out_off < c->out_len || (c->body && c->body_off < c->body->len))
		return;
	release_body(s, c);
	shutdown(c->fd, SHUT_WR);
	c->state = CONN_DRAIN;
	c->deadline = http_server_now_ms() + DRAIN_MS;
}

static void accept_pending(struct http_server *s)
{
	while (s->n_conns < MAX_CONNS) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			return; /* EAGAIN, or a client that left before accept */
		if (!(c = calloc(1, sizeof(*c)))) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->state = CONN_READ;
		c->deadline = http_server_now_ms() + HTTP_SERVER_IO_TIMEOUT_MS;
		s->conns[s->n_conns++] = c;
	}
}

/* Drops closed and expired connections, keeping the order of the rest. */
static void reap(struct http_server *s, int64_t now)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n_conns; i++) {
		struct conn *c = s->conns[i];

		if (c->fd >= 0 && now >= c->deadline)
			conn_close(c);
		if (c->fd < 0) {
			release_body(s, c);
			free(c->out);
			free(c);
		} else {
			s->conns[k++] = c;
		}
	}
	s->n_conns = k;
}

static int poll_timeout(const struct http_server *s, int64_t now)
{
	int64_t t = -1;

	for (size_t i = 0; i < s->n_conns; i++) {
		int64_t left = s->conns[i]->deadline - now;

		if (left < 0)
			left = 0;
		if (t < 0 || left < t)
			t = left;
	}
	return (int)t;
}

/* One thread, one poll() over the listener and every connection: each
 * connection advances as its socket allows and has its own deadline, so a
 * client that stalls delays nobody but itself, without a thread per client. */
static void *serve(void *arg)
{
	struct http_server *s = arg;
	struct pollfd pfd[2 + MAX_CONNS];

	for (;;) {
		size_t n = s->n_conns;
		int rc;

		pfd[0] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = s->listen_fd, .events = n < MAX_CONNS ? POLLIN : 0 };
		for (size_t i = 0; i < n; i++)
			pfd[2 + i] = (struct pollfd){ .fd = s->conns[i]->fd,
						      .events = s->conns[i]->state == CONN_WRITE ? POLLOUT : POLLIN };
		rc = poll(pfd, 2 + n, poll_timeout(s, http_server_now_ms()));
		if (rc < 0 && errno != EINTR) {
			log_error("http: poll: %s", strerror(errno));
			break;
		}
		if (rc > 0 && pfd[0].revents)
			break;
		for (size_t i = 0; rc > 0 && i < n; i++) {
			struct conn *c = s->conns[i];

			if (!pfd[2 + i].revents)
				continue;
			if (c->state == CONN_WRITE)
				on_writable(s, c);
			else
				on_readable(s, c);
		}
		if (rc > 0 && (pfd[1].revents & POLLIN))
			accept_pending(s);
		reap(s, http_server_now_ms());
	}
	return NULL;
}

/* ---- setup -------------------------------------------------------------------- */

static int parse_port(const char *p, uint16_t *port)
{
	unsigned long v;
	char *end;

	if (!*p || strspn(p, "0123456789") != strlen(p))
		return -EINVAL;
	errno = 0;
	v = strtoul(p, &end, 10);
	if (errno || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* "1.2.3.4:P", "[::1]:P", "localhost:P": no name lookup, so the address
 * bound is the one written. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len, char *err, size_t err_size)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	const char *colon;
	char host[64];
	uint16_t port;

	memset(ss, 0, sizeof(*ss));
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':' || (size_t)(close - addr - 1) >= sizeof(host))
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(close - addr - 1), addr + 1);
		if (parse_port(close + 2, &port) || inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			goto bad;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	colon = strchr(addr, ':');
	if (!colon || strchr(colon + 1, ':') || (size_t)(colon - addr) >= sizeof(host))
		goto bad; /* a bare IPv6 address is ambiguous: [ADDR]:PORT */
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	if (parse_port(colon + 1, &port) || inet_pton(AF_INET, host, &in4->sin_addr) != 1)
		goto bad;
	in4->sin_family = AF_INET;
	in4->sin_port = htons(port);
	*len = sizeof(*in4);
	return 0;
bad:
	format_error(err, err_size, "bad listen address \"%s\": want IPV4:PORT, [IPV6]:PORT or localhost:PORT",
		     addr);
	return -EINVAL;
}

/* "address already in use", as one writes it in a sentence. */
static void socket_error(char *err, size_t err_size, const char *addr, int error)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "%s", strerror(error));
	if (msg[0] && msg[1] && !isupper((unsigned char)msg[1]))
		msg[0] = (char)tolower((unsigned char)msg[0]);
	format_error(err, err_size, "%s: %s", addr, msg);
}

static int open_listener(struct http_server *s, const char *addr, char *err, size_t err_size)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, rc;

	if ((rc = parse_addr(addr, &ss, &len, err, err_size)))
		return rc;
	s->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		rc = -errno;
		socket_error(err, err_size, addr, errno);
		return rc;
	}
	/* a restarted agent rebinds while old connections sit in TIME_WAIT */
	setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->listen_fd, (struct sockaddr *)&ss, len) < 0 || listen(s->listen_fd, 64) < 0 ||
	    getsockname(s->listen_fd, (struct sockaddr *)&ss, &len) < 0) {
		rc = -errno;
		socket_error(err, err_size, addr, errno);
		return rc;
	}
	s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

/* Signals belong to the main thread (its poll sees EINTR, its handlers set
 * the exit flag): the server thread starts with all of them blocked. */
static int start_thread(struct http_server *s)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->thread, NULL, serve, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return -rc;
	s->thread_started = true;
	return 0;
}

int http_server_start(struct http_server **out, const char *addr, char *err, size_t err_size)
{
	struct http_server *s;
	int rc;

	if (!out || !addr) {
		format_error(err, err_size, "http server: no listen address");
		return -EINVAL;
	}
	*out = NULL;
	if (!(s = calloc(1, sizeof(*s)))) {
		format_error(err, err_size, "http server: out of memory");
		return -ENOMEM;
	}
	s->listen_fd = s->wake[0] = s->wake[1] = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->stall_ms = HTTP_SERVER_STALL_MS;
	s->heartbeat_ms = http_server_now_ms();
	if ((rc = open_listener(s, addr, err, err_size)))
		goto fail;
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = -errno;
		format_error(err, err_size, "http server: pipe: %s", strerror(errno));
		goto fail;
	}
	if ((rc = start_thread(s))) {
		format_error(err, err_size, "http server: starting its thread: %s", strerror(-rc));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	http_server_stop(s);
	return rc;
}

uint16_t http_server_port(const struct http_server *s)
{
	return s ? s->port : 0;
}

static bool builtin(const char *path)
{
	return !strcmp(path, "/healthz") || !strcmp(path, "/readyz");
}

int http_server_publish(struct http_server *s, const char *path, const char *content_type, const void *body,
			size_t len)
{
	struct payload *p;
	struct blob *b;
	int rc = 0;

	if (!s || !path || path[0] != '/' || builtin(path) || !content_type || (len && !body) ||
	    strpbrk(content_type, "\r\n"))
		return -EINVAL;
	if (!(p = payload_new(content_type, body, len))) /* the copy outside the lock */
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	if (!(b = find_blob(s, path))) {
		if (s->n_blobs == HTTP_SERVER_MAX_PATHS)
			rc = -ENOSPC;
		else if (!(s->blobs[s->n_blobs].path = strdup(path)))
			rc = -ENOMEM;
		else
			b = &s->blobs[s->n_blobs++];
	}
	if (b) {
		payload_put(b->p);
		b->p = p;
		p = NULL;
	}
	payload_put(p);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void http_server_heartbeat(struct http_server *s, int64_t now_ms)
{
	if (!s)
		return;
	__atomic_store_n(&s->heartbeat_ms, now_ms > 0 ? now_ms : http_server_now_ms(), __ATOMIC_RELAXED);
}

void http_server_set_stall_timeout(struct http_server *s, int64_t ms)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stall_ms = ms > 0 ? ms : HTTP_SERVER_STALL_MS;
	pthread_mutex_unlock(&s->lock);
}

void http_server_set_ready(struct http_server *s, bool ready)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->ready = ready;
	pthread_mutex_unlock(&s->lock);
}

int http_server_require_token(struct http_server *s, const char *path_prefix, const char *token_file)
{
	struct rule r;
	int rc = 0;

	if (!s || !path_prefix || path_prefix[0] != '/' || !token_file || !*token_file)
		return -EINVAL;
	r.prefix = strdup(path_prefix);
	r.file = strdup(token_file);
	pthread_mutex_lock(&s->lock);
	if (!r.prefix || !r.file)
		rc = -ENOMEM;
	else if (s->n_rules == MAX_RULES)
		rc = -ENOSPC;
	else
		s->rules[s->n_rules++] = r;
	pthread_mutex_unlock(&s->lock);
	if (rc) {
		free(r.prefix);
		free(r.file);
	}
	return rc;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	if (s->thread_started) {
		if (write(s->wake[1], "x", 1) < 0)
			log_warn("http: waking the server thread: %s", strerror(errno));
		pthread_join(s->thread, NULL);
	}
	for (size_t i = 0; i < s->n_conns; i++) {
		conn_close(s->conns[i]);
		release_body(s, s->conns[i]);
		free(s->conns[i]->out);
		free(s->conns[i]);
	}
	for (size_t i = 0; i < s->n_blobs; i++) {
		free(s->blobs[i].path);
		payload_put(s->blobs[i].p);
	}
	for (size_t i = 0; i < s->n_rules; i++) {
		free(s->rules[i].prefix);
		free(s->rules[i].file);
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	if (s->wake[1] >= 0)
		close(s->wake[1]);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
