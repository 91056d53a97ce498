/* PolicyReports (policy_report.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/hmap.h"
#include "common/json.h"
#include "common/log.h"
#include "identity/kube_outbox.h"
#include "policy/verify.h"
#include "ship/policy_report.h"

#define NAME_MAX_LEN 253
#define LABEL_MAX 63
#define MESSAGE_MAX 1024
#define FIELD_MANAGER "reach-agent"

struct sent {
	char ns[254], name[NAME_MAX_LEN + 1];
	char *text;      /* what was last queued */
	bool seen;       /* in the current update */
};

struct policy_reports {
	struct kube_outbox *writes;
	char *node;
	struct hmap *sent;  /* "NS/NAME" -> struct sent * */
	struct policy_reports_stats stats;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void policy_report_name(const char *sa, const char *node, char *out, size_t size)
{
	char full[1024];

	snprintf(full, sizeof(full), "reach-%s-%s", sa, node);
	for (char *p = full; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			*p = '-';
	}
	if (strlen(full) > NAME_MAX_LEN) {
		/* cut, and keep names of different pairs apart */
		snprintf(full + NAME_MAX_LEN - 17, sizeof(full) - (NAME_MAX_LEN - 17), "-%016llx",
			 (unsigned long long)fnv1a(full));
	}
	snprintf(out, size, "%s", full);
}

/* A label value: at most 63 of [A-Za-z0-9-_.], starting and ending with an
 * alphanumeric; "" when nothing is left. */
static void label_value(const char *in, char *out, size_t size)
{
	size_t n = 0;

	for (; *in && n + 1 < size && n < LABEL_MAX; in++) {
		char c = *in;

		out[n++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			    c == '_' || c == '.') ? c : '-';
	}
	out[n] = '\0';
	while (n && !((out[n - 1] >= 'a' && out[n - 1] <= 'z') || (out[n - 1] >= 'A' && out[n - 1] <= 'Z') ||
		      (out[n - 1] >= '0' && out[n - 1] <= '9')))
		out[--n] = '\0';
	if (n && !((out[0] >= 'a' && out[0] <= 'z') || (out[0] >= 'A' && out[0] <= 'Z') || (out[0] >= '0' && out[0] <= '9')))
		out[0] = 'x';
}

static const struct identity_verdict *verdict_of(const struct verify_result *r, const char *identity)
{
	for (size_t i = 0; r && i < r->n_verdicts; i++)
		if (strcmp(r->verdicts[i].identity, identity) == 0)
			return &r->verdicts[i];
	return NULL;
}

/* "ReachPolicy ai/gateway:3" or "/etc/reach/policies/x.yaml:12" without the line */
static void policy_name(const char *ref, char *out, size_t size)
{
	char *colon;

	snprintf(out, size, "%s", ref && *ref ? ref : "no-policy");
	colon = strrchr(out, ':');
	if (colon && colon[1] >= '0' && colon[1] <= '9')
		*colon = '\0';
}

/* The wgpolicyk8s.io/v1alpha2 PolicyReport schema allows severity high,
 * medium or low only (critical and info came with v1beta1): an API server
 * with that CRD refuses a report carrying another value, so critical is
 * written as high and info as low (the exact one is in the result's
 * properties). */
const char *report_severity(int severity)
{
	switch (severity) {
	case SEV_CRITICAL:
	case SEV_HIGH: return "high";
	case SEV_MEDIUM: return "medium";
	default: return "low";
	}
}

static json_object *pod_ref(const struct policy_report_pod *p)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_add_str(o, "apiVersion", "v1");
	json_add_str(o, "kind", "Pod");
	json_add_str(o, "namespace", p->ns);
	json_add_str(o, "name", p->name);
	json_add_str_nonempty(o, "uid", p->uid);
	return o;
}

