#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <ctype.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "http/http_head.h"

/* Planted credentials: made up for these tests, never real. */
#define BEARER   "Zq8xVb2NmL4kPw7RtY1uHs9Gd3Fj6Ce0"
#define SK       "sk-proj-T3stK3yN0tR3al0nlyF0rUn1tT3sts00"
#define GHP      "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
#define GHPAT    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP"
#define XOX      "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
#define AKID     "AKIAIOSFODNN7EXAMPLE"
#define GLPAT    "glpat-Xy9Zt8Wv7Us6Rq5Po4Nm"
#define APIKEY   "k3y-9f8e7d6c5b4a3210fedcba98"
#define COOKIE   "session=Qm9vbGVhbkNvb2tpZVZhbHVlMTIz; theme=dark"
#define USERPASS "alice:Pa55w0rd-Very-Secret"
#define PASSWORD "Pa55w0rd-Very-Secret"
#define QKEY     "QryK3yV4lu3XyZ123"
#define SIGV4SIG "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
#define JWTSIG   "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

static struct fp_key test_key;
static struct http_request_head head;

/* ---- helpers -------------------------------------------------------------- */

/* The expected fingerprint, computed without the code under test. */
static void hmac_hex(const void *secret, size_t len, char out[17])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	int i;

	assert_non_null(HMAC(EVP_sha256(), test_key.key, sizeof(test_key.key), secret, len, md, &md_len));
	for (i = 0; i < 8; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void assert_fp(const char *fp, const void *secret, size_t len)
{
	char want[17];

	hmac_hex(secret, len, want);
	assert_string_equal(fp, want);
}

#define assert_fp_str(fp, s) assert_fp(fp, s, strlen(s))

static void b64(const char *in, size_t n, bool url, char *out)
{
	int len = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);

	if (url) {
		int i;

		for (i = 0; i < len; i++) {
			if (out[i] == '+')
				out[i] = '-';
			else if (out[i] == '/')
				out[i] = '_';
		}
		while (len > 0 && out[len - 1] == '=')
			out[--len] = '\0';
	}
}

/* header.payload.signature with the given JSON payload */
static void make_jwt(const char *header_json, const char *payload_json, char *out)
{
	char h[512], p[2048];

	b64(header_json, strlen(header_json), true, h);
	b64(payload_json, strlen(payload_json), true, p);
	sprintf(out, "%s.%s.%s", h, p, JWTSIG);
}

/* Parses an exact-size heap copy (so that valgrind sees any over-read). */
static int parse_n(const void *req, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, req, len);
	rc = http_parse_request_head(copy, len, &test_key, &head);
	free(copy);
	return rc;
}

static int parse(const char *req) { return parse_n(req, strlen(req)); }

static void parse_ok(const char *req)
{
	assert_int_equal(parse(req), 0);
}

static const struct http_credential *find_cred(const char *kind)
{
	int i;

	for (i = 0; i < head.n_creds; i++)
		if (strcmp(head.creds[i].kind, kind) == 0)
			return &head.creds[i];
	return NULL;
}

static const struct http_credential *want_cred(const char *kind, const char *where)
{
	const struct http_credential *c = find_cred(kind);

	if (!c)
		fail_msg("no credential of kind %s (n_creds %d)", kind, head.n_creds);
	assert_string_equal(c->where, where);
	return c;
}

/* No 7-byte window of secret appears anywhere in the parse result, except
 * windows entirely inside its first public_len bytes (a documented public
 * prefix that is also a shape name: "github_pat" in "token:github_pat"). */
static void assert_no_leak_after(const char *secret, size_t public_len)
{
	size_t n = strlen(secret), i;

	for (i = 0; i + 7 <= n; i++)
		if (i + 7 > public_len && memmem(&head, sizeof(head), secret + i, 7))
			fail_msg("bytes %zu..%zu of a planted credential are in the result", i, i + 7);
}

static void assert_no_leak(const char *secret)
{
	if (strncmp(secret, "github_pat_", 11) == 0)
		assert_no_leak_after(secret, strlen("github_pat"));
	else
		assert_no_leak_after(secret, 0);
}

static void assert_all_zero(void)
{
	static const struct http_request_head zero;

	assert_memory_equal(&head, &zero, sizeof(head));
}

static int setup(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(test_key.key); i++)
		test_key.key[i] = (unsigned char)(0xa5 ^ (i * 7));
	return 0;
}

/* ---- request line, host --------------------------------------------------- */

static void test_simple_get(void **state)
{
	parse_ok("GET /v1/models HTTP/1.1\r\nHost: API.OpenAI.com\r\nUser-Agent: x\r\n\r\n");
	assert_string_equal(head.method, "GET");
	assert_string_equal(head.path, "/v1/models");
	assert_string_equal(head.path_template, "/v1/models");
	assert_string_equal(head.host, "api.openai.com");
	assert_int_equal(head.http_minor, 1);
	assert_string_equal(head.special, "");
	assert_int_equal(head.n_creds, 0);
	assert_false(head.truncated);
	assert_false(head.path_truncated);
}

static void test_http10_port_and_body_ignored(void **state)
{
	parse_ok("POST /x?y=1 HTTP/1.0\r\nHOST: Example.COM:8443\r\n\r\nAuthorization: Bearer " BEARER "\r\n");
	assert_int_equal(head.http_minor, 0);
	assert_string_equal(head.host, "example.com:8443");
	assert_string_equal(head.path, "/x");
	assert_int_equal(head.n_creds, 0); /* the body is not a header */
}

static void test_bare_lf_accepted(void **state)
{
	parse_ok("GET / HTTP/1.1\nHost: a\nX-Api-Key: " APIKEY "\n\n");
	assert_string_equal(head.host, "a");
	assert_fp_str(want_cred("api-key", "x-api-key")->fingerprint, APIKEY);
	assert_false(head.truncated);
}

static void test_all_methods(void **state)
{
	static const char *const m[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH" };
	char req[128];
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		snprintf(req, sizeof(req), "%s /a HTTP/1.1\r\n\r\n", m[i]);
		parse_ok(req);
		assert_string_equal(head.method, m[i]);
	}
}

