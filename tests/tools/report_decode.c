/* report_decode: prints one shipped reach.v1.Report as one line of JSON, for
 * the end-to-end collector fixture (tests/e2e/collector_server.py).
 *
 * usage: report_decode [FILE]     (default: stdin)
 *
 * The input is a POST body: raw protobuf or gzip (detected by 1f 8b; a raw
 * Report cannot start with 0x1f, whose wire type 7 does not exist). The
 * output is the body message of the Report with "type" (the oneof's field
 * name: reach, finding, verification, health) first, e.g.
 *   {"type":"reach","header":{...},"full_snapshot":true,"identities":[...],...}
 *
 * Every field is printed, set or not, under its .proto name, by walking the
 * protobuf-c descriptors: a field added to reach.proto shows up without a
 * change here. Enums print as their value names ("EDGE_KIND_SECRET"; the
 * number if unknown), maps as objects, 64-bit integers as JSON numbers, bytes
 * as base64, unset messages as null. Fields the decoder does not know (a
 * newer agent) are counted in "_unknown_fields".
 *
 * Exit 1 with a message on stderr for input that is not a Report. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <protobuf-c/protobuf-c.h>
#include <zlib.h>
#include "reach.pb-c.h"

#define INPUT_MAX (256u << 20)
#define RAW_MAX (1u << 30)

static const char *prog = "report_decode";

static int fail(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 1;
}

static int read_all(FILE *in, uint8_t **out, size_t *out_len)
{
	size_t cap = 65536, len = 0;
	uint8_t *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		size_t n;

		if (len == cap) {
			uint8_t *bigger;

			if (cap >= INPUT_MAX) {
				free(buf);
				return -EFBIG;
			}
			if (!(bigger = realloc(buf, cap * 2))) {
				free(buf);
				return -ENOMEM;
			}
			buf = bigger;
			cap *= 2;
		}
		n = fread(buf + len, 1, cap - len, in);
		len += n;
		if (n == 0) {
			if (ferror(in)) {
				free(buf);
				return -EIO;
			}
			break;
		}
	}
	*out = buf;
	*out_len = len;
	return 0;
}

/* One gzip member, bounded by RAW_MAX. */
static int gunzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	size_t cap = len * 4 + 1024;
	uint8_t *buf;
	z_stream zs;
	int zrc;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return -ENOMEM;
	if (!(buf = malloc(cap))) {
		inflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	do {
		if (zs.total_out == cap) {
			uint8_t *bigger = cap < RAW_MAX ? realloc(buf, cap * 2) : NULL;

			if (!bigger) {
				zrc = Z_MEM_ERROR;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		zs.next_out = buf + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		zrc = inflate(&zs, Z_NO_FLUSH);
	} while (zrc == Z_OK);
	inflateEnd(&zs);
	if (zrc != Z_STREAM_END) {
		free(buf);
		return -EBADMSG;
	}
	*out = buf;
	*out_len = zs.total_out;
	return 0;
}

/* ---- protobuf-c message -> JSON, from the descriptors ---------------------------- */

static json_object *message_json(const ProtobufCMessage *m);

static size_t value_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

static json_object *bytes_json(const ProtobufCBinaryData *b)
{
	char *text = malloc(4 * ((b->len + 2) / 3) + 1);
	json_object *j;

	if (!text)
		return NULL;
	EVP_EncodeBlock((unsigned char *)text, b->data, (int)b->len);
	j = json_object_new_string(text);
	free(text);
	return j;
}

/* The value of one (non-repeated) field or one element of a repeated one. */
static json_object *value_json(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_object_new_int(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_object_new_int64(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_object_new_int64(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return json_object_new_uint64(*(const uint64_t *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return json_object_new_double(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_object_new_double(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_object_new_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)p;
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);

		return ev ? json_object_new_string(ev->name) : json_object_new_int(v);
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;

		return json_object_new_string(s ? s : "");
	}
	case PROTOBUF_C_TYPE_BYTES:
		return bytes_json(p);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;

		return sub ? message_json(sub) : NULL; /* NULL is JSON null */
	}
	}
	return NULL;
}

/* protobuf-c represents map<K, V> as repeated KEntry {key = 1; value = 2}. */
static bool is_map_entry(const ProtobufCFieldDescriptor *f)
{
	const ProtobufCMessageDescriptor *d = f->descriptor;
	size_t n;

	if (f->type != PROTOBUF_C_TYPE_MESSAGE || !d || d->n_fields != 2)
		return false;
	n = strlen(d->name);
	return n > 5 && !strcmp(d->name + n - 5, "Entry") && !strcmp(d->fields[0].name, "key") &&
	       !strcmp(d->fields[1].name, "value");
}

static json_object *map_json(const ProtobufCFieldDescriptor *f, ProtobufCMessage *const *entries, size_t n)
{
	const ProtobufCFieldDescriptor *kf = &((const ProtobufCMessageDescriptor *)f->descriptor)->fields[0];
	const ProtobufCFieldDescriptor *vf = &((const ProtobufCMessageDescriptor *)f->descriptor)->fields[1];
	json_object *obj = json_object_new_object();

	for (size_t i = 0; i < n; i++) {
		const char *e = (const char *)entries[i];
		json_object *k = value_json(kf, e + kf->offset);
		const char *key = kf->type == PROTOBUF_C_TYPE_STRING ? json_object_get_string(k)
								       : json_object_to_json_string(k);

		json_object_object_add(obj, key, value_json(vf, e + vf->offset));
		json_object_put(k);
	}
	return obj;
}

static json_object *repeated_json(const ProtobufCFieldDescriptor *f, const char *base)
{
	size_t n = *(const size_t *)(base + f->quantifier_offset), size = value_size(f->type);
	const char *arr = *(char *const *)(base + f->offset);
	json_object *list;

	if (is_map_entry(f))
		return map_json(f, (ProtobufCMessage *const *)arr, n);
	list = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(list, value_json(f, arr + i * size));
	return list;
}

/* Adds every field of m to obj. Members of a oneof that are not set are
 * left out (the set one says which it is); an unset proto3 optional is
 * null. */
static void fields_into(json_object *obj, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		json_object *v;

		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
				continue;
			v = value_json(f, base + f->offset);
		} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			v = repeated_json(f, base);
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
			   !*(const protobuf_c_boolean *)(base + f->quantifier_offset)) {
			v = NULL;
		} else {
			v = value_json(f, base + f->offset);
		}
		json_object_object_add(obj, f->name, v);
	}
	if (m->n_unknown_fields)
		json_object_object_add(obj, "_unknown_fields", json_object_new_int64((int64_t)m->n_unknown_fields));
}

static json_object *message_json(const ProtobufCMessage *m)
{
	json_object *obj = json_object_new_object();

	fields_into(obj, m);
	return obj;
}

/* {"type": <the set oneof member>, ...its fields}. */
static json_object *report_json(const Reach__V1__Report *r)
{
	const ProtobufCMessageDescriptor *d = r->base.descriptor;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const ProtobufCMessage *body;
		json_object *obj;

		if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || (uint32_t)r->body_case != f->id)
			continue;
		body = *(ProtobufCMessage *const *)((const char *)r + f->offset);
		obj = json_object_new_object();
		json_object_object_add(obj, "type", json_object_new_string(f->name));
		if (body)
			fields_into(obj, body);
		return obj;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	uint8_t *in = NULL, *raw = NULL;
	size_t in_len = 0, raw_len = 0;
	const char *src = argc > 1 ? argv[1] : "stdin";
	Reach__V1__Report *r;
	json_object *j;
	FILE *f = stdin;
	int rc;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-' && argv[1][1])) {
		fprintf(stderr, "usage: %s [FILE]   (a reach.v1.Report, raw or gzip; default stdin)\n", prog);
		return 2;
	}
	if (argc == 2 && strcmp(argv[1], "-") && !(f = fopen(argv[1], "rb")))
		return fail("%s: cannot open", src);
	rc = read_all(f, &in, &in_len);
	if (f != stdin)
		fclose(f);
	if (rc)
		return fail("%s: read failed or input too large", src);
	if (in_len >= 2 && in[0] == 0x1f && in[1] == 0x8b) {
		if (gunzip(in, in_len, &raw, &raw_len)) {
			free(in);
			return fail("%s: gzip data does not decompress", src);
		}
		free(in);
	} else {
		raw = in;
		raw_len = in_len;
	}
	r = reach__v1__report__unpack(NULL, raw_len, raw);
	free(raw);
	if (!r)
		return fail("%s: not a reach.v1.Report (protobuf decoding failed)", src);
	if (!(j = report_json(r))) {
		reach__v1__report__free_unpacked(r, NULL);
		return fail("%s: the Report has no body (reach, finding, verification or health)", src);
	}
	printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	reach__v1__report__free_unpacked(r, NULL);
	return fflush(stdout) ? 1 : 0;
}
