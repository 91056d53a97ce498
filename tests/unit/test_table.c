/* The table printer of reachctl (common/table.h) and the per-kind edge
 * fields (reach/edge_fields.h) its tables, JSON and dot graph share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "common/json.h"
#include "common/table.h"
#include "reach/edge_fields.h"
#include "reach/edge_view.h"
#include <unistd.h>

static char *print_to_string(const struct table *t)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	table_print(t, f);
	fclose(f);
	return text;
}

static void test_columns_as_wide_as_their_widest_cell_counts_to_the_right(void **state)
{
	static const char *const hdr[] = { "IDENTITY", "COUNT", "PATH" };
	static const char *const r1[] = { "ai/gateway", "7", "/a" };
	static const char *const r2[] = { "b", "1234", "/run/secrets/x" };
	struct table *t = table_new(3, hdr);
	char *text;

	(void)state;
	assert_non_null(t);
	assert_int_equal(table_add_row(t, r1), 0);
	assert_int_equal(table_add_row(t, r2), 0);
	assert_int_equal(table_rows(t), 2);
	text = print_to_string(t);
	/* three spaces between columns, the number column right-aligned, nothing after the last */
	assert_string_equal(text, "IDENTITY     COUNT   PATH\n"
				  "ai/gateway       7   /a\n"
				  "b             1234   /run/secrets/x\n");
	free(text);
	table_free(t);
}

static void test_dash_only_column_is_text_and_null_cell_is_dash(void **state)
{
	static const char *const hdr[] = { "A", "OPENED_AS", "N" };
	const char *r1[] = { "x", NULL, "-" };
	const char *r2[] = { "y", "-", "12" };
	struct table *t = table_new(3, hdr);
	char *text;

	(void)state;
	assert_int_equal(table_add_row(t, r1), 0);
	assert_int_equal(table_add_row(t, r2), 0);
	text = print_to_string(t);
	assert_string_equal(text, "A   OPENED_AS    N\n"
				  "x   -            -\n"
				  "y   -           12\n");
	free(text);
	table_free(t);
}

static void test_control_characters_cannot_break_a_row(void **state)
{
	static const char *const hdr[] = { "NAME", "X" };
	static const char *const r1[] = { "evil\nname\x1b[31m", "1" };
	struct table *t = table_new(2, hdr);
	char *text;

	(void)state;
	assert_int_equal(table_add_row(t, r1), 0);
	text = print_to_string(t);
	assert_non_null(strstr(text, "evil?name?[31m   1\n"));
	assert_null(memchr(text, 0x1b, strlen(text)));
	free(text);
	table_free(t);
}

static void test_json_cells(void **state)
{
	json_object *o = json_tokener_parse("{\"s\":\"a b\",\"n\":null,\"i\":443,\"arr\":[\"x\",\"y\"],\"empty\":[],"
					    "\"obj\":{\"established\":2,\"refused\":1},\"b\":true}");
	char c[64];

	(void)state;
	table_cell_of_json(json_get(o, "s", json_type_string), c, sizeof(c));
	assert_string_equal(c, "a b");
	table_cell_of_json(NULL, c, sizeof(c));
	assert_string_equal(c, "-");
	table_cell_of_json(json_get(o, "i", json_type_int), c, sizeof(c));
	assert_string_equal(c, "443");
	table_cell_of_json(json_get(o, "arr", json_type_array), c, sizeof(c));
	assert_string_equal(c, "x,y");
	table_cell_of_json(json_get(o, "empty", json_type_array), c, sizeof(c));
	assert_string_equal(c, "-");
	table_cell_of_json(json_get(o, "obj", json_type_object), c, sizeof(c));
	assert_string_equal(c, "established=2,refused=1");
	table_cell_of_json(json_get(o, "b", json_type_boolean), c, sizeof(c));
	assert_string_equal(c, "true");
	table_cell_of_json(json_get(o, "arr", json_type_array), c, 4); /* cut, terminated */
	assert_string_equal(c, "x,y");
	table_cell_of_json(json_get(o, "s", json_type_string), c, 2);
	assert_string_equal(c, "a");
	json_object_put(o);
}

static struct ledger_edge edge(enum ledger_kind kind, const char *object)
{
	struct ledger_edge e = { .kind = kind, .object = (char *)object };

