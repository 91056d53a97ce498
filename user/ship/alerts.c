#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/hmap.h"
#include "common/json.h"
#include "identity/identity.h"
#include "ship/alerts.h"
#include "ship/otlp.h"

#define DEFAULT_RESEND_MS (60 * 1000LL)
#define DEFAULT_RESOLVE_MS (5 * 60 * 1000LL)
#define DEFAULT_BURST 10
#define DEFAULT_REFILL 10
#define DEFAULT_WINDOW_MS (10 * 60 * 1000LL)

struct alert {
	char *key;
	struct json_object *labels, *annotations;
	int64_t starts_ms;
	bool resolved;
	int64_t resolved_ms;
	int am_resolved_left;    /* resolved sends still owed to Alertmanager */
	bool wh_pending;         /* firing/resolved changed since the webhook last got it */
	/* what the last alerts_due() put in flight, and in which state */
	bool am_inflight, wh_inflight, inflight_resolved;
};

/* Rate limit and suppression state of one identity. */
struct ident {
	double tokens;
	int64_t refill_ms;
	uint64_t suppressed;        /* since start */
	uint64_t episode;           /* while the suppression alert fires */
	int64_t last_suppressed_ms;
};

struct alerts {
	struct alerts_config cfg;
	char *generator_url;
	char *node;
	struct hmap *alerts;        /* key -> struct alert */
	struct hmap *idents;        /* identity -> struct ident */
	/* Finding ids the limiter refused and that are not resolved: asked
	 * again (each verify pass may re-report), they are counted once. */
	struct hmap *refused;
	/* Alertmanager is due at once after a state change: changes counts
	 * them, am_acked the count its last successful send covered. */
	uint64_t changes, am_acked, am_inflight_changes;
	int64_t am_last_ok_ms;
	bool am_ever_ok;
	bool want_am, want_wh;      /* targets configured (from alerts_due) */
	bool am_inflight_any, wh_inflight_any;
	struct alerts_stats stats;
};

/* ---- setup --------------------------------------------------------------- */

void alerts_config_default(struct alerts_config *c)
{
	memset(c, 0, sizeof(*c));
	c->min_severity = SEV_MEDIUM;
	c->resend_interval_ms = DEFAULT_RESEND_MS;
	c->resolve_timeout_ms = DEFAULT_RESOLVE_MS;
	c->burst = DEFAULT_BURST;
	c->refill_per_window = DEFAULT_REFILL;
	c->window_ms = DEFAULT_WINDOW_MS;
}

static void apply_defaults(struct alerts_config *c)
{
	if (c->resend_interval_ms <= 0)
		c->resend_interval_ms = DEFAULT_RESEND_MS;
	if (c->resolve_timeout_ms <= 0)
		c->resolve_timeout_ms = DEFAULT_RESOLVE_MS;
	if (!c->burst)
		c->burst = DEFAULT_BURST;
	if (!c->refill_per_window)
		c->refill_per_window = DEFAULT_REFILL;
	if (c->window_ms <= 0)
		c->window_ms = DEFAULT_WINDOW_MS;
	c->generator_url = NULL; /* our copy lives in struct alerts */
}

struct alerts *alerts_new(const struct alerts_config *cfg, const char *node)
{
	struct alerts *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	if (cfg)
		a->cfg = *cfg;
	else
		alerts_config_default(&a->cfg);
	a->generator_url = strdup(cfg && cfg->generator_url ? cfg->generator_url : "");
	apply_defaults(&a->cfg);
	a->node = strdup(node ? node : "");
	a->alerts = hmap_new();
	a->idents = hmap_new();
	a->refused = hmap_new();
	a->want_am = a->want_wh = true;
	if (!a->generator_url || !a->node || !a->alerts || !a->idents || !a->refused) {
		alerts_free(a);
		return NULL;
	}
	return a;
}

static void alert_free(void *p)
{
	struct alert *al = p;

	if (!al)
		return;
	json_object_put(al->labels);
	json_object_put(al->annotations);
	free(al->key);
	free(al);
}

void alerts_free(struct alerts *a)
{
	if (!a)
		return;
	hmap_free(a->alerts, alert_free);
	hmap_free(a->idents, free);
	hmap_free(a->refused, NULL);
	free(a->generator_url);
	free(a->node);
	free(a);
}

