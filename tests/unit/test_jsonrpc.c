#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/jsonrpc.h"

#define MAX_MSGS 8

static const struct fp_key test_key = { { 0x42 } };

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
	return jsonrpc_extract((const uint8_t *)s, strlen(s), truncated, &test_key, on_msg, g, &g->c);
}

static void test_tools_call_names_only(void **state)
{
	struct got g;

	(void)state;
	assert_int_equal(run("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"read_file\","
			     "\"arguments\":{\"path\":\"/srv/.env\",\"api_token\":\"sk-secret123\",\"a b\":1}}}\n", false, &g), 1);
	assert_int_equal(g.m[0].kind, JSONRPC_TOOLS_CALL);
	assert_string_equal(g.m[0].tool, "read_file");
	/* names sorted, reduced to the alphabet; values never copied: the
	 * path only as its template (here the path itself: no id in it), in
	 * the shapes alone, the token only as its fingerprint */
	assert_string_equal(g.m[0].args, "a_b,api_token,path");
	assert_true(g.m[0].has_id);
	assert_int_equal(g.m[0].id, 7);
	assert_null(memmem(&g.m[0], sizeof(g.m[0]), "sk-secret123", 12));
	assert_null(memmem(g.m[0].args, sizeof(g.m[0].args), "/srv/.env", 9));
	{
		char want[128], fa[FP_HEX_LEN + 1], fb[FP_HEX_LEN + 1];

		fp_compute(&test_key, "1", 1, fa);
		fp_compute(&test_key, "sk-secret123", 12, fb);
		snprintf(want, sizeof(want), "a_b=fp:%s,api_token=fp:%s,path=/srv/.env", fa, fb);
		assert_string_equal(g.m[0].shapes, want);
	}
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

/* "fp:" and the test key's fingerprint of s: what a non-path value becomes */
static const char *fp_of(const char *s)
{
	static char out[4][FP_HEX_LEN + 4];
	static int i;
	char hex[FP_HEX_LEN + 1];

	fp_compute(&test_key, s, strlen(s), hex);
	i = (i + 1) % 4;
	snprintf(out[i], sizeof(out[i]), "fp:%s", hex);
	return out[i];
}

#define TOKEN "ghp_16C7e42F292c6912E7710c838347Ae178B4a"

static void call(const char *args, struct got *g)
{
	char buf[8192];

	snprintf(buf, sizeof(buf), "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"t\","
		 "\"arguments\":%s}}\n", args);
	assert_int_equal(run(buf, false, g), 1);
	assert_int_equal(g->m[0].kind, JSONRPC_TOOLS_CALL);
	/* the planted token is nowhere in what the extractor hands out */
	assert_null(memmem(&g->m[0], sizeof(g->m[0]), TOKEN, 10));
}

static void test_shapes_paths(void **state)
{
	struct got g;

	(void)state;
	call("{\"path\":\"/srv/files/4711.txt\",\"dir\":\"/home/alice/projects/\","
	     "\"u\":\"/srv/data/550e8400-e29b-41d4-a716-446655440000/report.pdf\","
	     "\"k\":\"/run/secrets/" TOKEN "\",\"m\":\"/var//lib/./x;jsessionid=" TOKEN "\"}", &g);
	assert_string_equal(g.m[0].args, "dir,k,m,path,u");
	assert_string_equal(g.m[0].shapes, "dir=/home/alice/projects/,k=/run/secrets/{secret},m=/var/lib/./x,"
					   "path=/srv/files/{id}.txt,u=/srv/data/{id}/report.pdf");
	assert_false(g.m[0].shapes_cut);
	assert_int_equal(g.c.shapes_cut, 0);
}

static void test_shapes_urls(void **state)
{
	struct got g;

	(void)state;
	/* userinfo, query and fragment dropped; scheme and host lower-cased */
	call("{\"a\":\"https://user:" TOKEN "@API.Example.com:8443/v1/users/12345?token=" TOKEN "#frag\","
	     "\"b\":\"HTTP://" TOKEN "@db.local\",\"c\":\"s3://bucket/" TOKEN "/k.json\",\"d\":\"file:///etc/hosts\"}", &g);
	assert_string_equal(g.m[0].shapes, "a=https://api.example.com:8443/v1/users/{id},b=http://db.local,"
					   "c=s3://bucket/{id}/k.json,d=file:///etc/hosts");
	/* a token as a subdomain is no host name */
	call("{\"t\":\"https://" TOKEN ".tunnel.example.dev/hook\"}", &g);
	assert_string_equal(g.m[0].shapes, "t=https://{id}.tunnel.example.dev/hook");
}

static void test_shapes_not_paths(void **state)
{
	struct got g;
	char want[512];

	(void)state;
	/* a command line or prose that starts with '/' or a scheme is no path
	 * or URL: its words would leak ("-pHunter2"): fingerprinted whole */
	call("{\"cmd\":\"/usr/bin/mysql -pHunter2 db\",\"u\":\"https://x.dev/a b\"}", &g);
	snprintf(want, sizeof(want), "cmd=%s,u=%s", fp_of("/usr/bin/mysql -pHunter2 db"), fp_of("https://x.dev/a b"));
	assert_string_equal(g.m[0].shapes, want);
	/* a path's query is dropped; a "name=value" segment is a secret */
	call("{\"p\":\"/api/items?token=Hunter2#x\",\"q\":\"/srv/password=Hunter2/x\"}", &g);
	assert_string_equal(g.m[0].shapes, "p=/api/items,q=/srv/{secret}/x");
	assert_null(memmem(&g.m[0], sizeof(g.m[0]), "Hunter2", 7));
}

static void test_shapes_scalars_and_nested(void **state)
{
	struct got g;
	char want[512];

	(void)state;
	call("{\"q\":\"" TOKEN "\",\"n\":42,\"x\":1.5,\"b\":true,\"z\":null,"
	     "\"o\":{\"token\":\"" TOKEN "\",\"path\":\"/etc/shadow\"},\"l\":[\"" TOKEN "\",1],\"e\":\"\"}", &g);
	snprintf(want, sizeof(want), "b=bool,e=%s,l=[…],n=%s,o={…},q=%s,x=%s,z=null", fp_of(""), fp_of("42"),
		 fp_of(TOKEN), fp_of("1.5"));
	assert_string_equal(g.m[0].shapes, want);
	/* nested values are never descended into */
	assert_null(strstr(g.m[0].shapes, "shadow"));
	/* the same value gives the same fingerprint; another key another one */
	call("{\"q\":\"" TOKEN "\"}", &g);
	snprintf(want, sizeof(want), "q=%s", fp_of(TOKEN));
	assert_string_equal(g.m[0].shapes, want);
	/* without a key: no fingerprint at all */
	memset(&g, 0, sizeof(g));
	assert_int_equal(jsonrpc_extract((const uint8_t *)"{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":"
					 "{\"name\":\"t\",\"arguments\":{\"q\":\"x\"}}}", 83, false, NULL, on_msg, &g, &g.c), 1);
	assert_string_equal(g.m[0].shapes, "q=fp:?");
}

static void test_shapes_huge_and_unicode(void **state)
{
	static char args[8000], want[64];
	struct got g;
	size_t n = 0;

	(void)state;
	/* a huge string value: only its fingerprint, whatever its length */
	n = (size_t)snprintf(args, sizeof(args), "{\"big\":\"");
	memset(args + n, 'a', 3000);
	n += 3000;
	snprintf(args + n, sizeof(args) - n, "\"}");
	call(args, &g);
	assert_int_equal(strlen(g.m[0].shapes), strlen("big=fp:") + FP_HEX_LEN);
	/* a huge path: its shape is cut at JSONRPC_SHAPE_LEN, and counted */
	n = (size_t)snprintf(args, sizeof(args), "{\"p\":\"");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(args + n, sizeof(args) - n, "/dir");
	snprintf(args + n, sizeof(args) - n, "\"}");
	call(args, &g);
	assert_true(g.m[0].shapes_cut);
	assert_int_equal(g.c.shapes_cut, 1);
	assert_true(strlen(g.m[0].shapes) < JSONRPC_SHAPE_LEN + 2);
	assert_memory_equal(g.m[0].shapes, "p=/dir/dir/", 11);
	/* many long names: the list ends at a whole entry, cut and counted */
	n = (size_t)snprintf(args, sizeof(args), "{");
	for (int i = 0; i < 16; i++)
		n += (size_t)snprintf(args + n, sizeof(args) - n, "%s\"argument_name_%02d\":\"/srv/project/subdirectory/file_%02d\"", i ? "," : "", i, i);
	snprintf(args + n, sizeof(args) - n, "}");
	call(args, &g);
	assert_true(g.m[0].shapes_cut);
	n = strlen(g.m[0].shapes);
	assert_true(n < JSONRPC_SHAPES_LEN);
	snprintf(want, sizeof(want), "argument_name_00=/srv/project/subdirectory/file_00");
	assert_non_null(strstr(g.m[0].shapes, want));
	assert_true(g.m[0].shapes[n - 1] >= '0' && g.m[0].shapes[n - 1] <= '9'); /* a whole entry last */
	/* unicode in a path: bytes outside the alphabet become '_' (bounded,
	 * one byte each); a unicode string elsewhere is fingerprinted */
	call("{\"p\":\"/srv/r\\u00e9sum\\u00e9/\\u30d5.txt\",\"s\":\"h\\u00e9llo\"}", &g);
	snprintf(want, sizeof(want), "p=/srv/r__sum__/___.txt,s=%s", fp_of("h\xc3\xa9llo"));
	assert_string_equal(g.m[0].shapes, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tools_call_names_only),
		cmocka_unit_test(test_results_and_framing),
		cmocka_unit_test(test_bad_input_counted_and_skipped),
		cmocka_unit_test(test_cut_messages),
		cmocka_unit_test(test_shapes_paths),
		cmocka_unit_test(test_shapes_urls),
		cmocka_unit_test(test_shapes_not_paths),
		cmocka_unit_test(test_shapes_scalars_and_nested),
		cmocka_unit_test(test_shapes_huge_and_unicode),
	};

	return cmocka_run_group_tests_name("jsonrpc", tests, NULL, NULL);
}
