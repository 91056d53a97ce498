#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/yamlfile.h"

static char path[] = "/tmp/reach-test-yamlfile-XXXXXX";

static void write_file(const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

/* Opens and loads the only document; returns the rc, err gets the message. */
static int load(char *err, size_t err_size)
{
	struct yaml_file y;
	const yaml_node_t *root;
	int rc = yaml_file_open(&y, path, 8 << 20, "test", err, err_size);

	if (rc == 0)
		rc = yaml_file_only(&y, &root);
	yaml_file_close(&y);
	return rc;
}

/* "a: " then n nested flow sequences */
static char *nested(size_t n, size_t *len)
{
	char *t = malloc(2 * n + 8);

	assert_non_null(t);
	memcpy(t, "a: ", 3);
	memset(t + 3, '[', n);
	memset(t + 3 + n, ']', n);
	t[3 + 2 * n] = '\n';
	*len = 2 * n + 4;
	return t;
}

static void test_deep_nesting_is_refused_with_its_position(void **state)
{
	char err[512], want[128];
	size_t len;
	char *t = nested(100000, &len);

	write_file(t, len);
	free(t);
	assert_int_equal(load(err, sizeof(err)), -EINVAL);
	/* the mapping is level 1; the 64th '[' is level 65, at column 3 + 64 */
	snprintf(want, sizeof(want), "%s:1:%d: nested deeper than 64 levels", path, 3 + 64);
	if (!strstr(err, want))
		fail_msg("got \"%s\", want \"%s\"", err, want);
}

static void test_nesting_at_the_limit_loads(void **state)
{
	char err[512] = "";
	size_t len;
	char *t = nested(63, &len); /* 63 + the mapping = 64 */

	write_file(t, len);
	free(t);
	assert_int_equal(load(err, sizeof(err)), 0);
	t = nested(64, &len);
	write_file(t, len);
	free(t);
	assert_int_equal(load(err, sizeof(err)), -EINVAL);
}

static void test_too_many_nodes_are_refused(void **state)
{
	size_t n = YAML_MAX_NODES + 10, len = 0;
	char *t = malloc(2 * n + 16), err[512];

	assert_non_null(t);
	t[len++] = '[';
	for (size_t i = 0; i < n; i++) {
		t[len++] = 'a';
		t[len++] = ',';
	}
	t[len - 1] = ']';
	t[len++] = '\n';
	write_file(t, len);
	free(t);
	assert_int_equal(load(err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than 200000 nodes"));
	assert_non_null(strstr(err, path));
}

static void test_syntax_errors_keep_their_message(void **state)
{
	char err[512];

	write_file("a: [b, c\n", 9);
	assert_int_equal(load(err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "YAML syntax error"));
}

static int setup(void **state)
{
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deep_nesting_is_refused_with_its_position),
		cmocka_unit_test(test_nesting_at_the_limit_loads),
		cmocka_unit_test(test_too_many_nodes_are_refused),
		cmocka_unit_test(test_syntax_errors_keep_their_message),
	};

	return cmocka_run_group_tests_name("yamlfile", tests, setup, teardown);
}
