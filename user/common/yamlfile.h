/* One YAML file being read by a strict loader (config, policies): the text
 * read whole under a size cap, libyaml's parser over it, the document being
 * walked, and where its positioned "FILE:LINE:COLUMN: reason" errors go.
 *
 * Documents are loaded whole (yaml_parser_load) rather than streamed as
 * events because document nodes keep their start_mark, so every error can
 * point at the node that caused it. */
#ifndef REACH_YAMLFILE_H
#define REACH_YAMLFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

/* Limits of every file (yaml_file_open refuses beyond them, with the
 * FILE:LINE:COLUMN of the node that crossed it): no policy or config needs
 * more, and a deeper or bigger file is an attack on the loader's time. */
#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 200000
#define YAML_MAX_SECONDS 2

struct yaml_file {
	const char *path;        /* as given: the FILE of every message */
	char *err;               /* messages (may be NULL / size 0) */
	size_t err_size;
	yaml_document_t *doc;    /* the document being walked, or NULL */
	/* private */
	char *text;
	size_t len;
	yaml_parser_t parser;
	yaml_document_t docs[2]; /* the current one, and a look-ahead (yaml_file_only) */
	bool parser_ready;
};

/* Reads PATH (at most max_bytes; WHAT names the kind of file in the size
 * error) and prepares its parser. 0, or -errno with "PATH: reason" in err;
 * yaml_file_close() is safe either way. */
int yaml_file_open(struct yaml_file *f, const char *path, size_t max_bytes, const char *what, char *err,
		   size_t err_size);

/* As yaml_file_open, over a copy of TEXT (LEN bytes) instead of a file; NAME
 * is the FILE of every message (an API object: "ReachPolicy NS/NAME"). */
int yaml_file_open_text(struct yaml_file *f, const char *name, const char *text, size_t len, char *err,
			size_t err_size);

/* The next document of a multi-document file: 1 with *root its root node
 * (f->doc set), 0 at the end of the stream, or a negative errno (a positioned
 * "YAML syntax error: ..." in err). The previous document is freed. */
int yaml_file_next(struct yaml_file *f, const yaml_node_t **root);

/* A file that must hold one document: 0 with *root its root node (NULL for
 * an empty file, only comments or "---"), or a negative errno; a second
 * document is an error at its root ("only one YAML document is allowed"), so
 * a stray "---" cannot hide half of a file. */
int yaml_file_only(struct yaml_file *f, const yaml_node_t **root);

/* Frees the text, the parser and the documents; safe on a zeroed struct. */
void yaml_file_close(struct yaml_file *f);

/* Node INDEX of the current document. */
const yaml_node_t *yaml_file_node(const struct yaml_file *f, int index);

/* "PATH:LINE:COLUMN: reason" (libyaml marks are 0-based, editors 1-based);
 * returns -EINVAL. */
int yaml_file_fail(const struct yaml_file *f, yaml_mark_t mark, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define yaml_file_fail_at(f, node, ...) yaml_file_fail((f), (node)->start_mark, __VA_ARGS__)

/* A non-empty string scalar without NUL bytes: 0 with *text its value, or
 * "WHERE: expected a string, got ..." / "must not be empty" / "contains a
 * NUL byte" at the node. */
int yaml_file_want_string(const struct yaml_file *f, const yaml_node_t *node, const char *where, const char **text);

/* "PATH: out of memory"; returns -ENOMEM. */
int yaml_file_nomem(const struct yaml_file *f);

#endif