	return e;
}

static const char *str_field(json_object *f, const char *name)
{
	json_object *v;

	assert_true(json_object_object_get_ex(f, name, &v)); /* every field of the kind is there */
	return v ? json_object_get_string(v) : NULL;
}

static void test_credential_fields_from_its_object(void **state)
{
	struct ledger_edge e = edge(LEDGER_CREDENTIAL, "api.x.com:8443 POST /v1/{id}/chat bearer fp:0123456789abcdef");
	json_object *f;

	(void)state;
	e.category = "bearer";
	e.dest_class = "";
	f = edge_fields_json(&e);
	assert_non_null(f);
	assert_string_equal(str_field(f, "host"), "api.x.com:8443");
	assert_string_equal(str_field(f, "method"), "POST");
	assert_string_equal(str_field(f, "path"), "/v1/{id}/chat");
	assert_string_equal(str_field(f, "kind"), "bearer");
	assert_string_equal(str_field(f, "fingerprint"), "0123456789abcdef");
	assert_null(str_field(f, "special"));
	assert_null(str_field(f, "via")); /* an effect of no MCP call */
	assert_int_equal(json_object_object_length(f), 7); /* no other kind's fields */
	json_object_put(f);
	/* a request without a credential: kind none, no fingerprint */
	f = edge_fields_of_object("credential", "h GET / none");
	assert_string_equal(str_field(f, "kind"), "none");
	assert_null(str_field(f, "fingerprint"));
	json_object_put(f);
	/* an object of another shape: null fields, not a guess */
	f = edge_fields_of_object("credential", "garbage");
	assert_null(str_field(f, "method"));
	json_object_put(f);
}

static void test_egress_tool_secret_dns_mcp_fields(void **state)
{
	struct ledger_edge e = edge(LEDGER_EGRESS, "tcp/2001:db8::1/443");
	json_object *f, *v;

	(void)state;
	e.name = "api.openai.com";
	e.dest_class = "external";
	f = edge_fields_json(&e);
	assert_string_equal(str_field(f, "addr"), "2001:db8::1");
	assert_true(json_object_object_get_ex(f, "port", &v));
	assert_int_equal(json_object_get_int(v), 443); /* from the object when the edge has none */
	assert_string_equal(str_field(f, "proto"), "tcp");
	assert_string_equal(str_field(f, "name"), "api.openai.com");
	assert_string_equal(str_field(f, "class"), "external");
	json_object_put(f);

	f = edge_fields_of_object("tool", "/usr/bin/node agent.mjs");
	assert_string_equal(str_field(f, "exe"), "/usr/bin/node");
	assert_string_equal(str_field(f, "program"), "agent.mjs");
	json_object_put(f);
	f = edge_fields_of_object("tool", "/bin/sh");
	assert_null(str_field(f, "program"));
	json_object_put(f);

	e = edge(LEDGER_SECRET, "/var/run/secrets/kubernetes.io/serviceaccount/token");
	e.category = "k8s-sa-token";
	e.opened_as = "/run/secrets/kubernetes.io/serviceaccount/token";
	f = edge_fields_json(&e);
	assert_string_equal(str_field(f, "path"), "/var/run/secrets/kubernetes.io/serviceaccount/token");
	assert_string_equal(str_field(f, "category"), "k8s-sa-token");
	assert_string_equal(str_field(f, "opened_as"), "/run/secrets/kubernetes.io/serviceaccount/token");
	assert_null(str_field(f, "content_fingerprint"));
	json_object_put(f);

	f = edge_fields_of_object("dns", "api.openai.com");
	assert_string_equal(str_field(f, "name"), "api.openai.com");
	json_object_put(f);

	e = edge(LEDGER_MCP_TOOL, "server-filesystem read_file");
	e.name = "server-filesystem";
	e.category = "read_file";
	e.proto = "stdio";
	e.arguments = "path";
	f = edge_fields_json(&e);
	assert_string_equal(str_field(f, "server"), "server-filesystem");
	assert_string_equal(str_field(f, "tool"), "read_file");
	assert_string_equal(str_field(f, "transport"), "stdio");
	assert_string_equal(str_field(f, "arguments"), "path");
	json_object_put(f);

	/* a finding about no edge (an expired exception): no fields */
	f = edge_fields_of_object("", "x");
	assert_int_equal(json_object_object_length(f), 0);
	json_object_put(f);
}

