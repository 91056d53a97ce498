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
#include "policy/verify.h"

enum epoch_state { EPOCH_SETTLING, EPOCH_VERIFIED, EPOCH_DRIFTED };

struct epoch_record {
	char identity[512];
	char from_version[512], to_version[512];
	enum epoch_state state;
	enum verdict verdict;         /* when verified (drifted: fail) */
	char reasons[512];            /* the confidence: why inconclusive / what failed */
	size_t findings;              /* findings of severity >= medium at the last verification */
	int64_t started_ms, verified_ms, drifted_ms;
};

struct epoch_tracker;

struct epoch_tracker *epoch_tracker_new(int64_t settle_ms);
void epoch_tracker_free(struct epoch_tracker *t);

/* Feeds one verification of every identity (verify_ledger's result): opens
 * records for new epochs, settles, verifies, marks drift. Returns the number
 * of records that changed state (each is logged by the caller). */
size_t epoch_tracker_update(struct epoch_tracker *t, const struct verify_result *r, int64_t now_ms,
			    void (*on_change)(void *ctx, const struct epoch_record *rec), void *ctx);

size_t epoch_tracker_records(const struct epoch_tracker *t, const struct epoch_record **out);
const char *epoch_state_name(enum epoch_state s);
struct json_object *epoch_records_to_json(const struct epoch_tracker *t, const char *identity);

#endif
