#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <zlib.h>
#include "common/log.h"
#include "common/fileio.h"
#include "common/le.h"
#include "reach/ledger_split.h"
#include "reach/coverage.h"
#include "reach/ledger_store.h"
#include "reach.pb-c.h"

_Static_assert((int)LEDGER_SECRET == (int)REACH__V1__EDGE_KIND__EDGE_KIND_SECRET, "kind numbers match the proto");
_Static_assert((int)LEDGER_TOOL == (int)REACH__V1__EDGE_KIND__EDGE_KIND_TOOL, "kind numbers match the proto");
_Static_assert((int)LEDGER_EGRESS == (int)REACH__V1__EDGE_KIND__EDGE_KIND_EGRESS, "kind numbers match the proto");
_Static_assert((int)LEDGER_CREDENTIAL == (int)REACH__V1__EDGE_KIND__EDGE_KIND_CREDENTIAL, "kind numbers match the proto");
_Static_assert((int)LEDGER_DNS == (int)REACH__V1__EDGE_KIND__EDGE_KIND_DNS, "kind numbers match the proto");
_Static_assert((int)LEDGER_MCP_TOOL == (int)REACH__V1__EDGE_KIND__EDGE_KIND_MCP_TOOL, "kind numbers match the proto");
_Static_assert((int)LEDGER_LLM == (int)REACH__V1__EDGE_KIND__EDGE_KIND_LLM, "kind numbers match the proto");
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

static void identity_coverage_pb_free(Reach__V1__IdentityReach *pid);

void ledger_pb_free(struct ledger_pb *v)
{
	for (size_t i = 0; v->ids && i < v->msg.n_identities; i++)
		identity_coverage_pb_free(&v->ids[i]);
	free(v->msg.node_coverage);
	free(v->ids);
	free(v->id_ptrs);
	free(v->edges);
	free(v->edge_ptrs);
	free(v->outcomes);
	free(v->outcome_ptrs);
}

/* ---- coverage records ---- */

struct coverage_pb {
	Reach__V1__CoverageRecord rec; /* first: the block's address */
	Reach__V1__CoverageLoss loss[REACH_EV__MAX * REACH_LOSS__MAX + 1], *loss_ptrs[REACH_EV__MAX * REACH_LOSS__MAX + 1];
	Reach__V1__CoverageRoad road[COVERAGE_MAX_ROADS], *road_ptrs[COVERAGE_MAX_ROADS];
	char *hooks[COVERAGE_MAX_HOOKS];
};

int coverage_record_to_pb(const struct coverage *c, Reach__V1__CoverageRecord **out)
{
	struct coverage_pb *p;
	size_t n = 0;

	*out = NULL;
	if (coverage_is_empty(c))
		return 0;
	if (!(p = calloc(1, sizeof(*p))))
		return -ENOMEM;
	p->rec = (Reach__V1__CoverageRecord)REACH__V1__COVERAGE_RECORD__INIT;
	for (int k = 0; k < REACH_EV__MAX; k++)
		for (int r = 0; r < REACH_LOSS__MAX; r++) {
			if (!c->losses[k][r])
				continue;
			p->loss[n] = (Reach__V1__CoverageLoss)REACH__V1__COVERAGE_LOSS__INIT;
			p->loss[n].kind = (char *)coverage_kind_name(k);
			p->loss[n].reason = (char *)coverage_reason_name(r);
			p->loss[n].count = c->losses[k][r];
			p->loss_ptrs[n] = &p->loss[n];
			n++;
		}
	if (c->losses_unknown) { /* a newer agent's kinds: kept, as "unknown" */
		p->loss[n] = (Reach__V1__CoverageLoss)REACH__V1__COVERAGE_LOSS__INIT;
		p->loss[n].kind = (char *)"unknown";
		p->loss[n].reason = (char *)"unknown";
		p->loss[n].count = c->losses_unknown;
		p->loss_ptrs[n] = &p->loss[n];
		n++;
	}
	p->rec.n_losses = n;
	p->rec.losses = n ? p->loss_ptrs : NULL;
	p->rec.edges_unrecorded = c->edges_unrecorded;
	for (size_t i = 0; i < c->n_roads; i++) {
		p->road[i] = (Reach__V1__CoverageRoad)REACH__V1__COVERAGE_ROAD__INIT;
		p->road[i].road = (char *)c->roads[i].road;
		p->road[i].detail = (char *)c->roads[i].detail;
		p->road[i].count = c->roads[i].count;
		p->road[i].last_seen_unix_ms = c->roads[i].last_ms;
		p->road_ptrs[i] = &p->road[i];
	}
	p->rec.n_blind_roads = c->n_roads;
	p->rec.blind_roads = c->n_roads ? p->road_ptrs : NULL;
	p->rec.blind_roads_dropped = c->roads_dropped;
	for (size_t i = 0; i < c->n_hooks_missing; i++)
		p->hooks[i] = (char *)c->hooks_missing[i];
	p->rec.n_hooks_missing = c->n_hooks_missing;
	p->rec.hooks_missing = c->n_hooks_missing ? p->hooks : NULL;
	p->rec.hooks_dropped = c->hooks_dropped;
	p->rec.first_gap_unix_ms = c->first_gap_ms;
	p->rec.last_gap_unix_ms = c->last_gap_ms;
	p->rec.epoch = (char *)c->epoch;
	*out = &p->rec;
	return 0;
}

