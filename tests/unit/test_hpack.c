/* HPACK (http/hpack.h) against RFC 7541 Appendix C, bad blocks refused,
 * HTTP/2 header blocks per connection (http/h2.h), and HTTP/2 requests read
 * by the HTTP/1 credential detector (http_parse_request_fields). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "http/h2.h"
#include "http/hpack.h"
#include "http/http_head.h"

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = 0;

	for (; h[0] && h[1]; h += 2) {
		unsigned v;

		assert_int_equal(sscanf(h, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
	}
	return n;
}

struct text {
	char s[4096];
};

static void append(void *ctx, const struct hpack_field *f)
{
	struct text *t = ctx;
	size_t l = strlen(t->s);

	snprintf(t->s + l, sizeof(t->s) - l, "%.*s: %.*s\n", (int)f->name_len, f->name, (int)f->value_len, f->value);
}

struct vector {
	const char *hex;
	const char *fields;
	size_t table_size, table_count;
};

static void run_vectors(const struct vector *v, size_t n, size_t max_table)
{
	struct hpack_decoder *d = hpack_decoder_new(max_table);
	uint8_t buf[512];

	assert_non_null(d);
	for (size_t i = 0; i < n; i++) {
		struct text t = { "" };
		size_t len = unhex(v[i].hex, buf);

		assert_int_equal(hpack_decode_block(d, buf, len, append, &t), 0);
		assert_string_equal(t.s, v[i].fields);
		assert_int_equal(hpack_table_size(d), v[i].table_size);
		assert_int_equal(hpack_table_count(d), v[i].table_count);
	}
	hpack_decoder_free(d);
}

#define REQ1 ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\n"
#define REQ2 REQ1 "cache-control: no-cache\n"
#define REQ3 ":method: GET\n:scheme: https\n:path: /index.html\n:authority: www.example.com\ncustom-key: custom-value\n"
#define RESP1 ":status: 302\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\nlocation: https://www.example.com\n"
#define RESP2 ":status: 307\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\nlocation: https://www.example.com\n"
#define RESP3                                                                                                          \
	":status: 200\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:22 GMT\nlocation: "                      \
	"https://www.example.com\ncontent-encoding: gzip\nset-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; "  \
	"version=1\n"

/* C.3: requests without Huffman, one table across the three */
static void test_c3_requests(void **state)
{
	static const struct vector v[] = {
		{ "828684410f7777772e6578616d706c652e636f6d", REQ1, 57, 1 },
		{ "828684be58086e6f2d6361636865", REQ2, 110, 2 },
		{ "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565", REQ3, 164, 3 },
	};

	(void)state;
	run_vectors(v, 3, HPACK_DEFAULT_TABLE);
}

/* C.4: the same with Huffman strings */
static void test_c4_requests_huffman(void **state)
{
	static const struct vector v[] = {
		{ "828684418cf1e3c2e5f23a6ba0ab90f4ff", REQ1, 57, 1 },
		{ "828684be5886a8eb10649cbf", REQ2, 110, 2 },
		{ "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf", REQ3, 164, 3 },
	};

	(void)state;
	run_vectors(v, 3, HPACK_DEFAULT_TABLE);
}

/* C.5 and C.6: a 256-byte table, entries evicted */
static void test_c5_c6_eviction(void **state)
{
	static const struct vector c5[] = {
		{ "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e17687474"
		  "70733a2f2f7777772e6578616d706c652e636f6d",
		  RESP1, 222, 4 },
		{ "4803333037c1c0bf", RESP2, 222, 4 },
		{ "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b"
		  "48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
		  RESP3, 215, 3 },
	};
	static const struct vector c6[] = {
		{ "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82"
		  "ae43d3",
		  RESP1, 222, 4 },
		{ "4883640effc1c0bf", RESP2, 222, 4 },
		{ "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5"
		  "af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
		  RESP3, 215, 3 },
	};

	(void)state;
	run_vectors(c5, 3, 256);
	run_vectors(c6, 3, 256);
}

