/* The sensor stage: loads the BPF programs, attaches them, keeps the
 * monitored set, drains the ring buffer and reads the kernel's counters. */
#ifndef REACH_SENSOR_H
#define REACH_SENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "abi/events.h"
#include "abi/catfilter.h"
#include "sensor/syscall_hooks.h"

struct sensor;

/* Called for every ring-buffer event; a non-zero return stops the drain. */
typedef int (*sensor_event_fn)(void *ctx, const void *data, size_t size);

struct sensor_opts {
	uint64_t ringbuf_bytes;   /* 0 = built-in default (8 MiB) */
	uint64_t dedup_entries;   /* 0 = built-in default (65536) */
	uint64_t loss_cgroup_entries; /* 0 = built-in default (REACH_LOSS_CGROUP_ENTRIES) */
	enum syscall_hook_style syscall_hooks; /* SYSCALL_HOOKS_AUTO by default */
	sensor_event_fn on_event;
	void *ctx;
};

/* Checks what the sensor needs before loading anything; on failure writes
 * one line naming what is missing into why and returns -1. */
int sensor_check_prerequisites(char *why, size_t why_size);

/* open -> configure -> load -> attach. On failure, one line in err naming
 * the step that failed and strerror, and a negative errno. */
int sensor_start(struct sensor **out, const struct sensor_opts *opts, char *err, size_t err_size);
void sensor_stop(struct sensor *s); /* accepts NULL */

/* Adds a monitored subtree root, then walks the files its processes
 * already hold (sensor_walk_held_files). */
int sensor_monitor_cgroup(struct sensor *s, uint64_t cgroup_id);
int sensor_unmonitor_cgroup(struct sensor *s, uint64_t cgroup_id);
void sensor_set_monitor_all(struct sensor *s, bool all);
/* Records every readable file a monitored process holds right now (the bpf
 * iterator task_file; events with REACH_OPEN_F_AT_START): secrets opened
 * before reach started or before their cgroup was monitored. A walk that
 * fails is a node-wide file_via read_failed loss (every identity
 * inconclusive, in sensor_read_unattributed_losses), with a warning. */
void sensor_walk_held_files(struct sensor *s);

/* Waits up to timeout_ms and handles what arrived, and the records sent
 * without a wake-up (forks, exits) that wait in the ring: events handled
 * or -errno (-EINTR is returned as 0). */
int sensor_poll(struct sensor *s, int timeout_ms);

/* Current counters of an edge in the kernel dedup map: 0, or -ENOENT when
 * the entry was evicted. */
int sensor_dedup_lookup(struct sensor *s, const struct reach_dedup_key *key, struct reach_dedup_val *val);

/* Adds a file the agent classed as a secret to the kernel's secret_inodes:
 * any later open of another name of it is flagged as a known secret. */
int sensor_mark_secret_inode(struct sensor *s, const struct reach_inode_key *key);
/* Takes one out again (a seeded file gone): 0 or -errno (-ENOENT: not there). */
int sensor_unmark_secret_inode(struct sensor *s, const struct reach_inode_key *key);
/* n more link events of the cgroup handled (abi/events.h reach_link_event):
 * the cgroup's taint is lifted once they are as many as the kernel counted
 * (one in flight or lost keeps it). 0 or -errno. */
int sensor_ack_link(struct sensor *s, uint64_t cgroup_id, uint64_t n);
/* The cgroup's link events counted by the kernel (sent) and credited back
 * (acked). 0 or -errno. */
int sensor_link_counts(struct sensor *s, uint64_t cgroup_id, uint64_t *sent, uint64_t *acked);
/* The link taints of cgroups that exist no more (no task left to write
 * them: deleting is safe), so the maps stay bounded. Entries removed. */
size_t sensor_sweep_link_taints(struct sensor *s);
/* Forgets an edge in the kernel dedup map: its next occurrence is an event
 * again. 0 or -errno (-ENOENT: already gone). */
int sensor_dedup_forget(struct sensor *s, const struct reach_dedup_key *key);
/* Reads an edge's final counters and deletes its dedup-map entry in one
 * step (lookup-and-delete, Linux 5.14+ for hash maps; a lookup then a delete
 * before: an occurrence between the two is not counted). 0, or -ENOENT when
 * the map has no entry. */
