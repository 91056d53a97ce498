/* Verification: the observed reach ledger diffed against the declared
 * ReachPolicy set, per identity, into findings, a verdict and a rotation
 * list; plus a least-privilege policy suggested from observed reach and a
 * diff of two ledgers.
 *
 * Which edges are judged. Per identity the verifier first finds its epochs
 * (software version windows) from its edges' epoch lists (ledger.h: every
 * epoch an edge was seen in):
 *   history         the identity's epochs in the order they began (the
 *                   earliest sighting of any of its edges in each).
 *   current epoch   the most common non-empty last_epoch among the edges
 *                   last seen in the latest 10 % of the identity's observed
 *                   time span (ties: the one seen last, then strcmp); ""
 *                   when no edge has an epoch (host identities); or the
 *                   epoch asked for (opts->epoch: a name, or -N: N places
 *                   before the current one in the history).
 *   previous epoch  the one before the current epoch in the history; ""
 *                   when none. So an older epoch's previous is the one
 *                   before it, never a later one.
 * The identity's current reach is every edge seen in the current epoch,
 * plus edges of no known epoch. Only current reach is judged against the
 * policy. Between the previous and the current epoch, growth and shrinkage
 * are exact: an edge seen in both is neither; an edge in the current only
 * grew; an edge in the previous only shrank (reach-shrank, info: the patch
 * removed it, which is how a finding gets resolved). An edge seen in
 * neither (an older epoch's) is not judged. Where an edge's list lost old
 * epochs to its "earlier" bucket, whether it was seen in such an old epoch
 * is unknown: no growth or shrinkage is claimed.
 * DNS edges are never judged (no rule type; ledger_diff shows them).
 *
 * Findings, for an identity with a policy (edges of current reach):
 *   undeclared-secret          secret edge matched by no secret rule and no
 *                              unexpired exception: medium; high when its
 *                              category is k8s-sa-token, kubeconfig,
 *                              aws-credentials, gcp-credentials or
 *                              azure-credentials.
 *   undeclared-egress          egress edge not declared: medium.
 *   undeclared-credential-use  credential edge not declared: medium.
 *   unusual-tool               tool edge (an exec) not declared: medium.
 *   cloud-metadata-access      high, instead of undeclared-egress /
 *                              undeclared-credential-use, for an egress
 *                              edge of dest_class "cloud-metadata" or a
 *                              credential edge of dest_class
 *                              "cloud-metadata-credentials", unless a rule
 *                              or exception covers it EXPLICITLY: an egress
 *                              rule naming the host without "*" or a CIDR
 *                              of at least /16 (IPv4) or /64 (IPv6); a
 *                              credential rule with path templates. A broad
 *                              rule (0.0.0.0/0, 10.0.0.0/8, "*.internal", a
 *                              credential rule for any path) does not.
 *   apiserver-secret-read      high, instead of undeclared-credential-use,
 *                              for a credential edge of dest_class
 *                              "kube-secrets" unless a credential rule or
 *                              exception with path templates matches it.
 *   exception-expired          medium, one per exception whose expires is
 *                              before now (0 = never expires), whether or
 *                              not an edge matches it: an expired exception
 *                              covers nothing and must be renewed or removed.
 *   reach-grew                 info, for each current edge not seen in the
 *                              previous epoch (the identity has one); IN ADDITION to any other
 *                              finding of that edge, which carries the
 *                              severity (growth within the policy is no
 *                              failure; growth outside it fails through its
 *                              undeclared finding, whose message also says
 *                              "new in this epoch").
 *   reach-shrank               info, for each edge seen in the previous
 *                              epoch and not in the current one.
 *   unused-declared            low (advice), for each rule and unexpired
 *                              exception that no edge of its type last seen
 *                              within unused_after_ms matched. Not reported
 *                              for an identity with fewer than min_edges
 *                              current edges (nothing to judge by).
 *   secret-sent                a credential edge whose fingerprint is the
 *                              content fingerprint of a secret file the
 *                              identity read (the file held that token): the
 *                              secret left the process. High when that
 *                              credential use is undeclared (or there is no
 *                              policy), info when declared. Object: the
 *                              credential edge's; message names the file.
 *   sensor-blind               high, per judged identity, when the sensor's
 *                              picture of IT is incomplete: object
 *                              "events-lost" (losses that are gaps in its
 *                              coverage record, reach/coverage.h, or in
 *                              the ledger's node-wide record, or
 *                              health.events_lost: an attacker can flood
 *                              events to hide) or "hooks-missing"; the
 *                              message gives the counts. The verdict is
 *                              inconclusive anyway; the finding makes the
 *                              blindness alert like any other finding.
 * Identities without a policy are audited: cloud-metadata-access, sensor-blind,
 * apiserver-secret-read, secret-sent, reach-grew and reach-shrank only (nothing was
 * declared, so nothing is "undeclared").
 *
 * Finding ids are the first 16 hex digits of SHA-256 over kind name,
 * identity, edge kind and object (NUL separated): stable across runs,
 * policy edits and line moves. For exception-expired and unused-declared the
 * edge kind is the rule's type and the object the rule's canonical text
 * (see policy_rule_describe()).
 *
 * Verdict per identity, in this order:
 *   inconclusive  never pass on incomplete data: gaps in the identity's
 *                 coverage records of the epoch judged and of unknown
 *                 epoch (losses of its cgroups, blind roads such as
 *                 tls-blind, missing hooks: named in the reason), gaps
 *                 in the ledger's node-wide record (losses no identity can
 *                 be named for: every identity), health.events_lost > 0,
 *                 health.tls_blind_processes > 0, health.hooks_missing, the
 *                 ledger refused edges of the identity or identities
 *                 (caps), fewer than min_edges edges of current reach, or no
 *                 policy. Every reason that applies is listed in reasons,
 *                 with the count of findings >= medium when there are some.
 *   fail          a finding of severity >= medium.
 *   pass          otherwise.
 * Which verdicts count for the overall one: with opts->identity NULL, the
 * identities with a policy (in the ledger or not); identities without one
 * are listed as audit-only (has_policy false, inconclusive "no policy")
 * and do not count, so a node-wide verify checks what was declared. When
 * nothing counts (no policy at all) the overall verdict is inconclusive.
 * With opts->identity set, that identity alone, policy or not (no policy:
 * inconclusive, exit 2: could not verify).
 * Overall: fail if any counted verdict fails, else inconclusive if any is
 * inconclusive (or none counted), else pass. verify_exit_code(): 1 fail,
 * 2 inconclusive, 0 pass.
 *
 * Rotation list, for each identity with a previous epoch: secret files
 * first read in an earlier epoch ("secret-file", the path), credentials
 * with a fingerprint first sent in an earlier epoch ("credential",
 * "HOST KIND fp:FP"), cloud metadata credential requests of an earlier
 * epoch ("cloud-metadata", "HOST PATH_TEMPLATE"; an earlier-epoch egress
 * edge to the metadata endpoint whose request was not seen gives its
 * object). Duplicates are listed once. */
