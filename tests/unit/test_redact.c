#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "reach/redact.h"

#define MAX_ARGS 16
#define OUT_SIZE 512

static struct fp_key test_key = { { 7, 1, 2, 3 } };

/* A planted secret: random-looking, 24 characters, no token-shape prefix, so
 * only the rules of the form under test can catch it. */
#define TOKEN "Qx7vR2mK9pL4wZ8nT3bY6cJd"

/* Redacts the NULL-terminated argv and joins the result with single spaces. */
static int redact_join(const char *const *argv, char *joined, size_t size)
{
	static char bufs[MAX_ARGS][OUT_SIZE];
	char *outs[MAX_ARGS] = { 0 };
	size_t argc = 0, pos = 0;
	int changed;

	while (argv[argc]) {
		outs[argc] = bufs[argc];
		argc++;
	}
	changed = redact_argv(&test_key, argv, argc, outs, OUT_SIZE);
	joined[0] = '\0';
	for (size_t i = 0; i < argc; i++)
		pos += (size_t)snprintf(joined + pos, size - pos, "%s%s", i ? " " : "", bufs[i]);
	return changed;
}

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void expect_hidden_argv(const char *const *argv, const char *secret)
{
	char out[MAX_ARGS * OUT_SIZE];
	bool planted = false;

	for (size_t i = 0; argv[i]; i++)
		planted |= strstr(argv[i], secret) != NULL;
	assert_true(planted); /* the fixture really plants it */
	assert_true(redact_join(argv, out, sizeof(out)) > 0);
	if (strstr(out, secret))
		fail_msg("secret \"%s\" leaked: \"%s\"", secret, out);
	assert_non_null(strstr(out, REDACT_MARK));
}

static void expect_readable(const char *const *argv)
{
	char out[MAX_ARGS * OUT_SIZE], want[MAX_ARGS * OUT_SIZE];
	size_t pos = 0;

	for (size_t i = 0; argv[i]; i++)
		pos += (size_t)snprintf(want + pos, sizeof(want) - pos, "%s%s", i ? " " : "", argv[i]);
	int changed = redact_join(argv, out, sizeof(out));

	assert_string_equal(out, want);
	assert_int_equal(changed, 0);
}

/* ---- the 19 forms of the issue, plus the ones the old redactor knew -------- */

