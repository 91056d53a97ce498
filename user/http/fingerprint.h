/* Keyed fingerprints of credentials. A credential seen on the wire is
 * reduced at once to the first 16 hex digits of HMAC-SHA-256(key, secret):
 * the same credential gives the same fingerprint on every node that shares
 * the key, and nothing about it can be recovered without the key. The raw
 * credential never leaves the function that fingerprints it. */
#ifndef REACH_HTTP_FINGERPRINT_H
#define REACH_HTTP_FINGERPRINT_H

#include <stddef.h>

#define FP_KEY_SIZE 32
#define FP_HEX_LEN 16   /* hex digits kept; out[] needs FP_HEX_LEN + 1 */

struct fp_key {
	unsigned char key[FP_KEY_SIZE];
};

/* Loads the fingerprint key from path, or creates it when path does not
 * exist (32 bytes from getrandom(), O_EXCL, mode 0600, fsync of the file and
 * of its directory).
 * An existing file is followed through symlinks (a Kubernetes Secret volume
 * is one) and must be a regular file that neither group nor others can
 * access (mode & 077 == 0; for a Secret volume set defaultMode: 0400) and
 * hold either
 *   - exactly 32 raw bytes, or
 *   - exactly 64 hex digits (either case), optionally followed by one "\n"
 *     (handy for `openssl rand -hex 32 > key`).
 * Returns 0, or -errno with a one-line reason in err (never key bytes); on
 * error *k is zeroed. */
int fp_key_load_or_create(const char *path, struct fp_key *k, char *err, size_t err_size);

/* out = first FP_HEX_LEN lowercase hex digits of HMAC-SHA-256(k, secret[0..len)).
 * out is "" only if OpenSSL itself fails (out of memory). */
void fp_compute(const struct fp_key *k, const void *secret, size_t len, char out[FP_HEX_LEN + 1]);

/* Wipes the key (explicit_bzero): call before freeing or leaving scope. */
void fp_key_wipe(struct fp_key *k);

#endif
