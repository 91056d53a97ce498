#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "identity/identity.h"

/* Container and pod paths as the kubelet lays them out (same shapes as the
 * cgpath fixture). */
#define POD_UID_US "3f1c2d4e_1111_4a5b_9c8d_0123456789ab"
#define CID "4e8a0b7c1d2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b"
#define SYSTEMD_POD                                                                                                   \
	"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" POD_UID_US ".slice"
#define SYSTEMD_CONTAINER SYSTEMD_POD "/cri-containerd-" CID ".scope"
#define CGROUPFS_CONTAINER "/kubepods/besteffort/pod3f1c2d4e-1111-4a5b-9c8d-0123456789ab/" CID
#define CONMON_PATH SYSTEMD_POD "/crio-conmon-" CID ".scope"

/* ---- helpers ------------------------------------------------------------- */

static int setup(void **state)
{
	struct identity_resolver *r = identity_resolver_new(NULL);

	if (!r)
		return -1;
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	identity_resolver_free(*state);
	return 0;
}

/* Resolves into an exactly sized heap block, so that valgrind sees any write
 * past the end of struct identity. The caller frees it. */
static struct identity *resolve(struct identity_resolver *r, const char *path, uint32_t uid)
{
	struct identity *id = malloc(sizeof(*id));

	assert_non_null(id);
	memset(id, 0xa5, sizeof(*id)); /* garbage: resolve must set everything */
	assert_int_equal(identity_resolve(r, 42, path, uid, id), 0);
	return id;
}

static bool nul_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static void assert_all_terminated(const struct identity *id)
{
	assert_true(nul_terminated(id->name, sizeof(id->name)));
	assert_true(nul_terminated(id->pod, sizeof(id->pod)));
	assert_true(nul_terminated(id->container, sizeof(id->container)));
	assert_true(nul_terminated(id->image, sizeof(id->image)));
	assert_true(nul_terminated(id->image_id, sizeof(id->image_id)));
	assert_true(nul_terminated(id->cgroup_path, sizeof(id->cgroup_path)));
}

/* name is "unknown" + path, the identity resolved (not held). */
static void assert_unknown(struct identity_resolver *r, const char *path, uint32_t uid)
{
	struct identity *id = resolve(r, path, uid);
	char want[600];

	snprintf(want, sizeof(want), "unknown%s", path);
	assert_int_equal(id->state, IDENTITY_RESOLVED);
	assert_string_equal(id->name, want);
	assert_string_equal(id->pod, "");
	free(id);
}

static void assert_name(struct identity_resolver *r, const char *path, uint32_t uid, const char *want)
{
	struct identity *id = resolve(r, path, uid);

	assert_int_equal(id->state, IDENTITY_RESOLVED);
	assert_string_equal(id->name, want);
	assert_string_equal(id->cgroup_path, path);
	assert_string_equal(id->pod, "");
	assert_string_equal(id->container, "");
	assert_string_equal(id->image, "");
	assert_string_equal(id->image_id, "");
	assert_all_terminated(id);
	free(id);
}

/* ---- identity_add_rule: parsing ----------------------------------------- */

static void test_rule_valid_forms(void **state)
{
	struct identity_resolver *r = *state;

	assert_int_equal(identity_add_rule(r, "cgroup:/system.slice/llm-*.service team/llm"), 0);
	assert_int_equal(identity_add_rule(r, "cgroup:/** host/everything"), 0);
	assert_int_equal(identity_add_rule(r, "cgroup:/ host/root-cgroup"), 0);
	assert_int_equal(identity_add_rule(r, "uid:0 host/root"), 0);
	assert_int_equal(identity_add_rule(r, "uid:4294967295 host/max-uid"), 0);
	assert_int_equal(identity_add_rule(r, "uid:007 host/leading-zeros"), 0);
	/* tab and runs of blanks between key and identity */
	assert_int_equal(identity_add_rule(r, "uid:1001\thost/tab"), 0);
	assert_int_equal(identity_add_rule(r, "uid:1002  \t host/blanks"), 0);
}

static void test_rule_valid_rules_take_effect(void **state)
{
	struct identity_resolver *r = *state;

	assert_int_equal(identity_add_rule(r, "uid:1001\thost/tab"), 0);
	assert_int_equal(identity_add_rule(r, "uid:4294967295 host/max-uid"), 0);
	assert_int_equal(identity_add_rule(r, "uid:007 host/seven"), 0);
	assert_name(r, "/foo", 1001, "host/tab");
	assert_name(r, "/foo", UINT32_MAX, "host/max-uid");
	assert_name(r, "/foo", 7, "host/seven");
}

