#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "identity/cgpath.h"

/* What the fixture columns do not say: runtime, qos class, unit, uid. Every
 * fixture path must have a row here and every row must be in the fixture. */
struct expect {
	const char *path;
	enum cgpath_kind kind;
	const char *runtime, *qos, *unit;
	uint32_t uid;
	int seen;
};

static struct expect fixture_expect[] = {
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f1c2d4e_1111_4a5b_9c8d_0123456789ab.slice/cri-containerd-4e8a0b7c1d2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b.scope",
	  CGPATH_K8S_CONTAINER, "containerd", "burstable", "", 0, 0 },
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod7a8b9c0d_2222_4e5f_8a9b_fedcba987654.slice/cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
	  CGPATH_K8S_CONTAINER, "containerd", "besteffort", "", 0, 0 },
	{ "/kubepods.slice/kubepods-pod11111111_2222_3333_4444_555555555555.slice/cri-containerd-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.scope",
	  CGPATH_K8S_CONTAINER, "containerd", "guaranteed", "", 0, 0 },
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9d9d9d9d_aaaa_bbbb_cccc_dddddddddddd.slice/crio-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.scope",
	  CGPATH_K8S_CONTAINER, "cri-o", "burstable", "", 0, 0 },
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9d9d9d9d_aaaa_bbbb_cccc_dddddddddddd.slice/crio-conmon-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.scope",
	  CGPATH_K8S_CONMON, "cri-o", "burstable", "", 0, 0 },
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12345678_9abc_def0_1234_56789abcdef0.slice/docker-cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.scope",
	  CGPATH_K8S_CONTAINER, "docker", "besteffort", "", 0, 0 },
	{ "/kubepods/burstable/pod3f1c2d4e-1111-4a5b-9c8d-0123456789ab/4e8a0b7c1d2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b",
	  CGPATH_K8S_CONTAINER, "", "burstable", "", 0, 0 },
	{ "/kubepods/pod11111111-2222-3333-4444-555555555555/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  CGPATH_K8S_CONTAINER, "", "guaranteed", "", 0, 0 },
	{ "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod7a8b9c0d_2222_4e5f_8a9b_fedcba987654.slice/cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
	  CGPATH_K8S_CONTAINER, "containerd", "besteffort", "", 0, 0 },
	{ "/system.slice/llm-gateway.service", CGPATH_SYSTEMD_UNIT, "", "", "llm-gateway", 0, 0 },
	{ "/user.slice/user-1000.slice/session-3.scope", CGPATH_USER_SESSION, "", "", "session-3", 1000, 0 },
};

#define N_EXPECT (sizeof(fixture_expect) / sizeof(fixture_expect[0]))

/* The fixture lives in the source tree: found from the working directory
 * (tests/run.sh runs from the top) or from the binary (build/tests/..). */
static FILE *open_fixture(void)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n;
	FILE *f = fopen("tests/fixtures/cgroup-paths.txt", "r");

	if (f)
		return f;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	snprintf(path, sizeof(path), "%s/../../tests/fixtures/cgroup-paths.txt", dirname(exe));
	return fopen(path, "r");
}

static struct expect *find_expect(const char *path)
{
	for (size_t i = 0; i < N_EXPECT; i++)
		if (strcmp(fixture_expect[i].path, path) == 0)
			return &fixture_expect[i];
	return NULL;
}

static int is_container_id(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

static void test_every_fixture_line(void **state)
{
	FILE *f = open_fixture();
	char line[4096];
	size_t lines = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *label, *path, *uid, *id, *save = NULL;
		struct cgpath_info info;
		struct expect *e;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		label = strtok_r(line, "\t", &save);
		path = strtok_r(NULL, "\t", &save);
		uid = strtok_r(NULL, "\t", &save);
		id = strtok_r(NULL, "\t", &save);
		assert_non_null(label);
		assert_non_null(path);
		assert_non_null(uid);
		assert_non_null(id);
		lines++;

		e = find_expect(path);
		if (!e)
			fail_msg("fixture path without expectation: %s", path);
		e->seen++;
		assert_int_equal(cgpath_parse(path, &info), 0);
		if (info.kind != e->kind)
			fail_msg("%s: kind %s, want %s", path, cgpath_kind_name(info.kind), cgpath_kind_name(e->kind));
		/* the fixture's own columns */
		assert_string_equal(info.pod_uid, strcmp(uid, "-") == 0 ? "" : uid);
		if (is_container_id(id))
			assert_string_equal(info.container_id, id);
		else if (e->kind == CGPATH_K8S_CONMON)
			/* conmon's scope carries the id of the container it monitors */
			assert_true(is_container_id(info.container_id));
		else
			assert_string_equal(info.container_id, "");
		if (strstr(label, "conmon"))
			assert_int_equal(info.kind, CGPATH_K8S_CONMON);
		if (strncmp(label, "host/", 5) == 0)
			assert_true(info.kind == CGPATH_SYSTEMD_UNIT || info.kind == CGPATH_USER_SESSION);
		/* the rest */
		assert_string_equal(info.runtime, e->runtime);
		assert_string_equal(info.qos, e->qos);
		assert_string_equal(info.unit, e->unit);
		assert_int_equal(info.uid, e->uid);
	}
	fclose(f);
	assert_int_equal(lines, N_EXPECT);
	for (size_t i = 0; i < N_EXPECT; i++)
		if (fixture_expect[i].seen != 1)
			fail_msg("expectation seen %d times in the fixture: %s", fixture_expect[i].seen,
				 fixture_expect[i].path);
}

