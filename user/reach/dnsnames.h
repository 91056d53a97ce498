/* Names by address, learnt from the DNS answers each cgroup received, so an
 * egress edge carries the name it was reached by (api.openai.com:443). Kept
 * per cgroup: one workload's resolution never labels another's traffic.
 * Bounded: past the cap new answers are counted as dropped, never silent. */
#ifndef REACH_DNSNAMES_H
#define REACH_DNSNAMES_H

#include <stdint.h>
#include "reach/netclass.h"

#define DNSNAMES_MAX 65536

/* Where a name came from: a DNS answer the cgroup received, or the server
 * name (SNI) of a TLS ClientHello it sent to the address. An SNI is what the
 * client claimed, not what a resolver said: the edge says which (name_source). */
enum name_source { NAME_SOURCE_NONE, NAME_SOURCE_DNS, NAME_SOURCE_SNI };

/* "dns", "sni", or NULL for NAME_SOURCE_NONE (and out of range). */
const char *name_source_name(uint8_t source);

struct dnsnames;

struct dnsnames *dnsnames_new(void);
void dnsnames_free(struct dnsnames *d);

/* Records that cgroup_id resolved name to addr with ttl (seconds). */
int dnsnames_put(struct dnsnames *d, uint64_t cgroup_id, const struct netaddr *addr, const char *name,
		 uint32_t ttl);
/* The same, from a source other than DNS (NAME_SOURCE_SNI). */
int dnsnames_put_from(struct dnsnames *d, uint64_t cgroup_id, const struct netaddr *addr, const char *name,
		      uint32_t ttl, enum name_source source);
/* The latest name for addr in that cgroup, or NULL; *ttl gets its TTL. */
const char *dnsnames_get(const struct dnsnames *d, uint64_t cgroup_id, const struct netaddr *addr, uint32_t *ttl);
/* Where that name came from (NAME_SOURCE_NONE when there is none). */
enum name_source dnsnames_source(const struct dnsnames *d, uint64_t cgroup_id, const struct netaddr *addr);
uint64_t dnsnames_dropped(const struct dnsnames *d);

#endif
