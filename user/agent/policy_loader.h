/* The policy loader: a thread that reads, parses and validates the policy
 * files (on a change of their signature or when asked: SIGHUP) and turns
 * the ReachPolicy objects into policies (agent/policy_crd.h), combines the
 * two sources and hands the main loop a finished set. The main loop only
 * swaps it in (policy_loader_take): no policy input (a file nested to the
 * limit, a directory of thousands of files, a file system that hangs in
 * open) ever delays the drain of the kernel's events (issue 21).
 *
 * A set that does not load is logged and counted, and the last good one
 * stays, as before. The set the main loop gives back on a swap is freed on
 * the loader's thread. */
#ifndef REACH_AGENT_POLICY_LOADER_H
#define REACH_AGENT_POLICY_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include "policy/policy.h"

struct policy_crd;
struct policy_loader;

struct policy_loader_opts {
	const char *const *paths;  /* policy files or directories (kept, not copied) */
	int n_paths;
	uint64_t signature;        /* policy_paths_signature() when *files was loaded */
	struct policy_crd *crd;    /* ReachPolicy objects, or NULL */
	unsigned poll_ms;          /* how often the files' signature is checked; 0: 1000 */
};

/* Starts the thread; *files, the set of the files loaded at start (the
 * last good one until a reload succeeds), is taken (left empty). 0,
 * -ENOMEM, or -errno of pthread_create. */
int policy_loader_start(struct policy_loader **out, const struct policy_loader_opts *o, struct policy_set *files);

/* Asks for a reload of the files (SIGHUP); returns at once. */
void policy_loader_reload(struct policy_loader *l);

/* What a set taken is made of. */
struct policy_loader_taken {
	char digest[65];           /* policy_set_digest() of the set */
	size_t from_files, from_crd; /* policies of each source (before the objects override files) */
	bool files_reloaded;       /* the files were loaded again since the last set taken */
};

/* On the main loop, never waiting on a load: when a new combined set is
 * ready, swaps it into *cur (the old one goes back to the loader, which
 * frees it), fills *info and returns 1; 0 when there is nothing new. */
int policy_loader_take(struct policy_loader *l, struct policy_set *cur, struct policy_loader_taken *info);

struct policy_loader_stats {
	uint64_t file_load_errors;      /* loads of the files refused (the last good set kept) */
	int64_t file_last_load_unix_ms; /* the last load of the files that succeeded (0: the one at start) */
	uint64_t loads;                 /* loads of the files tried, refused or not */
	bool loading;                   /* a load is running now */
	bool crd_synced;                /* the ReachPolicy objects were listed and their set taken */
};
void policy_loader_get_stats(struct policy_loader *l, struct policy_loader_stats *out);

/* Stops and joins the thread (a load in flight finishes first), frees
 * everything. Accepts NULL. */
void policy_loader_stop(struct policy_loader *l);

#endif
