/* SPDX-License-Identifier: Apache-2.0 */
/* sys_exit handlers for UDP destinations and DNS responses (see net.bpf.h). */
#ifndef REACH_NET_SYSCALLS_BPF_H
#define REACH_NET_SYSCALLS_BPF_H

#include "net.bpf.h"
#include "http.bpf.h"
#include "jsonrpc.bpf.h"

/* A user msghdr (sendmsg, recvmsg; sendmmsg's first mmsghdr starts with
 * one): an unreadable one is a loss of the event kind it would have made. */
static __always_inline bool net__read_msghdr(const void *uptr, __u32 kind, struct user_msghdr *msg)
{
	if (!bpf_probe_read_user(msg, sizeof(*msg), uptr))
		return true;
	loss__count(kind, REACH_LOSS_READ_FAILED);
	return false;
}

/* The first iovec of a user iovec array, clamped to the ret bytes the call
 * moved: the head of a request or an answer. Unreadable: counted. */
static __always_inline bool net__first_iov(const void *iov_ptr, __u64 ret, __u32 kind, const void **buf, __u64 *len)
{
	struct iovec iov;

	if (bpf_probe_read_user(&iov, sizeof(iov), iov_ptr)) {
		loss__count(kind, REACH_LOSS_READ_FAILED);
		return false;
	}
	*buf = iov.iov_base;
	*len = iov.iov_len < ret ? iov.iov_len : ret;
	return true;
}

/* One datagram destination of the current (monitored) task, UDP or ICMP:
 * uaddr (the user's sockaddr) or, without one, the connected peer. Not
 * inlined: sendmmsg calls it per message (net__mmsg_dest_step). */
static __noinline int net__dgram_dest(struct sock *sk, const void *uaddr, __u32 proto, int fd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), cgid = bpf_get_current_cgroup_id();
	struct net_endpoint ep = {};
	struct reach_event_hdr owner;

	if (!sk)
		return 0;
	/* neither an address nor a peer (for UDP: a peer with a port):
	 * nothing was sent anywhere reach can name */
	if (!net__read_sockaddr(uaddr, &ep) && !net__sock_peer(sk, &ep) && (proto == IPPROTO_UDP || !ep.family))
		return 0;
	if (proto == IPPROTO_UDP) {
		if (ep.port == DNS_PORT)
			net__mark_dns_fd(bpf_get_current_task_btf(), pid_tgid, fd);
	} else {
		ep.port = 0; /* a ping socket's "port" is its echo id */
	}
	task__fill_hdr(&owner, REACH_EV_EGRESS, sizeof(struct reach_egress_event), pid_tgid, cgid, 0);
	net__record_egress(&owner, net__exe_seed(), proto == IPPROTO_UDP ? REACH_PROTO_UDP :
						    proto == IPPROTO_ICMP ? REACH_PROTO_ICMP : REACH_PROTO_ICMPV6,
			   &ep, 0, REACH_OUT_SENT, 0, bpf_ktime_get_boot_ns());
	return 0;
}

/* A send on a socket whose destination reach does not decode: a packet
 * socket (AF_PACKET: the frame is the destination) or a raw IP socket of
 * another protocol. The identity's blind road "raw-socket". ICMP (ping and
 * raw ICMP sockets) is decoded: an egress edge icmp/ADDR/0. True when sk
 * was one of those (handled). */
static __always_inline bool net__send_raw(struct sock *sk, __u16 proto, __u64 pid_tgid, __u64 cgid)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family == AF_PACKET) {
		road__record(REACH_ROAD_SOCKET, family, proto, pid_tgid, cgid);
		return true;
	}
	if ((family == REACH_AF_INET || family == REACH_AF_INET6) && BPF_CORE_READ(sk, sk_type) == SOCK_RAW &&
	    proto != IPPROTO_ICMP && proto != IPPROTO_ICMPV6) {
		road__record(REACH_ROAD_SOCKET, family, proto, pid_tgid, cgid);
		return true;
	}
	return false;
}

#define NET_MMSG_MAX 8 /* sendmmsg messages whose destinations are read; more: counted as truncated */
#define MMSGHDR_SIZE 64 /* struct mmsghdr: a user_msghdr and msg_len, padded */

/* sendmmsg's messages, one bpf_loop step each: net__dgram_dest is verified
 * once there, not once per message. */
struct mmsg_dest_ctx {
	const void *vec;
	struct sock *sk;
	__u32 proto;
	int fd;
};

static long net__mmsg_dest_step(__u64 i, void *arg)
{
	struct mmsg_dest_ctx *c = arg;
	struct user_msghdr msg;

	if (!net__read_msghdr(c->vec + i * MMSGHDR_SIZE, REACH_EV_EGRESS, &msg))
		return 1;
	net__dgram_dest(c->sk, msg.msg_name, c->proto, c->fd);
	return 0;
}