static void test_rule_missing_identity(void **state)
{
	struct identity_resolver *r = *state;

	assert_int_equal(identity_add_rule(r, ""), -EINVAL);
	assert_int_equal(identity_add_rule(r, "cgroup:/system.slice/*"), -EINVAL);
	assert_int_equal(identity_add_rule(r, "uid:1000"), -EINVAL);
	assert_int_equal(identity_add_rule(r, "uid:1000 "), -EINVAL);
	assert_int_equal(identity_add_rule(r, "uid:1000 \t "), -EINVAL);
	assert_int_equal(identity_add_rule(r, "cgroup:/x\t"), -EINVAL);
	/* a blank first: no key */
	assert_int_equal(identity_add_rule(r, " host/x"), -EINVAL);
}

static void test_rule_extra_words(void **state)
{
	struct identity_resolver *r = *state;

	assert_int_equal(identity_add_rule(r, "uid:1000 host/a host/b"), -EINVAL);
	assert_int_equal(identity_add_rule(r, "uid:1000 host/a\textra"), -EINVAL);
	assert_int_equal(identity_add_rule(r, "cgroup:/system.slice/* host/a b"), -EINVAL);
	assert_int_equal(identity_add_rule(r, "uid:1000 host/a "), -EINVAL);
}

static void test_rule_bad_keys(void **state)
{
	struct identity_resolver *r = *state;

	/* relative or empty cgroup globs */
	assert_int_equal(identity_add_rule(r, "cgroup:system.slice/* host/x"), -EINVAL);
	assert_int_equal(identity_add_rule(r, "cgroup:* host/x"), -EINVAL);
	assert_int_equal(identity_add_rule(r, "cgroup: host/x"), -EINVAL);
	/* unknown key kinds */
	assert_int_equal(identity_add_rule(r, "gid:5 host/x"), -EINVAL);
	assert_int_equal(identity_add_rule(r, "/system.slice/* host/x"), -EINVAL);
	assert_int_equal(identity_add_rule(r, "CGROUP:/x host/x"), -EINVAL);
	assert_int_equal(identity_add_rule(r, "host/x"), -EINVAL);
}

static void test_rule_uid_overflow_junk_sign(void **state)
{
	struct identity_resolver *r = *state;
	static const char *const bad[] = {
		"uid:4294967296 host/x",          /* UINT32_MAX + 1 */
		"uid:18446744073709551615 host/x", /* ULONG_MAX */
		"uid:18446744073709551616 host/x", /* beyond ULONG_MAX */
		"uid:99999999999999999999999999 host/x",
		"uid:12a host/x",
		"uid:a12 host/x",
		"uid:0x10 host/x",
		"uid:1.5 host/x",
		"uid:-1 host/x",
		"uid:+1 host/x",
		"uid:-0 host/x",
		"uid: host/x",
		"uid: 5 host/x",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (identity_add_rule(r, bad[i]) != -EINVAL)
			fail_msg("rule \"%s\" accepted", bad[i]);
	}
	/* nothing of the refused rules took effect: uid 12, 1, 0xffffffff
	 * (-1 as uint32) and 0 still resolve by their path */
	assert_unknown(r, "/foo", 12);
	assert_unknown(r, "/foo", 1);
	assert_unknown(r, "/foo", UINT32_MAX);
	assert_unknown(r, "/foo", 0);
	assert_unknown(r, "/foo", 16);
}

static void test_rule_lengths(void **state)
{
	struct identity_resolver *r = *state;
	char rule[1024], name[300], glob[300];

	/* identity: 255 characters fit, 256 do not */
	memset(name, 'n', 255);
	name[255] = '\0';
	snprintf(rule, sizeof(rule), "uid:5 %s", name);
	assert_int_equal(identity_add_rule(r, rule), 0);
	assert_name(r, "/x", 5, name);
	memset(name, 'n', 256);
	name[256] = '\0';
	snprintf(rule, sizeof(rule), "uid:6 %s", name);
	assert_int_equal(identity_add_rule(r, rule), -EINVAL);

	/* glob: 255 characters fit, 256 do not */
	glob[0] = '/';
	memset(glob + 1, 'g', 254);
	glob[255] = '\0';
	snprintf(rule, sizeof(rule), "cgroup:%s host/long-glob", glob);
	assert_int_equal(identity_add_rule(r, rule), 0);
	assert_name(r, glob, 1, "host/long-glob");
	glob[255] = 'g';
	glob[256] = '\0';
	snprintf(rule, sizeof(rule), "cgroup:%s host/too-long", glob);
	assert_int_equal(identity_add_rule(r, rule), -EINVAL);
	assert_unknown(r, glob, 1);
}

