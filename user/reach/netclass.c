#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "reach/netclass.h"

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void normalize(struct netaddr *a)
{
	if (a->family == 6 && memcmp(a->addr, v4_mapped_prefix, 12) == 0) {
		memmove(a->addr, a->addr + 12, 4);
		memset(a->addr + 4, 0, 12);
		a->family = 4;
	}
}

int netaddr_parse(const char *s, struct netaddr *a)
{
	memset(a, 0, sizeof(*a));
	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, a->addr) == 1) {
		a->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->addr) == 1) {
		a->family = 6;
		normalize(a);
		return 0;
	}
	return -EINVAL;
}

void netaddr_from_raw(struct netaddr *a, int af, const uint8_t *bytes)
{
	memset(a, 0, sizeof(*a));
	if (af == AF_INET) {
		a->family = 4;
		memcpy(a->addr, bytes, 4);
	} else {
		a->family = 6;
		memcpy(a->addr, bytes, 16);
		normalize(a);
	}
}

int netaddr_format(const struct netaddr *a, char *out, size_t out_size)
{
	if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->addr, out, out_size))
		return -errno;
	return 0;
}

bool netaddr_equal(const struct netaddr *a, const struct netaddr *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16) == 0;
}

static bool prefix_matches(const uint8_t *x, const uint8_t *y, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(x, y, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		return (x[full] & mask) == (y[full] & mask);
	}
	return true;
}

int cidr_parse(const char *s, struct cidr *c)
{
	char buf[64], *slash, *end;
	unsigned max;
	bool mapped;
	long prefix;
	struct netaddr zero_host;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (netaddr_parse(buf, &c->net))
		return -EINVAL;
	mapped = c->net.family == 4 && strchr(buf, ':'); /* ::ffff:a.b.c.d, now IPv4 */
	max = c->net.family == 4 ? 32 : 128;
	if (!slash) {
		c->prefix = max;
		return 0;
	}
	if (!isdigit((unsigned char)slash[1])) /* strtol would skip blanks and take signs */
		return -EINVAL;
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (mapped) {
		/* written as IPv6: the prefix counts the 96 bits of ::ffff: too */
		if (errno || *end || prefix < 96 || prefix > 128)
			return -EINVAL;
		prefix -= 96;
	}
	if (errno || *end || prefix < 0 || prefix > (long)max)
		return -EINVAL;
	c->prefix = (uint8_t)prefix;
	/* host bits must be zero */
	zero_host = c->net;
	for (unsigned bit = c->prefix; bit < max; bit++)
		zero_host.addr[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
	if (!netaddr_equal(&zero_host, &c->net))
		return -EINVAL;
	return 0;
}

bool cidr_contains(const struct cidr *c, const struct netaddr *a)
{
	return a->family == c->net.family && prefix_matches(a->addr, c->net.addr, c->prefix);
}

void netclass_init(struct netclass *nc)
{
	memset(nc, 0, sizeof(*nc));
}

int netclass_add_cluster_cidr(struct netclass *nc, const char *s)
{
	struct cidr c;

	if (cidr_parse(s, &c))
		return -EINVAL;
	if (nc->n_cluster == NETCLASS_MAX_CIDRS)
		return -ENOSPC;
	nc->cluster[nc->n_cluster++] = c;
	return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int netclass_add_apiserver(struct netclass *nc, const char *s)
{
	struct endpoint ep = { 0 };
	char buf[80], *host = buf, *port = NULL;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	if (buf[0] == '[') { /* [v6]:port */
		char *close = strchr(buf, ']');

		if (!close || (close[1] && close[1] != ':'))
			return -EINVAL;
		*close = '\0';
		host = buf + 1;
		if (close[1] == ':')
			port = close + 2;
	} else if (strchr(buf, ':') == strrchr(buf, ':') && strchr(buf, ':')) { /* v4:port */
		port = strchr(buf, ':');
		*port++ = '\0';
	}
	if (netaddr_parse(host, &ep.addr) || (port && parse_port(port, &ep.port)))
		return -EINVAL;
	if (nc->n_apiserver == NETCLASS_MAX_APISERVERS)
		return -ENOSPC;
	nc->apiserver[nc->n_apiserver++] = ep;
	return 0;
}

int netclass_add_apiserver_from_env(struct netclass *nc)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	char buf[80];

	if (!host || !*host)
		return 0;
	if (port && *port)
		snprintf(buf, sizeof(buf), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
	else
		snprintf(buf, sizeof(buf), "%s", host);
	return netclass_add_apiserver(nc, buf);
}

struct builtin_range {
	const char *cidr;
	const char *class_name;
};

/* Cloud metadata endpoints (AWS IMDS v4/v6, ECS task metadata, GCP/Azure
 * share 169.254.169.254), then the fixed special ranges. */
static const struct builtin_range metadata_ranges[] = {
	{ "169.254.169.254", "cloud-metadata" }, { "fd00:ec2::254", "cloud-metadata" },
	{ "169.254.170.2", "cloud-metadata" }, { "169.254.170.23", "cloud-metadata" },
};

static const struct builtin_range special_ranges[] = {
	{ "127.0.0.0/8", "loopback" }, { "::1", "loopback" },
	{ "169.254.0.0/16", "link-local" }, { "fe80::/10", "link-local" },
	{ "10.0.0.0/8", "private" }, { "172.16.0.0/12", "private" }, { "192.168.0.0/16", "private" },
	{ "100.64.0.0/10", "private" }, { "fc00::/7", "private" },
};

static const char *match_ranges(const struct builtin_range *r, size_t n, const struct netaddr *a)
{
	for (size_t i = 0; i < n; i++) {
		struct cidr c;

		if (cidr_parse(r[i].cidr, &c) == 0 && cidr_contains(&c, a))
			return r[i].class_name;
	}
	return NULL;
}

const char *netclass_classify(const struct netclass *nc, const struct netaddr *a, uint16_t port,
			      const char *dns_name)
{
	const char *cls;

	if ((cls = match_ranges(metadata_ranges, sizeof(metadata_ranges) / sizeof(metadata_ranges[0]), a)))
		return cls;
	if (dns_name && (strcasecmp(dns_name, "metadata.google.internal") == 0 ||
			 strcasecmp(dns_name, "metadata.google.internal.") == 0 ||
			 strcasecmp(dns_name, "metadata") == 0))
		return "cloud-metadata";
	for (size_t i = 0; i < nc->n_apiserver; i++)
		if (netaddr_equal(&nc->apiserver[i].addr, a) && (!nc->apiserver[i].port || nc->apiserver[i].port == port))
			return "kube-apiserver";
	for (size_t i = 0; i < nc->n_cluster; i++)
		if (cidr_contains(&nc->cluster[i], a))
			return "cluster";
	if ((cls = match_ranges(special_ranges, sizeof(special_ranges) / sizeof(special_ranges[0]), a)))
		return cls;
	return "external";
}
