/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel <-> user ABI of reach: every event the BPF programs put on the ring
 * buffer, the dedup map layout and the loss counters. Included by bpf/ (with
 * vmlinux.h) and by user/ (with linux/types.h). Fixed-width fields, explicit
 * padding, sizes pinned by static asserts: change one side, the build breaks.
 */
#ifndef REACH_EVENTS_H
#define REACH_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define REACH_COMM_LEN      16
#define REACH_PATH_LEN      256   /* path as the process passed it */
#define REACH_BASE_LEN      512   /* a file's path resolved in the kernel */
#define REACH_ARGS_LEN      256   /* argv[0..n], NUL separated */
#define REACH_MAX_CGROUP_DEPTH 16 /* ancestors walked to decide "monitored" */

enum reach_event_kind {
	REACH_EV_FILE_OPEN = 1, /* successful open with read access (secret candidate) */
	REACH_EV_EXEC      = 2, /* sched_process_exec: a tool execution */
	REACH_EV_FORK      = 3, /* sched_process_fork: process tree */
	REACH_EV_EXIT      = 4, /* sched_process_exit of a thread-group leader */
	REACH_EV_EGRESS    = 5, /* TCP connect outcome or UDP destination */
	REACH_EV_DNS       = 6, /* a DNS response received by a monitored process */
	REACH_EV_HTTP      = 7, /* the head of an HTTP/1.x request (plaintext or TLS) */
	REACH_EV_TLS_HELLO = 8, /* a TLS ClientHello written on a TCP socket, whatever its port */
	REACH_EV_H2        = 9, /* an HTTP/2 connection whose frames cannot be followed: a coverage gap */
	REACH_EV_JSONRPC   = 10, /* a JSON-RPC message written to a pipe or unix socket (MCP over stdio) */
	REACH_EV_ROAD      = 11, /* a road to a file or a destination taken that the kernel cannot decode */
	REACH_EV_FILE_VIA  = 12, /* a file reached without an open(2): io_uring, a received descriptor
				  * (struct reach_file_open_event, flags REACH_OPEN_F_URING / _RECEIVED) */
	REACH_EV_H2_FRAME  = 13, /* a piece of an HTTP/2 HEADERS/CONTINUATION frame a client wrote */
	REACH_EV_HTTP_BODY = 14, /* the first bytes of a JSON POST's body (LLM API and MCP over HTTP calls) */
	REACH_EV_LINK      = 15, /* link/rename of a name that could be a secret's: its other name */
	REACH_EV__MAX,
};

/* Why an event or an edge count was lost. Every loss is counted per kind. */
enum reach_loss_reason {
	REACH_LOSS_RINGBUF_FULL = 0, /* bpf_ringbuf_reserve/output failed */
	REACH_LOSS_TRUNCATED    = 1, /* a string was cut at its bound (event still sent) */
	REACH_LOSS_MAP_FULL     = 2, /* a map update failed (dedup, inflight, verdict) */
	REACH_LOSS_READ_FAILED  = 3, /* bpf_probe_read of user/kernel memory failed */
	REACH_LOSS__MAX,
};

/* Per-CPU counters, one array entry: counters[kind][reason]. */
struct reach_loss_counters {
	__u64 counters[REACH_EV__MAX][REACH_LOSS__MAX];
};

/* The same counters per (cgroup, uid) of the task that lost them, so a
 * flood in one workload makes that workload's verdict inconclusive and no
 * other's. A plain hash (never LRU: an evicted entry would be a silent
 * loss); when it is full the loss goes to the unattributed bucket, which
 * makes every identity inconclusive. uid: for identities chosen by uid
 * rules; in softirq (a TCP outcome) it is the stashed owner's. */
#define REACH_LOSS_CGROUP_ENTRIES 4096
struct reach_loss_cg_key {
	__u64 cgroup_id;
	__u32 uid;
	__u32 pad;
};

_Static_assert(sizeof(struct reach_loss_cg_key) == 16, "reach_loss_cg_key layout");

/* Key of the in-kernel dedup LRU: one entry per edge per cgroup. */
struct reach_dedup_key {
	__u64 cgroup_id;
	__u32 kind;   /* enum reach_event_kind */
	__u32 pad;
	__u64 hash;   /* hash of the object: path, executable, ... */
};