void coverage_record_from_pb(const Reach__V1__CoverageRecord *p, struct coverage *c)
{
	memset(c, 0, sizeof(*c));
	if (!p)
		return;
	for (size_t i = 0; i < p->n_losses; i++) {
		const Reach__V1__CoverageLoss *l = p->losses[i];

		/* an unknown name (-1) lands in losses_unknown: kept, judged */
		coverage_add_loss(c, coverage_kind_from_name(l->kind), coverage_reason_from_name(l->reason), l->count, 0);
	}
	c->edges_unrecorded = p->edges_unrecorded;
	for (size_t i = 0; i < p->n_blind_roads; i++) {
		const Reach__V1__CoverageRoad *r = p->blind_roads[i];

		if (coverage_add_road(c, r->road && *r->road ? r->road : "unnamed", r->detail, r->count,
				      r->last_seen_unix_ms) == -EINVAL)
			c->roads_dropped++;
	}
	c->roads_dropped += p->blind_roads_dropped;
	for (size_t i = 0; i < p->n_hooks_missing; i++) /* -ENOSPC: counted in hooks_dropped */
		coverage_add_hook_missing(c, p->hooks_missing[i] && *p->hooks_missing[i] ? p->hooks_missing[i] : "unnamed");
	c->hooks_dropped += p->hooks_dropped;
	c->first_gap_ms = p->first_gap_unix_ms;
	c->last_gap_ms = p->last_gap_unix_ms;
	/* an epoch too long to keep whole would match none: "" is judged in all */
	if (p->epoch && strlen(p->epoch) < sizeof(c->epoch))
		snprintf(c->epoch, sizeof(c->epoch), "%s", p->epoch);
}

/* An identity's records, one per epoch, as pid->coverage (an allocated
 * array of allocated records): identity_coverage_pb_free() undoes it. */
static void identity_coverage_pb_free(Reach__V1__IdentityReach *pid)
{
	for (size_t i = 0; i < pid->n_coverage; i++)
		free(pid->coverage[i]);
	free(pid->coverage);
	pid->coverage = NULL;
	pid->n_coverage = 0;
}

static int identity_coverage_to_pb(const struct ledger_identity *id, Reach__V1__IdentityReach *pid)
{
	pid->coverage = NULL;
	pid->n_coverage = 0;
	if (!id->n_by_epoch)
		return 0;
	if (!(pid->coverage = calloc(id->n_by_epoch, sizeof(*pid->coverage))))
		return -ENOMEM;
	for (size_t i = 0; i < id->n_by_epoch; i++) {
		if (coverage_record_to_pb(id->by_epoch[i], &pid->coverage[pid->n_coverage])) {
			identity_coverage_pb_free(pid);
			return -ENOMEM;
		}
		if (pid->coverage[pid->n_coverage])
			pid->n_coverage++;
	}
	return 0;
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
	pe->name_source = e->name_source;
	pe->content_fingerprint = e->content_fingerprint;
	pe->opened_as = e->opened_as;
	pe->mcp_arguments = e->arguments;
	pe->mcp_arg_shapes = e->arg_shapes;
	pe->mcp_errors = e->mcp_errors;
	pe->mcp_responses = e->mcp_responses;
	pe->mcp_server = e->mcp_server;
	pe->mcp_tool = e->mcp_tool;
	pe->llm_tools_offered = e->llm_tools_offered;
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
	pe->n_key_fingerprints = e->key_fingerprints->n;
	pe->key_fingerprints = e->key_fingerprints->v;
	pe->key_fingerprints_dropped = e->key_fingerprints->dropped;
	pe->n_lineage = e->n_lineage;
	pe->lineage = e->lineage;
	pe->lineage_truncated = e->lineage_truncated;
	pe->epoch = e->epoch;
	pe->last_epoch = e->last_epoch;
	pe->n_epoch_names = pe->n_epoch_first_seen_unix_ms = pe->n_epoch_last_seen_unix_ms = e->n_epochs;
	pe->epoch_names = e->epoch_names;
	pe->epoch_first_seen_unix_ms = e->epoch_first_ms;
	pe->epoch_last_seen_unix_ms = e->epoch_last_ms;
	pe->epochs_earlier = e->epochs_earlier;
}

/* One identity's view, in arrays the caller sized for its edges and their
 * outcomes; its coverage record is allocated (pid->coverage: free() it).
 * 0 or -ENOMEM: a record that cannot be written fails the save, it is
 * never silently left out. */
