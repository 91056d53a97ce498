#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "ship/alerts.h"

/* An injected clock: every call takes its time from the test. */
#define T0 1800000000000LL /* 2027-01-15T08:00:00Z */
#define SEC 1000LL
#define MIN (60 * SEC)
#define T0_TEXT "2027-01-15T08:00:00.000Z"

/* ---- helpers ----------------------------------------------------------- */

/* A hand-made finding's strings (a finding points at them, verify.h): a
 * ring of 64 findings' worth, writable, alive for the whole test. */
static char *text_slot(int field)
{
	static char pool[64][6][600];
	static unsigned next;

	if (field == 0)
		next++;
	return pool[next % 64][field];
}

static struct finding make_finding(const char *identity, int n, enum severity sev)
{
	unsigned h = 0; /* ids differ per identity, as the verifier's hashes do */
	struct finding f;
	char *t;

	for (const char *p = identity; *p; p++)
		h = h * 31 + (unsigned char)*p;
	memset(&f, 0, sizeof(f));
	f.kind = FINDING_UNDECLARED_EGRESS;
	f.severity = sev;
	snprintf(f.id, sizeof(f.id), "%08x%08x", strcmp(identity, "ai/gw") ? h : 0, 0xa000 + n);
	snprintf(t = text_slot(0), 600, "%s", identity);
	f.identity = t;
	snprintf(t = text_slot(1), 600, "egress");
	f.edge_kind = t;
	snprintf(t = text_slot(2), 600, "tcp/203.0.113.%d/443", n);
	f.object = t;
	snprintf(t = text_slot(3), 600, "/usr/bin/python3");
	f.executables = t;
	snprintf(t = text_slot(4), 600, "connected to tcp/203.0.113.%d/443, not in egress", n);
	f.message = t;
	snprintf(t = text_slot(5), 600, "/etc/reach/gw.yaml:1");
	f.policy_ref = t;
	f.first_ms = T0 - MIN;
	f.last_ms = T0;
	return f;
}

static struct alerts *new_alerts(void)
{
	struct alerts_config c;
	struct alerts *a;

	alerts_config_default(&c);
	c.generator_url = "http://reach.example/findings";
	a = alerts_new(&c, "node-1");
	assert_non_null(a);
	return a;
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_is_type(v, json_type_null) ? "(null)" : json_object_get_string(v);
}

/* o has exactly these keys with these string values (NULL-terminated
 * key, value list). */
static void assert_object_is(json_object *o, ...)
{
	va_list ap;
	int n = 0;

	assert_non_null(o);
	va_start(ap, o);
	for (const char *k; (k = va_arg(ap, const char *));) {
		const char *want = va_arg(ap, const char *), *got = str(o, k);

		if (!got || strcmp(got, want))
			fail_msg("%s: got %s, want %s in %s", k, got ? got : "(missing)", want,
				 json_object_to_json_string(o));
		n++;
	}
	va_end(ap);
	if (json_object_object_length(o) != n)
		fail_msg("extra keys in %s", json_object_to_json_string(o));
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

/* The alert of the array whose label key has value. */
static json_object *find_alert(json_object *arr, const char *key, const char *value)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *al = json_object_array_get_idx(arr, i);
		const char *v = str(get(al, "labels"), key);

		if (v && !strcmp(v, value))
			return al;
	}
	return NULL;
}

static size_t count_name(json_object *arr, const char *alertname)
{
	size_t n = 0;

	for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
		n += !strcmp(str(get(json_object_array_get_idx(arr, i), "labels"), "alertname"), alertname);
	return n;
}

static void due(struct alerts *a, int64_t now, json_object **am, json_object **wh)
{
	assert_int_equal(alerts_due(a, now, am, wh), 0);
}

static void due_nothing(struct alerts *a, int64_t now)
{
	json_object *am, *wh;

	due(a, now, &am, &wh);
	if (am || wh)
		fail_msg("unexpected: am %s wh %s", am ? json_object_to_json_string(am) : "-",
			 wh ? json_object_to_json_string(wh) : "-");
}

