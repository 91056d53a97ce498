/* Unit tests for the config-file loader: every key, every error class with
 * its exact FILE:LINE:COLUMN, and the "failed load keeps the old config"
 * guarantee the agent's reload path relies on. */
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

#define TEMP_TEMPLATE "/tmp/reach-test-config-XXXXXX.yaml"
#define TEMP_SUFFIX_LEN 5 /* ".yaml" */

/* ---- helpers ------------------------------------------------------------ */

static void write_temp(char *path, size_t path_size, const char *text, size_t len)
{
	size_t done = 0;
	int fd;

	assert_true(path_size >= sizeof(TEMP_TEMPLATE));
	memcpy(path, TEMP_TEMPLATE, sizeof(TEMP_TEMPLATE));
	fd = mkstemps(path, TEMP_SUFFIX_LEN);
	assert_true(fd >= 0);
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		assert_true(n > 0);
		done += (size_t)n;
	}
	assert_int_equal(close(fd), 0);
}

/* Write TEXT (LEN bytes, so embedded NULs survive) to a temp file, load it
 * into CFG, remove the file. PATH receives the name the messages use. */
static int load_bytes(struct reach_config *cfg, const char *text, size_t len,
		      char *path, size_t path_size, char *err, size_t err_size)
{
	int rc;

	write_temp(path, path_size, text, len);
	rc = config_load_file(cfg, path, err, err_size);
	assert_int_equal(unlink(path), 0);
	return rc;
}

static int load_text(struct reach_config *cfg, const char *text,
		     char *path, size_t path_size, char *err, size_t err_size)
{
	return load_bytes(cfg, text, strlen(text), path, path_size, err, err_size);
}

/* The load must fail with -EINVAL and exactly "FILE:LINE:COL: REASON". */
static void assert_config_error(const char *text, int line, int column, const char *reason)
{
	char path[sizeof(TEMP_TEMPLATE)], err[512], expected[768];
	struct reach_config cfg;
	int rc;

	config_init(&cfg);
	rc = load_text(&cfg, text, path, sizeof(path), err, sizeof(err));
	snprintf(expected, sizeof(expected), "%s:%d:%d: %s", path, line, column, reason);
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err, expected);
	/* Nothing of the failed file may leak into the caller's struct. */
	assert_int_equal(cfg.n_cgroups, 0);
	assert_null(cfg.ready_file);
	config_free(&cfg);
}

/* Same, for messages whose tail is libyaml's wording: check the exact
 * position prefix and that the reason mentions NEEDLE. */
static void assert_config_error_prefix(const char *text, size_t len, int line, int column,
				       const char *needle)
{
	char path[sizeof(TEMP_TEMPLATE)], err[512], prefix[128];
	struct reach_config cfg;
	int rc;

	config_init(&cfg);
	rc = load_bytes(&cfg, text, len, path, sizeof(path), err, sizeof(err));
	snprintf(prefix, sizeof(prefix), "%s:%d:%d: ", path, line, column);
	assert_int_equal(rc, -EINVAL);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("message '%s' does not start with '%s'", err, prefix);
	if (!strstr(err, needle))
		fail_msg("message '%s' does not mention '%s'", err, needle);
	config_free(&cfg);
}

static void assert_config_ok(const char *text, struct reach_config *cfg)
{
	char path[sizeof(TEMP_TEMPLATE)], err[512];
	int rc;

	rc = load_text(cfg, text, path, sizeof(path), err, sizeof(err));
	if (rc != 0)
		fail_msg("load failed (%d): %s", rc, err);
	assert_string_equal(err, "");
}

static const char full_config[] =
	"# every key the agent understands\n"
	"monitor:\n"
	"  cgroups: [/sys/fs/cgroup/unified/app]\n"
	"  all: false\n"
	"secrets:\n"
	"  builtin: true\n"
	"  patterns: [\"/etc/llm/keys/*.key llm-key\", \"**/token.json\"]\n"
	"  pattern_files: [/etc/reach/secrets.txt]\n"
	"sensor:\n"
	"  ringbuf_bytes: 8388608\n"
	"  dedup_entries: 65536\n"
	"agent:\n"
	"  ready_file: /run/reach/ready\n"
	"  state_dir: /var/lib/reach\n";

