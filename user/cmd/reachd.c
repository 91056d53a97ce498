/*
 * reachd: the reach agent. Parses arguments and wires the stages together:
 * sensor (kernel events) -> pipeline (agent/pipeline.h: catalogue, path
 * resolution, process tree, TLS coverage -> observed reach) -> ledger,
 * local API (agent/api_handlers.h), shipping (ship/shipping.h), output.
 * Exit codes: 0 done, 1 could not start, 2 bad usage or config.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "common/api.h"
#include "common/caps.h"
#include "common/cgroup.h"
#include "common/fileio.h"
#include "common/hmap.h"
#include "common/log.h"
#include "config/config.h"
#include "identity/identity.h"
#include "identity/kube.h"
#include "policy/policy.h"
#include "policy/epochs.h"
#include "policy/verify.h"
#include "reach/catalog.h"
#include "reach/ledger.h"
#include "reach/ledger_store.h"
#include "reach/dnsnames.h"
#include "reach/netclass.h"
#include "reach/observed.h"
#include "sensor/sensor.h"
#include "sensor/tls.h"
#include "agent/output.h"
#include "agent/pipeline.h"
#include "agent/api_handlers.h"
#include "ship/shipping.h"
#include "common/https_client.h"
#include "identity/pod_monitor.h"

#define EXIT_START_FAILED 1
#define EXIT_USAGE 2
#define REFRESH_INTERVAL_S 1.0
#define DEFAULT_STATE_DIR "/var/lib/reach"
#define DEFAULT_PERSIST_S 10.0
#define LEDGER_MAX_IDENTITIES 20000
#define LEDGER_MAX_EDGES 2000   /* per identity */
#define LEDGER_FILE "ledger.pb.z"

static volatile sig_atomic_t exiting;
static volatile sig_atomic_t reload_policies;

struct agent {
	struct pipeline pipe;  /* events -> the observed model (agent/pipeline.h) */
	struct api_handlers api; /* the local API (agent/api_handlers.h) */
	struct catalog *catalog;
	struct sensor *sensor;
	struct tls_coverage *tls;
	struct netclass netclass;
	/* identity, ledger, API */
	struct kube *kube;
	struct identity_resolver *resolver;
	struct pod_monitor *pods;
	struct ledger *ledger;
	char ledger_path[4096];
	char node[256];
	int api_fd;
	double started_s;
	int64_t last_persist_unix_ms;
	char last_persist_error[512];
	pid_t persist_child;           /* a background save in progress, or 0 */
	int64_t persist_started_ms;
	uint64_t persists_skipped;     /* intervals skipped because a save was still running */
	struct policy_set policies;
	const char *const *policy_paths;
	int n_policy_paths;
	bool default_alert;
	uint64_t policy_signature;     /* of the policy files: a change reloads them */
	struct epoch_tracker *epoch_tracker;
	double last_verify_s;
	bool monitor_all;
	int n_cgroups;
	struct shipping *ship;
	const struct verify_result *verifying; /* during epoch_tracker_update: for shipping_epoch */
	uint64_t persisted_edges;              /* ledger edges at the last publish on /v1/ledger */
};

