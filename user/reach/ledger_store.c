#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <zlib.h>
#include "common/log.h"
#include "common/fileio.h"
#include "common/le.h"
#include "reach/ledger_split.h"
#include "reach/ledger_store.h"
#include "reach.pb-c.h"

_Static_assert((int)LEDGER_SECRET == (int)REACH__V1__EDGE_KIND__EDGE_KIND_SECRET, "kind numbers match the proto");
_Static_assert((int)LEDGER_TOOL == (int)REACH__V1__EDGE_KIND__EDGE_KIND_TOOL, "kind numbers match the proto");
_Static_assert((int)LEDGER_EGRESS == (int)REACH__V1__EDGE_KIND__EDGE_KIND_EGRESS, "kind numbers match the proto");
_Static_assert((int)LEDGER_CREDENTIAL == (int)REACH__V1__EDGE_KIND__EDGE_KIND_CREDENTIAL, "kind numbers match the proto");
_Static_assert((int)LEDGER_DNS == (int)REACH__V1__EDGE_KIND__EDGE_KIND_DNS, "kind numbers match the proto");
_Static_assert(sizeof(LEDGER_MAGIC) - 1 == 8, "8-byte magic");

#define DIGEST_OFF 32
#define DIGEST_LEN 32
_Static_assert(DIGEST_OFF + DIGEST_LEN == LEDGER_HEADER_SIZE, "header layout");

/* SHA-256 of the header's first DIGEST_OFF bytes and the payload. */
static int digest(const uint8_t *hdr, const uint8_t *payload, size_t len, uint8_t out[DIGEST_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, hdr, DIGEST_OFF) &&
	     EVP_DigestUpdate(ctx, payload, len) && EVP_DigestFinal_ex(ctx, out, &n) && n == DIGEST_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -ENOMEM;
}

void ledger_pb_free(struct ledger_pb *v)
{
	free(v->ids);
	free(v->id_ptrs);
	free(v->edges);
	free(v->edge_ptrs);
	free(v->outcomes);
	free(v->outcome_ptrs);
}

static void edge_to_pb(const struct ledger_edge *e, Reach__V1__Edge *pe, Reach__V1__Edge__OutcomesEntry *oc,
		       Reach__V1__Edge__OutcomesEntry **oc_ptrs)
{
	*pe = (Reach__V1__Edge)REACH__V1__EDGE__INIT;
	pe->kind = (Reach__V1__EdgeKind)e->kind;
	pe->object = e->object;
	pe->category = e->category;
	pe->dest_class = e->dest_class;
	pe->name = e->name;
	pe->content_fingerprint = e->content_fingerprint;
	pe->port = e->port;
	pe->proto = e->proto;
	for (size_t i = 0; i < e->n_outcomes; i++) {
		oc[i] = (Reach__V1__Edge__OutcomesEntry)REACH__V1__EDGE__OUTCOMES_ENTRY__INIT;
		oc[i].key = e->outcomes[i].name;
		oc[i].value = e->outcomes[i].count;
		oc_ptrs[i] = &oc[i];
	}
	pe->n_outcomes = e->n_outcomes;
	pe->outcomes = e->n_outcomes ? oc_ptrs : NULL;
	pe->outcomes_dropped = e->outcomes_dropped;
	pe->count = e->count;
	pe->first_seen_unix_ms = e->first_ms;
	pe->last_seen_unix_ms = e->last_ms;
	pe->n_executables = e->executables->n;
	pe->executables = e->executables->v;
	pe->executables_dropped = e->executables->dropped;
	pe->n_pods = e->pods->n;
	pe->pods = e->pods->v;
	pe->pods_dropped = e->pods->dropped;
	pe->n_images = e->images->n;
	pe->images = e->images->v;
	pe->images_dropped = e->images->dropped;
	pe->n_lineage = e->n_lineage;
	pe->lineage = e->lineage;
	pe->lineage_truncated = e->lineage_truncated;
	pe->epoch = e->epoch;
	pe->last_epoch = e->last_epoch;
}

/* One identity's view, in arrays the caller sized for its edges and their
 * outcomes. */
