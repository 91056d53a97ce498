#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/hmap.h"

/* Distinct non-NULL values without allocations. */
static int vals[16];
#define V(i) ((void *)&vals[(i)])

static void test_new_map_is_empty(void **state)
{
	struct hmap *m = hmap_new();
	struct hmap_iter it;
	const char *k = NULL;
	void *v = NULL;

	assert_non_null(m);
	assert_int_equal(hmap_count(m), 0);
	assert_null(hmap_get(m, "a"));
	assert_null(hmap_get(m, ""));
	assert_null(hmap_remove(m, "a"));
	assert_int_equal(hmap_count(m), 0);
	hmap_iter_init(&it, m);
	assert_int_equal(hmap_iter_next(&it, &k, &v), 0);
	assert_int_equal(hmap_iter_next(&it, &k, &v), 0); /* stays at the end */
	hmap_free(m, NULL);
}

static void test_put_then_get(void **state)
{
	struct hmap *m = hmap_new();

	assert_int_equal(hmap_put(m, "alpha", V(0), NULL), 0);
	assert_int_equal(hmap_put(m, "beta", V(1), NULL), 0);
	assert_int_equal(hmap_count(m), 2);
	assert_ptr_equal(hmap_get(m, "alpha"), V(0));
	assert_ptr_equal(hmap_get(m, "beta"), V(1));
	assert_null(hmap_get(m, "gamma"));
	/* exact keys: no prefix, no case folding */
	assert_null(hmap_get(m, "alph"));
	assert_null(hmap_get(m, "alphaa"));
	assert_null(hmap_get(m, "ALPHA"));
	hmap_free(m, NULL);
}

static void test_put_new_key_sets_old_to_null(void **state)
{
	struct hmap *m = hmap_new();
	void *old = V(15);

	assert_int_equal(hmap_put(m, "k", V(0), &old), 0);
	assert_null(old);
	hmap_free(m, NULL);
}

static void test_replace_returns_old_value_and_keeps_count(void **state)
{
	struct hmap *m = hmap_new();
	void *old = NULL;

	assert_int_equal(hmap_put(m, "k", V(0), NULL), 0);
	assert_int_equal(hmap_put(m, "other", V(5), NULL), 0);
	assert_int_equal(hmap_put(m, "k", V(1), &old), 0);
	assert_ptr_equal(old, V(0));
	assert_ptr_equal(hmap_get(m, "k"), V(1));
	assert_int_equal(hmap_count(m), 2);
	assert_int_equal(hmap_put(m, "k", V(2), &old), 0);
	assert_ptr_equal(old, V(1));
	assert_ptr_equal(hmap_get(m, "k"), V(2));
	/* replacing without asking for the old value is fine too */
	assert_int_equal(hmap_put(m, "k", V(3), NULL), 0);
	assert_ptr_equal(hmap_get(m, "k"), V(3));
	assert_ptr_equal(hmap_get(m, "other"), V(5));
	assert_int_equal(hmap_count(m), 2);
	hmap_free(m, NULL);
}

static void test_null_value_is_storable(void **state)
{
	struct hmap *m = hmap_new();
	void *old = V(15);

	assert_int_equal(hmap_put(m, "n", NULL, NULL), 0);
	assert_int_equal(hmap_count(m), 1);
	assert_int_equal(hmap_put(m, "n", V(1), &old), 0);
	assert_null(old);
	assert_int_equal(hmap_count(m), 1);
	hmap_free(m, NULL);
}

static void test_keys_are_copied(void **state)
{
	struct hmap *m = hmap_new();
	char key[16];
	struct hmap_iter it;
	const char *k;
	void *v;

	strcpy(key, "mutable");
	assert_int_equal(hmap_put(m, key, V(0), NULL), 0);
	strcpy(key, "changed");
	assert_ptr_equal(hmap_get(m, "mutable"), V(0));
	assert_null(hmap_get(m, "changed"));
	hmap_iter_init(&it, m);
	assert_int_equal(hmap_iter_next(&it, &k, &v), 1);
	assert_string_equal(k, "mutable");
	assert_ptr_not_equal(k, key);
	hmap_free(m, NULL);
}

