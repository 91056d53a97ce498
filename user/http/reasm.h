/* Request heads as the kernel hands them over: whole (one capture), or in
 * pieces that belong to one connection (a head written in several calls, a
 * head longer than one capture). This joins the pieces per connection and
 * splits pipelined requests, and hands every head to a callback. It never
 * parses headers (http_head.h does) and never keeps a head after handing it
 * over: every buffer is wiped when released, since heads hold credentials.
 *
 * Bounded: at most max_conns open heads (the least recently used is
 * dropped, counted, when another needs room: its connection is not the
 * caller's, so it cannot be handed over under the caller's context) of at
 * most HTTP_REASM_MAX bytes each. */
#ifndef REACH_HTTP_REASM_H
#define REACH_HTTP_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_REASM_MAX 8192 /* = REACH_HTTP_HEAD_MAX: bytes of one head */

/* One head: buf[0..len) starts with a request method. cut: the head did
 * not end (the bound, a lost piece, the connection started a new request
 * or was evicted): what is there is all that will be seen. */
typedef void (*http_head_fn)(void *ctx, const uint8_t *buf, size_t len, bool cut);

struct http_reasm_stats {
	uint64_t pieces;   /* pieces added */
	uint64_t cut;      /* heads handed over cut (not ended) */
	uint64_t gaps;     /* a piece missing (lost in the kernel): the head is cut there */
	uint64_t evicted;  /* open heads dropped to make room */
	uint64_t orphans;  /* pieces for no open head (after a head completed: bodies) */
};

struct http_reasm;

struct http_reasm *http_reasm_new(size_t max_conns);
void http_reasm_free(struct http_reasm *r);
void http_reasm_stats(const struct http_reasm *r, struct http_reasm_stats *out);

/*
 * Adds a piece of connection (tgid, conn): offset is its place in the bytes
 * captured since the head started (0 with start). start: a new head begins
 * (an open one is cut first). more: more pieces of the same write follow;
 * the head is looked at only after the last. Calls fn for every head
 * completed (or cut) by this piece, in order.
 */
void http_reasm_add(struct http_reasm *r, uint32_t tgid, uint64_t conn, uint32_t offset, bool start, bool more,
		    const uint8_t *data, size_t len, http_head_fn fn, void *ctx);

/* A whole head arrived on (tgid, conn): a head still open there was cut. */
void http_reasm_cut(struct http_reasm *r, uint32_t tgid, uint64_t conn, http_head_fn fn, void *ctx);

/*
 * The heads in buf[0..len), one capture holding whole heads (pipelined
 * requests): fn for each head ending in a blank line, then for a last one
 * that starts with a method but does not end (cut). Stops at bytes that
 * are not a request (a body). Returns the number of heads handed over.
 */
size_t http_heads_each(const uint8_t *buf, size_t len, http_head_fn fn, void *ctx);

/* Offset just past the blank line ending the head at buf[0..len) (CRLFCRLF,
 * or LF LF as the parser accepts), or 0. */
size_t http_head_end(const uint8_t *buf, size_t len);

#endif