static void identity_to_pb(const struct ledger_identity *id, Reach__V1__IdentityReach *pid,
			   Reach__V1__Edge *edges, Reach__V1__Edge **edge_ptrs, Reach__V1__Edge__OutcomesEntry *oc,
			   Reach__V1__Edge__OutcomesEntry **oc_ptrs)
{
	size_t oi = 0;

	*pid = (Reach__V1__IdentityReach)REACH__V1__IDENTITY_REACH__INIT;
	pid->identity = id->name;
	pid->edges_dropped = id->edges_dropped;
	pid->n_edges = id->n_edges;
	pid->edges = edge_ptrs;
	for (size_t j = 0; j < id->n_edges; j++) {
		const struct ledger_edge *e = id->edges[j];

		edge_to_pb(e, &edges[j], &oc[oi], &oc_ptrs[oi]);
		edge_ptrs[j] = &edges[j];
		oi += e->n_outcomes;
	}
}

static size_t identity_outcomes(const struct ledger_identity *id)
{
	size_t n = 0;

	for (size_t j = 0; j < id->n_edges; j++)
		n += id->edges[j]->n_outcomes;
	return n;
}

/* The message's fields other than the identities. */
static void ledger_msg_init(Reach__V1__Ledger *m, const struct ledger *l, const char *node)
{
	*m = (Reach__V1__Ledger)REACH__V1__LEDGER__INIT;
	m->version = LEDGER_CONTENT_VERSION;
	m->node = (char *)(node ? node : "");
	m->edges_dropped = ledger_edges_dropped(l);
	m->identities_dropped = ledger_identities_dropped(l);
	m->saved_unix_ms = unix_now_ms();
}

int ledger_pb_build(struct ledger_pb *v, const struct ledger *l, const char *node)
{
	size_t n_ids = ledger_identities(l), n_edges = ledger_edges(l), n_oc = 0, ei = 0, oi = 0;

	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < n_ids; i++)
		n_oc += identity_outcomes(ledger_identity_at(l, i));
	/* calloc(0) may return NULL: allocate at least one of each */
	v->ids = calloc(n_ids + 1, sizeof(*v->ids));
	v->id_ptrs = calloc(n_ids + 1, sizeof(*v->id_ptrs));
	v->edges = calloc(n_edges + 1, sizeof(*v->edges));
	v->edge_ptrs = calloc(n_edges + 1, sizeof(*v->edge_ptrs));
	v->outcomes = calloc(n_oc + 1, sizeof(*v->outcomes));
	v->outcome_ptrs = calloc(n_oc + 1, sizeof(*v->outcome_ptrs));
	if (!v->ids || !v->id_ptrs || !v->edges || !v->edge_ptrs || !v->outcomes || !v->outcome_ptrs) {
		ledger_pb_free(v);
		return -ENOMEM;
	}
	ledger_msg_init(&v->msg, l, node);
	v->msg.n_identities = n_ids;
	v->msg.identities = v->id_ptrs;
	for (size_t i = 0; i < n_ids; i++) {
		const struct ledger_identity *id = ledger_identity_at(l, i);

		identity_to_pb(id, &v->ids[i], &v->edges[ei], &v->edge_ptrs[ei], &v->outcomes[oi], &v->outcome_ptrs[oi]);
		v->id_ptrs[i] = &v->ids[i];
		ei += id->n_edges;
		oi += identity_outcomes(id);
	}
	return 0;
}

/* One identity at a time: its view, in arrays sized for the largest
 * identity, and its encoding, in a buffer grown as needed. */
struct id_chunk {
	Reach__V1__IdentityReach id, *id_ptr;
	Reach__V1__Edge *edges, **edge_ptrs;
	Reach__V1__Edge__OutcomesEntry *oc, **oc_ptrs;
	uint8_t *buf;
	size_t cap_buf;
};

static void id_chunk_free(struct id_chunk *c)
{
	free(c->edges);
	free(c->edge_ptrs);
	free(c->oc);
	free(c->oc_ptrs);
	free(c->buf);
}

