#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "common/json.h"
#include "policy/policy.h"
#include "policy/ledger_diff.h"
#include "policy/policy_match.h"
#include "policy/suggest.h"
#include "policy/verify.h"
#include "policy/epochs.h"
#include "common/names.h"
#include "reach/coverage.h"
#include "reach/ledger.h"
#include "reach/ledger_store.h"
#include "testutil.h"

/* ---- fixtures -------------------------------------------------------------- */

#define NOW 1800000000000LL /* 2027-01-15 */
#define DAY 86400000LL
#define GW "ai/gw"

static bool allow_refusal; /* a ledger at its cap */
static char tmpdir[] = "/tmp/test_verify.XXXXXX";
static int n_files;

static int group_setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	return remove_tree(tmpdir);
}

static const char *write_file(const char *text, char *path, size_t size)
{
	FILE *f;

	snprintf(path, size, "%s/p%03d.yaml", tmpdir, n_files++);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Loads YAML into ps (appends); the file path for policy_ref checks. */
static void load(struct policy_set *ps, const char *yaml, char *path, size_t size)
{
	char err[512] = "", p[512];
	int rc;

	if (!path) {
		path = p;
		size = sizeof(p);
	}
	write_file(yaml, path, size);
	rc = policy_load_path(ps, path, err, sizeof(err));
	if (rc)
		fprintf(stderr, "policy: %s\n", err);
	assert_int_equal(rc, 0);
}

#define HDR(sa) "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: test}\nspec:\n  serviceAccount: " sa "\n"

struct E {
	enum ledger_kind kind;
	const char *object, *category, *dest_class, *name, *exe, *epoch;
	uint32_t port;
	int64_t first, last;
};

static void rec(struct ledger *l, const char *identity, struct E e)
{
	struct ledger_obs o;
	char proto[8] = "";
	int rc;

	memset(&o, 0, sizeof(o));
	o.identity = identity;
	o.kind = e.kind;
	o.object = e.object;
	o.category = e.category;
	o.dest_class = e.dest_class;
	o.name = e.name;
	o.port = e.port;
	if (e.kind == LEDGER_EGRESS) {
		snprintf(proto, sizeof(proto), "%.3s", e.object);
		o.proto = proto;
		if (!e.port)
			o.port = (uint32_t)atoi(strrchr(e.object, '/') + 1);
	}
	o.count_delta = 1;
	o.first_ms = e.first ? e.first : NOW - DAY;
	o.last_ms = e.last ? e.last : NOW - 1000;
	o.executable = e.exe ? e.exe : "/usr/bin/python3";
	o.epoch = e.epoch;
	rc = ledger_record(l, &o);
	if (allow_refusal && rc == -ENOSPC)
		return;
	assert_int_equal(rc, 0);
}

#define SECRET(...) ((struct E){ .kind = LEDGER_SECRET, __VA_ARGS__ })
#define TOOL(...) ((struct E){ .kind = LEDGER_TOOL, __VA_ARGS__ })
#define EGRESS(...) ((struct E){ .kind = LEDGER_EGRESS, __VA_ARGS__ })
#define CRED(...) ((struct E){ .kind = LEDGER_CREDENTIAL, __VA_ARGS__ })

static struct verify_opts opts_now(void)
{
	struct verify_opts o;

	memset(&o, 0, sizeof(o));
	o.now_ms = NOW;
	return o;
}

static const struct finding *find(const struct verify_result *r, enum finding_kind k, const char *object)
{
	for (size_t i = 0; i < r->n_findings; i++)
		if (r->findings[i].kind == k && (!object || !strcmp(r->findings[i].object, object)))
			return &r->findings[i];
	return NULL;
}

static size_t count_kind(const struct verify_result *r, enum finding_kind k)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_findings; i++)
		n += r->findings[i].kind == k;
	return n;
}

static const struct identity_verdict *verdict_of(const struct verify_result *r, const char *identity)
{
	for (size_t i = 0; i < r->n_verdicts; i++)
		if (!strcmp(r->verdicts[i].identity, identity))
			return &r->verdicts[i];
	return NULL;
}

static void run(const struct ledger *l, const struct policy_set *ps, const struct verify_opts *o,
		struct verify_result *r)
{
	assert_int_equal(verify_ledger(l, ps, o, r), 0);
}

/* A gateway that does exactly what its policy says. */
static const char *gw_policy = HDR(GW) "  secrets: [/etc/llm/keys/*.key]\n"
				       "  egress: [{host: api.openai.com, ports: [443]}, {cidr: 10.96.0.0/12}]\n"
				       "  credentials: [{host: api.openai.com, kinds: [bearer]}]\n"
				       "  tools: [/usr/bin/python3*]\n";

static void gw_edges_at(struct ledger *l, const char *epoch, int64_t first, int64_t last)
{
	rec(l, GW, SECRET(.object = "/etc/llm/keys/a.key", .category = "private-key", .epoch = epoch, .first = first,
			  .last = last));
	rec(l, GW, EGRESS(.object = "tcp/104.18.7.192/443", .name = "api.openai.com", .dest_class = "external",
			  .epoch = epoch, .first = first, .last = last));
	rec(l, GW, EGRESS(.object = "tcp/10.96.0.10/8080", .dest_class = "cluster", .epoch = epoch, .first = first,
			  .last = last));
	rec(l, GW, CRED(.object = "api.openai.com POST /v1/chat/completions bearer fp:0123456789abcdef",
			.category = "bearer", .name = "api.openai.com", .port = 443, .epoch = epoch, .first = first,
			.last = last));
	rec(l, GW, TOOL(.object = "/usr/bin/python3.11", .epoch = epoch, .first = first, .last = last));
}

static void gw_edges(struct ledger *l, const char *epoch) { gw_edges_at(l, epoch, 0, 0); }

/* ---- object parsers --------------------------------------------------------- */

static void test_parse_objects(void **state)
{
	struct credential_object c;
	struct netaddr a, want;
	char proto[8], host[256];
	uint16_t port;

	(void)state;
	assert_int_equal(credential_object_parse("api.x.com:8443 POST /v1/{id}/chat bearer fp:0123456789abcdef", &c), 0);
	assert_string_equal(c.host, "api.x.com:8443");
	assert_string_equal(c.method, "POST");
	assert_string_equal(c.path_template, "/v1/{id}/chat");
	assert_string_equal(c.kind, "bearer");
	assert_string_equal(c.fingerprint, "0123456789abcdef");
	assert_int_equal(credential_object_parse("10.0.0.1 GET /api/v1/namespaces/ns/secrets none", &c), 0);
	assert_string_equal(c.kind, "none");
	assert_string_equal(c.fingerprint, "");
	/* CONNECT: empty path template */
	assert_int_equal(credential_object_parse("proxy:3128 CONNECT  basic fp:00000000000000ff", &c), 0);
	assert_string_equal(c.method, "CONNECT");
	assert_string_equal(c.path_template, "");
	assert_string_equal(c.kind, "basic");
	assert_int_equal(credential_object_parse("host GET bearer", &c), -EINVAL);
	assert_int_equal(credential_object_parse("nothing", &c), -EINVAL);

	assert_int_equal(egress_object_parse("tcp/10.1.2.3/443", proto, &a, &port), 0);
	assert_string_equal(proto, "tcp");
	assert_int_equal(port, 443);
	assert_int_equal(netaddr_parse("10.1.2.3", &want), 0);
	assert_true(netaddr_equal(&a, &want));
	assert_int_equal(egress_object_parse("udp/2001:db8::1/53", proto, &a, &port), 0);
	assert_string_equal(proto, "udp");
	assert_int_equal(a.family, 6);
	assert_int_equal(egress_object_parse("tcp/nope/443", proto, &a, &port), -EINVAL);
	assert_int_equal(egress_object_parse("tcp/10.0.0.1/70000", proto, &a, &port), -EINVAL);

	host_without_port("api.x.com:8443", host, sizeof(host));
	assert_string_equal(host, "api.x.com");
	host_without_port("[2001:db8::1]:443", host, sizeof(host));
	assert_string_equal(host, "2001:db8::1");
	host_without_port("2001:db8::1", host, sizeof(host));
	assert_string_equal(host, "2001:db8::1");
}

/* ---- findings ------------------------------------------------------------------ */

static void test_pass_when_declared(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct identity_verdict *v;

	(void)state;
	gw_edges(l, NULL);
	/* DNS answers are no rule type: never judged, never counted */
	rec(l, GW, ((struct E){ .kind = LEDGER_DNS, .object = "api.openai.com" }));
	load(&ps, gw_policy, NULL, 0);
	run(l, &ps, &o, &r);
	assert_int_equal(r.n_findings, 0);
	assert_int_equal(r.n_verdicts, 1);
	v = verdict_of(&r, GW);
	assert_non_null(v);
	assert_int_equal(v->verdict, VERDICT_PASS);
	assert_true(v->has_policy);
	assert_true(v->counted);
	assert_int_equal(v->n_edges, 5);
	assert_string_equal(v->reasons, "");
	assert_int_equal(r.overall, VERDICT_PASS);
	assert_int_equal(verify_exit_code(&r), 0);
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}

static void test_undeclared_kinds(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct finding *f;
	char path[512], ref[600];

	(void)state;
	gw_edges(l, NULL);
	rec(l, GW, SECRET(.object = "/etc/app/.env", .category = "dotenv", .first = NOW - 5000, .last = NOW - 2000,
			  .exe = "/usr/bin/node"));
	rec(l, GW, SECRET(.object = "/etc/app/.env", .exe = "/usr/bin/bash"));
	rec(l, GW, SECRET(.object = "/var/run/secrets/kubernetes.io/serviceaccount/token", .category = "k8s-sa-token"));
	rec(l, GW, SECRET(.object = "/root/.kube/config", .category = "kubeconfig"));
	rec(l, GW, SECRET(.object = "/root/.aws/credentials", .category = "aws-credentials"));
	rec(l, GW, SECRET(.object = "/root/.config/gcloud/credentials.db", .category = "gcp-credentials"));
	rec(l, GW, SECRET(.object = "/root/.azure/accessTokens.json", .category = "azure-credentials"));
	rec(l, GW, EGRESS(.object = "tcp/203.0.113.9/443", .name = "evil.example", .dest_class = "external"));
	rec(l, GW, EGRESS(.object = "udp/104.18.7.192/443", .name = "api.openai.com", .dest_class = "external"));
	rec(l, GW, CRED(.object = "evil.example POST /upload bearer fp:00000000000000aa", .category = "bearer",
			.name = "evil.example", .port = 443));
	rec(l, GW, CRED(.object = "api.openai.com POST /v1/x api-key fp:00000000000000bb", .category = "api-key",
			.name = "api.openai.com", .port = 443));
	rec(l, GW, TOOL(.object = "/usr/bin/curl"));
	load(&ps, gw_policy, path, sizeof(path));
	run(l, &ps, &o, &r);
	/* policy_ref: the spec list that missed the edge (spec.secrets is on
	 * line 6; it pointed at the document's first line before) */
	snprintf(ref, sizeof(ref), "%s:6", path);
	{
		char want[600];

		snprintf(want, sizeof(want), "%s:7", path);
		assert_string_equal(find(&r, FINDING_UNDECLARED_EGRESS, "tcp/203.0.113.9/443")->policy_ref, want);
		snprintf(want, sizeof(want), "%s:8", path);
		assert_string_equal(find(&r, FINDING_UNDECLARED_CREDENTIAL,
					 "evil.example POST /upload bearer fp:00000000000000aa")->policy_ref, want);
		snprintf(want, sizeof(want), "%s:9", path);
		assert_string_equal(find(&r, FINDING_UNUSUAL_TOOL, "/usr/bin/curl")->policy_ref, want);
	}

	f = find(&r, FINDING_UNDECLARED_SECRET, "/etc/app/.env");
	assert_non_null(f);
	assert_int_equal(f->severity, SEV_MEDIUM);
	assert_string_equal(f->identity, GW);
	assert_string_equal(f->edge_kind, "secret");
	assert_int_equal(f->first_ms, NOW - DAY);
	assert_int_equal(f->last_ms, NOW - 1000);
	assert_string_equal(f->executables, "/usr/bin/bash,/usr/bin/node");
	assert_string_equal(f->policy_ref, ref);
	assert_non_null(strstr(f->message, "dotenv"));
	assert_non_null(strstr(f->message, "spec.secrets"));
	assert_int_equal(strlen(f->id), 16);
	for (const char *p = "/var/run/secrets/kubernetes.io/serviceaccount/token\0/root/.kube/config\0"
			     "/root/.aws/credentials\0/root/.config/gcloud/credentials.db\0/root/.azure/accessTokens.json\0";
	     *p; p += strlen(p) + 1) {
		f = find(&r, FINDING_UNDECLARED_SECRET, p);
		assert_non_null(f);
		assert_int_equal(f->severity, SEV_HIGH);
	}
	assert_int_equal(count_kind(&r, FINDING_UNDECLARED_SECRET), 6);

	f = find(&r, FINDING_UNDECLARED_EGRESS, "tcp/203.0.113.9/443");
	assert_non_null(f);
	assert_int_equal(f->severity, SEV_MEDIUM);
	assert_non_null(strstr(f->message, "evil.example"));
	/* the rule says port 443, any protocol: udp/443 to the same name is declared */
	assert_null(find(&r, FINDING_UNDECLARED_EGRESS, "udp/104.18.7.192/443"));
	assert_int_equal(count_kind(&r, FINDING_UNDECLARED_EGRESS), 1);

	f = find(&r, FINDING_UNDECLARED_CREDENTIAL, "evil.example POST /upload bearer fp:00000000000000aa");
	assert_non_null(f);
	assert_int_equal(f->severity, SEV_MEDIUM);
	assert_string_equal(f->edge_kind, "credential");
	/* declared host, undeclared kind */
	assert_non_null(find(&r, FINDING_UNDECLARED_CREDENTIAL, "api.openai.com POST /v1/x api-key fp:00000000000000bb"));
	assert_int_equal(count_kind(&r, FINDING_UNDECLARED_CREDENTIAL), 2);

	f = find(&r, FINDING_UNUSUAL_TOOL, "/usr/bin/curl");
	assert_non_null(f);
	assert_int_equal(f->severity, SEV_MEDIUM);
	assert_string_equal(f->edge_kind, "tool");
	assert_int_equal(count_kind(&r, FINDING_UNUSUAL_TOOL), 1);

	assert_int_equal(r.n_findings, 10);
	assert_int_equal(verdict_of(&r, GW)->verdict, VERDICT_FAIL);
	assert_int_equal(verdict_of(&r, GW)->n_findings_by_sev[SEV_HIGH], 5);
	assert_int_equal(verdict_of(&r, GW)->n_findings_by_sev[SEV_MEDIUM], 5);
	assert_non_null(strstr(verdict_of(&r, GW)->reasons, "10 findings"));
	assert_int_equal(r.overall, VERDICT_FAIL);
	assert_int_equal(verify_exit_code(&r), 1);
	/* worst first */
	for (size_t i = 1; i < r.n_findings; i++)
		assert_true(r.findings[i - 1].severity >= r.findings[i].severity);
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}

