/* The per-kind fields of an edge: ONE table for JSON, YAML, the per-kind
 * tables and the dot graph of reachctl. Adding a field is one line in
 * edge_fields[] (and an accessor when no existing one reads it). Fields
 * carry what the edge already holds: fingerprints, never a credential or
 * an argument value (the agent never had them past the fingerprint). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "common/json.h"
#include "reach/edge_fields.h"

int credential_object_parse(const char *object, struct credential_object *out)
{
	const char *p, *sp1, *sp2, *last, *end;
	size_t l;

	if (!object || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	end = object + strlen(object);
	/* an optional " fp:FP" at the end */
	last = strrchr(object, ' ');
	if (last && !strncmp(last + 1, "fp:", 3)) {
		if (strlen(last + 4) >= sizeof(out->fingerprint))
			return -EINVAL;
		strcpy(out->fingerprint, last + 4);
		end = last;
	}
	/* HOST ' ' METHOD ' ' PATH ' ' KIND: host and method from the left,
	 * kind after the last space, the path (possibly empty) in between */
	if (!(sp1 = memchr(object, ' ', (size_t)(end - object))))
		return -EINVAL;
	p = sp1 + 1;
	if (!(sp2 = memchr(p, ' ', (size_t)(end - p))))
		return -EINVAL;
	for (last = end; last > sp2 + 1 && last[-1] != ' '; last--)
		;
	if (last <= sp2 + 1) /* no space after the method's: "HOST METHOD KIND" */
		return -EINVAL;
	if ((l = (size_t)(sp1 - object)) >= sizeof(out->host))
		return -EINVAL;
	memcpy(out->host, object, l);
	if ((l = (size_t)(sp2 - p)) >= sizeof(out->method) || !l)
		return -EINVAL;
	memcpy(out->method, p, l);
	if ((l = (size_t)(last - 1 - (sp2 + 1))) >= sizeof(out->path_template))
		return -EINVAL;
	memcpy(out->path_template, sp2 + 1, l);
	if ((l = (size_t)(end - last)) >= sizeof(out->kind) || !l)
		return -EINVAL;
	memcpy(out->kind, last, l);
	return 0;
}

static json_object *str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

/* secret */
static json_object *f_object(const struct edge_field_view *v) { return str_or_null(v->e->object); }
static json_object *f_category(const struct edge_field_view *v) { return str_or_null(v->e->category); }
static json_object *f_opened_as(const struct edge_field_view *v) { return str_or_null(v->e->opened_as); }
static json_object *f_content_fp(const struct edge_field_view *v) { return str_or_null(v->e->content_fingerprint); }

/* egress: "PROTO/ADDR/PORT"; port and proto from the edge when it has them */
static json_object *f_addr(const struct edge_field_view *v) { return str_or_null(v->addr); }
static json_object *f_port(const struct edge_field_view *v)
{
	const char *s = v->e->kind == LEDGER_EGRESS && v->e->object ? strrchr(v->e->object, '/') : NULL;

	if (v->e->port)
		return json_object_new_int64(v->e->port);
	return s && s[1] ? json_object_new_int64(strtol(s + 1, NULL, 10)) : NULL;
}
static json_object *f_proto(const struct edge_field_view *v)
{
	const char *o = v->e->object, *s = o ? strchr(o, '/') : NULL;

	if (v->e->proto && *v->e->proto)
		return json_object_new_string(v->e->proto);
	return v->e->kind == LEDGER_EGRESS && s && s > o && s - o < 8 ? json_object_new_string_len(o, (int)(s - o)) : NULL;
}
static json_object *f_name(const struct edge_field_view *v) { return str_or_null(v->e->name); }
static json_object *f_dest_class(const struct edge_field_view *v) { return str_or_null(v->e->dest_class); }

/* credential: the object's parts; host and kind as the ledger keeps them when it does */
static json_object *f_cred_host(const struct edge_field_view *v)
{
	return str_or_null(v->e->name && *v->e->name ? v->e->name : v->cred.host);
}
static json_object *f_cred_method(const struct edge_field_view *v) { return str_or_null(v->cred.method); }
static json_object *f_cred_path(const struct edge_field_view *v) { return str_or_null(v->cred.path_template); }
static json_object *f_cred_kind(const struct edge_field_view *v)
{
	return str_or_null(v->e->category && *v->e->category ? v->e->category : v->cred.kind);
}
static json_object *f_cred_fp(const struct edge_field_view *v) { return str_or_null(v->cred.fingerprint); }

