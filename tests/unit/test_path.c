#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "reach/path.h"

#define OUT_SIZE 256

/* Runs path_make_absolute into a roomy buffer and checks rc and output. */
static void expect_path(const char *base, const char *path, const char *want)
{
	char out[OUT_SIZE];

	assert_int_equal(path_make_absolute(base, path, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void expect_error(const char *base, const char *path, int want_rc)
{
	char out[OUT_SIZE] = "garbage";

	assert_int_equal(path_make_absolute(base, path, out, sizeof(out)), want_rc);
	assert_string_equal(out, "");
}

static void test_absolute_path_ignores_base(void **state)
{
	expect_path("/base", "/etc/passwd", "/etc/passwd");
	expect_path(NULL, "/etc/passwd", "/etc/passwd");
	expect_path("relative-base-is-fine-when-unused", "/x", "/x");
}

static void test_root_stays_root(void **state)
{
	expect_path(NULL, "/", "/");
	expect_path(NULL, "///", "/");
	expect_path(NULL, "/.", "/");
	expect_path("/", ".", "/");
}

static void test_repeated_slashes_collapse(void **state)
{
	expect_path(NULL, "//etc///ssl//certs", "/etc/ssl/certs");
	expect_path("//srv//", "app//.env", "/srv/app/.env");
}

static void test_dot_segments_are_dropped(void **state)
{
	expect_path(NULL, "/./etc/./ssh/.", "/etc/ssh");
	expect_path("/app", "./.env", "/app/.env");
	/* Only exact "." and ".." are special; dotfiles are ordinary names. */
	expect_path(NULL, "/home/u/.ssh/...", "/home/u/.ssh/...");
	expect_path(NULL, "/a/.b/..c", "/a/.b/..c");
}

static void test_dot_dot_pops_one_segment(void **state)
{
	expect_path(NULL, "/a/b/../c", "/a/c");
	expect_path(NULL, "/a/b/c/../../d", "/a/d");
	expect_path(NULL, "/a/b/..", "/a");
	expect_path("/srv/app/bin", "../config/.env", "/srv/app/config/.env");
}

static void test_dot_dot_never_climbs_above_root(void **state)
{
	expect_path(NULL, "/..", "/");
	expect_path(NULL, "/../../etc/shadow", "/etc/shadow");
	expect_path("/", "../../..", "/");
	expect_path("/a", "../../../b", "/b");
}

static void test_trailing_slash_is_removed(void **state)
{
	expect_path(NULL, "/run/secrets/", "/run/secrets");
	expect_path("/app/", "config/", "/app/config");
}

static void test_relative_path_joins_base(void **state)
{
	expect_path("/home/u", ".aws/credentials", "/home/u/.aws/credentials");
	/* The base is normalized too. */
	expect_path("/home/./u/../v/", "x", "/home/v/x");
}

static void test_invalid_arguments(void **state)
{
	char out[8];

	expect_error("/base", NULL, -EINVAL);
	expect_error("/base", "", -EINVAL);
	expect_error(NULL, "rel", -EINVAL);
	expect_error("", "rel", -EINVAL);
	expect_error("base/not/absolute", "rel", -EINVAL);
	assert_int_equal(path_make_absolute("/b", "/x", NULL, 8), -EINVAL);
	assert_int_equal(path_make_absolute("/b", "/x", out, 0), -EINVAL);
}

static void test_result_that_fits_exactly(void **state)
{
	char out[7]; /* "/a/bcd" + NUL */
	char root[2];

	assert_int_equal(path_make_absolute(NULL, "/a/bcd", out, sizeof(out)), 0);
	assert_string_equal(out, "/a/bcd");
	assert_int_equal(path_make_absolute(NULL, "/x/..", root, sizeof(root)), 0);
	assert_string_equal(root, "/");
}

static void test_too_long_result_is_reported_and_empty(void **state)
{
	char out[6];
	char one[1];

	assert_int_equal(path_make_absolute(NULL, "/a/bcd", out, sizeof(out)), -ENAMETOOLONG);
	assert_string_equal(out, "");
	assert_int_equal(path_make_absolute("/very/long/base", "x", out, sizeof(out)),
			 -ENAMETOOLONG);
	assert_string_equal(out, "");
	/* Even "/" needs two bytes. */
	assert_int_equal(path_make_absolute(NULL, "/", one, sizeof(one)), -ENAMETOOLONG);
	assert_string_equal(one, "");
}

static void test_overlong_segment_popped_by_dot_dot_still_fits(void **state)
{
	char out[8];

	/* Lexically "/a/b": the long middle part never reaches the result. */
	assert_int_equal(path_make_absolute(NULL, "/a/verylongname/more/../../b", out,
					    sizeof(out)), 0);
	assert_string_equal(out, "/a/b");
	assert_int_equal(path_make_absolute(NULL, "/a/verylongname/../../..", out,
					    sizeof(out)), 0);
	assert_string_equal(out, "/");
}

static void test_long_path_near_path_max(void **state)
{
	char in[4200];
	char out[4096];

	/* 4094 'x' after '/' = 4095 chars + NUL: exactly fits. */
	in[0] = '/';
	memset(in + 1, 'x', 4094);
	in[4095] = '\0';
	assert_int_equal(path_make_absolute(NULL, in, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 4095);
	/* One more character does not. */
	in[4095] = 'x';
	in[4096] = '\0';
	assert_int_equal(path_make_absolute(NULL, in, out, sizeof(out)), -ENAMETOOLONG);
	assert_string_equal(out, "");
}

static void test_basename(void **state)
{
	const char *p = "/a/b";

	assert_string_equal(path_basename("/etc/ssl/server.pem"), "server.pem");
	assert_string_equal(path_basename("server.pem"), "server.pem");
	assert_string_equal(path_basename("/.env"), ".env");
	assert_string_equal(path_basename("/"), "");
	assert_string_equal(path_basename("/a/"), "");
	assert_string_equal(path_basename(""), "");
	assert_string_equal(path_basename(NULL), "");
	assert_ptr_equal(path_basename(p), p + 3); /* points into the argument */
}

static void test_stable_name_drops_atomic_writer_dirs(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(path_stable_name("/run/secrets/kubernetes.io/serviceaccount/..2026_12_05_21_00_00.123456789/token",
					  out, sizeof(out)), 0);
	assert_string_equal(out, "/run/secrets/kubernetes.io/serviceaccount/token");
	assert_int_equal(path_stable_name("/etc/cfg/..data/app.yaml", out, sizeof(out)), 0);
	assert_string_equal(out, "/etc/cfg/app.yaml");
	/* a file named like the writer's directory is kept: only directories go */
	assert_int_equal(path_stable_name("/etc/cfg/..data", out, sizeof(out)), 0);
	assert_string_equal(out, "/etc/cfg/..data");
	/* "..", "...x" and dot files are not the writer's */
	assert_int_equal(path_stable_name("/a/../b/...x/.env", out, sizeof(out)), 0);
	assert_string_equal(out, "/a/../b/...x/.env");
	assert_int_equal(path_stable_name("/plain/file.key", out, sizeof(out)), 0);
	assert_string_equal(out, "/plain/file.key");
	/* in place, and too long */
	snprintf(out, sizeof(out), "/x/..2026_01/y");
	assert_int_equal(path_stable_name(out, out, sizeof(out)), 0);
	assert_string_equal(out, "/x/y");
	assert_int_equal(path_stable_name("/abcdef/ghi", out, 8), -ENAMETOOLONG);
	assert_string_equal(out, "");
	assert_int_equal(path_stable_name(NULL, out, sizeof(out)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_absolute_path_ignores_base),
		cmocka_unit_test(test_root_stays_root),
		cmocka_unit_test(test_repeated_slashes_collapse),
		cmocka_unit_test(test_dot_segments_are_dropped),
		cmocka_unit_test(test_dot_dot_pops_one_segment),
		cmocka_unit_test(test_dot_dot_never_climbs_above_root),
		cmocka_unit_test(test_trailing_slash_is_removed),
		cmocka_unit_test(test_relative_path_joins_base),
		cmocka_unit_test(test_invalid_arguments),
		cmocka_unit_test(test_result_that_fits_exactly),
		cmocka_unit_test(test_too_long_result_is_reported_and_empty),
		cmocka_unit_test(test_overlong_segment_popped_by_dot_dot_still_fits),
		cmocka_unit_test(test_long_path_near_path_max),
		cmocka_unit_test(test_basename),
		cmocka_unit_test(test_stable_name_drops_atomic_writer_dirs),
	};

	return cmocka_run_group_tests_name("path", tests, NULL, NULL);
}
