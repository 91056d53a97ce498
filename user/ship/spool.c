#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>
#include "common/log.h"
#include "common/fileio.h"
#include "common/le.h"
#include "ship/spool.h"

_Static_assert(sizeof(SPOOL_MAGIC) - 1 == 8, "8-byte magic");

#define NAME_DIGITS 20
#define NAME_SUFFIX ".rec"
#define NAME_LEN (NAME_DIGITS + sizeof(NAME_SUFFIX) - 1)
#define NAME_SIZE 64
#define COUNTER_FILE "next"
#define PROBE_FILE "probe.tmp"
/* Numbers reserved per write of the counter file: one small fsynced write
 * per this many appends keeps numbers growing after the spool empties. */
#define RESERVE_BLOCK 256
#define CRC_CHUNK 65536

struct rec {
	uint64_t no;
	uint64_t size; /* of the file */
};

struct spool {
	pthread_mutex_t mu;
	char *dir;
	int dfd;                 /* the directory, flock'ed */
	struct spool_limits lim;
	struct rec *recs;        /* ascending record numbers */
	size_t n, cap;
	uint64_t bytes;
	uint64_t next_no;        /* number of the next append */
	uint64_t reserved;       /* every number below it may have been used */
	uint64_t dropped, write_failed, quarantined;
	bool dropping;           /* the previous append dropped records: log once per streak */
	bool write_failing;      /* the previous append failed: log once per streak */
};

static void rec_name(char *buf, uint64_t no, const char *suffix)
{
	snprintf(buf, NAME_SIZE, "%0*" PRIu64 NAME_SUFFIX "%s", NAME_DIGITS, no, suffix);
}

