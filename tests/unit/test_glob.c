#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/glob.h"

static void test_literal_must_match_whole_path(void **state)
{
	assert_true(glob_match("/etc/passwd", "/etc/passwd"));
	assert_false(glob_match("/etc/passwd", "/etc/passwd2"));
	assert_false(glob_match("/etc/passwd", "/etc/passw"));
	assert_false(glob_match("/etc/passwd", "/etc/passwd/"));
	assert_true(glob_match("", ""));
	assert_false(glob_match("", "/"));
}

static void test_null_arguments_never_match(void **state)
{
	assert_false(glob_match(NULL, "/a"));
	assert_false(glob_match("/a", NULL));
	assert_false(glob_match(NULL, NULL));
}

static void test_star_stays_within_one_component(void **state)
{
	assert_true(glob_match("/etc/kubernetes/*.conf", "/etc/kubernetes/admin.conf"));
	assert_false(glob_match("/etc/kubernetes/*.conf", "/etc/kubernetes/sub/admin.conf"));
	assert_true(glob_match("*.pem", ".pem"));       /* empty run, no dot rule */
	assert_true(glob_match("*.pem", "server.pem"));
	assert_false(glob_match("*.pem", "a/server.pem"));
	assert_true(glob_match("/a/*", "/a/"));
	assert_false(glob_match("/a/*", "/a/b/c"));
	assert_true(glob_match("/etc/ssh/ssh_host_*_key", "/etc/ssh/ssh_host_ed25519_key"));
	assert_false(glob_match("/etc/ssh/ssh_host_*_key", "/etc/ssh/ssh_host_rsa_key.pub"));
	assert_true(glob_match("a*b*c", "aXXbYYc"));
	assert_true(glob_match("a*b*c", "abc"));
	assert_false(glob_match("a*b*c", "aXXbYY"));
}

static void test_question_mark_is_one_non_slash_char(void **state)
{
	assert_true(glob_match("/tmp/?.key", "/tmp/a.key"));
	assert_false(glob_match("/tmp/?.key", "/tmp/.key"));
	assert_false(glob_match("/tmp/?.key", "/tmp/ab.key"));
	assert_false(glob_match("/tmp?x", "/tmp/x"));
}

static void test_trailing_globstar_matches_everything_below(void **state)
{
	assert_true(glob_match("/run/secrets/**", "/run/secrets/a"));
	assert_true(glob_match("/run/secrets/**", "/run/secrets/a/b"));
	assert_true(glob_match("/run/secrets/**", "/run/secrets/"));
	/* The directory itself is not inside itself. */
	assert_false(glob_match("/run/secrets/**", "/run/secrets"));
	assert_false(glob_match("/run/secrets/**", "/run/secretsX/a"));
}

static void test_leading_globstar_matches_any_prefix_or_none(void **state)
{
	assert_true(glob_match("**/.env", "/app/.env"));
	assert_true(glob_match("**/.env", "/srv/deep/app/.env"));
	assert_true(glob_match("**/.env", "/.env"));
	assert_true(glob_match("**/.env", ".env"));
	assert_false(glob_match("**/.env", "/app/x.env"));
	assert_false(glob_match("**/.env", "/app/.env/x"));
}

static void test_middle_globstar_matches_zero_or_more_components(void **state)
{
	assert_true(glob_match("/a/**/b", "/a/b"));
	assert_true(glob_match("/a/**/b", "/a/x/b"));
	assert_true(glob_match("/a/**/b", "/a/x/y/b"));
	assert_false(glob_match("/a/**/b", "/ab"));
	assert_false(glob_match("/a/**/b", "/a/xb"));
	assert_false(glob_match("/a/**/b", "/a/x/yb"));
	assert_false(glob_match("/a/**/b", "/a/b/c"));
	assert_true(glob_match("/a/**/**/b", "/a/b"));
	assert_true(glob_match("/a/**/**/b", "/a/x/y/z/b"));
}

static void test_globstar_inside_a_component_is_just_any_run(void **state)
{
	/* Not a whole component, so no zero-component shortcut: "ab" must not match. */
	assert_false(glob_match("a**/b", "ab"));
	assert_true(glob_match("a**/b", "a/b"));
	assert_true(glob_match("a**/b", "ax/y/b"));
	assert_true(glob_match("/x**y", "/x/1/2/y"));
	assert_true(glob_match("/x***y", "/x/1/y"));
}

static void test_character_classes(void **state)
{
	assert_true(glob_match("/[abc].txt", "/b.txt"));
	assert_false(glob_match("/[abc].txt", "/d.txt"));
	assert_true(glob_match("/[a-z]1", "/q1"));
	assert_false(glob_match("/[a-z]1", "/Q1"));
	assert_true(glob_match("/[!a]", "/b"));
	assert_false(glob_match("/[!a]", "/a"));
	assert_true(glob_match("/[^a]", "/b"));
	assert_false(glob_match("/[^a]", "/a"));
	assert_true(glob_match("/[]x]", "/]"));
	assert_true(glob_match("/[a-]", "/-"));
	assert_true(glob_match("/[\\]]", "/]"));
	assert_true(glob_match("/f[0-9][0-9]", "/f42"));
	assert_false(glob_match("/f[0-9][0-9]", "/f4x"));
}

