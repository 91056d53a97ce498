/* The agent's Kubernetes side (kube_setup.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "common/cgroup.h"
#include "common/log.h"
#include "config/config.h"
#include "identity/kube.h"
#include "identity/kube_outbox.h"
#include "identity/pod_monitor.h"
#include "sensor/sensor.h"
#include "ship/policy_report.h"
#include "agent/policy_crd.h"
#include "agent/verification.h"
#include "agent/kube_setup.h"

static int monitor_pod_cgroup(void *ctx, uint64_t id) { return sensor_monitor_cgroup(ctx, id); }
static int unmonitor_pod_cgroup(void *ctx, uint64_t id) { return sensor_unmonitor_cgroup(ctx, id); }

static void ignore_pod_event(void *ctx, enum kube_event_type type, const struct kube_pod *pod)
{
	(void)ctx, (void)type, (void)pod;
}

/* Each verification: the PolicyReports of the service accounts on this node. */
static void update_policy_reports(void *ctx, const struct verify_result *r)
{
	struct agent_kube *k = ctx;
	struct kube_pod *pods = NULL;
	struct policy_report_pod *refs = NULL;
	size_t n = 0;

	if (kube_pods_snapshot(k->kube, &pods, &n))
		return;
	if (n && !(refs = calloc(n, sizeof(*refs)))) {
		free(pods);
		return;
	}
	for (size_t i = 0; i < n; i++)
		refs[i] = (struct policy_report_pod){ pods[i].ns, pods[i].name, pods[i].service_account, pods[i].uid };
	policy_reports_update(k->reports, r, refs, n);
	free(refs);
	free(pods);
}

int agent_kube_start(struct agent_kube *k, const struct reach_config *cfg, struct sensor *sensor,
		     struct verification *verify)
{
	struct kube_opts ko = { .api_url = cfg->kube_api, .token_file = cfg->kube_token_file, .ca_file = cfg->kube_ca_file,
				.node_name = cfg->node_name };
	char err[512], mount[256];
	int rc;

	if ((cfg->policy_crd == 1 || cfg->policy_reports == 1) && cfg->kube_enabled != 1) {
		log_error("%s needs --kube (the Kubernetes API)", cfg->policy_crd == 1 ? "--reachpolicies" : "--policy-reports");
		return -EINVAL;
	}
	if (cfg->kube_enabled != 1)
		return 0;
	if ((rc = kube_new(&k->kube, &ko, err, sizeof(err)))) {
		log_error("--kube: %s", err);
		return -EINVAL;
	}
	if (cgroup_find_v2_mount(mount, sizeof(mount))) {
		log_error("--kube: no cgroup2 mount to find pod cgroups in");
		return -ENOENT;
	}
	/* --cgroup / --all keep working: pods are then resolved, not selected */
	if (cfg->monitor_all != 1 && !cfg->n_cgroups) {
		struct cgroup_target pod_cgroups = { monitor_pod_cgroup, unmonitor_pod_cgroup, sensor };

		k->pods = pod_monitor_new(&pod_cgroups, mount);
		if (!k->pods)
			return -ENOMEM;
		for (int i = 0; i < cfg->n_namespaces; i++)
			pod_monitor_add_namespace(k->pods, cfg->namespaces[i]);
		for (int i = 0; i < cfg->n_pod_selector; i++)
			pod_monitor_add_label(k->pods, cfg->pod_selector[i]);
	}
	if ((rc = kube_start(k->kube))) {
		log_error("--kube: starting the pod watcher: %s", strerror(-rc));
		return rc;
	}
	if (cfg->policy_crd == 1 || cfg->policy_reports == 1) {
		k->writes = kube_outbox_new(kube_connection(k->kube));
		if (!k->writes || kube_outbox_start(k->writes)) {
			log_error("--kube: starting the API writer: %s", strerror(ENOMEM));
			return -ENOMEM;
		}
	}
	if (cfg->policy_crd == 1) {
		struct policy_crd_opts po = { .conn = kube_connection(k->kube), .node = kube_node(k->kube),
					      .events = k->writes };

		if ((rc = policy_crd_new(&k->crd, &po)) || (rc = policy_crd_start(k->crd))) {
			log_error("--reachpolicies: starting the ReachPolicy watcher: %s", strerror(-rc));
			return rc;
		}
		log_info("ReachPolicy objects: listing and watching %s", POLICY_CRD_PATH);
	}
	if (cfg->policy_reports == 1) {
		k->reports = policy_reports_new(k->writes, kube_node(k->kube));
		if (!k->reports) {
			log_error("--policy-reports: %s", strerror(ENOMEM));
			return -ENOMEM;
		}
		verify->on_result = update_policy_reports;
		verify->on_result_ctx = k;
		log_info("PolicyReports: one per service account on node %s (wgpolicyk8s.io/v1alpha2)", kube_node(k->kube));
	}
	return 0;
}

void agent_kube_drain(struct agent_kube *k)
{
	/* without selection (--cgroup/--all) events are only drained */
	if (k->kube)
		kube_drain(k->kube, k->pods ? pod_monitor_on_pod : ignore_pod_event, k->pods);
}

void agent_kube_tick(struct agent_kube *k)
{
	if (k->pods)
		pod_monitor_tick(k->pods);
}

void agent_kube_stop(struct agent_kube *k)
{
	policy_crd_stop(k->crd);
	policy_reports_free(k->reports);
	kube_outbox_flush(k->writes, 2000); /* Events already queued */
	kube_outbox_stop(k->writes);
	kube_stop(k->kube); /* joins the watcher before anything it reads goes */
	pod_monitor_free(k->pods);
	*k = (struct agent_kube){ 0 };
}