/* ---- alert state ----------------------------------------------------------- */

static void make_key(char *out, size_t size, const char *type, const char *a, const char *b)
{
	/* \x1f cannot occur in an identity or finding id: keys never collide */
	snprintf(out, size, "%s\x1f%s%s%s", type, a, b ? "\x1f" : "", b ? b : "");
}

/* alertname, identity, namespace, serviceaccount, node: common to all. */
static struct json_object *base_labels(const char *alertname, const char *identity, const char *node)
{
	struct json_object *l = json_object_new_object();
	char ns[256], sa[256];

	if (!l)
		return NULL;
	identity_split_k8s(identity, ns, sizeof(ns), sa, sizeof(sa));
	json_add_str_nonempty(l, "alertname", alertname);
	json_add_str_nonempty(l, "identity", identity);
	json_add_str_nonempty(l, "namespace", ns);
	json_add_str_nonempty(l, "serviceaccount", sa);
	json_add_str_nonempty(l, "node", node);
	return l;
}

static void note_change(struct alerts *a, struct alert *al)
{
	al->wh_pending = true;
	a->changes++;
}

/* Opens a new alert (labels owned by it) or re-opens a resolved one with
 * the same key; NULL on ENOMEM (labels put). */
static struct alert *open_alert(struct alerts *a, const char *key, struct json_object *labels, int64_t now_ms)
{
	struct alert *al = hmap_get(a->alerts, key);

	if (al) {
		json_object_put(al->labels);
	} else {
		al = calloc(1, sizeof(*al));
		if (!al || !(al->key = strdup(key)) || hmap_put(a->alerts, key, al, NULL)) {
			alert_free(al);
			json_object_put(labels);
			return NULL;
		}
	}
	al->labels = labels;
	al->starts_ms = now_ms;
	al->resolved = false;
	al->resolved_ms = 0;
	al->am_resolved_left = 0;
	note_change(a, al);
	return al;
}

static void resolve_alert(struct alerts *a, struct alert *al, int64_t now_ms)
{
	if (!al || al->resolved)
		return;
	al->resolved = true;
	al->resolved_ms = now_ms > al->starts_ms ? now_ms : al->starts_ms;
	al->am_resolved_left = ALERTS_RESOLVED_SENDS;
	note_change(a, al);
}

static bool firing(const struct alert *al)
{
	return al && !al->resolved;
}

static void set_annotations(struct alert *al, struct json_object *ann)
{
	json_object_put(al->annotations);
	al->annotations = ann;
}

/* ---- rate limit -------------------------------------------------------------- */

static struct ident *ident_get(struct alerts *a, const char *identity, int64_t now_ms)
{
	struct ident *id = hmap_get(a->idents, identity);

	if (id)
		return id;
	id = calloc(1, sizeof(*id));
	if (!id || hmap_put(a->idents, identity, id, NULL)) {
		free(id);
		return NULL;
	}
	id->tokens = a->cfg.burst;
	id->refill_ms = now_ms;
	return id;
}

static bool take_token(const struct alerts_config *c, struct ident *id, int64_t now_ms)
{
	if (now_ms > id->refill_ms) {
		id->tokens += (double)(now_ms - id->refill_ms) * c->refill_per_window / (double)c->window_ms;
		if (id->tokens > c->burst)
			id->tokens = c->burst;
	}
	id->refill_ms = now_ms; /* a clock stepped back refills nothing */
	if (id->tokens < 1.0)
		return false;
	id->tokens -= 1.0;
	return true;
}

static int suppression_alert(struct alerts *a, const char *identity, struct ident *id, int64_t now_ms)
{
	char key[1024], text[800], count[32];
	struct json_object *ann = json_object_new_object();
	struct alert *al;

	make_key(key, sizeof(key), "suppressed", identity, NULL);
	al = hmap_get(a->alerts, key);
	if (!firing(al)) {
		struct json_object *l = base_labels("ReachAlertsSuppressed", identity, a->node);

		if (l)
			json_add_str(l, "severity", "warning");
		al = l ? open_alert(a, key, l, now_ms) : NULL;
	}
	if (!al || !ann) {
		json_object_put(ann);
		return -ENOMEM;
	}
	snprintf(text, sizeof(text),
		 "%llu new finding alerts of %s were suppressed by the rate limit (%u at once, %u per %lld s)",
		 (unsigned long long)id->episode, identity, a->cfg.burst, a->cfg.refill_per_window,
		 (long long)(a->cfg.window_ms / 1000));
	snprintf(count, sizeof(count), "%llu", (unsigned long long)id->episode);
	json_add_str_nonempty(ann, "summary", text);
	json_add_str_nonempty(ann, "suppressed", count);
	set_annotations(al, ann);
	return 0;
}

