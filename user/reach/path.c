#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "reach/path.h"

/* Builds "/seg/seg/..." in the caller's buffer, used as a stack of segments.
 * Segments that do not fit are only counted (overflow_depth) rather than
 * failing at once, because a later ".." may pop them again: "/<long>/.." is
 * "/" and must succeed even with a small buffer. */
struct path_builder {
	char *buf;
	size_t size;
	size_t len;
	size_t overflow_depth;
};

static void pop_segment(struct path_builder *b)
{
	char *last_slash;

	if (b->overflow_depth > 0) {
		b->overflow_depth--;
		return;
	}
	if (b->len == 0)
		return; /* ".." at the root stays at the root */
	last_slash = memrchr(b->buf, '/', b->len);
	b->len = (size_t)(last_slash - b->buf);
	b->buf[b->len] = '\0';
}

static void push_segment(struct path_builder *b, const char *seg, size_t seg_len)
{
	/* Room for '/', the segment and the terminating NUL. */
	if (b->overflow_depth > 0 || b->len + 1 + seg_len + 1 > b->size) {
		b->overflow_depth++;
		return;
	}
	b->buf[b->len] = '/';
	memcpy(b->buf + b->len + 1, seg, seg_len);
	b->len += 1 + seg_len;
	b->buf[b->len] = '\0';
}

static void add_segment(struct path_builder *b, const char *seg, size_t seg_len)
{
	if (seg_len == 0 || (seg_len == 1 && seg[0] == '.'))
		return;
	if (seg_len == 2 && seg[0] == '.' && seg[1] == '.')
		pop_segment(b);
	else
		push_segment(b, seg, seg_len);
}

static void add_all_segments(struct path_builder *b, const char *path)
{
	const char *p = path;

	while (*p != '\0') {
		size_t seg_len = strcspn(p, "/");

		add_segment(b, p, seg_len);
		p += seg_len;
		if (*p == '/')
			p++;
	}
}

/* The root is the one path whose canonical spelling is not built by segments. */
static bool finish_path(struct path_builder *b)
{
	if (b->overflow_depth > 0)
		return false;
	if (b->len > 0)
		return true;
	if (b->size < 2)
		return false;
	b->buf[0] = '/';
	b->buf[1] = '\0';
	return true;
}

int path_make_absolute(const char *base, const char *path, char *out, size_t out_size)
{
	struct path_builder b = { .buf = out, .size = out_size };

	if (!out || out_size == 0)
		return -EINVAL;
	out[0] = '\0';
	if (!path || path[0] == '\0')
		return -EINVAL;
	if (path[0] != '/') {
		if (!base || base[0] != '/')
			return -EINVAL;
		add_all_segments(&b, base);
	}
	add_all_segments(&b, path);
	if (!finish_path(&b)) {
		out[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

const char *path_basename(const char *path)
{
	const char *last_slash;

	if (!path)
		return "";
	last_slash = strrchr(path, '/');
	return last_slash ? last_slash + 1 : path;
}

/* A Kubernetes atomic-writer directory: "..data" or "..<timestamp>" (the
 * kubelet's "..2026_12_05_21_00_00.123456789"). */
static bool is_atomic_writer_dir(const char *seg, size_t len)
{
	if (len == 6 && !memcmp(seg, "..data", 6))
		return true;
	return len > 3 && seg[0] == '.' && seg[1] == '.' && seg[2] >= '0' && seg[2] <= '9';
}

int path_stable_name(const char *path, char *out, size_t out_size)
{
	size_t n = 0;
	const char *p = path;

	if (!path || !out || !out_size)
		return -EINVAL;
	while (*p) { /* out may be path: writes stay behind the reads */
		const char *seg = p + (*p == '/');
		size_t len = strcspn(seg, "/");

		if (seg[len] == '/' && is_atomic_writer_dir(seg, len)) {
			p = seg + len; /* a directory of the writer, not the last segment */
			continue;
		}
		if (n + (size_t)(seg + len - p) + 1 > out_size) {
			out[0] = '\0';
			return -ENAMETOOLONG;
		}
		memmove(out + n, p, (size_t)(seg + len - p));
		n += (size_t)(seg + len - p);
		p = seg + len;
	}
	out[n] = '\0';
	return 0;
}
