/*
 * reachd: the reach agent. Parses arguments and wires the stages together:
 * sensor (kernel events) -> pipeline (agent/pipeline.h: catalogue, path
 * resolution, process tree, TLS coverage -> observed reach) -> ledger,
 * local API (agent/api_handlers.h), shipping (ship/shipping.h), output.
 * Exit codes: 0 done, 1 could not start, 2 bad usage or config.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "common/api.h"
#include "common/caps.h"
#include "common/cgroup.h"
#include "common/log.h"
#include "config/config.h"
#include "config/options.h"
#include "identity/identity.h"
#include "reach/artifact.h"
#include "reach/catalog.h"
#include "agent/kfilter.h"
#include "reach/ledger.h"
#include "reach/ledger_persist.h"
#include "reach/netclass.h"
#include "reach/observed.h"
#include "sensor/sensor.h"
#include "sensor/tls.h"
#include "agent/output.h"
#include "agent/pipeline.h"
#include "agent/api_handlers.h"
#include "agent/counters.h"
#include "agent/kube_setup.h"
#include "agent/sensor_ops.h"
#include "agent/setup.h"
#include "agent/verification.h"
#include "ship/shipping.h"

#define EXIT_START_FAILED 1
#define EXIT_USAGE 2
#define REFRESH_INTERVAL_S 1.0
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
	struct agent_kube k8s;           /* pods, ReachPolicy objects, PolicyReports (agent/kube_setup.h) */
	bool ready;
	struct identity_resolver *resolver;
	struct ledger *ledger;
	char ledger_path[4096];
	char alerted_path[4200];         /* the ids of findings alerted (agent/verification.h) */
	char records_path[4200];         /* the verification records' chain (agent/verification.h) */
	char node[256];
	int api_fd;
	double started_s;
	int64_t last_persist_unix_ms;
	char last_persist_error[512];
	uint64_t persists_skipped;     /* intervals skipped because a save was still running */
	struct ledger_persist *persist; /* saves the ledger: the fields above mirror its status */
	struct verification verify;     /* policies and epochs (agent/verification.h) */
	bool monitor_all;
	struct shipping *ship;
	const struct reach_config *cfg; /* the settings: the secret patterns, re-read at a reload */
	/* catalogues replaced by a reload: edges and the classed inodes keep
	 * pointers to their category strings, so they live until exit */
	struct catalog **retired_catalogs;
	size_t n_retired_catalogs;
};

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_policies = 1;
	else
		exiting = 1;
}

/* ---- setup ------------------------------------------------------------- */

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
	if (rc > 0) { /* the writer kept the file it wrote: served without encoding it again */
		uint8_t *image;
		size_t len;

		if (ledger_persist_take_image(ag->persist, &image, &len))
			shipping_publish_ledger_image(ag->ship, image, len);
		else
			shipping_publish_ledger(ag->ship, ag->ledger);
		free(image);
	}
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
					 .strings = observed_strings(ag->pipe.observed) };
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


/* ---- the local API's view of the daemon --------------------------------- */

static struct counter_sources counter_sources(struct agent *ag)
{
	return (struct counter_sources){ .pipe = &ag->pipe, .ledger = ag->ledger, .sensor = ag->sensor, .tls = ag->tls,
					 .epochs = ag->verify.epochs, .pods = ag->k8s.pods,
					 .verify = &ag->verify, .crd = ag->k8s.crd, .kube_writes = ag->k8s.writes,
					 .reports = ag->k8s.reports,
					 .uptime_s = now_s() - ag->started_s };
}

static void daemon_view(void *ctx, struct api_daemon_view *v)
{
	struct counter_sources src = counter_sources(ctx);

	counters_daemon_view(v, &src);
}

static void api_verify_epochs(void *ctx)
{
	struct agent *ag = ctx;
	struct verify_input_health health = api_health(&ag->api);

	verification_run(&ag->verify, &health);
}

