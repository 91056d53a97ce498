#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "reach/redact.h"

#define OUT_SIZE 512

/* Redacts arg (after prev) into a roomy buffer; checks the return value and the output. */
static void expect_redact(const char *prev, const char *arg, bool want_rc, const char *want)
{
	char out[OUT_SIZE];

	memset(out, 'Z', sizeof(out));
	assert_int_equal(redact_arg(prev, arg, out, sizeof(out)), want_rc);
	assert_string_equal(out, want);
}

/* An argument with nothing to hide is copied verbatim and false is returned. */
static void expect_untouched(const char *prev, const char *arg)
{
	expect_redact(prev, arg, false, arg);
}

/* The secret never appears in the output, REDACTED does, and true is returned. */
static void expect_hidden(const char *prev, const char *arg, const char *secret)
{
	char out[OUT_SIZE];
	bool rc;

	assert_non_null(strstr(arg, secret)); /* the fixture really plants it */
	rc = redact_arg(prev, arg, out, sizeof(out));
	if (strstr(out, secret))
		fail_msg("secret \"%s\" leaked: \"%s\" -> \"%s\"", secret, arg, out);
	assert_true(rc);
	assert_non_null(strstr(out, REDACTED));
}

/* ---- headers ----------------------------------------------------------- */

static void test_authorization_header_value_is_redacted(void **state)
{
	expect_redact(NULL, "Authorization: Bearer X", true, "Authorization: " REDACTED);
	expect_redact(NULL, "Authorization: Basic dXNlcjpwYXNz", true, "Authorization: " REDACTED);
	expect_redact("-H", "Authorization: token abcdef", true, "Authorization: " REDACTED);
	/* no space after the colon */
	expect_redact(NULL, "Authorization:secret", true, "Authorization: " REDACTED);
	/* spaces before the colon are trimmed from the name */
	expect_redact(NULL, "Authorization  : secret", true, "Authorization: " REDACTED);
}

static void test_header_names_are_case_insensitive_and_name_is_kept(void **state)
{
	expect_redact(NULL, "authorization: Bearer X", true, "authorization: " REDACTED);
	expect_redact(NULL, "AUTHORIZATION: Bearer X", true, "AUTHORIZATION: " REDACTED);
	expect_redact(NULL, "x-api-key: k", true, "x-api-key: " REDACTED);
	expect_redact(NULL, "COOKIE: a=b", true, "COOKIE: " REDACTED);
}

static void test_other_credential_headers_are_redacted(void **state)
{
	expect_redact(NULL, "X-Api-Key: 0123456789", true, "X-Api-Key: " REDACTED);
	expect_redact(NULL, "Cookie: session=abc; theme=dark", true, "Cookie: " REDACTED);
	expect_redact(NULL, "Proxy-Authorization: Basic Zm9vOmJhcg==", true, "Proxy-Authorization: " REDACTED);
	expect_redact(NULL, "Api-Key: k", true, "Api-Key: " REDACTED);
	expect_redact(NULL, "X-Goog-Api-Key: k", true, "X-Goog-Api-Key: " REDACTED);
	expect_redact(NULL, "X-Auth-Token: t", true, "X-Auth-Token: " REDACTED);
	expect_redact(NULL, "X-Vault-Token: hvs.abc", true, "X-Vault-Token: " REDACTED);
}

static void test_non_secret_headers_are_untouched(void **state)
{
	expect_untouched("-H", "Content-Type: application/json");
	expect_untouched("-H", "Accept: */*");
	expect_untouched("-H", "User-Agent: curl/8.5.0");
	expect_untouched("-H", "X-Request-Id: 1234");
	/* a header name that merely contains a secret header name */
	expect_untouched("-H", "X-Authorization-Mode: none");
	expect_untouched("-H", "Set-Cookie-Policy: strict");
}

/* ---- values after secret flags ----------------------------------------- */

