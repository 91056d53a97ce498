/* The alerts output (output.h): findings and verdicts to Alertmanager
 * (v2 API) and a webhook. The alert state (alerts.h: grouping, rate
 * limits, resolution) changes on the main loop under a lock; a thread of
 * this module posts what is due, so a slow receiver never holds the loop. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include "common/fileio.h"
#include "common/https_client.h"
#include "common/json.h"
#include "common/log.h"
#include "ship/alerts.h"
#include "ship/output.h"
#include "ship/shipping.h"

#define ALERT_POLL_MS 1000
#define MAX_ALERT_TARGETS 16

struct alert_target {
	char url[2048];
	bool failing; /* for logging state changes only */
};

struct alerts_out {
	struct alerts *alerts;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool thread_started;
	atomic_int stopping;
	struct alert_target am[MAX_ALERT_TARGETS];
	int n_am;
	struct alert_target webhook;
	bool has_webhook;
	const char *token_file, *ca;
};

static bool post_json(struct alerts_out *s, struct alert_target *t, json_object *body)
{
	const char *text = json_text(body, JSON_C_TO_STRING_PLAIN);
	struct http_target ht = { .url = t->url, .token_file = s->token_file, .ca_file = s->ca,
				  .timeout_ms = 10000, .cancel = &s->stopping };
	struct http_result res;
	char what[256];
	bool ok;

	ok = http_post(&ht, "application/json", text, strlen(text), false, &res) == 0 && res.status >= 200 &&
	     res.status < 300;
	http_target_describe(&ht, what, sizeof(what));
	if (!ok && !t->failing)
		log_warn("alerts: %s: %s (retried every second; alerts stay due)", what,
			 res.status ? "HTTP error" : res.error);
	else if (ok && t->failing)
		log_info("alerts: %s: delivering again", what);
	if (!ok && res.status && !t->failing)
		log_warn("alerts: %s answered %ld", what, res.status);
	t->failing = !ok;
	return ok;
}

