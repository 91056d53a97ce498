#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "http/path_template.h"
#include "reach/redact.h"

/* ---- the rules ------------------------------------------------------------ */

/* Interpreters and the flags whose value is program text. exe is compared
 * with the basename of an argv word, as a prefix when it ends in '*'
 * (python3.12). cluster: a shell's "-xc"/"-lc" also takes the code next. */
static const struct code_rule {
	const char *exe;
	const char *flags[5];
	bool cluster;
} code_rules[] = {
	{ "sh", { "-c" }, true },           /* POSIX shells: sh -c 'curl -H "...: TOKEN"' */
	{ "bash", { "-c" }, true },
	{ "dash", { "-c" }, true },
	{ "zsh", { "-c" }, true },
	{ "ksh", { "-c" }, true },
	{ "ash", { "-c" }, true },
	{ "mksh", { "-c" }, true },
	{ "fish", { "-c", "--command" }, false },
	{ "busybox", { "-c" }, true },      /* busybox sh -c */
	{ "python*", { "-c" }, false },     /* python3 -c "requests.get(u, headers={...})" */
	{ "pypy*", { "-c" }, false },
	{ "node*", { "-e", "--eval", "-p", "--print" }, false }, /* node -e "fetch(u, {headers: {...}})" */
	{ "bun", { "-e", "--eval", "-p", "--print" }, false },
	{ "deno", { "eval" }, false },      /* deno eval 'code' */
	{ "perl*", { "-e", "-E" }, false },
	{ "ruby*", { "-e" }, false },
	{ "php*", { "-r" }, false },
	{ "lua*", { "-e" }, false },
	{ "Rscript", { "-e" }, false },
	{ "osascript", { "-e" }, false },
	{ "pwsh", { "-c", "-Command", "-EncodedCommand" }, false },
	{ "powershell*", { "-c", "-Command", "-EncodedCommand" }, false },
};

/* How a flag carries its secret value. */
enum {
	NEXT = 1,        /* the next argument: --password X */
	GLUED = 2,       /* glued to a short flag: -pX */
	EQUALS = 4,      /* after '=': --pass=X */
	COLON_ONLY = 8,  /* only when the value has a ':' (user:password) */
	NOT_NUMBER = 16, /* a plain number stays (a port: -P 3306) */
	NOT_FLAG = 32,   /* a next argument starting with '-' is another flag */
};

/* Flags whose value is a credential, beyond the generic rule on flag names
 * (see flag_words). exe NULL: any command; sub: only after that word
 * (docker login). */
static const struct flag_rule {
	const char *exe, *sub, *flag;
	unsigned how;
} flag_rules[] = {
	{ "mysql*", NULL, "-p", GLUED | NEXT | NOT_FLAG },      /* mysql -pX (and -p X as written by mistake) */
	{ "mariadb*", NULL, "-p", GLUED | NEXT | NOT_FLAG },
	{ "sshpass", NULL, "-p", GLUED | NEXT },                /* sshpass -p X ssh host */
	{ "docker", "login", "-p", GLUED | NEXT },              /* docker login -u u -p X */
	{ "podman", "login", "-p", GLUED | NEXT },
	{ "nerdctl", "login", "-p", GLUED | NEXT },
	{ "helm", "login", "-p", GLUED | NEXT },                /* helm registry login */
	{ "redis-cli", NULL, "-a", GLUED | NEXT },              /* redis-cli -a X */
	{ "openssl", NULL, "-passin", NEXT },                   /* openssl ... -passin pass:X */
	{ "openssl", NULL, "-passout", NEXT },
	{ "openssl", NULL, "-pass", NEXT },
	{ "openssl", NULL, "-k", NEXT },                        /* openssl enc -k X */
	{ "openssl", NULL, "-password", NEXT },
	{ NULL, NULL, "-P", NEXT | GLUED | NOT_NUMBER | NOT_FLAG }, /* -P X: a password unless a port */
	{ NULL, NULL, "-u", NEXT | GLUED | COLON_ONLY },        /* curl -u user:pw (sort -u file stays) */
	{ NULL, NULL, "-U", NEXT | GLUED | COLON_ONLY },        /* curl -U proxyuser:pw */
	{ NULL, NULL, "--user", NEXT | EQUALS | COLON_ONLY },   /* curl --user user:pw */
	{ NULL, NULL, "--proxy-user", NEXT | EQUALS | COLON_ONLY },
};

