/* reachctl's views: a table per edge kind with a column per field of
 * reach/edge_fields.h (reach, diff, findings, verify), rotate's and
 * status's tables, and the Graphviz graph of a reach document. They read the
 * JSON documents the agent answers (or reachctl builds from a ledger file),
 * so an agent and a reachctl of different versions still agree on what is
 * printed; they print on stdout. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/json.h"
#include "common/table.h"
#include "reach/edge_fields.h"
#include "reach/edge_view.h"

/* "3m ago", "2h ago": how long ago, for people (tables only; JSON and YAML
 * carry RFC 3339) */
static void format_age(int64_t unix_ms, char *out, size_t n)
{
	int64_t s = (int64_t)time(NULL) - unix_ms / 1000;

	if (unix_ms <= 0)
		snprintf(out, n, "-");
	else if (s < 60)
		snprintf(out, n, "%" PRId64 "s ago", s < 0 ? 0 : s);
	else if (s < 3600)
		snprintf(out, n, "%" PRId64 "m ago", s / 60);
	else if (s < 86400)
		snprintf(out, n, "%" PRId64 "h ago", s / 3600);
	else
		snprintf(out, n, "%" PRId64 "d ago", s / 86400);
}

/* What the rows of an edge table are: reach's edges, a diff's appeared and
 * disappeared edges, findings (the edge a finding is about). */
enum edge_view { VIEW_REACH, VIEW_DIFF, VIEW_FINDINGS };

struct edge_row {
	const char *identity;
	json_object *e;   /* the edge or the finding; its "fields" the kind's columns */
	const char *lead; /* diff: "+"/"-"; findings: the severity */
};

static const char *row_kind(const struct edge_row *r, enum edge_view view)
{
	return json_get_str(r->e, view == VIEW_FINDINGS ? "edge_kind" : "kind", "");
}

/* The executables of an edge as people read them: basenames (wide and
 * -o json keep full paths). */
static void exe_cell(json_object *e, bool wide, char *out, size_t n)
{
	json_object *exes = json_get(e, "executables", json_type_array);
	size_t len = 0;

	out[0] = '\0';
	for (size_t k = 0; exes && k < json_object_array_length(exes) && len < n; k++) {
		const char *exe = json_object_get_string(json_object_array_get_idx(exes, k));
		const char *base = exe ? strrchr(exe, '/') : NULL;

		len += snprintf(out + len, n - len, "%s%s", k ? "," : "", wide || !base ? (exe ? exe : "") : base + 1);
	}
}

static char *upper_dup(const char *s)
{
	char *u = strdup(s);

	for (char *p = u; p && *p; p++)
		*p = *p >= 'a' && *p <= 'z' ? (char)(*p - 32) : *p;
	return u;
}

/* Whether a row of kind has a non-null field name (a sparse column is shown
 * only then: "via" is empty on most edges). */
static bool any_value(const struct edge_row *rows, size_t n, const char *kind, enum edge_view view, const char *name)
{
	for (size_t r = 0; r < n; r++) {
		json_object *fields = json_get(rows[r].e, "fields", json_type_object), *v;

		if (!strcmp(row_kind(&rows[r], view), kind) && fields && json_object_object_get_ex(fields, name, &v) && v)
			return true;
	}
	return false;
}

#define MAX_COLS 32
#define MAX_FIELD_COLS 16

