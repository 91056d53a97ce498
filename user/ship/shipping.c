/* The agent's outputs: see shipping.h. Each output (a collector, OTLP,
 * alerts) is a module behind ship/output.h; this file starts them, turns
 * verifications into opened and resolved findings, hands every event to
 * every output, and serves /metrics, /healthz, /readyz and /v1/ledger. */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/fileio.h"
#include "common/hmap.h"
#include "common/https_client.h"
#include "common/json.h"
#include "common/log.h"
#include "reach/coverage.h"
#include "reach/ledger_store.h"
#include "ship/http_server.h"
#include "ship/output.h"
#include "ship/prom_text.h"
#include "ship/report.h"
#include "ship/shipping.h"

/* The outputs, in the order they receive events. Adding one: its file and a line here. */
static const struct ship_output_ops *const builtin_outputs[] = {
	&ship_out_collector,
	&ship_out_otlp,
	&ship_out_alerts,
	NULL,
};

#define MAX_OUTPUTS 8

struct output {
	const struct ship_output_ops *ops;
	void *state;
};

struct shipping {
	char node[256], boot_id[64], version[64];
	struct output out[MAX_OUTPUTS];
	size_t n_out;
	bool want_counters;
	struct agent_counters counters;
	struct hmap *open_findings; /* finding id -> struct finding * */
	struct http_server *http;
	bool serve_ledger;
};

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void deliver_all(struct shipping *s, const struct ship_event *ev)
{
	for (size_t i = 0; i < s->n_out; i++)
		s->out[i].ops->deliver(s->out[i].state, ev);
}

static void flush_all(struct shipping *s)
{
	for (size_t i = 0; i < s->n_out; i++)
		if (s->out[i].ops->flush)
			s->out[i].ops->flush(s->out[i].state);
}

/* ---- start / stop ---------------------------------------------------------------- */

/* Every /v1/ endpoint (the ledger names secret paths and credential
 * fingerprints) needs the API token on every address, loopback included:
 * any local user can reach 127.0.0.1. Without --api-token-file the agent
 * creates <state dir>/api-token (0600: root reads it, so does reachctl run
 * as root). /metrics, /healthz and /readyz stay open. */
static int start_http(struct shipping *s, const struct shipping_opts *o, char *err, size_t err_size)
{
	char made[4096];
	const char *token_file = o->api_token_file;
	char *token = NULL;
	int rc;

	if (!o->metrics_addr)
		return 0;
	if (!token_file) {
		if (!o->state_dir || (size_t)snprintf(made, sizeof(made), "%s/api-token", o->state_dir) >= sizeof(made)) {
			format_error(err, err_size, "--metrics-addr without --api-token-file needs a state dir for the token");
			return -EINVAL;
		}
		if ((rc = http_token_create(made, err, err_size)))
			return rc;
		token_file = made;
	}
	/* a missing or empty token file fails start-up, not every request */
	if ((rc = http_token_load(token_file, HTTP_SERVER_MAX_TOKEN, &token, err, err_size)))
		return rc;
	http_token_free(token);
	if ((rc = http_server_start(&s->http, o->metrics_addr, err, err_size)))
		return rc;
	if ((rc = http_server_require_token(s->http, "/v1", token_file))) {
		format_error(err, err_size, "api token %s: %s", token_file, strerror(-rc));
		return rc;
	}
	s->serve_ledger = true;
	http_server_set_stall_timeout(s->http, (int64_t)(o->healthz_stall_s * 1000));
	log_info("metrics: /metrics, /healthz, /readyz and /v1/ledger (token %s) on %s", token_file, o->metrics_addr);
	return 0;
}

