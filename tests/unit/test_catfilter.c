/* The kernel's catalogue pre-filter (reach/catfilter.h): never a false drop.
 *
 * The property: for every path the user-space catalogue classes as a secret,
 * the filter's verdict (computed by catfilter_pass with the compiled tables
 * and the steps of abi/catfilter.h, the code the kernel runs) is "send".
 * Paths: instances of every catalogue pattern (built-in and sample policy
 * globs, wildcards filled with random text), random paths built from
 * catalogue-looking and ordinary components, and mutations of both. The
 * test also counts how many paths that match nothing are dropped, so a
 * filter that sends everything cannot pass it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "reach/catalog.h"
#include "reach/catfilter.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Globs a policy file might add (secrets.pattern_files): every form. */
static const char *const POLICY_GLOBS[] = {
	"/etc/llm/keys/*.key",
	"/srv/app/config/secret-*.yaml",
	"~/.config/myapp/token",
	"**/vault/*/creds?.json",
	"/opt/[ab]pp/**",
	"*.tfstate",
	"**/.terraform/**",
	"/data/**/db_pass*",
	"**/secrets/*",
	"api_key.txt",
	"~/.pgpass",
	"**/.npmrc",
	"/var/lib/app/*/keyring",
	"x?",
	"**/deploy/**/[!.]*-sealed.json",
	"/etc/a\\*b/thing",
	"**/averyveryveryveryveryverylongdirectorynamethatexceedsnothing/*",
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static void rnd_word(char *out, size_t max)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789._-";
	size_t n = 1 + rnd(max < 12 ? (uint32_t)max : 12);

	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[rnd(sizeof(alphabet) - 1)];
	out[n] = '\0';
}

/* Appends s to out (cap bytes), silently stopping at the end. */
static void put(char *out, size_t cap, const char *s)
{
	size_t len = strlen(out);

	snprintf(out + len, cap - len, "%s", s);
}

/* A path matching pattern (most of the time: a class or a '?' filled with a
 * letter the class excludes just makes a non-match, still a useful path). */
static void instantiate(const char *p, char *out, size_t cap)
{
	char w[32];

	out[0] = '\0';
	if (p[0] == '*' && p[1] == '*' && p[2] == '/') {
		/* "**" + "/x": some directories first (or none) */
		for (uint32_t n = rnd(4); n > 0; n--) {
			rnd_word(w, 10);
			put(out, cap, "/");
			put(out, cap, w);
		}
		p += 2;
	} else if (!strchr(p, '/')) {
		/* a basename pattern: anywhere */
		for (uint32_t n = 1 + rnd(3); n > 0; n--) {
			rnd_word(w, 10);
			put(out, cap, "/");
			put(out, cap, w);
		}
		put(out, cap, "/");
	}
	while (*p) {
		char one[2] = { 0, 0 };

		if (p[0] == '*' && p[1] == '*') {
			for (uint32_t n = rnd(3); n > 0; n--) {
				rnd_word(w, 8);
				put(out, cap, w);
				put(out, cap, "/");
			}
			rnd_word(w, 8);
			put(out, cap, w);
			p += 2;
		} else if (*p == '*') {
			if (rnd(3)) {
				rnd_word(w, 8);
				put(out, cap, w);
			}
			p++;
		} else if (*p == '?') {
			one[0] = 'a' + rnd(26);
			put(out, cap, one);
			p++;
		} else if (*p == '[') {
			const char *end = strchr(p + 1, ']');

			one[0] = (p[1] == '!' || p[1] == '^') ? 'z' : p[1];
			put(out, cap, one);
			p = end ? end + 1 : p + 1;
		} else if (*p == '\\' && p[1]) {
			one[0] = p[1];
			put(out, cap, one);
			p += 2;
		} else {
			one[0] = *p++;
			put(out, cap, one);
		}
	}
}

