#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "common/hex.h"
#include "common/hmap.h"
#include "common/intern.h"
#include "common/json.h"
#include "policy/epochs.h"

/* A finding (>= medium) followed from first seen to resolution. */
struct tracked_finding {
	char id[17];
	const char *identity; /* the tracker's copy (names): one per identity, not per finding */
	int64_t first_seen_ms, resolved_ms; /* resolved_ms 0: open */
	bool seen_now;
};

struct epoch_tracker {
	struct epoch_record *recs;
	size_t n, cap;
	int64_t settle_ms;
	struct tracked_finding *tf;
	size_t n_tf, cap_tf;
	/* positions plus one, by key: a verification of many identities looks
	 * each finding and record up once, not through every one */
	struct hmap *tf_index;  /* finding id -> tf */
	struct hmap *rec_index; /* "identity\n to_version" -> recs */
	struct intern *names;   /* one copy of each identity's name (tracked findings point at it) */
	void (*on_new_finding)(void *ctx, const struct finding *f);
	void *on_new_finding_ctx;
	char policy_digest[65];
	uint64_t next_id;
	struct hmap *alerted; /* finding ids an earlier run alerted */
	/* the hash chain: sealed copies in the order they were sealed, and
	 * each identity's last (position plus one) */
	struct epoch_record *chain;
	size_t n_chain, cap_chain;
	struct hmap *heads;
	void (*on_seal)(void *ctx, const struct epoch_record *link);
	void *on_seal_ctx;
};

int epoch_tracker_mark_alerted(struct epoch_tracker *t, const char *finding_id)
{
	if (!t->alerted && !(t->alerted = hmap_new()))
		return -ENOMEM;
	return hmap_put(t->alerted, finding_id, (void *)1, NULL) ? -ENOMEM : 0;
}

void epoch_tracker_set_policy_digest(struct epoch_tracker *t, const char *digest)
{
	snprintf(t->policy_digest, sizeof(t->policy_digest), "%s", digest ? digest : "");
}

void epoch_tracker_on_new_finding(struct epoch_tracker *t, void (*fn)(void *ctx, const struct finding *f), void *ctx)
{
	t->on_new_finding = fn;
	t->on_new_finding_ctx = ctx;
}

struct epoch_tracker *epoch_tracker_new(int64_t settle_ms)
{
	struct epoch_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->settle_ms = settle_ms;
	if (!(t->tf_index = hmap_new()) || !(t->rec_index = hmap_new()) || !(t->names = intern_new()) ||
	    !(t->heads = hmap_new())) {
		epoch_tracker_free(t);
		return NULL;
	}
	return t;
}

void epoch_tracker_free(struct epoch_tracker *t)
{
	if (!t)
		return;
	hmap_free(t->tf_index, NULL);
	hmap_free(t->rec_index, NULL);
	hmap_free(t->alerted, NULL);
	hmap_free(t->heads, NULL);
	intern_free(t->names);
	free(t->chain);
	free(t->recs);
	free(t->tf);
	free(t);
}

/* Index values: a position plus one, so that 0 (NULL) is "absent". */
static void *pos_value(size_t pos) { return (void *)(uintptr_t)(pos + 1); }
static size_t value_pos(void *v) { return (size_t)(uintptr_t)v - 1; }

static void rec_key(char *key, size_t size, const char *identity, const char *version)
{
	/* the last newline splits it: a version (digest, file hash) never holds one */
	snprintf(key, size, "%s\n%s", identity, version);
}

/* The tracker's copy of an identity's name (one reference per distinct
 * name, all dropped with the table), or NULL on allocation failure. */
static const char *name_of(struct epoch_tracker *t, const char *identity)
{
	const char *name = intern_find(t->names, identity);

	return name ? name : intern_str(t->names, identity);
}

static struct tracked_finding *track(struct epoch_tracker *t, const struct finding *f, int64_t now)
{
	void *at = hmap_get(t->tf_index, f->id);
	const char *identity;

