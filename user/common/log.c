#include <stdarg.h>
#include <stdio.h>
#include "common/log.h"

static int verbose;

void log_set_verbose(int v) { verbose = v; }
int log_is_verbose(void) { return verbose; }

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	va_list ap;

	if (level == LOG_DEBUG && !verbose)
		return;
	fprintf(stderr, "reachd: %s: ", names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void format_error(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	if (!err || err_size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}
