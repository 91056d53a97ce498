/* SPDX-License-Identifier: Apache-2.0 */
/* sys_exit handlers for files (see files.bpf.h): the open family, and
 * descriptors received without an open (SCM_RIGHTS, pidfd_getfd). */
#ifndef REACH_FILES_SYSCALLS_BPF_H
#define REACH_FILES_SYSCALLS_BPF_H

#include "files.bpf.h"

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

/* sys_exit of open, openat, openat2, open_by_handle_at (already filtered on
 * nr and ret >= 0): the file behind the returned descriptor. */
static __noinline int files__on_open_exit(struct pt_regs *regs, long nr, long ret)
{
	struct file_origin o = { .kind = REACH_EV_FILE_OPEN, .fd = ret, .nr = nr };
	struct task_cache *tc;
	struct open_call call;
	__u64 pid_tgid, cgid;
	struct file *file;

	pid_tgid = bpf_get_current_pid_tgid();
	cgid = bpf_get_current_cgroup_id();
	if (!task__is_monitored_tc(pid_tgid, cgid, &tc))
		return 0;

	if (!open__decode(regs, nr, &call)) {
		loss__count(REACH_EV_FILE_OPEN, REACH_LOSS_READ_FAILED);
		return 0;
	}
	if ((call.flags & O_ACCMODE) == O_WRONLY || (call.flags & O_PATH))
		return 0;  /* not a read (an O_PATH descriptor reopened is a read, seen then) */
	o.open_flags = call.flags;
	o.dirfd = call.dirfd;
	o.pathname = call.pathname;
	if (!call.pathname)
		o.flags = REACH_OPEN_F_BY_HANDLE;
	file = task__file_of_fd(bpf_get_current_task_btf(), ret);
	if (files__open_repeat(tc, file, cgid))
		return 0;
	return files__record(file, &o, pid_tgid, cgid, NULL);
}

#define SOL_SOCKET  1
#define SCM_RIGHTS  1
#define FILES_RECEIVED_MAX 8 /* descriptors looked at per message; more are counted as truncated */
#define MMSG_RECEIVED_MAX 64 /* recvmmsg messages looked at per call; more are counted as truncated */

/* A control message's header (struct cmsghdr), then its descriptors. */
struct reach_cmsg {
	__u64 len;
	__s32 level;
	__s32 type;
};

/* What files__received_step reads: the descriptors after the header. */
struct received_ctx {
	struct file_origin o; /* .fd set per descriptor */
	const void *control;
	__u64 pid_tgid;
	__u64 cgid;
};

static long files__received_step(__u64 i, void *arg)
{
	struct received_ctx *c = arg;
	__s32 fd;

	if (bpf_probe_read_user(&fd, sizeof(fd), c->control + sizeof(struct reach_cmsg) + i * sizeof(__s32))) {
		loss__count(REACH_EV_FILE_VIA, REACH_LOSS_READ_FAILED);
		return 1;
	}
	c->o.fd = fd;
	files__record(task__file_of_fd(bpf_get_current_task_btf(), fd), &c->o, c->pid_tgid, c->cgid, NULL);
	return 0;
}

/* The SCM_RIGHTS descriptors in the first control message of one received
 * user msghdr at umsg (the kernel has already installed them and rewritten
 * msg_controllen): each recorded as the file it refers to. A global
 * function: verified once, not at recvmsg's and recvmmsg's call sites (each
 * inlined in the dispatcher pushed it past the verifier's 1M instructions).
 * __weak: one copy in the link. */
