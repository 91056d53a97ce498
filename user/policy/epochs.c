#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "policy/epochs.h"

struct epoch_tracker {
	struct epoch_record *recs;
	size_t n, cap;
	int64_t settle_ms;
};

struct epoch_tracker *epoch_tracker_new(int64_t settle_ms)
{
	struct epoch_tracker *t = calloc(1, sizeof(*t));

	if (t)
		t->settle_ms = settle_ms;
	return t;
}

void epoch_tracker_free(struct epoch_tracker *t)
{
	if (!t)
		return;
	free(t->recs);
	free(t);
}

const char *epoch_state_name(enum epoch_state s)
{
	return s == EPOCH_SETTLING ? "settling" : s == EPOCH_VERIFIED ? "verified" : "drifted";
}

static struct epoch_record *find(struct epoch_tracker *t, const char *identity, const char *version)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->recs[i].identity, identity) && !strcmp(t->recs[i].to_version, version))
			return &t->recs[i];
	return NULL;
}

static struct epoch_record *open_record(struct epoch_tracker *t, const struct identity_verdict *v, int64_t now)
{
	struct epoch_record *rec;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct epoch_record *n = realloc(t->recs, cap * sizeof(*n));

		if (!n)
			return NULL;
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
	return rec;
}

size_t epoch_tracker_update(struct epoch_tracker *t, const struct verify_result *r, int64_t now_ms,
			    void (*on_change)(void *ctx, const struct epoch_record *rec), void *ctx)
{
	size_t changed = 0;

	for (size_t i = 0; i < r->n_verdicts; i++) {
		const struct identity_verdict *v = &r->verdicts[i];
		struct epoch_record *rec;
		size_t bad = v->n_findings_by_sev[SEV_MEDIUM] + v->n_findings_by_sev[SEV_HIGH] +
			     v->n_findings_by_sev[SEV_CRITICAL];

		if (!v->counted)
			continue; /* audit-only identities have nothing declared to verify */
		rec = find(t, v->identity, v->epoch);
		if (!rec) {
			if (!(rec = open_record(t, v, now_ms)))
				continue;
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
			rec->findings = bad;
			rec->verified_ms = now_ms;
			snprintf(rec->reasons, sizeof(rec->reasons), "%s", v->reasons);
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
				changed++;
				if (on_change)
					on_change(ctx, rec);
			} else if (rec->verdict != VERDICT_PASS) {
				rec->verdict = v->verdict; /* keeps tracking until it passes */
				rec->findings = bad;
				snprintf(rec->reasons, sizeof(rec->reasons), "%s", v->reasons);
			}
			break;
		case EPOCH_DRIFTED:
			rec->findings = bad;
			break;
		}
	}
	return changed;
}

size_t epoch_tracker_records(const struct epoch_tracker *t, const struct epoch_record **out)
{
	*out = t->recs;
	return t->n;
}

struct json_object *epoch_records_to_json(const struct epoch_tracker *t, const char *identity)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < t->n; i++) {
		const struct epoch_record *r = &t->recs[i];
		json_object *o;

		if (identity && strcmp(identity, r->identity))
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "identity", json_object_new_string(r->identity));
		json_object_object_add(o, "from_version", json_object_new_string(r->from_version));
		json_object_object_add(o, "to_version", json_object_new_string(r->to_version));
		json_object_object_add(o, "state", json_object_new_string(epoch_state_name(r->state)));
		json_object_object_add(o, "verdict", json_object_new_string(verdict_name(r->verdict)));
		json_object_object_add(o, "reasons", json_object_new_string(r->reasons));
		json_object_object_add(o, "findings", json_object_new_int64((int64_t)r->findings));
		json_object_object_add(o, "started_unix_ms", json_object_new_int64(r->started_ms));
		json_object_object_add(o, "verified_unix_ms", json_object_new_int64(r->verified_ms));
		json_object_object_add(o, "drifted_unix_ms", json_object_new_int64(r->drifted_ms));
		json_object_array_add(arr, o);
	}
	return arr;
}
