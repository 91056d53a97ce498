/* Request heads joined from pieces per connection (http/reasm.h): split
 * writes, the method alone, long heads in chunks, pipelined requests, lost
 * pieces, the bound, eviction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "http/reasm.h"

#define MAX_HEADS 8

struct got {
	int n;
	char head[MAX_HEADS][HTTP_REASM_MAX + 1];
	size_t len[MAX_HEADS];
	bool cut[MAX_HEADS];
};

static void collect(void *ctx, const uint8_t *buf, size_t len, bool cut)
{
	struct got *g = ctx;

	assert_true(g->n < MAX_HEADS);
	memcpy(g->head[g->n], buf, len);
	g->head[g->n][len] = '\0';
	g->len[g->n] = len;
	g->cut[g->n] = cut;
	g->n++;
}

static struct got got;

static int reset(void **state)
{
	(void)state;
	memset(&got, 0, sizeof(got));
	return 0;
}

static void add(struct http_reasm *r, uint64_t conn, uint32_t off, bool start, bool more, const char *s)
{
	http_reasm_add(r, 100, conn, off, start, more, (const uint8_t *)s, strlen(s), collect, &got);
}

static void test_split_head_and_method_alone(void **state)
{
	struct http_reasm *r = http_reasm_new(4);
	const char *a = "GET", *b = " /v1/models HTTP/1.1\r\nHost: h\r\n", *c = "Authorization: Bearer x\r\n\r\n";

	(void)state;
	add(r, 1, 0, true, false, a);
	assert_int_equal(got.n, 0); /* waits for the rest */
	add(r, 1, 3, false, false, b);
	assert_int_equal(got.n, 0);
	add(r, 1, 3 + strlen(b), false, false, c);
	assert_int_equal(got.n, 1);
	assert_false(got.cut[0]);
	assert_string_equal(got.head[0], "GET /v1/models HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer x\r\n\r\n");
	/* a body piece after the head: no head open any more */
	add(r, 1, 100, false, false, "{\"a\":1}");
	assert_int_equal(got.n, 1);
	struct http_reasm_stats st;
	http_reasm_stats(r, &st);
	assert_int_equal(st.orphans, 1);
	http_reasm_free(r);
}

static void test_connections_apart(void **state)
{
	struct http_reasm *r = http_reasm_new(4);

	(void)state;
	add(r, 1, 0, true, false, "GET /a HTTP/1.1\r\n");
	add(r, 2, 0, true, false, "GET /b HTTP/1.1\r\n");
	add(r, 2, 17, false, false, "X: 2\r\n\r\n");
	add(r, 1, 17, false, false, "X: 1\r\n\r\n");
	assert_int_equal(got.n, 2);
	assert_string_equal(got.head[0], "GET /b HTTP/1.1\r\nX: 2\r\n\r\n");
	assert_string_equal(got.head[1], "GET /a HTTP/1.1\r\nX: 1\r\n\r\n");
	http_reasm_free(r);
}

