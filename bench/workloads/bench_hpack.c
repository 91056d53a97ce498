/* CPU of reading credentials from HTTP/2 requests against HTTP/1 in one
 * run: N requests (default 100000) of the same shape (method, authority,
 * path with an id, a bearer, a user agent, accept), each
 *   h1: http_parse_request_head() on the HTTP/1.1 head,
 *   h2: hpack_decode_block() on the HPACK block an encoder with a dynamic
 *       table writes for it (after the first request, most fields are
 *       indexed; the path is a literal), then http_parse_request_fields().
 * Prints the CPU seconds of each and their ratio (h2/h1): the HPACK
 * decoder's own cost is the difference. A ratio within one run, on one
 * machine: no absolute figure is a claim.
 * usage: bench_hpack [N] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "http/h2.h"
#include "http/hpack.h"
#include "http/http_head.h"

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const struct fp_key key = { { 7 } };
static const char bearer[] = "Bearer reach-bench-0123456789abcdef0123";
static const char ua[] = "reach-bench/1.0";
static unsigned long sink;

static size_t literal(uint8_t *b, uint8_t first, const char *name, const char *value)
{
	size_t n = 0, vl = strlen(value);

	b[n++] = first;
	if (name) {
		b[n++] = (uint8_t)strlen(name);
		memcpy(b + n, name, strlen(name));
		n += strlen(name);
	}
	b[n++] = (uint8_t)vl;
	memcpy(b + n, value, vl);
	return n + vl;
}

struct fields {
	struct http_field_ref f[8];
	struct hpack_field method, path, authority;
	size_t n;
};

static void on_field(void *ctx, const struct hpack_field *hf)
{
	struct fields *k = ctx;

	if (hf->name_len && hf->name[0] == ':') {
		if (hf->name_len == 7 && !memcmp(hf->name, ":method", 7))
			k->method = *hf;
		else if (hf->name_len == 5 && !memcmp(hf->name, ":path", 5))
			k->path = *hf;
		else if (hf->name_len == 10 && !memcmp(hf->name, ":authority", 10))
			k->authority = *hf;
		return;
	}
	if (k->n < 8)
		k->f[k->n++] = (struct http_field_ref){ (const char *)hf->name, hf->name_len, (const char *)hf->value,
							hf->value_len };
}

/* The callback's strings are valid only during it, so the request is read
 * at the block's end from copies: what h2.c does too. */
static void on_field_copy(void *ctx, const struct hpack_field *hf);

struct copy {
	struct fields k;
	char bytes[2048];
	size_t used;
};

static void on_field_copy(void *ctx, const struct hpack_field *hf)
{
	struct copy *c = ctx;
	struct hpack_field f = *hf;

	if (c->used + hf->name_len + hf->value_len > sizeof(c->bytes))
		return;
	memcpy(c->bytes + c->used, hf->name, hf->name_len);
	f.name = (const uint8_t *)c->bytes + c->used;
	c->used += hf->name_len;
	memcpy(c->bytes + c->used, hf->value, hf->value_len);
	f.value = (const uint8_t *)c->bytes + c->used;
	c->used += hf->value_len;
	on_field(&c->k, &f);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	struct hpack_decoder *d = hpack_decoder_new(HPACK_DEFAULT_TABLE);
	struct http_request_head h;
	uint8_t first[512], next[512];
	size_t nf = 0, nn = 0;
	char head[1024], path[64];
	double t0, t_h1, t_h2;

	if (!d || n <= 0)
		return 2;
	/* the first block indexes authority, authorization, user-agent, accept */
	first[nf++] = 0x82;
	first[nf++] = 0x87;
	nf += literal(first + nf, 0x44, NULL, "/v1/models/1");
	nf += literal(first + nf, 0x41, NULL, "api.example.com");
	nf += literal(first + nf, 0x40, "authorization", bearer);
	nf += literal(first + nf, 0x40, "user-agent", ua);
	nf += literal(first + nf, 0x40, "accept", "application/json");
	if (hpack_decode_block(d, first, nf, NULL, NULL))
		return 1;
	/* every later one: the path a literal, the rest indexed (62..65) */
	t0 = cpu_s();
	for (long i = 0; i < n; i++) {
		snprintf(head, sizeof(head),
			 "GET /v1/models/%ld HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: %s\r\nUser-Agent: %s\r\n"
			 "Accept: application/json\r\n\r\n",
			 i, bearer, ua);
		if (http_parse_request_head((const uint8_t *)head, strlen(head), &key, &h) || h.n_creds != 1)
			return 1;
		sink += h.n_creds;
	}
	t_h1 = cpu_s() - t0;
	t0 = cpu_s();
	for (long i = 0; i < n; i++) {
		struct copy c = { 0 };

		nn = 0;
		next[nn++] = 0x82;
		next[nn++] = 0x87;
		snprintf(path, sizeof(path), "/v1/models/%ld", i);
		nn += literal(next + nn, 0x04, NULL, path);
		next[nn++] = 0xc1; /* :authority (oldest of the four) */
		next[nn++] = 0xc0; /* authorization */
		next[nn++] = 0xbf; /* user-agent */
		next[nn++] = 0xbe; /* accept */
		if (hpack_decode_block(d, next, nn, on_field_copy, &c))
			return 1;
		if (http_parse_request_fields((const char *)c.k.method.value, c.k.method.value_len,
					      (const char *)c.k.path.value, c.k.path.value_len,
					      (const char *)c.k.authority.value, c.k.authority.value_len, c.k.f, c.k.n,
					      &key, &h) ||
		    h.n_creds != 1)
			return 1;
		sink += h.n_creds;
	}
	t_h2 = cpu_s() - t0;
	printf("requests %ld\nh1_cpu_s %.3f\nh2_cpu_s %.3f\nratio_h2_over_h1 %.2f\nh2_us_per_request %.2f\n", n, t_h1,
	       t_h2, t_h2 / t_h1, t_h2 * 1e6 / n);
	hpack_decoder_free(d);
	return sink ? 0 : 1;
}
