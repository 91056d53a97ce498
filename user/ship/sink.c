#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/deadline.h"
#include "common/fileio.h"
#include "common/log.h"
#include "ship/sink.h"

enum outcome { DELIVERED, REJECTED, RETRY };

struct sink {
	/* owned copies of the options' strings */
	char *name, *url, *token_file, *ca_file, *content_type, *spool_dir;
	char where[256];             /* the URL without credentials, for logs */
	struct http_target target;
	bool gzip;
	double backoff_min_s, backoff_max_s;
	struct spool *sp;
	pthread_t thread;
	bool started;
	atomic_int stop;             /* also target.cancel: aborts a POST in flight */
	uint64_t rng;

	pthread_mutex_t mu;          /* guards the rest */
	pthread_cond_t cv;           /* CLOCK_MONOTONIC: stop, or a record submitted */
	bool wake;
	uint64_t sent, failed_attempts, rejected, consecutive_failures;
	int64_t last_success_unix_ms;
	long last_status;
	char last_error[256];
	char fail_state[64];         /* the current failure's kind, "" when delivering: logs on change */
};

/* xorshift64*: jitter only needs to spread agents apart, not be secret. */
static double rand01(struct sink *s)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return (double)((s->rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* Seconds to wait before the next attempt: the answer's Retry-After when it
 * gave one, else exponential with full jitter, both within [min, max]. */
static double backoff_s(struct sink *s, uint64_t attempt, long retry_after_s)
{
	double cap = s->backoff_min_s;

	if (retry_after_s >= 0) {
		double ra = (double)retry_after_s;

		return ra < s->backoff_min_s ? s->backoff_min_s : ra > s->backoff_max_s ? s->backoff_max_s : ra;
	}
	for (uint64_t i = 1; i < attempt && cap < s->backoff_max_s; i++)
		cap *= 2;
	if (cap > s->backoff_max_s)
		cap = s->backoff_max_s;
	return s->backoff_min_s + (cap - s->backoff_min_s) * rand01(s);
}

/* Sleeps until stop or the delay is over; submissions do not cut it short. */
static void wait_for(struct sink *s, double seconds)
{
	struct timespec deadline;

	deadline_in_ms(&deadline, CLOCK_MONOTONIC, (int64_t)(seconds * 1000.0));
	pthread_mutex_lock(&s->mu);
	while (!atomic_load(&s->stop) && pthread_cond_timedwait(&s->cv, &s->mu, &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&s->mu);
}

static void wait_for_work(struct sink *s)
{
	pthread_mutex_lock(&s->mu);
	while (!atomic_load(&s->stop) && !s->wake)
		pthread_cond_wait(&s->cv, &s->mu);
	s->wake = false;
	pthread_mutex_unlock(&s->mu);
}

static enum outcome classify(int rc, long status)
{
	if (rc)
		return RETRY;
	if (status >= 200 && status < 300)
		return DELIVERED;
	if (status == 401 || status == 403 || status == 408 || status == 429)
		return RETRY;
	if (status >= 400 && status < 500)
		return REJECTED;
	return RETRY; /* 5xx, and 1xx/3xx that a collector should never send */
}

/* The collector answered: a failure streak, if any, is over. Under s->mu. */
static void end_failures(struct sink *s)
{
	if (s->consecutive_failures)
		log_info("sink %s: delivering to %s again after %" PRIu64 " failed attempts", s->name, s->where,
			 s->consecutive_failures);
	s->consecutive_failures = 0;
	s->fail_state[0] = '\0';
}

/* Counts a failed attempt; logs only when the kind of failure changes. */
static void note_failure(struct sink *s, int rc, const struct http_result *res)
{
	char state[64];

	if (rc)
		snprintf(state, sizeof(state), "error %d", rc);
	else
		snprintf(state, sizeof(state), "HTTP %ld", res->status);
	pthread_mutex_lock(&s->mu);
	s->failed_attempts++;
	s->consecutive_failures++;
	s->last_status = rc ? 0 : res->status;
	if (rc)
		snprintf(s->last_error, sizeof(s->last_error), "%s", res->error);
	else if (res->status == 401 || res->status == 403)
		snprintf(s->last_error, sizeof(s->last_error), "HTTP %ld: check the token file", res->status);
	else
		snprintf(s->last_error, sizeof(s->last_error), "HTTP %ld", res->status);
	if (strcmp(state, s->fail_state)) {
		if (!rc && (res->status == 401 || res->status == 403))
			log_error("sink %s: %s answered %ld: check the token file %s; retrying", s->name, s->where,
				  res->status, s->token_file ? s->token_file : "(none configured)");
		else if (rc)
			log_warn("sink %s: %s: %s; retrying with backoff, records wait in the spool", s->name,
				 s->where, res->error);
		else
			log_warn("sink %s: %s answered %ld; retrying with backoff, records wait in the spool", s->name,
				 s->where, res->status);
		snprintf(s->fail_state, sizeof(s->fail_state), "%s", state);
	}
	pthread_mutex_unlock(&s->mu);
}

/* One attempt at the oldest record. Returns the seconds to wait before the
 * next one (0: go on at once). */
static double deliver(struct sink *s, const void *body, size_t len, uint64_t no)
{
	struct http_result res;
	enum outcome o;
	int rc;

	rc = http_post(&s->target, s->content_type, body, len, s->gzip, &res);
	if (rc == -ECANCELED && atomic_load(&s->stop))
		return 0; /* stopping: the record stays for the next start */
	o = classify(rc, res.status);
	if (o == RETRY) {
		note_failure(s, rc, &res);
		return backoff_s(s, s->consecutive_failures, res.retry_after_s);
	}
	/* -ENOENT: dropped meanwhile to make room, which the spool counted */
	spool_remove(s->sp, no);
	pthread_mutex_lock(&s->mu);
	end_failures(s);
	s->last_status = res.status;
	if (o == DELIVERED) {
		s->sent++;
		s->last_success_unix_ms = unix_now_ms();
	} else {
		s->rejected++;
		snprintf(s->last_error, sizeof(s->last_error), "record %" PRIu64 " rejected: HTTP %ld", no,
			 res.status);
		log_error("sink %s: %s rejected record %" PRIu64 " (%zu bytes) with HTTP %ld: removed from the spool",
			  s->name, s->where, no, len, res.status);
	}
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static void *run(void *arg)
{
	struct sink *s = arg;
	uint64_t read_errors = 0;

	while (!atomic_load(&s->stop)) {
		void *body = NULL;
		size_t len = 0;
		uint64_t no = 0;
		double delay;
		int rc;

		rc = spool_peek_oldest(s->sp, &body, &len, &no);
		if (rc == -ENOENT) {
			wait_for_work(s);
			continue;
		}
		if (rc) {
			/* the spool already quarantined what is corrupt: this is the
			 * disk or memory, which may recover */
			if (!read_errors++)
				log_error("sink %s: reading the spool %s: %s; retrying", s->name, s->spool_dir,
					  strerror(-rc));
			wait_for(s, backoff_s(s, read_errors, -1));
			continue;
		}
		read_errors = 0;
		delay = deliver(s, body, len, no);
		free(body);
		if (delay > 0)
			wait_for(s, delay);
	}
	return NULL;
}

/* ---- life cycle ---------------------------------------------------------------- */

static int dup_opt(char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

static int copy_opts(struct sink *s, const struct sink_opts *o)
{
	if (dup_opt(&s->name, o->name ? o->name : "sink") || dup_opt(&s->url, o->target.url) ||
	    dup_opt(&s->token_file, o->target.token_file) || dup_opt(&s->ca_file, o->target.ca_file) ||
	    dup_opt(&s->content_type, o->content_type) || dup_opt(&s->spool_dir, o->spool_dir))
		return -ENOMEM;
	s->target = (struct http_target){
		.url = s->url,
		.token_file = s->token_file,
		.ca_file = s->ca_file,
		.timeout_ms = o->target.timeout_ms,
		.cancel = &s->stop,
	};
	s->gzip = o->gzip;
	s->backoff_min_s = o->backoff_min_s > 0 ? o->backoff_min_s : SINK_BACKOFF_MIN_S_DEFAULT;
	s->backoff_max_s = o->backoff_max_s > 0 ? o->backoff_max_s : SINK_BACKOFF_MAX_S_DEFAULT;
	if (s->backoff_max_s < s->backoff_min_s)
		s->backoff_max_s = s->backoff_min_s;
	return 0;
}

/* The thread gets no signals: SIGINT/SIGTERM belong to the main loop. */
static int start_thread(struct sink *s)
{
	sigset_t all, old;
	char tname[16];
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&s->thread, NULL, run, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return -rc;
	s->started = true;
	snprintf(tname, sizeof(tname), "sink-%s", s->name);
	pthread_setname_np(s->thread, tname);
	return 0;
}

static int init_sync(struct sink *s)
{
	pthread_condattr_t ca;
	int rc;

	pthread_mutex_init(&s->mu, NULL);
	if ((rc = pthread_condattr_init(&ca)))
		return -rc;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!rc)
		rc = pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	return -rc;
}

int sink_new(struct sink **out, const struct sink_opts *o, char *err, size_t err_size)
{
	const char *name = o && o->name ? o->name : "sink";
	struct spool_stats st;
	char why[512] = "";
	struct sink *s;
	int rc;

	*out = NULL;
	if (!o || !o->spool_dir) {
		format_error(err, err_size, "sink %s: no spool directory", name);
		return -EINVAL;
	}
	if ((rc = http_target_check(&o->target, why, sizeof(why)))) {
		format_error(err, err_size, "sink %s: %s", name, why);
		return rc;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		format_error(err, err_size, "sink %s: out of memory", name);
		return -ENOMEM;
	}
	if ((rc = init_sync(s)) || (rc = copy_opts(s, o))) {
		format_error(err, err_size, "sink %s: %s", name, strerror(-rc));
		goto fail;
	}
	http_target_describe(&s->target, s->where, sizeof(s->where));
	s->rng = (uint64_t)unix_now_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)s;
	if (!s->rng)
		s->rng = 1;
	if ((rc = spool_open(&s->sp, s->spool_dir, &o->limits, why, sizeof(why)))) {
		format_error(err, err_size, "sink %s: %s", name, why);
		goto fail;
	}
	if ((rc = start_thread(s))) {
		format_error(err, err_size, "sink %s: starting the delivery thread: %s", name, strerror(-rc));
		goto fail;
	}
	spool_stats(s->sp, &st);
	log_info("sink %s: delivering to %s; spool %s holds %" PRIu64 " records", s->name, s->where, s->spool_dir,
		 st.records);
	*out = s;
	return 0;
fail:
	sink_free(s);
	return rc;
}

int sink_submit(struct sink *s, const void *body, size_t len)
{
	int rc = spool_append(s->sp, body, len);

	if (rc)
		return rc;
	pthread_mutex_lock(&s->mu);
	s->wake = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void sink_stats(struct sink *s, struct sink_stats *st)
{
	struct spool_stats sp;

	spool_stats(s->sp, &sp);
	memset(st, 0, sizeof(*st));
	st->dropped = sp.dropped;
	st->write_failed = sp.write_failed;
	st->quarantined = sp.quarantined;
	st->lost = sp.dropped + sp.write_failed + sp.quarantined;
	st->spool_records = sp.records;
	st->spool_bytes = sp.bytes;
	pthread_mutex_lock(&s->mu);
	st->sent = s->sent;
	st->failed_attempts = s->failed_attempts;
	st->rejected = s->rejected;
	st->last_success_unix_ms = s->last_success_unix_ms;
	st->last_status = s->last_status;
	st->consecutive_failures = s->consecutive_failures;
	snprintf(st->last_error, sizeof(st->last_error), "%s", s->last_error);
	pthread_mutex_unlock(&s->mu);
}

void sink_free(struct sink *s)
{
	if (!s)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		atomic_store(&s->stop, 1);
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
	}
	spool_close(s->sp);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->name);
	free(s->url);
	free(s->token_file);
	free(s->ca_file);
	free(s->content_type);
	free(s->spool_dir);
	free(s);
}
