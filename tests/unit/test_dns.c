#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "reach/dns.h"
#include "reach/netclass.h"

/* ---- a tiny DNS message builder ---------------------------------------- */

struct msg {
	uint8_t b[4096];
	size_t len;
};

static void put8(struct msg *m, uint8_t v)
{
	assert_true(m->len < sizeof(m->b));
	m->b[m->len++] = v;
}

static void put16(struct msg *m, uint16_t v)
{
	put8(m, (uint8_t)(v >> 8));
	put8(m, (uint8_t)v);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, (uint16_t)(v >> 16));
	put16(m, (uint16_t)v);
}

static void put_bytes(struct msg *m, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put8(m, ((const uint8_t *)p)[i]);
}

/* header: id 0x1234, flags, counts */
static void header(struct msg *m, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
	m->len = 0;
	put16(m, 0x1234);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, ns);
	put16(m, ar);
}

#define FLAGS_RESPONSE 0x8180 /* QR, RD, RA, rcode 0 */

/* "www.example.com" as labels, root terminated; returns its offset */
static size_t name(struct msg *m, const char *dotted)
{
	size_t off = m->len;
	const char *p = dotted;

	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		assert_true(l > 0 && l < 64);
		put8(m, (uint8_t)l);
		put_bytes(m, p, l);
		p += l;
		if (*p == '.')
			p++;
	}
	put8(m, 0);
	return off;
}

static void ptr(struct msg *m, size_t target)
{
	put16(m, (uint16_t)(0xc000 | target));
}

static void question(struct msg *m, const char *qname, uint16_t qtype)
{
	name(m, qname);
	put16(m, qtype);
	put16(m, 1);
}

/* Resource record header after its name: type, class IN, ttl, rdlength */
static void rr_fixed(struct msg *m, uint16_t type, uint32_t ttl, uint16_t rdlen)
{
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	put16(m, rdlen);
}

static void rr_a(struct msg *m, size_t name_ptr, uint32_t ttl, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	ptr(m, name_ptr);
	rr_fixed(m, 1, ttl, 4);
	put8(m, a);
	put8(m, b);
	put8(m, c);
	put8(m, d);
}

static void rr_aaaa(struct msg *m, size_t name_ptr, uint32_t ttl, const char *v6)
{
	struct netaddr a;

	assert_int_equal(netaddr_parse(v6, &a), 0);
	assert_int_equal(a.family, 6);
	ptr(m, name_ptr);
	rr_fixed(m, 28, ttl, 16);
	put_bytes(m, a.addr, 16);
}

