/* Where to put a uprobe on an x86-64 function so that the kernel need not
 * single-step it.
 *
 * A uprobe replaces an instruction with int3. Branches (call, jmp, jcc)
 * and nops the kernel emulates; anything else it executes out of line
 * with a single step: a second trap. On the VMs we measured, that single
 * step is most of a uprobe's cost (bench/results.md: SSL_write probed at
 * its first instruction, `sub $0x18,%rsp`, added ~6.5 us per request; at
 * its first branch, ~0.5 us). So the TLS probes go on the function's first
 * branch when the instructions before it are ones we can prove leave the
 * argument registers the program reads untouched and never branch. */
#ifndef REACH_X86_ENTRY_H
#define REACH_X86_ENTRY_H

#include <stddef.h>
#include <stdint.h>

/* x86-64 register numbers (ModRM/REX encoding) as bits of a mask. */
#define X86_REG(n) (1u << (n))
#define X86_RDX X86_REG(2)
#define X86_RSI X86_REG(6)
#define X86_RDI X86_REG(7)

/* code: the first bytes of a function (len of them); func_size: the
 * symbol's size (0 if unknown); code must hold the whole function (len >=
 * func_size) for anything but 0. Returns the offset of the first branch
 * (unprefixed call/jmp/jcc: what the kernel emulates) when every
 * instruction before it is one this decoder knows, none writes a register
 * in keep_regs, and the probe runs exactly once per call: a stack frame is
 * set up before it (push, sub $n,%rsp) or it is an unconditional jmp that
 * ends the function (a tail-calling wrapper), and no jmp/jcc anywhere in
 * the function can land between the entry and the probe (byte-wise scan,
 * so a loop head there is never missed). Returns 0 (the function's entry,
 * always correct, only slower) otherwise. */
size_t x86_fast_probe_offset(const uint8_t *code, size_t len, size_t func_size, unsigned keep_regs);

#endif
