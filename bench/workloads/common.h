/* Shared by the benchmark workloads: each one waits for a "go" byte on
 * stdin (so a sensor or peer can be attached to its pid first), runs a
 * warm-up, times N iterations with CLOCK_MONOTONIC and prints one JSON line:
 *   {"iters":N,"ns":TOTAL,"ns_per_iter":X,"t0":START,"t1":END}
 * (t0/t1: CLOCK_MONOTONIC ns, so the harness can take the makespan of
 * several concurrent copies without counting their start-up).
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

static inline void report(long iters, unsigned long long t0, unsigned long long t1)
{
	unsigned long long ns = t1 - t0;

	printf("{\"iters\":%ld,\"ns\":%llu,\"ns_per_iter\":%.1f,\"t0\":%llu,\"t1\":%llu}\n", iters, ns,
	       (double)ns / (double)iters, t0, t1);
	fflush(stdout);
}
/* The loops' common shape: wait for "go", a 10 % warm-up, then n timed
 * calls of once(arg) and the JSON line. static inline with a constant
 * once: the compiler inlines it, so the timed loop has no indirect call. */
static inline void timed_loop(long n, void (*once)(const void *arg), const void *arg)
{
	wait_go();
	for (long i = 0; i < n / 10 + 1; i++)
		once(arg);
	unsigned long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		once(arg);
	report(n, t0, now_ns());
}

/* main() of a loop whose only argument is its iteration count N. */
static inline int timed_loop_main(int argc, char **argv, void (*once)(const void *arg))
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s N\n", argv[0]);
		return 2;
	}
	timed_loop(parse_long(argv[1], "N"), once, NULL);
	return 0;
}
#endif
