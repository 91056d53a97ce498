#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "reach/catalog.h"
#include "common/glob.h"
#include "reach/path.h"

#define CATEGORY_MAX_LEN 63
#define DEFAULT_CATEGORY "custom"

/* Characters that make a pattern position non-literal (reach/glob.h). */
#define GLOB_SPECIALS "*?[]\\"

struct catalog_rule {
	char *pattern;      /* without the leading '!' */
	char *category;
	bool negate;
	bool basename_only; /* pattern has no '/': compared with the basename */
	/* The literal text before the first and after the last glob character
	 * ('*', '?', '[', '\\'). Any match must start and end with them, so
	 * comparing them rules out nearly every rule for a path before the glob
	 * engine runs: matching was 90 % of the agent's CPU per event without. */
	size_t prefix_len, suffix_len;
	/* The longest run of literal characters anywhere in the pattern: a
	 * match contains it, so a path without it is ruled out by a strstr.
	 * Catches what prefix and suffix cannot: "**" "/.ssh/id_*" has neither.
	 * NULL when the pattern has no run longer than the prefix or suffix. */
	char *needle;
	/* LITERAL*LITERAL, one '*' and nothing else special: once prefix and
	 * suffix match, it matches exactly when the middle holds no '/'. The
	 * hot built-ins ("*.key", "*.pem") need no glob engine. */
	bool single_star;
};

struct catalog {
	struct catalog_rule *rules;
	size_t count;
	size_t capacity;
};

/* Order matters only among positive rules: the specific service-account
 * files must precede the catch-all secrets directories. The "**" + "/token"
 * forms also catch the kubelet's atomic-writer layout, where the file really
 * opened is serviceaccount/..2024_01_01_00_00_00.123/token. */
static const struct {
	const char *pattern;
	const char *category;
} BUILTIN_RULES[] = {
	{ "/var/run/secrets/kubernetes.io/serviceaccount/**/token", "k8s-sa-token" },
	{ "/run/secrets/kubernetes.io/serviceaccount/**/token", "k8s-sa-token" },
	{ "/var/run/secrets/kubernetes.io/serviceaccount/**/ca.crt", "k8s-sa-ca" },
	{ "/run/secrets/kubernetes.io/serviceaccount/**/ca.crt", "k8s-sa-ca" },
	/* Also covers eks.amazonaws.com and tokens.istio.io projected tokens and
	 * Docker/Compose secrets. */
	{ "/var/run/secrets/**", "k8s-secret" },
	{ "/run/secrets/**", "k8s-secret" },

	{ "**/.aws/credentials", "aws-credentials" },
	{ "**/.aws/config", "aws-credentials" },

	{ "**/.config/gcloud/application_default_credentials.json", "gcp-credentials" },
	{ "**/.config/gcloud/credentials.db", "gcp-credentials" },
	{ "**/.config/gcloud/access_tokens.db", "gcp-credentials" },
	{ "**/.config/gcloud/legacy_credentials/**", "gcp-credentials" },

	{ "**/.azure/accessTokens.json", "azure-credentials" },
	{ "**/.azure/msal_token_cache.*", "azure-credentials" },
	{ "**/.azure/service_principal_entries.json", "azure-credentials" },

	{ "**/.kube/config", "kubeconfig" },
	{ "/etc/kubernetes/*.conf", "kubeconfig" },
	{ "/etc/kubernetes/pki/**", "kubeconfig" },

	{ "**/.docker/config.json", "docker-config" },

	{ "**/.netrc", "netrc" },
	{ "**/_netrc", "netrc" },

	{ "**/.git-credentials", "git-credentials" },

	{ "**/.vault-token", "vault-token" },

	{ "**/.ssh/id_*", "ssh-key" },
	{ "!**/.ssh/*.pub", "ssh-key" },
	{ "/etc/ssh/ssh_host_*_key", "ssh-key" },

	{ "*.pem", "private-key" },
	{ "*.key", "private-key" },
	{ "*.p12", "private-key" },
	{ "*.pfx", "private-key" },
	/* Public CA bundles: read by every TLS client, they expose nothing. */
	{ "!/etc/ssl/certs/**", "private-key" },
	{ "!/usr/share/ca-certificates/**", "private-key" },
	{ "!/etc/pki/ca-trust/**", "private-key" },
	{ "!/usr/lib/ssl/cert.pem", "private-key" },
	{ "!**/certifi/cacert.pem", "private-key" },

	{ ".env", "dotenv" },
	{ ".env.*", "dotenv" },
	/* Committed templates hold placeholders, not secrets. */
	{ "!.env.example", "dotenv" },
	{ "!.env.sample", "dotenv" },
	{ "!.env.template", "dotenv" },
	{ "!.env.dist", "dotenv" },
};

