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

/* Wall-clock milliseconds since the epoch. */
int64_t unix_now_ms(void);

#endif
