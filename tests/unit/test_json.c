#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/json.h"

static void assert_text(json_object *o, int flags, const char *want)
{
	assert_string_equal(json_text(o, flags), want);
}

static void test_add_keeps_order_and_types(void **state)
{
	json_object *o = json_object_new_object();

	assert_int_equal(json_add_str(o, "s", "a/b \"q\""), 0);
	assert_int_equal(json_add_int(o, "i", -42), 0);
	assert_int_equal(json_add_u64(o, "u", UINT64_MAX), 0);
	assert_int_equal(json_add_bool(o, "t", true), 0);
	assert_int_equal(json_add_bool(o, "f", false), 0);
	assert_int_equal(json_add_double(o, "d", 1.5), 0);
	assert_int_equal(json_add(o, "n", NULL), 0);
	assert_int_equal(json_add(o, "a", json_object_new_array()), 0);
	assert_text(o, JSON_COMPACT,
		    "{\"s\":\"a/b \\\"q\\\"\",\"i\":-42,\"u\":18446744073709551615,\"t\":true,\"f\":false,"
		    "\"d\":1.5,\"n\":null,\"a\":[]}");
	/* the same document with json-c's default '/' escaping, for the API's requests */
	assert_text(o, JSON_C_TO_STRING_PLAIN,
		    "{\"s\":\"a\\/b \\\"q\\\"\",\"i\":-42,\"u\":18446744073709551615,\"t\":true,\"f\":false,"
		    "\"d\":1.5,\"n\":null,\"a\":[]}");
	json_object_put(o);
}

static void test_add_replaces_a_key(void **state)
{
	json_object *o = json_object_new_object();

	json_add_str(o, "k", "one");
	json_add_int(o, "other", 1);
	json_add_str(o, "k", "two");
	assert_text(o, JSON_COMPACT, "{\"k\":\"two\",\"other\":1}");
	json_object_put(o);
}

static void test_optional_strings(void **state)
{
	json_object *o = json_object_new_object();

	json_add_str(o, "null_str", NULL);
	json_add_str(o, "empty_str", "");
	json_add_str_or_null(o, "null_or_null", NULL);
	json_add_str_or_null(o, "empty_or_null", "");
	json_add_str_or_null(o, "set_or_null", "x");
	assert_int_equal(json_add_str_nonempty(o, "absent1", NULL), 0);
	assert_int_equal(json_add_str_nonempty(o, "absent2", ""), 0);
	json_add_str_nonempty(o, "present", "y");
	json_add_int_or_null(o, "zero", 0);
	json_add_int_or_null(o, "ms", 1700000000123LL);
	assert_text(o, JSON_COMPACT,
		    "{\"null_str\":null,\"empty_str\":\"\",\"null_or_null\":null,\"empty_or_null\":null,"
		    "\"set_or_null\":\"x\",\"present\":\"y\",\"zero\":null,\"ms\":1700000000123}");
	assert_null(json_new_str_or_null(NULL));
	assert_null(json_new_str_or_null(""));
	json_object_put(o);
}

static void test_add_to_a_non_object_fails(void **state)
{
	json_object *a = json_object_new_array();

	/* the value is freed either way: nothing to leak under ASan/valgrind */
	assert_int_equal(json_add(NULL, "k", json_object_new_string("v")), -EINVAL);
	assert_int_equal(json_add_str(a, "k", "v"), -EINVAL);
	assert_int_equal(json_add_int(NULL, "k", 1), -EINVAL);
	assert_int_equal(json_object_array_length(a), 0);
	json_object_put(a);
}

static void test_strings_array(void **state)
{
	const char *v[] = { "/usr/bin/python3", "", "sh" };
	json_object *a = json_new_strings(v, 3), *e = json_new_strings(NULL, 0);

	assert_text(a, JSON_COMPACT, "[\"/usr/bin/python3\",\"\",\"sh\"]");
	assert_text(e, JSON_COMPACT, "[]");
	json_object_put(a);
	json_object_put(e);
}

