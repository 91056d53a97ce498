#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "otlp_logs.pb-c.h"
#include "identity/identity.h"
#include "ship/otlp.h"

/* ---- UTF-8 --------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), 0 when the byte starts none. */
static size_t utf8_seq(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		unsigned char lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		unsigned char lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

static bool utf8_valid(const char *s)
{
	for (size_t n; *s; s += n)
		if (!(n = utf8_seq((const unsigned char *)s)))
			return false;
	return true;
}

/* A copy with U+FFFD for each byte that starts no valid sequence. */
static char *utf8_repair(const char *s)
{
	char *out = malloc(strlen(s) * 3 + 1), *o = out;
	size_t n;

	if (!out)
		return NULL;
	while (*s) {
		if ((n = utf8_seq((const unsigned char *)s))) {
			memcpy(o, s, n);
			o += n;
			s += n;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			s++;
		}
	}
	*o = '\0';
	return out;
}

/* ---- encoding ------------------------------------------------------------ */

/* Everything one request points at, allocated up front so that building
 * the message cannot fail half way; repaired strings are owned here too. */
struct arena {
	Otlp__KeyValue *kvs, **kv_ptrs;
	Otlp__AnyValue *vals;
	size_t n_kv;
	Otlp__LogRecord *recs, **rec_ptrs;
	Otlp__AnyValue *bodies;
	char **owned;
	size_t n_owned, cap_owned;
	bool oom;
};

static void arena_free(struct arena *a)
{
	for (size_t i = 0; i < a->n_owned; i++)
		free(a->owned[i]);
	free(a->owned);
	free(a->kvs);
	free(a->kv_ptrs);
	free(a->vals);
	free(a->recs);
	free(a->rec_ptrs);
	free(a->bodies);
}

/* protobuf-c wants char *; it never writes through them. */
static char *wire_str(struct arena *a, const char *s)
{
	char *copy;

	if (!s)
		return "";
	if (utf8_valid(s))
		return (char *)s;
	if (a->n_owned == a->cap_owned) {
		size_t cap = a->cap_owned ? 2 * a->cap_owned : 8;
		char **no = realloc(a->owned, cap * sizeof(*no));

		if (!no) {
			a->oom = true;
			return "";
		}
		a->owned = no;
		a->cap_owned = cap;
	}
	if (!(copy = utf8_repair(s))) {
		a->oom = true;
		return "";
	}
	a->owned[a->n_owned++] = copy;
	return copy;
}

static void set_value(struct arena *a, Otlp__AnyValue *v, const struct otlp_attr *at)
{
	otlp__any_value__init(v);
	switch (at->type) {
	case OTLP_INT:
		v->value_case = OTLP__ANY_VALUE__VALUE_INT_VALUE;
		v->int_value = at->i;
		break;
	case OTLP_BOOL:
		v->value_case = OTLP__ANY_VALUE__VALUE_BOOL_VALUE;
		v->bool_value = at->b;
		break;
	case OTLP_DOUBLE:
		v->value_case = OTLP__ANY_VALUE__VALUE_DOUBLE_VALUE;
		v->double_value = at->d;
		break;
	default:
		v->value_case = OTLP__ANY_VALUE__VALUE_STRING_VALUE;
		v->string_value = wire_str(a, at->str);
		break;
	}
}

/* Appends one attribute; returns its slot in kv_ptrs. */
static Otlp__KeyValue **add_kv(struct arena *a, const struct otlp_attr *at)
{
	size_t i = a->n_kv++;

	otlp__key_value__init(&a->kvs[i]);
	a->kvs[i].key = wire_str(a, at->key);
	set_value(a, &a->vals[i], at);
	a->kvs[i].value = &a->vals[i];
	a->kv_ptrs[i] = &a->kvs[i];
	return &a->kv_ptrs[i];
}

static void add_resource_attr(struct arena *a, Otlp__Resource *r, const char *key, const char *value)
{
	struct otlp_attr at = { .key = key, .type = OTLP_STRING, .str = value };
	Otlp__KeyValue **slot;

	if (!value || !*value)
		return;
	slot = add_kv(a, &at);
	if (!r->n_attributes)
		r->attributes = slot;
	r->n_attributes++;
}

static uint64_t unix_nano(int64_t ms)
{
	return ms > 0 ? (uint64_t)ms * 1000000u : 0;
}

static void build_record(struct arena *a, size_t i, const struct otlp_item *it)
{
	Otlp__LogRecord *r = &a->recs[i];

	otlp__log_record__init(r);
	r->time_unix_nano = unix_nano(it->time_ms);
	r->observed_time_unix_nano = r->time_unix_nano;
	r->severity_number = it->severity_number;
	r->severity_text = wire_str(a, it->severity_text);
	r->event_name = wire_str(a, it->event_name);
	if (it->body) {
		struct otlp_attr body = { .type = OTLP_STRING, .str = it->body };

		set_value(a, &a->bodies[i], &body);
		r->body = &a->bodies[i];
	}
	for (size_t k = 0; k < it->n_attrs; k++) {
		Otlp__KeyValue **slot = add_kv(a, &it->attrs[k]);

		if (!k)
			r->attributes = slot;
	}
	r->n_attributes = it->n_attrs;
	a->rec_ptrs[i] = r;
}

static int arena_alloc(struct arena *a, const struct otlp_item *items, size_t n)
{
	size_t kv = 4; /* the resource's */

	for (size_t i = 0; i < n; i++)
		kv += items[i].n_attrs;
	a->kvs = calloc(kv, sizeof(*a->kvs));
	a->kv_ptrs = calloc(kv, sizeof(*a->kv_ptrs));
	a->vals = calloc(kv, sizeof(*a->vals));
	a->recs = calloc(n ? n : 1, sizeof(*a->recs));
	a->rec_ptrs = calloc(n ? n : 1, sizeof(*a->rec_ptrs));
	a->bodies = calloc(n ? n : 1, sizeof(*a->bodies));
	return a->kvs && a->kv_ptrs && a->vals && a->recs && a->rec_ptrs && a->bodies ? 0 : -ENOMEM;
}

static int pack(const Otlp__ExportLogsServiceRequest *req, void **out, size_t *out_len)
{
	size_t len = otlp__export_logs_service_request__get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);

	if (!buf)
		return -ENOMEM;
	*out_len = otlp__export_logs_service_request__pack(req, buf);
	*out = buf;
	return 0;
}