static void test_value_after_secret_flag_is_redacted_whole(void **state)
{
	expect_redact("--password", "hunter2", true, REDACTED);
	expect_redact("--token", "abc def ghi", true, REDACTED);
	expect_redact("-u", "alice:s3cret", true, REDACTED);
	expect_redact("--user", "alice:s3cret", true, REDACTED);
	expect_redact("--proxy-user", "bob:pw", true, REDACTED);
	expect_redact("--api-key", "k", true, REDACTED);
	expect_redact("--client-secret", "cs", true, REDACTED);
	expect_redact("--oauth2-bearer", "tok", true, REDACTED);
	/* even a value that looks harmless: the flag decides */
	expect_redact("--password", "/usr/bin/python3", true, REDACTED);
	expect_redact("--token", "Content-Type: application/json", true, REDACTED);
	/* flag names are matched case-insensitively */
	expect_redact("--PASSWORD", "hunter2", true, REDACTED);
}

static void test_value_after_ordinary_flag_is_untouched(void **state)
{
	expect_untouched(NULL, "hunter2");
	expect_untouched("-v", "hunter2");
	expect_untouched("--verbose", "hunter2");
	/* exact flag names only: no prefix or suffix matching */
	expect_untouched("--password-file", "/run/secrets/db");
	expect_untouched("--username", "alice");
	expect_untouched("--tokens", "5");
	expect_untouched("-uv", "alice");
	/* a value that equals a flag is not itself a secret */
	expect_untouched(NULL, "--password");
}

/* ---- key=value ---------------------------------------------------------- */

static void test_query_string_secret_is_redacted_others_kept(void **state)
{
	expect_redact(NULL, "https://h/p?api_key=abc&x=1", true, "https://h/p?api_key=" REDACTED "&x=1");
	expect_redact(NULL, "https://h/p?x=1&access_token=abc", true, "https://h/p?x=1&access_token=" REDACTED);
	expect_redact(NULL, "https://h/login?user=bob&password=pw&next=/home", true,
		      "https://h/login?user=bob&password=" REDACTED "&next=/home");
	expect_redact(NULL, "https://h/?token=a&password=b&x=1", true,
		      "https://h/?token=" REDACTED "&password=" REDACTED "&x=1");
	/* key names are matched case-insensitively, as substrings */
	expect_redact(NULL, "https://h/?API_KEY=abc", true, "https://h/?API_KEY=" REDACTED);
	expect_redact(NULL, "https://h/?X-Amz-Signature=deadbeef&X-Amz-Date=1", true,
		      "https://h/?X-Amz-Signature=" REDACTED "&X-Amz-Date=1");
	expect_redact(NULL, "https://h/?client_secret=s", true, "https://h/?client_secret=" REDACTED);
}

static void test_flag_equals_value_is_redacted(void **state)
{
	expect_redact(NULL, "--token=abc", true, "--token=" REDACTED);
	expect_redact(NULL, "--password=hunter2", true, "--password=" REDACTED);
	expect_redact(NULL, "--api-key=k123", true, "--api-key=" REDACTED);
	expect_redact(NULL, "access_token=xyz", true, "access_token=" REDACTED);
	expect_redact(NULL, "password=pw", true, "password=" REDACTED);
	expect_redact(NULL, "DB_PASSWORD=pw", true, "DB_PASSWORD=" REDACTED);
	/* the value ends at a space */
	expect_redact(NULL, "token=abc def", true, "token=" REDACTED " def");
}

static void test_key_without_value_is_untouched(void **state)
{
	expect_untouched(NULL, "password=");
	expect_untouched(NULL, "https://h/?token=&x=1");
	expect_untouched(NULL, "--token");
}

static void test_ordinary_key_values_are_untouched(void **state)
{
	expect_untouched(NULL, "--output=/tmp/out.json");
	expect_untouched(NULL, "--max-time=10");
	expect_untouched(NULL, "name=value");
	expect_untouched(NULL, "https://example.com/search?q=reach&page=2");
	expect_untouched(NULL, "a=b=c");
}

