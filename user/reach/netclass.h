/* Addresses, CIDRs and destination classes of egress edges.
 * Classes, first match wins: cloud-metadata, kube-apiserver, cluster,
 * loopback, link-local, private, external. Cloud metadata is the classic
 * credential-theft path, so it is checked first and always stands out. */
#ifndef REACH_NETCLASS_H
#define REACH_NETCLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETCLASS_MAX_CIDRS 64
#define NETCLASS_MAX_APISERVERS 16

struct netaddr {
	uint8_t family;     /* 4 or 6 */
	uint8_t addr[16];   /* IPv4 in the first 4 bytes, network order */
};

struct cidr {
	struct netaddr net;
	uint8_t prefix;
};

struct endpoint {
	struct netaddr addr;
	uint16_t port;      /* 0 = any port */
};

struct netclass {
	struct cidr cluster[NETCLASS_MAX_CIDRS];
	size_t n_cluster;
	struct endpoint apiserver[NETCLASS_MAX_APISERVERS];
	size_t n_apiserver;
};

/* "192.0.2.1", "2001:db8::1"; v4-mapped v6 (::ffff:a.b.c.d) becomes v4. 0 or -EINVAL. */
int netaddr_parse(const char *s, struct netaddr *a);
/* From raw bytes as the kernel gives them (family 2 = AF_INET, 10 = AF_INET6). */
void netaddr_from_raw(struct netaddr *a, int af, const uint8_t *bytes);
int netaddr_format(const struct netaddr *a, char *out, size_t out_size);
bool netaddr_equal(const struct netaddr *a, const struct netaddr *b);

/* "10.0.0.0/8", "fd00::/8", or an address alone (/32, /128). Host bits must
 * be zero ("10.0.0.1/8" is rejected: a typo more often than intended). */
int cidr_parse(const char *s, struct cidr *c);
bool cidr_contains(const struct cidr *c, const struct netaddr *a);

void netclass_init(struct netclass *nc);
/* 0, -EINVAL (bad value) or -ENOSPC (too many). */
int netclass_add_cluster_cidr(struct netclass *nc, const char *cidr);
/* "10.96.0.1", "10.96.0.1:443", "[fd00::1]:443". */
int netclass_add_apiserver(struct netclass *nc, const char *endpoint);
/* Adds KUBERNETES_SERVICE_HOST[:KUBERNETES_SERVICE_PORT] when set: 0 when
 * absent or added, -EINVAL when set to something that is not an address. */
int netclass_add_apiserver_from_env(struct netclass *nc);

/* Class name of a destination. dns_name may be NULL. */
const char *netclass_classify(const struct netclass *nc, const struct netaddr *a, uint16_t port,
			      const char *dns_name);

#endif
