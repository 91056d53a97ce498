/* The matchers the verifier applies to observed edges: wildcard host names,
 * egress destinations (names, CIDRs, ports, protocol) and credential uses. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "policy/policy_match.h"
#include "common/glob.h"
#include "reach/netclass.h"

static size_t host_len(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && s[len - 1] == '.' ? len - 1 : len;
}

/* "*" matches one or more characters, dots included; everything else is
 * literal and case-insensitive. Greedy with backtracking to the last star
 * only: O(pattern * host) at worst, never exponential. */
static bool wildcard_match(const char *p, size_t plen, const char *s, size_t slen)
{
	size_t pi = 0, si = 0, star_p = 0, star_s = 0;
	bool have_star = false;

	while (si < slen) {
		if (pi < plen && p[pi] == '*') {
			have_star = true;
			star_p = pi++;
			star_s = ++si;  /* the star takes one character at least */
			continue;
		}
		if (pi < plen && tolower((unsigned char)p[pi]) == tolower((unsigned char)s[si])) {
			pi++;
			si++;
			continue;
		}
		if (!have_star)
			return false;
		pi = star_p + 1;  /* the last star takes one more character */
		si = ++star_s;
	}
	return pi == plen;
}

bool policy_host_matches(const char *pattern, const char *host)
{
	size_t plen, hlen;

	if (!pattern || !host)
		return false;
	plen = host_len(pattern);
	hlen = host_len(host);
	if (plen == 0 || hlen == 0)
		return false;
	return wildcard_match(pattern, plen, host, hlen);
}

/* A rule host that is an IP literal compares as an address, so that
 * "2001:db8::1" and "2001:0db8::0001" are the same destination. */
static bool host_or_address_matches(const char *pattern, const char *host)
{
	struct netaddr want, got;

	if (netaddr_parse(pattern, &want) == 0)
		return host && netaddr_parse(host, &got) == 0 && netaddr_equal(&want, &got);
	return policy_host_matches(pattern, host);
}

bool policy_egress_matches(const struct policy_egress *rule, const char *proto, const struct netaddr *addr,
			   const char *dns_name, uint16_t port)
{
	struct netaddr literal;
	size_t i;

	if (!rule)
		return false;
	if (rule->proto[0] && (!proto || strcasecmp(rule->proto, proto) != 0))
		return false;
	if (rule->n_ports) {
		for (i = 0; i < rule->n_ports; i++)
			if (rule->ports[i] == port)
				break;
		if (i == rule->n_ports)
			return false;
	}
	if (rule->has_cidr)
		return addr && cidr_contains(&rule->cidr, addr);
	if (netaddr_parse(rule->host, &literal) == 0)
		return addr && netaddr_equal(&literal, addr);
	return dns_name && policy_host_matches(rule->host, dns_name);
}

static bool any_glob(const char (*globs)[32], size_t n, const char *value)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (glob_match(globs[i], value))
			return true;
	return false;
}

/* Also the verifier's and suggest's: one definition of "the host a
 * credential rule compares". */
void host_without_port(const char *host, char *out, size_t n)
{
	const char *colon, *d;
	size_t len;

	if (!n)
		return;
	if (!host)
		host = "";
	len = strlen(host);
	if (host[0] == '[') {
		const char *close = strchr(host, ']');

		if (close && (close[1] == '\0' || close[1] == ':')) {
			host++;
			len = (size_t)(close - host);
		}
	} else if ((colon = strchr(host, ':')) && !strchr(colon + 1, ':')) {
		for (d = colon + 1; *d >= '0' && *d <= '9'; d++)
			;
		if (!*d)
			len = (size_t)(colon - host);
	}
	if (len >= n)
		len = n - 1;
	memcpy(out, host, len);
	out[len] = '\0';
}

bool policy_credential_matches(const struct policy_credential *rule, const char *host, const char *kind,
			       const char *path_template, const char *fingerprint)
{
	char bare[1024];
	size_t i;

	if (!rule || !host)
		return false;
	host_without_port(host, bare, sizeof(bare));
	if (!host_or_address_matches(rule->host, bare))
		return false;
	if (rule->n_kinds && (!kind || !any_glob(rule->kinds, rule->n_kinds, kind)))
		return false;
	if (rule->n_paths) {
		if (!path_template)
			return false;
		for (i = 0; i < rule->n_paths; i++)
			if (glob_match(rule->paths[i], path_template))
				break;
		if (i == rule->n_paths)
			return false;
	}
	if (rule->n_fingerprints) {
		if (!fingerprint)
			return false;
		for (i = 0; i < rule->n_fingerprints; i++)
			if (strcmp(rule->fingerprints[i], fingerprint) == 0)
				break;
		if (i == rule->n_fingerprints)
			return false;
	}
	return true;
}