static void test_null_arguments(void **state)
{
	struct cgpath_info info;

	assert_int_equal(cgpath_parse(NULL, &info), -EINVAL);
	assert_int_equal(cgpath_parse("/kubepods", NULL), -EINVAL);
}

#define UID_SYSTEMD "3f1c2d4e_1111_4a5b_9c8d_0123456789ab"
#define UID_DASHED "3f1c2d4e-1111-4a5b-9c8d-0123456789ab"
#define CID "4e8a0b7c1d2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b"
#define SD_POD "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_SYSTEMD ".slice"
#define FS_POD "/kubepods/burstable/pod" UID_DASHED

static void expect_kind(const char *path, enum cgpath_kind kind)
{
	struct cgpath_info info;

	memset(&info, 0x5a, sizeof(info));
	assert_int_equal(cgpath_parse(path, &info), 0);
	if (info.kind != kind)
		fail_msg("%s: kind %s, want %s", path, cgpath_kind_name(info.kind), cgpath_kind_name(kind));
	if (kind == CGPATH_UNKNOWN) {
		/* nothing half-filled */
		assert_string_equal(info.pod_uid, "");
		assert_string_equal(info.container_id, "");
		assert_string_equal(info.runtime, "");
		assert_string_equal(info.qos, "");
		assert_string_equal(info.unit, "");
		assert_int_equal(info.uid, 0);
	}
}

static void test_pod_level_paths(void **state)
{
	struct cgpath_info info;

	assert_int_equal(cgpath_parse(SD_POD, &info), 0);
	assert_int_equal(info.kind, CGPATH_K8S_POD);
	assert_string_equal(info.pod_uid, UID_DASHED);
	assert_string_equal(info.qos, "burstable");
	assert_string_equal(info.container_id, "");
	assert_string_equal(info.runtime, "");

	assert_int_equal(cgpath_parse(FS_POD, &info), 0);
	assert_int_equal(info.kind, CGPATH_K8S_POD);
	assert_string_equal(info.pod_uid, UID_DASHED);
	assert_string_equal(info.qos, "burstable");

	assert_int_equal(cgpath_parse("/kubepods.slice/kubepods-pod" UID_SYSTEMD ".slice", &info), 0);
	assert_int_equal(info.kind, CGPATH_K8S_POD);
	assert_string_equal(info.qos, "guaranteed");

	assert_int_equal(cgpath_parse("/kubepods/pod" UID_DASHED "/", &info), 0); /* trailing slash */
	assert_int_equal(info.kind, CGPATH_K8S_POD);
	assert_string_equal(info.qos, "guaranteed");
}

