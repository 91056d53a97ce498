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

#include "otlp_logs.pb-c.h"
#include "identity/identity.h"
#include "ship/otlp.h"

#define T0 1800000000123LL /* ms */
#define T0_NS 1800000000123000000ULL

static const struct otlp_resource RES = {
	.host_name = "node-a.example",
	.service_version = "1.2.3",
	.k8s_node_name = "node-a",
};

/* ---- helpers ----------------------------------------------------------- */

static Otlp__ExportLogsServiceRequest *encode_decode(const struct otlp_resource *res, const struct otlp_item *items,
						    size_t n)
{
	Otlp__ExportLogsServiceRequest *req;
	void *buf = NULL;
	size_t len = 0;

	assert_int_equal(otlp_encode_logs(res, items, n, &buf, &len), 0);
	assert_non_null(buf);
	req = otlp__export_logs_service_request__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(req);
	return req;
}

static Otlp__ExportLogsServiceRequest *encode_records(const struct otlp_record *recs, size_t n)
{
	Otlp__ExportLogsServiceRequest *req;
	void *buf = NULL;
	size_t len = 0;

	assert_int_equal(otlp_encode_records(&RES, recs, n, &buf, &len), 0);
	req = otlp__export_logs_service_request__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(req);
	return req;
}

/* The string value of attribute key; fails the test when absent or twice. */
static const char *attr(Otlp__KeyValue **kv, size_t n, const char *key)
{
	const char *found = NULL;

	for (size_t i = 0; i < n; i++) {
		if (strcmp(kv[i]->key, key))
			continue;
		assert_null(found);
		assert_non_null(kv[i]->value);
		assert_int_equal(kv[i]->value->value_case, OTLP__ANY_VALUE__VALUE_STRING_VALUE);
		found = kv[i]->value->string_value;
	}
	if (!found)
		fail_msg("attribute %s missing", key);
	return found;
}

static bool has_attr(Otlp__KeyValue **kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kv[i]->key, key))
			return true;
	return false;
}

/* Every key of the record is one of keys (nothing unexpected was added),
 * and there are exactly n_keys of them. */
static void assert_keys(const Otlp__LogRecord *r, const char *const *keys, size_t n_keys)
{
	for (size_t i = 0; i < r->n_attributes; i++) {
		bool known = false;

		for (size_t k = 0; k < n_keys; k++)
			known |= !strcmp(r->attributes[i]->key, keys[k]);
		if (!known)
			fail_msg("unexpected attribute %s", r->attributes[i]->key);
	}
	assert_int_equal(r->n_attributes, n_keys);
}

static const Otlp__LogRecord *only_record(const Otlp__ExportLogsServiceRequest *req, size_t i)
{
	assert_int_equal(req->n_resource_logs, 1);
	assert_int_equal(req->resource_logs[0]->n_scope_logs, 1);
	return req->resource_logs[0]->scope_logs[0]->log_records[i];
}

static void fill_finding(struct finding *f)
{
	memset(f, 0, sizeof(*f));
	f->kind = FINDING_UNDECLARED_CREDENTIAL;
	f->severity = SEV_MEDIUM;
	snprintf(f->id, sizeof(f->id), "0123456789abcdef");
	f->identity = "ai/llm-gateway";
	f->edge_kind = "credential";
	f->object = "api.example.com POST /v1/chat bearer fp:00112233aabbccdd";
	f->executables = "/usr/bin/python3.12";
	f->message = "sent a bearer credential to api.example.com, not in credentials";
	f->policy_ref = "/etc/reach/gw.yaml:3";
}

/* ---- tests --------------------------------------------------------------- */

static void test_resource_and_scope(void **state)
{
	Otlp__ExportLogsServiceRequest *req;
	Otlp__ResourceLogs *rl;
	Otlp__ScopeLogs *sl;

	(void)state;
	req = encode_decode(&RES, NULL, 0);
	assert_int_equal(req->n_resource_logs, 1);
	rl = req->resource_logs[0];
	assert_non_null(rl->resource);
	assert_int_equal(rl->resource->n_attributes, 4);
	assert_string_equal(attr(rl->resource->attributes, 4, "host.name"), "node-a.example");
	assert_string_equal(attr(rl->resource->attributes, 4, "service.name"), "reach-agent");
	assert_string_equal(attr(rl->resource->attributes, 4, "service.version"), "1.2.3");
	assert_string_equal(attr(rl->resource->attributes, 4, "k8s.node.name"), "node-a");
	assert_int_equal(rl->n_scope_logs, 1);
	sl = rl->scope_logs[0];
	assert_string_equal(sl->scope->name, "reach");
	assert_string_equal(sl->scope->version, "1.2.3");
	assert_int_equal(sl->n_log_records, 0);
	otlp__export_logs_service_request__free_unpacked(req, NULL);
}

