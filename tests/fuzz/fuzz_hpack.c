// fuzz-sources: user/http/hpack.c user/http/h2.c user/http/http_head.c user/http/path_template.c user/http/fingerprint.c user/common/log.c user/common/fileio.c -lcrypto
/* libFuzzer target for the HPACK decoder, the HTTP/2 frame joiner and the
 * HTTP/2 request reader: the input is a sequence of header-frame pieces
 * (each: 1 byte type/flags selector, 2 bytes length, the bytes) on two
 * connections, so that tables, joined frames, blocks and losses all meet
 * untrusted bytes. Never a crash; a lost connection says why.
 * Run: tests/fuzz/run.sh [seconds]   (corpus: tests/fuzz/corpus/hpack/) */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "http/h2.h"
#include "http/http_head.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static struct fp_key key;

static void on_request(void *ctx, const struct h2_request *r)
{
	struct http_field_ref f[H2_MAX_FIELDS];
	struct http_request_head h;
	int rc;

	(void)ctx;
	CHECK(r->n_fields <= H2_MAX_FIELDS);
	for (size_t i = 0; i < r->n_fields; i++) {
		f[i].name = (const char *)r->fields[i].name;
		f[i].name_len = r->fields[i].name_len;
		f[i].value = (const char *)r->fields[i].value;
		f[i].value_len = r->fields[i].value_len;
	}
	if (r->method.value_len > 16)
		return;
	rc = http_parse_request_fields((const char *)r->method.value, r->method.value_len,
				       (const char *)r->path.value, r->path.value_len,
				       (const char *)r->authority.value, r->authority.value_len, f, r->n_fields, &key,
				       &h);
	CHECK(rc == 0 || rc == -EBADMSG || rc == -ENOMSG || rc == -EINVAL);
	if (rc == 0)
		CHECK(h.n_creds <= HTTP_MAX_CREDS && memchr(h.host, 0, sizeof(h.host)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct h2_conns *c = h2_conns_new(2);
	uint32_t seq[2] = { 0, 0 };
	size_t pos = 0;

	if (!c)
		return 0;
	while (pos + 3 <= size) {
		uint8_t sel = data[pos];
		size_t n = (size_t)data[pos + 1] << 8 | data[pos + 2];
		int which = sel & 1;
		struct h2_piece p = { 0 };
		const char *why = NULL;
		uint8_t *copy;

		pos += 3;
		if (n > size - pos)
			n = size - pos;
		copy = malloc(n ? n : 1); /* exact size: ASan sees a read past it */
		if (!copy)
			break;
		memcpy(copy, data + pos, n);
		pos += n;
		p.preface = sel & 2;
		if (p.preface)
			seq[which] = 0;
		p.seq = (sel & 4) ? seq[which] + 1 : seq[which];
		seq[which]++;
		p.type = (sel & 8) ? H2_FRAME_CONTINUATION : H2_FRAME_HEADERS;
		p.flags = (sel & 0x10 ? H2_FLAG_END_HEADERS : 0) | (sel & 0x20 ? H2_FLAG_PADDED : 0) |
			  (sel & 0x40 ? H2_FLAG_PRIORITY : 0);
		p.stream_id = 1;
		/* split: the high bit says this is a frame's first half */
		p.frame_len = (uint32_t)n;
		p.data = copy;
		p.len = n;
		if (h2_conns_add(c, 1, (uint64_t)which, &p, on_request, NULL, &why))
			CHECK(why != NULL);
		free(copy);
	}
	h2_conns_free(c);
	return 0;
}
