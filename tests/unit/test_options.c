/* Unit tests for the option table (config/options.c): every entry both ways
 * (its flag from argv, its key from a YAML file, the same field and value),
 * --help naming every flag, no flag or key declared twice, and the
 * precedence of flags over the file with the defaults applied once. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "config/config.h"
#include "config/options.h"

#define TEMP_TEMPLATE "/tmp/reach-test-options-XXXXXX.yaml"
#define TEMP_SUFFIX_LEN 5 /* ".yaml" */

/* ---- helpers ------------------------------------------------------------ */

static int load_yaml(struct reach_config *cfg, const char *text, char *err, size_t err_size)
{
	char path[] = TEMP_TEMPLATE;
	size_t len = strlen(text);
	int fd = mkstemps(path, TEMP_SUFFIX_LEN), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	rc = config_load_file(cfg, path, err, err_size);
	assert_int_equal(unlink(path), 0);
	return rc;
}

static enum options_result parse(struct reach_config *cfg, char *err, size_t err_size, ...)
{
	char *argv[16] = { "reachd" };
	int argc = 1;
	va_list ap;

	va_start(ap, err_size);
	for (char *a; (a = va_arg(ap, char *)); argc++) {
		assert_true(argc < 15);
		argv[argc] = a;
	}
	va_end(ap);
	return options_parse_argv(cfg, argc, argv, err, err_size);
}

static const void *at(const struct reach_config *cfg, const struct option_spec *o)
{
	return (const char *)cfg + o->offset;
}

static int count(const struct reach_config *cfg, const struct option_spec *o)
{
	return *(const int *)((const char *)cfg + o->count_offset);
}

static int choice_index(const struct option_spec *o, const char *value)
{
	for (int i = 0; o->choices[i]; i++)
		if (strcmp(o->choices[i], value) == 0)
			return i;
	return -1;
}

/* The entry's field in cfg holds its example value. */
static void assert_holds_example(const struct reach_config *cfg, const struct option_spec *o, bool from_flag)
{
	const char *name = o->key ? o->key : o->flag;

	switch (o->type) {
	case OPTION_BOOL:
		/* a flag sets it; the key says what the example says */
		if (*(const int *)at(cfg, o) != (from_flag || strcmp(o->example, "true") == 0))
			fail_msg("%s: %d", name, *(const int *)at(cfg, o));
		break;
	case OPTION_STRING:
	case OPTION_CHOICE:
		assert_non_null(*(char *const *)at(cfg, o));
		assert_string_equal(*(char *const *)at(cfg, o), o->example);
		break;
	case OPTION_LIST:
		assert_int_equal(count(cfg, o), 1);
		assert_string_equal(((char *const *)at(cfg, o))[0], o->example);
		break;
	case OPTION_U64:
		assert_true(*(const unsigned long long *)at(cfg, o) == strtoull(o->example, NULL, 10));
		break;
	case OPTION_SECONDS:
		assert_true(*(const double *)at(cfg, o) == strtod(o->example, NULL));
		break;
	case OPTION_MODE:
		assert_true(choice_index(o, o->example) >= 0);
		assert_int_equal(*(const int *)at(cfg, o), choice_index(o, o->example));
		break;
	default:
		fail_msg("%s: no value to hold", name);
	}
}

/* Two configs hold the same value in the entry's field. */
static void assert_same_value(const struct reach_config *a, const struct reach_config *b, const struct option_spec *o)
{
	switch (o->type) {
	case OPTION_STRING:
	case OPTION_CHOICE:
		assert_string_equal(*(char *const *)at(a, o), *(char *const *)at(b, o));
		break;
	case OPTION_LIST:
		assert_int_equal(count(a, o), count(b, o));
		for (int i = 0; i < count(a, o); i++)
			assert_string_equal(((char *const *)at(a, o))[i], ((char *const *)at(b, o))[i]);
		break;
	case OPTION_U64:
		assert_true(*(const unsigned long long *)at(a, o) == *(const unsigned long long *)at(b, o));
		break;
	default:
		assert_int_equal(*(const int *)at(a, o), *(const int *)at(b, o));
	}
}