static void print_kind_table(const struct edge_row *rows, size_t n, const char *kind, enum edge_view view, bool wide)
{
	const char *hdr[MAX_COLS], *cell[MAX_COLS], *field_names[MAX_FIELD_COLS];
	char *owned[MAX_FIELD_COLS], buf[MAX_COLS][512];
	size_t nh = 0, nf = 0, listed = 0;
	int k = *kind ? ledger_kind_from_name(kind) : -1;
	struct table *t;

	if (view == VIEW_DIFF)
		hdr[nh++] = "CHANGE";
	if (view == VIEW_FINDINGS) {
		hdr[nh++] = "SEVERITY";
		hdr[nh++] = "FINDING";
	}
	hdr[nh++] = "IDENTITY";
	for (size_t i = 0; i < n_edge_fields && nf < MAX_FIELD_COLS; i++)
		if ((int)edge_fields[i].kind == k && (!edge_fields[i].sparse || any_value(rows, n, kind, view, edge_fields[i].name)) &&
		    (owned[nf] = upper_dup(edge_fields[i].name))) {
			field_names[nf] = edge_fields[i].name;
			hdr[nh++] = owned[nf++];
		}
	if (!nf) /* a finding about no edge: its object */
		hdr[nh++] = "OBJECT";
	if (view != VIEW_FINDINGS)
		hdr[nh++] = "COUNT";
	if (view == VIEW_REACH && k == LEDGER_EGRESS)
		hdr[nh++] = "OUTCOMES";
	if (wide)
		hdr[nh++] = "FIRST";
	hdr[nh++] = "LAST";
	if (wide && view == VIEW_REACH) {
		hdr[nh++] = "EPOCH";
		hdr[nh++] = "PODS";
	}
	if (view == VIEW_FINDINGS) {
		if (wide) {
			hdr[nh++] = "ID";
			hdr[nh++] = "POLICY";
		}
		hdr[nh++] = "MESSAGE";
	} else {
		hdr[nh++] = "EXECUTABLES";
	}
	if (!(t = table_new(nh, hdr)))
		goto out;
	for (size_t r = 0; r < n; r++) {
		json_object *e = rows[r].e, *fields = json_get(e, "fields", json_type_object), *v;
		size_t c = 0, b = 0;

		if (strcmp(row_kind(&rows[r], view), kind) != 0)
			continue;
		if (view == VIEW_DIFF || view == VIEW_FINDINGS)
			cell[c++] = rows[r].lead;
		if (view == VIEW_FINDINGS)
			cell[c++] = json_get_str(e, "kind", "");
		cell[c++] = rows[r].identity;
		for (size_t f = 0; f < nf; f++, b++) {
			if (!fields || !json_object_object_get_ex(fields, field_names[f], &v))
				v = NULL;
			table_cell_of_json(v, buf[b], sizeof(buf[b]));
			cell[c++] = buf[b];
		}
		if (!nf)
			cell[c++] = *json_get_str(e, "object", "") ? json_get_str(e, "object", "") : "-";
		if (view != VIEW_FINDINGS) {
			snprintf(buf[b], sizeof(buf[b]), "%" PRId64, json_get_int(e, "count", 0));
			cell[c++] = buf[b++];
		}
		if (view == VIEW_REACH && k == LEDGER_EGRESS) {
			table_cell_of_json(json_get(e, "outcomes", json_type_object), buf[b], sizeof(buf[b]));
			cell[c++] = buf[b++];
		}
		if (wide)
			cell[c++] = *json_get_str(e, "first_seen", "") ? json_get_str(e, "first_seen", "") : "-";
		format_age(json_get_int(e, "last_seen_ms", 0), buf[b], sizeof(buf[b]));
		cell[c++] = buf[b++];
		if (wide && view == VIEW_REACH) {
			cell[c++] = *json_get_str(e, "last_epoch", "") ? json_get_str(e, "last_epoch", "") : "-";
			table_cell_of_json(json_get(e, "pods", json_type_array), buf[b], sizeof(buf[b]));
			cell[c++] = buf[b++];
		}
		if (view == VIEW_FINDINGS) {
			if (wide) {
				cell[c++] = json_get_str(e, "id", "-");
				cell[c++] = *json_get_str(e, "policy_ref", "") ? json_get_str(e, "policy_ref", "") : "-";
			}
			cell[c++] = json_get_str(e, "message", "");
		} else {
			exe_cell(e, wide, buf[b], sizeof(buf[b]));
			cell[c++] = *buf[b] ? buf[b] : "-";
			b++;
		}
		if (table_add_row(t, cell) == 0)
			listed++;
	}
	if (listed) {
		printf("%s (%zu)\n", *kind ? kind : "other", listed);
		table_print(t, stdout);
	}
out:
	table_free(t);
	for (size_t i = 0; i < nf; i++)
		free(owned[i]);
}

/* Every kind that has rows, in the ledger's kind order, a blank line between
 * tables; findings about no edge last ("other"). */