static void assert_addr(const struct netaddr *a, const char *want)
{
	char buf[64];

	assert_int_equal(netaddr_format(a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
}

/* A typical response: example.com A -> 93.184.216.34 ttl 300, 1.2.3.4 ttl 60 */
static void build_two_a(struct msg *m)
{
	header(m, FLAGS_RESPONSE, 1, 2, 0, 0);
	question(m, "example.com", 1);
	rr_a(m, 12, 300, 93, 184, 216, 34);
	rr_a(m, 12, 60, 1, 2, 3, 4);
}

/* ---- valid responses --------------------------------------------------- */

static void test_a_answers_with_ttls(void **state)
{
	struct msg m;
	struct dns_response r;

	build_two_a(&m);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_string_equal(r.qname, "example.com");
	assert_int_equal(r.qtype, 1);
	assert_int_equal(r.rcode, 0);
	assert_int_equal(r.n_answers, 2);
	assert_int_equal(r.n_skipped, 0);
	assert_int_equal(r.answers[0].addr.family, 4);
	assert_addr(&r.answers[0].addr, "93.184.216.34");
	assert_int_equal(r.answers[0].ttl, 300);
	assert_addr(&r.answers[1].addr, "1.2.3.4");
	assert_int_equal(r.answers[1].ttl, 60);
}

static void test_aaaa_answers(void **state)
{
	struct msg m;
	struct dns_response r;

	header(&m, FLAGS_RESPONSE, 1, 2, 0, 0);
	question(&m, "ipv6.example.org", 28);
	rr_aaaa(&m, 12, 3600, "2001:db8::1");
	/* a v4-mapped AAAA (::ffff:10.1.2.3) becomes a v4 address */
	ptr(&m, 12);
	rr_fixed(&m, 28, 7, 16);
	put_bytes(&m, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x0a\x01\x02\x03", 16);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_string_equal(r.qname, "ipv6.example.org");
	assert_int_equal(r.qtype, 28);
	assert_int_equal(r.n_answers, 2);
	assert_int_equal(r.answers[0].addr.family, 6);
	assert_addr(&r.answers[0].addr, "2001:db8::1");
	assert_int_equal(r.answers[0].ttl, 3600);
	assert_int_equal(r.answers[1].addr.family, 4);
	assert_addr(&r.answers[1].addr, "10.1.2.3");
	assert_int_equal(r.answers[1].ttl, 7);
}

static void test_cname_chain_then_a_maps_to_question(void **state)
{
	struct msg m;
	struct dns_response r;
	size_t cname1_rdata, cname2_rdata, len_pos;

	header(&m, FLAGS_RESPONSE, 1, 3, 0, 0);
	question(&m, "api.service.com", 1);
	/* api.service.com CNAME edge.cdn.net */
	ptr(&m, 12);
	rr_fixed(&m, 5, 100, 0);
	len_pos = m.len - 2;
	cname1_rdata = name(&m, "edge.cdn.net");
	m.b[len_pos + 1] = (uint8_t)(m.len - cname1_rdata);
	/* edge.cdn.net CNAME "node7." + compressed cdn.net */
	ptr(&m, cname1_rdata);
	rr_fixed(&m, 5, 100, 0);
	len_pos = m.len - 2;
	cname2_rdata = m.len;
	put8(&m, 5);
	put_bytes(&m, "node7", 5);
	ptr(&m, cname1_rdata + 5); /* "cdn.net" inside the first rdata */
	m.b[len_pos + 1] = (uint8_t)(m.len - cname2_rdata);
	/* node7.cdn.net A 203.0.113.9 */
	rr_a(&m, cname2_rdata, 20, 203, 0, 113, 9);

	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_string_equal(r.qname, "api.service.com");
	assert_int_equal(r.n_answers, 1);
	assert_int_equal(r.n_skipped, 0);
	assert_addr(&r.answers[0].addr, "203.0.113.9");
	assert_int_equal(r.answers[0].ttl, 20);
}

static void test_uncompressed_answer_names_and_other_types_skipped(void **state)
{
	struct msg m;
	struct dns_response r;

	header(&m, FLAGS_RESPONSE, 1, 3, 0, 0);
	question(&m, "a.b", 1);
	/* TXT record (ignored), full uncompressed owner name */
	name(&m, "a.b");
	rr_fixed(&m, 16, 5, 3);
	put_bytes(&m, "\002hi", 3);
	/* A record of class CH: not IN, ignored even with odd rdlength */
	name(&m, "a.b");
	put16(&m, 1);
	put16(&m, 3);
	put32(&m, 5);
	put16(&m, 2);
	put16(&m, 0xabcd);
	/* A record, uncompressed owner */
	name(&m, "a.b");
	rr_fixed(&m, 1, 9, 4);
	put_bytes(&m, "\x08\x08\x04\x04", 4);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_int_equal(r.n_answers, 1);
	assert_addr(&r.answers[0].addr, "8.8.4.4");
	assert_int_equal(r.answers[0].ttl, 9);
}

static void test_authority_and_additional_sections_ignored(void **state)
{
	struct msg m;
	struct dns_response r;

	header(&m, FLAGS_RESPONSE, 1, 1, 1, 1);
	question(&m, "example.com", 1);
	rr_a(&m, 12, 300, 1, 1, 1, 1);
	/* NS in authority and an A glue record in additional */
	ptr(&m, 12);
	rr_fixed(&m, 2, 10, 2);
	ptr(&m, 12);
	rr_a(&m, 12, 10, 9, 9, 9, 9);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_int_equal(r.n_answers, 1);
	assert_addr(&r.answers[0].addr, "1.1.1.1");
}

static void test_multiple_answers_and_more_than_max_are_skipped(void **state)
{
	struct msg m;
	struct dns_response r;
	const unsigned total = DNS_MAX_ANSWERS + 5;

	header(&m, FLAGS_RESPONSE, 1, (uint16_t)total, 0, 0);
	question(&m, "many.example", 1);
	for (unsigned i = 0; i < total; i++)
		rr_a(&m, 12, i, 10, 0, (uint8_t)(i >> 8), (uint8_t)i);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_int_equal(r.n_answers, DNS_MAX_ANSWERS);
	assert_int_equal(r.n_skipped, 5);
	for (unsigned i = 0; i < DNS_MAX_ANSWERS; i++) {
		char want[32];

		snprintf(want, sizeof(want), "10.0.%u.%u", i >> 8, i & 0xff);
		assert_addr(&r.answers[i].addr, want);
		assert_int_equal(r.answers[i].ttl, i);
	}

	/* exactly DNS_MAX_ANSWERS: none skipped */
	header(&m, FLAGS_RESPONSE, 1, DNS_MAX_ANSWERS, 0, 0);
	question(&m, "many.example", 1);
	for (unsigned i = 0; i < DNS_MAX_ANSWERS; i++)
		rr_a(&m, 12, 1, 10, 0, 0, (uint8_t)i);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_int_equal(r.n_answers, DNS_MAX_ANSWERS);
	assert_int_equal(r.n_skipped, 0);
}

static void test_nxdomain_with_no_answers(void **state)
{
	struct msg m;
	struct dns_response r;

	header(&m, 0x8183, 1, 0, 0, 0); /* rcode 3 */
	question(&m, "nope.invalid", 1);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_int_equal(r.rcode, 3);
	assert_int_equal(r.n_answers, 0);
	assert_int_equal(r.n_skipped, 0);
	assert_string_equal(r.qname, "nope.invalid");

	/* SERVFAIL */
	header(&m, 0x8182, 1, 0, 0, 0);
	question(&m, "x.y", 1);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_int_equal(r.rcode, 2);
}

static void test_qname_lower_cased_and_odd_bytes_replaced(void **state)
{
	struct msg m;
	struct dns_response r;

	header(&m, FLAGS_RESPONSE, 1, 1, 0, 0);
	question(&m, "WwW.ExAmPlE.COM", 1);
	rr_a(&m, 12, 1, 1, 2, 3, 4);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_string_equal(r.qname, "www.example.com");

	/* a label holding a dot, a space and a NUL must not forge structure */
	header(&m, FLAGS_RESPONSE, 1, 0, 0, 0);
	put8(&m, 5);
	put_bytes(&m, "a.b \0", 5);
	put8(&m, 3);
	put_bytes(&m, "COM", 3);
	put8(&m, 0);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_string_equal(r.qname, "a?b??.com");
}

static void test_root_qname_is_empty(void **state)
{
	struct msg m;
	struct dns_response r;

	header(&m, FLAGS_RESPONSE, 1, 0, 0, 0);
	put8(&m, 0);
	put16(&m, 2);
	put16(&m, 1);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_string_equal(r.qname, "");
	assert_int_equal(r.qtype, 2);
}

static void test_ttl_top_bit_means_zero(void **state)
{
	struct msg m;
	struct dns_response r;

	header(&m, FLAGS_RESPONSE, 1, 3, 0, 0);
	question(&m, "t.example", 1);
	rr_a(&m, 12, 0x80000000u, 1, 0, 0, 1);
	rr_a(&m, 12, 0xffffffffu, 1, 0, 0, 2);
	rr_a(&m, 12, 0x7fffffffu, 1, 0, 0, 3);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_int_equal(r.n_answers, 3);
	assert_int_equal(r.answers[0].ttl, 0);
	assert_int_equal(r.answers[1].ttl, 0);
	assert_int_equal(r.answers[2].ttl, 0x7fffffffu);
}

static void test_qname_via_backward_pointer_into_header_area(void **state)
{
	struct msg m;
	struct dns_response r;

	/* A question name that is a pointer must point backwards: the only
	 * bytes before it are the header. Here ID = "\001a" and flags start with
	 * 0x81 -- not a valid label, so it must be rejected rather than read. */
	header(&m, FLAGS_RESPONSE, 1, 0, 0, 0);
	m.b[0] = 1;
	m.b[1] = 'a';
	ptr(&m, 0);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);

	/* ... whereas a pointer to a root label inside the header is a name */
	header(&m, FLAGS_RESPONSE, 1, 0, 0, 0);
	m.b[10] = 0; /* arcount high byte is already 0 */
	ptr(&m, 10);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_string_equal(r.qname, "");
}

/* ---- not a response ---------------------------------------------------- */

static void test_query_and_no_question_are_enomsg(void **state)
{
	struct msg m;
	struct dns_response r;

	header(&m, 0x0100, 1, 0, 0, 0); /* QR=0: a query */
	question(&m, "example.com", 1);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -ENOMSG);

	header(&m, FLAGS_RESPONSE, 0, 0, 0, 0); /* no question */
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -ENOMSG);

	header(&m, FLAGS_RESPONSE, 0, 1, 0, 0); /* answers but no question */
	rr_a(&m, 12, 1, 1, 2, 3, 4);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -ENOMSG);
}

