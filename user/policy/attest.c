/* In-toto Statements about verifications, and their check (attest.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include "common/hex.h"
#include "common/json.h"
#include "policy/attest.h"

/* "sha256:HEX" anywhere in the epoch (an image digest, NAME@sha256:HEX). */
static bool image_digest(const char *epoch, char hex[65])
{
	const char *at = strstr(epoch, "sha256:");

	if (!at)
		return false;
	at += 7;
	for (int i = 0; i < 64; i++)
		if (hex_digit_value((unsigned char)at[i]) < 0)
			return false;
	if (hex_digit_value((unsigned char)at[64]) >= 0)
		return false;
	for (int i = 0; i < 64; i++)
		hex[i] = (char)(at[i] >= 'A' && at[i] <= 'F' ? at[i] - 'A' + 'a' : at[i]);
	hex[64] = '\0';
	return true;
}

void attest_epoch_digest(const char *identity, const char *epoch, char hex[65], int *image)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *ctx;

	if ((*image = image_digest(epoch, hex)))
		return;
	/* no artifact digest is known: the epoch's name, bound to its identity,
	 * and the subject's annotations say that is what it is */
	hex[0] = '\0';
	ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, "reach-epoch", 12) &&
	    EVP_DigestUpdate(ctx, identity, strlen(identity) + 1) && EVP_DigestUpdate(ctx, epoch, strlen(epoch)) &&
	    EVP_DigestFinal_ex(ctx, md, &len) && len == 32)
		hex_encode(md, len, hex);
	EVP_MD_CTX_free(ctx);
}

static json_object *digest_set(const char *hex)
{
	json_object *d = json_object_new_object();

	json_add_str(d, "sha256", hex);
	return d;
}

