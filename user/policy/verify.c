/* Observed reach vs declared policy: findings, epochs, verdicts, rotation
 * list (the rules are in verify.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/evp.h>

#include "common/hex.h"
#include "common/json.h"
#include "common/names.h"
#include "policy/policy_match.h"
#include "reach/coverage.h"
#include "reach/program.h"
#include "policy/verify.h"
#include "common/glob.h"

/* ---- small helpers ------------------------------------------------------- */

static void fmt(char *dst, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *dst, size_t n, const char *f, ...)
{
	va_list ap;

	if (!n)
		return;
	va_start(ap, f);
	vsnprintf(dst, n, f, ap);
	va_end(ap);
}

static const char *s_or(const char *s) { return s ? s : ""; }

static void format_time(int64_t ms, char *out, size_t n)
{
	time_t sec;
	struct tm tm;

	if (!ms) {
		fmt(out, n, "unknown");
		return;
	}
	sec = (time_t)(ms / 1000);
	if (!gmtime_r(&sec, &tm)) {
		fmt(out, n, "%lld", (long long)ms);
		return;
	}
	fmt(out, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

const char *finding_kind_name(enum finding_kind k)
{
	static const char *const names[FINDING__MAX] = {
		[FINDING_UNDECLARED_SECRET] = "undeclared-secret",
		[FINDING_UNDECLARED_EGRESS] = "undeclared-egress",
		[FINDING_UNDECLARED_CREDENTIAL] = "undeclared-credential-use",
		[FINDING_UNUSUAL_TOOL] = "unusual-tool",
		[FINDING_CLOUD_METADATA_ACCESS] = "cloud-metadata-access",
		[FINDING_APISERVER_SECRET_READ] = "apiserver-secret-read",
		[FINDING_EXCEPTION_EXPIRED] = "exception-expired",
		[FINDING_REACH_GREW] = "reach-grew",
		[FINDING_REACH_SHRANK] = "reach-shrank",
		[FINDING_UNUSED_DECLARED] = "unused-declared",
		[FINDING_SECRET_SENT] = "secret-sent",
		[FINDING_SENSOR_BLIND] = "sensor-blind",
		[FINDING_UNUSUAL_MCP_TOOL] = "unusual-mcp-tool",
		[FINDING_UNDECLARED_LLM_MODEL] = "undeclared-llm-model",
	};

	return (unsigned)k < FINDING__MAX ? names[k] : "unknown";
}

static const char *const severity_names[] = { "info", "low", "medium", "high", "critical" };

const char *severity_name(enum severity s)
{
	return (unsigned)s <= SEV_CRITICAL ? severity_names[s] : "unknown";
}

int severity_from_name(const char *name)
{
	for (int i = 0; name && i <= SEV_CRITICAL; i++)
		if (!strcmp(name, severity_names[i]))
			return i;
	return -1;
}

const char *verdict_name(enum verdict v)
{
	switch (v) {
	case VERDICT_PASS: return "pass";
	case VERDICT_FAIL: return "fail";
	case VERDICT_INCONCLUSIVE: return "inconclusive";
	}
	return "unknown";
}

static const char *rule_type_name(enum policy_rule_type t)
{
	switch (t) {
	case POLICY_SECRET: return "secret";
	case POLICY_EGRESS: return "egress";
	case POLICY_CREDENTIAL: return "credential";
	case POLICY_TOOL: return "tool";
	case POLICY_MCP: return "mcp";
	case POLICY_LLM: return "llm";
	}
	return "unknown";
}

static enum ledger_kind rule_ledger_kind(enum policy_rule_type t)
{
	switch (t) {
	case POLICY_SECRET: return LEDGER_SECRET;
	case POLICY_EGRESS: return LEDGER_EGRESS;
	case POLICY_CREDENTIAL: return LEDGER_CREDENTIAL;
	case POLICY_TOOL: return LEDGER_TOOL;
	case POLICY_MCP: return LEDGER_MCP_TOOL;
	case POLICY_LLM: return LEDGER_LLM;
	}
	return LEDGER_KIND_UNSPECIFIED;
}

/* Appends s to buf (size n) at *len, never past the end. */
static void append(char *buf, size_t n, size_t *len, const char *s)
{
	size_t l = strlen(s);

	if (*len + 1 >= n)
		return;
	if (l > n - 1 - *len)
		l = n - 1 - *len;
	memcpy(buf + *len, s, l);
	*len += l;
	buf[*len] = '\0';
}

/* "a,b,c" from count fixed-size strings stride bytes apart, or "any". */
static void append_list(char *out, size_t n, size_t *len, const char *first, size_t stride, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (i)
			append(out, n, len, ",");
		append(out, n, len, first + i * stride);
	}
	if (!count)
		append(out, n, len, "any");
}

void policy_rule_describe(const struct policy_rule *r, char *out, size_t n)
{
	size_t len = 0;
	char tmp[300];

	if (!n)
		return;
	out[0] = '\0';
	switch (r->type) {
	case POLICY_SECRET:
	case POLICY_TOOL:
		append(out, n, &len, r->glob);
		return;
	case POLICY_EGRESS:
		if (r->egress.has_cidr) {
			char a[64];

			netaddr_format(&r->egress.cidr.net, a, sizeof(a));
			fmt(tmp, sizeof(tmp), "cidr=%s/%u", a, r->egress.cidr.prefix);
		} else {
			fmt(tmp, sizeof(tmp), "host=%s", r->egress.host);
		}
		append(out, n, &len, tmp);
		append(out, n, &len, " ports=");
		for (size_t i = 0; i < r->egress.n_ports; i++) {
			fmt(tmp, sizeof(tmp), "%s%u", i ? "," : "", r->egress.ports[i]);
			append(out, n, &len, tmp);
		}
		if (!r->egress.n_ports)
			append(out, n, &len, "any");
		append(out, n, &len, " proto=");
		append(out, n, &len, r->egress.proto[0] ? r->egress.proto : "any");
		return;
	case POLICY_CREDENTIAL:
		append(out, n, &len, "host=");
		append(out, n, &len, r->credential.host);
		append(out, n, &len, " kinds=");
		append_list(out, n, &len, r->credential.kinds[0], sizeof(r->credential.kinds[0]), r->credential.n_kinds);
		append(out, n, &len, " paths=");
		append_list(out, n, &len, r->credential.paths[0], sizeof(r->credential.paths[0]), r->credential.n_paths);
		append(out, n, &len, " fingerprints=");
		append_list(out, n, &len, r->credential.fingerprints[0], sizeof(r->credential.fingerprints[0]),
			    r->credential.n_fingerprints);
		return;
	case POLICY_MCP:
		append(out, n, &len, "server=");
		append(out, n, &len, r->mcp.server);
		append(out, n, &len, " tools=");
		append_list(out, n, &len, r->mcp.tools[0], sizeof(r->mcp.tools[0]), r->mcp.n_tools);
		return;
	case POLICY_LLM:
		append(out, n, &len, "provider=");
		append(out, n, &len, r->llm.provider);
		append(out, n, &len, " host=");
		append(out, n, &len, r->llm.host[0] ? r->llm.host : "*");
		append(out, n, &len, " models=");
		append_list(out, n, &len, r->llm.models[0], sizeof(r->llm.models[0]), r->llm.n_models);
		return;
	}
}

/* ---- edge objects ---------------------------------------------------------- */

int egress_object_parse(const char *object, char *proto, struct netaddr *addr, uint16_t *port)
{
	const char *s1, *s2;
	char a[64], *end;
	unsigned long v;
	size_t l;

	if (!object || !proto || !addr || !port)
		return -EINVAL;
	if (!(s1 = strchr(object, '/')) || !(s2 = strrchr(object, '/')) || s2 == s1)
		return -EINVAL;
	if ((size_t)(s1 - object) >= 8 || (l = (size_t)(s2 - s1 - 1)) >= sizeof(a) || !l)
		return -EINVAL;
	memcpy(a, s1 + 1, l);
	a[l] = '\0';
	errno = 0;
	v = strtoul(s2 + 1, &end, 10);
	if (errno || *end || end == s2 + 1 || v > 65535)
		return -EINVAL;
	if (netaddr_parse(a, addr))
		return -EINVAL;
	memcpy(proto, object, (size_t)(s1 - object));
	proto[s1 - object] = '\0';
	*port = (uint16_t)v;
	return 0;
}

/* ---- matching -------------------------------------------------------------- */

struct edge_view {
	const struct ledger_edge *e;
	/* egress */
	char proto[8];
	struct netaddr addr;
	uint16_t port;
	/* credential */
	struct credential_object cred;
	const char *cred_host, *cred_kind;
	char host_noport[256];
	/* verification state */
	bool current, grew, shrank;
};

static void edge_view_init(struct edge_view *v, const struct ledger_edge *e)
{
	memset(v, 0, sizeof(*v));
	v->e = e;
	if (e->kind == LEDGER_EGRESS) {
		char proto[8] = "";
		uint16_t port = 0;

		if (egress_object_parse(e->object, proto, &v->addr, &port))
			memset(&v->addr, 0, sizeof(v->addr));
		fmt(v->proto, sizeof(v->proto), "%s", e->proto && e->proto[0] ? e->proto : proto);
		v->port = e->port ? (uint16_t)e->port : port;
	} else if (e->kind == LEDGER_CREDENTIAL) {
		credential_object_parse(e->object, &v->cred); /* best effort: fields stay "" */
		v->cred_host = e->name && e->name[0] ? e->name : v->cred.host;
		v->cred_kind = e->category && e->category[0] ? e->category : v->cred.kind;
		host_without_port(v->cred_host, v->host_noport, sizeof(v->host_noport));
	}
}

/* A tool is "exe" or, for an interpreter, "exe program"
 * (reach/program.h): a rule naming the executable alone ("/usr/bin/node")
 * allows every program it runs; "/usr/bin/node server-*" only those. */
static bool tool_matches(const char *glob, const char *object)
{
	const char *sp = strrchr(object, ' '); /* a program name has no space */
	char exe[512];

	if (glob_match(glob, object))
		return true;
	if (!sp || (size_t)(sp - object) >= sizeof(exe))
		return false;
	memcpy(exe, object, (size_t)(sp - object));
	exe[sp - object] = '\0';
	/* only an interpreter's tool has a program part */
	return program_is_interpreter(exe) && glob_match(glob, exe);
}

static bool rule_matches(const struct policy_rule *r, const struct edge_view *v)
{
	const struct ledger_edge *e = v->e;

	if (rule_ledger_kind(r->type) != e->kind)
		return false;
	switch (r->type) {
	case POLICY_SECRET:
		return glob_match(r->glob, e->object);
	case POLICY_TOOL:
		return tool_matches(r->glob, e->object);
	case POLICY_EGRESS:
		return policy_egress_matches(&r->egress, v->proto, &v->addr, s_or(e->name), v->port);
	case POLICY_CREDENTIAL:
		return policy_credential_matches(&r->credential, v->host_noport, v->cred_kind, v->cred.path_template,
						 v->cred.fingerprint);
	case POLICY_MCP:
		/* name: the server (its program), category: the tool */
		if (!glob_match(r->mcp.server, e->name))
			return false;
		for (size_t i = 0; i < r->mcp.n_tools; i++)
			if (glob_match(r->mcp.tools[i], e->category))
				return true;
		return r->mcp.n_tools == 0;
	case POLICY_LLM:
		/* category: the provider, name: the host, dest_class: the model */
		if (!glob_match(r->llm.provider, e->category) || (r->llm.host[0] && !glob_match(r->llm.host, e->name)))
			return false;
		if (!r->llm.n_models)
			return true;
		if (!strcmp(e->dest_class, "?"))
			return false; /* a model not read is allowed only by a rule for every model */
		for (size_t i = 0; i < r->llm.n_models; i++)
			if (glob_match(r->llm.models[i], e->dest_class))
				return true;
		return false;
	}
	return false;
}

/* Does a matching rule cover a special destination on purpose? */
static bool rule_explicit(const struct policy_rule *r)
{
	if (r->type == POLICY_EGRESS) {
		if (r->egress.has_cidr)
			return r->egress.cidr.prefix >= (r->egress.cidr.net.family == 4 ? 16 : 64);
		return r->egress.host[0] && !strchr(r->egress.host, '*');
	}
	if (r->type == POLICY_CREDENTIAL)
		return r->credential.n_paths > 0;
	return true;
}

static bool exception_expired(const struct policy_exception *x, int64_t now)
{
	return x->expires_unix_ms > 0 && x->expires_unix_ms < now;
}

struct cover {
	bool covered;                         /* by a rule or an unexpired exception */
	bool explicit_;                       /* ... explicitly (special destinations) */
	const struct policy_rule *rule;       /* the (first explicit) rule */
	const struct policy_exception *exc;   /* or exception */
	const struct policy_exception *expired; /* an expired exception that matches */
};

static void cover_of(const struct reach_policy *p, const struct edge_view *v, int64_t now, struct cover *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct policy_rule *r = &p->rules[i];

		if (!rule_matches(r, v))
			continue;
		if (!c->covered || (!c->explicit_ && rule_explicit(r))) {
			c->rule = r;
			c->exc = NULL;
			c->explicit_ = rule_explicit(r);
		}
		c->covered = true;
	}
	for (size_t i = 0; i < p->n_exceptions; i++) {
		const struct policy_exception *x = &p->exceptions[i];

		if (!rule_matches(&x->rule, v))
			continue;
		if (exception_expired(x, now)) {
			if (!c->expired)
				c->expired = x;
			continue;
		}
		if (!c->covered || (!c->explicit_ && rule_explicit(&x->rule))) {
			c->rule = NULL;
			c->exc = x;
			c->explicit_ = rule_explicit(&x->rule);
		}
		c->covered = true;
	}
}

