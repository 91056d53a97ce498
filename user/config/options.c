/* The option table and its engine: command line, merge, defaults, --help,
 * --check-config. The config file's side is config/config.c. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/api.h"
#include "common/log.h"
#include "config/options.h"
#include "identity/identity.h"
#include "reach/netclass.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FIELD(name) offsetof(struct reach_config, name)
#define LIST(name) .type = OPTION_LIST, .offset = FIELD(name), .count_offset = FIELD(n_##name)
#define WHY_MAX 256
/* --help: where the help text starts */
#define HELP_COLUMN 24

/* ---- value checks (both the flag and the key) --------------------------- */

static int why_is(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int why_is(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return -1;
}

/* The documented form is "PATTERN" or "PATTERN CATEGORY": a third word is a
 * typo or a space inside the pattern, which that form cannot express. Refused
 * here, where the flag or the line is still known, not in the matcher. */
static int check_secret_pattern(const char *value, const char *shown, char *why, size_t size)
{
	int words = 0;

	for (const char *p = value; *p; p++)
		if ((p == value || p[-1] == ' ' || p[-1] == '\t') && *p != ' ' && *p != '\t')
			words++;
	if (words > 2)
		return why_is(why, size, "expected \"PATTERN\" or \"PATTERN CATEGORY\", got %d words", words);
	return 0;
}

/* Values the egress classifier will parse. */
static int check_cidr(const char *value, const char *shown, char *why, size_t size)
{
	struct cidr c;

	if (cidr_parse(value, &c))
		return why_is(why, size, "'%s' is not a CIDR (ADDRESS/PREFIX with zero host bits, or an address)", shown);
	return 0;
}

static int check_endpoint(const char *value, const char *shown, char *why, size_t size)
{
	struct netclass probe;

	netclass_init(&probe);
	if (netclass_add_apiserver(&probe, value))
		return why_is(why, size, "'%s' is not an address or ADDRESS:PORT ([IPv6]:PORT)", shown);
	return 0;
}

static int check_label(const char *value, const char *shown, char *why, size_t size)
{
	if (!strchr(value, '=') || value[0] == '=')
		return why_is(why, size, "'%s' is not KEY=VALUE", shown);
	return 0;
}

static int check_identity_rule(const char *value, const char *shown, char *why, size_t size)
{
	struct identity_resolver *probe = identity_resolver_new(NULL);
	int rc;

	if (!probe)
		return why_is(why, size, "out of memory");
	rc = identity_add_rule(probe, value);
	identity_resolver_free(probe);
	if (rc)
		return why_is(why, size, "'%s' is not \"cgroup:/GLOB IDENTITY\" or \"uid:N IDENTITY\"", shown);
	return 0;
}

/* A sink URL: http(s)://HOST... checked where it is given; the sink checks
 * it fully (and the CA, the token file) at start. */
static int check_url(const char *value, const char *shown, char *why, size_t size)
{
	if (strncmp(value, "https://", 8) && strncmp(value, "http://", 7))
		return why_is(why, size, "expected an http:// or https:// URL, got '%s'", shown);
	return 0;
}

/* ---- the table ----------------------------------------------------------- */

static const char *const syscall_hook_names[] = { "auto", "per-syscall", "dispatcher", NULL };
static const char *const policy_modes[] = { "audit", "alert", NULL };
static const char *const severities[] = { "info", "low", "medium", "high", NULL };

const struct option_spec reach_options[] = {
	{ .flag = "cgroup", .key = "monitor.cgroups", LIST(cgroups), .arg = "PATH", .example = "/sys/fs/cgroup/app",
	  .help = "monitor this cgroup v2 directory and every cgroup below it (repeatable)" },
	{ .flag = "all", .key = "monitor.all", .type = OPTION_BOOL, .offset = FIELD(monitor_all), .example = "true",
	  .help = "monitor every process on the host except the agent" },
	{ .flag = "config", .type = OPTION_STRING, .offset = FIELD(config_file), .arg = "FILE",
	  .example = "/etc/reach/config.yaml",
	  .help = "YAML config: the keys in brackets below, and those listed at the end" },
	{ .key = "secrets.builtin", .type = OPTION_BOOL, .offset = FIELD(builtin_secrets), .init_true = true,
	  .example = "false", .help = "the built-in secret catalogue (default true)" },
	{ .key = "secrets.patterns", LIST(secret_patterns), .check = check_secret_pattern,
	  .example = "/etc/llm/keys/*.key llm-key", .help = "secret patterns: \"PATTERN\" or \"PATTERN CATEGORY\"" },
	{ .flag = "secret-patterns", .key = "secrets.pattern_files", LIST(secret_pattern_files), .file_first = true,
	  .arg = "F", .example = "/etc/reach/secrets.txt",
	  .help = "add secret patterns from F, one per line (repeatable)" },
	{ .flag = "events", .type = OPTION_BOOL, .offset = FIELD(events), .example = "true",
	  .help = "print one JSON object per new edge on stdout, a JSON summary at exit" },
	{ .flag = "duration", .type = OPTION_SECONDS, .offset = FIELD(duration_s), .dmin = 0, .dmax = 1e9,
	  .above_min = true, .seconds_text = "a positive number of seconds", .arg = "SECONDS", .example = "2.5",
	  .help = "stop after this long, print the summary, exit 0" },
	{ .flag = "ready-file", .key = "agent.ready_file", .type = OPTION_STRING, .offset = FIELD(ready_file),
	  .arg = "FILE", .example = "/run/reach/ready", .help = "create FILE once every hook is attached" },
	{ .flag = "ringbuf-bytes", .key = "sensor.ringbuf_bytes", .type = OPTION_U64, .offset = FIELD(ringbuf_bytes),
	  .min = 4096, .max = 1ULL << 30, .pow2 = true, .arg = "N", .example = "16777216",
	  .help = "ring buffer size (power of two >= 4096; default 8 MiB)" },
	{ .flag = "dedup-entries", .key = "sensor.dedup_entries", .type = OPTION_U64, .offset = FIELD(dedup_entries),
	  .min = 1, .max = 16777216, .arg = "N", .example = "4096",
	  .help = "in-kernel dedup map entries (default 65536)" },
	{ .flag = "loss-cgroups", .key = "sensor.loss_cgroups", .type = OPTION_U64, .offset = FIELD(loss_cgroups),
	  .min = 1, .max = 1048576, .arg = "N", .example = "4096",
	  .help = "(cgroup, uid) entries of the in-kernel per-identity loss counters\n"
		  "(default 4096; losses past them count for every identity)" },
	{ .flag = "observed-edges", .key = "sensor.observed_edges", .type = OPTION_U64,
	  .offset = FIELD(observed_edges), .min = OBSERVED_EDGES_MIN, .max = OBSERVED_EDGES_MAX,
	  .def = "65536", .arg = "N", .example = "1024",
	  .help = "edges kept in memory besides the ledger (default 65536; the least\n"
		  "recently seen go to the ledger alone when it is full)" },
	{ .flag = "syscall-hooks", .key = "sensor.syscall_hooks", .type = OPTION_CHOICE,
	  .offset = FIELD(syscall_hooks), .choices = syscall_hook_names, .def = "auto", .arg = "S",
	  .example = "dispatcher",
	  .help = "auto (default: per-syscall where tracefs and perf_event_open allow\n"
		  "and no 32-bit syscall can be issued, else the dispatcher; status says\n"
		  "why), per-syscall (a tracepoint per syscall reach hooks, or fail) or\n"
		  "dispatcher (one tp_btf/sys_exit program)" },
	{ .flag = "no-go-tls", .key = "sensor.no_go_tls", .type = OPTION_BOOL, .offset = FIELD(no_go_tls),
	  .example = "true",
	  .help = "do not probe Go crypto/tls.(*Conn).Write: Go TLS is then tls-blind\n"
		  "(with the reason) and verdicts on it inconclusive" },
	{ .flag = "tls-probe-linger", .type = OPTION_SECONDS,
	  .offset = FIELD(tls_probe_linger_s), .dmin = 0, .dmax = 86400,
	  .seconds_text = "a number of seconds between 0 and 86400", .def = "300", .arg = "S", .example = "60",
	  .help = "keep a TLS library's probes S seconds after its last monitored user\n"
		  "exits (default 300; 0: detach at once): the next run of the program\n"
		  "is then probed from its first write, not raced" },
	{ .flag = "state-dir", .key = "agent.state_dir", .type = OPTION_STRING, .offset = FIELD(state_dir),
	  .def = REACH_DEFAULT_STATE_DIR, .arg = "DIR", .example = "/var/lib/reach-test",
	  .help = "where the reach ledger is kept (default " REACH_DEFAULT_STATE_DIR ")" },
	{ .flag = "persist-interval", .type = OPTION_SECONDS, .offset = FIELD(persist_s), .dmin = 0.1,
	  .dmax = 86400, .seconds_text = "a number of seconds between 0.1 and 86400", .def = "10", .arg = "S",
	  .example = "30", .help = "save the ledger every S seconds (default 10) and at exit" },
	{ .flag = "socket", .type = OPTION_STRING, .offset = FIELD(socket_path), .def = API_DEFAULT_SOCKET,
	  .arg = "PATH", .example = "/tmp/reachd.sock",
	  .help = "the local API for reachctl (default " API_DEFAULT_SOCKET ", mode 0600)" },
	{ .flag = "kube", .key = "kubernetes.enabled", .type = OPTION_BOOL, .offset = FIELD(kube_enabled),
	  .example = "true", .help = "resolve pods through the Kubernetes API (in-cluster config)" },
	{ .flag = "kube-api", .key = "kubernetes.api", .type = OPTION_STRING, .offset = FIELD(kube_api), .arg = "URL",
	  .example = "https://10.0.0.1:6443", .help = "the API server, out of cluster (implies --kube)" },
	{ .flag = "kube-token-file", .key = "kubernetes.token_file", .type = OPTION_STRING,
	  .offset = FIELD(kube_token_file), .arg = "F", .example = "/run/secrets/token",
	  .help = "bearer token for the API server, out of cluster" },
	{ .flag = "kube-ca", .key = "kubernetes.ca_file", .type = OPTION_STRING, .offset = FIELD(kube_ca_file),
	  .arg = "F", .example = "/run/secrets/ca.crt", .help = "CA bundle of the API server, out of cluster" },
	{ .flag = "node-name", .key = "kubernetes.node_name", .type = OPTION_STRING, .offset = FIELD(node_name),
	  .arg = "NAME", .example = "node-1", .help = "this node (default: $NODE_NAME)" },
	{ .flag = "namespace", .key = "kubernetes.namespaces", LIST(namespaces), .arg = "NS", .example = "payments",
	  .help = "with --kube: monitor pods of this namespace (repeatable; default all)" },
	{ .flag = "pod-selector", .key = "kubernetes.pod_selector", LIST(pod_selector), .check = check_label,
	  .arg = "K=V", .example = "app=api",
	  .help = "with --kube: monitor pods with this label (repeatable, all must match)" },
	{ .flag = "fingerprint-key", .key = "agent.fingerprint_key_file", .type = OPTION_STRING,
	  .offset = FIELD(fingerprint_key_file), .arg = "F", .example = "/etc/reach/fingerprint.key",
	  .help = "HMAC key for credential fingerprints (default STATE_DIR/fingerprint.key,\n"
		  "created 0600 when absent; share it across nodes for comparable fingerprints)" },
	{ .flag = "settle-window", .type = OPTION_SECONDS, .offset = FIELD(settle_s), .dmin = 0, .dmax = 30 * 86400,
	  .seconds_text = "a number of seconds (0 to 30 days)", .def = "600", .arg = "S", .example = "60",
	  .help = "after an epoch opens, verify it after S seconds (default 600)" },
	{ .flag = "default-policy", .key = "policy.default", .type = OPTION_MODE,
	  .offset = FIELD(policy_default_alert), .choices = policy_modes, .def = "audit", .arg = "M",
	  .example = "alert",
	  .help = "identities without a policy: audit (listed, not counted; default) or alert" },
	{ .flag = "policy", .key = "policy.paths", LIST(policy_paths), .arg = "PATH", .example = "/etc/reach/policies",
	  .help = "ReachPolicy file or directory (repeatable); SIGHUP reloads, a bad one keeps the last good" },
	{ .flag = "reachpolicies", .key = "policy.reachpolicies", .type = OPTION_BOOL, .offset = FIELD(policy_crd),
	  .example = "true",
	  .help = "with --kube: also apply the ReachPolicy objects of the cluster (CRD\n"
		  "reachpolicies.reach.dev), listed and watched; each applies to service\n"
		  "accounts of its own namespace only" },
	{ .flag = "policy-reports", .key = "kubernetes.policy_reports", .type = OPTION_BOOL,
	  .offset = FIELD(policy_reports), .example = "true",
	  .help = "with --kube: write a wgpolicyk8s.io PolicyReport per service account\n"
		  "on this node with its open findings and verdict" },
	{ .flag = "identity-rule", .key = "identity.rules", LIST(identity_rules), .check = check_identity_rule,
	  .arg = "R", .example = "uid:1000 batch-jobs",
	  .help = "'cgroup:GLOB IDENTITY' or 'uid:N IDENTITY' for host workloads (repeatable)" },
	{ .flag = "cluster-cidr", .key = "egress.cluster_cidrs", LIST(cluster_cidrs), .check = check_cidr,
	  .arg = "CIDR", .example = "10.96.0.0/12",
	  .help = "pod/service range: egress there is classed 'cluster' (repeatable)" },
	{ .flag = "apiserver", .key = "egress.apiserver", LIST(apiservers), .check = check_endpoint,
	  .arg = "ADDR[:PORT]", .example = "10.96.0.1:443",
	  .help = "the kube-apiserver (default: KUBERNETES_SERVICE_HOST/PORT) (repeatable)" },
	{ .flag = "drop-caps", .key = "agent.drop_caps", .type = OPTION_BOOL, .offset = FIELD(drop_caps),
	  .example = "true",
	  .help = "after loading, keep only cap_bpf, cap_perfmon, cap_sys_ptrace and\n"
		  "cap_dac_read_search (and set no_new_privs)" },
	{ .flag = "check-config", .type = OPTION_BOOL, .offset = FIELD(check_config), .example = "true",
	  .help = "load --config and --policy, print what would run, exit (0 ok, 2 bad)" },
	{ .flag = "ship-url", .key = "ship.url", .type = OPTION_STRING, .offset = FIELD(ship_url), .check = check_url,
	  .url = true, .arg = "URL", .example = "https://collector.example:8443/v1/reports",
	  .heading = "Shipping (none set: the agent works locally and says so once):",
	  .help = "POST reach.v1.Report protobuf (gzip) reports to this collector" },
	{ .flag = "ship-token-file", .key = "ship.token_file", .type = OPTION_STRING, .offset = FIELD(ship_token_file),
	  .arg = "F", .example = "/run/secrets/ship-token",
	  .help = "bearer token for the collector (re-read on each send)" },
	{ .flag = "ship-ca", .key = "ship.ca_file", .type = OPTION_STRING, .offset = FIELD(ship_ca_file), .arg = "F",
	  .example = "/etc/reach/ca.pem", .help = "CA bundle for the collector (TLS verification is always on)" },
	{ .flag = "spool-dir", .key = "ship.spool_dir", .type = OPTION_STRING, .offset = FIELD(spool_dir),
	  .arg = "DIR", .example = "/var/lib/reach/spool",
	  .help = "reports wait here until delivered (default STATE_DIR/spool)" },
	{ .key = "ship.spool_max_bytes", .type = OPTION_U64, .offset = FIELD(spool_max_bytes), .min = 65536,
	  .max = 1ULL << 40, .example = "1048576", .help = "the spool's size cap in bytes" },
	{ .key = "ship.report_interval_s", .type = OPTION_U64, .offset = FIELD(report_interval_s), .min = 1,
	  .max = 86400, .example = "60", .help = "seconds between delta reports" },
	{ .key = "ship.snapshot_interval_s", .type = OPTION_U64, .offset = FIELD(snapshot_interval_s), .min = 1,
	  .max = 7 * 86400, .example = "3600", .help = "seconds between full snapshots" },
	{ .key = "ship.backoff_max_s", .type = OPTION_U64, .offset = FIELD(backoff_max_s), .min = 1, .max = 3600,
	  .example = "120", .help = "cap of the retry backoff in seconds (default 300)" },
	{ .key = "ship.timeout_s", .type = OPTION_U64, .offset = FIELD(ship_timeout_s), .min = 1, .max = 600,
	  .example = "10", .help = "seconds one delivery attempt may take before it is retried (default 10)" },
	{ .flag = "alertmanager", .key = "alerts.alertmanager", LIST(alertmanagers), .check = check_url, .url = true,
	  .arg = "URL", .example = "http://alertmanager:9093",
	  .help = "Alertmanager base URL (repeatable): findings and verdicts as alerts" },
	{ .flag = "webhook", .key = "alerts.webhook", .type = OPTION_STRING, .offset = FIELD(webhook_url),
	  .check = check_url, .url = true, .arg = "URL", .example = "https://hooks.example/reach",
	  .help = "a JSON webhook for the same alerts" },
	{ .key = "alerts.min_severity", .type = OPTION_CHOICE, .offset = FIELD(alert_min_severity),
	  .choices = severities, .example = "high", .help = "the least severe finding alerted (default medium)" },
	{ .flag = "otlp-url", .key = "otlp.url", .type = OPTION_STRING, .offset = FIELD(otlp_url), .check = check_url,
	  .url = true, .arg = "URL", .example = "http://otel:4318/v1/logs",
	  .help = "OTLP/HTTP logs endpoint (.../v1/logs) for findings and verdicts" },
	{ .flag = "metrics-addr", .key = "metrics.addr", .type = OPTION_STRING, .offset = FIELD(metrics_addr),
	  .arg = "H:P", .example = "127.0.0.1:9464",
	  .help = "/metrics, /healthz, /readyz and /v1/ledger (default off; e.g. 127.0.0.1:9464)" },
	{ .flag = "api-token-file", .key = "metrics.api_token_file", .type = OPTION_STRING,
	  .offset = FIELD(api_token_file), .arg = "F", .example = "/run/secrets/api-token",
	  .help = "bearer token that /v1/ paths of --metrics-addr require" },
	{ .flag = "healthz-stall-s", .key = "metrics.healthz_stall_s", .type = OPTION_U64,
	  .offset = FIELD(healthz_stall_s), .min = 1, .max = 3600, .arg = "S", .example = "30",
	  .help = "/healthz answers 503 once the ring buffer has not been drained\n"
		  "for S seconds (default 30)" },
	{ .flag = "verbose", .short_flag = 'v', .type = OPTION_BOOL, .offset = FIELD(verbose), .example = "true",
	  .help = "debug logging (libbpf included)" },
	{ .flag = "help", .short_flag = 'h', .type = OPTION_HELP, .help = "this help" },
	{ .flag = "version", .type = OPTION_VERSION, .help = "print the version" },
};

const size_t reach_n_options = ARRAY_SIZE(reach_options);
_Static_assert(ARRAY_SIZE(reach_options) <= OPTIONS_MAX, "raise OPTIONS_MAX");

/* ---- fields ------------------------------------------------------------- */

static void *field(struct reach_config *cfg, const struct option_spec *o)
{
	return (char *)cfg + o->offset;
}

static const void *cfield(const struct reach_config *cfg, const struct option_spec *o)
{
	return (const char *)cfg + o->offset;
}

static int *count_of(struct reach_config *cfg, const struct option_spec *o)
{
	return (int *)((char *)cfg + o->count_offset);
}

static int ccount_of(const struct reach_config *cfg, const struct option_spec *o)
{
	return *(const int *)((const char *)cfg + o->count_offset);
}

static bool is_set(const struct reach_config *cfg, const struct option_spec *o)
{
	switch (o->type) {
	case OPTION_BOOL:
	case OPTION_MODE:
		return *(const int *)cfield(cfg, o) != -1;
	case OPTION_STRING:
	case OPTION_CHOICE:
		return *(char *const *)cfield(cfg, o) != NULL;
	case OPTION_LIST:
		return ccount_of(cfg, o) > 0;
	case OPTION_U64:
		return *(const unsigned long long *)cfield(cfg, o) != 0;
	case OPTION_SECONDS:
		return *(const double *)cfield(cfg, o) != -1;
	default:
		return false;
	}
}

const struct option_spec *options_find_flag(const char *flag)
{
	for (size_t i = 0; i < reach_n_options; i++)
		if (reach_options[i].flag && strcmp(reach_options[i].flag, flag) == 0)
			return &reach_options[i];
	return NULL;
}

const struct option_spec *options_find_key(const char *key)
{
	for (size_t i = 0; i < reach_n_options; i++)
		if (reach_options[i].key && strcmp(reach_options[i].key, key) == 0)
			return &reach_options[i];
	return NULL;
}

void options_choices_text(const char *const *choices, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; choices[i] && used < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%s%s", i == 0 ? "" : choices[i + 1] ? ", " : " or ",
					 choices[i]);
}

