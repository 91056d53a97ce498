/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secret-file reads: successful open/openat/openat2/open_by_handle_at of a
 * regular file with read access. The kernel deduplicates every read-open
 * per (cgroup, file, executable, filter generation), so a repeated open is
 * one map lookup; a new file is then pre-filtered against the compiled
 * catalogue (filter.bpf.h): only a path that could match a catalogue rule
 * (or a file already classed a secret, by inode) costs an event. The
 * catalogue match itself, the authority, happens in user space.
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
#include "filter.bpf.h"

#define AT_FDCWD   -100
#define O_ACCMODE  00000003
#define O_WRONLY   00000001
#define O_PATH     010000000
#define S_IFMT     00170000
#define S_IFREG    0100000


#define FMODE_READ 0x1

/* The inode's modification time moved twice (6.7: __i_mtime; 6.11:
 * i_mtime_sec + i_mtime_nsec); these flavours let CO-RE find it on each. */
struct inode___mtime_split {
	time64_t i_mtime_sec;
	u32 i_mtime_nsec;
} __attribute__((preserve_access_index));
struct inode___mtime_hidden {
	struct timespec64 __i_mtime;
} __attribute__((preserve_access_index));
struct inode___mtime_ts {
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

static __always_inline void inode__mtime(struct inode *inode, __s64 *sec, __u32 *nsec)
{
	/* direct loads whatever the caller holds (a no-op on a BTF pointer) */
	inode = KERNEL_CAST(struct inode, inode);
	if (bpf_core_field_exists(((struct inode___mtime_split *)0)->i_mtime_sec)) {
		struct inode___mtime_split *i = (void *)inode;

		*sec = i->i_mtime_sec;
		*nsec = i->i_mtime_nsec;
	} else if (bpf_core_field_exists(((struct inode___mtime_hidden *)0)->__i_mtime)) {
		struct inode___mtime_hidden *i = (void *)inode;

		*sec = i->__i_mtime.tv_sec;
		*nsec = i->__i_mtime.tv_nsec;
	} else {
		struct inode___mtime_ts *i = (void *)inode;

		*sec = i->i_mtime.tv_sec;
		*nsec = i->i_mtime.tv_nsec;
	}
}

/* Files up to this size are deduplicated per version (files__record): the
 * most the agent reads of a KEY=VALUE file (KV_CONTENT_MAX, pipeline.c). */
#define FILES_VERSIONED_MAX (64 * 1024)

/* Where a file came from, for files__record. */
struct file_origin {
	__u32 kind;          /* REACH_EV_FILE_OPEN, or REACH_EV_FILE_VIA (no open(2)) */
	__u32 open_flags;    /* O_* as passed; the file's f_flags when there was no open */
	__s32 dirfd;
	__s32 fd;            /* the descriptor, -1 for an io_uring fixed file */
	__u32 nr;            /* the syscall, or the io_uring opcode (REACH_OPEN_F_URING) */
	__u32 flags;         /* REACH_OPEN_F_URING, _RECEIVED, _BY_HANDLE, ... */
	const char *pathname; /* the name as written (user memory), or NULL */
};

/*
 * The repeat cache: a task that opens the same file again and again (a
 * config re-read, a token read per request) costs, after its second open,
 * a compare against its own storage (task_cache) instead of a SipHash and
 * the dedup map's lookup and shared atomic. The repeats are held in the
 * task and told to the dedup entry once per kernel tick (its count and
 * last_ns, which a repeat moves at most once a tick anyway), at the task's
 * next other open, or at its exit (files__flush). Only a file whose entry
 * was already there (a dedup hit, so its edge was recorded) is cached: the
 * cache never stands in for a first sighting. w: the dedup key's inputs.
 */
/* tick: the current one when this open is the repeat being counted (its
 * time becomes last_ns once per tick), 0 when the held repeats are told
 * later (another open, the task's exit): they all happened in tc->tick,
 * the tick the entry's last_ns was last set in, so it stays. */
static __always_inline bool files__flush(struct task_cache *tc, __u64 tick)
{
	struct reach_dedup_val *val;

	val = bpf_map_lookup_elem(&dedup, &tc->key);
	if (!val)
		return false; /* evicted: the next open is a first sighting again */
	__sync_fetch_and_add(&val->count, tc->pending);
	if (tick && val->last_jiffies != tick) {
		val->last_jiffies = tick;
		val->last_ns = bpf_ktime_get_boot_ns();
	}
	tc->pending = 0;
	return true;
}

/* True when this open was the cached file's repeat (counted). tc: the
 * task's storage entry, or NULL. */
static __always_inline bool files__repeat_tc(struct task_cache *tc, const __u64 w[3], __u64 cgid, __u32 kind,
					     __u32 gen)
{
	__u64 tick;

	if (!tc || !tc->key.cgroup_id)
		return false;
	if (tc->w[0] != w[0] || tc->w[1] != w[1] || tc->w[2] != w[2] || tc->key.cgroup_id != cgid ||
	    tc->key.kind != kind || tc->filter_gen != gen) {
		/* another file: the held repeats go to the cached one's entry */
		if (tc->pending)
			files__flush(tc, 0);
		tc->key.cgroup_id = 0;
		return false;
	}
	tc->pending++;
	tick = bpf_jiffies64();
	if (tc->tick == tick)
		return true;
	tc->tick = tick;
	if (files__flush(tc, tick))
		return true;
	tc->pending = 0;
	tc->key.cgroup_id = 0;
	return false;
}

static __always_inline bool files__repeat(struct task_struct *task, const __u64 w[3], __u64 cgid, __u32 kind,
					  __u32 gen)
{
	return files__repeat_tc(bpf_task_storage_get(&task_caches, task, 0, 0), w, cgid, kind, gen);
}

/*
 * The dedup key's inputs for a regular file (files__record): its inode and
 * device, and the executable's. A file small enough for the agent to read
 * whole (a .env, a token, a key: it reads at most 64 KiB of one) has its
 * version (size and modification time) folded in too: what the agent takes
 * from a secret is its content (the fingerprints of a .env file's keys, a
 * token's), so an edit read again by the same program (a key appended, a
 * token rotated) is a new sighting; an unchanged file stays a map lookup.
 * Every small file, not only those already classed as secrets: the key of
 * a file must not change when the agent classes it (a second event for an
 * unchanged file). Larger files (logs, databases, rewritten often) are
 * keyed by inode alone.
 */
static __always_inline void files__words(struct inode *inode, struct task_struct *task, __u64 w[3])
{
	__u64 size = inode->i_size;

	w[0] = inode->i_ino;
	w[1] = inode->i_sb->s_dev;
	w[2] = task__exe_seed(task);
	if (size <= FILES_VERSIONED_MAX) {
		__s64 sec = 0;
		__u32 nsec = 0;

		inode__mtime(inode, &sec, &nsec);
		w[0] ^= size << 40;
		w[1] ^= ((__u64)sec << 32) ^ nsec;
	}
}

/*
 * An open(2)'s repeat, told before files__record with the storage entry
 * the task's monitored check has just read (task__is_monitored_tc; NULL:
 * looked up here): one lookup of the task's storage per open, not two.
 * files__record checks no repeat for an open(2) (kind REACH_EV_FILE_OPEN
 * without a holder: this is its only caller). false: not the cached
 * file's repeat (or not a readable regular file), files__record decides.
 * file: as files__record's.
 */
static __always_inline bool files__open_repeat(struct task_cache *tc, struct file *file, __u64 cgid)
{
	struct inode *inode;
	__u64 w[3];

	if (!file)
		return false;
	if (!tc)
		tc = bpf_task_storage_get(&task_caches, bpf_get_current_task_btf(), 0, 0);
	if (!tc)
		return false;
	file = KERNEL_CAST(struct file, file);
	inode = file->f_inode;
	if (!inode || (inode->i_mode & S_IFMT) != S_IFREG || !(file->f_mode & FMODE_READ))
		return false;
	files__words(inode, bpf_get_current_task_btf(), w);
	return files__repeat_tc(tc, w, cgid, REACH_EV_FILE_OPEN,
				((volatile struct reach_cf_config *)&cf_config)->gen);
}

/* After a dedup hit: this file is the task's cached one from now on. */
static __always_inline void files__remember(struct task_struct *task, const __u64 w[3],
					    const struct reach_dedup_key *key, __u32 gen)
{
	struct task_cache *tc = bpf_task_storage_get(&task_caches, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!tc)
		return; /* no cache: every repeat takes the dedup path */
	tc->w[0] = w[0];
	tc->w[1] = w[1];
	tc->w[2] = w[2];
	tc->key = *key;
	tc->filter_gen = gen;
	tc->tick = bpf_jiffies64();
	tc->pending = 0;
}

/*
 * A monitored task holds a readable struct file: one event per (cgroup,
 * file, executable). The object is the file itself, not a string: its
 * f_path is resolved (path.bpf.h), so every spelling of a file (a symlink,
 * /proc/self/fd/N after O_PATH, /proc/PID/root/..., `..`, a handle, an
 * io_uring open, a descriptor received from another process) is the same
 * object. The dedup key is the file's (device, inode) with the executable,
 * so a repeat costs no string copy and no walk, and no chosen name can
 * collide with a secret's entry. file: a kernel pointer read with a helper
 * (not a BTF pointer), NULL when the caller could not get one.
 * holder: the task that holds the file when it is not the current one (a
 * task entering a cgroup, moved there by another; a task an iterator
 * visits), NULL for the current task: its root resolves the path, its
 * executable joins the key, its head and uid go in the event. An argument,
 * not a field of o: a pointer zeroed by halves in a struct initialiser is
 * no longer a known NULL to the verifier.
 */
static __noinline int files__record(struct file *file, const struct file_origin *o, __u64 pid_tgid, __u64 cgid,
				    struct task_struct *holder)
{
	struct reach_file_open_event *ev;
	struct task_struct *task = holder;
	struct reach_dedup_key key = {};
	struct cf_scratch *cs;
	struct inode *inode;
	struct scratch *s;
	__u64 now, w[3];
	__u32 gen;
	__u32 resolved_len;
	__u32 ev_flags = o->flags;
	__u32 kind = o->kind == REACH_EV_FILE_VIA ? REACH_EV_FILE_VIA : REACH_EV_FILE_OPEN;
	long path_len = 0;
	bool truncated = false;
	umode_t mode;
	__u32 uid;

