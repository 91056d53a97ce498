#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <zlib.h>
#include "common/log.h"
#include "common/readfile.h"
#include "common/https_client.h"

#define RETRY_AFTER_MAX_S 1000000000L /* bound on a peer's value, far beyond any backoff cap */

/* curl_global_init is not thread-safe: sinks start threads, so once. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int curl_ready(char *err, size_t err_size)
{
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK) {
		format_error(err, err_size, "curl_global_init: %s", curl_easy_strerror(curl_init_rc));
		return -EIO;
	}
	return 0;
}

int gzip_compress(const void *in, size_t len, void **out, size_t *out_len)
{
	z_stream zs;
	uint8_t *buf;
	uLong bound;
	int zrc;

	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16: a gzip wrapper (RFC 1952) instead of zlib's */
	zrc = deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	if (zrc != Z_OK)
		return zrc == Z_MEM_ERROR ? -ENOMEM : -EIO;
	bound = deflateBound(&zs, len);
	if (!(buf = malloc(bound))) {
		deflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.next_out = buf;
	zs.avail_out = bound;
	/* avail_in is 32 bits: feed larger bodies in pieces */
	do {
		size_t left = len - (size_t)zs.total_in;

		zs.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
		zrc = deflate(&zs, left > UINT_MAX ? Z_NO_FLUSH : Z_FINISH);
	} while (zrc == Z_OK);
	deflateEnd(&zs);
	if (zrc != Z_STREAM_END) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	*out_len = zs.total_out;
	return 0;
}

long http_retry_after_parse(const char *value, time_t now)
{
	char buf[128];
	size_t n;
	time_t when;

	if (!value)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	n = strlen(value);
	while (n && isspace((unsigned char)value[n - 1]))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, value, n);
	buf[n] = '\0';
	if (strspn(buf, "0123456789") == n) {
		unsigned long long v;

		errno = 0;
		v = strtoull(buf, NULL, 10);
		return errno || v > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : (long)v;
	}
	when = curl_getdate(buf, NULL);
	if (when == (time_t)-1)
		return -1;
	if (when <= now)
		return 0;
	return when - now > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : (long)(when - now);
}

/* Reads the token: surrounding whitespace trimmed, one line of printable
 * characters, not empty. Errors name the file, never its content. */
int http_token_load(const char *path, size_t max_bytes, char **token, char *err, size_t err_size)
{
	char *text = NULL;
	size_t len = 0, start = 0;
	const char *why = NULL;
	int rc;

	*token = NULL;
	rc = read_text_file(path, max_bytes ? max_bytes : HTTP_TOKEN_MAX, "token", &text, &len, err, err_size);
	if (rc) {
		char msg[320];

		snprintf(msg, sizeof(msg), "%s", err ? err : "");
		format_error(err, err_size, "token file %s", msg);
		return rc;
	}
	while (len && isspace((unsigned char)text[len - 1]))
		len--;
	while (start < len && isspace((unsigned char)text[start]))
		start++;
	if (start == len)
		why = "empty";
	else if (memchr(text + start, '\r', len - start) || memchr(text + start, '\n', len - start))
		/* a line break would let the file inject headers */
		why = "the token spans more than one line";
	else
		for (size_t i = start; i < len && !why; i++)
			if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
				why = "the token holds control characters";
	if (why) {
		format_error(err, err_size, "token file %s: %s", path, why);
		explicit_bzero(text, len);
		free(text);
		return -EINVAL;
	}
	memmove(text, text + start, len - start);
	explicit_bzero(text + (len - start), start);
	text[len - start] = '\0';
	*token = text;
	return 0;
}

int http_token_create(const char *path, char *err, size_t err_size)
{
	unsigned char raw[32];
	char hex[2 * sizeof(raw) + 2];
	ssize_t w;
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		rc = -errno;
		format_error(err, err_size, "token file %s: %s", path, strerror(-rc));
		return rc;
	}
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		rc = -EIO;
	} else {
		for (size_t i = 0; i < sizeof(raw); i++)
			snprintf(hex + 2 * i, 3, "%02x", raw[i]);
		hex[2 * sizeof(raw)] = '\n';
		w = write(fd, hex, 2 * sizeof(raw) + 1);
		if (w != (ssize_t)(2 * sizeof(raw) + 1) || fsync(fd))
			rc = -EIO;
	}
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(hex, sizeof(hex));
	close(fd);
	if (rc) {
		unlink(path);
		format_error(err, err_size, "token file %s: cannot write it", path);
	}
	return rc;
}

