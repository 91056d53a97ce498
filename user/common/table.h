/* Tables for people (reachctl): a header row and rows of text cells,
 * columns as wide as their widest cell, three spaces apart as kubectl
 * prints them; a column whose every cell is a number (or "-") is aligned
 * to the right so that counts line up. */
#ifndef REACH_TABLE_H
#define REACH_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table;
struct json_object;

/* n_cols headers (copied). NULL on allocation failure. */
struct table *table_new(size_t n_cols, const char *const *headers);
/* One row of n_cols cells (copied; NULL is "-"). 0 or -ENOMEM. */
int table_add_row(struct table *t, const char *const *cells);
size_t table_rows(const struct table *t);
/* The table; control characters in cells are printed as '?' (a cell is
 * one line whatever a name held). Nothing is padded after the last column. */
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

/* A JSON value as a cell: null "-", strings as they are, numbers and
 * booleans as JSON writes them, arrays of scalars joined by ",", objects
 * as "k=v,k=v". Cut to out_size - 1 bytes. */
void table_cell_of_json(struct json_object *v, char *out, size_t out_size);

#endif
