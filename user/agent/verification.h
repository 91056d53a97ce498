/* The agent's own verification: the declared policies (loaded at start,
 * then reloaded on SIGHUP or when a policy file changes, and rebuilt when
 * the ReachPolicy objects change, all on the policy loader's thread:
 * agent/policy_loader.h; the last good set kept on error) and the epochs
 * judged against them every few seconds: opened, settled, verified or
 * drifted (policy/epochs.h). Verdicts, findings and epoch records go to the
 * log and to shipping.
 *
 * Runs on the main loop: verification_tick() once per refresh swaps in a
 * set the loader finished, never parses one. */
#ifndef REACH_AGENT_VERIFICATION_H
#define REACH_AGENT_VERIFICATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "policy/policy.h"
#include "policy/verify.h"
#include "ship/shipping.h"

struct epoch_tracker;
struct ledger;
struct policy_crd;
struct policy_loader;
struct shipping;

struct verification {
	/* what is judged: the ReachPolicy objects' policies, then the files'
	 * for identities no object declares (the objects of a namespace
	 * override the cluster-wide defaults of the files) */
	struct policy_set policies;
	char policy_digest[65];                /* policy_set_digest() of policies */
	struct policy_set file_policies;       /* the files' set loaded at start, until the loader takes it */
	uint64_t file_load_errors;             /* reloads that failed (the last good set kept) */
	int64_t file_last_load_unix_ms;        /* the last load of the files that succeeded */
	bool crd_applied;                      /* the ReachPolicy objects were listed and their set applied */
	struct policy_loader *loader;          /* after verification_start_loader */
	struct epoch_tracker *epochs;
	bool default_alert;                    /* identities without a policy alert */
	/* set by verification_start; the ledger judged and where results go */
	const struct ledger *ledger;
	struct shipping *ship;                 /* or NULL */
	/* private */
	const char *const *policy_paths;
	int n_policy_paths;
	uint64_t policy_signature;             /* of the policy files: a change reloads them */
	double last_verify_s;
	const struct verify_result *verifying; /* during epoch_tracker_update: for shipping_epoch */
	const char *alerted_path;
	FILE *alerted;                         /* appended: one finding id a line */
	const char *records_path;
	FILE *records;                         /* appended: one chain link (JSON) a line */
	bool records_unsynced;                 /* links written since the last fdatasync */
	bool records_changed;                  /* links sealed since /v1/records was published */
	struct open_finding_count *open_findings; /* of the latest verification, for /metrics */
	size_t n_open_findings;
	/* NULL, or called with every verification's result (PolicyReports) */
	void (*on_result)(void *ctx, const struct verify_result *r);
	void *on_result_ctx;
};

struct verification_opts {
	const char *const *policy_paths;       /* files or directories */
	int n_policy_paths;
	bool default_alert;
	double settle_s;                       /* an epoch's settle window */
	/* the ids of the findings alerted, kept across restarts (a restart
	 * does not alert them again); NULL: not kept */
	const char *alerted_path;
	/* the verification records' hash chain (policy/epochs.h), one link a
	 * line, appended as links are sealed and restored at start, so the
	 * chain goes on across restarts; NULL: kept in memory only */
	const char *records_path;
};

/* Loads the policies and creates the epoch tracker: 0, -ENOMEM, or -EINVAL
 * with the policy error in err (FILE:LINE: ...). */
int verification_init(struct verification *v, const struct verification_opts *o, char *err, size_t err_size);
void verification_fini(struct verification *v);

/* Hands the policy sources to the loader's thread (agent/policy_loader.h):
 * the files, and the ReachPolicy objects when crd is not NULL. 0 or
 * -errno. */
int verification_start_loader(struct verification *v, struct policy_crd *crd);
/* Stops the loader (before crd goes); accepts a verification without one. */
void verification_stop_loader(struct verification *v);

/* Asks the loader to reload the policy files (SIGHUP) and returns at once;
 * a set that does not load is logged and the last good one kept. */
void verification_reload(struct verification *v);

/* Once per refresh, on the main loop (now_s: CLOCK_MONOTONIC seconds):
 * swaps in a policy set the loader finished, and verifies the epochs every
 * VERIFICATION_INTERVAL_S with the observation's health. */
#define VERIFICATION_INTERVAL_S 5.0
void verification_tick(struct verification *v, const struct verify_input_health *health, double now_s);

/* Verifies now (the epochs command brings the records up to date). */
void verification_run(struct verification *v, const struct verify_input_health *health);
/* Publishes every identity's record chain on /v1/records (shipping.h):
 * at start, once v->ship is set; then after each pass that sealed links.
 * So reachctl verify --agents --attest carries each agent's chain. */
void verification_publish_records(struct verification *v);

#endif
