#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "reach/catalog.h"
#include "common/glob.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---------------------------------------------------------- */

static int setup_builtin(void **state)
{
	struct catalog *c = catalog_new();

	if (!c || catalog_add_builtin(c) != 0) {
		catalog_free(c);
		return -1;
	}
	*state = c;
	return 0;
}

static int setup_empty(void **state)
{
	*state = catalog_new();
	return *state ? 0 : -1;
}

static int teardown_catalog(void **state)
{
	catalog_free(*state);
	return 0;
}

/* want NULL means "must not be reported as a secret". */
static void expect_category(const struct catalog *c, const char *path, const char *want)
{
	const char *got = catalog_match(c, path);

	if (!want) {
		if (got)
			fail_msg("%s: expected no match, got %s", path, got);
		return;
	}
	if (!got)
		fail_msg("%s: expected %s, got no match", path, want);
	if (strcmp(got, want) != 0)
		fail_msg("%s: expected %s, got %s", path, want, got);
}

/* Writes content (len bytes) to a fresh temp file; name receives its path. */
static void write_temp_file(char name[static 32], const char *content, size_t len)
{
	int fd;

	strcpy(name, "/tmp/reach-catalog-XXXXXX");
	fd = mkstemp(name);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Adds a pattern file and removes it; returns catalog_add_file's result. */
static int add_file_text(struct catalog *c, const char *text, char *err, size_t err_size,
			 char name[static 32])
{
	int rc;

	write_temp_file(name, text, strlen(text));
	rc = catalog_add_file(c, name, err, err_size);
	assert_int_equal(unlink(name), 0);
	return rc;
}

/* err must read "NAME:LINE: ..." */
static void expect_line_error(const char *err, const char *name, int line)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "%s:%d: ", name, line);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err, prefix);
	assert_true(strlen(err) > strlen(prefix)); /* a reason follows */
}

/* ---- built-in rules: each category, then near misses ------------------ */

static void test_builtin_k8s_service_account(void **state)
{
	const struct catalog *c = *state;

	expect_category(c, "/var/run/secrets/kubernetes.io/serviceaccount/token", "k8s-sa-token");
	expect_category(c, "/run/secrets/kubernetes.io/serviceaccount/token", "k8s-sa-token");
	/* What the kubelet's symlinks really resolve to. */
	expect_category(c, "/var/run/secrets/kubernetes.io/serviceaccount/..data/token",
			"k8s-sa-token");
	expect_category(c,
			"/run/secrets/kubernetes.io/serviceaccount/..2024_05_01_10_00_00.123/token",
			"k8s-sa-token");
	expect_category(c, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", "k8s-sa-ca");
	expect_category(c, "/run/secrets/kubernetes.io/serviceaccount/..data/ca.crt", "k8s-sa-ca");
	expect_category(c, "/var/run/secrets/kubernetes.io/serviceaccount/namespace",
			"k8s-secret");
}

static void test_builtin_k8s_other_secrets(void **state)
{
	const struct catalog *c = *state;

	expect_category(c, "/var/run/secrets/eks.amazonaws.com/serviceaccount/token", "k8s-secret");
	expect_category(c, "/var/run/secrets/tokens.istio.io/istio-token", "k8s-secret");
	expect_category(c, "/run/secrets/db_password", "k8s-secret");
	/* A key inside the secrets dir keeps the more specific-by-place category. */
	expect_category(c, "/run/secrets/tls/tls.key", "k8s-secret");
}

static void test_builtin_k8s_near_misses(void **state)
{
	const struct catalog *c = *state;

	expect_category(c, "/var/run/secrets", NULL);
	expect_category(c, "/run/secretsX/token", NULL);
	expect_category(c, "/srv/run/secrets/token", NULL);
	expect_category(c, "/var/run/docker.sock", NULL);
}

static void test_builtin_aws(void **state)
{
	const struct catalog *c = *state;

	expect_category(c, "/root/.aws/credentials", "aws-credentials");
	expect_category(c, "/home/alice/.aws/config", "aws-credentials");
	expect_category(c, "/home/alice/.aws/credentials.bak", NULL);
	expect_category(c, "/home/alice/.aws/cli/cache/1a2b.json", NULL);
	expect_category(c, "/home/alice/aws/credentials", NULL);
}

static void test_builtin_gcp(void **state)
{
	const struct catalog *c = *state;
	const char *dir = "/home/alice/.config/gcloud/";
	static const char *const secrets[] = {
		"application_default_credentials.json", "credentials.db", "access_tokens.db",
		"legacy_credentials/alice@example.com/adc.json",
	};
	char path[256];

	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, secrets[i]);
		expect_category(c, path, "gcp-credentials");
	}
	expect_category(c, "/home/alice/.config/gcloud/configurations/config_default", NULL);
	expect_category(c, "/home/alice/.config/gcloud/logs/2024.05.01/x.log", NULL);
	expect_category(c, "/home/alice/.config/gcloud/legacy_credentials", NULL);
}

