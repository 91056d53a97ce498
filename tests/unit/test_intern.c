#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/intern.h"

static void test_equal_strings_share_one_copy(void **state)
{
	struct intern *t = intern_new();
	char a[] = "/usr/bin/python3", b[] = "/usr/bin/python3";
	const char *x, *y;

	assert_non_null(t);
	x = intern_str(t, a);
	y = intern_str(t, b);
	assert_non_null(x);
	assert_string_equal(x, "/usr/bin/python3");
	assert_ptr_equal(x, y);
	assert_ptr_not_equal(x, a); /* a copy, not the caller's buffer */
	a[0] = 'X';
	assert_string_equal(x, "/usr/bin/python3");
	assert_int_equal(intern_strings(t), 1);
	assert_ptr_not_equal(intern_str(t, "/usr/bin/python"), x); /* no prefix match */
	assert_int_equal(intern_strings(t), 2);
	intern_free(t);
}

static void test_value_lives_until_its_last_release(void **state)
{
	struct intern *t = intern_new();
	const char *x = intern_str(t, "k8s-sa-token");

	assert_ptr_equal(intern_str(t, "k8s-sa-token"), x);
	intern_release(t, x);
	assert_ptr_equal(intern_find(t, "k8s-sa-token"), x); /* one reference left */
	assert_int_equal(intern_strings(t), 1);
	intern_release(t, x);
	assert_null(intern_find(t, "k8s-sa-token"));
	assert_int_equal(intern_strings(t), 0);
	/* interned again after it was freed: a fresh value */
	x = intern_str(t, "k8s-sa-token");
	assert_string_equal(x, "k8s-sa-token");
	assert_int_equal(intern_strings(t), 1);
	intern_free(t); /* frees it with its reference */
}

static void test_empty_string_is_static(void **state)
{
	struct intern *t = intern_new();
	const char *e = intern_str(t, "");

	assert_non_null(e);
	assert_string_equal(e, "");
	assert_ptr_equal(intern_str(t, ""), e);
	assert_ptr_equal(intern_find(t, ""), e);
	assert_int_equal(intern_strings(t), 0);
	intern_release(t, e); /* harmless, as often as wanted */
	intern_release(t, e);
	intern_release(t, NULL);
	assert_ptr_equal(intern_find(t, ""), e);
	intern_free(t);
}

static void test_find_takes_no_reference(void **state)
{
	struct intern *t = intern_new();
	const char *x;

	assert_null(intern_find(t, "nothing yet")); /* empty table */
	x = intern_str(t, "tcp");
	assert_ptr_equal(intern_find(t, "tcp"), x);
	assert_null(intern_find(t, "udp"));
	intern_release(t, x);
	assert_null(intern_find(t, "tcp"));
	intern_free(t);
}

/* Many values, released in an order that exercises the removal of entries
 * in the middle of probe runs: every survivor must still be found. */
static void test_many_values_survive_growth_and_removal(void **state)
{
	enum { N = 5000 };
	struct intern *t = intern_new();
	static const char *v[N];
	char buf[32];

	for (int i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "value-%d", i);
		v[i] = intern_str(t, buf);
		assert_non_null(v[i]);
	}
	assert_int_equal(intern_strings(t), N);
	for (int i = 0; i < N; i += 3)
		intern_release(t, v[i]);
	for (int i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "value-%d", i);
		if (i % 3 == 0)
			assert_null(intern_find(t, buf));
		else
			assert_ptr_equal(intern_find(t, buf), v[i]);
	}
	for (int i = 0; i < N; i++)
		if (i % 3)
			intern_release(t, v[i]);
	assert_int_equal(intern_strings(t), 0);
	intern_free(t);
}

static void test_equal_lists_share_one_copy(void **state)
{
	struct intern *t = intern_new();
	const char *a[] = { "/sbin/init", "/bin/bash", "/usr/bin/python3" };
	char b0[] = "/sbin/init", b1[] = "/bin/bash", b2[] = "/usr/bin/python3";
	const char *b[] = { b0, b1, b2 };
	const char *const *x = intern_list(t, a, 3), *const *y = intern_list(t, b, 3);

	assert_non_null(x);
	assert_ptr_equal(x, y);
	assert_string_equal(x[0], "/sbin/init");
	assert_string_equal(x[2], "/usr/bin/python3");
	assert_ptr_not_equal(x[1], b1); /* copies */
	assert_int_equal(intern_lists(t), 1);
	assert_int_equal(intern_strings(t), 3);
	/* the list's strings are the table's */
	assert_ptr_equal(intern_find(t, "/bin/bash"), x[1]);
	/* order and length matter */
	assert_ptr_not_equal(intern_list(t, a, 2), x);
	const char *r[] = { "/bin/bash", "/sbin/init", "/usr/bin/python3" };
	assert_ptr_not_equal(intern_list(t, r, 3), x);
	assert_int_equal(intern_lists(t), 3);
	intern_free(t);
}

static void test_list_holds_its_own_string_references(void **state)
{
	struct intern *t = intern_new();
	const char *s = intern_str(t, "/bin/sh");
	const char *v[] = { "/bin/sh", "/bin/ls" };
	const char *const *l = intern_list(t, v, 2);

	intern_release(t, s); /* the caller's reference: the list still holds one */
	assert_ptr_equal(intern_find(t, "/bin/sh"), l[0]);
	assert_ptr_equal(intern_list(t, v, 2), l);
	intern_list_release(t, l);
	assert_ptr_equal(intern_find(t, "/bin/ls"), l[1]); /* one reference left */
	intern_list_release(t, l);
	assert_int_equal(intern_lists(t), 0);
	assert_int_equal(intern_strings(t), 0);
	assert_null(intern_find(t, "/bin/sh"));
	intern_free(t);
}