static void test_absolute_form_and_userinfo(void **state)
{
	parse_ok("GET http://alice:" PASSWORD "@Proxy.Example:3128/v1/items/42?token=" QKEY " HTTP/1.1\r\n\r\n");
	assert_string_equal(head.host, "proxy.example:3128");
	assert_string_equal(head.path, "/v1/items/42");
	assert_string_equal(head.path_template, "/v1/items/{id}");
	assert_fp_str(want_cred("basic", "url")->fingerprint, USERPASS);
	assert_string_equal(want_cred("basic", "url")->user, "alice");
	assert_fp_str(want_cred("query:token", "query")->fingerprint, QKEY);
	assert_no_leak(PASSWORD);
	assert_no_leak(QKEY);

	/* the Host header wins over the URL's authority */
	parse_ok("GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n");
	assert_string_equal(head.host, "b.example");
	assert_string_equal(head.path, "/");
	parse_ok("GET https://a.example HTTP/1.1\r\n\r\n");
	assert_string_equal(head.host, "a.example");
	assert_string_equal(head.path, "/");
}

static void test_connect_and_asterisk(void **state)
{
	parse_ok("CONNECT api.example.com:443 HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U6UGE1NXcwcmQtVmVyeS1TZWNyZXQ=\r\n\r\n");
	assert_string_equal(head.method, "CONNECT");
	assert_string_equal(head.host, "api.example.com:443");
	assert_string_equal(head.path, "");
	assert_fp_str(want_cred("proxy-authorization", "proxy-authorization")->fingerprint, USERPASS);
	assert_string_equal(want_cred("proxy-authorization", "proxy-authorization")->user, "alice");
	parse_ok("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_string_equal(head.path, "*");
	assert_string_equal(head.path_template, "*");
	assert_int_equal(parse("CONNECT user:pw@host:443 HTTP/1.1\r\n\r\n"), -EBADMSG);
}

static void test_implausible_host_is_dropped(void **state)
{
	parse_ok("GET / HTTP/1.1\r\nHost: user:" PASSWORD "@evil\r\n\r\n");
	assert_string_equal(head.host, "");
	assert_no_leak(PASSWORD);
	parse_ok("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
	assert_string_equal(head.host, "[::1]:8080");
}

/* ---- rejected input ------------------------------------------------------- */

static void test_not_http(void **state)
{
	assert_int_equal(parse(""), -ENOMSG);
	assert_int_equal(parse("G"), -ENOMSG);
	assert_int_equal(parse("GET"), -ENOMSG);
	assert_int_equal(parse("FOO / HTTP/1.1\r\n\r\n"), -ENOMSG);
	assert_int_equal(parse("GETX / HTTP/1.1\r\n\r\n"), -ENOMSG);
	assert_int_equal(parse("SSH-2.0-OpenSSH_9.2\r\n"), -ENOMSG);
	assert_int_equal(parse_n("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), -ENOMSG);
	assert_all_zero();
}

static void test_http2_preface(void **state)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

	assert_int_equal(parse_n(preface, sizeof(preface) - 1), -EBADMSG);
	assert_int_equal(parse("PRI * HTTP/2.0\r\n"), -EBADMSG);
	assert_all_zero();
}

static void test_lowercase_method(void **state)
{
	assert_int_equal(parse("get / HTTP/1.1\r\nHost: a\r\n\r\n"), -EBADMSG);
	assert_int_equal(parse("Post / HTTP/1.1\r\n\r\n"), -EBADMSG);
	assert_all_zero();
}

static void test_bad_request_lines(void **state)
{
	static const char *const bad[] = {
		"GET  / HTTP/1.1\r\n\r\n",         /* two spaces */
		"GET / HTTP/1.1 \r\n\r\n",         /* trailing space */
		"GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.2\r\n\r\n",
		"GET / http/1.1\r\n\r\n",
		"GET /\r\n\r\n",                   /* HTTP/0.9 */
		"GET / HTTP/1.1",                  /* cut in the request line */
		"GET /a b HTTP/1.1\r\n\r\n",
		"GET /a\tb HTTP/1.1\r\n\r\n",
		"GET /\xc3\xa9 HTTP/1.1\r\n\r\n",  /* raw non-ASCII */
		"GET noslash HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\r\n\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i]) != -EBADMSG)
			fail_msg("accepted bad request line #%zu", i);
		assert_all_zero();
	}
}

static void test_crlf_rules(void **state)
{
	/* a bare CR, NUL or other control byte anywhere in the head */
	assert_int_equal(parse("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n"), -EBADMSG);
	assert_int_equal(parse_n("GET / HTTP/1.1\r\nA: b\0c\r\n\r\n", 26), -EBADMSG);
	assert_int_equal(parse("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n"), -EBADMSG);
	assert_int_equal(parse("GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n"), -EBADMSG);
	/* obs-fold */
	assert_int_equal(parse("GET / HTTP/1.1\r\nX-Api-Key: a\r\n b\r\n\r\n"), -EBADMSG);
	assert_int_equal(parse("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n"), -EBADMSG);
	/* header name rules */
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), -EBADMSG);
	assert_int_equal(parse("GET / HTTP/1.1\r\n: a\r\n\r\n"), -EBADMSG);
	assert_int_equal(parse("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), -EBADMSG);
	assert_int_equal(parse("GET / HTTP/1.1\r\nBad(Name): a\r\n\r\n"), -EBADMSG);
	/* two Host headers */
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), -EBADMSG);
	assert_all_zero();
	/* HTAB inside a value is fine */
	parse_ok("GET / HTTP/1.1\r\nX-A: a\tb\r\n\r\n");
}

static void test_error_returns_nothing_partial(void **state)
{
	/* credentials before a bad line must not survive */
	assert_int_equal(parse("GET /?api_key=" QKEY " HTTP/1.1\r\nAuthorization: Bearer " BEARER
			       "\r\nCookie: " COOKIE "\r\nBad Line\r\n\r\n"),
			 -EBADMSG);
	assert_all_zero();
}

static void test_long_header_line(void **state)
{
	const size_t big = 100 * 1024;
	char *req = malloc(big + 64);
	size_t n;

	assert_non_null(req);
	n = (size_t)sprintf(req, "GET / HTTP/1.1\r\nX-Big: ");
	memset(req + n, 'a', big);
	n += big;
	/* cut in the middle of the long line, and complete */
	assert_int_equal(parse_n(req, n), -EBADMSG);
	memcpy(req + n, "\r\n\r\n", 4);
	assert_int_equal(parse_n(req, n + 4), -EBADMSG);
	assert_all_zero();
	/* a request line over the limit too */
	n = (size_t)sprintf(req, "GET /");
	memset(req + n, 'a', big);
	n += big;
	memcpy(req + n, " HTTP/1.1\r\n\r\n", 13);
	assert_int_equal(parse_n(req, n + 13), -EBADMSG);
	free(req);
}

static void test_line_limit_edge(void **state)
{
	/* exactly HTTP_MAX_LINE bytes is accepted, one more is not */
	char *req = malloc(HTTP_MAX_LINE + 64);
	size_t n, hl = strlen("X-Big: ");

	assert_non_null(req);
	n = (size_t)sprintf(req, "GET / HTTP/1.1\r\nX-Big: ");
	memset(req + n, 'a', HTTP_MAX_LINE - hl);
	n += HTTP_MAX_LINE - hl;
	memcpy(req + n, "\r\n\r\n", 4);
	assert_int_equal(parse_n(req, n + 4), 0);
	req[n] = 'a';
	memcpy(req + n + 1, "\r\n\r\n", 4);
	assert_int_equal(parse_n(req, n + 5), -EBADMSG);
	free(req);
}

static void test_header_count(void **state)
{
	char *req = malloc(64 + 102 * 16);
	size_t n;
	int i;

	assert_non_null(req);
	n = (size_t)sprintf(req, "GET / HTTP/1.1\r\n");
	for (i = 0; i < 100; i++)
		n += (size_t)sprintf(req + n, "X-H%d: v\r\n", i);
	strcpy(req + n, "\r\n");
	assert_int_equal(parse(req), 0);
	n += (size_t)sprintf(req + n, "X-H100: v\r\n\r\n");
	assert_int_equal(parse(req), -EBADMSG);
	free(req);
}

static void test_binary_junk(void **state)
{
	uint8_t buf[512];
	unsigned seed = 12345;
	int round;
	size_t i;

	for (round = 0; round < 2000; round++) {
		size_t len = (size_t)(round % (int)sizeof(buf));
		int rc;

		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (uint8_t)(seed >> 16);
		}
		if (round % 2 && len > 5)
			memcpy(buf, "GET /", 5); /* junk after a valid start */
		rc = parse_n(buf, len);
		assert_true(rc == -ENOMSG || rc == -EBADMSG);
		assert_all_zero();
	}
}

