// fuzz-sources: user/mcp/jsonrpc.c user/http/path_template.c user/http/fingerprint.c user/common/log.c user/common/fileio.c -ljson-c -lcrypto
/* libFuzzer target for the MCP JSON-RPC extractor (user/mcp/jsonrpc.h):
 * any bytes, whole or cut, either yield messages or are counted and
 * skipped, never a crash; every name handed out is bounded, NUL-terminated
 * and of the allowed alphabet, and no input makes more messages than it
 * has bytes. The first byte chooses whether the capture counts as cut.
 * Run: tests/fuzz/run.sh [seconds]   (corpus: tests/fuzz/corpus/jsonrpc/) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mcp/jsonrpc.h"

static const struct fp_key key = { { 7, 1, 2, 3 } };

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static void check_name(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	CHECK(n < size);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == ':' || c == '/' || c == '@' || c == '-' || c == ',');
	}
}

/* shapes: the name alphabet plus '{', '}', '=', '+', '~' and the UTF-8 of
 * '…'; never the set separator ';' */
static void check_shapes(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	CHECK(n < size);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == ':' || c == '/' || c == '@' || c == '-' || c == ',' || c == '{' || c == '}' ||
		      c == '=' || c == '+' || c == '~' || c == '?' || c == 0xe2 || c == 0x80 || c == 0xa6);
	}
}

static void on_msg(void *ctx, const struct jsonrpc_msg *m)
{
	(*(size_t *)ctx)++;
	CHECK(m->kind >= JSONRPC_TOOLS_CALL && m->kind <= JSONRPC_OTHER);
	check_name(m->tool, sizeof(m->tool));
	check_name(m->args, sizeof(m->args));
	check_name(m->server_name, sizeof(m->server_name));
	check_shapes(m->shapes, sizeof(m->shapes));
	if (m->kind == JSONRPC_TOOLS_CALL)
		CHECK(m->tool[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jsonrpc_counts c = { 0 };
	size_t seen = 0, got;
	uint8_t *copy;

	if (!size)
		return 0;
	/* an exact-size heap copy: ASan sees any read past the capture */
	if (!(copy = malloc(size - 1 ? size - 1 : 1)))
		return 0;
	memcpy(copy, data + 1, size - 1);
	got = jsonrpc_extract(copy, size - 1, data[0] & 1, &key, on_msg, &seen, &c);
	CHECK(got == seen);
	CHECK(got == c.messages);
	CHECK(got <= size);
	free(copy);
	return 0;
}