/* ---- the command line ---------------------------------------------------- */

static int parse_u64(const char *s, unsigned long long *out)
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

/* One flag's value into cfg (also how a default is applied). 0, or -1 with
 * the reason in why; -ENOMEM. */
static int set_from_text(struct reach_config *cfg, const struct option_spec *o, const char *value, char *why,
			 size_t size)
{
	char text[128];
	char *copy, *end;

	switch (o->type) {
	case OPTION_BOOL:
		*(int *)field(cfg, o) = 1;
		return 0;
	case OPTION_STRING:
		if (o->check && o->check(value, value, why, size))
			return -1;
		if (!(copy = strdup(value)))
			return -ENOMEM;
		free(*(char **)field(cfg, o));
		*(char **)field(cfg, o) = copy;
		return 0;
	case OPTION_LIST: {
		int *n = count_of(cfg, o);

		if (*n == CONFIG_MAX_LIST)
			return why_is(why, size, "at most %d", CONFIG_MAX_LIST);
		if (o->check && o->check(value, value, why, size))
			return -1;
		if (!(copy = strdup(value)))
			return -ENOMEM;
		((char **)field(cfg, o))[(*n)++] = copy;
		return 0;
	}
	case OPTION_U64: {
		unsigned long long v = 0;

		if (parse_u64(value, &v) || v < o->min || v > o->max || (o->pow2 && (v & (v - 1))))
			return why_is(why, size, "'%s' is not %s between %llu and %llu", value,
				      o->pow2 ? "a power of two" : "a number", o->min, o->max);
		*(unsigned long long *)field(cfg, o) = v;
		return 0;
	}
	case OPTION_SECONDS: {
		double v;

		errno = 0;
		v = strtod(value, &end);
		if (errno || *end || end == value || v < o->dmin || (o->above_min && v <= o->dmin) || v > o->dmax)
			return why_is(why, size, "'%s' is not %s", value, o->seconds_text);
		*(double *)field(cfg, o) = v;
		return 0;
	}
	case OPTION_CHOICE:
	case OPTION_MODE:
		for (int i = 0; o->choices[i]; i++) {
			if (strcmp(value, o->choices[i]))
				continue;
			if (o->type == OPTION_MODE) {
				*(int *)field(cfg, o) = i;
				return 0;
			}
			if (!(copy = strdup(value)))
				return -ENOMEM;
			free(*(char **)field(cfg, o));
			*(char **)field(cfg, o) = copy;
			return 0;
		}
		options_choices_text(o->choices, text, sizeof(text));
		return why_is(why, size, "'%s' is not %s", value, text);
	default:
		return why_is(why, size, "takes no value");
	}
}

