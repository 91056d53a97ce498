#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ship/spool.h"
#include "testutil.h"

/* ---- fixture: a temp dir; the spool lives in DIR/spool ----------------- */

struct fx {
	char dir[PATH_MAX];
	char spool[PATH_MAX + 16];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (make_temp_dir(f->dir, sizeof(f->dir), "reach-spool")) {
		free(f);
		return -1;
	}
	snprintf(f->spool, sizeof(f->spool), "%s/spool", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc;

	chmod(f->dir, 0700);
	rc = remove_tree(f->dir);
	free(f);
	return rc;
}

/* ---- helpers ---------------------------------------------------------------- */

static struct spool *open_ok(const char *dir, uint64_t max_bytes, uint64_t max_records)
{
	struct spool_limits lim = { .max_bytes = max_bytes, .max_records = max_records };
	struct spool *sp = NULL;
	char err[512] = "";
	int rc = spool_open(&sp, dir, &lim, err, sizeof(err));

	if (rc)
		fail_msg("spool_open %s: %d (%s)", dir, rc, err);
	return sp;
}

static void append_str(struct spool *sp, const char *s)
{
	assert_int_equal(spool_append(sp, s, strlen(s)), 0);
}

/* Peeks the oldest record and checks its body; returns its number. */
static uint64_t expect_oldest(struct spool *sp, const char *want)
{
	void *body = NULL;
	size_t len = 0;
	uint64_t no = 0;

	assert_int_equal(spool_peek_oldest(sp, &body, &len, &no), 0);
	assert_non_null(body);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(body, want, len);
	free(body);
	return no;
}

static void expect_empty(struct spool *sp)
{
	void *body = NULL;
	size_t len = 0;
	uint64_t no = 0;

	assert_int_equal(spool_peek_oldest(sp, &body, &len, &no), -ENOENT);
	assert_null(body);
}

/* Peeks and removes the oldest; returns its number. */
static uint64_t pop(struct spool *sp, const char *want)
{
	uint64_t no = expect_oldest(sp, want);

	assert_int_equal(spool_remove(sp, no), 0);
	return no;
}

static struct spool_stats stats_of(struct spool *sp)
{
	struct spool_stats st;

	memset(&st, 0xa5, sizeof(st));
	spool_stats(sp, &st);
	return st;
}

/* Files in dir whose name ends in suffix. */
static int count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name), m = strlen(suffix);

		if (l >= m && !strcmp(de->d_name + l - m, suffix))
			n++;
	}
	closedir(d);
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Record numbers from the *.rec file names in dir, ascending. */
static int list_records(const char *dir, uint64_t *nos, int max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strlen(de->d_name) == 24 && !strcmp(de->d_name + 20, ".rec") && n < max)
			nos[n++] = strtoull(de->d_name, NULL, 10);
	closedir(d);
	qsort(nos, (size_t)n, sizeof(*nos), cmp_u64);
	return n;
}

