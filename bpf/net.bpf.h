/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Egress from syscalls: UDP destinations (connect, sendto, sendmsg,
 * sendmmsg) and DNS responses (recvfrom, recvmsg, read on a socket that
 * talked to port 53). TCP connects and their outcomes come from the
 * inet_sock_set_state tracepoint (sock.bpf.c), which sees the handshake.
 */
#ifndef REACH_NET_BPF_H
#define REACH_NET_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "syscall.bpf.h"
#include "task.bpf.h"

#define S_IFMT   00170000
#define S_IFSOCK 0140000
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ICMP 1
#define IPPROTO_ICMPV6 58
#define AF_PACKET 17
#define SOCK_RAW 3
#define DNS_PORT 53
#define EINPROGRESS 115

/* Sockets that talked to port 53, so their reads are DNS answers. */
struct dns_fd_key {
	__u32 tgid;
	__s32 fd;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct dns_fd_key);
	__type(value, __u8);
} dns_fds SEC(".maps") __weak;

/* Per-thread flag "has a DNS socket": a read of any other thread costs one
 * task-storage lookup (no hashing) before it is dismissed. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} dns_threads SEC(".maps") __weak;

/* Set by the agent before load when reach_sock_recv_length runs
 * (syscalls.bpf.c): a socket's read(2) is handled there, not at sys_exit. */
const volatile __u32 dns_read_at_sock __weak = 0;

struct net_endpoint {
	__u8 family;
	__u16 port;      /* host order */
	__u8 addr[16];
};

/* ::ffff:a.b.c.d is an IPv4 destination reached through an IPv6 socket:
 * report (and deduplicate) it as IPv4, so both spellings are one edge. */
static __always_inline void net__normalize(struct net_endpoint *ep)
{
	__u32 *w = (__u32 *)ep->addr;

	if (ep->family == REACH_AF_INET6 && w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff)) {
		w[0] = w[3];
		w[1] = w[2] = w[3] = 0;
		ep->family = REACH_AF_INET;
	}
}

/* The socket behind fd (NULL when fd is not a socket). */
static __always_inline struct sock *net__sock_of_fd(struct task_struct *task, int fd)
{
	struct file *file = task__file_of_fd(task, fd);
	struct socket *sock;
	umode_t mode;

	if (!file)
		return NULL;
	mode = BPF_CORE_READ(file, f_inode, i_mode); /* file came from a helper read: not a BTF pointer */
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

/* The endpoint of a sockaddr already copied to the stack (AF_INET /
 * AF_INET6 only; a sockaddr_in is read through the sockaddr_in6 view). */
static __always_inline bool net__endpoint_of(const struct sockaddr_in6 *sa, struct net_endpoint *ep)
{
	if (sa->sin6_family == REACH_AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		ep->family = REACH_AF_INET;
		ep->port = bpf_ntohs(sin->sin_port);
		__builtin_memcpy(ep->addr, &sin->sin_addr.s_addr, 4);
		return true;
	}
	if (sa->sin6_family == REACH_AF_INET6) {
		ep->family = REACH_AF_INET6;
		ep->port = bpf_ntohs(sa->sin6_port);
		__builtin_memcpy(ep->addr, &sa->sin6_addr, 16);
		net__normalize(ep);
		return true;
	}
	return false;
}

/* A user sockaddr (AF_INET / AF_INET6 only). Only the size its family
 * says is read: a 16-byte sockaddr_in may end at the edge of a page. */
static __always_inline bool net__read_sockaddr(const void *uaddr, struct net_endpoint *ep)
{
	struct sockaddr_in6 sa = {};

	if (!uaddr || bpf_probe_read_user(&sa.sin6_family, sizeof(sa.sin6_family), uaddr))
		return false;
	if (sa.sin6_family == REACH_AF_INET) {
		if (bpf_probe_read_user(&sa, sizeof(struct sockaddr_in), uaddr))
			return false;
	} else if (sa.sin6_family == REACH_AF_INET6) {
		if (bpf_probe_read_user(&sa, sizeof(sa), uaddr))
			return false;
	} else {
		return false;
	}
	return net__endpoint_of(&sa, ep);
}

/* The peer of a connected socket (port 0 when unconnected). */
static __always_inline bool net__sock_peer(struct sock *sk, struct net_endpoint *ep)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	ep->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == REACH_AF_INET) {
		__u32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		ep->family = REACH_AF_INET;
		__builtin_memcpy(ep->addr, &a, 4);
	} else if (family == REACH_AF_INET6) {
		ep->family = REACH_AF_INET6;
		BPF_CORE_READ_INTO(&ep->addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		net__normalize(ep);
	} else {
		return false;
	}
	return ep->port != 0;
}

