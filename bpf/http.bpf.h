/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Heads of HTTP/1.x requests written by monitored processes, in plaintext
 * (TCP socket writes) or before encryption (TLS library uprobes).
 *
 * A write that starts with a request method starts a head. When the head
 * (or several pipelined heads) ends inside a write of at most REACH_HTTP_LEN
 * bytes, it is one event, deduplicated: a repeated identical request is a
 * map lookup, and a body after the head is not copied. Otherwise the head
 * goes on: in the same write (a long head: up to REACH_HTTP_HEAD_MAX bytes
 * in REACH_HTTP_LEN chunks) or in the next writes on the same connection
 * (a head written in pieces, even the method alone), which http_conns
 * remembers until the blank line or the bound. User space joins the pieces
 * (user/http/reasm.c). The bytes hold credentials: user space fingerprints
 * them and wipes the buffer.
 */
#ifndef REACH_HTTP_BPF_H
#define REACH_HTTP_BPF_H

#include "net.bpf.h"

#define HTTP_CHUNKS (REACH_HTTP_HEAD_MAX / REACH_HTTP_LEN)

/* A head that did not end in the write that carried it: which connection,
 * how many bytes of it were captured so far. */
struct http_conn_key {
	__u64 conn; /* struct sock * or the TLS session */
	__u32 tgid; /* TLS sessions are user addresses: per process */
	__u32 pad;
};

struct http_conn {
	__u32 captured;
	__u32 body; /* 1: a JSON POST's head ended a write; its body is the next write */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct http_conn_key);
	__type(value, struct http_conn);
} http_conns SEC(".maps") __weak;

/* "GET ", "POST", "PUT ", "HEAD", "DELE(TE)", "PATC(H)", "OPTI(ONS)": the
 * first 4 bytes as a little-endian word, one compare each. */
static __always_inline bool http__starts_like_request(__u32 w)
{
	return w == 0x20544547 /* "GET " */ || w == 0x54534f50 /* "POST" */ || w == 0x20545550 /* "PUT " */ ||
	       w == 0x44414548 /* "HEAD" */ || w == 0x454c4544 /* "DELE" */ || w == 0x43544150 /* "PATC" */ ||
	       w == 0x4954504f /* "OPTI" */;
}

/* A write of exactly 3 bytes that is a method's start ("GET", "POS", ...):
 * clients that write the method alone. */
static __always_inline bool http__starts_like_request3(__u32 w)
{
	w &= 0xffffff;
	return w == 0x544547 /* GET */ || w == 0x534f50 /* POS */ || w == 0x545550 /* PUT */ ||
	       w == 0x414548 /* HEA */ || w == 0x4c4544 /* DEL */ || w == 0x544150 /* PAT */ ||
	       w == 0x54504f /* OPT */;
}

/* A 4-byte needle in s->http[0..n): bpf_loop's state. */
struct http_find_ctx {
	struct scratch *s;
	__u32 n;
	__u32 end;      /* offset just past the first match, 0 when none */
	__u8 needle[4];
};

static long http__find_step(__u64 i, void *arg)
{
	struct http_find_ctx *c = arg;
	struct scratch *s = c->s;
	__u32 j = i & (REACH_HTTP_LEN - 1);

	if (!s || j + 3 >= c->n)
		return 1;
	if (s->http[j] == c->needle[0] && s->http[j + 1] == c->needle[1] && s->http[j + 2] == c->needle[2] &&
	    s->http[j + 3] == c->needle[3]) {
		c->end = j + 4;
		return 1;
	}
	return 0;
}

/* Offset just past the first needle (4 bytes, exact) in s->http[0..n), or
 * 0. bpf_loop: the callback is verified once, whatever the length. */
static __always_inline __u32 http__find4(struct scratch *s, __u32 n, const char needle[4])
{
	struct http_find_ctx c = { .s = s, .n = n, .end = 0 };

	if (n < 4)
		return 0;
	__builtin_memcpy(c.needle, needle, 4);
	bpf_loop(n - 3, http__find_step, &c, 0);
	return c.end;
}

/* Offset just past the first blank line ("\r\n\r\n") in s->http[0..n), or 0. */
static __always_inline __u32 http__head_end(struct scratch *s, __u32 n)
{
	return http__find4(s, n, "\r\n\r\n");
}

static __always_inline void http__fill(struct reach_http_event *ev, struct reach_dedup_key *key, __u8 source,
				       const struct net_endpoint *peer, __u64 len, __u64 conn, __u32 offset, __u8 flags)
{
	ev->key = *key;
	ev->source = source;
	ev->total_len = len > 0xffffffffULL ? 0xffffffff : len;
	ev->flags = flags;
	ev->pad[0] = ev->pad[1] = ev->pad[2] = 0;
	ev->conn = conn;
	ev->offset = offset;
	ev->pad2 = 0;
	if (peer) {
		ev->family = peer->family;
		ev->dport = peer->port;
		__builtin_memcpy(ev->daddr, peer->addr, 16);
	} else {
		ev->family = 0;
		ev->dport = 0;
		__builtin_memset(ev->daddr, 0, 16);
	}
}

/* One capture being handled, in a per-CPU slot: the handler is a global
 * subprogram (verified once, not at every call site) whose pointer
 * arguments may only point to scalars, and the stack of the call chain is
 * full already. */
struct http_cap {
	__u64 ubuf;      /* the user buffer, 0 for an iovec gather */
	__u64 len;       /* bytes the call moved */
	__u64 conn;
	__u64 pid_tgid;
	__u64 cgid;
	__u8 has_peer;   /* 0 for TLS */
	__u8 source;
	__u8 starts;
	__u8 pad;
	__u16 port;
	__u8 family;
	__u8 pad2;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct http_cap);
} http_caps SEC(".maps") __weak;

