#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/deadline.h"
#include "common/log.h"
#include "reach/ledger.h"
#include "reach/ledger_persist.h"
#include "reach/ledger_store.h"

/* Cost of the snapshot, the part of a save that stays on the event loop
 * (serialising; compression, SHA-256, write and fsyncs are the writer's),
 * measured on the 2-CPU development VM (shared with other builds), -O2,
 * at bench_memory's sizes: N identities x 100 edges, every field set
 * (tests/unit/test_ledger_persist.c prints it with REACH_PERSIST_BENCH=N):
 *     1k x 100 (100k edges, 23.5 MB encoded):  take ~45-60 ms, whole ledger_save() ~145 ms
 *    10k x 100 (1M edges,  235 MB encoded):   take ~0.8-1.3 s, whole ledger_save() ~1.8-2.8 s
 * so the loop stalls for about 40% of what saving in the foreground
 * would cost, and the snapshot holds the encoded bytes (235 MB at 1M
 * edges) until the writer has compressed them, freeing them piece by
 * piece. Spreading the serialisation over several loop turns (each
 * identity serialised before its first change after the snapshot, a
 * copy-on-write at identity granularity) would bound the stall; it needs a
 * hook in ledger.c's mutations and is not done. */

struct ledger_persist {
	char *path, *node;
	pthread_t writer;
	bool writer_started;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the writer's: a job, or stop */
	pthread_cond_t done; /* the loop's: a save finished */
	/* under lock */
	struct ledger_snapshot *job;
	int64_t job_ms;
	bool busy;     /* a job handed over and not finished */
	bool finished; /* a result not collected yet */
	bool stop;
	int result;
	int64_t result_ms;
	char result_err[512];
	bool keep_image;     /* the writer keeps what it wrote (ledger_persist_keep_image) */
	uint8_t *image;      /* the newest file written, until taken */
	size_t image_len;
	/* the loop's own */
	int64_t last_save_ms;
	char last_error[512];
	uint64_t skipped;
	bool ok_unreported;
	int err_unreported;
};

static void *writer_main(void *arg)
{
	struct ledger_persist *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct ledger_snapshot *s;
		char err[sizeof(p->result_err)] = "";
		uint8_t *image = NULL;
		size_t image_len = 0;
		bool keep;
		int64_t ms;
		int rc;

		while (!p->job && !p->stop)
			pthread_cond_wait(&p->wake, &p->lock);
		if (!p->job)
			break; /* stopped, and nothing left to write */
		s = p->job;
		ms = p->job_ms;
		p->job = NULL;
		keep = p->keep_image;
		pthread_mutex_unlock(&p->lock);
		rc = ledger_snapshot_save_image(s, p->path, keep ? &image : NULL, keep ? &image_len : NULL, err,
						sizeof(err));
		pthread_mutex_lock(&p->lock);
		if (image) { /* the newest replaces one nobody took */
			free(p->image);
			p->image = image;
			p->image_len = image_len;
		}
		p->result = rc;
		p->result_ms = ms;
		memcpy(p->result_err, err, sizeof(err));
		p->finished = true;
		p->busy = false;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* What a save's result does to the status; async: poll() is to report it
 * (the others' callers have it as the return value). */
static void record(struct ledger_persist *p, int rc, const char *err, int64_t ms, bool async)
{
	if (!rc) {
		p->last_save_ms = ms;
		p->last_error[0] = '\0';
		p->ok_unreported |= async;
		return;
	}
	/* once per distinct failure, not every interval */
	if (strcmp(err, p->last_error) != 0)
		log_warn("saving the ledger: %s (will retry)", err);
	snprintf(p->last_error, sizeof(p->last_error), "%s", err);
	if (async)
		p->err_unreported = rc;
}

/* Takes the writer's result, if any, waiting up to timeout_ms (-1: no
 * bound) for a save in flight. */
static void collect(struct ledger_persist *p, int timeout_ms)
{
	char err[sizeof(p->result_err)];
	struct timespec until;
	int64_t ms = 0;
	int rc = 0;
	bool got = false;

	if (timeout_ms > 0) {
		deadline_in_ms(&until, CLOCK_MONOTONIC, timeout_ms);
	}
	pthread_mutex_lock(&p->lock);
	while (p->busy && timeout_ms < 0)
		pthread_cond_wait(&p->done, &p->lock);
	while (p->busy && timeout_ms > 0)
		if (pthread_cond_timedwait(&p->done, &p->lock, &until) == ETIMEDOUT)
			break;
	if (p->finished) {
		p->finished = false;
		got = true;
		rc = p->result;
		ms = p->result_ms;
		memcpy(err, p->result_err, sizeof(err));
	}
	pthread_mutex_unlock(&p->lock);
	if (got)
		record(p, rc, err, ms, true);
}

int ledger_persist_save_async(struct ledger_persist *p, const struct ledger *l)
{
	struct ledger_snapshot *s;
	char err[sizeof(p->result_err)] = "";
	bool busy;
	int rc;

	collect(p, 0);
	pthread_mutex_lock(&p->lock);
	busy = p->busy;
	pthread_mutex_unlock(&p->lock);
	if (busy) {
		p->skipped++; /* the previous save is still running */
		return -EBUSY;
	}
	if ((rc = ledger_snapshot_take(l, p->node, &s, err, sizeof(err)))) {
		record(p, rc, err, 0, false);
		return rc;
	}
	pthread_mutex_lock(&p->lock);
	p->job = s;
	p->job_ms = ledger_snapshot_time_ms(s);
	p->busy = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int ledger_persist_save_sync(struct ledger_persist *p, const struct ledger *l)
{
	struct ledger_snapshot *s;
	char err[sizeof(p->result_err)] = "";
	int64_t ms = 0;
	int rc;

	collect(p, -1);
	if (!(rc = ledger_snapshot_take(l, p->node, &s, err, sizeof(err)))) {
		ms = ledger_snapshot_time_ms(s);
		rc = ledger_snapshot_save(s, p->path, err, sizeof(err));
	}
	record(p, rc, err, ms, false);
	return rc;
}

int ledger_persist_poll(struct ledger_persist *p, int timeout_ms)
{
	int rc;

	collect(p, timeout_ms);
	if (p->ok_unreported) {
		p->ok_unreported = false;
		p->err_unreported = 0;
		return 1;
	}
	rc = p->err_unreported;
	p->err_unreported = 0;
	return rc;
}

void ledger_persist_get_status(struct ledger_persist *p, struct ledger_persist_status *st)
{
	pthread_mutex_lock(&p->lock);
	st->saving = p->busy;
	pthread_mutex_unlock(&p->lock);
	st->last_save_unix_ms = p->last_save_ms;
	st->last_error = p->last_error;
	st->saves_skipped = p->skipped;
}

void ledger_persist_keep_image(struct ledger_persist *p, bool keep)
{
	pthread_mutex_lock(&p->lock);
	p->keep_image = keep;
	pthread_mutex_unlock(&p->lock);
}

bool ledger_persist_take_image(struct ledger_persist *p, uint8_t **image, size_t *len)
{
	pthread_mutex_lock(&p->lock);
	*image = p->image;
	*len = p->image_len;
	p->image = NULL;
	p->image_len = 0;
	pthread_mutex_unlock(&p->lock);
	return *image != NULL;
}

const char *ledger_persist_path(const struct ledger_persist *p)
{
	return p->path;
}

void ledger_persist_free(struct ledger_persist *p)
{
	if (!p)
		return;
	if (p->writer_started) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_cond_signal(&p->wake);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->writer, NULL); /* after the save in flight */
	}
	ledger_snapshot_free(p->job);
	free(p->image);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	free(p->path);
	free(p->node);
	free(p);
}

static struct ledger *new_ledger(const struct ledger_persist_opts *o)
{
	return o->strings ? ledger_new_sharing(o->max_identities, o->max_edges, o->strings)
			  : ledger_new(o->max_identities, o->max_edges);
}

/* The writer, with every signal blocked: they are the loop's to handle. */
static int start_writer(struct ledger_persist *p)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->writer, NULL, writer_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	p->writer_started = rc == 0;
	return -rc;
}

