/* Tamper-evident verification evidence: the record hash chain
 * (policy/epochs.h), DSSE with Ed25519 (common/dsse.h) and the in-toto
 * Statement and its check (policy/attest.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/dsse.h"
#include "common/json.h"
#include "identity/kube_secret.h"
#include "policy/attest.h"
#include "policy/epochs.h"
#include "policy/verify.h"
#include "testutil.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	return make_temp_dir(dir, sizeof(dir), "test_attest");
}

static int teardown(void **state)
{
	(void)state;
	return remove_tree(dir);
}

static EVP_PKEY *new_key(int type)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(type, NULL);
	EVP_PKEY *k = NULL;

	assert_non_null(c);
	assert_int_equal(EVP_PKEY_keygen_init(c), 1);
	if (type == EVP_PKEY_EC)
		assert_int_equal(EVP_PKEY_CTX_set_ec_paramgen_curve_nid(c, NID_X9_62_prime256v1), 1);
	assert_int_equal(EVP_PKEY_keygen(c, &k), 1);
	EVP_PKEY_CTX_free(c);
	return k;
}

/* dir/NAME: the key's private (or public) PEM; the path in out. */
static void write_key(EVP_PKEY *k, bool private_key, const char *name, char *out, size_t size)
{
	FILE *f;

	snprintf(out, size, "%s/%s", dir, name);
	assert_non_null(f = fopen(out, "w"));
	if (private_key)
		assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	else
		assert_int_equal(PEM_write_PUBKEY(f, k), 1);
	fclose(f);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 8192);

	assert_non_null(f);
	assert_non_null(buf);
	assert_true(fread(buf, 1, 8191, f) > 0);
	fclose(f);
	return buf;
}

/* ---- DSSE ---------------------------------------------------------------- */

static void test_base64(void **state)
{
	const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	const char *want[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" }; /* RFC 4648 section 10 */
	uint8_t *out;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char *e = dsse_b64_encode((const uint8_t *)in[i], strlen(in[i]));

		assert_string_equal(e, want[i]);
		assert_int_equal(dsse_b64_decode(e, &out, &len), 0);
		assert_int_equal(len, strlen(in[i]));
		assert_memory_equal(out, in[i], len);
		free(out);
		free(e);
	}
	assert_int_equal(dsse_b64_decode("Zm9", &out, &len), -EINVAL);   /* not a multiple of 4 */
	assert_int_equal(dsse_b64_decode("Zm9v!A==", &out, &len), -EINVAL); /* not a digit */
	assert_int_equal(dsse_b64_decode("Zh==", &out, &len), -EINVAL);  /* trailing bits set */
	assert_int_equal(dsse_b64_decode("Z===", &out, &len), -EINVAL);
}

/* The PAE test vector of the DSSE specification (protocol.md). */
static void test_pae_vector(void **state)
{
	uint8_t *p;
	size_t n;
	const char want[] = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";

	(void)state;
	assert_int_equal(dsse_pae("http://example.com/HelloWorld", (const uint8_t *)"hello world", 11, &p, &n), 0);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(p, want, n);
	free(p);
}

