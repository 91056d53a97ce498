/* The observation pipeline (pipeline.h): a raw ring-buffer record in, the
 * observed model, process tree, TLS coverage and DNS names updated. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "common/hmap.h"
#include "common/log.h"
#include "config/config.h"
#include "http/http_head.h"
#include "identity/identity.h"
#include "reach/catalog.h"
#include "reach/dns.h"
#include "reach/dnsnames.h"
#include "reach/netclass.h"
#include "reach/path.h"
#include "reach/proctree.h"
#include "reach/program.h"
#include "reach/redact.h"
#include "agent/pipeline.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An edge observed_add() could not record: the cap is counted and reported
 * at exit and in status, so only allocation failures are logged here. */
static void warn_unrecorded(const char *kind)
{
	if (errno != ENOSPC)
		log_warn("out of memory recording a %s edge", kind);
}

static void print_if_new(struct pipeline *p, uint64_t cgroup_id, const struct edge *e, bool is_new);
static struct edge *record_edge(struct pipeline *p, enum edge_kind kind, const struct observation *obs, bool *is_new);
static void note_root_exec(struct pipeline *p, uint64_t cgroup_id, const struct reach_exec_event *ev, const char *exe);

#define SECRET_CONTENT_MAX 8192

/* A secret file that holds a single token (a service-account token, an API
 * key file) is the credential itself: its keyed fingerprint, the same HMAC
 * the HTTP parser uses, links the read to the request that later sends it
 * (finding secret-sent). The content is read once, as the process sees the
 * file, hashed and wiped; it is never kept, logged or printed. */
static void fingerprint_secret_content(struct pipeline *p, uint32_t tgid, const char *abs, char out[17])
{
	char path[4200], buf[SECRET_CONTENT_MAX + 1];
	size_t len = 0;
	ssize_t n;
	int fd;

	out[0] = '\0';
	/* Only through the reader's own root: the agent's view of the same path
	 * (in a pod: the agent's own service-account token) is another file,
	 * and its fingerprint would link the wrong secret. A reader gone before
	 * the event is handled leaves no fingerprint, and is counted. */
	snprintf(path, sizeof(path), "/proc/%u/root%s", tgid, abs);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0) {
		p->stats.secret_content_unread++;
		return;
	}
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	close(fd);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	if (len >= 8 && len <= SECRET_CONTENT_MAX && !memchr(buf, '\n', len) && !memchr(buf, ' ', len) &&
	    !memchr(buf, '\0', len))
		fp_compute(&p->fp_key, buf, len, out);
	explicit_bzero(buf, sizeof(buf));
}

