/* HTTP/2 header blocks per connection (h2.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "http/h2.h"

#define FIELD_BYTES 32768 /* decoded bytes of one request's fields kept for the callback */

struct conn {
	uint32_t tgid;
	uint64_t conn;
	uint64_t used;         /* last use, for eviction */
	bool busy;
	bool lost;
	uint32_t seq_next;
	struct hpack_decoder *hpack;
	/* the header frame being joined (pieces of one frame) */
	uint8_t *frame;        /* H2_FRAME_MAX bytes, while a frame is open */
	uint32_t frame_got, frame_len, frame_stream;
	uint8_t frame_type, frame_flags;
	bool frame_open;
	/* the header block being joined (a HEADERS without END_HEADERS) */
	uint8_t *block;        /* H2_BLOCK_MAX bytes, while a block is open */
	size_t block_len;
	uint32_t block_stream;
	bool block_end_stream; /* the open block's HEADERS had END_STREAM */
	bool block_open;
};

struct h2_conns {
	struct conn *slots;
	size_t n;
	uint64_t clock;
	struct h2_stats st;
};

static void buf_release(uint8_t **b, size_t n)
{
	if (*b) {
		explicit_bzero(*b, n);
		free(*b);
		*b = NULL;
	}
}

static void conn_reset(struct conn *s)
{
	hpack_decoder_free(s->hpack);
	buf_release(&s->frame, H2_FRAME_MAX);
	buf_release(&s->block, H2_BLOCK_MAX);
	memset(s, 0, sizeof(*s));
}

struct h2_conns *h2_conns_new(size_t max_conns)
{
	struct h2_conns *c = calloc(1, sizeof(*c));

	if (!c || !max_conns)
		goto fail;
	c->slots = calloc(max_conns, sizeof(*c->slots));
	if (!c->slots)
		goto fail;
	c->n = max_conns;
	return c;
fail:
	free(c);
	return NULL;
}

void h2_conns_free(struct h2_conns *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		conn_reset(&c->slots[i]);
	free(c->slots);
	free(c);
}

void h2_conns_stats(const struct h2_conns *c, struct h2_stats *out)
{
	if (c && out)
		*out = c->st;
}

void h2_conns_drop_tgid(struct h2_conns *c, uint32_t tgid)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (c->slots[i].busy && c->slots[i].tgid == tgid)
			conn_reset(&c->slots[i]);
}

static struct conn *find(struct h2_conns *c, uint32_t tgid, uint64_t conn)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->slots[i].busy && c->slots[i].tgid == tgid && c->slots[i].conn == conn)
			return &c->slots[i];
	return NULL;
}

/* A free slot, else the least recently used one, dropped (counted). */
static struct conn *take(struct h2_conns *c, uint32_t tgid, uint64_t conn)
{
	struct conn *best = NULL;

	for (size_t i = 0; i < c->n; i++) {
		struct conn *s = &c->slots[i];

		if (!s->busy) {
			best = s;
			break;
		}
		if (!best || s->used < best->used)
			best = s;
	}
	if (best->busy)
		c->st.evicted++;
	conn_reset(best);
	best->busy = true;
	best->tgid = tgid;
	best->conn = conn;
	return best;
}

/* ---- requests ----------------------------------------------------------------- */

struct collect {
	struct h2_request req;
	struct hpack_field fields[H2_MAX_FIELDS];
	uint8_t bytes[FIELD_BYTES];
	size_t used;
	bool regular_seen;
};

static bool keep(struct collect *k, const struct hpack_field *f, struct hpack_field *out)
{
	if (f->name_len + f->value_len > sizeof(k->bytes) - k->used)
		return false;
	out->name = k->bytes + k->used;
	memcpy(k->bytes + k->used, f->name, f->name_len);
	k->used += f->name_len;
	out->name_len = f->name_len;
	out->value = k->bytes + k->used;
	memcpy(k->bytes + k->used, f->value, f->value_len);
	k->used += f->value_len;
	out->value_len = f->value_len;
	return true;
}