/* Key files: clear errors naming the file, never the key's bytes. */
static void test_key_files(void **state)
{
	EVP_PKEY *ed = new_key(EVP_PKEY_ED25519), *ec = new_key(EVP_PKEY_EC), *k;
	char priv[512], pub[512], ecf[512], junk[512], err[512], *pem, *body;
	char id1[DSSE_KEYID_LEN], id2[DSSE_KEYID_LEN];

	(void)state;
	write_key(ed, true, "ed.key", priv, sizeof(priv));
	write_key(ed, false, "ed.pub", pub, sizeof(pub));
	write_key(ec, true, "ec.key", ecf, sizeof(ecf));
	snprintf(junk, sizeof(junk), "%s/junk.key", dir);
	write_text(junk, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");

	assert_int_equal(dsse_load_private_key(priv, &k, err, sizeof(err)), 0);
	assert_int_equal(dsse_keyid(k, id1), 0);
	EVP_PKEY_free(k);
	assert_int_equal(dsse_load_public_key(pub, &k, err, sizeof(err)), 0);
	assert_int_equal(dsse_keyid(k, id2), 0);
	EVP_PKEY_free(k);
	assert_string_equal(id1, id2); /* one key, one id, from either half */
	assert_int_equal(strlen(id1), 64);
	assert_int_equal(dsse_load_public_key(priv, &k, err, sizeof(err)), 0); /* the public half of a private file */
	EVP_PKEY_free(k);

	/* a public key is no signing key */
	assert_int_equal(dsse_load_private_key(pub, &k, err, sizeof(err)), -EINVAL);
	assert_null(k);
	assert_non_null(strstr(err, pub));
	assert_non_null(strstr(err, "not a PEM private key"));
	assert_int_equal(dsse_load_private_key(ecf, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not Ed25519"));
	assert_int_equal(dsse_load_private_key(junk, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, junk));
	assert_null(strstr(err, "bm90IGEga2V5")); /* the file's content is never in the message */
	assert_int_equal(dsse_load_private_key("/nonexistent/reach.key", &k, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "key file /nonexistent/reach.key: No such file or directory");

	/* nor is a real key's */
	pem = read_all(ecf);
	body = strchr(pem, '\n') + 1;
	body[20] = '\0';
	assert_int_equal(dsse_load_private_key(ecf, &k, err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, body));
	free(pem);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(ec);
}

static void test_sign_and_open(void **state)
{
	EVP_PKEY *key = new_key(EVP_PKEY_ED25519), *other = new_key(EVP_PKEY_ED25519);
	const char *body = "{\"a\":1}";
	char err[256];
	json_object *env = dsse_sign(key, "application/x-test", (const uint8_t *)body, strlen(body), err, sizeof(err));
	json_object *sig0;
	struct dsse_opened o;
	char *s;

	(void)state;
	assert_non_null(env);
	assert_string_equal(json_get_str(env, "payloadType", ""), "application/x-test");
	assert_string_equal(json_get_str(env, "payload", ""), "eyJhIjoxfQ==");
	assert_int_equal(dsse_open(env, key, &o, err, sizeof(err)), 0);
	assert_true(o.signature_ok);
	assert_true(o.keyid_listed);
	assert_string_equal((char *)o.body, body);
	dsse_opened_free(&o);

	/* another key: no */
	assert_int_equal(dsse_open(env, other, &o, err, sizeof(err)), 0);
	assert_false(o.signature_ok);
	assert_false(o.keyid_listed);
	dsse_opened_free(&o);

	/* the payload type is signed: changing it breaks the signature */
	json_object_object_add(env, "payloadType", json_object_new_string("application/x-other"));
	assert_int_equal(dsse_open(env, key, &o, err, sizeof(err)), 0);
	assert_false(o.signature_ok);
	dsse_opened_free(&o);
	json_object_object_add(env, "payloadType", json_object_new_string("application/x-test"));

	/* one bit of the signature */
	sig0 = json_object_array_get_idx(json_get(env, "signatures", json_type_array), 0);
	s = strdup(json_get_str(sig0, "sig", ""));
	s[3] = s[3] == 'A' ? 'B' : 'A';
	json_object_object_add(sig0, "sig", json_object_new_string(s));
	assert_int_equal(dsse_open(env, key, &o, err, sizeof(err)), 0);
	assert_false(o.signature_ok);
	dsse_opened_free(&o);
	free(s);

	assert_int_equal(dsse_open(json_object_new_object(), key, &o, err, sizeof(err)), -EINVAL); /* leaks nothing: empty */
	json_object_put(env);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

/* ---- the record chain ------------------------------------------------------ */

/* A tracker with two identities whose records interleave: ns/sa v1
 * superseded by v2, v2 verified (fail), then v2 re-verified under another
 * policy (pass) and drifted; ns/b verified once. */
static struct epoch_tracker *chain_fixture(void)
{
	struct epoch_tracker *t = epoch_tracker_new(1000);
	struct identity_verdict v[2] = { { .verdict = VERDICT_FAIL, .counted = true },
					 { .verdict = VERDICT_PASS, .counted = true } };
	struct verify_result r = { .verdicts = v, .n_verdicts = 2 };

	assert_non_null(t);
	snprintf(v[0].identity, sizeof(v[0].identity), "ns/a");
	snprintf(v[1].identity, sizeof(v[1].identity), "ns/b");
	snprintf(v[1].epoch, sizeof(v[1].epoch), "sha256:%064d", 7);
	snprintf(v[0].epoch, sizeof(v[0].epoch), "v1");
	epoch_tracker_set_policy_digest(t, "1111111111111111111111111111111111111111111111111111111111111111");
	epoch_tracker_update(t, &r, 10000, NULL, NULL); /* both open */
	snprintf(v[0].epoch, sizeof(v[0].epoch), "v2");
	snprintf(v[0].previous_epoch, sizeof(v[0].previous_epoch), "v1");
	v[0].n_findings_by_sev[SEV_HIGH] = 1;
	snprintf(v[0].reasons, sizeof(v[0].reasons), "1 finding");
	epoch_tracker_update(t, &r, 10500, NULL, NULL);  /* a: v1 superseded (seq 1), v2 opens */
	epoch_tracker_update(t, &r, 11000, NULL, NULL);  /* b verified (b seq 1) */
	epoch_tracker_update(t, &r, 12000, NULL, NULL);  /* a v2 verified: fail (seq 2) */
	epoch_tracker_set_policy_digest(t, "2222222222222222222222222222222222222222222222222222222222222222");
	v[0].verdict = VERDICT_PASS;
	v[0].n_findings_by_sev[SEV_HIGH] = 0;
	v[0].reasons[0] = '\0';
	epoch_tracker_update(t, &r, 13000, NULL, NULL);  /* a v2 re-opened under the new policy; b too */
	epoch_tracker_update(t, &r, 14000, NULL, NULL);  /* both verified: a seq 3 pass, b seq 2 */
	v[0].verdict = VERDICT_FAIL;
	v[0].n_findings_by_sev[SEV_MEDIUM] = 1;
	epoch_tracker_update(t, &r, 15000, NULL, NULL);  /* a drifted (seq 4) */
	return t;
}

static void test_chain_links(void **state)
{
	struct epoch_tracker *t = chain_fixture();
	struct epoch_record *c, *b;
	const struct epoch_record *recs;
	size_t n = epoch_tracker_chain(t, "ns/a", &c), nr = epoch_tracker_records(t, &recs);
	char h[65];

	(void)state;
	assert_int_equal(n, 4);
	assert_int_equal(c[0].state, EPOCH_SUPERSEDED);
	assert_string_equal(c[0].to_version, "v1");
	assert_int_equal(c[1].state, EPOCH_VERIFIED);
	assert_int_equal(c[1].verdict, VERDICT_FAIL);
	assert_int_equal(c[2].state, EPOCH_VERIFIED);
	assert_int_equal(c[2].verdict, VERDICT_PASS);
	assert_int_equal(c[2].follows, c[1].id);
	assert_int_equal(c[3].state, EPOCH_DRIFTED);
	assert_int_equal(c[3].id, c[2].id); /* the drift of that record: a new link, the verified copy kept */
	assert_string_equal(c[0].prev_hash, EPOCH_CHAIN_GENESIS);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(c[i].seq, i + 1);
		epoch_record_digest(&c[i], h);
		assert_string_equal(h, c[i].hash);
		if (i)
			assert_string_equal(c[i].prev_hash, c[i - 1].hash);
	}
	assert_string_equal(c[1].policy_digest, "1111111111111111111111111111111111111111111111111111111111111111");
	assert_string_equal(c[2].policy_digest, "2222222222222222222222222222222222222222222222222222222222222222");
	assert_int_equal(epoch_chain_check(c, n, 4, c[3].hash, NULL), 0);
	/* the live record carries its latest link */
	for (size_t i = 0; i < nr; i++)
		if (recs[i].id == c[3].id)
			assert_string_equal(recs[i].hash, c[3].hash);
	/* the other identity has its own chain from the genesis */
	assert_int_equal(epoch_tracker_chain(t, "ns/b", &b), 2);
	assert_string_equal(b[0].prev_hash, EPOCH_CHAIN_GENESIS);
	assert_int_equal(epoch_chain_check(b, 2, 2, b[1].hash, NULL), 0);
	free(b);
	assert_int_equal(epoch_tracker_chain(t, "ns/none", &b), 0);
	assert_null(b);
	free(c);
	epoch_tracker_free(t);
}

/* The links an earlier run kept, restored into a new tracker: the chain
 * goes on from them (seq, prev_hash, record ids), and a link changed on
 * disk stays visibly broken. */
static void test_chain_restored(void **state)
{
	struct epoch_tracker *t = chain_fixture(), *t2 = epoch_tracker_new(1000);
	struct identity_verdict v = { .verdict = VERDICT_PASS, .counted = true };
	struct verify_result r = { .verdicts = &v, .n_verdicts = 1 };
	struct epoch_record *a, *b, *c2;
	const struct epoch_record *recs;
	size_t na = epoch_tracker_chain(t, "ns/a", &a), nb = epoch_tracker_chain(t, "ns/b", &b), n2;
	uint64_t max_id = 0;

	(void)state;
	for (size_t i = 0; i < na || i < nb; i++) { /* interleaved, as a file has them */
		if (i < na)
			assert_int_equal(epoch_tracker_restore_link(t2, &a[i]), 0);
		if (i < nb)
			assert_int_equal(epoch_tracker_restore_link(t2, &b[i]), 0);
	}
	for (size_t i = 0; i < na; i++)
		max_id = a[i].id > max_id ? a[i].id : max_id;
	for (size_t i = 0; i < nb; i++)
		max_id = b[i].id > max_id ? b[i].id : max_id;
	snprintf(v.identity, sizeof(v.identity), "ns/a");
	snprintf(v.epoch, sizeof(v.epoch), "v3");
	epoch_tracker_update(t2, &r, 20000, NULL, NULL);
	epoch_tracker_update(t2, &r, 21000, NULL, NULL); /* v3 verified after the "restart" */
	epoch_tracker_records(t2, &recs);
	assert_int_equal(recs[0].id, max_id + 1);
	n2 = epoch_tracker_chain(t2, "ns/a", &c2);
	assert_int_equal(n2, na + 1);
	assert_int_equal(c2[na].seq, a[na - 1].seq + 1);
	assert_string_equal(c2[na].prev_hash, a[na - 1].hash);
	assert_int_equal(epoch_chain_check(c2, n2, 0, NULL, NULL), 0);
	free(c2);
	epoch_tracker_free(t2);

	/* a restored link changed on disk is kept as read: the check names it */
	t2 = epoch_tracker_new(1000);
	a[1].findings = 7;
	for (size_t i = 0; i < na; i++)
		assert_int_equal(epoch_tracker_restore_link(t2, &a[i]), 0);
	n2 = epoch_tracker_chain(t2, "ns/a", &c2);
	assert_int_equal(epoch_chain_check(c2, n2, 0, NULL, NULL), 1);
	free(c2);
	epoch_tracker_free(t2);
	free(a);
	free(b);
	epoch_tracker_free(t);
}

/* Problems as text, for the assertions. */
static size_t check_text(const struct epoch_record *c, size_t n, uint64_t head_seq, const char *head, char **text)
{
	size_t len = 0, bad;
	FILE *f = open_memstream(text, &len);

	assert_non_null(f);
	bad = epoch_chain_check(c, n, head_seq, head, f);
	fclose(f);
	return bad;
}

static void test_chain_tamper(void **state)
{
	struct epoch_tracker *t = chain_fixture();
	struct epoch_record *c, x[4];
	size_t n = epoch_tracker_chain(t, "ns/a", &c);
	char *text, head[65];

	(void)state;
	assert_int_equal(n, 4);
	snprintf(head, sizeof(head), "%s", c[3].hash);

	/* one field of one record changed: that record is named */
	memcpy(x, c, sizeof(x));
	x[1].findings = 0;
	assert_int_equal(check_text(x, 4, 4, head, &text), 1);
	assert_non_null(strstr(text, "record seq 2 (id 3, ns/a v2, verified): changed"));
	free(text);
	/* changed and its hash recomputed: the next record names the break */
	x[1].verdict = VERDICT_PASS;
	epoch_record_digest(&x[1], x[1].hash);
	assert_int_equal(check_text(x, 4, 4, head, &text), 1);
	assert_non_null(strstr(text, "record seq 3 (id 4, ns/a v2, verified): the hash it names as its predecessor"));
	free(text);

	/* a record removed from the middle */
	memcpy(x, c, sizeof(x));
	memmove(&x[1], &x[2], 2 * sizeof(x[0]));
	assert_int_equal(check_text(x, 3, 4, head, &text), 2);
	assert_non_null(strstr(text, "record seq 3 (id 4, ns/a v2, verified): after record seq 1: the records between are missing"));
	free(text);

	/* two records swapped */
	memcpy(x, c, sizeof(x));
	x[1] = c[2];
	x[2] = c[1];
	assert_true(check_text(x, 4, 4, head, &text) >= 2);
	assert_non_null(strstr(text, "record seq 2 (id 3, ns/a v2, verified): after record seq 3: out of order"));
	free(text);

	/* the first one removed; the last one removed */
	assert_true(check_text(c + 1, 3, 4, head, &text) >= 1);
	assert_non_null(strstr(text, "the records before seq 2 are missing"));
	free(text);
	assert_int_equal(check_text(c, 3, 4, head, &text), 1);
	assert_non_null(strstr(text, "the chain ends at record seq 3, not at the head the attestation names (seq 4"));
	free(text);

	/* a record of another identity slipped in */
	memcpy(x, c, sizeof(x));
	snprintf(x[3].identity, sizeof(x[3].identity), "ns/b");
	assert_true(check_text(x, 4, 4, head, &text) >= 1);
	assert_non_null(strstr(text, "of identity ns/b, in the chain of ns/a"));
	free(text);

	/* JSON and back keeps every hashed field */
	for (size_t i = 0; i < n; i++) {
		json_object *o = epoch_record_to_json(&c[i]);
		char err[128];

		assert_int_equal(epoch_record_from_json(o, &x[0], err, sizeof(err)), 0);
		epoch_record_digest(&x[0], head);
		assert_string_equal(head, c[i].hash);
		json_object_put(o);
	}
	free(c);
	epoch_tracker_free(t);
}

/* ---- statements ------------------------------------------------------------ */

/* A verification report of ns/a as verify_result_report() writes one. */
static json_object *report_of(const char *identity, const char *epoch, const char *verdict)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "{\"verdict\":\"%s\",\"identities\":[{\"identity\":\"%s\",\"verdict\":\"%s\",\"reasons\":\"\","
		 "\"epoch\":\"%s\",\"previous_epoch\":\"v1\",\"findings_by_severity\":{\"medium\":1},"
		 "\"rotation\":[{\"kind\":\"secret-file\",\"what\":\"/etc/app/old.key\",\"why\":\"read in v1\"}]}],"
		 "\"findings\":[{\"id\":\"0123456789abcdef\",\"kind\":\"undeclared-secret\",\"identity\":\"%s\","
		 "\"object\":\"/etc/app/db.key\"},{\"id\":\"fedcba9876543210\",\"kind\":\"unusual-tool\","
		 "\"identity\":\"ns/other\",\"object\":\"/bin/sh\"}]}",
		 verdict, identity, verdict, epoch, identity);
	return json_tokener_parse(text);
}

/* An envelope for ns/a's chain; *key_out the signing key. */
static json_object *signed_statement(EVP_PKEY *key, struct epoch_tracker *t)
{
	struct epoch_record *c;
	size_t n = epoch_tracker_chain(t, "ns/a", &c);
	json_object *rep = report_of("ns/a", "v2", "fail"), *cov = json_tokener_parse("{\"gaps\":false}");
	struct attest_input in = { .identity = "ns/a", .report = rep, .coverage = cov, .chain = c, .n_chain = n,
				   .policy_digest = "2222222222222222222222222222222222222222222222222222222222222222",
				   .ledger_digest = "3333333333333333333333333333333333333333333333333333333333333333",
				   .ledger_source = "agent", .sensor_version = "test", .now_ms = 1800000000000LL };
	char err[256];
	json_object *st = attest_statement(&in, err, sizeof(err)), *env;
	const char *text;

	assert_non_null(st);
	text = json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN);
	env = dsse_sign(key, ATTEST_PAYLOAD_TYPE, (const uint8_t *)text, strlen(text), err, sizeof(err));
	assert_non_null(env);
	json_object_put(st);
	json_object_put(rep);
	json_object_put(cov);
	free(c);
	return env;
}

static void test_statement_fields(void **state)
{
	struct epoch_tracker *t = chain_fixture();
	EVP_PKEY *key = new_key(EVP_PKEY_ED25519);
	json_object *env = signed_statement(key, t), *st, *pred, *subj, *f;
	struct dsse_opened o;
	char err[256], hex[65];
	int image;

	(void)state;
	assert_int_equal(dsse_open(env, key, &o, err, sizeof(err)), 0);
	assert_true(o.signature_ok);
	st = json_tokener_parse((char *)o.body);
	assert_string_equal(json_get_str(st, "_type", ""), "https://in-toto.io/Statement/v1");
	assert_string_equal(json_get_str(st, "predicateType", ""), ATTEST_PREDICATE_TYPE);
	subj = json_object_array_get_idx(json_get(st, "subject", json_type_array), 0);
	assert_string_equal(json_get_str(subj, "name", ""), "ns/a@v2");
	attest_epoch_digest("ns/a", "v2", hex, &image);
	assert_false(image);
	assert_string_equal(json_get_str(json_get(subj, "digest", json_type_object), "sha256", ""), hex);
	assert_string_equal(json_get_str(json_get(subj, "annotations", json_type_object), "reach.dev/digest-of", ""),
			    "epoch-name");
	pred = json_get(st, "predicate", json_type_object);
	assert_string_equal(json_get_str(pred, "verdict", ""), "fail");
	assert_int_equal(json_get_int(pred, "exit_code", -1), 1);
	assert_string_equal(json_get_str(pred, "previous_epoch", ""), "v1");
	f = json_get(pred, "findings", json_type_array);
	assert_int_equal(json_object_array_length(f), 1); /* ns/a's only */
	assert_string_equal(json_get_str(json_object_array_get_idx(f, 0), "object", ""), "/etc/app/db.key");
	assert_string_equal(json_get_str(json_object_array_get_idx(json_get(pred, "rotation", json_type_array), 0),
					 "what", ""),
			    "/etc/app/old.key");
	assert_false(json_get_bool(json_get(pred, "coverage", json_type_object), "gaps", true));
	assert_string_equal(json_get_str(json_get(pred, "policy_digest", json_type_object), "sha256", ""),
			    "2222222222222222222222222222222222222222222222222222222222222222");
	assert_string_equal(json_get_str(json_get(pred, "ledger_digest", json_type_object), "sha256", ""),
			    "3333333333333333333333333333333333333333333333333333333333333333");
	assert_string_equal(json_get_str(json_get(pred, "sensor", json_type_object), "version", ""), "test");
	assert_int_equal(json_object_array_length(json_get(pred, "records", json_type_array)), 4);
	assert_int_equal(json_get_int(json_get(pred, "chain_head", json_type_object), "seq", 0), 4);
	json_object_put(st);
	dsse_opened_free(&o);

	/* an image digest is the subject's own digest */
	attest_epoch_digest("ns/b", "registry/app@sha256:ABCDEF0000000000000000000000000000000000000000000000000000000001",
			    hex, &image);
	assert_true(image);
	assert_string_equal(hex, "abcdef0000000000000000000000000000000000000000000000000000000001");
	{ /* a report without the identity: nothing to attest */
		json_object *rep = report_of("ns/b", "v2", "pass");
		struct attest_input in = { .identity = "ns/a", .report = rep };

		assert_null(attest_statement(&in, err, sizeof(err)));
		assert_non_null(strstr(err, "no verdict for ns/a"));
		json_object_put(rep);
	}
	json_object_put(env);
	EVP_PKEY_free(key);
	epoch_tracker_free(t);
}

/* Re-encodes an envelope's payload after fn changed its Statement (the
 * signature is left as it was: what an attacker without the key can do). */
static void tamper(json_object *env, void (*fn)(json_object *pred))
{
	uint8_t *body;
	size_t len;
	json_object *st;
	const char *text;
	char *b64;

	assert_int_equal(dsse_b64_decode(json_get_str(env, "payload", ""), &body, &len), 0);
	st = json_tokener_parse((char *)body);
	fn(json_get(st, "predicate", json_type_object));
	text = json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN);
	b64 = dsse_b64_encode((const uint8_t *)text, strlen(text));
	json_object_object_add(env, "payload", json_object_new_string(b64));
	free(b64);
	free(body);
	json_object_put(st);
}