struct reach_dedup_val {
	__u64 count;      /* every occurrence, the first included */
	__u64 first_ns;   /* bpf_ktime_get_boot_ns() */
	__u64 last_ns;    /* of a repeat: at most one kernel tick (1-10 ms) old */
	__u64 last_jiffies; /* the kernel's tick of last_ns (the clock is read once per tick of repeats) */
};

/* Common head of every event: who did it, where, when. */
struct reach_event_hdr {
	__u16 kind;       /* enum reach_event_kind */
	__u16 size;       /* bytes of the whole event */
	__u32 cpu;
	__u64 ts_ns;      /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;  /* cgroup v2 id of the task */
	__u32 pid;        /* thread id */
	__u32 tgid;       /* process id */
	__u32 ppid;       /* tgid of the real parent */
	__u32 uid;
	char  comm[REACH_COMM_LEN];
};

/* The object of a file open is the file the descriptor refers to, not the
 * string the process passed: the kernel resolves the opened struct file's
 * f_path (dentry walk to the task's root, across mounts) into `resolved`.
 * Symlinks, /proc/self/fd/N, /proc/PID/root/..., `..` spellings and
 * open_by_handle_at all land on the real file. */
#define REACH_OPEN_F_PATH_TRUNC     0x2   /* the name as written was cut (cosmetic) */
#define REACH_OPEN_F_RESOLVED_TRUNC 0x4   /* the resolved path was cut: counted as a loss */
#define REACH_OPEN_F_KNOWN_SECRET   0x10  /* (dev, ino) is in secret_inodes */
#define REACH_OPEN_F_BY_HANDLE      0x20  /* open_by_handle_at: no name was written */
/* No open(2) of the task's: the file reached it another way. syscall_nr
 * then says which (the io_uring opcode for F_URING). */
#define REACH_OPEN_F_URING          0x40  /* an io_uring request: IORING_OP_OPENAT/OPENAT2 result, or the file a READ* read */
#define REACH_OPEN_F_RECEIVED       0x80  /* a descriptor received: SCM_RIGHTS (recvmsg, recvmmsg) or pidfd_getfd */
#define REACH_OPEN_F_INHERITED      0x100 /* a readable file the new program holds at exec (opened by whoever ran it) */
#define REACH_OPEN_F_ENTERED        0x200 /* held by a process as it entered a monitored cgroup (cgroup.procs
					   * write, clone3 CLONE_INTO_CGROUP): opened before, outside */
#define REACH_OPEN_F_AT_START       0x400 /* held by a monitored process when reach started or its cgroup
					   * became monitored (bpf iterator task_file) */

/* Key (and identity) of a file in the secret_inodes map. */
struct reach_inode_key {
	__u64 ino;
	__u32 dev;  /* the kernel's dev_t of the superblock (not stat's st_dev encoding) */
	__u32 pad;
};

/*
 * secret_ino_bits: one bit per hash of a (dev, ino), set for every key of
 * secret_inodes (a superset: a bit is set before its key goes in, and a
 * removed key's bit stays until the agent rebuilds the words from the map).
 * A clear bit means "not a known secret" with one load of a 2-KiB array
 * that stays in cache, instead of a lookup in the 16,384-entry hash, whose
 * random bucket was the largest cost of a distinct non-secret open (a cache
 * miss on every file: perf, issue 16's note). Unkeyed: a file whose hash a
 * workload picks to share a secret's bit only costs that lookup again.
 */
#define REACH_SECRET_INO_BITS 16384 /* a power of 2 */
static inline __u32 reach_secret_ino_bit(__u64 ino, __u32 dev)
{
	return (__u32)(((ino ^ ((__u64)dev << 40)) * 0x9e3779b97f4a7c15ULL) >> 50) & (REACH_SECRET_INO_BITS - 1);
}