json_object *attest_statement(const struct attest_input *in, char *err, size_t err_size)
{
	json_object *ids = json_get(in->report, "identities", json_type_array);
	json_object *findings = json_get(in->report, "findings", json_type_array);
	json_object *v = NULL, *st, *subj, *s, *ann, *pred, *arr, *x;
	const char *epoch, *verdict, *subject_of;
	char hex[65];
	int image = 0;
	bool artifact = false;

	for (size_t i = 0; ids && i < json_object_array_length(ids); i++) {
		json_object *c = json_object_array_get_idx(ids, i);

		if (!strcmp(json_get_str(c, "identity", ""), in->identity))
			v = c;
	}
	if (!v) {
		snprintf(err, err_size, "the verification holds no verdict for %s: nothing to attest", in->identity);
		return NULL;
	}
	epoch = json_get_str(v, "epoch", "");
	verdict = json_get_str(v, "verdict", "inconclusive");
	attest_epoch_digest(in->identity, epoch, hex, &image);
	if (!image && in->artifact_sha256 && strlen(in->artifact_sha256) == 64 && in->artifact_of &&
	    (!strcmp(in->artifact_of, "executable") || !strcmp(in->artifact_of, "program") ||
	     !strcmp(in->artifact_of, "image"))) {
		/* the bytes the version ran, rather than its name */
		snprintf(hex, sizeof(hex), "%s", in->artifact_sha256);
		artifact = true;
	}
	subject_of = image ? "image" : artifact ? in->artifact_of : "epoch-name";

	st = json_object_new_object();
	json_add_str(st, "_type", ATTEST_STATEMENT_TYPE);
	subj = json_object_new_array();
	s = json_object_new_object();
	{
		char name[1100];

		snprintf(name, sizeof(name), "%s@%s", in->identity, epoch[0] ? epoch : "-");
		json_add_str(s, "name", name);
	}
	json_add(s, "digest", digest_set(hex));
	ann = json_object_new_object();
	json_add_str(ann, "reach.dev/epoch", epoch);
	json_add_str(ann, "reach.dev/digest-of", subject_of);
	json_add(s, "annotations", ann);
	json_object_array_add(subj, s);
	json_add(st, "subject", subj);
	json_add_str(st, "predicateType", ATTEST_PREDICATE_TYPE);

	pred = json_object_new_object();
	json_add_str(pred, "identity", in->identity);
	json_add_str(pred, "epoch", epoch);
	json_add_str(pred, "previous_epoch", json_get_str(v, "previous_epoch", ""));
	json_add_str(pred, "subject_of", subject_of);
	if (artifact) {
		x = json_object_new_object();
		json_add_str(x, "sha256", hex);
		if (in->artifact_size) /* a file hashed here; an image's digest has none */
			json_add_u64(x, "size", in->artifact_size);
		json_add(pred, "artifact", x);
	}
	json_add_str(pred, "verdict", verdict);
	json_add_int(pred, "exit_code", !strcmp(verdict, "pass") ? 0 : !strcmp(verdict, "fail") ? 1 : 2);
	json_add_str(pred, "reasons", json_get_str(v, "reasons", ""));
	arr = json_object_new_array();
	for (size_t i = 0; findings && i < json_object_array_length(findings); i++) {
		json_object *f = json_object_array_get_idx(findings, i);

		if (!strcmp(json_get_str(f, "identity", ""), in->identity))
			json_object_array_add(arr, json_copy(f));
	}
	json_add(pred, "findings", arr);
	if ((x = json_get(v, "findings_by_severity", json_type_object)))
		json_add(pred, "findings_by_severity", json_copy(x));
	x = json_get(v, "rotation", json_type_array);
	json_add(pred, "rotation", x ? json_copy(x) : json_object_new_array());
	json_add(pred, "coverage", in->coverage ? json_copy(in->coverage) : NULL);
	json_add(pred, "policy_digest", digest_set(in->policy_digest ? in->policy_digest : ""));
	if (in->ledger_digest && in->ledger_digest[0])
		json_add(pred, "ledger_digest", digest_set(in->ledger_digest));
	json_add_str(pred, "ledger_source", in->ledger_source ? in->ledger_source : "");
	x = json_object_new_object();
	json_add_str(x, "name", "reach");
	json_add_str(x, "version", in->sensor_version ? in->sensor_version : "");
	json_add(pred, "sensor", x);
	json_add(pred, "verified_at", json_new_time_ms(in->now_ms));
	arr = json_object_new_array();
	for (size_t i = 0; i < in->n_chain; i++)
		json_object_array_add(arr, epoch_record_to_json(&in->chain[i]));
	json_add(pred, "records", arr);
	if (in->n_chain) {
		x = json_object_new_object();
		json_add_u64(x, "seq", in->chain[in->n_chain - 1].seq);
		json_add_str(x, "sha256", in->chain[in->n_chain - 1].hash);
		json_add(pred, "chain_head", x);
	} else {
		json_add(pred, "chain_head", NULL);
	}
	if (in->agents) {
		/* each node keeps its own chain: each is attested as its agent
		 * served it, beside the digest of the ledger it served */
		json_object *agents = json_object_new_array();

		for (size_t i = 0; i < json_object_array_length(in->agents); i++) {
			json_object *g = json_object_array_get_idx(in->agents, i), *e = json_object_new_object(), *recs;
			size_t n;

			json_add_str(e, "agent", json_get_str(g, "agent", ""));
			json_add_str(e, "node", json_get_str(g, "node", ""));
			if (json_get_str(g, "ledger_sha256", NULL))
				json_add(e, "ledger_digest", digest_set(json_get_str(g, "ledger_sha256", "")));
			recs = json_get(g, "records", json_type_array);
			n = recs ? json_object_array_length(recs) : 0;
			json_add(e, "records", recs ? json_copy(recs) : json_object_new_array());
			if (n) {
				json_object *last = json_object_array_get_idx(recs, n - 1);

				x = json_object_new_object();
				json_add_u64(x, "seq", (uint64_t)json_get_int(last, "seq", 0));
				json_add_str(x, "sha256", json_get_str(last, "hash", ""));
				json_add(e, "chain_head", x);
			} else {
				json_add(e, "chain_head", NULL);
			}
			if (json_get_str(g, "records_missing", NULL))
				json_add_str(e, "records_missing", json_get_str(g, "records_missing", ""));
			json_object_array_add(agents, e);
		}
		json_add(pred, "agents", agents);
	}
	json_add(st, "predicate", pred);
	return st;
}

