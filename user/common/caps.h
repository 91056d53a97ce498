/* The agent's capabilities: what it needs, and dropping the rest once the
 * BPF programs are loaded and attached (reachd --drop-caps).
 *
 * What stays, and why (the DaemonSet grants exactly these; the e2e suite runs
 * the agent under capsh with only these to prove the list is enough):
 *   CAP_BPF             every bpf() call: map reads (loss counters, dedup),
 *                       uprobe links for TLS libraries found at run time
 *   CAP_PERFMON         tracing programs and uprobes (perf_event_open)
 *   CAP_SYS_PTRACE      /proc/PID/{exe,maps,root} of other users' processes:
 *                       executables, TLS libraries to probe
 *   CAP_DAC_READ_SEARCH read a secret file a workload read, to fingerprint a
 *                       single-token content (never stored raw), through
 *                       /proc/PID/root
 * Not needed: CAP_SYS_ADMIN (split into BPF + PERFMON since Linux 5.8),
 * CAP_SYS_RESOURCE (BPF memory is memcg-accounted since 5.11, no memlock
 * rlimit), CAP_NET_ADMIN (no network hooks). */
#ifndef REACH_CAPS_H
#define REACH_CAPS_H

#include <stddef.h>
#include <stdint.h>

/* The capability numbers the agent keeps (linux/capability.h). */
extern const int caps_agent_needs[];
extern const size_t caps_agent_needs_count;

/* Keeps only caps_agent_needs in the permitted and effective sets, clears
 * the inheritable and ambient sets, drops every other capability from the
 * bounding set (when CAP_SETPCAP allows) and sets no_new_privs: nothing the
 * agent might exec could regain them. 0 or negative errno with a message. */
int caps_drop_to_agent_needs(char *err, size_t err_size);

/* The effective set as a bit mask (bit N = capability N), or 0 on error. */
uint64_t caps_effective(void);

/* "cap_bpf,cap_perfmon,...": names of the capabilities in mask. */
void caps_describe(uint64_t mask, char *out, size_t n);

#endif
