/* reach.v1.Report bodies: see report.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/fileio.h"
#include "common/hex.h"
#include "common/hmap.h"
#include "common/log.h"
#include "identity/identity.h"
#include "reach.pb-c.h"
#include "reach/ledger_store.h"
#include "ship/report.h"

/* ---- the sequence file ----------------------------------------------------- */

struct report_seq {
	char path[4096];
	uint64_t last;
};

int report_seq_open(struct report_seq **out, const char *path, char *err, size_t err_size)
{
	struct report_seq *s = calloc(1, sizeof(*s));
	FILE *f;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	if (snprintf(s->path, sizeof(s->path), "%s", path) >= (int)sizeof(s->path)) {
		format_error(err, err_size, "%s: path too long", path);
		free(s);
		return -ENAMETOOLONG;
	}
	f = fopen(path, "re");
	if (f) {
		unsigned long long v = 0;
		int ok = fscanf(f, "%llu", &v) == 1;

		fclose(f);
		if (!ok) {
			/* a torn file cannot happen (rename); a hand-edited one can:
			 * refuse rather than restart at 0 and reuse seqs */
			format_error(err, err_size, "%s: not a report sequence number (remove it to restart at 1)", path);
			free(s);
			return -EINVAL;
		}
		s->last = v;
	} else if (errno != ENOENT) {
		int e = errno;

		format_error(err, err_size, "%s: %s", path, strerror(e));
		free(s);
		return -e;
	}
	*out = s;
	return 0;
}

int report_seq_next(struct report_seq *s, uint64_t *seq)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", s->last + 1);
	/* durable before the seq is used: a crash never hands it out twice */
	int rc = write_file_atomic(s->path, text, (size_t)n, 0600);

	if (rc)
		return rc;
	*seq = ++s->last;
	return 0;
}

uint64_t report_seq_last(const struct report_seq *s)
{
	return s->last;
}

void report_seq_free(struct report_seq *s)
{
	free(s);
}

