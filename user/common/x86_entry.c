#include <stdbool.h>
#include "common/x86_entry.h"

#define RSP 4

/* One decoded instruction: its length, whether it is a branch the kernel
 * emulates, which registers it writes, whether it sets up a stack frame. */
struct insn {
	size_t len;
	bool branch, uncond_jmp, frame;
	unsigned writes;
};

/* ModRM (+SIB, +displacement) at p: its length, and the r/m register when
 * mod == 3 (else -1: a memory operand). */
static size_t modrm_len(const uint8_t *p, size_t left, int rex_b, int *rm_reg)
{
	uint8_t m, mod, rm;
	size_t n = 1;

	if (left < 1)
		return 0;
	m = p[0];
	mod = m >> 6;
	rm = m & 7;
	*rm_reg = mod == 3 ? (int)(rm | (rex_b << 3)) : -1;
	if (mod == 3)
		return 1;
	if (rm == 4) { /* SIB */
		if (left < 2)
			return 0;
		n++;
		if (mod == 0 && (p[1] & 7) == 5)
			n += 4;
	} else if (mod == 0 && rm == 5) {
		n += 4; /* rip-relative disp32 */
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return n <= left ? n : 0;
}

/* Decodes the instruction at p; false for anything outside the small set
 * compilers put in function prologues. */
static bool decode(const uint8_t *p, size_t left, struct insn *in)
{
	size_t i = 0, n;
	bool opsize16 = false, has_prefix;
	int rex = 0, rm_reg, reg;
	uint8_t op;

	*in = (struct insn){ 0 };
	/* legacy prefixes: operand size, segment overrides (%fs:0x28 for the stack protector) */
	while (i < left && (p[i] == 0x66 || p[i] == 0x64 || p[i] == 0x65 || p[i] == 0x2e || p[i] == 0x3e)) {
		if (p[i] == 0x66)
			opsize16 = true;
		i++;
	}
	if (i + 4 <= left && p[i] == 0xf3 && p[i + 1] == 0x0f && p[i + 2] == 0x1e && p[i + 3] == 0xfa) {
		in->len = i + 4; /* endbr64 */
		return true;
	}
	if (i < left && (p[i] & 0xf0) == 0x40)
		rex = p[i++];
	if (i >= left)
		return false;
	if (rex & 8)
		opsize16 = false; /* REX.W wins over 0x66: 64-bit operands, 32-bit immediates */
	has_prefix = i > 0;
	op = p[i++];
	reg = -1;
	switch (op) {
	case 0x50 ... 0x57: /* push r64 */
		in->frame = true;
		in->len = i;
		return true;
	case 0x90: /* nop */
		in->len = i;
		return true;
	case 0x70 ... 0x7f: /* jcc rel8 */
		if (has_prefix)
			return false; /* the kernel single-steps (or refuses) prefixed branches */
		in->branch = true;
		in->len = i + 1;
		return in->len <= left;
	case 0xeb: /* jmp rel8 */
		if (has_prefix)
			return false;
		in->branch = in->uncond_jmp = true;
		in->len = i + 1;
		return in->len <= left;
	case 0xe8: /* call rel32 */
	case 0xe9: /* jmp rel32 */
		if (has_prefix)
			return false;
		in->branch = true;
		in->uncond_jmp = op == 0xe9;
		in->len = i + 4;
		return in->len <= left;
	case 0xb8 ... 0xbf: /* mov $imm, r */
		in->writes = X86_REG((op & 7) | ((rex & 1) << 3));
		in->len = i + ((rex & 8) ? 8 : opsize16 ? 2 : 4);
		return in->len <= left;
	case 0x0f:
		if (i >= left)
			return false;
		op = p[i++];
		if (op >= 0x80 && op <= 0x8f) { /* jcc rel32 */
			if (has_prefix)
				return false;
			in->branch = true;
			in->len = i + 4;
			return in->len <= left;
		}
		if (op == 0x1f) { /* nop r/m */
			n = modrm_len(p + i, left - i, rex & 1, &rm_reg);
			in->len = n ? i + n : 0;
			return n != 0;
		}
		if (op == 0xb6 || op == 0xb7 || op == 0xbe || op == 0xbf) { /* movzx, movsx */
			if (i >= left)
				return false;
			reg = ((p[i] >> 3) & 7) | ((rex & 4) << 1);
			n = modrm_len(p + i, left - i, rex & 1, &rm_reg);
			in->writes = X86_REG(reg);
			in->len = n ? i + n : 0;
			return n != 0;
		}
		return false;
	default:
		break;
	}

	/* the rest have a ModRM byte */
	if (i >= left)
		return false;
	reg = ((p[i] >> 3) & 7) | ((rex & 4) << 1);
	n = modrm_len(p + i, left - i, rex & 1, &rm_reg);
	if (!n)
		return false;
	in->len = i + n;
	switch (op) {
	case 0x01: case 0x09: case 0x11: case 0x19: case 0x21: case 0x29: case 0x31: /* ALU r/m, r */
	case 0x88: case 0x89: /* mov r/m, r */
		if (rm_reg >= 0)
			in->writes = X86_REG(rm_reg);
		return true;
	case 0x03: case 0x0b: case 0x13: case 0x1b: case 0x23: case 0x2b: case 0x33: /* ALU r, r/m */
	case 0x8a: case 0x8b: /* mov r, r/m */
	case 0x8d: /* lea */
	case 0x63: /* movsxd */
		in->writes = X86_REG(reg);
		return true;
	case 0x38: case 0x39: case 0x3a: case 0x3b: case 0x84: case 0x85: /* cmp, test: flags only */
		return true;
	case 0x80: case 0x83: case 0x81: { /* ALU r/m, imm */
		size_t imm = op == 0x81 ? (opsize16 ? 2 : 4) : 1;

		in->len += imm;
		if (in->len > left)
			return false;
		if ((reg & 7) != 7 && rm_reg >= 0) { /* /7 is cmp */
			in->writes = X86_REG(rm_reg);
			/* add/sub $imm, %rsp: the frame */
			in->frame = rm_reg == RSP && ((reg & 7) == 0 || (reg & 7) == 5);
		}
		return true;
	}
	case 0xc7: /* mov $imm32, r/m */
		if ((reg & 7) != 0)
			return false;
		in->len += opsize16 ? 2 : 4;
		if (rm_reg >= 0)
			in->writes = X86_REG(rm_reg);
		return in->len <= left;
	default:
		return false;
	}
}

/* Could any branch in the function land in (0, upto]? Every byte offset
 * is tried as the start of a jmp/jcc (rel8 or rel32): the function is not
 * decoded as a whole, so bytes inside other instructions count too. False
 * alarms only cost the fast placement; a real back edge into the prologue
 * (a loop head there) must never be missed. */
static bool branch_lands_in(const uint8_t *code, size_t len, size_t upto)
{
	for (size_t i = 0; i < len; i++) {
		int64_t target;

		if ((code[i] == 0xeb || (code[i] >= 0x70 && code[i] <= 0x7f)) && i + 2 <= len)
			target = (int64_t)(i + 2) + (int8_t)code[i + 1];
		else if (code[i] == 0xe9 && i + 5 <= len)
			target = (int64_t)(i + 5) + (int32_t)(code[i + 1] | code[i + 2] << 8 | code[i + 3] << 16 |
							(uint32_t)code[i + 4] << 24);
		else if (code[i] == 0x0f && i + 6 <= len && code[i + 1] >= 0x80 && code[i + 1] <= 0x8f)
			target = (int64_t)(i + 6) + (int32_t)(code[i + 2] | code[i + 3] << 8 | code[i + 4] << 16 |
							(uint32_t)code[i + 5] << 24);
		else
			continue;
		if (target > 0 && (uint64_t)target <= upto)
			return true;
	}
	return false;
}

size_t x86_fast_probe_offset(const uint8_t *code, size_t len, size_t func_size, unsigned keep_regs)
{
	bool frame = false;
	size_t off = 0;
	struct insn in;

	while (off < len && decode(code + off, len - off, &in)) {
		if (in.branch) {
			if (!frame && !(in.uncond_jmp && func_size && off + in.len == func_size))
				return 0;
			/* the whole function must be here to rule out a loop back into
			 * the prologue: any branch landing after the entry and up to the
			 * probe (the probe's own branch included) keeps the entry */
			if (!func_size || len < func_size || branch_lands_in(code, func_size, off))
				return 0;
			return off;
		}
		if (in.writes & keep_regs)
			return 0; /* an argument is changed before any branch */
		if (in.writes & X86_REG(RSP) && !in.frame)
			return 0; /* the stack pointer moved in a way we do not model */
		frame |= in.frame;
		off += in.len;
	}
	return 0;
}
