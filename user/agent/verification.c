/* The agent's own verification (verification.h): policies in, epoch records
 * and findings out. Moved out of reachd.c so the daemon's main file is
 * wiring only; the policies are loaded on the loader's thread
 * (policy_loader.h) and only swapped in here. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>
#include "common/fileio.h"
#include "common/hmap.h"
#include "common/log.h"
#include "policy/epochs.h"
#include "reach/ledger.h"
#include "ship/shipping.h"
#include "agent/policy_loader.h"
#include "agent/verification.h"

static void log_epoch_change(void *ctx, const struct epoch_record *r)
{
	struct verification *v = ctx;

	shipping_epoch(v->ship, r, v->verifying);
	if (r->state == EPOCH_SETTLING)
		log_info("epoch opened: %s %s -> %s (verified after the settle window)", r->identity,
			 r->from_version[0] ? r->from_version : "-", r->to_version[0] ? r->to_version : "-");
	else if (r->state == EPOCH_VERIFIED)
		log_msg(r->verdict == VERDICT_PASS ? LOG_INFO : LOG_WARN, "epoch verified: %s %s: %s%s%s", r->identity,
			r->to_version[0] ? r->to_version : "-", verdict_name(r->verdict), r->reasons[0] ? ": " : "",
			r->reasons);
	else if (r->state == EPOCH_SUPERSEDED)
		log_info("epoch superseded: %s %s: %s", r->identity, r->to_version[0] ? r->to_version : "-", r->reasons);
	else
		log_warn("epoch drifted: %s %s passed and now fails: %s", r->identity, r->to_version[0] ? r->to_version : "-",
			 r->reasons);
}

/* A new finding: the alert event. Fingerprints and paths only, never a
 * credential (findings never hold one). */
static void alert_new_finding(void *ctx, const struct finding *f)
{
	struct verification *v = ctx;

	/* noted before it is logged: a crash in between misses an alert rather
	 * than repeating it on every restart */
	if (v->alerted_path && !v->alerted && !(v->alerted = fopen(v->alerted_path, "ae")))
		log_warn("%s: %s: alerted findings are not kept across restarts", v->alerted_path, strerror(errno));
	if (v->alerted)
		fprintf(v->alerted, "%s\n", f->id);
	log_warn("finding: %s %s %s %s %s (id %s)", severity_name(f->severity), f->identity, finding_kind_name(f->kind),
		 f->edge_kind, f->object, f->id);
}

/* A link of the record chain, appended for good. Synced to disk once per
 * verification pass (sync_links: a policy change re-verifies every
 * identity, and one fdatasync per link would stall the loop). A write that
 * fails is logged and counted; the link stays in memory, and the next
 * start's check of the file names the gap. */
static void keep_link(void *ctx, const struct epoch_record *link)
{
	struct verification *v = ctx;
	json_object *o;
	int ok;

	v->records_changed = true;
	if (!v->records_path)
		return;
	if (!v->records && !(v->records = fopen(v->records_path, "ae"))) {
		log_error("%s: %s: verification record %" PRIu64 " of %s is not kept across restarts", v->records_path,
			  strerror(errno), link->seq, link->identity);
		return;
	}
	o = epoch_record_to_json(link);
	ok = fprintf(v->records, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) > 0 &&
	     fflush(v->records) == 0;
	json_object_put(o);
	v->records_unsynced = true;
	if (!ok)
		log_error("%s: %s: verification record %" PRIu64 " of %s is not kept across restarts", v->records_path,
			  strerror(errno), link->seq, link->identity);
}

/* The links of a verification pass on disk (a verdict a pipeline was told
 * about must survive a crash). */
static void sync_links(struct verification *v)
{
	if (!v->records || !v->records_unsynced)
		return;
	v->records_unsynced = false;
	if (fdatasync(fileno(v->records)))
		log_error("%s: fdatasync: %s: the latest verification records may not survive a crash", v->records_path,
			  strerror(errno));
}

