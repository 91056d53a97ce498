#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ship/prom_text.h"

#define PROMTOOL "/usr/bin/promtool"

static void test_family_and_samples(void **state)
{
	struct prom_buf b = PROM_BUF_INIT;

	(void)state;
	assert_int_equal(prom_family(&b, "reach_events_total", "counter", "Events read from the ring buffer."), 0);
	assert_int_equal(prom_sample_u64(&b, "reach_events_total", 42, 1, "kind", "secret"), 0);
	/* the current family again: no second HELP/TYPE */
	assert_int_equal(prom_family(&b, "reach_events_total", "counter", "Events read from the ring buffer."), 0);
	assert_int_equal(prom_sample_u64(&b, "reach_events_total", UINT64_MAX, 1, "kind", "egress"), 0);
	assert_int_equal(prom_family(&b, "reach_up", "gauge", "1 while the agent runs."), 0);
	assert_int_equal(prom_sample(&b, "reach_up", 1, 0), 0);
	assert_int_equal(prom_error(&b), 0);
	assert_string_equal(b.data, "# HELP reach_events_total Events read from the ring buffer.\n"
				    "# TYPE reach_events_total counter\n"
				    "reach_events_total{kind=\"secret\"} 42\n"
				    "reach_events_total{kind=\"egress\"} 18446744073709551615\n"
				    "# HELP reach_up 1 while the agent runs.\n"
				    "# TYPE reach_up gauge\n"
				    "reach_up 1\n");
	assert_int_equal(b.len, strlen(b.data));
	prom_buf_free(&b);
	assert_null(b.data);
	prom_buf_free(&b); /* twice: harmless */
}

static void test_escaping(void **state)
{
	struct prom_buf b = PROM_BUF_INIT;

	(void)state;
	assert_int_equal(prom_family(&b, "x", "gauge", "a \\ back\nslash \"quoted\""), 0);
	assert_int_equal(prom_sample(&b, "x", 2, 2, "identity", "ns/\"sa\"\\\n", "empty", NULL), 0);
	assert_string_equal(b.data, "# HELP x a \\\\ back\\nslash \"quoted\"\n"
				    "# TYPE x gauge\n"
				    "x{identity=\"ns/\\\"sa\\\"\\\\\\n\",empty=\"\"} 2\n");
	prom_buf_free(&b);
}

static void test_values(void **state)
{
	struct prom_buf b = PROM_BUF_INIT;

	(void)state;
	assert_int_equal(prom_family(&b, "v", "gauge", "values"), 0);
	prom_sample(&b, "v", 0.1, 1, "i", "a");
	prom_sample(&b, "v", -2.5e-7, 1, "i", "b");
	prom_sample(&b, "v", NAN, 1, "i", "c");
	prom_sample(&b, "v", INFINITY, 1, "i", "d");
	prom_sample(&b, "v", -INFINITY, 1, "i", "e");
	prom_sample(&b, "v", 1.0 / 3, 1, "i", "f");
	prom_sample(&b, "v", 9007199254740993.0, 1, "i", "g");
	assert_int_equal(prom_error(&b), 0);
	assert_non_null(strstr(b.data, "v{i=\"a\"} 0.1\n"));
	assert_non_null(strstr(b.data, "v{i=\"b\"} -2.5e-07\n"));
	assert_non_null(strstr(b.data, "v{i=\"c\"} NaN\n"));
	assert_non_null(strstr(b.data, "v{i=\"d\"} +Inf\n"));
	assert_non_null(strstr(b.data, "v{i=\"e\"} -Inf\n"));
	assert_non_null(strstr(b.data, "v{i=\"f\"} 0.33333333333333331\n"));
	assert_non_null(strstr(b.data, "v{i=\"g\"} 9007199254740992\n"));
	prom_buf_free(&b);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(prom_valid_metric_name("reach_x:y_total"));
	assert_true(prom_valid_metric_name(":colon"));
	assert_false(prom_valid_metric_name("9lives"));
	assert_false(prom_valid_metric_name("a-b"));
	assert_false(prom_valid_metric_name(""));
	assert_false(prom_valid_metric_name(NULL));
	assert_true(prom_valid_label_name("_x1"));
	assert_false(prom_valid_label_name("__name__"));
	assert_false(prom_valid_label_name("a:b"));
	assert_false(prom_valid_label_name("1a"));
	assert_false(prom_valid_label_name(""));
}