static void test_empty_list_is_static(void **state)
{
	struct intern *t = intern_new();
	const char *const *e = intern_list(t, NULL, 0);

	assert_non_null(e);
	assert_ptr_equal(intern_list(t, NULL, 0), e);
	assert_int_equal(intern_lists(t), 0);
	intern_list_release(t, e);
	intern_list_release(t, NULL);
	intern_free(t);
}

static void test_list_of_empty_strings(void **state)
{
	struct intern *t = intern_new();
	const char *v[] = { "", "x", "" };
	const char *const *l = intern_list(t, v, 3);

	assert_string_equal(l[0], "");
	assert_string_equal(l[1], "x");
	assert_ptr_equal(l[0], l[2]);
	intern_list_release(t, l);
	assert_int_equal(intern_strings(t), 0);
	intern_free(t);
}

/* A record as the model builds one: values and a reference it holds. */
struct rec {
	const char *exe;
	unsigned long n;
};

static void test_equal_records_share_one_copy(void **state)
{
	struct intern *t = intern_new();
	struct rec a = { intern_str(t, "/usr/bin/python3"), 1 }, b = a, c = { a.exe, 2 }, last;
	const struct rec *x, *y, *z;
	bool created;

	intern_str(t, "/usr/bin/python3"); /* b's and c's own references */
	intern_str(t, "/usr/bin/python3");
	x = intern_record(t, &a, sizeof(a), &created);
	assert_non_null(x);
	assert_true(created); /* took over a's reference */
	assert_ptr_not_equal(x, &a);
	assert_ptr_equal(x->exe, a.exe);
	y = intern_record(t, &b, sizeof(b), &created);
	assert_ptr_equal(y, x);
	assert_false(created); /* b's reference is the caller's to drop */
	intern_release(t, b.exe);
	z = intern_record(t, &c, sizeof(c), &created);
	assert_ptr_not_equal(z, x); /* one byte differs */
	assert_true(created);
	assert_int_equal(intern_records(t), 2);
	assert_int_equal(intern_record_release(t, x, &last), 0); /* one reference left */
	assert_int_equal(intern_record_release(t, x, &last), 1);
	assert_ptr_equal(last.exe, a.exe);
	assert_int_equal(last.n, 1);
	intern_release(t, last.exe);
	assert_int_equal(intern_records(t), 1);
	assert_ptr_equal(intern_find(t, "/usr/bin/python3"), c.exe); /* z still holds it */
	assert_int_equal(intern_record_release(t, NULL, &last), 0);
	intern_free(t); /* frees z with what it holds */
}

static void test_records_of_different_sizes_differ(void **state)
{
	struct intern *t = intern_new();
	unsigned char zeros[16] = { 0 };
	const void *a, *b;
	bool created;

	a = intern_record(t, zeros, 8, &created);
	b = intern_record(t, zeros, 16, &created);
	assert_true(created);
	assert_ptr_not_equal(a, b);
	assert_ptr_equal(intern_record(t, zeros, 8, &created), a);
	assert_false(created);
	assert_int_equal(intern_records(t), 2);
	intern_free(t);
}

static void test_many_records_survive_growth_and_removal(void **state)
{
	struct intern *t = intern_new();
	const unsigned long *v[1000];
	unsigned long last;
	bool created;

	for (unsigned long i = 0; i < 1000; i++) {
		v[i] = intern_record(t, &i, sizeof(i), &created);
		assert_non_null(v[i]);
		assert_true(created);
	}
	for (unsigned long i = 0; i < 1000; i += 2)
		assert_int_equal(intern_record_release(t, v[i], &last), 1);
	for (unsigned long i = 1; i < 1000; i += 2) {
		assert_ptr_equal(intern_record(t, &i, sizeof(i), &created), v[i]);
		assert_false(created);
		assert_int_equal(*v[i], i);
	}
	assert_int_equal(intern_records(t), 500);
	intern_free(t);
}

/* Two owners (an observed model and its ledger): values outlive the first
 * owner's intern_free(), the last frees them. */
static void test_table_lives_until_its_last_owner(void **state)
{
	struct intern *t = intern_new();
	const char *a, *b;

	assert_non_null(t);
	assert_ptr_equal(intern_hold(t), t);
	a = intern_str(t, "/etc/shadow"); /* the first owner's */
	b = intern_str(t, "/etc/shadow"); /* the second's: the same copy */
	assert_ptr_equal(a, b);
	intern_release(t, a);
	intern_free(t); /* the first owner leaves */
	assert_string_equal(b, "/etc/shadow");
	assert_int_equal(intern_strings(t), 1);
	intern_release(t, b);
	assert_int_equal(intern_strings(t), 0);
	intern_free(t); /* the last: frees the table */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal_strings_share_one_copy),
		cmocka_unit_test(test_value_lives_until_its_last_release),
		cmocka_unit_test(test_empty_string_is_static),
		cmocka_unit_test(test_find_takes_no_reference),
		cmocka_unit_test(test_many_values_survive_growth_and_removal),
		cmocka_unit_test(test_equal_lists_share_one_copy),
		cmocka_unit_test(test_list_holds_its_own_string_references),
		cmocka_unit_test(test_empty_list_is_static),
		cmocka_unit_test(test_list_of_empty_strings),
		cmocka_unit_test(test_equal_records_share_one_copy),
		cmocka_unit_test(test_records_of_different_sizes_differ),
		cmocka_unit_test(test_many_records_survive_growth_and_removal),
		cmocka_unit_test(test_table_lives_until_its_last_owner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