/* A 6 KiB head in 2 KiB chunks of one write (MORE on all but the last). */
static void test_long_head_in_chunks(void **state)
{
	static char head[6200], chunk[2049];
	struct http_reasm *r = http_reasm_new(2);
	size_t n = 0, off;

	(void)state;
	n += sprintf(head + n, "GET /x HTTP/1.1\r\nHost: h\r\n");
	while (n < 6000)
		n += sprintf(head + n, "X-Filler-%zu: %s\r\n", n, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	n += sprintf(head + n, "Authorization: Bearer last\r\n\r\n");
	for (off = 0; off < n; off += 2048) {
		size_t len = n - off < 2048 ? n - off : 2048;

		memcpy(chunk, head + off, len);
		chunk[len] = '\0';
		add(r, 7, (uint32_t)off, off == 0, off + len < n, chunk);
		assert_int_equal(got.n, off + len < n ? 0 : 1);
	}
	assert_int_equal(got.len[0], n);
	assert_memory_equal(got.head[0], head, n);
	assert_false(got.cut[0]);
	http_reasm_free(r);
}

static void test_pipelined(void **state)
{
	struct http_reasm *r = http_reasm_new(2);

	(void)state;
	/* whole captures: every head, a trailing one cut */
	assert_int_equal(http_heads_each((const uint8_t *)"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\nA: b\r\n\r\nGET /3 HT",
					 56, collect, &got), 3);
	assert_string_equal(got.head[0], "GET /1 HTTP/1.1\r\n\r\n");
	assert_string_equal(got.head[1], "GET /2 HTTP/1.1\r\nA: b\r\n\r\n");
	assert_string_equal(got.head[2], "GET /3 HT");
	assert_true(got.cut[2]);
	/* a body after the head is not a head */
	memset(&got, 0, sizeof(got));
	assert_int_equal(http_heads_each((const uint8_t *)"POST /p HTTP/1.1\r\n\r\n{}GET ", 26, collect, &got), 1);
	/* pieces: the second request's head completes in the next write */
	memset(&got, 0, sizeof(got));
	add(r, 3, 0, true, false, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n");
	assert_int_equal(got.n, 1);
	add(r, 3, 36, false, false, "Authorization: Basic eA==\r\n\r\n");
	assert_int_equal(got.n, 2);
	assert_string_equal(got.head[1], "GET /2 HTTP/1.1\r\nAuthorization: Basic eA==\r\n\r\n");
	http_reasm_free(r);
}

static void test_gap_restart_bound_eviction(void **state)
{
	static char big[HTTP_REASM_MAX];
	struct http_reasm *r = http_reasm_new(1);
	struct http_reasm_stats st;

	(void)state;
	/* a lost piece: the head is handed over cut at the gap */
	add(r, 1, 0, true, false, "GET /g HTTP/1.1\r\nA: 1\r\n");
	add(r, 1, 999, false, false, "B: 2\r\n\r\n");
	assert_int_equal(got.n, 1);
	assert_true(got.cut[0]);
	assert_string_equal(got.head[0], "GET /g HTTP/1.1\r\nA: 1\r\n");
	/* a new request on the connection cuts the open one */
	add(r, 1, 0, true, false, "GET /h HTTP/1.1\r\n");
	add(r, 1, 0, true, false, "GET /i HTTP/1.1\r\n\r\n");
	assert_int_equal(got.n, 3);
	assert_true(got.cut[1]);
	assert_false(got.cut[2]);
	/* the bound: a head that never ends is handed over at HTTP_REASM_MAX */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /big HTTP/1.1\r\nX: ", 22);
	http_reasm_add(r, 100, 5, 0, true, true, (const uint8_t *)big, 4096, collect, &got);
	http_reasm_add(r, 100, 5, 4096, false, false, (const uint8_t *)big + 4096, 4096, collect, &got);
	assert_int_equal(got.n, 4);
	assert_true(got.cut[3]);
	assert_int_equal(got.len[3], HTTP_REASM_MAX);
	/* one slot: another connection evicts the open head (dropped, counted) */
	add(r, 8, 0, true, false, "GET /e HTTP/1.1\r\n");
	add(r, 9, 0, true, false, "GET /f HTTP/1.1\r\n");
	http_reasm_stats(r, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.gaps, 1);
	add(r, 8, 17, false, false, "\r\n");
	http_reasm_stats(r, &st);
	assert_int_equal(st.orphans, 1);
	assert_int_equal(got.n, 4);
	http_reasm_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_split_head_and_method_alone, reset),
		cmocka_unit_test_setup(test_connections_apart, reset),
		cmocka_unit_test_setup(test_long_head_in_chunks, reset),
		cmocka_unit_test_setup(test_pipelined, reset),
		cmocka_unit_test_setup(test_gap_restart_bound_eviction, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
