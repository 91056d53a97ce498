#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ship/prom_text.h"

/* One family's group of lines ends at data[end]; groups are in declaration
 * order, so the next one starts there. */
struct prom_family_span {
	char *name;
	char type[8];
	size_t end;
};

void prom_buf_free(struct prom_buf *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_families; i++)
		free(b->families[i].name);
	free(b->families);
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int prom_error(const struct prom_buf *b)
{
	return b->error;
}

static int fail(struct prom_buf *b, int rc)
{
	if (!b->error)
		b->error = rc;
	return b->error;
}

static int reserve(struct prom_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *nd;

	if (b->len + more + 1 <= b->cap)
		return 0;
	while (cap < b->len + more + 1)
		cap *= 2;
	nd = realloc(b->data, cap);
	if (!nd)
		return -ENOMEM;
	b->data = nd;
	b->cap = cap;
	return 0;
}

static int put(struct prom_buf *b, const char *s, size_t n)
{
	if (reserve(b, n))
		return -ENOMEM;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int put_str(struct prom_buf *b, const char *s)
{
	return put(b, s, strlen(s));
}

/* HELP text escapes backslash and newline; label values also the double
 * quote (the format's two escaping rules). */
static int put_escaped(struct prom_buf *b, const char *s, int quote)
{
	for (; *s; s++) {
		const char *esc = NULL;

		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '\n')
			esc = "\\n";
		else if (quote && *s == '"')
			esc = "\\\"";
		if (esc ? put_str(b, esc) : put(b, s, 1))
			return -ENOMEM;
	}
	return 0;
}

static int is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool prom_valid_metric_name(const char *name)
{
	if (!name || !(is_name_start(*name) || *name == ':'))
		return false;
	for (const char *p = name + 1; *p; p++)
		if (!is_name_start(*p) && !is_digit(*p) && *p != ':')
			return false;
	return true;
}

bool prom_valid_label_name(const char *name)
{
	if (!name || !is_name_start(*name) || !strncmp(name, "__", 2))
		return false;
	for (const char *p = name + 1; *p; p++)
		if (!is_name_start(*p) && !is_digit(*p))
			return false;
	return true;
}

static struct prom_family_span *find_family(const struct prom_buf *b, const char *name)
{
	for (size_t i = 0; i < b->n_families; i++)
		if (!strcmp(b->families[i].name, name))
			return &b->families[i];
	return NULL;
}

static int remember_family(struct prom_buf *b, const char *name, const char *type)
{
	struct prom_family_span *nf = realloc(b->families, (b->n_families + 1) * sizeof(*nf));

	if (!nf)
		return -ENOMEM;
	b->families = nf;
	if (!(nf[b->n_families].name = strdup(name)))
		return -ENOMEM;
	snprintf(nf[b->n_families].type, sizeof(nf[b->n_families].type), "%s", type);
	nf[b->n_families].end = b->len;
	b->n_families++;
	return 0;
}

int prom_family(struct prom_buf *b, const char *name, const char *type, const char *help)
{
	const struct prom_family_span *f;

	if (b->error)
		return b->error;
	if (!prom_valid_metric_name(name) || !type || (strcmp(type, "counter") && strcmp(type, "gauge")))
		return fail(b, -EINVAL);
	if ((f = find_family(b, name)))
		return strcmp(f->type, type) ? fail(b, -EEXIST) : 0;
	if (put_str(b, "# HELP ") || put_str(b, name) || put_str(b, " ") || put_escaped(b, help ? help : "", 0) ||
	    put_str(b, "\n# TYPE ") || put_str(b, name) || put_str(b, " ") || put_str(b, type) || put_str(b, "\n") ||
	    remember_family(b, name, type))
		return fail(b, -ENOMEM);
	return 0;
}

static void reverse(char *p, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		char t = p[i];

		p[i] = p[n - 1 - i];
		p[n - 1 - i] = t;
	}
}

/* Moves the k bytes at the end of data to offset at (an in-place rotation
 * of data[at..len) by three reversals: no allocation that could fail). */
