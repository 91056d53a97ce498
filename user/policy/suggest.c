/* policy_suggest(): a least-privilege ReachPolicy from an identity's
 * observed reach (see verify.h). Every value the loader would refuse is
 * either made valid (names, hosts) or left out with a YAML comment saying
 * why, so the output always loads. */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "policy/policy_match.h"
#include "policy/suggest.h"
#include "policy/verify.h"

static void seterr(char *err, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t n, const char *f, ...)
{
	va_list ap;

	if (!err || !n)
		return;
	va_start(ap, f);
	vsnprintf(err, n, f, ap);
	va_end(ap);
}

/* A YAML double-quoted scalar. */
static void yq(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\x%02x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* A literal path as a glob (reach/glob.h): metacharacters escaped. */
static void glob_escape(const char *s, char *out, size_t n)
{
	size_t j = 0;

	for (; *s && j + 2 < n; s++) {
		if (strchr("*?[\\", *s))
			out[j++] = '\\';
		out[j++] = *s;
	}
	out[j] = '\0';
}

/* For a YAML comment: one line, printable. */
static void comment_text(const char *s, char *out, size_t n)
{
	size_t j = 0;

	for (; *s && j + 1 < n; s++)
		out[j++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	out[j] = '\0';
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* What the loader takes for a host: an IP literal or DNS labels of
 * [A-Za-z0-9_-] (no wildcard here: these are observed names). */
static bool valid_host(const char *s)
{
	struct netaddr a;
	size_t len = strlen(s), start = 0;

	if (netaddr_parse(s, &a) == 0)
		return true;
	if (len && s[len - 1] == '.')
		len--;
	if (!len || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			size_t l = i - start;

			if (!l || l > 63 || s[start] == '-' || s[i - 1] == '-')
				return false;
			start = i + 1;
		} else if (!host_char(s[i])) {
			return false;
		}
	}
	return true;
}

static bool dns_label(const char *s, size_t len)
{
	if (!len || len > 63)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || (s[i] == '-' && i && i + 1 < len)))
			return false;
	return true;
}

/* serviceAccount: NAMESPACE/NAME of lower-case DNS names. */
static bool is_service_account(const char *id)
{
	const char *slash = strchr(id, '/'), *s;
	size_t start;

	if (!slash || !dns_label(id, (size_t)(slash - id)) || !strncmp(id, "host/", 5) || !strncmp(id, "unknown/", 8))
		return false;
	s = slash + 1;
	if (!*s || strlen(s) > 253)
		return false;
	start = 0;
	for (size_t i = 0;; i++) {
		if (!s[i] || s[i] == '.') {
			if (!dns_label(s + start, i - start))
				return false;
			if (!s[i])
				return true;
			start = i + 1;
		}
	}
}

/* metadata.name: a DNS subdomain made from the identity. */
static void policy_name(const char *id, char *out, size_t n)
{
	size_t j = 0;

	for (const char *p = id; *p && j + 1 < n && j < 200; p++) {
		char c = *p >= 'A' && *p <= 'Z' ? (char)(*p + 32) : *p;

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		if (c == '-' && (!j || out[j - 1] == '-'))
			continue;
		out[j++] = c;
	}
	while (j && out[j - 1] == '-')
		j--;
	out[j] = '\0';
	if (!j)
		snprintf(out, n, "suggested");
}

static void fmt_time(int64_t ms, char *out, size_t n)
{
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms || !gmtime_r(&sec, &tm))
		snprintf(out, n, "unknown");
	else
		strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- collected rules --------------------------------------------------------- */

struct strs {
	char **v;
	size_t n, cap;
};

static int strs_add(struct strs *s, const char *v, bool unique)
{
	if (unique)
		for (size_t i = 0; i < s->n; i++)
			if (!strcmp(s->v[i], v))
				return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		char **nv = realloc(s->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = cap;
	}
	if (!(s->v[s->n] = strdup(v)))
		return -ENOMEM;
	s->n++;
	return 0;
}

static void strs_free(struct strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* By directory, then name: the files of one directory are one run. */
static int cmp_by_dir(const void *pa, const void *pb)
{
	const char *a = *(char *const *)pa, *b = *(char *const *)pb;
	size_t la = (size_t)(strrchr(a, '/') - a), lb = (size_t)(strrchr(b, '/') - b);
	int r = memcmp(a, b, la < lb ? la : lb);

	if (r)
		return r;
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b);
}

