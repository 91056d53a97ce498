/* Unit tests for ReachPolicy loading and matching: a full file checked field
 * by field, directories, every error class with its exact FILE:LINE:COLUMN,
 * all-or-nothing loads, duplicate identities, the host / egress / credential
 * matchers and RFC 3339 expiry parsing. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "policy/policy.h"
#include "policy/policy_match.h"
#include "reach/netclass.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------ */

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/reach-test-policy-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes LEN bytes to tmpdir/NAME; PATH receives the full name. */
static void write_bytes(const char *name, const char *text, size_t len, char *path, size_t path_size)
{
	FILE *f;

	snprintf(path, path_size, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_file(const char *name, const char *text, char *path, size_t path_size)
{
	write_bytes(name, text, strlen(text), path, path_size);
}

/* A fixture from the source tree: found from the working directory
 * (tests/run.sh runs from the top) or from the binary (build/tests/..). */
static void fixture_path(const char *rel, char *out, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n;

	snprintf(out, size, "tests/fixtures/policies%s%s", *rel ? "/" : "", rel);
	if (access(out, F_OK) == 0)
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(out, size, "%s/../../tests/fixtures/policies%s%s", dirname(exe), *rel ? "/" : "", rel);
	assert_int_equal(access(out, F_OK), 0);
}

#define GOOD_OTHER \
	"apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: other}\n" \
	"spec:\n  identity: host/other\n"

/* Loads TEXT as tmpdir/NAME into a set that already holds one good policy:
 * the load must fail with -EINVAL and exactly "FILE:LINE:COL: REASON", and
 * leave the set as it was. */
static void expect_error_named(const char *name, const char *text, size_t len, int line, int column,
			       const char *reason)
{
	struct policy_set set = { 0 };
	char good[PATH_MAX], path[PATH_MAX], err[1024], want[PATH_MAX + 1024];
	struct reach_policy *before;
	int rc;

	write_file("good-other.yaml", GOOD_OTHER, good, sizeof(good));
	assert_int_equal(policy_load_path(&set, good, err, sizeof(err)), 0);
	before = set.policies;
	write_bytes(name, text, len, path, sizeof(path));
	rc = policy_load_path(&set, path, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:%d:%d: %s", path, line, column, reason);
	if (rc != -EINVAL || strcmp(err, want) != 0)
		print_error("rc %d\n got: %s\nwant: %s\n", rc, err, want);
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err, want);
	assert_int_equal(set.n, 1);
	assert_ptr_equal(set.policies, before);
	assert_string_equal(set.policies[0].identity, "host/other");
	policy_set_free(&set);
	unlink(path);
	unlink(good);
}

static void expect_error(const char *text, int line, int column, const char *reason)
{
	expect_error_named("bad.yaml", text, strlen(text), line, column, reason);
}

/* Lines 1-5 of most error cases; the error is on line 6 or later. */
#define HEAD "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: p}\nspec:\n  serviceAccount: ns/sa\n"

#define DOC3 "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: p}\n"

#define SPEC_FIELDS "serviceAccount, identity, secrets, egress, credentials, tools, mcp, llm, exceptions"

/* ---- a full file ---------------------------------------------------------- */

static const char full_file[] =
	"# two policies, an empty document before and between them\n"          /* 1 */
	"---\n"                                                                   /* 2 */
	"apiVersion: reach.dev/v1\n"                                              /* 3 */
	"kind: ReachPolicy\n"                                                     /* 4 */
	"metadata:\n"                                                             /* 5 */
	"  name: llm-gateway\n"                                                   /* 6 */
	"spec:\n"                                                                 /* 7 */
	"  serviceAccount: ai/llm-gateway\n"                                      /* 8 */
	"  secrets:\n"                                                            /* 9 */
	"    - /var/run/secrets/kubernetes.io/serviceaccount/**\n"                /* 10 */
	"    - /etc/llm/keys/*.key\n"                                             /* 11 */
	"  egress:\n"                                                             /* 12 */
	"    - host: api.openai.com\n"                                            /* 13 */
	"      ports: [443]\n"                                                    /* 14 */
	"    - {cidr: 10.96.0.0/12, ports: [443, 8443], proto: tcp}\n"            /* 15 */
	"    - host: \"*.internal.example\"\n"                                    /* 16 */
	"      proto: UDP\n"                                                      /* 17 */
	"  credentials:\n"                                                        /* 18 */
	"    - host: api.openai.com\n"                                            /* 19 */
	"      kinds: [bearer, jwt, \"query:*\"]\n"                               /* 20 */
	"      paths: [\"/v1/*\"]\n"                                              /* 21 */
	"      fingerprints: [0123456789abcdef]\n"                                /* 22 */
	"  tools: [/usr/bin/python3*, /usr/bin/curl]\n"                           /* 23 */
	"  exceptions:\n"                                                         /* 24 */
	"    - egress: {host: legacy.internal, ports: [8080]}\n"                  /* 25 */
	"      expires: 2026-12-31T00:00:00Z\n"                                   /* 26 */
	"      reason: SEC-123\n"                                                 /* 27 */
	"    - secret: /etc/old/*.pem\n"                                          /* 28 */
	"      expires: \"2026-06-30T12:00:00+02:00\"\n"                          /* 29 */
	"      reason: rotate after the migration\n"                              /* 30 */
	"    - credential: {host: \"*.legacy.internal\", kinds: [basic]}\n"       /* 31 */
	"      expires: 2027-01-01T00:00:00.250Z\n"                               /* 32 */
	"      reason: SEC-124\n"                                                 /* 33 */
	"    - {tool: /usr/bin/wget, expires: 2026-01-01T00:00:00Z, reason: x}\n" /* 34 */
	"---\n"                                                                   /* 35 */
	"---\n"                                                                   /* 36 */
	"apiVersion: reach.dev/v1\n"                                              /* 37 */
	"kind: ReachPolicy\n"                                                     /* 38 */
	"metadata: {name: notebook}\n"                                            /* 39 */
	"spec:\n"                                                                 /* 40 */
	"  tools: [/usr/bin/python3*]\n"                                          /* 41 */
	"  identity: host/jupyter.service\n";                                     /* 42 */

static void test_full_file(void **state)
{
	struct policy_set set = { 0 };
	const struct reach_policy *p;
	const struct policy_rule *r;
	const struct policy_exception *e;
	struct netaddr a;
	char path[PATH_MAX], err[512];

	(void)state;
	write_file("full.yaml", full_file, path, sizeof(path));
	assert_int_equal(policy_load_path(&set, path, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(set.n, 2);

	p = &set.policies[0];
	assert_string_equal(p->name, "llm-gateway");
	assert_string_equal(p->identity, "ai/llm-gateway");
	assert_string_equal(p->file, path);
	assert_int_equal(p->line, 3);
	assert_int_equal(p->n_rules, 8);

	r = &p->rules[0];
	assert_int_equal(r->type, POLICY_SECRET);
	assert_string_equal(r->glob, "/var/run/secrets/kubernetes.io/serviceaccount/**");
	assert_int_equal(r->line, 10);
	r = &p->rules[1];
	assert_int_equal(r->type, POLICY_SECRET);
	assert_string_equal(r->glob, "/etc/llm/keys/*.key");
	assert_int_equal(r->line, 11);

	r = &p->rules[2];
	assert_int_equal(r->type, POLICY_EGRESS);
	assert_int_equal(r->line, 13);
	assert_string_equal(r->egress.host, "api.openai.com");
	assert_false(r->egress.has_cidr);
	assert_int_equal(r->egress.n_ports, 1);
	assert_int_equal(r->egress.ports[0], 443);
	assert_string_equal(r->egress.proto, "");

	r = &p->rules[3];
	assert_int_equal(r->type, POLICY_EGRESS);
	assert_int_equal(r->line, 15);
	assert_string_equal(r->egress.host, "");
	assert_true(r->egress.has_cidr);
	assert_int_equal(r->egress.cidr.prefix, 12);
	assert_int_equal(netaddr_parse("10.96.0.0", &a), 0);
	assert_true(netaddr_equal(&r->egress.cidr.net, &a));
	assert_int_equal(r->egress.n_ports, 2);
	assert_int_equal(r->egress.ports[0], 443);
	assert_int_equal(r->egress.ports[1], 8443);
	assert_string_equal(r->egress.proto, "tcp");

	r = &p->rules[4];
	assert_int_equal(r->type, POLICY_EGRESS);
	assert_int_equal(r->line, 16);
	assert_string_equal(r->egress.host, "*.internal.example");
	assert_int_equal(r->egress.n_ports, 0);
	assert_string_equal(r->egress.proto, "udp"); /* normalised */

	r = &p->rules[5];
	assert_int_equal(r->type, POLICY_CREDENTIAL);
	assert_int_equal(r->line, 19);
	assert_string_equal(r->credential.host, "api.openai.com");
	assert_int_equal(r->credential.n_kinds, 3);
	assert_string_equal(r->credential.kinds[0], "bearer");
	assert_string_equal(r->credential.kinds[1], "jwt");
	assert_string_equal(r->credential.kinds[2], "query:*");
	assert_int_equal(r->credential.n_paths, 1);
	assert_string_equal(r->credential.paths[0], "/v1/*");
	assert_int_equal(r->credential.n_fingerprints, 1);
	assert_string_equal(r->credential.fingerprints[0], "0123456789abcdef");

	r = &p->rules[6];
	assert_int_equal(r->type, POLICY_TOOL);
	assert_string_equal(r->glob, "/usr/bin/python3*");
	assert_int_equal(r->line, 23);
	r = &p->rules[7];
	assert_int_equal(r->type, POLICY_TOOL);
	assert_string_equal(r->glob, "/usr/bin/curl");
	assert_int_equal(r->line, 23);

	assert_int_equal(p->n_exceptions, 4);
	e = &p->exceptions[0];
	assert_int_equal(e->line, 25);
	assert_int_equal(e->rule.type, POLICY_EGRESS);
	assert_int_equal(e->rule.line, 25);
	assert_string_equal(e->rule.egress.host, "legacy.internal");
	assert_int_equal(e->rule.egress.n_ports, 1);
	assert_int_equal(e->rule.egress.ports[0], 8080);
	assert_true(e->expires_unix_ms == 1798675200000LL);
	assert_string_equal(e->reason, "SEC-123");
	e = &p->exceptions[1];
	assert_int_equal(e->line, 28);
	assert_int_equal(e->rule.type, POLICY_SECRET);
	assert_string_equal(e->rule.glob, "/etc/old/*.pem");
	assert_true(e->expires_unix_ms == 1782813600000LL); /* 10:00Z */
	assert_string_equal(e->reason, "rotate after the migration");
	e = &p->exceptions[2];
	assert_int_equal(e->rule.type, POLICY_CREDENTIAL);
	assert_string_equal(e->rule.credential.host, "*.legacy.internal");
	assert_int_equal(e->rule.credential.n_kinds, 1);
	assert_string_equal(e->rule.credential.kinds[0], "basic");
	assert_true(e->expires_unix_ms == 1798761600250LL);
	e = &p->exceptions[3];
	assert_int_equal(e->line, 34);
	assert_int_equal(e->rule.type, POLICY_TOOL);
	assert_string_equal(e->rule.glob, "/usr/bin/wget");
	assert_string_equal(e->reason, "x");

	p = &set.policies[1];
	assert_string_equal(p->name, "notebook");
	/* written host/jupyter.service: the resolver's name for the unit is
	 * host/jupyter, and the loader keeps names canonical (common/names.h) */
	assert_string_equal(p->identity, "host/jupyter");
	assert_int_equal(p->line, 37);
	assert_int_equal(p->n_rules, 1);
	assert_int_equal(p->rules[0].type, POLICY_TOOL);
	assert_int_equal(p->n_exceptions, 0);
	assert_null(p->exceptions);

	assert_ptr_equal(policy_for_identity(&set, "ai/llm-gateway"), &set.policies[0]);
	assert_ptr_equal(policy_for_identity(&set, "host/jupyter.service"), &set.policies[1]);
	assert_null(policy_for_identity(&set, "ai/other"));
	assert_null(policy_for_identity(&set, NULL));
	assert_null(policy_for_identity(NULL, "ai/llm-gateway"));

	policy_set_free(&set);
	assert_int_equal(set.n, 0);
	assert_null(set.policies);
	policy_set_free(&set); /* twice is harmless */
	policy_set_free(NULL);
	unlink(path);
}

/* The DESIGN.md example, and the fixture directory (its bad/ subdirectory
 * is not read: directories are not recursed into). */
static void test_design_example_fixture(void **state)
{
	struct policy_set set = { 0 };
	const struct reach_policy *p;
	char path[PATH_MAX], err[512];

	(void)state;
	fixture_path("llm-gateway.yaml", path, sizeof(path));
	assert_int_equal(policy_load_path(&set, path, err, sizeof(err)), 0);
	assert_int_equal(set.n, 1);
	p = &set.policies[0];
	assert_string_equal(p->name, "llm-gateway");
	assert_string_equal(p->identity, "ai/llm-gateway");
	assert_int_equal(p->n_rules, 6);
	assert_int_equal(p->rules[0].type, POLICY_SECRET);
	assert_string_equal(p->rules[0].glob, "/var/run/secrets/kubernetes.io/serviceaccount/token");
	assert_int_equal(p->rules[2].type, POLICY_EGRESS);
	assert_int_equal(p->rules[3].type, POLICY_EGRESS);
	assert_true(p->rules[3].egress.has_cidr);
	assert_int_equal(p->rules[4].type, POLICY_CREDENTIAL);
	assert_string_equal(p->rules[4].credential.kinds[0], "bearer");
	assert_int_equal(p->rules[5].type, POLICY_TOOL);
	assert_int_equal(p->n_exceptions, 1);
	assert_string_equal(p->exceptions[0].reason, "SEC-123");
	policy_set_free(&set);

	fixture_path("", path, sizeof(path));
	assert_int_equal(policy_load_path(&set, path, err, sizeof(err)), 0);
	assert_int_equal(set.n, 1);
	assert_string_equal(set.policies[0].identity, "ai/llm-gateway");
	policy_set_free(&set);
}

/* The bad fixtures, each with its exact message. */
static void test_bad_fixtures(void **state)
{
	static const struct {
		const char *file;
		const char *message; /* after "PATH:" */
	} cases[] = {
		{ "bad/typo.yaml", "8:3: spec.egres: unknown field (expected " SPEC_FIELDS ")" },
		{ "bad/port.yaml", "11:15: spec.egress[1].ports[0]: 70000 is not a port (1-65535)" },
		{ "bad/expires.yaml", "9:16: spec.exceptions[0].expires: '31/12/2026' is not an RFC 3339 time "
				      "(like 2026-12-31T00:00:00Z or 2026-12-31T02:00:00+02:00)" },
		{ "bad/second-document.yaml", "11:7: kind: 'ConfigMap' is not supported (expected ReachPolicy)" },
		{ "bad/empty.yaml", "1:1: no ReachPolicy in " },
	};
	char path[PATH_MAX], err[1024], want[PATH_MAX * 2 + 256];
	struct policy_set set = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		fixture_path(cases[i].file, path, sizeof(path));
		assert_int_equal(policy_load_path(&set, path, err, sizeof(err)), -EINVAL);
		snprintf(want, sizeof(want), "%s:%s%s", path, cases[i].message,
			 strstr(cases[i].message, "no ReachPolicy") ? path : "");
		assert_string_equal(err, want);
		assert_int_equal(set.n, 0);
		assert_null(set.policies);
	}
	/* The bad/ directory as a whole: the first file in name order fails. */
	fixture_path("bad", path, sizeof(path));
	assert_int_equal(policy_load_path(&set, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "/bad/empty.yaml:1:1: no ReachPolicy in "));
	assert_int_equal(set.n, 0);
}

/* ---- directories ---------------------------------------------------------- */

static void make_subdir(const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", tmpdir, name);
	assert_int_equal(mkdir(path, 0700), 0);
}

static void test_directory(void **state)
{
	struct policy_set set = { 0 };
	char dir[PATH_MAX], path[PATH_MAX], err[1024], want[PATH_MAX + 256];

	(void)state;
	make_subdir("dir", dir, sizeof(dir));
	write_file("dir/b.yaml",
		   "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: b}\nspec: {identity: host/b}\n",
		   path, sizeof(path));
	write_file("dir/a.yml",
		   "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: a}\nspec: {identity: host/a}\n"
		   "---\n"
		   "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: a2}\nspec: {identity: host/a2}\n",
		   path, sizeof(path));
	/* Not loaded: other suffixes, hidden files, subdirectories. */
	write_file("dir/c.txt", "garbage: [", path, sizeof(path));
	write_file("dir/README", "garbage: [", path, sizeof(path));
	write_file("dir/.hidden.yaml", "garbage: [", path, sizeof(path));
	write_file("dir/b.yaml.bak", "garbage: [", path, sizeof(path));
	make_subdir("dir/sub", path, sizeof(path));
	write_file("dir/sub/x.yaml", "garbage: [", path, sizeof(path));
	make_subdir("dir/dir.yaml", path, sizeof(path));

	assert_int_equal(policy_load_path(&set, dir, err, sizeof(err)), 0);
	assert_int_equal(set.n, 3);
	assert_string_equal(set.policies[0].name, "a");
	assert_string_equal(set.policies[1].name, "a2");
	assert_string_equal(set.policies[2].name, "b");
	snprintf(want, sizeof(want), "%s/a.yml", dir);
	assert_string_equal(set.policies[0].file, want);
	assert_int_equal(set.policies[1].line, 6);
	policy_set_free(&set);

	/* A trailing slash does not double up in file names. */
	snprintf(path, sizeof(path), "%s/dir/", tmpdir);
	assert_int_equal(policy_load_path(&set, path, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/b.yaml", dir);
	assert_string_equal(set.policies[2].file, want);

	/* A bad file in the directory: nothing of the directory is added. */
	write_file("dir/c.yaml", HEAD "  egress: [{host: a.com, ports: [0]}]\n", path, sizeof(path));
	policy_set_free(&set);
	assert_int_equal(policy_load_path(&set, dir, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/c.yaml:6:34: spec.egress[0].ports[0]: 0 is not a port (1-65535)", dir);
	assert_string_equal(err, want);
	assert_int_equal(set.n, 0);
	unlink(path);

	/* A directory without policy files. */
	make_subdir("empty", dir, sizeof(dir));
	assert_int_equal(policy_load_path(&set, dir, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: no policy files (*.yaml, *.yml) in the directory", dir);
	assert_string_equal(err, want);
}

static void test_missing_path(void **state)
{
	struct policy_set set = { 0 };
	char path[PATH_MAX], err[1024], want[PATH_MAX + 64];

	(void)state;
	snprintf(path, sizeof(path), "%s/nope.yaml", tmpdir);
	assert_int_equal(policy_load_path(&set, path, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);
	assert_int_equal(policy_load_path(&set, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(policy_load_path(NULL, path, err, sizeof(err)), -EINVAL);
	/* The error buffer is optional and truncates safely. */
	assert_int_equal(policy_load_path(&set, path, NULL, 0), -ENOENT);
	assert_int_equal(policy_load_path(&set, path, err, 4), -ENOENT);
	assert_int_equal(strlen(err), 3);
	assert_int_equal(set.n, 0);
}

/* A file named on the command line loads whatever its suffix; YAML anchors
 * and aliases work; quoted values and a trailing dot in a host are fine. */
static void test_file_suffix_aliases_and_quoting(void **state)
{
	struct policy_set set = { 0 };
	const struct reach_policy *p;
	char path[PATH_MAX], err[512];

	(void)state;
	write_file("policy.conf",
		   "apiVersion: \"reach.dev/v1\"\n"
		   "kind: 'ReachPolicy'\n"
		   "metadata: {name: web.v2}\n"
		   "spec:\n"
		   "  identity: uid/1000\n"
		   "  egress:\n"
		   "    - {host: \"api.example.com.\", ports: &web [\"443\", 80]}\n"
		   "    - {host: 2001:db8::1, ports: *web, proto: tcp}\n"
		   "  secrets: [&s /etc/app/secret.json]\n"
		   "  exceptions:\n"
		   "    - {secret: *s, expires: 2030-01-01T00:00:00+01:00, reason: \"migration, see SEC-9\"}\n",
		   path, sizeof(path));
	assert_int_equal(policy_load_path(&set, path, err, sizeof(err)), 0);
	p = policy_for_identity(&set, "uid/1000");
	assert_non_null(p);
	assert_string_equal(p->name, "web.v2");
	assert_int_equal(p->n_rules, 3);
	assert_string_equal(p->rules[0].egress.host, "api.example.com.");
	assert_int_equal(p->rules[0].egress.n_ports, 2);
	assert_int_equal(p->rules[0].egress.ports[0], 443);
	assert_int_equal(p->rules[0].egress.ports[1], 80);
	assert_string_equal(p->rules[1].egress.host, "2001:db8::1");
	assert_int_equal(p->rules[1].egress.n_ports, 2);
	assert_int_equal(p->rules[2].type, POLICY_SECRET);
	assert_string_equal(p->exceptions[0].rule.glob, "/etc/app/secret.json");
	assert_true(p->exceptions[0].expires_unix_ms == 1893452400000LL);
	assert_string_equal(p->exceptions[0].reason, "migration, see SEC-9");
	policy_set_free(&set);
	unlink(path);
}

/* ---- all or nothing ----------------------------------------------------- */

static void test_failed_load_keeps_set(void **state)
{
	struct policy_set set = { 0 };
	struct reach_policy *before;
	char good[PATH_MAX], bad[PATH_MAX], err[1024];

	(void)state;
	write_file("keep-good.yaml", full_file, good, sizeof(good));
	assert_int_equal(policy_load_path(&set, good, err, sizeof(err)), 0);
	assert_int_equal(set.n, 2);
	before = set.policies;
	/* The first document of the bad file is valid (and has a lot of
	 * rules and exceptions to leak); the second is not. */
	write_file("keep-bad.yaml",
		   "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: fine}\n"
		   "spec:\n  identity: host/fine\n  secrets: [/a, /b, /c]\n  egress: [{host: x.com}]\n"
		   "  exceptions: [{secret: /d, expires: 2026-01-01T00:00:00Z, reason: r}]\n"
		   "---\n"
		   "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: broken}\n"
		   "spec:\n  identity: host/broken\n  tools: [usr/bin/sh]\n",
		   bad, sizeof(bad));
	assert_int_equal(policy_load_path(&set, bad, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "keep-bad.yaml:15:11: spec.tools[0]: 'usr/bin/sh' is not an absolute path glob"));
	assert_int_equal(set.n, 2);
	assert_ptr_equal(set.policies, before);
	assert_string_equal(set.policies[0].name, "llm-gateway");
	assert_int_equal(set.policies[0].n_rules, 8);
	assert_string_equal(set.policies[1].name, "notebook");
	assert_null(policy_for_identity(&set, "host/fine"));

	/* A later good load appends. */
	write_file("keep-more.yaml", GOOD_OTHER, bad, sizeof(bad));
	assert_int_equal(policy_load_path(&set, bad, err, sizeof(err)), 0);
	assert_int_equal(set.n, 3);
	assert_string_equal(set.policies[0].name, "llm-gateway");
	assert_string_equal(set.policies[2].identity, "host/other");
	policy_set_free(&set);
	unlink(good);
	unlink(bad);
}

/* ---- duplicate identities -------------------------------------------------- */

static void test_duplicate_identities(void **state)
{
	struct policy_set set = { 0 };
	char a[PATH_MAX], b[PATH_MAX], dir[PATH_MAX], err[2048], want[PATH_MAX * 2 + 256];

	(void)state;
	/* In one file. */
	write_file("dup1.yaml",
		   HEAD "---\n"
		   "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: q}\nspec:\n  identity: ns/sa\n",
		   a, sizeof(a));
	assert_int_equal(policy_load_path(&set, a, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:11:13: spec.identity: identity 'ns/sa' already has a policy (p at %s:1)", a, a);
	assert_string_equal(err, want);
	assert_int_equal(set.n, 0);
	unlink(a);

	/* Across two calls: the second fails, the first stays. */
	write_file("dup-a.yaml", "# first\n" HEAD, a, sizeof(a));
	write_file("dup-b.yaml",
		   "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: q}\nspec: {serviceAccount: ns/sa}\n",
		   b, sizeof(b));
	assert_int_equal(policy_load_path(&set, a, err, sizeof(err)), 0);
	assert_int_equal(policy_load_path(&set, b, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:4:24: spec.serviceAccount: identity 'ns/sa' already has a policy (p at %s:2)",
		 b, a);
	assert_string_equal(err, want);
	assert_int_equal(set.n, 1);
	policy_set_free(&set);

	/* Across files of one directory. */
	make_subdir("dupdir", dir, sizeof(dir));
	write_file("dupdir/1.yaml", HEAD, a, sizeof(a));
	write_file("dupdir/2.yaml",
		   "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: q}\nspec: {serviceAccount: ns/sa}\n",
		   b, sizeof(b));
	assert_int_equal(policy_load_path(&set, dir, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:4:24: spec.serviceAccount: identity 'ns/sa' already has a policy (p at %s:1)",
		 b, a);
	assert_string_equal(err, want);
	assert_int_equal(set.n, 0);
}

/* ---- error classes ---------------------------------------------------------- */

static void test_yaml_syntax_errors(void **state)
{
	(void)state;
	expect_error(HEAD "  secrets: [/a\n", 7, 1,
		     "YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 6, column 12)");
	expect_error(HEAD "  tools:\n  - /a\n - /b\n", 8, 2,
		     "YAML syntax error: did not find expected key (while parsing a block mapping at line 1, column 1)");
	/* Invalid UTF-8: the reader reports a byte offset, shown as line/column. */
	expect_error_named("utf8.yaml", HEAD "  tools: [/a\xff]\n", strlen(HEAD) + 16, 6, 13,
			   "YAML syntax error: invalid leading UTF-8 octet");
}

/* Files with only empty documents hold no policy: an error, so an emptied
 * file cannot silently drop an identity's policy on reload. */
static void test_no_policy_in_file(void **state)
{
	static const char *const texts[] = { "", "# nothing\n", "---\n---\n", "~\n", "--- null\n...\n" };
	struct policy_set set = { 0 };
	char path[PATH_MAX], err[1024], want[PATH_MAX * 2 + 64];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(texts); i++) {
		write_file("none.yaml", texts[i], path, sizeof(path));
		assert_int_equal(policy_load_path(&set, path, err, sizeof(err)), -EINVAL);
		snprintf(want, sizeof(want), "%s:1:1: no ReachPolicy in %s", path, path);
		assert_string_equal(err, want);
		assert_int_equal(set.n, 0);
		unlink(path);
	}
}

static void test_document_shape_errors(void **state)
{
	(void)state;
	expect_error("- a\n- b\n", 1, 1, "a policy document must be a mapping, got a list");
	expect_error("just text\n", 1, 1, "a policy document must be a mapping, got a scalar");
	expect_error("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {}\n", 2, 7,
		     "kind: 'Secret' is not supported (expected ReachPolicy)");
	expect_error("apiVersion: reach.dev/v1\nmetadata: {name: p}\nspec: {identity: x}\n", 1, 1,
		     "missing required field 'kind' (ReachPolicy)");
	expect_error("apiVersion: reach.dev/v1\nkind: [ReachPolicy]\n", 2, 7, "kind: expected a string, got a list");
	expect_error("kind: ReachPolicy\nmetadata: {name: p}\nspec: {identity: x}\n", 1, 1,
		     "missing required field 'apiVersion' (reach.dev/v1)");
	expect_error("apiVersion: reach.dev/v2\nkind: ReachPolicy\n", 1, 13,
		     "apiVersion: 'reach.dev/v2' is not supported (expected reach.dev/v1)");
	expect_error("apiVersion: reach.dev/v1\nkind: ReachPolicy\nspec: {identity: x}\n", 1, 1,
		     "missing required field 'metadata'");
	expect_error("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: p}\n", 1, 1,
		     "missing required field 'spec'");
	expect_error("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: p}\nspec:\n", 4, 6,
		     "spec: expected a mapping, got null");
	expect_error(HEAD "status: {}\n", 6, 1, "status: unknown field (expected apiVersion, kind, metadata, spec)");
	expect_error(HEAD "kind: ReachPolicy\n", 6, 1, "kind: duplicate key (first at line 2)");
	/* An error in a later document points into that document. */
	expect_error(HEAD "---\n" DOC3 "spec:\n  identity: ns/sb\n  tools: [x]\n", 12, 11,
		     "spec.tools[0]: 'x' is not an absolute path glob (must start with '/')");
}

static void test_metadata_errors(void **state)
{
	(void)state;
	expect_error("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {}\nspec: {identity: x}\n", 3, 11,
		     "metadata: missing required field 'name'");
	expect_error("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: p, labels: {a: b}}\nspec: {identity: x}\n", 3, 21,
		     "metadata.labels: unknown field (expected name)");
	expect_error("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: LLM_Gateway}\nspec: {identity: x}\n", 3, 18,
		     "metadata.name: 'LLM_Gateway' is not a name (lower-case letters, digits, '-' and '.', "
		     "starting and ending with a letter or digit)");
	expect_error("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: \"\"}\nspec: {identity: x}\n", 3, 18,
		     "metadata.name: must not be empty");
	expect_error("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: {name: [a]}\nspec: {identity: x}\n", 3, 18,
		     "metadata.name: expected a string, got a list");
	expect_error("apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata: p\nspec: {identity: x}\n", 3, 11,
		     "metadata: expected a mapping, got a scalar");
}


static void test_identity_errors(void **state)
{
	(void)state;
	expect_error(DOC3 "spec: {secrets: [/a]}\n", 4, 7, "spec: needs serviceAccount (NAMESPACE/NAME) or identity");
	expect_error(DOC3 "spec:\n  serviceAccount: a/b\n  identity: host/x\n", 6, 3,
		     "spec: has both serviceAccount and identity; give exactly one");
	expect_error(DOC3 "spec: {serviceAccount: llm-gateway}\n", 4, 24,
		     "spec.serviceAccount: 'llm-gateway' is not NAMESPACE/NAME (lower-case DNS names, like ai/llm-gateway)");
	expect_error(DOC3 "spec: {serviceAccount: AI/gw}\n", 4, 24,
		     "spec.serviceAccount: 'AI/gw' is not NAMESPACE/NAME (lower-case DNS names, like ai/llm-gateway)");
	expect_error(DOC3 "spec: {serviceAccount: ai/gw/x}\n", 4, 24,
		     "spec.serviceAccount: 'ai/gw/x' is not NAMESPACE/NAME (lower-case DNS names, like ai/llm-gateway)");
	expect_error(DOC3 "spec: {serviceAccount: ai/-gw}\n", 4, 24,
		     "spec.serviceAccount: 'ai/-gw' is not NAMESPACE/NAME (lower-case DNS names, like ai/llm-gateway)");
	expect_error(DOC3 "spec: {serviceAccount: \"\"}\n", 4, 24, "spec.serviceAccount: must not be empty");
	expect_error(DOC3 "spec: {identity: \"host/my unit\"}\n", 4, 18,
		     "spec.identity: an identity has no spaces or control characters");
	expect_error(DOC3 "spec: {identity: ~}\n", 4, 18, "spec.identity: expected a string, got null");
	expect_error(DOC3 "spec: [a]\n", 4, 7, "spec: expected a mapping, got a list");
}

static void test_list_errors(void **state)
{
	char text[16384];
	size_t used, i;

	(void)state;
	expect_error(HEAD "  egres: []\n", 6, 3, "spec.egres: unknown field (expected " SPEC_FIELDS ")");
	expect_error(HEAD "  secrets: []\n  secrets: []\n", 7, 3, "spec.secrets: duplicate key (first at line 6)");
	expect_error(HEAD "  secrets: /etc/x\n", 6, 12, "spec.secrets: expected a list, got a scalar");
	expect_error(HEAD "  secrets:\n", 6, 11, "spec.secrets: expected a list, got null");
	expect_error(HEAD "  secrets: [etc/x]\n", 6, 13,
		     "spec.secrets[0]: 'etc/x' is not an absolute path glob (must start with '/')");
	expect_error(HEAD "  tools: [/a, [/b]]\n", 6, 15, "spec.tools[1]: expected a string, got a list");
	expect_error(HEAD "  tools: [/a, \"\"]\n", 6, 15, "spec.tools[1]: must not be empty");
	expect_error(HEAD "  tools: [\"/a\\tb\"]\n", 6, 11, "spec.tools[0]: contains a control character");
	expect_error(HEAD "  tools: [\"/a\\0b\"]\n", 6, 11, "spec.tools[0]: contains a NUL byte");
	expect_error(HEAD "  ? [a]\n  : b\n", 6, 5,
		     "spec: keys must be strings, got a list");

	/* 129 secrets: one too many. */
	used = (size_t)snprintf(text, sizeof(text), HEAD "  secrets:\n");
	for (i = 0; i <= POLICY_MAX_RULES; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "    - /s/%zu\n", i);
	expect_error(text, 7 + POLICY_MAX_RULES, 7, "spec.secrets: too many entries (at most 128)");

	/* A glob longer than the field. */
	used = (size_t)snprintf(text, sizeof(text), HEAD "  tools: [/");
	for (i = 0; i < 511; i++)
		text[used++] = 'a';
	snprintf(text + used, sizeof(text) - used, "]\n");
	expect_error(text, 6, 11, "spec.tools[0]: too long (512 characters, at most 511)");
}

static void test_egress_errors(void **state)
{
	char text[4096];
	size_t used, i;

	(void)state;
	expect_error(HEAD "  egress:\n    - {host: a.com, ports: [443]}\n    - {cidr: 10.0.0.0/8, ports: [70000]}\n",
		     8, 34, "spec.egress[1].ports[0]: 70000 is not a port (1-65535)");
	expect_error(HEAD "  egress: [{host: a.com, ports: [443, 0]}]\n", 6, 39,
		     "spec.egress[0].ports[1]: 0 is not a port (1-65535)");
	expect_error(HEAD "  egress: [{host: a.com, ports: [https]}]\n", 6, 34,
		     "spec.egress[0].ports[0]: 'https' is not a port (1-65535)");
	expect_error(HEAD "  egress: [{host: a.com, ports: [0443]}]\n", 6, 34,
		     "spec.egress[0].ports[0]: '0443' is not a port (1-65535)");
	expect_error(HEAD "  egress: [{host: a.com, ports: [-1]}]\n", 6, 34,
		     "spec.egress[0].ports[0]: '-1' is not a port (1-65535)");
	expect_error(HEAD "  egress: [{host: a.com, ports: [99999999999999999999]}]\n", 6, 34,
		     "spec.egress[0].ports[0]: 99999999999999999999 is not a port (1-65535)");
	expect_error(HEAD "  egress: [{host: a.com, ports: 443}]\n", 6, 33,
		     "spec.egress[0].ports: expected a list, got a scalar");
	expect_error(HEAD "  egress: [{host: a.com, ports: [[443]]}]\n", 6, 34,
		     "spec.egress[0].ports[0]: expected a port number, got a list");
	expect_error(HEAD "  egress: [{host: a.com, port: 443}]\n", 6, 26,
		     "spec.egress[0].port: unknown field (expected host, cidr, ports, proto)");
	expect_error(HEAD "  egress: [{host: a.com, proto: sctp}]\n", 6, 33,
		     "spec.egress[0].proto: 'sctp' is not a protocol (tcp, udp or icmp)");
	expect_error(HEAD "  egress: [{host: a.com, cidr: 10.0.0.0/8}]\n", 6, 26,
		     "spec.egress[0]: has both host and cidr; an egress rule takes exactly one");
	expect_error(HEAD "  egress: [{cidr: 10.0.0.0/8, host: a.com}]\n", 6, 31,
		     "spec.egress[0]: has both host and cidr; an egress rule takes exactly one");
	expect_error(HEAD "  egress: [{ports: [443]}]\n", 6, 12, "spec.egress[0]: needs host or cidr");
	expect_error(HEAD "  egress: [api.openai.com]\n", 6, 12,
		     "spec.egress[0]: expected a mapping, got a scalar");
	expect_error(HEAD "  egress: [{cidr: 10.0.0.1/8}]\n", 6, 19,
		     "spec.egress[0].cidr: '10.0.0.1/8' is not a CIDR (ADDRESS/PREFIX with zero host bits, or an address)");
	expect_error(HEAD "  egress: [{host: 10.0.0.0/8}]\n", 6, 19,
		     "spec.egress[0].host: '10.0.0.0/8' is not a host name (a CIDR goes in cidr:)");
	expect_error(HEAD "  egress: [{host: \"a.com:443\"}]\n", 6, 19,
		     "spec.egress[0].host: 'a.com:443' is not a host name (no port here: ports are listed separately "
		     "or, for credentials, ignored)");
	expect_error(HEAD "  egress: [{host: a..com}]\n", 6, 19,
		     "spec.egress[0].host: 'a..com' is not a host name (DNS labels of letters, digits, '-', '_', "
		     "with '*' wildcards) or an IP address");
	expect_error(HEAD "  egress: [{host: \"-a.com\"}]\n", 6, 19,
		     "spec.egress[0].host: '-a.com' is not a host name (DNS labels of letters, digits, '-', '_', "
		     "with '*' wildcards) or an IP address");
	expect_error(HEAD "  egress: [{host: \"a b.com\"}]\n", 6, 19,
		     "spec.egress[0].host: 'a b.com' is not a host name (DNS labels of letters, digits, '-', '_', "
		     "with '*' wildcards) or an IP address");

	/* 33 ports: one too many. */
	used = (size_t)snprintf(text, sizeof(text), HEAD "  egress:\n    - host: a.com\n      ports:\n");
	for (i = 0; i <= POLICY_MAX_PORTS; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "        - %zu\n", i + 1);
	expect_error(text, 9 + POLICY_MAX_PORTS, 11, "spec.egress[0].ports: too many entries (at most 32)");
}

static void test_credential_errors(void **state)
{
	(void)state;
	expect_error(HEAD "  credentials: [{kinds: [bearer]}]\n", 6, 17,
		     "spec.credentials[0]: missing required field 'host'");
	expect_error(HEAD "  credentials: [{host: a.com, kind: bearer}]\n", 6, 31,
		     "spec.credentials[0].kind: unknown field (expected host, kinds, paths, fingerprints)");
	expect_error(HEAD "  credentials: [{host: a.com, fingerprints: [0123456789ABCDEF]}]\n", 6, 46,
		     "spec.credentials[0].fingerprints[0]: '0123456789ABCDEF' is not a fingerprint (16 lower-case hex digits)");
	expect_error(HEAD "  credentials: [{host: a.com, fingerprints: [0123456789abcde]}]\n", 6, 46,
		     "spec.credentials[0].fingerprints[0]: '0123456789abcde' is not a fingerprint (16 lower-case hex digits)");
	expect_error(HEAD "  credentials: [{host: a.com, kinds: [\"api key\"]}]\n", 6, 39,
		     "spec.credentials[0].kinds[0]: a credential kind has no spaces or control characters");
	expect_error(HEAD "  credentials: [{host: a.com, kinds: [\"\"]}]\n", 6, 39,
		     "spec.credentials[0].kinds[0]: must not be empty");
	expect_error(HEAD "  credentials: [{host: a.com, kinds: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]}]\n", 6, 39,
		     "spec.credentials[0].kinds[0]: too long (33 characters, at most 31)");
	expect_error(HEAD "  credentials: [{host: a.com, paths: [v1/*]}]\n", 6, 39,
		     "spec.credentials[0].paths[0]: 'v1/*' is not an absolute path glob (must start with '/')");
	expect_error(HEAD "  credentials: [{host: a.com, kinds: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q]}]\n",
		     6, 87, "spec.credentials[0].kinds: too many entries (at most 16)");
	expect_error(HEAD "  credentials: [{host: \"a.com:443\"}]\n", 6, 24,
		     "spec.credentials[0].host: 'a.com:443' is not a host name (no port here: ports are listed "
		     "separately or, for credentials, ignored)");
}

static void test_exception_errors(void **state)
{
	(void)state;
	expect_error(HEAD "  exceptions:\n    - {secret: /a, reason: r}\n", 7, 7,
		     "spec.exceptions[0]: missing required field 'expires'");
	expect_error(HEAD "  exceptions:\n    - {secret: /a, expires: 2026-01-01T00:00:00Z}\n", 7, 7,
		     "spec.exceptions[0]: missing required field 'reason'");
	expect_error(HEAD "  exceptions:\n    - {expires: 2026-01-01T00:00:00Z, reason: r}\n", 7, 7,
		     "spec.exceptions[0]: needs one of secret, tool, egress or credential");
	expect_error(HEAD "  exceptions:\n    - {secret: /a, tool: /b, expires: 2026-01-01T00:00:00Z, reason: r}\n", 7, 20,
		     "spec.exceptions[0]: has both secret and tool; an exception covers exactly one rule");
	expect_error(HEAD "  exceptions:\n    - {tool: /b, secret: /a, expires: 2026-01-01T00:00:00Z, reason: r}\n", 7, 18,
		     "spec.exceptions[0]: has both tool and secret; an exception covers exactly one rule");
	expect_error(HEAD "  exceptions:\n    - {secret: /a, expires: 2026-01-01, reason: r}\n", 7, 29,
		     "spec.exceptions[0].expires: '2026-01-01' is not an RFC 3339 time "
		     "(like 2026-12-31T00:00:00Z or 2026-12-31T02:00:00+02:00)");
	expect_error(HEAD "  exceptions:\n    - {secret: /a, expires: 2026-01-01T00:00:00Z, reason: \"\"}\n", 7, 59,
		     "spec.exceptions[0].reason: must not be empty");
	expect_error(HEAD "  exceptions:\n    - {secret: /a, expires: 2026-01-01T00:00:00Z, reason: \"a\\nb\"}\n", 7, 59,
		     "spec.exceptions[0].reason: must be one line of text without control characters");
	expect_error(HEAD "  exceptions:\n    - {secret: /a, expires: 2026-01-01T00:00:00Z, reason: r, ticket: 1}\n",
		     7, 62, "spec.exceptions[0].ticket: unknown field "
		     "(expected secret, tool, egress, credential, expires, reason)");
	expect_error(HEAD "  exceptions:\n"
		     "    - egress: {host: legacy.internal, ports: [65536]}\n"
		     "      expires: 2026-12-31T00:00:00Z\n      reason: SEC-123\n",
		     7, 47, "spec.exceptions[0].egress.ports[0]: 65536 is not a port (1-65535)");
	expect_error(HEAD "  exceptions:\n"
		     "    - credential: {kinds: [bearer]}\n"
		     "      expires: 2026-12-31T00:00:00Z\n      reason: SEC-123\n",
		     7, 19, "spec.exceptions[0].credential: missing required field 'host'");
	expect_error(HEAD "  exceptions:\n    - {tool: bin/sh, expires: 2026-01-01T00:00:00Z, reason: r}\n", 7, 14,
		     "spec.exceptions[0].tool: 'bin/sh' is not an absolute path glob (must start with '/')");
	expect_error(HEAD "  exceptions: {secret: /a}\n", 6, 15, "spec.exceptions: expected a list, got a mapping");
}

static void test_hostile_text_is_sanitized(void **state)
{
	(void)state;
	expect_error(HEAD "  \"egress\\e[31m\": []\n", 6, 3,
		     "spec.egress?[31m: unknown field (expected " SPEC_FIELDS ")");
	expect_error(HEAD "  tools: [\"x\\u00e9\\r\"]\n", 6, 11,
		     "spec.tools[0]: 'x?\?\?' is not an absolute path glob (must start with '/')");
}

/* ---- matchers ------------------------------------------------------------------ */

static void test_host_matches(void **state)
{
	static const struct {
		const char *pattern, *host;
		bool match;
	} cases[] = {
		{ "*.openai.com", "api.openai.com", true },
		{ "*.openai.com", "a.b.openai.com", true },
		{ "*.openai.com", "openai.com", false },
		{ "*.openai.com", ".openai.com", false },
		{ "*.openai.com", "api.openai.com.evil.net", false },
		{ "*.openai.com", "apiopenai.com", false },
		{ "api.openai.com", "api.openai.com", true },
		{ "api.openai.com", "API.OpenAI.COM", true },
		{ "API.openai.com", "api.openai.com", true },
		{ "api.openai.com", "api.openai.com.", true },
		{ "api.openai.com.", "api.openai.com", true },
		{ "api.openai.com", "xapi.openai.com", false },
		{ "api.openai.com", "api.openai.co", false },
		{ "api.openai.com", "api.openai.com.evil", false },
		{ "api-*.example.com", "api-eu.example.com", true },
		{ "api-*.example.com", "api-.example.com", false },
		{ "api-*.example.com", "api-eu.west.example.com", true },
		{ "*.*.com", "a.b.com", true },
		{ "*.*.com", "a.com", false },
		{ "a*b", "ab", false },
		{ "a*b", "axb", true },
		{ "a*b", "axxbxb", true },
		{ "a*b", "axxbx", false },
		{ "*", "x", true },
		{ "*", "a.b.c", true },
		{ "*", "", false },
		{ "*", ".", false },
		{ "", "", false },
		{ "", "a", false },
		{ "a", "", false },
		{ "**.com", "a.com", false }, /* each star takes one character at least */
		{ "**.com", "ab.com", true },
		{ "10.0.0.1", "10.0.0.1", true },
		{ "10.0.0.1", "10.0.0.10", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (policy_host_matches(cases[i].pattern, cases[i].host) != cases[i].match)
			print_error("case %zu: '%s' vs '%s' should be %d\n", i, cases[i].pattern, cases[i].host,
				    cases[i].match);
		assert_int_equal(policy_host_matches(cases[i].pattern, cases[i].host), cases[i].match);
	}
	assert_false(policy_host_matches(NULL, "a"));
	assert_false(policy_host_matches("a", NULL));
}

static struct policy_egress egress_host(const char *host, const char *proto, size_t n_ports, ...)
{
	struct policy_egress e;
	va_list ap;
	size_t i;

	memset(&e, 0, sizeof(e));
	snprintf(e.host, sizeof(e.host), "%s", host);
	snprintf(e.proto, sizeof(e.proto), "%s", proto);
	va_start(ap, n_ports);
	for (i = 0; i < n_ports; i++)
		e.ports[i] = (uint16_t)va_arg(ap, int);
	va_end(ap);
	e.n_ports = n_ports;
	return e;
}

static struct policy_egress egress_cidr(const char *cidr, const char *proto, size_t n_ports, ...)
{
	struct policy_egress e;
	va_list ap;
	size_t i;

	memset(&e, 0, sizeof(e));
	assert_int_equal(cidr_parse(cidr, &e.cidr), 0);
	e.has_cidr = true;
	snprintf(e.proto, sizeof(e.proto), "%s", proto);
	va_start(ap, n_ports);
	for (i = 0; i < n_ports; i++)
		e.ports[i] = (uint16_t)va_arg(ap, int);
	va_end(ap);
	e.n_ports = n_ports;
	return e;
}

static void test_egress_matches(void **state)
{
	struct policy_egress openai = egress_host("api.openai.com", "", 1, 443);
	struct policy_egress wild = egress_host("*.internal", "", 0);
	struct policy_egress cluster = egress_cidr("10.96.0.0/12", "tcp", 2, 443, 8443);
	struct policy_egress v6 = egress_cidr("fd00::/8", "", 0);
	struct policy_egress dns = egress_host("*", "udp", 1, 53);
	struct policy_egress lit4 = egress_host("192.0.2.10", "", 0);
	struct policy_egress lit6 = egress_host("2001:db8::1", "tcp", 0);
	const struct {
		const struct policy_egress *rule;
		const char *proto, *addr, *dns;
		uint16_t port;
		bool match;
	} cases[] = {
		{ &openai, "tcp", "203.0.113.5", "api.openai.com", 443, true },
		{ &openai, "udp", "203.0.113.5", "api.openai.com", 443, true }, /* proto "" = any */
		{ &openai, NULL, NULL, "API.openai.com.", 443, true },
		{ &openai, "tcp", "203.0.113.5", "api.openai.com", 80, false },
		{ &openai, "tcp", "203.0.113.5", NULL, 443, false },
		{ &openai, "tcp", "203.0.113.5", "chat.openai.com", 443, false },
		{ &wild, "tcp", "10.0.0.1", "db.internal", 5432, true },   /* no ports = any */
		{ &wild, "tcp", "10.0.0.1", "internal", 5432, false },
		{ &cluster, "tcp", "10.96.0.1", NULL, 443, true },
		{ &cluster, "TCP", "10.111.255.255", "svc.cluster.local", 8443, true },
		{ &cluster, "tcp", "10.112.0.1", NULL, 443, false },
		{ &cluster, "udp", "10.96.0.1", NULL, 443, false },
		{ &cluster, NULL, "10.96.0.1", NULL, 443, false },
		{ &cluster, "tcp", "10.96.0.1", NULL, 80, false },
		{ &cluster, "tcp", NULL, NULL, 443, false },
		{ &cluster, "tcp", "fd00::1", NULL, 443, false },
		{ &v6, "udp", "fd12::1", NULL, 9, true },
		{ &v6, "udp", "fe80::1", NULL, 9, false },
		{ &dns, "udp", "8.8.8.8", "dns.google", 53, true },
		{ &dns, "udp", "8.8.8.8", NULL, 53, false },               /* "*" names only */
		{ &dns, "tcp", "8.8.8.8", "dns.google", 53, false },
		{ &lit4, "tcp", "192.0.2.10", NULL, 1, true },
		{ &lit4, "tcp", "192.0.2.10", "whatever.example", 1, true },
		{ &lit4, "tcp", "::ffff:192.0.2.10", NULL, 1, true },
		{ &lit4, "tcp", "192.0.2.11", NULL, 1, false },
		{ &lit4, "tcp", NULL, "192.0.2.10", 1, false },
		{ &lit6, "tcp", "2001:0db8:0:0::0001", NULL, 22, true },
		{ &lit6, "tcp", "2001:db8::2", NULL, 22, false },
	};
	struct netaddr addr;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		bool got;

		if (cases[i].addr)
			assert_int_equal(netaddr_parse(cases[i].addr, &addr), 0);
		got = policy_egress_matches(cases[i].rule, cases[i].proto, cases[i].addr ? &addr : NULL, cases[i].dns,
					    cases[i].port);
		if (got != cases[i].match)
			print_error("case %zu should be %d\n", i, cases[i].match);
		assert_int_equal(got, cases[i].match);
	}
	assert_false(policy_egress_matches(NULL, "tcp", &addr, "a", 1));
}

static void test_credential_matches(void **state)
{
	struct policy_credential full, any, lit6, lit4;
	const struct {
		const struct policy_credential *rule;
		const char *host, *kind, *path, *fp;
		bool match;
	} *c, cases[] = {
		{ &full, "api.openai.com", "bearer", "/v1/chat", "0123456789abcdef", true },
		{ &full, "api.openai.com:443", "bearer", "/v1/chat", "0123456789abcdef", true },
		{ &full, "API.OpenAI.com.", "bearer", "/v1/chat", "0123456789abcdef", true },
		{ &full, "evil.com", "bearer", "/v1/chat", "0123456789abcdef", false },
		{ &full, "api.openai.com:443x", "bearer", "/v1/chat", "0123456789abcdef", false },
		{ &full, "api.openai.com", "query:api_key", "/v1/chat", "fedcba9876543210", true },
		{ &full, "api.openai.com", "basic", "/v1/chat", "0123456789abcdef", false },
		{ &full, "api.openai.com", NULL, "/v1/chat", "0123456789abcdef", false },
		{ &full, "api.openai.com", "bearer", "/v1/a/b", "0123456789abcdef", false },
		{ &full, "api.openai.com", "bearer", "/v2/chat", "0123456789abcdef", false },
		{ &full, "api.openai.com", "bearer", "/internal/x", "0123456789abcdef", true },
		{ &full, "api.openai.com", "bearer", NULL, "0123456789abcdef", false },
		{ &full, "api.openai.com", "bearer", "/v1/chat", "0000000000000000", false },
		{ &full, "api.openai.com", "bearer", "/v1/chat", NULL, false },
		{ &full, NULL, "bearer", "/v1/chat", "0123456789abcdef", false },
		{ &any, "x.example.com:8080", NULL, NULL, NULL, true },
		{ &any, "a.b.example.com", "cookie", "/", "0123456789abcdef", true },
		{ &any, "example.com", "cookie", "/", "0123456789abcdef", false },
		{ &lit6, "[2001:db8::1]:443", "bearer", "/", "0", true },
		{ &lit6, "[2001:db8::1]", "bearer", "/", "0", true },
		{ &lit6, "2001:db8::1", "bearer", "/", "0", true },
		{ &lit6, "[2001:db8::2]:443", "bearer", "/", "0", false },
		{ &lit4, "10.0.0.1:8080", "bearer", "/", "0", true },
		{ &lit4, "10.0.0.1", "bearer", "/", "0", true },
		{ &lit4, "10.0.0.11", "bearer", "/", "0", false },
	};
	size_t i;

	(void)state;
	memset(&full, 0, sizeof(full));
	strcpy(full.host, "api.openai.com");
	strcpy(full.kinds[0], "bearer");
	strcpy(full.kinds[1], "query:*");
	full.n_kinds = 2;
	strcpy(full.paths[0], "/v1/*");
	strcpy(full.paths[1], "/internal/**");
	full.n_paths = 2;
	strcpy(full.fingerprints[0], "0123456789abcdef");
	strcpy(full.fingerprints[1], "fedcba9876543210");
	full.n_fingerprints = 2;
	memset(&any, 0, sizeof(any));
	strcpy(any.host, "*.example.com");
	memset(&lit6, 0, sizeof(lit6));
	strcpy(lit6.host, "2001:db8::1");
	memset(&lit4, 0, sizeof(lit4));
	strcpy(lit4.host, "10.0.0.1");

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		bool got;

		c = &cases[i];
		got = policy_credential_matches(c->rule, c->host, c->kind, c->path, c->fp);
		if (got != c->match)
			print_error("case %zu (%s) should be %d\n", i, c->host ? c->host : "NULL", c->match);
		assert_int_equal(got, c->match);
	}
	assert_false(policy_credential_matches(NULL, "a", "b", "/", "0"));
}

/* Rules as loaded behave like the DESIGN.md example says. */
static void test_loaded_rules_match(void **state)
{
	struct policy_set set = { 0 };
	const struct reach_policy *p;
	struct netaddr addr;
	char path[PATH_MAX], err[512];

	(void)state;
	fixture_path("llm-gateway.yaml", path, sizeof(path));
	assert_int_equal(policy_load_path(&set, path, err, sizeof(err)), 0);
	p = policy_for_identity(&set, "ai/llm-gateway");
	assert_non_null(p);
	assert_int_equal(netaddr_parse("10.100.0.1", &addr), 0);
	assert_true(policy_egress_matches(&p->rules[3].egress, "tcp", &addr, NULL, 443));
	assert_false(policy_egress_matches(&p->rules[2].egress, "tcp", &addr, NULL, 443));
	assert_true(policy_egress_matches(&p->rules[2].egress, "tcp", &addr, "api.openai.com", 443));
	assert_true(policy_credential_matches(&p->rules[4].credential, "api.openai.com:443", "bearer", "/v1/x",
					      "0123456789abcdef"));
	assert_false(policy_credential_matches(&p->rules[4].credential, "api.openai.com", "basic", "/", NULL));
	assert_true(policy_egress_matches(&p->exceptions[0].rule.egress, "tcp", &addr, "legacy.internal", 8080));
	policy_set_free(&set);
}

/* ---- expiry ------------------------------------------------------------------- */

static void test_rfc3339(void **state)
{
	static const struct {
		const char *text;
		int64_t ms;
	} good[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "1969-12-31T23:59:59Z", -1000 },
		{ "2026-12-31T00:00:00Z", 1798675200000LL },
		{ "2026-12-31T02:00:00+02:00", 1798675200000LL },
		{ "2026-12-30T22:00:00-02:00", 1798675200000LL },
		{ "2026-12-31T05:30:00+05:30", 1798675200000LL },
		{ "2026-12-31T00:00:00-00:00", 1798675200000LL },
		{ "2026-12-31t00:00:00z", 1798675200000LL },
		{ "2026-12-31T00:00:00.5Z", 1798675200500LL },
		{ "2026-12-31T00:00:00.123456789Z", 1798675200123LL },
		{ "2026-06-30T12:00:00+02:00", 1782813600000LL },
		{ "2024-02-29T00:00:00Z", 1709164800000LL },
		{ "2000-03-01T00:00:00Z", 951868800000LL },
		{ "2026-12-31T23:59:60Z", 1798761600000LL }, /* a leap second */
	};
	static const char *const bad[] = {
		"", "2026-12-31", "2026-12-31T00:00:00", "2026-12-31T00:00Z", "2026-12-31 00:00:00Z",
		"2026-12-31T00:00:00+0200", "2026-12-31T00:00:00+02", "2026-12-31T00:00:00.Z",
		"2026-12-31T00:00:00Z ", " 2026-12-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
		"2026-12-32T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
		"2026-12-31T24:00:00Z", "2026-12-31T00:60:00Z", "2026-12-31T00:00:61Z", "2026-12-31T00:00:00+24:00",
		"2026-12-31T00:00:00+02:60", "26-12-31T00:00:00Z", "2026-1-31T00:00:00Z", "+2026-12-31T00:00:00Z",
		"2026-12-31T00:00:00UTC", "2026/12/31T00:00:00Z",
	};
	int64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		ms = 42;
		if (policy_parse_rfc3339(good[i].text, &ms) != 0 || ms != good[i].ms)
			print_error("'%s': got %lld\n", good[i].text, (long long)ms);
		assert_int_equal(policy_parse_rfc3339(good[i].text, &ms), 0);
		assert_true(ms == good[i].ms);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (policy_parse_rfc3339(bad[i], &ms) != -EINVAL)
			print_error("'%s' should be rejected\n", bad[i]);
		assert_int_equal(policy_parse_rfc3339(bad[i], &ms), -EINVAL);
	}
	assert_int_equal(policy_parse_rfc3339(NULL, &ms), -EINVAL);
	assert_int_equal(policy_parse_rfc3339("2026-12-31T00:00:00Z", NULL), -EINVAL);
}


/* Globs that are surely mistakes fail at the character that is wrong. */
static void test_bad_globs(void **state)
{
	(void)state;
	expect_error(HEAD "  secrets:\n    - /tmp/[abc\n", 7, 12,
		     "spec.secrets[0]: '/tmp/[abc': unterminated character class '[' (write '\\[' for a literal '[')");
	expect_error(HEAD "  tools:\n    - /usr/bin/[z-a]x\n", 7, 17,
		     "spec.tools[0]: '/usr/bin/[z-a]x': range 'z-a' is empty: its end is before its start");
	expect_error(HEAD "  secrets: [\"/etc/***\"]\n", 6, 19,
		     "spec.secrets[0]: '/etc/***': '***' is no pattern: '*' matches within a path component, "
		     "'**' across them");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_globs),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_design_example_fixture),
		cmocka_unit_test(test_bad_fixtures),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_missing_path),
		cmocka_unit_test(test_file_suffix_aliases_and_quoting),
		cmocka_unit_test(test_failed_load_keeps_set),
		cmocka_unit_test(test_duplicate_identities),
		cmocka_unit_test(test_yaml_syntax_errors),
		cmocka_unit_test(test_no_policy_in_file),
		cmocka_unit_test(test_document_shape_errors),
		cmocka_unit_test(test_metadata_errors),
		cmocka_unit_test(test_identity_errors),
		cmocka_unit_test(test_list_errors),
		cmocka_unit_test(test_egress_errors),
		cmocka_unit_test(test_credential_errors),
		cmocka_unit_test(test_exception_errors),
		cmocka_unit_test(test_hostile_text_is_sanitized),
		cmocka_unit_test(test_host_matches),
		cmocka_unit_test(test_egress_matches),
		cmocka_unit_test(test_credential_matches),
		cmocka_unit_test(test_loaded_rules_match),
		cmocka_unit_test(test_rfc3339),
	};

	return cmocka_run_group_tests_name("policy", tests, make_tmpdir, remove_tmpdir);
}