static json_object *record_at(json_object *pred, size_t i)
{
	return json_object_array_get_idx(json_get(pred, "records", json_type_array), i);
}

static void change_findings(json_object *pred)
{
	json_object_object_add(record_at(pred, 1), "findings", json_object_new_int64(0));
}

static void remove_record(json_object *pred)
{
	json_object_array_del_idx(json_get(pred, "records", json_type_array), 2, 1);
}

static void swap_records(json_object *pred)
{
	json_object *recs = json_get(pred, "records", json_type_array);
	json_object *a = json_object_get(json_object_array_get_idx(recs, 1));
	json_object *b = json_object_get(json_object_array_get_idx(recs, 2));

	json_object_array_put_idx(recs, 1, b);
	json_object_array_put_idx(recs, 2, a);
}

static void change_verdict(json_object *pred)
{
	json_object_object_add(pred, "verdict", json_object_new_string("pass"));
}

static int check(json_object *env, EVP_PKEY *key, const struct attest_expect *x, char **text)
{
	size_t len = 0;
	FILE *f = open_memstream(text, &len);
	int rc;

	assert_non_null(f);
	rc = attest_check(env, key, x, f);
	fclose(f);
	return rc;
}

static void test_attest_check(void **state)
{
	struct epoch_tracker *t = chain_fixture();
	EVP_PKEY *key = new_key(EVP_PKEY_ED25519), *other = new_key(EVP_PKEY_ED25519);
	json_object *env = signed_statement(key, t), *e;
	struct attest_expect right = { .policy_digest = "2222222222222222222222222222222222222222222222222222222222222222",
				       .ledger_digest = "3333333333333333333333333333333333333333333333333333333333333333" };
	struct attest_expect wrong_policy = { .policy_digest = "1111111111111111111111111111111111111111111111111111111111111111" };
	struct attest_expect wrong_ledger = { .ledger_digest = "4444444444444444444444444444444444444444444444444444444444444444" };
	char *text;

	(void)state;
	assert_int_equal(check(env, key, &right, &text), ATTEST_OK);
	assert_non_null(strstr(text, "signature: verifies with the key"));
	assert_non_null(strstr(text, "records: 4 in the chain of ns/a"));
	assert_non_null(strstr(text, "(matches the policies given)"));
	assert_non_null(strstr(text, "(matches the ledger given)"));
	assert_null(strstr(text, "problem"));
	free(text);

	assert_int_equal(check(env, other, NULL, &text), ATTEST_INVALID);
	assert_non_null(strstr(text, "signed by another key"));
	free(text);
	assert_int_equal(check(env, key, &wrong_policy, &text), ATTEST_INVALID);
	assert_non_null(strstr(text, "problem: policy: the policies given have digest 1111"));
	free(text);
	assert_int_equal(check(env, key, &wrong_ledger, &text), ATTEST_INVALID);
	assert_non_null(strstr(text, "problem: ledger"));
	free(text);

	e = json_copy(env);
	tamper(e, change_findings);
	assert_int_equal(check(e, key, NULL, &text), ATTEST_INVALID);
	assert_non_null(strstr(text, "problem: signature: does not verify with the key: the payload or the signature was changed"));
	assert_non_null(strstr(text, "problem: record seq 2 (id 3, ns/a v2, verified): changed"));
	free(text);
	json_object_put(e);

	e = json_copy(env);
	tamper(e, remove_record);
	assert_int_equal(check(e, key, NULL, &text), ATTEST_INVALID);
	assert_non_null(strstr(text, "record seq 4 (id 4, ns/a v2, drifted): after record seq 2: the records between are missing"));
	free(text);
	json_object_put(e);

	e = json_copy(env);
	tamper(e, swap_records);
	assert_int_equal(check(e, key, NULL, &text), ATTEST_INVALID);
	assert_non_null(strstr(text, "out of order"));
	free(text);
	json_object_put(e);

	e = json_copy(env); /* the verdict alone: the signature catches it */
	tamper(e, change_verdict);
	assert_int_equal(check(e, key, NULL, &text), ATTEST_INVALID);
	assert_non_null(strstr(text, "problem: signature"));
	assert_non_null(strstr(text, "records: 4 in the chain"));
	free(text);
	json_object_put(e);

	e = json_tokener_parse("{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"e30=\",\"signatures\":[]}");
	assert_int_equal(check(e, key, NULL, &text), ATTEST_UNREADABLE);
	assert_non_null(strstr(text, "not an in-toto Statement"));
	free(text);
	json_object_put(e);
	e = json_tokener_parse("[1]");
	assert_int_equal(check(e, key, NULL, &text), ATTEST_UNREADABLE);
	free(text);
	json_object_put(e);

	json_object_put(env);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	epoch_tracker_free(t);
}

