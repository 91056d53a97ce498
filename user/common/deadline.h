/* A deadline ms milliseconds from now on a clock, for
 * pthread_cond_timedwait (whose condition variable must use the same
 * clock: CLOCK_REALTIME by default, CLOCK_MONOTONIC when set with
 * pthread_condattr_setclock). One copy of the nanosecond carry that four
 * waits used to write out. */
#ifndef REACH_COMMON_DEADLINE_H
#define REACH_COMMON_DEADLINE_H

#include <stdint.h>
#include <time.h>

static inline void deadline_in_ms(struct timespec *t, clockid_t clock, int64_t ms)
{
	clock_gettime(clock, t);
	t->tv_sec += (time_t)(ms / 1000);
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

#endif