/* ---- malformed --------------------------------------------------------- */

static void test_short_header_and_null(void **state)
{
	uint8_t b[12] = { 0 };
	struct dns_response r;

	b[2] = 0x81;
	b[5] = 1;
	for (size_t n = 0; n < 12; n++)
		assert_int_equal(dns_parse_response(b, n, &r), -EBADMSG);
	assert_int_equal(dns_parse_response(NULL, 100, &r), -EBADMSG);
	/* the full 12-byte header with qdcount 1 but no question */
	assert_int_equal(dns_parse_response(b, 12, &r), -EBADMSG);
}

static void check_all_prefixes(const struct msg *m, size_t answers_end)
{
	struct dns_response r;

	for (size_t n = 0; n <= m->len; n++) {
		/* exact-size heap copy so valgrind sees any read past the end */
		uint8_t *copy = malloc(n ? n : 1);
		int rc;

		assert_non_null(copy);
		memcpy(copy, m->b, n);
		rc = dns_parse_response(copy, n, &r);
		free(copy);
		if (n < answers_end)
			assert_int_equal(rc, -EBADMSG);
		else
			assert_int_equal(rc, 0);
	}
}

static void test_every_truncation_is_rejected(void **state)
{
	struct msg m;

	build_two_a(&m);
	check_all_prefixes(&m, m.len);

	header(&m, FLAGS_RESPONSE, 1, 2, 0, 0);
	question(&m, "ipv6.example.org", 28);
	rr_aaaa(&m, 12, 3600, "2001:db8::1");
	name(&m, "ipv6.example.org"); /* uncompressed owner */
	rr_fixed(&m, 28, 1, 16);
	put_bytes(&m, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
	check_all_prefixes(&m, m.len);

	/* NXDOMAIN, no answers */
	header(&m, 0x8183, 1, 0, 0, 0);
	question(&m, "nope.invalid", 1);
	check_all_prefixes(&m, m.len);

	/* with authority data the parser does not need: any prefix that keeps the
	 * answer section whole may succeed, anything shorter must not */
	header(&m, FLAGS_RESPONSE, 1, 1, 1, 0);
	question(&m, "example.com", 1);
	rr_a(&m, 12, 300, 1, 1, 1, 1);
	{
		size_t answers_end = m.len;
		struct dns_response r;

		ptr(&m, 12);
		rr_fixed(&m, 2, 10, 2);
		ptr(&m, 12);
		for (size_t n = 0; n <= m.len; n++) {
			int rc = dns_parse_response(m.b, n, &r);

			if (n < answers_end)
				assert_int_equal(rc, -EBADMSG);
			else
				assert_true(rc == 0 || rc == -EBADMSG);
		}
	}
}

static void test_self_pointer(void **state)
{
	struct msg m;
	struct dns_response r;

	/* in the question */
	header(&m, FLAGS_RESPONSE, 1, 0, 0, 0);
	ptr(&m, 12);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);

	/* in an answer owner name */
	header(&m, FLAGS_RESPONSE, 1, 1, 0, 0);
	question(&m, "example.com", 1);
	rr_a(&m, m.len, 1, 1, 2, 3, 4);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);

	/* a label followed by a pointer back to that label: "a.a.a..." forever */
	header(&m, FLAGS_RESPONSE, 1, 0, 0, 0);
	put8(&m, 1);
	put8(&m, 'a');
	ptr(&m, 12);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);
}