/* ---- credentials ---------------------------------------------------------- */

static void test_bearer(void **state)
{
	parse_ok("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " BEARER "\r\n\r\n");
	assert_int_equal(head.n_creds, 1);
	assert_fp_str(want_cred("bearer", "authorization")->fingerprint, BEARER);
	assert_string_equal(head.creds[0].jwt_iss, "");
	assert_no_leak(BEARER);
	/* the scheme is case-insensitive, extra spaces are skipped */
	parse_ok("GET / HTTP/1.1\r\nauthorization:   bearer    " BEARER "  \r\n\r\n");
	assert_fp_str(want_cred("bearer", "authorization")->fingerprint, BEARER);
}

static void test_jwt_string_aud(void **state)
{
	char jwt[4096], req[8192];

	make_jwt("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
		 "{\"sub\":\"user-1\",\"iss\":\"https://issuer.example.com/\",\"aud\":\"reach-api\","
		 "\"nested\":{\"a\":[1,2.5e3,true,null,\"x\"]},\"iat\":1700000000}",
		 jwt);
	snprintf(req, sizeof(req), "POST /v1/chat HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n", jwt);
	parse_ok(req);
	const struct http_credential *c = want_cred("jwt", "authorization");

	assert_fp_str(c->fingerprint, jwt);
	assert_string_equal(c->jwt_iss, "https://issuer.example.com/");
	assert_string_equal(c->jwt_aud, "reach-api");
	assert_no_leak(jwt);
	assert_no_leak(JWTSIG);
	assert_null(memmem(&head, sizeof(head), "user-1", 6)); /* other claims are not kept */
}

static void test_jwt_array_aud(void **state)
{
	char jwt[4096], req[8192];

	make_jwt("{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"k1\"}",
		 "{\"aud\":[\"api://one\",7,\"two\",{\"x\":1},\"thr\\u0065e\"],\"iss\":\"sa\\/issuer\"}", jwt);
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n", jwt);
	parse_ok(req);
	const struct http_credential *c = want_cred("jwt", "authorization");

	assert_string_equal(c->jwt_aud, "api://one,two,three");
	assert_string_equal(c->jwt_iss, "sa/issuer");
	assert_fp_str(c->fingerprint, jwt);
	assert_no_leak(jwt);
}

static void test_jwt_claims_sanitized_and_bounded(void **state)
{
	char jwt[4096], req[8192], payload[1024], longiss[600];

	memset(longiss, 'i', sizeof(longiss) - 1);
	longiss[sizeof(longiss) - 1] = '\0';
	snprintf(payload, sizeof(payload), "{\"iss\":\"%s\",\"aud\":\"caf\xc3\xa9\\n\\u00e9\\ud83d\\ude00!\"}", longiss);
	make_jwt("{\"alg\":\"none\"}", payload, jwt);
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n", jwt);
	parse_ok(req);
	const struct http_credential *c = want_cred("jwt", "authorization");

	assert_int_equal(strlen(c->jwt_iss), 255);
	assert_string_equal(c->jwt_aud, "caf???" "?!");
}