/* The subject is the file the version ran when the agent hashed it:
 * subject_of executable/program, the predicate's artifact the same digest;
 * an image epoch keeps its image digest whatever artifact is given; a
 * subject changed to another file's hash does not verify. */
#define EXE_SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static json_object *artifact_statement(EVP_PKEY *key, const char *epoch, const char *of, json_object **st_out)
{
	json_object *rep = report_of("ns/a", epoch, "pass"), *st, *env;
	struct attest_input in = { .identity = "ns/a", .report = rep,
				   .policy_digest = "2222222222222222222222222222222222222222222222222222222222222222",
				   .ledger_source = "agent", .sensor_version = "test", .now_ms = 1800000000000LL,
				   .artifact_of = of, .artifact_sha256 = EXE_SHA, .artifact_size = 3 };
	char err[256];
	const char *text;

	st = attest_statement(&in, err, sizeof(err));
	assert_non_null(st);
	text = json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN);
	env = dsse_sign(key, ATTEST_PAYLOAD_TYPE, (const uint8_t *)text, strlen(text), err, sizeof(err));
	assert_non_null(env);
	json_object_put(rep);
	*st_out = st;
	return env;
}

static void change_subject_of(json_object *pred)
{
	json_object_object_add(pred, "artifact", json_tokener_parse("{\"sha256\":\"" EXE_SHA "\",\"size\":4}"));
	json_object_object_add(pred, "subject_of", json_object_new_string("epoch-name"));
}