struct reach_file_open_event {
	struct reach_event_hdr hdr;
	struct reach_dedup_key key;  /* (cgroup, FILE_OPEN, keyed hash(dev, ino, executable)) */
	__u32 open_flags;   /* O_* flags as passed */
	__s32 dirfd;        /* AT_FDCWD (-100), the dirfd, or open_by_handle_at's mount fd */
	__s32 fd;           /* returned descriptor */
	__u16 path_len;     /* bytes in path, without NUL */
	__u16 resolved_len; /* bytes in resolved, without NUL */
	__u32 flags;        /* REACH_OPEN_F_* */
	__u32 syscall_nr;
	struct reach_inode_key inode;
	char  path[REACH_PATH_LEN];      /* the name as written ("" by handle) */
	char  resolved[REACH_BASE_LEN];  /* the opened file, absolute in the task's root */
};

#define REACH_EXEC_F_FILENAME_TRUNC 0x1
#define REACH_EXEC_F_ARGS_TRUNC     0x2

struct reach_exec_event {
	struct reach_event_hdr hdr;
	struct reach_dedup_key key;  /* tool edge: (cgroup, EXEC, hash(filename)) */
	__u32 argc;                  /* argv entries copied */
	__u16 args_len;              /* bytes used in args */
	__u16 flags;                 /* REACH_EXEC_F_* */
	__u32 old_pid;
	__u32 pad;
	/* the executable file, read in the kernel at exec: a short-lived
	 * process is gone before user space could stat it (host epochs) */
	__u64 exe_ino;
	__s64 exe_mtime_sec;
	__u32 exe_mtime_nsec;
	__u32 exe_dev;               /* the kernel's dev_t of its filesystem */
	char  filename[REACH_PATH_LEN];
	char  args[REACH_ARGS_LEN];
};

struct reach_fork_event {
	struct reach_event_hdr hdr;  /* the parent */
	__u32 child_pid;
	__u32 child_tgid;
};

struct reach_exit_event {
	struct reach_event_hdr hdr;
	__s32 exit_code;
	__u32 pad;
};

_Static_assert(sizeof(struct reach_event_hdr) == 56, "reach_event_hdr layout");
_Static_assert(sizeof(struct reach_dedup_key) == 24, "reach_dedup_key layout");
_Static_assert(sizeof(struct reach_file_open_event) == 56 + 24 + 24 + 16 + REACH_PATH_LEN + REACH_BASE_LEN,
	       "reach_file_open_event layout");
_Static_assert(sizeof(struct reach_exec_event) == 56 + 24 + 16 + 24 + REACH_PATH_LEN + REACH_ARGS_LEN,
	       "reach_exec_event layout");
_Static_assert(sizeof(struct reach_fork_event) == 64, "reach_fork_event layout");
_Static_assert(sizeof(struct reach_exit_event) == 64, "reach_exit_event layout");

#define REACH_AF_INET   2
#define REACH_AF_INET6  10
#define REACH_PROTO_TCP 6
#define REACH_PROTO_UDP 17
#define REACH_PROTO_ICMP   1  /* ping and raw ICMP sockets: port 0 */
#define REACH_PROTO_ICMPV6 58

enum reach_egress_outcome {
	REACH_OUT_ESTABLISHED = 1, /* TCP handshake completed */
	REACH_OUT_REFUSED     = 2, /* TCP RST in answer to the SYN (ECONNREFUSED) */
	REACH_OUT_TIMEDOUT    = 3, /* no answer (ETIMEDOUT) */
	REACH_OUT_FAILED      = 4, /* any other error: unreachable, reset, ... (err says) */
	REACH_OUT_SENT        = 5, /* UDP datagram sent / UDP socket connected */
	REACH_OUT__MAX,
};

/* One egress edge: dedup key (cgroup, EGRESS, hash(proto, daddr, dport, outcome)). */
struct reach_egress_event {
	struct reach_event_hdr hdr;  /* the connecting process, captured in its context */
	struct reach_dedup_key key;
	__u8  family;   /* REACH_AF_INET or REACH_AF_INET6 */
	__u8  proto;    /* REACH_PROTO_TCP, _UDP, _ICMP or _ICMPV6 */
	__u8  outcome;  /* enum reach_egress_outcome */
	__u8  pad;
	__u16 dport;    /* host byte order */
	__u16 sport;    /* host byte order; 0 when not yet bound */
	__s32 err;      /* sk_err for failed TCP connects */
	__u32 pad2;
	__u8  daddr[16]; /* IPv4 in the first 4 bytes */
	__u8  saddr[16];
};

