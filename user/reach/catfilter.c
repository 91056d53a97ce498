/* The kernel's catalogue pre-filter, compiled (reach/catfilter.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reach/catalog.h"
#include "reach/catfilter.h"

/* The user-space side of abi/catfilter.h's hooks: linear scans of the
 * compiled tables (the kernel's are hash maps and an LPM trie holding the
 * same entries; the tests' mirror needs the same answers, not the speed). */
static const struct catfilter *cf_current; /* the tables catfilter_pass is reading */
static unsigned long cf_lookups;             /* catfilter_lookups() */

unsigned long catfilter_lookups(void) { return cf_lookups; }

/* Whether the n keys of size bytes at tab hold k (keys are zeroed past
 * their length, so equal entries are equal bytes). */
static bool table_has(const void *tab, size_t n, size_t size, const void *k)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp((const char *)tab + i * size, k, size))
			return true;
	return false;
}

/* The table of *n keys with k appended unless it was there already (*n
 * then counts it): maybe moved, NULL when out of memory (tab unchanged). */
static void *table_add(void *tab, size_t *n, size_t size, const void *k)
{
	char *grown;

	if (table_has(tab, *n, size, k))
		return tab;
	grown = reallocarray(tab, *n + 1, size);
	if (!grown)
		return NULL;
	memcpy(grown + *n * size, k, size);
	(*n)++;
	return grown;
}

static int cf_has_name(const struct reach_cf_name *k)
{
	cf_lookups++;
	return table_has(cf_current->names, cf_current->n_names, sizeof(*k), k);
}

static int cf_has_affix(const struct reach_cf_affix *k)
{
	cf_lookups++;
	return table_has(cf_current->affixes, cf_current->n_affixes, sizeof(*k), k);
}

/* What an LPM trie answers: some entry is a prefix of the key. */
static int cf_has_prefix(const struct reach_cf_prefix *k)
{
	cf_lookups++;
	for (size_t i = 0; i < cf_current->n_prefixes; i++) {
		const struct reach_cf_prefix *e = &cf_current->prefixes[i];

		if (e->prefixlen <= k->prefixlen && !memcmp(e->data, k->data, e->prefixlen / 8))
			return 1;
	}
	return 0;
}

#define CF_HAS_NAME(k) cf_has_name(k)
#define CF_HAS_AFFIX(k) cf_has_affix(k)
#define CF_HAS_PREFIX(k) cf_has_prefix(k)
#define CF_COPY(d, p, off, n) memcpy((d), (p) + (off), (n))
#define CF_BYTE(p, i) ((p)[i])
#include "abi/catfilter.h" /* again: now the steps */

/* Characters that make a pattern position non-literal (common/glob.h);
 * an unterminated '[' is literal to the glob, special here: a shorter
 * literal is still a necessary condition. */
#define SPECIALS "*?[]\\"

/* Basenames the TLS coverage learns from (sensor/tls.c lib_of_name): their
 * opens must reach user space whatever the catalogue says. */
static const char *const ALWAYS_PREFIXES[] = { "libssl.so", "libgnutls.so" };

static int add_name(struct catfilter *f, uint32_t kind, const char *s, size_t n)
{
	struct reach_cf_name k;
	void *grown;

	if (n == 0 || n > REACH_CF_NAME_MAX)
		return -EINVAL;
	memset(&k, 0, sizeof(k));
	k.kind = kind;
	k.len = (uint32_t)n;
	memcpy(k.name, s, n);
	if (kind == REACH_CF_BASENAME || kind == REACH_CF_COMPONENT) { /* the sieve is the open path's */
		f->sieve.name_lens[(kind - 1) & 1] |= 1ULL << (n - 1);
		cf_byte_add(f->sieve.name_first[(kind - 1) & 1], (unsigned char)s[0]);
	}
	grown = table_add(f->names, &f->n_names, sizeof(k), &k);
	if (!grown)
		return -ENOMEM;
	f->names = grown;
	return 0;
}

static int add_affix(struct catfilter *f, uint32_t kind, const char *s, size_t n)
{
	struct reach_cf_affix k;
	void *grown;

	if (n == 0 || n > REACH_CF_AFFIX_MAX)
		return -EINVAL;
	memset(&k, 0, sizeof(k));
	k.kind = kind;
	k.len = (uint32_t)n;
	memcpy(k.text, s, n);
	if (kind == REACH_CF_BASE_PREFIX) {
		f->sieve.prefix_lens |= 1u << (n - 1);
		cf_byte_add(f->sieve.prefix_first, (unsigned char)s[0]);
	} else {
		f->sieve.suffix_lens |= 1u << (n - 1);
		cf_byte_add(f->sieve.suffix_last, (unsigned char)s[n - 1]);
	}
	grown = table_add(f->affixes, &f->n_affixes, sizeof(k), &k);
	if (!grown)
		return -ENOMEM;
	f->affixes = grown;
	return 0;
}