	if (at)
		return &t->tf[value_pos(at)];
	if (!(identity = name_of(t, f->identity)))
		return NULL;
	if (hmap_put(t->tf_index, f->id, pos_value(t->n_tf), NULL))
		return NULL;
	if (t->n_tf == t->cap_tf) {
		size_t cap = t->cap_tf ? t->cap_tf * 2 : 32;
		struct tracked_finding *n = realloc(t->tf, cap * sizeof(*n));

		if (!n) {
			hmap_remove(t->tf_index, f->id);
			return NULL;
		}
		t->tf = n;
		t->cap_tf = cap;
	}
	memset(&t->tf[t->n_tf], 0, sizeof(t->tf[0]));
	snprintf(t->tf[t->n_tf].id, sizeof(t->tf[0].id), "%s", f->id);
	t->tf[t->n_tf].identity = identity;
	t->tf[t->n_tf].first_seen_ms = f->first_ms ? f->first_ms : now;
	return &t->tf[t->n_tf++];
}

/* Open findings per identity (identity -> count, in the pointer), counted
 * in one pass over the tracked findings; NULL when there is no memory. */
static struct hmap *open_findings_by_identity(const struct epoch_tracker *t)
{
	struct hmap *m = hmap_new();

	for (size_t i = 0; m && i < t->n_tf; i++) {
		uintptr_t n = (uintptr_t)hmap_get(m, t->tf[i].identity);

		if (!t->tf[i].resolved_ms && hmap_put(m, t->tf[i].identity, (void *)(n + 1), NULL)) {
			hmap_free(m, NULL);
			return NULL;
		}
	}
	return m;
}

/* Findings open for identity now; the counts of one update are counted once
 * (*counts, built on first use), however many epochs it opens. */
static size_t open_findings(const struct epoch_tracker *t, struct hmap **counts, const char *identity)
{
	size_t n = 0;

	if (!*counts)
		*counts = open_findings_by_identity(t);
	if (*counts)
		return (size_t)(uintptr_t)hmap_get(*counts, identity);
	for (size_t i = 0; i < t->n_tf; i++) /* no memory for the counts: the slow way */
		n += !t->tf[i].resolved_ms && !strcmp(t->tf[i].identity, identity);
	return n;
}

/* Follows findings across verifications: new ones tracked, gone ones
 * resolved (only for identities this verification covered). */
static void follow_findings(struct epoch_tracker *t, const struct verify_result *r, int64_t now)
{
	struct hmap *covered_ids = hmap_new();

	if (!covered_ids)
		return; /* no memory: this pass changes nothing, the next one catches up */
	for (size_t i = 0; i < r->n_verdicts; i++)
		if (hmap_put(covered_ids, r->verdicts[i].identity, pos_value(i), NULL)) {
			hmap_free(covered_ids, NULL);
			return;
		}
	for (size_t i = 0; i < t->n_tf; i++)
		t->tf[i].seen_now = false;
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct finding *f = &r->findings[i];
		struct tracked_finding *tf;

		size_t before = t->n_tf;

		if (f->severity < SEV_MEDIUM || !(tf = track(t, f, now)))
			continue;
		if (t->n_tf > before && t->on_new_finding && !(t->alerted && hmap_get(t->alerted, f->id)))
			t->on_new_finding(t->on_new_finding_ctx, f);
		tf->seen_now = true;
		tf->resolved_ms = 0; /* back again: open */
	}
	for (size_t i = 0; i < t->n_tf; i++) {
		struct tracked_finding *tf = &t->tf[i];

		if (!tf->seen_now && !tf->resolved_ms && hmap_get(covered_ids, tf->identity))
			tf->resolved_ms = now;
	}
	hmap_free(covered_ids, NULL);
}

/* One tracked finding or one record into an identity's stats; *total sums
 * the resolved findings' times to remediate. */
static void remediation_add_finding(struct remediation_stats *st, int64_t *total, const struct tracked_finding *tf)
{
	if (tf->resolved_ms) {
		st->resolved++;
		*total += tf->resolved_ms - tf->first_seen_ms;
	} else {
		st->open++;
	}
}

static void remediation_add_record(struct remediation_stats *st, const struct epoch_record *r)
{
	/* only verified upgrades tell whether a patch remediated */
	if (!r->open_at_start || r->state == EPOCH_SETTLING || r->state == EPOCH_SUPERSEDED)
		return;
	st->upgrades_with_findings++;
	st->failed_remediations += r->still_open > 0;
}

