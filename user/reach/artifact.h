/* The artifact of a host epoch: the SHA-256 of the executable (or, for an
 * interpreted service, of its program file) that a version window runs, so
 * an attestation's subject names the bytes that ran and not only an epoch
 * name (policy/attest.h, subject_of "executable" / "program").
 *
 * Hashing a binary reads all of it (tens of MiB for a Go or JVM service), so
 * it never runs on the event loop: the loop opens the file while the process
 * still runs (the descriptor keeps that version readable even once it is
 * replaced or the process is gone) and hands the descriptor to one worker
 * thread through a bounded queue; results come back in a locked table keyed
 * by the epoch's name. A file that could not be hashed (queue or table full,
 * not a regular file, larger than the bound, a read error) is counted in
 * `skipped` and has no artifact: the attestation then names the version
 * only, and says so. */
#ifndef REACH_ARTIFACT_H
#define REACH_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

/* IMAGE: a container image digest, never hashed here (the runtime's
 * digest); it names a version a pipeline declared on a pod. */
enum artifact_kind { ARTIFACT_EXECUTABLE, ARTIFACT_PROGRAM, ARTIFACT_IMAGE };

/* "executable", "program", "image" (the subject_of of an attestation). */
const char *artifact_kind_name(enum artifact_kind k);

struct artifact {
	enum artifact_kind kind;
	char sha256[65];     /* hex */
	uint64_t size;       /* bytes hashed: the whole file */
};

/* Bounds: requests waiting for the worker, results kept (one per file
 * version seen: a long-lived node keeps the newest), bytes of one file. */
#define ARTIFACT_QUEUE_MAX 64
#define ARTIFACT_RESULTS_MAX 4096
#define ARTIFACT_MAX_BYTES (1ULL << 30)

struct artifact_hasher;

/* Starts the worker. max_bytes 0: ARTIFACT_MAX_BYTES. NULL on ENOMEM or
 * when the thread cannot start (errno set). */
struct artifact_hasher *artifact_hasher_new(uint64_t max_bytes);
/* Stops the worker (requests still queued are dropped and their
 * descriptors closed), frees everything. NULL is fine. */
void artifact_hasher_free(struct artifact_hasher *h);

/* Queues fd (owned from here on: closed once hashed or dropped) to be
 * hashed as key's artifact. A key already hashed or queued is not hashed
 * again (fd closed). 0; -EAGAIN queue full, -ENOMEM: counted skipped, fd
 * closed. Never blocks on the file. */
int artifact_hasher_submit(struct artifact_hasher *h, const char *key, int fd, enum artifact_kind kind);

/* key's artifact: 0 with *out; -EINPROGRESS queued or being hashed;
 * -ENOENT never asked for, or it could not be hashed. */
int artifact_hasher_get(struct artifact_hasher *h, const char *key, struct artifact *out);

/* A file the caller could not even open to hand over: counted skipped. */
void artifact_hasher_count_skipped(struct artifact_hasher *h);
/* Files that could not be hashed since start (status artifact_hashes_skipped). */
uint64_t artifact_hasher_skipped(const struct artifact_hasher *h);
/* Waits until nothing is queued or being hashed, up to timeout_ms: 0 or
 * -ETIMEDOUT (tests; the agent never waits). */
int artifact_hasher_drain(struct artifact_hasher *h, int timeout_ms);

/* SHA-256 of an open file from its start, up to max_bytes: 0, -EFBIG
 * (larger), -EINVAL (not a regular file), -EIO / -errno. Used by the
 * worker; the caller's thread otherwise. */
int artifact_hash_fd(int fd, uint64_t max_bytes, struct artifact *out);

#endif
