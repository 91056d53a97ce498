#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/intern.h"

/* Every value is one allocation: this header, then the string's bytes or
 * the list's pointers. Holders get a pointer to what follows the header. */
struct head {
	uint32_t refs; /* UINT32_MAX: pinned (the count saturated), never freed */
	uint32_t hash;
};

struct str_entry {
	struct head h;
	char s[];
};

struct list_entry {
	struct head h;
	size_t n;
	const char *v[];
};

/* Open addressing with linear probing; removal shifts the following run
 * back, so there are no tombstones. */
struct slots {
	struct head **v;
	size_t cap; /* 0 or a power of two */
	size_t n;
};

/* len: records of different sizes never compare equal */
struct record_entry {
	struct head h;
	size_t len;
	unsigned char b[] __attribute__((aligned(8))); /* holders cast it to their struct */
};

struct intern {
	struct slots strs, lists, records;
	size_t owners; /* intern_new() and intern_hold() calls not yet freed */
};

static const char empty_str[1] = "";
static const char *const empty_list[1] = { NULL };

typedef int (*same_fn)(const struct head *h, const void *key);

static uint32_t hash_bytes(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return (uint32_t)(h ^ (h >> 32));
}

/* The slot holding a value equal to key, or the empty slot where it goes. */
static size_t slot_of(const struct slots *s, uint32_t hash, const void *key, same_fn same)
{
	size_t mask = s->cap - 1, i = hash & mask;

	while (s->v[i] && (s->v[i]->hash != hash || !same(s->v[i], key)))
		i = (i + 1) & mask;
	return i;
}

/* Room for one more value at a load of at most 3/4. 0 or -1. */
static int slots_reserve(struct slots *s)
{
	size_t cap = s->cap ? s->cap * 2 : 16;
	struct head **v;

	if ((s->n + 1) * 4 <= s->cap * 3)
		return 0;
	if (!(v = calloc(cap, sizeof(*v))))
		return -1;
	for (size_t i = 0; i < s->cap; i++) {
		size_t j;

		if (!s->v[i])
			continue;
		for (j = s->v[i]->hash & (cap - 1); v[j]; j = (j + 1) & (cap - 1))
			;
		v[j] = s->v[i];
	}
	free(s->v);
	s->v = v;
	s->cap = cap;
	return 0;
}