static void test_resource_host_mode(void **state)
{
	struct otlp_resource res = { .host_name = "laptop", .service_name = "reach-test" };
	Otlp__ExportLogsServiceRequest *req;
	Otlp__Resource *r;

	(void)state;
	req = encode_decode(&res, NULL, 0);
	r = req->resource_logs[0]->resource;
	assert_int_equal(r->n_attributes, 2);
	assert_string_equal(attr(r->attributes, 2, "host.name"), "laptop");
	assert_string_equal(attr(r->attributes, 2, "service.name"), "reach-test");
	assert_false(has_attr(r->attributes, 2, "k8s.node.name"));
	otlp__export_logs_service_request__free_unpacked(req, NULL);
}

static void test_finding_record(void **state)
{
	static const char *const keys[] = {
		"reach.identity", "k8s.namespace.name", "k8s.serviceaccount.name", "host.name", "k8s.pod.name",
		"process.executable.path", "reach.finding.id", "reach.finding.kind", "reach.severity",
		"reach.edge.kind", "reach.edge.object", "reach.executables", "reach.policy.ref",
	};
	Otlp__ExportLogsServiceRequest *req;
	const Otlp__LogRecord *r;
	struct otlp_record rec;
	struct finding f;

	(void)state;
	fill_finding(&f);
	otlp_record_finding(&rec, &f, false, T0, "node-a.example", "llm-gateway-7d9f");
	req = encode_records(&rec, 1);
	r = only_record(req, 0);
	assert_int_equal(r->time_unix_nano, T0_NS);
	assert_int_equal(r->observed_time_unix_nano, T0_NS);
	assert_int_equal(r->severity_number, 13);
	assert_string_equal(r->severity_text, "WARN");
	assert_string_equal(r->event_name, "reach.finding");
	assert_int_equal(r->body->value_case, OTLP__ANY_VALUE__VALUE_STRING_VALUE);
	assert_string_equal(r->body->string_value, f.message);
	assert_keys(r, keys, sizeof(keys) / sizeof(keys[0]));
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.identity"), "ai/llm-gateway");
	assert_string_equal(attr(r->attributes, r->n_attributes, "k8s.namespace.name"), "ai");
	assert_string_equal(attr(r->attributes, r->n_attributes, "k8s.serviceaccount.name"), "llm-gateway");
	assert_string_equal(attr(r->attributes, r->n_attributes, "host.name"), "node-a.example");
	assert_string_equal(attr(r->attributes, r->n_attributes, "k8s.pod.name"), "llm-gateway-7d9f");
	assert_string_equal(attr(r->attributes, r->n_attributes, "process.executable.path"), "/usr/bin/python3.12");
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.finding.id"), "0123456789abcdef");
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.finding.kind"), "undeclared-credential-use");
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.severity"), "medium");
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.edge.kind"), "credential");
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.edge.object"), f.object);
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.executables"), "/usr/bin/python3.12");
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.policy.ref"), "/etc/reach/gw.yaml:3");
	otlp__export_logs_service_request__free_unpacked(req, NULL);
}

/* A host identity: no k8s names; a tool edge: the executed path; several
 * executables: no process.executable.path guessed from them. */