/* "<20 digits>.rec" and nothing else. */
static bool parse_rec_name(const char *name, uint64_t *no)
{
	if (strlen(name) != NAME_LEN || strspn(name, "0123456789") != NAME_DIGITS ||
	    strcmp(name + NAME_DIGITS, NAME_SUFFIX))
		return false;
	*no = strtoull(name, NULL, 10);
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* 0 at the end of the file before n bytes: the caller sees *got < n. */
static int read_full(int fd, void *buf, size_t n, size_t *got)
{
	uint8_t *p = buf;

	*got = 0;
	while (*got < n) {
		ssize_t r = read(fd, p + *got, n - *got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

/* Writes a whole file as NAME.tmp (fsynced) and renames it to NAME, then
 * fsyncs the directory. On failure the temp file is gone and NAME is
 * untouched. */
/* fileio.h's write_file_atomic() for the spool: names relative to the
 * spool's directory fd, and header + body written without joining them. */
static int write_in_dir_atomic(int dfd, const char *name, const struct iovec *iov, int iovcnt)
{
	char tmp[NAME_SIZE + 8];
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	for (int i = 0; i < iovcnt && !rc; i++)
		rc = write_all(fd, iov[i].iov_base, iov[i].iov_len);
	if (!rc && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && renameat(dfd, tmp, dfd, name))
		rc = -errno;
	if (rc) {
		unlinkat(dfd, tmp, 0);
		return rc;
	}
	/* the file is complete and in place; a failed directory fsync only
	 * risks losing it on power loss, which at-least-once tolerates less
	 * than a refused record would */
	if (fsync(dfd))
		log_warn("spool: fsync of the directory after writing %s: %s", name, strerror(errno));
	return 0;
}

/* ---- the index -------------------------------------------------------------- */

static int index_push(struct spool *sp, uint64_t no, uint64_t size)
{
	if (sp->n == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 64;
		struct rec *r = realloc(sp->recs, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		sp->recs = r;
		sp->cap = cap;
	}
	sp->recs[sp->n++] = (struct rec){ no, size };
	sp->bytes += size;
	return 0;
}

static void index_del(struct spool *sp, size_t i)
{
	sp->bytes -= sp->recs[i].size;
	memmove(&sp->recs[i], &sp->recs[i + 1], (sp->n - i - 1) * sizeof(*sp->recs));
	sp->n--;
}

static long index_find(const struct spool *sp, uint64_t no)
{
	size_t lo = 0, hi = sp->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sp->recs[mid].no == no)
			return (long)mid;
		if (sp->recs[mid].no < no)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	return x->no < y->no ? -1 : x->no > y->no;
}

/* ---- records ------------------------------------------------------------------ */

/* Checks record no against its header and CRC. With body != NULL the body is
 * returned (malloc'ed); otherwise it is only streamed through the CRC.
 * -EBADMSG (why says what is wrong), -ENOENT, -ENOMEM or -errno of a read. */
static int record_read(int dfd, uint64_t no, void **body, size_t *len, uint64_t *file_size, char *why,
		       size_t why_size)
{
	char name[NAME_SIZE];
	uint8_t hdr[SPOOL_HEADER_SIZE], *buf = NULL;
	uint64_t blen, off = 0;
	uint32_t crc = crc32(0, NULL, 0);
	size_t chunk, got;
	struct stat st;
	int fd, rc;

	rec_name(name, no, "");
	if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		goto out;
	}
	rc = -EBADMSG;
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, why_size, "not a regular file");
		goto out;
	}
	if ((rc = read_full(fd, hdr, sizeof(hdr), &got)))
		goto out;
	rc = -EBADMSG;
	if (got < sizeof(hdr)) {
		snprintf(why, why_size, "%zu bytes, shorter than the header", got);
		goto out;
	}
	if (memcmp(hdr, SPOOL_MAGIC, 8) || get_u32(hdr + 8) != SPOOL_FORMAT_VERSION) {
		snprintf(why, why_size, "bad magic or format version");
		goto out;
	}
	blen = get_u64(hdr + 16);
	if (blen != (uint64_t)st.st_size - SPOOL_HEADER_SIZE || blen > SIZE_MAX - 1) {
		snprintf(why, why_size, "header says %" PRIu64 " body bytes, file has %lld", blen,
			 (long long)st.st_size - SPOOL_HEADER_SIZE);
		goto out;
	}
	if (get_u64(hdr + 24) != no) {
		snprintf(why, why_size, "header holds record number %" PRIu64, get_u64(hdr + 24));
		goto out;
	}
	chunk = body ? blen : (blen < CRC_CHUNK ? blen : CRC_CHUNK);
	if (!(buf = malloc(chunk + 1))) {
		rc = -ENOMEM;
		goto out;
	}
	while (off < blen) {
		size_t want = blen - off < chunk ? blen - off : chunk;
		uint8_t *p = body ? buf + off : buf;

		if ((rc = read_full(fd, p, want, &got)))
			goto out;
		if (got < want) {
			snprintf(why, why_size, "shrank while being read");
			rc = -EBADMSG;
			goto out;
		}
		crc = crc32_z(crc, p, want);
		off += want;
	}
	if (crc != get_u32(hdr + 12)) {
		snprintf(why, why_size, "CRC mismatch");
		rc = -EBADMSG;
		goto out;
	}
	if (body) {
		*body = buf;
		*len = blen;
		buf = NULL;
	}
	if (file_size)
		*file_size = (uint64_t)st.st_size;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Moves a bad record aside as NAME.bad: kept for inspection, never
 * retried. */
static void quarantine(struct spool *sp, uint64_t no, const char *why)
{
	char name[NAME_SIZE], bad[NAME_SIZE];

	rec_name(name, no, "");
	rec_name(bad, no, ".bad");
	if (renameat(sp->dfd, name, sp->dfd, bad))
		log_error("spool %s: record %s is corrupt (%s) and could not be moved aside: %s", sp->dir, name,
			  why, strerror(errno));
	else
		log_warn("spool %s: record %s is corrupt (%s): quarantined as %s", sp->dir, name, why, bad);
	sp->quarantined++;
}

static void drop_oldest(struct spool *sp)
{
	char name[NAME_SIZE];

	rec_name(name, sp->recs[0].no, "");
	if (unlinkat(sp->dfd, name, 0) && errno != ENOENT)
		log_error("spool %s: removing %s to make room: %s", sp->dir, name, strerror(errno));
	index_del(sp, 0);
	sp->dropped++;
}

/* Drops the oldest records until `size` more bytes and one more record fit
 * (size 0: until what is there fits). Returns how many were dropped. */
static uint64_t make_room(struct spool *sp, uint64_t size)
{
	uint64_t extra = size ? 1 : 0, n = 0;

	while (sp->n && (sp->n + extra > sp->lim.max_records || sp->bytes + size > sp->lim.max_bytes)) {
		drop_oldest(sp);
		n++;
	}
	return n;
}

/* Keeps the counter file ahead of next_no, so that a number is never handed
 * out twice, whatever is removed or crashes. */
static int reserve(struct spool *sp)
{
	char text[32];
	struct iovec iov;
	uint64_t upto;
	int rc;

	if (sp->next_no < sp->reserved)
		return 0;
	upto = sp->next_no + RESERVE_BLOCK;
	iov.iov_base = text;
	iov.iov_len = (size_t)snprintf(text, sizeof(text), "%" PRIu64 "\n", upto);
	if ((rc = write_in_dir_atomic(sp->dfd, COUNTER_FILE, &iov, 1)))
		return rc;
	sp->reserved = upto;
	return 0;
}

static int write_record(struct spool *sp, uint64_t no, const void *body, size_t len)
{
	char name[NAME_SIZE];
	uint8_t hdr[SPOOL_HEADER_SIZE];
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)body, len } };

	memcpy(hdr, SPOOL_MAGIC, 8);
	put_u32(hdr + 8, SPOOL_FORMAT_VERSION);
	put_u32(hdr + 12, crc32_z(crc32(0, NULL, 0), body, len));
	put_u64(hdr + 16, len);
	put_u64(hdr + 24, no);
	rec_name(name, no, "");
	return write_in_dir_atomic(sp->dfd, name, iov, 2);
}