void epoch_tracker_remediation(const struct epoch_tracker *t, const char *identity, struct remediation_stats *out)
{
	int64_t total = 0;

	memset(out, 0, sizeof(*out));
	snprintf(out->identity, sizeof(out->identity), "%s", identity);
	for (size_t i = 0; i < t->n_tf; i++)
		if (!strcmp(t->tf[i].identity, identity))
			remediation_add_finding(out, &total, &t->tf[i]);
	out->mean_time_to_remediate_ms = out->resolved ? total / (int64_t)out->resolved : 0;
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->recs[i].identity, identity))
			remediation_add_record(out, &t->recs[i]);
}

size_t epoch_tracker_remediation_all(const struct epoch_tracker *t, const char *only, struct remediation_stats **out)
{
	struct remediation_stats *st = calloc(t->n ? t->n : 1, sizeof(*st));
	int64_t *total = calloc(t->n ? t->n : 1, sizeof(*total));
	struct hmap *at = hmap_new(); /* identity -> position in st, plus one */
	size_t n = 0;
	void *v;

	*out = NULL;
	if (!st || !total || !at)
		goto fail;
	for (size_t i = 0; i < t->n; i++) { /* one entry per identity, in record order */
		const struct epoch_record *r = &t->recs[i];

		if ((only && strcmp(only, r->identity)) || hmap_get(at, r->identity))
			continue;
		if (hmap_put(at, r->identity, pos_value(n), NULL))
			goto fail;
		snprintf(st[n++].identity, sizeof(st[0].identity), "%s", r->identity);
	}
	for (size_t i = 0; i < t->n_tf; i++)
		if ((v = hmap_get(at, t->tf[i].identity)))
			remediation_add_finding(&st[value_pos(v)], &total[value_pos(v)], &t->tf[i]);
	for (size_t i = 0; i < t->n; i++)
		if ((v = hmap_get(at, t->recs[i].identity)))
			remediation_add_record(&st[value_pos(v)], &t->recs[i]);
	for (size_t i = 0; i < n; i++)
		st[i].mean_time_to_remediate_ms = st[i].resolved ? total[i] / (int64_t)st[i].resolved : 0;
	if (!n)
		goto fail; /* nothing: NULL, as promised */
	free(total);
	hmap_free(at, NULL);
	*out = st;
	return n;
fail:
	free(st);
	free(total);
	hmap_free(at, NULL);
	return 0;
}

const char *epoch_state_name(enum epoch_state s)
{
	return s == EPOCH_SETTLING	? "settling"
	       : s == EPOCH_VERIFIED	? "verified"
	       : s == EPOCH_SUPERSEDED ? "superseded"
				       : "drifted";
}

const char *epoch_verdict_name(const struct epoch_record *rec)
{
	return rec->state == EPOCH_DRIFTED ? "drifted" : verdict_name(rec->verdict);
}

/* ---- the hash chain (epochs.h) ---- */

static void digest_field(EVP_MD_CTX *ctx, const char *name, const char *value)
{
	char head[64];
	int n = snprintf(head, sizeof(head), "%s=%zu:", name, strlen(value));

	EVP_DigestUpdate(ctx, head, (size_t)n);
	EVP_DigestUpdate(ctx, value, strlen(value));
	EVP_DigestUpdate(ctx, "\n", 1);
}

static void digest_num(EVP_MD_CTX *ctx, const char *name, int64_t v)
{
	char num[32];

	snprintf(num, sizeof(num), "%" PRId64, v);
	digest_field(ctx, name, num);
}

