/* Alert state for Alertmanager (API v2) and a generic webhook: which alerts
 * fire, and the JSON to POST for them. Pure logic with an injected clock;
 * the agent does the HTTP and reports the outcome with alerts_sent().
 *
 * Alerts:
 *   ReachFinding       one per finding id of severity >= min_severity, from
 *                      alerts_finding_opened() until alerts_finding_resolved().
 *   ReachVerification  one per identity while its verdict is fail, drifted
 *                      or inconclusive; pass resolves it. Its labels carry
 *                      the verdict, so a change (inconclusive -> fail)
 *                      resolves the old alert and opens a new one:
 *                      Alertmanager tells alerts apart by their label set.
 *   ReachAlertsSuppressed  one per identity while its new finding alerts
 *                      are refused by the rate limit (below); resolved once
 *                      none was refused for window_ms.
 *
 * Labels (an empty one is left out): alertname, identity, namespace and
 * serviceaccount (a "ns/sa" identity only: host/ and unknown/ identities
 * have neither), node, severity (the finding's; verdicts: high for fail
 * and drifted, medium for inconclusive; the suppression alert: warning),
 * kind and finding_id (findings), verdict (verdicts). Annotations: summary
 * (a sentence) and, for findings, edge ("<edge_kind> <object>"), plus
 * executables and policy when known; verdicts: reasons and version when
 * set; the suppression alert: suppressed (the count refused while it fires).
 * Nothing else is copied from a finding: its object holds a keyed
 * fingerprint at most, never a credential.
 *
 * Alertmanager: every active alert is re-sent every resend_interval_ms
 * with endsAt = now + resolve_timeout_ms, so the alerts of an agent that
 * died expire on their own; a resolved alert is sent with endsAt = the
 * time it was resolved on the next ALERTS_RESOLVED_SENDS successful sends,
 * then forgotten. A new or resolved alert makes a send due at once.
 * Webhook: edge-triggered, only alerts whose state (firing / resolved)
 * changed since the last successful webhook send.
 * A failed send leaves the same alerts due: they go again on the next
 * alerts_due(), nothing is lost.
 *
 * Rate limit: a token bucket per identity (burst, refill_per_window per
 * window_ms) charged for every finding alert that opens (a new finding, or
 * one resolved and found again). A refused alert is not opened, only
 * counted, once per finding id until it resolves: reported again, it opens
 * when the bucket has a token again. Verdict alerts are never limited:
 * there is one per identity. */
#ifndef REACH_ALERTS_H
#define REACH_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "policy/verify.h"

struct json_object;

#define ALERTS_RESOLVED_SENDS 2

struct alerts_config {
	enum severity min_severity;  /* findings below it never alert */
	int64_t resend_interval_ms;  /* <= 0: 60 s */
	int64_t resolve_timeout_ms;  /* <= 0: 5 min */
	uint32_t burst;              /* 0: 10 */
	uint32_t refill_per_window;  /* 0: 10 */
	int64_t window_ms;           /* <= 0: 10 min */
	const char *generator_url;   /* NULL or "": no generatorURL (copied) */
};

/* The defaults above, with min_severity SEV_MEDIUM. */
void alerts_config_default(struct alerts_config *c);

struct alerts;

/* cfg NULL: defaults. node: the node name for labels and the webhook body
 * (copied; NULL: ""). NULL on ENOMEM. */
struct alerts *alerts_new(const struct alerts_config *cfg, const char *node);
void alerts_free(struct alerts *a); /* accepts NULL */

/* alerts_finding_opened() results. */
enum {
	ALERTS_OPENED = 0,     /* a new alert (or already firing: updated) */
	ALERTS_IGNORED = 1,    /* below min_severity */
	ALERTS_SUPPRESSED = 2, /* refused by the identity's rate limit */
};

/* node NULL: the node given to alerts_new(). ALERTS_* or -EINVAL / -ENOMEM. */
int alerts_finding_opened(struct alerts *a, const struct finding *f, const char *node, int64_t now_ms);
/* 0; -ENOENT when no alert fires for that id (never opened, suppressed or
 * already resolved: nothing to do). */
int alerts_finding_resolved(struct alerts *a, const char *finding_id, int64_t now_ms);

/* verdict: "pass", "fail", "drifted" or "inconclusive" (else -EINVAL);
 * reasons and version may be NULL. 0 or -ENOMEM. */
int alerts_verdict(struct alerts *a, const char *identity, const char *verdict, const char *reasons,
		   const char *version, int64_t now_ms);

/* What to POST now: *alertmanager_body a JSON array of postable alerts,
 * *webhook_body {"version":"reach.v1","node","alerts":[{status, labels,
 * annotations, startsAt, endsAt}]} (endsAt null while firing); each NULL
 * when nothing is due for it (the caller puts what it gets). Pass NULL for
 * a target that is not configured: it is then never waited for. Times are
 * RFC 3339 UTC with milliseconds. Then call alerts_sent(). 0 or -ENOMEM
 * (both NULL). */
int alerts_due(struct alerts *a, int64_t now_ms, struct json_object **alertmanager_body,
	       struct json_object **webhook_body);

/* The outcome of posting what the last alerts_due() returned (a flag for a
 * target that got nothing is ignored). Success restarts the resend clock;
 * failure leaves the alerts due. Alerts opened or resolved between
 * alerts_due() and alerts_sent() stay due either way. */
void alerts_sent(struct alerts *a, bool alertmanager_ok, bool webhook_ok, int64_t now_ms);

struct alerts_stats {
	uint64_t active;            /* firing alerts of every kind */
	uint64_t sent_ok;           /* successful POSTs (both targets) */
	uint64_t send_failed;       /* failed POSTs */
	uint64_t suppressed_total;  /* finding alerts refused by the rate limit */
};
void alerts_stats(const struct alerts *a, struct alerts_stats *out);

/* Calls cb for each identity with suppressed > 0 (since start), in
 * identity order. */
void alerts_suppressed_by_identity(const struct alerts *a,
				   void (*cb)(void *ctx, const char *identity, uint64_t suppressed), void *ctx);

#endif