int shipping_start(struct shipping **out, const struct shipping_opts *o, char *err, size_t err_size)
{
	const struct ship_output_ops *const *ops = o->outputs ? o->outputs : builtin_outputs;
	struct shipping *s = calloc(1, sizeof(*s));
	char spool_root[4096];
	struct ship_env env;
	int rc = -ENOMEM;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	snprintf(s->node, sizeof(s->node), "%s", o->node ? o->node : "");
	snprintf(s->version, sizeof(s->version), "%s", o->version ? o->version : "");
	report_boot_id(s->boot_id, sizeof(s->boot_id));
	if (!(s->open_findings = hmap_new()))
		goto fail;
	if (o->spool_dir && !*o->spool_dir) {
		format_error(err, err_size, "--spool-dir: an empty path");
		rc = -EINVAL;
		goto fail;
	}
	snprintf(spool_root, sizeof(spool_root), "%s", o->spool_dir ? o->spool_dir : "");
	if (!o->spool_dir)
		snprintf(spool_root, sizeof(spool_root), "%s/spool", o->state_dir);
	env = (struct ship_env){ .node = s->node, .version = s->version, .boot_id = s->boot_id, .spool_root = spool_root };
	for (; *ops; ops++) {
		void *state = NULL;

		if (s->n_out == MAX_OUTPUTS) {
			format_error(err, err_size, "more than %d outputs", MAX_OUTPUTS);
			rc = -E2BIG;
			goto fail;
		}
		if ((rc = (*ops)->init(&state, o, &env, err, err_size)))
			goto fail;
		if (!state)
			continue; /* not configured */
		s->out[s->n_out++] = (struct output){ *ops, state };
		s->want_counters |= (*ops)->wants_counters;
	}
	if ((rc = start_http(s, o, err, err_size)))
		goto fail;
	if (!s->n_out)
		log_info("nothing is shipped: no collector, OTLP or alert target configured (the ledger and reachctl work locally)");
	*out = s;
	return 0;
fail:
	shipping_stop(s, NULL);
	return rc;
}

void shipping_stop(struct shipping *s, const struct ledger *l)
{
	if (!s)
		return;
	if (l)
		deliver_all(s, &(struct ship_event){ .type = SHIP_FINAL, .mono_s = mono_s(), .unix_ms = unix_now_ms(),
						     .ledger = l });
	http_server_stop(s->http);
	for (size_t i = 0; i < s->n_out; i++)
		s->out[i].ops->destroy(s->out[i].state);
	hmap_free(s->open_findings, free);
	free(s);
}

void shipping_set_ready(struct shipping *s, bool ready)
{
	if (s && s->http)
		http_server_set_ready(s->http, ready);
}

/* ---- metrics ------------------------------------------------------------------------- */

/* One family: its HELP and TYPE, then all its samples (the text format
 * wants a family's samples together, right after its TYPE line). */
#define FAMILY(b, name, type, help) prom_family(b, name, type, help)

struct sink_row {
	const char *name;
	struct sink_stats st;
};

static void sink_family_u64(struct prom_buf *b, const char *metric, const char *type, const char *help,
			    const struct sink_row *rows, size_t n, size_t offset)
{
	FAMILY(b, metric, type, help);
	for (size_t i = 0; i < n; i++)
		prom_sample_u64(b, metric, *(const uint64_t *)((const char *)&rows[i].st + offset), 1, "sink",
				rows[i].name);
}

static void sink_metrics(struct prom_buf *b, struct shipping *s)
{
	struct sink_row rows[MAX_OUTPUTS];
	size_t n = 0;

	/* one row per spooled output; lost counts what the spool lost and
	 * what never reached it */
	for (size_t i = 0; i < s->n_out; i++)
		if (s->out[i].ops->sink_stats && s->out[i].ops->sink_stats(s->out[i].state, &rows[n].st))
			rows[n++].name = s->out[i].ops->name;
	if (!n)
		return;
	sink_family_u64(b, "reach_reports_sent_total", "counter", "Reports delivered (2xx), by sink.", rows, n,
			offsetof(struct sink_stats, sent));
	sink_family_u64(b, "reach_reports_failed_total", "counter", "Delivery attempts without a 2xx (retried), by sink.",
			rows, n, offsetof(struct sink_stats, failed_attempts));
	sink_family_u64(b, "reach_reports_rejected_total", "counter",
			"Reports the receiver refused for good (4xx), by sink.", rows, n,
			offsetof(struct sink_stats, rejected));
	sink_family_u64(b, "reach_reports_dropped_total", "counter",
			"Reports lost: dropped from a full spool, not written to it, corrupt in it, or not built, by sink.",
			rows, n, offsetof(struct sink_stats, lost));
	sink_family_u64(b, "reach_spool_records", "gauge", "Reports waiting in the spool, by sink.", rows, n,
			offsetof(struct sink_stats, spool_records));
	sink_family_u64(b, "reach_spool_bytes", "gauge", "Bytes waiting in the spool, by sink.", rows, n,
			offsetof(struct sink_stats, spool_bytes));
	FAMILY(b, "reach_last_ship_timestamp_seconds", "gauge", "Unix time of the latest delivery (0: none), by sink.");
	for (size_t i = 0; i < n; i++)
		prom_sample(b, "reach_last_ship_timestamp_seconds", (double)rows[i].st.last_success_unix_ms / 1000.0, 1,
			    "sink", rows[i].name);
}

