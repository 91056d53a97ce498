/* Prometheus text exposition format (version 0.0.4) builder for the agent's
 * /metrics: a growable buffer of families, each "# HELP" + "# TYPE" once,
 * then its samples. Counters and gauges only.
 *
 * The format wants every family's lines in one group. Families may be
 * declared up front and their samples added in any order: a sample goes
 * at the end of its own family's group (the text after it moves), so
 * data/len are a valid exposition after every call.
 *
 * Errors are sticky: the first one is kept in b->error and every later
 * call returns it without writing, so a renderer checks once at the end
 * (prom_error()) instead of after each of a hundred samples. A buffer in
 * error must not be served. */
#ifndef REACH_PROM_TEXT_H
#define REACH_PROM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Zero-initialised = empty ({0} or PROM_BUF_INIT). */
struct prom_family_span;
struct prom_buf {
	char *data;       /* NUL-terminated text, NULL while empty */
	size_t len, cap;
	int error;        /* first error (negative errno), 0 when none */
	struct prom_family_span *families; /* internal: where each group ends */
	size_t n_families;
};
#define PROM_BUF_INIT { 0 }

void prom_buf_free(struct prom_buf *b); /* leaves it empty; accepts an empty one */

/* Declares a family: "# HELP NAME HELP" (backslash and newline escaped) and
 * "# TYPE NAME TYPE". type: "counter" or "gauge". Declaring a family again
 * with the same type is a no-op (render loops may call it per sample);
 * with another type -EEXIST. -EINVAL: invalid metric name (not
 * [a-zA-Z_:][a-zA-Z0-9_:]*) or type; -ENOMEM. */
int prom_family(struct prom_buf *b, const char *name, const char *type, const char *help);

/* One sample of a declared family: "NAME{k1="v1",...} VALUE", placed at
 * the end of NAME's group. nlabels is the number of (name, value) string
 * pairs that follow. Label names must match [a-zA-Z_][a-zA-Z0-9_]*, not
 * start with "__" (reserved) and not repeat; values are escaped (\\, \",
 * \n). NULL values are "". -EINVAL: bad name, NAME not declared, nlabels
 * out of 0..16; -ENOMEM. The double form writes NaN, +Inf, -Inf as the
 * format spells them; the u64 form is exact above 2^53 (counters of bytes). */
int prom_sample(struct prom_buf *b, const char *name, double value, int nlabels, ...);
int prom_sample_u64(struct prom_buf *b, const char *name, uint64_t value, int nlabels, ...);

#define PROM_MAX_LABELS 16

/* The same with the pairs in an array: kv[2*i] name, kv[2*i+1] value. */
int prom_sample_kv(struct prom_buf *b, const char *name, double value, int nlabels, const char *const *kv);
int prom_sample_kv_u64(struct prom_buf *b, const char *name, uint64_t value, int nlabels,
		       const char *const *kv);

/* b->error: 0 when every call succeeded. */
int prom_error(const struct prom_buf *b);

/* Valid metric / label names (exported for callers that build names). */
bool prom_valid_metric_name(const char *name);
bool prom_valid_label_name(const char *name);

#endif
