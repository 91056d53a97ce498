/*
 * reachctl: the command line for people and pipelines.
 *   reachctl reach  [--identity NS/SA] [--kind K] [-o table|json|yaml] [--socket P | --ledger FILE]
 *   reachctl status [-o table|json|yaml] [--socket P]
 *   reachctl verify [--identity NS/SA] [--policy PATH] [--wait S] [--socket P | --ledger FILE]
 *   reachctl verify --identity NS/SA --agents HOST:PORT [--agents ...] [--api-token-file F] [--ca F]
 *                   --policy PATH [--wait S]
 *   reachctl verify --identity NS/SA --attest FILE --key KEY [--socket P | --ledger FILE | --agents ...]
 *   reachctl attest verify FILE --key PUB [--policy PATH] [--ledger FILE]
 * Exit codes: 0 done, 1 could not reach the agent or read the ledger, 2 bad usage; verify: 0 pass,
 * 1 findings, 2 could not verify (inconclusive, an agent or ledger missing, bad usage or policy).
 *
 * verify --agents is the post-upgrade gate of a cluster, run by a Job that
 * cannot reach the agents' unix sockets: every HOST resolves to every
 * address (a headless Service: one per agent pod), each agent's ledger is
 * fetched from GET /v1/ledger, the ledgers are unioned and judged offline
 * as with --ledger. An agent that cannot be resolved, reached or decoded
 * makes the result "could not verify": a node left out could be the one
 * with the finding.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include "common/api.h"
#include "common/dsse.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/json.h"
#include "identity/kube_secret.h"
#include "identity/kube_watch.h"
#include "reach/ledger.h"
#include "reach/ledger_store.h"
#include "policy/attest.h"
#include "policy/policy.h"
#include "policy/ledger_diff.h"
#include "policy/suggest.h"
#include "policy/verify.h"
#include "common/names.h"
#include "common/table.h"
#include "reach/edge_view.h"
#include "common/https_client.h"
#include "config/options.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_NOT_VERIFIED 2

#define MAX_AGENT_SPECS 64
#define AGENT_TIMEOUT_MS 10000
#define AGENT_FETCHERS 16       /* ledgers fetched at once: a node that drops packets costs one timeout, not N */
#define WAIT_RETRY_S 5
#define WAIT_MAX_S 86400

static const char *const kinds[] = { "secret", "tool", "egress", "credential", "dns", "mcp-tool", "llm", NULL };

/* One entry per command: its synopsis and what it does, then its exit
 * codes. `reachctl --help` prints every synopsis; `reachctl CMD --help` one
 * command's entry whole. */
struct command_help {
	const char *name;  /* as typed: "policy suggest" */
	const char *text;  /* synopsis and description, lines indented by 2 */
	const char *exits; /* its exit codes */
	const char *formats; /* its -o values, "|" between them; the first is the default */
};

static const struct command_help commands[] = {
	{ "reach",
	  "  reachctl reach  [--identity NS/SA] [--kind secret|egress|credential|tool|dns|mcp-tool|llm]\n"
	  "                  [-o table|wide|json|yaml|dot] [--socket PATH | --ledger FILE]\n"
	  "                  every edge of every identity (or one): what it read, reached, used and ran; a table\n"
	  "                  per edge kind with a column per field (-o json/yaml: the same fields under\n"
	  "                  \"fields\"; -o dot: a Graphviz digraph identity -> edges, for dot -Tsvg)\n",
	  "0 printed, 1 could not reach the agent or read the ledger, 2 bad usage",
	  "table|wide|json|yaml|dot" },
	{ "coverage",
	  "  reachctl coverage [--identity NS/SA] [-o table|wide|json|yaml] [--socket PATH | --ledger FILE]\n"
	  "                  what reach could not see, per identity: losses, blind roads, missing hooks\n",
	  "0 printed, 1 could not reach the agent or read the ledger, 2 bad usage",
	  "table|wide|json|yaml" },
	{ "status",
	  "  reachctl status [-o table|wide|json|yaml] [--socket PATH]\n"
	  "                  the running agent: hooks, losses, pods, uprobes (a FIELD/VALUE table; -o json: the document)\n",
	  "0 printed, 1 could not reach the agent, 2 bad usage",
	  "table|wide|json|yaml" },
	{ "verify",
	  "  reachctl verify [--identity NS/SA] [--policy PATH] [--epoch current|NAME|-N] [--since NAME|-N]\n"
	  "                  [-o text|table|json|yaml] [--wait SECONDS] [--socket PATH | --ledger FILE]\n"
	  "  reachctl verify --identity NS/SA --agents [https://]HOST:PORT [--agents ...] [--api-token-file FILE]\n"
	  "                  [--ca FILE] --policy PATH [--epoch current|NAME|-N] [--since NAME|-N] [-o text|table|json|yaml]\n"
	  "                  [--wait SECONDS]\n"
	  "                  --agents: GET /v1/ledger from every address HOST resolves to (a headless Service:\n"
	  "                  every agent pod), 10 s each, merge the ledgers and verify them offline; any agent\n"
	  "                  that fails makes it exit 2. --api-token-file: the agents' bearer token; --ca: the CA\n"
	  "                  of https:// agents\n"
	  "                  --wait SECONDS: while it exits 2, try again every 5 s for up to SECONDS\n"
	  "                  --default-policy audit|alert: identities without a policy (offline; the agent has its own)\n"
	  "  reachctl verify --identity NS/SA --attest FILE --key KEY [--policy PATH] [--socket PATH | --ledger FILE |\n"
	  "                  --agents ...]\n"
	  "                  also writes FILE: an in-toto Statement of this verification (verdict, findings,\n"
	  "                  rotation list, coverage, policy and ledger digests, the identity's hash-chained\n"
	  "                  verification records) in a DSSE envelope signed with the Ed25519 private key KEY\n"
	  "                  (PEM: openssl genpkey -algorithm ed25519 -out KEY; a mounted Secret is a file);\n"
	  "                  FILE - : one line 'reach-attestation {...}' on stdout (a Job's log keeps it)\n"
	  "                  --key-secret NS/NAME[:KEY] instead of --key: the key read from a Kubernetes Secret\n"
	  "                  through the API (in a pod: its service account; else --kube-api URL\n"
	  "                  --kube-token-file F --kube-ca F); KEY may be left out when the Secret holds one\n"
	  "                  verify --since NAME|-N: compare the epoch judged with that one, not the previous\n",
	  "0 pass, 1 findings, 2 could not verify (inconclusive, an agent unreachable, bad policy or usage)",
	  "text|table|json|yaml" },
	{ "attest verify",
	  "  reachctl attest verify FILE --key PUB [--policy PATH] [--ledger FILE] [-o text|json|yaml]\n"
	  "                  checks the signature with the public key PUB, every record of the chain (a changed,\n"
	  "                  removed or reordered record is named), and the digests of the policies and ledger\n"
	  "                  given\n",
	  "0 valid, 1 does not verify, 2 could not check (usage, file, key)",
	  "text|json|yaml" },
	{ "findings",
	  "  reachctl findings [--identity NS/SA] [--policy PATH] [-o table|wide|json|yaml] [--socket PATH | --ledger FILE]\n"
	  "                  the open findings: a table per edge kind with the edge's fields as columns\n",
	  "0 pass, 1 findings, 2 could not verify",
	  "table|wide|json|yaml" },
	{ "epochs",
	  "  reachctl epochs [--identity NS/SA] [--policy PATH] [-o table|wide|json|yaml] [--socket PATH | --ledger FILE]\n"
	  "                  the agent's verification records per software version (epoch)\n",
	  "0 printed, 1 could not reach the agent, 2 bad usage or could not verify (offline)",
	  "table|wide|json|yaml" },
	{ "rotate",
	  "  reachctl rotate --identity NS/SA [--policy PATH] [-o table|wide|json|yaml] [--socket PATH | --ledger FILE]\n"
	  "                  the secrets and credentials to rotate after an upgrade\n",
	  "0 printed, 2 could not verify (no agent, ledger or policy; bad usage)",
	  "table|wide|json|yaml" },
	{ "policy suggest",
	  "  reachctl policy suggest --identity NS/SA [--socket PATH | --ledger FILE]\n"
	  "                  a first ReachPolicy from what was observed\n",
	  "0 written, 1 could not reach the agent or read the ledger, 2 bad usage",
	  "yaml" },
	{ "epoch start",
	  "  reachctl epoch start --identity NAME --version V [-o text|json|yaml]\n"
	  "                  a pipeline opens a new software version window\n",
	  "0 opened, 1 could not reach the agent, 2 bad usage",
	  "text|json|yaml" },
	{ "diff",
	  "  reachctl diff LEDGER_A LEDGER_B [-o json|yaml|table|wide]\n"
	  "                  what appeared and disappeared from A to B, per identity: JSON, or a table per edge kind\n",
	  "0 reach did not grow, 1 reach grew (edges appeared in B), 2 bad usage or a ledger unreadable",
	  "json|yaml|table|wide" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fputs(commands[i].text, f);
	fprintf(f, "  reachctl --version\n\n"
		   "  --socket PATH   the agent's API socket (default $REACH_SOCKET, else " API_DEFAULT_SOCKET ")\n"
		   "  --ledger FILE   read a saved ledger file instead of asking the agent\n"
		   "  -o FORMAT       table (one per edge kind), wide (more columns), json or yaml (the same document,\n"
		   "                  every \"NAME_ms\" time also as RFC 3339 UTC under \"NAME\"); each command lists its\n"
		   "                  own, a value it does not print exits 2; --socket, --ledger and -o go before or\n"
		   "                  after the command\n"
		   "`reachctl COMMAND --help` shows one command and its exit codes.\n"
		   "Exit codes: 0 done, 1 could not reach the agent or read the ledger, 2 bad usage;\n"
		   "verify and findings: 0 pass, 1 findings, 2 could not verify; diff: 1 when reach grew.\n");
}

static int command_help(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0) {
			printf("Usage:\n%s\nExit codes: %s.\nOutput (-o): %s (default %.*s).\n\n"
			       "  --socket PATH   the agent's API socket (default $REACH_SOCKET, else " API_DEFAULT_SOCKET ")\n",
			       commands[i].text, commands[i].exits, commands[i].formats,
			       (int)strcspn(commands[i].formats, "|"), commands[i].formats);
			return 0;
		}
	return -1;
}

