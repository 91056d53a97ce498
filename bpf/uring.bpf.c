// SPDX-License-Identifier: Apache-2.0
/*
 * io_uring: requests that do what reach reads at syscall exits (open a
 * file, read it, connect, send) without the syscalls. The tracepoints give
 * the request (tp_btf: struct io_kiocb); kprobes and fentry are not
 * available, and are not needed.
 *
 *   io_uring_submit_req  after the request's prep, in the submitting task
 *                        (or its SQPOLL thread: same process and cgroup):
 *                        CONNECT, SEND, SENDMSG (and _ZC) on a socket. The
 *                        destination the prep copied into the request's
 *                        async data is there; the socket is the task's
 *                        descriptor (req->cqe.fd).
 *   io_uring_complete    when the CQE is filled, in a thread of the
 *                        submitting process (the task itself, its io-wq
 *                        worker or its task work: same files, same
 *                        cgroup): OPENAT/OPENAT2 give a descriptor (or a
 *                        fixed-file slot) to resolve; READ* ops hold the
 *                        file they read in req->file. Both become the same
 *                        file event as an open(2), kind FILE_VIA with
 *                        REACH_OPEN_F_URING and the opcode.
 *
 * An IORING_SETUP_SQPOLL ring needs nothing more: its poller iou-sqp-PID is
 * an io thread of the submitting process (create_io_thread: CLONE_THREAD,
 * CLONE_FILES, CLONE_VM), so the tgid, the cgroup, the descriptor table and
 * the executable read in its context are the process's own
 * (tests/e2e/test_roads3.py walks it).
 *
 * TCP connects need nothing here: inet_sock_set_state sees the handshake in
 * the submitting task (io_uring issues a connect inline, non-blocking).
 * What a request carries that reach cannot decode (a registered socket, a
 * TCP send on a SENDMSG, a receive on a unix socket that may pass
 * descriptors) is a road event (REACH_EV_ROAD): the identity's verdict is
 * inconclusive, naming the op, never a silent pass.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "files.bpf.h"
#include "net.bpf.h"
#include "http.bpf.h"

#define AF_UNIX 1
#define IORING_FILE_INDEX_ALLOC (~0U)
#define FFS_MASK (~3UL) /* io_rsrc_node.file_ptr: low bits are flags (FFS_NOWAIT, FFS_ISREG) */
/* REQ_F_FIXED_FILE_BIT is 0 in every kernel with io_uring_submit_req(req) */
#define REQ_F_FIXED_FILE (1ULL << 0)

/* A kernel sockaddr (the request's copy): AF_INET / AF_INET6 only. */
static __always_inline bool uring__read_sockaddr(const void *kaddr, struct net_endpoint *ep)
{
	struct sockaddr_in6 sin6 = {};

	if (!kaddr || bpf_probe_read_kernel(&sin6, sizeof(sin6), kaddr))
		return false;
	return net__endpoint_of(&sin6, ep);
}

/* A SEND on a TCP socket: the bytes are in the user's buffer at submission,
 * as at a send(2) exit (a TLS ClientHello, or a plaintext HTTP head). */
static __noinline int uring__tcp_send(struct io_kiocb *req, struct sock *sk, __u64 pid_tgid, __u64 cgid)
{
	struct io_sr_msg *sr = (struct io_sr_msg *)req;
	struct net_endpoint ep = {};
	const void *buf = BPF_CORE_READ(sr, buf);
	__u64 len = (__u32)BPF_CORE_READ(sr, len);

	if (net__sock_peer(sk, &ep) && !http__tls_hello(buf, len, &ep, pid_tgid, cgid))
		http__capture(buf, len, REACH_HTTP_PLAINTEXT, &ep, (__u64)sk, pid_tgid, cgid);
	return 0;
}

/* CONNECT, SEND, SENDMSG on a UDP socket: the destination the prep copied
 * (connect's address, SEND's addr2, SENDMSG's msg_name), else the peer. */
static __noinline int uring__udp_send(struct io_kiocb *req, struct sock *sk, __u8 op, __u64 pid_tgid, __u64 cgid)
{
	struct io_async_msghdr *kmsg = BPF_CORE_READ(req, async_data);
	struct net_endpoint ep = {};
	struct reach_event_hdr owner;
	bool have = false;

	if (kmsg && (op == IORING_OP_CONNECT || BPF_CORE_READ(kmsg, msg.msg_name)))
		have = uring__read_sockaddr(&kmsg->addr, &ep);
	if (!have && !net__sock_peer(sk, &ep)) {
		loss__count(REACH_EV_EGRESS, REACH_LOSS_READ_FAILED);
		return 0;
	}
	if (ep.port == DNS_PORT)
		net__mark_dns_fd(bpf_get_current_task_btf(), pid_tgid, BPF_CORE_READ(req, cqe.fd));
	task__fill_hdr(&owner, REACH_EV_EGRESS, sizeof(struct reach_egress_event), pid_tgid, cgid, 0);
	net__record_egress(&owner, net__exe_seed(), REACH_PROTO_UDP, &ep, 0, REACH_OUT_SENT, 0, bpf_ktime_get_boot_ns());
	return 0;
}

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(reach_uring_submit, struct io_kiocb *req)
{
	__u8 op = req->opcode;
	__u64 pid_tgid, cgid;
	struct sock *sk;
	__u16 proto;

	if (op != IORING_OP_CONNECT && op != IORING_OP_SEND && op != IORING_OP_SENDMSG && op != IORING_OP_SEND_ZC &&
	    op != IORING_OP_SENDMSG_ZC && op != IORING_OP_RENAMEAT && op != IORING_OP_LINKAT)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	cgid = bpf_get_current_cgroup_id();
	if (!task__is_monitored(pid_tgid, cgid))
		return 0;
	/* a new name given through the ring: no syscall of it to judge (the
	 * link road, files__on_link_enter), so the identity's blind road */
	if (op == IORING_OP_RENAMEAT || op == IORING_OP_LINKAT)
		return road__record(REACH_ROAD_IO_URING, op, 0, pid_tgid, cgid);
	if (req->flags & REQ_F_FIXED_FILE)
		/* a registered socket: not in the task's descriptor table */
		return road__record(REACH_ROAD_IO_URING, op, REACH_ROAD_D_FIXED_FILE, pid_tgid, cgid);
	sk = net__sock_of_fd(bpf_get_current_task_btf(), req->cqe.fd);
	if (!sk)
		return 0;
	proto = BPF_CORE_READ(sk, sk_protocol);
	if (proto == IPPROTO_UDP)
		return uring__udp_send(req, sk, op, pid_tgid, cgid);
	if (proto != IPPROTO_TCP || op == IORING_OP_CONNECT)
		return 0; /* a TCP handshake is seen by inet_sock_set_state; other protocols as at the syscall exits */
	if (op == IORING_OP_SEND)
		return uring__tcp_send(req, sk, pid_tgid, cgid);
	/* SENDMSG's iovec and the zero-copy sends are not decoded */
	return road__record(REACH_ROAD_IO_URING, op, REACH_ROAD_D_TCP, pid_tgid, cgid);
}