static void test_issue_forms_never_leak(void **state)
{
	const char *const *forms[] = {
		/* inline code */
		ARGV("node", "-e", "fetch('https://h/x', {headers: {'x-api-key':'" TOKEN "'}})"),
		ARGV("python3", "-c", "import requests; requests.get(u, headers={\"Authorization\": \"" TOKEN "\"})"),
		ARGV("sh", "-c", "curl -s https://h/ -o /dev/null --token " TOKEN),
		ARGV("bash", "-lc", "echo " TOKEN),
		ARGV("perl", "-e", "print '" TOKEN "'"),
		ARGV("ruby", "-e", "puts 1 # " TOKEN),
		ARGV("php", "-r", "echo 1; // " TOKEN),
		ARGV("node", "--eval=console.log('" TOKEN "')"),
		ARGV("python3.12", "-cprint('" TOKEN "')"),
		/* URLs and DSNs */
		ARGV("curl", "http://user:" TOKEN "@127.0.0.1:19300/x"),
		ARGV("psql", "postgres://app:" TOKEN "@db:5432/app"),
		ARGV("git", "clone", "https://" TOKEN "@github.com/o/r.git"),
		ARGV("curl", "https://h/p?api_key=" TOKEN "&x=1"),
		ARGV("curl", "https://h/p;jsessionid=" TOKEN),
		ARGV("curl", "https://api.telegram.org/bot123456789:" TOKEN "/sendMessage"),
		ARGV("curl", "https://hooks.slack.com/services/T0123ABCD/B0123ABCD/" TOKEN),
		ARGV("curl", "https://h/v1/keys/abc" TOKEN "/rotate"),
		/* secret flags */
		ARGV("mysql", "-u", "root", "-p" TOKEN, "db"),
		ARGV("mysql", "-p", TOKEN),
		ARGV("sshpass", "-p", TOKEN, "ssh", "host"),
		ARGV("openssl", "rsa", "-in", "k.pem", "-passin", "pass:" TOKEN),
		ARGV("tool", "--pass=" TOKEN),
		ARGV("docker", "login", "-u", "bob", "-p", TOKEN, "registry.example.com"),
		ARGV("sudo", "docker", "login", "-p" TOKEN),
		ARGV("tool", "-P", TOKEN),
		ARGV("tool", "--password", TOKEN),
		ARGV("tool", "--api-key", TOKEN),
		ARGV("keytool", "-storepass", TOKEN),
		ARGV("curl", "-u", "alice:" TOKEN, "https://h"),
		ARGV("redis-cli", "-a", TOKEN),
		/* pairs */
		ARGV("curl", "--data", "{\"password\":\"" TOKEN "\"}", "https://h"),
		ARGV("curl", "-H", "X-Token: " TOKEN, "https://h"),
		ARGV("curl", "-H", "PRIVATE-TOKEN: " TOKEN, "https://h"),
		ARGV("curl", "-H", "Authorization: Bearer abc\"" TOKEN, "https://h"),
		ARGV("curl", "-HAuthorization: token " TOKEN),
		ARGV("docker", "run", "-e", "DB_PASSWORD=" TOKEN, "img"),
		ARGV("java", "-Dspring.datasource.password=" TOKEN, "-jar", "app.jar"),
		ARGV("app", "Server=db;User Id=sa;Password=" TOKEN ";"),
		ARGV("git", "-c", "http.extraHeader=AUTHORIZATION: basic " TOKEN, "fetch"),
		ARGV("echo", "Bearer " TOKEN),
		/* bare tokens */
		ARGV("aws", "configure", "set", "aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" "Qx7vR2mK9p"),
		ARGV("tool", "c4224de39456fa0c68818d19bcf126e64d9e9ca2"),
		ARGV("tool", TOKEN),
	};

	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		const char *secret = TOKEN;

		if (strcmp(forms[f][0], "aws") == 0)
			secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYQx7vR2mK9p";
		else if (strcmp(forms[f][1], "c4224de39456fa0c68818d19bcf126e64d9e9ca2") == 0)
			secret = forms[f][1];
		expect_hidden_argv(forms[f], secret);
	}
}

