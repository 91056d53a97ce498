/* Whole-file reads for the small text files reach loads (config, policies). */
#ifndef REACH_READFILE_H
#define REACH_READFILE_H

#include <stddef.h>

/* Reads path (at most max bytes) into a malloc'ed buffer (caller frees).
 * Grows as it reads: st_size means nothing for pipes (`--config <(...)`).
 * 0, or -errno with err "PATH: strerror"; -EISDIR for a directory; -EFBIG
 * "PATH: larger than MAX bytes, not a WHAT file". */
int read_text_file(const char *path, size_t max, const char *what, char **text, size_t *len, char *err,
		   size_t err_size);

/* "PATH: strerror(error)" into err; returns -error. For file errors
 * reported the same way as read_text_file's. */
int file_error(const char *path, int error, char *err, size_t err_size);

#endif
