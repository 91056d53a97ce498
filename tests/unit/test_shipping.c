/* The shipping core with fake outputs (ship/output.h): which events each
 * output gets, in which order, with flushes after each batch; findings
 * opened once and resolved when a verification no longer has them; an
 * output that is not configured gets nothing; a failing start undoes the
 * outputs already started; status names each output. No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "common/json.h"
#include "ship/output.h"
#include "ship/http_server.h"
#include "ship/shipping.h"

#define MAX_LOG 64

/* What the fakes saw, in order: "name:event[:detail]". */
static char seen[MAX_LOG][96];
static size_t n_seen;
static char state_dir[64];

static void note(const char *fmt, ...)
{
	va_list ap;

	assert_true(n_seen < MAX_LOG);
	va_start(ap, fmt);
	vsnprintf(seen[n_seen++], sizeof(seen[0]), fmt, ap);
	va_end(ap);
}

struct fake {
	const char *name;
	bool configured, fail;
};

static struct fake fake_a = { "a", true, false }, fake_b = { "b", true, false }, fake_off = { "off", false, false };

static int fake_init(void **state, const struct shipping_opts *o, const struct ship_env *env, char *err,
		     size_t err_size, struct fake *f)
{
	(void)o;
	assert_non_null(env->node);
	assert_non_null(env->spool_root);
	note("%s:init", f->name);
	if (f->fail) {
		snprintf(err, err_size, "%s refused", f->name);
		return -22;
	}
	*state = f->configured ? f : NULL;
	return 0;
}

static void fake_deliver(void *state, const struct ship_event *ev)
{
	struct fake *f = state;

	switch (ev->type) {
	case SHIP_TICK:
		note("%s:tick:%zu", f->name, ev->counters->n_kinds);
		break;
	case SHIP_FINDING:
		note("%s:%s:%s", f->name, ev->resolved ? "resolved" : "opened", ev->finding->id);
		break;
	case SHIP_VERDICT:
		note("%s:verdict:%s", f->name, ev->epoch->identity);
		assert_non_null(ev->result);
		break;
	case SHIP_FINAL:
		note("%s:final", f->name);
		assert_non_null(ev->ledger);
		break;
	}
}

static void fake_flush(void *state) { note("%s:flush", ((struct fake *)state)->name); }
static void fake_destroy(void *state) { note("%s:destroy", ((struct fake *)state)->name); }

static json_object *fake_status(void *state)
{
	json_object *o = json_object_new_object();

	json_add_str(o, "name", ((struct fake *)state)->name);
	return o;
}

#define FAKE_OPS(var, f)                                                                                             \
	static int var##_init(void **state, const struct shipping_opts *o, const struct ship_env *env, char *err, \
			      size_t err_size)                                                                        \
	{                                                                                                            \
		return fake_init(state, o, env, err, err_size, &f);                                                  \
	}                                                                                                            \
	static const struct ship_output_ops var = { .name = #var, .init = var##_init, .deliver = fake_deliver,      \
						    .flush = fake_flush, .destroy = fake_destroy,                   \
						    .status = fake_status }

FAKE_OPS(out_a, fake_a);
FAKE_OPS(out_b, fake_b);
FAKE_OPS(out_off, fake_off);

static const struct ship_output_ops *const outputs[] = { &out_a, &out_off, &out_b, NULL };

static struct shipping *start(void)
{
	struct shipping_opts o = { .node = "node-1", .version = "test", .state_dir = state_dir, .outputs = outputs };
	struct shipping *s = NULL;
	char err[256];

	assert_int_equal(shipping_start(&s, &o, err, sizeof(err)), 0);
	assert_non_null(s);
	return s;
}

static void assert_seen(const char *const *want, size_t n)
{
	for (size_t i = 0; i < n && i < n_seen; i++)
		assert_string_equal(seen[i], want[i]);
	assert_int_equal(n_seen, n);
	n_seen = 0;
}

static void test_unconfigured_output_gets_nothing_and_order_is_kept(void **st)
{
	struct shipping *s;
	struct agent_counters c = { .n_kinds = 3 };
	struct ledger *l = ledger_new(0, 0);
	const char *const want_start[] = { "a:init", "off:init", "b:init" };
	const char *const want_tick[] = { "a:tick:3", "b:tick:3" };
	const char *const want_stop[] = { "a:final", "b:final", "a:destroy", "b:destroy" };

	(void)st;
	assert_non_null(l);
	n_seen = 0;
	s = start();
	assert_seen(want_start, 3);
	/* no output wants the counters and no HTTP endpoint: none gathered */
	assert_false(shipping_wants_counters(s));
	shipping_tick(s, &c, l);
	assert_seen(want_tick, 2);
	shipping_stop(s, l);
	assert_seen(want_stop, 4);
	ledger_free(l);
}

static void test_findings_open_once_and_resolve(void **st)
{
	struct finding f[2] = {
		{ .id = "aaaaaaaaaaaaaaaa", .identity = "ns/sa", .edge_kind = "secret", .object = "/x.key",
		  .executables = "", .message = "", .policy_ref = "" },
		{ .id = "bbbbbbbbbbbbbbbb", .identity = "ns/sa", .edge_kind = "tool", .object = "/usr/bin/uname",
		  .executables = "", .message = "", .policy_ref = "" },
	};
	struct verify_result r = { .findings = f, .n_findings = 2 };
	struct shipping *s;
	const char *const want_first[] = { "a:opened:aaaaaaaaaaaaaaaa", "b:opened:aaaaaaaaaaaaaaaa",
					   "a:opened:bbbbbbbbbbbbbbbb", "b:opened:bbbbbbbbbbbbbbbb",
					   "a:flush", "b:flush" };
	const char *const want_again[] = { "a:flush", "b:flush" };
	const char *const want_resolved[] = { "a:resolved:aaaaaaaaaaaaaaaa", "b:resolved:aaaaaaaaaaaaaaaa", "a:flush",
					      "b:flush" };

	(void)st;
	s = start();
	n_seen = 0;
	shipping_findings(s, &r);
	assert_seen(want_first, 6);
	/* the same findings again: nothing new */
	shipping_findings(s, &r);
	assert_seen(want_again, 2);
	/* the next verification has only the second: the first is resolved */
	r.findings = &f[1];
	r.n_findings = 1;
	shipping_findings(s, &r);
	assert_seen(want_resolved, 4);
	shipping_stop(s, NULL);
	n_seen = 0;
}