int spool_append(struct spool *sp, const void *body, size_t len)
{
	uint64_t size = SPOOL_HEADER_SIZE + (uint64_t)len, dropped;
	int rc;

	pthread_mutex_lock(&sp->mu);
	if (size > sp->lim.max_bytes) {
		sp->dropped++;
		log_error("spool %s: a %zu-byte record exceeds max_bytes (%" PRIu64 "): dropped", sp->dir, len,
			  sp->lim.max_bytes);
		rc = -EFBIG;
		goto out;
	}
	dropped = make_room(sp, size);
	if (dropped && !sp->dropping)
		log_warn("spool %s: full (%" PRIu64 " records, %" PRIu64 " bytes max): dropping the oldest records "
			 "(%" PRIu64 " so far)", sp->dir, sp->lim.max_records, sp->lim.max_bytes, sp->dropped);
	sp->dropping = dropped > 0;
	if (!(rc = reserve(sp)) && !(rc = write_record(sp, sp->next_no, body, len)))
		rc = index_push(sp, sp->next_no, size);
	if (rc) {
		sp->write_failed++;
		if (!sp->write_failing)
			log_error("spool %s: writing a record: %s", sp->dir, strerror(-rc));
		sp->write_failing = true;
		goto out;
	}
	if (sp->write_failing)
		log_info("spool %s: writing records again", sp->dir);
	sp->write_failing = false;
	sp->next_no++;
out:
	pthread_mutex_unlock(&sp->mu);
	return rc;
}

