/* What the daemon reports about itself: the counters of /metrics and health
 * reports (ship/shipping.h struct agent_counters) and the daemon's side of
 * the local API's status (agent/api_handlers.h struct api_daemon_view),
 * gathered from the stages that hold them. */
#ifndef REACH_AGENT_COUNTERS_H
#define REACH_AGENT_COUNTERS_H

#include <stdbool.h>
#include "ship/shipping.h"
#include "agent/api_handlers.h"

struct pipeline;
struct ledger;
struct sensor;
struct tls_coverage;
struct epoch_tracker;
struct pod_monitor;
struct verification;
struct policy_crd;
struct kube_outbox;
struct policy_reports;

struct counter_sources {
	const struct pipeline *pipe;
	const struct ledger *ledger;
	struct sensor *sensor;
	const struct tls_coverage *tls;        /* or NULL */
	const struct epoch_tracker *epochs;    /* or NULL */
	const struct pod_monitor *pods;        /* or NULL: pods are not selected */
	const struct verification *verify;     /* the policies */
	struct policy_crd *crd;                /* or NULL: ReachPolicy objects are not a source */
	struct kube_outbox *kube_writes;       /* or NULL: nothing is written to the API */
	const struct policy_reports *reports;  /* or NULL: PolicyReports are off */
	double uptime_s;
};

void counters_fill(struct agent_counters *c, const struct counter_sources *s);
void counters_daemon_view(struct api_daemon_view *v, const struct counter_sources *s);

#endif