/* Any flag ("--name", "-name") one of whose words ('-' or '_' separated) is
 * one of these carries a credential: --password, --api-key, --client-secret,
 * --oauth2-bearer, -storepass, --http-passwd... */
static const char *const flag_words[] = {
	"pass", "passwd", "password", "passphrase", "pw", "pwd", "token", "secret", "key", "apikey",
	"auth", "credential", "credentials", "bearer", "cookie", "session", "signature", "storepass",
	"keypass", "srcstorepass", "deststorepass", "passin", "passout", "pat",
};

/* ... unless its last word says the value only names where the secret is
 * (--password-file, --key-path, --auth-type, --token-env). */
static const char *const flag_ref_words[] = {
	"file", "path", "dir", "env", "type", "method", "mode", "name", "id", "helper", "provider",
	"length", "size", "count", "timeout", "url", "endpoint", "format", "algorithm", "alg", "ttl",
};

/* key=value, key: value, "key": "value": a key holding one of these
 * (case-insensitive substring) has a credential as its value. */
static const char *const key_words[] = {
	"pass", "pwd", "token", "secret", "key", "auth", "credential", "cookie", "session", "signature",
	"private", "bearer", "jwt", "sig", "otp",
};

/* Keys that contain a key_word but name no credential. */
static const char *const key_exceptions[] = {
	"keyboard", "keys", "monkey", "hotkey", "keyword", "keywords", "keymap", "keyspace", "keyring",
	"passenger", "passthrough", "bypass", "compass", "sigterm", "sigkill", "sigint", "signal",
	"tokenizer", "max_tokens", "max-tokens", "maxtokens", "author", "authority", "autho",
};

/* Authorization schemes: "Bearer X" anywhere has its credential redacted. */
static const char *const auth_schemes[] = { "bearer", "basic", "token", "digest", "negotiate" };

/* Prefixes of well-known token shapes and the minimum length after them:
 * redacted even when shorter than the 16 characters of the random rule. */
static const struct { const char *prefix; size_t min_tail; } token_shapes[] = {
	{ "sk-", 16 }, { "ghp_", 20 }, { "gho_", 20 }, { "ghu_", 20 }, { "ghs_", 20 }, { "ghr_", 20 },
	{ "github_pat_", 20 }, { "xoxb-", 10 }, { "xoxp-", 10 }, { "xoxa-", 10 }, { "xoxr-", 10 }, { "xoxs-", 10 },
	{ "glpat-", 16 }, { "AKIA", 16 }, { "ASIA", 16 }, { "eyJ", 20 }, { "hvs.", 16 }, { "npm_", 20 },
};

/* ---- output --------------------------------------------------------------- */

struct out {
	char *buf;
	size_t size, pos;
	const struct fp_key *key;
	bool changed;
};