static void test_ordinary_command_lines_stay_readable(void **state)
{
	expect_readable(ARGV("/usr/bin/python3", "/app/server.py", "--port", "8080"));
	expect_readable(ARGV("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "https://api.example.com/v1/models"));
	expect_readable(ARGV("apt-get", "install", "-y", "python3-setuptools", "libssl-dev"));
	expect_readable(ARGV("npm", "install", "--save-dev", "@types/node", "eslint@8.57.0"));
	expect_readable(ARGV("pip", "install", "-r", "requirements-dev.txt", "-c", "constraints.txt"));
	expect_readable(ARGV("mkdir", "-p", "/var/lib/reach/spool"));
	expect_readable(ARGV("docker", "run", "-p", "8080:80", "-e", "MODE=prod", "nginx:1.25"));
	expect_readable(ARGV("ssh", "-p", "2222", "deploy@build-01.internal.example.com"));
	expect_readable(ARGV("mysql", "-h", "db.internal", "-P", "3306", "-u", "app", "-p"));
	expect_readable(ARGV("sort", "-u", "names.txt"));
	expect_readable(ARGV("tar", "-xzf", "/tmp/node-v20.11.1-linux-x64.tar.gz", "-C", "/opt"));
	expect_readable(ARGV("java", "-jar", "/opt/app/SpringApplicationContext.jar", "--server.port=9090"));
	expect_readable(ARGV("git", "checkout", "feature/ReachPolicyV1Alpha1Spec"));
	expect_readable(ARGV("kubectl", "get", "pods", "-n", "kube-system", "-o", "wide"));
	expect_readable(ARGV("gcc", "-O2", "-I/usr/include/x86_64-linux-gnu", "-o", "main", "main.c"));
	expect_readable(ARGV("curl", "-H", "Content-Type: application/json", "-H", "Accept: */*", "https://h/v1/items/42"));
	expect_readable(ARGV("python3", "/app/tokenizer.py", "--max-tokens", "512", "--password-file", "/run/secrets/db"));
	expect_readable(ARGV("ls", "-la", "/home/alice/Documents/Report2024"));
	expect_readable(ARGV("openssl", "s_client", "-connect", "example.com:443", "-servername", "example.com"));
	expect_readable(ARGV("curl", "--retry", "3", "https://example.com/search?q=reach&page=2"));
	expect_readable(ARGV("xargs", "-P", "4", "gzip"));
	expect_readable(ARGV("sh", "/usr/local/bin/entrypoint.sh", "start"));
	expect_readable(ARGV("cat", "/tmp/reach-e2e-9qhlwn6p/tool-read.key"));
}

/* Inline code is stored as its length and fingerprint only. */
static void test_inline_code_is_length_and_fingerprint(void **state)
{
	char out[MAX_ARGS * OUT_SIZE];
	const char *code = "print(1)";

	redact_join(ARGV("python3", "-c", code), out, sizeof(out));
	assert_non_null(strstr(out, "python3 -c " REDACT_MARK));
	assert_non_null(strstr(out, " len=8]"));
	assert_null(strstr(out, "print"));
	/* a shell's flag cluster */
	redact_join(ARGV("bash", "-xc", "id"), out, sizeof(out));
	assert_non_null(strstr(out, "bash -xc " REDACT_MARK));
	/* env and sudo in front: the interpreter is found further on */
	redact_join(ARGV("/usr/bin/env", "python3", "-c", "import os"), out, sizeof(out));
	assert_null(strstr(out, "import"));
	redact_join(ARGV("sudo", "-u", "app", "sh", "-c", "whoami"), out, sizeof(out));
	assert_null(strstr(out, "whoami"));
	/* script arguments after the code are judged as values */
	redact_join(ARGV("sh", "-c", "echo $0", "name"), out, sizeof(out));
	assert_non_null(strstr(out, " name"));
}

/* Same secret, same fingerprint, wherever it appears; the kept parts stay. */
static void test_fingerprint_is_stable_and_context_kept(void **state)
{
	char a[MAX_ARGS * OUT_SIZE], b[MAX_ARGS * OUT_SIZE];
	const char *m;

	redact_join(ARGV("tool", "--password", TOKEN), a, sizeof(a));
	redact_join(ARGV("mysql", "-p" TOKEN), b, sizeof(b));
	m = strstr(a, REDACT_MARK);
	assert_non_null(m);
	assert_non_null(strstr(b, m));
	assert_non_null(strstr(a, "tool --password " REDACT_MARK));
	assert_non_null(strstr(b, "mysql -p" REDACT_MARK));
	/* URL: scheme, host and path kept, userinfo redacted */
	redact_join(ARGV("curl", "https://u:" TOKEN "@api.example.com/v1/items?x=1"), a, sizeof(a));
	assert_non_null(strstr(a, "curl https://" REDACT_MARK));
	assert_non_null(strstr(a, "]@api.example.com/v1/items?x=1"));
	/* the header name stays, the value goes */
	redact_join(ARGV("curl", "-H", "X-Api-Key: " TOKEN), a, sizeof(a));
	assert_non_null(strstr(a, "-H X-Api-Key: " REDACT_MARK));
	/* query: the secret parameter's value only */
	redact_join(ARGV("curl", "https://h/p?x=1&access_token=" TOKEN "&y=2"), a, sizeof(a));
	assert_non_null(strstr(a, "https://h/p?x=1&access_token=" REDACT_MARK));
	assert_non_null(strstr(a, "]&y=2"));
	/* a different secret, a different fingerprint */
	redact_join(ARGV("tool", "--password", TOKEN "x"), b, sizeof(b));
	assert_string_not_equal(a, b);
}

static void test_token_shapes_are_redacted(void **state)
{
	static const char *const shapes[] = {
		"sk-abcdefghijklmnop1234", "ghp_0123456789abcdefghijABCDEFGHIJ",
		"github_pat_11ABCDEFG0123456789_abcdefghij", "xoxb-1234567890-abcdefghij",
		"glpat-abcdefghij0123456789", "AKIAIOSFODNN7EXAMPLE",
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
	};
	char arg[256];

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		expect_hidden_argv(ARGV("echo", shapes[i]), shapes[i]);
		snprintf(arg, sizeof(arg), "run %s now", shapes[i]);
		expect_hidden_argv(ARGV("echo", arg), shapes[i]);
	}
}

/* For every size, the output is NUL terminated within the size, a prefix of
 * the untruncated output, nothing is written past it, no secret leaks. */
static void test_small_buffers_truncate_safely(void **state)
{
	const char *argv[] = { "curl", "-H", "Authorization: Bearer " TOKEN, "--password", TOKEN };
	char full[5][OUT_SIZE], small[5][OUT_SIZE + 16];
	char *fo[5], *so[5];

	for (int i = 0; i < 5; i++)
		fo[i] = full[i], so[i] = small[i];
	redact_argv(&test_key, argv, 5, fo, OUT_SIZE);
	for (size_t size = 1; size < 80; size++) {
		memset(small, 0xAA, sizeof(small));
		redact_argv(&test_key, argv, 5, so, size);
		for (int i = 0; i < 5; i++) {
			size_t len = strnlen(small[i], size);

			assert_true(len < size);
			assert_int_equal(len, strlen(full[i]) < size - 1 ? strlen(full[i]) : size - 1);
			assert_memory_equal(small[i], full[i], len);
			assert_int_equal((unsigned char)small[i][size], 0xAA);
			assert_null(strstr(small[i], "Qx7v"));
		}
	}
	/* zero size: nothing written */
	memset(small, 0xAA, sizeof(small));
	redact_argv(&test_key, argv, 5, so, 0);
	assert_int_equal((unsigned char)small[0][0], 0xAA);
}

/* Planted secrets of several shapes in several forms: none survives. */
static void test_planted_secret_matrix(void **state)
{
	static const char *const secrets[] = {
		TOKEN, "hunter2hunter2", "sk-abcdefghijklmnop1234", "AKIAIOSFODNN7EXAMPLE",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "dXNlcjpwYXNzd29yZA==",
	};
	static const char *const fmts[] = {
		"Authorization: Bearer %s", "authorization: %s", "Proxy-Authorization: Basic %s", "X-Api-Key: %s",
		"Cookie: session=%s", "--token=%s", "--password=%s", "https://h/p?api_key=%s&x=1",
		"https://h/p?x=1&access_token=%s", "https://admin:%s@h/", "password=%s", "{\"token\": \"%s\"}",
		"{'secret':'%s'}", "FOO_TOKEN=%s", "--client-secret=%s",
	};
	char arg[512];

	for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++)
		for (size_t s = 0; s < sizeof(secrets) / sizeof(secrets[0]); s++) {
			snprintf(arg, sizeof(arg), fmts[f], secrets[s]);
			expect_hidden_argv(ARGV("tool", arg), secrets[s]);
		}
	for (size_t s = 0; s < sizeof(secrets) / sizeof(secrets[0]); s++) {
		expect_hidden_argv(ARGV("tool", "--password", secrets[s]), secrets[s]);
		expect_hidden_argv(ARGV("tool", "--token", secrets[s]), secrets[s]);
		expect_hidden_argv(ARGV("sh", "-c", secrets[s]), secrets[s]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_forms_never_leak),
		cmocka_unit_test(test_ordinary_command_lines_stay_readable),
		cmocka_unit_test(test_inline_code_is_length_and_fingerprint),
		cmocka_unit_test(test_fingerprint_is_stable_and_context_kept),
		cmocka_unit_test(test_token_shapes_are_redacted),
		cmocka_unit_test(test_small_buffers_truncate_safely),
		cmocka_unit_test(test_planted_secret_matrix),
	};

	return cmocka_run_group_tests_name("redact", tests, NULL, NULL);
}