#define REACH_DNS_LEN 512  /* classic DNS/UDP size; longer answers are truncated and flagged */
#define REACH_DNS_F_TRUNC 0x1
#define REACH_DNS_F_TCP   0x2  /* payload starts with the 2-byte TCP length prefix */

struct reach_dns_event {
	struct reach_event_hdr hdr;
	__u8  family;
	__u8  proto;
	__u16 server_port;  /* host byte order */
	__u16 len;          /* payload bytes captured */
	__u16 flags;        /* REACH_DNS_F_* */
	__u32 total_len;    /* bytes the syscall returned */
	__u32 pad;
	__u8  server[16];
	__u8  payload[REACH_DNS_LEN];
};

_Static_assert(sizeof(struct reach_egress_event) == 56 + 24 + 16 + 32, "reach_egress_event layout");

/* Roads the kernel saw taken and cannot decode: each makes the identity's
 * verdict inconclusive (user/reach/coverage.h, "blind roads"). Dedup key
 * (cgroup, ROAD, hash(road, op, detail, executable)). */
enum reach_road {
	REACH_ROAD_IO_URING = 1, /* an io_uring request: op = IORING_OP_*, detail = REACH_ROAD_D_* */
	REACH_ROAD_SOCKET   = 2, /* a send on a socket reach does not decode: op = family, detail = sk_protocol */
	REACH_ROAD_COMPAT   = 3, /* a 32-bit syscall (x86-64: ia32 or x32): op = 0, detail = REACH_ROAD_D_IA32/X32 */
	REACH_ROAD__MAX,
};

#define REACH_ROAD_D_FIXED_FILE 0x1 /* io_uring: the request's file is a registered (fixed) file */
#define REACH_ROAD_D_UNIX       0x2 /* io_uring: a receive on a unix socket (descriptors may be passed) */
#define REACH_ROAD_D_TCP        0x4 /* io_uring: a send on a TCP socket whose bytes are not decoded */
#define REACH_ROAD_D_IA32       0x1 /* compat: an ia32 syscall (int $0x80, a 32-bit executable) */
#define REACH_ROAD_D_X32        0x2 /* compat: an x32 syscall */

struct reach_road_event {
	struct reach_event_hdr hdr;
	struct reach_dedup_key key;
	__u32 road;   /* enum reach_road */
	__u32 op;     /* per road, see enum reach_road */
	__u32 detail; /* per road */
	__u32 pad;
};

_Static_assert(sizeof(struct reach_road_event) == 56 + 24 + 16, "reach_road_event layout");
_Static_assert(sizeof(struct reach_dns_event) == 56 + 16 + 16 + REACH_DNS_LEN, "reach_dns_event layout");

/* A monitored task made a new name for a file (link, linkat) or moved it
 * (rename, renameat, renameat2) and its old name could be a secret's (the
 * kernel filter passed it). A relative name's directory is resolved in the
 * kernel (the cwd or the dirfd, absolute in the task's root), so user space
 * needs no /proc of a process that may be gone. Until user space has
 * learned the file's inode, the cgroup is tainted (link_taint counts its
 * link events, link_acked how many user space has handled): its opens are
 * not dropped by the filter, so a read under the new name reaches user
 * space after this event. Judged at the syscall's enter (REACH_LINK_F_ENTER)
 * the event comes before any open of the new name, even one that wins the
 * race with the syscall's exit, whose outcome follows (REACH_LINK_F_EXIT). */
#define REACH_LINK_F_OLD_DIR_TRUNC 0x1 /* old_dir incomplete: the old name cannot be judged */
#define REACH_LINK_F_NEW_DIR_TRUNC 0x2
#define REACH_LINK_F_OLD_NAME_TRUNC 0x4
#define REACH_LINK_F_NEW_NAME_TRUNC 0x8
#define REACH_LINK_F_EXCHANGE      0x20 /* renameat2 RENAME_EXCHANGE: each name now holds the other's file */
#define REACH_LINK_F_FOLLOW        0x40 /* linkat AT_SYMLINK_FOLLOW or AT_EMPTY_PATH: the old name may not be the file's */
#define REACH_LINK_F_LINK          0x80 /* link or linkat: the old name stays (else a rename) */
#define REACH_LINK_F_ENTER         0x100 /* judged at the enter, before the file has the name: an outcome follows */
#define REACH_LINK_F_EXIT          0x200 /* the outcome of the thread's ENTER event (no names) */
#define REACH_LINK_F_FAILED        0x400 /* with EXIT: the syscall failed, no new name */
#define REACH_LINK_F_TAINTED       0x800 /* sent only because the cgroup has a new name pending: its names may move it */
#define REACH_LINK_F_NAMELESS      0x1000 /* with FOLLOW, judged at the enter: the descriptor's file had no name (O_TMPFILE) */