static void put(struct out *o, const char *s, size_t n)
{
	while (n-- && o->pos + 1 < o->size)
		o->buf[o->pos++] = *s++;
	if (o->size)
		o->buf[o->pos] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* "[redacted:fp:<hex>]", or with " len=<n>" for code. */
static void put_fp(struct out *o, const char *s, size_t n, bool with_len)
{
	char fp[FP_HEX_LEN + 1], tail[32];

	fp_compute(o->key, s, n, fp);
	puts_(o, REDACT_MARK);
	puts_(o, fp);
	if (with_len) {
		snprintf(tail, sizeof(tail), " len=%zu", n);
		puts_(o, tail);
	}
	puts_(o, "]");
	o->changed = true;
}

/* ---- helpers -------------------------------------------------------------- */

static const char *base_name(const char *s)
{
	const char *slash = strrchr(s, '/');

	return slash ? slash + 1 : s;
}

/* word's basename is pattern; "python*" also matches python3, python3.12 */
static bool exe_is(const char *word, const char *pattern)
{
	const char *b = base_name(word);
	size_t n = strlen(pattern);

	if (n && pattern[n - 1] == '*') {
		if (strncmp(b, pattern, n - 1) != 0)
			return false;
		for (b += n - 1; *b; b++)
			if (!isdigit((unsigned char)*b) && *b != '.')
				return false;
		return true;
	}
	return strcmp(b, pattern) == 0;
}

static bool in_words(const char *s, size_t n, const char *const *list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strlen(list[i]) == n && strncasecmp(s, list[i], n) == 0)
			return true;
	return false;
}

#define IN_WORDS(s, n, list) in_words(s, n, list, sizeof(list) / sizeof(list[0]))

static bool has_substr(const char *s, size_t n, const char *w)
{
	size_t k = strlen(w);

	for (size_t at = 0; k <= n && at <= n - k; at++)
		if (strncasecmp(s + at, w, k) == 0)
			return true;
	return false;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* A flag name ("--api-key", "-storepass") that names a credential. */
static bool flag_names_secret(const char *flag, size_t n)
{
	const char *p = flag, *end = flag + n;
	bool secret = false, ref = false;

	while (p < end && *p == '-')
		p++;
	if (end - p < 2) /* short flags only by flag_rules */
		return false;
	while (p < end) {
		const char *w = p;

		while (p < end && *p != '-' && *p != '_')
			p++;
		ref = IN_WORDS(w, (size_t)(p - w), flag_ref_words);
		secret |= IN_WORDS(w, (size_t)(p - w), flag_words);
		while (p < end && (*p == '-' || *p == '_'))
			p++;
	}
	return secret && !ref;
}

static bool key_is_secret(const char *k, size_t n)
{
	if (n == 0 || IN_WORDS(k, n, key_exceptions))
		return false;
	for (size_t i = 0; i < sizeof(key_words) / sizeof(key_words[0]); i++)
		if (has_substr(k, n, key_words[i]))
			return true;
	return false;
}

static bool is_key_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

static bool is_token_char(char c)
{
	/* no '=' (pairs are judged at it), no ':' or '@' (URLs, pairs) */
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/' || c == '+' || c == '~';
}

static size_t token_shape_len(const char *s)
{
	for (size_t i = 0; i < sizeof(token_shapes) / sizeof(token_shapes[0]); i++) {
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

/* ---- free text: URLs, pairs, schemes, tokens ------------------------------ */

static void scan(struct out *o, const char *s, size_t n);

/* A URL's scheme at s ("postgres://"): returns the length up to and
 * including "//", or 0. */
static size_t url_scheme_len(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !isalpha((unsigned char)s[0]))
		return 0;
	while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '.' || s[i] == '-'))
		i++;
	if (i + 3 <= n && memcmp(s + i, "://", 3) == 0)
		return i + 3;
	return 0;
}

static bool url_end(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '"' || c == '\'' || c == '`' || c == '<' || c == '>';
}

/* A URL at s: the userinfo goes, the host stays, path segments and query
 * parameters are judged as the HTTP path templater does. Returns its length. */
