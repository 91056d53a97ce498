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
 * And, only where the kernel asks for it:
 *   CAP_SYS_ADMIN       perf_event_open() of a uprobe (libbpf's uprobe
 *                       attach; the TLS credential capture). Linux 5.8+
 *                       accepts CAP_PERFMON there, but some kernels refuse
 *                       it (measured: EACCES with CAP_PERFMON on the 6.18
 *                       build this project is tested on; every other
 *                       capability was tried alone). caps_uprobe_needs_extra()
 *                       measures it at start; --drop-caps keeps it only then.
 * Not needed: CAP_SYS_RESOURCE (BPF memory is memcg-accounted since 5.11,
 * no memlock rlimit), CAP_NET_ADMIN (no network hooks). */
#ifndef REACH_CAPS_H
#define REACH_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The capability numbers the agent keeps (linux/capability.h). */
extern const int caps_agent_needs[];
extern const size_t caps_agent_needs_count;
extern const int caps_uprobe_extra; /* CAP_SYS_ADMIN */

/* Whether this kernel refuses a uprobe perf event without caps_uprobe_extra
 * while caps_agent_needs are held: tried once with caps_uprobe_extra out of
 * the effective set (then restored), on /proc/self/exe at offset 0, which
 * no executable mapping covers, so nothing is ever probed. false when the
 * process does not hold caps_uprobe_extra (nothing to keep). */
bool caps_uprobe_needs_extra(void);

/* Keeps only caps_agent_needs (plus caps_uprobe_extra when keep_extra) in
 * the permitted and effective sets, clears
 * the inheritable and ambient sets, drops every other capability from the
 * bounding set (when CAP_SETPCAP allows) and sets no_new_privs: nothing the
 * agent might exec could regain them. 0 or negative errno with a message. */
int caps_drop_to_agent_needs(bool keep_extra, char *err, size_t err_size);

/* The effective set as a bit mask (bit N = capability N), or 0 on error. */
uint64_t caps_effective(void);

/* Why bpf() or perf_event_open() said EPERM/EACCES, for the start-up error:
 * the capabilities actually missing from the effective set (cap_bpf and
 * cap_perfmon, each satisfied by cap_sys_admin too), or, when none is, what
 * else refuses them (a seccomp/AppArmor profile, sysctls, lockdown). */
void caps_explain_refusal(char *out, size_t n);

/* "cap_bpf,cap_perfmon,...": names of the capabilities in mask. */
void caps_describe(uint64_t mask, char *out, size_t n);

/* --drop-caps: caps_drop_to_agent_needs(), keeping caps_uprobe_extra when
 * this kernel needs it for uprobes (logged), then logs what is held. 0 or
 * -errno with err. */
int caps_drop_for_agent(char *err, size_t err_size);

#endif