void verification_publish_records(struct verification *v)
{
	const struct epoch_record *recs;
	size_t n = v->epochs ? epoch_tracker_records(v->epochs, &recs) : 0;
	struct hmap *seen = hmap_new();
	json_object *doc = json_object_new_object(), *arr = json_object_new_array();
	const char *text;

	v->records_changed = false;
	if (!v->ship || !shipping_serves_ledger(v->ship))
		goto out;
	/* identity by identity, in the order of their first record; each
	 * chain whole (a verifier checks it from its first link) */
	for (size_t i = 0; seen && i < n; i++) {
		struct epoch_record *chain;
		size_t m;

		if (hmap_get(seen, recs[i].identity) || hmap_put(seen, recs[i].identity, (void *)1, NULL))
			continue;
		m = epoch_tracker_chain(v->epochs, recs[i].identity, &chain);
		for (size_t k = 0; k < m; k++)
			json_object_array_add(arr, epoch_record_to_json(&chain[k]));
		free(chain);
	}
	json_object_object_add(doc, "records", arr);
	arr = NULL;
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	shipping_publish_records(v->ship, text, strlen(text));
out:
	json_object_put(arr);
	json_object_put(doc);
	hmap_free(seen, NULL);
}

/* The chain an earlier run kept: restored link by link as read, then
 * checked per identity; a broken chain (a line changed, removed or
 * reordered on disk) is logged naming the record, and stays as read so
 * that every attestation shows it (reachctl refuses to sign it). */
static void load_records(struct verification *v)
{
	FILE *f = v->records_path ? fopen(v->records_path, "re") : NULL;
	struct hmap *ids = NULL;
	char *line = NULL, err[256];
	size_t cap = 0, n = 0, lineno = 0, bad = 0;
	struct hmap_iter it;
	const char *id;
	void *unused;

	if (!f)
		return;
	ids = hmap_new();
	while (getline(&line, &cap, f) > 0) {
		json_object *o = json_tokener_parse(line);
		struct epoch_record link;

		lineno++;
		if (!o || epoch_record_from_json(o, &link, err, sizeof(err)) || !link.hash[0]) {
			bad++;
			log_error("%s:%zu: not a verification record (%s): skipped; the chain shows the gap",
				  v->records_path, lineno, o ? err : "not JSON");
		} else if (epoch_tracker_restore_link(v->epochs, &link) || !ids ||
			   hmap_put(ids, link.identity, (void *)1, NULL)) {
			log_error("%s: out of memory restoring the verification records", v->records_path);
			json_object_put(o);
			break;
		} else {
			n++;
		}
		json_object_put(o);
	}
	free(line);
	fclose(f);
	hmap_iter_init(&it, ids);
	while (ids && hmap_iter_next(&it, &id, &unused)) {
		struct epoch_record *chain;
		size_t len = epoch_tracker_chain(v->epochs, id, &chain);
		char *text = NULL;
		size_t text_len = 0;
		FILE *m = open_memstream(&text, &text_len);

		if (m && epoch_chain_check(chain, len, 0, NULL, m)) {
			fclose(m);
			m = NULL;
			bad++;
			for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n"))
				log_error("%s: the verification records of %s are not as written: %s", v->records_path, id, l);
		}
		if (m)
			fclose(m);
		free(text);
		free(chain);
	}
	hmap_free(ids, NULL);
	log_info("%zu verification records restored from %s%s", n, v->records_path,
		 bad ? " (with problems, logged above)" : "");
}

/* The records name the policies they were judged by; a change re-verifies
 * (policy/epochs.h). */
static void note_policy_digest(struct verification *v)
{
	policy_set_digest(&v->policies, v->policy_digest);
	epoch_tracker_set_policy_digest(v->epochs, v->policy_digest);
}

/* The findings an earlier run alerted: not alerted again. */
static void load_alerted(struct verification *v)
{
	FILE *f = v->alerted_path ? fopen(v->alerted_path, "re") : NULL;
	char line[64];
	size_t n = 0;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line) == 16 && !epoch_tracker_mark_alerted(v->epochs, line))
			n++;
	}
	fclose(f);
	if (n)
		log_info("%zu findings alerted by an earlier run: not alerted again", n);
}