static size_t redact_url(struct out *o, const char *s, size_t n, size_t scheme)
{
	size_t i = scheme, auth_end, at = 0;
	struct path_tmpl_state st = { 0 };

	for (auth_end = i; auth_end < n && !url_end(s[auth_end]) && s[auth_end] != '/' && s[auth_end] != '?' &&
			   s[auth_end] != '#'; auth_end++)
		if (s[auth_end] == '@')
			at = auth_end;
	put(o, s, scheme);
	if (at) {
		put_fp(o, s + scheme, at - scheme, false);
		i = at;
	}
	scan(o, s + i, auth_end - i); /* host names stay, a random token does not */
	i = auth_end;
	/* path */
	while (i < n && s[i] == '/') {
		size_t b = ++i, keep;

		put(o, "/", 1);
		while (i < n && !url_end(s[i]) && s[i] != '/' && s[i] != '?' && s[i] != '#')
			i++;
		switch (path_segment_class(&st, s + b, i - b, &keep)) {
		case PATH_SEG_RANDOM:
		case PATH_SEG_SECRET:
			put_fp(o, s + b, keep, false);
			break;
		default:
			scan(o, s + b, keep);
		}
		if (keep < i - b) /* matrix parameters: ;jsessionid=... */
			put_fp(o, s + b + keep, i - b - keep, false);
	}
	/* query */
	if (i < n && s[i] == '?') {
		put(o, "?", 1);
		i++;
		while (i < n && !url_end(s[i]) && s[i] != '#') {
			size_t b = i, eq = 0;

			while (i < n && !url_end(s[i]) && s[i] != '&' && s[i] != '#') {
				if (!eq && s[i] == '=')
					eq = i;
				i++;
			}
			if (eq && eq + 1 < i && query_param_is_secret(s + b, eq - b)) {
				put(o, s + b, eq + 1 - b);
				put_fp(o, s + eq + 1, i - eq - 1, false);
			} else {
				scan(o, s + b, i - b);
			}
			if (i < n && s[i] == '&') {
				put(o, "&", 1);
				i++;
			}
		}
	}
	return i;
}

/* The value of a credential pair at s[0] (after the separator and any
 * spaces): inside quotes, or up to a terminator. *start gets where the value
 * begins (after an opening quote), the length is returned. An unquoted
 * value runs through quotes: Authorization: Bearer abc"TOKEN must not end
 * at the quote. An unterminated quote runs to the end. */
static size_t pair_value(const char *s, size_t n, bool colon, size_t *start)
{
	size_t i = 0;

	*start = 0;
	if (n && (s[0] == '"' || s[0] == '\'' || (s[0] == '\\' && n > 1 && s[1] == '"'))) {
		char q = s[0] == '\\' ? '"' : s[0];

		*start = s[0] == '\\' ? 2 : 1;
		for (i = *start; i < n && s[i] != q; i++)
			if (s[i] == '\\' && i + 1 < n && s[i + 1] != q)
				i++;
		if (i > *start && s[i - 1] == '\\')
			i--; /* \" closes an escaped string */
		return i - *start;
	}
	for (; i < n; i++) {
		char c = s[i];

		if (c == ',' || c == ';' || c == '}' || c == ']' || c == '\n' || c == ')')
			break;
		if (!colon && (c == '&' || c == ' ' || c == '\t'))
			break;
	}
	return i;
}

/* A separator ('=' or ':') at s[i] closes a credential key: returns the
 * length of the value that starts at *v_start, or 0. */
static size_t pair_at(const char *s, size_t n, size_t i, size_t *v_start)
{
	size_t k = i, kend, v = i + 1, start, len;

	if (k > 0 && (s[k - 1] == '"' || s[k - 1] == '\''))
		k--; /* "key": value */
	if (k > 0 && s[k - 1] == '\\')
		k--; /* \"key\": value inside an escaped string */
	kend = k;
	while (k > 0 && is_key_char(s[k - 1]))
		k--;
	if (!key_is_secret(s + k, kend - k))
		return 0;
	if (s[i] == ':' && i + 2 < n && s[i + 1] == '/' && s[i + 2] == '/')
		return 0; /* a URL scheme, not a pair */
	while (v < n && (s[v] == ' ' || s[v] == '\t'))
		v++;
	len = pair_value(s + v, n - v, s[i] == ':', &start);
	*v_start = v + start;
	return len;
}