void report_boot_id(char *out, size_t n)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	out[0] = '\0';
	if (!f)
		return;
	if (fgets(out, (int)n, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* ---- header and packing ------------------------------------------------------- */

struct header {
	Reach__V1__ReportHeader pb;
	char id[33];
};

static int header_init(const struct report_src *src, struct header *h, uint64_t *seq_out)
{
	unsigned char rnd[16];
	uint64_t seq;
	int rc;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	if ((rc = report_seq_next(src->seq, &seq)))
		return rc;
	hex_encode(rnd, sizeof(rnd), h->id);
	h->pb = (Reach__V1__ReportHeader)REACH__V1__REPORT_HEADER__INIT;
	h->pb.node = (char *)(src->node ? src->node : "");
	h->pb.boot_id = (char *)(src->boot_id ? src->boot_id : "");
	h->pb.agent_version = (char *)(src->version ? src->version : "");
	h->pb.seq = seq;
	h->pb.report_id = h->id;
	h->pb.created_unix_ms = unix_now_ms();
	if (seq_out)
		*seq_out = seq;
	return 0;
}

static int pack_report(const Reach__V1__Report *r, uint8_t **body, size_t *len)
{
	size_t n = reach__v1__report__get_packed_size(r);
	uint8_t *buf = malloc(n ? n : 1);

	if (!buf)
		return -ENOMEM;
	*len = reach__v1__report__pack(r, buf);
	*body = buf;
	return 0;
}

/* ---- reach: full and delta ------------------------------------------------------ */

struct reach_delta {
	struct hmap *sent; /* "identity\x1fkind\x1fobject" -> uint64_t * (edge state hash) */
	uint64_t last_seq; /* of the previous ReachReport, for the receiver's delta chain */
};

struct reach_delta *reach_delta_new(void)
{
	struct reach_delta *d = calloc(1, sizeof(*d));

	if (d && !(d->sent = hmap_new())) {
		free(d);
		return NULL;
	}
	return d;
}

void reach_delta_free(struct reach_delta *d)
{
	if (!d)
		return;
	hmap_free(d->sent, free);
	free(d);
}

void reach_delta_reset(struct reach_delta *d)
{
	hmap_free(d->sent, free);
	d->sent = hmap_new();
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ULL;
}

static uint64_t mix_str(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = mix(h, (unsigned char)*s);
	return mix(h, 0xff);
}

/* Everything a receiver would see change: counts, times, set sizes and the
 * epochs. Sets only grow (bounded, with drop counters), so their sizes
 * stand for their content. */
static uint64_t edge_state(const struct ledger_edge *e)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = mix(h, e->count);
	h = mix(h, (uint64_t)e->first_ms);
	h = mix(h, (uint64_t)e->last_ms);
	h = mix(h, e->executables->n + (e->executables->dropped << 8));
	h = mix(h, e->pods->n + (e->pods->dropped << 8));
	h = mix(h, e->images->n + (e->images->dropped << 8));
	h = mix(h, e->key_fingerprints->n + (e->key_fingerprints->dropped << 8));
	h = mix(h, e->outcomes_dropped);
	for (size_t i = 0; i < e->n_outcomes; i++)
		h = mix(mix_str(h, e->outcomes[i].name), e->outcomes[i].count);
	h = mix_str(h, e->epoch);
	h = mix_str(h, e->last_epoch);
	for (size_t i = 0; i < e->n_epochs; i++) /* a sighting in an epoch seen before is no change */
		h = mix_str(h, e->epoch_names[i]);
	h = mix(h, e->epochs_earlier);
	h = mix_str(h, e->name);
	h = mix_str(h, e->name_source);
	h = mix_str(h, e->opened_as);
	h = mix(mix(h, e->mcp_responses), e->mcp_errors); /* an answer is a change to send */
	h = mix_str(h, e->mcp_server);
	h = mix_str(h, e->arg_shapes); /* a new argument shape is a change to send */
	return mix_str(h, e->content_fingerprint);
}

static void edge_key(char *key, size_t n, const char *identity, const struct ledger_edge *e)
{
	snprintf(key, n, "%s\x1f%d\x1f%s", identity, (int)e->kind, e->object);
}

/* The ledger of the edges to send (copies), and their new states. */
static int select_edges(struct reach_delta *d, const struct ledger *l, bool full, struct ledger *out,
			struct hmap *states)
{
	char key[2048];
	int rc;

	for (size_t i = 0; i < ledger_identities(l); i++) {
		const struct ledger_identity *id = ledger_identity_at(l, i);

		for (size_t j = 0; j < id->n_edges; j++) {
			const struct ledger_edge *e = id->edges[j];
			uint64_t st = edge_state(e), *prev, *v;

			edge_key(key, sizeof(key), id->name, e);
			prev = hmap_get(d->sent, key);
			if (!full && prev && *prev == st)
				continue;
			if ((rc = ledger_add_edge(out, id->name, e)))
				return rc;
			if (!(v = malloc(sizeof(*v))))
				return -ENOMEM;
			*v = st;
			if ((rc = hmap_put(states, key, v, NULL))) {
				free(v);
				return rc;
			}
		}
	}
	return 0;
}

/* After the report is built: remember what it carried. */
static int commit_states(struct reach_delta *d, struct hmap *states)
{
	struct hmap_iter it;
	const char *key;
	void *v, *old;

	hmap_iter_init(&it, states);
	while (hmap_iter_next(&it, &key, &v)) {
		uint64_t *copy = malloc(sizeof(*copy));

		if (!copy)
			return -ENOMEM;
		*copy = *(uint64_t *)v;
		old = NULL;
		if (hmap_put(d->sent, key, copy, &old)) {
			free(copy);
			return -ENOMEM;
		}
		free(old);
	}
	return 0;
}

int report_reach(const struct report_src *src, struct reach_delta *d, const struct ledger *l, bool full,
		 uint8_t **body, size_t *len, uint64_t *seq_out)
{
	/* no caps on the copy: it holds what l already accepted */
	struct ledger *sel = ledger_new(SIZE_MAX, SIZE_MAX);
	struct hmap *states = hmap_new();
	Reach__V1__ReachReport rr = REACH__V1__REACH_REPORT__INIT;
	Reach__V1__Report rep = REACH__V1__REPORT__INIT;
	struct ledger_pb pb = { 0 };
	struct header h;
	int rc;

	*body = NULL;
	*len = 0;
	if (!sel || !states) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = select_edges(d, l, full, sel, states)))
		goto out;
	if (!full && ledger_identities(sel) == 0)
		goto out; /* nothing changed */
	/* coverage records travel whole with their identity (every one in a
	 * full snapshot, those with a changed edge otherwise): a receiver
	 * replaces its copy, as it does an edge's */
	for (size_t i = 0; i < ledger_identities(l); i++) {
		const struct ledger_identity *id = ledger_identity_at(l, i);

		if (!id->n_by_epoch || (!full && !ledger_identity_find(sel, id->name)))
			continue;
		for (size_t j = 0; j < id->n_by_epoch; j++)
			if ((rc = ledger_add_coverage(sel, id->name, id->by_epoch[j])))
				goto out;
	}
	if ((rc = ledger_pb_build(&pb, sel, src->node)))
		goto out;
	if ((rc = coverage_record_to_pb(ledger_node_coverage(l), &rr.node_coverage)))
		goto out;
	if ((rc = header_init(src, &h, seq_out)))
		goto out;
	rr.header = &h.pb;
	rr.full_snapshot = full;
	rr.n_identities = pb.msg.n_identities;
	rr.identities = pb.msg.identities;
	rr.edges_dropped = ledger_edges_dropped(l);
	rr.identities_dropped = ledger_identities_dropped(l);
	rr.previous_seq = d->last_seq;
	rep.body_case = REACH__V1__REPORT__BODY_REACH;
	rep.reach = &rr;
	if ((rc = pack_report(&rep, body, len)))
		goto out;
	if ((rc = commit_states(d, states))) {
		free(*body);
		*body = NULL;
	} else {
		d->last_seq = h.pb.seq;
	}
