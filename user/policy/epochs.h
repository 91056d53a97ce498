/* Verification records: one per (identity, epoch). An epoch opens when the
 * identity's current epoch changes (a new image digest, or a version a
 * pipeline declared); after the settle window the agent verifies it and
 * records the verdict; a pass that later sees a new finding is `drifted`
 * and the record is reopened (its drift time kept). In memory: a restarted
 * agent opens records again from the ledger's epochs. */
#ifndef REACH_EPOCHS_H
#define REACH_EPOCHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "policy/verify.h"

/* SUPERSEDED: a newer epoch of the identity opened before this one settled;
 * closed for good (verdict inconclusive: it was never verified). */
enum epoch_state { EPOCH_SETTLING, EPOCH_VERIFIED, EPOCH_DRIFTED, EPOCH_SUPERSEDED };

struct epoch_record {
	char identity[512];
	char from_version[512], to_version[512];
	enum epoch_state state;
	enum verdict verdict;         /* when verified (drifted: fail) */
	char reasons[512];            /* the confidence: why inconclusive / what failed */
	size_t findings;              /* findings of severity >= medium at the last verification */
	int64_t started_ms, verified_ms, drifted_ms; /* superseded: verified_ms is when it was closed */
	size_t open_at_start;         /* findings (>= medium) still open when the epoch opened */
	size_t still_open;            /* of those, still open when it was verified: a failed remediation */
	char policy_digest[65];       /* policy_set_digest() of the policies it is judged by */
	uint64_t id;                  /* 1, 2, ... in the order records opened */
	uint64_t follows;             /* the record of the same epoch it re-verifies (policy change), or 0 */
	/* The hash chain (below): set when the record is sealed (verified,
	 * superseded, drifted); on the live record, its latest sealed copy's. */
	uint64_t seq;                 /* 1, 2, ... in its identity's chain */
	char prev_hash[65];           /* the identity's sealed record before it; EPOCH_CHAIN_GENESIS for the first */
	char hash[65];                /* epoch_record_digest() */
};

/* Remediation per identity: from a finding's first seen to its resolution
 * (gone from the current reach in a later verification: the edge is gone in
 * a later epoch, or it was declared). */
struct remediation_stats {
	char identity[512];
	size_t resolved, open;
	int64_t mean_time_to_remediate_ms; /* over resolved findings; 0 without any (shown n/a, never 0 s) */
	size_t upgrades_with_findings;     /* epochs that opened with findings open */
	size_t failed_remediations;        /* of those, verified with any of them still open */
};

struct epoch_tracker;

struct epoch_tracker *epoch_tracker_new(int64_t settle_ms);
void epoch_tracker_free(struct epoch_tracker *t);

/* Feeds one verification of every identity (verify_ledger's result): opens
 * records for new epochs, settles, verifies, marks drift. Returns the number
 * of records that changed state (each is logged by the caller). */
size_t epoch_tracker_update(struct epoch_tracker *t, const struct verify_result *r, int64_t now_ms,
			    void (*on_change)(void *ctx, const struct epoch_record *rec), void *ctx);

/* Called once for every new finding (>= medium) as verifications see it:
 * the alert event (the shipper delivers it once that stage exists). */
void epoch_tracker_on_new_finding(struct epoch_tracker *t, void (*fn)(void *ctx, const struct finding *f), void *ctx);

size_t epoch_tracker_records(const struct epoch_tracker *t, const struct epoch_record **out);

/* The latest record of each identity, counted by verdict (verified records)
 * and drift: what /metrics and health reports show. All 0 for a NULL t. */
struct epoch_verdict_counts {
	uint64_t pass, fail, inconclusive, drifted;
};
void epoch_tracker_count_verdicts(const struct epoch_tracker *t, struct epoch_verdict_counts *out);
/* Remediation stats for identity (zeros when unknown). */
void epoch_tracker_remediation(const struct epoch_tracker *t, const char *identity, struct remediation_stats *out);
/* The same for every identity with epoch records (only: that one alone, or
 * NULL), in the order of their first record, in one pass over the tracker
 * (one identity at a time scans everything: at 10k identities with a million
 * tracked findings that took minutes). The count, and *out to free(); 0 and
 * NULL when there is none or no memory. */