static bool has_value(const struct option_spec *o)
{
	return o->type != OPTION_HELP && o->type != OPTION_VERSION;
}

/* ---- the table's shape -------------------------------------------------- */

static void test_no_flag_or_key_is_declared_twice(void **state)
{
	for (size_t i = 0; i < reach_n_options; i++) {
		const struct option_spec *o = &reach_options[i];

		if (!o->flag && !o->key)
			fail_msg("entry %zu has neither a flag nor a key", i);
		if (!o->help || !*o->help)
			fail_msg("%s: no help text", o->flag ? o->flag : o->key);
		for (size_t j = i + 1; j < reach_n_options; j++) {
			const struct option_spec *p = &reach_options[j];

			if (o->flag && p->flag && strcmp(o->flag, p->flag) == 0)
				fail_msg("flag --%s declared twice", o->flag);
			if (o->key && p->key && strcmp(o->key, p->key) == 0)
				fail_msg("key %s declared twice", o->key);
			if (o->short_flag && o->short_flag == p->short_flag)
				fail_msg("flag -%c declared twice", o->short_flag);
			if (has_value(o) && has_value(p) && o->offset == p->offset)
				fail_msg("%s and %s share a field", o->flag ? o->flag : o->key, p->flag ? p->flag : p->key);
		}
	}
}

static void test_every_key_is_section_dot_name(void **state)
{
	for (size_t i = 0; i < reach_n_options; i++) {
		const char *key = reach_options[i].key, *dot;

		if (!key)
			continue;
		dot = strchr(key, '.');
		if (!dot || dot == key || !dot[1] || strchr(dot + 1, '.'))
			fail_msg("key '%s' is not SECTION.NAME", key);
		/* keys the config file cannot express */
		if (reach_options[i].type == OPTION_SECONDS || !has_value(&reach_options[i]))
			fail_msg("key '%s' has a command-line-only type", key);
	}
}

/* ---- both ways ----------------------------------------------------------- */

static void test_every_flag_parses_from_argv(void **state)
{
	for (size_t i = 0; i < reach_n_options; i++) {
		const struct option_spec *o = &reach_options[i];
		struct reach_config cfg;
		char flag[64], err[512];
		enum options_result rc;

		if (!o->flag || !has_value(o))
			continue;
		assert_non_null(o->example);
		snprintf(flag, sizeof(flag), "--%s", o->flag);
		config_init(&cfg);
		if (o->type == OPTION_BOOL)
			rc = parse(&cfg, err, sizeof(err), flag, NULL);
		else
			rc = parse(&cfg, err, sizeof(err), flag, o->example, NULL);
		if (rc != OPTIONS_RUN)
			fail_msg("%s %s: %s", flag, o->example, err);
		assert_holds_example(&cfg, o, true);
		config_free(&cfg);
	}
}

static void yaml_for(const struct option_spec *o, char *out, size_t size)
{
	const char *dot = strchr(o->key, '.');

	if (o->type == OPTION_LIST)
		snprintf(out, size, "%.*s:\n  %s: [\"%s\"]\n", (int)(dot - o->key), o->key, dot + 1, o->example);
	else
		snprintf(out, size, "%.*s:\n  %s: \"%s\"\n", (int)(dot - o->key), o->key, dot + 1, o->example);
}

static void test_every_key_parses_from_yaml(void **state)
{
	for (size_t i = 0; i < reach_n_options; i++) {
		const struct option_spec *o = &reach_options[i];
		struct reach_config cfg;
		char text[512], err[512];

		if (!o->key)
			continue;
		assert_non_null(o->example);
		yaml_for(o, text, sizeof(text));
		config_init(&cfg);
		if (load_yaml(&cfg, text, err, sizeof(err)))
			fail_msg("%s: %s", o->key, err);
		assert_holds_example(&cfg, o, false);
		config_free(&cfg);
	}
}

/* An entry with both: the flag and the key land in the same field with the
 * same value, and merged, either one alone gives that value. */
