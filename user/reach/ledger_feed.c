#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "reach/dnsnames.h"
#include "reach/ledger_feed.h"

/* reachd's ledger shares the observed model's intern table
 * (ledger_new_sharing): records of different types in one table must differ
 * in size (intern.h), or a first process could be handed out as a set. */
_Static_assert(sizeof(struct edge_process) != sizeof(struct ledger_set),
	       "observed and ledger records share a table: their sizes must differ");

static const char *const outcome_names[] = { NULL, "established", "refused", "timed_out", "failed", "sent" };

static enum ledger_kind ledger_kind_of(enum edge_kind k)
{
	switch (k) {
	case EDGE_SECRET: return LEDGER_SECRET;
	case EDGE_TOOL: return LEDGER_TOOL;
	case EDGE_EGRESS: return LEDGER_EGRESS;
	case EDGE_CREDENTIAL: return LEDGER_CREDENTIAL;
	case EDGE_MCP: return LEDGER_MCP_TOOL;
	case EDGE_LLM: return LEDGER_LLM;
	default: return LEDGER_KIND_UNSPECIFIED;
	}
}

/* One ledger observation for an edge; delta and outcome set by the caller.
 * mcp: the server and tool of object "<server> <tool>" go to name and
 * category (tool, the caller's buffer of at least 256 bytes). */
static void fill_obs(struct ledger_obs *obs, const struct edge *e, const struct identity *id, int64_t boot_to_unix_ms,
		     char *tool)
{
	memset(obs, 0, sizeof(*obs));
	obs->identity = id->name;
	obs->kind = ledger_kind_of(e->kind);
	obs->object = e->object;
	obs->category = edge_cred(e) ? edge_cred(e)->kind : e->category;
	obs->dest_class = edge_cred(e) ? edge_cred(e)->special : e->dest_class;
	obs->name = e->name;
	obs->name_source = e->kind == EDGE_EGRESS && e->name ? name_source_name(e->name_source) : NULL;
	obs->proto = e->kind == EDGE_EGRESS ? edge_proto_name(e->proto) : NULL;
	obs->port = e->port;
	obs->first_ms = (int64_t)(e->first_ns / 1000000) + boot_to_unix_ms;
	obs->last_ms = (int64_t)(e->last_ns / 1000000) + boot_to_unix_ms;
	obs->executable = e->proc->exe[0] ? e->proc->exe : NULL;
	obs->lineage = e->proc->lineage;
	obs->n_lineage = e->proc->n_lineage;
	obs->pod = id->pod[0] ? id->pod : NULL;
	obs->image = id->image[0] ? id->image : NULL;
	obs->epoch = id->image_id[0] ? id->image_id : NULL;
	obs->content_fingerprint = e->content_fp[0] ? e->content_fp : NULL;
	obs->n_key_fingerprints = edge_key_fps(e, &obs->key_fingerprints, &obs->key_fingerprints_dropped);
	/* the name as written, only when it is not the file itself */
	obs->opened_as = e->requested_path && e->requested_path[0] && strcmp(e->requested_path, e->object)
				 ? e->requested_path : NULL;
	if (edge_mcp(e) && edge_mcp(e)->server) {
		obs->mcp_server = edge_mcp(e)->server;
		obs->mcp_tool = edge_mcp(e)->tool;
	}
	if (e->kind == EDGE_MCP) {
		const char *sp = strrchr(e->object, ' ');
		size_t n = sp ? (size_t)(sp - e->object) : 0;

		/* server in tool[128..], tool in tool[0..128) */
		snprintf(tool, 128, "%s", sp ? sp + 1 : e->object);
		snprintf(tool + 128, 128, "%.*s", (int)(n < 127 ? n : 127), e->object);
		obs->category = tool;
		obs->name = tool + 128;
		obs->dest_class = e->name && e->name[0] ? e->name : NULL; /* serverInfo.name */
		obs->proto = e->proto == REACH_JSONRPC_UNIX ? "unix" : e->proto == EDGE_MCP_HTTP ? "http" : "stdio";
		obs->arguments = edge_detail(e);
		obs->arg_shapes = edge_mcp(e) ? edge_mcp(e)->arg_shapes : NULL;
	}
	if (e->kind == EDGE_LLM) {
		obs->proto = e->proto ? "h2" : "http/1.1";
		obs->dest_class = edge_detail(e); /* the model */
		obs->llm_tools_offered = e->open_flags & EDGE_LLM_F_TOOLS;
	}
}

/* Seen again, or by more, since it was last fed: checked before the
 * identity is resolved, so an unchanged edge costs no resolution. */
static bool has_growth(const struct edge *e)
{
	const struct edge_mcp *m = edge_mcp(e);

	/* an answer comes after its call was fed, and a link may come after
	 * the edge was: both are growth */
	if (m && (m->responses > m->fed_responses || (m->server && !m->fed_via)))
		return true;
	return edge_count(e) > e->fed_count || e->last_ns > e->fed_last_ns;
}

/* Sends an edge's growth since fed_* (has_growth() is true). */
static void feed_edge(struct ledger *l, struct edge *e, const struct identity *id, int64_t boot_to_unix_ms,
		      struct feed_stats *stats)
{
	uint64_t total = edge_count(e);
	struct ledger_obs obs;
	char tool[256];
	bool any = false;