static void test_finding_host_tool(void **state)
{
	static const char *const keys[] = {
		"reach.identity", "process.executable.path", "reach.finding.id", "reach.finding.kind",
		"reach.severity", "reach.edge.kind", "reach.edge.object", "reach.executables",
	};
	Otlp__ExportLogsServiceRequest *req;
	const Otlp__LogRecord *r;
	struct otlp_record rec[2];
	struct finding f, g;

	(void)state;
	fill_finding(&f);
	f.kind = FINDING_UNUSUAL_TOOL;
	f.severity = SEV_HIGH;
	f.policy_ref = "";
	f.identity = "host/nginx.service";
	f.edge_kind = "tool";
	f.object = "/usr/bin/curl";
	f.executables = "/bin/sh,/usr/bin/python3";
	g = f;
	g.kind = FINDING_UNDECLARED_EGRESS;
	g.edge_kind = "egress";
	g.object = "tcp/203.0.113.9/443";
	otlp_record_finding(&rec[0], &f, false, T0, NULL, "");
	otlp_record_finding(&rec[1], &g, false, T0 + 1, NULL, NULL);
	req = encode_records(rec, 2);
	r = only_record(req, 0);
	assert_int_equal(r->severity_number, 17);
	assert_string_equal(r->severity_text, "ERROR");
	assert_keys(r, keys, sizeof(keys) / sizeof(keys[0]));
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.identity"), "host/nginx.service");
	assert_string_equal(attr(r->attributes, r->n_attributes, "process.executable.path"), "/usr/bin/curl");
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.finding.kind"), "unusual-tool");
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.severity"), "high");
	r = only_record(req, 1);
	assert_int_equal(r->time_unix_nano, T0_NS + 1000000);
	assert_false(has_attr(r->attributes, r->n_attributes, "process.executable.path"));
	assert_false(has_attr(r->attributes, r->n_attributes, "k8s.namespace.name"));
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.edge.object"), "tcp/203.0.113.9/443");
	otlp__export_logs_service_request__free_unpacked(req, NULL);
}

static void test_finding_resolved(void **state)
{
	Otlp__ExportLogsServiceRequest *req;
	const Otlp__LogRecord *r;
	struct otlp_record rec;
	struct finding f;

	(void)state;
	fill_finding(&f);
	f.severity = SEV_HIGH;
	otlp_record_finding(&rec, &f, true, T0, NULL, NULL);
	req = encode_records(&rec, 1);
	r = only_record(req, 0);
	assert_string_equal(r->event_name, "reach.finding.resolved");
	assert_int_equal(r->severity_number, 9);
	assert_string_equal(r->severity_text, "INFO");
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.severity"), "high");
	assert_non_null(strstr(r->body->string_value, "resolved: "));
	otlp__export_logs_service_request__free_unpacked(req, NULL);
}

static void test_verdict_records(void **state)
{
	static const struct {
		const char *verdict;
		int num;
		const char *text;
	} cases[] = {
		{ "fail", 17, "ERROR" }, { "drifted", 17, "ERROR" }, { "inconclusive", 13, "WARN" }, { "pass", 9, "INFO" },
	};
	static const char *const keys[] = {
		"reach.identity", "k8s.namespace.name", "k8s.serviceaccount.name", "host.name",
		"reach.verdict", "reach.version", "reach.reasons",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Otlp__ExportLogsServiceRequest *req;
		const Otlp__LogRecord *r;
		struct otlp_record rec;

		otlp_record_verdict(&rec, "ai/gw", cases[i].verdict, "2 findings >= medium", "sha256:abc", T0, "n1");
		req = encode_records(&rec, 1);
		r = only_record(req, 0);
		assert_string_equal(r->event_name, "reach.verification");
		assert_int_equal(r->severity_number, cases[i].num);
		assert_string_equal(r->severity_text, cases[i].text);
		assert_keys(r, keys, sizeof(keys) / sizeof(keys[0]));
		assert_string_equal(attr(r->attributes, r->n_attributes, "reach.verdict"), cases[i].verdict);
		assert_string_equal(attr(r->attributes, r->n_attributes, "reach.version"), "sha256:abc");
		assert_string_equal(attr(r->attributes, r->n_attributes, "reach.reasons"), "2 findings >= medium");
		assert_string_equal(attr(r->attributes, r->n_attributes, "k8s.namespace.name"), "ai");
		assert_string_equal(attr(r->attributes, r->n_attributes, "k8s.serviceaccount.name"), "gw");
		assert_string_equal(attr(r->attributes, r->n_attributes, "host.name"), "n1");
		otlp__export_logs_service_request__free_unpacked(req, NULL);
	}
}

static void test_severity_mapping(void **state)
{
	const char *t;

	(void)state;
	assert_int_equal(otlp_severity_of_finding(SEV_INFO, &t), 9);
	assert_string_equal(t, "INFO");
	assert_int_equal(otlp_severity_of_finding(SEV_LOW, &t), 9);
	assert_int_equal(otlp_severity_of_finding(SEV_MEDIUM, &t), 13);
	assert_string_equal(t, "WARN");
	assert_int_equal(otlp_severity_of_finding(SEV_HIGH, &t), 17);
	assert_string_equal(t, "ERROR");
	assert_int_equal(otlp_severity_of_finding(SEV_CRITICAL, &t), 18);
	assert_string_equal(t, "ERROR2");
	assert_int_equal(otlp_severity_of_verdict(NULL, NULL), 9);
}

