/* Shipped report bodies (user/ship/report.c): headers, persisted seq,
 * delta vs full reach reports, findings, verdicts and health, each decoded
 * back with protobuf-c and checked field by field. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "reach.pb-c.h"
#include "reach/coverage.h"
#include "ship/report.h"

static char dir[] = "/tmp/reach-test-report-XXXXXX";
static char seq_path[256];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(seq_path, sizeof(seq_path), "%s/report.seq", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(seq_path);
	rmdir(dir);
	return 0;
}

static void record(struct ledger *l, const char *identity, enum ledger_kind kind, const char *object, int64_t t)
{
	struct ledger_obs o;

	memset(&o, 0, sizeof(o));
	o.identity = identity;
	o.kind = kind;
	o.object = object;
	o.count_delta = 1;
	o.first_ms = o.last_ms = t;
	o.executable = "/usr/bin/python3";
	assert_int_equal(ledger_record(l, &o), 0);
}

static Reach__V1__Report *decode(uint8_t *body, size_t len)
{
	Reach__V1__Report *r = reach__v1__report__unpack(NULL, len, body);

	assert_non_null(r);
	free(body);
	return r;
}

static void assert_header(const Reach__V1__ReportHeader *h, uint64_t seq)
{
	assert_non_null(h);
	assert_string_equal(h->node, "node-a");
	assert_string_equal(h->boot_id, "boot-1");
	assert_string_equal(h->agent_version, "v-test");
	assert_int_equal(h->seq, seq);
	assert_int_equal(strlen(h->report_id), 32);
	assert_int_equal(strspn(h->report_id, "0123456789abcdef"), 32);
	assert_true(h->created_unix_ms > 1700000000000LL);
}

static void test_seq_persists_across_reopen(void **state)
{
	struct report_seq *s;
	uint64_t v = 0;
	char err[256];
	FILE *f;

	(void)state;
	unlink(seq_path);
	assert_int_equal(report_seq_open(&s, seq_path, err, sizeof(err)), 0);
	assert_int_equal(report_seq_next(s, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(report_seq_next(s, &v), 0);
	assert_int_equal(v, 2);
	report_seq_free(s);
	/* a restart continues, never reuses */
	assert_int_equal(report_seq_open(&s, seq_path, err, sizeof(err)), 0);
	assert_int_equal(report_seq_next(s, &v), 0);
	assert_int_equal(v, 3);
	report_seq_free(s);
	/* a file that is not a number is refused with the way out */
	f = fopen(seq_path, "w");
	fputs("garbage\n", f);
	fclose(f);
	assert_int_equal(report_seq_open(&s, seq_path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "remove it to restart at 1"));
	unlink(seq_path);
}

