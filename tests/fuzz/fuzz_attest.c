// fuzz-sources: -D_GNU_SOURCE -Ibuild/proto -Ibuild user/policy/attest.c user/policy/epochs.c user/policy/verify.c user/policy/policy_match.c user/policy/policy_load.c user/common/dsse.c user/common/json.c user/common/hmap.c user/common/intern.c user/common/glob.c user/common/log.c user/common/fileio.c user/common/readfile.c user/common/yamlfile.c user/common/yamlnode.c user/common/names.c user/reach/ledger.c user/common/strset.c user/reach/edge_fields.c user/reach/coverage.c user/reach/netclass.c user/reach/catalog.c user/reach/path.c user/reach/program.c -lcrypto -ljson-c -lyaml
/* libFuzzer target for `reachctl attest verify`: an attestation file is
 * untrusted bytes. Any input is parsed as JSON and checked as a DSSE
 * envelope holding an in-toto Statement (signature, record chain, digests):
 * the check returns one of its three results and never crashes; the same
 * parser reads the agent's records file (epoch_record_from_json).
 * Run: tests/fuzz/run.sh [seconds]   (corpus: tests/fuzz/corpus/attest/) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include "common/dsse.h"
#include "policy/attest.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *key;
	static const uint8_t seed[32] = { 1, 2, 3 };
	struct attest_expect x = { .policy_digest = "0000000000000000000000000000000000000000000000000000000000000000" };
	char *text = malloc(size + 1);
	json_object *env;
	FILE *out;
	int rc;

	if (!key)
		key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
	if (!text || !key) {
		free(text);
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	env = json_tokener_parse(text);
	out = fopen("/dev/null", "w");
	if (env && out) {
		rc = attest_check(env, key, &x, out);
		CHECK(rc == ATTEST_OK || rc == ATTEST_INVALID || rc == ATTEST_UNREADABLE);
		CHECK(rc != ATTEST_OK); /* nothing here is signed by the key: never valid */
	}
	if (out)
		fclose(out);
	json_object_put(env);
	free(text);
	return 0;
}