static void test_verdicts_but_not_settling_epochs(void **st)
{
	struct epoch_record rec = { .identity = "ns/sa", .state = EPOCH_SETTLING };
	struct verify_result r = { 0 };
	struct shipping *s;
	const char *const want[] = { "a:verdict:ns/sa", "b:verdict:ns/sa", "a:flush", "b:flush" };

	(void)st;
	s = start();
	n_seen = 0;
	shipping_epoch(s, &rec, &r);
	assert_int_equal(n_seen, 0);
	rec.state = EPOCH_VERIFIED;
	shipping_epoch(s, &rec, &r);
	assert_seen(want, 4);
	shipping_stop(s, NULL);
	n_seen = 0;
}

static void test_failed_start_undoes_started_outputs(void **st)
{
	struct shipping_opts o = { .node = "node-1", .state_dir = state_dir, .outputs = outputs };
	struct shipping *s = (struct shipping *)1;
	char err[256] = "";
	const char *const want[] = { "a:init", "off:init", "b:init", "a:destroy" };

	(void)st;
	n_seen = 0;
	fake_b.fail = true;
	assert_int_equal(shipping_start(&s, &o, err, sizeof(err)), -22);
	fake_b.fail = false;
	assert_null(s);
	assert_string_equal(err, "b refused");
	assert_seen(want, 4);
}

static void test_status_names_each_output(void **st)
{
	struct shipping *s;
	json_object *o, *a;

	(void)st;
	s = start();
	o = shipping_status_json(s);
	assert_true(json_object_object_get_ex(o, "out_a", &a));
	assert_string_equal(json_object_get_string(json_object_object_get(a, "name")), "a");
	assert_true(json_object_object_get_ex(o, "out_b", NULL));
	assert_false(json_object_object_get_ex(o, "out_off", NULL));
	json_object_put(o);
	shipping_stop(s, NULL);
	n_seen = 0;
}

/* GET path on 127.0.0.1:port: the status code; body into out. */
static int http_status(int port, const char *path, char *out, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	char req[128], resp[1024];
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0), code = -1;
	const char *body;

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	assert_int_equal(write(fd, req, n), n);
	while (len < sizeof(resp) - 1 && (n = read(fd, resp + len, sizeof(resp) - 1 - len)) > 0)
		len += n;
	close(fd);
	resp[len] = '\0';
	sscanf(resp, "HTTP/1.1 %d", &code);
	body = strstr(resp, "\r\n\r\n");
	snprintf(out, size, "%s", body ? body + 4 : "");
	return code;
}

/* /healthz follows the ring buffer's drain (shipping_drained), with the
 * stall timeout of --healthz-stall-s; the tick, which still runs when only
 * the drain is stuck, does not keep it alive. */
#define HEALTH_PORT 20619
static void test_healthz_follows_the_drain(void **st)
{
	struct shipping_opts o = { .node = "node-1", .version = "test", .state_dir = state_dir, .outputs = outputs,
				   .metrics_addr = "127.0.0.1:20619", .healthz_stall_s = 2 };
	struct agent_counters c = { 0 };
	struct shipping *s = NULL;
	char err[256], body[256];
	int64_t now;

	(void)st;
	assert_int_equal(shipping_start(&s, &o, err, sizeof(err)), 0);
	assert_int_equal(http_status(HEALTH_PORT, "/healthz", body, sizeof(body)), 200);
	now = http_server_now_ms();
	shipping_drained(s, now - 1000); /* within the 2 s */
	assert_int_equal(http_status(HEALTH_PORT, "/healthz", body, sizeof(body)), 200);
	shipping_drained(s, now - 5000); /* beyond them */
	shipping_tick(s, &c, NULL);
	assert_int_equal(http_status(HEALTH_PORT, "/healthz", body, sizeof(body)), 503);
	assert_string_equal(body, "ring buffer not drained for 5 s: main loop stalled\n");
	/* what else the endpoint serves still answers */
	assert_int_equal(http_status(HEALTH_PORT, "/metrics", body, sizeof(body)), 200);
	shipping_drained(s, 0);
	assert_int_equal(http_status(HEALTH_PORT, "/healthz", body, sizeof(body)), 200);
	assert_string_equal(body, "ok\n");
	shipping_stop(s, NULL);
	n_seen = 0;
	snprintf(body, sizeof(body), "%s/api-token", state_dir); /* created for /v1/ */
	unlink(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unconfigured_output_gets_nothing_and_order_is_kept),
		cmocka_unit_test(test_findings_open_once_and_resolve),
		cmocka_unit_test(test_verdicts_but_not_settling_epochs),
		cmocka_unit_test(test_failed_start_undoes_started_outputs),
		cmocka_unit_test(test_status_names_each_output),
		cmocka_unit_test(test_healthz_follows_the_drain),
	};
	int rc;

	snprintf(state_dir, sizeof(state_dir), "/tmp/test_shipping.XXXXXX");
	assert_non_null(mkdtemp(state_dir));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(state_dir);
	return rc;
}
