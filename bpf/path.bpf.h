/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resolves a struct path (an opened file's f_path) to an absolute path by
 * walking dentries up to the task's root, crossing mounts. bpf_d_path() is
 * not allowed in tracepoints, hence the walk (as Tetragon and Falco do).
 */
#ifndef REACH_PATH_BPF_H
#define REACH_PATH_BPF_H

#include "maps.bpf.h"
#include "task.bpf.h" /* KERNEL_CAST */
#include <bpf/bpf_core_read.h>

#define PATH_WALK_MAX_COMPONENTS 32
#define PATH_WALK_END (REACH_BASE_LEN - 1)  /* last byte kept for the NUL */
#define PATH_WALK_MASK (REACH_BASE_LEN - 1) /* REACH_BASE_LEN is a power of 2 */


/* One walk's state, shared with its bpf_loop step (path__step). */
struct path_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	char *walk;
	int pos;
	bool done;
	bool truncated;
};

/* One component (or one mount crossing) of the walk: 1 ends it. A bpf_loop
 * step, not an unrolled loop: the verifier checks it once, not once per
 * component at each of files__record's call sites (the walk was most of
 * the dispatcher's verification time, the agent's start-up). */
static long path__step(__u64 i, void *arg)
{
	struct path_walk *w = arg;
	struct dentry *dentry = w->dentry, *mnt_root, *parent;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;
	const unsigned char *name;
	int pos = w->pos;
	__u32 len;

	if (dentry == w->root_dentry && vfsmnt == w->root_mnt) {
		w->done = true;
		return 1;
	}
	mnt_root = vfsmnt->mnt_root;
	parent = dentry->d_parent;
	if (dentry == mnt_root) {
		struct mount *mnt_parent = mnt->mnt_parent;

		if (mnt_parent == mnt) { /* the global root */
			w->done = true;
			return 1;
		}
		w->dentry = mnt->mnt_mountpoint;
		w->mnt = mnt_parent;
		/* the vfsmount type again (not a struct mount at an offset) */
		w->vfsmnt = KERNEL_CAST(struct vfsmount, &mnt_parent->mnt);
		return 0;
	}
	if (dentry == parent) { /* root of a detached tree */
		w->done = true;
		return 1;
	}
	len = dentry->d_name.len & 0xff;  /* verifier bound; names are <= 255 */
	name = dentry->d_name.name;
	if (pos - (int)len - 1 < 0) {
		w->truncated = true;
		return 1;
	}
	pos -= len + 1;
	bpf_probe_read_kernel(&w->walk[(pos + 1) & PATH_WALK_MASK], len, name);
	w->walk[pos & PATH_WALK_MASK] = '/';
	w->pos = pos;
	w->dentry = parent;
	return 0;
}

/*
 * Writes the path right-aligned into walk[pos..PATH_WALK_END) and returns pos
 * (PATH_WALK_END for "/"). Sets *truncated when components did not fit or
 * the walk hit its component bound. Offsets are masked so the verifier sees
 * every write inside walk[0..2*REACH_BASE_LEN).
 */
static __always_inline int path__walk(struct path *start, struct task_struct *task, char *walk,
				      bool *truncated)
{
	/* BTF pointers (KERNEL_CAST, task.bpf.h): each step's pointers are
	 * direct loads, only a name's bytes need a helper */
	struct vfsmount *vfsmnt = start->mnt;
	struct path_walk w = {
		.dentry = start->dentry,
		.vfsmnt = vfsmnt,
		.mnt = KERNEL_CAST(struct mount, container_of(vfsmnt, struct mount, mnt)),
		.root_dentry = task->fs->root.dentry,
		.root_mnt = task->fs->root.mnt,
		.walk = walk,
		.pos = PATH_WALK_END,
	};

	bpf_loop(PATH_WALK_MAX_COMPONENTS, path__step, &w, 0);
	*truncated = w.truncated || !w.done;
	return w.pos;
}

/* Copies the resolved path into dst (REACH_BASE_LEN bytes, NUL ended);
 * returns its length. An empty walk is the root "/". */
static __always_inline __u32 path__resolve(struct path *start, struct task_struct *task,
					   char *walk, char *dst, bool *truncated)
{
	int pos = path__walk(start, task, walk, truncated);
	__u32 len = PATH_WALK_END - pos;

	if (len == 0) {
		dst[0] = '/';
		dst[1] = '\0';
		return 1;
	}
	len &= PATH_WALK_MASK;
	bpf_probe_read_kernel(dst, len, &walk[pos & PATH_WALK_MASK]);
	dst[len & PATH_WALK_MASK] = '\0';
	return len;
}

#endif /* REACH_PATH_BPF_H */