/* Each misuse is refused before anything is written, and the error sticks. */
static void expect_refused(int (*misuse)(struct prom_buf *), int rc)
{
	struct prom_buf b = PROM_BUF_INIT;
	size_t len;

	assert_int_equal(prom_family(&b, "a", "gauge", "a"), 0);
	assert_int_equal(prom_sample(&b, "a", 1, 0), 0);
	len = b.len;
	assert_int_equal(misuse(&b), rc);
	assert_int_equal(b.len, len);
	assert_int_equal(prom_error(&b), rc);
	assert_int_equal(prom_sample(&b, "a", 2, 0), rc); /* sticky */
	assert_int_equal(b.len, len);
	prom_buf_free(&b);
}

static int bad_metric(struct prom_buf *b) { return prom_family(b, "a-b", "gauge", "h"); }
static int bad_type(struct prom_buf *b) { return prom_family(b, "c", "histogram", "h"); }
static int bad_label(struct prom_buf *b) { return prom_sample(b, "a", 1, 1, "bad-label", "v"); }
static int reserved_label(struct prom_buf *b) { return prom_sample(b, "a", 1, 1, "__x", "v"); }
static int dup_label(struct prom_buf *b) { return prom_sample(b, "a", 1, 2, "k", "1", "k", "2"); }
static int other_family(struct prom_buf *b) { return prom_sample(b, "b", 1, 0); }
static int too_many(struct prom_buf *b) { return prom_sample(b, "a", 1, PROM_MAX_LABELS + 1); }

static void test_misuse(void **state)
{
	(void)state;
	expect_refused(bad_metric, -EINVAL);
	expect_refused(bad_type, -EINVAL);
	expect_refused(bad_label, -EINVAL);
	expect_refused(reserved_label, -EINVAL);
	expect_refused(dup_label, -EINVAL);
	expect_refused(other_family, -EINVAL);
	expect_refused(too_many, -EINVAL);
}

/* Declaring a family again is a no-op; with another type an error. */
static void test_redeclare(void **state)
{
	struct prom_buf b = PROM_BUF_INIT;
	size_t len;

	(void)state;
	prom_family(&b, "a", "gauge", "a");
	prom_family(&b, "b", "gauge", "b");
	len = b.len;
	assert_int_equal(prom_family(&b, "a", "gauge", "a again"), 0);
	assert_int_equal(b.len, len);
	assert_int_equal(prom_family(&b, "a", "counter", "a"), -EEXIST);
	assert_int_equal(prom_error(&b), -EEXIST);
	prom_buf_free(&b);
}

/* Families declared up front, samples in any order: each lands in its own
 * group, so the text stays valid after every call. */
static void test_any_order(void **state)
{
	struct prom_buf b = PROM_BUF_INIT;

	(void)state;
	prom_family(&b, "a_total", "counter", "A.");
	prom_family(&b, "b", "gauge", "B.");
	prom_family(&b, "c", "gauge", "C.");
	prom_sample(&b, "c", 1, 0);
	prom_sample(&b, "a_total", 1, 1, "k", "x");
	prom_sample(&b, "b", 2, 0);
	prom_sample(&b, "a_total", 2, 1, "k", "y");
	prom_sample(&b, "c", 3, 1, "k", "z");
	prom_family(&b, "d", "gauge", "D.");
	prom_sample(&b, "a_total", 3, 1, "k", "z");
	prom_sample(&b, "d", 4, 0);
	assert_int_equal(prom_error(&b), 0);
	assert_string_equal(b.data, "# HELP a_total A.\n"
				    "# TYPE a_total counter\n"
				    "a_total{k=\"x\"} 1\n"
				    "a_total{k=\"y\"} 2\n"
				    "a_total{k=\"z\"} 3\n"
				    "# HELP b B.\n"
				    "# TYPE b gauge\n"
				    "b 2\n"
				    "# HELP c C.\n"
				    "# TYPE c gauge\n"
				    "c 1\n"
				    "c{k=\"z\"} 3\n"
				    "# HELP d D.\n"
				    "# TYPE d gauge\n"
				    "d 4\n");
	assert_int_equal(b.len, strlen(b.data));
	prom_buf_free(&b);
}