static void test_prefixes_and_nesting(void **state)
{
	struct cgpath_info info;

	/* kind node seen from the host: the node container's scope first */
	assert_int_equal(cgpath_parse("/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope"
				      "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod"
				      UID_SYSTEMD ".slice/cri-containerd-" CID ".scope", &info), 0);
	assert_int_equal(info.kind, CGPATH_K8S_CONTAINER);
	assert_string_equal(info.pod_uid, UID_DASHED);
	assert_string_equal(info.container_id, CID);
	assert_string_equal(info.runtime, "containerd");

	/* cgroupfs kubelet inside a docker container (cgroupfs outer runtime) */
	assert_int_equal(cgpath_parse("/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" FS_POD "/crio-" CID, &info), 0);
	assert_int_equal(info.kind, CGPATH_K8S_CONTAINER);
	assert_string_equal(info.runtime, "cri-o");
	assert_string_equal(info.container_id, CID);

	assert_int_equal(cgpath_parse(FS_POD "/crio-conmon-" CID, &info), 0);
	assert_int_equal(info.kind, CGPATH_K8S_CONMON);
	assert_string_equal(info.container_id, CID);

	/* a cgroup a process made below its container stays that container */
	assert_int_equal(cgpath_parse(SD_POD "/crio-" CID ".scope/container", &info), 0);
	assert_int_equal(info.kind, CGPATH_K8S_CONTAINER);
	assert_string_equal(info.runtime, "cri-o");
	assert_string_equal(info.container_id, CID);
	assert_string_equal(info.pod_uid, UID_DASHED);

	/* the innermost kubepods wins: kind running inside a pod */
	assert_int_equal(cgpath_parse(FS_POD "/" CID "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod"
				      "11111111_2222_3333_4444_555555555555.slice/docker-" CID ".scope", &info), 0);
	assert_int_equal(info.kind, CGPATH_K8S_CONTAINER);
	assert_string_equal(info.pod_uid, "11111111-2222-3333-4444-555555555555");
	assert_string_equal(info.runtime, "docker");
	assert_string_equal(info.qos, "guaranteed");

	/* ... unless the inner one is malformed: then the outer container */
	assert_int_equal(cgpath_parse(FS_POD "/" CID "/kubepods/burstable/podnot-a-uid/x", &info), 0);
	assert_int_equal(info.kind, CGPATH_K8S_CONTAINER);
	assert_string_equal(info.pod_uid, UID_DASHED);
	assert_string_equal(info.container_id, CID);

	/* uppercase hex in a pod UID is still a UID */
	assert_int_equal(cgpath_parse("/kubepods/pod3F1C2D4E-1111-4A5B-9C8D-0123456789AB", &info), 0);
	assert_int_equal(info.kind, CGPATH_K8S_POD);
	assert_string_equal(info.pod_uid, "3F1C2D4E-1111-4A5B-9C8D-0123456789AB");

	/* no leading slash, doubled slashes */
	assert_int_equal(cgpath_parse("kubepods//burstable/pod" UID_DASHED "//" CID, &info), 0);
	assert_int_equal(info.kind, CGPATH_K8S_CONTAINER);
}

static void test_systemd_units_and_sessions(void **state)
{
	struct cgpath_info info;

	assert_int_equal(cgpath_parse("/system.slice/containerd.service", &info), 0);
	assert_int_equal(info.kind, CGPATH_SYSTEMD_UNIT);
	assert_string_equal(info.unit, "containerd");

	assert_int_equal(cgpath_parse("/system.slice/run-r1234.scope", &info), 0);
	assert_int_equal(info.kind, CGPATH_SYSTEMD_UNIT);
	assert_string_equal(info.unit, "run-r1234");

	/* nested slices; templated instance names kept whole */
	assert_int_equal(cgpath_parse("/system.slice/system-getty.slice/getty@tty1.service", &info), 0);
	assert_int_equal(info.kind, CGPATH_SYSTEMD_UNIT);
	assert_string_equal(info.unit, "getty@tty1");

	/* a sub-cgroup of a service (delegation) is the service */
	assert_int_equal(cgpath_parse("/system.slice/llm-gateway.service/worker", &info), 0);
	assert_int_equal(info.kind, CGPATH_SYSTEMD_UNIT);
	assert_string_equal(info.unit, "llm-gateway");

	assert_int_equal(cgpath_parse("/user.slice/user-0.slice/user@0.service/app.slice/x.service", &info), 0);
	assert_int_equal(info.kind, CGPATH_USER_SESSION);
	assert_int_equal(info.uid, 0);
	assert_string_equal(info.unit, "user@0");

	assert_int_equal(cgpath_parse("/user.slice/user-4294967295.slice", &info), 0);
	assert_int_equal(info.kind, CGPATH_USER_SESSION);
	assert_int_equal(info.uid, 4294967295u);
	assert_string_equal(info.unit, "");
}

