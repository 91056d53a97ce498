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
#include "policy/policy.h"
#include "policy/verify.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2

static const char *const kinds[] = { "secret", "tool", "egress", "credential", "dns", NULL };

static void usage(FILE *f)
{
	fprintf(f, "Usage:\n"
		   "  reachctl reach  [--identity NS/SA] [--kind secret|egress|credential|tool|dns] [-o table|json]\n"
		   "                  [--socket PATH | --ledger FILE]\n"
		   "  reachctl status [-o table|json] [--socket PATH]\n"
		   "  reachctl verify [--identity NS/SA] [--policy PATH] [--epoch current|N] [-o text|json] [--socket PATH | --ledger FILE]\n"
		   "                  exit 0 pass, 1 findings, 2 could not verify (inconclusive, no agent, bad policy)\n"
		   "                  --default-policy audit|alert: identities without a policy (offline; the agent has its own)\n"
		   "  reachctl findings [--identity NS/SA] [--policy PATH] [--socket PATH | --ledger FILE]\n"
		   "  reachctl epochs [--identity NS/SA] [--policy PATH] [--socket PATH | --ledger FILE]\n"
		   "  reachctl rotate --identity NS/SA [--policy PATH] [--socket PATH | --ledger FILE]\n"
		   "  reachctl policy suggest --identity NS/SA [--socket PATH | --ledger FILE]\n"
		   "  reachctl epoch start --identity NAME --version V   (a pipeline opens a new software version window)\n"
		   "  reachctl diff LEDGER_A LEDGER_B\n\n"
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
	const char *identity, *kind, *output, *socket, *ledger, *policy, *version, *epoch;
	bool default_alert;
};

static int parse(int argc, char **argv, struct opts *o, int first)
{
	static const struct option long_opts[] = {
		{ "identity", required_argument, NULL, 'i' }, { "kind", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },   { "socket", required_argument, NULL, 's' },
		{ "ledger", required_argument, NULL, 'l' },   { "help", no_argument, NULL, 'h' },
		{ "policy", required_argument, NULL, 'p' },
		{ "version", required_argument, NULL, 'V' },
		{ "default-policy", required_argument, NULL, 'D' },
		{ "epoch", required_argument, NULL, 'E' },
		{ 0 },
	};
	int c;

	o->output = "table";
	o->socket = API_DEFAULT_SOCKET;
	opterr = 0;
	optind = first; /* after the subcommand */
	while ((c = getopt_long(argc, argv, ":o:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'i': o->identity = optarg; break;
		case 'k': o->kind = optarg; break;
		case 'o': o->output = optarg; break;
		case 's': o->socket = optarg; break;
		case 'l': o->ledger = optarg; break;
		case 'p': o->policy = optarg; break;
		case 'V': o->version = optarg; break;
		case 'E': o->epoch = optarg; break;
		case 'D':
			if (strcmp(optarg, "audit") && strcmp(optarg, "alert")) {
				fprintf(stderr, "reachctl: --default-policy must be audit or alert\n");
				return EXIT_USAGE;
			}
			o->default_alert = strcmp(optarg, "alert") == 0;
			break;
		case 'h': usage(stdout); exit(0);
		case ':': fprintf(stderr, "reachctl: option '%s' needs a value\n", argv[optind - 1]); return EXIT_USAGE;
		default: fprintf(stderr, "reachctl: unknown option '%s' (see --help)\n", argv[optind - 1]); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "reachctl: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (strcmp(o->output, "table") && strcmp(o->output, "json") && strcmp(o->output, "text")) {
		fprintf(stderr, "reachctl: -o must be table, text or json, not '%s'\n", o->output);
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

static struct ledger *load_ledger_file(const char *path)
{
	struct ledger *l = ledger_new(SIZE_MAX, SIZE_MAX);
	char err[512];

	if (!l) {
		fprintf(stderr, "reachctl: out of memory\n");
		return NULL;
	}
	if (ledger_load(l, path, NULL, err, sizeof(err))) {
		fprintf(stderr, "reachctl: %s\n", err);
		ledger_free(l);
		return NULL;
	}
	return l;
}

/* verify against a saved ledger, offline: the policy must be given. */
static json_object *verify_offline(const struct opts *o)
{
	struct verify_opts vo = { .identity = o->identity, .alert_without_policy = o->default_alert, .epoch = o->epoch };
	struct policy_set set = { 0 };
	struct verify_result r;
	struct ledger *l;
	json_object *doc;
	char err[1024];

	if (!o->policy) {
		fprintf(stderr, "reachctl: verify --ledger needs --policy (the agent's policies are not in the file)\n");
		return NULL;
	}
	if (policy_load_path(&set, o->policy, err, sizeof(err))) {
		fprintf(stderr, "reachctl: %s\n", err);
		return NULL;
	}
	l = load_ledger_file(o->ledger);
	if (!l || verify_ledger(l, &set, &vo, &r)) {
		ledger_free(l);
		policy_set_free(&set);
		return NULL;
	}
	doc = verify_result_report(&r);
	verify_result_free(&r);
	ledger_free(l);
	policy_set_free(&set);
	return doc;
}

static json_object *ask_verify(const struct opts *o)
{
	json_object *req = json_object_new_object(), *reply;
	char err[512];

	json_object_object_add(req, "cmd", json_object_new_string("verify"));
	if (o->identity)
		json_object_object_add(req, "identity", json_object_new_string(o->identity));
	if (o->epoch)
		json_object_object_add(req, "epoch", json_object_new_string(o->epoch));
	if (o->policy) {
		char abs[4096];

		/* the agent resolves the path, so hand it an absolute one */
		json_object_object_add(req, "policy",
				       json_object_new_string(realpath(o->policy, abs) ? abs : o->policy));
	}
	reply = api_call(o->socket, req, err, sizeof(err));
	json_object_put(req);
	if (!reply)
		fprintf(stderr, "reachctl: %s\n", err);
	else if (*str_field(reply, "error")) {
		fprintf(stderr, "reachctl: %s\n", str_field(reply, "error"));
		json_object_put(reply);
		return NULL;
	}
	return reply;
}

/* verify / findings / rotate share one verification. */
static int cmd_verify(const char *cmd, const struct opts *o)
{
	json_object *doc = o->ledger ? verify_offline(o) : ask_verify(o);
	json_object *v;
	int code;

	if (!doc)
		return 2; /* could not verify */
	code = json_object_object_get_ex(doc, "exit_code", &v) ? json_object_get_int(v) : 2;
	if (strcmp(cmd, "verify") == 0) {
		if (strcmp(o->output, "json") == 0) {
			json_object_object_del(doc, "text");
			print_json(doc);
		} else {
			fputs(str_field(doc, "text"), stdout);
		}
	} else if (strcmp(cmd, "findings") == 0) {
		if (json_object_object_get_ex(doc, "findings", &v))
			print_json(v);
	} else if (strcmp(cmd, "epochs") == 0) {
		json_object *ids;

		printf("%-40s %-30s %-30s %s\n", "IDENTITY", "EPOCH", "PREVIOUS", "VERDICT");
		if (json_object_object_get_ex(doc, "identities", &ids))
			for (size_t i = 0; i < json_object_array_length(ids); i++) {
				json_object *iv = json_object_array_get_idx(ids, i);

				if (o->identity && strcmp(str_field(iv, "identity"), o->identity) != 0)
					continue;
				printf("%-40s %-30s %-30s %s\n", str_field(iv, "identity"),
				       *str_field(iv, "epoch") ? str_field(iv, "epoch") : "-",
				       *str_field(iv, "previous_epoch") ? str_field(iv, "previous_epoch") : "-",
				       str_field(iv, "verdict"));
			}
		code = 0;
	} else { /* rotate */
		json_object *verdicts;

		if (json_object_object_get_ex(doc, "identities", &verdicts))
			for (size_t i = 0; i < json_object_array_length(verdicts); i++) {
				json_object *iv = json_object_array_get_idx(verdicts, i), *rot;

				if (o->identity && strcmp(str_field(iv, "identity"), o->identity) != 0)
					continue;
				if (!json_object_object_get_ex(iv, "rotation", &rot))
					continue;
				for (size_t j = 0; j < json_object_array_length(rot); j++) {
					json_object *it = json_object_array_get_idx(rot, j);

					printf("%-14s %-60s %s\n", str_field(it, "kind"), str_field(it, "what"), str_field(it, "why"));
				}
			}
		code = 0;
	}
	json_object_put(doc);
	return code;
}

static int cmd_suggest(const struct opts *o)
{
	char err[512];

	if (!o->identity) {
		fprintf(stderr, "reachctl: policy suggest needs --identity\n");
		return EXIT_USAGE;
	}
	if (o->ledger) {
		struct ledger *l = load_ledger_file(o->ledger);
		int rc;

		if (!l)
			return EXIT_FAILED;
		rc = policy_suggest(l, o->identity, stdout, err, sizeof(err));
		ledger_free(l);
		if (rc) {
			fprintf(stderr, "reachctl: %s\n", err);
			return EXIT_FAILED;
		}
		return 0;
	}
	{
		json_object *req = json_object_new_object(), *reply;

		json_object_object_add(req, "cmd", json_object_new_string("suggest"));
		json_object_object_add(req, "identity", json_object_new_string(o->identity));
		reply = api_call(o->socket, req, err, sizeof(err));
		json_object_put(req);
		if (!reply) {
			fprintf(stderr, "reachctl: %s\n", err);
			return EXIT_FAILED;
		}
		if (*str_field(reply, "error")) {
			fprintf(stderr, "reachctl: %s\n", str_field(reply, "error"));
			json_object_put(reply);
			return EXIT_FAILED;
		}
		fputs(str_field(reply, "policy"), stdout);
		json_object_put(reply);
		return 0;
	}
}

static int cmd_diff(int argc, char **argv)
{
	struct ledger *a, *b;
	json_object *doc;

	if (argc != 4) {
		fprintf(stderr, "reachctl: usage: reachctl diff LEDGER_A LEDGER_B\n");
		return EXIT_USAGE;
	}
	a = load_ledger_file(argv[2]);
	b = a ? load_ledger_file(argv[3]) : NULL;
	if (!a || !b) {
		ledger_free(a);
		return EXIT_FAILED;
	}
	doc = ledger_diff_to_json(a, b);
	print_json(doc);
	json_object_put(doc);
	ledger_free(a);
	ledger_free(b);
	return 0;
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
	if (strcmp(argv[1], "diff") == 0)
		return cmd_diff(argc, argv);
	if (strcmp(argv[1], "epoch") == 0) {
		json_object *req, *reply;
		char err[512];

		if (argc < 3 || strcmp(argv[2], "start") != 0 || (rc = parse(argc, argv, &o, 3)) || !o.identity || !o.version) {
			fprintf(stderr, "reachctl: usage: reachctl epoch start --identity NAME --version V\n");
			return EXIT_USAGE;
		}
		req = json_object_new_object();
		json_object_object_add(req, "cmd", json_object_new_string("epoch"));
		json_object_object_add(req, "identity", json_object_new_string(o.identity));
		json_object_object_add(req, "version", json_object_new_string(o.version));
		reply = api_call(o.socket, req, err, sizeof(err));
		json_object_put(req);
		if (!reply || *str_field(reply, "error")) {
			fprintf(stderr, "reachctl: %s\n", reply ? str_field(reply, "error") : err);
			json_object_put(reply);
			return EXIT_FAILED;
		}
		printf("epoch of %s is now %s\n", o.identity, o.version);
		json_object_put(reply);
		return 0;
	}
	if (strcmp(argv[1], "policy") == 0) {
		if (argc < 3 || strcmp(argv[2], "suggest") != 0) {
			fprintf(stderr, "reachctl: usage: reachctl policy suggest --identity NS/SA\n");
			return EXIT_USAGE;
		}
		if ((rc = parse(argc, argv, &o, 3)))
			return rc;
		return cmd_suggest(&o);
	}
	if (strcmp(argv[1], "epochs") == 0 && argc >= 2) {
		if ((rc = parse(argc, argv, &o, 2)))
			return rc;
		if (!o.ledger) { /* the agent's verification records */
			json_object *req = json_object_new_object(), *reply, *recs;
			char err[512];

			json_object_object_add(req, "cmd", json_object_new_string("epochs"));
			if (o.identity)
				json_object_object_add(req, "identity", json_object_new_string(o.identity));
			reply = api_call(o.socket, req, err, sizeof(err));
			json_object_put(req);
			if (!reply) {
				fprintf(stderr, "reachctl: %s\n", err);
				return EXIT_FAILED;
			}
			if (strcmp(o.output, "json") == 0) {
				print_json(reply);
			} else if (json_object_object_get_ex(reply, "records", &recs)) {
				printf("%-32s %-24s %-24s %-9s %-13s %s\n", "IDENTITY", "FROM", "TO", "STATE", "VERDICT", "FINDINGS");
				for (size_t i = 0; i < json_object_array_length(recs); i++) {
					json_object *r = json_object_array_get_idx(recs, i);

					printf("%-32s %-24s %-24s %-9s %-13s %" PRId64 "\n", str_field(r, "identity"),
					       *str_field(r, "from_version") ? str_field(r, "from_version") : "-",
					       *str_field(r, "to_version") ? str_field(r, "to_version") : "-",
					       str_field(r, "state"), str_field(r, "verdict"), int_field(r, "findings"));
				}
			}
			if (strcmp(o.output, "json") != 0 && json_object_object_get_ex(reply, "remediation", &recs)) {
				for (size_t i = 0; i < json_object_array_length(recs); i++) {
					json_object *r = json_object_array_get_idx(recs, i);

					printf("%s: %" PRId64 " findings resolved (mean time to remediate %" PRId64
					       " s), %" PRId64 " open; %" PRId64 " of %" PRId64 " upgrades left findings open\n",
					       str_field(r, "identity"), int_field(r, "findings_resolved"),
					       int_field(r, "mean_time_to_remediate_ms") / 1000, int_field(r, "findings_open"),
					       int_field(r, "failed_remediations"), int_field(r, "upgrades_with_findings"));
				}
			}
			json_object_put(reply);
			return 0;
		}
		return cmd_verify("epochs", &o); /* offline: the epochs a verification sees */
	}
	if (strcmp(argv[1], "verify") == 0 || strcmp(argv[1], "findings") == 0 || strcmp(argv[1], "rotate") == 0) {
		if ((rc = parse(argc, argv, &o, 2)))
			return strcmp(argv[1], "verify") == 0 ? 2 : rc; /* bad usage of verify: could not verify */
		if (strcmp(argv[1], "rotate") == 0 && !o.identity) {
			fprintf(stderr, "reachctl: rotate needs --identity\n");
			return EXIT_USAGE;
		}
		return cmd_verify(argv[1], &o);
	}
	if (strcmp(argv[1], "reach") != 0 && strcmp(argv[1], "status") != 0) {
		fprintf(stderr, "reachctl: unknown command '%s' (reach, status, verify, findings, epochs, rotate, policy suggest, epoch start, diff)\n",
			argv[1]);
		return EXIT_USAGE;
	}
	if ((rc = parse(argc, argv, &o, 2)))
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
