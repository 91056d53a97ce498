#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/cgroup.h"
#include "common/hmap.h"
#include "reach/proctree.h"
#include "reach/program.h"

struct proc {
	uint32_t ppid;
	uint64_t cgroup_id;
	bool monitored; /* known from sensor events, so inside the monitored set */
	char exe[256];
	/* the process as lineage and edges name it: exe, or "exe program" for
	 * an interpreter running a program (reach/program.h) */
	char ident[256 + 1 + 64];
};

struct proctree {
	struct hmap *procs; /* "tgid" -> struct proc */
	char cgroup_mount[256];
};

static void key_of(uint32_t tgid, char key[16])
{
	snprintf(key, 16, "%" PRIu32, tgid);
}

struct proctree *proctree_new(void)
{
	struct proctree *t = calloc(1, sizeof(*t));

	if (!t || !(t->procs = hmap_new())) {
		free(t);
		return NULL;
	}
	if (cgroup_find_v2_mount(t->cgroup_mount, sizeof(t->cgroup_mount)))
		t->cgroup_mount[0] = '\0';
	return t;
}

void proctree_free(struct proctree *t)
{
	if (!t)
		return;
	hmap_free(t->procs, free);
	free(t);
}

static void set_ident(struct proc *p, const char *program)
{
	if (program && *program)
		snprintf(p->ident, sizeof(p->ident), "%s %.64s", p->exe, program);
	else
		snprintf(p->ident, sizeof(p->ident), "%s", p->exe);
}

static struct proc *upsert(struct proctree *t, uint32_t tgid)
{
	char key[16];
	struct proc *p;

	key_of(tgid, key);
	p = hmap_get(t->procs, key);
	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (hmap_put(t->procs, key, p, NULL)) {
		free(p);
		return NULL;
	}
	return p;
}

/* A process that started before the agent: its parent and exe from /proc. */
static struct proc *load_from_proc(struct proctree *t, uint32_t tgid)
{
	char path[64], buf[512];
	unsigned long ppid;
	struct proc *p;
	ssize_t n;
	FILE *f;
	char *close_paren;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/stat", tgid);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	/* comm may hold spaces and parens: fields resume after the last ')' */
	close_paren = strrchr(buf, ')');
	if (!close_paren || sscanf(close_paren + 1, " %*c %lu", &ppid) != 1)
		return NULL;
	p = upsert(t, tgid);
	if (!p)
		return NULL;
	p->ppid = (uint32_t)ppid;
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/exe", tgid);
	n = readlink(path, p->exe, sizeof(p->exe) - 1);
	p->exe[n > 0 ? n : 0] = '\0';
	{
		/* its program, from its command line as an exec event has it */
		char args[256], prog[64];
		ssize_t m = -1;
		int fd;

		snprintf(path, sizeof(path), "/proc/%" PRIu32 "/cmdline", tgid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			m = read(fd, args, sizeof(args));
			close(fd);
		}
		set_ident(p, m > 0 && !program_name(p->exe, args, (size_t)m, prog, sizeof(prog)) ? prog : NULL);
	}
	if (!t->cgroup_mount[0] || cgroup_id_of_pid(t->cgroup_mount, tgid, &p->cgroup_id))
		p->cgroup_id = 0; /* unknown: the lineage then stops at this process */
	return p;
}

static struct proc *lookup(struct proctree *t, uint32_t tgid)
{
	char key[16];
	struct proc *p;

	key_of(tgid, key);
	p = hmap_get(t->procs, key);
	return p ? p : load_from_proc(t, tgid);
}

int proctree_exec(struct proctree *t, uint32_t tgid, uint32_t ppid, uint64_t cgroup_id, const char *exe,
		  const char *program)
{
	struct proc *p = upsert(t, tgid);

	if (!p)
		return -ENOMEM;
	p->ppid = ppid;
	p->cgroup_id = cgroup_id;
	p->monitored = true;
	snprintf(p->exe, sizeof(p->exe), "%s", exe);
	set_ident(p, program);
	return 0;
}

int proctree_fork(struct proctree *t, uint32_t parent_tgid, uint32_t child_tgid, uint64_t cgroup_id)
{
	struct proc *parent = lookup(t, parent_tgid);
	struct proc *child = upsert(t, child_tgid);

	if (!child)
		return -ENOMEM;
	child->ppid = parent_tgid;
	child->cgroup_id = cgroup_id;
	child->monitored = true;
	snprintf(child->exe, sizeof(child->exe), "%s", parent ? parent->exe : "");
	snprintf(child->ident, sizeof(child->ident), "%s", parent ? parent->ident : "");
	return 0;
}

void proctree_exit(struct proctree *t, uint32_t tgid)
{
	char key[16];

	key_of(tgid, key);
	free(hmap_remove(t->procs, key));
}

const char *proctree_exe(struct proctree *t, uint32_t tgid)
{
	struct proc *p = lookup(t, tgid);

	return p ? p->exe : "";
}

const char *proctree_ident(struct proctree *t, uint32_t tgid)
{
	struct proc *p = lookup(t, tgid);

	return p ? p->ident : "";
}

uint32_t proctree_ppid(struct proctree *t, uint32_t tgid)
{
	struct proc *p = lookup(t, tgid);

	return p ? p->ppid : 0;
}

bool proctree_known(struct proctree *t, uint32_t tgid)
{
	char key[16];

	key_of(tgid, key);
	return hmap_get(t->procs, key) != NULL;
}

bool proctree_in_cgroup(struct proctree *t, uint32_t tgid, uint64_t cgroup_id)
{
	char key[16];
	struct proc *p;

	key_of(tgid, key);
	p = hmap_get(t->procs, key); /* known from events only: no /proc look-up */
	return p && p->cgroup_id == cgroup_id;
}

size_t proctree_lineage(struct proctree *t, uint32_t tgid, const char **out, size_t max)
{
	const char *chain[PROCTREE_LINEAGE_MAX];
	struct proc *self = lookup(t, tgid);
	size_t n = 0;

	/* Walk up: the process itself, then its ancestors while they are in the
	 * workload (monitored, or in the same cgroup), until pid 1 or unknown:
	 * the chain names the workload's tools, not the runtime that started it. */
	/* Steps are bounded too: with pid reuse the parent links can form a
	 * cycle whose repeated exes add nothing to the chain. */
	for (uint32_t pid = tgid, steps = 0; self && pid > 1 && n < PROCTREE_LINEAGE_MAX && steps < 64; steps++) {
		struct proc *p = lookup(t, pid);

		if (!p || (p != self && !p->monitored && p->cgroup_id != self->cgroup_id))
			break;
		/* "node agent.mjs -> node server-filesystem" are two entries:
		 * programs, not only executables, are compared */
		if (p->ident[0] && (n == 0 || strcmp(chain[n - 1], p->ident) != 0))
			chain[n++] = p->ident;
		pid = p->ppid;
	}
	/* Oldest first, the process last; keep the nearest ancestors if cut. */
	size_t count = n < max ? n : max;

	for (size_t i = 0; i < count; i++)
		out[i] = chain[count - 1 - i];
	return count;
}

size_t proctree_size(const struct proctree *t) { return hmap_count(t->procs); }
