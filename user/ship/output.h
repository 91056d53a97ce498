/* One output of the agent: a small module with init / deliver / flush /
 * destroy, driven by shipping.c (the model is Fluent Bit's out_* plugins).
 * Adding an output is one file here and one line in shipping.c's list.
 *
 * Every call comes from the agent's main loop; an output that talks to the
 * network does so from a thread of its own (a spooled sink, the alert
 * poster), so deliver() only encodes and queues. */
#ifndef REACH_SHIP_OUTPUT_H
#define REACH_SHIP_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "policy/epochs.h"
#include "policy/verify.h"
#include "reach/ledger.h"
#include "ship/prom_text.h"
#include "ship/sink.h"

struct json_object;
struct shipping_opts;   /* ship/shipping.h: what outputs read their settings from */
struct agent_counters;

enum ship_event_type {
	SHIP_TICK,     /* every main-loop tick (~1 s): counters, ledger */
	SHIP_FINDING,  /* a finding opened or resolved (shipping.c diffs verifications) */
	SHIP_VERDICT,  /* an epoch verified or drifted */
	SHIP_FINAL,    /* the agent stops: the last ledger */
};

struct ship_event {
	enum ship_event_type type;
	double mono_s;                        /* CLOCK_MONOTONIC seconds */
	int64_t unix_ms;
	const struct agent_counters *counters; /* TICK */
	const struct ledger *ledger;          /* TICK, FINAL */
	const struct finding *finding;        /* FINDING */
	bool resolved;                        /* FINDING */
	const struct epoch_record *epoch;     /* VERDICT */
	const struct verify_result *result;   /* VERDICT: the verification it came from */
};

/* What every output may read: the agent's name for itself. */
struct ship_env {
	const char *node, *version, *boot_id;
	const char *spool_root;               /* spooled outputs keep their records below it */
};

struct ship_output_ops {
	const char *name;
	/* 0 with *state NULL: not configured (nothing else is called); 0 with a
	 * state: running; -errno with err: start-up fails. */
	int (*init)(void **state, const struct shipping_opts *o, const struct ship_env *env, char *err,
		    size_t err_size);
	void (*deliver)(void *state, const struct ship_event *ev);
	/* The end of a batch of deliveries (one verification's findings, one
	 * verdict): an output that batches sends now. May be NULL. */
	void (*flush)(void *state);
	void (*destroy)(void *state); /* stops its threads; accepts what init left on error */
	/* Optional views for /metrics and `reachctl status`. */
	bool wants_counters;          /* deliver() reads ev->counters on TICK */
	bool (*sink_stats)(void *state, struct sink_stats *st); /* a spooled sink's row */
	void (*metrics)(void *state, struct prom_buf *b);      /* its own metric families */
	struct json_object *(*status)(void *state);
};

extern const struct ship_output_ops ship_out_collector; /* protobuf reports, spooled */
extern const struct ship_output_ops ship_out_otlp;      /* OTLP/HTTP logs, spooled */
extern const struct ship_output_ops ship_out_alerts;    /* Alertmanager and a webhook */

/* For spooled outputs: an encoder's result to its sink. Every report either
 * reaches the spool (whose own failures the spool counts and logs) or is
 * counted in *unencoded as lost before it, with one log line per failure
 * streak (*failing). Frees body. 0 when spooled or nothing to send. */
int ship_output_submit(struct sink *k, const char *what, int rc, void *body, size_t len, uint64_t *unencoded,
		       bool *failing);

/* A spooled sink for an output: spool in SPOOL_ROOT/SUB, logged once.
 * timeout_s bounds one delivery attempt (0: 10 s); a slower answer is a
 * failed attempt, retried after the backoff. */
int ship_output_sink(struct sink **out, const char *name, const char *url, const char *token_file, const char *ca,
		     const char *spool_root, const char *sub, uint64_t max_bytes, double backoff_max_s,
		     double timeout_s, char *err, size_t err_size);

/* A sink's stats for `reachctl status`. */
struct json_object *ship_output_sink_json(struct sink *k);

#endif
