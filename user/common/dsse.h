/* DSSE (Dead Simple Signing Envelope, secure-systems-lab/dsse v1) signed
 * with Ed25519 through OpenSSL libcrypto: what an in-toto attestation is
 * wrapped in.
 *
 *   {"payloadType": TYPE, "payload": base64(BODY),
 *    "signatures": [{"keyid": KEYID, "sig": base64(SIG)}]}
 *
 * SIG = Ed25519(PAE(TYPE, BODY)), PAE = "DSSEv1" SP LEN(TYPE) SP TYPE SP
 * LEN(BODY) SP BODY (LEN: decimal byte count): the type is inside what is
 * signed, so a signature over one payload type is never accepted for another.
 * KEYID = hex SHA-256 of the public key's DER SubjectPublicKeyInfo.
 *
 * Keys are PEM files as `openssl genpkey -algorithm ed25519` and
 * `openssl pkey -pubout` write them. A private key's bytes never reach an
 * error message or a log: errors name the file and what is wrong with it. */
#ifndef REACH_DSSE_H
#define REACH_DSSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
typedef struct evp_pkey_st EVP_PKEY;

#define DSSE_KEYID_LEN 65 /* 64 hex digits and a NUL */

/* An Ed25519 private key from a PEM file: 0, or -errno with err naming the
 * file and the problem (unreadable, not a private key, not Ed25519). *out
 * to EVP_PKEY_free(). */
int dsse_load_private_key(const char *path, EVP_PKEY **out, char *err, size_t err_size);
/* The same from PEM bytes in memory (a Kubernetes Secret's value); what
 * names them in errors ("secret NS/NAME key K"). */
int dsse_load_private_key_pem(const void *pem, size_t len, const char *what, EVP_PKEY **out, char *err,
			      size_t err_size);
/* An Ed25519 public key from a PEM file (a private key's file works too: its
 * public half is used): 0 or -errno with err as above. */
int dsse_load_public_key(const char *path, EVP_PKEY **out, char *err, size_t err_size);
/* The key's id (hex SHA-256 of its public DER): 0 or -EINVAL. */
int dsse_keyid(EVP_PKEY *key, char keyid[DSSE_KEYID_LEN]);

/* The PAE bytes of type and body into a new buffer (*out to free()):
 * 0 or -ENOMEM. */
int dsse_pae(const char *type, const uint8_t *body, size_t body_len, uint8_t **out, size_t *out_len);

/* body signed with key into an envelope: NULL on failure (err says why). */
struct json_object *dsse_sign(EVP_PKEY *key, const char *type, const uint8_t *body, size_t body_len, char *err,
			      size_t err_size);

/* An envelope read back. Decoded payload and type (always, when the
 * envelope's shape is right, so a caller can inspect a payload whose
 * signature fails), and whether a signature verifies with key. */
struct dsse_opened {
	char *type;          /* to free() */
	uint8_t *body;       /* to free(); NUL-terminated for convenience */
	size_t body_len;
	bool signature_ok;   /* a signature verifies with the key */
	size_t n_signatures;
	char keyid[DSSE_KEYID_LEN]; /* of the key given */
	bool keyid_listed;   /* one signature names that keyid */
};
/* 0 (opened: check o->signature_ok), or -EINVAL when env is no envelope
 * (err says which field). */
int dsse_open(struct json_object *env, EVP_PKEY *key, struct dsse_opened *o, char *err, size_t err_size);
void dsse_opened_free(struct dsse_opened *o);

/* Standard base64 with padding (RFC 4648 section 4). encode: a new string,
 * or NULL. decode: 0 and a new buffer (NUL-terminated, *len bytes), or
 * -EINVAL for anything but canonical base64. */
char *dsse_b64_encode(const uint8_t *in, size_t len);
int dsse_b64_decode(const char *in, uint8_t **out, size_t *len);

#endif
