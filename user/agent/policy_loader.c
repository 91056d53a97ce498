/* The policy loader's thread (policy_loader.h). Everything that reads or
 * parses policy input runs here: the signature of the files (a stat of
 * every file of the directories), their load, the ReachPolicy objects'
 * rebuild, the combination of both and its digest. The main loop sees only
 * a finished set behind the lock, held for pointer swaps. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/deadline.h"
#include "common/fileio.h"
#include "common/log.h"
#include "policy/verify.h"
#include "agent/policy_crd.h"
#include "agent/policy_loader.h"

#define DEFAULT_POLL_MS 1000
#define STOP_WAIT_S 2 /* a load blocked in the file system is left behind at exit after this */

struct policy_loader {
	pthread_t thread;
	pthread_mutex_t mu;          /* everything below, up to "the thread's alone" */
	pthread_cond_t wake;
	bool stop, reload;
	bool has_ready, has_back;
	struct policy_set ready;     /* combined, waiting for policy_loader_take */
	struct policy_loader_taken ready_info;
	struct policy_set given_back; /* the main loop's previous set, to free here */
	bool crd_synced;             /* a set built after the objects were listed was published */
	struct policy_loader_stats stats;
	/* the thread's alone */
	const char *const *paths;
	int n_paths;
	uint64_t signature;
	unsigned poll_ms;
	struct policy_crd *crd;
	struct policy_set files;     /* the last good set of the files */
	struct policy_set crd_set;   /* the objects' */
};

/* crd_set first: the objects of a namespace override the files' defaults
 * (agent/verification.h). 0 with *out, or -ENOMEM. */
static int combine(struct policy_loader *l, struct policy_set *out)
{
	size_t shadowed = 0;

	*out = (struct policy_set){ 0 };
	if (policy_set_add_copies(out, &l->crd_set, NULL) || policy_set_add_copies(out, &l->files, &shadowed)) {
		policy_set_free(out);
		log_error("policies: out of memory combining the policy sources; the previous set stays");
		return -ENOMEM;
	}
	if (shadowed)
		log_info("policies: %zu of the policy files' overridden by ReachPolicy objects of their namespace",
			 shadowed);
	return 0;
}

/* A load of the files; on error the last good set stays. True if it
 * changed the set. */
static bool load_files(struct policy_loader *l)
{
	struct policy_set fresh;
	char err[1024];
	int rc;

	pthread_mutex_lock(&l->mu);
	l->stats.loading = true;
	l->stats.loads++;
	pthread_mutex_unlock(&l->mu);
	rc = policy_load_paths(&fresh, l->paths, l->n_paths, err, sizeof(err));
	pthread_mutex_lock(&l->mu);
	l->stats.loading = false;
	if (rc)
		l->stats.file_load_errors++;
	else
		l->stats.file_last_load_unix_ms = unix_now_ms();
	pthread_mutex_unlock(&l->mu);
	if (rc) {
		log_error("policy reload: %s: keeping the last good policies", err);
		return false;
	}
	policy_set_free(&l->files);
	l->files = fresh;
	return true;
}

/* The combined set, for the main loop to take; an earlier one it has not
 * taken yet is replaced. */
static void publish(struct policy_loader *l, bool crd_synced, bool files_reloaded)
{
	struct policy_set set, old = { 0 };
	char digest[65];

	if (combine(l, &set))
		return;
	policy_set_digest(&set, digest);
	pthread_mutex_lock(&l->mu);
	if (l->has_ready) {
		old = l->ready;
		files_reloaded |= l->ready_info.files_reloaded; /* not taken yet: still news */
	}
	l->ready = set;
	memcpy(l->ready_info.digest, digest, sizeof(digest));
	l->ready_info.from_files = l->files.n;
	l->ready_info.from_crd = l->crd_set.n;
	l->ready_info.files_reloaded = files_reloaded;
	l->has_ready = true;
	l->crd_synced = l->crd_synced || crd_synced;
	pthread_mutex_unlock(&l->mu);
	policy_set_free(&old);
}