int otlp_encode_logs(const struct otlp_resource *res, const struct otlp_item *items, size_t n, void **out,
		     size_t *out_len)
{
	Otlp__ExportLogsServiceRequest req;
	Otlp__ResourceLogs rl, *rlp = &rl;
	Otlp__Resource resource;
	Otlp__ScopeLogs sl, *slp = &sl;
	Otlp__InstrumentationScope scope;
	struct arena a = { 0 };
	int rc;

	if (!res || !out || !out_len || (n && !items))
		return -EINVAL;
	*out = NULL;
	*out_len = 0;
	if ((rc = arena_alloc(&a, items, n)))
		goto cleanup;
	otlp__resource__init(&resource);
	add_resource_attr(&a, &resource, "host.name", res->host_name);
	add_resource_attr(&a, &resource, "service.name", res->service_name ? res->service_name : OTLP_SERVICE_NAME);
	add_resource_attr(&a, &resource, "service.version", res->service_version);
	add_resource_attr(&a, &resource, "k8s.node.name", res->k8s_node_name);
	otlp__instrumentation_scope__init(&scope);
	scope.name = OTLP_SCOPE_NAME;
	scope.version = wire_str(&a, res->service_version);
	for (size_t i = 0; i < n; i++)
		build_record(&a, i, &items[i]);
	otlp__scope_logs__init(&sl);
	sl.scope = &scope;
	sl.n_log_records = n;
	sl.log_records = a.rec_ptrs;
	otlp__resource_logs__init(&rl);
	rl.resource = &resource;
	rl.n_scope_logs = 1;
	rl.scope_logs = &slp;
	otlp__export_logs_service_request__init(&req);
	req.n_resource_logs = 1;
	req.resource_logs = &rlp;
	rc = a.oom ? -ENOMEM : pack(&req, out, out_len);
cleanup:
	arena_free(&a);
	return rc;
}

/* ---- records from findings and verdicts ---------------------------------- */

int otlp_severity_of_finding(enum severity s, const char **text)
{
	int num = s == SEV_CRITICAL ? OTLP_SEV_ERROR2 : s == SEV_HIGH ? OTLP_SEV_ERROR
						     : s == SEV_MEDIUM ? OTLP_SEV_WARN : OTLP_SEV_INFO;

	if (text)
		*text = num == OTLP_SEV_ERROR2 ? "ERROR2" : num == OTLP_SEV_ERROR ? "ERROR"
							 : num == OTLP_SEV_WARN ? "WARN" : "INFO";
	return num;
}

int otlp_severity_of_verdict(const char *verdict, const char **text)
{
	int num = OTLP_SEV_INFO;

	if (verdict && (!strcmp(verdict, "fail") || !strcmp(verdict, "drifted")))
		num = OTLP_SEV_ERROR;
	else if (verdict && !strcmp(verdict, "inconclusive"))
		num = OTLP_SEV_WARN;
	if (text)
		*text = num == OTLP_SEV_ERROR ? "ERROR" : num == OTLP_SEV_WARN ? "WARN" : "INFO";
	return num;
}

_Static_assert(OTLP_RECORD_TEXT <= UINT16_MAX, "record text offsets are 16 bits");

/* The last byte of text is always NUL: the offset of "" when space ran out. */
#define TEXT_EMPTY (OTLP_RECORD_TEXT - 1)