static void test_forward_pointer(void **state)
{
	struct msg m;
	struct dns_response r;

	/* question name pointing to a valid name further on */
	header(&m, FLAGS_RESPONSE, 1, 0, 0, 0);
	ptr(&m, 18);
	put16(&m, 1);
	put16(&m, 1);
	name(&m, "fwd.example"); /* at offset 18 */
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);

	/* answer owner name pointing forward into its own rdata */
	header(&m, FLAGS_RESPONSE, 1, 1, 0, 0);
	question(&m, "example.com", 1);
	ptr(&m, m.len + 12);
	rr_fixed(&m, 1, 1, 4);
	put_bytes(&m, "\0\0\0\0", 4);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);
}

static void test_pointer_loop_of_two(void **state)
{
	struct msg m;
	struct dns_response r;
	size_t a, b;

	/* answer owner at a points to b (after the record), b points back to a */
	header(&m, FLAGS_RESPONSE, 1, 1, 0, 0);
	question(&m, "example.com", 1);
	a = m.len;
	b = a + 16;
	ptr(&m, b);
	rr_fixed(&m, 1, 1, 4);
	put_bytes(&m, "\1\2\3\4", 4);
	assert_int_equal(m.len, b);
	ptr(&m, a);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);

	/* two labels each ending in a pointer to the other's start:
	 * X = "\1x" ptr->Y ; Y = "\1y" ptr->X */
	header(&m, FLAGS_RESPONSE, 1, 1, 0, 0);
	question(&m, "example.com", 1);
	a = m.len;
	put8(&m, 1);
	put8(&m, 'x');
	ptr(&m, a + 4);
	put8(&m, 1);
	put8(&m, 'y');
	ptr(&m, a);
	rr_fixed(&m, 1, 1, 4);
	put_bytes(&m, "\1\2\3\4", 4);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);
}