static int suppress(struct alerts *a, const struct finding *f, struct ident *id, int64_t now_ms)
{
	const char *identity = f->identity;
	char key[1024];

	if (hmap_get(a->refused, f->id))
		return 0; /* counted when first refused */
	if (hmap_put(a->refused, f->id, a, NULL))
		return -ENOMEM;
	make_key(key, sizeof(key), "suppressed", identity, NULL);
	if (!firing(hmap_get(a->alerts, key)))
		id->episode = 0;
	id->suppressed++;
	id->episode++;
	id->last_suppressed_ms = now_ms;
	a->stats.suppressed_total++;
	return suppression_alert(a, identity, id, now_ms);
}

/* A suppression alert resolves once a whole window passed without a refusal. */
static void expire_suppression(struct alerts *a, int64_t now_ms)
{
	struct hmap_iter it;
	const char *identity;
	void *v;

	hmap_iter_init(&it, a->idents);
	while (hmap_iter_next(&it, &identity, &v)) {
		struct ident *id = v;
		char key[1024];
		struct alert *al;

		make_key(key, sizeof(key), "suppressed", identity, NULL);
		al = hmap_get(a->alerts, key);
		if (firing(al) && now_ms - id->last_suppressed_ms >= a->cfg.window_ms)
			resolve_alert(a, al, now_ms);
	}
}

/* ---- findings and verdicts ------------------------------------------------- */

static struct json_object *finding_labels(const struct finding *f, const char *node)
{
	struct json_object *l = base_labels("ReachFinding", f->identity, node);

	if (!l)
		return NULL;
	json_add_str_nonempty(l, "kind", finding_kind_name(f->kind));
	json_add_str_nonempty(l, "severity", severity_name(f->severity));
	json_add_str_nonempty(l, "finding_id", f->id);
	return l;
}

static struct json_object *finding_annotations(const struct finding *f)
{
	struct json_object *o = json_object_new_object();
	char text[2100];

	if (!o)
		return NULL;
	snprintf(text, sizeof(text), "%s %s (%s): %s", f->identity, finding_kind_name(f->kind),
		 severity_name(f->severity), f->message);
	json_add_str_nonempty(o, "summary", text);
	snprintf(text, sizeof(text), "%s %s", f->edge_kind, f->object);
	json_add_str_nonempty(o, "edge", f->edge_kind[0] || f->object[0] ? text : NULL);
	json_add_str_nonempty(o, "executables", f->executables);
	json_add_str_nonempty(o, "policy", f->policy_ref);
	return o;
}

int alerts_finding_opened(struct alerts *a, const struct finding *f, const char *node, int64_t now_ms)
{
	struct json_object *ann, *labels;
	struct alert *al;
	struct ident *id;
	char key[64];
	int rc;

	if (!a || !f || !f->id[0])
		return -EINVAL;
	make_key(key, sizeof(key), "finding", f->id, NULL);
	al = hmap_get(a->alerts, key);
	if (f->severity < a->cfg.min_severity) {
		resolve_alert(a, al, now_ms); /* its severity dropped below the bar */
		return ALERTS_IGNORED;
	}
	if (!(ann = finding_annotations(f)))
		return -ENOMEM;
	if (firing(al)) { /* labels stay as opened: a new label set is another alert */
		set_annotations(al, ann);
		return ALERTS_OPENED;
	}
	if (!(id = ident_get(a, f->identity, now_ms))) {
		json_object_put(ann);
		return -ENOMEM;
	}
	if (!take_token(&a->cfg, id, now_ms)) {
		json_object_put(ann);
		rc = suppress(a, f, id, now_ms);
		return rc ? rc : ALERTS_SUPPRESSED;
	}
	labels = finding_labels(f, node ? node : a->node);
	if (!labels || !(al = open_alert(a, key, labels, now_ms))) {
		json_object_put(ann);
		return -ENOMEM;
	}
	set_annotations(al, ann);
	hmap_remove(a->refused, f->id);
	return ALERTS_OPENED;
}

