#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, memrchr: the fuzz build does not pass -D_GNU_SOURCE */
#endif
#include <errno.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include "common/hex.h"
#include "http/http_head.h"
#include "http/path_template.h"

#define METHOD_MAX 7          /* OPTIONS, CONNECT */
#define SCHEME_NAME_MAX 24    /* longer Authorization scheme names are recorded as "other" */
#define JWT_HEADER_MAX 2048   /* base64url bytes of a JWT's header segment */
#define JSON_MAX_DEPTH 32
#define DECODE_MAX (HTTP_MAX_LINE + 1) /* any decoded value fits: decoding never grows */

static const char *const known_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
};

struct ctx {
	const struct fp_key *key;
	struct http_request_head *out;
	bool host_header_seen;
};

/* ---- character classes ---------------------------------------------------- */

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static bool is_alpha(unsigned char c) { return is_lower(c) || is_upper(c); }
static bool is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }
static bool is_b64url(unsigned char c) { return is_alnum(c) || c == '-' || c == '_'; }
static unsigned char lower(unsigned char c) { return is_upper(c) ? (unsigned char)(c + 32) : c; }

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c)
{
	return is_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool eq_nocase(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

static bool eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* Copies s[0..n) into dst (size > 0), lower-cased, truncated, NUL-terminated. */
static void copy_lower(char *dst, size_t size, const char *s, size_t n)
{
	size_t i;

	if (n > size - 1)
		n = size - 1;
	for (i = 0; i < n; i++)
		dst[i] = (char)lower((unsigned char)s[i]);
	dst[n] = '\0';
}

/* ---- bounded string builder ----------------------------------------------- */

struct sbuf {
	char *s;
	size_t size, len;
	bool truncated;
};

static void sb_put(struct sbuf *b, const char *p, size_t n)
{
	size_t room = b->size - 1 - b->len;

	if (n > room) {
		n = room;
		b->truncated = true;
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* ---- decoders (their output is secret: callers wipe it) ------------------- */

static int b64_value(unsigned char c, bool url)
{
	if (is_upper(c))
		return c - 'A';
	if (is_lower(c))
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/* Standard (url = false) or base64url alphabet; '=' padding optional, only
 * at the end. False when invalid or when it would not fit out_size. */
static bool b64_decode(const char *in, size_t n, bool url, unsigned char *out, size_t out_size, size_t *out_len)
{
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0;

	if (n >= 1 && in[n - 1] == '=')
		n--;
	if (n >= 1 && in[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return false;
	if (n / 4 * 3 + 2 > out_size)
		return false;
	for (i = 0; i < n; i++) {
		int v = b64_value((unsigned char)in[i], url);

		if (v < 0)
			return false;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	*out_len = o;
	return true;
}

/* Decodes %XX; an invalid escape is copied as is. out has room for n bytes. */
static size_t percent_decode(const char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int hi, lo;

		if (in[i] == '%' && i + 2 < n && (hi = hex_digit_value((unsigned char)in[i + 1])) >= 0 &&
		    (lo = hex_digit_value((unsigned char)in[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	return o;
}

/* ---- known token shapes --------------------------------------------------- */

enum charset { CS_B64URL, CS_ALNUM, CS_ALNUM_UNDERSCORE, CS_ALNUM_DASH, CS_UPPER_DIGIT };

struct token_shape {
	const char *prefix;
	const char *name;
	enum charset cs;
	unsigned short min_body, max_body; /* max 0: unbounded */
	bool need_digit;                   /* a digit in the body: "sk-" is too common a prefix */
};

static const struct token_shape shapes[] = {
	{ "sk-", "sk", CS_B64URL, 20, 0, true },
	{ "ghp_", "ghp", CS_ALNUM, 36, 0, false },
	{ "gho_", "gho", CS_ALNUM, 36, 0, false },
	{ "ghu_", "ghu", CS_ALNUM, 36, 0, false },
	{ "ghs_", "ghs", CS_ALNUM, 36, 0, false },
	{ "ghr_", "ghr", CS_ALNUM, 36, 0, false },
	{ "github_pat_", "github_pat", CS_ALNUM_UNDERSCORE, 22, 0, false },
	{ "xoxa-", "xox", CS_ALNUM_DASH, 10, 0, false },
	{ "xoxb-", "xox", CS_ALNUM_DASH, 10, 0, false },
	{ "xoxp-", "xox", CS_ALNUM_DASH, 10, 0, false },
	{ "xoxr-", "xox", CS_ALNUM_DASH, 10, 0, false },
	{ "xoxs-", "xox", CS_ALNUM_DASH, 10, 0, false },
	{ "AKIA", "akia", CS_UPPER_DIGIT, 16, 16, false },
	{ "ASIA", "asia", CS_UPPER_DIGIT, 16, 16, false },
	{ "glpat-", "glpat", CS_B64URL, 20, 0, false },
};

static bool in_charset(unsigned char c, enum charset cs)
{
	switch (cs) {
	case CS_B64URL: return is_b64url(c);
	case CS_ALNUM: return is_alnum(c);
	case CS_ALNUM_UNDERSCORE: return is_alnum(c) || c == '_';
	case CS_ALNUM_DASH: return is_alnum(c) || c == '-';
	case CS_UPPER_DIGIT: return is_upper(c) || is_digit(c);
	}
	return false;
}

/* The first token shape in s[*pos..n): on success *pos is its start, *tlen
 * its length and the shape is returned. A token must not continue a word
 * (the byte before it is not [A-Za-z0-9_-]). */
static const struct token_shape *find_token(const char *s, size_t n, size_t *pos, size_t *tlen)
{
	size_t i, k;

	for (i = *pos; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c != 's' && c != 'g' && c != 'x' && c != 'A')
			continue;
		if (i > 0 && is_b64url((unsigned char)s[i - 1]))
			continue;
		for (k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
			const struct token_shape *t = &shapes[k];
			size_t pl = strlen(t->prefix), j = i + pl;
			bool digit = false;

			if (n - i < pl || memcmp(s + i, t->prefix, pl) != 0)
				continue;
			while (j < n && in_charset((unsigned char)s[j], t->cs)) {
				digit |= is_digit((unsigned char)s[j]);
				j++;
			}
			if (j - i - pl < t->min_body || (t->max_body && j - i - pl > t->max_body) ||
			    (t->need_digit && !digit))
				continue;
			*pos = i;
			*tlen = j - i;
			return t;
		}
	}
	return NULL;
}

/* Looks like a secret rather than a name: a token shape, or long, or random-looking. */
static bool looks_secret(const char *s, size_t n)
{
	return http_value_looks_secret(s, n);
}

bool http_value_looks_secret(const char *s, size_t n)
{
	bool digit = false, up = false, low = false;
	size_t i, pos = 0, tlen;

	if (find_token(s, n, &pos, &tlen))
		return true;
	for (i = 0; i < n; i++) {
		digit |= is_digit((unsigned char)s[i]);
		up |= is_upper((unsigned char)s[i]);
		low |= is_lower((unsigned char)s[i]);
	}
	return n >= 24 || (n >= 16 && digit && (up || low)) || (n >= 10 && digit && up && low);
}

/* ---- JWT claims: a small strict JSON reader ------------------------------- */

struct json {
	const unsigned char *p, *end;
};

static void json_ws(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool json_lit(struct json *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return false;
	j->p += n;
	return true;
}

static bool json_hex4(struct json *j, unsigned *cp)
{
	int i;

	if (j->end - j->p < 4)
		return false;
	*cp = 0;
	for (i = 0; i < 4; i++) {
		int v = hex_digit_value(j->p[i]);

		if (v < 0)
			return false;
		*cp = *cp << 4 | (unsigned)v;
	}
	j->p += 4;
	return true;
}

/* A string at j->p. Printable ASCII goes to out (may be NULL: skip), every
 * other character becomes one '?'; truncated to fit. */
static bool json_string(struct json *j, struct sbuf *out)
{
	if (j->p >= j->end || *j->p != '"')
		return false;
	j->p++;
	while (j->p < j->end) {
		unsigned char c = *j->p++;
		unsigned cp;

		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (j->p >= j->end)
				return false;
			c = *j->p++;
			switch (c) {
			case '"': case '\\': case '/':
				break;
			case 'b': case 'f': case 'n': case 'r': case 't':
				c = '?';
				break;
			case 'u':
				if (!json_hex4(j, &cp))
					return false;
				/* a surrogate pair is one character: one '?' */
				if (cp >= 0xd800 && cp <= 0xdbff && j->end - j->p >= 6 && j->p[0] == '\\' &&
				    j->p[1] == 'u') {
					struct json peek = { j->p + 2, j->end };
					unsigned lo;

					if (json_hex4(&peek, &lo) && lo >= 0xdc00 && lo <= 0xdfff)
						j->p = peek.p;
				}
				c = cp >= 0x20 && cp < 0x7f ? (unsigned char)cp : '?';
				break;
			default:
				return false;
			}
		} else if (c >= 0x80) {
			/* one UTF-8 character, one '?' */
			while (j->p < j->end && (*j->p & 0xc0) == 0x80)
				j->p++;
			c = '?';
		} else if (c == 0x7f) {
			c = '?';
		}
		if (out)
			sb_put(out, (const char *)&c, 1);
	}
	return false;
}

static bool json_number(struct json *j)
{
	const unsigned char *start;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || !is_digit(*j->p))
		return false;
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && is_digit(*j->p))
			j->p++;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		start = j->p;
		while (j->p < j->end && is_digit(*j->p))
			j->p++;
		if (j->p == start)
			return false;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		start = j->p;
		while (j->p < j->end && is_digit(*j->p))
			j->p++;
		if (j->p == start)
			return false;
	}
	return true;
}

static bool json_skip_value(struct json *j, int depth);

/* An array or object after its opening bracket: members skipped. */
static bool json_skip_container(struct json *j, int depth, bool object)
{
	unsigned char close = object ? '}' : ']';

	json_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return true;
	}
	for (;;) {
		if (object) {
			json_ws(j);
			if (!json_string(j, NULL))
				return false;
			json_ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return false;
		}
		if (!json_skip_value(j, depth + 1))
			return false;
		json_ws(j);
		if (j->p >= j->end)
			return false;
		if (*j->p == close) {
			j->p++;
			return true;
		}
		if (*j->p++ != ',')
			return false;
	}
}

static bool json_skip_value(struct json *j, int depth)
{
	json_ws(j);
	if (j->p >= j->end || depth > JSON_MAX_DEPTH)
		return false;
	switch (*j->p) {
	case '"':
		return json_string(j, NULL);
	case '{':
		j->p++;
		return json_skip_container(j, depth, true);
	case '[':
		j->p++;
		return json_skip_container(j, depth, false);
	case 't':
		return json_lit(j, "true");
	case 'f':
		return json_lit(j, "false");
	case 'n':
		return json_lit(j, "null");
	default:
		return json_number(j);
	}
}

/* aud: a string or an array (strings joined with ","; other members skipped). */
static bool json_aud(struct json *j, struct sbuf *aud)
{
	json_ws(j);
	if (j->p < j->end && *j->p == '"')
		return json_string(j, aud);
	if (j->p >= j->end || *j->p != '[')
		return json_skip_value(j, 1);
	j->p++;
	json_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return true;
	}
	for (;;) {
		json_ws(j);
		if (j->p < j->end && *j->p == '"') {
			if (aud->len)
				sb_puts(aud, ",");
			if (!json_string(j, aud))
				return false;
		} else if (!json_skip_value(j, 2)) {
			return false;
		}
		json_ws(j);
		if (j->p >= j->end)
			return false;
		if (*j->p == ']') {
			j->p++;
			return true;
		}
		if (*j->p++ != ',')
			return false;
	}
}

/*
 * A complete JSON object (nothing but whitespace after it). Records whether
 * it has a string member "alg", and the "iss" and "aud" members into iss/aud
 * (either may be NULL). Duplicate members: the last one wins.
 */
static bool json_claims(const unsigned char *p, size_t n, bool *has_alg, struct sbuf *iss, struct sbuf *aud)
{
	struct json j = { p, p + n };

	json_ws(&j);
	if (j.p >= j.end || *j.p++ != '{')
		return false;
	json_ws(&j);
	if (j.p < j.end && *j.p == '}') {
		j.p++;
		goto end;
	}
	for (;;) {
		char name_buf[8];
		struct sbuf name = { name_buf, sizeof(name_buf), 0, false };
		bool ok;

		json_ws(&j);
		if (!json_string(&j, &name))
			return false;
		json_ws(&j);
		if (j.p >= j.end || *j.p++ != ':')
			return false;
		json_ws(&j);
		if (!name.truncated && strcmp(name_buf, "alg") == 0 && j.p < j.end && *j.p == '"') {
			ok = json_string(&j, NULL);
			if (has_alg)
				*has_alg = true;
		} else if (!name.truncated && strcmp(name_buf, "iss") == 0 && iss && j.p < j.end && *j.p == '"') {
			iss->len = 0;
			iss->s[0] = '\0';
			ok = json_string(&j, iss);
		} else if (!name.truncated && strcmp(name_buf, "aud") == 0 && aud) {
			aud->len = 0;
			aud->s[0] = '\0';
			ok = json_aud(&j, aud);
		} else {
			ok = json_skip_value(&j, 1);
		}
		if (!ok)
			return false;
		json_ws(&j);
		if (j.p >= j.end)
			return false;
		if (*j.p == '}') {
			j.p++;
			break;
		}
		if (*j.p++ != ',')
			return false;
	}
end:
	json_ws(&j);
	return j.p == j.end;
}

/*
 * A JWT (JWS compact form): three base64url segments, the first decoding to
 * a JSON object with "alg". Fills iss/aud from the payload when it is a
 * JSON object (else leaves them ""). The decoded segments are wiped.
 */
static bool jwt_claims(const char *tok, size_t n, char iss[256], char aud[256])
{
	unsigned char dec[DECODE_MAX];
	size_t dots[2], nd = 0, i, dlen = 0;
	bool ok = false, has_alg = false;
	struct sbuf s_iss = { iss, 256, 0, false }, s_aud = { aud, 256, 0, false };

	for (i = 0; i < n; i++) {
		if (tok[i] == '.') {
			if (nd == 2)
				return false;
			dots[nd++] = i;
		} else if (!is_b64url((unsigned char)tok[i])) {
			return false;
		}
	}
	if (nd != 2 || dots[0] == 0 || dots[1] == dots[0] + 1 || dots[0] > JWT_HEADER_MAX)
		return false;
	if (b64_decode(tok, dots[0], true, dec, sizeof(dec), &dlen) &&
	    json_claims(dec, dlen, &has_alg, NULL, NULL) && has_alg) {
		ok = true;
		explicit_bzero(dec, dlen);
		if (!b64_decode(tok + dots[0] + 1, dots[1] - dots[0] - 1, true, dec, sizeof(dec), &dlen) ||
		    !json_claims(dec, dlen, NULL, &s_iss, &s_aud)) {
			iss[0] = '\0';
			aud[0] = '\0';
		}
	}
	explicit_bzero(dec, sizeof(dec));
	return ok;
}

/* ---- credentials ---------------------------------------------------------- */

/* Fingerprints secret and records (kind, where) unless the same triple is
 * already there. Returns the new entry (for claims and user) or NULL. */
static struct http_credential *cred_add(struct ctx *c, const char *kind, const char *where,
					const void *secret, size_t len)
{
	struct http_request_head *out = c->out;
	char fp[FP_HEX_LEN + 1];
	struct http_credential *cr;
	int i;

	fp_compute(c->key, secret, len, fp);
	for (i = 0; i < out->n_creds; i++) {
		cr = &out->creds[i];
		if (strcmp(cr->kind, kind) == 0 && strcmp(cr->where, where) == 0 && strcmp(cr->fingerprint, fp) == 0)
			return NULL;
	}
	if (out->n_creds >= HTTP_MAX_CREDS) {
		out->creds_dropped++;
		return NULL;
	}
	cr = &out->creds[out->n_creds++];
	memset(cr, 0, sizeof(*cr));
	copy_lower(cr->kind, sizeof(cr->kind), kind, strlen(kind));
	copy_lower(cr->where, sizeof(cr->where), where, strlen(where));
	memcpy(cr->fingerprint, fp, sizeof(fp));
	return cr;
}

static bool header_has_token(const char *s, size_t n)
{
	size_t pos = 0, tlen;

	return find_token(s, n, &pos, &tlen) != NULL;
}

/* Every token shape in s[0..n) as "token:<shape>". */
static void scan_tokens(struct ctx *c, const char *where, const char *s, size_t n)
{
	const struct token_shape *t;
	size_t pos = 0, tlen;

	while ((t = find_token(s, n, &pos, &tlen))) {
		char kind[32];

		strcpy(kind, "token:");
		strcat(kind, t->name);
		cred_add(c, kind, where, s + pos, tlen);
		pos += tlen;
	}
}

/* Bearer token (or the value of a query parameter): "jwt" with its claims
 * when it is one, else kind. */
static void add_token_maybe_jwt(struct ctx *c, const char *kind, bool kind_is_bearer, const char *where,
				const char *tok, size_t n)
{
	char iss[256] = "", aud[256] = "";
	bool jwt = jwt_claims(tok, n, iss, aud);
	struct http_credential *cr;

	cr = cred_add(c, jwt && kind_is_bearer ? "jwt" : kind, where, tok, n);
	if (cr && jwt) {
		memcpy(cr->jwt_iss, iss, sizeof(iss));
		memcpy(cr->jwt_aud, aud, sizeof(aud));
	}
}

/* "user:password" (decoded): fingerprinted whole; the user name kept when
 * it does not look like a secret itself and the password is not empty. */
static void add_userpass(struct ctx *c, const char *kind, const char *where, const char *up, size_t n)
{
	struct http_credential *cr = cred_add(c, kind, where, up, n);
	const char *colon = memchr(up, ':', n);
	size_t ulen, i;
	bool plain;

	if (!cr || !colon || colon + 1 == up + n)
		return;
	ulen = (size_t)(colon - up);
	plain = ulen > 0 && ulen < sizeof(cr->user);
	for (i = 0; plain && i < ulen; i++)
		plain = is_alnum((unsigned char)up[i]) || strchr("._@+-", up[i]);
	if (plain && !looks_secret(up, ulen)) {
		memcpy(cr->user, up, ulen);
		cr->user[ulen] = '\0';
	}
}

/* Basic credentials: the decoded "user:password". */
static void add_basic(struct ctx *c, const char *kind, const char *where, const char *v, size_t n)
{
	unsigned char dec[DECODE_MAX];
	size_t dlen = 0;

	if (b64_decode(v, n, false, dec, sizeof(dec), &dlen))
		add_userpass(c, kind, where, (const char *)dec, dlen);
	else
		cred_add(c, kind, where, v, n); /* not base64: still a credential */
	explicit_bzero(dec, sizeof(dec)); /* a failed decode leaves a partial copy too */
}

/* AWS SigV4: the access key id from "Credential=<akid>/<date>/..." */
static void add_sigv4(struct ctx *c, const char *kind, const char *where, const char *v, size_t n)
{
	size_t i;

	for (i = 0; i + 11 <= n; i++) {
		size_t s, e;

		if (memcmp(v + i, "Credential=", 11) != 0 || (i > 0 && v[i - 1] != ' ' && v[i - 1] != ','))
			continue;
		s = e = i + 11;
		while (e < n && is_alnum((unsigned char)v[e]))
			e++;
		if (e > s && (e == n || v[e] == '/')) {
			cred_add(c, kind, where, v + s, e - s);
			return;
		}
	}
	cred_add(c, kind, where, v, n); /* no access key id: the whole value */
}

/* Authorization and Proxy-Authorization: "<scheme> <credentials>". */
static void add_authorization(struct ctx *c, const char *where, bool proxy, const char *v, size_t n)
{
	size_t sl = 0, rest;
	char kind[32];

	while (sl < n && is_tchar((unsigned char)v[sl]))
		sl++;
	rest = sl;
	while (rest < n && (v[rest] == ' ' || v[rest] == '\t'))
		rest++;
	if (n == 0)
		return;
	if (sl == n && (eq_nocase(v, n, "Bearer") || eq_nocase(v, n, "Basic")))
		return; /* a scheme without credentials (an unset variable in a client) */
	if (sl == 0 || rest == sl || rest == n) {
		/* no "<scheme> " in front: the value itself is the credential */
		size_t pos = 0, tlen;
		const struct token_shape *t = find_token(v, n, &pos, &tlen);

		if (proxy)
			strcpy(kind, "proxy-authorization");
		else if (t && pos == 0 && tlen == n)
			strcat(strcpy(kind, "token:"), t->name);
		else
			strcpy(kind, "scheme:none");
		add_token_maybe_jwt(c, kind, !proxy, where, v, n);
		return;
	}
	if (eq_nocase(v, sl, "Bearer")) {
		add_token_maybe_jwt(c, proxy ? "proxy-authorization" : "bearer", !proxy, where, v + rest, n - rest);
	} else if (eq_nocase(v, sl, "Basic")) {
		add_basic(c, proxy ? "proxy-authorization" : "basic", where, v + rest, n - rest);
	} else if (eq_nocase(v, sl, "AWS4-HMAC-SHA256")) {
		add_sigv4(c, proxy ? "proxy-authorization" : "aws-sigv4", where, v + rest, n - rest);
	} else {
		if (proxy)
			strcpy(kind, "proxy-authorization");
		else if (sl > SCHEME_NAME_MAX || looks_secret(v, sl))
			strcpy(kind, "scheme:other");
		else {
			strcpy(kind, "scheme:");
			copy_lower(kind + 7, sizeof(kind) - 7, v, sl);
		}
		cred_add(c, kind, where, v + rest, n - rest);
	}
}

/* Credential-shaped query parameters, compared without case. */
static const char *const query_params[] = {
	"access_token", "api-key", "api_key", "apikey", "auth", "auth_token", "client_secret",
	"id_token", "key", "password", "private_token", "refresh_token", "secret", "sig",
	"signature", "token", "x-amz-credential", "x-amz-signature", "x-goog-signature",
};

static void add_query(struct ctx *c, const char *q, size_t n)
{
	char dec[DECODE_MAX];
	bool amz_credential = false;
	size_t i, s;
	int pass;

	/* pass 0 looks for X-Amz-Credential: a presigned URL is then recorded by
	 * its access key id and its per-request signature is not an identity */
	for (pass = 0; pass < 2; pass++) {
		for (s = 0; s <= n; s = i + 1) {
			const char *name = q + s, *val;
			size_t nl, vl, dl, k;
			char kind[32];

			for (i = s; i < n && q[i] != '&'; i++)
				;
			val = memchr(name, '=', i - s);
			if (!val)
				continue;
			nl = (size_t)(val - name);
			val++;
			vl = (size_t)(q + i - val);
			if (vl == 0)
				continue;
			if (pass == 0) {
				amz_credential |= eq_nocase(name, nl, "x-amz-credential");
				continue;
			}
			dl = percent_decode(val, vl, dec);
			for (k = 0; k < sizeof(query_params) / sizeof(query_params[0]); k++)
				if (eq_nocase(name, nl, query_params[k]))
					break;
			if (k == sizeof(query_params) / sizeof(query_params[0])) {
				scan_tokens(c, "query", dec, dl);
			} else if (eq_nocase(name, nl, "x-amz-signature") && amz_credential) {
				/* skipped: see above */
			} else {
				strcat(strcpy(kind, "query:"), query_params[k]);
				if (eq_nocase(name, nl, "x-amz-credential")) {
					const char *slash = memchr(dec, '/', dl);

					cred_add(c, kind, "query", dec, slash ? (size_t)(slash - dec) : dl);
				} else {
					add_token_maybe_jwt(c, kind, false, "query", dec, dl);
				}
			}
			explicit_bzero(dec, dl);
		}
	}
}

/* ---- path ----------------------------------------------------------------- */

/* Templates (and redacts) the path, records credentials found in it: token
 * shapes, and segments http/path_template.h classifies as secrets when they
 * look like credentials themselves. */
static void add_path(struct ctx *c, const char *p, size_t n)
{
	struct http_request_head *out = c->out;
	struct sbuf path = { out->path, sizeof(out->path), 0, false };
	struct sbuf tmpl = { out->path_template, sizeof(out->path_template), 0, false };
	struct path_tmpl_state st = { 0 };
	size_t s = 0;

	for (;;) {
		size_t e = s, pos = 0, tlen, keep;
		const char *seg = p + s;
		size_t sl;

		while (e < n && p[e] != '/')
			e++;
		sl = e - s;
		if (sl && find_token(seg, sl, &pos, &tlen)) {
			scan_tokens(c, "path", seg, sl);
			sb_puts(&path, "{token}");
			sb_puts(&tmpl, "{token}");
			memset(&st, 0, sizeof(st));
		} else {
			switch (path_segment_class(&st, seg, sl, &keep)) {
			case PATH_SEG_KEEP:
				sb_put(&path, seg, keep);
				sb_put(&tmpl, seg, keep);
				break;
			case PATH_SEG_ID:
				sb_put(&path, seg, keep);
				sb_puts(&tmpl, "{id}");
				break;
			case PATH_SEG_RANDOM:
				sb_puts(&path, "{id}");
				sb_puts(&tmpl, "{id}");
				break;
			case PATH_SEG_SECRET:
				if (path_segment_is_credential(seg, keep))
					cred_add(c, "path:secret", "path", seg, keep);
				sb_puts(&path, "{secret}");
				sb_puts(&tmpl, "{secret}");
				break;
			}
		}
		if (e >= n)
			break;
		sb_puts(&path, "/");
		sb_puts(&tmpl, "/");
		s = e + 1;
	}
	out->path_truncated = path.truncated || tmpl.truncated;
}

/* The segments of an origin-form path (seg[0] follows the leading '/'), a
 * trailing '/' ignored. Returns how many were stored; *more when there were
 * more than max. */
static size_t split_path(const char *p, size_t n, const char *seg[], size_t len[], size_t max, bool *more)
{
	size_t count = 0, s;

	*more = false;
	if (n == 0 || p[0] != '/')
		return 0;
	if (n > 1 && p[n - 1] == '/')
		n--;
	for (s = 1; s <= n; s++) {
		size_t e = s;

		while (e < n && p[e] != '/')
			e++;
		if (count == max) {
			*more = true;
			break;
		}
		seg[count] = p + s;
		len[count] = e - s;
		count++;
		s = e;
	}
	return count;
}

/* Each pattern segment is a literal, "*" (any one segment) or "**" as the
 * last one (zero or more further segments). */
static bool match_segments(const char *const seg[], const size_t len[], size_t count, bool more,
			   const char *pattern)
{
	const char *p = pattern;
	size_t i = 0;

	while (*p) {
		const char *slash = strchr(p, '/');
		size_t pl = slash ? (size_t)(slash - p) : strlen(p);

		if (pl == 2 && memcmp(p, "**", 2) == 0)
			return true;
		if (i >= count)
			return false;
		if (!(pl == 1 && *p == '*') && !(pl == len[i] && memcmp(p, seg[i], pl) == 0))
			return false;
		i++;
		p += pl;
		if (*p == '/')
			p++;
	}
	return i == count && !more;
}

static void classify_special(struct ctx *c, const char *p, size_t n)
{
	static const char *const cloud[] = {
		"latest/meta-data/iam/security-credentials/**",
		"latest/meta-data/identity-credentials/ec2/security-credentials/**",
		"computeMetadata/v1/instance/service-accounts/*/token",
		"computeMetadata/v1/instance/service-accounts/*/identity",
		"metadata/identity/oauth2/token",
	};
	static const char *const kube[] = {
		"api/v1/secrets", "api/v1/namespaces/*/secrets", "api/v1/namespaces/*/secrets/*",
		"api/v1/watch/secrets", "api/v1/watch/namespaces/*/secrets",
		"api/v1/watch/namespaces/*/secrets/*",
	};
	struct http_request_head *out = c->out;
	const char *seg[16], *last;
	size_t len[16], count, i, hl, last_len;
	bool more;

	count = split_path(p, n, seg, len, 16, &more);
	for (i = 0; i < sizeof(cloud) / sizeof(cloud[0]); i++)
		if (match_segments(seg, len, count, more, cloud[i]))
			goto cloud;
	/* ECS task credentials: the path alone is too generic */
	hl = strcspn(out->host, ":");
	if (eq(out->host, hl, "169.254.170.2") && match_segments(seg, len, count, more, "v2/credentials/**"))
		goto cloud;
	if (strcmp(out->method, "GET") == 0)
		for (i = 0; i < sizeof(kube) / sizeof(kube[0]); i++)
			if (match_segments(seg, len, count, more, kube[i])) {
				strcpy(out->special, "kube-secrets");
				return;
			}
	if (n > 1 && p[n - 1] == '/')
		n--;
	last = n ? memrchr(p, '/', n) : NULL;
	if (!last)
		return;
	last++;
	last_len = n - (size_t)(last - p);
	if (eq(last, last_len, "token") || eq(last, last_len, "access_token"))
		strcpy(out->special, "token-request");
	return;
cloud:
	strcpy(out->special, "cloud-metadata-credentials");
}

/* ---- host ----------------------------------------------------------------- */

static void set_host(struct ctx *c, const char *v, size_t n)
{
	size_t i;

	if (n >= sizeof(c->out->host))
		return;
	for (i = 0; i < n; i++)
		if (!is_alnum((unsigned char)v[i]) && !strchr(".-_:[]%", v[i]))
			return;
	copy_lower(c->out->host, sizeof(c->out->host), v, n);
}

/* ---- lines ---------------------------------------------------------------- */

enum line_rc { LINE_OK, LINE_CUT, LINE_BAD };

/* The line at buf[pos..]: its length without the terminator and where the
 * next one starts. Control bytes other than HTAB, a CR not followed by LF
 * and lines over HTTP_MAX_LINE are bad, even in a line that is cut off. */
static enum line_rc next_line(const uint8_t *buf, size_t len, size_t pos, size_t *line_len, size_t *next)
{
	size_t i;

	for (i = pos; i < len; i++) {
		uint8_t ch = buf[i];

		if (i - pos > HTTP_MAX_LINE)
			return LINE_BAD;
		if (ch == '\n') {
			*line_len = i - pos;
			*next = i + 1;
			return LINE_OK;
		}
		if (ch == '\r') {
			if (i + 1 == len)
				return LINE_CUT;
			if (buf[i + 1] != '\n')
				return LINE_BAD;
			*line_len = i - pos;
			*next = i + 2;
			return LINE_OK;
		}
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return LINE_BAD;
	}
	return len - pos > HTTP_MAX_LINE ? LINE_BAD : LINE_CUT;
}

/* Header names that carry a credential by convention: their value is the
 * credential, whatever its shape. */
static const char *const api_key_headers[] = {
	"x-api-key", "api-key", "x-goog-api-key", "ocp-apim-subscription-key", "x-functions-key",
	"x-rapidapi-key", "apikey", "x-apikey",
};
static const char *const token_headers[] = {
	"x-auth-token", "private-token", "x-vault-token", "x-amz-security-token", "x-api-token", "x-access-token",
	"x-session-token", "x-gitlab-token", "x-consul-token", "x-nomad-token", "x-auth-key", "x-secret",
};

/* Names that say credential (token, key, secret, auth, session) but are
 * per-request or per-connection nonces, hashes or ids, not credentials. */
static bool name_not_credential(const char *lname)
{
	static const char *const words[] = {
		"csrf", "xsrf", "websocket", "idempotency", "request", "trace", "nonce", "cache", "content",
		"correlation", "keep-alive", "sha256", "signature",
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(lname, words[i]))
			return true;
	return false;
}

/* Any other header whose name says it holds a credential. */
static bool name_says_credential(const char *lname)
{
	return (strstr(lname, "token") || strstr(lname, "key") || strstr(lname, "secret") || strstr(lname, "auth") ||
		strstr(lname, "session")) && !name_not_credential(lname);
}

static int header_field(struct ctx *c, const char *l, size_t nl, const char *v, size_t vl);

static int header_line(struct ctx *c, const char *l, size_t n)
{
	size_t nl = 0, vs, ve;

	if (l[0] == ' ' || l[0] == '\t')
		return -EBADMSG; /* obs-fold, or whitespace before the first header */
	while (nl < n && is_tchar((unsigned char)l[nl]))
		nl++;
	if (nl == 0 || nl == n || l[nl] != ':')
		return -EBADMSG;
	vs = nl + 1;
	while (vs < n && (l[vs] == ' ' || l[vs] == '\t'))
		vs++;
	ve = n;
	while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
		ve--;
	return header_field(c, l, nl, l + vs, ve - vs);
}

/* One header field, name[0..nl) (a token) and its value v[0..vl) without
 * surrounding whitespace: HTTP/1 header lines and HTTP/2 fields alike. */
static int header_field(struct ctx *c, const char *l, size_t nl, const char *v, size_t vl)
{
	char where[64];
	size_t vs = 0, ve = vl, i;

	copy_lower(where, sizeof(where), l, nl);

	if (eq_nocase(l, nl, "host")) {
		if (c->host_header_seen)
			return -EBADMSG; /* RFC 9112 3.2: exactly one */
		c->host_header_seen = true;
		c->out->host[0] = '\0';
		set_host(c, v + vs, ve - vs);
		return 0;
	}
	if (ve == vs)
		return 0;
	if (eq_nocase(l, nl, "content-type")) {
		/* whether the body is JSON; the value is not kept */
		for (i = vs; i + 4 <= ve; i++)
			if (strncasecmp(v + i, "json", 4) == 0)
				c->out->json_body = true;
		return 0;
	}
	if (eq_nocase(l, nl, "authorization")) {
		add_authorization(c, where, false, v + vs, ve - vs);
		return 0;
	}
	if (eq_nocase(l, nl, "proxy-authorization")) {
		add_authorization(c, where, true, v + vs, ve - vs);
		return 0;
	}
	if (eq_nocase(l, nl, "cookie")) {
		cred_add(c, "cookie", where, v + vs, ve - vs);
		return 0;
	}
	for (i = 0; i < sizeof(api_key_headers) / sizeof(api_key_headers[0]); i++)
		if (eq_nocase(l, nl, api_key_headers[i])) {
			cred_add(c, "api-key", where, v + vs, ve - vs);
			return 0;
		}
	for (i = 0; i < sizeof(token_headers) / sizeof(token_headers[0]); i++)
		if (eq_nocase(l, nl, token_headers[i])) {
			add_token_maybe_jwt(c, "token", false, where, v + vs, ve - vs);
			return 0;
		}
	/* a known token shape anywhere wins; else a credential-named header
	 * with a credential-shaped value (one word, long or random-looking) */
	if (header_has_token(v + vs, ve - vs)) {
		scan_tokens(c, where, v + vs, ve - vs);
		return 0;
	}
	if (name_says_credential(where) && nl < sizeof(where) && !memchr(v + vs, ' ', ve - vs) &&
	    looks_secret(v + vs, ve - vs))
		cred_add(c, "header-secret", where, v + vs, ve - vs);
	return 0;
}

/* ---- request line --------------------------------------------------------- */

/* -ENOMSG unless buf starts with a known method (any case) and a space;
 * -EBADMSG for "PRI " (the HTTP/2 preface) and a method not in upper case. */
static int check_method(const uint8_t *buf, size_t len, size_t *mlen)
{
	size_t n = 0, i;

	while (n < len && n <= METHOD_MAX && is_tchar(buf[n]))
		n++;
	if (n == 3 && len > 3 && buf[3] == ' ' && memcmp(buf, "PRI", 3) == 0)
		return -EBADMSG;
	for (i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++) {
		if (!eq_nocase((const char *)buf, n, known_methods[i]))
			continue;
		if (n == len || buf[n] != ' ')
			return -ENOMSG;
		if (memcmp(buf, known_methods[i], n) != 0)
			return -EBADMSG;
		*mlen = n;
		return 0;
	}
	return -ENOMSG;
}

/* The request target: path, query and userinfo credentials, fallback host.
 * raw, raw_len: the origin-form path as sent (NULL for CONNECT and "*"). */
static int request_target(struct ctx *c, const char *t, size_t n, const char **query, size_t *qlen,
			  const char **raw, size_t *raw_len)
{
	struct http_request_head *out = c->out;
	const char *q;

	*query = NULL;
	*qlen = 0;
	*raw = NULL;
	*raw_len = 0;
	if (strcmp(out->method, "CONNECT") == 0) {
		if (memchr(t, '@', n) || memchr(t, '/', n))
			return -EBADMSG; /* authority-form: host:port only */
		set_host(c, t, n);
		return 0;
	}
	if (n == 1 && t[0] == '*') {
		strcpy(out->path, "*");
		strcpy(out->path_template, "*");
		return 0;
	}
	if (t[0] != '/') {
		/* absolute-form (to a proxy): scheme://[userinfo@]host[:port][/path][?query] */
		const char *sep = n >= 3 ? memmem(t, n, "://", 3) : NULL;
		const char *auth, *end, *at;
		size_t i;

		if (!sep || sep == t)
			return -EBADMSG;
		for (i = 0; t + i < sep; i++)
			if (!is_alnum((unsigned char)t[i]) && !strchr("+-.", t[i]))
				return -EBADMSG;
		auth = sep + 3;
		for (end = auth; end < t + n && *end != '/' && *end != '?'; end++)
			;
		at = memrchr(auth, '@', (size_t)(end - auth));
		if (at) {
			char dec[DECODE_MAX];
			size_t dl = percent_decode(auth, (size_t)(at - auth), dec);

			/* user:password in the URL: fingerprinted as Basic would be */
			add_userpass(c, "basic", "url", dec, dl);
			explicit_bzero(dec, dl);
			auth = at + 1;
		}
		set_host(c, auth, (size_t)(end - auth));
		n -= (size_t)(end - t);
		t = end;
		if (n == 0 || t[0] == '?') {
			strcpy(out->path, "/");
			strcpy(out->path_template, "/");
			*raw = "/";
			*raw_len = 1;
			if (n) {
				*query = t + 1;
				*qlen = n - 1;
			}
			return 0;
		}
	}
	q = memchr(t, '?', n);
	if (q) {
		*query = q + 1;
		*qlen = n - (size_t)(q + 1 - t);
		n = (size_t)(q - t);
	}
	add_path(c, t, n);
	*raw = t;
	*raw_len = n;
	return 0;
}

static int parse(struct ctx *c, const uint8_t *buf, size_t len)
{
	struct http_request_head *out = c->out;
	size_t mlen = 0, ll = 0, pos = 0, tstart, tend, qlen = 0, fallback_host_len, raw_len = 0;
	char fallback_host[sizeof(out->host)];
	const char *line, *query = NULL, *raw = NULL;
	int rc, headers = 0;

	rc = check_method(buf, len, &mlen);
	if (rc < 0)
		return rc;
	if (next_line(buf, len, 0, &ll, &pos) != LINE_OK)
		return -EBADMSG; /* cut off or malformed request line */
	line = (const char *)buf;
	memcpy(out->method, line, mlen);
	out->method[mlen] = '\0';

	/* METHOD SP request-target SP HTTP/1.x */
	tstart = mlen + 1;
	for (tend = tstart; tend < ll && line[tend] != ' '; tend++)
		if ((unsigned char)line[tend] <= 0x20 || (unsigned char)line[tend] >= 0x7f)
			return -EBADMSG;
	if (tend == tstart || ll - tend != 9 || memcmp(line + tend, " HTTP/1.", 8) != 0 ||
	    (line[ll - 1] != '0' && line[ll - 1] != '1'))
		return -EBADMSG;
	out->http_minor = line[ll - 1] - '0';

	/* the request target first: its host is only a fallback for the Host
	 * header, its query is read after the headers */
	rc = request_target(c, line + tstart, tend - tstart, &query, &qlen, &raw, &raw_len);
	if (rc < 0)
		return rc;
	memcpy(fallback_host, out->host, sizeof(fallback_host));
	fallback_host_len = strlen(fallback_host);
	out->host[0] = '\0';

	out->truncated = true;
	for (;;) {
		size_t next = 0;
		enum line_rc lr = next_line(buf, len, pos, &ll, &next);

		if (lr == LINE_BAD)
			return -EBADMSG;
		if (lr == LINE_CUT)
			break; /* a header cut in the middle is not used */
		if (ll == 0) {
			out->truncated = false;
			break;
		}
		if (++headers > HTTP_MAX_HEADERS)
			return -EBADMSG;
		rc = header_line(c, (const char *)buf + pos, ll);
		if (rc < 0)
			return rc;
		pos = next;
	}
	if (!c->host_header_seen && fallback_host_len)
		memcpy(out->host, fallback_host, fallback_host_len + 1);
	if (query)
		add_query(c, query, qlen);
	if (raw) /* the path as sent, not the redacted, maybe truncated copy */
		classify_special(c, raw, raw_len);
	return 0;
}

int http_parse_request_head(const uint8_t *buf, size_t len, const struct fp_key *key,
			    struct http_request_head *out)
{
	struct ctx c = { key, out, false };
	int rc;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!key)
		return -EINVAL;
	if (!buf)
		len = 0;
	rc = parse(&c, buf, len);
	if (rc < 0)
		explicit_bzero(out, sizeof(*out)); /* nothing partial on error */
	return rc;
}

/* ---- HTTP/2 --------------------------------------------------------------- */

static bool h2_value_ok(const char *v, size_t n)
{
	/* RFC 9113 8.2.1: no NUL, CR or LF; the other controls are refused as
	 * an HTTP/1 head's are */
	if (n > HTTP_MAX_LINE)
		return false;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
			return false;
	return true;
}

static bool h2_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > HTTP_MAX_LINE)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]) || (s[i] >= 'A' && s[i] <= 'Z'))
			return false; /* RFC 9113 8.2.1: lower case only */
	return true;
}

