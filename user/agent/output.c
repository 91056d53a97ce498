#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "reach/coverage.h"
#include "reach/dnsnames.h"
#include "agent/output.h"
#include "common/json.h"

static int64_t boot_to_real_ns;

void output_init_clock(void)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	boot_to_real_ns = (rt.tv_sec - bt.tv_sec) * 1000000000LL + (rt.tv_nsec - bt.tv_nsec);
}

void output_format_time(uint64_t boot_ns, char *out, size_t out_size)
{
	int64_t real = (int64_t)boot_ns + boot_to_real_ns;
	time_t sec = real / 1000000000LL;
	struct tm tm;

	gmtime_r(&sec, &tm);
	snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((real % 1000000000LL) / 1000000));
}

/* One table of names, the coverage record's (reach/coverage.h): the
 * summary, status, /metrics and the ledger say the same words. */
const char *output_event_name(int kind) { return coverage_kind_name(kind); }
const char *output_loss_name(int reason) { return coverage_reason_name(reason); }

static json_object *open_flags_json(uint32_t flags)
{
	static const struct { uint32_t bit; const char *name; } bits[] = {
		{ O_CREAT, "O_CREAT" }, { O_EXCL, "O_EXCL" }, { O_NOCTTY, "O_NOCTTY" }, { O_TRUNC, "O_TRUNC" },
		{ O_APPEND, "O_APPEND" }, { O_NONBLOCK, "O_NONBLOCK" }, { O_DSYNC, "O_DSYNC" },
		{ O_DIRECT, "O_DIRECT" }, { O_LARGEFILE, "O_LARGEFILE" }, { O_DIRECTORY, "O_DIRECTORY" },
		{ O_NOFOLLOW, "O_NOFOLLOW" }, { O_NOATIME, "O_NOATIME" }, { O_CLOEXEC, "O_CLOEXEC" },
	};
	json_object *arr = json_object_new_array();

	json_object_array_add(arr, json_object_new_string((flags & O_ACCMODE) == O_RDWR ? "O_RDWR" : "O_RDONLY"));
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (flags & bits[i].bit)
			json_object_array_add(arr, json_object_new_string(bits[i].name));
	return arr;
}