	if (!task) {
		task = bpf_get_current_task_btf();
		uid = (__u32)bpf_get_current_uid_gid();
	} else {
		uid = BPF_CORE_READ(task, cred, uid.val);
	}
	/* every caller's file as a BTF pointer: the reads below are direct
	 * loads, not helper calls (KERNEL_CAST) */
	file = file ? KERNEL_CAST(struct file, file) : NULL;
	inode = file ? file->f_inode : NULL;
	if (!file || !inode) {
		/* another thread closed it between the open and here */
		loss__count_for(cgid, uid, kind, REACH_LOSS_READ_FAILED);
		return 0;
	}
	mode = inode->i_mode;
	if ((mode & S_IFMT) != S_IFREG)
		return 0;  /* directories, devices, pipes, sockets: not a file's content */
	if (!(file->f_mode & FMODE_READ))
		return 0;  /* written or O_PATH: not a read */

	key.cgroup_id = cgid;
	key.kind = kind;
	/* The executable's inode joins the key: each binary that reads a secret
	 * is reported once (the ledger lists every one), while repeats by the
	 * same binary stay map lookups. */
	files__words(inode, task, w);
	/* the filter's generation: a file dropped under an old catalogue is
	 * first seen again under a new one (filter.bpf.h) */
	gen = ((volatile struct reach_cf_config *)&cf_config)->gen;
	/* an open(2)'s repeat was told before the call (files__open_repeat) */
	if (!holder && kind != REACH_EV_FILE_OPEN && files__repeat(task, w, cgid, kind, gen))
		return 0;
	key.hash = hash__words((const char *)w, sizeof(w), sizeof(w), 0x66696c65ULL /* "file" */ ^ ((__u64)gen << 32));