static void print_edge_tables(const struct edge_row *rows, size_t n, enum edge_view view, bool wide)
{
	static const char *const order[] = { "secret", "tool", "egress", "credential", "dns", "mcp-tool", "llm", "" };
	size_t n_order = sizeof(order) / sizeof(order[0]), unknown = 0;
	bool printed = false;

	for (size_t i = 0; i < n_order; i++) {
		bool any = false;

		for (size_t r = 0; r < n && !any; r++)
			any = !strcmp(row_kind(&rows[r], view), order[i]);
		if (!any)
			continue;
		if (printed)
			putchar('\n');
		print_kind_table(rows, n, order[i], view, wide);
		printed = true;
	}
	/* kinds this reachctl does not know (a newer agent): counted, not hidden */
	for (size_t r = 0; r < n; r++) {
		bool known = false;

		for (size_t i = 0; i < n_order; i++)
			known |= !strcmp(row_kind(&rows[r], view), order[i]);
		unknown += !known;
	}
	if (unknown)
		printf("%s%zu rows of edge kinds this reachctl does not know: -o json shows them\n", printed ? "\n" : "",
		       unknown);
	else if (!printed)
		printf("%s\n", view == VIEW_FINDINGS ? "no findings" : "no edges");
}

/* The rows of every identities[].KEY[] edge appended to rows (*n of them). */
static struct edge_row *edge_rows(json_object *doc, const char *key, const char *lead, struct edge_row *rows, size_t *n)
{
	json_object *ids = json_get(doc, "identities", json_type_array);

	for (size_t i = 0; ids && i < json_object_array_length(ids); i++) {
		json_object *id = json_object_array_get_idx(ids, i), *edges = json_get(id, key, json_type_array);

		for (size_t j = 0; edges && j < json_object_array_length(edges); j++) {
			struct edge_row *nr = realloc(rows, (*n + 1) * sizeof(*rows));

			if (!nr)
				return rows; /* what fits is printed */
			rows = nr;
			rows[(*n)++] = (struct edge_row){ .identity = json_get_str(id, "identity", ""),
							  .e = json_object_array_get_idx(edges, j), .lead = lead };
		}
	}
	return rows;
}

/* diff -o table: the appeared (+) and disappeared (-) edges */
void edge_view_diff(json_object *doc, bool wide)
{
	struct edge_row *rows = NULL;
	size_t n = 0;

	rows = edge_rows(doc, "appeared", "+", rows, &n);
	rows = edge_rows(doc, "disappeared", "-", rows, &n);
	print_edge_tables(rows, n, VIEW_DIFF, wide);
	free(rows);
	printf("\n%" PRId64 " appeared, %" PRId64 " disappeared, %" PRId64 " unchanged\n", json_get_int(doc, "appeared", 0),
	       json_get_int(doc, "disappeared", 0), json_get_int(doc, "unchanged", 0));
}


void edge_view_findings(json_object *findings, bool wide)
{
	size_t n = findings ? json_object_array_length(findings) : 0;
	struct edge_row *rows = n ? calloc(n, sizeof(*rows)) : NULL;

	for (size_t i = 0; rows && i < n; i++) {
		json_object *f = json_object_array_get_idx(findings, i);

		rows[i] = (struct edge_row){ .identity = json_get_str(f, "identity", ""), .e = f,
					     .lead = json_get_str(f, "severity", "") };
	}
	print_edge_tables(rows, rows ? n : 0, VIEW_FINDINGS, wide);
	free(rows);
}


/* -o dot: identity -> edge, a node per edge labelled by its fields (the
 * same table as the columns), shaped by kind. */
static void dot_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '\n') { /* a line break of a label */
			fputs("\\n", stdout);
			continue;
		}
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar((unsigned char)*s < 0x20 ? ' ' : *s);
	}
	putchar('"');
}

