/* reachd's settings, declared once: one table of options (flag, YAML key,
 * type, default, check, help) from which the command line parser, the keys
 * of the config file (config/config.c), --help and --check-config's listing
 * are all derived, so a flag and its key cannot drift apart. The models:
 * systemd's conf-parser tables and Fluent Bit's struct flb_config_map.
 *
 * Precedence: the config file first, then the flags over it. A flag that is
 * given wins over the key; list flags and list keys add up (the flags'
 * entries first, except where the table says file_first); defaults fill what
 * neither said (options_finalize). */
#ifndef REACH_OPTIONS_H
#define REACH_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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
	unsigned long long loss_cgroups;      /* sensor.loss_cgroups: 0 = not set; 1..1048576 */
	unsigned long long observed_edges;    /* sensor.observed_edges: 0 = not set; OBSERVED_EDGES_MIN..MAX */
	char *syscall_hooks;                  /* sensor.syscall_hooks: auto | per-syscall | dispatcher */
	int no_go_tls;                        /* sensor.no_go_tls: bool, -1 = not set (Go crypto/tls probed) */
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
	int policy_crd;                       /* policy.reachpolicies: bool, -1 = not set */
	int policy_reports;                   /* kubernetes.policy_reports: bool, -1 = not set */
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
	unsigned long long ship_timeout_s;    /* ship.timeout_s: one delivery attempt's bound; 0 = not set (10) */
	char *alertmanagers[CONFIG_MAX_LIST]; /* alerts.alertmanager: base URLs */
	int n_alertmanagers;
	char *webhook_url;                    /* alerts.webhook */
	char *alert_min_severity;             /* alerts.min_severity: info|low|medium|high */
	char *otlp_url;                       /* otlp.url: OTLP/HTTP logs endpoint (.../v1/logs) */
	char *metrics_addr;                   /* metrics.addr: HOST:PORT of /metrics, /healthz, /readyz, /v1/ledger */
	char *api_token_file;                 /* metrics.api_token_file: bearer token /v1/ paths require */
	unsigned long long healthz_stall_s;   /* metrics.healthz_stall_s: drain stall that fails /healthz; 0 = not set (30) */
	/* command line only */
	char *config_file;                    /* --config */
	char *socket_path;                    /* --socket: the local API */
	int events;                           /* --events: bool, -1 = not set */
	int verbose;                          /* -v: bool, -1 = not set */
	int check_config;                     /* --check-config: bool, -1 = not set */
	double duration_s;                    /* --duration: -1 = not set (run until a signal) */
	double persist_s;                     /* --persist-interval: -1 = not set */
	double settle_s;                      /* --settle-window: -1 = not set */
	double tls_probe_linger_s;            /* --tls-probe-linger: -1 = not set */
};

#define REACH_DEFAULT_STATE_DIR "/var/lib/reach"
/* The most entries the table may have (config.c keeps a line per entry). */
#define OPTIONS_MAX 96

enum option_type {
	OPTION_BOOL,    /* int: -1 not set, 0, 1; its flag takes no value and sets 1 */
	OPTION_STRING,  /* char *, NULL not set */
	OPTION_LIST,    /* char *[CONFIG_MAX_LIST] + int count; its flag is repeatable */
	OPTION_U64,     /* unsigned long long, 0 not set; min..max (a power of two if pow2) */
	OPTION_SECONDS, /* double, -1 not set; dmin..dmax (dmin excluded if above_min) */
	OPTION_CHOICE,  /* char *: one of choices */
	OPTION_MODE,    /* int: index into choices, -1 not set */
	OPTION_HELP,    /* actions: print and exit 0 */
	OPTION_VERSION,
};

/* A value's own check beyond its type. 0, or -1 with "why" the reason as
 * "'VALUE' is not ..." / "expected ..., got 'VALUE'" (shown: VALUE as it may
 * be quoted back). Messages read "WHERE: why", WHERE the key or the flag. */
typedef int (*option_check)(const char *value, const char *shown, char *why, size_t why_size);

struct option_spec {
	const char *flag;              /* "ringbuf-bytes" for --ringbuf-bytes; NULL: config file only */
	char short_flag;               /* 'v' for -v, or 0 */
	const char *key;               /* "sensor.ringbuf_bytes"; NULL: command line only */
	enum option_type type;
	size_t offset;                 /* of the value in struct reach_config */
	size_t count_offset;           /* OPTION_LIST: of its int count */
	bool init_true;                /* OPTION_BOOL: 1, not "not set", before anything sets it */
	unsigned long long min, max;   /* OPTION_U64 */
	bool pow2;                     /* OPTION_U64: a power of two */
	double dmin, dmax;             /* OPTION_SECONDS */
	bool above_min;                /* OPTION_SECONDS: dmin itself is refused */
	const char *seconds_text;      /* OPTION_SECONDS: the accepted range, in words */
	const char *const *choices;    /* OPTION_CHOICE, OPTION_MODE: NULL-terminated */
	option_check check;            /* OPTION_STRING, OPTION_LIST: every value */
	bool file_first;               /* OPTION_LIST: the file's entries before the flags' */
	bool url;                      /* may carry credentials: listed through a describer */
	const char *def;               /* the default, spelt as the flag's value; NULL: none */
	const char *arg;               /* --help: the value's name ("PATH"); NULL: no value */
	const char *help;              /* --help: '\n' continues on an indented line */
	const char *heading;           /* --help: a line printed before this entry */
	const char *example;           /* a valid value (tests) */
};

extern const struct option_spec reach_options[];
extern const size_t reach_n_options;

/* What options_parse_argv / config_load ask of the caller. */
enum options_result {
	OPTIONS_RUN = 0,      /* go on */
	OPTIONS_EXIT_OK = 1,  /* --help or --version printed: exit 0 */
	OPTIONS_USAGE = 2,    /* bad flag, value or config: exit 2 (message given) */
};

/* The command line into *cfg (config_init()ed): only the flags given are set.
 * On OPTIONS_USAGE, the message is in err. */
enum options_result options_parse_argv(struct reach_config *cfg, int argc, char **argv, char *err,
				       size_t err_size);

/* flags over file into *out (config_init()ed): the precedence above. Takes
 * the strings of both (they are left config_init()ed). OPTIONS_USAGE with a
 * message in err when a list gets too long. */
enum options_result options_merge(struct reach_config *out, struct reach_config *file, struct reach_config *flags,
				  char *err, size_t err_size);

/* Defaults for what is still not set, and the one rule between options
 * (kubernetes.api turns kubernetes.enabled on). 0, or -ENOMEM. */
int options_finalize(struct reach_config *cfg);

/* --help, from the table. */
void options_usage(FILE *f);

/* --check-config: every setting as it will run, one "KEY = VALUE" line each
 * (the YAML key, or --flag for flags only). URLs pass through describe_url
 * (they may carry credentials); NULL prints them as they are. */
typedef void (*option_url_describer)(const char *url, char *buf, size_t size);
void options_print(FILE *f, const struct reach_config *cfg, option_url_describer describe_url);

/* An entry's choices in words, "a, b or c", for messages. */
void options_choices_text(const char *const *choices, char *out, size_t size);

/* Table lookups (config/config.c, tests). */
const struct option_spec *options_find_flag(const char *flag);
const struct option_spec *options_find_key(const char *key);

#endif
