/* See dedup_snapshot.h. An open-addressing index over the copied keys. */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sensor/dedup_snapshot.h"

#define BATCH 4096

/* Arrays grow with what the map holds (a map sized for millions of
 * entries but mostly empty costs little), never shrink. */
struct dedup_snapshot {
	uint32_t max, n, cap;
	struct reach_dedup_key *keys;
	struct reach_dedup_val *vals;
	uint32_t *slots;      /* index + 1 into keys; 0 = empty */
	uint32_t slot_mask;   /* slots: a power of two >= 2 * n */
};

static uint64_t key_hash(const struct reach_dedup_key *k)
{
	uint64_t h = k->cgroup_id * 0x9e3779b97f4a7c15ULL;

	h ^= (uint64_t)k->kind * 0xc2b2ae3d27d4eb4fULL;
	h ^= k->hash;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 33);
}

static bool key_eq(const struct reach_dedup_key *a, const struct reach_dedup_key *b)
{
	return a->cgroup_id == b->cgroup_id && a->kind == b->kind && a->hash == b->hash;
}

struct dedup_snapshot *dedup_snapshot_new(uint32_t max_entries)
{
	struct dedup_snapshot *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->max = max_entries;
	return d;
}

/* Room for BATCH more entries. */
static int grow(struct dedup_snapshot *d)
{
	uint32_t cap = d->cap ? d->cap * 2 : 4 * BATCH;
	void *k, *v;

	if (d->n + BATCH <= d->cap)
		return 0;
	if (!(k = realloc(d->keys, (size_t)cap * sizeof(*d->keys))))
		return -ENOMEM;
	d->keys = k;
	if (!(v = realloc(d->vals, (size_t)cap * sizeof(*d->vals))))
		return -ENOMEM;
	d->vals = v;
	d->cap = cap;
	return 0;
}

void dedup_snapshot_free(struct dedup_snapshot *d)
{
	if (!d)
		return;
	free(d->keys);
	free(d->vals);
	free(d->slots);
	free(d);
}

static int index_all(struct dedup_snapshot *d)
{
	uint32_t slots = 16;

	while (slots < 2 * (uint64_t)d->n)
		slots <<= 1;
	if (slots != d->slot_mask + 1) {
		uint32_t *ns = realloc(d->slots, (size_t)slots * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		d->slots = ns;
		d->slot_mask = slots - 1;
	}
	memset(d->slots, 0, (size_t)slots * sizeof(*d->slots));
	for (uint32_t i = 0; i < d->n; i++) {
		uint32_t s = (uint32_t)key_hash(&d->keys[i]) & d->slot_mask;

		while (d->slots[s])
			s = (s + 1) & d->slot_mask;
		d->slots[s] = i + 1;
	}
	return 0;
}

int dedup_snapshot_refresh(struct dedup_snapshot *d, int map_fd)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t token = 0;
	void *in = NULL;
	int rc = 0;

	d->n = 0;
	for (;;) {
		uint32_t count = BATCH;

		/* an LRU map can briefly hold a little more than max_entries;
		 * far more is not the map we were made for: no partial copy */
		if (d->n >= d->max + BATCH) {
			rc = -E2BIG;
			break;
		}
		if ((rc = grow(d)))
			break;
		rc = bpf_map_lookup_batch(map_fd, in, &token, d->keys + d->n, d->vals + d->n, &count, &opts);
		if (rc < 0)
			rc = -errno;
		d->n += count;
		in = &token;
		if (rc == -ENOENT) { /* the end: count holds the last entries */
			rc = 0;
			break;
		}
		if (rc)
			break;
	}
	if (!rc)
		rc = index_all(d);
	if (rc) {
		d->n = 0;
		if (d->slots)
			memset(d->slots, 0, ((size_t)d->slot_mask + 1) * sizeof(*d->slots));
	}
	return rc;
}

int dedup_snapshot_lookup(const struct dedup_snapshot *d, const struct reach_dedup_key *key,
			  struct reach_dedup_val *val)
{
	uint32_t s;

	if (!d->slots)
		return -ENOENT;
	s = (uint32_t)key_hash(key) & d->slot_mask;
	for (uint32_t idx; (idx = d->slots[s]); s = (s + 1) & d->slot_mask) {
		if (key_eq(&d->keys[idx - 1], key)) {
			*val = d->vals[idx - 1];
			return 0;
		}
	}
	return -ENOENT;
}

uint32_t dedup_snapshot_size(const struct dedup_snapshot *d)
{
	return d->n;
}
