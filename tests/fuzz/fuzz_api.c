// fuzz-sources: -D_GNU_SOURCE user/ship/http_request.c
/* libFuzzer target for the request head parser of the agent's HTTP API
 * (ship/http_request.c: /metrics, /healthz, /readyz and /v1/ledger, read
 * from any client that can connect). Three checks:
 *  - any bytes: the head measure and the parser never crash or read past
 *    the input (ASan), and a parsed request keeps the parser's promises:
 *    an upper-case method, a path that starts with '/' with no control
 *    byte, space, '?' or '#', an Authorization value with no line break
 *    and no outer blanks, every field NUL terminated in its buffer;
 *  - a head the server would read (the input up to its blank line) parses
 *    the same when the bytes after it change: nothing beyond the head is
 *    looked at;
 *  - the input as a path and a token (split at the first NUL, cleaned of
 *    the bytes HTTP forbids there) built into "GET PATH HTTP/1.1" with an
 *    Authorization header comes back exactly: the guard of /v1/ sees the
 *    path and the token the client sent.
 * Run: tests/fuzz/run.sh [seconds]   (corpus: tests/fuzz/corpus/api/) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ship/http_request.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static struct http_req a, b;

static void check_fields(const struct http_req *r)
{
	size_t n;

	CHECK(memchr(r->method, '\0', sizeof(r->method)));
	CHECK(memchr(r->path, '\0', sizeof(r->path)));
	CHECK(memchr(r->auth, '\0', sizeof(r->auth)));
	CHECK(r->method[0]);
	for (const char *m = r->method; *m; m++)
		CHECK(*m >= 'A' && *m <= 'Z');
	CHECK(r->path[0] == '/');
	for (const char *p = r->path; *p; p++)
		CHECK((unsigned char)*p > 0x20 && *p != 0x7f && *p != '?' && *p != '#');
	n = strlen(r->auth);
	CHECK(!strpbrk(r->auth, "\r\n"));
	if (n)
		CHECK(r->auth[0] != ' ' && r->auth[0] != '\t' && r->auth[n - 1] != ' ' && r->auth[n - 1] != '\t');
}

/* Any bytes, as the server would see them. */
static void parse_any(const uint8_t *data, size_t size)
{
	size_t head = http_request_head_len((const char *)data, size);
	char *copy;

	CHECK(head <= size);
	if (head) {
		CHECK(head >= 2 && data[head - 1] == '\n' && data[head - 2] == '\n' ||
		      (head >= 4 && !memcmp(data + head - 4, "\r\n\r\n", 4)));
	}
	/* exactly the input's bytes, no NUL after them: a read past is ASan's */
	copy = malloc(size ? size : 1);
	CHECK(copy);
	memcpy(copy, data, size);
	if (http_request_parse(copy, size, &a) == 0)
		check_fields(&a);
	if (head && head <= HTTP_REQUEST_MAX_HEAD) {
		int ra = http_request_parse(copy, head, &a);

		/* what follows the head does not change its meaning */
		memset(copy + head, 'X', size - head);
		CHECK(http_request_parse(copy, head, &b) == ra);
		if (ra == 0)
			CHECK(!strcmp(a.method, b.method) && !strcmp(a.path, b.path) && !strcmp(a.auth, b.auth));
	}
	free(copy);
}

/* The input as a path and a token: what a client sends, the parser gives. */
static void round_trip(const uint8_t *data, size_t size)
{
	static char path[1024], tok[1024], req[4096];
	const uint8_t *nul = memchr(data, '\0', size);
	size_t plen = 0, tlen = 0, split = nul ? (size_t)(nul - data) : size;
	int n;

	path[plen++] = '/';
	for (size_t i = 0; i < split && plen < sizeof(path) - 1; i++)
		if (data[i] > 0x20 && data[i] != 0x7f && data[i] != '?' && data[i] != '#')
			path[plen++] = (char)data[i];
	path[plen] = '\0';
	for (size_t i = split + 1; i < size && tlen < sizeof(tok) - 1; i++)
		if (data[i] > 0x20 && data[i] != 0x7f)
			tok[tlen++] = (char)data[i];
	if (!tlen)
		tok[tlen++] = '-'; /* "Bearer " alone is trimmed to "Bearer" */
	tok[tlen] = '\0';
	n = snprintf(req, sizeof(req), "GET %s?q=%s HTTP/1.1\r\nHost: x\r\nAuthorization: \t Bearer %s \r\n\r\n", path,
		     tok, tok);
	CHECK(n > 0 && (size_t)n < sizeof(req));
	CHECK(http_request_head_len(req, (size_t)n) == (size_t)n);
	CHECK(http_request_parse(req, (size_t)n, &a) == 0);
	CHECK(!strcmp(a.method, "GET"));
	CHECK(!strcmp(a.path, path));
	CHECK(!strncmp(a.auth, "Bearer ", 7) && !strcmp(a.auth + 7, tok));
	/* bare LF line ends: the same request */
	n = snprintf(req, sizeof(req), "HEAD %s HTTP/1.0\nauthorization:Bearer %s\n\n", path, tok);
	CHECK(http_request_parse(req, (size_t)n, &b) == 0);
	CHECK(!strcmp(b.method, "HEAD") && !strcmp(b.path, path) && !strcmp(b.auth + 7, tok));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_any(data, size);
	round_trip(data, size);
	return 0;
}