/* Copies s[0..n) redacting what the rules say, keeping everything else. */
static void scan(struct out *o, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		bool boundary = i == 0 || !isalnum((unsigned char)s[i - 1]);
		size_t len, v;

		if (boundary && (len = url_scheme_len(s + i, n - i))) {
			i += redact_url(o, s + i, n - i, len);
			continue;
		}
		if ((s[i] == '=' || s[i] == ':') && (len = pair_at(s, n, i, &v))) {
			put(o, s + i, v - i);
			put_fp(o, s + v, len, false);
			i = v + len;
			continue;
		}
		if (boundary && isalpha((unsigned char)s[i])) {
			size_t w = i;

			while (w < n && isalpha((unsigned char)s[w]))
				w++;
			if (w < n && s[w] == ' ' && IN_WORDS(s + i, w - i, auth_schemes)) {
				size_t t = w;

				while (t < n && s[t] == ' ')
					t++;
				v = t;
				while (t < n && !isspace((unsigned char)s[t]))
					t++;
				if (t > v) {
					put(o, s + i, v - i);
					put_fp(o, s + v, t - v, false);
					i = t;
					continue;
				}
			}
		}
		if (boundary || !is_token_char(s[i - 1])) {
			size_t t = i;

			while (t < n && is_token_char(s[t]))
				t++;
			if (t > i) {
				size_t shape = token_shape_len(s + i);

				if (shape && i + shape <= t)
					t = i + shape;
				if (shape || token_looks_random(s + i, t - i)) {
					put_fp(o, s + i, t - i, false);
				} else {
					put(o, s + i, t - i);
				}
				i = t;
				continue;
			}
		}
		put(o, s + i, 1);
		i++;
	}
}

/* ---- argv ----------------------------------------------------------------- */

static const struct code_rule *interpreter(const char *word)
{
	for (size_t i = 0; i < sizeof(code_rules) / sizeof(code_rules[0]); i++)
		if (exe_is(word, code_rules[i].exe))
			return &code_rules[i];
	return NULL;
}

/* How arg (a flag) of an interpreter introduces code: 0 not at all, 1 the
 * next argument is the code, 2 the code is glued (*code set). */
static int code_flag(const struct code_rule *r, const char *arg, const char **code)
{
	for (int f = 0; f < 5 && r->flags[f]; f++) {
		const char *fl = r->flags[f];
		size_t n = strlen(fl);

		if (strcmp(arg, fl) == 0)
			return 1;
		if (strncmp(arg, fl, n) != 0)
			continue;
		if (fl[1] == '-' && arg[n] == '=') { /* --eval=code */
			*code = arg + n + 1;
			return 2;
		}
		if (fl[0] == '-' && fl[1] != '-' && n == 2 && !r->cluster) { /* -cCODE */
			*code = arg + n;
			return 2;
		}
	}
	if (r->cluster && arg[0] == '-' && arg[1] != '-' && strchr(arg, 'c')) {
		for (const char *p = arg + 1; *p; p++)
			if (!isalpha((unsigned char)*p))
				return 0;
		return 1; /* bash -xc, sh -ec */
	}
	return 0;
}

/* The rule for flag arg under command cmd (after word sub, if seen). */
static const struct flag_rule *flag_rule(const char *cmd, bool sub_seen[], const char *arg, bool *glued)
{
	for (size_t i = 0; i < sizeof(flag_rules) / sizeof(flag_rules[0]); i++) {
		const struct flag_rule *r = &flag_rules[i];
		size_t n = strlen(r->flag);

		if (r->exe && (!cmd || !exe_is(cmd, r->exe)))
			continue;
		if (r->sub && !sub_seen[i])
			continue;
		if (strcmp(arg, r->flag) == 0) {
			*glued = false;
			return r;
		}
		if ((r->how & GLUED) && strncmp(arg, r->flag, n) == 0 && arg[n]) {
			*glued = true;
			return r;
		}
		if ((r->how & EQUALS) && strncmp(arg, r->flag, n) == 0 && arg[n] == '=') {
			*glued = true;
			return r;
		}
	}
	return NULL;
}