static void wire_api(struct agent *ag)
{
	ag->api = (struct api_handlers){
		.pipe = &ag->pipe, .policies = &ag->verify.policies, .default_alert = ag->verify.default_alert,
		.epoch_tracker = ag->verify.epochs, .kube = ag->k8s.kube, .ship = ag->ship, .node = ag->node,
		.started_s = ag->started_s, .monitor_all = ag->monitor_all,
		.ledger_file = ag->ledger_path, .last_persist_unix_ms = &ag->last_persist_unix_ms,
		.last_persist_error = ag->last_persist_error, .persists_skipped = &ag->persists_skipped,
		.daemon_view = daemon_view, .verify_epochs = api_verify_epochs, .ctx = ag,
	};
}

/* The counters walk every edge (tls-blind) and the epoch records: only
 * gathered when a report or /metrics will use them. */
static void tick_shipping(struct agent *ag)
{
	struct agent_counters c;

	struct counter_sources src = counter_sources(ag);

	if (!shipping_wants_counters(ag->ship))
		return;
	counters_fill(&c, &src);
	shipping_tick(ag->ship, &c, ag->ledger);
}

/* Ready once every hook is attached and, with ReachPolicy objects as a
 * policy source, once they are listed and applied: until then an identity
 * the objects declare would be judged without its policy. */
static void update_ready(struct agent *ag)
{
	/* listed, and the set built from them swapped in (agent/verification.h) */
	bool ready = !ag->k8s.crd || ag->verify.crd_applied;

	if (ready != ag->ready) {
		ag->ready = ready;
		shipping_set_ready(ag->ship, ready);
		if (ag->k8s.crd)
			log_info("%s", ready ? "ReachPolicy objects applied: ready" :
				 "ReachPolicy objects not listed yet: not ready");
	}
}

static void periodic(struct agent *ag)
{
	/* keeps counts of edges whose map entries the LRU may evict */
	pipeline_refresh_counts(&ag->pipe);
	pipeline_feed_ledger(&ag->pipe);
	pipeline_seed_secrets(&ag->pipe, false);
	sensor_sweep_link_taints(ag->sensor); /* removed cgroups' link taints */
	ag->pipe.observed_stuck = false; /* identities may have resolved: try making room again */
	agent_kube_tick(&ag->k8s);
	{
		struct verify_input_health health = api_health(&ag->api);

		/* swaps in what the policy loader finished: never parses here */
		verification_tick(&ag->verify, &health, now_s());
	}
	update_ready(ag);
	tick_shipping(ag);
	if (ag->tls)
		tls_coverage_tick(ag->tls); /* probes whose linger is over are detached */
}

/* SIGHUP: the secret pattern files are read again (all or nothing: a bad
 * file keeps the catalogue in use), and the kernel's pre-filter is
 * recompiled from the new catalogue under a new generation, so a file it
 * dropped before is judged again at its next open. */
static void reload_catalog(struct agent *ag)
{
	struct catalog *fresh = NULL, **retired;

	retired = reallocarray(ag->retired_catalogs, ag->n_retired_catalogs + 1, sizeof(*retired));
	if (!retired || setup_catalog(&fresh, ag->cfg)) {
		if (retired)
			ag->retired_catalogs = retired;
		log_error("secret catalogue reload failed: keeping the %zu rules in use", catalog_size(ag->catalog));
		catalog_free(fresh);
		return;
	}
	ag->retired_catalogs = retired;
	ag->retired_catalogs[ag->n_retired_catalogs++] = ag->catalog; /* its categories are still referenced */
	ag->catalog = fresh;
	ag->pipe.catalog = fresh;
	log_info("secret catalogue reloaded: %zu rules", catalog_size(fresh));
	kfilter_load(ag->sensor, fresh);
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
		shipping_drained(ag->ship, (int64_t)(t * 1000)); /* /healthz: the drain ran */
		if (reload_policies) {
			reload_policies = 0;
			verification_reload(&ag->verify);
			reload_catalog(ag);
		}
		agent_kube_drain(&ag->k8s);
		if (ag->api_fd >= 0)
			api_serve_pending(ag->api_fd, api_handle, &ag->api);
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
	ag->pipe.stats.duration_s = now_s() - start;
	return 0;
}

