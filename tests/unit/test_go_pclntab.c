/* .gopclntab lookups (common/go_pclntab.h) on a hand-built Go 1.18+ table:
 * a name found with its address, a missing one, older layouts refused,
 * offsets out of the table refused rather than read. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/go_pclntab.h"

static void put(uint8_t *t, size_t at, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		t[at + i] = (uint8_t)(v >> (8 * i));
}

/* header (8 + 8 words), names at 80, functab at 128 (2 funcs), _funcs at 160 */
static size_t build(uint8_t *t, uint32_t magic)
{
	memset(t, 0, 256);
	put(t, 0, magic, 4);
	t[6] = 1;
	t[7] = 8;
	put(t, 8, 2, 8);           /* nfunc */
	put(t, 24, 0x401000, 8);   /* textStart */
	put(t, 32, 80, 8);         /* funcnameOffset */
	put(t, 64, 128, 8);        /* pclnOffset */
	memcpy(t + 80, "main.main\0crypto/tls.(*Conn).Write\0", 35);
	put(t, 128, 0x10, 4);      /* func 0: entry, funcoff 32 */
	put(t, 132, 32, 4);
	put(t, 136, 0x2340, 4);    /* func 1: entry, funcoff 40 */
	put(t, 140, 40, 4);
	put(t, 160, 0x10, 4);      /* _func 0: entryOff, nameOff 0 */
	put(t, 164, 0, 4);
	put(t, 168, 0x2340, 4);    /* _func 1: nameOff 10 */
	put(t, 172, 10, 4);
	return 256;
}

static void test_found_missing_old(void **state)
{
	uint8_t t[256];
	uint64_t va = 0;
	size_t n = build(t, 0xfffffff1);

	(void)state;
	assert_int_equal(go_pclntab_lookup(t, n, "crypto/tls.(*Conn).Write", &va), 0);
	assert_int_equal(va, 0x401000 + 0x2340);
	assert_int_equal(go_pclntab_lookup(t, n, "main.main", &va), 0);
	assert_int_equal(va, 0x401010);
	assert_int_equal(go_pclntab_lookup(t, n, "crypto/tls.(*Conn).Writ", &va), -ENOENT); /* a prefix is not it */
	build(t, 0xfffffff0); /* Go 1.18/1.19 */
	assert_int_equal(go_pclntab_lookup(t, n, "main.main", &va), 0);
	build(t, 0xfffffffa); /* Go 1.16/1.17 */
	assert_int_equal(go_pclntab_lookup(t, n, "main.main", &va), -EPROTONOSUPPORT);
}

static void test_offsets_out_of_the_table(void **state)
{
	uint8_t t[256];
	uint64_t va;
	size_t n = build(t, 0xfffffff1);

	(void)state;
	put(t, 8, 1000, 8); /* nfunc past the end */
	assert_int_equal(go_pclntab_lookup(t, n, "main.main", &va), -EBADMSG);
	build(t, 0xfffffff1);
	put(t, 132, 0xfffffff0, 4); /* funcoff past the end */
	assert_int_equal(go_pclntab_lookup(t, n, "main.main", &va), -EBADMSG);
	build(t, 0xfffffff1);
	put(t, 164, 0x7ffffff0, 4); /* nameOff past the end */
	assert_int_equal(go_pclntab_lookup(t, n, "main.main", &va), -EBADMSG);
	assert_int_equal(go_pclntab_lookup(t, 7, "main.main", &va), -EBADMSG);
}

/* .go.buildinfo as Go 1.19 writes it (the bytes of a real binary's
 * section), then the older layout, a bad header, a length past the end. */
static void test_buildinfo_version(void **state)
{
	uint8_t b[64] = { 0xff, ' ', 'G', 'o', ' ', 'b', 'u', 'i', 'l', 'd', 'i', 'n', 'f', ':', 8, 2 };
	char v[32];

	(void)state;
	b[32] = 8;
	memcpy(b + 33, "go1.19.8", 8);
	assert_int_equal(go_buildinfo_version(b, 41, v, sizeof(v)), 0);
	assert_string_equal(v, "go1.19.8");
	assert_true(go_version_register_abi(v));
	assert_int_equal(go_buildinfo_version(b, 40, v, sizeof(v)), -EBADMSG); /* the string cut */
	assert_int_equal(go_buildinfo_version(b, 41, v, 8), -EBADMSG);         /* no room */
	b[15] = 0;                                                               /* pointers: before 1.18 */
	assert_int_equal(go_buildinfo_version(b, 41, v, sizeof(v)), -EPROTONOSUPPORT);
	b[15] = 2;
	b[1] = 'x';
	assert_int_equal(go_buildinfo_version(b, 41, v, sizeof(v)), -EBADMSG);
	b[1] = ' ';
	memcpy(b + 33, "xx1.19.8", 8);                                           /* not a Go version */
	assert_int_equal(go_buildinfo_version(b, 41, v, sizeof(v)), -EBADMSG);
	b[32] = 0x80;                                                            /* a varint running off */
	assert_int_equal(go_buildinfo_version(b, 33, v, sizeof(v)), -EBADMSG);
	assert_int_equal(go_buildinfo_version(NULL, 41, v, sizeof(v)), -EBADMSG);

	assert_true(go_version_register_abi("go1.17"));
	assert_true(go_version_register_abi("go1.22.3"));
	assert_true(go_version_register_abi("devel go1.23-abc"));
	assert_false(go_version_register_abi("go1.16.15"));
	assert_false(go_version_register_abi("go1.9"));
	assert_false(go_version_register_abi("go1."));
	assert_false(go_version_register_abi("gccgo"));
	assert_false(go_version_register_abi(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found_missing_old),
		cmocka_unit_test(test_offsets_out_of_the_table),
		cmocka_unit_test(test_buildinfo_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