static json_object *edge_json(const struct cgroup_reach *c, const struct edge *e, int with_cgroup)
{
	json_object *o = json_object_new_object();
	char t[40];

	json_add_str(o, "type", edge_kind_name(e->kind));
	if (with_cgroup) {
		json_add_int(o, "cgroup_id", (int64_t)c->cgroup_id);
		json_add_str(o, "cgroup", c->path);
	}
	if (e->kind == EDGE_SECRET) {
		json_add_str(o, "path", e->object);
		json_add_str(o, "category", e->category ? e->category : "");
		json_add_str(o, "requested_path", e->requested_path);
		if (e->content_fp[0]) /* a keyed fingerprint: links the file to the request that sends it */
			json_add_str(o, "content_fingerprint", e->content_fp);
		{
			const char *const *kf;
			uint64_t kf_dropped;
			size_t n_kf = edge_key_fps(e, &kf, &kf_dropped);

			if (n_kf || kf_dropped) { /* "KEY:FINGERPRINT": names and fingerprints, never values */
				json_add(o, "key_fingerprints", json_new_strings(kf, n_kf));
				json_add_u64(o, "key_fingerprints_dropped", kf_dropped);
			}
		}
		json_add(o, "open_flags", open_flags_json(e->open_flags));
	} else if (e->kind == EDGE_EGRESS) {
		static const char *const outcomes[REACH_OUT__MAX] = { "unknown", "established", "refused",
								      "timed_out", "failed", "sent" };
		json_object *oc = json_object_new_object();

		json_add_str(o, "proto", edge_proto_name(e->proto));
		json_add_str(o, "address", e->address ? e->address : "");
		json_add_int(o, "port", e->port);
		json_add_int(o, "source_port", e->source_port);
		if (e->name) {
			json_add_str(o, "name", e->name);
			json_add_int(o, "name_ttl", e->name_ttl);
			json_add(o, "name_source", name_source_name(e->name_source)
							   ? json_object_new_string(name_source_name(e->name_source))
							   : NULL);
		} else {
			json_add(o, "name", NULL);
		}
		json_add_str(o, "class", e->dest_class ? e->dest_class : "external");
		for (int t = 1; t < REACH_OUT__MAX; t++)
			if (edge_count_tag(e, t))
				json_add_int(oc, outcomes[t], (int64_t)edge_count_tag(e, t));
		json_add(o, "outcomes", oc);
	} else if (e->kind == EDGE_TLS) {
		json_add_str(o, "exe", e->object);
		json_add_str(o, "library", e->category ? e->category : "none");
		json_add_str(o, "coverage", e->dest_class ? e->dest_class : "");
		if (edge_detail(e))
			json_add_str(o, "reason", edge_detail(e));
	} else if (e->kind == EDGE_CREDENTIAL && edge_cred(e)) {
		const struct edge_credential *cred = edge_cred(e);

		json_add_str(o, "host", cred->host);
		json_add_int(o, "port", e->port);
		json_add_str(o, "method", cred->method);
		json_add_str(o, "path_template", cred->path_template);
		json_add_str(o, "credential_kind", cred->kind);
		json_add_str(o, "where", cred->where);
		json_add_str(o, "fingerprint", cred->fingerprint);
		if (cred->jwt_iss[0] || cred->jwt_aud[0]) {
			json_add_str(o, "jwt_iss", cred->jwt_iss);
			json_add_str(o, "jwt_aud", cred->jwt_aud);
		}
		json_add_str(o, "special", cred->special);
		json_add_str(o, "source", cred->source);
		json_add_str(o, "proto", cred->proto);
	} else if (e->kind == EDGE_LLM) {
		json_add_str(o, "object", e->object);
		json_add_str(o, "provider", e->category ? e->category : "");
		json_add_str(o, "host", e->name ? e->name : "");
		json_add_str(o, "model", edge_detail(e) ? edge_detail(e) : "");
		json_add_bool(o, "tools_offered", e->open_flags & EDGE_LLM_F_TOOLS);
		json_add_str(o, "proto", e->proto ? "h2" : "http/1.1");
	} else if (e->kind == EDGE_MCP) {
		const char *sp = strrchr(e->object, ' ');

		json_add_str(o, "object", e->object);
		json_add_str(o, "tool", sp ? sp + 1 : e->object);
		if (sp) {
			char server[256];

			snprintf(server, sizeof(server), "%.*s", (int)(sp - e->object), e->object);
			json_add_str(o, "server", server);
		}
		json_add_str(o, "server_info", e->name ? e->name : "");
		json_add_str(o, "arguments", edge_detail(e) ? edge_detail(e) : "");
		/* the values' shapes, never a value: a new edge's line has the first call's */
		json_add_str(o, "argument_shapes", edge_mcp(e) && edge_mcp(e)->arg_shapes ? edge_mcp(e)->arg_shapes : "");
		/* answers matched so far (a new edge's line has none yet; the summary has them) */
		json_add_int(o, "responses", edge_mcp(e) ? (int64_t)edge_mcp(e)->responses : 0);
		json_add_int(o, "errors", edge_mcp(e) ? (int64_t)edge_mcp(e)->errors : 0);
		json_add_str(o, "transport", e->proto == REACH_JSONRPC_UNIX ? "unix" : e->proto == EDGE_MCP_HTTP ? "http" : "stdio");
	} else {
		json_add_str(o, "exe", e->object);
		json_add(o, "argv", json_new_strings(e->argv, e->argc));
		json_add_bool(o, "argv_truncated", e->argv_truncated);
	}
	if (edge_mcp(e) && edge_mcp(e)->server) {
		/* made by an MCP server while it served this call */
		json_add_str(o, "mcp_server", edge_mcp(e)->server);
		json_add_str(o, "mcp_tool", edge_mcp(e)->tool);
	}
	json_add_int(o, "pid", e->proc->pid);
	json_add_int(o, "tgid", e->proc->tgid);
	json_add_int(o, "ppid", e->proc->ppid);
	json_add_int(o, "uid", e->proc->uid);
	json_add_str(o, "comm", e->proc->comm);
	json_add_str(o, "process_exe", e->proc->exe);
	json_add(o, "executables", json_new_strings(e->exes, e->n_exes));
	json_add(o, "lineage", json_new_strings(e->proc->lineage, e->proc->n_lineage));
	json_add_int(o, "count", (int64_t)edge_count(e));
	json_add_int(o, "events", (int64_t)e->events);
	output_format_time(e->first_ns, t, sizeof(t));
	json_add_str(o, "first_seen", t);
	output_format_time(e->last_ns, t, sizeof(t));
	json_add_str(o, "last_seen", t);
	return o;
}