static void test_flag_and_key_agree(void **state)
{
	size_t both = 0;

	for (size_t i = 0; i < reach_n_options; i++) {
		const struct option_spec *o = &reach_options[i];
		struct reach_config from_flag, from_file, merged, empty;
		char flag[64], text[512], err[512];
		const char *value = o->type == OPTION_BOOL ? "true" : o->example;

		if (!o->flag || !o->key)
			continue;
		both++;
		snprintf(flag, sizeof(flag), "--%s", o->flag);
		config_init(&from_flag);
		config_init(&from_file);
		if (o->type == OPTION_BOOL)
			assert_int_equal(parse(&from_flag, err, sizeof(err), flag, NULL), OPTIONS_RUN);
		else
			assert_int_equal(parse(&from_flag, err, sizeof(err), flag, value, NULL), OPTIONS_RUN);
		yaml_for(&(struct option_spec){ .key = o->key, .type = o->type, .example = value }, text, sizeof(text));
		if (load_yaml(&from_file, text, err, sizeof(err)))
			fail_msg("%s: %s", o->key, err);
		assert_same_value(&from_flag, &from_file, o);

		/* the file alone, through the merge */
		config_init(&merged);
		config_init(&empty);
		assert_int_equal(options_merge(&merged, &from_file, &empty, err, sizeof(err)), OPTIONS_RUN);
		assert_same_value(&merged, &from_flag, o);
		config_free(&merged);
		config_free(&from_file);
		config_free(&from_flag);
		config_free(&empty);
	}
	assert_true(both > 20);
}

/* ---- --help and --check-config -------------------------------------------- */

static void test_help_lists_every_flag_and_key(void **state)
{
	char *text = NULL, needle[80];
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	assert_non_null(f);
	options_usage(f);
	assert_int_equal(fclose(f), 0);
	for (size_t i = 0; i < reach_n_options; i++) {
		const struct option_spec *o = &reach_options[i];

		if (o->flag) {
			snprintf(needle, sizeof(needle), "--%s%s%s ", o->flag, o->arg ? " " : "", o->arg ? o->arg : "");
			if (!strstr(text, needle))
				fail_msg("--help does not list '%s'", needle);
		}
		if (o->short_flag) {
			snprintf(needle, sizeof(needle), "-%c, --%s", o->short_flag, o->flag);
			if (!strstr(text, needle))
				fail_msg("--help does not list '%s'", needle);
		}
		if (o->key) {
			snprintf(needle, sizeof(needle), o->flag ? "[%s]" : "  %s ", o->key);
			if (!strstr(text, needle))
				fail_msg("--help does not name the key '%s'", needle);
		}
	}
	assert_non_null(strstr(text, "--cgroup PATH"));
	free(text);
}

static void hide_url(const char *url, char *buf, size_t size)
{
	snprintf(buf, size, "<%zu-byte URL>", strlen(url));
}

static void test_check_config_lists_every_setting(void **state)
{
	struct reach_config cfg;
	char *text = NULL, needle[80], err[256];
	size_t size = 0;
	FILE *f;

	config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--ship-url", "https://user:pw@collector/v1", "--all", NULL),
			 OPTIONS_RUN);
	assert_int_equal(options_finalize(&cfg), 0);
	f = open_memstream(&text, &size);
	assert_non_null(f);
	options_print(f, &cfg, hide_url);
	assert_int_equal(fclose(f), 0);
	for (size_t i = 0; i < reach_n_options; i++) {
		const struct option_spec *o = &reach_options[i];

		if (!has_value(o))
			continue;
		if (o->key)
			snprintf(needle, sizeof(needle), "  %s = ", o->key);
		else
			snprintf(needle, sizeof(needle), "  --%s = ", o->flag);
		if (!strstr(text, needle))
			fail_msg("--check-config does not list '%s'", needle);
	}
	assert_non_null(strstr(text, "  ship.url = <28-byte URL>\n"));
	assert_null(strstr(text, "user:pw"));
	assert_non_null(strstr(text, "  monitor.all = true\n"));
	assert_non_null(strstr(text, "  agent.state_dir = " REACH_DEFAULT_STATE_DIR "\n"));
	free(text);
	config_free(&cfg);
}

