/* Uprobe placement on x86-64 (common/x86_entry.c) on the prologues of the
 * real TLS functions reach probes (bytes from Debian bookworm's libssl.so.3,
 * libgnutls.so.30 and node 18's statically linked OpenSSL), and function
 * bytes read from an ELF file (common/elf_func.c) against this binary's own
 * code in memory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>
#include <cmocka.h>
#include "common/elf_func.h"
#include "common/x86_entry.h"

#define ARGS (X86_RDI | X86_RSI | X86_RDX)

/* Whole functions (the back-edge check needs all of a function), bytes
 * copied from the files. libssl.so.3 SSL_write (0x83 bytes): sub $0x18,%rsp;
 * mov %fs:0x28,%rax; mov %rax,0x8(%rsp); xor %eax,%eax; test %edx,%edx;
 * js ... (+0x16); ...; jmp back to +0x2a near the end */
static const uint8_t ssl_write[] = {
	0x48, 0x83, 0xec, 0x18, 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00, 0x48, 0x89, 0x44,
	0x24, 0x08, 0x31, 0xc0, 0x85, 0xd2, 0x78, 0x2f, 0x48, 0x89, 0xe1, 0x48, 0x63, 0xd2, 0xe8, 0xfd,
	0xfb, 0xff, 0xff, 0x85, 0xc0, 0x7e, 0x03, 0x8b, 0x04, 0x24, 0x48, 0x8b, 0x54, 0x24, 0x08, 0x64,
	0x48, 0x2b, 0x14, 0x25, 0x28, 0x00, 0x00, 0x00, 0x75, 0x44, 0x48, 0x83, 0xc4, 0x18, 0x31, 0xd2,
	0x31, 0xc9, 0x31, 0xf6, 0x31, 0xff, 0xc3, 0xe8, 0xf4, 0x99, 0xfe, 0xff, 0x48, 0x8d, 0x15, 0x25,
	0xcf, 0x04, 0x00, 0xbe, 0x46, 0x08, 0x00, 0x00, 0x48, 0x8d, 0x3d, 0x12, 0xc7, 0x04, 0x00, 0xe8,
	0xdc, 0xa0, 0xfe, 0xff, 0x31, 0xc0, 0x31, 0xd2, 0xbe, 0x0f, 0x01, 0x00, 0x00, 0xbf, 0x14, 0x00,
	0x00, 0x00, 0xe8, 0xf9, 0x9e, 0xfe, 0xff, 0xb8, 0xff, 0xff, 0xff, 0xff, 0xeb, 0xac, 0xe8, 0xed,
	0xab, 0xfe, 0xff,
};
/* libssl.so.3 SSL_write_ex (0x1d bytes): sub $0x8,%rsp; call; ... */
static const uint8_t ssl_write_ex[] = {
	0x48, 0x83, 0xec, 0x08, 0xe8, 0x87, 0xfb, 0xff, 0xff, 0x31, 0xd2, 0x85, 0xc0, 0x0f, 0x48, 0xc2,
	0x48, 0x83, 0xc4, 0x08, 0x31, 0xd2, 0x31, 0xc9, 0x31, 0xf6, 0x31, 0xff, 0xc3,
};
/* libgnutls gnutls_record_send (10 bytes): xor %r8d,%r8d; xor %ecx,%ecx; jmp gnutls_record_send2 */
static const uint8_t gnutls_send[] = { 0x45, 0x31, 0xc0, 0x31, 0xc9, 0xe9, 0x86, 0x9c, 0xff, 0xff };
/* node's SSL_write prologue (push %rbp; mov %rsp,%rbp; push %r14; push %r13;
 * push %r12; sub $0x48,%rsp; test %edx,%edx; js rel32), closed here by
 * leave; ret to make a whole function of it */
static const uint8_t node_ssl_write[] = {
	0x55, 0x48, 0x89, 0xe5, 0x41, 0x56, 0x41, 0x55, 0x41, 0x54, 0x48, 0x83, 0xec, 0x48, 0x85, 0xd2,
	0x0f, 0x88, 0x02, 0x00, 0x00, 0x00, 0xc9, 0xc3, 0xc9, 0xc3,
};