#ifndef REACH_VERIFY_H
#define REACH_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "policy/policy.h"
#include "reach/edge_fields.h"
#include "reach/ledger.h"
#include "reach/netclass.h"

#define VERIFY_DEFAULT_UNUSED_AFTER_MS (30LL * 24 * 3600 * 1000)

enum finding_kind {
	FINDING_UNDECLARED_SECRET,
	FINDING_UNDECLARED_EGRESS,
	FINDING_UNDECLARED_CREDENTIAL,
	FINDING_UNUSUAL_TOOL,
	FINDING_CLOUD_METADATA_ACCESS,
	FINDING_APISERVER_SECRET_READ,
	FINDING_EXCEPTION_EXPIRED,
	FINDING_REACH_GREW,
	FINDING_REACH_SHRANK,
	FINDING_UNUSED_DECLARED,
	FINDING_SECRET_SENT,
	FINDING_SENSOR_BLIND,
	FINDING_UNUSUAL_MCP_TOOL, /* an MCP tools/call no spec.mcp rule allows (issue #18) */
	FINDING_UNDECLARED_LLM_MODEL, /* an LLM API call no spec.llm rule allows (issue #18) */
	FINDING__MAX
};

enum severity { SEV_INFO, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };

/* Strings are never NULL ("" when none) and read-only: they live in the
 * verify_result that holds the finding (a million findings pay for the
 * bytes they use, not for the longest each field may be), or in the copy
 * finding_dup() made. Lengths are bounded as noted (bytes, NUL included). */
