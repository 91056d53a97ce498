#include <stdbool.h>
#include <string.h>
#include <yaml.h>
#include <errno.h>
#include <stdio.h>
#include "common/log.h"
#include "common/yamlnode.h"

const char *yaml_printable(const yaml_node_t *scalar, char *buf, size_t size)
{
	const unsigned char *text = scalar->data.scalar.value;
	size_t len = scalar->data.scalar.length;
	size_t keep = len < size - 4 ? len : size - 4;
	size_t i;

	for (i = 0; i < keep; i++)
		buf[i] = (text[i] >= 0x20 && text[i] < 0x7f) ? (char)text[i] : '?';
	if (keep < len) {
		memcpy(buf + keep, "...", 3);
		keep += 3;
	}
	buf[keep] = '\0';
	return buf;
}

bool yaml_is_null(const yaml_node_t *node)
{
	static const char *const spellings[] = { "", "~", "null", "Null", "NULL" };
	size_t i;

	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++)
		if (strcmp((const char *)node->data.scalar.value, spellings[i]) == 0)
			return true;
	return false;
}

const char *yaml_describe(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SCALAR_NODE:
		return yaml_is_null(node) ? "null" : "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "an empty node";
	}
}

bool yaml_has_embedded_nul(const yaml_node_t *scalar)
{
	return strlen((const char *)scalar->data.scalar.value) != scalar->data.scalar.length;
}

yaml_mark_t yaml_mark_from_offset(const char *text, size_t len, size_t offset)
{
	yaml_mark_t mark = { 0 };
	size_t i;

	if (offset > len)
		offset = len;
	for (i = 0; i < offset; i++) {
		if (text[i] == '\n') {
			mark.line++;
			mark.column = 0;
		} else {
			mark.column++;
		}
	}
	mark.index = offset;
	return mark;
}

int yaml_vfail_at(const char *path, yaml_mark_t mark, char *err, size_t err_size, const char *fmt, va_list ap)
{
	char reason[768];

	vsnprintf(reason, sizeof(reason), fmt, ap);
	format_error(err, err_size, "%s:%zu:%zu: %s", path, mark.line + 1, mark.column + 1, reason);
	return -EINVAL;
}

static int fail_at(const char *path, yaml_mark_t mark, char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail_at(const char *path, yaml_mark_t mark, char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = yaml_vfail_at(path, mark, err, err_size, fmt, ap);
	va_end(ap);
	return rc;
}

int yaml_parse_error(const char *path, const yaml_parser_t *parser, const char *text, size_t len, char *err,
		     size_t err_size)
{
	const char *problem = parser->problem ? parser->problem : "unknown error";
	yaml_mark_t mark = parser->problem_mark;

	if (parser->error == YAML_MEMORY_ERROR) {
		format_error(err, err_size, "%s: out of memory while parsing YAML", path);
		return -ENOMEM;
	}
	if (parser->error == YAML_READER_ERROR)
		mark = yaml_mark_from_offset(text, len, parser->problem_offset);
	if (parser->context)
		return fail_at(path, mark, err, err_size, "YAML syntax error: %s (%s at line %zu, column %zu)", problem,
			       parser->context, parser->context_mark.line + 1, parser->context_mark.column + 1);
	return fail_at(path, mark, err, err_size, "YAML syntax error: %s", problem);
}