static const char *const COMPONENTS[] = {
	"home", "root", "etc", "var", "run", "secrets", "kubernetes.io", "serviceaccount", "..data", "..2024_01_01",
	".aws", ".ssh", ".kube", ".config", "gcloud", ".azure", ".docker", "ssl", "certs", "private", "pki",
	"usr", "lib", "python3.12", "site-packages", "node_modules", "src", "app", "tmp", "vault", "deploy",
	".terraform", "data", "opt", "app", "bpp", "llm", "keys", "srv", "config", "legacy_credentials",
	"id_rsa", "id_ed25519.pub", "config", "credentials", "token", "ca.crt", "tls.key", "server.pem",
	".env", ".env.local", ".env.example", "__init__.py", "index.js", "package.json", "README.md", "x1",
	"secret-db.yaml", "creds1.json", "db_password", "keyring", "main.tfstate", ".npmrc", ".pgpass",
	"libssl.so.3", "libgnutls.so.30", "ssh_host_rsa_key", "cacert.pem", "msal_token_cache.bin", ".netrc",
};

static void random_path(char *out, size_t cap)
{
	char w[32];

	out[0] = '\0';
	for (uint32_t n = 1 + rnd(7); n > 0; n--) {
		put(out, cap, "/");
		if (rnd(3)) {
			put(out, cap, COMPONENTS[rnd(ARRAY_LEN(COMPONENTS))]);
		} else {
			rnd_word(w, 14);
			put(out, cap, w);
		}
	}
}

/* One character changed, dropped or doubled: near misses of a secret. */
static void mutate(char *path)
{
	size_t len = strlen(path), at;

	if (len < 3)
		return;
	at = 1 + rnd((uint32_t)len - 1);
	switch (rnd(3)) {
	case 0:
		path[at] = "abz._-/"[rnd(7)];
		break;
	case 1:
		memmove(path + at, path + at + 1, len - at);
		break;
	default:
		if (len + 2 < 512) {
			memmove(path + at + 1, path + at, len - at + 1);
		}
		break;
	}
}

static struct catalog *full_catalog(void)
{
	struct catalog *c = catalog_new();

	assert_non_null(c);
	assert_int_equal(catalog_add_builtin(c), 0);
	for (size_t i = 0; i < ARRAY_LEN(POLICY_GLOBS); i++)
		if (catalog_add(c, POLICY_GLOBS[i], "custom"))
			fail_msg("policy glob %s rejected", POLICY_GLOBS[i]);
	return c;
}

struct tally {
	size_t secrets, sent_secrets, others, dropped_others;
};

static void judge(const struct catalog *c, const struct catfilter *f, const char *path, struct tally *t)
{
	bool secret = catalog_match(c, path) != NULL;
	bool pass = catfilter_pass(f, path);

	if (secret) {
		t->secrets++;
		if (!pass)
			fail_msg("false drop: %s is a secret (%s) but the kernel filter drops it", path,
				 catalog_match(c, path));
		t->sent_secrets++;
	} else {
		t->others++;
		t->dropped_others += !pass;
	}
}

static void test_property_no_false_drop(void **state)
{
	struct catalog *c = full_catalog();
	struct catfilter f;
	struct tally t = { 0 };
	char path[512];
	int negate;
	const char *p;

	(void)state;
	assert_int_equal(catfilter_compile(&f, c), 0);
	assert_true(f.on);
	/* every rule's instances, many times each */
	for (size_t i = 0; (p = catalog_rule_pattern(c, i, &negate)); i++) {
		for (int k = 0; k < 300; k++) {
			instantiate(p, path, sizeof(path));
			judge(c, &f, path, &t);
			mutate(path);
			judge(c, &f, path, &t);
		}
	}
	/* random paths of catalogue-looking and ordinary components */
	for (int k = 0; k < 60000; k++) {
		random_path(path, sizeof(path));
		judge(c, &f, path, &t);
		if (k % 4 == 0) {
			mutate(path);
			judge(c, &f, path, &t);
		}
	}
	print_message("catfilter property: %zu secret paths, all sent; %zu others, %zu dropped (%.1f%%)\n", t.secrets,
		      t.others, t.dropped_others, 100.0 * (double)t.dropped_others / (double)t.others);
	assert_true(t.secrets > 10000);
	assert_true(t.others > 10000);
	/* the filter must drop most non-secrets, or it is no filter */
	assert_true(t.dropped_others * 2 > t.others);
	catfilter_free(&f);
	catalog_free(c);
}