static int id_chunk_init(struct id_chunk *c, const struct ledger *l)
{
	size_t max_edges = 0, max_oc = 0;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < ledger_identities(l); i++) {
		const struct ledger_identity *id = ledger_identity_at(l, i);
		size_t n_oc = identity_outcomes(id);

		max_edges = id->n_edges > max_edges ? id->n_edges : max_edges;
		max_oc = n_oc > max_oc ? n_oc : max_oc;
	}
	/* calloc(0) may return NULL: at least one of each */
	c->edges = calloc(max_edges + 1, sizeof(*c->edges));
	c->edge_ptrs = calloc(max_edges + 1, sizeof(*c->edge_ptrs));
	c->oc = calloc(max_oc + 1, sizeof(*c->oc));
	c->oc_ptrs = calloc(max_oc + 1, sizeof(*c->oc_ptrs));
	return c->edges && c->edge_ptrs && c->oc && c->oc_ptrs ? 0 : -ENOMEM;
}

/* Sets m to a Ledger message holding only identity id: packed, it is
 * exactly that identity's field of the whole message (proto3 leaves the
 * zero fields out). */
static void id_chunk_build(struct id_chunk *c, const struct ledger_identity *id, Reach__V1__Ledger *m)
{
	identity_to_pb(id, &c->id, c->edges, c->edge_ptrs, c->oc, c->oc_ptrs);
	c->id_ptr = &c->id;
	*m = (Reach__V1__Ledger)REACH__V1__LEDGER__INIT;
	m->n_identities = 1;
	m->identities = &c->id_ptr;
}

/* A zlib stream into a growing buffer that starts with room for the file
 * header. */
struct zout {
	z_stream zs;
	uint8_t *file;
	size_t cap;
};

/* Compresses n bytes (flush: Z_NO_FLUSH, or Z_FINISH for the end). 0,
 * -ENOMEM or -EIO. */
static int zout_write(struct zout *z, const uint8_t *p, size_t n, int flush)
{
	int zrc;

	z->zs.next_in = (Bytef *)p;
	z->zs.avail_in = (uInt)n;
	for (;;) {
		if (!z->zs.avail_out) {
			size_t cap = z->cap * 2;
			uint8_t *file = realloc(z->file, cap);

			if (!file)
				return -ENOMEM;
			z->file = file;
			z->cap = cap;
			z->zs.next_out = file + LEDGER_HEADER_SIZE + z->zs.total_out;
			z->zs.avail_out = (uInt)(cap - LEDGER_HEADER_SIZE - z->zs.total_out);
		}
		zrc = deflate(&z->zs, flush);
		if (zrc == Z_STREAM_END)
			return 0;
		if (zrc != Z_OK && zrc != Z_BUF_ERROR)
			return zrc == Z_MEM_ERROR ? -ENOMEM : -EIO;
		if (flush == Z_NO_FLUSH && !z->zs.avail_in)
			return 0;
	}
}

/* Packs m into the chunk's buffer and compresses it. */
static int zout_pack(struct zout *z, struct id_chunk *c, const Reach__V1__Ledger *m, size_t len, int flush)
{
	if (len + 1 > c->cap_buf) {
		uint8_t *buf = realloc(c->buf, len + 1);

		if (!buf)
			return -ENOMEM;
		c->buf = buf;
		c->cap_buf = len + 1;
	}
	if (reach__v1__ledger__pack(m, c->buf) != len)
		return -EIO;
	return zout_write(z, c->buf, len, flush);
}

/* Compresses the reach.v1.Ledger of l (head: its fields before the
 * identities, tail: those after) into z, one identity at a time. */
static int compress_ledger(struct zout *z, struct id_chunk *c, const struct ledger *l,
			   const Reach__V1__Ledger *head, const Reach__V1__Ledger *tail)
{
	Reach__V1__Ledger one;
	int rc;

	if ((rc = zout_pack(z, c, head, reach__v1__ledger__get_packed_size(head), Z_NO_FLUSH)))
		return rc;
	for (size_t i = 0; i < ledger_identities(l); i++) {
		id_chunk_build(c, ledger_identity_at(l, i), &one);
		if ((rc = zout_pack(z, c, &one, reach__v1__ledger__get_packed_size(&one), Z_NO_FLUSH)))
			return rc;
	}
	return zout_pack(z, c, tail, reach__v1__ledger__get_packed_size(tail), Z_FINISH);
}

