#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "reach/ledger.h"
#include "reach/ledger_store.h"
#include "reach.pb-c.h"
#include "testutil.h"

/* ---- builders ------------------------------------------------------------ */

static struct ledger_obs obs(const char *identity, enum ledger_kind kind, const char *object)
{
	struct ledger_obs o;

	memset(&o, 0, sizeof(o));
	o.identity = identity;
	o.kind = kind;
	o.object = object;
	o.count_delta = 1;
	return o;
}

static const struct ledger_edge *edge_of(const struct ledger *l, const char *identity, enum ledger_kind kind,
					 const char *object)
{
	return ledger_edge_find(ledger_identity_find(l, identity), kind, object);
}

static void assert_set(const struct ledger_set *s, const char *const *want, size_t n, uint64_t dropped)
{
	assert_int_equal(s->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(s->v[i], want[i]);
	assert_int_equal(s->dropped, dropped);
}

static uint64_t outcome_of(const struct ledger_edge *e, const char *name)
{
	for (size_t i = 0; i < e->n_outcomes; i++)
		if (!strcmp(e->outcomes[i].name, name))
			return e->outcomes[i].count;
	return 0;
}

/* Every field of two edges. */
static void assert_edge_equal(const struct ledger_edge *a, const struct ledger_edge *b)
{
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->kind, b->kind);
	assert_string_equal(a->object, b->object);
	assert_string_equal(a->category, b->category);
	assert_string_equal(a->dest_class, b->dest_class);
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->proto, b->proto);
	assert_int_equal(a->port, b->port);
	assert_int_equal(a->n_outcomes, b->n_outcomes);
	for (size_t i = 0; i < a->n_outcomes; i++) {
		assert_string_equal(a->outcomes[i].name, b->outcomes[i].name);
		assert_int_equal(a->outcomes[i].count, b->outcomes[i].count);
	}
	assert_int_equal(a->outcomes_dropped, b->outcomes_dropped);
	assert_int_equal(a->count, b->count);
	assert_int_equal(a->first_ms, b->first_ms);
	assert_int_equal(a->last_ms, b->last_ms);
	assert_set(b->executables, (const char *const *)a->executables->v, a->executables->n, a->executables->dropped);
	assert_set(b->pods, (const char *const *)a->pods->v, a->pods->n, a->pods->dropped);
	assert_set(b->images, (const char *const *)a->images->v, a->images->n, a->images->dropped);
	assert_int_equal(a->n_lineage, b->n_lineage);
	for (size_t i = 0; i < a->n_lineage; i++)
		assert_string_equal(a->lineage[i], b->lineage[i]);
	assert_int_equal(a->lineage_truncated, b->lineage_truncated);
	assert_string_equal(a->epoch, b->epoch);
	assert_string_equal(a->last_epoch, b->last_epoch);
	assert_int_equal(a->n_epochs, b->n_epochs);
	for (size_t i = 0; i < a->n_epochs; i++) {
		assert_string_equal(a->epoch_names[i], b->epoch_names[i]);
		assert_int_equal(a->epoch_first_ms[i], b->epoch_first_ms[i]);
		assert_int_equal(a->epoch_last_ms[i], b->epoch_last_ms[i]);
	}
	assert_int_equal(a->epochs_earlier, b->epochs_earlier);
}

/* Every identity, counter and edge of two ledgers. */
static void assert_ledger_equal(const struct ledger *a, const struct ledger *b)
{
	assert_int_equal(ledger_identities(a), ledger_identities(b));
	assert_int_equal(ledger_edges(a), ledger_edges(b));
	assert_int_equal(ledger_edges_dropped(a), ledger_edges_dropped(b));
	assert_int_equal(ledger_identities_dropped(a), ledger_identities_dropped(b));
	for (size_t i = 0; i < ledger_identities(a); i++) {
		const struct ledger_identity *x = ledger_identity_at(a, i), *y = ledger_identity_at(b, i);

		assert_string_equal(x->name, y->name);
		assert_int_equal(x->edges_dropped, y->edges_dropped);
		assert_int_equal(x->n_edges, y->n_edges);
		for (size_t j = 0; j < x->n_edges; j++)
			assert_edge_equal(x->edges[j], y->edges[j]);
	}
}

static char *json_text(const struct ledger *l, const char *identity, const char *kind)
{
	json_object *j = ledger_to_json(l, identity, kind);
	char *s;

	assert_non_null(j);
	s = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
	return s;
}

/* A ledger with every field set, two identities, two kinds of caps hit. */
static struct ledger *rich_ledger(void)
{
	struct ledger *l = ledger_new(3, 4);
	const char *lin[] = { "/usr/lib/systemd/systemd", "/usr/bin/containerd-shim", "/usr/bin/python3.11" };
	struct ledger_obs o;

	assert_non_null(l);
	o = obs("ai/llm-gateway", LEDGER_EGRESS, "tcp/104.18.7.192/443");
	o.dest_class = "external";
	o.name = "api.openai.com";
	o.proto = "tcp";
	o.port = 443;
	o.outcome = "established";
	o.count_delta = 5;
	o.first_ms = 1700000000123;
	o.last_ms = 1700000005000;
	o.executable = "/usr/bin/python3.11";
	o.lineage = lin;
	o.n_lineage = 3;
	o.pod = "llm-gateway-7d9f-abcde";
	o.image = "ghcr.io/acme/gw@sha256:1111";
	o.epoch = "e1";
	assert_int_equal(ledger_record(l, &o), 0);
	o.outcome = "refused";
	o.count_delta = 2;
	o.pod = "llm-gateway-7d9f-xyz12";
	o.executable = "/usr/bin/curl";
	o.first_ms = 1700000010000;
	o.last_ms = 1700000020000;
	o.epoch = "e2";
	assert_int_equal(ledger_record(l, &o), 0);

	o = obs("ai/llm-gateway", LEDGER_SECRET, "/var/run/secrets/kubernetes.io/serviceaccount/token");
	o.category = "k8s-sa-token";
	o.first_ms = 1700000000001;
	o.last_ms = 1700000000001;
	o.executable = "/usr/bin/python3.11";
	o.pod = "llm-gateway-7d9f-abcde";
	assert_int_equal(ledger_record(l, &o), 0);
	for (int i = 0; i < 18; i++) { /* 16 images kept, 2 counted */
		char img[32];

		snprintf(img, sizeof(img), "img-%02d", i);
		o.image = img;
		assert_int_equal(ledger_record(l, &o), 0);
	}

	o = obs("host/notebook", LEDGER_TOOL, "/usr/bin/bash");
	o.executable = "/usr/bin/bash";
	o.first_ms = 1700000030000;
	o.last_ms = 1700000030000;
	assert_int_equal(ledger_record(l, &o), 0);
	o = obs("host/notebook", LEDGER_DNS, "api.openai.com");
	assert_int_equal(ledger_record(l, &o), 0);
	o = obs("host/notebook", LEDGER_CREDENTIAL, "api.openai.com bearer hmac:ab12");
	assert_int_equal(ledger_record(l, &o), 0);
	o = obs("host/notebook", LEDGER_EGRESS, "udp/10.96.0.10/53");
	assert_int_equal(ledger_record(l, &o), 0);
	o = obs("host/notebook", LEDGER_EGRESS, "udp/10.96.0.11/53"); /* fifth edge: over the cap */
	assert_int_equal(ledger_record(l, &o), -ENOSPC);
	o = obs("unknown//system.slice/x.scope", LEDGER_TOOL, "/bin/sh");
	assert_int_equal(ledger_record(l, &o), 0);
	o = obs("ns/fourth", LEDGER_TOOL, "/bin/sh"); /* fourth identity: over the cap */
	assert_int_equal(ledger_record(l, &o), -ENOSPC);
	return l;
}

/* ---- scratch directory ---------------------------------------------------- */

struct dir {
	char path[64];
	char file[128];
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	snprintf(d->path, sizeof(d->path), "/tmp/test_ledger.XXXXXX");
	if (!mkdtemp(d->path)) {
		free(d);
		return -1;
	}
	snprintf(d->file, sizeof(d->file), "%s/ledger.pb.z", d->path);
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;
	int rc = remove_tree(d->path);