static bool name_is(const struct hpack_field *f, const char *lit)
{
	return f->name_len == strlen(lit) && memcmp(f->name, lit, f->name_len) == 0;
}

/* An hpack_field_fn: pseudo-headers to their place, regular fields kept in
 * order (RFC 9113 8.3: pseudo-headers first, each at most once). */
static void on_field(void *arg, const struct hpack_field *f)
{
	struct collect *k = arg;
	struct hpack_field *slot = NULL;

	if (f->name_len && f->name[0] == ':') {
		if (name_is(f, ":method"))
			slot = &k->req.method;
		else if (name_is(f, ":scheme"))
			slot = &k->req.scheme;
		else if (name_is(f, ":authority"))
			slot = &k->req.authority;
		else if (name_is(f, ":path"))
			slot = &k->req.path;
		if (!slot || slot->name || k->regular_seen) {
			k->req.malformed = true; /* unknown, twice, or late */
			return;
		}
		if (!keep(k, f, slot)) {
			k->req.malformed = true;
			memset(slot, 0, sizeof(*slot));
		}
		return;
	}
	k->regular_seen = true;
	if (k->req.n_fields >= H2_MAX_FIELDS || !keep(k, f, &k->fields[k->req.n_fields])) {
		k->req.fields_dropped++;
		return;
	}
	k->req.n_fields++;
}

static int decode_block(struct h2_conns *c, struct conn *s, uint32_t stream, bool end_stream, const uint8_t *block,
			size_t len, h2_request_fn fn, void *ctx)
{
	struct collect *k = calloc(1, sizeof(*k));
	int rc;

	if (!k)
		return -ENOMEM;
	k->req.stream_id = stream;
	k->req.end_stream = end_stream;
	k->req.fields = k->fields;
	rc = hpack_decode_block(s->hpack, block, len, on_field, k);
	if (rc == -EBADMSG)
		rc = -EPROTO; /* the HPACK state, not the framing */
	if (!rc) {
		c->st.blocks++;
		if (k->req.method.name) { /* a request; trailers have no :method */
			c->st.requests++;
			if (fn)
				fn(ctx, &k->req);
		}
	}
	explicit_bzero(k, sizeof(*k));
	free(k);
	return rc;
}

/* A whole header frame's payload: its fragment goes into the block; the
 * block is decoded at END_HEADERS. */
static int frame_done(struct h2_conns *c, struct conn *s, uint8_t type, uint8_t flags, uint32_t stream,
		      const uint8_t *p, size_t len, h2_request_fn fn, void *ctx)
{
	size_t pad = 0;

	if (type == H2_FRAME_HEADERS) {
		if (s->block_open || stream == 0)
			return -EBADMSG; /* RFC 9113 6.10: only CONTINUATION may follow */
		if (flags & H2_FLAG_PADDED) {
			if (len < 1)
				return -EBADMSG;
			pad = p[0];
			p++;
			len--;
		}
		if (flags & H2_FLAG_PRIORITY) {
			if (len < 5)
				return -EBADMSG;
			p += 5;
			len -= 5;
		}
		if (pad > len)
			return -EBADMSG;
		len -= pad;
		if (flags & H2_FLAG_END_HEADERS)
			return decode_block(c, s, stream, flags & H2_FLAG_END_STREAM, p, len, fn,
					    ctx); /* the usual case: no copy */
		if (!s->block)
			s->block = malloc(H2_BLOCK_MAX);
		if (!s->block)
			return -ENOMEM;
		s->block_open = true;
		s->block_stream = stream;
		s->block_end_stream = flags & H2_FLAG_END_STREAM; /* on HEADERS, not on its CONTINUATIONs */
		s->block_len = 0;
	} else if (!s->block_open || stream != s->block_stream) {
		return -EBADMSG; /* a CONTINUATION of nothing */
	}
	if (len > H2_BLOCK_MAX - s->block_len)
		return -EMSGSIZE;
	memcpy(s->block + s->block_len, p, len);
	s->block_len += len;
	if (flags & H2_FLAG_END_HEADERS) {
		int rc = decode_block(c, s, s->block_stream, s->block_end_stream, s->block, s->block_len, fn, ctx);

		explicit_bzero(s->block, s->block_len);
		s->block_open = false;
		s->block_len = 0;
		return rc;
	}
	return 0;
}