static void put2(json_object *am, json_object *wh)
{
	json_object_put(am);
	json_object_put(wh);
}

/* Sends everything due at now successfully. */
static void flush(struct alerts *a, int64_t now)
{
	json_object *am, *wh;

	due(a, now, &am, &wh);
	alerts_sent(a, true, true, now);
	put2(am, wh);
}

static const char *rfc(int64_t ms, char *buf, size_t n)
{
	time_t s = ms / 1000;
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return buf;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_labels_and_annotations(void **state)
{
	struct alerts *a = new_alerts();
	struct finding f = make_finding("ai/gw", 1, SEV_MEDIUM);
	json_object *am, *wh, *al, *w;
	char ends[80];

	(void)state;
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0), ALERTS_OPENED);
	due(a, T0, &am, &wh);
	assert_non_null(am);
	assert_int_equal(json_object_array_length(am), 1);
	al = json_object_array_get_idx(am, 0);
	assert_int_equal(json_object_object_length(al), 5);
	assert_object_is(get(al, "labels"), "alertname", "ReachFinding", "identity", "ai/gw", "namespace", "ai",
			 "serviceaccount", "gw", "node", "node-1", "kind", "undeclared-egress", "severity", "medium",
			 "finding_id", "000000000000a001", NULL);
	assert_object_is(get(al, "annotations"), "summary",
			 "ai/gw undeclared-egress (medium): connected to tcp/203.0.113.1/443, not in egress", "edge",
			 "egress tcp/203.0.113.1/443", "executables", "/usr/bin/python3", "policy",
			 "/etc/reach/gw.yaml:1", NULL);
	assert_string_equal(str(al, "startsAt"), T0_TEXT);
	assert_string_equal(str(al, "endsAt"), rfc(T0 + 5 * MIN, ends, sizeof(ends)));
	assert_string_equal(str(al, "endsAt"), "2027-01-15T08:05:00.000Z");
	assert_string_equal(str(al, "generatorURL"), "http://reach.example/findings");

	assert_non_null(wh);
	assert_int_equal(json_object_object_length(wh), 3);
	assert_string_equal(str(wh, "version"), "reach.v1");
	assert_string_equal(str(wh, "node"), "node-1");
	assert_int_equal(json_object_array_length(get(wh, "alerts")), 1);
	w = json_object_array_get_idx(get(wh, "alerts"), 0);
	assert_int_equal(json_object_object_length(w), 5);
	assert_string_equal(str(w, "status"), "firing");
	assert_string_equal(str(w, "startsAt"), T0_TEXT);
	assert_string_equal(str(w, "endsAt"), "(null)");
	assert_string_equal(json_object_to_json_string(get(w, "labels")), json_object_to_json_string(get(al, "labels")));
	assert_string_equal(json_object_to_json_string(get(w, "annotations")),
			    json_object_to_json_string(get(al, "annotations")));
	put2(am, wh);
	alerts_free(a);
}

/* Host identities have no namespace / service account; a node given per
 * finding wins; empty annotations are left out; no generator URL configured. */
static void test_host_identity(void **state)
{
	struct alerts *a = alerts_new(NULL, "node-1");
	struct finding f = make_finding("host/nginx.service", 2, SEV_HIGH);
	json_object *am, *wh, *al;

	(void)state;
	f.policy_ref = "";
	f.executables = "";
	assert_int_equal(alerts_finding_opened(a, &f, "node-2", T0), ALERTS_OPENED);
	due(a, T0, &am, &wh);
	al = json_object_array_get_idx(am, 0);
	assert_int_equal(json_object_object_length(al), 4); /* no generatorURL */
	assert_object_is(get(al, "labels"), "alertname", "ReachFinding", "identity", "host/nginx.service", "node",
			 "node-2", "kind", "undeclared-egress", "severity", "high", "finding_id", f.id,
			 NULL);
	assert_object_is(get(al, "annotations"), "summary",
			 "host/nginx.service undeclared-egress (high): connected to tcp/203.0.113.2/443, not in egress",
			 "edge", "egress tcp/203.0.113.2/443", NULL);
	assert_string_equal(str(wh, "node"), "node-1");
	put2(am, wh);
	alerts_free(a);
}

