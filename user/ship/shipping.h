/* The agent's outputs beyond its ledger and socket: reports to a collector
 * (protobuf, spooled), findings and verdicts to Alertmanager, a webhook and
 * an OTLP/HTTP logs receiver, and its health on /metrics, /healthz, /readyz
 * (plus the ledger on /v1/ledger for verification jobs).
 *
 * Everything network-bound runs off the event loop: sinks spool and deliver
 * from their own threads, alerts are posted by a thread of this module, the
 * HTTP endpoint serves what the main loop published. The main loop only
 * encodes, appends to a spool and publishes blobs. */
#ifndef REACH_SHIPPING_H
#define REACH_SHIPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "policy/epochs.h"
#include "policy/verify.h"
#include "reach/ledger.h"

struct shipping_opts {
	const char *node, *state_dir, *version;
	/* reports collector */
	const char *ship_url, *ship_token_file, *ship_ca, *spool_dir;
	uint64_t spool_max_bytes;                 /* 0: 256 MiB */
	double report_interval_s;                 /* deltas; 0: 30 */
	double snapshot_interval_s;               /* full snapshots; 0: 600 */
	double backoff_max_s;                     /* retry backoff cap; 0: 300 */
	double ship_timeout_s;                    /* one delivery attempt (collector, OTLP); 0: 10 */
	/* alerts */
	const char *const *alertmanagers;
	int n_alertmanagers;
	const char *webhook;
	const char *alert_min_severity;           /* NULL: medium */
	const char *alert_token_file, *alert_ca;  /* for the alert targets; NULL: none / system CAs */
	/* OTLP/HTTP logs */
	const char *otlp_url;
	/* the HTTP endpoint */
	const char *metrics_addr, *api_token_file;
	double healthz_stall_s;                   /* /healthz fails after a drain stall this long; 0: 30 */
	/* the outputs to start (ship/output.h), NULL-terminated; NULL: the
	 * built-in ones (collector, OTLP, alerts). Tests pass their own. */
	const struct ship_output_ops *const *outputs;
};

/* Open findings of one identity, kind and severity. */
struct open_finding_count {
	char identity[512];
	const char *kind, *severity; /* static names */
	uint64_t n;
};

/* Numbers of the agent for /metrics and AgentHealth, filled by reachd. */
#define SHIPPING_MAX_KINDS 16
struct agent_counters {
	double uptime_s;
	const char *event_kind[SHIPPING_MAX_KINDS];
	uint64_t events[SHIPPING_MAX_KINDS];      /* handled, per kind */
	size_t n_kinds;
	/* losses[kind][reason]: kind names as event_kind, reason names below */
	uint64_t losses[SHIPPING_MAX_KINDS][4];
	const char *loss_reason[4];
	size_t n_reasons;
	uint64_t parse_malformed_http, parse_malformed_dns, edges_dropped;
	uint64_t artifact_hashes_skipped;         /* host epochs' files not hashed (reach/artifact.h) */
	uint64_t observed_edges, observed_edges_evicted; /* the observed model's working set */
	uint64_t identities, edges, tls_blind_processes;
	uint64_t uprobes_attached, uprobe_attach_failures;
	/* the kernel's catalogue pre-filter: first-seen opens dropped there, and let through */
	uint64_t opens_filtered_in_kernel, opens_sent_by_filter;
	bool hooks_missing;
	uint64_t verdicts_pass, verdicts_fail, verdicts_inconclusive, verdicts_drifted;
	/* the declared policies */
	uint64_t policies_loaded;                 /* applied now, all sources */
	uint64_t policy_load_errors_files;        /* reloads of the policy files that failed */
	uint64_t policy_load_errors_reachpolicy;  /* ReachPolicy object versions refused */
	double policy_last_load_s;                /* Unix seconds of the last load with no error; 0: none */
	bool reachpolicies;                       /* ReachPolicy objects are a source */
	/* open findings of the latest verification by identity, kind, severity */
	const struct open_finding_count *findings_open;
	size_t n_findings_open;
	uint64_t reachpolicies_applied, reachpolicies_refused;
	/* writes to the Kubernetes API (Events, PolicyReports) */
	bool kube_writes;
	uint64_t kube_writes_sent, kube_writes_failed, kube_writes_retried, kube_writes_dropped;
	uint64_t policy_reports;                  /* PolicyReports written and not deleted; with kube_writes */
	bool policy_reports_on;
};

struct shipping;
struct ship_output_ops;

/* Starts what opts configure; with nothing configured it logs once that
 * nothing is shipped and returns a shipping that does nothing. A sink that
 * cannot start (bad URL, unreadable token or CA, spool dir not writable, the
 * metrics address taken) fails start-up: 0 or -errno with err. */
int shipping_start(struct shipping **out, const struct shipping_opts *o, char *err, size_t err_size);

/* Whether shipping_tick() uses the counters (a collector or the HTTP
 * endpoint is configured): the agent gathers them only then. */
bool shipping_wants_counters(const struct shipping *s);

/* Every main-loop tick (~1 s): reach deltas / snapshots and health reports
 * when due, /metrics re-rendered. */
void shipping_tick(struct shipping *s, const struct agent_counters *c, const struct ledger *l);

/* The ring buffer was just drained (mono_ms: http_server_now_ms()'s clock;
 * <= 0: now): /healthz stays 200. Called after every drain, not on the
 * tick: a loop that still ticks, or threads that still answer, but no
 * longer drains the kernel's events fails liveness (issue 21). */
void shipping_drained(struct shipping *s, int64_t mono_ms);

/* After each verification of the ledger: findings that appeared or went
 * away since the previous one become Finding reports, alerts and OTLP log
 * records. */
void shipping_findings(struct shipping *s, const struct verify_result *r);

/* An epoch verified or drifted (epochs.h): a Verification report, the
 * identity's verdict alert, an OTLP record. r: the verification it came from. */
void shipping_epoch(struct shipping *s, const struct epoch_record *rec, const struct verify_result *r);

/* The ledger image for /v1/ledger, encoded from l (at start). */
void shipping_publish_ledger(struct shipping *s, const struct ledger *l);
/* Whether /v1/ledger is served; the image of a save as it was written to
 * the ledger file (ledger_persist_take_image), published as is. */
bool shipping_serves_ledger(const struct shipping *s);
void shipping_publish_ledger_image(struct shipping *s, const uint8_t *image, size_t len);

/* The verification records for /v1/records (served with /v1/ledger,
 * behind the same token): {"node", "records": [every identity's hash
 * chain, policy/epochs.h links]} as JSON text. */
void shipping_publish_records(struct shipping *s, const char *json_text, size_t len);

void shipping_set_ready(struct shipping *s, bool ready);

/* A last delta report (spooled: delivered now or at the next start), then
 * every thread stopped. NULL is fine. */
void shipping_stop(struct shipping *s, const struct ledger *l);

/* One line for `reachctl status`: {"collector": {...}, "otlp", "alerts"}. */
struct json_object;
struct json_object *shipping_status_json(struct shipping *s);

#endif
