/* DSSE envelopes signed with Ed25519 (dsse.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "common/dsse.h"
#include "common/hex.h"
#include "common/json.h"

static const char b64_digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *dsse_b64_encode(const uint8_t *in, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1), *p = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < len ? in[i + 2] : 0);

		*p++ = b64_digits[v >> 18 & 63];
		*p++ = b64_digits[v >> 12 & 63];
		*p++ = i + 1 < len ? b64_digits[v >> 6 & 63] : '=';
		*p++ = i + 2 < len ? b64_digits[v & 63] : '=';
	}
	*p = '\0';
	return out;
}

static int b64_value(char c)
{
	const char *at = c ? strchr(b64_digits, c) : NULL;

	return at ? (int)(at - b64_digits) : -1;
}

int dsse_b64_decode(const char *in, uint8_t **out, size_t *len)
{
	size_t n = strlen(in), k = 0;
	uint8_t *buf;

	*out = NULL;
	*len = 0;
	if (n % 4)
		return -EINVAL;
	if (!(buf = malloc(n / 4 * 3 + 1)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i += 4) {
		int a = b64_value(in[i]), b = b64_value(in[i + 1]), c = b64_value(in[i + 2]), d = b64_value(in[i + 3]);
		bool last = i + 4 == n;
		bool pad2 = last && in[i + 2] == '=' && in[i + 3] == '=', pad1 = last && !pad2 && in[i + 3] == '=';

		if (a < 0 || b < 0 || (c < 0 && !pad2) || (d < 0 && !pad1 && !pad2) ||
		    (pad2 && (b & 15)) || (pad1 && (c & 3))) { /* non-canonical trailing bits: refused */
			free(buf);
			return -EINVAL;
		}
		buf[k++] = (uint8_t)(a << 2 | b >> 4);
		if (!pad2)
			buf[k++] = (uint8_t)((b & 15) << 4 | c >> 2);
		if (!pad1 && !pad2)
			buf[k++] = (uint8_t)((c & 3) << 6 | d);
	}
	buf[k] = '\0';
	*out = buf;
	*len = k;
	return 0;
}

/* No passphrase prompt: an encrypted key is refused with a clear error. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return 0;
}

/* what: "key file PATH", "secret NS/NAME key K": errors name it, never
 * the key's bytes. */
static int load_key_bio(BIO *bio, const char *what, bool private_key, EVP_PKEY **out, char *err, size_t err_size)
{
	EVP_PKEY *key = NULL;

	*out = NULL;
	if (!private_key) {
		key = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
		if (!key) /* a private key's file: its public half */
			(void)BIO_reset(bio);
	}
	if (!key)
		key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	ERR_clear_error(); /* OpenSSL's queue holds nothing of the key, but nothing is kept */
	if (!key) {
		snprintf(err, err_size,
			 "%s: not a PEM %s key (or an encrypted one); make one with: openssl genpkey "
			 "-algorithm ed25519 -out KEY%s",
			 what, private_key ? "private" : "public or private",
			 private_key ? "" : "; openssl pkey -in KEY -pubout -out PUB");
		return -EINVAL;
	}
	if (EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
		snprintf(err, err_size, "%s: a %s key, not Ed25519 (openssl genpkey -algorithm ed25519)", what,
			 OBJ_nid2sn(EVP_PKEY_id(key)));
		EVP_PKEY_free(key);
		return -EINVAL;
	}
	*out = key;
	return 0;
}

static int load_key(const char *path, bool private_key, EVP_PKEY **out, char *err, size_t err_size)
{
	BIO *bio = BIO_new_file(path, "r");
	char what[4200];
	int e = errno;

	*out = NULL;
	if (!bio) {
		ERR_clear_error();
		snprintf(err, err_size, "key file %s: %s", path, strerror(e ? e : ENOENT));
		return e ? -e : -ENOENT;
	}
	snprintf(what, sizeof(what), "key file %s", path);
	return load_key_bio(bio, what, private_key, out, err, err_size);
}

int dsse_load_private_key_pem(const void *pem, size_t len, const char *what, EVP_PKEY **out, char *err,
			      size_t err_size)
{
	BIO *bio = len <= INT_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;

	*out = NULL;
	if (!bio) {
		ERR_clear_error();
		snprintf(err, err_size, "%s: out of memory", what);
		return -ENOMEM;
	}
	return load_key_bio(bio, what, true, out, err, err_size);
}

int dsse_load_private_key(const char *path, EVP_PKEY **out, char *err, size_t err_size)
{
	return load_key(path, true, out, err, err_size);
}

int dsse_load_public_key(const char *path, EVP_PKEY **out, char *err, size_t err_size)
{
	return load_key(path, false, out, err, err_size);
}