static int add_prefix(struct catfilter *f, const char *s, size_t n)
{
	struct reach_cf_prefix k;
	void *grown;

	if (n > REACH_CF_PREFIX_MAX)
		n = REACH_CF_PREFIX_MAX; /* a shorter prefix: still necessary */
	memset(&k, 0, sizeof(k));
	k.prefixlen = (uint32_t)n * 8;
	memcpy(k.data, s, n);
	if (n >= 2)
		cf_byte_add(f->sieve.prefix_second, (unsigned char)s[1]);
	else
		memset(f->sieve.prefix_second, 0xff, sizeof(f->sieve.prefix_second)); /* "/" or "": every path */
	grown = table_add(f->prefixes, &f->n_prefixes, sizeof(k), &k);
	if (!grown)
		return -ENOMEM;
	f->prefixes = grown;
	return 0;
}

static size_t count_char(const char *s, size_t n, char c)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += s[i] == c;
	return k;
}

/* The last component of a pattern whose '/' are all real separators (no
 * class, no escape), when it cannot span components (no "**"); NULL
 * otherwise. A basename-only pattern is matched against the basename: all
 * of it is the last component. */
static const char *last_component(const char *p, bool basename_only)
{
	const char *slash;

	if (basename_only)
		return p;
	if (strpbrk(p, "[\\"))
		return NULL;
	slash = strrchr(p, '/');
	if (!slash || strstr(slash + 1, "**"))
		return NULL;
	return slash + 1;
}

/* The longest literal directory component ("/X/" in the pattern, X with no
 * special): every match contains "/X/", so X is one of the path's
 * directories. 0 when none. */
static size_t literal_component(const char *p, const char **at)
{
	size_t best = 0;

	if (strpbrk(p, "[\\"))
		return 0;
	for (const char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		const char *end = strchr(s + 1, '/');
		size_t n;

		if (!end)
			break;
		n = (size_t)(end - s - 1);
		if (n > best && n <= REACH_CF_NAME_MAX && strcspn(s + 1, SPECIALS) >= n) {
			best = n;
			*at = s + 1;
		}
	}
	return best;
}

/* One positive rule: the first (most selective) necessary condition of a
 * match among the forms the tables hold. f NULL: only says which form
 * (catfilter_rule_form). Returns the form's name, NULL when none fits. */
static const char *compile_rule(struct catfilter *f, const char *p, int *rc)
{
	size_t len = strlen(p), lit_prefix = strcspn(p, SPECIALS), s_len = 0, lc_lit = 0, comp;
	bool basename_only = !strchr(p, '/'), abs = p[0] == '/';
	const char *s, *slash, *lc = last_component(p, basename_only), *comp_at = NULL;

	*rc = 0;
	while (s_len < len && !strchr(SPECIALS, p[len - 1 - s_len]))
		s_len++;
	s = p + len - s_len; /* the literal suffix: every match ends with it */
	if (lc)
		lc_lit = strcspn(lc, SPECIALS);
	/* a literal basename ("id_rsa", or the "/credentials" a pattern ends with) */
	slash = memrchr(s, '/', s_len);
	if ((basename_only && lit_prefix == len) || (slash && slash + 1 < p + len)) {
		const char *base = slash ? slash + 1 : p;
		size_t n = (size_t)(p + len - base);

		if (n <= REACH_CF_NAME_MAX) {
			if (f)
				*rc = add_name(f, REACH_CF_BASENAME, base, n);
			return "basename";
		}
		if (f)
			*rc = add_affix(f, REACH_CF_BASE_SUFFIX, p + len - REACH_CF_AFFIX_MAX, REACH_CF_AFFIX_MAX);
		return "basename-suffix";
	}
	/* a deep fixed directory ("/etc/kubernetes/", "/etc/ssh/ssh_host_") */
	if (abs && count_char(p, lit_prefix, '/') >= 3) {
		if (f)
			*rc = add_prefix(f, p, lit_prefix);
		return "prefix";
	}
	/* the basename's end (".pem"): s has no '/', so it lies in the basename */
	if (s_len >= 2) {
		size_t n = s_len < REACH_CF_AFFIX_MAX ? s_len : REACH_CF_AFFIX_MAX;

		if (f)
			*rc = add_affix(f, REACH_CF_BASE_SUFFIX, p + len - n, n);
		return "basename-suffix";
	}
	/* the basename's start ("id_", ".env.") */
	if (lc_lit >= 2) {
		size_t n = lc_lit < REACH_CF_AFFIX_MAX ? lc_lit : REACH_CF_AFFIX_MAX;

		if (f)
			*rc = add_affix(f, REACH_CF_BASE_PREFIX, lc, n);
		return "basename-prefix";
	}
	/* a directory the path goes through ("/legacy_credentials/" then "**") */
	if (!basename_only && (comp = literal_component(p, &comp_at)) > 0) {
		/* a component inside the fixed prefix: the prefix says more */
		if (abs && comp_at + comp < p + lit_prefix) {
			if (f)
				*rc = add_prefix(f, p, lit_prefix);
			return "prefix";
		}
		if (f)
			*rc = add_name(f, REACH_CF_COMPONENT, comp_at, comp);
		return "component";
	}
	/* the weak forms last: one character, a shallow directory */
	if (s_len == 1) {
		if (f)
			*rc = add_affix(f, REACH_CF_BASE_SUFFIX, s, 1);
		return "basename-suffix";
	}
	if (lc_lit == 1) {
		if (f)
			*rc = add_affix(f, REACH_CF_BASE_PREFIX, lc, 1);
		return "basename-prefix";
	}
	if (abs && lit_prefix >= 2) {
		if (f)
			*rc = add_prefix(f, p, lit_prefix);
		return "prefix";
	}
	return NULL;
}

