/* Config-file loader: YAML text -> struct reach_config, the keys being those
 * of the option table (config/options.c).
 *
 * Everything is parsed into a private struct and only swapped into the
 * caller's on full success, so a failed reload never leaves a half-applied
 * config behind. Every key is "SECTION.NAME": the top level holds sections,
 * each a mapping of names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>
#include "common/https_client.h"
#include "common/log.h"
#include "common/yamlfile.h"
#include "common/yamlnode.h"
#include "config/config.h"
#include "config/options.h"

/* A config is a few hundred bytes; the cap only stops `--config /dev/zero`
 * style mistakes from eating memory. */
#define CONFIG_MAX_FILE_BYTES (1024 * 1024)

/* Longest file-supplied text quoted back in an error message. */
#define MESSAGE_QUOTE_MAX 48

/* "secrets.pattern_files[63]" and friends. */
#define WHERE_MAX 64

#define WHY_MAX 256

struct loader {
	struct yaml_file *y;
	struct reach_config *cfg;  /* the private copy being filled */
};

#define fail_at(l, node, ...) yaml_file_fail_at((l)->y, (node), __VA_ARGS__)
#define node_at(l, index) yaml_file_node((l)->y, (index))

/* ---- scalar values ----------------------------------------------------- */

static int parse_string(struct loader *l, const yaml_node_t *value, const char *where, char **out)
{
	const char *text = NULL;
	char *copy;
	int rc = yaml_file_want_string(l->y, value, where, &text);

	if (rc)
		return rc;
	copy = strdup(text);
	if (!copy)
		return yaml_file_nomem(l->y);
	*out = copy;
	return 0;
}

static int parse_bool(struct loader *l, const yaml_node_t *value, const char *where, int *out)
{
	char quoted[MESSAGE_QUOTE_MAX];
	const char *text;

	if (value->type != YAML_SCALAR_NODE || yaml_is_null(value))
		return fail_at(l, value, "%s: expected a boolean, got %s", where, yaml_describe(value));
	text = (const char *)value->data.scalar.value;
	if (yaml_has_embedded_nul(value))
		return fail_at(l, value, "%s: contains a NUL byte", where);
	if (strcasecmp(text, "true") == 0 || strcasecmp(text, "yes") == 0) {
		*out = 1;
		return 0;
	}
	if (strcasecmp(text, "false") == 0 || strcasecmp(text, "no") == 0) {
		*out = 0;
		return 0;
	}
	return fail_at(l, value, "%s: expected true/false/yes/no, got '%s'", where,
		       yaml_printable(value, quoted, sizeof(quoted)));
}

static int is_plain_decimal(const char *text, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	/* No leading zeros: YAML 1.1 readers take "0755" as octal. */
	if (text[0] == '0' && len > 1)
		return 0;
	for (i = 0; i < len; i++)
		if (text[i] < '0' || text[i] > '9')
			return 0;
	return 1;
}

static int parse_ull(struct loader *l, const yaml_node_t *value, const char *where,
		     unsigned long long *out)
{
	char quoted[MESSAGE_QUOTE_MAX];
	unsigned long long number;
	const char *text;
	char *end;

	if (value->type != YAML_SCALAR_NODE || yaml_is_null(value))
		return fail_at(l, value, "%s: expected an integer, got %s", where, yaml_describe(value));
	text = (const char *)value->data.scalar.value;
	/* strtoull alone would accept " 12", "+12" and even "-12" (wrapped). */
	if (!is_plain_decimal(text, value->data.scalar.length))
		return fail_at(l, value, "%s: expected a plain decimal integer, got '%s'", where,
			       yaml_printable(value, quoted, sizeof(quoted)));
	errno = 0;
	number = strtoull(text, &end, 10);
	if (errno == ERANGE)
		return fail_at(l, value, "%s: number too large, got '%s'", where,
			       yaml_printable(value, quoted, sizeof(quoted)));
	if (errno != 0 || *end != '\0')
		return fail_at(l, value, "%s: expected a plain decimal integer, got '%s'", where,
			       yaml_printable(value, quoted, sizeof(quoted)));
	*out = number;
	return 0;
}