/* ---- the check ---------------------------------------------------------- */

static const char *digest_of(json_object *pred, const char *key)
{
	json_object *d = json_get(pred, key, json_type_object);

	return d ? json_get_str(d, "sha256", NULL) : NULL;
}

/* The chain of the predicate: its records parsed and checked; problems
 * counted into *bad. */
static void check_chain(json_object *pred, FILE *out, size_t *bad)
{
	json_object *recs = json_get(pred, "records", json_type_array), *head = json_get(pred, "chain_head", json_type_object);
	size_t n = recs ? json_object_array_length(recs) : 0, bad_before = *bad;
	struct epoch_record *chain = n ? calloc(n, sizeof(*chain)) : NULL;
	const char *identity = json_get_str(pred, "identity", "");
	char err[256];

	if (!recs) {
		fprintf(out, "  problem: the predicate has no records list\n");
		(*bad)++;
		return;
	}
	if (n && !chain) {
		fprintf(out, "  problem: out of memory reading %zu records\n", n);
		(*bad)++;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (epoch_record_from_json(json_object_array_get_idx(recs, i), &chain[i], err, sizeof(err))) {
			fprintf(out, "  problem: record %zu of the list is unreadable: %s\n", i + 1, err);
			(*bad)++;
		}
	if (*bad == bad_before && n) {
		char *text = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&text, &len);

		if (mem) {
			*bad += epoch_chain_check(chain, n, head ? (uint64_t)json_get_int(head, "seq", 0) : 0,
						  head ? json_get_str(head, "sha256", "") : "", mem);
			fclose(mem);
			for (char *line = text, *end; line && *line; line = end) {
				end = strchr(line, '\n');
				if (end)
					*end++ = '\0';
				fprintf(out, "  problem: %s\n", line);
			}
			free(text);
		} else {
			(*bad)++;
			fprintf(out, "  problem: out of memory checking the chain\n");
		}
		if (strcmp(chain[0].identity, identity)) {
			fprintf(out, "  problem: the records are %s's, the statement is about %s\n", chain[0].identity,
				identity);
			(*bad)++;
		}
	} else if (!n && head) {
		fprintf(out, "  problem: the attestation names a chain head but holds no records: they were removed\n");
		(*bad)++;
	}
	if (*bad == bad_before && n)
		fprintf(out, "  records: %zu in the chain of %s, linked from the first, each hash matches; head %s\n", n,
			identity, chain[n - 1].hash);
	else if (*bad == bad_before)
		fprintf(out, "  records: none (made from %s, or before any record of %s was sealed)\n",
			strcmp(json_get_str(pred, "ledger_source", ""), "agent") ? "ledgers, not an agent" : "an agent",
			identity);
	free(chain);
}