static void assert_is_full_config(const struct reach_config *cfg)
{
	assert_int_equal(cfg->n_cgroups, 1);
	assert_string_equal(cfg->cgroups[0], "/sys/fs/cgroup/unified/app");
	assert_int_equal(cfg->monitor_all, 0);
	assert_int_equal(cfg->builtin_secrets, 1);
	assert_int_equal(cfg->n_secret_patterns, 2);
	assert_string_equal(cfg->secret_patterns[0], "/etc/llm/keys/*.key llm-key");
	assert_string_equal(cfg->secret_patterns[1], "**/token.json");
	assert_int_equal(cfg->n_secret_pattern_files, 1);
	assert_string_equal(cfg->secret_pattern_files[0], "/etc/reach/secrets.txt");
	assert_true(cfg->ringbuf_bytes == 8388608ULL);
	assert_true(cfg->dedup_entries == 65536ULL);
	assert_string_equal(cfg->ready_file, "/run/reach/ready");
	assert_string_equal(cfg->state_dir, "/var/lib/reach");
}

static void assert_is_default_config(const struct reach_config *cfg)
{
	assert_int_equal(cfg->n_cgroups, 0);
	assert_int_equal(cfg->monitor_all, -1);
	assert_int_equal(cfg->n_secret_patterns, 0);
	assert_int_equal(cfg->n_secret_pattern_files, 0);
	assert_int_equal(cfg->builtin_secrets, 1);
	assert_true(cfg->ringbuf_bytes == 0);
	assert_true(cfg->dedup_entries == 0);
	assert_null(cfg->ready_file);
	assert_null(cfg->state_dir);
}

/* ---- valid files ------------------------------------------------------- */

static void test_full_file_sets_every_field(void **state)
{
	struct reach_config cfg;

	config_init(&cfg);
	assert_config_ok(full_config, &cfg);
	assert_is_full_config(&cfg);
	config_free(&cfg);
}

static void test_block_style_lists_and_bool_spellings(void **state)
{
	struct reach_config cfg;

	config_init(&cfg);
	assert_config_ok("monitor:\n"
			 "  all: YES\n"
			 "  cgroups:\n"
			 "    - /sys/fs/cgroup/a\n"
			 "    - '/sys/fs/cgroup/b c'\n"
			 "secrets:\n"
			 "  builtin: No\n"
			 "  patterns: []\n", &cfg);
	assert_int_equal(cfg.monitor_all, 1);
	assert_int_equal(cfg.n_cgroups, 2);
	assert_string_equal(cfg.cgroups[0], "/sys/fs/cgroup/a");
	assert_string_equal(cfg.cgroups[1], "/sys/fs/cgroup/b c");
	assert_int_equal(cfg.builtin_secrets, 0);
	assert_int_equal(cfg.n_secret_patterns, 0);
	config_free(&cfg);

	config_init(&cfg);
	assert_config_ok("monitor: {all: True}\nsecrets: {builtin: FALSE}\n", &cfg);
	assert_int_equal(cfg.monitor_all, 1);
	assert_int_equal(cfg.builtin_secrets, 0);
	config_free(&cfg);
}

static void test_empty_file_gives_defaults(void **state)
{
	struct reach_config cfg;

	config_init(&cfg);
	assert_config_ok("", &cfg);
	assert_is_default_config(&cfg);
	config_free(&cfg);
}

static void test_comments_and_bare_sections_give_defaults(void **state)
{
	struct reach_config cfg;

	config_init(&cfg);
	assert_config_ok("# nothing configured yet\n", &cfg);
	assert_is_default_config(&cfg);
	assert_config_ok("---\n", &cfg);
	assert_is_default_config(&cfg);
	assert_config_ok("monitor:\nsecrets: ~\nsensor: null\nagent: {}\n", &cfg);
	assert_is_default_config(&cfg);
	config_free(&cfg);
}

