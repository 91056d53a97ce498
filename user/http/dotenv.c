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
 * -1 when the line is malformed, or DOTENV_UNCLOSED when a quote opened at
 * s[*quote] is still open at n (a value over several lines: the caller
 * extends the span to its closing quote and parses again). */
#define DOTENV_UNCLOSED (-2)
static long parse_value(const char *s, size_t i, size_t n, char *val, size_t *quote)
{
	size_t v = 0;
	char q;

	if (i < n && (s[i] == '\'' || s[i] == '"')) {
		*quote = i;
		q = s[i++];
		for (; i < n && s[i] != q; i++) {
			char c = s[i];

			if (q == '"' && c == '\\' && i + 1 < n) {
				c = s[++i];
				c = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
			}
			val[v++] = c;
		}
		if (i == n)
			return DOTENV_UNCLOSED;
		if (!rest_is_comment(s, i + 1, n))
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

/* Where the quote opened at s[at] closes in s[at + 1..n) (a double
 * quote's \" does not close it), or n. */
static size_t closing_quote(const char *s, size_t at, size_t n)
{
	char q = s[at];

	for (size_t i = at + 1; i < n; i++) {
		if (q == '"' && s[i] == '\\') {
			i++;
			continue;
		}
		if (s[i] == q)
			return i;
	}
	return n;
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

/* One line (no terminator), or with multi a span of lines holding a quoted
 * value over several of them: 0 when used or skipped as blank/comment, -1
 * malformed, DOTENV_UNCLOSED (*quote set) when a quoted value goes on past
 * the line. */
static int parse_line(const struct fp_key *k, struct dotenv_result *out, const char *s, size_t n, char *val, bool multi,
		      size_t *quote)
{
	size_t i = 0, ks, kl;
	long vlen;
	int rc = 0;

	if (n > DOTENV_MAX_LINE)
		return -1;
	for (size_t j = 0; j < n; j++) /* binary: a file of another shape under a .env name */
		if (((unsigned char)s[j] < 0x20 && s[j] != '\t' && !(multi && (s[j] == '\n' || s[j] == '\r'))) ||
		    s[j] == 0x7f)
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
	vlen = parse_value(s, i, n, val, quote);
	if (vlen == DOTENV_UNCLOSED) {
		rc = multi ? -1 : DOTENV_UNCLOSED;
	} else if (vlen < 0) {
		rc = -1;
	} else if (vlen >= 8 && !memchr(val, ' ', (size_t)vlen) && !memchr(val, '\t', (size_t)vlen) &&
		   !memchr(val, '\n', (size_t)vlen) && !memchr(val, '\r', (size_t)vlen) &&
		   http_value_looks_secret(val, (size_t)vlen)) {
		/* one word: a value over several lines (a PEM block) is not a
		 * credential the wire's detector would give a fingerprint */
		add_fp(k, out, s + ks, kl, val, (size_t)vlen);
	}
	explicit_bzero(val, n - i); /* what parse_value() may have written */
	return rc;
}

/* The end of the line holding buf[at] (its '\n', or len). */
static size_t line_end(const char *buf, size_t at, size_t len)
{
	const char *nl = memchr(buf + at, '\n', len - at);

	return nl ? (size_t)(nl - buf) : len;
}

void dotenv_fingerprints(const struct fp_key *k, const char *buf, size_t len, struct dotenv_result *out)
{
	char val[DOTENV_MAX_LINE + 1];
	size_t lines = 0, off = 0;

	memset(out, 0, sizeof(*out));
	while (off < len) {
		size_t end = line_end(buf, off, len), n = end - off, quote = 0;
		int rc;

		if (n && buf[off + n - 1] == '\r')
			n--;
		if (lines >= DOTENV_MAX_LINES) {
			out->unread++;
			lines++;
			off = end + 1;
			continue;
		}
		rc = parse_line(k, out, buf + off, n, val, false, &quote);
		if (rc == DOTENV_UNCLOSED) {
			/* KEY="line1<newline>line2" (python-dotenv, dotenv for node):
			 * the value runs to its closing quote, the record to the end
			 * of that line; bounded like a line. Never closed within
			 * the bound: this line is malformed and the next ones are
			 * read as lines. */
			size_t window = len - off < DOTENV_MAX_LINE ? len - off : DOTENV_MAX_LINE;
			size_t close = closing_quote(buf + off, quote, window);

			if (close < window) {
				size_t rec_end = line_end(buf, off + close, len), rn = rec_end - off;

				if (rn && buf[off + rn - 1] == '\r')
					rn--;
				if (parse_line(k, out, buf + off, rn, val, true, &quote))
					out->malformed++;
				for (size_t j = off; j < rec_end; j++) /* every line it spans counts */
					lines += buf[j] == '\n';
				lines++;
				off = rec_end + 1;
				continue;
			}
			rc = -1;
		}
		if (rc)
			out->malformed++;
		lines++;
		off = end + 1;
	}
	explicit_bzero(val, sizeof(val));
}