void http_token_free(char *token)
{
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
}

/* Each occurrence of what in msg (NUL-terminated, in place) by "[redacted]",
 * or asterisks when what is shorter than that. */
static void replace_all(char *msg, const char *what)
{
	static const char red[] = "[redacted]";
	size_t wl = what ? strlen(what) : 0, rl = sizeof(red) - 1;
	char *hit, *from = msg;

	if (!wl)
		return;
	while ((hit = strstr(from, what))) {
		if (wl >= rl) {
			memcpy(hit, red, rl);
			memmove(hit + rl, hit + wl, strlen(hit + wl) + 1);
			from = hit + rl;
		} else {
			memset(hit, '*', wl);
			from = hit + wl;
		}
	}
}

void http_redact(char *msg, const char *token)
{
	if (!msg)
		return;
	replace_all(msg, token);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

/* Error text about a request: never the token, nor the parts of the URL
 * that may carry a credential (curl quotes URLs in some messages). */
static void clean_error(char *msg, const char *token, const char *url)
{
	static const CURLUPart secret[] = { CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_QUERY, CURLUPART_FRAGMENT,
					    CURLUPART_PATH };
	CURLU *u;

	http_redact(msg, token);
	if (!url)
		return;
	replace_all(msg, url);
	if (!(u = curl_url()))
		return;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK)
		for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
			char *part = NULL;

			/* short parts ("/", "a") would blank unrelated text */
			if (curl_url_get(u, secret[i], &part, 0) == CURLUE_OK && part && strlen(part) >= 4)
				replace_all(msg, part);
			curl_free(part);
		}
	curl_url_cleanup(u);
}

char *http_url_escape(const char *s)
{
	char *e, *out;

	if (!s || !(e = curl_easy_escape(NULL, s, 0)))
		return NULL;
	out = strdup(e);
	curl_free(e);
	return out;
}

static int check_url(const char *url, bool https_only, char *err, size_t err_size)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	CURLUcode uc;
	int rc = -EINVAL;

	if (!u) {
		format_error(err, err_size, "url: out of memory");
		return -ENOMEM;
	}
	/* the URL itself is not quoted in errors: it may carry credentials */
	if ((uc = curl_url_set(u, CURLUPART_URL, url, 0)) != CURLUE_OK)
		format_error(err, err_size, "url: not a valid URL (%s)", curl_url_strerror(uc));
	else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		 (strcasecmp(scheme, "http") && strcasecmp(scheme, "https")))
		format_error(err, err_size, "url: scheme %s is not http or https", scheme ? scheme : "(none)");
	else if (https_only && strcasecmp(scheme, "https"))
		format_error(err, err_size, "url: scheme %s is not https", scheme);
	else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
		format_error(err, err_size, "url: no host");
	else
		rc = 0;
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/* At least one certificate, and every PEM certificate block parses. */
static int check_ca_file(const char *path, char *err, size_t err_size)
{
	struct stat st;
	unsigned long e;
	X509 *x;
	FILE *f;
	int n = 0;

	if (!(f = fopen(path, "re"))) {
		int e = errno;

		format_error(err, err_size, "CA file %s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		fclose(f);
		format_error(err, err_size, "CA file %s: not a regular file", path);
		return -EINVAL;
	}
	ERR_clear_error();
	while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
		X509_free(x);
		n++;
	}
	fclose(f);
	/* reading stops at the end of the file (no start line) or at a
	 * certificate block that does not parse: only the first is fine */
	e = ERR_peek_last_error();
	ERR_clear_error();
	if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		format_error(err, err_size, "CA file %s: certificate %d does not parse", path, n + 1);
		return -EINVAL;
	}
	if (n == 0) {
		format_error(err, err_size, "CA file %s: no PEM certificate in it", path);
		return -EINVAL;
	}
	return 0;
}

