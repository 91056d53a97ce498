#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "common/fileio.h"
#include "common/log.h"
#include "common/hex.h"
#include "http/fingerprint.h"

#define HEX_KEY_LEN (2 * FP_KEY_SIZE)

void fp_key_wipe(struct fp_key *k)
{
	if (k)
		explicit_bzero(k->key, sizeof(k->key));
}

void fp_compute(const struct fp_key *k, const void *secret, size_t len, char out[FP_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	out[0] = '\0';
	/* HMAC() with a NULL message is not guaranteed to be accepted */
	if (!HMAC(EVP_sha256(), k->key, sizeof(k->key), len ? secret : (const void *)"", len, md, &md_len) ||
	    md_len < FP_HEX_LEN / 2) {
		explicit_bzero(md, sizeof(md));
		return;
	}
	hex_encode(md, FP_HEX_LEN / 2, out);
	explicit_bzero(md, sizeof(md));
}

/* Reads the whole (already stat'ed) key file; buf holds up to HEX_KEY_LEN + 1 bytes. */
static int load_fd(int fd, const char *path, struct fp_key *k, char *err, size_t err_size)
{
	unsigned char buf[HEX_KEY_LEN + 2]; /* one more than allowed: catches a file that grew */
	struct stat st;
	size_t got = 0;
	int rc = 0, i;

	if (fstat(fd, &st) < 0) {
		rc = -errno;
		format_error(err, err_size, "fingerprint key %s: fstat: %s", path, strerror(errno));
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		format_error(err, err_size, "fingerprint key %s: not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		format_error(err, err_size,
			     "fingerprint key %s: mode %04o gives group/other access; refusing it "
			     "(chmod 600, or defaultMode: 0400 for a Secret volume)",
			     path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (st.st_size != FP_KEY_SIZE && st.st_size != HEX_KEY_LEN && st.st_size != HEX_KEY_LEN + 1) {
		format_error(err, err_size,
			     "fingerprint key %s: %lld bytes; want %d raw bytes or %d hex digits (+ optional newline)",
			     path, (long long)st.st_size, FP_KEY_SIZE, HEX_KEY_LEN);
		return -EINVAL;
	}
	while (got < sizeof(buf)) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			format_error(err, err_size, "fingerprint key %s: read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got != (size_t)st.st_size) {
		format_error(err, err_size, "fingerprint key %s: changed while being read", path);
		rc = -EIO;
		goto out;
	}
	if (got == FP_KEY_SIZE) {
		memcpy(k->key, buf, FP_KEY_SIZE);
		goto out;
	}
	if (got == HEX_KEY_LEN + 1 && buf[HEX_KEY_LEN] != '\n') {
		format_error(err, err_size, "fingerprint key %s: 65 bytes but the last one is not a newline", path);
		rc = -EINVAL;
		goto out;
	}
	for (i = 0; i < FP_KEY_SIZE; i++) {
		int hi = hex_digit_value(buf[2 * i]), lo = hex_digit_value(buf[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			format_error(err, err_size, "fingerprint key %s: %d bytes but not all hex digits", path,
				     (int)got);
			rc = -EINVAL;
			goto out;
		}
		k->key[i] = (unsigned char)(hi << 4 | lo);
	}
out:
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

static int create_key(const char *path, struct fp_key *k, char *err, size_t err_size)
{
	unsigned char buf[FP_KEY_SIZE];
	size_t got = 0;
	const char *step;
	int fd, rc;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		/* EEXIST: a concurrent creator won; the caller loads its key */
		if (rc != -EEXIST)
			format_error(err, err_size, "fingerprint key %s: creating it: %s", path, strerror(-rc));
		return rc;
	}
	step = "fchmod";
	if (fchmod(fd, 0600) < 0) /* the umask may have removed bits we need */
		goto fail;
	step = "getrandom";
	while (got < sizeof(buf)) {
		ssize_t n = getrandom(buf + got, sizeof(buf) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		got += (size_t)n;
	}
	step = "write";
	if ((rc = write_all(fd, buf, sizeof(buf)))) {
		errno = -rc;
		goto fail;
	}
	step = "fsync";
	if (fsync(fd) < 0)
		goto fail;
	step = "close";
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	rc = fsync_dir_of(path);
	if (rc < 0) {
		errno = -rc;
		step = "fsync of the directory";
		goto fail;
	}
	memcpy(k->key, buf, sizeof(buf));
	explicit_bzero(buf, sizeof(buf));
	return 0;

fail:
	rc = -errno;
	format_error(err, err_size, "fingerprint key %s: creating it: %s: %s", path, step, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(path); /* never leave a half-written key behind to be loaded next time */
	explicit_bzero(buf, sizeof(buf));
	return rc ? rc : -EIO;
}

int fp_key_load_or_create(const char *path, struct fp_key *k, char *err, size_t err_size)
{
	int attempt, rc = -ENOENT;

	if (!k) {
		format_error(err, err_size, "fingerprint key: no key to fill");
		return -EINVAL;
	}
	fp_key_wipe(k);
	if (!path || !*path) {
		format_error(err, err_size, "fingerprint key: no path");
		return -EINVAL;
	}
	/* Two rounds: when another process creates the file between our open
	 * and our O_EXCL create, load what it wrote. */
	for (attempt = 0; attempt < 2; attempt++) {
		/* O_NONBLOCK: a FIFO planted at path must not hang the agent */
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

		if (fd >= 0) {
			rc = load_fd(fd, path, k, err, err_size);
			close(fd);
			if (rc < 0)
				fp_key_wipe(k);
			return rc;
		}
		if (errno != ENOENT) {
			rc = -errno;
			format_error(err, err_size, "fingerprint key %s: open: %s", path, strerror(errno));
			return rc;
		}
		rc = create_key(path, k, err, err_size);
		if (rc != -EEXIST) {
			if (rc < 0)
				fp_key_wipe(k);
			return rc;
		}
	}
	format_error(err, err_size, "fingerprint key %s: appears and disappears while loading", path);
	return -EAGAIN;
}