	fill_obs(&obs, e, id, boot_to_unix_ms, tool);
	if (edge_mcp(e)) {
		/* answers go with the first record below, once */
		obs.mcp_responses_delta = edge_mcp(e)->responses - edge_mcp(e)->fed_responses;
		obs.mcp_errors_delta = edge_mcp(e)->errors - edge_mcp(e)->fed_errors;
	}
	if (e->kind == EDGE_EGRESS) {
		/* one record per outcome, each with its own growth */
		for (int t = 1; t < (int)(sizeof(outcome_names) / sizeof(outcome_names[0])) && t < EDGE_MAX_TAGS; t++) {
			uint64_t now = edge_count_tag(e, t), fed = edge_fed_tag(e, t);

			if (now <= fed)
				continue;
			obs.outcome = outcome_names[t];
			obs.count_delta = now - fed;
			if (ledger_record(l, &obs) != 0)
				stats->record_errors++;
			obs.mcp_responses_delta = obs.mcp_errors_delta = 0;
			edge_set_fed_tag(e, t); /* consumed either way, as below */
			any = true;
		}
	}
	if (!any) {
		obs.count_delta = total > e->fed_count ? total - e->fed_count : 0;
		/* a refusal (cap) is counted once by the ledger; the growth is
		 * consumed either way, or every feed would count it again */
		if (ledger_record(l, &obs) != 0)
			stats->record_errors++;
	}
	/* every other executable that produced the edge joins the ledger's set
	 * (count 0: the growth was recorded above) */
	obs.mcp_responses_delta = obs.mcp_errors_delta = 0;
	for (size_t i = 0; i < e->n_exes; i++) {
		if (obs.executable && strcmp(e->exes[i], obs.executable) == 0)
			continue;
		obs.executable = e->exes[i];
		obs.count_delta = 0;
		obs.outcome = NULL;
		if (ledger_record(l, &obs) != 0)
			stats->record_errors++;
	}
	e->fed_count = total;
	e->fed_last_ns = e->last_ns;
	edge_mcp_set_fed(e);
}

void ledger_feed(struct observed *o, struct ledger *l, feed_resolve_fn resolve, void *ctx,
		 int64_t boot_to_unix_ms, struct feed_stats *stats)
{
	struct cgroup_reach **cg;
	size_t n = observed_cgroups(o, &cg);

	memset(stats, 0, sizeof(*stats));
	for (size_t i = 0; i < n; i++) {
		struct identity id;
		bool resolved = false;
		uint32_t resolved_uid = 0;

		for (size_t j = 0; j < cg[i]->n_edges; j++) {
			struct edge *e = cg[i]->edges[j];

			if (e->kind == EDGE_TLS || !has_growth(e))
				continue; /* TLS: coverage, not reach, reported by the agent itself */
			/* one resolution per (cgroup, uid) and pass: edges of a cgroup
			 * mostly share their uid */
			if (!resolved || resolved_uid != e->proc->uid) {
				if (resolve(ctx, cg[i], e->proc->uid, &id) != 0) {
					resolved = false;
					continue;
				}
				resolved = true;
				resolved_uid = e->proc->uid;
			}
			if (id.state == IDENTITY_PENDING) {
				stats->edges_held++;
				continue;
			}
			feed_edge(l, e, &id, boot_to_unix_ms, stats);
			stats->edges_fed++;
		}
	}
}

size_t ledger_feed_evict(struct observed *o, struct ledger *l, feed_resolve_fn resolve, void *ctx,
			 int64_t boot_to_unix_ms, dedup_take_fn take, void *take_ctx, size_t n_wanted,
			 struct feed_stats *stats)
{
	struct observed_victim *v = NULL;
	size_t n = n_wanted ? observed_least_recent(o, &v) : 0, evicted = 0;

	for (size_t i = 0; i < n && evicted < n_wanted; i++) {
		struct edge *e = v[i].edge;
		struct identity id;

		if (resolve(ctx, v[i].cgroup, e->proc->uid, &id) != 0 || id.state == IDENTITY_PENDING)
			continue; /* not in the ledger: it stays until it can be fed */
		/* the final counts, then the keys are gone: the edge's next
		 * occurrence is an event and a new edge */
		observed_take_final(e, take, take_ctx);
		if (has_growth(e))
			feed_edge(l, e, &id, boot_to_unix_ms, stats);
		observed_mark_evicted(e);
		evicted++;
	}
	free(v);
	observed_sweep(o);
	return evicted;
}

void ledger_feed_pending_view(struct observed *o, struct ledger *view, feed_resolve_fn resolve, void *ctx,
			      int64_t boot_to_unix_ms)
{
	struct cgroup_reach **cg;
	size_t n = observed_cgroups(o, &cg);

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < cg[i]->n_edges; j++) {
			struct edge *e = cg[i]->edges[j];
			struct identity id;
			struct ledger_obs obs;
			char tool[256];

			if (e->kind == EDGE_TLS || resolve(ctx, cg[i], e->proc->uid, &id) != 0 || id.state != IDENTITY_PENDING)
				continue;
			fill_obs(&obs, e, &id, boot_to_unix_ms, tool);
			if (e->kind == EDGE_EGRESS) { /* per outcome, as ledger_feed does */
				for (int t = 1; t < (int)(sizeof(outcome_names) / sizeof(outcome_names[0])); t++) {
					if (!(obs.count_delta = edge_count_tag(e, t)))
						continue;
					obs.outcome = outcome_names[t];
					ledger_record(view, &obs);
				}
				continue;
			}
			obs.count_delta = edge_count(e);
			ledger_record(view, &obs);
		}
	}
}
