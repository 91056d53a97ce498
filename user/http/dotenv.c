#include <stdbool.h>
#include <string.h>
#include "http/dotenv.h"
#include "http/http_head.h"

static bool is_blank(char c) { return c == ' ' || c == '\t'; }
static bool key_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static bool key_char(char c) { return key_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'; }

/* Whether only blanks or a comment follow at s[i..n). */
static bool rest_is_comment(const char *s, size_t i, size_t n)
{
	while (i < n && is_blank(s[i]))
		i++;
	return i == n || s[i] == '#';
}

/* The value at s[i..n) unquoted into val (at least n - i bytes): its length,
 * or -1 when the line is malformed. */
static long parse_value(const char *s, size_t i, size_t n, char *val)
{
	size_t v = 0;
	char q;

	if (i < n && (s[i] == '\'' || s[i] == '"')) {
		q = s[i++];
		for (; i < n && s[i] != q; i++) {
			char c = s[i];

			if (q == '"' && c == '\\' && i + 1 < n) {
				c = s[++i];
				c = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
			}
			val[v++] = c;
		}
		/* a value over several lines is not read: counted as malformed */
		if (i == n || !rest_is_comment(s, i + 1, n))
			return -1;
		return (long)v;
	}
	for (; i < n; i++) {
		if (s[i] == '#' && v && is_blank(val[v - 1]))
			break; /* "VALUE # comment"; a '#' inside a word is the value's */
		val[v++] = s[i];
	}
	while (v && is_blank(val[v - 1]))
		v--;
	return (long)v;
}

static void add_fp(const struct fp_key *k, struct dotenv_result *out, const char *key, size_t klen, const char *val,
		   size_t vlen)
{
	struct dotenv_fp fp;

	fp_compute(k, val, vlen, fp.fp);
	memcpy(fp.key, key, klen);
	fp.key[klen] = '\0';
	for (size_t i = 0; i < out->n; i++)
		if (!strcmp(out->fps[i].key, fp.key) && !strcmp(out->fps[i].fp, fp.fp))
			return;
	if (out->n == DOTENV_MAX_KEYS) {
		out->dropped++;
		return;
	}
	out->fps[out->n++] = fp;
}

/* One line (no terminator): 0 when used or skipped as blank/comment, -1 malformed. */
static int parse_line(const struct fp_key *k, struct dotenv_result *out, const char *s, size_t n, char *val)
{
	size_t i = 0, ks, kl;
	long vlen;
	int rc = 0;

	if (n > DOTENV_MAX_LINE)
		return -1;
	for (size_t j = 0; j < n; j++) /* binary: a file of another shape under a .env name */
		if (((unsigned char)s[j] < 0x20 && s[j] != '\t') || s[j] == 0x7f)
			return -1;
	while (i < n && is_blank(s[i]))
		i++;
	if (i == n || s[i] == '#')
		return 0;
	if (s[i] == '[' && s[n - 1] == ']')
		return 0; /* an INI section ([default] of ~/.aws/credentials) */
	if (n - i > 7 && !memcmp(s + i, "export", 6) && is_blank(s[i + 6])) {
		i += 7;
		while (i < n && is_blank(s[i]))
			i++;
	}
	if (i == n || !key_start(s[i]))
		return -1;
	ks = i;
	while (i < n && key_char(s[i]))
		i++;
	kl = i - ks;
	while (i < n && is_blank(s[i]))
		i++;
	if (kl > DOTENV_KEY_MAX || i == n || s[i] != '=')
		return -1;
	i++;
	while (i < n && is_blank(s[i]))
		i++;
	vlen = parse_value(s, i, n, val);
	if (vlen < 0) {
		rc = -1;
	} else if (vlen >= 8 && !memchr(val, ' ', (size_t)vlen) && !memchr(val, '\t', (size_t)vlen) &&
		   !memchr(val, '\n', (size_t)vlen) && !memchr(val, '\r', (size_t)vlen) &&
		   http_value_looks_secret(val, (size_t)vlen)) {
		add_fp(k, out, s + ks, kl, val, (size_t)vlen);
	}
	explicit_bzero(val, n - i); /* what parse_value() may have written */
	return rc;
}

void dotenv_fingerprints(const struct fp_key *k, const char *buf, size_t len, struct dotenv_result *out)
{
	char val[DOTENV_MAX_LINE + 1];
	size_t lines = 0, off = 0;

	memset(out, 0, sizeof(*out));
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - buf) : len, n = end - off;

		if (n && buf[off + n - 1] == '\r')
			n--;
		if (lines >= DOTENV_MAX_LINES)
			out->unread++;
		else if (parse_line(k, out, buf + off, n, val))
			out->malformed++;
		lines++;
		off = end + 1;
	}
	explicit_bzero(val, sizeof(val));
}