static void test_time_ms(void **state)
{
	json_object *t = json_new_time_ms(1700000000123LL), *z = json_new_time_ms(0), *b = json_new_time_ms(-1);

	assert_string_equal(json_object_get_string(t), "2023-11-14T22:13:20.123Z");
	assert_string_equal(json_object_get_string(z), "1970-01-01T00:00:00.000Z");
	assert_string_equal(json_object_get_string(b), "1969-12-31T23:59:59.999Z"); /* floored */
	json_object_put(t);
	json_object_put(z);
	json_object_put(b);
}

static void test_copy_is_deep(void **state)
{
	json_object *o = json_tokener_parse("{\"l\":{\"a\":\"1\"},\"n\":[1,2]}"), *c = json_copy(o);

	assert_non_null(c);
	json_add_str(json_get(o, "l", json_type_object), "b", "2");
	assert_text(c, JSON_COMPACT, "{\"l\":{\"a\":\"1\"},\"n\":[1,2]}");
	assert_null(json_copy(NULL));
	json_object_put(o);
	json_object_put(c);
}

static void test_typed_getters(void **state)
{
	json_object *o = json_tokener_parse("{\"s\":\"text\",\"i\":7,\"big\":9007199254740993,\"d\":2.9,\"b\":true,"
					    "\"n\":null,\"num_str\":\"12\",\"arr\":[1],\"obj\":{}}");
	json_object *arr = json_get(o, "arr", json_type_array);

	assert_non_null(o);
	assert_non_null(arr);
	assert_non_null(json_get(o, "obj", json_type_object));
	assert_null(json_get(o, "arr", json_type_object)); /* wrong type */
	assert_null(json_get(o, "missing", json_type_string));
	assert_null(json_get(NULL, "s", json_type_string));
	assert_null(json_get(arr, "s", json_type_string)); /* not an object */

	assert_string_equal(json_get_str(o, "s", "def"), "text");
	assert_string_equal(json_get_str(o, "i", "def"), "def"); /* a number is not a string */
	assert_string_equal(json_get_str(o, "n", "def"), "def");
	assert_string_equal(json_get_str(o, "missing", ""), "");
	assert_null(json_get_str(o, "missing", NULL));
	assert_null(json_get_str(NULL, "s", NULL));

	assert_int_equal(json_get_int(o, "i", -1), 7);
	assert_int_equal(json_get_int(o, "big", -1), 9007199254740993LL);
	assert_int_equal(json_get_int(o, "d", -1), 2);       /* json-c truncates */
	assert_int_equal(json_get_int(o, "b", -1), 1);
	assert_int_equal(json_get_int(o, "num_str", -1), 12);
	assert_int_equal(json_get_int(o, "n", -1), -1);      /* null: the default */
	assert_int_equal(json_get_int(o, "missing", -1), -1);
	assert_int_equal(json_get_int(NULL, "i", 3), 3);

	assert_true(json_get_bool(o, "b", false));
	assert_true(json_get_bool(o, "i", false));
	assert_false(json_get_bool(o, "missing", false));
	assert_true(json_get_bool(o, "n", true));
	json_object_put(o);
}

static void test_print_flags(void **state)
{
	json_object *o = json_object_new_object();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	json_add_str(o, "path", "/etc/x");
	json_add_int(o, "n", 1);
	assert_non_null(f);
	assert_int_equal(json_print(f, o, JSON_COMPACT), 0);
	assert_int_equal(json_print(f, o, JSON_READABLE), 0);
	fclose(f);
	assert_string_equal(buf, "{\"path\":\"/etc/x\",\"n\":1}\n"
				 "{\n  \"path\":\"/etc/x\",\n  \"n\":1\n}\n");
	free(buf);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_keeps_order_and_types),
		cmocka_unit_test(test_add_replaces_a_key),
		cmocka_unit_test(test_optional_strings),
		cmocka_unit_test(test_add_to_a_non_object_fails),
		cmocka_unit_test(test_strings_array),
		cmocka_unit_test(test_time_ms),
		cmocka_unit_test(test_copy_is_deep),
		cmocka_unit_test(test_typed_getters),
		cmocka_unit_test(test_print_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
