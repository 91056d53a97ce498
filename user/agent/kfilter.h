/* The catalogue pre-filter, from the agent's catalogue into the kernel
 * (reach/catfilter.h compiles, sensor/ loads): at start and at each reload
 * of the secret patterns. */
#ifndef REACH_AGENT_KFILTER_H
#define REACH_AGENT_KFILTER_H

struct sensor;
struct catalog;

/* Compiles c and loads it into the kernel's tables, logging whether the
 * filter is on (and why not). 0 or -errno; on any error the kernel filter
 * is left off (every first-seen open sent): slower, never blind. */
int kfilter_load(struct sensor *s, const struct catalog *c);

#endif
