/* The batch-read copy of the dedup map (user/reach/dedup_snapshot.c)
 * against a real kernel LRU hash map of the same layout: every entry found
 * with its value, missing keys miss, deletions show after a refresh, an
 * empty map and a map fuller than one batch. Needs root (creates a map). */
#include <bpf/bpf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sensor/dedup_snapshot.h"

#define ENTRIES 20000

static struct reach_dedup_key key_of(uint32_t i)
{
	struct reach_dedup_key k = { .cgroup_id = 1000 + i % 7, .kind = 1 + i % 7, .hash = 0x9e3779b97f4a7c15ULL * (i + 1) };

	return k;
}

static void test_snapshot_matches_the_map(void **state)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "dedup_test", sizeof(struct reach_dedup_key),
				sizeof(struct reach_dedup_val), ENTRIES + 1000, NULL);
	struct dedup_snapshot *d = dedup_snapshot_new(ENTRIES + 1000);
	struct reach_dedup_val v;
	struct reach_dedup_key k;

	(void)state;
	assert_true(fd >= 0);
	assert_non_null(d);
	/* empty */
	assert_int_equal(dedup_snapshot_refresh(d, fd), 0);
	assert_int_equal(dedup_snapshot_size(d), 0);
	k = key_of(1);
	assert_int_equal(dedup_snapshot_lookup(d, &k, &v), -ENOENT);
	/* many batches' worth */
	for (uint32_t i = 0; i < ENTRIES; i++) {
		struct reach_dedup_val val = { .count = i + 1, .first_ns = 10 * i, .last_ns = 10 * i + 5 };

		k = key_of(i);
		assert_int_equal(bpf_map_update_elem(fd, &k, &val, BPF_ANY), 0);
	}
	assert_int_equal(dedup_snapshot_refresh(d, fd), 0);
	assert_int_equal(dedup_snapshot_size(d), ENTRIES);
	for (uint32_t i = 0; i < ENTRIES; i++) {
		k = key_of(i);
		assert_int_equal(dedup_snapshot_lookup(d, &k, &v), 0);
		assert_int_equal(v.count, i + 1);
		assert_int_equal(v.first_ns, 10 * i);
		assert_int_equal(v.last_ns, 10 * i + 5);
	}
	k = key_of(ENTRIES + 5);
	assert_int_equal(dedup_snapshot_lookup(d, &k, &v), -ENOENT);
	/* a deleted entry and an updated count show after the next refresh */
	k = key_of(7);
	assert_int_equal(bpf_map_delete_elem(fd, &k), 0);
	{
		struct reach_dedup_val val = { .count = 999, .first_ns = 1, .last_ns = 2 };
		struct reach_dedup_key k8 = key_of(8);

		assert_int_equal(bpf_map_update_elem(fd, &k8, &val, BPF_ANY), 0);
	}
	assert_int_equal(dedup_snapshot_lookup(d, &k, &v), 0); /* the copy is as of its read */
	assert_int_equal(dedup_snapshot_refresh(d, fd), 0);
	assert_int_equal(dedup_snapshot_size(d), ENTRIES - 1);
	assert_int_equal(dedup_snapshot_lookup(d, &k, &v), -ENOENT);
	k = key_of(8);
	assert_int_equal(dedup_snapshot_lookup(d, &k, &v), 0);
	assert_int_equal(v.count, 999);
	/* not a map: the error, and an empty copy */
	assert_true(dedup_snapshot_refresh(d, -1) < 0);
	assert_int_equal(dedup_snapshot_size(d), 0);
	assert_int_equal(dedup_snapshot_lookup(d, &k, &v), -ENOENT);
	dedup_snapshot_free(d);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_matches_the_map),
	};

	return cmocka_run_group_tests_name("dedup_snapshot", tests, NULL, NULL);
}