void epoch_record_digest(const struct epoch_record *r, char hex[65])
{
	static const char magic[] = "reach-verification-record/v1\n";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char u64[32];

	hex[0] = '\0';
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return;
	}
	EVP_DigestUpdate(ctx, magic, sizeof(magic) - 1);
	snprintf(u64, sizeof(u64), "%" PRIu64, r->seq);
	digest_field(ctx, "seq", u64);
	digest_field(ctx, "prev_hash", r->prev_hash);
	snprintf(u64, sizeof(u64), "%" PRIu64, r->id);
	digest_field(ctx, "id", u64);
	snprintf(u64, sizeof(u64), "%" PRIu64, r->follows);
	digest_field(ctx, "follows", u64);
	digest_field(ctx, "identity", r->identity);
	digest_field(ctx, "from_version", r->from_version);
	digest_field(ctx, "to_version", r->to_version);
	digest_field(ctx, "state", epoch_state_name(r->state));
	digest_field(ctx, "verdict", verdict_name(r->verdict));
	digest_field(ctx, "reasons", r->reasons);
	digest_num(ctx, "findings", (int64_t)r->findings);
	digest_num(ctx, "started_ms", r->started_ms);
	digest_num(ctx, "verified_ms", r->verified_ms);
	digest_num(ctx, "drifted_ms", r->drifted_ms);
	digest_num(ctx, "open_at_start", (int64_t)r->open_at_start);
	digest_num(ctx, "still_open", (int64_t)r->still_open);
	digest_field(ctx, "policy_digest", r->policy_digest);
	if (EVP_DigestFinal_ex(ctx, md, &len) && len == 32)
		hex_encode(md, len, hex);
	EVP_MD_CTX_free(ctx);
}

/* rec was sealed (verified, superseded, drifted): a copy as it stands now
 * joins its identity's chain. Without memory the record keeps no hash
 * ("hash": null in its JSON) and the chain goes on from its last copy. */
static void seal(struct epoch_tracker *t, struct epoch_record *rec)
{
	void *at = hmap_get(t->heads, rec->identity);
	const struct epoch_record *head = at ? &t->chain[value_pos(at)] : NULL;

	rec->hash[0] = '\0';
	if (t->n_chain == t->cap_chain) {
		size_t cap = t->cap_chain ? t->cap_chain * 2 : 16;
		struct epoch_record *n = realloc(t->chain, cap * sizeof(*n));

		if (!n)
			return;
		t->chain = n;
		t->cap_chain = cap;
		head = at ? &t->chain[value_pos(at)] : NULL;
	}
	rec->seq = head ? head->seq + 1 : 1;
	snprintf(rec->prev_hash, sizeof(rec->prev_hash), "%s", head ? head->hash : EPOCH_CHAIN_GENESIS);
	epoch_record_digest(rec, rec->hash);
	if (!rec->hash[0] || hmap_put(t->heads, rec->identity, pos_value(t->n_chain), NULL)) {
		rec->hash[0] = '\0';
		return;
	}
	t->chain[t->n_chain++] = *rec;
	if (t->on_seal)
		t->on_seal(t->on_seal_ctx, rec);
}

void epoch_tracker_on_seal(struct epoch_tracker *t, void (*fn)(void *ctx, const struct epoch_record *link), void *ctx)
{
	t->on_seal = fn;
	t->on_seal_ctx = ctx;
}