int alerts_finding_resolved(struct alerts *a, const char *finding_id, int64_t now_ms)
{
	struct alert *al;
	char key[64];

	if (!a || !finding_id)
		return -EINVAL;
	hmap_remove(a->refused, finding_id);
	make_key(key, sizeof(key), "finding", finding_id, NULL);
	al = hmap_get(a->alerts, key);
	if (!firing(al))
		return -ENOENT;
	resolve_alert(a, al, now_ms);
	return 0;
}

static const char *const ALERT_VERDICTS[] = { "fail", "drifted", "inconclusive" };

static struct json_object *verdict_annotations(const char *identity, const char *verdict, const char *reasons,
					       const char *version)
{
	struct json_object *o = json_object_new_object();
	char text[1400];
	int n;

	if (!o)
		return NULL;
	n = snprintf(text, sizeof(text), "reach verification of %s: %s", identity, verdict);
	if (version && *version && n > 0 && (size_t)n < sizeof(text))
		n += snprintf(text + n, sizeof(text) - n, " at version %s", version);
	if (reasons && *reasons && n > 0 && (size_t)n < sizeof(text))
		snprintf(text + n, sizeof(text) - n, " (%s)", reasons);
	json_add_str_nonempty(o, "summary", text);
	json_add_str_nonempty(o, "reasons", reasons);
	json_add_str_nonempty(o, "version", version);
	return o;
}

static int open_verdict(struct alerts *a, const char *key, const char *identity, const char *verdict,
			struct json_object *ann, int64_t now_ms)
{
	struct alert *al = hmap_get(a->alerts, key);
	struct json_object *l;

	if (!firing(al)) {
		l = base_labels("ReachVerification", identity, a->node);
		if (l) {
			json_add_str_nonempty(l, "severity", strcmp(verdict, "inconclusive") ? "high" : "medium");
			json_add_str_nonempty(l, "verdict", verdict);
		}
		al = l ? open_alert(a, key, l, now_ms) : NULL;
	}
	if (!al) {
		json_object_put(ann);
		return -ENOMEM;
	}
	set_annotations(al, ann);
	return 0;
}

int alerts_verdict(struct alerts *a, const char *identity, const char *verdict, const char *reasons,
		   const char *version, int64_t now_ms)
{
	const char *open = NULL;
	struct json_object *ann;
	char key[1024];

	if (!a || !identity || !verdict)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(ALERT_VERDICTS) / sizeof(ALERT_VERDICTS[0]); i++)
		if (!strcmp(verdict, ALERT_VERDICTS[i]))
			open = ALERT_VERDICTS[i];
	if (!open && strcmp(verdict, "pass"))
		return -EINVAL;
	/* another verdict's alert of this identity ends: one verdict at a time */
	for (size_t i = 0; i < sizeof(ALERT_VERDICTS) / sizeof(ALERT_VERDICTS[0]); i++) {
		if (ALERT_VERDICTS[i] == open)
			continue;
		make_key(key, sizeof(key), "verdict", identity, ALERT_VERDICTS[i]);
		resolve_alert(a, hmap_get(a->alerts, key), now_ms);
	}
	if (!open)
		return 0;
	if (!(ann = verdict_annotations(identity, open, reasons, version)))
		return -ENOMEM;
	make_key(key, sizeof(key), "verdict", identity, open);
	return open_verdict(a, key, identity, open, ann, now_ms);
}

/* ---- what to send ------------------------------------------------------------ */

static struct json_object *rfc3339(int64_t ms)
{
	json_object *t = json_new_time_ms(ms);

	return t ? t : json_object_new_string("1970-01-01T00:00:00.000Z");
}

static int by_start(const void *x, const void *y)
{
	const struct alert *a = *(struct alert *const *)x, *b = *(struct alert *const *)y;

	if (a->starts_ms != b->starts_ms)
		return a->starts_ms < b->starts_ms ? -1 : 1;
	return strcmp(a->key, b->key);
}