static void test_not_a_jwt(void **state)
{
	static const char *const tokens[] = {
		"eyJ0eXAiOiJKV1QifQ.eyJpc3MiOiJ4In0.c2ln",  /* header without alg */
		"abc.def.ghi",                              /* not JSON */
		"eyJhbGciOiJIUzI1NiJ9.e30",                 /* two segments */
		"eyJhbGciOiJIUzI1NiJ9.e30.c2ln.c2ln.c2ln",  /* JWE-like five */
		"eyJhbGciOiJIUzI1NiJ9..c2ln",               /* empty payload */
	};
	char req[512];
	size_t i;

	for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
		snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n", tokens[i]);
		parse_ok(req);
		assert_fp_str(want_cred("bearer", "authorization")->fingerprint, tokens[i]);
		assert_null(find_cred("jwt"));
	}
	/* a JWT whose payload is not JSON is still a JWT, without claims */
	parse_ok("GET / HTTP/1.1\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.bm90anNvbg.c2ln\r\n\r\n");
	assert_string_equal(want_cred("jwt", "authorization")->jwt_iss, "");
}

static void test_basic(void **state)
{
	char enc[128], req[512];

	b64(USERPASS, strlen(USERPASS), false, enc);
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nAuthorization: Basic %s\r\n\r\n", enc);
	parse_ok(req);
	const struct http_credential *c = want_cred("basic", "authorization");

	assert_fp_str(c->fingerprint, USERPASS);
	assert_string_equal(c->user, "alice");
	assert_no_leak(enc);
	assert_no_leak(PASSWORD);
	assert_no_leak(USERPASS);
}

static void test_basic_secret_user_withheld(void **state)
{
	static const char *const pairs[] = {
		"sk_live_4eC39HqLyjWDarjtT1zdp7dc:",     /* the key is the user, empty password */
		AKID ":x",                               /* token shape */
		"Zq8xVb2NmL4kPw7R:password",             /* random-looking */
		"nobody:",                               /* empty password */
		"bad/name:pw",                           /* character outside the safe set */
	};
	char enc[128], req[512];
	size_t i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		b64(pairs[i], strlen(pairs[i]), false, enc);
		snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nAuthorization: Basic %s\r\n\r\n", enc);
		parse_ok(req);
		const struct http_credential *c = want_cred("basic", "authorization");

		assert_fp_str(c->fingerprint, pairs[i]);
		assert_string_equal(c->user, "");
	}
	/* not base64: the raw value is fingerprinted */
	parse_ok("GET / HTTP/1.1\r\nAuthorization: Basic not*base64\r\n\r\n");
	assert_fp_str(want_cred("basic", "authorization")->fingerprint, "not*base64");
	/* unpadded base64 decodes the same */
	parse_ok("GET / HTTP/1.1\r\nAuthorization: Basic YWxpY2U6UGE1NXcwcmQtVmVyeS1TZWNyZXQ\r\n\r\n");
	assert_fp_str(want_cred("basic", "authorization")->fingerprint, USERPASS);
}

static void test_sigv4(void **state)
{
	parse_ok("GET /?Action=ListUsers HTTP/1.1\r\nHost: iam.amazonaws.com\r\n"
		 "Authorization: AWS4-HMAC-SHA256 Credential=" AKID "/20150830/us-east-1/iam/aws4_request, "
		 "SignedHeaders=content-type;host;x-amz-date, Signature=" SIGV4SIG "\r\n"
		 "X-Debug: " AKID "\r\n\r\n");
	const struct http_credential *c = want_cred("aws-sigv4", "authorization");

	assert_fp_str(c->fingerprint, AKID);
	/* the same key id seen as a token shape elsewhere: same fingerprint */
	assert_string_equal(want_cred("token:akia", "x-debug")->fingerprint, c->fingerprint);
	assert_no_leak(AKID);
	assert_no_leak(SIGV4SIG);

	/* a presigned URL: the key id, not the per-request signature */
	parse_ok("GET /bucket/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AKID
		 "%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=" SIGV4SIG " HTTP/1.1\r\n\r\n");
	assert_int_equal(head.n_creds, 1);
	assert_string_equal(want_cred("query:x-amz-credential", "query")->fingerprint, c->fingerprint);
	assert_no_leak(SIGV4SIG);
	assert_no_leak(AKID);
}

static void test_other_schemes(void **state)
{
	parse_ok("GET / HTTP/1.1\r\nAuthorization: token " GHP "\r\n\r\n");
	const struct http_credential *c = want_cred("scheme:token", "authorization");
	char fp[17];

	assert_fp_str(c->fingerprint, GHP);
	strcpy(fp, c->fingerprint);
	/* the same token in another header: same fingerprint */
	parse_ok("GET / HTTP/1.1\r\nX-GitHub-Token: " GHP "\r\n\r\n");
	assert_string_equal(want_cred("token:ghp", "x-github-token")->fingerprint, fp);

	parse_ok("GET / HTTP/1.1\r\nAuthorization: SSWS 00QCjAl4MlV-WPXM6vDNz5fVvD5TqXJz\r\n\r\n");
	assert_fp_str(want_cred("scheme:ssws", "authorization")->fingerprint, "00QCjAl4MlV-WPXM6vDNz5fVvD5TqXJz");
	/* no scheme: the value itself */
	parse_ok("GET / HTTP/1.1\r\nAuthorization: " BEARER "\r\n\r\n");
	assert_fp_str(want_cred("scheme:none", "authorization")->fingerprint, BEARER);
	parse_ok("GET / HTTP/1.1\r\nAuthorization: " SK "\r\n\r\n");
	assert_fp_str(want_cred("token:sk", "authorization")->fingerprint, SK);
	/* a scheme name that looks like a secret is not recorded as a name */
	parse_ok("GET / HTTP/1.1\r\nAuthorization: " BEARER " x\r\n\r\n");
	assert_fp_str(want_cred("scheme:other", "authorization")->fingerprint, "x");
	assert_no_leak(BEARER);
	/* a scheme without credentials is none */
	parse_ok("GET / HTTP/1.1\r\nAuthorization: Bearer \r\n\r\n");
	assert_int_equal(head.n_creds, 0);
}