static void gauge(struct prom_buf *b, const char *name, const char *help, uint64_t v)
{
	FAMILY(b, name, "gauge", help);
	prom_sample_u64(b, name, v, 0);
}

static void agent_metrics(struct prom_buf *b, struct shipping *s)
{
	const struct agent_counters *c = &s->counters;

	FAMILY(b, "reach_agent_info", "gauge", "The agent's version and node (value 1).");
	prom_sample_u64(b, "reach_agent_info", 1, 2, "version", s->version, "node", s->node);
	FAMILY(b, "reach_uptime_seconds", "gauge", "Seconds since the agent started.");
	prom_sample(b, "reach_uptime_seconds", c->uptime_s, 0);
	FAMILY(b, "reach_events_total", "counter", "Kernel events handled, by kind.");
	for (size_t k = 0; k < c->n_kinds; k++)
		prom_sample_u64(b, "reach_events_total", c->events[k], 1, "kind", c->event_kind[k]);
	FAMILY(b, "reach_events_lost_total", "counter",
	       "Events or counts lost in the kernel (ring buffer full, map full, read failed, truncated), by kind and reason.");
	for (size_t k = 0; k < c->n_kinds; k++)
		for (size_t r = 0; r < c->n_reasons; r++)
			prom_sample_u64(b, "reach_events_lost_total", c->losses[k][r], 2, "kind", c->event_kind[k], "reason",
					c->loss_reason[r]);
	FAMILY(b, "reach_malformed_total", "counter", "Captured payloads that did not parse (counted, skipped), by protocol.");
	prom_sample_u64(b, "reach_malformed_total", c->parse_malformed_http, 1, "protocol", "http");
	prom_sample_u64(b, "reach_malformed_total", c->parse_malformed_dns, 1, "protocol", "dns");
	FAMILY(b, "reach_edges_dropped_total", "counter", "New edges refused at the agent's or the ledger's caps.");
	prom_sample_u64(b, "reach_edges_dropped_total", c->edges_dropped, 0);
	FAMILY(b, "reach_artifact_hashes_skipped_total", "counter",
	       "Files of host epochs that could not be hashed: their attestations name the version only.");
	prom_sample_u64(b, "reach_artifact_hashes_skipped_total", c->artifact_hashes_skipped, 0);
	FAMILY(b, "reach_observed_edges", "gauge", "Edges in the agent's memory besides the ledger (its working set).");
	prom_sample_u64(b, "reach_observed_edges", c->observed_edges, 0);
	FAMILY(b, "reach_observed_edges_evicted_total", "counter",
	       "Edges moved out of the working set to the ledger alone (not a loss).");
	prom_sample_u64(b, "reach_observed_edges_evicted_total", c->observed_edges_evicted, 0);
	FAMILY(b, "reach_uprobe_attach_total", "counter", "TLS library uprobe attach attempts since start, by result.");
	prom_sample_u64(b, "reach_uprobe_attach_total", c->uprobes_attached, 1, "result", "attached");
	prom_sample_u64(b, "reach_uprobe_attach_total", c->uprobe_attach_failures, 1, "result", "failed");
	FAMILY(b, "reach_kernel_filter_opens_total", "counter",
	       "First-seen file opens the kernel's catalogue pre-filter judged, by result: filtered (certainly no "
	       "secret: no event) or sent (could be one: an event).");
	prom_sample_u64(b, "reach_kernel_filter_opens_total", c->opens_filtered_in_kernel, 1, "result", "filtered");
	prom_sample_u64(b, "reach_kernel_filter_opens_total", c->opens_sent_by_filter, 1, "result", "sent");
	gauge(b, "reach_tls_blind_processes", "Processes whose TLS traffic the sensor cannot see.", c->tls_blind_processes);
	gauge(b, "reach_hooks_missing", "1 when a hook is missing: the picture is incomplete.", c->hooks_missing);
	gauge(b, "reach_identities", "Identities in the reach ledger.", c->identities);
	gauge(b, "reach_edges", "Edges in the reach ledger.", c->edges);
	FAMILY(b, "reach_verification_verdicts", "gauge", "Identities by the verdict of their latest epoch verification.");
	prom_sample_u64(b, "reach_verification_verdicts", c->verdicts_pass, 1, "verdict", "pass");
	prom_sample_u64(b, "reach_verification_verdicts", c->verdicts_fail, 1, "verdict", "fail");
	prom_sample_u64(b, "reach_verification_verdicts", c->verdicts_inconclusive, 1, "verdict", "inconclusive");
	prom_sample_u64(b, "reach_verification_verdicts", c->verdicts_drifted, 1, "verdict", "drifted");
	gauge(b, "reach_policies_loaded", "Declared policies applied now (files and ReachPolicy objects).",
	      c->policies_loaded);
	FAMILY(b, "reach_policy_load_errors_total", "counter",
	       "Policy loads refused (the last good policies kept): a policy file reload, or a ReachPolicy object version.");
	prom_sample_u64(b, "reach_policy_load_errors_total", c->policy_load_errors_files, 1, "source", "files");
	prom_sample_u64(b, "reach_policy_load_errors_total", c->policy_load_errors_reachpolicy, 1, "source",
			"reachpolicy");
	FAMILY(b, "reach_policy_last_load_success_timestamp_seconds", "gauge",
	       "When the policies last loaded with no error (Unix seconds; 0: not yet).");
	prom_sample(b, "reach_policy_last_load_success_timestamp_seconds", c->policy_last_load_s, 0);
	FAMILY(b, "reach_findings_open", "gauge",
	       "Open findings of the latest verification, by identity, finding kind and severity.");
	for (size_t i = 0; i < c->n_findings_open; i++)
		prom_sample_u64(b, "reach_findings_open", c->findings_open[i].n, 3, "identity",
				c->findings_open[i].identity, "kind", c->findings_open[i].kind, "severity",
				c->findings_open[i].severity);
	if (c->reachpolicies) {
		FAMILY(b, "reach_reachpolicy_objects", "gauge",
		       "ReachPolicy objects by state: applied, or refused (invalid, another namespace, a conflict).");
		prom_sample_u64(b, "reach_reachpolicy_objects", c->reachpolicies_applied, 1, "state", "applied");
		prom_sample_u64(b, "reach_reachpolicy_objects", c->reachpolicies_refused, 1, "state", "refused");
	}
	if (c->kube_writes) {
		FAMILY(b, "reach_kube_writes_total", "counter",
		       "Writes to the Kubernetes API (Events, PolicyReports) by result: sent, failed (a final error, "
		       "e.g. 404 when the PolicyReport CRD is not installed), retried, dropped (queue full).");
		prom_sample_u64(b, "reach_kube_writes_total", c->kube_writes_sent, 1, "result", "sent");
		prom_sample_u64(b, "reach_kube_writes_total", c->kube_writes_failed, 1, "result", "failed");
		prom_sample_u64(b, "reach_kube_writes_total", c->kube_writes_retried, 1, "result", "retried");
		prom_sample_u64(b, "reach_kube_writes_total", c->kube_writes_dropped, 1, "result", "dropped");
	}
	if (c->policy_reports_on)
		gauge(b, "reach_policy_reports", "PolicyReports this agent keeps (one per service account on the node).",
		      c->policy_reports);
}