enum options_result options_parse_argv(struct reach_config *cfg, int argc, char **argv, char *err, size_t err_size)
{
	struct option longopts[OPTIONS_MAX + 1];
	char shorts[2 * OPTIONS_MAX + 2] = ":";
	size_t n_long = 0, n_short = 1;
	char why[WHY_MAX];
	int c, rc;

	for (size_t i = 0; i < reach_n_options; i++) {
		const struct option_spec *o = &reach_options[i];
		bool takes_value = o->type != OPTION_BOOL && o->type != OPTION_HELP && o->type != OPTION_VERSION;

		if (!o->flag)
			continue;
		longopts[n_long++] = (struct option){ o->flag, takes_value ? required_argument : no_argument, NULL,
						      256 + (int)i };
		if (o->short_flag) {
			shorts[n_short++] = o->short_flag;
			if (takes_value)
				shorts[n_short++] = ':';
		}
	}
	longopts[n_long] = (struct option){ 0 };
	shorts[n_short] = '\0';

	format_error(err, err_size, "%s", "");
	optind = 0; /* glibc: a full restart, so the parser can run more than once */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
		const struct option_spec *o = NULL;

		if (c >= 256)
			o = &reach_options[c - 256];
		for (size_t i = 0; !o && i < reach_n_options; i++)
			if (reach_options[i].short_flag && reach_options[i].short_flag == c)
				o = &reach_options[i];
		if (!o) { /* ':' a value missing, '?' an unknown flag */
			if (c == ':')
				format_error(err, err_size, "option '%s' needs a value (see --help)", argv[optind - 1]);
			else
				format_error(err, err_size, "unknown option '%s' (see --help)", argv[optind - 1]);
			return OPTIONS_USAGE;
		}
		if (o->type == OPTION_HELP) {
			options_usage(stdout);
			return OPTIONS_EXIT_OK;
		}
		if (o->type == OPTION_VERSION) {
			printf("reachd %s\n", REACH_VERSION);
			return OPTIONS_EXIT_OK;
		}
		rc = set_from_text(cfg, o, optarg, why, sizeof(why));
		if (rc == -ENOMEM) {
			format_error(err, err_size, "--%s: out of memory", o->flag);
			return OPTIONS_USAGE;
		}
		if (rc) {
			format_error(err, err_size, "--%s: %s", o->flag, why);
			return OPTIONS_USAGE;
		}
	}
	if (optind < argc) {
		format_error(err, err_size, "unexpected argument '%s' (see --help)", argv[optind]);
		return OPTIONS_USAGE;
	}
	return OPTIONS_RUN;
}

