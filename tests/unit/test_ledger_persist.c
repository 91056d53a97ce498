/* reach/ledger_persist: saves from a writer thread (no fork), while other
 * threads hold malloc's, libcurl's and our own locks; the file holds the
 * ledger as it was at the snapshot; failures are reported and leave the
 * previous file; load at start with a corrupt file kept aside.
 *
 * REACH_PERSIST_BENCH=N times the snapshot of N identities x 100 edges
 * (the figure quoted in ledger_persist.c). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "reach/ledger.h"
#include "reach/ledger_persist.h"
#include "reach/ledger_store.h"
#include "testutil.h"

#define DEADLINE_MS 60000 /* a save that takes longer is a hang */

/* ---- helpers -------------------------------------------------------------- */

struct dir {
	char path[256];
	char file[320];
	char tmp[330];
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (!d || make_temp_dir(d->path, sizeof(d->path), "test_ledger_persist")) {
		free(d);
		return -1;
	}
	snprintf(d->file, sizeof(d->file), "%s/ledger.pb.z", d->path);
	snprintf(d->tmp, sizeof(d->tmp), "%s.tmp", d->file);
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;
	int rc;

	chmod(d->path, 0700);
	rc = remove_tree(d->path);
	free(d);
	return rc;
}

/* n identities (named with tag) x e edges, every kind of field set. */
static void fill(struct ledger *l, int n, int e, const char *tag, int64_t t0)
{
	const char *lin[] = { "/usr/lib/systemd/systemd", "/usr/bin/containerd-shim", "/usr/bin/python3.11" };

	for (int i = 0; i < n; i++) {
		char id[64], pod[64];

		snprintf(id, sizeof(id), "ns-%s/sa-%04d", tag, i);
		snprintf(pod, sizeof(pod), "pod-%04d-abcde", i);
		for (int j = 0; j < e; j++) {
			char object[96];
			struct ledger_obs o = { .identity = id, .count_delta = (uint64_t)j + 1 };

			o.kind = j % 2 ? LEDGER_EGRESS : LEDGER_SECRET;
			snprintf(object, sizeof(object), j % 2 ? "tcp/10.%d.%d.1/443" : "/etc/secret/%d/%d", i % 250, j);
			o.object = object;
			if (o.kind == LEDGER_EGRESS) {
				o.dest_class = "external";
				o.name = "api.example.com";
				o.name_source = j % 4 == 1 ? "sni" : "dns"; /* kept through save and load */
				o.proto = "tcp";
				o.port = 443;
				o.outcome = j % 3 ? "established" : "refused";
			} else {
				o.category = "k8s-sa-token";
				o.content_fingerprint = "hmac:0123456789abcdef";
				o.opened_as = "/tmp/notes.txt"; /* a symlink to it: kept through save and load */
			}
			o.first_ms = t0 + j;
			o.last_ms = t0 + 1000 + j;
			o.executable = "/usr/bin/python3.11";
			o.lineage = lin;
			o.n_lineage = 3;
			o.pod = pod;
			o.image = "ghcr.io/acme/gw@sha256:1111";
			o.epoch = "e1";
			assert_int_equal(ledger_record(l, &o), 0);
		}
	}
}

static char *json_text(const struct ledger *l)
{
	json_object *j = ledger_to_json(l, NULL, NULL);
	char *s;

	assert_non_null(j);
	s = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
	assert_non_null(s);
	return s;
}

/* A copy of l (every field, every counter). */
static struct ledger *copy_of(const struct ledger *l)
{
	struct ledger *c = ledger_new(0, 0);

	assert_non_null(c);
	assert_int_equal(ledger_merge(c, l), 0);
	return c;
}

/* The file at path loads back as exactly want. */
static void assert_file_holds(const char *path, const struct ledger *want)
{
	struct ledger *got = ledger_new(0, 0);
	char err[512] = "", *a, *b;

	assert_non_null(got);
	if (ledger_load(got, path, NULL, err, sizeof(err)))
		fail_msg("load %s: %s", path, err);
	a = json_text(want);
	b = json_text(got);
	assert_string_equal(a, b);
	free(a);
	free(b);
	ledger_free(got);
}

static struct ledger_persist *open_persist(const char *path, struct ledger **l)
{
	struct ledger_persist_opts o = { .path = path, .node = "test-node" };
	struct ledger_persist *p = NULL;
	char err[512] = "";