int dsse_keyid(EVP_PKEY *key, char keyid[DSSE_KEYID_LEN])
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	int len = i2d_PUBKEY(key, &der);
	int ok = len > 0 && EVP_Digest(der, (size_t)len, md, &md_len, EVP_sha256(), NULL) && md_len == 32;

	OPENSSL_free(der);
	keyid[0] = '\0';
	if (!ok)
		return -EINVAL;
	hex_encode(md, md_len, keyid);
	return 0;
}

int dsse_pae(const char *type, const uint8_t *body, size_t body_len, uint8_t **out, size_t *out_len)
{
	size_t tl = strlen(type), cap = tl + body_len + 64;
	uint8_t *p = malloc(cap);
	int head;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	head = snprintf((char *)p, cap, "DSSEv1 %zu %s %zu ", tl, type, body_len);
	memcpy(p + head, body, body_len);
	*out = p;
	*out_len = (size_t)head + body_len;
	return 0;
}

json_object *dsse_sign(EVP_PKEY *key, const char *type, const uint8_t *body, size_t body_len, char *err,
		       size_t err_size)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t *pae = NULL, sig[64];
	size_t pae_len = 0, sig_len = sizeof(sig);
	char keyid[DSSE_KEYID_LEN], *b64_body = NULL, *b64_sig = NULL;
	json_object *env = NULL, *sigs, *s;

	if (!ctx || dsse_pae(type, body, body_len, &pae, &pae_len) || dsse_keyid(key, keyid)) {
		snprintf(err, err_size, "signing: out of memory");
		goto out;
	}
	/* Ed25519 signs the message itself: no digest (NULL md) */
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 || EVP_DigestSign(ctx, sig, &sig_len, pae, pae_len) != 1) {
		ERR_clear_error();
		snprintf(err, err_size, "signing with the Ed25519 key failed");
		goto out;
	}
	if (!(b64_body = dsse_b64_encode(body, body_len)) || !(b64_sig = dsse_b64_encode(sig, sig_len))) {
		snprintf(err, err_size, "signing: out of memory");
		goto out;
	}
	env = json_object_new_object();
	json_add_str(env, "payloadType", type);
	json_add_str(env, "payload", b64_body);
	sigs = json_object_new_array();
	s = json_object_new_object();
	json_add_str(s, "keyid", keyid);
	json_add_str(s, "sig", b64_sig);
	json_object_array_add(sigs, s);
	json_add(env, "signatures", sigs);
out:
	OPENSSL_cleanse(sig, sizeof(sig));
	EVP_MD_CTX_free(ctx);
	free(pae);
	free(b64_body);
	free(b64_sig);
	return env;
}

static bool verify_one(EVP_PKEY *key, const uint8_t *pae, size_t pae_len, const char *b64_sig)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	bool ok = false;

	if (ctx && !dsse_b64_decode(b64_sig, &sig, &sig_len) && sig_len == 64)
		ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
		     EVP_DigestVerify(ctx, sig, sig_len, pae, pae_len) == 1;
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	free(sig);
	return ok;
}

int dsse_open(json_object *env, EVP_PKEY *key, struct dsse_opened *o, char *err, size_t err_size)
{
	json_object *type, *payload, *sigs;
	uint8_t *pae = NULL;
	size_t pae_len = 0;

	memset(o, 0, sizeof(*o));
	if (!json_object_is_type(env, json_type_object) || !json_object_object_get_ex(env, "payloadType", &type) ||
	    !json_object_is_type(type, json_type_string) || !json_object_object_get_ex(env, "payload", &payload) ||
	    !json_object_is_type(payload, json_type_string) || !json_object_object_get_ex(env, "signatures", &sigs) ||
	    !json_object_is_type(sigs, json_type_array)) {
		snprintf(err, err_size, "not a DSSE envelope (payloadType, payload and signatures are needed)");
		return -EINVAL;
	}
	if (dsse_b64_decode(json_object_get_string(payload), &o->body, &o->body_len)) {
		snprintf(err, err_size, "the envelope's payload is not base64");
		return -EINVAL;
	}
	if (!(o->type = strdup(json_object_get_string(type))) ||
	    dsse_pae(o->type, o->body, o->body_len, &pae, &pae_len)) {
		dsse_opened_free(o);
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	dsse_keyid(key, o->keyid);
	o->n_signatures = json_object_array_length(sigs);
	for (size_t i = 0; i < o->n_signatures; i++) {
		json_object *s = json_object_array_get_idx(sigs, i);
		const char *kid = json_get_str(s, "keyid", ""), *sig = json_get_str(s, "sig", "");

		o->keyid_listed |= !strcmp(kid, o->keyid);
		/* every signature is tried: a keyid is a hint, not authenticated */
		o->signature_ok |= verify_one(key, pae, pae_len, sig);
	}
	free(pae);
	return 0;
}

void dsse_opened_free(struct dsse_opened *o)
{
	free(o->type);
	free(o->body);
	o->type = NULL;
	o->body = NULL;
}