static void print_json(FILE *f, json_object *o)
{
	json_print(f, o, JSON_COMPACT);
	fflush(f);
	json_object_put(o);
}

void output_edge_json(FILE *f, const struct cgroup_reach *c, const struct edge *e)
{
	print_json(f, edge_json(c, e, 1));
}

uint64_t output_loss_total(const struct reach_loss_counters *l, int reason)
{
	uint64_t n = 0;

	for (int k = 0; k < REACH_EV__MAX; k++)
		for (int r = 0; r < REACH_LOSS__MAX; r++)
			if (reason < 0 || r == reason)
				n += l->counters[k][r];
	return n;
}

void output_summary_json(FILE *f, struct observed *obs, const struct run_stats *st)
{
	json_object *o = json_object_new_object(), *ev = json_object_new_object(),
		    *losses = json_object_new_object(), *cgs = json_object_new_array();
	struct cgroup_reach **cg;
	size_t n = observed_cgroups(obs, &cg);

	json_add_str(o, "type", "summary");
	json_add_double(o, "duration_s", st->duration_s);
	for (int k = 1; k < REACH_EV__MAX; k++)
		json_add_int(ev, output_event_name(k), (int64_t)st->events[k]);
	/* losses from kind 0: "other" holds the maps shared by every kind
	 * (the cgroup-verdict cache) */
	for (int k = 0; k < REACH_EV__MAX; k++) {
		json_object *per = json_object_new_object();

		for (int r = 0; r < REACH_LOSS__MAX; r++)
			json_add_int(per, output_loss_name(r), (int64_t)st->losses.counters[k][r]);
		json_add(losses, output_event_name(k), per);
	}
	json_add(o, "events", ev);
	json_add_int(o, "opens_not_secret", (int64_t)st->opens_not_secret);
	json_add_int(o, "opens_filtered_in_kernel", (int64_t)st->opens_filtered_in_kernel);
	json_add_int(o, "opens_sent_by_filter", (int64_t)st->opens_sent_by_filter);
	json_add_int(o, "secret_content_unread", (int64_t)st->secret_content_unread);
	json_add_int(o, "kv_lines_malformed", (int64_t)st->kv_lines_malformed);
	json_add_int(o, "kv_lines_unread", (int64_t)st->kv_lines_unread);
	json_add_int(o, "kv_truncated", (int64_t)st->kv_truncated);
	json_add_int(o, "path_errors", (int64_t)st->path_errors);
	json_add_int(o, "malformed_events", (int64_t)st->malformed_events);
	json_add_int(o, "dns_responses", (int64_t)st->dns_responses);
	json_add_int(o, "dns_malformed", (int64_t)st->dns_malformed);
	json_add_int(o, "dns_truncated", (int64_t)st->dns_truncated);
	json_add_int(o, "dns_names_dropped", (int64_t)st->dns_names_dropped);
	json_add_int(o, "http_requests", (int64_t)st->http_requests);
	json_add_int(o, "http_malformed", (int64_t)st->http_malformed);
	json_add_int(o, "http_truncated", (int64_t)st->http_truncated);
	json_add_int(o, "http_creds_dropped", (int64_t)st->http_creds_dropped);
	json_add_int(o, "http_pieces", (int64_t)st->http_pieces);
	json_add_int(o, "http_pieces_lost", (int64_t)st->http_pieces_lost);
	json_add_int(o, "tls_hello_sni", (int64_t)st->tls_hello_sni);
	json_add_int(o, "tls_hello_sni_named", (int64_t)st->tls_hello_sni_named);
	json_add_int(o, "tls_before_probe", (int64_t)st->tls_before_probe);
	json_add_int(o, "h2_undecodable", (int64_t)st->h2_undecodable);
	json_add_int(o, "h2_requests", (int64_t)st->h2_requests);
	json_add_int(o, "h2_malformed", (int64_t)st->h2_malformed);
	json_add_int(o, "jsonrpc_messages", (int64_t)st->jsonrpc_messages);
	json_add_int(o, "jsonrpc_malformed", (int64_t)st->jsonrpc_malformed);
	json_add_int(o, "jsonrpc_truncated", (int64_t)st->jsonrpc_truncated);
	json_add_int(o, "mcp_calls", (int64_t)st->mcp_calls);
	json_add_int(o, "mcp_calls_undecoded", (int64_t)st->mcp_calls_undecoded);
	json_add_int(o, "mcp_arg_shapes_cut", (int64_t)st->mcp_arg_shapes_cut);
	json_add_int(o, "mcp_arg_shapes_dropped", (int64_t)st->mcp_arg_shapes_dropped);
	json_add_int(o, "mcp_responses", (int64_t)st->mcp_responses);
	json_add_int(o, "mcp_responses_unmatched", (int64_t)st->mcp_responses_unmatched);
	json_add_int(o, "mcp_calls_unanswered", (int64_t)st->mcp_calls_unanswered);
	json_add_int(o, "http_bodies", (int64_t)st->http_bodies);
	json_add_int(o, "http_bodies_orphan", (int64_t)st->http_bodies_orphan);
	json_add_int(o, "h2_bodies_unpaired", (int64_t)st->h2_bodies_unpaired);
	json_add_int(o, "http_bodies_malformed", (int64_t)st->http_bodies_malformed);
	json_add_int(o, "llm_calls", (int64_t)st->llm_calls);
	json_add_int(o, "llm_model_unseen", (int64_t)st->llm_model_unseen);
	json_add_int(o, "observed_edges_dropped", (int64_t)st->observed_edges_dropped);
	json_add_int(o, "observed_edges_evicted", (int64_t)st->observed_edges_evicted);
	json_add(o, "losses", losses);
	json_add_int(o, "events_lost", (int64_t)output_loss_total(&st->losses, REACH_LOSS_RINGBUF_FULL));
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_new_object(), *secrets = json_object_new_array(),
			    *tools = json_object_new_array(), *egress = json_object_new_array(),
			    *credentials = json_object_new_array(), *tls = json_object_new_array(),
			    *mcp = json_object_new_array(), *llm = json_object_new_array();

		json_add_int(c, "cgroup_id", (int64_t)cg[i]->cgroup_id);
		json_add_str(c, "cgroup", cg[i]->path);
		for (size_t j = 0; j < cg[i]->n_edges; j++) {
			struct edge *e = cg[i]->edges[j];

			json_object *dst = e->kind == EDGE_SECRET ? secrets : e->kind == EDGE_TOOL ? tools :
					   e->kind == EDGE_EGRESS ? egress : e->kind == EDGE_CREDENTIAL ? credentials :
					   e->kind == EDGE_MCP ? mcp : e->kind == EDGE_LLM ? llm : tls;

			json_object_array_add(dst, edge_json(cg[i], e, 0));
		}
		json_add(c, "secrets", secrets);
		json_add(c, "tools", tools);
		json_add(c, "egress", egress);
		json_add(c, "credentials", credentials);
		json_add(c, "tls", tls);
		json_add(c, "mcp_tools", mcp);
		json_add(c, "llm_calls", llm);
		json_object_array_add(cgs, c);
	}
	json_add(o, "cgroups", cgs);
	print_json(f, o);
}