static void test_artifact_subject(void **state)
{
	EVP_PKEY *key = new_key(EVP_PKEY_ED25519);
	json_object *st, *env, *subj, *pred, *e;
	char *text, hex[65];
	int image;

	(void)state;
	env = artifact_statement(key, "server@0123456789ab", "executable", &st);
	subj = json_object_array_get_idx(json_get(st, "subject", json_type_array), 0);
	pred = json_get(st, "predicate", json_type_object);
	assert_string_equal(json_get_str(json_get(subj, "digest", json_type_object), "sha256", ""), EXE_SHA);
	assert_string_equal(json_get_str(json_get(subj, "annotations", json_type_object), "reach.dev/digest-of", ""),
			    "executable");
	assert_string_equal(json_get_str(pred, "subject_of", ""), "executable");
	assert_string_equal(json_get_str(json_get(pred, "artifact", json_type_object), "sha256", ""), EXE_SHA);
	assert_int_equal(json_get_int(json_get(pred, "artifact", json_type_object), "size", 0), 3);
	assert_int_equal(check(env, key, NULL, &text), ATTEST_OK);
	assert_non_null(strstr(text, "subject: the executable's sha256 " EXE_SHA));
	free(text);
	e = json_copy(env); /* the artifact claim changed: signature and subject both object */
	tamper(e, change_subject_of);
	assert_int_equal(check(e, key, NULL, &text), ATTEST_INVALID);
	assert_non_null(strstr(text, "problem: signature"));
	assert_non_null(strstr(text, "problem: the subject's digest is not the epoch's"));
	free(text);
	json_object_put(e);
	json_object_put(env);
	json_object_put(st);

	env = artifact_statement(key, "main.py@ba7816bf8f01", "program", &st);
	pred = json_get(st, "predicate", json_type_object);
	assert_string_equal(json_get_str(pred, "subject_of", ""), "program");
	assert_int_equal(check(env, key, NULL, &text), ATTEST_OK);
	assert_non_null(strstr(text, "subject: the program's sha256"));
	free(text);
	json_object_put(env);
	json_object_put(st);

	/* an image epoch: the image, whatever file was hashed */
	env = artifact_statement(key, "sha256:abcdef0000000000000000000000000000000000000000000000000000000001",
				 "executable", &st);
	subj = json_object_array_get_idx(json_get(st, "subject", json_type_array), 0);
	pred = json_get(st, "predicate", json_type_object);
	assert_string_equal(json_get_str(pred, "subject_of", ""), "image");
	assert_null(json_get(pred, "artifact", json_type_object));
	assert_string_equal(json_get_str(json_get(subj, "digest", json_type_object), "sha256", ""),
			    "abcdef0000000000000000000000000000000000000000000000000000000001");
	assert_int_equal(check(env, key, NULL, &text), ATTEST_OK);
	assert_non_null(strstr(text, "subject: the image's sha256"));
	free(text);
	json_object_put(env);
	json_object_put(st);

	/* a version declared on a pod: the image it ran, from the agent */
	env = artifact_statement(key, "v4", "image", &st);
	subj = json_object_array_get_idx(json_get(st, "subject", json_type_array), 0);
	pred = json_get(st, "predicate", json_type_object);
	assert_string_equal(json_get_str(pred, "subject_of", ""), "image");
	assert_string_equal(json_get_str(json_get(subj, "digest", json_type_object), "sha256", ""), EXE_SHA);
	assert_int_equal(check(env, key, NULL, &text), ATTEST_OK);
	assert_non_null(strstr(text, "subject: the image's sha256 " EXE_SHA));
	free(text);
	json_object_put(env);
	json_object_put(st);

	/* nothing hashed: the version's name only, and it says so */
	env = artifact_statement(key, "v2", NULL, &st);
	pred = json_get(st, "predicate", json_type_object);
	assert_string_equal(json_get_str(pred, "subject_of", ""), "epoch-name");
	attest_epoch_digest("ns/a", "v2", hex, &image);
	subj = json_object_array_get_idx(json_get(st, "subject", json_type_array), 0);
	assert_string_equal(json_get_str(json_get(subj, "digest", json_type_object), "sha256", ""), hex);
	assert_int_equal(check(env, key, NULL, &text), ATTEST_OK);
	assert_non_null(strstr(text, "subject: the version's name only"));
	free(text);
	json_object_put(env);
	json_object_put(st);
	EVP_PKEY_free(key);
}

