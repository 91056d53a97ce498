#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <string.h>
#include "reach/dns.h"

#define DNS_HEADER_LEN 12
#define DNS_TYPE_A 1
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1
#define DNS_MAX_POINTERS 32  /* more jumps than any honest name needs */

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/*
 * Reads the name at *off. Writes its presentation form into out (may be
 * NULL to skip) and moves *off past the name as it stands in the message
 * (a pointer ends it). Pointers must point strictly before the position of
 * the pointer itself: a loop then cannot exist.
 */
static int read_name(const uint8_t *msg, size_t len, size_t *off, char *out, size_t out_size)
{
	size_t pos = *off, out_len = 0, name_len = 0;
	int jumps = 0;
	bool jumped = false;

	for (;;) {
		uint8_t l;

		if (pos >= len)
			return -EBADMSG;
		l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= len || ++jumps > DNS_MAX_POINTERS)
				return -EBADMSG;
			target = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
			if (target >= pos)
				return -EBADMSG; /* forward or self pointer: a possible loop */
			if (!jumped)
				*off = pos + 2;
			jumped = true;
			pos = target;
			continue;
		}
		if (l & 0xc0)
			return -EBADMSG; /* 0x40 / 0x80: reserved label types */
		if (l == 0) {
			if (!jumped)
				*off = pos + 1;
			break;
		}
		if (pos + 1 + l > len)
			return -EBADMSG;
		name_len += l + 1;
		if (name_len + 1 > 255) /* RFC 1035 3.1: 255 octets, the root's zero byte included */
			return -EBADMSG;
		if (out) {
			if (out_len + l + 2 > out_size)
				return -EBADMSG;
			if (out_len)
				out[out_len++] = '.';
			for (size_t i = 0; i < l; i++) {
				unsigned char c = msg[pos + 1 + i];

				/* keep names printable: anything odd becomes '?' */
				out[out_len++] = isgraph(c) && c != '.' ? (char)tolower(c) : '?';
			}
		}
		pos += 1 + l;
	}
	if (out) {
		if (out_size == 0)
			return -EBADMSG;
		out[out_len] = '\0';
	}
	return 0;
}

static int parse_response(const uint8_t *msg, size_t len, struct dns_response *out)
{
	size_t off = DNS_HEADER_LEN;
	uint16_t flags, qdcount, ancount;

	memset(out, 0, sizeof(*out));
	if (!msg || len < DNS_HEADER_LEN)
		return -EBADMSG;
	flags = get16(msg + 2);
	qdcount = get16(msg + 4);
	ancount = get16(msg + 6);
	if (!(flags & 0x8000))
		return -ENOMSG; /* a query */
	if (qdcount == 0)
		return -ENOMSG;
	if (qdcount > 1)
		return -EBADMSG; /* nobody sends more than one question */
	out->rcode = flags & 0x000f;

	if (read_name(msg, len, &off, out->qname, sizeof(out->qname)))
		return -EBADMSG;
	if (off + 4 > len)
		return -EBADMSG;
	out->qtype = get16(msg + off);
	off += 4;

	for (uint16_t i = 0; i < ancount; i++) {
		uint16_t type, klass, rdlen;
		uint32_t ttl;

		if (read_name(msg, len, &off, NULL, 0) || off + 10 > len)
			return -EBADMSG;
		type = get16(msg + off);
		klass = get16(msg + off + 2);
		ttl = get32(msg + off + 4);
		rdlen = get16(msg + off + 8);
		off += 10;
		if (off + rdlen > len)
			return -EBADMSG;
		if (klass == DNS_CLASS_IN && (type == DNS_TYPE_A || type == DNS_TYPE_AAAA)) {
			if ((type == DNS_TYPE_A && rdlen != 4) || (type == DNS_TYPE_AAAA && rdlen != 16))
				return -EBADMSG;
			if (out->n_answers < DNS_MAX_ANSWERS) {
				struct dns_answer *a = &out->answers[out->n_answers++];

				netaddr_from_raw(&a->addr, type == DNS_TYPE_A ? 2 : 10, msg + off);
				a->ttl = ttl & 0x7fffffff; /* RFC 2181: top bit set means 0 */
				if (ttl & 0x80000000)
					a->ttl = 0;
			} else {
				out->n_skipped++;
			}
		}
		off += rdlen;
	}
	return 0;
}

int dns_parse_response(const uint8_t *msg, size_t len, struct dns_response *out)
{
	int rc = parse_response(msg, len, out);

	if (rc)
		memset(out, 0, sizeof(*out)); /* rejected whole: nothing half-parsed is left to use */
	return rc;
}