const char *catfilter_rule_form(const char *pattern)
{
	int rc;

	return pattern ? compile_rule(NULL, pattern, &rc) : NULL;
}

void catfilter_free(struct catfilter *f)
{
	if (!f)
		return;
	free(f->names);
	free(f->affixes);
	free(f->prefixes);
	memset(f, 0, sizeof(*f));
}

/* Off: every path sent; the tables are dropped so nothing stale is loaded. */
static void turn_off(struct catfilter *f)
{
	free(f->names);
	free(f->affixes);
	free(f->prefixes);
	f->names = NULL;
	f->affixes = NULL;
	f->prefixes = NULL;
	f->n_names = f->n_affixes = f->n_prefixes = 0;
	memset(&f->sieve, 0, sizeof(f->sieve));
	f->on = false;
}

/* Every literal directory of a rule (a component between two '/' without
 * a glob character): REACH_CF_DIRNAME names, read by the kernel only when a
 * directory is renamed or linked (bpf/files_syscalls.bpf.h): a file under
 * ".aws" may be a secret's by a rule the renamed path no longer meets. */
static int add_dirnames(struct catfilter *f, const char *p)
{
	for (const char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		const char *end = strchr(s + 1, '/');
		size_t n;
		bool have = false;

		if (!end)
			break;
		n = (size_t)(end - s - 1);
		if (n == 0 || n > REACH_CF_NAME_MAX || strcspn(s + 1, SPECIALS) < n)
			continue;
		for (size_t i = 0; i < f->n_names && !have; i++)
			have = f->names[i].kind == REACH_CF_DIRNAME && f->names[i].len == n &&
			       !memcmp(f->names[i].name, s + 1, n);
		if (!have) {
			int rc = add_name(f, REACH_CF_DIRNAME, s + 1, n);

			if (rc)
				return rc;
		}
	}
	return 0;
}

int catfilter_compile(struct catfilter *f, const struct catalog *c)
{
	const char *p;
	int negate, rc = 0;

	if (!f)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	if (!c)
		return -EINVAL;
	f->on = true;
	for (size_t i = 0; i < sizeof(ALWAYS_PREFIXES) / sizeof(ALWAYS_PREFIXES[0]) && rc == 0; i++)
		rc = add_affix(f, REACH_CF_BASE_PREFIX, ALWAYS_PREFIXES[i], strlen(ALWAYS_PREFIXES[i]));
	for (size_t i = 0; rc == 0 && (p = catalog_rule_pattern(c, i, &negate)); i++) {
		if (negate)
			continue; /* an exclusion only narrows matches: sending more is safe */
		if (rc == 0 && !strchr(p, '/'))
			; /* a basename anywhere: no directory */
		else if (rc == 0)
			rc = add_dirnames(f, p);
		if (rc == 0 && !compile_rule(f, p, &rc)) {
			snprintf(f->why, sizeof(f->why), "secret pattern '%.200s' has no fixed part the kernel can test",
				 p);
			turn_off(f);
			return 0;
		}
	}
	if (rc < 0) {
		turn_off(f);
		return rc;
	}
	if (f->n_names > REACH_CF_NAMES || f->n_affixes > REACH_CF_AFFIXES || f->n_prefixes > REACH_CF_PREFIXES) {
		snprintf(f->why, sizeof(f->why), "the catalogue compiles to more entries than the kernel maps hold");
		turn_off(f);
	}
	return 0;
}

bool catfilter_pass(const struct catfilter *f, const char *path)
{
	struct cf_keys k;
	struct cf_walk w = { .start = 1 };
	size_t len;
	bool pass = false;

	if (!f || !f->on || !path || path[0] != '/')
		return true;
	len = strlen(path);
	if (len >= REACH_BASE_LEN)
		return true; /* the kernel's resolution was truncated: sent */
	w.len = (uint32_t)len;
	cf_current = f;
	/* the kernel's order (bpf/filter.bpf.h) */
	if (cf_prefix(&w, path, &f->sieve, &k))
		pass = true;
	for (uint32_t i = 1; !pass && i <= w.len; i++)
		if (cf_step(&w, path, i, &f->sieve, &k))
			pass = true;
	if (!pass && cf_basename(&w, path, &f->sieve, &k))
		pass = true;
	if (!pass) {
		uint32_t lens = cf_affix_lens(&w, path, &f->sieve), l;

		while (!pass && (l = cf_affix_next(&lens)))
			if (cf_affix_len(&w, path, l, &f->sieve, &k))
				pass = true;
	}
	cf_current = NULL;
	return pass;
}