static void test_min_severity(void **state)
{
	struct alerts *a = new_alerts();
	struct finding low = make_finding("ai/gw", 1, SEV_LOW), info = make_finding("ai/gw", 2, SEV_INFO);
	struct alerts_stats st;

	(void)state;
	assert_int_equal(alerts_finding_opened(a, &low, NULL, T0), ALERTS_IGNORED);
	assert_int_equal(alerts_finding_opened(a, &info, NULL, T0), ALERTS_IGNORED);
	due_nothing(a, T0);
	assert_int_equal(alerts_finding_resolved(a, low.id, T0), -ENOENT);
	alerts_stats(a, &st);
	assert_int_equal(st.active, 0);
	alerts_free(a);
}

static void test_resend_timing(void **state)
{
	struct alerts *a = new_alerts();
	struct finding f = make_finding("ai/gw", 1, SEV_HIGH);
	json_object *am, *wh;
	char ends[80];

	(void)state;
	alerts_finding_opened(a, &f, NULL, T0);
	flush(a, T0);
	due_nothing(a, T0 + 1 * SEC);
	due_nothing(a, T0 + 59 * SEC);
	due(a, T0 + 60 * SEC, &am, &wh);
	assert_non_null(am);
	assert_null(wh); /* edge-triggered: nothing changed */
	assert_string_equal(str(json_object_array_get_idx(am, 0), "startsAt"), T0_TEXT);
	assert_string_equal(str(json_object_array_get_idx(am, 0), "endsAt"), rfc(T0 + 6 * MIN, ends, sizeof(ends)));
	alerts_sent(a, true, true, T0 + 60 * SEC);
	json_object_put(am);
	/* the clock restarted at the successful send */
	due_nothing(a, T0 + 119 * SEC);
	due(a, T0 + 120 * SEC, &am, &wh);
	assert_non_null(am);
	alerts_sent(a, true, true, T0 + 120 * SEC);
	put2(am, wh);
	/* a new alert is due at once, whatever the resend clock says */
	f = make_finding("ai/gw", 2, SEV_HIGH);
	alerts_finding_opened(a, &f, NULL, T0 + 121 * SEC);
	due(a, T0 + 121 * SEC, &am, &wh);
	assert_int_equal(json_object_array_length(am), 2);
	assert_int_equal(json_object_array_length(get(wh, "alerts")), 1);
	assert_non_null(find_alert(get(wh, "alerts"), "finding_id", f.id));
	put2(am, wh);
	alerts_free(a);
}

static void test_resolve(void **state)
{
	struct alerts *a = new_alerts();
	struct finding f = make_finding("ai/gw", 1, SEV_HIGH);
	int64_t t1 = T0 + 10 * SEC + 250;
	json_object *am, *wh, *al;
	struct alerts_stats st;
	char buf[80];

	(void)state;
	alerts_finding_opened(a, &f, NULL, T0);
	flush(a, T0);
	assert_int_equal(alerts_finding_resolved(a, f.id, t1), 0);
	assert_int_equal(alerts_finding_resolved(a, f.id, t1), -ENOENT);
	alerts_stats(a, &st);
	assert_int_equal(st.active, 0);
	due(a, t1, &am, &wh); /* due at once */
	al = json_object_array_get_idx(am, 0);
	assert_string_equal(str(al, "startsAt"), T0_TEXT);
	assert_string_equal(str(al, "endsAt"), rfc(t1, buf, sizeof(buf)));
	assert_string_equal(str(al, "endsAt"), "2027-01-15T08:00:10.250Z");
	al = json_object_array_get_idx(get(wh, "alerts"), 0);
	assert_string_equal(str(al, "status"), "resolved");
	assert_string_equal(str(al, "endsAt"), "2027-01-15T08:00:10.250Z");
	alerts_sent(a, true, true, t1);
	put2(am, wh);
	due_nothing(a, t1 + 30 * SEC);
	/* the second resolved send, at the next resend; endsAt stays the time it resolved */
	due(a, t1 + 60 * SEC, &am, &wh);
	assert_null(wh);
	assert_int_equal(json_object_array_length(am), 1);
	assert_string_equal(str(json_object_array_get_idx(am, 0), "endsAt"), "2027-01-15T08:00:10.250Z");
	alerts_sent(a, true, true, t1 + 60 * SEC);
	json_object_put(am);
	/* then forgotten */
	due_nothing(a, t1 + 120 * SEC);
	due_nothing(a, t1 + 600 * SEC);
	alerts_free(a);
}