/* Every alert, oldest first (a stable order for receivers and tests). */
static struct alert **sorted_alerts(const struct alerts *a, size_t *n)
{
	struct alert **v = malloc((hmap_count(a->alerts) + 1) * sizeof(*v));
	struct hmap_iter it;
	const char *key;
	void *val;

	*n = 0;
	if (!v)
		return NULL;
	hmap_iter_init(&it, a->alerts);
	while (hmap_iter_next(&it, &key, &val))
		v[(*n)++] = val;
	qsort(v, *n, sizeof(*v), by_start);
	return v;
}

static int add_common(struct json_object *o, const struct alert *al)
{
	struct json_object *l = json_copy(al->labels), *ann = json_copy(al->annotations), *s = rfc3339(al->starts_ms);

	if (!l || !ann || !s) {
		json_object_put(l);
		json_object_put(ann);
		json_object_put(s);
		return -ENOMEM;
	}
	json_add(o, "labels", l);
	json_add(o, "annotations", ann);
	json_add(o, "startsAt", s);
	return 0;
}

static int am_add(struct alerts *a, struct json_object *arr, struct alert *al, int64_t now_ms)
{
	struct json_object *o = json_object_new_object();
	int64_t ends = firing(al) ? now_ms + a->cfg.resolve_timeout_ms : al->resolved_ms;

	if (!o || add_common(o, al) || json_object_array_add(arr, o)) {
		json_object_put(o);
		return -ENOMEM;
	}
	json_add(o, "endsAt", rfc3339(ends));
	if (a->generator_url[0])
		json_add_str(o, "generatorURL", a->generator_url);
	return 0;
}

static int wh_add(struct json_object *arr, struct alert *al)
{
	struct json_object *o = json_object_new_object();

	if (!o || add_common(o, al) || json_object_array_add(arr, o)) {
		json_object_put(o);
		return -ENOMEM;
	}
	json_add_str(o, "status", firing(al) ? "firing" : "resolved");
	json_add(o, "endsAt", firing(al) ? NULL : rfc3339(al->resolved_ms));
	return 0;
}

static bool am_wants(const struct alert *al)
{
	return firing(al) || al->am_resolved_left > 0;
}

static bool am_is_due(const struct alerts *a, int64_t now_ms)
{
	return a->changes != a->am_acked || !a->am_ever_ok || now_ms - a->am_last_ok_ms >= a->cfg.resend_interval_ms;
}

/* Drops resolved alerts that every configured target has been told about. */
static void forget_delivered(struct alerts *a)
{
	size_t n;
	struct alert **v = sorted_alerts(a, &n);

	for (size_t i = 0; v && i < n; i++) {
		struct alert *al = v[i];

		if (firing(al) || al->am_inflight || al->wh_inflight)
			continue;
		if ((a->want_am && al->am_resolved_left > 0) || (a->want_wh && al->wh_pending))
			continue;
		alert_free(hmap_remove(a->alerts, al->key));
	}
	free(v);
}

static int build_bodies(struct alerts *a, struct alert **v, size_t n, int64_t now_ms, struct json_object *am,
			struct json_object *wh_alerts)
{
	bool am_due = am && am_is_due(a, now_ms);

	for (size_t i = 0; i < n; i++) {
		struct alert *al = v[i];

		al->inflight_resolved = !firing(al);
		if (am_due && am_wants(al)) {
			if (am_add(a, am, al, now_ms))
				return -ENOMEM;
			al->am_inflight = true;
		}
		if (wh_alerts && al->wh_pending) {
			if (wh_add(wh_alerts, al))
				return -ENOMEM;
			al->wh_inflight = true;
		}
	}
	return 0;
}

static void clear_inflight(struct alerts *a)
{
	struct hmap_iter it;
	const char *key;
	void *v;

	hmap_iter_init(&it, a->alerts);
	while (hmap_iter_next(&it, &key, &v)) {
		struct alert *al = v;

		al->am_inflight = al->wh_inflight = false;
	}
	a->am_inflight_any = a->wh_inflight_any = false;
}

static struct json_object *webhook_envelope(const struct alerts *a, struct json_object *alerts)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_add_str(o, "version", "reach.v1");
	json_add_str(o, "node", a->node);
	json_add(o, "alerts", alerts);
	return o;
}

int alerts_due(struct alerts *a, int64_t now_ms, struct json_object **alertmanager_body,
	       struct json_object **webhook_body)
{
	struct json_object *am = NULL, *wh = NULL;
	struct alert **v;
	size_t n;
	int rc = -ENOMEM;

