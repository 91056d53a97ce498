#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <protobuf-c/protobuf-c.h>
#include "reach/ledger_split.h"
#include "reach.pb-c.h"

/* A field's tag as protobuf-c parses it (parse_tag_and_wiretype): at most
 * 5 bytes. Its length, or 0. (Field 0, which some versions refuse, is left
 * to protobuf-c with the other fields.) */
static size_t parse_tag(const uint8_t *p, size_t len, uint32_t *field, unsigned *wire)
{
	size_t max = len > 5 ? 5 : len;
	uint32_t tag = (p[0] & 0x7f) >> 3;
	unsigned shift = 4;

	*wire = p[0] & 7;
	if (!(p[0] & 0x80)) {
		*field = tag;
		return 1;
	}
	for (size_t i = 1; i < max; i++) {
		tag |= (uint32_t)(p[i] & 0x7f) << shift;
		if (!(p[i] & 0x80)) {
			*field = tag;
			return i + 1;
		}
		shift += 7;
	}
	return 0;
}

/* Length of the value after a tag of wire type wire, or 0 when it does not
 * parse or runs past the end. *prefix gets a length prefix's size. */
static size_t value_len(const uint8_t *p, size_t len, unsigned wire, size_t *prefix)
{
	size_t max, v = 0;

	*prefix = 0;
	switch (wire) {
	case PROTOBUF_C_WIRE_TYPE_VARINT:
		max = len > 10 ? 10 : len;
		for (size_t i = 0; i < max; i++)
			if (!(p[i] & 0x80))
				return i + 1;
		return 0;
	case PROTOBUF_C_WIRE_TYPE_64BIT:
		return len >= 8 ? 8 : 0;
	case PROTOBUF_C_WIRE_TYPE_32BIT:
		return len >= 4 ? 4 : 0;
	case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
		max = len > 5 ? 5 : len;
		for (size_t i = 0; i < max; i++) {
			v |= (size_t)(p[i] & 0x7f) << (7 * i);
			if (!(p[i] & 0x80)) {
				*prefix = i + 1;
				return v <= INT_MAX && v <= len - *prefix ? *prefix + v : 0;
			}
		}
		return 0;
	default: /* groups and unknown wire types: protobuf-c refuses them */
		return 0;
	}
}

/* Walks the fields: counts identities and the other fields' bytes, or
 * (when s->ids and s->rest are allocated) fills them in. */
static int walk(const uint8_t *raw, size_t len, uint32_t ids_field, struct ledger_split *s)
{
	size_t off = 0, n_ids = 0, rest_len = 0;

	while (off < len) {
		uint32_t field;
		unsigned wire;
		size_t tag_len = parse_tag(raw + off, len - off, &field, &wire), val_len, prefix;

		if (!tag_len || !(val_len = value_len(raw + off + tag_len, len - off - tag_len, wire, &prefix)))
			return -EBADMSG;
		if (field == ids_field && wire == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
			if (s->ids)
				s->ids[n_ids] = (struct ledger_span){ raw + off + tag_len + prefix, val_len - prefix };
			n_ids++;
		} else { /* left to protobuf-c, wrong wire types included */
			if (s->rest)
				memcpy(s->rest + rest_len, raw + off, tag_len + val_len);
			rest_len += tag_len + val_len;
		}
		off += tag_len + val_len;
	}
	s->n_ids = n_ids;
	s->rest_len = rest_len;
	return 0;
}

int ledger_split(const uint8_t *raw, size_t len, struct ledger_split *out)
{
	const ProtobufCFieldDescriptor *ids =
		protobuf_c_message_descriptor_get_field_by_name(&reach__v1__ledger__descriptor, "identities");
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = walk(raw, len, ids->id, out)))
		return rc;
	/* at least one byte each: malloc(0) may return NULL */
	out->ids = calloc(out->n_ids + 1, sizeof(*out->ids));
	out->rest = malloc(out->rest_len + 1);
	if (!out->ids || !out->rest) {
		ledger_split_free(out);
		return -ENOMEM;
	}
	return walk(raw, len, ids->id, out);
}

void ledger_split_free(struct ledger_split *s)
{
	free(s->ids);
	free(s->rest);
	memset(s, 0, sizeof(*s));
}