/* The keyed hash of the head in s->http[0..n). A global function: its
 * 256-word loop is verified once, not once per path of http__handle into
 * http__emit_whole (that was half the dispatcher's verification, the
 * agent's start-up). __weak: one copy in the link. */
__noinline __weak __u64 http__head_hash(struct scratch *s, __u32 n, __u32 source)
{
	if (!s)
		return 0;
	return hash__words(s->http, n, REACH_HTTP_LEN, source);
}

/* A whole head (or pipelined heads) in s->http[0..n): one dedup lookup, and
 * an event the first time it is seen. A subprogram: its hash loop is
 * verified once per caller rather than once per path into it. */
static __always_inline bool http__emit_whole(struct scratch *s, const struct http_cap *cap,
					     const struct net_endpoint *peer, __u32 n)
{
	struct reach_dedup_key key = { .kind = REACH_EV_HTTP };
	struct reach_http_event *ev;
	__u64 now;

	if (!s || !cap || n > REACH_HTTP_LEN)
		return true; /* cannot happen; bounds the copies below for the verifier */
	key.cgroup_id = cap->cgid;
	key.hash = http__head_hash(s, n, cap->source);
	now = 0; /* read by dedup__first_seen when needed */
	if (!dedup__first_seen(&key, &now))
		return false;
	ev = dedup__reserve(&key, sizeof(*ev));
	if (!ev)
		return true;
	task__fill_hdr(&ev->hdr, REACH_EV_HTTP, sizeof(*ev), cap->pid_tgid, cap->cgid, now);
	http__fill(ev, &key, cap->source, peer, cap->len, cap->conn, 0, REACH_HTTP_F_WHOLE);
	ev->len = n;
	{
		__u64 sz = n; /* 64-bit: the bound must hold on the register the read uses */

		barrier_var(sz);
		if (sz > REACH_HTTP_LEN)
			sz = REACH_HTTP_LEN;
		bpf_probe_read_kernel(ev->payload, sz, s->http);
	}
	events__submit(ev);
	return true;
}

/* One piece of a head that spans events: never deduplicated (only the whole
 * head says what the request was). src: the scratch (kernel) or the user
 * buffer. Returns false when it was lost (counted). */
static __always_inline bool http__emit_piece(const void *src, bool user, __u64 n, __u64 len, __u8 source,
					     const struct net_endpoint *peer, __u64 conn, __u32 offset, __u8 flags,
					     __u64 pid_tgid, __u64 cgid)
{
	struct reach_dedup_key key = { .cgroup_id = cgid, .kind = REACH_EV_HTTP };
	struct reach_http_event *ev;

	if (n > REACH_HTTP_LEN)
		return false;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		loss__count(REACH_EV_HTTP, REACH_LOSS_RINGBUF_FULL);
		return false;
	}
	task__fill_hdr(&ev->hdr, REACH_EV_HTTP, sizeof(*ev), pid_tgid, cgid, bpf_ktime_get_boot_ns());
	http__fill(ev, &key, source, peer, len, conn, offset, flags);
	ev->len = n;
	barrier_var(n); /* the bound below must hold on the register the read uses */
	if (n > REACH_HTTP_LEN)
		n = REACH_HTTP_LEN;
	if (user ? bpf_probe_read_user(ev->payload, n, src) : bpf_probe_read_kernel(ev->payload, n, src)) {
		loss__count(REACH_EV_HTTP, REACH_LOSS_READ_FAILED);
		ev->len = 0; /* user space sees the gap and cuts the head there */
	}
	events__submit(ev);
	return true;
}

/* Bytes of the write at ubuf after its first chunk (already sent from the
 * scratch): chunks 1.. read straight from user memory into the event, up to
 * limit bytes of the write. */
static __always_inline void http__emit_rest(const void *ubuf, __u64 len, __u64 limit, __u8 source,
					    const struct net_endpoint *peer, __u64 conn, __u32 base, __u8 flags,
					    __u64 pid_tgid, __u64 cgid)
{
	for (__u32 i = 1; i < HTTP_CHUNKS; i++) {
		__u64 off = (__u64)i * REACH_HTTP_LEN, n;

		if (off >= len || off >= limit)
			break;
		n = len - off;
		if (n > limit - off)
			n = limit - off;
		if (n > REACH_HTTP_LEN)
			n = REACH_HTTP_LEN;
		if (!http__emit_piece(ubuf + off, true, n, len, source, peer, conn, base + off,
				      flags | (off + n < len && off + n < limit ? REACH_HTTP_F_MORE : 0), pid_tgid,
				      cgid))
			break;
	}
}

/* ---- JSON POST bodies (LLM API calls, MCP over HTTP) ---------------------- */

/* A JSON POST head the dedup map had seen (http__emit_whole sent nothing):
 * its body (another model, another tool) still needs its head, once more,
 * marked a repeat; no key (its credentials are counted in the map). */
static __always_inline void http__emit_repeat(struct scratch *s, const struct http_cap *cap,
					      const struct net_endpoint *peer, __u32 n)
{
	if (n > REACH_HTTP_LEN)
		return;
	http__emit_piece(s->http, false, n, cap->len, cap->source, peer, cap->conn, 0,
			 REACH_HTTP_F_WHOLE | REACH_HTTP_F_REPEAT, cap->pid_tgid, cap->cgid);
}

/* A POST whose head (s->http[0..end)) says JSON anywhere: its
 * Content-Type (application/json, ...+json, json-rpc). A path with "json"
 * in it also passes: its body is then read and found not to be a call. */
static __always_inline bool http__json_post(struct scratch *s, __u32 end)
{
	if (!s || end < 8 || s->http[0] != 'P' || s->http[1] != 'O' || s->http[2] != 'S' || s->http[3] != 'T')
		return false;
	return http__find4(s, end, "json") != 0;
}

/* One body capture: n bytes at src (user memory, or the scratch), of total
 * body bytes in the write. Never deduplicated. */