static void test_reach_full_then_delta(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct reach_delta *d = reach_delta_new();
	struct report_seq *seq;
	struct report_src src = { "node-a", "boot-1", "v-test", NULL };
	Reach__V1__Report *r;
	uint8_t *body;
	size_t len;
	uint64_t s1 = 0, s2 = 0;
	char err[256];

	(void)state;
	unlink(seq_path);
	assert_int_equal(report_seq_open(&seq, seq_path, err, sizeof(err)), 0);
	src.seq = seq;
	record(l, "ai/gw", LEDGER_SECRET, "/etc/llm/key", 1000);
	record(l, "ai/gw", LEDGER_TOOL, "/usr/bin/curl", 1000);
	record(l, "host/agent", LEDGER_TOOL, "/bin/sh", 1000);

	/* full: every edge */
	assert_int_equal(report_reach(&src, d, l, true, &body, &len, &s1), 0);
	assert_non_null(body);
	r = decode(body, len);
	assert_int_equal(r->body_case, REACH__V1__REPORT__BODY_REACH);
	assert_header(r->reach->header, 1);
	assert_int_equal(s1, 1);
	assert_true(r->reach->full_snapshot);
	assert_int_equal(r->reach->previous_seq, 0);
	assert_int_equal(r->reach->n_identities, 2);
	assert_string_equal(r->reach->identities[0]->identity, "ai/gw");
	assert_int_equal(r->reach->identities[0]->n_edges, 2);
	assert_string_equal(r->reach->identities[0]->edges[0]->object, "/etc/llm/key");
	assert_int_equal(r->reach->identities[0]->edges[0]->kind, REACH__V1__EDGE_KIND__EDGE_KIND_SECRET);
	assert_string_equal(r->reach->identities[0]->edges[0]->executables[0], "/usr/bin/python3");
	reach__v1__report__free_unpacked(r, NULL);

	/* nothing changed: no delta, no seq spent */
	assert_int_equal(report_reach(&src, d, l, false, &body, &len, NULL), 0);
	assert_null(body);
	assert_int_equal(report_seq_last(seq), 1);

	/* one edge seen again, one new: exactly those two */
	record(l, "ai/gw", LEDGER_TOOL, "/usr/bin/curl", 2000);
	record(l, "ai/gw", LEDGER_EGRESS, "tcp/10.0.0.1/443", 2000);
	assert_int_equal(report_reach(&src, d, l, false, &body, &len, &s2), 0);
	r = decode(body, len);
	assert_header(r->reach->header, 2);
	assert_false(r->reach->full_snapshot);
	assert_int_equal(r->reach->previous_seq, s1);
	assert_int_equal(r->reach->n_identities, 1);
	assert_int_equal(r->reach->identities[0]->n_edges, 2);
	assert_string_equal(r->reach->identities[0]->edges[0]->object, "/usr/bin/curl");
	assert_int_equal(r->reach->identities[0]->edges[0]->count, 2); /* whole edge, not an increment */
	assert_string_equal(r->reach->identities[0]->edges[1]->object, "tcp/10.0.0.1/443");
	reach__v1__report__free_unpacked(r, NULL);

	/* after a reset (a delta that could not be spooled) everything again */
	reach_delta_reset(d);
	assert_int_equal(report_reach(&src, d, l, false, &body, &len, NULL), 0);
	r = decode(body, len);
	assert_int_equal(r->reach->n_identities, 2);
	assert_int_equal(r->reach->previous_seq, s2);
	reach__v1__report__free_unpacked(r, NULL);

	reach_delta_free(d);
	report_seq_free(seq);
	ledger_free(l);
	unlink(seq_path);
}


/* Coverage records travel with their identities: every record in a full
 * snapshot, those of identities with a changed edge in a delta, the node's
 * in every report. */
static void test_reach_carries_coverage(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct reach_delta *d = reach_delta_new();
	struct report_seq *seq;
	struct report_src src = { "node-a", "boot-1", "v-test", NULL };
	struct coverage a = { 0 }, node = { 0 };
	Reach__V1__Report *r;
	const Reach__V1__CoverageRecord *c;
	uint8_t *body;
	size_t len;
	char err[256];

	(void)state;
	unlink(seq_path);
	assert_int_equal(report_seq_open(&seq, seq_path, err, sizeof(err)), 0);
	src.seq = seq;
	record(l, "host/a", LEDGER_SECRET, "/k/a.key", 1000);
	record(l, "host/b", LEDGER_SECRET, "/k/b.key", 1000);
	coverage_add_loss(&a, REACH_EV_FILE_OPEN, REACH_LOSS_RINGBUF_FULL, 42, 1000);
	coverage_add_road(&a, "tls-blind", "/app: Go crypto/tls", 1, 1000);
	assert_int_equal(ledger_add_coverage(l, "host/a", &a), 0);
	assert_int_equal(ledger_add_coverage(l, "host/lost-all", &a), 0); /* no edge at all */
	coverage_add_loss(&node, REACH_EV_EGRESS, REACH_LOSS_MAP_FULL, 3, 1000);
	assert_int_equal(ledger_add_node_coverage(l, &node), 0);

	assert_int_equal(report_reach(&src, d, l, true, &body, &len, NULL), 0);
	r = decode(body, len);
	assert_int_equal(r->reach->n_identities, 3);
	assert_string_equal(r->reach->identities[0]->identity, "host/a");
	assert_int_equal(r->reach->identities[0]->n_coverage, 1);
	c = r->reach->identities[0]->coverage[0];
	assert_non_null(c);
	assert_string_equal(c->epoch, "");
	assert_int_equal(c->n_losses, 1);
	assert_string_equal(c->losses[0]->kind, "file_open");
	assert_string_equal(c->losses[0]->reason, "ringbuf_full");
	assert_int_equal(c->losses[0]->count, 42);
	assert_int_equal(c->n_blind_roads, 1);
	assert_string_equal(c->blind_roads[0]->detail, "/app: Go crypto/tls");
	assert_int_equal(r->reach->identities[1]->n_coverage, 0); /* host/b saw everything */
	assert_string_equal(r->reach->identities[2]->identity, "host/lost-all");
	assert_int_equal(r->reach->identities[2]->n_coverage, 1);
	assert_non_null(r->reach->node_coverage);
	assert_string_equal(r->reach->node_coverage->losses[0]->kind, "egress");
	assert_int_equal(r->reach->node_coverage->losses[0]->count, 3);
	reach__v1__report__free_unpacked(r, NULL);

	/* a delta: host/b changed, so host/b alone (no record), the node's record */
	record(l, "host/b", LEDGER_SECRET, "/k/b.key", 2000);
	assert_int_equal(report_reach(&src, d, l, false, &body, &len, NULL), 0);
	r = decode(body, len);
	assert_int_equal(r->reach->n_identities, 1);
	assert_string_equal(r->reach->identities[0]->identity, "host/b");
	assert_int_equal(r->reach->identities[0]->n_coverage, 0);
	assert_non_null(r->reach->node_coverage);
	reach__v1__report__free_unpacked(r, NULL);
	/* host/a changed: its whole record again */
	record(l, "host/a", LEDGER_SECRET, "/k/a.key", 3000);
	assert_int_equal(report_reach(&src, d, l, false, &body, &len, NULL), 0);
	r = decode(body, len);
	assert_int_equal(r->reach->n_identities, 1);
	assert_int_equal(r->reach->identities[0]->n_coverage, 1);
	assert_int_equal(r->reach->identities[0]->coverage[0]->losses[0]->count, 42);
	reach__v1__report__free_unpacked(r, NULL);

	reach_delta_free(d);
	report_seq_free(seq);
	ledger_free(l);
	unlink(seq_path);
}