	free(d);
	return rc;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void spit(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the header digest, so that a test can lie consistently. */
static void reseal(uint8_t *file, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	assert_non_null(ctx);
	assert_true(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL));
	assert_true(EVP_DigestUpdate(ctx, file, 32));
	assert_true(EVP_DigestUpdate(ctx, file + LEDGER_HEADER_SIZE, len - LEDGER_HEADER_SIZE));
	assert_true(EVP_DigestFinal_ex(ctx, file + 32, &n));
	assert_int_equal(n, 32);
	EVP_MD_CTX_free(ctx);
}

/* Writes a correctly framed file around any raw bytes. */
static void write_framed(const char *path, const uint8_t *raw, size_t raw_len)
{
	uLongf z_len = compressBound(raw_len);
	uint8_t *file = calloc(1, LEDGER_HEADER_SIZE + z_len);

	assert_non_null(file);
	assert_int_equal(compress2(file + LEDGER_HEADER_SIZE, &z_len, raw, raw_len, 6), Z_OK);
	memcpy(file, LEDGER_MAGIC, 8);
	file[8] = LEDGER_FORMAT_VERSION;
	put_le64(file + 16, raw_len);
	put_le64(file + 24, z_len);
	reseal(file, LEDGER_HEADER_SIZE + z_len);
	spit(path, file, LEDGER_HEADER_SIZE + z_len);
	free(file);
}

/* A load that must fail with -EBADMSG and leave the ledger as it was. */
static void assert_bad(const char *path)
{
	struct ledger *l = ledger_new(0, 0);
	struct ledger_obs o = obs("ns/sa", LEDGER_TOOL, "/bin/true");
	char err[256] = "";

	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(ledger_load(l, path, NULL, err, sizeof(err)), -EBADMSG);
	assert_true(strlen(err) > 0);
	assert_non_null(strstr(err, path));
	assert_int_equal(ledger_identities(l), 1);
	assert_int_equal(ledger_edges(l), 1);
	assert_int_equal(edge_of(l, "ns/sa", LEDGER_TOOL, "/bin/true")->count, 1);
	assert_int_equal(ledger_edges_dropped(l), 0);
	ledger_free(l);
}

/* ---- ledger: record ------------------------------------------------------- */

static void test_kind_names(void **state)
{
	assert_string_equal(ledger_kind_name(LEDGER_SECRET), "secret");
	assert_string_equal(ledger_kind_name(LEDGER_TOOL), "tool");
	assert_string_equal(ledger_kind_name(LEDGER_EGRESS), "egress");
	assert_string_equal(ledger_kind_name(LEDGER_CREDENTIAL), "credential");
	assert_string_equal(ledger_kind_name(LEDGER_DNS), "dns");
	assert_string_equal(ledger_kind_name(LEDGER_KIND_UNSPECIFIED), "unspecified");
	assert_string_equal(ledger_kind_name(LEDGER_KIND__MAX), "unspecified");
	for (int k = LEDGER_SECRET; k < LEDGER_KIND__MAX; k++)
		assert_int_equal(ledger_kind_from_name(ledger_kind_name(k)), k);
	assert_int_equal(ledger_kind_from_name("unspecified"), -1);
	assert_int_equal(ledger_kind_from_name("Secret"), -1);
	assert_int_equal(ledger_kind_from_name(""), -1);
	assert_int_equal(ledger_kind_from_name(NULL), -1);
}

static void test_empty_ledger(void **state)
{
	struct ledger *l = ledger_new(0, 0);

	assert_non_null(l);
	assert_int_equal(ledger_identities(l), 0);
	assert_int_equal(ledger_edges(l), 0);
	assert_int_equal(ledger_edges_dropped(l), 0);
	assert_int_equal(ledger_identities_dropped(l), 0);
	assert_null(ledger_identity_at(l, 0));
	assert_null(ledger_identity_find(l, "ns/sa"));
	assert_null(ledger_edge_find(NULL, LEDGER_TOOL, "/bin/sh"));
	ledger_free(l);
	ledger_free(NULL);
}

static void test_first_record_keeps_every_field(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	const char *lin[] = { "/sbin/init", "/usr/bin/python3" };
	struct ledger_obs o = obs("ai/llm-gateway", LEDGER_EGRESS, "tcp/169.254.169.254/80");
	const struct ledger_edge *e;
	const char *exe[] = { "/usr/bin/python3" }, *pod[] = { "gw-1" }, *img[] = { "gw@sha256:aa" };

	o.dest_class = "metadata";
	o.name = "metadata.google.internal";
	o.proto = "tcp";
	o.port = 80;
	o.outcome = "established";
	o.count_delta = 3;
	o.first_ms = 1000;
	o.last_ms = 2000;
	o.executable = exe[0];
	o.lineage = lin;
	o.n_lineage = 2;
	o.pod = pod[0];
	o.image = img[0];
	o.epoch = "gw-1.2.3";
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(ledger_identities(l), 1);
	assert_int_equal(ledger_edges(l), 1);
	e = edge_of(l, "ai/llm-gateway", LEDGER_EGRESS, "tcp/169.254.169.254/80");
	assert_non_null(e);
	assert_int_equal(e->kind, LEDGER_EGRESS);
	assert_string_equal(e->object, "tcp/169.254.169.254/80");
	assert_string_equal(e->category, "");
	assert_string_equal(e->dest_class, "metadata");
	assert_string_equal(e->name, "metadata.google.internal");
	assert_string_equal(e->proto, "tcp");
	assert_int_equal(e->port, 80);
	assert_int_equal(e->n_outcomes, 1);
	assert_int_equal(outcome_of(e, "established"), 3);
	assert_int_equal(e->count, 3);
	assert_int_equal(e->first_ms, 1000);
	assert_int_equal(e->last_ms, 2000);
	assert_set(e->executables, exe, 1, 0);
	assert_set(e->pods, pod, 1, 0);
	assert_set(e->images, img, 1, 0);
	assert_int_equal(e->n_lineage, 2);
	assert_string_equal(e->lineage[0], "/sbin/init");
	assert_string_equal(e->lineage[1], "/usr/bin/python3");
	assert_false(e->lineage_truncated);
	assert_string_equal(e->epoch, "gw-1.2.3");
	assert_string_equal(e->last_epoch, "gw-1.2.3");
	/* the ledger copied the strings */
	assert_ptr_not_equal(e->object, o.object);
	assert_ptr_not_equal(e->executables->v[0], exe[0]);
	ledger_free(l);
}

static void test_unknown_strings_are_empty(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct ledger_obs o = obs("ns/sa", LEDGER_TOOL, "/bin/ls");
	const struct ledger_edge *e;

	o.count_delta = 0; /* a touch: the edge exists with count 0 */
	assert_int_equal(ledger_record(l, &o), 0);
	e = edge_of(l, "ns/sa", LEDGER_TOOL, "/bin/ls");
	assert_non_null(e);
	assert_int_equal(e->count, 0);
	assert_string_equal(e->category, "");
	assert_string_equal(e->dest_class, "");
	assert_string_equal(e->name, "");
	assert_string_equal(e->proto, "");
	assert_string_equal(e->epoch, "");
	assert_string_equal(e->last_epoch, "");
	assert_int_equal(e->n_outcomes, 0);
	assert_int_equal(e->executables->n, 0);
	assert_int_equal(e->pods->n, 0);
	assert_int_equal(e->images->n, 0);
	assert_int_equal(e->n_lineage, 0);
	assert_int_equal(e->first_ms, 0);
	assert_int_equal(e->last_ms, 0);
	ledger_free(l);
}

static void test_record_rejects_invalid(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct ledger_obs o = obs("ns/sa", LEDGER_TOOL, "/bin/ls");

	o.identity = NULL;
	assert_int_equal(ledger_record(l, &o), -EINVAL);
	o.identity = "";
	assert_int_equal(ledger_record(l, &o), -EINVAL);
	o = obs("ns/sa", LEDGER_TOOL, NULL);
	assert_int_equal(ledger_record(l, &o), -EINVAL);
	o.object = "";
	assert_int_equal(ledger_record(l, &o), -EINVAL);
	o = obs("ns/sa", LEDGER_KIND_UNSPECIFIED, "/bin/ls");
	assert_int_equal(ledger_record(l, &o), -EINVAL);
	o.kind = LEDGER_KIND__MAX;
	assert_int_equal(ledger_record(l, &o), -EINVAL);
	o.kind = (enum ledger_kind)-1;
	assert_int_equal(ledger_record(l, &o), -EINVAL);
	assert_int_equal(ledger_record(l, NULL), -EINVAL);
	assert_int_equal(ledger_identities(l), 0);
	assert_int_equal(ledger_edges_dropped(l), 0);
	ledger_free(l);
}

static void test_union_counts_and_outcomes(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct ledger_obs o = obs("ns/sa", LEDGER_EGRESS, "tcp/10.0.0.1/443");
	const struct ledger_edge *e;

	o.outcome = "established";
	o.count_delta = 4;
	assert_int_equal(ledger_record(l, &o), 0);
	o.outcome = "refused";
	o.count_delta = 2;
	assert_int_equal(ledger_record(l, &o), 0);
	o.outcome = "established";
	o.count_delta = 1;
	assert_int_equal(ledger_record(l, &o), 0);
	o.outcome = NULL; /* counted, no outcome */
	o.count_delta = 10;
	assert_int_equal(ledger_record(l, &o), 0);
	o.outcome = "timed_out";
	o.count_delta = 0; /* no zero-count outcome appears */
	assert_int_equal(ledger_record(l, &o), 0);
	e = edge_of(l, "ns/sa", LEDGER_EGRESS, "tcp/10.0.0.1/443");
	assert_int_equal(e->count, 17);
	assert_int_equal(e->n_outcomes, 2);
	/* sorted by name */
	assert_string_equal(e->outcomes[0].name, "established");
	assert_int_equal(e->outcomes[0].count, 5);
	assert_string_equal(e->outcomes[1].name, "refused");
	assert_int_equal(e->outcomes[1].count, 2);
	assert_int_equal(ledger_edges(l), 1);
	/* counts saturate instead of wrapping */
	o.outcome = "refused";
	o.count_delta = UINT64_MAX;
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(e->count, UINT64_MAX);
	assert_int_equal(outcome_of(e, "refused"), UINT64_MAX);
	ledger_free(l);
}

static void test_union_times(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct ledger_obs o = obs("ns/sa", LEDGER_SECRET, "/etc/llm/keys/a.key");
	const struct ledger_edge *e;

	o.first_ms = 5000;
	o.last_ms = 6000;
	assert_int_equal(ledger_record(l, &o), 0);
	e = edge_of(l, "ns/sa", LEDGER_SECRET, "/etc/llm/keys/a.key");
	o.first_ms = 7000; /* later: neither first nor ... */
	o.last_ms = 5500;  /* ... last moves */
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(e->first_ms, 5000);
	assert_int_equal(e->last_ms, 6000);
	o.first_ms = 4000;
	o.last_ms = 9000;
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(e->first_ms, 4000);
	assert_int_equal(e->last_ms, 9000);
	o.first_ms = 0; /* unknown never wins */
	o.last_ms = 0;
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(e->first_ms, 4000);
	assert_int_equal(e->last_ms, 9000);
	ledger_free(l);
}

static void test_union_sets_are_sorted_and_deduplicated(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct ledger_obs o = obs("ns/sa", LEDGER_SECRET, "/run/secrets/db");
	const char *exes[] = { "/usr/bin/python3", "/bin/cat", "/usr/bin/python3", "/usr/bin/env", "" };
	const char *pods[] = { "p-2", "p-1", "p-2", NULL, "p-3" };
	const char *imgs[] = { "b@sha256:2", "a@sha256:1", NULL, "a@sha256:1", "" };
	const char *want_exe[] = { "/bin/cat", "/usr/bin/env", "/usr/bin/python3" };
	const char *want_pod[] = { "p-1", "p-2", "p-3" };
	const char *want_img[] = { "a@sha256:1", "b@sha256:2" };
	const struct ledger_edge *e;

	for (int i = 0; i < 5; i++) {
		o.executable = exes[i];
		o.pod = pods[i];
		o.image = imgs[i];
		assert_int_equal(ledger_record(l, &o), 0);
	}
	e = edge_of(l, "ns/sa", LEDGER_SECRET, "/run/secrets/db");
	assert_set(e->executables, want_exe, 3, 0);
	assert_set(e->pods, want_pod, 3, 0);
	assert_set(e->images, want_img, 2, 0);
	assert_int_equal(e->count, 5);
	ledger_free(l);
}

static void test_union_descriptions_fill_once(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct ledger_obs o = obs("ns/sa", LEDGER_EGRESS, "tcp/10.0.0.1/443");
	const struct ledger_edge *e;

	assert_int_equal(ledger_record(l, &o), 0); /* nothing known yet */
	o.name = "a.example";
	o.dest_class = "cluster";
	o.proto = "tcp";
	o.port = 443;
	o.category = "custom";
	assert_int_equal(ledger_record(l, &o), 0);
	o.name = "b.example"; /* another name for the same address: the first stays */
	o.dest_class = "external";
	o.port = 8443;
	assert_int_equal(ledger_record(l, &o), 0);
	e = edge_of(l, "ns/sa", LEDGER_EGRESS, "tcp/10.0.0.1/443");
	assert_string_equal(e->name, "a.example");
	assert_string_equal(e->dest_class, "cluster");
	assert_string_equal(e->proto, "tcp");
	assert_string_equal(e->category, "custom");
	assert_int_equal(e->port, 443);
	ledger_free(l);
}

static void test_union_lineage_and_epochs_follow_first_and_last(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	const char *a[] = { "/init", "/bin/a" }, *b[] = { "/init", "/bin/b", "/bin/bb" }, *c[] = { "/bin/c" };
	struct ledger_obs o = obs("ns/sa", LEDGER_TOOL, "/usr/bin/curl");
	const struct ledger_edge *e;

	o.first_ms = o.last_ms = 2000;
	o.lineage = a;
	o.n_lineage = 2;
	o.epoch = "v2";
	assert_int_equal(ledger_record(l, &o), 0);
	e = edge_of(l, "ns/sa", LEDGER_TOOL, "/usr/bin/curl");
	/* later observation: lineage and epoch stay, last_epoch moves */
	o.first_ms = o.last_ms = 3000;
	o.lineage = b;
	o.n_lineage = 3;
	o.epoch = "v3";
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(e->n_lineage, 2);
	assert_string_equal(e->lineage[1], "/bin/a");
	assert_string_equal(e->epoch, "v2");
	assert_string_equal(e->last_epoch, "v3");
	/* an earlier observation arriving late is the first one */
	o.first_ms = o.last_ms = 1000;
	o.lineage = c;
	o.n_lineage = 1;
	o.epoch = "v1";
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(e->n_lineage, 1);
	assert_string_equal(e->lineage[0], "/bin/c");
	assert_string_equal(e->epoch, "v1");
	assert_string_equal(e->last_epoch, "v3");
	assert_int_equal(e->first_ms, 1000);
	assert_int_equal(e->last_ms, 3000);
	/* an earlier observation without lineage does not erase it */
	o.first_ms = o.last_ms = 500;
	o.lineage = NULL;
	o.n_lineage = 0;
	o.epoch = NULL;
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(e->n_lineage, 1);
	assert_string_equal(e->epoch, "v1");
	ledger_free(l);
}

static void test_sets_are_bounded_and_count_extra(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct ledger_obs o = obs("ns/sa", LEDGER_EGRESS, "udp/10.0.0.1/53");
	const char *lin[LEDGER_MAX_LINEAGE + 4];
	char names[LEDGER_MAX_VALUES + 4][16];
	const struct ledger_edge *e;

	for (int i = 0; i < LEDGER_MAX_VALUES + 4; i++) {
		snprintf(names[i], sizeof(names[i]), "v%02d", i);
		o.executable = o.pod = o.image = names[i];
		assert_int_equal(ledger_record(l, &o), 0);
	}
	e = edge_of(l, "ns/sa", LEDGER_EGRESS, "udp/10.0.0.1/53");
	assert_int_equal(e->executables->n, LEDGER_MAX_VALUES);
	assert_int_equal(e->executables->dropped, 4);
	assert_int_equal(e->pods->n, LEDGER_MAX_VALUES);
	assert_int_equal(e->pods->dropped, 4);
	assert_int_equal(e->images->n, LEDGER_MAX_VALUES);
	assert_int_equal(e->images->dropped, 4);
	assert_string_equal(e->executables->v[LEDGER_MAX_VALUES - 1], "v15");
	/* a kept value repeats for free; a value that did not fit counts again */
	o.executable = o.pod = o.image = "v03";
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(e->executables->dropped, 4);
	o.executable = o.pod = o.image = "v18";
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(e->executables->dropped, 5);
	assert_int_equal(e->pods->dropped, 5);
	assert_int_equal(e->images->dropped, 5);
	assert_int_equal(e->count, LEDGER_MAX_VALUES + 6);

	/* outcomes: distinct names beyond the bound add their counts to outcomes_dropped */
	o.executable = o.pod = o.image = NULL;
	for (int i = 0; i < LEDGER_MAX_OUTCOMES + 2; i++) {
		o.outcome = names[i];
		o.count_delta = 10;
		assert_int_equal(ledger_record(l, &o), 0);
	}
	assert_int_equal(e->n_outcomes, LEDGER_MAX_OUTCOMES);
	assert_int_equal(e->outcomes_dropped, 20);
	o.outcome = names[0];
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(outcome_of(e, names[0]), 20);
	assert_int_equal(e->outcomes_dropped, 20);

	/* lineage: kept up to the bound, flagged */
	for (int i = 0; i < LEDGER_MAX_LINEAGE + 4; i++)
		lin[i] = names[i % (LEDGER_MAX_VALUES + 4)];
	o = obs("ns/sa", LEDGER_TOOL, "/bin/deep");
	o.lineage = lin;
	o.n_lineage = LEDGER_MAX_LINEAGE + 4;
	assert_int_equal(ledger_record(l, &o), 0);
	e = edge_of(l, "ns/sa", LEDGER_TOOL, "/bin/deep");
	assert_int_equal(e->n_lineage, LEDGER_MAX_LINEAGE);
	assert_true(e->lineage_truncated);
	assert_string_equal(e->lineage[0], "v00");
	ledger_free(l);
}

static void test_edge_cap_counts_drops(void **state)
{
	struct ledger *l = ledger_new(0, 3);
	struct ledger_obs o;
	const char *objs[] = { "/bin/a", "/bin/b", "/bin/c", "/bin/d", "/bin/e" };

	for (int i = 0; i < 3; i++) {
		o = obs("ns/sa", LEDGER_TOOL, objs[i]);
		assert_int_equal(ledger_record(l, &o), 0);
	}
	o = obs("ns/sa", LEDGER_TOOL, objs[3]);
	assert_int_equal(ledger_record(l, &o), -ENOSPC);
	o = obs("ns/sa", LEDGER_TOOL, objs[4]);
	assert_int_equal(ledger_record(l, &o), -ENOSPC);
	assert_int_equal(ledger_edges(l), 3);
	assert_int_equal(ledger_edges_dropped(l), 2);
	assert_int_equal(ledger_identities_dropped(l), 0);
	assert_int_equal(ledger_identity_find(l, "ns/sa")->edges_dropped, 2);
	assert_null(edge_of(l, "ns/sa", LEDGER_TOOL, "/bin/d"));
	/* existing edges keep counting at the cap */
	o = obs("ns/sa", LEDGER_TOOL, objs[0]);
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(edge_of(l, "ns/sa", LEDGER_TOOL, "/bin/a")->count, 2);
	/* the cap is per identity */
	o = obs("ns/other", LEDGER_TOOL, objs[3]);
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(ledger_identity_find(l, "ns/other")->edges_dropped, 0);
	assert_int_equal(ledger_edges_dropped(l), 2);
	ledger_free(l);
}

static void test_identity_cap_counts_drops(void **state)
{
	struct ledger *l = ledger_new(2, 0);
	struct ledger_obs o;

	o = obs("a/a", LEDGER_TOOL, "/bin/x");
	assert_int_equal(ledger_record(l, &o), 0);
	o = obs("b/b", LEDGER_TOOL, "/bin/x");
	assert_int_equal(ledger_record(l, &o), 0);
	o = obs("c/c", LEDGER_TOOL, "/bin/x");
	assert_int_equal(ledger_record(l, &o), -ENOSPC);
	o = obs("c/c", LEDGER_SECRET, "/k");
	assert_int_equal(ledger_record(l, &o), -ENOSPC);
	assert_int_equal(ledger_identities(l), 2);
	assert_null(ledger_identity_find(l, "c/c"));
	assert_int_equal(ledger_identities_dropped(l), 2);
	assert_int_equal(ledger_edges_dropped(l), 2);
	/* known identities still grow */
	o = obs("a/a", LEDGER_TOOL, "/bin/y");
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(ledger_edges(l), 3);
	ledger_free(l);
}

static void test_order_is_identity_kind_object(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct ledger_obs o;
	const struct ledger_identity *id;

	o = obs("zz/late", LEDGER_DNS, "b.example");
	assert_int_equal(ledger_record(l, &o), 0);
	o = obs("aa/early", LEDGER_EGRESS, "tcp/10.0.0.2/80");
	assert_int_equal(ledger_record(l, &o), 0);
	o = obs("aa/early", LEDGER_SECRET, "/z");
	assert_int_equal(ledger_record(l, &o), 0);
	o = obs("aa/early", LEDGER_EGRESS, "tcp/10.0.0.1/80");
	assert_int_equal(ledger_record(l, &o), 0);
	o = obs("aa/early", LEDGER_SECRET, "/a");
	assert_int_equal(ledger_record(l, &o), 0);
	o = obs("aa/early", LEDGER_TOOL, "/a"); /* same object, other kind: another edge */
	assert_int_equal(ledger_record(l, &o), 0);
	o = obs("mm/mid", LEDGER_TOOL, "/bin/sh");
	assert_int_equal(ledger_record(l, &o), 0);

	assert_int_equal(ledger_identities(l), 3);
	assert_int_equal(ledger_edges(l), 7);
	assert_string_equal(ledger_identity_at(l, 0)->name, "aa/early");
	assert_string_equal(ledger_identity_at(l, 1)->name, "mm/mid");
	assert_string_equal(ledger_identity_at(l, 2)->name, "zz/late");
	id = ledger_identity_at(l, 0);
	assert_int_equal(id->n_edges, 5);
	assert_int_equal(id->edges[0]->kind, LEDGER_SECRET);
	assert_string_equal(id->edges[0]->object, "/a");
	assert_int_equal(id->edges[1]->kind, LEDGER_SECRET);
	assert_string_equal(id->edges[1]->object, "/z");
	assert_int_equal(id->edges[2]->kind, LEDGER_TOOL);
	assert_string_equal(id->edges[2]->object, "/a");
	assert_int_equal(id->edges[3]->kind, LEDGER_EGRESS);
	assert_string_equal(id->edges[3]->object, "tcp/10.0.0.1/80");
	assert_string_equal(id->edges[4]->object, "tcp/10.0.0.2/80");
	ledger_free(l);
}

/* ---- ledger: merge -------------------------------------------------------- */

static void test_merge_is_a_union(void **state)
{
	struct ledger *a = ledger_new(0, 0), *b = ledger_new(0, 0);
	const char *la[] = { "/init", "/a" }, *lb[] = { "/init", "/b" };
	const char *want_exe[] = { "/usr/bin/curl", "/usr/bin/python3" };
	const char *want_pod[] = { "gw-1", "gw-2" };
	const char *want_img[] = { "gw@sha256:1", "gw@sha256:2" };
	struct ledger_obs o = obs("ai/gw", LEDGER_EGRESS, "tcp/1.2.3.4/443");
	const struct ledger_edge *e;

	/* node A: seen later, from pod gw-1 */
	o.outcome = "established";
	o.count_delta = 3;
	o.first_ms = 2000;
	o.last_ms = 9000;
	o.executable = "/usr/bin/python3";
	o.pod = "gw-1";
	o.image = "gw@sha256:1";
	o.lineage = la;
	o.n_lineage = 2;
	o.epoch = "v2";
	assert_int_equal(ledger_record(a, &o), 0);
	o = obs("ai/only-a", LEDGER_TOOL, "/bin/sh");
	assert_int_equal(ledger_record(a, &o), 0);
	ledger_add_dropped(a, 5, 1);

	/* node B: seen first, from pod gw-2, other outcomes */
	o = obs("ai/gw", LEDGER_EGRESS, "tcp/1.2.3.4/443");
	o.dest_class = "external";
	o.outcome = "established";
	o.count_delta = 4;
	o.first_ms = 1000;
	o.last_ms = 5000;
	o.executable = "/usr/bin/curl";
	o.pod = "gw-2";
	o.image = "gw@sha256:2";
	o.lineage = lb;
	o.n_lineage = 2;
	o.epoch = "v1";
	assert_int_equal(ledger_record(b, &o), 0);
	o.outcome = "refused";
	o.count_delta = 1;
	o.executable = "/usr/bin/python3";
	assert_int_equal(ledger_record(b, &o), 0);
	o = obs("ai/only-b", LEDGER_SECRET, "/k");
	assert_int_equal(ledger_record(b, &o), 0);
	ledger_add_dropped(b, 7, 2);

	assert_int_equal(ledger_merge(a, b), 0);
	assert_int_equal(ledger_identities(a), 3);
	assert_int_equal(ledger_edges(a), 3);
	assert_int_equal(ledger_edges_dropped(a), 12);
	assert_int_equal(ledger_identities_dropped(a), 3);
	e = edge_of(a, "ai/gw", LEDGER_EGRESS, "tcp/1.2.3.4/443");
	assert_int_equal(e->count, 8);
	assert_int_equal(outcome_of(e, "established"), 7);
	assert_int_equal(outcome_of(e, "refused"), 1);
	assert_int_equal(e->first_ms, 1000);
	assert_int_equal(e->last_ms, 9000);
	assert_set(e->executables, want_exe, 2, 0);
	assert_set(e->pods, want_pod, 2, 0);
	assert_set(e->images, want_img, 2, 0);
	assert_string_equal(e->lineage[1], "/b"); /* B saw it first */
	assert_string_equal(e->epoch, "v1");
	assert_string_equal(e->last_epoch, "v2"); /* A saw it last */
	assert_string_equal(e->dest_class, "external");
	assert_non_null(edge_of(a, "ai/only-a", LEDGER_TOOL, "/bin/sh"));
	assert_non_null(edge_of(a, "ai/only-b", LEDGER_SECRET, "/k"));
	/* src is untouched */
	assert_int_equal(edge_of(b, "ai/gw", LEDGER_EGRESS, "tcp/1.2.3.4/443")->count, 5);
	assert_int_equal(ledger_edges_dropped(b), 7);
	ledger_free(a);
	ledger_free(b);
}

/* MCP answers add up across records and merges; an effect's call (server
 * and tool together) is the first one linked. */
static void test_mcp_answers_and_effect_union(void **state)
{
	struct ledger *a = ledger_new(0, 0), *b = ledger_new(0, 0);
	struct ledger_obs o = obs("ai/agent", LEDGER_MCP_TOOL, "server-filesystem read_file");
	const struct ledger_edge *e;

	(void)state;
	o.mcp_responses_delta = 3;
	o.mcp_errors_delta = 1;
	assert_int_equal(ledger_record(a, &o), 0);
	o.count_delta = 0; /* an answer after the call was recorded */
	o.mcp_responses_delta = 1;
	o.mcp_errors_delta = 0;
	assert_int_equal(ledger_record(a, &o), 0);
	o = obs("ai/agent", LEDGER_SECRET, "/srv/.env");
	o.mcp_server = "server-filesystem";
	o.mcp_tool = "read_file";
	assert_int_equal(ledger_record(a, &o), 0);

	o = obs("ai/agent", LEDGER_MCP_TOOL, "server-filesystem read_file");
	o.mcp_responses_delta = 2;
	o.mcp_errors_delta = 2;
	assert_int_equal(ledger_record(b, &o), 0);
	o = obs("ai/agent", LEDGER_SECRET, "/srv/.env");
	o.mcp_server = "other-server";
	o.mcp_tool = "cat";
	assert_int_equal(ledger_record(b, &o), 0);
	o = obs("ai/agent", LEDGER_SECRET, "/srv/.env"); /* no link: changes nothing */
	assert_int_equal(ledger_record(a, &o), 0);

	assert_int_equal(ledger_merge(a, b), 0);
	e = edge_of(a, "ai/agent", LEDGER_MCP_TOOL, "server-filesystem read_file");
	assert_int_equal(e->count, 2);
	assert_int_equal(e->mcp_responses, 6);
	assert_int_equal(e->mcp_errors, 3);
	assert_string_equal(e->mcp_server, "");
	e = edge_of(a, "ai/agent", LEDGER_SECRET, "/srv/.env");
	assert_string_equal(e->mcp_server, "server-filesystem");
	assert_string_equal(e->mcp_tool, "read_file");
	assert_int_equal(e->mcp_responses, 0);
	ledger_free(a);
	ledger_free(b);
}

/* An mcp-tool edge's argument shapes: a set, the earliest edge's first,
 * bounded to LEDGER_MCP_SHAPES_MAX sets. */
static void test_mcp_arg_shapes_union(void **state)
{
	struct ledger *a = ledger_new(0, 0), *b = ledger_new(0, 0);
	struct ledger_obs o = obs("ai/agent", LEDGER_MCP_TOOL, "server-filesystem read_file");
	const struct ledger_edge *e;

	(void)state;
	o.first_ms = o.last_ms = 2000;
	o.arg_shapes = "path=/srv/{id}.txt";
	assert_int_equal(ledger_record(a, &o), 0);
	o.last_ms = 2500;
	o.arg_shapes = "path=/srv/{id}.txt;path=/etc/hosts"; /* the agent's set grew */
	assert_int_equal(ledger_record(a, &o), 0);
	o.arg_shapes = NULL; /* a record without shapes keeps them */
	assert_int_equal(ledger_record(a, &o), 0);
	e = edge_of(a, "ai/agent", LEDGER_MCP_TOOL, "server-filesystem read_file");
	assert_string_equal(e->arg_shapes, "path=/srv/{id}.txt;path=/etc/hosts");

	o.first_ms = o.last_ms = 1000; /* b saw the edge first: its first call leads */
	o.arg_shapes = "path=/data;q=fp:0123456789abcdef";
	assert_int_equal(ledger_record(b, &o), 0);
	assert_int_equal(ledger_merge(a, b), 0);
	e = edge_of(a, "ai/agent", LEDGER_MCP_TOOL, "server-filesystem read_file");
	assert_string_equal(e->arg_shapes, "path=/data;q=fp:0123456789abcdef;path=/srv/{id}.txt;path=/etc/hosts");
	/* the same again: nothing new */
	assert_int_equal(ledger_merge(a, b), 0);
	assert_string_equal(e->arg_shapes, "path=/data;q=fp:0123456789abcdef;path=/srv/{id}.txt;path=/etc/hosts");
	/* a fifth set is left out */
	o.first_ms = o.last_ms = 3000;
	o.arg_shapes = "path=/fifth";
	assert_int_equal(ledger_record(a, &o), 0);
	assert_string_equal(e->arg_shapes, "path=/data;q=fp:0123456789abcdef;path=/srv/{id}.txt;path=/etc/hosts");
	assert_int_equal(e->count, 6); /* 3 records, b merged twice, 1 more */
	ledger_free(a);
	ledger_free(b);
}

static void test_merge_order_does_not_matter(void **state)
{
	struct ledger *x = rich_ledger(), *y = ledger_new(0, 0), *ab = ledger_new(0, 0), *ba = ledger_new(0, 0);
	struct ledger_obs o = obs("ai/llm-gateway", LEDGER_EGRESS, "tcp/104.18.7.192/443");
	char *s1, *s2;

	o.outcome = "timed_out";
	o.first_ms = 1600000000000;
	o.last_ms = 1800000000000;
	o.executable = "/usr/bin/node";
	o.epoch = "e0";
	assert_int_equal(ledger_record(y, &o), 0);
	o = obs("zz/new", LEDGER_DNS, "x.example");
	assert_int_equal(ledger_record(y, &o), 0);

	assert_int_equal(ledger_merge(ab, x), 0);
	assert_int_equal(ledger_merge(ab, y), 0);
	assert_int_equal(ledger_merge(ba, y), 0);
	assert_int_equal(ledger_merge(ba, x), 0);
	assert_ledger_equal(ab, ba);
	s1 = json_text(ab, NULL, NULL);
	s2 = json_text(ba, NULL, NULL);
	assert_string_equal(s1, s2);
	free(s1);
	free(s2);
	ledger_free(x);
	ledger_free(y);
	ledger_free(ab);
	ledger_free(ba);
}

static void test_merge_into_empty_copies(void **state)
{
	struct ledger *x = rich_ledger(), *y = ledger_new(0, 0);

	assert_int_equal(ledger_merge(y, x), 0);
	assert_ledger_equal(x, y);
	assert_int_equal(ledger_merge(y, y), -EINVAL);
	assert_int_equal(ledger_merge(NULL, x), -EINVAL);
	assert_int_equal(ledger_merge(y, NULL), -EINVAL);
	assert_ledger_equal(x, y);
	ledger_free(x);
	ledger_free(y);
}

static void test_merge_respects_caps(void **state)
{
	struct ledger *src = ledger_new(0, 0), *dst = ledger_new(2, 2);
	struct ledger_obs o;

	o = obs("a/a", LEDGER_TOOL, "/1");
	assert_int_equal(ledger_record(dst, &o), 0);
	/* src: a/a with 3 edges (one already in dst), b/b with 1, c/c with 2 */
	o = obs("a/a", LEDGER_TOOL, "/1");
	assert_int_equal(ledger_record(src, &o), 0);
	o = obs("a/a", LEDGER_TOOL, "/2");
	assert_int_equal(ledger_record(src, &o), 0);
	o = obs("a/a", LEDGER_TOOL, "/3");
	assert_int_equal(ledger_record(src, &o), 0);
	o = obs("b/b", LEDGER_TOOL, "/1");
	assert_int_equal(ledger_record(src, &o), 0);
	o = obs("c/c", LEDGER_TOOL, "/1");
	assert_int_equal(ledger_record(src, &o), 0);
	o = obs("c/c", LEDGER_TOOL, "/2");
	assert_int_equal(ledger_record(src, &o), 0);

	assert_int_equal(ledger_merge(dst, src), -ENOSPC);
	assert_int_equal(ledger_identities(dst), 2);
	assert_non_null(ledger_identity_find(dst, "a/a"));
	assert_non_null(ledger_identity_find(dst, "b/b"));
	assert_null(ledger_identity_find(dst, "c/c"));
	assert_int_equal(edge_of(dst, "a/a", LEDGER_TOOL, "/1")->count, 2);
	assert_non_null(edge_of(dst, "a/a", LEDGER_TOOL, "/2"));
	assert_null(edge_of(dst, "a/a", LEDGER_TOOL, "/3"));
	assert_int_equal(ledger_identity_find(dst, "a/a")->edges_dropped, 1);
	assert_int_equal(ledger_identities_dropped(dst), 1);
	assert_int_equal(ledger_edges_dropped(dst), 1 + 2); /* a/a's /3 and c/c's two edges */
	ledger_free(src);
	ledger_free(dst);
}

static void test_merge_identity_validates_first(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct ledger_edge good, bad;
	const struct ledger_edge *edges[] = { &good, &bad };

	memset(&good, 0, sizeof(good));
	good.kind = LEDGER_TOOL;
	good.object = "/bin/ok";
	good.count = 2;
	bad = good;
	bad.kind = (enum ledger_kind)42;
	assert_int_equal(ledger_merge_identity(l, "ns/sa", edges, 2, 0), -EINVAL);
	assert_int_equal(ledger_identities(l), 0);
	assert_int_equal(ledger_merge_identity(l, "", edges, 1, 0), -EINVAL);
	assert_int_equal(ledger_merge_identity(l, "ns/sa", edges, 1, 3), 0);
	assert_int_equal(edge_of(l, "ns/sa", LEDGER_TOOL, "/bin/ok")->count, 2);
	assert_int_equal(ledger_identity_find(l, "ns/sa")->edges_dropped, 3);
	assert_int_equal(ledger_add_edge(l, "ns/sa", &bad), -EINVAL);
	ledger_free(l);
}

/* ---- ledger: JSON view ---------------------------------------------------- */

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

static void test_json_edge_content(void **state)
{
	struct ledger *l = rich_ledger();
	json_object *j = ledger_to_json(l, "ai/llm-gateway", "egress"), *ids, *id, *edges, *e, *oc;

	assert_non_null(j);
	ids = get(j, "identities");
	assert_int_equal(json_object_array_length(ids), 1);
	id = json_object_array_get_idx(ids, 0);
	assert_string_equal(json_object_get_string(get(id, "identity")), "ai/llm-gateway");
	assert_int_equal(json_object_get_int64(get(id, "edges_dropped")), 0);
	edges = get(id, "edges");
	assert_int_equal(json_object_array_length(edges), 1);
	e = json_object_array_get_idx(edges, 0);
	assert_string_equal(json_object_get_string(get(e, "kind")), "egress");
	assert_string_equal(json_object_get_string(get(e, "object")), "tcp/104.18.7.192/443");
	assert_null(get(e, "category")); /* unknown: null */
	assert_string_equal(json_object_get_string(get(e, "dest_class")), "external");
	assert_string_equal(json_object_get_string(get(e, "name")), "api.openai.com");
	assert_string_equal(json_object_get_string(get(e, "proto")), "tcp");
	assert_int_equal(json_object_get_int(get(e, "port")), 443);
	oc = get(e, "outcomes");
	assert_int_equal(json_object_object_length(oc), 2);
	assert_int_equal(json_object_get_int64(get(oc, "established")), 5);
	assert_int_equal(json_object_get_int64(get(oc, "refused")), 2);
	assert_int_equal(json_object_get_int64(get(e, "outcomes_dropped")), 0);
	assert_int_equal(json_object_get_int64(get(e, "count")), 7);
	assert_int_equal(json_object_get_int64(get(e, "first_seen_ms")), 1700000000123);
	assert_int_equal(json_object_get_int64(get(e, "last_seen_ms")), 1700000020000);
	assert_string_equal(json_object_get_string(get(e, "first_seen")), "2023-11-14T22:13:20.123Z");
	assert_string_equal(json_object_get_string(get(e, "last_seen")), "2023-11-14T22:13:40.000Z");
	assert_int_equal(json_object_array_length(get(e, "executables")), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(get(e, "executables"), 0)),
			    "/usr/bin/curl");
	assert_int_equal(json_object_get_int64(get(e, "executables_dropped")), 0);
	assert_int_equal(json_object_array_length(get(e, "lineage")), 3);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(get(e, "lineage"), 2)),
			    "/usr/bin/python3.11");
	assert_false(json_object_get_boolean(get(e, "lineage_truncated")));
	assert_int_equal(json_object_array_length(get(e, "pods")), 2);
	assert_int_equal(json_object_get_int64(get(e, "pods_dropped")), 0);
	assert_int_equal(json_object_array_length(get(e, "images")), 1);
	assert_int_equal(json_object_get_int64(get(e, "images_dropped")), 0);
	assert_string_equal(json_object_get_string(get(e, "epoch")), "e1");
	assert_string_equal(json_object_get_string(get(e, "last_epoch")), "e2");
	/* totals are unfiltered */
	assert_int_equal(json_object_get_int64(get(j, "identity_count")), 3);
	assert_int_equal(json_object_get_int64(get(j, "edge_count")), 7);
	assert_int_equal(json_object_get_int64(get(j, "edges_dropped")), 2);
	assert_int_equal(json_object_get_int64(get(j, "identities_dropped")), 1);
	json_object_put(j);
	ledger_free(l);
}