struct args {
	const char *cgroups[CONFIG_MAX_LIST];
	int n_cgroups;
	int all;
	const char *config_file;
	const char *pattern_files[CONFIG_MAX_LIST];
	int n_pattern_files;
	int events;
	double duration_s;
	int verbose;
	const char *ready_file;
	uint64_t ringbuf_bytes;
	uint64_t dedup_entries;
	uint64_t observed_edges;
	const char *syscall_hooks; /* --syscall-hooks: auto | per-syscall | dispatcher */
	const char *cluster_cidrs[CONFIG_MAX_LIST];
	int n_cluster_cidrs;
	const char *apiservers[CONFIG_MAX_LIST];
	int n_apiservers;
	const char *state_dir;
	const char *socket_path;
	double persist_s;
	int kube;
	const char *kube_api, *kube_token_file, *kube_ca, *node_name;
	const char *namespaces[CONFIG_MAX_LIST];
	int n_namespaces;
	const char *pod_labels[CONFIG_MAX_LIST];
	int n_pod_labels;
	const char *identity_rules[CONFIG_MAX_LIST];
	int n_identity_rules;
	const char *fingerprint_key;
	const char *policy_paths[CONFIG_MAX_LIST];
	int n_policy_paths;
	int default_alert; /* -1 unset, 0 audit, 1 alert */
	double settle_s;
	int drop_caps;
	int check_config;
	/* shipping: every sink optional */
	const char *ship_url, *ship_token_file, *ship_ca, *spool_dir;
	const char *alertmanagers[CONFIG_MAX_LIST];
	int n_alertmanagers;
	const char *webhook, *otlp_url, *metrics_addr, *api_token_file, *alert_min_severity;
	uint64_t spool_max_bytes;
	double report_interval_s, snapshot_interval_s, backoff_max_s;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: reachd [OPTIONS]\n"
		"Observes the runtime reach of monitored workloads: secret files read and tools run.\n\n"
		"  --cgroup PATH         monitor this cgroup v2 directory and every cgroup below it (repeatable)\n"
		"  --all                 monitor every process on the host except the agent\n"
		"  --config FILE         YAML config (monitor, secrets, sensor, agent sections)\n"
		"  --secret-patterns F   add secret patterns from F, one per line (repeatable)\n"
		"  --events              print one JSON object per new edge on stdout, a JSON summary at exit\n"
		"  --duration SECONDS    stop after this long, print the summary, exit 0\n"
		"  --ready-file FILE     create FILE once every hook is attached\n"
		"  --ringbuf-bytes N     ring buffer size (power of two >= 4096; default 8 MiB)\n"
		"  --dedup-entries N     in-kernel dedup map entries (default 65536)\n"
		"  --observed-edges N    edges kept in memory besides the ledger (default 65536; the least\n"
		"                        recently seen go to the ledger alone when it is full)\n"
		"  --syscall-hooks S     auto (default: the dispatcher), dispatcher (one tp_btf/sys_exit program)\n"
		"                        or per-syscall (a tracepoint per syscall reach reads; needs tracefs;\n"
		"                        cheaper only where few syscalls are reads, writes, sends, receives)\n"
		"  --state-dir DIR       where the reach ledger is kept (default " DEFAULT_STATE_DIR ")\n"
		"  --persist-interval S  save the ledger every S seconds (default 10) and at exit\n"
		"  --socket PATH         the local API for reachctl (default " API_DEFAULT_SOCKET ", mode 0600)\n"
		"  --kube                resolve pods through the Kubernetes API (in-cluster config)\n"
		"  --kube-api URL, --kube-token-file F, --kube-ca F   the API server, out of cluster\n"
		"  --node-name NAME      this node (default: $NODE_NAME)\n"
		"  --namespace NS        with --kube: monitor pods of this namespace (repeatable; default all)\n"
		"  --pod-selector K=V    with --kube: monitor pods with this label (repeatable, all must match)\n"
		"  --fingerprint-key F   HMAC key for credential fingerprints (default STATE_DIR/fingerprint.key,\n"
		"                        created 0600 when absent; share it across nodes for comparable fingerprints)\n"
		"  --settle-window S     after an epoch opens, verify it after S seconds (default 600)\n"
		"  --default-policy M    identities without a policy: audit (listed, not counted; default) or alert\n"
		"  --policy PATH         ReachPolicy file or directory (repeatable); SIGHUP reloads, a bad one keeps the last good\n"
		"  --identity-rule R     'cgroup:GLOB IDENTITY' or 'uid:N IDENTITY' for host workloads (repeatable)\n"
		"  --cluster-cidr CIDR   pod/service range: egress there is classed 'cluster' (repeatable)\n"
		"  --apiserver ADDR[:PORT]  the kube-apiserver (default: KUBERNETES_SERVICE_HOST/PORT) (repeatable)\n"
		"  --drop-caps           after loading, keep only cap_bpf, cap_perfmon, cap_sys_ptrace and\n"
		"                        cap_dac_read_search (and set no_new_privs)\n"
		"  --check-config        load --config and --policy, print what would run, exit (0 ok, 2 bad)\n"
		"Shipping (none set: the agent works locally and says so once):\n"
		"  --ship-url URL        POST reach.v1.Report protobuf (gzip) reports to this collector\n"
		"  --ship-token-file F   bearer token for the collector (re-read on each send)\n"
		"  --ship-ca F           CA bundle for the collector (TLS verification is always on)\n"
		"  --spool-dir DIR       reports wait here until delivered (default STATE_DIR/spool)\n"
		"  --alertmanager URL    Alertmanager base URL (repeatable): findings and verdicts as alerts\n"
		"  --webhook URL         a JSON webhook for the same alerts\n"
		"  --otlp-url URL        OTLP/HTTP logs endpoint (.../v1/logs) for findings and verdicts\n"
		"  --metrics-addr H:P    /metrics, /healthz, /readyz and /v1/ledger (default off; e.g. 127.0.0.1:9464)\n"
		"  --api-token-file F    bearer token that /v1/ paths of --metrics-addr require\n"
		"  -v, --verbose         debug logging (libbpf included)\n"
		"  -h, --help            this help\n"
		"      --version         print the version\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	enum { OPT_CGROUP = 256, OPT_ALL, OPT_CONFIG, OPT_PATTERNS, OPT_EVENTS, OPT_DURATION, OPT_READY,
	       OPT_RINGBUF, OPT_DEDUP, OPT_OBSERVED_EDGES, OPT_VERSION, OPT_CLUSTER_CIDR, OPT_APISERVER, OPT_STATE_DIR, OPT_SOCKET,
	       OPT_PERSIST, OPT_KUBE, OPT_KUBE_API, OPT_KUBE_TOKEN, OPT_KUBE_CA, OPT_NODE, OPT_NAMESPACE,
	       OPT_POD_SELECTOR, OPT_IDENTITY_RULE, OPT_FP_KEY, OPT_POLICY, OPT_DEFAULT_POLICY, OPT_SETTLE,
	       OPT_DROP_CAPS, OPT_CHECK_CONFIG, OPT_SHIP_URL, OPT_SHIP_TOKEN, OPT_SHIP_CA, OPT_SPOOL_DIR,
	       OPT_ALERTMANAGER, OPT_WEBHOOK, OPT_OTLP_URL, OPT_METRICS_ADDR, OPT_API_TOKEN, OPT_SYSCALL_HOOKS };
	static const struct option opts[] = {
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "secret-patterns", required_argument, NULL, OPT_PATTERNS },
		{ "events", no_argument, NULL, OPT_EVENTS },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "ready-file", required_argument, NULL, OPT_READY },
		{ "ringbuf-bytes", required_argument, NULL, OPT_RINGBUF },
		{ "dedup-entries", required_argument, NULL, OPT_DEDUP },
		{ "observed-edges", required_argument, NULL, OPT_OBSERVED_EDGES },
		{ "syscall-hooks", required_argument, NULL, OPT_SYSCALL_HOOKS },
		{ "cluster-cidr", required_argument, NULL, OPT_CLUSTER_CIDR },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "persist-interval", required_argument, NULL, OPT_PERSIST },
		{ "kube", no_argument, NULL, OPT_KUBE },
		{ "kube-api", required_argument, NULL, OPT_KUBE_API },
		{ "kube-token-file", required_argument, NULL, OPT_KUBE_TOKEN },
		{ "kube-ca", required_argument, NULL, OPT_KUBE_CA },
		{ "node-name", required_argument, NULL, OPT_NODE },
		{ "namespace", required_argument, NULL, OPT_NAMESPACE },
		{ "pod-selector", required_argument, NULL, OPT_POD_SELECTOR },
		{ "identity-rule", required_argument, NULL, OPT_IDENTITY_RULE },
		{ "fingerprint-key", required_argument, NULL, OPT_FP_KEY },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "default-policy", required_argument, NULL, OPT_DEFAULT_POLICY },
		{ "settle-window", required_argument, NULL, OPT_SETTLE },
		{ "apiserver", required_argument, NULL, OPT_APISERVER },
		{ "drop-caps", no_argument, NULL, OPT_DROP_CAPS },
		{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
		{ "ship-url", required_argument, NULL, OPT_SHIP_URL },
		{ "ship-token-file", required_argument, NULL, OPT_SHIP_TOKEN },
		{ "ship-ca", required_argument, NULL, OPT_SHIP_CA },
		{ "spool-dir", required_argument, NULL, OPT_SPOOL_DIR },
		{ "alertmanager", required_argument, NULL, OPT_ALERTMANAGER },
		{ "webhook", required_argument, NULL, OPT_WEBHOOK },
		{ "otlp-url", required_argument, NULL, OPT_OTLP_URL },
		{ "metrics-addr", required_argument, NULL, OPT_METRICS_ADDR },
		{ "api-token-file", required_argument, NULL, OPT_API_TOKEN },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case OPT_CGROUP:
			if (a->n_cgroups == CONFIG_MAX_LIST) {
				log_error("--cgroup: at most %d cgroups", CONFIG_MAX_LIST);
				return EXIT_USAGE;
			}
			a->cgroups[a->n_cgroups++] = optarg;
			break;
		case OPT_ALL: a->all = 1; break;
		case OPT_CONFIG: a->config_file = optarg; break;
		case OPT_PATTERNS:
			if (a->n_pattern_files == CONFIG_MAX_LIST) {
				log_error("--secret-patterns: at most %d files", CONFIG_MAX_LIST);
				return EXIT_USAGE;
			}
			a->pattern_files[a->n_pattern_files++] = optarg;
			break;
		case OPT_EVENTS: a->events = 1; break;
		case OPT_DURATION:
			errno = 0;
			a->duration_s = strtod(optarg, &end);
			if (errno || *end || end == optarg || a->duration_s <= 0 || a->duration_s > 1e9) {
				log_error("--duration: '%s' is not a positive number of seconds", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_READY: a->ready_file = optarg; break;
		case OPT_RINGBUF:
			if (parse_u64(optarg, &a->ringbuf_bytes) || a->ringbuf_bytes < 4096 ||
			    (a->ringbuf_bytes & (a->ringbuf_bytes - 1)) || a->ringbuf_bytes > (1ULL << 30)) {
				log_error("--ringbuf-bytes: '%s' is not a power of two between 4096 and 1073741824", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_DEDUP:
			if (parse_u64(optarg, &a->dedup_entries) || !a->dedup_entries || a->dedup_entries > (1ULL << 24)) {
				log_error("--dedup-entries: '%s' is not a number between 1 and 16777216", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_OBSERVED_EDGES:
			if (parse_u64(optarg, &a->observed_edges) || a->observed_edges < OBSERVED_EDGES_MIN ||
			    a->observed_edges > OBSERVED_EDGES_MAX) {
				log_error("--observed-edges: '%s' is not a number between %d and %d", optarg,
					  OBSERVED_EDGES_MIN, OBSERVED_EDGES_MAX);
				return EXIT_USAGE;
			}
			break;
		case OPT_SYSCALL_HOOKS:
			if (syscall_hook_style_from_name(optarg) < 0) {
				log_error("--syscall-hooks: '%s' is not auto, per-syscall or dispatcher", optarg);
				return EXIT_USAGE;
			}
			a->syscall_hooks = optarg;
			break;
		case OPT_CLUSTER_CIDR: {
			struct cidr c;

			if (cidr_parse(optarg, &c)) {
				log_error("--cluster-cidr: '%s' is not a CIDR (ADDRESS/PREFIX with zero host bits)", optarg);
				return EXIT_USAGE;
			}
			if (a->n_cluster_cidrs == CONFIG_MAX_LIST) {
				log_error("--cluster-cidr: at most %d ranges", CONFIG_MAX_LIST);
				return EXIT_USAGE;
			}
			a->cluster_cidrs[a->n_cluster_cidrs++] = optarg;
			break;
		}
		case OPT_APISERVER: {
			struct netclass probe;

			netclass_init(&probe);
			if (netclass_add_apiserver(&probe, optarg)) {
				log_error("--apiserver: '%s' is not an address or ADDRESS:PORT ([IPv6]:PORT)", optarg);
				return EXIT_USAGE;
			}
			if (a->n_apiservers == NETCLASS_MAX_APISERVERS) {
				log_error("--apiserver: at most %d endpoints", NETCLASS_MAX_APISERVERS);
				return EXIT_USAGE;
			}
			a->apiservers[a->n_apiservers++] = optarg;
			break;
		}
		case OPT_STATE_DIR: a->state_dir = optarg; break;
		case OPT_SOCKET: a->socket_path = optarg; break;
		case OPT_PERSIST:
			errno = 0;
			a->persist_s = strtod(optarg, &end);
			if (errno || *end || end == optarg || a->persist_s < 0.1 || a->persist_s > 86400) {
				log_error("--persist-interval: '%s' is not a number of seconds between 0.1 and 86400", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_KUBE: a->kube = 1; break;
		case OPT_FP_KEY: a->fingerprint_key = optarg; break;
		case OPT_SETTLE:
			errno = 0;
			a->settle_s = strtod(optarg, &end);
			if (errno || *end || end == optarg || a->settle_s < 0 || a->settle_s > 30 * 86400) {
				log_error("--settle-window: '%s' is not a number of seconds (0 to 30 days)", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_DEFAULT_POLICY:
			if (strcmp(optarg, "audit") && strcmp(optarg, "alert")) {
				log_error("--default-policy: '%s' is not audit or alert", optarg);
				return EXIT_USAGE;
			}
			a->default_alert = strcmp(optarg, "alert") == 0;
			break;
		case OPT_POLICY:
			if (a->n_policy_paths == CONFIG_MAX_LIST) {
				log_error("--policy: at most %d paths", CONFIG_MAX_LIST);
				return EXIT_USAGE;
			}
			a->policy_paths[a->n_policy_paths++] = optarg;
			break;
		case OPT_KUBE_API: a->kube_api = optarg; a->kube = 1; break;
		case OPT_KUBE_TOKEN: a->kube_token_file = optarg; break;
		case OPT_KUBE_CA: a->kube_ca = optarg; break;
		case OPT_NODE: a->node_name = optarg; break;
		case OPT_NAMESPACE:
		case OPT_POD_SELECTOR:
		case OPT_IDENTITY_RULE: {
			const char **list = c == OPT_NAMESPACE ? a->namespaces : c == OPT_POD_SELECTOR ? a->pod_labels : a->identity_rules;
			int *n = c == OPT_NAMESPACE ? &a->n_namespaces : c == OPT_POD_SELECTOR ? &a->n_pod_labels : &a->n_identity_rules;

			if (*n == CONFIG_MAX_LIST) {
				log_error("%s: at most %d", argv[optind - 2 >= 0 ? optind - 2 : 0], CONFIG_MAX_LIST);
				return EXIT_USAGE;
			}
			if (c == OPT_POD_SELECTOR && (!strchr(optarg, '=') || optarg[0] == '=')) {
				log_error("--pod-selector: '%s' is not KEY=VALUE", optarg);
				return EXIT_USAGE;
			}
			list[(*n)++] = optarg;
			break;
		}
		case OPT_DROP_CAPS: a->drop_caps = 1; break;
		case OPT_CHECK_CONFIG: a->check_config = 1; break;
		case OPT_SHIP_URL: a->ship_url = optarg; break;
		case OPT_SHIP_TOKEN: a->ship_token_file = optarg; break;
		case OPT_SHIP_CA: a->ship_ca = optarg; break;
		case OPT_SPOOL_DIR: a->spool_dir = optarg; break;
		case OPT_ALERTMANAGER:
			if (a->n_alertmanagers == CONFIG_MAX_LIST) {
				log_error("--alertmanager: at most %d", CONFIG_MAX_LIST);
				return EXIT_USAGE;
			}
			a->alertmanagers[a->n_alertmanagers++] = optarg;
			break;
		case OPT_WEBHOOK: a->webhook = optarg; break;
		case OPT_OTLP_URL: a->otlp_url = optarg; break;
		case OPT_METRICS_ADDR: a->metrics_addr = optarg; break;
		case OPT_API_TOKEN: a->api_token_file = optarg; break;
		case 'v': a->verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		case OPT_VERSION: printf("reachd %s\n", REACH_VERSION); exit(0);
		case ':':
			log_error("option '%s' needs a value (see --help)", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			log_error("unknown option '%s' (see --help)", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (see --help)", argv[optind]);
		return EXIT_USAGE;
	}
	return 0;
}

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_policies = 1;
	else
		exiting = 1;
}

/* Loads every --policy path into a fresh set: all or nothing. */
static int load_policies(const char *const *paths, int n, struct policy_set *out, char *err, size_t err_size)
{
	struct policy_set set = { 0 };

	for (int i = 0; i < n; i++) {
		int rc = policy_load_path(&set, paths[i], err, err_size);

		if (rc) {
			policy_set_free(&set);
			return rc;
		}
	}
	*out = set;
	return 0;
}

/* Appends config list entries after the flags' ones (they outlive the args). */
static int append_list(const char **dst, int *n, char *const *src, int n_src, const char *what)
{
	for (int i = 0; i < n_src; i++) {
		if (*n == CONFIG_MAX_LIST) {
			log_error("%s: more than %d entries from flags and config together", what, CONFIG_MAX_LIST);
			return EXIT_USAGE;
		}
		dst[(*n)++] = src[i];
	}
	return 0;
}

/* The config file fills in what the command line did not say; flags win. */
static int merge_config(struct args *a, const struct reach_config *cfg)
{
	if (cfg->kube_enabled == 1 || cfg->kube_api)
		a->kube = 1;
	if (!a->kube_api)
		a->kube_api = cfg->kube_api;
	if (!a->kube_token_file)
		a->kube_token_file = cfg->kube_token_file;
	if (!a->kube_ca)
		a->kube_ca = cfg->kube_ca_file;
	if (!a->node_name)
		a->node_name = cfg->node_name;
	if (!a->state_dir)
		a->state_dir = cfg->state_dir;
	if (!a->ready_file)
		a->ready_file = cfg->ready_file;
	if (a->default_alert < 0)
		a->default_alert = cfg->policy_default_alert == 1;
	if (cfg->drop_caps == 1)
		a->drop_caps = 1;
	if (!a->fingerprint_key)
		a->fingerprint_key = cfg->fingerprint_key_file;
	if (!a->ship_url)
		a->ship_url = cfg->ship_url;
	if (!a->ship_token_file)
		a->ship_token_file = cfg->ship_token_file;
	if (!a->ship_ca)
		a->ship_ca = cfg->ship_ca_file;
	if (!a->spool_dir)
		a->spool_dir = cfg->spool_dir;
	if (!a->webhook)
		a->webhook = cfg->webhook_url;
	if (!a->otlp_url)
		a->otlp_url = cfg->otlp_url;
	if (!a->metrics_addr)
		a->metrics_addr = cfg->metrics_addr;
	if (!a->api_token_file)
		a->api_token_file = cfg->api_token_file;
	a->alert_min_severity = cfg->alert_min_severity;
	a->spool_max_bytes = cfg->spool_max_bytes;
	a->report_interval_s = (double)cfg->report_interval_s;
	a->snapshot_interval_s = (double)cfg->snapshot_interval_s;
	a->backoff_max_s = (double)cfg->backoff_max_s;
	return append_list(a->alertmanagers, &a->n_alertmanagers, cfg->alertmanagers, cfg->n_alertmanagers,
			   "alerts.alertmanager") ||
	       append_list(a->policy_paths, &a->n_policy_paths, cfg->policy_paths, cfg->n_policy_paths, "policy.paths") ||
	       append_list(a->namespaces, &a->n_namespaces, cfg->namespaces, cfg->n_namespaces, "kubernetes.namespaces") ||
	       append_list(a->pod_labels, &a->n_pod_labels, cfg->pod_selector, cfg->n_pod_selector, "kubernetes.pod_selector") ||
	       append_list(a->identity_rules, &a->n_identity_rules, cfg->identity_rules, cfg->n_identity_rules, "identity.rules")
		       ? EXIT_USAGE : 0;
}

/* ---- the pipeline's view of the sensor ---------------------------------- */

static int dedup_snapshot(void *ctx) { return sensor_dedup_snapshot(ctx); }

/* From the batch-read copy the refresh takes first (pipeline_refresh_counts). */
static int dedup_lookup(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	return sensor_dedup_lookup_snapshot(ctx, key, val);
}

static int dedup_take(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	return sensor_dedup_take(ctx, key, val);
}

static const struct pipeline_dedup_ops sensor_dedup_ops = {
	.snapshot = dedup_snapshot, .lookup = dedup_lookup, .take = dedup_take,
};

static void tls_open(void *ctx, uint32_t tgid, const char *abs_path, const struct reach_dedup_key *key)
{
	tls_on_open(ctx, tgid, abs_path, key);
}

static void tls_exec(void *ctx, uint32_t tgid, const char *path) { tls_on_exec(ctx, tgid, path); }
static void tls_fork(void *ctx, uint32_t parent, uint32_t child) { tls_on_fork(ctx, parent, child); }
static void tls_exit(void *ctx, uint32_t tgid) { tls_on_exit(ctx, tgid); }

static const char *tls_library(void *ctx, uint32_t tgid, const char **why)
{
	return tls_process_library(ctx, tgid, why);
}

static const struct pipeline_tls_ops tls_coverage_ops = {
	.on_open = tls_open, .on_exec = tls_exec, .on_fork = tls_fork, .on_exit = tls_exit, .library = tls_library,
};

/* ---- setup ------------------------------------------------------------- */

static int build_catalog(struct agent *ag, const struct reach_config *cfg, const struct args *a)
{
	char err[512];
	int rc;

	ag->catalog = catalog_new();
	if (!ag->catalog) {
		log_error("allocating the secret catalogue: %s", strerror(ENOMEM));
		return EXIT_START_FAILED;
	}
	if (cfg->builtin_secrets && (rc = catalog_add_builtin(ag->catalog))) {
		log_error("loading the built-in secret catalogue: %s", strerror(-rc));
		return EXIT_START_FAILED;
	}
	for (int i = 0; i < cfg->n_secret_patterns; i++) {
		/* "PATTERN [CATEGORY]": the config loader already rejects more words */
		char *entry = strdup(cfg->secret_patterns[i]), *category;

		if (!entry) {
			log_error("allocating the secret catalogue: %s", strerror(ENOMEM));
			return EXIT_START_FAILED;
		}
		category = entry + strcspn(entry, " \t");
		if (*category) {
			*category++ = '\0';
			category += strspn(category, " \t");
		}
		rc = catalog_add(ag->catalog, entry, *category ? category : NULL);
		free(entry);
		if (rc) {
			log_error("%s: secrets.patterns: '%s' is not a valid pattern (absolute, '**/...', '~/...' or a bare file name)",
				  a->config_file, cfg->secret_patterns[i]);
			return EXIT_USAGE;
		}
	}
	for (int i = 0; i < cfg->n_secret_pattern_files; i++) {
		if (catalog_add_file(ag->catalog, cfg->secret_pattern_files[i], err, sizeof(err))) {
			log_error("secret pattern file: %s", err);
			return EXIT_USAGE;
		}
	}
	for (int i = 0; i < a->n_pattern_files; i++) {
		if (catalog_add_file(ag->catalog, a->pattern_files[i], err, sizeof(err))) {
			log_error("--secret-patterns: %s", err);
			return EXIT_USAGE;
		}
	}
	log_debug("secret catalogue: %zu rules", catalog_size(ag->catalog));
	return 0;
}

static int build_netclass(struct agent *ag, const struct reach_config *cfg, const struct args *a)
{
	netclass_init(&ag->netclass);
	/* values were validated where they were read (flags, config lines) */
	for (int i = 0; i < a->n_cluster_cidrs; i++)
		netclass_add_cluster_cidr(&ag->netclass, a->cluster_cidrs[i]);
	for (int i = 0; i < cfg->n_cluster_cidrs; i++)
		if (netclass_add_cluster_cidr(&ag->netclass, cfg->cluster_cidrs[i]) == -ENOSPC) {
			log_error("egress.cluster_cidrs: more than %d ranges in all", NETCLASS_MAX_CIDRS);
			return EXIT_USAGE;
		}
	for (int i = 0; i < a->n_apiservers; i++)
		netclass_add_apiserver(&ag->netclass, a->apiservers[i]);
	for (int i = 0; i < cfg->n_apiservers; i++)
		if (netclass_add_apiserver(&ag->netclass, cfg->apiservers[i]) == -ENOSPC) {
			log_error("egress.apiserver: more than %d endpoints in all", NETCLASS_MAX_APISERVERS);
			return EXIT_USAGE;
		}
	if (!a->n_apiservers && !cfg->n_apiservers && netclass_add_apiserver_from_env(&ag->netclass)) {
		log_error("KUBERNETES_SERVICE_HOST='%s' is not an address", getenv("KUBERNETES_SERVICE_HOST"));
		return EXIT_USAGE;
	}
	return 0;
}

static int monitor_cgroups(struct agent *ag, const char *const *dirs, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t id;
		int rc = cgroup_check_v2_dir(dirs[i]);

		if (rc == -EMEDIUMTYPE) {
			log_error("--cgroup %s: not a cgroup v2 directory (is cgroup2 mounted there?)", dirs[i]);
			return EXIT_USAGE;
		}
		if (rc) {
			log_error("--cgroup %s: %s", dirs[i], strerror(-rc));
			return EXIT_USAGE;
		}
		if ((rc = cgroup_id_of(dirs[i], &id))) {
			log_error("--cgroup %s: reading its id: %s", dirs[i], strerror(-rc));
			return EXIT_START_FAILED;
		}
		if ((rc = sensor_monitor_cgroup(ag->sensor, id))) {
			log_error("--cgroup %s: adding it to the monitored set: %s", dirs[i], strerror(-rc));
			return EXIT_START_FAILED;
		}
		log_debug("monitoring cgroup %s (id %" PRIu64 ") and below", dirs[i], id);
	}
	return 0;
}

static int write_ready_file(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f)) {
		log_error("--ready-file %s: %s", path, strerror(errno));
		return EXIT_START_FAILED;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* ---- identity, ledger, API ---------------------------------------------- */

static void persist_ledger_now(struct agent *ag)
{
	char err[512];

	if (ledger_save(ag->ledger, ag->node, ag->ledger_path, err, sizeof(err))) {
		/* once per distinct failure, not every interval */
		if (strcmp(err, ag->last_persist_error) != 0)
			log_warn("saving the ledger: %s (will retry)", err);
		snprintf(ag->last_persist_error, sizeof(ag->last_persist_error), "%s", err);
		return;
	}
	ag->last_persist_unix_ms = unix_now_ms();
	ag->last_persist_error[0] = '\0';
	shipping_publish_ledger(ag->ship, ag->ledger);
}

/* Collects a finished background save (non-blocking unless wait). */
static void reap_persist(struct agent *ag, bool wait)
{
	int status;
	pid_t pid;

	if (ag->persist_child <= 0)
		return;
	pid = waitpid(ag->persist_child, &status, wait ? 0 : WNOHANG);
	if (pid == 0)
		return; /* still saving */
	ag->persist_child = 0;
	if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		ag->last_persist_unix_ms = ag->persist_started_ms;
		ag->last_persist_error[0] = '\0';
		shipping_publish_ledger(ag->ship, ag->ledger);
	} else if (pid > 0) {
		snprintf(ag->last_persist_error, sizeof(ag->last_persist_error),
			 "background save failed (its reason is in the log)");
	}
}

/* Periodic save in a forked child: it writes a copy-on-write snapshot of the
 * ledger while this process keeps draining the ring buffer (a large ledger
 * takes a second or more to encode, compress and fsync). */
static void persist_ledger(struct agent *ag)
{
	pid_t pid;

	reap_persist(ag, false);
	if (ag->persist_child > 0) {
		ag->persists_skipped++; /* the previous save is still running */
		return;
	}
	ag->persist_started_ms = unix_now_ms();
	pid = fork();
	if (pid < 0) {
		persist_ledger_now(ag); /* cannot fork: save here, stalling briefly */
		return;
	}
	if (pid == 0) {
		char err[512];
		int rc = ledger_save(ag->ledger, ag->node, ag->ledger_path, err, sizeof(err));

		if (rc)
			log_warn("saving the ledger: %s (will retry)", err);
		_exit(rc ? 1 : 0); /* no atexit handlers, no BPF teardown in the child */
	}
	ag->persist_child = pid;
}

static int open_ledger(struct agent *ag, const char *state_dir)
{
	char err[512], moved[4200];
	int rc;

	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		log_error("--state-dir %s: %s", state_dir, strerror(errno));
		return EXIT_START_FAILED;
	}
	if ((size_t)snprintf(ag->ledger_path, sizeof(ag->ledger_path), "%s/%s", state_dir, LEDGER_FILE) >=
	    sizeof(ag->ledger_path)) {
		log_error("--state-dir %s: path too long", state_dir);
		return EXIT_USAGE;
	}
	/* the ledger keeps its strings in the observed model's table: an edge's
	 * object, name, executables and exec chain are then stored once */
	ag->ledger = ledger_new_sharing(LEDGER_MAX_IDENTITIES, LEDGER_MAX_EDGES, observed_strings(ag->pipe.observed));
	if (!ag->ledger) {
		log_error("allocating the ledger: %s", strerror(ENOMEM));
		return EXIT_START_FAILED;
	}
	rc = ledger_load(ag->ledger, ag->ledger_path, NULL, err, sizeof(err));
	if (rc == -EBADMSG) {
		ledger_free(ag->ledger);
		ag->ledger = ledger_new_sharing(LEDGER_MAX_IDENTITIES, LEDGER_MAX_EDGES, observed_strings(ag->pipe.observed));
		if (!ag->ledger)
			return EXIT_START_FAILED;
		if (ledger_quarantine(ag->ledger_path, moved, sizeof(moved)) == 0)
			log_warn("the saved ledger is corrupt (%s): kept aside as %s, starting with an empty ledger", err, moved);
		else
			log_warn("the saved ledger is corrupt (%s) and could not be moved aside: starting empty", err);
	} else if (rc && rc != -ENOENT) {
		log_error("loading the ledger: %s", err);
		return EXIT_START_FAILED;
	} else if (rc == 0) {
		log_info("ledger loaded: %zu identities, %zu edges", ledger_identities(ag->ledger), ledger_edges(ag->ledger));
	}
	return 0;
}


/* ---- the local API's view of the daemon --------------------------------- */

static void daemon_view(void *ctx, struct api_daemon_view *v)
{
	struct agent *ag = ctx;

	v->hooks = sensor_hook_names(ag->sensor);
	v->syscall_hooks = syscall_hook_style_name(syscall_hooks_active(sensor_syscall_hooks(ag->sensor)));
	v->have_losses = sensor_read_losses(ag->sensor, &v->losses) == 0;
	v->tls_files_probed = ag->tls ? tls_files_attached(ag->tls) : 0;
	v->uprobes_attached = sensor_uprobes_attached(ag->sensor);
	v->pods = ag->pods != NULL;
	if (ag->pods) {
		v->pods_monitored = pod_monitor_count(ag->pods);
		v->pods_waiting = pod_monitor_waiting(ag->pods);
	}
}

static void verify_epochs(struct agent *ag);
static void api_verify_epochs(void *ctx) { verify_epochs(ctx); }

static void wire_api(struct agent *ag)
{
	ag->api = (struct api_handlers){
		.pipe = &ag->pipe, .policies = &ag->policies, .default_alert = ag->default_alert,
		.epoch_tracker = ag->epoch_tracker, .kube = ag->kube, .ship = ag->ship, .node = ag->node,
		.started_s = ag->started_s, .monitor_all = ag->monitor_all,
		.ledger_file = ag->ledger_path, .last_persist_unix_ms = &ag->last_persist_unix_ms,
		.last_persist_error = ag->last_persist_error, .persists_skipped = &ag->persists_skipped,
		.daemon_view = daemon_view, .verify_epochs = api_verify_epochs, .ctx = ag,
	};
}

static void ignore_pod_event(void *ctx, enum kube_event_type type, const struct kube_pod *pod)
{
	(void)ctx, (void)type, (void)pod;
}

#define VERIFY_INTERVAL_S 5.0

static void log_epoch_change(void *ctx, const struct epoch_record *r)
{
	struct agent *ag = ctx;

	shipping_epoch(ag->ship, r, ag->verifying);
	if (r->state == EPOCH_SETTLING)
		log_info("epoch opened: %s %s -> %s (verified after the settle window)", r->identity,
			 r->from_version[0] ? r->from_version : "-", r->to_version[0] ? r->to_version : "-");
	else if (r->state == EPOCH_VERIFIED)
		log_msg(r->verdict == VERDICT_PASS ? LOG_INFO : LOG_WARN, "epoch verified: %s %s: %s%s%s", r->identity,
			r->to_version[0] ? r->to_version : "-", verdict_name(r->verdict), r->reasons[0] ? ": " : "",
			r->reasons);
	else
		log_warn("epoch drifted: %s %s passed and now fails: %s", r->identity, r->to_version[0] ? r->to_version : "-",
			 r->reasons);
}

/* A new finding: the alert event. Fingerprints and paths only, never a
 * credential (findings never hold one). */
static void alert_new_finding(void *ctx, const struct finding *f)
{
	(void)ctx;
	log_warn("finding: %s %s %s %s %s (id %s)", severity_name(f->severity), f->identity, finding_kind_name(f->kind),
		 f->edge_kind, f->object, f->id);
}

/* The agent's own verification: opens, settles and verifies epochs. */
static void verify_epochs(struct agent *ag)
{
	struct verify_opts opts = { .health = api_health(&ag->api), .alert_without_policy = ag->default_alert };
	struct verify_result r;

	if (!ag->epoch_tracker || verify_ledger(ag->ledger, &ag->policies, &opts, &r))
		return;
	ag->verifying = &r;
	epoch_tracker_update(ag->epoch_tracker, &r, unix_now_ms(), log_epoch_change, ag);
	ag->verifying = NULL;
	shipping_findings(ag->ship, &r);
	verify_result_free(&r);
}

static uint64_t mix_stat(uint64_t h, const char *name, const struct stat *st)
{
	for (const char *c = name; *c; c++)
		h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
	h = (h ^ (uint64_t)st->st_mtim.tv_sec) * 0x100000001b3ULL;
	h = (h ^ (uint64_t)st->st_mtim.tv_nsec) * 0x100000001b3ULL;
	h = (h ^ (uint64_t)st->st_size) * 0x100000001b3ULL;
	return (h ^ (uint64_t)st->st_ino) * 0x100000001b3ULL;
}

/* A cheap signature of the policy files (names, mtimes, sizes, inodes: an
 * editor's rename-over counts): when it changes, the policies are reloaded. */
static uint64_t policy_signature(struct agent *ag)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < ag->n_policy_paths; i++) {
		struct stat st;
		DIR *d;
		struct dirent *e;

		if (stat(ag->policy_paths[i], &st) != 0) {
			h = (h ^ 0x5a5a) * 0x100000001b3ULL; /* gone: a change too */
			continue;
		}
		h = mix_stat(h, ag->policy_paths[i], &st);
		if (!S_ISDIR(st.st_mode) || !(d = opendir(ag->policy_paths[i])))
			continue;
		while ((e = readdir(d))) {
			char file[4600];

			if (e->d_name[0] == '.')
				continue;
			snprintf(file, sizeof(file), "%s/%s", ag->policy_paths[i], e->d_name);
			if (stat(file, &st) == 0)
				h ^= mix_stat(0, file, &st); /* order-independent over readdir */
		}
		closedir(d);
	}
	return h;
}

/* Latest epoch verification per identity, counted by verdict. */
static void count_verdicts(struct agent *ag, struct agent_counters *c)
{
	const struct epoch_record *recs;
	size_t n = epoch_tracker_records(ag->epoch_tracker, &recs);
	struct hmap *latest = hmap_new();
	struct hmap_iter it;
	const char *key;
	void *v;

	if (!latest)
		return;
	for (size_t i = 0; i < n; i++) /* in order: a later record of an identity wins */
		hmap_put(latest, recs[i].identity, (void *)&recs[i], NULL);
	hmap_iter_init(&it, latest);
	while (hmap_iter_next(&it, &key, &v)) {
		const struct epoch_record *r = v;

		if (r->state == EPOCH_DRIFTED)
			c->verdicts_drifted++;
		else if (r->state == EPOCH_VERIFIED)
			*(r->verdict == VERDICT_PASS	 ? &c->verdicts_pass
			  : r->verdict == VERDICT_FAIL ? &c->verdicts_fail
						       : &c->verdicts_inconclusive) += 1;
	}
	hmap_free(latest, NULL);
}

static void fill_counters(struct agent *ag, struct agent_counters *c)
{
	struct reach_loss_counters l = { 0 };

	memset(c, 0, sizeof(*c));
	c->uptime_s = now_s() - ag->started_s;
	sensor_read_losses(ag->sensor, &l);
	for (int k = 1; k < REACH_EV__MAX && c->n_kinds < SHIPPING_MAX_KINDS; k++) {
		c->event_kind[c->n_kinds] = output_event_name(k);
		c->events[c->n_kinds] = ag->pipe.stats.events[k];
		for (int r = 0; r < REACH_LOSS__MAX && r < 4; r++)
			c->losses[c->n_kinds][r] = l.counters[k][r];
		c->n_kinds++;
	}
	/* kind 0: losses of shared maps that belong to no event kind */
	c->event_kind[c->n_kinds] = output_event_name(0);
	for (int r = 0; r < REACH_LOSS__MAX && r < 4; r++)
		c->losses[c->n_kinds][r] = l.counters[0][r];
	c->n_kinds++;
	for (int r = 0; r < REACH_LOSS__MAX && r < 4; r++)
		c->loss_reason[c->n_reasons++] = output_loss_name(r);
	c->parse_malformed_http = ag->pipe.stats.http_malformed;
	c->parse_malformed_dns = ag->pipe.stats.dns_malformed;
	c->edges_dropped = observed_edges_dropped(ag->pipe.observed) + ledger_edges_dropped(ag->ledger);
	c->observed_edges = observed_edge_total(ag->pipe.observed);
	c->observed_edges_evicted = observed_edges_evicted(ag->pipe.observed);
	c->identities = ledger_identities(ag->ledger);
	c->edges = ledger_edges(ag->ledger);
	c->tls_blind_processes = ag->pipe.tls_blind_edges;
	c->hooks_missing = false; /* every hook is mandatory: start-up fails without one */
	c->uprobes_attached = tls_attaches(ag->tls);
	c->uprobe_attach_failures = tls_attach_failures(ag->tls);
	count_verdicts(ag, c);
}

/* The counters walk every edge (tls-blind) and the epoch records: only
 * gathered when a report or /metrics will use them. */
static void tick_shipping(struct agent *ag)
{
	struct agent_counters c;

	if (!shipping_wants_counters(ag->ship))
		return;
	fill_counters(ag, &c);
	shipping_tick(ag->ship, &c, ag->ledger);
}

static void periodic(struct agent *ag)
{
	/* keeps counts of edges whose map entries the LRU may evict */
	pipeline_refresh_counts(&ag->pipe);
	pipeline_feed_ledger(&ag->pipe);
	ag->pipe.observed_stuck = false; /* identities may have resolved: try making room again */
	if (ag->pods)
		pod_monitor_tick(ag->pods);
	if (ag->n_policy_paths) {
		uint64_t sig = policy_signature(ag);

		if (sig != ag->policy_signature) {
			ag->policy_signature = sig;
			reload_policies = 1; /* a policy file changed: reload as on SIGHUP */
		}
	}
	if (now_s() - ag->last_verify_s >= VERIFY_INTERVAL_S) {
		verify_epochs(ag);
		ag->last_verify_s = now_s();
	}
	tick_shipping(ag);
}

static int run_loop(struct agent *ag, double duration_s, double persist_s)
{
	double start = now_s(), last_refresh = start, last_persist = start;

	while (!exiting) {
		int rc = sensor_poll(ag->sensor, 100);
		double t = now_s();

		if (rc < 0) {
			log_error("reading the ring buffer: %s", strerror(-rc));
			return EXIT_START_FAILED;
		}
		if (reload_policies) {
			struct policy_set fresh;
			char err[1024];

			reload_policies = 0;
			if (load_policies(ag->policy_paths, ag->n_policy_paths, &fresh, err, sizeof(err))) {
				log_error("policy reload: %s: keeping the last good policies", err);
			} else {
				policy_set_free(&ag->policies);
				ag->policies = fresh;
				log_info("policies reloaded: %zu", ag->policies.n);
			}
		}
		if (ag->kube) /* without selection (--cgroup/--all) events are only drained */
			kube_drain(ag->kube, ag->pods ? pod_monitor_on_pod : ignore_pod_event, ag->pods);
		if (ag->api_fd >= 0)
			api_serve_pending(ag->api_fd, api_handle, &ag->api);
		if (t - last_refresh >= REFRESH_INTERVAL_S) {
			periodic(ag);
			last_refresh = t;
		}
		reap_persist(ag, false);
		if (t - last_persist >= persist_s) {
			persist_ledger(ag);
			last_persist = t;
		}
		if (duration_s > 0 && t - start >= duration_s)
			break;
	}
	/* drain what is still queued before the summary */
	while (sensor_poll(ag->sensor, 0) > 0)
		;
	ag->pipe.stats.duration_s = now_s() - start;
	return 0;
}

static int monitor_pod_cgroup(void *ctx, uint64_t id) { return sensor_monitor_cgroup(ctx, id); }
static int unmonitor_pod_cgroup(void *ctx, uint64_t id) { return sensor_unmonitor_cgroup(ctx, id); }

static int start_kube(struct agent *ag, const struct args *a)
{
	struct kube_opts ko = { .api_url = a->kube_api, .token_file = a->kube_token_file, .ca_file = a->kube_ca,
				.node_name = a->node_name };
	char err[512], mount[256];
	int rc;

	if ((rc = kube_new(&ag->kube, &ko, err, sizeof(err)))) {
		log_error("--kube: %s", err);
		return EXIT_USAGE;
	}
	if (cgroup_find_v2_mount(mount, sizeof(mount))) {
		log_error("--kube: no cgroup2 mount to find pod cgroups in");
		return EXIT_START_FAILED;
	}
	/* --cgroup / --all keep working: pods are then resolved, not selected */
	if (!a->all && !a->n_cgroups) {
		struct cgroup_target pod_cgroups = { monitor_pod_cgroup, unmonitor_pod_cgroup, ag->sensor };

		ag->pods = pod_monitor_new(&pod_cgroups, mount);
		if (!ag->pods)
			return EXIT_START_FAILED;
		for (int i = 0; i < a->n_namespaces; i++)
			pod_monitor_add_namespace(ag->pods, a->namespaces[i]);
		for (int i = 0; i < a->n_pod_labels; i++)
			pod_monitor_add_label(ag->pods, a->pod_labels[i]);
	}
	if ((rc = kube_start(ag->kube))) {
		log_error("--kube: starting the pod watcher: %s", strerror(-rc));
		return EXIT_START_FAILED;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { .default_alert = -1, .settle_s = -1 };
	struct reach_config cfg;
	struct agent ag = { .api_fd = -1 };
	struct sensor_opts sopts = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	char err[512];
	int rc;

	config_init(&cfg);
	rc = parse_args(argc, argv, &a);
	if (rc)
		goto out;
	log_set_verbose(a.verbose);
	if (a.config_file && config_load_file(&cfg, a.config_file, err, sizeof(err))) {
		log_error("--config: %s", err);
		rc = EXIT_USAGE;
		goto out;
	}
	if ((rc = merge_config(&a, &cfg)))
		goto out;
	if (!a.n_cgroups && !a.all && !cfg.n_cgroups && cfg.monitor_all != 1 && !a.kube && !a.check_config) {
		log_error("nothing to monitor: give --cgroup PATH (repeatable), --all, or --kube");
		rc = EXIT_USAGE;
		goto out;
	}
	if ((rc = build_catalog(&ag, &cfg, &a)))
		goto out;
	ag.policy_paths = a.policy_paths;
	ag.n_policy_paths = a.n_policy_paths;
	ag.default_alert = a.default_alert == 1;
	ag.policy_signature = policy_signature(&ag);
	ag.epoch_tracker = epoch_tracker_new((int64_t)((a.settle_s >= 0 ? a.settle_s : 600) * 1000));
	if (!ag.epoch_tracker) {
		rc = EXIT_START_FAILED;
		goto out;
	}
	epoch_tracker_on_new_finding(ag.epoch_tracker, alert_new_finding, &ag);
	if (load_policies(a.policy_paths, a.n_policy_paths, &ag.policies, err, sizeof(err))) {
		log_error("--policy: %s", err);
		rc = EXIT_USAGE;
		goto out;
	}
	if (a.check_config) {
		/* the config and every policy loaded: what a deploy pipeline
		 * checks. URLs as logs show them: they may carry credentials */
		char ship[512] = "nowhere", otlp[512] = "off";

		if (a.ship_url)
			http_target_describe(&(struct http_target){ .url = a.ship_url }, ship, sizeof(ship));
		if (a.otlp_url)
			http_target_describe(&(struct http_target){ .url = a.otlp_url }, otlp, sizeof(otlp));
		printf("config ok: %s; %zu policies; shipping to %s; alerts to %d alertmanagers%s; otlp %s; metrics %s\n",
		       a.config_file ? a.config_file : "(flags only)", ag.policies.n, ship, a.n_alertmanagers,
		       a.webhook ? " and a webhook" : "", otlp, a.metrics_addr ? a.metrics_addr : "off");
		rc = 0;
		goto out;
	}
	if (sensor_check_prerequisites(err, sizeof(err))) {
		log_error("cannot start: %s", err);
		rc = EXIT_START_FAILED;
		goto out;
	}

	if (pipeline_init(&ag.pipe, a.observed_edges ? a.observed_edges : cfg.observed_edges)) {
		log_error("allocating the reach model: %s", strerror(ENOMEM));
		rc = EXIT_START_FAILED;
		goto out;
	}
	ag.pipe.catalog = ag.catalog;
	ag.pipe.netclass = &ag.netclass;
	ag.pipe.dedup = &sensor_dedup_ops;
	ag.pipe.events_out = a.events ? stdout : NULL;
	ag.started_s = now_s();
	{
		struct timespec rt, bt;

		clock_gettime(CLOCK_REALTIME, &rt);
		clock_gettime(CLOCK_BOOTTIME, &bt);
		ag.pipe.boot_to_unix_ms = ((int64_t)rt.tv_sec - bt.tv_sec) * 1000 + (rt.tv_nsec - bt.tv_nsec) / 1000000;
	}
	if (gethostname(ag.node, sizeof(ag.node)) < 0)
		snprintf(ag.node, sizeof(ag.node), "unknown");
	if (a.node_name || getenv("NODE_NAME"))
		snprintf(ag.node, sizeof(ag.node), "%s", a.node_name ? a.node_name : getenv("NODE_NAME"));
	if ((rc = open_ledger(&ag, a.state_dir ? a.state_dir : cfg.state_dir ? cfg.state_dir : DEFAULT_STATE_DIR)))
		goto out;
	ag.pipe.ledger = ag.ledger;
	{
		char key_path[4200];
		const char *dir = a.state_dir ? a.state_dir : cfg.state_dir ? cfg.state_dir : DEFAULT_STATE_DIR;

		snprintf(key_path, sizeof(key_path), "%s/fingerprint.key", dir);
		if (fp_key_load_or_create(a.fingerprint_key ? a.fingerprint_key : key_path, &ag.pipe.fp_key, err, sizeof(err))) {
			log_error("fingerprint key: %s", err);
			rc = EXIT_START_FAILED;
			goto out;
		}
	}
	if ((rc = build_netclass(&ag, &cfg, &a)))
		goto out;
	output_init_clock();

	sopts.ringbuf_bytes = a.ringbuf_bytes ? a.ringbuf_bytes : cfg.ringbuf_bytes;
	sopts.dedup_entries = a.dedup_entries ? a.dedup_entries : cfg.dedup_entries;
	sopts.syscall_hooks = syscall_hook_style_from_name(a.syscall_hooks ? a.syscall_hooks
							   : cfg.syscall_hooks ? cfg.syscall_hooks : "auto");
	sopts.on_event = pipeline_on_event;
	sopts.ctx = &ag.pipe;
	if (sensor_start(&ag.sensor, &sopts, err, sizeof(err))) {
		log_error("cannot start: %s", err);
		rc = EXIT_START_FAILED;
		goto out;
	}
	ag.pipe.dedup_ctx = ag.sensor;
	log_debug("syscall exits: %s", syscall_hooks_describe(sensor_syscall_hooks(ag.sensor)));
	ag.tls = tls_coverage_new(ag.sensor);
	if (!ag.tls) {
		log_error("allocating the TLS coverage table: %s", strerror(ENOMEM));
		rc = EXIT_START_FAILED;
		goto out;
	}
	tls_scan_all_processes(ag.tls);
	ag.pipe.tls = &tls_coverage_ops;
	ag.pipe.tls_ctx = ag.tls;
	if ((rc = monitor_cgroups(&ag, a.cgroups, a.n_cgroups)) ||
	    (rc = monitor_cgroups(&ag, (const char *const *)cfg.cgroups, cfg.n_cgroups)))
		goto out;
	ag.monitor_all = a.all || cfg.monitor_all == 1;
	sensor_set_monitor_all(ag.sensor, ag.monitor_all);
	if (a.kube && (rc = start_kube(&ag, &a)))
		goto out;
	ag.resolver = identity_resolver_new(ag.kube);
	if (!ag.resolver) {
		rc = EXIT_START_FAILED;
		goto out;
	}
	ag.pipe.resolver = ag.resolver;
	for (int i = 0; i < a.n_identity_rules; i++) {
		if (identity_add_rule(ag.resolver, a.identity_rules[i])) {
			log_error("--identity-rule: '%s' is not 'cgroup:/GLOB IDENTITY' or 'uid:N IDENTITY'", a.identity_rules[i]);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	ag.api_fd = api_listen(a.socket_path ? a.socket_path : API_DEFAULT_SOCKET, err, sizeof(err));
	if (ag.api_fd < 0) {
		log_error("cannot start: %s", err);
		rc = EXIT_START_FAILED;
		goto out;
	}

	{
		struct shipping_opts so = {
			.node = ag.node, .version = REACH_VERSION,
			.state_dir = a.state_dir ? a.state_dir : DEFAULT_STATE_DIR,
			.ship_url = a.ship_url, .ship_token_file = a.ship_token_file, .ship_ca = a.ship_ca,
			.spool_dir = a.spool_dir, .spool_max_bytes = a.spool_max_bytes,
			.report_interval_s = a.report_interval_s, .snapshot_interval_s = a.snapshot_interval_s,
			.backoff_max_s = a.backoff_max_s,
			.alertmanagers = a.alertmanagers, .n_alertmanagers = a.n_alertmanagers, .webhook = a.webhook,
			.alert_min_severity = a.alert_min_severity, .otlp_url = a.otlp_url,
			.metrics_addr = a.metrics_addr, .api_token_file = a.api_token_file,
		};

		if (shipping_start(&ag.ship, &so, err, sizeof(err))) {
			log_error("cannot start: %s", err);
			rc = EXIT_START_FAILED;
			goto out;
		}
		shipping_publish_ledger(ag.ship, ag.ledger);
	}
	if (a.drop_caps) {
		char have[512];
		bool keep_extra = caps_uprobe_needs_extra();

		if (keep_extra)
			log_info("--drop-caps: keeping cap_sys_admin: this kernel refuses uprobes (TLS credential capture) "
				 "with cap_perfmon alone");
		/* everything that needs more is loaded, attached and listening */
		if (caps_drop_to_agent_needs(keep_extra, err, sizeof(err))) {
			log_error("--drop-caps: %s", err);
			rc = EXIT_START_FAILED;
			goto out;
		}
		caps_describe(caps_effective(), have, sizeof(have));
		log_info("capabilities dropped to %s", have);
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a reachctl that left early: EPIPE, not death */
	if (a.ready_file || cfg.ready_file) {
		if ((rc = write_ready_file(a.ready_file ? a.ready_file : cfg.ready_file)))
			goto out;
	}
	{
		size_t n_hooks = 0;

		for (const char *const *h = sensor_hook_names(ag.sensor); *h; h++)
			n_hooks++;
		wire_api(&ag);
		tick_shipping(&ag); /* /metrics answers from the first moment the agent is ready */
		shipping_set_ready(ag.ship, true);
		log_info("ready: %zu hooks attached, monitoring %s", n_hooks,
			 (a.all || cfg.monitor_all == 1) ? "every process" : ag.pods ? "pods" : "the given cgroups");
	}

	if ((rc = run_loop(&ag, a.duration_s, a.persist_s > 0 ? a.persist_s : DEFAULT_PERSIST_S)))
		goto out;
	periodic(&ag);
	reap_persist(&ag, true);
	persist_ledger_now(&ag); /* the last one in the foreground: nothing may be lost */
	shipping_stop(ag.ship, ag.ledger); /* a last delta, spooled */
	ag.ship = NULL;
	if ((rc = sensor_read_losses(ag.sensor, &ag.pipe.stats.losses)))
		log_warn("reading the loss counters: %s", strerror(-rc));
	rc = 0;
	ag.pipe.stats.dns_names_dropped = dnsnames_dropped(ag.pipe.dns);
	ag.pipe.stats.observed_edges_dropped = observed_edges_dropped(ag.pipe.observed);
	ag.pipe.stats.observed_edges_evicted = observed_edges_evicted(ag.pipe.observed);
	if (ag.pipe.stats.observed_edges_dropped)
		log_warn("%" PRIu64 " new edges were not recorded: %zu edges in memory and none of them could go "
			 "to the ledger (identities pending)", ag.pipe.stats.observed_edges_dropped, ag.pipe.observed_cap);
	if (a.events)
		output_summary_json(stdout, ag.pipe.observed, &ag.pipe.stats);
	else
		output_summary_text(stdout, ag.pipe.observed, &ag.pipe.stats);
	if (output_loss_total(&ag.pipe.stats.losses, REACH_LOSS_RINGBUF_FULL))
		log_warn("%" PRIu64 " events lost because the ring buffer was full: raise --ringbuf-bytes",
			 output_loss_total(&ag.pipe.stats.losses, REACH_LOSS_RINGBUF_FULL));
out:
	if (ag.persist_child > 0) /* an early error exit: do not leave it behind */
		reap_persist(&ag, true);
	shipping_stop(ag.ship, NULL);
	if (ag.api_fd >= 0) {
		close(ag.api_fd);
		unlink(a.socket_path ? a.socket_path : API_DEFAULT_SOCKET);
	}
	kube_stop(ag.kube); /* joins the watcher before anything it reads goes */
	pod_monitor_free(ag.pods);
	identity_resolver_free(ag.resolver);
	ledger_free(ag.ledger);
	policy_set_free(&ag.policies);
	epoch_tracker_free(ag.epoch_tracker);
	tls_coverage_free(ag.tls);
	sensor_stop(ag.sensor);
	pipeline_fini(&ag.pipe);
	catalog_free(ag.catalog);
	config_free(&cfg);
	return rc;
}