static __always_inline void http__emit_body(const void *src, bool user, __u64 n, __u64 total,
					    const struct http_cap *cap, const struct net_endpoint *peer)
{
	struct reach_http_body_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev) {
		loss__count(REACH_EV_HTTP_BODY, REACH_LOSS_RINGBUF_FULL);
		return;
	}
	task__fill_hdr(&ev->hdr, REACH_EV_HTTP_BODY, sizeof(*ev), cap->pid_tgid, cap->cgid, bpf_ktime_get_boot_ns());
	ev->source = cap->source;
	ev->total_len = total > 0xffffffffULL ? 0xffffffff : total;
	ev->flags = 0;
	ev->frame_flags = 0;
	ev->pad[0] = ev->pad[1] = 0;
	ev->stream_id = 0;
	ev->pad2 = 0;
	ev->conn = cap->conn;
	if (peer) {
		ev->family = peer->family;
		ev->dport = peer->port;
		__builtin_memcpy(ev->daddr, peer->addr, 16);
	} else {
		ev->family = 0;
		ev->dport = 0;
		__builtin_memset(ev->daddr, 0, 16);
	}
	if (total > n) {
		/* a long prompt: the model and tool names come first; user
		 * space says when they did not fit */
		ev->flags |= REACH_HTTP_BODY_F_CUT;
		loss__count(REACH_EV_HTTP_BODY, REACH_LOSS_TRUNCATED);
	}
	barrier_var(n); /* the bound below must hold on the register the read uses */
	if (n > REACH_HTTP_BODY_LEN)
		n = REACH_HTTP_BODY_LEN;
	if (n && (user ? bpf_probe_read_user(ev->payload, n, src) : bpf_probe_read_kernel(ev->payload, n, src))) {
		loss__count(REACH_EV_HTTP_BODY, REACH_LOSS_READ_FAILED);
		n = 0;
	}
	ev->len = n;
	events__submit(ev);
}

/* The body of a JSON POST: at off in this write (its first n bytes in the
 * scratch, all len of them at ubuf when known). */
static __always_inline void http__body_at(struct scratch *s, const struct http_cap *cap,
					  const struct net_endpoint *peer, __u32 off, __u32 n)
{
	__u64 total = cap->len > off ? cap->len - off : 0, take;

	if (cap->ubuf) {
		take = total < REACH_HTTP_BODY_LEN ? total : REACH_HTTP_BODY_LEN;
		http__emit_body((const void *)(cap->ubuf + off), true, take, total, cap, peer);
		return;
	}
	/* an iovec gather: what the scratch holds of it */
	if (off >= n || off >= REACH_HTTP_LEN)
		return;
	take = n - off;
	if (take > REACH_HTTP_LEN)
		take = REACH_HTTP_LEN;
	http__emit_body(s->http + (off & (REACH_HTTP_LEN - 1)), false, take, total, cap, peer);
}

/* The write's first n bytes are in s->http (len: what the call moved; ubuf:
 * the user buffer for the chunks past the first, NULL when the bytes came
 * from an iovec gather). starts: the write starts with a method. */
__noinline __weak int http__handle(struct scratch *s, struct http_cap *cap, __u32 n)
{
	struct net_endpoint ep = {};
	const struct net_endpoint *peer = NULL;
	const void *ubuf;
	__u64 len, conn, pid_tgid, cgid;
	struct http_conn_key ck = {};
	__u8 source;
	bool starts;
	struct http_conn *st = NULL, fresh = {};
	__u32 end, base = 0, budget = REACH_HTTP_HEAD_MAX;
	bool pipelined = false, more;
	__u8 flags;

	if (!s || !cap || n > REACH_HTTP_LEN)
		return 0;
	ubuf = (const void *)cap->ubuf;
	if (cap->has_peer) {
		ep.family = cap->family;
		ep.port = cap->port;
		__builtin_memcpy(ep.addr, cap->addr, 16);
		peer = &ep;
	}
	len = cap->len;
	conn = cap->conn;
	pid_tgid = cap->pid_tgid;
	cgid = cap->cgid;
	source = cap->source;
	starts = cap->starts;
	ck.conn = conn;
	ck.tgid = pid_tgid >> 32;
	end = http__head_end(s, n);
	if (end && end + 4 <= n && end + 4 <= REACH_HTTP_LEN) {
		__u32 w = 0;

		bpf_probe_read_kernel(&w, sizeof(w), s->http + (end & (REACH_HTTP_LEN - 1)));
		pipelined = http__starts_like_request(w);
	}
	if (starts) {
		/* a new request: a head still open on this connection was cut
		 * (user space sees the new start and counts it) */
		bpf_map_delete_elem(&http_conns, &ck);
		if (end && (!pipelined || len <= REACH_HTTP_LEN)) {
			/* complete here; a body after it is not copied, other
			 * requests after it are (pipelining), except a JSON
			 * POST's (an LLM or MCP call): in this write or the next */
			bool body = !pipelined && http__json_post(s, end);

			if (!http__emit_whole(s, cap, peer, pipelined ? n : end) && body)
				http__emit_repeat(s, cap, peer, end);
			if (!body)
				return 0;
			if (len > end) {
				http__body_at(s, cap, peer, end, n);
			} else {
				struct http_conn pending = { .captured = 0, .body = 1 };

				if (bpf_map_update_elem(&http_conns, &ck, &pending, BPF_ANY))
					loss__count(REACH_EV_HTTP_BODY, REACH_LOSS_MAP_FULL);
			}
			return 0;
		}
		flags = REACH_HTTP_F_START;
	} else {
		st = bpf_map_lookup_elem(&http_conns, &ck);
		if (!st)
			return 0;
		if (st->body) {
			/* the body of the JSON POST whose head ended the last write */
			bpf_map_delete_elem(&http_conns, &ck);
			http__body_at(s, cap, peer, 0, n);
			return 0;
		}
		base = st->captured;
		if (base >= REACH_HTTP_HEAD_MAX) {
			bpf_map_delete_elem(&http_conns, &ck);
			return 0;
		}
		budget = REACH_HTTP_HEAD_MAX - base;
		flags = REACH_HTTP_F_CONT;
	}
	if (end && !pipelined) {
		/* the rest of the head ends here: its body is not copied */
		if (end < n)
			n = end;
		len = n;
	}
	if (n > budget)
		n = budget;
	if (n > REACH_HTTP_LEN)
		return 0;
	more = ubuf && len > n && n < budget;
	if (!http__emit_piece(s->http, false, n, len, source, peer, conn, base, flags | (more ? REACH_HTTP_F_MORE : 0),
			      pid_tgid, cgid)) {
		bpf_map_delete_elem(&http_conns, &ck);
		return 0;
	}
	if (more)
		http__emit_rest(ubuf, len, budget, source, peer, conn, base, REACH_HTTP_F_CONT, pid_tgid, cgid);
	if (end || len >= budget || (!ubuf && len > n)) {
		/* the head ended, or this is all of it that will be seen (the
		 * bound, or an iovec gather past its first chunk): user space
		 * counts a cut head */
		if (!end && (len > budget || (!ubuf && len > n)))
			loss__count(REACH_EV_HTTP, REACH_LOSS_TRUNCATED);
		bpf_map_delete_elem(&http_conns, &ck);
		return 0;
	}
	/* the head goes on in the next write (a long write whose blank line
	 * was past its first chunk also keeps it: user space ignores pieces
	 * after a head it completed, and the bound ends it) */
	if (st) {
		st->captured = base + len;
		return 0;
	}
	fresh.captured = len;
	if (bpf_map_update_elem(&http_conns, &ck, &fresh, BPF_ANY))
		loss__count(REACH_EV_HTTP, REACH_LOSS_MAP_FULL);
	return 0;
}

