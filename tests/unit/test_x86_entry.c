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
#include <string.h>
#include <cmocka.h>
#include "common/elf_func.h"
#include "common/x86_entry.h"

#define ARGS (X86_RDI | X86_RSI | X86_RDX)

/* libssl.so.3 SSL_write: sub $0x18,%rsp; mov %fs:0x28,%rax; mov %rax,0x8(%rsp);
 * xor %eax,%eax; test %edx,%edx; js ...; mov %rsp,%rcx; movslq %edx,%rdx; call */
static const uint8_t ssl_write[] = {
	0x48, 0x83, 0xec, 0x18, 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00, 0x48, 0x89, 0x44,
	0x24, 0x08, 0x31, 0xc0, 0x85, 0xd2, 0x78, 0x2f, 0x48, 0x89, 0xe1, 0x48, 0x63, 0xd2, 0xe8, 0xfd,
	0xfb, 0xff, 0xff,
};
/* libssl.so.3 SSL_write_ex: sub $0x8,%rsp; call */
static const uint8_t ssl_write_ex[] = { 0x48, 0x83, 0xec, 0x08, 0xe8, 0x87, 0xfb, 0xff, 0xff, 0x31, 0xd2 };
/* libgnutls gnutls_record_send (10 bytes): xor %r8d,%r8d; xor %ecx,%ecx; jmp gnutls_record_send2 */
static const uint8_t gnutls_send[] = { 0x45, 0x31, 0xc0, 0x31, 0xc9, 0xe9, 0x86, 0x9c, 0xff, 0xff };
/* node SSL_write: push %rbp; mov %rsp,%rbp; push %r14; push %r13; push %r12; sub $0x48,%rsp;
 * test %edx,%edx; js (rel32) */
static const uint8_t node_ssl_write[] = {
	0x55, 0x48, 0x89, 0xe5, 0x41, 0x56, 0x41, 0x55, 0x41, 0x54, 0x48, 0x83, 0xec, 0x48, 0x85, 0xd2,
	0x0f, 0x88, 0x1d, 0x01, 0x00, 0x00,
};

static void test_real_prologues(void **state)
{
	(void)state;
	assert_int_equal(x86_fast_probe_offset(ssl_write, sizeof(ssl_write), 0x83, ARGS), 0x16);
	assert_int_equal(x86_fast_probe_offset(ssl_write_ex, sizeof(ssl_write_ex), 0x1d, ARGS), 0x4);
	assert_int_equal(x86_fast_probe_offset(gnutls_send, sizeof(gnutls_send), 10, ARGS), 0x5);
	assert_int_equal(x86_fast_probe_offset(node_ssl_write, sizeof(node_ssl_write), 0x200, ARGS), 0x10);
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
	assert_int_equal(x86_fast_probe_offset(xor_ecx, sizeof(xor_ecx), 0, ARGS), 3);
	assert_int_equal(x86_fast_probe_offset(xor_ecx, sizeof(xor_ecx), 0, ARGS | X86_REG(1)), 0);
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
	assert_int_equal(x86_fast_probe_offset(endbr_push_call, sizeof(endbr_push_call), 0, ARGS), 5);
	/* the call cut off by the end of the bytes read */
	assert_int_equal(x86_fast_probe_offset(endbr_push_call, 7, 0, ARGS), 0);
	assert_int_equal(x86_fast_probe_offset(ssl_write, 0, 0, ARGS), 0);
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

	(void)state;
	assert_int_equal(elf_func_code("/proc/self/exe", "reach_test_probe_target", buf, sizeof(buf), &got, &size), 0);
	assert_true(size > 0 && got > 0 && got <= sizeof(buf) && got <= size);
	assert_memory_equal(buf, (const void *)reach_test_probe_target, got);
	assert_int_equal(elf_func_code("/proc/self/exe", "no_such_function_here", buf, sizeof(buf), &got, &size),
			 -ENOENT);
	assert_int_equal(elf_func_code("/nonexistent/file", "x", buf, sizeof(buf), &got, &size), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_prologues),
		cmocka_unit_test(test_entry_when_an_argument_changes_first),
		cmocka_unit_test(test_entry_when_the_branch_could_head_a_loop),
		cmocka_unit_test(test_entry_for_unknown_or_cut_code),
		cmocka_unit_test(test_elf_func_code_reads_the_function),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
