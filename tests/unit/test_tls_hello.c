/* The SNI of a ClientHello (http/tls_hello.h): found, absent, cut, bad. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "http/tls_hello.h"

/* A ClientHello with a session id, two suites, null compression and the
 * extensions given (raw bytes); returns its length. */
static size_t hello(uint8_t *b, const uint8_t *ext, size_t ext_len)
{
	size_t n = 0, body;

	b[n++] = 22, b[n++] = 3, b[n++] = 1, n += 2;   /* record, length later */
	b[n++] = 1, n += 3;                             /* handshake, length later */
	b[n++] = 3, b[n++] = 3;
	memset(b + n, 0xab, 32), n += 32;               /* random */
	b[n++] = 4, memset(b + n, 1, 4), n += 4;        /* session id */
	b[n++] = 0, b[n++] = 4, b[n++] = 0x13, b[n++] = 1, b[n++] = 0x13, b[n++] = 2;
	b[n++] = 1, b[n++] = 0;                          /* compression */
	b[n++] = (uint8_t)(ext_len >> 8), b[n++] = (uint8_t)ext_len;
	memcpy(b + n, ext, ext_len), n += ext_len;
	body = n - 9;
	b[3] = (uint8_t)((n - 5) >> 8), b[4] = (uint8_t)(n - 5);
	b[6] = 0, b[7] = (uint8_t)(body >> 8), b[8] = (uint8_t)body;
	return n;
}

static void test_sni(void **state)
{
	/* supported_groups first (skipped), then server_name "API.Example.com" */
	static const uint8_t ext[] = { 0, 10, 0, 4, 0, 2, 0, 29, 0, 0, 0, 20, 0, 18, 0, 0, 15, 'A', 'P', 'I', '.', 'E',
				       'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm' };
	uint8_t b[256];
	char out[64];
	size_t n = hello(b, ext, sizeof(ext));

	(void)state;
	assert_int_equal(tls_hello_sni(b, n, out, sizeof(out)), 0);
	assert_string_equal(out, "api.example.com");
	/* every cut before the end of the name fails cleanly, never "no SNI" */
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(tls_hello_sni(b, cut, out, sizeof(out)), -EBADMSG);
	/* too small an output: not a plausible name here */
	assert_int_equal(tls_hello_sni(b, n, out, 8), -EBADMSG);
	/* not a handshake record, not a ClientHello */
	b[0] = 23;
	assert_int_equal(tls_hello_sni(b, n, out, sizeof(out)), -EBADMSG);
	b[0] = 22, b[5] = 2;
	assert_int_equal(tls_hello_sni(b, n, out, sizeof(out)), -EBADMSG);
}

static void test_no_sni_and_bad_name(void **state)
{
	static const uint8_t none[] = { 0, 10, 0, 4, 0, 2, 0, 29 };
	static const uint8_t bad[] = { 0, 0, 0, 8, 0, 6, 0, 0, 3, 'a', '/', 'b' };
	uint8_t b[256];
	char out[64];

	(void)state;
	assert_int_equal(tls_hello_sni(b, hello(b, none, sizeof(none)), out, sizeof(out)), -ENOENT);
	assert_int_equal(tls_hello_sni(b, hello(b, bad, sizeof(bad)), out, sizeof(out)), -EBADMSG);
	assert_int_equal(tls_hello_sni(NULL, 10, out, sizeof(out)), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sni),
		cmocka_unit_test(test_no_sni_and_bad_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
