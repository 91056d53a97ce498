/* reach/artifact: the SHA-256 of a whole file, hashed by the worker from a
 * descriptor the caller opened (the version opened, even once the path
 * holds another file), each key once; what could not be hashed is counted
 * and has no artifact. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "reach/artifact.h"
#include "testutil.h"

#define DEADLINE_MS 30000

/* sha256("abc") and sha256("") (FIPS 180-2 examples) */
#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static int open_text(const char *dir, const char *name, const char *text)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_text(path, text);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static void test_hash_fd(void **state)
{
	char dir[256];
	struct artifact a;
	int fd, p[2];

	(void)state;
	assert_int_equal(make_temp_dir(dir, sizeof(dir), "artifact"), 0);
	fd = open_text(dir, "abc", "abc");
	assert_true(fd >= 0);
	assert_int_equal(artifact_hash_fd(fd, 1 << 20, &a), 0);
	assert_string_equal(a.sha256, SHA_ABC);
	assert_int_equal(a.size, 3);
	/* again from the start, whatever was read before */
	assert_int_equal(artifact_hash_fd(fd, 1 << 20, &a), 0);
	assert_string_equal(a.sha256, SHA_ABC);
	/* over the bound: no hash of a prefix */
	assert_int_equal(artifact_hash_fd(fd, 2, &a), -EFBIG);
	close(fd);
	fd = open_text(dir, "empty", "");
	assert_int_equal(artifact_hash_fd(fd, 1 << 20, &a), 0);
	assert_string_equal(a.sha256, SHA_EMPTY);
	close(fd);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(artifact_hash_fd(p[0], 1 << 20, &a), -EINVAL);
	close(p[0]);
	close(p[1]);
	assert_int_equal(remove_tree(dir), 0);
}

static void test_worker_hashes_the_version_opened(void **state)
{
	struct artifact_hasher *h = artifact_hasher_new(0);
	char dir[256], path[512], tmp[512];
	struct artifact a;
	int fd;

	(void)state;
	assert_non_null(h);
	assert_int_equal(make_temp_dir(dir, sizeof(dir), "artifact"), 0);
	assert_int_equal(artifact_hasher_get(h, "svc@1", &a), -ENOENT);
	fd = open_text(dir, "svc", "abc");
	/* the path is replaced (an upgrade) before the worker gets to it */
	snprintf(path, sizeof(path), "%s/svc", dir);
	snprintf(tmp, sizeof(tmp), "%s/svc.new", dir);
	write_text(tmp, "v2 of the service");
	assert_int_equal(rename(tmp, path), 0);
	assert_int_equal(artifact_hasher_submit(h, "svc@1", fd, ARTIFACT_EXECUTABLE), 0);
	assert_int_equal(artifact_hasher_drain(h, DEADLINE_MS), 0);
	assert_int_equal(artifact_hasher_get(h, "svc@1", &a), 0);
	assert_string_equal(a.sha256, SHA_ABC);
	assert_int_equal(a.kind, ARTIFACT_EXECUTABLE);
	assert_string_equal(artifact_kind_name(a.kind), "executable");

	/* the same key again: not hashed again (the descriptor is closed) */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(artifact_hasher_submit(h, "svc@1", fd, ARTIFACT_EXECUTABLE), 0);
	assert_int_equal(artifact_hasher_drain(h, DEADLINE_MS), 0);
	assert_int_equal(artifact_hasher_get(h, "svc@1", &a), 0);
	assert_string_equal(a.sha256, SHA_ABC);
	assert_int_equal(fcntl(fd, F_GETFD), -1); /* taken and closed */

	/* a program file */
	fd = open_text(dir, "main.py", "");
	assert_int_equal(artifact_hasher_submit(h, "main.py@e3b0c44298fc", fd, ARTIFACT_PROGRAM), 0);
	assert_int_equal(artifact_hasher_drain(h, DEADLINE_MS), 0);
	assert_int_equal(artifact_hasher_get(h, "main.py@e3b0c44298fc", &a), 0);
	assert_string_equal(a.sha256, SHA_EMPTY);
	assert_string_equal(artifact_kind_name(a.kind), "program");
	assert_int_equal(artifact_hasher_skipped(h), 0);
	artifact_hasher_free(h);
	assert_int_equal(remove_tree(dir), 0);
}

static void test_unhashable_is_counted(void **state)
{
	struct artifact_hasher *h = artifact_hasher_new(4); /* 4 bytes at most */
	char dir[256];
	struct artifact a;
	int fd, p[2];

	(void)state;
	assert_non_null(h);
	assert_int_equal(make_temp_dir(dir, sizeof(dir), "artifact"), 0);
	fd = open_text(dir, "big", "more than four bytes");
	assert_int_equal(artifact_hasher_submit(h, "big@1", fd, ARTIFACT_EXECUTABLE), 0);
	assert_int_equal(pipe(p), 0);
	close(p[1]);
	assert_int_equal(artifact_hasher_submit(h, "pipe@1", p[0], ARTIFACT_EXECUTABLE), 0);
	assert_int_equal(artifact_hasher_drain(h, DEADLINE_MS), 0);
	assert_int_equal(artifact_hasher_get(h, "big@1", &a), -ENOENT);
	assert_int_equal(artifact_hasher_get(h, "pipe@1", &a), -ENOENT);
	assert_int_equal(artifact_hasher_skipped(h), 2);
	/* a failed key may be asked for again (the file may be readable now) */
	fd = open_text(dir, "small", "abc");
	assert_int_equal(artifact_hasher_submit(h, "big@1", fd, ARTIFACT_EXECUTABLE), 0);
	assert_int_equal(artifact_hasher_drain(h, DEADLINE_MS), 0);
	assert_int_equal(artifact_hasher_get(h, "big@1", &a), 0);
	assert_string_equal(a.sha256, SHA_ABC);
	artifact_hasher_free(h);
	artifact_hasher_free(NULL);
	assert_int_equal(remove_tree(dir), 0);
}

/* The queue is bounded: past ARTIFACT_QUEUE_MAX waiting, a request is
 * refused and counted, never blocking the caller. Fill it faster than the
 * worker can drain: files of 8 MiB each. */
static void test_queue_bound(void **state)
{
	struct artifact_hasher *h = artifact_hasher_new(0);
	char dir[256], path[512], key[32];
	size_t refused = 0, n = ARTIFACT_QUEUE_MAX + 32;
	struct artifact a;
	FILE *f;

	(void)state;
	assert_non_null(h);
	assert_int_equal(make_temp_dir(dir, sizeof(dir), "artifact"), 0);
	snprintf(path, sizeof(path), "%s/big", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 8 << 20), 0);
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

		assert_true(fd >= 0);
		snprintf(key, sizeof(key), "big@%zu", i);
		rc = artifact_hasher_submit(h, key, fd, ARTIFACT_EXECUTABLE);
		assert_true(rc == 0 || rc == -EAGAIN);
		refused += rc == -EAGAIN;
	}
	assert_true(refused > 0);
	assert_int_equal(artifact_hasher_skipped(h), refused);
	/* and what was taken is hashed */
	assert_int_equal(artifact_hasher_drain(h, DEADLINE_MS * 4), 0);
	assert_int_equal(artifact_hasher_get(h, "big@0", &a), 0);
	assert_int_equal(a.size, 8 << 20);
	artifact_hasher_free(h);
	assert_int_equal(remove_tree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_fd),
		cmocka_unit_test(test_worker_hashes_the_version_opened),
		cmocka_unit_test(test_unhashable_is_counted),
		cmocka_unit_test(test_queue_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