static void trim(const char **v, size_t *n)
{
	while (*n && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*n)--;
	}
	while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
		(*n)--;
}

static int parse_fields(struct ctx *c, const char *method, size_t mlen, const char *target, size_t tlen,
			const char *authority, size_t alen, const struct http_field_ref *fields, size_t n,
			char *cookie, size_t cookie_size)
{
	struct http_request_head *out = c->out;
	const char *query = NULL, *raw = NULL;
	size_t qlen = 0, raw_len = 0, cookie_len = 0, i;
	bool known = false;
	int rc;

	for (i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++)
		if (mlen == strlen(known_methods[i]) && memcmp(method, known_methods[i], mlen) == 0)
			known = true;
	if (!known)
		return -ENOMSG;
	memcpy(out->method, method, mlen);
	out->method[mlen] = '\0';
	if (n > HTTP_MAX_HEADERS || tlen > HTTP_MAX_LINE || !h2_value_ok(authority, alen))
		return -EBADMSG;
	if (strcmp(out->method, "CONNECT") == 0) {
		if (tlen)
			return -EBADMSG; /* RFC 9113 8.5: :authority only */
		target = authority;
		tlen = alen;
	}
	if (!tlen)
		return -EBADMSG; /* RFC 9113 8.3.1: :path is required */
	for (i = 0; i < tlen; i++)
		if ((unsigned char)target[i] <= 0x20 || (unsigned char)target[i] >= 0x7f)
			return -EBADMSG;
	if (target[0] != '/' && !(tlen == 1 && target[0] == '*') && strcmp(out->method, "CONNECT") != 0)
		return -EBADMSG; /* origin-form or "*" (RFC 9113 8.3.1) */
	rc = request_target(c, target, tlen, &query, &qlen, &raw, &raw_len);
	if (rc < 0)
		return rc;
	out->host[0] = '\0';
	if (alen)
		set_host(c, authority, alen);
	for (i = 0; i < n; i++) {
		const char *v = fields[i].value;
		size_t vl = fields[i].value_len;

		if (!h2_name_ok(fields[i].name, fields[i].name_len) || !h2_value_ok(v, vl))
			return -EBADMSG;
		trim(&v, &vl);
		if (eq(fields[i].name, fields[i].name_len, "host")) {
			if (alen)
				continue; /* :authority wins (RFC 9113 8.3.1) */
		} else if (eq(fields[i].name, fields[i].name_len, "cookie")) {
			/* RFC 9113 8.2.3: crumbs are joined with "; " before
			 * anything reads them, so the fingerprint is HTTP/1's */
			if (cookie_len + (cookie_len ? 2 : 0) + vl > cookie_size)
				return -EBADMSG;
			if (cookie_len) {
				memcpy(cookie + cookie_len, "; ", 2);
				cookie_len += 2;
			}
			memcpy(cookie + cookie_len, v, vl);
			cookie_len += vl;
			continue;
		}
		rc = header_field(c, fields[i].name, fields[i].name_len, v, vl);
		if (rc < 0)
			return rc;
	}
	if (cookie_len)
		cred_add(c, "cookie", "cookie", cookie, cookie_len);
	out->truncated = false;
	if (query)
		add_query(c, query, qlen);
	if (raw)
		classify_special(c, raw, raw_len);
	return 0;
}

int http_parse_request_fields(const char *method, size_t method_len, const char *path, size_t path_len,
			      const char *authority, size_t authority_len, const struct http_field_ref *fields,
			      size_t n_fields, const struct fp_key *key, struct http_request_head *out)
{
	struct ctx c = { key, out, false };
	char *cookie;
	int rc;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!key || !method || method_len > METHOD_MAX || (!path && path_len) || (!authority && authority_len) ||
	    (!fields && n_fields))
		return -EINVAL;
	cookie = malloc(HTTP_MAX_LINE);
	if (!cookie)
		return -ENOMEM;
	rc = parse_fields(&c, method, method_len, path ? path : "", path_len, authority ? authority : "",
			  authority_len, fields, n_fields, cookie, HTTP_MAX_LINE);
	explicit_bzero(cookie, HTTP_MAX_LINE);
	free(cookie);
	if (rc < 0)
		explicit_bzero(out, sizeof(*out));
	return rc;
}