static void test_limits_are_inclusive(void **state)
{
	struct reach_config cfg;

	config_init(&cfg);
	assert_config_ok("sensor:\n  ringbuf_bytes: 4096\n  dedup_entries: 1\n", &cfg);
	assert_true(cfg.ringbuf_bytes == 4096ULL);
	assert_true(cfg.dedup_entries == 1ULL);
	assert_config_ok("sensor:\n  ringbuf_bytes: 1073741824\n  dedup_entries: 16777216\n", &cfg);
	assert_true(cfg.ringbuf_bytes == 1073741824ULL);
	assert_true(cfg.dedup_entries == 16777216ULL);
	assert_config_ok("sensor:\n  observed_edges: 16\n", &cfg);
	assert_true(cfg.observed_edges == 16ULL);
	assert_config_ok("sensor:\n  observed_edges: 16777216\n", &cfg);
	assert_true(cfg.observed_edges == 16777216ULL);
	config_free(&cfg);
	assert_config_error("sensor:\n  observed_edges: 15\n", 2, 19,
			    "sensor.observed_edges: must be between 16 and 16777216, got 15");
	assert_config_error("sensor:\n  observed_edges: 16777217\n", 2, 19,
			    "sensor.observed_edges: must be between 16 and 16777216, got 16777217");
}

static void test_quoted_null_is_a_string(void **state)
{
	struct reach_config cfg;

	config_init(&cfg);
	assert_config_ok("agent:\n  ready_file: \"null\"\n", &cfg);
	assert_string_equal(cfg.ready_file, "null");
	config_free(&cfg);
}

/* Builds "monitor:\n  cgroups:\n    - /cg/0\n ..." with N entries. */
static char *cgroup_list_config(int n)
{
	size_t size = 32 + (size_t)n * 32;
	char *text = malloc(size);
	size_t used;
	int i;

	assert_non_null(text);
	used = (size_t)snprintf(text, size, "monitor:\n  cgroups:\n");
	for (i = 0; i < n; i++)
		used += (size_t)snprintf(text + used, size - used, "    - /cg/%d\n", i);
	assert_true(used < size);
	return text;
}

static void test_list_of_max_entries_is_accepted(void **state)
{
	char *text = cgroup_list_config(CONFIG_MAX_LIST);
	struct reach_config cfg;

	config_init(&cfg);
	assert_config_ok(text, &cfg);
	assert_int_equal(cfg.n_cgroups, CONFIG_MAX_LIST);
	assert_string_equal(cfg.cgroups[CONFIG_MAX_LIST - 1], "/cg/63");
	config_free(&cfg);
	free(text);
}

/* ---- error classes ------------------------------------------------------ */

static void test_unknown_top_level_key(void **state)
{
	assert_config_error("monitor:\n  all: true\nmonitr:\n  all: true\n",
			    3, 1, "unknown key 'monitr' in the top level");
	/* In flow style the column points at the key itself. */
	assert_config_error("{agent: {}, monitr: 1}\n", 1, 13, "unknown key 'monitr' in the top level");
}

static void test_unknown_nested_key(void **state)
{
	assert_config_error("sensor:\n  ringbuf_bytes: 4096\n  dedup: 5\n",
			    3, 3, "unknown key 'dedup' in sensor");
	assert_config_error("secrets: {builtin: true, pattern: [a]}\n",
			    1, 26, "unknown key 'pattern' in secrets");
}

static void test_hostile_key_is_sanitized_in_message(void **state)
{
	assert_config_error("\"\\e[31mred\\nline\": 1\n",
			    1, 1, "unknown key '?[31mred?line' in the top level");
}

static void test_non_scalar_key(void **state)
{
	assert_config_error("? [a, b]\n: 1\n", 1, 3, "keys in the top level must be strings, got a list");
}

