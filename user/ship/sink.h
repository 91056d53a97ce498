/* A destination for encoded reports: a disk spool and one delivery thread.
 *
 * sink_submit spools a record and returns; the thread delivers records one
 * at a time, oldest first, with an HTTP POST each (user/common/https_client.h),
 * and removes a record once the collector answered 2xx (at-least-once: a
 * record can arrive twice, e.g. when the answer is lost; receivers
 * deduplicate by report_id). What the answer means:
 *
 *   2xx             delivered: removed
 *   401, 403        kept and retried: usually a wrong token that an
 *                   operator fixes; logged as such
 *   408, 429, 5xx,  kept and retried after a backoff: exponential with
 *   1xx/3xx, no     full jitter between backoff_min_s and backoff_max_s,
 *   answer (TLS,    or the answer's Retry-After (capped at backoff_max_s)
 *   timeout, not
 *   HTTP, ...)
 *   other 4xx       rejected for good (400, 404, 413, 415, 422, ...):
 *                   removed, counted, logged with record number and status
 *
 * Failures are logged when the state changes (first failure, a different
 * failure, recovery), not at every attempt. */
#ifndef REACH_SINK_H
#define REACH_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/https_client.h"
#include "ship/spool.h"

#define SINK_BACKOFF_MIN_S_DEFAULT 1.0
#define SINK_BACKOFF_MAX_S_DEFAULT 300.0

struct sink_opts {
	const char *name;          /* "collector", "otlp": for logs and metrics */
	struct http_target target; /* target.cancel is ignored: the sink has its own */
	const char *content_type;  /* e.g. "application/x-protobuf" */
	bool gzip;
	const char *spool_dir;
	struct spool_limits limits;
	double backoff_min_s, backoff_max_s; /* 0: the defaults above */
};

struct sink_stats {
	uint64_t sent;                 /* records delivered (2xx) */
	uint64_t failed_attempts;      /* POSTs without a 2xx that will be retried */
	uint64_t rejected;             /* records the collector refused for good */
	uint64_t dropped;              /* spool: lost to its limits */
	uint64_t write_failed;         /* spool: appends that failed on I/O */
	uint64_t quarantined;          /* spool: corrupt (or vanished) records moved aside */
	uint64_t lost;                 /* never to be delivered: dropped + write_failed + quarantined */
	uint64_t spool_records;        /* waiting */
	uint64_t spool_bytes;
	int64_t last_success_unix_ms;  /* 0: none yet */
	long last_status;              /* HTTP status of the latest answer; 0: none, or no answer */
	uint64_t consecutive_failures; /* failed attempts since the latest delivery */
	char last_error[256];          /* the latest failure, kept after recovery; "" if none */
};

struct sink;

/* Checks the target (http_target_check), opens the spool (records of a
 * previous run are delivered first) and starts the thread. Strings in o are
 * copied. 0, or -errno with err naming the sink and what failed. */
int sink_new(struct sink **out, const struct sink_opts *o, char *err, size_t err_size);

/* Spools a copy of body and wakes the thread; never waits for the network.
 * 0 or the error of spool_append (the record is then not queued). */
int sink_submit(struct sink *s, const void *body, size_t len);

void sink_stats(struct sink *s, struct sink_stats *st);

/* Stops and joins the thread: a wait for backoff ends at once, a POST in
 * flight is aborted within about a second. Undelivered records stay in the
 * spool for the next sink_new. NULL is fine. */
void sink_free(struct sink *s);

#endif