/* Fills the per-CPU capture slot and runs the handler. */
static __always_inline void http__dispatch(struct scratch *s, __u64 ubuf, __u64 len, const struct net_endpoint *peer,
					   __u64 conn, __u64 pid_tgid, __u64 cgid, __u8 source, bool starts, __u64 n)
{
	__u32 zero = 0;
	struct http_cap *cap = bpf_map_lookup_elem(&http_caps, &zero);

	if (!cap)
		return;
	cap->ubuf = ubuf;
	cap->len = len;
	cap->conn = conn;
	cap->pid_tgid = pid_tgid;
	cap->cgid = cgid;
	cap->source = source;
	cap->starts = starts;
	cap->has_peer = peer != NULL;
	if (peer) {
		cap->family = peer->family;
		cap->port = peer->port;
		__builtin_memcpy(cap->addr, peer->addr, 16);
	}
	http__handle(s, cap, n);
}

/* A TLS ClientHello at ubuf (record 0x16 0x03 xx, handshake type 1 at
 * byte 5) on a plaintext socket: the connection is TLS whatever its port.
 * One event per (cgroup, executable, destination). True when it was one
 * (the bytes are then no HTTP head). */
static __always_inline bool http__tls_hello(const void *ubuf, __u64 len, const struct net_endpoint *peer,
					    __u64 pid_tgid, __u64 cgid)
{
	struct reach_dedup_key key = { .cgroup_id = cgid, .kind = REACH_EV_TLS_HELLO };
	struct reach_tls_hello_event *ev;
	__u8 h[6] = {};
	__u64 now, n, w[3] = {};

	if (!peer || len < 6 || bpf_probe_read_user(h, sizeof(h), ubuf))
		return false;
	if (h[0] != 0x16 || h[1] != 0x03 || h[5] != 0x01)
		return false;
	w[0] = net__exe_seed();
	__builtin_memcpy(&w[1], peer->addr, 16);
	key.hash = hash__words((const char *)w, sizeof(w), sizeof(w), 0x68656c6fULL /* "helo" */ ^ peer->port);
	now = 0; /* read by dedup__first_seen when needed */
	if (!dedup__first_seen(&key, &now))
		return true;
	ev = dedup__reserve(&key, sizeof(*ev));
	if (!ev)
		return true;
	task__fill_hdr(&ev->hdr, REACH_EV_TLS_HELLO, sizeof(*ev), pid_tgid, cgid, now);
	ev->key = key;
	ev->family = peer->family;
	ev->pad = 0;
	ev->dport = peer->port;
	__builtin_memcpy(ev->daddr, peer->addr, 16);
	n = len < REACH_TLS_HELLO_LEN ? len : REACH_TLS_HELLO_LEN;
	if (len > REACH_TLS_HELLO_LEN)
		loss__count(REACH_EV_TLS_HELLO, REACH_LOSS_TRUNCATED); /* the SNI is usually well before */
	if (bpf_probe_read_user(ev->payload, n & (2 * REACH_TLS_HELLO_LEN - 1), ubuf)) {
		loss__count(REACH_EV_TLS_HELLO, REACH_LOSS_READ_FAILED);
		n = 0;
	}
	ev->len = n;
	events__submit(ev);
	return true;
}

/* An HTTP/2 connection not followed (why: REACH_H2_WHY_*): one event per
 * (cgroup, executable, source, why). */
static __always_inline void http__h2_preface(__u8 source, __u8 why, __u64 pid_tgid, __u64 cgid)
{
	struct reach_dedup_key key = { .cgroup_id = cgid, .kind = REACH_EV_H2 };
	struct reach_h2_event *ev;
	__u64 now, w[2];

	w[0] = net__exe_seed();
	w[1] = source | (__u64)why << 8;
	key.hash = hash__words((const char *)w, sizeof(w), sizeof(w), 0x6832ULL /* "h2" */);
	now = 0; /* read by dedup__first_seen when needed */
	if (!dedup__first_seen(&key, &now))
		return;
	ev = dedup__reserve(&key, sizeof(*ev));
	if (!ev)
		return;
	task__fill_hdr(&ev->hdr, REACH_EV_H2, sizeof(*ev), pid_tgid, cgid, now);
	ev->key = key;
	ev->source = source;
	ev->why = why;
	__builtin_memset(ev->pad, 0, sizeof(ev->pad));
	events__submit(ev);
}

