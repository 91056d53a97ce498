#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "reach/netclass.h"

static struct netaddr addr(const char *s)
{
	struct netaddr a;

	assert_int_equal(netaddr_parse(s, &a), 0);
	return a;
}

static void assert_format(const struct netaddr *a, const char *want)
{
	char buf[64];

	assert_int_equal(netaddr_format(a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
}

static struct cidr cidr(const char *s)
{
	struct cidr c;

	assert_int_equal(cidr_parse(s, &c), 0);
	return c;
}

static bool contains(const char *c, const char *a)
{
	struct cidr cc = cidr(c);
	struct netaddr aa = addr(a);

	return cidr_contains(&cc, &aa);
}

static const char *classify(const struct netclass *nc, const char *a, uint16_t port, const char *name)
{
	struct netaddr aa = addr(a);

	return netclass_classify(nc, &aa, port, name);
}

/* ---- addresses --------------------------------------------------------- */

static void test_parse_format_round_trip(void **state)
{
	static const struct {
		const char *in, *out;
		int family;
	} cases[] = {
		{ "192.0.2.1", "192.0.2.1", 4 },
		{ "0.0.0.0", "0.0.0.0", 4 },
		{ "255.255.255.255", "255.255.255.255", 4 },
		{ "2001:db8::1", "2001:db8::1", 6 },
		{ "2001:DB8:0:0:0:0:0:1", "2001:db8::1", 6 },
		{ "::", "::", 6 },
		{ "::1", "::1", 6 },
		{ "fe80::1", "fe80::1", 6 },
		{ "fd00:ec2::254", "fd00:ec2::254", 6 },
		/* v4-mapped becomes v4 */
		{ "::ffff:1.2.3.4", "1.2.3.4", 4 },
		{ "::ffff:0102:0304", "1.2.3.4", 4 },
		{ "0:0:0:0:0:FFFF:169.254.169.254", "169.254.169.254", 4 },
		/* not mapped: v4-compatible and NAT64 stay v6 (text form is libc's) */
		{ "::1.2.3.4", NULL, 6 },
		{ "64:ff9b::1.2.3.4", NULL, 6 },
		{ "::fffe:1.2.3.4", NULL, 6 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct netaddr a = addr(cases[i].in), b;
		char buf[64];

		assert_int_equal(a.family, cases[i].family);
		if (cases[i].out)
			assert_format(&a, cases[i].out);
		/* format -> parse gives the same address back */
		assert_int_equal(netaddr_format(&a, buf, sizeof(buf)), 0);
		b = addr(buf);
		assert_true(netaddr_equal(&a, &b));
		assert_memory_equal(&a, &b, sizeof(a));
	}
}

static void test_v4_mapped_is_v4_everywhere(void **state)
{
	struct netaddr v4 = addr("10.1.2.3"), mapped = addr("::ffff:10.1.2.3"), raw;
	const uint8_t v6_bytes[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3 };
	const uint8_t v4_bytes[4] = { 10, 1, 2, 3 };

	assert_int_equal(mapped.family, 4);
	assert_true(netaddr_equal(&v4, &mapped));
	assert_memory_equal(&v4, &mapped, sizeof(v4)); /* bytes 4..15 zeroed */

	netaddr_from_raw(&raw, 10, v6_bytes);
	assert_int_equal(raw.family, 4);
	assert_true(netaddr_equal(&raw, &v4));
	assert_memory_equal(&raw, &v4, sizeof(v4));

	netaddr_from_raw(&raw, 2, v4_bytes);
	assert_int_equal(raw.family, 4);
	assert_memory_equal(&raw, &v4, sizeof(v4));

	/* a v4 CIDR contains the mapped form */
	assert_true(contains("10.0.0.0/8", "::ffff:10.1.2.3"));
}

static void test_parse_rejects_junk(void **state)
{
	static const char *bad[] = {
		"", " ", "1.2.3", "1.2.3.4.5", "1.2.3.256", "256.0.0.0", " 1.2.3.4", "1.2.3.4 ",
		"1.2.3.4/32", "example.com", "::g", "1:2:3:4:5:6:7:8:9", "2001:db8:::1", "[::1]",
		"1.2.3.4:80", "0x7f.0.0.1",
	};
	struct netaddr a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&a, 0xaa, sizeof(a));
		assert_int_equal(netaddr_parse(bad[i], &a), -EINVAL);
	}
	assert_int_equal(netaddr_parse(NULL, &a), -EINVAL);
}

static void test_equal_and_format_edges(void **state)
{
	struct netaddr a = addr("10.0.0.1"), b = addr("10.0.0.2"), c = addr("::a00:1");
	char buf[64];

	assert_false(netaddr_equal(&a, &b));
	assert_false(netaddr_equal(&a, &c)); /* family differs */
	/* v4 equality ignores bytes past the 4th */
	b = a;
	b.addr[10] = 0x55;
	assert_true(netaddr_equal(&a, &b));

	/* buffer exactly big enough, and one too small */
	a = addr("255.255.255.255");
	assert_int_equal(netaddr_format(&a, buf, 16), 0);
	assert_string_equal(buf, "255.255.255.255");
	assert_true(netaddr_format(&a, buf, 15) < 0);
	a = addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
	assert_int_equal(netaddr_format(&a, buf, 40), 0);
	assert_true(netaddr_format(&a, buf, 39) < 0);
}

/* ---- CIDRs ------------------------------------------------------------- */

static void test_cidr_parse_valid(void **state)
{
	struct cidr c;

	c = cidr("10.0.0.0/8");
	assert_int_equal(c.net.family, 4);
	assert_int_equal(c.prefix, 8);
	assert_format(&c.net, "10.0.0.0");
	c = cidr("192.0.2.7");
	assert_int_equal(c.prefix, 32);
	c = cidr("2001:db8::1");
	assert_int_equal(c.prefix, 128);
	c = cidr("fd00::/8");
	assert_int_equal(c.net.family, 6);
	assert_int_equal(c.prefix, 8);
	c = cidr("0.0.0.0/0");
	assert_int_equal(c.prefix, 0);
	c = cidr("::/0");
	assert_int_equal(c.prefix, 0);
	c = cidr("172.16.0.0/12");
	assert_int_equal(c.prefix, 12);
	c = cidr("100.64.0.0/10");
	assert_int_equal(c.prefix, 10);
	c = cidr("10.0.0.1/32");
	assert_int_equal(c.prefix, 32);
	c = cidr("::1/128");
	assert_int_equal(c.prefix, 128);
	c = cidr("fe80::/10");
	assert_int_equal(c.prefix, 10);
}

static void test_cidr_parse_errors(void **state)
{
	static const char *bad[] = {
		/* host bits set */
		"10.0.0.1/8", "172.16.0.0/11", "100.64.0.0/9", "192.168.1.0/23", "10.0.0.0/0",
		"1.0.0.0/0", "fe80::/8", "::1/127", "2001:db8::1/64", "128.0.0.0/0",
		/* prefix too large */
		"10.0.0.0/33", "::/129", "10.0.0.0/255", "10.0.0.0/256", "10.0.0.0/99999999999999999999",
		/* junk */
		"", "junk", "10.0.0.0/", "/8", "/", "10.0.0.0/+8", "10.0.0.0/-8", "10.0.0.0/-0",
		"10.0.0.0/8/8", "10.0.0.0/8x", "10.0.0.0/0x8", "10.0.0.0/abc", "10.0.0/8", "host/8",
		"10.0.0.0//8",
		/* spaces */
		" 10.0.0.0/8", "10.0.0.0/8 ", "10.0.0.0 /8", "\t10.0.0.0/8", "10.0.0.0/8\n",
		/* far too long for any CIDR */
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd/64",
	};
	struct cidr c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cidr_parse(bad[i], &c) != -EINVAL)
			fail_msg("cidr_parse(\"%s\") accepted", bad[i]);
	}
	assert_int_equal(cidr_parse(NULL, &c), -EINVAL);
}