json_object *policy_report_build(const char *node, const char *ns, const char *sa, const struct verify_result *r,
				 const struct policy_report_pod *pods, size_t n_pods)
{
	json_object *rep = json_object_new_object(), *meta = json_object_new_object(), *labels = json_object_new_object(),
		    *ann = json_object_new_object(), *scope = json_object_new_object(),
		    *results = json_object_new_array(), *summary = json_object_new_object(), *resources;
	char identity[600], name[NAME_MAX_LEN + 1], lv[LABEL_MAX + 1], policy[320];
	const struct identity_verdict *v;
	uint64_t n_fail = 0, n_warn = 0, n_pass = 0;

	if (!rep || !meta || !labels || !ann || !scope || !results || !summary)
		goto nomem;
	snprintf(identity, sizeof(identity), "%s/%s", ns, sa);
	v = verdict_of(r, identity);
	policy_name(v ? v->policy_ref : NULL, policy, sizeof(policy));
	policy_report_name(sa, node, name, sizeof(name));

	json_add_str(rep, "apiVersion", "wgpolicyk8s.io/v1alpha2");
	json_add_str(rep, "kind", "PolicyReport");
	json_add_str(meta, "name", name);
	json_add_str(meta, "namespace", ns);
	json_add_str(labels, "app.kubernetes.io/managed-by", "reach");
	label_value(node, lv, sizeof(lv));
	json_add_str(labels, "reach.dev/node", lv);
	label_value(sa, lv, sizeof(lv));
	json_add_str(labels, "reach.dev/service-account", lv);
	json_add_str(labels, "reach.dev/verdict", v ? verdict_name(v->verdict) : "unverified");
	json_add(meta, "labels", labels);
	labels = NULL;
	json_add_str(ann, "reach.dev/identity", identity);
	json_add_str(ann, "reach.dev/node", node);
	json_add_str(ann, "reach.dev/verdict", v ? verdict_name(v->verdict) : "unverified");
	if (v && v->reasons[0])
		json_add_str(ann, "reach.dev/verdict-reasons", v->reasons);
	if (v && v->epoch[0])
		json_add_str(ann, "reach.dev/epoch", v->epoch);
	json_add(meta, "annotations", ann);
	ann = NULL;
	json_add(rep, "metadata", meta);
	meta = NULL;
	json_add_str(scope, "apiVersion", "v1");
	json_add_str(scope, "kind", "ServiceAccount");
	json_add_str(scope, "namespace", ns);
	json_add_str(scope, "name", sa);
	json_add(rep, "scope", scope);
	scope = NULL;

	for (size_t i = 0; r && i < r->n_findings; i++) {
		const struct finding *f = &r->findings[i];
		json_object *res, *props;
		char msg[MESSAGE_MAX];
		bool fail = f->severity >= SEV_MEDIUM;

		if (strcmp(f->identity, identity) != 0)
			continue;
		res = json_object_new_object();
		props = json_object_new_object();
		resources = json_object_new_array();
		if (!res || !props || !resources) {
			json_object_put(res);
			json_object_put(props);
			json_object_put(resources);
			goto nomem;
		}
		snprintf(msg, sizeof(msg), "%s", f->message[0] ? f->message : f->object);
		json_add_str(res, "source", "reach");
		json_add_str(res, "policy", policy);
		json_add_str(res, "rule", finding_kind_name(f->kind));
		json_add_str(res, "category", f->edge_kind);
		json_add_str(res, "result", fail ? "fail" : "warn");
		json_add_str(res, "severity", report_severity(f->severity));
		json_add_str(res, "message", msg);
		json_add_bool(res, "scored", true);
		for (size_t p = 0; p < n_pods; p++)
			if (strcmp(pods[p].ns, ns) == 0 && strcmp(pods[p].service_account, sa) == 0)
				json_object_array_add(resources, pod_ref(&pods[p]));
		json_add(res, "resources", resources);
		json_add_str(props, "finding-id", f->id);
		json_add_str(props, "object", f->object);
		if (f->executables[0])
			json_add_str(props, "executables", f->executables);
		if (f->policy_ref[0])
			json_add_str(props, "policy-ref", f->policy_ref);
		/* reach's own scale, where v1alpha2's three levels lose it */
		json_add_str(props, "reach-severity", severity_name(f->severity));
		json_add(res, "properties", props);
		if (f->first_ms > 0) {
			json_object *ts = json_object_new_object();

			if (ts) {
				json_add_int(ts, "seconds", f->first_ms / 1000);
				json_add_int(ts, "nanos", 0);
				json_add(res, "timestamp", ts);
			}
		}
		json_object_array_add(results, res);
		if (fail)
			n_fail++;
		else
			n_warn++;
	}
	/* a verified identity without findings passes its policy: one pass */
	if (v && v->verdict == VERDICT_PASS && !n_fail && !n_warn)
		n_pass = 1;
	json_add(rep, "results", results);
	results = NULL;
	json_add_u64(summary, "pass", n_pass);
	json_add_u64(summary, "fail", n_fail);
	json_add_u64(summary, "warn", n_warn);
	json_add_u64(summary, "error", v && v->verdict == VERDICT_INCONCLUSIVE ? 1 : 0);
	json_add_u64(summary, "skip", v ? 0 : 1);
	json_add(rep, "summary", summary);
	return rep;
nomem:
	json_object_put(rep);
	json_object_put(meta);
	json_object_put(labels);
	json_object_put(ann);
	json_object_put(scope);
	json_object_put(results);
	json_object_put(summary);
	return NULL;
}