/* ---- Bearer / Basic anywhere -------------------------------------------- */

static void test_bearer_inside_longer_arg_is_redacted(void **state)
{
	/* a credential header's whole value goes, scheme included */
	expect_redact(NULL, "curl -H 'Authorization: Bearer xyz' https://h", true,
		      "curl -H 'Authorization: " REDACTED "' https://h");
	expect_redact(NULL, "Bearer xyz", true, "Bearer " REDACTED);
	expect_redact(NULL, "-HAuthorization: bearer xyz", true, "-HAuthorization: " REDACTED);
	expect_redact(NULL, "auth=none Basic dXNlcjpwYXNz end", true, "auth=" REDACTED " Basic " REDACTED " end");
	expect_redact(NULL, "x \"Bearer abc\" y", true, "x \"Bearer " REDACTED "\" y");
}

static void test_bearer_as_part_of_a_word_is_untouched(void **state)
{
	expect_untouched(NULL, "TheBearer value");
	expect_untouched(NULL, "abasic value");
	expect_untouched(NULL, "Bearer");
	expect_untouched(NULL, "Basically fine");
}

/* ---- token shapes ------------------------------------------------------- */

static void test_token_shapes_are_redacted(void **state)
{
	expect_redact(NULL, "sk-abcdefghijklmnop1234", true, REDACTED);
	expect_redact(NULL, "sk-proj-abcdefghijklmnopqrstuv", true, REDACTED);
	expect_redact(NULL, "ghp_0123456789abcdefghijABCDEFGHIJ", true, REDACTED);
	expect_redact(NULL, "github_pat_11ABCDEFG0123456789_abcdefghij", true, REDACTED);
	expect_redact(NULL, "xoxb-1234567890-abcdefghij", true, REDACTED);
	expect_redact(NULL, "xoxr-1234567890-abcdefghij", true, REDACTED); /* refresh tokens, as http_head knows them */
	expect_redact(NULL, "glpat-abcdefghij0123456789", true, REDACTED);
	expect_redact(NULL, "AKIAIOSFODNN7EXAMPLE", true, REDACTED);
	expect_redact(NULL, "ASIAIOSFODNN7EXAMPLE", true, REDACTED);
	expect_redact(NULL,
		      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
		      "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
		      true, REDACTED);
}

static void test_token_shapes_inside_longer_args(void **state)
{
	expect_redact(NULL, "echo sk-abcdefghijklmnop1234 done", true, "echo " REDACTED " done");
	expect_redact(NULL, "https://x-access-token:ghp_0123456789abcdefghijABCD@github.com/o/r.git", true,
		      "https://x-access-token:" REDACTED "@github.com/o/r.git");
	expect_redact(NULL, "a AKIAIOSFODNN7EXAMPLE b ghp_0123456789abcdefghij c", true,
		      "a " REDACTED " b " REDACTED " c");
	expect_redact(NULL, "'xoxp-1234567890-abc'", true, "'" REDACTED "'");
}

static void test_token_shape_boundaries(void **state)
{
	/* one character short of the minimum tail: untouched */
	expect_untouched(NULL, "sk-abcdefghijklmno");           /* 15 */
	expect_redact(NULL, "sk-abcdefghijklmnop", true, REDACTED); /* 16 */
	expect_untouched(NULL, "ghp_0123456789abcdefghi");        /* 19 */
	expect_redact(NULL, "ghp_0123456789abcdefghij", true, REDACTED);
	expect_untouched(NULL, "AKIAIOSFODNN7EXAMPL");           /* 15 */
	expect_redact(NULL, "AKIAIOSFODNN7EXAMPLE", true, REDACTED);
	expect_untouched(NULL, "xoxb-123456789");                /* 9 */
	expect_redact(NULL, "xoxb-1234567890", true, REDACTED);
	expect_untouched(NULL, "glpat-abcdefghij01234");         /* 15 */
	expect_redact(NULL, "glpat-abcdefghij012345", true, REDACTED);
	expect_untouched(NULL, "eyJhbGciOiJIUzI1NiIsI");          /* 18 */
	expect_redact(NULL, "eyJhbGciOiJIUzI1NiIsInR", true, REDACTED);
}

