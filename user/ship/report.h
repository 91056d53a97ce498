/* Shipped reports: reach.v1.Report bodies (proto/reach.proto) built from the
 * ledger, findings, verdicts and the agent's health. Pure encoding, no I/O
 * but the sequence file: the agent hands the bytes to a sink (sink.h), which
 * spools them before sending.
 *
 * Every report carries a ReportHeader: node, boot_id, a per-node seq that
 * increases across restarts (persisted in the state dir before a report
 * using it exists, so a crash never reuses one) and a random report_id, the
 * same on every retry of the spooled body: a receiver deduplicates by id and
 * sees a gap in seq when reports were lost (the agent counts those too).
 *
 * Deltas: report_reach() sends the edges that changed since its previous
 * call (count, last seen, sets, outcomes, epochs), or every edge when asked
 * for a full snapshot. Edges are whole, never increments, so a receiver
 * replaces its copy and a lost delta is repaired by the next snapshot. */
#ifndef REACH_REPORT_H
#define REACH_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "policy/epochs.h"
#include "policy/verify.h"
#include "reach/ledger.h"

struct report_seq;

/* Opens (or creates, 0600) the sequence file at path; the next seq is one
 * more than the stored one. 0 or negative errno with a message. */
int report_seq_open(struct report_seq **out, const char *path, char *err, size_t err_size);
/* Allocates the next seq and persists it (write, fsync, rename) before
 * returning it: 0 or negative errno (the seq is then not used). */
int report_seq_next(struct report_seq *s, uint64_t *seq);
uint64_t report_seq_last(const struct report_seq *s);
void report_seq_free(struct report_seq *s);

/* Who writes the reports. */
struct report_src {
	const char *node;
	const char *boot_id;
	const char *version;
	struct report_seq *seq;
};

/* /proc/sys/kernel/random/boot_id, or "" when unreadable. */
void report_boot_id(char *out, size_t n);

/* What report_reach() sent last, per edge. */
struct reach_delta;
struct reach_delta *reach_delta_new(void);
void reach_delta_free(struct reach_delta *d);
/* Forget what was sent (the next delta is every edge): after a delta could
 * not be spooled, so that nothing is skipped. */
void reach_delta_reset(struct reach_delta *d);

/* Encodes a ReachReport into *body (malloc'ed): every edge when full, else
 * the edges changed since the previous call. 0 with *body NULL when a delta
 * has nothing to say; negative errno on failure (the delta state is then
 * unchanged). *seq_out (may be NULL) gets the report's seq. */
int report_reach(const struct report_src *src, struct reach_delta *d, const struct ledger *l, bool full,
		 uint8_t **body, size_t *len, uint64_t *seq_out);

/* A finding opened (resolved false) or resolved. */
int report_finding(const struct report_src *src, const struct finding *f, bool resolved, int64_t resolved_ms,
		   uint8_t **body, size_t *len);

/* A verdict of the agent's own verification of an epoch (epochs.h), with
 * the findings (>= medium) and rotation list of that identity from r. */
int report_verification(const struct report_src *src, const struct epoch_record *rec, const struct verify_result *r,
			uint8_t **body, size_t *len);

/* The agent's health (AgentHealth). */
struct health_kv {
	const char *name;
	uint64_t value;
};
struct report_health_in {
	double uptime_s;
	const struct health_kv *events_by_kind, *losses_by_kind;
	size_t n_events_by_kind, n_losses_by_kind;
	uint64_t identities, edges, tls_blind_processes;
	bool hooks_missing;
	uint64_t spool_depth, reports_sent, reports_failed, reports_dropped;
	int64_t last_ship_unix_ms;
};
int report_health(const struct report_src *src, const struct report_health_in *h, uint8_t **body, size_t *len);

#endif
