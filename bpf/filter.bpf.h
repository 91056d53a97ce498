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
	struct reach_inode_key ino; /* files__record's secret_inodes key */
	/* filter__slash_cb's next byte: in map memory, not in the loop's
	 * stack context, so the verifier does not follow its value from step
	 * to step (it would check the step once per position) */
	__u32 slash_pos;
	/* files__link_judge_cb's name length, reloaded from here: its two
	 * ways to build the name (relative, absolute) then reach the filter
	 * as one verifier state, not two */
	__u32 judge_len;
};

/* the steps' hooks (abi/catfilter.h) */
#define CF_HAS_NAME(k) (bpf_map_lookup_elem(&cf_names, (k)) != NULL)
#define CF_HAS_AFFIX(k) (bpf_map_lookup_elem(&cf_affixes, (k)) != NULL)
#define CF_HAS_PREFIX(k) (bpf_map_lookup_elem(&cf_prefixes, (k)) != NULL)
/* n is checked against the key by the steps; this check is the verifier's:
 * a 64-bit length, compared in the register the helper gets */
static __always_inline void cf__copy(char *d, __u64 dsize, const char *p, __u32 off, __u32 n)
{
	__u64 len = n & (REACH_BASE_LEN - 1);

	asm volatile("" : "+r"(len));
	if (len > dsize)
		return;
	bpf_probe_read_kernel(d, len, p + (off & CF_BUF_MASK));
}
#define CF_COPY(d, p, off, n) cf__copy((d), sizeof(d), (p), (off), (n))
#define CF_BYTE(p, i) ((p)[(i) & CF_BUF_MASK])
#include "abi/catfilter.h" /* again: now the steps */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cf_scratch);
} cf_scratch_map SEC(".maps") __weak;

/*
 * Files the filter dropped, per CPU: a direct-mapped cache of their dedup
 * tags (files__drop_tag). A dropped file used to get a dedup entry, so its
 * repeats were a lookup; that insert into the shared LRU map was the
 * largest part of a distinct non-secret open (~380 of ~950 ns on the test
 * VM: mb runs with each step cut, issue 16's note). Here a drop costs one
 * store in this CPU's slot, a repeat one load; a slot another file takes
 * over only makes that file's next open run the filter again. The tag is
 * the keyed dedup hash (per-boot SipHash key, the filter's generation in
 * it) mixed with the cgroup and kind: no name can be chosen to match a
 * secret's, and a catalogue reload leaves every old tag stale. One 64-bit
 * word per slot, so a task preempted mid-store cannot leave half of one.
 */
#define FILES_DROPPED_SLOTS 2048 /* a power of 2; 16 KiB per CPU */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FILES_DROPPED_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} files_dropped SEC(".maps") __weak;

static __always_inline __u64 files__drop_tag(const struct reach_dedup_key *key)
{
	__u64 tag = key->hash ^ (key->cgroup_id * 0x9e3779b97f4a7c15ULL) ^ ((__u64)key->kind << 56);

	return tag ? tag : 1; /* 0: an empty slot */
}

/* This CPU's slot for a tag, or NULL (never: the index is masked). */
static __always_inline __u64 *files__drop_slot(__u64 tag)
{
	__u32 i = (__u32)(tag ^ (tag >> 32)) & (FILES_DROPPED_SLOTS - 1);

	return bpf_map_lookup_elem(&files_dropped, &i);
}

/* The slot's other value: the filter PASSED this file on this CPU (bit 63
 * flipped: the same slot, see files__drop_slot; no drop tag can equal it
 * but by a 2^-64 chance). A repeat of such a file (a ConfigMap's under
 * ..data, any file the catalogue's superset keeps) goes to the dedup map
 * first, as before the filter-first order of files__record. */
#define FILES_PASSED_BIT (1ULL << 63)

static __always_inline bool files__passed_before(const struct reach_dedup_key *key)
{
	__u64 tag = files__drop_tag(key), *slot = files__drop_slot(tag);

	return slot && *slot == (tag ^ FILES_PASSED_BIT);
}

static __always_inline void files__mark_passed(const struct reach_dedup_key *key)
{
	__u64 tag = files__drop_tag(key), *slot = files__drop_slot(tag);

	if (slot)
		*slot = tag ^ FILES_PASSED_BIT;
}