static void test_cloud_metadata(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct finding *f;
	const char *md = "tcp/169.254.169.254/80";
	const char *mdc = "169.254.169.254 GET /latest/meta-data/iam/security-credentials/{id} none";

	(void)state;
	for (const char *id = "a/undeclared\0b/broad\0c/explicit\0d/host\0"; *id; id += strlen(id) + 1) {
		rec(l, id, EGRESS(.object = md, .dest_class = "cloud-metadata"));
		rec(l, id, CRED(.object = mdc, .category = "none", .name = "169.254.169.254",
				.dest_class = "cloud-metadata-credentials", .port = 80));
	}
	load(&ps, HDR("a/undeclared") "  egress: [{host: api.openai.com}]\n", NULL, 0);
	load(&ps, HDR("b/broad") "  egress: [{cidr: 0.0.0.0/0}]\n  credentials: [{host: '*'}]\n", NULL, 0);
	load(&ps, HDR("c/explicit") "  egress: [{cidr: 169.254.169.254/32, ports: [80]}]\n"
				    "  credentials: [{host: 169.254.169.254, paths: ['/latest/meta-data/iam/**']}]\n",
	     NULL, 0);
	load(&ps, HDR("d/host") "  egress: [{host: 169.254.169.254}]\n", NULL, 0);
	run(l, &ps, &o, &r);

	f = find(&r, FINDING_CLOUD_METADATA_ACCESS, md);
	assert_non_null(f);
	assert_string_equal(f->identity, "a/undeclared");
	assert_int_equal(f->severity, SEV_HIGH);
	assert_string_equal(f->edge_kind, "egress");
	/* not reported twice */
	assert_int_equal(count_kind(&r, FINDING_UNDECLARED_EGRESS), 0);
	assert_int_equal(count_kind(&r, FINDING_UNDECLARED_CREDENTIAL), 0);

	/* broad rules cover, but not explicitly: still high, and it says why */
	{
		size_t n = 0;

		for (size_t i = 0; i < r.n_findings; i++) {
			if (strcmp(r.findings[i].identity, "b/broad"))
				continue;
			assert_int_equal(r.findings[i].kind, FINDING_CLOUD_METADATA_ACCESS);
			assert_int_equal(r.findings[i].severity, SEV_HIGH);
			assert_non_null(strstr(r.findings[i].message, "broad"));
			/* the broad rule's line: egress on 6, credentials on 7 */
			assert_non_null(strstr(r.findings[i].policy_ref,
					       strcmp(r.findings[i].edge_kind, "egress") ? ":7" : ":6"));
			n++;
		}
		assert_int_equal(n, 2);
	}
	assert_int_equal(verdict_of(&r, "a/undeclared")->n_findings_by_sev[SEV_HIGH], 2);
	assert_int_equal(verdict_of(&r, "a/undeclared")->verdict, VERDICT_FAIL);
	assert_int_equal(verdict_of(&r, "b/broad")->verdict, VERDICT_FAIL);
	/* explicit cidr + credential rule with paths: nothing */
	assert_int_equal(verdict_of(&r, "c/explicit")->verdict, VERDICT_PASS);
	assert_int_equal(verdict_of(&r, "c/explicit")->n_findings_by_sev[SEV_HIGH], 0);
	/* an exact host (here an IP literal) is explicit for egress; the
	 * credential request is still undeclared metadata access */
	assert_int_equal(verdict_of(&r, "d/host")->n_findings_by_sev[SEV_HIGH], 1);
	f = NULL;
	for (size_t i = 0; i < r.n_findings; i++)
		if (!strcmp(r.findings[i].identity, "d/host"))
			f = &r.findings[i];
	assert_non_null(f);
	assert_string_equal(f->object, mdc);
	assert_int_equal(f->kind, FINDING_CLOUD_METADATA_ACCESS);
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}

static void test_apiserver_secret_read(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct finding *f;
	const char *obj = "10.96.0.1:443 GET /api/v1/namespaces/ai/secrets/{id} bearer fp:0000000000000001";

	(void)state;
	for (const char *id = "a/none\0b/anypath\0c/declared\0"; *id; id += strlen(id) + 1)
		rec(l, id, CRED(.object = obj, .category = "bearer", .name = "10.96.0.1:443", .port = 443,
				.dest_class = "kube-secrets"));
	load(&ps, HDR("a/none") "  tools: [/usr/bin/*]\n", NULL, 0);
	load(&ps, HDR("b/anypath") "  credentials: [{host: 10.96.0.1, kinds: [bearer]}]\n", NULL, 0);
	load(&ps, HDR("c/declared") "  credentials: [{host: 10.96.0.1, kinds: [bearer], "
				    "paths: ['/api/v1/namespaces/ai/secrets/*']}]\n",
	     NULL, 0);
	run(l, &ps, &o, &r);
	f = find(&r, FINDING_APISERVER_SECRET_READ, obj);
	assert_non_null(f);
	assert_string_equal(f->identity, "a/none");
	assert_int_equal(f->severity, SEV_HIGH);
	assert_non_null(strstr(f->message, "secrets"));
	assert_int_equal(count_kind(&r, FINDING_APISERVER_SECRET_READ), 2);
	assert_int_equal(count_kind(&r, FINDING_UNDECLARED_CREDENTIAL), 0);
	assert_int_equal(verdict_of(&r, "b/anypath")->verdict, VERDICT_FAIL);
	assert_int_equal(verdict_of(&r, "c/declared")->verdict, VERDICT_PASS);
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}

/* An interpreter's tool is "exe program": a rule naming the executable
 * allows all its programs, "exe program-glob" only those; a non-interpreter
 * path with a space is not split. */
static void test_interpreted_tools(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;

	(void)state;
	rec(l, "a/exe", TOOL(.object = "/usr/bin/node server-filesystem"));
	rec(l, "b/prog", TOOL(.object = "/usr/bin/node server-filesystem"));
	rec(l, "b/prog", TOOL(.object = "/usr/bin/node agent.mjs"));
	rec(l, "c/space", TOOL(.object = "/opt/my tool"));
	load(&ps, HDR("a/exe") "  tools: [/usr/bin/node]\n", NULL, 0);
	load(&ps, HDR("b/prog") "  tools: ['/usr/bin/node server-*']\n", NULL, 0);
	load(&ps, HDR("c/space") "  tools: [/opt/my]\n", NULL, 0);
	run(l, &ps, &o, &r);
	assert_int_equal(verdict_of(&r, "a/exe")->verdict, VERDICT_PASS);
	assert_int_equal(verdict_of(&r, "b/prog")->verdict, VERDICT_FAIL);
	assert_non_null(find(&r, FINDING_UNUSUAL_TOOL, "/usr/bin/node agent.mjs"));
	assert_int_equal(count_kind(&r, FINDING_UNUSUAL_TOOL), 2);
	assert_non_null(find(&r, FINDING_UNUSUAL_TOOL, "/opt/my tool"));
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}

static void test_exceptions(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct finding *f;
	char path[512], ref[600];

	(void)state;
	gw_edges(l, NULL);
	rec(l, GW, EGRESS(.object = "tcp/10.0.0.5/8080", .name = "legacy.internal", .dest_class = "private"));
	rec(l, GW, SECRET(.object = "/etc/old/token", .category = "custom"));
	load(&ps,
	     HDR(GW) "  secrets: [/etc/llm/keys/*.key]\n"
		     "  egress: [{host: api.openai.com, ports: [443]}, {cidr: 10.96.0.0/12}]\n"
		     "  credentials: [{host: api.openai.com, kinds: [bearer]}]\n"
		     "  tools: [/usr/bin/python3*]\n"
		     "  exceptions:\n"
		     "    - {egress: {host: legacy.internal, ports: [8080]}, expires: 2027-12-31T00:00:00Z, reason: SEC-1}\n"
		     "    - {secret: /etc/old/*, expires: 2026-12-31T00:00:00Z, reason: SEC-2}\n"
		     "    - {tool: /usr/bin/wget, expires: 2027-01-01T00:00:00Z, reason: SEC-3}\n",
	     path, sizeof(path));
	run(l, &ps, &o, &r);
	/* unexpired: covers */
	assert_null(find(&r, FINDING_UNDECLARED_EGRESS, NULL));
	/* expired: a finding of its own, and it covers nothing */
	f = find(&r, FINDING_EXCEPTION_EXPIRED, "/etc/old/*");
	assert_non_null(f);
	assert_int_equal(f->severity, SEV_MEDIUM);
	assert_string_equal(f->edge_kind, "secret");
	snprintf(ref, sizeof(ref), "%s:12", path);
	assert_string_equal(f->policy_ref, ref);
	assert_non_null(strstr(f->message, "SEC-2"));
	assert_non_null(strstr(f->message, "2026-12-31T00:00:00Z"));
	assert_int_equal(f->last_ms, NOW - 1000); /* of the edge it would cover */
	f = find(&r, FINDING_UNDECLARED_SECRET, "/etc/old/token");
	assert_non_null(f);
	assert_non_null(strstr(f->message, "expired"));
	/* expired with nothing matching: still a finding */
	f = find(&r, FINDING_EXCEPTION_EXPIRED, "/usr/bin/wget");
	assert_non_null(f);
	assert_int_equal(f->first_ms, 0);
	assert_int_equal(count_kind(&r, FINDING_EXCEPTION_EXPIRED), 2);
	/* expired exceptions are not "unused" advice as well */
	assert_null(find(&r, FINDING_UNUSED_DECLARED, "/usr/bin/wget"));
	assert_int_equal(verdict_of(&r, GW)->verdict, VERDICT_FAIL);
	verify_result_free(&r);

	/* before the expiry the same exception covers the secret */
	o.now_ms = NOW - 30 * DAY;
	rec(l, GW, TOOL(.object = "/usr/bin/wget", .first = NOW - 40 * DAY, .last = NOW - 35 * DAY));
	run(l, &ps, &o, &r);
	assert_int_equal(count_kind(&r, FINDING_EXCEPTION_EXPIRED), 0);
	assert_null(find(&r, FINDING_UNDECLARED_SECRET, NULL));
	assert_null(find(&r, FINDING_UNUSUAL_TOOL, NULL));
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}

/* v1 (epoch A) read a key and called legacy; v2 (epoch B) still calls the
 * API, no longer legacy, and newly reads a token and runs curl. */
static void epoch_ledger(struct ledger *l)
{
	int64_t a0 = NOW - 10 * DAY, a1 = NOW - 5 * DAY, b0 = NOW - 4 * DAY;

	/* seen in A and again in B */
	rec(l, GW, SECRET(.object = "/etc/llm/keys/a.key", .category = "private-key", .epoch = "sha256:a", .first = a0,
			  .last = a1));
	rec(l, GW, SECRET(.object = "/etc/llm/keys/a.key", .category = "private-key", .epoch = "sha256:b", .first = b0));
	rec(l, GW, EGRESS(.object = "tcp/104.18.7.192/443", .name = "api.openai.com", .epoch = "sha256:a", .first = a0,
			  .last = a1));
	rec(l, GW, EGRESS(.object = "tcp/104.18.7.192/443", .name = "api.openai.com", .epoch = "sha256:b", .first = b0));
	rec(l, GW, CRED(.object = "api.openai.com POST /v1/chat bearer fp:00000000000000a1", .category = "bearer",
			.name = "api.openai.com", .port = 443, .epoch = "sha256:a", .first = a0, .last = a1));
	rec(l, GW, TOOL(.object = "/usr/bin/python3.11", .epoch = "sha256:a", .first = a0, .last = a1));
	rec(l, GW, TOOL(.object = "/usr/bin/python3.11", .epoch = "sha256:b", .first = b0));
	/* A only */
	rec(l, GW, EGRESS(.object = "tcp/10.0.0.5/8080", .name = "legacy.internal", .epoch = "sha256:a", .first = a0,
			  .last = a1));
	rec(l, GW, SECRET(.object = "/etc/old/db.pass", .category = "custom", .epoch = "sha256:a", .first = a0,
			  .last = a1));
	rec(l, GW, CRED(.object = "169.254.169.254 GET /latest/meta-data/iam/security-credentials/{id} none",
			.category = "none", .name = "169.254.169.254", .port = 80, .epoch = "sha256:a",
			.dest_class = "cloud-metadata-credentials", .first = a0, .last = a1));
	/* B only */
	rec(l, GW, SECRET(.object = "/var/run/secrets/kubernetes.io/serviceaccount/token", .category = "k8s-sa-token",
			  .epoch = "sha256:b", .first = b0));
	rec(l, GW, TOOL(.object = "/usr/bin/curl", .epoch = "sha256:b", .first = b0));
	rec(l, GW, CRED(.object = "api.openai.com POST /v1/chat bearer fp:00000000000000b2", .category = "bearer",
			.name = "api.openai.com", .port = 443, .epoch = "sha256:b", .first = b0));
}

static void test_epochs(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct identity_verdict *v;
	const struct finding *f;

	(void)state;
	epoch_ledger(l);
	load(&ps, gw_policy, NULL, 0);
	run(l, &ps, &o, &r);
	v = verdict_of(&r, GW);
	assert_string_equal(v->epoch, "sha256:b");
	assert_string_equal(v->previous_epoch, "sha256:a");
	assert_int_equal(v->n_edges, 6); /* last seen in B */

	/* grew: first seen in B */
	f = find(&r, FINDING_REACH_GREW, "/usr/bin/curl");
	assert_non_null(f);
	assert_int_equal(f->severity, SEV_INFO);
	assert_non_null(strstr(f->message, "sha256:a"));
	assert_non_null(find(&r, FINDING_REACH_GREW, "/var/run/secrets/kubernetes.io/serviceaccount/token"));
	/* declared growth: info only */
	assert_non_null(find(&r, FINDING_REACH_GREW, "api.openai.com POST /v1/chat bearer fp:00000000000000b2"));
	assert_int_equal(count_kind(&r, FINDING_REACH_GREW), 3);
	/* ... in addition to the undeclared findings, which carry the severity */
	f = find(&r, FINDING_UNUSUAL_TOOL, "/usr/bin/curl");
	assert_non_null(f);
	assert_int_equal(f->severity, SEV_MEDIUM);
	assert_non_null(strstr(f->message, "new in epoch sha256:b"));
	f = find(&r, FINDING_UNDECLARED_SECRET, "/var/run/secrets/kubernetes.io/serviceaccount/token");
	assert_non_null(f);
	assert_int_equal(f->severity, SEV_HIGH);

	/* shrank: last seen in A; not judged against the policy any more */
	f = find(&r, FINDING_REACH_SHRANK, "tcp/10.0.0.5/8080");
	assert_non_null(f);
	assert_int_equal(f->severity, SEV_INFO);
	assert_non_null(find(&r, FINDING_REACH_SHRANK, "/etc/old/db.pass"));
	assert_int_equal(count_kind(&r, FINDING_REACH_SHRANK), 4);
	assert_null(find(&r, FINDING_UNDECLARED_EGRESS, "tcp/10.0.0.5/8080"));
	assert_null(find(&r, FINDING_UNDECLARED_SECRET, "/etc/old/db.pass"));
	assert_int_equal(count_kind(&r, FINDING_CLOUD_METADATA_ACCESS), 0);
	/* seen in both: neither */
	assert_null(find(&r, FINDING_REACH_GREW, "/etc/llm/keys/a.key"));
	assert_null(find(&r, FINDING_REACH_SHRANK, "/etc/llm/keys/a.key"));

	assert_int_equal(v->verdict, VERDICT_FAIL);
	assert_int_equal(v->n_findings_by_sev[SEV_HIGH], 1);
	assert_int_equal(v->n_findings_by_sev[SEV_MEDIUM], 1);
	assert_int_equal(v->n_findings_by_sev[SEV_INFO], 7);
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}