__weak __noinline int files__received_in(__u64 umsg, __u32 nr, __u64 pid_tgid, __u64 cgid)
{
	struct received_ctx c = {
		.o = { .kind = REACH_EV_FILE_VIA, .dirfd = -1, .flags = REACH_OPEN_F_RECEIVED, .nr = nr },
	};
	struct reach_cmsg cmsg;
	/* msg_control and msg_controllen only (adjacent in struct user_msghdr):
	 * this frame is on the dispatcher's deepest call chain (512 bytes) */
	struct { void *msg_control; __u64 msg_controllen; } msg;
	__u64 n;

	if (bpf_probe_read_user(&msg, sizeof(msg),
				(const void *)umsg + __builtin_offsetof(struct user_msghdr, msg_control))) {
		loss__count(REACH_EV_FILE_VIA, REACH_LOSS_READ_FAILED);
		return 0;
	}
	if (!msg.msg_control || msg.msg_controllen < sizeof(cmsg) + sizeof(__s32))
		return 0;  /* no control data: nothing was passed */
	if (bpf_probe_read_user(&cmsg, sizeof(cmsg), msg.msg_control)) {
		loss__count(REACH_EV_FILE_VIA, REACH_LOSS_READ_FAILED);
		return 0;
	}
	if (cmsg.level != SOL_SOCKET || cmsg.type != SCM_RIGHTS || cmsg.len < sizeof(cmsg) + sizeof(__s32))
		return 0;
	n = (cmsg.len - sizeof(cmsg)) / sizeof(__s32);
	if (n > FILES_RECEIVED_MAX) {
		/* the rest are not looked at: a loss, judged by verify */
		loss__count(REACH_EV_FILE_VIA, REACH_LOSS_TRUNCATED);
		n = FILES_RECEIVED_MAX;
	}
	c.control = msg.msg_control;
	c.pid_tgid = pid_tgid;
	c.cgid = cgid;
	/* bpf_loop: files__record verified once here, not once per slot */
	bpf_loop(n, files__received_step, &c, 0);
	return 0;
}

/*
 * Descriptors that arrive without an open in the task: each is the file it
 * refers to, recorded like an open (REACH_EV_FILE_VIA, REACH_OPEN_F_RECEIVED),
 * so a secret opened by an unmonitored process and handed over is the
 * receiver's secret read under the real file.
 *   recvmsg   SCM_RIGHTS in the first control message
 *   recvmmsg  the same in each received message (the first
 *             MMSG_RECEIVED_MAX; past them a loss)
 *   pidfd_getfd  the returned descriptor
 * Only a monitored task's receive with control data pays the cmsg read.
 */
static __noinline int files__on_recvmsg_exit(struct pt_regs *regs)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), cgid = bpf_get_current_cgroup_id();

	if (!task__is_monitored(pid_tgid, cgid))
		return 0;
	return files__received_in(SYSCALL_ARG2(regs), NR_recvmsg, pid_tgid, cgid);
}

struct mmsg_ctx {
	const struct mmsghdr *vec;
	__u64 pid_tgid;
	__u64 cgid;
};

static long files__mmsg_step(__u64 i, void *arg)
{
	struct mmsg_ctx *c = arg;

	/* msg_hdr is the first member of struct mmsghdr */
	files__received_in((__u64)&c->vec[i], NR_recvmmsg, c->pid_tgid, c->cgid);
	return 0;
}

/* sys_exit of recvmmsg (ret > 0: that many messages were received). */
static __noinline int files__on_recvmmsg_exit(struct pt_regs *regs, long ret)
{
	struct mmsg_ctx c = { .vec = (const struct mmsghdr *)SYSCALL_ARG2(regs) };

	c.pid_tgid = bpf_get_current_pid_tgid();
	c.cgid = bpf_get_current_cgroup_id();
	if (!task__is_monitored(c.pid_tgid, c.cgid))
		return 0;
	if (ret > MMSG_RECEIVED_MAX) {
		/* the messages past them are not looked at: a loss, judged by verify */
		loss__count(REACH_EV_FILE_VIA, REACH_LOSS_TRUNCATED);
		ret = MMSG_RECEIVED_MAX;
	}
	/* bpf_loop: the per-message walk is verified once, whatever the count */
	bpf_loop(ret, files__mmsg_step, &c, 0);
	return 0;
}

static __noinline int files__on_pidfd_getfd_exit(long ret)
{
	struct file_origin o = { .kind = REACH_EV_FILE_VIA, .dirfd = -1, .fd = ret, .flags = REACH_OPEN_F_RECEIVED,
				 .nr = NR_pidfd_getfd };
	__u64 pid_tgid = bpf_get_current_pid_tgid(), cgid = bpf_get_current_cgroup_id();

	if (!task__is_monitored(pid_tgid, cgid))
		return 0;
	return files__record(task__file_of_fd(bpf_get_current_task_btf(), ret), &o, pid_tgid, cgid, NULL);
}

/* bpf_loop over the old name's bytes in cf_scratch.resolved: the last '/'
 * before len (map memory: cf_scratch.slash_pos) */
struct link_scan {
	__u32 len;
};

