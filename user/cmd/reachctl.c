/*
 * reachctl: the command line for people and pipelines.
 *   reachctl reach  [--identity NS/SA] [--kind K] [-o table|json] [--socket P | --ledger FILE]
 *   reachctl status [-o table|json] [--socket P]
 * Exit codes: 0 done, 1 could not reach the agent or read the ledger, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include "common/api.h"
#include "reach/ledger.h"
#include "reach/ledger_store.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2

static const char *const kinds[] = { "secret", "tool", "egress", "credential", "dns", NULL };

static void usage(FILE *f)
{
	fprintf(f, "Usage:\n"
		   "  reachctl reach  [--identity NS/SA] [--kind secret|egress|credential|tool|dns] [-o table|json]\n"
		   "                  [--socket PATH | --ledger FILE]\n"
		   "  reachctl status [-o table|json] [--socket PATH]\n\n"
		   "  --socket PATH   the agent's API socket (default " API_DEFAULT_SOCKET ")\n"
		   "  --ledger FILE   read a saved ledger file instead of asking the agent\n"
		   "Exit codes: 0 done, 1 could not reach the agent or read the ledger, 2 bad usage.\n");
}

static const char *str_field(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) : "";
}

static int64_t int_field(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* "3m", "2h", "5d": how long ago, for people */
static void format_age(int64_t unix_ms, char *out, size_t n)
{
	int64_t s = (int64_t)time(NULL) - unix_ms / 1000;

	if (unix_ms <= 0)
		snprintf(out, n, "-");
	else if (s < 60)
		snprintf(out, n, "%" PRId64 "s", s < 0 ? 0 : s);
	else if (s < 3600)
		snprintf(out, n, "%" PRId64 "m", s / 60);
	else if (s < 86400)
		snprintf(out, n, "%" PRId64 "h", s / 3600);
	else
		snprintf(out, n, "%" PRId64 "d", s / 86400);
}

/* The detail column: what kind of secret, where the egress goes. */
static void edge_detail(json_object *e, char *out, size_t n)
{
	const char *kind = str_field(e, "kind");

	if (strcmp(kind, "secret") == 0) {
		snprintf(out, n, "%s", str_field(e, "category"));
	} else if (strcmp(kind, "egress") == 0) {
		json_object *oc;
		size_t len = snprintf(out, n, "%s %s", str_field(e, "dest_class"), str_field(e, "name"));

		if (json_object_object_get_ex(e, "outcomes", &oc) && json_object_is_type(oc, json_type_object)) {
			json_object_object_foreach(oc, k, v)
			{
				if (len < n)
					len += snprintf(out + len, n - len, " %s=%" PRId64, k, json_object_get_int64(v));
			}
		}
	} else {
		out[0] = '\0';
	}
}

static void print_reach_table(json_object *doc)
{
	json_object *ids, *v;
	size_t n_ids;

	printf("%-32s %-10s %-52s %-30s %8s %5s  %s\n", "IDENTITY", "KIND", "OBJECT", "DETAIL", "COUNT", "LAST",
	       "EXECUTABLES");
	if (!json_object_object_get_ex(doc, "identities", &ids) || !json_object_is_type(ids, json_type_array))
		return;
	n_ids = json_object_array_length(ids);
	for (size_t i = 0; i < n_ids; i++) {
		json_object *id = json_object_array_get_idx(ids, i), *edges;

		if (!json_object_object_get_ex(id, "edges", &edges))
			continue;
		for (size_t j = 0; j < json_object_array_length(edges); j++) {
			json_object *e = json_object_array_get_idx(edges, j), *exes;
			char detail[256], age[24], exe_list[256] = "";
			size_t len = 0;

			edge_detail(e, detail, sizeof(detail));
			format_age(int_field(e, "last_seen_ms"), age, sizeof(age));
			if (json_object_object_get_ex(e, "executables", &exes) && json_object_is_type(exes, json_type_array))
				for (size_t k = 0; k < json_object_array_length(exes) && len < sizeof(exe_list); k++) {
					const char *exe = json_object_get_string(json_object_array_get_idx(exes, k));
					const char *base = strrchr(exe, '/');

					/* basenames for people; -o json keeps full paths */
					len += snprintf(exe_list + len, sizeof(exe_list) - len, "%s%s", k ? "," : "",
							base ? base + 1 : exe);
				}
			printf("%-32s %-10s %-52s %-30s %8" PRId64 " %5s  %s\n", str_field(id, "identity"),
			       str_field(e, "kind"), str_field(e, "object"), detail, int_field(e, "count"), age, exe_list);
		}
	}
	if (json_object_object_get_ex(doc, "edges_dropped", &v) && json_object_get_int64(v))
		printf("\nwarning: %" PRId64 " edges were dropped at the ledger's caps (see reachctl status)\n",
		       json_object_get_int64(v));
}