/* Answer 1: an unknown-type record whose rdata is a chain of `hops`
 * pointers, each to the one before (the first to the question name).
 * Answer 2: an A record whose owner points at the last link. */
static void build_chain(struct msg *m, int hops)
{
	size_t prev = 12, len_pos, rdata;

	header(m, FLAGS_RESPONSE, 1, 2, 0, 0);
	question(m, "example.com", 1);
	ptr(m, 12);
	rr_fixed(m, 99, 1, 0);
	len_pos = m->len - 2;
	rdata = m->len;
	for (int i = 0; i < hops; i++) {
		size_t here = m->len;

		ptr(m, prev);
		prev = here;
	}
	m->b[len_pos] = (uint8_t)((m->len - rdata) >> 8);
	m->b[len_pos + 1] = (uint8_t)(m->len - rdata);
	rr_a(m, prev, 5, 5, 6, 7, 8);
}

static void test_pointer_chain_is_bounded(void **state)
{
	struct msg m;
	struct dns_response r;

	/* every hop strictly backwards and legal, but 201 of them is more than
	 * any honest name needs */
	build_chain(&m, 200);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);

	/* 3 hops is fine */
	build_chain(&m, 2);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_int_equal(r.n_answers, 1);
	assert_addr(&r.answers[0].addr, "5.6.7.8");
}

static void test_reserved_label_bits(void **state)
{
	struct msg m;
	struct dns_response r;
	const uint8_t bad[] = { 0x40, 0x80, 0x41, 0xbf };

	for (size_t i = 0; i < sizeof(bad); i++) {
		header(&m, FLAGS_RESPONSE, 1, 0, 0, 0);
		put8(&m, bad[i]);
		put8(&m, 0);
		for (int k = 0; k < 70; k++)
			put8(&m, 'a'); /* enough bytes that a length would "fit" */
		put8(&m, 0);
		put16(&m, 1);
		put16(&m, 1);
		assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);
	}

	/* reserved bits in an answer owner name */
	header(&m, FLAGS_RESPONSE, 1, 1, 0, 0);
	question(&m, "example.com", 1);
	put8(&m, 0x40);
	put8(&m, 0);
	rr_fixed(&m, 1, 1, 4);
	put_bytes(&m, "\1\2\3\4", 4);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);
}