static long files__last_slash_cb(__u64 i, void *arg)
{
	struct link_scan *c = arg;
	struct cf_scratch *cs = filter__scratch();

	if (!cs || i >= c->len || i >= REACH_BASE_LEN)
		return 1;
	if (cs->resolved[i & (REACH_BASE_LEN - 1)] == '/')
		cs->slash_pos = (__u32)i;
	return 0;
}

/* The old name's last component (cf_scratch.resolved, len bytes, a '/'
 * first) a literal directory of some rule (REACH_CF_DIRNAME)? */
static __always_inline bool files__link_dirname(struct cf_scratch *cs, __u32 len)
{
	struct link_scan c = { .len = len };
	__u32 start, n;

	if (len > 1 && cs->resolved[(len - 1) & (REACH_BASE_LEN - 1)] == '/')
		c.len = --len; /* "dir/" */
	cs->slash_pos = 0;
	bpf_loop(REACH_PATH_LEN + 1, files__last_slash_cb, &c, 0);
	start = cs->slash_pos + 1;
	if (start >= len)
		return false;
	n = len - start;
	if (n == 0 || n > REACH_CF_NAME_MAX)
		return false;
	__builtin_memset(&cs->keys.name, 0, sizeof(cs->keys.name));
	cs->keys.name.kind = REACH_CF_DIRNAME;
	cs->keys.name.len = n;
	cf__copy(cs->keys.name.name, sizeof(cs->keys.name.name), cs->resolved, start, n);
	return bpf_map_lookup_elem(&cf_names, &cs->keys.name) != NULL;
}

#define RENAME_EXCHANGE 2
#define AT_SYMLINK_FOLLOW 0x400
#define AT_EMPTY_PATH 0x1000

/* bpf_loop over the names a link or rename moved (the old one; both for an
 * exchange): pass when one could be a secret's, or a directory a secret's
 * name goes through. */
struct link_judge {
	const char *names[2];
	__u32 n;
	bool pass;
};

/* A name's directory in the scratch (struct scratch's spare http room, map
 * memory: what the verifier does not follow, so the resolution's outcome
 * forks no state before the judge's loop): "/..." resolved; "" the name is
 * absolute; LINK_DIR_UNRESOLVED a relative name whose directory could not
 * be resolved whole. */
#define LINK_DIR_UNRESOLVED 1
#define LINK_DIR(s, i) (&(s)->http[((i) & 1) * REACH_BASE_LEN])

static long files__link_judge_cb(__u64 i, void *arg)
{
	struct link_judge *j = arg;
	struct cf_scratch *cs = filter__scratch();
	struct scratch *s = scratch__get();
	const char *dir;
	long len, d = 0;

	if (!cs || !s || i >= j->n || i >= 2 || j->pass)
		return 1;
	dir = LINK_DIR(s, i);
	if (dir[0] == LINK_DIR_UNRESOLVED) {
		j->pass = true;
		return 1;
	}
	if (dir[0] == '/') {
		/* a relative name, judged in its directory (a component rule
		 * needs the directories): dir "/" name, the directory cut to
		 * leave the name its whole buffer (a longer one: could be) */
		d = bpf_probe_read_kernel_str(cs->resolved, REACH_PATH_LEN, dir) - 1;
		if (d <= 0 || d >= REACH_PATH_LEN - 2) {
			j->pass = true;
			return 1;
		}
		if (cs->resolved[(d - 1) & (REACH_PATH_LEN - 1)] != '/')
			cs->resolved[d++ & (REACH_PATH_LEN - 1)] = '/';
		len = bpf_probe_read_user_str(&cs->resolved[d & (REACH_PATH_LEN - 1)], REACH_PATH_LEN, j->names[i & 1]);
		/* swapped for an absolute one since: could be */
		if (len > 1 && cs->resolved[d & (REACH_PATH_LEN - 1)] == '/')
			len = 0;
	} else {
		len = bpf_probe_read_user_str(cs->resolved, REACH_PATH_LEN, j->names[i & 1]);
		if (len > 1 && cs->resolved[0] != '/')
			len = 0; /* swapped for a relative one since: could be */
	}
	/* a name that cannot be read now (another thread unmapped or changed
	 * it), empty (a descriptor's file) or cut at the buffer: could be */
	if (len <= 1 || len >= REACH_PATH_LEN || !((volatile struct reach_cf_config *)&cf_config)->on) {
		j->pass = true;
		return 1;
	}
	/* the whole path's length, below REACH_BASE_LEN - 2 */
	cs->judge_len = (__u32)(len + d - 1);
	len = ((volatile struct cf_scratch *)cs)->judge_len;
	if (len >= REACH_BASE_LEN - 2) {
		j->pass = true;
		return 1;
	}
	if (filter__pass_buf(0, (__u32)len & (REACH_BASE_LEN - 1))) {
		j->pass = true;
		return 1;
	}
	/* a directory moved: could a file under it be a secret (a component
	 * or prefix rule: judged as its child "x"; or a rule's literal
	 * directory of that name)? */
	cs->resolved[len & (REACH_BASE_LEN - 1)] = '/';
	cs->resolved[(len + 1) & (REACH_BASE_LEN - 1)] = 'x';
	cs->resolved[(len + 2) & (REACH_BASE_LEN - 1)] = '\0';
	if (filter__pass_buf(0, (__u32)(len + 2) & (REACH_BASE_LEN - 1)) ||
	    files__link_dirname(cs, (__u32)len & (REACH_BASE_LEN - 1))) {
		j->pass = true;
		return 1;
	}
	return 0;
}