static void test_remove(void **state)
{
	struct hmap *m = hmap_new();

	assert_int_equal(hmap_put(m, "a", V(0), NULL), 0);
	assert_int_equal(hmap_put(m, "b", V(1), NULL), 0);
	assert_int_equal(hmap_put(m, "c", V(2), NULL), 0);
	assert_ptr_equal(hmap_remove(m, "b"), V(1));
	assert_int_equal(hmap_count(m), 2);
	assert_null(hmap_get(m, "b"));
	assert_ptr_equal(hmap_get(m, "a"), V(0));
	assert_ptr_equal(hmap_get(m, "c"), V(2));
	/* removing again, or a missing key, changes nothing */
	assert_null(hmap_remove(m, "b"));
	assert_null(hmap_remove(m, "zz"));
	assert_int_equal(hmap_count(m), 2);
	/* a removed key can be put back */
	assert_int_equal(hmap_put(m, "b", V(3), NULL), 0);
	assert_ptr_equal(hmap_get(m, "b"), V(3));
	assert_int_equal(hmap_count(m), 3);
	assert_ptr_equal(hmap_remove(m, "a"), V(0));
	assert_ptr_equal(hmap_remove(m, "b"), V(3));
	assert_ptr_equal(hmap_remove(m, "c"), V(2));
	assert_int_equal(hmap_count(m), 0);
	hmap_free(m, NULL);
}

static void test_empty_string_key(void **state)
{
	struct hmap *m = hmap_new();
	void *old = NULL;

	assert_int_equal(hmap_put(m, "", V(0), NULL), 0);
	assert_int_equal(hmap_put(m, "x", V(1), NULL), 0);
	assert_ptr_equal(hmap_get(m, ""), V(0));
	assert_ptr_equal(hmap_get(m, "x"), V(1));
	assert_int_equal(hmap_put(m, "", V(2), &old), 0);
	assert_ptr_equal(old, V(0));
	assert_int_equal(hmap_count(m), 2);
	assert_ptr_equal(hmap_remove(m, ""), V(2));
	assert_null(hmap_get(m, ""));
	assert_ptr_equal(hmap_get(m, "x"), V(1));
	assert_int_equal(hmap_count(m), 1);
	hmap_free(m, NULL);
}

/* Iterates m and checks that every key "k<i>" for i < n with value &marks[i]
 * is visited exactly once and nothing else is. */
static void expect_iteration_visits_each_once(const struct hmap *m, size_t n, const char *marks)
{
	unsigned char *seen = calloc(n ? n : 1, 1);
	struct hmap_iter it;
	const char *k;
	void *v;
	size_t visits = 0;

	assert_non_null(seen);
	hmap_iter_init(&it, m);
	while (hmap_iter_next(&it, &k, &v)) {
		char *end;
		unsigned long i;

		assert_int_equal(k[0], 'k');
		i = strtoul(k + 1, &end, 10);
		assert_int_equal(*end, '\0');
		assert_true(i < n);
		assert_ptr_equal(v, &marks[i]);
		if (seen[i]++)
			fail_msg("key %s visited twice", k);
		visits++;
	}
	assert_int_equal(visits, n);
	assert_int_equal(visits, hmap_count(m));
	free(seen);
}

static void test_iteration_visits_each_entry_once(void **state)
{
	enum { N = 100 };
	static char marks[N];
	struct hmap *m = hmap_new();
	char key[16];

	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(hmap_put(m, key, &marks[i], NULL), 0);
	}
	expect_iteration_visits_each_once(m, N, marks);
	hmap_free(m, NULL);
}

static void test_iteration_after_removals(void **state)
{
	enum { N = 40 };
	static char marks[N];
	struct hmap *m = hmap_new();
	struct hmap_iter it;
	const char *k;
	void *v;
	char key[16];
	size_t visits = 0;

	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(hmap_put(m, key, &marks[i], NULL), 0);
	}
	for (int i = 0; i < N; i += 2) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_ptr_equal(hmap_remove(m, key), &marks[i]);
	}
	hmap_iter_init(&it, m);
	while (hmap_iter_next(&it, &k, &v)) {
		int i = atoi(k + 1);

		assert_int_equal(i % 2, 1);
		assert_ptr_equal(v, &marks[i]);
		visits++;
	}
	assert_int_equal(visits, N / 2);
	hmap_free(m, NULL);
}