int spool_peek_oldest(struct spool *sp, void **body, size_t *len, uint64_t *record_no)
{
	char why[160];
	int rc = -ENOENT;

	pthread_mutex_lock(&sp->mu);
	while (sp->n) {
		uint64_t no = sp->recs[0].no;

		rc = record_read(sp->dfd, no, body, len, NULL, why, sizeof(why));
		if (!rc) {
			*record_no = no;
			break;
		}
		if (rc == -ENOENT) {
			/* removed behind our back: lost like a corrupt one, and counted so */
			log_warn("spool %s: record %" PRIu64 " vanished from disk", sp->dir, no);
			sp->quarantined++;
		} else if (rc == -EBADMSG || rc == -EIO) {
			if (rc == -EIO)
				snprintf(why, sizeof(why), "read: %s", strerror(EIO));
			quarantine(sp, no, why);
		} else {
			break;
		}
		index_del(sp, 0);
		rc = -ENOENT;
	}
	pthread_mutex_unlock(&sp->mu);
	return rc;
}

int spool_remove(struct spool *sp, uint64_t record_no)
{
	char name[NAME_SIZE];
	long i;
	int rc = 0;

	pthread_mutex_lock(&sp->mu);
	if ((i = index_find(sp, record_no)) < 0) {
		rc = -ENOENT;
		goto out;
	}
	rec_name(name, record_no, "");
	/* out of the index whatever happens: a record that cannot be deleted
	 * must not block the queue; it comes back (a duplicate) at next open */
	if (unlinkat(sp->dfd, name, 0) && errno != ENOENT) {
		rc = -errno;
		log_error("spool %s: removing %s: %s", sp->dir, name, strerror(-rc));
	}
	index_del(sp, (size_t)i);
out:
	pthread_mutex_unlock(&sp->mu);
	return rc;
}

void spool_stats(struct spool *sp, struct spool_stats *st)
{
	pthread_mutex_lock(&sp->mu);
	st->records = sp->n;
	st->bytes = sp->bytes;
	st->dropped = sp->dropped;
	st->write_failed = sp->write_failed;
	st->quarantined = sp->quarantined;
	pthread_mutex_unlock(&sp->mu);
}

/* ---- open ------------------------------------------------------------------------ */

/* A file is written, fsynced and removed: a spool that cannot be written
 * should fail at start, not at the first report. */
static int probe_write(int dfd)
{
	uint8_t zeros[SPOOL_HEADER_SIZE] = { 0 };
	int fd, rc = 0;

	fd = openat(dfd, PROBE_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, zeros, sizeof(zeros));
	if (!rc && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (unlinkat(dfd, PROBE_FILE, 0) && !rc)
		rc = -errno;
	return rc;
}

static void read_counter(struct spool *sp)
{
	char text[32], *end;
	size_t got = 0;
	int fd, rc;

	sp->reserved = 0;
	fd = openat(sp->dfd, COUNTER_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("spool %s: counter file %s: %s", sp->dir, COUNTER_FILE, strerror(errno));
		return;
	}
	rc = read_full(fd, text, sizeof(text) - 1, &got);
	close(fd);
	text[got] = '\0';
	errno = 0;
	if (!rc && got && text[0] >= '0' && text[0] <= '9') {
		unsigned long long v = strtoull(text, &end, 10);

		if (!errno && (*end == '\n' || *end == '\0')) {
			sp->reserved = v;
			return;
		}
	}
	/* the records' own numbers still keep numbering ahead of them */
	log_warn("spool %s: counter file %s is unreadable; numbering continues after the newest record", sp->dir,
		 COUNTER_FILE);
}

/* One directory entry at open: temp files go, records are checked. */
static int scan_entry(struct spool *sp, const char *name)
{
	char why[160];
	uint64_t no, size = 0;
	int rc;

	if (ends_with(name, ".tmp")) {
		/* an append or counter update that a crash interrupted */
		if (unlinkat(sp->dfd, name, 0) && errno != ENOENT)
			log_warn("spool %s: removing leftover %s: %s", sp->dir, name, strerror(errno));
		else
			log_info("spool %s: removed %s, left by an interrupted write", sp->dir, name);
		return 0;
	}
	if (!parse_rec_name(name, &no))
		return 0; /* *.bad, the counter, foreign files: left alone */
	rc = record_read(sp->dfd, no, NULL, NULL, &size, why, sizeof(why));
	if (rc == -ENOENT)
		return 0;
	if (rc == -ENOMEM)
		return rc;
	if (rc) {
		if (rc != -EBADMSG)
			snprintf(why, sizeof(why), "read: %s", strerror(-rc));
		quarantine(sp, no, why);
		return 0;
	}
	return index_push(sp, no, size);
}

static int scan(struct spool *sp)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if ((fd = dup(sp->dfd)) < 0)
		return -errno;
	if (!(d = fdopendir(fd))) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while (!rc) {
		errno = 0; /* readdir's end and its failure differ only by errno */
		if (!(de = readdir(d))) {
			rc = -errno;
			break;
		}
		rc = scan_entry(sp, de->d_name);
	}
	closedir(d);
	if (rc)
		return rc;
	if (sp->n > 1)
		qsort(sp->recs, sp->n, sizeof(*sp->recs), rec_cmp);
	return 0;
}