/* A word naming a tool of flag_rules (sudo docker login ...). */
static bool is_tool(const char *word)
{
	for (size_t i = 0; i < sizeof(flag_rules) / sizeof(flag_rules[0]); i++)
		if (flag_rules[i].exe && exe_is(word, flag_rules[i].exe))
			return true;
	return false;
}

static bool value_applies(unsigned how, const char *value)
{
	if (!*value)
		return false;
	if ((how & COLON_ONLY) && !strchr(value, ':'))
		return false;
	if ((how & NOT_NUMBER) && all_digits(value))
		return false;
	return true;
}

int redact_argv(const struct fp_key *key, const char *const argv[], size_t argc, char *const out[], size_t out_size)
{
	const struct code_rule *interp = NULL;
	const char *cmd = NULL;
	bool sub_seen[sizeof(flag_rules) / sizeof(flag_rules[0])] = { false };
	unsigned pending = 0; /* the value of the previous flag: 0 none, else its rule's how */
	bool pending_code = false;
	int changed = 0;

	for (size_t a = 0; a < argc; a++) {
		const char *arg = argv[a], *code = NULL, *eq;
		struct out o = { out[a], out_size, 0, key, false };
		const struct flag_rule *fr;
		bool glued;

		if (out_size)
			o.buf[0] = '\0';
		if (pending_code) {
			pending_code = false;
			put_fp(&o, arg, strlen(arg), true);
			goto next;
		}
		if (pending) {
			unsigned how = pending;

			pending = 0;
			if (!((how & NOT_FLAG) && arg[0] == '-') && value_applies(how, arg)) {
				put_fp(&o, arg, strlen(arg), false);
				goto next;
			}
		}
		if (arg[0] == '-' && arg[1]) {
			int c = interp ? code_flag(interp, arg, &code) : 0;

			if (c == 1) {
				pending_code = true;
				scan(&o, arg, strlen(arg)); /* a flag is text too */
				goto next;
			}
			if (c == 2) {
				put(&o, arg, (size_t)(code - arg));
				put_fp(&o, code, strlen(code), true);
				goto next;
			}
			fr = flag_rule(cmd, sub_seen, arg, &glued);
			if (fr && !glued) {
				pending = fr->how;
				scan(&o, arg, strlen(arg)); /* a flag is text too */
				goto next;
			}
			if (fr && glued) {
				size_t n = strlen(fr->flag) + (arg[strlen(fr->flag)] == '=');

				if (value_applies(fr->how, arg + n)) {
					put(&o, arg, n);
					put_fp(&o, arg + n, strlen(arg + n), false);
					goto next;
				}
			}
			eq = strchr(arg, '=');
			if (flag_names_secret(arg, eq ? (size_t)(eq - arg) : strlen(arg))) {
				if (!eq) {
					pending = NEXT;
					scan(&o, arg, strlen(arg));
					goto next;
				}
				if (eq[1]) {
					put(&o, arg, (size_t)(eq + 1 - arg));
					put_fp(&o, eq + 1, strlen(eq + 1), false);
					goto next;
				}
			}
		} else {
			/* a command word: the interpreter or tool whose flags follow */
			const struct code_rule *r = interpreter(arg);

			if (r)
				interp = r;
			if (a == 0 || r || is_tool(arg))
				cmd = arg;
			for (size_t i = 0; i < sizeof(flag_rules) / sizeof(flag_rules[0]); i++)
				if (flag_rules[i].sub && strcmp(arg, flag_rules[i].sub) == 0 && cmd &&
				    exe_is(cmd, flag_rules[i].exe))
					sub_seen[i] = true;
			/* deno eval 'code': the subcommand takes the code */
			if (interp && exe_is(interp->exe, "deno") && strcmp(arg, "eval") == 0) {
				pending_code = true;
				scan(&o, arg, strlen(arg)); /* a flag is text too */
				goto next;
			}
		}
		scan(&o, arg, strlen(arg));
next:
		if (o.changed)
			changed++;
	}
	return changed;
}