static void *alert_loop(void *arg)
{
	struct alerts_out *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!atomic_load(&s->stopping)) {
		struct timespec until;
		json_object *am = NULL, *wh = NULL;
		bool am_ok = true, wh_ok = true;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += ALERT_POLL_MS / 1000;
		pthread_cond_timedwait(&s->wake, &s->lock, &until);
		if (atomic_load(&s->stopping))
			break;
		if (alerts_due(s->alerts, unix_now_ms(), s->n_am ? &am : NULL, s->has_webhook ? &wh : NULL) || (!am && !wh))
			continue;
		pthread_mutex_unlock(&s->lock); /* the network without the lock */
		for (int i = 0; am && i < s->n_am; i++)
			if (!post_json(s, &s->am[i], am))
				am_ok = false;
		if (wh)
			wh_ok = post_json(s, &s->webhook, wh);
		json_object_put(am);
		json_object_put(wh);
		pthread_mutex_lock(&s->lock);
		alerts_sent(s->alerts, am_ok, wh_ok, unix_now_ms());
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void alerts_destroy(void *state)
{
	struct alerts_out *s = state;

	if (!s)
		return;
	if (s->thread_started) {
		pthread_mutex_lock(&s->lock);
		atomic_store(&s->stopping, 1);
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	alerts_free(s->alerts);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int setup_targets(struct alerts_out *s, const struct shipping_opts *o, char *err, size_t err_size)
{
	int rc;

	if (o->n_alertmanagers > MAX_ALERT_TARGETS) {
		format_error(err, err_size, "at most %d Alertmanagers", MAX_ALERT_TARGETS);
		return -EINVAL;
	}
	for (int i = 0; i < o->n_alertmanagers; i++) {
		struct http_target t = { .url = s->am[i].url, .token_file = o->alert_token_file, .ca_file = o->alert_ca };
		const char *base = o->alertmanagers[i];
		size_t n = strlen(base);

		/* the base URL, as Alertmanager's own flags take it */
		snprintf(s->am[i].url, sizeof(s->am[i].url), "%.*s/api/v2/alerts", (int)(n && base[n - 1] == '/' ? n - 1 : n),
			 base);
		if ((rc = http_target_check(&t, err, err_size)))
			return rc;
	}
	s->n_am = o->n_alertmanagers;
	if (o->webhook) {
		struct http_target t = { .url = o->webhook, .token_file = o->alert_token_file, .ca_file = o->alert_ca };

		snprintf(s->webhook.url, sizeof(s->webhook.url), "%s", o->webhook);
		if ((rc = http_target_check(&t, err, err_size)))
			return rc;
		s->has_webhook = true;
	}
	s->token_file = o->alert_token_file;
	s->ca = o->alert_ca;
	return 0;
}

static int alerts_init(void **state, const struct shipping_opts *o, const struct ship_env *env, char *err,
		       size_t err_size)
{
	struct alerts_config cfg;
	struct alerts_out *s;
	int rc;

	*state = NULL;
	if (!o->n_alertmanagers && !o->webhook)
		return 0;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	if ((rc = setup_targets(s, o, err, err_size)))
		goto fail;
	alerts_config_default(&cfg);
	if (o->alert_min_severity) /* the config loader accepted it: a known name */
		cfg.min_severity = (enum severity)severity_from_name(o->alert_min_severity);
	rc = -ENOMEM;
	if (!(s->alerts = alerts_new(&cfg, env->node)))
		goto fail;
	if ((rc = pthread_create(&s->thread, NULL, alert_loop, s))) {
		format_error(err, err_size, "alerts thread: %s", strerror(rc));
		rc = -rc;
		goto fail;
	}
	s->thread_started = true;
	log_info("alerts: %d Alertmanager%s%s, findings of severity %s and up", s->n_am, s->n_am == 1 ? "" : "s",
		 s->has_webhook ? " and a webhook" : "", severity_name(cfg.min_severity));
	*state = s;
	return 0;
fail:
	alerts_destroy(s);
	return rc;
}

static void alerts_deliver(void *state, const struct ship_event *ev)
{
	struct alerts_out *s = state;

	if (ev->type != SHIP_FINDING && ev->type != SHIP_VERDICT)
		return;
	pthread_mutex_lock(&s->lock);
	if (ev->type == SHIP_VERDICT)
		alerts_verdict(s->alerts, ev->epoch->identity, epoch_verdict_name(ev->epoch), ev->epoch->reasons,
			       ev->epoch->to_version, ev->unix_ms);
	else if (ev->resolved)
		alerts_finding_resolved(s->alerts, ev->finding->id, ev->unix_ms);
	else
		alerts_finding_opened(s->alerts, ev->finding, NULL, ev->unix_ms);
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

static void suppressed_metric(void *ctx, const char *identity, uint64_t n)
{
	prom_sample_u64(ctx, "reach_alerts_suppressed_total", n, 1, "identity", identity);
}

static void alerts_metrics(void *state, struct prom_buf *b)
{
	struct alerts_out *s = state;
	struct alerts_stats as;

	pthread_mutex_lock(&s->lock);
	alerts_stats(s->alerts, &as);
	prom_family(b, "reach_alerts_active", "gauge", "Alerts firing.");
	prom_sample_u64(b, "reach_alerts_active", as.active, 0);
	prom_family(b, "reach_alert_sends_total", "counter", "Alert POSTs, by result.");
	prom_sample_u64(b, "reach_alert_sends_total", as.sent_ok, 1, "result", "ok");
	prom_sample_u64(b, "reach_alert_sends_total", as.send_failed, 1, "result", "failed");
	prom_family(b, "reach_alerts_suppressed_total", "counter",
		    "Finding alerts refused by the per-identity rate limit, by identity.");
	alerts_suppressed_by_identity(s->alerts, suppressed_metric, b);
	pthread_mutex_unlock(&s->lock);
}

static json_object *alerts_status(void *state)
{
	struct alerts_out *s = state;
	struct alerts_stats as;
	json_object *a = json_object_new_object();

	pthread_mutex_lock(&s->lock);
	alerts_stats(s->alerts, &as);
	json_add_int(a, "active", (int64_t)as.active);
	json_add_int(a, "posts_ok", (int64_t)as.sent_ok);
	json_add_int(a, "posts_failed", (int64_t)as.send_failed);
	json_add_int(a, "suppressed", (int64_t)as.suppressed_total);
	pthread_mutex_unlock(&s->lock);
	return a;
}

const struct ship_output_ops ship_out_alerts = {
	.name = "alerts",
	.init = alerts_init,
	.deliver = alerts_deliver,
	.destroy = alerts_destroy,
	.metrics = alerts_metrics,
	.status = alerts_status,
};