static void test_real_prologues(void **state)
{
	(void)state;
	assert_int_equal(x86_fast_probe_offset(ssl_write, sizeof(ssl_write), sizeof(ssl_write), ARGS), 0x16);
	assert_int_equal(x86_fast_probe_offset(ssl_write_ex, sizeof(ssl_write_ex), sizeof(ssl_write_ex), ARGS), 0x4);
	assert_int_equal(x86_fast_probe_offset(gnutls_send, sizeof(gnutls_send), sizeof(gnutls_send), ARGS), 0x5);
	assert_int_equal(x86_fast_probe_offset(node_ssl_write, sizeof(node_ssl_write), sizeof(node_ssl_write), ARGS),
			 0x10);
	/* only part of the function read: the back edges cannot be ruled out */
	assert_int_equal(x86_fast_probe_offset(ssl_write, 40, sizeof(ssl_write), ARGS), 0);
	assert_int_equal(x86_fast_probe_offset(ssl_write, sizeof(ssl_write), 0, ARGS), 0);
}

static void test_entry_when_an_argument_changes_first(void **state)
{
	/* movslq %edx,%rdx before the call: rdx is not what the caller passed */
	static const uint8_t movslq_first[] = { 0x48, 0x83, 0xec, 0x08, 0x48, 0x63, 0xd2, 0xe8, 0, 0, 0, 0 };
	/* mov %rdi,%rsi (writes rsi) */
	static const uint8_t mov_rsi[] = { 0x55, 0x48, 0x89, 0xfe, 0xe8, 0, 0, 0, 0 };
	/* xor %ecx,%ecx is fine when rcx is not read, not when it is */
	static const uint8_t xor_ecx[] = { 0x55, 0x31, 0xc9, 0xe8, 0, 0, 0, 0 };

	(void)state;
	assert_int_equal(x86_fast_probe_offset(movslq_first, sizeof(movslq_first), 0, ARGS), 0);
	assert_int_equal(x86_fast_probe_offset(mov_rsi, sizeof(mov_rsi), 0, ARGS), 0);
	assert_int_equal(x86_fast_probe_offset(xor_ecx, sizeof(xor_ecx), sizeof(xor_ecx), ARGS), 3);
	assert_int_equal(x86_fast_probe_offset(xor_ecx, sizeof(xor_ecx), sizeof(xor_ecx), ARGS | X86_REG(1)), 0);
}

static void test_entry_when_the_branch_could_head_a_loop(void **state)
{
	/* test %edx,%edx; js: no frame before it, so a later back edge could
	 * reach it with other register values */
	static const uint8_t no_frame[] = { 0x85, 0xd2, 0x78, 0x10 };
	/* a jmp in the middle of a function (not its end) */
	static const uint8_t mid_jmp[] = { 0x31, 0xc9, 0xe9, 0, 0, 0, 0 };

	(void)state;
	assert_int_equal(x86_fast_probe_offset(no_frame, sizeof(no_frame), 0x40, ARGS), 0);
	assert_int_equal(x86_fast_probe_offset(mid_jmp, sizeof(mid_jmp), 0x40, ARGS), 0);
	assert_int_equal(x86_fast_probe_offset(mid_jmp, sizeof(mid_jmp), 7, ARGS), 2);
}

static void test_entry_for_unknown_or_cut_code(void **state)
{
	static const uint8_t unknown[] = { 0x55, 0x0f, 0x05 /* syscall */, 0xe8, 0, 0, 0, 0 };
	static const uint8_t moves_rsp[] = { 0x48, 0x89, 0xc4 /* mov %rax,%rsp */, 0x55, 0xe8, 0, 0, 0, 0 };
	static const uint8_t endbr_push_call[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0xe8, 0, 0, 0, 0 };

	(void)state;
	assert_int_equal(x86_fast_probe_offset(unknown, sizeof(unknown), 0, ARGS), 0);
	assert_int_equal(x86_fast_probe_offset(moves_rsp, sizeof(moves_rsp), 0, ARGS), 0);
	assert_int_equal(x86_fast_probe_offset(endbr_push_call, sizeof(endbr_push_call), sizeof(endbr_push_call), ARGS),
			 5);
	/* the call cut off by the end of the bytes read */
	assert_int_equal(x86_fast_probe_offset(endbr_push_call, 7, 7, ARGS), 0);
	assert_int_equal(x86_fast_probe_offset(ssl_write, 0, 0, ARGS), 0);
}