/* The gate's agents: each chain checked before signing, a broken one named
 * by agent; a Job log's last reach-attestation line read back. */
static void test_agents_and_log_line(void **state)
{
	struct epoch_tracker *t = chain_fixture();
	EVP_PKEY *key = new_key(EVP_PKEY_ED25519);
	json_object *env = signed_statement(key, t), *agents = json_object_new_array(), *g, *recs, *back;
	struct epoch_record *c;
	size_t n = epoch_tracker_chain(t, "ns/a", &c), len = 0;
	char *text = NULL, path[] = "/tmp/reach-attest-log-XXXXXX";
	FILE *f;
	int fd;

	(void)state;
	g = json_object_new_object();
	json_add_str(g, "agent", "10.0.0.1:9464");
	recs = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(recs, epoch_record_to_json(&c[i]));
	json_add(g, "records", recs);
	json_object_array_add(agents, g);
	g = json_object_new_object();
	json_add_str(g, "agent", "10.0.0.2:9464");
	json_add(g, "records", json_object_new_array());
	json_add_str(g, "records_missing", "HTTP 404");
	json_object_array_add(agents, g);
	f = open_memstream(&text, &len);
	assert_false(attest_agents_check(agents, f));
	fclose(f);
	assert_non_null(strstr(text, "agent 10.0.0.2:9464: no record chain: HTTP 404"));
	free(text);
	/* one byte of the first agent's second record */
	json_object_object_add(json_object_array_get_idx(recs, 1), "findings", json_object_new_int(7));
	f = open_memstream(&text, &len);
	assert_true(attest_agents_check(agents, f));
	fclose(f);
	assert_non_null(strstr(text, "record seq 2"));
	assert_non_null(strstr(text, "agent 10.0.0.1:9464: its chain above does not verify"));
	free(text);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "2026-12-06T17:00:00Z verify: PASS\nreach-attestation {\"old\":1}\n2026-12-06T17:00:01Z "
		   "reach-attestation %s\n", json_object_to_json_string_ext(env, JSON_C_TO_STRING_PLAIN));
	fclose(f);
	back = attest_envelope_from_log(path);
	assert_non_null(back);
	assert_string_equal(json_get_str(back, "payload", ""), json_get_str(env, "payload", ""));
	json_object_put(back);
	f = fopen(path, "w");
	fputs("verify: PASS\n", f);
	fclose(f);
	assert_null(attest_envelope_from_log(path));
	unlink(path);
	free(c);
	json_object_put(agents);
	json_object_put(env);
	EVP_PKEY_free(key);
	epoch_tracker_free(t);
}

