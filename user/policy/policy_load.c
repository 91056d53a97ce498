/* ReachPolicy loader: YAML files -> struct policy_set.
 *
 * Each file is read whole and parsed with yaml_parser_load() one document at
 * a time (a file may hold many policies separated by "---"): document nodes
 * keep their start marks, so every error points at FILE:LINE:COLUMN of the
 * node that caused it and names the field path ("spec.egress[1].ports[0]").
 * New policies are collected in a private list and appended to the caller's
 * set only when every file of the call loaded, so a bad reload keeps the last
 * good set untouched.
 *
 * The walk is bounded by the schema (every list is capped, every leaf is a
 * scalar), so YAML aliases cannot make it blow up. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include "common/glob.h"
#include "common/names.h"
#include "common/yamlfile.h"
#include "common/yamlnode.h"
#include "common/log.h"
#include "common/readfile.h"
#include "policy/policy.h"
#include "reach/netclass.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Hundreds of policies fit in a few hundred KiB; the cap only stops
 * `--policy /dev/zero` style mistakes from eating memory. */
#define POLICY_MAX_FILE_BYTES (4 * 1024 * 1024)

#define API_VERSION "reach.dev/v1"
#define KIND "ReachPolicy"

/* Longest file-supplied text quoted back in an error message. */
#define QUOTE_MAX 64
/* "spec.exceptions[127].credential.fingerprints[15]" and friends. */
#define WHERE_MAX 128
/* The most keys any mapping of the schema has (exceptions: 6). */
#define MAX_FIELDS 8

struct loader {
	struct yaml_file *y;                /* the file being read */
	char *err;
	size_t err_size;
	const struct policy_set *existing;  /* the caller's set: identities already taken */
	struct policy_set *pending;         /* loaded by this call so far */
};

/* ---- error messages ---------------------------------------------------- */

#define fail_at(l, node, ...) yaml_file_fail_at((l)->y, (node), __VA_ARGS__)
#define fail_nomem(l) yaml_file_nomem((l)->y)
#define node_at(l, index) yaml_file_node((l)->y, (index))

/* ---- node classification ----------------------------------------------- */




static const char *text_of(const yaml_node_t *scalar)
{
	return (const char *)scalar->data.scalar.value;
}

/* Field paths are bounded by the schema; a cut one still names its start. */
static void join(char *out, size_t size, const char *where, const char *name)
{
	int n;

	if (where && *where)
		n = snprintf(out, size, "%s.%s", where, name);
	else
		n = snprintf(out, size, "%s", name);
	if (n < 0 || (size_t)n >= size)
		out[size - 1] = '\0';
}

static void join_index(char *out, size_t size, const char *where, size_t index)
{
	int n = snprintf(out, size, "%s[%zu]", where, index);

	if (n < 0 || (size_t)n >= size)
		out[size - 1] = '\0';
}

/* ---- scalars ------------------------------------------------------------ */

#define want_string(l, node, where, text) yaml_file_want_string((l)->y, (node), (where), (text))

/* want_string, then copied into a fixed field of SIZE bytes (NUL included). */
static int copy_string(struct loader *l, const yaml_node_t *node, const char *where, char *out, size_t size)
{
	const char *text = NULL;
	int rc = want_string(l, node, where, &text);

	if (rc)
		return rc;
	if (node->data.scalar.length >= size)
		return fail_at(l, node, "%s: too long (%zu characters, at most %zu)", where,
			       node->data.scalar.length, size - 1);
	memcpy(out, text, node->data.scalar.length + 1);
	return 0;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return true;
	return false;
}

static bool has_space_or_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7f)
			return true;
	return false;
}