static void test_rule_too_many(void **state)
{
	struct identity_resolver *r = *state;
	char rule[64];

	for (int i = 0; i < IDENTITY_MAX_RULES; i++) {
		snprintf(rule, sizeof(rule), "uid:%d host/u%d", 10000 + i, i);
		assert_int_equal(identity_add_rule(r, rule), 0);
	}
	assert_int_equal(identity_add_rule(r, "uid:1 host/one-too-many"), -ENOSPC);
	assert_int_equal(identity_add_rule(r, "cgroup:/** host/one-too-many"), -ENOSPC);
	/* the rules that fit all work; the refused one does not */
	assert_name(r, "/x", 10000, "host/u0");
	assert_name(r, "/x", 10000 + IDENTITY_MAX_RULES - 1, "host/u63");
	assert_unknown(r, "/x", 1);
}

/* ---- identity_resolve without Kubernetes -------------------------------- */

static void test_resolve_cgroup_rule_beats_layout(void **state)
{
	struct identity_resolver *r = *state;

	assert_int_equal(identity_add_rule(r, "cgroup:/system.slice/llm-*.service team/llm"), 0);
	assert_int_equal(identity_add_rule(r, "cgroup:/kubepods.slice/** team/pods"), 0);
	/* a systemd unit that the layout would call host/llm-gateway */
	assert_name(r, "/system.slice/llm-gateway.service", 0, "team/llm");
	/* a kube container: the rule resolves it at once (not pending) */
	assert_name(r, SYSTEMD_CONTAINER, 0, "team/pods");
	/* units the glob does not match keep their layout name */
	assert_name(r, "/system.slice/sshd.service", 0, "host/sshd");
	/* '*' does not cross '/' */
	assert_name(r, "/system.slice/llm-x.service/child", 0, "host/llm-x");
}

static void test_resolve_uid_rule(void **state)
{
	struct identity_resolver *r = *state;

	assert_int_equal(identity_add_rule(r, "uid:1001 host/batch"), 0);
	assert_name(r, "/system.slice/cron.service", 1001, "host/batch");
	assert_name(r, "/user.slice/user-1001.slice/session-2.scope", 1001, "host/batch");
	assert_name(r, "/system.slice/cron.service", 1002, "host/cron");
	assert_unknown(r, "/elsewhere", 1002);
}

static void test_resolve_first_matching_rule_wins(void **state)
{
	struct identity_resolver *r = *state;

	assert_int_equal(identity_add_rule(r, "uid:1001 host/by-uid"), 0);
	assert_int_equal(identity_add_rule(r, "cgroup:/system.slice/* host/by-glob"), 0);
	assert_name(r, "/system.slice/a.service", 1001, "host/by-uid");
	assert_name(r, "/system.slice/a.service", 1000, "host/by-glob");
}

static void test_resolve_systemd_unit(void **state)
{
	struct identity_resolver *r = *state;

	assert_name(r, "/system.slice/llm-gateway.service", 0, "host/llm-gateway");
	assert_name(r, "/system.slice/containerd.service", 0, "host/containerd");
	assert_name(r, "/system.slice/docker-abc.scope", 0, "host/docker-abc");
	/* nested slices and cgroups below the unit */
	assert_name(r, "/system.slice/team.slice/worker.service", 0, "host/worker");
	assert_name(r, "/system.slice/worker.service/sub/group", 0, "host/worker");
}

static void test_resolve_user_session(void **state)
{
	struct identity_resolver *r = *state;

	assert_name(r, "/user.slice/user-1000.slice/session-3.scope", 1000, "host/uid-1000");
	assert_name(r, "/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope", 1000, "host/uid-1000");
	assert_name(r, "/user.slice/user-4294967295.slice", 0, "host/uid-4294967295");
	/* the uid comes from the path, not from the process */
	assert_name(r, "/user.slice/user-0.slice/session-1.scope", 1234, "host/uid-0");
}

static void test_resolve_conmon(void **state)
{
	struct identity_resolver *r = *state;

	assert_name(r, CONMON_PATH, 0, "host/conmon");
}