static void test_epoch_choice(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;

	(void)state;
	/* many old-epoch edges, but in the latest 10 % of time only "new" ones
	 * and one "old": new is current */
	for (int i = 0; i < 6; i++) {
		char obj[64];

		snprintf(obj, sizeof(obj), "/usr/bin/t%d", i);
		rec(l, "a/x", TOOL(.object = obj, .epoch = "old", .first = NOW - 100 * DAY, .last = NOW - 50 * DAY));
	}
	rec(l, "a/x", TOOL(.object = "/usr/bin/n1", .epoch = "new", .first = NOW - 2 * DAY, .last = NOW - 1000));
	rec(l, "a/x", TOOL(.object = "/usr/bin/n2", .epoch = "new", .first = NOW - 2 * DAY, .last = NOW - 2000));
	rec(l, "a/x", TOOL(.object = "/usr/bin/o1", .epoch = "old", .first = NOW - 100 * DAY, .last = NOW - 3000));
	/* host identity: no epochs at all */
	rec(l, "host/y", TOOL(.object = "/usr/bin/z"));
	load(&ps, HDR("a/x") "  tools: [/usr/bin/*]\n", NULL, 0);
	load(&ps, "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: y}\nspec:\n  identity: host/y\n"
		  "  tools: [/usr/bin/*]\n",
	     NULL, 0);
	run(l, &ps, &o, &r);
	assert_string_equal(verdict_of(&r, "a/x")->epoch, "new");
	assert_string_equal(verdict_of(&r, "a/x")->previous_epoch, "old");
	/* n1, n2; o1, seen lately but last in the old epoch, shrank */
	assert_int_equal(verdict_of(&r, "a/x")->n_edges, 2);
	assert_int_equal(count_kind(&r, FINDING_REACH_SHRANK), 7);
	assert_int_equal(count_kind(&r, FINDING_REACH_GREW), 2);
	assert_int_equal(verdict_of(&r, "a/x")->verdict, VERDICT_PASS);
	assert_string_equal(verdict_of(&r, "host/y")->epoch, "");
	assert_string_equal(verdict_of(&r, "host/y")->previous_epoch, "");
	assert_int_equal(verdict_of(&r, "host/y")->n_rotation, 0);
	assert_int_equal(verdict_of(&r, "host/y")->verdict, VERDICT_PASS);
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}


/* Three versions: /usr/bin/a in each, /usr/bin/b in v2 only. Every pair of
 * neighbours compares exactly: a never grew or shrank; b grew in v2 and
 * shrank in v3; an older epoch's previous is the one before it. */
static void history_ledger(struct ledger *l)
{
	int64_t v1 = NOW - 3 * DAY, v2 = NOW - 2 * DAY, v3 = NOW - DAY;

	rec(l, GW, TOOL(.object = "/usr/bin/a", .epoch = "v1", .first = v1, .last = v1 + 1000));
	rec(l, GW, TOOL(.object = "/usr/bin/a", .epoch = "v2", .first = v1, .last = v2 + 1000));
	rec(l, GW, TOOL(.object = "/usr/bin/b", .epoch = "v2", .first = v2 + 2000, .last = v2 + 2000));
	rec(l, GW, TOOL(.object = "/usr/bin/a", .epoch = "v3", .first = v1, .last = v3 + 1000));
}

static void history_case(const struct ledger *l, const struct policy_set *ps, const char *spec, const char *want_epoch,
			 const char *want_previous, size_t grew, size_t shrank, size_t edges)
{
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct identity_verdict *v;

	o.identity = GW;
	o.epoch = spec;
	run(l, ps, &o, &r);
	v = verdict_of(&r, GW);
	assert_non_null(v);
	assert_string_equal(v->epoch, want_epoch);
	assert_string_equal(v->previous_epoch, want_previous);
	assert_int_equal(count_kind(&r, FINDING_REACH_GREW), grew);
	assert_int_equal(count_kind(&r, FINDING_REACH_SHRANK), shrank);
	assert_int_equal(v->n_edges, edges);
	if (grew)
		assert_non_null(find(&r, FINDING_REACH_GREW, "/usr/bin/b"));
	if (shrank)
		assert_non_null(find(&r, FINDING_REACH_SHRANK, "/usr/bin/b"));
	verify_result_free(&r);
}

static void test_epoch_history_pairs(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;

	(void)state;
	history_ledger(l);
	load(&ps, HDR(GW) "  tools: [/usr/bin/*]\n", NULL, 0);
	history_case(l, &ps, NULL, "v3", "v2", 0, 1, 1);
	history_case(l, &ps, "current", "v3", "v2", 0, 1, 1);
	history_case(l, &ps, "v3", "v3", "v2", 0, 1, 1);
	history_case(l, &ps, "v2", "v2", "v1", 1, 0, 2);
	history_case(l, &ps, "-1", "v2", "v1", 1, 0, 2);
	history_case(l, &ps, "v1", "v1", "", 0, 0, 1);
	history_case(l, &ps, "-2", "v1", "", 0, 0, 1);
	history_case(l, &ps, "-0", "v3", "v2", 0, 1, 1);

	/* typos: an error naming the closest, never a verdict */
	o.identity = GW;
	o.epoch = "v22";
	assert_int_equal(verify_ledger(l, &ps, &o, &r), -ENOENT);
	assert_non_null(strstr(r.error, "no epoch 'v22'"));
	assert_non_null(strstr(r.error, "did you mean v2"));
	assert_int_equal(r.n_verdicts, 0);
	o.epoch = "-3";
	assert_int_equal(verify_ledger(l, &ps, &o, &r), -ENOENT);
	assert_non_null(strstr(r.error, "no epoch -3"));
	assert_non_null(strstr(r.error, "3 epochs known (newest first: v3"));
	o.epoch = "1"; /* a number is no name: -1 was meant */
	assert_int_equal(verify_ledger(l, &ps, &o, &r), -EINVAL);
	assert_non_null(strstr(r.error, "-N"));
	/* node-wide: a name no identity has is a typo */
	o.identity = NULL;
	o.epoch = "v9";
	assert_int_equal(verify_ledger(l, &ps, &o, &r), -ENOENT);
	assert_non_null(strstr(r.error, "no identity has an epoch 'v9'"));
	o.epoch = "v1";
	run(l, &ps, &o, &r);
	assert_string_equal(verdict_of(&r, GW)->epoch, "v1");
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}

/* --since: any pair of epochs. History as above plus /usr/bin/c in v1
 * only: v3 since v1 skips v2 (b neither grew nor shrank: in neither; c
 * shrank); v2 judged since v3 (a newer one) says what v2 had beyond it. */
static void since_case(const struct ledger *l, const struct policy_set *ps, const char *epoch, const char *since,
		       const char *want_epoch, const char *want_previous, const char *grew, const char *shrank)
{
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct identity_verdict *v;

	o.identity = GW;
	o.epoch = epoch;
	o.since = since;
	run(l, ps, &o, &r);
	v = verdict_of(&r, GW);
	assert_non_null(v);
	assert_string_equal(v->epoch, want_epoch);
	assert_string_equal(v->previous_epoch, want_previous);
	assert_true(v->since);
	assert_int_equal(count_kind(&r, FINDING_REACH_GREW), grew ? 1 : 0);
	assert_int_equal(count_kind(&r, FINDING_REACH_SHRANK), shrank ? 1 : 0);
	if (grew)
		assert_non_null(find(&r, FINDING_REACH_GREW, grew));
	if (shrank)
		assert_non_null(find(&r, FINDING_REACH_SHRANK, shrank));
	verify_result_free(&r);
}

static void test_epoch_since_any_pair(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	char text[4096] = "";
	FILE *f;

	(void)state;
	history_ledger(l);
	rec(l, GW, TOOL(.object = "/usr/bin/c", .epoch = "v1", .first = NOW - 3 * DAY + 10, .last = NOW - 3 * DAY + 10));
	load(&ps, HDR(GW) "  tools: [/usr/bin/*]\n", NULL, 0);
	since_case(l, &ps, NULL, "v1", "v3", "v1", NULL, "/usr/bin/c");
	since_case(l, &ps, NULL, "-2", "v3", "v1", NULL, "/usr/bin/c");
	since_case(l, &ps, "v2", "v1", "v2", "v1", "/usr/bin/b", "/usr/bin/c");
	since_case(l, &ps, "v2", "v3", "v2", "v3", "/usr/bin/b", NULL);
	since_case(l, &ps, "v1", "v2", "v1", "v2", "/usr/bin/c", "/usr/bin/b");

	/* the text says which epoch it compared with */
	o.identity = GW;
	o.since = "v1";
	run(l, &ps, &o, &r);
	f = fmemopen(text, sizeof(text) - 1, "w");
	assert_non_null(f);
	verify_result_print_text(f, &r);
	fclose(f);
	assert_non_null(strstr(text, "epoch v3 (compared with v1)"));
	verify_result_free(&r);

	/* errors: the epoch judged itself, an unknown one, a bare number */
	o.since = "v3";
	assert_int_equal(verify_ledger(l, &ps, &o, &r), -EINVAL);
	assert_non_null(strstr(r.error, "--since v3 is the epoch judged"));
	o.since = "-0";
	assert_int_equal(verify_ledger(l, &ps, &o, &r), -EINVAL);
	o.since = "v22";
	assert_int_equal(verify_ledger(l, &ps, &o, &r), -ENOENT);
	assert_non_null(strstr(r.error, "no epoch 'v22' to compare with: 3 epochs known (newest: v3)"));
	o.since = "-3";
	assert_int_equal(verify_ledger(l, &ps, &o, &r), -ENOENT);
	o.since = "1";
	assert_int_equal(verify_ledger(l, &ps, &o, &r), -EINVAL);
	assert_non_null(strstr(r.error, "--since 1:"));
	policy_set_free(&ps);
	ledger_free(l);
}

static void test_unused_declared(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct finding *f;
	char path[512], ref[600];

	(void)state;
	rec(l, GW, TOOL(.object = "/usr/bin/python3"));
	rec(l, GW, TOOL(.object = "/usr/bin/perl", .first = NOW - 90 * DAY, .last = NOW - 40 * DAY));
	rec(l, GW, EGRESS(.object = "tcp/104.18.7.192/443", .name = "api.openai.com"));
	load(&ps,
	     HDR(GW) "  tools: [/usr/bin/python3, /usr/bin/perl, /usr/bin/never]\n"
		     "  egress:\n"
		     "    - {host: api.openai.com, ports: [443]}\n"
		     "    - {host: unused.example}\n"
		     "  exceptions:\n"
		     "    - {secret: /etc/x, expires: 2099-01-01T00:00:00Z, reason: R}\n",
	     path, sizeof(path));
	run(l, &ps, &o, &r);
	f = find(&r, FINDING_UNUSED_DECLARED, "/usr/bin/never");
	assert_non_null(f);
	assert_int_equal(f->severity, SEV_LOW);
	assert_string_equal(f->edge_kind, "tool");
	snprintf(ref, sizeof(ref), "%s:6", path);
	assert_string_equal(f->policy_ref, ref);
	assert_non_null(strstr(f->message, "30 days"));
	/* last seen 40 days ago: unused within 30 days */
	assert_non_null(find(&r, FINDING_UNUSED_DECLARED, "/usr/bin/perl"));
	assert_null(find(&r, FINDING_UNUSED_DECLARED, "/usr/bin/python3"));
	f = find(&r, FINDING_UNUSED_DECLARED, "host=unused.example ports=any proto=any");
	assert_non_null(f);
	assert_string_equal(f->edge_kind, "egress");
	snprintf(ref, sizeof(ref), "%s:9", path);
	assert_string_equal(f->policy_ref, ref);
	assert_null(find(&r, FINDING_UNUSED_DECLARED, "host=api.openai.com ports=443 proto=any"));
	/* an unexpired exception nobody needs */
	assert_non_null(find(&r, FINDING_UNUSED_DECLARED, "/etc/x"));
	assert_int_equal(count_kind(&r, FINDING_UNUSED_DECLARED), 4);
	/* advice only */
	assert_int_equal(verdict_of(&r, GW)->verdict, VERDICT_PASS);
	assert_int_equal(verdict_of(&r, GW)->n_findings_by_sev[SEV_LOW], 4);
	verify_result_free(&r);

	/* a longer window: perl counts as used */
	o.unused_after_ms = 60 * DAY;
	run(l, &ps, &o, &r);
	assert_null(find(&r, FINDING_UNUSED_DECLARED, "/usr/bin/perl"));
	assert_int_equal(count_kind(&r, FINDING_UNUSED_DECLARED), 3);
	verify_result_free(&r);

	/* too little observed: no advice either */
	o.min_edges = 10;
	run(l, &ps, &o, &r);
	assert_int_equal(count_kind(&r, FINDING_UNUSED_DECLARED), 0);
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}

/* ---- verdicts ------------------------------------------------------------------ */

static void expect_inconclusive(const struct ledger *l, const struct policy_set *ps, const struct verify_opts *o,
				const char *identity, const char *reason)
{
	struct verify_result r;
	const struct identity_verdict *v;

	run(l, ps, o, &r);
	v = verdict_of(&r, identity);
	assert_non_null(v);
	assert_int_equal(v->verdict, VERDICT_INCONCLUSIVE);
	if (!strstr(v->reasons, reason))
		fail_msg("reasons '%s' lack '%s'", v->reasons, reason);
	assert_int_equal(r.overall, VERDICT_INCONCLUSIVE);
	assert_int_equal(verify_exit_code(&r), 2);
	verify_result_free(&r);
}


/* ---- coverage: judged per identity, from the ledger --------------------------- */

#define OTHER "ai/other"

/* GW within its policy; OTHER reads a secret it does not declare. */
static void two_identities(struct ledger *l, struct policy_set *ps)
{
	gw_edges(l, NULL);
	rec(l, OTHER, SECRET(.object = "/etc/other/b.key", .category = "private-key"));
	rec(l, OTHER, TOOL(.object = "/usr/bin/cat"));
	load(ps, gw_policy, NULL, 0);
	load(ps, HDR(OTHER) "  tools: [/usr/bin/cat]\n", NULL, 0);
}

/* Verdicts of GW and OTHER, with the reasons of GW in gw_reasons. */
static void judge2(const struct ledger *l, const struct policy_set *ps, enum verdict *gw, enum verdict *other,
		   char *gw_reasons, size_t n, size_t *blind_findings)
{
	struct verify_opts o = opts_now();
	struct verify_result r;

	run(l, ps, &o, &r);
	*gw = verdict_of(&r, GW)->verdict;
	*other = verdict_of(&r, OTHER)->verdict;
	snprintf(gw_reasons, n, "%s", verdict_of(&r, GW)->reasons);
	*blind_findings = count_kind(&r, FINDING_SENSOR_BLIND);
	verify_result_free(&r);
}