	/* a file the filter dropped before, on this CPU (filter.bpf.h), unless
	 * its inode has been learned as a secret's since (another name of it
	 * read and classed): then it is judged again, as a known secret */
	{
		__u64 tag = files__drop_tag(&key), *slot = files__drop_slot(tag);

		if (slot && *slot == tag) {
			cs = filter__scratch();
			if (!cs)
				return 0;
			cs->ino.ino = inode->i_ino;
			cs->ino.dev = inode->i_sb->s_dev;
			if (!secret__known(&cs->ino) && !files__tainted(cgid))
				return 0;
			*slot = 0;
		}
	}
	s = scratch__get();
	cs = filter__scratch();
	if (!s || !cs)
		return 0;
	/* the key in map memory: files__record's frame is at the stack limit */
	cs->ino.ino = inode->i_ino;
	cs->ino.dev = inode->i_sb->s_dev;
	if (secret__known(&cs->ino))
		ev_flags |= REACH_OPEN_F_KNOWN_SECRET;
	now = 0; /* read by dedup__seen / dedup__insert when needed */
	/* A repeat that can hit the dedup map goes there before any walk: a
	 * known secret's, and a file this CPU's slot says the filter passed.
	 * Any other file is judged by the filter first: most are dropped, and
	 * a drop needs no dedup lookup (its repeats hit this CPU's slot); the
	 * few the filter passes look their entry up after the walk. */
	if (((ev_flags & REACH_OPEN_F_KNOWN_SECRET) || files__passed_before(&key)) && dedup__seen(&key, &now)) {
		if (!holder)
			files__remember(task, w, &key, gen);
		return 0;
	}
	cs->written[0] = '\0';
	if (o->pathname) {
		/* the name as written, kept as `opened_as` when it differs */
		path_len = bpf_probe_read_user_str(cs->written, REACH_PATH_LEN, o->pathname);
		path_len = path_len > 0 ? path_len - 1 : 0;
		if (path_len >= REACH_PATH_LEN - 1)
			ev_flags |= REACH_OPEN_F_PATH_TRUNC;
	}
	resolved_len = path__resolve((struct path *)__builtin_preserve_access_index(&file->f_path), task, s->walk,
				     cs->resolved, &truncated);
	/* The pre-filter: only a path that could be a secret goes on. A
	 * truncated resolution and a known secret are sent untested; the name
	 * as written is tested too when user space would judge it (absolute,
	 * whole). A dropped one gets no dedup entry, its tag this CPU's slot:
	 * its repeats cost a load there. */
	if (!(ev_flags & REACH_OPEN_F_KNOWN_SECRET)) {
		if (!truncated &&
		    !filter__check(resolved_len,
				   (ev_flags & REACH_OPEN_F_PATH_TRUNC) || cs->written[0] != '/' ? 0 : (__u32)path_len,
				   gen)) {
			__u64 tag = files__drop_tag(&key), *slot = files__drop_slot(tag);

			if (!files__tainted(cgid)) {
				if (slot)
					*slot = tag;
				return 0;
			}
			/* a link's new name may be this: to user space */
		}
		files__mark_passed(&key);
		if (dedup__seen(&key, &now)) {
			if (!holder)
				files__remember(task, w, &key, gen);
			return 0;
		}
	}
	if (!dedup__insert(&key, &now))
		return 0; /* another CPU saw it first: counted there */

