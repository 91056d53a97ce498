/* The collector output (output.h): protobuf reports (reach deltas and
 * snapshots, agent health, findings, verifications) POSTed to a collector
 * through a disk spool, so a collector outage loses nothing. */
#include <errno.h>
#include <stdlib.h>
#include <json-c/json.h>
#include "common/log.h"
#include "ship/output.h"
#include "ship/shipping.h"
#include "ship/report.h"

#define DEFAULT_SPOOL_MAX_BYTES (256ULL << 20)
#define DEFAULT_REPORT_INTERVAL_S 30.0
#define DEFAULT_SNAPSHOT_INTERVAL_S 600.0
#define HEALTH_INTERVAL_S 60.0

struct collector {
	struct sink *sink;
	struct report_seq *seq;
	struct report_src src;
	char node[256], boot_id[64], version[64];
	struct reach_delta *delta;
	double report_interval_s, snapshot_interval_s;
	double last_report_s, last_snapshot_s, last_health_s;
	bool snapshot_sent, started;
	uint64_t unencoded; /* reports lost before the spool */
	bool encode_failing;
};

static int submit(struct collector *c, const char *what, int rc, void *body, size_t len)
{
	return ship_output_submit(c->sink, what, rc, body, len, &c->unencoded, &c->encode_failing);
}

static void collector_destroy(void *state)
{
	struct collector *c = state;

	if (!c)
		return;
	sink_free(c->sink);
	reach_delta_free(c->delta);
	report_seq_free(c->seq);
	free(c);
}

static int collector_init(void **state, const struct shipping_opts *o, const struct ship_env *env, char *err,
			  size_t err_size)
{
	struct collector *c;
	char seq_path[4200];
	int rc;

	*state = NULL;
	if (!o->ship_url)
		return 0;
	if (!(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	snprintf(c->node, sizeof(c->node), "%s", env->node);
	snprintf(c->boot_id, sizeof(c->boot_id), "%s", env->boot_id);
	snprintf(c->version, sizeof(c->version), "%s", env->version);
	c->report_interval_s = o->report_interval_s > 0 ? o->report_interval_s : DEFAULT_REPORT_INTERVAL_S;
	c->snapshot_interval_s = o->snapshot_interval_s > 0 ? o->snapshot_interval_s : DEFAULT_SNAPSHOT_INTERVAL_S;
	snprintf(seq_path, sizeof(seq_path), "%s/report.seq", o->state_dir);
	if ((rc = report_seq_open(&c->seq, seq_path, err, err_size)))
		goto fail;
	c->src = (struct report_src){ c->node, c->boot_id, c->version, c->seq };
	if ((rc = ship_output_sink(&c->sink, "collector", o->ship_url, o->ship_token_file, o->ship_ca, env->spool_root,
				   "collector", o->spool_max_bytes ? o->spool_max_bytes : DEFAULT_SPOOL_MAX_BYTES,
				   o->backoff_max_s, o->ship_timeout_s, err, err_size)))
		goto fail;
	if (!(c->delta = reach_delta_new())) {
		rc = -ENOMEM;
		goto fail;
	}
	*state = c;
	return 0;
fail:
	collector_destroy(c);
	return rc;
}

static void ship_reach(struct collector *c, const struct ledger *l, double now)
{
	bool full = !c->snapshot_sent || now - c->last_snapshot_s >= c->snapshot_interval_s;
	uint8_t *body = NULL;
	size_t len;
	int rc;

	if (!full && now - c->last_report_s < c->report_interval_s)
		return;
	c->last_report_s = now;
	rc = report_reach(&c->src, c->delta, l, full, &body, &len, NULL);
	if (!rc && full) {
		c->snapshot_sent = true;
		c->last_snapshot_s = now;
	}
	if (submit(c, "reach", rc, body, len) && !rc)
		reach_delta_reset(c->delta); /* not spooled: the next delta carries everything */
}

static uint64_t sum_losses(const struct agent_counters *a, size_t kind)
{
	uint64_t t = 0;

	for (size_t r = 0; r < a->n_reasons; r++)
		t += a->losses[kind][r];
	return t;
}

static void ship_health(struct collector *c, const struct agent_counters *a, double now)
{
	struct health_kv ev[SHIPPING_MAX_KINDS], lo[SHIPPING_MAX_KINDS];
	struct report_health_in in = { 0 };
	struct sink_stats st = { 0 };
	uint8_t *body = NULL;
	size_t len;
	int rc;

	if (now - c->last_health_s < HEALTH_INTERVAL_S)
		return;
	c->last_health_s = now;
	sink_stats(c->sink, &st);
	for (size_t k = 0; k < a->n_kinds; k++) {
		ev[k] = (struct health_kv){ a->event_kind[k], a->events[k] };
		lo[k] = (struct health_kv){ a->event_kind[k], sum_losses(a, k) };
	}
	in = (struct report_health_in){
		.uptime_s = a->uptime_s, .events_by_kind = ev, .n_events_by_kind = a->n_kinds, .losses_by_kind = lo,
		.n_losses_by_kind = a->n_kinds, .identities = a->identities, .edges = a->edges,
		.tls_blind_processes = a->tls_blind_processes, .hooks_missing = a->hooks_missing,
		.spool_depth = st.spool_records, .reports_sent = st.sent, .reports_failed = st.failed_attempts,
		.reports_dropped = st.lost + c->unencoded, .last_ship_unix_ms = st.last_success_unix_ms,
	};
	rc = report_health(&c->src, &in, &body, &len); /* before submit reads body */
	submit(c, "health", rc, body, len);
}

static void collector_deliver(void *state, const struct ship_event *ev)
{
	struct collector *c = state;
	uint8_t *body = NULL;
	size_t len;
	int rc;

	switch (ev->type) {
	case SHIP_TICK:
		if (!c->started) { /* the first delta waits a report interval; health goes at once */
			c->started = true;
			c->last_report_s = ev->mono_s;
			c->last_health_s = ev->mono_s - HEALTH_INTERVAL_S;
		}
		ship_reach(c, ev->ledger, ev->mono_s);
		ship_health(c, ev->counters, ev->mono_s);
		break;
	case SHIP_FINDING:
		rc = report_finding(&c->src, ev->finding, ev->resolved, ev->unix_ms, &body, &len);
		submit(c, "finding", rc, body, len);
		break;
	case SHIP_VERDICT:
		rc = report_verification(&c->src, ev->epoch, ev->result, &body, &len);
		submit(c, "verification", rc, body, len);
		break;
	case SHIP_FINAL:
		/* what changed since the last report: spooled, so not lost */
		rc = report_reach(&c->src, c->delta, ev->ledger, false, &body, &len, NULL);
		submit(c, "reach", rc, body, len);
		break;
	}
}

static bool collector_sink_stats(void *state, struct sink_stats *st)
{
	struct collector *c = state;

	sink_stats(c->sink, st);
	st->lost += c->unencoded; /* what the spool lost and what never reached it */
	return true;
}

static json_object *collector_status(void *state)
{
	return ship_output_sink_json(((struct collector *)state)->sink);
}

const struct ship_output_ops ship_out_collector = {
	.name = "collector",
	.init = collector_init,
	.deliver = collector_deliver,
	.destroy = collector_destroy,
	.wants_counters = true,
	.sink_stats = collector_sink_stats,
	.status = collector_status,
};