/* C.2: one field of each representation */
static void test_c2_representations(void **state)
{
	static const struct vector never[] = {
		{ "100870617373776f726406736563726574", "password: secret\n", 0, 0 }, /* C.2.3 never indexed */
	};
	static const struct vector noindex[] = {
		{ "040c2f73616d706c652f70617468", ":path: /sample/path\n", 0, 0 }, /* C.2.2 */
	};
	static const struct vector indexed[] = {
		{ "82", ":method: GET\n", 0, 0 }, /* C.2.4 */
	};
	static const struct vector literal[] = {
		{ "400a637573746f6d2d6b65790d637573746f6d2d686561646572", "custom-key: custom-header\n", 55, 1 },
	};

	(void)state;
	run_vectors(never, 1, HPACK_DEFAULT_TABLE);
	run_vectors(noindex, 1, HPACK_DEFAULT_TABLE);
	run_vectors(indexed, 1, HPACK_DEFAULT_TABLE);
	run_vectors(literal, 1, HPACK_DEFAULT_TABLE);
}

static int decode_hex(struct hpack_decoder *d, const char *hex)
{
	uint8_t buf[256];

	return hpack_decode_block(d, buf, unhex(hex, buf), NULL, NULL);
}

/* Every rule broken is refused whole. */
static void test_bad_blocks_refused(void **state)
{
	static const char *const bad[] = {
		"80",           /* index 0 */
		"be",           /* index 62, table empty */
		"ff80808080808001", /* an integer over 2^28 */
		"ff",           /* an integer cut */
		"410f7777",     /* a string cut */
		"4185ffffffffff", /* Huffman: 40 bits of ones hold EOS */
		"418100",       /* Huffman padding of zeroes */
		"823f e11f",    /* a size update after a field (spaces are not hex: see below) */
		"3fe21f",       /* a size update over the limit (4096 + ...) */
	};
	uint8_t buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hpack_decoder *d = hpack_decoder_new(HPACK_DEFAULT_TABLE);

		if (strchr(bad[i], ' ')) {
			/* 0x82 then a size update 0x3f 0xe1 0x1f (4096) */
			size_t n = unhex("823fe11f", buf);

			assert_int_equal(hpack_decode_block(d, buf, n, NULL, NULL), -EBADMSG);
		} else {
			assert_int_equal(decode_hex(d, bad[i]), -EBADMSG);
		}
		hpack_decoder_free(d);
	}
}

/* Size updates: at the start of a block, down to 0 empties the table,
 * up to the limit is allowed. */
static void test_size_update(void **state)
{
	struct hpack_decoder *d = hpack_decoder_new(HPACK_DEFAULT_TABLE);

	(void)state;
	assert_int_equal(decode_hex(d, "828684410f7777772e6578616d706c652e636f6d"), 0);
	assert_int_equal(hpack_table_count(d), 1);
	assert_int_equal(decode_hex(d, "2082"), 0); /* size 0, then :method GET */
	assert_int_equal(hpack_table_count(d), 0);
	assert_int_equal(decode_hex(d, "3fe11f"), 0); /* back to 4096 */
	assert_int_equal(decode_hex(d, "410f7777772e6578616d706c652e636f6d"), 0);
	assert_int_equal(hpack_table_count(d), 1);
	hpack_decoder_free(d);
}

/* Huffman: the "www.example.com" of C.4.1 and an empty string. */
static void test_huffman(void **state)
{
	uint8_t in[32], out[64];
	size_t n = unhex("f1e3c2e5f23a6ba0ab90f4ff", in);

	(void)state;
	assert_int_equal(hpack_huffman_decode(in, n, out, sizeof(out)), 15);
	assert_memory_equal(out, "www.example.com", 15);
	assert_int_equal(hpack_huffman_decode(in, 0, out, sizeof(out)), 0);
	assert_int_equal(hpack_huffman_decode(in, n, out, 3), -EBADMSG); /* no room */
}

