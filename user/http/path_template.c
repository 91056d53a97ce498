#include <string.h>
#include <strings.h>
#include "http/path_template.h"

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static bool is_alpha(unsigned char c) { return is_lower(c) || is_upper(c); }
static bool is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }
static bool is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

static bool eq_nocase(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit((unsigned char)s[i]))
			return false;
	return n > 0;
}

static bool is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !is_hex((unsigned char)s[i]))
			return false;
	}
	return true;
}

static bool is_hex_id(const char *s, size_t n, size_t min_len)
{
	bool digit = false, letter = false;

	for (size_t i = 0; i < n; i++) {
		if (!is_hex((unsigned char)s[i]))
			return false;
		digit |= is_digit((unsigned char)s[i]);
		letter |= is_alpha((unsigned char)s[i]);
	}
	return n >= 24 || (n >= min_len && digit && letter);
}

/* Random-looking ids: base64url-ish with digits and both letter cases, or a
 * long run of lower-case letters and digits with plenty of each. Words like
 * models, chat, v1, gpt-4o-mini or generateContent stay. */
static bool is_b64_id(const char *s, size_t n)
{
	size_t digits = 0, up = 0, low = 0, other = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (is_digit(ch))
			digits++;
		else if (is_upper(ch))
			up++;
		else if (is_lower(ch))
			low++;
		else if (ch == '-' || ch == '_')
			other++;
		else if (!(ch == '=' && i + 2 >= n)) /* padding at the end only */
			return false;
	}
	if (n >= 16 && digits && up && low)
		return true;
	return n >= 20 && !up && !other && digits >= 4 && low >= 4;
}

/* ---- random-looking tokens ------------------------------------------------ */

enum cls { C_SEP, C_LOWER, C_UPPER, C_DIGIT, C_OTHER };

static enum cls cls_of(unsigned char c)
{
	if (is_lower(c))
		return C_LOWER;
	if (is_upper(c))
		return C_UPPER;
	if (is_digit(c))
		return C_DIGIT;
	if (c == '+' || c == '=')
		return C_OTHER;
	return C_SEP;
}

struct shape {
	size_t n;        /* letters and digits ('+', '=' too) */
	size_t runs;     /* runs of one class; "Word" (capital + lower case) is one run */
	size_t distinct; /* distinct characters */
	size_t letters, vowels; /* words are ~40% vowels, random letters ~19% */
	bool lower, upper, digit, hex_only;
};

static void measure(const char *s, size_t len, struct shape *sh)
{
	unsigned char seen[256] = { 0 };
	enum cls prev = C_SEP;

	memset(sh, 0, sizeof(*sh));
	sh->hex_only = true;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		enum cls k = cls_of(c);

		if (k == C_SEP)
			continue; /* "gpt-4o-mini-2024-07-18": words and numbers stay runs */
		sh->n++;
		if (!seen[c]++)
			sh->distinct++;
		if (k == C_LOWER || k == C_UPPER) {
			sh->letters++;
			sh->vowels += strchr("aeiouAEIOU", c) != NULL;
		}
		sh->lower |= k == C_LOWER;
		sh->upper |= k == C_UPPER;
		sh->digit |= k == C_DIGIT;
		sh->hex_only &= is_hex(c);
		if (k != prev && !(prev == C_UPPER && k == C_LOWER))
			sh->runs++;
		prev = k;
	}
}

static int classes(const struct shape *sh)
{
	return sh->lower + sh->upper + sh->digit;
}

/* Letters that read like words: a quarter or more of them vowels. */
static bool wordy(const struct shape *sh)
{
	return sh->vowels * 4 >= sh->letters;
}

/* One part (no '/', '.', ':', '@'): words, versions and camelCase names
 * have long runs of one class and repeat letters; keys do not. */
static bool part_random(const char *s, size_t len)
{
	struct shape sh;
	size_t chunk = 0, longest = 0;

	measure(s, len, &sh);
	if (sh.n < 16)
		return false;
	/* words joined by '-' or '_' ("reach-e2e-9qhlwn6p", a temporary
	 * directory): short chunks are names; base64url keys have long ones */
	for (size_t i = 0; i < len; i++) {
		chunk = s[i] == '-' || s[i] == '_' ? 0 : chunk + 1;
		if (chunk > longest)
			longest = chunk;
	}
	if (longest < 10 && sh.n < 24)
		return false;
	/* a hex key or digest: 16+ hex digits mixing digits and letters */
	if (sh.hex_only && sh.digit && (sh.lower || sh.upper))
		return true;
	if (classes(&sh) < 2)
		return false;
	/* classes switch every few characters: random base62/base64url */
	if (sh.n < 3 * sh.runs)
		return true;
	/* digits in it, few repeated characters, still short runs */
	return sh.digit && sh.n < 4 * sh.runs && sh.distinct * 4 >= sh.n * 3 && !wordy(&sh);
}

