/* A strict, bounded parser of DNS responses (RFC 1035) as monitored
 * processes receive them. Untrusted bytes: every offset is checked,
 * compression pointers must point strictly backwards (no loops), names are
 * bounded; anything malformed is rejected whole, never half-used. */
#ifndef REACH_DNS_H
#define REACH_DNS_H

#include <stddef.h>
#include <stdint.h>
#include "reach/netclass.h"

#define DNS_NAME_MAX 256   /* presentation form incl. NUL */
#define DNS_MAX_ANSWERS 32

struct dns_answer {
	struct netaddr addr;  /* A or AAAA data */
	uint32_t ttl;
};

struct dns_response {
	char qname[DNS_NAME_MAX]; /* the name asked for, lower case, no trailing dot */
	uint16_t qtype;
	uint16_t rcode;
	struct dns_answer answers[DNS_MAX_ANSWERS];
	size_t n_answers;
	size_t n_skipped;     /* answers beyond DNS_MAX_ANSWERS */
};

/* 0; -EBADMSG when malformed (truncated, bad pointer, loop, bad label,
 * counts that do not fit); -ENOMSG when it is a query, not a response, or
 * has no question. */
int dns_parse_response(const uint8_t *msg, size_t len, struct dns_response *out);

#endif