/*
 * Links and renames (reach_link_event): a cgroup whose task made a new
 * name for a file whose old name could be a secret's is tainted until the
 * agent has learned that file's inode: its opens the filter would drop go
 * to user space instead, so a read under the new name comes after the
 * link's event and is judged as the secret it is. Tainted while
 * link_taint[cgid] (link events counted here) differs from link_acked[cgid]
 * (how many the agent has handled, written by it alone): two writers, two
 * maps, no lost update; an event lost keeps the cgroup tainted. link_taints_ever: no lookup at all on a node where no
 * monitored task ever did it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);   /* cgroup id */
	__type(value, __u64); /* link events of the cgroup so far */
} link_taint SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);   /* cgroup id */
	__type(value, __u64); /* how many of them the agent has handled */
} link_acked SEC(".maps") __weak;

__u32 link_taints_ever __weak = 0;

static __always_inline bool files__tainted(__u64 cgid)
{
	__u64 *seq, *acked;

	if (!((volatile __u32 *)&link_taints_ever)[0])
		return false;
	seq = bpf_map_lookup_elem(&link_taint, &cgid);
	if (!seq)
		return false;
	acked = bpf_map_lookup_elem(&link_acked, &cgid);
	return !acked || *acked != *seq;
}

static __always_inline struct cf_scratch *filter__scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cf_scratch_map, &zero);
}

/* small: its frame is on top of files__record's, under the 512-byte
 * combined stack limit */
struct filter_loop {
	struct cf_walk w;
	__u32 written; /* which buffer: 0 resolved, 1 written */
	__u32 lens;    /* filter__affix_cb: the candidate affix lengths left (cf_affix_lens) */
};

static __always_inline const char *filter__buf(struct cf_scratch *s, __u32 written)
{
	return written ? s->written : s->resolved;
}

/* bpf_loop: the next '/' at or after s->slash_pos, looked for eight bytes at a
 * time (one load; the bytes equal to '/' found with the has-zero-byte bit
 * trick on the word xor "////////"), and cf_step run there. cf_step decides
 * nothing at any other byte (it returns 0 and changes nothing, and at the
 * end the basename is cf_basename's), so running it only at the slashes is
 * the byte-by-byte walk, at a step per component or per eight bytes
 * instead of a step per byte. The 8-byte load stays inside the scratch
 * (each buffer is followed by more of it). Each walk verified once. */
static long filter__slash_cb(__u64 idx, void *arg)
{
	struct filter_loop *c = arg;
	struct cf_scratch *s = filter__scratch();
	const char *p;
	__u32 pos, len = c->w.len, i;
	__u64 word, m;

	if (!s)
		return 1;
	pos = s->slash_pos;
	if (pos >= len || len >= REACH_BASE_LEN)
		return 1;
	p = filter__buf(s, c->written);
	word = *(const __u64 *)(p + (pos & CF_BUF_MASK)) ^ 0x2f2f2f2f2f2f2f2fULL;
	/* the first (lowest) flagged byte is exact; a borrow can only flag
	 * bytes above it */
	m = (word - 0x0101010101010101ULL) & ~word & 0x8080808080808080ULL;
	if (len - pos < 8)
		m &= (1ULL << ((len - pos) * 8)) - 1; /* bytes past the path */
	if (!m) {
		s->slash_pos = pos + 8;
		return 0;
	}
	m &= -m; /* the first '/': 0x80 << 8k */
	i = pos + (__u32)(((m >> 7) * 0x0001020304050607ULL) >> 56);
	if (cf_step(&c->w, p, i, (const struct reach_cf_sieve *)&cf_config.sieve, &s->keys))
		return 1;
	s->slash_pos = i + 1;
	return 0;
}

/* bpf_loop: the next candidate length of c->lens (cf_affix_lens) */
static long filter__affix_cb(__u64 i, void *arg)
{
	struct filter_loop *c = arg;
	struct cf_scratch *s = filter__scratch();
	__u32 l = cf_affix_next(&c->lens);

	if (!s || !l)
		return 1;
	if (cf_affix_len(&c->w, filter__buf(s, c->written), l, (const struct reach_cf_sieve *)&cf_config.sieve,
			 &s->keys)) {
		c->w.pass = 1;
		return 1;
	}
	return 0;
}