int verification_init(struct verification *v, const struct verification_opts *o, char *err, size_t err_size)
{
	*v = (struct verification){
		.default_alert = o->default_alert,
		.policy_paths = o->policy_paths,
		.n_policy_paths = o->n_policy_paths,
		.policy_signature = policy_paths_signature(o->policy_paths, o->n_policy_paths),
	};
	v->epochs = epoch_tracker_new((int64_t)(o->settle_s * 1000));
	if (!v->epochs) {
		snprintf(err, err_size, "allocating the epoch tracker: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	epoch_tracker_on_new_finding(v->epochs, alert_new_finding, v);
	v->alerted_path = o->alerted_path;
	load_alerted(v);
	v->records_path = o->records_path;
	load_records(v);
	epoch_tracker_on_seal(v->epochs, keep_link, v);
	/* at start, before the loop: a bad policy fails start-up (exit 2) */
	if (policy_load_paths(&v->file_policies, v->policy_paths, v->n_policy_paths, err, err_size))
		return -EINVAL;
	v->file_last_load_unix_ms = unix_now_ms();
	if (policy_set_add_copies(&v->policies, &v->file_policies, NULL)) {
		snprintf(err, err_size, "policies: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	note_policy_digest(v);
	return 0;
}

int verification_start_loader(struct verification *v, struct policy_crd *crd)
{
	struct policy_loader_opts o = { .paths = v->policy_paths, .n_paths = v->n_policy_paths,
					.signature = v->policy_signature, .crd = crd };

	return policy_loader_start(&v->loader, &o, &v->file_policies);
}

void verification_stop_loader(struct verification *v)
{
	policy_loader_stop(v->loader);
	v->loader = NULL;
}

void verification_fini(struct verification *v)
{
	verification_stop_loader(v);
	if (v->alerted)
		fclose(v->alerted);
	v->alerted = NULL;
	if (v->records)
		fclose(v->records);
	v->records = NULL;
	policy_set_free(&v->policies);
	policy_set_free(&v->file_policies);
	free(v->open_findings);
	v->open_findings = NULL;
	v->n_open_findings = 0;
	epoch_tracker_free(v->epochs);
	v->epochs = NULL;
}

void verification_reload(struct verification *v)
{
	policy_loader_reload(v->loader);
}

/* A set the loader finished: swapped in (the old one goes back to it), the
 * records name it from now on. */
static void take_policies(struct verification *v)
{
	struct policy_loader_taken t;
	struct policy_loader_stats st;

	if (policy_loader_take(v->loader, &v->policies, &t) == 1) {
		memcpy(v->policy_digest, t.digest, sizeof(v->policy_digest));
		epoch_tracker_set_policy_digest(v->epochs, v->policy_digest);
		if (t.files_reloaded)
			log_info("policies reloaded: %zu (sha256 %s of all %zu judged)", t.from_files, v->policy_digest,
				 v->policies.n);
		else
			log_info("policies: %zu applied (%zu from ReachPolicy objects)", v->policies.n, t.from_crd);
	}
	policy_loader_get_stats(v->loader, &st);
	v->file_load_errors = st.file_load_errors;
	if (st.file_last_load_unix_ms)
		v->file_last_load_unix_ms = st.file_last_load_unix_ms;
	v->crd_applied = st.crd_synced;
}

/* The findings are sorted by identity, then severity and kind: equal
 * triples are neighbours. On -ENOMEM the previous counts stay. */
static void count_findings(struct verification *v, const struct verify_result *r)
{
	struct open_finding_count *c = r->n_findings ? calloc(r->n_findings, sizeof(*c)) : NULL;
	size_t n = 0;

	if (r->n_findings && !c)
		return;
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct finding *f = &r->findings[i];
		const char *kind = finding_kind_name(f->kind), *sev = severity_name(f->severity);
		size_t j;

		for (j = n; j > 0; j--)
			if (strcmp(c[j - 1].identity, f->identity) == 0 && c[j - 1].kind == kind && c[j - 1].severity == sev)
				break;
		if (j > 0) {
			c[j - 1].n++;
			continue;
		}
		snprintf(c[n].identity, sizeof(c[n].identity), "%s", f->identity);
		c[n].kind = kind;
		c[n].severity = sev;
		c[n].n = 1;
		n++;
	}
	free(v->open_findings);
	v->open_findings = c;
	v->n_open_findings = n;
}

void verification_run(struct verification *v, const struct verify_input_health *health)
{
	struct verify_opts opts = { .health = *health, .alert_without_policy = v->default_alert };
	struct verify_result r;

	if (!v->epochs || !v->ledger || verify_ledger(v->ledger, &v->policies, &opts, &r))
		return;
	v->verifying = &r;
	epoch_tracker_update(v->epochs, &r, unix_now_ms(), log_epoch_change, v);
	sync_links(v);
	if (v->records_changed)
		verification_publish_records(v);
	v->verifying = NULL;
	shipping_findings(v->ship, &r);
	count_findings(v, &r);
	if (v->on_result)
		v->on_result(v->on_result_ctx, &r);
	verify_result_free(&r);
	if (v->alerted)
		fflush(v->alerted);
}

void verification_tick(struct verification *v, const struct verify_input_health *health, double now_s)
{
	if (v->loader)
		take_policies(v);
	if (now_s - v->last_verify_s >= VERIFICATION_INTERVAL_S) {
		verification_run(v, health);
		v->last_verify_s = now_s;
	}
}