	ev = dedup__reserve_for(&key, sizeof(*ev), cgid, uid);
	if (!ev)
		return 0;
	if (holder)
		task__fill_hdr_of(&ev->hdr, task, kind, sizeof(*ev), cgid, uid, now);
	else
		task__fill_hdr(&ev->hdr, kind, sizeof(*ev), pid_tgid, cgid, now);
	ev->key = key;
	ev->open_flags = o->open_flags;
	ev->dirfd = o->dirfd;
	ev->fd = o->fd;
	ev->syscall_nr = o->nr;
	ev->inode = cs->ino;
	bpf_probe_read_kernel(ev->path, sizeof(ev->path), cs->written);
	ev->path[REACH_PATH_LEN - 1] = '\0';
	ev->path_len = path_len;
	bpf_probe_read_kernel(ev->resolved, sizeof(ev->resolved), cs->resolved);
	ev->resolved_len = resolved_len;
	if (truncated) {
		/* the object itself is incomplete: a loss, judged by verify */
		ev_flags |= REACH_OPEN_F_RESOLVED_TRUNC;
		loss__count_for(cgid, uid, kind, REACH_LOSS_TRUNCATED);
	}
	ev->flags = ev_flags;
	events__submit(ev);
	return 0;
}

#define TASK_FDS_MAX 1024  /* descriptors looked at per walk (only the open ones cost a lookup) */
#define TASK_FDS_WORDS_MAX 1024 /* bitmap words checked past them (65,536 descriptors) */

struct task_fds_ctx {
	struct file_origin o; /* .fd set per descriptor */
	struct task_struct *task; /* the holder, never NULL (see files__record) */
	unsigned long *open;  /* the fd table's open_fds bitmap */
	unsigned long word;   /* open_fds word of the descriptor being looked at */
	unsigned long beyond;
	__u64 pid_tgid;
	__u64 cgid;
};

static long task__fd_step(__u64 fd, void *arg)
{
	struct task_fds_ctx *c = arg;
	struct task_struct *task = c->task;
	struct file *file;

	/* one read of the bitmap per 64 descriptors; closed ones cost nothing more */
	if ((fd & 63) == 0) {
		c->word = 0;
		bpf_probe_read_kernel(&c->word, sizeof(c->word), c->open + fd / 64);
	}
	if (!(c->word & (1UL << (fd & 63))))
		return 0;
	c->o.fd = fd;
	file = task__file_of_fd(task, fd);
	if (file)
		files__record(file, &c->o, c->pid_tgid, c->cgid, task);
	return 0;
}

static long task__word_step(__u64 i, void *arg)
{
	struct task_fds_ctx *c = arg;
	unsigned long w = 0;

	bpf_probe_read_kernel(&w, sizeof(w), c->open + TASK_FDS_MAX / 64 + i);
	c->beyond |= w;
	return w ? 1 : 0; /* one open descriptor is enough to know */
}

/*
 * Every readable file a task holds, recorded like an open of its own with
 * how it got there (flags): the files a new program holds at exec
 * (REACH_OPEN_F_INHERITED), or a process holds as it enters a monitored
 * cgroup (REACH_OPEN_F_ENTERED): opened by someone else, or by the task
 * itself before it was monitored, and read later with read(2), which reach
 * does not trace. The first TASK_FDS_MAX descriptors are looked at (a
 * bitmap word per 64, a lookup per open one); an open descriptor past them
 * is a loss of this identity, never silent. bpf_loop: each walk is verified
 * once, whatever the count. task: the holder (the current task at exec).
 */
static __always_inline void task__walk_files(struct task_struct *task, __u64 pid_tgid, __u64 cgid, __u32 flags)
{
	struct task_fds_ctx c = {
		.o = { .kind = REACH_EV_FILE_VIA, .dirfd = -1, .flags = flags },
		.task = task,
		.pid_tgid = pid_tgid,
		.cgid = cgid,
	};
	struct fdtable *fdt = task->files->fdt;
	unsigned int max = fdt->max_fds;
	unsigned int words;
	__u32 uid;

	c.open = fdt->open_fds;
	bpf_loop(max < TASK_FDS_MAX ? max : TASK_FDS_MAX, task__fd_step, &c, 0);
	if (max <= TASK_FDS_MAX)
		return;
	words = (max - TASK_FDS_MAX) / 64;
	bpf_loop(words < TASK_FDS_WORDS_MAX ? words : TASK_FDS_WORDS_MAX, task__word_step, &c, 0);
	/* a table larger than what was checked is unknown past it: a loss too */
	if (c.beyond || words > TASK_FDS_WORDS_MAX) {
		uid = BPF_CORE_READ(task, cred, uid.val);
		loss__count_for(cgid, uid, REACH_EV_FILE_VIA, REACH_LOSS_TRUNCATED);
	}
}

#endif /* REACH_FILES_BPF_H */