static void test_finding_and_verification(void **state)
{
	struct report_seq *seq;
	struct report_src src = { "node-a", "boot-1", "v-test", NULL };
	struct finding f = { .kind = FINDING_UNDECLARED_SECRET, .severity = SEV_HIGH, .id = "0123456789abcdef",
			     .identity = "ai/gw", .edge_kind = "secret", .object = "/var/run/secrets/token",
			     .first_ms = 1234, .executables = "", .message = "read, not declared", .policy_ref = "p.yaml:3" };
	struct rotation_item rot = { .kind = "secret-file", .what = "/var/run/secrets/token", .why = "read in 1.0" };
	struct identity_verdict v = { .identity = "ai/gw", .verdict = VERDICT_FAIL, .rotation = &rot, .n_rotation = 1 };
	struct finding low = f;
	struct finding fs[2];
	struct verify_result vr = { .findings = fs, .n_findings = 2, .verdicts = &v, .n_verdicts = 1 };
	struct epoch_record rec = { .identity = "ai/gw", .from_version = "1.0", .to_version = "1.1",
				    .state = EPOCH_DRIFTED, .verdict = VERDICT_FAIL,
				    .reasons = "1 findings of severity medium or higher; x", .drifted_ms = 777,
				    .id = 4, .follows = 2, .seq = 3, .prev_hash = "aa00", .hash = "bb11",
				    .policy_digest = "cc22" };
	Reach__V1__Report *r;
	uint8_t *body;
	size_t len;
	char err[256];

	(void)state;
	unlink(seq_path);
	assert_int_equal(report_seq_open(&seq, seq_path, err, sizeof(err)), 0);
	src.seq = seq;
	assert_int_equal(report_finding(&src, &f, true, 5555, &body, &len), 0);
	r = decode(body, len);
	assert_int_equal(r->body_case, REACH__V1__REPORT__BODY_FINDING);
	assert_header(r->finding->header, 1);
	assert_string_equal(r->finding->finding->id, "0123456789abcdef");
	assert_string_equal(r->finding->finding->kind, "undeclared-secret");
	assert_string_equal(r->finding->finding->severity, "high");
	assert_string_equal(r->finding->finding->edge_kind, "secret");
	assert_string_equal(r->finding->finding->object, "/var/run/secrets/token");
	assert_string_equal(r->finding->finding->policy, "p.yaml:3");
	assert_string_equal(r->finding->namespace_, "ai");
	assert_string_equal(r->finding->service_account, "gw");
	assert_true(r->finding->resolved);
	assert_int_equal(r->finding->resolved_unix_ms, 5555);
	assert_int_equal(r->finding->first_seen_unix_ms, 1234);
	reach__v1__report__free_unpacked(r, NULL);

	/* host identities are not split into namespace / service account */
	f.identity = "host/agent";
	assert_int_equal(report_finding(&src, &f, false, 0, &body, &len), 0);
	r = decode(body, len);
	assert_string_equal(r->finding->namespace_, "");
	assert_false(r->finding->resolved);
	reach__v1__report__free_unpacked(r, NULL);

	/* verification: only the identity's findings >= medium, the rotation list */
	low.severity = SEV_INFO;
	snprintf(low.id, sizeof(low.id), "fedcba9876543210");
	fs[0] = low;
	f.identity = "ai/gw";
	fs[1] = f;
	assert_int_equal(report_verification(&src, &rec, &vr, &body, &len), 0);
	r = decode(body, len);
	assert_int_equal(r->body_case, REACH__V1__REPORT__BODY_VERIFICATION);
	assert_header(r->verification->header, 3);
	assert_string_equal(r->verification->verdict, "drifted");
	assert_string_equal(r->verification->from_version, "1.0");
	assert_string_equal(r->verification->to_version, "1.1");
	assert_int_equal(r->verification->n_reasons, 2);
	assert_string_equal(r->verification->reasons[1], "x");
	assert_int_equal(r->verification->n_findings, 1);
	assert_string_equal(r->verification->findings[0]->id, "0123456789abcdef");
	assert_int_equal(r->verification->n_rotate, 1);
	assert_string_equal(r->verification->rotate[0]->kind, "secret-file");
	assert_string_equal(r->verification->rotate[0]->object, "/var/run/secrets/token");
	assert_int_equal(r->verification->verified_unix_ms, 777);
	assert_int_equal(r->verification->record_id, 4);
	assert_int_equal(r->verification->follows, 2);
	assert_int_equal(r->verification->seq, 3);
	assert_string_equal(r->verification->prev_hash, rec.prev_hash);
	assert_string_equal(r->verification->hash, rec.hash);
	assert_string_equal(r->verification->policy_digest, rec.policy_digest);
	reach__v1__report__free_unpacked(r, NULL);
	report_seq_free(seq);
	unlink(seq_path);
}

