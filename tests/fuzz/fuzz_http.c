// fuzz-sources: user/http/http_head.c user/http/path_template.c user/http/fingerprint.c user/common/log.c user/common/fileio.c -lcrypto
/* libFuzzer target for the HTTP/1.x request-head parser and credential
 * detector. The "fuzz-sources" line above is read by tests/fuzz/run.sh; it
 * passes the words unquoted to clang, so -lcrypto (HMAC) reaches the link.
 * Run: tests/fuzz/run.sh [seconds]   (corpus: tests/fuzz/corpus/http/) */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "http/http_head.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static int terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static int printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s >= 0x7f)
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct http_request_head zero;
	static struct http_request_head h;
	struct fp_key key;
	/* an exact-size copy so ASan catches any read one past the end */
	uint8_t *copy = malloc(size ? size : 1);
	int rc, i;

	if (!copy)
		return 0;
	for (i = 0; i < FP_KEY_SIZE; i++)
		key.key[i] = (unsigned char)i;
	if (size)
		memcpy(copy, data, size);
	rc = http_parse_request_head(copy, size, &key, &h);
	CHECK(rc == 0 || rc == -EBADMSG || rc == -ENOMSG);
	if (rc < 0) {
		CHECK(memcmp(&h, &zero, sizeof(h)) == 0); /* nothing partial */
		goto out;
	}
	CHECK(terminated(h.method, sizeof(h.method)) && h.method[0]);
	CHECK(terminated(h.path, sizeof(h.path)));
	CHECK(terminated(h.path_template, sizeof(h.path_template)));
	CHECK(terminated(h.host, sizeof(h.host)) && printable(h.host));
	CHECK(terminated(h.special, sizeof(h.special)));
	CHECK(h.http_minor == 0 || h.http_minor == 1);
	CHECK(h.n_creds >= 0 && h.n_creds <= HTTP_MAX_CREDS);
	CHECK(h.creds_dropped >= 0);
	CHECK(h.creds_dropped == 0 || h.n_creds == HTTP_MAX_CREDS);
	for (i = 0; i < h.n_creds; i++) {
		const struct http_credential *c = &h.creds[i];

		CHECK(terminated(c->kind, sizeof(c->kind)) && c->kind[0]);
		CHECK(terminated(c->where, sizeof(c->where)) && c->where[0]);
		CHECK(strlen(c->fingerprint) == FP_HEX_LEN);
		CHECK(strspn(c->fingerprint, "0123456789abcdef") == FP_HEX_LEN);
		CHECK(terminated(c->jwt_iss, sizeof(c->jwt_iss)) && printable(c->jwt_iss));
		CHECK(terminated(c->jwt_aud, sizeof(c->jwt_aud)) && printable(c->jwt_aud));
		CHECK(terminated(c->user, sizeof(c->user)) && printable(c->user));
	}
	for (i = h.n_creds; i < HTTP_MAX_CREDS; i++)
		CHECK(memcmp(&h.creds[i], &zero.creds[i], sizeof(h.creds[i])) == 0);
out:
	free(copy);
	return 0;
}
