/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Heads of HTTP/1.x requests written by monitored processes, in plaintext
 * (TCP socket writes) or before encryption (TLS library uprobes). Only the
 * first REACH_HTTP_LEN bytes are copied, and only when they start with a
 * request method; a repeated identical head is a dedup map lookup. The bytes
 * hold credentials: user space fingerprints them and wipes the buffer.
 */
#ifndef REACH_HTTP_BPF_H
#define REACH_HTTP_BPF_H

#include "net.bpf.h"

/* "GET ", "POST", "PUT ", "HEAD", "DELE(TE)", "PATC(H)", "OPTI(ONS)": the
 * first 4 bytes as a little-endian word, one compare each. */
static __always_inline bool http__starts_like_request(__u32 w)
{
	return w == 0x20544547 /* "GET " */ || w == 0x54534f50 /* "POST" */ || w == 0x20545550 /* "PUT " */ ||
	       w == 0x44414548 /* "HEAD" */ || w == 0x454c4544 /* "DELE" */ || w == 0x43544150 /* "PATC" */ ||
	       w == 0x4954504f /* "OPTI" */;
}

/* The head's first n bytes are in s->http (len: what the call moved): one
 * dedup lookup, and an event the first time this head is seen. */
static __always_inline void http__emit(struct scratch *s, __u64 n, __u64 len, __u8 source,
				       const struct net_endpoint *peer, __u64 pid_tgid, __u64 cgid)
{
	struct reach_dedup_key key = { .cgroup_id = cgid, .kind = REACH_EV_HTTP };
	struct reach_http_event *ev;
	__u64 now;

	if (n > REACH_HTTP_LEN)
		return; /* cannot happen; bounds the copies below for the verifier */
	key.hash = hash__words(s->http, n, REACH_HTTP_LEN, source);
	now = bpf_ktime_get_boot_ns();
	if (!dedup__first_seen(&key, now))
		return;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		loss__count(REACH_EV_HTTP, REACH_LOSS_RINGBUF_FULL);
		dedup__forget(&key);
		return;
	}
	task__fill_hdr(&ev->hdr, REACH_EV_HTTP, sizeof(*ev), pid_tgid, cgid, now);
	ev->key = key;
	ev->source = source;
	ev->len = n;
	ev->total_len = len > 0xffffffffULL ? 0xffffffff : len;
	ev->pad = 0;
	if (peer) {
		ev->family = peer->family;
		ev->dport = peer->port;
		__builtin_memcpy(ev->daddr, peer->addr, 16);
	} else {
		ev->family = 0;
		ev->dport = 0;
		__builtin_memset(ev->daddr, 0, 16);
	}
	if (len > REACH_HTTP_LEN)
		loss__count(REACH_EV_HTTP, REACH_LOSS_TRUNCATED); /* the head may go on; user space flags it */
	bpf_probe_read_kernel(ev->payload, n, s->http);
	bpf_ringbuf_submit(ev, 0);
}

/* Captures the head at ubuf (len bytes in user memory) for the current,
 * already monitored, task. peer: the socket's destination, or NULL (TLS). */
static __always_inline void http__capture(const void *ubuf, __u64 len, __u8 source, const struct net_endpoint *peer,
					  __u64 pid_tgid, __u64 cgid)
{
	struct scratch *s;
	__u32 first = 0;
	__u64 n;

	if (len < 16 || bpf_probe_read_user(&first, sizeof(first), ubuf) || !http__starts_like_request(first))
		return;
	s = scratch__get();
	if (!s)
		return;
	n = len < REACH_HTTP_LEN ? len : REACH_HTTP_LEN;
	if (bpf_probe_read_user(s->http, n, ubuf)) {
		loss__count(REACH_EV_HTTP, REACH_LOSS_READ_FAILED);
		return;
	}
	http__emit(s, n, len, source, peer, pid_tgid, cgid);
}

/* iovecs of one writev/sendmsg gathered into a head; a head split over more
 * is captured up to here (its credential may then be missing: the parser
 * sees a cut head, as for a head longer than REACH_HTTP_LEN). */
#define HTTP_MAX_IOV 8

/* A head written from a user iovec array (writev, sendmsg): servers and
 * proxies write a head in pieces (status line, header lines), so the first
 * HTTP_MAX_IOV iovecs are gathered, as far as the ret bytes the call moved. */
static __always_inline void http__capture_iov(const struct iovec *uiov, __u64 niov, __u64 ret, __u8 source,
					      const struct net_endpoint *peer, __u64 pid_tgid, __u64 cgid)
{
	struct iovec iov;
	struct scratch *s;
	__u32 first = 0;
	__u64 off = 0;

	if (ret < 16 || !niov)
		return;
	if (bpf_probe_read_user(&iov, sizeof(iov), uiov)) {
		loss__count(REACH_EV_HTTP, REACH_LOSS_READ_FAILED);
		return;
	}
	/* a request method split from the rest of the line is not looked for */
	if (iov.iov_len < sizeof(first) || bpf_probe_read_user(&first, sizeof(first), iov.iov_base) ||
	    !http__starts_like_request(first))
		return;
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
	if (off < ret && ret <= REACH_HTTP_LEN && niov > HTTP_MAX_IOV) /* (longer: http__emit counts it) */
		loss__count(REACH_EV_HTTP, REACH_LOSS_TRUNCATED);
	http__emit(s, off, ret, source, peer, pid_tgid, cgid);
}

#endif /* REACH_HTTP_BPF_H */
