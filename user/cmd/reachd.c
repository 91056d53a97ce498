/*
 * reachd: the reach agent. Parses arguments and wires the stages together:
 * sensor (kernel events) -> catalogue + path resolution -> observed reach
 * -> output. Exit codes: 0 done, 1 could not start, 2 bad usage or config.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/cgroup.h"
#include "common/log.h"
#include "config/config.h"
#include "reach/catalog.h"
#include "reach/dns.h"
#include "reach/dnsnames.h"
#include "reach/netclass.h"
#include "reach/observed.h"
#include "reach/path.h"
#include "reach/proctree.h"
#include "reach/redact.h"
#include "sensor/sensor.h"
#include "cmd/output.h"

#define EXIT_START_FAILED 1
#define EXIT_USAGE 2
#define REFRESH_INTERVAL_NS 1000000000ULL

static volatile sig_atomic_t exiting;

struct agent {
	struct catalog *catalog;
	struct observed *observed;
	struct proctree *procs;
	struct sensor *sensor;
	struct dnsnames *dns;
	struct netclass netclass;
	struct run_stats stats;
	int print_events;
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
	const char *cluster_cidrs[CONFIG_MAX_LIST];
	int n_cluster_cidrs;
	const char *apiservers[CONFIG_MAX_LIST];
	int n_apiservers;
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
		"  --cluster-cidr CIDR   pod/service range: egress there is classed 'cluster' (repeatable)\n"
		"  --apiserver ADDR[:PORT]  the kube-apiserver (default: KUBERNETES_SERVICE_HOST/PORT) (repeatable)\n"
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
	       OPT_RINGBUF, OPT_DEDUP, OPT_VERSION, OPT_CLUSTER_CIDR, OPT_APISERVER };
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
		{ "cluster-cidr", required_argument, NULL, OPT_CLUSTER_CIDR },
		{ "apiserver", required_argument, NULL, OPT_APISERVER },
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

static void on_signal(int sig) { exiting = 1; }

/* ---- event handling ---------------------------------------------------- */