struct reach_link_event {
	struct reach_event_hdr hdr;
	__u32 nr;          /* the syscall */
	__u32 flags;       /* REACH_LINK_F_* */
	__u64 seq;         /* its number among the cgroup's link events (1, 2, ...) */
	char  old_dir[REACH_BASE_LEN];   /* "" when old_name is absolute */
	char  new_dir[REACH_BASE_LEN];
	char  old_name[REACH_PATH_LEN];  /* as written */
	char  new_name[REACH_PATH_LEN];
};

_Static_assert(sizeof(struct reach_link_event) == 56 + 16 + 2 * REACH_BASE_LEN + 2 * REACH_PATH_LEN,
	       "reach_link_event layout");

#define REACH_HTTP_LEN 2048  /* bytes of one capture event (a whole head, or one chunk of a longer one) */
#define REACH_HTTP_HEAD_MAX 8192 /* a head is followed across writes and chunks up to here, then cut (counted) */

enum reach_http_source {
	REACH_HTTP_PLAINTEXT = 1, /* write/writev/sendto/sendmsg on a TCP socket */
	REACH_HTTP_OPENSSL   = 2, /* SSL_write / SSL_write_ex (libssl, or linked into the executable) */
	REACH_HTTP_GNUTLS    = 3, /* gnutls_record_send */
	REACH_HTTP_GOTLS     = 4, /* Go crypto/tls.(*Conn).Write (Go >= 1.17 register ABI) */
};

/* How a capture relates to the connection's request head(s). */
#define REACH_HTTP_F_WHOLE 0x1 /* one or more complete heads in this event alone; deduplicated by key */
#define REACH_HTTP_F_START 0x2 /* the first bytes of a head that goes on (later chunks, later writes) */
#define REACH_HTTP_F_CONT  0x4 /* a later piece of the head started on this connection, at offset */
#define REACH_HTTP_F_MORE  0x8 /* more chunks of the same write follow: wait for them */

/* Raw request bytes: user space fingerprints credentials at once and wipes
 * the buffer; they never reach any output. A head written whole in one
 * call of at most REACH_HTTP_LEN bytes is one event (F_WHOLE), deduplicated
 * with key (cgroup, HTTP, hash(head)): a repeated identical request is a map
 * lookup. A head split over several writes or longer than one event is sent
 * in pieces (F_START, F_CONT, not deduplicated) that user space joins per
 * connection (user/http/reasm.h), up to REACH_HTTP_HEAD_MAX bytes. */
struct reach_http_event {
	struct reach_event_hdr hdr;
	struct reach_dedup_key key;
	__u8  source;     /* enum reach_http_source */
	__u8  family;     /* plaintext: the socket's peer; TLS: 0 */
	__u16 dport;
	__u32 len;        /* bytes captured in payload */
	__u32 total_len;  /* bytes the call wrote */
	__u8  flags;      /* REACH_HTTP_F_* */
	__u8  pad[3];
	__u8  daddr[16];
	__u64 conn;       /* the connection: socket or TLS session address (with tgid: unique while it lives) */
	__u32 offset;     /* of payload[0] in the bytes captured since the head started */
	__u32 pad2;
	__u8  payload[REACH_HTTP_LEN];
};

_Static_assert(sizeof(struct reach_http_event) == 56 + 24 + 16 + 16 + 16 + REACH_HTTP_LEN, "reach_http_event layout");

#define REACH_TLS_HELLO_LEN 512 /* ClientHello bytes captured: the SNI is near the start */