/* connect/sendto/sendmsg/sendmmsg exit: UDP and ICMP destinations, DNS
 * sockets, raw and packet sockets (roads). */
static __noinline int net__on_send_exit(struct pt_regs *regs, long nr, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 cgid = bpf_get_current_cgroup_id();
	struct net_endpoint ep = {};
	const void *uaddr = NULL;
	struct sock *sk;
	int fd = (int)SYSCALL_ARG1(regs);
	__u16 proto;

	if (!task__is_monitored(pid_tgid, cgid))
		return 0;
	sk = net__sock_of_fd(task, fd);
	if (!sk)
		return 0;
	if ((nr == NR_sendto || nr == NR_sendmsg) && ret > 0 &&
	    BPF_CORE_READ(sk, __sk_common.skc_family) == AF_UNIX) {
		/* a unix socket: maybe JSON-RPC (MCP) */
		const void *buf = (const void *)SYSCALL_ARG2(regs);
		__u64 len = ret;
		struct jsonrpc_where w = {};
		__u8 tr = jsonrpc__transport(task, fd, &w);

		if (nr == NR_sendmsg) {
			struct user_msghdr msg;

			if (!net__read_msghdr(buf, REACH_EV_JSONRPC, &msg) ||
			    !net__first_iov(msg.msg_iov, (__u64)ret, REACH_EV_JSONRPC, &buf, &len))
				return 0;
		}
		return tr ? jsonrpc__capture(buf, len, tr, &w, fd) : 0;
	}
	proto = BPF_CORE_READ(sk, sk_protocol);
	if (proto == IPPROTO_TCP && nr != NR_connect) {
		/* sendto/sendmsg/sendmmsg on TCP: maybe a plaintext HTTP request */
		const void *buf = (const void *)SYSCALL_ARG2(regs);
		__u64 len = ret;

		/* sendmmsg returns a count of messages, not bytes: no head length */
		if (ret <= 0 || nr == NR_sendmmsg)
			return 0;
		if (nr == NR_sendmsg) {
			struct user_msghdr msg;

			if (net__read_msghdr((void *)SYSCALL_ARG2(regs), REACH_EV_HTTP, &msg) &&
			    net__sock_peer(sk, &ep))
				http__capture_iov(msg.msg_iov, msg.msg_iovlen, (__u64)ret, REACH_HTTP_PLAINTEXT, &ep,
						  (__u64)sk, pid_tgid, cgid);
			return 0;
		}
		if (net__sock_peer(sk, &ep) && !http__tls_hello(buf, len, &ep, pid_tgid, cgid))
			http__capture(buf, len, REACH_HTTP_PLAINTEXT, &ep, (__u64)sk, pid_tgid, cgid);
		return 0;
	}
	if (ret >= 0 && net__send_raw(sk, proto, pid_tgid, cgid))
		return 0;
	if (proto == IPPROTO_TCP) {
		/* connect (its outcome comes from inet_sock_set_state): only
		 * note a DNS server's socket, whose answers are then read */
		if (net__read_sockaddr((const void *)SYSCALL_ARG2(regs), &ep) || net__sock_peer(sk, &ep))
			if (ep.port == DNS_PORT)
				net__mark_dns_fd(task, pid_tgid, fd);
		return 0;
	}
	if (proto != IPPROTO_UDP && proto != IPPROTO_ICMP && proto != IPPROTO_ICMPV6)
		return 0;
	if (nr == NR_sendmmsg) {
		/* every message may name its own destination */
		struct mmsg_dest_ctx c = {
			.vec = (const void *)SYSCALL_ARG2(regs), .sk = sk, .proto = proto, .fd = fd,
		};

		bpf_loop(ret < NET_MMSG_MAX ? ret : NET_MMSG_MAX, net__mmsg_dest_step, &c, 0);
		if (ret > NET_MMSG_MAX)
			loss__count(REACH_EV_EGRESS, REACH_LOSS_TRUNCATED);
		return 0;
	}
	if (nr == NR_connect || nr == NR_sendto) {
		uaddr = (const void *)(nr == NR_connect ? SYSCALL_ARG2(regs) : SYSCALL_ARG5(regs));
	} else {
		struct user_msghdr msg;

		if (!net__read_msghdr((void *)SYSCALL_ARG2(regs), REACH_EV_EGRESS, &msg))
			return 0;
		uaddr = msg.msg_name;
	}
	return net__dgram_dest(sk, uaddr, proto, fd);
}