/* ---- result building ------------------------------------------------------- */

/* A finding while one identity is judged: every field at its bound, so
 * the code that writes it can format in place. Kept (finding_keep()) in the
 * result's compact form once the identity is done. */
struct finding_draft {
	enum finding_kind kind;
	enum severity severity;
	char id[17];
	char identity[512];
	char edge_kind[16];
	char object[1024];
	int64_t first_ms, last_ms;
	char executables[256];
	char message[512];
	char policy_ref[300];
};

/* The result's strings: chunks that never move, so the findings' pointers
 * stay valid while the findings array grows. */
struct finding_text {
	struct finding_text *next;
	size_t used, cap;
	char data[];
};

#define FINDING_TEXT_CHUNK (64 * 1024)

struct builder {
	struct verify_result *r;
	size_t cap_findings, cap_verdicts;
	struct finding_draft *drafts; /* the identity being judged */
	size_t n_drafts, cap_drafts;
	struct coverage own; /* the identity's judged coverage (~6 KiB: not on the stack) */
	int err;
	bool epoch_found; /* an identity had the epoch asked for */
};

static struct finding_draft *new_finding(struct builder *b)
{
	struct finding_draft *f;

	if (b->err)
		return NULL;
	if (b->n_drafts == b->cap_drafts) {
		size_t cap = b->cap_drafts ? b->cap_drafts * 2 : 16;
		struct finding_draft *nf = realloc(b->drafts, cap * sizeof(*nf));

		if (!nf) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->drafts = nf;
		b->cap_drafts = cap;
	}
	f = &b->drafts[b->n_drafts++];
	memset(f, 0, sizeof(*f));
	return f;
}

/* A copy of s in r's text, or NULL on allocation failure. */
static const char *text_copy(struct verify_result *r, const char *s)
{
	size_t len = strlen(s) + 1;
	struct finding_text *t = r->text;

	if (!t || t->cap - t->used < len) {
		size_t cap = len > FINDING_TEXT_CHUNK ? len : FINDING_TEXT_CHUNK;

		if (!(t = malloc(sizeof(*t) + cap)))
			return NULL;
		t->next = r->text;
		t->used = 0;
		t->cap = cap;
		r->text = t;
	}
	memcpy(t->data + t->used, s, len);
	t->used += len;
	return t->data + t->used - len;
}

/* Moves the identity's drafts into the result, compact. */
static int finding_keep(struct builder *b)
{
	struct verify_result *r = b->r;

	for (size_t i = 0; i < b->n_drafts; i++) {
		const struct finding_draft *d = &b->drafts[i];
		struct finding *f;

		if (r->n_findings == b->cap_findings) {
			size_t cap = b->cap_findings ? b->cap_findings * 2 : 16;
			struct finding *nf = realloc(r->findings, cap * sizeof(*nf));

			if (!nf)
				return b->err = -ENOMEM;
			r->findings = nf;
			b->cap_findings = cap;
		}
		f = &r->findings[r->n_findings];
		memset(f, 0, sizeof(*f));
		f->kind = d->kind;
		f->severity = d->severity;
		memcpy(f->id, d->id, sizeof(f->id));
		f->first_ms = d->first_ms;
		f->last_ms = d->last_ms;
		if (!(f->identity = text_copy(r, d->identity)) || !(f->edge_kind = text_copy(r, d->edge_kind)) ||
		    !(f->object = text_copy(r, d->object)) || !(f->executables = text_copy(r, d->executables)) ||
		    !(f->message = text_copy(r, d->message)) || !(f->policy_ref = text_copy(r, d->policy_ref)))
			return b->err = -ENOMEM;
		r->n_findings++;
	}
	b->n_drafts = 0;
	return 0;
}

struct finding *finding_dup(const struct finding *f)
{
	const char *src[6] = { f->identity, f->edge_kind, f->object, f->executables, f->message, f->policy_ref };
	size_t len[6], total = sizeof(*f);
	struct finding *c;
	char *at;

	for (int i = 0; i < 6; i++)
		total += (len[i] = strlen(src[i] ? src[i] : "") + 1);
	if (!(c = malloc(total)))
		return NULL;
	*c = *f;
	at = (char *)(c + 1);
	for (int i = 0; i < 6; i++) {
		memcpy(at, src[i] ? src[i] : "", len[i]);
		src[i] = at;
		at += len[i];
	}
	c->identity = src[0];
	c->edge_kind = src[1];
	c->object = src[2];
	c->executables = src[3];
	c->message = src[4];
	c->policy_ref = src[5];
	return c;
}

/* SHA-256 of kind, identity, edge kind, object (NUL separated), first 8
 * bytes in hex. A keyed-free cryptographic hash: nobody can craft an edge
 * whose id collides with an acknowledged finding's. -ENOMEM when libcrypto
 * cannot run (never a different, unstable id). */