static void test_builtin_azure(void **state)
{
	const struct catalog *c = *state;

	expect_category(c, "/home/alice/.azure/accessTokens.json", "azure-credentials");
	expect_category(c, "/home/alice/.azure/msal_token_cache.json", "azure-credentials");
	expect_category(c, "/root/.azure/msal_token_cache.bin", "azure-credentials");
	expect_category(c, "/home/alice/.azure/service_principal_entries.json",
			"azure-credentials");
	expect_category(c, "/home/alice/.azure/azureProfile.json", NULL);
	expect_category(c, "/home/alice/.azure/msal_token_cache", NULL);
}

static void test_builtin_kubeconfig(void **state)
{
	const struct catalog *c = *state;

	expect_category(c, "/root/.kube/config", "kubeconfig");
	expect_category(c, "/etc/kubernetes/admin.conf", "kubeconfig");
	expect_category(c, "/etc/kubernetes/pki/ca.crt", "kubeconfig");
	/* kubeconfig rules come before the generic *.key rule. */
	expect_category(c, "/etc/kubernetes/pki/etcd/server.key", "kubeconfig");
	expect_category(c, "/etc/kubernetes/manifests/kube-apiserver.yaml", NULL);
	expect_category(c, "/etc/kubernetes/manifests/old.conf", NULL);
	expect_category(c, "/home/alice/.kube/cache/discovery/servergroups.json", NULL);
}

static void test_builtin_docker_netrc_git_vault(void **state)
{
	const struct catalog *c = *state;

	expect_category(c, "/home/alice/.docker/config.json", "docker-config");
	expect_category(c, "/home/alice/.docker/daemon.json", NULL);
	expect_category(c, "/etc/docker/config.json", NULL);

	expect_category(c, "/home/alice/.netrc", "netrc");
	expect_category(c, "/mnt/c/Users/alice/_netrc", "netrc");
	expect_category(c, "/etc/netrc", NULL);
	expect_category(c, "/home/alice/.netrc.bak", NULL);

	expect_category(c, "/home/alice/.git-credentials", "git-credentials");
	expect_category(c, "/home/alice/.gitconfig", NULL);

	expect_category(c, "/root/.vault-token", "vault-token");
	expect_category(c, "/root/.vault-token.lock", NULL);
}

static void test_builtin_ssh(void **state)
{
	const struct catalog *c = *state;

	expect_category(c, "/home/alice/.ssh/id_rsa", "ssh-key");
	expect_category(c, "/root/.ssh/id_ed25519", "ssh-key");
	expect_category(c, "/etc/ssh/ssh_host_ed25519_key", "ssh-key");
	expect_category(c, "/home/alice/.ssh/id_rsa.pub", NULL);
	expect_category(c, "/home/alice/.ssh/known_hosts", NULL);
	expect_category(c, "/home/alice/.ssh/authorized_keys", NULL);
	expect_category(c, "/etc/ssh/ssh_host_rsa_key.pub", NULL);
	expect_category(c, "/etc/ssh/sshd_config", NULL);
}