	if (alertmanager_body)
		*alertmanager_body = NULL;
	if (webhook_body)
		*webhook_body = NULL;
	a->want_am = alertmanager_body != NULL;
	a->want_wh = webhook_body != NULL;
	clear_inflight(a);
	expire_suppression(a, now_ms);
	forget_delivered(a);
	if (!(v = sorted_alerts(a, &n)))
		return -ENOMEM;
	if ((a->want_am && !(am = json_object_new_array())) || (a->want_wh && !(wh = json_object_new_array())))
		goto cleanup;
	if (build_bodies(a, v, n, now_ms, am, wh))
		goto cleanup;
	if (am && json_object_array_length(am)) {
		a->am_inflight_any = true;
		a->am_inflight_changes = a->changes;
		*alertmanager_body = am;
		am = NULL;
	} else if (am) {
		a->am_acked = a->changes; /* nothing to tell: the changes are delivered */
	}
	if (wh && json_object_array_length(wh)) {
		if (!(*webhook_body = webhook_envelope(a, wh)))
			goto cleanup;
		a->wh_inflight_any = true;
		wh = NULL;
	}
	rc = 0;
cleanup:
	if (rc) {
		json_object_put(alertmanager_body ? *alertmanager_body : NULL);
		if (alertmanager_body)
			*alertmanager_body = NULL;
		clear_inflight(a);
	}
	json_object_put(am);
	json_object_put(wh);
	free(v);
	return rc;
}

static void am_delivered(struct alerts *a, int64_t now_ms)
{
	struct hmap_iter it;
	const char *key;
	void *v;

	a->am_acked = a->am_inflight_changes;
	a->am_last_ok_ms = now_ms;
	a->am_ever_ok = true;
	hmap_iter_init(&it, a->alerts);
	while (hmap_iter_next(&it, &key, &v)) {
		struct alert *al = v;

		/* a resolved send counts only if it was resolved when sent */
		if (al->am_inflight && al->inflight_resolved && !firing(al) && al->am_resolved_left > 0)
			al->am_resolved_left--;
	}
}

static void wh_delivered(struct alerts *a)
{
	struct hmap_iter it;
	const char *key;
	void *v;

	hmap_iter_init(&it, a->alerts);
	while (hmap_iter_next(&it, &key, &v)) {
		struct alert *al = v;

		/* changed again since alerts_due(): the new state is still owed */
		if (al->wh_inflight && al->inflight_resolved == !firing(al))
			al->wh_pending = false;
	}
}

void alerts_sent(struct alerts *a, bool alertmanager_ok, bool webhook_ok, int64_t now_ms)
{
	if (a->am_inflight_any) {
		if (alertmanager_ok) {
			am_delivered(a, now_ms);
			a->stats.sent_ok++;
		} else {
			a->stats.send_failed++;
		}
	}
	if (a->wh_inflight_any) {
		if (webhook_ok) {
			wh_delivered(a);
			a->stats.sent_ok++;
		} else {
			a->stats.send_failed++;
		}
	}
	clear_inflight(a);
	forget_delivered(a);
}

/* ---- stats ----------------------------------------------------------------------- */

void alerts_stats(const struct alerts *a, struct alerts_stats *out)
{
	struct hmap_iter it;
	const char *key;
	void *v;

	*out = a->stats;
	out->active = 0;
	hmap_iter_init(&it, a->alerts);
	while (hmap_iter_next(&it, &key, &v))
		out->active += firing(v);
}

static int by_name(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

void alerts_suppressed_by_identity(const struct alerts *a,
				   void (*cb)(void *ctx, const char *identity, uint64_t suppressed), void *ctx)
{
	const char **names = malloc((hmap_count(a->idents) + 1) * sizeof(*names));
	struct hmap_iter it;
	const char *name;
	size_t n = 0;
	void *v;

	if (!names)
		return;
	hmap_iter_init(&it, a->idents);
	while (hmap_iter_next(&it, &name, &v))
		if (((struct ident *)v)->suppressed)
			names[n++] = name;
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++)
		cb(ctx, names[i], ((struct ident *)hmap_get(a->idents, names[i]))->suppressed);
	free(names);
}