int http_target_check(const struct http_target *t, char *err, size_t err_size)
{
	char *token = NULL;
	int rc;

	if (!t || !t->url || !*t->url) {
		format_error(err, err_size, "url: not set");
		return -EINVAL;
	}
	if (t->timeout_ms < 0 || t->connect_timeout_ms < 0) {
		format_error(err, err_size, "timeout: %ld ms is negative",
			     t->timeout_ms < 0 ? t->timeout_ms : t->connect_timeout_ms);
		return -EINVAL;
	}
	if ((rc = curl_ready(err, err_size)) || (rc = check_url(t->url, t->https_only, err, err_size)))
		return rc;
	if (t->token_file) {
		if ((rc = http_token_load(t->token_file, t->token_max, &token, err, err_size)))
			return rc;
		http_token_free(token);
		if (!strncasecmp(t->url, "http:", 5))
			log_warn("%s: the bearer token will be sent over plain http", t->token_file);
	}
	if (t->ca_file && (rc = check_ca_file(t->ca_file, err, err_size)))
		return rc;
	return 0;
}

void http_target_describe(const struct http_target *t, char *buf, size_t size)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	CURLU *u;

	if (!size)
		return;
	snprintf(buf, size, "(invalid URL)");
	if (!t || !t->url || !(u = curl_url()))
		return;
	if (curl_url_set(u, CURLUPART_URL, t->url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		curl_url_get(u, CURLUPART_PORT, &port, 0); /* absent: the scheme's */
		curl_url_get(u, CURLUPART_PATH, &path, 0);
		/* the path is left out too: webhook URLs (Slack, Teams) carry
		 * their secret in it */
		snprintf(buf, size, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "",
			 path && strcmp(path, "/") ? "/..." : "/");
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
}


/* ---- one request ---------------------------------------------------------- */

struct call {
	const struct http_target *t;
	struct http_request *rq;
	CURL *curl;
	struct curl_slist *headers;
	struct curl_slist *connect_to; /* t->connect_addr */
	char *token;
	char errbuf[CURL_ERROR_SIZE];
	long retry_after_s;
	long status; /* of the final response, once its headers are in */
	void *gz;
	/* the kept body */
	uint8_t *buf;
	size_t len, cap, max;
	bool too_big, no_memory;
	int cb_rc; /* a callback's refusal */
};

static bool is_2xx(long status)
{
	return status >= 200 && status < 300;
}

/* Header lines of every response (a 100 Continue and the final one): the
 * last response's Retry-After wins; the blank line ending the final one's
 * headers is when the receiver hears of it. */
static size_t on_header(char *data, size_t size, size_t nitems, void *ctx)
{
	static const char name[] = "retry-after:";
	struct call *c = ctx;
	size_t n = size * nitems;
	char value[128];

	if (n >= 5 && !memcmp(data, "HTTP/", 5)) {
		c->retry_after_s = -1;
	} else if (n > sizeof(name) - 1 && !strncasecmp(data, name, sizeof(name) - 1)) {
		size_t vlen = n - (sizeof(name) - 1);

		if (vlen >= sizeof(value))
			vlen = sizeof(value) - 1;
		memcpy(value, data + sizeof(name) - 1, vlen);
		value[vlen] = '\0';
		c->retry_after_s = http_retry_after_parse(value, time(NULL));
	} else if ((n == 2 && data[0] == '\r' && data[1] == '\n') || (n == 1 && data[0] == '\n')) {
		long code = 0;

		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
		if (code < 200)
			return n; /* interim response (or a proxy's CONNECT): the final one follows */
		c->status = code;
		if (c->rq->on_response && (c->cb_rc = c->rq->on_response(c->rq->ctx, code)))
			return 0; /* aborts the transfer */
	}
	return n;
}

/* Keeps up to c->max bytes; over that, a buffered body fails the request
 * while an error body beside a stream is cut. */
static size_t keep_body(struct call *c, const char *data, size_t n)
{
	size_t take = n;

	if (n > c->max - c->len) {
		if (!c->rq->on_body) {
			c->too_big = true;
			return 0; /* aborts the transfer */
		}
		take = c->max - c->len;
	}
	if (c->len + take + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		uint8_t *nb;

		while (cap < c->len + take + 1)
			cap = cap > c->max / 2 ? c->max + 1 : cap * 2;
		if (!(nb = realloc(c->buf, cap))) {
			c->no_memory = true;
			return 0;
		}
		c->buf = nb;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, data, take);
	c->len += take;
	return n;
}

static size_t on_write(char *data, size_t size, size_t nitems, void *ctx)
{
	struct call *c = ctx;
	size_t n = size * nitems;

	if (!c->status)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->rq->on_body && is_2xx(c->status)) {
		if ((c->cb_rc = c->rq->on_body(c->rq->ctx, data, n)))
			return 0;
		return n;
	}
	if (!c->max)
		return n; /* not kept */
	return keep_body(c, data, n);
}