/* tool: "EXE" or "EXE PROGRAM" (reach/proctree.h) */
static json_object *f_exe(const struct edge_field_view *v) { return str_or_null(v->exe); }
static json_object *f_program(const struct edge_field_view *v) { return str_or_null(v->program); }

/* mcp-tool (reach/ledger.h): name the server program, category the tool,
 * dest_class its serverInfo.name, proto the transport */
static json_object *f_arguments(const struct edge_field_view *v) { return str_or_null(v->e->arguments); }
/* the argument values' shapes (path templates, hosts, fingerprints): never a value */
static json_object *f_arg_shapes(const struct edge_field_view *v) { return str_or_null(v->e->arg_shapes); }
/* answers matched to its calls, and how many were errors (counts only) */
static json_object *f_mcp_responses(const struct edge_field_view *v) { return json_object_new_int64((int64_t)v->e->mcp_responses); }
static json_object *f_mcp_errors(const struct edge_field_view *v) { return json_object_new_int64((int64_t)v->e->mcp_errors); }

/* egress: where its name came from ("dns" or "sni") */
static json_object *f_name_source(const struct edge_field_view *v) { return str_or_null(v->e->name_source); }

/* any kind: the MCP call (server/tool) this edge was an effect of */
static json_object *f_via(const struct edge_field_view *v)
{
	char buf[512];

	if (!v->e->mcp_server || !*v->e->mcp_server)
		return NULL;
	snprintf(buf, sizeof(buf), "%s/%s", v->e->mcp_server, v->e->mcp_tool ? v->e->mcp_tool : "");
	return json_object_new_string(buf);
}

/* llm (reach/ledger.h): category the provider, name the host, dest_class
 * the model ("?" when its body was not read), proto http/1.1 or h2 */
static json_object *f_tools_offered(const struct edge_field_view *v) { return json_object_new_boolean(v->e->llm_tools_offered); }

const struct edge_field edge_fields[] = {
	{ LEDGER_SECRET, "path", f_object },
	{ LEDGER_SECRET, "category", f_category },
	{ LEDGER_SECRET, "opened_as", f_opened_as },
	{ LEDGER_SECRET, "content_fingerprint", f_content_fp },
	{ LEDGER_TOOL, "exe", f_exe },
	{ LEDGER_TOOL, "program", f_program },
	{ LEDGER_EGRESS, "proto", f_proto },
	{ LEDGER_EGRESS, "addr", f_addr },
	{ LEDGER_EGRESS, "port", f_port },
	{ LEDGER_EGRESS, "name", f_name },
	{ LEDGER_EGRESS, "class", f_dest_class },
	{ LEDGER_CREDENTIAL, "host", f_cred_host },
	{ LEDGER_CREDENTIAL, "method", f_cred_method },
	{ LEDGER_CREDENTIAL, "path", f_cred_path },
	{ LEDGER_CREDENTIAL, "kind", f_cred_kind },
	{ LEDGER_CREDENTIAL, "fingerprint", f_cred_fp },
	{ LEDGER_CREDENTIAL, "special", f_dest_class },
	{ LEDGER_DNS, "name", f_object },
	{ LEDGER_MCP_TOOL, "server", f_name },
	{ LEDGER_MCP_TOOL, "tool", f_category },
	{ LEDGER_MCP_TOOL, "server_name", f_dest_class },
	{ LEDGER_MCP_TOOL, "transport", f_proto },
	{ LEDGER_MCP_TOOL, "arguments", f_arguments },
	{ LEDGER_MCP_TOOL, "argument_shapes", f_arg_shapes, true },
	{ LEDGER_MCP_TOOL, "responses", f_mcp_responses },
	{ LEDGER_MCP_TOOL, "errors", f_mcp_errors },
	{ LEDGER_EGRESS, "name_source", f_name_source, true },
	{ LEDGER_LLM, "provider", f_category },
	{ LEDGER_LLM, "host", f_name },
	{ LEDGER_LLM, "model", f_dest_class },
	{ LEDGER_LLM, "tools_offered", f_tools_offered },
	{ LEDGER_LLM, "proto", f_proto },
	/* an effect of an MCP tools/call: every kind an MCP server's work can make */
	{ LEDGER_SECRET, "via", f_via, true },
	{ LEDGER_TOOL, "via", f_via, true },
	{ LEDGER_EGRESS, "via", f_via, true },
	{ LEDGER_CREDENTIAL, "via", f_via, true },
	{ LEDGER_MCP_TOOL, "via", f_via, true },
};
const size_t n_edge_fields = sizeof(edge_fields) / sizeof(edge_fields[0]);