static int finding_id(struct finding_draft *f)
{
	const char *parts[4] = { finding_kind_name(f->kind), f->identity, f->edge_kind, f->object };
	char buf[32 + sizeof(f->identity) + sizeof(f->edge_kind) + sizeof(f->object)];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t len = 0;

	for (int i = 0; i < 4; i++) {
		size_t l = strlen(parts[i]) + (i < 3); /* the NUL separates */

		memcpy(buf + len, parts[i], l);
		len += l;
	}
	if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) || mdlen < 8)
		return -ENOMEM;
	hex_encode(md, 8, f->id);
	return 0;
}

static void join_executables(const struct ledger_edge *e, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < e->executables->n; i++) {
		size_t need = strlen(e->executables->v[i]) + (i ? 1 : 0);
		size_t rest = e->executables->n - i;
		char more[32];

		fmt(more, sizeof(more), "%s+%zu", i ? "," : "", rest);
		/* keep room for "+N" when later values would not fit */
		if (len + need + (rest > 1 ? strlen(more) : 0) >= n) {
			append(out, n, &len, more);
			return;
		}
		if (i)
			append(out, n, &len, ",");
		append(out, n, &len, e->executables->v[i]);
	}
}

/* The line of the spec list that judges an edge of kind k. */
static int list_line_of(const struct reach_policy *p, enum ledger_kind k)
{
	int t = k == LEDGER_SECRET ? POLICY_SECRET : k == LEDGER_EGRESS ? POLICY_EGRESS
		: k == LEDGER_CREDENTIAL ? POLICY_CREDENTIAL : k == LEDGER_TOOL ? POLICY_TOOL
		: k == LEDGER_MCP_TOOL ? POLICY_MCP : k == LEDGER_LLM ? POLICY_LLM : -1;

	return t >= 0 && p->list_line[t] ? p->list_line[t] : p->line;
}

static void policy_ref_of(char *out, size_t n, const struct reach_policy *p, int line)
{
	if (!p)
		out[0] = '\0';
	else
		fmt(out, n, "%s:%d", p->file, line);
}

static struct finding_draft *edge_finding(struct builder *b, enum finding_kind kind, enum severity sev, const char *identity,
				    const struct ledger_edge *e)
{
	struct finding_draft *f = new_finding(b);

	if (!f)
		return NULL;
	f->kind = kind;
	f->severity = sev;
	fmt(f->identity, sizeof(f->identity), "%s", identity);
	fmt(f->edge_kind, sizeof(f->edge_kind), "%s", ledger_kind_name(e->kind));
	fmt(f->object, sizeof(f->object), "%s", e->object);
	f->first_ms = e->first_ms;
	f->last_ms = e->last_ms;
	join_executables(e, f->executables, sizeof(f->executables));
	if (finding_id(f)) {
		b->n_drafts--;
		b->err = -ENOMEM;
		return NULL;
	}
	return f;
}

/* The sensor's own blindness, as a finding of every judged identity: loss
 * is what an attacker flooding events to hide would cause. */
static struct finding_draft *sensor_finding(struct builder *b, const char *identity, const char *object)
{
	struct finding_draft *f = new_finding(b);

	if (!f)
		return NULL;
	f->kind = FINDING_SENSOR_BLIND;
	f->severity = SEV_HIGH;
	fmt(f->identity, sizeof(f->identity), "%s", identity);
	fmt(f->edge_kind, sizeof(f->edge_kind), "%s", "sensor");
	fmt(f->object, sizeof(f->object), "%s", object);
	if (finding_id(f)) {
		b->n_drafts--;
		b->err = -ENOMEM;
		return NULL;
	}
	return f;
}

static struct finding_draft *rule_finding(struct builder *b, enum finding_kind kind, enum severity sev, const char *identity,
				    const struct reach_policy *p, const struct policy_rule *r, int line)
{
	struct finding_draft *f = new_finding(b);

	if (!f)
		return NULL;
	f->kind = kind;
	f->severity = sev;
	fmt(f->identity, sizeof(f->identity), "%s", identity);
	fmt(f->edge_kind, sizeof(f->edge_kind), "%s", rule_type_name(r->type));
	policy_rule_describe(r, f->object, sizeof(f->object));
	policy_ref_of(f->policy_ref, sizeof(f->policy_ref), p, line);
	if (finding_id(f)) {
		b->n_drafts--;
		b->err = -ENOMEM;
		return NULL;
	}
	return f;
}

static bool high_secret_category(const char *c)
{
	static const char *const high[] = { "k8s-sa-token", "kubeconfig", "aws-credentials", "gcp-credentials",
					    "azure-credentials" };

	for (size_t i = 0; c && i < sizeof(high) / sizeof(high[0]); i++)
		if (!strcmp(c, high[i]))
			return true;
	return false;
}

static const char *spec_list(enum ledger_kind k)
{
	switch (k) {
	case LEDGER_SECRET: return "spec.secrets";
	case LEDGER_EGRESS: return "spec.egress";
	case LEDGER_CREDENTIAL: return "spec.credentials";
	case LEDGER_TOOL: return "spec.tools";
	case LEDGER_MCP_TOOL: return "spec.mcp";
	case LEDGER_LLM: return "spec.llm";
	default: return "spec";
	}
}

/* ---- epochs ---------------------------------------------------------------- */

/* One epoch of an identity and when it began: the earliest sighting of any
 * of its edges in it. */
struct epoch_at {
	const char *name;
	int64_t start;
};

static int cmp_epoch_at(const void *a, const void *b)
{
	const struct epoch_at *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The identity's epochs in the order they began, from its edges' epoch
 * lists (ledger.h); *out malloc'ed (NULL when none). */
static size_t epoch_history(const struct ledger_identity *id, struct epoch_at **out)
{
	struct epoch_at *h = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	for (size_t i = 0; id && i < id->n_edges; i++) {
		const struct ledger_edge *e = id->edges[i];

		if (e->kind == LEDGER_DNS)
			continue;
		for (size_t k = 0; k < e->n_epochs; k++) {
			int64_t t = e->epoch_first_ms[k];
			size_t j;

			for (j = 0; j < n && strcmp(h[j].name, e->epoch_names[k]); j++)
				;
			if (j < n) {
				if (t && (!h[j].start || t < h[j].start))
					h[j].start = t;
				continue;
			}
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 8;
				struct epoch_at *nh = realloc(h, nc * sizeof(*nh));

				if (!nh)
					break; /* no memory: the epochs found so far */
				h = nh;
				cap = nc;
			}
			h[n++] = (struct epoch_at){ e->epoch_names[k], t };
		}
	}
	if (n)
		qsort(h, n, sizeof(*h), cmp_epoch_at);
	*out = h;
	return n;
}

static size_t epoch_index(const struct epoch_at *h, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n && strcmp(h[i].name, name); i++)
		;
	return i;
}

/* The current epoch: the most common non-empty last_epoch among the edges
 * last seen in the latest 10 % of the identity's observed span (ties: the
 * one seen last, then strcmp); "" when no edge has one. */
static const char *find_current_epoch(const struct ledger_identity *id)
{
	int64_t tmin = 0, tmax = 0, start;
	struct {
		const char *epoch;
		size_t n;
		int64_t last;
	} *ec;
	size_t nec = 0, best = (size_t)-1;
	const char *current = "";

	if (!id || !id->n_edges)
		return "";
	for (size_t i = 0; i < id->n_edges; i++) {
		const struct ledger_edge *e = id->edges[i];

		if (e->kind == LEDGER_DNS)
			continue;
		if (e->last_ms && e->last_ms > tmax)
			tmax = e->last_ms;
		if (e->first_ms && (!tmin || e->first_ms < tmin))
			tmin = e->first_ms;
	}
	start = tmax && tmin ? tmax - (tmax - tmin) / 10 : INT64_MIN;
	if (!(ec = calloc(id->n_edges, sizeof(*ec))))
		return ""; /* no epochs: judged as one window */
	for (size_t i = 0; i < id->n_edges; i++) {
		const struct ledger_edge *e = id->edges[i];
		size_t j;

		if (e->kind == LEDGER_DNS || !e->last_epoch[0] || (e->last_ms && e->last_ms < start))
			continue;
		for (j = 0; j < nec && strcmp(ec[j].epoch, e->last_epoch); j++)
			;
		if (j == nec) {
			ec[nec].epoch = e->last_epoch;
			ec[nec].n = 0;
			ec[nec++].last = INT64_MIN;
		}
		ec[j].n++;
		if (e->last_ms > ec[j].last)
			ec[j].last = e->last_ms;
	}
	for (size_t j = 0; j < nec; j++) {
		if (best == (size_t)-1 || ec[j].n > ec[best].n ||
		    (ec[j].n == ec[best].n &&
		     (ec[j].last > ec[best].last ||
		      (ec[j].last == ec[best].last && strcmp(ec[j].epoch, ec[best].epoch) < 0))))
			best = j;
	}
	if (best != (size_t)-1)
		current = ec[best].epoch;
	free(ec);
	return current;
}

bool verify_epoch_spec_is_relative(const char *spec, unsigned *back)
{
	char *end;
	unsigned long n;

	if (!spec || spec[0] != '-' || spec[1] < '0' || spec[1] > '9')
		return false;
	errno = 0;
	n = strtoul(spec + 1, &end, 10);
	if (*end || errno || n > 1000000)
		return false;
	if (back)
		*back = (unsigned)n;
	return true;
}