static void test_failure_keeps_alerts_due(void **state)
{
	struct alerts *a = new_alerts();
	struct finding f = make_finding("ai/gw", 1, SEV_HIGH);
	json_object *am, *wh, *am2, *wh2;
	struct alerts_stats st;

	(void)state;
	alerts_finding_opened(a, &f, NULL, T0);
	due(a, T0, &am, &wh);
	alerts_sent(a, false, false, T0);
	due(a, T0 + SEC, &am2, &wh2); /* the next tick: the same alerts again */
	assert_non_null(am2);
	assert_non_null(wh2);
	assert_string_equal(json_object_to_json_string(get(wh, "alerts")), json_object_to_json_string(get(wh2, "alerts")));
	assert_string_equal(str(json_object_array_get_idx(am2, 0), "startsAt"), T0_TEXT);
	put2(am, wh);
	/* Alertmanager took it, the webhook did not */
	alerts_sent(a, true, false, T0 + SEC);
	put2(am2, wh2);
	due(a, T0 + 2 * SEC, &am, &wh);
	assert_null(am);
	assert_non_null(wh);
	alerts_sent(a, false, true, T0 + 2 * SEC); /* am got nothing: its flag is ignored */
	json_object_put(wh);
	due_nothing(a, T0 + 3 * SEC);
	alerts_stats(a, &st);
	assert_int_equal(st.sent_ok, 2);
	assert_int_equal(st.send_failed, 3);
	assert_int_equal(st.active, 1);

	/* a resend that fails is retried on the next tick, not a minute later */
	due(a, T0 + 61 * SEC, &am, &wh);
	assert_non_null(am);
	alerts_sent(a, false, true, T0 + 61 * SEC);
	json_object_put(am);
	due(a, T0 + 62 * SEC, &am, &wh);
	assert_non_null(am);
	json_object_put(am);

	/* a resolved alert whose send failed is sent again, still resolved */
	alerts_finding_resolved(a, f.id, T0 + 70 * SEC);
	due(a, T0 + 70 * SEC, &am, &wh);
	alerts_sent(a, false, false, T0 + 70 * SEC);
	put2(am, wh);
	due(a, T0 + 71 * SEC, &am, &wh);
	assert_string_equal(str(json_object_array_get_idx(get(wh, "alerts"), 0), "status"), "resolved");
	assert_string_equal(str(json_object_array_get_idx(am, 0), "endsAt"), "2027-01-15T08:01:10.000Z");
	put2(am, wh);
	alerts_free(a);
}

/* Alerts that open between alerts_due() and alerts_sent() were not in the
 * bodies: they stay due. */
