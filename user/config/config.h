/* The agent's settings (struct reach_config) and its config file
 * (`reachd --config FILE`): a small, strict YAML document. Strict because a
 * typo in a security sensor's config must fail loudly at start-up (with
 * FILE:LINE:COLUMN) instead of silently monitoring less than the operator
 * believes. Every field is declared once, in the option table of
 * config/options.c (flag, YAML key, type, default, check, help); the loader
 * below reads the keys of that table. */
#ifndef REACH_CONFIG_H
#define REACH_CONFIG_H

#include <stddef.h>

#define CONFIG_MAX_LIST 64
/* The agent's observed model (its working set of edges; the ledger holds
 * them all): sensor.observed_edges, --observed-edges. */
#define OBSERVED_EDGES_DEFAULT 65536
#define OBSERVED_EDGES_MIN 16
#define OBSERVED_EDGES_MAX 16777216

struct reach_config {
	char *cgroups[CONFIG_MAX_LIST];      /* monitor.cgroups: cgroup v2 directories */
	int n_cgroups;
	int monitor_all;                      /* monitor.all: bool, -1 = not set */
	char *secret_patterns[CONFIG_MAX_LIST];        /* secrets.patterns: "PATTERN" or "PATTERN CATEGORY" */
	int n_secret_patterns;
	char *secret_pattern_files[CONFIG_MAX_LIST];   /* secrets.pattern_files: paths */
	int n_secret_pattern_files;
	int builtin_secrets;                  /* secrets.builtin: bool, default 1 */
	unsigned long long ringbuf_bytes;     /* sensor.ringbuf_bytes: 0 = not set; must be a power of 2 >= 4096 and <= 1 GiB */
	unsigned long long dedup_entries;     /* sensor.dedup_entries: 0 = not set; 1..16777216 */
	unsigned long long observed_edges;    /* sensor.observed_edges: 0 = not set; OBSERVED_EDGES_MIN..MAX */
	char *syscall_hooks;                  /* sensor.syscall_hooks: auto | per-syscall | dispatcher */
	char *cluster_cidrs[CONFIG_MAX_LIST];  /* egress.cluster_cidrs: pod/service CIDRs */
	int n_cluster_cidrs;
	char *apiservers[CONFIG_MAX_LIST];     /* egress.apiserver: "IP", "IP:PORT", "[IPv6]:PORT" */
	int n_apiservers;
	int kube_enabled;                     /* kubernetes.enabled: bool, -1 = not set */
	char *kube_api;                       /* kubernetes.api: https URL (default: in-cluster) */
	char *kube_token_file;                /* kubernetes.token_file */
	char *kube_ca_file;                   /* kubernetes.ca_file */
	char *node_name;                      /* kubernetes.node_name (default: $NODE_NAME) */
	char *namespaces[CONFIG_MAX_LIST];    /* kubernetes.namespaces: monitored namespaces (default all) */
	int n_namespaces;
	char *pod_selector[CONFIG_MAX_LIST];  /* kubernetes.pod_selector: "KEY=VALUE", all must match */
	int n_pod_selector;
	char *identity_rules[CONFIG_MAX_LIST]; /* identity.rules: "cgroup:/GLOB IDENTITY" or "uid:N IDENTITY" */
	int n_identity_rules;
	char *policy_paths[CONFIG_MAX_LIST];  /* policy.paths: ReachPolicy files or directories */
	int n_policy_paths;
	int policy_default_alert;             /* policy.default: "audit" (0) or "alert" (1); -1 = not set */
	char *ready_file;                     /* agent.ready_file */
	char *state_dir;                      /* agent.state_dir */
	int drop_caps;                        /* agent.drop_caps: bool, -1 = not set */
	char *fingerprint_key_file;           /* agent.fingerprint_key_file */
	/* shipping (user/ship/): every sink optional; none set = local only */
	char *ship_url;                       /* ship.url: reports collector (https://...) */
	char *ship_token_file;                /* ship.token_file: bearer token */
	char *ship_ca_file;                   /* ship.ca_file: CA bundle for the collector */
	char *spool_dir;                      /* ship.spool_dir (default STATE_DIR/spool) */
	unsigned long long spool_max_bytes;   /* ship.spool_max_bytes: 0 = not set */
	unsigned long long report_interval_s; /* ship.report_interval_s: deltas; 0 = not set */
	unsigned long long snapshot_interval_s; /* ship.snapshot_interval_s: full snapshots; 0 = not set */
	unsigned long long backoff_max_s;     /* ship.backoff_max_s: retry backoff cap; 0 = not set (300) */
	char *alertmanagers[CONFIG_MAX_LIST]; /* alerts.alertmanager: base URLs */
	int n_alertmanagers;
	char *webhook_url;                    /* alerts.webhook */
	char *alert_min_severity;             /* alerts.min_severity: info|low|medium|high */
	char *otlp_url;                       /* otlp.url: OTLP/HTTP logs endpoint (.../v1/logs) */
	char *metrics_addr;                   /* metrics.addr: HOST:PORT of /metrics, /healthz, /readyz, /v1/ledger */
	char *api_token_file;                 /* metrics.api_token_file: bearer token /v1/ paths require */
	/* command line only */
	char *config_file;                    /* --config */
	char *socket_path;                    /* --socket: the local API */
	int events;                           /* --events: bool, -1 = not set */
	int verbose;                          /* -v: bool, -1 = not set */
	int check_config;                     /* --check-config: bool, -1 = not set */
	double duration_s;                    /* --duration: -1 = not set (run until a signal) */
	double persist_s;                     /* --persist-interval: -1 = not set */
	double settle_s;                      /* --settle-window: -1 = not set */
};

/* Nothing set: strings NULL, numbers 0, booleans and modes -1, seconds -1,
 * except builtin_secrets = 1. Defaults are applied by options_finalize(). */
void config_init(struct reach_config *cfg);

/* Load PATH into *cfg, which must have been config_init()ed (or loaded).
 * The file replaces the whole config: keys it omits get their defaults, not
 * the previous values. On success the previous strings are freed, so pointers
 * into the old config become invalid. Returns 0, or a negative errno (-EINVAL
 * for content errors) with *cfg left exactly as it was and a one-line message
 * "FILE:LINE:COLUMN: reason" (or "FILE: reason" when there is no position)
 * in err (err may be NULL or err_size 0). */
int config_load_file(struct reach_config *cfg, const char *path, char *err, size_t err_size);

/* Free every string; leaves an init'ed struct, so calling it twice is safe. */
void config_free(struct reach_config *cfg);

#endif