/* Encodes l into a complete file image (header + payload) in *out.
 *
 * The protobuf message is packed and compressed one identity at a time:
 * the fields of reach.v1.Ledger in number order (version and node, each
 * identity, then the counters) make the same bytes as packing the whole
 * message at once, and the same zlib stream, without the whole view or
 * encoding ever being in memory (at 10k identities x 100 edges they took
 * about as much as the ledger itself, twice). */
static int encode(const struct ledger *l, const char *node, uint8_t **out, size_t *out_len, char *err,
		  size_t err_size)
{
	Reach__V1__Ledger head, tail, one;
	struct id_chunk c;
	struct zout z = { 0 };
	size_t raw_len;
	uLong z_len;
	int rc, zrc;

	if (id_chunk_init(&c, l)) {
		id_chunk_free(&c);
		format_error(err, err_size, "ledger save: out of memory");
		return -ENOMEM;
	}
	ledger_msg_init(&head, l, node);
	tail = head;
	head.edges_dropped = head.identities_dropped = 0;
	head.saved_unix_ms = 0;
	tail.version = 0;
	tail.node = NULL;
	/* the size first: an oversized ledger is refused before any work */
	raw_len = reach__v1__ledger__get_packed_size(&head) + reach__v1__ledger__get_packed_size(&tail);
	for (size_t i = 0; i < ledger_identities(l); i++) {
		id_chunk_build(&c, ledger_identity_at(l, i), &one);
		raw_len += reach__v1__ledger__get_packed_size(&one);
	}
	if (raw_len > LEDGER_RAW_MAX) {
		id_chunk_free(&c);
		format_error(err, err_size, "ledger save: %zu bytes encoded, over the %llu-byte bound", raw_len,
			     (unsigned long long)LEDGER_RAW_MAX);
		return -EFBIG;
	}
	if ((zrc = deflateInit(&z.zs, Z_DEFAULT_COMPRESSION)) != Z_OK) {
		id_chunk_free(&c);
		format_error(err, err_size, "ledger save: zlib deflateInit failed (%d)", zrc);
		return zrc == Z_MEM_ERROR ? -ENOMEM : -EIO;
	}
	/* about what a ledger compresses to, grown by doubling if not
	 * (raw_len <= LEDGER_RAW_MAX keeps every zlib length within a uInt) */
	z.cap = LEDGER_HEADER_SIZE + raw_len / 16 + 4096;
	if (!(z.file = malloc(z.cap))) {
		rc = -ENOMEM;
	} else {
		z.zs.next_out = z.file + LEDGER_HEADER_SIZE;
		z.zs.avail_out = (uInt)(z.cap - LEDGER_HEADER_SIZE);
		rc = compress_ledger(&z, &c, l, &head, &tail);
		if (!rc && z.zs.total_in != raw_len)
			rc = -EIO;
	}
	z_len = z.zs.total_out;
	deflateEnd(&z.zs);
	id_chunk_free(&c);
	if (rc) {
		format_error(err, err_size, "ledger save: %s",
			     rc == -ENOMEM ? "out of memory" : "protobuf encoding or zlib compression failed");
		goto out;
	}
	if (LEDGER_HEADER_SIZE + (uint64_t)z_len > LEDGER_FILE_MAX) {
		format_error(err, err_size, "ledger save: %llu bytes compressed, over the %llu-byte bound",
			     (unsigned long long)z_len, (unsigned long long)LEDGER_FILE_MAX);
		rc = -EFBIG;
		goto out;
	}
	memcpy(z.file, LEDGER_MAGIC, 8);
	put_u32(z.file + 8, LEDGER_FORMAT_VERSION);
	put_u32(z.file + 12, 0);
	put_u64(z.file + 16, raw_len);
	put_u64(z.file + 24, z_len);
	if ((rc = digest(z.file, z.file + LEDGER_HEADER_SIZE, z_len, z.file + DIGEST_OFF))) {
		format_error(err, err_size, "ledger save: SHA-256 failed");
		goto out;
	}
	*out = z.file;
	*out_len = LEDGER_HEADER_SIZE + z_len;
	return 0;
out:
	free(z.file);
	return rc;
}

