/* The agent's outputs: see shipping.h. */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include "common/json.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "ship/shipping.h"
#include "common/fileio.h"
#include "common/hmap.h"
#include "common/log.h"
#include "reach/ledger_store.h"
#include "ship/alerts.h"
#include "common/https_client.h"
#include "ship/http_server.h"
#include "ship/otlp.h"
#include "ship/prom_text.h"
#include "ship/report.h"
#include "ship/sink.h"

#define DEFAULT_SPOOL_MAX_BYTES (256ULL << 20)
#define DEFAULT_SPOOL_MAX_RECORDS 100000
#define DEFAULT_REPORT_INTERVAL_S 30.0
#define DEFAULT_SNAPSHOT_INTERVAL_S 600.0
#define HEALTH_INTERVAL_S 60.0
#define ALERT_POLL_MS 1000
#define MAX_ALERT_TARGETS 16

struct alert_target {
	char url[2048];
	bool failing; /* for logging state changes only */
};

struct shipping {
	char node[256], boot_id[64], version[64];
	struct report_seq *seq;
	struct report_src src;
	struct sink *collector, *otlp;
	struct otlp_resource otlp_res;
	struct reach_delta *delta;
	double report_interval_s, snapshot_interval_s;
	double last_report_s, last_snapshot_s, last_health_s;
	bool snapshot_sent;
	struct agent_counters counters;
	struct hmap *open_findings; /* finding id -> struct finding * */

	/* alerts: state under lock, posted by alert_thread */
	struct alerts *alerts;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t alert_thread;
	bool alert_thread_started;
	atomic_int stopping;
	struct alert_target am[MAX_ALERT_TARGETS];
	int n_am;
	struct alert_target webhook;
	bool has_webhook;
	const char *alert_token_file, *alert_ca;

	struct http_server *http;
	bool serve_ledger;
	uint64_t unencoded[2];   /* reports lost before the spool: [0] collector, [1] otlp (ship_body) */
	bool encode_failing;
};

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- sinks ------------------------------------------------------------------ */

static int start_sink(struct sink **out, const char *name, const char *url, const char *token_file, const char *ca,
		      const char *spool_root, const char *sub, uint64_t max_bytes, double backoff_max_s, char *err,
		      size_t err_size)
{
	char dir[4200], what[256];
	struct sink_opts so = {
		.name = name,
		.target = { .url = url, .token_file = token_file, .ca_file = ca, .timeout_ms = 10000 },
		.content_type = "application/x-protobuf",
		.gzip = true,
		.spool_dir = dir,
		.limits = { .max_bytes = max_bytes, .max_records = DEFAULT_SPOOL_MAX_RECORDS },
		.backoff_max_s = backoff_max_s,
	};
	int rc;

	snprintf(dir, sizeof(dir), "%s/%s", spool_root, sub); /* spool_open creates it, parents too */
	if ((rc = sink_new(out, &so, err, err_size)))
		return rc;
	http_target_describe(&so.target, what, sizeof(what));
	log_info("%s: shipping to %s, spooled in %s", name, what, dir);
	return 0;
}

/* An encoder's result to its sink: every report either reaches the spool
 * (whose own failures the spool counts and logs) or is counted here as
 * lost before it (the seq file not written, no memory), with one log line
 * per failure streak. 0 when spooled or when there was nothing to send. */
static int ship_body(struct shipping *s, struct sink *k, const char *what, int rc, void *body, size_t len)
{
	if (rc) {
		s->unencoded[k == s->otlp]++;
		if (!s->encode_failing)
			log_error("%s report not built: %s (counted as dropped; the agent keeps running)", what,
				  strerror(-rc));
		s->encode_failing = true;
		return rc;
	}
	s->encode_failing = false;
	if (!body)
		return 0;
	rc = sink_submit(k, body, len);
	free(body);
	return rc;
}

/* ---- alerts ------------------------------------------------------------------ */