static void test_change_while_in_flight(void **state)
{
	struct alerts *a = new_alerts();
	struct finding f1 = make_finding("ai/gw", 1, SEV_HIGH), f2 = make_finding("ai/gw", 2, SEV_HIGH);
	json_object *am, *wh;

	(void)state;
	alerts_finding_opened(a, &f1, NULL, T0);
	due(a, T0, &am, &wh);
	put2(am, wh);
	alerts_finding_opened(a, &f2, NULL, T0 + 100);
	alerts_finding_resolved(a, f1.id, T0 + 200);
	alerts_sent(a, true, true, T0 + 300);
	due(a, T0 + 400, &am, &wh);
	assert_non_null(am);
	assert_non_null(wh);
	assert_int_equal(json_object_array_length(get(wh, "alerts")), 2);
	assert_string_equal(str(find_alert(get(wh, "alerts"), "finding_id", f1.id), "status"), "resolved");
	assert_string_equal(str(find_alert(get(wh, "alerts"), "finding_id", f2.id), "status"), "firing");
	put2(am, wh);
	alerts_free(a);
}

static void collect_suppressed(void *ctx, const char *identity, uint64_t n)
{
	char *out = ctx;

	snprintf(out + strlen(out), 256 - strlen(out), "%s=%llu;", identity, (unsigned long long)n);
}

static void test_rate_limit(void **state)
{
	struct alerts *a = new_alerts();
	json_object *am, *wh, *sup;
	struct alerts_stats st;
	char by_id[256] = "";
	struct finding f;

	(void)state;
	for (int i = 1; i <= 10; i++) {
		f = make_finding("ai/noisy", i, SEV_MEDIUM);
		assert_int_equal(alerts_finding_opened(a, &f, NULL, T0), ALERTS_OPENED);
	}
	f = make_finding("ai/noisy", 11, SEV_MEDIUM);
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0), ALERTS_SUPPRESSED);
	/* reported again (the next verify pass): refused, counted once */
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0 + 1), ALERTS_SUPPRESSED);
	/* an update of a firing alert costs nothing */
	f = make_finding("ai/noisy", 3, SEV_MEDIUM);
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0), ALERTS_OPENED);
	/* another identity has its own bucket */
	f = make_finding("ai/quiet", 1, SEV_MEDIUM);
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0), ALERTS_OPENED);

	alerts_stats(a, &st);
	assert_int_equal(st.suppressed_total, 1);
	assert_int_equal(st.active, 12); /* 10 + 1 + the suppression alert */
	alerts_suppressed_by_identity(a, collect_suppressed, by_id);
	assert_string_equal(by_id, "ai/noisy=1;");

	due(a, T0, &am, &wh);
	assert_int_equal(count_name(am, "ReachFinding"), 11);
	assert_null(find_alert(am, "finding_id", "000000000000a00b"));
	assert_int_equal(count_name(am, "ReachAlertsSuppressed"), 1);
	sup = find_alert(am, "alertname", "ReachAlertsSuppressed");
	assert_object_is(get(sup, "labels"), "alertname", "ReachAlertsSuppressed", "identity", "ai/noisy", "namespace",
			 "ai", "serviceaccount", "noisy", "node", "node-1", "severity", "warning", NULL);
	assert_string_equal(str(get(sup, "annotations"), "suppressed"), "1");
	assert_non_null(strstr(str(get(sup, "annotations"), "summary"), "1 new finding alerts of ai/noisy"));
	alerts_sent(a, true, true, T0);
	put2(am, wh);

	/* one token back per minute (10 per 10 min) */
	f = make_finding("ai/noisy", 12, SEV_MEDIUM);
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0 + 59 * SEC), ALERTS_SUPPRESSED);
	f = make_finding("ai/noisy", 13, SEV_MEDIUM);
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0 + 61 * SEC), ALERTS_OPENED);
	f = make_finding("ai/noisy", 14, SEV_MEDIUM);
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0 + 62 * SEC), ALERTS_SUPPRESSED);
	/* a refused finding reported again opens once a token is back */
	f = make_finding("ai/noisy", 11, SEV_MEDIUM);
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0 + 63 * SEC), ALERTS_SUPPRESSED);
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0 + 122 * SEC), ALERTS_OPENED);
	f = make_finding("ai/noisy", 14, SEV_MEDIUM);
	assert_int_equal(alerts_finding_resolved(a, f.id, T0 + 62 * SEC), -ENOENT);
	due(a, T0 + 122 * SEC, &am, &wh);
	sup = find_alert(am, "alertname", "ReachAlertsSuppressed");
	assert_string_equal(str(get(sup, "annotations"), "suppressed"), "3");
	assert_string_equal(str(sup, "startsAt"), T0_TEXT); /* the same alert, kept firing */
	assert_null(find_alert(get(wh, "alerts"), "alertname", "ReachAlertsSuppressed")); /* no state change */
	alerts_sent(a, true, true, T0 + 122 * SEC);
	put2(am, wh);
	alerts_stats(a, &st);
	assert_int_equal(st.suppressed_total, 3);

	/* a whole window without a refusal resolves the suppression alert */
	due(a, T0 + 62 * SEC + 10 * MIN, &am, &wh);
	sup = find_alert(get(wh, "alerts"), "alertname", "ReachAlertsSuppressed");
	assert_non_null(sup);
	assert_string_equal(str(sup, "status"), "resolved");
	put2(am, wh);
	by_id[0] = '\0';
	alerts_suppressed_by_identity(a, collect_suppressed, by_id);
	assert_string_equal(by_id, "ai/noisy=3;"); /* the count since start stays */
	alerts_free(a);
}