/* The piece in its frame: a frame in one piece is handled in place, one in
 * several is joined first. */
static int piece(struct h2_conns *c, struct conn *s, const struct h2_piece *pc, h2_request_fn fn, void *ctx)
{
	if ((pc->type != H2_FRAME_HEADERS && pc->type != H2_FRAME_CONTINUATION) || pc->frame_len > H2_FRAME_MAX ||
	    pc->frag_off > pc->frame_len || pc->len > pc->frame_len - pc->frag_off)
		return -EBADMSG;
	if (pc->frag_off == 0) {
		if (s->frame_open)
			return -EBADMSG; /* the previous frame's end is missing */
		if (pc->len == pc->frame_len)
			return frame_done(c, s, pc->type, pc->flags, pc->stream_id, pc->data, pc->len, fn, ctx);
		if (!s->frame)
			s->frame = malloc(H2_FRAME_MAX);
		if (!s->frame)
			return -ENOMEM;
		s->frame_open = true;
		s->frame_got = 0;
		s->frame_len = pc->frame_len;
		s->frame_type = pc->type;
		s->frame_flags = pc->flags;
		s->frame_stream = pc->stream_id;
	} else if (!s->frame_open || pc->frag_off != s->frame_got || pc->frame_len != s->frame_len ||
		   pc->type != s->frame_type || pc->stream_id != s->frame_stream) {
		return -EBADMSG;
	}
	memcpy(s->frame + s->frame_got, pc->data, pc->len);
	s->frame_got += (uint32_t)pc->len;
	if (s->frame_got == s->frame_len) {
		int rc = frame_done(c, s, s->frame_type, s->frame_flags, s->frame_stream, s->frame, s->frame_len, fn,
				    ctx);

		explicit_bzero(s->frame, s->frame_len);
		s->frame_open = false;
		return rc;
	}
	return 0;
}

static int lose(struct h2_conns *c, struct conn *s, const char *reason, const char **why)
{
	uint32_t tgid = s->tgid;
	uint64_t conn = s->conn;

	conn_reset(s); /* wipes what it held */
	s->busy = true;
	s->tgid = tgid;
	s->conn = conn;
	s->lost = true;
	s->used = ++c->clock;
	c->st.lost++;
	if (why)
		*why = reason;
	return 1;
}

int h2_conns_add(struct h2_conns *c, uint32_t tgid, uint64_t conn, const struct h2_piece *pc, h2_request_fn fn,
		 void *ctx, const char **why)
{
	struct conn *s;
	int rc;

	if (why)
		*why = NULL;
	if (!c || !pc || (!pc->data && pc->len))
		return 0;
	c->st.pieces++;
	s = find(c, tgid, conn);
	if (pc->preface) {
		/* a new connection here: whatever was open is over */
		if (s)
			conn_reset(s);
		s = take(c, tgid, conn);
		s->hpack = hpack_decoder_new(HPACK_DEFAULT_TABLE);
		if (!s->hpack)
			return lose(c, s, "out of memory", why);
	} else if (!s) {
		/* its start was never seen, or it was dropped here to make room */
		s = take(c, tgid, conn);
		return lose(c, s, "connection start not seen", why);
	}
	s->used = ++c->clock;
	if (s->lost) {
		c->st.ignored++;
		return 0;
	}
	if (pc->seq != s->seq_next)
		return lose(c, s, "a frame missing", why);
	s->seq_next++;
	if (pc->lost)
		return lose(c, s, "lost in the kernel", why);
	rc = piece(c, s, pc, fn, ctx);
	if (rc == -ENOMEM)
		return lose(c, s, "out of memory", why);
	if (rc == -EMSGSIZE)
		return lose(c, s, "header block over the bound", why);
	if (rc == -EPROTO)
		return lose(c, s, "HPACK decoding failed", why);
	if (rc)
		return lose(c, s, "bad frame", why);
	return 0;
}