int epoch_tracker_restore_link(struct epoch_tracker *t, const struct epoch_record *link)
{
	if (t->n_chain == t->cap_chain) {
		size_t cap = t->cap_chain ? t->cap_chain * 2 : 16;
		struct epoch_record *n = realloc(t->chain, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->chain = n;
		t->cap_chain = cap;
	}
	if (hmap_put(t->heads, link->identity, pos_value(t->n_chain), NULL))
		return -ENOMEM;
	t->chain[t->n_chain++] = *link;
	if (link->id > t->next_id)
		t->next_id = link->id;
	return 0;
}

size_t epoch_tracker_chain(const struct epoch_tracker *t, const char *identity, struct epoch_record **out)
{
	void *at = hmap_get(t->heads, identity);
	size_t n = 0, k = 0;

	*out = NULL;
	if (!at)
		return 0;
	/* identities interleave in the chain array: copy the identity's out */
	for (size_t i = 0; i <= value_pos(at); i++)
		n += !strcmp(t->chain[i].identity, identity);
	if (!(*out = malloc(n * sizeof(**out))))
		return 0;
	for (size_t i = 0; i <= value_pos(at); i++)
		if (!strcmp(t->chain[i].identity, identity))
			(*out)[k++] = t->chain[i];
	return n;
}

/* A new epoch of identity opens: its records still settling can never be
 * verified now (their reach is no longer current), so they close as
 * superseded instead of staying "settling" forever. */
static void supersede(struct epoch_tracker *t, const char *identity, const char *by, int64_t now,
		      void (*on_change)(void *ctx, const struct epoch_record *rec), void *ctx, size_t *changed)
{
	for (size_t i = 0; i < t->n; i++) {
		struct epoch_record *r = &t->recs[i];

		if (r->state != EPOCH_SETTLING || strcmp(r->identity, identity))
			continue;
		r->state = EPOCH_SUPERSEDED;
		r->verdict = VERDICT_INCONCLUSIVE;
		r->verified_ms = now;
		snprintf(r->reasons, sizeof(r->reasons), "superseded by %.400s before it settled", by[0] ? by : "-");
		seal(t, r);
		(*changed)++;
		if (on_change)
			on_change(ctx, r);
	}
}

static struct epoch_record *find(struct epoch_tracker *t, const char *identity, const char *version)
{
	char key[sizeof(t->recs[0].identity) + sizeof(t->recs[0].to_version) + 1];
	void *at;

	rec_key(key, sizeof(key), identity, version);
	at = hmap_get(t->rec_index, key);
	return at ? &t->recs[value_pos(at)] : NULL;
}

/* How many findings that were open when rec's epoch opened are still in
 * this verification: a patch that did not remediate them. */
static size_t still_open_from_start(const struct epoch_tracker *t, const struct verify_result *r,
				    const struct epoch_record *rec)
{
	size_t n = 0;

	/* findings of this verification that the tracker followed since before
	 * the epoch opened; r's findings are sorted by identity (verify.h), so
	 * the identity's are one run found by binary search */
	size_t lo = 0, hi = r->n_findings;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(r->findings[mid].identity, rec->identity) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t j = lo; j < r->n_findings && !strcmp(r->findings[j].identity, rec->identity); j++) {
		const struct finding *f = &r->findings[j];
		const struct tracked_finding *tf;
		void *at;

		if (!(at = hmap_get(t->tf_index, f->id)))
			continue;
		tf = &t->tf[value_pos(at)];
		if (tf->first_seen_ms > rec->started_ms || (tf->resolved_ms && tf->resolved_ms <= rec->started_ms))
			continue;
		n++;
	}
	return n;
}

static struct epoch_record *open_record(struct epoch_tracker *t, const struct identity_verdict *v, int64_t now,
				       struct hmap **open_counts)
{
	char key[sizeof(t->recs[0].identity) + sizeof(t->recs[0].to_version) + 1];
	struct epoch_record *rec;

	rec_key(key, sizeof(key), v->identity, v->epoch);
	if (hmap_put(t->rec_index, key, pos_value(t->n), NULL))
		return NULL;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct epoch_record *n = realloc(t->recs, cap * sizeof(*n));

		if (!n) {
			hmap_remove(t->rec_index, key);
			return NULL;
		}
		t->recs = n;
		t->cap = cap;
	}
	rec = &t->recs[t->n++];
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->identity, sizeof(rec->identity), "%s", v->identity);
	snprintf(rec->from_version, sizeof(rec->from_version), "%s", v->previous_epoch);
	snprintf(rec->to_version, sizeof(rec->to_version), "%s", v->epoch);
	rec->state = EPOCH_SETTLING;
	rec->verdict = VERDICT_INCONCLUSIVE;
	rec->started_ms = now;
	rec->id = ++t->next_id;
	memcpy(rec->policy_digest, t->policy_digest, sizeof(rec->policy_digest));
	rec->open_at_start = open_findings(t, open_counts, v->identity);
	return rec;
}