static void test_near_misses_are_unknown(void **state)
{
	static const char *const paths[] = {
		"", "/", "/kubepods", "/kubepods.slice", "/kubepods/burstable",
		"/kubepods.slice/kubepods-burstable.slice",
		/* uid too short, too long, wrong separator for the driver, not hex */
		"/kubepods/burstable/pod3f1c2d4e-1111-4a5b-9c8d-0123456789a/" CID,
		"/kubepods/burstable/pod3f1c2d4e-1111-4a5b-9c8d-0123456789abc/" CID,
		"/kubepods/burstable/pod" UID_SYSTEMD "/" CID,
		"/kubepods/burstable/pod3f1c2d4e-1111-4a5b-9c8d-0123456789ag/" CID,
		"/kubepods/burstable/pod3f1c2d4e11114a5b9c8d0123456789ab0000/" CID,
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f1c2d4e_1111_4a5b_9c8d_0123456789a.slice",
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_DASHED ".slice",
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_SYSTEMD "_.slice",
		/* container ids: short, long, uppercase, not hex, truncated, wrong runtime */
		SD_POD "/cri-containerd-4e8a0b7c.scope",
		SD_POD "/cri-containerd-" CID "0.scope",
		SD_POD "/cri-containerd-4E8A0B7C1D2F3A4B5C6D7E8F9A0B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6F7A8B.scope",
		SD_POD "/cri-containerd-zz8a0b7c1d2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b.scope",
		SD_POD "/cri-containerd-" CID,
		SD_POD "/cri-containerd-" CID ".slice",
		SD_POD "/crio-conmon-4e8a.scope",
		SD_POD "/podman-" CID ".scope",
		SD_POD "/" CID,
		FS_POD "/4e8a0b7c",
		FS_POD "/" CID "0",
		FS_POD "/zz8a0b7c1d2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b",
		FS_POD "/cri-containerd-" CID ".scope",
		/* qos slices that do not match their parent, pod slice in the wrong place */
		"/kubepods.slice/kubepods-burstable.slice/kubepods-besteffort-pod" UID_SYSTEMD ".slice/cri-containerd-" CID ".scope",
		"/kubepods.slice/kubepods-burstable-pod" UID_SYSTEMD ".slice/cri-containerd-" CID ".scope",
		"/kubepods.slice/kubepods-guaranteed.slice/kubepods-guaranteed-pod" UID_SYSTEMD ".slice",
		"/kubelet.slice/kubelet-kubepods.slice/kubepods-pod" UID_SYSTEMD ".slice",
		"/xkubepods.slice/xkubepods-pod" UID_SYSTEMD ".slice",
		"/kubepods/guaranteed/pod" UID_DASHED,
		/* host layouts cut short or bent */
		"/system.slice", "/system.slice/foo.slice", "/system.slice/.service", "/system.slice/foo.mount",
		"/init.scope", "/machine.slice/machine-qemu.scope",
		"/user.slice", "/user.slice/user-.slice", "/user.slice/user-abc.slice/session-1.scope",
		"/user.slice/user-4294967296.slice/session-1.scope", "/user.slice/user-99999999999.slice",
		"/user.slice/user-1000/session-1.scope",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		expect_kind(paths[i], CGPATH_UNKNOWN);
}

static void test_deep_path_is_unknown_not_a_crash(void **state)
{
	size_t n = 200 * 2 + 1;
	char *p = malloc(n);

	assert_non_null(p);
	for (size_t i = 0; i < 200; i++)
		memcpy(p + 2 * i, "/a", 2);
	p[n - 1] = '\0';
	expect_kind(p, CGPATH_UNKNOWN);
	free(p);
}

static void test_kind_names(void **state)
{
	assert_string_equal(cgpath_kind_name(CGPATH_UNKNOWN), "unknown");
	assert_string_equal(cgpath_kind_name(CGPATH_K8S_CONTAINER), "k8s-container");
	assert_string_equal(cgpath_kind_name(CGPATH_K8S_CONMON), "k8s-conmon");
	assert_string_equal(cgpath_kind_name(CGPATH_K8S_POD), "k8s-pod");
	assert_string_equal(cgpath_kind_name(CGPATH_SYSTEMD_UNIT), "systemd-unit");
	assert_string_equal(cgpath_kind_name(CGPATH_USER_SESSION), "user-session");
	assert_string_equal(cgpath_kind_name((enum cgpath_kind)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_fixture_line),
		cmocka_unit_test(test_null_arguments),
		cmocka_unit_test(test_pod_level_paths),
		cmocka_unit_test(test_prefixes_and_nesting),
		cmocka_unit_test(test_systemd_units_and_sessions),
		cmocka_unit_test(test_near_misses_are_unknown),
		cmocka_unit_test(test_deep_path_is_unknown_not_a_crash),
		cmocka_unit_test(test_kind_names),
	};

	return cmocka_run_group_tests_name("cgpath", tests, NULL, NULL);
}
