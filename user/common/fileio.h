/* Small file-system helpers the crash-safe writers share (ledger file,
 * spool, report sequence). */
#ifndef REACH_FILEIO_H
#define REACH_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* write(2) until done, through EINTR: 0 or -errno. */
int write_all(int fd, const void *buf, size_t n);

/* mkdir -p: missing components created with mode. 0 or -errno (-EINVAL
 * for an empty path). */
int mkdir_p(const char *dir, mode_t mode);

/* fsync of the directory that holds path, so a rename or create in it is
 * durable. 0 or -errno; a file system that cannot sync directories
 * (EINVAL) counts as done. */
int fsync_dir_of(const char *path);

/* Replaces path with buf atomically and durably: PATH.tmp written (mode),
 * fsynced, renamed over path, directory fsynced. 0 or -errno (the temp
 * file is then removed). */
int write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode);

/* Wall-clock milliseconds since the epoch. */
int64_t unix_now_ms(void);

#endif
