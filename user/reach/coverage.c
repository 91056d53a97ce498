/* Coverage records (coverage.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "common/json.h"
#include "reach/coverage.h"

static const char *const kind_names[] = { "other", "file_open", "exec", "fork",	  "exit",     "egress",	  "dns",
					  "http",  "tls_hello", "h2",	"jsonrpc", "road",     "file_via", "h2_frame",
					  "http_body", "link" };
static const char *const reason_names[] = { "ringbuf_full", "truncated", "map_full", "read_failed" };
_Static_assert(sizeof(kind_names) / sizeof(kind_names[0]) == REACH_EV__MAX, "a name for every event kind");
_Static_assert(sizeof(reason_names) / sizeof(reason_names[0]) == REACH_LOSS__MAX, "a name for every loss reason");

static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

const char *coverage_kind_name(int kind) { return kind >= 0 && kind < REACH_EV__MAX ? kind_names[kind] : "unknown"; }

const char *coverage_reason_name(int reason)
{
	return reason >= 0 && reason < REACH_LOSS__MAX ? reason_names[reason] : "unknown";
}

int coverage_kind_from_name(const char *name)
{
	for (int k = 0; name && k < REACH_EV__MAX; k++)
		if (!strcmp(name, kind_names[k]))
			return k;
	return -1;
}

int coverage_reason_from_name(const char *name)
{
	for (int r = 0; name && r < REACH_LOSS__MAX; r++)
		if (!strcmp(name, reason_names[r]))
			return r;
	return -1;
}

/* Every loss that can hide an edge is a gap:
 *   ringbuf_full  any kind: a full ring is a flood, and which event it
 *                 happened to refuse is chance
 *   map_full      any kind: an in-flight stash (a TCP owner, a DNS socket)
 *                 or a dedup entry that could not be kept
 *   truncated     a file path (the secret may be past the cut), an HTTP
 *                 head (a credential header may be past it) or an HTTP/2
 *                 header frame (its connection is lost); NOT a command
 *                 line (the tool edge is the executable) or a DNS answer
 *                 (names, not reach)
 *   read_failed   a file path, an executable, an egress address, an HTTP
 *                 head, an HTTP/2 frame, a JSON-RPC write on a pipe (it may
 *                 have been an MCP tools/call); NOT a DNS answer, a fork or an exit
 * A JSON-RPC message longer than its capture is not a kernel loss: user
 * space judges it (a tools/call whose tool name is past the cut is the
 * identity's blind road "mcp-undecoded"; a long answer loses nothing).
 * Kind 0 ("other") is a shared cache's: the kernel counts it node-wide
 * only, so it never reaches a record; judged a gap if it ever does. */
bool coverage_loss_is_gap(int kind, int reason)
{
	switch (reason) {
	case REACH_LOSS_RINGBUF_FULL:
	case REACH_LOSS_MAP_FULL:
		return true;
	case REACH_LOSS_TRUNCATED:
		return kind == REACH_EV_FILE_OPEN || kind == REACH_EV_FILE_VIA || kind == REACH_EV_HTTP ||
		       kind == REACH_EV_H2_FRAME;
	case REACH_LOSS_READ_FAILED:
		/* a road (11) that could not be told is a road unseen; a file
		 * reached by io_uring or a received descriptor (12) that could
		 * not be resolved may be the secret; jsonrpc (10): an unreadable
		 * write to a pipe may have been a tools/call */
		return kind == REACH_EV_FILE_OPEN || kind == REACH_EV_FILE_VIA || kind == REACH_EV_ROAD ||
		       kind == REACH_EV_EXEC || kind == REACH_EV_EGRESS || kind == REACH_EV_HTTP ||
		       kind == REACH_EV_H2_FRAME || kind == REACH_EV_JSONRPC || kind == 0;
	default:
		return true;
	}
}

uint64_t coverage_losses(const struct coverage *c)
{
	uint64_t n = c->losses_unknown;

	for (int k = 0; k < REACH_EV__MAX; k++)
		for (int r = 0; r < REACH_LOSS__MAX; r++)
			n = sat_add(n, c->losses[k][r]);
	return n;
}

/* the kernel's losses that are gaps */
static uint64_t kernel_gap_losses(const struct coverage *c)
{
	uint64_t n = c->losses_unknown;

	for (int k = 0; k < REACH_EV__MAX; k++)
		for (int r = 0; r < REACH_LOSS__MAX; r++)
			if (coverage_loss_is_gap(k, r))
				n = sat_add(n, c->losses[k][r]);
	return n;
}

uint64_t coverage_gap_losses(const struct coverage *c)
{
	return sat_add(kernel_gap_losses(c), c->edges_unrecorded);
}

uint64_t coverage_blind_roads(const struct coverage *c)
{
	uint64_t n = c->roads_dropped;

	for (size_t i = 0; i < c->n_roads; i++)
		n = sat_add(n, c->roads[i].count ? c->roads[i].count : 1);
	return n;
}

bool coverage_has_gaps(const struct coverage *c)
{
	return c && (coverage_gap_losses(c) || coverage_blind_roads(c) || c->n_hooks_missing || c->hooks_dropped);
}