static void test_api_key_headers(void **state)
{
	parse_ok("GET / HTTP/1.1\r\nX-API-KEY: " APIKEY "\r\napi-key: " BEARER "\r\nX-Goog-Api-Key: " QKEY "\r\n\r\n");
	assert_int_equal(head.n_creds, 3);
	assert_string_equal(head.creds[0].kind, "api-key");
	assert_string_equal(head.creds[0].where, "x-api-key");
	assert_fp_str(head.creds[0].fingerprint, APIKEY);
	assert_string_equal(head.creds[1].where, "api-key");
	assert_fp_str(head.creds[1].fingerprint, BEARER);
	assert_string_equal(head.creds[2].where, "x-goog-api-key");
	assert_fp_str(head.creds[2].fingerprint, QKEY);
	/* an empty value is no credential */
	parse_ok("GET / HTTP/1.1\r\nX-Api-Key:   \r\n\r\n");
	assert_int_equal(head.n_creds, 0);
}

static void test_cookie(void **state)
{
	parse_ok("GET / HTTP/1.1\r\nCookie:  " COOKIE " \r\n\r\n");
	assert_fp_str(want_cred("cookie", "cookie")->fingerprint, COOKIE);
	assert_no_leak(COOKIE);
}

static void test_proxy_authorization(void **state)
{
	parse_ok("GET http://x/ HTTP/1.1\r\nProxy-Authorization: Bearer " BEARER "\r\n\r\n");
	assert_fp_str(want_cred("proxy-authorization", "proxy-authorization")->fingerprint, BEARER);
	assert_null(find_cred("bearer"));
	parse_ok("GET http://x/ HTTP/1.1\r\nProxy-Authorization: " BEARER "\r\n\r\n");
	assert_fp_str(want_cred("proxy-authorization", "proxy-authorization")->fingerprint, BEARER);
	assert_no_leak(BEARER);
}

static void test_query_params(void **state)
{
	parse_ok("GET /v1/x?q=hello&API_KEY=" QKEY "&access_token=" BEARER "&key=" APIKEY
		 "&signature=c2lnbmF0dXJlMTIz&empty=&token=&auth=a%2Bb%3Dc&page=2 HTTP/1.1\r\n\r\n");
	assert_fp_str(want_cred("query:api_key", "query")->fingerprint, QKEY);
	assert_fp_str(want_cred("query:access_token", "query")->fingerprint, BEARER);
	assert_fp_str(want_cred("query:key", "query")->fingerprint, APIKEY);
	assert_fp_str(want_cred("query:signature", "query")->fingerprint, "c2lnbmF0dXJlMTIz");
	assert_fp_str(want_cred("query:auth", "query")->fingerprint, "a+b=c"); /* percent-decoded */
	assert_null(find_cred("query:token"));                                /* empty value */
	assert_int_equal(head.n_creds, 5);
	assert_string_equal(head.path, "/v1/x");
	assert_no_leak(QKEY);
	assert_no_leak(BEARER);
	assert_no_leak(APIKEY);
	/* a token shape in any other parameter */
	parse_ok("GET /x?q=1&gl=" GLPAT " HTTP/1.1\r\n\r\n");
	assert_fp_str(want_cred("token:glpat", "query")->fingerprint, GLPAT);
}

static void test_query_jwt_claims(void **state)
{
	char jwt[4096], req[8192];

	make_jwt("{\"alg\":\"ES256\"}", "{\"iss\":\"https://idp\",\"aud\":\"x\"}", jwt);
	snprintf(req, sizeof(req), "GET /cb?id_token=%s HTTP/1.1\r\n\r\n", jwt);
	parse_ok(req);
	const struct http_credential *c = want_cred("query:id_token", "query");

	assert_string_equal(c->jwt_iss, "https://idp");
	assert_fp_str(c->fingerprint, jwt);
	assert_no_leak(jwt);
}

static void test_token_shapes(void **state)
{
	static const struct { const char *tok, *kind; } t[] = {
		{ SK, "token:sk" },
		{ "sk-ant-api03-AbCdEf0123456789AbCdEf0123456789", "token:sk" },
		{ GHP, "token:ghp" },
		{ "ghs_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "token:ghs" },
		{ GHPAT, "token:github_pat" },
		{ XOX, "token:xox" },
		{ AKID, "token:akia" },
		{ "ASIAQWERTYUIOP123456", "token:asia" },
		{ GLPAT, "token:glpat" },
	};
	char req[512];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-Custom: prefix=%s; rest\r\n\r\n", t[i].tok);
		parse_ok(req);
		assert_int_equal(head.n_creds, 1);
		assert_fp_str(want_cred(t[i].kind, "x-custom")->fingerprint, t[i].tok);
		assert_no_leak(t[i].tok);
	}
	/* two in one value */
	parse_ok("GET / HTTP/1.1\r\nX-Both: " GHP " " XOX "\r\n\r\n");
	assert_int_equal(head.n_creds, 2);
}

static void test_not_token_shapes(void **state)
{
	static const char *const values[] = {
		"task-management-and-scheduling-service", /* "sk-" inside a word */
		"sk-no-digits-in-this-long-enough-string",
		"ghp_tooshort123",
		"AKIA123",                                 /* too short */
		"AKIAIOSFODNN7EXAMPLEX",                   /* too long */
		"xoxb-short",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
	};
	char req[512];
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nUser-Agent: %s\r\n\r\n", values[i]);
		parse_ok(req);
		if (head.n_creds)
			fail_msg("\"%s\" taken for a token (%s)", values[i], head.creds[0].kind);
	}
}

