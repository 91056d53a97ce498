/* The kernel's catalogue pre-filter, compiled (issue #16).
 *
 * Every read-open of a new (file, executable) pair used to cost a ring-buffer
 * event, the catalogue matching it in user space; a workload opening
 * thousands of distinct ordinary files (imports, node_modules, a build)
 * flooded the ring. catfilter_compile() turns the catalogue's positive
 * rules into tables the kernel tests on the resolved path before it
 * reserves an event (layout and algorithm: abi/catfilter.h): a SUPERSET of
 * the catalogue, so a path that could match any rule is still sent, and the
 * catalogue stays the authority. A rule with no fixed part the tables can
 * express turns the whole filter off (every path sent), with the reason:
 * never a false drop.
 *
 * Besides the catalogue, the basenames the TLS coverage learns from opens
 * (libssl.so*, libgnutls.so*) always pass. */
#ifndef REACH_CATFILTER_H_USER
#define REACH_CATFILTER_H_USER

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "abi/catfilter.h"

struct catalog;

struct catfilter {
	bool on;            /* false: send everything (why says what stopped it) */
	char why[320];
	struct reach_cf_name *names;
	size_t n_names;
	struct reach_cf_affix *affixes;
	size_t n_affixes;
	struct reach_cf_prefix *prefixes;
	size_t n_prefixes;
	struct reach_cf_sieve sieve; /* abi/catfilter.h: reach_cf_config */
};

/* Compiles c into f (zeroed first; catfilter_free it, also on error).
 * 0 (f->on may still be false, with f->why); -ENOMEM; -EINVAL for NULL.
 * Table overflow (more than REACH_CF_* entries) turns the filter off. */
int catfilter_compile(struct catfilter *f, const struct catalog *c);

void catfilter_free(struct catfilter *f);

/* The kernel's verdict, computed in user space with the same tables and the
 * same steps (abi/catfilter.h): true when path (absolute, as the kernel
 * resolves it) is sent. One caller at a time (the lookups read the tables
 * through a file-scope pointer, as the shared steps call them without one):
 * the tests' mirror, not a hot path. */
bool catfilter_pass(const struct catfilter *f, const char *path);

/* Table lookups catfilter_pass has made in this process so far: in the
 * kernel each is a hash or trie lookup of a 72- to 132-byte key, most of a
 * distinct file's filter time; the sieve (abi/catfilter.h) is there to
 * keep this small for ordinary paths. */
unsigned long catfilter_lookups(void);

/* Which table form rule pattern compiles to, for logs and tests: "prefix",
 * "basename", "basename-prefix", "basename-suffix", "component", or NULL
 * when it has none (the filter goes off). */
const char *catfilter_rule_form(const char *pattern);

#endif
