// fuzz-sources: -D_GNU_SOURCE user/http/dotenv.c user/http/http_head.c user/http/path_template.c user/http/fingerprint.c user/common/log.c user/common/fileio.c -lcrypto
/* libFuzzer target for the KEY=VALUE credential parser (user/http/dotenv.h):
 * any bytes as a .env file give at most DOTENV_MAX_KEYS entries, each a
 * key of the name alphabet and a 16-hex-digit fingerprint, and never a
 * crash or a read past the file.
 * Run: tests/fuzz/run.sh [seconds]   (corpus: tests/fuzz/corpus/dotenv/) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "http/dotenv.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static const struct fp_key key = { { 1, 2, 3 } };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dotenv_result res;
	char *copy = malloc(size ? size : 1); /* exact size: ASan sees any over-read */

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	dotenv_fingerprints(&key, copy, size, &res);
	CHECK(res.n <= DOTENV_MAX_KEYS);
	for (size_t i = 0; i < res.n; i++) {
		size_t kl = strnlen(res.fps[i].key, sizeof(res.fps[i].key));

		CHECK(kl > 0 && kl <= DOTENV_KEY_MAX);
		for (size_t j = 0; j < kl; j++) {
			char c = res.fps[i].key[j];

			CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			      c == '.' || c == '-');
		}
		CHECK(strlen(res.fps[i].fp) == FP_HEX_LEN);
	}
	free(copy);
	return 0;
}