static void slots_remove(struct slots *s, const struct head *h)
{
	size_t mask = s->cap - 1, i = h->hash & mask, j;

	while (s->v[i] != h)
		i = (i + 1) & mask;
	s->v[i] = NULL;
	s->n--;
	/* move back every entry of the run after i that may no longer be
	 * reachable from its home slot */
	for (j = (i + 1) & mask; s->v[j]; j = (j + 1) & mask) {
		size_t home = s->v[j]->hash & mask;

		/* stays when home is cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		s->v[i] = s->v[j];
		s->v[j] = NULL;
		i = j;
	}
}

static void slots_free(struct slots *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->v[i]);
	free(s->v);
}

static void ref(struct head *h)
{
	if (h->refs != UINT32_MAX)
		h->refs++;
}

/* Drops one reference; 1 when it was the last (the caller frees). */
static int unref(struct head *h)
{
	return h->refs != UINT32_MAX && --h->refs == 0;
}

struct intern *intern_new(void)
{
	struct intern *t = calloc(1, sizeof(struct intern));

	if (t)
		t->owners = 1;
	return t;
}

struct intern *intern_hold(struct intern *t)
{
	t->owners++;
	return t;
}

void intern_free(struct intern *t)
{
	if (!t || --t->owners > 0)
		return;
	slots_free(&t->strs);
	slots_free(&t->lists);
	slots_free(&t->records);
	free(t);
}

size_t intern_strings(const struct intern *t) { return t->strs.n; }
size_t intern_lists(const struct intern *t) { return t->lists.n; }
size_t intern_records(const struct intern *t) { return t->records.n; }

/* strings */

static int same_str(const struct head *h, const void *key)
{
	return strcmp(((const struct str_entry *)h)->s, key) == 0;
}

static struct str_entry *str_entry_of(const char *s)
{
	return (struct str_entry *)(s - offsetof(struct str_entry, s));
}

const char *intern_find(const struct intern *t, const char *s)
{
	size_t i;

	if (!*s)
		return empty_str;
	if (!t->strs.cap)
		return NULL;
	i = slot_of(&t->strs, hash_bytes(s, strlen(s)), s, same_str);
	return t->strs.v[i] ? ((struct str_entry *)t->strs.v[i])->s : NULL;
}

const char *intern_str(struct intern *t, const char *s)
{
	size_t len = strlen(s), i;
	uint32_t hash = hash_bytes(s, len);
	struct str_entry *e;

	if (!len)
		return empty_str;
	if (slots_reserve(&t->strs))
		return NULL;
	i = slot_of(&t->strs, hash, s, same_str);
	if (t->strs.v[i]) {
		ref(t->strs.v[i]);
		return ((struct str_entry *)t->strs.v[i])->s;
	}
	if (!(e = malloc(sizeof(*e) + len + 1)))
		return NULL;
	e->h.refs = 1;
	e->h.hash = hash;
	memcpy(e->s, s, len + 1);
	t->strs.v[i] = &e->h;
	t->strs.n++;
	return e->s;
}

void intern_release(struct intern *t, const char *s)
{
	struct str_entry *e;

	if (!s || s == empty_str)
		return;
	e = str_entry_of(s);
	if (unref(&e->h)) {
		slots_remove(&t->strs, &e->h);
		free(e);
	}
}

/* lists: their strings are the table's, so equal lists have equal pointers */

struct list_key {
	const char *const *v;
	size_t n;
};

static int same_list(const struct head *h, const void *key)
{
	const struct list_entry *e = (const struct list_entry *)h;
	const struct list_key *k = key;

	return e->n == k->n && memcmp(e->v, k->v, k->n * sizeof(*k->v)) == 0;
}

static struct list_entry *list_entry_of(const char *const *v)
{
	return (struct list_entry *)((const char *)v - offsetof(struct list_entry, v));
}

static void release_strs(struct intern *t, const char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		intern_release(t, v[i]);
}

const char *const *intern_list(struct intern *t, const char *const *v, size_t n)
{
	struct list_entry *e;
	struct list_key key;
	uint32_t hash;
	size_t i;

	if (!n)
		return empty_list;
	/* the entry is built first: it takes the references to its strings */
	if (!(e = malloc(sizeof(*e) + n * sizeof(*e->v))))
		return NULL;
	for (i = 0; i < n; i++) {
		if (!(e->v[i] = intern_str(t, v[i]))) {
			release_strs(t, e->v, i);
			free(e);
			return NULL;
		}
	}
	e->n = n;
	key = (struct list_key){ e->v, n };
	hash = hash_bytes(e->v, n * sizeof(*e->v));
	if (slots_reserve(&t->lists)) {
		release_strs(t, e->v, n);
		free(e);
		return NULL;
	}
	i = slot_of(&t->lists, hash, &key, same_list);
	if (t->lists.v[i]) { /* known: the existing list already holds its strings */
		release_strs(t, e->v, n);
		free(e);
		ref(t->lists.v[i]);
		return ((struct list_entry *)t->lists.v[i])->v;
	}
	e->h.refs = 1;
	e->h.hash = hash;
	t->lists.v[i] = &e->h;
	t->lists.n++;
	return e->v;
}

void intern_list_release(struct intern *t, const char *const *v)
{
	struct list_entry *e;

	if (!v || v == empty_list)
		return;
	e = list_entry_of(v);
	if (unref(&e->h)) {
		slots_remove(&t->lists, &e->h);
		release_strs(t, e->v, e->n);
		free(e);
	}
}

/* records: bytes the caller built; the table never looks inside */

struct record_key {
	const void *b;
	size_t len;
};

static int same_record(const struct head *h, const void *key)
{
	const struct record_entry *e = (const struct record_entry *)h;
	const struct record_key *k = key;

	return e->len == k->len && memcmp(e->b, k->b, k->len) == 0;
}

static struct record_entry *record_entry_of(const void *b)
{
	return (struct record_entry *)((const char *)b - offsetof(struct record_entry, b));
}

const void *intern_record(struct intern *t, const void *rec, size_t len, bool *created)
{
	struct record_key key = { rec, len };
	uint32_t hash = hash_bytes(rec, len);
	struct record_entry *e;
	size_t i;

	*created = false;
	if (slots_reserve(&t->records))
		return NULL;
	i = slot_of(&t->records, hash, &key, same_record);
	if (t->records.v[i]) {
		ref(t->records.v[i]);
		return ((struct record_entry *)t->records.v[i])->b;
	}
	if (!(e = malloc(sizeof(*e) + len)))
		return NULL;
	e->h.refs = 1;
	e->h.hash = hash;
	e->len = len;
	memcpy(e->b, rec, len);
	t->records.v[i] = &e->h;
	t->records.n++;
	*created = true;
	return e->b;
}

int intern_record_release(struct intern *t, const void *rec, void *last)
{
	struct record_entry *e;

	if (!rec)
		return 0;
	e = record_entry_of(rec);
	if (!unref(&e->h))
		return 0;
	slots_remove(&t->records, &e->h);
	memcpy(last, e->b, e->len);
	free(e);
	return 1;
}
