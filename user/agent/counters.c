/* The daemon's own numbers (counters.h), read from the stages on demand. */
#include <string.h>
#include "identity/kube_outbox.h"
#include "identity/pod_monitor.h"
#include "policy/epochs.h"
#include "reach/artifact.h"
#include "reach/ledger.h"
#include "reach/observed.h"
#include "sensor/sensor.h"
#include "sensor/syscall_hooks.h"
#include "sensor/tls.h"
#include "ship/policy_report.h"
#include "agent/output.h"
#include "agent/pipeline.h"
#include "agent/policy_crd.h"
#include "agent/verification.h"
#include "agent/counters.h"

/* agent_counters keeps four loss reasons per kind: the ones /metrics and
 * AgentHealth have always carried */
#define COUNTER_REASONS (REACH_LOSS__MAX < 4 ? REACH_LOSS__MAX : 4)

void counters_fill(struct agent_counters *c, const struct counter_sources *s)
{
	struct reach_loss_counters l = { 0 };

	memset(c, 0, sizeof(*c));
	c->uptime_s = s->uptime_s;
	sensor_read_losses(s->sensor, &l);
	for (int k = 1; k < REACH_EV__MAX && c->n_kinds < SHIPPING_MAX_KINDS; k++) {
		c->event_kind[c->n_kinds] = output_event_name(k);
		c->events[c->n_kinds] = s->pipe->stats.events[k];
		for (int r = 0; r < COUNTER_REASONS; r++)
			c->losses[c->n_kinds][r] = l.counters[k][r];
		c->n_kinds++;
	}
	/* kind 0: losses of shared maps that belong to no event kind */
	c->event_kind[c->n_kinds] = output_event_name(0);
	for (int r = 0; r < COUNTER_REASONS; r++)
		c->losses[c->n_kinds][r] = l.counters[0][r];
	c->n_kinds++;
	for (int r = 0; r < COUNTER_REASONS; r++)
		c->loss_reason[c->n_reasons++] = output_loss_name(r);
	c->parse_malformed_http = s->pipe->stats.http_malformed;
	c->parse_malformed_dns = s->pipe->stats.dns_malformed;
	c->edges_dropped = observed_edges_dropped(s->pipe->observed) + ledger_edges_dropped(s->ledger);
	c->artifact_hashes_skipped = artifact_hasher_skipped(s->pipe->artifacts);
	c->observed_edges = observed_edge_total(s->pipe->observed);
	c->observed_edges_evicted = observed_edges_evicted(s->pipe->observed);
	c->identities = ledger_identities(s->ledger);
	c->edges = ledger_edges(s->ledger);
	c->tls_blind_processes = s->pipe->tls_blind_edges;
	c->hooks_missing = false; /* every hook is mandatory: start-up fails without one */
	c->uprobes_attached = tls_attaches(s->tls);
	c->uprobe_attach_failures = tls_attach_failures(s->tls);
	{
		struct reach_cf_counters cf;

		if (!sensor_read_catfilter_counters(s->sensor, &cf)) {
			c->opens_filtered_in_kernel = cf.filtered;
			c->opens_sent_by_filter = cf.sent;
		}
	}
	{
		struct epoch_verdict_counts v;

		epoch_tracker_count_verdicts(s->epochs, &v);
		c->verdicts_pass = v.pass;
		c->verdicts_fail = v.fail;
		c->verdicts_inconclusive = v.inconclusive;
		c->verdicts_drifted = v.drifted;
	}
	if (s->verify) {
		int64_t last = s->verify->file_last_load_unix_ms;

		c->policies_loaded = s->verify->policies.n;
		c->findings_open = s->verify->open_findings;
		c->n_findings_open = s->verify->n_open_findings;
		c->policy_load_errors_files = s->verify->file_load_errors;
		if (s->crd) {
			struct policy_crd_stats cs;

			policy_crd_get_stats(s->crd, &cs);
			c->reachpolicies = true;
			c->policy_load_errors_reachpolicy = cs.load_errors;
			c->reachpolicies_applied = cs.applied;
			c->reachpolicies_refused = cs.refused;
			/* a rebuild of the objects' policies with none refused */
			last = cs.last_load_unix_ms > last ? cs.last_load_unix_ms : last;
		}
		c->policy_last_load_s = last / 1000.0;
	}
	if (s->kube_writes) {
		struct kube_outbox_stats ks;

		kube_outbox_get_stats(s->kube_writes, &ks);
		c->kube_writes = true;
		c->kube_writes_sent = ks.sent;
		c->kube_writes_failed = ks.failed;
		c->kube_writes_retried = ks.retries;
		c->kube_writes_dropped = ks.dropped;
	}
	if (s->reports) {
		struct policy_reports_stats ps;

		policy_reports_get_stats(s->reports, &ps);
		c->policy_reports_on = true;
		c->policy_reports = ps.reports;
	}
}

void counters_daemon_view(struct api_daemon_view *v, const struct counter_sources *s)
{
	v->hooks = sensor_hook_names(s->sensor);
	v->syscall_hooks = syscall_hook_style_name(syscall_hooks_active(sensor_syscall_hooks(s->sensor)));
	v->syscall_hooks_fallback = syscall_hooks_fallback_reason(sensor_syscall_hooks(s->sensor));
	v->compat_syscalls = syscall_hooks_compat(sensor_syscall_hooks(s->sensor));
	v->have_losses = sensor_read_losses(s->sensor, &v->losses) == 0;
	v->tls_files_probed = s->tls ? tls_files_attached(s->tls) : 0;
	v->uprobes_attached = sensor_uprobes_attached(s->sensor);
	v->bpf_load_ms = (uint64_t)(sensor_load_ms(s->sensor) + 0.5);
	sensor_secret_bits(s->sensor, &v->secret_bits_set, &v->secret_bits_rebuilds);
	v->have_catfilter = sensor_read_catfilter_counters(s->sensor, &v->catfilter) == 0;
	v->pods = s->pods != NULL;
	if (s->pods) {
		v->pods_monitored = pod_monitor_count(s->pods);
		v->pods_waiting = pod_monitor_waiting(s->pods);
	}
}