int verify_epoch_spec_check(const char *spec, char *err, size_t err_size)
{
	const char *p = spec;

	if (!spec || !*spec || !strcmp(spec, "current") || verify_epoch_spec_is_relative(spec, NULL))
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (!*p) {
		fmt(err, err_size,
		    "--epoch %s: an epoch is a version name or -N (N versions back, -1 the one before the current)", spec);
		return -EINVAL;
	}
	if (spec[0] == '-' && !spec[1]) {
		fmt(err, err_size, "--epoch -: give -N (N versions back)");
		return -EINVAL;
	}
	return 0;
}

/* The epoch spec asks for, in the identity's history h (current: the
 * automatic current epoch): a position in h, or n when it has none. */
static size_t resolve_epoch(const char *spec, const struct epoch_at *h, size_t n, const char *current)
{
	unsigned back;
	size_t cur;

	if (verify_epoch_spec_is_relative(spec, &back)) {
		cur = epoch_index(h, n, current);
		return cur < n && back <= cur ? cur - back : n;
	}
	return epoch_index(h, n, spec);
}

/* Whether the edge was seen in an epoch before the one at h[cur] (or in an
 * unknown one: kept for rotation rather than missed). */
static bool seen_before(const struct ledger_edge *e, const struct epoch_at *h, size_t n, size_t cur)
{
	if (!e->n_epochs)
		return true;
	if (e->epochs_earlier)
		return true;
	for (size_t k = 0; k < e->n_epochs; k++) {
		size_t at = epoch_index(h, n, e->epoch_names[k]);

		if (at < cur)
			return true;
	}
	return false;
}

/* ---- rotation -------------------------------------------------------------- */

static int add_rotation(struct identity_verdict *v, size_t *cap, const char *kind, const char *what,
			const char *why)
{
	struct rotation_item *it;

	for (size_t i = 0; i < v->n_rotation; i++)
		if (!strcmp(v->rotation[i].kind, kind) && !strcmp(v->rotation[i].what, what))
			return 0;
	if (v->n_rotation == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct rotation_item *n = realloc(v->rotation, nc * sizeof(*n));

		if (!n)
			return -ENOMEM;
		v->rotation = n;
		*cap = nc;
	}
	it = &v->rotation[v->n_rotation++];
	memset(it, 0, sizeof(*it));
	fmt(it->kind, sizeof(it->kind), "%s", kind);
	fmt(it->what, sizeof(it->what), "%s", what);
	fmt(it->why, sizeof(it->why), "%s", why);
	return 0;
}