/* A TLS ClientHello (record type 0x16, handshake type 1) a monitored task
 * wrote on a TCP socket: that connection speaks TLS whatever its port. Dedup
 * key (cgroup, TLS_HELLO, hash(executable, destination, port)). The bytes
 * hold no secret (the hello is sent in clear) but only the SNI is used. */
struct reach_tls_hello_event {
	struct reach_event_hdr hdr;
	struct reach_dedup_key key;
	__u8  family;
	__u8  pad;
	__u16 dport;
	__u32 len;        /* bytes captured in payload */
	__u8  daddr[16];
	__u8  payload[REACH_TLS_HELLO_LEN];
};

_Static_assert(sizeof(struct reach_tls_hello_event) == 56 + 24 + 8 + 16 + REACH_TLS_HELLO_LEN,
	       "reach_tls_hello_event layout");

/* A connection that started HTTP/2 ("PRI * HTTP/2.0" written in plaintext
 * or through a probed TLS library) whose frames the kernel could not follow
 * (no room in h2_conns), or a connection seen only after its start (the
 * agent started later, or h2_conns forgot it): its requests are not
 * decoded, user space records the gap. Dedup key (cgroup, H2,
 * hash(executable, source, why)). */
#define REACH_H2_WHY_NO_ROOM   0 /* h2_conns had no room for the connection */
#define REACH_H2_WHY_MIDSTREAM 1 /* a client HEADERS frame on a connection whose preface was not seen */

struct reach_h2_event {
	struct reach_event_hdr hdr;
	struct reach_dedup_key key;
	__u8  source;     /* enum reach_http_source */
	__u8  why;        /* REACH_H2_WHY_* */
	__u8  pad[6];
};

_Static_assert(sizeof(struct reach_h2_event) == 56 + 24 + 8, "reach_h2_event layout");

#define REACH_H2_FRAME_MAX 16384 /* a header frame longer than this loses its connection (counted) */
#define REACH_H2_F_PREFACE 0x1   /* the connection's first piece after the client preface: a new HPACK context */
#define REACH_H2_F_LOST    0x2   /* the kernel lost this connection here (no payload): decoding stops */

/* A piece of an HTTP/2 HEADERS or CONTINUATION frame a monitored client
 * wrote, after the client preface, in plaintext or through a probed TLS
 * library: the kernel walks every write of such a connection frame by
 * frame (bpf/http.bpf.h h2__walk), skips the other frames (DATA, SETTINGS,
 * ...) and copies header frames' payloads in pieces of at most
 * REACH_HTTP_LEN. Never deduplicated: HPACK makes every block depend on
 * the ones before, so user space needs all of them in order (seq). The
 * bytes hold credentials: user space decodes, fingerprints and wipes. */
struct reach_h2_frame_event {
	struct reach_event_hdr hdr;
	__u8  source;     /* enum reach_http_source */
	__u8  family;     /* plaintext: the socket's peer; TLS: 0 */
	__u16 dport;
	__u8  flags;      /* REACH_H2_F_* */
	__u8  frame_type; /* 0x1 HEADERS, 0x9 CONTINUATION */
	__u8  frame_flags;
	__u8  pad;
	__u32 stream_id;
	__u32 frame_len;  /* the frame's payload length */
	__u32 frag_off;   /* of payload[0] in the frame's payload */
	__u32 len;        /* bytes in payload */
	__u32 seq;        /* per connection, from 0 at the preface */
	__u32 pad2;
	__u64 conn;       /* socket or TLS session (with tgid) */
	__u8  daddr[16];
	__u8  payload[REACH_HTTP_LEN];
};

_Static_assert(sizeof(struct reach_h2_frame_event) == 56 + 32 + 8 + 16 + REACH_HTTP_LEN,
	       "reach_h2_frame_event layout");

#define REACH_HTTP_F_REPEAT 0x10 /* a JSON POST head the dedup map had seen: sent again only so that
				  * user space knows what its body belongs to; its credentials are
				  * already counted by the map */

#define REACH_HTTP_BODY_LEN 4096 /* body bytes captured: an LLM call's "model", an MCP tools/call's name */
#define REACH_HTTP_BODY_F_CUT 0x1 /* the write carried more body than payload (counted truncated) */
#define REACH_HTTP_BODY_F_H2  0x2 /* the first DATA frame of an HTTP/2 client stream (stream_id, frame_flags) */

