#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "reach/ledger_split.h"
#include "reach.pb-c.h"

static int split_streaming(const uint8_t *raw, size_t len, const struct ledger_split *whole);

/* A Ledger with n identities (n <= 3) of two edges each. */
static size_t pack_ledger(uint8_t *out, size_t n)
{
	static Reach__V1__IdentityReach ids[3];
	static Reach__V1__IdentityReach *id_ptrs[3];
	static Reach__V1__Edge edges[6];
	static Reach__V1__Edge *edge_ptrs[6];
	static const char *const names[3] = { "ns-a/sa", "ns-b/sa", "ns-c/sa" };
	Reach__V1__Ledger m = REACH__V1__LEDGER__INIT;

	for (size_t i = 0; i < n; i++) {
		ids[i] = (Reach__V1__IdentityReach)REACH__V1__IDENTITY_REACH__INIT;
		ids[i].identity = (char *)names[i];
		ids[i].edges_dropped = i;
		ids[i].n_edges = 2;
		ids[i].edges = &edge_ptrs[2 * i];
		for (size_t j = 0; j < 2; j++) {
			Reach__V1__Edge *e = &edges[2 * i + j];

			*e = (Reach__V1__Edge)REACH__V1__EDGE__INIT;
			e->kind = j ? REACH__V1__EDGE_KIND__EDGE_KIND_EGRESS : REACH__V1__EDGE_KIND__EDGE_KIND_SECRET;
			e->object = j ? "tcp/10.0.0.1/443" : "/run/secrets/token";
			e->count = 10 * i + j + 1;
			edge_ptrs[2 * i + j] = e;
		}
		id_ptrs[i] = &ids[i];
	}
	m.version = 1;
	m.node = "node-1";
	m.n_identities = n;
	m.identities = id_ptrs;
	m.edges_dropped = 7;
	m.identities_dropped = 2;
	m.saved_unix_ms = 1700000000123;
	return reach__v1__ledger__pack(&m, out);
}

static void test_identities_and_rest(void **state)
{
	uint8_t raw[4096];
	size_t len = pack_ledger(raw, 3);
	struct ledger_split s;
	Reach__V1__Ledger *rest;

	assert_int_equal(ledger_split(raw, len, &s), 0);
	assert_int_equal(s.n_ids, 3);
	assert_int_equal(split_streaming(raw, len, &s), 0);
	for (size_t i = 0; i < 3; i++) {
		Reach__V1__IdentityReach *id = reach__v1__identity_reach__unpack(NULL, s.ids[i].len, s.ids[i].p);

		assert_non_null(id);
		assert_string_equal(id->identity, i == 0 ? "ns-a/sa" : i == 1 ? "ns-b/sa" : "ns-c/sa");
		assert_int_equal(id->edges_dropped, i);
		assert_int_equal(id->n_edges, 2);
		assert_int_equal(id->edges[1]->count, 10 * i + 2);
		reach__v1__identity_reach__free_unpacked(id, NULL);
	}
	rest = reach__v1__ledger__unpack(NULL, s.rest_len, s.rest);
	assert_non_null(rest);
	assert_int_equal(rest->version, 1);
	assert_string_equal(rest->node, "node-1");
	assert_int_equal(rest->n_identities, 0);
	assert_int_equal(rest->edges_dropped, 7);
	assert_int_equal(rest->identities_dropped, 2);
	assert_int_equal(rest->saved_unix_ms, 1700000000123);
	reach__v1__ledger__free_unpacked(rest, NULL);
	ledger_split_free(&s);
}

static void test_empty_message(void **state)
{
	uint8_t raw[1] = { 0 };
	struct ledger_split s;

	assert_int_equal(ledger_split(raw, 0, &s), 0);
	assert_int_equal(s.n_ids, 0);
	assert_int_equal(s.rest_len, 0);
	assert_non_null(s.ids);
	assert_non_null(s.rest);
	ledger_split_free(&s);
}

/* Fields of every wire type the message does not know stay in the rest, in
 * order, wherever they are. */
