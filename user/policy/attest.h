/* Signed verification evidence: an in-toto Statement (v1) about one
 * identity's verification, in a DSSE envelope signed with Ed25519
 * (common/dsse.h), for a release pipeline to keep as its proof.
 *
 *   payloadType  application/vnd.in-toto+json
 *   _type        https://in-toto.io/Statement/v1
 *   subject      [{"name": "IDENTITY@EPOCH", "digest": {"sha256": HEX},
 *                  "annotations": {"reach.dev/epoch": EPOCH,
 *                                  "reach.dev/digest-of": SUBJECT_OF}}]
 *                the epoch's image digest when the epoch is one (sha256:HEX,
 *                NAME@sha256:HEX), or the image a version declared on a
 *                pod ran (from the agent, as "artifact"): "image"; else the SHA-256 of the file
 *                the version ran, hashed by the agent (reach/artifact.h):
 *                the executable of the cgroup's root process, "executable",
 *                or an interpreted service's program file, "program";
 *                otherwise (no artifact known: an offline ledger, a
 *                version that has not run since the agent started, a file
 *                that could not be hashed) the SHA-256 of
 *                "reach-epoch\0IDENTITY\0EPOCH": "epoch-name", naming the
 *                version only.
 *   predicateType https://reach.dev/attestation/verification/v1
 *   predicate    {"identity", "epoch", "previous_epoch", "subject_of"
 *                 (SUBJECT_OF above), "artifact": {"sha256", "size"}
 *                 (executable/program only), "verdict",
 *                 "exit_code", "reasons", "findings": [...],
 *                 "findings_by_severity", "rotation": [...], "coverage",
 *                 "policy_digest": {"sha256"}, "ledger_digest": {"sha256"}
 *                 (absent when unknown), "ledger_source", "sensor":
 *                 {"name": "reach", "version"}, "verified_at",
 *                 "records": [the identity's hash chain, epochs.h],
 *                 "chain_head": {"seq", "sha256"} (null: no record yet),
 *                 "agents": (the cluster gate only) [{"agent", "node",
 *                 "ledger_digest": {"sha256"}, "records": that agent's
 *                 chain of the identity, "chain_head", "records_missing"
 *                 (why there is none: an agent older than /v1/records)}]}
 *
 * What is signed is the whole Statement: the verdict and findings, the
 * record chain, the ledger digest and the policy digest. */
#ifndef REACH_ATTEST_H
#define REACH_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "common/dsse.h"
#include "policy/epochs.h"

struct json_object;

#define ATTEST_PAYLOAD_TYPE "application/vnd.in-toto+json"
#define ATTEST_STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define ATTEST_PREDICATE_TYPE "https://reach.dev/attestation/verification/v1"

struct attest_input {
	const char *identity;
	struct json_object *report;        /* verify_result_report() of a verification of identity */
	struct json_object *coverage;      /* the identity's coverage record (reach document), or NULL */
	const struct epoch_record *chain;  /* the identity's hash chain (epoch_tracker_chain), or none */
	size_t n_chain;
	const char *policy_digest;         /* policy_set_digest() of the policies judged by */
	const char *ledger_digest;         /* hex SHA-256 of the ledger image judged, or NULL */
	const char *ledger_source;         /* "agent", "file" */
	const char *sensor_version;
	int64_t now_ms;
	/* the file the epoch ran, when the agent hashed it: "executable" or
	 * "program" and its hex SHA-256 (NULL: none; an image epoch's digest
	 * is its name's) */
	const char *artifact_of, *artifact_sha256;
	uint64_t artifact_size;
	/* the cluster gate (--agents): per agent {"agent", "node",
	 * "ledger_sha256", "records": the identity's chain there,
	 * "records_missing": why none}; NULL otherwise */
	struct json_object *agents;
};

/* The Statement: NULL with err on a report that does not hold the identity
 * (or -ENOMEM). */
struct json_object *attest_statement(const struct attest_input *in, char *err, size_t err_size);

/* The subject digest of an epoch (see above): *image true when the epoch
 * named an image digest. */
void attest_epoch_digest(const char *identity, const char *epoch, char hex[65], int *image);

/* What a verifier is asked to compare besides the signature and the chain. */
struct attest_expect {
	const char *policy_digest; /* of the policy files given, or NULL: not compared */
	const char *ledger_digest; /* of the ledger file given, or NULL */
};

#define ATTEST_OK 0
#define ATTEST_INVALID 1   /* signature, chain or a digest does not verify */
#define ATTEST_UNREADABLE 2 /* no envelope / no statement of this kind */

/* Checks an envelope with the public key: the signature, the Statement's
 * shape, the record chain (epoch_chain_check, each broken record named),
 * the chain head, and the digests of expect. Writes what it checked and
 * every problem, one per line, to out; returns ATTEST_OK, ATTEST_INVALID
 * or ATTEST_UNREADABLE. */
int attest_check(struct json_object *envelope, EVP_PKEY *public_key, const struct attest_expect *expect, FILE *out);

/* The agents' parts (attest_input.agents) before signing: true when one
 * agent's chain does not verify (each problem written to problems, naming
 * the agent and the record); an agent without a chain is said, not an
 * error. */
bool attest_agents_check(struct json_object *agents, FILE *problems);

/* The envelope of the last "reach-attestation {...}" line of a file (what
 * verify --attest - printed, kept in a Job's log), or NULL. */
struct json_object *attest_envelope_from_log(const char *path);

#endif
