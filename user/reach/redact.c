#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "reach/redact.h"

/* Flags whose next argument is a credential as a whole. */
static const char *const secret_flags[] = {
	"--password", "--passwd", "--token", "--api-key", "--apikey", "--secret", "--client-secret",
	"--access-key", "--secret-key", "--auth", "--bearer", "--oauth2-bearer", "-u", "--user",
	"--proxy-user", "-p", NULL,
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

/* Prefixes of well-known token shapes and the minimum length of what follows. */
static const struct { const char *prefix; size_t min_tail; } token_shapes[] = {
	{ "sk-", 16 }, { "ghp_", 20 }, { "gho_", 20 }, { "ghu_", 20 }, { "ghs_", 20 }, { "ghr_", 20 },
	{ "github_pat_", 20 }, { "xoxb-", 10 }, { "xoxp-", 10 }, { "xoxa-", 10 }, { "xoxs-", 10 },
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

static bool key_is_secret(const char *key, size_t len)
{
	char buf[64];

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, key, len);
	buf[len] = '\0';
	for (int i = 0; secret_keys[i]; i++)
		if (strcasestr(buf, secret_keys[i]))
			return true;
	return false;
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

/* "Name: value" where Name is a credential header. */
static bool redact_header(const char *arg, char *out, size_t out_size)
{
	const char *colon = strchr(arg, ':');
	char name[64];
	size_t n;

	if (!colon || (n = colon - arg) == 0 || n >= sizeof(name))
		return false;
	memcpy(name, arg, n);
	name[n] = '\0';
	while (n && isspace((unsigned char)name[n - 1]))
		name[--n] = '\0';
	if (!in_list(name, secret_headers))
		return false;
	snprintf(out, out_size, "%s: " REDACTED, name);
	return true;
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
	if (redact_header(arg, out, out_size))
		return true;

	while (*p) {
		size_t tlen;

		/* --flag=value and key=value in query strings */
		if (*p == '=') {
			const char *k = p;

			while (k > arg && (isalnum((unsigned char)k[-1]) || k[-1] == '_' || k[-1] == '-'))
				k--;
			if (key_is_secret(k, p - k) && p[1] && p[1] != '&') {
				put(out, out_size, &pos, "=" REDACTED, strlen("=" REDACTED));
				p++;
				while (*p && *p != '&' && *p != ' ')
					p++;
				redacted = true;
				continue;
			}
		}
		/* "Bearer X", "Basic X" anywhere */
		if ((p == arg || !isalnum((unsigned char)p[-1])) &&
		    (strncasecmp(p, "bearer ", 7) == 0 || strncasecmp(p, "basic ", 6) == 0)) {
			size_t word = tolower((unsigned char)*p) == 'b' && tolower((unsigned char)p[1]) == 'e' ? 7 : 6;

			put(out, out_size, &pos, p, word);
			put(out, out_size, &pos, REDACTED, strlen(REDACTED));
			p += word;
			while (*p && !isspace((unsigned char)*p) && *p != '"' && *p != '\'')
				p++;
			redacted = true;
			continue;
		}
		if ((p == arg || !is_token_char(p[-1])) && (tlen = token_shape_len(p))) {
			put(out, out_size, &pos, REDACTED, strlen(REDACTED));
			p += tlen;
			redacted = true;
			continue;
		}
		put(out, out_size, &pos, p, 1);
		p++;
	}
	return redacted;
}
