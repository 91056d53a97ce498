/* Coverage records (reach/coverage.h) and how the ledger keeps them: per
 * identity and node-wide, merged, refused at the cap into the node's
 * record, saved in the ledger file and in its in-memory image (what
 * /v1/ledger serves), read back with names this build does not know kept
 * as gaps. */
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
#include <json-c/json.h>

#include "common/json.h"
#include "reach/coverage.h"
#include "reach/ledger.h"
#include "reach/ledger_store.h"
#include "testutil.h"

static void test_names_and_gap_table(void **state)
{
	(void)state;
	assert_string_equal(coverage_kind_name(REACH_EV_FILE_OPEN), "file_open");
	assert_string_equal(coverage_kind_name(0), "other");
	assert_string_equal(coverage_kind_name(REACH_EV__MAX), "unknown");
	assert_string_equal(coverage_reason_name(REACH_LOSS_READ_FAILED), "read_failed");
	assert_int_equal(coverage_kind_from_name("http"), REACH_EV_HTTP);
	assert_int_equal(coverage_kind_from_name("io_uring"), -1);
	assert_int_equal(coverage_reason_from_name("map_full"), REACH_LOSS_MAP_FULL);
	assert_int_equal(coverage_reason_from_name(NULL), -1);
	for (int k = 0; k < REACH_EV__MAX; k++) {
		assert_true(coverage_loss_is_gap(k, REACH_LOSS_RINGBUF_FULL));
		assert_true(coverage_loss_is_gap(k, REACH_LOSS_MAP_FULL));
	}
	/* a cut path or HTTP head can hide a secret or a credential */
	assert_true(coverage_loss_is_gap(REACH_EV_FILE_OPEN, REACH_LOSS_TRUNCATED));
	assert_true(coverage_loss_is_gap(REACH_EV_HTTP, REACH_LOSS_TRUNCATED));
	assert_true(coverage_loss_is_gap(REACH_EV_FILE_OPEN, REACH_LOSS_READ_FAILED));
	assert_true(coverage_loss_is_gap(REACH_EV_EGRESS, REACH_LOSS_READ_FAILED));
	/* a cut command line or DNS answer degrades detail, not reach */
	assert_false(coverage_loss_is_gap(REACH_EV_EXEC, REACH_LOSS_TRUNCATED));
	assert_false(coverage_loss_is_gap(REACH_EV_DNS, REACH_LOSS_TRUNCATED));
	assert_false(coverage_loss_is_gap(REACH_EV_DNS, REACH_LOSS_READ_FAILED));
	/* a file reached by io_uring or a received descriptor is a file open's
	 * twin; a road that could not be told is a road unseen */
	assert_string_equal(coverage_kind_name(REACH_EV_ROAD), "road");
	assert_string_equal(coverage_kind_name(REACH_EV_FILE_VIA), "file_via");
	assert_int_equal(coverage_kind_from_name("file_via"), REACH_EV_FILE_VIA);
	assert_true(coverage_loss_is_gap(REACH_EV_FILE_VIA, REACH_LOSS_TRUNCATED));
	assert_true(coverage_loss_is_gap(REACH_EV_FILE_VIA, REACH_LOSS_READ_FAILED));
	assert_true(coverage_loss_is_gap(REACH_EV_ROAD, REACH_LOSS_READ_FAILED));
}