/* ---- checks and lists ---------------------------------------------------- */

/* The table's own check of a scalar, "WHERE: why" at its line. */
static int check_value(struct loader *l, const struct option_spec *o, const yaml_node_t *v, const char *where)
{
	char shown[MESSAGE_QUOTE_MAX], why[WHY_MAX];

	if (!o->check || v->type != YAML_SCALAR_NODE)
		return 0; /* parse_string says what it expected */
	if (o->check((const char *)v->data.scalar.value, yaml_printable(v, shown, sizeof(shown)), why, sizeof(why)))
		return fail_at(l, v, "%s: %s", where, why);
	return 0;
}

/* Appends straight into the private config: on a later error config_free()
 * of that copy releases whatever was stored so far. Each item is checked
 * before its type, so a bad value is named even when it is null. */
static int parse_string_list(struct loader *l, const struct option_spec *o, const yaml_node_t *value,
			     const char *where)
{
	char **items = (char **)((char *)l->cfg + o->offset);
	int *n_items = (int *)((char *)l->cfg + o->count_offset);
	const yaml_node_item_t *it;
	char item_where[WHERE_MAX];
	int rc;

	if (value->type != YAML_SEQUENCE_NODE)
		return fail_at(l, value, "%s: expected a list, got %s", where, yaml_describe(value));
	for (it = value->data.sequence.items.start; it < value->data.sequence.items.top; it++) {
		const yaml_node_t *item = node_at(l, *it);

		if (*n_items >= CONFIG_MAX_LIST)
			return fail_at(l, item, "%s: too many entries (max %d)", where, CONFIG_MAX_LIST);
		snprintf(item_where, sizeof(item_where), "%s[%d]", where, *n_items);
		rc = check_value(l, o, item, item_where);
		if (rc)
			return rc;
		rc = parse_string(l, item, item_where, &items[*n_items]);
		if (rc)
			return rc;
		(*n_items)++;
	}
	return 0;
}

/* A string that must be one of the choices. */
static int parse_choice(struct loader *l, const struct option_spec *o, const yaml_node_t *v, const char *where,
			char **out)
{
	char shown[MESSAGE_QUOTE_MAX], expected[128];
	int rc = parse_string(l, v, where, out);

	if (rc)
		return rc;
	for (size_t i = 0; o->choices[i]; i++)
		if (strcmp(*out, o->choices[i]) == 0)
			return 0;
	options_choices_text(o->choices, expected, sizeof(expected));
	return fail_at(l, v, "%s: expected %s, got '%s'", where, expected, yaml_printable(v, shown, sizeof(shown)));
}

