#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <protobuf-c/protobuf-c.h>
#include "reach/ledger_split.h"
#include "reach.pb-c.h"

/* Parsing the field at p, of which len bytes are at hand and left remain
 * in the message (len <= left): a length, NEED (more bytes are needed: the
 * message has them, the buffer not yet) or BAD. */
#define NEED ((size_t)0)
#define BAD ((size_t)-1)

/* A field's tag as protobuf-c parses it (parse_tag_and_wiretype): at most
 * 5 bytes. (Field 0, which some versions refuse, is left to protobuf-c with
 * the other fields.) */
static size_t parse_tag(const uint8_t *p, size_t len, size_t left, uint32_t *field, unsigned *wire)
{
	size_t max = left > 5 ? 5 : left;
	uint32_t tag = 0;
	unsigned shift = 0;

	for (size_t i = 0; i < max; i++) {
		if (i >= len)
			return NEED;
		if (!i) {
			*wire = p[0] & 7;
			tag = (p[0] & 0x7f) >> 3;
			shift = 4;
		} else {
			tag |= (uint32_t)(p[i] & 0x7f) << shift;
			shift += 7;
		}
		if (!(p[i] & 0x80)) {
			*field = tag;
			return i + 1;
		}
	}
	return BAD;
}

/* Length of the value after a tag of wire type wire (NEED, BAD). *prefix
 * gets a length prefix's size. */
static size_t value_len(const uint8_t *p, size_t len, size_t left, unsigned wire, size_t *prefix)
{
	size_t max, v = 0;

	*prefix = 0;
	switch (wire) {
	case PROTOBUF_C_WIRE_TYPE_VARINT:
		max = left > 10 ? 10 : left;
		for (size_t i = 0; i < max; i++) {
			if (i >= len)
				return NEED;
			if (!(p[i] & 0x80))
				return i + 1;
		}
		return BAD;
	case PROTOBUF_C_WIRE_TYPE_64BIT:
		return left < 8 ? BAD : len < 8 ? NEED : 8;
	case PROTOBUF_C_WIRE_TYPE_32BIT:
		return left < 4 ? BAD : len < 4 ? NEED : 4;
	case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
		max = left > 5 ? 5 : left;
		for (size_t i = 0; i < max; i++) {
			if (i >= len)
				return NEED;
			v |= (size_t)(p[i] & 0x7f) << (7 * i);
			if (!(p[i] & 0x80)) {
				*prefix = i + 1;
				return v <= INT_MAX && v <= left - *prefix ? *prefix + v : BAD;
			}
		}
		return BAD;
	default: /* groups and unknown wire types: protobuf-c refuses them */
		return BAD;
	}
}

static uint32_t identities_field(void)
{
	return protobuf_c_message_descriptor_get_field_by_name(&reach__v1__ledger__descriptor, "identities")->id;
}

static int next_field(const uint8_t *p, size_t len, size_t left, uint32_t ids_field, struct ledger_field *f,
		      size_t *need)
{
	uint32_t field = 0;
	unsigned wire = 0;
	size_t tag_len, val_len, prefix;

	*need = len + 1;
	if (len > left || !left)
		return -EINVAL;
	tag_len = parse_tag(p, len, left, &field, &wire);
	if (tag_len == BAD)
		return -EBADMSG;
	if (tag_len == NEED)
		return 0;
	val_len = value_len(p + tag_len, len - tag_len, left - tag_len, wire, &prefix);
	if (val_len == BAD)
		return -EBADMSG;
	if (val_len == NEED)
		return 0;
	if (tag_len + val_len > len) { /* a length prefix read whole: the rest is known */
		*need = tag_len + val_len;
		return 0;
	}
	f->len = tag_len + val_len;
	/* wrong wire types are left to protobuf-c with the other fields */
	if (field == ids_field && wire == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
		f->id = (struct ledger_span){ p + tag_len + prefix, val_len - prefix };
	else
		f->id = (struct ledger_span){ NULL, 0 };
	return 1;
}

int ledger_split_field(const uint8_t *p, size_t len, size_t left, struct ledger_field *f, size_t *need)
{
	return next_field(p, len, left, identities_field(), f, need);
}

/* Walks the fields: counts identities and the other fields' bytes, or
 * (when s->ids and s->rest are allocated) fills them in. */
static int walk(const uint8_t *raw, size_t len, uint32_t ids_field, struct ledger_split *s)
{
	size_t off = 0, n_ids = 0, rest_len = 0, need;

	while (off < len) {
		struct ledger_field f;

		/* the whole message is at hand: never NEED */
		if (next_field(raw + off, len - off, len - off, ids_field, &f, &need) != 1)
			return -EBADMSG;
		if (f.id.p) {
			if (s->ids)
				s->ids[n_ids] = f.id;
			n_ids++;
		} else {
			if (s->rest)
				memcpy(s->rest + rest_len, raw + off, f.len);
			rest_len += f.len;
		}
		off += f.len;
	}
	s->n_ids = n_ids;
	s->rest_len = rest_len;
	return 0;
}

int ledger_split(const uint8_t *raw, size_t len, struct ledger_split *out)
{
	uint32_t ids = identities_field();
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = walk(raw, len, ids, out)))
		return rc;
	/* at least one byte each: malloc(0) may return NULL */
	out->ids = calloc(out->n_ids + 1, sizeof(*out->ids));
	out->rest = malloc(out->rest_len + 1);
	if (!out->ids || !out->rest) {
		ledger_split_free(out);
		return -ENOMEM;
	}
	return walk(raw, len, ids, out);
}

void ledger_split_free(struct ledger_split *s)
{
	free(s->ids);
	free(s->rest);
	memset(s, 0, sizeof(*s));
}