struct egress_group {
	char key[300];    /* host name or address */
	bool by_name;
	char proto[8];
	uint16_t ports[POLICY_MAX_PORTS];
	size_t n_ports;
	bool any_port;
	char note[160];
};

struct cred_group {
	char host[256];
	char kind[32];
	bool with_paths;
	struct strs paths;
	char note[160];
};

struct suggestion {
	struct strs secrets, secret_notes, tools, skipped;
	struct strs mcp; /* "server\ttool", both glob-escaped: one rule each */
	struct strs llm; /* "provider\thost\tmodel", glob-escaped ("" model: any): one rule each */
	struct egress_group *eg;
	size_t n_eg, cap_eg;
	struct cred_group *cg;
	size_t n_cg, cap_cg;
};

static void suggestion_free(struct suggestion *s)
{
	strs_free(&s->secrets);
	strs_free(&s->secret_notes);
	strs_free(&s->tools);
	strs_free(&s->mcp);
	strs_free(&s->llm);
	strs_free(&s->skipped);
	for (size_t i = 0; i < s->n_cg; i++)
		strs_free(&s->cg[i].paths);
	free(s->eg);
	free(s->cg);
}

static int add_egress(struct suggestion *s, const struct ledger_edge *e)
{
	char proto[8] = "", key[300];
	struct netaddr addr;
	uint16_t port = 0;
	bool by_name = e->name[0] && valid_host(e->name);
	struct egress_group *g = NULL;

	if (egress_object_parse(e->object, proto, &addr, &port)) {
		char c[300];

		if (by_name) { /* the name still says where */
			memset(&addr, 0, sizeof(addr));
		} else {
			comment_text(e->object, c, sizeof(c));
			return strs_add(&s->skipped, c, true);
		}
	}
	if (e->proto[0])
		snprintf(proto, sizeof(proto), "%s", e->proto);
	if (e->port)
		port = (uint16_t)e->port;
	if (by_name) {
		snprintf(key, sizeof(key), "%s", e->name);
	} else {
		char a[64];

		netaddr_format(&addr, a, sizeof(a));
		snprintf(key, sizeof(key), "%s/%d", a, addr.family == 4 ? 32 : 128);
	}
	if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "icmp"))
		proto[0] = '\0';
	for (size_t i = 0; i < s->n_eg && !g; i++) {
		struct egress_group *x = &s->eg[i];
		bool have = false;

		if (x->by_name != by_name || strcasecmp(x->key, key) || strcmp(x->proto, proto))
			continue;
		for (size_t j = 0; j < x->n_ports; j++)
			have |= x->ports[j] == port;
		if (!port || have || x->any_port || x->n_ports < POLICY_MAX_PORTS)
			g = x;
	}
	if (!g) {
		if (s->n_eg == s->cap_eg) {
			size_t cap = s->cap_eg ? s->cap_eg * 2 : 8;
			struct egress_group *n = realloc(s->eg, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			s->eg = n;
			s->cap_eg = cap;
		}
		g = &s->eg[s->n_eg++];
		memset(g, 0, sizeof(*g));
		snprintf(g->key, sizeof(g->key), "%s", key);
		g->by_name = by_name;
		snprintf(g->proto, sizeof(g->proto), "%s", proto);
		if (e->dest_class[0])
			snprintf(g->note, sizeof(g->note), "%s", e->dest_class);
	}
	if (!port) {
		g->any_port = true;
		return 0;
	}
	for (size_t i = 0; i < g->n_ports; i++)
		if (g->ports[i] == port)
			return 0;
	g->ports[g->n_ports++] = port;
	return 0;
}