/* Appends one header line; the copies are scrubbed (here and in call_free:
 * the Authorization line). */
static int add_header(struct call *c, const char *fmt, const char *value)
{
	struct curl_slist *l;
	char *line = NULL;
	int n = asprintf(&line, fmt, value);

	if (n < 0)
		return -ENOMEM;
	l = curl_slist_append(c->headers, line);
	explicit_bzero(line, (size_t)n);
	free(line);
	if (!l)
		return -ENOMEM;
	c->headers = l;
	return 0;
}

static bool has_body(const struct http_request *rq)
{
	const char *m = rq->method;

	return rq->body || (m && (!strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH")));
}

static int build_headers(struct call *c, struct http_result *res)
{
	const struct http_request *rq = c->rq;
	int rc = 0;

	if (has_body(rq) &&
	    ((rc = add_header(c, "Content-Type: %s", rq->content_type ? rq->content_type : "application/octet-stream")) ||
	     (rq->gzip_body && (rc = add_header(c, "Content-Encoding: %s", "gzip"))) ||
	     /* no 100-continue round trip: it costs a second wait on large bodies */
	     (rc = add_header(c, "Expect:%s", ""))))
		goto fail;
	for (const char *const *h = rq->headers; h && *h; h++) {
		if (strpbrk(*h, "\r\n") || !strchr(*h, ':')) {
			format_error(res->error, sizeof(res->error), "header: not one \"Name: value\" line");
			return -EINVAL;
		}
		if ((rc = add_header(c, "%s", *h)))
			goto fail;
	}
	if (c->t->token_file) {
		if ((rc = http_token_load(c->t->token_file, c->t->token_max, &c->token, res->error, sizeof(res->error)))) {
			res->fail = HTTP_FAIL_TOKEN;
			return rc;
		}
		if ((rc = add_header(c, "Authorization: Bearer %s", c->token)))
			goto fail;
	}
	return 0;
fail:
	format_error(res->error, sizeof(res->error), "out of memory");
	return rc;
}

/* "::ADDR:" (any host and port of the URL: connect to ADDR, same port),
 * with brackets around an IPv6 address. */
static int build_connect_to(struct call *c, char *err, size_t err_size)
{
	char line[INET6_ADDRSTRLEN + 8];
	unsigned char bin[sizeof(struct in6_addr)];
	struct curl_slist *l;
	const char *addr = c->t->connect_addr;

	if (!addr)
		return 0;
	if (inet_pton(AF_INET, addr, bin) == 1)
		snprintf(line, sizeof(line), "::%s:", addr);
	else if (inet_pton(AF_INET6, addr, bin) == 1)
		snprintf(line, sizeof(line), "::[%s]:", addr);
	else {
		format_error(err, err_size, "connect address %.64s: not a numeric IPv4 or IPv6 address", addr);
		return -EINVAL;
	}
	if (!(l = curl_slist_append(NULL, line))) {
		format_error(err, err_size, "out of memory");
		return -ENOMEM;
	}
	c->connect_to = l;
	return 0;
}

#define SET(opt, val)                                              \
	do {                                                       \
		if ((cc = curl_easy_setopt(h, opt, val)) != CURLE_OK) \
			return cc;                                 \
	} while (0)

static CURLcode set_options(struct call *c, const void *body, size_t len)
{
	const struct http_target *t = c->t;
	const struct http_request *rq = c->rq;
	const char *method = rq->method ? rq->method : has_body(rq) ? "POST" : "GET";
	CURL *h = c->curl;
	CURLcode cc;

	SET(CURLOPT_URL, t->url);
	SET(CURLOPT_PROTOCOLS_STR, t->https_only ? "https" : "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L); /* no SIGALRM for DNS timeouts: we run in threads */
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_TIMEOUT_MS, t->timeout_ms ? t->timeout_ms : HTTP_TIMEOUT_MS_DEFAULT);
	if (t->connect_timeout_ms)
		SET(CURLOPT_CONNECTTIMEOUT_MS, t->connect_timeout_ms);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (t->ca_file) {
		SET(CURLOPT_CAINFO, t->ca_file);
		SET(CURLOPT_CAPATH, NULL); /* that CA alone, not the system store beside it */
	}
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, 30L);
	SET(CURLOPT_TCP_KEEPINTVL, 10L);
	SET(CURLOPT_HTTPHEADER, c->headers);
	SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, c);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, c);
	SET(CURLOPT_USERAGENT, "reachd/" REACH_VERSION);
	if (rq->accept_encoding)
		SET(CURLOPT_ACCEPT_ENCODING, "");
	if (rq->idle_timeout_s > 0) {
		SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
		SET(CURLOPT_LOW_SPEED_TIME, rq->idle_timeout_s);
	}
	if (c->max && !rq->on_body)
		SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max); /* an announced length; on_write bounds the rest */
	if (c->connect_to) {
		SET(CURLOPT_CONNECT_TO, c->connect_to);
		SET(CURLOPT_NOPROXY, "*");
	}
	if (!strcmp(method, "GET")) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (!strcmp(method, "HEAD")) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (has_body(rq)) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDS, body ? body : "");
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "POST"))
		SET(CURLOPT_CUSTOMREQUEST, method);
	return CURLE_OK;
}
#undef SET