size_t epoch_tracker_update(struct epoch_tracker *t, const struct verify_result *r, int64_t now_ms,
			    void (*on_change)(void *ctx, const struct epoch_record *rec), void *ctx)
{
	size_t changed = 0;
	struct hmap *open_counts = NULL; /* open findings per identity before this pass */

	/* records open against the findings as they stood before this pass */
	for (size_t i = 0; i < r->n_verdicts; i++) {
		const struct identity_verdict *v = &r->verdicts[i];
		struct epoch_record *rec;
		size_t bad = v->n_findings_by_sev[SEV_MEDIUM] + v->n_findings_by_sev[SEV_HIGH] +
			     v->n_findings_by_sev[SEV_CRITICAL];

		if (!v->counted)
			continue; /* audit-only identities have nothing declared to verify */
		rec = find(t, v->identity, v->epoch);
		if (!rec) {
			supersede(t, v->identity, v->epoch, now_ms, on_change, ctx, &changed);
			if (!(rec = open_record(t, v, now_ms, &open_counts)))
				continue;
			changed++;
			if (on_change)
				on_change(ctx, rec);
		}
		if ((rec->state == EPOCH_VERIFIED || rec->state == EPOCH_DRIFTED) &&
		    strcmp(rec->policy_digest, t->policy_digest)) {
			/* verified under other policies: that record stays as it was;
			 * a new one re-verifies the epoch under these */
			uint64_t follows = rec->id;
			char from[sizeof(rec->from_version)];

			memcpy(from, rec->from_version, sizeof(from));
			if (!(rec = open_record(t, v, now_ms, &open_counts)))
				continue;
			rec->follows = follows;
			memcpy(rec->from_version, from, sizeof(from));
			changed++;
			if (on_change)
				on_change(ctx, rec);
		}
		switch (rec->state) {
		case EPOCH_SETTLING:
			if (now_ms - rec->started_ms < t->settle_ms)
				break;
			rec->state = EPOCH_VERIFIED;
			rec->verdict = v->verdict;
			rec->still_open = still_open_from_start(t, r, rec);
			rec->findings = bad;
			rec->verified_ms = now_ms;
			snprintf(rec->reasons, sizeof(rec->reasons), "%s", v->reasons);
			seal(t, rec);
			changed++;
			if (on_change)
				on_change(ctx, rec);
			break;
		case EPOCH_VERIFIED:
			if (rec->verdict == VERDICT_PASS && v->verdict == VERDICT_FAIL) {
				/* a pass followed by a new finding: drifted, reopened */
				rec->state = EPOCH_DRIFTED;
				rec->verdict = VERDICT_FAIL;
				rec->findings = bad;
				rec->drifted_ms = now_ms;
				snprintf(rec->reasons, sizeof(rec->reasons), "%s", v->reasons);
				seal(t, rec); /* the drift is a new link; the verified copy stays as it was */
				changed++;
				if (on_change)
					on_change(ctx, rec);
			}
			/* otherwise a verified record never changes (append-only) */
			break;
		case EPOCH_DRIFTED:
			break;
		case EPOCH_SUPERSEDED:
			break; /* closed */
		}
	}
	hmap_free(open_counts, NULL);
	follow_findings(t, r, now_ms);
	return changed;
}

size_t epoch_tracker_records(const struct epoch_tracker *t, const struct epoch_record **out)
{
	*out = t->recs;
	return t->n;
}

struct json_object *epoch_record_to_json(const struct epoch_record *r)
{
	json_object *o = json_object_new_object();

	json_add_str(o, "identity", r->identity);
	json_add_str(o, "from_version", r->from_version);
	json_add_str(o, "to_version", r->to_version);
	json_add_str(o, "state", epoch_state_name(r->state));
	json_add_str(o, "verdict", verdict_name(r->verdict));
	json_add_str(o, "reasons", r->reasons);
	json_add_int(o, "findings", (int64_t)r->findings);
	json_add_int(o, "started_unix_ms", r->started_ms);
	json_add_int(o, "verified_unix_ms", r->verified_ms);
	json_add_int(o, "drifted_unix_ms", r->drifted_ms);
	json_add_int(o, "findings_open_at_start", (int64_t)r->open_at_start);
	json_add_int(o, "findings_still_open", (int64_t)r->still_open);
	json_add_u64(o, "id", r->id);
	json_add_u64(o, "follows", r->follows);
	json_add_str(o, "policy_digest", r->policy_digest);
	/* null until sealed */
	json_add_u64(o, "seq", r->seq);
	json_add_str_or_null(o, "prev_hash", r->hash[0] ? r->prev_hash : NULL);
	json_add_str_or_null(o, "hash", r->hash[0] ? r->hash : NULL);
	return o;
}

