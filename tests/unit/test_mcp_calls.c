/* MCP requests and their answers (mcp/calls.h): matched by connection and
 * id, answers that come first, the call a server is serving, the bounds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/calls.h"

#define SRV 4191001u /* tgids no host has */
#define SRV2 4191002u
#define CG 77

static void test_answer_matches_its_call_on_its_connection(void **state)
{
	struct mcp_calls *c = mcp_calls_new();
	struct mcp_call call;
	uint64_t given_up = 0;
	bool err = false, known;

	(void)state;
	assert_non_null(c);
	assert_false(mcp_calls_any(c));
	assert_int_equal(mcp_calls_request(c, SRV, 0, 1, CG, NULL, &err, &given_up), 0); /* initialize */
	assert_int_equal(mcp_calls_request(c, SRV, 0, 2, CG, "fs read_file", &err, &given_up), 0);
	assert_int_equal(mcp_calls_request(c, SRV, 9, 2, CG, "fs list_directory", &err, &given_up), 0);
	assert_true(mcp_calls_any(c));
	/* two calls in flight: nothing is served alone */
	assert_false(mcp_calls_serving(c, SRV, &call, &known));
	assert_true(known);
	assert_int_equal(mcp_calls_answer(c, SRV, 0, 1, false, &call, &given_up), MCP_ANSWER_OTHER);
	/* the same id on another connection is another call */
	assert_int_equal(mcp_calls_answer(c, SRV, 9, 2, true, &call, &given_up), MCP_ANSWER_CALL);
	assert_string_equal(call.object, "fs list_directory");
	assert_int_equal(call.cgroup_id, CG);
	assert_true(mcp_calls_serving(c, SRV, &call, &known));
	assert_string_equal(call.object, "fs read_file");
	assert_int_equal(mcp_calls_answer(c, SRV, 0, 2, false, &call, &given_up), MCP_ANSWER_CALL);
	assert_string_equal(call.object, "fs read_file");
	assert_false(mcp_calls_serving(c, SRV, &call, &known));
	assert_false(known);
	/* answered twice: the second matches nothing */
	assert_int_equal(mcp_calls_answer(c, SRV, 0, 2, false, &call, &given_up), MCP_ANSWER_UNMATCHED);
	/* another server's answer matches nothing of this one's */
	assert_int_equal(mcp_calls_request(c, SRV, 0, 3, CG, "fs read_file", &err, &given_up), 0);
	assert_int_equal(mcp_calls_answer(c, SRV2, 0, 3, false, &call, &given_up), MCP_ANSWER_UNMATCHED);
	assert_int_equal(given_up, 0);
	assert_int_equal(mcp_calls_forget(c, SRV), 1); /* id 3 never answered */
	assert_int_equal(mcp_calls_forget(c, SRV), 0);
	mcp_calls_free(c);
}

static void test_answer_before_its_request(void **state)
{
	struct mcp_calls *c = mcp_calls_new();
	struct mcp_call call;
	uint64_t given_up = 0;
	bool err = false, known;

	(void)state;
	assert_int_equal(mcp_calls_answer(c, SRV, 5, 7, true, &call, &given_up), MCP_ANSWER_UNMATCHED);
	assert_int_equal(mcp_calls_request(c, SRV, 5, 7, CG, "fs read_file", &err, &given_up), 1);
	assert_true(err);
	/* taken: not waiting */
	assert_false(mcp_calls_serving(c, SRV, &call, &known));
	assert_false(known);
	/* bounded: the oldest early answers go */
	for (int i = 0; i < MCP_CALLS_EARLY + 2; i++)
		assert_int_equal(mcp_calls_answer(c, SRV, 5, 100 + i, false, &call, &given_up), MCP_ANSWER_UNMATCHED);
	assert_int_equal(mcp_calls_request(c, SRV, 5, 100, CG, NULL, &err, &given_up), 0);
	assert_int_equal(mcp_calls_request(c, SRV, 5, 100 + MCP_CALLS_EARLY + 1, CG, NULL, &err, &given_up), 1);
	assert_false(err);
	mcp_calls_free(c);
}

static void test_calls_given_up(void **state)
{
	struct mcp_calls *c = mcp_calls_new();
	struct mcp_call call;
	uint64_t given_up = 0;
	bool err = false;

	(void)state;
	/* an id used again before its answer: the first call is given up */
	assert_int_equal(mcp_calls_request(c, SRV, 0, 1, CG, "fs a", &err, &given_up), 0);
	assert_int_equal(mcp_calls_request(c, SRV, 0, 1, CG, "fs b", &err, &given_up), 0);
	assert_int_equal(given_up, 1);
	assert_int_equal(mcp_calls_answer(c, SRV, 0, 1, false, &call, &given_up), MCP_ANSWER_CALL);
	assert_string_equal(call.object, "fs b");
	/* too many waiting: the oldest goes */
	for (int i = 0; i < MCP_CALLS_WAITING + 3; i++)
		assert_int_equal(mcp_calls_request(c, SRV, 0, 10 + i, CG, "fs a", &err, &given_up), 0);
	assert_int_equal(given_up, 1 + 3);
	assert_int_equal(mcp_calls_answer(c, SRV, 0, 10, false, &call, &given_up), MCP_ANSWER_UNMATCHED);
	assert_int_equal(mcp_calls_answer(c, SRV, 0, 13, false, &call, &given_up), MCP_ANSWER_CALL);
	assert_int_equal(mcp_calls_forget(c, SRV), MCP_CALLS_WAITING - 1);
	mcp_calls_free(c);
	mcp_calls_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_matches_its_call_on_its_connection),
		cmocka_unit_test(test_answer_before_its_request),
		cmocka_unit_test(test_calls_given_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
