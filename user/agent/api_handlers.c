/* The local API's handlers (api_handlers.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include "common/hex.h"
#include "common/json.h"
#include "common/log.h"
#include "common/names.h"
#include "identity/kube.h"
#include "policy/epochs.h"
#include "policy/policy.h"
#include "policy/suggest.h"
#include "reach/artifact.h"
#include "reach/coverage.h"
#include "reach/ledger.h"
#include "reach/ledger_feed.h"
#include "reach/edge_fields.h"
#include "reach/ledger_store.h"
#include "ship/shipping.h"
#include "agent/output.h"
#include "agent/pipeline.h"
#include "agent/api_handlers.h"
#include "agent/seeds.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void daemon_view(const struct api_handlers *h, struct api_daemon_view *v)
{
	memset(v, 0, sizeof(*v));
	if (h->daemon_view)
		h->daemon_view(h->ctx, v);
}


static json_object *status_json(const struct api_handlers *h)
{
	json_object *o = json_object_new_object(), *hooks = json_object_new_array(), *losses = json_object_new_object();
	struct api_daemon_view v;

	daemon_view(h, &v);
	json_add_str(o, "version", REACH_VERSION);
	json_add_str(o, "node", h->node);
	json_add_u64(o, "uptime_s", (uint64_t)(now_s() - h->started_s));
	for (const char *const *n = v.hooks; n && *n; n++)
		json_object_array_add(hooks, json_object_new_string(*n));
	json_add(o, "hooks", hooks);
	json_add_str(o, "syscall_hooks", v.syscall_hooks ? v.syscall_hooks : "");
	/* null unless auto fell back to the dispatcher: then why (tracefs, perf_event_open, ...) */
	json_add_str(o, "syscall_hooks_fallback", v.syscall_hooks_fallback);
	json_add_str(o, "compat_syscalls", v.compat_syscalls);
	if (v.have_losses) {
		for (int k = 0; k < REACH_EV__MAX; k++) { /* 0: "other", the shared maps */
			json_object *per = json_object_new_object();

			for (int r = 0; r < REACH_LOSS__MAX; r++)
				json_add_u64(per, output_loss_name(r), v.losses.counters[k][r]);
			json_add(losses, output_event_name(k), per);
		}
	}
	json_add(o, "losses", losses);
	{
		/* ring-buffer events handled so far, per kind: with the losses,
		 * what a caller needs to judge the sensor without --events */
		json_object *ev = json_object_new_object();

		for (int k = 1; k < REACH_EV__MAX; k++)
			json_add_u64(ev, output_event_name(k), h->pipe->stats.events[k]);
		json_add(o, "events", ev);
		json_add_u64(o, "opens_not_secret", h->pipe->stats.opens_not_secret);
		/* the kernel's pre-filter (bpf/filter.bpf.h): first-seen opens it
		 * dropped as certainly no secret, and those it let through */
		json_add_u64(o, "opens_filtered_in_kernel", v.have_catfilter ? v.catfilter.filtered : 0);
		json_add_u64(o, "opens_sent_by_filter", v.have_catfilter ? v.catfilter.sent : 0);
	}
	{
		/* secret files found by inode before any read (agent/seeds.h) */
		struct seeds_stats ss = seeds_stats(h->pipe->seeds);
		json_object *sj = json_object_new_object();

		json_add_u64(sj, "roots", ss.roots);
		json_add_u64(sj, "files", ss.files);
		json_add_u64(sj, "cut", ss.cut);
		json_add_u64(sj, "unreadable", ss.unreadable);
		json_add_u64(sj, "unsafe_mounts", ss.unsafe_mounts);
		json_add_u64(sj, "deferred", ss.deferred);
		/* the kernel's pre-check of secret inodes (abi/events.h
		 * secret_ino_bits): bits set, rebuilds after removals */
		json_add_u64(sj, "inode_bits_set", v.secret_bits_set);
		json_add_u64(sj, "inode_bits_rebuilds", v.secret_bits_rebuilds);
		json_add(o, "secret_seeds", sj);
	}
	json_add_u64(o, "tls_files_probed", v.tls_files_probed);
	json_add_u64(o, "uprobes_attached", v.uprobes_attached);
	json_add_u64(o, "bpf_load_ms", v.bpf_load_ms);
	json_add_u64(o, "identities", ledger_identities(h->pipe->ledger));
	json_add_u64(o, "edges", ledger_edges(h->pipe->ledger));
	json_add_u64(o, "edges_dropped", ledger_edges_dropped(h->pipe->ledger));
	json_add_u64(o, "artifact_hashes_skipped", artifact_hasher_skipped(h->pipe->artifacts));
	json_add_u64(o, "identities_dropped", ledger_identities_dropped(h->pipe->ledger));
	json_add_u64(o, "edges_waiting_for_identity", h->pipe->feed.edges_held);
	json_add_u64(o, "observed_edges_dropped", observed_edges_dropped(h->pipe->observed));
	json_add_u64(o, "observed_edges", observed_edge_total(h->pipe->observed));
	json_add_u64(o, "observed_edges_evicted", observed_edges_evicted(h->pipe->observed));
	{
		/* coverage: which identities have gaps (reachctl coverage has the
		 * records), and the node's unattributed ones */
		json_object *cov = json_object_new_object(), *gaps = json_object_new_array();
		const struct ledger *l = h->pipe->ledger;

		for (size_t i = 0; i < ledger_identities(l); i++) {
			const struct ledger_identity *id = ledger_identity_at(l, i);

			if (coverage_has_gaps(id->coverage))
				json_object_array_add(gaps, json_object_new_string(id->name));
		}
		json_add_u64(cov, "identities_with_gaps", json_object_array_length(gaps));
		json_add(cov, "identities", gaps);
		json_add(cov, "node", coverage_to_json(ledger_node_coverage(l)));
		json_add(o, "coverage", cov);
	}
	json_add_str(o, "ledger_file", h->ledger_file);
	json_add_int(o, "last_persist_unix_ms", *h->last_persist_unix_ms);
	json_add_str(o, "last_persist_error", h->last_persist_error);
	json_add_u64(o, "persists_skipped", *h->persists_skipped);
	json_add_str(o, "monitoring", h->monitor_all ? "all" : v.pods ? "pods" : "cgroups");
	json_add(o, "shipping", shipping_status_json(h->ship));
	if (v.pods) {
		json_add_u64(o, "pods_monitored", v.pods_monitored);
		json_add_u64(o, "pods_waiting_for_cgroup", v.pods_waiting);
	}
	if (h->kube) {
		struct kube_stats ks;
		json_object *k = json_object_new_object();

		kube_get_stats(h->kube, &ks);
		json_add_bool(k, "synced", ks.synced);
		json_add_u64(k, "lists", ks.lists);
		json_add_u64(k, "watches", ks.watches);
		json_add_u64(k, "events", ks.events);
		json_add_u64(k, "errors", ks.errors);
		json_add_u64(k, "relists_410", ks.relists_410);
		json_add_str(k, "last_error", ks.last_error);
		json_add(o, "kubernetes", k);
	}
	return o;
}