static void test_json_unknown_times_are_null(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	struct ledger_obs o = obs("ns/sa", LEDGER_DNS, "a.example");
	json_object *j, *e;

	assert_int_equal(ledger_record(l, &o), 0);
	j = ledger_to_json(l, NULL, NULL);
	e = json_object_array_get_idx(get(json_object_array_get_idx(get(j, "identities"), 0), "edges"), 0);
	assert_null(get(e, "first_seen"));
	assert_null(get(e, "last_seen"));
	assert_null(get(e, "first_seen_ms"));
	assert_null(get(e, "epoch"));
	assert_int_equal(json_object_object_length(get(e, "outcomes")), 0);
	assert_int_equal(json_object_array_length(get(e, "lineage")), 0);
	json_object_put(j);
	ledger_free(l);
}

static void test_json_filters_and_order(void **state)
{
	struct ledger *l = rich_ledger();
	json_object *j, *ids, *edges;
	const char *want_kinds[] = { "tool", "egress", "credential", "dns" };

	/* everything, identities in name order */
	j = ledger_to_json(l, NULL, NULL);
	ids = get(j, "identities");
	assert_int_equal(json_object_array_length(ids), 3);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(ids, 0), "identity")),
			    "ai/llm-gateway");
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(ids, 1), "identity")),
			    "host/notebook");
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(ids, 2), "identity")),
			    "unknown//system.slice/x.scope");
	/* edges in kind order */
	edges = get(json_object_array_get_idx(ids, 1), "edges");
	assert_int_equal(json_object_array_length(edges), 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(json_object_get_string(get(json_object_array_get_idx(edges, i), "kind")),
				    want_kinds[i]);
	assert_int_equal(json_object_get_int64(get(json_object_array_get_idx(ids, 1), "edges_dropped")), 1);
	edges = get(json_object_array_get_idx(ids, 0), "edges");
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(edges, 0), "kind")), "secret");
	assert_int_equal(json_object_array_length(get(json_object_array_get_idx(edges, 0), "images")), 16);
	assert_int_equal(json_object_get_int64(get(json_object_array_get_idx(edges, 0), "images_dropped")), 2);
	json_object_put(j);

	/* kind filter: only identities that have one */
	j = ledger_to_json(l, NULL, "tool");
	ids = get(j, "identities");
	assert_int_equal(json_object_array_length(ids), 2);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(ids, 0), "identity")),
			    "host/notebook");
	assert_int_equal(json_object_array_length(get(json_object_array_get_idx(ids, 0), "edges")), 1);
	json_object_put(j);

	/* identity filter */
	j = ledger_to_json(l, "host/notebook", NULL);
	ids = get(j, "identities");
	assert_int_equal(json_object_array_length(ids), 1);
	assert_int_equal(json_object_array_length(get(json_object_array_get_idx(ids, 0), "edges")), 4);
	json_object_put(j);

	/* both, no match; an unknown identity */
	j = ledger_to_json(l, "ai/llm-gateway", "tool");
	assert_int_equal(json_object_array_length(get(j, "identities")), 0);
	json_object_put(j);
	j = ledger_to_json(l, "no/such", NULL);
	assert_int_equal(json_object_array_length(get(j, "identities")), 0);
	assert_int_equal(json_object_get_int64(get(j, "identity_count")), 3);
	json_object_put(j);

	/* an unknown kind is an error, not an empty answer */
	errno = 0;
	assert_null(ledger_to_json(l, NULL, "secrets"));
	assert_int_equal(errno, EINVAL);
	ledger_free(l);
}