/* Coverage per identity (reach/coverage.h): series only for identities
 * that ever missed something, so a clean node adds none. */
static void coverage_metrics(struct prom_buf *b, const struct ledger *l)
{
	const struct coverage *node = ledger_node_coverage(l);

	FAMILY(b, "reach_identity_coverage_gaps", "gauge",
	       "1 when the identity's coverage record has gaps (its verdict is inconclusive), by identity.");
	for (size_t i = 0; i < ledger_identities(l); i++) {
		const struct ledger_identity *id = ledger_identity_at(l, i);

		if (id->coverage)
			prom_sample_u64(b, "reach_identity_coverage_gaps", coverage_has_gaps(id->coverage), 1, "identity",
					id->name);
	}
	FAMILY(b, "reach_identity_losses_total", "counter",
	       "Kernel losses attributed to the identity (through its cgroups), by identity, kind and reason.");
	for (size_t i = 0; i < ledger_identities(l); i++) {
		const struct ledger_identity *id = ledger_identity_at(l, i);

		for (int k = 0; id->coverage && k < REACH_EV__MAX; k++)
			for (int r = 0; r < REACH_LOSS__MAX; r++)
				if (id->coverage->losses[k][r])
					prom_sample_u64(b, "reach_identity_losses_total", id->coverage->losses[k][r], 3,
							"identity", id->name, "kind", coverage_kind_name(k), "reason",
							coverage_reason_name(r));
	}
	FAMILY(b, "reach_identity_blind_roads", "gauge",
	       "Blind roads (tls-blind, ...) the identity took, by identity and road.");
	for (size_t i = 0; i < ledger_identities(l); i++) {
		const struct ledger_identity *id = ledger_identity_at(l, i);
		const struct coverage *c = id->coverage;

		for (size_t j = 0; c && j < c->n_roads; j++) {
			uint64_t n = 0;

			if (j && !strcmp(c->roads[j - 1].road, c->roads[j].road))
				continue; /* sorted: one sample per road */
			for (size_t k = j; k < c->n_roads && !strcmp(c->roads[k].road, c->roads[j].road); k++)
				n += c->roads[k].count;
			prom_sample_u64(b, "reach_identity_blind_roads", n, 2, "identity", id->name, "road", c->roads[j].road);
		}
	}
	FAMILY(b, "reach_unattributed_losses_total", "counter",
	       "Kernel losses no identity could be named for (per-cgroup loss map full, a failed walk of held files): "
	       "every verdict is inconclusive.");
	prom_sample_u64(b, "reach_unattributed_losses_total", node ? coverage_losses(node) : 0, 0);
}