/* The directory a relative name of the task is resolved from (its cwd, or
 * dirfd) into dst (REACH_BASE_LEN); true when complete. */
static __always_inline bool files__link_dir(struct task_struct *task, int dirfd, char *dst, char *walk)
{
	struct file *f;
	bool truncated = false;

	if (dirfd == AT_FDCWD) {
		path__resolve((struct path *)__builtin_preserve_access_index(&task->fs->pwd), task, walk, dst,
			      &truncated);
		return !truncated;
	}
	f = task__file_of_fd(task, dirfd);
	if (!f) {
		dst[0] = '\0';
		return false;
	}
	path__resolve((struct path *)__builtin_preserve_access_index(&f->f_path), task, walk, dst, &truncated);
	return !truncated;
}

/* a name that reads as relative now (its first byte), or empty (its
 * dirfd's own file: AT_EMPTY_PATH); unreadable: judged by the loop, as
 * could-be */
static __always_inline bool files__link_rel(const char *name)
{
	char c = '/';

	bpf_probe_read_user(&c, 1, name);
	return c != '/';
}

/* The descriptor a "/proc/self/fd/N" name is (N: up to 4 digits), or -1. */
static __always_inline int files__proc_self_fd(const char *n)
{
	const char pre[] = "/proc/self/fd/";
	int fd = 0;

	for (int i = 0; i < 14; i++)
		if (n[i] != pre[i])
			return -1;
	for (int i = 14; i < 19; i++) {
		char c = n[i];

		if (c == '\0')
			return i > 14 ? fd : -1;
		if (c < '0' || c > '9' || i == 18)
			return -1;
		fd = fd * 10 + (c - '0');
	}
	return -1;
}

/* A linkat that follows its old name to a descriptor's file (AT_EMPTY_PATH's
 * dirfd, "/proc/self/fd/N"): is that file nameless (O_TMPFILE, never
 * linked: i_nlink 0 before this link)? Asked at the enter, before the link
 * gives it a name. */
static __always_inline bool files__link_nameless(struct task_struct *task, int olddirfd, const char *old_name)
{
	int fd = old_name[0] ? files__proc_self_fd(old_name) : olddirfd;
	struct file *f = task__file_of_fd(task, fd);

	return f && f->f_inode && f->f_inode->__i_nlink == 0;
}

/* The directory of a link call's name i (0: old, 1: new) into LINK_DIR(s,
 * i): "" for an absolute name. A global subprogram, verified once whatever
 * its caller's state: the path walk's outcomes fork no state before the
 * judge's loop (inlined, they made the program too large to verify). */
__weak __noinline int files__link_dir_of(__u64 name, int dirfd, __u32 i)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct scratch *s = scratch__get();
	char *dir;

	if (!s)
		return 0;
	dir = LINK_DIR(s, i);
	dir[0] = '\0';
	if (files__link_rel((const char *)name) && !files__link_dir(task, dirfd, dir, s->walk))
		dir[0] = LINK_DIR_UNRESOLVED;
	return 0;
}

/* A thread whose link or rename was judged at its enter (its event sent):
 * its exit sends the outcome. Task storage: nothing evicts it (a hash map
 * full of threads blocked in their renames would have), and it goes with
 * the thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64); /* the cgroup judged at the enter; 0: none */
} link_inflight SEC(".maps") __weak;