static void test_growth_keeps_every_key_retrievable(void **state)
{
	enum { N = 10000 };
	static char marks[N];
	struct hmap *m = hmap_new();
	char key[16];
	void *old;

	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(hmap_put(m, key, &marks[i], NULL), 0);
		assert_int_equal(hmap_count(m), (size_t)i + 1);
	}
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_ptr_equal(hmap_get(m, key), &marks[i]);
	}
	assert_null(hmap_get(m, "k10000"));
	assert_null(hmap_get(m, "k-1"));
	expect_iteration_visits_each_once(m, N, marks);
	/* replacing after growth finds the existing entry */
	snprintf(key, sizeof(key), "k%d", 1234);
	assert_int_equal(hmap_put(m, key, &marks[1234], &old), 0);
	assert_ptr_equal(old, &marks[1234]);
	assert_int_equal(hmap_count(m), N);
	/* removing half after growth leaves the other half intact */
	for (int i = 0; i < N; i += 2) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_ptr_equal(hmap_remove(m, key), &marks[i]);
	}
	assert_int_equal(hmap_count(m), N / 2);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		if (i % 2)
			assert_ptr_equal(hmap_get(m, key), &marks[i]);
		else
			assert_null(hmap_get(m, key));
	}
	hmap_free(m, NULL);
}

static int destroyed;
static void count_free(void *p)
{
	destroyed++;
	free(p);
}

static void test_free_calls_destructor_once_per_value(void **state)
{
	enum { N = 50 };
	struct hmap *m = hmap_new();
	char key[16];
	void *old;

	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(hmap_put(m, key, malloc(8), NULL), 0);
	}
	/* a replaced value is handed back, not destroyed by the map */
	assert_int_equal(hmap_put(m, "k7", malloc(8), &old), 0);
	assert_non_null(old);
	free(old);
	/* a removed value is handed back, not destroyed either */
	free(hmap_remove(m, "k8"));
	destroyed = 0;
	hmap_free(m, count_free);
	assert_int_equal(destroyed, N - 1);
}

static void test_free_without_destructor_leaves_values(void **state)
{
	struct hmap *m = hmap_new();
	char *value = malloc(4);

	assert_non_null(value);
	strcpy(value, "abc");
	assert_int_equal(hmap_put(m, "v", value, NULL), 0);
	hmap_free(m, NULL);
	assert_string_equal(value, "abc"); /* still owned by the caller */
	free(value);
	hmap_free(NULL, NULL);  /* accepted */
	hmap_free(NULL, count_free);
}

static void test_long_and_similar_keys(void **state)
{
	struct hmap *m = hmap_new();
	char long_key[2048];

	memset(long_key, 'x', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	assert_int_equal(hmap_put(m, long_key, V(0), NULL), 0);
	assert_int_equal(hmap_put(m, "ab", V(1), NULL), 0);
	assert_int_equal(hmap_put(m, "ba", V(2), NULL), 0);
	assert_ptr_equal(hmap_get(m, long_key), V(0));
	long_key[100] = 'y';
	assert_null(hmap_get(m, long_key));
	assert_ptr_equal(hmap_get(m, "ab"), V(1));
	assert_ptr_equal(hmap_get(m, "ba"), V(2));
	assert_int_equal(hmap_count(m), 3);
	hmap_free(m, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_map_is_empty),
		cmocka_unit_test(test_put_then_get),
		cmocka_unit_test(test_put_new_key_sets_old_to_null),
		cmocka_unit_test(test_replace_returns_old_value_and_keeps_count),
		cmocka_unit_test(test_null_value_is_storable),
		cmocka_unit_test(test_keys_are_copied),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_empty_string_key),
		cmocka_unit_test(test_iteration_visits_each_entry_once),
		cmocka_unit_test(test_iteration_after_removals),
		cmocka_unit_test(test_growth_keeps_every_key_retrievable),
		cmocka_unit_test(test_free_calls_destructor_once_per_value),
		cmocka_unit_test(test_free_without_destructor_leaves_values),
		cmocka_unit_test(test_long_and_similar_keys),
	};

	return cmocka_run_group_tests_name("hmap", tests, NULL, NULL);
}
