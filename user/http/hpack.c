/* HPACK decoding (hpack.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "http/hpack.h"

struct static_entry {
	const char *name, *value;
};

/* RFC 7541 Appendix A: index 1..61 */
static const struct static_entry static_table[61] = {
	{ ":authority", "" },
	{ ":method", "GET" },
	{ ":method", "POST" },
	{ ":path", "/" },
	{ ":path", "/index.html" },
	{ ":scheme", "http" },
	{ ":scheme", "https" },
	{ ":status", "200" },
	{ ":status", "204" },
	{ ":status", "206" },
	{ ":status", "304" },
	{ ":status", "400" },
	{ ":status", "404" },
	{ ":status", "500" },
	{ "accept-charset", "" },
	{ "accept-encoding", "gzip, deflate" },
	{ "accept-language", "" },
	{ "accept-ranges", "" },
	{ "accept", "" },
	{ "access-control-allow-origin", "" },
	{ "age", "" },
	{ "allow", "" },
	{ "authorization", "" },
	{ "cache-control", "" },
	{ "content-disposition", "" },
	{ "content-encoding", "" },
	{ "content-language", "" },
	{ "content-length", "" },
	{ "content-location", "" },
	{ "content-range", "" },
	{ "content-type", "" },
	{ "cookie", "" },
	{ "date", "" },
	{ "etag", "" },
	{ "expect", "" },
	{ "expires", "" },
	{ "from", "" },
	{ "host", "" },
	{ "if-match", "" },
	{ "if-modified-since", "" },
	{ "if-none-match", "" },
	{ "if-range", "" },
	{ "if-unmodified-since", "" },
	{ "last-modified", "" },
	{ "link", "" },
	{ "location", "" },
	{ "max-forwards", "" },
	{ "proxy-authenticate", "" },
	{ "proxy-authorization", "" },
	{ "range", "" },
	{ "referer", "" },
	{ "refresh", "" },
	{ "retry-after", "" },
	{ "server", "" },
	{ "set-cookie", "" },
	{ "strict-transport-security", "" },
	{ "transfer-encoding", "" },
	{ "user-agent", "" },
	{ "vary", "" },
	{ "via", "" },
	{ "www-authenticate", "" },
};

/* RFC 7541 Appendix B: code length of each symbol (256 = EOS). The code
 * is canonical (codes of one length are consecutive, in symbol order,
 * shorter codes first), so the lengths are all a decoder needs. */
static const uint8_t huff_len[257] = {
	13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
	28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
	6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
	5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
	13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
	15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
	6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
	20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
	24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
	22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
	21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
	26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
	19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
	20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
	26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
	30,
};

/* The canonical code per length: the first code of each length, how many
 * symbols have it, and the symbols in code order. Built once. */
struct huff_tables {
	uint32_t first[31];
	uint16_t count[31];
	uint16_t start[31]; /* index in sym[] of the first symbol of a length */
	uint16_t sym[257];
	bool ready;
};

static struct huff_tables huff;

static void huff_build(void)
{
	uint32_t code = 0;
	uint16_t k = 0;

	if (huff.ready)
		return;
	for (int l = 1; l <= 30; l++) {
		huff.first[l] = code;
		huff.start[l] = k;
		for (int s = 0; s < 257; s++)
			if (huff_len[s] == l)
				huff.sym[k++] = (uint16_t)s;
		huff.count[l] = (uint16_t)(k - huff.start[l]);
		code = (code + huff.count[l]) << 1;
	}
	huff.ready = true;
}

int hpack_huffman_decode(const uint8_t *in, size_t n, uint8_t *out, size_t out_size)
{
	uint32_t code = 0;
	int bits = 0;
	size_t o = 0;
	bool ones = true; /* the bits of the pending code are all 1 (EOS prefix) */

	huff_build();
	for (size_t i = 0; i < n; i++) {
		for (int b = 7; b >= 0; b--) {
			uint32_t bit = (in[i] >> b) & 1;

			code = code << 1 | bit;
			bits++;
			ones = ones && bit;
			if (bits >= 5 && code - huff.first[bits] < huff.count[bits]) {
				uint16_t s = huff.sym[huff.start[bits] + (code - huff.first[bits])];

				if (s == 256 || o >= out_size)
					return -EBADMSG; /* RFC 7541 5.2: EOS in a string is an error */
				out[o++] = (uint8_t)s;
				code = 0;
				bits = 0;
				ones = true;
			} else if (bits >= 30) {
				return -EBADMSG; /* cannot happen with a complete code; bounds the loop */
			}
		}
	}
	/* padding: fewer than 8 bits, all ones (the EOS prefix) */
	if (bits > 7 || !ones)
		return -EBADMSG;
	return (int)o;
}