static void test_losses_and_gaps(void **state)
{
	struct coverage c = { 0 };
	char text[512];

	(void)state;
	assert_true(coverage_is_empty(&c));
	assert_false(coverage_has_gaps(&c));
	assert_true(coverage_is_empty(NULL));
	assert_false(coverage_has_gaps(NULL));
	assert_int_equal(coverage_describe(&c, text, sizeof(text)), 0);
	assert_string_equal(text, "");

	/* detail only: recorded, no gap */
	coverage_add_loss(&c, REACH_EV_EXEC, REACH_LOSS_TRUNCATED, 4, 1000);
	assert_false(coverage_is_empty(&c));
	assert_false(coverage_has_gaps(&c));
	assert_int_equal(coverage_losses(&c), 4);
	assert_int_equal(coverage_gap_losses(&c), 0);
	assert_int_equal(c.first_gap_ms, 1000);

	coverage_add_loss(&c, REACH_EV_FILE_OPEN, REACH_LOSS_RINGBUF_FULL, 10, 3000);
	coverage_add_loss(&c, REACH_EV_FILE_OPEN, REACH_LOSS_RINGBUF_FULL, 5, 2000);
	coverage_add_loss(&c, REACH_EV_EXEC, REACH_LOSS_READ_FAILED, 2, 0);
	coverage_add_loss(&c, 99, 0, 3, 0);                       /* a kind this build does not know */
	coverage_add_loss(&c, REACH_EV_DNS, 17, 1, 0);            /* a reason it does not know */
	coverage_add_loss(&c, REACH_EV_HTTP, REACH_LOSS_MAP_FULL, 0, 9000); /* nothing */
	assert_int_equal(c.losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 15);
	assert_int_equal(c.losses_unknown, 4);
	assert_int_equal(coverage_losses(&c), 4 + 15 + 2 + 4);
	assert_int_equal(coverage_gap_losses(&c), 15 + 2 + 4);
	assert_true(coverage_has_gaps(&c));
	assert_int_equal(c.first_gap_ms, 1000);
	assert_int_equal(c.last_gap_ms, 3000);
	c.edges_unrecorded = 7;
	assert_int_equal(coverage_gap_losses(&c), 15 + 2 + 4 + 7);
	coverage_describe(&c, text, sizeof(text));
	assert_string_equal(text, "21 events lost (file_open ringbuf_full 15, exec read_failed 2, of unknown kinds 4); "
				  "7 edges the agent could not record (observed model full)");
	/* a short buffer: cut, NUL-terminated, the wanted length returned */
	assert_int_equal(coverage_describe(&c, text, 10), (int)strlen("21 events lost (file_open ringbuf_full 15, exec "
								      "read_failed 2, of unknown kinds 4); 7 edges the "
								      "agent could not record (observed model full)"));
	assert_string_equal(text, "21 events");
}

static void test_roads_and_hooks(void **state)
{
	struct coverage c = { 0 }, d = { 0 };
	char text[1024], name[32];

	(void)state;
	assert_int_equal(coverage_add_road(&c, "", "x", 1, 0), -EINVAL);
	assert_int_equal(coverage_add_road(&c, NULL, "x", 1, 0), -EINVAL);
	assert_int_equal(coverage_add_road(&c, "tls-blind", "/usr/bin/b: Go crypto/tls", 1, 500), 0);
	assert_int_equal(coverage_add_road(&c, "tls-blind", "/usr/bin/a: rustls", 2, 100), 0);
	assert_int_equal(coverage_add_road(&c, "tls-blind", "/usr/bin/b: Go crypto/tls", 1, 700), 0);
	assert_int_equal(c.n_roads, 2);
	assert_string_equal(c.roads[0].detail, "/usr/bin/a: rustls"); /* sorted */
	assert_int_equal(c.roads[1].count, 2);
	assert_int_equal(c.roads[1].last_ms, 700);
	assert_true(coverage_has_gaps(&c));
	assert_int_equal(coverage_blind_roads(&c), 4);
	assert_int_equal(coverage_gap_losses(&c), 0);
	coverage_describe(&c, text, sizeof(text));
	assert_string_equal(text, "blind road tls-blind: /usr/bin/a: rustls (x2); blind road tls-blind: /usr/bin/b: Go "
				  "crypto/tls (x2)");

	/* the set is bounded; what does not fit is counted, still a gap */
	for (int i = 0; i < COVERAGE_MAX_ROADS; i++) {
		snprintf(name, sizeof(name), "road-%02d", i);
		coverage_add_road(&d, name, "", 1, 0);
	}
	assert_int_equal(d.n_roads, COVERAGE_MAX_ROADS);
	assert_int_equal(coverage_add_road(&d, "zz", "", 3, 0), -ENOSPC);
	assert_int_equal(d.roads_dropped, 3);
	assert_int_equal(coverage_blind_roads(&d), COVERAGE_MAX_ROADS + 3);

	assert_int_equal(coverage_add_hook_missing(&c, ""), -EINVAL);
	assert_int_equal(coverage_add_hook_missing(&c, "tp_btf/io_uring_submit_req"), 0);
	assert_int_equal(coverage_add_hook_missing(&c, "tp_btf/io_uring_complete"), 0);
	assert_int_equal(coverage_add_hook_missing(&c, "tp_btf/io_uring_complete"), 0);
	assert_int_equal(c.n_hooks_missing, 2);
	assert_string_equal(c.hooks_missing[0], "tp_btf/io_uring_complete");
	memset(&d, 0, sizeof(d));
	for (int i = 0; i < COVERAGE_MAX_HOOKS; i++) {
		snprintf(name, sizeof(name), "hook-%d", i);
		assert_int_equal(coverage_add_hook_missing(&d, name), 0);
	}
	assert_int_equal(coverage_add_hook_missing(&d, "one-more"), -ENOSPC);
	assert_int_equal(d.hooks_dropped, 1);
	assert_true(coverage_has_gaps(&d));
	coverage_describe(&c, text, sizeof(text));
	assert_non_null(strstr(text, "; hooks missing: tp_btf/io_uring_complete, tp_btf/io_uring_submit_req"));
}