static int identity_to_pb(const struct ledger_identity *id, Reach__V1__IdentityReach *pid,
			  Reach__V1__Edge *edges, Reach__V1__Edge **edge_ptrs, Reach__V1__Edge__OutcomesEntry *oc,
			  Reach__V1__Edge__OutcomesEntry **oc_ptrs)
{
	size_t oi = 0;

	*pid = (Reach__V1__IdentityReach)REACH__V1__IDENTITY_REACH__INIT;
	if (identity_coverage_to_pb(id, pid))
		return -ENOMEM;
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
	return 0;
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
	v->msg.identities = v->id_ptrs;
	if (coverage_record_to_pb(ledger_node_coverage(l), &v->msg.node_coverage)) {
		ledger_pb_free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_ids; i++) {
		const struct ledger_identity *id = ledger_identity_at(l, i);

		v->msg.n_identities = i + 1; /* what ledger_pb_free() frees */
		if (identity_to_pb(id, &v->ids[i], &v->edges[ei], &v->edge_ptrs[ei], &v->outcomes[oi],
				   &v->outcome_ptrs[oi])) {
			ledger_pb_free(v);
			return -ENOMEM;
		}
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
	identity_coverage_pb_free(&c->id);
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
static int id_chunk_build(struct id_chunk *c, const struct ledger_identity *id, Reach__V1__Ledger *m)
{
	int rc;

	identity_coverage_pb_free(&c->id); /* the previous identity's */
	rc = identity_to_pb(id, &c->id, c->edges, c->edge_ptrs, c->oc, c->oc_ptrs);
	c->id_ptr = &c->id;
	*m = (Reach__V1__Ledger)REACH__V1__LEDGER__INIT;
	m->n_identities = 1;
	m->identities = &c->id_ptr;
	return rc;
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
		if ((rc = id_chunk_build(c, ledger_identity_at(l, i), &one)))
			return rc;
		if ((rc = zout_pack(z, c, &one, reach__v1__ledger__get_packed_size(&one), Z_NO_FLUSH)))
			return rc;
	}
	return zout_pack(z, c, tail, reach__v1__ledger__get_packed_size(tail), Z_FINISH);
}

/* The fields of l's message before its identities (head) and after them
 * (tail), so that head, each identity and tail packed one after the other
 * are the bytes of the whole message. */
static int msg_head_tail(Reach__V1__Ledger *head, Reach__V1__Ledger *tail, const struct ledger *l, const char *node)
{
	ledger_msg_init(head, l, node);
	*tail = *head;
	head->edges_dropped = head->identities_dropped = 0;
	head->saved_unix_ms = 0;
	tail->version = 0;
	tail->node = NULL;
	/* field 16, after the identities: the tail's (free() it) */
	return coverage_record_to_pb(ledger_node_coverage(l), &tail->node_coverage);
}

/* Ends the compression of a raw_len-byte message into z (rc: how it went
 * so far) and, when it went well, writes the header and its digest in
 * front of the payload: the complete file image in *out. Frees what it
 * does not hand over. */
static int zout_finish(struct zout *z, int rc, uint64_t raw_len, uint8_t **out, size_t *out_len, char *err,
		       size_t err_size)
{
	uLong z_len = z->zs.total_out;

	deflateEnd(&z->zs);
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
	memcpy(z->file, LEDGER_MAGIC, 8);
	put_u32(z->file + 8, LEDGER_FORMAT_VERSION);
	put_u32(z->file + 12, 0);
	put_u64(z->file + 16, raw_len);
	put_u64(z->file + 24, z_len);
	if ((rc = digest(z->file, z->file + LEDGER_HEADER_SIZE, z_len, z->file + DIGEST_OFF))) {
		format_error(err, err_size, "ledger save: SHA-256 failed");
		goto out;
	}
	*out = z->file;
	*out_len = LEDGER_HEADER_SIZE + z_len;
	return 0;
out:
	free(z->file);
	z->file = NULL;
	return rc;
}

/* Starts a zlib stream for a raw_len-byte message, into a buffer with room
 * for the header. 0, or -ENOMEM / -EIO with the message in err. */
static int zout_begin(struct zout *z, uint64_t raw_len, char *err, size_t err_size)
{
	int zrc;

	memset(z, 0, sizeof(*z));
	if ((zrc = deflateInit(&z->zs, Z_DEFAULT_COMPRESSION)) != Z_OK) {
		format_error(err, err_size, "ledger save: zlib deflateInit failed (%d)", zrc);
		return zrc == Z_MEM_ERROR ? -ENOMEM : -EIO;
	}
	/* about what a ledger compresses to, grown by doubling if not
	 * (raw_len <= LEDGER_RAW_MAX keeps every zlib length within a uInt) */
	z->cap = LEDGER_HEADER_SIZE + raw_len / 16 + 4096;
	if (!(z->file = malloc(z->cap))) {
		deflateEnd(&z->zs);
		format_error(err, err_size, "ledger save: out of memory");
		return -ENOMEM;
	}
	z->zs.next_out = z->file + LEDGER_HEADER_SIZE;
	z->zs.avail_out = (uInt)(z->cap - LEDGER_HEADER_SIZE);
	return 0;
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
	struct zout z;
	size_t raw_len;
	int rc;

	if (id_chunk_init(&c, l)) {
		id_chunk_free(&c);
		format_error(err, err_size, "ledger save: out of memory");
		return -ENOMEM;
	}
	if ((rc = msg_head_tail(&head, &tail, l, node))) {
		id_chunk_free(&c);
		format_error(err, err_size, "ledger save: out of memory");
		return rc;
	}
	/* the size first: an oversized ledger is refused before any work */
	raw_len = reach__v1__ledger__get_packed_size(&head) + reach__v1__ledger__get_packed_size(&tail);
	for (size_t i = 0; i < ledger_identities(l); i++) {
		if (id_chunk_build(&c, ledger_identity_at(l, i), &one)) {
			free(tail.node_coverage);
			id_chunk_free(&c);
			format_error(err, err_size, "ledger save: out of memory");
			return -ENOMEM;
		}
		raw_len += reach__v1__ledger__get_packed_size(&one);
	}
	if (raw_len > LEDGER_RAW_MAX) {
		free(tail.node_coverage);
		id_chunk_free(&c);
		format_error(err, err_size, "ledger save: %zu bytes encoded, over the %llu-byte bound", raw_len,
			     (unsigned long long)LEDGER_RAW_MAX);
		return -EFBIG;
	}
	if ((rc = zout_begin(&z, raw_len, err, err_size))) {
		free(tail.node_coverage);
		id_chunk_free(&c);
		return rc;
	}
	rc = compress_ledger(&z, &c, l, &head, &tail);
	if (!rc && z.zs.total_in != raw_len)
		rc = -EIO;
	free(tail.node_coverage);
	id_chunk_free(&c);
	return zout_finish(&z, rc, raw_len, out, out_len, err, err_size);
}

/* Replaces path with the file image atomically (see ledger_store.h), and
 * frees the image. */
/* Writes file (len bytes) to path atomically; frees file unless keep (then
 * it stays the caller's, whatever the result). */
static int write_image(const char *path, uint8_t *file, size_t len, bool keep, char *err, size_t err_size)
{
	char *tmp = NULL;
	int fd = -1, rc;
	const char *step;

	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		tmp = NULL;
		if (!keep)
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
	if (!keep)
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
	if (!keep)
		free(file);
	return rc;
}

int ledger_save(const struct ledger *l, const char *node, const char *path, char *err, size_t err_size)
{
	uint8_t *file = NULL;
	size_t len = 0;
	int rc;

	if (!l || !path || !*path) {
		format_error(err, err_size, "ledger save: no ledger or path");
		return -EINVAL;
	}
	if ((rc = encode(l, node, &file, &len, err, err_size)))
		return rc;
	return write_image(path, file, len, false, err, err_size);
}

/* A snapshot holds the message's bytes in pieces of SNAP_PIECE bytes (an
 * identity larger than that gets a piece of its own, a multiple of it): no
 * allocation the size of the whole message, and the writer frees each piece
 * once it is compressed. The pieces are huge-page sized and aligned, and
 * asked to be huge pages: the snapshot writes tens of MB of fresh memory on
 * the event loop, and faulting it in 4 KiB at a time took about half of
 * its time (100k edges: ~115 ms with 4 KiB pages, ~55 ms with 2 MiB ones,
 * on a 2-CPU VM). */
#define SNAP_PIECE (2u << 20)

struct snap_piece {
	struct snap_piece *next;
	size_t len, cap;
	uint8_t data[];
};

struct ledger_snapshot {
	struct snap_piece *head, *last;
	uint64_t raw_len;
	int64_t saved_unix_ms;
};

void ledger_snapshot_free(struct ledger_snapshot *s)
{
	if (!s)
		return;
	while (s->head) {
		struct snap_piece *p = s->head;

		s->head = p->next;
		free(p);
	}
	free(s);
}

/* Room for n more bytes at the end of the snapshot (counted in raw_len):
 * NULL with *rc -EFBIG past LEDGER_RAW_MAX, or -ENOMEM. The bound is
 * checked as the snapshot grows, not sized first as ledger_save() does: a
 * sizing pass made the snapshot 60% slower, and a ledger that large holds
 * many times LEDGER_RAW_MAX in memory itself. */
static uint8_t *snap_reserve(struct ledger_snapshot *s, size_t n, int *rc)
{
	struct snap_piece *p = s->last;
	uint8_t *dst;

	if (s->raw_len + n > LEDGER_RAW_MAX) {
		*rc = -EFBIG;
		return NULL;
	}
	if (!p || p->cap - p->len < n) {
		size_t size = (sizeof(*p) + n + SNAP_PIECE - 1) / SNAP_PIECE * SNAP_PIECE;

		if (posix_memalign((void **)&p, SNAP_PIECE, size)) {
			*rc = -ENOMEM;
			return NULL;
		}
		madvise(p, size, MADV_HUGEPAGE); /* a hint: nothing changes without */
		p->next = NULL;
		p->len = 0;
		p->cap = size - sizeof(*p);
		if (s->last)
			s->last->next = p;
		else
			s->head = p;
		s->last = p;
	}
	dst = p->data + p->len;
	p->len += n;
	s->raw_len += n;
	return dst;
}

/* Packs m at the end of the snapshot. 0 or -errno. */
static int snap_pack(struct ledger_snapshot *s, const Reach__V1__Ledger *m)
{
	size_t n = reach__v1__ledger__get_packed_size(m);
	uint8_t *dst;
	int rc = 0;

	if (!(dst = snap_reserve(s, n, &rc)))
		return rc;
	return reach__v1__ledger__pack(m, dst) == n ? 0 : -EIO;
}

/* Packs one identity as field 3 (identities) of reach.v1.Ledger: the bytes
 * that packing a Ledger holding only it gives (tag, length, message), with
 * one sizing pass over the identity instead of the three that
 * reach__v1__ledger__get_packed_size() and __pack() of that Ledger make:
 * the snapshot runs on the event loop. 0 or -errno. */
static int snap_pack_identity(struct ledger_snapshot *s, const Reach__V1__IdentityReach *id)
{
	size_t n = reach__v1__identity_reach__get_packed_size(id), hdr = 2; /* tag, length */
	uint8_t *dst;
	int rc = 0;

	for (size_t v = n; v >= 0x80; v >>= 7)
		hdr++;
	if (!(dst = snap_reserve(s, hdr + n, &rc)))
		return rc;
	*dst++ = (3 << 3) | 2; /* field 3, length-delimited */
	for (size_t v = n;; v >>= 7) {
		*dst++ = (uint8_t)(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
		if (v < 0x80)
			break;
	}
	return reach__v1__identity_reach__pack(id, dst) == n ? 0 : -EIO;
}

int ledger_snapshot_take(const struct ledger *l, const char *node, struct ledger_snapshot **out, char *err,
			 size_t err_size)
{
	Reach__V1__Ledger head, tail, one;
	struct ledger_snapshot *s;
	struct id_chunk c;
	int rc;

	*out = NULL;
	if (!l) {
		format_error(err, err_size, "ledger save: no ledger");
		return -EINVAL;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		format_error(err, err_size, "ledger save: out of memory");
		return -ENOMEM;
	}
	rc = id_chunk_init(&c, l);
	if (!rc)
		rc = msg_head_tail(&head, &tail, l, node);
	else
		tail.node_coverage = NULL;
	s->saved_unix_ms = tail.saved_unix_ms;
	if (!rc)
		rc = snap_pack(s, &head);
	for (size_t i = 0; !rc && i < ledger_identities(l); i++) {
		rc = id_chunk_build(&c, ledger_identity_at(l, i), &one);
		if (!rc)
			rc = snap_pack_identity(s, &c.id);
	}
	if (!rc)
		rc = snap_pack(s, &tail);
	free(tail.node_coverage);
	id_chunk_free(&c);
	if (rc) {
		if (rc == -EFBIG)
			format_error(err, err_size, "ledger save: more than %llu bytes encoded, over the bound",
				     (unsigned long long)LEDGER_RAW_MAX);
		else
			format_error(err, err_size, "ledger save: %s",
				     rc == -ENOMEM ? "out of memory" : "protobuf encoding failed");
		ledger_snapshot_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int64_t ledger_snapshot_time_ms(const struct ledger_snapshot *s)
{
	return s->saved_unix_ms;
}

uint64_t ledger_snapshot_raw_len(const struct ledger_snapshot *s)
{
	return s->raw_len;
}

int ledger_snapshot_save_image(struct ledger_snapshot *s, const char *path, uint8_t **image, size_t *image_len,
			       char *err, size_t err_size)
{
	uint64_t raw_len;
	uint8_t *file = NULL;
	size_t len = 0;
	struct zout z;
	int rc;

	if (image)
		*image = NULL;
	if (!s || !path || !*path) {
		ledger_snapshot_free(s);
		format_error(err, err_size, "ledger save: no snapshot or path");
		return -EINVAL;
	}
	raw_len = s->raw_len;
	if ((rc = zout_begin(&z, raw_len, err, err_size))) {
		ledger_snapshot_free(s);
		return rc;
	}
	while (!rc && s->head) {
		struct snap_piece *p = s->head;

		rc = zout_write(&z, p->data, p->len, Z_NO_FLUSH);
		s->head = p->next;
		free(p);
	}
	s->last = NULL;
	ledger_snapshot_free(s);
	if (!rc)
		rc = zout_write(&z, NULL, 0, Z_FINISH);
	if (!rc && z.zs.total_in != raw_len)
		rc = -EIO;
	if ((rc = zout_finish(&z, rc, raw_len, &file, &len, err, err_size)))
		return rc;
	if (image) {
		*image = file;
		*image_len = len;
	}
	if ((rc = write_image(path, file, len, image != NULL, err, err_size)) && image) {
		free(file);
		*image = NULL;
	}
	return rc;
}

int ledger_snapshot_save(struct ledger_snapshot *s, const char *path, char *err, size_t err_size)
{
	return ledger_snapshot_save_image(s, path, NULL, NULL, err, err_size);
}

/* Loading streams the file: the payload is read LOAD_CHUNK bytes at a time
 * (pread() on the open file, or the image in memory) and inflated piece by
 * piece, so that neither the compressed file nor the protobuf message is
 * ever held whole; a load holds the ledger it fills, the largest identity's
 * bytes and its decoding, and a few chunks. Three passes:
 *   1. frame:  the header's checks and the SHA-256 of the whole payload;
 *              nothing is decompressed before it matches
 *   2. check:  inflate, split into top-level fields (ledger_split_field()),
 *              decode and check every identity, keep the other fields
 *   3. import: inflate again, decode each identity again and union it in
 * so that a file refused for any reason changes nothing, and the reasons
 * are the ones decoding it whole gave. Passes 2 and 3 digest the payload
 * again and compare, and look for bytes past the end: a file rewritten in
 * place between passes (reach never does that: a save renames a new file
 * over the old one, and the load reads the file it opened) is refused as
 * "changed while being read". Noticed only at the end of pass 3, such a
 * change can leave identities read before it in the ledger; reachd drops a
 * ledger whose load failed with -EBADMSG and starts empty. */
#define LOAD_CHUNK (64u << 10)

/* Where a load reads the file from. A failed read, or a file that changed,
 * is reported in err by the source itself, naming the file, as the read of
 * the whole file used to. */
struct load_src {
	const uint8_t *mem; /* the image (the caller's), or NULL: fd */
	int fd;             /* the caller's */
	const char *path;   /* for messages */
	uint64_t len;       /* of the image, or of the file when it was opened */
	uint8_t *buf;       /* LOAD_CHUNK bytes (the caller's); fd only */
	char *err;
	size_t err_size;
	bool failed;        /* err says why already */
};

static int src_changed(struct load_src *s)
{
	format_error(s->err, s->err_size, "ledger load: %s changed while being read", s->path);
	s->failed = true;
	return -EBADMSG;
}

/* pread() of the file: bytes read, or -errno with the message in err. */
static ssize_t src_pread(struct load_src *s, void *buf, size_t n, uint64_t off)
{
	for (;;) {
		ssize_t r = pread(s->fd, buf, n, (off_t)off);
		int e = errno;

		if (r >= 0)
			return r;
		if (e != EINTR) {
			format_error(s->err, s->err_size, "ledger load: read %s: %s", s->path, strerror(e));
			s->failed = true;
			return -e;
		}
	}
}

/* Bytes [off, off + n) of the file (n <= LOAD_CHUNK, off + n <= s->len) in
 * *p, valid until the next call. 0 or -errno. */
static int src_get(struct load_src *s, uint64_t off, size_t n, const uint8_t **p)
{
	size_t got = 0;

	if (s->mem) {
		*p = s->mem + off;
		return 0;
	}
	while (got < n) {
		ssize_t r = src_pread(s, s->buf + got, n - got, off + got);

		if (r < 0)
			return (int)r;
		if (r == 0) /* shorter than when it was opened */
			return src_changed(s);
		got += (size_t)r;
	}
	*p = s->buf;
	return 0;
}

/* A file no longer than when it was opened. 0 or -errno. */
static int src_check_end(struct load_src *s)
{
	uint8_t b;
	ssize_t r;

	if (s->mem)
		return 0;
	r = src_pread(s, &b, 1, s->len);
	return r < 0 ? (int)r : r ? src_changed(s) : 0;
}

/* A SHA-256 over the header's first DIGEST_OFF bytes, the payload to come.
 * NULL: out of memory. */
static EVP_MD_CTX *digest_begin(const uint8_t *hdr)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, hdr, DIGEST_OFF))
		return ctx;
	EVP_MD_CTX_free(ctx);
	return NULL;
}

/* Frees ctx. 0 when the digest matches the header's, 1 when it does not,
 * -ENOMEM. */
static int digest_end(EVP_MD_CTX *ctx, const uint8_t *hdr)
{
	uint8_t got[DIGEST_LEN];
	unsigned int n = 0;
	int ok = EVP_DigestFinal_ex(ctx, got, &n) && n == DIGEST_LEN;

	EVP_MD_CTX_free(ctx);
	return !ok ? -ENOMEM : memcmp(got, hdr + DIGEST_OFF, DIGEST_LEN) ? 1 : 0;
}

/* What pass 1 read from the header. */
struct frame {
	uint8_t hdr[LEDGER_HEADER_SIZE];
	uint64_t raw_len, z_len;
};

/* Pass 1: reads the whole file once, digesting the payload, then checks
 * the header and the digest, in the order and with the reasons of the
 * whole-file check. */
static int check_frame(struct load_src *s, struct frame *f, char *why, size_t why_size)
{
	EVP_MD_CTX *md = NULL;
	const uint8_t *p;
	uint64_t len = s->len;
	int rc;

	memset(f, 0, sizeof(*f));
	if (len >= LEDGER_HEADER_SIZE) {
		if ((rc = src_get(s, 0, LEDGER_HEADER_SIZE, &p)))
			return rc;
		memcpy(f->hdr, p, LEDGER_HEADER_SIZE);
		if (!(md = digest_begin(f->hdr)))
			goto oom;
		for (uint64_t off = LEDGER_HEADER_SIZE; off < len;) {
			size_t n = len - off > LOAD_CHUNK ? LOAD_CHUNK : (size_t)(len - off);

			if ((rc = src_get(s, off, n, &p)))
				goto out;
			if (!EVP_DigestUpdate(md, p, n))
				goto oom;
			off += n;
		}
	} else if (len && (rc = src_get(s, 0, (size_t)len, &p))) {
		return rc;
	}
	if ((rc = src_check_end(s)))
		goto out;
	rc = -EBADMSG;
	if (len < LEDGER_HEADER_SIZE) {
		format_error(why, why_size, "%zu bytes, shorter than the %d-byte header", (size_t)len, LEDGER_HEADER_SIZE);
		goto out;
	}
	if (memcmp(f->hdr, LEDGER_MAGIC, 8)) {
		format_error(why, why_size, "not a reach ledger (bad magic)");
		goto out;
	}
	if (get_u32(f->hdr + 8) != LEDGER_FORMAT_VERSION || get_u32(f->hdr + 12) != 0) {
		format_error(why, why_size, "unsupported format version %u (flags %u)", get_u32(f->hdr + 8),
			     get_u32(f->hdr + 12));
		goto out;
	}
	f->raw_len = get_u64(f->hdr + 16);
	f->z_len = get_u64(f->hdr + 24);
	if (f->z_len != len - LEDGER_HEADER_SIZE) {
		format_error(why, why_size, "header says %llu compressed bytes, file has %zu (truncated?)",
			     (unsigned long long)f->z_len, (size_t)(len - LEDGER_HEADER_SIZE));
		goto out;
	}
	if (f->raw_len == 0 || f->raw_len > LEDGER_RAW_MAX) {
		format_error(why, why_size, "header says %llu uncompressed bytes, outside 1..%llu",
			     (unsigned long long)f->raw_len, (unsigned long long)LEDGER_RAW_MAX);
		goto out;
	}
	rc = digest_end(md, f->hdr);
	md = NULL;
	if (rc < 0)
		goto oom;
	if (rc) {
		format_error(why, why_size, "checksum mismatch (corrupt)");
		rc = -EBADMSG;
	}
	goto out;
oom:
	format_error(why, why_size, "out of memory");
	rc = -ENOMEM;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

/* The payload inflated piece by piece and read field by field (passes 2
 * and 3). The window holds the inflated bytes not consumed yet: at most the
 * largest field (an identity) and LOAD_CHUNK. Owned by the pass. */
struct zin {
	struct load_src *src;
	const struct frame *f;
	z_stream zs;
	bool zs_live;
	EVP_MD_CTX *md;         /* of the payload read, checked again at the end */
	uint64_t in_off;        /* the next file offset to read */
	uint8_t *win;
	size_t cap, start, len; /* win[start, start + len): inflated, not consumed */
	uint64_t consumed;      /* message bytes before win + start */
	const uint8_t *field;   /* the field zin_next() returned */
	int zrc;                /* Z_OK while inflating, then inflate()'s last return */
};

static void zin_close(struct zin *z)
{
	if (z->zs_live)
		inflateEnd(&z->zs);
	EVP_MD_CTX_free(z->md);
	free(z->win);
}

static int zin_open(struct zin *z, struct load_src *s, const struct frame *f)
{
	memset(z, 0, sizeof(*z));
	z->src = s;
	z->f = f;
	z->in_off = LEDGER_HEADER_SIZE;
	z->zrc = Z_OK;
	if (inflateInit(&z->zs) != Z_OK)
		return -ENOMEM;
	z->zs_live = true;
	z->cap = LOAD_CHUNK;
	return (z->md = digest_begin(f->hdr)) && (z->win = malloc(z->cap)) ? 0 : -ENOMEM;
}

/* Gives inflate the next piece of the payload once it has used the last. */
static int zin_feed(struct zin *z)
{
	uint64_t end = LEDGER_HEADER_SIZE + z->f->z_len;
	const uint8_t *p;
	size_t n;
	int rc;

	if (z->zs.avail_in || z->in_off >= end)
		return 0;
	n = end - z->in_off > LOAD_CHUNK ? LOAD_CHUNK : (size_t)(end - z->in_off);
	if ((rc = src_get(z->src, z->in_off, n, &p)))
		return rc;
	if (!EVP_DigestUpdate(z->md, p, n))
		return -ENOMEM;
	z->zs.next_in = (Bytef *)p;
	z->zs.avail_in = (uInt)n;
	z->in_off += n;
	return 0;
}

/* One inflate() into out, room bytes but never past the header's declared
 * length in all (as uncompress2() into a buffer of that length did). */
static int zin_step(struct zin *z, uint8_t *out, size_t room, size_t *made)
{
	uint64_t left = z->f->raw_len - z->zs.total_out;
	int rc, zrc;

	if ((rc = zin_feed(z)))
		return rc;
	if (room > left)
		room = (size_t)left;
	z->zs.next_out = out;
	z->zs.avail_out = (uInt)room;
	zrc = inflate(&z->zs, Z_NO_FLUSH);
	*made = room - z->zs.avail_out;
	if (zrc != Z_OK)
		z->zrc = zrc;
	return 0;
}

/* At least need bytes at win + start (need <= the message's remaining
 * bytes), or as many as the payload gives. 0 or -errno. */
static int zin_fill(struct zin *z, size_t need)
{
	int rc;

	if (need > z->cap) {
		size_t cap = (need + LOAD_CHUNK - 1) / LOAD_CHUNK * LOAD_CHUNK;
		uint8_t *w;

		if (z->start) {
			memmove(z->win, z->win + z->start, z->len);
			z->start = 0;
		}
		if (!(w = realloc(z->win, cap)))
			return -ENOMEM;
		z->win = w;
		z->cap = cap;
	}
	while (z->len < need && z->zrc == Z_OK) {
		size_t made;

		if (z->start && z->start + need > z->cap) {
			memmove(z->win, z->win + z->start, z->len);
			z->start = 0;
		}
		if ((rc = zin_step(z, z->win + z->start + z->len, z->cap - z->start - z->len, &made)))
			return rc;
		z->len += made;
	}
	return 0;
}

/* The next top-level field: 1 (in *fl and z->field, valid until the next
 * call), 0 at the end of the message, -EBADMSG for bad framing or a payload
 * that ended early (zin_finish() then says how), or -errno. */
static int zin_next(struct zin *z, struct ledger_field *fl)
{
	uint64_t left = z->f->raw_len - z->consumed;
	size_t need = 1;
	int rc;

	if (!left)
		return 0;
	for (;;) {
		if (z->len < need) {
			if ((rc = zin_fill(z, need)))
				return rc;
			if (z->len < need)
				return -EBADMSG;
		}
		/* z->len <= left: the output stops at the declared length */
		if ((rc = ledger_split_field(z->win + z->start, z->len, (size_t)left, fl, &need)))
			break;
	}
	if (rc < 0)
		return -EBADMSG;
	z->field = z->win + z->start;
	z->start += fl->len;
	z->len -= fl->len;
	z->consumed += fl->len;
	return 1;
}

/* Inflates the rest (unread), reads the payload to its end, then checks
 * that the file did not change (the digest matches the header's again, no
 * byte past its end) and that the payload inflated exactly as uncompress2()
 * into a buffer of the declared length did, with its reasons. */
static int zin_finish(struct zin *z, char *why, size_t why_size)
{
	int rc, zrc;

	while (z->zrc == Z_OK) {
		size_t made;

		z->start = z->len = 0;
		if ((rc = zin_step(z, z->win, z->cap, &made)))
			return rc;
	}
	for (z->zs.avail_in = 0; z->in_off < LEDGER_HEADER_SIZE + z->f->z_len; z->zs.avail_in = 0)
		if ((rc = zin_feed(z)))
			return rc;
	rc = digest_end(z->md, z->f->hdr);
	z->md = NULL;
	if (rc < 0) {
		format_error(why, why_size, "out of memory");
		return -ENOMEM;
	}
	if (rc)
		return src_changed(z->src);
	if ((rc = src_check_end(z->src)))
		return rc;
	/* uncompress2()'s return for inflate()'s last */
	zrc = z->zrc == Z_STREAM_END ? Z_OK
	      : z->zrc == Z_NEED_DICT ? Z_DATA_ERROR
	      : z->zrc == Z_BUF_ERROR && z->zs.total_out < z->f->raw_len ? Z_DATA_ERROR
	      : z->zrc;
	if (zrc == Z_MEM_ERROR) {
		format_error(why, why_size, "out of memory decompressing");
		return -ENOMEM;
	}
	if (zrc != Z_OK || z->zs.total_out != z->f->raw_len || z->zs.total_in != z->f->z_len) {
		format_error(why, why_size, "decompression failed (zlib %d, %llu of %llu bytes, %llu of %llu input)", zrc,
			     (unsigned long long)z->zs.total_out, (unsigned long long)z->f->raw_len,
			     (unsigned long long)z->zs.total_in, (unsigned long long)z->f->z_len);
		return -EBADMSG;
	}
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

/* Pass 2: decodes and checks every identity; *rest_out gets the message's
 * other fields (a Ledger without identities: version, node, counts, time).
 * The reason is the one decoding the message whole gave: the file changed,
 * else decompression failed, else a decoding failure anywhere, else a bad
 * content version, else the first bad identity. */
static int check_pass(struct load_src *s, const struct frame *f, Reach__V1__Ledger **rest_out, char *why,
		      size_t why_size)
{
	static const uint8_t none[1];
	char first_bad[256] = "";
	Reach__V1__Ledger *rest = NULL;
	struct ledger_field fl;
	struct zin z;
	uint8_t *rest_buf = NULL;
	size_t rest_len = 0, n_ids = 0;
	bool bad = false;
	int rc;

	if ((rc = zin_open(&z, s, f)))
		goto oom;
	while ((rc = zin_next(&z, &fl)) == 1) {
		if (fl.id.p) {
			Reach__V1__IdentityReach *id = reach__v1__identity_reach__unpack(NULL, fl.id.len, fl.id.p);

			if (!id) {
				bad = true;
				break;
			}
			if (!first_bad[0])
				validate_identity(id, n_ids, first_bad, sizeof(first_bad));
			reach__v1__identity_reach__free_unpacked(id, NULL);
			n_ids++;
		} else {
			uint8_t *b = realloc(rest_buf, rest_len + fl.len);

			if (!b)
				goto oom;
			memcpy(b + rest_len, z.field, fl.len);
			rest_buf = b;
			rest_len += fl.len;
		}
	}
	if (rc == -EBADMSG)
		bad = true;
	else if (rc < 0)
		goto fail;
	if ((rc = zin_finish(&z, why, why_size)))
		goto out;
	if (!bad && !(rest = reach__v1__ledger__unpack(NULL, rest_len, rest_buf ? rest_buf : none)))
		bad = true;
	rc = -EBADMSG;
	if (bad) {
		snprintf(why, why_size, "protobuf decoding failed");
	} else if (rest->version == 0 || rest->version > LEDGER_CONTENT_VERSION) {
		format_error(why, why_size, "unsupported content version %u", rest->version);
	} else if (first_bad[0]) {
		snprintf(why, why_size, "%s", first_bad);
	} else {
		*rest_out = rest;
		rest = NULL;
		rc = 0;
	}
	goto out;
oom:
	rc = -ENOMEM;
fail: /* the source's failures are in err already */
	if (!s->failed)
		snprintf(why, why_size, "out of memory");
out:
	if (rest)
		reach__v1__ledger__free_unpacked(rest, NULL);
	free(rest_buf);
	zin_close(&z);
	return rc;
}

/* The ledger_edge views of one identity's edges, reused from identity to
 * identity. */
/* A decoded edge as the ledger takes it: the edge points at its sets. */
struct import_edge {
	struct ledger_edge e;
	struct ledger_set executables, pods, images, key_fingerprints;
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
		e->name_source = pe->name_source;
		e->content_fingerprint = pe->content_fingerprint;
		e->opened_as = pe->opened_as;
		e->arguments = pe->mcp_arguments;
		e->arg_shapes = pe->mcp_arg_shapes;
		e->mcp_errors = pe->mcp_errors;
		e->mcp_responses = pe->mcp_responses;
		e->mcp_server = pe->mcp_server;
		e->mcp_tool = pe->mcp_tool;
		e->llm_tools_offered = pe->llm_tools_offered;
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
		ie->key_fingerprints =
			(struct ledger_set){ pe->key_fingerprints, pe->n_key_fingerprints, pe->key_fingerprints_dropped };
		e->key_fingerprints = &ie->key_fingerprints;
		e->lineage = pe->lineage;
		/* any length past the cap is truncated the same way */
		e->n_lineage = pe->n_lineage > UINT16_MAX ? UINT16_MAX : (uint16_t)pe->n_lineage;
		e->lineage_truncated = pe->lineage_truncated;
		e->epoch = pe->epoch;
		e->last_epoch = pe->last_epoch;
		/* the lists are parallel: a file where they are not is read as far
		 * as all three go (times missing read as unknown) */
		e->n_epochs = pe->n_epoch_names > UINT32_MAX ? UINT32_MAX : (uint32_t)pe->n_epoch_names;
		e->epoch_names = pe->epoch_names;
		e->epoch_first_ms = pe->n_epoch_first_seen_unix_ms >= pe->n_epoch_names ? pe->epoch_first_seen_unix_ms : NULL;
		e->epoch_last_ms = pe->n_epoch_last_seen_unix_ms >= pe->n_epoch_names ? pe->epoch_last_seen_unix_ms : NULL;
		e->epochs_earlier = pe->epochs_earlier;
		v->ptrs[n++] = e;
	}
	r = ledger_merge_identity(l, id->identity, v->ptrs, n, id->edges_dropped);
	for (size_t i = 0; (!r || r == -ENOSPC) && i < id->n_coverage; i++) {
		struct coverage cv;
		int c;

		coverage_record_from_pb(id->coverage[i], &cv);
		/* refused at the identity cap: the node's record has it */
		if ((c = ledger_add_coverage(l, id->identity, &cv)) && c != -ENOSPC)
			return c;
	}
	return r == -ENOSPC ? 0 : r; /* caps are counted, not failures */
}

/* Pass 3: unions the checked identities into l, inflating and decoding
 * them again one by one. */
static int import_pass(struct ledger *l, struct load_src *s, const struct frame *f, const Reach__V1__Ledger *rest,
		       char *why, size_t why_size)
{
	struct import_views v = { 0 };
	struct ledger_field fl;
	struct zin z;
	int rc, frc;

	if ((rc = zin_open(&z, s, f)))
		goto out;
	ledger_add_dropped(l, rest->edges_dropped, rest->identities_dropped);
	if (rest->node_coverage) {
		struct coverage cv;

		coverage_record_from_pb(rest->node_coverage, &cv);
		if ((rc = ledger_add_node_coverage(l, &cv)))
			goto out;
	}
	while ((rc = zin_next(&z, &fl)) == 1) {
		Reach__V1__IdentityReach *id;

		if (!fl.id.p)
			continue;
		/* it decoded in pass 2: a failure now is memory */
		if (!(id = reach__v1__identity_reach__unpack(NULL, fl.id.len, fl.id.p))) {
			rc = -ENOMEM;
			break;
		}
		rc = import_identity(l, id, &v);
		reach__v1__identity_reach__free_unpacked(id, NULL);
		if (rc)
			break;
	}
	/* bad framing now, where pass 2 had none: the file changed, which
	 * zin_finish() says */
	if ((rc == 0 || rc == -EBADMSG) && (frc = zin_finish(&z, why, why_size)))
		rc = frc;
	else if (rc == -EBADMSG)
		snprintf(why, why_size, "protobuf decoding failed");
out:
	if (rc && rc != -EBADMSG && !s->failed && !why[0])
		snprintf(why, why_size, "out of memory");
	import_views_free(&v);
	zin_close(&z);
	return rc;
}

/* Decodes the file (or image) s into l; why gets the reason on failure,
 * unless s->failed (then err has it). */
static int load_stream(struct ledger *l, struct load_src *s, struct ledger_file_info *info, char *why,
		       size_t why_size)
{
	Reach__V1__Ledger *rest = NULL;
	struct frame f;
	int rc;

	if ((rc = check_frame(s, &f, why, why_size)) || (rc = check_pass(s, &f, &rest, why, why_size)))
		return rc;
	rc = import_pass(l, s, &f, rest, why, why_size);
	if (!rc && info) {
		snprintf(info->node, sizeof(info->node), "%s", rest->node ? rest->node : "");
		info->saved_unix_ms = rest->saved_unix_ms;
		info->raw_len = f.raw_len;
		info->file_len = s->len;
	}
	reach__v1__ledger__free_unpacked(rest, NULL);
	return rc;
}

int ledger_load(struct ledger *l, const char *path, struct ledger_file_info *info, char *err, size_t err_size)
{
	struct load_src s = { .path = path, .err = err, .err_size = err_size };
	char why[256] = "";
	struct stat st;
	int rc;

	if (!l || !path) {
		format_error(err, err_size, "ledger load: no ledger or path");
		return -EINVAL;
	}
	s.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s.fd < 0) {
		rc = -errno;
		if (rc != -ENOENT)
			format_error(err, err_size, "ledger load: open %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(s.fd, &st)) {
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
	if (!(s.buf = malloc(LOAD_CHUNK))) {
		rc = -ENOMEM;
		format_error(err, err_size, "ledger load: out of memory");
		goto out;
	}
	s.len = (uint64_t)st.st_size;
	if ((rc = load_stream(l, &s, info, why, sizeof(why))) && !s.failed)
		format_error(err, err_size, "ledger load: %s: %s", path, why);
out:
	free(s.buf);
	close(s.fd);
	return rc;
}

int ledger_load_image(struct ledger *l, const uint8_t *image, size_t len, struct ledger_file_info *info, char *err,
		      size_t err_size)
{
	/* an image does not change: the source never fails on its own */
	struct load_src s = { .mem = image, .fd = -1, .path = "the image", .len = len, .err = err, .err_size = err_size };
	char why[256] = "";
	int rc;

	if (!l || !image) {
		format_error(err, err_size, "ledger load: no ledger or image");
		return -EINVAL;
	}
	if ((rc = load_stream(l, &s, info, why, sizeof(why))) && !s.failed)
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