out:
	free(rr.node_coverage);
	ledger_pb_free(&pb);
	hmap_free(states, free);
	ledger_free(sel);
	return rc;
}

/* ---- findings and verdicts ----------------------------------------------------------- */

static void finding_detail(const struct finding *f, Reach__V1__FindingDetail *fd)
{
	*fd = (Reach__V1__FindingDetail)REACH__V1__FINDING_DETAIL__INIT;
	fd->id = (char *)f->id;
	fd->identity = (char *)f->identity;
	fd->kind = (char *)finding_kind_name(f->kind);
	fd->severity = (char *)severity_name(f->severity);
	fd->edge_kind = (char *)f->edge_kind;
	fd->object = (char *)f->object;
	fd->message = (char *)f->message;
	fd->policy = (char *)f->policy_ref;
}

int report_finding(const struct report_src *src, const struct finding *f, bool resolved, int64_t resolved_ms,
		   uint8_t **body, size_t *len)
{
	Reach__V1__FindingDetail fd;
	Reach__V1__Finding fm = REACH__V1__FINDING__INIT;
	Reach__V1__Report rep = REACH__V1__REPORT__INIT;
	char ns[512], sa[512];
	struct header h;
	int rc;

	if ((rc = header_init(src, &h, NULL)))
		return rc;
	finding_detail(f, &fd);
	/* "ns/sa" identities split for routing, as alerts and OTLP do */
	identity_split_k8s(f->identity, ns, sizeof(ns), sa, sizeof(sa));
	fm.header = &h.pb;
	fm.finding = &fd;
	fm.resolved = resolved;
	fm.first_seen_unix_ms = f->first_ms;
	fm.resolved_unix_ms = resolved ? resolved_ms : 0;
	fm.namespace_ = ns;
	fm.service_account = sa;
	rep.body_case = REACH__V1__REPORT__BODY_FINDING;
	rep.finding = &fm;
	return pack_report(&rep, body, len);
}

/* Splits "a; b; c" into pointers into buf. */
static size_t split_reasons(char *buf, char **out, size_t max)
{
	size_t n = 0;

	for (char *p = buf; p && *p && n < max;) {
		char *sep = strstr(p, "; ");

		out[n++] = p;
		if (!sep)
			break;
		*sep = '\0';
		p = sep + 2;
	}
	return n;
}

int report_verification(const struct report_src *src, const struct epoch_record *rec, const struct verify_result *r,
			uint8_t **body, size_t *len)
{
	Reach__V1__Verification vm = REACH__V1__VERIFICATION__INIT;
	Reach__V1__Report rep = REACH__V1__REPORT__INIT;
	Reach__V1__FindingDetail *fds = NULL, **fd_ptrs = NULL;
	Reach__V1__RotationItem *rot = NULL, **rot_ptrs = NULL;
	char reasons_buf[sizeof(rec->reasons)], *reasons[32];
	const struct identity_verdict *v = NULL;
	size_t nf = 0;
	struct header h;
	int rc;

	if ((rc = header_init(src, &h, NULL)))
		return rc;
	for (size_t i = 0; r && i < r->n_verdicts; i++)
		if (!strcmp(r->verdicts[i].identity, rec->identity))
			v = &r->verdicts[i];
	fds = calloc((r ? r->n_findings : 0) + 1, sizeof(*fds));
	fd_ptrs = calloc((r ? r->n_findings : 0) + 1, sizeof(*fd_ptrs));
	rot = calloc((v ? v->n_rotation : 0) + 1, sizeof(*rot));
	rot_ptrs = calloc((v ? v->n_rotation : 0) + 1, sizeof(*rot_ptrs));
	if (!fds || !fd_ptrs || !rot || !rot_ptrs) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; r && i < r->n_findings; i++) {
		const struct finding *f = &r->findings[i];

		if (strcmp(f->identity, rec->identity) || f->severity < SEV_MEDIUM)
			continue;
		finding_detail(f, &fds[nf]);
		fd_ptrs[nf] = &fds[nf];
		nf++;
	}
	for (size_t i = 0; v && i < v->n_rotation; i++) {
		rot[i] = (Reach__V1__RotationItem)REACH__V1__ROTATION_ITEM__INIT;
		rot[i].identity = (char *)rec->identity;
		rot[i].kind = (char *)v->rotation[i].kind;
		rot[i].object = (char *)v->rotation[i].what;
		rot_ptrs[i] = &rot[i];
	}
	snprintf(reasons_buf, sizeof(reasons_buf), "%s", rec->reasons);
	vm.record_id = rec->id;
	vm.follows = rec->follows;
	vm.seq = rec->hash[0] ? rec->seq : 0;
	vm.prev_hash = (char *)(rec->hash[0] ? rec->prev_hash : "");
	vm.hash = (char *)rec->hash;
	vm.policy_digest = (char *)rec->policy_digest;
	vm.header = &h.pb;
	vm.identity = (char *)rec->identity;
	vm.verdict = (char *)epoch_verdict_name(rec);
	vm.from_version = (char *)rec->from_version;
	vm.to_version = (char *)rec->to_version;
	vm.n_reasons = split_reasons(reasons_buf, reasons, 32);
	vm.reasons = reasons;
	vm.n_findings = nf;
	vm.findings = fd_ptrs;
	vm.n_rotate = v ? v->n_rotation : 0;
	vm.rotate = rot_ptrs;
	vm.verified_unix_ms = rec->state == EPOCH_DRIFTED ? rec->drifted_ms : rec->verified_ms;
	rep.body_case = REACH__V1__REPORT__BODY_VERIFICATION;
	rep.verification = &vm;
	rc = pack_report(&rep, body, len);
