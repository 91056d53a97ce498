#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem: the fuzz build does not pass -D_GNU_SOURCE */
#endif
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "mcp/jsonrpc.h"

#define JSONRPC_DEPTH 16 /* MCP messages are shallow; deeper is refused by json-c */

/* A name as reach keeps it: bounded, one token of a small alphabet. */
static void put_name(char *out, size_t size, const char *s, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < n && j + 1 < size; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			  c == '.' || c == ':' || c == '/' || c == '@' || c == '-';

		out[j++] = ok ? c : '_';
	}
	out[j] = '\0';
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The argument names of a tools/call, sorted, comma-joined; values unread. */
static void arg_names(struct json_object *args, struct jsonrpc_msg *m)
{
	const char *names[JSONRPC_ARGS_MAX];
	char buf[JSONRPC_ARGS_MAX][JSONRPC_NAME_LEN];
	size_t n = 0, len = 0;

	if (!json_object_is_type(args, json_type_object))
		return;
	json_object_object_foreach(args, key, val) {
		(void)val; /* never read: a value may be a secret */
		if (n == JSONRPC_ARGS_MAX) {
			m->args_dropped++;
			continue;
		}
		put_name(buf[n], sizeof(buf[n]), key, strlen(key));
		names[n] = buf[n];
		n++;
	}
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(names[i]);

		if (len + k + 2 > sizeof(m->args)) {
			m->args_dropped += (uint32_t)(n - i);
			break;
		}
		if (len)
			m->args[len++] = ',';
		memcpy(m->args + len, names[i], k);
		len += k;
		m->args[len] = '\0';
	}
}