static void test_same_credential_same_fingerprint(void **state)
{
	char fp1[17], fp2[17];

	parse_ok("GET / HTTP/1.1\r\nAuthorization: Bearer " SK "\r\n\r\n");
	strcpy(fp1, want_cred("bearer", "authorization")->fingerprint);
	parse_ok("POST /other HTTP/1.0\r\nHost: elsewhere\r\nX-Whatever: " SK "\r\n\r\n");
	strcpy(fp2, want_cred("token:sk", "x-whatever")->fingerprint);
	assert_string_equal(fp1, fp2);
	parse_ok("GET /?api_key=" SK " HTTP/1.1\r\n\r\n");
	assert_string_equal(want_cred("query:api_key", "query")->fingerprint, fp1);
	/* different credentials, different fingerprints */
	parse_ok("GET / HTTP/1.1\r\nAuthorization: Bearer " BEARER "\r\n\r\n");
	assert_string_not_equal(want_cred("bearer", "authorization")->fingerprint, fp1);
}

static void test_dedup_and_cap(void **state)
{
	char req[2048];
	size_t n;
	int i;

	parse_ok("GET / HTTP/1.1\r\nCookie: a=1\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n");
	assert_int_equal(head.n_creds, 2);
	n = (size_t)sprintf(req, "GET / HTTP/1.1\r\n");
	for (i = 0; i < 11; i++)
		n += (size_t)sprintf(req + n, "X-Api-Key: key-number-%d\r\n", i);
	strcpy(req + n, "\r\n");
	parse_ok(req);
	assert_int_equal(head.n_creds, HTTP_MAX_CREDS);
	assert_int_equal(head.creds_dropped, 11 - HTTP_MAX_CREDS);
}

/* ---- path templates and special APIs -------------------------------------- */

static void expect_template(const char *path, const char *want_path, const char *want_tmpl)
{
	char req[4096];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", path);
	parse_ok(req);
	assert_string_equal(head.path, want_path);
	assert_string_equal(head.path_template, want_tmpl);
}

static void test_path_templates(void **state)
{
	expect_template("/v1/projects/12345/secrets", "/v1/projects/12345/secrets", "/v1/projects/{id}/secrets");
	expect_template("/v1/models/chat", "/v1/models/chat", "/v1/models/chat");
	expect_template("/v1/chat/completions", "/v1/chat/completions", "/v1/chat/completions");
	expect_template("/v1/models/gpt-4o-mini-2024-07-18", "/v1/models/gpt-4o-mini-2024-07-18",
			"/v1/models/gpt-4o-mini-2024-07-18");
	expect_template("/v1beta/models/gemini-1.5-pro:generateContent", "/v1beta/models/gemini-1.5-pro:generateContent",
			"/v1beta/models/gemini-1.5-pro:generateContent");
	expect_template("/users/550e8400-E29B-41d4-a716-446655440000/keys/7",
			"/users/550e8400-E29B-41d4-a716-446655440000/keys/7", "/users/{id}/keys/{id}");
	/* 24+ hex: an id, and redacted in path too (it may be a key) */
	expect_template("/v3/0123456789abcdef01234567", "/v3/{id}", "/v3/{id}");
	expect_template("/v3/deadbeefdeadbeefdeadbeef/x", "/v3/{id}/x", "/v3/{id}/x");
	/* short hex with digits and letters (docker ids): template only */
	expect_template("/containers/4f66ad9a0b2e/json", "/containers/4f66ad9a0b2e/json", "/containers/{id}/json");
	expect_template("/a/cafe/deadbeef", "/a/cafe/deadbeef", "/a/cafe/deadbeef");
	/* base64-ish ids */
	expect_template("/v1/threads/thread_abc123DEF456ghi789/runs", "/v1/threads/{id}/runs", "/v1/threads/{id}/runs");
	expect_template("/files/file-Xk9fQ2ZpLm8Rt4Vw", "/files/{id}", "/files/{id}");
	expect_template("/x/k8s7a2m9q4z1x8c5v6b3n0", "/x/{id}", "/x/{id}");
	expect_template("/api/serviceaccounts/default", "/api/serviceaccounts/default", "/api/serviceaccounts/default");
	/* empty segments and a trailing slash stay */
	expect_template("//a/1/", "//a/1/", "//a/{id}/");
	expect_template("/", "/", "/");
}

static void test_token_in_path(void **state)
{
	parse_ok("GET /bot/" SK "/send HTTP/1.1\r\n\r\n");
	assert_string_equal(head.path, "/bot/{token}/send");
	assert_string_equal(head.path_template, "/bot/{token}/send");
	assert_fp_str(want_cred("token:sk", "path")->fingerprint, SK);
	assert_no_leak(SK);
	/* a webhook secret in the path never shows in path */
	parse_ok("POST /services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX1a HTTP/1.1\r\n\r\n");
	assert_no_leak("XXXXXXXXXXXXXXXXXXXXXXXX1a");
}

static void test_path_truncated(void **state)
{
	char req[4096];
	size_t n;

	n = (size_t)sprintf(req, "GET /");
	memset(req + n, 'p', 2000);
	n += 2000;
	strcpy(req + n, "?token=" QKEY " HTTP/1.1\r\n\r\n");
	parse_ok(req);
	assert_true(head.path_truncated);
	assert_int_equal(strlen(head.path), sizeof(head.path) - 1);
	assert_int_equal(strlen(head.path_template), sizeof(head.path_template) - 1);
	assert_fp_str(want_cred("query:token", "query")->fingerprint, QKEY);
}

static void expect_special(const char *method, const char *path, const char *host, const char *want)
{
	char req[1024];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s\r\n\r\n", method, path, host);
	parse_ok(req);
	if (strcmp(head.special, want) != 0)
		fail_msg("%s %s: special \"%s\", want \"%s\"", method, path, head.special, want);
}

