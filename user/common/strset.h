/* A small bounded set of strings kept as one string, "a;b;c" in order of
 * arrival: the few distinct values of an edge's attribute (an MCP tool's
 * argument shapes) that must fit one ledger field and merge across ledgers.
 * Items never contain the separator (the caller's alphabet excludes it). */
#ifndef REACH_COMMON_STRSET_H
#define REACH_COMMON_STRSET_H

#include <stddef.h>

#define STRSET_SEP ';'

/* Adds item to the set in buf (size bytes, NUL-terminated) unless present:
 * 0 added, 1 already there, -ENOSPC when it would make more than max_items
 * or not fit (buf unchanged), -EINVAL for an empty item or one holding the
 * separator. */
int strset_add(char *buf, size_t size, size_t max_items, const char *item);

/* Adds every item of set (same form) to buf; returns how many did not fit. */
size_t strset_union(char *buf, size_t size, size_t max_items, const char *set);

#endif
