/* A bounded, crash-safe queue of records on disk, for at-least-once
 * delivery: a record stays until spool_remove, across agent restarts.
 *
 * One file per record, "<20-digit record number>.rec" (mode 0600), a fixed
 * 32-byte header (integers little-endian) then the body:
 *
 *   0  char[8]  magic "REACHSP1"
 *   8  u32      format version (1)
 *  12  u32      CRC-32 (zlib) of the body
 *  16  u64      body length (exactly the rest of the file)
 *  24  u64      record number (the same as in the file name)
 *
 * An append writes "<name>.tmp", fsyncs it, renames it into place and fsyncs
 * the directory, so a crash leaves no partial record: at worst a temp file
 * that the next spool_open removes. Record numbers only grow, across
 * restarts too: the file "next" reserves numbers in blocks before they are
 * used, so emptying the spool does not restart numbering. A record that does
 * not check out (magic, version, length, number, CRC) is renamed to
 * "<name>.bad" (quarantined, counted, logged once), never deleted.
 *
 * The directory is locked (flock) while open: one spool per directory.
 * Every function is thread-safe. */
#ifndef REACH_SPOOL_H
#define REACH_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_MAGIC "REACHSP1"
#define SPOOL_FORMAT_VERSION 1
#define SPOOL_HEADER_SIZE 32
#define SPOOL_MAX_BYTES_DEFAULT (64ULL << 20)
#define SPOOL_MAX_RECORDS_DEFAULT 10000

/* Bounds on the records kept; 0 selects the default. Bytes count whole
 * files, header included. */
struct spool_limits {
	uint64_t max_bytes;
	uint64_t max_records;
};

struct spool_stats {
	uint64_t records;       /* waiting now */
	uint64_t bytes;         /* their files' sizes */
	uint64_t dropped;       /* records lost: oldest removed to make room, or refused as larger than max_bytes */
	uint64_t write_failed;  /* appends that failed on I/O (ENOSPC, EIO, ...) */
	uint64_t quarantined;   /* corrupt records moved to *.bad since open */
};

struct spool;

/* Opens (creating it, mode 0700, with missing parents) the spool in dir:
 * checks that a file can be written there, removes temp files a crash left,
 * quarantines corrupt records, and drops the oldest records if the limits
 * are lower than what is on disk (counted). 0, or -errno with err naming the
 * directory and the step that failed (create, write, lock, scan). */
int spool_open(struct spool **out, const char *dir, const struct spool_limits *lim, char *err, size_t err_size);

/* Closes; records stay on disk. NULL is fine. */
void spool_close(struct spool *sp);

/* Adds a record. To keep within the limits, the oldest records are removed
 * first (counted in dropped). 0; -EFBIG when the record alone exceeds
 * max_bytes (refused, counted in dropped); -errno of a failed write (counted
 * in write_failed): then no new record is visible and the spool stays
 * usable. */
int spool_append(struct spool *sp, const void *body, size_t len);

/* The oldest record: *body is malloc'ed (caller frees; never NULL on
 * success, even for an empty body). A record found corrupt here is
 * quarantined and the next one returned. 0; -ENOENT when the spool is
 * empty; -ENOMEM; -errno of a failed read. */
int spool_peek_oldest(struct spool *sp, void **body, size_t *len, uint64_t *record_no);

/* Deletes a record (delivered or rejected). 0, or -ENOENT when it is not in
 * the spool (e.g. dropped meanwhile to make room). */
int spool_remove(struct spool *sp, uint64_t record_no);

void spool_stats(struct spool *sp, struct spool_stats *st);

#endif