/* reach: the ledger plus what is still waiting for its identity, shown
 * under unknown/<cgroup path>. */
static json_object *reach_json(const struct api_handlers *h, const char *identity, const char *kind)
{
	struct ledger *view = ledger_new(SIZE_MAX, SIZE_MAX);
	json_object *doc;

	if (!view || ledger_merge(view, h->pipe->ledger)) {
		ledger_free(view);
		doc = ledger_to_json(h->pipe->ledger, identity, kind);
		edge_fields_annotate(doc);
		return doc;
	}
	ledger_feed_pending_view(h->pipe->observed, view, pipeline_resolve_identity, h->pipe, h->pipe->boot_to_unix_ms);
	doc = ledger_to_json(view, identity, kind);
	ledger_free(view);
	edge_fields_annotate(doc); /* each edge's fields per kind: what reachctl's tables and JSON show */
	return doc;
}

/* How complete the observation is, beyond the ledger: nothing. Losses
 * (per cgroup, and the unattributed ones), tls-blind roads and edges the
 * model refused are in the ledger's coverage records (pipeline.h), which
 * the verifier reads, so the socket, --ledger and --agents judge the same
 * record. */
struct verify_input_health api_health(const struct api_handlers *h)
{
	struct verify_input_health health = { 0 };

	(void)h;
	return health;
}