static void test_every_field_named_once_per_kind(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_edge_fields; i++) {
		assert_non_null(edge_fields[i].get);
		for (size_t j = i + 1; j < n_edge_fields; j++)
			assert_false(edge_fields[i].kind == edge_fields[j].kind &&
				     !strcmp(edge_fields[i].name, edge_fields[j].name));
	}
}

static void test_rfc3339_beside_every_ms_time(void **state)
{
	json_object *o = json_tokener_parse(
		"{\"last_seen_ms\":1796575977750,\"last_seen\":\"kept\",\"started_unix_ms\":1796575977000,"
		"\"verified_ms\":1796575977001,\"verified\":true,\"mean_time_to_remediate_ms\":4000,"
		"\"nested\":[{\"first_seen_ms\":1796575977750,\"none_ms\":null}]}");
	json_object *n;

	(void)state;
	json_add_rfc3339(o);
	assert_string_equal(json_get_str(o, "last_seen", ""), "kept");
	assert_string_equal(json_get_str(o, "started", ""), "2026-12-06T16:52:57.000Z");
	assert_string_equal(json_get_str(o, "verified_at", ""), "2026-12-06T16:52:57.001Z"); /* "verified" is a bool */
	assert_null(json_get(o, "mean_time_to_remediate", json_type_string)); /* a duration */
	n = json_object_array_get_idx(json_get(o, "nested", json_type_array), 0);
	assert_string_equal(json_get_str(n, "first_seen", ""), "2026-12-06T16:52:57.750Z");
	assert_int_equal(json_get_int(o, "last_seen_ms", 0), 1796575977750LL); /* kept for compatibility */
	json_object_put(o);
}

/* What a view prints on stdout. */
static char *capture(void (*view)(json_object *, bool), json_object *doc, bool wide)
{
	char path[] = "/tmp/reach-test-view-XXXXXX", *text;
	int fd = mkstemp(path), saved = dup(1);
	long len;
	FILE *f;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stdout);
	assert_int_equal(dup2(fd, 1), 1);
	view(doc, wide);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	f = fdopen(fd, "r");
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	unlink(path);
	return text;
}

static void dot_view(json_object *doc, bool wide)
{
	(void)wide;
	edge_view_dot(doc);
}

static void test_reach_view_a_table_per_kind_and_dot(void **state)
{
	json_object *doc = json_tokener_parse(
		"{\"identities\":[{\"identity\":\"ai/gw\",\"edges\":["
		"{\"kind\":\"credential\",\"object\":\"h:1 GET /x bearer fp:00112233aabbccdd\",\"category\":\"bearer\","
		"\"name\":\"h:1\",\"count\":3,\"last_seen_ms\":0,\"executables\":[\"/usr/bin/curl\"]},"
		"{\"kind\":\"secret\",\"object\":\"/run/a \\\"b\\\"\\nc\",\"count\":1,\"executables\":[]},"
		"{\"kind\":\"future-kind\",\"object\":\"new kind\",\"count\":1}]}]}");
	char *text;

	(void)state;
	edge_fields_annotate(doc);
	text = capture(edge_view_reach, doc, false);
	/* kind order, whatever the document's; the secret's newline cannot break its row */
	assert_string_equal(text,
			    "secret (1)\n"
			    "IDENTITY   PATH           CATEGORY   OPENED_AS   CONTENT_FINGERPRINT   COUNT   LAST   EXECUTABLES\n"
			    "ai/gw      /run/a \"b\"?c   -          -           -                         1   -      -\n"
			    "\n"
			    "credential (1)\n"
			    "IDENTITY   HOST   METHOD   PATH   KIND     FINGERPRINT        SPECIAL   COUNT   LAST   EXECUTABLES\n"
			    "ai/gw      h:1    GET      /x     bearer   00112233aabbccdd   -             3   -      curl\n"
			    "\n"
			    "1 rows of edge kinds this reachctl does not know: -o json shows them\n");
	free(text);
	text = capture(dot_view, doc, false);
	/* quotes escaped, the newline a label break, never a raw line */
	assert_non_null(strstr(text, "\"ai/gw secret /run/a \\\"b\\\"\\nc\""));
	assert_null(strstr(text, "\"b\\\"\nc")); /* no raw line break inside a quoted name */
	assert_non_null(strstr(text, "label=\"credential\\nhost: h:1\\nmethod: GET\\npath: /x\\nkind: bearer\\n"
				     "fingerprint: 00112233aabbccdd\"]"));
	assert_non_null(strstr(text, "\"id ai/gw\" -> \"ai/gw credential h:1 GET /x bearer fp:00112233aabbccdd\" [label=\"3\"]"));
	free(text);
	json_object_put(doc);
}

