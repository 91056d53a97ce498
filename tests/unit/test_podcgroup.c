#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "identity/podcgroup.h"
#include "testutil.h"

#define UID "3f1c2d4e-1111-4a5b-9c8d-0123456789ab"
#define UID_US "3f1c2d4e_1111_4a5b_9c8d_0123456789ab"
/* another pod: same uid but for the last character */
#define UID2 "3f1c2d4e-1111-4a5b-9c8d-0123456789ac"
#define UID2_US "3f1c2d4e_1111_4a5b_9c8d_0123456789ac"
#define CID "4e8a0b7c1d2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b"

/* A fake cgroup mount: a temp dir per test. */
struct tree {
	char root[PATH_MAX];
};

static int setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	if (make_temp_dir(t->root, sizeof(t->root), "reach-podcg")) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tree *t = *state;
	int rc = remove_tree(t->root);

	free(t);
	return rc;
}

/* mkdir -p root/rel */
static void mkdirs(const struct tree *t, const char *rel)
{
	char path[PATH_MAX];
	size_t base = strlen(t->root);

	assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", t->root, rel) < sizeof(path));
	for (char *p = path + base + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		*p = '/';
	}
	if (mkdir(path, 0755) && errno != EEXIST)
		fail_msg("mkdir %s: %s", path, strerror(errno));
}