static void move_tail_to(struct prom_buf *b, size_t at, size_t k)
{
	reverse(b->data + at, b->len - at);
	reverse(b->data + at, k);
	reverse(b->data + at + k, b->len - at - k);
}

/* Checked before anything is written, so a refused sample leaves no half
 * line behind. */
static int check_labels(int nlabels, const char *const *kv)
{
	if (nlabels < 0 || nlabels > PROM_MAX_LABELS)
		return -EINVAL;
	for (int i = 0; i < nlabels; i++) {
		if (!prom_valid_label_name(kv[2 * i]))
			return -EINVAL;
		for (int j = 0; j < i; j++)
			if (!strcmp(kv[2 * i], kv[2 * j]))
				return -EINVAL;
	}
	return 0;
}

static int put_sample(struct prom_buf *b, const char *name, const char *value, int nlabels, const char *const *kv)
{
	struct prom_family_span *f;
	size_t start = b->len;
	int rc;

	if (b->error)
		return b->error;
	if (!name || !(f = find_family(b, name)))
		return fail(b, -EINVAL);
	if ((rc = check_labels(nlabels, kv)))
		return fail(b, rc);
	if (put_str(b, name))
		return fail(b, -ENOMEM);
	for (int i = 0; i < nlabels; i++) {
		if (put_str(b, i ? "," : "{") || put_str(b, kv[2 * i]) || put_str(b, "=\"") ||
		    put_escaped(b, kv[2 * i + 1] ? kv[2 * i + 1] : "", 1) || put_str(b, "\""))
			return fail(b, -ENOMEM);
	}
	if ((nlabels && put_str(b, "}")) || put_str(b, " ") || put_str(b, value) || put_str(b, "\n"))
		return fail(b, -ENOMEM);
	/* appended at the very end; an earlier family's group ends before */
	if (f->end != start)
		move_tail_to(b, f->end, b->len - start);
	for (struct prom_family_span *g = f; g < b->families + b->n_families; g++)
		g->end += b->len - start;
	return 0;
}

static void format_double(double v, char *out, size_t n)
{
	if (isnan(v))
		snprintf(out, n, "NaN");
	else if (isinf(v))
		snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
	else {
		snprintf(out, n, "%.15g", v); /* 0.1, not 0.10000000000000001 */
		if (strtod(out, NULL) != v)
			snprintf(out, n, "%.17g", v); /* 17 digits always read back as v */
	}
}

int prom_sample_kv(struct prom_buf *b, const char *name, double value, int nlabels, const char *const *kv)
{
	char v[64];

	format_double(value, v, sizeof(v));
	return put_sample(b, name, v, nlabels, kv);
}

int prom_sample_kv_u64(struct prom_buf *b, const char *name, uint64_t value, int nlabels, const char *const *kv)
{
	char v[32];

	snprintf(v, sizeof(v), "%" PRIu64, value);
	return put_sample(b, name, v, nlabels, kv);
}

/* Collects the variadic (name, value) pairs; -EINVAL beyond the cap. */
static int collect(const char **kv, int nlabels, va_list ap)
{
	if (nlabels < 0 || nlabels > PROM_MAX_LABELS)
		return -EINVAL;
	for (int i = 0; i < 2 * nlabels; i++)
		kv[i] = va_arg(ap, const char *);
	return 0;
}

int prom_sample(struct prom_buf *b, const char *name, double value, int nlabels, ...)
{
	const char *kv[2 * PROM_MAX_LABELS];
	va_list ap;
	int rc;

	va_start(ap, nlabels);
	rc = collect(kv, nlabels, ap);
	va_end(ap);
	return rc ? fail(b, rc) : prom_sample_kv(b, name, value, nlabels, kv);
}

int prom_sample_u64(struct prom_buf *b, const char *name, uint64_t value, int nlabels, ...)
{
	const char *kv[2 * PROM_MAX_LABELS];
	va_list ap;
	int rc;

	va_start(ap, nlabels);
	rc = collect(kv, nlabels, ap);
	va_end(ap);
	return rc ? fail(b, rc) : prom_sample_kv_u64(b, name, value, nlabels, kv);
}