static void test_cidr_parse_rejects_space_after_slash(void **state)
{
	struct cidr c;

	/* Was a bug (fixed): user/reach/netclass.c:96-99 rejects '+' and '-' after the slash
	 * but strtol() skips leading whitespace, so "10.0.0.0/ 8" and
	 * "10.0.0.0/\t8" are accepted as /8 (expected -EINVAL). */
	assert_int_equal(cidr_parse("10.0.0.0/ 8", &c), -EINVAL);
	assert_int_equal(cidr_parse("10.0.0.0/\t8", &c), -EINVAL);
}

static void test_cidr_contains_edges(void **state)
{
	/* /0 holds everything of its family only */
	assert_true(contains("0.0.0.0/0", "0.0.0.0"));
	assert_true(contains("0.0.0.0/0", "255.255.255.255"));
	assert_false(contains("0.0.0.0/0", "::1"));
	assert_true(contains("::/0", "2001:db8::1"));
	assert_true(contains("::/0", "::"));
	assert_false(contains("::/0", "1.2.3.4"));
	assert_false(contains("::/0", "::ffff:1.2.3.4")); /* that is v4 */

	/* /32 and /128: exactly one address */
	assert_true(contains("192.0.2.7/32", "192.0.2.7"));
	assert_false(contains("192.0.2.7/32", "192.0.2.6"));
	assert_false(contains("192.0.2.7/32", "192.0.2.8"));
	assert_false(contains("192.0.2.7/32", "::ffff:192.0.2.6"));
	assert_true(contains("2001:db8::1/128", "2001:db8::1"));
	assert_false(contains("2001:db8::1/128", "2001:db8::"));
	assert_false(contains("2001:db8::1/128", "2001:db8::2"));
	assert_false(contains("2001:db8::1/128", "2001:db8:0:0:0:0:0:8001"));

	/* byte boundaries */
	assert_true(contains("10.0.0.0/8", "10.255.255.255"));
	assert_false(contains("10.0.0.0/8", "11.0.0.0"));
	assert_false(contains("10.0.0.0/8", "9.255.255.255"));
	assert_true(contains("192.168.0.0/16", "192.168.255.255"));
	assert_false(contains("192.168.0.0/16", "192.169.0.0"));

	/* /12 */
	assert_true(contains("172.16.0.0/12", "172.16.0.0"));
	assert_true(contains("172.16.0.0/12", "172.31.255.255"));
	assert_false(contains("172.16.0.0/12", "172.32.0.0"));
	assert_false(contains("172.16.0.0/12", "172.15.255.255"));
	/* /10 */
	assert_true(contains("100.64.0.0/10", "100.64.0.0"));
	assert_true(contains("100.64.0.0/10", "100.127.255.255"));
	assert_false(contains("100.64.0.0/10", "100.128.0.0"));
	assert_false(contains("100.64.0.0/10", "100.63.255.255"));
	/* /31, /1 */
	assert_true(contains("192.0.2.6/31", "192.0.2.7"));
	assert_false(contains("192.0.2.6/31", "192.0.2.8"));
	assert_true(contains("128.0.0.0/1", "255.0.0.0"));
	assert_false(contains("128.0.0.0/1", "127.255.255.255"));

	/* v6 non-byte prefixes */
	assert_true(contains("fe80::/10", "fe80::1"));
	assert_true(contains("fe80::/10", "febf:ffff::1"));
	assert_false(contains("fe80::/10", "fec0::1"));
	assert_false(contains("fe80::/10", "fe7f::1"));
	assert_true(contains("fc00::/7", "fc00::"));
	assert_true(contains("fc00::/7", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(contains("fc00::/7", "fe00::"));
	assert_false(contains("fc00::/7", "fbff::1"));
	assert_true(contains("2001:db8::/127", "2001:db8::1"));
	assert_false(contains("2001:db8::/127", "2001:db8::2"));
	assert_true(contains("2001:db8:8000::/33", "2001:db8:ffff::1"));
	assert_false(contains("2001:db8:8000::/33", "2001:db8:7fff::1"));
}

/* ---- classification ---------------------------------------------------- */

static void test_classify_every_class(void **state)
{
	struct netclass nc;

	netclass_init(&nc);
	assert_int_equal(netclass_add_apiserver(&nc, "10.96.0.1:443"), 0);
	assert_int_equal(netclass_add_apiserver(&nc, "[fd00:96::1]:6443"), 0);
	assert_int_equal(netclass_add_cluster_cidr(&nc, "10.244.0.0/16"), 0);
	assert_int_equal(netclass_add_cluster_cidr(&nc, "fd00:244::/64"), 0);

	/* cloud metadata */
	assert_string_equal(classify(&nc, "169.254.169.254", 80, NULL), "cloud-metadata");
	assert_string_equal(classify(&nc, "::ffff:169.254.169.254", 80, NULL), "cloud-metadata");
	assert_string_equal(classify(&nc, "fd00:ec2::254", 80, NULL), "cloud-metadata");
	assert_string_equal(classify(&nc, "169.254.170.2", 80, NULL), "cloud-metadata");
	assert_string_equal(classify(&nc, "169.254.170.23", 80, NULL), "cloud-metadata");
	/* by name, whatever the address */
	assert_string_equal(classify(&nc, "8.8.8.8", 80, "metadata.google.internal"), "cloud-metadata");
	assert_string_equal(classify(&nc, "8.8.8.8", 80, "METADATA.Google.Internal."), "cloud-metadata");
	assert_string_equal(classify(&nc, "10.1.1.1", 80, "metadata"), "cloud-metadata");
	assert_string_equal(classify(&nc, "8.8.8.8", 80, "metadata.google.internal.evil.com"), "external");
	assert_string_equal(classify(&nc, "8.8.8.8", 80, "xmetadata.google.internal"), "external");
	assert_string_equal(classify(&nc, "8.8.8.8", 80, ""), "external");

	/* kube-apiserver: address and port must match */
	assert_string_equal(classify(&nc, "10.96.0.1", 443, NULL), "kube-apiserver");
	assert_string_equal(classify(&nc, "::ffff:10.96.0.1", 443, NULL), "kube-apiserver");
	assert_string_equal(classify(&nc, "10.96.0.1", 80, NULL), "private");
	assert_string_equal(classify(&nc, "10.96.0.2", 443, NULL), "private");
	assert_string_equal(classify(&nc, "fd00:96::1", 6443, NULL), "kube-apiserver");
	assert_string_equal(classify(&nc, "fd00:96::1", 443, NULL), "private");

	/* cluster */
	assert_string_equal(classify(&nc, "10.244.3.7", 8080, NULL), "cluster");
	assert_string_equal(classify(&nc, "fd00:244::7", 8080, NULL), "cluster");
	assert_string_equal(classify(&nc, "10.245.0.1", 8080, NULL), "private");

	/* loopback */
	assert_string_equal(classify(&nc, "127.0.0.1", 80, NULL), "loopback");
	assert_string_equal(classify(&nc, "127.255.255.254", 80, NULL), "loopback");
	assert_string_equal(classify(&nc, "::1", 80, NULL), "loopback");
	assert_string_equal(classify(&nc, "::ffff:127.0.0.1", 80, NULL), "loopback");
	assert_string_equal(classify(&nc, "::2", 80, NULL), "external");

	/* link-local */
	assert_string_equal(classify(&nc, "169.254.1.1", 80, NULL), "link-local");
	assert_string_equal(classify(&nc, "169.254.169.253", 80, NULL), "link-local");
	assert_string_equal(classify(&nc, "169.254.170.3", 80, NULL), "link-local");
	assert_string_equal(classify(&nc, "fe80::1", 80, NULL), "link-local");
	assert_string_equal(classify(&nc, "fd00:ec2::253", 80, NULL), "private");

	/* private */
	assert_string_equal(classify(&nc, "10.0.0.1", 80, NULL), "private");
	assert_string_equal(classify(&nc, "10.255.255.255", 80, NULL), "private");
	assert_string_equal(classify(&nc, "172.16.0.1", 80, NULL), "private");
	assert_string_equal(classify(&nc, "172.31.255.255", 80, NULL), "private");
	assert_string_equal(classify(&nc, "172.32.0.1", 80, NULL), "external");
	assert_string_equal(classify(&nc, "172.15.255.255", 80, NULL), "external");
	assert_string_equal(classify(&nc, "192.168.1.1", 80, NULL), "private");
	assert_string_equal(classify(&nc, "192.169.0.1", 80, NULL), "external");
	assert_string_equal(classify(&nc, "100.64.0.1", 80, NULL), "private");
	assert_string_equal(classify(&nc, "100.127.255.255", 80, NULL), "private");
	assert_string_equal(classify(&nc, "100.128.0.0", 80, NULL), "external");
	assert_string_equal(classify(&nc, "fc00::1", 80, NULL), "private");
	assert_string_equal(classify(&nc, "fd12:3456::1", 80, NULL), "private");

	/* external */
	assert_string_equal(classify(&nc, "8.8.8.8", 53, NULL), "external");
	assert_string_equal(classify(&nc, "2001:db8::1", 443, NULL), "external");
	assert_string_equal(classify(&nc, "1.1.1.1", 443, "one.one.one.one"), "external");
}

static void test_classify_without_configuration(void **state)
{
	struct netclass nc;

	netclass_init(&nc);
	assert_string_equal(classify(&nc, "169.254.169.254", 80, NULL), "cloud-metadata");
	assert_string_equal(classify(&nc, "10.96.0.1", 443, NULL), "private");
	assert_string_equal(classify(&nc, "127.0.0.1", 80, NULL), "loopback");
	assert_string_equal(classify(&nc, "8.8.8.8", 80, NULL), "external");
}

static void test_classify_first_match_order(void **state)
{
	struct netclass nc;

	netclass_init(&nc);
	/* a cluster CIDR holding the metadata address does not hide it */
	assert_int_equal(netclass_add_cluster_cidr(&nc, "169.254.0.0/16"), 0);
	assert_int_equal(netclass_add_cluster_cidr(&nc, "fd00::/8"), 0);
	assert_int_equal(netclass_add_cluster_cidr(&nc, "127.0.0.0/8"), 0);
	assert_int_equal(netclass_add_cluster_cidr(&nc, "10.0.0.0/8"), 0);
	assert_string_equal(classify(&nc, "169.254.169.254", 80, NULL), "cloud-metadata");
	assert_string_equal(classify(&nc, "fd00:ec2::254", 80, NULL), "cloud-metadata");
	assert_string_equal(classify(&nc, "10.0.0.9", 80, "metadata.google.internal"), "cloud-metadata");
	/* cluster beats the fixed ranges */
	assert_string_equal(classify(&nc, "169.254.1.1", 80, NULL), "cluster");
	assert_string_equal(classify(&nc, "fd00::1", 80, NULL), "cluster");
	assert_string_equal(classify(&nc, "127.0.0.1", 80, NULL), "cluster");
	assert_string_equal(classify(&nc, "10.1.2.3", 80, NULL), "cluster");

	/* apiserver inside a cluster CIDR: apiserver wins on its port only */
	assert_int_equal(netclass_add_apiserver(&nc, "10.96.0.1:443"), 0);
	assert_string_equal(classify(&nc, "10.96.0.1", 443, NULL), "kube-apiserver");
	assert_string_equal(classify(&nc, "10.96.0.1", 444, NULL), "cluster");

	/* an apiserver without a port matches every port */
	assert_int_equal(netclass_add_apiserver(&nc, "10.96.0.2"), 0);
	assert_string_equal(classify(&nc, "10.96.0.2", 1, NULL), "kube-apiserver");
	assert_string_equal(classify(&nc, "10.96.0.2", 65535, NULL), "kube-apiserver");
	assert_string_equal(classify(&nc, "10.96.0.2", 0, NULL), "kube-apiserver");

	/* metadata beats an apiserver declared at the metadata address */
	assert_int_equal(netclass_add_apiserver(&nc, "169.254.169.254"), 0);
	assert_string_equal(classify(&nc, "169.254.169.254", 443, NULL), "cloud-metadata");
	/* and the metadata name beats the apiserver address */
	assert_string_equal(classify(&nc, "10.96.0.2", 443, "metadata.google.internal"), "cloud-metadata");
}

/* ---- apiserver endpoints ----------------------------------------------- */

static void test_apiserver_endpoint_forms(void **state)
{
	struct netclass nc;

	netclass_init(&nc);
	assert_int_equal(netclass_add_apiserver(&nc, "10.96.0.1"), 0);
	assert_int_equal(netclass_add_apiserver(&nc, "10.96.0.1:443"), 0);
	assert_int_equal(netclass_add_apiserver(&nc, "[fd00::1]:6443"), 0);
	assert_int_equal(netclass_add_apiserver(&nc, "[fd00::2]"), 0);
	assert_int_equal(netclass_add_apiserver(&nc, "fd00::3"), 0);
	assert_int_equal(netclass_add_apiserver(&nc, "1.2.3.4:1"), 0);
	assert_int_equal(netclass_add_apiserver(&nc, "1.2.3.4:65535"), 0);
	assert_int_equal(netclass_add_apiserver(&nc, "[::ffff:10.0.0.1]:443"), 0);
	assert_int_equal(nc.n_apiserver, 8);

	assert_format(&nc.apiserver[0].addr, "10.96.0.1");
	assert_int_equal(nc.apiserver[0].port, 0);
	assert_int_equal(nc.apiserver[1].port, 443);
	assert_format(&nc.apiserver[2].addr, "fd00::1");
	assert_int_equal(nc.apiserver[2].port, 6443);
	assert_format(&nc.apiserver[3].addr, "fd00::2");
	assert_int_equal(nc.apiserver[3].port, 0);
	assert_format(&nc.apiserver[4].addr, "fd00::3");
	assert_int_equal(nc.apiserver[4].port, 0);
	assert_int_equal(nc.apiserver[5].port, 1);
	assert_int_equal(nc.apiserver[6].port, 65535);
	assert_int_equal(nc.apiserver[7].addr.family, 4);
	assert_format(&nc.apiserver[7].addr, "10.0.0.1");
	assert_int_equal(nc.apiserver[7].port, 443);
}

static void test_apiserver_endpoint_errors(void **state)
{
	static const char *bad[] = {
		"[::1", "1.2.3.4:0", "1.2.3.4:65536", "host.name", "host.name:443", "kubernetes.default.svc",
		"", "[]", "[]:443", "[::1]:", "[::1]x", "[::1]:443x", "[::1]:0", "1.2.3.4:", "1.2.3.4:443x",
		"1.2.3.4:-1", "1.2.3.4:+443", "1.2.3.4:99999999999999999999", ":443", "1.2.3.4:443 ",
		" 1.2.3.4", "1.2.3.4 :443", "[fd00::1]:65536", "[1.2.3.4.5]:1",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd:eeee:ffff:1111:2222",
	};
	struct netclass nc;

	netclass_init(&nc);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (netclass_add_apiserver(&nc, bad[i]) != -EINVAL)
			fail_msg("netclass_add_apiserver(\"%s\") accepted", bad[i]);
	}
	assert_int_equal(netclass_add_apiserver(&nc, NULL), -EINVAL);
	assert_int_equal(nc.n_apiserver, 0);
}

static void test_apiserver_rejects_space_before_port(void **state)
{
	struct netclass nc;

	netclass_init(&nc);
	/* Was a bug (fixed): user/reach/netclass.c:139-142 (parse_port) rejects '+' and '-'
	 * but strtol() skips leading whitespace, so "1.2.3.4: 443" and
	 * "[::1]: 443" are accepted with port 443 (expected -EINVAL). */
	assert_int_equal(netclass_add_apiserver(&nc, "1.2.3.4: 443"), -EINVAL);
	assert_int_equal(netclass_add_apiserver(&nc, "[::1]: 443"), -EINVAL);
	assert_int_equal(nc.n_apiserver, 0);
}

/* ---- environment ------------------------------------------------------- */

static int env_teardown(void **state)
{
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	return 0;
}

static void test_apiserver_from_env(void **state)
{
	struct netclass nc;

	/* absent: nothing added, not an error */
	netclass_init(&nc);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_int_equal(netclass_add_apiserver_from_env(&nc), 0);
	assert_int_equal(nc.n_apiserver, 0);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(netclass_add_apiserver_from_env(&nc), 0); /* port alone */
	assert_int_equal(nc.n_apiserver, 0);
	setenv("KUBERNETES_SERVICE_HOST", "", 1);
	assert_int_equal(netclass_add_apiserver_from_env(&nc), 0); /* empty host */
	assert_int_equal(nc.n_apiserver, 0);

	/* v4 host and port */
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(netclass_add_apiserver_from_env(&nc), 0);
	assert_int_equal(nc.n_apiserver, 1);
	assert_format(&nc.apiserver[0].addr, "10.96.0.1");
	assert_int_equal(nc.apiserver[0].port, 443);
	assert_string_equal(classify(&nc, "10.96.0.1", 443, NULL), "kube-apiserver");
	assert_string_equal(classify(&nc, "10.96.0.1", 80, NULL), "private");

	/* v6 host gets brackets */
	setenv("KUBERNETES_SERVICE_HOST", "fd00:96::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	assert_int_equal(netclass_add_apiserver_from_env(&nc), 0);
	assert_int_equal(nc.n_apiserver, 2);
	assert_format(&nc.apiserver[1].addr, "fd00:96::1");
	assert_int_equal(nc.apiserver[1].port, 6443);

	/* host without port, and with an empty port: any port */
	unsetenv("KUBERNETES_SERVICE_PORT");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.2", 1);
	assert_int_equal(netclass_add_apiserver_from_env(&nc), 0);
	assert_int_equal(nc.n_apiserver, 3);
	assert_int_equal(nc.apiserver[2].port, 0);
	setenv("KUBERNETES_SERVICE_PORT", "", 1);
	setenv("KUBERNETES_SERVICE_HOST", "fd00:96::2", 1);
	assert_int_equal(netclass_add_apiserver_from_env(&nc), 0);
	assert_int_equal(nc.n_apiserver, 4);
	assert_int_equal(nc.apiserver[3].port, 0);
	assert_format(&nc.apiserver[3].addr, "fd00:96::2");

	/* not an address, bad ports */
	setenv("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(netclass_add_apiserver_from_env(&nc), -EINVAL);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "https", 1);
	assert_int_equal(netclass_add_apiserver_from_env(&nc), -EINVAL);
	setenv("KUBERNETES_SERVICE_PORT", "0", 1);
	assert_int_equal(netclass_add_apiserver_from_env(&nc), -EINVAL);
	setenv("KUBERNETES_SERVICE_PORT", "70000", 1);
	assert_int_equal(netclass_add_apiserver_from_env(&nc), -EINVAL);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1:443", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(netclass_add_apiserver_from_env(&nc), -EINVAL);
	/* a very long value must not be truncated into something valid */
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT",
	       "443aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1);
	assert_int_equal(netclass_add_apiserver_from_env(&nc), -EINVAL);
	assert_int_equal(nc.n_apiserver, 4);
}

/* ---- caps -------------------------------------------------------------- */

static void test_caps(void **state)
{
	struct netclass nc;
	char buf[64];

	netclass_init(&nc);
	for (int i = 0; i < NETCLASS_MAX_CIDRS; i++) {
		snprintf(buf, sizeof(buf), "10.%d.0.0/16", i);
		assert_int_equal(netclass_add_cluster_cidr(&nc, buf), 0);
	}
	assert_int_equal(nc.n_cluster, NETCLASS_MAX_CIDRS);
	assert_int_equal(netclass_add_cluster_cidr(&nc, "192.168.0.0/16"), -ENOSPC);
	assert_int_equal(netclass_add_cluster_cidr(&nc, "junk"), -EINVAL);
	assert_int_equal(nc.n_cluster, NETCLASS_MAX_CIDRS);
	assert_string_equal(classify(&nc, "10.63.1.1", 80, NULL), "cluster");
	assert_string_equal(classify(&nc, "10.64.1.1", 80, NULL), "private");

	for (int i = 0; i < NETCLASS_MAX_APISERVERS; i++) {
		snprintf(buf, sizeof(buf), "10.96.0.%d:443", i + 1);
		assert_int_equal(netclass_add_apiserver(&nc, buf), 0);
	}
	assert_int_equal(nc.n_apiserver, NETCLASS_MAX_APISERVERS);
	assert_int_equal(netclass_add_apiserver(&nc, "10.96.1.1:443"), -ENOSPC);
	assert_int_equal(netclass_add_apiserver(&nc, "[::1"), -EINVAL);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.2.1", 1);
	assert_int_equal(netclass_add_apiserver_from_env(&nc), -ENOSPC);
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(nc.n_apiserver, NETCLASS_MAX_APISERVERS);
	assert_string_equal(classify(&nc, "10.96.0.16", 443, NULL), "kube-apiserver");
	assert_string_equal(classify(&nc, "10.96.1.1", 443, NULL), "private");
}

static void test_v4_mapped_cidr_prefix_counts_ipv6_bits(void **state)
{
	struct cidr c;
	struct netaddr in, out;

	(void)state;
	assert_int_equal(cidr_parse("::ffff:10.0.0.0/104", &c), 0);
	assert_int_equal(c.net.family, 4);
	assert_int_equal(c.prefix, 8);
	assert_int_equal(netaddr_parse("10.200.1.2", &in), 0);
	assert_int_equal(netaddr_parse("11.0.0.1", &out), 0);
	assert_true(cidr_contains(&c, &in));
	assert_false(cidr_contains(&c, &out));
	/* a mapped address with an IPv4-sized prefix is a typo, not /8 */
	assert_int_equal(cidr_parse("::ffff:10.0.0.0/8", &c), -EINVAL);
	assert_int_equal(cidr_parse("::ffff:10.0.0.0/95", &c), -EINVAL);
	assert_int_equal(cidr_parse("::ffff:10.0.0.1/104", &c), -EINVAL); /* host bits */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_mapped_cidr_prefix_counts_ipv6_bits),
		cmocka_unit_test(test_parse_format_round_trip),
		cmocka_unit_test(test_v4_mapped_is_v4_everywhere),
		cmocka_unit_test(test_parse_rejects_junk),
		cmocka_unit_test(test_equal_and_format_edges),
		cmocka_unit_test(test_cidr_parse_valid),
		cmocka_unit_test(test_cidr_parse_errors),
		cmocka_unit_test(test_cidr_parse_rejects_space_after_slash),
		cmocka_unit_test(test_cidr_contains_edges),
		cmocka_unit_test(test_classify_every_class),
		cmocka_unit_test(test_classify_without_configuration),
		cmocka_unit_test(test_classify_first_match_order),
		cmocka_unit_test(test_apiserver_endpoint_forms),
		cmocka_unit_test(test_apiserver_endpoint_errors),
		cmocka_unit_test(test_apiserver_rejects_space_before_port),
		cmocka_unit_test_teardown(test_apiserver_from_env, env_teardown),
		cmocka_unit_test_teardown(test_caps, env_teardown),
	};

	return cmocka_run_group_tests_name("netclass", tests, NULL, NULL);
}
