/* What the spooled outputs share (output.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "common/https_client.h"
#include "common/json.h"
#include "common/log.h"
#include "ship/output.h"

#define SPOOL_MAX_RECORDS 100000
#define DEFAULT_TIMEOUT_S 10

int ship_output_sink(struct sink **out, const char *name, const char *url, const char *token_file, const char *ca,
		     const char *spool_root, const char *sub, uint64_t max_bytes, double backoff_max_s,
		     double timeout_s, char *err, size_t err_size)
{
	char dir[4200], what[256];
	struct sink_opts so = {
		.name = name,
		.target = { .url = url, .token_file = token_file, .ca_file = ca,
			    .timeout_ms = (long)((timeout_s > 0 ? timeout_s : DEFAULT_TIMEOUT_S) * 1000) },
		.content_type = "application/x-protobuf",
		.gzip = true,
		.spool_dir = dir,
		.limits = { .max_bytes = max_bytes, .max_records = SPOOL_MAX_RECORDS },
		.backoff_max_s = backoff_max_s,
	};
	int rc;

	snprintf(dir, sizeof(dir), "%s/%s", spool_root, sub); /* spool_open creates it, parents too */
	if ((rc = sink_new(out, &so, err, err_size)))
		return rc;
	http_target_describe(&so.target, what, sizeof(what));
	log_info("%s: shipping to %s, spooled in %s", name, what, dir);
	return 0;
}

int ship_output_submit(struct sink *k, const char *what, int rc, void *body, size_t len, uint64_t *unencoded,
		       bool *failing)
{
	if (rc) {
		(*unencoded)++;
		if (!*failing)
			log_error("%s report not built: %s (counted as dropped; the agent keeps running)", what,
				  strerror(-rc));
		*failing = true;
		return rc;
	}
	*failing = false;
	if (!body)
		return 0;
	rc = sink_submit(k, body, len);
	free(body);
	return rc;
}

json_object *ship_output_sink_json(struct sink *k)
{
	struct sink_stats st;
	json_object *o = json_object_new_object();

	sink_stats(k, &st);
	json_add_int(o, "sent", (int64_t)st.sent);
	json_add_int(o, "failed_attempts", (int64_t)st.failed_attempts);
	json_add_int(o, "rejected", (int64_t)st.rejected);
	json_add_int(o, "dropped", (int64_t)st.dropped);
	json_add_int(o, "write_failed", (int64_t)st.write_failed);
	json_add_int(o, "spool_records", (int64_t)st.spool_records);
	json_add_int(o, "spool_bytes", (int64_t)st.spool_bytes);
	json_add_int(o, "last_success_unix_ms", st.last_success_unix_ms);
	json_add_str(o, "last_error", st.last_error);
	return o;
}