out:
	free(fds);
	free(fd_ptrs);
	free(rot);
	free(rot_ptrs);
	return rc;
}

/* ---- health ----------------------------------------------------------------------- */

/* The two map entry types are distinct generated types of one shape. */
#define KV_ENTRIES(TYPE, INIT, kv, n, store, ptrs)                      \
	do {                                                             \
		for (size_t i_ = 0; i_ < (n); i_++) {                    \
			(store)[i_] = (TYPE)INIT;                        \
			(store)[i_].key = (char *)(kv)[i_].name;         \
			(store)[i_].value = (kv)[i_].value;              \
			(ptrs)[i_] = &(store)[i_];                       \
		}                                                        \
	} while (0)

int report_health(const struct report_src *src, const struct report_health_in *in, uint8_t **body, size_t *len)
{
	Reach__V1__AgentHealth hm = REACH__V1__AGENT_HEALTH__INIT;
	Reach__V1__Report rep = REACH__V1__REPORT__INIT;
	Reach__V1__AgentHealth__EventsByKindEntry *ev = calloc(in->n_events_by_kind + 1, sizeof(*ev));
	Reach__V1__AgentHealth__LossesByKindEntry *lo = calloc(in->n_losses_by_kind + 1, sizeof(*lo));
	Reach__V1__AgentHealth__EventsByKindEntry **ev_ptrs = calloc(in->n_events_by_kind + 1, sizeof(*ev_ptrs));
	Reach__V1__AgentHealth__LossesByKindEntry **lo_ptrs = calloc(in->n_losses_by_kind + 1, sizeof(*lo_ptrs));
	struct header h;
	int rc = -ENOMEM;

	if (!ev || !lo || !ev_ptrs || !lo_ptrs)
		goto out;
	KV_ENTRIES(Reach__V1__AgentHealth__EventsByKindEntry, REACH__V1__AGENT_HEALTH__EVENTS_BY_KIND_ENTRY__INIT,
		   in->events_by_kind, in->n_events_by_kind, ev, ev_ptrs);
	KV_ENTRIES(Reach__V1__AgentHealth__LossesByKindEntry, REACH__V1__AGENT_HEALTH__LOSSES_BY_KIND_ENTRY__INIT,
		   in->losses_by_kind, in->n_losses_by_kind, lo, lo_ptrs);
	if ((rc = header_init(src, &h, NULL)))
		goto out;
	hm.header = &h.pb;
	hm.uptime_s = in->uptime_s;
	hm.n_events_by_kind = in->n_events_by_kind;
	hm.events_by_kind = ev_ptrs;
	hm.n_losses_by_kind = in->n_losses_by_kind;
	hm.losses_by_kind = lo_ptrs;
	hm.identities = in->identities;
	hm.edges = in->edges;
	hm.tls_blind_processes = in->tls_blind_processes;
	hm.hooks_missing = in->hooks_missing;
	hm.spool_depth = in->spool_depth;
	hm.reports_sent = in->reports_sent;
	hm.reports_failed = in->reports_failed;
	hm.reports_dropped = in->reports_dropped;
	hm.last_ship_unix_ms = in->last_ship_unix_ms;
	rep.body_case = REACH__V1__REPORT__BODY_HEALTH;
	rep.health = &hm;
	rc = pack_report(&rep, body, len);
out:
	free(ev);
	free(lo);
	free(ev_ptrs);
	free(lo_ptrs);
	return rc;
}