/* ---- precedence and defaults --------------------------------------------- */

static void test_flags_win_and_lists_add_up(void **state)
{
	struct reach_config file, flags, cfg;
	char err[512];

	config_init(&file);
	config_init(&flags);
	config_init(&cfg);
	assert_int_equal(load_yaml(&file,
				   "agent: {state_dir: /file, ready_file: /file-ready, drop_caps: false}\n"
				   "monitor: {cgroups: [/cg/file], all: false}\n"
				   "secrets: {pattern_files: [/file.txt]}\n"
				   "policy: {paths: [/file-policy], default: alert}\n"
				   "sensor: {dedup_entries: 7}\n",
				   err, sizeof(err)), 0);
	assert_int_equal(parse(&flags, err, sizeof(err), "--state-dir", "/flag", "--cgroup", "/cg/flag", "--secret-patterns",
			       "/flag.txt", "--policy", "/flag-policy", "--drop-caps", NULL),
			 OPTIONS_RUN);
	assert_int_equal(options_merge(&cfg, &file, &flags, err, sizeof(err)), OPTIONS_RUN);
	assert_int_equal(options_finalize(&cfg), 0);
	assert_string_equal(cfg.state_dir, "/flag");          /* the flag wins */
	assert_string_equal(cfg.ready_file, "/file-ready");   /* the file fills in */
	assert_int_equal(cfg.drop_caps, 1);                    /* a flag bool over false */
	assert_int_equal(cfg.policy_default_alert, 1);
	assert_true(cfg.dedup_entries == 7);
	assert_int_equal(cfg.n_cgroups, 2);                    /* flags first */
	assert_string_equal(cfg.cgroups[0], "/cg/flag");
	assert_string_equal(cfg.cgroups[1], "/cg/file");
	assert_int_equal(cfg.n_policy_paths, 2);
	assert_string_equal(cfg.policy_paths[0], "/flag-policy");
	assert_int_equal(cfg.n_secret_pattern_files, 2);      /* the file's first: the first match wins */
	assert_string_equal(cfg.secret_pattern_files[0], "/file.txt");
	assert_string_equal(cfg.secret_pattern_files[1], "/flag.txt");
	config_free(&cfg);
	config_free(&file);
	config_free(&flags);
}

static void test_too_many_list_entries_together(void **state)
{
	struct reach_config file, flags, cfg;
	char err[512];

	config_init(&file);
	config_init(&flags);
	config_init(&cfg);
	for (int i = 0; i < CONFIG_MAX_LIST; i++)
		file.namespaces[file.n_namespaces++] = strdup("ns");
	assert_int_equal(parse(&flags, err, sizeof(err), "--namespace", "one-more", NULL), OPTIONS_RUN);
	assert_int_equal(options_merge(&cfg, &file, &flags, err, sizeof(err)), OPTIONS_USAGE);
	assert_string_equal(err, "kubernetes.namespaces: more than 64 entries from flags and config together");
	config_free(&cfg);
	config_free(&file);
	config_free(&flags);
}

static void test_defaults_fill_what_nobody_said(void **state)
{
	struct reach_config cfg;

	config_init(&cfg);
	assert_int_equal(options_finalize(&cfg), 0);
	assert_string_equal(cfg.state_dir, REACH_DEFAULT_STATE_DIR);
	assert_string_equal(cfg.syscall_hooks, "auto");
	assert_true(cfg.observed_edges == OBSERVED_EDGES_DEFAULT);
	assert_true(cfg.settle_s == 600);
	assert_true(cfg.persist_s == 10);
	assert_true(cfg.duration_s == 0);
	assert_int_equal(cfg.policy_default_alert, 0);
	assert_int_equal(cfg.monitor_all, 0);
	assert_int_equal(cfg.kube_enabled, 0);
	assert_int_equal(cfg.builtin_secrets, 1);
	assert_true(cfg.ringbuf_bytes == 0); /* the sensor's own default */
	assert_non_null(cfg.socket_path);
	config_free(&cfg);

	/* kubernetes.api is --kube, even when kubernetes.enabled says false */
	config_init(&cfg);
	cfg.kube_enabled = 0;
	cfg.kube_api = strdup("https://10.0.0.1:6443");
	assert_int_equal(options_finalize(&cfg), 0);
	assert_int_equal(cfg.kube_enabled, 1);
	config_free(&cfg);
}