static void test_unknown_fields_stay_in_rest(void **state)
{
	const uint8_t raw[] = {
		0x08, 0x01,                         /* version = 1 */
		0xf8, 0x06, 0x96, 0x01,             /* field 111 varint 150 */
		0x1a, 0x09, 0x0a, 0x07, 'n', 's', '/', 's', 'a', '-', 'x', /* identities { identity } */
		0xfd, 0x06, 1, 2, 3, 4,             /* field 111 fixed32 */
		0xf9, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, /* field 111 fixed64 */
		0xfa, 0x06, 0x02, 'h', 'i',         /* field 111 bytes */
	};
	const uint8_t want_rest[] = { 0x08, 0x01, 0xf8, 0x06, 0x96, 0x01, 0xfd, 0x06, 1, 2, 3, 4, 0xf9, 0x06, 1, 2, 3,
				      4, 5, 6, 7, 8, 0xfa, 0x06, 0x02, 'h', 'i' };
	struct ledger_split s;
	Reach__V1__Ledger *whole = reach__v1__ledger__unpack(NULL, sizeof(raw), raw), *rest;

	assert_non_null(whole); /* what protobuf-c accepts whole */
	reach__v1__ledger__free_unpacked(whole, NULL);
	assert_int_equal(ledger_split(raw, sizeof(raw), &s), 0);
	assert_int_equal(s.n_ids, 1);
	assert_int_equal(s.ids[0].len, 9);
	assert_ptr_equal(s.ids[0].p, raw + 8);
	assert_int_equal(s.rest_len, sizeof(want_rest));
	assert_memory_equal(s.rest, want_rest, sizeof(want_rest));
	rest = reach__v1__ledger__unpack(NULL, s.rest_len, s.rest);
	assert_non_null(rest);
	reach__v1__ledger__free_unpacked(rest, NULL);
	ledger_split_free(&s);
}

static void test_bad_framing(void **state)
{
	static const struct {
		const char *what;
		uint8_t b[12];
		size_t n;
	} bad[] = {
		{ "truncated varint", { 0x08, 0x80 }, 2 },
		{ "varint over 10 bytes", { 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 }, 12 },
		{ "length past the end", { 0x1a, 0x05, 0x0a, 0x00 }, 4 },
		{ "length prefix over 5 bytes", { 0x1a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 }, 7 },
		{ "tag over 5 bytes", { 0x9a, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00 }, 7 },
		{ "short fixed32", { 0x0d, 1, 2, 3 }, 4 },
		{ "short fixed64", { 0x09, 1, 2, 3, 4, 5, 6, 7 }, 8 },
		{ "group start", { 0x0b, 0x0c }, 2 },
		{ "wire type 6", { 0x0e, 0x00 }, 2 },
		{ "wire type 7", { 0x0f, 0x00 }, 2 },
	};
	struct ledger_split s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		Reach__V1__Ledger *whole = reach__v1__ledger__unpack(NULL, bad[i].n, bad[i].b);

		if (whole) /* protobuf-c must refuse it too */
			fail_msg("%s: accepted whole", bad[i].what);
		if (ledger_split(bad[i].b, bad[i].n, &s) != -EBADMSG)
			fail_msg("%s: split accepted", bad[i].what);
		if (split_streaming(bad[i].b, bad[i].n, NULL) != -EBADMSG)
			fail_msg("%s: streaming split accepted", bad[i].what);
	}
}

/* An identities field with another wire type is left in the rest, where
 * protobuf-c refuses it as it refuses the whole. */
static void test_identities_with_wrong_wire_type(void **state)
{
	const uint8_t raw[] = { 0x08, 0x01, 0x18, 0x05 }; /* version 1, field 3 varint 5 */
	struct ledger_split s;

	assert_null(reach__v1__ledger__unpack(NULL, sizeof(raw), raw));
	assert_int_equal(ledger_split(raw, sizeof(raw), &s), 0);
	assert_int_equal(s.n_ids, 0);
	assert_int_equal(s.rest_len, sizeof(raw));
	assert_null(reach__v1__ledger__unpack(NULL, s.rest_len, s.rest));
	ledger_split_free(&s);
}

