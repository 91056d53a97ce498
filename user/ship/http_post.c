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
#include <sys/stat.h>
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <zlib.h>
#include "common/log.h"
#include "common/readfile.h"
#include "ship/http_post.h"

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

/* Reads the token: trailing whitespace trimmed, one line, not empty. The
 * caller scrubs and frees *token. Errors name the file, never its content. */
int http_token_load(const char *path, size_t max_bytes, char **token, char *err, size_t err_size)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = read_text_file(path, max_bytes, "token", &text, &len, err, err_size);
	if (rc) {
		char why[320];

		snprintf(why, sizeof(why), "%s", err ? err : "");
		format_error(err, err_size, "token file %s", why);
		return rc;
	}
	while (len && isspace((unsigned char)text[len - 1]))
		len--;
	text[len] = '\0';
	if (len == 0)
		format_error(err, err_size, "token file %s: empty", path);
	else if (strpbrk(text, "\r\n") || memchr(text, '\0', len))
		/* a line break would let the file inject headers */
		format_error(err, err_size, "token file %s: the token spans more than one line", path);
	else {
		*token = text;
		return 0;
	}
	explicit_bzero(text, len);
	free(text);
	return -EINVAL;
}

static int check_url(const char *url, char *err, size_t err_size)
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
	if (t->timeout_ms < 0) {
		format_error(err, err_size, "timeout: %ld ms is negative", t->timeout_ms);
		return -EINVAL;
	}
	if ((rc = curl_ready(err, err_size)) || (rc = check_url(t->url, err, err_size)))
		return rc;
	if (t->token_file) {
		if ((rc = http_token_load(t->token_file, HTTP_TOKEN_MAX, &token, err, err_size)))
			return rc;
		explicit_bzero(token, strlen(token));
		free(token);
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

struct post {
	CURL *curl;
	struct curl_slist *headers;
	struct curl_slist *connect_to; /* t->connect_addr */
	char errbuf[CURL_ERROR_SIZE];
	long retry_after_s;
	void *gz;
};

/* The body of a GET, bounded. */
struct get_body {
	uint8_t *buf;
	size_t len, cap, max;
	bool too_big, no_memory;
};

/* Header lines of every response (a 100 Continue and the final one): the
 * last response's Retry-After wins. */
static size_t on_header(char *data, size_t size, size_t nitems, void *ctx)
{
	static const char name[] = "retry-after:";
	struct post *p = ctx;
	size_t n = size * nitems;
	char value[128];

	if (n >= 5 && !memcmp(data, "HTTP/", 5))
		p->retry_after_s = -1;
	else if (n > sizeof(name) - 1 && !strncasecmp(data, name, sizeof(name) - 1)) {
		size_t vlen = n - (sizeof(name) - 1);

		if (vlen >= sizeof(value))
			vlen = sizeof(value) - 1;
		memcpy(value, data + sizeof(name) - 1, vlen);
		value[vlen] = '\0';
		p->retry_after_s = http_retry_after_parse(value, time(NULL));
	}
	return n;
}

/* The response body is not used: a sink only acts on the status. */
static size_t on_body(char *data, size_t size, size_t nitems, void *ctx)
{
	(void)data;
	(void)ctx;
	return size * nitems;
}

static size_t on_get_body(char *data, size_t size, size_t nitems, void *ctx)
{
	struct get_body *b = ctx;
	size_t n = size * nitems;

	if (n > b->max - b->len) {
		b->too_big = true;
		return 0; /* aborts the transfer */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		uint8_t *nb;

		while (cap < b->len + n + 1)
			cap = cap > b->max / 2 ? b->max + 1 : cap * 2;
		if (!(nb = realloc(b->buf, cap))) {
			b->no_memory = true;
			return 0;
		}
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	return n;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	const atomic_int *cancel = ctx;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return cancel && atomic_load(cancel) ? 1 : 0;
}

/* Appends "Name: value"; the copy curl keeps is scrubbed in post_free. */
static int add_header(struct post *p, const char *fmt, const char *value)
{
	char line[HTTP_TOKEN_MAX + 64];
	struct curl_slist *l;

	snprintf(line, sizeof(line), fmt, value);
	l = curl_slist_append(p->headers, line);
	explicit_bzero(line, sizeof(line));
	if (!l)
		return -ENOMEM;
	p->headers = l;
	return 0;
}

/* The Authorization line, when the target has a token file. */
static int add_token_header(struct post *p, const struct http_target *t, char *err, size_t err_size)
{
	char *token = NULL;
	int rc;

	if (!t->token_file)
		return 0;
	if ((rc = http_token_load(t->token_file, HTTP_TOKEN_MAX, &token, err, err_size)))
		return rc;
	rc = add_header(p, "Authorization: Bearer %s", token);
	explicit_bzero(token, strlen(token));
	free(token);
	if (rc)
		format_error(err, err_size, "out of memory");
	return rc;
}

static int build_headers(struct post *p, const struct http_target *t, const char *content_type, bool gzip_body,
			 char *err, size_t err_size)
{
	int rc;

	if ((rc = add_header(p, "Content-Type: %s", content_type ? content_type : "application/octet-stream")) ||
	    (gzip_body && (rc = add_header(p, "Content-Encoding: %s", "gzip"))) ||
	    /* no 100-continue round trip: it costs a second wait on large bodies */
	    (rc = add_header(p, "Expect:%s", ""))) {
		format_error(err, err_size, "out of memory");
		return rc;
	}
	return add_token_header(p, t, err, err_size);
}

/* "::ADDR:" (any host and port of the URL: connect to ADDR, same port),
 * with brackets around an IPv6 address. */
static int build_connect_to(struct post *p, const struct http_target *t, char *err, size_t err_size)
{
	char line[INET6_ADDRSTRLEN + 8];
	unsigned char bin[sizeof(struct in6_addr)];
	struct curl_slist *l;

	if (!t->connect_addr)
		return 0;
	if (inet_pton(AF_INET, t->connect_addr, bin) == 1)
		snprintf(line, sizeof(line), "::%s:", t->connect_addr);
	else if (inet_pton(AF_INET6, t->connect_addr, bin) == 1)
		snprintf(line, sizeof(line), "::[%s]:", t->connect_addr);
	else {
		format_error(err, err_size, "connect address %.64s: not a numeric IPv4 or IPv6 address", t->connect_addr);
		return -EINVAL;
	}
	if (!(l = curl_slist_append(NULL, line))) {
		format_error(err, err_size, "out of memory");
		return -ENOMEM;
	}
	p->connect_to = l;
	return 0;
}

#define SET(opt, val)                                          \
	do {                                                   \
		if ((cc = curl_easy_setopt(c, opt, val)) != CURLE_OK) \
			return cc;                             \
	} while (0)

/* What a POST and a GET share: the target, TLS, timeouts, headers. */
static CURLcode set_common_options(struct post *p, const struct http_target *t)
{
	CURL *c = p->curl;
	long timeout = t->timeout_ms ? t->timeout_ms : HTTP_TIMEOUT_MS_DEFAULT;
	CURLcode cc;

	SET(CURLOPT_URL, t->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L); /* no SIGALRM for DNS timeouts: we run in threads */
	SET(CURLOPT_ERRORBUFFER, p->errbuf);
	SET(CURLOPT_TIMEOUT_MS, timeout);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (t->ca_file)
		SET(CURLOPT_CAINFO, t->ca_file);
	SET(CURLOPT_HTTPHEADER, p->headers);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, p);
	SET(CURLOPT_USERAGENT, "reachd/" REACH_VERSION);
	if (t->cancel) {
		SET(CURLOPT_XFERINFOFUNCTION, on_progress);
		SET(CURLOPT_XFERINFODATA, (void *)t->cancel);
		SET(CURLOPT_NOPROGRESS, 0L);
	}
	if (p->connect_to) {
		SET(CURLOPT_CONNECT_TO, p->connect_to);
		SET(CURLOPT_NOPROXY, "*");
	}
	return CURLE_OK;
}

static CURLcode set_options(struct post *p, const struct http_target *t, const void *body, size_t len)
{
	CURL *c = p->curl;
	CURLcode cc;

	if ((cc = set_common_options(p, t)) != CURLE_OK)
		return cc;
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_POSTFIELDS, body);
	SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	return CURLE_OK;
}