/* Formats into the record's text; the offset of the result (cut to fit). */
static uint16_t rec_printf(struct otlp_record *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static uint16_t rec_printf(struct otlp_record *r, const char *fmt, ...)
{
	size_t room = TEXT_EMPTY - r->used;
	uint16_t off = r->used;
	va_list ap;
	int n;

	if (room < 2)
		return TEXT_EMPTY;
	va_start(ap, fmt);
	n = vsnprintf(r->text + off, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return TEXT_EMPTY;
	r->used += (size_t)n < room ? (size_t)n + 1 : room;
	return off;
}

static void add_attr(struct otlp_record *r, const char *key, const char *value)
{
	if (!value || !*value || r->n_attrs >= OTLP_RECORD_MAX_ATTRS)
		return;
	r->attrs[r->n_attrs].key = key;
	r->attrs[r->n_attrs].off = rec_printf(r, "%s", value);
	r->n_attrs++;
}

static void record_init(struct otlp_record *r, const char *identity, int64_t time_ms, const char *host_name)
{
	char ns[256], sa[256];

	r->time_ms = time_ms;
	r->n_attrs = 0;
	r->used = 0;
	r->text[TEXT_EMPTY] = '\0';
	add_attr(r, "reach.identity", identity);
	if (identity_split_k8s(identity, ns, sizeof(ns), sa, sizeof(sa))) {
		add_attr(r, "k8s.namespace.name", ns);
		add_attr(r, "k8s.serviceaccount.name", sa);
	}
	add_attr(r, "host.name", host_name);
}

/* A tool edge's object is the executed path; otherwise the finding's
 * executables list, when it names exactly one ("a,b" or "a,+3" do not). */
static const char *executable_of(const struct finding *f)
{
	if (!strcmp(f->edge_kind, "tool"))
		return f->object;
	if (!f->executables[0] || strchr(f->executables, ','))
		return NULL;
	return f->executables;
}

void otlp_record_finding(struct otlp_record *r, const struct finding *f, bool resolved, int64_t time_ms,
			 const char *host_name, const char *pod_name)
{
	record_init(r, f->identity, time_ms, host_name);
	add_attr(r, "k8s.pod.name", pod_name);
	add_attr(r, "process.executable.path", executable_of(f));
	add_attr(r, "reach.finding.id", f->id);
	add_attr(r, "reach.finding.kind", finding_kind_name(f->kind));
	add_attr(r, "reach.severity", severity_name(f->severity));
	add_attr(r, "reach.edge.kind", f->edge_kind);
	add_attr(r, "reach.edge.object", f->object);
	add_attr(r, "reach.executables", f->executables);
	add_attr(r, "reach.policy.ref", f->policy_ref);
	if (resolved) {
		r->event_name = "reach.finding.resolved";
		r->severity_number = otlp_severity_of_finding(SEV_INFO, &r->severity_text);
		r->body_off = rec_printf(r, "resolved: %s", f->message);
	} else {
		r->event_name = "reach.finding";
		r->severity_number = otlp_severity_of_finding(f->severity, &r->severity_text);
		r->body_off = rec_printf(r, "%s", f->message);
	}
}

void otlp_record_verdict(struct otlp_record *r, const char *identity, const char *verdict, const char *reasons,
			 const char *version, int64_t time_ms, const char *host_name)
{
	record_init(r, identity, time_ms, host_name);
	add_attr(r, "reach.verdict", verdict);
	add_attr(r, "reach.version", version);
	add_attr(r, "reach.reasons", reasons);
	r->event_name = "reach.verification";
	r->severity_number = otlp_severity_of_verdict(verdict, &r->severity_text);
	if (reasons && *reasons)
		r->body_off = rec_printf(r, "verification of %s: %s (%s)", identity ? identity : "?",
					 verdict ? verdict : "?", reasons);
	else
		r->body_off = rec_printf(r, "verification of %s: %s", identity ? identity : "?", verdict ? verdict : "?");
}

/* Items point into the records only for the length of this call. */
int otlp_encode_records(const struct otlp_resource *res, const struct otlp_record *recs, size_t n, void **out,
			size_t *out_len)
{
	struct otlp_item *items = calloc(n ? n : 1, sizeof(*items));
	struct otlp_attr *attrs = calloc(n ? n * OTLP_RECORD_MAX_ATTRS : 1, sizeof(*attrs));
	int rc = -ENOMEM;

	if (n && !recs) {
		rc = -EINVAL;
		goto cleanup;
	}
	if (!items || !attrs)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		const struct otlp_record *r = &recs[i];
		struct otlp_attr *a = attrs + i * OTLP_RECORD_MAX_ATTRS;

		for (size_t k = 0; k < r->n_attrs && k < OTLP_RECORD_MAX_ATTRS; k++)
			a[k] = (struct otlp_attr){ .key = r->attrs[k].key, .type = OTLP_STRING,
						   .str = r->text + r->attrs[k].off };
		items[i] = (struct otlp_item){ .time_ms = r->time_ms, .severity_number = r->severity_number,
					       .severity_text = r->severity_text, .event_name = r->event_name,
					       .body = r->text + r->body_off, .attrs = a,
					       .n_attrs = r->n_attrs < OTLP_RECORD_MAX_ATTRS ? r->n_attrs
										     : OTLP_RECORD_MAX_ATTRS };
	}
	rc = otlp_encode_logs(res, items, n, out, out_len);
cleanup:
	free(items);
	free(attrs);
	return rc;
}
