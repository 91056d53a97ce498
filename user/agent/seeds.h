/* Secret seeds: files the catalogue classes as secrets, found in the
 * processes' roots before anyone reads them, so that their (device, inode)
 * is in the kernel's secret_inodes from the start (issue 16's road: a
 * secret read only through a name that matches nothing).
 *
 * Why: the kernel judges a first-seen open by its resolved path (and the
 * name as written) unless its inode is already known as a secret's. A
 * hardlink, a bind mount of a secret directory (a user namespace's mount
 * namespace), or the directory renamed, give the same file a path that
 * matches no rule: until someone read it by its classed name, its reads
 * were dropped in the kernel. Seeded, such a read is the secret it is,
 * recorded under the classed name, with the name used as opened_as.
 *
 * What is walked: every directory that is the literal prefix of an
 * absolute catalogue rule with at least two components ("/run/secrets/",
 * "/etc/kubernetes/pki/"; not "/" nor "/home/": too wide to walk), in the
 * root of every mount namespace on the node (/proc/PID/root, one process
 * per namespace), only through real directories (a prefix reached through
 * a symlink, as /var/run -> /run, is walked under its real name), crossing
 * mounts (a pod's secret volumes are mounts there), never following a
 * symlink, never into a mount whose filesystem may make a lookup or stat
 * wait (FUSE, NFS: a pod's daemon could stall the agent): each entry is
 * taken as an O_PATH descriptor and its mount id checked against the
 * namespace's mount table before anything else (common/mounts.h). Bounded
 * per root (SEEDS_ENTRIES_MAX entries, depth SEEDS_DEPTH_MAX,
 * SEEDS_PER_NS_MAX new seeds) and in all (SEEDS_MAX seeds, exec-triggered
 * walks SEEDS_EXEC_WALKS_PER_S, SEEDS_WALKS_PER_TICK a tick): what is left
 * over is counted, and stays judged by name.
 *
 * When: every namespace at start (before the agent says ready), a
 * namespace when a process execs in it and its walk is older than
 * SEEDS_EXEC_FRESH_MS (a new pod, a new mount namespace: a walk is a few
 * syscalls, at most one a second per namespace), and every namespace again
 * in passes over /proc spread over the periodic ticks, each namespace's
 * walk at most every SEEDS_FRESH_MS (a projected token rotates into new
 * inodes).
 *
 * Forgotten: a seed whose device is no longer mounted in the namespaces
 * that held it (a pod gone, its tmpfs freed: the device and inode numbers
 * come back as other files'), and an atomic writer's removed generation (a
 * rotated token). Kept: a secret renamed out of its directory.
 *
 * Limits (issue 16's note): the device a stat reports is the kernel's s_dev
 * on tmpfs (secret volumes), ext4 and xfs, not on overlayfs (a container
 * image's own files) nor on btrfs subvolumes: files there stay judged by
 * name. A secret that appears and is read through another name before the
 * next seeding of its namespace is missed at that read (its later reads are
 * seen: the kernel judges a dropped file again once its inode is known). */
#ifndef REACH_AGENT_SEEDS_H
#define REACH_AGENT_SEEDS_H

#include <stdbool.h>
#include <stdint.h>
#include "abi/events.h"

#define SEEDS_FRESH_MS    30000 /* the periodic pass walks a namespace again after this */
#define SEEDS_EXEC_FRESH_MS 1000 /* an exec walks its namespace again after this */
#define SEEDS_ENTRIES_MAX 4096  /* directory entries looked at per root and walk */
#define SEEDS_DEPTH_MAX   8     /* directories below a prefix */
#define SEEDS_PIDS_PER_TICK 256 /* processes looked at per periodic tick */
#define SEEDS_WALKS_PER_TICK 16 /* and namespaces walked */
#define SEEDS_EXEC_WALKS_PER_S 20 /* exec-triggered walks, every namespace together */
#define SEEDS_EXEC_WALKS_BURST 40
#define SEEDS_PER_NS_MAX  256   /* new seeds one walk adds */
#define SEEDS_MAX         8192  /* seeds in all (half the kernel's secret_inodes) */

struct catalog;
struct seeds;

/* A file found: its (device as the kernel has it, inode) and absolute path
 * in its root (the stable name is the callee's to make). The callee
 * classes it; true when it was a secret. */
typedef bool (*seeds_found_fn)(void *ctx, const struct reach_inode_key *key, const char *abs_path);
/* A file seeded before that is gone (its atomic-writer generation removed,
 * or every namespace that held it): the callee forgets it, so that its
 * inode number, once reused, is not taken for a secret. */
typedef void (*seeds_forget_fn)(void *ctx, const struct reach_inode_key *key);

struct seeds_stats {
	uint64_t roots;      /* roots walked */
	uint64_t files;      /* secret files found (classed by found) */
	uint64_t cut;        /* walks cut at a bound: the rest judged by name */
	uint64_t unreadable; /* roots or prefixes that could not be opened (a process gone, EACCES) */
	uint64_t unsafe_mounts; /* mounts not entered: a filesystem whose stat may wait (FUSE, NFS) */
	uint64_t deferred;   /* exec-triggered walks left to the periodic pass (the rate bound) */
};

/* NULL on ENOMEM. found(ctx, ...) is called for every regular file under a
 * prefix, forget(ctx, ...) (optional) for a secret found before and gone. */
struct seeds *seeds_new(seeds_found_fn found, seeds_forget_fn forget, void *ctx);
void seeds_free(struct seeds *s); /* accepts NULL */

/* The prefixes from a catalogue (at start, at each reload: the new rules
 * may class more files, so every namespace is walked again). -ENOMEM. */
int seeds_set_catalog(struct seeds *s, const struct catalog *c);

/* pid's namespace now (a process exec'd there), unless walked less than
 * SEEDS_EXEC_FRESH_MS ago (pid 0: the agent's own). */
void seeds_process(struct seeds *s, uint32_t pid, int64_t now_ms);
/* Every namespace on the node now (start-up). */
void seeds_all(struct seeds *s, int64_t now_ms);
/* The periodic pass: up to SEEDS_PIDS_PER_TICK processes per call, a new
 * pass once the last one is SEEDS_FRESH_MS old. */
void seeds_tick(struct seeds *s, int64_t now_ms);

/* A directory the workload renamed (or linked) from old_dir to new_dir
 * (both absolute in pid's root, ending with '/'): each regular file under
 * new_dir passed to found under the name it had under old_dir, walked as a
 * seeds walk is (safe mounts only, no symlink, bounded). 0; -E2BIG when a
 * bound left files unwalked; -ESRCH when pid's root or mount table is gone;
 * else what opening new_dir gave (-ENOENT, -ENOTDIR: not a directory,
 * -EXDEV, -ELOOP). */
int seeds_walk_renamed(uint32_t pid, const char *old_dir, const char *new_dir, seeds_found_fn found, void *ctx);

struct seeds_stats seeds_stats(const struct seeds *s);
/* The prefixes walked, for the log: "/etc/kubernetes/, /run/secrets/". */
const char *seeds_describe(const struct seeds *s);

#endif
