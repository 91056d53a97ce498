/* A packed reach.v1.Ledger split at its top level: where each identity
 * (field `identities`) is, and the bytes of every other field in order, so
 * that a load can unpack one identity at a time. Unpacked whole, the
 * message took about three times the memory of the ledger it becomes (at
 * 10k identities x 100 edges), and its many small blocks, freed between the
 * ledger's own, left the heap fragmented.
 *
 * The framing rules are protobuf-c's (tags of at most 5 bytes, varints of
 * at most 10, lengths of at most 5 bytes and INT_MAX, no groups), so bytes
 * it would refuse as a whole are refused here or when a part is unpacked.
 *
 * ledger_split() splits a message held whole; ledger_split_field() reads one
 * field at a time from a buffer that holds only part of the message (a
 * streaming load inflates the file piece by piece), with the same rules. */
#ifndef REACH_LEDGER_SPLIT_H
#define REACH_LEDGER_SPLIT_H

#include <stddef.h>
#include <stdint.h>

struct ledger_span {
	const uint8_t *p; /* into the packed message */
	size_t len;
};

struct ledger_split {
	struct ledger_span *ids; /* each identity's packed IdentityReach */
	size_t n_ids;
	uint8_t *rest;           /* the other fields: a Ledger without identities */
	size_t rest_len;
};

/* One top-level field. */
struct ledger_field {
	size_t len;            /* the whole field: tag, length prefix, value */
	struct ledger_span id; /* an identity's packed IdentityReach (into the
				* buffer), or p = NULL: any other field */
};

/* The field at p, where len bytes are at hand and left bytes remain in the
 * message from p to its end (0 < left, len <= left; bytes past left are never
 * read):
 *   1        the field is complete in *f (f->len <= len)
 *   0        it is not complete yet: *need gets how many bytes from p are
 *            needed to go on (> len, <= left); call again with more
 *   -EBADMSG bad framing, whatever bytes follow
 *   -EINVAL  len > left or left == 0 */
int ledger_split_field(const uint8_t *p, size_t len, size_t left, struct ledger_field *f, size_t *need);

/* 0; -EBADMSG (bad framing); -ENOMEM. */
int ledger_split(const uint8_t *raw, size_t len, struct ledger_split *out);
void ledger_split_free(struct ledger_split *s);

#endif