static void test_classes_never_match_slash(void **state)
{
	assert_false(glob_match("/a[/]b", "/a/b"));
	assert_false(glob_match("/a[!x]b", "/a/b"));
	assert_false(glob_match("/a[.-0]b", "/a/b")); /* '/' lies in the range . - 0 */
}

static void test_unterminated_class_is_literal(void **state)
{
	assert_true(glob_match("/a[b", "/a[b"));
	assert_false(glob_match("/a[b", "/ab"));
}

static void test_backslash_escapes(void **state)
{
	assert_true(glob_match("/a\\*b", "/a*b"));
	assert_false(glob_match("/a\\*b", "/aXb"));
	assert_true(glob_match("/a\\?", "/a?"));
	assert_false(glob_match("/a\\?", "/ab"));
	assert_true(glob_match("/\\[x]", "/[x]"));
	assert_true(glob_match("/a\\\\b", "/a\\b"));
	assert_true(glob_match("/a\\", "/a\\")); /* trailing backslash is literal */
}

static void test_non_ascii_bytes_match_literally(void **state)
{
	assert_true(glob_match("/h\xc3\xa9/*", "/h\xc3\xa9/x"));
	assert_true(glob_match("/?", "/\xff"));
	assert_true(glob_match("/[\x80-\xff]", "/\xc3"));
}

/* 4 KiB of "a" and no "b": a backtracking matcher needs ~n^4 steps here. */
static void test_pathological_pattern_is_fast(void **state)
{
	char path[4097];
	clock_t start;
	double seconds;

	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';

	start = clock();
	assert_false(glob_match("**a**a**a**b", path));
	assert_false(glob_match("*a*a*a*a*a*a*b", path));
	assert_false(glob_match("/**/**/**/**/x", path));
	path[sizeof(path) - 2] = 'b';
	assert_true(glob_match("**a**a**a**b", path));

	/* Same with many components: "/a/a/.../a" and globstars between them. */
	for (size_t i = 0; i + 1 < sizeof(path) - 1; i += 2) {
		path[i] = '/';
		path[i + 1] = 'a';
	}
	assert_false(glob_match("/**/a/**/a/**/a/**/b", path));
	assert_true(glob_match("/**/a/**/a/**/a/**/a", path));
	assert_false(glob_match("/*/*/*/*/b", path));
	seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
	assert_true(seconds < 1.0);
}

static void test_long_pattern_uses_heap_path(void **state)
{
	char pattern[600];
	char path[600];

	/* Longer than the on-stack token buffer. */
	memset(pattern, '?', sizeof(pattern) - 1);
	pattern[sizeof(pattern) - 1] = '\0';
	memset(path, 'x', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_true(glob_match(pattern, path));
	path[sizeof(path) - 2] = '\0';
	assert_false(glob_match(pattern, path));
}


static void test_check_finds_mistakes(void **state)
{
	size_t at = 99;
	char why[200];

	(void)state;
	assert_int_equal(glob_check("/etc/**/x[a-z]?*.key", &at, why, sizeof(why)), 0);
	assert_int_equal(glob_check("/a/[]x]/\\[", &at, why, sizeof(why)), 0);
	assert_int_equal(glob_check("/tmp/[abc", &at, why, sizeof(why)), -EINVAL);
	assert_int_equal(at, 5);
	assert_int_equal(glob_check("/x[!z-a]", &at, why, sizeof(why)), -EINVAL);
	assert_int_equal(at, 4);
	assert_non_null(strstr(why, "z-a"));
	assert_int_equal(glob_check("/a/***", &at, why, sizeof(why)), -EINVAL);
	assert_int_equal(at, 3);
	assert_int_equal(glob_check("/a/\\***", &at, why, sizeof(why)), 0); /* an escaped '*' then '**' */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_must_match_whole_path),
		cmocka_unit_test(test_null_arguments_never_match),
		cmocka_unit_test(test_star_stays_within_one_component),
		cmocka_unit_test(test_question_mark_is_one_non_slash_char),
		cmocka_unit_test(test_trailing_globstar_matches_everything_below),
		cmocka_unit_test(test_leading_globstar_matches_any_prefix_or_none),
		cmocka_unit_test(test_middle_globstar_matches_zero_or_more_components),
		cmocka_unit_test(test_globstar_inside_a_component_is_just_any_run),
		cmocka_unit_test(test_character_classes),
		cmocka_unit_test(test_classes_never_match_slash),
		cmocka_unit_test(test_unterminated_class_is_literal),
		cmocka_unit_test(test_backslash_escapes),
		cmocka_unit_test(test_non_ascii_bytes_match_literally),
		cmocka_unit_test(test_pathological_pattern_is_fast),
		cmocka_unit_test(test_long_pattern_uses_heap_path),
		cmocka_unit_test(test_check_finds_mistakes),
	};

	return cmocka_run_group_tests_name("glob", tests, NULL, NULL);
}