static void print_if_new(struct agent *ag, uint64_t cgroup_id, const struct edge *e, bool is_new);

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
	e = observed_add(ag->observed, EDGE_SECRET, &obs, &is_new);
	if (!e)
		log_warn("out of memory recording a secret edge");
	else
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
	proctree_exec(ag->procs, ev->hdr.tgid, ev->hdr.ppid, ev->hdr.cgroup_id, filename);

	obs.hdr = &ev->hdr;
	obs.key = &ev->key;
	obs.object = filename;
	obs.exe = filename;
	obs.argv = argv;
	obs.argc = argc;
	obs.argv_truncated = truncated;
	obs.n_lineage = proctree_lineage(ag->procs, ev->hdr.tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	e = observed_add(ag->observed, EDGE_TOOL, &obs, &is_new);
	if (!e)
		log_warn("out of memory recording a tool edge");
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
	e = observed_add(ag->observed, EDGE_EGRESS, &obs, &is_new);
	if (!e)
		log_warn("out of memory recording an egress edge");
	else
		print_if_new(ag, ev->hdr.cgroup_id, e, is_new);
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

static int on_event(void *ctx, const void *data, size_t size)
{
	struct agent *ag = ctx;
	const struct reach_event_hdr *hdr = data;

	if (size < sizeof(*hdr) || hdr->size > size || hdr->kind == 0 || hdr->kind >= REACH_EV__MAX) {
		ag->stats.malformed_events++;
		return 0;
	}
	ag->stats.events[hdr->kind]++;
	switch (hdr->kind) {
	case REACH_EV_FILE_OPEN:
		if (size >= sizeof(struct reach_file_open_event))
			handle_file_open(ag, data);
		else
			ag->stats.malformed_events++;
		break;
	case REACH_EV_EXEC:
		if (size >= sizeof(struct reach_exec_event))
			handle_exec(ag, data);
		else
			ag->stats.malformed_events++;
		break;
	case REACH_EV_EGRESS:
		if (size >= sizeof(struct reach_egress_event))
			handle_egress(ag, data);
		else
			ag->stats.malformed_events++;
		break;
	case REACH_EV_DNS:
		if (size >= sizeof(struct reach_dns_event))
			handle_dns(ag, data);
		else
			ag->stats.malformed_events++;
		break;
	case REACH_EV_FORK:
		proctree_fork(ag->procs, hdr->tgid, ((const struct reach_fork_event *)data)->child_tgid, hdr->cgroup_id);
		break;
	case REACH_EV_EXIT:
		proctree_exit(ag->procs, hdr->tgid);
		break;
	}
	return 0;
}

static int dedup_lookup(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	return sensor_dedup_lookup(ctx, key, val);
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

static int run_loop(struct agent *ag, double duration_s)
{
	double start = now_s(), last_refresh = start;

	while (!exiting) {
		int rc = sensor_poll(ag->sensor, 100);
		double t = now_s();

		if (rc < 0) {
			log_error("reading the ring buffer: %s", strerror(-rc));
			return EXIT_START_FAILED;
		}
		if (t - last_refresh >= REFRESH_INTERVAL_NS / 1e9) {
			/* keeps counts of edges whose map entries the LRU may evict */
			observed_refresh(ag->observed, dedup_lookup, ag->sensor);
			last_refresh = t;
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

int main(int argc, char **argv)
{
	struct args a = { 0 };
	struct reach_config cfg;
	struct agent ag = { 0 };
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
	if (!a.n_cgroups && !a.all && !cfg.n_cgroups && cfg.monitor_all != 1) {
		log_error("nothing to monitor: give --cgroup PATH (repeatable) or --all");
		rc = EXIT_USAGE;
		goto out;
	}
	if ((rc = build_catalog(&ag, &cfg, &a)))
		goto out;
	if (sensor_check_prerequisites(err, sizeof(err))) {
		log_error("cannot start: %s", err);
		rc = EXIT_START_FAILED;
		goto out;
	}

	ag.observed = observed_new();
	ag.procs = proctree_new();
	if (!ag.observed || !ag.procs) {
		log_error("allocating the reach model: %s", strerror(ENOMEM));
		rc = EXIT_START_FAILED;
		goto out;
	}
	ag.print_events = a.events;
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
	sopts.on_event = on_event;
	sopts.ctx = &ag;
	if (sensor_start(&ag.sensor, &sopts, err, sizeof(err))) {
		log_error("cannot start: %s", err);
		rc = EXIT_START_FAILED;
		goto out;
	}
	if ((rc = monitor_cgroups(&ag, a.cgroups, a.n_cgroups)) ||
	    (rc = monitor_cgroups(&ag, (const char *const *)cfg.cgroups, cfg.n_cgroups)))
		goto out;
	sensor_set_monitor_all(ag.sensor, a.all || cfg.monitor_all == 1);

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (a.ready_file || cfg.ready_file) {
		if ((rc = write_ready_file(a.ready_file ? a.ready_file : cfg.ready_file)))
			goto out;
	}
	log_info("ready: 5 hooks attached, monitoring %s", (a.all || cfg.monitor_all == 1) ? "every process" : "the given cgroups");

	if ((rc = run_loop(&ag, a.duration_s)))
		goto out;
	observed_refresh(ag.observed, dedup_lookup, ag.sensor);
	if ((rc = sensor_read_losses(ag.sensor, &ag.stats.losses)))
		log_warn("reading the loss counters: %s", strerror(-rc));
	rc = 0;
	ag.stats.dns_names_dropped = dnsnames_dropped(ag.dns);
	if (a.events)
		output_summary_json(stdout, ag.observed, &ag.stats);
	else
		output_summary_text(stdout, ag.observed, &ag.stats);
	if (output_loss_total(&ag.stats.losses, REACH_LOSS_RINGBUF_FULL))
		log_warn("%" PRIu64 " events lost because the ring buffer was full: raise --ringbuf-bytes",
			 output_loss_total(&ag.stats.losses, REACH_LOSS_RINGBUF_FULL));
out:
	sensor_stop(ag.sensor);
	proctree_free(ag.procs);
	dnsnames_free(ag.dns);
	observed_free(ag.observed);
	catalog_free(ag.catalog);
	config_free(&cfg);
	return rc;
}