size_t epoch_tracker_remediation_all(const struct epoch_tracker *t, const char *only, struct remediation_stats **out);
/* The policies' digest from now on (policy_set_digest()). Records are
 * append-only: once verified, a record's verdict, findings and reasons do
 * not change (drift is the one later mark: state drifted). When the
 * policies change, an epoch whose record was verified under other policies
 * gets a new record (same identity and versions, follows = the old one's
 * id) that settles and is verified under the new ones; the old record
 * stays as it was. */
void epoch_tracker_set_policy_digest(struct epoch_tracker *t, const char *digest);

/* A finding id alerted before (by an earlier run of the agent): when the
 * tracker first sees it, it is followed as any other but the new-finding
 * callback is not called, so a restart does not alert it again. 0 or
 * -ENOMEM. */
int epoch_tracker_mark_alerted(struct epoch_tracker *t, const char *finding_id);

/* The hash chain. Each time a record is sealed (verified, superseded, or
 * marked drifted) a copy of it as it stands then is appended to its
 * identity's chain: seq one more than the identity's last, prev_hash that
 * one's hash, hash = epoch_record_digest(). A copy never changes, so a
 * record changed, removed or put in another order later breaks the chain,
 * and the copy that breaks it is named by epoch_chain_check(). The chain
 * lives with the tracker; the agent keeps it in a file and restores it at
 * start (epoch_tracker_restore_link), so it goes on across restarts. */
#define EPOCH_CHAIN_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/* SHA-256 (hex) over a canonical text of every field of r but hash:
 * "reach-verification-record/v1\n" then "NAME=LEN:VALUE\n" per field in a
 * fixed order (LEN: the value's bytes, so no value can fake a field
 * boundary). hex is "" when libcrypto fails. */
void epoch_record_digest(const struct epoch_record *r, char hex[65]);

/* Called with each link as it joins the chain (to keep it: the agent
 * appends it to its records file). */
void epoch_tracker_on_seal(struct epoch_tracker *t, void (*fn)(void *ctx, const struct epoch_record *link), void *ctx);

/* A link kept by an earlier run, appended to the chain as it was read (not
 * re-hashed: a link changed on disk stays visibly broken for
 * epoch_chain_check), so the identity's chain goes on from it across
 * restarts; record ids go on after the largest restored. 0 or -ENOMEM. */
int epoch_tracker_restore_link(struct epoch_tracker *t, const struct epoch_record *link);

/* The sealed copies of identity's chain, oldest first: the count, and *out
 * to free(); 0 and NULL when it has none (or no memory). */
size_t epoch_tracker_chain(const struct epoch_tracker *t, const char *identity, struct epoch_record **out);

/* Checks a chain as given (e.g. read back from an attestation): one
 * identity, seq 1, 2, ... from the genesis hash, each prev_hash the hash of
 * the one before, each hash its content's. head_seq/head_hash (0/NULL: not
 * checked) must name the last record: records cut off at the end. Writes
 * one line per problem to problems (NULL: none written), naming the record
 * ("record seq 3 (id 5, ns/sa v2, verified): ..."), and returns how many. */
size_t epoch_chain_check(const struct epoch_record *chain, size_t n, uint64_t head_seq, const char *head_hash,
			 FILE *problems);

/* A record as JSON (the fields of epoch_records_to_json plus seq,
 * prev_hash and hash), and back: 0, or -EINVAL with the field in err. */
struct json_object *epoch_record_to_json(const struct epoch_record *r);
int epoch_record_from_json(struct json_object *o, struct epoch_record *r, char *err, size_t err_size);

const char *epoch_state_name(enum epoch_state s);
/* "drifted" for a drifted record, else its verdict's name ("pass", ...). */
const char *epoch_verdict_name(const struct epoch_record *rec);
struct json_object *epoch_records_to_json(const struct epoch_tracker *t, const char *identity);

#endif