static void print_json(json_object *doc)
{
	printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void print_status_table(json_object *doc)
{
	json_object_object_foreach(doc, key, val)
	{
		if (json_object_is_type(val, json_type_object) || json_object_is_type(val, json_type_array))
			printf("%-22s %s\n", key, json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		else
			printf("%-22s %s\n", key, json_object_get_string(val));
	}
}

struct opts {
	const char *identity, *kind, *output, *socket, *ledger;
};

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option long_opts[] = {
		{ "identity", required_argument, NULL, 'i' }, { "kind", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },   { "socket", required_argument, NULL, 's' },
		{ "ledger", required_argument, NULL, 'l' },   { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	o->output = "table";
	o->socket = API_DEFAULT_SOCKET;
	opterr = 0;
	optind = 2; /* after the subcommand */
	while ((c = getopt_long(argc, argv, ":o:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'i': o->identity = optarg; break;
		case 'k': o->kind = optarg; break;
		case 'o': o->output = optarg; break;
		case 's': o->socket = optarg; break;
		case 'l': o->ledger = optarg; break;
		case 'h': usage(stdout); exit(0);
		case ':': fprintf(stderr, "reachctl: option '%s' needs a value\n", argv[optind - 1]); return EXIT_USAGE;
		default: fprintf(stderr, "reachctl: unknown option '%s' (see --help)\n", argv[optind - 1]); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "reachctl: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (strcmp(o->output, "table") && strcmp(o->output, "json")) {
		fprintf(stderr, "reachctl: -o must be table or json, not '%s'\n", o->output);
		return EXIT_USAGE;
	}
	if (o->kind) {
		int ok = 0;

		for (int i = 0; kinds[i]; i++)
			ok |= strcmp(kinds[i], o->kind) == 0;
		if (!ok) {
			fprintf(stderr, "reachctl: --kind must be one of secret, egress, credential, tool, dns; not '%s'\n",
				o->kind);
			return EXIT_USAGE;
		}
	}
	return 0;
}

static json_object *reach_from_ledger_file(const struct opts *o)
{
	struct ledger *l = ledger_new(SIZE_MAX, SIZE_MAX);
	char err[512];
	json_object *doc;
	int rc;

	if (!l) {
		fprintf(stderr, "reachctl: out of memory\n");
		return NULL;
	}
	rc = ledger_load(l, o->ledger, NULL, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "reachctl: %s\n", err);
		ledger_free(l);
		return NULL;
	}
	doc = ledger_to_json(l, o->identity, o->kind);
	ledger_free(l);
	return doc;
}

static json_object *ask_agent(const struct opts *o, const char *cmd)
{
	json_object *req = json_object_new_object(), *reply;
	char err[512];

	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (o->identity)
		json_object_object_add(req, "identity", json_object_new_string(o->identity));
	if (o->kind)
		json_object_object_add(req, "kind", json_object_new_string(o->kind));
	reply = api_call(o->socket, req, err, sizeof(err));
	json_object_put(req);
	if (!reply) {
		fprintf(stderr, "reachctl: %s\n", err);
		return NULL;
	}
	if (*str_field(reply, "error")) {
		fprintf(stderr, "reachctl: reachd answered: %s\n", str_field(reply, "error"));
		json_object_put(reply);
		return NULL;
	}
	return reply;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	json_object *doc;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "reach") != 0 && strcmp(argv[1], "status") != 0) {
		fprintf(stderr, "reachctl: unknown command '%s' (reach, status)\n", argv[1]);
		return EXIT_USAGE;
	}
	if ((rc = parse(argc, argv, &o)))
		return rc;
	if (strcmp(argv[1], "status") == 0 && o.ledger) {
		fprintf(stderr, "reachctl: status asks the running agent; --ledger is for reach\n");
		return EXIT_USAGE;
	}
	doc = o.ledger ? reach_from_ledger_file(&o) : ask_agent(&o, argv[1]);
	if (!doc)
		return EXIT_FAILED;
	if (strcmp(o.output, "json") == 0)
		print_json(doc);
	else if (strcmp(argv[1], "reach") == 0)
		print_reach_table(doc);
	else
		print_status_table(doc);
	json_object_put(doc);
	return 0;
}