static void test_label_running_past_end(void **state)
{
	struct msg m;
	struct dns_response r;

	header(&m, FLAGS_RESPONSE, 1, 0, 0, 0);
	put8(&m, 10);
	put_bytes(&m, "short", 5);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);

	/* label fits exactly, but the name never ends */
	header(&m, FLAGS_RESPONSE, 1, 0, 0, 0);
	put8(&m, 5);
	put_bytes(&m, "short", 5);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);

	/* pointer with its second byte missing */
	header(&m, FLAGS_RESPONSE, 1, 0, 0, 0);
	put8(&m, 0xc0);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);

	/* question without qtype/qclass */
	header(&m, FLAGS_RESPONSE, 1, 0, 0, 0);
	name(&m, "example.com");
	put16(&m, 1);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);
}

/* A name of wire length total_wire octets (length bytes, label bytes and the
 * terminating root label), made of 63-octet labels and a remainder. */
static void long_name(struct msg *m, size_t total_wire)
{
	size_t left = total_wire - 1; /* root */

	while (left) {
		size_t l = left - 1 > 63 ? 63 : left - 1;

		assert_true(l > 0);
		put8(m, (uint8_t)l);
		for (size_t i = 0; i < l; i++)
			put8(m, 'a' + (uint8_t)(i % 26));
		left -= l + 1;
	}
	put8(m, 0);
}

static void test_name_longer_than_255(void **state)
{
	struct msg m;
	struct dns_response r;
	size_t start;

	/* 255 octets on the wire (RFC 1035 3.1 maximum): accepted, 253 chars */
	header(&m, FLAGS_RESPONSE, 1, 0, 0, 0);
	start = m.len;
	long_name(&m, 255);
	assert_int_equal(m.len - start, 255);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), 0);
	assert_int_equal(strlen(r.qname), 253);

	/* way too long: 300 octets */
	header(&m, FLAGS_RESPONSE, 1, 0, 0, 0);
	long_name(&m, 300);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);

	/* too long only when the compressed suffix is followed */
	header(&m, FLAGS_RESPONSE, 1, 1, 0, 0);
	start = m.len;
	long_name(&m, 200);
	put16(&m, 1);
	put16(&m, 1);
	put8(&m, 63);
	for (int i = 0; i < 63; i++)
		put8(&m, 'z');
	ptr(&m, start); /* 64 + 200 = 264 octets */
	rr_fixed(&m, 1, 1, 4);
	put_bytes(&m, "\1\2\3\4", 4);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);
}

static void test_name_of_256_wire_octets(void **state)
{
	struct msg m;
	struct dns_response r;
	size_t start;

	/* Was a bug (fixed): user/reach/dns.c:57-58 counts label octets + length octets but not
	 * the terminating root octet, so a 256-octet wire name (one more than
	 * RFC 1035 3.1 allows) is accepted, giving a 254-char qname. */
	header(&m, FLAGS_RESPONSE, 1, 0, 0, 0);
	start = m.len;
	long_name(&m, 256);
	assert_int_equal(m.len - start, 256);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);
}

static void test_a_with_bad_rdlength(void **state)
{
	struct msg m;
	struct dns_response r;
	const uint16_t bad_a[] = { 0, 3, 5, 16 };

	for (size_t i = 0; i < sizeof(bad_a) / sizeof(bad_a[0]); i++) {
		header(&m, FLAGS_RESPONSE, 1, 1, 0, 0);
		question(&m, "example.com", 1);
		ptr(&m, 12);
		rr_fixed(&m, 1, 1, bad_a[i]);
		for (unsigned k = 0; k < bad_a[i]; k++)
			put8(&m, 7);
		assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);
	}

	/* AAAA with rdlength 4 */
	header(&m, FLAGS_RESPONSE, 1, 1, 0, 0);
	question(&m, "example.com", 28);
	ptr(&m, 12);
	rr_fixed(&m, 28, 1, 4);
	put_bytes(&m, "\1\2\3\4", 4);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);

	/* rdlength running past the end */
	header(&m, FLAGS_RESPONSE, 1, 1, 0, 0);
	question(&m, "example.com", 1);
	ptr(&m, 12);
	rr_fixed(&m, 16, 1, 100);
	put_bytes(&m, "\1\2\3\4", 4);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);
}

