/* A token bucket: work a workload can ask for as fast as it likes (a walk
 * per exec, a walk per renamed directory) is given per_s a second, burst at
 * once, and the caller says what happens to the rest. */
#ifndef REACH_COMMON_BUCKET_H
#define REACH_COMMON_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

struct bucket {
	double tokens;
	int64_t at_ms; /* when tokens was last refilled */
};

/* Refilled to now_ms: is a token left? (taken by bucket_spend once the work
 * is done, so work that turns out needless costs nothing) */
static inline bool bucket_ready(struct bucket *b, int64_t now_ms, double per_s, double burst)
{
	b->tokens += (double)(now_ms - b->at_ms) * per_s / 1000.0;
	b->at_ms = now_ms;
	if (b->tokens > burst)
		b->tokens = burst;
	return b->tokens >= 1;
}

static inline void bucket_spend(struct bucket *b) { b->tokens -= 1; }

#endif
