// fuzz-sources: user/common/go_pclntab.c -lelf
/* libFuzzer target for the .gopclntab reader: a Go executable's function
 * table is the workload's bytes. Never a crash, never a read outside the
 * table (and of its build info section). Run: tests/fuzz/run.sh [seconds]   (corpus: tests/fuzz/corpus/pclntab/) */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/go_pclntab.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1); /* exact size: ASan sees a read past it */
	uint64_t va;
	int rc;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	rc = go_pclntab_lookup(copy, size, "crypto/tls.(*Conn).Write", &va);
	CHECK(rc == 0 || rc == -ENOENT || rc == -EBADMSG || rc == -EPROTONOSUPPORT);
	{
		/* the same bytes as a .go.buildinfo section */
		char v[64];

		rc = go_buildinfo_version(copy, size, v, sizeof(v));
		CHECK(rc == 0 || rc == -EBADMSG || rc == -EPROTONOSUPPORT);
		CHECK(rc != 0 || strlen(v) < sizeof(v));
		(void)go_version_register_abi(rc == 0 ? v : NULL);
	}
	free(copy);
	return 0;
}