static const char *str_member(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

/* One parsed message: 0 recognised (m filled), -1 not JSON-RPC. */
static int classify(struct json_object *o, struct jsonrpc_msg *m)
{
	struct json_object *v, *params, *result;
	const char *method, *jsonrpc = str_member(o, "jsonrpc");

	if (!json_object_is_type(o, json_type_object))
		return -1;
	memset(m, 0, sizeof(*m));
	if (json_object_object_get_ex(o, "id", &v) && json_object_is_type(v, json_type_int)) {
		m->has_id = true;
		m->id = json_object_get_int64(v);
	}
	if ((method = str_member(o, "method"))) {
		if (strcmp(method, "tools/call")) {
			m->kind = JSONRPC_OTHER;
			return 0;
		}
		const char *name;

		if (!json_object_object_get_ex(o, "params", &params) || !(name = str_member(params, "name")) || !*name)
			return -1; /* a call without a tool: not a valid one */
		m->kind = JSONRPC_TOOLS_CALL;
		put_name(m->tool, sizeof(m->tool), name, strlen(name));
		if (json_object_object_get_ex(params, "arguments", &v))
			arg_names(v, m);
		return 0;
	}
	if (json_object_object_get_ex(o, "result", &result)) {
		struct json_object *info;
		const char *name;

		m->kind = JSONRPC_RESULT;
		if (json_object_is_type(result, json_type_object)) {
			if (json_object_object_get_ex(result, "serverInfo", &info) && (name = str_member(info, "name"))) {
				m->kind = JSONRPC_INIT_RESULT;
				put_name(m->server_name, sizeof(m->server_name), name, strlen(name));
			}
			m->is_error = json_object_object_get_ex(result, "isError", &v) && json_object_get_boolean(v);
		}
		return 0;
	}
	if (json_object_object_get_ex(o, "error", &v)) {
		m->kind = JSONRPC_RESULT;
		m->is_error = true;
		return 0;
	}
	return jsonrpc ? (m->kind = JSONRPC_OTHER, 0) : -1;
}

/* The string value after "key" (with optional whitespace and ':') in
 * [s, end): its bytes in *v / *vn. false when absent or cut. */
static bool find_string_member(const char *s, const char *end, const char *key, const char **v, size_t *vn)
{
	size_t kl = strlen(key);

	for (const char *p = s; p + kl < end; p++) {
		const char *q;

		if (memcmp(p, key, kl))
			continue;
		q = p + kl;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
			q++;
		if (q >= end || *q != ':')
			continue;
		q++;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
			q++;
		if (q >= end || *q != '"')
			continue;
		q++;
		for (const char *e = q; e < end; e++) {
			if (*e == '\\')
				return false; /* an escaped name: not guessed at */
			if (*e == '"') {
				*v = q;
				*vn = (size_t)(e - q);
				return true;
			}
		}
		return false; /* cut inside the value */
	}
	return false;
}

/* A message cut by the capture bound: only a tools/call matters, and its
 * tool name usually comes first ({"jsonrpc","id","method","params":{"name",
 * "arguments"}}). Its arguments are unknown. */
static bool cut_message(const char *s, size_t n, struct jsonrpc_msg *m, struct jsonrpc_counts *c)
{
	const char *end = s + n, *v, *params;
	size_t vn;

	c->truncated++;
	if (!find_string_member(s, end, "\"method\"", &v, &vn)) {
		/* an answer cut loses nothing; a request whose method is past the
		 * cut may have been a tools/call */
		if (!memmem(s, n, "\"result\"", 8) && !memmem(s, n, "\"error\"", 7))
			c->calls_undecoded++;
		return false;
	}
	if (vn != 10 || memcmp(v, "tools/call", 10))
		return false;
	memset(m, 0, sizeof(*m));
	params = memmem(s, n, "\"params\"", 8);
	if (!params || !find_string_member(params, end, "\"name\"", &v, &vn) || !vn) {
		c->calls_undecoded++;
		return false;
	}
	m->kind = JSONRPC_TOOLS_CALL;
	m->args_unknown = true;
	put_name(m->tool, sizeof(m->tool), v, vn);
	return true;
}

static bool is_space(uint8_t c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

size_t jsonrpc_extract(const uint8_t *buf, size_t len, bool truncated, jsonrpc_fn fn, void *ctx,
		       struct jsonrpc_counts *counts)
{
	struct json_tokener *tok = json_tokener_new_ex(JSONRPC_DEPTH);
	size_t off = 0, found = 0;
	struct jsonrpc_msg m;

	if (!tok) {
		counts->malformed++;
		return 0;
	}
	while (off < len) {
		const char *s;
		size_t n;
		bool cut = false;

		while (off < len && is_space(buf[off]))
			off++;
		if (off >= len)
			break;
		s = (const char *)buf + off;
		if (len - off >= 15 && !memcmp(s, "Content-Length:", 15)) {
			/* LSP framing: "Content-Length: N\r\n...\r\n\r\n" then N bytes */
			const char *hdr_end = memmem(s, len - off, "\r\n\r\n", 4);
			char *endp;
			unsigned long want = strtoul(s + 15, &endp, 10);

			if (!hdr_end) {
				if (!truncated)
					counts->malformed++;
				else
					counts->truncated++;
				break;
			}
			if (endp == s + 15 || want > (1ul << 30)) {
				counts->malformed++;
				off = (size_t)(hdr_end + 4 - (const char *)buf);
				continue;
			}
			off = (size_t)(hdr_end + 4 - (const char *)buf);
			s = (const char *)buf + off;
			n = want <= len - off ? want : len - off;
			cut = want > len - off;
		} else {
			const uint8_t *nl = memchr(buf + off, '\n', len - off);

			n = nl ? (size_t)(nl - (buf + off)) : len - off;
			cut = !nl && truncated;
		}
		off += n;
		if (!n || s[0] != '{') {
			counts->malformed++; /* binary, text, a stray line: skipped */
			continue;
		}
		{
			struct json_object *o;
			enum json_tokener_error err;

			json_tokener_reset(tok);
			o = json_tokener_parse_ex(tok, s, (int)(n > INT32_MAX ? INT32_MAX : n));
			err = json_tokener_get_error(tok);
			if (!o && err == json_tokener_continue && cut) {
				if (cut_message(s, n, &m, counts)) {
					counts->messages++;
					found++;
					fn(ctx, &m);
				}
				continue;
			}
			if (!o) {
				counts->malformed++;
				continue;
			}
			if (classify(o, &m) == 0) {
				counts->messages++;
				found++;
				fn(ctx, &m);
			} else {
				counts->malformed++;
			}
			json_object_put(o);
		}
	}
	json_tokener_free(tok);
	return found;
}
