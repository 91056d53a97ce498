// fuzz-sources: user/policy/policy_load.c user/common/yamlfile.c user/common/yamlnode.c user/common/readfile.c user/common/log.c user/common/fileio.c user/common/glob.c user/reach/netclass.c user/common/names.c -lyaml
/* libFuzzer target for the policy loader (YAML through libyaml, the
 * nesting/node/time limits of common/yamlfile.c, then the strict policy
 * walker): any bytes either load or are refused with a FILE:LINE:COLUMN
 * message, never a crash, and a refusal leaves an empty set.
 * Run: tests/fuzz/run.sh [seconds]   (corpus: tests/fuzz/corpus/policy/) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "policy/policy.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct policy_set set;
	char err[1024];
	FILE *f;
	int rc;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/reach-fuzz-policy-%d.yaml", (int)getpid());
	f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	memset(&set, 0, sizeof(set));
	err[0] = '\0';
	rc = policy_load_path(&set, path, err, sizeof(err));
	if (rc) {
		CHECK(rc < 0);
		CHECK(err[0] && memchr(err, '\0', sizeof(err)));
	}
	policy_set_free(&set);
	return 0;
}