static void test_union(void **state)
{
	struct coverage a = { 0 }, b = { 0 };

	(void)state;
	coverage_add_loss(&a, REACH_EV_EGRESS, REACH_LOSS_RINGBUF_FULL, 3, 2000);
	coverage_add_road(&a, "tls-blind", "x", 1, 2000);
	coverage_add_loss(&b, REACH_EV_EGRESS, REACH_LOSS_RINGBUF_FULL, 4, 1000);
	coverage_add_loss(&b, REACH_EV_HTTP, REACH_LOSS_TRUNCATED, 1, 5000);
	coverage_add_road(&b, "tls-blind", "x", 2, 3000);
	coverage_add_road(&b, "io_uring", "SENDMSG", 1, 3000);
	coverage_add_hook_missing(&b, "h");
	b.edges_unrecorded = 2;
	b.losses_unknown = 1;
	b.roads_dropped = 5;
	coverage_add(&a, &b);
	coverage_add(&a, NULL);
	coverage_add(&a, &a); /* never doubles itself */
	assert_int_equal(a.losses[REACH_EV_EGRESS][REACH_LOSS_RINGBUF_FULL], 7);
	assert_int_equal(a.losses[REACH_EV_HTTP][REACH_LOSS_TRUNCATED], 1);
	assert_int_equal(a.n_roads, 2);
	assert_string_equal(a.roads[0].road, "io_uring");
	assert_int_equal(a.roads[1].count, 3);
	assert_int_equal(a.roads[1].last_ms, 3000);
	assert_int_equal(a.roads_dropped, 5);
	assert_int_equal(a.n_hooks_missing, 1);
	assert_int_equal(a.edges_unrecorded, 2);
	assert_int_equal(a.losses_unknown, 1);
	assert_int_equal(a.first_gap_ms, 1000);
	assert_int_equal(a.last_gap_ms, 5000);
	/* saturating, never wrapping into "nothing lost" */
	b = (struct coverage){ 0 };
	b.losses[REACH_EV_EXEC][REACH_LOSS_RINGBUF_FULL] = UINT64_MAX - 1;
	coverage_add(&a, &b);
	coverage_add(&a, &b);
	assert_true(a.losses[REACH_EV_EXEC][REACH_LOSS_RINGBUF_FULL] == UINT64_MAX);
}

static void test_json(void **state)
{
	struct coverage c = { 0 };
	json_object *o, *empty = coverage_to_json(NULL), *l;

	(void)state;
	assert_non_null(empty);
	assert_false(json_get_bool(empty, "gaps", true));
	assert_string_equal(json_get_str(empty, "summary", "x"), "");
	assert_int_equal(json_object_object_length(json_get(empty, "losses", json_type_object)), 0);
	json_object_put(empty);

	coverage_add_loss(&c, REACH_EV_FILE_OPEN, REACH_LOSS_RINGBUF_FULL, 12, 1000);
	coverage_add_loss(&c, REACH_EV_DNS, REACH_LOSS_TRUNCATED, 1, 1000);
	coverage_add_road(&c, "tls-blind", "/app: Go", 1, 1500);
	o = coverage_to_json(&c);
	assert_non_null(o);
	assert_true(json_get_bool(o, "gaps", false));
	assert_int_equal(json_get_int(o, "gap_losses", 0), 12);
	assert_int_equal(json_get_int(o, "losses_total", 0), 13);
	l = json_get(o, "losses", json_type_object);
	assert_int_equal(json_get_int(json_get(l, "file_open", json_type_object), "ringbuf_full", 0), 12);
	assert_int_equal(json_get_int(json_get(l, "dns", json_type_object), "truncated", 0), 1);
	assert_null(json_get(l, "exec", json_type_object));
	assert_int_equal(json_object_array_length(json_get(o, "blind_roads", json_type_array)), 1);
	assert_int_equal(json_get_int(o, "first_gap_ms", 0), 1000);
	assert_int_equal(json_get_int(o, "last_gap_ms", 0), 1500);
	assert_string_equal(json_get_str(o, "summary", ""),
			    "12 events lost (file_open ringbuf_full 12); blind road tls-blind: /app: Go (x1)");
	json_object_put(o);
}

