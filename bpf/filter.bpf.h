/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The catalogue pre-filter (issue #16): a first-seen read-open whose
 * resolved path (and name as written) certainly matches no catalogue rule is
 * dropped here, before an event is reserved, instead of costing a ring
 * event user space would throw away. The tables are the catalogue compiled
 * by the agent (reach/catfilter.c) into a SUPERSET test, the steps are
 * abi/catfilter.h's, the very code the unit tests' mirror runs; user space
 * keeps the catalogue as the authority on what is a secret.
 *
 * Reloads: the agent turns the filter off and bumps cf_config.gen before it
 * rewrites the tables, bumps it again after, then turns it back on. A match
 * that saw a different generation at its end than at its start passes, and
 * the generation is part of the files' dedup key, so a file dropped under an
 * old catalogue is judged again under the new one.
 */
#ifndef REACH_FILTER_BPF_H
#define REACH_FILTER_BPF_H

#include "maps.bpf.h"
#include "abi/catfilter.h"

/* Written by the agent in the mmap'ed .bss (reach_cf_config). */
struct reach_cf_config cf_config __weak = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, REACH_CF_NAMES);
	__type(key, struct reach_cf_name);
	__type(value, __u8);
} cf_names SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, REACH_CF_AFFIXES);
	__type(key, struct reach_cf_affix);
	__type(value, __u8);
} cf_affixes SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, REACH_CF_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct reach_cf_prefix);
	__type(value, __u8);
} cf_prefixes SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct reach_cf_counters);
} cf_counters SEC(".maps") __weak;

#define CF_BUF_MASK (REACH_BASE_LEN - 1) /* a power of 2 */

/* Per-CPU: the paths the filter reads (then copied into the event) and the
 * lookup keys (map memory, off the 512-byte stack). */
struct cf_scratch {
	char resolved[REACH_BASE_LEN];
	char written[REACH_BASE_LEN]; /* the name as written: REACH_PATH_LEN used */
	struct cf_keys keys;
};

/* the steps' hooks (abi/catfilter.h) */
#define CF_HAS_NAME(k) (bpf_map_lookup_elem(&cf_names, (k)) != NULL)
#define CF_HAS_AFFIX(k) (bpf_map_lookup_elem(&cf_affixes, (k)) != NULL)
#define CF_HAS_PREFIX(k) (bpf_map_lookup_elem(&cf_prefixes, (k)) != NULL)
/* n is checked against the key by the steps; the clamp is the verifier's */
#define CF_COPY(d, p, off, n) \
	bpf_probe_read_kernel((d), (n) <= sizeof(d) ? (n) : 0, (p) + ((off) & CF_BUF_MASK))
#define CF_BYTE(p, i) ((p)[(i) & CF_BUF_MASK])
#include "abi/catfilter.h" /* again: now the steps */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cf_scratch);
} cf_scratch_map SEC(".maps") __weak;

static __always_inline struct cf_scratch *filter__scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cf_scratch_map, &zero);
}

struct filter_loop {
	struct cf_walk w;
	__u32 written; /* which buffer: 0 resolved, 1 written */
	__u32 prefix_lens, suffix_lens;
};

static __always_inline const char *filter__buf(struct cf_scratch *s, __u32 written)
{
	return written ? s->written : s->resolved;
}

/* bpf_loop: one byte (i + 1) of the path: each walk verified once */
static long filter__step_cb(__u64 i, void *arg)
{
	struct filter_loop *c = arg;
	struct cf_scratch *s = filter__scratch();

	if (!s)
		return 1;
	return cf_step(&c->w, filter__buf(s, c->written), (__u32)i + 1, &s->keys);
}

/* bpf_loop: one basename prefix/suffix length (i + 1) */
static long filter__affix_cb(__u64 i, void *arg)
{
	struct filter_loop *c = arg;
	struct cf_scratch *s = filter__scratch();

	if (!s)
		return 1;
	if (cf_affix_len(&c->w, filter__buf(s, c->written), (__u32)i + 1, c->prefix_lens, c->suffix_lens, &s->keys)) {
		c->w.pass = 1;
		return 1;
	}
	return 0;
}

/* Could the path in buffer `written` (len bytes, absolute) match a
 * catalogue rule? The order of catfilter_pass (reach/catfilter.c). */
static __always_inline bool filter__pass(struct cf_scratch *s, __u32 written, __u32 len,
					 const struct reach_cf_config *cfg)
{
	struct filter_loop c = {
		.w = { .len = len, .start = 1 },
		.written = written,
		.prefix_lens = cfg->prefix_lens,
		.suffix_lens = cfg->suffix_lens,
	};
	const char *p = filter__buf(s, written);

	if (len == 0 || len >= REACH_BASE_LEN || CF_BYTE(p, 0) != '/')
		return true;
	if (cf_prefix(&c.w, p, &s->keys))
		return true;
	bpf_loop(len, filter__step_cb, &c, 0);
	if (c.w.pass)
		return true;
	if (cf_basename(&c.w, p, &s->keys))
		return true;
	bpf_loop(REACH_CF_AFFIX_MAX, filter__affix_cb, &c, 0);
	return c.w.pass;
}

static __always_inline void filter__count(bool sent)
{
	__u32 zero = 0;
	struct reach_cf_counters *c = bpf_map_lookup_elem(&cf_counters, &zero);

	if (!c)
		return;
	if (sent)
		c->sent++;  /* per-CPU: no atomics needed */
	else
		c->filtered++;
}

#endif /* REACH_FILTER_BPF_H */
