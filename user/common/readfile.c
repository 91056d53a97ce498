#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/log.h"
#include "common/readfile.h"

int file_error(const char *path, int error, char *err, size_t err_size)
{
	format_error(err, err_size, "%s: %s", path, strerror(error));
	return -error;
}

static int read_all(int fd, size_t max, char **text_out, size_t *len_out)
{
	/* never more than max + 1: one byte over the bound is how it is seen */
	size_t cap = max < 4095 ? max + 1 : 4096, len = 0;
	char *text = malloc(cap);

	if (!text)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t new_cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *bigger;

			if (len > max) {
				free(text);
				return -EFBIG;
			}
			bigger = realloc(text, new_cap);
			if (!bigger) {
				free(text);
				return -ENOMEM;
			}
			text = bigger;
			cap = new_cap;
		}
		n = read(fd, text + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int error = errno;

			free(text);
			return -error;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*text_out = text;
	*len_out = len;
	return 0;
}

int read_text_file(const char *path, size_t max, const char *what, char **text, size_t *len, char *err,
		   size_t err_size)
{
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return file_error(path, errno, err, err_size);
	/* read() on a directory fails with EISDIR anyway; checking first makes
	 * the message the same on every file system */
	if (fstat(fd, &st) < 0) {
		rc = file_error(path, errno, err, err_size);
		close(fd);
		return rc;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return file_error(path, EISDIR, err, err_size);
	}
	rc = read_all(fd, max, text, len);
	close(fd);
	if (rc == -EFBIG)
		format_error(err, err_size, "%s: larger than %zu bytes, not a %s file", path, max, what);
	else if (rc)
		file_error(path, -rc, err, err_size);
	return rc;
}