/* ---- h2 connections --------------------------------------------------------- */

struct reqs {
	int n;
	char text[8][1024];
};

static void on_request(void *ctx, const struct h2_request *r)
{
	struct reqs *q = ctx;
	char *t;

	assert_true(q->n < 8);
	t = q->text[q->n++];
	snprintf(t, 1024, "%u %.*s %.*s %.*s", r->stream_id, (int)r->method.value_len, r->method.value,
		 (int)r->authority.value_len, r->authority.value, (int)r->path.value_len, r->path.value);
	for (size_t i = 0; i < r->n_fields; i++) {
		size_t l = strlen(t);

		snprintf(t + l, 1024 - l, " %.*s=%.*s", (int)r->fields[i].name_len, r->fields[i].name,
			 (int)r->fields[i].value_len, r->fields[i].value);
	}
	if (r->end_stream) /* no body follows: nothing waits for a DATA frame */
		strncat(t, " END_STREAM", 1024 - strlen(t) - 1);
}

static int add_piece(struct h2_conns *c, uint64_t conn, uint32_t seq, bool preface, uint8_t type, uint8_t flags,
		     uint32_t stream, uint32_t frame_len, uint32_t off, const uint8_t *data, size_t len,
		     struct reqs *q, const char **why)
{
	struct h2_piece p = { .seq = seq, .preface = preface, .type = type, .flags = flags, .stream_id = stream,
			      .frame_len = frame_len, .frag_off = off, .data = data, .len = len };

	return h2_conns_add(c, 7, conn, &p, on_request, q, why);
}

/* C.4's three requests as HEADERS frames: one whole, one padded with
 * priority, one split over a HEADERS and a CONTINUATION in pieces. */
static void test_h2_frames_and_pieces(void **state)
{
	struct h2_conns *c = h2_conns_new(4);
	struct reqs q = { 0 };
	const char *why = NULL;
	uint8_t b1[64], b2[64], b3[64], padded[128];
	size_t n1 = unhex("828684418cf1e3c2e5f23a6ba0ab90f4ff", b1);
	size_t n2 = unhex("828684be5886a8eb10649cbf", b2);
	size_t n3 = unhex("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf", b3);
	size_t np = 0;

	(void)state;
	assert_int_equal(add_piece(c, 1, 0, true, H2_FRAME_HEADERS, H2_FLAG_END_HEADERS | H2_FLAG_END_STREAM, 1, n1, 0,
				   b1, n1, &q, &why),
			 0);
	/* padded (pad length 3) with priority (5 bytes) */
	padded[np++] = 3;
	memset(padded + np, 0, 5);
	np += 5;
	memcpy(padded + np, b2, n2);
	np += n2;
	memset(padded + np, 0, 3);
	np += 3;
	assert_int_equal(add_piece(c, 1, 1, false, H2_FRAME_HEADERS,
				   H2_FLAG_END_HEADERS | H2_FLAG_PADDED | H2_FLAG_PRIORITY, 3, np, 0, padded, np, &q,
				   &why),
			 0);
	/* HEADERS with the first 5 bytes (in two pieces), CONTINUATION with
	 * the rest: END_STREAM is the HEADERS frame's */
	assert_int_equal(add_piece(c, 1, 2, false, H2_FRAME_HEADERS, H2_FLAG_END_STREAM, 5, 5, 0, b3, 2, &q, &why), 0);
	assert_int_equal(add_piece(c, 1, 3, false, H2_FRAME_HEADERS, H2_FLAG_END_STREAM, 5, 5, 2, b3 + 2, 3, &q, &why),
			 0);
	assert_int_equal(q.n, 2);
	assert_int_equal(add_piece(c, 1, 4, false, H2_FRAME_CONTINUATION, H2_FLAG_END_HEADERS, 5, n3 - 5, 0, b3 + 5,
				   n3 - 5, &q, &why),
			 0);
	assert_int_equal(q.n, 3);
	assert_string_equal(q.text[0], "1 GET www.example.com / END_STREAM");
	assert_string_equal(q.text[1], "3 GET www.example.com / cache-control=no-cache");
	assert_string_equal(q.text[2], "5 GET www.example.com /index.html custom-key=custom-value END_STREAM");
	h2_conns_free(c);
}