static void test_special_apis(void **state)
{
	expect_special("GET", "/api/v1/namespaces/ai/secrets", "10.96.0.1", "kube-secrets");
	expect_special("GET", "/api/v1/namespaces/ai/secrets/", "10.96.0.1", "kube-secrets");
	expect_special("GET", "/api/v1/namespaces/ai/secrets/openai-key?resourceVersion=0", "k", "kube-secrets");
	expect_special("GET", "/api/v1/secrets?limit=500", "k", "kube-secrets");
	expect_special("GET", "/api/v1/namespaces/ai/secrets?watch=1", "k", "kube-secrets");
	expect_special("GET", "/api/v1/watch/namespaces/ai/secrets", "k", "kube-secrets");
	expect_special("GET", "/api/v1/namespaces/ai/configmaps", "k", "");
	expect_special("GET", "/api/v1/namespaces/ai/secretsx", "k", "");
	expect_special("GET", "/api/v1/namespaces/ai/secrets/a/b", "k", "");
	expect_special("DELETE", "/api/v1/namespaces/ai/secrets/a", "k", "");
	expect_special("POST", "/api/v1/namespaces/ai/serviceaccounts/default/token", "k", "token-request");
	expect_special("POST", "/oauth/token", "auth.example", "token-request");
	expect_special("POST", "/token", "auth.example", "token-request");
	expect_special("POST", "/realms/x/protocol/openid-connect/token", "kc", "token-request");
	expect_special("POST", "/login/oauth/access_token", "github.com", "token-request");
	expect_special("GET", "/tokens", "x", "");
	expect_special("GET", "/latest/meta-data/iam/security-credentials/", "169.254.169.254", "cloud-metadata-credentials");
	expect_special("GET", "/latest/meta-data/iam/security-credentials/my-role", "169.254.169.254",
		       "cloud-metadata-credentials");
	expect_special("GET", "/latest/meta-data/instance-id", "169.254.169.254", "");
	expect_special("GET", "/computeMetadata/v1/instance/service-accounts/default/token", "metadata.google.internal",
		       "cloud-metadata-credentials");
	expect_special("GET", "/computeMetadata/v1/instance/service-accounts/default/email", "metadata.google.internal",
		       "");
	expect_special("GET", "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x", "169.254.169.254",
		       "cloud-metadata-credentials");
	expect_special("GET", "/v2/credentials/5a1e-abcd", "169.254.170.2", "cloud-metadata-credentials");
	expect_special("GET", "/v2/credentials/5a1e-abcd", "example.com", "");
	expect_special("GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/token", "x", "token-request");
}

/* ---- truncation ----------------------------------------------------------- */

static void test_every_prefix(void **state)
{
	char jwt[2048], basic[128], req[8192], line[4096];
	size_t ends[16], nlines = 0, len = 0, body_start, p, i;
	struct http_request_head *full = malloc(sizeof(*full));
	/* which header lines carry a credential (index into ends[]) */
	bool has_cred[16] = { false };

	assert_non_null(full);
	make_jwt("{\"alg\":\"HS256\"}", "{\"iss\":\"i\",\"aud\":[\"a\",\"b\"]}", jwt);
	b64(USERPASS, strlen(USERPASS), false, basic);
#define ADD(cred, ...)                                      \
	do {                                                \
		snprintf(line, sizeof(line), __VA_ARGS__);  \
		strcpy(req + len, line);                    \
		len += strlen(line);                        \
		has_cred[nlines] = cred;                    \
		ends[nlines++] = len;                       \
	} while (0)
	ADD(false, "POST /v1/projects/12345/chat?api_key=%s&x=1 HTTP/1.1\r\n", QKEY);
	ADD(false, "Host: API.Example.com:8443\r\n");
	ADD(true, "Authorization: Bearer %s\r\n", jwt);
	ADD(true, "X-Api-Key: %s\r\n", APIKEY);
	ADD(true, "Cookie: %s\r\n", COOKIE);
	ADD(true, "X-Trace: %s\r\n", GHP);
	ADD(true, "Proxy-Authorization: Basic %s\r\n", basic);
	ADD(false, "Content-Length: 2\r\n");
	ADD(false, "\r\n");
#undef ADD
	body_start = len;
	strcpy(req + len, "{}");
	len += 2;

	assert_int_equal(http_parse_request_head((const uint8_t *)req, len, &test_key, full), 0);
	assert_int_equal(full->n_creds, 6);
	assert_false(full->truncated);

	for (p = 0; p <= len; p++) {
		int rc = parse_n(req, p), want_creds = 1, k;
		size_t complete = 0;

		if (p < ends[0]) {
			assert_true(rc == -ENOMSG || rc == -EBADMSG);
			assert_all_zero();
			continue;
		}
		assert_int_equal(rc, 0);
		for (i = 1; i < nlines; i++)
			if (ends[i] <= p) {
				complete = i;
				want_creds += has_cred[i];
			}
		assert_int_equal(head.truncated, p < body_start);
		assert_string_equal(head.host, complete >= 1 ? "api.example.com:8443" : "");
		assert_string_equal(head.path_template, "/v1/projects/{id}/chat");
		assert_int_equal(head.n_creds, want_creds);
		/* every credential found is one of the full parse, whole */
		for (k = 0; k < head.n_creds; k++) {
			int j;
			bool same = false;

			assert_non_null(memchr(head.creds[k].kind, '\0', sizeof(head.creds[k].kind)));
			assert_non_null(memchr(head.creds[k].where, '\0', sizeof(head.creds[k].where)));
			for (j = 0; j < full->n_creds; j++)
				same |= memcmp(&head.creds[k], &full->creds[j], sizeof(head.creds[k])) == 0;
			assert_true(same);
		}
		assert_no_leak(jwt);
		assert_no_leak(basic);
		assert_no_leak(PASSWORD);
		assert_no_leak(APIKEY);
		assert_no_leak(COOKIE);
		assert_no_leak(GHP);
		assert_no_leak(QKEY);
	}
	free(full);
}

/* ---- the leak property ---------------------------------------------------- */