int ledger_save(const struct ledger *l, const char *node, const char *path, char *err, size_t err_size)
{
	uint8_t *file = NULL;
	size_t len = 0;
	char *tmp = NULL;
	int fd = -1, rc;
	const char *step;

	if (!l || !path || !*path) {
		format_error(err, err_size, "ledger save: no ledger or path");
		return -EINVAL;
	}
	if ((rc = encode(l, node, &file, &len, err, err_size)))
		return rc;
	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		tmp = NULL;
		free(file);
		format_error(err, err_size, "ledger save: out of memory");
		return -ENOMEM;
	}
	step = "open";
	/* O_NOFOLLOW: a symlink planted at PATH.tmp must not redirect the write */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	step = "write";
	if ((rc = write_all(fd, file, len)))
		goto fail;
	step = "fsync";
	if (fsync(fd)) {
		rc = -errno;
		goto fail;
	}
	step = "close";
	rc = close(fd);
	fd = -1;
	if (rc) {
		rc = -errno;
		goto fail;
	}
	step = "rename";
	if (rename(tmp, path)) {
		rc = -errno;
		goto fail;
	}
	free(tmp);
	free(file);
	/* the new file is in place; a failed directory fsync only weakens
	 * durability across a power loss, but the caller should know */
	if ((rc = fsync_dir_of(path))) {
		format_error(err, err_size, "ledger save: fsync of the directory of %s: %s", path, strerror(-rc));
		return rc;
	}
	return 0;
fail:
	format_error(err, err_size, "ledger save: %s %s: %s", step, tmp, strerror(-rc));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	free(file);
	return rc;
}

/* Checks the header and payload of a file image; on success *raw holds the
 * decompressed protobuf message. */
static int decode_frame(const uint8_t *file, size_t len, uint8_t **raw, size_t *raw_len, char *err,
			size_t err_size)
{
	uint8_t want[DIGEST_LEN];
	uint64_t declared_raw, declared_z;
	uLongf out_len;
	uLong in_len;
	uint8_t *buf;
	int zrc;

	if (len < LEDGER_HEADER_SIZE) {
		format_error(err, err_size, "%zu bytes, shorter than the %d-byte header", len, LEDGER_HEADER_SIZE);
		return -EBADMSG;
	}
	if (memcmp(file, LEDGER_MAGIC, 8)) {
		format_error(err, err_size, "not a reach ledger (bad magic)");
		return -EBADMSG;
	}
	if (get_u32(file + 8) != LEDGER_FORMAT_VERSION || get_u32(file + 12) != 0) {
		format_error(err, err_size, "unsupported format version %u (flags %u)", get_u32(file + 8),
			     get_u32(file + 12));
		return -EBADMSG;
	}
	declared_raw = get_u64(file + 16);
	declared_z = get_u64(file + 24);
	if (declared_z != len - LEDGER_HEADER_SIZE) {
		format_error(err, err_size, "header says %llu compressed bytes, file has %zu (truncated?)",
			     (unsigned long long)declared_z, len - LEDGER_HEADER_SIZE);
		return -EBADMSG;
	}
	if (declared_raw == 0 || declared_raw > LEDGER_RAW_MAX) {
		format_error(err, err_size, "header says %llu uncompressed bytes, outside 1..%llu",
			     (unsigned long long)declared_raw, (unsigned long long)LEDGER_RAW_MAX);
		return -EBADMSG;
	}
	if (digest(file, file + LEDGER_HEADER_SIZE, declared_z, want))
		return -ENOMEM;
	if (memcmp(want, file + DIGEST_OFF, DIGEST_LEN)) {
		format_error(err, err_size, "checksum mismatch (corrupt)");
		return -EBADMSG;
	}
	if (!(buf = malloc(declared_raw))) {
		format_error(err, err_size, "out of memory for %llu bytes", (unsigned long long)declared_raw);
		return -ENOMEM;
	}
	/* the output buffer is the declared length: a payload that inflates to
	 * more stops there (Z_BUF_ERROR) instead of growing */
	out_len = declared_raw;
	in_len = declared_z;
	zrc = uncompress2(buf, &out_len, file + LEDGER_HEADER_SIZE, &in_len);
	if (zrc != Z_OK || out_len != declared_raw || in_len != declared_z) {
		if (zrc == Z_MEM_ERROR) {
			free(buf);
			format_error(err, err_size, "out of memory decompressing");
			return -ENOMEM;
		}
		format_error(err, err_size, "decompression failed (zlib %d, %llu of %llu bytes, %llu of %llu input)",
			     zrc, (unsigned long long)out_len, (unsigned long long)declared_raw,
			     (unsigned long long)in_len, (unsigned long long)declared_z);
		free(buf);
		return -EBADMSG;
	}
	*raw = buf;
	*raw_len = out_len;
	return 0;
}