/* ---- the ledger ---------------------------------------------------------- */

static void obs(struct ledger *l, const char *identity, const char *object)
{
	struct ledger_obs o = { .identity = identity, .kind = LEDGER_SECRET, .object = object, .count_delta = 1,
				.first_ms = 1000, .last_ms = 2000, .executable = "/usr/bin/cat" };

	assert_int_equal(ledger_record(l, &o), 0);
}

static struct coverage flood(uint64_t n)
{
	struct coverage c = { 0 };

	coverage_add_loss(&c, REACH_EV_FILE_OPEN, REACH_LOSS_RINGBUF_FULL, n, 1000);
	return c;
}

static void test_ledger_records(void **state)
{
	struct ledger *l = ledger_new(2, 0), *m = ledger_new(0, 0);
	struct coverage a = flood(100), none = { 0 }, un = flood(7);
	const struct ledger_identity *id;

	(void)state;
	assert_null(ledger_node_coverage(l));
	assert_int_equal(ledger_add_coverage(l, "", &a), -EINVAL);
	assert_int_equal(ledger_add_coverage(l, "host/a", NULL), -EINVAL);
	/* an empty record makes nothing, not even the identity */
	assert_int_equal(ledger_add_coverage(l, "host/a", &none), 0);
	assert_int_equal(ledger_identities(l), 0);
	/* an identity that lost everything it did exists through its record */
	assert_int_equal(ledger_add_coverage(l, "host/a", &a), 0);
	assert_int_equal(ledger_add_coverage(l, "host/a", &a), 0);
	id = ledger_identity_find(l, "host/a");
	assert_non_null(id);
	assert_int_equal(id->n_edges, 0);
	assert_int_equal(id->coverage->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 200);
	obs(l, "host/b", "/k/b.key");
	assert_null(ledger_identity_find(l, "host/b")->coverage);
	/* the identity cap refuses host/c: its gap goes to the node's record */
	assert_int_equal(ledger_add_coverage(l, "host/c", &un), -ENOSPC);
	assert_null(ledger_identity_find(l, "host/c"));
	assert_non_null(ledger_node_coverage(l));
	assert_int_equal(ledger_node_coverage(l)->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 7);
	assert_int_equal(ledger_identities_dropped(l), 0); /* moved, not dropped */

	/* merging sums both records, twice is twice */
	assert_int_equal(ledger_merge(m, l), 0);
	assert_int_equal(ledger_merge(m, l), 0);
	assert_int_equal(ledger_identity_find(m, "host/a")->coverage->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL],
			 400);
	assert_null(ledger_identity_find(m, "host/b")->coverage);
	assert_int_equal(ledger_node_coverage(m)->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 14);
	{
		json_object *doc = ledger_to_json(m, NULL, NULL), *ids = json_get(doc, "identities", json_type_array);

		assert_non_null(doc);
		assert_int_equal(json_object_array_length(ids), 2);
		assert_true(json_get_bool(json_get(json_object_array_get_idx(ids, 0), "coverage", json_type_object),
					  "gaps", false));
		assert_false(json_get_bool(json_get(json_object_array_get_idx(ids, 1), "coverage", json_type_object),
					   "gaps", true));
		assert_int_equal(json_get_int(json_get(doc, "node_coverage", json_type_object), "gap_losses", 0), 14);
		json_object_put(doc);
	}
	ledger_free(l);
	ledger_free(m);

	/* merged into a ledger at its identity cap: the identity's edges are
	 * refused (counted once), its gap lands in the node's record */
	l = ledger_new(0, 0);
	m = ledger_new(1, 0);
	obs(m, "host/first", "/k/f.key");
	obs(l, "host/x", "/k/x.key");
	assert_int_equal(ledger_add_coverage(l, "host/x", &a), 0);
	assert_int_equal(ledger_merge(m, l), -ENOSPC);
	assert_null(ledger_identity_find(m, "host/x"));
	assert_int_equal(ledger_identities_dropped(m), 1);
	assert_int_equal(ledger_node_coverage(m)->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 100);
	ledger_free(l);
	ledger_free(m);
}