static int build_rotation(struct identity_verdict *v, struct edge_view *ev, size_t n, const struct epoch_at *h,
			  size_t nh, size_t cur)
{
	size_t cap = 0;
	bool metadata_request = false;
	char what[1024], why[256], t[40];
	int rc;

	/* metadata credential requests first: then an egress edge without one
	 * is the fallback */
	for (int pass = 0; pass < 4; pass++) {
		for (size_t i = 0; i < n; i++) {
			const struct ledger_edge *e = ev[i].e;
			const char *exe = e->executables->n ? e->executables->v[0] : "?";

			if (!seen_before(e, h, nh, cur))
				continue; /* seen in the current epoch only: not from the patched software */
			format_time(e->last_ms, t, sizeof(t));
			rc = 0;
			if (pass == 0 && e->kind == LEDGER_CREDENTIAL &&
			    !strcmp(s_or(e->dest_class), "cloud-metadata-credentials")) {
				fmt(what, sizeof(what), "%s %s", ev[i].host_noport, ev[i].cred.path_template);
				fmt(why, sizeof(why), "cloud credentials requested by %s in epoch %s (last %s)", exe,
				    e->epoch[0] ? e->epoch : "unknown", t);
				metadata_request = true;
				rc = add_rotation(v, &cap, "cloud-metadata", what, why);
			} else if (pass == 1 && e->kind == LEDGER_SECRET) {
				fmt(why, sizeof(why), "%s read by %s in epoch %s (last %s)",
				    e->category[0] ? e->category : "secret", exe, e->epoch[0] ? e->epoch : "unknown", t);
				rc = add_rotation(v, &cap, "secret-file", e->object, why);
			} else if (pass == 2 && e->kind == LEDGER_CREDENTIAL && ev[i].cred.fingerprint[0]) {
				fmt(what, sizeof(what), "%s %s fp:%s", ev[i].host_noport, ev[i].cred_kind,
				    ev[i].cred.fingerprint);
				fmt(why, sizeof(why), "sent by %s to %s %s in epoch %s (last %s)", exe, ev[i].cred.method,
				    ev[i].cred.path_template, e->epoch[0] ? e->epoch : "unknown", t);
				rc = add_rotation(v, &cap, "credential", what, why);
			} else if (pass == 3 && !metadata_request && e->kind == LEDGER_EGRESS &&
				   !strcmp(s_or(e->dest_class), "cloud-metadata")) {
				fmt(why, sizeof(why),
				    "%s connected to the cloud metadata endpoint in epoch %s (last %s); the request "
				    "was not seen: rotate the instance credentials if it fetched them",
				    exe, e->epoch[0] ? e->epoch : "unknown", t);
				rc = add_rotation(v, &cap, "cloud-metadata", e->object, why);
			}
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* ---- one identity ---------------------------------------------------------- */

struct ctx {
	const struct ledger *l;
	const struct policy_set *ps;
	int64_t now, unused_after;
	uint64_t min_edges;
	struct verify_input_health health;
	bool targeted;
	bool alert_without_policy;
	const char *epoch;
	const char *since;
};

static void edge_findings(struct builder *b, const struct ctx *c, const char *identity, const struct reach_policy *p,
			  struct edge_view *v, const char *current, const char *previous)
{
	const struct ledger_edge *e = v->e;
	const char *dc = s_or(e->dest_class);
	bool metadata = (e->kind == LEDGER_EGRESS && !strcmp(dc, "cloud-metadata")) ||
			(e->kind == LEDGER_CREDENTIAL && !strcmp(dc, "cloud-metadata-credentials"));
	bool apisecrets = e->kind == LEDGER_CREDENTIAL && !strcmp(dc, "kube-secrets");
	char grew_note[600] = "", expired_note[400] = "", broad_note[400] = "", ref[300];
	struct cover cv = { 0 };
	struct finding_draft *f;

	if (v->shrank) {
		if ((f = edge_finding(b, FINDING_REACH_SHRANK, SEV_INFO, identity, e)))
			fmt(f->message, sizeof(f->message),
			    "%s %s seen in epoch %s, not in epoch %s: the upgrade removed it",
			    ledger_kind_name(e->kind), e->object, previous, current);
		return;
	}
	if (!v->current)
		return;
	if (v->grew) {
		fmt(grew_note, sizeof(grew_note), " (new in epoch %s)", current);
		if ((f = edge_finding(b, FINDING_REACH_GREW, SEV_INFO, identity, e)))
			fmt(f->message, sizeof(f->message), "%s %s first seen in epoch %s, absent in epoch %s",
			    ledger_kind_name(e->kind), e->object, current, previous);
	}
	if (p) {
		cover_of(p, v, c->now, &cv);
		if (cv.expired) {
			char d[40];

			format_time(cv.expired->expires_unix_ms, d, sizeof(d));
			fmt(expired_note, sizeof(expired_note), "; the exception at %s:%d matched it but expired %s",
			    p->file, cv.expired->line, d);
		}
	}
	if (metadata || apisecrets) {
		if (cv.covered && cv.explicit_)
			return;
		if (cv.covered)
			fmt(broad_note, sizeof(broad_note), "; only a broad %s at %s:%d covers it, declare it explicitly",
			    cv.rule ? "rule" : "exception", p->file, cv.rule ? cv.rule->line : cv.exc->line);
		if (!(f = edge_finding(b, metadata ? FINDING_CLOUD_METADATA_ACCESS : FINDING_APISERVER_SECRET_READ,
				       SEV_HIGH, identity, e)))
			return;
		if (cv.covered)
			fmt(ref, sizeof(ref), "%s:%d", p->file, cv.rule ? cv.rule->line : cv.exc->line);
		else
			policy_ref_of(ref, sizeof(ref), p, p ? list_line_of(p, e->kind) : 0);
		fmt(f->policy_ref, sizeof(f->policy_ref), "%s", ref);
		if (metadata)
			fmt(f->message, sizeof(f->message), "%s to the cloud metadata endpoint (%s%s%s)%s%s%s",
			    e->kind == LEDGER_EGRESS ? "egress" : "credential request", e->object,
			    e->name[0] ? ", " : "", e->name, grew_note, broad_note, expired_note);
		else
			fmt(f->message, sizeof(f->message), "Kubernetes secrets read through the API server (%s)%s%s%s",
			    e->object, grew_note, broad_note, expired_note);
		return;
	}
	if (!p || cv.covered)
		return;
	{
		enum finding_kind k;
		enum severity sev = SEV_MEDIUM;

		switch (e->kind) {
		case LEDGER_SECRET:
			k = FINDING_UNDECLARED_SECRET;
			if (high_secret_category(e->category))
				sev = SEV_HIGH;
			break;
		case LEDGER_EGRESS: k = FINDING_UNDECLARED_EGRESS; break;
		case LEDGER_CREDENTIAL: k = FINDING_UNDECLARED_CREDENTIAL; break;
		case LEDGER_TOOL: k = FINDING_UNUSUAL_TOOL; break;
		case LEDGER_MCP_TOOL: k = FINDING_UNUSUAL_MCP_TOOL; break;
		case LEDGER_LLM:
			if (!p || !p->declares_llm)
				return; /* LLM calls are judged where spec.llm is given */
			k = FINDING_UNDECLARED_LLM_MODEL;
			break;
		default: return;
		}
		if (!(f = edge_finding(b, k, sev, identity, e)))
			return;
		/* the spec list that missed it (spec itself when there is none) */
		policy_ref_of(f->policy_ref, sizeof(f->policy_ref), p, list_line_of(p, e->kind));
		switch (e->kind) {
		case LEDGER_SECRET:
			fmt(f->message, sizeof(f->message), "read %s (%s), not in %s%s%s", e->object,
			    e->category[0] ? e->category : "secret", spec_list(e->kind), grew_note, expired_note);
			break;
		case LEDGER_EGRESS:
			fmt(f->message, sizeof(f->message), "connected to %s%s%s (%s), not in %s%s%s", e->object,
			    e->name[0] ? " as " : "", e->name, dc[0] ? dc : "unclassified", spec_list(e->kind),
			    grew_note, expired_note);
			break;
		case LEDGER_CREDENTIAL:
			fmt(f->message, sizeof(f->message), "sent a %s credential to %s (%s %s), not in %s%s%s",
			    v->cred_kind[0] ? v->cred_kind : "?", v->cred_host, v->cred.method, v->cred.path_template,
			    spec_list(e->kind), grew_note, expired_note);
			break;
		case LEDGER_MCP_TOOL:
			fmt(f->message, sizeof(f->message), "called MCP tool %s of server %s%s%s%s, not in %s%s%s",
			    e->category, e->name, e->dest_class[0] ? " (" : "", e->dest_class, e->dest_class[0] ? ")" : "",
			    spec_list(e->kind), grew_note, expired_note);
			break;
		case LEDGER_LLM:
			fmt(f->message, sizeof(f->message), "called LLM model %s of %s at %s%s, not in %s%s%s",
			    e->dest_class, e->category, e->name, e->llm_tools_offered ? " (tools offered)" : "",
			    spec_list(e->kind), grew_note, expired_note);
			break;
		default:
			fmt(f->message, sizeof(f->message), "executed %s, not in %s%s%s", e->object, spec_list(e->kind),
			    grew_note, expired_note);
			break;
		}
		if (e->mcp_server && e->mcp_server[0]) {
			/* an effect of an MCP tool call: the call that caused it */
			size_t len = strlen(f->message);

			append(f->message, sizeof(f->message), &len, " via ");
			append(f->message, sizeof(f->message), &len, e->mcp_server);
			append(f->message, sizeof(f->message), &len, "/");
			append(f->message, sizeof(f->message), &len, e->mcp_tool ? e->mcp_tool : "");
		}
	}
}

static bool rule_used(const struct policy_rule *r, struct edge_view *ev, size_t n, int64_t since)
{
	for (size_t i = 0; i < n; i++)
		if ((!ev[i].e->last_ms || ev[i].e->last_ms >= since) && rule_matches(r, &ev[i]))
			return true;
	return false;
}

static void policy_findings(struct builder *b, const struct ctx *c, const char *identity, const struct reach_policy *p,
			    struct edge_view *ev, size_t n, bool judge_unused)
{
	int64_t since = c->now - c->unused_after;
	char d[40], ago[40];
	struct finding_draft *f;

	for (size_t i = 0; i < p->n_exceptions; i++) {
		const struct policy_exception *x = &p->exceptions[i];

		if (!exception_expired(x, c->now))
			continue;
		if (!(f = rule_finding(b, FINDING_EXCEPTION_EXPIRED, SEV_MEDIUM, identity, p, &x->rule, x->line)))
			return;
		format_time(x->expires_unix_ms, d, sizeof(d));
		fmt(f->message, sizeof(f->message),
		    "%s exception expired %s (reason: %s): it covers nothing now; renew it or declare the reach",
		    rule_type_name(x->rule.type), d, x->reason[0] ? x->reason : "none given");
		/* the edges it would cover: when and by whom */
		for (size_t j = 0; j < n; j++) {
			const struct ledger_edge *e = ev[j].e;

			if (!ev[j].current || !rule_matches(&x->rule, &ev[j]))
				continue;
			if (!f->first_ms || (e->first_ms && e->first_ms < f->first_ms))
				f->first_ms = e->first_ms;
			if (e->last_ms > f->last_ms)
				f->last_ms = e->last_ms;
			if (!f->executables[0])
				join_executables(e, f->executables, sizeof(f->executables));
		}
	}
	if (!judge_unused)
		return;
	fmt(ago, sizeof(ago), "%lld days", (long long)(c->unused_after / (24LL * 3600 * 1000)));
	if (c->unused_after < 24LL * 3600 * 1000)
		fmt(ago, sizeof(ago), "%lld s", (long long)(c->unused_after / 1000));
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct policy_rule *r = &p->rules[i];

		if (rule_used(r, ev, n, since))
			continue;
		if (!(f = rule_finding(b, FINDING_UNUSED_DECLARED, SEV_LOW, identity, p, r, r->line)))
			return;
		fmt(f->message, sizeof(f->message),
		    "declared %s rule not exercised in the last %s: remove it for least privilege", rule_type_name(r->type),
		    ago);
	}
	for (size_t i = 0; i < p->n_exceptions; i++) {
		const struct policy_exception *x = &p->exceptions[i];

		if (exception_expired(x, c->now) || rule_used(&x->rule, ev, n, since))
			continue;
		if (!(f = rule_finding(b, FINDING_UNUSED_DECLARED, SEV_LOW, identity, p, &x->rule, x->line)))
			return;
		fmt(f->message, sizeof(f->message),
		    "%s exception not exercised in the last %s: remove it for least privilege",
		    rule_type_name(x->rule.type), ago);
	}
}

/* The sensor's blindness as findings of this identity: its own gaps
 * (coverage record), the node's (nobody's, so everybody's) and the
 * caller's node-wide health. */
static void sensor_blind_findings(struct builder *b, const struct ctx *c, const char *identity,
				  const struct coverage *own)
{
	const struct coverage *node = ledger_node_coverage(c->l);
	uint64_t own_lost = own ? coverage_gap_losses(own) : 0, node_lost = node ? coverage_gap_losses(node) : 0;
	struct finding_draft *f;

	if ((own_lost || node_lost || c->health.events_lost) && (f = sensor_finding(b, identity, "events-lost"))) {
		size_t len = 0;

		f->message[0] = '\0';
		if (own_lost) {
			char what[300];

			coverage_describe(own, what, sizeof(what));
			append(f->message, sizeof(f->message), &len, "the sensor lost activity of this identity: ");
			append(f->message, sizeof(f->message), &len, what);
		}
		if (node_lost) {
			char what[200];

			fmt(what, sizeof(what), "%s%llu losses on the node could not be attributed to any identity "
			    "(every identity is inconclusive)", len ? "; " : "", (unsigned long long)node_lost);
			append(f->message, sizeof(f->message), &len, what);
		}
		if (c->health.events_lost) {
			char what[200];

			fmt(what, sizeof(what), "%sthe sensor lost %llu events or edges node-wide", len ? "; " : "",
			    (unsigned long long)c->health.events_lost);
			append(f->message, sizeof(f->message), &len, what);
		}
		append(f->message, sizeof(f->message), &len,
		       ": the observed reach may be incomplete (a flood can hide activity)");
	}
	if ((c->health.hooks_missing || (own && (own->n_hooks_missing || own->hooks_dropped)) ||
	     (node && (node->n_hooks_missing || node->hooks_dropped))) &&
	    (f = sensor_finding(b, identity, "hooks-missing")))
		fmt(f->message, sizeof(f->message), "%s", "hooks are missing: some activity is not observed");
}

/* Whether the secret edge sec holds the credential whose fingerprint is fp:
 * its content (a single-token file), or one of a KEY=VALUE file's values,
 * whose key name goes to key ("" for the content). */
static bool secret_holds(const struct ledger_edge *sec, const char *fp, char *key, size_t key_size)
{
	const struct ledger_set *kf = sec->key_fingerprints;

	key[0] = '\0';
	if (sec->content_fingerprint && sec->content_fingerprint[0] && !strcmp(sec->content_fingerprint, fp))
		return true;
	for (size_t i = 0; kf && i < kf->n; i++) {
		const char *colon = strrchr(kf->v[i], ':');

		if (colon && colon > kf->v[i] && !strcmp(colon + 1, fp)) {
			fmt(key, key_size, "%.*s", (int)(colon - kf->v[i]), kf->v[i]);
			return true;
		}
	}
	return false;
}

static void secret_sent_findings(struct builder *b, const char *identity, bool has_policy, const struct edge_view *ev,
				 size_t n)
{
	for (size_t i = 0; i < n && !b->err; i++) {
		const struct ledger_edge *cred = ev[i].e;
		bool undeclared = !has_policy; /* nothing declared: nothing covers it */
		struct finding_draft *f;

		if (cred->kind != LEDGER_CREDENTIAL || !ev[i].current || !ev[i].cred.fingerprint[0])
			continue;
		for (size_t j = 0; j < n; j++) {
			const struct ledger_edge *sec = ev[j].e;
			char key[80];

			if (sec->kind != LEDGER_SECRET || !secret_holds(sec, ev[i].cred.fingerprint, key, sizeof(key)))
				continue;
			/* declared use of the token (its undeclared finding absent): info */
			for (size_t k = 0; k < b->n_drafts; k++) { /* this identity's so far */
				const struct finding_draft *g = &b->drafts[k];

				if (!strcmp(g->object, cred->object) && !strcmp(g->identity, identity) &&
				    (g->kind == FINDING_UNDECLARED_CREDENTIAL || g->kind == FINDING_CLOUD_METADATA_ACCESS ||
				     g->kind == FINDING_APISERVER_SECRET_READ))
					undeclared = true;
			}
			if (!(f = edge_finding(b, FINDING_SECRET_SENT, undeclared ? SEV_HIGH : SEV_INFO, identity, cred)))
				return;
			if (key[0]) /* the key's name, never its value */
				fmt(f->message, sizeof(f->message), "the token %s read from %s was sent to %s (%s)%s", key,
				    sec->object, ev[i].cred.host, ev[i].cred.kind, undeclared ? ", which was not declared" : "");
			else
				fmt(f->message, sizeof(f->message), "the token read from %s was sent to %s (%s)%s",
				    sec->object, ev[i].cred.host, ev[i].cred.kind,
				    undeclared ? ", which was not declared" : "");
			break;
		}
	}
}

/* Whether a blind road of an identity makes its verdict inconclusive under
 * policy p: the roads of issue #18 hide only what spec.llm (an LLM call's
 * model: llm-body-unseen) or spec.mcp (a JSON POST body that may be a
 * tools/call: json-body-unseen) judges, so they count where those are
 * declared; every other road always counts. */
static bool road_judged(const char *road, void *ctx)
{
	const struct reach_policy *p = ctx;

	if (!strcmp(road, "llm-body-unseen"))
		return p && p->declares_llm;
	if (!strcmp(road, "json-body-unseen"))
		return p && p->declares_mcp;
	return true;
}

static int verify_identity(struct builder *b, const struct ctx *c, const char *name)
{
	const struct ledger_identity *id = ledger_identity_find(c->l, name);
	const struct reach_policy *p = policy_for_identity(c->ps, name);
	struct reach_policy empty; /* the "alert" default: nothing declared */
	const char *current = "", *previous = "";
	struct coverage *own = &b->own;
	struct edge_view *ev = NULL;
	struct identity_verdict *v;
	struct epoch_at *hist = NULL;
	size_t n = 0, n_current = 0, len = 0, bad = 0, nh, cur;
	int64_t cur_start, prev_start;
	char tmp[512];
	int rc = 0;

	if (b->r->n_verdicts == b->cap_verdicts) {
		size_t cap = b->cap_verdicts ? b->cap_verdicts * 2 : 8;
		struct identity_verdict *nv = realloc(b->r->verdicts, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		b->r->verdicts = nv;
		b->cap_verdicts = cap;
	}
	v = &b->r->verdicts[b->r->n_verdicts++];
	memset(v, 0, sizeof(*v));
	fmt(v->identity, sizeof(v->identity), "%s", name);
	v->has_policy = p != NULL;
	if (!p && c->alert_without_policy) {
		memset(&empty, 0, sizeof(empty));
		fmt(empty.name, sizeof(empty.name), "default-alert");
		fmt(empty.identity, sizeof(empty.identity), "%s", name);
		fmt(empty.file, sizeof(empty.file), "(default policy: alert)");
		p = &empty;
	}
	v->counted = c->targeted || p;
	policy_ref_of(v->policy_ref, sizeof(v->policy_ref), p, p ? p->line : 0);

	if (id && id->n_edges && !(ev = calloc(id->n_edges, sizeof(*ev))))
		return -ENOMEM;
	nh = epoch_history(id, &hist);
	current = find_current_epoch(id);
	cur = epoch_index(hist, nh, current);
	if (c->epoch) {
		/* an epoch asked for: by name or -N from the current one */
		cur = resolve_epoch(c->epoch, hist, nh, current);
		if (cur < nh) {
			current = hist[cur].name;
			b->epoch_found = true;
		} else if (c->targeted) {
			const char **names = calloc(nh + 1, sizeof(*names));
			char near[400] = "";
			unsigned back;

			for (size_t i = 0; names && i < nh; i++)
				names[i] = hist[nh - 1 - i].name; /* newest first */
			if (verify_epoch_spec_is_relative(c->epoch, &back))
				fmt(b->r->error, sizeof(b->r->error),
				    "%s has no epoch %s: %zu epoch%s known (newest first: %s%s)", name, c->epoch, nh,
				    nh == 1 ? "" : "s", nh ? names[0] : "none", nh > 1 ? ", ..." : "");
			else
				fmt(b->r->error, sizeof(b->r->error), "%s has no epoch '%s'%s", name, c->epoch,
				    names ? names_suggest(c->epoch, names, nh, near, sizeof(near)) : "");
			free(names);
			free(hist);
			free(ev);
			return -ENOENT;
		} else {
			current = c->epoch; /* not this identity's: nothing of it seen */
		}
	}
	previous = cur < nh && cur > 0 ? hist[cur - 1].name : "";
	cur_start = cur < nh ? hist[cur].start : 0;
	prev_start = cur < nh && cur > 0 ? hist[cur - 1].start : 0;
	if (c->since) {
		/* another epoch to compare with: -N counts from the identity's
		 * current epoch, as --epoch does */
		size_t s = resolve_epoch(c->since, hist, nh, find_current_epoch(id));

		if (s < nh && s != cur) {
			previous = hist[s].name;
			prev_start = hist[s].start;
			v->since = true;
		} else if (c->targeted) {
			if (s < nh)
				fmt(b->r->error, sizeof(b->r->error),
				    "--since %s is the epoch judged (%s): give another epoch of %s to compare with", c->since,
				    hist[s].name, name);
			else
				fmt(b->r->error, sizeof(b->r->error), "%s has no epoch '%s' to compare with: %zu epoch%s known%s%s",
				    name, c->since, nh, nh == 1 ? "" : "s", nh ? " (newest: " : "", nh ? hist[nh - 1].name : "");
			if (s >= nh && nh)
				fmt(b->r->error + strlen(b->r->error), sizeof(b->r->error) - strlen(b->r->error), ")");
			free(hist);
			free(ev);
			return s < nh ? -EINVAL : -ENOENT;
		}
	}
	fmt(v->epoch, sizeof(v->epoch), "%s", current);
	fmt(v->previous_epoch, sizeof(v->previous_epoch), "%s", previous);
	for (size_t i = 0; id && i < id->n_edges; i++) {
		const struct ledger_edge *e = id->edges[i];
		struct edge_view *x;
		int in_cur, in_prev;

		if (e->kind == LEDGER_DNS || e->kind == LEDGER_KIND_UNSPECIFIED)
			continue;
		x = &ev[n++];
		edge_view_init(x, e);
		/* an edge of no epoch (none known for it) is current reach; one
		 * whose epochs are partly merged away counts where unknown */
		in_cur = !current[0] || (!e->n_epochs && !e->epochs_earlier) ? 1 : ledger_edge_in_epoch(e, current, cur_start);
		in_prev = previous[0] ? ledger_edge_in_epoch(e, previous, prev_start) : -1;
		if (c->epoch && cur >= nh)
			in_cur = 0; /* the epoch asked for is not this identity's */
		x->current = in_cur != 0;
		x->grew = x->current && previous[0] && in_prev == 0;
		x->shrank = !x->current && in_prev == 1;
		if (x->current)
			n_current++;
	}
	v->n_edges = n_current;

	for (size_t i = 0; i < n; i++)
		edge_findings(b, c, name, p, &ev[i], current, previous);
	secret_sent_findings(b, name, p != NULL, ev, n);
	/* the gaps of the epoch judged (and the epoch-less ones): an upgrade
	 * is judged on what its own version's run missed, as on its edges */
	memset(own, 0, sizeof(*own));
	if (id)
		ledger_coverage_of_epoch(id, current[0] ? current : NULL, own);
	sensor_blind_findings(b, c, name, own);
	if (p)
		policy_findings(b, c, name, p, ev, n, n_current >= c->min_edges);
	if (b->err) {
		free(hist);
		free(ev);
		return b->err;
	}
	if (previous[0] && (rc = build_rotation(v, ev, n, hist, nh, cur))) {
		free(hist);
		free(ev);
		return rc;
	}
	free(hist);
	free(ev);

	for (size_t i = 0; i < b->n_drafts; i++) {
		v->n_findings_by_sev[b->drafts[i].severity]++;
		if (b->drafts[i].severity >= SEV_MEDIUM)
			bad++;
	}
	if (finding_keep(b))
		return b->err;

	/* verdict: inconclusive reasons first */
	v->reasons[0] = '\0';
#define REASON(...)                                                  \
	do {                                                         \
		fmt(tmp, sizeof(tmp), __VA_ARGS__);                  \
		if (len)                                             \
			append(v->reasons, sizeof(v->reasons), &len, "; "); \
		append(v->reasons, sizeof(v->reasons), &len, tmp);   \
	} while (0)
	if (!p)
		REASON("no policy (audit only)");
	if (c->health.events_lost)
		REASON("%llu events lost", (unsigned long long)c->health.events_lost);
	if (c->health.tls_blind_processes)
		REASON("%llu tls-blind processes (credential use not visible)",
		       (unsigned long long)c->health.tls_blind_processes);
	if (c->health.hooks_missing)
		REASON("hooks missing");
	if (coverage_has_gaps_judged(own, road_judged, (void *)p)) {
		char what[400];

		coverage_describe(own, what, sizeof(what));
		REASON("coverage gaps of this identity: %s", what);
	}
	if (coverage_has_gaps(ledger_node_coverage(c->l))) {
		char what[300];

		coverage_describe(ledger_node_coverage(c->l), what, sizeof(what));
		REASON("node-wide coverage gaps, attributable to no identity, so every identity is inconclusive: %s",
		       what);
	}
	if (id && id->edges_dropped)
		REASON("the ledger refused %llu edges of this identity", (unsigned long long)id->edges_dropped);
	if (!id && ledger_identities_dropped(c->l))
		REASON("the ledger refused %llu identities", (unsigned long long)ledger_identities_dropped(c->l));
	if (n_current < c->min_edges) {
		if (current[0])
			REASON("too little observed: %zu edges in epoch %s (minimum %llu)", n_current, current,
			       (unsigned long long)c->min_edges);
		else
			REASON("too little observed: %zu edges (minimum %llu)", n_current,
			       (unsigned long long)c->min_edges);
	}
	if (len) {
		v->verdict = VERDICT_INCONCLUSIVE;
		if (bad)
			REASON("also %zu findings of severity medium or higher", bad);
	} else if (bad) {
		v->verdict = VERDICT_FAIL;
		REASON("%zu findings of severity medium or higher", bad);
	} else {
		v->verdict = VERDICT_PASS;
	}
#undef REASON
	return 0;
}

/* ---- entry points ---------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int cmp_finding(const void *pa, const void *pb)
{
	const struct finding *a = pa, *b = pb;
	int r;

	if ((r = strcmp(a->identity, b->identity)))
		return r;
	if (a->severity != b->severity)
		return a->severity > b->severity ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if ((r = strcmp(a->edge_kind, b->edge_kind)))
		return r;
	if ((r = strcmp(a->object, b->object)))
		return r;
	return strcmp(a->policy_ref, b->policy_ref);
}

/* "unknown identity 'X' ...; did you mean A or B?" from the ledger's and
 * the policies' names. */
static void unknown_identity_error(struct verify_result *out, const struct ledger *l, const struct policy_set *ps,
				   const char *identity)
{
	size_t n = 0, cap = ledger_identities(l) + ps->n;
	const char **known = calloc(cap + 1, sizeof(*known));
	char near[400] = "";

	for (size_t i = 0; known && i < ledger_identities(l); i++)
		known[n++] = ledger_identity_at(l, i)->name;
	for (size_t i = 0; known && i < ps->n; i++)
		if (!ledger_identity_find(l, ps->policies[i].identity))
			known[n++] = ps->policies[i].identity;
	fmt(out->error, sizeof(out->error), "unknown identity '%s': nothing observed and no policy%s", identity,
	    known ? names_suggest(identity, known, n, near, sizeof(near)) : "");
	free(known);
}

int verify_ledger(const struct ledger *l, const struct policy_set *policies, const struct verify_opts *opts,
		  struct verify_result *out)
{
	struct verify_opts defaults = { 0 };
	struct builder b = { 0 };
	struct ctx c = { 0 };
	const char **names = NULL;
	size_t n_names = 0, cap;
	bool any_counted = false, any_fail = false, any_inc = false;
	char target[512];
	int rc = 0;

	if (out) {
		memset(out, 0, sizeof(*out));
		out->overall = VERDICT_INCONCLUSIVE;
	}
	if (!l || !policies || !out)
		return -EINVAL;
	if (!opts)
		opts = &defaults;
	c.l = l;
	c.ps = policies;
	c.now = opts->now_ms;
	if (!c.now) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		c.now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	c.unused_after = opts->unused_after_ms > 0 ? opts->unused_after_ms : VERIFY_DEFAULT_UNUSED_AFTER_MS;
	c.min_edges = opts->min_edges ? opts->min_edges : 1;
	c.health = opts->health;
	c.targeted = opts->identity != NULL;
	c.alert_without_policy = opts->alert_without_policy;
	c.epoch = opts->epoch && *opts->epoch && strcmp(opts->epoch, "current") ? opts->epoch : NULL;
	b.r = out;
	if (c.epoch && (rc = verify_epoch_spec_check(c.epoch, out->error, sizeof(out->error))))
		return rc;
	c.since = opts->since && *opts->since ? opts->since : NULL;
	if (c.since && (verify_epoch_spec_check(c.since, out->error, sizeof(out->error)) || !strcmp(c.since, "current"))) {
		fmt(out->error, sizeof(out->error),
		    "--since %s: give the epoch to compare with, a version name or -N (N versions before the current)",
		    c.since);
		return -EINVAL;
	}

	/* the identities to verify, in name order, once each */
	cap = opts->identity ? 1 : ledger_identities(l) + policies->n;
	if (cap && !(names = calloc(cap, sizeof(*names))))
		return -ENOMEM;
	if (opts->identity) {
		/* as written when the ledger has it, else its canonical form */
		if (ledger_identity_find(l, opts->identity))
			fmt(target, sizeof(target), "%s", opts->identity);
		else
			names_identity_normalize(opts->identity, target, sizeof(target));
		if (!ledger_identity_find(l, target) && !policy_for_identity(policies, target) &&
		    !ledger_identities_dropped(l)) {
			/* a typo: an error naming the closest, never an empty verdict
			 * (unless the ledger refused identities: it may be one) */
			unknown_identity_error(out, l, policies, target);
			free(names);
			return -ENOENT;
		}
		names[n_names++] = target;
	} else {
		for (size_t i = 0; i < ledger_identities(l); i++)
			names[n_names++] = ledger_identity_at(l, i)->name;
		for (size_t i = 0; i < policies->n; i++)
			names[n_names++] = policies->policies[i].identity;
		qsort(names, n_names, sizeof(*names), cmp_str);
		if (n_names) {
			size_t w = 1;

			for (size_t i = 1; i < n_names; i++)
				if (strcmp(names[i], names[w - 1]))
					names[w++] = names[i];
			n_names = w;
		}
	}
	for (size_t i = 0; i < n_names && !rc; i++)
		rc = verify_identity(&b, &c, names[i]);
	if (!rc && c.epoch && !c.targeted && !b.epoch_found) {
		/* no identity has it: a typo, not an epoch nothing was seen in */
		fmt(out->error, sizeof(out->error), "no identity has an epoch '%s'", c.epoch);
		rc = -ENOENT;
	}
	free(names);
	free(b.drafts);
	if (rc) {
		char error[sizeof(out->error)];

		memcpy(error, out->error, sizeof(error));
		verify_result_free(out);
		memcpy(out->error, error, sizeof(error));
		return rc;
	}
	if (out->n_findings)
		qsort(out->findings, out->n_findings, sizeof(*out->findings), cmp_finding);
	for (size_t i = 0; i < out->n_verdicts; i++) {
		if (!out->verdicts[i].counted)
			continue;
		any_counted = true;
		any_fail |= out->verdicts[i].verdict == VERDICT_FAIL;
		any_inc |= out->verdicts[i].verdict == VERDICT_INCONCLUSIVE;
	}
	out->overall = any_fail ? VERDICT_FAIL : (any_inc || !any_counted) ? VERDICT_INCONCLUSIVE : VERDICT_PASS;
	return 0;
}

void verify_result_free(struct verify_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_verdicts; i++)
		free(r->verdicts[i].rotation);
	free(r->verdicts);
	free(r->findings);
	while (r->text) {
		struct finding_text *next = r->text->next;

		free(r->text);
		r->text = next;
	}
	memset(r, 0, sizeof(*r));
	r->overall = VERDICT_INCONCLUSIVE;
}

int verify_exit_code(const struct verify_result *r)
{
	if (!r)
		return 2;
	switch (r->overall) {
	case VERDICT_PASS: return 0;
	case VERDICT_FAIL: return 1;
	default: return 2;
	}
}

/* ---- JSON ------------------------------------------------------------------ */

static json_object *exes_json(const char *list)
{
	json_object *a = json_object_new_array();
	const char *p = list;

	while (a && p && *p) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);

		json_object_array_add(a, json_object_new_string_len(p, (int)l));
		p = comma ? comma + 1 : NULL;
	}
	return a;
}