int attest_check(json_object *envelope, EVP_PKEY *key, const struct attest_expect *expect, FILE *out)
{
	struct dsse_opened o;
	json_object *st = NULL, *pred, *subj;
	char err[256];
	size_t bad = 0;
	const char *got;
	int rc = ATTEST_UNREADABLE;

	if (dsse_open(envelope, key, &o, err, sizeof(err))) {
		fprintf(out, "  unreadable: %s\n", err);
		return ATTEST_UNREADABLE;
	}
	if (o.signature_ok) {
		fprintf(out, "  signature: verifies with the key (ed25519, keyid %s)\n", o.keyid);
	} else {
		fprintf(out, "  problem: signature: %s\n",
			!o.n_signatures	 ? "the envelope holds no signature"
			: o.keyid_listed ? "does not verify with the key: the payload or the signature was changed"
					 : "does not verify with the key: signed by another key (its keyid is not listed) "
					   "or changed");
		bad++;
	}
	if (strcmp(o.type, ATTEST_PAYLOAD_TYPE)) {
		fprintf(out, "  unreadable: payload type '%.100s', not %s\n", o.type, ATTEST_PAYLOAD_TYPE);
		goto out;
	}
	st = json_tokener_parse((const char *)o.body);
	pred = st ? json_get(st, "predicate", json_type_object) : NULL;
	subj = st ? json_get(st, "subject", json_type_array) : NULL;
	if (!pred || !subj || strcmp(json_get_str(st, "_type", ""), ATTEST_STATEMENT_TYPE) ||
	    strcmp(json_get_str(st, "predicateType", ""), ATTEST_PREDICATE_TYPE)) {
		fprintf(out, "  unreadable: the payload is not an in-toto Statement v1 with a reach verification predicate\n");
		goto out;
	}
	rc = ATTEST_INVALID;
	fprintf(out, "  statement: %s epoch %s: %s (exit %" PRId64 "), %zu findings\n", json_get_str(pred, "identity", "?"),
		*json_get_str(pred, "epoch", "") ? json_get_str(pred, "epoch", "") : "-", json_get_str(pred, "verdict", "?"),
		json_get_int(pred, "exit_code", 2),
		json_get(pred, "findings", json_type_array) ? json_object_array_length(json_get(pred, "findings", json_type_array)) : 0);
	{ /* the subject is the epoch the predicate names */
		json_object *s0 = json_object_array_length(subj) ? json_object_array_get_idx(subj, 0) : NULL;
		json_object *d = s0 ? json_get(s0, "digest", json_type_object) : NULL;
		const char *of = json_get_str(pred, "subject_of", NULL), *sub = d ? json_get_str(d, "sha256", "") : "";
		char want[65];
		int image;

		attest_epoch_digest(json_get_str(pred, "identity", ""), json_get_str(pred, "epoch", ""), want, &image);
		if (of && (!strcmp(of, "executable") || !strcmp(of, "program") || (!strcmp(of, "image") && !image))) {
			/* a file's hash (or the image a declared version ran) cannot
			 * be recomputed here: it must be the one the (signed)
			 * predicate names, and the epoch's name no image digest */
			const char *a = digest_of(pred, "artifact");

			if (image || !a || strlen(a) != 64 || strcmp(sub, a)) {
				fprintf(out, "  problem: the subject's digest is not the %s's the predicate names (%s)\n", of,
					a ? a : "none");
				bad++;
			} else {
				fprintf(out, "  subject: the %s's sha256 %s\n", of, a);
			}
		} else if (!d || strcmp(sub, want) || (of && strcmp(of, image ? "image" : "epoch-name"))) {
			fprintf(out, "  problem: the subject's digest is not the epoch's (%s)\n", want);
			bad++;
		} else {
			fprintf(out, "  subject: %s %s\n", image ? "the image's sha256" : "the version's name only: sha256", want);
		}
	}
	check_chain(pred, out, &bad);
	{ /* the cluster gate: every agent's chain, as its agent served it */
		json_object *agents = json_get(pred, "agents", json_type_array);

		for (size_t i = 0; agents && i < json_object_array_length(agents); i++) {
			json_object *g = json_object_array_get_idx(agents, i), *t = json_object_new_object();

			fprintf(out, "  agent %s (node %s):%s%s\n", json_get_str(g, "agent", "?"), json_get_str(g, "node", "?"),
				json_get_str(g, "records_missing", NULL) ? " no chain: " : "",
				json_get_str(g, "records_missing", ""));
			/* the agent's part, checked like the predicate's own chain */
			json_add_str(t, "identity", json_get_str(pred, "identity", ""));
			json_add_str(t, "ledger_source", "agent");
			json_add(t, "records", json_copy(json_get(g, "records", json_type_array)));
			if (json_get(g, "chain_head", json_type_object))
				json_add(t, "chain_head", json_copy(json_get(g, "chain_head", json_type_object)));
			check_chain(t, out, &bad);
			if (digest_of(g, "ledger_digest"))
				fprintf(out, "  ledger: sha256 %s (served by that agent)\n", digest_of(g, "ledger_digest"));
			json_object_put(t);
		}
	}
	got = digest_of(pred, "policy_digest");
	if (!got || strlen(got) != 64) {
		fprintf(out, "  problem: no policy digest\n");
		bad++;
	} else if (expect && expect->policy_digest && strcmp(expect->policy_digest, got)) {
		fprintf(out, "  problem: policy: the policies given have digest %s, the attestation was made under %s\n",
			expect->policy_digest, got);
		bad++;
	} else {
		fprintf(out, "  policy: sha256 %s%s\n", got,
			expect && expect->policy_digest ? " (matches the policies given)" : " (not compared: give --policy)");
	}
	got = digest_of(pred, "ledger_digest");
	if (expect && expect->ledger_digest && (!got || strcmp(expect->ledger_digest, got))) {
		fprintf(out, "  problem: ledger: the ledger given has digest %s, the attestation names %s\n",
			expect->ledger_digest, got ? got : "none");
		bad++;
	} else if (got) {
		fprintf(out, "  ledger: sha256 %s (%s)%s\n", got, json_get_str(pred, "ledger_source", "?"),
			expect && expect->ledger_digest ? " (matches the ledger given)" : "");
	}
	if (!bad)
		rc = ATTEST_OK;
out:
	json_object_put(st);
	dsse_opened_free(&o);
	return rc;
}