/* ---- store: save and load ------------------------------------------------- */

static void test_save_load_round_trip(void **state)
{
	struct dir *d = *state;
	struct ledger *l = rich_ledger(), *back = ledger_new(0, 0);
	struct ledger_file_info info;
	char err[256] = "", tmp[160];
	struct stat st;
	int64_t before = (int64_t)time(NULL) * 1000;
	char *s1, *s2;

	assert_int_equal(ledger_save(l, "node-a", d->file, err, sizeof(err)), 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->file);
	assert_false(exists(tmp));
	assert_int_equal(stat(d->file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	memset(&info, 0, sizeof(info));
	assert_int_equal(ledger_load(back, d->file, &info, err, sizeof(err)), 0);
	assert_string_equal(info.node, "node-a");
	assert_true(info.saved_unix_ms >= before && info.saved_unix_ms <= before + 60000);
	assert_int_equal(info.file_len, (uint64_t)st.st_size);
	assert_true(info.raw_len > 0);
	assert_ledger_equal(l, back);
	/* the rich ledger exercised every field */
	assert_int_equal(ledger_edges_dropped(back), 2);
	assert_int_equal(ledger_identities_dropped(back), 1);
	assert_int_equal(ledger_identity_find(back, "host/notebook")->edges_dropped, 1);
	assert_int_equal(edge_of(back, "ai/llm-gateway", LEDGER_SECRET,
				 "/var/run/secrets/kubernetes.io/serviceaccount/token")->images->dropped, 2);
	assert_int_equal(edge_of(back, "ai/llm-gateway", LEDGER_EGRESS, "tcp/104.18.7.192/443")->n_lineage, 3);
	s1 = json_text(l, NULL, NULL);
	s2 = json_text(back, NULL, NULL);
	assert_string_equal(s1, s2);
	free(s1);
	free(s2);
	ledger_free(l);
	ledger_free(back);
}

static json_object *jget(json_object *o, const char *k)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, k, &v));
	return v;
}

