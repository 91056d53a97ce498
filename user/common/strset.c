#include <errno.h>
#include <string.h>
#include "common/strset.h"

static size_t count_items(const char *s)
{
	size_t n = *s ? 1 : 0;

	for (; *s; s++)
		n += *s == STRSET_SEP;
	return n;
}

static int has_item(const char *set, const char *item, size_t n)
{
	for (const char *p = set; *p;) {
		size_t l = strcspn(p, ";");

		if (l == n && !memcmp(p, item, n))
			return 1;
		p += l;
		if (*p)
			p++;
	}
	return 0;
}

static int add_n(char *buf, size_t size, size_t max_items, const char *item, size_t n)
{
	size_t len = strlen(buf);

	if (!n || memchr(item, STRSET_SEP, n))
		return -EINVAL;
	if (has_item(buf, item, n))
		return 1;
	if (count_items(buf) >= max_items || len + (len ? 1 : 0) + n + 1 > size)
		return -ENOSPC;
	if (len)
		buf[len++] = STRSET_SEP;
	memcpy(buf + len, item, n);
	buf[len + n] = '\0';
	return 0;
}

int strset_add(char *buf, size_t size, size_t max_items, const char *item)
{
	return item ? add_n(buf, size, max_items, item, strlen(item)) : -EINVAL;
}

size_t strset_union(char *buf, size_t size, size_t max_items, const char *set)
{
	size_t lost = 0;

	for (const char *p = set ? set : ""; *p;) {
		size_t l = strcspn(p, ";");

		if (l && add_n(buf, size, max_items, p, l) < 0)
			lost++;
		p += l;
		if (*p)
			p++;
	}
	return lost;
}