int sensor_dedup_take(struct sensor *s, const struct reach_dedup_key *key, struct reach_dedup_val *val);
/* A batch read of the whole dedup map (dedup_snapshot.h), then lookups from
 * that copy: how the agent refreshes many edges' counts at once. Without
 * batch support the lookups fall back to one call per key. */
int sensor_dedup_snapshot(struct sensor *s);
int sensor_dedup_lookup_snapshot(struct sensor *s, const struct reach_dedup_key *key, struct reach_dedup_val *val);

/* The catalogue pre-filter's tables (abi/catfilter.h), compiled by the
 * agent (reach/catfilter.h). on false: every first-seen open is sent. */
struct sensor_catfilter {
	bool on;
	const struct reach_cf_name *names;
	size_t n_names;
	const struct reach_cf_affix *affixes;
	size_t n_affixes;
	const struct reach_cf_prefix *prefixes;
	size_t n_prefixes;
	struct reach_cf_sieve sieve;
};
/* Replaces the kernel's filter tables: off and a new generation first
 * (every open sent while the maps are rewritten), the entries, then another
 * generation and on. 0, or -errno with the filter left off (never a false
 * drop). Each load is a new generation: a file filtered before is judged
 * again at its next open. */
int sensor_load_catfilter(struct sensor *s, const struct sensor_catfilter *t);
/* The filter's per-CPU counters, summed. 0 or -errno. */
int sensor_read_catfilter_counters(struct sensor *s, struct reach_cf_counters *sum);

/* Loss counters summed over CPUs. */
int sensor_read_losses(struct sensor *s, struct reach_loss_counters *sum);
/* The losses that found no room in the per-cgroup map (abi/events.h),
 * summed over CPUs: nobody's, so everybody's verdict is inconclusive. */
int sensor_read_unattributed_losses(struct sensor *s, struct reach_loss_counters *sum);
/* Every (cgroup, uid) that lost something, with its counters since load.
 * 0 or -errno of the failed map call. */
typedef void (*sensor_cgroup_loss_fn)(void *ctx, uint64_t cgroup_id, uint32_t uid,
				      const struct reach_loss_counters *counters);
int sensor_each_cgroup_loss(struct sensor *s, sensor_cgroup_loss_fn fn, void *ctx);
/* Deletes a (cgroup, uid)'s entry (its cgroup is gone and its counts were
 * read): room for live cgroups. 0 or -errno (-ENOENT: none). */
int sensor_forget_cgroup_loss(struct sensor *s, uint64_t cgroup_id, uint32_t uid);

enum sensor_uprobe {
	SENSOR_UPROBE_SSL_WRITE,        /* OpenSSL / BoringSSL SSL_write */
	SENSOR_UPROBE_SSL_WRITE_EX,     /* OpenSSL 1.1.1+ SSL_write_ex */
	SENSOR_UPROBE_GNUTLS_SEND,      /* GnuTLS gnutls_record_send */
	SENSOR_UPROBE_GO_TLS_WRITE,     /* Go crypto/tls.(*Conn).Write, register ABI: at its entry */
};

/* Attaches a TLS uprobe to func in binary (every process of that file).
 * The probe goes on the function's first branch where that provably sees
 * the same arguments (common/x86_entry.h), else on its entry.
 * Returns a handle >= 0 for sensor_detach_uprobe, or -errno (-ENOTUNIQ:
 * several symbol versions of func, none chosen; -ENOENT: the
 * symbol is not in the file). */
int sensor_attach_uprobe(struct sensor *s, enum sensor_uprobe which, const char *binary, const char *func);
void sensor_detach_uprobe(struct sensor *s, int handle);
size_t sensor_uprobes_attached(const struct sensor *s);
/* How long loading the BPF object took at start (the verifier, mostly), ms. */
double sensor_load_ms(const struct sensor *s);
/* secret_ino_bits (abi/events.h): the bits set now (secret inodes, and
 * removed ones not yet rebuilt away), and how often it was rebuilt. */
void sensor_secret_bits(const struct sensor *s, uint64_t *set, uint64_t *rebuilds);

/* Names of the attached programs, NULL-terminated, for status output. */
const char *const *sensor_hook_names(const struct sensor *s);
/* Which syscall-exit style is attached, and why AUTO fell back. */
const struct syscall_hooks *sensor_syscall_hooks(const struct sensor *s);

#endif
