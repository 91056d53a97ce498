// fuzz-sources: user/mcp/llm.c
/* libFuzzer target for the LLM call recogniser (user/mcp/llm.h): any
 * bytes as a body (whole or cut) and as a path either yield a bounded,
 * NUL-terminated name of the allowed alphabet or are counted malformed,
 * never a crash, never a read past the capture. The first byte splits
 * the input into a path and a body.
 * Run: tests/fuzz/run.sh [seconds]   (corpus: tests/fuzz/corpus/llm/) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mcp/llm.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static void check_name(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	CHECK(n < size);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == ':' || c == '/' || c == '@' || c == '-');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct llm_body b;
	struct llm_call c;
	size_t split;
	uint8_t *body;
	char *path;

	if (!size)
		return 0;
	split = data[0] % (size < 64 ? size : 64);
	if (!(path = malloc(split + 1)))
		return 0;
	memcpy(path, data + 1, split ? split - 1 : 0);
	path[split ? split - 1 : 0] = '\0';
	if (llm_classify("POST", "h", path, &c)) {
		CHECK(c.provider && c.provider[0] && c.api && c.api[0]);
		check_name(c.model, sizeof(c.model));
	}
	free(path);
	/* an exact-size heap copy: ASan sees any read past the capture */
	if (!(body = malloc(size - split ? size - split : 1)))
		return 0;
	memcpy(body, data + split, size - split);
	if (llm_body_scan(body, size - split, &b) == 0) {
		CHECK(!b.malformed);
		check_name(b.model, sizeof(b.model));
	} else {
		CHECK(b.malformed && !b.model[0] && !b.tools_offered);
	}
	free(body);
	return 0;
}