/* A KEY=VALUE file's credentials: a sorted set of "KEY:FINGERPRINT",
 * unioned over observations and merges, bounded (the rest counted; the
 * file's own overflow kept as the largest seen, not summed per feed), and
 * kept through save and load and in the JSON. */
static void test_key_fingerprints(void **state)
{
	struct dir *d = *state;
	struct ledger *l = ledger_new(0, 0), *back = ledger_new(0, 0), *merged = ledger_new(0, 0);
	struct ledger_obs o = obs("ns/app", LEDGER_SECRET, "/app/.env");
	const char *first[] = { "OPENAI_API_KEY:00112233445566ff", "DB_URL:aabbccddeeff0011" };
	const char *second[] = { "OPENAI_API_KEY:00112233445566ff", "Z_TOKEN:1234123412341234" };
	const char *want[] = { "DB_URL:aabbccddeeff0011", "OPENAI_API_KEY:00112233445566ff", "Z_TOKEN:1234123412341234" };
	const char *many[LEDGER_MAX_KEY_FPS + 5];
	char names[LEDGER_MAX_KEY_FPS + 5][40];
	json_object *j, *e;
	char *text;

	o.category = "dotenv";
	o.key_fingerprints = first;
	o.n_key_fingerprints = 2;
	o.key_fingerprints_dropped = 3;
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(ledger_record(l, &o), 0); /* fed again: the same set, the same overflow */
	o.key_fingerprints = second;
	o.key_fingerprints_dropped = 1;
	assert_int_equal(ledger_record(l, &o), 0);
	assert_set(edge_of(l, "ns/app", LEDGER_SECRET, "/app/.env")->key_fingerprints, want, 3, 3);

	assert_int_equal(ledger_save(l, "n", d->file, NULL, 0), 0);
	assert_int_equal(ledger_load(back, d->file, NULL, NULL, 0), 0);
	assert_set(edge_of(back, "ns/app", LEDGER_SECRET, "/app/.env")->key_fingerprints, want, 3, 3);
	assert_int_equal(ledger_merge(merged, l), 0);
	assert_int_equal(ledger_merge(merged, back), 0);
	assert_set(edge_of(merged, "ns/app", LEDGER_SECRET, "/app/.env")->key_fingerprints, want, 3, 3);

	j = ledger_to_json(back, "ns/app", "secret");
	assert_non_null(j);
	e = json_object_array_get_idx(jget(json_object_array_get_idx(jget(j, "identities"), 0), "edges"), 0);
	text = strdup(json_object_to_json_string_ext(jget(e, "key_fingerprints"), JSON_C_TO_STRING_PLAIN));
	assert_string_equal(text, "[\"DB_URL:aabbccddeeff0011\",\"OPENAI_API_KEY:00112233445566ff\","
				  "\"Z_TOKEN:1234123412341234\"]");
	assert_int_equal(json_object_get_int64(jget(e, "key_fingerprints_dropped")), 3);
	free(text);
	json_object_put(j);

	/* the bound: what does not fit is counted */
	for (int i = 0; i < LEDGER_MAX_KEY_FPS + 5; i++) {
		snprintf(names[i], sizeof(names[i]), "K%03d:%016x", i, i);
		many[i] = names[i];
	}
	o.key_fingerprints = many;
	o.n_key_fingerprints = LEDGER_MAX_KEY_FPS + 5;
	o.key_fingerprints_dropped = 0;
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(edge_of(l, "ns/app", LEDGER_SECRET, "/app/.env")->key_fingerprints->n, LEDGER_MAX_KEY_FPS);
	assert_int_equal(edge_of(l, "ns/app", LEDGER_SECRET, "/app/.env")->key_fingerprints->dropped, 3 + 8);
	ledger_free(l);
	ledger_free(back);
	ledger_free(merged);
}