static json_object *api_error(const char *msg, int exit_code)
{
	json_object *o = json_object_new_object();

	json_add_str(o, "error", msg);
	json_add_int(o, "exit_code", exit_code);
	return o;
}

/* verify: against the agent's policies, or a policy path the caller names
 * (read by the agent, which runs as root like reachctl). */
/* What reachctl verify --attest signs besides the verdict: the identity's
 * record chain, its coverage record and the SHA-256 of the ledger image
 * judged (as /v1/ledger would serve it now). An image that cannot be made leaves the digest out
 * (the attestation then says none), never a made-up one. */
static void attest_parts(const struct api_handlers *h, const char *identity, json_object *doc)
{
	struct epoch_record *chain = NULL;
	size_t n = h->epoch_tracker ? epoch_tracker_chain(h->epoch_tracker, identity, &chain) : 0;
	json_object *a = json_object_new_object(), *arr = json_object_new_array();
	uint8_t *image = NULL, md[EVP_MAX_MD_SIZE];
	size_t len = 0;
	unsigned int md_len = 0;
	char err[256], hex[65];

	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, epoch_record_to_json(&chain[i]));
	free(chain);
	json_add(a, "records", arr);
	if (!ledger_encode_image(h->pipe->ledger, h->node ? h->node : "", &image, &len, err, sizeof(err)) &&
	    EVP_Digest(image, len, md, &md_len, EVP_sha256(), NULL) && md_len == 32) {
		hex_encode(md, md_len, hex);
		json_add_str(a, "ledger_sha256", hex);
	} else {
		log_warn("verify --attest: the ledger image for its digest: %s", err);
	}
	free(image);
	json_add_str(a, "sensor_version", REACH_VERSION);
	{ /* the file the epoch judged ran: the attestation's subject (reach/artifact.h) */
		json_object *ids = json_get(doc, "identities", json_type_array);
		const char *epoch = ids && json_object_array_length(ids)
					    ? json_get_str(json_object_array_get_idx(ids, 0), "epoch", "")
					    : "";
		struct artifact art;
		int rc = pipeline_epoch_artifact(h->pipe, identity, epoch, &art);

		if (!rc) {
			json_object *x = json_object_new_object();

			json_add_str(x, "of", artifact_kind_name(art.kind));
			json_add_str(x, "sha256", art.sha256);
			json_add_u64(x, "size", art.size);
			json_add(a, "artifact", x);
		} else {
			/* why there is none: the attestation names the version only */
			json_add_str(a, "artifact_missing", rc == -EINPROGRESS ? "being hashed" : "none known");
		}
	}
	{ /* the identity's coverage record, from the same ledger */
		json_object *reach = ledger_to_json(h->pipe->ledger, identity, NULL);
		json_object *ids = reach ? json_get(reach, "identities", json_type_array) : NULL;
		json_object *c = ids && json_object_array_length(ids)
					 ? json_get(json_object_array_get_idx(ids, 0), "coverage", json_type_object)
					 : NULL;

		if (c)
			json_add(a, "coverage", json_copy(c));
		json_object_put(reach);
	}
	json_add(doc, "attest", a);
}