/* A gap in the numbering, a connection whose start was not seen, a kernel
 * loss and a block that does not decode: lost once, with the reason, and
 * nothing decoded from it after; a new preface starts afresh. */
static void test_h2_lost(void **state)
{
	struct h2_conns *c = h2_conns_new(2);
	struct reqs q = { 0 };
	const char *why = NULL;
	uint8_t b1[64], b2[64], bad[4] = { 0xbf };
	size_t n1 = unhex("828684418cf1e3c2e5f23a6ba0ab90f4ff", b1);
	size_t n2 = unhex("828684be5886a8eb10649cbf", b2);
	struct h2_stats st;
	struct h2_piece lost = { .seq = 1, .lost = true };

	(void)state;
	assert_int_equal(add_piece(c, 1, 0, true, 1, 4, 1, n1, 0, b1, n1, &q, &why), 0);
	assert_int_equal(add_piece(c, 1, 2, false, 1, 4, 3, n2, 0, b2, n2, &q, &why), 1); /* seq 1 missing */
	assert_string_equal(why, "a frame missing");
	assert_int_equal(add_piece(c, 1, 3, false, 1, 4, 5, n2, 0, b2, n2, &q, &why), 0); /* ignored */
	assert_null(why);
	assert_int_equal(q.n, 1);

	assert_int_equal(add_piece(c, 2, 5, false, 1, 4, 9, n2, 0, b2, n2, &q, &why), 1);
	assert_string_equal(why, "connection start not seen");

	/* a new connection on conn 1 */
	assert_int_equal(add_piece(c, 1, 0, true, 1, 4, 1, n1, 0, b1, n1, &q, &why), 0);
	assert_int_equal(h2_conns_add(c, 7, 1, &lost, on_request, &q, &why), 1);
	assert_string_equal(why, "lost in the kernel");

	assert_int_equal(add_piece(c, 1, 0, true, 1, 4, 1, 1, 0, bad, 1, &q, &why), 1); /* index 63: empty table */
	assert_string_equal(why, "HPACK decoding failed");
	assert_int_equal(add_piece(c, 1, 0, true, H2_FRAME_CONTINUATION, 4, 1, n1, 0, b1, n1, &q, &why), 1);
	assert_string_equal(why, "bad frame");
	h2_conns_stats(c, &st);
	assert_int_equal(st.lost, 5);
	assert_int_equal(q.n, 2);
	h2_conns_free(c);
}

/* The least recently used connection makes room; when it speaks again it
 * is lost, not decoded against a table it no longer has. */
static void test_h2_evicted_is_lost(void **state)
{
	struct h2_conns *c = h2_conns_new(1);
	struct reqs q = { 0 };
	const char *why = NULL;
	uint8_t b1[64], b2[64];
	size_t n1 = unhex("828684418cf1e3c2e5f23a6ba0ab90f4ff", b1);
	size_t n2 = unhex("828684be5886a8eb10649cbf", b2);
	struct h2_stats st;

	(void)state;
	assert_int_equal(add_piece(c, 1, 0, true, 1, 4, 1, n1, 0, b1, n1, &q, &why), 0);
	assert_int_equal(add_piece(c, 2, 0, true, 1, 4, 1, n1, 0, b1, n1, &q, &why), 0);
	assert_int_equal(add_piece(c, 1, 1, false, 1, 4, 3, n2, 0, b2, n2, &q, &why), 1);
	assert_string_equal(why, "connection start not seen");
	h2_conns_stats(c, &st);
	assert_int_equal(st.evicted, 2);
	h2_conns_free(c);
}

/* ---- credentials ---------------------------------------------------------- */

