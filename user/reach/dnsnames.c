#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/hmap.h"
#include "reach/dnsnames.h"

struct dns_name {
	uint32_t ttl;
	uint8_t source; /* enum name_source */
	char name[];
};

struct dnsnames {
	struct hmap *by_key; /* "cgroup/address" -> struct dns_name */
	uint64_t dropped;
};

static void key_of(uint64_t cgroup_id, const struct netaddr *addr, char *key, size_t size)
{
	char a[64] = "?";

	netaddr_format(addr, a, sizeof(a));
	snprintf(key, size, "%" PRIu64 "/%s", cgroup_id, a);
}

struct dnsnames *dnsnames_new(void)
{
	struct dnsnames *d = calloc(1, sizeof(*d));

	if (!d || !(d->by_key = hmap_new())) {
		free(d);
		return NULL;
	}
	return d;
}

void dnsnames_free(struct dnsnames *d)
{
	if (!d)
		return;
	hmap_free(d->by_key, free);
	free(d);
}

const char *name_source_name(uint8_t source)
{
	return source == NAME_SOURCE_DNS ? "dns" : source == NAME_SOURCE_SNI ? "sni" : NULL;
}

int dnsnames_put(struct dnsnames *d, uint64_t cgroup_id, const struct netaddr *addr, const char *name,
		 uint32_t ttl)
{
	return dnsnames_put_from(d, cgroup_id, addr, name, ttl, NAME_SOURCE_DNS);
}

int dnsnames_put_from(struct dnsnames *d, uint64_t cgroup_id, const struct netaddr *addr, const char *name,
		      uint32_t ttl, enum name_source source)
{
	char key[96];
	size_t len = strlen(name);
	struct dns_name *n, *old = NULL;

	key_of(cgroup_id, addr, key, sizeof(key));
	if (!hmap_get(d->by_key, key) && hmap_count(d->by_key) >= DNSNAMES_MAX) {
		d->dropped++;
		return -ENOSPC;
	}
	n = malloc(sizeof(*n) + len + 1);
	if (!n)
		return -ENOMEM;
	n->ttl = ttl;
	n->source = (uint8_t)source;
	memcpy(n->name, name, len + 1);
	if (hmap_put(d->by_key, key, n, (void **)&old)) {
		free(n);
		return -ENOMEM;
	}
	free(old); /* the latest answer wins */
	return 0;
}

const char *dnsnames_get(const struct dnsnames *d, uint64_t cgroup_id, const struct netaddr *addr, uint32_t *ttl)
{
	char key[96];
	struct dns_name *n;

	key_of(cgroup_id, addr, key, sizeof(key));
	n = hmap_get(d->by_key, key);
	if (!n)
		return NULL;
	if (ttl)
		*ttl = n->ttl;
	return n->name;
}

uint64_t dnsnames_dropped(const struct dnsnames *d) { return d->dropped; }

enum name_source dnsnames_source(const struct dnsnames *d, uint64_t cgroup_id, const struct netaddr *addr)
{
	char key[96];
	struct dns_name *n;

	key_of(cgroup_id, addr, key, sizeof(key));
	n = hmap_get(d->by_key, key);
	return n ? (enum name_source)n->source : NAME_SOURCE_NONE;
}