static void test_health(void **state)
{
	struct report_seq *seq;
	struct report_src src = { "node-a", "boot-1", "v-test", NULL };
	struct health_kv ev[] = { { "file_open", 10 }, { "exec", 3 } }, lo[] = { { "file_open", 2 } };
	struct report_health_in in = { .uptime_s = 12.5, .events_by_kind = ev, .n_events_by_kind = 2,
				       .losses_by_kind = lo, .n_losses_by_kind = 1, .identities = 4, .edges = 9,
				       .tls_blind_processes = 1, .spool_depth = 5, .reports_sent = 6,
				       .reports_failed = 7, .reports_dropped = 8, .last_ship_unix_ms = 99 };
	Reach__V1__Report *r;
	uint8_t *body;
	size_t len;
	char err[256];

	(void)state;
	unlink(seq_path);
	assert_int_equal(report_seq_open(&seq, seq_path, err, sizeof(err)), 0);
	src.seq = seq;
	assert_int_equal(report_health(&src, &in, &body, &len), 0);
	r = decode(body, len);
	assert_int_equal(r->body_case, REACH__V1__REPORT__BODY_HEALTH);
	assert_header(r->health->header, 1);
	assert_true(r->health->uptime_s == 12.5);
	assert_int_equal(r->health->n_events_by_kind, 2);
	assert_string_equal(r->health->events_by_kind[1]->key, "exec");
	assert_int_equal(r->health->events_by_kind[1]->value, 3);
	assert_int_equal(r->health->n_losses_by_kind, 1);
	assert_string_equal(r->health->losses_by_kind[0]->key, "file_open");
	assert_int_equal(r->health->losses_by_kind[0]->value, 2);
	assert_int_equal(r->health->identities, 4);
	assert_int_equal(r->health->edges, 9);
	assert_int_equal(r->health->tls_blind_processes, 1);
	assert_int_equal(r->health->spool_depth, 5);
	assert_int_equal(r->health->reports_sent, 6);
	assert_int_equal(r->health->reports_failed, 7);
	assert_int_equal(r->health->reports_dropped, 8);
	assert_int_equal(r->health->last_ship_unix_ms, 99);
	reach__v1__report__free_unpacked(r, NULL);
	report_seq_free(seq);
	unlink(seq_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_persists_across_reopen),
		cmocka_unit_test(test_reach_full_then_delta),
		cmocka_unit_test(test_reach_carries_coverage),
		cmocka_unit_test(test_finding_and_verification),
		cmocka_unit_test(test_health),
	};

	return cmocka_run_group_tests_name("report", tests, setup, teardown);
}