static void test_entry_when_a_branch_comes_back_into_the_prologue(void **state)
{
	/* sub $8,%rsp; .L (+4): test %edx,%edx; je +2; jmp .L: a loop head
	 * right after the frame (the probe's jcc would fire every turn) */
	static const uint8_t loop[] = { 0x48, 0x83, 0xec, 0x08, 0x85, 0xd2, 0x74, 0x02, 0xeb, 0xfa, 0xc3 };
	/* the same with the back edge as a rel32 jcc far below */
	static const uint8_t loop32[] = { 0x55, 0x85, 0xd2, 0x74, 0x06, 0x0f, 0x85, 0xf6, 0xff, 0xff, 0xff, 0xc3 };
	/* a branch jumping to the probe itself */
	static const uint8_t to_probe[] = { 0x55, 0xe8, 0, 0, 0, 0, 0xeb, 0xf9, 0xc3 };
	/* a jump back to the entry re-runs the prologue: a new call, fine */
	static const uint8_t to_entry[] = { 0x55, 0xe8, 0, 0, 0, 0, 0xeb, 0xf8, 0xc3 };

	(void)state;
	assert_int_equal(x86_fast_probe_offset(loop, sizeof(loop), sizeof(loop), ARGS), 0);
	assert_int_equal(x86_fast_probe_offset(loop32, sizeof(loop32), sizeof(loop32), ARGS), 0);
	assert_int_equal(x86_fast_probe_offset(to_probe, sizeof(to_probe), sizeof(to_probe), ARGS), 0);
	assert_int_equal(x86_fast_probe_offset(to_entry, sizeof(to_entry), sizeof(to_entry), ARGS), 1);
}

static void test_prefixes(void **state)
{
	/* 66 REX.W 81 /0 imm32 (REX.W wins: a 4-byte immediate), then call:
	 * a 2-byte immediate would put the probe inside the add */
	static const uint8_t rexw_imm[] = { 0x55, 0x66, 0x48, 0x81, 0xc1, 0x00, 0x00, 0x00, 0x00, 0xe8, 0, 0, 0, 0, 0xc3 };
	/* 66 81 /0 imm16 (no REX.W): 2-byte immediate */
	static const uint8_t imm16[] = { 0x55, 0x66, 0x81, 0xc1, 0x00, 0x00, 0xe8, 0, 0, 0, 0, 0xc3 };
	/* a 66-prefixed call: the kernel does not emulate it */
	static const uint8_t prefixed_call[] = { 0x55, 0x66, 0xe8, 0, 0, 0xc3 };

	(void)state;
	assert_int_equal(x86_fast_probe_offset(rexw_imm, sizeof(rexw_imm), sizeof(rexw_imm), ARGS), 9);
	assert_int_equal(x86_fast_probe_offset(imm16, sizeof(imm16), sizeof(imm16), ARGS), 6);
	assert_int_equal(x86_fast_probe_offset(prefixed_call, sizeof(prefixed_call), sizeof(prefixed_call), ARGS), 0);
}

/* A function of this binary, read back from its file. */
__attribute__((noinline)) int reach_test_probe_target(int x)
{
	return x * 3 + 1;
}

static void test_elf_func_code_reads_the_function(void **state)
{
	uint8_t buf[64];
	size_t got = 0, size = 0;
	uint64_t off = 0;
	int fd = open("/proc/self/exe", O_RDONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(elf_func_code(fd, "reach_test_probe_target", &off, &size, buf, sizeof(buf), &got), 0);
	assert_true(size > 0 && got > 0 && got <= sizeof(buf) && got <= size && off > 0);
	assert_memory_equal(buf, (const void *)reach_test_probe_target, got);
	assert_int_equal(elf_func_code(fd, "no_such_function_here", &off, &size, buf, sizeof(buf), &got), -ENOENT);
	close(fd);
	fd = open("/dev/null", O_RDONLY);
	assert_int_equal(elf_func_code(fd, "x", &off, &size, buf, sizeof(buf), &got), -EINVAL);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_prologues),
		cmocka_unit_test(test_entry_when_an_argument_changes_first),
		cmocka_unit_test(test_entry_when_the_branch_could_head_a_loop),
		cmocka_unit_test(test_entry_for_unknown_or_cut_code),
		cmocka_unit_test(test_entry_when_a_branch_comes_back_into_the_prologue),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_elf_func_code_reads_the_function),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