struct finding {
	enum finding_kind kind;
	enum severity severity;
	char id[17];            /* stable: hash of kind+identity+edge kind+object */
	const char *identity;   /* <= 512 */
	const char *edge_kind;  /* "secret", "egress", "credential", "tool"; <= 16 */
	const char *object;     /* <= 1024 */
	int64_t first_ms, last_ms; /* of the edge (0: none / unknown) */
	const char *executables; /* comma list, "+N" at the end when cut; <= 256 */
	const char *message;    /* <= 512 */
	const char *policy_ref; /* FILE:LINE of the rule/exception/policy, or ""; <= 300 */
};

/* A copy of f holding its own strings, in one allocation: free() it. NULL
 * on allocation failure. */
struct finding *finding_dup(const struct finding *f);

enum verdict { VERDICT_PASS, VERDICT_FAIL, VERDICT_INCONCLUSIVE };

/* Node-wide blindness the caller knows besides the ledger's coverage
 * records; any of it makes every identity inconclusive. The agent passes
 * nothing here any more: its losses, tls-blind roads and hooks travel in
 * the ledger, so a saved ledger is judged like the live one. */
struct verify_input_health {
	uint64_t events_lost;
	uint64_t tls_blind_processes;
	bool hooks_missing;
};

struct verify_opts {
	int64_t now_ms;          /* 0: the current time */
	int64_t unused_after_ms; /* 0: VERIFY_DEFAULT_UNUSED_AFTER_MS (30 days) */
	const char *identity;    /* NULL = all with a policy, plus unknown identities as audit */
	struct verify_input_health health;
	uint64_t min_edges;      /* less observed than this: inconclusive; 0 = default 1 */
	/* The default for identities without a policy: false = audit (listed,
	 * not counted); true = alert: judged against an empty policy, so every
	 * edge is undeclared, and counted in the overall verdict. */
	bool alert_without_policy;
	/* Verify this epoch instead of the current one (reachctl verify
	 * --epoch): a version name, or -N for N versions before the current
	 * one in the identity's history; its edges are then "current reach"
	 * and the epoch before it is "previous". NULL, "" or "current" =
	 * automatic. */
	const char *epoch;
	/* Compare with this epoch instead of the one before (reachctl verify
	 * --since): a version name, or -N counted from the identity's current
	 * epoch like --epoch; any epoch of its history but the one judged, so
	 * grew/shrank are exact between any pair. NULL or "" = the previous.
	 * The rotation list stays "earlier than the epoch judged". */
	const char *since;
};

struct rotation_item {
	char kind[32];    /* "secret-file", "credential", "cloud-metadata" */
	char what[1024];  /* path, "host kind fp:...", "host metadata-path" */
	char why[256];
};

struct identity_verdict {
	char identity[512];
	enum verdict verdict;
	char reasons[512];       /* why inconclusive / fail summary; "" for pass */
	char epoch[512], previous_epoch[512];
	bool since;              /* previous_epoch is the one --since asked for */
	size_t n_findings_by_sev[5];
	struct rotation_item *rotation;
	size_t n_rotation;
	bool has_policy;
	bool counted;            /* part of the overall verdict (see above) */
	char policy_ref[300];    /* FILE:LINE of the policy document, or "" */
	size_t n_edges;          /* edges of current reach (the min_edges count) */
};

struct verify_result {
	struct finding *findings;      /* by identity, then severity (worst first), kind, edge kind, object */
	size_t n_findings;
	struct identity_verdict *verdicts; /* by identity name */
	size_t n_verdicts;
	enum verdict overall;
	struct finding_text *text; /* verify.c's: where the findings' strings live */
	char error[600];           /* why verify_ledger() refused (-EINVAL, -ENOENT), "" otherwise */
};