/* ---- HTTP/2 ------------------------------------------------------------------ */

/* A connection that started with the client preface: where its byte stream
 * is in the frame layout. Kept across writes, so a frame (or a frame
 * header) split over writes is followed. LRU: a connection idle while
 * 16384 newer ones started is forgotten (its later frames are not seen). */
struct h2_conn {
	__u32 seq;       /* pieces sent so far (user space checks there is no gap) */
	__u32 skip;      /* payload bytes of a non-header frame still to pass */
	__u32 hdr_left;  /* payload bytes of the header frame being copied still to come */
	__u32 frame_len;
	__u32 stream_id;
	__u8  type;
	__u8  fflags;
	__u8  hlen;      /* bytes of a frame header split across writes, in hbuf */
	__u8  preface;   /* the next piece is the connection's first */
	__u8  hbuf[24];  /* 9 bytes used: 24 so that hbuf + hlen (< 9) + 9 is in range */
	__u32 data_sid;  /* the highest client stream whose first DATA frame was looked at */
	__u8  data_cap;  /* the DATA frame being passed is such a first one: look at its payload */
	__u8  pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct http_conn_key);
	__type(value, struct h2_conn);
} h2_conns SEC(".maps") __weak;

#define H2_STEPS 128 /* frame steps per write: more frames than this in one write lose the connection */

/* The write being walked, in a per-CPU slot (no room on the stack). */
struct h2_walk {
	__u64 ubuf;
	__u64 len;
	__u64 off;
	__u64 conn;
	__u64 pid_tgid;
	__u64 cgid;
	__u8  source;
	__u8  family;
	__u8  lost;      /* 0, or 1 + the enum reach_loss_reason that lost the connection */
	__u8  start;     /* the write starts with the client preface: a new connection */
	__u16 port;
	__u16 pad2;
	__u8  addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct h2_walk);
} h2_walks SEC(".maps") __weak;

/* What bpf_loop hands the step: pointers only (its context must be stack). */
struct h2_step_ctx {
	struct h2_walk *w;
	struct h2_conn *st;
};

/* One piece: n bytes of the current header frame at the walk's offset (0
 * bytes and flags REACH_H2_F_LOST for a loss notice). 0, or 1 + the loss
 * reason. */
static __always_inline __u8 h2__emit(struct h2_walk *w, struct h2_conn *st, __u64 n, __u8 flags)
{
	struct reach_h2_frame_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev)
		return 1 + REACH_LOSS_RINGBUF_FULL;
	task__fill_hdr(&ev->hdr, REACH_EV_H2_FRAME, sizeof(*ev), w->pid_tgid, w->cgid, bpf_ktime_get_boot_ns());
	ev->source = w->source;
	ev->family = w->family;
	ev->dport = w->port;
	__builtin_memcpy(ev->daddr, w->addr, 16);
	ev->flags = flags | (st->preface ? REACH_H2_F_PREFACE : 0);
	ev->frame_type = st->type;
	ev->frame_flags = st->fflags;
	ev->pad = 0;
	ev->stream_id = st->stream_id;
	ev->frame_len = st->frame_len;
	ev->frag_off = st->frame_len - st->hdr_left;
	ev->seq = st->seq;
	ev->pad2 = 0;
	ev->conn = w->conn;
	ev->len = 0;
	barrier_var(n); /* the bound below must hold on the register the read uses */
	if (n > REACH_HTTP_LEN)
		n = REACH_HTTP_LEN;
	if (n && bpf_probe_read_user(ev->payload, n, (const void *)(w->ubuf + w->off))) {
		bpf_ringbuf_discard(ev, 0);
		return 1 + REACH_LOSS_READ_FAILED;
	}
	ev->len = n;
	events__submit(ev);
	st->seq++;
	st->preface = 0;
	return 0;
}

/* The first bytes of a client stream's first DATA frame, at the walk's
 * offset (rem bytes of the write left): a JSON body (an LLM call, an MCP
 * tools/call over streamable HTTP) goes to user space, which pairs it with
 * the request decoded for the stream. Which requests are JSON POSTs only
 * HPACK says, so the kernel takes any body that starts like JSON (after a
 * pad length): gRPC messages (a 0/1 flag byte) and forms cost one 2-byte
 * read. Only the frame's bytes in this write: a payload split over writes
 * is cut (counted). 0, or 1 + the loss reason. */
