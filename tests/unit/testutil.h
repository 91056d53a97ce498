/* Helpers shared by the unit tests: a temporary directory per test and its
 * removal. Header-only (each test binary is built from one .c file); include
 * it after <cmocka.h>. Not a test itself: the name has no test_ prefix. */
#ifndef REACH_TESTS_TESTUTIL_H
#define REACH_TESTS_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Makes $TMPDIR/NAME-XXXXXX (/tmp without TMPDIR) into dir; 0, or -1. */
static inline int make_temp_dir(char *dir, size_t size, const char *name)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, size, "%s/%s-XXXXXX", tmp ? tmp : "/tmp", name);
	return mkdtemp(dir) ? 0 : -1;
}

static inline int remove_tree_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything below it, links not followed; 0, or -1. */
static inline int remove_tree(const char *dir)
{
	return nftw(dir, remove_tree_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to path (created or truncated); a failure fails the test. */
static inline void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

#endif