static void test_near_misses_are_untouched(void **state)
{
	expect_untouched(NULL, "sk-");
	expect_untouched(NULL, "sk-short");
	expect_untouched(NULL, "skip");
	expect_untouched(NULL, "AKIA");
	expect_untouched(NULL, "AKIA1234");
	expect_untouched(NULL, "akiaiosfodnn7example"); /* prefixes are case-sensitive */
	expect_untouched(NULL, "/usr/bin/python3");
	expect_untouched(NULL, "--verbose");
	expect_untouched(NULL, "-c");
	expect_untouched(NULL, "import sys; print(sys.argv)");
	expect_untouched(NULL, "ghp_");
	/* a prefix in the middle of a word is not a token start */
	expect_untouched(NULL, "task-abcdefghijklmnopqrstuvwxyz");
	expect_untouched(NULL, "MYAKIAIOSFODNN7EXAMPLE");
	expect_untouched(NULL, "");
}

/* ---- return value and buffer handling ----------------------------------- */

static void test_return_value_matches_whether_output_changed(void **state)
{
	static const char *const args[] = {
		"Authorization: Bearer X", "Content-Type: application/json", "--token=abc", "--verbose",
		"https://h/p?api_key=abc&x=1", "https://h/p?x=1", "Bearer xyz", "skip",
		"AKIAIOSFODNN7EXAMPLE", "AKIA", "/usr/bin/python3", "sk-abcdefghijklmnop1234", NULL,
	};
	char out[OUT_SIZE];

	for (int i = 0; args[i]; i++) {
		bool rc = redact_arg(NULL, args[i], out, sizeof(out));

		if (rc != (strcmp(out, args[i]) != 0))
			fail_msg("\"%s\" -> \"%s\" returned %d", args[i], out, rc);
	}
}

static void test_zero_size_buffer_is_not_written(void **state)
{
	char out[4] = { 'a', 'b', 'c', 'd' };

	assert_false(redact_arg(NULL, "--verbose", out, 0));
	assert_false(redact_arg("--password", "hunter2", out, 0));
	assert_memory_equal(out, "abcd", 4);
}

/* For every size, the output is NUL terminated within the size, a prefix of
 * the untruncated output, the bytes after the size are untouched, and no
 * secret leaks through the truncation. */
static void test_small_buffers_truncate_safely(void **state)
{
	static const struct { const char *prev, *arg, *secret; } cases[] = {
		{ NULL, "Authorization: Bearer SECRETVALUE", "SECRETVALUE" },
		{ "--password", "SECRETVALUE", "SECRETVALUE" },
		{ NULL, "https://h/p?api_key=SECRETVALUE&x=1", "SECRETVALUE" },
		{ NULL, "say Bearer SECRETVALUE now", "SECRETVALUE" },
		{ NULL, "x sk-SECRETVALUE0123456789 y", "SECRETVALUE" },
		{ NULL, "/usr/bin/python3", NULL },
	};
	char full[OUT_SIZE], out[OUT_SIZE + 16];

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		bool full_rc = redact_arg(cases[c].prev, cases[c].arg, full, sizeof(full));
		size_t full_len = strlen(full);

		for (size_t size = 1; size <= full_len + 2; size++) {
			size_t len;
			bool rc;

			memset(out, 0xAA, sizeof(out));
			rc = redact_arg(cases[c].prev, cases[c].arg, out, size);
			len = strnlen(out, size);
			if (len >= size)
				fail_msg("case %zu size %zu: not NUL terminated", c, size);
			assert_int_equal(len, full_len < size - 1 ? full_len : size - 1);
			assert_memory_equal(out, full, len);
			for (size_t i = size; i < sizeof(out); i++)
				if ((unsigned char)out[i] != 0xAA)
					fail_msg("case %zu size %zu: byte %zu written", c, size, i);
			if (cases[c].secret && strstr(out, cases[c].secret))
				fail_msg("case %zu size %zu: secret leaked: %s", c, size, out);
			/* a truncated value is no less redacted */
			assert_int_equal(rc, full_rc);
		}
	}
}