static bool post_json(struct shipping *s, struct alert_target *t, json_object *body)
{
	const char *text = json_text(body, JSON_C_TO_STRING_PLAIN);
	struct http_target ht = { .url = t->url, .token_file = s->alert_token_file, .ca_file = s->alert_ca,
				  .timeout_ms = 10000, .cancel = &s->stopping };
	struct http_result res;
	char what[256];
	bool ok;

	ok = http_post(&ht, "application/json", text, strlen(text), false, &res) == 0 && res.status >= 200 &&
	     res.status < 300;
	http_target_describe(&ht, what, sizeof(what));
	if (!ok && !t->failing)
		log_warn("alerts: %s: %s (retried every second; alerts stay due)", what,
			 res.status ? "HTTP error" : res.error);
	else if (ok && t->failing)
		log_info("alerts: %s: delivering again", what);
	if (!ok && res.status && !t->failing)
		log_warn("alerts: %s answered %ld", what, res.status);
	t->failing = !ok;
	return ok;
}

static void *alert_loop(void *arg)
{
	struct shipping *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!atomic_load(&s->stopping)) {
		struct timespec until;
		json_object *am = NULL, *wh = NULL;
		bool am_ok = true, wh_ok = true;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += ALERT_POLL_MS / 1000;
		pthread_cond_timedwait(&s->wake, &s->lock, &until);
		if (atomic_load(&s->stopping))
			break;
		if (alerts_due(s->alerts, unix_now_ms(), s->n_am ? &am : NULL, s->has_webhook ? &wh : NULL) || (!am && !wh))
			continue;
		pthread_mutex_unlock(&s->lock); /* the network without the lock */
		for (int i = 0; am && i < s->n_am; i++)
			if (!post_json(s, &s->am[i], am))
				am_ok = false;
		if (wh)
			wh_ok = post_json(s, &s->webhook, wh);
		json_object_put(am);
		json_object_put(wh);
		pthread_mutex_lock(&s->lock);
		alerts_sent(s->alerts, am_ok, wh_ok, unix_now_ms());
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int start_alerts(struct shipping *s, const struct shipping_opts *o, char *err, size_t err_size)
{
	struct alerts_config cfg;
	int rc;

	if (!o->n_alertmanagers && !o->webhook)
		return 0;
	if (o->n_alertmanagers > MAX_ALERT_TARGETS) {
		format_error(err, err_size, "at most %d Alertmanagers", MAX_ALERT_TARGETS);
		return -EINVAL;
	}
	for (int i = 0; i < o->n_alertmanagers; i++) {
		struct http_target t = { .url = s->am[i].url, .token_file = o->alert_token_file, .ca_file = o->alert_ca };
		const char *base = o->alertmanagers[i];
		size_t n = strlen(base);

		/* the base URL, as Alertmanager's own flags take it */
		snprintf(s->am[i].url, sizeof(s->am[i].url), "%.*s/api/v2/alerts", (int)(n && base[n - 1] == '/' ? n - 1 : n),
			 base);
		if ((rc = http_target_check(&t, err, err_size)))
			return rc;
	}
	s->n_am = o->n_alertmanagers;
	if (o->webhook) {
		struct http_target t = { .url = o->webhook, .token_file = o->alert_token_file, .ca_file = o->alert_ca };

		snprintf(s->webhook.url, sizeof(s->webhook.url), "%s", o->webhook);
		if ((rc = http_target_check(&t, err, err_size)))
			return rc;
		s->has_webhook = true;
	}
	s->alert_token_file = o->alert_token_file;
	s->alert_ca = o->alert_ca;
	alerts_config_default(&cfg);
	if (o->alert_min_severity) /* the config loader accepted it: a known name */
		cfg.min_severity = (enum severity)severity_from_name(o->alert_min_severity);
	if (!(s->alerts = alerts_new(&cfg, s->node)))
		return -ENOMEM;
	if ((rc = pthread_create(&s->alert_thread, NULL, alert_loop, s))) {
		format_error(err, err_size, "alerts thread: %s", strerror(rc));
		return -rc;
	}
	s->alert_thread_started = true;
	log_info("alerts: %d Alertmanager%s%s, findings of severity %s and up", s->n_am, s->n_am == 1 ? "" : "s",
		 s->has_webhook ? " and a webhook" : "", severity_name(cfg.min_severity));
	return 0;
}

/* ---- start / stop ---------------------------------------------------------------- */

static bool is_loopback_addr(const char *addr)
{
	return !strncmp(addr, "127.", 4) || !strncmp(addr, "localhost:", 10) || !strncmp(addr, "[::1]:", 6);
}

static int start_http(struct shipping *s, const struct shipping_opts *o, char *err, size_t err_size)
{
	int rc;

	if (!o->metrics_addr)
		return 0;
	if ((rc = http_server_start(&s->http, o->metrics_addr, err, err_size)))
		return rc;
	if (o->api_token_file) {
		char *token = NULL;

		/* a missing or empty token file fails start-up, not every request */
		if ((rc = http_token_load(o->api_token_file, HTTP_SERVER_MAX_TOKEN, &token, err, err_size)))
			return rc;
		http_token_free(token);
		if ((rc = http_server_require_token(s->http, "/v1", o->api_token_file))) {
			format_error(err, err_size, "--api-token-file: %s", strerror(-rc));
			return rc;
		}
		s->serve_ledger = true;
	} else {
		/* the ledger names secret paths and credential fingerprints: off
		 * the node only behind a token */
		s->serve_ledger = is_loopback_addr(o->metrics_addr);
		if (!s->serve_ledger)
			log_warn("metrics: /v1/ledger is not served on %s without --api-token-file", o->metrics_addr);
	}
	log_info("metrics: /metrics, /healthz, /readyz%s on %s", s->serve_ledger ? ", /v1/ledger" : "", o->metrics_addr);
	return 0;
}

int shipping_start(struct shipping **out, const struct shipping_opts *o, char *err, size_t err_size)
{
	struct shipping *s = calloc(1, sizeof(*s));
	char spool_root[4096], seq_path[4200];
	int rc = -ENOMEM;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	snprintf(s->node, sizeof(s->node), "%s", o->node ? o->node : "");
	snprintf(s->version, sizeof(s->version), "%s", o->version ? o->version : "");
	report_boot_id(s->boot_id, sizeof(s->boot_id));
	s->report_interval_s = o->report_interval_s > 0 ? o->report_interval_s : DEFAULT_REPORT_INTERVAL_S;
	s->snapshot_interval_s = o->snapshot_interval_s > 0 ? o->snapshot_interval_s : DEFAULT_SNAPSHOT_INTERVAL_S;
	s->otlp_res = (struct otlp_resource){ .host_name = s->node, .service_version = s->version,
					      .k8s_node_name = getenv("NODE_NAME") ? s->node : NULL };
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
	if (o->ship_url || o->otlp_url) {
		snprintf(seq_path, sizeof(seq_path), "%s/report.seq", o->state_dir);
		if ((rc = report_seq_open(&s->seq, seq_path, err, err_size)))
			goto fail;
		s->src = (struct report_src){ s->node, s->boot_id, s->version, s->seq };
	}
	if (o->ship_url) {
		uint64_t max = o->spool_max_bytes ? o->spool_max_bytes : DEFAULT_SPOOL_MAX_BYTES;

		if ((rc = start_sink(&s->collector, "collector", o->ship_url, o->ship_token_file, o->ship_ca, spool_root,
				     "collector", max, o->backoff_max_s, err, err_size)))
			goto fail;
		if (!(s->delta = reach_delta_new())) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	if (o->otlp_url && (rc = start_sink(&s->otlp, "otlp", o->otlp_url, NULL, o->ship_ca, spool_root, "otlp",
					    DEFAULT_SPOOL_MAX_BYTES / 4, o->backoff_max_s, err, err_size)))
		goto fail;
	if ((rc = start_alerts(s, o, err, err_size)))
		goto fail;
	if ((rc = start_http(s, o, err, err_size)))
		goto fail;
	if (!s->collector && !s->otlp && !s->alerts)
		log_info("nothing is shipped: no collector, OTLP or alert target configured (the ledger and reachctl work locally)");
	s->last_report_s = mono_s();
	s->last_health_s = s->last_report_s - HEALTH_INTERVAL_S; /* one at start, then every interval */
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
	if (s->collector && l) {
		uint8_t *body = NULL;
		size_t len;

		/* what changed since the last report: spooled, so not lost */
		int rc = report_reach(&s->src, s->delta, l, false, &body, &len, NULL);

		ship_body(s, s->collector, "reach", rc, body, len);
	}
	if (s->alert_thread_started) {
		pthread_mutex_lock(&s->lock);
		atomic_store(&s->stopping, 1);
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->alert_thread, NULL);
	}
	http_server_stop(s->http);
	sink_free(s->collector);
	sink_free(s->otlp);
	alerts_free(s->alerts);
	reach_delta_free(s->delta);
	report_seq_free(s->seq);
	hmap_free(s->open_findings, free);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void shipping_set_ready(struct shipping *s, bool ready)
{
	if (s && s->http)
		http_server_set_ready(s->http, ready);
}

/* ---- reports ------------------------------------------------------------------------ */

static void ship_reach(struct shipping *s, const struct ledger *l, double now)
{
	bool full = !s->snapshot_sent || now - s->last_snapshot_s >= s->snapshot_interval_s;
	uint8_t *body = NULL;
	size_t len;
	int rc;

	if (!full && now - s->last_report_s < s->report_interval_s)
		return;
	s->last_report_s = now;
	rc = report_reach(&s->src, s->delta, l, full, &body, &len, NULL);
	if (!rc && full) {
		s->snapshot_sent = true;
		s->last_snapshot_s = now;
	}
	if (ship_body(s, s->collector, "reach", rc, body, len) && !rc)
		reach_delta_reset(s->delta); /* not spooled: the next delta carries everything */
}

static uint64_t sum_losses(const struct agent_counters *c, size_t kind)
{
	uint64_t t = 0;

	for (size_t r = 0; r < c->n_reasons; r++)
		t += c->losses[kind][r];
	return t;
}

static void ship_health(struct shipping *s, double now)
{
	const struct agent_counters *c = &s->counters;
	struct health_kv ev[SHIPPING_MAX_KINDS], lo[SHIPPING_MAX_KINDS];
	struct report_health_in in = { 0 };
	struct sink_stats st = { 0 };
	uint8_t *body = NULL;
	size_t len;
	int rc;

	if (now - s->last_health_s < HEALTH_INTERVAL_S)
		return;
	s->last_health_s = now;
	sink_stats(s->collector, &st);
	for (size_t k = 0; k < c->n_kinds; k++) {
		ev[k] = (struct health_kv){ c->event_kind[k], c->events[k] };
		lo[k] = (struct health_kv){ c->event_kind[k], sum_losses(c, k) };
	}
	in = (struct report_health_in){
		.uptime_s = c->uptime_s, .events_by_kind = ev, .n_events_by_kind = c->n_kinds, .losses_by_kind = lo,
		.n_losses_by_kind = c->n_kinds, .identities = c->identities, .edges = c->edges,
		.tls_blind_processes = c->tls_blind_processes, .hooks_missing = c->hooks_missing,
		.spool_depth = st.spool_records, .reports_sent = st.sent, .reports_failed = st.failed_attempts,
		.reports_dropped = st.lost + s->unencoded[0], .last_ship_unix_ms = st.last_success_unix_ms,
	};
	rc = report_health(&s->src, &in, &body, &len); /* before ship_body reads body */
	ship_body(s, s->collector, "health", rc, body, len);
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
	struct sink_row rows[2];
	size_t n = 0;

	/* lost counts what the spool lost and what never reached it */
	if (s->collector) {
		rows[n].name = "collector";
		sink_stats(s->collector, &rows[n].st);
		rows[n++].st.lost += s->unencoded[0];
	}
	if (s->otlp) {
		rows[n].name = "otlp";
		sink_stats(s->otlp, &rows[n].st);
		rows[n++].st.lost += s->unencoded[1];
	}
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

static void suppressed_metric(void *ctx, const char *identity, uint64_t n)
{
	prom_sample_u64(ctx, "reach_alerts_suppressed_total", n, 1, "identity", identity);
}

static void alert_metrics(struct prom_buf *b, struct shipping *s)
{
	struct alerts_stats as;

	if (!s->alerts)
		return;
	pthread_mutex_lock(&s->lock);
	alerts_stats(s->alerts, &as);
	FAMILY(b, "reach_alerts_active", "gauge", "Alerts firing.");
	prom_sample_u64(b, "reach_alerts_active", as.active, 0);
	FAMILY(b, "reach_alert_sends_total", "counter", "Alert POSTs, by result.");
	prom_sample_u64(b, "reach_alert_sends_total", as.sent_ok, 1, "result", "ok");
	prom_sample_u64(b, "reach_alert_sends_total", as.send_failed, 1, "result", "failed");
	FAMILY(b, "reach_alerts_suppressed_total", "counter",
	       "Finding alerts refused by the per-identity rate limit, by identity.");
	alerts_suppressed_by_identity(s->alerts, suppressed_metric, b);
	pthread_mutex_unlock(&s->lock);
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
	FAMILY(b, "reach_observed_edges", "gauge", "Edges in the agent's memory besides the ledger (its working set).");
	prom_sample_u64(b, "reach_observed_edges", c->observed_edges, 0);
	FAMILY(b, "reach_observed_edges_evicted_total", "counter",
	       "Edges moved out of the working set to the ledger alone (not a loss).");
	prom_sample_u64(b, "reach_observed_edges_evicted_total", c->observed_edges_evicted, 0);
	FAMILY(b, "reach_uprobe_attach_total", "counter", "TLS library uprobe attach attempts since start, by result.");
	prom_sample_u64(b, "reach_uprobe_attach_total", c->uprobes_attached, 1, "result", "attached");
	prom_sample_u64(b, "reach_uprobe_attach_total", c->uprobe_attach_failures, 1, "result", "failed");
	gauge(b, "reach_tls_blind_processes", "Processes whose TLS traffic the sensor cannot see.", c->tls_blind_processes);
	gauge(b, "reach_hooks_missing", "1 when a hook is missing: the picture is incomplete.", c->hooks_missing);
	gauge(b, "reach_identities", "Identities in the reach ledger.", c->identities);
	gauge(b, "reach_edges", "Edges in the reach ledger.", c->edges);
	FAMILY(b, "reach_verification_verdicts", "gauge", "Identities by the verdict of their latest epoch verification.");
	prom_sample_u64(b, "reach_verification_verdicts", c->verdicts_pass, 1, "verdict", "pass");
	prom_sample_u64(b, "reach_verification_verdicts", c->verdicts_fail, 1, "verdict", "fail");
	prom_sample_u64(b, "reach_verification_verdicts", c->verdicts_inconclusive, 1, "verdict", "inconclusive");
	prom_sample_u64(b, "reach_verification_verdicts", c->verdicts_drifted, 1, "verdict", "drifted");
}

static void render_metrics(struct shipping *s)
{
	struct prom_buf b = { 0 };

	agent_metrics(&b, s);
	sink_metrics(&b, s);
	alert_metrics(&b, s);
	if (prom_error(&b))
		log_warn("metrics: rendering failed: %s", strerror(-prom_error(&b)));
	else
		http_server_publish(s->http, "/metrics", "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	prom_buf_free(&b);
}

bool shipping_wants_counters(const struct shipping *s)
{
	return s && (s->collector || s->http);
}

void shipping_tick(struct shipping *s, const struct agent_counters *c, const struct ledger *l)
{
	double now = mono_s();

	if (!s)
		return;
	s->counters = *c;
	if (s->collector) {
		ship_reach(s, l, now);
		ship_health(s, now);
	}
	if (s->http) {
		render_metrics(s);
		http_server_heartbeat(s->http, 0);
	}
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

static void ship_finding(struct shipping *s, const struct finding *f, bool resolved, int64_t now,
			 struct otlp_record *rec)
{
	uint8_t *body = NULL;
	size_t len;

	if (s->collector) {
		int rc = report_finding(&s->src, f, resolved, now, &body, &len);

		ship_body(s, s->collector, "finding", rc, body, len);
	}
	if (rec)
		otlp_record_finding(rec, f, resolved, now, s->node, NULL);
	if (s->alerts) {
		pthread_mutex_lock(&s->lock);
		if (resolved)
			alerts_finding_resolved(s->alerts, f->id, now);
		else
			alerts_finding_opened(s->alerts, f, NULL, now);
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
	}
}

static void ship_otlp(struct shipping *s, struct otlp_record *recs, size_t n)
{
	void *body = NULL;
	size_t len = 0;
	int rc;

	if (!s->otlp || !n)
		return;
	rc = otlp_encode_records(&s->otlp_res, recs, n, &body, &len);
	ship_body(s, s->otlp, "otlp", rc, body, len);
}

void shipping_findings(struct shipping *s, const struct verify_result *r)
{
	struct otlp_record *recs = NULL;
	struct finding **gone = NULL;
	struct hmap *seen = NULL;
	struct hmap_iter it;
	const char *id;
	void *v;
	size_t n = 0, n_gone = 0, n_open;
	int64_t now = unix_now_ms();

	if (!s || (!s->collector && !s->otlp && !s->alerts))
		return;
	n_open = hmap_count(s->open_findings);
	seen = hmap_new();
	gone = calloc(n_open + 1, sizeof(*gone));
	if (s->otlp)
		recs = calloc(r->n_findings + n_open + 1, sizeof(*recs));
	if (!seen || !gone || (s->otlp && !recs))
		goto oom;
	for (size_t i = 0; i < r->n_findings; i++)
		if (hmap_put(seen, r->findings[i].id, (void *)&r->findings[i], NULL))
			goto oom; /* an incomplete set would resolve open findings wrongly */
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct finding *f = &r->findings[i];
		struct finding *copy;

		if (hmap_get(s->open_findings, f->id) || !(copy = finding_dup(f)))
			continue; /* known, or no memory: then new again at the next verification */
		ship_finding(s, f, false, now, recs ? &recs[n++] : NULL);
		if (hmap_put(s->open_findings, f->id, copy, NULL))
			free(copy); /* shipped; found new again next time: a duplicate, not a loss */
	}
	/* open findings the latest verification no longer has: resolved */
	hmap_iter_init(&it, s->open_findings);
	while (hmap_iter_next(&it, &id, &v))
		if (!hmap_get(seen, id))
			gone[n_gone++] = v;
	for (size_t i = 0; i < n_gone; i++) {
		ship_finding(s, gone[i], true, now, recs ? &recs[n++] : NULL);
		free(hmap_remove(s->open_findings, gone[i]->id));
	}
	ship_otlp(s, recs, n);
	goto out;
oom:
	log_warn("findings not shipped after this verification: out of memory (the next one tries again)");
out:
	hmap_free(seen, NULL);
	free(gone);
	free(recs);
}

void shipping_epoch(struct shipping *s, const struct epoch_record *rec, const struct verify_result *r)
{
	uint8_t *body = NULL;
	size_t len;
	int64_t now = unix_now_ms();

	if (!s || rec->state == EPOCH_SETTLING)
		return;
	if (s->collector) {
		int rc = report_verification(&s->src, rec, r, &body, &len);

		ship_body(s, s->collector, "verification", rc, body, len);
	}
	if (s->otlp) {
		struct otlp_record o;

		otlp_record_verdict(&o, rec->identity, epoch_verdict_name(rec), rec->reasons, rec->to_version, now, s->node);
		ship_otlp(s, &o, 1);
	}
	if (s->alerts) {
		pthread_mutex_lock(&s->lock);
		alerts_verdict(s->alerts, rec->identity, epoch_verdict_name(rec), rec->reasons, rec->to_version, now);
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
	}
}

/* ---- status ------------------------------------------------------------------------------ */

static json_object *sink_json(struct sink *k)
{
	struct sink_stats st;
	json_object *o = json_object_new_object();

	sink_stats(k, &st);
	json_add_int(o, "sent", (int64_t)st.sent);
	json_add_int(o, "failed_attempts", (int64_t)st.failed_attempts);
	json_add_int(o, "rejected", (int64_t)st.rejected);
	json_add_int(o, "dropped", (int64_t)st.dropped);
	json_add_int(o, "write_failed", (int64_t)st.write_failed);
	json_add_int(o, "spool_records", (int64_t)st.spool_records);
	json_add_int(o, "spool_bytes", (int64_t)st.spool_bytes);
	json_add_int(o, "last_success_unix_ms", st.last_success_unix_ms);
	json_add_str(o, "last_error", st.last_error);
	return o;
}

json_object *shipping_status_json(struct shipping *s)
{
	json_object *o = json_object_new_object();

	if (!s || !o)
		return o;
	if (s->collector)
		json_add(o, "collector", sink_json(s->collector));
	if (s->otlp)
		json_add(o, "otlp", sink_json(s->otlp));
	if (s->alerts) {
		struct alerts_stats as;
		json_object *a = json_object_new_object();

		pthread_mutex_lock(&s->lock);
		alerts_stats(s->alerts, &as);
		json_add_int(a, "active", (int64_t)as.active);
		json_add_int(a, "posts_ok", (int64_t)as.sent_ok);
		json_add_int(a, "posts_failed", (int64_t)as.send_failed);
		json_add_int(a, "suppressed", (int64_t)as.suppressed_total);
		pthread_mutex_unlock(&s->lock);
		json_add(o, "alerts", a);
	}
	return o;
}
