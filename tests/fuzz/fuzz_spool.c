// fuzz-sources: -D_GNU_SOURCE user/ship/spool.c user/common/log.c user/common/fileio.c -lz
/* libFuzzer target for the spool's record reader (records on disk outlive
 * the agent: a crash, a full disk or another writer can leave anything):
 * the input becomes the oldest record file; opening the spool and peeking
 * either returns a record or quarantines it as corrupt, never a crash.
 * Run: tests/fuzz/run.sh [seconds]   (corpus: tests/fuzz/corpus/spool/) */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ship/spool.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static char dir[64];

static void empty_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' || (e->d_name[1] && e->d_name[1] != '.')) {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool *sp = NULL;
	struct spool_stats st;
	char path[512], err[512];
	void *body = NULL;
	size_t len = 0;
	uint64_t no = 0;
	FILE *f;
	int rc;

	if (!dir[0])
		snprintf(dir, sizeof(dir), "/tmp/reach-fuzz-spool-%d", (int)getpid());
	empty_dir();
	rmdir(dir);
	CHECK(spool_open(&sp, dir, NULL, err, sizeof(err)) == 0);
	spool_close(sp);
	snprintf(path, sizeof(path), "%s/%020d.rec", dir, 1);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	fwrite(data, 1, size, f);
	fclose(f);
	rc = spool_open(&sp, dir, NULL, err, sizeof(err));
	CHECK(rc == 0);
	rc = spool_peek_oldest(sp, &body, &len, &no);
	spool_stats(sp, &st);
	if (rc == 0 && body) {
		CHECK(no == 1);
		free(body);
	} else {
		CHECK(st.records == 0);
	}
	spool_close(sp);
	return 0;
}