static void record_path(char *buf, size_t size, const char *dir, uint64_t no, const char *suffix)
{
	snprintf(buf, size, "%s/%020" PRIu64 ".rec%s", dir, no, suffix);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* XORs one byte of a file at off. */
static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* ---- tests ------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
	struct fx *f = *state;
	struct spool *sp = open_ok(f->spool, 0, 0);
	struct spool_stats st;
	uint64_t a, b, c;
	struct stat sb;
	void *body = NULL;
	size_t len = 1;
	uint64_t no;

	assert_int_equal(stat(f->spool, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	expect_empty(sp);
	append_str(sp, "first");
	append_str(sp, "second report");
	assert_int_equal(spool_append(sp, "", 0), 0); /* an empty body is a record too */
	st = stats_of(sp);
	assert_int_equal(st.records, 3);
	assert_int_equal(st.bytes, 3 * SPOOL_HEADER_SIZE + 5 + 13);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.write_failed, 0);
	assert_int_equal(st.quarantined, 0);
	assert_int_equal(count_files(f->spool, ".rec"), 3);

	/* peeking does not consume */
	a = expect_oldest(sp, "first");
	assert_int_equal(expect_oldest(sp, "first"), a);
	assert_int_equal(spool_remove(sp, a), 0);
	assert_int_equal(spool_remove(sp, a), -ENOENT);
	b = pop(sp, "second report");
	assert_int_equal(spool_peek_oldest(sp, &body, &len, &c), 0);
	assert_non_null(body);
	assert_int_equal(len, 0);
	free(body);
	assert_int_equal(spool_remove(sp, c), 0);
	assert_true(a < b && b < c);
	expect_empty(sp);
	st = stats_of(sp);
	assert_int_equal(st.records, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(count_files(f->spool, ".rec"), 0);
	assert_int_equal(spool_remove(sp, 12345), -ENOENT);
	(void)no;
	spool_close(sp);
}

static void test_restart_keeps_order_and_numbering(void **state)
{
	struct fx *f = *state;
	struct spool *sp = open_ok(f->spool, 0, 0);
	uint64_t nos[3], later;
	char path[PATH_MAX + 64];

	append_str(sp, "r1");
	append_str(sp, "r2");
	append_str(sp, "r3");
	nos[0] = expect_oldest(sp, "r1");
	spool_close(sp);

	/* file names are the 20-digit record numbers */
	record_path(path, sizeof(path), f->spool, nos[0], "");
	assert_true(exists(path));
	assert_int_equal(strlen(strrchr(path, '/') + 1), 24);

	sp = open_ok(f->spool, 0, 0);
	assert_int_equal(stats_of(sp).records, 3);
	assert_int_equal(pop(sp, "r1"), nos[0]);
	append_str(sp, "r4"); /* after the restart: numbered after r3, delivered after it */
	nos[1] = pop(sp, "r2");
	nos[2] = pop(sp, "r3");
	later = pop(sp, "r4");
	assert_true(nos[0] < nos[1] && nos[1] < nos[2] && nos[2] < later);
	expect_empty(sp);
	spool_close(sp);
}

/* Numbering does not restart when every record is gone, even if the
 * process crashed without closing. */
static void test_numbering_survives_empty_spool(void **state)
{
	struct fx *f = *state;
	struct spool *sp = open_ok(f->spool, 0, 0);
	uint64_t high = 0, no;

	for (int i = 0; i < 5; i++) {
		append_str(sp, "x");
		high = pop(sp, "x");
	}
	spool_close(sp);
	assert_int_equal(count_files(f->spool, ".rec"), 0);

	sp = open_ok(f->spool, 0, 0);
	append_str(sp, "after");
	no = pop(sp, "after");
	assert_true(no > high);
	spool_close(sp);

	/* the counter file lost (or garbled): records that exist still keep
	 * numbering ahead of them */
	sp = open_ok(f->spool, 0, 0);
	append_str(sp, "kept");
	spool_close(sp);
	{
		char path[PATH_MAX + 32];

		snprintf(path, sizeof(path), "%s/next", f->spool);
		write_file(path, "garbage", 7);
	}
	sp = open_ok(f->spool, 0, 0);
	append_str(sp, "newer");
	high = pop(sp, "kept");
	assert_true(pop(sp, "newer") > high);
	spool_close(sp);
}

static void test_corrupt_records_quarantined(void **state)
{
	struct fx *f = *state;
	struct spool *sp = open_ok(f->spool, 0, 0);
	char path[PATH_MAX + 64], bad[PATH_MAX + 64];
	uint64_t nos[5];
	struct spool_stats st;

	for (int i = 0; i < 5; i++) {
		char body[24];

		snprintf(body, sizeof(body), "body-%d", i);
		append_str(sp, body);
	}
	spool_close(sp);
	assert_int_equal(list_records(f->spool, nos, 5), 5);

	/* record 1: a flipped body byte (CRC); record 2: truncated; record 3:
	 * bad magic. Records 0 and 4 stay good. */
	record_path(path, sizeof(path), f->spool, nos[1], "");
	flip_byte(path, SPOOL_HEADER_SIZE + 2);
	record_path(path, sizeof(path), f->spool, nos[2], "");
	assert_int_equal(truncate(path, SPOOL_HEADER_SIZE + 3), 0);
	record_path(path, sizeof(path), f->spool, nos[3], "");
	flip_byte(path, 0);

	sp = open_ok(f->spool, 0, 0);
	st = stats_of(sp);
	assert_int_equal(st.quarantined, 3);
	assert_int_equal(st.records, 2);
	assert_int_equal(st.dropped, 0);
	for (int i = 1; i <= 3; i++) {
		record_path(path, sizeof(path), f->spool, nos[i], "");
		record_path(bad, sizeof(bad), f->spool, nos[i], ".bad");
		assert_false(exists(path));
		assert_true(exists(bad)); /* kept for inspection, not deleted */
	}
	assert_int_equal(expect_oldest(sp, "body-0"), nos[0]);

	/* corrupted while open: found at peek, quarantined, the next returned */
	record_path(path, sizeof(path), f->spool, nos[0], "");
	flip_byte(path, SPOOL_HEADER_SIZE);
	assert_int_equal(pop(sp, "body-4"), nos[4]);
	st = stats_of(sp);
	assert_int_equal(st.quarantined, 4);
	assert_int_equal(st.records, 0);
	expect_empty(sp);
	spool_close(sp);

	/* quarantined files are not looked at again */
	sp = open_ok(f->spool, 0, 0);
	assert_int_equal(stats_of(sp).quarantined, 0);
	assert_int_equal(count_files(f->spool, ".bad"), 4);
	spool_close(sp);
}

static void test_leftover_temp_files_removed(void **state)
{
	struct fx *f = *state;
	struct spool *sp = open_ok(f->spool, 0, 0);
	char path[PATH_MAX + 64];

	append_str(sp, "complete");
	spool_close(sp);
	/* what a crash between write and rename leaves */
	record_path(path, sizeof(path), f->spool, 99, ".tmp");
	write_file(path, "half a rec", 10);
	snprintf(path, sizeof(path), "%s/next.tmp", f->spool); /* path has room: PATH_MAX + 64 */
	write_file(path, "1", 1);

	sp = open_ok(f->spool, 0, 0);
	assert_int_equal(count_files(f->spool, ".tmp"), 0);
	assert_int_equal(stats_of(sp).records, 1);
	assert_int_equal(stats_of(sp).quarantined, 0);
	pop(sp, "complete");
	expect_empty(sp);
	spool_close(sp);
}

static void test_record_limit_drops_oldest(void **state)
{
	struct fx *f = *state;
	struct spool *sp = open_ok(f->spool, 0, 3);
	struct spool_stats st;

	append_str(sp, "r1");
	append_str(sp, "r2");
	append_str(sp, "r3");
	assert_int_equal(stats_of(sp).dropped, 0);
	append_str(sp, "r4");
	append_str(sp, "r5");
	st = stats_of(sp);
	assert_int_equal(st.records, 3);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(count_files(f->spool, ".rec"), 3);
	pop(sp, "r3");
	pop(sp, "r4");
	pop(sp, "r5");
	expect_empty(sp);
	spool_close(sp);
}

static void test_byte_limit_drops_oldest(void **state)
{
	struct fx *f = *state;
	char body[100], big[300];
	uint64_t max = 2 * (SPOOL_HEADER_SIZE + sizeof(body)); /* room for exactly two */
	struct spool *sp = open_ok(f->spool, max, 0);
	struct spool_stats st;

	for (int i = 0; i < 3; i++) {
		memset(body, 'a' + i, sizeof(body));
		assert_int_equal(spool_append(sp, body, sizeof(body)), 0);
	}
	st = stats_of(sp);
	assert_int_equal(st.records, 2);
	assert_int_equal(st.bytes, max);
	assert_int_equal(st.dropped, 1);

	/* larger than max_bytes by itself: refused, counted, nothing else lost */
	memset(big, 'z', sizeof(big));
	assert_int_equal(spool_append(sp, big, sizeof(big)), -EFBIG);
	st = stats_of(sp);
	assert_int_equal(st.records, 2);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.write_failed, 0);

	/* one byte less than two records' worth: the oldest goes to fit one */
	memset(body, 'd', sizeof(body));
	assert_int_equal(spool_append(sp, body, sizeof(body)), 0);
	st = stats_of(sp);
	assert_int_equal(st.records, 2);
	assert_int_equal(st.dropped, 3);
	{
		void *got;
		size_t len;
		uint64_t no;

		assert_int_equal(spool_peek_oldest(sp, &got, &len, &no), 0);
		assert_int_equal(len, sizeof(body));
		assert_int_equal(((uint8_t *)got)[0], 'c');
		free(got);
	}
	spool_close(sp);
}

/* Limits lowered between runs: the oldest records go at open, counted. */
static void test_lower_limits_at_open(void **state)
{
	struct fx *f = *state;
	struct spool *sp = open_ok(f->spool, 0, 0);

	for (int i = 0; i < 5; i++)
		append_str(sp, i < 3 ? "old" : "new");
	spool_close(sp);
	sp = open_ok(f->spool, 0, 2);
	assert_int_equal(stats_of(sp).records, 2);
	assert_int_equal(stats_of(sp).dropped, 3);
	pop(sp, "new");
	pop(sp, "new");
	spool_close(sp);
}

static void test_open_fails_clearly(void **state)
{
	struct fx *f = *state;
	char file[PATH_MAX + 16], under[PATH_MAX + 32], ro[PATH_MAX + 16], err[512] = "";
	const char *unwritable = ro;
	struct spool *sp = (struct spool *)1;
	int rc;

	/* a directory that cannot be created: a parent is a regular file */
	snprintf(file, sizeof(file), "%s/plainfile", f->dir);
	write_file(file, "x", 1);
	snprintf(under, sizeof(under), "%s/spool", file);
	rc = spool_open(&sp, under, NULL, err, sizeof(err));
	assert_int_equal(rc, -ENOTDIR);
	assert_null(sp);
	assert_non_null(strstr(err, under));
	assert_non_null(strstr(err, "cannot create the directory"));
	assert_non_null(strstr(err, strerror(ENOTDIR)));

	/* an existing directory where no file can be written: permissions for
	 * a normal user; root passes those, so a procfs directory instead */
	if (geteuid() != 0) {
		snprintf(ro, sizeof(ro), "%s/ro", f->dir);
		assert_int_equal(mkdir(ro, 0500), 0);
	} else {
		unwritable = "/proc/self/fdinfo";
	}
	err[0] = '\0';
	rc = spool_open(&sp, unwritable, NULL, err, sizeof(err));
	assert_true(rc < 0);
	assert_null(sp);
	assert_non_null(strstr(err, unwritable));
	assert_non_null(strstr(err, "cannot write a file"));

	/* no directory at all */
	rc = spool_open(&sp, "", NULL, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
}

static void test_one_spool_per_directory(void **state)
{
	struct fx *f = *state;
	struct spool *sp = open_ok(f->spool, 0, 0), *other = NULL;
	char err[512] = "";

	assert_int_equal(spool_open(&other, f->spool, NULL, err, sizeof(err)), -EWOULDBLOCK);
	assert_null(other);
	assert_non_null(strstr(err, "in use"));
	spool_close(sp);
	other = open_ok(f->spool, 0, 0); /* released by close */
	spool_close(other);
}

/* A write that fails midway (here: the file size limit, which fails the
 * way ENOSPC does, after part of the data) leaves no record behind and the
 * spool usable. */
static void test_write_failure_leaves_no_partial_record(void **state)
{
	struct fx *f = *state;
	struct spool *sp = open_ok(f->spool, 0, 0);
	struct rlimit old, small;
	static char big[8192];
	struct spool_stats st;
	int rc;

	append_str(sp, "before");
	memset(big, 'b', sizeof(big));
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 1000;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	rc = spool_append(sp, big, sizeof(big));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);

	assert_int_equal(rc, -EFBIG);
	st = stats_of(sp);
	assert_int_equal(st.write_failed, 1);
	assert_int_equal(st.records, 1);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(count_files(f->spool, ".tmp"), 0);
	assert_int_equal(count_files(f->spool, ".rec"), 1);

	append_str(sp, "after");
	assert_int_equal(stats_of(sp).records, 2);
	spool_close(sp);
	sp = open_ok(f->spool, 0, 0);
	assert_int_equal(stats_of(sp).records, 2);
	assert_int_equal(stats_of(sp).quarantined, 0);
	pop(sp, "before");
	pop(sp, "after");
	spool_close(sp);
}

/* The agent appends on one thread while the sink consumes on another. */
#define N_CONCURRENT 300

static void *producer(void *arg)
{
	struct spool *sp = arg;

	for (int i = 0; i < N_CONCURRENT; i++) {
		char body[32];

		snprintf(body, sizeof(body), "rec-%06d", i);
		if (spool_append(sp, body, strlen(body)))
			return (void *)1;
	}
	return NULL;
}

static void test_concurrent_append_and_consume(void **state)
{
	struct fx *f = *state;
	struct spool *sp = open_ok(f->spool, 0, 0);
	pthread_t t;
	int next = 0;
	uint64_t prev = 0;
	void *ret;

	assert_int_equal(pthread_create(&t, NULL, producer, sp), 0);
	while (next < N_CONCURRENT) {
		void *body;
		size_t len;
		uint64_t no;
		char want[32];
		int rc = spool_peek_oldest(sp, &body, &len, &no);

		if (rc == -ENOENT) {
			usleep(200);
			continue;
		}
		assert_int_equal(rc, 0);
		snprintf(want, sizeof(want), "rec-%06d", next);
		assert_int_equal(len, strlen(want));
		assert_memory_equal(body, want, len);
		assert_true(no > prev);
		prev = no;
		free(body);
		assert_int_equal(spool_remove(sp, no), 0);
		next++;
	}
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_null(ret);
	expect_empty(sp);
	assert_int_equal(stats_of(sp).dropped, 0);
	spool_close(sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_order_and_numbering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_numbering_survives_empty_spool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_records_quarantined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftover_temp_files_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_limit_drops_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_limit_drops_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lower_limits_at_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_fails_clearly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_spool_per_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failure_leaves_no_partial_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_append_and_consume, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