static __always_inline __u8 h2__body(struct h2_walk *w, struct h2_conn *st, __u64 rem)
{
	struct reach_http_body_event *ev;
	__u8 b[2] = {}, c;
	__u64 n = st->skip < rem ? st->skip : rem;
	bool padded = st->fflags & 0x8;

	if (n < (padded ? 2 : 1) || bpf_probe_read_user(b, padded ? 2 : 1, (const void *)(w->ubuf + w->off)))
		return 0;
	c = padded ? b[1] : b[0];
	if (c != '{' && c != '[' && c != ' ' && c != '\n' && c != '\r' && c != '\t')
		return 0;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		loss__count(REACH_EV_HTTP_BODY, REACH_LOSS_RINGBUF_FULL);
		return 0; /* the body only: its request still decodes (user space names the road) */
	}
	task__fill_hdr(&ev->hdr, REACH_EV_HTTP_BODY, sizeof(*ev), w->pid_tgid, w->cgid, bpf_ktime_get_boot_ns());
	ev->source = w->source;
	ev->family = w->family;
	ev->dport = w->port;
	__builtin_memcpy(ev->daddr, w->addr, 16);
	ev->total_len = st->frame_len;
	ev->flags = REACH_HTTP_BODY_F_H2;
	ev->frame_flags = st->fflags;
	ev->pad[0] = ev->pad[1] = 0;
	ev->stream_id = st->stream_id;
	ev->pad2 = 0;
	ev->conn = w->conn;
	if (n > REACH_HTTP_BODY_LEN)
		n = REACH_HTTP_BODY_LEN;
	if (st->frame_len > n) {
		ev->flags |= REACH_HTTP_BODY_F_CUT;
		loss__count(REACH_EV_HTTP_BODY, REACH_LOSS_TRUNCATED);
	}
	barrier_var(n); /* the bound below must hold on the register the read uses */
	if (n > REACH_HTTP_BODY_LEN)
		n = REACH_HTTP_BODY_LEN;
	if (n && bpf_probe_read_user(ev->payload, n, (const void *)(w->ubuf + w->off))) {
		loss__count(REACH_EV_HTTP_BODY, REACH_LOSS_READ_FAILED);
		n = 0;
	}
	ev->len = n;
	events__submit(ev);
	return 0;
}

/* One step through the write: pass a non-header frame's bytes, copy a
 * piece of a header frame, or read (the rest of) a frame header. */
static long h2__step(__u64 i, void *arg)
{
	struct h2_step_ctx *c = arg;
	struct h2_walk *w = c->w;
	struct h2_conn *st = c->st;
	__u64 rem, n;
	__u32 flen, hlen;

	if (!w || !st || w->off >= w->len)
		return 1;
	rem = w->len - w->off;
	if (st->skip) {
		if (st->data_cap) {
			st->data_cap = 0;
			h2__body(w, st, rem);
		}
		n = st->skip < rem ? st->skip : rem;
		st->skip -= n;
		w->off += n;
		return 0;
	}
	if (st->hdr_left) {
		n = st->hdr_left < rem ? st->hdr_left : rem;
		if (n > REACH_HTTP_LEN)
			n = REACH_HTTP_LEN;
		w->lost = h2__emit(w, st, n, 0);
		if (w->lost)
			return 1;
		st->hdr_left -= n;
		w->off += n;
		return 0;
	}
	hlen = st->hlen;
	if (hlen >= 9)
		hlen = 0; /* cannot happen */
	n = 9 - hlen;
	if (n > rem)
		n = rem;
	if (n == 0 || n > 9)
		return 1;
	if (bpf_probe_read_user(st->hbuf + (hlen & 15), n, (const void *)(w->ubuf + w->off))) {
		w->lost = 1 + REACH_LOSS_READ_FAILED;
		return 1;
	}
	w->off += n;
	st->hlen = hlen + n;
	if (st->hlen < 9)
		return 1; /* the rest of the frame header comes with the next write */
	st->hlen = 0;
	flen = (__u32)st->hbuf[0] << 16 | (__u32)st->hbuf[1] << 8 | st->hbuf[2];
	if (st->hbuf[3] != 0x1 /* HEADERS */ && st->hbuf[3] != 0x9 /* CONTINUATION */) {
		__u32 sid = ((__u32)st->hbuf[5] << 24 | (__u32)st->hbuf[6] << 16 | (__u32)st->hbuf[7] << 8 |
			     st->hbuf[8]) & 0x7fffffff;

		st->skip = flen; /* SETTINGS, WINDOW_UPDATE, ...: not read */
		if (st->hbuf[3] == 0x0 /* DATA */ && (sid & 1) && sid > st->data_sid && flen) {
			/* a client stream's first DATA frame (streams open in
			 * increasing order; one whose DATA comes after a later
			 * stream's is not looked at: user space names its road) */
			st->data_sid = sid;
			st->data_cap = 1;
			st->type = 0;
			st->fflags = st->hbuf[4];
			st->stream_id = sid;
			st->frame_len = flen;
		}
		return 0;
	}
	if (flen > REACH_H2_FRAME_MAX) {
		w->lost = 1 + REACH_LOSS_TRUNCATED;
		return 1;
	}
	st->type = st->hbuf[3];
	st->fflags = st->hbuf[4];
	st->stream_id = ((__u32)st->hbuf[5] << 24 | (__u32)st->hbuf[6] << 16 | (__u32)st->hbuf[7] << 8 | st->hbuf[8]) &
			0x7fffffff;
	st->frame_len = flen;
	st->hdr_left = flen;
	if (!flen) { /* an empty frame still carries its flags (END_HEADERS) */
		w->lost = h2__emit(w, st, 0, 0);
		if (w->lost)
			return 1;
	}
	return 0;
}

/* Walks the write in the per-CPU slot through the connection's frames. A
 * global function: verified once, whatever calls it. A loss (the ring
 * full, a read failing, a header frame over REACH_H2_FRAME_MAX, more
 * frames in a write than H2_STEPS) is counted, told to user space with a
 * LOST piece when the ring has room, and ends the following: user space
 * cannot decode that connection any more. */