/* One record per epoch, sorted, summed in id->coverage; what a verdict of
 * an epoch reads; more epochs than kept fold into the epoch-less record. */
static void test_ledger_epochs(void **state)
{
	struct ledger *l = ledger_new(0, 0), *m = ledger_new(0, 0), *back = ledger_new(0, 0);
	struct coverage c = flood(1), sum;
	const struct ledger_identity *id;
	char dir[256], path[300], err[512] = "";

	(void)state;
	snprintf(c.epoch, sizeof(c.epoch), "v2");
	assert_int_equal(ledger_add_coverage(l, "host/a", &c), 0);
	c = flood(10);
	snprintf(c.epoch, sizeof(c.epoch), "v1");
	assert_int_equal(ledger_add_coverage(l, "host/a", &c), 0);
	assert_int_equal(ledger_add_coverage(l, "host/a", &c), 0);
	c = flood(100); /* epoch unknown */
	assert_int_equal(ledger_add_coverage(l, "host/a", &c), 0);
	id = ledger_identity_find(l, "host/a");
	assert_int_equal(id->n_by_epoch, 3);
	assert_string_equal(id->by_epoch[0]->epoch, "");
	assert_string_equal(id->by_epoch[1]->epoch, "v1");
	assert_int_equal(id->by_epoch[1]->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 20);
	assert_string_equal(id->by_epoch[2]->epoch, "v2");
	assert_int_equal(id->coverage->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 121);
	assert_string_equal(id->coverage->epoch, "");
	assert_true(ledger_coverage_of_epoch(id, "v2", &sum));
	assert_int_equal(sum.losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 101); /* v2 and unknown */
	assert_true(ledger_coverage_of_epoch(id, "v9", &sum));
	assert_int_equal(sum.losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 100);
	assert_true(ledger_coverage_of_epoch(id, NULL, &sum));
	assert_int_equal(sum.losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 121);
	assert_false(ledger_coverage_of_epoch(NULL, "v1", &sum));
	assert_true(coverage_is_empty(&sum));

	/* merged and saved: the same records, epochs kept */
	assert_int_equal(ledger_merge(m, l), 0);
	assert_int_equal(ledger_identity_find(m, "host/a")->n_by_epoch, 3);
	assert_int_equal(make_temp_dir(dir, sizeof(dir), "test_coverage_epochs"), 0);
	snprintf(path, sizeof(path), "%s/ledger.pb.z", dir);
	assert_int_equal(ledger_save(m, "n", path, err, sizeof(err)), 0);
	assert_int_equal(ledger_load(back, path, NULL, err, sizeof(err)), 0);
	id = ledger_identity_find(back, "host/a");
	assert_int_equal(id->n_by_epoch, 3);
	assert_string_equal(id->by_epoch[1]->epoch, "v1");
	assert_int_equal(id->by_epoch[1]->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 20);
	assert_int_equal(id->coverage->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 121);
	{
		json_object *doc = ledger_to_json(back, "host/a", NULL);
		json_object *one = json_object_array_get_idx(json_get(doc, "identities", json_type_array), 0);
		json_object *by = json_get(one, "coverage_by_epoch", json_type_array);

		assert_int_equal(json_object_array_length(by), 3);
		assert_null(json_get(json_object_array_get_idx(by, 0), "epoch", json_type_string)); /* "" is null */
		assert_string_equal(json_get_str(json_object_array_get_idx(by, 2), "epoch", ""), "v2");
		assert_int_equal(json_get_int(json_get(one, "coverage", json_type_object), "gap_losses", 0), 121);
		json_object_put(doc);
	}
	assert_int_equal(remove_tree(dir), 0);

	/* past the bound, a new epoch's gaps go to the epoch-less record:
	 * judged in every epoch, never in none */
	for (int i = 0; i < LEDGER_MAX_COVERAGE_EPOCHS + 2; i++) {
		c = flood(1);
		snprintf(c.epoch, sizeof(c.epoch), "e%02d", i);
		assert_int_equal(ledger_add_coverage(l, "host/many", &c), 0);
	}
	id = ledger_identity_find(l, "host/many");
	assert_int_equal(id->n_by_epoch, LEDGER_MAX_COVERAGE_EPOCHS + 1); /* the named ones and "" */
	assert_string_equal(id->by_epoch[0]->epoch, "");
	assert_int_equal(id->by_epoch[0]->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 2);
	assert_int_equal(id->coverage->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], LEDGER_MAX_COVERAGE_EPOCHS + 2);
	/* a known epoch still lands in its own record */
	c = flood(5);
	snprintf(c.epoch, sizeof(c.epoch), "e00");
	assert_int_equal(ledger_add_coverage(l, "host/many", &c), 0);
	assert_int_equal(id->n_by_epoch, LEDGER_MAX_COVERAGE_EPOCHS + 1);
	assert_true(ledger_coverage_of_epoch(id, "e00", &sum));
	assert_int_equal(sum.losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 2 + 1 + 5);
	ledger_free(l);
	ledger_free(m);
	ledger_free(back);
}

