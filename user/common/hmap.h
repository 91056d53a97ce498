/* A small string-keyed hash map (chained, grows at load 1). Keys are copied;
 * values are owned by the caller. */
#ifndef REACH_HMAP_H
#define REACH_HMAP_H

#include <stddef.h>

struct hmap;
struct hmap_iter { const struct hmap *m; size_t bucket; void *node; };

struct hmap *hmap_new(void);
void hmap_free(struct hmap *m, void (*free_value)(void *)); /* accepts NULL */
void *hmap_get(const struct hmap *m, const char *key);
/* Inserts or replaces; returns 0 or -ENOMEM. *old gets a replaced value. */
int hmap_put(struct hmap *m, const char *key, void *value, void **old);
void *hmap_remove(struct hmap *m, const char *key);
size_t hmap_count(const struct hmap *m);

void hmap_iter_init(struct hmap_iter *it, const struct hmap *m);
/* Next entry in unspecified order; 0 at the end. */
int hmap_iter_next(struct hmap_iter *it, const char **key, void **value);

#endif
