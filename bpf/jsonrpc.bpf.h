/* SPDX-License-Identifier: Apache-2.0 */
/* JSON-RPC on pipes and unix sockets: MCP over stdio (issue #18). A write
 * by a monitored task to a pipe or a unix socket is peeked (16 bytes); one
 * that starts like a JSON-RPC message is captured whole up to
 * REACH_JSONRPC_LEN bytes. User space extracts tool and argument names
 * (user/mcp/jsonrpc.h) and wipes the rest. */
#ifndef REACH_JSONRPC_BPF_H
#define REACH_JSONRPC_BPF_H

#include "net.bpf.h"

#define S_IFIFO 0010000
#ifndef AF_UNIX
#define AF_UNIX 1
#endif

static __always_inline bool jsonrpc__ws(__u8 c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static __always_inline bool jsonrpc__key(const __u8 *k)
{
	__u32 w = k[0] | (k[1] << 8) | (k[2] << 16) | ((__u32)k[3] << 24);

	/* "json", "id\"", "meth", "resu", "erro", "para" */
	return w == 0x6e6f736a || (w & 0xffffff) == 0x226469 || w == 0x6874656d || w == 0x75736572 ||
	       w == 0x6f727265 || w == 0x61726170;
}

/* '{' then, after optional whitespace, a quoted JSON-RPC member; or
 * "Content-Length:" framing. Up to 4 bytes of leading whitespace (a newline
 * left by the previous message) are skipped. Reads 16 bytes at most. */
static __always_inline bool jsonrpc__starts_like(const void *buf)
{
	__u8 t[12], w[4];
	__u64 i = 0;

	if (bpf_probe_read_user(w, sizeof(w), buf))
		return false;
	if (jsonrpc__ws(w[0]))
		i = jsonrpc__ws(w[1]) ? (jsonrpc__ws(w[2]) ? (jsonrpc__ws(w[3]) ? 4 : 3) : 2) : 1;
	/* the user buffer at that offset: fixed stack indexes only */
	if (bpf_probe_read_user(t, sizeof(t), buf + i))
		return false;
	if (t[0] == 'C')
		return t[1] == 'o' && t[2] == 'n' && t[3] == 't' && t[4] == 'e' && t[5] == 'n' && t[6] == 't' &&
		       t[7] == '-' && t[8] == 'L';
	if (t[0] != '{')
		return false;
	if (t[1] == '"')
		return jsonrpc__key(t + 2);
	return jsonrpc__ws(t[1]) && t[2] == '"' && jsonrpc__key(t + 3);
}

/* Where a JSON-RPC write went: ino the inode the reader holds (the pipe's,
 * or a unix socket's peer end), own_ino the writer's, peer_tgid the unix
 * socket's SO_PEERCRED process. */
struct jsonrpc_where {
	__u64 ino, own_ino;
	__u32 peer_tgid;
};

/* Pipe or unix socket: the transport, or 0. */
static __always_inline __u8 jsonrpc__transport(struct task_struct *task, int fd, struct jsonrpc_where *w)
{
	struct file *file = task__file_of_fd(task, fd);
	umode_t mode;

	if (!file)
		return 0;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	w->ino = w->own_ino = BPF_CORE_READ(file, f_inode, i_ino);
	w->peer_tgid = 0;
	if ((mode & S_IFMT) == S_IFIFO)
		return REACH_JSONRPC_PIPE;
	if ((mode & S_IFMT) == S_IFSOCK) {
		struct socket *sock = BPF_CORE_READ(file, private_data);
		struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : NULL;

		if (sk && BPF_CORE_READ(sk, __sk_common.skc_family) == AF_UNIX) {
			/* a socketpair (node's child stdio): the peer end's inode is
			 * what the other process holds as its descriptor */
			struct sock *peer = BPF_CORE_READ((struct unix_sock *)sk, peer);
			__u64 pino = peer ? BPF_CORE_READ(peer, sk_socket, file, f_inode, i_ino) : 0;
			/* SO_PEERCRED's process: a server reached by connect() is
			 * nobody's child, this is how it is named */
			struct pid *pp = BPF_CORE_READ(sk, sk_peer_pid);

			if (pino)
				w->ino = pino;
			if (pp)
				w->peer_tgid = BPF_CORE_READ(pp, numbers[0].nr);
			return REACH_JSONRPC_UNIX;
		}
	}
	return 0;
}

/* buf: the user bytes written (ret of them). */
static __noinline int jsonrpc__capture(const void *buf, __u64 len, __u8 transport, const struct jsonrpc_where *w,
					int fd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 cgid = bpf_get_current_cgroup_id();
	struct reach_jsonrpc_event *ev;
	__u64 n;

	if (!buf || len < 8)
		return 0;
	/* unreadable: unknown whether it was JSON-RPC (rare: the write itself just read it) */
	if (!jsonrpc__starts_like(buf))
		return 0;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		loss__count(REACH_EV_JSONRPC, REACH_LOSS_RINGBUF_FULL);
		return 0;
	}
	task__fill_hdr(&ev->hdr, REACH_EV_JSONRPC, sizeof(*ev), pid_tgid, cgid, bpf_ktime_get_boot_ns());
	ev->transport = transport;
	ev->flags = 0;
	ev->pad = 0;
	ev->total_len = len > 0xffffffffULL ? 0xffffffffU : (__u32)len;
	ev->fd = (__u32)fd;
	ev->ino = w->ino;
	ev->own_ino = w->own_ino;
	ev->peer_tgid = w->peer_tgid;
	ev->pad2 = 0;
	n = len;
	if (n > REACH_JSONRPC_LEN) {
		n = REACH_JSONRPC_LEN;
		ev->flags |= REACH_JSONRPC_F_TRUNC;
	}
	if (bpf_probe_read_user(ev->payload, n & (2 * REACH_JSONRPC_LEN - 1), buf)) {
		loss__count(REACH_EV_JSONRPC, REACH_LOSS_READ_FAILED);
		bpf_ringbuf_discard(ev, 0);
		return 0;
	}
	ev->len = (__u32)n;
	events__submit(ev);
	return 0;
}

#endif /* REACH_JSONRPC_BPF_H */