/* What the file and /v1/ledger's image carry back: the same records. */
static void check_loaded(const struct ledger *back)
{
	const struct ledger_identity *a = ledger_identity_find(back, "host/a"), *b = ledger_identity_find(back, "host/b");
	const struct coverage *n = ledger_node_coverage(back);

	assert_non_null(a);
	assert_non_null(a->coverage);
	assert_int_equal(a->coverage->losses[REACH_EV_FILE_OPEN][REACH_LOSS_RINGBUF_FULL], 8351);
	assert_int_equal(a->coverage->losses[REACH_EV_EXEC][REACH_LOSS_TRUNCATED], 3);
	assert_int_equal(a->coverage->edges_unrecorded, 2);
	assert_int_equal(a->coverage->n_roads, 1);
	assert_string_equal(a->coverage->roads[0].road, "tls-blind");
	assert_string_equal(a->coverage->roads[0].detail, "/usr/local/bin/app: Go crypto/tls");
	assert_int_equal(a->coverage->roads[0].count, 2);
	assert_int_equal(a->coverage->roads[0].last_ms, 4000);
	assert_int_equal(a->coverage->losses_unknown, 5);
	assert_int_equal(a->coverage->first_gap_ms, 1000);
	assert_int_equal(a->coverage->last_gap_ms, 4000);
	assert_int_equal(a->n_edges, 1);
	assert_non_null(b);
	assert_null(b->coverage);
	assert_non_null(n);
	assert_int_equal(n->losses[REACH_EV_EGRESS][REACH_LOSS_RINGBUF_FULL], 9);
	assert_int_equal(n->n_hooks_missing, 1);
	assert_string_equal(n->hooks_missing[0], "tp_btf/io_uring_submit_req");
}

static void test_ledger_file_roundtrip(void **state)
{
	struct ledger *l = ledger_new(0, 0), *back = ledger_new(0, 0), *img = ledger_new(0, 0);
	struct coverage a = flood(8351), node = { 0 };
	char dir[256], path[300], err[512] = "";
	uint8_t *image = NULL;
	size_t image_len = 0;

	(void)state;
	assert_int_equal(make_temp_dir(dir, sizeof(dir), "test_coverage"), 0);
	snprintf(path, sizeof(path), "%s/ledger.pb.z", dir);
	coverage_add_loss(&a, REACH_EV_EXEC, REACH_LOSS_TRUNCATED, 3, 0);
	coverage_add_loss(&a, 42, 42, 5, 0);
	coverage_add_road(&a, "tls-blind", "/usr/local/bin/app: Go crypto/tls", 2, 4000);
	a.edges_unrecorded = 2;
	obs(l, "host/a", "/k/a.key");
	obs(l, "host/b", "/k/b.key");
	assert_int_equal(ledger_add_coverage(l, "host/a", &a), 0);
	coverage_add_loss(&node, REACH_EV_EGRESS, REACH_LOSS_RINGBUF_FULL, 9, 0);
	coverage_add_hook_missing(&node, "tp_btf/io_uring_submit_req");
	assert_int_equal(ledger_add_node_coverage(l, &node), 0);

	assert_int_equal(ledger_save(l, "node-1", path, err, sizeof(err)), 0);
	assert_int_equal(ledger_load(back, path, NULL, err, sizeof(err)), 0);
	check_loaded(back);
	assert_int_equal(ledger_encode_image(l, "node-1", &image, &image_len, err, sizeof(err)), 0);
	assert_int_equal(ledger_load_image(img, image, image_len, NULL, err, sizeof(err)), 0);
	check_loaded(img);
	free(image);
	{
		/* the two-step save (the agent's: snapshot on the loop, write in
		 * the writer thread) and the image it hands to /v1/ledger */
		struct ledger_snapshot *snap = NULL;
		struct ledger *viasnap = ledger_new(0, 0);

		assert_int_equal(ledger_snapshot_take(l, "node-1", &snap, err, sizeof(err)), 0);
		assert_int_equal(ledger_snapshot_save_image(snap, path, &image, &image_len, err, sizeof(err)), 0);
		assert_int_equal(ledger_load_image(viasnap, image, image_len, NULL, err, sizeof(err)), 0);
		check_loaded(viasnap);
		free(image);
		ledger_free(viasnap);
	}
	ledger_free(l);
	ledger_free(back);
	ledger_free(img);
	assert_int_equal(remove_tree(dir), 0);
}

