/* The HTTP endpoint's request head parser (http_request.h). */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "ship/http_request.h"

size_t http_request_head_len(const char *buf, size_t len)
{
	const char *crlf = memmem(buf, len, "\r\n\r\n", 4), *lf = memmem(buf, len, "\n\n", 2);

	if (crlf && (!lf || crlf < lf))
		return (size_t)(crlf + 4 - buf);
	return lf ? (size_t)(lf + 2 - buf) : 0;
}

static size_t line_len(const char *line, const char *end)
{
	const char *nl = memchr(line, '\n', end - line);
	size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);

	return n && line[n - 1] == '\r' ? n - 1 : n;
}

/* "METHOD SP /target SP HTTP/1.x"; the query is dropped from the path. */
static int parse_request_line(const char *line, size_t n, struct http_req *r)
{
	const char *sp1 = memchr(line, ' ', n), *target, *sp2, *version;
	size_t mlen, tlen;

	if (!sp1)
		return -EINVAL;
	mlen = sp1 - line;
	target = sp1 + 1;
	sp2 = memchr(target, ' ', n - (target - line));
	if (!mlen || mlen >= sizeof(r->method) || !sp2)
		return -EINVAL;
	version = sp2 + 1;
	if ((size_t)(line + n - version) != 8 || (memcmp(version, "HTTP/1.1", 8) && memcmp(version, "HTTP/1.0", 8)))
		return -EINVAL;
	for (size_t i = 0; i < mlen; i++)
		if (!isupper((unsigned char)line[i]))
			return -EINVAL;
	memcpy(r->method, line, mlen);
	r->method[mlen] = '\0';
	/* bounded by the space before the version: the head need not end in NUL */
	for (tlen = 0; target + tlen < sp2 && target[tlen] != '?' && target[tlen] != '#'; tlen++)
		;
	if (*target != '/')
		return -EINVAL;
	for (size_t i = 0; i < tlen; i++)
		if ((unsigned char)target[i] <= 0x20 || target[i] == 0x7f)
			return -EINVAL;
	memcpy(r->path, target, tlen);
	r->path[tlen] = '\0';
	return 0;
}

/* "Name: value" lines; keeps the Authorization value. */
static int parse_headers(const char *p, const char *end, struct http_req *r)
{
	while (p < end) {
		size_t n = line_len(p, end);
		const char *colon = memchr(p, ':', n), *v;
		size_t vlen;

		if (!n)
			return 0; /* the blank line */
		if (!colon || colon == p || memchr(p, ' ', colon - p) || memchr(p, '\t', colon - p))
			return -EINVAL;
		/* a bare CR or another control byte: refused, as RFC 9112 allows,
		 * rather than kept in a value (the token compared) */
		for (size_t i = 0; i < n; i++)
			if (((unsigned char)p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
				return -EINVAL;
		if ((size_t)(colon - p) == 13 && !strncasecmp(p, "authorization", 13)) {
			v = colon + 1;
			vlen = n - (v - p);
			while (vlen && (*v == ' ' || *v == '\t'))
				v++, vlen--;
			while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			memcpy(r->auth, v, vlen);
			r->auth[vlen] = '\0';
		}
		p = memchr(p, '\n', end - p);
		if (!p)
			return -EINVAL;
		p++;
	}
	return -EINVAL;
}

int http_request_parse(const char *head, size_t len, struct http_req *r)
{
	const char *end = head + len;
	size_t n;

	r->method[0] = r->path[0] = r->auth[0] = '\0';
	/* the buffers hold any line of a head that fits the server's buffer */
	if (!len || len > HTTP_REQUEST_MAX_HEAD || memchr(head, '\0', len))
		return -EINVAL;
	n = line_len(head, end);
	if (parse_request_line(head, n, r))
		return -EINVAL;
	head = memchr(head, '\n', len);
	return head ? parse_headers(head + 1, end, r) : -EINVAL;
}