static void test_round_trip_keeps_bounded_flags(void **state)
{
	struct dir *d = *state;
	struct ledger *l = ledger_new(0, 0), *back = ledger_new(0, 0);
	struct ledger_obs o = obs("ns/sa", LEDGER_EGRESS, "udp/10.0.0.1/53");
	const char *lin[LEDGER_MAX_LINEAGE + 1];
	char names[LEDGER_MAX_OUTCOMES + 1][16];

	for (int i = 0; i <= LEDGER_MAX_OUTCOMES; i++) {
		snprintf(names[i], sizeof(names[i]), "o%d", i);
		o.outcome = names[i];
		assert_int_equal(ledger_record(l, &o), 0);
	}
	for (int i = 0; i <= LEDGER_MAX_LINEAGE; i++)
		lin[i] = "/bin/sh";
	o.lineage = lin;
	o.n_lineage = LEDGER_MAX_LINEAGE + 1;
	o.outcome = NULL;
	o.first_ms = -5; /* before 1970: kept as is */
	o.last_ms = INT64_MAX;
	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(ledger_save(l, NULL, d->file, NULL, 0), 0);
	assert_int_equal(ledger_load(back, d->file, NULL, NULL, 0), 0);
	assert_ledger_equal(l, back);
	assert_true(edge_of(back, "ns/sa", LEDGER_EGRESS, "udp/10.0.0.1/53")->lineage_truncated);
	assert_int_equal(edge_of(back, "ns/sa", LEDGER_EGRESS, "udp/10.0.0.1/53")->outcomes_dropped, 1);
	ledger_free(l);
	ledger_free(back);
}

static void test_round_trip_empty_ledger(void **state)
{
	struct dir *d = *state;
	struct ledger *l = ledger_new(0, 0), *back = ledger_new(0, 0);
	struct ledger_file_info info;

	assert_int_equal(ledger_save(l, "", d->file, NULL, 0), 0);
	assert_int_equal(ledger_load(back, d->file, &info, NULL, 0), 0);
	assert_int_equal(ledger_identities(back), 0);
	assert_string_equal(info.node, "");
	ledger_free(l);
	ledger_free(back);
}

static void test_load_unions_into_the_ledger(void **state)
{
	struct dir *d = *state;
	struct ledger *l = rich_ledger(), *back = ledger_new(0, 0), *small = ledger_new(1, 1);
	const struct ledger_edge *e;

	assert_int_equal(ledger_save(l, "n", d->file, NULL, 0), 0);
	assert_int_equal(ledger_load(back, d->file, NULL, NULL, 0), 0);
	assert_int_equal(ledger_load(back, d->file, NULL, NULL, 0), 0); /* twice: counts double, sets stay */
	e = edge_of(back, "ai/llm-gateway", LEDGER_EGRESS, "tcp/104.18.7.192/443");
	assert_int_equal(e->count, 14);
	assert_int_equal(outcome_of(e, "established"), 10);
	assert_int_equal(e->pods->n, 2);
	assert_int_equal(ledger_edges_dropped(back), 4);
	/* caps of the loading ledger apply, and refusals are counted */
	assert_int_equal(ledger_load(small, d->file, NULL, NULL, 0), 0);
	assert_int_equal(ledger_identities(small), 1);
	assert_int_equal(ledger_edges(small), 1);
	assert_int_equal(ledger_identities_dropped(small), 1 + 2);
	/* file's 2, a/gw's second edge, host/notebook's 4 and unknown's 1 */
	assert_int_equal(ledger_edges_dropped(small), 2 + 1 + 4 + 1);
	ledger_free(l);
	ledger_free(back);
	ledger_free(small);
}

