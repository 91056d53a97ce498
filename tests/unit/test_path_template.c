#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "http/http_head.h"
#include "http/path_template.h"

#define TOKEN "Qx7vR2mK9pL4wZ8nT3bY6cJd"

static struct fp_key test_key = { { 9, 8, 7 } };

/* Parses "GET <target> HTTP/1.1" and checks the template; returns the head. */
static const struct http_request_head *parse(const char *target)
{
	static struct http_request_head head;
	char req[2048];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", target);

	assert_int_equal(http_parse_request_head((const uint8_t *)req, (size_t)n, &test_key, &head), 0);
	return &head;
}

static bool has_cred(const struct http_request_head *h, const char *kind)
{
	for (int i = 0; i < h->n_creds; i++)
		if (strcmp(h->creds[i].kind, kind) == 0)
			return true;
	return false;
}

static void expect_secret_gone(const char *target, const char *secret, const char *want_template)
{
	const struct http_request_head *h = parse(target);

	if (strstr(h->path_template, secret) || strstr(h->path, secret))
		fail_msg("%s: secret kept: template %s path %s", target, h->path_template, h->path);
	assert_string_equal(h->path_template, want_template);
}

static void test_secret_paths_are_templated(void **state)
{
	const struct http_request_head *h;

	expect_secret_gone("/bot123456789:AAH" TOKEN "/sendMessage", TOKEN, "/{secret}/sendMessage");
	expect_secret_gone("/services/T0123ABCD/B0456EFGH/" TOKEN, TOKEN, "/services/{id}/{id}/{secret}");
	expect_secret_gone("/services/T0123ABCD/B0456EFGH/lowercasewordsonly", "lowercasewordsonly",
			   "/services/{id}/{id}/{secret}");
	expect_secret_gone("/v1/keys/mykeyname/rotate", "mykeyname", "/v1/keys/{secret}/rotate");
	expect_secret_gone("/api/webhooks/123456/abcdefdeadcafe", "abcdefdeadcafe", "/api/webhooks/{id}/{secret}");
	expect_secret_gone("/v1/tokens/" TOKEN, TOKEN, "/v1/tokens/{secret}");
	expect_secret_gone("/app/home;jsessionid=" TOKEN, TOKEN, "/app/home");
	expect_secret_gone("/a;jsessionid=" TOKEN "/b", TOKEN, "/a/b");
	expect_secret_gone("/cb?code=" TOKEN "&key=" TOKEN, TOKEN, "/cb");
	expect_secret_gone("/x/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl/y",
			   "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0", "/x/{secret}/y");
	expect_secret_gone("/files/wJalrXUtnFEMI-K7MDENG-bPxRfiCY", "wJalrXUtnFEMI", "/files/{id}");
	/* the bot token is a credential: fingerprinted into the edge's set */
	h = parse("/bot123456789:AAH" TOKEN "/sendMessage");
	assert_true(has_cred(h, "path:secret"));
	h = parse("/services/T0123ABCD/B0456EFGH/" TOKEN);
	assert_true(has_cred(h, "path:secret"));
	/* a secret's name after "secrets" is hidden but not a credential */
	h = parse("/v1/secrets/db");
	assert_string_equal(h->path_template, "/v1/secrets/{secret}");
	assert_false(has_cred(h, "path:secret"));
}

static void test_ordinary_paths_are_kept(void **state)
{
	static const char *const paths[] = {
		"/v1/chat/completions", "/v1/models/gpt-4o-mini-2024-07-18", "/api/v1/namespaces",
		"/v1beta/models/gemini-1.5-pro:generateContent", "/static/js/main.chunk.js", "/healthz",
		"/repos/octocat/Hello-World/pulls", "/v2/library/python/manifests/latest", "/index.html",
		"/services/list", "/v1/secrets",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		assert_string_equal(parse(paths[i])->path_template, paths[i]);
	assert_string_equal(parse("/users/42/keys/7")->path_template, "/users/{id}/keys/{id}");
}

static void test_random_tokens(void **state)
{
	static const char *const random[] = {
		TOKEN, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYQx7vR2mK9p", "c4224de39456fa0c68818d19bcf126e64d9e9ca2",
		"xOpo-jNwpD_JdpyQPLX1tw", "tnZAqPeAMipbja28dbJu", "lyVJMRhA17xmR2g27H7oE1O2H4R4vmCR",
	};
	static const char *const words[] = {
		"getElementByIdForUser", "SpringApplicationContext", "/usr/lib/x86_64-linux-gnu/libssl.so.3",
		"/home/Alice/Documents/Report2024", "org.springframework.boot", "requirements-dev.txt",
		"kubernetes-dashboard", "python3-setuptools", "ubuntu-22.04-server-amd64", "MyApplication2Service",
		"registry.example.com", "x86_64-unknown-linux-gnu", "ReachPolicyV1Alpha1Spec",
		"feature/ReachPolicyV1Alpha1Spec", "2024-01-02T03:04:05Z", "short",
		"/tmp/reach-e2e-9qhlwn6p/tool-read.key", "/tmp/pytest-of-root/pytest-12/test_x0",
	};

	for (size_t i = 0; i < sizeof(random) / sizeof(random[0]); i++)
		if (!token_looks_random(random[i], strlen(random[i])))
			fail_msg("not random: %s", random[i]);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (token_looks_random(words[i], strlen(words[i])))
			fail_msg("random: %s", words[i]);
}

static void test_query_params(void **state)
{
	assert_true(query_param_is_secret("code", 4));
	assert_true(query_param_is_secret("api_key", 7));
	assert_true(query_param_is_secret("X-Amz-Signature", 15));
	assert_true(query_param_is_secret("jsessionid", 10));
	assert_false(query_param_is_secret("page", 4));
	assert_false(query_param_is_secret("q", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_paths_are_templated),
		cmocka_unit_test(test_ordinary_paths_are_kept),
		cmocka_unit_test(test_random_tokens),
		cmocka_unit_test(test_query_params),
	};

	return cmocka_run_group_tests_name("path_template", tests, NULL, NULL);
}