/* One more link event of cgid counted (its taint) and reserved: its number
 * in *seq; NULL when it cannot be sent (counted as a loss: the taint stays
 * when the count could be made). */
static __always_inline struct reach_link_event *files__link_event(__u64 cgid, __u64 *seq)
{
	struct reach_link_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	__u64 zero = 0, *count = bpf_map_lookup_elem(&link_taint, &cgid);

	if (!count) {
		bpf_map_update_elem(&link_taint, &cgid, &zero, BPF_NOEXIST);
		count = bpf_map_lookup_elem(&link_taint, &cgid);
	}
	if (!count) {
		loss__count_for(cgid, (__u32)bpf_get_current_uid_gid(), REACH_EV_LINK, REACH_LOSS_MAP_FULL);
		if (ev)
			bpf_ringbuf_discard(ev, 0);
		return NULL;
	}
	/* a count, not a time: the agent acks how many it has handled, so an
	 * event handled before an earlier-counted one still in flight never
	 * lifts the taint (tasks on other CPUs link at once) */
	*seq = __sync_add_and_fetch(count, 1);
	link_taints_ever = 1;
	if (!ev) /* the taint stays: a lost event, the identity inconclusive */
		loss__count_for(cgid, (__u32)bpf_get_current_uid_gid(), REACH_EV_LINK, REACH_LOSS_RINGBUF_FULL);
	return ev;
}

/* The exit of a link call judged at its enter: the outcome, owed to the
 * cgroup judged then (moved since, or no longer monitored: still owed). */
static __noinline int files__on_link_exit(long nr, long ret)
{
	__u64 *inflight = bpf_task_storage_get(&link_inflight, bpf_get_current_task_btf(), 0, 0);
	struct reach_link_event *ev;
	__u64 cgid, seq = 0;

	if (!inflight || !*inflight)
		return 0;
	cgid = *inflight;
	*inflight = 0;
	ev = files__link_event(cgid, &seq);
	if (!ev)
		return 0;
	task__fill_hdr(&ev->hdr, REACH_EV_LINK, sizeof(*ev), bpf_get_current_pid_tgid(), cgid, bpf_ktime_get_boot_ns());
	ev->nr = nr;
	ev->flags = REACH_LINK_F_EXIT | (ret < 0 ? REACH_LINK_F_FAILED : 0);
	ev->seq = seq;
	ev->old_dir[0] = ev->new_dir[0] = ev->old_name[0] = ev->new_name[0] = '\0';
	events__submit(ev);
	return 0;
}

/*
 * link, linkat, rename, renameat, renameat2 of a monitored task: a file with
 * a new name. Judged at the syscall's enter, before the file has it: when
 * its old name could be a secret's (the filter passes it; a relative name
 * judged in its directory, resolved here; a name the kernel cannot judge, as
 * could-be), the cgroup's link events are counted (tainted until the agent
 * has handled as many: an open of the new name by another task, even one
 * that wins the race with this syscall's exit, reaches the agent after this
 * event) and the event tells the agent both names and their directories
 * (abi/events.h reach_link_event, REACH_LINK_F_ENTER); the exit then sends
 * the outcome (REACH_LINK_F_EXIT, files__on_link_exit). A name another
 * thread changes between this judge and the kernel's copy is not seen: a
 * named residual (README). The exit judges nothing again: the judge is
 * verified once, in the enter's program, not also in the exit's.
 */