static void test_builtin_private_keys(void **state)
{
	const struct catalog *c = *state;

	expect_category(c, "/etc/ssl/private/server.key", "private-key");
	expect_category(c, "/srv/app/tls/server.pem", "private-key");
	expect_category(c, "/home/alice/client.p12", "private-key");
	expect_category(c, "/opt/app/keystore.pfx", "private-key");
	expect_category(c, "/srv/app/tls/server.pem.bak", NULL);
	expect_category(c, "/srv/app/tls/server.crt", NULL);
}

static void test_builtin_public_ca_bundles_are_excluded(void **state)
{
	const struct catalog *c = *state;

	expect_category(c, "/etc/ssl/certs/ca.pem", NULL);
	expect_category(c, "/etc/ssl/certs/ca-certificates.crt", NULL);
	expect_category(c, "/usr/share/ca-certificates/extra/corp-root.pem", NULL);
	expect_category(c, "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", NULL);
	expect_category(c, "/usr/lib/ssl/cert.pem", NULL);
	expect_category(c, "/usr/lib/python3/dist-packages/certifi/cacert.pem", NULL);
	expect_category(c, "/app/venv/lib/python3.11/site-packages/certifi/cacert.pem", NULL);
	/* The exclusions are narrow: a key next to them is still a key. */
	expect_category(c, "/usr/lib/ssl/private.pem", "private-key");
	expect_category(c, "/app/certifi/server.pem", "private-key");
}

/* Decided: only ".env" and ".env.<suffix>" are dotenv files. "env" is not a
 * dotfile, ".envrc" is a direnv shell script (not KEY=VALUE data), and the
 * template suffixes are conventionally committed placeholders. */
static void test_builtin_dotenv(void **state)
{
	const struct catalog *c = *state;

	expect_category(c, "/app/.env", "dotenv");
	expect_category(c, "/.env", "dotenv");
	expect_category(c, "/srv/app/.env.local", "dotenv");
	expect_category(c, "/srv/app/.env.production", "dotenv");
	expect_category(c, "/app/env", NULL);
	expect_category(c, "/app/.envrc", NULL);
	expect_category(c, "/app/x.env", NULL);
	expect_category(c, "/app/.environment", NULL);
	expect_category(c, "/app/.env.example", NULL);
	expect_category(c, "/app/.env.sample", NULL);
	expect_category(c, "/app/.env.template", NULL);
	expect_category(c, "/app/.env.dist", NULL);
}

static void test_builtin_ordinary_files_do_not_match(void **state)
{
	const struct catalog *c = *state;

	expect_category(c, "/", NULL);
	expect_category(c, "/etc/passwd", NULL);
	expect_category(c, "/etc/shadow", NULL); /* not in the catalogue by design */
	expect_category(c, "/usr/bin/python3", NULL);
	expect_category(c, "/proc/self/environ", NULL);
}

static void test_builtin_add_is_all_or_nothing_and_repeatable(void **state)
{
	struct catalog *c = catalog_new();
	size_t once;

	assert_non_null(c);
	assert_int_equal(catalog_size(c), 0);
	assert_int_equal(catalog_add_builtin(c), 0);
	once = catalog_size(c);
	assert_true(once > 30);
	assert_int_equal(catalog_add_builtin(c), 0);
	assert_int_equal(catalog_size(c), 2 * once);
	expect_category(c, "/root/.aws/credentials", "aws-credentials");
	catalog_free(c);
}

/* ---- catalog_add ------------------------------------------------------ */

static void test_add_forms_and_default_category(void **state)
{
	struct catalog *c = *state;

	assert_int_equal(catalog_add(c, "/etc/llm/keys/*.key", "llm-key"), 0);
	assert_int_equal(catalog_add(c, "**/.pgpass", "postgres"), 0);
	assert_int_equal(catalog_add(c, "*.kdbx", NULL), 0);
	assert_int_equal(catalog_size(c), 3);

	expect_category(c, "/etc/llm/keys/openai.key", "llm-key");
	expect_category(c, "/etc/llm/keys/sub/openai.key", NULL);
	expect_category(c, "/var/lib/postgresql/.pgpass", "postgres");
	expect_category(c, "/home/alice/vault.kdbx", "custom");
	expect_category(c, "/home/alice/vault.kdbx.lock", NULL);
}