static void test_coverage_per_identity(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct coverage c = { 0 };
	enum verdict gw, other;
	char reasons[512];
	size_t blind;
	struct verify_result r;
	struct verify_opts o = opts_now();
	const struct finding *f;

	(void)state;
	two_identities(l, &ps);
	judge2(l, &ps, &gw, &other, reasons, sizeof(reasons), &blind);
	assert_int_equal(gw, VERDICT_PASS);
	assert_int_equal(other, VERDICT_FAIL);
	assert_int_equal(blind, 0);

	/* losses that only degrade detail are recorded, not judged */
	coverage_add_loss(&c, REACH_EV_EXEC, REACH_LOSS_TRUNCATED, 40, NOW);
	coverage_add_loss(&c, REACH_EV_DNS, REACH_LOSS_TRUNCATED, 2, NOW);
	assert_int_equal(ledger_add_coverage(l, GW, &c), 0);
	judge2(l, &ps, &gw, &other, reasons, sizeof(reasons), &blind);
	assert_int_equal(gw, VERDICT_PASS);

	/* a flood in GW's cgroup: GW inconclusive, naming its own count;
	 * OTHER is judged on its own (its undeclared secret fails it) */
	memset(&c, 0, sizeof(c));
	coverage_add_loss(&c, REACH_EV_FILE_OPEN, REACH_LOSS_RINGBUF_FULL, 8351, NOW);
	assert_int_equal(ledger_add_coverage(l, GW, &c), 0);
	judge2(l, &ps, &gw, &other, reasons, sizeof(reasons), &blind);
	assert_int_equal(gw, VERDICT_INCONCLUSIVE);
	assert_int_equal(other, VERDICT_FAIL);
	if (!strstr(reasons, "coverage gaps of this identity: 8351 events lost (file_open ringbuf_full 8351)"))
		fail_msg("reasons: %s", reasons);
	assert_null(strstr(reasons, "node-wide"));
	assert_int_equal(blind, 1); /* GW's alone */
	o.identity = GW;
	run(l, &ps, &o, &r);
	assert_int_equal(verify_exit_code(&r), 2);
	f = find(&r, FINDING_SENSOR_BLIND, "events-lost");
	assert_non_null(f);
	assert_string_equal(f->identity, GW);
	assert_int_equal(f->severity, SEV_HIGH);
	if (!strstr(f->message, "lost activity of this identity: 8351 events lost"))
		fail_msg("message: %s", f->message);
	verify_result_free(&r);
	o.identity = OTHER;
	run(l, &ps, &o, &r);
	assert_int_equal(verify_exit_code(&r), 1);
	assert_null(find(&r, FINDING_SENSOR_BLIND, NULL));
	assert_non_null(find(&r, FINDING_UNDECLARED_SECRET, "/etc/other/b.key"));
	verify_result_free(&r);

	/* the same judgement from the saved file (verify --ledger) and from
	 * the image /v1/ledger serves (verify --agents merges those) */
	{
		char dir[256], path[300], err[512] = "";
		struct ledger *back = ledger_new(0, 0), *merged = ledger_new(0, 0);
		uint8_t *image = NULL;
		size_t len = 0;

		assert_int_equal(make_temp_dir(dir, sizeof(dir), "test_verify_cov"), 0);
		snprintf(path, sizeof(path), "%s/ledger.pb.z", dir);
		assert_int_equal(ledger_save(l, "n1", path, err, sizeof(err)), 0);
		assert_int_equal(ledger_load(back, path, NULL, err, sizeof(err)), 0);
		judge2(back, &ps, &gw, &other, reasons, sizeof(reasons), &blind);
		assert_int_equal(gw, VERDICT_INCONCLUSIVE);
		assert_int_equal(other, VERDICT_FAIL);
		assert_non_null(strstr(reasons, "8351 events lost"));
		assert_int_equal(ledger_encode_image(l, "n1", &image, &len, err, sizeof(err)), 0);
		assert_int_equal(ledger_load_image(merged, image, len, NULL, err, sizeof(err)), 0);
		judge2(merged, &ps, &gw, &other, reasons, sizeof(reasons), &blind);
		assert_int_equal(gw, VERDICT_INCONCLUSIVE);
		assert_int_equal(other, VERDICT_FAIL);
		free(image);
		ledger_free(back);
		ledger_free(merged);
		assert_int_equal(remove_tree(dir), 0);
	}

	/* a blind road is named */
	ledger_free(l);
	l = ledger_new(0, 0);
	gw_edges(l, NULL);
	rec(l, OTHER, SECRET(.object = "/etc/other/b.key", .category = "private-key"));
	memset(&c, 0, sizeof(c));
	coverage_add_road(&c, "tls-blind", "/usr/local/bin/app: Go crypto/tls", 1, NOW);
	assert_int_equal(ledger_add_coverage(l, GW, &c), 0);
	judge2(l, &ps, &gw, &other, reasons, sizeof(reasons), &blind);
	assert_int_equal(gw, VERDICT_INCONCLUSIVE);
	assert_int_equal(other, VERDICT_FAIL);
	assert_non_null(strstr(reasons, "blind road tls-blind: /usr/local/bin/app: Go crypto/tls"));
	assert_int_equal(blind, 0); /* a road is a reason, not a loss finding */

	/* a missing hook in the identity's record: inconclusive, finding */
	memset(&c, 0, sizeof(c));
	coverage_add_hook_missing(&c, "tp_btf/io_uring_submit_req");
	assert_int_equal(ledger_add_coverage(l, OTHER, &c), 0);
	judge2(l, &ps, &gw, &other, reasons, sizeof(reasons), &blind);
	assert_int_equal(other, VERDICT_INCONCLUSIVE);
	assert_int_equal(blind, 1);
	ledger_free(l);
	policy_set_free(&ps);
}

/* Losses nobody can be named for make every identity inconclusive, and say
 * so; an empty node record changes nothing. */
static void test_coverage_node_wide(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct coverage c = { 0 };
	enum verdict gw, other;
	char reasons[512];
	size_t blind;
	struct verify_result r;
	struct verify_opts o = opts_now();

	(void)state;
	two_identities(l, &ps);
	assert_int_equal(ledger_add_node_coverage(l, &c), 0);
	assert_null(ledger_node_coverage(l));
	coverage_add_loss(&c, REACH_EV_EGRESS, REACH_LOSS_RINGBUF_FULL, 12, NOW);
	assert_int_equal(ledger_add_node_coverage(l, &c), 0);
	judge2(l, &ps, &gw, &other, reasons, sizeof(reasons), &blind);
	assert_int_equal(gw, VERDICT_INCONCLUSIVE);
	assert_int_equal(other, VERDICT_INCONCLUSIVE); /* its failure is listed, not lost */
	if (!strstr(reasons, "node-wide coverage gaps, attributable to no identity, so every identity is inconclusive: "
			     "12 events lost (egress ringbuf_full 12)"))
		fail_msg("reasons: %s", reasons);
	assert_int_equal(blind, 2);
	o.identity = OTHER;
	run(l, &ps, &o, &r);
	assert_non_null(strstr(r.verdicts[0].reasons, "also 2 findings of severity medium or higher")); /* undeclared-secret, sensor-blind */
	assert_non_null(strstr(find(&r, FINDING_SENSOR_BLIND, "events-lost")->message,
			       "12 losses on the node could not be attributed to any identity"));
	verify_result_free(&r);
	ledger_free(l);
	policy_set_free(&ps);
}

/* Gaps belong to the epoch they happened in: an upgrade is judged on what
 * its own version's run missed, like its edges; gaps of unknown epoch are
 * judged in every one; --epoch judges that epoch's. */
static void test_coverage_epochs(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct coverage c = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;

	(void)state;
	gw_edges_at(l, "v1", NOW - 3 * DAY, NOW - 2 * DAY);
	gw_edges_at(l, "v2", NOW - DAY, NOW - 1000);
	load(&ps, gw_policy, NULL, 0);
	o.identity = GW;
	coverage_add_loss(&c, REACH_EV_FILE_OPEN, REACH_LOSS_RINGBUF_FULL, 700, NOW - 2 * DAY);
	snprintf(c.epoch, sizeof(c.epoch), "v1");
	assert_int_equal(ledger_add_coverage(l, GW, &c), 0);
	run(l, &ps, &o, &r);
	assert_string_equal(r.verdicts[0].epoch, "v2");
	assert_int_equal(r.verdicts[0].verdict, VERDICT_PASS); /* the flood was in v1 */
	assert_null(find(&r, FINDING_SENSOR_BLIND, NULL));
	verify_result_free(&r);
	o.epoch = "v1";
	expect_inconclusive(l, &ps, &o, GW, "coverage gaps of this identity: 700 events lost");
	o.epoch = NULL;
	/* the current version's own gap */
	memset(&c, 0, sizeof(c));
	coverage_add_loss(&c, REACH_EV_HTTP, REACH_LOSS_TRUNCATED, 2, NOW);
	snprintf(c.epoch, sizeof(c.epoch), "v2");
	assert_int_equal(ledger_add_coverage(l, GW, &c), 0);
	expect_inconclusive(l, &ps, &o, GW, "coverage gaps of this identity: 2 events lost (http truncated 2)");
	ledger_free(l);

	/* unknown epoch: judged in every epoch */
	l = ledger_new(0, 0);
	gw_edges_at(l, "v1", NOW - 3 * DAY, NOW - 2 * DAY);
	gw_edges_at(l, "v2", NOW - DAY, NOW - 1000);
	memset(&c, 0, sizeof(c));
	coverage_add_road(&c, "tls-blind", "/app: Go crypto/tls", 1, NOW);
	assert_int_equal(ledger_add_coverage(l, GW, &c), 0);
	expect_inconclusive(l, &ps, &o, GW, "blind road tls-blind: /app: Go crypto/tls");
	ledger_free(l);
	policy_set_free(&ps);
}

static void test_inconclusive_reasons(void **state)
{
	struct ledger *l = ledger_new(0, 0), *small = ledger_new(0, 2);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;

	(void)state;
	gw_edges(l, NULL);
	load(&ps, gw_policy, NULL, 0);
	load(&ps, HDR("ai/quiet") "  tools: [/usr/bin/*]\n", NULL, 0);
	o.identity = GW;
	run(l, &ps, &o, &r);
	assert_int_equal(verify_exit_code(&r), 0);
	verify_result_free(&r);

	o.health.events_lost = 3;
	expect_inconclusive(l, &ps, &o, GW, "3 events lost");
	o.health.events_lost = 0;
	o.health.tls_blind_processes = 2;
	expect_inconclusive(l, &ps, &o, GW, "2 tls-blind processes");
	o.health.tls_blind_processes = 0;
	o.health.hooks_missing = true;
	expect_inconclusive(l, &ps, &o, GW, "hooks missing");
	o.health.hooks_missing = false;
	o.min_edges = 6;
	expect_inconclusive(l, &ps, &o, GW, "too little observed: 5 edges (minimum 6)");
	o.min_edges = 0;
	/* the ledger refused identities (cap): one not found may be among them */
	{
		struct ledger *one = ledger_new(1, 0);

		allow_refusal = true;
		rec(one, "ai/first", TOOL(.object = "/bin/sh"));
		gw_edges(one, NULL);
		allow_refusal = false;
		assert_int_equal(ledger_identities_dropped(one), 5);
		expect_inconclusive(one, &ps, &o, GW, "the ledger refused 5 identities");
		ledger_free(one);
	}
	/* a policy, nothing observed */
	o.identity = "ai/quiet";
	expect_inconclusive(l, &ps, &o, "ai/quiet", "too little observed: 0 edges");
	/* observed, no policy (targeted: it counts) */
	rec(l, "ai/nopolicy", TOOL(.object = "/bin/sh"));
	o.identity = "ai/nopolicy";
	expect_inconclusive(l, &ps, &o, "ai/nopolicy", "no policy");
	/* neither: a typo, an error naming the closest known identities
	 * (was inconclusive "no policy" before typos became errors) */
	o.identity = "ai/nopolicyy";
	assert_int_equal(verify_ledger(l, &ps, &o, &r), -ENOENT);
	assert_non_null(strstr(r.error, "unknown identity 'ai/nopolicyy'"));
	assert_non_null(strstr(r.error, "did you mean ai/nopolicy?"));
	/* host/NAME.service is host/NAME */
	o.identity = "host/gw.service";
	rec(l, "host/gw", TOOL(.object = "/bin/sh"));
	run(l, &ps, &o, &r);
	assert_string_equal(r.verdicts[0].identity, "host/gw");
	verify_result_free(&r);

	/* the ledger refused edges of the identity (cap 2) */
	o.identity = GW;
	allow_refusal = true;
	gw_edges(small, NULL); /* 2 recorded, the rest refused */
	allow_refusal = false;
	expect_inconclusive(small, &ps, &o, GW, "the ledger refused 3 edges");

	/* incomplete data and findings: inconclusive, and the reasons say so */
	rec(l, GW, TOOL(.object = "/usr/bin/curl"));
	o.health.events_lost = 1;
	run(l, &ps, &o, &r);
	assert_int_equal(verdict_of(&r, GW)->verdict, VERDICT_INCONCLUSIVE);
	assert_non_null(strstr(verdict_of(&r, GW)->reasons, "1 events lost"));
	/* the curl finding and the sensor's own blindness (sensor-blind, high) */
	assert_non_null(strstr(verdict_of(&r, GW)->reasons, "also 2 findings of severity medium or higher"));
	assert_int_equal(verify_exit_code(&r), 2);
	{
		const struct finding *blind = NULL;

		for (size_t i = 0; i < r.n_findings; i++)
			if (r.findings[i].kind == FINDING_SENSOR_BLIND)
				blind = &r.findings[i];
		assert_non_null(blind);
		assert_string_equal(finding_kind_name(blind->kind), "sensor-blind");
		assert_int_equal(blind->severity, SEV_HIGH);
		assert_string_equal(blind->identity, GW);
		assert_string_equal(blind->edge_kind, "sensor");
		assert_string_equal(blind->object, "events-lost");
		assert_non_null(strstr(blind->message, "lost 1 events"));
	}
	verify_result_free(&r);
	/* missing hooks: the other sensor-blind object; no loss, no such finding */
	o.health.events_lost = 0;
	o.health.hooks_missing = true;
	run(l, &ps, &o, &r);
	{
		size_t n_blind = 0;

		for (size_t i = 0; i < r.n_findings; i++)
			if (r.findings[i].kind == FINDING_SENSOR_BLIND) {
				n_blind++;
				assert_string_equal(r.findings[i].object, "hooks-missing");
			}
		assert_int_equal(n_blind, 1);
	}
	verify_result_free(&r);
	o.health.hooks_missing = false;
	o.health.events_lost = 0;
	run(l, &ps, &o, &r);
	assert_int_equal(verdict_of(&r, GW)->verdict, VERDICT_FAIL);
	assert_int_equal(verify_exit_code(&r), 1);
	verify_result_free(&r);

	/* after an upgrade nothing new observed yet: inconclusive, not pass */
	{
		struct ledger *u = ledger_new(0, 0);

		gw_edges_at(u, "sha256:a", NOW - 10 * DAY, NOW - 5 * DAY);
		rec(u, GW, TOOL(.object = "/usr/bin/python3.11", .epoch = "sha256:b", .last = NOW));
		o.min_edges = 2;
		expect_inconclusive(u, &ps, &o, GW, "too little observed: 1 edges in epoch sha256:b (minimum 2)");
		o.min_edges = 0;
		ledger_free(u);
	}
	policy_set_free(&ps);
	ledger_free(small);
	ledger_free(l);
}