static void test_typed_attributes(void **state)
{
	const struct otlp_attr attrs[] = {
		{ .key = "i", .type = OTLP_INT, .i = -5 },
		{ .key = "b", .type = OTLP_BOOL, .b = true },
		{ .key = "d", .type = OTLP_DOUBLE, .d = 0.25 },
		{ .key = "s", .type = OTLP_STRING, .str = NULL },
	};
	const struct otlp_item item = { .time_ms = 0, .severity_number = 9, .attrs = attrs, .n_attrs = 4 };
	Otlp__ExportLogsServiceRequest *req;
	const Otlp__LogRecord *r;

	(void)state;
	req = encode_decode(&RES, &item, 1);
	r = only_record(req, 0);
	assert_int_equal(r->time_unix_nano, 0);
	assert_null(r->body);
	assert_int_equal(r->n_attributes, 4);
	assert_int_equal(r->attributes[0]->value->value_case, OTLP__ANY_VALUE__VALUE_INT_VALUE);
	assert_int_equal(r->attributes[0]->value->int_value, -5);
	assert_int_equal(r->attributes[1]->value->value_case, OTLP__ANY_VALUE__VALUE_BOOL_VALUE);
	assert_true(r->attributes[1]->value->bool_value);
	assert_int_equal(r->attributes[2]->value->value_case, OTLP__ANY_VALUE__VALUE_DOUBLE_VALUE);
	assert_true(r->attributes[2]->value->double_value == 0.25);
	assert_string_equal(r->attributes[3]->key, "s");
	assert_string_equal(r->attributes[3]->value->string_value, "");
	otlp__export_logs_service_request__free_unpacked(req, NULL);
}

/* File names are bytes: a receiver refuses a request with a string that is
 * not UTF-8, so bad bytes become U+FFFD and good multi-byte text stays. */
static void test_invalid_utf8_repaired(void **state)
{
	Otlp__ExportLogsServiceRequest *req;
	const Otlp__LogRecord *r;
	struct otlp_record rec;
	struct finding f;

	(void)state;
	fill_finding(&f);
	f.object = "/data/caf\xc3\xa9/\xff\xfe.key";
	f.message = "read \xe2\x82\xac \xed\xa0\x80 \xc0\xaf \xf0\x9f\x94\x91";
	otlp_record_finding(&rec, &f, false, T0, NULL, NULL);
	req = encode_records(&rec, 1);
	r = only_record(req, 0);
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.edge.object"),
			    "/data/caf\xc3\xa9/\xef\xbf\xbd\xef\xbf\xbd.key");
	/* euro sign kept; a surrogate and an overlong "/" replaced byte by byte;
	 * a 4-byte emoji kept */
	assert_string_equal(r->body->string_value, "read \xe2\x82\xac \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
						   "\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x94\x91");
	otlp__export_logs_service_request__free_unpacked(req, NULL);
}

/* Records are values: an array of them realloc'ed (moved) and encoded after
 * the findings they came from are gone. */
static void test_many_records_moved(void **state)
{
	enum { N = 500 };
	struct otlp_record *rec = NULL;
	Otlp__ExportLogsServiceRequest *req;

	(void)state;
	for (size_t i = 0; i < N; i++) {
		struct finding *f = malloc(sizeof(*f));
		char *object;
		struct otlp_record *nr = realloc(rec, (i + 1) * sizeof(*rec));

		assert_non_null(f);
		assert_non_null(nr);
		rec = nr;
		fill_finding(f);
		assert_non_null(object = malloc(64));
		snprintf(object, 64, "tcp/10.0.%zu.%zu/443", i / 256, i % 256);
		f->object = object;
		otlp_record_finding(&rec[i], f, i % 2, T0 + (int64_t)i, "n", NULL);
		/* the record keeps copies: the finding and its object are gone */
		memset(object, 0x5a, 63);
		free(object);
		memset(f, 0x5a, sizeof(*f));
		free(f);
	}
	req = encode_records(rec, N);
	assert_int_equal(req->resource_logs[0]->scope_logs[0]->n_log_records, N);
	for (size_t i = 0; i < N; i++) {
		const Otlp__LogRecord *r = only_record(req, i);
		char object[64];

		snprintf(object, sizeof(object), "tcp/10.0.%zu.%zu/443", i / 256, i % 256);
		assert_int_equal(r->time_unix_nano, T0_NS + i * 1000000);
		assert_string_equal(r->event_name, i % 2 ? "reach.finding.resolved" : "reach.finding");
		assert_int_equal(r->n_attributes, rec[i].n_attrs);
		assert_string_equal(attr(r->attributes, r->n_attributes, "reach.edge.object"), object);
		assert_string_equal(attr(r->attributes, r->n_attributes, "reach.identity"), "ai/llm-gateway");
		assert_string_equal(r->body->string_value, i % 2 ? "resolved: sent a bearer credential to "
								   "api.example.com, not in credentials"
								 : "sent a bearer credential to api.example.com, not in credentials");
	}
	otlp__export_logs_service_request__free_unpacked(req, NULL);
	free(rec);
}