	if (ledger_persist_open(&p, l, &o, err, sizeof(err)))
		fail_msg("ledger_persist_open: %s", err);
	assert_non_null(p);
	assert_non_null(*l);
	return p;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- busy threads ----------------------------------------------------------- */

/* What a fork() would have to survive: other threads inside malloc, inside
 * libcurl, and holding a mutex of ours. A save must finish regardless. */
static int forks;
static void count_fork(void) { __atomic_add_fetch(&forks, 1, __ATOMIC_SEQ_CST); }

struct busy {
	pthread_mutex_t ours;
	int stop;
	uint64_t rounds[4];
};

static bool busy_stopped(struct busy *b) { return __atomic_load_n(&b->stop, __ATOMIC_ACQUIRE); }

static void *busy_malloc(void *arg)
{
	struct busy *b = arg;
	void *keep[64] = { 0 };

	for (size_t i = 0; !busy_stopped(b); i++) {
		size_t k = i % 64;

		free(keep[k]);
		keep[k] = malloc(16 + (i * 7919) % 65536);
		if (!(i % 1024))
			__atomic_add_fetch(&b->rounds[0], 1, __ATOMIC_RELAXED);
	}
	for (size_t k = 0; k < 64; k++)
		free(keep[k]);
	return NULL;
}

static void *busy_mutex(void *arg)
{
	struct busy *b = arg;

	while (!busy_stopped(b)) {
		pthread_mutex_lock(&b->ours); /* held most of the time */
		for (int i = 0; i < 1000; i++)
			free(malloc(128));
		__atomic_add_fetch(&b->rounds[1], 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&b->ours);
	}
	return NULL;
}

static void *busy_curl(void *arg)
{
	struct busy *b = arg;

	while (!busy_stopped(b)) {
		CURL *c = curl_easy_init();

		if (c) {
			curl_easy_setopt(c, CURLOPT_URL, "https://127.0.0.1:1/");
			curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10L);
		}
		curl_easy_cleanup(c);
		__atomic_add_fetch(&b->rounds[2], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_open_without_file_starts_empty(void **state)
{
	struct dir *d = *state;
	struct ledger_persist_status st;
	struct ledger *l = NULL;
	struct ledger_persist *p = open_persist(d->file, &l);

	assert_int_equal(ledger_identities(l), 0);
	assert_string_equal(ledger_persist_path(p), d->file);
	ledger_persist_get_status(p, &st);
	assert_int_equal(st.last_save_unix_ms, 0);
	assert_string_equal(st.last_error, "");
	assert_int_equal(st.saves_skipped, 0);
	assert_false(st.saving);
	assert_int_equal(ledger_persist_poll(p, 0), 0);
	ledger_persist_free(p);
	ledger_free(l);
}

static void test_open_loads_the_saved_ledger(void **state)
{
	struct dir *d = *state;
	struct ledger *src = ledger_new(0, 0), *l = NULL;
	struct ledger_persist *p;
	char err[512], *a, *b;

	assert_non_null(src);
	fill(src, 5, 7, "load", 1700000000000);
	assert_int_equal(ledger_save(src, "n", d->file, err, sizeof(err)), 0);
	p = open_persist(d->file, &l);
	a = json_text(src);
	b = json_text(l);
	assert_string_equal(a, b);
	free(a);
	free(b);
	ledger_persist_free(p);
	ledger_free(l);
	ledger_free(src);
}

static void test_open_keeps_a_corrupt_file_aside(void **state)
{
	struct dir *d = *state;
	struct ledger *l = NULL;
	struct ledger_persist *p;
	struct dirent *de;
	DIR *dir;
	int moved = 0;

	write_text(d->file, "REACHLG1 but not a ledger at all, far too short");
	p = open_persist(d->file, &l);
	assert_int_equal(ledger_identities(l), 0);
	assert_int_equal(access(d->file, F_OK), -1);
	assert_non_null(dir = opendir(d->path));
	while ((de = readdir(dir)))
		moved += !strncmp(de->d_name, "ledger.pb.z.corrupt-", 20);
	closedir(dir);
	assert_int_equal(moved, 1);
	/* and saving works from there */
	fill(l, 2, 2, "after", 1700000000000);
	assert_int_equal(ledger_persist_save_sync(p, l), 0);
	assert_file_holds(d->file, l);
	ledger_persist_free(p);
	ledger_free(l);
}

static void test_open_unreadable_file_fails(void **state)
{
	struct dir *d = *state;
	struct ledger_persist_opts o = { .path = d->file };
	struct ledger_persist *p = (void *)1;
	struct ledger *l = (void *)1;
	char err[512] = "";

	assert_int_equal(mkdir(d->file, 0700), 0); /* not a regular file: left alone */
	assert_int_equal(ledger_persist_open(&p, &l, &o, err, sizeof(err)), -EINVAL);
	assert_null(p);
	assert_null(l);
	assert_non_null(strstr(err, "loading the ledger: "));
	assert_non_null(strstr(err, d->file));
}

/* Saves back to back while other threads hammer malloc, hold our mutex and
 * run libcurl: every one completes, nothing forks, and each file is the
 * ledger as it was when its snapshot was taken. */
static void test_saves_while_threads_are_busy(void **state)
{
	struct dir *d = *state;
	struct busy b = { .ours = PTHREAD_MUTEX_INITIALIZER };
	pthread_t th[4];
	void *(*fn[4])(void *) = { busy_malloc, busy_malloc, busy_mutex, busy_curl };
	struct ledger *l = NULL;
	struct ledger_persist *p = open_persist(d->file, &l);
	int64_t last = 0;

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, fn[i], &b), 0);
	/* every helper running before the first save */
	while (!__atomic_load_n(&b.rounds[0], __ATOMIC_RELAXED) || !__atomic_load_n(&b.rounds[1], __ATOMIC_RELAXED) ||
	       !__atomic_load_n(&b.rounds[2], __ATOMIC_RELAXED))
		sched_yield();
	for (int round = 0; round < 12; round++) {
		struct ledger_persist_status st;
		struct ledger *want;
		char tag[16];
		double t0;
		int rc;

		snprintf(tag, sizeof(tag), "r%02d", round);
		fill(l, 20, 10, tag, 1700000000000 + round);
		want = copy_of(l);
		assert_int_equal(ledger_persist_save_async(p, l), 0);
		fill(l, 3, 3, "later", 1800000000000); /* after the snapshot: not in this file */
		t0 = now_ms();
		rc = ledger_persist_poll(p, DEADLINE_MS);
		if (rc != 1)
			fail_msg("save %d: poll returned %d after %.0f ms", round, rc, now_ms() - t0);
		ledger_persist_get_status(p, &st);
		assert_false(st.saving);
		assert_string_equal(st.last_error, "");
		assert_true(st.last_save_unix_ms >= last && st.last_save_unix_ms > 0);
		last = st.last_save_unix_ms;
		assert_file_holds(d->file, want);
		ledger_free(want);
	}
	__atomic_store_n(&b.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(__atomic_load_n(&forks, __ATOMIC_SEQ_CST), 0);
	{
		struct ledger_persist_status st;

		ledger_persist_get_status(p, &st);
		assert_int_equal(st.saves_skipped, 0);
	}
	ledger_persist_free(p);
	ledger_free(l);
}

/* The snapshot owns its bytes: the ledger changed heavily, then freed,
 * while the writer runs, and the file is the ledger at snapshot time. */
static void test_change_after_snapshot_does_not_tear(void **state)
{
	struct dir *d = *state;
	struct ledger *l = NULL, *want;
	struct ledger_persist *p = open_persist(d->file, &l);
	struct ledger_file_info info;
	struct ledger_persist_status st;
	char err[512];

	fill(l, 300, 40, "big", 1700000000000);
	want = copy_of(l);
	assert_int_equal(ledger_persist_save_async(p, l), 0);
	/* the same edges counted again, new identities, then the ledger gone */
	fill(l, 300, 40, "big", 1750000000000);
	fill(l, 50, 5, "new", 1750000000000);
	ledger_free(l);
	l = NULL;
	assert_int_equal(ledger_persist_poll(p, DEADLINE_MS), 1);
	assert_file_holds(d->file, want);
	{
		struct ledger *back = ledger_new(0, 0);

		assert_int_equal(ledger_load(back, d->file, &info, err, sizeof(err)), 0);
		ledger_free(back);
	}
	ledger_persist_get_status(p, &st);
	assert_string_equal(info.node, "test-node");
	assert_int_equal(info.saved_unix_ms, st.last_save_unix_ms);
	ledger_persist_free(p);
	ledger_free(want);
}

/* With keep_image, the writer hands back exactly the bytes it wrote (what
 * /v1/ledger serves); without it, nothing is kept; one take empties it. */
static void test_kept_image_is_the_file(void **state)
{
	struct dir *d = *state;
	struct ledger *l = NULL, *back = ledger_new(0, 0);
	struct ledger_persist *p = open_persist(d->file, &l);
	uint8_t *image = NULL, *file = NULL;
	size_t len = 0, file_len = 0;
	char err[512];

	assert_non_null(back);
	fill(l, 20, 5, "img", 1700000000000);
	assert_int_equal(ledger_persist_save_async(p, l), 0);
	assert_int_equal(ledger_persist_poll(p, DEADLINE_MS), 1);
	assert_false(ledger_persist_take_image(p, &image, &len));
	assert_null(image);

	ledger_persist_keep_image(p, true);
	assert_int_equal(ledger_persist_save_async(p, l), 0);
	assert_int_equal(ledger_persist_poll(p, DEADLINE_MS), 1);
	assert_true(ledger_persist_take_image(p, &image, &len));
	{
		FILE *f = fopen(d->file, "rb");

		assert_non_null(f);
		assert_int_equal(fseek(f, 0, SEEK_END), 0);
		file_len = (size_t)ftell(f);
		rewind(f);
		file = malloc(file_len + 1);
		assert_non_null(file);
		assert_int_equal(fread(file, 1, file_len, f), file_len);
		fclose(f);
	}
	assert_int_equal(len, file_len);
	assert_memory_equal(image, file, len);
	assert_int_equal(ledger_load_image(back, image, len, NULL, err, sizeof(err)), 0);
	assert_int_equal(ledger_edges(back), ledger_edges(l));
	free(image);
	assert_false(ledger_persist_take_image(p, &image, &len)); /* taken once */
	free(file);
	ledger_persist_free(p);
	ledger_free(l);
	ledger_free(back);
}

/* A save that cannot write is the last error, and the previous file stays;
 * the next good save clears it. */
static void test_failed_write_keeps_the_previous_file(void **state)
{
	struct dir *d = *state;
	struct ledger *l = NULL, *first;
	struct ledger_persist *p = open_persist(d->file, &l);
	struct ledger_persist_status st;
	int64_t good;

	fill(l, 4, 4, "one", 1700000000000);
	assert_int_equal(ledger_persist_save_sync(p, l), 0);
	ledger_persist_get_status(p, &st);
	good = st.last_save_unix_ms;
	first = copy_of(l);
	fill(l, 4, 4, "two", 1700000000000);

	/* PATH.tmp a directory: the open fails, as root too */
	assert_int_equal(mkdir(d->tmp, 0700), 0);
	assert_int_equal(ledger_persist_save_async(p, l), 0);
	assert_int_equal(ledger_persist_poll(p, DEADLINE_MS), -EISDIR);
	ledger_persist_get_status(p, &st);
	assert_non_null(strstr(st.last_error, "ledger save: open "));
	assert_non_null(strstr(st.last_error, d->tmp));
	assert_int_equal(st.last_save_unix_ms, good);
	assert_file_holds(d->file, first);
	/* reported once: the next poll has nothing new */
	assert_int_equal(ledger_persist_poll(p, 0), 0);
	/* the sync save reports the same way */
	assert_int_equal(ledger_persist_save_sync(p, l), -EISDIR);
	assert_file_holds(d->file, first);
	assert_int_equal(rmdir(d->tmp), 0);

	/* an unwritable directory (root writes anyway: only checked as a user) */
	if (geteuid() != 0) {
		assert_int_equal(chmod(d->path, 0500), 0);
		assert_int_equal(ledger_persist_save_async(p, l), 0);
		assert_int_equal(ledger_persist_poll(p, DEADLINE_MS), -EACCES);
		ledger_persist_get_status(p, &st);
		assert_non_null(strstr(st.last_error, "Permission denied"));
		assert_file_holds(d->file, first);
		assert_int_equal(chmod(d->path, 0700), 0);
	}

	assert_int_equal(ledger_persist_save_async(p, l), 0);
	assert_int_equal(ledger_persist_poll(p, DEADLINE_MS), 1);
	ledger_persist_get_status(p, &st);
	assert_string_equal(st.last_error, "");
	assert_true(st.last_save_unix_ms >= good);
	assert_file_holds(d->file, l);
	ledger_persist_free(p);
	ledger_free(first);
	ledger_free(l);
}

/* One save at a time: a save asked for while one is being written is
 * skipped and counted. PATH.tmp as a FIFO holds the writer in open() until
 * the test reads it: the save is in flight for as long as the test says. */
static void test_save_in_flight_skips_the_next(void **state)
{
	struct dir *d = *state;
	struct ledger *l = NULL;
	struct ledger_persist *p = open_persist(d->file, &l);
	struct ledger_persist_status st;
	char buf[4096];
	ssize_t n;
	int fd;

	fill(l, 3, 3, "fifo", 1700000000000);
	assert_int_equal(mkfifo(d->tmp, 0600), 0);
	assert_int_equal(ledger_persist_save_async(p, l), 0);
	assert_int_equal(ledger_persist_save_async(p, l), -EBUSY);
	assert_int_equal(ledger_persist_save_async(p, l), -EBUSY);
	assert_int_equal(ledger_persist_poll(p, 0), 0);
	ledger_persist_get_status(p, &st);
	assert_true(st.saving);
	assert_int_equal(st.saves_skipped, 2);
	/* let it through: it writes the FIFO, whose fsync fails */
	assert_true((fd = open(d->tmp, O_RDONLY | O_CLOEXEC)) >= 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	assert_int_equal(n, 0);
	close(fd);
	assert_int_equal(ledger_persist_poll(p, DEADLINE_MS), -EINVAL);
	ledger_persist_get_status(p, &st);
	assert_false(st.saving);
	assert_non_null(strstr(st.last_error, "fsync"));
	assert_int_equal(access(d->tmp, F_OK), -1); /* the failed save removed its temp file */
	assert_int_equal(ledger_persist_save_async(p, l), 0);
	assert_int_equal(ledger_persist_poll(p, DEADLINE_MS), 1);
	assert_file_holds(d->file, l);
	ledger_persist_get_status(p, &st);
	assert_int_equal(st.saves_skipped, 2);
	ledger_persist_free(p);
	ledger_free(l);
}

/* save_sync at exit waits for the save in flight, and freeing with one in
 * flight finishes it first. */
static void test_sync_and_free_wait_for_the_writer(void **state)
{
	struct dir *d = *state;
	struct ledger *l = NULL;
	struct ledger_persist *p = open_persist(d->file, &l);

	fill(l, 200, 20, "w", 1700000000000);
	assert_int_equal(ledger_persist_save_async(p, l), 0);
	fill(l, 5, 5, "x", 1700000000000);
	assert_int_equal(ledger_persist_save_sync(p, l), 0);
	assert_file_holds(d->file, l);
	assert_int_equal(ledger_persist_poll(p, 0), 1); /* the async one completed */
	fill(l, 5, 5, "y", 1700000000000);
	assert_int_equal(ledger_persist_save_async(p, l), 0);
	ledger_persist_free(p);
	assert_file_holds(d->file, l);
	ledger_free(l);
}

/* The snapshot is the part of a save that stays on the event loop. */
static void test_snapshot_cost(void **state)
{
	struct dir *d = *state;
	const char *env = getenv("REACH_PERSIST_BENCH");
	int n = env ? atoi(env) : 50;
	struct ledger *l = ledger_new((size_t)n, 100);
	struct ledger_snapshot *s = NULL;
	char err[512];
	double t0, take, save, whole;
	uint64_t raw;

	assert_non_null(l);
	fill(l, n, 100, "bench", 1700000000000);
	t0 = now_ms();
	assert_int_equal(ledger_snapshot_take(l, "n", &s, err, sizeof(err)), 0);
	take = now_ms() - t0;
	raw = ledger_snapshot_raw_len(s);
	t0 = now_ms();
	assert_int_equal(ledger_snapshot_save(s, d->file, err, sizeof(err)), 0);
	save = now_ms() - t0;
	t0 = now_ms();
	assert_int_equal(ledger_save(l, "n", d->file, err, sizeof(err)), 0);
	whole = now_ms() - t0;
	fprintf(stderr,
		"snapshot of %d identities x 100 edges: %.1f MB encoded, take %.1f ms (event loop), "
		"compress+write %.1f ms (writer); ledger_save whole %.1f ms\n",
		n, raw / 1e6, take, save, whole);
	assert_file_holds(d->file, l);
	ledger_free(l);
}

static int group_setup(void **state)
{
	(void)state;
	pthread_atfork(count_fork, NULL, NULL);
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	curl_global_cleanup();
	return 0;
}

#define D(f) cmocka_unit_test_setup_teardown(f, dir_setup, dir_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		D(test_open_without_file_starts_empty),
		D(test_open_loads_the_saved_ledger),
		D(test_open_keeps_a_corrupt_file_aside),
		D(test_open_unreadable_file_fails),
		D(test_saves_while_threads_are_busy),
		D(test_change_after_snapshot_does_not_tear),
		D(test_kept_image_is_the_file),
		D(test_failed_write_keeps_the_previous_file),
		D(test_save_in_flight_skips_the_next),
		D(test_sync_and_free_wait_for_the_writer),
		D(test_snapshot_cost),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
