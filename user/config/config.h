/* The agent's config file (`reachd --config FILE`), a small, strict YAML
 * document, and the whole load (argv, then the file, merged). Strict because a
 * typo in a security sensor's config must fail loudly at start-up (with
 * FILE:LINE:COLUMN) instead of silently monitoring less than the operator
 * believes. Every field is declared once, in the option table of
 * config/options.c (flag, YAML key, type, default, check, help), with the
 * settings struct itself (config/options.h); the loader below reads the keys
 * of that table. */
#ifndef REACH_CONFIG_H
#define REACH_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include "config/options.h"


/* Nothing set: strings NULL, numbers 0, booleans and modes -1, seconds -1,
 * except builtin_secrets = 1. Defaults are applied by options_finalize(). */
void config_init(struct reach_config *cfg);

/* Load PATH into *cfg, which must have been config_init()ed (or loaded).
 * The file replaces the whole config: keys it omits get their defaults, not
 * the previous values. On success the previous strings are freed, so pointers
 * into the old config become invalid. Returns 0, or a negative errno (-EINVAL
 * for content errors) with *cfg left exactly as it was and a one-line message
 * "FILE:LINE:COLUMN: reason" (or "FILE: reason" when there is no position)
 * in err (err may be NULL or err_size 0). */
int config_load_file(struct reach_config *cfg, const char *path, char *err, size_t err_size);

/* Free every string; leaves an init'ed struct, so calling it twice is safe. */
void config_free(struct reach_config *cfg);

/* All of it for reachd: argv, then --config under the flags, merged and
 * finalized into *cfg (config_init()ed). Errors are logged. */
enum options_result config_load(struct reach_config *cfg, int argc, char **argv);

/* --check-config: "config ok: ..." and every setting (options_print), URLs
 * as the logs show them (they may carry credentials). */
void config_print_check(FILE *f, const struct reach_config *cfg, size_t n_policies);

#endif