/* A rotation item's "what" taken apart (the shapes add_rotation() is given):
 * secret-file "PATH"; credential "HOST KIND fp:FP"; cloud-metadata
 * "HOST PATH" (the request seen) or "PROTO/ADDR/PORT" (only the connection). */
static json_object *rotation_fields(const char *kind, const char *what)
{
	json_object *f;
	char a[3][1024] = { "", "", "" };

	if (!strcmp(kind, "secret-file") || (!strcmp(kind, "cloud-metadata") && !strchr(what, ' ')))
		return edge_fields_of_object(!strcmp(kind, "secret-file") ? "secret" : "egress", what);
	if (!(f = json_object_new_object()))
		return NULL;
	sscanf(what, "%1023s %1023s %1023s", a[0], a[1], a[2]);
	json_add_str_or_null(f, "host", a[0]);
	if (!strcmp(kind, "credential")) {
		json_add_str_or_null(f, "kind", a[1]);
		json_add_str_or_null(f, "fingerprint", strncmp(a[2], "fp:", 3) ? NULL : a[2] + 3);
	} else {
		json_add_str_or_null(f, "path", a[1]);
	}
	return f;
}

struct json_object *verify_result_to_json(const struct verify_result *r)
{
	json_object *root, *ids, *fs, *counts;
	size_t nv[3] = { 0 };