static void test_sample_without_family(void **state)
{
	struct prom_buf b = PROM_BUF_INIT;

	(void)state;
	assert_int_equal(prom_sample(&b, "a", 1, 0), -EINVAL);
	assert_null(b.data);
	prom_buf_free(&b);
}

static void test_kv_arrays(void **state)
{
	struct prom_buf b = PROM_BUF_INIT;
	const char *kv[] = { "identity", "ai/gw", "kind", "egress" };

	(void)state;
	prom_family(&b, "reach_edges", "gauge", "Edges per identity and kind.");
	assert_int_equal(prom_sample_kv(&b, "reach_edges", 3, 2, kv), 0);
	assert_int_equal(prom_sample_kv_u64(&b, "reach_edges", 4, 1, kv), 0);
	assert_non_null(strstr(b.data, "reach_edges{identity=\"ai/gw\",kind=\"egress\"} 3\n"));
	assert_non_null(strstr(b.data, "reach_edges{identity=\"ai/gw\"} 4\n"));
	prom_buf_free(&b);
}

/* Runs promtool check metrics on text; returns its exit status and output. */
static int promtool(const char *text, char *out, size_t out_size)
{
	char path[] = "/tmp/test_prom_text.XXXXXX", cmd[256];
	FILE *f, *p;
	size_t n;
	int fd = mkstemp(path), status;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), PROMTOOL " check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, out_size - 1, p);
	out[n] = '\0';
	status = pclose(p);
	unlink(path);
	return status;
}

/* The agent's way: every family declared first, samples interleaved; one
 * family without samples. */
static void render_agent_like(struct prom_buf *b)
{
	prom_family(b, "reach_events_total", "counter", "Events read from the ring buffer, by kind.");
	prom_family(b, "reach_events_lost_total", "counter", "Events lost (ring buffer full), by kind.");
	prom_family(b, "reach_findings", "gauge", "Open findings by identity and severity.");
	prom_family(b, "reach_last_verify_timestamp_seconds", "gauge", "When verify last ran.");
	prom_family(b, "reach_ratio", "gauge", "Help with \\ backslash\nand newline.");
	prom_family(b, "reach_alerts_suppressed_total", "counter", "None so far.");
	for (int k = 0; k < 3; k++) {
		const char *kind = k == 0 ? "secret" : k == 1 ? "egress" : "tool";

		prom_sample_u64(b, "reach_events_total", 10 + k, 1, "kind", kind);
		prom_sample_u64(b, "reach_events_lost_total", k, 1, "kind", kind);
	}
	prom_sample(b, "reach_findings", 2, 2, "identity", "ai/\"gw\"\\x\n", "severity", "high");
	prom_sample(b, "reach_last_verify_timestamp_seconds", 1800000000.123, 0);
	prom_sample(b, "reach_findings", 1, 2, "identity", "host/nginx.service", "severity", "medium");
	prom_sample(b, "reach_ratio", NAN, 0);
}

static void test_promtool_accepts(void **state)
{
	struct prom_buf b = PROM_BUF_INIT;
	char out[4096];
	int status;

	(void)state;
	if (access(PROMTOOL, X_OK)) {
		print_message("skipped: " PROMTOOL " not installed\n");
		return;
	}
	render_agent_like(&b);
	assert_int_equal(prom_error(&b), 0);
	status = promtool(b.data, out, sizeof(out));
	if (status)
		print_message("promtool: %s\ntext:\n%s", out, b.data);
	assert_int_equal(status, 0);
	prom_buf_free(&b);
}

/* The check is real: promtool refuses what the builder would refuse. */
static void test_promtool_rejects_bad_text(void **state)
{
	char out[4096];

	(void)state;
	if (access(PROMTOOL, X_OK)) {
		print_message("skipped: " PROMTOOL " not installed\n");
		return;
	}
	assert_int_not_equal(promtool("# TYPE a gauge\na{k=\"unterminated} 1\n", out, sizeof(out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_family_and_samples),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_redeclare),
		cmocka_unit_test(test_any_order),
		cmocka_unit_test(test_sample_without_family),
		cmocka_unit_test(test_kv_arrays),
		cmocka_unit_test(test_promtool_accepts),
		cmocka_unit_test(test_promtool_rejects_bad_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
