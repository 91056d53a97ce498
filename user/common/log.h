/* One logging funnel for the agent and the CLI: stderr, one line per message,
 * debug lines only with -v. Never pass a raw credential or file content here. */
#ifndef REACH_LOG_H
#define REACH_LOG_H

#include <stddef.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_verbose(int verbose);
int log_is_verbose(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Formats a one-line error for a caller-supplied buffer (err may be NULL or
 * err_size 0: then nothing is written). Used by parsers that report errors
 * to their caller instead of logging them. */
void format_error(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