struct catalog *catalog_new(void)
{
	return calloc(1, sizeof(struct catalog));
}

static void free_rule(struct catalog_rule *rule)
{
	free(rule->pattern);
	free(rule->category);
	free(rule->needle);
}

/* Drops every rule from index keep on: how each adder undoes partial work. */
static void truncate_rules(struct catalog *c, size_t keep)
{
	while (c->count > keep)
		free_rule(&c->rules[--c->count]);
}

void catalog_free(struct catalog *c)
{
	if (!c)
		return;
	truncate_rules(c, 0);
	free(c->rules);
	free(c);
}

static int reserve_one_rule(struct catalog *c)
{
	size_t new_capacity;
	struct catalog_rule *grown;

	if (c->count < c->capacity)
		return 0;
	new_capacity = c->capacity ? c->capacity * 2 : 64;
	grown = reallocarray(c->rules, new_capacity, sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	c->rules = grown;
	c->capacity = new_capacity;
	return 0;
}

/* Sets rule->needle to the longest run of characters no glob special
 * touches (a character after '\\' is left out: it is literal, but the run
 * logic stays simple), when it is longer than the prefix and the suffix.
 * Patterns with a class get none. */
static int longest_literal_run(const char *pattern, struct catalog_rule *rule)
{
	size_t best = 0, best_at = 0;

	if (strchr(pattern, '['))
		return 0; /* the letters of a class are not literal: no needle */
	for (size_t i = 0; pattern[i];) {
		size_t n = strcspn(pattern + i, GLOB_SPECIALS);

		if (n > best) {
			best = n;
			best_at = i;
		}
		i += n;
		if (pattern[i] == '\\' && pattern[i + 1])
			i++; /* skip the escaped character */
		if (pattern[i])
			i++;
	}
	if (best <= rule->prefix_len || best <= rule->suffix_len)
		return 0;
	rule->needle = strndup(pattern + best_at, best);
	return rule->needle ? 0 : -ENOMEM;
}

/* Stores an already validated rule. */
static int append_rule(struct catalog *c, const char *pattern, const char *category, bool negate)
{
	struct catalog_rule rule = {
		.negate = negate,
		.basename_only = strchr(pattern, '/') == NULL,
	};
	size_t len = strlen(pattern);

	rule.prefix_len = strcspn(pattern, GLOB_SPECIALS);
	if (rule.prefix_len == len) {
		rule.suffix_len = 0; /* no wildcard: the prefix is the whole pattern */
	} else {
		while (rule.suffix_len < len && !strchr(GLOB_SPECIALS, pattern[len - 1 - rule.suffix_len]))
			rule.suffix_len++;
		/* "x\*" escapes the last star: the char after a backslash is no
		 * longer known to be literal, so keep it out of the suffix */
		if (rule.suffix_len && len - rule.suffix_len >= 1 && pattern[len - rule.suffix_len - 1] == '\\')
			rule.suffix_len--;
	}
	rule.single_star = strcspn(pattern, GLOB_SPECIALS) == rule.prefix_len && pattern[rule.prefix_len] == '*' &&
			   rule.prefix_len + 1 + rule.suffix_len == len;
	if (reserve_one_rule(c) < 0)
		return -ENOMEM;
	rule.pattern = strdup(pattern);
	rule.category = strdup(category);
	if (!rule.single_star && longest_literal_run(pattern, &rule) < 0) {
		free_rule(&rule);
		return -ENOMEM;
	}
	if (!rule.pattern || !rule.category) {
		free_rule(&rule);
		return -ENOMEM;
	}
	c->rules[c->count++] = rule;
	return 0;
}

static bool category_is_valid(const char *category)
{
	size_t len = strlen(category);

	if (len == 0 || len > CATEGORY_MAX_LEN)
		return false;
	for (const char *p = category; *p != '\0'; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-';

		if (!ok)
			return false;
	}
	return true;
}

/* Why pattern (the part after any '!') cannot be a rule, or NULL if it can. */
static const char *pattern_problem(const char *pattern)
{
	size_t len = strlen(pattern);

	if (len == 0)
		return "empty pattern";
	if (pattern[0] == '~') {
		if (pattern[1] != '/')
			return "'~' must be followed by '/' (\"~user\" is not supported)";
		if (pattern[2] == '\0')
			return "nothing after '~/'";
	} else if (pattern[0] != '/' && strncmp(pattern, "**/", 3) != 0 &&
		   strchr(pattern, '/') != NULL) {
		return "pattern must start with '/', '**/' or '~/', or contain no '/'";
	}
	/* Normalized paths never end in '/', so such a rule could never match. */
	if (pattern[len - 1] == '/')
		return "pattern ends with '/' and would never match a file";
	return NULL;
}

/* "~/x" -> "/root/x" and "/home/STAR/x": root's home is not under /home. */
static int append_home_rules(struct catalog *c, const char *rest, const char *category,
			     bool negate)
{
	static const char *const home_prefixes[] = { "/root", "/home/*" };
	size_t start = c->count;

	for (size_t i = 0; i < sizeof(home_prefixes) / sizeof(home_prefixes[0]); i++) {
		char *expanded;
		int rc;

		if (asprintf(&expanded, "%s%s", home_prefixes[i], rest) < 0) {
			truncate_rules(c, start);
			return -ENOMEM;
		}
		rc = append_rule(c, expanded, category, negate);
		free(expanded);
		if (rc < 0) {
			truncate_rules(c, start);
			return rc;
		}
	}
	return 0;
}

/* catalog_add with a human-readable reason for -EINVAL, for pattern files. */
static int add_rule_explained(struct catalog *c, const char *pattern, const char *category,
			      const char **reason)
{
	bool negate;

	*reason = NULL;
	if (!c || !pattern) {
		*reason = "missing catalogue or pattern";
		return -EINVAL;
	}
	if (!category)
		category = DEFAULT_CATEGORY;
	if (!category_is_valid(category)) {
		*reason = "category must be 1-63 characters from A-Z a-z 0-9 . _ -";
		return -EINVAL;
	}
	negate = pattern[0] == '!';
	if (negate)
		pattern++;
	*reason = pattern_problem(pattern);
	if (*reason)
		return -EINVAL;
	if (pattern[0] == '~')
		return append_home_rules(c, pattern + 1, category, negate);
	return append_rule(c, pattern, category, negate);
}

int catalog_add(struct catalog *c, const char *pattern, const char *category)
{
	const char *reason;

	return add_rule_explained(c, pattern, category, &reason);
}

int catalog_add_builtin(struct catalog *c)
{
	size_t start;

	if (!c)
		return -EINVAL;
	start = c->count;
	for (size_t i = 0; i < sizeof(BUILTIN_RULES) / sizeof(BUILTIN_RULES[0]); i++) {
		int rc = catalog_add(c, BUILTIN_RULES[i].pattern, BUILTIN_RULES[i].category);

		if (rc < 0) {
			truncate_rules(c, start);
			return rc;
		}
	}
	return 0;
}


#define FIELD_BLANKS " \t\r\n\v\f"

/* Cuts the next blank-separated field out of *cursor in place. NULL at the
 * end of the line or at a '#', which starts a comment. */
static char *next_field(char **cursor)
{
	char *start = *cursor + strspn(*cursor, FIELD_BLANKS);
	char *end;

	if (*start == '\0' || *start == '#') {
		*cursor = start + strlen(start);
		return NULL;
	}
	end = start + strcspn(start, FIELD_BLANKS);
	*cursor = end;
	if (*end != '\0') {
		*end = '\0';
		*cursor = end + 1;
	}
	return start;
}

/* Adds the rule on one line (nothing for blank and comment lines). */
static int add_line(struct catalog *c, char *line, size_t line_len, const char **reason)
{
	char *cursor = line;
	char *pattern;
	char *category;

	*reason = NULL;
	if (strlen(line) != line_len) {
		*reason = "line contains a NUL byte";
		return -EINVAL;
	}
	pattern = next_field(&cursor);
	if (!pattern)
		return 0;
	category = next_field(&cursor);
	if (category && next_field(&cursor)) {
		*reason = "unexpected text after the category";
		return -EINVAL;
	}
	return add_rule_explained(c, pattern, category, reason);
}

/* Reads every line of f into c; on error reports it and returns < 0,
 * leaving cleanup to the caller. */
static int add_lines(struct catalog *c, FILE *f, const char *file, char *err, size_t err_size)
{
	char *line = NULL;
	size_t line_cap = 0;
	size_t line_no = 0;
	ssize_t line_len;
	int rc = 0;

	while (rc == 0 && (line_len = getline(&line, &line_cap, f)) >= 0) {
		const char *reason;

		line_no++;
		rc = add_line(c, line, (size_t)line_len, &reason);
		if (rc < 0)
			format_error(err, err_size, "%s:%zu: %s", file, line_no,
				  reason ? reason : strerror(-rc));
	}
	if (rc == 0 && ferror(f)) {
		rc = errno ? -errno : -EIO;
		format_error(err, err_size, "%s: %s", file, strerror(-rc));
	}
	free(line);
	return rc;
}

int catalog_add_file(struct catalog *c, const char *file, char *err, size_t err_size)
{
	size_t start;
	FILE *f;
	int rc;

	format_error(err, err_size, "%s", "");
	if (!c || !file) {
		format_error(err, err_size, "missing catalogue or file name");
		return -EINVAL;
	}
	f = fopen(file, "re");
	if (!f) {
		rc = -errno;
		format_error(err, err_size, "%s: %s", file, strerror(-rc));
		return rc;
	}
	start = c->count;
	errno = 0;
	rc = add_lines(c, f, file, err, err_size);
	if (rc < 0)
		truncate_rules(c, start);
	/* Read-only stream: fclose cannot lose data, its result tells nothing new. */
	(void)fclose(f);
	return rc;
}

static bool rule_matches(const struct catalog_rule *rule, const char *abs_path)
{
	const char *subject = rule->basename_only ? path_basename(abs_path) : abs_path;
	size_t len = strlen(subject);

	/* cheap necessary conditions first (see prefix_len) */
	if (strncmp(subject, rule->pattern, rule->prefix_len) != 0)
		return false;
	if (rule->suffix_len &&
	    (len < rule->suffix_len ||
	     memcmp(subject + len - rule->suffix_len, rule->pattern + strlen(rule->pattern) - rule->suffix_len,
		    rule->suffix_len) != 0))
		return false;
	if (rule->prefix_len == strlen(rule->pattern))
		return strcmp(subject, rule->pattern) == 0; /* a literal pattern */
	if (rule->single_star)
		return len >= rule->prefix_len + rule->suffix_len &&
		       !memchr(subject + rule->prefix_len, '/', len - rule->prefix_len - rule->suffix_len);
	if (rule->needle && !strstr(subject, rule->needle))
		return false;
	return glob_match(rule->pattern, subject);
}

const char *catalog_match(const struct catalog *c, const char *abs_path)
{
	const char *category = NULL;

	if (!c || !abs_path)
		return NULL;
	for (size_t i = 0; i < c->count; i++) {
		const struct catalog_rule *rule = &c->rules[i];

		if (rule->negate) {
			if (rule_matches(rule, abs_path))
				return NULL;
		} else if (!category && rule_matches(rule, abs_path)) {
			category = rule->category;
		}
	}
	return category;
}

size_t catalog_size(const struct catalog *c)
{
	return c ? c->count : 0;
}

size_t catalog_pattern_literal_len(const char *pattern)
{
	return pattern ? strcspn(pattern, GLOB_SPECIALS) : 0;
}

const char *catalog_rule_pattern(const struct catalog *c, size_t i, int *negate)
{
	if (!c || i >= c->count)
		return NULL;
	if (negate)
		*negate = c->rules[i].negate;
	return c->rules[i].pattern;
}

int catalog_add_entry(struct catalog *c, const char *entry)
{
	char *copy = strdup(entry), *category;
	int rc;

	if (!copy)
		return -ENOMEM;
	category = copy + strcspn(copy, " \t");
	if (*category) {
		*category++ = '\0';
		category += strspn(category, " \t");
	}
	rc = catalog_add(c, copy, *category ? category : NULL);
	free(copy);
	return rc;
}
