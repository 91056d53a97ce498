#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/names.h"

static void test_identity_normalize(void **state)
{
	char out[64], same[64] = "host/nginx.service";

	(void)state;
	assert_string_equal(names_identity_normalize("host/nginx.service", out, sizeof(out)), "host/nginx");
	assert_string_equal(names_identity_normalize("host/nginx", out, sizeof(out)), "host/nginx");
	/* only host units: a namespace/service-account stays as written */
	assert_string_equal(names_identity_normalize("ai/x.service", out, sizeof(out)), "ai/x.service");
	assert_string_equal(names_identity_normalize("host/.service", out, sizeof(out)), "host/.service");
	assert_string_equal(names_identity_normalize(NULL, out, sizeof(out)), "");
	/* in place */
	assert_string_equal(names_identity_normalize(same, same, sizeof(same)), "host/nginx");
}

static void test_closest(void **state)
{
	const char *names[] = { "host/gateway", "ai/llm-gateway", "host/notebook", "v1", "v2", "v10" };
	const char *out[3];
	char msg[200];

	(void)state;
	assert_int_equal(names_closest("host/gatewy", names, 6, out, 3), 1);
	assert_string_equal(out[0], "host/gateway");
	assert_int_equal(names_closest("v22", names, 6, out, 3), 1);
	assert_string_equal(out[0], "v2");
	assert_int_equal(names_closest("host/note", names, 6, out, 3), 1); /* a part of the name */
	assert_string_equal(out[0], "host/notebook");
	assert_int_equal(names_closest("zzzzzzzz", names, 6, out, 3), 0);
	assert_string_equal(names_suggest("host/gatewy", names, 6, msg, sizeof(msg)), "; did you mean host/gateway?");
	assert_string_equal(names_suggest("v22", names, 6, msg, sizeof(msg)), "; did you mean v2?");
	assert_string_equal(names_suggest("zzzzzzzz", names, 6, msg, sizeof(msg)),
			    "; known: host/gateway, ai/llm-gateway, host/notebook, v1, v2 (and 1 more)");
	assert_string_equal(names_suggest("gateway", names, 6, msg, sizeof(msg)),
			    "; did you mean ai/llm-gateway or host/gateway?");
	assert_string_equal(names_suggest("x", names, 0, msg, sizeof(msg)), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_normalize),
		cmocka_unit_test(test_closest),
	};

	return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
