#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "reach/redact.h"

/* Flags whose next argument is a credential as a whole. */
static const char *const secret_flags[] = {
	"--password", "--passwd", "--token", "--api-key", "--apikey", "--secret", "--client-secret",
	"--access-key", "--secret-key", "--auth", "--bearer", "--oauth2-bearer", "-u", "--user",
	"--proxy-user", NULL, /* not -p: mkdir -p, docker run -p are no secrets */
};

/* Headers whose value is a credential. */
static const char *const secret_headers[] = {
	"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key",
	"cookie", "x-auth-token", "x-vault-token", NULL,
};

/* key=value names that hold credentials (substring, case-insensitive). */
static const char *const secret_keys[] = {
	"token", "secret", "password", "passwd", "api_key", "apikey", "api-key", "access_key",
	"signature", "auth", "credential", NULL,
};

/* Prefixes of well-known token shapes and the minimum length of what follows.
 * Every prefix http_head.c classifies as a credential shape is here too, with
 * a tail minimum no stricter than its: redaction errs towards redacting. */
static const struct { const char *prefix; size_t min_tail; } token_shapes[] = {
	{ "sk-", 16 }, { "ghp_", 20 }, { "gho_", 20 }, { "ghu_", 20 }, { "ghs_", 20 }, { "ghr_", 20 },
	{ "github_pat_", 20 }, { "xoxb-", 10 }, { "xoxp-", 10 }, { "xoxa-", 10 }, { "xoxr-", 10 }, { "xoxs-", 10 },
	{ "glpat-", 16 }, { "AKIA", 16 }, { "ASIA", 16 }, { "eyJ", 20 }, { NULL, 0 },
};

static bool is_token_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/' || c == '+' || c == '=';
}

static bool in_list(const char *s, const char *const *list)
{
	for (int i = 0; list[i]; i++)
		if (strcasecmp(s, list[i]) == 0)
			return true;
	return false;
}

/* Case-insensitive search of needle in key[0..len): no copy, so any key
 * length works (a 200-character ..._PASSWORD is still a password). */
static bool key_is_secret(const char *key, size_t len)
{
	for (int i = 0; secret_keys[i]; i++) {
		size_t n = strlen(secret_keys[i]);

		for (size_t at = 0; n <= len && at <= len - n; at++)
			if (strncasecmp(key + at, secret_keys[i], n) == 0)
				return true;
	}
	return false;
}

static bool is_word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* Appends n bytes of s to out at *pos, truncating at out_size - 1. */
static void put(char *out, size_t out_size, size_t *pos, const char *s, size_t n)
{
	while (n-- && *pos + 1 < out_size)
		out[(*pos)++] = *s++;
	out[*pos] = '\0';
}

/* A token shape starting at s: returns its length, or 0. */
static size_t token_shape_len(const char *s)
{
	for (int i = 0; token_shapes[i].prefix; i++) {
		size_t plen = strlen(token_shapes[i].prefix), tail = 0;

		if (strncmp(s, token_shapes[i].prefix, plen) != 0)
			continue;
		while (is_token_char(s[plen + tail]))
			tail++;
		if (tail >= token_shapes[i].min_tail)
			return plen + tail;
	}
	return 0;
}

/* A credential header name at p ("Authorization:", "x-api-key :"): returns
 * the length up to and including the ':', or 0; *name_len gets the name's. */
static size_t secret_header_at(const char *p, size_t *name_len)
{
	for (int i = 0; secret_headers[i]; i++) {
		size_t n = strlen(secret_headers[i]), k = n;

		if (strncasecmp(p, secret_headers[i], n) != 0 || is_word_char(p[n]))
			continue;
		while (p[k] == ' ' || p[k] == '\t')
			k++;
		if (p[k] == ':') {
			*name_len = n;
			return k + 1;
		}
	}
	return 0;
}

/* The text before '=' in "--flag=value" names a secret flag. */
static bool secret_flag_before(const char *arg, const char *eq)
{
	char flag[64];
	size_t n = eq - arg;

	if (arg[0] != '-' || n == 0 || n >= sizeof(flag))
		return false;
	memcpy(flag, arg, n);
	flag[n] = '\0';
	return in_list(flag, secret_flags);
}

/* Skips a credential value: to the end of the argument, or to the quote
 * that closes it inside a longer shell string. */
static const char *skip_value(const char *p)
{
	while (*p && *p != '"' && *p != '\'')
		p++;
	return p;
}

bool redact_arg(const char *prev, const char *arg, char *out, size_t out_size)
{
	size_t pos = 0;
	bool redacted = false;
	const char *p = arg;

	if (out_size == 0)
		return false;
	out[0] = '\0';
	if (prev && in_list(prev, secret_flags)) {
		put(out, out_size, &pos, REDACTED, strlen(REDACTED));
		return true;
	}

	while (*p) {
		/* a word starts here; curl's attached "-HName: value" counts too */
		bool boundary = p == arg || !is_word_char(p[-1]) || (p == arg + 2 && strncmp(arg, "-H", 2) == 0);
		size_t n, name_len;

		/* "Authorization: ...", also inside "--header=..." or "sh -c '...'":
		 * the whole value goes, scheme included */
		if (boundary && (n = secret_header_at(p, &name_len))) {
			put(out, out_size, &pos, p, name_len);
			put(out, out_size, &pos, ": " REDACTED, strlen(": " REDACTED));
			p = skip_value(p + n);
			redacted = true;
			continue;
		}
		/* --password=X, api_key=X in query strings, FOO_TOKEN=X */
		if (*p == '=') {
			const char *k = p;

			while (k > arg && is_word_char(k[-1]))
				k--;
			if ((secret_flag_before(arg, p) || key_is_secret(k, p - k)) && p[1] && p[1] != '&') {
				put(out, out_size, &pos, "=" REDACTED, strlen("=" REDACTED));
				p++;
				while (*p && *p != '&' && *p != ' ' && *p != '"' && *p != '\'')
					p++;
				redacted = true;
				continue;
			}
		}
		/* "Bearer X", "Basic X" anywhere */
		if (boundary && (strncasecmp(p, "bearer ", 7) == 0 || strncasecmp(p, "basic ", 6) == 0)) {
			size_t word = tolower((unsigned char)p[1]) == 'e' ? 6 : 5;

			put(out, out_size, &pos, p, word + 1);
			put(out, out_size, &pos, REDACTED, strlen(REDACTED));
			p += word;
			while (*p == ' ' || *p == '\t')
				p++;
			while (*p && !isspace((unsigned char)*p) && *p != '"' && *p != '\'')
				p++;
			redacted = true;
			continue;
		}
		/* known token shapes, after any non-word character (/, =, @, :) */
		if (boundary && (n = token_shape_len(p))) {
			put(out, out_size, &pos, REDACTED, strlen(REDACTED));
			p += n;
			redacted = true;
			continue;
		}
		put(out, out_size, &pos, p, 1);
		p++;
	}
	return redacted;
}