/* One field of a record read back; 0 or -EINVAL naming it. */
static int get_field(json_object *o, const char *key, json_type type, json_object **v, char *err, size_t err_size)
{
	if (json_object_object_get_ex(o, key, v) && json_object_is_type(*v, type))
		return 0;
	snprintf(err, err_size, "field %s missing or not a %s", key, json_type_to_name(type));
	return -EINVAL;
}

static int get_text(json_object *o, const char *key, char *out, size_t size, char *err, size_t err_size)
{
	json_object *v;

	if (get_field(o, key, json_type_string, &v, err, err_size))
		return -EINVAL;
	if ((size_t)json_object_get_string_len(v) >= size) {
		snprintf(err, err_size, "field %s too long", key);
		return -EINVAL;
	}
	memcpy(out, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
	return 0;
}

static int get_num(json_object *o, const char *key, int64_t *out, char *err, size_t err_size)
{
	json_object *v;

	if (get_field(o, key, json_type_int, &v, err, err_size))
		return -EINVAL;
	*out = json_object_get_int64(v);
	return 0;
}

int epoch_record_from_json(struct json_object *o, struct epoch_record *r, char *err, size_t err_size)
{
	char state[32], verdict[32];
	int64_t findings, open_at_start, still_open, id, follows, seq;

	memset(r, 0, sizeof(*r));
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, err_size, "not an object");
		return -EINVAL;
	}
	if (get_text(o, "identity", r->identity, sizeof(r->identity), err, err_size) ||
	    get_text(o, "from_version", r->from_version, sizeof(r->from_version), err, err_size) ||
	    get_text(o, "to_version", r->to_version, sizeof(r->to_version), err, err_size) ||
	    get_text(o, "state", state, sizeof(state), err, err_size) ||
	    get_text(o, "verdict", verdict, sizeof(verdict), err, err_size) ||
	    get_text(o, "reasons", r->reasons, sizeof(r->reasons), err, err_size) ||
	    get_text(o, "policy_digest", r->policy_digest, sizeof(r->policy_digest), err, err_size) ||
	    get_text(o, "prev_hash", r->prev_hash, sizeof(r->prev_hash), err, err_size) ||
	    get_text(o, "hash", r->hash, sizeof(r->hash), err, err_size) ||
	    get_num(o, "findings", &findings, err, err_size) || get_num(o, "started_unix_ms", &r->started_ms, err, err_size) ||
	    get_num(o, "verified_unix_ms", &r->verified_ms, err, err_size) ||
	    get_num(o, "drifted_unix_ms", &r->drifted_ms, err, err_size) ||
	    get_num(o, "findings_open_at_start", &open_at_start, err, err_size) ||
	    get_num(o, "findings_still_open", &still_open, err, err_size) || get_num(o, "id", &id, err, err_size) ||
	    get_num(o, "follows", &follows, err, err_size) || get_num(o, "seq", &seq, err, err_size))
		return -EINVAL;
	if (findings < 0 || open_at_start < 0 || still_open < 0 || id < 0 || follows < 0 || seq < 0) {
		snprintf(err, err_size, "a count below zero");
		return -EINVAL;
	}
	r->findings = (size_t)findings;
	r->open_at_start = (size_t)open_at_start;
	r->still_open = (size_t)still_open;
	r->id = (uint64_t)id;
	r->follows = (uint64_t)follows;
	r->seq = (uint64_t)seq;
	for (int s = EPOCH_SETTLING; s <= EPOCH_SUPERSEDED; s++)
		if (!strcmp(state, epoch_state_name((enum epoch_state)s)))
			r->state = (enum epoch_state)s, state[0] = '\0';
	for (int v = VERDICT_PASS; v <= VERDICT_INCONCLUSIVE; v++)
		if (!strcmp(verdict, verdict_name((enum verdict)v)))
			r->verdict = (enum verdict)v, verdict[0] = '\0';
	if (state[0] || verdict[0]) {
		snprintf(err, err_size, "unknown %s '%s'", state[0] ? "state" : "verdict", state[0] ? state : verdict);
		return -EINVAL;
	}
	return 0;
}

