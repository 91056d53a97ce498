/* reachd's settings, declared once: one table of options (flag, YAML key,
 * type, default, check, help) from which the command line parser, the keys
 * of the config file (config/config.c), --help and --check-config's listing
 * are all derived, so a flag and its key cannot drift apart. The models:
 * systemd's conf-parser tables and Fluent Bit's struct flb_config_map.
 *
 * Precedence: the config file first, then the flags over it. A flag that is
 * given wins over the key; list flags and list keys add up (the flags'
 * entries first, except where the table says file_first); defaults fill what
 * neither said (options_finalize). */
#ifndef REACH_OPTIONS_H
#define REACH_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "config/config.h"

#define REACH_DEFAULT_STATE_DIR "/var/lib/reach"
/* The most entries the table may have (config.c keeps a line per entry). */
#define OPTIONS_MAX 96

enum option_type {
	OPTION_BOOL,    /* int: -1 not set, 0, 1; its flag takes no value and sets 1 */
	OPTION_STRING,  /* char *, NULL not set */
	OPTION_LIST,    /* char *[CONFIG_MAX_LIST] + int count; its flag is repeatable */
	OPTION_U64,     /* unsigned long long, 0 not set; min..max (a power of two if pow2) */
	OPTION_SECONDS, /* double, -1 not set; dmin..dmax (dmin excluded if above_min) */
	OPTION_CHOICE,  /* char *: one of choices */
	OPTION_MODE,    /* int: index into choices, -1 not set */
	OPTION_HELP,    /* actions: print and exit 0 */
	OPTION_VERSION,
};

/* A value's own check beyond its type. 0, or -1 with "why" the reason as
 * "'VALUE' is not ..." / "expected ..., got 'VALUE'" (shown: VALUE as it may
 * be quoted back). Messages read "WHERE: why", WHERE the key or the flag. */
typedef int (*option_check)(const char *value, const char *shown, char *why, size_t why_size);

struct option_spec {
	const char *flag;              /* "ringbuf-bytes" for --ringbuf-bytes; NULL: config file only */
	char short_flag;               /* 'v' for -v, or 0 */
	const char *key;               /* "sensor.ringbuf_bytes"; NULL: command line only */
	enum option_type type;
	size_t offset;                 /* of the value in struct reach_config */
	size_t count_offset;           /* OPTION_LIST: of its int count */
	bool init_true;                /* OPTION_BOOL: 1, not "not set", before anything sets it */
	unsigned long long min, max;   /* OPTION_U64 */
	bool pow2;                     /* OPTION_U64: a power of two */
	double dmin, dmax;             /* OPTION_SECONDS */
	bool above_min;                /* OPTION_SECONDS: dmin itself is refused */
	const char *seconds_text;      /* OPTION_SECONDS: the accepted range, in words */
	const char *const *choices;    /* OPTION_CHOICE, OPTION_MODE: NULL-terminated */
	option_check check;            /* OPTION_STRING, OPTION_LIST: every value */
	bool file_first;               /* OPTION_LIST: the file's entries before the flags' */
	bool url;                      /* may carry credentials: listed through a describer */
	const char *def;               /* the default, spelt as the flag's value; NULL: none */
	const char *arg;               /* --help: the value's name ("PATH"); NULL: no value */
	const char *help;              /* --help: '\n' continues on an indented line */
	const char *heading;           /* --help: a line printed before this entry */
	const char *example;           /* a valid value (tests) */
};

extern const struct option_spec reach_options[];
extern const size_t reach_n_options;

/* What options_parse_argv / options_load ask of the caller. */
enum options_result {
	OPTIONS_RUN = 0,      /* go on */
	OPTIONS_EXIT_OK = 1,  /* --help or --version printed: exit 0 */
	OPTIONS_USAGE = 2,    /* bad flag, value or config: exit 2 (message given) */
};

/* The command line into *cfg (config_init()ed): only the flags given are set.
 * On OPTIONS_USAGE, the message is in err. */
enum options_result options_parse_argv(struct reach_config *cfg, int argc, char **argv, char *err,
				       size_t err_size);

/* flags over file into *out (config_init()ed): the precedence above. Takes
 * the strings of both (they are left config_init()ed). OPTIONS_USAGE with a
 * message in err when a list gets too long. */
enum options_result options_merge(struct reach_config *out, struct reach_config *file, struct reach_config *flags,
				  char *err, size_t err_size);

/* Defaults for what is still not set, and the one rule between options
 * (kubernetes.api turns kubernetes.enabled on). 0, or -ENOMEM. */
int options_finalize(struct reach_config *cfg);

/* All of it for reachd: argv, then --config, merged and finalized into *cfg
 * (config_init()ed). Errors are logged. */
enum options_result options_load(struct reach_config *cfg, int argc, char **argv);

/* --help, from the table. */
void options_usage(FILE *f);

/* --check-config: every setting as it will run, one "KEY = VALUE" line each
 * (the YAML key, or --flag for flags only). URLs pass through describe_url
 * (they may carry credentials); NULL prints them as they are. */
typedef void (*option_url_describer)(const char *url, char *buf, size_t size);
void options_print(FILE *f, const struct reach_config *cfg, option_url_describer describe_url);

/* An entry's choices in words, "a, b or c", for messages. */
void options_choices_text(const char *const *choices, char *out, size_t size);

/* Table lookups (config/config.c, tests). */
const struct option_spec *options_find_flag(const char *flag);
const struct option_spec *options_find_key(const char *key);

#endif
