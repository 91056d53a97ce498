/* The ledger file: a reach.v1.Ledger (proto/reach.proto), zlib-compressed,
 * after a fixed 64-byte header (integers little-endian):
 *
 *   0  char[8]  magic "REACHLG1"
 *   8  u32      format version (1)
 *  12  u32      reserved, 0
 *  16  u64      uncompressed length (the protobuf message)
 *  24  u64      compressed length (exactly the rest of the file)
 *  32  u8[32]   SHA-256 of header bytes 0..31 followed by the compressed bytes
 *
 * Saves are atomic: PATH.tmp is written (mode 0600), fsynced and renamed over
 * PATH, then the directory is fsynced, so a crash leaves either the previous
 * file or the new one (and at worst a stale PATH.tmp that the next save
 * truncates). Loads are bounded: files over LEDGER_FILE_MAX are refused, the
 * checksum is verified before anything is decompressed, and decompression
 * never produces more than the header's declared length (at most
 * LEDGER_RAW_MAX): a payload that inflates further is rejected.
 *
 * Loads stream: the file is read and inflated a chunk at a time and decoded
 * one identity at a time, in three passes (checksum; decode and check every
 * identity; decode again and import), so a load holds the ledger it fills,
 * the largest identity and a few 64 KiB chunks, never the whole file or the
 * whole message, and a file refused for any reason changes nothing
 * (ledger_store.c says more, and what a file rewritten in place during the
 * load does). */
#ifndef REACH_LEDGER_STORE_H
#define REACH_LEDGER_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "reach/ledger.h"
#include "reach.pb-c.h"

#define LEDGER_MAGIC "REACHLG1"
#define LEDGER_FORMAT_VERSION 1
#define LEDGER_CONTENT_VERSION 1 /* reach.v1.Ledger.version */
#define LEDGER_HEADER_SIZE 64
#define LEDGER_FILE_MAX (512ULL << 20)
#define LEDGER_RAW_MAX (1ULL << 30)

/* What a loaded file said about itself. */
struct ledger_file_info {
	char node[256];        /* truncated if longer */
	int64_t saved_unix_ms;
	uint64_t raw_len;      /* protobuf bytes */
	uint64_t file_len;
};

/* Writes l to path atomically (see above), with node (NULL: "") and the
 * current time. 0; -EFBIG when the ledger exceeds the bounds above; -ENOMEM;
 * -errno of the failed step (open, write, fsync, close, rename), with a
 * message in err naming the step and the file: then path is untouched and
 * PATH.tmp removed. A failed fsync of the directory is reported too (-errno),
 * but the new file is already in place. */
int ledger_save(const struct ledger *l, const char *node, const char *path, char *err, size_t err_size);

/* A save in two steps, for a caller that must not hold the ledger while
 * the file is compressed and written (reach/ledger_persist.h):
 *   ledger_snapshot_take()  serialises l into memory: the reach.v1.Ledger
 *                           bytes, owned by the snapshot, which points into
 *                           nothing (l may change or go right after); the
 *                           thread that owns l calls it
 *   ledger_snapshot_save()  compresses them and writes path exactly as
 *                           ledger_save() does (same format, same atomic
 *                           replace, same returns and messages); any thread,
 *                           and it frees the snapshot whatever the result
 * take: 0; -EFBIG past LEDGER_RAW_MAX; -ENOMEM; with a message in err. */
struct ledger_snapshot;
int ledger_snapshot_take(const struct ledger *l, const char *node, struct ledger_snapshot **out, char *err,
			 size_t err_size);
int ledger_snapshot_save(struct ledger_snapshot *s, const char *path, char *err, size_t err_size);
/* ledger_snapshot_save() that also hands back the file it wrote (*image,
 * *image_len: the caller's to free(); NULL after a failure): what
 * /v1/ledger serves, without encoding the ledger a second time. */
int ledger_snapshot_save_image(struct ledger_snapshot *s, const char *path, uint8_t **image, size_t *image_len,
			       char *err, size_t err_size);
/* The message's saved_unix_ms (when it was taken) and its length. */
int64_t ledger_snapshot_time_ms(const struct ledger_snapshot *s);
uint64_t ledger_snapshot_raw_len(const struct ledger_snapshot *s);
void ledger_snapshot_free(struct ledger_snapshot *s); /* accepts NULL */

/* Unions the ledger in path into l (normally a fresh ledger; l's caps
 * apply and refusals are counted as usual). info may be NULL.
 *   0        loaded
 *   -ENOENT  no file: a fresh start
 *   -EBADMSG not a valid ledger (bad magic or version, wrong lengths,
 *            checksum mismatch, truncated, decompression or protobuf
 *            decoding failed, invalid content): l is unchanged; the caller
 *            quarantines the file and starts clean with a warning
 *   -EINVAL  path is not a regular file; -ENOMEM; other -errno from
 *            open/read (EACCES, EIO, ...): the file is left alone
 * err receives a one-line reason for every failure but -ENOENT. */
int ledger_load(struct ledger *l, const char *path, struct ledger_file_info *info, char *err, size_t err_size);

/* Renames path aside to "PATH.corrupt-<unix seconds>" (".N" appended if that
 * exists) and fsyncs the directory. moved_to (may be NULL) receives the new
 * name. 0 or -errno (-ENOENT: nothing to move). */
int ledger_quarantine(const char *path, char *moved_to, size_t n);

/* The protobuf view of a ledger (reach.v1.Ledger): every string points into
 * the ledger, which must outlive it and stay unchanged while it is used. The
 * shipper builds its reports' IdentityReach lists from it. 0 or -ENOMEM. */
struct ledger_pb {
	Reach__V1__Ledger msg;
	Reach__V1__IdentityReach *ids, **id_ptrs;
	Reach__V1__Edge *edges, **edge_ptrs;
	Reach__V1__Edge__OutcomesEntry *outcomes, **outcome_ptrs;
};
int ledger_pb_build(struct ledger_pb *v, const struct ledger *l, const char *node);
void ledger_pb_free(struct ledger_pb *v);

/* A coverage record (reach/coverage.h) as reach.v1.CoverageRecord: one
 * allocation in *out (free() it) whose strings point into c, or *out NULL
 * for an empty or NULL c. 0 or -ENOMEM. */
struct coverage;
int coverage_record_to_pb(const struct coverage *c, Reach__V1__CoverageRecord **out);
/* The record back; names this build does not know are kept as
 * losses_unknown (gaps). p NULL: an empty record. */
void coverage_record_from_pb(const Reach__V1__CoverageRecord *p, struct coverage *c);

/* The complete file image ledger_save() writes (header + compressed
 * payload), in memory: what the agent serves on /v1/ledger. 0 or negative
 * errno with a message. *out is malloc'ed. */
int ledger_encode_image(const struct ledger *l, const char *node, uint8_t **out, size_t *out_len, char *err,
			size_t err_size);

/* ledger_load() of a file image in memory (what /v1/ledger served). */
int ledger_load_image(struct ledger *l, const uint8_t *image, size_t len, struct ledger_file_info *info, char *err,
		      size_t err_size);
#endif