/* -o of command name: 0 when fmt is one of its formats (NULL: its
 * default, put in *fmt), else EXIT_USAGE with the formats it has named. */
static int output_check(const char *name, const char **fmt)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const char *f = commands[i].formats;
		size_t n;

		if (strcmp(commands[i].name, name) != 0)
			continue;
		if (!*fmt) {
			static char def[16];

			snprintf(def, sizeof(def), "%.*s", (int)strcspn(f, "|"), f);
			*fmt = def;
			return 0;
		}
		for (const char *p = f; *p; p += n + (p[n] == '|')) {
			n = strcspn(p, "|");
			if (strlen(*fmt) == n && !strncmp(p, *fmt, n))
				return 0;
		}
		fprintf(stderr, "reachctl: %s: -o must be one of ", name);
		for (const char *p = f; *p; p++)
			fputs(*p == '|' ? ", " : (char[2]){ *p, 0 }, stderr);
		fprintf(stderr, "; not '%s'\n", *fmt);
		return EXIT_USAGE;
	}
	return 0; /* a command without a table entry: its own parser says what is wrong */
}

static void print_coverage_lines(json_object *doc, bool all);

static void print_reach_table(json_object *doc, bool wide)
{
	int64_t dropped = json_get_int(doc, "edges_dropped", 0);
	edge_view_reach(doc, wide);
	if (dropped)
		printf("\nwarning: %" PRId64 " edges were dropped at the ledger's caps (see reachctl status)\n", dropped);
	printf("\ncoverage (what reach could not see; reachctl coverage has the counts):\n");
	print_coverage_lines(doc, true);
}

/* The coverage section: one line per identity listed, then the node. */
static void print_coverage_lines(json_object *doc, bool all)
{
	json_object *ids = json_get(doc, "identities", json_type_array), *node = json_get(doc, "node_coverage", json_type_object);
	size_t n = ids ? json_object_array_length(ids) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *id = json_object_array_get_idx(ids, i), *c = json_get(id, "coverage", json_type_object);
		bool gaps = c && json_get_bool(c, "gaps", false);

		if (gaps || all)
			printf("  %-32s %s\n", json_get_str(id, "identity", ""),
			       gaps ? json_get_str(c, "summary", "") : "complete");
	}
	if (node && json_get_bool(node, "gaps", false))
		printf("  %-32s %s: every identity is inconclusive\n", "(node-wide, no identity)", json_get_str(node, "summary", ""));
	else if (all)
		printf("  %-32s %s\n", "(node-wide, no identity)", "complete");
}

static void print_coverage_table(json_object *doc)
{
	json_object *ids = json_get(doc, "identities", json_type_array), *node = json_get(doc, "node_coverage", json_type_object);
	size_t n = ids ? json_object_array_length(ids) : 0;

	static const char *const hdr[] = { "IDENTITY", "GAPS", "GAP_LOSSES", "ALL_LOSSES", "ROADS", "HOOKS", "SUMMARY" };
	struct table *t = table_new(7, hdr);

	if (!t) {
		fprintf(stderr, "reachctl: out of memory\n");
		return;
	}
	for (size_t i = 0; i <= n; i++) {
		json_object *id = i < n ? json_object_array_get_idx(ids, i) : NULL;
		json_object *c = id ? json_get(id, "coverage", json_type_object) : node;
		json_object *roads = c ? json_get(c, "blind_roads", json_type_array) : NULL;
		json_object *hooks = c ? json_get(c, "hooks_missing", json_type_array) : NULL;
		bool gaps = c && json_get_bool(c, "gaps", false);
		char num[4][24];
		const char *row[7];

		if (!c)
			continue;
		snprintf(num[0], sizeof(num[0]), "%" PRId64, json_get_int(c, "gap_losses", 0));
		snprintf(num[1], sizeof(num[1]), "%" PRId64, json_get_int(c, "losses_total", 0));
		snprintf(num[2], sizeof(num[2]), "%zu", roads ? json_object_array_length(roads) : 0);
		snprintf(num[3], sizeof(num[3]), "%zu", hooks ? json_object_array_length(hooks) : 0);
		row[0] = id ? json_get_str(id, "identity", "") : "(node-wide, no identity)";
		row[1] = gaps ? "yes" : "no";
		row[2] = num[0];
		row[3] = num[1];
		row[4] = num[2];
		row[5] = num[3];
		row[6] = gaps ? json_get_str(c, "summary", "") : "complete";
		table_add_row(t, row);
	}
	table_print(t, stdout);
	table_free(t);
	if (node && json_get_bool(node, "gaps", false))
		printf("\nnode-wide gaps cannot be attributed to an identity: every identity's verdict is inconclusive\n");
}

/* coverage: the identities and the node's record, from the reach document */
static json_object *coverage_doc(json_object *reach)
{
	json_object *out = json_object_new_object(), *arr = json_object_new_array();
	json_object *ids = json_get(reach, "identities", json_type_array), *node = json_get(reach, "node_coverage", json_type_object);

	for (size_t i = 0; ids && i < json_object_array_length(ids); i++) {
		json_object *id = json_object_array_get_idx(ids, i), *o = json_object_new_object(), *c;

		json_add_str(o, "identity", json_get_str(id, "identity", ""));
		if ((c = json_get(id, "coverage", json_type_object)))
			json_add(o, "coverage", json_copy(c));
		json_object_array_add(arr, o);
	}
	json_add(out, "identities", arr);
	if (node)
		json_add(out, "node_coverage", json_copy(node));
	return out;
}

static void print_json(json_object *doc)
{
	json_print(stdout, doc, JSON_READABLE);
}

/* -o json and -o yaml: the same document */
static bool structured(const char *fmt)
{
	return strcmp(fmt, "json") == 0 || strcmp(fmt, "yaml") == 0;
}

/* -o json and -o yaml; every "_ms" time also as RFC 3339 beside it */
static void print_doc(const char *fmt, json_object *doc)
{
	json_add_rfc3339(doc);
	if (strcmp(fmt, "yaml") == 0)
		json_print_yaml(stdout, doc);
	else
		print_json(doc);
}