static void test_overall_and_exit_codes(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 }, none = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct identity_verdict *v;

	(void)state;
	gw_edges(l, NULL);
	rec(l, "ai/bad", TOOL(.object = "/usr/bin/nc"));
	rec(l, "ai/audit", TOOL(.object = "/usr/bin/nc"));
	rec(l, "ai/audit", EGRESS(.object = "tcp/169.254.169.254/80", .dest_class = "cloud-metadata"));
	load(&ps, gw_policy, NULL, 0);
	load(&ps, HDR("ai/bad") "  tools: [/usr/bin/python3]\n", NULL, 0);
	load(&ps, HDR("ai/empty") "  tools: [/usr/bin/python3]\n", NULL, 0);

	/* all: pass + fail + inconclusive (ai/empty: nothing seen) -> fail */
	run(l, &ps, &o, &r);
	assert_int_equal(r.n_verdicts, 4);
	assert_int_equal(verdict_of(&r, GW)->verdict, VERDICT_PASS);
	assert_int_equal(verdict_of(&r, "ai/bad")->verdict, VERDICT_FAIL);
	assert_int_equal(verdict_of(&r, "ai/empty")->verdict, VERDICT_INCONCLUSIVE);
	v = verdict_of(&r, "ai/audit");
	assert_int_equal(v->verdict, VERDICT_INCONCLUSIVE);
	assert_false(v->has_policy);
	assert_false(v->counted);
	assert_string_equal(v->reasons, "no policy (audit only); also 1 findings of severity medium or higher");
	/* audited: metadata access stands out, nothing is "undeclared" */
	assert_non_null(find(&r, FINDING_CLOUD_METADATA_ACCESS, "tcp/169.254.169.254/80"));
	assert_string_equal(find(&r, FINDING_CLOUD_METADATA_ACCESS, NULL)->identity, "ai/audit");
	assert_string_equal(find(&r, FINDING_CLOUD_METADATA_ACCESS, NULL)->policy_ref, "");
	assert_int_equal(count_kind(&r, FINDING_UNUSUAL_TOOL), 1);
	assert_int_equal(r.overall, VERDICT_FAIL);
	assert_int_equal(verify_exit_code(&r), 1);
	verify_result_free(&r);

	/* pass + inconclusive -> 2; the audit-only identity does not count */
	o.identity = NULL;
	policy_set_free(&ps);
	load(&ps, gw_policy, NULL, 0);
	load(&ps, HDR("ai/empty") "  tools: [/usr/bin/python3]\n", NULL, 0);
	run(l, &ps, &o, &r);
	assert_int_equal(r.overall, VERDICT_INCONCLUSIVE);
	assert_int_equal(verify_exit_code(&r), 2);
	verify_result_free(&r);

	/* pass only (audit identities listed, not counted) -> 0 */
	policy_set_free(&ps);
	load(&ps, gw_policy, NULL, 0);
	run(l, &ps, &o, &r);
	assert_int_equal(r.n_verdicts, 3);
	assert_int_equal(verdict_of(&r, "ai/bad")->verdict, VERDICT_INCONCLUSIVE);
	assert_false(verdict_of(&r, "ai/bad")->counted);
	assert_int_equal(r.overall, VERDICT_PASS);
	assert_int_equal(verify_exit_code(&r), 0);
	verify_result_free(&r);

	/* no policy at all: nothing verified -> 2 */
	run(l, &none, &o, &r);
	assert_int_equal(r.overall, VERDICT_INCONCLUSIVE);
	assert_int_equal(verify_exit_code(&r), 2);
	verify_result_free(&r);

	/* a targeted identity: only that one */
	o.identity = GW;
	run(l, &ps, &o, &r);
	assert_int_equal(r.n_verdicts, 1);
	assert_int_equal(r.n_findings, 0);
	assert_int_equal(verify_exit_code(&r), 0);
	verify_result_free(&r);

	assert_int_equal(verify_ledger(NULL, &ps, &o, &r), -EINVAL);
	assert_int_equal(verify_exit_code(&r), 2);
	assert_int_equal(verify_ledger(l, NULL, &o, &r), -EINVAL);
	/* opts NULL: defaults (now = the clock) */
	run(l, &ps, NULL, &r);
	assert_int_equal(r.n_verdicts, 3);
	verify_result_free(&r);
	verify_result_free(&r); /* twice is fine */
	policy_set_free(&ps);
	ledger_free(l);
}

/* ---- ids, JSON, text ------------------------------------------------------------- */

static void test_stable_ids(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps1 = { 0 }, ps2 = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r1, r2;
	const struct finding *a, *b;

	(void)state;
	rec(l, GW, TOOL(.object = "/usr/bin/curl"));
	rec(l, "ai/other", TOOL(.object = "/usr/bin/curl"));
	load(&ps1, HDR(GW) "  tools: [/usr/bin/python3, /usr/bin/unused]\n", NULL, 0);
	load(&ps1, HDR("ai/other") "  tools: [/usr/bin/python3]\n", NULL, 0);
	/* the same policy moved down and reordered */
	load(&ps2, "# moved\n\n" HDR(GW) "  tools:\n    - /usr/bin/unused\n    - /usr/bin/python3\n", NULL, 0);
	load(&ps2, HDR("ai/other") "  tools: [/usr/bin/python3]\n", NULL, 0);
	run(l, &ps1, &o, &r1);
	o.now_ms = NOW + DAY; /* later, same edges */
	run(l, &ps2, &o, &r2);
	a = find(&r1, FINDING_UNUSUAL_TOOL, "/usr/bin/curl");
	b = find(&r2, FINDING_UNUSUAL_TOOL, "/usr/bin/curl");
	assert_string_equal(a->identity, GW);
	assert_string_equal(a->id, b->id);
	assert_int_equal(strspn(a->id, "0123456789abcdef"), 16);
	a = find(&r1, FINDING_UNUSED_DECLARED, "/usr/bin/unused");
	b = find(&r2, FINDING_UNUSED_DECLARED, "/usr/bin/unused");
	assert_string_equal(a->id, b->id);
	assert_string_not_equal(a->policy_ref, b->policy_ref);
	/* identity, kind and object each change it */
	assert_string_not_equal(r1.findings[0].id, r1.findings[r1.n_findings - 1].id);
	{
		const struct finding *x = NULL, *y = NULL;

		for (size_t i = 0; i < r1.n_findings; i++)
			if (r1.findings[i].kind == FINDING_UNUSUAL_TOOL)
				*(!strcmp(r1.findings[i].identity, GW) ? &x : &y) = &r1.findings[i];
		assert_non_null(x);
		assert_non_null(y);
		assert_string_not_equal(x->id, y->id);
	}
	verify_result_free(&r1);
	verify_result_free(&r2);
	policy_set_free(&ps1);
	policy_set_free(&ps2);
	ledger_free(l);
}

static void test_json(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	json_object *j, *ids, *fs, *x, *v;
	char path[512];

	(void)state;
	epoch_ledger(l);
	load(&ps, gw_policy, path, sizeof(path));
	run(l, &ps, &o, &r);
	j = verify_result_to_json(&r);
	assert_non_null(j);
	assert_true(json_object_object_get_ex(j, "verdict", &v));
	assert_string_equal(json_object_get_string(v), "fail");
	assert_true(json_object_object_get_ex(j, "exit_code", &v));
	assert_int_equal(json_object_get_int(v), 1);
	assert_true(json_object_object_get_ex(j, "identities", &ids));
	assert_int_equal(json_object_array_length(ids), 1);
	x = json_object_array_get_idx(ids, 0);
	assert_true(json_object_object_get_ex(x, "identity", &v));
	assert_string_equal(json_object_get_string(v), GW);
	assert_true(json_object_object_get_ex(x, "verdict", &v));
	assert_string_equal(json_object_get_string(v), "fail");
	assert_true(json_object_object_get_ex(x, "epoch", &v));
	assert_string_equal(json_object_get_string(v), "sha256:b");
	assert_true(json_object_object_get_ex(x, "previous_epoch", &v));
	assert_string_equal(json_object_get_string(v), "sha256:a");
	assert_true(json_object_object_get_ex(x, "has_policy", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(x, "reasons", &v));
	assert_true(json_object_object_get_ex(x, "policy", &v));
	assert_non_null(strstr(json_object_get_string(v), path));
	assert_true(json_object_object_get_ex(x, "findings_by_severity", &v));
	assert_true(json_object_object_get_ex(v, "high", &v));
	assert_int_equal(json_object_get_int(v), 1);
	assert_true(json_object_object_get_ex(x, "rotation", &v));
	assert_int_equal(json_object_array_length(v), 4);
	x = json_object_array_get_idx(v, 0);
	assert_true(json_object_object_get_ex(x, "kind", &v));
	assert_true(json_object_object_get_ex(x, "what", &v));
	assert_true(json_object_object_get_ex(x, "why", &v));

	assert_true(json_object_object_get_ex(j, "findings", &fs));
	assert_int_equal(json_object_array_length(fs), r.n_findings);
	x = json_object_array_get_idx(fs, 0); /* worst first: the token */
	assert_true(json_object_object_get_ex(x, "kind", &v));
	assert_string_equal(json_object_get_string(v), "undeclared-secret");
	assert_true(json_object_object_get_ex(x, "severity", &v));
	assert_string_equal(json_object_get_string(v), "high");
	assert_true(json_object_object_get_ex(x, "id", &v));
	assert_string_equal(json_object_get_string(v), r.findings[0].id);
	assert_true(json_object_object_get_ex(x, "identity", &v));
	assert_true(json_object_object_get_ex(x, "edge_kind", &v));
	assert_string_equal(json_object_get_string(v), "secret");
	assert_true(json_object_object_get_ex(x, "object", &v));
	assert_string_equal(json_object_get_string(v), "/var/run/secrets/kubernetes.io/serviceaccount/token");
	assert_true(json_object_object_get_ex(x, "first_seen_ms", &v));
	assert_int_equal(json_object_get_int64(v), NOW - 4 * DAY);
	assert_true(json_object_object_get_ex(x, "last_seen", &v));
	/* one time format: the edges' RFC 3339 with milliseconds */
	assert_string_equal(json_object_get_string(v), "2027-01-15T07:59:59.000Z");
	/* the edge's fields, as reachctl's findings tables show them */
	assert_true(json_object_object_get_ex(x, "fields", &v));
	assert_string_equal(json_get_str(v, "path", ""), "/var/run/secrets/kubernetes.io/serviceaccount/token");
	assert_true(json_object_object_get_ex(x, "executables", &v));
	assert_int_equal(json_object_array_length(v), 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), "/usr/bin/python3");
	assert_true(json_object_object_get_ex(x, "message", &v));
	assert_true(json_object_object_get_ex(x, "policy_ref", &v));
	assert_non_null(strstr(json_object_get_string(v), path));
	/* info findings have no policy_ref: null */
	for (size_t i = 0; i < r.n_findings; i++)
		if (r.findings[i].kind == FINDING_REACH_SHRANK) {
			x = json_object_array_get_idx(fs, i);
			assert_true(json_object_object_get_ex(x, "policy_ref", &v));
			assert_null(v);
			assert_true(json_object_object_get_ex(x, "kind", &v));
			assert_string_equal(json_object_get_string(v), "reach-shrank");
			break;
		}
	assert_true(json_object_object_get_ex(j, "counts", &x));
	assert_true(json_object_object_get_ex(x, "findings", &v));
	assert_int_equal(json_object_get_int(v), r.n_findings);
	assert_true(json_object_object_get_ex(x, "fail", &v));
	assert_int_equal(json_object_get_int(v), 1);
	json_object_put(j);

	/* every kind and severity has a name */
	for (int k = 0; k < FINDING__MAX; k++)
		assert_string_not_equal(finding_kind_name(k), "unknown");
	assert_string_equal(finding_kind_name(FINDING_UNDECLARED_CREDENTIAL), "undeclared-credential-use");
	assert_string_equal(finding_kind_name(FINDING__MAX), "unknown");
	assert_string_equal(severity_name(SEV_CRITICAL), "critical");
	assert_string_equal(verdict_name(VERDICT_INCONCLUSIVE), "inconclusive");
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}

static void test_text(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	epoch_ledger(l);
	rec(l, "ai/audit", TOOL(.object = "/bin/sh"));
	load(&ps, gw_policy, NULL, 0);
	run(l, &ps, &o, &r);
	f = open_memstream(&buf, &len);
	verify_result_print_text(f, &r);
	fclose(f);
	assert_true(!strncmp(buf, "verify: FAIL\n", 13));
	assert_non_null(strstr(buf, "identities counted: 1 fail, 0 inconclusive, 0 pass;"));
	assert_non_null(strstr(buf, "1 high, 1 medium"));
	assert_non_null(strstr(buf, "\nai/gw: FAIL"));
	assert_non_null(strstr(buf, "\nai/audit: INCONCLUSIVE (not counted)"));
	assert_non_null(strstr(buf, "why: no policy"));
	assert_non_null(strstr(buf, "epoch sha256:b (previous sha256:a)"));
	assert_non_null(strstr(buf, "HIGH     undeclared-secret"));
	assert_non_null(strstr(buf, "unusual-tool"));
	assert_non_null(strstr(buf, "/usr/bin/curl"));
	assert_non_null(strstr(buf, r.findings[0].id));
	assert_non_null(strstr(buf, "rotate"));
	assert_non_null(strstr(buf, "fp:00000000000000a1"));
	/* findings grouped under their identity: the audit identity comes first
	 * (name order) and none of ai/gw's findings precede its header */
	assert_true(strstr(buf, "\nai/audit:") < strstr(buf, "\nai/gw:"));
	assert_true(strstr(buf, "\nai/gw:") < strstr(buf, "undeclared-secret"));
	free(buf);
	verify_result_free(&r);

	/* pass */
	buf = NULL;
	o.identity = GW;
	{
		struct ledger *p = ledger_new(0, 0);

		gw_edges(p, NULL);
		run(p, &ps, &o, &r);
		ledger_free(p);
	}
	f = open_memstream(&buf, &len);
	verify_result_print_text(f, &r);
	fclose(f);
	{
		const char *want = "verify: PASS\n  identities counted: 0 fail, 0 inconclusive, 1 pass;";

		assert_true(!strncmp(buf, want, strlen(want)));
	}
	assert_non_null(strstr(buf, "\nai/gw: PASS  policy "));
	free(buf);
	verify_result_free(&r);

	/* inconclusive: observed, no policy (an identity neither observed nor
	 * declared is a typo now, an error: see test_inconclusive_reasons) */
	buf = NULL;
	o.identity = "ai/audit";
	run(l, &ps, &o, &r);
	f = open_memstream(&buf, &len);
	verify_result_print_text(f, &r);
	fclose(f);
	assert_true(!strncmp(buf, "verify: INCONCLUSIVE\n", 21));
	free(buf);
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}