__noinline __weak int h2__handle(struct h2_walk *w)
{
	struct http_conn_key ck = {};
	struct h2_step_ctx c = {};
	struct h2_conn *st;
	__u8 lost;

	if (!w)
		return 0;
	ck.conn = w->conn;
	ck.tgid = w->pid_tgid >> 32;
	if (w->start) {
		/* here, not in the caller: the state is on this frame's stack,
		 * not on the syscall program's, which is full */
		struct h2_conn fresh = { .preface = 1 };

		if (bpf_map_update_elem(&h2_conns, &ck, &fresh, BPF_ANY)) {
			loss__count(REACH_EV_H2_FRAME, REACH_LOSS_MAP_FULL);
			http__h2_preface(w->source, REACH_H2_WHY_NO_ROOM, w->pid_tgid, w->cgid);
			return 0;
		}
		if (w->off >= w->len)
			return 0; /* the preface alone */
	}
	st = bpf_map_lookup_elem(&h2_conns, &ck);
	if (!st)
		return 0;
	w->lost = 0;
	c.w = w;
	c.st = st;
	if (w->ubuf)
		bpf_loop(H2_STEPS, h2__step, &c, 0);
	else
		w->lost = 1 + REACH_LOSS_TRUNCATED; /* an iovec gather: not walked */
	lost = w->lost;
	if (!lost && w->off < w->len)
		lost = 1 + REACH_LOSS_TRUNCATED; /* more frames than steps */
	if (!lost)
		return 0;
	loss__count(REACH_EV_H2_FRAME, (lost - 1) & 3);
	h2__emit(w, st, 0, REACH_H2_F_LOST);
	bpf_map_delete_elem(&h2_conns, &ck);
	return 0;
}

/* A write on a connection neither HTTP/1 nor followed HTTP/2: does it
 * start with a client's HEADERS frame (type 1, only END_STREAM,
 * END_HEADERS, PADDED, PRIORITY flags, an odd stream id, a length that fits
 * the write and REACH_H2_FRAME_MAX, a block whose first field is a request
 * pseudo-header from the static table: :authority, :method, :path or
 * :scheme, indexed or as a literal's name)? Then it is an HTTP/2 client
 * connection whose start reach did not see (the agent started later, or
 * h2_conns forgot it): its HPACK table is unknown, so it is reported,
 * never silently skipped. A server's HEADERS start with :status, its
 * trailers with other names: not taken. Bodies (JSON, text) and TLS
 * records cannot pass: their first three bytes read as a length far over
 * the bound. Not recognised: a block that starts with a dynamic table
 * reference or a size update. A global function: its stack is its own. */
__noinline __weak int h2__midstream(struct h2_walk *w)
{
	__u8 h[16] = {};
	__u32 flen, sid, at;
	__u8 b;

	if (!w || w->len < 10 || bpf_probe_read_user(h, w->len < 16 ? 10 : 16, (const void *)w->ubuf))
		return 0;
	flen = (__u32)h[0] << 16 | (__u32)h[1] << 8 | h[2];
	sid = ((__u32)h[5] << 24 | (__u32)h[6] << 16 | (__u32)h[7] << 8 | h[8]) & 0x7fffffff;
	if (h[3] != 0x1 || (h[4] & ~0x2d) || !(sid & 1) || flen > REACH_H2_FRAME_MAX || flen + 9 > w->len)
		return 0;
	at = 9 + (h[4] & 0x8 ? 1 : 0) + (h[4] & 0x20 ? 5 : 0);
	if (at >= 9 + flen || at >= w->len || at > 15)
		return 0;
	b = h[at & 15];
	/* indexed 1..7 (0x81-0x87), or a literal named by index 1..7: with
	 * incremental indexing (0x41-0x47), without (0x01-0x07), never (0x11-0x17) */
	if (!((b >= 0x81 && b <= 0x87) || (b >= 0x41 && b <= 0x47) || (b >= 0x01 && b <= 0x07) ||
	      (b >= 0x11 && b <= 0x17)))
		return 0;
	http__h2_preface(w->source, REACH_H2_WHY_MIDSTREAM, w->pid_tgid, w->cgid);
	return 0;
}

/* A write on an HTTP/2 connection (off: where its frames start: past the
 * preface, or 0). */
static __always_inline void h2__dispatch(const void *ubuf, __u64 len, __u64 off, bool start, __u8 source,
					 const struct net_endpoint *peer, __u64 conn, __u64 pid_tgid, __u64 cgid)
{
	__u32 zero = 0;
	struct h2_walk *w = bpf_map_lookup_elem(&h2_walks, &zero);

	if (!w)
		return;
	w->ubuf = (__u64)ubuf;
	w->len = len;
	w->off = off;
	w->conn = conn;
	w->pid_tgid = pid_tgid;
	w->cgid = cgid;
	w->source = source;
	w->start = start;
	w->family = peer ? peer->family : 0;
	w->port = peer ? peer->port : 0;
	if (peer)
		__builtin_memcpy(w->addr, peer->addr, 16);
	else
		__builtin_memset(w->addr, 0, 16);
	if (off == (__u64)-1)
		h2__midstream(w);
	else
		h2__handle(w);
}

/* Captures the head at ubuf (len bytes in user memory) for the current,
 * already monitored, task. peer: the socket's destination, or NULL (TLS);
 * conn: the socket or TLS session. */
static __always_inline void http__capture(const void *ubuf, __u64 len, __u8 source, const struct net_endpoint *peer,
					  __u64 conn, __u64 pid_tgid, __u64 cgid)
{
	struct http_conn_key ck = { .conn = conn, .tgid = pid_tgid >> 32 };
	struct scratch *s;
	__u32 first = 0;
	bool starts;
	__u64 n;

	if (len < 3 || bpf_probe_read_user(&first, len < 4 ? 3 : 4, ubuf))
		return;
	starts = len < 4 ? http__starts_like_request3(first) : http__starts_like_request(first);
	if (!starts && first == 0x20495250 /* "PRI " */) {
		/* the client preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24
		 * bytes), maybe with frames after it: followed from here */
		h2__dispatch(ubuf, len, 24, true, source, peer, conn, pid_tgid, cgid);
		return;
	}
	if (starts) {
		/* HTTP/1 here now: a connection that spoke HTTP/2 before (a
		 * reused socket or session address) is over */
		bpf_map_delete_elem(&h2_conns, &ck);
	} else if (bpf_map_lookup_elem(&h2_conns, &ck)) {
		h2__dispatch(ubuf, len, 0, false, source, peer, conn, pid_tgid, cgid);
		return;
	}
	if (!starts && !bpf_map_lookup_elem(&http_conns, &ck)) {
		/* the common case: no head here, none open; but maybe HTTP/2
		 * whose start was not seen */
		if (len >= 10)
			h2__dispatch(ubuf, len, (__u64)-1, false, source, peer, conn, pid_tgid, cgid);
		return;
	}
	s = scratch__get();
	if (!s)
		return;
	n = len < REACH_HTTP_LEN ? len : REACH_HTTP_LEN;
	if (bpf_probe_read_user(s->http, n, ubuf)) {
		loss__count(REACH_EV_HTTP, REACH_LOSS_READ_FAILED);
		return;
	}
	http__dispatch(s, (__u64)ubuf, len, peer, conn, pid_tgid, cgid, source, starts, n);
}

