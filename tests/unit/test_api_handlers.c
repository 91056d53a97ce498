/* The local API's handlers (agent/api_handlers.h) answering from a pipeline
 * fed synthetic records, with the daemon's view faked: no kernel, no root,
 * no sensor objects linked. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/api_handlers.h"
#include "agent/pipeline.h"
#include "common/hmap.h"
#include "identity/identity.h"
#include "policy/epochs.h"
#include "policy/policy.h"
#include "reach/coverage.h"
#include "reach/ledger.h"
#include "common/json.h"

#define CG 0xfeed000000000300ULL
#define UID 4343

static int no_lookup(void *ctx, const struct reach_dedup_key *key, struct reach_dedup_val *val)
{
	(void)ctx, (void)key, (void)val;
	return -ENOENT;
}

static const struct pipeline_dedup_ops dedup = { .lookup = no_lookup, .take = no_lookup };
static const char *const hooks[] = { "handle_exec", "handle_fork", NULL };

struct fx {
	struct pipeline p;
	struct api_handlers api;
	struct identity_resolver *resolver;
	struct ledger *ledger;
	struct policy_set policies;
	struct epoch_tracker *tracker;
	int64_t last_persist;
	uint64_t skipped;
	int views, verifies;
};

static void view(void *ctx, struct api_daemon_view *v)
{
	struct fx *f = ctx;

	f->views++;
	v->hooks = hooks;
	v->syscall_hooks = "dispatcher";
	v->have_losses = true;
	v->losses.counters[REACH_EV_EXEC][REACH_LOSS_RINGBUF_FULL] = 3;
	v->tls_files_probed = 2;
	v->uprobes_attached = 4;
	v->bpf_load_ms = 640;
}

static void verify(void *ctx)
{
	((struct fx *)ctx)->verifies++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(pipeline_init(&f->p, 0), 0);
	f->resolver = identity_resolver_new(NULL);
	assert_int_equal(identity_add_rule(f->resolver, "uid:4343 host/api"), 0);
	f->ledger = ledger_new(100, 100);
	f->tracker = epoch_tracker_new(1000);
	assert_non_null(f->tracker);
	f->p.resolver = f->resolver;
	f->p.ledger = f->ledger;
	f->p.dedup = &dedup;
	f->last_persist = 1234;
	f->skipped = 5;
	f->api = (struct api_handlers){
		.pipe = &f->p, .policies = &f->policies, .epoch_tracker = f->tracker, .node = "node-1",
		.monitor_all = true, .ledger_file = "/var/lib/reach/ledger.pb.z", .last_persist_unix_ms = &f->last_persist,
		.last_persist_error = "", .persists_skipped = &f->skipped, .daemon_view = view, .verify_epochs = verify,
		.ctx = f,
	};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pipeline_fini(&f->p);
	ledger_free(f->ledger);
	identity_resolver_free(f->resolver);
	epoch_tracker_free(f->tracker);
	policy_set_free(&f->policies);
	free(f);
	return 0;
}

static json_object *ask(struct fx *f, const char *json)
{
	json_object *req = json_tokener_parse(json), *reply;

	assert_non_null(req);
	reply = api_handle(&f->api, req);
	json_object_put(req);
	assert_non_null(reply);
	return reply;
}

static int64_t get_int(json_object *o, const char *path0, const char *path1)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, path0, &v));
	if (path1)
		assert_true(json_object_object_get_ex(v, path1, &v));
	return json_object_get_int64(v);
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

static void exec_record(struct fx *f, const char *file)
{
	struct reach_exec_event ev = { 0 };

	ev.hdr.kind = REACH_EV_EXEC;
	ev.hdr.size = sizeof(ev);
	ev.hdr.cgroup_id = CG;
	ev.hdr.tgid = ev.hdr.pid = 4190500;
	ev.hdr.ppid = 4190501;
	ev.hdr.uid = UID;
	ev.key.cgroup_id = CG;
	ev.key.kind = REACH_EV_EXEC;
	ev.key.hash = strlen(file);
	ev.exe_ino = 9;
	snprintf(ev.filename, sizeof(ev.filename), "%s", file);
	assert_int_equal(pipeline_on_event(&f->p, &ev, sizeof(ev)), 0);
}

static void test_status(void **state)
{
	struct fx *f = *state;
	json_object *o, *v;

	exec_record(f, "/usr/bin/env");
	o = ask(f, "{\"cmd\":\"status\"}");
	assert_string_equal(get_str(o, "node"), "node-1");
	assert_string_equal(get_str(o, "syscall_hooks"), "dispatcher");
	assert_int_equal(get_int(o, "bpf_load_ms", NULL), 640);
	assert_true(json_object_object_get_ex(o, "hooks", &v));
	assert_int_equal(json_object_array_length(v), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), "handle_exec");
	{
		json_object *l, *e;

		assert_true(json_object_object_get_ex(o, "losses", &l));
		assert_true(json_object_object_get_ex(l, "exec", &e));
		assert_int_equal(get_int(e, "ringbuf_full", NULL), 3);
	}
	assert_int_equal(get_int(o, "events", "exec"), 1);
	assert_int_equal(get_int(o, "tls_files_probed", NULL), 2);
	assert_int_equal(get_int(o, "uprobes_attached", NULL), 4);
	/* the handler refreshed and fed: the edge is in the ledger */
	assert_int_equal(get_int(o, "identities", NULL), 1);
	assert_int_equal(get_int(o, "edges", NULL), 1);
	assert_int_equal(get_int(o, "observed_edges", NULL), 1);
	assert_int_equal(get_int(o, "last_persist_unix_ms", NULL), 1234);
	assert_int_equal(get_int(o, "persists_skipped", NULL), 5);
	assert_string_equal(get_str(o, "ledger_file"), "/var/lib/reach/ledger.pb.z");
	assert_string_equal(get_str(o, "monitoring"), "all");
	assert_false(json_object_object_get_ex(o, "pods_monitored", &v));
	assert_false(json_object_object_get_ex(o, "kubernetes", &v));
	json_object_put(o);
}