/* ---- file + flags -------------------------------------------------------- */

/* Moves one value from *from into *to, leaving *from not set. */
static void take(struct reach_config *to, struct reach_config *from, const struct option_spec *o)
{
	switch (o->type) {
	case OPTION_BOOL:
	case OPTION_MODE:
		*(int *)field(to, o) = *(int *)field(from, o);
		*(int *)field(from, o) = o->init_true ? 1 : -1;
		break;
	case OPTION_STRING:
	case OPTION_CHOICE:
		free(*(char **)field(to, o));
		*(char **)field(to, o) = *(char **)field(from, o);
		*(char **)field(from, o) = NULL;
		break;
	case OPTION_U64:
		*(unsigned long long *)field(to, o) = *(unsigned long long *)field(from, o);
		*(unsigned long long *)field(from, o) = 0;
		break;
	case OPTION_SECONDS:
		*(double *)field(to, o) = *(double *)field(from, o);
		*(double *)field(from, o) = -1;
		break;
	default:
		break;
	}
}

/* Appends the entries of *from after those of *to. */
static int append_list(struct reach_config *to, struct reach_config *from, const struct option_spec *o)
{
	char **dst = field(to, o), **src = field(from, o);
	int *n = count_of(to, o), *n_src = count_of(from, o);

	if (*n + *n_src > CONFIG_MAX_LIST)
		return -1;
	for (int i = 0; i < *n_src; i++)
		dst[(*n)++] = src[i];
	*n_src = 0;
	return 0;
}