static void test_counts_that_do_not_fit(void **state)
{
	struct msg m;
	struct dns_response r;

	/* qdcount 2 */
	header(&m, FLAGS_RESPONSE, 2, 0, 0, 0);
	question(&m, "a.example", 1);
	question(&m, "b.example", 1);
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);

	/* ancount 3 with 2 answers present */
	build_two_a(&m);
	m.b[7] = 3;
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);

	/* ancount 0xffff with one answer */
	build_two_a(&m);
	m.b[6] = 0xff;
	m.b[7] = 0xff;
	assert_int_equal(dns_parse_response(m.b, m.len, &r), -EBADMSG);
}

/* ---- robustness -------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static void check_invariants(int rc, const struct dns_response *r)
{
	assert_true(rc == 0 || rc == -EBADMSG || rc == -ENOMSG);
	if (rc == 0) {
		assert_non_null(memchr(r->qname, '\0', DNS_NAME_MAX));
		assert_true(r->n_answers <= DNS_MAX_ANSWERS);
		for (size_t i = 0; i < r->n_answers; i++)
			assert_true(r->answers[i].addr.family == 4 || r->answers[i].addr.family == 6);
	}
}

static void test_random_bytes(void **state)
{
	struct dns_response r;
	uint8_t buf[600];
	unsigned ok = 0;

	for (int iter = 0; iter < 200000; iter++) {
		size_t len = rnd() % sizeof(buf);
		int rc;

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rnd();
		/* bias half of them towards looking like a response */
		if ((iter & 1) && len >= 12) {
			buf[2] |= 0x80;
			buf[4] = 0;
			buf[5] = 1;
			buf[6] = 0;
			buf[7] = (uint8_t)(rnd() % 4);
		}
		rc = dns_parse_response(buf, len, &r);
		check_invariants(rc, &r);
		ok += rc == 0;
	}
	(void)ok;
}

static void test_random_mutations_of_valid_message(void **state)
{
	struct msg m;
	struct dns_response r;
	uint8_t buf[sizeof(m.b)];

	build_two_a(&m);
	for (int iter = 0; iter < 50000; iter++) {
		size_t len = m.len;
		int flips = 1 + (int)(rnd() % 4);
		int rc;

		memcpy(buf, m.b, m.len);
		for (int k = 0; k < flips; k++)
			buf[rnd() % m.len] = (uint8_t)rnd();
		if (rnd() % 4 == 0)
			len = rnd() % (m.len + 1);
		rc = dns_parse_response(buf, len, &r);
		check_invariants(rc, &r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_answers_with_ttls),
		cmocka_unit_test(test_aaaa_answers),
		cmocka_unit_test(test_cname_chain_then_a_maps_to_question),
		cmocka_unit_test(test_uncompressed_answer_names_and_other_types_skipped),
		cmocka_unit_test(test_authority_and_additional_sections_ignored),
		cmocka_unit_test(test_multiple_answers_and_more_than_max_are_skipped),
		cmocka_unit_test(test_nxdomain_with_no_answers),
		cmocka_unit_test(test_qname_lower_cased_and_odd_bytes_replaced),
		cmocka_unit_test(test_root_qname_is_empty),
		cmocka_unit_test(test_ttl_top_bit_means_zero),
		cmocka_unit_test(test_qname_via_backward_pointer_into_header_area),
		cmocka_unit_test(test_query_and_no_question_are_enomsg),
		cmocka_unit_test(test_short_header_and_null),
		cmocka_unit_test(test_every_truncation_is_rejected),
		cmocka_unit_test(test_self_pointer),
		cmocka_unit_test(test_forward_pointer),
		cmocka_unit_test(test_pointer_loop_of_two),
		cmocka_unit_test(test_pointer_chain_is_bounded),
		cmocka_unit_test(test_reserved_label_bits),
		cmocka_unit_test(test_label_running_past_end),
		cmocka_unit_test(test_name_longer_than_255),
		cmocka_unit_test(test_name_of_256_wire_octets),
		cmocka_unit_test(test_a_with_bad_rdlength),
		cmocka_unit_test(test_counts_that_do_not_fit),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_random_mutations_of_valid_message),
	};

	return cmocka_run_group_tests_name("dns", tests, NULL, NULL);
}