static void test_add_rejects_malformed_patterns(void **state)
{
	struct catalog *c = *state;
	static const char *const bad[] = {
		"", "!", "etc/shadow", "a/b", "*/x", "**x/y", "./x", "../x",
		"~", "~alice/.ssh/id_rsa", "~/", "!~", "/etc/", "**/",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (catalog_add(c, bad[i], "x") != -EINVAL)
			fail_msg("pattern \"%s\" should be rejected", bad[i]);
	}
	assert_int_equal(catalog_add(c, NULL, "x"), -EINVAL);
	assert_int_equal(catalog_add(NULL, "/x", "x"), -EINVAL);
	assert_int_equal(catalog_size(c), 0);
}

static void test_add_rejects_malformed_categories(void **state)
{
	struct catalog *c = *state;
	char too_long[65];
	static const char *const bad[] = { "", "two words", "quote\"d", "new\nline", "a/b" };

	memset(too_long, 'k', 64);
	too_long[64] = '\0';
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(catalog_add(c, "/x", bad[i]), -EINVAL);
	assert_int_equal(catalog_add(c, "/x", too_long), -EINVAL);
	assert_int_equal(catalog_size(c), 0);

	too_long[63] = '\0'; /* 63 is the limit */
	assert_int_equal(catalog_add(c, "/x", too_long), 0);
	assert_int_equal(catalog_add(c, "/y", "Cat_1.b-c"), 0);
	assert_int_equal(catalog_size(c), 2);
}

static void test_tilde_expands_to_root_and_home_dirs(void **state)
{
	struct catalog *c = *state;

	assert_int_equal(catalog_add(c, "~/.config/acme/token", "acme"), 0);
	assert_int_equal(catalog_size(c), 2);
	expect_category(c, "/root/.config/acme/token", "acme");
	expect_category(c, "/home/alice/.config/acme/token", "acme");
	/* One '*': exactly one directory under /home. */
	expect_category(c, "/home/alice/work/.config/acme/token", NULL);
	expect_category(c, "/srv/.config/acme/token", NULL);
}

static void test_tilde_exclusion(void **state)
{
	struct catalog *c = *state;

	assert_int_equal(catalog_add(c, "!~/.ssh/id_test", NULL), 0);
	assert_int_equal(catalog_size(c), 2);
	assert_int_equal(catalog_add_builtin(c), 0);
	expect_category(c, "/root/.ssh/id_test", NULL);
	expect_category(c, "/home/alice/.ssh/id_test", NULL);
	expect_category(c, "/home/alice/.ssh/id_rsa", "ssh-key");
}

static void test_first_positive_rule_wins(void **state)
{
	struct catalog *c = *state;

	assert_int_equal(catalog_add(c, "/srv/app/**", "app-data"), 0);
	assert_int_equal(catalog_add(c, "*.pem", "pem"), 0);
	expect_category(c, "/srv/app/tls/server.pem", "app-data");
	expect_category(c, "/opt/server.pem", "pem");
}

static void test_exclusion_wins_regardless_of_order(void **state)
{
	struct catalog *c = *state;

	/* Exclusion before the rule it overrides... */
	assert_int_equal(catalog_add(c, "!/srv/public/**", NULL), 0);
	assert_int_equal(catalog_add(c, "*.pem", "pem"), 0);
	/* ...and after it. */
	assert_int_equal(catalog_add(c, "/srv/app/**", "app-data"), 0);
	assert_int_equal(catalog_add(c, "!/srv/app/README", NULL), 0);

	expect_category(c, "/srv/public/ca.pem", NULL);
	expect_category(c, "/srv/app/README", NULL);
	expect_category(c, "/srv/app/secret.txt", "app-data");
	expect_category(c, "/opt/ca.pem", "pem");
}