/* Content checks of identity i, so that a bad file changes nothing in the
 * ledger. */
static int validate_identity(const Reach__V1__IdentityReach *id, size_t i, char *err, size_t err_size)
{
	if (!id->identity || !*id->identity) {
		format_error(err, err_size, "identity %zu has no name", i);
		return -EBADMSG;
	}
	for (size_t j = 0; j < id->n_edges; j++) {
		const Reach__V1__Edge *e = id->edges[j];

		if (!e->object || !*e->object || e->kind == REACH__V1__EDGE_KIND__EDGE_KIND_UNSPECIFIED ||
		    (int)e->kind < 0) {
			format_error(err, err_size, "identity %zu edge %zu has no object or kind", i, j);
			return -EBADMSG;
		}
	}
	return 0;
}

/* Decodes and checks every identity before any is imported. The reason is
 * the one decoding the message whole gave: a decoding failure anywhere,
 * else a bad content version, else the first bad identity. */
static int check(const struct ledger_split *s, const Reach__V1__Ledger *rest, char *why, size_t why_size)
{
	char first_bad[256] = "";

	for (size_t i = 0; i < s->n_ids; i++) {
		Reach__V1__IdentityReach *id = reach__v1__identity_reach__unpack(NULL, s->ids[i].len, s->ids[i].p);

		if (!id) {
			snprintf(why, why_size, "protobuf decoding failed");
			return -EBADMSG;
		}
		if (!first_bad[0])
			validate_identity(id, i, first_bad, sizeof(first_bad));
		reach__v1__identity_reach__free_unpacked(id, NULL);
	}
	if (rest->version == 0 || rest->version > LEDGER_CONTENT_VERSION) {
		format_error(why, why_size, "unsupported content version %u", rest->version);
		return -EBADMSG;
	}
	if (first_bad[0]) {
		snprintf(why, why_size, "%s", first_bad);
		return -EBADMSG;
	}
	return 0;
}

/* The ledger_edge views of one identity's edges, reused from identity to
 * identity. */
/* A decoded edge as the ledger takes it: the edge points at its sets. */
struct import_edge {
	struct ledger_edge e;
	struct ledger_set executables, pods, images;
};

struct import_views {
	struct import_edge *edges;
	const struct ledger_edge **ptrs;
	struct ledger_outcome *oc;
	size_t cap_edges, cap_oc;
};

static void import_views_free(struct import_views *v)
{
	free(v->edges);
	free(v->ptrs);
	free(v->oc);
}

