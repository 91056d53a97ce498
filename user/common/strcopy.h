/* Bounded string copies into fixed fields, as the kube and policy objects keep them. */
#ifndef REACH_STRCOPY_H
#define REACH_STRCOPY_H

#include <stddef.h>
#include <string.h>

/* src (NULL: "") into dst[size], cut to size - 1 bytes, always terminated.
 * size must be at least 1. No format parsing: src may hold any bytes. */
static inline void str_copy(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

#endif
