#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem: the fuzz build does not pass -D_GNU_SOURCE */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "http/path_template.h"
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

/* A bounded output string: what did not fit is dropped and remembered. */
struct sb {
	char *s;
	size_t size, len;
	bool cut;
};

static void sb_put(struct sb *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->size) {
		n = b->len + 1 < b->size ? b->size - b->len - 1 : 0;
		b->cut = true;
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_puts(struct sb *b, const char *p) { sb_put(b, p, strlen(p)); }

/* A kept path or host character: the name alphabet plus nothing that could
 * separate shapes (',', '=', ';') or break a table; others become '_'. */
static char shape_char(char c)
{
	bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		  c == '.' || c == '@' || c == '-' || c == '+' || c == '~';

	return ok ? c : '_';
}

static void sb_put_clean(struct sb *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !b->cut; i++) {
		char c = shape_char(p[i]);

		sb_put(b, &c, 1);
	}
}

static bool is_alnum_c(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

/* One path segment's template: a word kept, an id "{id}", a secret
 * "{secret}"; a file name's short extension is kept beside its stem's class
 * ("4711.txt" -> "{id}.txt"), since the stem is what names the object. */
static void put_segment(struct sb *b, struct path_tmpl_state *st, const char *seg, size_t n)
{
	const char *dot = n > 1 ? memrchr(seg + 1, '.', n - 1) : NULL;
	size_t stem = n, keep, ext;
	enum path_seg_class k;

	if (dot) {
		ext = (size_t)(seg + n - dot - 1);
		for (size_t i = 1; i <= ext && ext <= 6; i++)
			if (!is_alnum_c(dot[i]))
				ext = 0;
		if (ext >= 1 && ext <= 6)
			stem = (size_t)(dot - seg);
	}
	k = path_segment_class(st, seg, stem, &keep);
	/* a word by the classifier that still looks like a key is not kept,
	 * nor one holding "name=value" (a parameter, maybe a password) */
	if (k == PATH_SEG_KEEP && (token_looks_random(seg, keep) || memchr(seg, '=', keep)))
		k = PATH_SEG_SECRET;
	switch (k) {
	case PATH_SEG_KEEP:
		sb_put_clean(b, seg, keep);
		break;
	case PATH_SEG_ID:
	case PATH_SEG_RANDOM:
		sb_puts(b, "{id}");
		break;
	default:
		sb_puts(b, "{secret}");
		break;
	}
	if (stem < n && keep == stem)
		sb_put_clean(b, seg + stem, n - stem);
}

/* The template of an absolute path p[0..n): segments classified one by one. */
static void put_path(struct sb *b, const char *p, size_t n)
{
	struct path_tmpl_state st = { 0 };
	size_t i = 0;

	while (i < n && !b->cut) {
		size_t j;

		sb_put(b, "/", 1);
		while (i < n && p[i] == '/')
			i++;
		for (j = i; j < n && p[j] != '/'; j++)
			;
		if (j > i)
			put_segment(b, &st, p + i, j - i);
		i = j;
	}
}

/* The length of a URL's scheme ("https" in "https://"), 0 when not one. */
static size_t scheme_len(const char *v, size_t n)
{
	size_t i = 0;

	if (!n || !((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z')))
		return 0;
	while (i < n && i < 32 && (is_alnum_c(v[i]) || v[i] == '+' || v[i] == '-' || v[i] == '.'))
		i++;
	return i + 3 <= n && !memcmp(v + i, "://", 3) ? i : 0;
}

/* Whitespace or a control byte: a command line or prose, not a path or a
 * URL (a path template would keep its words: "mysql -pHunter2"). */
static bool has_blank(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] <= ' ' || v[i] == 0x7f)
			return true;
	return false;
}

/* strcspn bounded by n (a JSON string may hold a NUL). */
static size_t strcspn_n(const char *v, size_t n, const char *stop)
{
	size_t i = 0;

	while (i < n && v[i] && !strchr(stop, v[i]))
		i++;
	return i;
}

/* host[:port], lower-cased; a label that looks random (a tunnel's or a
 * bucket's generated name, a token used as a subdomain) is "{id}". */
static void put_host(struct sb *b, const char *h, size_t n)
{
	size_t i = 0;

	while (i < n && !b->cut) {
		size_t j = i;

		while (j < n && h[j] != '.' && h[j] != ':')
			j++;
		if (j > i && token_looks_random(h + i, j - i)) {
			sb_puts(b, "{id}");
		} else {
			for (size_t k = i; k < j && !b->cut; k++) {
				char c = shape_char((char)(h[k] >= 'A' && h[k] <= 'Z' ? h[k] + 32 : h[k]));

				sb_put(b, &c, 1);
			}
		}
		if (j < n)
			sb_put(b, h[j] == ':' ? ":" : ".", 1);
		i = j + 1;
	}
}

bool jsonrpc_string_shape(const struct fp_key *key, const char *v, size_t n, char *out, size_t size)
{
	struct sb b = { out, size, 0, false };
	size_t sl;

	if (!size)
		return false;
	out[0] = '\0';
	if (n && v[0] == '/' && !has_blank(v, n)) {
		/* a path's own '?' or '#' ends it, as in a URL: what follows may
		 * be a query */
		put_path(&b, v, strcspn_n(v, n, "?#"));
	} else if ((sl = scheme_len(v, n)) && !has_blank(v, n)) {
		/* scheme://[userinfo@]host[:port][/path][?query][#fragment]:
		 * the userinfo, query and fragment hold credentials: dropped */
		const char *auth = v + sl + 3, *end = v + n, *path, *at;
		size_t pn;

		for (path = auth; path < end && *path != '/' && *path != '?' && *path != '#'; path++)
			;
		for (at = path; at > auth && at[-1] != '@'; at--)
			;
		for (size_t i = 0; i < sl; i++) {
			char c = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]);

			sb_put(&b, &c, 1);
		}
		sb_puts(&b, "://");
		put_host(&b, at, (size_t)(path - at));
		pn = strcspn_n(path, (size_t)(end - path), "?#");
		if (pn && *path == '/')
			put_path(&b, path, pn);
	} else {
		char fp[FP_HEX_LEN + 1] = "?";

		if (key)
			fp_compute(key, v, n, fp);
		sb_puts(&b, "fp:");
		sb_puts(&b, fp);
	}
	return !b.cut;
}