static void view_of(const struct ledger_edge *e, struct edge_field_view *v)
{
	const char *o = e->object ? e->object : "";

	memset(v, 0, sizeof(*v));
	v->e = e;
	if (e->kind == LEDGER_CREDENTIAL) {
		if (credential_object_parse(o, &v->cred))
			memset(&v->cred, 0, sizeof(v->cred)); /* an object of another shape: only the ledger's fields */
	} else if (e->kind == LEDGER_EGRESS) {
		const char *s1 = strchr(o, '/'), *s2 = strrchr(o, '/');

		if (s1 && s2 > s1 + 1 && (size_t)(s2 - s1 - 1) < sizeof(v->addr))
			snprintf(v->addr, sizeof(v->addr), "%.*s", (int)(s2 - s1 - 1), s1 + 1);
	} else if (e->kind == LEDGER_TOOL) {
		size_t n = strcspn(o, " ");

		snprintf(v->exe, sizeof(v->exe), "%.*s", (int)(n < sizeof(v->exe) - 1 ? n : sizeof(v->exe) - 1), o);
		v->program = o[n] ? o + n + 1 : NULL;
	}
}

static json_object *fields_json(const struct ledger_edge *e)
{
	json_object *f = json_object_new_object();
	struct edge_field_view v;

	if (!f)
		return NULL;
	view_of(e, &v);
	for (size_t i = 0; i < n_edge_fields; i++)
		if (edge_fields[i].kind == e->kind &&
		    json_object_object_add(f, edge_fields[i].name, edge_fields[i].get(&v))) {
			json_object_put(f);
			return NULL;
		}
	return f;
}

json_object *edge_fields_json(const struct ledger_edge *e)
{
	return e ? fields_json(e) : NULL;
}

json_object *edge_fields_of_object(const char *kind, const char *object)
{
	struct ledger_edge e = { 0 };
	int k = kind ? ledger_kind_from_name(kind) : -1;

	if (k <= 0)
		return json_object_new_object(); /* a finding about no edge (an expired exception): no fields */
	e.kind = (enum ledger_kind)k;
	e.object = (char *)object;
	return fields_json(&e);
}

json_object *edge_fields_of_json(json_object *j)
{
	struct ledger_edge e = { 0 };
	int k = ledger_kind_from_name(json_get_str(j, "kind", ""));

	if (k <= 0)
		return json_object_new_object();
	e.kind = (enum ledger_kind)k;
	/* the edge's strings, borrowed for the call (NULL when absent or null) */
	e.object = (char *)json_get_str(j, "object", NULL);
	e.category = (char *)json_get_str(j, "category", NULL);
	e.dest_class = (char *)json_get_str(j, "dest_class", NULL);
	e.name = (char *)json_get_str(j, "name", NULL);
	e.proto = (char *)json_get_str(j, "proto", NULL);
	e.content_fingerprint = (char *)json_get_str(j, "content_fingerprint", NULL);
	e.opened_as = (char *)json_get_str(j, "opened_as", NULL);
	e.arguments = (char *)json_get_str(j, "arguments", NULL);
	e.arg_shapes = (char *)json_get_str(j, "arg_shapes", NULL);
	e.name_source = (char *)json_get_str(j, "name_source", NULL);
	e.mcp_server = (char *)json_get_str(j, "mcp_server", NULL);
	e.mcp_tool = (char *)json_get_str(j, "mcp_tool", NULL);
	e.mcp_responses = (uint64_t)json_get_int(j, "mcp_responses", 0);
	e.mcp_errors = (uint64_t)json_get_int(j, "mcp_errors", 0);
	e.llm_tools_offered = json_get_bool(j, "llm_tools_offered", false);
	e.port = (uint32_t)json_get_int(j, "port", 0);
	return fields_json(&e);
}

void edge_fields_annotate(json_object *doc)
{
	static const char *const lists[] = { "edges", "appeared", "disappeared" };
	json_object *ids = json_get(doc, "identities", json_type_array);

	for (size_t i = 0; ids && i < json_object_array_length(ids); i++) {
		json_object *id = json_object_array_get_idx(ids, i);

		for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
			json_object *edges = json_get(id, lists[l], json_type_array);

			for (size_t j = 0; edges && j < json_object_array_length(edges); j++) {
				json_object *e = json_object_array_get_idx(edges, j);

				json_object_object_add(e, "fields", edge_fields_of_json(e));
			}
		}
	}
}