/* Ordinary files of the floods the filter is for: all dropped. */
static void test_ordinary_files_are_dropped(void **state)
{
	static const char *const ORDINARY[] = {
		"/usr/lib/python3.12/json/__init__.py",
		"/usr/lib/python3.12/site-packages/requests/adapters.py",
		"/app/node_modules/lodash/index.js",
		"/home/u/project/src/main.c",
		"/etc/passwd",
		"/etc/ssl/certs/ca-certificates.crt",
		"/tmp/kfilter/f0001.txt",
		"/usr/lib/x86_64-linux-gnu/libc.so.6",
	};
	struct catalog *c = catalog_new();
	struct catfilter f;

	(void)state;
	assert_int_equal(catalog_add_builtin(c), 0);
	assert_int_equal(catfilter_compile(&f, c), 0);
	assert_true(f.on);
	for (size_t i = 0; i < ARRAY_LEN(ORDINARY); i++) {
		unsigned long before = catfilter_lookups();

		if (catfilter_pass(&f, ORDINARY[i]))
			fail_msg("%s sent: it matches nothing", ORDINARY[i]);
		/* the sieve: a prefix, a lookup per directory component, the
		 * basename and each affix length would be ~10 lookups here; the
		 * built-in catalogue's bytes and lengths leave at most 3 */
		if (catfilter_lookups() - before > 3)
			fail_msg("%s: %lu table lookups (the sieve lets too many through)", ORDINARY[i],
				 catfilter_lookups() - before);
	}
	catfilter_free(&f);
	catalog_free(c);
}

/* Secrets in every built-in form, and what user space must see anyway. */
static void test_builtin_forms_are_sent(void **state)
{
	static const char *const SENT[] = {
		"/var/run/secrets/kubernetes.io/serviceaccount/token",  /* a directory prefix */
		"/run/secrets/db",                                        /* another */
		"/etc/kubernetes/admin.conf",                             /* a prefix before a glob */
		"/etc/ssh/ssh_host_ed25519_key",                          /* a prefix inside a name */
		"/home/u/.aws/credentials",                               /* a basename */
		"/srv/x/.env",                                            /* a basename pattern */
		"/srv/x/.env.production",                                 /* a basename prefix */
		"/srv/x/tls.key",                                         /* a suffix */
		"/root/.ssh/id_ed25519",                                  /* a prefix of the last component */
		"/home/u/.config/gcloud/legacy_credentials/me/adc.json",  /* a directory component */
		"/home/u/.azure/msal_token_cache.json",
		"/usr/lib/x86_64-linux-gnu/libssl.so.3",                  /* TLS coverage learns from it */
		"/usr/lib/libgnutls.so.30",
		"/x/..data/y",                                            /* what stable naming rewrites */
		"/x/..2026_01_01_00_00_00.1/y",
		"/x//y", "/x/./y", "/x/../y",                              /* not normalized: user space would */
	};
	struct catalog *c = catalog_new();
	struct catfilter f;

	(void)state;
	assert_int_equal(catalog_add_builtin(c), 0);
	assert_int_equal(catfilter_compile(&f, c), 0);
	for (size_t i = 0; i < ARRAY_LEN(SENT); i++)
		if (!catfilter_pass(&f, SENT[i]))
			fail_msg("%s dropped", SENT[i]);
	catfilter_free(&f);
	catalog_free(c);
}