static int add_credential(struct suggestion *s, const struct ledger_edge *e)
{
	struct credential_object co;
	char host[256], kind[64], path[1100];
	const char *h, *k;
	bool with_paths;
	struct cred_group *g = NULL;
	int rc;

	credential_object_parse(e->object, &co);
	h = e->name[0] ? e->name : co.host;
	k = e->category[0] ? e->category : co.kind;
	host_without_port(h, host, sizeof(host));
	if (!valid_host(host)) /* no usable Host header: kind and path still narrow it */
		snprintf(host, sizeof(host), "*");
	glob_escape(k[0] ? k : "*", kind, sizeof(kind));
	if (strlen(kind) >= 32 || strchr(kind, ' '))
		snprintf(kind, sizeof(kind), "*");
	with_paths = co.path_template[0] == '/';
	glob_escape(co.path_template, path, sizeof(path));
	if (strlen(path) >= 256) /* too long for a rule: the prefix, then anything */
		snprintf(path + 250, sizeof(path) - 250, "**");
	for (size_t i = 0; i < s->n_cg && !g; i++) {
		struct cred_group *x = &s->cg[i];
		bool have = false;

		if (strcasecmp(x->host, host) || strcmp(x->kind, kind) || x->with_paths != with_paths)
			continue;
		for (size_t j = 0; with_paths && j < x->paths.n; j++)
			have |= !strcmp(x->paths.v[j], path);
		if (!with_paths || have || x->paths.n < POLICY_MAX_VALUES)
			g = x;
	}
	if (!g) {
		if (s->n_cg == s->cap_cg) {
			size_t cap = s->cap_cg ? s->cap_cg * 2 : 8;
			struct cred_group *n = realloc(s->cg, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			s->cg = n;
			s->cap_cg = cap;
		}
		g = &s->cg[s->n_cg++];
		memset(g, 0, sizeof(*g));
		snprintf(g->host, sizeof(g->host), "%s", host);
		snprintf(g->kind, sizeof(g->kind), "%s", kind);
		g->with_paths = with_paths;
		if (!strcmp(host, "*"))
			snprintf(g->note, sizeof(g->note), "host not seen in the request");
		else if (e->dest_class[0])
			snprintf(g->note, sizeof(g->note), "%s", e->dest_class);
	}
	if (with_paths && (rc = strs_add(&g->paths, path, true)))
		return rc;
	return 0;
}

/* Secrets: exact paths, or "/dir/ *" for 3+ of one directory. */
static int add_secrets(struct suggestion *s, struct strs *paths)
{
	char buf[1200], dir[1100], note[300];
	size_t i = 0;
	int rc;

	qsort(paths->v, paths->n, sizeof(*paths->v), cmp_by_dir); /* every path starts with '/' */
	while (i < paths->n) {
		const char *slash = strrchr(paths->v[i], '/');
		size_t dl = (size_t)(slash - paths->v[i]), j = i + 1;

		while (j < paths->n && strrchr(paths->v[j], '/') - paths->v[j] == (ptrdiff_t)dl &&
		       !strncmp(paths->v[j], paths->v[i], dl))
			j++;
		if (j - i >= 3) {
			snprintf(dir, sizeof(dir), "%.*s", (int)dl, paths->v[i]);
			glob_escape(dir, buf, sizeof(buf) - 3);
			strcat(buf, "/*");
			snprintf(note, sizeof(note), "%zu files read here", j - i);
			if ((rc = strs_add(&s->secrets, buf, false)) || (rc = strs_add(&s->secret_notes, note, false)))
				return rc;
		} else {
			for (size_t k = i; k < j; k++) {
				glob_escape(paths->v[k], buf, sizeof(buf));
				if ((rc = strs_add(&s->secrets, buf, false)) || (rc = strs_add(&s->secret_notes, "", false)))
					return rc;
			}
		}
		i = j;
	}
	return 0;
}

static void write_policy(FILE *out, const char *identity, const struct ledger_identity *id,
			 const struct suggestion *s)
{
	char name[254], t1[40], t2[40], c[1100];
	int64_t first = 0, last = 0;

	for (size_t i = 0; i < id->n_edges; i++) {
		const struct ledger_edge *e = id->edges[i];

		if (e->first_ms && (!first || e->first_ms < first))
			first = e->first_ms;
		if (e->last_ms > last)
			last = e->last_ms;
	}
	fmt_time(first, t1, sizeof(t1));
	fmt_time(last, t2, sizeof(t2));
	policy_name(identity, name, sizeof(name));
	comment_text(identity, c, sizeof(c));
	fprintf(out, "# Suggested by reach from the observed reach of %s\n", c);
	fprintf(out, "# (%zu edges seen %s .. %s). Least privilege: review before use.\n", id->n_edges, t1, t2);
	fprintf(out, "apiVersion: reach.dev/v1\nkind: ReachPolicy\nmetadata:\n  name: ");
	yq(out, name);
	fprintf(out, "\nspec:\n  %s: ", is_service_account(identity) ? "serviceAccount" : "identity");
	yq(out, identity);
	fputc('\n', out);

	fprintf(out, "  secrets:%s\n", s->secrets.n ? "" : " []");
	for (size_t i = 0; i < s->secrets.n; i++) {
		fprintf(out, "    - ");
		yq(out, s->secrets.v[i]);
		if (s->secret_notes.v[i][0])
			fprintf(out, "  # %s", s->secret_notes.v[i]);
		fputc('\n', out);
	}

	fprintf(out, "  egress:%s\n", s->n_eg ? "" : " []");
	for (size_t i = 0; i < s->n_eg; i++) {
		const struct egress_group *g = &s->eg[i];

		fprintf(out, "    - {%s: ", g->by_name ? "host" : "cidr");
		yq(out, g->key);
		if (!g->any_port && g->n_ports) {
			fprintf(out, ", ports: [");
			for (size_t j = 0; j < g->n_ports; j++)
				fprintf(out, "%s%u", j ? ", " : "", g->ports[j]);
			fputc(']', out);
		}
		if (g->proto[0])
			fprintf(out, ", proto: %s", g->proto);
		fputc('}', out);
		if (g->note[0]) {
			comment_text(g->note, c, sizeof(c));
			fprintf(out, "  # %s", c);
		}
		fputc('\n', out);
	}

	fprintf(out, "  credentials:%s\n", s->n_cg ? "" : " []");
	for (size_t i = 0; i < s->n_cg; i++) {
		const struct cred_group *g = &s->cg[i];

		fprintf(out, "    - {host: ");
		yq(out, g->host);
		fprintf(out, ", kinds: [");
		yq(out, g->kind);
		fputc(']', out);
		if (g->with_paths) {
			fprintf(out, ", paths: [");
			for (size_t j = 0; j < g->paths.n; j++) {
				if (j)
					fprintf(out, ", ");
				yq(out, g->paths.v[j]);
			}
			fputc(']', out);
		}
		fputc('}', out);
		if (g->note[0]) {
			comment_text(g->note, c, sizeof(c));
			fprintf(out, "  # %s", c);
		}
		fputc('\n', out);
	}

	fprintf(out, "  tools:%s\n", s->tools.n ? "" : " []");
	for (size_t i = 0; i < s->tools.n; i++) {
		fprintf(out, "    - ");
		yq(out, s->tools.v[i]);
		fputc('\n', out);
	}
	if (s->mcp.n)
		fprintf(out, "  mcp:\n");
	for (size_t i = 0; i < s->mcp.n; i++) {
		const char *tab = strchr(s->mcp.v[i], '\t');
		char server[300];

		snprintf(server, sizeof(server), "%.*s", (int)(tab - s->mcp.v[i]), s->mcp.v[i]);
		fprintf(out, "    - server: ");
		yq(out, server);
		fprintf(out, "\n      tools: [");
		yq(out, tab + 1);
		fprintf(out, "]\n");
	}
	if (s->llm.n)
		fprintf(out, "  llm:\n");
	for (size_t i = 0; i < s->llm.n; i++) {
		const char *t1 = strchr(s->llm.v[i], '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		char provider[300], host[300];

		if (!t2)
			continue;
		snprintf(provider, sizeof(provider), "%.*s", (int)(t1 - s->llm.v[i]), s->llm.v[i]);
		snprintf(host, sizeof(host), "%.*s", (int)(t2 - t1 - 1), t1 + 1);
		fprintf(out, "    - provider: ");
		yq(out, provider);
		fprintf(out, "\n      host: ");
		yq(out, host);
		if (t2[1]) {
			fprintf(out, "\n      models: [");
			yq(out, t2 + 1);
			fprintf(out, "]");
		}
		fputc('\n', out);
	}
	for (size_t i = 0; i < s->skipped.n; i++)
		fprintf(out, "# not expressible as a rule, left out: %s\n", s->skipped.v[i]);
}

int policy_suggest(const struct ledger *l, const char *identity, FILE *out, char *err, size_t err_size)
{
	const struct ledger_identity *id;
	struct suggestion s;
	struct strs secret_paths = { 0 };
	char buf[1200];
	int rc = 0;

	if (err && err_size)
		err[0] = '\0';
	if (!l || !identity || !out) {
		seterr(err, err_size, "policy suggest: missing ledger, identity or output");
		return -EINVAL;
	}
	for (const char *p = identity; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			seterr(err, err_size, "policy suggest: identity '%s' has spaces or control characters", identity);
			return -EINVAL;
		}
	if (!(id = ledger_identity_find(l, identity))) {
		seterr(err, err_size, "policy suggest: no observed reach for identity %s", identity);
		return -ENOENT;
	}
	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < id->n_edges && !rc; i++) {
		const struct ledger_edge *e = id->edges[i];

		switch (e->kind) {
		case LEDGER_SECRET:
		case LEDGER_TOOL:
			if (e->object[0] != '/') {
				comment_text(e->object, buf, sizeof(buf));
				rc = strs_add(&s.skipped, buf, true);
			} else if (e->kind == LEDGER_SECRET) {
				rc = strs_add(&secret_paths, e->object, true);
			} else {
				glob_escape(e->object, buf, sizeof(buf));
				rc = strs_add(&s.tools, buf, true);
			}
			break;
		case LEDGER_EGRESS:
			rc = add_egress(&s, e);
			break;
		case LEDGER_CREDENTIAL:
			rc = add_credential(&s, e);
			break;
		case LEDGER_MCP_TOOL: {
			char server[300], tool[300];

			/* server and tool are names without spaces (the ledger's) */
			glob_escape(e->name, server, sizeof(server));
			glob_escape(e->category, tool, sizeof(tool));
			if (!server[0] || !tool[0] || strchr(server, ' ') || strchr(tool, ' ')) {
				comment_text(e->object, buf, sizeof(buf));
				rc = strs_add(&s.skipped, buf, true);
				break;
			}
			snprintf(buf, sizeof(buf), "%s\t%s", server, tool);
			rc = strs_add(&s.mcp, buf, true);
			break;
		}
		case LEDGER_LLM: {
			char provider[300], host[300], model[300];

			/* a model not read ("?"): a rule for every model of that provider and host */
			glob_escape(e->category, provider, sizeof(provider));
			glob_escape(e->name, host, sizeof(host));
			glob_escape(strcmp(e->dest_class, "?") ? e->dest_class : "", model, sizeof(model));
			if (!provider[0] || !host[0] || strpbrk(provider, " \t") || strpbrk(host, " \t") ||
			    strpbrk(model, " \t")) {
				comment_text(e->object, buf, sizeof(buf));
				rc = strs_add(&s.skipped, buf, true);
				break;
			}
			snprintf(buf, sizeof(buf), "%s\t%s\t%s", provider, host, model);
			rc = strs_add(&s.llm, buf, true);
			break;
		}
		default:
			break; /* DNS answers are not rules */
		}
	}
	if (!rc)
		rc = add_secrets(&s, &secret_paths);
	strs_free(&secret_paths);
	if (rc) {
		seterr(err, err_size, "policy suggest: out of memory");
		suggestion_free(&s);
		return rc;
	}
	if (s.secrets.n > POLICY_MAX_RULES || s.tools.n > POLICY_MAX_RULES || s.mcp.n > POLICY_MAX_RULES || s.llm.n > POLICY_MAX_RULES || s.n_eg > POLICY_MAX_RULES ||
	    s.n_cg > POLICY_MAX_RULES) {
		seterr(err, err_size,
		       "policy suggest: %s has more distinct reach than a policy holds (%zu secrets, %zu egress, "
		       "%zu credentials, %zu tools; at most %d each)",
		       identity, s.secrets.n, s.n_eg, s.n_cg, s.tools.n, POLICY_MAX_RULES);
		suggestion_free(&s);
		return -E2BIG;
	}
	write_policy(out, identity, id, &s);
	suggestion_free(&s);
	if (fflush(out) || ferror(out)) {
		seterr(err, err_size, "policy suggest: write error");
		return -EIO;
	}
	return 0;
}
