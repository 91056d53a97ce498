/* HTTP/2 requests from the frames a client wrote. The kernel hands over
 * the pieces of each HEADERS and CONTINUATION frame a connection carried
 * (other frames are skipped there), numbered per connection; this joins
 * them into header blocks, decodes each block with the connection's HPACK
 * decoder (hpack.h) and hands every request (a block with :method) to a
 * callback. It never parses credentials (http_head.h does).
 *
 * Decoding is all or nothing per connection: HPACK's dynamic table makes
 * every block depend on all earlier ones, so a piece missing (a gap in the
 * numbering, a connection whose start was not seen, one evicted here, a
 * loss the kernel reported) or a block that does not decode makes the
 * connection LOST: the caller learns it once, with the reason, and later
 * pieces of it are ignored until a new connection starts there.
 *
 * Bounded: at most max_conns connections (the least recently used is
 * dropped: if it speaks again it is lost, never silently), a frame of at
 * most H2_FRAME_MAX bytes, a block of at most H2_BLOCK_MAX. Header values
 * (credentials) are held only in the HPACK tables and the block being
 * joined; all are wiped when released. */
#ifndef REACH_HTTP_H2_H
#define REACH_HTTP_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "http/hpack.h"

#define H2_FRAME_MAX 16384  /* = REACH_H2_FRAME_MAX: the default SETTINGS_MAX_FRAME_SIZE */
#define H2_BLOCK_MAX 65536  /* a header block (HEADERS + CONTINUATIONs) */
#define H2_MAX_FIELDS 128   /* fields of one request handed over; more are counted */

#define H2_FRAME_HEADERS 0x1
#define H2_FRAME_CONTINUATION 0x9
#define H2_FLAG_END_STREAM 0x1
#define H2_FLAG_END_HEADERS 0x4
#define H2_FLAG_PADDED 0x8
#define H2_FLAG_PRIORITY 0x20

/* One piece of a header frame, as the kernel captured it. */
struct h2_piece {
	uint32_t seq;        /* per connection, from 0 at the preface */
	bool preface;        /* the first piece after the client preface: a new connection */
	bool lost;           /* the kernel lost the connection here (no payload) */
	uint8_t type;        /* H2_FRAME_HEADERS or H2_FRAME_CONTINUATION */
	uint8_t flags;       /* the frame's flags */
	uint32_t stream_id;
	uint32_t frame_len;  /* payload bytes of the whole frame */
	uint32_t frag_off;   /* of data[0] in the frame's payload */
	const uint8_t *data;
	size_t len;
};

/* One request: its pseudo-header fields and its regular fields in order. */
struct h2_request {
	uint32_t stream_id;
	struct hpack_field method, scheme, authority, path;   /* len 0 when absent */
	const struct hpack_field *fields;
	size_t n_fields;
	size_t fields_dropped; /* beyond H2_MAX_FIELDS or the copy bound */
	bool malformed;        /* a pseudo-header twice, after a regular field, or unknown */
	bool end_stream;       /* the HEADERS frame ended the stream: the request has no body */
};

typedef void (*h2_request_fn)(void *ctx, const struct h2_request *req);

struct h2_stats {
	uint64_t pieces;
	uint64_t blocks;      /* header blocks decoded */
	uint64_t requests;    /* of them with :method */
	uint64_t lost;        /* connections lost (each once) */
	uint64_t evicted;     /* connections dropped to make room */
	uint64_t ignored;     /* pieces of a connection already lost */
};

struct h2_conns;

struct h2_conns *h2_conns_new(size_t max_conns);
void h2_conns_free(struct h2_conns *c);
void h2_conns_stats(const struct h2_conns *c, struct h2_stats *out);

/*
 * Adds a piece of connection (tgid, conn); fn for every request it
 * completes. Returns 0, or 1 when the connection was lost by this piece
 * (*why: a static reason: "a frame missing", "connection start not seen",
 * "lost in the kernel", "HPACK decoding failed", "bad frame"): it is lost
 * from then on.
 */
int h2_conns_add(struct h2_conns *c, uint32_t tgid, uint64_t conn, const struct h2_piece *piece, h2_request_fn fn,
		 void *ctx, const char **why);

/* The process tgid ended: its connections are dropped (wiped). */
void h2_conns_drop_tgid(struct h2_conns *c, uint32_t tgid);

#endif
