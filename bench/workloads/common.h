/* Shared by the benchmark workloads: each one waits for a "go" byte on
 * stdin (so a sensor or peer can be attached to its pid first), runs a
 * warm-up, times N iterations with CLOCK_MONOTONIC and prints one JSON line:
 *   {"iters":N,"ns":TOTAL,"ns_per_iter":X}
 * Errors print to stderr and exit 1: a failed iteration is never timed. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static inline void die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	exit(1);
}

/* Blocks until the harness writes one byte (or closes stdin). */
static inline void wait_go(void)
{
	char c;

	while (read(0, &c, 1) < 0 && errno == EINTR)
		;
}

static inline long parse_long(const char *s, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v <= 0) {
		fprintf(stderr, "bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

static inline void report(long iters, unsigned long long ns)
{
	printf("{\"iters\":%ld,\"ns\":%llu,\"ns_per_iter\":%.1f}\n", iters, ns, (double)ns / (double)iters);
	fflush(stdout);
}
#endif