	if (!r)
		return NULL;
	root = json_object_new_object();
	ids = json_object_new_array();
	fs = json_object_new_array();
	counts = json_object_new_object();
	if (!root || !ids || !fs || !counts) {
		json_object_put(root);
		json_object_put(ids);
		json_object_put(fs);
		json_object_put(counts);
		return NULL;
	}
	json_add_str(root, "verdict", verdict_name(r->overall));
	json_add_int(root, "exit_code", verify_exit_code(r));
	json_add(root, "identities", ids);
	json_add(root, "findings", fs);
	json_add(root, "counts", counts);
	for (size_t i = 0; i < r->n_verdicts; i++) {
		const struct identity_verdict *v = &r->verdicts[i];
		json_object *o = json_object_new_object(), *sev = json_object_new_object(), *rot = json_object_new_array();

		if (!o || !sev || !rot) {
			json_object_put(o);
			json_object_put(sev);
			json_object_put(rot);
			json_object_put(root);
			return NULL;
		}
		if ((unsigned)v->verdict < 3)
			nv[v->verdict]++;
		json_add_str(o, "identity", v->identity);
		json_add_str(o, "verdict", verdict_name(v->verdict));
		json_add_str(o, "reasons", v->reasons);
		json_add_str_or_null(o, "epoch", v->epoch);
		json_add_str_or_null(o, "previous_epoch", v->previous_epoch);
		if (v->since)
			json_add_bool(o, "since", true); /* previous_epoch is the one asked for */
		json_add_bool(o, "has_policy", v->has_policy);
		json_add_bool(o, "counted", v->counted);
		json_add_str_or_null(o, "policy", v->policy_ref);
		json_add_u64(o, "edges", v->n_edges);
		for (int s = SEV_INFO; s <= SEV_CRITICAL; s++)
			json_add_u64(sev, severity_name(s), v->n_findings_by_sev[s]);
		json_add(o, "findings_by_severity", sev);
		for (size_t j = 0; j < v->n_rotation; j++) {
			json_object *it = json_object_new_object();

			if (!it)
				continue;
			json_add_str(it, "kind", v->rotation[j].kind);
			json_add_str(it, "what", v->rotation[j].what);
			json_add(it, "fields", rotation_fields(v->rotation[j].kind, v->rotation[j].what));
			json_add_str(it, "why", v->rotation[j].why);
			json_object_array_add(rot, it);
		}
		json_add(o, "rotation", rot);
		json_object_array_add(ids, o);
	}
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct finding *f = &r->findings[i];
		json_object *o = json_object_new_object();