static void test_rate_limit_config(void **state)
{
	struct alerts_config c;
	struct alerts *a;
	struct finding f;

	(void)state;
	alerts_config_default(&c);
	c.burst = 2;
	c.refill_per_window = 1;
	c.window_ms = 10 * SEC;
	c.min_severity = SEV_HIGH;
	a = alerts_new(&c, "n");
	for (int i = 0; i < 2; i++) {
		f = make_finding("x/y", i, SEV_HIGH);
		assert_int_equal(alerts_finding_opened(a, &f, NULL, T0), ALERTS_OPENED);
	}
	f = make_finding("x/y", 5, SEV_HIGH);
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0), ALERTS_SUPPRESSED);
	f = make_finding("x/y", 6, SEV_MEDIUM);
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0), ALERTS_IGNORED);
	f = make_finding("x/y", 7, SEV_CRITICAL);
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0 + 10 * SEC), ALERTS_OPENED);
	alerts_free(a);
}

static void test_verdicts(void **state)
{
	struct alerts *a = new_alerts();
	json_object *am, *wh, *al;
	struct finding f;

	(void)state;
	assert_int_equal(alerts_verdict(a, "ai/gw", "pass", NULL, NULL, T0), 0); /* nothing to resolve */
	due_nothing(a, T0);
	assert_int_equal(alerts_verdict(a, "ai/gw", "bogus", NULL, NULL, T0), -EINVAL);
	assert_int_equal(alerts_verdict(a, "ai/gw", "fail", "2 findings >= medium", "sha256:abc", T0), 0);
	due(a, T0, &am, &wh);
	al = json_object_array_get_idx(am, 0);
	assert_object_is(get(al, "labels"), "alertname", "ReachVerification", "identity", "ai/gw", "namespace", "ai",
			 "serviceaccount", "gw", "node", "node-1", "severity", "high", "verdict", "fail", NULL);
	assert_object_is(get(al, "annotations"), "summary",
			 "reach verification of ai/gw: fail at version sha256:abc (2 findings >= medium)", "reasons",
			 "2 findings >= medium", "version", "sha256:abc", NULL);
	alerts_sent(a, true, true, T0);
	put2(am, wh);

	/* the same verdict again: an update, no new alert */
	assert_int_equal(alerts_verdict(a, "ai/gw", "fail", "3 findings >= medium", "sha256:abc", T0 + SEC), 0);
	due_nothing(a, T0 + 2 * SEC);
	due(a, T0 + 60 * SEC, &am, &wh);
	assert_string_equal(str(get(json_object_array_get_idx(am, 0), "annotations"), "reasons"), "3 findings >= medium");
	assert_string_equal(str(json_object_array_get_idx(am, 0), "startsAt"), T0_TEXT);
	alerts_sent(a, true, true, T0 + 60 * SEC);
	put2(am, wh);

	/* drifted replaces fail: the fail alert resolves, a drifted one opens */
	alerts_verdict(a, "ai/gw", "drifted", "reach grew", "sha256:def", T0 + 70 * SEC);
	due(a, T0 + 70 * SEC, &am, &wh);
	assert_int_equal(json_object_array_length(get(wh, "alerts")), 2);
	assert_string_equal(str(find_alert(get(wh, "alerts"), "verdict", "fail"), "status"), "resolved");
	assert_string_equal(str(find_alert(get(wh, "alerts"), "verdict", "drifted"), "status"), "firing");
	alerts_sent(a, true, true, T0 + 70 * SEC);
	put2(am, wh);

	/* inconclusive: medium */
	alerts_verdict(a, "ai/gw", "inconclusive", "events lost", NULL, T0 + 80 * SEC);
	due(a, T0 + 80 * SEC, &am, &wh);
	al = find_alert(get(wh, "alerts"), "verdict", "inconclusive");
	assert_string_equal(str(get(al, "labels"), "severity"), "medium");
	assert_string_equal(str(find_alert(get(wh, "alerts"), "verdict", "drifted"), "status"), "resolved");
	alerts_sent(a, true, true, T0 + 80 * SEC);
	put2(am, wh);

	/* verdicts are never rate limited */
	for (int i = 0; i < 12; i++) {
		f = make_finding("ai/gw", i, SEV_HIGH);
		alerts_finding_opened(a, &f, NULL, T0 + 81 * SEC);
	}
	for (int i = 0; i < 20; i++)
		assert_int_equal(alerts_verdict(a, "ai/gw", i % 2 ? "fail" : "inconclusive", NULL, NULL,
						T0 + 82 * SEC + i), 0);
	flush(a, T0 + 90 * SEC);

	/* pass resolves it */
	assert_int_equal(alerts_verdict(a, "ai/gw", "pass", NULL, NULL, T0 + 100 * SEC), 0);
	due(a, T0 + 100 * SEC, &am, &wh);
	assert_int_equal(json_object_array_length(get(wh, "alerts")), 1);
	al = json_object_array_get_idx(get(wh, "alerts"), 0);
	assert_string_equal(str(get(al, "labels"), "verdict"), "fail");
	assert_string_equal(str(al, "status"), "resolved");
	put2(am, wh);
	alerts_free(a);
}

