#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "http/fingerprint.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
	strcpy(dir, "/tmp/reach-fp-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	return 0;
}

static int teardown(void **state)
{
	char p[160];

	unlink(path);
	snprintf(p, sizeof(p), "%s/link", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sub", dir);
	rmdir(p);
	rmdir(dir);
	return 0;
}

static void write_file(const void *data, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static bool all_zero(const struct fp_key *k)
{
	static const struct fp_key zero;

	return memcmp(k, &zero, sizeof(zero)) == 0;
}

static void hmac_hex(const unsigned char *key, const void *msg, size_t len, char out[17])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	int i;

	assert_non_null(HMAC(EVP_sha256(), key, FP_KEY_SIZE, msg, len, md, &md_len));
	for (i = 0; i < 8; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

/* ---- create and load ------------------------------------------------------ */

static void test_create_then_load(void **state)
{
	struct fp_key k1, k2;
	unsigned char file[64];
	char err[256] = "";
	struct stat st;
	int fd;

	unlink(path);
	assert_int_equal(fp_key_load_or_create(path, &k1, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, FP_KEY_SIZE);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, file, sizeof(file)), FP_KEY_SIZE);
	close(fd);
	assert_memory_equal(file, k1.key, FP_KEY_SIZE);
	assert_false(all_zero(&k1));

	/* the second start loads the same key */
	assert_int_equal(fp_key_load_or_create(path, &k2, err, sizeof(err)), 0);
	assert_memory_equal(k1.key, k2.key, FP_KEY_SIZE);
	fp_key_wipe(&k1);
	assert_true(all_zero(&k1));
}

static void test_two_keys_differ(void **state)
{
	struct fp_key k1, k2;

	unlink(path);
	assert_int_equal(fp_key_load_or_create(path, &k1, NULL, 0), 0);
	unlink(path);
	assert_int_equal(fp_key_load_or_create(path, &k2, NULL, 0), 0);
	assert_memory_not_equal(k1.key, k2.key, FP_KEY_SIZE);
}

static void test_create_under_strict_umask(void **state)
{
	struct fp_key k;
	struct stat st;
	mode_t old = umask(0277);

	unlink(path);
	assert_int_equal(fp_key_load_or_create(path, &k, NULL, 0), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_hex_file(void **state)
{
	static const char hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";
	struct fp_key k;
	char err[256] = "";
	char buf[80];
	int i;

	for (i = 0; i < 2; i++) {
		/* with and without the trailing newline */
		snprintf(buf, sizeof(buf), "%s%s", hex, i ? "\n" : "");
		write_file(buf, strlen(buf), 0600);
		assert_int_equal(fp_key_load_or_create(path, &k, err, sizeof(err)), 0);
		for (int b = 0; b < FP_KEY_SIZE; b++)
			assert_int_equal(k.key[b], b);
	}
}

static void test_raw_file_read_only(void **state)
{
	unsigned char raw[FP_KEY_SIZE];
	struct fp_key k;
	size_t i;

	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(255 - i);
	write_file(raw, sizeof(raw), 0400);
	assert_int_equal(fp_key_load_or_create(path, &k, NULL, 0), 0);
	assert_memory_equal(k.key, raw, sizeof(raw));
}

static void test_symlink_followed(void **state)
{
	unsigned char raw[FP_KEY_SIZE] = { 1, 2, 3 };
	char link[160];
	struct fp_key k;

	write_file(raw, sizeof(raw), 0600);
	snprintf(link, sizeof(link), "%s/link", dir);
	unlink(link);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(fp_key_load_or_create(link, &k, NULL, 0), 0);
	assert_memory_equal(k.key, raw, sizeof(raw));
	unlink(link);
}

/* ---- refused files -------------------------------------------------------- */

static void test_group_or_other_access_refused(void **state)
{
	static const mode_t modes[] = { 0640, 0604, 0620, 0602, 0644, 0660, 0610 };
	unsigned char raw[FP_KEY_SIZE];
	struct fp_key k;
	char err[256];
	size_t i;

	memset(raw, 0x42, sizeof(raw));
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		write_file(raw, sizeof(raw), modes[i]);
		memset(&k, 0x55, sizeof(k));
		err[0] = '\0';
		assert_int_equal(fp_key_load_or_create(path, &k, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "mode"));
		assert_non_null(strstr(err, "chmod 600"));
		assert_true(all_zero(&k));
	}
}

static void test_bad_sizes(void **state)
{
	static const size_t sizes[] = { 0, 1, 31, 33, 63, 66, 100 };
	char data[128], err[256];
	struct fp_key k;
	size_t i;

	memset(data, 'a', sizeof(data));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		write_file(data, sizes[i], 0600);
		memset(&k, 0x55, sizeof(k));
		err[0] = '\0';
		assert_int_equal(fp_key_load_or_create(path, &k, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "want 32 raw bytes or 64 hex digits"));
		assert_true(all_zero(&k));
	}
	/* a file present but empty is not replaced by a new key */
	write_file(data, 0, 0600);
	assert_int_equal(fp_key_load_or_create(path, &k, NULL, 0), -EINVAL);
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
}

static void test_bad_hex(void **state)
{
	char data[80], err[256];
	struct fp_key k;

	/* 64 bytes that are not all hex; the content is never echoed */
	memcpy(data, "zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeX", 64);
	write_file(data, 64, 0600);
	assert_int_equal(fp_key_load_or_create(path, &k, err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "zz23456"));
	assert_true(all_zero(&k));
	/* 65 bytes whose last one is not a newline */
	memcpy(data, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef ", 65);
	write_file(data, 65, 0600);
	assert_int_equal(fp_key_load_or_create(path, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "newline"));
}

static void test_not_a_regular_file(void **state)
{
	char sub[160], err[256];
	struct fp_key k;

	snprintf(sub, sizeof(sub), "%s/sub", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(fp_key_load_or_create(sub, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	rmdir(sub);
	/* a FIFO must not block */
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(fp_key_load_or_create(path, &k, err, sizeof(err)), -EINVAL);
	unlink(path);
}

static void test_missing_directory(void **state)
{
	char p[160], err[256] = "";
	struct fp_key k;

	snprintf(p, sizeof(p), "%s/no/such/dir/key", dir);
	assert_int_equal(fp_key_load_or_create(p, &k, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "creating it"));
	assert_int_equal(fp_key_load_or_create("", &k, err, sizeof(err)), -EINVAL);
}

/* ---- fp_compute ----------------------------------------------------------- */

static void test_compute_matches_hmac(void **state)
{
	struct fp_key k;
	char got[17], want[17];
	static const char *const msgs[] = { "", "a", "Bearer-token-value", "\xff\x00\x01" };
	size_t i;

	for (i = 0; i < FP_KEY_SIZE; i++)
		k.key[i] = (unsigned char)(i * 13 + 1);
	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		size_t len = i == 3 ? 3 : strlen(msgs[i]);

		fp_compute(&k, msgs[i], len, got);
		hmac_hex(k.key, msgs[i], len, want);
		assert_string_equal(got, want);
		assert_int_equal(strlen(got), FP_HEX_LEN);
	}
	fp_compute(&k, NULL, 0, got);
	hmac_hex(k.key, "", 0, want);
	assert_string_equal(got, want);
}

static void test_compute_same_and_different(void **state)
{
	struct fp_key k1, k2;
	char a[17], b[17], c[17];

	memset(k1.key, 1, sizeof(k1.key));
	memset(k2.key, 2, sizeof(k2.key));
	fp_compute(&k1, "secret", 6, a);
	fp_compute(&k1, "secret", 6, b);
	assert_string_equal(a, b);
	fp_compute(&k2, "secret", 6, c);
	assert_string_not_equal(a, c);
	fp_compute(&k1, "secreT", 6, c);
	assert_string_not_equal(a, c);
	for (size_t i = 0; i < FP_HEX_LEN; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_then_load),
		cmocka_unit_test(test_two_keys_differ),
		cmocka_unit_test(test_create_under_strict_umask),
		cmocka_unit_test(test_hex_file),
		cmocka_unit_test(test_raw_file_read_only),
		cmocka_unit_test(test_symlink_followed),
		cmocka_unit_test(test_group_or_other_access_refused),
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test(test_bad_hex),
		cmocka_unit_test(test_not_a_regular_file),
		cmocka_unit_test(test_missing_directory),
		cmocka_unit_test(test_compute_matches_hmac),
		cmocka_unit_test(test_compute_same_and_different),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