static int open_dir(struct spool *sp, char *err, size_t err_size)
{
	int rc;

	if ((rc = mkdir_p(sp->dir, 0700))) {
		format_error(err, err_size, "spool %s: cannot create the directory: %s", sp->dir, strerror(-rc));
		return rc;
	}
	sp->dfd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dfd < 0) {
		rc = -errno;
		format_error(err, err_size, "spool %s: cannot open the directory: %s", sp->dir, strerror(-rc));
		return rc;
	}
	if (flock(sp->dfd, LOCK_EX | LOCK_NB)) {
		rc = -errno;
		if (rc == -EWOULDBLOCK)
			format_error(err, err_size, "spool %s: in use by another spool (directory locked)", sp->dir);
		else
			format_error(err, err_size, "spool %s: lock: %s", sp->dir, strerror(-rc));
		return rc;
	}
	if ((rc = probe_write(sp->dfd))) {
		format_error(err, err_size, "spool %s: cannot write a file in the directory: %s", sp->dir,
			     strerror(-rc));
		return rc;
	}
	return 0;
}

int spool_open(struct spool **out, const char *dir, const struct spool_limits *lim, char *err, size_t err_size)
{
	struct spool *sp;
	uint64_t dropped;
	int rc;

	*out = NULL;
	if (!dir || !*dir) {
		format_error(err, err_size, "spool: no directory");
		return -EINVAL;
	}
	if (!(sp = calloc(1, sizeof(*sp))) || !(sp->dir = strdup(dir))) {
		free(sp);
		format_error(err, err_size, "spool %s: out of memory", dir);
		return -ENOMEM;
	}
	sp->dfd = -1;
	pthread_mutex_init(&sp->mu, NULL);
	sp->lim.max_bytes = lim && lim->max_bytes ? lim->max_bytes : SPOOL_MAX_BYTES_DEFAULT;
	sp->lim.max_records = lim && lim->max_records ? lim->max_records : SPOOL_MAX_RECORDS_DEFAULT;
	if ((rc = open_dir(sp, err, err_size)))
		goto fail;
	read_counter(sp);
	if ((rc = scan(sp))) {
		format_error(err, err_size, "spool %s: reading the directory: %s", dir, strerror(-rc));
		goto fail;
	}
	sp->next_no = sp->n ? sp->recs[sp->n - 1].no + 1 : 1;
	if (sp->next_no < sp->reserved)
		sp->next_no = sp->reserved;
	if ((dropped = make_room(sp, 0)))
		log_warn("spool %s: %" PRIu64 " oldest records dropped to fit the limits (%" PRIu64 " records, %" PRIu64
			 " bytes)", dir, dropped, sp->lim.max_records, sp->lim.max_bytes);
	*out = sp;
	return 0;
fail:
	spool_close(sp);
	return rc;
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	if (sp->dfd >= 0)
		close(sp->dfd); /* releases the flock */
	pthread_mutex_destroy(&sp->mu);
	free(sp->recs);
	free(sp->dir);
	free(sp);
}