/* ---- rotation ------------------------------------------------------------------------ */

static const struct rotation_item *rot(const struct identity_verdict *v, const char *kind, const char *what)
{
	for (size_t i = 0; i < v->n_rotation; i++)
		if (!strcmp(v->rotation[i].kind, kind) && !strcmp(v->rotation[i].what, what))
			return &v->rotation[i];
	return NULL;
}

static void test_rotation(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct identity_verdict *v;
	const struct rotation_item *it;

	(void)state;
	epoch_ledger(l);
	/* also an egress-only metadata call in A, superseded by the request seen */
	rec(l, GW, EGRESS(.object = "tcp/169.254.169.254/80", .dest_class = "cloud-metadata", .epoch = "sha256:a",
			  .first = NOW - 10 * DAY, .last = NOW - 5 * DAY));
	load(&ps, gw_policy, NULL, 0);
	run(l, &ps, &o, &r);
	v = verdict_of(&r, GW);
	/* secret files read in epoch A (a.key also later, still listed) */
	it = rot(v, "secret-file", "/etc/llm/keys/a.key");
	assert_non_null(it);
	assert_non_null(strstr(it->why, "sha256:a"));
	assert_non_null(strstr(it->why, "private-key"));
	assert_non_null(rot(v, "secret-file", "/etc/old/db.pass"));
	/* the token was first read by the patched version: not on the list */
	assert_null(rot(v, "secret-file", "/var/run/secrets/kubernetes.io/serviceaccount/token"));
	/* credentials sent in A, by fingerprint; B's is not */
	it = rot(v, "credential", "api.openai.com bearer fp:00000000000000a1");
	assert_non_null(it);
	assert_non_null(strstr(it->why, "POST /v1/chat"));
	assert_null(rot(v, "credential", "api.openai.com bearer fp:00000000000000b2"));
	/* metadata credential request */
	it = rot(v, "cloud-metadata", "169.254.169.254 /latest/meta-data/iam/security-credentials/{id}");
	assert_non_null(it);
	assert_null(rot(v, "cloud-metadata", "tcp/169.254.169.254/80"));
	assert_int_equal(v->n_rotation, 4);
	verify_result_free(&r);
	ledger_free(l);

	/* only a metadata connection seen (no request): listed by its object */
	l = ledger_new(0, 0);
	rec(l, GW, EGRESS(.object = "tcp/169.254.169.254/80", .dest_class = "cloud-metadata", .epoch = "sha256:a",
			  .first = NOW - 10 * DAY, .last = NOW - 5 * DAY));
	rec(l, GW, TOOL(.object = "/usr/bin/python3.11", .epoch = "sha256:b"));
	run(l, &ps, &o, &r);
	v = verdict_of(&r, GW);
	assert_int_equal(v->n_rotation, 1);
	assert_non_null(rot(v, "cloud-metadata", "tcp/169.254.169.254/80"));
	verify_result_free(&r);
	ledger_free(l);

	/* one epoch only: nothing to rotate */
	l = ledger_new(0, 0);
	gw_edges(l, "sha256:a");
	run(l, &ps, &o, &r);
	assert_string_equal(verdict_of(&r, GW)->previous_epoch, "");
	assert_int_equal(verdict_of(&r, GW)->n_rotation, 0);
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}

/* ---- policy suggest ------------------------------------------------------------------ */

static char *suggest(const struct ledger *l, const char *identity, int *rc, char *err, size_t err_size)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*rc = policy_suggest(l, identity, f, err, err_size);
	fclose(f);
	return buf;
}

static void roundtrip(const struct ledger *l, const char *identity, char **yaml_out)
{
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	char *yaml, err[256];
	int rc;

	yaml = suggest(l, identity, &rc, err, sizeof(err));
	if (rc)
		fail_msg("suggest: %s", err);
	load(&ps, yaml, NULL, 0);
	assert_int_equal(ps.n, 1);
	{
		char canonical[512];

		/* the loader keeps identities canonical: host/X.service is host/X */
		assert_string_equal(ps.policies[0].identity, names_identity_normalize(identity, canonical, sizeof(canonical)));
	}
	o.identity = identity;
	run(l, &ps, &o, &r);
	for (size_t i = 0; i < r.n_findings; i++)
		if (r.findings[i].severity >= SEV_MEDIUM)
			fail_msg("suggested policy leaves %s %s\n%s", finding_kind_name(r.findings[i].kind),
				 r.findings[i].object, yaml);
	assert_int_equal(r.n_verdicts, 1);
	assert_int_equal(r.verdicts[0].verdict, VERDICT_PASS);
	assert_int_equal(verify_exit_code(&r), 0);
	assert_int_equal(count_kind(&r, FINDING_UNUSED_DECLARED), 0);
	verify_result_free(&r);
	policy_set_free(&ps);
	*yaml_out = yaml;
}

static void test_suggest_roundtrip(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	char *yaml, err[256];
	int rc;

	(void)state;
	gw_edges(l, NULL);
	rec(l, GW, SECRET(.object = "/etc/llm/keys/b.key", .category = "private-key"));
	rec(l, GW, SECRET(.object = "/etc/llm/keys/c.key", .category = "private-key"));
	rec(l, GW, SECRET(.object = "/etc/llm/keys/sub/d.key", .category = "private-key"));
	rec(l, GW, SECRET(.object = "/etc/llm/other/x[1]*.pem", .category = "private-key"));
	rec(l, GW, SECRET(.object = "/var/run/secrets/kubernetes.io/serviceaccount/token", .category = "k8s-sa-token"));
	rec(l, GW, EGRESS(.object = "tcp/104.18.7.193/8443", .name = "api.openai.com", .dest_class = "external"));
	rec(l, GW, EGRESS(.object = "udp/10.96.0.10/53", .dest_class = "cluster"));
	rec(l, GW, EGRESS(.object = "tcp/2001:db8::7/443", .dest_class = "external"));
	rec(l, GW, EGRESS(.object = "tcp/169.254.169.254/80", .dest_class = "cloud-metadata"));
	rec(l, GW, EGRESS(.object = "tcp/34.1.2.3/443", .name = "metadata.google.internal", .dest_class = "cloud-metadata"));
	rec(l, GW, CRED(.object = "169.254.169.254 GET /latest/meta-data/iam/security-credentials/{id} none",
			.category = "none", .name = "169.254.169.254", .port = 80,
			.dest_class = "cloud-metadata-credentials"));
	rec(l, GW, CRED(.object = "10.96.0.1:443 GET /api/v1/namespaces/ai/secrets/{id} bearer fp:0000000000000001",
			.category = "bearer", .name = "10.96.0.1:443", .port = 443, .dest_class = "kube-secrets"));
	rec(l, GW, CRED(.object = "[2001:db8::9]:8443 POST /v1/x api-key fp:0000000000000002", .category = "api-key",
			.name = "[2001:db8::9]:8443", .port = 8443));
	rec(l, GW, CRED(.object = "proxy.corp:3128 CONNECT  basic fp:0000000000000003", .category = "basic",
			.name = "proxy.corp:3128", .port = 3128));
	rec(l, GW, CRED(.object = "? OPTIONS * bearer", .category = "bearer", .name = "?", .port = 80));
	rec(l, GW, TOOL(.object = "/usr/bin/python3.11"));
	rec(l, GW, TOOL(.object = "/opt/app/bin/run[1]"));
	roundtrip(l, GW, &yaml);
	assert_non_null(strstr(yaml, "serviceAccount: \"ai/gw\""));
	assert_non_null(strstr(yaml, "name: \"ai-gw\""));
	/* 3 files of one directory: a glob; the others exact */
	assert_non_null(strstr(yaml, "- \"/etc/llm/keys/*\""));
	assert_null(strstr(yaml, "/etc/llm/keys/a.key"));
	assert_non_null(strstr(yaml, "- \"/etc/llm/keys/sub/d.key\""));
	assert_non_null(strstr(yaml, "- \"/etc/llm/other/x\\\\[1]\\\\*.pem\""));
	/* names over addresses, ports merged */
	assert_non_null(strstr(yaml, "{host: \"api.openai.com\", ports: [443, 8443], proto: tcp}"));
	assert_null(strstr(yaml, "104.18.7.19"));
	assert_non_null(strstr(yaml, "{cidr: \"10.96.0.10/32\", ports: [53], proto: udp}"));
	assert_non_null(strstr(yaml, "{cidr: \"2001:db8::7/128\", ports: [443], proto: tcp}"));
	assert_non_null(strstr(yaml, "{cidr: \"169.254.169.254/32\", ports: [80], proto: tcp}"));
	assert_non_null(strstr(yaml, "{host: \"metadata.google.internal\""));
	/* credentials by host + kind + path template, no fingerprints */
	assert_non_null(strstr(yaml, "{host: \"10.96.0.1\", kinds: [\"bearer\"], paths: [\"/api/v1/namespaces/ai/secrets/{id}\"]}"));
	assert_non_null(strstr(yaml, "{host: \"2001:db8::9\", kinds: [\"api-key\"], paths: [\"/v1/x\"]}"));
	assert_non_null(strstr(yaml, "{host: \"proxy.corp\", kinds: [\"basic\"]}"));
	assert_non_null(strstr(yaml, "{host: \"*\", kinds: [\"bearer\"]}"));
	assert_null(strstr(yaml, "fingerprints"));
	assert_non_null(strstr(yaml, "- \"/usr/bin/python3.11\""));
	assert_non_null(strstr(yaml, "- \"/opt/app/bin/run\\\\[1]\""));
	free(yaml);

	/* a host identity and an empty-ish one; epochs do not matter */
	rec(l, "host/nginx.service", TOOL(.object = "/usr/sbin/nginx", .epoch = "v1"));
	rec(l, "host/nginx.service", SECRET(.object = "/etc/ssl/private/site.key", .epoch = "v2"));
	roundtrip(l, "host/nginx.service", &yaml);
	assert_non_null(strstr(yaml, "identity: \"host/nginx.service\""));
	assert_non_null(strstr(yaml, "name: \"host-nginx-service\""));
	assert_non_null(strstr(yaml, "egress: []"));
	free(yaml);

	yaml = suggest(l, "ai/absent", &rc, err, sizeof(err));
	assert_int_equal(rc, -ENOENT);
	assert_non_null(strstr(err, "ai/absent"));
	free(yaml);
	assert_int_equal(policy_suggest(NULL, GW, stdout, NULL, 0), -EINVAL);
	ledger_free(l);
}

#define MCP(...) ((struct E){ .kind = LEDGER_MCP_TOOL, __VA_ARGS__ })

/* spec.mcp: {server, tools} globs against the mcp-tool edge's server (name)
 * and tool (category); unusual-mcp-tool for the rest; suggest round-trips. */
static void test_mcp_rules(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct finding *f;
	char path[512], *yaml;
	int line;

	(void)state;
	rec(l, "a/agent", MCP(.object = "server-filesystem read_file", .category = "read_file",
			      .name = "server-filesystem", .dest_class = "secure-filesystem-server"));
	rec(l, "a/agent", MCP(.object = "server-filesystem write_file", .category = "write_file",
			      .name = "server-filesystem"));
	rec(l, "a/agent", MCP(.object = "server-git git_log", .category = "git_log", .name = "server-git"));
	load(&ps, HDR("a/agent") "  mcp:\n    - {server: server-filesystem, tools: [read_*]}\n"
				 "    - {server: 'server-g*'}\n", path, sizeof(path));
	run(l, &ps, &o, &r);
	assert_int_equal(verdict_of(&r, "a/agent")->verdict, VERDICT_FAIL);
	assert_int_equal(count_kind(&r, FINDING_UNUSUAL_MCP_TOOL), 1);
	f = find(&r, FINDING_UNUSUAL_MCP_TOOL, "server-filesystem write_file");
	assert_non_null(f);
	assert_int_equal(f->severity, SEV_MEDIUM);
	assert_string_equal(finding_kind_name(f->kind), "unusual-mcp-tool");
	assert_non_null(strstr(f->message, "called MCP tool write_file of server server-filesystem, not in spec.mcp"));
	/* the finding points at spec.mcp's line (line 6: HDR is 5 lines) */
	line = atoi(strrchr(f->policy_ref, ':') + 1);
	assert_int_equal(line, 6);
	verify_result_free(&r);
	policy_set_free(&ps);
	/* bad rules are refused with their place */
	{
		struct policy_set bad = { 0 };
		char err[512], file[512];

		write_file(HDR("a/x") "  mcp: [{tools: [a]}]\n", file, sizeof(file));
		assert_true(policy_load_path(&bad, file, err, sizeof(err)) < 0);
		assert_non_null(strstr(err, "missing required field 'server'"));
		write_file(HDR("a/x") "  mcp: [{server: 'a b'}]\n", file, sizeof(file));
		assert_true(policy_load_path(&bad, file, err, sizeof(err)) < 0);
		assert_non_null(strstr(err, "name glob"));
		write_file(HDR("a/x") "  mcp: [{server: s, tool: [a]}]\n", file, sizeof(file));
		assert_true(policy_load_path(&bad, file, err, sizeof(err)) < 0);
		policy_set_free(&bad);
	}
	/* suggest writes rules that verify as is */
	roundtrip(l, "a/agent", &yaml);
	assert_non_null(strstr(yaml, "  mcp:\n"));
	assert_non_null(strstr(yaml, "- server: \"server-filesystem\"\n      tools: [\"write_file\"]"));
	free(yaml);
	ledger_free(l);
}

#define LLM(...) ((struct E){ .kind = LEDGER_LLM, __VA_ARGS__ })

/* spec.llm: {provider, host, models} globs against the llm edge's provider
 * (category), host (name) and model (dest_class); a model not read ("?")
 * passes only a rule for every model; undeclared-llm-model for the rest,
 * and only where spec.llm is given. */
