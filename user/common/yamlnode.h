/* Small helpers over libyaml document nodes, shared by the strict loaders
 * (config, policies): classification, and file text made safe for messages. */
#ifndef REACH_YAMLNODE_H
#define REACH_YAMLNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

/* File-supplied text for an error message: truncated to size (with "..."),
 * anything but printable ASCII replaced, so a hostile file cannot forge log
 * lines or send terminal escapes. Returns buf. */
const char *yaml_printable(const yaml_node_t *scalar, char *buf, size_t size);
/* `key:`, `key: ~`, `key: null`: no value (plain scalars only, so a quoted
 * "null" stays a string). */
bool yaml_is_null(const yaml_node_t *node);
/* "a mapping", "a list", "a string" ...: for "expected X, got Y". */
const char *yaml_describe(const yaml_node_t *node);
/* A scalar with a NUL inside (libyaml keeps its length). */
bool yaml_has_embedded_nul(const yaml_node_t *scalar);
/* The 0-based line and column of a byte offset in text (for errors that
 * libyaml reports by offset). */
yaml_mark_t yaml_mark_from_offset(const char *text, size_t len, size_t offset);

#include <stdarg.h>

/* "PATH:LINE:COLUMN: reason" into err (libyaml marks are 0-based, editors
 * 1-based): every loader's positioned error. Returns -EINVAL. */
int yaml_vfail_at(const char *path, yaml_mark_t mark, char *err, size_t err_size, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

/* The parser's failure as a positioned "YAML syntax error: ..." (-EINVAL),
 * or "PATH: out of memory while parsing YAML" (-ENOMEM). text/len: what was
 * parsed (reader errors are reported by offset). */
int yaml_parse_error(const char *path, const yaml_parser_t *parser, const char *text, size_t len, char *err,
		     size_t err_size);

#endif