enum options_result options_merge(struct reach_config *out, struct reach_config *file, struct reach_config *flags,
				  char *err, size_t err_size)
{
	for (size_t i = 0; i < reach_n_options; i++) {
		const struct option_spec *o = &reach_options[i];

		if (o->type == OPTION_LIST) {
			struct reach_config *first = o->file_first ? file : flags, *second = o->file_first ? flags : file;

			if (append_list(out, first, o) || append_list(out, second, o)) {
				format_error(err, err_size, "%s: more than %d entries from flags and config together",
					     o->key ? o->key : o->flag, CONFIG_MAX_LIST);
				return OPTIONS_USAGE;
			}
			continue;
		}
		/* a flag that was given wins over the file */
		take(out, o->flag && is_set(flags, o) ? flags : file, o);
	}
	return OPTIONS_RUN;
}

int options_finalize(struct reach_config *cfg)
{
	char why[WHY_MAX];

	for (size_t i = 0; i < reach_n_options; i++) {
		const struct option_spec *o = &reach_options[i];
		int rc;

		if (o->type == OPTION_HELP || o->type == OPTION_VERSION || is_set(cfg, o))
			continue;
		if (o->def) {
			rc = set_from_text(cfg, o, o->def, why, sizeof(why));
			if (rc)
				return rc == -ENOMEM ? -ENOMEM : -EINVAL; /* a bad default: the table's test fails */
		} else if (o->type == OPTION_BOOL) {
			*(int *)field(cfg, o) = 0;
		} else if (o->type == OPTION_SECONDS) {
			*(double *)field(cfg, o) = 0;
		}
	}
	/* kubernetes.api (--kube-api) says where the API is: that is --kube */
	if (cfg->kube_api)
		cfg->kube_enabled = 1;
	return 0;
}