struct opts {
	const char *identity, *kind, *output, *socket, *ledger, *policy, *version, *epoch;
	const char *since;                    /* verify --since: the epoch to compare with */
	const char *attest, *key;             /* verify --attest FILE --key KEY; attest verify --key PUB */
	const char *key_secret;               /* verify --attest FILE --key-secret NS/NAME[:KEY] */
	const char *kube_api, *kube_token_file, *kube_ca; /* where that Secret is read */
	bool default_alert, socket_set;
	const char *agents[MAX_AGENT_SPECS]; /* verify --agents, as given */
	size_t n_agents;
	const char *token_file, *ca_file;    /* for --agents */
	long wait_s;                          /* verify --wait; 0: once */
	bool wait_set;
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
		{ "since", required_argument, NULL, 'N' },
		{ "agents", required_argument, NULL, 'A' },
		{ "api-token-file", required_argument, NULL, 'T' },
		{ "ca", required_argument, NULL, 'C' },
		{ "wait", required_argument, NULL, 'W' },
		{ "attest", required_argument, NULL, 'a' },
		{ "key", required_argument, NULL, 'K' },
		{ "key-secret", required_argument, NULL, 'S' },
		{ "kube-api", required_argument, NULL, 'U' },
		{ "kube-token-file", required_argument, NULL, 'O' },
		{ "kube-ca", required_argument, NULL, 'P' },
		{ 0 },
	};
	char *end;
	int c;

	if (!o->socket)
		o->socket = getenv("REACH_SOCKET") && *getenv("REACH_SOCKET") ? getenv("REACH_SOCKET")
										 : API_DEFAULT_SOCKET;
	opterr = 0;
	optind = first; /* after the subcommand */
	while ((c = getopt_long(argc, argv, ":o:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'i': o->identity = optarg; break;
		case 'k': o->kind = optarg; break;
		case 'o': o->output = optarg; break;
		case 's': o->socket = optarg; o->socket_set = true; break;
		case 'l': o->ledger = optarg; break;
		case 'p': o->policy = optarg; break;
		case 'V': o->version = optarg; break;
		case 'E': o->epoch = optarg; break;
		case 'N': o->since = optarg; break;
		case 'A':
			if (o->n_agents == MAX_AGENT_SPECS) {
				fprintf(stderr, "reachctl: more than %d --agents (a headless Service name covers them all)\n",
					MAX_AGENT_SPECS);
				return EXIT_USAGE;
			}
			o->agents[o->n_agents++] = optarg;
			break;
		case 'T': o->token_file = optarg; break;
		case 'C': o->ca_file = optarg; break;
		case 'a': o->attest = optarg; break;
		case 'K': o->key = optarg; break;
		case 'S': o->key_secret = optarg; break;
		case 'U': o->kube_api = optarg; break;
		case 'O': o->kube_token_file = optarg; break;
		case 'P': o->kube_ca = optarg; break;
		case 'W':
			errno = 0;
			o->wait_s = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || o->wait_s < 0 || o->wait_s > WAIT_MAX_S) {
				fprintf(stderr, "reachctl: --wait: '%s' is not a number of seconds from 0 to %d\n", optarg,
					WAIT_MAX_S);
				return EXIT_USAGE;
			}
			o->wait_set = true;
			break;
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
	/* verify --agents: the token the local agent made at start (its /v1/
	 * needs one on every address), when root can read it */
	if (o->n_agents && !o->token_file && access(REACH_DEFAULT_STATE_DIR "/api-token", R_OK) == 0)
		o->token_file = REACH_DEFAULT_STATE_DIR "/api-token";
	if ((o->n_agents || o->token_file || o->ca_file || o->wait_set) && strcmp(argv[1], "verify") != 0) {
		fprintf(stderr, "reachctl: --agents, --api-token-file, --ca and --wait are options of verify\n");
		return EXIT_USAGE;
	}
	if (o->since && strcmp(argv[1], "verify") != 0) {
		fprintf(stderr, "reachctl: --since is an option of verify\n");
		return EXIT_USAGE;
	}
	if (o->attest && strcmp(argv[1], "verify") != 0) {
		fprintf(stderr, "reachctl: --attest is an option of verify\n");
		return EXIT_USAGE;
	}
	if ((o->key_secret || o->kube_api || o->kube_token_file || o->kube_ca) && !o->attest) {
		fprintf(stderr, "reachctl: --key-secret, --kube-api, --kube-token-file and --kube-ca are for verify "
				"--attest FILE\n");
		return EXIT_USAGE;
	}
	if (o->key && o->key_secret) {
		fprintf(stderr, "reachctl: --key FILE or --key-secret NS/NAME[:KEY], not both\n");
		return EXIT_USAGE;
	}
	if ((o->kube_api || o->kube_token_file || o->kube_ca) && !o->key_secret) {
		fprintf(stderr, "reachctl: --kube-api, --kube-token-file and --kube-ca say where --key-secret is read\n");
		return EXIT_USAGE;
	}
	if (o->key && !o->attest && strcmp(argv[1], "attest") != 0) {
		fprintf(stderr, "reachctl: --key is for verify --attest FILE and attest verify\n");
		return EXIT_USAGE;
	}
	{
		char name[64];

		/* "policy suggest", "epoch start", "attest verify": two words */
		snprintf(name, sizeof(name), "%s%s%s", argv[1], first >= 3 ? " " : "", first >= 3 ? argv[2] : "");
		if (output_check(name, &o->output))
			return EXIT_USAGE;
	}
	if (o->kind) {
		int ok = 0;

		for (int i = 0; kinds[i]; i++)
			ok |= strcmp(kinds[i], o->kind) == 0;
		if (!ok) {
			fprintf(stderr, "reachctl: --kind must be one of secret, egress, credential, tool, dns, mcp-tool, llm; not '%s'\n",
				o->kind);
			return EXIT_USAGE;
		}
	}
	return 0;
}

/* A ledger file, for reach/verify/diff --ledger. NULL with the reason in msg. */
static struct ledger *load_ledger_file(const char *path, FILE *msg)
{
	struct ledger *l = ledger_new(SIZE_MAX, SIZE_MAX);
	char err[512] = "";
	int rc;

	if (!l) {
		fprintf(msg, "reachctl: out of memory\n");
		return NULL;
	}
	if ((rc = ledger_load(l, path, NULL, err, sizeof(err)))) {
		/* -ENOENT is a fresh start to the agent, so ledger_load says nothing: here it is an error */
		if (!*err)
			snprintf(err, sizeof(err), "ledger file %s: %s", path, strerror(-rc));
		fprintf(msg, "reachctl: %s\n", err);
		ledger_free(l);
		return NULL;
	}
	return l;
}

/* NULL on failure; *typo set when the failure is an unknown identity. */
static json_object *reach_from_ledger_file(const struct opts *o, bool *typo)
{
	struct ledger *l = load_ledger_file(o->ledger, stderr);
	json_object *doc;

	if (!l)
		return NULL;
	if (o->identity && !ledger_identity_find(l, o->identity)) {
		size_t n = ledger_identities(l);
		const char **known = calloc(n + 1, sizeof(*known));
		char near[400] = "";

		for (size_t i = 0; known && i < n; i++)
			known[i] = ledger_identity_at(l, i)->name;
		fprintf(stderr, "reachctl: unknown identity '%s' in %s%s\n", o->identity, o->ledger,
			known ? names_suggest(o->identity, known, n, near, sizeof(near)) : "");
		free(known);
		ledger_free(l);
		*typo = true;
		return NULL;
	}
	doc = ledger_to_json(l, o->identity, o->kind);
	ledger_free(l);
	edge_fields_annotate(doc);
	return doc;
}

/* One request to the agent (req is consumed). The reply, or NULL when the
 * agent could not be asked or answered an error: then the reason is printed
 * on msg ("reachctl: ...") and kept in why (may be NULL). */
/* The exit code of the last agent error: the agent's own (2 for a typo: an
 * unknown identity or epoch), or EXIT_FAILED when it gave none. */
static int agent_error_exit = EXIT_FAILED;

static json_object *agent_request(const char *socket, json_object *req, FILE *msg, char *why, size_t why_size)
{
	json_object *reply;
	char err[512];
	const char *reason;

	reply = api_call(socket, req, err, sizeof(err));
	json_object_put(req);
	if (reply && !*json_get_str(reply, "error", ""))
		return reply;
	agent_error_exit = reply ? (int)json_get_int(reply, "exit_code", EXIT_FAILED) : EXIT_FAILED;
	reason = reply ? json_get_str(reply, "error", "") : err;
	fprintf(msg, "reachctl: %s%s\n", reply ? "reachd answered: " : "", reason);
	if (why)
		snprintf(why, why_size, "%s", reason);
	json_object_put(reply);
	return NULL;
}

/* {"cmd", "identity"?, "kind"?}: the requests of reach, status and epochs. */
static json_object *ask_agent(const struct opts *o, const char *cmd)
{
	json_object *req = json_object_new_object();

	json_add_str(req, "cmd", cmd);
	if (o->identity)
		json_add_str(req, "identity", o->identity);
	if (o->kind)
		json_add_str(req, "kind", o->kind);
	return agent_request(o->socket, req, stderr, NULL, 0);
}

/* ---- verify --agents: the ledgers of every agent, fetched and merged ------------- */

/* One address an --agents HOST resolved to. */
struct agent_fetch {
	char label[INET6_ADDRSTRLEN + 8]; /* "ADDR:PORT" or "[ADDR]:PORT": what messages name */
	char addr[INET6_ADDRSTRLEN];      /* connected to; the URL keeps HOST for TLS */
	char url[400];
	const struct opts *o;
	int rc;                           /* http_get()'s */
	struct http_result res;
	void *body;
	size_t len;
	/* verify --attest: the agent's verification records (GET /v1/records) */
	char records_url[400];
	int records_rc;
	struct http_result records_res;
	void *records_body;
	size_t records_len;
};

struct fetch_list {
	struct agent_fetch *v;
	size_t n, cap;
	atomic_size_t next; /* the fetchers' work queue */
};

/* An --agents value: [http://|https://]HOST:PORT, HOST a name, an IPv4
 * address or a bracketed IPv6 one. host gets HOST without brackets (for
 * getaddrinfo), url the base "scheme://HOST:PORT" as given. 0, or -EINVAL
 * with err. */
static int parse_agent_spec(const char *spec, char *host, size_t host_size, char *port, size_t port_size, char *url,
			    size_t url_size, char *err, size_t err_size)
{
	const char *scheme = "http", *rest = spec, *colon, *h_end;
	unsigned long p;
	char *end;

	if (!strncasecmp(spec, "http://", 7)) {
		rest = spec + 7;
	} else if (!strncasecmp(spec, "https://", 8)) {
		scheme = "https";
		rest = spec + 8;
	} else if (strstr(spec, "://")) {
		snprintf(err, err_size, "--agents %s: the scheme must be http:// or https://", spec);
		return -EINVAL;
	}
	if (rest[0] == '[') {
		h_end = strchr(rest, ']');
		colon = h_end && h_end[1] == ':' ? h_end + 1 : NULL;
		rest++;
	} else {
		colon = strrchr(rest, ':');
		h_end = colon;
		if (colon && memchr(rest, ':', (size_t)(colon - rest))) {
			snprintf(err, err_size, "--agents %s: an IPv6 address goes in brackets: [ADDR]:PORT", spec);
			return -EINVAL;
		}
	}
	if (!colon || h_end == rest || (size_t)(h_end - rest) >= host_size || strpbrk(rest, "/?#@ ")) {
		snprintf(err, err_size, "--agents %s: not HOST:PORT (the path /v1/ledger is implied)", spec);
		return -EINVAL;
	}
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || p == 0 || p > 65535) {
		snprintf(err, err_size, "--agents %s: '%s' is not a port", spec, colon + 1);
		return -EINVAL;
	}
	snprintf(host, host_size, "%.*s", (int)(h_end - rest), rest);
	snprintf(port, port_size, "%lu", p);
	if ((size_t)snprintf(url, url_size, "%s://%s%s%s:%lu", scheme, strchr(host, ':') ? "[" : "", host,
			     strchr(host, ':') ? "]" : "", p) >= url_size) {
		snprintf(err, err_size, "--agents %s: too long", spec);
		return -EINVAL;
	}
	return 0;
}

static int fetch_label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct agent_fetch *)a)->label, ((const struct agent_fetch *)b)->label);
}

/* Every address of every --agents HOST, each once, in a stable order (the
 * union is the same in any order, the bounded sets of values nearly so). A
 * HOST that does not resolve is a failure (the count goes to *failed). */