static void test_bad_flags(void **state)
{
	static const struct {
		const char *flag, *value, *message;
	} cases[] = {
		{ "--ringbuf-bytes", "5000", "--ringbuf-bytes: '5000' is not a power of two between 4096 and 1073741824" },
		{ "--dedup-entries", "0", "--dedup-entries: '0' is not a number between 1 and 16777216" },
		{ "--observed-edges", "-5", "--observed-edges: '-5' is not a number between 16 and 16777216" },
		{ "--duration", "0", "--duration: '0' is not a positive number of seconds" },
		{ "--persist-interval", "x", "--persist-interval: 'x' is not a number of seconds between 0.1 and 86400" },
		{ "--settle-window", "-1", "--settle-window: '-1' is not a number of seconds (0 to 30 days)" },
		{ "--syscall-hooks", "x", "--syscall-hooks: 'x' is not auto, per-syscall or dispatcher" },
		{ "--default-policy", "deny", "--default-policy: 'deny' is not audit or alert" },
		{ "--pod-selector", "app", "--pod-selector: 'app' is not KEY=VALUE" },
		{ "--cluster-cidr", "10.0.0.1/8",
		  "--cluster-cidr: '10.0.0.1/8' is not a CIDR (ADDRESS/PREFIX with zero host bits, or an address)" },
		{ "--apiserver", "kubernetes.default:443",
		  "--apiserver: 'kubernetes.default:443' is not an address or ADDRESS:PORT ([IPv6]:PORT)" },
		{ "--ship-url", "ftp://x", "--ship-url: expected an http:// or https:// URL, got 'ftp://x'" },
		{ "--bogus", NULL, "unknown option '--bogus' (see --help)" },
		{ "--duration", NULL, "option '--duration' needs a value (see --help)" },
	};
	struct reach_config cfg;
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_init(&cfg);
		assert_int_equal(parse(&cfg, err, sizeof(err), cases[i].flag, cases[i].value, NULL), OPTIONS_USAGE);
		assert_string_equal(err, cases[i].message);
		config_free(&cfg);
	}
	config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--all", "extra", NULL), OPTIONS_USAGE);
	assert_string_equal(err, "unexpected argument 'extra' (see --help)");
	config_free(&cfg);
}

static void test_repeated_flags(void **state)
{
	struct reach_config cfg;
	char err[512];

	config_init(&cfg);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--state-dir", "/a", "--state-dir", "/b", "--cgroup", "/x",
			       "--cgroup", "/y", "-v", NULL),
			 OPTIONS_RUN);
	assert_string_equal(cfg.state_dir, "/b"); /* the last one */
	assert_int_equal(cfg.n_cgroups, 2);
	assert_int_equal(cfg.verbose, 1);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_flag_or_key_is_declared_twice),
		cmocka_unit_test(test_every_key_is_section_dot_name),
		cmocka_unit_test(test_every_flag_parses_from_argv),
		cmocka_unit_test(test_every_key_parses_from_yaml),
		cmocka_unit_test(test_flag_and_key_agree),
		cmocka_unit_test(test_help_lists_every_flag_and_key),
		cmocka_unit_test(test_check_config_lists_every_setting),
		cmocka_unit_test(test_flags_win_and_lists_add_up),
		cmocka_unit_test(test_too_many_list_entries_together),
		cmocka_unit_test(test_defaults_fill_what_nobody_said),
		cmocka_unit_test(test_bad_flags),
		cmocka_unit_test(test_repeated_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