/* A regular file (not a directory) at root/rel. */
static void mkfile(const struct tree *t, const char *rel)
{
	char path[PATH_MAX];
	FILE *f;

	assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", t->root, rel) < sizeof(path));
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

/* What podcgroup_scan() reported for one uid. */
struct scanned {
	const char *uid;
	char dir[PATH_MAX];
	int hits;
};

static void on_scanned(void *ctx, const char *uid, const char *dir)
{
	struct scanned *sc = ctx;

	if (strcmp(uid, sc->uid))
		return;
	sc->hits++;
	snprintf(sc->dir, sizeof(sc->dir), "%s", dir);
}

/* podcgroup_find must answer 0 and root/want_rel; one scan of the whole
 * tree must report the same directory for the uid, once. */
static void assert_found(const struct tree *t, const char *uid, const char *want_rel)
{
	char out[PATH_MAX], want[PATH_MAX];
	struct scanned sc = { .uid = uid };

	assert_true((size_t)snprintf(want, sizeof(want), "%s/%s", t->root, want_rel) < sizeof(want));
	memset(out, 0, sizeof(out));
	assert_int_equal(podcgroup_find(t->root, uid, out, sizeof(out)), 0);
	assert_string_equal(out, want);
	podcgroup_scan(t->root, on_scanned, &sc);
	assert_int_equal(sc.hits, 1);
	assert_string_equal(sc.dir, want);
}

static void assert_not_found(const struct tree *t, const char *uid)
{
	char out[PATH_MAX];
	struct scanned sc = { .uid = uid };

	assert_int_equal(podcgroup_find(t->root, uid, out, sizeof(out)), -ENOENT);
	podcgroup_scan(t->root, on_scanned, &sc);
	assert_int_equal(sc.hits, 0);
}

/* Some unrelated host cgroups every test tree has. */
static void host_noise(const struct tree *t)
{
	mkdirs(t, "init.scope");
	mkdirs(t, "system.slice/containerd.service");
	mkdirs(t, "system.slice/sshd.service");
	mkdirs(t, "user.slice/user-1000.slice/session-3.scope");
	mkfile(t, "cgroup.procs");
	mkfile(t, "system.slice/cgroup.procs");
}

/* ---- layouts ------------------------------------------------------------- */

static void test_systemd_burstable(void **state)
{
	struct tree *t = *state;
	const char *pod = "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_US ".slice";

	host_noise(t);
	mkdirs(t, "kubepods.slice/kubepods-besteffort.slice");
	mkdirs(t, pod);
	mkdirs(t, "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_US
		  ".slice/cri-containerd-" CID ".scope");
	/* the pod-level directory, not a container's */
	assert_found(t, UID, pod);
}

static void test_systemd_guaranteed(void **state)
{
	struct tree *t = *state;
	const char *pod = "kubepods.slice/kubepods-pod" UID_US ".slice";

	host_noise(t);
	mkdirs(t, "kubepods.slice/kubepods-burstable.slice");
	mkdirs(t, "kubepods.slice/kubepods-besteffort.slice");
	mkdirs(t, pod);
	mkdirs(t, "kubepods.slice/kubepods-pod" UID_US ".slice/crio-" CID ".scope");
	assert_found(t, UID, pod);
}

static void test_cgroupfs_besteffort(void **state)
{
	struct tree *t = *state;
	const char *pod = "kubepods/besteffort/pod" UID;

	host_noise(t);
	mkdirs(t, "kubepods/burstable");
	mkdirs(t, pod);
	mkdirs(t, "kubepods/besteffort/pod" UID "/" CID);
	assert_found(t, UID, pod);
}

static void test_cgroupfs_guaranteed(void **state)
{
	struct tree *t = *state;
	const char *pod = "kubepods/pod" UID;

	host_noise(t);
	mkdirs(t, "kubepods/burstable");
	mkdirs(t, "kubepods/besteffort");
	mkdirs(t, pod);
	mkdirs(t, "kubepods/pod" UID "/" CID);
	assert_found(t, UID, pod);
}

/* Was a bug (fixed): podcgroup.c search() (line 49) descends below depth 0 only into
 * names containing "kubepods", so a kubepods root behind a prefix of two or
 * more components (some/prefix/kubepods/..., as cgpath_parse() accepts for
 * nested runtimes) is never reached: -ENOENT instead of 0. */
static void test_nested_prefix(void **state)
{
	struct tree *t = *state;
	const char *pod = "some/prefix/kubepods/burstable/pod" UID;

	host_noise(t);
	mkdirs(t, "some/other");
	mkdirs(t, pod);
	mkdirs(t, "some/prefix/kubepods/burstable/pod" UID "/" CID);
	assert_found(t, UID, pod);
}

static void test_single_component_prefix(void **state)
{
	struct tree *t = *state;
	const char *pod = "prefix/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_US ".slice";

	host_noise(t);
	mkdirs(t, pod);
	assert_found(t, UID, pod);
}

static void test_kind_nested_kubelet(void **state)
{
	struct tree *t = *state;
	const char *pod = "kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
			  "kubelet-kubepods-besteffort-pod" UID_US ".slice";

	host_noise(t);
	mkdirs(t, "kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice");
	mkdirs(t, pod);
	mkdirs(t, "kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
		  "kubelet-kubepods-besteffort-pod" UID_US ".slice/cri-containerd-" CID ".scope");
	assert_found(t, UID, pod);
}

/* ---- not found, look-alikes, bad input ----------------------------------- */

static void test_not_found(void **state)
{
	struct tree *t = *state;

	/* empty mount, a missing mount, then a tree without the pod */
	assert_not_found(t, UID);
	{
		char missing[PATH_MAX + 16], out[256];

		snprintf(missing, sizeof(missing), "%s/absent", t->root);
		assert_int_equal(podcgroup_find(missing, UID, out, sizeof(out)), -ENOENT);
	}
	host_noise(t);
	mkdirs(t, "kubepods.slice/kubepods-burstable.slice");
	mkdirs(t, "kubepods/besteffort");
	assert_not_found(t, UID);
}

static void test_prefix_sharing_pod_does_not_match(void **state)
{
	struct tree *t = *state;

	host_noise(t);
	mkdirs(t, "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID2_US ".slice");
	mkdirs(t, "kubepods/besteffort/pod" UID2);
	/* the uid followed by more characters */
	mkdirs(t, "kubepods/besteffort/pod" UID "0");
	mkdirs(t, "kubepods/besteffort/pod" UID "-x");
	mkdirs(t, "kubepods.slice/kubepods-pod" UID_US ".slice.bak");
	mkdirs(t, "kubepods.slice/kubepods-pod" UID_US "_0.slice");
	assert_not_found(t, UID);
	/* and a truncated uid does not match the full one */
	assert_not_found(t, "3f1c2d4e-1111-4a5b-9c8d");
	assert_not_found(t, "3f1c2d4e");

	/* with the real one present, the real one */
	mkdirs(t, "kubepods/besteffort/pod" UID);
	assert_found(t, UID, "kubepods/besteffort/pod" UID);
	{
		/* UID2 is in both trees: either of its directories, never UID's */
		char out[PATH_MAX], a[PATH_MAX], b[PATH_MAX];

		assert_int_equal(podcgroup_find(t->root, UID2, out, sizeof(out)), 0);
		assert_true((size_t)snprintf(a, sizeof(a), "%s/kubepods/besteffort/pod" UID2, t->root) < sizeof(a));
		assert_true((size_t)snprintf(b, sizeof(b),
					     "%s/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID2_US
					     ".slice",
					     t->root) < sizeof(b));
		assert_true(strcmp(out, a) == 0 || strcmp(out, b) == 0);
	}
}

static void test_regular_file_named_like_pod_is_ignored(void **state)
{
	struct tree *t = *state;

	mkdirs(t, "kubepods/besteffort");
	mkfile(t, "kubepods/besteffort/pod" UID);
	assert_not_found(t, UID);
}

static void test_unrelated_tree_does_not_win(void **state)
{
	struct tree *t = *state;

	host_noise(t);
	/* decoys deep inside unrelated host trees */
	mkdirs(t, "system.slice/foo.service/pod" UID);
	mkdirs(t, "system.slice/a/b/c/d/e/pod" UID);
	mkdirs(t, "user.slice/user-1000.slice/x/y/pod" UID);
	mkdirs(t, "kubepods/burstable/pod" UID);
	assert_found(t, UID, "kubepods/burstable/pod" UID);
}

static void test_invalid_uid(void **state)
{
	struct tree *t = *state;
	char out[PATH_MAX], big[200];

	host_noise(t);
	mkdirs(t, "kubepods/pod" UID);
	assert_int_equal(podcgroup_find(t->root, "", out, sizeof(out)), -EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(podcgroup_find(t->root, big, out, sizeof(out)), -EINVAL);
}

static void test_output_too_small(void **state)
{
	struct tree *t = *state;
	char out[16];

	mkdirs(t, "kubepods/pod" UID);
	memset(out, 'x', sizeof(out));
	/* never a truncated path reported as found */
	assert_int_not_equal(podcgroup_find(t->root, UID, out, sizeof(out)), 0);
	assert_non_null(memchr(out, '\0', sizeof(out)));
}

static void test_many_pods(void **state)
{
	struct tree *t = *state;
	char rel[256], uid[40];

	host_noise(t);
	for (int i = 0; i < 50; i++) {
		snprintf(rel, sizeof(rel), "kubepods.slice/kubepods-besteffort.slice/"
					   "kubepods-besteffort-pod3f1c2d4e_1111_4a5b_9c8d_%012d.slice", i);
		mkdirs(t, rel);
	}
	for (int i = 0; i < 50; i += 7) {
		snprintf(uid, sizeof(uid), "3f1c2d4e-1111-4a5b-9c8d-%012d", i);
		snprintf(rel, sizeof(rel), "kubepods.slice/kubepods-besteffort.slice/"
					   "kubepods-besteffort-pod3f1c2d4e_1111_4a5b_9c8d_%012d.slice", i);
		assert_found(t, uid, rel);
	}
	assert_not_found(t, "3f1c2d4e-1111-4a5b-9c8d-000000000050");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_systemd_burstable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_systemd_guaranteed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cgroupfs_besteffort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cgroupfs_guaranteed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_component_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kind_nested_kubelet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefix_sharing_pod_does_not_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_regular_file_named_like_pod_is_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unrelated_tree_does_not_win, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_too_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_pods, setup, teardown),
	};

	return cmocka_run_group_tests_name("podcgroup", tests, NULL, NULL);
}