		if (!o) {
			json_object_put(root);
			return NULL;
		}
		json_add_str(o, "id", f->id);
		json_add_str(o, "kind", finding_kind_name(f->kind));
		json_add_str(o, "severity", severity_name(f->severity));
		json_add_str(o, "identity", f->identity);
		json_add_str(o, "edge_kind", f->edge_kind);
		json_add_str(o, "object", f->object);
		json_add(o, "fields", edge_fields_of_object(f->edge_kind, f->object));
		json_add_int_or_null(o, "first_seen_ms", f->first_ms);
		json_add_int_or_null(o, "last_seen_ms", f->last_ms);
		/* one time format: the edges' (RFC 3339 UTC with milliseconds) */
		json_add(o, "first_seen", f->first_ms ? json_new_time_ms(f->first_ms) : NULL);
		json_add(o, "last_seen", f->last_ms ? json_new_time_ms(f->last_ms) : NULL);
		json_add(o, "executables", exes_json(f->executables));
		json_add_str(o, "message", f->message);
		json_add_str_or_null(o, "policy_ref", f->policy_ref);
		json_object_array_add(fs, o);
	}
	json_add_u64(counts, "findings", r->n_findings);
	json_add_u64(counts, "pass", nv[VERDICT_PASS]);
	json_add_u64(counts, "fail", nv[VERDICT_FAIL]);
	json_add_u64(counts, "inconclusive", nv[VERDICT_INCONCLUSIVE]);
	return root;
}

/* ---- text ------------------------------------------------------------------ */

static void upper(const char *s, char *out, size_t n)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < n; i++)
		out[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
	out[i] = '\0';
}

void verify_result_print_text(FILE *f, const struct verify_result *r)
{
	size_t nv[3] = { 0 }, sev[5] = { 0 }, j = 0;
	char buf[32], t1[40], t2[40];

	if (!f || !r)
		return;
	for (size_t i = 0; i < r->n_verdicts; i++)
		if (r->verdicts[i].counted && (unsigned)r->verdicts[i].verdict < 3)
			nv[r->verdicts[i].verdict]++;
	for (size_t i = 0; i < r->n_findings; i++)
		sev[r->findings[i].severity]++;
	upper(verdict_name(r->overall), buf, sizeof(buf));
	/* the verdict alone on the first line: a CI log reader (or grep) sees it first */
	fprintf(f, "verify: %s\n  identities counted: %zu fail, %zu inconclusive, %zu pass; findings: %zu critical, "
		   "%zu high, %zu medium, %zu low, %zu info\n",
		buf, nv[VERDICT_FAIL], nv[VERDICT_INCONCLUSIVE], nv[VERDICT_PASS], sev[SEV_CRITICAL], sev[SEV_HIGH],
		sev[SEV_MEDIUM], sev[SEV_LOW], sev[SEV_INFO]);
	for (size_t i = 0; i < r->n_verdicts; i++) {
		const struct identity_verdict *v = &r->verdicts[i];

		upper(verdict_name(v->verdict), buf, sizeof(buf));
		fprintf(f, "\n%s: %s%s", v->identity, buf, v->counted ? "" : " (not counted)");
		if (v->policy_ref[0])
			fprintf(f, "  policy %s", v->policy_ref);
		fputc('\n', f);
		if (v->reasons[0])
			fprintf(f, "  why: %s\n", v->reasons);
		if (v->epoch[0])
			fprintf(f, "  epoch %s%s%s%s\n", v->epoch,
				v->previous_epoch[0] ? (v->since ? " (compared with " : " (previous ") : "",
				v->previous_epoch, v->previous_epoch[0] ? ")" : "");
		/* findings are sorted by identity, so this identity's are one run */
		while (j < r->n_findings && strcmp(r->findings[j].identity, v->identity) < 0)
			j++;
		for (; j < r->n_findings && !strcmp(r->findings[j].identity, v->identity); j++) {
			const struct finding *fd = &r->findings[j];

			upper(severity_name(fd->severity), buf, sizeof(buf));
			fprintf(f, "  %-8s %-26s %-10s %s\n", buf, finding_kind_name(fd->kind), fd->edge_kind,
				fd->object);
			fprintf(f, "           %s\n", fd->message);
			if (fd->first_ms || fd->executables[0]) {
				format_time(fd->first_ms, t1, sizeof(t1));
				format_time(fd->last_ms, t2, sizeof(t2));
				fprintf(f, "           seen %s .. %s by %s\n", t1, t2,
					fd->executables[0] ? fd->executables : "?");
			}
			fprintf(f, "           id %s%s%s\n", fd->id, fd->policy_ref[0] ? "  at " : "", fd->policy_ref);
		}
		if (v->n_rotation) {
			fprintf(f, "  rotate (credentials reachable in epoch %s and earlier):\n", v->previous_epoch);
			for (size_t k = 0; k < v->n_rotation; k++)
				fprintf(f, "    %-14s %s\n                   %s\n", v->rotation[k].kind, v->rotation[k].what,
					v->rotation[k].why);
		}
	}
}

struct json_object *verify_result_report(const struct verify_result *r)
{
	json_object *doc = verify_result_to_json(r);
	char *text = NULL;
	size_t len = 0;
	FILE *mem;

	if (!doc)
		return NULL;
	mem = open_memstream(&text, &len);
	if (mem) {
		verify_result_print_text(mem, r);
		fclose(mem);
		json_add_str(doc, "text", text ? text : "");
		free(text);
	}
	return doc;
}

void policy_set_digest(const struct policy_set *set, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char text[2048];

	hex[0] = '\0';
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return;
	}
	for (size_t i = 0; set && i < set->n; i++) {
		const struct reach_policy *p = &set->policies[i];

		EVP_DigestUpdate(ctx, "policy\0", 7);
		EVP_DigestUpdate(ctx, p->identity, strlen(p->identity) + 1);
		for (size_t k = 0; k < p->n_rules; k++) {
			policy_rule_describe(&p->rules[k], text, sizeof(text));
			fmt(text + strlen(text), sizeof(text) - strlen(text), "|%d", (int)p->rules[k].type);
			EVP_DigestUpdate(ctx, text, strlen(text) + 1);
		}
		for (size_t k = 0; k < p->n_exceptions; k++) {
			const struct policy_exception *e = &p->exceptions[k];

			policy_rule_describe(&e->rule, text, sizeof(text));
			fmt(text + strlen(text), sizeof(text) - strlen(text), "|%d|exception|%lld|%s", (int)e->rule.type,
			    (long long)e->expires_unix_ms, e->reason);
			EVP_DigestUpdate(ctx, text, strlen(text) + 1);
		}
	}
	if (EVP_DigestFinal_ex(ctx, md, &len) && len == 32)
		for (unsigned int i = 0; i < len; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
	EVP_MD_CTX_free(ctx);
}
