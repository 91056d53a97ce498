/* Config-file loader: YAML text -> struct reach_config.
 *
 * We load the whole document with yaml_parser_load() rather than streaming
 * events because document nodes keep their start_mark, so every error can
 * point at FILE:LINE:COLUMN of the node that caused it. Everything is parsed
 * into a private struct and only swapped into the caller's on full success,
 * so a failed reload never leaves a half-applied config behind. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include "common/yamlnode.h"
#include "common/log.h"
#include "common/readfile.h"
#include "config/config.h"
#include "reach/netclass.h"
#include "identity/identity.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A config is a few hundred bytes; the cap only stops `--config /dev/zero`
 * style mistakes from eating memory. */
#define CONFIG_MAX_FILE_BYTES (1024 * 1024)

#define RINGBUF_MIN_BYTES 4096ULL              /* one 4 KiB page, the smallest ringbuf on x86 */
#define RINGBUF_MAX_BYTES (1ULL << 30)
#define DEDUP_MAX_ENTRIES 16777216ULL

/* Enough for every key table below (checked at compile time). */
#define MAX_KEYS_PER_MAPPING 16

/* Longest file-supplied text quoted back in an error message. */
#define MESSAGE_QUOTE_MAX 48

/* "secrets.pattern_files[63]" and friends. */
#define WHERE_MAX 64

struct loader {
	const char *path;
	yaml_document_t *doc;      /* libyaml's getters take non-const */
	struct reach_config *cfg;  /* the private copy being filled */
	char *err;
	size_t err_size;
};

typedef int (*value_parser)(struct loader *l, const yaml_node_t *value, const char *where);

struct key_spec {
	const char *name;
	value_parser parse;                 /* leaf key, or NULL for a section */
	const struct key_spec *children;    /* section: the keys of its mapping */
	size_t n_children;
};

/* ---- error messages ---------------------------------------------------- */