static void test_wrong_types(void **state)
{
	assert_config_error("monitor:\n  cgroups: /sys/fs/cgroup/app\n",
			    2, 12, "monitor.cgroups: expected a list, got a scalar");
	assert_config_error("agent:\n  state_dir: [a, b]\n",
			    2, 14, "agent.state_dir: expected a string, got a list");
	assert_config_error("agent:\n  ready_file: ~\n",
			    2, 15, "agent.ready_file: expected a string, got null");
	assert_config_error("agent:\n  ready_file: ''\n",
			    2, 15, "agent.ready_file: must not be empty");
	assert_config_error("sensor: 5\n", 1, 9, "sensor: expected a mapping, got a scalar");
	assert_config_error("sensor:\n  - ringbuf_bytes: 4096\n",
			    2, 3, "sensor: expected a mapping, got a list");
	assert_config_error("sensor:\n  dedup_entries: [1]\n",
			    2, 18, "sensor.dedup_entries: expected an integer, got a list");
	assert_config_error("monitor:\n  all: {x: 1}\n",
			    2, 8, "monitor.all: expected a boolean, got a mapping");
	assert_config_error("monitor:\n  cgroups:\n    - /a\n    - {x: 1}\n",
			    4, 7, "monitor.cgroups[1]: expected a string, got a mapping");
	assert_config_error("- monitor\n", 1, 1, "the top level must be a mapping, got a list");
	assert_config_error("just text\n", 1, 1, "the top level must be a mapping, got a scalar");
}

static void test_bad_bool(void **state)
{
	assert_config_error("monitor:\n  all: maybe\n",
			    2, 8, "monitor.all: expected true/false/yes/no, got 'maybe'");
	assert_config_error("secrets:\n  builtin: 1\n",
			    2, 12, "secrets.builtin: expected true/false/yes/no, got '1'");
	assert_config_error("secrets:\n  builtin: ~\n",
			    2, 12, "secrets.builtin: expected a boolean, got null");
}

static void test_bad_numbers(void **state)
{
	static const char *const junk[] = {
		"-4096", "+4096", "4096k", "0x1000", "4096.0", "04096", "1e6", "'4 096'",
	};
	static const char *const shown[] = {
		"-4096", "+4096", "4096k", "0x1000", "4096.0", "04096", "1e6", "4 096",
	};
	char text[128], reason[160];
	size_t i;

	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		snprintf(text, sizeof(text), "sensor:\n  ringbuf_bytes: %s\n", junk[i]);
		snprintf(reason, sizeof(reason),
			 "sensor.ringbuf_bytes: expected a plain decimal integer, got '%s'", shown[i]);
		assert_config_error(text, 2, 18, reason);
	}
	assert_config_error("sensor:\n  dedup_entries: -1\n",
			    2, 18, "sensor.dedup_entries: expected a plain decimal integer, got '-1'");
}

static void test_ringbuf_not_power_of_two(void **state)
{
	assert_config_error("monitor:\n  all: true\nsensor:\n  ringbuf_bytes: 5000\n",
			    4, 18, "sensor.ringbuf_bytes: must be a power of two between 4096 "
			    "and 1073741824, got 5000");
}

static void test_ringbuf_out_of_range(void **state)
{
	assert_config_error("sensor:\n  ringbuf_bytes: 2048\n",
			    2, 18, "sensor.ringbuf_bytes: must be a power of two between 4096 "
			    "and 1073741824, got 2048");
	assert_config_error("sensor:\n  ringbuf_bytes: 0\n",
			    2, 18, "sensor.ringbuf_bytes: must be a power of two between 4096 "
			    "and 1073741824, got 0");
	assert_config_error("sensor:\n  ringbuf_bytes: 2147483648\n",
			    2, 18, "sensor.ringbuf_bytes: must be a power of two between 4096 "
			    "and 1073741824, got 2147483648");
}

static void test_dedup_out_of_range(void **state)
{
	assert_config_error("sensor:\n  dedup_entries: 0\n",
			    2, 18, "sensor.dedup_entries: must be between 1 and 16777216, got 0");
	assert_config_error("sensor:\n  dedup_entries: 16777217\n",
			    2, 18, "sensor.dedup_entries: must be between 1 and 16777216, got 16777217");
}

static void test_number_overflow(void **state)
{
	assert_config_error("sensor:\n  ringbuf_bytes: 18446744073709551616\n",
			    2, 18, "sensor.ringbuf_bytes: number too large, got '18446744073709551616'");
	/* The largest value that fits still reaches the range check. */
	assert_config_error("sensor:\n  dedup_entries: 18446744073709551615\n",
			    2, 18, "sensor.dedup_entries: must be between 1 and 16777216, "
			    "got 18446744073709551615");
}