/* The fields of the later kinds and of an MCP call's effects: llm's
 * provider/host/model/tools, an egress name's source, "via" (a sparse
 * column: shown only when a row of the kind has it). */
static void test_llm_name_source_and_via_fields(void **state)
{
	json_object *doc = json_tokener_parse(
		"{\"identities\":[{\"identity\":\"host/agent\",\"edges\":["
		"{\"kind\":\"llm\",\"object\":\"openai api.openai.com gpt-4o\",\"category\":\"openai\","
		"\"name\":\"api.openai.com\",\"dest_class\":\"gpt-4o\",\"proto\":\"h2\",\"llm_tools_offered\":true,\"count\":2},"
		"{\"kind\":\"egress\",\"object\":\"tcp/10.1.2.3/443\",\"name\":\"llm.example\",\"name_source\":\"sni\",\"count\":1},"
		"{\"kind\":\"secret\",\"object\":\"/srv/.env\",\"category\":\"dotenv\",\"mcp_server\":\"server-filesystem\","
		"\"mcp_tool\":\"read_file\",\"count\":1},"
		"{\"kind\":\"secret\",\"object\":\"/srv/b.key\",\"category\":\"private-key\",\"count\":1}]}]}");
	json_object *edges, *f;
	char *text;

	(void)state;
	edge_fields_annotate(doc);
	edges = json_object_object_get(json_object_array_get_idx(json_object_object_get(doc, "identities"), 0), "edges");
	f = json_object_object_get(json_object_array_get_idx(edges, 0), "fields");
	assert_string_equal(str_field(f, "provider"), "openai");
	assert_string_equal(str_field(f, "host"), "api.openai.com");
	assert_string_equal(str_field(f, "model"), "gpt-4o");
	assert_string_equal(str_field(f, "proto"), "h2");
	assert_true(json_object_get_boolean(json_object_object_get(f, "tools_offered")));
	f = json_object_object_get(json_object_array_get_idx(edges, 1), "fields");
	assert_string_equal(str_field(f, "name_source"), "sni");
	assert_null(str_field(f, "via"));
	f = json_object_object_get(json_object_array_get_idx(edges, 2), "fields");
	assert_string_equal(str_field(f, "via"), "server-filesystem/read_file");
	text = capture(edge_view_reach, doc, false);
	/* the secret table has VIA (one row has it), the egress table NAME_SOURCE, not VIA */
	assert_non_null(strstr(text, "secret (2)\nIDENTITY     PATH         CATEGORY      OPENED_AS   CONTENT_FINGERPRINT   VIA "));
	assert_non_null(strstr(text, "server-filesystem/read_file"));
	assert_non_null(strstr(text, "NAME_SOURCE"));
	assert_null(strstr(strstr(text, "egress (1)"), "VIA"));
	assert_non_null(strstr(text, "llm (1)\nIDENTITY     PROVIDER   HOST             MODEL    TOOLS_OFFERED   PROTO "));
	free(text);
	json_object_put(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_columns_as_wide_as_their_widest_cell_counts_to_the_right),
		cmocka_unit_test(test_dash_only_column_is_text_and_null_cell_is_dash),
		cmocka_unit_test(test_control_characters_cannot_break_a_row),
		cmocka_unit_test(test_json_cells),
		cmocka_unit_test(test_credential_fields_from_its_object),
		cmocka_unit_test(test_egress_tool_secret_dns_mcp_fields),
		cmocka_unit_test(test_every_field_named_once_per_kind),
		cmocka_unit_test(test_rfc3339_beside_every_ms_time),
		cmocka_unit_test(test_reach_view_a_table_per_kind_and_dot),
		cmocka_unit_test(test_llm_name_source_and_via_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
