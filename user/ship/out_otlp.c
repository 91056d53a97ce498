/* The OTLP output (output.h): findings and verdicts as OTLP/HTTP log
 * records, one request per batch (a verification's findings, a verdict),
 * through a disk spool. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "common/log.h"
#include "ship/otlp.h"
#include "ship/output.h"
#include "ship/shipping.h"

#define OTLP_SPOOL_MAX_BYTES (64ULL << 20)

struct otlp_out {
	struct sink *sink;
	char node[256], version[64];
	struct otlp_resource res;
	struct otlp_record *recs; /* the batch until flush */
	size_t n, cap;
	uint64_t unencoded;       /* reports (batches) lost before the spool */
	bool encode_failing;
};

static void otlp_destroy(void *state)
{
	struct otlp_out *t = state;

	if (!t)
		return;
	sink_free(t->sink);
	free(t->recs);
	free(t);
}

static int otlp_init(void **state, const struct shipping_opts *o, const struct ship_env *env, char *err,
		     size_t err_size)
{
	struct otlp_out *t;
	int rc;

	*state = NULL;
	if (!o->otlp_url)
		return 0;
	if (!(t = calloc(1, sizeof(*t))))
		return -ENOMEM;
	snprintf(t->node, sizeof(t->node), "%s", env->node);
	snprintf(t->version, sizeof(t->version), "%s", env->version);
	t->res = (struct otlp_resource){ .host_name = t->node, .service_version = t->version,
					 .k8s_node_name = getenv("NODE_NAME") ? t->node : NULL };
	if ((rc = ship_output_sink(&t->sink, "otlp", o->otlp_url, NULL, o->ship_ca, env->spool_root, "otlp",
				   OTLP_SPOOL_MAX_BYTES, o->backoff_max_s, o->ship_timeout_s, err, err_size))) {
		otlp_destroy(t);
		return rc;
	}
	*state = t;
	return 0;
}

/* A slot in the batch, or NULL (no memory: the record is counted as lost). */
static struct otlp_record *next_record(struct otlp_out *t)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct otlp_record *r = realloc(t->recs, cap * sizeof(*r));

		if (!r) {
			t->unencoded++; /* counted like a report not built */
			log_warn("otlp: a record not built: out of memory (counted as dropped)");
			return NULL;
		}
		t->recs = r;
		t->cap = cap;
	}
	memset(&t->recs[t->n], 0, sizeof(t->recs[t->n]));
	return &t->recs[t->n++];
}

static void otlp_deliver(void *state, const struct ship_event *ev)
{
	struct otlp_out *t = state;
	struct otlp_record *r;

	if (ev->type == SHIP_FINDING && (r = next_record(t)))
		otlp_record_finding(r, ev->finding, ev->resolved, ev->unix_ms, t->node, NULL);
	else if (ev->type == SHIP_VERDICT && (r = next_record(t)))
		otlp_record_verdict(r, ev->epoch->identity, epoch_verdict_name(ev->epoch), ev->epoch->reasons,
				    ev->epoch->to_version, ev->unix_ms, t->node);
}

static void otlp_flush(void *state)
{
	struct otlp_out *t = state;
	void *body = NULL;
	size_t len = 0;
	int rc;

	if (!t->n)
		return;
	rc = otlp_encode_records(&t->res, t->recs, t->n, &body, &len);
	ship_output_submit(t->sink, "otlp", rc, body, len, &t->unencoded, &t->encode_failing);
	t->n = 0;
}

static bool otlp_sink_stats(void *state, struct sink_stats *st)
{
	struct otlp_out *t = state;

	sink_stats(t->sink, st);
	st->lost += t->unencoded;
	return true;
}

static json_object *otlp_status(void *state)
{
	return ship_output_sink_json(((struct otlp_out *)state)->sink);
}

const struct ship_output_ops ship_out_otlp = {
	.name = "otlp",
	.init = otlp_init,
	.deliver = otlp_deliver,
	.flush = otlp_flush,
	.destroy = otlp_destroy,
	.sink_stats = otlp_sink_stats,
	.status = otlp_status,
};
