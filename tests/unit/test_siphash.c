/* The dedup hash the BPF programs run (include/abi/siphash.h: one source for
 * the kernel and user space) is SipHash-1-3: checked against OpenSSL's
 * SIPHASH MAC (c-rounds 1, d-rounds 3) for every length and alignment of the
 * last word, plus the bound and masking rules the kernel relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include "abi/siphash.h"

static uint64_t openssl_siphash13(const void *msg, size_t len, uint64_t k0, uint64_t k1)
{
	unsigned char key[16], out[8];
	unsigned int c_rounds = 1, d_rounds = 3;
	size_t size = 8, outl = 0;
	OSSL_PARAM params[4];
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	EVP_MAC_CTX *ctx;
	uint64_t r = 0;

	assert_non_null(mac);
	ctx = EVP_MAC_CTX_new(mac);
	assert_non_null(ctx);
	for (int i = 0; i < 8; i++) {
		key[i] = (unsigned char)(k0 >> (8 * i));
		key[8 + i] = (unsigned char)(k1 >> (8 * i));
	}
	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
	params[1] = OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_C_ROUNDS, &c_rounds);
	params[2] = OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_D_ROUNDS, &d_rounds);
	params[3] = OSSL_PARAM_construct_end();
	assert_int_equal(EVP_MAC_init(ctx, key, sizeof(key), params), 1);
	assert_int_equal(EVP_MAC_update(ctx, msg, len), 1);
	assert_int_equal(EVP_MAC_final(ctx, out, &outl, sizeof(out)), 1);
	assert_int_equal(outl, 8);
	for (int i = 0; i < 8; i++)
		r |= (uint64_t)out[i] << (8 * i);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

static void test_matches_openssl_every_length(void **state)
{
	uint64_t buf[64 / 8];
	unsigned char *b = (unsigned char *)buf;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		b[i] = (unsigned char)(i * 37 + 11);
	for (uint32_t len = 0; len <= sizeof(buf); len++)
		assert_true(reach_siphash13(buf, len, sizeof(buf), 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL) ==
			    openssl_siphash13(b, len, 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL));
}

static void test_bytes_past_len_are_not_hashed(void **state)
{
	uint64_t a[4] = { 0 }, b[4];

	(void)state;
	memcpy(a, "/etc/ssl/private/x.key", 22);
	memcpy(b, a, sizeof(a));
	((unsigned char *)b)[22] = 'Z'; /* garbage after the NUL in the kernel's buffer */
	((unsigned char *)b)[31] = 'Q';
	assert_true(reach_siphash13(a, 22, sizeof(a), 1, 2) == reach_siphash13(b, 22, sizeof(b), 1, 2));
}

static void test_key_changes_every_hash(void **state)
{
	uint64_t w[3] = { 1234, 0x801, 99 };

	(void)state;
	assert_true(reach_siphash13(w, sizeof(w), sizeof(w), 1, 2) != reach_siphash13(w, sizeof(w), sizeof(w), 1, 3));
	assert_true(reach_siphash13(w, sizeof(w), sizeof(w), 1, 2) != reach_siphash13(w, sizeof(w), sizeof(w), 4, 2));
	/* a len past the bound is the bound (the kernel never reads beyond it) */
	assert_true(reach_siphash13(w, 100, sizeof(w), 1, 2) == reach_siphash13(w, sizeof(w), sizeof(w), 1, 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_openssl_every_length),
		cmocka_unit_test(test_bytes_past_len_are_not_hashed),
		cmocka_unit_test(test_key_changes_every_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