int main(int argc, char **argv)
{
	struct reach_config cfg;
	struct agent ag = { .api_fd = -1 };
	struct sensor_opts sopts = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	char err[512];
	int rc;

	config_init(&cfg);
	switch (config_load(&cfg, argc, argv)) {
	case OPTIONS_RUN:
		break;
	case OPTIONS_EXIT_OK:
		config_free(&cfg);
		return 0;
	default:
		config_free(&cfg);
		return EXIT_USAGE;
	}
	log_set_verbose(cfg.verbose);
	if (!cfg.n_cgroups && !cfg.monitor_all && !cfg.kube_enabled && !cfg.check_config) {
		log_error("nothing to monitor: give --cgroup PATH (repeatable), --all, or --kube");
		rc = EXIT_USAGE;
		goto out;
	}
	if ((rc = setup_catalog(&ag.catalog, &cfg))) {
		rc = rc == -EINVAL ? EXIT_USAGE : EXIT_START_FAILED;
		goto out;
	}
	{
		struct verification_opts vo = { .policy_paths = (const char *const *)cfg.policy_paths,
						 .n_policy_paths = cfg.n_policy_paths,
						 .default_alert = cfg.policy_default_alert == 1, .settle_s = cfg.settle_s };

		/* a restart does not alert again what was alerted (the state dir is
		 * created before the first alert: open_ledger) */
		if (!cfg.check_config && cfg.state_dir &&
		    (size_t)snprintf(ag.alerted_path, sizeof(ag.alerted_path), "%s/alerted-findings", cfg.state_dir) <
			    sizeof(ag.alerted_path))
			vo.alerted_path = ag.alerted_path;
		/* the verification records' hash chain goes on across restarts */
		if (!cfg.check_config && cfg.state_dir &&
		    (size_t)snprintf(ag.records_path, sizeof(ag.records_path), "%s/verification-records", cfg.state_dir) <
			    sizeof(ag.records_path))
			vo.records_path = ag.records_path;
		if ((rc = verification_init(&ag.verify, &vo, err, sizeof(err)))) {
			log_error("%s%s", rc == -EINVAL ? "--policy: " : "", err);
			rc = rc == -EINVAL ? EXIT_USAGE : EXIT_START_FAILED;
			goto out;
		}
	}
	if (cfg.check_config) {
		/* the config and every policy loaded: what a deploy pipeline checks */
		config_print_check(stdout, &cfg, ag.verify.policies.n);
		rc = 0;
		goto out;
	}
	if (sensor_check_prerequisites(err, sizeof(err))) {
		log_error("cannot start: %s", err);
		rc = EXIT_START_FAILED;
		goto out;
	}

	if (pipeline_init(&ag.pipe, cfg.observed_edges)) {
		log_error("allocating the reach model: %s", strerror(ENOMEM));
		rc = EXIT_START_FAILED;
		goto out;
	}
	ag.pipe.catalog = ag.catalog;
	ag.pipe.netclass = &ag.netclass;
	ag.pipe.events_out = cfg.events ? stdout : NULL;
	/* host epochs' files hashed off the loop, for attestation subjects */
	if (!(ag.pipe.artifacts = artifact_hasher_new(0)))
		log_warn("artifact hashing: %s: attestations will name host versions only", strerror(errno));
	ag.started_s = now_s();
	if (gethostname(ag.node, sizeof(ag.node)) < 0)
		snprintf(ag.node, sizeof(ag.node), "unknown");
	if (cfg.node_name || getenv("NODE_NAME"))
		snprintf(ag.node, sizeof(ag.node), "%s", cfg.node_name ? cfg.node_name : getenv("NODE_NAME"));
	if ((rc = open_ledger(&ag, cfg.state_dir)))
		goto out;
	ag.pipe.ledger = ag.ledger;
	ag.verify.ledger = ag.ledger;
	{
		char key_path[4200];

		snprintf(key_path, sizeof(key_path), "%s/fingerprint.key", cfg.state_dir);
		if (fp_key_load_or_create(cfg.fingerprint_key_file ? cfg.fingerprint_key_file : key_path, &ag.pipe.fp_key,
					  err, sizeof(err))) {
			log_error("fingerprint key: %s", err);
			rc = EXIT_START_FAILED;
			goto out;
		}
	}
	if (setup_netclass(&ag.netclass, &cfg)) {
		rc = EXIT_USAGE;
		goto out;
	}
	output_init_clock();

	sopts.ringbuf_bytes = cfg.ringbuf_bytes;
	sopts.dedup_entries = cfg.dedup_entries;
	sopts.loss_cgroup_entries = cfg.loss_cgroups;
	ag.pipe.loss_map_entries = cfg.loss_cgroups; /* when to sweep removed cgroups from it */
	sopts.syscall_hooks = syscall_hook_style_from_name(cfg.syscall_hooks);
	sopts.on_event = pipeline_on_event;
	sopts.ctx = &ag.pipe;
	if (sensor_start(&ag.sensor, &sopts, err, sizeof(err))) {
		log_error("cannot start: %s", err);
		rc = EXIT_START_FAILED;
		goto out;
	}
	pipeline_use_sensor(&ag.pipe, ag.sensor);
	ag.cfg = &cfg;
	kfilter_load(ag.sensor, ag.catalog); /* before any cgroup is monitored */
	pipeline_seed_secrets(&ag.pipe, true); /* every namespace's secrets known by inode before ready */
	{
		const struct syscall_hooks *hooks = sensor_syscall_hooks(ag.sensor);
		const char *fallback = syscall_hooks_fallback_reason(hooks);

		log_debug("syscall exits: %s; 32-bit syscalls: %s", syscall_hooks_describe(hooks),
			  syscall_hooks_compat(hooks));
		if (fallback)
			log_info("syscall exits on the tp_btf dispatcher (every syscall runs a program): per-syscall "
				 "tracepoints unavailable: %s", fallback);
	}
	ag.tls = tls_coverage_new(ag.sensor);
	if (!ag.tls) {
		log_error("allocating the TLS coverage table: %s", strerror(ENOMEM));
		rc = EXIT_START_FAILED;
		goto out;
	}
	tls_coverage_probe_go(ag.tls, cfg.no_go_tls != 1);
	tls_coverage_linger(ag.tls, cfg.tls_probe_linger_s);
	tls_scan_all_processes(ag.tls);
	pipeline_use_tls(&ag.pipe, ag.tls);
	if ((rc = monitor_cgroups(&ag, (const char *const *)cfg.cgroups, cfg.n_cgroups)))
		goto out;
	ag.monitor_all = cfg.monitor_all == 1;
	sensor_set_monitor_all(ag.sensor, ag.monitor_all);
	if ((rc = agent_kube_start(&ag.k8s, &cfg, ag.sensor, &ag.verify))) {
		rc = rc == -EINVAL ? EXIT_USAGE : EXIT_START_FAILED;
		goto out;
	}
	ag.resolver = identity_resolver_new(ag.k8s.kube);
	if (!ag.resolver) {
		rc = EXIT_START_FAILED;
		goto out;
	}
	ag.pipe.resolver = ag.resolver;
	for (int i = 0; i < cfg.n_identity_rules; i++) {
		if (identity_add_rule(ag.resolver, cfg.identity_rules[i])) {
			log_error("--identity-rule: '%s' is not 'cgroup:/GLOB IDENTITY' or 'uid:N IDENTITY'", cfg.identity_rules[i]);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	ag.api_fd = api_listen(cfg.socket_path, err, sizeof(err));
	if (ag.api_fd < 0) {
		log_error("cannot start: %s", err);
		rc = EXIT_START_FAILED;
		goto out;
	}

	{
		struct shipping_opts so = {
			.node = ag.node, .version = REACH_VERSION,
			.state_dir = cfg.state_dir,
			.ship_url = cfg.ship_url, .ship_token_file = cfg.ship_token_file, .ship_ca = cfg.ship_ca_file,
			.spool_dir = cfg.spool_dir, .spool_max_bytes = cfg.spool_max_bytes,
			.report_interval_s = (double)cfg.report_interval_s,
			.snapshot_interval_s = (double)cfg.snapshot_interval_s, .backoff_max_s = (double)cfg.backoff_max_s,
			.ship_timeout_s = (double)cfg.ship_timeout_s,
			.alertmanagers = (const char *const *)cfg.alertmanagers, .n_alertmanagers = cfg.n_alertmanagers,
			.webhook = cfg.webhook_url, .alert_min_severity = cfg.alert_min_severity, .otlp_url = cfg.otlp_url,
			.metrics_addr = cfg.metrics_addr, .api_token_file = cfg.api_token_file,
			.healthz_stall_s = (double)cfg.healthz_stall_s,
		};

		if (shipping_start(&ag.ship, &so, err, sizeof(err))) {
			log_error("cannot start: %s", err);
			rc = EXIT_START_FAILED;
			goto out;
		}
		shipping_publish_ledger(ag.ship, ag.ledger);
		ledger_persist_keep_image(ag.persist, shipping_serves_ledger(ag.ship));
		ag.verify.ship = ag.ship;
		verification_publish_records(&ag.verify); /* those restored, before the first pass */
	}
	/* everything that needs more is loaded, attached and listening */
	if (cfg.drop_caps == 1 && caps_drop_for_agent(err, sizeof(err))) {
		log_error("--drop-caps: %s", err);
		rc = EXIT_START_FAILED;
		goto out;
	}
	/* policy files and ReachPolicy objects: parsed off the main loop from now on */
	if ((rc = verification_start_loader(&ag.verify, ag.k8s.crd))) {
		log_error("starting the policy loader: %s", strerror(-rc));
		rc = EXIT_START_FAILED;
		goto out;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a reachctl that left early: EPIPE, not death */
	if (cfg.ready_file && (rc = write_ready_file(cfg.ready_file)))
		goto out;
	{
		size_t n_hooks = 0;

		for (const char *const *h = sensor_hook_names(ag.sensor); *h; h++)
			n_hooks++;
		wire_api(&ag);
		tick_shipping(&ag); /* /metrics answers from the first moment the agent is ready */
		update_ready(&ag);
		if (!ag.ready)
			shipping_set_ready(ag.ship, false);
		log_info("ready: %zu hooks attached, monitoring %s", n_hooks,
			 ag.monitor_all ? "every process" : ag.k8s.pods ? "pods" : "the given cgroups");
	}

	if ((rc = run_loop(&ag, cfg.duration_s, cfg.persist_s)))
		goto out;
	pipeline_sweep_bodies(&ag.pipe, INT64_MAX); /* bodies still due will not come now: their roads */
	periodic(&ag);
	persist_ledger_now(&ag); /* waits for a save in flight first */
	shipping_stop(ag.ship, ag.ledger); /* a last delta, spooled */
	ag.ship = ag.verify.ship = NULL;
	if ((rc = sensor_read_losses(ag.sensor, &ag.pipe.stats.losses)))
		log_warn("reading the loss counters: %s", strerror(-rc));
	{
		struct reach_cf_counters cf;

		if ((rc = sensor_read_catfilter_counters(ag.sensor, &cf)))
			log_warn("reading the kernel filter's counters: %s", strerror(-rc));
		else {
			ag.pipe.stats.opens_filtered_in_kernel = cf.filtered;
			ag.pipe.stats.opens_sent_by_filter = cf.sent;
		}
	}
	rc = 0;
	pipeline_summary(&ag.pipe, stdout, cfg.events);
out:
	ledger_persist_free(ag.persist); /* an early error exit: a save in flight finishes first */
	shipping_stop(ag.ship, NULL);
	if (ag.api_fd >= 0) {
		api_close(ag.api_fd);
		unlink(cfg.socket_path);
	}
	verification_stop_loader(&ag.verify); /* it reads the ReachPolicy objects */
	agent_kube_stop(&ag.k8s);
	identity_resolver_free(ag.resolver);
	ledger_free(ag.ledger);
	verification_fini(&ag.verify);
	tls_coverage_free(ag.tls);
	sensor_stop(ag.sensor);
	artifact_hasher_free(ag.pipe.artifacts);
	ag.pipe.artifacts = NULL;
	pipeline_fini(&ag.pipe);
	catalog_free(ag.catalog);
	for (size_t i = 0; i < ag.n_retired_catalogs; i++)
		catalog_free(ag.retired_catalogs[i]);
	free(ag.retired_catalogs);
	config_free(&cfg);
	return rc;
}
