/* Names by address, learnt from the DNS answers each cgroup received, so an
 * egress edge carries the name it was reached by (api.openai.com:443). Kept
 * per cgroup: one workload's resolution never labels another's traffic.
 * Bounded: past the cap new answers are counted as dropped, never silent. */
#ifndef REACH_DNSNAMES_H
#define REACH_DNSNAMES_H

#include <stdint.h>
#include "reach/netclass.h"

#define DNSNAMES_MAX 65536

struct dnsnames;

struct dnsnames *dnsnames_new(void);
void dnsnames_free(struct dnsnames *d);

/* Records that cgroup_id resolved name to addr with ttl (seconds). */
int dnsnames_put(struct dnsnames *d, uint64_t cgroup_id, const struct netaddr *addr, const char *name,
		 uint32_t ttl);
/* The latest name for addr in that cgroup, or NULL; *ttl gets its TTL. */
const char *dnsnames_get(const struct dnsnames *d, uint64_t cgroup_id, const struct netaddr *addr, uint32_t *ttl);
uint64_t dnsnames_dropped(const struct dnsnames *d);

#endif