/* "record seq 3 (id 5, ns/sa v2, verified)" */
static void chain_name(const struct epoch_record *r, char *out, size_t size)
{
	snprintf(out, size, "record seq %" PRIu64 " (id %" PRIu64 ", %.200s %.200s, %s)", r->seq, r->id, r->identity,
		 r->to_version[0] ? r->to_version : "-", epoch_state_name(r->state));
}

size_t epoch_chain_check(const struct epoch_record *chain, size_t n, uint64_t head_seq, const char *head_hash,
			 FILE *problems)
{
	size_t bad = 0;
	char name[512], want[65];

#define PROBLEM(...)                                              \
	do {                                                      \
		bad++;                                            \
		if (problems)                                     \
			fprintf(problems, __VA_ARGS__);           \
	} while (0)
	for (size_t i = 0; i < n; i++) {
		const struct epoch_record *r = &chain[i], *before = i ? &chain[i - 1] : NULL;

		chain_name(r, name, sizeof(name));
		if (strcmp(r->identity, chain[0].identity))
			PROBLEM("%s: of identity %s, in the chain of %s\n", name, r->identity, chain[0].identity);
		epoch_record_digest(r, want);
		if (strcmp(want, r->hash))
			PROBLEM("%s: changed: its content hashes to %s, not to the hash it carries (%.64s)\n", name, want,
				r->hash);
		if (!before && (r->seq != 1 || strcmp(r->prev_hash, EPOCH_CHAIN_GENESIS)))
			PROBLEM("%s: the chain does not start at its first record: the records before seq %" PRIu64
				" are missing\n",
				name, r->seq);
		if (before && r->seq != before->seq + 1)
			PROBLEM("%s: after record seq %" PRIu64 ": %s\n", name, before->seq,
				r->seq > before->seq + 1 ? "the records between are missing" : "out of order");
		if (before && strcmp(r->prev_hash, before->hash))
			PROBLEM("%s: the hash it names as its predecessor (%.64s) is not record seq %" PRIu64
				"'s: a record before it was changed, removed or reordered\n",
				name, r->prev_hash, before->seq);
	}
	if (head_hash && (!n || chain[n - 1].seq != head_seq || strcmp(chain[n - 1].hash, head_hash)))
		PROBLEM("the chain ends at record seq %" PRIu64 ", not at the head the attestation names (seq %" PRIu64
			", %.64s): records were removed at the end or the head was changed\n",
			n ? chain[n - 1].seq : 0, head_seq, head_hash);
#undef PROBLEM
	return bad;
}

struct json_object *epoch_records_to_json(const struct epoch_tracker *t, const char *identity)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < t->n; i++)
		if (!identity || !strcmp(identity, t->recs[i].identity))
			json_object_array_add(arr, epoch_record_to_json(&t->recs[i]));
	return arr;
}

void epoch_tracker_count_verdicts(const struct epoch_tracker *t, struct epoch_verdict_counts *out)
{
	const struct epoch_record *recs;
	size_t n;
	struct hmap *latest;
	struct hmap_iter it;
	const char *key;
	void *v;

	memset(out, 0, sizeof(*out));
	if (!t || !(latest = hmap_new()))
		return;
	n = epoch_tracker_records(t, &recs);
	for (size_t i = 0; i < n; i++) /* in order: a later record of an identity wins */
		hmap_put(latest, recs[i].identity, (void *)&recs[i], NULL);
	hmap_iter_init(&it, latest);
	while (hmap_iter_next(&it, &key, &v)) {
		const struct epoch_record *r = v;

		if (r->state == EPOCH_DRIFTED)
			out->drifted++;
		else if (r->state == EPOCH_VERIFIED)
			*(r->verdict == VERDICT_PASS   ? &out->pass
			  : r->verdict == VERDICT_FAIL ? &out->fail
						       : &out->inconclusive) += 1;
	}
	hmap_free(latest, NULL);
}