static void test_llm_rules(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct finding *f;
	char path[512];
	int line;

	(void)state;
	rec(l, "a/agent", LLM(.object = "openai api.openai.com gpt-4o-mini", .category = "openai",
			      .name = "api.openai.com", .dest_class = "gpt-4o-mini"));
	rec(l, "a/agent", LLM(.object = "openai api.openai.com o3", .category = "openai", .name = "api.openai.com",
			      .dest_class = "o3"));
	rec(l, "a/agent", LLM(.object = "anthropic api.anthropic.com ?", .category = "anthropic",
			      .name = "api.anthropic.com", .dest_class = "?"));
	rec(l, "a/agent", LLM(.object = "gemini g.googleapis.com ?", .category = "gemini", .name = "g.googleapis.com",
			      .dest_class = "?"));
	load(&ps, HDR("a/agent") "  llm:\n    - {provider: openai, host: '*.openai.com', models: ['gpt-4o*']}\n"
				 "    - {provider: anthropic, models: ['claude-*']}\n    - {provider: gemini}\n",
	     path, sizeof(path));
	run(l, &ps, &o, &r);
	assert_int_equal(verdict_of(&r, "a/agent")->verdict, VERDICT_FAIL);
	assert_int_equal(count_kind(&r, FINDING_UNDECLARED_LLM_MODEL), 2);
	f = find(&r, FINDING_UNDECLARED_LLM_MODEL, "openai api.openai.com o3");
	assert_non_null(f);
	assert_int_equal(f->severity, SEV_MEDIUM);
	assert_string_equal(finding_kind_name(f->kind), "undeclared-llm-model");
	assert_non_null(strstr(f->message, "called LLM model o3 of openai at api.openai.com, not in spec.llm"));
	line = atoi(strrchr(f->policy_ref, ':') + 1);
	assert_int_equal(line, 6); /* spec.llm's line */
	/* the model not read: only a rule for every model allows it */
	assert_non_null(find(&r, FINDING_UNDECLARED_LLM_MODEL, "anthropic api.anthropic.com ?"));
	assert_null(find(&r, FINDING_UNDECLARED_LLM_MODEL, "gemini g.googleapis.com ?"));
	verify_result_free(&r);
	policy_set_free(&ps);
	/* suggest writes rules that verify as is */
	{
		char *yaml;

		roundtrip(l, "a/agent", &yaml);
		assert_non_null(strstr(yaml, "  llm:\n"));
		assert_non_null(strstr(yaml, "- provider: \"openai\"\n      host: \"api.openai.com\"\n      models: [\"o3\"]"));
		assert_non_null(strstr(yaml, "- provider: \"anthropic\"\n      host: \"api.anthropic.com\"\n"));
		free(yaml);
	}
	/* no spec.llm: LLM calls are not judged */
	load(&ps, HDR("a/agent") "  tools: [/usr/bin/x]\n", path, sizeof(path));
	run(l, &ps, &o, &r);
	assert_int_equal(count_kind(&r, FINDING_UNDECLARED_LLM_MODEL), 0);
	verify_result_free(&r);
	policy_set_free(&ps);
	/* bad rules are refused with their place */
	{
		struct policy_set bad = { 0 };
		char err[512], file[512];

		write_file(HDR("a/x") "  llm: [{models: [a]}]\n", file, sizeof(file));
		assert_true(policy_load_path(&bad, file, err, sizeof(err)) < 0);
		assert_non_null(strstr(err, ":6:"));
		assert_non_null(strstr(err, "missing required field 'provider'"));
		write_file(HDR("a/x") "  llm: [{provider: openai, models: ['gpt 4']}]\n", file, sizeof(file));
		assert_true(policy_load_path(&bad, file, err, sizeof(err)) < 0);
		assert_non_null(strstr(err, "name glob"));
		write_file(HDR("a/x") "  llm: [{provider: openai, model: [a]}]\n", file, sizeof(file));
		assert_true(policy_load_path(&bad, file, err, sizeof(err)) < 0);
		assert_non_null(strstr(err, "unknown field (expected provider, host, models)"));
		policy_set_free(&bad);
	}
	ledger_free(l);
}

static void test_suggest_too_big(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	char *yaml, obj[64], err[256];
	int rc;

	(void)state;
	for (int i = 0; i <= POLICY_MAX_RULES; i++) {
		snprintf(obj, sizeof(obj), "/usr/bin/tool%03d", i);
		rec(l, GW, TOOL(.object = obj));
	}
	yaml = suggest(l, GW, &rc, err, sizeof(err));
	assert_int_equal(rc, -E2BIG);
	assert_non_null(strstr(err, "129 tools"));
	free(yaml);
	ledger_free(l);
}

/* ---- ledger diff ---------------------------------------------------------------------- */

static void test_ledger_diff(void **state)
{
	struct ledger *a = ledger_new(0, 0), *b = ledger_new(0, 0);
	json_object *j, *ids, *x, *v;

	(void)state;
	rec(a, GW, TOOL(.object = "/usr/bin/python3"));
	rec(a, GW, SECRET(.object = "/etc/old.key"));
	rec(a, "ai/gone", TOOL(.object = "/bin/sh"));
	rec(a, "ai/same", TOOL(.object = "/bin/sh"));
	rec(b, GW, TOOL(.object = "/usr/bin/python3"));
	rec(b, GW, EGRESS(.object = "tcp/203.0.113.9/443", .name = "evil.example", .epoch = "sha256:b"));
	rec(b, "ai/new", TOOL(.object = "/bin/sh"));
	rec(b, "ai/same", TOOL(.object = "/bin/sh"));
	j = ledger_diff_to_json(a, b);
	assert_non_null(j);
	assert_true(json_object_object_get_ex(j, "appeared", &v));
	assert_int_equal(json_object_get_int(v), 2);
	assert_true(json_object_object_get_ex(j, "disappeared", &v));
	assert_int_equal(json_object_get_int(v), 2);
	assert_true(json_object_object_get_ex(j, "unchanged", &v));
	assert_int_equal(json_object_get_int(v), 2);
	assert_true(json_object_object_get_ex(j, "identities", &ids));
	assert_int_equal(json_object_array_length(ids), 3); /* ai/gone, ai/gw, ai/new: ai/same unchanged */
	x = json_object_array_get_idx(ids, 0);
	assert_true(json_object_object_get_ex(x, "identity", &v));
	assert_string_equal(json_object_get_string(v), "ai/gone");
	assert_true(json_object_object_get_ex(x, "status", &v));
	assert_string_equal(json_object_get_string(v), "removed");
	x = json_object_array_get_idx(ids, 1);
	assert_true(json_object_object_get_ex(x, "status", &v));
	assert_string_equal(json_object_get_string(v), "changed");
	assert_true(json_object_object_get_ex(x, "appeared", &v));
	assert_int_equal(json_object_array_length(v), 1);
	v = json_object_array_get_idx(v, 0);
	{
		json_object *k;

		assert_true(json_object_object_get_ex(v, "kind", &k));
		assert_string_equal(json_object_get_string(k), "egress");
		assert_true(json_object_object_get_ex(v, "object", &k));
		assert_string_equal(json_object_get_string(k), "tcp/203.0.113.9/443");
		assert_true(json_object_object_get_ex(v, "name", &k));
		assert_string_equal(json_object_get_string(k), "evil.example");
		assert_true(json_object_object_get_ex(v, "epoch", &k));
		assert_string_equal(json_object_get_string(k), "sha256:b");
		assert_true(json_object_object_get_ex(v, "executables", &k));
		assert_int_equal(json_object_array_length(k), 1);
	}
	assert_true(json_object_object_get_ex(x, "disappeared", &v));
	assert_int_equal(json_object_array_length(v), 1);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(v, 0), "object", &v));
	assert_string_equal(json_object_get_string(v), "/etc/old.key");
	x = json_object_array_get_idx(ids, 2);
	assert_true(json_object_object_get_ex(x, "status", &v));
	assert_string_equal(json_object_get_string(v), "added");
	json_object_put(j);

	/* a ledger against itself: nothing */
	j = ledger_diff_to_json(a, a);
	assert_true(json_object_object_get_ex(j, "identities", &ids));
	assert_int_equal(json_object_array_length(ids), 0);
	json_object_put(j);
	assert_null(ledger_diff_to_json(NULL, b));
	ledger_free(a);
	ledger_free(b);
}

/* The default for identities without a policy: audit lists them without
 * counting; alert judges them against an empty policy and counts them. */
static void test_default_alert_without_policy(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct identity_verdict *v;

	(void)state;
	rec(l, "host/undeclared", SECRET(.object = "/etc/app/db.key", .category = "private-key"));
	rec(l, "host/undeclared", TOOL(.object = "/usr/bin/curl"));
	run(l, &ps, &o, &r); /* audit (default): listed, not counted: nothing to verify */
	v = verdict_of(&r, "host/undeclared");
	assert_non_null(v);
	assert_false(v->counted);
	assert_int_equal(count_kind(&r, FINDING_UNDECLARED_SECRET), 0);
	assert_int_equal(verify_exit_code(&r), 2);
	verify_result_free(&r);

	o.alert_without_policy = true;
	run(l, &ps, &o, &r);
	v = verdict_of(&r, "host/undeclared");
	assert_non_null(v);
	assert_false(v->has_policy);
	assert_true(v->counted);
	assert_int_equal(v->verdict, VERDICT_FAIL);
	assert_non_null(find(&r, FINDING_UNDECLARED_SECRET, "/etc/app/db.key"));
	assert_non_null(find(&r, FINDING_UNUSUAL_TOOL, "/usr/bin/curl"));
	assert_int_equal(verify_exit_code(&r), 1);
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}

static void test_epoch_records(void **state)
{
	struct epoch_tracker *t = epoch_tracker_new(1000);
	struct identity_verdict v = { .verdict = VERDICT_PASS, .counted = true };
	struct verify_result r = { .verdicts = &v, .n_verdicts = 1 };
	const struct epoch_record *recs;

	(void)state;
	assert_non_null(t);
	snprintf(v.identity, sizeof(v.identity), "ns/sa");
	snprintf(v.epoch, sizeof(v.epoch), "v2");
	snprintf(v.previous_epoch, sizeof(v.previous_epoch), "v1");
	assert_int_equal(epoch_tracker_update(t, &r, 10000, NULL, NULL), 1); /* opened */
	assert_int_equal(epoch_tracker_records(t, &recs), 1);
	assert_int_equal(recs[0].state, EPOCH_SETTLING);
	assert_string_equal(recs[0].from_version, "v1");
	assert_int_equal(epoch_tracker_update(t, &r, 10500, NULL, NULL), 0); /* still settling */
	assert_int_equal(epoch_tracker_update(t, &r, 11000, NULL, NULL), 1); /* verified */
	epoch_tracker_records(t, &recs);
	assert_int_equal(recs[0].state, EPOCH_VERIFIED);
	assert_int_equal(recs[0].verdict, VERDICT_PASS);
	assert_int_equal(recs[0].verified_ms, 11000);
	v.verdict = VERDICT_FAIL;
	v.n_findings_by_sev[SEV_HIGH] = 2;
	assert_int_equal(epoch_tracker_update(t, &r, 12000, NULL, NULL), 1); /* drifted */
	epoch_tracker_records(t, &recs);
	assert_int_equal(recs[0].state, EPOCH_DRIFTED);
	assert_int_equal(recs[0].findings, 2);
	assert_int_equal(recs[0].drifted_ms, 12000);
	v.counted = false; /* audit-only identities open no records */
	snprintf(v.identity, sizeof(v.identity), "ns/other");
	assert_int_equal(epoch_tracker_update(t, &r, 13000, NULL, NULL), 0);
	assert_int_equal(epoch_tracker_records(t, &recs), 1);
	epoch_tracker_free(t);
}


/* v2 opens, v3 opens before v2 settled: v2 is closed as superseded (never
 * "settling" forever) and counts as no verified upgrade; v3 settles. */
static void test_epoch_superseded(void **state)
{
	struct epoch_tracker *t = epoch_tracker_new(1000);
	struct identity_verdict v = { .verdict = VERDICT_PASS, .counted = true };
	struct verify_result r = { .verdicts = &v, .n_verdicts = 1 };
	const struct epoch_record *recs;
	struct remediation_stats st;
	json_object *doc;

	(void)state;
	snprintf(v.identity, sizeof(v.identity), "ns/sa");
	snprintf(v.epoch, sizeof(v.epoch), "v2");
	assert_int_equal(epoch_tracker_update(t, &r, 10000, NULL, NULL), 1);
	snprintf(v.epoch, sizeof(v.epoch), "v3");
	snprintf(v.previous_epoch, sizeof(v.previous_epoch), "v2");
	assert_int_equal(epoch_tracker_update(t, &r, 10500, NULL, NULL), 2); /* v2 closed, v3 opened */
	assert_int_equal(epoch_tracker_records(t, &recs), 2);
	assert_int_equal(recs[0].state, EPOCH_SUPERSEDED);
	assert_int_equal(recs[0].verdict, VERDICT_INCONCLUSIVE);
	assert_int_equal(recs[0].verified_ms, 10500);
	assert_string_equal(recs[0].reasons, "superseded by v3 before it settled");
	assert_string_equal(epoch_state_name(recs[0].state), "superseded");
	assert_int_equal(recs[1].state, EPOCH_SETTLING);
	assert_int_equal(epoch_tracker_update(t, &r, 12000, NULL, NULL), 1); /* v3 verified, v2 untouched */
	epoch_tracker_records(t, &recs);
	assert_int_equal(recs[0].state, EPOCH_SUPERSEDED);
	assert_int_equal(recs[0].verified_ms, 10500);
	assert_int_equal(recs[1].state, EPOCH_VERIFIED);
	epoch_tracker_remediation(t, "ns/sa", &st);
	assert_int_equal(st.upgrades_with_findings, 0);
	assert_int_equal(st.resolved, 0);
	doc = epoch_records_to_json(t, "ns/sa");
	assert_string_equal(json_object_get_string(json_object_object_get(json_object_array_get_idx(doc, 0), "state")),
			    "superseded");
	json_object_put(doc);
	epoch_tracker_free(t);
}


/* A verified record never changes; a policy change re-verifies the epoch in
 * a new record that follows it. */
static void test_epoch_records_append_only(void **state)
{
	struct epoch_tracker *t = epoch_tracker_new(1000);
	struct identity_verdict v = { .verdict = VERDICT_FAIL, .counted = true };
	struct verify_result r = { .verdicts = &v, .n_verdicts = 1 };
	const struct epoch_record *recs;
	struct policy_set a = { 0 }, b = { 0 };
	char da[65], db[65], da2[65];

	(void)state;
	load(&a, HDR(GW) "  tools: [/usr/bin/a]\n", NULL, 0);
	load(&b, HDR(GW) "  tools: [/usr/bin/a, /usr/bin/b]\n", NULL, 0);
	policy_set_digest(&a, da);
	policy_set_digest(&b, db);
	assert_int_equal(strlen(da), 64);
	assert_string_not_equal(da, db);
	policy_set_free(&a);
	load(&a, "# the same, written otherwise\n" HDR(GW) "  tools:\n    - /usr/bin/a\n", NULL, 0);
	policy_set_digest(&a, da2);
	assert_string_equal(da, da2); /* layout is no change */

	epoch_tracker_set_policy_digest(t, da);
	snprintf(v.identity, sizeof(v.identity), "ns/sa");
	snprintf(v.epoch, sizeof(v.epoch), "v3");
	snprintf(v.previous_epoch, sizeof(v.previous_epoch), "v2");
	snprintf(v.reasons, sizeof(v.reasons), "3 findings");
	v.n_findings_by_sev[SEV_MEDIUM] = 3;
	epoch_tracker_update(t, &r, 10000, NULL, NULL);
	epoch_tracker_update(t, &r, 11000, NULL, NULL); /* verified: fail 3 */
	/* the same policies, the findings gone: the settled record stays */
	v.verdict = VERDICT_PASS;
	v.n_findings_by_sev[SEV_MEDIUM] = 0;
	v.reasons[0] = '\0';
	assert_int_equal(epoch_tracker_update(t, &r, 12000, NULL, NULL), 0);
	assert_int_equal(epoch_tracker_records(t, &recs), 1);
	assert_int_equal(recs[0].verdict, VERDICT_FAIL);
	assert_int_equal(recs[0].findings, 3);
	assert_string_equal(recs[0].reasons, "3 findings");
	assert_string_equal(recs[0].policy_digest, da);
	/* the policy edited: a new record of v3 under it, following the first */
	epoch_tracker_set_policy_digest(t, db);
	assert_int_equal(epoch_tracker_update(t, &r, 13000, NULL, NULL), 1);
	assert_int_equal(epoch_tracker_records(t, &recs), 2);
	assert_int_equal(recs[1].state, EPOCH_SETTLING);
	assert_int_equal(recs[1].follows, recs[0].id);
	assert_string_equal(recs[1].to_version, "v3");
	assert_string_equal(recs[1].from_version, "v2");
	assert_string_equal(recs[1].policy_digest, db);
	assert_int_equal(epoch_tracker_update(t, &r, 14000, NULL, NULL), 1); /* settles: pass */
	epoch_tracker_records(t, &recs);
	assert_int_equal(recs[1].state, EPOCH_VERIFIED);
	assert_int_equal(recs[1].verdict, VERDICT_PASS);
	/* the first, unchanged */
	assert_int_equal(recs[0].verdict, VERDICT_FAIL);
	assert_int_equal(recs[0].findings, 3);
	assert_int_equal(recs[0].verified_ms, 11000);
	policy_set_free(&a);
	policy_set_free(&b);
	epoch_tracker_free(t);
}


