#include <errno.h>
#include <fcntl.h>
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
#include <zlib.h>

#include "common/https_client.h"
#include "ship/sink.h"
#include "ship/spool.h"
#include "loopback_http.h"
#include "testutil.h"

#define DEADLINE_MS 15000 /* bound on every wait: a hang fails, never blocks */
#define MAX_REQS 64
#define MAX_SCRIPT 16
#define TOKEN "tok-Abc123.def"

/* Ports 18611-18619 are this test's. */
enum {
	PORT_ORDER = 18611,
	PORT_RETRY,
	PORT_RETRY_AFTER,
	PORT_REJECT,
	PORT_GARBAGE,
	PORT_OUTAGE,
	PORT_TLS,
	PORT_STOP,
	PORT_SLOW,
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a loopback HTTP/1.1 server, plain or TLS, one connection at a time --- */

#define REPLY_GARBAGE 0 /* status: bytes that are not HTTP, then close */
#define REPLY_CLOSE (-1) /* status: close without answering */

struct reply {
	int status;
	int retry_after;  /* -1: no header */
	int delay_ms;     /* before answering */
};

struct req {
	char method[16], path[128], auth[256], ctype[128], cenc[64];
	uint8_t *body;
	size_t len;
	int64_t t_ms;     /* arrival, monotonic */
};

struct srv {
	struct loopback lb; /* first: the handler casts back */
	struct reply script[MAX_SCRIPT]; /* answers in order, then default_status */
	size_t n_script, next;
	int default_status;
	struct req reqs[MAX_REQS];
	size_t n_reqs;
};
_Static_assert(offsetof(struct srv, lb) == 0, "serve() casts lb back to its srv");

/* Reads one request into r; false when the client sent none. */
static bool read_request(struct conn *c, struct req *r)
{
	char head[16384], cl[32];
	size_t got = 0, hlen, body_have;
	char *end = NULL;

	while (!end) {
		ssize_t n;

		if (got == sizeof(head) - 1)
			return false;
		n = conn_read(c, head + got, sizeof(head) - 1 - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
		head[got] = '\0';
		end = strstr(head, "\r\n\r\n");
	}
	hlen = (size_t)(end - head) + 4;
	end[2] = '\0'; /* keeps the last header's CRLF */
	sscanf(head, "%15s %127s", r->method, r->path);
	header_value(head, "Authorization", r->auth, sizeof(r->auth));
	header_value(head, "Content-Type", r->ctype, sizeof(r->ctype));
	header_value(head, "Content-Encoding", r->cenc, sizeof(r->cenc));
	header_value(head, "Content-Length", cl, sizeof(cl));
	r->len = strtoul(cl, NULL, 10);
	r->body = malloc(r->len + 1);
	if (!r->body)
		return false;
	body_have = got - hlen < r->len ? got - hlen : r->len;
	memcpy(r->body, head + hlen, body_have);
	while (body_have < r->len) {
		ssize_t n = conn_read(c, r->body + body_have, r->len - body_have);

		if (n <= 0)
			return false;
		body_have += (size_t)n;
	}
	return true;
}

static struct reply next_reply(struct srv *s)
{
	struct reply rp = { s->default_status, -1, 0 };

	if (s->next < s->n_script)
		rp = s->script[s->next++];
	return rp;
}

static void answer(struct srv *s, struct conn *c, struct reply rp)
{
	static const char garbage[] = "\x01\x02 this is not HTTP at all \xff\r\n\r\n";
	char out[256];
	int n;

	for (int64_t until = mono_ms() + rp.delay_ms; mono_ms() < until && !atomic_load(&s->lb.stop);)
		usleep(10000);
	if (rp.status == REPLY_CLOSE)
		return;
	if (rp.status == REPLY_GARBAGE) {
		conn_write(c, garbage, sizeof(garbage) - 1);
		return;
	}
	n = snprintf(out, sizeof(out), "HTTP/1.1 %d Test\r\nContent-Length: 2\r\nConnection: close\r\n", rp.status);
	if (rp.retry_after >= 0)
		n += snprintf(out + n, sizeof(out) - (size_t)n, "Retry-After: %d\r\n", rp.retry_after);
	n += snprintf(out + n, sizeof(out) - (size_t)n, "\r\nok");
	conn_write(c, out, (size_t)n);
}

static void serve(struct loopback *lb, struct conn *c)
{
	struct srv *s = (struct srv *)lb;
	struct req r;
	struct reply rp;

	memset(&r, 0, sizeof(r));
	if (!read_request(c, &r)) {
		free(r.body);
		return;
	}
	r.t_ms = mono_ms();
	pthread_mutex_lock(&lb->mu);
	if (s->n_reqs < MAX_REQS)
		s->reqs[s->n_reqs++] = r;
	else
		free(r.body);
	rp = next_reply(s);
	pthread_mutex_unlock(&lb->mu);
	answer(s, c, rp);
}

static void srv_start(struct srv *s, int port, SSL_CTX *tls)
{
	s->default_status = s->default_status ? s->default_status : 200;
	loopback_start(&s->lb, port, tls, serve);
}

static void srv_stop(struct srv *s)
{
	loopback_stop(&s->lb);
	for (size_t i = 0; i < s->n_reqs; i++)
		free(s->reqs[i].body);
	memset(s, 0, sizeof(*s));
}

static void srv_script(struct srv *s, int status, int retry_after, int delay_ms)
{
	pthread_mutex_lock(&s->lb.mu);
	assert_true(s->n_script < MAX_SCRIPT);
	s->script[s->n_script++] = (struct reply){ status, retry_after, delay_ms };
	pthread_mutex_unlock(&s->lb.mu);
}

static void srv_set_default(struct srv *s, int status)
{
	pthread_mutex_lock(&s->lb.mu);
	s->default_status = status;
	pthread_mutex_unlock(&s->lb.mu);
}

static size_t srv_count(struct srv *s)
{
	size_t n;

	pthread_mutex_lock(&s->lb.mu);
	n = s->n_reqs;
	pthread_mutex_unlock(&s->lb.mu);
	return n;
}

static void wait_reqs(struct srv *s, size_t n)
{
	int64_t end = mono_ms() + DEADLINE_MS;

	while (srv_count(s) < n) {
		if (mono_ms() > end)
			fail_msg("waited %d ms for %zu requests, got %zu", DEADLINE_MS, n, srv_count(s));
		usleep(5000);
	}
}

/* ---- fixture ----------------------------------------------------------------- */

struct fx {
	char dir[PATH_MAX];
	char spool[PATH_MAX + 16];
	char token[PATH_MAX + 16];
	char cert[PATH_MAX + 16];
	char key[PATH_MAX + 16];
	char url[128];
	struct srv srv;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (make_temp_dir(f->dir, sizeof(f->dir), "reach-sink")) {
		free(f);
		return -1;
	}
	snprintf(f->spool, sizeof(f->spool), "%s/spool", f->dir);
	snprintf(f->token, sizeof(f->token), "%s/token", f->dir);
	snprintf(f->cert, sizeof(f->cert), "%s/cert.pem", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/key.pem", f->dir);
	write_text(f->token, TOKEN "\n");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc;

	if (f->srv.lb.port)
		srv_stop(&f->srv);
	rc = remove_tree(f->dir);
	free(f);
	return rc;
}

static struct sink_opts opts_for(struct fx *f, int port, double bmin, double bmax)
{
	struct sink_opts o = {
		.name = "collector",
		.content_type = "application/x-protobuf",
		.gzip = true,
		.spool_dir = f->spool,
		.backoff_min_s = bmin,
		.backoff_max_s = bmax,
	};

	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/v1/reports", port);
	o.target.url = f->url;
	o.target.token_file = f->token;
	o.target.timeout_ms = 5000;
	return o;
}

static struct sink *sink_ok(const struct sink_opts *o)
{
	struct sink *s = NULL;
	char err[512] = "";
	int rc = sink_new(&s, o, err, sizeof(err));

	if (rc)
		fail_msg("sink_new: %d (%s)", rc, err);
	return s;
}

static struct sink_stats stats_of(struct sink *s)
{
	struct sink_stats st;

	sink_stats(s, &st);
	return st;
}

enum counter { SENT, FAILED, REJECTED };

static uint64_t counter_of(struct sink *s, enum counter c)
{
	struct sink_stats st = stats_of(s);

	return c == SENT ? st.sent : c == FAILED ? st.failed_attempts : st.rejected;
}

static void wait_counter(struct sink *s, enum counter c, uint64_t n)
{
	int64_t end = mono_ms() + DEADLINE_MS;

	while (counter_of(s, c) < n) {
		if (mono_ms() > end)
			fail_msg("waited %d ms for counter %d to reach %llu, at %llu", DEADLINE_MS, (int)c,
				 (unsigned long long)n, (unsigned long long)counter_of(s, c));
		usleep(5000);
	}
}

static void submit_str(struct sink *s, const char *body)
{
	assert_int_equal(sink_submit(s, body, strlen(body)), 0);
}

/* Inflates a gzip body. */
static size_t gunzip(const uint8_t *in, size_t len, uint8_t *out, size_t size)
{
	z_stream zs;
	int zrc;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)size;
	zrc = inflate(&zs, Z_FINISH);
	inflateEnd(&zs);
	assert_int_equal(zrc, Z_STREAM_END);
	return zs.total_out;
}

/* Request i carried body want (gzip'ed) with the agent's headers. */
static void assert_req(struct srv *s, size_t i, const char *want, const char *token)
{
	struct req *r = &s->reqs[i];
	uint8_t plain[4096];
	char auth[300];
	size_t n;

	assert_true(i < srv_count(s));
	assert_string_equal(r->method, "POST");
	assert_string_equal(r->path, "/v1/reports");
	assert_string_equal(r->ctype, "application/x-protobuf");
	assert_string_equal(r->cenc, "gzip");
	snprintf(auth, sizeof(auth), "Bearer %s", token);
	assert_string_equal(r->auth, auth);
	assert_true(r->len >= 2 && r->body[0] == 0x1f && r->body[1] == 0x8b);
	n = gunzip(r->body, r->len, plain, sizeof(plain));
	assert_int_equal(n, strlen(want));
	assert_memory_equal(plain, want, n);
}

/* ---- a self-signed certificate for 127.0.0.1 ----------------------------------- */

/* Writes f->cert and f->key (PEM); returns both if asked (caller frees). */
static void make_cert_for(struct fx *f, X509 **x_out, EVP_PKEY **k_out)
{
	make_cert("reach-test", "IP:127.0.0.1", f->cert, f->key, x_out, k_out);
}

static SSL_CTX *make_tls(struct fx *f)
{
	EVP_PKEY *k;
	X509 *x;

	make_cert_for(f, &x, &k);
	return make_tls_ctx(x, k);
}

/* ---- tests: building blocks ------------------------------------------------------ */

static void test_gzip_round_trip(void **state)
{
	static uint8_t in[200000], out[200000];
	void *gz = NULL;
	size_t gz_len = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i % 251 < 100 ? 'a' : i * 7);
	assert_int_equal(gzip_compress(in, sizeof(in), &gz, &gz_len), 0);
	assert_true(gz_len > 18 && gz_len < sizeof(in));
	assert_int_equal(((uint8_t *)gz)[0], 0x1f); /* RFC 1952 magic, deflate */
	assert_int_equal(((uint8_t *)gz)[1], 0x8b);
	assert_int_equal(((uint8_t *)gz)[2], 8);
	assert_int_equal(gunzip(gz, gz_len, out, sizeof(out)), sizeof(in));
	assert_memory_equal(in, out, sizeof(in));
	free(gz);
	assert_int_equal(gzip_compress("", 0, &gz, &gz_len), 0);
	assert_int_equal(gunzip(gz, gz_len, out, sizeof(out)), 0);
	free(gz);
}

static void test_retry_after_parse(void **state)
{
	time_t now = time(NULL);
	char date[64];
	struct tm tm;
	long v;

	(void)state;
	assert_int_equal(http_retry_after_parse("120", now), 120);
	assert_int_equal(http_retry_after_parse(" 7 \r\n", now), 7);
	assert_int_equal(http_retry_after_parse("0", now), 0);
	assert_int_equal(http_retry_after_parse("99999999999999999999999", now), 1000000000L);
	assert_int_equal(http_retry_after_parse("soon", now), -1);
	assert_int_equal(http_retry_after_parse("-5", now), -1);
	assert_int_equal(http_retry_after_parse("", now), -1);
	assert_int_equal(http_retry_after_parse(NULL, now), -1);
	gmtime_r(&(time_t){ now + 30 }, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	v = http_retry_after_parse(date, now);
	assert_int_equal(v, 30);
	gmtime_r(&(time_t){ now - 30 }, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	assert_int_equal(http_retry_after_parse(date, now), 0);
}

static void expect_check_fails(const struct http_target *t, const char *want, const char *must_not)
{
	char err[512] = "";

	assert_true(http_target_check(t, err, sizeof(err)) < 0);
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	if (must_not)
		assert_null(strstr(err, must_not));
}

static void test_target_check(void **state)
{
	struct fx *f = *state;
	struct http_target t = { .url = "https://collector.example:8443/v1/reports", .token_file = f->token };
	char err[512] = "", path[PATH_MAX + 32], desc[256];

	assert_int_equal(http_target_check(&t, err, sizeof(err)), 0);

	t.url = "ftp://collector.example/";
	expect_check_fails(&t, "scheme ftp", NULL);
	t.url = "not a url at all";
	expect_check_fails(&t, "not a valid URL", NULL);
	/* credentials in a URL never reach an error message */
	t.url = "https://user:s3cret@/v1";
	expect_check_fails(&t, "url", "s3cret");
	t.url = "https://collector.example/v1/reports";
	t.timeout_ms = -1;
	expect_check_fails(&t, "negative", NULL);
	t.timeout_ms = 0;

	snprintf(path, sizeof(path), "%s/missing", f->dir);
	t.token_file = path;
	expect_check_fails(&t, path, NULL);
	write_text(path, " \n\n");
	expect_check_fails(&t, "empty", NULL);
	/* a second line would inject a header: refused, and not echoed */
	write_text(path, "abcSECRETdef\r\nX-Evil: 1\n");
	expect_check_fails(&t, "more than one line", "SECRET");
	expect_check_fails(&t, path, "Evil");
	t.token_file = f->token;

	t.ca_file = f->token; /* a file without any certificate */
	expect_check_fails(&t, "no PEM certificate", NULL);
	make_cert_for(f, NULL, NULL);
	t.ca_file = f->key; /* a PEM file, but a key */
	expect_check_fails(&t, "no PEM certificate", NULL);
	t.ca_file = f->cert;
	assert_int_equal(http_target_check(&t, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/missing-ca", f->dir);
	t.ca_file = path;
	expect_check_fails(&t, path, NULL);

	t.url = "https://user:s3cret@collector.example:8443/v1/reports?token=abc#frag";
	http_target_describe(&t, desc, sizeof(desc));
	assert_string_equal(desc, "https://collector.example:8443/...");
	t.url = "https://hooks.slack.example/services/T0/B0/webhook-secret-path";
	http_target_describe(&t, desc, sizeof(desc));
	assert_string_equal(desc, "https://hooks.slack.example/...");
	t.url = "http://alertmanager:9093";
	http_target_describe(&t, desc, sizeof(desc));
	assert_string_equal(desc, "http://alertmanager:9093/");
	t.url = "::";
	http_target_describe(&t, desc, sizeof(desc));
	assert_string_equal(desc, "(invalid URL)");
}

/* ---- tests: delivery ------------------------------------------------------------ */

static void test_delivers_in_order_with_headers(void **state)
{
	struct fx *f = *state;
	struct sink_opts o = opts_for(f, PORT_ORDER, 0.01, 0.05);
	struct sink *s;
	struct sink_stats st;

	srv_start(&f->srv, PORT_ORDER, NULL);
	s = sink_ok(&o);
	submit_str(s, "report one");
	submit_str(s, "report two");
	submit_str(s, "report three");
	wait_counter(s, SENT, 3);
	assert_int_equal(srv_count(&f->srv), 3);
	assert_req(&f->srv, 0, "report one", TOKEN);
	assert_req(&f->srv, 1, "report two", TOKEN);
	assert_req(&f->srv, 2, "report three", TOKEN);
	st = stats_of(s);
	assert_int_equal(st.failed_attempts, 0);
	assert_int_equal(st.rejected, 0);
	assert_int_equal(st.spool_records, 0);
	assert_int_equal(st.spool_bytes, 0);
	assert_int_equal(st.last_status, 200);
	assert_int_equal(st.consecutive_failures, 0);
	assert_true(st.last_success_unix_ms > 1700000000000LL);

	/* the token file is read at each send: a rotated token is used next */
	write_text(f->token, "rotated-token\n");
	submit_str(s, "report four");
	wait_counter(s, SENT, 4);
	assert_req(&f->srv, 3, "report four", "rotated-token");

	/* a token file that went missing fails the attempt (retried), and the
	 * error names the file, never a token */
	unlink(f->token);
	submit_str(s, "report five");
	wait_counter(s, FAILED, 1);
	st = stats_of(s);
	assert_non_null(strstr(st.last_error, f->token));
	assert_int_equal(st.last_status, 0);
	write_text(f->token, TOKEN "\n");
	wait_counter(s, SENT, 5);
	assert_req(&f->srv, 4, "report five", TOKEN);
	assert_null(strstr(stats_of(s).last_error, "rotated-token"));
	sink_free(s);
}

static void test_retries_server_errors(void **state)
{
	struct fx *f = *state;
	struct sink_opts o = opts_for(f, PORT_RETRY, 0.01, 0.05);
	struct sink *s;
	struct sink_stats st;

	srv_start(&f->srv, PORT_RETRY, NULL);
	srv_script(&f->srv, 500, -1, 0);
	srv_script(&f->srv, 503, -1, 0);
	srv_script(&f->srv, 408, -1, 0);
	s = sink_ok(&o);
	submit_str(s, "retried");
	wait_counter(s, SENT, 1);
	assert_int_equal(srv_count(&f->srv), 4);
	for (size_t i = 0; i < 4; i++)
		assert_req(&f->srv, i, "retried", TOKEN);
	/* backoff within [0.01, 0.05] s: no default 1 s wait crept in */
	assert_true(f->srv.reqs[3].t_ms - f->srv.reqs[0].t_ms < 900);
	st = stats_of(s);
	assert_int_equal(st.failed_attempts, 3);
	assert_int_equal(st.consecutive_failures, 0);
	assert_int_equal(st.rejected, 0);
	assert_int_equal(st.last_status, 200);
	assert_string_equal(st.last_error, "HTTP 408");
	assert_int_equal(st.spool_records, 0);
	sink_free(s);
}

static void test_honours_retry_after(void **state)
{
	struct fx *f = *state;
	struct sink_opts o = opts_for(f, PORT_RETRY_AFTER, 0.01, 5);
	struct sink *s;
	int64_t gap;

	srv_start(&f->srv, PORT_RETRY_AFTER, NULL);
	srv_script(&f->srv, 429, 1, 0);
	srv_script(&f->srv, 503, 1, 0);
	s = sink_ok(&o);
	submit_str(s, "throttled");
	wait_counter(s, SENT, 1);
	assert_int_equal(srv_count(&f->srv), 3);
	gap = f->srv.reqs[1].t_ms - f->srv.reqs[0].t_ms;
	if (gap < 900)
		fail_msg("429 with Retry-After: 1, retried after %lld ms", (long long)gap);
	gap = f->srv.reqs[2].t_ms - f->srv.reqs[1].t_ms;
	if (gap < 900)
		fail_msg("503 with Retry-After: 1, retried after %lld ms", (long long)gap);
	assert_req(&f->srv, 2, "throttled", TOKEN);
	sink_free(s);

	/* a Retry-After beyond backoff_max waits backoff_max only */
	o.backoff_max_s = 0.2;
	srv_script(&f->srv, 429, 3600, 0);
	s = sink_ok(&o);
	submit_str(s, "capped");
	wait_counter(s, SENT, 1);
	assert_int_equal(srv_count(&f->srv), 5);
	gap = f->srv.reqs[4].t_ms - f->srv.reqs[3].t_ms;
	assert_true(gap < 3000);
	sink_free(s);
}

static void test_rejects_client_errors(void **state)
{
	struct fx *f = *state;
	struct sink_opts o = opts_for(f, PORT_REJECT, 0.01, 0.05);
	struct sink *s;
	struct sink_stats st;

	srv_start(&f->srv, PORT_REJECT, NULL);
	srv_script(&f->srv, 400, -1, 0); /* bad: removed, never retried */
	srv_script(&f->srv, 200, -1, 0);
	srv_script(&f->srv, 401, -1, 0); /* a token problem: retried */
	srv_script(&f->srv, 403, -1, 0);
	srv_script(&f->srv, 200, -1, 0);
	srv_script(&f->srv, 413, -1, 0); /* too large: removed */
	s = sink_ok(&o);
	submit_str(s, "malformed");
	submit_str(s, "fine");
	submit_str(s, "after a token fix");
	submit_str(s, "huge");
	wait_counter(s, REJECTED, 2);
	st = stats_of(s);
	assert_int_equal(st.sent, 2);
	assert_int_equal(st.failed_attempts, 2);
	assert_int_equal(st.spool_records, 0);
	assert_int_equal(st.last_status, 413);
	assert_non_null(strstr(st.last_error, "rejected: HTTP 413"));
	assert_int_equal(srv_count(&f->srv), 6);
	assert_req(&f->srv, 0, "malformed", TOKEN);
	assert_req(&f->srv, 1, "fine", TOKEN);
	assert_req(&f->srv, 2, "after a token fix", TOKEN);
	assert_req(&f->srv, 3, "after a token fix", TOKEN);
	assert_req(&f->srv, 4, "after a token fix", TOKEN);
	assert_req(&f->srv, 5, "huge", TOKEN);
	sink_free(s);
}

/* Answers that are not HTTP, or none at all, are failures to retry. */
static void test_garbage_and_closed_answers_retried(void **state)
{
	struct fx *f = *state;
	struct sink_opts o = opts_for(f, PORT_GARBAGE, 0.01, 0.05);
	struct sink *s;
	struct sink_stats st;

	srv_start(&f->srv, PORT_GARBAGE, NULL);
	srv_script(&f->srv, REPLY_GARBAGE, -1, 0);
	srv_script(&f->srv, REPLY_CLOSE, -1, 0);
	s = sink_ok(&o);
	submit_str(s, "persistent");
	wait_counter(s, SENT, 1);
	st = stats_of(s);
	assert_int_equal(st.failed_attempts, 2);
	assert_int_equal(srv_count(&f->srv), 3);
	assert_req(&f->srv, 2, "persistent", TOKEN);
	assert_true(st.last_error[0] != '\0');
	sink_free(s);
}

/* Records submitted while the collector is down go out after it, in order. */
static void test_outage_then_delivery_in_order(void **state)
{
	struct fx *f = *state;
	struct sink_opts o = opts_for(f, PORT_OUTAGE, 0.01, 0.05);
	struct sink *s = sink_ok(&o);
	struct sink_stats st;

	submit_str(s, "during 1");
	wait_counter(s, FAILED, 2);
	submit_str(s, "during 2");
	submit_str(s, "during 3");
	st = stats_of(s);
	assert_int_equal(st.last_status, 0);
	assert_true(st.consecutive_failures >= 2);
	assert_true(st.last_error[0] != '\0');
	assert_null(strstr(st.last_error, TOKEN));
	assert_int_equal(st.spool_records, 3);
	assert_int_equal(st.sent, 0);

	srv_start(&f->srv, PORT_OUTAGE, NULL);
	wait_counter(s, SENT, 3);
	assert_int_equal(srv_count(&f->srv), 3);
	assert_req(&f->srv, 0, "during 1", TOKEN);
	assert_req(&f->srv, 1, "during 2", TOKEN);
	assert_req(&f->srv, 2, "during 3", TOKEN);
	st = stats_of(s);
	assert_int_equal(st.consecutive_failures, 0);
	assert_int_equal(st.spool_records, 0);
	sink_free(s);
}

static void test_tls_verified(void **state)
{
	struct fx *f = *state;
	struct sink_opts o = opts_for(f, PORT_TLS, 0.01, 0.05);
	struct http_target t = { 0 };
	struct http_result res;
	struct sink *s;
	SSL_CTX *ctx;
	int rc;

	if (!load_libssl())
		skip(); /* libcurl without OpenSSL */
	ctx = make_tls(f);
	srv_start(&f->srv, PORT_TLS, ctx);
	snprintf(f->url, sizeof(f->url), "https://127.0.0.1:%d/v1/reports", PORT_TLS);

	/* not trusted by the system store: refused, whatever the answer */
	t.url = f->url;
	t.token_file = f->token;
	t.timeout_ms = 5000;
	rc = http_post(&t, "application/x-protobuf", "x", 1, true, &res);
	assert_true(rc < 0);
	assert_int_equal(res.status, 0);
	if (!strcasestr(res.error, "certificate"))
		fail_msg("untrusted certificate accepted or odd error: %s", res.error);
	assert_null(strstr(res.error, TOKEN));
	assert_int_equal(srv_count(&f->srv), 0);

	/* trusted through ca_file */
	o.target.ca_file = f->cert;
	s = sink_ok(&o);
	submit_str(s, "over tls");
	wait_counter(s, SENT, 1);
	assert_req(&f->srv, 0, "over tls", TOKEN);
	assert_int_equal(stats_of(s).failed_attempts, 0);
	sink_free(s);
	srv_stop(&f->srv);
	ssl.SSL_CTX_free(ctx);
}

/* sink_free does not wait out a backoff; what was not delivered is
 * delivered, in order, by the next sink on the same spool. */
static void test_free_during_backoff_keeps_records(void **state)
{
	struct fx *f = *state;
	struct sink_opts o = opts_for(f, PORT_STOP, 60, 60);
	struct sink *s;
	int64_t t0, took;

	srv_start(&f->srv, PORT_STOP, NULL);
	srv_set_default(&f->srv, 503);
	s = sink_ok(&o);
	submit_str(s, "undelivered 1");
	submit_str(s, "undelivered 2");
	wait_counter(s, FAILED, 1);
	assert_int_equal(stats_of(s).spool_records, 2);
	t0 = mono_ms();
	sink_free(s);
	took = mono_ms() - t0;
	if (took > 1000)
		fail_msg("sink_free took %lld ms during a 60 s backoff", (long long)took);
	assert_int_equal(srv_count(&f->srv), 1);

	srv_set_default(&f->srv, 200);
	o.backoff_min_s = 0.01;
	o.backoff_max_s = 0.05;
	s = sink_ok(&o);
	submit_str(s, "new after restart");
	wait_counter(s, SENT, 3);
	assert_int_equal(srv_count(&f->srv), 4);
	assert_req(&f->srv, 1, "undelivered 1", TOKEN);
	assert_req(&f->srv, 2, "undelivered 2", TOKEN);
	assert_req(&f->srv, 3, "new after restart", TOKEN);
	assert_int_equal(stats_of(s).spool_records, 0);
	sink_free(s);
}

/* A POST in flight to a collector that does not answer is aborted by
 * sink_free (long before timeout_ms), and its record stays spooled. */
static void test_free_aborts_post_in_flight(void **state)
{
	struct fx *f = *state;
	struct sink_opts o = opts_for(f, PORT_SLOW, 0.01, 0.05);
	struct spool *sp = NULL;
	struct spool_stats st;
	char err[512] = "";
	struct sink *s;
	int64_t t0, took;

	o.target.timeout_ms = 30000;
	srv_start(&f->srv, PORT_SLOW, NULL);
	srv_script(&f->srv, 200, -1, 20000);
	s = sink_ok(&o);
	submit_str(s, "slow");
	wait_reqs(&f->srv, 1);
	usleep(100000);
	t0 = mono_ms();
	sink_free(s);
	took = mono_ms() - t0;
	if (took > 3000)
		fail_msg("sink_free took %lld ms with a POST in flight", (long long)took);
	assert_int_equal(spool_open(&sp, f->spool, NULL, err, sizeof(err)), 0);
	spool_stats(sp, &st);
	assert_int_equal(st.records, 1);
	spool_close(sp);
}

static void test_new_fails_clearly(void **state)
{
	struct fx *f = *state;
	struct sink_opts o = opts_for(f, PORT_ORDER, 0, 0);
	char err[512] = "", missing[PATH_MAX + 32], file[PATH_MAX + 64];
	struct sink *s = (struct sink *)1;

	snprintf(missing, sizeof(missing), "%s/no-token", f->dir);
	o.target.token_file = missing;
	assert_true(sink_new(&s, &o, err, sizeof(err)) < 0);
	assert_null(s);
	assert_non_null(strstr(err, "sink collector"));
	assert_non_null(strstr(err, missing));

	o.target.token_file = f->token;
	snprintf(file, sizeof(file), "%s/spool-under-a-file", f->token);
	o.spool_dir = file;
	assert_true(sink_new(&s, &o, err, sizeof(err)) < 0);
	assert_null(s);
	assert_non_null(strstr(err, "cannot create the directory"));
	sink_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gzip_round_trip),
		cmocka_unit_test(test_retry_after_parse),
		cmocka_unit_test_setup_teardown(test_target_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delivers_in_order_with_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retries_server_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_honours_retry_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejects_client_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_and_closed_answers_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outage_then_delivery_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_verified, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_during_backoff_keeps_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_aborts_post_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_fails_clearly, setup, teardown),
	};

	/* the server writes to clients that may have gone */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