/* A record from a newer agent, with names this build does not know: kept
 * as gaps, never dropped. */
static void test_pb_unknown_names(void **state)
{
	Reach__V1__CoverageLoss l1 = REACH__V1__COVERAGE_LOSS__INIT, l2 = REACH__V1__COVERAGE_LOSS__INIT;
	Reach__V1__CoverageLoss *losses[] = { &l1, &l2 };
	Reach__V1__CoverageRoad r = REACH__V1__COVERAGE_ROAD__INIT, *roads[] = { &r };
	Reach__V1__CoverageRecord rec = REACH__V1__COVERAGE_RECORD__INIT, *again = NULL;
	struct coverage c, d;

	(void)state;
	l1.kind = (char *)"io_uring";
	l1.reason = (char *)"ringbuf_full";
	l1.count = 6;
	l2.kind = (char *)"file_open";
	l2.reason = (char *)"read_failed";
	l2.count = 2;
	rec.n_losses = 2;
	rec.losses = losses;
	r.road = (char *)"";
	r.count = 1;
	rec.n_blind_roads = 1;
	rec.blind_roads = roads;
	coverage_record_from_pb(&rec, &c);
	assert_int_equal(c.losses_unknown, 6);
	assert_int_equal(c.losses[REACH_EV_FILE_OPEN][REACH_LOSS_READ_FAILED], 2);
	assert_int_equal(c.n_roads, 1);
	assert_string_equal(c.roads[0].road, "unnamed");
	assert_true(coverage_has_gaps(&c));
	assert_int_equal(coverage_gap_losses(&c), 8);
	/* and back: the unknown ones as "unknown", still gaps on the next read */
	assert_int_equal(coverage_record_to_pb(&c, &again), 0);
	assert_non_null(again);
	coverage_record_from_pb(again, &d);
	assert_int_equal(d.losses_unknown, 6);
	assert_int_equal(coverage_gap_losses(&d), 8);
	free(again);
	/* an epoch too long to keep whole is judged in every epoch, never none */
	{
		char longer[COVERAGE_EPOCH_LEN + 10];

		memset(longer, 'e', sizeof(longer) - 1);
		longer[sizeof(longer) - 1] = '\0';
		rec.epoch = longer;
		coverage_record_from_pb(&rec, &d);
		assert_string_equal(d.epoch, "");
		rec.epoch = (char *)"v3";
		coverage_record_from_pb(&rec, &d);
		assert_string_equal(d.epoch, "v3");
	}
	assert_int_equal(coverage_record_to_pb(NULL, &again), 0);
	assert_null(again);
	coverage_record_from_pb(NULL, &d);
	assert_true(coverage_is_empty(&d));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_gap_table), cmocka_unit_test(test_losses_and_gaps),
		cmocka_unit_test(test_roads_and_hooks),     cmocka_unit_test(test_union),
		cmocka_unit_test(test_json),                cmocka_unit_test(test_ledger_records),
		cmocka_unit_test(test_ledger_file_roundtrip), cmocka_unit_test(test_pb_unknown_names),
		cmocka_unit_test(test_ledger_epochs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