/* The first bytes of the body of an HTTP/1.x POST whose head says JSON
 * (the word "json" in the head: application/json, +json, json-rpc),
 * written in plaintext or through a probed TLS library, in the head's own
 * write or in the next write on the connection (clients write head and
 * body apart). Only the first write's body bytes, up to
 * REACH_HTTP_BODY_LEN. Not deduplicated: each call counts, and such heads
 * are sent even when the dedup map saw them (REACH_HTTP_F_REPEAT), so user
 * space pairs the body with its head by (tgid, conn). The bytes may hold a
 * prompt or tool arguments: user space keeps provider, model, tool and
 * argument names only and wipes the buffer.
 * On a followed HTTP/2 connection (REACH_HTTP_BODY_F_H2): the first bytes
 * of the first DATA frame of each client stream, when they start like JSON
 * ('{', '[' or white space after any pad length): the kernel cannot read
 * HPACK, so user space pairs them with the request decoded for (tgid,
 * conn, stream_id). total_len is then the frame's payload length. */
struct reach_http_body_event {
	struct reach_event_hdr hdr;
	__u8  source;     /* enum reach_http_source */
	__u8  family;     /* plaintext: the socket's peer; TLS: 0 */
	__u16 dport;
	__u32 len;        /* bytes captured in payload */
	__u32 total_len;  /* body bytes the write carried */
	__u8  flags;      /* REACH_HTTP_BODY_F_* */
	__u8  frame_flags; /* HTTP/2: the DATA frame's flags (PADDED: payload[0] is the pad length) */
	__u8  pad[2];
	__u32 stream_id;  /* HTTP/2: the client stream; HTTP/1: 0 */
	__u32 pad2;
	__u64 conn;       /* the connection: socket or TLS session (with tgid), as its head's event */
	__u8  daddr[16];
	__u8  payload[REACH_HTTP_BODY_LEN];
};

_Static_assert(sizeof(struct reach_http_body_event) == 56 + 24 + 8 + 16 + REACH_HTTP_BODY_LEN,
	       "reach_http_body_event layout");

#define REACH_JSONRPC_LEN 2048 /* bytes of a message captured: a tools/call's name and argument names fit */

enum reach_jsonrpc_transport {
	REACH_JSONRPC_PIPE = 1, /* write/writev on a pipe (a child's stdin or stdout) */
	REACH_JSONRPC_UNIX = 2, /* write/writev/sendto/sendmsg on a unix socket */
};

#define REACH_JSONRPC_F_TRUNC 0x1 /* the write was longer than payload: user space judges what is missing */

/* The first bytes of a write, by a monitored task, to a pipe or a unix
 * socket whose payload starts like JSON-RPC: '{' and a JSON-RPC member
 * ("jsonrpc", "id", "method", "result", "error", "params") after optional
 * whitespace, or "Content-Length:" framing. Other writes cost a 16-byte
 * peek. Not deduplicated: every tools/call counts. The payload may hold
 * argument values: user space keeps tool and argument names only and wipes
 * the buffer. ino: the pipe's inode, or for a connected unix socket its
 * peer end's (the inode the other process holds): the peer is found by it.
 * A server's end not accepted yet has no inode: ino is then own_ino. */
struct reach_jsonrpc_event {
	struct reach_event_hdr hdr;
	__u8  transport;  /* enum reach_jsonrpc_transport */
	__u8  flags;      /* REACH_JSONRPC_F_* */
	__u16 pad;
	__u32 len;        /* bytes captured in payload */
	__u32 total_len;  /* bytes the call wrote */
	__u32 fd;
	__u64 ino;
	/* unix sockets: the peer's SO_PEERCRED process (the one that called
	 * listen() or connect(), or made the socketpair), 0 unknown; it names a
	 * server that is not the writer's child */
	__u32 peer_tgid;
	__u32 pad2;
	__u64 own_ino;    /* the inode of the writer's own descriptor (ino is the peer end's for a socket) */
	__u8  payload[REACH_JSONRPC_LEN];
};

_Static_assert(sizeof(struct reach_jsonrpc_event) == 56 + 40 + REACH_JSONRPC_LEN, "reach_jsonrpc_event layout");

#endif /* REACH_EVENTS_H */
