/* Scenario 4 at scale: the memory of the agent's user-space model with many
 * identities, built with the agent's own code (build/libreach.a) the way
 * reachd builds it, without a kernel or a running agent:
 *
 *   observed_add()   N cgroups x E edges (half secret files, half egress
 *                    destinations, realistic paths, addresses, DNS names,
 *                    executables and exec chains; new_map_entry = true, as
 *                    for every secret or egress event from the dedup map),
 *                    into a working set of WORKING_SET edges: when it is
 *                    full, ledger_feed_evict() moves an eighth of it to the
 *                    ledger (make_room() in agent/pipeline.c); 0 keeps every edge in it
 *   ledger           ledger_new_sharing(N, E, the observed model's strings)
 *                    as reachd does, each cgroup resolving to its own
 *                    identity "ns-<i>/sa-<i>" with a pod, an image and an
 *                    image digest (what the Kubernetes resolver fills in)
 *   observed_refresh() + ledger_feed()   the periodic tick
 *   ledger_save()    to OUT (zlib-compressed protobuf, fsynced, renamed)
 *   ledger_load()    back into a fresh ledger, to check the file; the peak
 *                    RSS during the load alone (VmHWM reset just before it
 *                    through /proc/self/clear_refs, -1 if that fails)
 *
 *   bench_memory N E OUT|- [WORKING_SET]   (- : no save and load)
 *   bench_memory load FILE   a restart: a fresh process loads FILE into a
 *                            ledger sharing an empty observed model's
 *                            strings, with reachd's caps (20,000 identities,
 *                            2,000 edges each), as reachd starts; reports RSS
 *                            before, the load's peak and RSS after
 *
 * Prints one JSON line: RSS (VmRSS) and heap in use (mallinfo2) after each
 * step, peak RSS, times, the saved file's size and every dropped count. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "identity/identity.h"
#include "reach/ledger.h"
#include "reach/ledger_feed.h"
#include "reach/ledger_store.h"
#include "reach/observed.h"
#include "config/config.h"
#include "policy/epochs.h"
#include "policy/verify.h"

#define CGROUP_ID_BASE (1ULL << 40) /* far from any real cgroup id on this host */
#define TS_BASE 1000000000000ULL    /* boot-clock ns of the first observation */