/* 0; -EINVAL (NULL l, policies or out; an epoch spec that is no name and
 * no -N, such as "1"); -ENOENT (the epoch asked for is not the identity's,
 * or, without an identity, no identity's); -ENOMEM (out then empty). On
 * -EINVAL/-ENOENT out->error says why, naming the closest known epochs.
 * opts NULL means all defaults. *out is always initialised. */
int verify_ledger(const struct ledger *l, const struct policy_set *policies, const struct verify_opts *opts,
		  struct verify_result *out);
void verify_result_free(struct verify_result *r); /* leaves it empty; accepts an empty one */

/* {"verdict":"fail","exit_code":1,
 *  "identities":[{"identity","verdict","reasons","epoch","previous_epoch",
 *                 "has_policy","counted","policy","edges",
 *                 "findings_by_severity":{"info":N,...,"critical":N},
 *                 "rotation":[{"kind","what","why"}]}],
 *  "findings":[{"id","kind","severity","identity","edge_kind","object",
 *               "first_seen_ms","last_seen_ms","first_seen","last_seen",
 *               "executables":[...],"message","policy_ref"}],
 *  "counts":{"findings":N,"pass":N,"fail":N,"inconclusive":N}}
 * Unknown times, empty epochs and refs are null. NULL on ENOMEM. */
struct json_object *verify_result_to_json(const struct verify_result *r);

/* For a CI log: the first line is "verify: PASS|FAIL|INCONCLUSIVE" alone,
 * then the counts, then per identity ("NS/SA: FAIL  policy FILE:LINE") its
 * reasons, epochs, findings (worst first) and rotation list. */
void verify_result_print_text(FILE *f, const struct verify_result *r);

int verify_exit_code(const struct verify_result *r); /* 0 pass, 1 fail, 2 inconclusive */

/* An --epoch value: true for "-N" (N in *back, may be NULL). */
bool verify_epoch_spec_is_relative(const char *spec, unsigned *back);
/* 0 when spec can name an epoch ("current", a name, "-N"); -EINVAL with the
 * reason in err for a bare number ("1": not a name, -1 was meant). */
int verify_epoch_spec_check(const char *spec, char *err, size_t err_size);

/* verify_result_to_json() plus "text": verify_result_print_text()'s output,
 * the one document reachd answers and reachctl prints. NULL on ENOMEM. */
struct json_object *verify_result_report(const struct verify_result *r);

/* "undeclared-secret", "undeclared-egress", "undeclared-credential-use",
 * "unusual-tool", "cloud-metadata-access", "apiserver-secret-read",
 * "exception-expired", "reach-grew", "reach-shrank", "unused-declared";
 * "unknown" otherwise. */
const char *finding_kind_name(enum finding_kind k);
const char *severity_name(enum severity s);  /* "info" .. "critical" */
int severity_from_name(const char *name);    /* enum severity, or -1 */
const char *verdict_name(enum verdict v);    /* "pass", "fail", "inconclusive" */

/* A rule's canonical text: the glob of a secret or tool rule;
 * "host=H|cidr=C ports=P,Q|any proto=tcp|any" for egress;
 * "host=H kinds=a,b|any paths=p,q|any fingerprints=f|any" for credentials. */
void policy_rule_describe(const struct policy_rule *rule, char *out, size_t out_size);

/* SHA-256 (64 hex digits + NUL into hex) of what a policy set declares, in
 * a canonical form: per policy (in set order) its identity, then each rule
 * (policy_rule_describe()) and exception (rule, expiry, reason). The same
 * declarations give the same digest whatever the files' layout; any change
 * to what is declared gives another. What a verification record names as
 * the policy it was judged by. */
void policy_set_digest(const struct policy_set *set, char hex[65]);

/* Edge objects as the agent writes them: credentials in reach/edge_fields.h. */
/* "tcp/ADDR/PORT", "udp/ADDR/PORT": 0 or -EINVAL. proto: 8 bytes. */
int egress_object_parse(const char *object, char *proto, struct netaddr *addr, uint16_t *port);

#endif
