/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SipHash-1-3 (Aumasson & Bernstein), keyed with the 128-bit secret the agent
 * draws at every start and writes into the BPF object's read-only data before
 * load. Every in-kernel dedup key is hashed with it, so a workload cannot
 * compute a name whose hash collides with a secret's (the FNV-style hash it
 * replaces was unkeyed and invertible: a decoy opened first made the secret's
 * open "already seen"). One source for the kernel and user space: the BPF
 * programs and the unit test (checked against OpenSSL's SIPHASH MAC) run the
 * same code.
 *
 * buf is read in 8-byte little-endian words (x86-64 and arm64 are little
 * endian); bound is the buffer's size, a multiple of 8 and a constant in BPF
 * so the verifier sees a bounded loop and every load inside the buffer.
 * Bytes of the last word past len are masked off, never hashed.
 */
#ifndef REACH_SIPHASH_H
#define REACH_SIPHASH_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define REACH_SIP_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define REACH_SIP_ROUND(v0, v1, v2, v3)                                         \
	do {                                                                    \
		v0 += v1; v1 = REACH_SIP_ROTL(v1, 13); v1 ^= v0; v0 = REACH_SIP_ROTL(v0, 32); \
		v2 += v3; v3 = REACH_SIP_ROTL(v3, 16); v3 ^= v2;                     \
		v0 += v3; v3 = REACH_SIP_ROTL(v3, 21); v3 ^= v0;                     \
		v2 += v1; v1 = REACH_SIP_ROTL(v1, 17); v1 ^= v2; v2 = REACH_SIP_ROTL(v2, 32); \
	} while (0)

static inline __attribute__((always_inline)) __u64
reach_siphash13(const void *buf, __u32 len, __u32 bound, __u64 k0, __u64 k1)
{
	const __u64 *w = (const __u64 *)buf;
	__u64 v0 = k0 ^ 0x736f6d6570736575ULL;
	__u64 v1 = k1 ^ 0x646f72616e646f6dULL;
	__u64 v2 = k0 ^ 0x6c7967656e657261ULL;
	__u64 v3 = k1 ^ 0x7465646279746573ULL;
	__u64 last;
	__u32 i, full;

	if (len > bound)
		len = bound;
	last = (__u64)(len & 0xff) << 56;
	full = len / 8;
	for (i = 0; i < bound / 8; i++) {
		__u64 m;

		if (i >= full)
			break;
		m = w[i];
		v3 ^= m;
		REACH_SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	/* the compare must be on the register the load indexes with: else
	 * clang may test len instead and the BPF verifier loses the bound */
	__asm__ volatile("" : "+r"(full));
	if ((len & 7) && full < bound / 8)
		last |= w[full] & ((1ULL << ((len & 7) * 8)) - 1);
	v3 ^= last;
	REACH_SIP_ROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	REACH_SIP_ROUND(v0, v1, v2, v3);
	REACH_SIP_ROUND(v0, v1, v2, v3);
	REACH_SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

#endif /* REACH_SIPHASH_H */