static int resolve_agents(const struct opts *o, struct fetch_list *fl, FILE *fail, size_t *failed)
{
	for (size_t i = 0; i < o->n_agents; i++) {
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
		char host[256], port[8], base[300], err[512];
		struct addrinfo *ai = NULL;
		size_t first = fl->n;
		int g;

		if (parse_agent_spec(o->agents[i], host, sizeof(host), port, sizeof(port), base, sizeof(base), err,
				     sizeof(err))) {
			fprintf(fail, "reachctl: %s\n", err); /* checked at start: not reached */
			(*failed)++;
			continue;
		}
		if ((g = getaddrinfo(host, port, &hints, &ai))) {
			fprintf(fail, "reachctl: agent %s: cannot resolve %s: %s\n", o->agents[i], host,
				g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
			(*failed)++;
			continue;
		}
		/* A dual-stack headless Service names each agent pod twice (an IPv4
		 * and an IPv6 address): one family only, IPv4 when the name has
		 * any, so that no agent is fetched (and counted) twice. */
		bool has_v4 = false;

		for (struct addrinfo *a = ai; a; a = a->ai_next)
			has_v4 |= a->ai_family == AF_INET;
		for (struct addrinfo *a = ai; a; a = a->ai_next) {
			struct agent_fetch *f;
			const void *bin;
			char addr[INET6_ADDRSTRLEN], label[sizeof(f->label)];
			bool dup = false;

			if (has_v4 && a->ai_family != AF_INET)
				continue;
			if (a->ai_family == AF_INET)
				bin = &((struct sockaddr_in *)a->ai_addr)->sin_addr;
			else if (a->ai_family == AF_INET6)
				bin = &((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
			else
				continue;
			if (!inet_ntop(a->ai_family, bin, addr, sizeof(addr)))
				continue;
			snprintf(label, sizeof(label), a->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", addr, port);
			for (size_t j = 0; j < fl->n && !dup; j++)
				dup = strcmp(fl->v[j].label, label) == 0;
			if (dup)
				continue; /* the same agent twice would count its observations twice */
			if (fl->n == fl->cap) {
				size_t cap = fl->cap ? fl->cap * 2 : 16;
				struct agent_fetch *nv = realloc(fl->v, cap * sizeof(*nv));

				if (!nv) {
					freeaddrinfo(ai);
					fprintf(fail, "reachctl: out of memory\n");
					return -ENOMEM;
				}
				fl->v = nv;
				fl->cap = cap;
			}
			f = &fl->v[fl->n++];
			memset(f, 0, sizeof(*f));
			snprintf(f->label, sizeof(f->label), "%s", label);
			snprintf(f->addr, sizeof(f->addr), "%s", addr);
			snprintf(f->url, sizeof(f->url), "%s/v1/ledger", base);
			snprintf(f->records_url, sizeof(f->records_url), "%s/v1/records", base);
			f->o = o;
		}
		freeaddrinfo(ai);
		qsort(fl->v + first, fl->n - first, sizeof(*fl->v), fetch_label_cmp);
	}
	return 0;
}

static void *fetcher(void *arg)
{
	struct fetch_list *fl = arg;
	size_t i;

	while ((i = atomic_fetch_add(&fl->next, 1)) < fl->n) {
		struct agent_fetch *f = &fl->v[i];
		struct http_target t = {
			.url = f->url, .token_file = f->o->token_file, .ca_file = f->o->ca_file,
			.timeout_ms = AGENT_TIMEOUT_MS, .connect_addr = f->addr,
		};

		f->rc = http_get(&t, LEDGER_FILE_MAX, &f->body, &f->len, &f->res);
		if (f->o->attest && !f->rc && f->res.status == 200) {
			t.url = f->records_url;
			f->records_rc = http_get(&t, LEDGER_FILE_MAX, &f->records_body, &f->records_len, &f->records_res);
		}
	}
	return NULL;
}

/* The first line of an error answer, printable characters only, for the message. */
static void body_excerpt(const struct agent_fetch *f, char *out, size_t size)
{
	const unsigned char *b = f->body;
	size_t n = 0;

	for (size_t i = 0; b && i < f->len && n + 1 < size && n < 120; i++) {
		if (b[i] == '\n' || b[i] == '\r')
			break;
		out[n++] = b[i] >= 0x20 && b[i] < 0x7f ? (char)b[i] : '?';
	}
	out[n] = '\0';
}

/* Why an answer other than 200 is one. */
static const char *status_hint(const struct opts *o, long status)
{
	switch (status) {
	case 401:
	case 403:
		return o->token_file ? "the agent refused the token of --api-token-file" :
				       "the agent requires a token: --api-token-file";
	case 404:
		return "no /v1/ledger here: an agent serves it on its --metrics-addr (behind its API token); "
		       "this is not a reach agent";
	case 503:
		return "the agent is not ready";
	default:
		return status >= 300 && status < 400 ? "redirects are not followed" : "";
	}
}

/* Errors of http_get() that waiting cannot fix: the token file (unreadable,
 * empty, on several lines) or the target. Transport failures, timeouts and
 * bodies over the bound can be an agent still starting. */
static bool fetch_error_is_config(int rc)
{
	return rc != -EIO && rc != -ETIMEDOUT && rc != -ECANCELED && rc != -EFBIG && rc != -ENOMEM;
}

/* The first line of messages, without the "reachctl: " prefix: the summary
 * between two attempts of verify --wait. */
static void first_line(const char *text, char *out, size_t size)
{
	if (!strncmp(text, "reachctl: ", 10))
		text += 10;
	snprintf(out, size, "%.*s", (int)strcspn(text, "\n"), text);
}

/* Fetches and unions every agent's ledger. NULL unless every address
 * answered 200 with a ledger that decodes: the failures are in msg (one
 * line each, naming the address and the reason), the first in why.
 * *config_error: one of them is a configuration error (see above). */
static void agent_attest_entry(const struct opts *o, const struct agent_fetch *f, const char *node, json_object *out);

static struct ledger *fetch_agents(const struct opts *o, FILE *msg, char *why, size_t why_size, bool *config_error,
				   json_object *attest_agents)
{
	struct fetch_list fl = { 0 };
	pthread_t threads[AGENT_FETCHERS];
	size_t n_threads = 0, failed = 0, answered = 0;
	char *fail_text = NULL, *ok_text = NULL;
	size_t fail_len = 0, ok_len = 0;
	FILE *fail = open_memstream(&fail_text, &fail_len), *ok = open_memstream(&ok_text, &ok_len);
	struct ledger *l = ledger_new(SIZE_MAX, SIZE_MAX);

	if (!fail || !ok || !l) {
		fprintf(msg, "reachctl: out of memory\n");
		snprintf(why, why_size, "out of memory");
		goto out;
	}
	if (resolve_agents(o, &fl, fail, &failed)) {
		failed++; /* out of memory: never judge a partial list */
		goto report;
	}
	atomic_init(&fl.next, 0);
	while (n_threads < AGENT_FETCHERS && n_threads < fl.n && !pthread_create(&threads[n_threads], NULL, fetcher, &fl))
		n_threads++;
	if (!n_threads)
		fetcher(&fl); /* no thread could start: one at a time, here */
	for (size_t i = 0; i < n_threads; i++)
		pthread_join(threads[i], NULL);
	for (size_t i = 0; i < fl.n; i++) {
		struct agent_fetch *f = &fl.v[i];
		struct ledger_file_info info = { 0 };
		char err[512] = "", excerpt[128];

		if (f->rc) {
			fprintf(fail, "reachctl: agent %s: %s\n", f->label, f->res.error);
			*config_error |= fetch_error_is_config(f->rc);
			failed++;
		} else if (f->res.status != 200) {
			const char *hint = status_hint(o, f->res.status);

			body_excerpt(f, excerpt, sizeof(excerpt));
			fprintf(fail, "reachctl: agent %s: HTTP %ld%s%s%s%s%s\n", f->label, f->res.status, *hint ? " (" : "",
				hint, *hint ? ")" : "", *excerpt ? ": " : "", excerpt);
			failed++;
		} else if (ledger_load_image(l, f->body, f->len, &info, err, sizeof(err))) {
			fprintf(fail, "reachctl: agent %s: its ledger does not decode (%s)\n", f->label, err);
			failed++;
		} else {
			fprintf(ok, "%s%s%s%s%s", answered ? ", " : "", f->label, *info.node ? " (" : "", info.node,
				*info.node ? ")" : "");
			answered++;
			if (attest_agents)
				agent_attest_entry(o, f, info.node, attest_agents);
		}
		free(f->body);
		f->body = NULL;
		free(f->records_body);
		f->records_body = NULL;
	}
report:
	fflush(fail);
	fflush(ok);
	fprintf(msg, "reachctl: %zu agents answered%s%s\n", answered, answered ? ": " : "", ok_text);
	fputs(fail_text, msg);
	if (failed) {
		first_line(fail_text, why, why_size);
		if (failed > 1 && strlen(why) + 20 < why_size)
			strcat(why, " (and more failures)");
	} else if (!fl.n) {
		fprintf(msg, "reachctl: --agents resolved to no address\n");
		snprintf(why, why_size, "--agents resolved to no address");
		failed = 1;
	}
out:
	if (fail)
		fclose(fail);
	if (ok)
		fclose(ok);
	free(fail_text);
	free(ok_text);
	free(fl.v);
	if (failed || !fail || !ok) {
		ledger_free(l);
		return NULL;
	}
	return l;
}

/* ---- verify ------------------------------------------------------------------ */

static json_object *judge(const struct ledger *l, const struct policy_set *set, const struct opts *o, FILE *msg)
{
	struct verify_opts vo = { .identity = o->identity, .alert_without_policy = o->default_alert, .epoch = o->epoch,
				  .since = o->since };
	struct verify_result r;
	json_object *doc;
	int rc;

	if ((rc = verify_ledger(l, set, &vo, &r))) {
		fprintf(msg, "reachctl: %s\n", rc != -ENOMEM && r.error[0] ? r.error : "verify: out of memory");
		return NULL;
	}
	doc = verify_result_report(&r);
	verify_result_free(&r);
	if (!doc)
		fprintf(msg, "reachctl: verify: out of memory\n");
	return doc;
}

static json_object *ask_verify(const struct opts *o, FILE *msg, char *why, size_t why_size)
{
	json_object *req = json_object_new_object();

	json_add_str(req, "cmd", "verify");
	if (o->identity)
		json_add_str(req, "identity", o->identity);
	if (o->attest)
		json_add_bool(req, "attest", true); /* the record chain and the ledger digest too */
	if (o->epoch)
		json_add_str(req, "epoch", o->epoch);
	if (o->since)
		json_add_str(req, "since", o->since);
	if (o->policy) {
		char abs[4096];

		/* the agent resolves the path, so hand it an absolute one */
		json_add_str(req, "policy", realpath(o->policy, abs) ? abs : o->policy);
	}
	return agent_request(o->socket, req, msg, why, why_size);
}

/* verify --agents --attest: what one agent adds to the attestation: its
 * ledger image's digest (the bytes it served) and the identity's hash
 * chain from its /v1/records; an agent without /v1/records (older than
 * this reachctl) or whose answer does not parse is named with no chain. */
static void agent_attest_entry(const struct opts *o, const struct agent_fetch *f, const char *node, json_object *out)
{
	json_object *e = json_object_new_object(), *recs = json_object_new_array(), *doc = NULL, *all;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char hex[65] = "";

	json_add_str(e, "agent", f->label);
	json_add_str(e, "node", node);
	if (EVP_Digest(f->body, f->len, md, &md_len, EVP_sha256(), NULL) && md_len == 32) {
		hex_encode(md, md_len, hex);
		json_add_str(e, "ledger_sha256", hex);
	}
	if (f->records_rc || f->records_res.status != 200) {
		char why[300];

		if (f->records_rc)
			snprintf(why, sizeof(why), "%s", f->records_res.error);
		else
			snprintf(why, sizeof(why), "HTTP %ld%s", f->records_res.status,
				 f->records_res.status == 404 ? " (an agent older than /v1/records: its chain is not attested)" : "");
		json_add_str(e, "records_missing", why);
	} else {
		char *text = strndup(f->records_body, f->records_len);

		doc = text ? json_tokener_parse(text) : NULL;
		free(text);
		all = doc ? json_get(doc, "records", json_type_array) : NULL;
		if (!all)
			json_add_str(e, "records_missing", "its /v1/records answer is not a records document");
		for (size_t i = 0; all && i < json_object_array_length(all); i++) {
			json_object *r = json_object_array_get_idx(all, i);

			if (!strcmp(json_get_str(r, "identity", ""), o->identity))
				json_object_array_add(recs, json_copy(r));
		}
	}
	json_add(e, "records", recs);
	json_object_put(doc);
	json_object_array_add(out, e);
}

/* SHA-256 of a file's bytes as hex: 0 or -errno. */
static int sha256_file(const char *path, char hex[65])
{
	FILE *f = fopen(path, "re");
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	size_t n;
	int rc = -EIO;

	hex[0] = '\0';
	if (!f) {
		rc = -errno;
		EVP_MD_CTX_free(ctx);
		return rc;
	}
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			EVP_DigestUpdate(ctx, buf, n);
		if (!ferror(f) && EVP_DigestFinal_ex(ctx, md, &md_len) && md_len == 32) {
			hex_encode(md, md_len, hex);
			rc = 0;
		}
	}
	fclose(f);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* verify --ledger/--agents --attest: what the agent adds to its answer
 * (attest_parts in agent/api_handlers.c), from the ledger judged: the
 * file's digest (--agents: none, several ledgers were merged), the
 * identity's coverage; no record chain (each agent keeps its own). */
static void offline_attest_parts(const struct opts *o, const struct ledger *l, json_object *doc, json_object *agents)
{
	json_object *a = json_object_new_object(), *reach = ledger_to_json(l, o->identity, NULL), *ids, *c;
	char hex[65];

	json_add(a, "records", json_object_new_array());
	if (agents)
		json_add(a, "agents", json_object_get(agents));
	if (o->ledger && !sha256_file(o->ledger, hex))
		json_add_str(a, "ledger_sha256", hex);
	json_add_str(a, "sensor_version", REACH_VERSION);
	ids = reach ? json_get(reach, "identities", json_type_array) : NULL;
	c = ids && json_object_array_length(ids) ? json_get(json_object_array_get_idx(ids, 0), "coverage", json_type_object)
						  : NULL;
	if (c)
		json_add(a, "coverage", json_copy(c));
	json_object_put(reach);
	json_add(doc, "attest", a);
}

/* One verification from the chosen source. NULL: could not verify, the
 * reasons in msg and a one-line summary in why; *final when trying again
 * cannot help. set: the policies, for the offline sources. */
static json_object *verify_once(const struct opts *o, const struct policy_set *set, FILE *msg, char *why,
				size_t why_size, bool *final)
{
	struct ledger *l;
	json_object *doc, *agents = o->attest && o->n_agents ? json_object_new_array() : NULL;

	if (!o->ledger && !o->n_agents)
		return ask_verify(o, msg, why, why_size);
	if (o->n_agents) {
		l = fetch_agents(o, msg, why, why_size, final, agents);
	} else {
		char *text = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&text, &len);

		l = load_ledger_file(o->ledger, m ? m : msg);
		if (m) {
			fclose(m);
			fputs(text, msg);
			first_line(text, why, why_size);
			free(text);
		}
	}
	if (!l) {
		json_object_put(agents);
		return NULL;
	}
	doc = judge(l, set, o, msg);
	if (doc) {
		char digest[65];

		policy_set_digest(set, digest);
		json_add_str(doc, "policy_digest", digest);
		if (o->attest)
			offline_attest_parts(o, l, doc, agents);
	}
	json_object_put(agents);
	ledger_free(l);
	if (!doc)
		*final = true;
	return doc;
}

static int exit_code_of(json_object *doc)
{
	return (int)json_get_int(doc, "exit_code", EXIT_NOT_VERIFIED);
}

/* Why a verdict is inconclusive, for the line between two attempts. */
static void inconclusive_why(json_object *doc, char *why, size_t why_size)
{
	json_object *ids = json_get(doc, "identities", json_type_array);

	snprintf(why, why_size, "inconclusive");
	if (!ids)
		return;
	for (size_t i = 0; i < json_object_array_length(ids); i++) {
		json_object *iv = json_object_array_get_idx(ids, i);

		if (strcmp(json_get_str(iv, "verdict", ""), "inconclusive") == 0 && json_get_bool(iv, "counted", false)) {
			snprintf(why, why_size, "inconclusive: %s: %s", json_get_str(iv, "identity", ""), json_get_str(iv, "reasons", ""));
			return;
		}
	}
}

static int64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The offline sources' checks that waiting cannot fix: options, policy, URLs
 * and CA file. 0 or EXIT_NOT_VERIFIED with the reason printed. */
static int verify_setup(const struct opts *o, struct policy_set *set)
{
	char err[1024];

	if (o->attest && !strcmp(o->attest, "-") && structured(o->output)) {
		fprintf(stderr, "reachctl: --attest - prints a line after the verdict: use the text output, or --attest "
				"FILE with -o %s\n",
			o->output);
		return EXIT_NOT_VERIFIED;
	}
	if (o->attest && (!o->identity || (!o->key && !o->key_secret))) {
		fprintf(stderr, "reachctl: verify --attest FILE needs --identity (the workload it is about) and --key "
				"FILE or --key-secret NS/NAME[:KEY] (the Ed25519 private key that signs it)\n");
		return EXIT_NOT_VERIFIED;
	}

	if (o->n_agents) {
		if (o->ledger || o->socket_set) {
			fprintf(stderr, "reachctl: verify takes one of --agents, --ledger and --socket\n");
			return EXIT_NOT_VERIFIED;
		}
		if (!o->identity) {
			fprintf(stderr, "reachctl: verify --agents needs --identity (the workload the gate is for)\n");
			return EXIT_NOT_VERIFIED;
		}
		for (size_t i = 0; i < o->n_agents; i++) {
			char host[256], port[8], base[300], url[320];
			struct http_target t = { .url = url, .ca_file = o->ca_file };

			if (parse_agent_spec(o->agents[i], host, sizeof(host), port, sizeof(port), base, sizeof(base), err,
					     sizeof(err))) {
				fprintf(stderr, "reachctl: %s\n", err);
				return EXIT_NOT_VERIFIED;
			}
			snprintf(url, sizeof(url), "%s/v1/ledger", base);
			/* the token is checked at each fetch (a rotated one is used), by the same rules */
			if (http_target_check(&t, err, sizeof(err))) {
				fprintf(stderr, "reachctl: --agents %s: %s\n", o->agents[i], err);
				return EXIT_NOT_VERIFIED;
			}
		}
	} else if (o->token_file || o->ca_file) {
		fprintf(stderr, "reachctl: --api-token-file and --ca are for --agents\n");
		return EXIT_NOT_VERIFIED;
	}
	if (!o->ledger && !o->n_agents)
		return 0; /* the agent has the policies */
	if (!o->policy) {
		fprintf(stderr, "reachctl: verify --%s needs --policy (the agent's policies are not in its ledger)\n",
			o->ledger ? "ledger" : "agents");
		return EXIT_NOT_VERIFIED;
	}
	if (policy_load_path(set, o->policy, err, sizeof(err))) {
		fprintf(stderr, "reachctl: %s\n", err);
		return EXIT_NOT_VERIFIED;
	}
	return 0;
}

/* verify --attest --key-secret NS/NAME[:KEY]: the signing key read from a
 * Kubernetes Secret through the API (--kube-api, --kube-token-file,
 * --kube-ca; in a pod: its service account), never from a file; the PEM is
 * wiped once parsed. 0 or -errno with err (never the key). */
static int key_from_secret(const struct opts *o, EVP_PKEY **key, char *err, size_t err_size)
{
	char ns[64], name[254], k[254], why[512], what[700];
	struct kube_conn conn = { 0 };
	uint8_t *pem = NULL;
	size_t len = 0;
	int rc;

	if ((rc = kube_secret_spec(o->key_secret, ns, name, k, err, err_size)))
		return rc;
	if ((rc = kube_conn_init(&conn, o->kube_api, o->kube_token_file, o->kube_ca, why, sizeof(why)))) {
		snprintf(err, err_size, "--key-secret %s: the Kubernetes API: %s", o->key_secret, why);
		return rc;
	}
	rc = kube_secret_get(&conn, ns, name, k, &pem, &len, err, err_size);
	kube_conn_fini(&conn);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "secret %s/%s%s%s", ns, name, k[0] ? " key " : "", k);
	rc = dsse_load_private_key_pem(pem, len, what, key, err, err_size);
	OPENSSL_cleanse(pem, len);
	free(pem);
	return rc;
}

/* verify --attest FILE: the verification of o->identity as an in-toto
 * Statement (policy/attest.h) signed into a DSSE envelope, written to FILE
 * (replaced atomically). 0, or -1 with the reason printed. */
static int write_attestation(const struct opts *o, json_object *doc, EVP_PKEY *key, char **line)
{
	json_object *a = json_get(doc, "attest", json_type_object), *recs, *st = NULL, *env = NULL;
	struct attest_input in = { .identity = o->identity, .report = doc, .now_ms = unix_now_ms(),
				   .ledger_source = o->ledger ? "file" : o->n_agents ? "agents" : "agent" };
	struct epoch_record *chain = NULL;
	size_t n = 0;
	char err[512], keyid[DSSE_KEYID_LEN];
	const char *text;
	int rc = -1;

	if (!a || !(recs = json_get(a, "records", json_type_array))) {
		fprintf(stderr, "reachctl: verify --attest: the agent sent no record chain (an agent older than this "
				"reachctl?): no attestation written\n");
		return -1;
	}
	in.policy_digest = json_get_str(doc, "policy_digest", "");
	in.ledger_digest = json_get_str(a, "ledger_sha256", NULL);
	in.sensor_version = json_get_str(a, "sensor_version", "");
	{ /* the file the version ran, when the agent hashed it */
		json_object *art = json_get(a, "artifact", json_type_object);

		if (art) {
			in.artifact_of = json_get_str(art, "of", NULL);
			in.artifact_sha256 = json_get_str(art, "sha256", NULL);
			in.artifact_size = (uint64_t)json_get_int(art, "size", 0);
		} else if (json_get_str(a, "artifact_missing", NULL)) {
			fprintf(stderr, "reachctl: verify --attest: no file hash for this epoch (%s): the subject names the "
					"version only (subject_of epoch-name)\n",
				json_get_str(a, "artifact_missing", ""));
		}
	}
	n = json_object_array_length(recs);
	if (n && !(chain = calloc(n, sizeof(*chain)))) {
		fprintf(stderr, "reachctl: out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (epoch_record_from_json(json_object_array_get_idx(recs, i), &chain[i], err, sizeof(err))) {
			fprintf(stderr, "reachctl: verify --attest: record %zu of the agent's chain: %s\n", i + 1, err);
			goto out;
		}
	if (n && epoch_chain_check(chain, n, 0, NULL, stderr)) { /* never sign a broken chain */
		fprintf(stderr, "reachctl: verify --attest: the agent's record chain does not verify: no attestation "
				"written\n");
		goto out;
	}
	in.chain = chain;
	in.n_chain = n;
	if ((in.agents = json_get(a, "agents", json_type_array)) && attest_agents_check(in.agents, stderr)) {
		fprintf(stderr, "reachctl: verify --attest: an agent's record chain does not verify: no attestation "
				"written\n");
		goto out;
	}
	in.coverage = json_get(a, "coverage", json_type_object); /* NULL: the ledger has no such identity */
	if (!(st = attest_statement(&in, err, sizeof(err)))) {
		fprintf(stderr, "reachctl: verify --attest: %s\n", err);
		goto out;
	}
	text = json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!(env = dsse_sign(key, ATTEST_PAYLOAD_TYPE, (const uint8_t *)text, strlen(text), err, sizeof(err)))) {
		fprintf(stderr, "reachctl: verify --attest: %s\n", err);
		goto out;
	}
	if (!strcmp(o->attest, "-")) {
		/* a release pipeline's log keeps it: one line, found by its prefix */
		text = json_object_to_json_string_ext(env, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		if (asprintf(line, "reach-attestation %s\n", text) < 0) { /* printed after the verdict */
			*line = NULL;
			fprintf(stderr, "reachctl: out of memory\n");
			rc = -1;
			goto out;
		}
		dsse_keyid(key, keyid);
		fprintf(stderr, "reachctl: attestation of %s written to stdout (the line 'reach-attestation ...'): %zu "
				"records in its chain, signed by key %s\n",
			o->identity, n, keyid);
		rc = 0;
		goto out;
	}
	text = json_object_to_json_string_ext(env, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if ((rc = write_file_atomic(o->attest, text, strlen(text), 0644))) {
		fprintf(stderr, "reachctl: verify --attest: writing %s: %s\n", o->attest, strerror(-rc));
		rc = -1;
		goto out;
	}
	dsse_keyid(key, keyid);
	fprintf(stderr, "reachctl: attestation of %s written to %s: %zu records in its chain, signed by key %s\n",
		o->identity, o->attest, n, keyid);
	rc = 0;
out:
	free(chain);
	json_object_put(st);
	json_object_put(env);
	return rc;
}

/* attest verify FILE --key PUB [--policy PATH] [--ledger FILE]: 0 the
 * attestation verifies, 1 it does not (each problem named), 2 it could not
 * be checked (bad usage, unreadable file or key). */
static int cmd_attest_verify(const char *file, const struct opts *o)
{
	struct attest_expect x = { 0 };
	struct policy_set set = { 0 };
	char err[1024], policy_hex[65], ledger_hex[65];
	json_object *env;
	EVP_PKEY *key = NULL;
	int rc;

	if (!o->key) {
		fprintf(stderr, "reachctl: attest verify needs --key PUB (the Ed25519 public key of the signer)\n");
		return EXIT_USAGE;
	}
	if (dsse_load_public_key(o->key, &key, err, sizeof(err))) {
		fprintf(stderr, "reachctl: %s\n", err);
		return EXIT_USAGE;
	}
	if (o->policy) { /* the policies the attestation claims it was judged by */
		if (policy_load_path(&set, o->policy, err, sizeof(err))) {
			fprintf(stderr, "reachctl: %s\n", err);
			EVP_PKEY_free(key);
			return EXIT_USAGE;
		}
		policy_set_digest(&set, policy_hex);
		policy_set_free(&set);
		x.policy_digest = policy_hex;
	}
	if (o->ledger) {
		if ((rc = sha256_file(o->ledger, ledger_hex))) {
			fprintf(stderr, "reachctl: ledger file %s: %s\n", o->ledger, strerror(-rc));
			EVP_PKEY_free(key);
			return EXIT_USAGE;
		}
		x.ledger_digest = ledger_hex;
	}
	if (!(env = json_object_from_file(file)) && !(env = attest_envelope_from_log(file))) {
		fprintf(stderr, "reachctl: attestation %s: %s\n", file,
			access(file, R_OK) ? strerror(errno)
					   : "not JSON (a DSSE envelope is expected) and no line 'reach-attestation ...' in it");
		EVP_PKEY_free(key);
		return EXIT_USAGE;
	}
	if (structured(o->output)) {
		/* the same checks, each line of the text an entry of "checks" */
		char *text = NULL, *line, *save = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&text, &len);
		json_object *doc = json_object_new_object(), *checks = json_object_new_array();

		rc = attest_check(env, key, &x, m ? m : stderr);
		if (m)
			fclose(m);
		for (line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
			json_object_array_add(checks, json_object_new_string(line + strspn(line, " ")));
		json_add_str(doc, "attestation", file);
		json_add_str(doc, "result", rc == ATTEST_OK ? "OK" : rc == ATTEST_INVALID ? "FAILED" : "UNREADABLE");
		json_add(doc, "checks", checks);
		print_doc(o->output, doc);
		json_object_put(doc);
		free(text);
	} else {
		printf("attestation %s\n", file);
		rc = attest_check(env, key, &x, stdout);
		printf("attest verify: %s\n", rc == ATTEST_OK ? "OK" : rc == ATTEST_INVALID ? "FAILED" : "UNREADABLE");
	}
	json_object_put(env);
	EVP_PKEY_free(key);
	return rc == ATTEST_OK ? 0 : rc == ATTEST_INVALID ? EXIT_FAILED : EXIT_USAGE;
}

/* verify / findings / rotate share one verification; verify --wait tries
 * again every WAIT_RETRY_S while it could not verify, and prints the last. */
static int cmd_verify(const char *cmd, const struct opts *o)
{
	struct policy_set set = { 0 };
	int64_t deadline = mono_s() + o->wait_s;
	json_object *doc = NULL, *v;
	EVP_PKEY *key = NULL;
	char *attest_line = NULL; /* verify --attest -: printed after the verdict */
	int code, attempt;

	if ((code = verify_setup(o, &set))) {
		policy_set_free(&set);
		return code;
	}
	if (o->attest) { /* before verifying: a bad key is found before the wait */
		char err[1024];

		if ((o->key ? dsse_load_private_key(o->key, &key, err, sizeof(err)) : key_from_secret(o, &key, err, sizeof(err)))) {
			fprintf(stderr, "reachctl: %s\n", err);
			policy_set_free(&set);
			return EXIT_NOT_VERIFIED;
		}
	}
	/* an agent that closes mid-answer is a failed fetch, not a dead reachctl
	 * (libcurl with CURLOPT_NOSIGNAL leaves SIGPIPE to us; TLS writes can raise it) */
	if (o->n_agents)
		signal(SIGPIPE, SIG_IGN);
	for (attempt = 1;; attempt++) {
		char *text = NULL, why[768] = "";
		size_t len = 0;
		bool final = false;
		int64_t left;
		FILE *msg = open_memstream(&text, &len);

		if (!msg) {
			fprintf(stderr, "reachctl: out of memory\n");
			break;
		}
		doc = verify_once(o, &set, msg, why, sizeof(why), &final);
		fclose(msg);
		code = exit_code_of(doc);
		left = deadline - mono_s();
		if (code != EXIT_NOT_VERIFIED || final || left <= 0) {
			fputs(text, stderr);
			free(text);
			if (code == EXIT_NOT_VERIFIED && o->wait_s && final)
				fprintf(stderr, "reachctl: not tried again: waiting cannot fix this\n");
			else if (code == EXIT_NOT_VERIFIED && o->wait_s)
				fprintf(stderr, "reachctl: no pass or fail within --wait %ld s (%d attempts)\n", o->wait_s,
					attempt);
			break;
		}
		free(text);
		if (doc)
			inconclusive_why(doc, why, sizeof(why));
		fprintf(stderr, "reachctl: attempt %d: %s; trying again in %d s (--wait: %" PRId64 " s left)\n", attempt,
			*why ? why : "could not verify", left < WAIT_RETRY_S ? (int)left : WAIT_RETRY_S, left);
		json_object_put(doc);
		doc = NULL;
		sleep(left < WAIT_RETRY_S ? (unsigned)left : WAIT_RETRY_S);
	}
	policy_set_free(&set);
	if (!doc) {
		EVP_PKEY_free(key);
		return EXIT_NOT_VERIFIED;
	}
	code = exit_code_of(doc);
	if (o->attest && write_attestation(o, doc, key, &attest_line))
		code = EXIT_NOT_VERIFIED; /* a gate that asked for evidence has none: not verified */
	EVP_PKEY_free(key);
	json_object_object_del(doc, "attest"); /* in the attestation; not printed again */
	if (strcmp(cmd, "verify") == 0) {
		if (structured(o->output)) {
			json_object_object_del(doc, "text");
			print_doc(o->output, doc);
		} else if (!strcmp(o->output, "table")) {
			edge_view_verify(doc);
		} else {
			fputs(json_get_str(doc, "text", ""), stdout);
		}
		if (attest_line) { /* --attest -: after the verdict, the last line */
			fputs(attest_line, stdout);
			fflush(stdout);
			free(attest_line);
			attest_line = NULL;
		}
	} else if (strcmp(cmd, "findings") == 0) {
		if (!json_object_object_get_ex(doc, "findings", &v) || !v)
			v = NULL;
		if (structured(o->output))
			print_doc(o->output, v ? v : json_object_new_array());
		else
			edge_view_findings(v, !strcmp(o->output, "wide"));
	} else if (strcmp(cmd, "epochs") == 0 && structured(o->output)) {
		json_object *ids = json_get(doc, "identities", json_type_array), *out = json_object_new_array();

		for (size_t i = 0; ids && out && i < json_object_array_length(ids); i++) {
			json_object *iv = json_object_array_get_idx(ids, i), *r = json_object_new_object();

			if (o->identity && strcmp(json_get_str(iv, "identity", ""), o->identity) != 0)
				continue;
			json_add_str(r, "identity", json_get_str(iv, "identity", ""));
			json_add_str_or_null(r, "epoch", json_get_str(iv, "epoch", NULL));
			json_add_str_or_null(r, "previous_epoch", json_get_str(iv, "previous_epoch", NULL));
			json_add_str(r, "verdict", json_get_str(iv, "verdict", ""));
			json_object_array_add(out, r);
		}
		print_doc(o->output, out);
		json_object_put(out);
		code = 0;
	} else if (strcmp(cmd, "epochs") == 0) {
		static const char *const hdr[] = { "IDENTITY", "EPOCH", "PREVIOUS", "VERDICT" };
		json_object *ids = json_get(doc, "identities", json_type_array);
		struct table *t = table_new(4, hdr);

		for (size_t i = 0; t && ids && i < json_object_array_length(ids); i++) {
			json_object *iv = json_object_array_get_idx(ids, i);
			const char *row[4] = { json_get_str(iv, "identity", ""),
					       *json_get_str(iv, "epoch", "") ? json_get_str(iv, "epoch", "") : "-",
					       *json_get_str(iv, "previous_epoch", "") ? json_get_str(iv, "previous_epoch", "") : "-",
					       json_get_str(iv, "verdict", "") };

			if (o->identity && strcmp(row[0], o->identity) != 0)
				continue;
			table_add_row(t, row);
		}
		if (t)
			table_print(t, stdout);
		table_free(t);
		code = 0;
	} else { /* rotate: the items with their identity, a table per item kind */
		json_object *verdicts = json_get(doc, "identities", json_type_array), *items = json_object_new_array();

		for (size_t i = 0; verdicts && items && i < json_object_array_length(verdicts); i++) {
			json_object *iv = json_object_array_get_idx(verdicts, i), *rot = json_get(iv, "rotation", json_type_array);

			if (o->identity && strcmp(json_get_str(iv, "identity", ""), o->identity) != 0)
				continue;
			for (size_t j = 0; rot && j < json_object_array_length(rot); j++) {
				json_object *it = json_copy(json_object_array_get_idx(rot, j));

				json_add_str(it, "identity", json_get_str(iv, "identity", ""));
				json_object_array_add(items, it);
			}
		}
		if (structured(o->output))
			print_doc(o->output, items);
		else
			edge_view_rotation(items);
		json_object_put(items);
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
		struct ledger *l = load_ledger_file(o->ledger, stderr);
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
		json_object *reply = ask_agent(o, "suggest");

		if (!reply)
			return EXIT_FAILED;
		fputs(json_get_str(reply, "policy", ""), stdout);
		json_object_put(reply);
		return 0;
	}
}

/* diff A B [-o json]: exit 1 when reach grew (an edge appeared in B), the
 * way `diff` and `git diff --exit-code` say "there is a difference" */
static int cmd_diff(int argc, char **argv)
{
	const char *files[2] = { NULL, NULL }, *out_fmt = NULL;
	struct ledger *a, *b;
	json_object *doc;
	int n = 0, grew;

	for (int i = 2; i < argc; i++) {
		const char *fmt = NULL;

		if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0)
			fmt = i + 1 < argc ? argv[++i] : "";
		else if (strncmp(argv[i], "--output=", 9) == 0)
			fmt = argv[i] + 9;
		else if (strncmp(argv[i], "-o", 2) == 0 && argv[i][2])
			fmt = argv[i] + 2;
		if (fmt) {
			if (output_check("diff", &fmt))
				return EXIT_USAGE;
			out_fmt = fmt;
			continue;
		}
		if (argv[i][0] == '-' || n == 2) {
			fprintf(stderr, "reachctl: usage: reachctl diff LEDGER_A LEDGER_B [-o json]\n");
			return EXIT_USAGE;
		}
		files[n++] = argv[i];
	}
	if (n != 2) {
		fprintf(stderr, "reachctl: usage: reachctl diff LEDGER_A LEDGER_B [-o json]\n");
		return EXIT_USAGE;
	}
	output_check("diff", &out_fmt); /* its default */
	a = load_ledger_file(files[0], stderr);
	b = a ? load_ledger_file(files[1], stderr) : NULL;
	if (!a || !b) {
		ledger_free(a);
		return EXIT_USAGE; /* documented: a ledger unreadable is 2, 1 means "grew" */
	}
	doc = ledger_diff_to_json(a, b);
	if (structured(out_fmt))
		print_doc(out_fmt, doc);
	else
		edge_view_diff(doc, !strcmp(out_fmt, "wide"));
	grew = json_get_int(doc, "appeared", 0) > 0;
	json_object_put(doc);
	ledger_free(a);
	ledger_free(b);
	return grew ? 1 : 0;
}

/* The flags that may come before the command (kubectl-style, as -n and -o
 * do there): where to read (--socket, --ledger), what to print (-o), and
 * whom and against what (--identity, --policy). A command that does not take
 * one says so as when it is given after it. */
static const char *const global_flags[] = { "--socket", "--ledger", "-o", "--output", "--identity", "--policy" };

/* Whether x is a global flag taking the next word (1), one with its value
 * joined ("--ledger=F", "-ojson": 2), or not one (0). */
static int global_flag(const char *x)
{
	for (size_t k = 0; k < sizeof(global_flags) / sizeof(global_flags[0]); k++) {
		size_t l = strlen(global_flags[k]);

		if (strncmp(x, global_flags[k], l) != 0)
			continue;
		if (!x[l])
			return 1;
		if (x[l] == '=' || (l == 2 && x[1] == 'o')) /* --flag=V, -oV */
			return 2;
	}
	return 0;
}

/* kubectl-style: the global flags may come before the command. They are
 * moved after it (and after "policy suggest" or "epoch start"), where the
 * command's own parser reads them. A new argv in *out (free() it); argc of
 * it returned. */
static int hoist_global_flags(int argc, char **argv, char ***out)
{
	char **v = calloc((size_t)argc + 1, sizeof(*v)), **globals = calloc((size_t)argc + 1, sizeof(*globals));
	int n = 1, g = 0, i = 1;

	if (!v || !globals) {
		free(v);
		free(globals);
		*out = NULL;
		return -1;
	}
	v[0] = argv[0];
	while (i < argc && argv[i][0] == '-') {
		int kind = global_flag(argv[i]);
		bool pair = kind == 1, joined = kind == 2;

		if (pair && i + 1 < argc) {
			globals[g++] = argv[i++];
			globals[g++] = argv[i++];
		} else if (joined) {
			globals[g++] = argv[i++];
		} else {
			break; /* --help, --version, or a typo: main says which */
		}
	}
	if (g && i < argc) {
		v[n++] = argv[i++];
		if ((!strcmp(v[1], "policy") || !strcmp(v[1], "epoch") || !strcmp(v[1], "attest")) && i < argc &&
		    argv[i][0] != '-')
			v[n++] = argv[i++];
		/* attest verify FILE: the file is its third word, before any option */
		if (!strcmp(v[1], "attest") && n == 3 && i < argc && argv[i][0] != '-')
			v[n++] = argv[i++];
	}
	for (int k = 0; k < g; k++)
		v[n++] = globals[k];
	while (i < argc)
		v[n++] = argv[i++];
	free(globals);
	*out = v;
	return n;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	json_object *doc;
	bool typo = false;
	char **hoisted;
	int rc;

	if ((argc = hoist_global_flags(argc, argv, &hoisted)) < 0) {
		fprintf(stderr, "reachctl: out of memory\n");
		return EXIT_FAILED;
	}
	argv = hoisted; /* lives until exit */
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("reachctl %s\n", REACH_VERSION);
		return 0;
	}
	/* CMD --help, wherever it is among the command's options */
	for (int i = 2; i < argc; i++) {
		char name[64];
		bool two = (!strcmp(argv[1], "policy") || !strcmp(argv[1], "epoch") || !strcmp(argv[1], "attest")) &&
			   argc > 2 && argv[2][0] != '-';

		if (strcmp(argv[i], "--help") != 0 && strcmp(argv[i], "-h") != 0)
			continue;
		snprintf(name, sizeof(name), "%s%s%s", argv[1], two ? " " : "", two ? argv[2] : "");
		if (command_help(name) == 0)
			return 0;
		break; /* an unknown command: said below */
	}
	if (strcmp(argv[1], "diff") == 0)
		return cmd_diff(argc, argv);
	if (strcmp(argv[1], "epoch") == 0) {
		json_object *req, *reply;

		if (argc < 3 || strcmp(argv[2], "start") != 0 || (rc = parse(argc, argv, &o, 3)) || !o.identity || !o.version) {
			fprintf(stderr, "reachctl: usage: reachctl epoch start --identity NAME --version V\n");
			return EXIT_USAGE;
		}
		req = json_object_new_object();
		json_add_str(req, "cmd", "epoch");
		json_add_str(req, "identity", o.identity);
		json_add_str(req, "version", o.version);
		if (!(reply = agent_request(o.socket, req, stderr, NULL, 0)))
			return agent_error_exit;
		if (structured(o.output))
			print_doc(o.output, reply);
		else
			printf("epoch of %s is now %s\n", json_get_str(reply, "identity", o.identity), o.version);
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
			json_object *reply = ask_agent(&o, "epochs"), *recs;

			if (!reply)
				return agent_error_exit; /* an agent's error too: not an empty table */
			if (structured(o.output)) {
				print_doc(o.output, reply);
			} else if ((recs = json_get(reply, "records", json_type_array))) {
				static const char *const hdr[] = { "IDENTITY", "FROM", "TO", "STATE", "VERDICT", "FINDINGS", "LINK" };
				struct table *t = table_new(7, hdr);

				for (size_t i = 0; t && i < json_object_array_length(recs); i++) {
					json_object *r = json_object_array_get_idx(recs, i);
					char link[40] = "-";

					/* its place in the identity's hash chain (-o json: the whole hashes) */
					if (*json_get_str(r, "hash", ""))
						snprintf(link, sizeof(link), "%" PRId64 ":%.12s", json_get_int(r, "seq", 0),
							 json_get_str(r, "hash", ""));
					char findings[24];
					const char *row[7] = {
						json_get_str(r, "identity", ""),
						*json_get_str(r, "from_version", "") ? json_get_str(r, "from_version", "") : "-",
						*json_get_str(r, "to_version", "") ? json_get_str(r, "to_version", "") : "-",
						json_get_str(r, "state", ""), json_get_str(r, "verdict", ""), findings, link,
					};

					snprintf(findings, sizeof(findings), "%" PRId64, json_get_int(r, "findings", 0));
					table_add_row(t, row);
				}
				if (t)
					table_print(t, stdout);
				table_free(t);
			}
			if (!structured(o.output) && (recs = json_get(reply, "remediation", json_type_array))) {
				for (size_t i = 0; i < json_object_array_length(recs); i++) {
					json_object *r = json_object_array_get_idx(recs, i);

					char mttr[32] = "n/a", rate[32] = "n/a";

					/* n/a until a finding was resolved / an upgrade verified */
					if (json_get_int(r, "findings_resolved", 0))
						snprintf(mttr, sizeof(mttr), "%" PRId64 " s",
							 json_get_int(r, "mean_time_to_remediate_ms", 0) / 1000);
					if (json_get_int(r, "upgrades_with_findings", 0))
						snprintf(rate, sizeof(rate), "%" PRId64 " of %" PRId64,
							 json_get_int(r, "failed_remediations", 0),
							 json_get_int(r, "upgrades_with_findings", 0));
					printf("%s: %" PRId64 " findings resolved (mean time to remediate %s), %" PRId64
					       " open; failed remediations: %s upgrades left findings open\n",
					       json_get_str(r, "identity", ""), json_get_int(r, "findings_resolved", 0), mttr,
					       json_get_int(r, "findings_open", 0), rate);
				}
			}
			json_object_put(reply);
			return 0;
		}
		return cmd_verify("epochs", &o); /* offline: the epochs a verification sees */
	}
	if (strcmp(argv[1], "attest") == 0) {
		if (argc < 4 || strcmp(argv[2], "verify") || argv[3][0] == '-') {
			fprintf(stderr, "reachctl: usage: reachctl attest verify FILE --key PUB [--policy PATH] [--ledger FILE]\n");
			return EXIT_USAGE;
		}
		if ((rc = parse(argc, argv, &o, 4)))
			return rc;
		return cmd_attest_verify(argv[3], &o);
	}
	if (strcmp(argv[1], "verify") == 0 || strcmp(argv[1], "findings") == 0 || strcmp(argv[1], "rotate") == 0) {
		if ((rc = parse(argc, argv, &o, 2)))
			return strcmp(argv[1], "verify") == 0 ? 2 : rc; /* bad usage of verify: could not verify */
		if (strcmp(argv[1], "rotate") == 0 && !o.identity) {
			fprintf(stderr, "reachctl: rotate needs --identity\n");
			return EXIT_USAGE;
		}
		if (o.epoch) {
			char err[300];

			/* "--epoch 1" is no version name: refused before any work */
			if (verify_epoch_spec_check(o.epoch, err, sizeof(err))) {
				fprintf(stderr, "reachctl: %s\n", err);
				return EXIT_NOT_VERIFIED;
			}
		}
		return cmd_verify(argv[1], &o);
	}
	if (strcmp(argv[1], "coverage") == 0) {
		json_object *reach;

		if ((rc = parse(argc, argv, &o, 2)))
			return rc;
		if (o.kind) {
			fprintf(stderr, "reachctl: coverage takes no --kind\n");
			return EXIT_USAGE;
		}
		reach = o.ledger ? reach_from_ledger_file(&o, &typo) : ask_agent(&o, "reach");
		if (!reach)
			return o.ledger ? (typo ? EXIT_USAGE : EXIT_FAILED) : agent_error_exit;
		doc = coverage_doc(reach);
		json_object_put(reach);
		if (structured(o.output))
			print_doc(o.output, doc);
		else
			print_coverage_table(doc);
		json_object_put(doc);
		return 0;
	}
	if (strcmp(argv[1], "reach") != 0 && strcmp(argv[1], "status") != 0) {
		fprintf(stderr, "reachctl: unknown command '%s' (reach, coverage, status, verify, findings, epochs, rotate, policy suggest, epoch start, attest verify, diff)\n",
			argv[1]);
		return EXIT_USAGE;
	}
	if ((rc = parse(argc, argv, &o, 2)))
		return rc;
	if (strcmp(argv[1], "status") == 0 && o.ledger) {
		fprintf(stderr, "reachctl: status asks the running agent; --ledger is for reach\n");
		return EXIT_USAGE;
	}
	doc = o.ledger ? reach_from_ledger_file(&o, &typo) : ask_agent(&o, argv[1]);
	if (!doc)
		return o.ledger ? (typo ? EXIT_USAGE : EXIT_FAILED) : agent_error_exit;
	if (strcmp(argv[1], "reach") == 0)
		edge_fields_annotate(doc); /* an agent older than this reachctl sends none */
	if (structured(o.output))
		print_doc(o.output, doc);
	else if (!strcmp(o.output, "dot"))
		edge_view_dot(doc);
	else if (strcmp(argv[1], "reach") == 0)
		print_reach_table(doc, !strcmp(o.output, "wide"));
	else
		edge_view_status(doc);
	json_object_put(doc);
	return 0;
}