static void render_metrics(struct shipping *s, const struct ledger *l)
{
	struct prom_buf b = { 0 };

	agent_metrics(&b, s);
	if (l)
		coverage_metrics(&b, l);
	sink_metrics(&b, s);
	for (size_t i = 0; i < s->n_out; i++)
		if (s->out[i].ops->metrics)
			s->out[i].ops->metrics(s->out[i].state, &b);
	if (prom_error(&b))
		log_warn("metrics: rendering failed: %s", strerror(-prom_error(&b)));
	else
		http_server_publish(s->http, "/metrics", "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	prom_buf_free(&b);
}

bool shipping_wants_counters(const struct shipping *s)
{
	return s && (s->want_counters || s->http);
}

void shipping_tick(struct shipping *s, const struct agent_counters *c, const struct ledger *l)
{
	if (!s)
		return;
	s->counters = *c;
	deliver_all(s, &(struct ship_event){ .type = SHIP_TICK, .mono_s = mono_s(), .unix_ms = unix_now_ms(),
					     .counters = &s->counters, .ledger = l });
	if (s->http)
		render_metrics(s, l);
}

void shipping_drained(struct shipping *s, int64_t mono_ms)
{
	if (s)
		http_server_heartbeat(s->http, mono_ms);
}

bool shipping_serves_ledger(const struct shipping *s)
{
	return s && s->http && s->serve_ledger;
}

void shipping_publish_ledger_image(struct shipping *s, const uint8_t *image, size_t len)
{
	if (shipping_serves_ledger(s))
		http_server_publish(s->http, "/v1/ledger", "application/octet-stream", image, len);
}

void shipping_publish_records(struct shipping *s, const char *json_text, size_t len)
{
	if (shipping_serves_ledger(s))
		http_server_publish(s->http, "/v1/records", "application/json", json_text, len);
}

void shipping_publish_ledger(struct shipping *s, const struct ledger *l)
{
	uint8_t *image = NULL;
	size_t len = 0;
	char err[256];

	if (!s || !s->http || !s->serve_ledger)
		return;
	if (ledger_encode_image(l, s->node, &image, &len, err, sizeof(err))) {
		log_warn("/v1/ledger: %s", err);
		return;
	}
	http_server_publish(s->http, "/v1/ledger", "application/octet-stream", image, len);
	free(image);
}

/* ---- findings and verdicts -------------------------------------------------------------- */

static void ship_finding(struct shipping *s, const struct finding *f, bool resolved, int64_t now)
{
	deliver_all(s, &(struct ship_event){ .type = SHIP_FINDING, .mono_s = mono_s(), .unix_ms = now, .finding = f,
					     .resolved = resolved });
}

void shipping_findings(struct shipping *s, const struct verify_result *r)
{
	struct finding **gone = NULL;
	struct hmap *seen = NULL;
	struct hmap_iter it;
	const char *id;
	void *v;
	size_t n_gone = 0, n_open;
	int64_t now = unix_now_ms();

	if (!s || !s->n_out)
		return;
	n_open = hmap_count(s->open_findings);
	seen = hmap_new();
	gone = calloc(n_open + 1, sizeof(*gone));
	if (!seen || !gone)
		goto oom;
	for (size_t i = 0; i < r->n_findings; i++)
		if (hmap_put(seen, r->findings[i].id, (void *)&r->findings[i], NULL))
			goto oom; /* an incomplete set would resolve open findings wrongly */
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct finding *f = &r->findings[i];
		struct finding *copy;

		if (hmap_get(s->open_findings, f->id) || !(copy = finding_dup(f)))
			continue; /* known, or no memory: then new again at the next verification */
		ship_finding(s, f, false, now);
		if (hmap_put(s->open_findings, f->id, copy, NULL))
			free(copy); /* shipped; found new again next time: a duplicate, not a loss */
	}
	/* open findings the latest verification no longer has: resolved */
	hmap_iter_init(&it, s->open_findings);
	while (hmap_iter_next(&it, &id, &v))
		if (!hmap_get(seen, id))
			gone[n_gone++] = v;
	for (size_t i = 0; i < n_gone; i++) {
		ship_finding(s, gone[i], true, now);
		free(hmap_remove(s->open_findings, gone[i]->id));
	}
	flush_all(s);
	goto out;
oom:
	log_warn("findings not shipped after this verification: out of memory (the next one tries again)");
out:
	hmap_free(seen, NULL);
	free(gone);
}

void shipping_epoch(struct shipping *s, const struct epoch_record *rec, const struct verify_result *r)
{
	if (!s || rec->state == EPOCH_SETTLING)
		return;
	/* a superseded record closes unverified: the verification at hand is
	 * the newer epoch's, none of its findings are this one's */
	deliver_all(s, &(struct ship_event){ .type = SHIP_VERDICT, .mono_s = mono_s(), .unix_ms = unix_now_ms(),
					     .epoch = rec, .result = rec->state == EPOCH_SUPERSEDED ? NULL : r });
	flush_all(s);
}

/* ---- status ------------------------------------------------------------------------------ */

json_object *shipping_status_json(struct shipping *s)
{
	json_object *o = json_object_new_object();

	if (!s || !o)
		return o;
	for (size_t i = 0; i < s->n_out; i++)
		if (s->out[i].ops->status)
			json_add(o, s->out[i].ops->name, s->out[i].ops->status(s->out[i].state));
	return o;
}