/* A resolved finding seen again fires again with a new start; a finding
 * whose severity fell below the bar resolves. */
static void test_reopen_and_severity_drop(void **state)
{
	struct alerts *a = new_alerts();
	struct finding f = make_finding("ai/gw", 1, SEV_HIGH);
	json_object *am, *wh, *al;

	(void)state;
	alerts_finding_opened(a, &f, NULL, T0);
	flush(a, T0);
	alerts_finding_resolved(a, f.id, T0 + SEC);
	flush(a, T0 + SEC);
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0 + 2 * SEC), ALERTS_OPENED);
	due(a, T0 + 2 * SEC, &am, &wh);
	al = json_object_array_get_idx(get(wh, "alerts"), 0);
	assert_string_equal(str(al, "status"), "firing");
	assert_string_equal(str(al, "startsAt"), "2027-01-15T08:00:02.000Z");
	alerts_sent(a, true, true, T0 + 2 * SEC);
	put2(am, wh);
	f.severity = SEV_INFO;
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0 + 3 * SEC), ALERTS_IGNORED);
	due(a, T0 + 3 * SEC, &am, &wh);
	assert_string_equal(str(json_object_array_get_idx(get(wh, "alerts"), 0), "status"), "resolved");
	put2(am, wh);
	alerts_free(a);
}

