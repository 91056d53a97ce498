// fuzz-sources: user/http/reasm.c user/http/tls_hello.c
/* libFuzzer target for what joins and names captures before the HTTP/1.x
 * parser sees them: the per-connection head reassembly (pieces, offsets,
 * pipelining, the bound) and the ClientHello SNI reader. Every input is
 * also read as a sequence of pieces: [conn, flags, offset lo, len] headers. */
#include <errno.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include "http/reasm.h"
#include "http/tls_hello.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

/* Every head handed over is inside the bound and readable to its end. */
static void on_head_fn(void *ctx, const uint8_t *buf, size_t len, bool cut)
{
	volatile uint8_t sink = 0;

	(void)ctx;
	(void)cut;
	CHECK(len <= HTTP_REASM_MAX);
	for (size_t i = 0; i < len; i++)
		sink ^= buf[i];
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char sni[256];
	struct http_reasm *r;
	size_t pos = 0;
	int rc = tls_hello_sni(data, size, sni, sizeof(sni));

	CHECK(rc == 0 || rc == -ENOENT || rc == -EBADMSG);
	if (rc == 0)
		CHECK(strlen(sni) > 0 && strlen(sni) < sizeof(sni));
	http_heads_each(data, size, on_head_fn, NULL);
	r = http_reasm_new(2);
	if (!r)
		return 0;
	while (pos + 4 <= size) {
		uint8_t conn = data[pos] & 3, flags = data[pos + 1];
		uint32_t off = (uint32_t)data[pos + 2] * 64;
		size_t len = data[pos + 3];

		pos += 4;
		if (len > size - pos)
			len = size - pos;
		http_reasm_add(r, 1, conn, off, flags & 1, flags & 2, data + pos, len, on_head_fn, NULL);
		pos += len;
	}
	http_reasm_free(r);
	return 0;
}
