/* ReachPolicy objects into policies (agent/policy_crd.c policy_crd_render,
 * policy/policy_load.c policy_load_text and policy_set_add_copies) and the
 * PolicyReport of a service account (ship/policy_report.c), without an API
 * server: the end-to-end tests (tests/e2e/test_reachpolicy.py) cover the
 * watch, the Events and the writes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "agent/policy_crd.h"
#include "policy/policy.h"
#include "policy/verify.h"
#include "ship/policy_report.h"

static json_object *object(const char *ns, const char *spec_json)
{
	char text[2048];
	json_object *o;

	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"reach.dev/v1\",\"kind\":\"ReachPolicy\",\"metadata\":{\"name\":\"gw\",\"namespace\":\"%s\","
		 "\"uid\":\"u-1\",\"resourceVersion\":\"7\",\"labels\":{\"a\":\"b\"},\"managedFields\":[{}]},\"spec\":%s}",
		 ns, spec_json);
	o = json_tokener_parse(text);
	assert_non_null(o);
	return o;
}

/* Renders and loads; the loaded identity in *identity. */
static int load(const char *ns, const char *spec_json, char *identity, char *err, size_t err_size)
{
	json_object *o = object(ns, spec_json);
	struct policy_set set = { 0 };
	char *text = NULL;
	int rc = policy_crd_render(o, &text, err, err_size);

	if (rc == 0) {
		rc = policy_load_text(&set, "ReachPolicy ai/gw", text, strlen(text), err, err_size);
		if (rc == 0) {
			assert_int_equal(set.n, 1);
			strcpy(identity, set.policies[0].identity);
			assert_string_equal(set.policies[0].name, "gw");
			assert_string_equal(set.policies[0].file, "ReachPolicy ai/gw");
		}
	}
	policy_set_free(&set);
	free(text);
	json_object_put(o);
	return rc;
}

static void test_service_account_of_its_namespace(void **state)
{
	char id[512] = "", err[1024];

	(void)state;
	assert_int_equal(load("ai", "{\"serviceAccount\":\"gateway\",\"secrets\":[\"/var/run/secrets/llm/**\"]}", id, err,
			      sizeof(err)), 0);
	assert_string_equal(id, "ai/gateway");
	assert_int_equal(load("ai", "{\"serviceAccount\":\"ai/gateway\",\"tools\":[\"/usr/bin/python3*\"]}", id, err,
			      sizeof(err)), 0);
	assert_string_equal(id, "ai/gateway");
}

static void test_other_namespace_and_host_identity_refused(void **state)
{
	char id[512] = "", err[1024];

	(void)state;
	assert_int_equal(load("tenant-b", "{\"serviceAccount\":\"ai/gateway\"}", id, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "applies only to service accounts of tenant-b"));
	/* a namespace that merely starts like ours is another one */
	assert_int_equal(load("ai", "{\"serviceAccount\":\"aix/gateway\"}", id, err, sizeof(err)), -EPERM);
	assert_int_equal(load("ai", "{\"identity\":\"host/batch\"}", id, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "spec.identity"));
}

