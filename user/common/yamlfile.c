#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>
#include "common/log.h"
#include "common/readfile.h"
#include "common/yamlfile.h"
#include "common/yamlnode.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A first pass over the events, before anything is loaded: libyaml's
 * scanner costs time proportional to the nesting depth for every token, so
 * a 4 MiB file of nested "[[[[..." takes minutes to load; stopping at
 * YAML_MAX_DEPTH keeps every file linear. Also bounds the node count and
 * the time. Syntax errors are left to the loader (same message as before). */
static int check_limits(struct yaml_file *f)
{
	yaml_parser_t p;
	yaml_event_t ev;
	size_t depth = 0, nodes = 0;
	double deadline = now_s() + YAML_MAX_SECONDS;
	int rc = 0;

	if (!yaml_parser_initialize(&p))
		return yaml_file_nomem(f);
	yaml_parser_set_input_string(&p, (const unsigned char *)f->text, f->len);
	for (;;) {
		yaml_event_type_t type;
		yaml_mark_t mark;

		if (!yaml_parser_parse(&p, &ev))
			break; /* the loader reports it */
		type = ev.type;
		mark = ev.start_mark;
		yaml_event_delete(&ev);
		if (type == YAML_STREAM_END_EVENT)
			break;
		if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
			if (++depth > YAML_MAX_DEPTH) {
				rc = yaml_file_fail(f, mark, "nested deeper than %d levels: refused", YAML_MAX_DEPTH);
				break;
			}
		} else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
			depth--;
		}
		if (type == YAML_SCALAR_EVENT || type == YAML_ALIAS_EVENT || type == YAML_SEQUENCE_START_EVENT ||
		    type == YAML_MAPPING_START_EVENT) {
			if (++nodes > YAML_MAX_NODES) {
				rc = yaml_file_fail(f, mark, "more than %d nodes: refused", YAML_MAX_NODES);
				break;
			}
			if (nodes % 1024 == 0 && now_s() > deadline) {
				rc = yaml_file_fail(f, mark, "parsing took longer than %d s: refused", YAML_MAX_SECONDS);
				break;
			}
		}
	}
	yaml_parser_delete(&p);
	return rc;
}

int yaml_file_open(struct yaml_file *f, const char *path, size_t max_bytes, const char *what, char *err,
		   size_t err_size)
{
	int rc;

	memset(f, 0, sizeof(*f));
	f->path = path;
	f->err = err;
	f->err_size = err_size;
	rc = read_text_file(path, max_bytes, what, &f->text, &f->len, err, err_size);
	if (rc)
		return rc;
	if ((rc = check_limits(f)))
		return rc;
	if (!yaml_parser_initialize(&f->parser))
		return yaml_file_nomem(f);
	f->parser_ready = true;
	yaml_parser_set_input_string(&f->parser, (const unsigned char *)f->text, f->len);
	return 0;
}

int yaml_file_open_text(struct yaml_file *f, const char *name, const char *text, size_t len, char *err,
			size_t err_size)
{
	memset(f, 0, sizeof(*f));
	f->path = name;
	f->err = err;
	f->err_size = err_size;
	f->text = malloc(len + 1);
	if (!f->text)
		return yaml_file_nomem(f);
	memcpy(f->text, text, len);
	f->text[len] = '\0';
	f->len = len;
	if (!yaml_parser_initialize(&f->parser))
		return yaml_file_nomem(f);
	f->parser_ready = true;
	yaml_parser_set_input_string(&f->parser, (const unsigned char *)f->text, f->len);
	return 0;
}

static void drop_document(struct yaml_file *f)
{
	if (f->doc) {
		yaml_document_delete(f->doc);
		f->doc = NULL;
	}
}

/* On failure yaml_parser_load() has already freed the document. */
static int load(struct yaml_file *f, yaml_document_t *doc)
{
	if (!yaml_parser_load(&f->parser, doc))
		return yaml_parse_error(f->path, &f->parser, f->text, f->len, f->err, f->err_size);
	return 0;
}

/* The next document becomes the current one. */
static int load_next(struct yaml_file *f, const yaml_node_t **root)
{
	int rc;

	drop_document(f);
	*root = NULL;
	rc = load(f, &f->docs[0]);
	if (rc)
		return rc;
	f->doc = &f->docs[0];
	*root = yaml_document_get_root_node(f->doc);
	return 0;
}

int yaml_file_next(struct yaml_file *f, const yaml_node_t **root)
{
	int rc = load_next(f, root);

	if (rc)
		return rc;
	if (!*root) { /* end of the stream */
		drop_document(f);
		return 0;
	}
	return 1;
}

int yaml_file_only(struct yaml_file *f, const yaml_node_t **root)
{
	const yaml_node_t *extra_root;
	int rc = load_next(f, root);

	if (rc)
		return rc;
	rc = load(f, &f->docs[1]);
	if (rc) {
		drop_document(f);
		*root = NULL;
		return rc;
	}
	extra_root = yaml_document_get_root_node(&f->docs[1]);
	if (extra_root)
		rc = yaml_file_fail_at(f, extra_root, "only one YAML document is allowed");
	yaml_document_delete(&f->docs[1]);
	if (rc) {
		drop_document(f);
		*root = NULL;
	}
	return rc;
}

void yaml_file_close(struct yaml_file *f)
{
	drop_document(f);
	if (f->parser_ready)
		yaml_parser_delete(&f->parser);
	f->parser_ready = false;
	free(f->text);
	f->text = NULL;
}

const yaml_node_t *yaml_file_node(const struct yaml_file *f, int index)
{
	return yaml_document_get_node(f->doc, index);
}

int yaml_file_fail(const struct yaml_file *f, yaml_mark_t mark, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = yaml_vfail_at(f->path, mark, f->err, f->err_size, fmt, ap);
	va_end(ap);
	return rc;
}

int yaml_file_want_string(const struct yaml_file *f, const yaml_node_t *node, const char *where, const char **text)
{
	if (node->type != YAML_SCALAR_NODE || yaml_is_null(node))
		return yaml_file_fail_at(f, node, "%s: expected a string, got %s", where, yaml_describe(node));
	if (node->data.scalar.length == 0)
		return yaml_file_fail_at(f, node, "%s: must not be empty", where);
	if (yaml_has_embedded_nul(node))
		return yaml_file_fail_at(f, node, "%s: contains a NUL byte", where);
	*text = (const char *)node->data.scalar.value;
	return 0;
}

int yaml_file_nomem(const struct yaml_file *f)
{
	format_error(f->err, f->err_size, "%s: out of memory", f->path);
	return -ENOMEM;
}