/* ---- property: planted secrets never survive ----------------------------- */

static void test_planted_secrets_never_reach_output(void **state)
{
	static const struct { const char *prev, *fmt; } forms[] = {
		{ NULL, "Authorization: Bearer %s" },
		{ NULL, "authorization: %s" },
		{ NULL, "Proxy-Authorization: Basic %s" },
		{ NULL, "X-Api-Key: %s" },
		{ NULL, "Cookie: session=%s" },
		{ "--password", "%s" },
		{ "--token", "%s" },
		{ "-u", "admin:%s" },
		{ "--user", "admin:%s" },
		{ NULL, "--token=%s" },
		{ NULL, "--password=%s" },
		{ NULL, "https://h/p?api_key=%s&x=1" },
		{ NULL, "https://h/p?x=1&access_token=%s" },
		{ NULL, "https://h/p?password=%s" },
		{ NULL, "curl -H 'Authorization: Bearer %s' https://h" },
		{ NULL, "echo Basic %s" },
	};
	static const char *const secrets[] = {
		"hunter2hunter2",
		"sk-abcdefghijklmnop1234",
		"ghp_0123456789abcdefghijABCD",
		"github_pat_11ABCDEFG0123456789_abcdefghij",
		"xoxb-1234567890-abcdefghij",
		"glpat-abcdefghij0123456789",
		"AKIAIOSFODNN7EXAMPLE",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
		"dXNlcjpwYXNzd29yZA==",
	};
	char arg[OUT_SIZE];

	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		for (size_t s = 0; s < sizeof(secrets) / sizeof(secrets[0]); s++) {
			snprintf(arg, sizeof(arg), forms[f].fmt, secrets[s]);
			expect_hidden(forms[f].prev, arg, secrets[s]);
		}
	}
	/* bare token shapes, alone and surrounded by spaces */
	for (size_t s = 1; s < sizeof(secrets) / sizeof(secrets[0]) - 1; s++) {
		expect_hidden(NULL, secrets[s], secrets[s]);
		snprintf(arg, sizeof(arg), "run %s now", secrets[s]);
		expect_hidden(NULL, arg, secrets[s]);
	}
}

/* ---- defects found while writing these tests ----------------------------- */