static CURLcode set_get_options(struct post *p, const struct http_target *t, struct get_body *b)
{
	CURL *c = p->curl;
	CURLcode cc;

	if ((cc = set_common_options(p, t)) != CURLE_OK)
		return cc;
	SET(CURLOPT_HTTPGET, 1L);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)b->max); /* an announced length; the callback bounds the rest */
	SET(CURLOPT_WRITEFUNCTION, on_get_body);
	SET(CURLOPT_WRITEDATA, b);
	return CURLE_OK;
}
#undef SET

static void post_free(struct post *p)
{
	/* the Authorization line: scrub curl's copy before it is freed */
	for (struct curl_slist *l = p->headers; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(p->headers);
	curl_slist_free_all(p->connect_to);
	curl_easy_cleanup(p->curl);
	free(p->gz);
}

static int curl_errno(CURLcode cc)
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

/* What every request starts with: res cleared (no Retry-After), a URL, and
 * curl ready; 0, or -errno with res->error set. */
static int request_start(const struct http_target *t, struct http_result *res)
{
	memset(res, 0, sizeof(*res));
	res->retry_after_s = -1;
	if (!t || !t->url) {
		format_error(res->error, sizeof(res->error), "url: not set");
		return -EINVAL;
	}
	return curl_ready(res->error, sizeof(res->error));
}

int http_post(const struct http_target *t, const char *content_type, const void *body, size_t len, bool gzip_body,
	      struct http_result *res)
{
	struct post p = { .retry_after_s = -1 };
	CURLcode cc;
	int rc;

	if ((rc = request_start(t, res)))
		return rc;
	if (gzip_body) {
		size_t gz_len = 0;

		if ((rc = gzip_compress(body, len, &p.gz, &gz_len))) {
			format_error(res->error, sizeof(res->error), "gzip: %s", strerror(-rc));
			return rc;
		}
		body = p.gz;
		len = gz_len;
	}
	if ((rc = build_headers(&p, t, content_type, gzip_body, res->error, sizeof(res->error))) ||
	    (rc = build_connect_to(&p, t, res->error, sizeof(res->error))))
		goto out;
	if (!(p.curl = curl_easy_init())) {
		format_error(res->error, sizeof(res->error), "curl_easy_init failed");
		rc = -ENOMEM;
		goto out;
	}
	if ((cc = set_options(&p, t, body, len)) != CURLE_OK) {
		format_error(res->error, sizeof(res->error), "curl option: %s", curl_easy_strerror(cc));
		rc = -EINVAL;
		goto out;
	}
	if ((cc = curl_easy_perform(p.curl)) != CURLE_OK) {
		format_error(res->error, sizeof(res->error), "%s", p.errbuf[0] ? p.errbuf : curl_easy_strerror(cc));
		rc = curl_errno(cc);
		goto out;
	}
	curl_easy_getinfo(p.curl, CURLINFO_RESPONSE_CODE, &res->status);
	res->retry_after_s = p.retry_after_s;
	rc = 0;
out:
	post_free(&p);
	return rc;
}

int http_get(const struct http_target *t, size_t max_body, void **body, size_t *len, struct http_result *res)
{
	struct post p = { .retry_after_s = -1 };
	/* one byte is kept for the NUL */
	struct get_body b = { .max = max_body && max_body < SIZE_MAX ? max_body : (size_t)HTTP_GET_BODY_MAX };
	CURLcode cc;
	int rc;

	*body = NULL;
	*len = 0;
	if ((rc = request_start(t, res)))
		return rc;
	if ((rc = add_token_header(&p, t, res->error, sizeof(res->error))) ||
	    (rc = build_connect_to(&p, t, res->error, sizeof(res->error))))
		goto out;
	if (!(p.curl = curl_easy_init())) {
		format_error(res->error, sizeof(res->error), "curl_easy_init failed");
		rc = -ENOMEM;
		goto out;
	}
	if ((cc = set_get_options(&p, t, &b)) != CURLE_OK) {
		format_error(res->error, sizeof(res->error), "curl option: %s", curl_easy_strerror(cc));
		rc = -EINVAL;
		goto out;
	}
	cc = curl_easy_perform(p.curl);
	curl_easy_getinfo(p.curl, CURLINFO_RESPONSE_CODE, &res->status);
	if (b.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		format_error(res->error, sizeof(res->error), "the response body is over the %zu-byte bound", b.max);
		rc = -EFBIG;
		goto out;
	}
	if (b.no_memory) {
		format_error(res->error, sizeof(res->error), "out of memory for the response body");
		rc = -ENOMEM;
		goto out;
	}
	if (cc != CURLE_OK) {
		format_error(res->error, sizeof(res->error), "%s", p.errbuf[0] ? p.errbuf : curl_easy_strerror(cc));
		rc = curl_errno(cc);
		goto out;
	}
	if (!b.buf && !(b.buf = malloc(1))) {
		format_error(res->error, sizeof(res->error), "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	b.buf[b.len] = '\0';
	res->retry_after_s = p.retry_after_s;
	*body = b.buf;
	*len = b.len;
	b.buf = NULL;
	rc = 0;
out:
	free(b.buf);
	post_free(&p);
	return rc;
}
