/*
 * reachd: the reach agent. Parses arguments and wires the stages together:
 * sensor (kernel events) -> catalogue + path resolution -> observed reach
 * -> output. Exit codes: 0 done, 1 could not start, 2 bad usage or config.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <json-c/json.h>
#include "common/api.h"
#include "common/caps.h"
#include "common/cgroup.h"
#include "common/fileio.h"
#include "common/hmap.h"
#include "common/log.h"
#include "config/config.h"
#include "identity/identity.h"
#include "identity/kube.h"
#include "http/fingerprint.h"
#include "http/http_head.h"
#include "policy/policy.h"
#include "policy/verify.h"
#include "policy/epochs.h"
#include "reach/catalog.h"
#include "reach/ledger.h"
#include "reach/ledger_feed.h"
#include "reach/ledger_persist.h"
#include "reach/dns.h"
#include "reach/dnsnames.h"
#include "reach/netclass.h"
#include "reach/observed.h"
#include "reach/path.h"
#include "reach/proctree.h"
#include "reach/redact.h"
#include "sensor/sensor.h"
#include "sensor/tls.h"
#include "cmd/output.h"
#include "cmd/shipping.h"
#include "ship/http_post.h"
#include "cmd/pod_monitor.h"

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
	struct catalog *catalog;
	struct observed *observed;
	size_t observed_cap;   /* the observed model's working set (edges, all cgroups) */
	bool observed_stuck;   /* full and nothing evictable: retried after the next feed */
	struct proctree *procs;
	struct sensor *sensor;
	struct tls_coverage *tls;
	struct fp_key fp_key;
	struct dnsnames *dns;
	struct netclass netclass;
	struct run_stats stats;
	int print_events;
	/* identity, ledger, API */
	struct kube *kube;
	struct identity_resolver *resolver;
	struct pod_monitor *pods;
	struct hmap *identity_cache;   /* "cgroup_id/uid" -> struct identity (resolved only) */
	struct ledger *ledger;
	char ledger_path[4096];
	char node[256];
	int api_fd;
	double started_s;
	int64_t boot_to_unix_ms;
	int64_t last_persist_unix_ms;
	char last_persist_error[512];
	uint64_t persists_skipped;     /* intervals skipped because a save was still running */
	struct ledger_persist *persist; /* saves the ledger: the fields above mirror its status */
	struct feed_stats feed;
	struct policy_set policies;
	struct hmap *epochs;           /* identity -> version string set by `reachctl epoch start` */
	struct hmap *exe_epochs;       /* cgroup id -> struct exe_epoch: host identities' software version */
	const char *const *policy_paths;
	int n_policy_paths;
	bool default_alert;
	uint64_t policy_signature;     /* of the policy files: a change reloads them */
	struct epoch_tracker *epoch_tracker;
	double last_verify_s;
	bool monitor_all;
	int n_cgroups;
	struct shipping *ship;
	uint64_t tls_blind_edges;              /* TLS edges of class tls-blind (record_tls_coverage) */
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

/* ---- event handling ---------------------------------------------------- */

/* An edge observed_add() could not record: the cap is counted and reported
 * at exit and in status, so only allocation failures are logged here. */
static void warn_unrecorded(const char *kind)
{
	if (errno != ENOSPC)
		log_warn("out of memory recording a %s edge", kind);
}

static void print_if_new(struct agent *ag, uint64_t cgroup_id, const struct edge *e, bool is_new);
static struct edge *record_edge(struct agent *ag, enum edge_kind kind, const struct observation *obs, bool *is_new);
static void note_root_exec(struct agent *ag, uint64_t cgroup_id, const struct reach_exec_event *ev, const char *exe);

#define SECRET_CONTENT_MAX 8192

/* A secret file that holds a single token (a service-account token, an API
 * key file) is the credential itself: its keyed fingerprint, the same HMAC
 * the HTTP parser uses, links the read to the request that later sends it
 * (finding secret-sent). The content is read once, as the process sees the
 * file, hashed and wiped; it is never kept, logged or printed. */
static void fingerprint_secret_content(struct agent *ag, uint32_t tgid, const char *abs, char out[17])
{
	char path[4200], buf[SECRET_CONTENT_MAX + 1];
	size_t len = 0;
	ssize_t n;
	int fd;

	out[0] = '\0';
	/* Only through the reader's own root: the agent's view of the same path
	 * (in a pod: the agent's own service-account token) is another file,
	 * and its fingerprint would link the wrong secret. A reader gone before
	 * the event is handled leaves no fingerprint, and is counted. */
	snprintf(path, sizeof(path), "/proc/%u/root%s", tgid, abs);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0) {
		ag->stats.secret_content_unread++;
		return;
	}
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	close(fd);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	if (len >= 8 && len <= SECRET_CONTENT_MAX && !memchr(buf, '\n', len) && !memchr(buf, ' ', len) &&
	    !memchr(buf, '\0', len))
		fp_compute(&ag->fp_key, buf, len, out);
	explicit_bzero(buf, sizeof(buf));
}