static const char *basename_of(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static void print_egress_text(FILE *f, const struct cgroup_reach *c)
{
	size_t shown = 0;

	for (size_t j = 0; j < c->n_edges; j++) {
		const struct edge *e = c->edges[j];
		char dest[320];

		if (e->kind != EDGE_EGRESS)
			continue;
		if (!shown++)
			fprintf(f, "    egress:\n");
		if (e->name)
			snprintf(dest, sizeof(dest), "%s:%u (%s%s)", e->name, e->port, e->address,
				 e->name_source == NAME_SOURCE_SNI ? ", sni" : "");
		else
			snprintf(dest, sizeof(dest), "%s:%u", e->address, e->port);
		fprintf(f, "      %s %-46s %-14s x%-6" PRIu64 " %s%s\n", edge_proto_name(e->proto), dest,
			e->dest_class, edge_count(e), basename_of(e->proc->exe[0] ? e->proc->exe : e->proc->comm),
			edge_count_tag(e, REACH_OUT_REFUSED) ? " (refused)" : "");
	}
}

void output_summary_text(FILE *f, struct observed *obs, const struct run_stats *st)
{
	struct cgroup_reach **cg;
	size_t n = observed_cgroups(obs, &cg);
	uint64_t lost = output_loss_total(&st->losses, REACH_LOSS_RINGBUF_FULL);

	fprintf(f, "\nObserved reach (%.1f s, %" PRIu64 " events):\n", st->duration_s,
		st->events[REACH_EV_FILE_OPEN] + st->events[REACH_EV_EXEC] + st->events[REACH_EV_FORK] +
			st->events[REACH_EV_EXIT]);
	if (n == 0)
		fprintf(f, "  nothing observed\n");
	for (size_t i = 0; i < n; i++) {
		size_t secrets = 0, tools = 0;

		fprintf(f, "\n  cgroup %s (id %" PRIu64 ")\n", cg[i]->path, cg[i]->cgroup_id);
		for (size_t j = 0; j < cg[i]->n_edges; j++) {
			struct edge *e = cg[i]->edges[j];

			if (e->kind != EDGE_SECRET)
				continue;
			if (!secrets++)
				fprintf(f, "    secrets read:\n");
			fprintf(f, "      %-16s %-56s x%-6" PRIu64 " by %s (pid %u, uid %u)\n", e->category, e->object,
				edge_count(e), basename_of(e->proc->exe[0] ? e->proc->exe : e->proc->comm), e->proc->tgid, e->proc->uid);
		}
		for (size_t j = 0; j < cg[i]->n_edges; j++) {
			struct edge *e = cg[i]->edges[j];
			char chain[512] = "";
			size_t len = 0;

			if (e->kind != EDGE_TOOL)
				continue;
			if (!tools++)
				fprintf(f, "    tools executed:\n");
			for (size_t k = 0; k < e->proc->n_lineage && len < sizeof(chain); k++)
				len += snprintf(chain + len, sizeof(chain) - len, "%s%s", k ? " -> " : "",
						basename_of(e->proc->lineage[k]));
			fprintf(f, "      %-40s x%-6" PRIu64 " %s\n", e->object, edge_count(e), chain);
		}
		for (size_t j = 0, mcp = 0; j < cg[i]->n_edges; j++) {
			struct edge *e = cg[i]->edges[j];
			char call[300];

			if (e->kind != EDGE_MCP)
				continue;
			if (!mcp++)
				fprintf(f, "    MCP tool calls (server tool(argument names)):\n");
			snprintf(call, sizeof(call), "%s(%s)", e->object, edge_detail(e) ? edge_detail(e) : "");
			fprintf(f, "      %-40s x%-6" PRIu64 " by %s\n", call, edge_count(e),
				basename_of(e->proc->exe[0] ? e->proc->exe : e->proc->comm));
		}
		print_egress_text(f, cg[i]);
	}
	if (st->observed_edges_evicted)
		fprintf(f, "\n  %" PRIu64 " edges were moved out of memory to the ledger alone (not listed above: "
			"reachctl reach)\n", st->observed_edges_evicted);
	fprintf(f, "\n  losses: ");
	if (output_loss_total(&st->losses, -1) == 0) {
		fprintf(f, "none\n");
	} else {
		fprintf(f, "%" PRIu64 " events lost (ring buffer full)", lost);
		for (int r = 1; r < REACH_LOSS__MAX; r++)
			fprintf(f, ", %s %" PRIu64, output_loss_name(r), output_loss_total(&st->losses, r));
		fprintf(f, "\n");
	}
	fflush(f);
}