/* write/writev exit: a plaintext HTTP request on a TCP socket. */
static __noinline int net__on_write_exit(struct pt_regs *regs, long nr, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 cgid = bpf_get_current_cgroup_id();
	struct net_endpoint ep = {};
	const void *buf = (const void *)SYSCALL_ARG2(regs);
	__u64 len = ret;
	struct sock *sk;
	__u16 proto;

	if (!task__is_monitored(pid_tgid, cgid))
		return 0;
	sk = net__sock_of_fd(task, (int)SYSCALL_ARG1(regs));
	if (!sk || BPF_CORE_READ(sk, __sk_common.skc_family) == AF_UNIX) {
		/* pipes and unix sockets: maybe JSON-RPC (MCP over stdio) */
		struct jsonrpc_where w = {};
		__u8 tr = jsonrpc__transport(task, (int)SYSCALL_ARG1(regs), &w);

		if (!tr)
			return 0; /* files */
		if (nr == NR_writev && !net__first_iov(buf, len, REACH_EV_JSONRPC, &buf, &len))
			return 0;
		return jsonrpc__capture(buf, len, tr, &w, (int)SYSCALL_ARG1(regs));
	}
	proto = BPF_CORE_READ(sk, sk_protocol);
	if (proto != IPPROTO_TCP) {
		/* a packet or raw socket written to: a road (UDP and ICMP
		 * written on a connected socket: the peer was seen at connect) */
		net__send_raw(sk, proto, pid_tgid, cgid);
		return 0;
	}
	if (!net__sock_peer(sk, &ep))
		return 0;
	if (nr == NR_writev)
		http__capture_iov(buf, SYSCALL_ARG3(regs), (__u64)ret, REACH_HTTP_PLAINTEXT, &ep, (__u64)sk, pid_tgid,
				  cgid);
	else if (!http__tls_hello(buf, len, &ep, pid_tgid, cgid))
		http__capture(buf, len, REACH_HTTP_PLAINTEXT, &ep, (__u64)sk, pid_tgid, cgid);
	return 0;
}

/* recvfrom/recvmsg/read exit with data: a DNS response if the socket talked
 * to port 53 and its peer is port 53. */
static __noinline int net__on_recv_exit(struct pt_regs *regs, long nr, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct dns_fd_key k = { .tgid = pid_tgid >> 32, .fd = (int)SYSCALL_ARG1(regs) };
	struct net_endpoint ep = {};
	struct reach_dns_event *ev;
	const void *buf, *uaddr = NULL;
	struct sock *sk;
	__u64 cgid, len;
	__u16 proto;

	if (!bpf_task_storage_get(&dns_threads, task, 0, 0))
		return 0;  /* this thread never talked to a DNS server */
	if (!bpf_map_lookup_elem(&dns_fds, &k))
		return 0;
	cgid = bpf_get_current_cgroup_id();
	if (!task__is_monitored(pid_tgid, cgid))
		return 0;
	sk = net__sock_of_fd(task, k.fd);
	if (!sk)
		return 0;
	proto = BPF_CORE_READ(sk, sk_protocol);

	if (nr == NR_recvmsg) {
		struct user_msghdr msg;
		__u64 unused;

		if (!net__read_msghdr((void *)SYSCALL_ARG2(regs), REACH_EV_DNS, &msg) ||
		    !net__first_iov(msg.msg_iov, (__u64)ret, REACH_EV_DNS, &buf, &unused))
			return 0;
		uaddr = msg.msg_name;
	} else {
		buf = (const void *)SYSCALL_ARG2(regs);
		if (nr == NR_recvfrom)
			uaddr = (const void *)SYSCALL_ARG5(regs);
	}
	if (!net__sock_peer(sk, &ep) && !net__read_sockaddr(uaddr, &ep))
		return 0;
	if (ep.port != DNS_PORT)
		return 0; /* the descriptor was reused for something else */

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		loss__count(REACH_EV_DNS, REACH_LOSS_RINGBUF_FULL);
		return 0;
	}
	task__fill_hdr(&ev->hdr, REACH_EV_DNS, sizeof(*ev), pid_tgid, cgid, bpf_ktime_get_boot_ns());
	ev->family = ep.family;
	ev->proto = proto == IPPROTO_TCP ? REACH_PROTO_TCP : REACH_PROTO_UDP;
	ev->server_port = ep.port;
	ev->flags = proto == IPPROTO_TCP ? REACH_DNS_F_TCP : 0;
	ev->total_len = ret;
	ev->pad = 0;
	__builtin_memcpy(ev->server, ep.addr, 16);
	len = ret;
	if (len > REACH_DNS_LEN) {
		len = REACH_DNS_LEN;
		ev->flags |= REACH_DNS_F_TRUNC;
		loss__count(REACH_EV_DNS, REACH_LOSS_TRUNCATED);
	}
	if (bpf_probe_read_user(ev->payload, len & (2 * REACH_DNS_LEN - 1), buf)) {
		loss__count(REACH_EV_DNS, REACH_LOSS_READ_FAILED);
		len = 0;
	}
	ev->len = len;
	events__submit(ev);
	return 0;
}

#endif /* REACH_NET_SYSCALLS_BPF_H */
