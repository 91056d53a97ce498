/* The request head of the agent's HTTP endpoint (ship/http_server.h): the
 * bytes any local or remote client sends, parsed strictly. Split from the
 * server so that the parser alone can be fuzzed (tests/fuzz/fuzz_api.c).
 *
 * Accepted: "METHOD SP /target SP HTTP/1.1|HTTP/1.0", CRLF or bare LF line
 * ends (RFC 9112 allows LF), then "Name: value" header lines and the blank
 * line. The method is upper-case letters (< 16), the target starts with '/'
 * and holds no control byte or space; its query and fragment are dropped
 * from the path. Only Authorization is kept (trimmed of spaces and tabs).
 * A NUL anywhere, a header name with a space or tab, a control byte
 * other than tab in a header line (a bare CR), a line without a colon, or
 * a head without its blank line is refused. */
#ifndef REACH_HTTP_REQUEST_H
#define REACH_HTTP_REQUEST_H

#include <stddef.h>

#define HTTP_REQUEST_MAX_HEAD 8192

struct http_req {
	char method[16];
	char path[HTTP_REQUEST_MAX_HEAD];
	char auth[HTTP_REQUEST_MAX_HEAD]; /* the Authorization value, trimmed; "" when absent */
};

/* The length of the head in buf (up to and including the blank line), or 0
 * while it is incomplete. */
size_t http_request_head_len(const char *buf, size_t len);

/* Parses a head of len bytes (at most HTTP_REQUEST_MAX_HEAD, as
 * http_request_head_len() measured it; it need not end in NUL): 0, or
 * -EINVAL. */
int http_request_parse(const char *head, size_t len, struct http_req *r);

#endif