/* The shape of any JSON value: strings as above, numbers fingerprinted by
 * their text, containers by their type only (never descended into). */
static bool value_shape(const struct fp_key *key, struct json_object *val, char *out, size_t size)
{
	switch (json_object_get_type(val)) {
	case json_type_string:
		return jsonrpc_string_shape(key, json_object_get_string(val), (size_t)json_object_get_string_len(val), out,
					    size);
	case json_type_int:
	case json_type_double: {
		/* the number as written: a number can be an id or a PIN too */
		const char *t = json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN);
		char fp[FP_HEX_LEN + 1] = "?";

		if (key && t)
			fp_compute(key, t, strlen(t), fp);
		snprintf(out, size, "fp:%s", fp);
		return true;
	}
	case json_type_boolean:
		snprintf(out, size, "bool");
		return true;
	case json_type_object:
		snprintf(out, size, "{…}");
		return true;
	case json_type_array:
		snprintf(out, size, "[…]");
		return true;
	default:
		snprintf(out, size, "null");
		return true;
	}
}

struct arg {
	char name[JSONRPC_NAME_LEN];
	char shape[JSONRPC_SHAPE_LEN];
};

static int cmp_arg(const void *a, const void *b)
{
	return strcmp(((const struct arg *)a)->name, ((const struct arg *)b)->name);
}

/* The argument names of a tools/call, sorted, comma-joined, and beside
 * them each value's shape; a value is read only to be shaped. */
static void arg_names(struct json_object *args, struct jsonrpc_msg *m, const struct fp_key *key)
{
	struct arg a[JSONRPC_ARGS_MAX];
	struct sb names = { m->args, sizeof(m->args), 0, false };
	struct sb shapes = { m->shapes, sizeof(m->shapes), 0, false };
	size_t n = 0;

	if (!json_object_is_type(args, json_type_object))
		return;
	json_object_object_foreach(args, k, val) {
		if (n == JSONRPC_ARGS_MAX) {
			m->args_dropped++;
			m->shapes_cut = true;
			continue;
		}
		put_name(a[n].name, sizeof(a[n].name), k, strlen(k));
		if (!value_shape(key, val, a[n].shape, sizeof(a[n].shape)))
			m->shapes_cut = true;
		n++;
	}
	qsort(a, n, sizeof(a[0]), cmp_arg);
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(a[i].name);

		if (names.len + k + 2 > names.size) {
			m->args_dropped += (uint32_t)(n - i);
			break;
		}
		if (names.len)
			sb_put(&names, ",", 1);
		sb_put(&names, a[i].name, k);
	}
	/* whole entries only: a cut shape list ends at an entry's end */
	for (size_t i = 0; i < n; i++) {
		size_t need = strlen(a[i].name) + 1 + strlen(a[i].shape) + (shapes.len ? 1 : 0);

		if (shapes.len + need + 1 > shapes.size) {
			m->shapes_cut = true;
			break;
		}
		if (shapes.len)
			sb_put(&shapes, ",", 1);
		sb_puts(&shapes, a[i].name);
		sb_put(&shapes, "=", 1);
		sb_puts(&shapes, a[i].shape);
	}
	explicit_bzero(a, sizeof(a));
}

static const char *str_member(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

/* One parsed message: 0 recognised (m filled), -1 not JSON-RPC. */
static int classify(struct json_object *o, struct jsonrpc_msg *m, const struct fp_key *key)
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
			arg_names(v, m, key);
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

size_t jsonrpc_extract(const uint8_t *buf, size_t len, bool truncated, const struct fp_key *key, jsonrpc_fn fn,
		       void *ctx, struct jsonrpc_counts *counts)
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
			if (classify(o, &m, key) == 0) {
				counts->messages++;
				counts->shapes_cut += m.shapes_cut;
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
