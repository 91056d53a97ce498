/* Matchers of policy rules against edge fields: the same rules the
 * verifier, the suggester and the tests apply (user/policy/policy_match.c). */
#ifndef REACH_POLICY_MATCH_H
#define REACH_POLICY_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "policy/policy.h"

bool policy_host_matches(const char *pattern, const char *host);      /* case-insensitive, "*" = one or more labels' worth of chars except none */
bool policy_egress_matches(const struct policy_egress *rule, const char *proto, const struct netaddr *addr,
			   const char *dns_name, uint16_t port);
bool policy_credential_matches(const struct policy_credential *rule, const char *host, const char *kind,
			       const char *path_template, const char *fingerprint);

/* A Host header value without its port, as the credential matcher compares
 * it: "api.example.com:8443" -> "api.example.com", "[2001:db8::1]:443" ->
 * "2001:db8::1"; a bare IPv6 address is left alone. */
void host_without_port(const char *host, char *out, size_t out_size);

#endif