/* A word that selects a mode (policy.default): its index. */
static int parse_mode(struct loader *l, const struct option_spec *o, const yaml_node_t *v, const char *where,
		      int *out)
{
	char shown[MESSAGE_QUOTE_MAX], expected[128];

	options_choices_text(o->choices, expected, sizeof(expected));
	if (v->type != YAML_SCALAR_NODE)
		return fail_at(l, v, "%s: expected %s, got %s", where, expected, yaml_describe(v));
	for (int i = 0; o->choices[i]; i++) {
		if (strcmp((const char *)v->data.scalar.value, o->choices[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return fail_at(l, v, "%s: expected %s, got '%s'", where, expected, yaml_printable(v, shown, sizeof(shown)));
}

/* BPF_MAP_TYPE_RINGBUF rejects sizes that are not a page-multiple power of 2:
 * the table says so (pow2), and the line number beats a bare EINVAL at load. */
static int parse_number(struct loader *l, const struct option_spec *o, const yaml_node_t *v, const char *where,
			unsigned long long *out)
{
	unsigned long long n = 0;
	int rc = parse_ull(l, v, where, &n);

	if (rc)
		return rc;
	if (n < o->min || n > o->max || (o->pow2 && (n & (n - 1))))
		return fail_at(l, v, "%s: must be %sbetween %llu and %llu, got %llu", where,
			       o->pow2 ? "a power of two " : "", o->min, o->max, n);
	*out = n;
	return 0;
}

/* One key's value, by the table's type. */
static int parse_value(struct loader *l, const struct option_spec *o, const yaml_node_t *v, const char *where)
{
	void *at = (char *)l->cfg + o->offset;
	int rc;

	switch (o->type) {
	case OPTION_BOOL:
		return parse_bool(l, v, where, at);
	case OPTION_STRING:
		rc = parse_string(l, v, where, at);
		return rc ? rc : check_value(l, o, v, where);
	case OPTION_LIST:
		return parse_string_list(l, o, v, where);
	case OPTION_U64:
		return parse_number(l, o, v, where, at);
	case OPTION_CHOICE:
		return parse_choice(l, o, v, where, at);
	case OPTION_MODE:
		return parse_mode(l, o, v, where, at);
	default:
		return fail_at(l, v, "%s: can only be given on the command line", where);
	}
}

/* ---- mappings ----------------------------------------------------------- */

/* Does KEY (a YAML scalar) name the section of "SECTION.NAME" (scope NULL),
 * or its NAME within scope? */
static bool key_matches(const yaml_node_t *key, const char *dotted, const char *scope)
{
	const char *dot = strchr(dotted, '.');
	const char *name = scope ? dot + 1 : dotted;
	size_t len = scope ? strlen(name) : (size_t)(dot - dotted);

	if (scope && (strncmp(dotted, scope, (size_t)(dot - dotted)) || scope[dot - dotted]))
		return false;
	return key->data.scalar.length == len && memcmp(key->data.scalar.value, name, len) == 0;
}

/* The first table entry the key names (a section: its first entry), or -1. */
static int find_key(const yaml_node_t *key, const char *scope)
{
	/* A key with an embedded NUL ("monitor\0x") must not match "monitor". */
	if (yaml_has_embedded_nul(key))
		return -1;
	for (size_t i = 0; i < reach_n_options; i++)
		if (reach_options[i].key && key_matches(key, reach_options[i].key, scope))
			return (int)i;
	return -1;
}

static int walk_mapping(struct loader *l, const yaml_node_t *mapping, const char *scope);

/* libyaml keeps duplicate keys; YAML says they are an error and silently
 * taking the first or the last would hide an operator's mistake. */
static int walk_mapping(struct loader *l, const yaml_node_t *mapping, const char *scope)
{
	const char *scope_name = scope ? scope : "the top level";
	size_t first_line[OPTIONS_MAX] = { 0 };
	const yaml_node_pair_t *pair;
	char quoted[MESSAGE_QUOTE_MAX], name[WHERE_MAX];
	int rc;

	for (pair = mapping->data.mapping.pairs.start; pair < mapping->data.mapping.pairs.top; pair++) {
		const yaml_node_t *key = node_at(l, pair->key);
		const yaml_node_t *value = node_at(l, pair->value);
		const struct option_spec *o;
		int index;

		if (key->type != YAML_SCALAR_NODE)
			return fail_at(l, key, "keys in %s must be strings, got %s", scope_name, yaml_describe(key));
		index = find_key(key, scope);
		if (index < 0)
			return fail_at(l, key, "unknown key '%s' in %s", yaml_printable(key, quoted, sizeof(quoted)),
				       scope_name);
		o = &reach_options[index];
		snprintf(name, sizeof(name), "%.*s", (int)key->data.scalar.length, (const char *)key->data.scalar.value);
		if (first_line[index])
			return fail_at(l, key, "duplicate key '%s' in %s (first at line %zu)", name, scope_name,
				       first_line[index]);
		first_line[index] = key->start_mark.line + 1;
		if (scope) {
			rc = parse_value(l, o, value, o->key);
		} else if (yaml_is_null(value)) {
			rc = 0; /* a bare "monitor:" is an empty section, like leaving it out */
		} else if (value->type != YAML_MAPPING_NODE) {
			rc = fail_at(l, value, "%s: expected a mapping, got %s", name, yaml_describe(value));
		} else {
			rc = walk_mapping(l, value, name);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int walk_document(struct loader *l, const yaml_node_t *root)
{
	/* An empty file (or one holding only comments, "---" or "~") is a valid
	 * config with every default. */
	if (!root || yaml_is_null(root))
		return 0;
	if (root->type != YAML_MAPPING_NODE)
		return fail_at(l, root, "the top level must be a mapping, got %s", yaml_describe(root));
	return walk_mapping(l, root, NULL);
}

/* ---- public API --------------------------------------------------------- */

void config_init(struct reach_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < reach_n_options; i++) {
		const struct option_spec *o = &reach_options[i];
		void *at = (char *)cfg + o->offset;

		if (o->type == OPTION_BOOL || o->type == OPTION_MODE)
			*(int *)at = o->init_true ? 1 : -1;
		else if (o->type == OPTION_SECONDS)
			*(double *)at = -1;
	}
}

void config_free(struct reach_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < reach_n_options; i++) {
		const struct option_spec *o = &reach_options[i];
		void *at = (char *)cfg + o->offset;

		if (o->type == OPTION_STRING || o->type == OPTION_CHOICE) {
			free(*(char **)at);
		} else if (o->type == OPTION_LIST) {
			int n = *(int *)((char *)cfg + o->count_offset);

			for (int j = 0; j < n; j++)
				free(((char **)at)[j]);
		}
	}
	config_init(cfg);
}

int config_load_file(struct reach_config *cfg, const char *path, char *err, size_t err_size)
{
	struct reach_config loaded;
	struct yaml_file y;
	struct loader l = { .y = &y, .cfg = &loaded };
	const yaml_node_t *root;
	int rc;

	format_error(err, err_size, "%s", "");
	if (!cfg || !path) {
		format_error(err, err_size, "config_load_file: no config or path given");
		return -EINVAL;
	}
	config_init(&loaded);
	rc = yaml_file_open(&y, path, CONFIG_MAX_FILE_BYTES, "config", err, err_size);
	if (rc == 0)
		rc = yaml_file_only(&y, &root);
	if (rc == 0)
		rc = walk_document(&l, root);
	yaml_file_close(&y);
	if (rc) {
		config_free(&loaded);
		return rc;
	}
	config_free(cfg);
	*cfg = loaded;
	return 0;
}

enum options_result config_load(struct reach_config *cfg, int argc, char **argv)
{
	struct reach_config flags, file;
	enum options_result rc;
	char err[1024];

	config_init(&flags);
	config_init(&file);
	rc = options_parse_argv(&flags, argc, argv, err, sizeof(err));
	if (rc == OPTIONS_USAGE)
		log_error("%s", err);
	if (rc != OPTIONS_RUN)
		goto out;
	if (flags.config_file && config_load_file(&file, flags.config_file, err, sizeof(err))) {
		log_error("--config: %s", err);
		rc = OPTIONS_USAGE;
		goto out;
	}
	rc = options_merge(cfg, &file, &flags, err, sizeof(err));
	if (rc != OPTIONS_RUN) {
		log_error("%s", err);
		goto out;
	}
	if (options_finalize(cfg)) {
		log_error("applying the defaults: %s", strerror(ENOMEM));
		rc = OPTIONS_USAGE;
	}
out:
	config_free(&flags);
	config_free(&file);
	return rc;
}

static void describe_url(const char *url, char *buf, size_t size)
{
	http_target_describe(&(struct http_target){ .url = url }, buf, size);
}

void config_print_check(FILE *f, const struct reach_config *cfg, size_t n_policies)
{
	char ship[512] = "nowhere", otlp[512] = "off";

	if (cfg->ship_url)
		describe_url(cfg->ship_url, ship, sizeof(ship));
	if (cfg->otlp_url)
		describe_url(cfg->otlp_url, otlp, sizeof(otlp));
	fprintf(f, "config ok: %s; %zu policies; shipping to %s; alerts to %d alertmanagers%s; otlp %s; metrics %s\n",
		cfg->config_file ? cfg->config_file : "(flags only)", n_policies, ship, cfg->n_alertmanagers,
		cfg->webhook_url ? " and a webhook" : "", otlp, cfg->metrics_addr ? cfg->metrics_addr : "off");
	options_print(f, cfg, describe_url);
}
