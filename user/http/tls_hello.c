#include <errno.h>
#include <string.h>
#include "http/tls_hello.h"

struct rd {
	const uint8_t *p;
	size_t n;
};

static int take(struct rd *r, size_t k, const uint8_t **out)
{
	if (r->n < k)
		return -EBADMSG;
	*out = r->p;
	r->p += k;
	r->n -= k;
	return 0;
}

static int u8(struct rd *r, size_t *v)
{
	const uint8_t *b;

	if (take(r, 1, &b))
		return -EBADMSG;
	*v = b[0];
	return 0;
}

static int u16(struct rd *r, size_t *v)
{
	const uint8_t *b;

	if (take(r, 2, &b))
		return -EBADMSG;
	*v = (size_t)b[0] << 8 | b[1];
	return 0;
}

static int skip8(struct rd *r)
{
	const uint8_t *b;
	size_t k;

	return u8(r, &k) || take(r, k, &b) ? -EBADMSG : 0;
}

static int skip16(struct rd *r)
{
	const uint8_t *b;
	size_t k;

	return u16(r, &k) || take(r, k, &b) ? -EBADMSG : 0;
}

static int host_name(const uint8_t *b, size_t k, char *out, size_t out_size)
{
	if (!k || k >= out_size)
		return -EBADMSG;
	for (size_t i = 0; i < k; i++) {
		uint8_t c = b[i];

		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return -EBADMSG;
		out[i] = (char)c;
	}
	out[k] = '\0';
	return 0;
}

int tls_hello_sni(const uint8_t *buf, size_t len, char *out, size_t out_size)
{
	struct rd r = { buf, len };
	const uint8_t *b;
	size_t v, ext_len, rec_len;
	int none = -ENOENT; /* no SNI: -EBADMSG instead when the record was cut (it may be further on) */

	if (!out || !out_size)
		return -EINVAL;
	out[0] = '\0';
	if (!buf)
		return -EBADMSG;
	/* record: type 22, version 3.x, length (may be longer than captured) */
	if (u8(&r, &v) || v != 22 || u8(&r, &v) || v != 3 || take(&r, 1, &b) || u16(&r, &rec_len))
		return -EBADMSG;
	if (rec_len > r.n)
		none = -EBADMSG;
	/* handshake: type 1, 24-bit length; version, random */
	if (u8(&r, &v) || v != 1 || take(&r, 3, &b) || take(&r, 2, &b) || take(&r, 32, &b))
		return -EBADMSG;
	if (skip8(&r) || skip16(&r) || skip8(&r)) /* session id, cipher suites, compression */
		return -EBADMSG;
	if (!r.n)
		return none; /* no extensions at all */
	if (u16(&r, &ext_len))
		return -EBADMSG;
	if (ext_len < r.n)
		r.n = ext_len;
	while (r.n) {
		size_t type, elen;
		struct rd e;

		if (u16(&r, &type) || u16(&r, &elen) || take(&r, elen, &b))
			return -EBADMSG;
		if (type != 0)
			continue;
		e = (struct rd){ b, elen };
		if (u16(&e, &v) || v > e.n)
			return -EBADMSG;
		e.n = v;
		while (e.n) {
			size_t nt, nl;

			if (u8(&e, &nt) || u16(&e, &nl) || take(&e, nl, &b))
				return -EBADMSG;
			if (nt == 0)
				return host_name(b, nl, out, out_size);
		}
		return -ENOENT;
	}
	return none;
}