void edge_view_dot(json_object *doc)
{
	static const struct {
		const char *kind, *shape, *color;
	} look[] = {
		{ "secret", "note", "#f4cccc" },      { "tool", "component", "#d9ead3" }, { "egress", "box", "#cfe2f3" },
		{ "credential", "house", "#fff2cc" }, { "dns", "plaintext", "#ffffff" },  { "mcp-tool", "hexagon", "#ead1dc" },
		{ "llm", "ellipse", "#d0e0e3" },
	};
	json_object *ids = json_get(doc, "identities", json_type_array);

	printf("digraph reach {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10, style=filled];\n"
	       "  edge [fontname=\"Helvetica\", fontsize=9];\n");
	for (size_t i = 0; ids && i < json_object_array_length(ids); i++) {
		json_object *id = json_object_array_get_idx(ids, i), *edges = json_get(id, "edges", json_type_array);
		const char *name = json_get_str(id, "identity", "");
		char idn[600], node[1400];

		snprintf(idn, sizeof(idn), "id %s", name);
		printf("  ");
		dot_str(idn);
		printf(" [shape=ellipse, fillcolor=\"#b4a7d6\", label=");
		dot_str(name);
		printf("];\n");
		for (size_t j = 0; edges && j < json_object_array_length(edges); j++) {
			json_object *e = json_object_array_get_idx(edges, j), *fields = json_get(e, "fields", json_type_object);
			const char *kind = json_get_str(e, "kind", ""), *shape = "box", *color = "#eeeeee";
			char label[1200];
			size_t len = (size_t)snprintf(label, sizeof(label), "%s", kind);

			for (size_t l = 0; l < sizeof(look) / sizeof(look[0]); l++)
				if (!strcmp(look[l].kind, kind)) {
					shape = look[l].shape;
					color = look[l].color;
				}
			if (fields) {
				json_object_object_foreach(fields, fk, fv)
				{
					char c[300];

					if (!fv || len >= sizeof(label))
						continue; /* unknown fields say nothing in a picture */
					table_cell_of_json(fv, c, sizeof(c));
					len += (size_t)snprintf(label + len, sizeof(label) - len, "\n%s: %s", fk, c);
				}
			}
			snprintf(node, sizeof(node), "%s %s %s", name, kind, json_get_str(e, "object", ""));
			printf("  ");
			dot_str(node);
			printf(" [shape=%s, fillcolor=\"%s\", label=", shape, color);
			dot_str(label);
			printf("];\n  ");
			dot_str(idn);
			printf(" -> ");
			dot_str(node);
			printf(" [label=\"%" PRId64 "\"];\n", json_get_int(e, "count", 0));
		}
	}
	printf("}\n");
}


/* verify -o table: the verdict, a row per identity, then the findings as
 * tables per edge kind (the text, the default, reads as a report). */
void edge_view_verify(json_object *doc)
{
	static const char *const hdr[] = { "IDENTITY", "VERDICT", "EPOCH", "EDGES", "CRITICAL", "HIGH", "MEDIUM", "LOW",
					   "POLICY", "REASONS" };
	json_object *ids = json_get(doc, "identities", json_type_array), *fs;
	struct table *t = table_new(10, hdr);

	printf("verify: %s\n\n", json_get_str(doc, "verdict", ""));
	for (size_t i = 0; t && ids && i < json_object_array_length(ids); i++) {
		json_object *iv = json_object_array_get_idx(ids, i), *sev = json_get(iv, "findings_by_severity", json_type_object);
		char n[5][24];
		const char *row[10] = { json_get_str(iv, "identity", ""), json_get_str(iv, "verdict", ""),
					*json_get_str(iv, "epoch", "") ? json_get_str(iv, "epoch", "") : "-",
					n[0], n[1], n[2], n[3], n[4],
					*json_get_str(iv, "policy", "") ? json_get_str(iv, "policy", "") : "-",
					*json_get_str(iv, "reasons", "") ? json_get_str(iv, "reasons", "") : "-" };

		snprintf(n[0], sizeof(n[0]), "%" PRId64, json_get_int(iv, "edges", 0));
		snprintf(n[1], sizeof(n[1]), "%" PRId64, sev ? json_get_int(sev, "critical", 0) : 0);
		snprintf(n[2], sizeof(n[2]), "%" PRId64, sev ? json_get_int(sev, "high", 0) : 0);
		snprintf(n[3], sizeof(n[3]), "%" PRId64, sev ? json_get_int(sev, "medium", 0) : 0);
		snprintf(n[4], sizeof(n[4]), "%" PRId64, sev ? json_get_int(sev, "low", 0) : 0);
		table_add_row(t, row);
	}
	if (t)
		table_print(t, stdout);
	table_free(t);
	fs = json_get(doc, "findings", json_type_array);
	if (fs && json_object_array_length(fs)) {
		putchar('\n');
		edge_view_findings(fs, false);
	}
}