/* ---- dynamic table ---------------------------------------------------------- */

struct entry {
	size_t name_len, value_len;
	uint8_t bytes[]; /* name then value */
};

struct hpack_decoder {
	struct entry **ring; /* ring[(head + i) % cap]: i = 0 newest */
	size_t cap, head, count;
	size_t size;         /* RFC 7541 4.1 */
	size_t max_size;     /* the current maximum (size updates) */
	size_t limit;        /* what a size update may ask for */
};

struct hpack_decoder *hpack_decoder_new(size_t max_table)
{
	struct hpack_decoder *d;

	if (max_table > HPACK_MAX_TABLE)
		max_table = HPACK_MAX_TABLE;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->cap = max_table / 32 + 1; /* every entry costs at least 32 */
	d->ring = calloc(d->cap, sizeof(*d->ring));
	if (!d->ring) {
		free(d);
		return NULL;
	}
	d->max_size = d->limit = max_table;
	return d;
}

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	explicit_bzero(e->bytes, e->name_len + e->value_len);
	free(e);
}

static void evict_oldest(struct hpack_decoder *d)
{
	size_t i = (d->head + d->count - 1) % d->cap;

	d->size -= d->ring[i]->name_len + d->ring[i]->value_len + 32;
	entry_free(d->ring[i]);
	d->ring[i] = NULL;
	d->count--;
}

static void shrink_to(struct hpack_decoder *d, size_t max)
{
	while (d->count && d->size > max)
		evict_oldest(d);
}

void hpack_decoder_free(struct hpack_decoder *d)
{
	if (!d)
		return;
	shrink_to(d, 0);
	free(d->ring);
	free(d);
}

/* RFC 7541 4.4: an entry larger than the table empties it and is not added. */
static int table_add(struct hpack_decoder *d, const uint8_t *name, size_t nl, const uint8_t *value, size_t vl)
{
	size_t need = nl + vl + 32;
	struct entry *e;

	if (need > d->max_size) {
		shrink_to(d, 0);
		return 0;
	}
	shrink_to(d, d->max_size - need);
	if (d->count == d->cap)
		return -EBADMSG; /* cannot happen: cap * 32 > max_size */
	e = malloc(sizeof(*e) + nl + vl);
	if (!e)
		return -ENOMEM;
	e->name_len = nl;
	e->value_len = vl;
	memcpy(e->bytes, name, nl);
	memcpy(e->bytes + nl, value, vl);
	d->head = (d->head + d->cap - 1) % d->cap;
	d->ring[d->head] = e;
	d->count++;
	d->size += need;
	return 0;
}

size_t hpack_table_size(const struct hpack_decoder *d) { return d ? d->size : 0; }
size_t hpack_table_count(const struct hpack_decoder *d) { return d ? d->count : 0; }

int hpack_table_entry(const struct hpack_decoder *d, size_t i, struct hpack_field *out)
{
	const struct entry *e;

	if (!d || !out || i < 1 || i > d->count)
		return -ENOENT;
	e = d->ring[(d->head + i - 1) % d->cap];
	out->name = e->bytes;
	out->name_len = e->name_len;
	out->value = e->bytes + e->name_len;
	out->value_len = e->value_len;
	return 0;
}

/* Index 1..61: static; 62..: dynamic, newest first (RFC 7541 2.3.3). */
static int lookup(const struct hpack_decoder *d, uint64_t index, struct hpack_field *out)
{
	if (index == 0)
		return -EBADMSG;
	if (index <= 61) {
		const struct static_entry *s = &static_table[index - 1];

		out->name = (const uint8_t *)s->name;
		out->name_len = strlen(s->name);
		out->value = (const uint8_t *)s->value;
		out->value_len = strlen(s->value);
		return 0;
	}
	if (index - 61 > d->count)
		return -EBADMSG;
	return hpack_table_entry(d, (size_t)(index - 61), out);
}

/* ---- integers and strings ----------------------------------------------------- */

/* RFC 7541 5.1, prefix bits n. Values above 2^28 are refused: no table or
 * string reach reach's bounds there, and it keeps the shifts defined. */