/* --key-secret NS/NAME[:KEY]: parsed strictly, errors say the form. */
static void test_key_secret_spec(void **state)
{
	char ns[64], name[254], key[254], err[300];

	(void)state;
	assert_int_equal(kube_secret_spec("reach-system/reach-attest-key", ns, name, key, err, sizeof(err)), 0);
	assert_string_equal(ns, "reach-system");
	assert_string_equal(name, "reach-attest-key");
	assert_string_equal(key, "");
	assert_int_equal(kube_secret_spec("ci/keys:Reach_key.pem", ns, name, key, err, sizeof(err)), 0);
	assert_string_equal(name, "keys");
	assert_string_equal(key, "Reach_key.pem");
	assert_int_equal(kube_secret_spec("reach-system", ns, name, key, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "give NAMESPACE/NAME[:KEY]"));
	assert_int_equal(kube_secret_spec("/x", ns, name, key, err, sizeof(err)), -EINVAL);
	assert_int_equal(kube_secret_spec("ns/", ns, name, key, err, sizeof(err)), -EINVAL);
	assert_int_equal(kube_secret_spec("ns/Upper", ns, name, key, err, sizeof(err)), -EINVAL);
	assert_int_equal(kube_secret_spec("ns/a:", ns, name, key, err, sizeof(err)), -EINVAL);
	assert_int_equal(kube_secret_spec("ns/a:b/c", ns, name, key, err, sizeof(err)), -EINVAL);
	assert_int_equal(kube_secret_spec("ns/a/b", ns, name, key, err, sizeof(err)), -EINVAL);
}

