/* The process tree of monitored processes, kept from exec/fork/exit events,
 * so an edge can name its executable and exec chain (python3 -> sh -> curl).
 * Processes that existed before the agent are read from /proc on demand. */
#ifndef REACH_PROCTREE_H
#define REACH_PROCTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROCTREE_LINEAGE_MAX 8

struct proctree;

struct proctree *proctree_new(void);
void proctree_free(struct proctree *t);

/* program: the name of the program an interpreter runs (program_name()),
 * or NULL. */
int proctree_exec(struct proctree *t, uint32_t tgid, uint32_t ppid, uint64_t cgroup_id, const char *exe,
		  const char *program);
int proctree_fork(struct proctree *t, uint32_t parent_tgid, uint32_t child_tgid, uint64_t cgroup_id);
void proctree_exit(struct proctree *t, uint32_t tgid);

/* Executable of tgid ("" if unknown). */
const char *proctree_exe(struct proctree *t, uint32_t tgid);
/* The process as lineage, edges and findings name it: its executable, or
 * "exe program" when it is an interpreter running a program ("" if unknown). */
const char *proctree_ident(struct proctree *t, uint32_t tgid);
uint32_t proctree_ppid(struct proctree *t, uint32_t tgid);
/* Whether tgid is known from events or a proctree_exec (no /proc look-up). */
bool proctree_known(struct proctree *t, uint32_t tgid);
/* Whether tgid is a known process of that cgroup. */
bool proctree_in_cgroup(struct proctree *t, uint32_t tgid, uint64_t cgroup_id);

/* Exec chain of tgid within the workload, oldest ancestor first, the process itself last;
 * entries are proctree_ident()s; consecutive repeats (a fork without exec)
 * are folded. Returns the count. */
size_t proctree_lineage(struct proctree *t, uint32_t tgid, const char **out, size_t max);
size_t proctree_size(const struct proctree *t);

#endif