static void test_rule_forms(void **state)
{
	static const struct {
		const char *pattern, *form;
	} CASES[] = {
		{ "/var/run/secrets/**", "prefix" },
		{ "/etc/ssh/ssh_host_*_key", "prefix" },
		{ "**/.aws/credentials", "basename" },
		{ ".env", "basename" },
		{ "/home/*/.aws/credentials", "basename" },
		{ "*.pem", "basename-suffix" },
		{ ".env.*", "basename-prefix" },
		{ "**/.ssh/id_*", "basename-prefix" },
		{ "**/.config/gcloud/legacy_credentials/**", "component" },
		{ "/opt/**", "prefix" },
		{ "x?", "basename-prefix" },
		{ "*", NULL },
		{ "**/*", NULL },
		{ "/**", NULL },
		{ "/*/*", NULL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(CASES); i++) {
		const char *got = catfilter_rule_form(CASES[i].pattern);

		if ((got == NULL) != (CASES[i].form == NULL) || (got && strcmp(got, CASES[i].form)))
			fail_msg("%s: form %s, want %s", CASES[i].pattern, got ? got : "(none)",
				 CASES[i].form ? CASES[i].form : "(none)");
	}
}

/* A rule no table can express turns the filter off, with the reason, and
 * then every path is sent. */
static void test_uncompilable_rule_turns_the_filter_off(void **state)
{
	struct catalog *c = catalog_new();
	struct catfilter f;

	(void)state;
	assert_int_equal(catalog_add_builtin(c), 0);
	assert_int_equal(catalog_add(c, "**/*", "custom"), 0);
	assert_int_equal(catfilter_compile(&f, c), 0);
	assert_false(f.on);
	assert_non_null(strstr(f.why, "'**/*'"));
	assert_int_equal(f.n_names + f.n_affixes + f.n_prefixes, 0);
	assert_true(catfilter_pass(&f, "/usr/lib/python3.12/json/__init__.py"));
	catfilter_free(&f);
	catalog_free(c);
}

/* An exclusion only narrows: it adds nothing and removes nothing. */
static void test_exclusions_are_ignored(void **state)
{
	struct catalog *c = catalog_new();
	struct catfilter f;

	(void)state;
	assert_int_equal(catalog_add(c, "*.pem", "k"), 0);
	assert_int_equal(catalog_add(c, "!**/certifi/cacert.pem", "k"), 0);
	assert_int_equal(catfilter_compile(&f, c), 0);
	assert_true(f.on);
	assert_true(catfilter_pass(&f, "/x/certifi/cacert.pem")); /* sent; user space excludes it */
	assert_false(catfilter_pass(&f, "/x/certifi/cacert.crt"));
	catfilter_free(&f);
	catalog_free(c);
}

/* An empty catalogue sends only what the TLS coverage needs. */
/* The affix step tries only the lengths cf_affix_lens names: cf_affix_next
 * yields each of them, lowest first, once. */
static void test_affix_candidates_in_order(void **state)
{
	(void)state;
	uint32_t lens = 0x80000001u | (1u << 3) | (1u << 15), got[8], n = 0, l;

	while ((l = cf_affix_next(&lens)) && n < ARRAY_LEN(got))
		got[n++] = l;
	assert_int_equal(n, 4);
	assert_int_equal(got[0], 1);
	assert_int_equal(got[1], 4);
	assert_int_equal(got[2], 16);
	assert_int_equal(got[3], 32);
	assert_int_equal(lens, 0);
	for (uint32_t b = 0; b < 32; b++) {
		lens = 1u << b;
		assert_int_equal(cf_affix_next(&lens), b + 1);
	}
}

static void test_empty_catalogue(void **state)
{
	struct catalog *c = catalog_new();
	struct catfilter f;

	(void)state;
	assert_int_equal(catfilter_compile(&f, c), 0);
	assert_true(f.on);
	assert_false(catfilter_pass(&f, "/home/u/.aws/credentials"));
	assert_true(catfilter_pass(&f, "/lib/libssl.so.3"));
	assert_int_equal(catfilter_compile(&f, NULL), -EINVAL);
	catfilter_free(&f);
	catalog_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_property_no_false_drop),
		cmocka_unit_test(test_ordinary_files_are_dropped),
		cmocka_unit_test(test_builtin_forms_are_sent),
		cmocka_unit_test(test_rule_forms),
		cmocka_unit_test(test_uncompilable_rule_turns_the_filter_off),
		cmocka_unit_test(test_exclusions_are_ignored),
		cmocka_unit_test(test_empty_catalogue),
		cmocka_unit_test(test_affix_candidates_in_order),
	};

	return cmocka_run_group_tests_name("catfilter", tests, NULL, NULL);
}