/* "FILE:LINE:COLUMN: reason"; libyaml marks are 0-based, editors are 1-based. */
static int fail_at_mark(struct loader *l, yaml_mark_t mark, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_at_mark(struct loader *l, yaml_mark_t mark, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = yaml_vfail_at(l->path, mark, l->err, l->err_size, fmt, ap);
	va_end(ap);
	return rc;
}

#define fail_at(l, node, ...) fail_at_mark((l), (node)->start_mark, __VA_ARGS__)

static const yaml_node_t *node_at(const struct loader *l, int index)
{
	return yaml_document_get_node(l->doc, index);
}


/* ---- node classification ----------------------------------------------- */




/* ---- scalar values ----------------------------------------------------- */

static int parse_string(struct loader *l, const yaml_node_t *value, const char *where, char **out)
{
	char *copy;

	if (value->type != YAML_SCALAR_NODE || yaml_is_null(value))
		return fail_at(l, value, "%s: expected a string, got %s", where, yaml_describe(value));
	if (value->data.scalar.length == 0)
		return fail_at(l, value, "%s: must not be empty", where);
	if (yaml_has_embedded_nul(value))
		return fail_at(l, value, "%s: contains a NUL byte", where);
	copy = strdup((const char *)value->data.scalar.value);
	if (!copy) {
		format_error(l->err, l->err_size, "%s: out of memory", l->path);
		return -ENOMEM;
	}
	*out = copy;
	return 0;
}

static int parse_bool(struct loader *l, const yaml_node_t *value, const char *where, int *out)
{
	char quoted[MESSAGE_QUOTE_MAX];
	const char *text;

	if (value->type != YAML_SCALAR_NODE || yaml_is_null(value))
		return fail_at(l, value, "%s: expected a boolean, got %s", where, yaml_describe(value));
	text = (const char *)value->data.scalar.value;
	if (yaml_has_embedded_nul(value))
		return fail_at(l, value, "%s: contains a NUL byte", where);
	if (strcasecmp(text, "true") == 0 || strcasecmp(text, "yes") == 0) {
		*out = 1;
		return 0;
	}
	if (strcasecmp(text, "false") == 0 || strcasecmp(text, "no") == 0) {
		*out = 0;
		return 0;
	}
	return fail_at(l, value, "%s: expected true/false/yes/no, got '%s'", where,
		       yaml_printable(value, quoted, sizeof(quoted)));
}

static int is_plain_decimal(const char *text, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	/* No leading zeros: YAML 1.1 readers take "0755" as octal. */
	if (text[0] == '0' && len > 1)
		return 0;
	for (i = 0; i < len; i++)
		if (text[i] < '0' || text[i] > '9')
			return 0;
	return 1;
}

static int parse_ull(struct loader *l, const yaml_node_t *value, const char *where,
		     unsigned long long *out)
{
	char quoted[MESSAGE_QUOTE_MAX];
	unsigned long long number;
	const char *text;
	char *end;

	if (value->type != YAML_SCALAR_NODE || yaml_is_null(value))
		return fail_at(l, value, "%s: expected an integer, got %s", where, yaml_describe(value));
	text = (const char *)value->data.scalar.value;
	/* strtoull alone would accept " 12", "+12" and even "-12" (wrapped). */
	if (!is_plain_decimal(text, value->data.scalar.length))
		return fail_at(l, value, "%s: expected a plain decimal integer, got '%s'", where,
			       yaml_printable(value, quoted, sizeof(quoted)));
	errno = 0;
	number = strtoull(text, &end, 10);
	if (errno == ERANGE)
		return fail_at(l, value, "%s: number too large, got '%s'", where,
			       yaml_printable(value, quoted, sizeof(quoted)));
	if (errno != 0 || *end != '\0')
		return fail_at(l, value, "%s: expected a plain decimal integer, got '%s'", where,
			       yaml_printable(value, quoted, sizeof(quoted)));
	*out = number;
	return 0;
}

/* ---- lists -------------------------------------------------------------- */

typedef int (*item_validator)(struct loader *l, const yaml_node_t *item, const char *where);

/* Appends straight into the private config: on a later error config_free()
 * of that copy releases whatever was stored so far. */
static int parse_string_list(struct loader *l, const yaml_node_t *value, const char *where,
			     char **items, int *n_items, item_validator validate)
{
	const yaml_node_item_t *it;
	char item_where[WHERE_MAX];
	int rc;

	if (value->type != YAML_SEQUENCE_NODE)
		return fail_at(l, value, "%s: expected a list, got %s", where, yaml_describe(value));
	for (it = value->data.sequence.items.start; it < value->data.sequence.items.top; it++) {
		const yaml_node_t *item = node_at(l, *it);

		if (*n_items >= CONFIG_MAX_LIST)
			return fail_at(l, item, "%s: too many entries (max %d)", where, CONFIG_MAX_LIST);
		snprintf(item_where, sizeof(item_where), "%s[%d]", where, *n_items);
		if (validate) {
			rc = validate(l, item, item_where);
			if (rc)
				return rc;
		}
		rc = parse_string(l, item, item_where, &items[*n_items]);
		if (rc)
			return rc;
		(*n_items)++;
	}
	return 0;
}

/* The documented form is "PATTERN" or "PATTERN CATEGORY": a third word is a
 * typo or a space inside the pattern, which that form cannot express. Reject
 * it here, where we still know the line, rather than in the secrets matcher. */
static int validate_secret_pattern(struct loader *l, const yaml_node_t *item, const char *where)
{
	const char *p;
	int words = 0;

	if (item->type != YAML_SCALAR_NODE)
		return 0; /* parse_string reports the type error */
	for (p = (const char *)item->data.scalar.value; *p; p++)
		if ((p == (const char *)item->data.scalar.value || p[-1] == ' ' || p[-1] == '\t') &&
		    *p != ' ' && *p != '\t')
			words++;
	if (words > 2)
		return fail_at(l, item, "%s: expected \"PATTERN\" or \"PATTERN CATEGORY\", got %d words",
			       where, words);
	return 0;
}

/* Values the egress classifier will parse: checked here, where the line is known. */
static int validate_cidr(struct loader *l, const yaml_node_t *item, const char *where)
{
	char shown[MESSAGE_QUOTE_MAX];
	struct cidr c;

	if (item->type != YAML_SCALAR_NODE)
		return 0; /* parse_string reports the type error */
	if (cidr_parse((const char *)item->data.scalar.value, &c))
		return fail_at(l, item, "%s: '%s' is not a CIDR (ADDRESS/PREFIX with zero host bits, or an address)",
			       where, yaml_printable(item, shown, sizeof(shown)));
	return 0;
}

static int validate_endpoint(struct loader *l, const yaml_node_t *item, const char *where)
{
	char shown[MESSAGE_QUOTE_MAX];
	struct netclass probe;

	if (item->type != YAML_SCALAR_NODE)
		return 0;
	netclass_init(&probe);
	if (netclass_add_apiserver(&probe, (const char *)item->data.scalar.value))
		return fail_at(l, item, "%s: '%s' is not an address or ADDRESS:PORT ([IPv6]:PORT)",
			       where, yaml_printable(item, shown, sizeof(shown)));
	return 0;
}

static int validate_label(struct loader *l, const yaml_node_t *item, const char *where)
{
	char shown[MESSAGE_QUOTE_MAX];
	const char *v;

	if (item->type != YAML_SCALAR_NODE)
		return 0;
	v = (const char *)item->data.scalar.value;
	if (!strchr(v, '=') || v[0] == '=')
		return fail_at(l, item, "%s: '%s' is not KEY=VALUE", where, yaml_printable(item, shown, sizeof(shown)));
	return 0;
}

static int validate_identity_rule(struct loader *l, const yaml_node_t *item, const char *where)
{
	char shown[MESSAGE_QUOTE_MAX];
	struct identity_resolver *probe;
	int rc;

	if (item->type != YAML_SCALAR_NODE)
		return 0;
	probe = identity_resolver_new(NULL);
	if (!probe)
		return fail_at(l, item, "%s: out of memory", where);
	rc = identity_add_rule(probe, (const char *)item->data.scalar.value);
	identity_resolver_free(probe);
	if (rc)
		return fail_at(l, item, "%s: '%s' is not \"cgroup:/GLOB IDENTITY\" or \"uid:N IDENTITY\"", where,
			       yaml_printable(item, shown, sizeof(shown)));
	return 0;
}

/* ---- the keys ----------------------------------------------------------- */

static int parse_monitor_cgroups(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string_list(l, v, where, l->cfg->cgroups, &l->cfg->n_cgroups, NULL);
}

static int parse_monitor_all(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_bool(l, v, where, &l->cfg->monitor_all);
}

static int parse_secrets_builtin(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_bool(l, v, where, &l->cfg->builtin_secrets);
}

static int parse_secrets_patterns(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string_list(l, v, where, l->cfg->secret_patterns,
				 &l->cfg->n_secret_patterns, validate_secret_pattern);
}

static int parse_secrets_pattern_files(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string_list(l, v, where, l->cfg->secret_pattern_files,
				 &l->cfg->n_secret_pattern_files, NULL);
}

static int is_power_of_two(unsigned long long n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

/* BPF_MAP_TYPE_RINGBUF rejects sizes that are not a page-multiple power of 2;
 * catching it here gives a line number instead of a bare EINVAL at load. */
static int parse_sensor_ringbuf_bytes(struct loader *l, const yaml_node_t *v, const char *where)
{
	unsigned long long bytes = 0;
	int rc = parse_ull(l, v, where, &bytes);

	if (rc)
		return rc;
	if (!is_power_of_two(bytes) || bytes < RINGBUF_MIN_BYTES || bytes > RINGBUF_MAX_BYTES)
		return fail_at(l, v, "%s: must be a power of two between %llu and %llu, got %llu",
			       where, RINGBUF_MIN_BYTES, RINGBUF_MAX_BYTES, bytes);
	l->cfg->ringbuf_bytes = bytes;
	return 0;
}

static int parse_sensor_dedup_entries(struct loader *l, const yaml_node_t *v, const char *where)
{
	unsigned long long entries = 0;
	int rc = parse_ull(l, v, where, &entries);

	if (rc)
		return rc;
	if (entries < 1 || entries > DEDUP_MAX_ENTRIES)
		return fail_at(l, v, "%s: must be between 1 and %llu, got %llu",
			       where, DEDUP_MAX_ENTRIES, entries);
	l->cfg->dedup_entries = entries;
	return 0;
}

static int parse_sensor_observed_edges(struct loader *l, const yaml_node_t *v, const char *where)
{
	unsigned long long edges = 0;
	int rc = parse_ull(l, v, where, &edges);

	if (rc)
		return rc;
	if (edges < OBSERVED_EDGES_MIN || edges > OBSERVED_EDGES_MAX)
		return fail_at(l, v, "%s: must be between %llu and %llu, got %llu", where,
			       (unsigned long long)OBSERVED_EDGES_MIN, (unsigned long long)OBSERVED_EDGES_MAX, edges);
	l->cfg->observed_edges = edges;
	return 0;
}

/* A string that must be one of names (expected: them in words, for the error). */
static int parse_one_of(struct loader *l, const yaml_node_t *v, const char *where, char **out,
			const char *const *names, size_t n_names, const char *expected)
{
	char shown[MESSAGE_QUOTE_MAX];
	int rc = parse_string(l, v, where, out);

	if (rc)
		return rc;
	for (size_t i = 0; i < n_names; i++)
		if (strcmp(*out, names[i]) == 0)
			return 0;
	return fail_at(l, v, "%s: expected %s, got '%s'", where, expected, yaml_printable(v, shown, sizeof(shown)));
}

static int parse_sensor_syscall_hooks(struct loader *l, const yaml_node_t *v, const char *where)
{
	static const char *const names[] = { "auto", "per-syscall", "dispatcher" };

	return parse_one_of(l, v, where, &l->cfg->syscall_hooks, names, ARRAY_SIZE(names),
			    "auto, per-syscall or dispatcher");
}

static int parse_agent_ready_file(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string(l, v, where, &l->cfg->ready_file);
}

static int parse_agent_state_dir(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string(l, v, where, &l->cfg->state_dir);
}

static int parse_egress_cluster_cidrs(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string_list(l, v, where, l->cfg->cluster_cidrs, &l->cfg->n_cluster_cidrs, validate_cidr);
}

static int parse_egress_apiserver(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string_list(l, v, where, l->cfg->apiservers, &l->cfg->n_apiservers, validate_endpoint);
}

static int parse_kube_enabled(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_bool(l, v, where, &l->cfg->kube_enabled);
}

static int parse_kube_api(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string(l, v, where, &l->cfg->kube_api);
}

static int parse_kube_token_file(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string(l, v, where, &l->cfg->kube_token_file);
}

static int parse_kube_ca_file(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string(l, v, where, &l->cfg->kube_ca_file);
}

static int parse_kube_node_name(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string(l, v, where, &l->cfg->node_name);
}

static int parse_kube_namespaces(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string_list(l, v, where, l->cfg->namespaces, &l->cfg->n_namespaces, NULL);
}

static int parse_kube_pod_selector(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string_list(l, v, where, l->cfg->pod_selector, &l->cfg->n_pod_selector, validate_label);
}

static int parse_identity_rules(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string_list(l, v, where, l->cfg->identity_rules, &l->cfg->n_identity_rules, validate_identity_rule);
}

static const struct key_spec kubernetes_keys[] = {
	{ "enabled", parse_kube_enabled, NULL, 0 },
	{ "api", parse_kube_api, NULL, 0 },
	{ "token_file", parse_kube_token_file, NULL, 0 },
	{ "ca_file", parse_kube_ca_file, NULL, 0 },
	{ "node_name", parse_kube_node_name, NULL, 0 },
	{ "namespaces", parse_kube_namespaces, NULL, 0 },
	{ "pod_selector", parse_kube_pod_selector, NULL, 0 },
};

static int parse_policy_paths(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string_list(l, v, where, l->cfg->policy_paths, &l->cfg->n_policy_paths, NULL);
}

static int parse_policy_default(struct loader *l, const yaml_node_t *v, const char *where)
{
	char shown[MESSAGE_QUOTE_MAX];
	const char *t;

	if (v->type != YAML_SCALAR_NODE)
		return fail_at(l, v, "%s: expected audit or alert, got %s", where, yaml_describe(v));
	t = (const char *)v->data.scalar.value;
	if (strcmp(t, "audit") && strcmp(t, "alert"))
		return fail_at(l, v, "%s: expected audit or alert, got '%s'", where, yaml_printable(v, shown, sizeof(shown)));
	l->cfg->policy_default_alert = strcmp(t, "alert") == 0;
	return 0;
}

static const struct key_spec policy_keys[] = {
	{ "paths", parse_policy_paths, NULL, 0 },
	{ "default", parse_policy_default, NULL, 0 },
};

static const struct key_spec identity_keys[] = {
	{ "rules", parse_identity_rules, NULL, 0 },
};

static const struct key_spec egress_keys[] = {
	{ "cluster_cidrs", parse_egress_cluster_cidrs, NULL, 0 },
	{ "apiserver", parse_egress_apiserver, NULL, 0 },
};

static const struct key_spec monitor_keys[] = {
	{ "cgroups", parse_monitor_cgroups, NULL, 0 },
	{ "all", parse_monitor_all, NULL, 0 },
};

static const struct key_spec secrets_keys[] = {
	{ "builtin", parse_secrets_builtin, NULL, 0 },
	{ "patterns", parse_secrets_patterns, NULL, 0 },
	{ "pattern_files", parse_secrets_pattern_files, NULL, 0 },
};

static const struct key_spec sensor_keys[] = {
	{ "ringbuf_bytes", parse_sensor_ringbuf_bytes, NULL, 0 },
	{ "dedup_entries", parse_sensor_dedup_entries, NULL, 0 },
	{ "observed_edges", parse_sensor_observed_edges, NULL, 0 },
	{ "syscall_hooks", parse_sensor_syscall_hooks, NULL, 0 },
};

static int parse_agent_drop_caps(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_bool(l, v, where, &l->cfg->drop_caps);
}

static int parse_agent_fingerprint_key_file(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string(l, v, where, &l->cfg->fingerprint_key_file);
}

static const struct key_spec agent_keys[] = {
	{ "ready_file", parse_agent_ready_file, NULL, 0 },
	{ "state_dir", parse_agent_state_dir, NULL, 0 },
	{ "drop_caps", parse_agent_drop_caps, NULL, 0 },
	{ "fingerprint_key_file", parse_agent_fingerprint_key_file, NULL, 0 },
};

/* A sink URL: http(s)://HOST... checked here for a line number; the sink
 * checks it fully (and the CA, the token file) at start. */
static int validate_url(struct loader *l, const yaml_node_t *item, const char *where)
{
	char shown[MESSAGE_QUOTE_MAX];
	const char *t;

	if (item->type != YAML_SCALAR_NODE)
		return 0; /* parse_string says what it expected */
	t = (const char *)item->data.scalar.value;
	if (strncmp(t, "https://", 8) && strncmp(t, "http://", 7))
		return fail_at(l, item, "%s: expected an http:// or https:// URL, got '%s'", where,
			       yaml_printable(item, shown, sizeof(shown)));
	return 0;
}

static int parse_url(struct loader *l, const yaml_node_t *v, const char *where, char **out)
{
	int rc = parse_string(l, v, where, out);

	return rc ? rc : validate_url(l, v, where);
}

static int parse_ship_url(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_url(l, v, where, &l->cfg->ship_url);
}

static int parse_ship_token_file(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string(l, v, where, &l->cfg->ship_token_file);
}

static int parse_ship_ca_file(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string(l, v, where, &l->cfg->ship_ca_file);
}

static int parse_ship_spool_dir(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string(l, v, where, &l->cfg->spool_dir);
}

static int parse_positive(struct loader *l, const yaml_node_t *v, const char *where, unsigned long long min,
			  unsigned long long max, unsigned long long *out)
{
	unsigned long long n = 0;
	int rc = parse_ull(l, v, where, &n);

	if (rc)
		return rc;
	if (n < min || n > max)
		return fail_at(l, v, "%s: must be between %llu and %llu, got %llu", where, min, max, n);
	*out = n;
	return 0;
}

static int parse_ship_spool_max_bytes(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_positive(l, v, where, 65536, 1ULL << 40, &l->cfg->spool_max_bytes);
}

static int parse_ship_report_interval(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_positive(l, v, where, 1, 86400, &l->cfg->report_interval_s);
}

static int parse_ship_snapshot_interval(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_positive(l, v, where, 1, 7 * 86400, &l->cfg->snapshot_interval_s);
}

static int parse_ship_backoff_max(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_positive(l, v, where, 1, 3600, &l->cfg->backoff_max_s);
}

static const struct key_spec ship_keys[] = {
	{ "backoff_max_s", parse_ship_backoff_max, NULL, 0 },
	{ "url", parse_ship_url, NULL, 0 },
	{ "token_file", parse_ship_token_file, NULL, 0 },
	{ "ca_file", parse_ship_ca_file, NULL, 0 },
	{ "spool_dir", parse_ship_spool_dir, NULL, 0 },
	{ "spool_max_bytes", parse_ship_spool_max_bytes, NULL, 0 },
	{ "report_interval_s", parse_ship_report_interval, NULL, 0 },
	{ "snapshot_interval_s", parse_ship_snapshot_interval, NULL, 0 },
};

static int parse_alerts_alertmanager(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string_list(l, v, where, l->cfg->alertmanagers, &l->cfg->n_alertmanagers, validate_url);
}

static int parse_alerts_webhook(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_url(l, v, where, &l->cfg->webhook_url);
}

static int parse_alerts_min_severity(struct loader *l, const yaml_node_t *v, const char *where)
{
	static const char *const names[] = { "info", "low", "medium", "high" };

	return parse_one_of(l, v, where, &l->cfg->alert_min_severity, names, ARRAY_SIZE(names),
			    "info, low, medium or high");
}

static const struct key_spec alerts_keys[] = {
	{ "alertmanager", parse_alerts_alertmanager, NULL, 0 },
	{ "webhook", parse_alerts_webhook, NULL, 0 },
	{ "min_severity", parse_alerts_min_severity, NULL, 0 },
};

static int parse_otlp_url(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_url(l, v, where, &l->cfg->otlp_url);
}

static const struct key_spec otlp_keys[] = {
	{ "url", parse_otlp_url, NULL, 0 },
};

static int parse_metrics_addr(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string(l, v, where, &l->cfg->metrics_addr);
}

static int parse_metrics_api_token_file(struct loader *l, const yaml_node_t *v, const char *where)
{
	return parse_string(l, v, where, &l->cfg->api_token_file);
}

static const struct key_spec metrics_keys[] = {
	{ "addr", parse_metrics_addr, NULL, 0 },
	{ "api_token_file", parse_metrics_api_token_file, NULL, 0 },
};

static const struct key_spec top_level_keys[] = {
	{ "monitor", NULL, monitor_keys, ARRAY_SIZE(monitor_keys) },
	{ "secrets", NULL, secrets_keys, ARRAY_SIZE(secrets_keys) },
	{ "sensor", NULL, sensor_keys, ARRAY_SIZE(sensor_keys) },
	{ "agent", NULL, agent_keys, ARRAY_SIZE(agent_keys) },
	{ "egress", NULL, egress_keys, ARRAY_SIZE(egress_keys) },
	{ "kubernetes", NULL, kubernetes_keys, ARRAY_SIZE(kubernetes_keys) },
	{ "identity", NULL, identity_keys, ARRAY_SIZE(identity_keys) },
	{ "policy", NULL, policy_keys, ARRAY_SIZE(policy_keys) },
	{ "ship", NULL, ship_keys, ARRAY_SIZE(ship_keys) },
	{ "alerts", NULL, alerts_keys, ARRAY_SIZE(alerts_keys) },
	{ "otlp", NULL, otlp_keys, ARRAY_SIZE(otlp_keys) },
	{ "metrics", NULL, metrics_keys, ARRAY_SIZE(metrics_keys) },
};

_Static_assert(ARRAY_SIZE(monitor_keys) <= MAX_KEYS_PER_MAPPING, "raise MAX_KEYS_PER_MAPPING");
_Static_assert(ARRAY_SIZE(secrets_keys) <= MAX_KEYS_PER_MAPPING, "raise MAX_KEYS_PER_MAPPING");
_Static_assert(ARRAY_SIZE(sensor_keys) <= MAX_KEYS_PER_MAPPING, "raise MAX_KEYS_PER_MAPPING");
_Static_assert(ARRAY_SIZE(agent_keys) <= MAX_KEYS_PER_MAPPING, "raise MAX_KEYS_PER_MAPPING");
_Static_assert(ARRAY_SIZE(top_level_keys) <= MAX_KEYS_PER_MAPPING, "raise MAX_KEYS_PER_MAPPING");
_Static_assert(ARRAY_SIZE(kubernetes_keys) <= MAX_KEYS_PER_MAPPING, "raise MAX_KEYS_PER_MAPPING");
_Static_assert(ARRAY_SIZE(ship_keys) <= MAX_KEYS_PER_MAPPING, "raise MAX_KEYS_PER_MAPPING");

/* ---- mappings ----------------------------------------------------------- */

static const struct key_spec *find_key(const struct key_spec *keys, size_t n_keys,
				       const yaml_node_t *key)
{
	size_t i;

	for (i = 0; i < n_keys; i++)
		if (strcmp((const char *)key->data.scalar.value, keys[i].name) == 0)
			return &keys[i];
	return NULL;
}

static int walk_mapping(struct loader *l, const yaml_node_t *mapping, const char *scope,
			const struct key_spec *keys, size_t n_keys);

static int parse_key_value(struct loader *l, const struct key_spec *spec,
			   const yaml_node_t *value, const char *scope)
{
	char where[WHERE_MAX];

	if (scope)
		snprintf(where, sizeof(where), "%s.%s", scope, spec->name);
	else
		snprintf(where, sizeof(where), "%s", spec->name);
	if (spec->parse)
		return spec->parse(l, value, where);
	/* A bare "monitor:" is an empty section, like leaving it out. */
	if (yaml_is_null(value))
		return 0;
	if (value->type != YAML_MAPPING_NODE)
		return fail_at(l, value, "%s: expected a mapping, got %s", where, yaml_describe(value));
	return walk_mapping(l, value, where, spec->children, spec->n_children);
}

/* libyaml keeps duplicate keys; YAML says they are an error and silently
 * taking the first or the last would hide an operator's mistake. */
static int walk_mapping(struct loader *l, const yaml_node_t *mapping, const char *scope,
			const struct key_spec *keys, size_t n_keys)
{
	const char *scope_name = scope ? scope : "the top level";
	size_t first_line[MAX_KEYS_PER_MAPPING] = { 0 };
	const yaml_node_pair_t *pair;
	char quoted[MESSAGE_QUOTE_MAX];
	int rc;

	for (pair = mapping->data.mapping.pairs.start; pair < mapping->data.mapping.pairs.top; pair++) {
		const yaml_node_t *key = node_at(l, pair->key);
		const yaml_node_t *value = node_at(l, pair->value);
		const struct key_spec *spec;
		size_t index;

		if (key->type != YAML_SCALAR_NODE)
			return fail_at(l, key, "keys in %s must be strings, got %s",
				       scope_name, yaml_describe(key));
		/* A key with an embedded NUL ("monitor\0x") must not match "monitor". */
		spec = yaml_has_embedded_nul(key) ? NULL : find_key(keys, n_keys, key);
		if (!spec)
			return fail_at(l, key, "unknown key '%s' in %s",
				       yaml_printable(key, quoted, sizeof(quoted)), scope_name);
		index = (size_t)(spec - keys);
		if (first_line[index])
			return fail_at(l, key, "duplicate key '%s' in %s (first at line %zu)",
				       spec->name, scope_name, first_line[index]);
		first_line[index] = key->start_mark.line + 1;
		rc = parse_key_value(l, spec, value, scope);
		if (rc)
			return rc;
	}
	return 0;
}

static int walk_document(struct loader *l)
{
	const yaml_node_t *root = yaml_document_get_root_node(l->doc);

	/* An empty file (or one holding only comments, "---" or "~") is a valid
	 * config with every default. */
	if (!root || yaml_is_null(root))
		return 0;
	if (root->type != YAML_MAPPING_NODE)
		return fail_at(l, root, "the top level must be a mapping, got %s", yaml_describe(root));
	return walk_mapping(l, root, NULL, top_level_keys, ARRAY_SIZE(top_level_keys));
}

/* ---- YAML parsing ------------------------------------------------------- */


static int fail_yaml(struct loader *l, const yaml_parser_t *parser, const char *text, size_t len)
{
	return yaml_parse_error(l->path, parser, text, len, l->err, l->err_size);
}

/* A second document would be silently ignored by a single load; refuse it so
 * a stray "---" cannot hide half of the operator's settings. */
static int reject_second_document(struct loader *l, yaml_parser_t *parser, const char *text, size_t len)
{
	const yaml_node_t *root;
	yaml_document_t extra;
	int rc = 0;

	if (!yaml_parser_load(parser, &extra))
		return fail_yaml(l, parser, text, len);
	root = yaml_document_get_root_node(&extra);
	if (root)
		rc = fail_at(l, root, "only one YAML document is allowed");
	yaml_document_delete(&extra);
	return rc;
}

static int parse_config_text(struct loader *l, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc;

	if (!yaml_parser_initialize(&parser)) {
		format_error(l->err, l->err_size, "%s: out of memory", l->path);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	/* On failure yaml_parser_load() has already freed the document. */
	if (!yaml_parser_load(&parser, &doc)) {
		rc = fail_yaml(l, &parser, text, len);
		yaml_parser_delete(&parser);
		return rc;
	}
	rc = reject_second_document(l, &parser, text, len);
	if (rc == 0) {
		l->doc = &doc;
		rc = walk_document(l);
		l->doc = NULL;
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

/* ---- file input --------------------------------------------------------- */

static int read_config_file(const char *path, char **text, size_t *len, char *err, size_t err_size)
{
	return read_text_file(path, CONFIG_MAX_FILE_BYTES, "config", text, len, err, err_size);
}

/* ---- public API --------------------------------------------------------- */

void config_init(struct reach_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->monitor_all = -1;
	cfg->kube_enabled = -1;
	cfg->drop_caps = -1;
	cfg->policy_default_alert = -1;
	cfg->builtin_secrets = 1;
}

static void free_list(char **items, int n_items)
{
	int i;

	for (i = 0; i < n_items; i++)
		free(items[i]);
}

void config_free(struct reach_config *cfg)
{
	if (!cfg)
		return;
	free_list(cfg->cgroups, cfg->n_cgroups);
	free_list(cfg->secret_patterns, cfg->n_secret_patterns);
	free_list(cfg->secret_pattern_files, cfg->n_secret_pattern_files);
	free_list(cfg->cluster_cidrs, cfg->n_cluster_cidrs);
	free_list(cfg->namespaces, cfg->n_namespaces);
	free_list(cfg->pod_selector, cfg->n_pod_selector);
	free_list(cfg->identity_rules, cfg->n_identity_rules);
	free_list(cfg->policy_paths, cfg->n_policy_paths);
	free(cfg->kube_api);
	free(cfg->kube_token_file);
	free(cfg->kube_ca_file);
	free(cfg->node_name);
	free_list(cfg->apiservers, cfg->n_apiservers);
	free(cfg->ready_file);
	free(cfg->state_dir);
	free(cfg->syscall_hooks);
	free(cfg->fingerprint_key_file);
	free(cfg->ship_url);
	free(cfg->ship_token_file);
	free(cfg->ship_ca_file);
	free(cfg->spool_dir);
	free_list(cfg->alertmanagers, cfg->n_alertmanagers);
	free(cfg->webhook_url);
	free(cfg->alert_min_severity);
	free(cfg->otlp_url);
	free(cfg->metrics_addr);
	free(cfg->api_token_file);
	config_init(cfg);
}

int config_load_file(struct reach_config *cfg, const char *path, char *err, size_t err_size)
{
	struct reach_config loaded;
	struct loader l = { .path = path, .cfg = &loaded, .err = err, .err_size = err_size };
	size_t len = 0;
	char *text = NULL;
	int rc;

	format_error(err, err_size, "%s", "");
	if (!cfg || !path) {
		format_error(err, err_size, "config_load_file: no config or path given");
		return -EINVAL;
	}
	rc = read_config_file(path, &text, &len, err, err_size);
	if (rc)
		return rc;
	config_init(&loaded);
	rc = parse_config_text(&l, text, len);
	free(text);
	if (rc) {
		config_free(&loaded);
		return rc;
	}
	config_free(cfg);
	*cfg = loaded;
	return 0;
}
