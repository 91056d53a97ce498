#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "reach/dnsnames.h"
#include "reach/netclass.h"

static struct netaddr addr(const char *s)
{
	struct netaddr a;

	assert_int_equal(netaddr_parse(s, &a), 0);
	return a;
}

static struct netaddr addr_n(uint32_t n)
{
	uint8_t b[4] = { 10, (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
	struct netaddr a;

	netaddr_from_raw(&a, 2, b);
	return a;
}

static int setup(void **state)
{
	*state = dnsnames_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	dnsnames_free(*state);
	return 0;
}

static void test_empty(void **state)
{
	struct dnsnames *d = *state;
	struct netaddr a = addr("1.2.3.4");
	uint32_t ttl = 77;

	assert_null(dnsnames_get(d, 1, &a, &ttl));
	assert_int_equal(ttl, 77); /* untouched on a miss */
	assert_null(dnsnames_get(d, 1, &a, NULL));
	assert_int_equal(dnsnames_dropped(d), 0);
	dnsnames_free(NULL);
}

static void test_put_get_with_ttl(void **state)
{
	struct dnsnames *d = *state;
	struct netaddr a = addr("104.18.6.192"), b = addr("2606:4700::6812:6c0");
	uint32_t ttl = 0;

	assert_int_equal(dnsnames_put(d, 42, &a, "api.openai.com", 300), 0);
	assert_int_equal(dnsnames_put(d, 42, &b, "api.openai.com", 60), 0);
	assert_string_equal(dnsnames_get(d, 42, &a, &ttl), "api.openai.com");
	assert_int_equal(ttl, 300);
	assert_string_equal(dnsnames_get(d, 42, &b, &ttl), "api.openai.com");
	assert_int_equal(ttl, 60);
	assert_string_equal(dnsnames_get(d, 42, &a, NULL), "api.openai.com");
	/* provenance: a DNS answer, then an SNI name for another address */
	assert_int_equal(dnsnames_source(d, 42, &a), NAME_SOURCE_DNS);
	assert_int_equal(dnsnames_source(d, 43, &a), NAME_SOURCE_NONE);
	assert_string_equal(name_source_name(NAME_SOURCE_DNS), "dns");
	assert_string_equal(name_source_name(NAME_SOURCE_SNI), "sni");
	assert_null(name_source_name(NAME_SOURCE_NONE));
	assert_null(name_source_name(9));
	assert_int_equal(dnsnames_put_from(d, 42, &b, "svc.example.net", 300, NAME_SOURCE_SNI), 0);
	assert_int_equal(dnsnames_source(d, 42, &b), NAME_SOURCE_SNI);
	assert_int_equal(dnsnames_put(d, 42, &b, "api.openai.com", 60), 0); /* the latest wins, with its source */
	assert_int_equal(dnsnames_source(d, 42, &b), NAME_SOURCE_DNS);

	/* other addresses are not labelled */
	a = addr("104.18.6.193");
	assert_null(dnsnames_get(d, 42, &a, &ttl));

	/* edge ttl values */
	a = addr("1.1.1.1");
	assert_int_equal(dnsnames_put(d, 42, &a, "one", 0), 0);
	assert_string_equal(dnsnames_get(d, 42, &a, &ttl), "one");
	assert_int_equal(ttl, 0);
	assert_int_equal(dnsnames_put(d, 42, &a, "one", UINT32_MAX), 0);
	assert_string_equal(dnsnames_get(d, 42, &a, &ttl), "one");
	assert_int_equal(ttl, UINT32_MAX);
	assert_int_equal(dnsnames_dropped(d), 0);
}

static void test_per_cgroup_isolation(void **state)
{
	struct dnsnames *d = *state;
	struct netaddr a = addr("151.101.1.69");
	uint32_t ttl = 0;

	assert_int_equal(dnsnames_put(d, 100, &a, "pypi.org", 30), 0);
	assert_null(dnsnames_get(d, 101, &a, &ttl));
	assert_null(dnsnames_get(d, 0, &a, &ttl));
	assert_null(dnsnames_get(d, 1000, &a, &ttl)); /* not a prefix match on the id */
	assert_null(dnsnames_get(d, 10, &a, &ttl));

	assert_int_equal(dnsnames_put(d, 101, &a, "files.pythonhosted.org", 40), 0);
	assert_string_equal(dnsnames_get(d, 100, &a, &ttl), "pypi.org");
	assert_int_equal(ttl, 30);
	assert_string_equal(dnsnames_get(d, 101, &a, &ttl), "files.pythonhosted.org");
	assert_int_equal(ttl, 40);

	/* extreme cgroup ids */
	assert_int_equal(dnsnames_put(d, UINT64_MAX, &a, "max", 1), 0);
	assert_int_equal(dnsnames_put(d, 0, &a, "zero", 2), 0);
	assert_string_equal(dnsnames_get(d, UINT64_MAX, &a, &ttl), "max");
	assert_int_equal(ttl, 1);
	assert_string_equal(dnsnames_get(d, 0, &a, &ttl), "zero");
	assert_int_equal(ttl, 2);
	assert_string_equal(dnsnames_get(d, 100, &a, NULL), "pypi.org");
}

static void test_latest_answer_wins(void **state)
{
	struct dnsnames *d = *state;
	struct netaddr a = addr("13.107.42.14");
	uint32_t ttl = 0;

	assert_int_equal(dnsnames_put(d, 7, &a, "first.example", 100), 0);
	assert_int_equal(dnsnames_put(d, 7, &a, "second.example.with.a.much.longer.name", 5), 0);
	assert_string_equal(dnsnames_get(d, 7, &a, &ttl), "second.example.with.a.much.longer.name");
	assert_int_equal(ttl, 5);
	assert_int_equal(dnsnames_put(d, 7, &a, "x", 9), 0);
	assert_string_equal(dnsnames_get(d, 7, &a, &ttl), "x");
	assert_int_equal(ttl, 9);
	/* same name again, new ttl */
	assert_int_equal(dnsnames_put(d, 7, &a, "x", 10), 0);
	assert_string_equal(dnsnames_get(d, 7, &a, &ttl), "x");
	assert_int_equal(ttl, 10);
}

static void test_name_is_copied(void **state)
{
	struct dnsnames *d = *state;
	struct netaddr a = addr("9.9.9.9");
	char name[256];

	memset(name, 'q', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(dnsnames_put(d, 1, &a, name, 1), 0);
	memset(name, 'z', 5);
	assert_int_equal(strlen(dnsnames_get(d, 1, &a, NULL)), sizeof(name) - 1);
	assert_int_equal(dnsnames_get(d, 1, &a, NULL)[0], 'q');
	assert_int_equal(dnsnames_put(d, 1, &a, "", 1), 0);
	assert_string_equal(dnsnames_get(d, 1, &a, NULL), "");
}

static void test_v4_mapped_and_v4_are_the_same_key(void **state)
{
	struct dnsnames *d = *state;
	struct netaddr v4 = addr("1.2.3.4"), raw;
	const uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4 };

	assert_int_equal(dnsnames_put(d, 5, &v4, "v4.example", 1), 0);
	netaddr_from_raw(&raw, 10, mapped);
	assert_string_equal(dnsnames_get(d, 5, &raw, NULL), "v4.example");
	/* v6 address with the same low bytes is different */
	raw = addr("::102:304");
	assert_null(dnsnames_get(d, 5, &raw, NULL));
}

static void test_cap_and_dropped(void **state)
{
	struct dnsnames *d = *state;
	struct netaddr a, first = addr_n(0), last = addr_n(DNSNAMES_MAX - 1);
	uint32_t ttl = 0;
	char name[32];

	for (uint32_t i = 0; i < DNSNAMES_MAX; i++) {
		a = addr_n(i);
		snprintf(name, sizeof(name), "h%u.example", i);
		if (dnsnames_put(d, 1, &a, name, i) != 0)
			fail_msg("put %u failed below the cap", i);
	}
	assert_int_equal(dnsnames_dropped(d), 0);
	assert_string_equal(dnsnames_get(d, 1, &first, &ttl), "h0.example");
	assert_int_equal(ttl, 0);
	snprintf(name, sizeof(name), "h%u.example", DNSNAMES_MAX - 1);
	assert_string_equal(dnsnames_get(d, 1, &last, &ttl), name);
	assert_int_equal(ttl, DNSNAMES_MAX - 1);

	/* past the cap: a new key is dropped and counted, in any cgroup */
	a = addr_n(DNSNAMES_MAX);
	assert_int_equal(dnsnames_put(d, 1, &a, "new.example", 1), -ENOSPC);
	assert_int_equal(dnsnames_dropped(d), 1);
	assert_null(dnsnames_get(d, 1, &a, NULL));
	assert_int_equal(dnsnames_put(d, 2, &first, "other.cgroup", 1), -ENOSPC);
	assert_int_equal(dnsnames_dropped(d), 2);
	assert_null(dnsnames_get(d, 2, &first, NULL));

	/* an existing key can still be refreshed at the cap, not dropped */
	assert_int_equal(dnsnames_put(d, 1, &first, "renamed.example", 99), 0);
	assert_string_equal(dnsnames_get(d, 1, &first, &ttl), "renamed.example");
	assert_int_equal(ttl, 99);
	assert_int_equal(dnsnames_dropped(d), 2);

	/* the count only grows */
	for (int i = 0; i < 10; i++)
		assert_int_equal(dnsnames_put(d, 3, &a, "x", 1), -ENOSPC);
	assert_int_equal(dnsnames_dropped(d), 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_get_with_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_cgroup_isolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_latest_answer_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_is_copied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v4_mapped_and_v4_are_the_same_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_and_dropped, setup, teardown),
	};

	return cmocka_run_group_tests_name("dnsnames", tests, NULL, NULL);
}