static void test_duplicate_keys(void **state)
{
	assert_config_error("agent:\n  state_dir: /a\nsensor: {}\nagent:\n  state_dir: /b\n",
			    4, 1, "duplicate key 'agent' in the top level (first at line 1)");
	assert_config_error("monitor:\n  all: true\n  cgroups: []\n  all: false\n",
			    4, 3, "duplicate key 'all' in monitor (first at line 2)");
}

static void test_too_many_list_entries(void **state)
{
	char *text = cgroup_list_config(CONFIG_MAX_LIST + 1);

	/* Line 3 holds entry 0, so entry 64 (the 65th) is on line 67. */
	assert_config_error(text, 67, 7, "monitor.cgroups: too many entries (max 64)");
	free(text);
}

static void test_pattern_with_three_words(void **state)
{
	assert_config_error("secrets:\n  patterns:\n    - \"*.key  llm-key\"\n    - a b c\n",
			    4, 7, "secrets.patterns[1]: expected \"PATTERN\" or \"PATTERN CATEGORY\", "
			    "got 3 words");
}

static void test_embedded_nul_is_rejected(void **state)
{
	assert_config_error("agent:\n  state_dir: \"/var\\0/x\"\n",
			    2, 14, "agent.state_dir: contains a NUL byte");
	assert_config_error("\"agent\\0x\": {}\n", 1, 1, "unknown key 'agent?x' in the top level");
}

static void test_second_document_is_rejected(void **state)
{
	assert_config_error("agent:\n  state_dir: /a\n---\nsensor:\n  dedup_entries: 5\n",
			    4, 1, "only one YAML document is allowed");
}

static void test_yaml_syntax_error(void **state)
{
	static const char unclosed[] = "monitor:\n  cgroups: [/a, /b\nsensor:\n  dedup_entries: 5\n";
	static const char bad_indent[] = "monitor:\n  all: true\n cgroups: []\n";
	static const char bad_utf8[] = "agent:\n  state_dir: /a\xff\n";

	assert_config_error_prefix(unclosed, sizeof(unclosed) - 1, 3, 7,
				   "YAML syntax error: did not find expected ',' or ']'");
	assert_config_error_prefix(bad_indent, sizeof(bad_indent) - 1, 3, 2,
				   "YAML syntax error: did not find expected key");
	assert_config_error_prefix(bad_utf8, sizeof(bad_utf8) - 1, 2, 16,
				   "YAML syntax error: invalid leading UTF-8 octet");
}

static void test_missing_file(void **state)
{
	const char *path = "/tmp/reach-test-config-does-not-exist.yaml";
	struct reach_config cfg;
	char err[256], expected[256];

	config_init(&cfg);
	assert_int_equal(config_load_file(&cfg, path, err, sizeof(err)), -ENOENT);
	snprintf(expected, sizeof(expected), "%s: %s", path, strerror(ENOENT));
	assert_string_equal(err, expected);
	assert_is_default_config(&cfg);
}

static void test_directory_is_rejected(void **state)
{
	struct reach_config cfg;
	char err[256], expected[256];

	config_init(&cfg);
	assert_int_equal(config_load_file(&cfg, "/tmp", err, sizeof(err)), -EISDIR);
	snprintf(expected, sizeof(expected), "/tmp: %s", strerror(EISDIR));
	assert_string_equal(err, expected);
}

/* ---- the reload contract ----------------------------------------------- */

