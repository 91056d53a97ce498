/* A strict HPACK decoder (RFC 7541): the header blocks an HTTP/2 client
 * writes, decoded with the static table, one dynamic table per connection,
 * Huffman strings and table size updates. Untrusted bytes: every integer,
 * string and table is bounded; a block that breaks the rules is refused
 * whole, and the decoder's table is then out of step with the encoder's
 * (the caller must give the connection up, never guess).
 *
 * The dynamic table holds header values as the client sent them (the
 * encoder refers back to them by index), credentials included: they live
 * only here, in memory, and are wiped when an entry is evicted and when
 * the decoder is freed. Nothing in this module logs a value. */
#ifndef REACH_HTTP_HPACK_H
#define REACH_HTTP_HPACK_H

#include <stddef.h>
#include <stdint.h>

#define HPACK_DEFAULT_TABLE 4096   /* SETTINGS_HEADER_TABLE_SIZE's initial value */
#define HPACK_MAX_TABLE 65536      /* a size update above this is refused (the server's setting is not seen) */
#define HPACK_MAX_STRING 16384     /* a name or value longer than this (decoded) is refused */

/* One decoded header field. Valid only during the callback; the bytes are
 * wiped after it. */
struct hpack_field {
	const uint8_t *name;
	size_t name_len;
	const uint8_t *value;
	size_t value_len;
};

typedef void (*hpack_field_fn)(void *ctx, const struct hpack_field *f);

struct hpack_decoder;

/* max_table: the table size the encoder may grow to (HPACK_DEFAULT_TABLE;
 * at most HPACK_MAX_TABLE). NULL when out of memory. */
struct hpack_decoder *hpack_decoder_new(size_t max_table);
/* Wipes every entry. NULL is fine. */
void hpack_decoder_free(struct hpack_decoder *d);

/*
 * Decodes one complete header block buf[0..len) (HEADERS + CONTINUATION
 * fragments joined), calling fn for every field in order (fn may be NULL:
 * the table is still updated). Returns 0, or -EBADMSG (an index out of
 * range, a bad integer or string, bad Huffman padding or EOS, a size
 * update over the limit or after a field, a string over HPACK_MAX_STRING)
 * or -ENOMEM: the table may then be half updated and out of step: the
 * decoder must not be used again.
 */
int hpack_decode_block(struct hpack_decoder *d, const uint8_t *buf, size_t len, hpack_field_fn fn, void *ctx);

/* The dynamic table: its size in RFC 7541 terms (sum of name + value + 32)
 * and entry count; entry i (1 = newest) for tests. */
size_t hpack_table_size(const struct hpack_decoder *d);
size_t hpack_table_count(const struct hpack_decoder *d);
int hpack_table_entry(const struct hpack_decoder *d, size_t i, struct hpack_field *out);

/* Huffman-decodes in[0..n) into out (at most out_size bytes). Returns the
 * decoded length or -EBADMSG (padding longer than 7 bits or not all ones,
 * EOS, an overlong result). Exposed for the fuzzer and the tests. */
int hpack_huffman_decode(const uint8_t *in, size_t n, uint8_t *out, size_t out_size);

#endif