static void *run(void *arg)
{
	struct policy_loader *l = arg;

	for (;;) {
		struct policy_set back;
		struct timespec until;
		bool reload, changed = false, crd_synced = false, files_reloaded = false;

		deadline_in_ms(&until, CLOCK_MONOTONIC, l->poll_ms);
		pthread_mutex_lock(&l->mu);
		while (!l->stop && !l->reload && !l->has_back &&
		       pthread_cond_timedwait(&l->wake, &l->mu, &until) != ETIMEDOUT)
			;
		if (l->stop) {
			pthread_mutex_unlock(&l->mu);
			break;
		}
		reload = l->reload;
		l->reload = false;
		back = l->given_back;
		l->given_back = (struct policy_set){ 0 };
		l->has_back = false;
		pthread_mutex_unlock(&l->mu);
		policy_set_free(&back);

		if (l->n_paths) {
			/* the signature before the load: a change during it loads again */
			uint64_t sig = policy_paths_signature(l->paths, l->n_paths);

			if (sig != l->signature || reload) {
				l->signature = sig;
				files_reloaded = load_files(l);
				changed |= files_reloaded;
			}
		}
		if (l->crd) {
			struct policy_crd_stats cs;

			if (policy_crd_update(l->crd, &l->crd_set) == 1)
				changed = true;
			policy_crd_get_stats(l->crd, &cs);
			crd_synced = cs.synced;
		}
		if (changed)
			publish(l, crd_synced, files_reloaded);
		else if (crd_synced) {
			pthread_mutex_lock(&l->mu);
			l->crd_synced = true; /* listed, nothing new: the set taken is the objects' */
			pthread_mutex_unlock(&l->mu);
		}
	}
	return NULL;
}

int policy_loader_start(struct policy_loader **out, const struct policy_loader_opts *o, struct policy_set *files)
{
	struct policy_loader *l = calloc(1, sizeof(*l));
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* a wall-clock step neither stalls nor spins it */
	pthread_cond_init(&l->wake, &ca);
	pthread_condattr_destroy(&ca);
	l->paths = o->paths;
	l->n_paths = o->n_paths;
	l->signature = o->signature;
	l->crd = o->crd;
	l->poll_ms = o->poll_ms ? o->poll_ms : DEFAULT_POLL_MS;
	l->files = *files;
	*files = (struct policy_set){ 0 };
	/* signals belong to the main thread (SIGHUP sets its flag) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&l->thread, NULL, run, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		*files = l->files;
		pthread_cond_destroy(&l->wake);
		pthread_mutex_destroy(&l->mu);
		free(l);
		return -rc;
	}
	*out = l;
	return 0;
}

void policy_loader_reload(struct policy_loader *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->reload = true;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->mu);
}

int policy_loader_take(struct policy_loader *l, struct policy_set *cur, struct policy_loader_taken *info)
{
	struct policy_set extra = { 0 };

	if (!l)
		return 0;
	pthread_mutex_lock(&l->mu);
	if (!l->has_ready) {
		pthread_mutex_unlock(&l->mu);
		return 0;
	}
	/* one set given back at a time: a second one (the loader has not run
	 * since) is freed here, rarely */
	if (l->has_back) {
		extra = *cur;
	} else {
		l->given_back = *cur;
		l->has_back = true;
	}
	*cur = l->ready;
	*info = l->ready_info;
	l->ready = (struct policy_set){ 0 };
	l->has_ready = false;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->mu);
	policy_set_free(&extra);
	return 1;
}

void policy_loader_get_stats(struct policy_loader *l, struct policy_loader_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	*out = l->stats;
	/* not before the set it speaks of is taken: ready means applied */
	out->crd_synced = l->crd_synced && !l->has_ready;
	pthread_mutex_unlock(&l->mu);
}

void policy_loader_stop(struct policy_loader *l)
{
	struct timespec until;

	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->mu);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += STOP_WAIT_S;
	if (pthread_timedjoin_np(l->thread, NULL, &until)) {
		/* blocked in the file system (a hung mount): the process is
		 * exiting; leave the thread and what it uses behind */
		log_warn("policies: a load still running at exit: not waited for");
		pthread_detach(l->thread);
		return;
	}
	policy_set_free(&l->ready);
	policy_set_free(&l->given_back);
	policy_set_free(&l->files);
	policy_set_free(&l->crd_set);
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
