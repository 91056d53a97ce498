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
	struct dentry *dentry = start->dentry;
	struct vfsmount *vfsmnt = start->mnt;
	struct mount *mnt = KERNEL_CAST(struct mount, container_of(vfsmnt, struct mount, mnt));
	struct dentry *root_dentry = task->fs->root.dentry;
	struct vfsmount *root_mnt = task->fs->root.mnt;
	int pos = PATH_WALK_END;
	bool done = false;

	*truncated = false;
	for (int i = 0; i < PATH_WALK_MAX_COMPONENTS; i++) {
		struct dentry *mnt_root, *parent;
		const unsigned char *name;
		__u32 len;

		if (dentry == root_dentry && vfsmnt == root_mnt) {
			done = true;
			break;
		}
		mnt_root = vfsmnt->mnt_root;
		parent = dentry->d_parent;
		if (dentry == mnt_root) {
			struct mount *mnt_parent = mnt->mnt_parent;

			if (mnt_parent == mnt) { /* the global root */
				done = true;
				break;
			}
			dentry = mnt->mnt_mountpoint;
			mnt = mnt_parent;
			/* the vfsmount type again (not a struct mount at an offset):
			 * the verifier then prunes this state against the first */
			vfsmnt = KERNEL_CAST(struct vfsmount, &mnt->mnt);
			continue;
		}
		if (dentry == parent) { /* root of a detached tree */
			done = true;
			break;
		}
		len = dentry->d_name.len & 0xff;  /* verifier bound; names are <= 255 */
		name = dentry->d_name.name;
		if (pos - (int)len - 1 < 0) {
			*truncated = true;
			break;
		}
		pos -= len + 1;
		bpf_probe_read_kernel(&walk[(pos + 1) & PATH_WALK_MASK], len, name);
		walk[pos & PATH_WALK_MASK] = '/';
		dentry = parent;
	}
	if (!done)
		*truncated = true;
	return pos;
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