/* Unions one decoded (and checked) identity into l. */
static int import_identity(struct ledger *l, const Reach__V1__IdentityReach *id, struct import_views *v)
{
	size_t n_oc = 0, n = 0, o = 0;
	int r;

	for (size_t j = 0; j < id->n_edges; j++)
		n_oc += id->edges[j]->n_outcomes;
	if (id->n_edges > v->cap_edges) {
		free(v->edges);
		free(v->ptrs);
		v->edges = calloc(id->n_edges, sizeof(*v->edges));
		v->ptrs = calloc(id->n_edges, sizeof(*v->ptrs));
		v->cap_edges = v->edges && v->ptrs ? id->n_edges : 0;
		if (!v->cap_edges)
			return -ENOMEM;
	}
	if (n_oc > v->cap_oc) {
		free(v->oc);
		v->oc = calloc(n_oc, sizeof(*v->oc));
		v->cap_oc = v->oc ? n_oc : 0;
		if (!v->oc)
			return -ENOMEM;
	}
	for (size_t j = 0; j < id->n_edges; j++) {
		const Reach__V1__Edge *pe = id->edges[j];
		struct import_edge *ie = &v->edges[n];
		struct ledger_edge *e = &ie->e;

		if ((int)pe->kind >= LEDGER_KIND__MAX) {
			/* a kind from a newer agent: not understood, counted */
			ledger_add_dropped(l, 1, 0);
			continue;
		}
		memset(e, 0, sizeof(*e));
		e->kind = (enum ledger_kind)pe->kind;
		e->object = pe->object;
		e->category = pe->category;
		e->dest_class = pe->dest_class;
		e->name = pe->name;
		e->content_fingerprint = pe->content_fingerprint;
		e->proto = pe->proto;
		e->port = pe->port;
		e->n_outcomes = pe->n_outcomes;
		if (pe->n_outcomes) {
			e->outcomes = &v->oc[o];
			for (size_t k = 0; k < pe->n_outcomes; k++, o++) {
				v->oc[o].name = pe->outcomes[k]->key;
				v->oc[o].count = pe->outcomes[k]->value;
			}
		}
		e->outcomes_dropped = pe->outcomes_dropped;
		e->count = pe->count;
		e->first_ms = pe->first_seen_unix_ms;
		e->last_ms = pe->last_seen_unix_ms;
		ie->executables = (struct ledger_set){ pe->executables, pe->n_executables, pe->executables_dropped };
		ie->pods = (struct ledger_set){ pe->pods, pe->n_pods, pe->pods_dropped };
		ie->images = (struct ledger_set){ pe->images, pe->n_images, pe->images_dropped };
		e->executables = &ie->executables;
		e->pods = &ie->pods;
		e->images = &ie->images;
		e->lineage = pe->lineage;
		/* any length past the cap is truncated the same way */
		e->n_lineage = pe->n_lineage > UINT16_MAX ? UINT16_MAX : (uint16_t)pe->n_lineage;
		e->lineage_truncated = pe->lineage_truncated;
		e->epoch = pe->epoch;
		e->last_epoch = pe->last_epoch;
		v->ptrs[n++] = e;
	}
	r = ledger_merge_identity(l, id->identity, v->ptrs, n, id->edges_dropped);
	return r == -ENOSPC ? 0 : r; /* caps are counted, not failures */
}

/* Unions the checked identities into l, decoding them again one by one. */
static int import(struct ledger *l, const struct ledger_split *s, const Reach__V1__Ledger *rest)
{
	struct import_views v = { 0 };
	int rc = 0;

	ledger_add_dropped(l, rest->edges_dropped, rest->identities_dropped);
	for (size_t i = 0; i < s->n_ids && !rc; i++) {
		/* it decoded in check(): a failure now is memory */
		Reach__V1__IdentityReach *id = reach__v1__identity_reach__unpack(NULL, s->ids[i].len, s->ids[i].p);

		if (!id) {
			rc = -ENOMEM;
			break;
		}
		rc = import_identity(l, id, &v);
		reach__v1__identity_reach__free_unpacked(id, NULL);
	}
	import_views_free(&v);
	return rc;
}

