/* reach's view of the cluster as wgpolicyk8s.io/v1alpha2 PolicyReports (the
 * format Kyverno, falcosidekick and Policy Reporter use): one per
 * (namespace, service account, node), named reach-SA-NODE in the service
 * account's namespace, scoped to the ServiceAccount, with one result per
 * open finding of the latest verification (policy = the ReachPolicy or
 * "no-policy", rule = the finding kind, result fail for medium and above,
 * warn below, severity, message, resources = the service account's pods on
 * this node), a summary, and the verdict and epoch of the identity in the
 * labels and annotations (reach.dev/verdict, reach.dev/epoch). A report is
 * written (server-side apply, through the API write queue) only when it
 * changed, and deleted when the service account has no pod left on the node.
 * Runs on the main loop; the writes happen on the queue's thread. */
#ifndef REACH_SHIP_POLICY_REPORT_H
#define REACH_SHIP_POLICY_REPORT_H

#include <stddef.h>
#include <stdint.h>

struct kube_outbox;
struct verify_result;
struct json_object;
struct policy_reports;

/* A pod on this node, as the report names it. */
struct policy_report_pod {
	const char *ns, *name, *service_account, *uid;
};

struct policy_reports *policy_reports_new(struct kube_outbox *writes, const char *node);
void policy_reports_free(struct policy_reports *pr); /* accepts NULL */

/* After each verification: the reports of the service accounts with pods in
 * pods[] brought up to date, the others deleted. */
void policy_reports_update(struct policy_reports *pr, const struct verify_result *r,
			   const struct policy_report_pod *pods, size_t n_pods);

struct policy_reports_stats {
	size_t reports;     /* written and not deleted */
	uint64_t applies;   /* reports queued for writing */
	uint64_t deletes;   /* reports queued for deletion */
};
void policy_reports_get_stats(const struct policy_reports *pr, struct policy_reports_stats *out);

/* A finding's severity as the v1alpha2 schema allows it: high, medium or
 * low (critical is high, info is low). Exposed for tests. */
const char *report_severity(int severity); /* an enum severity */

/* Internal, exposed for tests: the PolicyReport of service account SA of
 * namespace NS (NULL when out of memory). */
struct json_object *policy_report_build(const char *node, const char *ns, const char *sa,
					const struct verify_result *r, const struct policy_report_pod *pods,
					size_t n_pods);
/* Its name: "reach-SA-NODE", or when longer than a name may be, cut with a
 * hash suffix. */
void policy_report_name(const char *sa, const char *node, char *out, size_t size);

#endif
