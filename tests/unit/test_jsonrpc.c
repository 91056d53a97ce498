#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/jsonrpc.h"

#define MAX_MSGS 8

struct got {
	struct jsonrpc_msg m[MAX_MSGS];
	size_t n;
	struct jsonrpc_counts c;
};

static void on_msg(void *ctx, const struct jsonrpc_msg *m)
{
	struct got *g = ctx;

	if (g->n < MAX_MSGS)
		g->m[g->n] = *m;
	g->n++;
}

static size_t run(const char *s, bool truncated, struct got *g)
{
	memset(g, 0, sizeof(*g));
	return jsonrpc_extract((const uint8_t *)s, strlen(s), truncated, on_msg, g, &g->c);
}

static void test_tools_call_names_only(void **state)
{
	struct got g;

	(void)state;
	assert_int_equal(run("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"read_file\","
			     "\"arguments\":{\"path\":\"/srv/.env\",\"api_token\":\"sk-secret123\",\"a b\":1}}}\n", false, &g), 1);
	assert_int_equal(g.m[0].kind, JSONRPC_TOOLS_CALL);
	assert_string_equal(g.m[0].tool, "read_file");
	/* names sorted, reduced to the alphabet; values never copied */
	assert_string_equal(g.m[0].args, "a_b,api_token,path");
	assert_true(g.m[0].has_id);
	assert_int_equal(g.m[0].id, 7);
	assert_null(memmem(&g.m[0], sizeof(g.m[0]), "sk-secret123", 12));
	assert_null(memmem(&g.m[0], sizeof(g.m[0]), "/srv/.env", 9));
	assert_int_equal(g.c.messages, 1);
	assert_int_equal(g.c.malformed, 0);
}

static void test_results_and_framing(void **state)
{
	struct got g;

	(void)state;
	/* TS SDK answers put result first; several messages in one write */
	assert_int_equal(run("{\"result\":{\"protocolVersion\":\"x\",\"serverInfo\":{\"name\":\"secure-filesystem-server\"}},"
			     "\"jsonrpc\":\"2.0\",\"id\":0}\n"
			     "{\"result\":{\"content\":[],\"isError\":true},\"jsonrpc\":\"2.0\",\"id\":1}\n"
			     "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32601,\"message\":\"no\"}}\n"
			     "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n",
			     false, &g), 4);
	assert_int_equal(g.m[0].kind, JSONRPC_INIT_RESULT);
	assert_string_equal(g.m[0].server_name, "secure-filesystem-server");
	assert_int_equal(g.m[1].kind, JSONRPC_RESULT);
	assert_true(g.m[1].is_error);
	assert_int_equal(g.m[2].kind, JSONRPC_RESULT);
	assert_true(g.m[2].is_error);
	assert_int_equal(g.m[3].kind, JSONRPC_OTHER);
	/* Content-Length framing (LSP style), pretty-printed body */
	assert_int_equal(run("Content-Length: 92\r\n\r\n{\n \"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"tools/call\",\n"
			     " \"params\": {\"name\": \"list_directory\"}}", false, &g), 1);
	assert_string_equal(g.m[0].tool, "list_directory");
	assert_string_equal(g.m[0].args, "");
}

static void test_bad_input_counted_and_skipped(void **state)
{
	struct got g;
	char deep[200];

	(void)state;
	/* bad JSON, binary, a call without a name, a non-object, text: all
	 * counted; the good message between them still comes out */
	assert_int_equal(run("{\"jsonrpc\": broken\n\x01\x02\xff\n{\"method\":\"tools/call\",\"params\":{}}\n[1,2]\nhello\n"
			     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}\n{\"a\":1}\n",
			     false, &g), 1);
	assert_string_equal(g.m[0].tool, "x");
	assert_int_equal(g.c.malformed, 6);
	/* nesting past the bound is refused */
	memset(deep, '[', sizeof(deep) - 1);
	deep[0] = '{';
	deep[sizeof(deep) - 1] = '\0';
	assert_int_equal(run(deep, false, &g), 0);
	assert_int_equal(g.c.malformed, 1);
	/* a bad Content-Length */
	assert_int_equal(run("Content-Length: x\r\n\r\n{}", false, &g), 0);
	assert_true(g.c.malformed >= 1);
}

static void test_cut_messages(void **state)
{
	struct got g;

	(void)state;
	/* cut after the tool name: the call is named, its arguments unknown */
	assert_int_equal(run("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"read_file\","
			     "\"arguments\":{\"path\":\"/very/lo", true, &g), 1);
	assert_string_equal(g.m[0].tool, "read_file");
	assert_true(g.m[0].args_unknown);
	assert_int_equal(g.c.truncated, 1);
	assert_int_equal(g.c.calls_undecoded, 0);
	/* cut before the tool name: an undecoded call (a blind road) */
	assert_int_equal(run("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"arguments\":{\"x\":\"yyy",
			     true, &g), 0);
	assert_int_equal(g.c.calls_undecoded, 1);
	/* cut before the method of a request: may have been a call */
	assert_int_equal(run("{\"jsonrpc\":\"2.0\",\"id\":1,\"params\":{\"arguments\":{\"x\":\"yyy", true, &g), 0);
	assert_int_equal(g.c.calls_undecoded, 1);
	/* an answer cut loses nothing */
	assert_int_equal(run("{\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"aaaa", true, &g), 0);
	assert_int_equal(g.c.calls_undecoded, 0);
	assert_int_equal(g.c.truncated, 1);
	/* not cut (no F_TRUNC), only unfinished: malformed, not a gap */
	assert_int_equal(run("{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"arg", false, &g), 0);
	assert_int_equal(g.c.malformed, 1);
	assert_int_equal(g.c.calls_undecoded, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tools_call_names_only),
		cmocka_unit_test(test_results_and_framing),
		cmocka_unit_test(test_bad_input_counted_and_skipped),
		cmocka_unit_test(test_cut_messages),
	};

	return cmocka_run_group_tests_name("jsonrpc", tests, NULL, NULL);
}
