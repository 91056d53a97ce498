/*
 * The agent's Kubernetes side, started from the settings: the pod watcher
 * (identities, and with no --cgroup/--all the pods' cgroups to monitor),
 * the API writer thread, ReachPolicy objects and PolicyReports. Kept apart
 * from reachd.c so that cmd/ only wires stages.
 */
#ifndef REACH_AGENT_KUBE_SETUP_H
#define REACH_AGENT_KUBE_SETUP_H

struct reach_config;
struct sensor;
struct verification;

struct agent_kube {
	struct kube *kube;               /* the pod watcher, or NULL without --kube */
	struct kube_outbox *writes;      /* Events, PolicyReports: written off the main loop */
	struct policy_crd *crd;          /* ReachPolicy objects, or NULL */
	struct policy_reports *reports;  /* PolicyReports, or NULL */
	struct pod_monitor *pods;        /* pods selected for monitoring, or NULL */
};

/* Starts what cfg asks for (nothing without kube_enabled). 0; -EINVAL for
 * a bad setting (logged: the caller's usage error); another -errno when a
 * part could not start (logged). verify gets the PolicyReports hook. */
int agent_kube_start(struct agent_kube *k, const struct reach_config *cfg, struct sensor *sensor,
		     struct verification *verify);
/* On the event loop: the watcher's pod events to the pod monitor. */
void agent_kube_drain(struct agent_kube *k);
/* Once a second: removed pods' cgroups let go. */
void agent_kube_tick(struct agent_kube *k);
/* Stops the threads (queued API writes get 2 s) and frees everything. Call
 * after the policy loader, which reads the ReachPolicy objects, stopped. */
void agent_kube_stop(struct agent_kube *k);

#endif
