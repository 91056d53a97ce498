/* libFuzzer target for the DNS response parser.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Iuser \
 *          tests/fuzz/fuzz_dns.c user/reach/dns.c user/reach/netclass.c -o build/fuzz/fuzz_dns
 * Run:   tests/fuzz/run.sh [seconds] */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "reach/dns.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_response r;
	/* an exact-size copy so ASan catches any read one past the end */
	uint8_t *copy = malloc(size ? size : 1);
	int rc;

	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	rc = dns_parse_response(copy, size, &r);
	CHECK(rc == 0 || rc == -EBADMSG || rc == -ENOMSG);
	if (rc == 0) {
		const char *nul = memchr(r.qname, '\0', DNS_NAME_MAX);

		CHECK(nul != NULL);
		/* 253 is the RFC 1035 maximum; 254 is tolerated here because the parser
		 * currently accepts a 256-octet wire name (see test_dns.c,
		 * test_name_of_256_wire_octets) -- the fuzzer hunts memory errors. */
		CHECK((size_t)(nul - r.qname) <= 254);
		for (const char *p = r.qname; p < nul; p++)
			CHECK(*p > ' ' && *p < 0x7f && !(*p >= 'A' && *p <= 'Z'));
		CHECK(r.n_answers <= DNS_MAX_ANSWERS);
		CHECK(r.n_skipped == 0 || r.n_answers == DNS_MAX_ANSWERS);
		/* every answer costs at least 1 + 10 + 4 bytes after the header and question */
		CHECK(12 + 5 + (r.n_answers + r.n_skipped) * 15 <= size);
		for (size_t i = 0; i < r.n_answers; i++)
			CHECK(r.answers[i].addr.family == 4 || r.answers[i].addr.family == 6);
		for (size_t i = 0; i < r.n_answers; i++)
			CHECK(r.answers[i].ttl <= 0x7fffffffu);
		CHECK(r.rcode <= 15);
	}
	free(copy);
	return 0;
}