static long rss_kb(const char *field)
{
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0). 0 or -1. */
static int reset_hwm(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	int ok;

	if (!f)
		return -1;
	ok = fputs("5", f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static long heap_kb(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (long)((mi.uordblks + mi.hblkhd) / 1024);
}

static double now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long n_ids, n_edges;

/* Dedup-map counts: the edge with global index k (key.hash = k + 1) was
 * first seen at TS_BASE + k us and occurred 1 + k % 37 times. */
static int lookup(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	uint64_t k = key->hash - 1;

	(void)ctx;
	val->first_ns = TS_BASE + k * 1000;
	val->count = 1 + k % 37;
	val->last_ns = val->first_ns + val->count * 1000000ULL;
	return 0;
}

/* What the Kubernetes resolver gives a pod's cgroup. */
static int resolve(void *ctx, const struct cgroup_reach *c, uint32_t uid, struct identity *out)
{
	long i = (long)(c->cgroup_id - CGROUP_ID_BASE);

	(void)ctx, (void)uid;
	memset(out, 0, sizeof(*out));
	out->state = IDENTITY_RESOLVED;
	snprintf(out->name, sizeof(out->name), "ns-%ld/sa-%ld", i, i);
	snprintf(out->pod, sizeof(out->pod), "ns-%ld/agent-%ld-7c9d8f6b5d-x2k9q", i, i);
	snprintf(out->container, sizeof(out->container), "agent");
	snprintf(out->image, sizeof(out->image), "registry.example.com/ai/agent-%ld:1.42.0", i);
	snprintf(out->image_id, sizeof(out->image_id),
		 "sha256:%016lx9f1c2b7e4d3a5f60718293a4b5c6d7e8f90123456789abcdef0123", (unsigned long)i);
	snprintf(out->cgroup_path, sizeof(out->cgroup_path), "%s", c->path);
	return 0;
}

static const char *const lineage[] = { "/usr/bin/containerd-shim-runc-v2", "/usr/bin/bash",
				       "/usr/local/bin/python3.11" };

/* Edge j of cgroup i: even j a secret file, odd j an egress destination. */
static void make_obs(long i, long j, struct observation *obs, struct reach_event_hdr *hdr,
		     struct reach_dedup_key *key, char *object, size_t size, char *address, char *name)
{
	uint64_t k = (uint64_t)i * (uint64_t)n_edges + (uint64_t)j;
	long s = j / 2;

	memset(obs, 0, sizeof(*obs));
	memset(hdr, 0, sizeof(*hdr));
	hdr->ts_ns = TS_BASE + k * 1000;
	hdr->cgroup_id = CGROUP_ID_BASE + (uint64_t)i;
	hdr->pid = hdr->tgid = (uint32_t)(100000 + i);
	hdr->ppid = (uint32_t)(99999 + i);
	hdr->uid = 1000;
	snprintf(hdr->comm, sizeof(hdr->comm), "python3.11");
	key->cgroup_id = hdr->cgroup_id;
	key->pad = 0;
	key->hash = k + 1;
	obs->hdr = hdr;
	obs->key = key;
	obs->exe = "/usr/local/bin/python3.11";
	obs->lineage = (const char **)lineage;
	obs->n_lineage = 3;
	obs->new_map_entry = true;
	obs->object = object;
	if (j % 2 == 0) {
		key->kind = REACH_EV_FILE_OPEN;
		switch (s % 5) {
		case 0:
			if (s == 0)
				snprintf(object, size, "/var/run/secrets/kubernetes.io/serviceaccount/token");
			else
				snprintf(object, size, "/var/run/secrets/tokens/vault-%02ld/token", s);
			obs->category = "k8s-sa-token";
			break;
		case 1:
			snprintf(object, size, "/etc/llm/keys/provider-%02ld.key", s);
			obs->category = "private-key";
			break;
		case 2:
			snprintf(object, size, "/srv/agent/tenants/tenant-%02ld/.env", s);
			obs->category = "dotenv";
			break;
		case 3:
			snprintf(object, size, "/home/agent/.config/gcloud/application_default_credentials-%02ld.json", s);
			obs->category = "gcp-credentials";
			break;
		default:
			snprintf(object, size, "/run/secrets/db-password-%02ld", s);
			obs->category = "run-secrets";
			break;
		}
		obs->requested_path = object;
		obs->open_flags = 0; /* O_RDONLY */
		return;
	}
	key->kind = REACH_EV_EGRESS;
	obs->proto = REACH_PROTO_TCP;
	obs->tag = REACH_OUT_ESTABLISHED;
	obs->source_port = (uint16_t)(32768 + k % 28000);
	obs->name = NULL;
	switch (s % 4) {
	case 0:
		snprintf(address, 64, "10.96.%ld.%ld", s % 256, i % 250 + 1);
		snprintf(name, 256, "svc-%02ld.ns-%ld.svc.cluster.local", s, i);
		obs->name = name;
		obs->port = 8080;
		obs->dest_class = "cluster";
		break;
	case 1:
		snprintf(address, 64, "172.16.%ld.%ld", s % 256, i % 250 + 1);
		obs->port = 5432;
		obs->dest_class = "private";
		break;
	case 2:
		snprintf(address, 64, "34.%ld.%ld.%ld", 100 + s % 100, i % 256, (i / 256) % 256);
		snprintf(name, 256, "api-%02ld.llm-provider.example.com", s);
		obs->name = name;
		obs->port = 443;
		obs->dest_class = "external";
		break;
	default:
		snprintf(address, 64, "2606:4700:%lx::%lx", s, i + 1);
		snprintf(name, 256, "cdn-%02ld.example.net", s);
		obs->name = name;
		obs->port = 443;
		obs->dest_class = "external";
		break;
	}
	obs->address = address;
	obs->name_ttl = 300;
	snprintf(object, size, "tcp/%s/%u", address, obs->port);
}

struct timed_load {
	struct ledger_file_info info;
	double s;
	long rss_before, peak, rss_after; /* kB; peak -1 when VmHWM could not be reset */
};

/* ledger_load(l, path) timed, with the peak RSS of the load alone. 0, or 1
 * with the error printed. */
static int timed_load(struct ledger *l, const char *path, struct timed_load *out)
{
	char err[512];
	int rc, reset;

	out->rss_before = rss_kb("VmRSS");
	reset = reset_hwm();
	out->s = now_s(CLOCK_MONOTONIC);
	rc = ledger_load(l, path, &out->info, err, sizeof(err));
	out->s = now_s(CLOCK_MONOTONIC) - out->s;
	out->peak = reset ? -1 : rss_kb("VmHWM");
	out->rss_after = rss_kb("VmRSS");
	if (rc)
		fprintf(stderr, "ledger_load: %s\n", err);
	return rc ? 1 : 0;
}

/* bench_memory load FILE */
static int restart(const char *path)
{
	struct timed_load tl;
	struct stat st;
	struct observed *o = observed_new();
	struct ledger *l;

	if (!o || stat(path, &st) < 0) {
		perror(path);
		return 1;
	}
	l = ledger_new_sharing(20000, 2000, observed_strings(o));
	if (!l || timed_load(l, path, &tl))
		return 1;
	printf("{\"restart\":{\"file_bytes\":%lld,\"raw_bytes\":%" PRIu64 ",\"identities\":%zu,\"edges\":%zu,"
	       "\"load_s\":%.3f,\"rss_kb\":{\"before\":%ld,\"load_peak\":%ld,\"after\":%ld}}}\n",
	       (long long)st.st_size, tl.info.raw_len, ledger_identities(l), ledger_edges(l), tl.s, tl.rss_before,
	       tl.peak, tl.rss_after);
	ledger_free(l);
	observed_free(o);
	return 0;
}

struct verify_pass {
	int rc;
	size_t findings, verdicts;
	double s, track_s;
	long rss_before, peak;
};

/* One verification of the whole ledger with no policy file, and the epoch
 * tracker following it, as reachd's verify_epochs() does. */
static void verify_pass(const struct ledger *l, bool alert, struct verify_pass *out)
{
	struct policy_set none;
	struct verify_opts opts;
	struct verify_result r;
	struct epoch_tracker *t = epoch_tracker_new(0);
	int reset;
	double t0;

	memset(&none, 0, sizeof(none));
	memset(&opts, 0, sizeof(opts));
	opts.alert_without_policy = alert;
	out->rss_before = rss_kb("VmRSS");
	reset = reset_hwm();
	t0 = now_s(CLOCK_MONOTONIC);
	out->rc = verify_ledger(l, &none, &opts, &r);
	out->s = now_s(CLOCK_MONOTONIC) - t0;
	out->findings = r.n_findings;
	out->verdicts = r.n_verdicts;
	t0 = now_s(CLOCK_MONOTONIC);
	if (t && !out->rc)
		epoch_tracker_update(t, &r, 1, NULL, NULL);
	out->track_s = now_s(CLOCK_MONOTONIC) - t0;
	out->peak = reset ? -1 : rss_kb("VmHWM");
	verify_result_free(&r);
	epoch_tracker_free(t);
}

int main(int argc, char **argv)
{
	char object[512], address[64], name[256], err[512];
	struct reach_event_hdr hdr;
	struct reach_dedup_key key;
	struct observation obs;
	struct feed_stats fs = { 0 }, evict_fs = { 0 };
	struct stat st = { 0 };
	uint64_t add_failed = 0, not_new = 0, evictions = 0;
	size_t working_set = OBSERVED_EDGES_DEFAULT;
	int rc;

	if (argc == 3 && !strcmp(argv[1], "load"))
		return restart(argv[2]);
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: %s IDENTITIES EDGES_PER_IDENTITY OUT|- [WORKING_SET] | load FILE\n"
				"  WORKING_SET: the observed model's edges (reachd's --observed-edges; default %d,\n"
				"  0 = every edge stays in it); OUT '-': no save and load\n",
			argv[0], OBSERVED_EDGES_DEFAULT);
		return 2;
	}
	n_ids = strtol(argv[1], NULL, 10);
	n_edges = strtol(argv[2], NULL, 10);
	if (argc == 5)
		working_set = (size_t)strtoul(argv[4], NULL, 10);
	if (n_ids <= 0 || n_edges <= 0) {
		fprintf(stderr, "bad sizes\n");
		return 2;
	}
	const char *out = strcmp(argv[3], "-") ? argv[3] : NULL;
	long rss0 = rss_kb("VmRSS"), heap0 = heap_kb();
	int64_t boot_to_unix_ms =
		(int64_t)((now_s(CLOCK_REALTIME) - now_s(CLOCK_BOOTTIME)) * 1000.0);

	/* 1. the model, built edge by edge as reachd builds it: the observed
	 * model is a working set; when it is full, an eighth of it (least
	 * recently seen first) is fed to the ledger and freed (record_edge(),
	 * make_room() in user/agent/pipeline.c) */
	double t = now_s(CLOCK_MONOTONIC);
	struct observed *o = observed_new();
	struct ledger *l = o ? ledger_new_sharing((size_t)n_ids, (size_t)n_edges, observed_strings(o)) : NULL;
	size_t total = (size_t)n_ids * (size_t)n_edges;

	if (!o || !l) {
		fprintf(stderr, "observed_new / ledger_new_sharing failed\n");
		return 1;
	}
	observed_set_max_edges(o, working_set ? working_set : total);
	for (long i = 0; i < n_ids; i++)
		for (long j = 0; j < n_edges; j++) {
			bool is_new;

			if (working_set && observed_edge_total(o) >= working_set) {
				size_t want = working_set / 8 ? working_set / 8 : 1;

				/* the map's final counts: the ones lookup() makes up
				 * (every key here is distinct: nothing to delete) */
				ledger_feed_evict(o, l, resolve, NULL, boot_to_unix_ms, lookup, NULL, want, &evict_fs);
				evictions++;
			}
			make_obs(i, j, &obs, &hdr, &key, object, sizeof(object), address, name);
			if (!observed_add(o, j % 2 == 0 ? EDGE_SECRET : EDGE_EGRESS, &obs, &is_new))
				add_failed++;
			else if (!is_new)
				not_new++;
		}
	double t_build = now_s(CLOCK_MONOTONIC) - t;
	long rss1 = rss_kb("VmRSS"), heap1 = heap_kb();

	/* 2. the periodic tick: counts refreshed, what grew fed */
	t = now_s(CLOCK_MONOTONIC);
	observed_refresh(o, lookup, NULL);
	ledger_feed(o, l, resolve, NULL, boot_to_unix_ms, &fs);
	double t_feed = now_s(CLOCK_MONOTONIC) - t;
	long rss2 = rss_kb("VmRSS"), heap2 = heap_kb(), hwm2 = rss_kb("VmHWM");

	/* 3. saved as the agent saves it */
	double t_save = 0, t_load = 0;
	long rss3 = rss2, hwm3 = hwm2, rss4 = -1, hwm5 = -1, rss5 = -1;
	struct ledger_file_info info = { 0 };
	struct ledger *back = NULL;
	size_t loaded_ids = 0, loaded_edges = 0;

	if (out) {
		t = now_s(CLOCK_MONOTONIC);
		rc = ledger_save(l, "bench-node", out, err, sizeof(err));
		t_save = now_s(CLOCK_MONOTONIC) - t;
		if (rc) {
			fprintf(stderr, "ledger_save: %s\n", err);
			return 1;
		}
		if (stat(out, &st) < 0) {
			perror(out);
			return 1;
		}
		rss3 = rss_kb("VmRSS");
		hwm3 = rss_kb("VmHWM");

		/* 4. loaded back (what a restart does), to check the file */
		struct timed_load tl;

		if (!(back = ledger_new((size_t)n_ids, (size_t)n_edges)) || timed_load(back, out, &tl))
			return 1;
		info = tl.info;
		t_load = tl.s;
		rss4 = tl.rss_before;
		hwm5 = tl.peak;
		rss5 = tl.rss_after;
		loaded_ids = ledger_identities(back);
		loaded_edges = ledger_edges(back);
	}

	/* 5. the agent's periodic verification (verify_epochs() in reachd):
	 * every identity without a policy, as audit (the default) and as alert
	 * (policy.default: alert, every edge undeclared), each result followed
	 * by the epoch tracker; the peak is over the pass alone */
	struct verify_pass vp[2] = { { 0 } };

	ledger_free(back);
	back = NULL;
	for (int alert = 0; alert < 2; alert++)
		verify_pass(l, alert, &vp[alert]);

	printf("{\"identities_requested\":%ld,\"edges_per_identity\":%ld,\"edges_requested\":%ld,"
	       "\"observed\":{\"working_set\":%zu,\"edges\":%zu,\"evicted\":%" PRIu64 ",\"evictions\":%" PRIu64
	       ",\"add_failed\":%" PRIu64 ",\"not_new\":%" PRIu64 ",\"cap_dropped\":%" PRIu64 ",\"build_s\":%.3f},"
	       "\"ledger\":{\"identities\":%zu,\"edges\":%zu,\"edges_dropped\":%" PRIu64 ",\"identities_dropped\":%" PRIu64
	       ",\"feed_record_errors\":%" PRIu64 ",\"feed_edges_fed\":%" PRIu64 ",\"feed_s\":%.3f},"
	       "\"file\":{\"saved\":%s,\"bytes\":%lld,\"raw_bytes\":%" PRIu64 ",\"save_s\":%.3f,\"load_s\":%.3f,"
	       "\"loaded_identities\":%zu,\"loaded_edges\":%zu},"
	       "\"rss_kb\":{\"start\":%ld,\"after_build\":%ld,\"after_feed\":%ld,\"peak_model\":%ld,"
	       "\"after_save\":%ld,\"peak\":%ld,\"before_load\":%ld,\"load_peak\":%ld,\"after_load\":%ld},"
	       "\"heap_kb\":{\"start\":%ld,\"after_build\":%ld,\"after_feed\":%ld},"
	       "\"verify\":{\"audit\":{\"rc\":%d,\"findings\":%zu,\"verdicts\":%zu,\"s\":%.3f,\"track_s\":%.3f,"
	       "\"rss_before_kb\":%ld,\"peak_kb\":%ld},"
	       "\"alert\":{\"rc\":%d,\"findings\":%zu,\"verdicts\":%zu,\"s\":%.3f,\"track_s\":%.3f,"
	       "\"rss_before_kb\":%ld,\"peak_kb\":%ld}}}\n",
	       n_ids, n_edges, n_ids * n_edges, working_set, observed_edge_total(o), observed_edges_evicted(o), evictions,
	       add_failed, not_new, observed_edges_dropped(o), t_build, ledger_identities(l), ledger_edges(l),
	       ledger_edges_dropped(l), ledger_identities_dropped(l), fs.record_errors + evict_fs.record_errors,
	       fs.edges_fed, t_feed, out ? "true" : "false", (long long)st.st_size, info.raw_len, t_save, t_load,
	       loaded_ids, loaded_edges, rss0, rss1, rss2, hwm2, rss3, hwm3,
	       rss4, hwm5, rss5, heap0, heap1, heap2, vp[0].rc, vp[0].findings, vp[0].verdicts, vp[0].s,
	       vp[0].track_s, vp[0].rss_before, vp[0].peak, vp[1].rc, vp[1].findings, vp[1].verdicts, vp[1].s,
	       vp[1].track_s, vp[1].rss_before, vp[1].peak);
	ledger_free(back);
	ledger_free(l);
	observed_free(o);
	return 0;
}
