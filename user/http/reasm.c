/* Joining request heads captured in pieces (reasm.h). */
#include <stdlib.h>
#include <string.h>
#include "http/reasm.h"

struct slot {
	uint32_t tgid;
	uint64_t conn;
	uint64_t used;   /* last use, for eviction */
	uint32_t base;   /* offset of buf[0] in the kernel's count */
	uint32_t len;
	bool busy;
	bool waiting;    /* more pieces of the same write announced */
	uint8_t buf[HTTP_REASM_MAX];
};

struct http_reasm {
	struct slot *slots;
	size_t n;
	uint64_t clock;
	struct http_reasm_stats st;
};

static const char *const methods[] = { "GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "CONNECT ", "OPTIONS ",
				       "TRACE ", "PATCH " };

/* buf starts with a method and a space, or with the start of one when
 * buf is shorter (a head whose rest is still to come). */
static bool starts_like_request(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t m = strlen(methods[i]);

		if (len && memcmp(buf, methods[i], len < m ? len : m) == 0)
			return true;
	}
	return false;
}

size_t http_head_end(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Complete heads at the front of buf; *rest_is_head: what remains (if
 * anything) starts like another request. Returns the bytes consumed. */
static size_t split(const uint8_t *buf, size_t len, http_head_fn fn, void *ctx, size_t *heads, bool *rest_is_head)
{
	size_t pos = 0;

	*rest_is_head = false;
	while (pos < len) {
		size_t end;

		if (!starts_like_request(buf + pos, len - pos))
			return pos;
		end = http_head_end(buf + pos, len - pos);
		if (!end) {
			*rest_is_head = true;
			return pos;
		}
		fn(ctx, buf + pos, end, false);
		(*heads)++;
		pos += end;
	}
	return pos;
}

size_t http_heads_each(const uint8_t *buf, size_t len, http_head_fn fn, void *ctx)
{
	size_t heads = 0, pos;
	bool rest;

	pos = split(buf, len, fn, ctx, &heads, &rest);
	if (rest) {
		fn(ctx, buf + pos, len - pos, true);
		heads++;
	}
	return heads;
}

struct http_reasm *http_reasm_new(size_t max_conns)
{
	struct http_reasm *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->n = max_conns ? max_conns : 1;
	r->slots = calloc(r->n, sizeof(*r->slots));
	if (!r->slots) {
		free(r);
		return NULL;
	}
	return r;
}

static void release(struct slot *s)
{
	explicit_bzero(s->buf, s->len);
	s->busy = false;
	s->waiting = false;
	s->len = 0;
	s->base = 0;
}

/* Hands the open head over as cut and frees the slot. */
static void cut(struct http_reasm *r, struct slot *s, http_head_fn fn, void *ctx)
{
	if (s->len && starts_like_request(s->buf, s->len)) {
		r->st.cut++;
		fn(ctx, s->buf, s->len, true);
	}
	release(s);
}

void http_reasm_free(struct http_reasm *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		release(&r->slots[i]);
	free(r->slots);
	free(r);
}

void http_reasm_stats(const struct http_reasm *r, struct http_reasm_stats *out)
{
	*out = r->st;
}

static struct slot *find(struct http_reasm *r, uint32_t tgid, uint64_t conn)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->slots[i].busy && r->slots[i].tgid == tgid && r->slots[i].conn == conn)
			return &r->slots[i];
	return NULL;
}

static struct slot *take(struct http_reasm *r)
{
	struct slot *victim = &r->slots[0];

	for (size_t i = 0; i < r->n; i++) {
		if (!r->slots[i].busy)
			return &r->slots[i];
		if (r->slots[i].used < victim->used)
			victim = &r->slots[i];
	}
	r->st.evicted++;
	release(victim);
	return victim;
}

void http_reasm_add(struct http_reasm *r, uint32_t tgid, uint64_t conn, uint32_t offset, bool start, bool more,
		    const uint8_t *data, size_t len, http_head_fn fn, void *ctx)
{
	struct slot *s = find(r, tgid, conn);
	size_t room, pos, heads = 0;
	bool rest;

	r->st.pieces++;
	if (start) {
		if (s)
			cut(r, s, fn, ctx); /* a new request while the last head was open */
		else
			s = take(r);
		s->busy = true;
		s->tgid = tgid;
		s->conn = conn;
		s->base = offset;
	} else if (!s) {
		r->st.orphans++;
		return;
	} else if (offset != s->base + s->len) {
		r->st.gaps++; /* a piece was lost: nothing after the gap can be placed */
		cut(r, s, fn, ctx);
		return;
	}
	s->used = ++r->clock;
	room = HTTP_REASM_MAX - s->len;
	if (len > room)
		len = room;
	memcpy(s->buf + s->len, data, len);
	s->len += (uint32_t)len;
	s->waiting = more;
	if (more && s->base + s->len < HTTP_REASM_MAX)
		return;
	pos = split(s->buf, s->len, fn, ctx, &heads, &rest);
	if (!rest) { /* every head ended; what follows is a body or nothing */
		release(s);
		return;
	}
	if (s->base + s->len >= HTTP_REASM_MAX) { /* the bound: what is there is all */
		r->st.cut++;
		fn(ctx, s->buf + pos, s->len - pos, true);
		release(s);
		return;
	}
	if (pos) { /* pipelined: keep the head still open at the front */
		memmove(s->buf, s->buf + pos, s->len - pos);
		explicit_bzero(s->buf + s->len - pos, pos);
		s->base += (uint32_t)pos;
		s->len -= (uint32_t)pos;
	}
}

void http_reasm_cut(struct http_reasm *r, uint32_t tgid, uint64_t conn, http_head_fn fn, void *ctx)
{
	struct slot *s = find(r, tgid, conn);

	if (s)
		cut(r, s, fn, ctx);
}