static void test_builtin_exclusion_beats_later_custom_rule(void **state)
{
	struct catalog *c = *state;

	assert_int_equal(catalog_add(c, "/etc/ssl/certs/*.pem", "mine"), 0);
	expect_category(c, "/etc/ssl/certs/ca.pem", NULL);
}

static void test_null_catalogue_is_harmless(void **state)
{
	char err[64];

	assert_null(catalog_match(NULL, "/root/.aws/credentials"));
	assert_int_equal(catalog_size(NULL), 0);
	assert_int_equal(catalog_add_builtin(NULL), -EINVAL);
	assert_int_equal(catalog_add_file(NULL, "/dev/null", err, sizeof(err)), -EINVAL);
	catalog_free(NULL);
	assert_null(catalog_match(*state, NULL));
}

/* ---- catalog_add_file ------------------------------------------------- */

static void test_file_with_comments_blanks_and_categories(void **state)
{
	struct catalog *c = *state;
	char name[32];
	char err[256];
	const char *text =
		"# custom secrets\n"
		"\n"
		"   \t\n"
		"/etc/llm/keys/*.key llm-key\n"
		"  **/.pgpass\tpostgres   # trailing comment\n"
		"*.kdbx\n"
		"!/etc/llm/keys/public.key\n"
		"~/.config/acme/token acme\r\n"
		"    # indented comment\n"
		"/opt/last-line-without-newline last";

	assert_int_equal(add_file_text(c, text, err, sizeof(err), name), 0);
	assert_string_equal(err, "");
	assert_int_equal(catalog_size(c), 7); /* 5 lines + 2 for the "~" line */

	expect_category(c, "/etc/llm/keys/openai.key", "llm-key");
	expect_category(c, "/etc/llm/keys/public.key", NULL);
	expect_category(c, "/var/lib/postgresql/.pgpass", "postgres");
	expect_category(c, "/home/alice/db.kdbx", "custom");
	expect_category(c, "/home/bob/.config/acme/token", "acme"); /* "\r" not in category */
	expect_category(c, "/opt/last-line-without-newline", "last");
}

static void test_file_empty_adds_nothing(void **state)
{
	struct catalog *c = *state;
	char name[32];
	char err[64];

	assert_int_equal(add_file_text(c, "", err, sizeof(err), name), 0);
	assert_int_equal(add_file_text(c, "# only a comment\n\n", err, sizeof(err), name), 0);
	assert_int_equal(catalog_size(c), 0);
}

static void test_file_bad_pattern_reports_line_and_adds_nothing(void **state)
{
	struct catalog *c = *state;
	char name[32];
	char err[256];
	const char *text =
		"/etc/llm/keys/*.key llm-key\n"
		"# comment\n"
		"\n"
		"etc/relative/pattern\n"
		"/never/reached\n";

	assert_int_equal(catalog_add(c, "/pre/existing", "kept"), 0);
	assert_int_equal(add_file_text(c, text, err, sizeof(err), name), -EINVAL);
	expect_line_error(err, name, 4);
	/* All or nothing: line 1 was rolled back, earlier rules stay. */
	assert_int_equal(catalog_size(c), 1);
	expect_category(c, "/etc/llm/keys/openai.key", NULL);
	expect_category(c, "/pre/existing", "kept");
}

static void test_file_extra_field_is_an_error(void **state)
{
	struct catalog *c = *state;
	char name[32];
	char err[256];

	assert_int_equal(add_file_text(c, "/a cat\n/b cat extra\n", err, sizeof(err), name),
			 -EINVAL);
	expect_line_error(err, name, 2);
	assert_int_equal(catalog_size(c), 0);
}

static void test_file_bad_category_and_tilde_rollback(void **state)
{
	struct catalog *c = *state;
	char name[32];
	char err[256];

	/* The "~" line adds two rules; both must go when line 3 fails. */
	assert_int_equal(add_file_text(c, "~/.a x\n/b y\n/c bad\"cat\n", err, sizeof(err), name),
			 -EINVAL);
	expect_line_error(err, name, 3);
	assert_int_equal(catalog_size(c), 0);
}