/* ---- --help -------------------------------------------------------------- */

/* The help text, continuation lines indented to the help column; the config
 * key, when there is one, after the last line. */
static void print_help_text(FILE *f, const struct option_spec *o, size_t column, bool with_key)
{
	const char *p = o->help;

	fprintf(f, "%*s", (int)(HELP_COLUMN > column ? HELP_COLUMN - column : 1), "");
	for (; *p; p++) {
		fputc(*p, f);
		if (*p == '\n')
			fprintf(f, "%*s", HELP_COLUMN, "");
	}
	if (with_key && o->key)
		fprintf(f, " [%s]", o->key);
	fputc('\n', f);
}

void options_usage(FILE *f)
{
	fprintf(f, "Usage: reachd [OPTIONS]\n"
		   "Observes the runtime reach of monitored workloads: secret files read and tools run.\n\n");
	for (size_t i = 0; i < reach_n_options; i++) {
		const struct option_spec *o = &reach_options[i];
		int column;

		if (!o->flag)
			continue;
		if (o->heading)
			fprintf(f, "%s\n", o->heading);
		if (o->short_flag)
			column = fprintf(f, "  -%c, --%s", o->short_flag, o->flag);
		else
			column = fprintf(f, "  --%s", o->flag);
		if (o->arg)
			column += fprintf(f, " %s", o->arg);
		print_help_text(f, o, column > 0 ? (size_t)column : 0, true);
	}
	fprintf(f, "Config file only (--config FILE):\n");
	for (size_t i = 0; i < reach_n_options; i++) {
		const struct option_spec *o = &reach_options[i];
		int column;

		if (o->flag)
			continue;
		column = fprintf(f, "  %s", o->key);
		print_help_text(f, o, column > 0 ? (size_t)column : 0, false);
	}
}

