/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secret-file reads: successful open/openat/openat2 with read access.
 * Catalogue matching happens in user space: the kernel deduplicates every
 * read-open per cgroup, so a repeated open is one map lookup and only a new
 * file costs an event.
 */
#ifndef REACH_FILES_BPF_H
#define REACH_FILES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "syscall.bpf.h"
#include "task.bpf.h"
#include "path.bpf.h"
#include "net.bpf.h"

#define AT_FDCWD   -100
#define O_ACCMODE  00000003
#define O_WRONLY   00000001
#define O_PATH     010000000


struct open_call {
	int dirfd;
	const char *pathname;
	__u32 flags;
};

/* Decodes the three open flavours; false when the flags cannot be read. */
static __always_inline bool open__decode(struct pt_regs *regs, long nr, struct open_call *call)
{
	if (nr == NR_open) {
		call->dirfd = AT_FDCWD;
		call->pathname = (const char *)SYSCALL_ARG1(regs);
		call->flags = (__u32)SYSCALL_ARG2(regs);
		return true;
	}
	call->dirfd = (int)SYSCALL_ARG1(regs);
	call->pathname = (const char *)SYSCALL_ARG2(regs);
	if (nr == NR_openat) {
		call->flags = (__u32)SYSCALL_ARG3(regs);
		return true;
	}
	/* openat2: flags live in the user's struct open_how */
	__u64 how_flags = 0;
	struct open_how *how = (struct open_how *)SYSCALL_ARG3(regs);

	if (bpf_probe_read_user(&how_flags, sizeof(how_flags), &how->flags))
		return false;
	call->flags = (__u32)how_flags;
	return true;
}

/* The directory a relative path is resolved against: cwd or the dirfd's. */
static __always_inline struct path *open__base_dir(struct task_struct *task, int dirfd)
{
	struct file *file;

	if (dirfd == AT_FDCWD)
		return __builtin_preserve_access_index(&task->fs->pwd);
	file = task__file_of_fd(task, dirfd);
	if (!file)
		return NULL;
	return (struct path *)__builtin_preserve_access_index(&file->f_path);
}

/* sys_exit of open, openat, openat2 (already filtered on nr and ret >= 0). */
static __noinline int files__on_open_exit(struct pt_regs *regs, long nr, long ret)
{
	struct reach_file_open_event *ev;
	struct task_struct *task;
	struct reach_dedup_key key = {};
	struct open_call call;
	struct path *base = NULL;
	struct scratch *s;
	__u64 pid_tgid, cgid, now;
	long path_len;
	__u64 exe_seed;
	__u32 ev_flags = 0;

	pid_tgid = bpf_get_current_pid_tgid();
	cgid = bpf_get_current_cgroup_id();
	if (!task__is_monitored(pid_tgid, cgid))
		return 0;

	if (!open__decode(regs, nr, &call)) {
		loss__count(REACH_EV_FILE_OPEN, REACH_LOSS_READ_FAILED);
		return 0;
	}
	if ((call.flags & O_ACCMODE) == O_WRONLY || (call.flags & O_PATH))
		return 0;  /* not a read */

	s = scratch__get();
	if (!s)
		return 0;
	path_len = bpf_probe_read_user_str(s->path, sizeof(s->path), call.pathname);
	if (path_len <= 1) {
		loss__count(REACH_EV_FILE_OPEN, REACH_LOSS_READ_FAILED);
		return 0;
	}
	path_len -= 1; /* without the NUL */
	if (path_len >= REACH_PATH_LEN - 1) {
		ev_flags |= REACH_OPEN_F_PATH_TRUNC;
		loss__count(REACH_EV_FILE_OPEN, REACH_LOSS_TRUNCATED);
	}

	task = bpf_get_current_task_btf();
	key.cgroup_id = cgid;
	key.kind = REACH_EV_FILE_OPEN;
	/* The executable's inode joins the key: each binary that reads a secret
	 * is reported once (the ledger lists every one), while repeats by the
	 * same binary stay map lookups. */
	exe_seed = net__exe_seed();
	if (s->path[0] == '/') {
		key.hash = hash__words(s->path, path_len, REACH_PATH_LEN, exe_seed);
	} else {
		/* Relative: the same name under another directory is another
		 * file, so the base directory's dentry joins the hash. */
		ev_flags |= REACH_OPEN_F_RELATIVE;
		base = open__base_dir(task, call.dirfd);
		key.hash = hash__words(s->path, path_len, REACH_PATH_LEN,
				       (__u64)BPF_CORE_READ(base, dentry) ^ (exe_seed * 0x9e3779b97f4a7c15ULL));
	}

	now = bpf_ktime_get_boot_ns();
	if (!dedup__first_seen(&key, now))
		return 0;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		loss__count(REACH_EV_FILE_OPEN, REACH_LOSS_RINGBUF_FULL);
		dedup__forget(&key);
		return 0;
	}
	task__fill_hdr(&ev->hdr, REACH_EV_FILE_OPEN, sizeof(*ev), pid_tgid, cgid, now);
	ev->key = key;
	ev->open_flags = call.flags;
	ev->dirfd = call.dirfd;
	ev->fd = ret;
	ev->syscall_nr = nr;
	ev->path_len = path_len;
	bpf_probe_read_kernel(ev->path, sizeof(ev->path), s->path);
	ev->base_len = 0;
	ev->base[0] = '\0';
	if (base) {
		bool truncated = false;

		ev->base_len = path__resolve(base, task, s->walk, ev->base, &truncated);
		if (truncated) {
			ev_flags |= REACH_OPEN_F_BASE_TRUNC;
			loss__count(REACH_EV_FILE_OPEN, REACH_LOSS_TRUNCATED);
		}
	} else if (ev_flags & REACH_OPEN_F_RELATIVE) {
		ev_flags |= REACH_OPEN_F_BASE_FAIL;
		loss__count(REACH_EV_FILE_OPEN, REACH_LOSS_READ_FAILED);
	}
	ev->flags = ev_flags;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

#endif /* REACH_FILES_BPF_H */