static void handle_file_open(struct agent *ag, const struct reach_file_open_event *ev)
{
	char path[REACH_PATH_LEN], base[REACH_BASE_LEN], abs[REACH_PATH_LEN + REACH_BASE_LEN + 2];
	const char *category, *lineage[PROCTREE_LINEAGE_MAX];
	struct observation obs = { 0 };
	struct edge *e;
	bool is_new;

	memcpy(path, ev->path, sizeof(path));
	path[sizeof(path) - 1] = '\0';
	memcpy(base, ev->base, sizeof(base));
	base[sizeof(base) - 1] = '\0';
	if ((ev->flags & REACH_OPEN_F_RELATIVE) && (ev->flags & REACH_OPEN_F_BASE_FAIL)) {
		ag->stats.path_errors++;
		return;
	}
	if (path_make_absolute((ev->flags & REACH_OPEN_F_RELATIVE) ? base : NULL, path, abs, sizeof(abs))) {
		ag->stats.path_errors++;
		return;
	}
	if (ag->tls)
		tls_on_open(ag->tls, ev->hdr.tgid, abs, &ev->key); /* libssl/libgnutls being mapped */
	category = catalog_match(ag->catalog, abs);
	if (!category) {
		ag->stats.opens_not_secret++; /* neither stored nor printed */
		return;
	}
	obs.hdr = &ev->hdr;
	obs.key = &ev->key;
	obs.object = abs;
	obs.category = category;
	obs.open_flags = ev->open_flags;
	obs.new_map_entry = true;
	obs.requested_path = path;
	obs.exe = proctree_exe(ag->procs, ev->hdr.tgid);
	obs.n_lineage = proctree_lineage(ag->procs, ev->hdr.tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	e = record_edge(ag, EDGE_SECRET, &obs, &is_new);
	if (!e) {
		warn_unrecorded("secret");
		return;
	}
	if (is_new) {
		char fp[17] = "";

		fingerprint_secret_content(ag, ev->hdr.tgid, abs, fp);
		if (fp[0] && observed_set_content_fp(ag->observed, e, fp))
			log_warn("secret content fingerprint of %s not kept: out of memory", abs);
	}
	print_if_new(ag, ev->hdr.cgroup_id, e, is_new);
}

static void handle_exec(struct agent *ag, const struct reach_exec_event *ev)
{
	char filename[REACH_PATH_LEN], args[REACH_ARGS_LEN + 1], redacted[EDGE_MAX_ARGS][REACH_ARGS_LEN + 16];
	const char *argv[EDGE_MAX_ARGS], *lineage[PROCTREE_LINEAGE_MAX], *prev = NULL;
	struct observation obs = { 0 };
	size_t argc = 0, len = ev->args_len < REACH_ARGS_LEN ? ev->args_len : REACH_ARGS_LEN;
	bool truncated = ev->flags & REACH_EXEC_F_ARGS_TRUNC, is_new;
	struct edge *e;

	memcpy(filename, ev->filename, sizeof(filename));
	filename[sizeof(filename) - 1] = '\0';
	memcpy(args, ev->args, len);
	args[len] = '\0';
	for (size_t off = 0; off < len;) {
		const char *arg = args + off;

		if (argc == EDGE_MAX_ARGS) {
			truncated = true;
			break;
		}
		redact_arg(prev, arg, redacted[argc], sizeof(redacted[argc]));
		argv[argc] = redacted[argc];
		argc++;
		prev = arg;
		off += strlen(arg) + 1;
	}
	/* a root process of its cgroup (its parent is elsewhere): its executable
	 * is the workload's software version (host epochs) */
	if (!proctree_in_cgroup(ag->procs, ev->hdr.ppid, ev->hdr.cgroup_id))
		note_root_exec(ag, ev->hdr.cgroup_id, ev, filename);
	proctree_exec(ag->procs, ev->hdr.tgid, ev->hdr.ppid, ev->hdr.cgroup_id, filename);
	if (ag->tls)
		tls_on_exec(ag->tls, ev->hdr.tgid, filename);

	obs.hdr = &ev->hdr;
	obs.key = &ev->key;
	obs.object = filename;
	obs.exe = filename;
	obs.argv = argv;
	obs.argc = argc;
	obs.argv_truncated = truncated;
	obs.n_lineage = proctree_lineage(ag->procs, ev->hdr.tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	e = record_edge(ag, EDGE_TOOL, &obs, &is_new);
	if (!e)
		warn_unrecorded("tool");
	else
		print_if_new(ag, ev->hdr.cgroup_id, e, is_new);
}

static void print_if_new(struct agent *ag, uint64_t cgroup_id, const struct edge *e, bool is_new)
{
	const struct cgroup_reach *c;

	if (!is_new || !ag->print_events)
		return;
	c = observed_cgroup(ag->observed, cgroup_id);
	if (c)
		output_edge_json(stdout, c, e);
}

/* Ports where an established connection means TLS is being spoken. */
static bool is_tls_port(uint16_t port)
{
	return port == 443 || port == 8443 || port == 6443 || port == 9443;
}

/* Which TLS library a process uses and whether reach sees its plaintext:
 * one edge per (cgroup, executable), "covered" or "blind" with the reason. */
static void record_tls_coverage(struct agent *ag, const struct reach_event_hdr *hdr, const struct reach_dedup_key *key,
				const char *library)
{
	const char *why = NULL, *lineage[PROCTREE_LINEAGE_MAX];
	struct observation obs = { 0 };
	const char *exe = proctree_exe(ag->procs, hdr->tgid);
	bool is_new;
	struct edge *e;

	if (!library)
		library = tls_process_library(ag->tls, hdr->tgid, &why);
	obs.hdr = hdr;
	obs.key = key;
	obs.object = exe[0] ? exe : hdr->comm;
	obs.exe = exe;
	obs.category = library ? library : "none";
	obs.dest_class = library ? "covered" : "tls-blind";
	obs.detail = why;
	obs.n_lineage = proctree_lineage(ag->procs, hdr->tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	e = record_edge(ag, EDGE_TLS, &obs, &is_new);
	if (e && is_new && !library) {
		ag->tls_blind_edges++; /* an edge's class is fixed when it is made */
		log_warn("tls-blind: %s (pid %u) speaks TLS through %s", obs.object, hdr->tgid, why);
	}
	print_if_new(ag, hdr->cgroup_id, e, is_new);
}

static void handle_egress(struct agent *ag, const struct reach_egress_event *ev)
{
	const char *lineage[PROCTREE_LINEAGE_MAX];
	char address[64], object[96];
	struct observation obs = { 0 };
	struct netaddr addr;
	uint32_t ttl = 0;
	const char *name;
	struct edge *e;
	bool is_new;

	if ((ev->family != REACH_AF_INET && ev->family != REACH_AF_INET6) ||
	    (ev->proto != REACH_PROTO_TCP && ev->proto != REACH_PROTO_UDP) || ev->outcome >= REACH_OUT__MAX) {
		ag->stats.malformed_events++;
		return;
	}
	netaddr_from_raw(&addr, ev->family, ev->daddr); /* v4-mapped v6 becomes v4 */
	netaddr_format(&addr, address, sizeof(address));
	snprintf(object, sizeof(object), "%s/%s/%u", ev->proto == REACH_PROTO_TCP ? "tcp" : "udp", address, ev->dport);
	name = dnsnames_get(ag->dns, ev->hdr.cgroup_id, &addr, &ttl);

	obs.hdr = &ev->hdr;
	obs.key = &ev->key;
	obs.object = object;
	obs.exe = proctree_exe(ag->procs, ev->hdr.tgid);
	obs.n_lineage = proctree_lineage(ag->procs, ev->hdr.tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	obs.proto = ev->proto;
	obs.port = ev->dport;
	obs.source_port = ev->sport;
	obs.address = address;
	obs.name = name;
	obs.name_ttl = ttl;
	obs.dest_class = netclass_classify(&ag->netclass, &addr, ev->dport, name);
	obs.tag = ev->outcome;
	obs.new_map_entry = true;
	e = record_edge(ag, EDGE_EGRESS, &obs, &is_new);
	if (!e)
		warn_unrecorded("egress");
	else
		print_if_new(ag, ev->hdr.cgroup_id, e, is_new);
	if (ag->tls && ev->proto == REACH_PROTO_TCP && ev->outcome == REACH_OUT_ESTABLISHED && is_tls_port(ev->dport))
		record_tls_coverage(ag, &ev->hdr, &ev->key, NULL);
}

static const char *http_source_name(uint8_t source)
{
	return source == REACH_HTTP_OPENSSL ? "openssl" : source == REACH_HTTP_GNUTLS ? "gnutls" : "plaintext";
}

/* One credential-bearing request: an edge per credential it carried. */
static void record_credential(struct agent *ag, const struct reach_http_event *ev, const struct http_request_head *h,
			      const struct http_credential *c, const char *host, uint16_t port)
{
	const char *lineage[PROCTREE_LINEAGE_MAX];
	struct observation obs = { 0 };
	struct edge_credential cred = { 0 };
	char object[1600];
	bool is_new;
	struct edge *e;

	snprintf(cred.method, sizeof(cred.method), "%s", h->method);
	snprintf(cred.path_template, sizeof(cred.path_template), "%s", h->path_template);
	snprintf(cred.host, sizeof(cred.host), "%s", host);
	snprintf(cred.kind, sizeof(cred.kind), "%s", c ? c->kind : "none");
	snprintf(cred.where, sizeof(cred.where), "%s", c ? c->where : "");
	snprintf(cred.fingerprint, sizeof(cred.fingerprint), "%s", c ? c->fingerprint : "");
	snprintf(cred.jwt_iss, sizeof(cred.jwt_iss), "%s", c ? c->jwt_iss : "");
	snprintf(cred.jwt_aud, sizeof(cred.jwt_aud), "%s", c ? c->jwt_aud : "");
	snprintf(cred.special, sizeof(cred.special), "%s", h->special);
	snprintf(cred.source, sizeof(cred.source), "%s", http_source_name(ev->source));
	/* edge key: host, method, path template, credential kind, fingerprint */
	snprintf(object, sizeof(object), "%s %s %s %s%s%s", host, h->method, h->path_template, cred.kind,
		 cred.fingerprint[0] ? " fp:" : "", cred.fingerprint);
	obs.hdr = &ev->hdr;
	obs.key = &ev->key;
	obs.object = object;
	obs.category = NULL;
	obs.exe = proctree_exe(ag->procs, ev->hdr.tgid);
	obs.n_lineage = proctree_lineage(ag->procs, ev->hdr.tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	obs.name = host;
	obs.port = port;
	obs.cred = &cred;
	obs.new_map_entry = true;
	e = record_edge(ag, EDGE_CREDENTIAL, &obs, &is_new);
	if (!e)
		warn_unrecorded("credential");
	else
		print_if_new(ag, ev->hdr.cgroup_id, e, is_new);
}

static void handle_http(struct agent *ag, const struct reach_http_event *ev)
{
	uint8_t head[REACH_HTTP_LEN];
	size_t len = ev->len < REACH_HTTP_LEN ? ev->len : REACH_HTTP_LEN;
	struct http_request_head h;
	char host[300];
	uint16_t port = ev->dport;
	int rc;

	/* one private copy, parsed and wiped at once: credentials leave this
	 * function as keyed fingerprints only */
	memcpy(head, ev->payload, len);
	rc = http_parse_request_head(head, len, &ag->fp_key, &h);
	explicit_bzero(head, sizeof(head));
	if (rc) {
		ag->stats.http_malformed++; /* counted and skipped */
		return;
	}
	ag->stats.http_requests++;
	if (h.truncated || h.path_truncated)
		ag->stats.http_truncated++;
	ag->stats.http_creds_dropped += h.creds_dropped; /* beyond HTTP_MAX_CREDS: counted, never silent */
	if (ev->source != REACH_HTTP_PLAINTEXT && ag->tls)
		record_tls_coverage(ag, &ev->hdr, &ev->key, http_source_name(ev->source));
	if (h.host[0]) {
		const char *colon = strrchr(h.host, ':');

		snprintf(host, sizeof(host), "%s", h.host);
		if (colon && !strchr(colon, ']'))
			port = (uint16_t)strtoul(colon + 1, NULL, 10);
		else if (!port)
			port = ev->source == REACH_HTTP_PLAINTEXT ? 80 : 443;
	} else if (ev->family) { /* no Host header: the connected destination */
		struct netaddr addr;

		netaddr_from_raw(&addr, ev->family, ev->daddr);
		netaddr_format(&addr, host, sizeof(host));
	} else {
		snprintf(host, sizeof(host), "?");
	}
	for (int i = 0; i < h.n_creds; i++)
		record_credential(ag, ev, &h, &h.creds[i], host, port);
	if (!h.n_creds && h.special[0]) /* secrets/token APIs stand out even without a credential seen */
		record_credential(ag, ev, &h, NULL, host, port);
	explicit_bzero(&h, sizeof(h));
}

static void handle_dns(struct agent *ag, const struct reach_dns_event *ev)
{
	const uint8_t *msg = ev->payload;
	size_t len = ev->len < REACH_DNS_LEN ? ev->len : REACH_DNS_LEN;
	struct dns_response r;

	if (ev->flags & REACH_DNS_F_TCP) {
		/* TCP DNS: a 2-byte length prefix, then the message */
		if (len < 2) {
			ag->stats.dns_malformed++;
			return;
		}
		msg += 2;
		len -= 2;
	}
	if (ev->flags & REACH_DNS_F_TRUNC) {
		ag->stats.dns_truncated++;
		return; /* half a message would be a guess */
	}
	if (dns_parse_response(msg, len, &r)) {
		ag->stats.dns_malformed++; /* counted and skipped */
		return;
	}
	ag->stats.dns_responses++;
	for (size_t i = 0; i < r.n_answers; i++)
		dnsnames_put(ag->dns, ev->hdr.cgroup_id, &r.answers[i].addr, r.qname, r.answers[i].ttl);
}

/* The smallest size of each kind of event: a shorter one is malformed
 * (counted, skipped) before any field past the header is read. */
static const size_t event_min_size[REACH_EV__MAX] = {
	[REACH_EV_FILE_OPEN] = sizeof(struct reach_file_open_event),
	[REACH_EV_EXEC] = sizeof(struct reach_exec_event),
	[REACH_EV_FORK] = sizeof(struct reach_fork_event),
	[REACH_EV_EXIT] = sizeof(struct reach_exit_event),
	[REACH_EV_EGRESS] = sizeof(struct reach_egress_event),
	[REACH_EV_DNS] = sizeof(struct reach_dns_event),
	[REACH_EV_HTTP] = sizeof(struct reach_http_event),
};

static int on_event(void *ctx, const void *data, size_t size)
{
	struct agent *ag = ctx;
	const struct reach_event_hdr *hdr = data;

	if (size < sizeof(*hdr) || hdr->size > size || hdr->kind == 0 || hdr->kind >= REACH_EV__MAX ||
	    size < event_min_size[hdr->kind]) {
		ag->stats.malformed_events++;
		return 0;
	}
	ag->stats.events[hdr->kind]++;
	switch (hdr->kind) {
	case REACH_EV_FILE_OPEN:
		handle_file_open(ag, data);
		break;
	case REACH_EV_EXEC:
		handle_exec(ag, data);
		break;
	case REACH_EV_EGRESS:
		handle_egress(ag, data);
		break;
	case REACH_EV_DNS:
		handle_dns(ag, data);
		break;
	case REACH_EV_HTTP:
		handle_http(ag, data);
		break;
	case REACH_EV_FORK:
		proctree_fork(ag->procs, hdr->tgid, ((const struct reach_fork_event *)data)->child_tgid, hdr->cgroup_id);
		if (ag->tls)
			tls_on_fork(ag->tls, hdr->tgid, ((const struct reach_fork_event *)data)->child_tgid);
		break;
	case REACH_EV_EXIT:
		proctree_exit(ag->procs, hdr->tgid);
		if (ag->tls)
			tls_on_exit(ag->tls, hdr->tgid);
		break;
	}
	return 0;
}

/* From the batch-read copy the refresh takes first (refresh_counts). */
static int dedup_lookup(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	return sensor_dedup_lookup_snapshot(ctx, key, val);
}

/* Edge counts from the kernel's dedup map: one batch read, then every edge
 * looks itself up in the copy. */
static void refresh_counts(struct agent *ag)
{
	int rc = sensor_dedup_snapshot(ag->sensor);
	static int warned;

	if (rc && !warned++)
		log_warn("reading the dedup map in batches: %s (falling back to one lookup per edge)", strerror(-rc));
	observed_refresh(ag->observed, dedup_lookup, ag->sensor);
}

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

static double now_s_since(double start) { return now_s() - start; }

/* ---- identity, ledger, API ---------------------------------------------- */

/* A host workload's software version: the executable its root process
 * runs. The same path backed by another file (a patched binary: new inode
 * or mtime) opens a new epoch; another tool run in the cgroup does not.
 * The file is the one the kernel exec'd (device, inode, mtime read at
 * exec): no stat afterwards, which would miss a process already gone or
 * see another namespace's file of the same path. Scripts are the
 * exception (the kernel holds their interpreter's file): those are
 * looked at through the process's root while it runs. */
struct exe_epoch {
	char path[256];
	uint64_t file_id;     /* hash of dev, inode, mtime */
	char epoch[300];      /* "<basename>@<file id>" */
};

/* One number for one file version, however its identity was learnt. */
static uint64_t exe_file_id(uint64_t dev, uint64_t ino, int64_t mtime_sec, uint64_t mtime_nsec)
{
	return (dev * 0x9e3779b97f4a7c15ULL) ^ (ino * 0x100000001b3ULL) ^ ((uint64_t)mtime_sec << 20) ^ mtime_nsec;
}

static void note_root_exec(struct agent *ag, uint64_t cgroup_id, const struct reach_exec_event *ev, const char *exe)
{
	char key[24];
	struct exe_epoch *x;
	uint64_t id;
	const char *base = strrchr(exe, '/');

	if (ev->exe_ino) {
		id = exe_file_id(ev->exe_dev, ev->exe_ino, ev->exe_mtime_sec, ev->exe_mtime_nsec);
	} else {
		/* a script (the kernel saw its interpreter's file): the script as
		 * the process sees it, while it still runs; gone, no epoch from
		 * another namespace's file of the same path */
		char view[4200];
		struct stat st;

		snprintf(view, sizeof(view), "/proc/%u/root%s", ev->hdr.tgid, exe);
		if (stat(view, &st) != 0)
			return;
		id = exe_file_id(st.st_dev, st.st_ino, st.st_mtim.tv_sec, (uint64_t)st.st_mtim.tv_nsec);
	}
	snprintf(key, sizeof(key), "%" PRIu64, cgroup_id);
	x = hmap_get(ag->exe_epochs, key);
	if (x && (strcmp(x->path, exe) != 0 || x->file_id == id))
		return; /* another tool, or the same build */
	if (!x) {
		if (!(x = calloc(1, sizeof(*x))) || hmap_put(ag->exe_epochs, key, x, NULL)) {
			free(x);
			return;
		}
		snprintf(x->path, sizeof(x->path), "%s", exe);
	} else {
		log_info("cgroup %" PRIu64 ": %s was replaced: a new epoch", cgroup_id, exe);
	}
	x->file_id = id;
	snprintf(x->epoch, sizeof(x->epoch), "%s@%012" PRIx64, base ? base + 1 : exe, (uint64_t)(id & 0xffffffffffffULL));
}

/* The epoch of an identity: a version a pipeline declared (reachctl epoch
 * start), else the image digest running (Kubernetes), else for host
 * workloads the executable of the cgroup's root process. */
static void apply_epoch(struct agent *ag, struct identity *id, uint64_t cgroup_id)
{
	const char *version = hmap_get(ag->epochs, id->name);
	struct exe_epoch *x;
	char key[24];

	if (version) {
		snprintf(id->image_id, sizeof(id->image_id), "%s", version);
		return;
	}
	if (id->image_id[0] || id->pod[0])
		return;
	snprintf(key, sizeof(key), "%" PRIu64, cgroup_id);
	x = hmap_get(ag->exe_epochs, key);
	if (x)
		snprintf(id->image_id, sizeof(id->image_id), "%s", x->epoch);
}

/* Resolved identities are cached per (cgroup, uid); pending ones are asked
 * again every time, so they resolve as soon as the pod is known. */
static int resolve_identity(void *ctx, const struct cgroup_reach *c, uint32_t uid, struct identity *out)
{
	struct agent *ag = ctx;
	char key[48];
	struct identity *cached;

	snprintf(key, sizeof(key), "%" PRIu64 "/%u", c->cgroup_id, uid);
	cached = hmap_get(ag->identity_cache, key);
	if (cached) {
		*out = *cached;
		apply_epoch(ag, out, c->cgroup_id); /* the epoch may have changed since */
		return 0;
	}
	identity_resolve(ag->resolver, c->cgroup_id, c->path, uid, out);
	if (out->state == IDENTITY_RESOLVED) {
		/* cached as resolved, without the epoch: that is applied on each use */
		cached = malloc(sizeof(*cached));
		if (cached) {
			*cached = *out;
			if (hmap_put(ag->identity_cache, key, cached, NULL))
				free(cached);
		}
	}
	apply_epoch(ag, out, c->cgroup_id);
	return 0;
}

/* ---- the observed model's working set ---------------------------------- */

static int dedup_take(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	return sensor_dedup_take(ctx, key, val);
}

/* The observed model is full: a quarter of it, least recently seen first,
 * goes to the ledger alone (fed, then freed; their kernel dedup entries are
 * read a last time and deleted, so a later occurrence is an event and a new
 * edge again). Recency is as of the last periodic refresh (a second or so):
 * a fresh batch read of the whole map here cost as much as the rest of the
 * eviction, during the bursts that fill the model. Edges whose identity is
 * pending cannot go: when nothing can, the model stays full and new edges
 * are refused and counted (observed_edges_dropped) until the next feed
 * resolves something. */
static void make_room(struct agent *ag)
{
	struct feed_stats st = { 0 };
	size_t want = ag->observed_cap / 4 ? ag->observed_cap / 4 : 1, got;
	static bool said;
	double t0 = now_s();

	got = ledger_feed_evict(ag->observed, ag->ledger, resolve_identity, ag, ag->boot_to_unix_ms, dedup_take,
				ag->sensor, want, &st);
	/* ledger refusals are counted by the ledger itself (edges_dropped) */
	log_debug("observed model full: %zu edges moved to the ledger in %.1f ms", got, (now_s() - t0) * 1e3);
	if (!said) {
		said = true;
		log_info("observed model full (%zu edges): the least recently seen are kept in the ledger alone "
			 "(%zu moved now; status: observed_edges_evicted)", ag->observed_cap, got);
	}
	if (!got)
		ag->observed_stuck = true;
}

static struct edge *record_edge(struct agent *ag, enum edge_kind kind, const struct observation *obs, bool *is_new)
{
	if (observed_edge_total(ag->observed) >= ag->observed_cap && !ag->observed_stuck)
		make_room(ag);
	return observed_add(ag->observed, kind, obs, is_new);
}

/* After a call into the ledger persistence (rc: what it returned): the
 * status fields /v1/status shows, and after a completed save the ledger
 * image on /v1/ledger. */
static void persist_report(struct agent *ag, int rc)
{
	struct ledger_persist_status st;

	ledger_persist_get_status(ag->persist, &st);
	ag->last_persist_unix_ms = st.last_save_unix_ms;
	snprintf(ag->last_persist_error, sizeof(ag->last_persist_error), "%s", st.last_error);
	ag->persists_skipped = st.saves_skipped;
	if (rc > 0)
		shipping_publish_ledger(ag->ship, ag->ledger);
}

/* The last save, in the foreground: nothing may be lost. */
static void persist_ledger_now(struct agent *ag)
{
	persist_report(ag, ledger_persist_save_sync(ag->persist, ag->ledger) == 0);
}

static int open_ledger(struct agent *ag, const char *state_dir)
{
	struct ledger_persist_opts o = { .path = ag->ledger_path, .node = ag->node,
					 .max_identities = LEDGER_MAX_IDENTITIES, .max_edges = LEDGER_MAX_EDGES,
					 /* the ledger keeps its strings in the observed model's table: an
					  * edge's object, name, executables and exec chain are then stored once */
					 .strings = observed_strings(ag->observed) };
	char err[1024];
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
	if ((rc = ledger_persist_open(&ag->persist, &ag->ledger, &o, err, sizeof(err)))) {
		log_error("%s", err);
		return EXIT_START_FAILED;
	}
	return 0;
}

static void add_u64(json_object *o, const char *k, uint64_t v) { json_object_object_add(o, k, json_object_new_int64((int64_t)v)); }

static json_object *status_json(struct agent *ag)
{
	json_object *o = json_object_new_object(), *hooks = json_object_new_array(), *losses = json_object_new_object();
	struct reach_loss_counters l;

	json_object_object_add(o, "version", json_object_new_string(REACH_VERSION));
	json_object_object_add(o, "node", json_object_new_string(ag->node));
	add_u64(o, "uptime_s", (uint64_t)(now_s_since(ag->started_s)));
	for (const char *const *h = sensor_hook_names(ag->sensor); *h; h++)
		json_object_array_add(hooks, json_object_new_string(*h));
	json_object_object_add(o, "hooks", hooks);
	json_object_object_add(o, "syscall_hooks",
			       json_object_new_string(syscall_hook_style_name(
				       syscall_hooks_active(sensor_syscall_hooks(ag->sensor)))));
	if (sensor_read_losses(ag->sensor, &l) == 0) {
		for (int k = 0; k < REACH_EV__MAX; k++) { /* 0: "other", the shared maps */
			json_object *per = json_object_new_object();

			for (int r = 0; r < REACH_LOSS__MAX; r++)
				add_u64(per, output_loss_name(r), l.counters[k][r]);
			json_object_object_add(losses, output_event_name(k), per);
		}
	}
	json_object_object_add(o, "losses", losses);
	{
		/* ring-buffer events handled so far, per kind: with the losses,
		 * what a caller needs to judge the sensor without --events */
		json_object *ev = json_object_new_object();

		for (int k = 1; k < REACH_EV__MAX; k++)
			add_u64(ev, output_event_name(k), ag->stats.events[k]);
		json_object_object_add(o, "events", ev);
		add_u64(o, "opens_not_secret", ag->stats.opens_not_secret);
	}
	add_u64(o, "tls_files_probed", ag->tls ? tls_files_attached(ag->tls) : 0);
	add_u64(o, "uprobes_attached", sensor_uprobes_attached(ag->sensor));
	add_u64(o, "identities", ledger_identities(ag->ledger));
	add_u64(o, "edges", ledger_edges(ag->ledger));
	add_u64(o, "edges_dropped", ledger_edges_dropped(ag->ledger));
	add_u64(o, "identities_dropped", ledger_identities_dropped(ag->ledger));
	add_u64(o, "edges_waiting_for_identity", ag->feed.edges_held);
	add_u64(o, "observed_edges_dropped", observed_edges_dropped(ag->observed));
	add_u64(o, "observed_edges", observed_edge_total(ag->observed));
	add_u64(o, "observed_edges_evicted", observed_edges_evicted(ag->observed));
	json_object_object_add(o, "ledger_file", json_object_new_string(ag->ledger_path));
	json_object_object_add(o, "last_persist_unix_ms", json_object_new_int64(ag->last_persist_unix_ms));
	json_object_object_add(o, "last_persist_error", json_object_new_string(ag->last_persist_error));
	add_u64(o, "persists_skipped", ag->persists_skipped);
	json_object_object_add(o, "monitoring", json_object_new_string(ag->monitor_all ? "all" : ag->pods ? "pods" : "cgroups"));
	json_object_object_add(o, "shipping", shipping_status_json(ag->ship));
	if (ag->pods) {
		add_u64(o, "pods_monitored", pod_monitor_count(ag->pods));
		add_u64(o, "pods_waiting_for_cgroup", pod_monitor_waiting(ag->pods));
	}
	if (ag->kube) {
		struct kube_stats ks;
		json_object *k = json_object_new_object();

		kube_get_stats(ag->kube, &ks);
		json_object_object_add(k, "synced", json_object_new_boolean(ks.synced));
		add_u64(k, "lists", ks.lists);
		add_u64(k, "watches", ks.watches);
		add_u64(k, "events", ks.events);
		add_u64(k, "errors", ks.errors);
		add_u64(k, "relists_410", ks.relists_410);
		json_object_object_add(k, "last_error", json_object_new_string(ks.last_error));
		json_object_object_add(o, "kubernetes", k);
	}
	return o;
}

/* reach: the ledger plus what is still waiting for its identity, shown
 * under unknown/<cgroup path>. */
static json_object *reach_json(struct agent *ag, const char *identity, const char *kind)
{
	struct ledger *view = ledger_new(SIZE_MAX, SIZE_MAX);
	json_object *doc;

	if (!view || ledger_merge(view, ag->ledger)) {
		ledger_free(view);
		return ledger_to_json(ag->ledger, identity, kind);
	}
	ledger_feed_pending_view(ag->observed, view, resolve_identity, ag, ag->boot_to_unix_ms);
	doc = ledger_to_json(view, identity, kind);
	ledger_free(view);
	return doc;
}

/* How complete the observation is: the verifier never passes on less. */
static struct verify_input_health agent_health(struct agent *ag)
{
	struct verify_input_health h = { .tls_blind_processes = ag->tls_blind_edges };
	struct reach_loss_counters l;

	if (sensor_read_losses(ag->sensor, &l) == 0)
		h.events_lost = output_loss_total(&l, REACH_LOSS_RINGBUF_FULL);
	h.events_lost += observed_edges_dropped(ag->observed);
	return h;
}

static json_object *api_error(const char *msg, int exit_code)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "exit_code", json_object_new_int(exit_code));
	return o;
}

/* verify: against the agent's policies, or a policy path the caller names
 * (read by the agent, which runs as root like reachctl). */
static json_object *verify_json(struct agent *ag, const char *identity, const char *policy_path, const char *epoch)
{
	struct verify_opts opts = { .identity = identity, .health = agent_health(ag),
				    .alert_without_policy = ag->default_alert, .epoch = epoch };
	struct policy_set other = { 0 };
	const struct policy_set *set = &ag->policies;
	struct verify_result r;
	json_object *doc;
	char err[1024];

	if (policy_path) {
		if (policy_load_path(&other, policy_path, err, sizeof(err)))
			return api_error(err, 2);
		set = &other;
	}
	if (verify_ledger(ag->ledger, set, &opts, &r)) {
		policy_set_free(&other);
		return api_error("verification failed: out of memory", 2);
	}
	doc = verify_result_report(&r);
	verify_result_free(&r);
	policy_set_free(&other);
	return doc;
}

static json_object *suggest_json(struct agent *ag, const char *identity)
{
	char err[512], *yaml = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&yaml, &len);
	json_object *o;
	int rc;

	if (!mem)
		return api_error("out of memory", 2);
	rc = policy_suggest(ag->ledger, identity, mem, err, sizeof(err));
	fclose(mem);
	if (rc) {
		free(yaml);
		return api_error(err, 2);
	}
	o = json_object_new_object();
	json_object_object_add(o, "policy", json_object_new_string(yaml ? yaml : ""));
	free(yaml);
	return o;
}

static void verify_epochs(struct agent *ag);

/* Per identity with records: mean time to remediate, failed remediations. */
static json_object *remediation_json(const struct epoch_tracker *t, const char *only)
{
	json_object *arr = json_object_new_array();
	struct remediation_stats *st;
	size_t n = epoch_tracker_remediation_all(t, only, &st);

	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "identity", json_object_new_string(st[i].identity));
		json_object_object_add(o, "findings_resolved", json_object_new_int64((int64_t)st[i].resolved));
		json_object_object_add(o, "findings_open", json_object_new_int64((int64_t)st[i].open));
		json_object_object_add(o, "mean_time_to_remediate_ms", json_object_new_int64(st[i].mean_time_to_remediate_ms));
		json_object_object_add(o, "upgrades_with_findings", json_object_new_int64((int64_t)st[i].upgrades_with_findings));
		json_object_object_add(o, "failed_remediations", json_object_new_int64((int64_t)st[i].failed_remediations));
		json_object_object_add(o, "failed_remediation_rate",
				       json_object_new_double(st[i].upgrades_with_findings ?
							      (double)st[i].failed_remediations / st[i].upgrades_with_findings
							      : 0));
		json_object_array_add(arr, o);
	}
	free(st);
	return arr;
}

