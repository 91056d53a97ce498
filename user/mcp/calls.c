#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/hmap.h"
#include "mcp/calls.h"

struct pending {
	uint64_t conn;
	int64_t id;
	uint64_t cgroup_id;
	char *object; /* a tools/call's edge; NULL: another request */
};

struct early {
	uint64_t conn;
	int64_t id;
	bool is_error;
};

/* One server's requests waiting, oldest first, and answers waiting for
 * their request. */
struct server {
	size_t n, n_early;
	struct pending pend[MCP_CALLS_WAITING];
	struct early early[MCP_CALLS_EARLY];
};

struct mcp_calls {
	struct hmap *servers; /* "tgid" -> struct server */
};

static void server_free(void *v)
{
	struct server *s = v;

	for (size_t i = 0; s && i < s->n; i++)
		free(s->pend[i].object);
	free(s);
}

struct mcp_calls *mcp_calls_new(void)
{
	struct mcp_calls *c = calloc(1, sizeof(*c));

	if (c && !(c->servers = hmap_new())) {
		free(c);
		return NULL;
	}
	return c;
}

void mcp_calls_free(struct mcp_calls *c)
{
	if (!c)
		return;
	hmap_free(c->servers, server_free);
	free(c);
}

bool mcp_calls_any(const struct mcp_calls *c) { return hmap_count(c->servers) > 0; }

static void pending_drop(struct server *s, size_t i)
{
	free(s->pend[i].object);
	memmove(&s->pend[i], &s->pend[i + 1], (s->n - i - 1) * sizeof(s->pend[0]));
	s->n--;
	memset(&s->pend[s->n], 0, sizeof(s->pend[0]));
}

static struct server *server_get(const struct mcp_calls *c, uint32_t tgid)
{
	char key[16];

	snprintf(key, sizeof(key), "%u", tgid);
	return hmap_get(c->servers, key);
}

uint64_t mcp_calls_forget(struct mcp_calls *c, uint32_t server)
{
	uint64_t unanswered = 0;
	struct server *s;
	char key[16];

	snprintf(key, sizeof(key), "%u", server);
	if (!(s = hmap_remove(c->servers, key)))
		return 0;
	for (size_t i = 0; i < s->n; i++)
		unanswered += s->pend[i].object != NULL;
	server_free(s);
	return unanswered;
}

/* Forgets servers that are gone without their exit seen (an exit event the
 * ring lost), at most 64 a time; their waiting calls go to *given_up. */
static void forget_gone(struct mcp_calls *c, uint64_t *given_up)
{
	uint32_t gone[64];
	size_t n = 0;
	struct hmap_iter it;
	const char *key;
	void *v;

	hmap_iter_init(&it, c->servers);
	while (n < sizeof(gone) / sizeof(gone[0]) && hmap_iter_next(&it, &key, &v)) {
		unsigned long tgid = strtoul(key, NULL, 10);

		if (kill((pid_t)tgid, 0) && errno == ESRCH)
			gone[n++] = (uint32_t)tgid;
	}
	for (size_t i = 0; i < n; i++)
		*given_up += mcp_calls_forget(c, gone[i]);
}

/* The server's record, made on first use; NULL without memory or room. */
static struct server *server_make(struct mcp_calls *c, uint32_t tgid, uint64_t *given_up)
{
	struct server *s = server_get(c, tgid);
	char key[16];

	if (s)
		return s;
	if (hmap_count(c->servers) >= MCP_CALLS_SERVERS)
		forget_gone(c, given_up);
	if (hmap_count(c->servers) >= MCP_CALLS_SERVERS)
		return NULL;
	if (!(s = calloc(1, sizeof(*s))))
		return NULL;
	snprintf(key, sizeof(key), "%u", tgid);
	if (hmap_put(c->servers, key, s, NULL)) {
		free(s);
		return NULL;
	}
	return s;
}

int mcp_calls_request(struct mcp_calls *c, uint32_t server, uint64_t conn, int64_t id, uint64_t cgroup_id,
		      const char *object, bool *early_error, uint64_t *given_up)
{
	struct server *s = server_make(c, server, given_up);
	struct pending *q;

	if (!s)
		return hmap_count(c->servers) >= MCP_CALLS_SERVERS ? -ENOSPC : -ENOMEM;
	for (size_t i = 0; i < s->n_early; i++) {
		if (s->early[i].conn != conn || s->early[i].id != id)
			continue;
		*early_error = s->early[i].is_error;
		memmove(&s->early[i], &s->early[i + 1], (s->n_early - i - 1) * sizeof(s->early[0]));
		s->n_early--;
		return 1;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (s->pend[i].conn == conn && s->pend[i].id == id) {
			/* an id used again before its answer: the first is given up */
			*given_up += s->pend[i].object != NULL;
			pending_drop(s, i);
			break;
		}
	}
	if (s->n == MCP_CALLS_WAITING) {
		*given_up += s->pend[0].object != NULL;
		pending_drop(s, 0);
	}
	q = &s->pend[s->n];
	q->conn = conn;
	q->id = id;
	q->cgroup_id = cgroup_id;
	if (object && !(q->object = strdup(object))) {
		memset(q, 0, sizeof(*q));
		return -ENOMEM;
	}
	s->n++;
	return 0;
}

enum mcp_answer mcp_calls_answer(struct mcp_calls *c, uint32_t server, uint64_t conn, int64_t id, bool is_error,
				 struct mcp_call *out, uint64_t *given_up)
{
	struct server *s = server_get(c, server);

	for (size_t i = 0; s && i < s->n; i++) {
		struct pending *q = &s->pend[i];
		enum mcp_answer kind;

		if (q->conn != conn || q->id != id)
			continue;
		kind = q->object ? MCP_ANSWER_CALL : MCP_ANSWER_OTHER;
		if (kind == MCP_ANSWER_CALL) {
			out->cgroup_id = q->cgroup_id;
			snprintf(out->object, sizeof(out->object), "%s", q->object);
		}
		pending_drop(s, i);
		return kind;
	}
	/* maybe early: its request may still come (mcp_calls_request takes it) */
	if (!s)
		s = server_make(c, server, given_up);
	if (s) {
		if (s->n_early == MCP_CALLS_EARLY) {
			memmove(&s->early[0], &s->early[1], (MCP_CALLS_EARLY - 1) * sizeof(s->early[0]));
			s->n_early--;
		}
		s->early[s->n_early++] = (struct early){ conn, id, is_error };
	}
	return MCP_ANSWER_UNMATCHED;
}

bool mcp_calls_serving(const struct mcp_calls *c, uint32_t server, struct mcp_call *out, bool *known)
{
	const struct server *s = server_get(c, server);
	size_t calls = 0;

	*known = s && s->n;
	for (size_t i = 0; s && i < s->n; i++) {
		if (!s->pend[i].object)
			continue;
		out->cgroup_id = s->pend[i].cgroup_id;
		snprintf(out->object, sizeof(out->object), "%s", s->pend[i].object);
		calls++;
	}
	return calls == 1;
}