/* A target that is not configured is never waited for: resolved alerts go
 * after Alertmanager's two sends alone. */
static void test_alertmanager_only(void **state)
{
	struct alerts *a = new_alerts();
	struct finding f = make_finding("ai/gw", 1, SEV_HIGH);
	json_object *am;

	(void)state;
	alerts_finding_opened(a, &f, NULL, T0);
	alerts_finding_resolved(a, f.id, T0);
	assert_int_equal(alerts_due(a, T0, &am, NULL), 0);
	assert_int_equal(json_object_array_length(am), 1);
	alerts_sent(a, true, false, T0);
	json_object_put(am);
	assert_int_equal(alerts_due(a, T0 + 60 * SEC, &am, NULL), 0);
	assert_non_null(am);
	alerts_sent(a, true, false, T0 + 60 * SEC);
	json_object_put(am);
	assert_int_equal(alerts_due(a, T0 + 120 * SEC, &am, NULL), 0);
	assert_null(am);
	alerts_free(a);
}

/* Every key of every alert is one this module writes; no value comes from
 * a finding field other than those the labels and annotations name. */
static const char *const ALLOWED[] = {
	"labels", "annotations", "startsAt", "endsAt", "generatorURL", "status", "alertname", "identity",
	"namespace", "serviceaccount", "kind", "severity", "node", "finding_id", "verdict", "summary", "edge",
	"executables", "policy", "reasons", "version", "suppressed",
};

static void check_keys(json_object *o)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			check_keys(json_object_array_get_idx(o, i));
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, k, v) {
		bool ok = false;

		for (size_t i = 0; i < sizeof(ALLOWED) / sizeof(ALLOWED[0]); i++)
			ok |= !strcmp(k, ALLOWED[i]);
		if (!ok)
			fail_msg("unexpected key %s", k);
		check_keys(v);
	}
}

static void test_only_known_fields(void **state)
{
	struct alerts *a = new_alerts();
	struct finding f = make_finding("ai/gw", 1, SEV_HIGH);
	json_object *am, *wh;
	const char *s;

	(void)state;
	/* fields the alert must not copy: times and anything past the strings */
	f.first_ms = 424242424242;
	f.last_ms = 434343434343;
	memcpy((char *)f.message + strlen(f.message) + 1, "PLANTED-after-NUL", 18); /* its slot is writable */
	alerts_finding_opened(a, &f, NULL, T0);
	alerts_verdict(a, "ai/gw", "fail", "r", "v", T0);
	due(a, T0, &am, &wh);
	check_keys(am);
	check_keys(get(wh, "alerts"));
	s = json_object_to_json_string(am);
	assert_null(strstr(s, "PLANTED"));
	assert_null(strstr(s, "424242"));
	assert_null(strstr(s, "434343"));
	put2(am, wh);
	alerts_free(a);
}

static void test_invalid(void **state)
{
	struct alerts *a = new_alerts();
	struct finding f = make_finding("ai/gw", 1, SEV_HIGH);

	(void)state;
	f.id[0] = '\0';
	assert_int_equal(alerts_finding_opened(a, &f, NULL, T0), -EINVAL);
	assert_int_equal(alerts_finding_opened(NULL, &f, NULL, T0), -EINVAL);
	assert_int_equal(alerts_finding_resolved(a, NULL, T0), -EINVAL);
	assert_int_equal(alerts_verdict(a, NULL, "fail", NULL, NULL, T0), -EINVAL);
	alerts_free(a);
	alerts_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels_and_annotations),
		cmocka_unit_test(test_host_identity),
		cmocka_unit_test(test_min_severity),
		cmocka_unit_test(test_resend_timing),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_failure_keeps_alerts_due),
		cmocka_unit_test(test_change_while_in_flight),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_rate_limit_config),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_reopen_and_severity_drop),
		cmocka_unit_test(test_alertmanager_only),
		cmocka_unit_test(test_only_known_fields),
		cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