/* iovecs of one writev/sendmsg gathered into a head; a head split over more
 * is captured up to here (its credential may then be missing: the parser
 * sees a cut head, as for a head longer than REACH_HTTP_LEN). */
#define HTTP_MAX_IOV 8

/* iovecs of one writev/sendmsg walked on an HTTP/2 connection: each is a
 * write of its own to the frame walker, so they cost no scratch copy, and
 * clients write frames in many pieces (node's http2 and gRPC's sendmsg
 * gather a header, a frame header and a payload per frame). Past this the
 * connection is lost, counted (h2_undecodable), never silent. */
#define H2_MAX_IOV 64

/* A head written from a user iovec array (writev, sendmsg): servers and
 * proxies write a head in pieces (status line, header lines), so the first
 * HTTP_MAX_IOV iovecs are gathered, as far as the ret bytes the call moved.
 * Only the first REACH_HTTP_LEN bytes of such a write are captured. */
static __always_inline void http__capture_iov(const struct iovec *uiov, __u64 niov, __u64 ret, __u8 source,
					      const struct net_endpoint *peer, __u64 conn, __u64 pid_tgid,
					      __u64 cgid)
{
	struct http_conn_key ck = { .conn = conn, .tgid = pid_tgid >> 32 };
	struct iovec iov;
	struct scratch *s;
	__u32 first = 0;
	__u64 off = 0;
	bool starts;

	if (ret < 3 || !niov)
		return;
	if (bpf_probe_read_user(&iov, sizeof(iov), uiov)) {
		loss__count(REACH_EV_HTTP, REACH_LOSS_READ_FAILED);
		return;
	}
	/* a request method split from the rest of the line inside one
	 * gathered write is not looked for */
	if (iov.iov_len < 3 || bpf_probe_read_user(&first, iov.iov_len < 4 ? 3 : 4, iov.iov_base))
		return;
	starts = iov.iov_len < 4 ? http__starts_like_request3(first) : http__starts_like_request(first);
	if (!starts && (first == 0x20495250 /* "PRI " */ || bpf_map_lookup_elem(&h2_conns, &ck))) {
		/* HTTP/2 (nghttp writes its frames with writev): each iovec
		 * walked in turn, as the writes they could have been */
		bool preface = first == 0x20495250;
		__u64 done = 0;

		for (int i = 0; i < H2_MAX_IOV; i++) {
			__u64 n;

			if (i >= niov || done >= ret)
				return;
			if (i > 0 && bpf_probe_read_user(&iov, sizeof(iov), &uiov[i]))
				break; /* lost below */
			n = iov.iov_len;
			if (n > ret - done)
				n = ret - done;
			h2__dispatch(iov.iov_base, n, i == 0 && preface ? 24 : 0, i == 0 && preface, source, peer, conn,
				     pid_tgid, cgid);
			done += n;
		}
		/* more iovecs than followed: the connection is lost here */
		h2__dispatch(0, 0, 0, false, source, peer, conn, pid_tgid, cgid);
		return;
	}
	if (!starts && !bpf_map_lookup_elem(&http_conns, &ck)) {
		/* maybe HTTP/2 whose start was not seen (its first iovec) */
		if (iov.iov_len >= 10 && ret >= 10)
			h2__dispatch(iov.iov_base, iov.iov_len < ret ? iov.iov_len : ret, (__u64)-1, false, source, peer,
				     conn, pid_tgid, cgid);
		return;
	}
	s = scratch__get();
	if (!s)
		return;
	for (int i = 0; i < HTTP_MAX_IOV; i++) {
		__u64 n;

		if (i > 0) {
			if (i >= niov || off >= ret)
				break;
			if (bpf_probe_read_user(&iov, sizeof(iov), &uiov[i])) {
				/* counted; what was gathered still goes out, cut short */
				loss__count(REACH_EV_HTTP, REACH_LOSS_READ_FAILED);
				break;
			}
		}
		if (off >= REACH_HTTP_LEN)
			break;
		n = iov.iov_len;
		if (n > ret - off)
			n = ret - off;
		if (n > REACH_HTTP_LEN - off)
			n = REACH_HTTP_LEN - off;
		/* off < LEN and n <= LEN: inside the 2 * LEN scratch for the verifier */
		if (n > REACH_HTTP_LEN)
			n = REACH_HTTP_LEN;
		if (n && bpf_probe_read_user(s->http + off, n, iov.iov_base)) {
			loss__count(REACH_EV_HTTP, REACH_LOSS_READ_FAILED);
			if (!off)
				return;
			break;
		}
		off += n;
	}
	/* more head than HTTP_MAX_IOV iovecs carried: cut like a long head */
	if (off < ret && ret <= REACH_HTTP_LEN && niov > HTTP_MAX_IOV)
		loss__count(REACH_EV_HTTP, REACH_LOSS_TRUNCATED);
	http__dispatch(s, 0, off < ret && ret <= REACH_HTTP_LEN ? off : ret, peer, conn, pid_tgid, cgid, source, starts,
		       off);
}

#endif /* REACH_HTTP_BPF_H */
