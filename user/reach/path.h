/* Lexical path handling: no filesystem access, no symlink resolution. Paths
 * arrive from the kernel relative to a task's cwd and must be compared with
 * catalogue patterns in one canonical spelling. */
#ifndef REACH_PATH_H
#define REACH_PATH_H

#include <stddef.h>

/* Writes the normalized absolute form of path into out. A path starting with
 * '/' ignores base; otherwise it is joined as base + "/" + path. Normalizing
 * collapses repeated '/', drops "." segments, resolves ".." lexically (never
 * above "/") and removes any trailing '/' except for "/" itself.
 * Returns 0; -EINVAL for a NULL/empty path, a relative path with a NULL,
 * empty or relative base, or a NULL out / zero out_size; -ENAMETOOLONG when
 * the result does not fit in out_size bytes (NUL included). On any error out
 * holds "" (when out_size allows). */
int path_make_absolute(const char *base, const char *path, char *out, size_t out_size);

/* The text after the last '/' (a pointer into path): "/a/b.pem" -> "b.pem",
 * "b.pem" -> "b.pem", "/" and "/a/" -> "". NULL -> "". */
const char *path_basename(const char *path);

/* The stable name of a file a Kubernetes atomic writer (projected volumes,
 * configMap, secret volumes) publishes: "..data/" and "..<timestamp>/"
 * directories are dropped, so ".../serviceaccount/..2026_12_05_…/token"
 * (the resolved file) is ".../serviceaccount/token" for the catalogue, the
 * ledger and policies. Copies path otherwise. 0, -EINVAL, -ENAMETOOLONG. */
int path_stable_name(const char *path, char *out, size_t out_size);

#endif