/* rotate's table: per item kind ("secret-file", "credential",
 * "cloud-metadata") a table with its fields as columns and why. */
void edge_view_rotation(json_object *items)
{
	size_t n = json_object_array_length(items), printed = 0;

	for (size_t i = 0; i < n; i++) {
		json_object *first = json_object_array_get_idx(items, i), *ff = json_get(first, "fields", json_type_object);
		const char *kind = json_get_str(first, "kind", ""), *hdr[MAX_COLS], *names[MAX_FIELD_COLS];
		char *owned[MAX_FIELD_COLS];
		size_t nh = 0, nf = 0, rows = 0;
		bool seen = false;
		struct table *t;

		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(json_get_str(json_object_array_get_idx(items, j), "kind", ""), kind);
		if (seen)
			continue; /* its table is printed */
		hdr[nh++] = "IDENTITY";
		if (ff) {
			json_object_object_foreach(ff, k, v)
			{
				(void)v;
				if (nf < MAX_FIELD_COLS && (owned[nf] = upper_dup(k))) {
					names[nf] = k;
					hdr[nh++] = owned[nf++];
				}
			}
		}
		if (!nf)
			hdr[nh++] = "WHAT";
		hdr[nh++] = "WHY";
		if ((t = table_new(nh, hdr))) {
			for (size_t j = i; j < n; j++) {
				json_object *it = json_object_array_get_idx(items, j), *f = json_get(it, "fields", json_type_object), *v;
				const char *cell[MAX_COLS];
				char buf[MAX_FIELD_COLS][512];
				size_t c = 0;

				if (strcmp(json_get_str(it, "kind", ""), kind))
					continue;
				cell[c++] = json_get_str(it, "identity", "");
				for (size_t k = 0; k < nf; k++) {
					if (!f || !json_object_object_get_ex(f, names[k], &v))
						v = NULL;
					table_cell_of_json(v, buf[k], sizeof(buf[k]));
					cell[c++] = buf[k];
				}
				if (!nf)
					cell[c++] = json_get_str(it, "what", "");
				cell[c++] = json_get_str(it, "why", "");
				rows += table_add_row(t, cell) == 0;
			}
			printf("%s%s (%zu)\n", printed ? "\n" : "", kind, rows);
			table_print(t, stdout);
			printed++;
		}
		table_free(t);
		for (size_t k = 0; k < nf; k++)
			free(owned[k]);
	}
	if (!printed)
		printf("nothing to rotate\n");
}


/* status: one FIELD/VALUE row per scalar, nested objects as dotted names
 * ("losses.ringbuf"), arrays of objects by index ("uprobes.0.path") */
static void status_rows(struct table *t, const char *prefix, json_object *v)
{
	char name[256], cell[1024];
	const char *row[2] = { name, cell };

	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, k, x)
		{
			char sub[256];

			snprintf(sub, sizeof(sub), "%s%s%s", prefix, *prefix ? "." : "", k);
			status_rows(t, sub, x);
		}
		return;
	}
	if (json_object_is_type(v, json_type_array) && json_object_array_length(v) &&
	    (json_object_is_type(json_object_array_get_idx(v, 0), json_type_object) ||
	     json_object_is_type(json_object_array_get_idx(v, 0), json_type_array))) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			char sub[256];

			snprintf(sub, sizeof(sub), "%s.%zu", prefix, i);
			status_rows(t, sub, json_object_array_get_idx(v, i));
		}
		return;
	}
	snprintf(name, sizeof(name), "%s", prefix);
	table_cell_of_json(v, cell, sizeof(cell));
	table_add_row(t, row);
}

void edge_view_status(json_object *doc)
{
	static const char *const hdr[] = { "FIELD", "VALUE" };
	struct table *t = table_new(2, hdr);

	if (!t) {
		fprintf(stderr, "reachctl: out of memory\n");
		return;
	}
	json_add_rfc3339(doc); /* times people can read, beside the _ms */
	status_rows(t, "", doc);
	table_print(t, stdout);
	table_free(t);
}


void edge_view_reach(json_object *doc, bool wide)
{
	struct edge_row *rows = NULL;
	size_t n = 0;

	rows = edge_rows(doc, "edges", NULL, rows, &n);
	print_edge_tables(rows, n, VIEW_REACH, wide);
	free(rows);
}
