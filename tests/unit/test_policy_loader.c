/* The policy loader's thread (agent/policy_loader.h): a changed file is
 * loaded there and handed over by policy_loader_take with its digest; a bad
 * one is counted and the last good set stays; and a load that blocks (a
 * policy path that is a FIFO nobody writes yet: a hung file system) never
 * blocks the caller's take, reload or stats. No ReachPolicy objects. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "agent/policy_loader.h"
#include "policy/policy.h"
#include "policy/verify.h"

static char dir[64], pdir[128], slow[128];

static void write_policy(const char *path, const char *identity)
{
	char tmp[256];
	FILE *f;

	/* written beside the watched directory, then renamed in: one change */
	snprintf(tmp, sizeof(tmp), "%s/new.tmp", dir);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fprintf(f, "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata:\n  name: p\nspec:\n  identity: %s\n"
		   "  secrets: []\n  tools: []\n", identity);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Polls take until it hands a set over (10 s deadline, never a fixed wait). */
static void wait_take(struct policy_loader *l, struct policy_set *cur, struct policy_loader_taken *t)
{
	double deadline = mono() + 10;

	while (policy_loader_take(l, cur, t) != 1) {
		if (mono() > deadline)
			fail_msg("no policy set handed over within 10 s");
		usleep(5000);
	}
}

static struct policy_loader *start(const char *const *paths, int n)
{
	struct policy_loader_opts o = { .paths = paths, .n_paths = n, .poll_ms = 10 };
	struct policy_loader *l = NULL;
	struct policy_set files = { 0 };
	char err[1024];

	o.signature = policy_paths_signature(paths, n);
	if (policy_load_paths(&files, paths, n, err, sizeof(err)))
		fail_msg("initial load: %s", err);
	assert_int_equal(policy_loader_start(&l, &o, &files), 0);
	assert_int_equal(files.n, 0); /* taken */
	return l;
}

static void test_changed_file_is_handed_over(void **state)
{
	const char *paths[] = { pdir };
	char path[256], digest[65];
	struct policy_set cur = { 0 };
	struct policy_loader_taken t;
	struct policy_loader_stats st;
	struct policy_loader *l;

	(void)state;
	snprintf(path, sizeof(path), "%s/a.yaml", pdir);
	write_policy(path, "host/one");
	l = start(paths, 1);
	assert_int_equal(policy_loader_take(l, &cur, &t), 0); /* nothing new yet */
	write_policy(path, "host/two");
	wait_take(l, &cur, &t);
	assert_int_equal(cur.n, 1);
	assert_string_equal(cur.policies[0].identity, "host/two");
	assert_true(t.files_reloaded);
	assert_int_equal(t.from_files, 1);
	assert_int_equal(t.from_crd, 0);
	policy_set_digest(&cur, digest);
	assert_string_equal(t.digest, digest);

	/* a refused load: counted, nothing handed over, the set stays */
	{
		char tmp[300];
		FILE *f;
		double deadline = mono() + 10;

		snprintf(tmp, sizeof(tmp), "%s/bad.tmp", dir);
		f = fopen(tmp, "w");
		assert_non_null(f);
		fputs("spec: [[[\n", f);
		fclose(f);
		assert_int_equal(rename(tmp, path), 0);
		do {
			policy_loader_get_stats(l, &st);
			if (mono() > deadline)
				fail_msg("the bad file was not tried within 10 s");
			usleep(5000);
		} while (st.file_load_errors == 0);
	}
	assert_true(st.file_load_errors >= 1);
	assert_int_equal(policy_loader_take(l, &cur, &t), 0);
	assert_string_equal(cur.policies[0].identity, "host/two");
	/* fixed, and asked for at once (SIGHUP) */
	write_policy(path, "host/three");
	policy_loader_reload(l);
	wait_take(l, &cur, &t);
	assert_string_equal(cur.policies[0].identity, "host/three");
	policy_loader_stop(l);
	policy_set_free(&cur);
	unlink(path);
}

static void test_blocked_load_never_blocks_the_caller(void **state)
{
	const char *paths[] = { pdir, slow };
	char path[256];
	struct policy_set cur = { 0 };
	struct policy_loader_taken t;
	struct policy_loader_stats st;
	struct policy_loader *l;
	double deadline;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/a.yaml", pdir);
	write_policy(path, "host/dir");
	write_policy(slow, "host/slow-1");
	l = start(paths, 2);
	/* the file becomes a FIFO: the loader's open blocks until a writer comes */
	unlink(slow);
	assert_int_equal(mkfifo(slow, 0600), 0);
	deadline = mono() + 10;
	do {
		policy_loader_get_stats(l, &st);
		if (mono() > deadline)
			fail_msg("the loader did not start the load within 10 s");
		usleep(5000);
	} while (!st.loading);
	/* the loader is inside the load now (it sets loading around it):
	 * nothing the main loop calls waits for it */
	assert_int_equal(policy_loader_take(l, &cur, &t), 0);
	policy_loader_reload(l);
	policy_loader_get_stats(l, &st);
	assert_true(st.loading);
	/* the writer comes: the load completes and is handed over */
	fd = open(slow, O_WRONLY);
	assert_true(fd >= 0);
	{
		const char *text = "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata:\n  name: s\nspec:\n"
				   "  identity: host/slow-2\n  secrets: []\n  tools: []\n";

		assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	}
	close(fd);
	/* the FIFO is read once: make it a file again for the reload asked above */
	unlink(slow);
	write_policy(slow, "host/slow-2");
	wait_take(l, &cur, &t);
	assert_int_equal(cur.n, 2);
	assert_non_null(policy_for_identity(&cur, "host/slow-2"));
	assert_non_null(policy_for_identity(&cur, "host/dir"));
	policy_loader_stop(l);
	policy_set_free(&cur);
	unlink(path);
	unlink(slow);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_changed_file_is_handed_over),
		cmocka_unit_test(test_blocked_load_never_blocks_the_caller),
	};
	int rc;

	snprintf(dir, sizeof(dir), "/tmp/test_policy_loader.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(pdir, sizeof(pdir), "%s/policies", dir);
	snprintf(slow, sizeof(slow), "%s/slow.yaml", dir);
	assert_int_equal(mkdir(pdir, 0700), 0);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(pdir);
	rmdir(dir);
	return rc;
}