static json_object *handle_api(void *ctx, json_object *req)
{
	struct agent *ag = ctx;
	json_object *v, *reply;
	const char *cmd = json_object_object_get_ex(req, "cmd", &v) ? json_object_get_string(v) : "";
	const char *identity = json_object_object_get_ex(req, "identity", &v) ? json_object_get_string(v) : NULL;
	const char *kind = json_object_object_get_ex(req, "kind", &v) ? json_object_get_string(v) : NULL;

	/* fresh counts for the answer */
	refresh_counts(ag);
	ledger_feed(ag->observed, ag->ledger, resolve_identity, ag, ag->boot_to_unix_ms, &ag->feed);
	if (strcmp(cmd, "reach") == 0)
		return reach_json(ag, identity, kind);
	if (strcmp(cmd, "status") == 0)
		return status_json(ag);
	if (strcmp(cmd, "verify") == 0) {
		const char *policy = json_object_object_get_ex(req, "policy", &v) ? json_object_get_string(v) : NULL;
		const char *epoch = json_object_object_get_ex(req, "epoch", &v) ? json_object_get_string(v) : NULL;

		return verify_json(ag, identity, policy, epoch);
	}
	if (strcmp(cmd, "epochs") == 0) {
		verify_epochs(ag); /* up to date for the answer */
		reply = json_object_new_object();
		json_object_object_add(reply, "records", epoch_records_to_json(ag->epoch_tracker, identity));
		json_object_object_add(reply, "remediation", remediation_json(ag->epoch_tracker, identity));
		return reply;
	}
	if (strcmp(cmd, "epoch") == 0) {
		const char *version = json_object_object_get_ex(req, "version", &v) ? json_object_get_string(v) : NULL;
		char *copy;
		void *old = NULL;

		if (!identity || !version || !*version || strlen(version) > 200)
			return api_error("epoch needs an identity and a version (at most 200 characters)", 2);
		/* what was observed until now belongs to the previous epoch: feed
		 * it under that one before the version changes (the refresh and
		 * feed above, at the top of this handler, did exactly that) */
		copy = strdup(version);
		if (!copy || hmap_put(ag->epochs, identity, copy, &old)) {
			free(copy);
			return api_error("out of memory", 2);
		}
		free(old);
		log_info("epoch of %s is now %s", identity, version);
		reply = json_object_new_object();
		json_object_object_add(reply, "identity", json_object_new_string(identity));
		json_object_object_add(reply, "version", json_object_new_string(version));
		return reply;
	}
	if (strcmp(cmd, "suggest") == 0) {
		if (!identity)
			return api_error("suggest needs an identity", 2);
		return suggest_json(ag, identity);
	}
	reply = json_object_new_object();
	json_object_object_add(reply, "error", json_object_new_string("unknown command (reach, status, verify, suggest)"));
	return reply;
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
	struct verify_opts opts = { .health = agent_health(ag), .alert_without_policy = ag->default_alert };
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
		c->events[c->n_kinds] = ag->stats.events[k];
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
	c->parse_malformed_http = ag->stats.http_malformed;
	c->parse_malformed_dns = ag->stats.dns_malformed;
	c->edges_dropped = observed_edges_dropped(ag->observed) + ledger_edges_dropped(ag->ledger);
	c->observed_edges = observed_edge_total(ag->observed);
	c->observed_edges_evicted = observed_edges_evicted(ag->observed);
	c->identities = ledger_identities(ag->ledger);
	c->edges = ledger_edges(ag->ledger);
	c->tls_blind_processes = ag->tls_blind_edges;
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
	refresh_counts(ag);
	ledger_feed(ag->observed, ag->ledger, resolve_identity, ag, ag->boot_to_unix_ms, &ag->feed);
	ag->observed_stuck = false; /* identities may have resolved: try making room again */
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
			api_serve_pending(ag->api_fd, handle_api, ag);
		if (t - last_refresh >= REFRESH_INTERVAL_S) {
			periodic(ag);
			last_refresh = t;
		}
		persist_report(ag, ledger_persist_poll(ag->persist, 0));
		if (t - last_persist >= persist_s) {
			persist_report(ag, ledger_persist_save_async(ag->persist, ag->ledger));
			last_persist = t;
		}
		if (duration_s > 0 && t - start >= duration_s)
			break;
	}
	/* drain what is still queued before the summary */
	while (sensor_poll(ag->sensor, 0) > 0)
		;
	ag->stats.duration_s = now_s() - start;
	return 0;
}

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
		ag->pods = pod_monitor_new(ag->sensor, mount);
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

	ag.observed = observed_new();
	ag.observed_cap = a.observed_edges ? a.observed_edges : cfg.observed_edges ? cfg.observed_edges : OBSERVED_EDGES_DEFAULT;
	if (ag.observed)
		observed_set_max_edges(ag.observed, ag.observed_cap);
	ag.procs = proctree_new();
	if (!ag.observed || !ag.procs) {
		log_error("allocating the reach model: %s", strerror(ENOMEM));
		rc = EXIT_START_FAILED;
		goto out;
	}
	ag.print_events = a.events;
	ag.started_s = now_s();
	{
		struct timespec rt, bt;

		clock_gettime(CLOCK_REALTIME, &rt);
		clock_gettime(CLOCK_BOOTTIME, &bt);
		ag.boot_to_unix_ms = ((int64_t)rt.tv_sec - bt.tv_sec) * 1000 + (rt.tv_nsec - bt.tv_nsec) / 1000000;
	}
	if (gethostname(ag.node, sizeof(ag.node)) < 0)
		snprintf(ag.node, sizeof(ag.node), "unknown");
	if (a.node_name || getenv("NODE_NAME"))
		snprintf(ag.node, sizeof(ag.node), "%s", a.node_name ? a.node_name : getenv("NODE_NAME"));
	ag.identity_cache = hmap_new();
	ag.epochs = hmap_new();
	ag.exe_epochs = hmap_new();
	if (!ag.identity_cache || !ag.epochs || !ag.exe_epochs) {
		rc = EXIT_START_FAILED;
		goto out;
	}
	if ((rc = open_ledger(&ag, a.state_dir ? a.state_dir : cfg.state_dir ? cfg.state_dir : DEFAULT_STATE_DIR)))
		goto out;
	{
		char key_path[4200];
		const char *dir = a.state_dir ? a.state_dir : cfg.state_dir ? cfg.state_dir : DEFAULT_STATE_DIR;

		snprintf(key_path, sizeof(key_path), "%s/fingerprint.key", dir);
		if (fp_key_load_or_create(a.fingerprint_key ? a.fingerprint_key : key_path, &ag.fp_key, err, sizeof(err))) {
			log_error("fingerprint key: %s", err);
			rc = EXIT_START_FAILED;
			goto out;
		}
	}
	ag.dns = dnsnames_new();
	if (!ag.dns) {
		log_error("allocating the DNS name table: %s", strerror(ENOMEM));
		rc = EXIT_START_FAILED;
		goto out;
	}
	if ((rc = build_netclass(&ag, &cfg, &a)))
		goto out;
	output_init_clock();

	sopts.ringbuf_bytes = a.ringbuf_bytes ? a.ringbuf_bytes : cfg.ringbuf_bytes;
	sopts.dedup_entries = a.dedup_entries ? a.dedup_entries : cfg.dedup_entries;
	sopts.syscall_hooks = syscall_hook_style_from_name(a.syscall_hooks ? a.syscall_hooks
							   : cfg.syscall_hooks ? cfg.syscall_hooks : "auto");
	sopts.on_event = on_event;
	sopts.ctx = &ag;
	if (sensor_start(&ag.sensor, &sopts, err, sizeof(err))) {
		log_error("cannot start: %s", err);
		rc = EXIT_START_FAILED;
		goto out;
	}
	log_debug("syscall exits: %s", syscall_hooks_describe(sensor_syscall_hooks(ag.sensor)));
	ag.tls = tls_coverage_new(ag.sensor);
	if (!ag.tls) {
		log_error("allocating the TLS coverage table: %s", strerror(ENOMEM));
		rc = EXIT_START_FAILED;
		goto out;
	}
	tls_scan_all_processes(ag.tls);
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
		tick_shipping(&ag); /* /metrics answers from the first moment the agent is ready */
		shipping_set_ready(ag.ship, true);
		log_info("ready: %zu hooks attached, monitoring %s", n_hooks,
			 (a.all || cfg.monitor_all == 1) ? "every process" : ag.pods ? "pods" : "the given cgroups");
	}

	if ((rc = run_loop(&ag, a.duration_s, a.persist_s > 0 ? a.persist_s : DEFAULT_PERSIST_S)))
		goto out;
	periodic(&ag);
	persist_ledger_now(&ag); /* waits for a save in flight first */
	shipping_stop(ag.ship, ag.ledger); /* a last delta, spooled */
	ag.ship = NULL;
	if ((rc = sensor_read_losses(ag.sensor, &ag.stats.losses)))
		log_warn("reading the loss counters: %s", strerror(-rc));
	rc = 0;
	ag.stats.dns_names_dropped = dnsnames_dropped(ag.dns);
	ag.stats.observed_edges_dropped = observed_edges_dropped(ag.observed);
	ag.stats.observed_edges_evicted = observed_edges_evicted(ag.observed);
	if (ag.stats.observed_edges_dropped)
		log_warn("%" PRIu64 " new edges were not recorded: %zu edges in memory and none of them could go "
			 "to the ledger (identities pending)", ag.stats.observed_edges_dropped, ag.observed_cap);
	if (a.events)
		output_summary_json(stdout, ag.observed, &ag.stats);
	else
		output_summary_text(stdout, ag.observed, &ag.stats);
	if (output_loss_total(&ag.stats.losses, REACH_LOSS_RINGBUF_FULL))
		log_warn("%" PRIu64 " events lost because the ring buffer was full: raise --ringbuf-bytes",
			 output_loss_total(&ag.stats.losses, REACH_LOSS_RINGBUF_FULL));
out:
	ledger_persist_free(ag.persist); /* an early error exit: a save in flight finishes first */
	shipping_stop(ag.ship, NULL);
	if (ag.api_fd >= 0) {
		close(ag.api_fd);
		unlink(a.socket_path ? a.socket_path : API_DEFAULT_SOCKET);
	}
	kube_stop(ag.kube); /* joins the watcher before anything it reads goes */
	pod_monitor_free(ag.pods);
	identity_resolver_free(ag.resolver);
	hmap_free(ag.identity_cache, free);
	hmap_free(ag.epochs, free);
	hmap_free(ag.exe_epochs, free);
	ledger_free(ag.ledger);
	policy_set_free(&ag.policies);
	epoch_tracker_free(ag.epoch_tracker);
	tls_coverage_free(ag.tls);
	fp_key_wipe(&ag.fp_key);
	sensor_stop(ag.sensor);
	proctree_free(ag.procs);
	dnsnames_free(ag.dns);
	observed_free(ag.observed);
	catalog_free(ag.catalog);
	config_free(&cfg);
	return rc;
}