static int get_int(const uint8_t *buf, size_t len, size_t *pos, int n, uint64_t *out)
{
	uint64_t max = (1u << n) - 1, v;
	int m = 0;

	if (*pos >= len)
		return -EBADMSG;
	v = buf[(*pos)++] & max;
	if (v < max) {
		*out = v;
		return 0;
	}
	for (;;) {
		uint8_t b;

		if (*pos >= len || m > 21)
			return -EBADMSG;
		b = buf[(*pos)++];
		v += (uint64_t)(b & 0x7f) << m;
		m += 7;
		if (!(b & 0x80))
			break;
	}
	if (v > (1u << 28))
		return -EBADMSG;
	*out = v;
	return 0;
}

/* RFC 7541 5.2 into out[HPACK_MAX_STRING]. */
static int get_string(const uint8_t *buf, size_t len, size_t *pos, uint8_t *out, size_t *out_len)
{
	uint64_t n;
	bool huffman;
	int rc;

	if (*pos >= len)
		return -EBADMSG;
	huffman = buf[*pos] & 0x80;
	rc = get_int(buf, len, pos, 7, &n);
	if (rc)
		return rc;
	if (n > len - *pos)
		return -EBADMSG;
	if (huffman) {
		rc = hpack_huffman_decode(buf + *pos, (size_t)n, out, HPACK_MAX_STRING);
		if (rc < 0)
			return rc;
		*out_len = (size_t)rc;
	} else {
		if (n > HPACK_MAX_STRING)
			return -EBADMSG;
		memcpy(out, buf + *pos, (size_t)n);
		*out_len = (size_t)n;
	}
	*pos += (size_t)n;
	return 0;
}

/* ---- blocks ------------------------------------------------------------------- */

struct scratch {
	uint8_t name[HPACK_MAX_STRING];
	uint8_t value[HPACK_MAX_STRING];
};

static int field(struct hpack_decoder *d, const uint8_t *buf, size_t len, size_t *pos, int prefix, bool index_it,
		 struct scratch *s, hpack_field_fn fn, void *ctx)
{
	struct hpack_field f = { 0 };
	size_t nl = 0, vl = 0;
	uint64_t index;
	int rc;

	rc = get_int(buf, len, pos, prefix, &index);
	if (rc)
		return rc;
	if (index) {
		struct hpack_field named;

		rc = lookup(d, index, &named);
		if (rc)
			return rc;
		/* copied: adding the new entry may evict the one named */
		memcpy(s->name, named.name, named.name_len);
		nl = named.name_len;
	} else {
		rc = get_string(buf, len, pos, s->name, &nl);
		if (rc)
			return rc;
	}
	rc = get_string(buf, len, pos, s->value, &vl);
	if (rc)
		goto out;
	f.name = s->name;
	f.name_len = nl;
	f.value = s->value;
	f.value_len = vl;
	if (fn)
		fn(ctx, &f);
	if (index_it)
		rc = table_add(d, s->name, nl, s->value, vl);
out:
	explicit_bzero(s->name, nl);
	explicit_bzero(s->value, vl);
	return rc;
}

int hpack_decode_block(struct hpack_decoder *d, const uint8_t *buf, size_t len, hpack_field_fn fn, void *ctx)
{
	struct scratch *s;
	bool fields_seen = false;
	size_t pos = 0;
	int rc = 0;

	if (!d || (!buf && len))
		return -EINVAL;
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	while (pos < len && !rc) {
		uint8_t b = buf[pos];

		if (b & 0x80) { /* 6.1 indexed field */
			struct hpack_field f;
			uint64_t index;

			rc = get_int(buf, len, &pos, 7, &index);
			if (!rc)
				rc = lookup(d, index, &f);
			if (!rc && fn)
				fn(ctx, &f);
			fields_seen = true;
		} else if (b & 0x40) { /* 6.2.1 literal, incremental indexing */
			rc = field(d, buf, len, &pos, 6, true, s, fn, ctx);
			fields_seen = true;
		} else if (b & 0x20) { /* 6.3 dynamic table size update */
			uint64_t max;

			/* RFC 7541 4.2: only at the start of a block */
			rc = fields_seen ? -EBADMSG : get_int(buf, len, &pos, 5, &max);
			if (!rc && max > d->limit)
				rc = -EBADMSG;
			if (!rc) {
				d->max_size = (size_t)max;
				shrink_to(d, d->max_size);
			}
		} else { /* 6.2.2 without indexing, 6.2.3 never indexed */
			rc = field(d, buf, len, &pos, 4, false, s, fn, ctx);
			fields_seen = true;
		}
	}
	free(s); /* field() wiped what it used */
	return rc;
}