/* Could the path in buffer `written` (len bytes, absolute) match a
 * catalogue rule? The order of catfilter_pass (reach/catfilter.c). */
static __always_inline bool filter__pass(struct cf_scratch *s, __u32 written, __u32 len)
{
	struct filter_loop c = {
		.w = { .len = len, .start = 1 },
		.written = written,
	};
	const char *p = filter__buf(s, written);

	if (len == 0 || len >= REACH_BASE_LEN || CF_BYTE(p, 0) != '/')
		return true;
	if (cf_prefix(&c.w, p, (const struct reach_cf_sieve *)&cf_config.sieve, &s->keys))
		return true;
	s->slash_pos = 1;
	bpf_loop(len, filter__slash_cb, &c, 0); /* at most a step per byte */
	if (c.w.pass)
		return true;
	if (cf_basename(&c.w, p, (const struct reach_cf_sieve *)&cf_config.sieve, &s->keys))
		return true;
	c.lens = cf_affix_lens(&c.w, p, (const struct reach_cf_sieve *)&cf_config.sieve);
	if (c.lens)
		bpf_loop(REACH_CF_AFFIX_MAX, filter__affix_cb, &c, 0);
	return c.w.pass;
}

/* filter__pass as a global function on the per-CPU scratch's buffer
 * `written` (0: resolved, 1: the name as written): verified once per
 * program however many call it (the link judge's two passes), not once
 * per inlined copy. Not under filter__check: files__record's call chain
 * would pass the verifier's eight frames. __weak: one copy in the link. */
__weak __noinline int filter__pass_buf(__u32 written, __u32 len)
{
	struct cf_scratch *s = filter__scratch();

	if (!s)
		return 1;
	return filter__pass(s, written ? 1 : 0, len);
}

/* Is the name as written the resolved path, byte for byte? The common case
 * (an absolute name without links): its filter pass would repeat the first. */
static __always_inline bool filter__same(struct cf_scratch *s, __u32 resolved_len, __u32 written_len)
{
	const __u64 *a = (const __u64 *)s->resolved, *b = (const __u64 *)s->written;
	__u32 len = resolved_len;

	if (resolved_len != written_len || len >= REACH_PATH_LEN)
		return false;
	for (__u32 i = 0; i < REACH_PATH_LEN / 8; i++) {
		__u64 diff;

		if (i * 8 >= len)
			break;
		diff = a[i] ^ b[i];
		if (len - i * 8 < 8) /* the last word: only its first len % 8 bytes (little-endian) */
			diff &= (1ULL << ((len - i * 8) * 8)) - 1;
		if (diff)
			return false;
	}
	return true;
}

/*
 * The pre-filter's verdict on a first-seen open whose paths are in the
 * per-CPU cf_scratch: resolved (resolved_len bytes) and, when written_len is
 * not 0, the name as written (absolute and whole: user space judges it
 * too). 1: send the event; 0: drop it, counted. gen: the generation the
 * caller put in the dedup key; a reload since then sends (its tables may
 * have been half written when they were read). A global function, verified
 * once, not at each of files__record's call sites in the syscall dispatcher.
 * __weak: every .bpf.c includes it, the linker keeps one.
 */
__weak __noinline int filter__check(__u32 resolved_len, __u32 written_len, __u32 gen)
{
	volatile struct reach_cf_config *cfg = &cf_config;
	struct cf_scratch *s = filter__scratch();
	struct reach_cf_counters *c;
	__u32 zero = 0;
	bool pass;

	if (!cfg->on || cfg->gen != gen || !s)
		return 1;
	pass = filter__pass(s, 0, resolved_len);
	if (!pass && written_len && !filter__same(s, resolved_len, written_len))
		pass = filter__pass(s, 1, written_len);
	if (!pass && cfg->gen != gen)
		pass = true;
	c = bpf_map_lookup_elem(&cf_counters, &zero);
	if (c) {
		/* per-CPU: no atomics needed */
		if (pass)
			c->sent++;
		else
			c->filtered++;
	}
	return pass;
}

#endif /* REACH_FILTER_BPF_H */