static int persist_new(struct ledger_persist **out, const struct ledger_persist_opts *o)
{
	struct ledger_persist *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* timed waits immune to clock steps */
	pthread_cond_init(&p->done, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&p->wake, NULL);
	p->path = strdup(o->path);
	p->node = strdup(o->node ? o->node : "");
	*out = p;
	return p->path && p->node ? 0 : -ENOMEM;
}

int ledger_persist_open(struct ledger_persist **out, struct ledger **ledger, const struct ledger_persist_opts *o,
			char *err, size_t err_size)
{
	struct ledger_persist *p = NULL;
	struct ledger *l = NULL;
	char why[512], moved[4200];
	int rc;

	*out = NULL;
	*ledger = NULL;
	if (!o->path || !*o->path) {
		format_error(err, err_size, "ledger: no file");
		return -EINVAL;
	}
	if ((rc = persist_new(&p, o)) || !(l = new_ledger(o))) {
		format_error(err, err_size, "allocating the ledger: %s", strerror(ENOMEM));
		rc = -ENOMEM;
		goto fail;
	}
	rc = ledger_load(l, p->path, NULL, why, sizeof(why));
	if (rc == -EBADMSG) {
		ledger_free(l);
		if (!(l = new_ledger(o))) {
			format_error(err, err_size, "allocating the ledger: %s", strerror(ENOMEM));
			rc = -ENOMEM;
			goto fail;
		}
		if (ledger_quarantine(p->path, moved, sizeof(moved)) == 0)
			log_warn("the saved ledger is corrupt (%s): kept aside as %s, starting with an empty ledger", why,
				 moved);
		else
			log_warn("the saved ledger is corrupt (%s) and could not be moved aside: starting empty", why);
	} else if (rc && rc != -ENOENT) {
		format_error(err, err_size, "loading the ledger: %s", why);
		goto fail;
	} else if (rc == 0) {
		log_info("ledger loaded: %zu identities, %zu edges", ledger_identities(l), ledger_edges(l));
	}
	if ((rc = start_writer(p))) {
		format_error(err, err_size, "starting the ledger writer: %s", strerror(-rc));
		goto fail;
	}
	*out = p;
	*ledger = l;
	return 0;
fail:
	ledger_free(l);
	ledger_persist_free(p);
	return rc;
}