bool coverage_has_gaps_judged(const struct coverage *c, bool (*judged)(const char *road, void *ctx), void *ctx)
{
	if (!c)
		return false;
	if (coverage_gap_losses(c) || c->roads_dropped || c->n_hooks_missing || c->hooks_dropped)
		return true;
	for (size_t i = 0; i < c->n_roads; i++)
		if (!judged || judged(c->roads[i].road, ctx))
			return true;
	return false;
}

bool coverage_is_empty(const struct coverage *c)
{
	return !c || (!coverage_losses(c) && !c->edges_unrecorded && !c->n_roads && !c->roads_dropped &&
		      !c->n_hooks_missing && !c->hooks_dropped);
}

static void note_time(struct coverage *c, int64_t ms)
{
	if (ms && (!c->first_gap_ms || ms < c->first_gap_ms))
		c->first_gap_ms = ms;
	if (ms > c->last_gap_ms)
		c->last_gap_ms = ms;
}

void coverage_add_loss(struct coverage *c, int kind, int reason, uint64_t count, int64_t ms)
{
	if (!count)
		return;
	if (kind < 0 || kind >= REACH_EV__MAX || reason < 0 || reason >= REACH_LOSS__MAX)
		c->losses_unknown = sat_add(c->losses_unknown, count);
	else
		c->losses[kind][reason] = sat_add(c->losses[kind][reason], count);
	note_time(c, ms);
}

static int road_cmp(const struct coverage_road *r, const char *road, const char *detail)
{
	int d = strcmp(r->road, road);

	return d ? d : strcmp(r->detail, detail);
}

int coverage_add_road(struct coverage *c, const char *road, const char *detail, uint64_t count, int64_t ms)
{
	char rbuf[COVERAGE_ROAD_LEN], dbuf[COVERAGE_DETAIL_LEN];
	size_t pos = 0;

	if (!road || !*road)
		return -EINVAL;
	/* cut first, so that a long name finds its own cut entry again */
	snprintf(rbuf, sizeof(rbuf), "%s", road);
	snprintf(dbuf, sizeof(dbuf), "%s", detail ? detail : "");
	note_time(c, ms);
	while (pos < c->n_roads && road_cmp(&c->roads[pos], rbuf, dbuf) < 0)
		pos++;
	if (pos < c->n_roads && !road_cmp(&c->roads[pos], rbuf, dbuf)) {
		c->roads[pos].count = sat_add(c->roads[pos].count, count);
		if (ms > c->roads[pos].last_ms)
			c->roads[pos].last_ms = ms;
		return 0;
	}
	if (c->n_roads == COVERAGE_MAX_ROADS) {
		c->roads_dropped = sat_add(c->roads_dropped, count ? count : 1);
		return -ENOSPC;
	}
	memmove(&c->roads[pos + 1], &c->roads[pos], (c->n_roads - pos) * sizeof(c->roads[0]));
	memset(&c->roads[pos], 0, sizeof(c->roads[pos]));
	memcpy(c->roads[pos].road, rbuf, sizeof(rbuf));
	memcpy(c->roads[pos].detail, dbuf, sizeof(dbuf));
	c->roads[pos].count = count;
	c->roads[pos].last_ms = ms;
	c->n_roads++;
	return 0;
}

int coverage_add_hook_missing(struct coverage *c, const char *hook)
{
	char buf[COVERAGE_HOOK_LEN];
	size_t pos = 0;

	if (!hook || !*hook)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", hook);
	while (pos < c->n_hooks_missing && strcmp(c->hooks_missing[pos], buf) < 0)
		pos++;
	if (pos < c->n_hooks_missing && !strcmp(c->hooks_missing[pos], buf))
		return 0;
	if (c->n_hooks_missing == COVERAGE_MAX_HOOKS) {
		c->hooks_dropped = sat_add(c->hooks_dropped, 1);
		return -ENOSPC;
	}
	memmove(&c->hooks_missing[pos + 1], &c->hooks_missing[pos], (c->n_hooks_missing - pos) * sizeof(buf));
	memcpy(c->hooks_missing[pos], buf, sizeof(buf));
	c->n_hooks_missing++;
	return 0;
}

void coverage_add(struct coverage *dst, const struct coverage *src)
{
	if (!src || dst == src)
		return;
	for (int k = 0; k < REACH_EV__MAX; k++)
		for (int r = 0; r < REACH_LOSS__MAX; r++)
			dst->losses[k][r] = sat_add(dst->losses[k][r], src->losses[k][r]);
	dst->losses_unknown = sat_add(dst->losses_unknown, src->losses_unknown);
	dst->edges_unrecorded = sat_add(dst->edges_unrecorded, src->edges_unrecorded);
	for (size_t i = 0; i < src->n_roads; i++)
		coverage_add_road(dst, src->roads[i].road, src->roads[i].detail, src->roads[i].count,
				  src->roads[i].last_ms);
	dst->roads_dropped = sat_add(dst->roads_dropped, src->roads_dropped);
	for (size_t i = 0; i < src->n_hooks_missing; i++)
		coverage_add_hook_missing(dst, src->hooks_missing[i]);
	dst->hooks_dropped = sat_add(dst->hooks_dropped, src->hooks_dropped);
	note_time(dst, src->first_gap_ms);
	note_time(dst, src->last_gap_ms);
}