static __noinline int files__on_link_enter(struct pt_regs *regs, long nr)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), cgid = bpf_get_current_cgroup_id(), seq = 0;
	const char *oldname, *newname;
	int olddirfd = AT_FDCWD, newdirfd = AT_FDCWD;
	struct link_judge judge = {};
	struct reach_link_event *ev;
	struct scratch *s;
	__u64 *inflight;
	bool tainted_only = false;
	long len;

	if (!task__is_monitored(pid_tgid, cgid))
		return 0;
	if (nr == NR_link || nr == NR_rename) {
		oldname = (const char *)SYSCALL_ARG1(regs);
		newname = (const char *)SYSCALL_ARG2(regs);
	} else {
		olddirfd = (int)SYSCALL_ARG1(regs);
		oldname = (const char *)SYSCALL_ARG2(regs);
		newdirfd = (int)SYSCALL_ARG3(regs);
		newname = (const char *)SYSCALL_ARG4(regs);
	}
	s = scratch__get();
	if (!s)
		return 0;
	/* the old name; after RENAME_EXCHANGE the new name too holds the
	 * other file. A link that follows the old name (a symlink's target,
	 * /proc/self/fd/N) or takes a descriptor's file (AT_EMPTY_PATH): the
	 * name says nothing of the file, always the agent's to judge. */
	judge.names[0] = oldname;
	judge.names[1] = newname;
	judge.n = nr == NR_renameat2 && ((__u32)SYSCALL_ARG5(regs) & RENAME_EXCHANGE) ? 2 : 1;
	if (nr == NR_linkat && ((__u32)SYSCALL_ARG5(regs) & (AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)))
		judge.pass = true;
	/* relative names' directories (the cwd, a dirfd), resolved once: judged
	 * with them, sent with them */
	files__link_dir_of((__u64)oldname, olddirfd, 0);
	files__link_dir_of((__u64)newname, newdirfd, 1);
	if (!judge.pass)
		bpf_loop(2, files__link_judge_cb, &judge, 0);
	/* while the cgroup has a new name pending, every new name is sent: a
	 * pending file renamed on (or swapped away) by innocent names is
	 * followed by the agent, not left for its stat to find a decoy */
	if (!judge.pass && files__tainted(cgid))
		tainted_only = true;
	else if (!judge.pass)
		return 0;
	ev = files__link_event(cgid, &seq);
	if (!ev)
		return 0;
	task__fill_hdr(&ev->hdr, REACH_EV_LINK, sizeof(*ev), pid_tgid, cgid, bpf_ktime_get_boot_ns());
	ev->nr = nr;
	ev->flags = judge.n == 2 ? REACH_LINK_F_EXCHANGE : 0;
	if (nr == NR_linkat && ((__u32)SYSCALL_ARG5(regs) & (AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)))
		ev->flags |= REACH_LINK_F_FOLLOW;
	if (nr == NR_link || nr == NR_linkat)
		ev->flags |= REACH_LINK_F_LINK;
	if (tainted_only)
		ev->flags |= REACH_LINK_F_TAINTED;
	/* an outcome follows (the exit finds the thread here); else the event
	 * is judged as the whole story */
	inflight = bpf_task_storage_get(&link_inflight, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (inflight) {
		*inflight = cgid;
		ev->flags |= REACH_LINK_F_ENTER;
	}
	ev->seq = seq;
	len = bpf_probe_read_user_str(ev->old_name, sizeof(ev->old_name), oldname);
	if (len <= 0)
		ev->old_name[0] = '\0';
	if (len <= 0 || len >= REACH_PATH_LEN)
		ev->flags |= REACH_LINK_F_OLD_NAME_TRUNC;
	if ((ev->flags & REACH_LINK_F_FOLLOW) && len > 0 &&
	    files__link_nameless(bpf_get_current_task_btf(), olddirfd, ev->old_name))
		ev->flags |= REACH_LINK_F_NAMELESS;
	len = bpf_probe_read_user_str(ev->new_name, sizeof(ev->new_name), newname);
	if (len <= 0)
		ev->new_name[0] = '\0';
	if (len <= 0 || len >= REACH_PATH_LEN)
		ev->flags |= REACH_LINK_F_NEW_NAME_TRUNC;
	ev->old_dir[0] = '\0';
	ev->new_dir[0] = '\0';
	/* a name relative now that was not when its directory was resolved
	 * (changed by another thread): not whole */
	if (ev->old_name[0] != '/' &&
	    !(LINK_DIR(s, 0)[0] == '/' && bpf_probe_read_kernel_str(ev->old_dir, REACH_BASE_LEN, LINK_DIR(s, 0)) > 0))
		ev->flags |= REACH_LINK_F_OLD_DIR_TRUNC;
	if (ev->new_name[0] != '/' &&
	    !(LINK_DIR(s, 1)[0] == '/' && bpf_probe_read_kernel_str(ev->new_dir, REACH_BASE_LEN, LINK_DIR(s, 1)) > 0))
		ev->flags |= REACH_LINK_F_NEW_DIR_TRUNC;
	events__submit(ev);
	return 0;
}

#endif /* REACH_FILES_SYSCALLS_BPF_H */