static void test_no_planted_credential_in_result(void **state)
{
	char jwt[4096], basic[128], req[16384];
	static const char *const plain[] = {
		BEARER, SK, GHP, GHPAT, XOX, AKID, GLPAT, APIKEY, COOKIE, PASSWORD, USERPASS, QKEY, SIGV4SIG, JWTSIG,
	};
	size_t i;

	make_jwt("{\"alg\":\"HS256\"}", "{\"iss\":\"issuer\",\"aud\":\"aud\"}", jwt);
	b64(USERPASS, strlen(USERPASS), false, basic);
	snprintf(req, sizeof(req),
		 "GET http://alice:" PASSWORD "@h/bot/" SK "/x?api_key=" QKEY "&token=%s HTTP/1.1\r\n"
		 "Host: h\r\n"
		 "Authorization: Basic %s\r\n"
		 "Proxy-Authorization: Bearer " BEARER "\r\n"
		 "X-Api-Key: " APIKEY "\r\n"
		 "Cookie: " COOKIE "\r\n"
		 "X-A: " GHP " " GHPAT "\r\n"
		 "X-B: " XOX "\r\n"
		 "X-Amz: AWS4-HMAC-SHA256 Credential=" AKID "/x, Signature=" SIGV4SIG "\r\n"
		 "X-C: " GLPAT "\r\n"
		 "\r\n",
		 jwt, basic);
	parse_ok(req);
	assert_int_equal(head.n_creds, HTTP_MAX_CREDS);
	assert_int_equal(head.n_creds + head.creds_dropped, 13);
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		assert_no_leak(plain[i]);
	assert_no_leak(jwt);
	assert_no_leak(basic);
	/* and all strings are terminated */
	assert_non_null(memchr(head.path, '\0', sizeof(head.path)));
	assert_non_null(memchr(head.host, '\0', sizeof(head.host)));
}


/* The well-known token and key headers: the value is the credential
 * whatever its shape; other credential-named headers only with a
 * credential-shaped value; nonces and ids under such names are not. */
static void test_wider_credential_headers(void **state)
{
	static const struct {
		const char *name, *kind;
	} known[] = {
		{ "X-Auth-Token", "token" }, { "PRIVATE-TOKEN", "token" }, { "X-Vault-Token", "token" },
		{ "X-Amz-Security-Token", "token" }, { "X-Api-Token", "token" },
		{ "Ocp-Apim-Subscription-Key", "api-key" }, { "X-Functions-Key", "api-key" },
	};
	char req[512];

	(void)state;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		char lname[64];

		snprintf(req, sizeof(req), "GET /v1/x HTTP/1.1\r\nHost: a.example\r\n%s: short1\r\n\r\n", known[i].name);
		parse_ok(req);
		for (size_t j = 0; known[i].name[j] && j < sizeof(lname) - 1; j++)
			lname[j] = (char)tolower((unsigned char)known[i].name[j]), lname[j + 1] = '\0';
		assert_fp_str(want_cred(known[i].kind, lname)->fingerprint, "short1");
		assert_int_equal(head.n_creds, 1);
	}
	/* a credential-named header nobody listed, with a credential's shape */
	parse_ok("GET / HTTP/1.1\r\nHost: a\r\nX-Acme-Session-Key: " APIKEY "\r\n\r\n");
	assert_fp_str(want_cred("header-secret", "x-acme-session-key")->fingerprint, APIKEY);
	assert_no_leak(APIKEY);
	/* the same name with a plain value, several words, or a nonce name */
	parse_ok("GET / HTTP/1.1\r\nHost: a\r\nX-Acme-Session-Key: enabled\r\n\r\n");
	assert_int_equal(head.n_creds, 0);
	parse_ok("GET / HTTP/1.1\r\nHost: a\r\nX-Auth-Mode: token via header 0123456789abcdef\r\n\r\n");
	assert_int_equal(head.n_creds, 0);
	parse_ok("GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		 "Idempotency-Key: 5f0c6a1e-8d47-4c57-9a55-3f0e2b7d9c11\r\nX-CSRF-Token: Qm9vbGVhbkNvb2tpZVZhbHVlMTIz\r\n"
		 "X-Request-Id: 7d9c11f0c6a1e8d474c579a553f0e2b7\r\n\r\n");
	assert_int_equal(head.n_creds, 0);
	/* a token shape under a credential name stays its shape */
	parse_ok("GET / HTTP/1.1\r\nHost: a\r\nX-Acme-Auth: " GHP "\r\n\r\n");
	assert_fp_str(want_cred("token:ghp", "x-acme-auth")->fingerprint, GHP);
	assert_int_equal(head.n_creds, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_http10_port_and_body_ignored),
		cmocka_unit_test(test_bare_lf_accepted),
		cmocka_unit_test(test_all_methods),
		cmocka_unit_test(test_absolute_form_and_userinfo),
		cmocka_unit_test(test_connect_and_asterisk),
		cmocka_unit_test(test_implausible_host_is_dropped),
		cmocka_unit_test(test_not_http),
		cmocka_unit_test(test_http2_preface),
		cmocka_unit_test(test_lowercase_method),
		cmocka_unit_test(test_bad_request_lines),
		cmocka_unit_test(test_crlf_rules),
		cmocka_unit_test(test_error_returns_nothing_partial),
		cmocka_unit_test(test_long_header_line),
		cmocka_unit_test(test_line_limit_edge),
		cmocka_unit_test(test_header_count),
		cmocka_unit_test(test_binary_junk),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_jwt_string_aud),
		cmocka_unit_test(test_jwt_array_aud),
		cmocka_unit_test(test_jwt_claims_sanitized_and_bounded),
		cmocka_unit_test(test_not_a_jwt),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_basic_secret_user_withheld),
		cmocka_unit_test(test_sigv4),
		cmocka_unit_test(test_other_schemes),
		cmocka_unit_test(test_api_key_headers),
		cmocka_unit_test(test_cookie),
		cmocka_unit_test(test_proxy_authorization),
		cmocka_unit_test(test_query_params),
		cmocka_unit_test(test_query_jwt_claims),
		cmocka_unit_test(test_token_shapes),
		cmocka_unit_test(test_not_token_shapes),
		cmocka_unit_test(test_same_credential_same_fingerprint),
		cmocka_unit_test(test_dedup_and_cap),
		cmocka_unit_test(test_path_templates),
		cmocka_unit_test(test_token_in_path),
		cmocka_unit_test(test_path_truncated),
		cmocka_unit_test(test_special_apis),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_no_planted_credential_in_result),
		cmocka_unit_test(test_wider_credential_headers),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
