#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/hmap.h"

struct hmap_node {
	struct hmap_node *next;
	uint64_t hash;
	void *value;
	char key[];
};

struct hmap {
	struct hmap_node **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct hmap *hmap_new(void)
{
	struct hmap *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->nbuckets = 16;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (!m->buckets) {
		free(m);
		return NULL;
	}
	return m;
}

void hmap_free(struct hmap *m, void (*free_value)(void *))
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct hmap_node *n = m->buckets[i];

		while (n) {
			struct hmap_node *next = n->next;

			if (free_value)
				free_value(n->value);
			free(n);
			n = next;
		}
	}
	free(m->buckets);
	free(m);
}

static struct hmap_node **find_slot(const struct hmap *m, const char *key, uint64_t h)
{
	struct hmap_node **slot = &m->buckets[h & (m->nbuckets - 1)];

	while (*slot && ((*slot)->hash != h || strcmp((*slot)->key, key) != 0))
		slot = &(*slot)->next;
	return slot;
}

void *hmap_get(const struct hmap *m, const char *key)
{
	struct hmap_node *n = *find_slot(m, key, hash_str(key));

	return n ? n->value : NULL;
}

static int grow(struct hmap *m)
{
	size_t nb = m->nbuckets * 2;
	struct hmap_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct hmap_node *n = m->buckets[i];

		while (n) {
			struct hmap_node *next = n->next;

			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
			n = next;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = nb;
	return 0;
}

int hmap_put(struct hmap *m, const char *key, void *value, void **old)
{
	uint64_t h = hash_str(key);
	struct hmap_node **slot = find_slot(m, key, h);
	size_t klen;

	if (old)
		*old = NULL;
	if (*slot) {
		if (old)
			*old = (*slot)->value;
		(*slot)->value = value;
		return 0;
	}
	if (m->count >= m->nbuckets && grow(m) == 0)
		slot = find_slot(m, key, h);
	klen = strlen(key);
	*slot = malloc(sizeof(**slot) + klen + 1);
	if (!*slot)
		return -ENOMEM;
	(*slot)->next = NULL;
	(*slot)->hash = h;
	(*slot)->value = value;
	memcpy((*slot)->key, key, klen + 1);
	m->count++;
	return 0;
}

void *hmap_remove(struct hmap *m, const char *key)
{
	struct hmap_node **slot = find_slot(m, key, hash_str(key));
	struct hmap_node *n = *slot;
	void *v;

	if (!n)
		return NULL;
	*slot = n->next;
	v = n->value;
	free(n);
	m->count--;
	return v;
}

size_t hmap_count(const struct hmap *m) { return m->count; }

void hmap_iter_init(struct hmap_iter *it, const struct hmap *m)
{
	it->m = m;
	it->bucket = 0;
	it->node = NULL;
}

int hmap_iter_next(struct hmap_iter *it, const char **key, void **value)
{
	struct hmap_node *n = it->node ? ((struct hmap_node *)it->node)->next : NULL;

	while (!n && it->bucket < it->m->nbuckets)
		n = it->m->buckets[it->bucket++];
	it->node = n;
	if (!n)
		return 0;
	*key = n->key;
	*value = n->value;
	return 1;
}