/* A string longer than the record's text space is cut, never overflows. */
static void test_record_text_cut(void **state)
{
	Otlp__ExportLogsServiceRequest *req;
	const Otlp__LogRecord *r;
	struct otlp_record rec;
	char *reasons = malloc(20000);

	(void)state;
	assert_non_null(reasons);
	memset(reasons, 'r', 19999);
	reasons[19999] = '\0';
	memset(&rec, 0x77, sizeof(rec));
	otlp_record_verdict(&rec, "ai/gw", "fail", reasons, "v1", T0, "n1");
	req = encode_records(&rec, 1);
	r = only_record(req, 0);
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.verdict"), "fail");
	assert_string_equal(attr(r->attributes, r->n_attributes, "reach.version"), "v1");
	assert_true(strlen(attr(r->attributes, r->n_attributes, "reach.reasons")) < OTLP_RECORD_TEXT);
	assert_true(strlen(attr(r->attributes, r->n_attributes, "reach.reasons")) > 5000);
	assert_string_equal(r->body->string_value, ""); /* no room left: empty, not garbage */
	otlp__export_logs_service_request__free_unpacked(req, NULL);
	free(reasons);
}

static void test_invalid_arguments(void **state)
{
	void *buf;
	size_t len;
	struct otlp_item item = { 0 };

	(void)state;
	assert_int_equal(otlp_encode_logs(NULL, &item, 1, &buf, &len), -EINVAL);
	assert_int_equal(otlp_encode_logs(&RES, NULL, 1, &buf, &len), -EINVAL);
	assert_int_equal(otlp_encode_logs(&RES, &item, 1, NULL, &len), -EINVAL);
	assert_int_equal(otlp_encode_records(&RES, NULL, 1, &buf, &len), -EINVAL);
}

static void test_split_identity(void **state)
{
	char ns[64], sa[64];

	(void)state;
	assert_true(identity_split_k8s("ai/gw", ns, sizeof(ns), sa, sizeof(sa)));
	assert_string_equal(ns, "ai");
	assert_string_equal(sa, "gw");
	assert_false(identity_split_k8s("host/nginx.service", ns, sizeof(ns), sa, sizeof(sa)));
	assert_string_equal(ns, "");
	assert_string_equal(sa, "");
	assert_false(identity_split_k8s("unknown/x", ns, sizeof(ns), sa, sizeof(sa)));
	assert_false(identity_split_k8s("a/b/c", ns, sizeof(ns), sa, sizeof(sa)));
	assert_false(identity_split_k8s("/b", ns, sizeof(ns), sa, sizeof(sa)));
	assert_false(identity_split_k8s("a/", ns, sizeof(ns), sa, sizeof(sa)));
	assert_false(identity_split_k8s("plain", ns, sizeof(ns), sa, sizeof(sa)));
	assert_false(identity_split_k8s(NULL, ns, sizeof(ns), sa, sizeof(sa)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resource_and_scope),
		cmocka_unit_test(test_resource_host_mode),
		cmocka_unit_test(test_finding_record),
		cmocka_unit_test(test_finding_host_tool),
		cmocka_unit_test(test_finding_resolved),
		cmocka_unit_test(test_verdict_records),
		cmocka_unit_test(test_severity_mapping),
		cmocka_unit_test(test_typed_attributes),
		cmocka_unit_test(test_invalid_utf8_repaired),
		cmocka_unit_test(test_many_records_moved),
		cmocka_unit_test(test_record_text_cut),
		cmocka_unit_test(test_invalid_arguments),
		cmocka_unit_test(test_split_identity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
