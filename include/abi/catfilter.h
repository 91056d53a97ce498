/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel's catalogue pre-filter (issue #16): the compiled tables'
 * layout, and the match algorithm itself, shared by the BPF side
 * (bpf/filter.bpf.h) and user space (reach/catfilter.c, whose mirror the
 * unit tests run), so the mirror the property test checks IS the kernel's
 * code: only the four lookups and the byte copy differ (CF_* hooks the
 * includer defines before including this header).
 *
 * A SUPERSET filter: a path passes when it could match any catalogue rule;
 * only paths that certainly match none are dropped in the kernel. The
 * catalogue (reach/catalog.c) stays the authority in user space. Each
 * positive rule compiles to ONE necessary condition of a match:
 *   - a path prefix            (an LPM trie: "/var/run/secrets/")
 *   - an exact basename        ("credentials", ".env")
 *   - a basename prefix/suffix ("id_", ".env.", ".pem") up to CF_AFFIX_MAX
 *   - a directory component    ("legacy_credentials" of a pattern ending "/legacy_credentials/" "**")
 * and a path passes when it meets any one of them. Paths the catalogue's
 * stable naming rewrites (a ".." or "..<ts>" atomic-writer directory), or
 * that are not normalized ("//", "/./"), always pass: the filter never
 * guesses what user space will make of them.
 *
 * Hooks:
 *   CF_HAS_NAME(k)    k: struct reach_cf_name *: true when in the name set
 *   CF_HAS_AFFIX(k)   k: struct reach_cf_affix *
 *   CF_HAS_PREFIX(k)  k: struct reach_cf_prefix *: an LPM lookup
 *   CF_COPY(d, p, off, n)  copies n bytes of the path p from offset off into
 *                     the key d (n at most the key's size)
 *   CF_BYTE(p, i)     the i-th byte of the path buffer p
 */
#ifndef REACH_CATFILTER_H
#define REACH_CATFILTER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include "abi/events.h"

#define REACH_CF_NAME_MAX   64   /* exact basenames and directory components */
#define REACH_CF_AFFIX_MAX  32   /* basename prefixes and suffixes (lengths 1..32) */
#define REACH_CF_PREFIX_MAX 128  /* path prefixes */
#define REACH_CF_NAMES      4096 /* entries per map */
#define REACH_CF_AFFIXES    4096
#define REACH_CF_PREFIXES   4096

enum reach_cf_name_kind {
	REACH_CF_BASENAME = 1,  /* the path's last component, exactly */
	REACH_CF_COMPONENT = 2, /* one of the path's directory components */
	REACH_CF_DIRNAME = 3,   /* a literal directory of any rule (".aws", "kubernetes"): read only when a
				 * directory of that name is renamed or linked (a file under it may be a secret's) */
};

enum reach_cf_affix_kind {
	REACH_CF_BASE_PREFIX = 1,
	REACH_CF_BASE_SUFFIX = 2,
};

/* Keys: zero past len, so equal names are equal keys. */
struct reach_cf_name {
	__u32 kind;  /* enum reach_cf_name_kind */
	__u32 len;
	char name[REACH_CF_NAME_MAX];
};

struct reach_cf_affix {
	__u32 kind;  /* enum reach_cf_affix_kind */
	__u32 len;   /* 1..REACH_CF_AFFIX_MAX */
	char text[REACH_CF_AFFIX_MAX];
};

/* BPF_MAP_TYPE_LPM_TRIE key: prefixlen in bits. */
struct reach_cf_prefix {
	__u32 prefixlen;
	char data[REACH_CF_PREFIX_MAX];
};

/* The sieve: necessary conditions of a table hit, tested on bytes already
 * at hand before a key is built and looked up (a lookup hashes a 72-byte
 * key: most of a distinct file's filter time). A bit is set when some
 * entry has that property, so a clear bit proves no entry can match: the
 * filter stays a superset. */
struct reach_cf_sieve {
	__u32 prefix_lens;      /* bit L-1: some basename prefix has length L */
	__u32 suffix_lens;      /* bit L-1: some basename suffix has length L */
	__u64 name_lens[2];     /* [kind - 1]: bit L-1: some name of that kind has length L */
	__u64 name_first[2][4]; /* [kind - 1]: bit b: some name of that kind begins with byte b */
	__u64 prefix_first[4];  /* bit b: some basename prefix begins with byte b */
	__u64 suffix_last[4];   /* bit b: some basename suffix ends with byte b */
	__u64 prefix_second[4]; /* bit b: some path prefix has b as its second byte (all set: one is "/") */
};

/* The filter's run-time switches (the agent writes them in .bss). */
struct reach_cf_config {
	__u32 on;           /* 0: every path passes (no tables, or a rule could not compile) */
	__u32 gen;          /* bumped before and after every rewrite of the tables */
	struct reach_cf_sieve sieve;
};

/* Bit b of a 256-bit byte set. */
static inline int cf_byte_in(const __u64 *set, __u32 b)
{
	return (set[(b >> 6) & 3] >> (b & 63)) & 1;
}

static inline void cf_byte_add(__u64 *set, __u32 b)
{
	set[(b >> 6) & 3] |= 1ULL << (b & 63);
}

/* The next candidate of cf_affix_lens' set, taken out of *lens: its length
 * (the index of its lowest bit, plus one), or 0 when none is left. The bits
 * below it counted (SWAR popcount: no table, no loop). */
static inline __u32 cf_affix_next(__u32 *lens)
{
	__u32 bit = *lens & -*lens, x = bit - 1;

	if (!bit)
		return 0;
	*lens &= ~bit;
	x = x - ((x >> 1) & 0x55555555u);
	x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
	x = (x + (x >> 4)) & 0x0f0f0f0fu;
	return ((x * 0x01010101u) >> 24) + 1;
}

/* Kernel per-CPU counters (status: opens_filtered_in_kernel, opens_sent_by_filter). */
struct reach_cf_counters {
	__u64 filtered;  /* first-seen opens dropped: certainly no catalogue match */
	__u64 sent;      /* first-seen opens the filter passed (it was on) */
};

/* Scratch the walk uses (map memory in the kernel: keys there, not on the
 * 512-byte stack). */
struct cf_keys {
	struct reach_cf_name name;
	struct reach_cf_affix affix;
	struct reach_cf_prefix prefix;
};

/* The walk over one path's bytes: start of the current component, and the
 * verdict once known. */
struct cf_walk {
	__u32 len;    /* of the path, < its buffer */
	__u32 start;  /* first byte of the current component */
	__u32 pass;   /* 1: passes */
};

#endif /* REACH_CATFILTER_H */

/* The algorithm: compiled once the includer has defined the hooks (it may
 * include this header twice: first for the types, then for the steps). */
#if defined(CF_HAS_NAME) && defined(CF_HAS_AFFIX) && defined(CF_HAS_PREFIX) && defined(CF_COPY) && \
	defined(CF_BYTE) && !defined(REACH_CATFILTER_STEPS_H)
#define REACH_CATFILTER_STEPS_H

/* A component the stable naming or normalization would rewrite: "", ".",
 * "..", "..data", "..2026_..." */
static inline int cf_unusual(const char *p, __u32 start, __u32 n)
{
	if (n == 0)
		return 1;
	if (CF_BYTE(p, start) != '.')
		return 0;
	if (n == 1)
		return 1;
	return CF_BYTE(p, start + 1) == '.';
}

static inline int cf_name_in(const char *p, __u32 start, __u32 n, __u32 kind, const struct reach_cf_sieve *sv,
			     struct cf_keys *k)
{
	if (n == 0 || n > REACH_CF_NAME_MAX)
		return 0;
	/* the sieve: no name of this kind has this length or first byte */
	if (!((sv->name_lens[(kind - 1) & 1] >> (n - 1)) & 1) ||
	    !cf_byte_in(sv->name_first[(kind - 1) & 1], (unsigned char)CF_BYTE(p, start)))
		return 0;
	__builtin_memset(&k->name, 0, sizeof(k->name));
	k->name.kind = kind;
	k->name.len = n;
	CF_COPY(k->name.name, p, start, n);
	return CF_HAS_NAME(&k->name);
}

/* One step of the walk: byte i, 1 <= i <= len (i == len: the end). A
 * directory component ends at each '/'. Returns 1 when decided. */
static inline int cf_step(struct cf_walk *w, const char *p, __u32 i, const struct reach_cf_sieve *sv,
			  struct cf_keys *k)
{
	__u32 n;

	if (i < w->len && CF_BYTE(p, i) != '/')
		return 0;
	n = i - w->start;
	if (i < w->len) {
		if (cf_unusual(p, w->start, n) || cf_name_in(p, w->start, n, REACH_CF_COMPONENT, sv, k)) {
			w->pass = 1;
			return 1;
		}
		w->start = i + 1;
	}
	return 0;
}

/* One length L (1..REACH_CF_AFFIX_MAX) of the basename [start, len): its
 * first and last L bytes, when some rule has that length. */
static inline int cf_affix_len(const struct cf_walk *w, const char *p, __u32 l, const struct reach_cf_sieve *sv,
			       struct cf_keys *k)
{
	__u32 n = w->len - w->start;

	if (l == 0 || l > n || l > REACH_CF_AFFIX_MAX)
		return 0;
	if ((sv->prefix_lens & (1u << (l - 1))) && cf_byte_in(sv->prefix_first, (unsigned char)CF_BYTE(p, w->start))) {
		__builtin_memset(&k->affix, 0, sizeof(k->affix));
		k->affix.kind = REACH_CF_BASE_PREFIX;
		k->affix.len = l;
		CF_COPY(k->affix.text, p, w->start, l);
		if (CF_HAS_AFFIX(&k->affix))
			return 1;
	}
	if ((sv->suffix_lens & (1u << (l - 1))) && cf_byte_in(sv->suffix_last, (unsigned char)CF_BYTE(p, w->len - 1))) {
		__builtin_memset(&k->affix, 0, sizeof(k->affix));
		k->affix.kind = REACH_CF_BASE_SUFFIX;
		k->affix.len = l;
		CF_COPY(k->affix.text, p, w->len - l, l);
		if (CF_HAS_AFFIX(&k->affix))
			return 1;
	}
	return 0;
}

/* The lengths at which cf_affix_len could find a rule (bit L-1: L): the
 * sieve's prefix lengths when some prefix begins with the basename's first
 * byte, its suffix lengths when some suffix ends with its last byte, none
 * longer than the basename. cf_affix_len returns 0 without a lookup at
 * every other length, so trying only these is trying all of them, at a step
 * per candidate instead of REACH_CF_AFFIX_MAX steps. */
static inline __u32 cf_affix_lens(const struct cf_walk *w, const char *p, const struct reach_cf_sieve *sv)
{
	__u32 n = w->len - w->start, m = 0;

	if (w->start >= w->len)
		return 0;
	if (cf_byte_in(sv->prefix_first, (unsigned char)CF_BYTE(p, w->start)))
		m |= sv->prefix_lens;
	if (cf_byte_in(sv->suffix_last, (unsigned char)CF_BYTE(p, w->len - 1)))
		m |= sv->suffix_lens;
	if (n < 32)
		m &= (1u << n) - 1;
	return m;
}

/* The basename's exact form (the affixes are cf_affix_len's, per length). */
static inline int cf_basename(const struct cf_walk *w, const char *p, const struct reach_cf_sieve *sv,
			      struct cf_keys *k)
{
	__u32 n = w->len - w->start;

	return cf_unusual(p, w->start, n) || cf_name_in(p, w->start, n, REACH_CF_BASENAME, sv, k);
}

/* The path's first bytes against the prefix trie. */
static inline int cf_prefix(const struct cf_walk *w, const char *p, const struct reach_cf_sieve *sv,
			    struct cf_keys *k)
{
	__u32 n = w->len < REACH_CF_PREFIX_MAX ? w->len : REACH_CF_PREFIX_MAX;

	/* the sieve: every prefix is longer than one byte and none has this
	 * path's second byte (a prefix "/" sets every bit) */
	if (n >= 2 && !cf_byte_in(sv->prefix_second, (unsigned char)CF_BYTE(p, 1)))
		return 0;
	__builtin_memset(&k->prefix, 0, sizeof(k->prefix));
	k->prefix.prefixlen = n * 8;
	CF_COPY(k->prefix.data, p, 0, n);
	return CF_HAS_PREFIX(&k->prefix);
}

#endif /* hooks */