static void test_file_nul_byte_is_an_error(void **state)
{
	struct catalog *c = *state;
	char name[32];
	char err[256];
	static const char text[] = "/a x\n/b\0/c y\n";
	int rc;

	write_temp_file(name, text, sizeof(text) - 1);
	rc = catalog_add_file(c, name, err, sizeof(err));
	assert_int_equal(unlink(name), 0);
	assert_int_equal(rc, -EINVAL);
	expect_line_error(err, name, 2);
	assert_int_equal(catalog_size(c), 0);
}

static void test_file_missing(void **state)
{
	struct catalog *c = *state;
	char err[256];

	assert_int_equal(catalog_add_file(c, "/nonexistent/reach/patterns", err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "/nonexistent/reach/patterns: No such file or directory");
	assert_int_equal(catalog_size(c), 0);
}

static void test_file_is_a_directory(void **state)
{
	struct catalog *c = *state;
	char err[256];

	assert_int_equal(catalog_add_file(c, "/tmp", err, sizeof(err)), -EISDIR);
	assert_string_equal(err, "/tmp: Is a directory");
	assert_int_equal(catalog_size(c), 0);
}

static void test_file_error_buffer_optional_and_truncated(void **state)
{
	struct catalog *c = *state;
	char name[32];
	char small[8];

	assert_int_equal(catalog_add_file(c, "/nonexistent/x", NULL, 0), -ENOENT);
	assert_int_equal(catalog_add_file(c, "/nonexistent/x", small, sizeof(small)), -ENOENT);
	assert_string_equal(small, "/nonexi");
	assert_int_equal(add_file_text(c, "bad/pattern\n", NULL, 0, name), -EINVAL);
	assert_int_equal(catalog_size(c), 0);
}

/* The shortcuts before the glob engine (literal prefix and suffix, the
 * longest literal run as a strstr needle, the single-star fast path) must
 * give exactly the glob engine's verdict: every pattern against every path,
 * one-rule catalogues compared with glob_match() itself. */
static void test_shortcuts_agree_with_the_glob_engine(void **state)
{
	static const char *const patterns[] = {
		"**/.ssh/id_*", "**/.aws/credentials", "**/.config/gcloud/legacy_credentials/**", "/a/**/b",
		"**/.azure/msal_token_cache.*", "/etc/kubernetes/*.conf", "*.key", "x*", "*x", "/tmp/*/k?y",
		"**/certifi/cacert.pem", "/var/run/secrets/kubernetes.io/serviceaccount/**/token", "/lit/f\\*x",
		"**", "/**", "/*", "**/a/**/b/**", "ab*cd*ef",
	};
	static const char *const paths[] = {
		"/home/u/.ssh/id_rsa", "/home/u/.ssh/known_hosts", "/.ssh/id_x", "/.aws/credentials",
		"/root/.aws/credentials", "/root/.aws/credentials.bak", "/h/.config/gcloud/legacy_credentials/a/b",
		"/a/b", "/a/x/y/b", "/ab", "/a/bb", "/h/.azure/msal_token_cache.json", "/etc/kubernetes/admin.conf",
		"/etc/kubernetes/sub/x.conf", "/x/y.key", "/x/.key", "/key", "/tmp/q/key", "/tmp/q/kay", "/tmp/q/r/key",
		"/usr/lib/python3/dist-packages/certifi/cacert.pem",
		"/var/run/secrets/kubernetes.io/serviceaccount/..2024_01/token",
		"/var/run/secrets/kubernetes.io/serviceaccount/token", "/lit/f*x", "/lit/fzx", "/", "/x", "/a/b/c",
		"/q/a/r/b/s", "/abcdef", "/abXcdYef", "/abcd", "/ab/cd/ef",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(patterns); i++) {
		struct catalog *c = catalog_new();
		bool basename_only = strchr(patterns[i], '/') == NULL;

		assert_non_null(c);
		assert_int_equal(catalog_add(c, patterns[i], "t"), 0);
		for (size_t j = 0; j < ARRAY_LEN(paths); j++) {
			const char *subject = basename_only ? strrchr(paths[j], '/') + 1 : paths[j];
			bool want = glob_match(patterns[i], subject);
			bool got = catalog_match(c, paths[j]) != NULL;

			if (want != got)
				fail_msg("pattern %s path %s: glob %d, catalogue %d", patterns[i], paths[j], want, got);
		}
		catalog_free(c);
	}
}

/* The literal prefix/suffix pre-check must never reject a real match:
 * classes, escapes and "**" at either end. */
static void test_precheck_keeps_class_escape_and_globstar_matches(void **state)
{
	struct catalog *c = catalog_new();

	(void)state;
	assert_non_null(c);
	assert_int_equal(catalog_add(c, "*.[pP][eE][mM]", "cls"), 0);
	assert_int_equal(catalog_add(c, "/srv/[ab]x/**", "srv"), 0);
	assert_int_equal(catalog_add(c, "/lit/f\\*x", "esc"), 0);
	assert_int_equal(catalog_add(c, "/exact/file.txt", "exact"), 0);
	assert_string_equal(catalog_match(c, "/a/b/cert.PEM"), "cls");
	assert_string_equal(catalog_match(c, "/a/b/cert.pEm"), "cls");
	assert_null(catalog_match(c, "/a/b/cert.mM]"));
	assert_string_equal(catalog_match(c, "/srv/bx/deep/er/file"), "srv");
	assert_null(catalog_match(c, "/srv/cx/file"));
	assert_string_equal(catalog_match(c, "/lit/f*x"), "esc");
	assert_null(catalog_match(c, "/lit/fzx"));
	assert_string_equal(catalog_match(c, "/exact/file.txt"), "exact");
	assert_null(catalog_match(c, "/exact/file.txt2"));
	assert_null(catalog_match(c, "/exact/file.tx"));
	catalog_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_builtin_k8s_service_account, setup_builtin, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_builtin_k8s_other_secrets, setup_builtin, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_builtin_k8s_near_misses, setup_builtin, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_builtin_aws, setup_builtin, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_builtin_gcp, setup_builtin, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_builtin_azure, setup_builtin, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_builtin_kubeconfig, setup_builtin, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_builtin_docker_netrc_git_vault, setup_builtin, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_builtin_ssh, setup_builtin, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_builtin_private_keys, setup_builtin, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_builtin_public_ca_bundles_are_excluded, setup_builtin, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_builtin_dotenv, setup_builtin, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_builtin_ordinary_files_do_not_match, setup_builtin, teardown_catalog),
		cmocka_unit_test(test_precheck_keeps_class_escape_and_globstar_matches),
		cmocka_unit_test(test_shortcuts_agree_with_the_glob_engine),
		cmocka_unit_test(test_builtin_add_is_all_or_nothing_and_repeatable),
		cmocka_unit_test_setup_teardown(test_add_forms_and_default_category, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_add_rejects_malformed_patterns, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_add_rejects_malformed_categories, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_tilde_expands_to_root_and_home_dirs, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_tilde_exclusion, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_first_positive_rule_wins, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_exclusion_wins_regardless_of_order, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_builtin_exclusion_beats_later_custom_rule, setup_builtin, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_null_catalogue_is_harmless, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_file_with_comments_blanks_and_categories, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_file_empty_adds_nothing, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_file_bad_pattern_reports_line_and_adds_nothing, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_file_extra_field_is_an_error, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_file_bad_category_and_tilde_rollback, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_file_nul_byte_is_an_error, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_file_missing, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_file_is_a_directory, setup_empty, teardown_catalog),
		cmocka_unit_test_setup_teardown(test_file_error_buffer_optional_and_truncated, setup_empty, teardown_catalog),
	};

	return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