/* The file an OPENAT/OPENAT2 put in the ring's fixed-file table. */
static __always_inline struct file *uring__fixed_file(struct io_ring_ctx *ctx, __u32 slot)
{
	struct io_rsrc_node **nodes = BPF_CORE_READ(ctx, file_table.data.nodes);
	struct io_rsrc_node *node = NULL;

	if (slot >= BPF_CORE_READ(ctx, file_table.data.nr) || !nodes)
		return NULL;
	if (bpf_probe_read_kernel(&node, sizeof(node), &nodes[slot]) || !node)
		return NULL;
	return (struct file *)(BPF_CORE_READ(node, file_ptr) & FFS_MASK);
}

static __always_inline bool uring__is_read(__u8 op)
{
	return op == IORING_OP_READ || op == IORING_OP_READV || op == IORING_OP_READ_FIXED ||
	       op == IORING_OP_READV_FIXED || op == IORING_OP_READ_MULTISHOT;
}

SEC("tp_btf/io_uring_complete")
int BPF_PROG(reach_uring_complete, struct io_ring_ctx *ring, void *req_ptr, struct io_uring_cqe *cqe)
{
	struct file_origin o = { .kind = REACH_EV_FILE_VIA, .dirfd = -1, .fd = -1, .flags = REACH_OPEN_F_URING };
	/* the tracepoint passes it as void *: cast for direct loads */
	struct io_kiocb *req = req_ptr ? KERNEL_CAST(struct io_kiocb, req_ptr) : NULL;
	struct file *file = NULL;
	__u64 pid_tgid, cgid;
	__s32 res;
	__u8 op;

	if (!req)
		return 0; /* an auxiliary CQE (multishot, MSG_RING): no request */
	/* req and cqe are BTF pointers: direct loads, no helper calls (this
	 * runs at every completion of every ring on the node) */
	op = req->opcode;
	if (op != IORING_OP_OPENAT && op != IORING_OP_OPENAT2 && op != IORING_OP_FIXED_FD_INSTALL &&
	    op != IORING_OP_RECVMSG && !uring__is_read(op))
		return 0;
	res = cqe->res;
	if (res < 0)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	cgid = bpf_get_current_cgroup_id();
	if (!task__is_monitored(pid_tgid, cgid))
		return 0;
	o.nr = op;
	if (op == IORING_OP_RECVMSG) {
		struct socket *sock;

		/* SCM_RIGHTS through the ring: the descriptors land in the task
		 * without a recvmsg exit; not decoded, a road */
		file = BPF_CORE_READ(req, file);
		sock = file ? BPF_CORE_READ(file, private_data) : NULL;
		if (sock && BPF_CORE_READ(sock, sk, __sk_common.skc_family) == AF_UNIX)
			road__record(REACH_ROAD_IO_URING, op, REACH_ROAD_D_UNIX, pid_tgid, cgid);
		return 0;
	}
	if (op == IORING_OP_OPENAT || op == IORING_OP_OPENAT2) {
		struct io_open *open = (struct io_open *)req;
		__u32 slot = BPF_CORE_READ(open, file_slot);

		o.open_flags = (__u32)BPF_CORE_READ(open, how.flags);
		o.dirfd = BPF_CORE_READ(open, dfd);
		if (!slot) {
			o.fd = res;
			file = task__file_of_fd(bpf_get_current_task_btf(), res);
		} else {
			/* into the fixed-file table: slot is 1-based, or the
			 * kernel picked one and returned it */
			file = uring__fixed_file(ring, slot == IORING_FILE_INDEX_ALLOC ? res : slot - 1);
		}
	} else if (op == IORING_OP_FIXED_FD_INSTALL) {
		/* a registered file made an ordinary descriptor */
		o.fd = res;
		file = task__file_of_fd(bpf_get_current_task_btf(), res);
	} else {
		/* READ*: the file the request read, fixed or not */
		file = req->file;
		if (file)
			o.open_flags = file->f_flags;
		/* no descriptor to report: req->cqe.fd is the CQE's flags now */
	}
	return files__record(file, &o, pid_tgid, cgid, NULL);
}