/* ---- --check-config ------------------------------------------------------- */

static void print_text(FILE *f, const struct option_spec *o, const char *value, option_url_describer describe)
{
	char shown[512];

	if (!value) {
		fputs("(none)", f);
		return;
	}
	if (o->url && describe) {
		describe(value, shown, sizeof(shown));
		value = shown;
	}
	fputs(value, f);
}

void options_print(FILE *f, const struct reach_config *cfg, option_url_describer describe_url)
{
	for (size_t i = 0; i < reach_n_options; i++) {
		const struct option_spec *o = &reach_options[i];
		const void *v = cfield(cfg, o);
		int b;

		if (o->type == OPTION_HELP || o->type == OPTION_VERSION)
			continue;
		if (o->key)
			fprintf(f, "  %s = ", o->key);
		else
			fprintf(f, "  --%s = ", o->flag);
		switch (o->type) {
		case OPTION_BOOL:
			b = *(const int *)v;
			fputs(b < 0 ? "(none)" : b ? "true" : "false", f);
			break;
		case OPTION_MODE:
			b = *(const int *)v;
			fputs(b < 0 ? "(none)" : o->choices[b], f);
			break;
		case OPTION_STRING:
		case OPTION_CHOICE:
			print_text(f, o, *(char *const *)v, describe_url);
			break;
		case OPTION_LIST:
			fputc('[', f);
			for (int j = 0; j < ccount_of(cfg, o); j++) {
				if (j)
					fputs(", ", f);
				print_text(f, o, ((char *const *)v)[j], describe_url);
			}
			fputc(']', f);
			break;
		case OPTION_U64:
			if (*(const unsigned long long *)v)
				fprintf(f, "%llu", *(const unsigned long long *)v);
			else
				fputs("(default)", f);
			break;
		case OPTION_SECONDS:
			fprintf(f, "%g", *(const double *)v);
			break;
		default:
			break;
		}
		fputc('\n', f);
	}
}