/* snprintf into out at *len, never past n; *len counts what was wanted */
static void put(char *out, size_t n, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(*len < n ? out + *len : NULL, *len < n ? n - *len : 0, fmt, ap);
	va_end(ap);
	if (w > 0)
		*len += (size_t)w;
}

int coverage_describe(const struct coverage *c, char *out, size_t n)
{
	size_t len = 0;
	uint64_t lost;
	bool first = true;

	if (n)
		out[0] = '\0';
	if (!c)
		return 0;
	lost = kernel_gap_losses(c);
	if (lost) {
		put(out, n, &len, "%" PRIu64 " events lost (", lost);
		for (int k = 0; k < REACH_EV__MAX; k++)
			for (int r = 0; r < REACH_LOSS__MAX; r++) {
				if (!c->losses[k][r] || !coverage_loss_is_gap(k, r))
					continue;
				put(out, n, &len, "%s%s %s %" PRIu64, first ? "" : ", ", kind_names[k], reason_names[r],
				    c->losses[k][r]);
				first = false;
			}
		if (c->losses_unknown)
			put(out, n, &len, "%sof unknown kinds %" PRIu64, first ? "" : ", ", c->losses_unknown);
		put(out, n, &len, ")");
	}
	if (c->edges_unrecorded)
		put(out, n, &len, "%s%" PRIu64 " edges the agent could not record (observed model full)", len ? "; " : "",
		    c->edges_unrecorded);
	for (size_t i = 0; i < c->n_roads; i++)
		put(out, n, &len, "%sblind road %s%s%s (x%" PRIu64 ")", len ? "; " : "", c->roads[i].road,
		    c->roads[i].detail[0] ? ": " : "", c->roads[i].detail, c->roads[i].count);
	if (c->roads_dropped)
		put(out, n, &len, "%s%" PRIu64 " more blind roads", len ? "; " : "", c->roads_dropped);
	if (c->n_hooks_missing || c->hooks_dropped) {
		put(out, n, &len, "%shooks missing: ", len ? "; " : "");
		for (size_t i = 0; i < c->n_hooks_missing; i++)
			put(out, n, &len, "%s%s", i ? ", " : "", c->hooks_missing[i]);
		if (c->hooks_dropped)
			put(out, n, &len, "%s+%" PRIu64, c->n_hooks_missing ? " " : "", c->hooks_dropped);
	}
	return (int)len;
}

json_object *coverage_to_json(const struct coverage *c)
{
	static const struct coverage none;
	json_object *o = json_object_new_object(), *losses = json_object_new_object(),
		    *roads = json_object_new_array(), *hooks = json_object_new_array();
	char summary[1024];

	if (!o || !losses || !roads || !hooks) {
		json_object_put(o);
		json_object_put(losses);
		json_object_put(roads);
		json_object_put(hooks);
		return NULL;
	}
	if (!c)
		c = &none;
	for (int k = 0; k < REACH_EV__MAX; k++) {
		json_object *per = NULL;

		for (int r = 0; r < REACH_LOSS__MAX; r++) {
			if (!c->losses[k][r])
				continue;
			if (!per)
				per = json_object_new_object();
			json_add_u64(per, reason_names[r], c->losses[k][r]);
		}
		if (per)
			json_add(losses, kind_names[k], per);
	}
	json_add(o, "losses", losses);
	json_add_u64(o, "losses_total", coverage_losses(c));
	json_add_u64(o, "gap_losses", coverage_gap_losses(c));
	json_add_u64(o, "losses_unknown", c->losses_unknown);
	json_add_u64(o, "edges_unrecorded", c->edges_unrecorded);
	for (size_t i = 0; i < c->n_roads; i++) {
		json_object *r = json_object_new_object();

		json_add_str(r, "road", c->roads[i].road);
		json_add_str(r, "detail", c->roads[i].detail);
		json_add_u64(r, "count", c->roads[i].count);
		json_add_int(r, "last_seen_ms", c->roads[i].last_ms);
		json_object_array_add(roads, r);
	}
	json_add(o, "blind_roads", roads);
	json_add_u64(o, "blind_roads_dropped", c->roads_dropped);
	for (size_t i = 0; i < c->n_hooks_missing; i++)
		json_object_array_add(hooks, json_object_new_string(c->hooks_missing[i]));
	json_add(o, "hooks_missing", hooks);
	json_add_u64(o, "hooks_dropped", c->hooks_dropped);
	json_add_int_or_null(o, "first_gap_ms", c->first_gap_ms);
	json_add_int_or_null(o, "last_gap_ms", c->last_gap_ms);
	json_add_bool(o, "gaps", coverage_has_gaps(c));
	coverage_describe(c, summary, sizeof(summary));
	json_add_str(o, "summary", summary);
	return o;
}