static void test_epoch_reach_and_errors(void **state)
{
	struct fx *f = *state;
	json_object *o;

	exec_record(f, "/usr/bin/env");
	o = ask(f, "{\"cmd\":\"epoch\",\"identity\":\"host/api\",\"version\":\"v7\"}");
	assert_string_equal(get_str(o, "version"), "v7");
	json_object_put(o);
	assert_string_equal(hmap_get(f->p.epochs, "host/api"), "v7");

	o = ask(f, "{\"cmd\":\"epoch\",\"identity\":\"host/api\"}");
	assert_int_equal(get_int(o, "exit_code", NULL), 2);
	json_object_put(o);

	o = ask(f, "{\"cmd\":\"reach\"}");
	{
		json_object *ids, *id, *edges, *e;

		assert_true(json_object_object_get_ex(o, "identities", &ids));
		assert_int_equal(json_object_array_length(ids), 1);
		id = json_object_array_get_idx(ids, 0);
		assert_string_equal(get_str(id, "identity"), "host/api");
		assert_true(json_object_object_get_ex(id, "edges", &edges));
		assert_int_equal(json_object_array_length(edges), 1);
		e = json_object_array_get_idx(edges, 0);
		assert_string_equal(get_str(e, "kind"), "tool");
		assert_string_equal(get_str(e, "object"), "/usr/bin/env");
		/* fed before the epoch was declared: the host epoch of its root exec */
		assert_memory_equal(get_str(e, "epoch"), "env@", 4);
	}
	json_object_put(o);

	o = ask(f, "{\"cmd\":\"epochs\"}");
	assert_int_equal(f->verifies, 1);
	json_object_put(o);

	o = ask(f, "{\"cmd\":\"suggest\"}");
	assert_int_equal(get_int(o, "exit_code", NULL), 2);
	json_object_put(o);

	o = ask(f, "{\"cmd\":\"nope\"}");
	assert_non_null(strstr(get_str(o, "error"), "unknown command"));
	json_object_put(o);
}

/* Node-wide losses and tls-blind counts no longer reach the verifier as
 * health (they made every identity inconclusive): they travel in the
 * ledger's coverage records, per identity, which the verifier reads, and
 * status shows them. */
static void test_health(void **state)
{
	struct fx *f = *state;
	struct verify_input_health h;
	struct coverage c = { 0 };
	json_object *st, *cov, *ids;

	f->p.tls_blind_edges = 2;
	h = api_health(&f->api);
	assert_int_equal(h.events_lost, 0);
	assert_int_equal(h.tls_blind_processes, 0);
	assert_false(h.hooks_missing);

	coverage_add_loss(&c, REACH_EV_FILE_OPEN, REACH_LOSS_RINGBUF_FULL, 5, 1000);
	assert_int_equal(ledger_add_coverage(f->ledger, "host/api", &c), 0);
	st = ask(f, "{\"cmd\":\"status\"}");
	cov = json_get(st, "coverage", json_type_object);
	assert_non_null(cov);
	assert_int_equal(json_get_int(cov, "identities_with_gaps", 0), 1);
	ids = json_get(cov, "identities", json_type_array);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(ids, 0)), "host/api");
	assert_false(json_get_bool(json_get(cov, "node", json_type_object), "gaps", true));
	json_object_put(st);
	/* the verdict on the socket names the identity's gap */
	st = ask(f, "{\"cmd\":\"verify\",\"identity\":\"host/api\"}");
	assert_int_equal(json_get_int(st, "exit_code", 0), 2);
	assert_non_null(strstr(json_get_str(st, "text", ""), "coverage gaps of this identity: 5 events lost"));
	json_object_put(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch_reach_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