static json_object *verify_json(const struct api_handlers *h, const char *identity, const char *policy_path, const char *epoch,
				const char *since, bool attest)
{
	struct verify_opts opts = { .identity = identity, .health = api_health(h),
				    .alert_without_policy = h->default_alert, .epoch = epoch, .since = since };
	struct policy_set other = { 0 };
	const struct policy_set *set = h->policies;
	struct verify_result r;
	json_object *doc;
	char err[1024];
	int rc;

	if (policy_path) {
		if (policy_load_path(&other, policy_path, err, sizeof(err)))
			return api_error(err, 2);
		set = &other;
	}
	if ((rc = verify_ledger(h->pipe->ledger, set, &opts, &r))) {
		policy_set_free(&other);
		/* a typo (unknown epoch) names the closest known ones */
		return api_error(rc == -ENOMEM || !r.error[0] ? "verification failed: out of memory" : r.error, 2);
	}
	doc = verify_result_report(&r);
	verify_result_free(&r);
	if (doc) {
		char digest[65];

		policy_set_digest(set, digest); /* what the verdict was judged by */
		json_add_str(doc, "policy_digest", digest);
		if (attest && identity)
			attest_parts(h, identity, doc);
	}
	policy_set_free(&other);
	return doc;
}

static json_object *suggest_json(const struct api_handlers *h, const char *identity)
{
	char err[512], *yaml = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&yaml, &len);
	json_object *o;
	int rc;

	if (!mem)
		return api_error("out of memory", 2);
	rc = policy_suggest(h->pipe->ledger, identity, mem, err, sizeof(err));
	fclose(mem);
	if (rc) {
		free(yaml);
		return api_error(err, 2);
	}
	o = json_object_new_object();
	json_add_str(o, "policy", yaml ? yaml : "");
	free(yaml);
	return o;
}

/* Per identity with records: mean time to remediate, failed remediations. */
static json_object *remediation_json(const struct epoch_tracker *t, const char *only)
{
	json_object *arr = json_object_new_array();
	struct remediation_stats *st;
	size_t n = epoch_tracker_remediation_all(t, only, &st);

	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();

		json_add_str(o, "identity", st[i].identity);
		json_add_int(o, "findings_resolved", (int64_t)st[i].resolved);
		json_add_int(o, "findings_open", (int64_t)st[i].open);
		/* from resolved findings only: none resolved is unknown (null), not 0 s */
		json_add_int_or_null(o, "mean_time_to_remediate_ms", st[i].resolved ? st[i].mean_time_to_remediate_ms : 0);
		json_add_int(o, "upgrades_with_findings", (int64_t)st[i].upgrades_with_findings);
		json_add_int(o, "failed_remediations", (int64_t)st[i].failed_remediations);
		if (st[i].upgrades_with_findings)
			json_add_double(o, "failed_remediation_rate",
					(double)st[i].failed_remediations / st[i].upgrades_with_findings);
		else
			json_add(o, "failed_remediation_rate", NULL); /* no verified upgrade with findings: n/a */
		json_object_array_add(arr, o);
	}
	free(st);
	return arr;
}

/* NULL when the agent knows identity (observed, or with a policy: a
 * pipeline may open an epoch before the workload first runs); otherwise the
 * error reply (exit 2) naming the closest known ones: a typo never answers
 * with an empty table or opens a phantom epoch. */