static void test_invalid_spec_names_the_field(void **state)
{
	char id[512] = "", err[1024];

	(void)state;
	assert_int_equal(load("ai", "{\"serviceAccount\":\"gateway\",\"egress\":[{\"host\":\"x.example\",\"ports\":[70000]}]}",
			      id, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ReachPolicy ai/gw:"));
	assert_non_null(strstr(err, "spec.egress[0].ports[0]"));
	assert_int_equal(load("ai", "{\"serviceAccount\":\"gateway\",\"secret\":[\"/x\"]}", id, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "spec.secret: unknown field"));
	/* JSON escapes and slashes reach the loader as the object wrote them */
	assert_int_equal(load("ai", "{\"serviceAccount\":\"gateway\",\"secrets\":[\"/etc/a\\u00e9/**\"]}", id, err,
			      sizeof(err)), 0);
}

static void test_add_copies_first_source_wins(void **state)
{
	const char *a = "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: a}\n"
			"spec: {serviceAccount: ai/gateway, tools: [/bin/a]}\n";
	const char *b = "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: b}\n"
			"spec: {serviceAccount: ai/gateway, tools: [/bin/b]}\n---\n"
			"apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: c}\n"
			"spec: {serviceAccount: ai/other}\n";
	struct policy_set sa = { 0 }, sb = { 0 }, all = { 0 };
	char err[512];
	size_t shadowed = 99;

	(void)state;
	assert_int_equal(policy_load_text(&sa, "first", a, strlen(a), err, sizeof(err)), 0);
	assert_int_equal(policy_load_text(&sb, "second", b, strlen(b), err, sizeof(err)), 0);
	assert_int_equal(policy_set_add_copies(&all, &sa, &shadowed), 0);
	assert_int_equal(shadowed, 0);
	assert_int_equal(policy_set_add_copies(&all, &sb, &shadowed), 0);
	assert_int_equal(shadowed, 1);
	assert_int_equal(all.n, 2);
	assert_string_equal(policy_for_identity(&all, "ai/gateway")->name, "a");
	assert_string_equal(policy_for_identity(&all, "ai/gateway")->rules[0].glob, "/bin/a");
	assert_non_null(policy_for_identity(&all, "ai/other"));
	/* copies: the sources can go */
	policy_set_free(&sa);
	policy_set_free(&sb);
	assert_string_equal(policy_for_identity(&all, "ai/gateway")->rules[0].glob, "/bin/a");
	policy_set_free(&all);
	/* a text that is no policy: all or nothing, named */
	assert_int_equal(policy_load_text(&all, "ReachPolicy x/y", "{}", 2, err, sizeof(err)), -EINVAL);
	assert_int_equal(all.n, 0);
	assert_non_null(strstr(err, "ReachPolicy x/y"));
}

static void test_report_name(void **state)
{
	char name[300], other[300], longsa[300];

	(void)state;
	policy_report_name("gateway", "node-1", name, sizeof(name));
	assert_string_equal(name, "reach-gateway-node-1");
	policy_report_name("Gate_way", "ip-10-0-0-1.ec2.internal", name, sizeof(name));
	assert_string_equal(name, "reach-gate-way-ip-10-0-0-1.ec2.internal");
	memset(longsa, 'a', 250);
	longsa[250] = '\0';
	policy_report_name(longsa, "node-1", name, sizeof(name));
	policy_report_name(longsa, "node-2", other, sizeof(other));
	assert_int_equal(strlen(name), 253);
	assert_string_not_equal(name, other);
}

static void test_report_without_verification(void **state)
{
	struct policy_report_pod pods[] = { { "ai", "gw-1", "gateway", "uid-1" }, { "ai", "other-1", "other", "uid-2" } };
	struct verify_result r = { 0 };
	json_object *rep = policy_report_build("node-1", "ai", "gateway", &r, pods, 2), *summary;

	(void)state;
	assert_non_null(rep);
	assert_string_equal(json_object_get_string(json_object_object_get(rep, "kind")), "PolicyReport");
	assert_int_equal(json_object_array_length(json_object_object_get(rep, "results")), 0);
	summary = json_object_object_get(rep, "summary");
	assert_int_equal(json_object_get_int(json_object_object_get(summary, "skip")), 1);
	assert_int_equal(json_object_get_int(json_object_object_get(summary, "pass")), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(
				    json_object_object_get(json_object_object_get(rep, "metadata"), "labels"),
				    "reach.dev/verdict")), "unverified");
	json_object_put(rep);
}

/* The v1alpha2 schema's severity enum is high, medium, low: a report with
 * critical or info would be refused by the API server. */
static void test_report_severity_fits_v1alpha2(void **state)
{
	struct finding f[2] = {
		{ .kind = 0, .severity = SEV_CRITICAL, .id = "a1", .identity = "ai/gateway", .edge_kind = "secret",
		  .object = "/etc/k", .executables = "", .message = "m1", .policy_ref = "" },
		{ .kind = 0, .severity = SEV_INFO, .id = "a2", .identity = "ai/gateway", .edge_kind = "tool",
		  .object = "/bin/sh", .executables = "", .message = "m2", .policy_ref = "" },
	};
	struct verify_result r = { .findings = f, .n_findings = 2 };
	json_object *rep = policy_report_build("node-1", "ai", "gateway", &r, NULL, 0), *results, *x;

	(void)state;
	assert_string_equal(report_severity(SEV_CRITICAL), "high");
	assert_string_equal(report_severity(SEV_HIGH), "high");
	assert_string_equal(report_severity(SEV_MEDIUM), "medium");
	assert_string_equal(report_severity(SEV_LOW), "low");
	assert_string_equal(report_severity(SEV_INFO), "low");
	assert_non_null(rep);
	results = json_object_object_get(rep, "results");
	assert_int_equal(json_object_array_length(results), 2);
	x = json_object_array_get_idx(results, 0);
	assert_string_equal(json_object_get_string(json_object_object_get(x, "severity")), "high");
	assert_string_equal(json_object_get_string(json_object_object_get(x, "result")), "fail");
	assert_string_equal(json_object_get_string(json_object_object_get(json_object_object_get(x, "properties"),
									  "reach-severity")), "critical");
	x = json_object_array_get_idx(results, 1);
	assert_string_equal(json_object_get_string(json_object_object_get(x, "severity")), "low");
	assert_string_equal(json_object_get_string(json_object_object_get(x, "result")), "warn");
	assert_string_equal(json_object_get_string(json_object_object_get(json_object_object_get(x, "properties"),
									  "reach-severity")), "info");
	json_object_put(rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_account_of_its_namespace),
		cmocka_unit_test(test_other_namespace_and_host_identity_refused),
		cmocka_unit_test(test_invalid_spec_names_the_field),
		cmocka_unit_test(test_add_copies_first_source_wins),
		cmocka_unit_test(test_report_name),
		cmocka_unit_test(test_report_without_verification),
		cmocka_unit_test(test_report_severity_fits_v1alpha2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
