// SPDX-License-Identifier: Apache-2.0
/*
 * TCP connects and their outcomes from sock:inet_sock_set_state.
 * CLOSE -> SYN_SENT happens inside connect(), in the connecting process: its
 * identity is stashed per socket. SYN_SENT -> ESTABLISHED / CLOSE happens
 * later, often in softirq context where "current" is unrelated, so the
 * outcome is attributed to the stashed owner. sk_err tells refused from
 * timed out (tcp_reset / tcp_write_err set it before tcp_done).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "net.bpf.h"

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT    2
#define TCP_CLOSE       7
#define ECONNREFUSED    111
#define ETIMEDOUT       110

/* Who is connecting: captured in connect(), used when the outcome arrives. */
struct tcp_owner {
	struct reach_event_hdr hdr;
	__u64 exe_seed;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);  /* struct sock * */
	__type(value, struct tcp_owner);
} tcp_connecting SEC(".maps") __weak;

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(reach_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
	struct tcp_owner *owner;
	struct net_endpoint ep = {};
	__u64 key = (__u64)sk;
	__u8 outcome;
	__s32 err = 0;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
		struct tcp_owner o;
		__u64 pid_tgid = bpf_get_current_pid_tgid();
		__u64 cgid = bpf_get_current_cgroup_id();

		if (!task__is_monitored(pid_tgid, cgid))
			return 0;
		task__fill_hdr(&o.hdr, REACH_EV_EGRESS, sizeof(struct reach_egress_event), pid_tgid, cgid, 0);
		o.exe_seed = net__exe_seed();
		if (bpf_map_update_elem(&tcp_connecting, &key, &o, BPF_ANY))
			loss__count(REACH_EV_EGRESS, REACH_LOSS_MAP_FULL);
		return 0;
	}
	if (oldstate != TCP_SYN_SENT)
		return 0;
	owner = bpf_map_lookup_elem(&tcp_connecting, &key);
	if (!owner)
		return 0;
	if (newstate == TCP_ESTABLISHED) {
		outcome = REACH_OUT_ESTABLISHED;
	} else {
		err = BPF_CORE_READ(sk, sk_err);
		outcome = err == ECONNREFUSED ? REACH_OUT_REFUSED : err == ETIMEDOUT ? REACH_OUT_TIMEDOUT : REACH_OUT_FAILED;
	}
	if (net__sock_peer((struct sock *)sk, &ep))
		net__record_egress(&owner->hdr, owner->exe_seed, REACH_PROTO_TCP, &ep, BPF_CORE_READ(sk, __sk_common.skc_num),
				   outcome, err, bpf_ktime_get_boot_ns());
	bpf_map_delete_elem(&tcp_connecting, &key);
	return 0;
}