bool token_looks_random(const char *s, size_t n)
{
	struct shape sh;
	size_t start = 0;

	if (n < 16)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '/' && s[i] != '.' && s[i] != ':' && s[i] != '@')
			continue;
		if (part_random(s + start, i - start))
			return true;
		start = i + 1;
	}
	/* base64 with '/' in it (an AWS secret access key): judged whole */
	measure(s, n, &sh);
	return sh.n >= 20 && classes(&sh) == 3 && sh.n < 4 * sh.runs && sh.distinct * 2 >= sh.n && !wordy(&sh);
}

/* ---- segments ------------------------------------------------------------- */

/* Segments whose next segment is the secret itself: /v1/keys/KEY/rotate,
 * /api/tokens/TOKEN, /webhooks/ID/TOKEN (a number in between is an id). */
static const char *const secret_parents[] = {
	"keys", "key", "apikeys", "api-keys", "api_keys", "tokens", "token", "secrets", "webhooks",
	"webhook", "hooks", "credentials", "passwords",
};

static bool is_secret_parent(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(secret_parents) / sizeof(secret_parents[0]); i++)
		if (eq_nocase(s, n, secret_parents[i]))
			return true;
	return false;
}

/* Telegram: bot<digits>:<token> */
static bool is_bot_token(const char *s, size_t n)
{
	size_t i = 3, d;

	if (n < 8 || strncasecmp(s, "bot", 3) != 0)
		return false;
	for (d = i; i < n && is_digit((unsigned char)s[i]); i++)
		;
	return i > d && i + 1 < n && s[i] == ':';
}

/* header.payload.signature, each base64url, the header starting "eyJ" */
static bool is_jwt(const char *s, size_t n)
{
	size_t dots = 0;

	if (n < 16 || strncmp(s, "eyJ", 3) != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.')
			dots++;
		else if (!is_alnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '=')
			return false;
	}
	return dots == 2;
}

/* Slack workspace / bot ids: T or B, then 8+ upper-case letters and digits */
static bool is_slack_id(const char *s, size_t n, char first)
{
	if (n < 9 || s[0] != first)
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_upper((unsigned char)s[i]) && !is_digit((unsigned char)s[i]))
			return false;
	return true;
}

enum path_seg_class path_segment_class(struct path_tmpl_state *st, const char *seg, size_t len, size_t *keep_len)
{
	const char *semi = memchr(seg, ';', len);
	int slack = st->slack, secret_next = st->secret_next;

	if (semi)
		len = (size_t)(semi - seg);
	*keep_len = len;
	st->slack = 0;
	st->secret_next = 0;
	if (len == 0)
		return PATH_SEG_KEEP;
	/* /services/T.../B.../<secret> (Slack incoming webhooks) */
	if (slack == 1 && is_slack_id(seg, len, 'T')) {
		st->slack = 2;
		return PATH_SEG_ID;
	}
	if (slack == 2 && is_slack_id(seg, len, 'B')) {
		st->slack = 3;
		return PATH_SEG_ID;
	}
	if (slack == 3)
		return PATH_SEG_SECRET;
	if (secret_next) {
		if (all_digits(seg, len) || is_uuid(seg, len)) {
			st->secret_next = 1; /* /webhooks/<id>/<token> */
			return PATH_SEG_ID;
		}
		return PATH_SEG_SECRET;
	}
	if (is_secret_parent(seg, len)) {
		st->secret_next = 1;
		return PATH_SEG_KEEP;
	}
	if (eq_nocase(seg, len, "services"))
		st->slack = 1;
	if (is_bot_token(seg, len) || is_jwt(seg, len))
		return PATH_SEG_SECRET;
	if (all_digits(seg, len) || is_uuid(seg, len))
		return PATH_SEG_ID;
	if (is_hex_id(seg, len, 24) || is_b64_id(seg, len))
		return PATH_SEG_RANDOM; /* long random ids may be keys themselves */
	if (token_looks_random(seg, len))
		return PATH_SEG_SECRET;
	if (is_hex_id(seg, len, 12))
		return PATH_SEG_ID;
	return PATH_SEG_KEEP;
}

bool path_segment_is_credential(const char *seg, size_t len)
{
	size_t digits = 0, letters = 0;

	if (is_bot_token(seg, len) || is_jwt(seg, len) || token_looks_random(seg, len))
		return true;
	for (size_t i = 0; i < len; i++) {
		digits += is_digit((unsigned char)seg[i]);
		letters += is_alpha((unsigned char)seg[i]);
	}
	return len >= 16 && digits && letters;
}

/* Substrings of query parameter names that carry credentials, without case. */
static const char *const secret_query_words[] = {
	"token", "key", "secret", "pass", "auth", "code", "sig", "session", "sid", "credential",
	"jwt", "bearer", "otp", "nonce", "ticket",
};

bool query_param_is_secret(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(secret_query_words) / sizeof(secret_query_words[0]); i++) {
		size_t w = strlen(secret_query_words[i]);

		for (size_t at = 0; w <= n && at <= n - w; at++)
			if (strncasecmp(name + at, secret_query_words[i], w) == 0)
				return true;
	}
	return false;
}