/* ---- the cluster gate's parts, a log's line ----------------------------------- */

/* The chains the agents served (verify --agents --attest): true when one
 * does not verify (each problem printed, naming the agent and record). */
bool attest_agents_check(json_object *agents, FILE *problems)
{
	bool broken = false;

	for (size_t i = 0; i < json_object_array_length(agents); i++) {
		json_object *g = json_object_array_get_idx(agents, i), *recs = json_get(g, "records", json_type_array);
		size_t n = recs ? json_object_array_length(recs) : 0;
		struct epoch_record *c = n ? calloc(n, sizeof(*c)) : NULL;
		char err[256];

		if (n && !c)
			return true;
		for (size_t k = 0; k < n; k++)
			if (epoch_record_from_json(json_object_array_get_idx(recs, k), &c[k], err, sizeof(err))) {
				fprintf(problems, "agent %s: record %zu: %s\n", json_get_str(g, "agent", "?"), k + 1, err);
				broken = true;
				n = 0;
				break;
			}
		if (n && epoch_chain_check(c, n, 0, NULL, problems)) {
			fprintf(problems, "agent %s: its chain above does not verify\n", json_get_str(g, "agent", "?"));
			broken = true;
		}
		if (json_get_str(g, "records_missing", NULL))
			fprintf(problems, "agent %s: no record chain: %s\n",
				json_get_str(g, "agent", "?"), json_get_str(g, "records_missing", ""));
		free(c);
	}
	return broken;
}

/* The envelope of the last "reach-attestation {...}" line of a file (what
 * verify --attest - printed, kept in a Job's log), or NULL. */
json_object *attest_envelope_from_log(const char *file)
{
	static const char prefix[] = "reach-attestation ";
	FILE *f = fopen(file, "re");
	json_object *env = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if (!f)
		return NULL;
	while ((len = getline(&line, &cap, f)) > 0) {
		const char *at = strstr(line, prefix); /* a log may prefix timestamps */

		if (at) {
			json_object_put(env);
			env = json_tokener_parse(at + sizeof(prefix) - 1);
		}
	}
	free(line);
	fclose(f);
	return env;
}