static int read_file(const char *path, uint8_t **out, size_t *out_len, char *err, size_t err_size)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc != -ENOENT)
			format_error(err, err_size, "ledger load: open %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st)) {
		rc = -errno;
		format_error(err, err_size, "ledger load: stat %s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		format_error(err, err_size, "ledger load: %s is not a regular file", path);
		rc = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > LEDGER_FILE_MAX) {
		format_error(err, err_size, "ledger load: %s: %lld bytes, over the %llu-byte bound", path,
			     (long long)st.st_size, (unsigned long long)LEDGER_FILE_MAX);
		rc = -EBADMSG;
		goto out;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		rc = -ENOMEM;
		format_error(err, err_size, "ledger load: out of memory");
		goto out;
	}
	/* read one byte more than stat said, to notice a file that grew */
	while (got <= (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size + 1 - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			format_error(err, err_size, "ledger load: read %s: %s", path, strerror(-rc));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got != (size_t)st.st_size) {
		format_error(err, err_size, "ledger load: %s changed while being read", path);
		rc = -EBADMSG;
		goto out;
	}
	*out = buf;
	*out_len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Decodes a file image into l; why gets the reason on failure. The message
 * is decoded one identity at a time (ledger_split.h), twice: every identity
 * is checked before the first is imported. */
static int load_image(struct ledger *l, const uint8_t *file, size_t len, struct ledger_file_info *info, char *why,
		      size_t why_size)
{
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	struct ledger_split s = { 0 };
	Reach__V1__Ledger *rest = NULL;
	int rc;

	if ((rc = decode_frame(file, len, &raw, &raw_len, why, why_size)))
		goto out;
	if ((rc = ledger_split(raw, raw_len, &s))) {
		snprintf(why, why_size, rc == -ENOMEM ? "out of memory" : "protobuf decoding failed");
		goto out;
	}
	if (!(rest = reach__v1__ledger__unpack(NULL, s.rest_len, s.rest))) {
		snprintf(why, why_size, "protobuf decoding failed");
		rc = -EBADMSG;
		goto out;
	}
	if ((rc = check(&s, rest, why, why_size)))
		goto out;
	if ((rc = import(l, &s, rest))) {
		snprintf(why, why_size, "out of memory");
		goto out;
	}
	if (info) {
		snprintf(info->node, sizeof(info->node), "%s", rest->node ? rest->node : "");
		info->saved_unix_ms = rest->saved_unix_ms;
		info->raw_len = raw_len;
		info->file_len = len;
	}
out:
	if (rest)
		reach__v1__ledger__free_unpacked(rest, NULL);
	ledger_split_free(&s);
	free(raw);
	return rc;
}

int ledger_load(struct ledger *l, const char *path, struct ledger_file_info *info, char *err, size_t err_size)
{
	uint8_t *file = NULL;
	size_t len = 0;
	char why[256] = "";
	int rc;

	if (!l || !path) {
		format_error(err, err_size, "ledger load: no ledger or path");
		return -EINVAL;
	}
	if ((rc = read_file(path, &file, &len, err, err_size)))
		return rc;
	if ((rc = load_image(l, file, len, info, why, sizeof(why))))
		format_error(err, err_size, "ledger load: %s: %s", path, why);
	free(file);
	return rc;
}

int ledger_load_image(struct ledger *l, const uint8_t *image, size_t len, struct ledger_file_info *info, char *err,
		      size_t err_size)
{
	char why[256] = "";
	int rc;

	if (!l || !image) {
		format_error(err, err_size, "ledger load: no ledger or image");
		return -EINVAL;
	}
	if ((rc = load_image(l, image, len, info, why, sizeof(why))))
		format_error(err, err_size, "ledger load: %s", why);
	return rc;
}

int ledger_encode_image(const struct ledger *l, const char *node, uint8_t **out, size_t *out_len, char *err,
			size_t err_size)
{
	return encode(l, node, out, out_len, err, err_size);
}

int ledger_quarantine(const char *path, char *moved_to, size_t n)
{
	char dest[4096];
	long long now = (long long)time(NULL);
	struct stat st;
	int rc = -EEXIST;

	if (!path || !*path)
		return -EINVAL;
	if (lstat(path, &st))
		return -errno;
	for (int i = 0; i < 100 && rc == -EEXIST; i++) {
		int w = i ? snprintf(dest, sizeof(dest), "%s.corrupt-%lld.%d", path, now, i)
			  : snprintf(dest, sizeof(dest), "%s.corrupt-%lld", path, now);

		if (w < 0 || (size_t)w >= sizeof(dest))
			return -ENAMETOOLONG;
		if (!renameat2(AT_FDCWD, path, AT_FDCWD, dest, RENAME_NOREPLACE)) {
			rc = 0;
		} else if (errno == EINVAL || errno == ENOSYS) {
			/* a file system without RENAME_NOREPLACE: check, then rename */
			if (!lstat(dest, &st))
				rc = -EEXIST;
			else
				rc = rename(path, dest) ? -errno : 0;
		} else {
			rc = -errno;
		}
	}
	if (rc)
		return rc;
	if (moved_to && n)
		snprintf(moved_to, n, "%s", dest);
	fsync_dir_of(dest); /* best effort: the rename itself has happened */
	return 0;
}