/* A Secret's PEM bytes load like a key file, named by the Secret. */
static void test_private_key_from_memory(void **state)
{
	EVP_PKEY *key = new_key(EVP_PKEY_ED25519), *got = NULL;
	char *pem = NULL, err[300], a[DSSE_KEYID_LEN], b[DSSE_KEYID_LEN];
	size_t len = 0;
	FILE *f = open_memstream(&pem, &len);

	(void)state;
	assert_non_null(f);
	assert_true(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	assert_int_equal(dsse_load_private_key_pem(pem, len, "secret ns/k key reach.key", &got, err, sizeof(err)), 0);
	dsse_keyid(key, a);
	dsse_keyid(got, b);
	assert_string_equal(a, b);
	EVP_PKEY_free(got);
	assert_int_equal(dsse_load_private_key_pem("junk", 4, "secret ns/k key reach.key", &got, err, sizeof(err)), -EINVAL);
	assert_null(got);
	assert_non_null(strstr(err, "secret ns/k key reach.key: not a PEM private key"));
	free(pem);
	EVP_PKEY_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_pae_vector),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_sign_and_open),
		cmocka_unit_test(test_chain_links),
		cmocka_unit_test(test_chain_tamper),
		cmocka_unit_test(test_chain_restored),
		cmocka_unit_test(test_statement_fields),
		cmocka_unit_test(test_attest_check),
		cmocka_unit_test(test_artifact_subject),
		cmocka_unit_test(test_key_secret_spec),
		cmocka_unit_test(test_agents_and_log_line),
		cmocka_unit_test(test_private_key_from_memory),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