/* ---- names -------------------------------------------------------------- */

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 1123 label as Kubernetes uses it: [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63. */
static bool is_dns_label(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 63 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return false;
	for (i = 0; i < len; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* RFC 1123 subdomain: dot-separated labels, <= 253 characters. */
static bool is_dns_subdomain(const char *s, size_t len)
{
	size_t start = 0, i;

	if (len == 0 || len > 253)
		return false;
	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (!is_dns_label(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

static bool is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '*';
}

/* A DNS name whose labels may hold "*" wildcards ("*.openai.com",
 * "api-*.example.com", "*"); one trailing dot allowed. */
static bool is_host_pattern(const char *s)
{
	size_t len = strlen(s), start = 0, i;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			size_t n = i - start;

			if (n == 0 || n > 63 || s[start] == '-' || s[i - 1] == '-')
				return false;
			start = i + 1;
		} else if (!is_host_char(s[i])) {
			return false;
		}
	}
	return true;
}

static int parse_host(struct loader *l, const yaml_node_t *node, const char *where, char *out, size_t size)
{
	char shown[QUOTE_MAX];
	struct netaddr addr;
	int rc = copy_string(l, node, where, out, size);

	if (rc)
		return rc;
	if (netaddr_parse(out, &addr) == 0)
		return 0;  /* an IP literal: matched against the address */
	if (strchr(out, '/'))
		return fail_at(l, node, "%s: '%s' is not a host name (a CIDR goes in cidr:)", where,
			       yaml_printable(node, shown, sizeof(shown)));
	if (strchr(out, ':'))
		return fail_at(l, node, "%s: '%s' is not a host name (no port here: ports are listed separately "
			       "or, for credentials, ignored)", where, yaml_printable(node, shown, sizeof(shown)));
	if (!is_host_pattern(out))
		return fail_at(l, node, "%s: '%s' is not a host name (DNS labels of letters, digits, '-', '_', "
			       "with '*' wildcards) or an IP address", where, yaml_printable(node, shown, sizeof(shown)));
	return 0;
}

/* ---- times -------------------------------------------------------------- */

static bool take_digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool take_char(const char **p, const char *accept)
{
	if (**p && strchr(accept, **p)) {
		(*p)++;
		return true;
	}
	return false;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* RFC 3339 date-time without locale or time zone database:
 * YYYY-MM-DD"T"hh:mm:ss[.frac]("Z"|+hh:mm|-hh:mm), "t"/"z" too. */
int policy_parse_rfc3339(const char *text, int64_t *unix_ms)
{
	int year, mon, day, hour, min, sec, off_h = 0, off_m = 0, ms = 0, sign = 0;
	const char *p = text;
	int64_t seconds;

	if (!text || !unix_ms)
		return -EINVAL;
	if (!take_digits(&p, 4, &year) || !take_char(&p, "-") || !take_digits(&p, 2, &mon) ||
	    !take_char(&p, "-") || !take_digits(&p, 2, &day) || !take_char(&p, "Tt") ||
	    !take_digits(&p, 2, &hour) || !take_char(&p, ":") || !take_digits(&p, 2, &min) ||
	    !take_char(&p, ":") || !take_digits(&p, 2, &sec))
		return -EINVAL;
	if (take_char(&p, ".")) {
		int scale = 100, digits = 0;

		for (; *p >= '0' && *p <= '9'; p++, digits++) {
			ms += (*p - '0') * scale;
			scale /= 10;
		}
		if (digits == 0)
			return -EINVAL;
	}
	if (take_char(&p, "Zz")) {
		sign = 0;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!take_digits(&p, 2, &off_h) || !take_char(&p, ":") || !take_digits(&p, 2, &off_m))
			return -EINVAL;
		if (off_h > 23 || off_m > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hour > 23 || min > 59 ||
	    sec > 60)  /* 60: a leap second, counted as the next second */
		return -EINVAL;
	seconds = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
	seconds -= (int64_t)sign * (off_h * 3600 + off_m * 60);
	*unix_ms = seconds * 1000 + ms;
	return 0;
}

/* ---- mappings ------------------------------------------------------------ */

struct field {
	const char *name;
	const yaml_node_t *key;    /* NULL: absent */
	const yaml_node_t *value;
};

static void expected_names(const struct field *f, size_t n, char *out, size_t size)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < n && used < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "", f[i].name);
}

/* Fills F[i].key/value from MAPPING; unknown, duplicate and non-string keys
 * are errors. WHERE "" is the top level. */
static int get_fields(struct loader *l, const yaml_node_t *mapping, const char *where, struct field *f, size_t n)
{
	const yaml_node_pair_t *pair;
	char shown[QUOTE_MAX], names[256], path[WHERE_MAX];
	size_t i;

	if (mapping->type != YAML_MAPPING_NODE)
		return fail_at(l, mapping, "%s: expected a mapping, got %s", where, yaml_describe(mapping));
	for (i = 0; i < n; i++)
		f[i].key = f[i].value = NULL;
	for (pair = mapping->data.mapping.pairs.start; pair < mapping->data.mapping.pairs.top; pair++) {
		const yaml_node_t *key = node_at(l, pair->key);
		const yaml_node_t *value = node_at(l, pair->value);

		if (key->type != YAML_SCALAR_NODE)
			return fail_at(l, key, "%s: keys must be strings, got %s", *where ? where : "top level",
				       yaml_describe(key));
		for (i = 0; i < n; i++)
			if (!yaml_has_embedded_nul(key) && strcmp(text_of(key), f[i].name) == 0)
				break;
		if (i == n) {
			expected_names(f, n, names, sizeof(names));
			yaml_printable(key, shown, sizeof(shown));
			join(path, sizeof(path), where, shown);
			return fail_at(l, key, "%s: unknown field (expected %s)", path, names);
		}
		join(path, sizeof(path), where, f[i].name);
		if (f[i].key)
			return fail_at(l, key, "%s: duplicate key (first at line %zu)", path,
				       f[i].key->start_mark.line + 1);
		f[i].key = key;
		f[i].value = value;
	}
	return 0;
}

/* Calls ITEM for each element of a list, capped at MAX. */
typedef int (*item_parser)(struct loader *l, const yaml_node_t *item, const char *where, void *ctx);

static int for_each_item(struct loader *l, const yaml_node_t *list, const char *where, size_t max,
			 item_parser parse, void *ctx)
{
	const yaml_node_item_t *it;
	char item_where[WHERE_MAX];
	size_t index = 0;
	int rc;

	if (list->type != YAML_SEQUENCE_NODE)
		return fail_at(l, list, "%s: expected a list, got %s", where, yaml_describe(list));
	for (it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++, index++) {
		const yaml_node_t *item = node_at(l, *it);

		join_index(item_where, sizeof(item_where), where, index);
		if (index >= max)
			return fail_at(l, item, "%s: too many entries (at most %zu)", where, max);
		rc = parse(l, item, item_where, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- rule values --------------------------------------------------------- */

static int parse_abs_glob(struct loader *l, const yaml_node_t *node, const char *where, char *out, size_t size)
{
	char shown[QUOTE_MAX], why[160];
	size_t at;
	int rc = copy_string(l, node, where, out, size);

	if (rc)
		return rc;
	if (out[0] != '/')
		return fail_at(l, node, "%s: '%s' is not an absolute path glob (must start with '/')", where,
			       yaml_printable(node, shown, sizeof(shown)));
	if (has_control(out))
		return fail_at(l, node, "%s: contains a control character", where);
	if (glob_check(out, &at, why, sizeof(why))) {
		yaml_mark_t mark = node->start_mark;

		/* the column of the mistake itself (a quoted scalar starts one
		 * before its text; escapes inside quotes are not counted) */
		mark.column += at + (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE);
		return yaml_file_fail(l->y, mark, "%s: '%s': %s", where, yaml_printable(node, shown, sizeof(shown)), why);
	}
	return 0;
}

static int parse_port(struct loader *l, const yaml_node_t *item, const char *where, void *ctx)
{
	struct policy_egress *e = ctx;
	char shown[QUOTE_MAX];
	const char *text;
	unsigned long v = 0;
	size_t i, len;

	if (item->type != YAML_SCALAR_NODE || yaml_is_null(item))
		return fail_at(l, item, "%s: expected a port number, got %s", where, yaml_describe(item));
	text = text_of(item);
	len = item->data.scalar.length;
	for (i = 0; i < len; i++)
		if (text[i] < '0' || text[i] > '9')
			break;
	if (len == 0 || i != len || (text[0] == '0' && len > 1))
		return fail_at(l, item, "%s: '%s' is not a port (1-65535)", where, yaml_printable(item, shown, sizeof(shown)));
	if (len > 5 || (v = strtoul(text, NULL, 10)) < 1 || v > 65535)
		return fail_at(l, item, "%s: %s is not a port (1-65535)", where, yaml_printable(item, shown, sizeof(shown)));
	e->ports[e->n_ports++] = (uint16_t)v;
	return 0;
}

enum { EG_HOST, EG_CIDR, EG_PORTS, EG_PROTO, EG_N };

static int parse_egress(struct loader *l, const yaml_node_t *node, const char *where, struct policy_egress *e)
{
	struct field f[EG_N] = { [EG_HOST] = { .name = "host" }, [EG_CIDR] = { .name = "cidr" },
				 [EG_PORTS] = { .name = "ports" }, [EG_PROTO] = { .name = "proto" } };
	char sub[WHERE_MAX], shown[QUOTE_MAX];
	int rc;

	memset(e, 0, sizeof(*e));
	rc = get_fields(l, node, where, f, EG_N);
	if (rc)
		return rc;
	if (f[EG_HOST].key && f[EG_CIDR].key) {
		const yaml_node_t *second = f[EG_HOST].key->start_mark.index > f[EG_CIDR].key->start_mark.index ?
					    f[EG_HOST].key : f[EG_CIDR].key;

		return fail_at(l, second, "%s: has both host and cidr; an egress rule takes exactly one", where);
	}
	if (!f[EG_HOST].key && !f[EG_CIDR].key)
		return fail_at(l, node, "%s: needs host or cidr", where);
	if (f[EG_HOST].key) {
		join(sub, sizeof(sub), where, "host");
		rc = parse_host(l, f[EG_HOST].value, sub, e->host, sizeof(e->host));
		if (rc)
			return rc;
	} else {
		const yaml_node_t *v = f[EG_CIDR].value;
		const char *text;

		join(sub, sizeof(sub), where, "cidr");
		rc = want_string(l, v, sub, &text);
		if (rc)
			return rc;
		if (cidr_parse(text, &e->cidr))
			return fail_at(l, v, "%s: '%s' is not a CIDR (ADDRESS/PREFIX with zero host bits, or an address)",
				       sub, yaml_printable(v, shown, sizeof(shown)));
		e->has_cidr = true;
	}
	if (f[EG_PORTS].key) {
		join(sub, sizeof(sub), where, "ports");
		rc = for_each_item(l, f[EG_PORTS].value, sub, POLICY_MAX_PORTS, parse_port, e);
		if (rc)
			return rc;
	}
	if (f[EG_PROTO].key) {
		const yaml_node_t *v = f[EG_PROTO].value;
		const char *text;

		join(sub, sizeof(sub), where, "proto");
		rc = want_string(l, v, sub, &text);
		if (rc)
			return rc;
		if (strcasecmp(text, "tcp") == 0)
			strcpy(e->proto, "tcp");
		else if (strcasecmp(text, "udp") == 0)
			strcpy(e->proto, "udp");
		else if (strcasecmp(text, "icmp") == 0)
			strcpy(e->proto, "icmp"); /* ping and raw ICMP sockets (v4 and v6) */
		else
			return fail_at(l, v, "%s: '%s' is not a protocol (tcp, udp or icmp)", sub,
				       yaml_printable(v, shown, sizeof(shown)));
	}
	return 0;
}

static int parse_kind(struct loader *l, const yaml_node_t *item, const char *where, void *ctx)
{
	struct policy_credential *c = ctx;
	char *out = c->kinds[c->n_kinds];
	int rc = copy_string(l, item, where, out, sizeof(c->kinds[0]));

	if (rc)
		return rc;
	if (has_space_or_control(out))
		return fail_at(l, item, "%s: a credential kind has no spaces or control characters", where);
	c->n_kinds++;
	return 0;
}

static int parse_path(struct loader *l, const yaml_node_t *item, const char *where, void *ctx)
{
	struct policy_credential *c = ctx;
	int rc = parse_abs_glob(l, item, where, c->paths[c->n_paths], sizeof(c->paths[0]));

	if (rc)
		return rc;
	c->n_paths++;
	return 0;
}

static int parse_fingerprint(struct loader *l, const yaml_node_t *item, const char *where, void *ctx)
{
	struct policy_credential *c = ctx;
	char *out = c->fingerprints[c->n_fingerprints];
	char shown[QUOTE_MAX];
	const char *text;
	int rc = want_string(l, item, where, &text);
	size_t i;

	if (rc)
		return rc;
	for (i = 0; text[i]; i++)
		if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
			break;
	if (text[i] != '\0' || i != sizeof(c->fingerprints[0]) - 1)
		return fail_at(l, item, "%s: '%s' is not a fingerprint (%zu lower-case hex digits)", where,
			       yaml_printable(item, shown, sizeof(shown)), sizeof(c->fingerprints[0]) - 1);
	memcpy(out, text, i + 1);
	c->n_fingerprints++;
	return 0;
}

enum { CR_HOST, CR_KINDS, CR_PATHS, CR_FPS, CR_N };

static int parse_credential(struct loader *l, const yaml_node_t *node, const char *where,
			    struct policy_credential *c)
{
	struct field f[CR_N] = { [CR_HOST] = { .name = "host" }, [CR_KINDS] = { .name = "kinds" },
				 [CR_PATHS] = { .name = "paths" }, [CR_FPS] = { .name = "fingerprints" } };
	char sub[WHERE_MAX];
	int rc;

	memset(c, 0, sizeof(*c));
	rc = get_fields(l, node, where, f, CR_N);
	if (rc)
		return rc;
	if (!f[CR_HOST].key)
		return fail_at(l, node, "%s: missing required field 'host'", where);
	join(sub, sizeof(sub), where, "host");
	rc = parse_host(l, f[CR_HOST].value, sub, c->host, sizeof(c->host));
	if (rc)
		return rc;
	if (f[CR_KINDS].key) {
		join(sub, sizeof(sub), where, "kinds");
		rc = for_each_item(l, f[CR_KINDS].value, sub, POLICY_MAX_VALUES, parse_kind, c);
		if (rc)
			return rc;
	}
	if (f[CR_PATHS].key) {
		join(sub, sizeof(sub), where, "paths");
		rc = for_each_item(l, f[CR_PATHS].value, sub, POLICY_MAX_VALUES, parse_path, c);
		if (rc)
			return rc;
	}
	if (f[CR_FPS].key) {
		join(sub, sizeof(sub), where, "fingerprints");
		rc = for_each_item(l, f[CR_FPS].value, sub, POLICY_MAX_VALUES, parse_fingerprint, c);
		if (rc)
			return rc;
	}
	return 0;
}

/* A name glob (an MCP server or tool): one token, a valid glob. */
static int parse_name_glob(struct loader *l, const yaml_node_t *node, const char *where, char *out, size_t size)
{
	char shown[QUOTE_MAX], why[160];
	size_t at;
	int rc = copy_string(l, node, where, out, size);

	if (rc)
		return rc;
	if (!out[0] || has_space_or_control(out))
		return fail_at(l, node, "%s: '%s' must be a name glob without spaces or control characters", where,
			       yaml_printable(node, shown, sizeof(shown)));
	if (glob_check(out, &at, why, sizeof(why)))
		return fail_at(l, node, "%s: '%s': %s", where, yaml_printable(node, shown, sizeof(shown)), why);
	return 0;
}

static int parse_mcp_tool(struct loader *l, const yaml_node_t *item, const char *where, void *ctx)
{
	struct policy_mcp *m = ctx;
	int rc = parse_name_glob(l, item, where, m->tools[m->n_tools], sizeof(m->tools[0]));

	if (rc)
		return rc;
	m->n_tools++;
	return 0;
}

enum { MC_SERVER, MC_TOOLS, MC_N };

/* {server: GLOB, tools: [GLOB, ...]} */
static int parse_mcp(struct loader *l, const yaml_node_t *node, const char *where, struct policy_mcp *m)
{
	struct field f[MC_N] = { [MC_SERVER] = { .name = "server" }, [MC_TOOLS] = { .name = "tools" } };
	char sub[WHERE_MAX];
	int rc;

	memset(m, 0, sizeof(*m));
	rc = get_fields(l, node, where, f, MC_N);
	if (rc)
		return rc;
	if (!f[MC_SERVER].key)
		return fail_at(l, node, "%s: missing required field 'server'", where);
	join(sub, sizeof(sub), where, "server");
	rc = parse_name_glob(l, f[MC_SERVER].value, sub, m->server, sizeof(m->server));
	if (rc)
		return rc;
	if (f[MC_TOOLS].key) {
		join(sub, sizeof(sub), where, "tools");
		rc = for_each_item(l, f[MC_TOOLS].value, sub, POLICY_MAX_VALUES, parse_mcp_tool, m);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_llm_model(struct loader *l, const yaml_node_t *item, const char *where, void *ctx)
{
	struct policy_llm *m = ctx;
	int rc = parse_name_glob(l, item, where, m->models[m->n_models], sizeof(m->models[0]));

	if (rc)
		return rc;
	m->n_models++;
	return 0;
}

enum { LL_PROVIDER, LL_HOST, LL_MODELS, LL_N };

/* {provider: GLOB, host: GLOB, models: [GLOB, ...]} */
static int parse_llm(struct loader *l, const yaml_node_t *node, const char *where, struct policy_llm *m)
{
	struct field f[LL_N] = { [LL_PROVIDER] = { .name = "provider" }, [LL_HOST] = { .name = "host" },
				 [LL_MODELS] = { .name = "models" } };
	char sub[WHERE_MAX];
	int rc;

	memset(m, 0, sizeof(*m));
	rc = get_fields(l, node, where, f, LL_N);
	if (rc)
		return rc;
	if (!f[LL_PROVIDER].key)
		return fail_at(l, node, "%s: missing required field 'provider'", where);
	join(sub, sizeof(sub), where, "provider");
	rc = parse_name_glob(l, f[LL_PROVIDER].value, sub, m->provider, sizeof(m->provider));
	if (rc)
		return rc;
	if (f[LL_HOST].key) {
		join(sub, sizeof(sub), where, "host");
		rc = parse_name_glob(l, f[LL_HOST].value, sub, m->host, sizeof(m->host));
		if (rc)
			return rc;
	}
	if (f[LL_MODELS].key) {
		join(sub, sizeof(sub), where, "models");
		rc = for_each_item(l, f[LL_MODELS].value, sub, POLICY_MAX_VALUES, parse_llm_model, m);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- policy lists ------------------------------------------------------------ */

static struct policy_rule *new_rule(struct reach_policy *p, size_t *cap)
{
	struct policy_rule *r;

	if (p->n_rules == *cap) {
		size_t new_cap = *cap ? *cap * 2 : 8;
		struct policy_rule *bigger = realloc(p->rules, new_cap * sizeof(*bigger));

		if (!bigger)
			return NULL;
		p->rules = bigger;
		*cap = new_cap;
	}
	r = &p->rules[p->n_rules];
	memset(r, 0, sizeof(*r));
	return r;
}

struct list_ctx {
	struct reach_policy *policy;
	size_t cap;
	enum policy_rule_type type;
};

static int parse_rule_item(struct loader *l, const yaml_node_t *item, const char *where, void *ctx)
{
	struct list_ctx *lc = ctx;
	struct policy_rule *r = new_rule(lc->policy, &lc->cap);
	int rc;

	if (!r)
		return fail_nomem(l);
	r->type = lc->type;
	r->line = (int)item->start_mark.line + 1;
	switch (lc->type) {
	case POLICY_SECRET:
	case POLICY_TOOL:
		rc = parse_abs_glob(l, item, where, r->glob, sizeof(r->glob));
		break;
	case POLICY_EGRESS:
		rc = parse_egress(l, item, where, &r->egress);
		break;
	case POLICY_MCP:
		rc = parse_mcp(l, item, where, &r->mcp);
		break;
	case POLICY_LLM:
		rc = parse_llm(l, item, where, &r->llm);
		break;
	default:
		rc = parse_credential(l, item, where, &r->credential);
		break;
	}
	if (rc)
		return rc;
	lc->policy->n_rules++;
	return 0;
}

enum { EX_SECRET, EX_TOOL, EX_EGRESS, EX_CREDENTIAL, EX_EXPIRES, EX_REASON, EX_N };

struct exception_ctx {
	struct reach_policy *policy;
	size_t cap;
};

static int parse_exception(struct loader *l, const yaml_node_t *item, const char *where, void *ctx)
{
	static const enum policy_rule_type types[] = { POLICY_SECRET, POLICY_TOOL, POLICY_EGRESS, POLICY_CREDENTIAL };
	struct field f[EX_N] = { [EX_SECRET] = { .name = "secret" }, [EX_TOOL] = { .name = "tool" },
				 [EX_EGRESS] = { .name = "egress" }, [EX_CREDENTIAL] = { .name = "credential" },
				 [EX_EXPIRES] = { .name = "expires" }, [EX_REASON] = { .name = "reason" } };
	struct exception_ctx *ec = ctx;
	struct reach_policy *p = ec->policy;
	struct policy_exception *e;
	const struct field *rule_field = NULL;
	char sub[WHERE_MAX], shown[QUOTE_MAX];
	const char *text;
	size_t i;
	int rc;

	if (p->n_exceptions == ec->cap) {
		size_t new_cap = ec->cap ? ec->cap * 2 : 4;
		struct policy_exception *bigger = realloc(p->exceptions, new_cap * sizeof(*bigger));

		if (!bigger)
			return fail_nomem(l);
		p->exceptions = bigger;
		ec->cap = new_cap;
	}
	e = &p->exceptions[p->n_exceptions];
	memset(e, 0, sizeof(*e));
	e->line = (int)item->start_mark.line + 1;
	rc = get_fields(l, item, where, f, EX_N);
	if (rc)
		return rc;
	for (i = EX_SECRET; i <= EX_CREDENTIAL; i++) {
		if (!f[i].key)
			continue;
		if (rule_field) {
			const struct field *later = f[i].key->start_mark.index > rule_field->key->start_mark.index ?
						    &f[i] : rule_field;
			const struct field *earlier = later == rule_field ? &f[i] : rule_field;

			return fail_at(l, later->key, "%s: has both %s and %s; an exception covers exactly one rule",
				       where, earlier->name, later->name);
		}
		rule_field = &f[i];
	}
	if (!rule_field)
		return fail_at(l, item, "%s: needs one of secret, tool, egress or credential", where);
	if (!f[EX_EXPIRES].key)
		return fail_at(l, item, "%s: missing required field 'expires'", where);
	if (!f[EX_REASON].key)
		return fail_at(l, item, "%s: missing required field 'reason'", where);

	i = (size_t)(rule_field - f);
	e->rule.type = types[i];
	e->rule.line = (int)rule_field->value->start_mark.line + 1;
	join(sub, sizeof(sub), where, rule_field->name);
	switch (e->rule.type) {
	case POLICY_SECRET:
	case POLICY_TOOL:
		rc = parse_abs_glob(l, rule_field->value, sub, e->rule.glob, sizeof(e->rule.glob));
		break;
	case POLICY_EGRESS:
		rc = parse_egress(l, rule_field->value, sub, &e->rule.egress);
		break;
	default:
		rc = parse_credential(l, rule_field->value, sub, &e->rule.credential);
		break;
	}
	if (rc)
		return rc;

	join(sub, sizeof(sub), where, "expires");
	rc = want_string(l, f[EX_EXPIRES].value, sub, &text);
	if (rc)
		return rc;
	if (policy_parse_rfc3339(text, &e->expires_unix_ms))
		return fail_at(l, f[EX_EXPIRES].value,
			       "%s: '%s' is not an RFC 3339 time (like 2026-12-31T00:00:00Z or 2026-12-31T02:00:00+02:00)",
			       sub, yaml_printable(f[EX_EXPIRES].value, shown, sizeof(shown)));

	join(sub, sizeof(sub), where, "reason");
	rc = copy_string(l, f[EX_REASON].value, sub, e->reason, sizeof(e->reason));
	if (rc)
		return rc;
	if (has_control(e->reason))
		return fail_at(l, f[EX_REASON].value, "%s: must be one line of text without control characters", sub);
	p->n_exceptions++;
	return 0;
}

/* ---- identities ------------------------------------------------------------- */

static int parse_service_account(struct loader *l, const yaml_node_t *node, const char *where, char *out, size_t size)
{
	char shown[QUOTE_MAX];
	const char *slash;
	int rc = copy_string(l, node, where, out, size);

	if (rc)
		return rc;
	slash = strchr(out, '/');
	if (!slash || !is_dns_label(out, (size_t)(slash - out)) || !is_dns_subdomain(slash + 1, strlen(slash + 1)))
		return fail_at(l, node, "%s: '%s' is not NAMESPACE/NAME (lower-case DNS names, like ai/llm-gateway)",
			       where, yaml_printable(node, shown, sizeof(shown)));
	return 0;
}

static int parse_identity(struct loader *l, const yaml_node_t *node, const char *where, char *out, size_t size)
{
	int rc = copy_string(l, node, where, out, size);

	if (rc)
		return rc;
	if (has_space_or_control(out))
		return fail_at(l, node, "%s: an identity has no spaces or control characters", where);
	/* host/nginx.service and host/nginx are one identity (common/names.h) */
	names_identity_normalize(out, out, size);
	return 0;
}

static const struct reach_policy *find_identity(const struct policy_set *set, const char *identity)
{
	size_t i;

	for (i = 0; set && i < set->n; i++)
		if (strcmp(set->policies[i].identity, identity) == 0)
			return &set->policies[i];
	return NULL;
}

/* ---- documents ---------------------------------------------------------- */

enum { SP_SA, SP_IDENTITY, SP_SECRETS, SP_EGRESS, SP_CREDENTIALS, SP_TOOLS, SP_MCP, SP_LLM, SP_EXCEPTIONS, SP_N };

static int parse_spec(struct loader *l, const yaml_node_t *spec, struct reach_policy *p)
{
	struct field f[SP_N] = { [SP_SA] = { .name = "serviceAccount" }, [SP_IDENTITY] = { .name = "identity" },
				 [SP_SECRETS] = { .name = "secrets" }, [SP_EGRESS] = { .name = "egress" },
				 [SP_CREDENTIALS] = { .name = "credentials" }, [SP_TOOLS] = { .name = "tools" }, [SP_MCP] = { .name = "mcp" }, [SP_LLM] = { .name = "llm" },
				 [SP_EXCEPTIONS] = { .name = "exceptions" } };
	const struct reach_policy *other;
	const struct field *id;
	struct exception_ctx ec = { .policy = p };
	const yaml_node_pair_t *pair;
	size_t rules_cap = 0;
	char sub[WHERE_MAX], shown[QUOTE_MAX];
	int rc;

	rc = get_fields(l, spec, "spec", f, SP_N);
	if (rc)
		return rc;
	if (f[SP_SA].key && f[SP_IDENTITY].key) {
		const yaml_node_t *later = f[SP_SA].key->start_mark.index > f[SP_IDENTITY].key->start_mark.index ?
					   f[SP_SA].key : f[SP_IDENTITY].key;

		return fail_at(l, later, "spec: has both serviceAccount and identity; give exactly one");
	}
	if (!f[SP_SA].key && !f[SP_IDENTITY].key)
		return fail_at(l, spec, "spec: needs serviceAccount (NAMESPACE/NAME) or identity");
	id = f[SP_SA].key ? &f[SP_SA] : &f[SP_IDENTITY];
	join(sub, sizeof(sub), "spec", id->name);
	if (id == &f[SP_SA])
		rc = parse_service_account(l, id->value, sub, p->identity, sizeof(p->identity));
	else
		rc = parse_identity(l, id->value, sub, p->identity, sizeof(p->identity));
	if (rc)
		return rc;
	other = find_identity(l->existing, p->identity);
	if (!other)
		other = find_identity(l->pending, p->identity);
	if (other)
		return fail_at(l, id->value, "%s: identity '%s' already has a policy (%s at %s:%d)", sub,
			       yaml_printable(id->value, shown, sizeof(shown)), other->name, other->file, other->line);

	/* a type without a list: its findings point at spec */
	for (size_t t = 0; t < sizeof(p->list_line) / sizeof(p->list_line[0]); t++)
		p->list_line[t] = (int)spec->start_mark.line + 1;
	/* Rules in the order the lists appear in the file. */
	for (pair = spec->data.mapping.pairs.start; pair < spec->data.mapping.pairs.top; pair++) {
		const yaml_node_t *key = node_at(l, pair->key);
		struct list_ctx lc = { .policy = p };
		size_t k;

		for (k = 0; k < SP_N && f[k].key != key; k++)
			;
		if (k == SP_N)
			continue;  /* cannot happen: get_fields saw every key */
		join(sub, sizeof(sub), "spec", f[k].name);
		switch (k) {
		case SP_SECRETS:
			lc.type = POLICY_SECRET;
			break;
		case SP_EGRESS:
			lc.type = POLICY_EGRESS;
			break;
		case SP_CREDENTIALS:
			lc.type = POLICY_CREDENTIAL;
			break;
		case SP_TOOLS:
			lc.type = POLICY_TOOL;
			break;
		case SP_MCP:
			lc.type = POLICY_MCP;
			p->declares_mcp = true;
			break;
		case SP_LLM:
			lc.type = POLICY_LLM;
			p->declares_llm = true;
			break;
		case SP_EXCEPTIONS:
			rc = for_each_item(l, f[k].value, sub, POLICY_MAX_RULES, parse_exception, &ec);
			if (rc)
				return rc;
			continue;
		default:
			continue;
		}
		p->list_line[lc.type] = (int)key->start_mark.line + 1;
		lc.cap = rules_cap;
		rc = for_each_item(l, f[k].value, sub, POLICY_MAX_RULES, parse_rule_item, &lc);
		rules_cap = lc.cap;
		if (rc)
			return rc;
	}
	return 0;
}

enum { DOC_API, DOC_KIND, DOC_META, DOC_SPEC, DOC_N };

static void policy_free_one(struct reach_policy *p)
{
	free(p->rules);
	free(p->exceptions);
	p->rules = NULL;
	p->exceptions = NULL;
	p->n_rules = p->n_exceptions = 0;
}

static int push_policy(struct policy_set *set, const struct reach_policy *p)
{
	struct reach_policy *bigger = realloc(set->policies, (set->n + 1) * sizeof(*bigger));

	if (!bigger)
		return -ENOMEM;
	set->policies = bigger;
	set->policies[set->n++] = *p;
	return 0;
}

/* Parses one document into *P (zeroed by the caller) and appends it to
 * l->pending; on error the caller frees what P holds. */
static int parse_document(struct loader *l, const yaml_node_t *root, struct reach_policy *p)
{
	struct field f[DOC_N] = { [DOC_API] = { .name = "apiVersion" }, [DOC_KIND] = { .name = "kind" },
				  [DOC_META] = { .name = "metadata" }, [DOC_SPEC] = { .name = "spec" } };
	struct field meta[1] = { { .name = "name" } };
	const yaml_node_pair_t *pair;
	char shown[QUOTE_MAX];
	const char *text;
	int rc;

	if (root->type != YAML_MAPPING_NODE)
		return fail_at(l, root, "a policy document must be a mapping, got %s", yaml_describe(root));
	/* The kind first: a Deployment in the wrong directory should be named
	 * as such, not reported as a pile of unknown fields. */
	for (pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++) {
		const yaml_node_t *key = node_at(l, pair->key), *value = node_at(l, pair->value);

		if (key->type == YAML_SCALAR_NODE && strcmp(text_of(key), "kind") == 0 &&
		    value->type == YAML_SCALAR_NODE && !yaml_is_null(value) &&
		    (yaml_has_embedded_nul(value) || strcmp(text_of(value), KIND) != 0))
			return fail_at(l, value, "kind: '%s' is not supported (expected %s)",
				       yaml_printable(value, shown, sizeof(shown)), KIND);
	}
	rc = get_fields(l, root, "", f, DOC_N);
	if (rc)
		return rc;
	if (!f[DOC_KIND].key)
		return fail_at(l, root, "missing required field 'kind' (%s)", KIND);
	rc = want_string(l, f[DOC_KIND].value, "kind", &text);
	if (rc)
		return rc;
	if (!f[DOC_API].key)
		return fail_at(l, root, "missing required field 'apiVersion' (%s)", API_VERSION);
	rc = want_string(l, f[DOC_API].value, "apiVersion", &text);
	if (rc)
		return rc;
	if (strcmp(text, API_VERSION) != 0)
		return fail_at(l, f[DOC_API].value, "apiVersion: '%s' is not supported (expected %s)",
			       yaml_printable(f[DOC_API].value, shown, sizeof(shown)), API_VERSION);
	if (!f[DOC_META].key)
		return fail_at(l, root, "missing required field 'metadata'");
	if (!f[DOC_SPEC].key)
		return fail_at(l, root, "missing required field 'spec'");

	if (strlen(l->y->path) >= sizeof(p->file))
		return fail_at(l, root, "file name too long");
	strcpy(p->file, l->y->path);
	p->line = (int)root->start_mark.line + 1;

	rc = get_fields(l, f[DOC_META].value, "metadata", meta, ARRAY_SIZE(meta));
	if (rc)
		return rc;
	if (!meta[0].key)
		return fail_at(l, f[DOC_META].value, "metadata: missing required field 'name'");
	rc = copy_string(l, meta[0].value, "metadata.name", p->name, sizeof(p->name));
	if (rc)
		return rc;
	if (!is_dns_subdomain(p->name, strlen(p->name)))
		return fail_at(l, meta[0].value, "metadata.name: '%s' is not a name (lower-case letters, digits, '-' "
			       "and '.', starting and ending with a letter or digit)",
			       yaml_printable(meta[0].value, shown, sizeof(shown)));
	rc = parse_spec(l, f[DOC_SPEC].value, p);
	if (rc)
		return rc;
	if (push_policy(l->pending, p))
		return fail_nomem(l);
	return 0;
}

/* ---- files ---------------------------------------------------------------- */

/* Every document of the file is a policy ("---" separates them); empty ones
 * are skipped, but a file must hold at least one. */
/* Every document of an open file is a policy ("---" separates them); empty
 * ones are skipped, but a file must hold at least one. Closes y. */
static int load_yaml(struct loader *l, struct yaml_file *y, int rc, const char *name)
{
	const yaml_node_t *root;
	size_t found = 0;

	l->y = y;
	while (rc == 0 && (rc = yaml_file_next(y, &root)) == 1) {
		struct reach_policy p;

		rc = 0;
		if (yaml_is_null(root))
			continue;
		memset(&p, 0, sizeof(p));
		rc = parse_document(l, root, &p);
		if (rc)
			policy_free_one(&p);
		found++;
	}
	if (rc == 0 && found == 0) {
		yaml_mark_t start = { 0 };

		rc = yaml_file_fail(y, start, "no %s in %s", KIND, name);
	}
	l->y = NULL;
	yaml_file_close(y);
	return rc;
}

static int load_file(struct loader *l, const char *path)
{
	struct yaml_file y;
	int rc = yaml_file_open(&y, path, POLICY_MAX_FILE_BYTES, "policy", l->err, l->err_size);

	return load_yaml(l, &y, rc, path);
}

static bool is_policy_name(const char *name)
{
	size_t len = strlen(name);

	if (name[0] == '.')  /* hidden: editor leftovers, Kubernetes' ..data */
		return false;
	return (len > 5 && strcmp(name + len - 5, ".yaml") == 0) || (len > 4 && strcmp(name + len - 4, ".yml") == 0);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_directory(struct loader *l, const char *dir)
{
	char **names = NULL, *file = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	d = opendir(dir);
	if (!d)
		return file_error(dir, errno, l->err, l->err_size);
	while ((de = readdir(d)) != NULL) {
		if (!is_policy_name(de->d_name))
			continue;
		if (n == cap) {
			size_t new_cap = cap ? cap * 2 : 16;
			char **bigger = realloc(names, new_cap * sizeof(*bigger));

			if (!bigger) {
				rc = -ENOMEM;
				break;
			}
			names = bigger;
			cap = new_cap;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc) {
		format_error(l->err, l->err_size, "%s: out of memory", dir);
		goto out;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), compare_names);
	for (i = 0; i < n && rc == 0; i++) {
		size_t dlen = strlen(dir);
		struct stat st;

		free(file);
		if (asprintf(&file, "%s%s%s", dir, dlen && dir[dlen - 1] == '/' ? "" : "/", names[i]) < 0) {
			file = NULL;
			format_error(l->err, l->err_size, "%s: out of memory", dir);
			rc = -ENOMEM;
			break;
		}
		if (stat(file, &st) < 0) {
			rc = file_error(file, errno, l->err, l->err_size);
			break;
		}
		if (!S_ISREG(st.st_mode))
			continue;  /* a directory called x.yaml: not recursed into */
		rc = load_file(l, file);
	}
	if (rc == 0 && l->pending->n == 0) {
		format_error(l->err, l->err_size, "%s: no policy files (*.yaml, *.yml) in the directory", dir);
		rc = -ENOENT;
	}
out:
	free(file);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* ---- public API ---------------------------------------------------------- */

void policy_set_free(struct policy_set *set)
{
	size_t i;

	if (!set)
		return;
	for (i = 0; i < set->n; i++)
		policy_free_one(&set->policies[i]);
	free(set->policies);
	set->policies = NULL;
	set->n = 0;
}

/* Appends what the loader gathered in *pending to *set, or frees it: all or
 * nothing. */
static int commit_pending(struct policy_set *set, struct policy_set *pending, int rc, const char *name, char *err,
			  size_t err_size)
{
	struct reach_policy *bigger;

	if (rc == 0) {
		bigger = realloc(set->policies, (set->n + pending->n + 1) * sizeof(*bigger));
		if (!bigger) {
			format_error(err, err_size, "%s: out of memory", name);
			rc = -ENOMEM;
		} else {
			if (pending->n)
				memcpy(bigger + set->n, pending->policies, pending->n * sizeof(*bigger));
			set->policies = bigger;
			set->n += pending->n;
			free(pending->policies);
			return 0;
		}
	}
	policy_set_free(pending);
	return rc;
}

int policy_load_path(struct policy_set *set, const char *path, char *err, size_t err_size)
{
	struct policy_set pending = { 0 };
	struct loader l = { .err = err, .err_size = err_size, .existing = set, .pending = &pending };
	struct stat st;
	int rc;

	format_error(err, err_size, "%s", "");
	if (!set || !path || !*path) {
		format_error(err, err_size, "policy_load_path: no set or path given");
		return -EINVAL;
	}
	if (stat(path, &st) < 0)
		return file_error(path, errno, err, err_size);
	if (S_ISDIR(st.st_mode))
		rc = load_directory(&l, path);
	else
		rc = load_file(&l, path);
	return commit_pending(set, &pending, rc, path, err, err_size);
}

int policy_load_text(struct policy_set *set, const char *name, const char *text, size_t len, char *err,
		     size_t err_size)
{
	struct policy_set pending = { 0 };
	struct loader l = { .err = err, .err_size = err_size, .existing = set, .pending = &pending };
	struct yaml_file y;
	int rc;

	format_error(err, err_size, "%s", "");
	if (!set || !name || !text) {
		format_error(err, err_size, "policy_load_text: no set, name or text given");
		return -EINVAL;
	}
	if (len > POLICY_MAX_FILE_BYTES) {
		format_error(err, err_size, "%s: larger than %u bytes", name, (unsigned)POLICY_MAX_FILE_BYTES);
		return -EFBIG;
	}
	rc = yaml_file_open_text(&y, name, text, len, err, err_size);
	rc = load_yaml(&l, &y, rc, name);
	return commit_pending(set, &pending, rc, name, err, err_size);
}

static int copy_policy(struct reach_policy *dst, const struct reach_policy *src)
{
	*dst = *src;
	dst->rules = NULL;
	dst->exceptions = NULL;
	if (src->n_rules && !(dst->rules = malloc(src->n_rules * sizeof(*dst->rules))))
		return -ENOMEM;
	if (src->n_exceptions && !(dst->exceptions = malloc(src->n_exceptions * sizeof(*dst->exceptions)))) {
		free(dst->rules);
		dst->rules = NULL;
		return -ENOMEM;
	}
	if (src->n_rules)
		memcpy(dst->rules, src->rules, src->n_rules * sizeof(*dst->rules));
	if (src->n_exceptions)
		memcpy(dst->exceptions, src->exceptions, src->n_exceptions * sizeof(*dst->exceptions));
	return 0;
}

int policy_set_add_copies(struct policy_set *into, const struct policy_set *from, size_t *shadowed)
{
	size_t skipped = 0;

	for (size_t i = 0; from && i < from->n; i++) {
		struct reach_policy p;

		if (find_identity(into, from->policies[i].identity)) {
			skipped++;
			continue;
		}
		if (copy_policy(&p, &from->policies[i]))
			return -ENOMEM;
		if (push_policy(into, &p)) {
			policy_free_one(&p);
			return -ENOMEM;
		}
	}
	if (shadowed)
		*shadowed = skipped;
	return 0;
}

const struct reach_policy *policy_for_identity(const struct policy_set *set, const char *identity)
{
	char name[512];

	if (!identity)
		return NULL;
	return find_identity(set, names_identity_normalize(identity, name, sizeof(name)));
}

int policy_load_paths(struct policy_set *out, const char *const *paths, int n, char *err, size_t err_size)
{
	struct policy_set set = { 0 };

	for (int i = 0; i < n; i++) {
		int rc = policy_load_path(&set, paths[i], err, err_size);

		if (rc) {
			policy_set_free(&set);
			return rc;
		}
	}
	*out = set;
	return 0;
}

static uint64_t mix_stat(uint64_t h, const char *name, const struct stat *st)
{
	for (const char *c = name; *c; c++)
		h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
	h = (h ^ (uint64_t)st->st_mtim.tv_sec) * 0x100000001b3ULL;
	h = (h ^ (uint64_t)st->st_mtim.tv_nsec) * 0x100000001b3ULL;
	h = (h ^ (uint64_t)st->st_size) * 0x100000001b3ULL;
	return (h ^ (uint64_t)st->st_ino) * 0x100000001b3ULL;
}

uint64_t policy_paths_signature(const char *const *paths, int n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < n; i++) {
		struct stat st;
		DIR *d;
		struct dirent *e;

		if (stat(paths[i], &st) != 0) {
			h = (h ^ 0x5a5a) * 0x100000001b3ULL; /* gone: a change too */
			continue;
		}
		h = mix_stat(h, paths[i], &st);
		if (!S_ISDIR(st.st_mode) || !(d = opendir(paths[i])))
			continue;
		while ((e = readdir(d))) {
			char file[4600];

			if (e->d_name[0] == '.')
				continue;
			snprintf(file, sizeof(file), "%s/%s", paths[i], e->d_name);
			if (stat(file, &st) == 0)
				h ^= mix_stat(0, file, &st); /* order-independent over readdir */
		}
		closedir(d);
	}
	return h;
}