static void test_resolve_kube_without_kube_is_pending(void **state)
{
	struct identity_resolver *r = *state;
	static const char *const paths[] = { SYSTEMD_CONTAINER, SYSTEMD_POD, CGROUPFS_CONTAINER };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct identity *id = resolve(r, paths[i], 0);
		char want[600];

		snprintf(want, sizeof(want), "unknown%s", paths[i]);
		assert_int_equal(id->state, IDENTITY_PENDING);
		assert_string_equal(id->name, want);
		assert_string_equal(id->cgroup_path, paths[i]);
		assert_string_equal(id->pod, "");
		assert_string_equal(id->container, "");
		assert_string_equal(id->image, "");
		assert_string_equal(id->image_id, "");
		free(id);
	}
}

static void test_resolve_unknown_paths(void **state)
{
	struct identity_resolver *r = *state;

	assert_unknown(r, "/some/random/group", 0);
	assert_unknown(r, "/", 0);
	assert_unknown(r, "/init.scope", 0);
	assert_unknown(r, "/system.slice", 0);          /* a slice, no unit */
	assert_unknown(r, "/user.slice/user-x.slice", 0); /* no uid */
	assert_unknown(r, "/kubepods.slice/kubepods-burstable.slice", 0); /* no pod yet */
	assert_unknown(r, "?", 0);
}

static void test_resolve_overwrites_previous_result(void **state)
{
	struct identity_resolver *r = *state;
	struct identity *id = resolve(r, SYSTEMD_CONTAINER, 0);

	assert_int_equal(id->state, IDENTITY_PENDING);
	/* reuse the same struct: nothing of the previous answer survives */
	assert_int_equal(identity_resolve(r, 7, "/system.slice/a.service", 0, id), 0);
	assert_int_equal(id->state, IDENTITY_RESOLVED);
	assert_string_equal(id->name, "host/a");
	assert_string_equal(id->cgroup_path, "/system.slice/a.service");
	free(id);
}

static void test_resolve_very_long_paths(void **state)
{
	struct identity_resolver *r = *state;
	size_t len = 4000;
	char *path = malloc(len + 1);
	char *kpath = malloc(len + sizeof(SYSTEMD_CONTAINER));
	struct identity *id;

	assert_non_null(path);
	assert_non_null(kpath);
	/* an arbitrary path far longer than name and cgroup_path */
	for (size_t i = 0; i < len; i++)
		path[i] = i % 10 == 0 ? '/' : 'a' + (char)(i % 26);
	path[len] = '\0';
	id = resolve(r, path, 0);
	assert_int_equal(id->state, IDENTITY_RESOLVED);
	assert_all_terminated(id);
	assert_int_equal(strlen(id->name), sizeof(id->name) - 1);
	assert_int_equal(strncmp(id->name, "unknown", 7), 0);
	assert_int_equal(memcmp(id->name + 7, path, sizeof(id->name) - 8), 0);
	assert_int_equal(strlen(id->cgroup_path), sizeof(id->cgroup_path) - 1);
	assert_int_equal(memcmp(id->cgroup_path, path, sizeof(id->cgroup_path) - 1), 0);
	free(id);

	/* a long prefix (a few long components) before a kubepods root (nested
	 * runtimes): still a pod cgroup, pending, bounded */
	for (size_t i = 0; i < len; i++)
		kpath[i] = i % 1000 == 0 ? '/' : 'k';
	memcpy(kpath + len, SYSTEMD_CONTAINER, sizeof(SYSTEMD_CONTAINER));
	id = resolve(r, kpath, 0);
	assert_int_equal(id->state, IDENTITY_PENDING);
	assert_all_terminated(id);
	assert_int_equal(strncmp(id->name, "unknown/", 8), 0);
	assert_true(strlen(id->name) < sizeof(id->name));
	free(id);

	/* a rule matching a long path: the rule's name, path bounded */
	assert_int_equal(identity_add_rule(r, "cgroup:/** host/any"), 0);
	id = resolve(r, path, 0);
	assert_string_equal(id->name, "host/any");
	assert_all_terminated(id);
	free(id);

	free(kpath);
	free(path);
}

static void test_resolver_free_null(void **state)
{
	(void)state;
	identity_resolver_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rule_valid_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_valid_rules_take_effect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_missing_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_extra_words, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_bad_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_uid_overflow_junk_sign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_too_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_cgroup_rule_beats_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_uid_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_first_matching_rule_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_systemd_unit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_user_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_conmon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_kube_without_kube_is_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_unknown_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_overwrites_previous_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_very_long_paths, setup, teardown),
		cmocka_unit_test(test_resolver_free_null),
	};

	return cmocka_run_group_tests_name("identity", tests, NULL, NULL);
}