struct policy_reports *policy_reports_new(struct kube_outbox *writes, const char *node)
{
	struct policy_reports *pr = calloc(1, sizeof(*pr));

	if (!pr)
		return NULL;
	pr->writes = writes;
	pr->node = strdup(node ? node : "");
	pr->sent = hmap_new();
	if (!pr->node || !pr->sent) {
		policy_reports_free(pr);
		return NULL;
	}
	return pr;
}

static void sent_free(void *p)
{
	struct sent *s = p;

	if (s)
		free(s->text);
	free(s);
}

void policy_reports_free(struct policy_reports *pr)
{
	if (!pr)
		return;
	hmap_free(pr->sent, sent_free);
	free(pr->node);
	free(pr);
}

static void report_path(const char *ns, const char *name, char *out, size_t size)
{
	snprintf(out, size, "/apis/wgpolicyk8s.io/v1alpha2/namespaces/%s/policyreports/%s", ns, name);
}

void policy_reports_update(struct policy_reports *pr, const struct verify_result *r,
			   const struct policy_report_pod *pods, size_t n_pods)
{
	struct hmap_iter it;
	const char *key;
	void *v;

	if (!pr)
		return;
	hmap_iter_init(&it, pr->sent);
	while (hmap_iter_next(&it, &key, &v))
		((struct sent *)v)->seen = false;
	for (size_t i = 0; i < n_pods; i++) {
		const struct policy_report_pod *p = &pods[i];
		char name[NAME_MAX_LEN + 1], k[600], path[800];
		struct sent *s;
		json_object *rep;
		const char *text;
		bool done = false;

		if (!p->service_account || !*p->service_account)
			continue;
		policy_report_name(p->service_account, pr->node, name, sizeof(name));
		snprintf(k, sizeof(k), "%s/%s", p->ns, name);
		s = hmap_get(pr->sent, k);
		if (s && s->seen)
			continue; /* another pod of the same service account */
		for (size_t j = 0; j < i && !done; j++)
			done = strcmp(pods[j].ns, p->ns) == 0 && strcmp(pods[j].service_account, p->service_account) == 0;
		if (done)
			continue;
		rep = policy_report_build(pr->node, p->ns, p->service_account, r, pods, n_pods);
		text = rep ? json_text(rep, JSON_COMPACT) : NULL;
		if (!text) {
			json_object_put(rep);
			continue;
		}
		if (!s) {
			s = calloc(1, sizeof(*s));
			if (!s || hmap_put(pr->sent, k, s, NULL) != 0) {
				free(s);
				json_object_put(rep);
				continue;
			}
			snprintf(s->ns, sizeof(s->ns), "%s", p->ns);
			snprintf(s->name, sizeof(s->name), "%s", name);
		}
		s->seen = true;
		if (!s->text || strcmp(s->text, text) != 0) {
			char qpath[900];

			free(s->text);
			s->text = strdup(text);
			report_path(p->ns, name, path, sizeof(path));
			/* server-side apply: creates or replaces, no resourceVersion to track */
			snprintf(qpath, sizeof(qpath), "%s?fieldManager=" FIELD_MANAGER "&force=true", path);
			if (kube_outbox_put(pr->writes, k, "PATCH", qpath, rep, "application/apply-patch+yaml", 0) == 0)
				pr->stats.applies++;
		}
		json_object_put(rep);
	}
	/* service accounts with no pod left on this node: their reports go */
	for (;;) {
		struct sent *gone = NULL;
		char k[600], path[800];

		hmap_iter_init(&it, pr->sent);
		while (!gone && hmap_iter_next(&it, &key, &v))
			if (!((struct sent *)v)->seen) {
				gone = v;
				snprintf(k, sizeof(k), "%s", key);
			}
		if (!gone)
			break;
		report_path(gone->ns, gone->name, path, sizeof(path));
		if (kube_outbox_put(pr->writes, k, "DELETE", path, NULL, NULL, 1) == 0)
			pr->stats.deletes++;
		sent_free(hmap_remove(pr->sent, k));
	}
	pr->stats.reports = hmap_count(pr->sent);
}

void policy_reports_get_stats(const struct policy_reports *pr, struct policy_reports_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (pr)
		*out = pr->stats;
}