static json_object *unknown_identity(const struct api_handlers *h, const char *identity)
{
	const struct ledger *l = h->pipe->ledger;
	size_t n = 0, n_ids = ledger_identities(l), n_pol = h->policies ? h->policies->n : 0;
	const char **known;
	char near[400] = "", msg[1000];

	if (ledger_identity_find(l, identity) || policy_for_identity(h->policies, identity) ||
	    ledger_identities_dropped(l))
		return NULL; /* (a refused identity may be this one) */
	if (!(known = calloc(n_ids + n_pol + 1, sizeof(*known))))
		return api_error("out of memory", 2);
	for (size_t i = 0; i < n_ids; i++)
		known[n++] = ledger_identity_at(l, i)->name;
	for (size_t i = 0; i < n_pol; i++)
		if (!ledger_identity_find(l, h->policies->policies[i].identity))
			known[n++] = h->policies->policies[i].identity;
	snprintf(msg, sizeof(msg), "unknown identity '%s': nothing observed and no policy%s", identity,
		 names_suggest(identity, known, n, near, sizeof(near)));
	free(known);
	return api_error(msg, 2);
}

json_object *api_handle(void *ctx, json_object *req)
{
	struct api_handlers *h = ctx;
	json_object *v, *reply;
	const char *cmd = json_object_object_get_ex(req, "cmd", &v) ? json_object_get_string(v) : "";
	const char *identity = json_object_object_get_ex(req, "identity", &v) ? json_object_get_string(v) : NULL;
	const char *kind = json_object_object_get_ex(req, "kind", &v) ? json_object_get_string(v) : NULL;
	char canonical[512];

	/* fresh counts for the answer */
	pipeline_refresh_counts(h->pipe);
	pipeline_feed_ledger(h->pipe);
	if (identity) {
		/* as observed when the ledger has that name, else canonical
		 * (host/NAME.service is host/NAME) */
		if (!ledger_identity_find(h->pipe->ledger, identity))
			identity = names_identity_normalize(identity, canonical, sizeof(canonical));
		/* verify checks against the policies it is given (maybe a path) */
		if (strcmp(cmd, "verify") && (reply = unknown_identity(h, identity)))
			return reply;
	}
	if (strcmp(cmd, "reach") == 0)
		return reach_json(h, identity, kind);
	if (strcmp(cmd, "status") == 0)
		return status_json(h);
	if (strcmp(cmd, "verify") == 0) {
		const char *policy = json_object_object_get_ex(req, "policy", &v) ? json_object_get_string(v) : NULL;
		const char *epoch = json_object_object_get_ex(req, "epoch", &v) ? json_object_get_string(v) : NULL;

		const char *since = json_object_object_get_ex(req, "since", &v) ? json_object_get_string(v) : NULL;
		bool attest = json_object_object_get_ex(req, "attest", &v) && json_object_get_boolean(v);

		return verify_json(h, identity, policy, epoch, since, attest);
	}
	if (strcmp(cmd, "epochs") == 0) {
		if (h->verify_epochs)
			h->verify_epochs(h->ctx); /* up to date for the answer */
		reply = json_object_new_object();
		json_add(reply, "records", epoch_records_to_json(h->epoch_tracker, identity));
		json_add(reply, "remediation", remediation_json(h->epoch_tracker, identity));
		return reply;
	}
	if (strcmp(cmd, "epoch") == 0) {
		const char *version = json_object_object_get_ex(req, "version", &v) ? json_object_get_string(v) : NULL;

		if (!identity || !version || !*version || strlen(version) > 200)
			return api_error("epoch needs an identity and a version (at most 200 characters)", 2);
		/* what was observed until now belongs to the previous epoch: feed
		 * it under that one before the version changes (the refresh and
		 * feed above, at the top of this handler, did exactly that) */
		if (pipeline_set_epoch(h->pipe, identity, version))
			return api_error("out of memory", 2);
		log_info("epoch of %s is now %s", identity, version);
		reply = json_object_new_object();
		json_add_str(reply, "identity", identity);
		json_add_str(reply, "version", version);
		return reply;
	}
	if (strcmp(cmd, "suggest") == 0) {
		if (!identity)
			return api_error("suggest needs an identity", 2);
		return suggest_json(h, identity);
	}
	reply = json_object_new_object();
	json_add_str(reply, "error", "unknown command (reach, status, verify, suggest)");
	return reply;
}
