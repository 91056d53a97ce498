// fuzz-sources: -D_GNU_SOURCE -Ibuild/proto -Ibuild user/reach/ledger.c user/common/strset.c user/reach/ledger_store.c user/reach/ledger_split.c user/reach/coverage.c user/common/intern.c user/common/hmap.c user/common/fileio.c user/common/log.c user/common/readfile.c user/common/json.c build/proto/reach.pb-c.c -lprotobuf-c -lz -lcrypto -ljson-c
/* libFuzzer target for the ledger file reader (what reachctl --ledger, the
 * agent's restart and verify --agents read: header, checksum, zlib,
 * protobuf, content checks): any bytes load or are refused with -EBADMSG
 * and a message, never a crash; a refused image leaves the ledger empty.
 * Run: tests/fuzz/run.sh [seconds]   (corpus: tests/fuzz/corpus/ledger/) */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "reach/ledger.h"
#include "reach/ledger_store.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ledger *l = ledger_new(64, 256);
	struct ledger_file_info info;
	char err[512] = "";
	int rc;

	if (!l)
		return 0;
	rc = ledger_load_image(l, data, size, &info, err, sizeof(err));
	if (rc)
		CHECK(rc < 0 && err[0]);
	ledger_free(l);
	return 0;
}