static const struct fp_key key = { { 1, 2, 3 } };

static void test_fields_same_credentials_as_http1(void **state)
{
	static const char head[] = "POST /v1/chat/completions?api_key=sk-abcdefghijklmnopqrstuvwxyz012345 HTTP/1.1\r\n"
				   "Host: api.example.com\r\nAuthorization: Bearer tok-1234567890abcdef\r\n"
				   "Cookie: a=1; session=s3cr3t\r\nX-Auth-Token: tok-zyxwvutsrqponm\r\n\r\n";
	const struct http_field_ref f[] = {
		{ "authorization", 13, "Bearer tok-1234567890abcdef", 27 },
		{ "cookie", 6, "a=1", 3 },
		{ "x-auth-token", 12, "tok-zyxwvutsrqponm", 18 },
		{ "cookie", 6, "session=s3cr3t", 14 },
	};
	const char *path = "/v1/chat/completions?api_key=sk-abcdefghijklmnopqrstuvwxyz012345";
	struct http_request_head h1, h2;

	(void)state;
	assert_int_equal(http_parse_request_head((const uint8_t *)head, sizeof(head) - 1, &key, &h1), 0);
	assert_int_equal(http_parse_request_fields("POST", 4, path, strlen(path), "api.example.com", 15, f, 4, &key,
						   &h2),
			 0);
	assert_string_equal(h2.method, "POST");
	assert_string_equal(h2.host, "api.example.com");
	assert_string_equal(h2.path_template, h1.path_template);
	assert_int_equal(h2.n_creds, h1.n_creds);
	assert_int_equal(h2.n_creds, 4);
	/* the same (kind, where, fingerprint) set, whatever the order */
	for (int i = 0; i < h1.n_creds; i++) {
		bool found = false;

		for (int j = 0; j < h2.n_creds; j++)
			found = found || (!strcmp(h1.creds[i].kind, h2.creds[j].kind) &&
					  !strcmp(h1.creds[i].where, h2.creds[j].where) &&
					  !strcmp(h1.creds[i].fingerprint, h2.creds[j].fingerprint));
		assert_true(found);
	}
}

static void test_fields_malformed(void **state)
{
	const struct http_field_ref upper[] = { { "Authorization", 13, "Bearer x", 8 } };
	const struct http_field_ref crlf[] = { { "x-api-key", 9, "a\r\nb", 4 } };
	struct http_request_head h;

	(void)state;
	assert_int_equal(http_parse_request_fields("GET", 3, "/", 1, "h", 1, upper, 1, &key, &h), -EBADMSG);
	assert_int_equal(http_parse_request_fields("GET", 3, "/", 1, "h", 1, crlf, 1, &key, &h), -EBADMSG);
	assert_int_equal(http_parse_request_fields("GET", 3, "", 0, "h", 1, NULL, 0, &key, &h), -EBADMSG);
	assert_int_equal(http_parse_request_fields("GET", 3, "x", 1, "h", 1, NULL, 0, &key, &h), -EBADMSG);
	assert_int_equal(http_parse_request_fields("get", 3, "/", 1, "h", 1, NULL, 0, &key, &h), -ENOMSG);
	assert_int_equal(http_parse_request_fields("CONNECT", 7, "", 0, "h:443", 5, NULL, 0, &key, &h), 0);
	assert_string_equal(h.host, "h:443");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_c2_representations),
		cmocka_unit_test(test_c3_requests),
		cmocka_unit_test(test_c4_requests_huffman),
		cmocka_unit_test(test_c5_c6_eviction),
		cmocka_unit_test(test_bad_blocks_refused),
		cmocka_unit_test(test_size_update),
		cmocka_unit_test(test_huffman),
		cmocka_unit_test(test_h2_frames_and_pieces),
		cmocka_unit_test(test_h2_lost),
		cmocka_unit_test(test_h2_evicted_is_lost),
		cmocka_unit_test(test_fields_same_credentials_as_http1),
		cmocka_unit_test(test_fields_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