static void call_free(struct call *c)
{
	/* the Authorization line: scrub curl's copy before it is freed */
	for (struct curl_slist *l = c->headers; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(c->headers);
	curl_slist_free_all(c->connect_to);
	curl_easy_cleanup(c->curl);
	free(c->gz);
	free(c->buf);
	http_token_free(c->token);
}

/* Runs the transfer; with a cancel flag, through a multi handle polled
 * every HTTP_CANCEL_POLL_MS so that the flag is seen without waiting for
 * data. */
static CURLcode perform(struct call *c, bool *canceled)
{
	const atomic_int *cancel = c->t->cancel;
	CURLcode res = CURLE_OK;
	CURLMcode mc = CURLM_OK;
	bool done = false;
	CURLM *m;

	if (!cancel)
		return curl_easy_perform(c->curl);
	if (atomic_load(cancel)) {
		*canceled = true;
		return CURLE_ABORTED_BY_CALLBACK;
	}
	if (!(m = curl_multi_init()))
		return CURLE_OUT_OF_MEMORY;
	if ((mc = curl_multi_add_handle(m, c->curl)) != CURLM_OK) {
		curl_multi_cleanup(m);
		return CURLE_OUT_OF_MEMORY;
	}
	for (;;) {
		int running = 0, left;
		CURLMsg *msg;

		mc = curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)))
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == c->curl) {
				res = msg->data.result;
				done = true;
			}
		if (done)
			break;
		if (atomic_load(cancel)) {
			*canceled = true;
			res = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (mc == CURLM_OK && running)
			mc = curl_multi_poll(m, NULL, 0, HTTP_CANCEL_POLL_MS, NULL);
		if (mc != CURLM_OK || !running) {
			if (!c->errbuf[0])
				snprintf(c->errbuf, sizeof(c->errbuf), "curl: %s",
					 mc != CURLM_OK ? curl_multi_strerror(mc) : "transfer ended without a result");
			res = CURLE_RECV_ERROR;
			break;
		}
	}
	curl_multi_remove_handle(m, c->curl);
	curl_multi_cleanup(m);
	return res;
}

static enum http_fail fail_of(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_FAIL_TIMEOUT;
	case CURLE_ABORTED_BY_CALLBACK:
		return HTTP_FAIL_CANCELED;
	case CURLE_OUT_OF_MEMORY:
		return HTTP_FAIL_TARGET;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CRL_BADFILE:
		return HTTP_FAIL_TLS;
	default:
		return HTTP_FAIL_CONNECT;
	}
}

