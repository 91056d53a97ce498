#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "common/table.h"

#define TABLE_GAP 3 /* kubectl's spacing */

struct table {
	size_t n_cols, n_rows, cap_rows;
	char **cells; /* (1 + n_rows) * n_cols: the header row first */
};

static char *dup_cell(const char *s)
{
	return strdup(s ? s : "-");
}

struct table *table_new(size_t n_cols, const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t || !n_cols || !(t->cells = calloc(n_cols, sizeof(char *)))) {
		free(t);
		return NULL;
	}
	t->n_cols = n_cols;
	for (size_t i = 0; i < n_cols; i++)
		if (!(t->cells[i] = dup_cell(headers[i]))) {
			table_free(t);
			return NULL;
		}
	return t;
}

int table_add_row(struct table *t, const char *const *cells)
{
	char **row;

	if (t->n_rows == t->cap_rows) {
		size_t cap = t->cap_rows ? t->cap_rows * 2 : 16;
		char **nc = realloc(t->cells, (1 + cap) * t->n_cols * sizeof(char *));

		if (!nc)
			return -ENOMEM;
		t->cells = nc;
		t->cap_rows = cap;
	}
	row = t->cells + (1 + t->n_rows) * t->n_cols;
	for (size_t i = 0; i < t->n_cols; i++)
		if (!(row[i] = dup_cell(cells[i]))) {
			while (i--)
				free(row[i]);
			return -ENOMEM;
		}
	t->n_rows++;
	return 0;
}

size_t table_rows(const struct table *t)
{
	return t ? t->n_rows : 0;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static bool numeric(const char *s)
{
	if (!strcmp(s, "-"))
		return true;
	if (*s == '-')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void put_cell(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

void table_print(const struct table *t, FILE *f)
{
	size_t *w = calloc(t->n_cols, sizeof(*w));
	bool *right = calloc(t->n_cols, sizeof(*right));

	if (!w || !right) {
		free(w);
		free(right);
		return;
	}
	for (size_t c = 0; c < t->n_cols; c++) {
		bool number = false; /* a column of "-" only is text */

		right[c] = true;
		for (size_t r = 0; r <= t->n_rows; r++) {
			const char *s = t->cells[r * t->n_cols + c];
			size_t sw = width(s);

			if (sw > w[c])
				w[c] = sw;
			if (r) {
				right[c] &= numeric(s);
				number |= strcmp(s, "-") != 0;
			}
		}
		right[c] &= number;
	}
	for (size_t r = 0; r <= t->n_rows; r++) {
		for (size_t c = 0; c < t->n_cols; c++) {
			const char *s = t->cells[r * t->n_cols + c];
			size_t pad = w[c] - width(s);
			bool last = c + 1 == t->n_cols;

			if (right[c])
				fprintf(f, "%*s", (int)pad, "");
			put_cell(f, s);
			if (!last)
				fprintf(f, "%*s", (int)((right[c] ? 0 : pad) + TABLE_GAP), "");
		}
		fputc('\n', f);
	}
	free(w);
	free(right);
}

void table_free(struct table *t)
{
	if (!t)
		return;
	if (t->cells)
		for (size_t i = 0; i < (1 + t->n_rows) * t->n_cols; i++)
			free(t->cells[i]);
	free(t->cells);
	free(t);
}

void table_cell_of_json(json_object *v, char *out, size_t out_size)
{
	size_t len = 0;

	if (!out_size)
		return;
	out[0] = '\0';
	switch (json_object_get_type(v)) {
	case json_type_null:
		snprintf(out, out_size, "-");
		break;
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v) && len < out_size; i++) {
			json_object *x = json_object_array_get_idx(v, i);

			len += snprintf(out + len, out_size - len, "%s%s", i ? "," : "",
					x && !json_object_is_type(x, json_type_object) ? json_object_get_string(x) : "{...}");
		}
		if (!json_object_array_length(v))
			snprintf(out, out_size, "-");
		break;
	case json_type_object: {
		json_object_object_foreach(v, k, x)
		{
			if (len < out_size)
				len += snprintf(out + len, out_size - len, "%s%s=%s", len ? "," : "", k,
						x ? json_object_get_string(x) : "-");
		}
		if (!len)
			snprintf(out, out_size, "-");
		break;
	}
	default:
		snprintf(out, out_size, "%s", json_object_get_string(v));
		break;
	}
}
