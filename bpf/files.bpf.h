/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secret-file reads: successful open/openat/openat2/open_by_handle_at of a
 * regular file with read access. Catalogue matching happens in user space:
 * the kernel deduplicates every read-open per (cgroup, file, executable), so
 * a repeated open is one map lookup and only a new file costs an event.
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
#define S_IFMT     00170000
#define S_IFREG    0100000


struct open_call {
	int dirfd;
	const char *pathname;
	__u32 flags;
};

/* Decodes the open flavours; false when the flags cannot be read. */
static __always_inline bool open__decode(struct pt_regs *regs, long nr, struct open_call *call)
{
	if (nr == NR_open) {
		call->dirfd = AT_FDCWD;
		call->pathname = (const char *)SYSCALL_ARG1(regs);
		call->flags = (__u32)SYSCALL_ARG2(regs);
		return true;
	}
	call->dirfd = (int)SYSCALL_ARG1(regs);
	if (nr == NR_open_by_handle_at) {
		/* (mount_fd, handle, flags): no name at all, only the file */
		call->pathname = NULL;
		call->flags = (__u32)SYSCALL_ARG3(regs);
		return true;
	}
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

/*
 * sys_exit of open, openat, openat2, open_by_handle_at (already filtered on
 * nr and ret >= 0). The object is the file behind the returned descriptor,
 * not the string: the struct file is taken from the task's descriptor table
 * and its f_path resolved (path.bpf.h), so every spelling of a file (a
 * symlink, /proc/self/fd/N after O_PATH, /proc/PID/root/..., `..`, a handle)
 * is the same object. The dedup key is the file's (device, inode) with the
 * executable, so a repeated open costs no string copy and no walk, and no
 * chosen name can collide with a secret's entry.
 */
static __noinline int files__on_open_exit(struct pt_regs *regs, long nr, long ret)
{
	struct reach_file_open_event *ev;
	struct task_struct *task;
	struct reach_dedup_key key = {};
	struct reach_inode_key ino_key = {};
	struct open_call call;
	struct file *file;
	struct inode *inode;
	struct scratch *s;
	__u64 pid_tgid, cgid, now, w[3];
	__u32 ev_flags = 0;
	long path_len = 0;
	bool truncated = false;
	umode_t mode;

	pid_tgid = bpf_get_current_pid_tgid();
	cgid = bpf_get_current_cgroup_id();
	if (!task__is_monitored(pid_tgid, cgid))
		return 0;

	if (!open__decode(regs, nr, &call)) {
		loss__count(REACH_EV_FILE_OPEN, REACH_LOSS_READ_FAILED);
		return 0;
	}
	if ((call.flags & O_ACCMODE) == O_WRONLY || (call.flags & O_PATH))
		return 0;  /* not a read (an O_PATH descriptor reopened is a read, seen then) */

	task = bpf_get_current_task_btf();
	file = task__file_of_fd(task, ret);
	inode = BPF_CORE_READ(file, f_inode);
	if (!file || !inode) {
		/* another thread closed it between the open and here */
		loss__count(REACH_EV_FILE_OPEN, REACH_LOSS_READ_FAILED);
		return 0;
	}
	mode = BPF_CORE_READ(inode, i_mode);
	if ((mode & S_IFMT) != S_IFREG)
		return 0;  /* directories, devices, pipes: not a file's content */
	ino_key.ino = BPF_CORE_READ(inode, i_ino);
	ino_key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	if (bpf_map_lookup_elem(&secret_inodes, &ino_key))
		ev_flags |= REACH_OPEN_F_KNOWN_SECRET;

	key.cgroup_id = cgid;
	key.kind = REACH_EV_FILE_OPEN;
	/* The executable's inode joins the key: each binary that reads a secret
	 * is reported once (the ledger lists every one), while repeats by the
	 * same binary stay map lookups. */
	w[0] = ino_key.ino;
	w[1] = ino_key.dev;
	w[2] = net__exe_seed();
	key.hash = hash__words((const char *)w, sizeof(w), sizeof(w), 0x66696c65ULL /* "file" */);

	now = bpf_ktime_get_boot_ns();
	if (!dedup__first_seen(&key, now))
		return 0;

	s = scratch__get();
	if (!s)
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
	ev->inode = ino_key;
	ev->path[0] = '\0';
	if (call.pathname) {
		/* the name as written, kept as `opened_as` when it differs */
		path_len = bpf_probe_read_user_str(ev->path, sizeof(ev->path), call.pathname);
		path_len = path_len > 0 ? path_len - 1 : 0;
		if (path_len >= REACH_PATH_LEN - 1)
			ev_flags |= REACH_OPEN_F_PATH_TRUNC;
	} else {
		ev_flags |= REACH_OPEN_F_BY_HANDLE;
	}
	ev->path_len = path_len;
	ev->resolved_len = path__resolve((struct path *)__builtin_preserve_access_index(&file->f_path), task, s->walk,
					 ev->resolved, &truncated);
	if (truncated) {
		/* the object itself is incomplete: a loss, judged by verify */
		ev_flags |= REACH_OPEN_F_RESOLVED_TRUNC;
		loss__count(REACH_EV_FILE_OPEN, REACH_LOSS_TRUNCATED);
	}
	ev->flags = ev_flags;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

#endif /* REACH_FILES_BPF_H */