static void handle_file_open(struct pipeline *p, const struct reach_file_open_event *ev)
{
	char path[REACH_PATH_LEN], base[REACH_BASE_LEN], abs[REACH_PATH_LEN + REACH_BASE_LEN + 2];
	const char *category, *lineage[PROCTREE_LINEAGE_MAX];
	struct observation obs = { 0 };
	struct edge *e;
	bool is_new;

	memcpy(path, ev->path, sizeof(path));
	path[sizeof(path) - 1] = '\0';
	memcpy(base, ev->base, sizeof(base));
	base[sizeof(base) - 1] = '\0';
	if ((ev->flags & REACH_OPEN_F_RELATIVE) && (ev->flags & REACH_OPEN_F_BASE_FAIL)) {
		p->stats.path_errors++;
		return;
	}
	if (path_make_absolute((ev->flags & REACH_OPEN_F_RELATIVE) ? base : NULL, path, abs, sizeof(abs))) {
		p->stats.path_errors++;
		return;
	}
	if (p->tls)
		p->tls->on_open(p->tls_ctx, ev->hdr.tgid, abs, &ev->key); /* libssl/libgnutls being mapped */
	category = catalog_match(p->catalog, abs);
	if (!category) {
		p->stats.opens_not_secret++; /* neither stored nor printed */
		return;
	}
	obs.hdr = &ev->hdr;
	obs.key = &ev->key;
	obs.object = abs;
	obs.category = category;
	obs.open_flags = ev->open_flags;
	obs.new_map_entry = true;
	obs.requested_path = path;
	obs.exe = proctree_exe(p->procs, ev->hdr.tgid);
	obs.n_lineage = proctree_lineage(p->procs, ev->hdr.tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	e = record_edge(p, EDGE_SECRET, &obs, &is_new);
	if (!e) {
		warn_unrecorded("secret");
		return;
	}
	if (is_new) {
		char fp[17] = "";

		fingerprint_secret_content(p, ev->hdr.tgid, abs, fp);
		if (fp[0] && observed_set_content_fp(p->observed, e, fp))
			log_warn("secret content fingerprint of %s not kept: out of memory", abs);
	}
	print_if_new(p, ev->hdr.cgroup_id, e, is_new);
}

static void handle_exec(struct pipeline *p, const struct reach_exec_event *ev)
{
	char filename[REACH_PATH_LEN], args[REACH_ARGS_LEN + 1], redacted[EDGE_MAX_ARGS][REACH_ARGS_LEN + 16];
	const char *argv[EDGE_MAX_ARGS], *lineage[PROCTREE_LINEAGE_MAX], *prev = NULL;
	struct observation obs = { 0 };
	size_t argc = 0, len = ev->args_len < REACH_ARGS_LEN ? ev->args_len : REACH_ARGS_LEN;
	bool truncated = ev->flags & REACH_EXEC_F_ARGS_TRUNC, is_new;
	struct edge *e;

	memcpy(filename, ev->filename, sizeof(filename));
	filename[sizeof(filename) - 1] = '\0';
	memcpy(args, ev->args, len);
	args[len] = '\0';
	for (size_t off = 0; off < len;) {
		const char *arg = args + off;

		if (argc == EDGE_MAX_ARGS) {
			truncated = true;
			break;
		}
		redact_arg(prev, arg, redacted[argc], sizeof(redacted[argc]));
		argv[argc] = redacted[argc];
		argc++;
		prev = arg;
		off += strlen(arg) + 1;
	}
	/* a root process of its cgroup (its parent is elsewhere): its executable
	 * is the workload's software version (host epochs) */
	if (!proctree_in_cgroup(p->procs, ev->hdr.ppid, ev->hdr.cgroup_id))
		note_root_exec(p, ev->hdr.cgroup_id, ev, filename);
	proctree_exec(p->procs, ev->hdr.tgid, ev->hdr.ppid, ev->hdr.cgroup_id, filename);
	if (p->tls)
		p->tls->on_exec(p->tls_ctx, ev->hdr.tgid, filename);

	obs.hdr = &ev->hdr;
	obs.key = &ev->key;
	obs.object = filename;
	obs.exe = filename;
	obs.argv = argv;
	obs.argc = argc;
	obs.argv_truncated = truncated;
	obs.n_lineage = proctree_lineage(p->procs, ev->hdr.tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	e = record_edge(p, EDGE_TOOL, &obs, &is_new);
	if (!e)
		warn_unrecorded("tool");
	else
		print_if_new(p, ev->hdr.cgroup_id, e, is_new);
}

static void print_if_new(struct pipeline *p, uint64_t cgroup_id, const struct edge *e, bool is_new)
{
	const struct cgroup_reach *c;

	if (!is_new || !p->events_out)
		return;
	c = observed_cgroup(p->observed, cgroup_id);
	if (c)
		output_edge_json(p->events_out, c, e);
}

/* Ports where an established connection means TLS is being spoken. */
static bool is_tls_port(uint16_t port)
{
	return port == 443 || port == 8443 || port == 6443 || port == 9443;
}

/* Which TLS library a process uses and whether reach sees its plaintext:
 * one edge per (cgroup, executable), "covered" or "blind" with the reason. */
static void record_tls_coverage(struct pipeline *p, const struct reach_event_hdr *hdr, const struct reach_dedup_key *key,
				const char *library)
{
	const char *why = NULL, *lineage[PROCTREE_LINEAGE_MAX];
	struct observation obs = { 0 };
	const char *exe = proctree_exe(p->procs, hdr->tgid);
	bool is_new;
	struct edge *e;

	if (!library)
		library = p->tls->library(p->tls_ctx, hdr->tgid, &why);
	obs.hdr = hdr;
	obs.key = key;
	obs.object = exe[0] ? exe : hdr->comm;
	obs.exe = exe;
	obs.category = library ? library : "none";
	obs.dest_class = library ? "covered" : "tls-blind";
	obs.detail = why;
	obs.n_lineage = proctree_lineage(p->procs, hdr->tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	e = record_edge(p, EDGE_TLS, &obs, &is_new);
	if (e && is_new && !library) {
		p->tls_blind_edges++; /* an edge's class is fixed when it is made */
		log_warn("tls-blind: %s (pid %u) speaks TLS through %s", obs.object, hdr->tgid, why);
	}
	print_if_new(p, hdr->cgroup_id, e, is_new);
}

static void handle_egress(struct pipeline *p, const struct reach_egress_event *ev)
{
	const char *lineage[PROCTREE_LINEAGE_MAX];
	char address[64], object[96];
	struct observation obs = { 0 };
	struct netaddr addr;
	uint32_t ttl = 0;
	const char *name;
	struct edge *e;
	bool is_new;

	if ((ev->family != REACH_AF_INET && ev->family != REACH_AF_INET6) ||
	    (ev->proto != REACH_PROTO_TCP && ev->proto != REACH_PROTO_UDP) || ev->outcome >= REACH_OUT__MAX) {
		p->stats.malformed_events++;
		return;
	}
	netaddr_from_raw(&addr, ev->family, ev->daddr); /* v4-mapped v6 becomes v4 */
	netaddr_format(&addr, address, sizeof(address));
	snprintf(object, sizeof(object), "%s/%s/%u", ev->proto == REACH_PROTO_TCP ? "tcp" : "udp", address, ev->dport);
	name = dnsnames_get(p->dns, ev->hdr.cgroup_id, &addr, &ttl);

	obs.hdr = &ev->hdr;
	obs.key = &ev->key;
	obs.object = object;
	obs.exe = proctree_exe(p->procs, ev->hdr.tgid);
	obs.n_lineage = proctree_lineage(p->procs, ev->hdr.tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	obs.proto = ev->proto;
	obs.port = ev->dport;
	obs.source_port = ev->sport;
	obs.address = address;
	obs.name = name;
	obs.name_ttl = ttl;
	obs.dest_class = netclass_classify(p->netclass, &addr, ev->dport, name);
	obs.tag = ev->outcome;
	obs.new_map_entry = true;
	e = record_edge(p, EDGE_EGRESS, &obs, &is_new);
	if (!e)
		warn_unrecorded("egress");
	else
		print_if_new(p, ev->hdr.cgroup_id, e, is_new);
	if (p->tls && ev->proto == REACH_PROTO_TCP && ev->outcome == REACH_OUT_ESTABLISHED && is_tls_port(ev->dport))
		record_tls_coverage(p, &ev->hdr, &ev->key, NULL);
}

static const char *http_source_name(uint8_t source)
{
	return source == REACH_HTTP_OPENSSL ? "openssl" : source == REACH_HTTP_GNUTLS ? "gnutls" : "plaintext";
}

/* One credential-bearing request: an edge per credential it carried. */
static void record_credential(struct pipeline *p, const struct reach_http_event *ev, const struct http_request_head *h,
			      const struct http_credential *c, const char *host, uint16_t port)
{
	const char *lineage[PROCTREE_LINEAGE_MAX];
	struct observation obs = { 0 };
	struct edge_credential cred = { 0 };
	char object[1600];
	bool is_new;
	struct edge *e;

	snprintf(cred.method, sizeof(cred.method), "%s", h->method);
	snprintf(cred.path_template, sizeof(cred.path_template), "%s", h->path_template);
	snprintf(cred.host, sizeof(cred.host), "%s", host);
	snprintf(cred.kind, sizeof(cred.kind), "%s", c ? c->kind : "none");
	snprintf(cred.where, sizeof(cred.where), "%s", c ? c->where : "");
	snprintf(cred.fingerprint, sizeof(cred.fingerprint), "%s", c ? c->fingerprint : "");
	snprintf(cred.jwt_iss, sizeof(cred.jwt_iss), "%s", c ? c->jwt_iss : "");
	snprintf(cred.jwt_aud, sizeof(cred.jwt_aud), "%s", c ? c->jwt_aud : "");
	snprintf(cred.special, sizeof(cred.special), "%s", h->special);
	snprintf(cred.source, sizeof(cred.source), "%s", http_source_name(ev->source));
	/* edge key: host, method, path template, credential kind, fingerprint */
	snprintf(object, sizeof(object), "%s %s %s %s%s%s", host, h->method, h->path_template, cred.kind,
		 cred.fingerprint[0] ? " fp:" : "", cred.fingerprint);
	obs.hdr = &ev->hdr;
	obs.key = &ev->key;
	obs.object = object;
	obs.category = NULL;
	obs.exe = proctree_exe(p->procs, ev->hdr.tgid);
	obs.n_lineage = proctree_lineage(p->procs, ev->hdr.tgid, lineage, PROCTREE_LINEAGE_MAX);
	obs.lineage = lineage;
	obs.name = host;
	obs.port = port;
	obs.cred = &cred;
	obs.new_map_entry = true;
	e = record_edge(p, EDGE_CREDENTIAL, &obs, &is_new);
	if (!e)
		warn_unrecorded("credential");
	else
		print_if_new(p, ev->hdr.cgroup_id, e, is_new);
}

static void handle_http(struct pipeline *p, const struct reach_http_event *ev)
{
	uint8_t head[REACH_HTTP_LEN];
	size_t len = ev->len < REACH_HTTP_LEN ? ev->len : REACH_HTTP_LEN;
	struct http_request_head h;
	char host[300];
	uint16_t port = ev->dport;
	int rc;

	/* one private copy, parsed and wiped at once: credentials leave this
	 * function as keyed fingerprints only */
	memcpy(head, ev->payload, len);
	rc = http_parse_request_head(head, len, &p->fp_key, &h);
	explicit_bzero(head, sizeof(head));
	if (rc) {
		p->stats.http_malformed++; /* counted and skipped */
		return;
	}
	p->stats.http_requests++;
	if (h.truncated || h.path_truncated)
		p->stats.http_truncated++;
	p->stats.http_creds_dropped += h.creds_dropped; /* beyond HTTP_MAX_CREDS: counted, never silent */
	if (ev->source != REACH_HTTP_PLAINTEXT && p->tls)
		record_tls_coverage(p, &ev->hdr, &ev->key, http_source_name(ev->source));
	if (h.host[0]) {
		const char *colon = strrchr(h.host, ':');

		snprintf(host, sizeof(host), "%s", h.host);
		if (colon && !strchr(colon, ']'))
			port = (uint16_t)strtoul(colon + 1, NULL, 10);
		else if (!port)
			port = ev->source == REACH_HTTP_PLAINTEXT ? 80 : 443;
	} else if (ev->family) { /* no Host header: the connected destination */
		struct netaddr addr;

		netaddr_from_raw(&addr, ev->family, ev->daddr);
		netaddr_format(&addr, host, sizeof(host));
	} else {
		snprintf(host, sizeof(host), "?");
	}
	for (int i = 0; i < h.n_creds; i++)
		record_credential(p, ev, &h, &h.creds[i], host, port);
	if (!h.n_creds && h.special[0]) /* secrets/token APIs stand out even without a credential seen */
		record_credential(p, ev, &h, NULL, host, port);
	explicit_bzero(&h, sizeof(h));
}

static void handle_dns(struct pipeline *p, const struct reach_dns_event *ev)
{
	const uint8_t *msg = ev->payload;
	size_t len = ev->len < REACH_DNS_LEN ? ev->len : REACH_DNS_LEN;
	struct dns_response r;

	if (ev->flags & REACH_DNS_F_TCP) {
		/* TCP DNS: a 2-byte length prefix, then the message */
		if (len < 2) {
			p->stats.dns_malformed++;
			return;
		}
		msg += 2;
		len -= 2;
	}
	if (ev->flags & REACH_DNS_F_TRUNC) {
		p->stats.dns_truncated++;
		return; /* half a message would be a guess */
	}
	if (dns_parse_response(msg, len, &r)) {
		p->stats.dns_malformed++; /* counted and skipped */
		return;
	}
	p->stats.dns_responses++;
	for (size_t i = 0; i < r.n_answers; i++)
		dnsnames_put(p->dns, ev->hdr.cgroup_id, &r.answers[i].addr, r.qname, r.answers[i].ttl);
}

/* The smallest size of each kind of event: a shorter one is malformed
 * (counted, skipped) before any field past the header is read. */
static const size_t event_min_size[REACH_EV__MAX] = {
	[REACH_EV_FILE_OPEN] = sizeof(struct reach_file_open_event),
	[REACH_EV_EXEC] = sizeof(struct reach_exec_event),
	[REACH_EV_FORK] = sizeof(struct reach_fork_event),
	[REACH_EV_EXIT] = sizeof(struct reach_exit_event),
	[REACH_EV_EGRESS] = sizeof(struct reach_egress_event),
	[REACH_EV_DNS] = sizeof(struct reach_dns_event),
	[REACH_EV_HTTP] = sizeof(struct reach_http_event),
};

int pipeline_on_event(void *ctx, const void *data, size_t size)
{
	struct pipeline *p = ctx;
	const struct reach_event_hdr *hdr = data;

	if (size < sizeof(*hdr) || hdr->size > size || hdr->kind == 0 || hdr->kind >= REACH_EV__MAX ||
	    size < event_min_size[hdr->kind]) {
		p->stats.malformed_events++;
		return 0;
	}
	p->stats.events[hdr->kind]++;
	switch (hdr->kind) {
	case REACH_EV_FILE_OPEN:
		handle_file_open(p, data);
		break;
	case REACH_EV_EXEC:
		handle_exec(p, data);
		break;
	case REACH_EV_EGRESS:
		handle_egress(p, data);
		break;
	case REACH_EV_DNS:
		handle_dns(p, data);
		break;
	case REACH_EV_HTTP:
		handle_http(p, data);
		break;
	case REACH_EV_FORK:
		proctree_fork(p->procs, hdr->tgid, ((const struct reach_fork_event *)data)->child_tgid, hdr->cgroup_id);
		if (p->tls)
			p->tls->on_fork(p->tls_ctx, hdr->tgid, ((const struct reach_fork_event *)data)->child_tgid);
		break;
	case REACH_EV_EXIT:
		proctree_exit(p->procs, hdr->tgid);
		if (p->tls)
			p->tls->on_exit(p->tls_ctx, hdr->tgid);
		break;
	}
	return 0;
}


/* A host workload's software version: the executable its root process
 * runs. The same path backed by another file (a patched binary: new inode
 * or mtime) opens a new epoch; another tool run in the cgroup does not.
 * The file is the one the kernel exec'd (device, inode, mtime read at
 * exec): no stat afterwards, which would miss a process already gone or
 * see another namespace's file of the same path. Scripts are the
 * exception (the kernel holds their interpreter's file): those are
 * looked at through the process's root while it runs. */
struct exe_epoch {
	char path[256];
	uint64_t file_id;     /* hash of dev, inode, mtime */
	char epoch[300];      /* "<basename>@<file id>" */
};

/* One number for one file version, however its identity was learnt. */
static uint64_t exe_file_id(uint64_t dev, uint64_t ino, int64_t mtime_sec, uint64_t mtime_nsec)
{
	return (dev * 0x9e3779b97f4a7c15ULL) ^ (ino * 0x100000001b3ULL) ^ ((uint64_t)mtime_sec << 20) ^ mtime_nsec;
}

static void note_root_exec(struct pipeline *p, uint64_t cgroup_id, const struct reach_exec_event *ev, const char *exe)
{
	char key[24];
	struct exe_epoch *x;
	uint64_t id;
	const char *base = strrchr(exe, '/');
	char prog[256], hex[13] = "";
	size_t args_len = ev->args_len < REACH_ARGS_LEN ? ev->args_len : REACH_ARGS_LEN;

	if (!program_path(exe, (const char *)ev->args, args_len, prog, sizeof(prog))) {
		/* an interpreter: the program it runs is the version (reach/program.h),
		 * read through the process's root or working directory while it runs */
		char view[600];

		snprintf(view, sizeof(view), prog[0] == '/' ? "/proc/%u/root%s" : "/proc/%u/cwd/%s", ev->hdr.tgid, prog);
		if (program_hash(view, hex, sizeof(hex)) == 0) {
			exe = prog;
			base = strrchr(prog, '/');
		}
	}
	if (hex[0]) {
		id = strtoull(hex, NULL, 16);
	} else if (ev->exe_ino) {
		id = exe_file_id(ev->exe_dev, ev->exe_ino, ev->exe_mtime_sec, ev->exe_mtime_nsec);
	} else {
		/* a script (the kernel saw its interpreter's file): the script as
		 * the process sees it, while it still runs; gone, no epoch from
		 * another namespace's file of the same path */
		char view[4200];
		struct stat st;

		snprintf(view, sizeof(view), "/proc/%u/root%s", ev->hdr.tgid, exe);
		if (stat(view, &st) != 0)
			return;
		id = exe_file_id(st.st_dev, st.st_ino, st.st_mtim.tv_sec, (uint64_t)st.st_mtim.tv_nsec);
	}
	snprintf(key, sizeof(key), "%" PRIu64, cgroup_id);
	x = hmap_get(p->exe_epochs, key);
	if (x && (strcmp(x->path, exe) != 0 || x->file_id == id))
		return; /* another tool, or the same build */
	if (!x) {
		if (!(x = calloc(1, sizeof(*x))) || hmap_put(p->exe_epochs, key, x, NULL)) {
			free(x);
			return;
		}
		snprintf(x->path, sizeof(x->path), "%s", exe);
	} else {
		log_info("cgroup %" PRIu64 ": %s was replaced: a new epoch", cgroup_id, exe);
	}
	x->file_id = id;
	snprintf(x->epoch, sizeof(x->epoch), "%s@%012" PRIx64, base ? base + 1 : exe, (uint64_t)(id & 0xffffffffffffULL));
}

/* The epoch of an identity: a version a pipeline declared (reachctl epoch
 * start), else the image digest running (Kubernetes), else for host
 * workloads the executable of the cgroup's root process. */
static void apply_epoch(struct pipeline *p, struct identity *id, uint64_t cgroup_id)
{
	const char *version = hmap_get(p->epochs, id->name);
	struct exe_epoch *x;
	char key[24];

	if (version) {
		snprintf(id->image_id, sizeof(id->image_id), "%s", version);
		return;
	}
	if (id->image_id[0] || id->pod[0])
		return;
	snprintf(key, sizeof(key), "%" PRIu64, cgroup_id);
	x = hmap_get(p->exe_epochs, key);
	if (x)
		snprintf(id->image_id, sizeof(id->image_id), "%s", x->epoch);
}

/* Resolved identities are cached per (cgroup, uid); pending ones are asked
 * again every time, so they resolve as soon as the pod is known. */
int pipeline_resolve_identity(void *ctx, const struct cgroup_reach *c, uint32_t uid, struct identity *out)
{
	struct pipeline *p = ctx;
	char key[48];
	struct identity *cached;

	snprintf(key, sizeof(key), "%" PRIu64 "/%u", c->cgroup_id, uid);
	cached = hmap_get(p->identity_cache, key);
	if (cached) {
		*out = *cached;
		apply_epoch(p, out, c->cgroup_id); /* the epoch may have changed since */
		return 0;
	}
	identity_resolve(p->resolver, c->cgroup_id, c->path, uid, out);
	if (out->state == IDENTITY_RESOLVED) {
		/* cached as resolved, without the epoch: that is applied on each use */
		cached = malloc(sizeof(*cached));
		if (cached) {
			*cached = *out;
			if (hmap_put(p->identity_cache, key, cached, NULL))
				free(cached);
		}
	}
	apply_epoch(p, out, c->cgroup_id);
	return 0;
}

/* The observed model is full: a quarter of it, least recently seen first,
 * goes to the ledger alone (fed, then freed; their kernel dedup entries are
 * read a last time and deleted, so a later occurrence is an event and a new
 * edge again). Recency is as of the last periodic refresh (a second or so):
 * a fresh batch read of the whole map here cost as much as the rest of the
 * eviction, during the bursts that fill the model. Edges whose identity is
 * pending cannot go: when nothing can, the model stays full and new edges
 * are refused and counted (observed_edges_dropped) until the next feed
 * resolves something. */
static void make_room(struct pipeline *p)
{
	struct feed_stats st = { 0 };
	size_t want = p->observed_cap / 4 ? p->observed_cap / 4 : 1, got;
	double t0 = now_s();

	got = ledger_feed_evict(p->observed, p->ledger, pipeline_resolve_identity, p, p->boot_to_unix_ms, p->dedup->take,
				p->dedup_ctx, want, &st);
	/* ledger refusals are counted by the ledger itself (edges_dropped) */
	log_debug("observed model full: %zu edges moved to the ledger in %.1f ms", got, (now_s() - t0) * 1e3);
	if (!p->room_logged) {
		p->room_logged = true;
		log_info("observed model full (%zu edges): the least recently seen are kept in the ledger alone "
			 "(%zu moved now; status: observed_edges_evicted)", p->observed_cap, got);
	}
	if (!got)
		p->observed_stuck = true;
}

static struct edge *record_edge(struct pipeline *p, enum edge_kind kind, const struct observation *obs, bool *is_new)
{
	if (observed_edge_total(p->observed) >= p->observed_cap && !p->observed_stuck)
		make_room(p);
	return observed_add(p->observed, kind, obs, is_new);
}


/* Edge counts from the kernel's dedup map: one batch read, then every edge
 * looks itself up in the copy. */
void pipeline_refresh_counts(struct pipeline *p)
{
	int rc = p->dedup->snapshot ? p->dedup->snapshot(p->dedup_ctx) : 0;

	if (rc && !p->snapshot_warned) {
		p->snapshot_warned = true;
		log_warn("reading the dedup map in batches: %s (falling back to one lookup per edge)", strerror(-rc));
	}
	observed_refresh(p->observed, p->dedup->lookup, p->dedup_ctx);
}

void pipeline_feed_ledger(struct pipeline *p)
{
	ledger_feed(p->observed, p->ledger, pipeline_resolve_identity, p, p->boot_to_unix_ms, &p->feed);
}

int pipeline_set_epoch(struct pipeline *p, const char *identity, const char *version)
{
	char *copy = strdup(version);
	void *old = NULL;

	if (!copy || hmap_put(p->epochs, identity, copy, &old)) {
		free(copy);
		return -ENOMEM;
	}
	free(old);
	return 0;
}

int pipeline_init(struct pipeline *p, size_t observed_cap)
{
	struct timespec rt, bt;

	memset(p, 0, sizeof(*p));
	/* kernel timestamps are CLOCK_BOOTTIME: this turns them into Unix time */
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	p->boot_to_unix_ms = ((int64_t)rt.tv_sec - bt.tv_sec) * 1000 + (rt.tv_nsec - bt.tv_nsec) / 1000000;
	p->observed = observed_new();
	p->observed_cap = observed_cap ? observed_cap : OBSERVED_EDGES_DEFAULT;
	if (p->observed)
		observed_set_max_edges(p->observed, p->observed_cap);
	p->procs = proctree_new();
	p->dns = dnsnames_new();
	p->identity_cache = hmap_new();
	p->epochs = hmap_new();
	p->exe_epochs = hmap_new();
	if (!p->observed || !p->procs || !p->dns || !p->identity_cache || !p->epochs || !p->exe_epochs)
		return -ENOMEM;
	return 0;
}

void pipeline_fini(struct pipeline *p)
{
	hmap_free(p->identity_cache, free);
	hmap_free(p->epochs, free);
	hmap_free(p->exe_epochs, free);
	fp_key_wipe(&p->fp_key);
	proctree_free(p->procs);
	dnsnames_free(p->dns);
	observed_free(p->observed);
	p->identity_cache = p->epochs = p->exe_epochs = NULL;
	p->procs = NULL;
	p->dns = NULL;
	p->observed = NULL;
}

void pipeline_summary(struct pipeline *p, FILE *f, bool json)
{
	p->stats.dns_names_dropped = dnsnames_dropped(p->dns);
	p->stats.observed_edges_dropped = observed_edges_dropped(p->observed);
	p->stats.observed_edges_evicted = observed_edges_evicted(p->observed);
	if (p->stats.observed_edges_dropped)
		log_warn("%" PRIu64 " new edges were not recorded: %zu edges in memory and none of them could go "
			 "to the ledger (identities pending)", p->stats.observed_edges_dropped, p->observed_cap);
	if (json)
		output_summary_json(f, p->observed, &p->stats);
	else
		output_summary_text(f, p->observed, &p->stats);
	if (output_loss_total(&p->stats.losses, REACH_LOSS_RINGBUF_FULL))
		log_warn("%" PRIu64 " events lost because the ring buffer was full: raise --ringbuf-bytes",
			 output_loss_total(&p->stats.losses, REACH_LOSS_RINGBUF_FULL));
}