static void test_token_shape_after_slash_or_equals_is_redacted(void **state)
{
	/* Was a bug (fixed): redact.c token-shape check requires !is_token_char(p[-1]) and
	 * is_token_char() accepts '/' and '=', so a token right after "//" (git
	 * URL userinfo) or after "key=" with a non-secret key name is printed raw. */
	expect_hidden(NULL, "https://ghp_0123456789abcdefghijABCD@github.com/o/r.git",
		      "ghp_0123456789abcdefghijABCD");
	expect_hidden(NULL, "https://h/cb?jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
		      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln");
	expect_hidden(NULL, "--openai-key=sk-abcdefghijklmnop1234", "sk-abcdefghijklmnop1234");
}

static void test_equals_form_of_every_secret_flag_is_redacted(void **state)
{
	/* Was a bug (fixed): the "--flag VALUE" form of these flags is redacted whole, but
	 * "--flag=VALUE" relies on secret_keys substrings, and "user", "bearer"
	 * and "access-key" (dash; only "access_key" is listed) are not there:
	 * --user=, --proxy-user=, --bearer= and --access-key= leak their value. */
	static const char *const flags[] = {
		"--password", "--passwd", "--token", "--api-key", "--apikey", "--secret", "--client-secret",
		"--secret-key", "--auth", "--oauth2-bearer",
		"--user", "--proxy-user", "--bearer", "--access-key", NULL,
	};
	char arg[128];

	for (int i = 0; flags[i]; i++) {
		snprintf(arg, sizeof(arg), "%s=Zq9vX7wPlanted", flags[i]);
		expect_hidden(NULL, arg, "Zq9vX7wPlanted");
	}
}

static void test_secret_header_embedded_in_longer_arg_is_redacted(void **state)
{
	/* Was a bug (fixed): redact_header() only matches when the whole arg starts with the
	 * header name; wget --header=..., curl's attached -H... and sh -c scripts
	 * carry a credential header after other text and print its value raw. */
	expect_hidden(NULL, "--header=X-Api-Key: Zq9vX7wPlanted", "Zq9vX7wPlanted");
	expect_hidden(NULL, "-HCookie: sid=Zq9vX7wPlanted", "Zq9vX7wPlanted");
	expect_hidden(NULL, "curl -H 'Authorization: token Zq9vX7wPlanted' https://api.github.com",
		      "Zq9vX7wPlanted");
}

static void test_long_secret_key_name_is_redacted(void **state)
{
	/* Was a bug (fixed): key_is_secret() returns false for key names of 64+ characters, so
	 * a long NAME_..._PASSWORD=value (env, docker -e) is printed raw. */
	char arg[256];

	snprintf(arg, sizeof(arg), "%s_PASSWORD=Zq9vX7wPlanted",
		 "MY_COMPANY_INTERNAL_BILLING_SERVICE_PRIMARY_POSTGRES_DATABASE");
	expect_hidden(NULL, arg, "Zq9vX7wPlanted");
}

static void test_bearer_followed_by_extra_space_is_redacted(void **state)
{
	/* Was a bug (fixed): after "Bearer " the value is skipped up to the next space, so with
	 * two spaces nothing is skipped and the value that follows is printed raw. */
	expect_hidden(NULL, "curl -H 'Authorization: Bearer  Zq9vX7wPlanted' https://h", "Zq9vX7wPlanted");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authorization_header_value_is_redacted),
		cmocka_unit_test(test_header_names_are_case_insensitive_and_name_is_kept),
		cmocka_unit_test(test_other_credential_headers_are_redacted),
		cmocka_unit_test(test_non_secret_headers_are_untouched),
		cmocka_unit_test(test_value_after_secret_flag_is_redacted_whole),
		cmocka_unit_test(test_value_after_ordinary_flag_is_untouched),
		cmocka_unit_test(test_query_string_secret_is_redacted_others_kept),
		cmocka_unit_test(test_flag_equals_value_is_redacted),
		cmocka_unit_test(test_key_without_value_is_untouched),
		cmocka_unit_test(test_ordinary_key_values_are_untouched),
		cmocka_unit_test(test_bearer_inside_longer_arg_is_redacted),
		cmocka_unit_test(test_bearer_as_part_of_a_word_is_untouched),
		cmocka_unit_test(test_token_shapes_are_redacted),
		cmocka_unit_test(test_token_shapes_inside_longer_args),
		cmocka_unit_test(test_token_shape_boundaries),
		cmocka_unit_test(test_near_misses_are_untouched),
		cmocka_unit_test(test_return_value_matches_whether_output_changed),
		cmocka_unit_test(test_zero_size_buffer_is_not_written),
		cmocka_unit_test(test_small_buffers_truncate_safely),
		cmocka_unit_test(test_planted_secrets_never_reach_output),
		cmocka_unit_test(test_token_shape_after_slash_or_equals_is_redacted),
		cmocka_unit_test(test_equals_form_of_every_secret_flag_is_redacted),
		cmocka_unit_test(test_secret_header_embedded_in_longer_arg_is_redacted),
		cmocka_unit_test(test_long_secret_key_name_is_redacted),
		cmocka_unit_test(test_bearer_followed_by_extra_space_is_redacted),
	};

	return cmocka_run_group_tests_name("redact", tests, NULL, NULL);
}