static void test_load_missing_file(void **state)
{
	struct dir *d = *state;
	struct ledger *l = ledger_new(0, 0);
	char err[128] = "";

	assert_int_equal(ledger_load(l, d->file, NULL, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, ""); /* a fresh start is not an error */
	assert_int_equal(ledger_identities(l), 0);
	ledger_free(l);
}

static void test_load_directory_is_not_quarantined(void **state)
{
	struct dir *d = *state;
	struct ledger *l = ledger_new(0, 0);
	char err[256] = "";

	assert_int_equal(ledger_load(l, d->path, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	ledger_free(l);
}

static void test_zero_length_file(void **state)
{
	struct dir *d = *state;

	spit(d->file, "", 0);
	assert_bad(d->file);
}

static void test_truncated_files(void **state)
{
	struct dir *d = *state;
	struct ledger *l = rich_ledger();
	size_t len, cuts[12], n = 0;
	uint8_t *good;

	assert_int_equal(ledger_save(l, "n", d->file, NULL, 0), 0);
	good = slurp(d->file, &len);
	assert_true(len > LEDGER_HEADER_SIZE + 16);
	cuts[n++] = 1;
	cuts[n++] = 7;
	cuts[n++] = 8;
	cuts[n++] = 31;
	cuts[n++] = LEDGER_HEADER_SIZE - 1;
	cuts[n++] = LEDGER_HEADER_SIZE;
	cuts[n++] = LEDGER_HEADER_SIZE + 1;
	cuts[n++] = LEDGER_HEADER_SIZE + (len - LEDGER_HEADER_SIZE) / 2;
	cuts[n++] = len - 4; /* the zlib trailer */
	cuts[n++] = len - 1;
	for (size_t i = 0; i < n; i++) {
		spit(d->file, good, cuts[i]);
		assert_bad(d->file);
	}
	/* and trailing bytes after a complete file */
	good = realloc(good, len + 3);
	memcpy(good + len, "xyz", 3);
	spit(d->file, good, len + 3);
	assert_bad(d->file);
	free(good);
	ledger_free(l);
}

static void test_flipped_bytes(void **state)
{
	struct dir *d = *state;
	struct ledger *l = rich_ledger();
	size_t len, at[8], n = 0;
	uint8_t *good, *bad;

	assert_int_equal(ledger_save(l, "n", d->file, NULL, 0), 0);
	good = slurp(d->file, &len);
	at[n++] = LEDGER_HEADER_SIZE;                                   /* first payload byte */
	at[n++] = LEDGER_HEADER_SIZE + (len - LEDGER_HEADER_SIZE) / 2; /* middle */
	at[n++] = len - 1;                                             /* last */
	at[n++] = 8;                                                   /* format version */
	at[n++] = 12;                                                  /* reserved */
	at[n++] = 16;                                                  /* uncompressed length */
	at[n++] = 40;                                                  /* the digest itself */
	bad = malloc(len);
	for (size_t i = 0; i < n; i++) {
		memcpy(bad, good, len);
		bad[at[i]] ^= 0x01;
		spit(d->file, bad, len);
		assert_bad(d->file);
	}
	/* the untouched file still loads */
	spit(d->file, good, len);
	{
		struct ledger *back = ledger_new(0, 0);

		assert_int_equal(ledger_load(back, d->file, NULL, NULL, 0), 0);
		assert_ledger_equal(l, back);
		ledger_free(back);
	}
	free(bad);
	free(good);
	ledger_free(l);
}

static void test_bad_magic(void **state)
{
	struct dir *d = *state;
	struct ledger *l = rich_ledger();
	size_t len;
	uint8_t *buf;
	char err[256] = "";
	struct ledger *back = ledger_new(0, 0);

	assert_int_equal(ledger_save(l, "n", d->file, NULL, 0), 0);
	buf = slurp(d->file, &len);
	memcpy(buf, "REACHLG2", 8);
	reseal(buf, len); /* a valid digest does not rescue a wrong magic */
	spit(d->file, buf, len);
	assert_bad(d->file);
	assert_int_equal(ledger_load(back, d->file, NULL, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "magic"));
	/* some other file entirely */
	spit(d->file, "{\"identities\":[]}\n", 18);
	assert_bad(d->file);
	free(buf);
	ledger_free(back);
	ledger_free(l);
}

static void test_header_lying_about_lengths(void **state)
{
	struct dir *d = *state;
	struct ledger *l = rich_ledger();
	size_t len;
	uint8_t *good, *bad;
	uint64_t raw_len, z_len;

	assert_int_equal(ledger_save(l, "n", d->file, NULL, 0), 0);
	good = slurp(d->file, &len);
	bad = malloc(len);
	raw_len = 0;
	z_len = 0;
	for (int i = 7; i >= 0; i--) {
		raw_len = (raw_len << 8) | good[16 + i];
		z_len = (z_len << 8) | good[24 + i];
	}
	assert_int_equal(z_len, len - LEDGER_HEADER_SIZE);

	/* compressed length that does not match the file, digest not updated */
	memcpy(bad, good, len);
	put_le64(bad + 24, z_len - 1);
	spit(d->file, bad, len);
	assert_bad(d->file);
	/* ... and with the digest recomputed: still the wrong size */
	reseal(bad, len);
	spit(d->file, bad, len);
	assert_bad(d->file);
	put_le64(bad + 24, UINT64_MAX);
	reseal(bad, len);
	spit(d->file, bad, len);
	assert_bad(d->file);

	/* a consistent digest around a lying uncompressed length: the output
	 * is bounded by the declared length (a smaller one stops inflation) */
	uint64_t lies[] = { raw_len - 1, raw_len / 2, 1, raw_len + 1, 0, LEDGER_RAW_MAX + 1, UINT64_MAX };
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		memcpy(bad, good, len);
		put_le64(bad + 16, lies[i]);
		reseal(bad, len);
		spit(d->file, bad, len);
		assert_bad(d->file);
	}
	free(bad);
	free(good);
	ledger_free(l);
}

/* ---- streaming loads (several 64 KiB chunks, an identity over one) ------- */

/* n identities of 40 edges each, and one ("ns-big/sa") whose edges take
 * well over one chunk of the message. */
static struct ledger *big_ledger(size_t n)
{
	struct ledger *l = ledger_new(0, 0);
	char id[64], object[300];

	assert_non_null(l);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < 40; j++) {
			snprintf(id, sizeof(id), "ns-%zu/sa-%zu", i, i);
			snprintf(object, sizeof(object), "/var/run/secrets/app-%zu/token-%zu-%zu", j, i, j);
			struct ledger_obs o = obs(id, j % 2 ? LEDGER_SECRET : LEDGER_TOOL, object);

			assert_int_equal(ledger_record(l, &o), 0);
		}
	for (size_t j = 0; j < 1000; j++) {
		snprintf(object, sizeof(object), "/data/%0200zu", j);
		struct ledger_obs o = obs("ns-big/sa", LEDGER_SECRET, object);

		assert_int_equal(ledger_record(l, &o), 0);
	}
	return l;
}

/* The message of a file, inflated. */
static uint8_t *inflated(const uint8_t *file, size_t len, size_t *raw_len)
{
	uint64_t n = 0;
	uLongf out;
	uint8_t *raw;

	for (int i = 7; i >= 0; i--)
		n = (n << 8) | file[16 + i];
	raw = malloc(n + 4096);
	assert_non_null(raw);
	out = n;
	assert_int_equal(uncompress(raw, &out, file + LEDGER_HEADER_SIZE, len - LEDGER_HEADER_SIZE), Z_OK);
	assert_int_equal(out, n);
	*raw_len = n;
	return raw;
}

/* A load that must fail with -EBADMSG, leave the ledger as it was and give
 * a reason containing want. */
static void assert_bad_because(const char *path, const char *want)
{
	struct ledger *l = ledger_new(0, 0);
	struct ledger_obs o = obs("ns/sa", LEDGER_TOOL, "/bin/true");
	char err[512] = "";

	assert_int_equal(ledger_record(l, &o), 0);
	assert_int_equal(ledger_load(l, path, NULL, err, sizeof(err)), -EBADMSG);
	if (!strstr(err, want))
		fail_msg("reason \"%s\" does not say \"%s\"", err, want);
	assert_int_equal(ledger_identities(l), 1);
	assert_int_equal(ledger_edges(l), 1);
	assert_int_equal(edge_of(l, "ns/sa", LEDGER_TOOL, "/bin/true")->count, 1);
	ledger_free(l);
}

static void test_streaming_load_of_a_big_file(void **state)
{
	struct dir *d = *state;
	struct ledger *l = big_ledger(400), *back = ledger_new(0, 0), *back2 = ledger_new(0, 0);
	struct ledger_file_info info;
	uint8_t *file, *raw;
	size_t len, raw_len;

	assert_int_equal(ledger_save(l, "node-x", d->file, NULL, 0), 0);
	file = slurp(d->file, &len);
	raw = inflated(file, len, &raw_len);
	assert_true(raw_len > 8 * (64 << 10)); /* many inflate chunks, an identity over one */
	assert_int_equal(ledger_load(back, d->file, &info, NULL, 0), 0);
	assert_ledger_equal(l, back);
	assert_string_equal(info.node, "node-x");
	assert_int_equal(info.raw_len, raw_len);
	assert_int_equal(info.file_len, len);
	assert_int_equal(ledger_edges(back), 400 * 40 + 1000);
	/* the same from memory */
	assert_int_equal(ledger_load_image(back2, file, len, NULL, NULL, 0), 0);
	assert_ledger_equal(l, back2);
	/* a file compressed differently (level 1, not the agent's) loads the same */
	write_framed(d->file, raw, raw_len);
	ledger_free(back);
	back = ledger_new(0, 0);
	assert_int_equal(ledger_load(back, d->file, NULL, NULL, 0), 0);
	assert_ledger_equal(l, back);
	free(raw);
	free(file);
	ledger_free(back2);
	ledger_free(back);
	ledger_free(l);
}

static void test_corrupt_last_identity_changes_nothing(void **state)
{
	struct dir *d = *state;
	struct ledger *l = big_ledger(300);
	Reach__V1__Ledger m = REACH__V1__LEDGER__INIT;
	Reach__V1__IdentityReach id = REACH__V1__IDENTITY_REACH__INIT, *idp = &id;
	Reach__V1__Edge e = REACH__V1__EDGE__INIT, *ep = &e;
	uint8_t *file, *raw, tail[256];
	size_t len, raw_len, n;

	assert_int_equal(ledger_save(l, "n", d->file, NULL, 0), 0);
	file = slurp(d->file, &len);
	raw = inflated(file, len, &raw_len);
	/* one more identity after all the others (a repeated field may come
	 * anywhere), whose edge has no object: the 302nd identity, index 301 */
	m.n_identities = 1;
	m.identities = &idp;
	id.identity = "ns-last/sa";
	id.n_edges = 1;
	id.edges = &ep;
	e.kind = REACH__V1__EDGE_KIND__EDGE_KIND_TOOL;
	e.object = "";
	n = reach__v1__ledger__pack(&m, tail);
	memcpy(raw + raw_len, tail, n);
	write_framed(d->file, raw, raw_len + n);
	assert_bad_because(d->file, "identity 301 edge 0 has no object or kind");
	/* the same identity cut short: its length runs past the message */
	write_framed(d->file, raw, raw_len + n - 1);
	assert_bad_because(d->file, "protobuf decoding failed");
	/* one that does not decode: an identity holding a field of wire type 7 */
	tail[0] = (uint8_t)(protobuf_c_message_descriptor_get_field_by_name(&reach__v1__ledger__descriptor, "identities")
				    ->id << 3 | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
	tail[1] = 2;
	tail[2] = 0x0f;
	tail[3] = 0;
	memcpy(raw + raw_len, tail, 4);
	write_framed(d->file, raw, raw_len + 4);
	assert_bad_because(d->file, "protobuf decoding failed");
	/* and the whole file without it still loads */
	write_framed(d->file, raw, raw_len);
	{
		struct ledger *back = ledger_new(0, 0);

		assert_int_equal(ledger_load(back, d->file, NULL, NULL, 0), 0);
		assert_ledger_equal(l, back);
		ledger_free(back);
	}
	free(raw);
	free(file);
	ledger_free(l);
}

static void test_truncated_big_file_reasons(void **state)
{
	struct dir *d = *state;
	struct ledger *l = big_ledger(300);
	uint8_t *file;
	size_t len, cut;

	assert_int_equal(ledger_save(l, "n", d->file, NULL, 0), 0);
	file = slurp(d->file, &len);
	/* cut near the end */
	cut = len - 1000;
	spit(d->file, file, cut);
	assert_bad_because(d->file, "truncated?");
	/* a header made to agree with the cut (and resealed): inflation ends early */
	put_le64(file + 24, cut - LEDGER_HEADER_SIZE);
	reseal(file, cut);
	spit(d->file, file, cut);
	assert_bad_because(d->file, "decompression failed (zlib -3,");
	/* a flipped byte near the end: the checksum, before any inflating */
	free(file);
	assert_int_equal(ledger_save(l, "n", d->file, NULL, 0), 0);
	file = slurp(d->file, &len);
	file[len - 10] ^= 0x40;
	spit(d->file, file, len);
	assert_bad_because(d->file, "checksum mismatch");
	free(file);
	ledger_free(l);
}

static void test_zip_bomb_is_bounded(void **state)
{
	struct dir *d = *state;
	size_t big = 64 << 20;
	uint8_t *zeros = calloc(1, big), *file;
	uLongf z_len = compressBound(big);

	/* 64 MiB of zeros compress to ~64 KiB; the header claims 100 bytes */
	assert_non_null(zeros);
	file = calloc(1, LEDGER_HEADER_SIZE + z_len);
	assert_int_equal(compress2(file + LEDGER_HEADER_SIZE, &z_len, zeros, big, 9), Z_OK);
	memcpy(file, LEDGER_MAGIC, 8);
	file[8] = LEDGER_FORMAT_VERSION;
	put_le64(file + 16, 100);
	put_le64(file + 24, z_len);
	reseal(file, LEDGER_HEADER_SIZE + z_len);
	spit(d->file, file, LEDGER_HEADER_SIZE + z_len);
	assert_bad(d->file);
	free(file);
	free(zeros);
}

static void test_valid_frame_bad_content(void **state)
{
	struct dir *d = *state;
	Reach__V1__Ledger m = REACH__V1__LEDGER__INIT;
	Reach__V1__IdentityReach id = REACH__V1__IDENTITY_REACH__INIT, *idp = &id;
	Reach__V1__Edge e = REACH__V1__EDGE__INIT, e2 = REACH__V1__EDGE__INIT, *ep[2] = { &e, &e2 };
	uint8_t raw[4096];
	size_t n;
	struct ledger *l;
	const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x34 };

	/* not a protobuf message */
	write_framed(d->file, junk, sizeof(junk));
	assert_bad(d->file);

	m.version = 1;
	m.n_identities = 1;
	m.identities = &idp;
	id.identity = "ns/sa";
	id.n_edges = 1;
	id.edges = ep;
	e.kind = REACH__V1__EDGE_KIND__EDGE_KIND_TOOL;
	e.object = "/bin/sh";
	e.count = 3;

	/* content version 0 (missing) and from the future */
	m.version = 0;
	n = reach__v1__ledger__pack(&m, raw);
	write_framed(d->file, raw, n);
	assert_bad(d->file);
	m.version = LEDGER_CONTENT_VERSION + 1;
	n = reach__v1__ledger__pack(&m, raw);
	write_framed(d->file, raw, n);
	assert_bad(d->file);
	m.version = LEDGER_CONTENT_VERSION;

	/* an identity without name, an edge without object or kind */
	id.identity = "";
	n = reach__v1__ledger__pack(&m, raw);
	write_framed(d->file, raw, n);
	assert_bad(d->file);
	id.identity = "ns/sa";
	e.object = "";
	n = reach__v1__ledger__pack(&m, raw);
	write_framed(d->file, raw, n);
	assert_bad(d->file);
	e.object = "/bin/sh";
	e.kind = REACH__V1__EDGE_KIND__EDGE_KIND_UNSPECIFIED;
	n = reach__v1__ledger__pack(&m, raw);
	write_framed(d->file, raw, n);
	assert_bad(d->file);

	/* a kind from a newer agent is skipped and counted, the rest loads */
	e.kind = REACH__V1__EDGE_KIND__EDGE_KIND_TOOL;
	e2.kind = (Reach__V1__EdgeKind)42;
	e2.object = "future";
	id.n_edges = 2;
	n = reach__v1__ledger__pack(&m, raw);
	write_framed(d->file, raw, n);
	l = ledger_new(0, 0);
	assert_int_equal(ledger_load(l, d->file, NULL, NULL, 0), 0);
	assert_int_equal(ledger_edges(l), 1);
	assert_int_equal(edge_of(l, "ns/sa", LEDGER_TOOL, "/bin/sh")->count, 3);
	assert_int_equal(ledger_edges_dropped(l), 1);
	ledger_free(l);
}

static void test_quarantine_moves_the_file_aside(void **state)
{
	struct dir *d = *state;
	char moved[256] = "", moved2[256] = "", prefix[160];
	long long t0 = (long long)time(NULL);
	size_t len;
	uint8_t *buf;
	struct ledger *l = ledger_new(0, 0);

	spit(d->file, "garbage!", 8);
	assert_bad(d->file);
	assert_int_equal(ledger_quarantine(d->file, moved, sizeof(moved)), 0);
	assert_false(exists(d->file));
	assert_true(exists(moved));
	snprintf(prefix, sizeof(prefix), "%s.corrupt-", d->file);
	assert_int_equal(strncmp(moved, prefix, strlen(prefix)), 0);
	assert_true(strtoll(moved + strlen(prefix), NULL, 10) >= t0);
	buf = slurp(moved, &len);
	assert_int_equal(len, 8);
	assert_memory_equal(buf, "garbage!", 8);
	free(buf);
	/* the agent then starts clean */
	assert_int_equal(ledger_load(l, d->file, NULL, NULL, 0), -ENOENT);

	/* a second quarantine in the same second does not overwrite the first */
	spit(d->file, "garbage2", 8);
	assert_int_equal(ledger_quarantine(d->file, moved2, sizeof(moved2)), 0);
	assert_string_not_equal(moved, moved2);
	assert_true(exists(moved));
	assert_true(exists(moved2));
	buf = slurp(moved, &len);
	assert_memory_equal(buf, "garbage!", 8);
	free(buf);

	assert_int_equal(ledger_quarantine(d->file, NULL, 0), -ENOENT);
	ledger_free(l);
}

static void test_save_is_atomic(void **state)
{
	struct dir *d = *state;
	struct ledger *old = ledger_new(0, 0), *l = rich_ledger(), *back;
	struct ledger_obs o = obs("old/identity", LEDGER_TOOL, "/bin/old");
	char tmp[160], err[256] = "";
	size_t len, len2;
	uint8_t *before, *after;

	assert_int_equal(ledger_record(old, &o), 0);
	assert_int_equal(ledger_save(old, "n", d->file, NULL, 0), 0);
	before = slurp(d->file, &len);
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->file);

	/* the temporary file cannot be created: the old file stays intact */
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_int_equal(ledger_save(l, "n", d->file, err, sizeof(err)), -EISDIR);
	assert_non_null(strstr(err, "open"));
	assert_non_null(strstr(err, tmp));
	after = slurp(d->file, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(before, after, len);
	free(after);
	assert_int_equal(rmdir(tmp), 0);

	/* a symlink planted at the temporary name is not followed */
	assert_int_equal(symlink("victim", tmp), 0);
	assert_int_equal(ledger_save(l, "n", d->file, err, sizeof(err)), -ELOOP);
	assert_false(exists(tmp)); /* the failed save removed what was at tmp */
	{
		char victim[160];

		snprintf(victim, sizeof(victim), "%s/victim", d->path);
		assert_false(exists(victim));
	}
	after = slurp(d->file, &len2);
	assert_memory_equal(before, after, len);
	free(after);

	/* a stale temporary file from a crash is replaced, then renamed away */
	spit(tmp, "half-written", 12);
	assert_int_equal(ledger_save(l, "n", d->file, err, sizeof(err)), 0);
	assert_false(exists(tmp));
	back = ledger_new(0, 0);
	assert_int_equal(ledger_load(back, d->file, NULL, NULL, 0), 0);
	assert_ledger_equal(l, back); /* replaced, not merged */
	assert_null(ledger_identity_find(back, "old/identity"));
	ledger_free(back);

	/* a missing directory fails cleanly */
	{
		char nowhere[192];

		snprintf(nowhere, sizeof(nowhere), "%s/no/such/dir/ledger", d->path);
		assert_int_equal(ledger_save(l, "n", nowhere, err, sizeof(err)), -ENOENT);
	}
	assert_int_equal(ledger_save(l, "n", "", NULL, 0), -EINVAL);
	free(before);
	ledger_free(old);
	ledger_free(l);
}


/* ---- epoch history -------------------------------------------------------- */

static void record_in(struct ledger *l, const char *object, const char *epoch, int64_t first, int64_t at)
{
	struct ledger_obs o = obs("ai/gw", LEDGER_TOOL, object);

	o.epoch = epoch;
	o.first_ms = first; /* the edge's first sighting ever, as the feed sends it */
	o.last_ms = at;
	assert_int_equal(ledger_record(l, &o), 0);
}

/* Every epoch an edge was seen in, each with its own sighting times, oldest
 * first; the oldest go to the counted "earlier" bucket past the bound. */
static void test_epoch_history_per_edge(void **state)
{
	struct ledger *l = ledger_new(0, 0);
	const struct ledger_edge *e;
	char name[16];

	(void)state;
	record_in(l, "/bin/a", "v1", 1000, 1100);
	record_in(l, "/bin/a", "v2", 1000, 2100);
	record_in(l, "/bin/a", "v2", 1000, 2200);
	record_in(l, "/bin/a", "v3", 1000, 3100);
	record_in(l, "/bin/b", "v2", 2050, 2050);
	e = edge_of(l, "ai/gw", LEDGER_TOOL, "/bin/a");
	assert_int_equal(e->n_epochs, 3);
	assert_string_equal(e->epoch_names[0], "v1");
	assert_string_equal(e->epoch_names[1], "v2");
	assert_string_equal(e->epoch_names[2], "v3");
	/* v2's sightings, not the edge's first one in v1 */
	assert_int_equal(e->epoch_first_ms[1], 2100);
	assert_int_equal(e->epoch_last_ms[1], 2200);
	assert_int_equal(e->epochs_earlier, 0);
	assert_string_equal(e->epoch, "v1");
	assert_string_equal(e->last_epoch, "v3");
	assert_int_equal(ledger_edge_in_epoch(e, "v2", 2100), 1);
	e = edge_of(l, "ai/gw", LEDGER_TOOL, "/bin/b");
	assert_int_equal(ledger_edge_in_epoch(e, "v1", 1100), 0);
	assert_int_equal(ledger_edge_in_epoch(e, "v3", 3100), 0);
	assert_int_equal(ledger_edge_in_epoch(e, "v2", 2100), 1);

	/* v4..v10 on a: ten epochs, eight kept, two counted as earlier */
	for (int i = 4; i <= 10; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		record_in(l, "/bin/a", name, 1000, i * 1000 + 100);
	}
	e = edge_of(l, "ai/gw", LEDGER_TOOL, "/bin/a");
	assert_int_equal(e->n_epochs, LEDGER_MAX_EPOCHS);
	assert_int_equal(e->epochs_earlier, 2);
	assert_string_equal(e->epoch_names[0], "v3");
	assert_string_equal(e->epoch_names[LEDGER_MAX_EPOCHS - 1], "v10");
	/* v1 went to the bucket: unknown, never "absent" */
	assert_int_equal(ledger_edge_in_epoch(e, "v1", 1100), -1);
	/* an epoch that began after the oldest kept one and is not listed: absent */
	assert_int_equal(ledger_edge_in_epoch(e, "v3.5", 3500), 0);
	/* a sighting of an old epoch again does not grow the bucket twice */
	record_in(l, "/bin/a", "v5", 1000, 11000);
	assert_int_equal(e->n_epochs, LEDGER_MAX_EPOCHS);
	assert_int_equal(e->epochs_earlier, 2);
	assert_int_equal(e->epoch_last_ms[2], 11000);
	ledger_free(l);
}

/* An edge without a list (an older file, a caller's edge) gets one from
 * epoch and last_epoch; a merge unions the lists. */
static void test_epoch_history_from_old_edges_and_merge(void **state)
{
	struct ledger *l = ledger_new(0, 0), *m = ledger_new(0, 0);
	struct ledger_edge old = { 0 };
	const struct ledger_edge *e;
	json_object *doc, *ep;

	(void)state;
	old.kind = LEDGER_SECRET;
	old.object = "/etc/k";
	old.count = 1;
	old.first_ms = 500;
	old.last_ms = 900;
	old.epoch = "a";
	old.last_epoch = "c";
	assert_int_equal(ledger_add_edge(l, "ai/gw", &old), 0);
	e = edge_of(l, "ai/gw", LEDGER_SECRET, "/etc/k");
	assert_int_equal(e->n_epochs, 2);
	assert_string_equal(e->epoch_names[0], "a");
	assert_int_equal(e->epoch_first_ms[0], 500);
	assert_string_equal(e->epoch_names[1], "c");
	assert_int_equal(e->epoch_first_ms[1], 900);
	/* b in between, from another node's ledger */
	old.epoch = old.last_epoch = "b";
	old.first_ms = old.last_ms = 700;
	assert_int_equal(ledger_add_edge(m, "ai/gw", &old), 0);
	assert_int_equal(ledger_merge(l, m), 0);
	assert_int_equal(e->n_epochs, 3);
	assert_string_equal(e->epoch_names[1], "b");
	doc = ledger_edge_to_json(e, false);
	assert_true(json_object_object_get_ex(doc, "epochs", &ep));
	assert_int_equal(json_object_array_length(ep), 3);
	assert_string_equal(json_object_get_string(json_object_object_get(json_object_array_get_idx(ep, 1), "name")), "b");
	assert_int_equal(json_object_get_int64(json_object_object_get(json_object_array_get_idx(ep, 1), "first_seen_ms")),
			 700);
	assert_int_equal(json_object_get_int64(json_object_object_get(doc, "epochs_earlier")), 0);
	json_object_put(doc);
	ledger_free(m);
	ledger_free(l);
}

/* The lists survive the file. */
static void test_epoch_history_round_trip(void **state)
{
	struct dir *d = *state;
	struct ledger *l = ledger_new(0, 0), *back = ledger_new(0, 0);
	char name[16];

	for (int i = 1; i <= 10; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		record_in(l, "/bin/a", name, 1000, i * 1000);
	}
	record_in(l, "/bin/b", "v2", 2000, 2000);
	assert_int_equal(ledger_save(l, "n", d->file, NULL, 0), 0);
	assert_int_equal(ledger_load(back, d->file, NULL, NULL, 0), 0);
	assert_ledger_equal(l, back);
	assert_int_equal(edge_of(back, "ai/gw", LEDGER_TOOL, "/bin/a")->epochs_earlier, 2);
	ledger_free(back);
	ledger_free(l);
}

int main(void)
{
#define T(f) cmocka_unit_test(f)
#define D(f) cmocka_unit_test_setup_teardown(f, dir_setup, dir_teardown)
	const struct CMUnitTest tests[] = {
		T(test_kind_names),
		T(test_empty_ledger),
		T(test_first_record_keeps_every_field),
		T(test_unknown_strings_are_empty),
		T(test_record_rejects_invalid),
		T(test_union_counts_and_outcomes),
		T(test_union_times),
		T(test_union_sets_are_sorted_and_deduplicated),
		T(test_union_descriptions_fill_once),
		T(test_union_lineage_and_epochs_follow_first_and_last),
		T(test_sets_are_bounded_and_count_extra),
		T(test_edge_cap_counts_drops),
		T(test_identity_cap_counts_drops),
		T(test_order_is_identity_kind_object),
		T(test_merge_is_a_union),
		T(test_mcp_answers_and_effect_union),
		T(test_mcp_arg_shapes_union),
		T(test_merge_order_does_not_matter),
		T(test_merge_into_empty_copies),
		T(test_merge_respects_caps),
		T(test_merge_identity_validates_first),
		T(test_json_edge_content),
		T(test_json_unknown_times_are_null),
		T(test_json_filters_and_order),
		D(test_save_load_round_trip),
		D(test_round_trip_keeps_bounded_flags),
		D(test_key_fingerprints),
		D(test_round_trip_empty_ledger),
		D(test_load_unions_into_the_ledger),
		D(test_load_missing_file),
		D(test_load_directory_is_not_quarantined),
		D(test_zero_length_file),
		D(test_truncated_files),
		D(test_flipped_bytes),
		D(test_bad_magic),
		D(test_header_lying_about_lengths),
		D(test_zip_bomb_is_bounded),
		D(test_streaming_load_of_a_big_file),
		D(test_corrupt_last_identity_changes_nothing),
		D(test_truncated_big_file_reasons),
		D(test_valid_frame_bad_content),
		D(test_quarantine_moves_the_file_aside),
		D(test_save_is_atomic),
		T(test_epoch_history_per_edge),
		T(test_epoch_history_from_old_edges_and_merge),
		D(test_epoch_history_round_trip),
	};

	return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}