/* ledger_split_field() over raw as a stream gives it: never more bytes at
 * hand than it asked for. 0 with the counts ledger_split() gives (and the
 * same identity spans), or -EBADMSG. */
static int split_streaming(const uint8_t *raw, size_t len, const struct ledger_split *whole)
{
	size_t off = 0, n_ids = 0, rest_len = 0;

	while (off < len) {
		struct ledger_field f;
		size_t have = 1, need;
		int rc;

		while ((rc = ledger_split_field(raw + off, have, len - off, &f, &need)) == 0) {
			assert_true(need > have && need <= len - off);
			have = need;
		}
		if (rc < 0)
			return rc;
		assert_int_equal(rc, 1);
		assert_true(f.len <= have);
		if (f.id.p) {
			if (whole) {
				assert_ptr_equal(f.id.p, whole->ids[n_ids].p);
				assert_int_equal(f.id.len, whole->ids[n_ids].len);
			}
			n_ids++;
		} else {
			rest_len += f.len;
		}
		off += f.len;
	}
	if (whole) {
		assert_int_equal(n_ids, whole->n_ids);
		assert_int_equal(rest_len, whole->rest_len);
	}
	return 0;
}

/* Whatever the bytes, the parts decode exactly when the whole does. */
static int decodes_whole(const uint8_t *raw, size_t len)
{
	Reach__V1__Ledger *m = reach__v1__ledger__unpack(NULL, len, raw);

	reach__v1__ledger__free_unpacked(m, NULL);
	return m != NULL;
}

static int decodes_split(const uint8_t *raw, size_t len)
{
	struct ledger_split s;
	Reach__V1__Ledger *rest;
	int ok;

	if (ledger_split(raw, len, &s)) {
		assert_int_equal(split_streaming(raw, len, NULL), -EBADMSG);
		return 0;
	}
	assert_int_equal(split_streaming(raw, len, &s), 0);
	rest = reach__v1__ledger__unpack(NULL, s.rest_len, s.rest);
	ok = rest != NULL;
	reach__v1__ledger__free_unpacked(rest, NULL);
	for (size_t i = 0; ok && i < s.n_ids; i++) {
		Reach__V1__IdentityReach *id = reach__v1__identity_reach__unpack(NULL, s.ids[i].len, s.ids[i].p);

		ok = id != NULL;
		reach__v1__identity_reach__free_unpacked(id, NULL);
	}
	ledger_split_free(&s);
	return ok;
}

static void test_parts_decode_when_the_whole_does(void **state)
{
	uint8_t good[4096], raw[4096];
	size_t len = pack_ledger(good, 3);
	unsigned seed = 12345;
	int accepted = 0;

	for (int round = 0; round < 20000; round++) {
		size_t n = len;

		memcpy(raw, good, len);
		/* one to three random bytes changed, sometimes a cut */
		for (int k = 0, changes = 1 + rand_r(&seed) % 3; k < changes; k++)
			raw[(size_t)rand_r(&seed) % len] = (uint8_t)rand_r(&seed);
		if (rand_r(&seed) % 4 == 0)
			n = (size_t)rand_r(&seed) % len;
		if (decodes_whole(raw, n) != decodes_split(raw, n))
			fail_msg("round %d: whole %d, split %d", round, decodes_whole(raw, n), decodes_split(raw, n));
		accepted += decodes_whole(raw, n);
	}
	assert_true(accepted > 1000); /* both outcomes were exercised */
	assert_true(accepted < 19000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identities_and_rest),
		cmocka_unit_test(test_empty_message),
		cmocka_unit_test(test_unknown_fields_stay_in_rest),
		cmocka_unit_test(test_bad_framing),
		cmocka_unit_test(test_identities_with_wrong_wire_type),
		cmocka_unit_test(test_parts_decode_when_the_whole_does),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