static void count_alert(void *ctx, const struct finding *f)
{
	(void)f;
	(*(int *)ctx)++;
}

/* A finding an earlier run alerted is followed but not alerted again. */
static void test_alerted_findings_not_alerted_again(void **state)
{
	struct epoch_tracker *t = epoch_tracker_new(1000);
	struct finding f[2] = {
		{ .kind = FINDING_UNDECLARED_SECRET, .severity = SEV_MEDIUM, .id = "00000000000000aa", .identity = "ns/sa",
		  .edge_kind = "secret", .object = "/a", .executables = "", .message = "", .policy_ref = "" },
		{ .kind = FINDING_UNDECLARED_SECRET, .severity = SEV_MEDIUM, .id = "00000000000000bb", .identity = "ns/sa",
		  .edge_kind = "secret", .object = "/b", .executables = "", .message = "", .policy_ref = "" },
	};
	struct identity_verdict v = { .verdict = VERDICT_FAIL, .counted = true };
	struct verify_result r = { .verdicts = &v, .n_verdicts = 1, .findings = f, .n_findings = 2 };
	struct remediation_stats st;
	int alerts = 0;

	(void)state;
	snprintf(v.identity, sizeof(v.identity), "ns/sa");
	epoch_tracker_on_new_finding(t, count_alert, &alerts);
	assert_int_equal(epoch_tracker_mark_alerted(t, "00000000000000aa"), 0);
	epoch_tracker_update(t, &r, 10000, NULL, NULL);
	assert_int_equal(alerts, 1); /* bb only */
	epoch_tracker_remediation(t, "ns/sa", &st);
	assert_int_equal(st.open, 2); /* both followed */
	epoch_tracker_update(t, &r, 11000, NULL, NULL);
	assert_int_equal(alerts, 1);
	epoch_tracker_free(t);
}

/* A secret file holding a token, later sent as a credential: secret-sent,
 * high when that use is undeclared, info when declared. */
static void test_secret_sent(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct finding *f;
	struct ledger_obs sec = { .identity = GW, .kind = LEDGER_SECRET, .object = "/etc/llm/keys/openai.key",
				  .category = "private-key", .count_delta = 1, .first_ms = NOW - DAY, .last_ms = NOW - 1000,
				  .executable = "/usr/bin/python3", .content_fingerprint = "00112233445566ff" };

	(void)state;
	assert_int_equal(ledger_record(l, &sec), 0);
	rec(l, GW, CRED(.object = "api.openai.com POST /v1/chat/completions bearer fp:00112233445566ff",
			.category = "bearer", .name = "api.openai.com"));
	rec(l, GW, CRED(.object = "evil.example POST /collect bearer fp:00112233445566ff", .category = "bearer",
			.name = "evil.example"));
	rec(l, GW, CRED(.object = "api.openai.com GET /v1/models bearer fp:ffffffffffffffff", .category = "bearer",
			.name = "api.openai.com"));
	load(&ps, HDR(GW) "  secrets: [/etc/llm/keys/*.key]\n"
			  "  credentials: [{host: api.openai.com, kinds: [bearer]}]\n", NULL, 0);
	run(l, &ps, &o, &r);
	f = find(&r, FINDING_SECRET_SENT, "evil.example POST /collect bearer fp:00112233445566ff");
	assert_non_null(f);
	assert_int_equal(f->severity, SEV_HIGH);
	assert_non_null(strstr(f->message, "/etc/llm/keys/openai.key"));
	f = find(&r, FINDING_SECRET_SENT, "api.openai.com POST /v1/chat/completions bearer fp:00112233445566ff");
	assert_non_null(f);
	assert_int_equal(f->severity, SEV_INFO);
	assert_null(find(&r, FINDING_SECRET_SENT, "api.openai.com GET /v1/models bearer fp:ffffffffffffffff"));
	assert_int_equal(count_kind(&r, FINDING_SECRET_SENT), 2);
	assert_string_equal(finding_kind_name(FINDING_SECRET_SENT), "secret-sent");
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}

/* A key loaded from a .env file and sent: secret-sent names the file and the
 * key (never the value); a value of the file never sent links nothing. */
static void test_secret_sent_from_dotenv(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct policy_set ps = { 0 };
	struct verify_opts o = opts_now();
	struct verify_result r;
	const struct finding *f;
	const char *kf[] = { "DB_URL:aabbccddeeff0011", "OPENAI_API_KEY:00112233445566ff" };
	struct ledger_obs sec = { .identity = GW, .kind = LEDGER_SECRET, .object = "/srv/app/.env",
				  .category = "dotenv", .count_delta = 1, .first_ms = NOW - DAY, .last_ms = NOW - 1000,
				  .executable = "/usr/bin/python3", .key_fingerprints = kf, .n_key_fingerprints = 2 };

	(void)state;
	assert_int_equal(ledger_record(l, &sec), 0);
	rec(l, GW, CRED(.object = "evil.example POST /collect bearer fp:00112233445566ff", .category = "bearer",
			.name = "evil.example"));
	rec(l, GW, CRED(.object = "api.openai.com GET /v1/models bearer fp:ffffffffffffffff", .category = "bearer",
			.name = "api.openai.com"));
	load(&ps, HDR(GW) "  secrets: [/srv/app/.env]\n", NULL, 0);
	run(l, &ps, &o, &r);
	f = find(&r, FINDING_SECRET_SENT, "evil.example POST /collect bearer fp:00112233445566ff");
	assert_non_null(f);
	assert_int_equal(f->severity, SEV_HIGH);
	assert_string_equal(f->message, "the token OPENAI_API_KEY read from /srv/app/.env was sent to evil.example "
					"(bearer), which was not declared");
	assert_int_equal(count_kind(&r, FINDING_SECRET_SENT), 1);
	verify_result_free(&r);
	policy_set_free(&ps);
	ledger_free(l);
}

/* Findings followed to resolution: MTTR, and upgrades that left findings open. */
static void test_remediation(void **state)
{
	struct epoch_tracker *t = epoch_tracker_new(0);
	struct identity_verdict v = { .verdict = VERDICT_FAIL, .counted = true };
	struct finding f = { .kind = FINDING_UNDECLARED_SECRET, .severity = SEV_MEDIUM, .first_ms = 1000,
			     .identity = "ns/sa", .edge_kind = "", .object = "", .executables = "", .message = "",
			     .policy_ref = "" };
	struct verify_result r = { .verdicts = &v, .n_verdicts = 1, .findings = &f, .n_findings = 1 };
	struct remediation_stats st;

	(void)state;
	snprintf(v.identity, sizeof(v.identity), "ns/sa");
	snprintf(f.id, sizeof(f.id), "aaaaaaaaaaaaaaaa");
	snprintf(v.epoch, sizeof(v.epoch), "v1");
	epoch_tracker_update(t, &r, 2000, NULL, NULL); /* v1 opens, finding tracked */
	/* v2: the patch did not remove it */
	snprintf(v.previous_epoch, sizeof(v.previous_epoch), "v1");
	snprintf(v.epoch, sizeof(v.epoch), "v2");
	epoch_tracker_update(t, &r, 3000, NULL, NULL); /* opens with 1 open finding */
	epoch_tracker_update(t, &r, 4000, NULL, NULL); /* verified, still there: failed */
	epoch_tracker_remediation(t, "ns/sa", &st);
	assert_int_equal(st.upgrades_with_findings, 1);
	assert_int_equal(st.failed_remediations, 1);
	assert_int_equal(st.open, 1);
	/* v3: remediated */
	snprintf(v.previous_epoch, sizeof(v.previous_epoch), "v2");
	snprintf(v.epoch, sizeof(v.epoch), "v3");
	v.verdict = VERDICT_PASS;
	r.n_findings = 0;
	epoch_tracker_update(t, &r, 5000, NULL, NULL); /* opens (1 open), finding gone: resolved at 5000 */
	epoch_tracker_update(t, &r, 6000, NULL, NULL);
	epoch_tracker_remediation(t, "ns/sa", &st);
	assert_int_equal(st.resolved, 1);
	assert_int_equal(st.open, 0);
	assert_int_equal(st.mean_time_to_remediate_ms, 4000); /* first seen 1000, resolved 5000 */
	assert_int_equal(st.upgrades_with_findings, 2);
	assert_int_equal(st.failed_remediations, 1);
	epoch_tracker_free(t);
}

/* Many identities at once: each record, finding and identity is looked up
 * by key (epochs.c's indexes), and findings of one identity never count for
 * another's upgrade. 300 identities with 2 findings each; after the upgrade
 * the odd ones are remediated. */
#define MANY 300
static void test_remediation_many_identities(void **state)
{
	static struct identity_verdict v[MANY];
	static struct finding f[2 * MANY], kept[2 * MANY];
	struct epoch_tracker *t = epoch_tracker_new(0);
	struct verify_result r = { .verdicts = v, .n_verdicts = MANY, .findings = f, .n_findings = 2 * MANY };
	const struct epoch_record *recs;
	struct remediation_stats st, *all;
	size_t n_kept = 0, n;

	(void)state;
	assert_non_null(t);
	memset(v, 0, sizeof(v));
	memset(f, 0, sizeof(f));
	for (int i = 0; i < MANY; i++) {
		snprintf(v[i].identity, sizeof(v[i].identity), "ns-%03d/sa", i); /* sorted, as verify_ledger sorts */
		snprintf(v[i].epoch, sizeof(v[i].epoch), "v1");
		v[i].verdict = VERDICT_FAIL;
		v[i].counted = true;
		for (int k = 0; k < 2; k++) {
			struct finding *x = &f[2 * i + k];

			*x = (struct finding){ .kind = FINDING_UNDECLARED_SECRET, .severity = SEV_MEDIUM, .first_ms = 500,
					       .identity = v[i].identity, /* the verdict's name: same identity */
					       .edge_kind = "", .object = "", .executables = "", .message = "",
					       .policy_ref = "" };
			snprintf(x->id, sizeof(x->id), "%08x%08x", i, k);
		}
	}
	assert_int_equal(epoch_tracker_update(t, &r, 1000, NULL, NULL), 2 * MANY); /* opened, verified */
	/* the upgrade: every identity to v2; the odd ones lost their findings */
	for (int i = 0; i < MANY; i++) {
		snprintf(v[i].previous_epoch, sizeof(v[i].previous_epoch), "v1");
		snprintf(v[i].epoch, sizeof(v[i].epoch), "v2");
		v[i].verdict = i % 2 ? VERDICT_PASS : VERDICT_FAIL;
		if (i % 2 == 0) {
			kept[n_kept++] = f[2 * i];
			kept[n_kept++] = f[2 * i + 1];
		}
	}
	r.findings = kept;
	r.n_findings = n_kept;
	assert_int_equal(epoch_tracker_update(t, &r, 2000, NULL, NULL), 2 * MANY);
	n = epoch_tracker_records(t, &recs);
	assert_int_equal(n, 2 * MANY);
	for (size_t i = 0; i < n; i++) {
		int id = atoi(recs[i].identity + 3);

		if (strcmp(recs[i].to_version, "v2"))
			continue;
		assert_int_equal(recs[i].state, EPOCH_VERIFIED);
		assert_int_equal(recs[i].open_at_start, 2);
		assert_int_equal(recs[i].still_open, id % 2 ? 0 : 2);
	}
	/* every identity in one pass (the API's), in first-record order: the
	 * same figures as one identity at a time */
	assert_int_equal(epoch_tracker_remediation_all(t, NULL, &all), MANY);
	for (int i = 0; i < MANY; i++) {
		char name[32];

		snprintf(name, sizeof(name), "ns-%03d/sa", i);
		epoch_tracker_remediation(t, name, &st);
		assert_int_equal(st.upgrades_with_findings, 1);
		assert_int_equal(st.failed_remediations, i % 2 ? 0 : 1);
		assert_int_equal(st.resolved, i % 2 ? 2 : 0);
		assert_int_equal(st.open, i % 2 ? 0 : 2);
		assert_int_equal(st.mean_time_to_remediate_ms, i % 2 ? 1500 : 0);
		assert_memory_equal(&all[i], &st, sizeof(st));
	}
	free(all);
	assert_int_equal(epoch_tracker_remediation_all(t, "ns-007/sa", &all), 1);
	epoch_tracker_remediation(t, "ns-007/sa", &st);
	assert_memory_equal(&all[0], &st, sizeof(st));
	free(all);
	assert_int_equal(epoch_tracker_remediation_all(t, "ns-999/sa", &all), 0);
	assert_null(all);
	epoch_tracker_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remediation),
		cmocka_unit_test(test_remediation_many_identities),
		cmocka_unit_test(test_secret_sent),
		cmocka_unit_test(test_secret_sent_from_dotenv),
		cmocka_unit_test(test_epoch_records),
		cmocka_unit_test(test_default_alert_without_policy),
		cmocka_unit_test(test_parse_objects),
		cmocka_unit_test(test_pass_when_declared),
		cmocka_unit_test(test_undeclared_kinds),
		cmocka_unit_test(test_cloud_metadata),
		cmocka_unit_test(test_apiserver_secret_read),
		cmocka_unit_test(test_interpreted_tools),
		cmocka_unit_test(test_mcp_rules),
		cmocka_unit_test(test_llm_rules),
		cmocka_unit_test(test_exceptions),
		cmocka_unit_test(test_epochs),
		cmocka_unit_test(test_epoch_choice),
		cmocka_unit_test(test_unused_declared),
		cmocka_unit_test(test_inconclusive_reasons),
		cmocka_unit_test(test_coverage_per_identity),
		cmocka_unit_test(test_coverage_node_wide),
		cmocka_unit_test(test_coverage_epochs),
		cmocka_unit_test(test_overall_and_exit_codes),
		cmocka_unit_test(test_stable_ids),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_epoch_history_pairs),
		cmocka_unit_test(test_epoch_since_any_pair),
		cmocka_unit_test(test_epoch_superseded),
		cmocka_unit_test(test_epoch_records_append_only),
		cmocka_unit_test(test_alerted_findings_not_alerted_again),
		cmocka_unit_test(test_suggest_roundtrip),
		cmocka_unit_test(test_suggest_too_big),
		cmocka_unit_test(test_ledger_diff),
	};

	return cmocka_run_group_tests_name("verify", tests, group_setup, group_teardown);
}