static void test_failed_load_keeps_previous_config(void **state)
{
	static const char *const bad_files[] = {
		/* fails late: strings were already copied into the scratch config */
		"monitor:\n  cgroups: [/x, /y]\nagent:\n  ready_file: /r\n  state_dir: /s\n"
		"sensor:\n  ringbuf_bytes: 5000\n",
		"monitor:\n  cgroups: [/x\n",
		"monitor:\n  all: true\nmonitor: {}\n",
	};
	char path[sizeof(TEMP_TEMPLATE)], err[512];
	struct reach_config cfg, snapshot;
	size_t i;

	config_init(&cfg);
	assert_config_ok(full_config, &cfg);
	snapshot = cfg;

	for (i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		assert_int_equal(load_text(&cfg, bad_files[i], path, sizeof(path), err, sizeof(err)),
				 -EINVAL);
		/* Byte-identical: same pointers, counts and numbers. */
		assert_memory_equal(&cfg, &snapshot, sizeof(cfg));
		assert_is_full_config(&cfg);
	}
	assert_int_equal(config_load_file(&cfg, "/tmp/reach-test-config-gone.yaml", err, sizeof(err)),
			 -ENOENT);
	assert_memory_equal(&cfg, &snapshot, sizeof(cfg));
	config_free(&cfg);
}

static void test_successful_reload_replaces_everything(void **state)
{
	struct reach_config cfg;

	config_init(&cfg);
	assert_config_ok(full_config, &cfg);
	assert_config_ok("sensor:\n  dedup_entries: 7\n", &cfg);
	/* Keys the new file omits fall back to defaults, not to the old values. */
	assert_true(cfg.dedup_entries == 7ULL);
	assert_true(cfg.ringbuf_bytes == 0);
	assert_int_equal(cfg.n_cgroups, 0);
	assert_int_equal(cfg.monitor_all, -1);
	assert_null(cfg.ready_file);
	config_free(&cfg);
}

static void test_config_free_leaves_init_struct(void **state)
{
	struct reach_config cfg;

	config_init(&cfg);
	assert_is_default_config(&cfg);
	assert_config_ok(full_config, &cfg);
	config_free(&cfg);
	assert_is_default_config(&cfg);
	config_free(&cfg); /* idempotent */
	assert_is_default_config(&cfg);
	config_free(NULL);
}

static void test_error_buffer_is_optional_and_truncates(void **state)
{
	char path[sizeof(TEMP_TEMPLATE)], small[8];
	struct reach_config cfg;

	config_init(&cfg);
	assert_int_equal(load_text(&cfg, "monitr: 1\n", path, sizeof(path), NULL, 0), -EINVAL);
	assert_int_equal(load_text(&cfg, "monitr: 1\n", path, sizeof(path), small, sizeof(small)),
			 -EINVAL);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, path, sizeof(small) - 1);
	assert_int_equal(config_load_file(&cfg, NULL, NULL, 0), -EINVAL);
	assert_is_default_config(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_file_sets_every_field),
		cmocka_unit_test(test_block_style_lists_and_bool_spellings),
		cmocka_unit_test(test_empty_file_gives_defaults),
		cmocka_unit_test(test_comments_and_bare_sections_give_defaults),
		cmocka_unit_test(test_limits_are_inclusive),
		cmocka_unit_test(test_quoted_null_is_a_string),
		cmocka_unit_test(test_list_of_max_entries_is_accepted),
		cmocka_unit_test(test_unknown_top_level_key),
		cmocka_unit_test(test_unknown_nested_key),
		cmocka_unit_test(test_hostile_key_is_sanitized_in_message),
		cmocka_unit_test(test_non_scalar_key),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_bad_bool),
		cmocka_unit_test(test_bad_numbers),
		cmocka_unit_test(test_ringbuf_not_power_of_two),
		cmocka_unit_test(test_ringbuf_out_of_range),
		cmocka_unit_test(test_dedup_out_of_range),
		cmocka_unit_test(test_number_overflow),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_too_many_list_entries),
		cmocka_unit_test(test_pattern_with_three_words),
		cmocka_unit_test(test_embedded_nul_is_rejected),
		cmocka_unit_test(test_second_document_is_rejected),
		cmocka_unit_test(test_yaml_syntax_error),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_directory_is_rejected),
		cmocka_unit_test(test_failed_load_keeps_previous_config),
		cmocka_unit_test(test_successful_reload_replaces_everything),
		cmocka_unit_test(test_config_free_leaves_init_struct),
		cmocka_unit_test(test_error_buffer_is_optional_and_truncates),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