/* Identity of the current executable (its inode): part of the egress and
 * file dedup keys, so each binary that reaches something is reported once
 * (executables are listed, TLS coverage is checked per binary). */
static __always_inline __u64 net__exe_seed(void)
{
	return task__exe_seed(bpf_get_current_task_btf());
}

static __always_inline __u64 net__edge_hash(__u8 proto, const struct net_endpoint *ep, __u8 outcome, __u64 exe_seed)
{
	__u64 w[4] = {};

	__builtin_memcpy(&w[0], ep->addr, 16);
	w[2] = ((__u64)proto << 40) | ((__u64)outcome << 32) | ((__u64)ep->family << 16) | ep->port;
	w[3] = exe_seed;
	return hash__words((const char *)w, sizeof(w), sizeof(w), 0x65677265ULL /* "egre" */);
}

/* Counts one egress occurrence and emits the event the first time.
 * hdr_src: the connecting process (captured in its own context). */
static __always_inline void net__record_egress(const struct reach_event_hdr *owner, __u64 exe_seed, __u8 proto,
					       const struct net_endpoint *ep, __u16 sport, __u8 outcome,
					       __s32 err, __u64 now)
{
	struct reach_dedup_key key = {
		.cgroup_id = owner->cgroup_id,
		.kind = REACH_EV_EGRESS,
		.hash = net__edge_hash(proto, ep, outcome, exe_seed),
	};
	struct reach_egress_event *ev;

	if (!dedup__first_seen(&key, &now))
		return;
	ev = dedup__reserve_for(&key, sizeof(*ev), owner->cgroup_id, owner->uid);
	if (!ev)
		return;
	__builtin_memcpy(&ev->hdr, owner, sizeof(ev->hdr));
	ev->hdr.kind = REACH_EV_EGRESS;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.ts_ns = now;
	ev->key = key;
	ev->family = ep->family;
	ev->proto = proto;
	ev->outcome = outcome;
	ev->pad = 0;
	ev->dport = ep->port;
	ev->sport = sport;
	ev->err = err;
	ev->pad2 = 0;
	__builtin_memcpy(ev->daddr, ep->addr, 16);
	__builtin_memset(ev->saddr, 0, 16);
	events__submit(ev);
}

/* One road event (abi/events.h) per (cgroup, road, op, detail, executable).
 * A global function: verified once, shared by every program. */
__weak __noinline int road__record(__u32 road, __u32 op, __u32 detail, __u64 pid_tgid, __u64 cgid)
{
	struct reach_dedup_key key = { .cgroup_id = cgid, .kind = REACH_EV_ROAD };
	struct reach_road_event *ev;
	__u64 w[3], now = 0; /* read by dedup__first_seen when needed */

	w[0] = ((__u64)road << 32) | op;
	w[1] = detail;
	w[2] = net__exe_seed();
	key.hash = hash__words((const char *)w, sizeof(w), sizeof(w), 0x726f6164ULL /* "road" */);
	if (!dedup__first_seen(&key, &now))
		return 0;
	ev = dedup__reserve(&key, sizeof(*ev));
	if (!ev)
		return 0;
	task__fill_hdr(&ev->hdr, REACH_EV_ROAD, sizeof(*ev), pid_tgid, cgid, now);
	ev->key = key;
	ev->road = road;
	ev->op = op;
	ev->detail = detail;
	ev->pad = 0;
	events__submit(ev);
	return 0;
}

static __always_inline void net__mark_dns_fd(struct task_struct *task, __u64 pid_tgid, int fd)
{
	struct dns_fd_key k = { .tgid = pid_tgid >> 32, .fd = fd };
	__u8 one = 1;
	__u32 *flag;

	if (bpf_map_update_elem(&dns_fds, &k, &one, BPF_ANY))
		loss__count(REACH_EV_DNS, REACH_LOSS_MAP_FULL);
	flag = bpf_task_storage_get(&dns_threads, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (flag)
		*flag = 1;
	else
		loss__count(REACH_EV_DNS, REACH_LOSS_MAP_FULL);
}

#endif /* REACH_NET_BPF_H */