static int errno_of(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* Each occurrence of token in the len bytes at b by "[redacted]" (or
 * asterisks); the new length. */
static size_t redact_bytes(uint8_t *b, size_t len, const char *token)
{
	static const char red[] = "[redacted]";
	size_t tl = token ? strlen(token) : 0, rl = sizeof(red) - 1, at = 0, old = len;
	uint8_t *hit;

	while (tl && at < len && (hit = memmem(b + at, len - at, token, tl))) {
		size_t off = (size_t)(hit - b);

		if (tl >= rl) {
			memcpy(hit, red, rl);
			memmove(hit + rl, hit + tl, len - off - tl);
			len -= tl - rl;
			at = off + rl;
		} else {
			memset(hit, '*', tl);
			at = off + tl;
		}
	}
	if (old > len)
		explicit_bzero(b + len, old - len);
	return len;
}

int http_request(const struct http_target *t, struct http_request *rq, struct http_result *res)
{
	struct call c = { .t = t, .rq = rq, .retry_after_s = -1 };
	const void *body = rq ? rq->body : NULL;
	size_t len = rq ? rq->len : 0;
	bool canceled = false;
	CURLcode cc;
	int rc;

	memset(res, 0, sizeof(*res));
	res->retry_after_s = -1;
	res->fail = HTTP_FAIL_TARGET;
	if (!rq || !t || !t->url) {
		format_error(res->error, sizeof(res->error), "url: not set");
		return -EINVAL;
	}
	rq->resp_body = NULL;
	rq->resp_len = 0;
	rq->in_flight_token = NULL;
	c.max = rq->max_body < SIZE_MAX ? rq->max_body : SIZE_MAX - 1; /* one byte is kept for the NUL */
	if ((rc = curl_ready(res->error, sizeof(res->error))))
		return rc;
	if (rq->gzip_body && has_body(rq)) {
		size_t gz_len = 0;

		if ((rc = gzip_compress(body ? body : "", body ? len : 0, &c.gz, &gz_len))) {
			format_error(res->error, sizeof(res->error), "gzip: %s", strerror(-rc));
			return rc;
		}
		body = c.gz;
		len = gz_len;
	}
	if ((rc = build_headers(&c, res)) || (rc = build_connect_to(&c, res->error, sizeof(res->error))))
		goto out;
	if (!(c.curl = curl_easy_init())) {
		format_error(res->error, sizeof(res->error), "curl_easy_init failed");
		rc = -ENOMEM;
		goto out;
	}
	if ((cc = set_options(&c, body, len)) != CURLE_OK) {
		format_error(res->error, sizeof(res->error), "curl option: %s", curl_easy_strerror(cc));
		rc = -EINVAL;
		goto out;
	}
	rq->in_flight_token = c.token;
	cc = perform(&c, &canceled);
	rq->in_flight_token = NULL;
	curl_easy_getinfo(c.curl, CURLINFO_RESPONSE_CODE, &res->status);
	res->fail = HTTP_FAIL_BODY;
	if (c.cb_rc) {
		format_error(res->error, sizeof(res->error), "aborted by the receiver");
		rc = c.cb_rc;
	} else if (c.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		format_error(res->error, sizeof(res->error), "the response body is over the %zu-byte bound", c.max);
		rc = -EFBIG;
	} else if (c.no_memory) {
		format_error(res->error, sizeof(res->error), "out of memory for the response body");
		rc = -ENOMEM;
	} else if (canceled) {
		res->fail = HTTP_FAIL_CANCELED;
		format_error(res->error, sizeof(res->error), "cancelled");
		rc = -ECANCELED;
	} else if (cc != CURLE_OK) {
		res->fail = fail_of(cc);
		format_error(res->error, sizeof(res->error), "%s", c.errbuf[0] ? c.errbuf : curl_easy_strerror(cc));
		rc = errno_of(cc);
	}
	if (rc)
		goto out;
	res->fail = HTTP_FAIL_NONE;
	res->retry_after_s = c.retry_after_s;
	if (c.max && (c.buf || !rq->on_body || !is_2xx(res->status))) {
		if (!c.buf && !(c.buf = malloc(1))) {
			res->fail = HTTP_FAIL_BODY;
			format_error(res->error, sizeof(res->error), "out of memory");
			rc = -ENOMEM;
			goto out;
		}
		if (!is_2xx(res->status))
			c.len = redact_bytes(c.buf, c.len, c.token);
		c.buf[c.len] = '\0';
		rq->resp_body = c.buf;
		rq->resp_len = c.len;
		c.buf = NULL;
	}
out:
	if (rc)
		clean_error(res->error, c.token, t->url);
	call_free(&c);
	return rc;
}

int http_post(const struct http_target *t, const char *content_type, const void *body, size_t len, bool gzip_body,
	      struct http_result *res)
{
	struct http_request rq = {
		.method = "POST", .body = body, .len = len, .content_type = content_type, .gzip_body = gzip_body,
	};

	return http_request(t, &rq, res);
}

int http_get(const struct http_target *t, size_t max_body, void **body, size_t *len, struct http_result *res)
{
	struct http_request rq = {
		.method = "GET",
		.max_body = max_body && max_body < SIZE_MAX ? max_body : (size_t)HTTP_GET_BODY_MAX,
	};
	int rc = http_request(t, &rq, res);

	*body = rq.resp_body;
	*len = rq.resp_len;
	return rc;
}
